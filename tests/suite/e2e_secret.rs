//! End to end, on Docker and Podman: `ozrepair secret` puts a rotated client secret into a deployment that
//! runs and fails logins through that connector (the Go stand-in's own RFC 6749 provider on loopback,
//! answering as Entra does; see `e2e_logins`). The new secret comes from stdin, a file or the terminal
//! (echo off), never argv. With `--verify` the provider is asked first: a secret it refuses is never
//! written; one it takes is written byte-exact (only the value's bytes change), the container is back up,
//! the backup is there, and the real golang/oauth2 (`standin-go tokencheck`, reading the row as Dex does)
//! gets a token with what is now stored, and the stand-in's logins through the connector work again.
//! Without `--verify` the result is `unverified`, never `fixed`. Neither the new nor any stored secret
//! appears in any output, nor in any process's command line or environment while a run is under way.

use crate::e2e_logins::{Lab, EXPIRED_SECRET, NEW_SECRET, OLD_SECRET, RIGHT_SECRET};
use crate::util::command::{ozrepair, Run};
use crate::util::engine::{events_mark, Engine};
use crate::util::hash::sha256_hex;
use crate::util::login::token_check;
use crate::util::poll;
use crate::util::snapshot::read_copy;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A secret the provider does not know.
const WRONG: &str = "wrong-guess-secret-4c1d9e7fa2b8";
/// A secret typed at the terminal.
const TYPED: &str = "typed-at-the-tty-9f3a61c2d7e0";

/// The config of connector `id`, as stored.
fn config_of(db: &Path, id: &str) -> Vec<u8> {
    let (_dir, conn) = read_copy(db);
    conn.query_row("select config from connector where id = ?1", [id], |r| {
        Ok(match r.get_ref(0)? {
            rusqlite::types::ValueRef::Blob(b) | rusqlite::types::ValueRef::Text(b) => b.to_vec(),
            other => panic!("config is {other:?}"),
        })
    })
    .unwrap()
}

/// No secret appears, whole or its first 12 bytes, in anything the run printed.
fn assert_no_secret(run: &Run) {
    let all = run.all();
    for s in [
        NEW_SECRET,
        OLD_SECRET,
        EXPIRED_SECRET,
        RIGHT_SECRET,
        WRONG,
        TYPED,
    ] {
        assert!(
            !all.contains(&s[..12]),
            "the output holds (the start of) a secret:\n{all}"
        );
    }
}

/// Scans every process's command line and environment, again and again, until stopped: the pids whose
/// cmdline or environ held `secret`, and how many scans were made.
struct ProcWatch {
    stop: Arc<AtomicBool>,
    found: Arc<Mutex<(Vec<String>, usize)>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ProcWatch {
    fn start(secret: &'static str) -> ProcWatch {
        let stop = Arc::new(AtomicBool::new(false));
        let found = Arc::new(Mutex::new((Vec::new(), 0)));
        let (s, f) = (stop.clone(), found.clone());
        let thread = std::thread::spawn(move || loop {
            let last = s.load(Ordering::SeqCst);
            let mut hits = Vec::new();
            for entry in std::fs::read_dir("/proc").unwrap().flatten() {
                let name = entry.file_name();
                if !name.to_string_lossy().bytes().all(|b| b.is_ascii_digit()) {
                    continue;
                }
                // Each file read once per scan: the environ judged is the one looked at (a process
                // that execs between two reads, as a container's first process does, would otherwise
                // be judged by its old environment and scanned in its new one).
                let environ = std::fs::read(entry.path().join("environ")).unwrap_or_default();
                let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
                // The test's own provider (the stand-in, whose STANDIN_CLIENTS holds the secrets it
                // takes, as a provider does) is the one process that may hold them.
                let provider = environ.windows(16).any(|w| w == b"STANDIN_CLIENTS=");
                for (what, bytes) in [("cmdline", &cmdline), ("environ", &environ)] {
                    if provider && what == "environ" {
                        continue;
                    }
                    if bytes.windows(secret.len()).any(|w| w == secret.as_bytes()) {
                        hits.push(format!("{}/{what}", name.to_string_lossy()));
                    }
                }
            }
            let mut g = f.lock().unwrap();
            g.0.extend(hits);
            g.1 += 1;
            drop(g);
            if last {
                return;
            }
        });
        ProcWatch {
            stop,
            found,
            thread: Some(thread),
        }
    }

    /// Stops after one more whole scan; the hits and the number of scans.
    fn finish(mut self) -> (Vec<String>, usize) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
        let g = self.found.lock().unwrap();
        (g.0.clone(), g.1)
    }
}

