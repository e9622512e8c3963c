//! The operator at 3 a.m. (issue 26): help with examples and its own options first, man pages that lint
//! clean, every example of the help, the man pages and the README taken by the parser, errors of one line
//! in ozrepair's words, nothing stopped without asking, every screen within 80 columns of a real
//! terminal, and no silent second on a 1 GiB database.

use crate::util::command::{ozrepair, Run};
use crate::util::deploy::locked_out;
use crate::util::engine::{events_mark, Engine};
use crate::util::pty::{run_in_terminal, wider_than, TtyRun};
use crate::util::repo;
use crate::util::run;
use crate::util::seed::{after_fix, rows, DexDb, JC_ID, JUMPCLOUD_SLASH};
use crate::util::snapshot::snapshot;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The commands with a page and a help of their own.
fn commands() -> Vec<String> {
    let mut root = ozrepair::cli::command();
    root.build();
    root.get_subcommands()
        .map(|c| c.get_name().to_string())
        .filter(|n| n != "help")
        .collect()
}

/// The one error line of a refused run (its stderr's last line), checked: what happened, that nothing
/// was changed, what to do; the words the case needs; no library's words.
fn one_line(run: &Run, code: i32, says: &[&str]) -> String {
    assert_eq!(run.code, code, "{run:?}");
    let line = run.stderr.lines().last().unwrap_or_default().to_string();
    assert!(
        line.starts_with("ozrepair: ") || line.starts_with("error: "),
        "{run:?}"
    );
    for s in says {
        assert!(line.contains(s), "the error should say {s:?}: {line}");
    }
    for not in ["hyper", "os error", "(Connect)", "panicked", "SQLite says"] {
        assert!(!line.contains(not), "library words in the error: {line}");
    }
    line
}

#[test]
fn help_shows_the_commands_own_options_first_then_the_global_ones_and_examples() {
    for c in commands() {
        let h = ozrepair([c.as_str(), "--help"]).env("COLUMNS", "80").run();
        assert_eq!(h.code, 0, "{c}: {h:?}");
        let examples = h.stdout.find("\nExamples:\n").unwrap_or_else(|| {
            panic!("{c} --help has no examples:\n{}", h.stdout);
        });
        let given = h.stdout[examples..]
            .lines()
            .filter(|l| l.starts_with("  ozrepair "))
            .count();
        assert!(given >= 2, "{c}: {given} example(s)");
        let engine = h.stdout.find("\nRuntime options:\n");
        if ["completions", "man"].contains(&c.as_str()) {
            for hidden in [
                "-H, --host",
                "--container",
                "--volume",
                "--db",
                "Runtime options",
                "--output",
            ] {
                assert!(
                    !h.stdout.contains(hidden),
                    "{c} --help shows {hidden}:\n{}",
                    h.stdout
                );
            }
            continue;
        }
        let own = h.stdout.find("\nOptions:\n").expect("Options:");
        let global = h
            .stdout
            .find("\nGlobal options:\n")
            .expect("Global options:");
        let engine = engine.expect("Runtime options:");
        assert!(
            own < engine && engine < global,
            "{c}: own options first:\n{}",
            h.stdout
        );
        // The global options are under their headings, not among the command's own.
        let own_part = &h.stdout[own..engine];
        for g in [
            "-H, --host",
            "--container <",
            "-o, --output",
            "-y, --yes",
            "--show-secrets",
        ] {
            assert!(!own_part.contains(g), "{c}: {g} among its own options");
        }
        for line in h.stdout.lines() {
            assert!(
                line.chars().count() <= 80,
                "{c} --help at 80 columns: {line:?}"
            );
        }
    }
    let fleet = ozrepair(["--help"]).run();
    assert!(
        fleet
            .stdout
            .contains("Run inspect, fix, password, secret or local-login on many Docker hosts"),
        "{}",
        fleet.stdout
    );
}

/// The words of a shell command line up to the first thing that is not a word of ozrepair's (a pipe,
/// a redirection, `;`, `&&`, a comment), quotes and backslashes as sh reads them; None when it does not
/// start with ozrepair (after `sudo` or variable assignments) or holds a `$`.
fn ozrepair_words(line: &str) -> Option<Vec<String>> {
    let mut words: Vec<String> = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                for c in chars.by_ref() {
                    if c == '\'' {
                        break;
                    }
                    cur.push(c);
                }
            }
            '"' => {
                in_word = true;
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => cur.extend(chars.next()),
                        '$' | '`' => return None,
                        c => cur.push(c),
                    }
                }
            }
            '\\' => {
                in_word = true;
                cur.extend(chars.next());
            }
            '$' | '`' => return None,
            '|' | ';' | '&' | '<' | '>' | '#' if !in_word || c != '#' => {
                // `2>/dev/null`: the descriptor's number is no word of the command.
                if in_word && matches!(c, '<' | '>') && cur.chars().all(|d| d.is_ascii_digit()) {
                    in_word = false;
                    cur.clear();
                }
                break;
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    let start = words
        .iter()
        .position(|w| !(w == "sudo" || (w.contains('=') && !w.starts_with('-'))))?;
    (words.get(start)? == "ozrepair").then(|| words[start..].to_vec())
}

