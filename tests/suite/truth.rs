//! What the report says is what happened: never `healthy` (or a monitoring OK) without evidence from this
//! run, the monitoring formats' states for every result, `--set` validated as `--issuer` is, and who said
//! each value. Driven through the real binary on Dex databases with `--db` (no logs: nothing vouches for
//! a connector unless `--discover` or `--issuer` checks it).

use crate::util::command::ozrepair;
use crate::util::http::Discovery;
use crate::util::seed::{rows, Connector, DexDb, JC_ID};
use std::path::{Path, PathBuf};

/// A locked-out database in its own directory.
fn db(d: &DexDb) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("idp.db");
    d.write(&path);
    (dir, path)
}

fn on(db: &Path) -> String {
    db.display().to_string()
}

#[test]
fn without_evidence_inspect_says_unchecked_never_healthy() {
    let (_dir, db) = db(&DexDb::locked_out());
    for args in [&["inspect"][..], &["fix", "--dry-run"]] {
        let mut argv: Vec<String> = vec!["--db".into(), on(&db), "--output".into(), "json".into()];
        argv.extend(args.iter().map(|a| a.to_string()));
        let run = ozrepair(&argv).run();
        assert_eq!(run.code, 5, "{args:?}: not checked is exit 5: {run:?}");
        let j = run.json();
        assert_eq!(j["result"], "unchecked", "{run:?}");
        assert_eq!(j["runtime"], "none");
        assert_eq!(j["store"], "sqlite");
        let jc = j["connectors"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == JC_ID)
            .unwrap()
            .clone();
        assert_eq!(jc["status"], "unknown", "{jc}");
        assert!(jc["checked_by"].is_null(), "nothing checked it: {jc}");
        let local = &j["connectors"][0];
        assert_eq!(local["status"], "ok", "Dex's own password connector");
        let notes = j["notes"].to_string();
        assert!(notes.contains("not checked"), "{notes}");
        assert!(
            notes.contains("--discover"),
            "what would check them: {notes}"
        );
    }
    // The text says so too, and never "healthy".
    let text = ozrepair(["--db", &on(&db), "inspect"]).run();
    assert_eq!(text.code, 5, "{text:?}");
    assert!(!text.stdout.contains("healthy"), "{}", text.stdout);
    assert!(
        text.stdout.contains("result      unchecked"),
        "{}",
        text.stdout
    );
    assert!(text.stdout.contains("1 not checked"), "{}", text.stdout);
}

#[test]
fn a_providers_discovery_document_is_evidence() {
    let idp = Discovery::start();
    let issuer = format!("{}/jc", idp.base());
    idp.publish("/jc", &issuer);
    let config = format!(
        r#"{{"clientID":"c","issuer":"{issuer}","redirectURI":"https://vpn.example.com/cb"}}"#
    );
    let (_dir, db) = db(&DexDb::new(11).connectors([
        Connector::local(),
        Connector::oidc("jc", "JumpCloud", "", config),
    ]));
    let run = ozrepair([
        "--db",
        &on(&db),
        "--output",
        "json",
        "inspect",
        "--discover",
    ])
    .run();
    assert_eq!(run.code, 0, "{run:?}");
    let j = run.json();
    assert_eq!(j["result"], "healthy", "{run:?}");
    assert_eq!(j["connectors"][1]["status"], "ok");
    assert_eq!(
        j["connectors"][1]["checked_by"],
        "the provider's discovery document"
    );
}

#[test]
fn nagios_is_never_ok_while_a_connector_is_unknown_or_unparseable() {
    let (_dir, db) = db(&DexDb::locked_out().with(Connector::oidc(
        "broken",
        "Broken",
        "",
        r#"{"issuer":"https://idp.example.com","claimModifications":{"filterGroupClaims":{"groupsFilter":5}}}"#.into(),
    )));
    let run = ozrepair(["--db", &on(&db), "--output", "nagios", "inspect"]).run();
    assert!(!run.stdout.starts_with("OZREPAIR OK"), "{}", run.stdout);
    assert_ne!(run.code, 0, "{run:?}");
    // A connector ozrepair cannot change is action needed: CRITICAL.
    assert!(
        run.stdout.starts_with("OZREPAIR CRITICAL"),
        "{}",
        run.stdout
    );
    assert_eq!(run.code, 2, "{run:?}");
    let json = ozrepair(["--db", &on(&db), "--output", "json", "inspect"]).run();
    assert_eq!(json.json()["result"], "action_needed", "{json:?}");
    assert_eq!(json.code, 6);
    // Without a broken one, but unchecked: UNKNOWN, never OK.
    let (_d2, plain) = self::db(&DexDb::locked_out());
    let unknown = ozrepair(["--db", &on(&plain), "--output", "nagios", "inspect"]).run();
    assert!(
        unknown.stdout.starts_with("OZREPAIR UNKNOWN"),
        "{}",
        unknown.stdout
    );
    assert_eq!(unknown.code, 3);
}

#[test]
fn backups_and_restore_refuse_the_monitoring_formats_and_usage_errors_are_unknown() {
    let (_dir, db) = db(&DexDb::locked_out());
    for cmd in ["backups", "restore", "backup"] {
        let n = ozrepair(["--db", &on(&db), "--output", "nagios", cmd]).run();
        assert!(
            n.stdout.starts_with("OZREPAIR UNKNOWN"),
            "{cmd}: {}",
            n.stdout
        );
        assert_eq!(n.code, 3, "{cmd}: {n:?}");
        assert!(n.stdout.contains("not a check"), "{cmd}: {}", n.stdout);
        let p = ozrepair(["--db", &on(&db), "--output", "prometheus", cmd]).run();
        assert_eq!(p.code, 2, "{cmd}: {p:?}");
        assert!(
            p.stdout
                .contains("ozrepair_check_result{result=\"failed\"} 1"),
            "{cmd}: {}",
            p.stdout
        );
    }
    // A command line clap refuses, with --output nagios: the plugin's UNKNOWN line, exit 3.
    let bad = ozrepair(["--output", "nagios", "inspect", "--no-such-flag"]).run();
    assert_eq!(bad.code, 3, "{bad:?}");
    assert!(
        bad.stdout.starts_with("OZREPAIR UNKNOWN - "),
        "{}",
        bad.stdout
    );
}

