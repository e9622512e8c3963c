//! End to end, Dex's store on a real database server (Debian's PostgreSQL and MariaDB, private to the
//! test, Dex's schema from the repository's migration statements for that flavour), the stand-in
//! management server in a private Docker engine taking its connectors from that server through the same
//! config file ozrepair reads: NetBird's combined `config.yaml` (`server.authStore`, engine postgres, a
//! DSN) and Dex's `config.yaml` (`storage:` postgres or mysql, its password from the environment as Dex
//! expands it). The stale `idp.db` NetBird's move to PostgreSQL leaves in the data volume sits beside it
//! and must never be taken for the store. Both behaviours of the field: a server that logs the failing
//! connector and keeps running, and one that crash-loops.

use crate::util::command::ozrepair;
use crate::util::dbserver::{DbServer, Flavour, DEX_PASSWORD};
use crate::util::deploy::{Deployment, Layout};
use crate::util::engine::Engine;
use crate::util::gocheck::standin_go_bin;
use crate::util::poll;
use crate::util::seed::{jumpcloud_config, DexDb, JC_ID, JUMPCLOUD, JUMPCLOUD_SLASH, SECRET};
use ozrepair_standin::dbseed::Row;
use std::path::Path;
use std::time::Duration;

const NETBIRD: Layout = Layout {
    container: "netbird-server",
    volume: "netbird_data",
    mount: "/var/lib/netbird",
    db_name: "idp.db",
};

/// How the server behaves with a connector that does not open.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Behaviour {
    /// NetBird v0.66.1+ / Dex v2.45: logs it and keeps running; logins through it fail.
    KeepsRunning,
    /// An older server: exits, and its restart policy starts it again.
    CrashLoops,
}

/// Which config names the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Config {
    /// NetBird's combined config.yaml, `server.authStore` with a DSN over the server's Unix socket.
    NetBirdSocket,
    /// Dex's config.yaml, `storage:` over loopback TCP with the container on the host's network, the
    /// password from the container's environment.
    DexTcpEnv,
    /// Dex's config.yaml, `storage:` over the Unix socket.
    DexSocket,
}

struct Scene {
    d: Deployment,
    _confdir: tempfile::TempDir,
    home: tempfile::TempDir,
    stale: Vec<u8>,
}

