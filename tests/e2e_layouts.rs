//! End to end, against a real Docker engine: every deployment shape in the field is found and fixed with
//! no flags (NetBird embedded IdP, the combined server, compose-named containers, Dex as its own container
//! in NetBird's and openZro's layouts, a Dex config naming its own file), in every log format (logrus text
//! and JSON, Dex JSON, Dex's fatal stderr) and both failure behaviours (crash loop, keep running); the
//! ambiguous case is refused; static connectors are not edited; --issuer-alias, --discover and --set.

mod common;
use common::*;
use std::os::unix::fs::MetadataExt;

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

/// Creates the layout with a broken JumpCloud connector, runs the stand-in as told, lets ozrepair fix it
/// with no flags, and checks the container stays up, only the issuer changed, owner and mode are kept.
#[allow(clippy::too_many_arguments)]
fn fixed_with_no_flags(
    l: &Layout,
    level: usize,
    owner: (u32, u32),
    mode: u32,
    env: &[(&str, &str)],
    extra: &[&str],
    keeps_running: bool,
) {
    let e = Engine::start();
    let d = Deployment::create(
        &e,
        l,
        level,
        &[local_row(), jumpcloud_row(JUMPCLOUD)],
        owner,
        mode,
    );
    let mut env = env.to_vec();
    env.push(("STANDIN_PUBLISHED", JUMPCLOUD_SLASH));
    d.run_with(&e, l, &env, extra);
    if keeps_running {
        d.wait_ready(&e);
    } else {
        d.wait_restarts(&e, 2);
    }
    let inspect = e.ozrepair(&["inspect", "--output", "json"]);
    assert_eq!(inspect.code, 3, "{inspect:?}");
    assert_eq!(inspect.json()["container"]["name"], l.container);

    let run = e.ozrepair(&["fix", "--yes", "--output", "json"]);
    assert_eq!(run.code, 0, "{run:?}");
    let j = run.json();
    assert_eq!(j["result"], "fixed", "{run:?}");
    assert_eq!(j["container"]["name"], l.container);
    assert_eq!(j["database"]["volume"], l.volume);
    assert_eq!(j["changes"][0]["to"], JUMPCLOUD_SLASH);
    assert_eq!(j["changes"][0]["source"], "logs");
    assert_eq!(j["database"]["dex_migrations"], level as i64);

    let after = rows(&d.db);
    assert_eq!(after[1].1, "blob");
    assert_eq!(
        String::from_utf8(after[1].2.clone()).unwrap(),
        jumpcloud_config(JUMPCLOUD_SLASH)
    );
    let m = std::fs::metadata(&d.db).unwrap();
    assert_eq!(
        (m.uid(), m.gid(), m.mode() & 0o7777),
        (owner.0, owner.1, mode),
        "owner and mode kept"
    );
    let (status, _, _) = d.state(&e);
    assert_eq!(status, "running");
    // A second run agrees that nothing is left to do.
    let again = e.ozrepair(&["inspect", "--output", "json"]);
    assert_eq!(again.code, 0, "{again:?}");
}

#[test]
fn netbird_v062_embedded_idp_text_fatal() {
    fixed_with_no_flags(&NETBIRD_062, 11, (0, 0), 0o644, &[], &[], false);
}

#[test]
fn netbird_combined_server_keeps_running_with_erro_lines_in_milliseconds() {
    fixed_with_no_flags(
        &NETBIRD_COMBINED,
        21,
        (0, 0),
        0o644,
        &[("STANDIN_ON_FAILURE", "continue"), ("STANDIN_MILLIS", "1")],
        &[],
        true,
    );
}

#[test]
fn compose_named_management_with_logrus_json() {
    let labels = [
        "--label",
        "com.docker.compose.project=artifacts",
        "--label",
        "com.docker.compose.service=management",
    ];
    fixed_with_no_flags(
        &COMPOSE_MGMT,
        11,
        (0, 0),
        0o644,
        &[("STANDIN_FORMAT", "json")],
        &labels,
        false,
    );
}

#[test]
fn netbird_dex_container_fatal_on_stderr_owned_by_1001() {
    fixed_with_no_flags(
        &NETBIRD_DEX,
        11,
        (1001, 1001),
        0o600,
        &[("STANDIN_FORMAT", "dex-json")],
        &["--user", "1001:1001"],
        false,
    );
}

