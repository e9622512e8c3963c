//! End to end: connectors that live in config files. NetBird's management.json `EmbeddedIdP.
//! StaticConnectors` are written into idp.db at every start, overwriting the row's Name and Config, before
//! Dex opens any connector (the stand-in does exactly that with `STANDIN_CONFIG`): a database edit alone
//! is undone by the next start and the container keeps failing. `fix --yes` with no flags must correct the
//! file (only the issuer's bytes, owner and mode kept, a copy in the backup) and the row in one run, and
//! the container must stay up.

use crate::util::command::ozrepair;
use crate::util::configs::{host_dir, management_json, with_management_json, write_config};
use crate::util::deploy::{Deployment, State, OPENZRO};
use crate::util::engine::{events_mark, Engine};
use crate::util::hash::sha256_hex;
use crate::util::http::Discovery;
use crate::util::seed::{rows, DexDb, JC_ID, JUMPCLOUD, JUMPCLOUD_SLASH, SECRET};
use crate::util::snapshot::snapshot;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// The issuer the database row holds now.
fn row_issuer(db: &Path) -> String {
    let r = rows(db);
    let jc = r.iter().find(|r| r.id == JC_ID).expect("the JumpCloud row");
    let v: serde_json::Value = serde_json::from_str(&jc.config_text()).expect("row config JSON");
    v["issuer"].as_str().expect("issuer").to_string()
}

/// Runs `fix --yes` with no flags on a deployment whose management.json (at `file` on the host) holds the
/// failing static connector, and checks every promise.
fn fixes_the_static_connector(e: &Engine, d: &Deployment, file: &Path) {
    let before = std::fs::read(file).expect("read management.json");
    let meta = std::fs::metadata(file).expect("stat");
    d.wait_restarts(e, 2);
    assert_eq!(
        row_issuer(&d.db),
        JUMPCLOUD,
        "the start wrote the file's value"
    );

    let run = ozrepair(["fix", "--yes", "--output", "json"]).on(e).run();
    assert_eq!(run.code, 0, "{run:?}");
    assert!(!run.all().contains(SECRET), "the secret leaked: {run:?}");
    let j = run.json();
    assert_eq!(j["result"], "fixed", "{run:?}");
    let changes = j["changes"].as_array().expect("changes");
    assert_eq!(changes.len(), 2, "the file and the row: {run:?}");
    assert_eq!(changes[0]["store"], "file");
    assert_eq!(changes[0]["file"], file.display().to_string());
    assert_eq!(
        changes[0]["at"],
        "EmbeddedIdP.StaticConnectors[0].config.issuer"
    );
    assert_eq!(changes[1]["store"], "database");
    for c in changes {
        assert_eq!(c["connector"], JC_ID);
        assert_eq!(
            (c["from"].as_str(), c["to"].as_str()),
            (Some(JUMPCLOUD), Some(JUMPCLOUD_SLASH))
        );
    }
    let view = &j["connectors"]
        .as_array()
        .expect("connectors")
        .iter()
        .find(|c| c["id"] == JC_ID)
        .expect("the JumpCloud connector")
        .clone();
    assert_eq!(view["store"], "static");
    assert_eq!(view["file"], file.display().to_string());
    assert!(
        j["located"]
            .to_string()
            .contains(&format!("config file {}", file.display())),
        "{run:?}"
    );

    // Only the issuer's bytes changed in the file; its owner and mode are kept.
    let after = std::fs::read(file).expect("read management.json");
    let want = String::from_utf8(before.clone()).expect("utf-8").replace(
        &format!(r#""issuer": "{JUMPCLOUD}""#),
        &format!(r#""issuer": "{JUMPCLOUD_SLASH}""#),
    );
    assert_eq!(String::from_utf8(after).expect("utf-8"), want);
    let meta_after = std::fs::metadata(file).expect("stat");
    assert_eq!(
        (
            meta_after.mode() & 0o7777,
            meta_after.uid(),
            meta_after.gid()
        ),
        (meta.mode() & 0o7777, meta.uid(), meta.gid())
    );

    // The backup holds the file as it was, byte for byte.
    let set = PathBuf::from(j["backup"]["dir"].as_str().expect("backup dir"));
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(set.join("manifest.json")).expect("manifest"))
            .expect("manifest JSON");
    let saved = &manifest["configs"][0];
    assert_eq!(saved["source"], file.display().to_string());
    let copy = std::fs::read(set.join(saved["name"].as_str().expect("name"))).expect("copy");
    assert_eq!(copy, before);
    assert_eq!(saved["sha256"], sha256_hex(&before));

    // It came up and stays up: the start it made wrote the corrected value into the row again.
    let started = d.state(e);
    assert_eq!(started.status, "running");
    d.wait_ready(e);
    assert_eq!(
        d.state(e),
        State {
            status: "running".to_string(),
            ..started
        }
    );
    assert_eq!(row_issuer(&d.db), JUMPCLOUD_SLASH);

    // A second fix has nothing to do.
    let again = ozrepair(["fix", "--yes", "--output", "json"]).on(e).run();
    assert_eq!(again.code, 0, "{again:?}");
    assert_eq!(again.json()["result"], "healthy", "{again:?}");
    assert_eq!(again.json()["changes"], serde_json::json!([]));

    // restore puts the file back with the database, byte for byte, owner and mode kept; the fixed file is
    // saved in the pre-restore set first.
    let fixed = std::fs::read(file).expect("read management.json");
    let restore = ozrepair(["restore", "--yes", "--no-restart", "--output", "json"])
        .on(e)
        .run();
    assert_eq!(restore.code, 0, "{restore:?}");
    assert_eq!(std::fs::read(file).expect("read management.json"), before);
    let m = std::fs::metadata(file).expect("stat");
    assert_eq!(
        (m.mode() & 0o7777, m.uid(), m.gid()),
        (meta.mode() & 0o7777, meta.uid(), meta.gid())
    );
    assert_eq!(row_issuer(&d.db), JUMPCLOUD);
    let pre = crate::util::backups::backup_sets(set.parent().expect("backup root"))
        .into_iter()
        .find(|s| s.display().to_string().ends_with("-pre-restore"))
        .expect("a pre-restore set");
    let pre_manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(pre.join("manifest.json")).expect("manifest"))
            .expect("manifest JSON");
    let saved = pre.join(pre_manifest["configs"][0]["name"].as_str().expect("name"));
    assert_eq!(std::fs::read(saved).expect("copy"), fixed);
}