/// `ozrepair secret …` run with the secret on stdin while every process is watched; fails the test if
/// the secret was in any command line or environment.
fn watched(e: &Engine, secret: &'static str, args: &[&str]) -> Run {
    unseen(secret, || {
        ozrepair(["secret"])
            .args(args)
            .stdin(format!("{secret}\n"))
            .on(e)
            .spawn()
            .wait()
    })
}

/// `secret`'s arguments for a secret on stdin, asked of the provider first, written without a question.
const PROVEN_FROM_STDIN: &[&str] = &[
    "--connector",
    "rotated",
    "--secret-file",
    "-",
    "--verify",
    "--yes",
    "--output",
    "json",
];

/// Runs `f` while every process's cmdline and environ is scanned; fails the test if `secret` was in
/// any of them (or if the list was not scanned at least twice).
fn unseen(secret: &'static str, f: impl FnOnce() -> Run) -> Run {
    let watch = ProcWatch::start(secret);
    let run = f();
    let (hits, scans) = watch.finish();
    assert!(scans >= 2, "the process list was scanned {scans} time(s)");
    assert_eq!(
        hits,
        Vec::<String>::new(),
        "the secret was in these processes' cmdline/environ"
    );
    run
}

/// Logs lines of the container that say a login through `id` worked.
fn logins_ok(e: &Engine, container: &str, id: &str) -> usize {
    let out = e.docker(&["logs", container]);
    format!("{}{}", out.stdout_text(), out.stderr_text())
        .lines()
        .filter(|l| l.contains("login successful") && l.contains(id))
        .count()
}

/// `ozrepair secret --connector rotated --secret-file - --dry-run --output json` on a terminal (a pty by
/// util-linux `script`): the prompt comes, the secret is typed only then, and nothing the terminal shows
/// holds it (echo was off). The pty's whole transcript and the exit code.
fn on_a_terminal(e: &Engine, secret: &str) -> (String, i32) {
    let bin = env!("CARGO_BIN_EXE_ozrepair");
    let inner =
        format!("'{bin}' secret --connector rotated --secret-file - --dry-run --output json");
    let mut child = std::process::Command::new("script")
        .args(["-q", "-e", "-c", &inner, "/dev/null"])
        .env("DOCKER_HOST", &e.host)
        .envs(e.env.iter().map(|(k, v)| (k, v)))
        .env_remove("DOCKER_CONTEXT")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("script (util-linux) runs");
    let mut stdout = child.stdout.take().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s2 = seen.clone();
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 {
                break;
            }
            s2.lock().unwrap().extend_from_slice(&buf[..n]);
        }
    });
    poll("the prompt", Duration::from_secs(60), || {
        String::from_utf8_lossy(&seen.lock().unwrap())
            .contains("New secret (not echoed): ")
            .then_some(())
    });
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(format!("{secret}\n").as_bytes()).unwrap();
    let status = poll("the run to end", Duration::from_secs(120), || {
        child.try_wait().unwrap()
    });
    drop(stdin);
    reader.join().unwrap();
    let text = String::from_utf8_lossy(&seen.lock().unwrap()).into_owned();
    (text, status.code().unwrap_or(-1))
}