/// A fresh locked-out deployment: database `dex` made anew with the local connector and JumpCloud
/// without its slash, the stale idp.db (the same rows) in the data volume, the stand-in running on it.
fn deploy(e: &Engine, s: &DbServer, config: Config, behaviour: Behaviour) -> Scene {
    s.reset();
    s.insert(&Row {
        id: "local",
        typ: "local",
        name: "Email",
        resource_version: "",
        config: None,
    });
    let jc = jumpcloud_config(JUMPCLOUD);
    s.insert(&Row {
        id: JC_ID,
        typ: "oidc",
        name: "JumpCloud",
        resource_version: "",
        config: Some(jc.as_bytes()),
    });
    let d = Deployment::create(e, &NETBIRD, &DexDb::locked_out());
    let stale = std::fs::read(&d.db).unwrap();
    let confdir = tempfile::tempdir().unwrap();
    let (sock_at, conf_at) = match s.flavour {
        Flavour::Postgres => (
            "/run/postgresql",
            if config == Config::NetBirdSocket {
                "/etc/netbird"
            } else {
                "/etc/dex"
            },
        ),
        Flavour::Mariadb => ("/run/mysqld", "/etc/dex"),
    };
    let yaml = match (s.flavour, config) {
        (Flavour::Postgres, Config::NetBirdSocket) => format!(
            "server:\n  listenAddress: \":80\"\n  exposedAddress: \"https://netbird.example.com:443\"\n  authStore:\n    engine: \"postgres\"\n    dsn: \"host={sock_at} port={} user=dex password={DEX_PASSWORD} dbname=dex sslmode=disable\"\n",
            s.port
        ),
        (Flavour::Postgres, Config::DexTcpEnv) => format!(
            "issuer: https://netbird.example.com/dex\nstorage:\n  type: postgres\n  config:\n    host: 127.0.0.1\n    port: {}\n    database: dex\n    user: dex\n    password: ${{DEX_DB_PASSWORD}}\n    ssl:\n      mode: disable\n",
            s.port
        ),
        (Flavour::Postgres, Config::DexSocket) => format!(
            "issuer: https://netbird.example.com/dex\nstorage:\n  type: postgres\n  config:\n    host: {sock_at}\n    port: {}\n    database: dex\n    user: dex\n    password: {DEX_PASSWORD}\n",
            s.port
        ),
        (Flavour::Mariadb, Config::DexTcpEnv) => format!(
            "issuer: https://openzro.example.com/dex\nstorage:\n  type: mysql\n  config:\n    host: 127.0.0.1\n    port: {}\n    database: dex\n    user: dex\n    password: $DEX_DB_PASSWORD\n    ssl:\n      mode: \"false\"\n",
            s.port
        ),
        (Flavour::Mariadb, _) => format!(
            "issuer: https://openzro.example.com/dex\nstorage:\n  type: mysql\n  config:\n    host: {sock_at}/mysqld.sock\n    database: dex\n    user: dex\n    password: $DEX_DB_PASSWORD\n"
        ),
    };
    std::fs::write(confdir.path().join("config.yaml"), yaml).unwrap();
    let conf_mount = format!("{}:{conf_at}:ro", confdir.path().display());
    let sock_mount = format!("{}:{sock_at}", s.sock_dir().display());
    let store_config = format!("STANDIN_STORE_CONFIG={conf_at}/config.yaml");
    let pw = format!("DEX_DB_PASSWORD={DEX_PASSWORD}");
    let mut extra: Vec<&str> = vec![
        "-v",
        &conf_mount,
        "-v",
        &sock_mount,
        "-e",
        &store_config,
        "-e",
        &pw,
    ];
    if config == Config::DexTcpEnv {
        extra.extend(["--network", "host"]);
    }
    let mut env = vec![("STANDIN_PUBLISHED", JUMPCLOUD_SLASH)];
    if behaviour == Behaviour::KeepsRunning {
        env.push(("STANDIN_ON_FAILURE", "continue"));
    }
    d.run_with(e, &env, &extra);
    match behaviour {
        Behaviour::CrashLoops => d.wait_restarts(e, 2),
        Behaviour::KeepsRunning => poll(
            "the connector failure in its log",
            Duration::from_secs(60),
            || {
                let l = e.docker(&["logs", &d.container]);
                format!("{}{}", l.stdout_text(), l.stderr_text())
                    .contains("Failed to open connector")
                    .then_some(())
            },
        ),
    }
    Scene {
        d,
        _confdir: confdir,
        home: tempfile::tempdir().unwrap(),
        stale,
    }
}

fn fix(e: &Engine, sc: &Scene) -> crate::util::command::Run {
    ozrepair(["fix", "--yes", "--output", "json"])
        .env("HOME", sc.home.path())
        .on(e)
        .run()
}

/// The seed scenario fixed by `fix --yes` with no flags, as asked: the store found from the config,
/// backed up, fixed, restarted, serving; the stale idp.db untouched.
fn fixed_once(e: &Engine, s: &DbServer, sc: &Scene) {
    let run = fix(e, sc);
    assert_eq!(run.code, 0, "{run:?}");
    let j = run.json();
    assert_eq!(j["result"], "fixed", "{run:?}");
    assert_eq!(
        j["store"],
        match s.flavour {
            Flavour::Postgres => "postgres",
            Flavour::Mariadb => "mysql",
        }
    );
    assert_eq!(j["changes"][0]["connector"], JC_ID);
    assert_eq!(j["changes"][0]["to"], JUMPCLOUD_SLASH);
    for secret in [DEX_PASSWORD, SECRET] {
        assert!(
            !run.all().contains(secret),
            "a secret in the output: {run:?}"
        );
    }
    let rows = s.rows();
    assert_eq!(rows[0].0, JC_ID);
    assert_eq!(
        rows[0].2.as_deref(),
        Some(jumpcloud_config(JUMPCLOUD_SLASH).as_bytes()),
        "only the issuer's bytes"
    );
    assert_eq!(rows[0].1, "1", "resource_version as Dex bumps it");
    assert_eq!((rows[1].0.as_str(), rows[1].2.as_deref()), ("local", None));
    assert_eq!(
        std::fs::read(&sc.d.db).unwrap(),
        sc.stale,
        "the stale idp.db is never the store"
    );
    assert_eq!(sc.d.state(e).status, "running");
}

fn ten_fresh_deployments(s: &DbServer, config: Config) {
    let e = Engine::start();
    for i in 0..10 {
        let behaviour = if i % 2 == 0 {
            Behaviour::CrashLoops
        } else {
            Behaviour::KeepsRunning
        };
        let sc = deploy(&e, s, config, behaviour);
        fixed_once(&e, s, &sc);
        sc.d.remove(&e);
    }
}