/// Every example: the help's, the man pages', the README's and docs/'s command lines.
fn examples() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for c in std::iter::once("".to_string()).chain(commands()) {
        let args: Vec<&str> = if c.is_empty() {
            vec!["--help"]
        } else {
            vec![&c, "--help"]
        };
        let h = ozrepair(args).run();
        let at = h.stdout.find("Examples:").expect("examples");
        // The block of examples ends at the first empty line.
        for l in h.stdout[at..]
            .lines()
            .skip(1)
            .take_while(|l| !l.trim().is_empty())
            .filter(|l| l.starts_with("  ozrepair "))
        {
            out.push((format!("ozrepair {c} --help"), l.trim().to_string()));
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let m = ozrepair(["man", "--dir"]).args([dir.path()]).run();
    assert_eq!(m.code, 0, "{m:?}");
    for e in std::fs::read_dir(dir.path()).unwrap() {
        let p = e.unwrap().path();
        let text = std::fs::read_to_string(&p).unwrap();
        let Some(at) = text.find(".SH EXAMPLES") else {
            panic!("{} has no EXAMPLES", p.display());
        };
        let section = &text[at..];
        let section = &section[..section[4..]
            .find(".SH ")
            .map(|i| i + 4)
            .unwrap_or(section.len())];
        let mut lines = section.lines();
        while let Some(l) = lines.next() {
            if l == ".TP" {
                let cmd = lines.next().unwrap_or_default();
                let plain = cmd
                    .replace("\\fB", "")
                    .replace("\\fR", "")
                    .replace("\\-", "-")
                    .replace("\\*(Aq", "'")
                    .replace("\\\\", "\\");
                out.push((p.display().to_string(), plain));
            }
        }
    }
    let mut docs = vec![repo().join("README.md")];
    for e in std::fs::read_dir(repo().join("docs")).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "md") {
            docs.push(p);
        }
    }
    for doc in docs {
        let text = std::fs::read_to_string(&doc).unwrap();
        let mut in_code = false;
        for l in text.lines() {
            if l.trim_start().starts_with("```") {
                in_code = !in_code;
                continue;
            }
            let l = l.trim_start().trim_start_matches("$ ");
            // A synopsis (`ozrepair [GLOBAL OPTIONS] <COMMAND>`) is no example.
            let synopsis = l.contains("<COMMAND>") || l.contains("[OPTIONS]");
            if in_code && !synopsis && ozrepair_words(l).is_some() {
                out.push((doc.display().to_string(), l.to_string()));
            }
        }
    }
    out
}

#[test]
fn every_example_in_the_help_the_man_pages_and_the_readme_parses() {
    let all = examples();
    assert!(all.len() > 60, "{} examples found", all.len());
    let mut refused = Vec::new();
    for (from, line) in &all {
        let words = ozrepair_words(line).unwrap_or_else(|| panic!("{from}: {line}"));
        let args: Vec<std::ffi::OsString> = words.iter().map(Into::into).collect();
        if let Err(e) = ozrepair::cli::parse(&args) {
            let why = match e {
                ozrepair::cli::Refusal::Clap(e) => e.to_string(),
                ozrepair::cli::Refusal::NotUtf8(m) => m,
            };
            refused.push(format!(
                "{from}: {line}\n    {}",
                why.lines().next().unwrap_or("")
            ));
        }
    }
    assert!(
        refused.is_empty(),
        "examples the parser refuses:\n{}",
        refused.join("\n")
    );
}