on_both_engines!(
    a_static_connector_in_a_bind_mounted_management_json_is_fixed_in_the_file_and_the_row,
    |e| {
        let (_dir, file, d) =
            with_management_json(&e, &management_json(JUMPCLOUD), 0o640, (0, 4242), &[]);
        fixes_the_static_connector(&e, &d, &file);
    }
);

on_both_engines!(
    a_static_connector_in_a_management_json_volume_is_fixed_in_the_file_and_the_row,
    |e| {
        e.docker_ok(&["volume", "create", "netbird_config"]);
        let mountpoint = PathBuf::from(e.docker_ok(&[
            "volume",
            "inspect",
            "-f",
            "{{.Mountpoint}}",
            "netbird_config",
        ]));
        let file = mountpoint.join("management.json");
        write_config(&file, &management_json(JUMPCLOUD), 0o600, (0, 0));
        let d = Deployment::create(&e, &OPENZRO, &DexDb::locked_out());
        d.run_with(
            &e,
            &[
                ("STANDIN_PUBLISHED", JUMPCLOUD_SLASH),
                ("STANDIN_CONFIG", "/etc/netbird/management.json"),
            ],
            &["-v", "netbird_config:/etc/netbird"],
        );
        fixes_the_static_connector(&e, &d, &file);
    }
);

on_both_engines!(
    inspect_and_dry_run_show_the_file_edit_and_write_nothing,
    |e| {
        let (dir, file, d) =
            with_management_json(&e, &management_json(JUMPCLOUD), 0o600, (0, 0), &[]);
        d.wait_restarts(&e, 2);
        let since = events_mark();
        let files = (snapshot(dir.path()), snapshot(&d.mountpoint));
        for args in [
            vec!["inspect"],
            vec!["fix", "--dry-run"],
            vec!["inspect", "--output", "json"],
        ] {
            let run = ozrepair(args.clone()).on(&e).run();
            assert_eq!(run.code, 3, "{args:?}: {run:?}");
            assert!(!run.all().contains(SECRET), "the secret leaked: {run:?}");
            if args.contains(&"json") {
                assert_eq!(run.json()["changes"][0]["store"], "file", "{run:?}");
            } else {
                let hunk = format!("~ file \"{}\"", file.display());
                assert!(run.stdout.contains(&hunk), "{args:?}: {run:?}");
                assert!(run
                    .stdout
                    .contains("EmbeddedIdP.StaticConnectors[0].config.issuer"));
            }
        }
        assert_eq!((snapshot(dir.path()), snapshot(&d.mountpoint)), files);
        assert_eq!(e.stop_events(&d.container, &since), Vec::<String>::new());
    }
);

/// management.json with local login turned off (and the JumpCloud static connector, which opens).
fn management_json_local_off() -> String {
    management_json(JUMPCLOUD_SLASH).replace(
        r#""Enabled": true,"#,
        r#""Enabled": true,
    "LocalAuthDisabled": true,"#,
    )
}

fn has_local_row(db: &Path) -> bool {
    rows(db).iter().any(|r| r.id == "local")
}

/// A running deployment with local login turned off in its bind-mounted management.json (0640, 0:4242),
/// after the start that deleted the local connector: the host directory, the file, the deployment.
fn local_login_off(e: &Engine) -> (tempfile::TempDir, PathBuf, Deployment) {
    let (dir, file, d) = with_management_json(
        e,
        &management_json_local_off(),
        0o640,
        (0, 4242),
        &[("STANDIN_ON_FAILURE", "continue")],
    );
    d.wait_ready(e);
    crate::util::poll(
        "the local connector to be deleted",
        std::time::Duration::from_secs(30),
        || (!has_local_row(&d.db)).then_some(()),
    );
    (dir, file, d)
}

/// The file's bytes once local-login has turned local login on: only the flag's bytes differ.
fn local_login_on() -> String {
    management_json_local_off().replace(
        r#""LocalAuthDisabled": true"#,
        r#""LocalAuthDisabled": false"#,
    )
}

