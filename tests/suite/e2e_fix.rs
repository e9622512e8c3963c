//! End to end, against a real Docker engine: the seed scenario of the openZro troubleshooting page
//! (container openzro-management crash-looping on a JumpCloud issuer without its trailing slash) and the
//! promises around it: inspect and dry-run change nothing, fix brings it back, a second fix is a no-op,
//! only the issuer's bytes change, the value stays a BLOB, the backup restores the exact bytes, and the
//! client secret never appears in any output.

use crate::util::command::ozrepair;
use crate::util::deploy::{locked_out, Deployment, State, OPENZRO};
use crate::util::engine::{events_mark, Engine, IMAGE};
use crate::util::seed::{
    after_fix, jumpcloud_config, rows, Connector, DexDb, JC_ID, JUMPCLOUD, JUMPCLOUD_SLASH, SECRET,
};
use crate::util::snapshot::snapshot;
use std::os::unix::fs::{MetadataExt, PermissionsExt};

on_both_engines!(
    fix_with_no_flags_brings_the_crash_looping_deployment_back,
    |e| {
        let d = locked_out(&e);
        let before = rows(&d.db);

        let run = ozrepair(["fix", "--yes", "--output", "json"]).on(&e).run();
        assert_eq!(run.code, 0, "{run:?}");
        let j = run.json();
        assert_eq!(j["result"], "fixed");
        assert_eq!(j["schema_version"], 2);
        assert_eq!(j["container"]["name"], "openzro-management");
        assert_eq!(j["container"]["state_before"], "restarting");
        assert_eq!(j["container"]["state_after"], "running");
        assert_eq!(j["database"]["volume"], "root_openzro_management");
        assert_eq!(j["changes"][0]["connector"], JC_ID);
        assert_eq!(j["changes"][0]["from"], JUMPCLOUD);
        assert_eq!(j["changes"][0]["to"], JUMPCLOUD_SLASH);
        assert_eq!(j["changes"][0]["source"], "logs");
        assert_ne!(
            j["database"]["sha256_before"],
            j["database"]["sha256_after"]
        );

        // It came up: the run ozrepair started (same start time, same restart count) is the one that says it
        // is serving, which it only says once every connector opened.
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

        // Only the issuer's bytes changed; the other row is byte-identical; the value is still a BLOB.
        let after = rows(&d.db);
        assert_eq!(after[0], before[0], "the local connector is untouched");
        assert_eq!(after[1].storage, "blob");
        assert_eq!(after[1].config_text(), jumpcloud_config(JUMPCLOUD_SLASH));
        assert_eq!(
            after[1].resource_version, "1",
            "NetBird's empty resource_version counts as 0, as in Dex's own update"
        );
    }
);