#[test]
fn openzro_dex_container_keeps_running_with_json_errors() {
    let extra = [
        "--user",
        "1001:1001",
        "--label",
        "com.docker.compose.service=dex",
    ];
    let env = [
        ("STANDIN_FORMAT", "dex-json"),
        ("STANDIN_ON_FAILURE", "continue"),
    ];
    fixed_with_no_flags(&OPENZRO_DEX, 13, (1001, 1001), 0o600, &env, &extra, true);
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
    let d = Deployment::create(&e, &l, 13, &[jumpcloud_row(JUMPCLOUD)], (1001, 1001), 0o600);
    let cfg = tempfile::tempdir().unwrap();
    let yaml = cfg.path().join("config.yaml");
    std::fs::write(&yaml, "issuer: https://vpn.example.com/dex\nstorage:\n  type: sqlite3\n  config:\n    file: /data/storage.sqlite\n").unwrap();
    let bind = format!("{}:/etc/dex/config.yaml:ro", yaml.display());
    d.run_with(
        &e,
        &l,
        &[
            ("STANDIN_PUBLISHED", JUMPCLOUD_SLASH),
            ("STANDIN_FORMAT", "dex-json"),
        ],
        &["--user", "1001:1001", "-v", &bind],
    );
    d.wait_restarts(&e, 1);
    let run = e.ozrepair(&["fix", "--yes", "--output", "json"]);
    assert_eq!(run.code, 0, "{run:?}");
    let j = run.json();
    assert!(
        j["located"]
            .to_string()
            .contains("storage.config.file /data/storage.sqlite"),
        "{j}"
    );
    assert_eq!(
        String::from_utf8(rows(&d.db)[0].2.clone()).unwrap(),
        jumpcloud_config(JUMPCLOUD_SLASH)
    );
}

#[test]
fn two_failing_deployments_are_refused_and_both_named() {
    let e = Engine::start();
    let a = Deployment::create(&e, &OPENZRO, 11, &[jumpcloud_row(JUMPCLOUD)], (0, 0), 0o644);
    a.run(&e, &OPENZRO, &[("STANDIN_PUBLISHED", JUMPCLOUD_SLASH)]);
    let b = Deployment::create(
        &e,
        &NETBIRD_062,
        11,
        &[jumpcloud_row(JUMPCLOUD)],
        (0, 0),
        0o644,
    );
    b.run(&e, &NETBIRD_062, &[("STANDIN_PUBLISHED", JUMPCLOUD_SLASH)]);
    a.wait_restarts(&e, 1);
    b.wait_restarts(&e, 1);
    let (fa, fb) = (snapshot(&a.mountpoint), snapshot(&b.mountpoint));
    let run = e.ozrepair(&["fix", "--yes"]);
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
    let one = e.ozrepair(&[
        "fix",
        "--yes",
        "--container",
        "netbird-management",
        "--output",
        "json",
    ]);
    assert_eq!(one.code, 0, "{one:?}");
    assert_eq!(
        snapshot(&a.mountpoint),
        fa_again,
        "naming the other deployment leaves this one alone"
    );
    assert_eq!(
        String::from_utf8(rows(&a.db)[0].2.clone()).unwrap(),
        jumpcloud_config(JUMPCLOUD),
        "the other is untouched"
    );
}

