//! The seed scenarios against the stand-in built from the real Go libraries (tests/standin-go: go-oidc's
//! `NewProvider` against discovery documents it serves itself, logrus's text, JSON and NetBird's line
//! format, encoding/json, go-sqlite3): inspect and `fix --dry-run` change nothing, `fix --yes` with no
//! flags corrects exactly the one wrong connector (its key spelled `Issuer`, as Go's decoder accepts), and
//! a second fix has nothing to do. Each format runs fatal (NetBird up to v0.65.1: the container
//! crash-loops) and continue (v0.65.2+: it logs and keeps serving), each with a hostile issuer, one of
//! them making a log line longer than the engine's 16 KiB entries.

use crate::util::command::ozrepair;
use crate::util::deploy::{Deployment, OPENZRO};
use crate::util::engine::{events_mark, Engine, GO_IMAGE};
use crate::util::poll;
use crate::util::seed::{rows, Connector, DexDb, SECRET};
use crate::util::snapshot::snapshot;
use std::time::Duration;

const GOOD: &str = "https://idp-good.example.com/realms/main";
const WRONG_ID: &str = "hostile-oidc-1";

/// The two bytes runs around the issuer's value in the wrong connector's config.
fn around() -> (String, String) {
    (
        format!(r#"{{"clientID":"ozr-go","clientSecret":"{SECRET}","Issuer":"#),
        r#","redirectURI":"https://vpn.example.com/oauth2/callback"}"#.to_string(),
    )
}

fn wrong_config(issuer: &str) -> String {
    let (head, tail) = around();
    format!("{head}{}{tail}", serde_json::to_string(issuer).unwrap())
}

fn good_config() -> String {
    format!(
        r#"{{"clientID":"ozr-good","clientSecret":"{SECRET}-good","issuer":"{GOOD}","redirectURI":"https://vpn.example.com/oauth2/callback"}}"#
    )
}

/// One deployment of the Go stand-in: `format`, fatal or continue, the wrong connector storing `stored`
/// while its provider publishes it with a trailing slash.
fn scenario(format: &str, on_failure: &str, millis: bool, stored: &str) {
    let e = Engine::start();
    e.import_go_standin();
    let published = format!("{stored}/");
    let db = DexDb::new(11).connectors([
        Connector::local(),
        Connector::oidc("good-oidc-1", "Good", "", good_config()),
        Connector::oidc(WRONG_ID, "Hostile", "", wrong_config(stored)),
    ]);
    let d = Deployment::create(&e, &OPENZRO, &db);
    let published_json = serde_json::to_string(&[GOOD, published.as_str()]).unwrap();
    d.run_image(
        &e,
        GO_IMAGE,
        &[
            ("STANDIN_FORMAT", format),
            ("STANDIN_ON_FAILURE", on_failure),
            ("STANDIN_MILLIS", if millis { "1" } else { "0" }),
            ("STANDIN_PUBLISHED_JSON", &published_json),
        ],
        &[],
    );
    let fatal = on_failure == "fatal";
    if fatal {
        d.wait_restarts(&e, 2);
    } else {
        d.wait_ready(&e);
    }
    let before = rows(&d.db);
    let files = snapshot(&d.mountpoint);
    let since = events_mark();
    let state = d.state(&e);

    // inspect and the dry run: the one change, from the container's own line; nothing written or stopped.
    let inspect = ozrepair(["inspect", "--output", "json"]).on(&e).run();
    assert_eq!(inspect.code, 3, "{format}/{on_failure}: {inspect:?}");
    let j = inspect.json();
    assert_eq!(j["result"], "pending");
    assert_eq!(j["changes"].as_array().map(Vec::len), Some(1), "{j}");
    assert_eq!(j["changes"][0]["connector"], WRONG_ID);
    assert_eq!(j["changes"][0]["field"], "issuer");
    assert_eq!(j["changes"][0]["from"], stored);
    assert_eq!(j["changes"][0]["to"], published.as_str());
    assert_eq!(j["changes"][0]["source"], "logs");
    // The good connector: ok while the container serves; unknown while it crash-loops (nothing says yet).
    let good = if fatal { "unknown" } else { "ok" };
    assert_eq!(j["connectors"][1]["status"], good, "{j}");
    assert_eq!(j["connectors"][2]["status"], "mismatch", "{j}");
    let dry = ozrepair(["fix", "--dry-run", "--output", "json"])
        .on(&e)
        .run();
    assert_eq!(dry.code, 3, "{dry:?}");
    // In a crash loop each look reads the latest run: the same change, from a line of another stamp.
    assert_eq!(unstamped(&dry.json()["changes"]), unstamped(&j["changes"]));
    assert_eq!(
        snapshot(&d.mountpoint),
        files,
        "nothing in the volume changed"
    );
    assert_eq!(
        e.stop_events(&d.container, &since),
        Vec::<String>::new(),
        "nothing stopped it"
    );
    if !fatal {
        assert_eq!(
            d.state(&e),
            state,
            "the serving container was not restarted"
        );
    }

    // fix with no flags: only the value's bytes change, the key keeps its capital, still a BLOB.
    let fix = ozrepair(["fix", "--yes", "--output", "json"]).on(&e).run();
    assert_eq!(fix.code, 0, "{format}/{on_failure}: {fix:?}");
    assert_eq!(fix.json()["result"], "fixed");
    let after = rows(&d.db);
    assert_eq!(
        after[..2],
        before[..2],
        "the other connectors are untouched"
    );
    assert_eq!(after[2].storage, "blob");
    let config = after[2].config_text();
    let (head, tail) = around();
    assert!(
        config.starts_with(&head) && config.ends_with(&tail),
        "only the value changed: {config}"
    );
    let value: String =
        serde_json::from_str(&config[head.len()..config.len() - tail.len()]).unwrap();
    assert_eq!(value, published);
    d.wait_ready(&e);
    let up = d.state(&e);
    assert_eq!(up.status, "running");

    // A second run finds nothing to do and writes nothing.
    let files = snapshot(&d.mountpoint);
    let again = ozrepair(["fix", "--yes", "--output", "json"]).on(&e).run();
    assert_eq!(again.code, 0, "{again:?}");
    assert_eq!(again.json()["result"], "healthy");
    assert_eq!(again.json()["changes"], serde_json::json!([]));
    assert_eq!(snapshot(&d.mountpoint), files);
    assert_eq!(d.state(&e), up, "the healthy container was left alone");
}

#[test]
fn logrus_text_fatal_with_quotes_and_backslashes() {
    scenario(
        "text",
        "fatal",
        false,
        r#"https://idp.example.com/realms/"quoted"\back"#,
    );
}

#[test]
fn logrus_json_fatal_with_non_ascii() {
    scenario(
        "json",
        "fatal",
        false,
        "https://idp.example.com/réalms/ünïcode/日本",
    );
}

#[test]
fn netbird_lines_fatal_in_milliseconds_with_percent_escapes() {
    scenario(
        "netbird",
        "fatal",
        true,
        "https://idp.example.com/a%20b/100%25",
    );
}

#[test]
fn logrus_text_continue_with_a_line_over_16_kib() {
    let long = format!("https://idp.example.com/{}", "x".repeat(17_000));
    scenario("text", "continue", false, &long);
}

#[test]
fn logrus_json_continue_with_a_line_separator_and_emoji() {
    scenario(
        "json",
        "continue",
        false,
        "https://idp.example.com/line\u{2028}sep/😀",
    );
}

#[test]
fn netbird_lines_continue_with_a_space() {
    scenario(
        "netbird",
        "continue",
        true,
        "https://idp.example.com/with space",
    );
}

/// A container whose every run says it is serving and then dies (the Go stand-in's ready-then-crash
/// mode, under `--restart always`): the ready lines are from runs that died, so no look at it may say
/// healthy, again and again, and `fix` has nothing to write and says it failed.
#[test]
fn ready_lines_of_runs_that_died_never_make_it_healthy() {
    let e = Engine::start();
    e.import_go_standin();
    let db = DexDb::new(11).connectors([
        Connector::local(),
        Connector::oidc("good-oidc-1", "Good", "", good_config()),
    ]);
    let d = Deployment::create(&e, &OPENZRO, &db);
    d.run_image(
        &e,
        GO_IMAGE,
        &[
            ("STANDIN_FORMAT", "netbird"),
            ("STANDIN_PUBLISHED", GOOD),
            ("STANDIN_READY_THEN_CRASH", "1"),
            ("STANDIN_CRASH_AFTER_MS", "300"),
        ],
        &[],
    );
    d.wait_restarts(&e, 2);
    d.wait_ready(&e);
    let files = snapshot(&d.mountpoint);
    // Each look is taken right when a new run has started (running, its ready line about to come or just
    // out): the moment a look at the state alone would call healthy.
    let mut seen = d.state(&e).started_at;
    for n in 0..5 {
        let run = poll(
            "a new run of the container",
            Duration::from_secs(60),
            || {
                let s = d.state(&e);
                (s.status == "running" && s.started_at != seen).then_some(s)
            },
        );
        seen = run.started_at;
        let r = ozrepair(["inspect", "--output", "json"]).on(&e).run();
        assert_eq!(r.code, 1, "look {n}: {r:?}");
        assert_eq!(r.json()["result"], "failed", "look {n}: {r:?}");
    }
    let fix = ozrepair(["fix", "--yes", "--output", "json"]).on(&e).run();
    assert_eq!(fix.code, 1, "{fix:?}");
    assert_eq!(fix.json()["changes"], serde_json::json!([]));
    assert_eq!(snapshot(&d.mountpoint), files, "nothing was written");
}

/// A `"\u0131ssuer"` decoy (dotless ı) after the real issuer, against the Go stand-in: Go 1.21+ folds ı
/// to itself, so the stand-in (like Dex) reads the real issuer and go-oidc logs its mismatch. ozrepair
/// reads the same issuer, corrects exactly its bytes from that log line, leaves the decoy, and the
/// container comes up: fixed. (Folding ı into `I`, ozrepair took the decoy for the issuer and found no
/// connector for the log line.)
#[test]
fn a_dotless_i_decoy_is_neither_read_nor_rewritten() {
    const STORED: &str = "https://idp-decoy.example.com/realms/main";
    let e = Engine::start();
    e.import_go_standin();
    let published = format!("{STORED}/");
    let config = format!(
        r#"{{"clientID":"ozr-go","clientSecret":"{SECRET}","issuer":"{STORED}","redirectURI":"https://vpn.example.com/oauth2/callback","\u0131ssuer":"https://decoy.example.com"}}"#
    );
    let db = DexDb::new(11).connectors([
        Connector::local(),
        Connector::oidc("good-oidc-1", "Good", "", good_config()),
        Connector::oidc(WRONG_ID, "Decoy", "", config.clone()),
    ]);
    let d = Deployment::create(&e, &OPENZRO, &db);
    let published_json = serde_json::to_string(&[GOOD, published.as_str()]).unwrap();
    d.run_image(
        &e,
        GO_IMAGE,
        &[
            ("STANDIN_FORMAT", "json"),
            ("STANDIN_ON_FAILURE", "continue"),
            ("STANDIN_PUBLISHED_JSON", &published_json),
        ],
        &[],
    );
    d.wait_ready(&e);
    let inspect = ozrepair(["inspect", "--output", "json"]).on(&e).run();
    assert_eq!(inspect.code, 3, "{inspect:?}");
    let j = inspect.json();
    assert_eq!(j["connectors"][2]["issuer"], STORED, "{j}");
    assert_eq!(j["changes"][0]["from"], STORED, "{j}");
    assert_eq!(j["changes"][0]["to"], published.as_str(), "{j}");

    let fix = ozrepair(["fix", "--yes", "--output", "json"]).on(&e).run();
    assert_eq!(fix.code, 0, "{fix:?}");
    assert_eq!(fix.json()["result"], "fixed");
    let after = rows(&d.db);
    assert_eq!(
        after[2].config_text(),
        config.replacen(
            &format!(r#""issuer":"{STORED}""#),
            &format!(r#""issuer":"{published}""#),
            1
        ),
        "only the real issuer's bytes changed; the decoy is as it was"
    );
    assert_eq!(after[2].resource_version, "1", "'' counts as 0, as in Dex");
    d.wait_ready(&e);
    let again = ozrepair(["fix", "--yes", "--output", "json"]).on(&e).run();
    assert_eq!(again.code, 0, "{again:?}");
    assert_eq!(again.json()["changes"], serde_json::json!([]));
}

/// A report's changes with each evidence's stamp (`container log <stamp>: …`) taken out.
fn unstamped(changes: &serde_json::Value) -> serde_json::Value {
    let mut c = changes.clone();
    for change in c.as_array_mut().into_iter().flatten() {
        if let Some(ev) = change["evidence"].as_str() {
            let cut = match ev.split_once(": ") {
                Some((head, rest)) if head.starts_with("container log ") => rest.to_string(),
                _ => ev.to_string(),
            };
            change["evidence"] = cut.into();
        }
    }
    c
}