#[test]
fn every_man_page_renders_without_warnings() {
    let dir = tempfile::tempdir().unwrap();
    let m = ozrepair(["man", "--dir"]).args([dir.path()]).run();
    assert_eq!(m.code, 0, "{m:?}");
    let mut pages: Vec<PathBuf> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    pages.sort();
    let names: Vec<String> = pages
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for c in commands() {
        assert!(names.contains(&format!("ozrepair-{c}.1")), "{names:?}");
    }
    assert!(names.contains(&"ozrepair.1".to_string()));
    for p in &pages {
        // mandoc's linter and man-db's man with groff's warnings: a missing tool is a failure.
        let lint = run::output(
            Command::new("mandoc")
                .args(["-T", "lint", "-W", "warning"])
                .arg(p),
        );
        assert!(
            lint.status.success() && lint.stdout.is_empty() && lint.stderr.is_empty(),
            "mandoc -T lint {}:\n{}{}",
            p.display(),
            lint.stdout_text(),
            lint.stderr_text()
        );
        let shown = run::output(
            Command::new("man")
                .args(["--warnings", "-l"])
                .arg(p)
                .env("MANWIDTH", "80")
                .env_remove("MAN_KEEP_FORMATTING"),
        );
        assert!(
            shown.status.success(),
            "man -l {}: {}",
            p.display(),
            shown.stderr_text()
        );
        assert!(
            shown.stderr.is_empty(),
            "man --warnings -l {}:\n{}",
            p.display(),
            shown.stderr_text()
        );
        let text = shown.stdout_text();
        for section in [
            "EXAMPLES",
            "EXIT STATUS",
            "ENVIRONMENT",
            "FILES",
            "SEE ALSO",
        ] {
            assert!(
                text.contains(&format!("\n{section}\n")),
                "{}: no {section}",
                p.display()
            );
        }
        assert!(text.contains("OZREPAIR_BUSY_TIMEOUT_MS"), "{}", p.display());
        // The footer is the version and the date, not the build's target.
        let footer = text
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or_default();
        assert!(!footer.contains("linux-gnu"), "{}: {footer}", p.display());
    }
    // `ozrepair man` prints ozrepair(1) itself.
    let page = ozrepair(["man"]).run();
    assert!(
        page.stdout.starts_with(".ie") || page.stdout.contains(".TH OZREPAIR 1"),
        "{}",
        &page.stdout[..200.min(page.stdout.len())]
    );
}

#[test]
fn errors_are_one_line_in_ozrepairs_words() {
    // Nothing listens on the port.
    let r = ozrepair(["-H", "tcp://127.0.0.1:1", "inspect"]).run();
    let line = one_line(
        &r,
        1,
        &[
            "tcp://127.0.0.1:1",
            "connection refused",
            "nothing was changed",
            "start the engine",
        ],
    );
    assert_eq!(line.matches("nothing was changed").count(), 1, "{line}");
    // No socket there.
    let r = ozrepair(["-H", "unix:///nonexistent/docker.sock", "inspect"]).run();
    one_line(
        &r,
        1,
        &[
            "no such socket",
            "nothing was changed",
            "-H or $DOCKER_HOST",
        ],
    );
    // A socket this user may not open (root's, 0600, as a non-root user).
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let sock = dir.path().join("docker.sock");
    let _listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    std::fs::set_permissions(&sock, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let as_nobody = run::output(
        Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(env!("CARGO_BIN_EXE_ozrepair"))
            .args(["-H", &format!("unix://{}", sock.display()), "inspect"])
            .env_remove("DOCKER_HOST")
            .env("HOME", "/nonexistent"),
    );
    let nobody = Run {
        code: as_nobody.status.code().unwrap_or(-1),
        stdout: as_nobody.stdout_text(),
        stderr: as_nobody.stderr_text(),
    };
    one_line(
        &nobody,
        1,
        &[
            "permission denied",
            "nothing was changed",
            "run ozrepair as root",
        ],
    );
    // A --db that is not there.
    let r = ozrepair(["--db", "/nonexistent/idp.db", "inspect"]).run();
    let line = one_line(
        &r,
        1,
        &[
            "/nonexistent/idp.db",
            "no such file or directory",
            "nothing was changed",
            "check the path",
        ],
    );
    assert_eq!(line.matches("nothing was changed").count(), 1, "{line}");
    // --ca-file is read when the command line is: a usage error, before anything is looked at.
    let r = ozrepair([
        "--db",
        "/nonexistent/idp.db",
        "inspect",
        "--discover",
        "--ca-file",
        "/nonexistent.pem",
    ])
    .run();
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr.contains("--ca-file") && r.stderr.contains("no such file or directory"),
        "{r:?}"
    );
    let j = ozrepair([
        "-o",
        "json",
        "inspect",
        "--discover",
        "--ca-file",
        "/nonexistent.pem",
    ])
    .run();
    assert_eq!(j.code, 2, "{j:?}");
    assert_eq!(j.json()["result"], "failed");
    // The fleet's inventory names every kind of endpoint it takes.
    let inv = dir.path().join("hosts.txt");
    std::fs::write(&inv, "site-a.example.com\n").unwrap();
    let r = ozrepair(["fleet", "--inventory"])
        .args([&inv])
        .args(["inspect"])
        .run();
    one_line(
        &r,
        2,
        &[
            "inventory line 1",
            "unix://",
            "tcp://",
            "ssh://",
            "nothing was changed",
        ],
    );
    // --wait takes durations, and refuses a negative one in words.
    let r = ozrepair(["fix", "--wait", "-1"]).run();
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr.contains("never negative") && !r.stderr.contains("unexpected argument"),
        "{r:?}"
    );
    for (given, secs) in [("30s", 30), ("2m", 120), ("1m30s", 90), ("45", 45)] {
        let cli = ozrepair::cli::parse(&[
            "ozrepair".into(),
            "fix".into(),
            "--wait".into(),
            given.into(),
        ])
        .unwrap_or_else(|_| panic!("--wait {given} is refused"));
        let ozrepair::cli::Command::Fix(f) = cli.command else {
            panic!("fix")
        };
        assert_eq!(f.window.start.wait, secs, "--wait {given}");
    }
    for bad in ["30x", "2m2m", "1s1m", "", "86401", "25h"] {
        assert!(
            ozrepair::cli::parse(&[
                "ozrepair".into(),
                "fix".into(),
                format!("--wait={bad}").into()
            ])
            .is_err(),
            "--wait {bad:?} is taken"
        );
    }
    // -o is --output.
    let (_d, db) = db_file(&DexDb::locked_out());
    let r = ozrepair(["--db", &db, "-o", "json", "inspect"]).run();
    assert_eq!(r.json()["command"], "inspect");
}

