//! End to end, on Docker and Podman: `ozrepair password` sets a local user's password in the running
//! deployment's Dex database, and Dex's login, run by the real Go library (`standin-go login`: the row read
//! as Dex's SQL storage reads it, Dex's cost check, x/crypto's `bcrypt.CompareHashAndPassword`), accepts
//! the new password and refuses the old one. Only that user's hash and that user's local sessions change;
//! the container is back up; the backup is there. An unknown email and a dry run change nothing and stop
//! nothing; a failure inside the stop window says what state it left. No output of any run holds the
//! password, a hash, or an 8-byte prefix of either.

use crate::util::backups::backup_sets;
use crate::util::command::{ozrepair, Run};
use crate::util::deploy::{Deployment, OPENZRO};
use crate::util::engine::{events_mark, Engine};
use crate::util::hash::sha256_hex;
use crate::util::login::dex_login;
use crate::util::seed::{Connector, DexDb, JUMPCLOUD_SLASH};
use crate::util::snapshot::read_copy;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const ALICE: &str = "alice@example.com";
const ALICE_ID: &str = "u-alice-0001";
const BOB: &str = "bob@example.com";
const OLD: &str = "Old-Passw0rd!";
const BOB_PASSWORD: &str = "Bobs-Passw0rd!";
const NEW: &str = "Brand-New-Passw0rd-7";

fn go_hash(password: &str) -> Vec<u8> {
    bcrypt::hash_with_result(password, 10)
        .unwrap()
        .format_for_version(bcrypt::Version::TwoA)
        .into_bytes()
}

/// A healthy deployment (23 migrations: `auth_session` with one row per browser) whose database also
/// holds alice and bob with their passwords, two local sessions of alice, one of alice on another
/// connector, and one local session of bob.
fn deployment(e: &Engine) -> (Deployment, Vec<u8>) {
    let db = DexDb::new(23).connectors([Connector::local(), Connector::jumpcloud(JUMPCLOUD_SLASH)]);
    let d = Deployment::create(e, &OPENZRO, &db);
    let alice_hash = go_hash(OLD);
    let conn = rusqlite::Connection::open(&d.db).unwrap();
    for (email, hash, name, id) in [
        (ALICE, alice_hash.clone(), "alice", ALICE_ID),
        (BOB, go_hash(BOB_PASSWORD), "bob", "u-bob-0002"),
    ] {
        conn.execute(
            "insert into password (email, hash, username, user_id) values (?1, ?2, ?3, ?4)",
            rusqlite::params![email, hash, name, id],
        )
        .unwrap();
    }
    for (id, user, connector) in [
        ("sess-a1", ALICE_ID, "local"),
        ("sess-a2", ALICE_ID, "local"),
        ("sess-a3", ALICE_ID, "jumpcloud"),
        ("sess-b1", "u-bob-0002", "local"),
    ] {
        conn.execute(
            "insert into auth_session (id, secret, user_id, connector_id, client_states, created_at, last_activity) \
             values (?1, 's', ?2, ?3, x'7b7d', '2026-11-30 10:00:00', '2026-11-30 11:00:00')",
            rusqlite::params![id, user, connector],
        )
        .unwrap();
    }
    drop(conn);
    d.run(e, &[("STANDIN_PUBLISHED", JUMPCLOUD_SLASH)]);
    d.wait_ready(e);
    (d, alice_hash)
}

