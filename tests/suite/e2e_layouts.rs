//! End to end, against a real Docker engine: every deployment shape in the field is found and fixed with
//! no flags (NetBird embedded IdP, the combined server, compose-named containers, Dex as its own container
//! in NetBird's and openZro's layouts, a Dex config naming its own file), in every log format (logrus text
//! and JSON, Dex JSON, Dex's fatal stderr) and both failure behaviours (crash loop, keep running); the
//! ambiguous case is refused; static connectors are not edited; --issuer-alias, --discover and --set.

use crate::util::command::ozrepair;
use crate::util::deploy::{Deployment, Layout, OPENZRO};
use crate::util::engine::Engine;
use crate::util::http::Discovery;
use crate::util::poll;
use crate::util::seed::{
    jumpcloud_config, rows, Connector, DexDb, JUMPCLOUD, JUMPCLOUD_SLASH, SECRET,
};
use crate::util::snapshot::snapshot;
use std::os::unix::fs::MetadataExt;
use std::time::Duration;

const NETBIRD_062: Layout = Layout {
    container: "netbird-management",
    volume: "root_netbird_management",
    mount: "/var/lib/netbird",
    db_name: "idp.db",
};
const NETBIRD_COMBINED: Layout = Layout {
    container: "netbird-server",
    volume: "netbird_netbird_data",
    mount: "/var/lib/netbird",
    db_name: "idp.db",
};
const COMPOSE_MGMT: Layout = Layout {
    container: "artifacts-management-1",
    volume: "artifacts_openzro-mgmt",
    mount: "/var/lib/openzro",
    db_name: "idp.db",
};
const NETBIRD_DEX: Layout = Layout {
    container: "netbird-dex",
    volume: "netbird_dex_data",
    mount: "/var/dex",
    db_name: "dex.db",
};
const OPENZRO_DEX: Layout = Layout {
    container: "artifacts-dex-1",
    volume: "openzro-dex",
    mount: "/var/lib/dex",
    db_name: "dex.db",
};

/// A deployment shape to fix with no flags: where its database lives, the database (the locked-out
/// connectors at some migration level, owner and mode), how the stand-in runs (STANDIN_* settings, more
/// `docker run` arguments) and whether it keeps running on the broken connector or crash-loops.
struct Shape<'a> {
    layout: &'a Layout,
    db: DexDb,
    env: &'a [(&'a str, &'a str)],
    extra: &'a [&'a str],
    keeps_running: bool,
}

/// Creates the shape with its broken JumpCloud connector, runs the stand-in as told, lets ozrepair fix it
/// with no flags, and checks the container stays up, only the issuer changed, owner and mode are kept.
fn fixed_with_no_flags(e: Engine, shape: Shape) {
    let Shape {
        layout: l,
        db,
        env,
        extra,
        keeps_running,
    } = shape;
    let d = Deployment::create(&e, l, &db);
    let mut env = env.to_vec();
    env.push(("STANDIN_PUBLISHED", JUMPCLOUD_SLASH));
    d.run_with(&e, &env, extra);
    if keeps_running {
        d.wait_ready(&e);
    } else {
        d.wait_restarts(&e, 2);
    }
    let inspect = ozrepair(["inspect", "--output", "json"]).on(&e).run();
    assert_eq!(inspect.code, 3, "{inspect:?}");
    assert_eq!(inspect.json()["container"]["name"], l.container);

    let run = ozrepair(["fix", "--yes", "--output", "json"]).on(&e).run();
    assert_eq!(run.code, 0, "{run:?}");
    let j = run.json();
    assert_eq!(j["result"], "fixed", "{run:?}");
    assert_eq!(j["container"]["name"], l.container);
    assert_eq!(j["database"]["volume"], l.volume);
    assert_eq!(j["changes"][0]["to"], JUMPCLOUD_SLASH);
    assert_eq!(j["changes"][0]["source"], "logs");
    assert_eq!(j["database"]["dex_migrations"], db.level as i64);

    let after = rows(&d.db);
    assert_eq!(after[1].storage, "blob");
    assert_eq!(after[1].config_text(), jumpcloud_config(JUMPCLOUD_SLASH));
    let m = std::fs::metadata(&d.db).unwrap();
    assert_eq!(
        (m.uid(), m.gid(), m.mode() & 0o7777),
        (db.uid, db.gid, db.mode),
        "owner and mode kept"
    );
    assert_eq!(d.state(&e).status, "running");
    // A second run agrees that nothing is left to do.
    let again = ozrepair(["inspect", "--output", "json"]).on(&e).run();
    assert_eq!(again.code, 0, "{again:?}");
}