/// A locked-out database in a directory of its own; its path.
fn db_file(db: &DexDb) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("idp.db");
    db.write(&path);
    (dir, path.display().to_string())
}

#[test]
fn a_lock_held_by_another_process_is_named_while_ozrepair_waits() {
    let (dir, db) = db_file(&DexDb::locked_out());
    // This test process holds an exclusive transaction on the database.
    let holder = rusqlite::Connection::open(&db).unwrap();
    holder.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let r = ozrepair(["--db", &db, "inspect"])
        .env("OZREPAIR_BUSY_TIMEOUT_MS", "2500")
        .run();
    let me = format!("pid {} (", std::process::id());
    let waiting: Vec<&str> = r
        .stderr
        .lines()
        .filter(|l| l.contains("waiting for"))
        .collect();
    assert!(
        !waiting.is_empty() && waiting.iter().all(|l| l.contains(&me)),
        "a progress line names the holder while waiting: {r:?}"
    );
    let line = one_line(&r, 1, &[&me, "nothing was changed", "stop what holds it"]);
    let exe = std::env::current_exe().unwrap();
    let name = exe.file_name().unwrap().to_string_lossy();
    assert!(
        line.contains(&name[..name.len().min(20)]),
        "its command: {line}"
    );
    holder.execute_batch("ROLLBACK").unwrap();
    drop(dir);
}

#[test]
fn backup_and_restore_ask_first_and_without_a_terminal_change_nothing() {
    let (dir, db) = db_file(&DexDb::locked_out());
    let before = snapshot(dir.path());
    for cmd in [
        &["backup"][..],
        &["restore"],
        &["restore", "--backup", "/nonexistent"],
    ] {
        let r = ozrepair(["--db", &db]).args(cmd).run();
        if cmd.len() == 1 && cmd[0] == "restore" {
            // No backup yet: restore says so before it would ask.
            one_line(&r, 1, &["there is no backup", "nothing was changed"]);
        } else if cmd[0] == "backup" {
            let line = one_line(
                &r,
                2,
                &["stdin is not a terminal", "Nothing was changed", "--yes"],
            );
            assert!(line.contains("Back up"), "{line}");
        } else {
            assert_eq!(r.code, 1, "{r:?}");
        }
        assert_eq!(snapshot(dir.path()), before, "{cmd:?} changed something");
    }
    // --dry-run says what would happen and writes nothing.
    let d = ozrepair(["--db", &db, "-o", "json", "backup", "--dry-run"]).run();
    assert_eq!(d.code, 3, "{d:?}");
    assert_eq!(d.json()["result"], "pending");
    assert!(d.json()["notes"].to_string().contains("Back up"), "{d:?}");
    assert_eq!(snapshot(dir.path()), before);
    // With --yes: a set; restore without --yes changes nothing and exits 2; its dry run names the set.
    let b = ozrepair(["--db", &db, "-o", "json", "backup", "--yes"]).run();
    assert_eq!(b.code, 0, "{b:?}");
    assert_eq!(b.json()["result"], "backed_up");
    let set = b.json()["backup"]["dir"].as_str().unwrap().to_string();
    let with_set = snapshot(dir.path());
    let r = ozrepair(["--db", &db, "restore"]).run();
    let line = one_line(
        &r,
        2,
        &["stdin is not a terminal", "Put the backup", "--yes"],
    );
    assert!(line.contains(&set), "{line}");
    let d = ozrepair(["--db", &db, "-o", "json", "restore", "--dry-run"]).run();
    assert_eq!(d.code, 3, "{d:?}");
    assert!(d.json()["notes"].to_string().contains(&set), "{d:?}");
    assert_eq!(snapshot(dir.path()), with_set);
    // backups lists this database's sets, not another's in the same directory (--all does).
    let other_dir = tempfile::tempdir().unwrap();
    let other = other_dir.path().join("other.db");
    DexDb::locked_out().write(&other);
    let shared = dir.path().join("ozrepair-backups");
    let o = ozrepair(["--db"])
        .args([&other])
        .args(["backup", "--yes", "--backup-dir"])
        .args([&shared])
        .run();
    assert_eq!(o.code, 0, "{o:?}");
    let l = ozrepair(["--db", &db, "-o", "json", "backups"]).run();
    assert_eq!(l.code, 0, "{l:?}");
    assert_eq!(l.json()["result"], "listed");
    let listed = l.json()["backups"].as_array().cloned().unwrap_or_default();
    assert_eq!(listed.len(), 1, "{}", l.stdout);
    assert_eq!(listed[0]["dir"], set.as_str());
    assert!(
        l.json()["notes"].to_string().contains("--all"),
        "{}",
        l.stdout
    );
    let all = ozrepair(["--db", &db, "-o", "json", "backups", "--all"]).run();
    assert_eq!(
        all.json()["backups"].as_array().map(Vec::len),
        Some(2),
        "{}",
        all.stdout
    );
}