fn scenario(e: Engine) {
    let lab = Lab::start(e, "netbird", "v0.3", 40);
    let (e, d) = (&lab.e, &lab.d);
    lab.wait_logins("failed to authenticate", 2);
    // The checker can say no: the provider refuses what the rotated connector stores.
    assert!(token_check(&d.db, "rotated").is_err());
    assert_eq!(token_check(&d.db, "healthy"), Ok(()));
    let before = config_of(&d.db, "rotated");
    let sha = sha256_hex(&std::fs::read(&d.db).unwrap());
    let since = events_mark();

    // Refusals before anything is looked at: a connector type without a secret, an empty secret, no
    // such connector. One line each, nothing changed.
    for (args, stdin, code, says) in [
        (
            vec!["--connector", "local"],
            format!("{NEW_SECRET}\n"),
            2,
            "no secret field",
        ),
        (vec!["--connector", "rotated"], "\n".into(), 2, "empty"),
        (
            vec!["--connector", "nosuch"],
            format!("{NEW_SECRET}\n"),
            1,
            "no connector",
        ),
    ] {
        let run = ozrepair(["secret", "--yes", "--secret-file", "-"])
            .args(&args)
            .stdin(stdin)
            .on(e)
            .run();
        assert_eq!(run.code, code, "{args:?}: {run:?}");
        assert!(run.stderr.contains(says), "{args:?}: {run:?}");
        assert!(run.stderr.contains("nothing was changed"), "{run:?}");
        assert_eq!(run.stderr.trim().lines().count(), 1, "{run:?}");
        assert_no_secret(&run);
    }

    // A secret the provider refuses is never written.
    let run = watched(e, WRONG, PROVEN_FROM_STDIN);
    assert_eq!(run.code, 1, "{run:?}");
    let j = run.json();
    assert_eq!(j["result"], "failed", "{j}");
    assert_eq!(j["secret_change"]["verified"], "refused", "{j}");
    assert_eq!(j["secret_change"]["applied"], false, "{j}");
    assert!(
        j["secret_change"]["verify_answer"]
            .as_str()
            .unwrap()
            .contains("AADSTS7000215"),
        "{j}"
    );
    assert!(j["error"].as_str().unwrap().contains("nothing was changed"));
    assert_eq!(j["backup"], serde_json::Value::Null, "{j}");
    assert_no_secret(&run);

    // A dry run shows where and how long, never the value; writes and stops nothing.
    let tmp = tempfile::tempdir().unwrap();
    let file: PathBuf = tmp.path().join("new-secret");
    std::fs::write(&file, format!("{NEW_SECRET}\r\n")).unwrap();
    let run = ozrepair([
        "secret",
        "--connector",
        "rotated",
        "--secret-file",
        file.to_str().unwrap(),
        "--dry-run",
    ])
    .on(e)
    .run();
    assert_eq!(run.code, 3, "{run:?}");
    assert!(
        run.stdout.contains(&format!(
            "rotated clientSecret: a new secret of {} bytes not written (database)",
            NEW_SECRET.len()
        )),
        "{run:?}"
    );
    assert!(
        run.stdout.contains(&format!(
            "(secret, {} bytes) -> (secret, {} bytes)",
            OLD_SECRET.len(),
            NEW_SECRET.len()
        )) || run
            .stdout
            .contains(&format!("(secret, {} bytes)", NEW_SECRET.len())),
        "{run:?}"
    );
    assert_no_secret(&run);

    // On a terminal: asked for, echo off.
    let (typed, code) = on_a_terminal(e, TYPED);
    assert_eq!(code, 3, "{typed}");
    assert!(
        typed.contains(&format!("\"bytes\": {}", TYPED.len()))
            || typed.contains(&format!("\"bytes\":{}", TYPED.len())),
        "{typed}"
    );
    assert!(!typed.contains(&TYPED[..12]), "echoed: {typed}");
    assert_eq!(sha256_hex(&std::fs::read(&d.db).unwrap()), sha);
    assert_eq!(e.stop_events(&d.container, &since), Vec::<String>::new());

    // The provider's secret, from stdin, proven first: written, the IdP back up, Dex's client gets a
    // token with what is stored, and logins through the connector work again.
    let run = watched(e, NEW_SECRET, PROVEN_FROM_STDIN);
    assert_eq!(run.code, 0, "{run:?}");
    let j = run.json();
    assert_eq!(j["result"], "fixed", "{j}");
    let sc = &j["secret_change"];
    assert_eq!(sc["verified"], "accepted", "{j}");
    assert_eq!(sc["applied"], true, "{j}");
    assert_eq!(sc["bytes"], NEW_SECRET.len(), "{j}");
    assert_eq!(sc["places"], serde_json::json!(["database"]), "{j}");
    assert_eq!(j["container"]["state_after"], "running", "{j}");
    assert_no_secret(&run);
    let after = config_of(&d.db, "rotated");
    let expected = String::from_utf8(before.clone())
        .unwrap()
        .replace(OLD_SECRET, NEW_SECRET);
    assert_eq!(String::from_utf8(after).unwrap(), expected);
    assert_eq!(token_check(&d.db, "rotated"), Ok(()));
    let backup = PathBuf::from(j["backup"]["path"].as_str().unwrap());
    assert_eq!(config_of(&backup, "rotated"), before);
    assert_eq!(d.state(e).status, "running");
    let manifest_dir = backup.parent().unwrap();
    for entry in std::fs::read_dir(manifest_dir).unwrap().flatten() {
        if entry.path() != backup {
            let bytes = std::fs::read(entry.path()).unwrap_or_default();
            let text = String::from_utf8_lossy(&bytes);
            assert!(
                !text.contains(NEW_SECRET),
                "{} holds the secret",
                entry.path().display()
            );
        }
    }
    poll(
        "a login through rotated to work",
        Duration::from_secs(60),
        || (logins_ok(e, &d.container, "rotated") > 0).then_some(()),
    );

    // Already stored, not asked: nothing written, and not called healthy without the provider's word.
    let since = events_mark();
    let run = ozrepair([
        "secret",
        "--connector",
        "rotated",
        "--secret-file",
        file.to_str().unwrap(),
        "--yes",
        "--output",
        "json",
    ])
    .on(e)
    .run();
    assert_eq!(run.code, 5, "{run:?}");
    assert_eq!(run.json()["result"], "unchecked");
    assert_eq!(e.stop_events(&d.container, &since), Vec::<String>::new());
    assert_no_secret(&run);

    // Without --verify a secret is written but never called fixed: here it is one the provider refuses.
    let run = watched(
        e,
        WRONG,
        &[
            "--connector",
            "expired",
            "--secret-file",
            "-",
            "--yes",
            "--output",
            "json",
        ],
    );
    assert_eq!(run.code, 0, "{run:?}");
    let j = run.json();
    assert_eq!(j["result"], "unverified", "{j}");
    assert_eq!(j["secret_change"]["verified"], "not_asked", "{j}");
    assert_eq!(j["secret_change"]["applied"], true, "{j}");
    assert_no_secret(&run);
    assert!(token_check(&d.db, "expired").is_err());
    assert_eq!(d.state(e).status, "running");
}

