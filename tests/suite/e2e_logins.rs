//! End to end, on Docker and Podman: a deployment that runs and fails logins. The Go stand-in (the real
//! golang/oauth2, go-oidc and logrus) serves its own provider on this machine's loopback (an RFC 6749
//! token endpoint answering as Entra does) and logs users in through each connector while it runs, as
//! Dex does at login time: one connector's secret was rotated at the provider, one's expired, one's
//! redirect URI is of a domain the deployment left, one works. `inspect` reports each failure with its
//! cause, count and last time, names the command that repairs it, and vouches for the one that logs in;
//! `fix` plans nothing for any of them (it never guesses a secret), writes nothing and stops nothing.
//! Docker reads NetBird's line format with golang/oauth2 0.3's error (whose line break splits the line
//! through the engine's log API), Podman logrus's JSON with the error as oauth2 v0.35 prints it.

use crate::util::command::{ozrepair, Run};
use crate::util::deploy::{Deployment, OPENZRO};
use crate::util::engine::{events_mark, free_port, Engine, GO_IMAGE};
use crate::util::hash::sha256_hex;
use crate::util::poll;
use crate::util::seed::{Connector, DexDb};
use std::time::Duration;

/// Dex's own issuer in these deployments (its callback is `<issuer>/callback`).
pub const DEX_ISSUER: &str = "https://vpn.example.com/oauth2";
/// The secret the provider now holds for the rotated connector; the one the connector still stores.
pub const NEW_SECRET: &str = "new-provider-secret-6d1f0b93a7c2e48f";
pub const OLD_SECRET: &str = "old-rotated-secret-2b7e51c0d94af836";
pub const EXPIRED_SECRET: &str = "expired-secret-a0c3f9e17b264d58";
pub const RIGHT_SECRET: &str = "right-secret-5e8d2c7a1f90b364";

/// A deployment of the Go stand-in on host networking, with its provider at `issuer`.
pub struct Lab {
    pub e: Engine,
    pub d: Deployment,
    /// The provider's issuer (`http://127.0.0.1:PORT/realms/corp`).
    #[allow(dead_code)]
    pub issuer: String,
}

impl Lab {
    /// The four connectors (and `local`), the stand-in logging in `rounds` times through each, in
    /// `format`, with golang/oauth2's error as `form` prints it.
    pub fn start(e: Engine, format: &str, form: &str, rounds: usize) -> Lab {
        e.import_go_standin();
        let port = free_port();
        let issuer = format!("http://127.0.0.1:{port}/realms/corp");
        let cfg = |client: &str, secret: &str, redirect: &str| {
            serde_json::json!({
                "clientID": client, "clientSecret": secret, "issuer": issuer, "redirectURI": redirect,
                "scopes": ["openid", "email"],
            })
            .to_string()
        };
        let callback = format!("{DEX_ISSUER}/callback");
        let db = DexDb::new(11).connectors([
            Connector::local(),
            Connector::oidc(
                "rotated",
                "Rotated",
                "",
                cfg("nb-rotated", OLD_SECRET, &callback),
            ),
            Connector::oidc(
                "expired",
                "Expired",
                "",
                cfg("nb-expired", EXPIRED_SECRET, &callback),
            ),
            Connector::oidc(
                "moved",
                "Moved",
                "",
                cfg(
                    "nb-moved",
                    RIGHT_SECRET,
                    "https://old-vpn.example.com/oauth2/callback",
                ),
            ),
            Connector::oidc(
                "healthy",
                "Healthy",
                "",
                cfg("nb-healthy", RIGHT_SECRET, &callback),
            ),
        ]);
        let d = Deployment::create(&e, &OPENZRO, &db);
        let clients = serde_json::json!({
            "nb-rotated": NEW_SECRET, "nb-expired": EXPIRED_SECRET, "nb-moved": RIGHT_SECRET,
            "nb-healthy": RIGHT_SECRET,
        })
        .to_string();
        let published = serde_json::json!([issuer]).to_string();
        let expired = serde_json::json!([EXPIRED_SECRET]).to_string();
        let addr = format!("127.0.0.1:{port}");
        let rounds = rounds.to_string();
        d.run_image_on(
            &e,
            GO_IMAGE,
            "host",
            &[
                ("STANDIN_FORMAT", format),
                ("STANDIN_ON_FAILURE", "continue"),
                ("STANDIN_PUBLISHED_JSON", &published),
                ("STANDIN_DISCOVERY_ADDR", &addr),
                ("STANDIN_CLIENTS", &clients),
                ("STANDIN_EXPIRED_SECRETS", &expired),
                ("STANDIN_PROVIDER", "entra"),
                ("STANDIN_LOGINS", &rounds),
                ("STANDIN_LOGIN_EVERY_MS", "250"),
                ("STANDIN_DEX_ISSUER", DEX_ISSUER),
                ("STANDIN_OAUTH2_ERRORS", form),
            ],
            &[],
        );
        let lab = Lab { e, d, issuer };
        lab.wait_logins("login successful", 2);
        lab
    }

    /// Waits until the container's log holds `text` at least `n` times.
    pub fn wait_logins(&self, text: &str, n: usize) {
        poll(
            "the stand-in to log its logins",
            Duration::from_secs(60),
            || {
                let out = self.e.docker(&["logs", &self.d.container]);
                let all = format!("{}{}", out.stdout_text(), out.stderr_text());
                (all.matches(text).count() >= n).then_some(())
            },
        );
    }
}