#[test]
fn netbird_v062_embedded_idp_text_fatal() {
    fixed_with_no_flags(
        Engine::start(),
        Shape {
            layout: &NETBIRD_062,
            db: DexDb::locked_out(),
            env: &[],
            extra: &[],
            keeps_running: false,
        },
    );
}

#[test]
fn netbird_combined_server_keeps_running_with_erro_lines_in_milliseconds() {
    fixed_with_no_flags(
        Engine::start(),
        Shape {
            layout: &NETBIRD_COMBINED,
            db: DexDb::locked_out().level(21),
            env: &[("STANDIN_ON_FAILURE", "continue"), ("STANDIN_MILLIS", "1")],
            extra: &[],
            keeps_running: true,
        },
    );
}

#[test]
fn compose_named_management_with_logrus_json() {
    fixed_with_no_flags(
        Engine::start(),
        Shape {
            layout: &COMPOSE_MGMT,
            db: DexDb::locked_out(),
            env: &[("STANDIN_FORMAT", "json")],
            extra: &[
                "--label",
                "com.docker.compose.project=artifacts",
                "--label",
                "com.docker.compose.service=management",
            ],
            keeps_running: false,
        },
    );
}

on_both_engines!(netbird_dex_container_fatal_on_stderr_owned_by_1001, |e| {
    fixed_with_no_flags(
        e,
        Shape {
            layout: &NETBIRD_DEX,
            db: DexDb::locked_out().owner(1001, 1001).mode(0o600),
            env: &[("STANDIN_FORMAT", "dex-json")],
            extra: &["--user", "1001:1001"],
            keeps_running: false,
        },
    );
});

#[test]
fn openzro_dex_container_keeps_running_with_json_errors() {
    fixed_with_no_flags(
        Engine::start(),
        Shape {
            layout: &OPENZRO_DEX,
            db: DexDb::locked_out().level(13).owner(1001, 1001).mode(0o600),
            env: &[
                ("STANDIN_FORMAT", "dex-json"),
                ("STANDIN_ON_FAILURE", "continue"),
            ],
            extra: &[
                "--user",
                "1001:1001",
                "--label",
                "com.docker.compose.service=dex",
            ],
            keeps_running: true,
        },
    );
}

#[test]
fn a_dex_config_names_a_database_with_another_name() {
    let e = Engine::start();
    let l = Layout {
        container: "dex",
        volume: "dexdata",
        mount: "/data",
        db_name: "storage.sqlite",
    };
    let db = DexDb::new(13)
        .connectors([Connector::jumpcloud(JUMPCLOUD)])
        .owner(1001, 1001)
        .mode(0o600);
    let d = Deployment::create(&e, &l, &db);
    let cfg = tempfile::tempdir().unwrap();
    let yaml = cfg.path().join("config.yaml");
    std::fs::write(&yaml, "issuer: https://vpn.example.com/dex\nstorage:\n  type: sqlite3\n  config:\n    file: /data/storage.sqlite\n").unwrap();
    let bind = format!("{}:/etc/dex/config.yaml:ro", yaml.display());
    d.run_with(
        &e,
        &[
            ("STANDIN_PUBLISHED", JUMPCLOUD_SLASH),
            ("STANDIN_FORMAT", "dex-json"),
        ],
        &["--user", "1001:1001", "-v", &bind],
    );
    d.wait_restarts(&e, 1);
    let run = ozrepair(["fix", "--yes", "--output", "json"]).on(&e).run();
    assert_eq!(run.code, 0, "{run:?}");
    let j = run.json();
    assert!(
        j["located"]
            .to_string()
            .contains("storage.config.file /data/storage.sqlite"),
        "{j}"
    );
    assert_eq!(
        rows(&d.db)[0].config_text(),
        jumpcloud_config(JUMPCLOUD_SLASH)
    );
}