/// `ozrepair ARGS` in an 80-column terminal on `e` (None: no engine), typing `answer` at its prompt.
fn at_80(e: Option<&Engine>, args: &[&str], answer: Option<&str>) -> TtyRun {
    let mut env: Vec<(String, String)> = vec![("NO_COLOR".into(), String::new())];
    if let Some(e) = e {
        env.push(("DOCKER_HOST".into(), e.host.clone()));
        env.extend(e.env.iter().cloned());
    }
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    run_in_terminal(
        env!("CARGO_BIN_EXE_ozrepair"),
        &args,
        &env,
        80,
        answer.map(|a| ("[y/N] ", a)),
        Duration::from_secs(180),
    )
}

/// No line drawn wider than 80 columns.
fn fits(what: &str, run: &TtyRun) {
    use unicode_width::UnicodeWidthStr;
    let widest = crate::util::pty::drawn_lines(&run.raw)
        .iter()
        .map(|l| l.width())
        .max();
    eprintln!(
        "{what}: the widest line drawn is {} columns",
        widest.unwrap_or(0)
    );
    let wide = wider_than(&run.raw, 80);
    assert!(
        wide.is_empty(),
        "{what}: {} line(s) wider than 80 columns:\n{}\n--- all of it:\n{}",
        wide.len(),
        wide.join("\n"),
        run.raw
    );
}

/// A copy of the locked-out database with `mib` MiB more in a table of its own (zero blobs: cheap to
/// write, as slow to copy and hash as any).
fn big_db(dir: &Path, mib: usize) -> PathBuf {
    let path = dir.join("idp.db");
    DexDb::locked_out().write(&path);
    let c = rusqlite::Connection::open(&path).unwrap();
    c.execute_batch(&format!(
        "CREATE TABLE ballast(b BLOB);
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {mib})
         INSERT INTO ballast SELECT zeroblob(1048576) FROM n;"
    ))
    .unwrap();
    path
}

#[test]
fn every_screen_fits_an_80_column_terminal_and_nothing_stops_without_asking() {
    let e = Engine::start();
    let d = locked_out(&e);
    // Without a terminal and without --yes, backup stops nothing and changes nothing.
    let no_tty = |cmd: &str| {
        let files = snapshot(&d.mountpoint);
        let since = events_mark();
        let r = ozrepair([cmd]).on(&e).run();
        assert_eq!(r.code, 2, "{cmd}: {r:?}");
        assert!(
            r.stderr.contains(&format!("Container {}", d.container)),
            "{cmd}: {r:?}"
        );
        assert_eq!(snapshot(&d.mountpoint), files, "{cmd}: nothing written");
        assert!(
            e.stop_events(&d.container, &since).is_empty(),
            "{cmd}: nothing stopped"
        );
    };
    no_tty("backup");

    let inspect = at_80(Some(&e), &["inspect"], None);
    assert_eq!(inspect.code, 3, "{inspect:?}");
    assert!(inspect.raw.contains("found"), "{}", inspect.raw);
    fits("inspect", &inspect);
    let dry = at_80(Some(&e), &["fix", "--dry-run"], None);
    assert_eq!(dry.code, 3);
    fits("fix --dry-run", &dry);
    // The prompt: the diff and the question fit; "n" is cancelled (exit 1) and stops nothing.
    let since = events_mark();
    let no = at_80(Some(&e), &["fix"], Some("n\n"));
    assert_eq!(no.code, 1, "{}", no.raw);
    assert!(no.raw.contains("cancelled"), "{}", no.raw);
    fits("fix, declined at the prompt", &no);
    let no = at_80(Some(&e), &["backup"], Some("n\n"));
    assert_eq!(no.code, 1, "{}", no.raw);
    assert!(no.raw.contains("cancelled"), "{}", no.raw);
    fits("backup, declined at the prompt", &no);
    assert!(
        e.stop_events(&d.container, &since).is_empty(),
        "a declined prompt stopped it"
    );
    // The fix, its result and diff.
    let fix = at_80(Some(&e), &["fix"], Some("y\n"));
    assert_eq!(fix.code, 0, "{}", fix.raw);
    assert!(fix.raw.contains("changes (applied)"), "{}", fix.raw);
    fits("fix", &fix);
    // And restore, now that there is a backup to put back.
    no_tty("restore");
    let listed = at_80(Some(&e), &["backups"], None);
    assert_eq!(listed.code, 0, "{}", listed.raw);
    fits("backups", &listed);

    // The fleet's table: this engine, and three that fail with long errors.
    let dir = tempfile::tempdir().unwrap();
    let inv = dir.path().join("hosts.txt");
    std::fs::write(
        &inv,
        format!(
            "{} container={}\nunix:///nonexistent/a/rather/long/path/to/the/docker.sock\ntcp://127.0.0.1:1 container=openzro-management-with-a-long-name\nunix:///nonexistent/b.sock\n",
            e.host, d.container
        ),
    )
    .unwrap();
    let inv = inv.display().to_string();
    let fleet = at_80(None, &["fleet", "--inventory", &inv, "inspect"], None);
    assert_eq!(fleet.code, 1, "{}", fleet.raw);
    let words = fleet.raw.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        words.contains("HOST") && words.contains("connection refused"),
        "{}",
        fleet.raw
    );
    fits("fleet", &fleet);

    // The backup's progress bar, on a database large enough to show one.
    let big = big_db(dir.path(), 96);
    let b = at_80(
        None,
        &["--db", &big.display().to_string(), "backup", "--yes"],
        None,
    );
    assert_eq!(b.code, 0, "{}", b.raw);
    assert!(
        b.raw.contains("copying idp.db"),
        "no progress bar drawn: {}",
        b.raw
    );
    fits("backup's progress bar", &b);
}