/// No secret of the deployment's appears in anything a run printed.
pub fn assert_secret_free(run: &Run) {
    let all = run.all();
    for s in [NEW_SECRET, OLD_SECRET, EXPIRED_SECRET, RIGHT_SECRET] {
        assert!(!all.contains(s), "a secret in the output:\n{all}");
        assert!(
            !all.contains(&s[..12]),
            "the start of a secret in the output:\n{all}"
        );
    }
}

fn failure<'j>(j: &'j serde_json::Value, connector: &str) -> &'j serde_json::Value {
    j["login_failures"]
        .as_array()
        .and_then(|l| l.iter().find(|f| f["connector"] == connector))
        .unwrap_or_else(|| panic!("no login failures of {connector} in {j}"))
}

fn connector<'j>(j: &'j serde_json::Value, id: &str) -> &'j serde_json::Value {
    j["connectors"]
        .as_array()
        .and_then(|l| l.iter().find(|c| c["id"] == id))
        .unwrap_or_else(|| panic!("no connector {id} in {j}"))
}

fn scenario(e: Engine, format: &str, form: &str) {
    let lab = Lab::start(e, format, form, 12);
    let (e, d) = (&lab.e, &lab.d);
    lab.wait_logins("failed to authenticate", 6);
    let sha = sha256_hex(&std::fs::read(&d.db).unwrap());
    let since = events_mark();

    let inspect = ozrepair(["inspect", "--output", "json"]).on(e).run();
    assert_eq!(inspect.code, 6, "{inspect:?}");
    let j = inspect.json();
    assert_eq!(j["result"], "action_needed", "{j}");
    assert_eq!(j["changes"], serde_json::json!([]));

    let rotated = failure(&j, "rotated");
    assert_eq!(rotated["cause"], "wrong_secret", "{rotated}");
    assert_eq!(rotated["code"], "AADSTS7000215", "{rotated}");
    assert!(rotated["count"].as_u64().unwrap() >= 2, "{rotated}");
    let last = rotated["last"].as_str().unwrap();
    assert!(
        last.starts_with("20") && last.contains('T') && last.ends_with('Z'),
        "the last time is the engine's: {rotated}"
    );
    assert!(
        rotated["repair"]
            .as_str()
            .unwrap()
            .contains("ozrepair secret --connector rotated --secret-file FILE"),
        "{rotated}"
    );
    let expired = failure(&j, "expired");
    assert_eq!(expired["cause"], "expired_secret", "{expired}");
    assert_eq!(expired["code"], "AADSTS7000222", "{expired}");
    assert!(expired["repair"]
        .as_str()
        .unwrap()
        .contains("ozrepair secret --connector expired"));
    let moved = failure(&j, "moved");
    assert_eq!(moved["cause"], "redirect_mismatch", "{moved}");
    assert!(
        moved["repair"].as_str().unwrap().contains(&format!(
            "ozrepair fix --connector moved --set moved.redirectURI={DEX_ISSUER}/callback"
        )),
        "{moved}"
    );
    assert_eq!(j["login_failures"].as_array().unwrap().len(), 3, "{j}");
    for id in ["rotated", "expired", "moved"] {
        let c = connector(&j, id);
        assert_eq!(c["status"], "unknown", "{c}");
        assert_eq!(c["checked_by"], "the IdP's log of logins through it", "{c}");
        assert!(
            c["problem"].as_str().unwrap().contains("time(s), last "),
            "{c}"
        );
    }
    let healthy = connector(&j, "healthy");
    assert_eq!(healthy["status"], "ok", "{healthy}");
    assert_eq!(
        healthy["checked_by"],
        "a login through it that worked (the IdP's log)"
    );
    assert_secret_free(&inspect);

    // The text report names the repair of each.
    let text = ozrepair(["inspect"]).on(e).run();
    assert_eq!(text.code, 6, "{text:?}");
    assert!(
        text.stdout
            .contains("repair: put the provider's current client secret in with `ozrepair secret --connector rotated"),
        "{text:?}"
    );
    assert!(
        text.stdout.contains("expired_secret (AADSTS7000222)"),
        "{text:?}"
    );
    assert_secret_free(&text);

    // fix plans nothing for them: no secret is guessed, nothing is written or stopped.
    let fix = ozrepair(["fix", "--yes", "--output", "json"]).on(e).run();
    assert_eq!(fix.code, 6, "{fix:?}");
    let f = fix.json();
    assert_eq!(f["changes"], serde_json::json!([]));
    assert_eq!(f["backup"], serde_json::Value::Null);
    assert!(
        f["error"].as_str().unwrap().contains("nothing was changed"),
        "{f}"
    );
    assert_secret_free(&fix);
    assert_eq!(sha256_hex(&std::fs::read(&d.db).unwrap()), sha);
    assert_eq!(e.stop_events(&d.container, &since), Vec::<String>::new());
    assert_eq!(d.state(e).status, "running");
}

#[test]
fn docker_netbird_lines_with_the_older_oauth2_error() {
    scenario(Engine::start(), "netbird", "v0.3");
}

#[test]
fn podman_logrus_json_with_oauth2_v035_errors() {
    scenario(Engine::podman(), "json", "v0.35");
}