on_both_engines!(
    local_login_enable_turns_local_login_back_on_and_recreates_the_local_connector,
    |e| {
        let (dir, file, d) = local_login_off(&e);
        let text = management_json_local_off();

        // `fix` never opens the door: nothing is wrong with the connectors.
        let fix = ozrepair(["fix", "--yes", "--output", "json"]).on(&e).run();
        assert_eq!(fix.code, 0, "{fix:?}");
        assert_eq!(fix.json()["changes"], serde_json::json!([]), "{fix:?}");

        // Without --enable the command refuses (a usage error) and changes nothing.
        let files = (snapshot(dir.path()), snapshot(&d.mountpoint));
        let bare = ozrepair(["local-login"]).on(&e).run();
        assert_eq!(bare.code, 2, "{bare:?}");

        // The dry run shows both changes and writes nothing.
        let since = events_mark();
        let dry = ozrepair(["local-login", "--enable", "--dry-run"])
            .on(&e)
            .run();
        assert_eq!(dry.code, 3, "{dry:?}");
        assert!(
            dry.stdout.contains("EmbeddedIdP.LocalAuthDisabled"),
            "{dry:?}"
        );
        assert!(
            dry.stdout.contains("+ connector local (a new row)"),
            "{dry:?}"
        );
        assert_eq!((snapshot(dir.path()), snapshot(&d.mountpoint)), files);
        assert_eq!(e.stop_events(&d.container, &since), Vec::<String>::new());

        let run = ozrepair(["local-login", "--enable", "--yes", "--output", "json"])
            .on(&e)
            .run();
        assert_eq!(run.code, 0, "{run:?}");
        assert!(!run.all().contains(SECRET), "the secret leaked: {run:?}");
        let j = run.json();
        assert_eq!(j["command"], "local-login");
        assert_eq!(j["result"], "fixed", "{run:?}");
        let changes = j["changes"].as_array().expect("changes");
        assert_eq!(changes.len(), 2, "{run:?}");
        assert_eq!(changes[0]["store"], "file");
        assert_eq!(changes[0]["at"], "EmbeddedIdP.LocalAuthDisabled");
        assert_eq!(
            (changes[0]["from"].as_str(), changes[0]["to"].as_str()),
            (Some("true"), Some("false"))
        );
        assert_eq!(changes[1]["store"], "database");
        assert_eq!(changes[1]["connector"], "local");

        // Only the flag's bytes changed; owner and mode kept; the backup holds the old file.
        assert_eq!(
            std::fs::read_to_string(&file).expect("read"),
            local_login_on()
        );
        let m = std::fs::metadata(&file).expect("stat");
        assert_eq!((m.mode() & 0o7777, m.uid(), m.gid()), (0o640, 0, 4242));
        let set = PathBuf::from(j["backup"]["dir"].as_str().expect("backup dir"));
        let manifest: serde_json::Value =
            serde_json::from_slice(&std::fs::read(set.join("manifest.json")).expect("manifest"))
                .expect("manifest JSON");
        let copy = set.join(manifest["configs"][0]["name"].as_str().expect("name"));
        assert_eq!(std::fs::read_to_string(copy).expect("copy"), text);

        // The start it made kept the local connector: the server is up and the row is there.
        let started = d.state(&e);
        assert_eq!(started.status, "running");
        d.wait_ready(&e);
        assert!(
            has_local_row(&d.db),
            "the local connector is there after the start"
        );
        let logs = e.docker(&["logs", &d.container]);
        let text_logs = logs.stdout_text();
        assert_eq!(
            text_logs
                .lines()
                .filter(|l| l.contains("local authentication disabled"))
                .count(),
            1,
            "only the run before the change disabled it"
        );

        // Nothing left to do.
        let again = ozrepair(["local-login", "--enable", "--yes", "--output", "json"])
            .on(&e)
            .run();
        assert_eq!(again.code, 0, "{again:?}");
        assert_eq!(again.json()["result"], "healthy", "{again:?}");
        assert_eq!(again.json()["changes"], serde_json::json!([]));
    }
);

on_both_engines!(
    fleet_and_the_ansible_module_open_the_door_on_request_only,
    |e| {
        let (_dir, file, d) = local_login_off(&e);
        let tmp = tempfile::tempdir().expect("temp dir");
        let inventory = tmp.path().join("hosts.txt");
        std::fs::write(&inventory, format!("{}\n", e.host)).expect("inventory");

        // The fleet refuses without --yes, and changes nothing.
        let no_yes = ozrepair(["fleet", "--inventory"])
            .args([&inventory])
            .args(["local-login", "--enable"])
            .run();
        assert_eq!(no_yes.code, 2, "{no_yes:?}");
        assert_eq!(
            std::fs::read_to_string(&file).expect("read"),
            management_json_local_off()
        );

        // The module in check mode: pending (changed), nothing written.
        let args = |check: bool| {
            serde_json::json!({
                "action": "local_login",
                "docker_host": e.host,
                "wait": 20,
                "binary": env!("CARGO_BIN_EXE_ozrepair"),
                "_ansible_check_mode": check,
                "_ansible_diff": true,
            })
        };
        let (check, out) = crate::util::ansible::run_module(args(true));
        assert_eq!(check["exit_code"], 3, "{out}");
        assert_eq!(check["changed"], true, "{out}");
        assert!(
            check["diff"][0]["before_header"]
                .as_str()
                .is_some_and(|h| h.contains("EmbeddedIdP.LocalAuthDisabled")),
            "{out}"
        );
        assert_eq!(
            std::fs::read_to_string(&file).expect("read"),
            management_json_local_off()
        );
        assert!(!out.contains(SECRET), "{out}");

        // The fleet applies it.
        let run = ozrepair(["--yes", "fleet", "--output", "json", "--inventory"])
            .args([&inventory])
            .args(["local-login", "--enable", "--wait", "20"])
            .run();
        assert_eq!(run.code, 0, "{run:?}");
        let lines = run.json_lines();
        assert_eq!(lines[0]["result"], "fixed", "{run:?}");
        assert_eq!(
            std::fs::read_to_string(&file).expect("read"),
            local_login_on()
        );
        d.wait_ready(&e);
        assert!(has_local_row(&d.db));
        assert!(!run.all().contains(SECRET), "{run:?}");

        // The module afterwards: nothing to do, not changed.
        let (again, out) = crate::util::ansible::run_module(args(false));
        assert_eq!(again["exit_code"], 0, "{out}");
        assert_eq!(again["changed"], false, "{out}");
        assert_eq!(again["result"], "healthy", "{out}");
    }
);