/// The static release binary's run of `args` with its stderr read line by line as it comes: the longest
/// time with nothing new (from the start, between lines, to the exit), what was said around it, and the
/// exit code.
fn longest_silence(bin: &Path, args: &[&str]) -> (Duration, String, i32) {
    let start = Instant::now();
    let mut child = Command::new(bin)
        .args(args)
        .env_remove("DOCKER_HOST")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut last = start;
    let mut worst = (Duration::ZERO, String::from("(the start)"));
    let mut said = String::from("(the start)");
    for line in stderr.lines() {
        let line = line.unwrap();
        let now = Instant::now();
        if now - last > worst.0 {
            worst = (now - last, format!("between {said:?} and {line:?}"));
        }
        last = now;
        said = line;
    }
    let status = child.wait().unwrap();
    let now = Instant::now();
    if now - last > worst.0 {
        worst = (now - last, format!("between {said:?} and the exit"));
    }
    (worst.0, worst.1, status.code().unwrap_or(-1))
}

#[test]
fn a_1_gib_database_is_never_silent_for_a_second() {
    let bin = crate::util::release::static_binary();
    let dir = tempfile::tempdir().unwrap();
    let db = big_db(dir.path(), 1024);
    let db = db.display().to_string();
    for (args, code) in [
        (vec!["--db", &db, "inspect"], 5),
        (
            vec![
                "--db",
                &db,
                "fix",
                "--yes",
                "--connector",
                JC_ID,
                "--issuer",
                JUMPCLOUD_SLASH,
            ],
            0,
        ),
        (vec!["--db", &db, "backup", "--yes"], 0),
    ] {
        let (gap, around, exit) = longest_silence(&bin, &args);
        eprintln!(
            "{}: the longest silence on stderr was {gap:?}, {around}",
            args[2]
        );
        assert_eq!(exit, code, "{args:?}");
        assert!(
            gap <= Duration::from_secs(1),
            "{args:?}: {gap:?} without a line on stderr, {around}"
        );
    }
}

#[test]
fn the_readmes_first_screen_holds_the_install_and_the_runbook() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let screen: Vec<&str> = readme.lines().take(40).collect();
    let screen = screen.join("\n");
    for says in [
        "scripts/demo.sh",
        "scripts/test.sh",
        "scripts/build-packages.sh",
        "scripts/build-image.sh",
        "sha256sum -c",
        ".deb",
        ".rpm",
        "docker import",
        "docker run --rm -it --network none -v /var/run/docker.sock:/var/run/docker.sock",
        "-v /var/lib/docker/volumes:/var/lib/docker/volumes",
        "ozrepair inspect ",
        "ozrepair fix --dry-run ",
        "ozrepair fix ",
        "STOPS the IdP container",
        "`fix` stops the container",
    ] {
        assert!(
            screen.contains(says),
            "README's first 40 lines do not hold {says:?}:\n{screen}"
        );
    }
    // The runbook in its order: inspect, then the dry run, then the fix.
    let at = |s: &str| screen.find(s).unwrap();
    assert!(
        at("ozrepair inspect ") < at("ozrepair fix --dry-run ")
            && at("ozrepair fix --dry-run ") < at("ozrepair fix  ")
    );
    // The file names it shows are the ones the scripts write (the version of Cargo.toml).
    let version = env!("CARGO_PKG_VERSION");
    for file in [
        format!("ozrepair-{version}-x86_64-linux"),
        format!("ozrepair_{version}-1_amd64.deb"),
        format!("ozrepair-{version}-1.x86_64.rpm"),
        format!("ozrepair-{version}-image.tar"),
    ] {
        assert!(screen.contains(&file), "README's first screen: no {file}");
    }
    // One README: the static connectors are edited, as the section on config files says.
    assert!(!readme.contains("ozrepair does not edit such a connector"));
}