on_both_engines!(
    inspect_and_dry_run_change_nothing_and_touch_no_container,
    |e| {
        // A deployment that keeps running with the broken connector (NetBird >= v0.65.2): its state must not move.
        let d = Deployment::create(&e, &OPENZRO, &DexDb::locked_out());
        d.run(
            &e,
            &[
                ("STANDIN_PUBLISHED", JUMPCLOUD_SLASH),
                ("STANDIN_ON_FAILURE", "continue"),
            ],
        );
        d.wait_ready(&e);
        let since = events_mark();
        let files = snapshot(&d.mountpoint);
        let state = d.state(&e);

        let inspect = ozrepair(["inspect"]).on(&e).run();
        assert_eq!(inspect.code, 3, "{inspect:?}");
        assert!(
            inspect
                .stdout
                .contains(r#"+   "issuer": "https://oauth.id.jumpcloud.com/""#),
            "{}",
            inspect.stdout
        );
        let dry = ozrepair(["fix", "--dry-run", "--output", "json"])
            .on(&e)
            .run();
        assert_eq!(dry.code, 3, "{dry:?}");
        assert_eq!(dry.json()["result"], "pending");
        assert_eq!(dry.json()["backup"], serde_json::Value::Null);
        let dry_yes = ozrepair(["fix", "--dry-run", "--yes"]).on(&e).run();
        assert_eq!(dry_yes.code, 3, "{dry_yes:?}");

        assert_eq!(
            snapshot(&d.mountpoint),
            files,
            "no byte, owner or mode changed in the volume"
        );
        assert_eq!(d.state(&e), state, "the container was not restarted");
        assert_eq!(
            e.stop_events(&d.container, &since),
            Vec::<String>::new(),
            "nothing stopped or killed it"
        );
    }
);

on_both_engines!(inspect_of_a_crash_looping_deployment_stops_nothing, |e| {
    let d = locked_out(&e);
    let since = events_mark();
    let files = snapshot(&d.mountpoint);
    let run = ozrepair(["inspect", "--output", "json"]).on(&e).run();
    assert_eq!(run.code, 3, "{run:?}");
    let j = run.json();
    assert_eq!(j["result"], "pending");
    assert_eq!(j["connectors"][1]["status"], "mismatch");
    assert_eq!(snapshot(&d.mountpoint), files);
    assert_eq!(e.stop_events(&d.container, &since), Vec::<String>::new());
});

on_both_engines!(a_second_fix_is_a_no_op, |e| {
    let d = locked_out(&e);
    assert_eq!(ozrepair(["fix", "--yes"]).on(&e).run().code, 0);
    d.wait_ready(&e);
    let files = snapshot(&d.mountpoint);
    let state = d.state(&e);
    let since = events_mark();

    let again = ozrepair(["fix", "--yes", "--output", "json"]).on(&e).run();
    assert_eq!(again.code, 0, "{again:?}");
    let j = again.json();
    assert_eq!(j["result"], "healthy");
    assert_eq!(j["changes"], serde_json::json!([]));
    assert_eq!(j["connectors"][1]["status"], "ok");
    assert_eq!(snapshot(&d.mountpoint), files, "no new backup, no write");
    assert_eq!(d.state(&e), state);
    assert_eq!(e.stop_events(&d.container, &since), Vec::<String>::new());
});

on_both_engines!(the_backup_restores_the_exact_pre_fix_bytes, |e| {
    let d = locked_out(&e);
    let original = std::fs::read(&d.db).unwrap();
    let run = ozrepair(["fix", "--yes", "--output", "json"]).on(&e).run();
    assert_eq!(run.code, 0, "{run:?}");
    let j = run.json();
    let backup = std::path::PathBuf::from(j["backup"]["path"].as_str().unwrap());
    assert_eq!(
        std::fs::read(&backup).unwrap(),
        original,
        "the backup holds the pre-fix bytes"
    );
    assert_eq!(j["backup"]["sha256"], j["database"]["sha256_before"]);
    assert_eq!(
        std::fs::metadata(&backup).unwrap().permissions().mode() & 0o777,
        0o600,
        "it holds secrets"
    );
    assert_ne!(std::fs::read(&d.db).unwrap(), original);

    let listed = ozrepair(["backups", "--output", "json"]).on(&e).run();
    assert_eq!(listed.code, 0, "{listed:?}");
    assert_eq!(
        listed.json()["backups"].as_array().map(|a| a.len()),
        Some(1)
    );

    // Restoring brings back the broken issuer, so the container crash-loops again: not watched here.
    let restore = ozrepair(["restore", "--yes", "--wait", "0"]).on(&e).run();
    assert_eq!(restore.code, 0, "{restore:?}");
    assert_eq!(
        std::fs::read(&d.db).unwrap(),
        original,
        "restored byte for byte"
    );
    let m = std::fs::metadata(&d.db).unwrap();
    assert_eq!(
        (m.uid(), m.gid(), m.mode() & 0o777),
        (0, 0, 0o644),
        "owner and mode kept"
    );
});

#[test]
fn db_mode_edits_a_file_without_docker() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("idp.db");
    let okta_cfg = r#"{"clientID":"okta","clientSecret":"another-secret","issuer":"https://acme.okta.com/","redirectURI":"https://vpn/oauth2/callback"}"#;
    DexDb::locked_out()
        .level(23)
        .with(Connector::oidc("okta-abc", "Okta", "4", okta_cfg.into()))
        .owner(1001, 1001)
        .mode(0o600)
        .write(&db);
    let before = rows(&db);
    let files = snapshot(dir.path());
    let run = |args: &[&str]| ozrepair(args).run();
    let dbs = db.to_str().unwrap();

    // Without a container there is no log evidence: inspect finds nothing it can act on, and says the
    // connectors were not checked (exit 5), never healthy.
    let inspect = run(&["--db", dbs, "inspect", "--output", "json"]);
    assert_eq!(inspect.code, 5, "{inspect:?}");
    assert_eq!(inspect.json()["result"], "unchecked", "{inspect:?}");
    assert_eq!(inspect.json()["connectors"][2]["status"], "unknown");
    assert_eq!(inspect.json()["host"], serde_json::Value::Null);

    // --issuer needs --connector when two connectors could take it (usage error, nothing written).
    let ambiguous = run(&["--db", dbs, "fix", "--issuer", JUMPCLOUD_SLASH, "--yes"]);
    assert_eq!(ambiguous.code, 2, "{ambiguous:?}");
    // A change is due and there is no terminal: without --yes it refuses (usage error, nothing written).
    let no_yes_args = [
        "--db",
        dbs,
        "fix",
        "--connector",
        "okta-abc",
        "--issuer",
        "https://acme.okta.com",
    ];
    let no_yes = run(&no_yes_args);
    assert_eq!(no_yes.code, 2, "{no_yes:?}");
    assert!(no_yes.stderr.contains("--yes"), "{no_yes:?}");
    // Nor is a "y" piped in an answer: only a terminal is asked.
    let piped_yes = ozrepair(no_yes_args).stdin("y\n").run();
    assert_eq!(piped_yes.code, 2, "{piped_yes:?}");
    assert!(piped_yes.stderr.contains("--yes"), "{piped_yes:?}");
    assert_eq!(snapshot(dir.path()), files);

    let fix = run(&[
        "fix",
        "--db",
        dbs,
        "--connector",
        "okta-abc",
        "--issuer",
        "https://acme.okta.com",
        "--yes",
        "--output",
        "json",
    ]);
    assert_eq!(fix.code, 0, "{fix:?}");
    assert_eq!(fix.json()["result"], "fixed");
    assert_eq!(fix.json()["changes"][0]["source"], "explicit");
    let after = rows(&db);
    assert_eq!(
        &after[..2],
        &before[..2],
        "the other rows are byte-identical"
    );
    assert_eq!(after[2].storage, "blob");
    assert_eq!(
        after[2].config,
        okta_cfg
            .replace("https://acme.okta.com/", "https://acme.okta.com")
            .into_bytes()
    );
    assert_eq!(
        after[2].resource_version, "5",
        "a numeric resource_version goes up by one"
    );
    let m = std::fs::metadata(&db).unwrap();
    assert_eq!(
        (m.uid(), m.gid(), m.mode() & 0o777),
        (1001, 1001, 0o600),
        "owner and mode kept"
    );
    assert!(
        dir.path().join("ozrepair-backups").is_dir(),
        "the backup goes beside the database"
    );

    let again = run(&[
        "fix",
        "--db",
        dbs,
        "--connector",
        "okta-abc",
        "--issuer",
        "https://acme.okta.com",
        "--yes",
    ]);
    assert_eq!(again.code, 0, "{again:?}");
    assert_eq!(rows(&db), after);
}

