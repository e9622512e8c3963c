//! The finish of the command line: version line, completions and man page generated from the clap
//! definitions, colour that honours NO_COLOR and --color, exit codes in --help, a closed pipe is no panic.

use crate::util::command::ozrepair;
use crate::util::seed::{Connector, DexDb, JC_ID, JUMPCLOUD_SLASH};

#[test]
fn version_names_commit_and_target() {
    let v = ozrepair(["--version"]).run();
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
        let r = ozrepair(["completions", shell]).run();
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
    let man = ozrepair(["man"]).run();
    assert_eq!(man.code, 0);
    assert!(
        man.stdout.contains(".TH OZREPAIR 1"),
        "{}",
        &man.stdout[..200]
    );
    assert!(man.stdout.contains("inspect") && man.stdout.contains("restore"));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ozrepair.1"), man.stdout.as_bytes()).unwrap();
}

#[test]
fn help_lists_the_exit_codes() {
    let h = ozrepair(["--help"]).run();
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
    assert_eq!(ozrepair(["fix", "--no-such-flag"]).run().code, 2);
}

#[test]
fn colour_follows_the_flag_and_no_color() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("idp.db");
    DexDb::locked_out().write(&db);
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
    let always = ozrepair(args).args(["--color", "always"]).run();
    assert_eq!(always.code, 3);
    assert!(
        always.stdout.contains("\x1b[32m+"),
        "the added line is green: {always:?}"
    );
    let never = ozrepair(args).args(["--color", "never"]).run();
    assert!(!never.stdout.contains('\x1b'), "{never:?}");
    // auto: stdout is a pipe here, so no colour; NO_COLOR keeps it off as well.
    let auto = ozrepair(args).env("NO_COLOR", "1").run();
    assert!(!auto.stdout.contains('\x1b'));
    assert_eq!(auto.stdout, never.stdout);
}

#[test]
fn a_closed_pipe_is_not_a_panic() {
    let run = ozrepair(["completions", "bash"]).close_stdout().run();
    assert!(!run.stderr.contains("panicked"), "{run:?}");
}

#[test]
fn verbose_logs_go_to_stderr_only() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("idp.db");
    DexDb::new(11).connectors([Connector::local()]).write(&db);
    let dbs = db.to_str().unwrap();
    let quiet = ozrepair(["--db", dbs, "inspect", "--output", "json"]).run();
    let loud = ozrepair(["-vv", "--db", dbs, "inspect", "--output", "json"]).run();
    assert_eq!(
        quiet.stdout, loud.stdout,
        "stdout is the report, whatever the verbosity"
    );
}

#[test]
fn a_usage_error_is_one_json_report_with_output_json() {
    let r = ozrepair(["fix", "--wait", "abc", "--output", "json"]).run();
    assert_eq!(r.code, 2, "{r:?}");
    assert_eq!(r.stdout.lines().count(), 1, "{r:?}");
    let j = r.json();
    assert_eq!(j["schema_version"], 2);
    assert_eq!(j["command"], "fix");
    assert_eq!(j["result"], "failed");
    assert!(
        j["error"].as_str().unwrap_or_default().contains("--wait"),
        "{j}"
    );
    // Flags that cannot go together are refused the same way, before anything is looked at.
    let both = ozrepair([
        "--db",
        "/nonexistent/idp.db",
        "--container",
        "x",
        "inspect",
        "--output",
        "json",
    ])
    .run();
    assert_eq!(both.code, 2, "{both:?}");
    assert_eq!(both.json()["result"], "failed");
    assert!(
        both.json()["error"]
            .as_str()
            .unwrap_or_default()
            .contains("--db"),
        "{both:?}"
    );
    // Without --output json a usage error stays clap's own message on stderr, and stdout is empty.
    let text = ozrepair(["fix", "--wait", "abc"]).run();
    assert_eq!(text.code, 2);
    assert_eq!(text.stdout, "");
    assert!(text.stderr.contains("invalid value 'abc'"), "{text:?}");
}

/// In the text report a note the error line repeats is printed once; on a terminal the error is in the
/// report only, not a second time on stderr (run under a pseudo-terminal with util-linux's `script`).
#[test]
fn a_note_and_an_error_are_printed_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("idp.db");
    let cfg = r#"{"clientID":"x","issuer":"http://127.0.0.1:9/nowhere"}"#.to_string();
    DexDb::new(11)
        .connectors([Connector::oidc("jc", "JumpCloud", "", cfg)])
        .write(&db);
    let db = db.to_string_lossy().into_owned();
    let r = ozrepair(["--db", &db, "inspect", "--discover"]).run();
    assert_eq!(r.code, 1, "{r:?}");
    let why = "discovery at http://127.0.0.1:9/nowhere/.well-known/openid-configuration failed";
    assert_eq!(r.stdout.matches(why).count(), 1, "{}", r.stdout);
    assert!(r.stdout.contains("\nerror "), "{}", r.stdout);
    // stdout is a pipe here, so stderr carries the error too, once.
    assert_eq!(r.stderr.matches(why).count(), 1, "{}", r.stderr);

    let exe = env!("CARGO_BIN_EXE_ozrepair");
    let tty = crate::util::run::output(std::process::Command::new("script").args([
        "-qec",
        &format!("{exe} --db {db} --color never inspect --discover"),
        "/dev/null",
    ]));
    let all = tty.stdout_text();
    assert_eq!(all.matches(why).count(), 1, "on a terminal: {all}");
}