/// `dpkg-deb`'s or `rpm`'s run: its output, or the test fails with it.
fn ok(cmd: &mut Command) -> String {
    let out = run::output(cmd);
    assert!(
        out.status.success(),
        "{cmd:?}: {}{}",
        out.stdout_text(),
        out.stderr_text()
    );
    out.stdout_text()
}

/// What an installed ozrepair (under `root`) does: its version, a real inspect of a database, its man pages.
fn installed_works(root: &Path, how: &str) {
    let bin = root.join("usr/bin/ozrepair");
    let v = ok(Command::new(&bin).arg("--version"));
    assert!(
        v.starts_with(&format!("ozrepair {}", env!("CARGO_PKG_VERSION"))),
        "{how}: {v}"
    );
    let (_d, db) = db_file(&DexDb::locked_out());
    let out = run::output(Command::new(&bin).args(["--db", &db, "-o", "json", "inspect"]));
    assert_eq!(out.status.code(), Some(5), "{how}: {}", out.stderr_text());
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["connectors"][1]["id"], JC_ID, "{how}");
    let man1 = root.join("usr/share/man/man1");
    for c in std::iter::once("ozrepair".to_string())
        .chain(commands().iter().map(|c| format!("ozrepair-{c}")))
    {
        let page = man1.join(format!("{c}.1.gz"));
        let shown = run::output(
            Command::new("man")
                .args(["--warnings", "-l"])
                .arg(&page)
                .env("MANWIDTH", "80"),
        );
        assert!(
            shown.status.success()
                && shown.stderr.is_empty()
                && shown.stdout_text().contains("EXAMPLES"),
            "{how}: man -l {}: {}",
            page.display(),
            shown.stderr_text()
        );
    }
    assert!(
        root.join("usr/share/bash-completion/completions/ozrepair")
            .exists(),
        "{how}"
    );
}

#[test]
fn the_deb_and_the_rpm_install_and_run_and_their_checksums_hold() {
    let dir = crate::util::release::packages();
    let version = env!("CARGO_PKG_VERSION");
    // sha256sum -c, as the README tells the operator, of all three and of each on its own.
    let sums = ok(Command::new("sha256sum")
        .arg("-c")
        .arg("SHA256SUMS")
        .current_dir(&dir));
    assert_eq!(
        sums.lines().filter(|l| l.ends_with(": OK")).count(),
        3,
        "{sums}"
    );
    let deb = format!("ozrepair_{version}-1_amd64.deb");
    let rpm = format!("ozrepair-{version}-1.x86_64.rpm");
    for f in [&deb, &rpm] {
        ok(Command::new("sha256sum")
            .arg("-c")
            .arg(format!("{f}.sha256"))
            .current_dir(&dir));
    }

    // The .deb: what dpkg says of it, then installed by dpkg into a root of its own (its own database).
    let info = ok(Command::new("dpkg-deb")
        .args(["-f"])
        .arg(dir.join(&deb))
        .args(["Package", "Version", "Architecture"]));
    assert!(
        info.contains("Package: ozrepair")
            && info.contains(&format!("Version: {version}-1"))
            && info.contains("Architecture: amd64"),
        "{info}"
    );
    let root = tempfile::tempdir().unwrap();
    let admin = root.path().join("var/lib/dpkg");
    for d in ["info", "updates", "triggers"] {
        std::fs::create_dir_all(admin.join(d)).unwrap();
    }
    std::fs::write(admin.join("status"), "").unwrap();
    ok(Command::new("dpkg")
        .arg(format!("--root={}", root.path().display()))
        .args([
            "--force-script-chrootless",
            "--force-not-root",
            "--no-triggers",
            "-i",
        ])
        .arg(dir.join(&deb)));
    let listed = ok(Command::new("dpkg")
        .arg(format!("--root={}", root.path().display()))
        .args(["-L", "ozrepair"]));
    assert!(listed.lines().any(|l| l == "/usr/bin/ozrepair"), "{listed}");
    installed_works(root.path(), ".deb");

    // The .rpm: its header, then installed by rpm into a root of its own (its own database).
    let q = ok(Command::new("rpm")
        .args([
            "-qp",
            "--queryformat",
            "%{NAME} %{VERSION} %{RELEASE} %{ARCH}",
        ])
        .arg(dir.join(&rpm)));
    assert_eq!(q, format!("ozrepair {version} 1 x86_64"));
    let root = tempfile::tempdir().unwrap();
    ok(Command::new("rpm")
        .arg("--root")
        .arg(root.path())
        .args(["--nodeps", "--ignoreos", "-i"])
        .arg(dir.join(&rpm)));
    let listed = ok(Command::new("rpm")
        .arg("--root")
        .arg(root.path())
        .args(["-ql", "ozrepair"]));
    assert!(listed.lines().any(|l| l == "/usr/bin/ozrepair"), "{listed}");
    installed_works(root.path(), ".rpm");
}