on_both_engines!(two_failing_deployments_are_refused_and_both_named, |e| {
    let broken = DexDb::new(11).connectors([Connector::jumpcloud(JUMPCLOUD)]);
    let a = Deployment::create(&e, &OPENZRO, &broken);
    a.run(&e, &[("STANDIN_PUBLISHED", JUMPCLOUD_SLASH)]);
    let b = Deployment::create(&e, &NETBIRD_062, &broken);
    b.run(&e, &[("STANDIN_PUBLISHED", JUMPCLOUD_SLASH)]);
    a.wait_restarts(&e, 1);
    b.wait_restarts(&e, 1);
    let (fa, fb) = (snapshot(&a.mountpoint), snapshot(&b.mountpoint));
    let run = ozrepair(["fix", "--yes"]).on(&e).run();
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr.contains("--container openzro-management"),
        "{run:?}"
    );
    assert!(
        run.stderr.contains("--container netbird-management"),
        "{run:?}"
    );
    assert!(run.stderr.contains("nothing was changed"), "{run:?}");
    let fa_again = fa.clone();
    assert_eq!((snapshot(&a.mountpoint), snapshot(&b.mountpoint)), (fa, fb));
    // Naming one settles it.
    let one = ozrepair([
        "fix",
        "--yes",
        "--container",
        "netbird-management",
        "--output",
        "json",
    ])
    .on(&e)
    .run();
    assert_eq!(one.code, 0, "{one:?}");
    assert_eq!(
        snapshot(&a.mountpoint),
        fa_again,
        "naming the other deployment leaves this one alone"
    );
    assert_eq!(
        rows(&a.db)[0].config_text(),
        jumpcloud_config(JUMPCLOUD),
        "the other is untouched"
    );
});

#[test]
fn the_failing_deployment_is_chosen_over_a_healthy_one_and_the_report_says_why() {
    let e = Engine::start();
    let healthy = Deployment::create(
        &e,
        &NETBIRD_062,
        &DexDb::new(11).connectors([Connector::jumpcloud(JUMPCLOUD_SLASH)]),
    );
    healthy.run(&e, &[("STANDIN_PUBLISHED", JUMPCLOUD_SLASH)]);
    healthy.wait_ready(&e);
    let broken = Deployment::create(
        &e,
        &OPENZRO,
        &DexDb::new(11).connectors([Connector::jumpcloud(JUMPCLOUD)]),
    );
    broken.run(&e, &[("STANDIN_PUBLISHED", JUMPCLOUD_SLASH)]);
    broken.wait_restarts(&e, 1);
    let files = snapshot(&healthy.mountpoint);
    let run = ozrepair(["fix", "--yes", "--output", "json"]).on(&e).run();
    assert_eq!(run.code, 0, "{run:?}");
    let j = run.json();
    assert_eq!(j["container"]["name"], "openzro-management");
    assert!(
        j["located"]
            .to_string()
            .contains("its logs report a failing connector"),
        "{j}"
    );
    assert_eq!(snapshot(&healthy.mountpoint), files);
}