#[test]
fn docker() {
    scenario(Engine::start());
}

#[test]
fn podman() {
    scenario(Engine::podman());
}

/// `ozrepair fleet … secret`: the secret comes from a file on this machine that each host's run reads
/// (their stdin is closed), so only its path is on any command line. Refused before any host is asked
/// without --yes (unless --dry-run) and for `-`; the dry run plans it on each host and writes nothing;
/// with --verify the provider takes it and each host's row holds it. The secret is in no fleet line, no
/// output, and no process's command line or environment (scanned during the run) on the way.
fn fleet_scenario(e: Engine) {
    let lab = Lab::start(e, "netbird", "v0.3", 40);
    let (e, d) = (&lab.e, &lab.d);
    lab.wait_logins("failed to authenticate", 2);
    assert!(token_check(&d.db, "rotated").is_err());
    let before = config_of(&d.db, "rotated");
    let sha = sha256_hex(&std::fs::read(&d.db).unwrap());
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("new-secret");
    std::fs::write(&file, format!("{NEW_SECRET}\n")).unwrap();
    let file = file.to_str().unwrap();
    let inventory = tmp.path().join("hosts.txt");
    std::fs::write(&inventory, format!("{}\n", e.host)).unwrap();
    let fleet = |global: &[&str], args: &[&str]| {
        ozrepair(global)
            .args(["fleet", "--output", "json", "--inventory"])
            .args([&inventory])
            .args(["secret", "--connector", "rotated"])
            .args(args)
            .on(e)
    };
    let since = events_mark();

    // Refused before any host is asked: no --yes; the secret from stdin (each host's stdin is closed).
    let no_yes = fleet(&[], &["--secret-file", file]).run();
    assert_eq!(no_yes.code, 2, "{no_yes:?}");
    assert!(no_yes.stderr.contains("--yes"), "{no_yes:?}");
    let stdin = fleet(&["--yes"], &["--secret-file", "-"])
        .stdin(format!("{NEW_SECRET}\n"))
        .run();
    assert_eq!(stdin.code, 2, "{stdin:?}");
    assert!(stdin.stderr.contains("not from stdin"), "{stdin:?}");
    for r in [&no_yes, &stdin] {
        assert_eq!(r.stdout, "", "{r:?}");
        assert_eq!(r.stderr.trim().lines().count(), 1, "{r:?}");
        assert_no_secret(r);
    }

    // The dry run: each host plans it (where and how long), nothing written or stopped.
    let dry = fleet(&[], &["--secret-file", file, "--dry-run"]).run();
    assert_eq!(dry.code, 3, "{dry:?}");
    let lines = dry.json_lines();
    assert_eq!(lines[0]["result"], "pending", "{dry:?}");
    assert_eq!(lines[0]["host"], e.host.as_str(), "{dry:?}");
    assert_eq!(lines[0]["secret_change"]["applied"], false, "{dry:?}");
    assert_eq!(lines[0]["secret_change"]["bytes"], NEW_SECRET.len());
    assert_no_secret(&dry);
    assert_eq!(sha256_hex(&std::fs::read(&d.db).unwrap()), sha);
    assert_eq!(e.stop_events(&d.container, &since), Vec::<String>::new());

    // Applied, proven first, while every process's cmdline and environ is scanned.
    let run = unseen(NEW_SECRET, || {
        fleet(&["--yes"], &["--secret-file", file, "--verify"])
            .spawn()
            .wait()
    });
    assert_eq!(run.code, 0, "{run:?}");
    assert_no_secret(&run);
    let lines = run.json_lines();
    assert_eq!(lines.len(), 2, "one host and the summary: {run:?}");
    assert_eq!(lines[0]["result"], "fixed", "{run:?}");
    assert_eq!(lines[0]["secret_change"]["verified"], "accepted", "{run:?}");
    assert_eq!(lines[0]["secret_change"]["applied"], true, "{run:?}");
    assert_eq!(lines[1]["summary"]["results"]["fixed"], 1, "{run:?}");
    let expected = String::from_utf8(before)
        .unwrap()
        .replace(OLD_SECRET, NEW_SECRET);
    assert_eq!(
        String::from_utf8(config_of(&d.db, "rotated")).unwrap(),
        expected
    );
    assert_eq!(token_check(&d.db, "rotated"), Ok(()));
    assert_eq!(d.state(e).status, "running");
    poll(
        "a login through rotated to work",
        Duration::from_secs(60),
        || (logins_ok(e, &d.container, "rotated") > 0).then_some(()),
    );
}

