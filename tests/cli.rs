//! The finish of the command line: version line, completions and man page generated from the clap
//! definitions, colour that honours NO_COLOR and --color, exit codes in --help, a closed pipe is no panic.

mod common;
use common::*;
use std::process::{Command, Stdio};

#[test]
fn version_names_commit_and_target() {
    let v = ozrepair_local(&["--version"], &[]);
    assert_eq!(v.code, 0);
    assert!(
        v.stdout
            .starts_with(&format!("ozrepair {} (commit ", env!("CARGO_PKG_VERSION"))),
        "{v:?}"
    );
    assert!(v.stdout.contains("x86_64-unknown-linux"), "{v:?}");
}

#[test]
fn completions_and_man_page_are_generated() {
    for (shell, marker) in [
        ("bash", "_ozrepair()"),
        ("zsh", "#compdef ozrepair"),
        ("fish", "complete -c ozrepair"),
    ] {
        let r = ozrepair_local(&["completions", shell], &[]);
        assert_eq!(r.code, 0, "{r:?}");
        assert!(
            r.stdout.contains(marker),
            "{shell}: {}",
            &r.stdout[..r.stdout.len().min(200)]
        );
        assert!(
            r.stdout.contains("dry-run") && r.stdout.contains("issuer-alias"),
            "{shell} completes fix's flags"
        );
    }
    let man = ozrepair_local(&["man"], &[]);
    assert_eq!(man.code, 0);
    assert!(
        man.stdout.contains(".TH ozrepair 1"),
        "{}",
        &man.stdout[..200]
    );
    assert!(man.stdout.contains("inspect") && man.stdout.contains("restore"));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ozrepair.1"), man.stdout.as_bytes()).unwrap();
}

#[test]
fn help_lists_the_exit_codes() {
    let h = ozrepair_local(&["--help"], &[]);
    assert_eq!(h.code, 0);
    for line in [
        "0  done",
        "1  failed",
        "2  usage error",
        "3  changes pending",
        "4  the change was applied",
    ] {
        assert!(h.stdout.contains(line), "{line}");
    }
    assert_eq!(ozrepair_local(&["fix", "--no-such-flag"], &[]).code, 2);
}

#[test]
fn colour_follows_the_flag_and_no_color() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("idp.db");
    seed_db(
        &db,
        11,
        &[local_row(), jumpcloud_row(JUMPCLOUD)],
        (0, 0),
        0o644,
    );
    let dbs = db.to_str().unwrap();
    let args = [
        "--db",
        dbs,
        "fix",
        "--dry-run",
        "--connector",
        JC_ID,
        "--issuer",
        JUMPCLOUD_SLASH,
    ];
    let always = ozrepair_local(&[&args[..], &["--color", "always"]].concat(), &[]);
    assert_eq!(always.code, 3);
    assert!(
        always.stdout.contains("\x1b[32m+"),
        "the added line is green: {always:?}"
    );
    let never = ozrepair_local(&[&args[..], &["--color", "never"]].concat(), &[]);
    assert!(!never.stdout.contains('\x1b'), "{never:?}");
    // auto: stdout is a pipe here, so no colour; NO_COLOR keeps it off as well.
    let auto = ozrepair_local(&args, &[("NO_COLOR", "1")]);
    assert!(!auto.stdout.contains('\x1b'));
    assert_eq!(auto.stdout, never.stdout);
}

#[test]
fn a_closed_pipe_is_not_a_panic() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ozrepair"))
        .args(["completions", "bash"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("panicked"),
        "{out:?}"
    );
}

#[test]
fn verbose_logs_go_to_stderr_only() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("idp.db");
    seed_db(&db, 11, &[local_row()], (0, 0), 0o644);
    let quiet = ozrepair_local(
        &["--db", db.to_str().unwrap(), "inspect", "--output", "json"],
        &[],
    );
    let loud = ozrepair_local(
        &[
            "-vv",
            "--db",
            db.to_str().unwrap(),
            "inspect",
            "--output",
            "json",
        ],
        &[],
    );
    assert_eq!(
        quiet.stdout, loud.stdout,
        "stdout is the report, whatever the verbosity"
    );
}