#[test]
fn a_linked_or_unreadable_management_json_is_named_and_never_written() {
    let e = Engine::start();
    for case in ["link", "not json"] {
        let dir = host_dir();
        let real = dir.path().join("real.json");
        let file = dir.path().join("management.json");
        match case {
            "link" => {
                write_config(&real, &management_json(JUMPCLOUD), 0o600, (0, 0));
                std::os::unix::fs::symlink(&real, &file).expect("symlink");
            }
            _ => write_config(&file, "{\"EmbeddedIdP\": {", 0o600, (0, 0)),
        }
        let d = Deployment::create(&e, &OPENZRO, &DexDb::locked_out());
        let mount = format!("{}:/etc/netbird", dir.path().display());
        d.run_with(
            &e,
            &[("STANDIN_PUBLISHED", JUMPCLOUD_SLASH)],
            &["-v", &mount],
        );
        d.wait_restarts(&e, 1);
        let files = snapshot(dir.path());
        let run = ozrepair(["fix", "--dry-run", "--output", "json"])
            .on(&e)
            .run();
        assert_eq!(run.code, 3, "{case}: {run:?}");
        let notes = run.json()["notes"].to_string();
        let want = match case {
            "link" => "is a symbolic link",
            _ => "its connectors were not read",
        };
        assert!(notes.contains(want), "{case}: {notes}");
        assert!(
            notes.contains(&file.display().to_string()),
            "{case}: {notes}"
        );
        assert!(!run.all().contains(SECRET), "{case}: {run:?}");
        assert_eq!(snapshot(dir.path()), files, "{case}");
        d.remove(&e);
    }
}

/// The standalone setup's management.json (an external IdP, no embedded one), as NetBird's configure.sh
/// writes it: `HttpConfig.AuthIssuer` is the issuer every token must carry.
fn standalone_management_json(auth_issuer: &str, endpoint: &str) -> String {
    format!(
        r#"{{
    "Stuns": [],
    "HttpConfig": {{
        "Address": "0.0.0.0:33073",
        "AuthIssuer": "{auth_issuer}",
        "AuthAudience": "netbird-client",
        "AuthKeysLocation": "{auth_issuer}/protocol/openid-connect/certs",
        "OIDCConfigEndpoint": "{endpoint}",
        "IdpSignKeyRefreshEnabled": false
    }},
    "IdpManagerConfig": {{
        "ManagerType": "keycloak",
        "ClientConfig": {{
            "ClientID": "netbird-backend",
            "ClientSecret": "{SECRET}"
        }}
    }}
}}
"#
    )
}