/// Every row of every table (from a private copy), each value with its storage class.
fn dump(db: &Path) -> BTreeMap<String, Vec<Vec<String>>> {
    let (_dir, conn) = read_copy(db);
    let tables: Vec<String> = conn
        .prepare("select name from sqlite_master where type = 'table' order by name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    tables
        .into_iter()
        .map(|t| {
            let mut st = conn
                .prepare(&format!("select * from \"{t}\" order by rowid"))
                .unwrap();
            let n = st.column_count();
            let rows = st
                .query_map([], |r| {
                    (0..n)
                        .map(|i| r.get_ref(i).map(shown))
                        .collect::<Result<Vec<_>, _>>()
                })
                .unwrap()
                .collect::<Result<Vec<_>, _>>()
                .unwrap();
            (t, rows)
        })
        .collect()
}

/// A value with its storage class: `text:…`, `blob:<hex>`, `integer:…`, `real:…`, `null`.
fn shown(v: rusqlite::types::ValueRef) -> String {
    use rusqlite::types::ValueRef;
    match v {
        ValueRef::Null => "null".into(),
        ValueRef::Integer(i) => format!("integer:{i}"),
        ValueRef::Real(f) => format!("real:{f}"),
        ValueRef::Text(t) => format!("text:{}", String::from_utf8_lossy(t)),
        ValueRef::Blob(b) => format!(
            "blob:{}",
            b.iter().map(|x| format!("{x:02x}")).collect::<String>()
        ),
    }
}

fn hash_of(db: &Path, email: &str) -> Vec<u8> {
    let (_dir, conn) = read_copy(db);
    conn.query_row("select hash from password where email = ?1", [email], |r| {
        r.get(0)
    })
    .unwrap()
}

/// Neither the secret nor its first 8 bytes appear anywhere in the run's stdout or stderr.
fn assert_no_leak(run: &Run, secrets: &[&[u8]]) {
    let all = run.all();
    for s in secrets {
        let prefix = String::from_utf8_lossy(&s[..8]);
        assert!(
            !all.contains(prefix.as_ref()),
            "the output holds {prefix:?}, the start of a secret:\n{run:?}"
        );
    }
}

fn password_file(dir: &Path, password: &str) -> PathBuf {
    let f = dir.join("new-password");
    std::fs::write(&f, format!("{password}\n")).unwrap();
    f
}

on_both_engines!(
    password_is_set_dex_logs_in_with_it_and_only_that_users_local_sessions_end,
    |e| {
        let (d, old_hash) = deployment(&e);
        // The checker can say yes: before the run the old password logs alice in.
        assert_eq!(dex_login(&d.db, ALICE, OLD), Ok(ALICE_ID.to_string()));
        let before = dump(&d.db);
        let tmp = tempfile::tempdir().unwrap();
        let file = password_file(tmp.path(), NEW);

        let run = ozrepair([
            "password",
            "--yes",
            "--email",
            "Alice@Example.com",
            "--password-file",
            file.to_str().unwrap(),
            "--output",
            "json",
        ])
        .on(&e)
        .run();
        assert_eq!(run.code, 0, "{run:?}");
        let j = run.json();
        assert_eq!(j["command"], "password");
        assert_eq!(j["result"], "fixed");
        assert_eq!(j["error"], serde_json::Value::Null);
        assert_eq!(
            j["password_change"],
            serde_json::json!({"email": ALICE, "user_id": ALICE_ID, "sessions_removed": 2, "applied": true})
        );
        assert_eq!(j["container"]["state_after"], "running");
        assert_eq!(d.state(&e).status, "running");

        // Dex logs alice in with the new password only; bob's password still works.
        assert_eq!(dex_login(&d.db, ALICE, NEW), Ok(ALICE_ID.to_string()));
        assert_eq!(
            dex_login(&d.db, ALICE, OLD),
            Err("refused: wrong password".into())
        );
        assert_eq!(dex_login(&d.db, BOB, BOB_PASSWORD), Ok("u-bob-0002".into()));

        // The backup is there and holds the database as it was.
        let backup = PathBuf::from(j["backup"]["path"].as_str().unwrap());
        assert_eq!(
            backup_sets(backup.parent().unwrap().parent().unwrap()).len(),
            1
        );
        assert_eq!(
            sha256_hex(&std::fs::read(&backup).unwrap()),
            j["database"]["sha256_before"].as_str().unwrap()
        );
        assert_eq!(hash_of(&backup, ALICE), old_hash);

        // Nothing else changed: alice's hash and her two local sessions only.
        let new_hash = hash_of(&d.db, ALICE);
        assert_eq!(&new_hash[..7], b"$2a$10$");
        let mut expected = before.clone();
        let alice_row = expected
            .get_mut("password")
            .unwrap()
            .iter_mut()
            .find(|r| r[0] == format!("text:{ALICE}"))
            .unwrap();
        assert_eq!(
            alice_row[1],
            shown(rusqlite::types::ValueRef::Blob(&old_hash))
        );
        alice_row[1] = shown(rusqlite::types::ValueRef::Blob(&new_hash));
        expected
            .get_mut("auth_session")
            .unwrap()
            .retain(|r| r[0] != "text:sess-a1" && r[0] != "text:sess-a2");
        assert_eq!(
            expected["auth_session"].len(),
            2,
            "sess-a3 and sess-b1 stay"
        );
        assert_eq!(dump(&d.db), expected);

        assert_no_leak(&run, &[NEW.as_bytes(), &new_hash, &old_hash]);

        // Again: the password is already set, nothing is stopped or written.
        let since = events_mark();
        let sha = sha256_hex(&std::fs::read(&d.db).unwrap());
        let again = ozrepair([
            "password",
            "--yes",
            "--email",
            ALICE,
            "--password-file",
            file.to_str().unwrap(),
        ])
        .on(&e)
        .run();
        assert_eq!(again.code, 0, "{again:?}");
        assert!(
            again.stdout.contains("already has the new password"),
            "{again:?}"
        );
        assert_eq!(sha256_hex(&std::fs::read(&d.db).unwrap()), sha);
        assert_eq!(e.stop_events(&d.container, &since), Vec::<String>::new());
        assert_no_leak(&again, &[NEW.as_bytes(), &new_hash]);
    }
);

on_both_engines!(
    an_unknown_email_a_dry_run_and_refusals_change_nothing_and_stop_nothing,
    |e| {
        let (d, old_hash) = deployment(&e);
        let tmp = tempfile::tempdir().unwrap();
        let file = password_file(tmp.path(), NEW);
        let file = file.to_str().unwrap();
        let sha = sha256_hex(&std::fs::read(&d.db).unwrap());
        let state = d.state(&e);
        let since = events_mark();
        let secrets: [&[u8]; 2] = [NEW.as_bytes(), &old_hash];

        // An email with no row: exit 1, one line, the database and the container untouched.
        let unknown = ozrepair([
            "password",
            "--yes",
            "--email",
            "carol@example.com",
            "--password-file",
            file,
        ])
        .on(&e)
        .run();
        assert_eq!(unknown.code, 1, "{unknown:?}");
        let errors: Vec<&str> = unknown.stderr.lines().collect();
        assert_eq!(errors.len(), 1, "{unknown:?}");
        assert!(
            errors[0].starts_with("ozrepair: no local user has the email carol@example.com (")
                && errors[0].contains("holds 3 local user(s)")
                && errors[0].contains("nothing was changed"),
            "{unknown:?}"
        );
        assert_no_leak(&unknown, &secrets);

        // A dry run: what would change, exit 3.
        let dry = ozrepair([
            "password",
            "--dry-run",
            "--email",
            ALICE,
            "--password-file",
            file,
            "--output",
            "json",
        ])
        .on(&e)
        .run();
        assert_eq!(dry.code, 3, "{dry:?}");
        let j = dry.json();
        assert_eq!(j["result"], "pending");
        assert_eq!(
            j["password_change"],
            serde_json::json!({"email": ALICE, "user_id": ALICE_ID, "sessions_removed": 2, "applied": false})
        );
        assert_eq!(j["backup"], serde_json::Value::Null);
        assert_no_leak(&dry, &secrets);

        // Refused before anything is read: a password outside NetBird's policy (stdin), no --yes.
        let weak = ozrepair([
            "password",
            "--yes",
            "--email",
            ALICE,
            "--password-file",
            "-",
        ])
        .stdin("weakpassword\n")
        .on(&e)
        .run();
        assert_eq!(weak.code, 2, "{weak:?}");
        assert!(
            weak.stderr.contains("NetBird's password policy"),
            "{weak:?}"
        );
        assert_no_leak(&weak, &[b"weakpassword"]);
        let no_yes = ozrepair(["password", "--email", ALICE, "--password-file", "-"])
            .stdin(format!("{NEW}\n"))
            .on(&e)
            .run();
        assert_eq!(no_yes.code, 2, "{no_yes:?}");
        assert!(no_yes.stderr.contains("--yes"), "{no_yes:?}");
        assert_no_leak(&no_yes, &secrets);

        // None of them wrote, stopped or backed up anything.
        assert_eq!(sha256_hex(&std::fs::read(&d.db).unwrap()), sha);
        assert_eq!(e.stop_events(&d.container, &since), Vec::<String>::new());
        assert_eq!(d.state(&e), state);
        assert!(backup_sets(&d.mountpoint.join("ozrepair-backups")).is_empty());

        // A failure inside the window (the backup cannot be written): the error says the state.
        let blocker = tmp.path().join("not-a-dir");
        std::fs::write(&blocker, "").unwrap();
        let failed = ozrepair([
            "password",
            "--yes",
            "--email",
            ALICE,
            "--password-file",
            file,
            "--backup-dir",
            blocker.join("backups").to_str().unwrap(),
        ])
        .on(&e)
        .run();
        assert_eq!(failed.code, 1, "{failed:?}");
        let line = failed.stderr.lines().last().unwrap_or_default().to_string();
        assert!(
            line.contains("the database is unchanged") && line.contains("ozrepair password"),
            "{failed:?}"
        );
        assert_eq!(sha256_hex(&std::fs::read(&d.db).unwrap()), sha);
        assert_eq!(dex_login(&d.db, ALICE, OLD), Ok(ALICE_ID.to_string()));
        assert_no_leak(&failed, &secrets);
    }
);

on_both_engines!(
    fleet_password_sets_it_on_each_host_from_a_file_and_refuses_stdin,
    |e| {
        let (d, old_hash) = deployment(&e);
        let tmp = tempfile::tempdir().unwrap();
        let file = password_file(tmp.path(), NEW);
        let inventory = tmp.path().join("hosts.txt");
        std::fs::write(&inventory, format!("{}\n", e.host)).unwrap();
        let fleet = |args: &[&str]| {
            ozrepair(["fleet", "--output", "json", "--inventory"])
                .args([&inventory])
                .args(["password", "--email", ALICE])
                .args(args)
                .run()
        };
        let file = file.to_str().unwrap();
        let sha = sha256_hex(&std::fs::read(&d.db).unwrap());

        // Refused before any host is asked: no --yes; the password from stdin.
        let no_yes = fleet(&["--password-file", file]);
        assert_eq!(no_yes.code, 2, "{no_yes:?}");
        assert!(no_yes.stderr.contains("--yes"), "{no_yes:?}");
        let stdin = ozrepair(["--yes", "fleet", "--inventory"])
            .args([&inventory])
            .args(["password", "--email", ALICE, "--password-file", "-"])
            .stdin(format!("{NEW}\n"))
            .run();
        assert_eq!(stdin.code, 2, "{stdin:?}");
        assert!(stdin.stderr.contains("not from stdin"), "{stdin:?}");
        assert_eq!(sha256_hex(&std::fs::read(&d.db).unwrap()), sha);

        let run = ozrepair(["--yes", "fleet", "--output", "json", "--inventory"])
            .args([&inventory])
            .args(["password", "--email", ALICE, "--password-file", file])
            .run();
        assert_eq!(run.code, 0, "{run:?}");
        let lines = run.json_lines();
        assert_eq!(lines[0]["result"], "fixed", "{run:?}");
        assert_eq!(lines[0]["password_change"]["sessions_removed"], 2);
        assert_eq!(lines[0]["password_change"]["applied"], true);
        assert_eq!(dex_login(&d.db, ALICE, NEW), Ok(ALICE_ID.to_string()));
        let new_hash = hash_of(&d.db, ALICE);
        for r in [&no_yes, &stdin, &run] {
            assert_no_leak(r, &[NEW.as_bytes(), &new_hash, &old_hash]);
        }
    }
);

on_both_engines!(
    the_ansible_module_sets_it_from_stdin_and_never_returns_it,
    |e| {
        let (d, old_hash) = deployment(&e);
        let sha = sha256_hex(&std::fs::read(&d.db).unwrap());
        let args = |check: bool| {
            serde_json::json!({
                "action": "password",
                "docker_host": e.host,
                "email": ALICE,
                "new_password": NEW,
                "wait": 20,
                "binary": env!("CARGO_BIN_EXE_ozrepair"),
                "_ansible_check_mode": check,
            })
        };
        let secret_free = |out: &str, secrets: &[&[u8]]| {
            for s in secrets {
                let prefix = String::from_utf8_lossy(&s[..8]);
                assert!(!out.contains(prefix.as_ref()), "{prefix:?} in {out}");
            }
        };

        // Check mode: `password --dry-run`; changed (a change is pending), nothing written.
        let (check, out) = crate::util::ansible::run_module(args(true));
        assert_eq!(check["exit_code"], 3, "{out}");
        assert_eq!(check["changed"], true, "{out}");
        assert_eq!(check["password_change"]["sessions_removed"], 2, "{out}");
        assert_eq!(check["password_change"]["applied"], false, "{out}");
        assert_eq!(sha256_hex(&std::fs::read(&d.db).unwrap()), sha);
        secret_free(&out, &[NEW.as_bytes(), &old_hash]);

        let (set, out) = crate::util::ansible::run_module(args(false));
        assert_eq!(set["exit_code"], 0, "{out}");
        assert_eq!(set["changed"], true, "{out}");
        assert_eq!(set["password_change"]["applied"], true, "{out}");
        assert_eq!(
            set["invocation"]["module_args"]["new_password"],
            "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"
        );
        assert!(
            set["cmd"].as_array().unwrap().iter().all(|a| a != NEW),
            "{out}"
        );
        assert_eq!(dex_login(&d.db, ALICE, NEW), Ok(ALICE_ID.to_string()));
        secret_free(&out, &[NEW.as_bytes(), &old_hash, &hash_of(&d.db, ALICE)]);

        // Again: already set, not changed.
        let (again, out) = crate::util::ansible::run_module(args(false));
        assert_eq!(again["changed"], false, "{out}");
        assert_eq!(again["result"], "healthy", "{out}");
    }
);