#[test]
fn prometheus_says_when_the_store_could_not_be_read() {
    let run = ozrepair([
        "--db",
        "/nonexistent/idp.db",
        "--output",
        "prometheus",
        "inspect",
    ])
    .run();
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stdout.contains("\nozrepair_store_read 0\n"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("ozrepair_check_result{result=\"failed\"} 1"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("ozrepair_connectors{status=\"unknown\"} 0"),
        "{}",
        run.stdout
    );
    // Read: a series for every connector, whatever its status.
    let (_dir, db) = db(&DexDb::locked_out());
    let ok = ozrepair(["--db", &on(&db), "--output", "prometheus", "inspect"]).run();
    assert!(
        ok.stdout.contains("\nozrepair_store_read 1\n"),
        "{}",
        ok.stdout
    );
    assert!(
        ok.stdout.contains(&format!(
            "ozrepair_connector_status{{connector=\"{JC_ID}\",type=\"oidc\",status=\"unknown\"}} 1"
        )),
        "{}",
        ok.stdout
    );
}

#[test]
fn set_validates_a_url_field_as_issuer_is_validated() {
    let (_dir, db) = db(&DexDb::locked_out());
    let before = std::fs::read(&db).unwrap();
    for (set, says) in [
        (format!("{JC_ID}.issuer=not a url"), "issuer"),
        (format!("{JC_ID}.issuer="), "issuer is empty"),
        (
            format!("{JC_ID}.redirectURI=vpn.example.com/cb"),
            "redirectURI",
        ),
        (format!("{JC_ID}.clientID="), "clientID is empty"),
    ] {
        let run = ozrepair(["--db", &on(&db), "fix", "--yes", "--set", &set]).run();
        assert_eq!(run.code, 2, "{set}: {run:?}");
        let first = run.stderr.lines().next().unwrap_or_default();
        assert!(first.contains(says), "{set}: {run:?}");
        assert!(first.contains("nothing was changed"), "{set}: {run:?}");
    }
    // A refused value is never echoed (it may hold a secret): not by clap, not by ozrepair.
    for set in [
        format!("{JC_ID}.clientSecret=hunter2-never-printed"),
        format!("{JC_ID}.redirectURI=hunter2-never-printed"),
        "hunter2-never-printed".to_string(),
    ] {
        let run = ozrepair(["--db", &on(&db), "fix", "--yes", "--set", &set]).run();
        assert_eq!(run.code, 2, "{set}: {run:?}");
        assert!(
            !run.all().contains("hunter2"),
            "{set}: the value was printed: {run:?}"
        );
        let json = ozrepair([
            "--db",
            &on(&db),
            "--output",
            "json",
            "fix",
            "--yes",
            "--set",
            &set,
        ])
        .run();
        assert!(!json.all().contains("hunter2"), "{set}: {json:?}");
    }
    assert_eq!(std::fs::read(&db).unwrap(), before, "nothing written");
}

#[test]
fn the_report_says_who_said_what_and_shows_the_state_after_a_change() {
    let (_dir, db) = db(&DexDb::locked_out());
    let to = "https://oauth.id.jumpcloud.com/";
    let dry = ozrepair([
        "--db",
        &on(&db),
        "--output",
        "json",
        "fix",
        "--dry-run",
        "--connector",
        JC_ID,
        "--issuer",
        to,
    ])
    .run();
    assert_eq!(dry.code, 3, "{dry:?}");
    let j = dry.json();
    let jc = &j["connectors"][1];
    let problem = jc["problem"].as_str().unwrap_or_default();
    assert!(problem.contains("--issuer sets"), "{problem}");
    assert!(
        !problem.contains("provider publishes"),
        "the operator said it: {problem}"
    );
    assert_eq!(jc["checked_by"], "the value given with --issuer");
    assert_eq!(j["changes"][0]["source"], "explicit");

    let fix = ozrepair([
        "--db",
        &on(&db),
        "--output",
        "json",
        "fix",
        "--yes",
        "--connector",
        JC_ID,
        "--issuer",
        to,
    ])
    .run();
    assert_eq!(fix.code, 0, "{fix:?}");
    let j = fix.json();
    assert_eq!(j["result"], "fixed");
    let jc = &j["connectors"][1];
    assert_eq!(jc["status"], "ok", "the state after the change: {jc}");
    assert_eq!(jc["status_before"], "mismatch", "{jc}");
    assert!(
        jc["checked_by"]
            .as_str()
            .unwrap_or_default()
            .contains("read back"),
        "{jc}"
    );
    let r = rows(&db);
    assert!(r[1].config_text().contains(to));
    // The text table is the state after, with the state before beside it.
    let (_d2, db2) = self::db(&DexDb::locked_out());
    let text = ozrepair([
        "--db",
        &on(&db2),
        "fix",
        "--yes",
        "--connector",
        JC_ID,
        "--issuer",
        to,
    ])
    .run();
    assert_eq!(text.code, 0, "{text:?}");
    assert!(text.stdout.contains("after the change"), "{}", text.stdout);
    assert!(
        !text.stdout.contains("as found, before the change"),
        "{}",
        text.stdout
    );
    assert!(text.stdout.contains("mismatch  ok"), "{}", text.stdout);
}