#[test]
fn the_failing_deployment_is_chosen_over_a_healthy_one_and_the_report_says_why() {
    let e = Engine::start();
    let healthy = Deployment::create(
        &e,
        &NETBIRD_062,
        11,
        &[jumpcloud_row(JUMPCLOUD_SLASH)],
        (0, 0),
        0o644,
    );
    healthy.run(&e, &NETBIRD_062, &[("STANDIN_PUBLISHED", JUMPCLOUD_SLASH)]);
    healthy.wait_ready(&e);
    let broken = Deployment::create(&e, &OPENZRO, 11, &[jumpcloud_row(JUMPCLOUD)], (0, 0), 0o644);
    broken.run(&e, &OPENZRO, &[("STANDIN_PUBLISHED", JUMPCLOUD_SLASH)]);
    broken.wait_restarts(&e, 1);
    let files = snapshot(&healthy.mountpoint);
    let run = e.ozrepair(&["fix", "--yes", "--output", "json"]);
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
fn a_static_connector_is_not_edited_and_the_file_to_change_is_named() {
    let e = Engine::start();
    let d = Deployment::create(
        &e,
        &NETBIRD_062,
        11,
        &[local_row(), jumpcloud_row(JUMPCLOUD)],
        (0, 0),
        0o644,
    );
    let cfg = tempfile::tempdir().unwrap();
    let mgmt = serde_json::json!({"EmbeddedIdP": {"Enabled": true, "StaticConnectors": [
        {"id": JC_ID, "type": "oidc", "name": "JumpCloud", "config": {"issuer": JUMPCLOUD}}]}});
    std::fs::write(cfg.path().join("management.json"), mgmt.to_string()).unwrap();
    let bind = format!("{}:/etc/netbird", cfg.path().display());
    d.run_with(
        &e,
        &NETBIRD_062,
        &[("STANDIN_PUBLISHED", JUMPCLOUD_SLASH)],
        &["-v", &bind],
    );
    d.wait_restarts(&e, 1);
    let files = snapshot(&d.mountpoint);
    let run = e.ozrepair(&["fix", "--yes", "--output", "json"]);
    assert_eq!(run.code, 1, "{run:?}");
    let j = run.json();
    assert_eq!(j["changes"], serde_json::json!([]));
    let notes = j["notes"].to_string();
    assert!(
        notes.contains("static connector") && notes.contains("management.json"),
        "{j}"
    );
    assert_eq!(snapshot(&d.mountpoint), files);
}

#[test]
fn issuer_alias_leaves_the_issuer_and_adds_the_alias() {
    let e = Engine::start();
    let d = Deployment::create(
        &e,
        &OPENZRO,
        11,
        &[local_row(), jumpcloud_row(JUMPCLOUD)],
        (0, 0),
        0o644,
    );
    d.run(&e, &OPENZRO, &[("STANDIN_PUBLISHED", JUMPCLOUD_SLASH)]);
    d.wait_restarts(&e, 1);
    let run = e.ozrepair(&["fix", "--yes", "--issuer-alias", "--output", "json"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.json()["changes"][0]["field"], "issuerAlias");
    let cfg = String::from_utf8(rows(&d.db)[1].2.clone()).unwrap();
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
    let issuer = format!("{}/application/o/netbird", idp.base);
    idp.publish("/application/o/netbird", &issuer);
    let cfg = format!(
        r#"{{"clientID":"nb","clientSecret":"{SECRET}","issuer":"{issuer}","redirectURI":"https://vpn/oauth2/callback"}}"#
    );
    let rows_in = [
        local_row(),
        Row {
            id: "authentik-1",
            typ: "oidc",
            name: "Authentik",
            rv: "3",
            config: Some(cfg),
        },
    ];
    let d = Deployment::create(&e, &OPENZRO, 13, &rows_in, (0, 0), 0o644);
    d.run(&e, &OPENZRO, &[("STANDIN_PUBLISHED", &issuer)]);
    d.wait_ready(&e);
    let ok = e.ozrepair(&["inspect", "--discover", "--output", "json"]);
    assert_eq!(ok.code, 0, "{ok:?}");
    assert_eq!(ok.json()["connectors"][1]["status"], "ok");

    // The provider changes what it publishes: the next check says so before any restart locks people out.
    let with_slash = format!("{issuer}/");
    idp.publish("/application/o/netbird", &with_slash);
    let files = snapshot(&d.mountpoint);
    let changed = e.ozrepair(&["inspect", "--discover", "--output", "json"]);
    assert_eq!(changed.code, 3, "{changed:?}");
    let j = changed.json();
    assert_eq!(j["changes"][0]["source"], "discovery");
    assert_eq!(j["changes"][0]["to"], with_slash.as_str());
    assert_eq!(snapshot(&d.mountpoint), files);

    // A discovery failure is a one-line note, not a guess.
    idp.publish("/application/o/netbird", "");
    idp.issuers.lock().unwrap().clear();
    let gone = e.ozrepair(&["inspect", "--discover", "--output", "json"]);
    assert_eq!(gone.json()["changes"], serde_json::json!([]), "{gone:?}");
    assert!(gone.json()["notes"].to_string().contains("404"), "{gone:?}");
}

#[test]
fn fix_discover_and_set_on_a_database_file() {
    let idp = Discovery::start();
    let issuer = format!("{}/realms/corp/", idp.base);
    idp.publish("/realms/corp", issuer.trim_end_matches('/'));
    let cfg = format!(
        r#"{{"clientID":"kc","clientSecret":"{SECRET}","issuer":"{issuer}","redirectURI":"https://old.example.com/oauth2/callback"}}"#
    );
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("idp.db");
    seed_db(
        &db,
        11,
        &[Row {
            id: "keycloak-1",
            typ: "oidc",
            name: "Keycloak",
            rv: "",
            config: Some(cfg.clone()),
        }],
        (0, 0),
        0o640,
    );
    let run = |args: &[&str]| ozrepair_local(args, &[]);
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
    assert_eq!(String::from_utf8(rows(&db)[0].2.clone()).unwrap(), want);
    assert!(!fix.all().contains(SECRET));
}