#[test]
fn postgres_netbird_auth_store_fixed_ten_times() {
    ten_fresh_deployments(&DbServer::postgres(), Config::NetBirdSocket);
}

#[test]
fn mariadb_dex_storage_fixed_ten_times() {
    ten_fresh_deployments(&DbServer::mariadb(), Config::DexSocket);
}

/// Everything around one fix: inspect and dry-run write nothing, the Go checker reads the repaired
/// rows through the real driver, a second fix is a no-op, restore brings the exact bytes back.
fn promises(s: &DbServer, config: Config) {
    let e = Engine::start();
    let sc = deploy(&e, s, config, Behaviour::KeepsRunning);
    let before = s.rows();
    for args in [
        vec!["inspect", "--output", "json"],
        vec!["fix", "--dry-run", "--yes", "--output", "json"],
    ] {
        let run = ozrepair(args.clone())
            .env("HOME", sc.home.path())
            .on(&e)
            .run();
        assert_eq!(run.code, 3, "{args:?}: {run:?}");
        assert_eq!(s.rows(), before, "{args:?} wrote");
        assert!(!run.all().contains(DEX_PASSWORD), "{run:?}");
        let j = run.json();
        assert!(
            j["located"].to_string().contains("is not the store"),
            "the stale idp.db is named as left alone: {}",
            j["located"]
        );
        assert!(
            j["located"]
                .to_string()
                .contains("taken from the IdP's environment"),
            "where the password came from: {}",
            j["located"]
        );
    }
    assert!(
        !sc.home.path().join("ozrepair-backups").exists(),
        "no backup by a read"
    );
    fixed_once(&e, s, &sc);
    sc.d.wait_ready(&e);

    // The Go checker: the real driver reads the row and Dex's Config decodes it.
    let dsn = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(dsn.path(), s.go_dsn("dex")).unwrap();
    let driver = match s.flavour {
        Flavour::Postgres => "postgres",
        Flavour::Mariadb => "mysql",
    };
    let out = std::process::Command::new(standin_go_bin())
        .args(["dbrows", "--driver", driver, "--dsn-file"])
        .arg(dsn.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let jc = lines.iter().find(|l| l["id"] == JC_ID).unwrap();
    assert_eq!(
        jc["config_hex"],
        jumpcloud_config(JUMPCLOUD_SLASH)
            .as_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
    assert_eq!(jc["resource_version"], "1");
    assert!(jc.get("decode_error").is_none(), "{jc}");

    let after = s.rows();
    let again = fix(&e, &sc);
    assert_eq!(again.code, 0, "{again:?}");
    assert_eq!(again.json()["result"], "healthy");
    assert_eq!(s.rows(), after, "a second fix writes nothing");

    let listed = ozrepair(["backups", "--output", "json"])
        .env("HOME", sc.home.path())
        .on(&e)
        .run();
    assert_eq!(listed.code, 0, "{listed:?}");
    assert_eq!(
        listed.json()["backups"].as_array().map(|a| a.len()),
        Some(1)
    );
    let restore = ozrepair(["restore", "--yes", "--wait", "0"])
        .env("HOME", sc.home.path())
        .on(&e)
        .run();
    assert_eq!(restore.code, 0, "{restore:?}");
    assert_eq!(s.rows(), before, "restored byte for byte");
    assert!(!restore.all().contains(DEX_PASSWORD));
    // The set's files never hold the database's password.
    for f in walk(&sc.home.path().join("ozrepair-backups")) {
        let bytes = std::fs::read(&f).unwrap();
        assert!(
            !String::from_utf8_lossy(&bytes).contains(DEX_PASSWORD),
            "{}",
            f.display()
        );
    }
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn postgres_inspect_dry_run_go_checker_second_fix_and_restore() {
    promises(&DbServer::postgres(), Config::DexTcpEnv);
}

#[test]
fn mariadb_inspect_dry_run_go_checker_second_fix_and_restore() {
    promises(&DbServer::mariadb(), Config::DexTcpEnv);
}

/// A server store given by `--dsn-file` with no engine to find a deployment on: nothing is stopped or
/// started, so a write needs `--live`.
struct Given {
    s: DbServer,
    dsn: tempfile::NamedTempFile,
    home: tempfile::TempDir,
}

fn given(flavour: Flavour, dsn: impl Fn(&DbServer) -> String) -> Given {
    let s = match flavour {
        Flavour::Postgres => DbServer::postgres(),
        Flavour::Mariadb => DbServer::mariadb(),
    };
    s.insert(&Row {
        id: "local",
        typ: "local",
        name: "Email",
        resource_version: "",
        config: None,
    });
    let jc = jumpcloud_config(JUMPCLOUD);
    s.insert(&Row {
        id: JC_ID,
        typ: "oidc",
        name: "JumpCloud",
        resource_version: "",
        config: Some(jc.as_bytes()),
    });
    let f = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(f.path(), dsn(&s)).unwrap();
    Given {
        s,
        dsn: f,
        home: tempfile::tempdir().unwrap(),
    }
}

impl Given {
    fn run(&self, args: &[&str]) -> crate::util::command::Run {
        let mut all: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        all.extend([
            "-H".into(),
            "unix:///nonexistent/ozr.sock".into(),
            "--dsn-file".into(),
        ]);
        all.push(self.dsn.path().display().to_string());
        ozrepair(all).env("HOME", self.home.path()).run()
    }
}

fn pg_dsn(s: &DbServer, password: &str, db: &str, tls: &str) -> String {
    format!(
        "host=127.0.0.1 port={} user=dex password={password} dbname={db}{tls}",
        s.port
    )
}

#[test]
fn bad_input_gives_one_clear_line_and_changes_nothing() {
    // Each run: exit 1, one error line saying what happened, no password anywhere, rows unchanged. One
    // server, a DSN file per case.
    let g = given(Flavour::Postgres, |s| {
        pg_dsn(s, DEX_PASSWORD, "dex", " sslmode=disable")
    });
    let s = &g.s;
    let nobody = crate::util::engine::free_port();
    let cases = [
        ("wrong password", pg_dsn(s, "not-the-password", "dex", " sslmode=disable"), "refused the password of user \"dex\""),
        ("TLS required (Dex's default) but the server has none", pg_dsn(s, DEX_PASSWORD, "dex", ""), "does not offer TLS"),
        ("sslmode=require and no TLS", pg_dsn(s, DEX_PASSWORD, "dex", " sslmode=require"), "does not offer TLS"),
        ("no such database", pg_dsn(s, DEX_PASSWORD, "nodex", " sslmode=disable"), "there is no database \"nodex\""),
        ("a database without Dex's tables", pg_dsn(s, DEX_PASSWORD, "postgres", " sslmode=disable"), "is not a Dex database this tool understands"),
        ("refused: nothing listens", format!("host=127.0.0.1 port={nobody} user=dex password={DEX_PASSWORD} dbname=dex sslmode=disable"), "the connection was refused"),
    ];
    let before = s.rows();
    for (what, dsn, expect) in cases {
        std::fs::write(g.dsn.path(), dsn).unwrap();
        for args in [
            vec!["inspect", "--output", "json"],
            vec![
                "fix",
                "--yes",
                "--live",
                "--connector",
                JC_ID,
                "--issuer",
                JUMPCLOUD_SLASH,
                "--output",
                "json",
            ],
        ] {
            let run = g.run(&args);
            assert_eq!(run.code, 1, "{what}: {run:?}");
            let err = run.json()["error"].as_str().unwrap_or_default().to_string();
            assert!(err.contains(expect), "{what}: {err}");
            assert!(err.contains("nothing was changed"), "{what}: {err}");
            assert!(
                !run.all().contains(DEX_PASSWORD) && !run.all().contains("not-the-password"),
                "{what}: a password in the output: {run:?}"
            );
            assert_eq!(s.rows(), before, "{what}");
        }
    }
}

#[test]
fn without_a_runtime_a_write_needs_live_and_says_it_was_live() {
    let g = given(Flavour::Postgres, |s| {
        pg_dsn(s, DEX_PASSWORD, "dex", " sslmode=disable")
    });
    let before = g.s.rows();
    let args = [
        "fix",
        "--yes",
        "--connector",
        JC_ID,
        "--issuer",
        JUMPCLOUD_SLASH,
        "--output",
        "json",
    ];
    let refused = g.run(&args);
    assert_eq!(refused.code, 1, "{refused:?}");
    assert!(
        refused.json()["error"].as_str().unwrap().contains("--live"),
        "{refused:?}"
    );
    assert_eq!(g.s.rows(), before);
    let mut live: Vec<&str> = args.to_vec();
    live.push("--live");
    let run = g.run(&live);
    assert_eq!(run.code, 0, "{run:?}");
    let j = run.json();
    assert_eq!(j["result"], "fixed");
    assert_eq!(j["runtime"], "none");
    assert!(
        j["notes"].to_string().contains("written live"),
        "{}",
        j["notes"]
    );
    assert_eq!(
        g.s.rows()[0].2.as_deref(),
        Some(jumpcloud_config(JUMPCLOUD_SLASH).as_bytes())
    );
    assert_eq!(g.s.rows()[0].1, "1");
}

/// The server killed between the read and the write, and inside the transaction before its commit: a
/// clear error, and once the server is back, the rows as they were.
#[test]
fn a_server_that_goes_away_mid_write_leaves_nothing_half_written() {
    for flavour in [Flavour::Postgres, Flavour::Mariadb] {
        for at in ["after-backup", "inside-write"] {
            let g = given(flavour, |s| match s.flavour {
                Flavour::Postgres => pg_dsn(s, DEX_PASSWORD, "dex", " sslmode=disable"),
                Flavour::Mariadb => format!(
                    "mysql://dex:{DEX_PASSWORD}@127.0.0.1:{}/dex?ssl-mode=DISABLED",
                    s.port
                ),
            });
            let before = g.s.rows();
            let pause = g.home.path().join("pause");
            let mut args: Vec<String> = [
                "fix",
                "--yes",
                "--live",
                "--connector",
                JC_ID,
                "--issuer",
                JUMPCLOUD_SLASH,
                "--output",
                "json",
                "-H",
                "unix:///nonexistent/ozr.sock",
                "--dsn-file",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect();
            args.push(g.dsn.path().display().to_string());
            let started = ozrepair(args)
                .env("HOME", g.home.path())
                .env("OZREPAIR_PAUSE", at)
                .env("OZREPAIR_PAUSE_FILE", &pause)
                .spawn();
            poll(
                "ozrepair to reach the pause",
                Duration::from_secs(60),
                || pause.exists().then_some(()),
            );
            g.s.kill();
            std::fs::remove_file(&pause).unwrap();
            let run = started.wait();
            assert_eq!(run.code, 1, "{flavour:?} {at}: {run:?}");
            let err = run.json()["error"].as_str().unwrap_or_default().to_string();
            assert!(!run.all().contains(DEX_PASSWORD));
            g.s.start_again();
            assert_eq!(
                g.s.rows(),
                before,
                "{flavour:?} {at}: nothing half-written ({err})"
            );
            assert!(err.contains("the backup is at"), "{flavour:?} {at}: {err}");
        }
    }
}

/// `password` and `backup` on a server store: the hash replaced in one guarded transaction and read back
/// (bcrypt as Dex checks it), the backup set holding the rows and a dump, never the server's password.
#[test]
fn password_and_backup_on_postgres() {
    let g = given(Flavour::Postgres, |s| {
        pg_dsn(s, DEX_PASSWORD, "dex", " sslmode=disable")
    });
    let old = bcrypt::hash("Old-Password-1", 10).unwrap();
    let mut c = g.s.pg();
    c.execute(
        "insert into password (email, hash, username, user_id) values ($1, $2, $3, $4)",
        &[&"alice@example.com", &old.as_bytes(), &"alice", &"u-alice"],
    )
    .unwrap();
    let pw = g.home.path().join("new-password");
    std::fs::write(&pw, "Correct-Horse-9\n").unwrap();
    let pw = pw.display().to_string();
    let run = g.run(&[
        "password",
        "--email",
        "alice@example.com",
        "--password-file",
        &pw,
        "--yes",
        "--live",
        "--output",
        "json",
    ]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        !run.all().contains(DEX_PASSWORD) && !run.all().contains("Correct-Horse-9"),
        "{run:?}"
    );
    let hash: Vec<u8> = c
        .query_one(
            "select hash from password where email = 'alice@example.com'",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(bcrypt::verify("Correct-Horse-9", std::str::from_utf8(&hash).unwrap()).unwrap());

    let b = g.run(&["backup", "--yes", "--output", "json"]);
    assert_eq!(b.code, 0, "{b:?}");
    let dir = std::path::PathBuf::from(b.json()["backup"]["dir"].as_str().unwrap());
    let names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    for want in ["rows.json", "rows.json-dump", "manifest.json"] {
        assert!(names.iter().any(|n| n == want), "{want} in {names:?}");
    }
    for f in walk(&dir) {
        assert!(
            !String::from_utf8_lossy(&std::fs::read(&f).unwrap()).contains(DEX_PASSWORD),
            "{}",
            f.display()
        );
    }
}

/// `secret` on a server store, PostgreSQL and MariaDB: the connector's clientSecret replaced in one
/// guarded transaction (only the value's bytes, Go's escaping), read back; the new secret, the old one and
/// the server's password in no output and no file of the backup set.
fn secret_on(flavour: Flavour) {
    let g = given(flavour, |s| match flavour {
        Flavour::Postgres => pg_dsn(s, DEX_PASSWORD, "dex", " sslmode=disable"),
        Flavour::Mariadb => format!("dex:{DEX_PASSWORD}@tcp(127.0.0.1:{})/dex?tls=false", s.port),
    });
    let before = g.s.rows();
    let new = "srv-new-secret-<7c1e&9a0d>";
    let file = g.home.path().join("new-secret");
    std::fs::write(&file, format!("{new}\n")).unwrap();
    let file = file.display().to_string();
    let run = g.run(&[
        "secret",
        "--connector",
        JC_ID,
        "--secret-file",
        &file,
        "--yes",
        "--live",
        "--output",
        "json",
    ]);
    assert_eq!(run.code, 0, "{run:?}");
    let j = run.json();
    assert_eq!(j["result"], "unverified", "{j}");
    assert_eq!(j["secret_change"]["applied"], true, "{j}");
    for s in [DEX_PASSWORD, new, SECRET] {
        assert!(!run.all().contains(s), "{run:?}");
    }
    let after = g.s.rows();
    let was = before.iter().find(|r| r.0 == JC_ID).unwrap();
    let now = after.iter().find(|r| r.0 == JC_ID).unwrap();
    let expected = String::from_utf8(was.2.clone().unwrap()).unwrap().replace(
        &format!("\"clientSecret\":\"{SECRET}\""),
        "\"clientSecret\":\"srv-new-secret-\\u003c7c1e\\u00269a0d\\u003e\"",
    );
    assert_eq!(String::from_utf8(now.2.clone().unwrap()).unwrap(), expected);
    let others = |rows: &ozrepair_standin::dbseed::Rows| {
        rows.iter()
            .filter(|r| r.0 != JC_ID)
            .cloned()
            .collect::<Vec<_>>()
    };
    assert_eq!(others(&after), others(&before));
    let dir = std::path::PathBuf::from(j["backup"]["dir"].as_str().unwrap());
    for f in walk(&dir) {
        let text = String::from_utf8_lossy(&std::fs::read(&f).unwrap()).into_owned();
        for s in [DEX_PASSWORD, new] {
            assert!(!text.contains(s), "{} holds a secret", f.display());
        }
    }
}

#[test]
fn secret_on_postgres() {
    secret_on(Flavour::Postgres);
}

#[test]
fn secret_on_mariadb() {
    secret_on(Flavour::Mariadb);
}

/// `domain` on a server store, PostgreSQL and MariaDB: the old host learned from the one host every
/// redirectURI names, the row's redirectURI moved in one guarded transaction, only the host's bytes.
fn domain_on(flavour: Flavour) {
    let g = given(flavour, |s| match flavour {
        Flavour::Postgres => pg_dsn(s, DEX_PASSWORD, "dex", " sslmode=disable"),
        Flavour::Mariadb => format!("dex:{DEX_PASSWORD}@tcp(127.0.0.1:{})/dex?tls=false", s.port),
    });
    let before = g.s.rows();
    let dry = g.run(&["domain", "--to", "vpn2.example.net", "--output", "json"]);
    assert_eq!(dry.code, 3, "{dry:?}");
    assert_eq!(g.s.rows(), before);
    let run = g.run(&[
        "domain",
        "--to",
        "vpn2.example.net",
        "--apply",
        "--yes",
        "--live",
        "--output",
        "json",
    ]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.json()["result"], "fixed", "{run:?}");
    let now = g.s.rows();
    let was = before.iter().find(|r| r.0 == JC_ID).unwrap();
    let jc = now.iter().find(|r| r.0 == JC_ID).unwrap();
    assert_eq!(
        String::from_utf8(jc.2.clone().unwrap()).unwrap(),
        String::from_utf8(was.2.clone().unwrap())
            .unwrap()
            .replace("//openzro.example.com/", "//vpn2.example.net/")
    );
    assert!(!run.all().contains(DEX_PASSWORD) && !run.all().contains(SECRET));
}

#[test]
fn domain_on_postgres() {
    domain_on(Flavour::Postgres);
}

#[test]
fn domain_on_mariadb() {
    domain_on(Flavour::Mariadb);
}