#[test]
fn no_client_secret_in_any_output() {
    let e = Engine::start();
    let _d = locked_out(&e);
    let mut outputs = Vec::new();
    for args in [
        &["inspect"][..],
        &["inspect", "--output", "json"],
        &["fix", "--dry-run"],
        &["fix", "--dry-run", "--output", "json"],
        &["fix", "--dry-run", "--connector", "nope"],
        &["fix"],
        &["fix", "--yes"],
        &["fix", "--yes", "--output", "json"],
        &["backups"],
        &["backups", "--output", "json"],
        &["backup"],
        &["backup", "--yes"],
        &["backup", "--yes", "--output", "json"],
        &["restore", "--yes", "--wait", "0"],
        &["restore", "--yes", "--wait", "0", "--output", "json"],
        &["restore", "--backup", "/nonexistent", "--yes"],
        &[
            "fix",
            "--set",
            "d4s1a2b3c4d5e6f7g8h9.clientSecret=x",
            "--yes",
        ],
        &[
            "fix",
            "--issuer",
            "https://x",
            "--connector",
            "d4s1a2b3c4d5e6f7g8h9",
            "--yes",
            "--wait",
            "1",
        ],
    ] {
        let r = ozrepair(args).on(&e).run();
        outputs.push((args.join(" "), r.all()));
    }
    assert!(
        outputs.iter().any(|(_, o)| o.contains("JumpCloud")),
        "the runs printed the connectors"
    );
    for (args, out) in &outputs {
        assert!(
            !out.contains(SECRET),
            "`ozrepair {args}` printed the client secret:\n{out}"
        );
    }
}