#[test]
fn fleet_docker() {
    fleet_scenario(Engine::start());
}

#[test]
fn fleet_podman() {
    fleet_scenario(Engine::podman());
}

/// The standalone setup's management.json (an external IdP, NetBird's IdP manager for it) whose
/// credential is the `nb-rotated` client's at the test's provider.
fn standalone_management_json(token_endpoint: &str, secret: &str) -> String {
    format!(
        r#"{{
    "Stuns": [],
    "HttpConfig": {{
        "Address": "0.0.0.0:33073",
        "AuthIssuer": "https://idp.example.com/realms/netbird",
        "AuthAudience": "netbird-client"
    }},
    "IdpManagerConfig": {{
        "ManagerType": "keycloak",
        "ClientConfig": {{
            "Issuer": "https://idp.example.com/realms/netbird",
            "TokenEndpoint": "{token_endpoint}",
            "ClientID": "nb-rotated",
            "ClientSecret": "{secret}",
            "GrantType": "client_credentials"
        }}
    }}
}}
"#
    )
}

/// `secret --connector management`: the standalone management server's IdP-manager credential in its
/// bind-mounted management.json (no Dex database), proven first at the provider's token endpoint with the
/// request the management server makes itself; a refused one leaves the file as it was, the accepted one
/// changes only the value's bytes and keeps the file's owner and mode.
fn management_scenario(e: Engine) {
    use std::os::unix::fs::MetadataExt;
    let lab = Lab::start(e, "netbird", "v0.3", 40);
    let e = &lab.e;
    let dir = crate::util::configs::host_dir();
    let file = dir.path().join("management.json");
    let text = standalone_management_json(&format!("{}/token", lab.issuer), OLD_SECRET);
    crate::util::configs::write_config(&file, &text, 0o640, (0, 4242));
    let mount = format!("{}:/etc/netbird/management.json", file.display());
    e.docker_ok(&[
        "run",
        "-d",
        "--pull",
        "never",
        "--network",
        "none",
        "--restart",
        "always",
        "--name",
        "netbird-management",
        "-v",
        &mount,
        "-e",
        "STANDIN_CONFIG=/etc/netbird/management.json",
        "-e",
        "STANDIN_TOKEN_ISSUER=https://idp.example.com/realms/netbird",
        crate::util::engine::IMAGE,
    ]);
    poll("the management to serve", Duration::from_secs(60), || {
        let l = e.docker(&["logs", "netbird-management"]);
        l.stdout_text()
            .contains("standin: 3 API calls made")
            .then_some(())
    });
    let args = |verify: bool| {
        let mut a = vec![
            "--container",
            "netbird-management",
            "--connector",
            "management",
            "--secret-file",
            "-",
            "--yes",
            "--output",
            "json",
        ];
        if verify {
            a.push("--verify");
        }
        a
    };

    let run = watched(e, WRONG, &args(true));
    assert_eq!(run.code, 1, "{run:?}");
    let j = run.json();
    assert_eq!(j["secret_change"]["verified"], "refused", "{j}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), text);
    assert_no_secret(&run);

    let run = watched(e, NEW_SECRET, &args(true));
    assert_eq!(run.code, 0, "{run:?}");
    let j = run.json();
    assert_eq!(j["result"], "fixed", "{j}");
    assert_eq!(j["secret_change"]["verified"], "accepted", "{j}");
    assert_eq!(j["secret_change"]["field"], "ClientSecret", "{j}");
    assert_eq!(
        j["secret_change"]["places"],
        serde_json::json!([file.display().to_string()]),
        "{j}"
    );
    assert_no_secret(&run);
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        text.replace(OLD_SECRET, NEW_SECRET)
    );
    let m = std::fs::metadata(&file).unwrap();
    assert_eq!((m.mode() & 0o7777, m.uid(), m.gid()), (0o640, 0, 4242));
    assert_eq!(
        e.inspect("netbird-management", "{{.State.Status}}"),
        "running"
    );
    e.docker(&["rm", "-f", "netbird-management"]);
}

#[test]
fn management_credential_docker() {
    management_scenario(Engine::start());
}

#[test]
fn management_credential_podman() {
    management_scenario(Engine::podman());
}