#[test]
fn issuer_alias_leaves_the_issuer_and_adds_the_alias() {
    let e = Engine::start();
    let d = Deployment::create(&e, &OPENZRO, &DexDb::locked_out());
    d.run(&e, &[("STANDIN_PUBLISHED", JUMPCLOUD_SLASH)]);
    d.wait_restarts(&e, 1);
    let run = ozrepair(["fix", "--yes", "--issuer-alias", "--output", "json"])
        .on(&e)
        .run();
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.json()["changes"][0]["field"], "issuerAlias");
    let cfg = rows(&d.db)[1].config_text();
    let expected = jumpcloud_config(JUMPCLOUD).replace(
        &format!(r#""issuer":"{JUMPCLOUD}""#),
        &format!(r#""issuer":"{JUMPCLOUD}","issuerAlias":"{JUMPCLOUD_SLASH}""#),
    );
    assert_eq!(cfg, expected);
}

#[test]
fn inspect_discover_is_a_monitoring_check_for_a_running_deployment() {
    let e = Engine::start();
    let idp = Discovery::start();
    let issuer = format!("{}/application/o/netbird", idp.base());
    idp.publish("/application/o/netbird", &issuer);
    let cfg = format!(
        r#"{{"clientID":"nb","clientSecret":"{SECRET}","issuer":"{issuer}","redirectURI":"https://vpn/oauth2/callback"}}"#
    );
    let db = DexDb::new(13).connectors([
        Connector::local(),
        Connector::oidc("authentik-1", "Authentik", "3", cfg),
    ]);
    let d = Deployment::create(&e, &OPENZRO, &db);
    d.run(&e, &[("STANDIN_PUBLISHED", &issuer)]);
    d.wait_ready(&e);
    let ok = ozrepair(["inspect", "--discover", "--output", "json"])
        .on(&e)
        .run();
    assert_eq!(ok.code, 0, "{ok:?}");
    assert_eq!(ok.json()["connectors"][1]["status"], "ok");
    let ok_nagios = ozrepair(["inspect", "--discover", "--output", "nagios"])
        .on(&e)
        .run();
    assert_eq!(ok_nagios.code, 0, "OK: {ok_nagios:?}");
    assert_eq!(
        ok_nagios.stdout.lines().next(),
        Some("OZREPAIR OK - 2 connector(s) ok, container openzro-management running | connectors=2;;;0 mismatch=0;;;0 unknown=0;;;0 changes=0;;;0 login_failures=0;;;0")
    );

    // The provider changes what it publishes: the next check says so before any restart locks people out.
    let with_slash = format!("{issuer}/");
    idp.publish("/application/o/netbird", &with_slash);
    let files = snapshot(&d.mountpoint);
    let changed = ozrepair(["inspect", "--discover", "--output", "json"])
        .on(&e)
        .run();
    assert_eq!(changed.code, 3, "{changed:?}");
    let j = changed.json();
    assert_eq!(j["changes"][0]["source"], "discovery");
    assert_eq!(j["changes"][0]["to"], with_slash.as_str());
    assert_eq!(snapshot(&d.mountpoint), files);

    // A discovery failure is a one-line note, not a guess.
    idp.withdraw_all();
    let gone = ozrepair(["inspect", "--discover", "--output", "json"])
        .on(&e)
        .run();
    assert_eq!(gone.json()["changes"], serde_json::json!([]), "{gone:?}");
    assert!(gone.json()["notes"].to_string().contains("404"), "{gone:?}");
    // ... and a check that could not be made is not OK: the stored issuer is unchecked.
    assert_eq!(gone.code, 1, "{gone:?}");
    assert_eq!(gone.json()["result"], "failed");
    assert_eq!(gone.json()["discovery"][0]["connector"], "authentik-1");
    assert!(gone.json()["discovery"][0]["error"].is_string(), "{gone:?}");

    // The monitoring formats say the same, line for line.
    let nagios = ozrepair(["inspect", "--discover", "--output", "nagios"])
        .on(&e)
        .run();
    assert_eq!(nagios.code, 3, "UNKNOWN: {nagios:?}");
    let status = nagios.stdout.lines().next().unwrap_or_default();
    assert!(
        status.starts_with("OZREPAIR UNKNOWN - connector authentik-1: "),
        "{status}"
    );
    assert!(
        status.ends_with(
            " | connectors=2;;;0 mismatch=0;;;0 unknown=1;;;0 changes=0;;;0 login_failures=0;;;0"
        ),
        "{status}"
    );
    assert_eq!(
        nagios.stdout.lines().nth(2),
        Some(format!("authentik-1 oidc unknown {issuer}").as_str())
    );
    let prom = ozrepair(["inspect", "--discover", "--output", "prometheus"])
        .on(&e)
        .run();
    assert_eq!(prom.code, 1, "{prom:?}");
    for line in [
        "ozrepair_connector_status{connector=\"authentik-1\",type=\"oidc\",status=\"unknown\"} 1",
        "ozrepair_connector_status{connector=\"authentik-1\",type=\"oidc\",status=\"ok\"} 0",
        "ozrepair_discovery_success{connector=\"authentik-1\"} 0",
        "ozrepair_check_result{result=\"failed\"} 1",
        "ozrepair_exit_code 1",
    ] {
        assert!(
            prom.stdout.lines().any(|l| l == line),
            "{line} in\n{}",
            prom.stdout
        );
    }
    idp.publish("/application/o/netbird", &with_slash);
    let critical = ozrepair(["inspect", "--discover", "--output", "nagios"])
        .on(&e)
        .run();
    assert_eq!(critical.code, 2, "CRITICAL: {critical:?}");
    assert!(
        critical.stdout.starts_with(&format!(
            "OZREPAIR CRITICAL - 1 connector(s) mismatch: authentik-1 stores {issuer:?}, the provider publishes {with_slash:?} | "
        )),
        "{critical:?}"
    );
}

#[test]
fn fix_discover_and_set_on_a_database_file() {
    let idp = Discovery::start();
    let issuer = format!("{}/realms/corp/", idp.base());
    idp.publish("/realms/corp", issuer.trim_end_matches('/'));
    let cfg = format!(
        r#"{{"clientID":"kc","clientSecret":"{SECRET}","issuer":"{issuer}","redirectURI":"https://old.example.com/oauth2/callback"}}"#
    );
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("idp.db");
    DexDb::new(11)
        .connectors([Connector::oidc("keycloak-1", "Keycloak", "", cfg.clone())])
        .mode(0o640)
        .write(&db);
    let run = |args: &[&str]| ozrepair(args).run();
    let dbs = db.to_str().unwrap();
    let secret = run(&[
        "--db",
        dbs,
        "fix",
        "--set",
        "keycloak-1.clientSecret=x",
        "--yes",
    ]);
    assert_eq!(secret.code, 2, "{secret:?}");
    let fix = run(&[
        "--db",
        dbs,
        "fix",
        "--discover",
        "--set",
        "keycloak-1.redirectURI=https://new.example.com/oauth2/callback",
        "--yes",
        "--output",
        "json",
    ]);
    assert_eq!(fix.code, 0, "{fix:?}");
    let j = fix.json();
    assert_eq!(j["changes"].as_array().map(|a| a.len()), Some(2), "{j}");
    let want = cfg.replace(&issuer, issuer.trim_end_matches('/')).replace(
        "https://old.example.com/oauth2/callback",
        "https://new.example.com/oauth2/callback",
    );
    assert_eq!(rows(&db)[0].config_text(), want);
    assert!(!fix.all().contains(SECRET));
}

/// Podman 4.3 joins a partial log record to the line before it when asked for a tail (libpod's
/// `getTailLog`): Dex's whole `loading` line, then its `listening on` line written apart from its newline,
/// read back as one line `{…loading…}{…listening on…}` and an empty one. ozrepair never asks Podman for a
/// tail, so the running Dex is seen serving: healthy, not unchecked. The engine's own tail shows the join
/// first, so that the test cannot pass without the condition it is about.
#[test]
fn podman_a_ready_line_written_apart_from_its_newline_is_seen() {
    let e = Engine::podman();
    let db = DexDb::new(11).connectors([Connector::local(), Connector::jumpcloud(JUMPCLOUD_SLASH)]);
    let d = Deployment::create(&e, &NETBIRD_DEX, &db);
    d.run_with(
        &e,
        &[
            ("STANDIN_FORMAT", "dex-json"),
            ("STANDIN_PUBLISHED", JUMPCLOUD_SLASH),
            ("STANDIN_SPLIT_LINE", "listening on"),
        ],
        &[],
    );
    poll(
        "the ready line and its newline in the log",
        Duration::from_secs(60),
        || {
            let logs = e.docker(&["logs", NETBIRD_DEX.container]);
            logs.stderr_text()
                .contains("\"0.0.0.0:5556\"}\n")
                .then_some(())
        },
    );
    let tail = e.docker(&["logs", "--tail", "5", NETBIRD_DEX.container]);
    assert!(
        tail.stderr_text().contains("}{"),
        "Podman's tail joins the partial ready line to the loading line: {}",
        tail.stderr_text()
    );
    let r = ozrepair(["inspect", "--output", "json"]).on(&e).run();
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.json()["connectors"][1]["status"], "ok", "{r:?}");
}