#[test]
fn a_non_dex_database_is_refused_unchanged() {
    let e = Engine::start();
    e.docker_ok(&["volume", "create", "root_openzro_management"]);
    let mp = std::path::PathBuf::from(e.docker_ok(&[
        "volume",
        "inspect",
        "-f",
        "{{.Mountpoint}}",
        "root_openzro_management",
    ]));
    let db = mp.join("idp.db");
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute_batch("create table connector (id text primary key, kind text); insert into connector values ('a','b');").unwrap();
    drop(conn);
    e.docker_ok(&[
        "run",
        "-d",
        "--pull",
        "never",
        "--network",
        "none",
        "--name",
        "openzro-management",
        "-v",
        "root_openzro_management:/var/lib/openzro",
        "-e",
        "STANDIN_DB=/var/lib/openzro/idp.db",
        IMAGE,
    ]);
    let files = snapshot(&mp);
    let run = ozrepair(["fix", "--yes", "--volume", "root_openzro_management"])
        .on(&e)
        .run();
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("is not a Dex database"), "{run:?}");
    assert!(run.stderr.contains("nothing was changed"), "{run:?}");
    assert_eq!(run.stderr.lines().count(), 1, "one line: {run:?}");
    assert_eq!(snapshot(&mp), files);
}

on_both_engines!(
    /// A management directory of the host bind-mounted into the container (`-v /srv/openzro:…`): found,
    /// fixed with no flags, owner and mode kept, the report names the host path and no volume.
    a_bind_mounted_database_is_fixed_with_no_flags,
    |e| {
        let dir = tempfile::tempdir().unwrap();
        let d = Deployment::create_bind(&OPENZRO, &DexDb::locked_out().mode(0o640), dir.path());
        d.run(&e, &[("STANDIN_PUBLISHED", JUMPCLOUD_SLASH)]);
        d.wait_restarts(&e, 2);
        let before = rows(&d.db);
        let run = ozrepair(["fix", "--yes", "--output", "json"]).on(&e).run();
        assert_eq!(run.code, 0, "{run:?}");
        let j = run.json();
        assert_eq!(j["result"], "fixed", "{run:?}");
        assert_eq!(j["database"]["volume"], serde_json::Value::Null);
        assert_eq!(j["database"]["path"], d.db.display().to_string());
        assert_eq!(rows(&d.db), after_fix(&before));
        assert_eq!(rows(&d.db)[1].storage, "blob");
        let m = std::fs::metadata(&d.db).unwrap();
        assert_eq!((m.uid(), m.gid(), m.mode() & 0o7777), (0, 0, 0o640));
        d.wait_ready(&e);
        assert_eq!(d.state(&e).status, "running");
        d.remove(&e);
    }
);

on_both_engines!(
    /// `fix --yes` with no flags on fresh crash loops: each one fixed, the value still a BLOB, the container
    /// running with a steady restart count; a second fix has nothing to do. On Docker too, whose stop is
    /// taken as holding after one more look.
    fix_with_no_flags_fixes_fresh_crash_loops,
    |e| {
        for n in 0..20 {
            let d = locked_out(&e);
            let before = rows(&d.db);
            let fix = ozrepair(["fix", "--yes", "--output", "json"]).on(&e).run();
            assert_eq!(fix.code, 0, "loop {n}: {fix:?}");
            assert_eq!(fix.json()["result"], "fixed", "loop {n}: {fix:?}");
            assert_eq!(rows(&d.db), after_fix(&before), "loop {n}");
            assert_eq!(rows(&d.db)[1].storage, "blob");
            d.wait_ready(&e);
            let up = d.state(&e);
            assert_eq!(up.status, "running", "loop {n}");
            let again = ozrepair(["fix", "--yes", "--output", "json"]).on(&e).run();
            assert_eq!(again.code, 0, "loop {n}: {again:?}");
            assert_eq!(again.json()["result"], "healthy", "loop {n}: {again:?}");
            assert_eq!(d.state(&e), up, "loop {n}: the restart count is steady");
            d.remove(&e);
        }
    }
);