#[test]
fn the_image_fixes_a_deployment_with_no_network() {
    let tar = crate::util::release::image_tar();
    let sum = tar.with_file_name(format!(
        "{}.sha256",
        tar.file_name().unwrap().to_string_lossy()
    ));
    ok(Command::new("sha256sum")
        .arg("-c")
        .arg(&sum)
        .current_dir(tar.parent().unwrap()));
    let e = Engine::start();
    let d = locked_out(&e);
    // Imported by the script into this engine, as on an operator's host.
    let version = env!("CARGO_PKG_VERSION");
    let imported = run::output_within(
        Command::new(repo().join("scripts/build-image.sh"))
            .env("OZR_STATIC_BUILT", "1")
            .env("DOCKER_HOST", &e.host)
            .envs(e.env.iter().map(|(k, v)| (k, v))),
        Duration::from_secs(300),
    );
    assert!(imported.status.success(), "{}", imported.stderr_text());
    let layers = e.docker_ok(&[
        "image",
        "inspect",
        "-f",
        "{{len .RootFS.Layers}} {{json .Config.Entrypoint}}",
        &format!("ozrepair:{version}"),
    ]);
    assert_eq!(layers, r#"1 ["/ozrepair"]"#, "one layer, FROM scratch");
    // The README's docker run line, with this engine's socket and volumes' root in place of the host's.
    let volumes = d
        .mountpoint
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .display()
        .to_string();
    let keys = tempfile::tempdir().unwrap();
    let run_in_image = |args: &[&str]| {
        let mut all = vec![
            "run".to_string(),
            "--rm".into(),
            "--pull".into(),
            "never".into(),
            "--network".into(),
            "none".into(),
            "-v".into(),
            format!("{}:/var/run/docker.sock", e.socket.display()),
            "-v".into(),
            format!("{volumes}:{volumes}"),
            "-v".into(),
            format!("{}:/var/lib/ozrepair", keys.path().display()),
            format!("ozrepair:{version}"),
        ];
        all.extend(args.iter().map(|a| a.to_string()));
        let all: Vec<&str> = all.iter().map(String::as_str).collect();
        e.docker(&all)
    };
    let before = rows(&d.db);
    let inspect = run_in_image(&["inspect", "-o", "json"]);
    assert_eq!(inspect.status.code(), Some(3), "{}", inspect.stderr_text());
    let j: serde_json::Value = serde_json::from_slice(&inspect.stdout).unwrap();
    assert_eq!(j["container"]["name"], d.container.as_str(), "{j}");
    let fix = run_in_image(&["fix", "--yes", "-o", "json"]);
    assert_eq!(fix.status.code(), Some(0), "{}", fix.stderr_text());
    let j: serde_json::Value = serde_json::from_slice(&fix.stdout).unwrap();
    assert_eq!(j["result"], "fixed", "{j}");
    // The database on the host holds exactly the fixed rows, and the deployment runs.
    assert_eq!(rows(&d.db), after_fix(&before));
    d.wait_ready(&e);
}

/// `ozrepair ARGS` as the user nobody (65534), no groups.
fn as_nobody(args: &[&str]) -> Run {
    let out = run::output(
        Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(env!("CARGO_BIN_EXE_ozrepair"))
            .args(args)
            .env_remove("DOCKER_HOST")
            .env("HOME", "/nonexistent")
            .env("OZREPAIR_STATE_DIR", "/nonexistent/state"),
    );
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: out.stdout_text(),
        stderr: out.stderr_text(),
    }
}

#[test]
fn a_directory_this_user_cannot_write_is_refused_in_one_line_before_anything_is_written() {
    // nobody's database in root's directory (0755): the file is writable, its directory is not.
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let db = dir.path().join("idp.db");
    DexDb::locked_out().owner(65534, 65534).write(&db);
    let before = snapshot(dir.path());
    let db = db.display().to_string();
    for cmd in [
        &[
            "fix",
            "--yes",
            "--connector",
            JC_ID,
            "--issuer",
            JUMPCLOUD_SLASH,
        ][..],
        &["backup", "--yes"],
    ] {
        let mut args = vec!["--db", &db];
        args.extend_from_slice(cmd);
        let r = as_nobody(&args);
        let line = one_line(&r, 1, &["permission denied", "nothing was changed"]);
        assert_eq!(line.matches("nothing was changed").count(), 1, "{line}");
        assert!(!line.contains("cause above"), "{line}");
        assert_eq!(r.stderr.lines().count(), 1, "one line: {r:?}");
        assert_eq!(snapshot(dir.path()), before, "{cmd:?} wrote something");
    }
}