on_both_engines!(
    the_standalone_setups_auth_issuer_is_corrected_from_discovery,
    |e| {
        // The provider publishes its issuer with the trailing slash; the setup stored it without.
        let idp = Discovery::start();
        let published = format!("{}/realms/netbird/", idp.base());
        idp.publish("/realms/netbird", &published);
        let stored = published.trim_end_matches('/').to_string();
        // An empty OIDCConfigEndpoint: NetBird then takes AuthIssuer as it is.
        let text = standalone_management_json(&stored, "");
        let dir = host_dir();
        let file = dir.path().join("management.json");
        write_config(&file, &text, 0o640, (0, 4242));
        let mount = format!("{}:/etc/netbird/management.json", file.display());
        // The compose project configure.sh wrote, beside the setup file it sourced.
        let artifacts = dir.path().join("artifacts");
        std::fs::create_dir(&artifacts).expect("artifacts dir");
        let setup = dir.path().join("setup.env");
        let setup_text = format!(
            "# setup.env\nNETBIRD_DOMAIN=vpn.example.com\nexport NETBIRD_AUTH_OIDC_CONFIGURATION_ENDPOINT=\"{stored}/.well-known/openid-configuration\"\n"
        );
        std::fs::write(&setup, &setup_text).expect("setup.env");
        let label = format!(
            "com.docker.compose.project.working_dir={}",
            artifacts.display()
        );
        e.docker_ok(&[
            "run",
            "--label",
            &label,
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
            &format!("STANDIN_TOKEN_ISSUER={published}"),
            crate::util::engine::IMAGE,
        ]);
        let refused = || {
            let l = e.docker(&["logs", "netbird-management"]);
            l.stdout_text().contains("token has invalid issuer")
        };
        crate::util::poll(
            "the management to refuse tokens",
            std::time::Duration::from_secs(30),
            || refused().then_some(()),
        );

        // inspect says what is wrong and writes nothing.
        let files = snapshot(dir.path());
        let look = ozrepair(["inspect", "--output", "json"]).on(&e).run();
        assert_eq!(look.code, 3, "{look:?}");
        let j = look.json();
        assert_eq!(j["connectors"][0]["id"], "management");
        assert_eq!(j["connectors"][0]["status"], "mismatch");
        assert_eq!(j["changes"][0]["at"], "HttpConfig.AuthIssuer");
        assert_eq!(j["changes"][0]["source"], "discovery");
        assert_eq!(snapshot(dir.path()), files);
        assert!(!look.all().contains(SECRET), "{look:?}");

        let run = ozrepair(["fix", "--yes", "--output", "json"]).on(&e).run();
        assert_eq!(run.code, 0, "{run:?}");
        assert!(!run.all().contains(SECRET), "{run:?}");
        let j = run.json();
        assert_eq!(j["result"], "fixed", "{run:?}");
        assert_eq!(j["changes"].as_array().map(Vec::len), Some(1), "{run:?}");
        assert_eq!(
            (
                j["changes"][0]["from"].as_str(),
                j["changes"][0]["to"].as_str()
            ),
            (Some(stored.as_str()), Some(published.as_str()))
        );

        // Only the issuer's bytes changed (AuthKeysLocation, which starts with the same text, did not).
        let want = text.replace(
            &format!(r#""AuthIssuer": "{stored}""#),
            &format!(r#""AuthIssuer": "{published}""#),
        );
        assert_eq!(std::fs::read_to_string(&file).expect("read"), want);
        let m = std::fs::metadata(&file).expect("stat");
        assert_eq!((m.mode() & 0o7777, m.uid(), m.gid()), (0o640, 0, 4242));
        let set = PathBuf::from(j["backup"]["dir"].as_str().expect("backup dir"));
        let manifest: serde_json::Value =
            serde_json::from_slice(&std::fs::read(set.join("manifest.json")).expect("manifest"))
                .expect("manifest JSON");
        let copy = set.join(manifest["configs"][0]["name"].as_str().expect("name"));
        assert_eq!(std::fs::read_to_string(copy).expect("copy"), text);
        // The setup file was read (its endpoint is the discovery URL of both issuers) and left as it is.
        assert!(
            j["located"]
                .to_string()
                .contains(&format!("config file {}", setup.display())),
            "{run:?}"
        );
        assert_eq!(std::fs::read_to_string(&setup).expect("read"), setup_text);

        // It runs and, on the start ozrepair made, accepts the tokens: that run made its calls and refused
        // none (the first run refused all three).
        let started = e.inspect(
            "netbird-management",
            "{{.State.Status}} {{.RestartCount}} {{.State.StartedAt}}",
        );
        assert!(started.starts_with("running "), "{started}");
        let logs = || e.docker(&["logs", "netbird-management"]).stdout_text();
        crate::util::poll(
            "the restarted management to make its calls",
            std::time::Duration::from_secs(30),
            || (logs().matches("standin: 3 API calls made").count() == 2).then_some(()),
        );
        assert_eq!(
            logs().matches("token has invalid issuer").count(),
            3,
            "{}",
            logs()
        );
        let again = ozrepair(["fix", "--yes", "--output", "json"]).on(&e).run();
        assert_eq!(again.code, 0, "{again:?}");
        assert_eq!(again.json()["result"], "healthy", "{again:?}");
        assert_eq!(
            e.inspect(
                "netbird-management",
                "{{.State.Status}} {{.RestartCount}} {{.State.StartedAt}}"
            ),
            started
        );
    }
);

/// openZro's Dex config with a static connector added by hand: a comment beside the value, the issuer
/// double-quoted.
fn dex_config(issuer: &str) -> String {
    [
        "# Dex, as openZro's configure.sh writes it",
        "issuer: https://vpn.example.com/dex",
        "storage:",
        "  type: sqlite3",
        "  config:",
        "    file: /var/lib/dex/dex.db",
        "logger:",
        "  format: json",
        "enablePasswordDB: true",
        "connectors:",
        "  - type: oidc",
        "    id: jumpcloud",
        "    name: JumpCloud",
        "    config:",
        &format!("      issuer: \"{issuer}\"   # JumpCloud, added by hand"),
        "      clientID: 0f5e2c9a-e2e",
        &format!("      clientSecret: {SECRET}"),
        "      redirectURI: https://vpn.example.com/dex/callback",
        "",
    ]
    .join("\n")
}

/// openZro's Dex container (uid 1001, dex.db with no connector row) whose stand-in reads `text` as its
/// config.yaml (0640, 1001:1001) in a bind-mounted /etc/dex: the directory, the file, the deployment.
fn with_dex_config(e: &Engine, text: &str) -> (tempfile::TempDir, PathBuf, Deployment) {
    let l = crate::util::deploy::Layout {
        container: "artifacts-dex-1",
        volume: "openzro-dex",
        mount: "/var/lib/dex",
        db_name: "dex.db",
    };
    let d = Deployment::create(e, &l, &DexDb::new(13).owner(1001, 1001).mode(0o600));
    let dir = host_dir();
    let file = dir.path().join("config.yaml");
    write_config(&file, text, 0o640, (1001, 1001));
    let mount = format!("{}:/etc/dex", dir.path().display());
    d.run_with(
        e,
        &[
            ("STANDIN_PUBLISHED", JUMPCLOUD_SLASH),
            ("STANDIN_FORMAT", "dex-json"),
            ("STANDIN_DEX_CONFIG", "/etc/dex/config.yaml"),
        ],
        &["--user", "1001:1001", "-v", &mount],
    );
    (dir, file, d)
}

on_both_engines!(
    a_static_connector_in_dex_yaml_is_fixed_in_the_file_only,
    |e| {
        let (_dir, file, d) = with_dex_config(&e, &dex_config(JUMPCLOUD));
        d.wait_restarts(&e, 2);
        let db_before = sha256_hex(&std::fs::read(&d.db).expect("read dex.db"));

        let run = ozrepair(["fix", "--yes", "--output", "json"]).on(&e).run();
        assert_eq!(run.code, 0, "{run:?}");
        assert!(!run.all().contains(SECRET), "the secret leaked: {run:?}");
        let j = run.json();
        assert_eq!(j["result"], "fixed", "{run:?}");
        let changes = j["changes"].as_array().expect("changes");
        assert_eq!(changes.len(), 1, "the file only: {run:?}");
        assert_eq!(changes[0]["store"], "file");
        assert_eq!(changes[0]["at"], "connectors[0].config.issuer");
        assert_eq!(changes[0]["to"], JUMPCLOUD_SLASH);
        let view = j["connectors"]
            .as_array()
            .expect("connectors")
            .iter()
            .find(|c| c["id"] == "jumpcloud")
            .cloned()
            .expect("the overlay connector");
        assert_eq!(view["store"], "overlay");

        // Only the value's bytes changed: the quotes and the comment beside it are kept.
        assert_eq!(
            std::fs::read_to_string(&file).expect("read"),
            dex_config(JUMPCLOUD_SLASH)
        );
        let m = std::fs::metadata(&file).expect("stat");
        assert_eq!((m.mode() & 0o7777, m.uid(), m.gid()), (0o640, 1001, 1001));
        // The database holds no such connector and was not written.
        assert_eq!(
            sha256_hex(&std::fs::read(&d.db).expect("read dex.db")),
            db_before
        );

        let started = d.state(&e);
        assert_eq!(started.status, "running");
        d.wait_ready(&e);
        assert_eq!(
            d.state(&e),
            State {
                status: "running".to_string(),
                ..started
            }
        );
        let again = ozrepair(["fix", "--yes", "--output", "json"]).on(&e).run();
        assert_eq!(again.code, 0, "{again:?}");
        assert_eq!(again.json()["result"], "healthy", "{again:?}");
    }
);

on_both_engines!(
    local_login_enable_turns_dexs_password_db_back_on_in_its_yaml,
    |e| {
        let off = dex_config(JUMPCLOUD_SLASH)
            .replace("enablePasswordDB: true", "enablePasswordDB: false");
        let (_dir, file, d) = with_dex_config(&e, &off);
        d.wait_ready(&e);
        let db_before = sha256_hex(&std::fs::read(&d.db).expect("read dex.db"));
        let run = ozrepair(["local-login", "--enable", "--yes", "--output", "json"])
            .on(&e)
            .run();
        assert_eq!(run.code, 0, "{run:?}");
        assert!(!run.all().contains(SECRET), "the secret leaked: {run:?}");
        let j = run.json();
        let changes = j["changes"].as_array().expect("changes");
        assert_eq!(
            changes.len(),
            1,
            "the flag only (Dex adds local itself): {run:?}"
        );
        assert_eq!(changes[0]["at"], "enablePasswordDB");
        assert_eq!(
            std::fs::read_to_string(&file).expect("read"),
            dex_config(JUMPCLOUD_SLASH)
        );
        let m = std::fs::metadata(&file).expect("stat");
        assert_eq!((m.mode() & 0o7777, m.uid(), m.gid()), (0o640, 1001, 1001));
        assert_eq!(
            sha256_hex(&std::fs::read(&d.db).expect("read dex.db")),
            db_before
        );
        d.wait_ready(&e);
        assert_eq!(d.state(&e).status, "running");
    }
);

on_both_engines!(
    /// The race behind a static connector, by repetition: NetBird writes the file's value into the row at
    /// every start of a crash loop while ozrepair stops it, backs up, writes the file and the row, and
    /// starts it. Fifteen fresh loops, each fixed with no flags and steady afterwards.
    static_connector_crash_loops_are_fixed_every_time,
    |e| {
        for n in 0..15 {
            let (_dir, file, d) =
                with_management_json(&e, &management_json(JUMPCLOUD), 0o600, (0, 0), &[]);
            d.wait_restarts(&e, 1);
            let fix = ozrepair(["fix", "--yes", "--output", "json"]).on(&e).run();
            assert_eq!(fix.code, 0, "loop {n}: {fix:?}");
            assert_eq!(fix.json()["result"], "fixed", "loop {n}: {fix:?}");
            assert_eq!(
                std::fs::read_to_string(&file).expect("read"),
                management_json(JUMPCLOUD_SLASH),
                "loop {n}"
            );
            d.wait_ready(&e);
            let up = d.state(&e);
            assert_eq!(up.status, "running", "loop {n}");
            assert_eq!(row_issuer(&d.db), JUMPCLOUD_SLASH, "loop {n}");
            let again = ozrepair(["fix", "--yes", "--output", "json"]).on(&e).run();
            assert_eq!(again.json()["result"], "healthy", "loop {n}: {again:?}");
            assert_eq!(d.state(&e), up, "loop {n}: the restart count is steady");
            d.remove(&e);
        }
    }
);

// ---------------------------------------------------------------------------------------------------
// Issue 23: hard links, flow mappings, YAML 1.1 booleans; one engine each.

/// A management.json with a second hard link beside it: `fix` is refused before anything is stopped, with
/// one line naming the file and its links; both names keep the same bytes (never split); inspect and the
/// dry run name it in a note.
#[test]
fn a_hard_linked_config_file_is_refused_never_split() {
    let e = Engine::start();
    let (dir, file, d) = with_management_json(&e, &management_json(JUMPCLOUD), 0o600, (0, 0), &[]);
    let other = dir.path().join("management.json.orig");
    std::fs::hard_link(&file, &other).expect("hard link");
    d.wait_restarts(&e, 1);
    let files = (snapshot(dir.path()), snapshot(&d.mountpoint));

    let dry = ozrepair(["fix", "--dry-run", "--output", "json"])
        .on(&e)
        .run();
    assert_eq!(dry.code, 3, "{dry:?}");
    let notes = dry.json()["notes"].to_string();
    assert!(
        notes.contains(&format!("{} has 2 hard links", file.display())),
        "{notes}"
    );

    let since = events_mark();
    let run = ozrepair(["fix", "--yes"]).on(&e).run();
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(run.stderr.lines().count(), 1, "one line: {run:?}");
    assert!(
        run.stderr
            .contains(&format!("{} has 2 hard links", file.display())),
        "{run:?}"
    );
    assert!(!run.all().contains(SECRET), "{run:?}");
    // Every byte as it was; only ozrepair's (empty) lock file is new in the volume.
    let mut volume = snapshot(&d.mountpoint);
    assert!(volume.remove(".idp.db.ozrepair-lock").is_some());
    assert_eq!((snapshot(dir.path()), volume), files);
    assert_eq!(std::fs::metadata(&file).expect("stat").nlink(), 2);
    assert_eq!(e.stop_events(&d.container, &since), Vec::<String>::new());
}

/// Dex's config.yaml with the connector's config as a flow mapping, which Dex reads: `fix` corrects the
/// issuer inside it (only those bytes), and the container stays up.
#[test]
fn a_flow_mapping_connector_in_dex_yaml_is_fixed_in_place() {
    let e = Engine::start();
    let flow = |issuer: &str| {
        dex_config(issuer).replace(
            &format!(
                "    config:\n      issuer: \"{issuer}\"   # JumpCloud, added by hand\n      clientID: 0f5e2c9a-e2e\n      clientSecret: {SECRET}\n      redirectURI: https://vpn.example.com/dex/callback\n"
            ),
            &format!(
                "    config: {{issuer: {issuer}, clientID: 0f5e2c9a-e2e, clientSecret: {SECRET}, redirectURI: https://vpn.example.com/dex/callback}}\n"
            ),
        )
    };
    assert!(
        flow(JUMPCLOUD).contains("config: {issuer:"),
        "{}",
        flow(JUMPCLOUD)
    );
    let (_dir, file, d) = with_dex_config(&e, &flow(JUMPCLOUD));
    d.wait_restarts(&e, 2);
    let run = ozrepair(["fix", "--yes", "--output", "json"]).on(&e).run();
    assert_eq!(run.code, 0, "{run:?}");
    assert!(!run.all().contains(SECRET), "the secret leaked: {run:?}");
    let j = run.json();
    assert_eq!(j["result"], "fixed", "{run:?}");
    assert_eq!(j["changes"][0]["at"], "connectors[0].config.issuer");
    assert_eq!(
        std::fs::read_to_string(&file).expect("read"),
        flow(JUMPCLOUD_SLASH)
    );
    d.wait_ready(&e);
    assert_eq!(d.state(&e).status, "running");
}

/// A flow mapping over several lines (which ozrepair does not edit) is refused with the file and the
/// line: the operator's `--issuer` names where the connector is, and nothing is stopped or written.
#[test]
fn a_flow_mapping_over_lines_is_refused_with_file_and_line() {
    let e = Engine::start();
    let text = dex_config(JUMPCLOUD)
        .replace(
            &format!("    config:\n      issuer: \"{JUMPCLOUD}\"   # JumpCloud, added by hand\n"),
            &format!("    config: {{issuer: \"{JUMPCLOUD}\",\n"),
        )
        .replace(
            "      redirectURI: https://vpn.example.com/dex/callback\n",
            "      redirectURI: https://vpn.example.com/dex/callback}\n",
        )
        .replace(
            "      clientID: 0f5e2c9a-e2e\n",
            "      clientID: 0f5e2c9a-e2e,\n",
        )
        .replace(
            &format!("      clientSecret: {SECRET}\n"),
            &format!("      clientSecret: {SECRET},\n"),
        );
    let (dir, file, d) = with_dex_config(&e, &text);
    d.wait_restarts(&e, 1);
    let files = (snapshot(dir.path()), snapshot(&d.mountpoint));
    let since = events_mark();
    let run = ozrepair([
        "fix",
        "--connector",
        "jumpcloud",
        "--issuer",
        JUMPCLOUD_SLASH,
        "--yes",
    ])
    .on(&e)
    .run();
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(run.stderr.lines().count(), 1, "one line: {run:?}");
    assert!(
        run.stderr
            .contains(&format!("{}: YAML line 14:", file.display())),
        "{run:?}"
    );
    assert!(!run.all().contains(SECRET), "{run:?}");
    assert_eq!((snapshot(dir.path()), snapshot(&d.mountpoint)), files);
    assert_eq!(e.stop_events(&d.container, &since), Vec::<String>::new());
}

/// `local-login --enable` on Dex's `enablePasswordDB: no` (go-yaml v2 reads it as false): turned on as
/// `yes`, which Dex's own decoder (the Go checker) reads as true; the report notes how the YAML 1.1 word
/// reads.
#[test]
fn local_login_sees_dexs_yaml_1_1_no_as_off() {
    let e = Engine::start();
    let with = |v: &str| {
        dex_config(JUMPCLOUD_SLASH)
            .replace("enablePasswordDB: true", &format!("enablePasswordDB: {v}"))
    };
    let (_dir, file, d) = with_dex_config(&e, &with("no"));
    d.wait_ready(&e);
    let run = ozrepair(["local-login", "--enable", "--yes", "--output", "json"])
        .on(&e)
        .run();
    assert_eq!(run.code, 0, "{run:?}");
    let j = run.json();
    assert_eq!(j["result"], "fixed", "{run:?}");
    let changes = j["changes"].as_array().expect("changes");
    assert_eq!(changes.len(), 1, "{run:?}");
    assert_eq!(changes[0]["at"], "enablePasswordDB");
    assert_eq!(
        (changes[0]["from"].as_str(), changes[0]["to"].as_str()),
        (Some("false"), Some("true"))
    );
    assert!(
        j["notes"].to_string().contains(&format!(
            "{} line 9: enablePasswordDB is no: false to Dex",
            file.display()
        )),
        "{}",
        j["notes"]
    );
    let after = std::fs::read(&file).expect("read");
    assert_eq!(String::from_utf8_lossy(&after), with("yes"));
    assert_eq!(
        crate::hostile_config::go_read("dex-flags", &after).expect("Dex reads it"),
        serde_json::json!({"enablePasswordDB": true})
    );
    d.wait_ready(&e);
    assert_eq!(d.state(&e).status, "running");
}

/// The standalone setup whose setup.env holds the OIDC discovery endpoint in a form ozrepair does not edit
/// (a `$` expansion, CRLF line ends, the key assigned twice): management.json is corrected, and the run
/// says which file and line still holds the old value (for a key assigned twice, the line bash uses, the
/// last) and what to do, with `action_needed` (exit 6), never `fixed`.
#[test]
fn a_setup_env_value_ozrepair_cannot_edit_is_named_and_never_reported_fixed() {
    let e = Engine::start();
    let idp = Discovery::start();
    // The provider publishes its issuer under another host name than the setup stored: the discovery
    // endpoint of the corrected issuer is another URL, which setup.env must follow.
    let port = idp
        .base()
        .rsplit(':')
        .next()
        .unwrap_or_default()
        .to_string();
    let stored = format!("http://127.0.0.1:{port}/realms/netbird");
    let published = format!("http://localhost:{port}/realms/netbird");
    idp.publish("/realms/netbird", &published);
    let old_endpoint = format!("{stored}/.well-known/openid-configuration");
    let new_endpoint = format!("{published}/.well-known/openid-configuration");
    let key = "NETBIRD_AUTH_OIDC_CONFIGURATION_ENDPOINT";
    for (case, setup_text) in [
        (
            "a $ expansion",
            format!("OIDC_BASE={stored}\nNETBIRD_DOMAIN=vpn.example.com\nexport {key}=\"$OIDC_BASE/.well-known/openid-configuration\"\n"),
        ),
        (
            "CRLF line ends",
            format!("NETBIRD_DOMAIN=vpn.example.com\r\n{key}=\"{old_endpoint}\"\r\n"),
        ),
        (
            "assigned twice",
            format!("{key}=\"https://first.example.com/unused\"\n{key}=\"{old_endpoint}\"\n"),
        ),
    ] {
        let text = standalone_management_json(&stored, &old_endpoint);
        let dir = host_dir();
        let file = dir.path().join("management.json");
        write_config(&file, &text, 0o640, (0, 0));
        let mount = format!("{}:/etc/netbird/management.json", file.display());
        let artifacts = dir.path().join("artifacts");
        std::fs::create_dir(&artifacts).expect("artifacts dir");
        let setup = dir.path().join("setup.env");
        std::fs::write(&setup, &setup_text).expect("setup.env");
        let label = format!(
            "com.docker.compose.project.working_dir={}",
            artifacts.display()
        );
        e.docker_ok(&[
            "run", "--label", &label, "-d", "--pull", "never", "--network", "host", "--restart",
            "always", "--name", "netbird-management", "-v", &mount, "-e",
            "STANDIN_CONFIG=/etc/netbird/management.json", "-e",
            &format!("STANDIN_TOKEN_ISSUER={published}"), crate::util::engine::IMAGE,
        ]);
        crate::util::poll(
            "the management to refuse tokens",
            std::time::Duration::from_secs(30),
            || {
                e.docker(&["logs", "netbird-management"])
                    .stdout_text()
                    .contains("token has invalid issuer")
                    .then_some(())
            },
        );
        let run = ozrepair(["fix", "--yes", "--output", "json"]).on(&e).run();
        let j = run.json();
        assert_eq!(run.code, 6, "{case}: {run:?}");
        assert_eq!(j["result"], "action_needed", "{case}: {run:?}");
        let err = j["error"].as_str().unwrap_or_default();
        assert!(err.contains(&setup.display().to_string()), "{case}: {err}");
        assert!(err.contains(" line "), "{case}: {err}");
        if case == "assigned twice" {
            assert!(err.contains("line 2"), "{case}: the line bash uses: {err}");
        }
        assert!(err.contains(&new_endpoint), "{case}: what to set: {err}");
        assert_eq!(
            std::fs::read_to_string(&setup).expect("read"),
            setup_text,
            "{case}: left as it is"
        );
        // management.json holds the corrected issuer either way.
        assert!(
            std::fs::read_to_string(&file)
                .expect("read")
                .contains(&format!(r#""AuthIssuer": "{published}""#)),
            "{case}"
        );
        e.docker_ok(&["rm", "-f", "netbird-management"]);
    }
}
