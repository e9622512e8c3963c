//! Logins that failed while the IdP ran ([`crate::logs::login`]), by connector and cause: each group with
//! how often and when last, and the command that repairs it. `fix` plans no change for any of them: a
//! secret is never guessed, a redirect URI is the operator's to set, and a clock is not ozrepair's.
//!
//! A record names its connector (`connector_id`) only for the callback; the others are attributed by the
//! application id the provider's message names (Entra's `app '<id>'`, a connector's `clientID`), else by
//! the connector wording of the error (`microsoft: failed to get token`) when one connector has such a
//! type. When more than one could be meant, each of them is said to be possibly failing, and the group
//! names them all. A login through a connector that worked after its last failure (`login successful`)
//! clears the failures before it, and vouches for the connector.

use super::{ConnectorView, Status};
use crate::logs::login::{Cause, LoginFailure};
use crate::logs::LogFindings;
use crate::shared::Shared;
use crate::timefmt::parse_rfc3339;
use serde::Serialize;

/// What a connector's status rests on when the IdP logged a login through it.
pub const BY_LOGINS: &str = "the IdP's log of logins through it";

crate::fields! {
    /// Failed logins of one connector and cause (extension of the contract): how often, the last time, the
    /// provider's code, the last error, and what repairs it.
    #[derive(Debug, Clone, Serialize)]
    pub struct LoginView {
        /// The connector; `management` for the management server's own refusals of tokens; null when the
        /// record names none and more than one connector could be meant (they are in `candidates`).
        pub connector: Option<String>,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        pub candidates: Vec<String>,
        /// `wrong_secret`, `expired_secret`, `redirect_mismatch` or `clock_skew`.
        pub cause: &'static str,
        /// The provider's code or the library's words that tell the cause.
        pub code: String,
        pub count: usize,
        /// The engine's timestamp of the last one.
        pub last: String,
        /// The last one's error, shortened.
        pub message: String,
        /// The command (or step) that repairs it.
        pub repair: String,
    }
}

/// Whom a failure concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    /// One connector ozrepair reads (index into the views).
    One(usize),
    /// A connector the record names that ozrepair does not see.
    Unseen(String),
    /// One of these connectors (indices).
    Many(Vec<usize>),
    /// The management server itself.
    Management,
}

fn target(f: &LoginFailure, views: &[ConnectorView]) -> Target {
    if f.management {
        return Target::Management;
    }
    if let Some(id) = &f.connector {
        return match views.iter().position(|v| v.id == *id) {
            Some(i) => Target::One(i),
            None => Target::Unseen(id.clone()),
        };
    }
    if let Some(app) = &f.client_id {
        let by_app: Vec<usize> = (0..views.len())
            .filter(|&i| views[i].endpoints.get("clientID").is_some_and(|c| c == app))
            .collect();
        if let [i] = by_app.as_slice() {
            return Target::One(*i);
        }
    }
    let candidates: Vec<usize> = (0..views.len())
        .filter(|&i| {
            let t = views[i].typ.as_str();
            if f.types.is_empty() {
                !matches!(t, "local" | "saml" | "authproxy" | "ldap" | "keystone")
            } else {
                f.types.contains(&t)
            }
        })
        .collect();
    match candidates.as_slice() {
        [i] => Target::One(*i),
        _ => Target::Many(candidates),
    }
}

/// One group, as it is being gathered.
struct Group {
    target: Target,
    cause: Cause,
    count: usize,
    last: LoginFailure,
}

/// The later of two engine timestamps (the second when they cannot be compared: records come in order).
fn later(a: &str, b: &str) -> bool {
    match (parse_rfc3339(a), parse_rfc3339(b)) {
        (Some(x), Some(y)) => y >= x,
        _ => true,
    }
}

/// The failed logins in `logs`, grouped, attributed and set on the views they concern (a connector whose
/// logins fail is not ok, and its problem says why); a connector with a successful login after its
/// failures (or with no failure) is vouched for by it. Notes go into `notes`.
pub fn assess(
    views: &mut [ConnectorView],
    logs: Option<&LogFindings>,
    notes: &mut Vec<String>,
) -> Vec<LoginView> {
    let Some(logs) = logs else {
        return Vec::new();
    };
    let mut groups: Vec<Group> = Vec::new();
    for f in &logs.logins {
        let t = target(f, views);
        match groups
            .iter_mut()
            .find(|g| g.target == t && g.cause == f.cause)
        {
            Some(g) => {
                g.count += 1;
                if later(&g.last.time, &f.time) {
                    g.last = f.clone();
                }
            }
            None => groups.push(Group {
                target: t,
                cause: f.cause,
                count: 1,
                last: f.clone(),
            }),
        }
    }
    // The last successful login through each connector.
    let last_ok = |id: &str| {
        logs.logins_ok
            .iter()
            .filter(|o| o.connector == id)
            .map(|o| o.time.as_str())
            .reduce(|a, b| if later(a, b) { b } else { a })
    };
    let mut out = Vec::new();
    for g in groups {
        if let Target::One(i) = g.target {
            if let Some(ok) = last_ok(&views[i].id).filter(|ok| later(&g.last.time, ok)) {
                notes.push(format!(
                    "connector {}: {} login(s) failed before {} ({}: {}); a login through it worked since ({ok})",
                    views[i].id,
                    g.count,
                    g.last.time,
                    g.cause.word(),
                    g.last.code
                ));
                continue;
            }
        }
        let summary = |what: &str| {
            format!(
                "{what}: {} ({}; {} time(s), last {})",
                g.cause.says(),
                g.last.code,
                g.count,
                if g.last.time.is_empty() {
                    "time unknown"
                } else {
                    &g.last.time
                }
            )
        };
        let (connector, candidates, repair) = match &g.target {
            Target::One(i) => {
                let v = &mut views[*i];
                let repair = repair(g.cause, &g.last, &v.id, v.endpoints.get("redirectURI"));
                if v.status != Status::Mismatch {
                    v.status = Status::Unknown;
                    v.checked_by = Some(BY_LOGINS);
                    v.problem = Some(summary("logins through it fail"));
                }
                (Some(v.id.to_string()), Vec::new(), repair)
            }
            Target::Unseen(id) => {
                notes.push(format!(
                    "the IdP logs failed logins through connector {id}, which is neither in the database nor in a config file ozrepair read ({})",
                    g.cause.word()
                ));
                (Some(id.clone()), Vec::new(), repair(g.cause, &g.last, id, None))
            }
            Target::Many(list) => {
                let ids: Vec<String> = list.iter().map(|&i| views[i].id.to_string()).collect();
                let one_of = format!("one of {}", ids.join(", "));
                for &i in list {
                    let v = &mut views[i];
                    if v.status != Status::Mismatch && v.problem.is_none() {
                        v.status = Status::Unknown;
                        v.checked_by = None;
                        v.problem = Some(summary(&format!(
                            "logins through {one_of} fail (the IdP's error names none)"
                        )));
                    }
                }
                let mut r = repair(g.cause, &g.last, "ID", None);
                r.push_str(&format!(" (ID: {one_of}; the error names none)"));
                (None, ids, r)
            }
            Target::Management => (
                Some(crate::config::MANAGEMENT.to_string()),
                Vec::new(),
                "the management server refuses tokens for their times: set this host's clock right (NTP), and the IdP's; ozrepair changes no clock".to_string(),
            ),
        };
        out.push(LoginView {
            connector,
            candidates,
            cause: g.cause.word(),
            code: g.last.code.clone(),
            count: g.count,
            last: g.last.time.clone(),
            message: g.last.message.clone(),
            repair,
        });
    }
    // A login that worked vouches for a connector (more than a start that opened it did).
    for v in views.iter_mut() {
        if v.status != Status::Mismatch && v.problem.is_none() && last_ok(&v.id).is_some() {
            v.status = Status::Ok;
            v.checked_by = Some(BY_LOGIN_OK);
        }
    }
    out
}

/// What a status rests on when a login through the connector worked.
pub const BY_LOGIN_OK: &str = "a login through it that worked (the IdP's log)";

/// The command (or step) that repairs failed logins of `cause` through connector `id`.
fn repair(cause: Cause, last: &LoginFailure, id: &str, redirect: Option<&Shared>) -> String {
    match cause {
        Cause::WrongSecret => format!(
            "put the provider's current client secret in with `ozrepair secret --connector {id} --secret-file FILE`"
        ),
        Cause::ExpiredSecret => format!(
            "create a new client secret at the provider (the old one expired), then `ozrepair secret --connector {id} --secret-file FILE`"
        ),
        Cause::RedirectMismatch => match &last.callback {
            Some((ours, stored)) => format!(
                "`ozrepair fix --connector {id} --set {id}.redirectURI={ours}` (Dex's own callback; the connector stores {stored}), and register {ours} at the provider"
            ),
            None => format!(
                "register the connector's redirect URI{} at the provider, or correct it with `ozrepair fix --connector {id} --set {id}.redirectURI=URL`",
                redirect.map(|r| format!(" ({r})")).unwrap_or_default()
            ),
        },
        Cause::ClockSkew => {
            "set this host's clock right (NTP), and check the provider's; ozrepair changes no clock"
                .to_string()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::login::LoginOk;
    use std::borrow::Cow;

    fn view(id: &str, typ: &str, client: &str) -> ConnectorView {
        let mut endpoints = super::super::Endpoints::new();
        endpoints.insert(Cow::Borrowed("clientID"), client.to_string());
        ConnectorView {
            id: id.into(),
            typ: typ.into(),
            name: id.into(),
            issuer: None,
            status: Status::Ok,
            problem: None,
            endpoints,
            store: "database",
            file: None,
            checked_by: Some(super::super::BY_START),
            status_before: None,
        }
    }

    fn failure(cause: Cause, time: &str) -> LoginFailure {
        LoginFailure {
            cause,
            connector: None,
            types: &["oidc", "openshift"],
            client_id: None,
            code: "invalid_client".into(),
            callback: None,
            management: false,
            message: "oidc: failed to get token: …".into(),
            time: time.into(),
        }
    }

    #[test]
    fn groups_attributes_and_names_the_repair() {
        let mut views = vec![
            view("local", "local", ""),
            view("okta", "oidc", "c-okta"),
            view("entra", "microsoft", "c-entra"),
        ];
        let mut entra = failure(Cause::ExpiredSecret, "2026-12-01T10:00:05Z");
        entra.types = &["microsoft"];
        entra.code = "AADSTS7000222".into();
        let logs = LogFindings {
            logins: vec![
                failure(Cause::WrongSecret, "2026-12-01T10:00:00Z"),
                failure(Cause::WrongSecret, "2026-12-01T10:00:03Z"),
                entra,
            ],
            ..Default::default()
        };
        let mut notes = Vec::new();
        let out = assess(&mut views, Some(&logs), &mut notes);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].connector.as_deref(), Some("okta"));
        assert_eq!(
            (out[0].count, out[0].last.as_str()),
            (2, "2026-12-01T10:00:03Z")
        );
        assert!(out[0].repair.contains("ozrepair secret --connector okta"));
        assert_eq!(out[1].connector.as_deref(), Some("entra"));
        assert_eq!(out[1].cause, "expired_secret");
        assert_eq!(views[1].status, Status::Unknown);
        assert!(views[1].problem.as_deref().unwrap().contains("2 time(s)"));
        assert_eq!(views[0].status, Status::Ok, "local is untouched");
    }

    #[test]
    fn two_candidates_are_both_named_and_a_later_success_clears() {
        let mut views = vec![view("a", "oidc", "ca"), view("b", "oidc", "cb")];
        let logs = LogFindings {
            logins: vec![failure(Cause::WrongSecret, "2026-12-01T10:00:00Z")],
            ..Default::default()
        };
        let mut notes = Vec::new();
        let out = assess(&mut views, Some(&logs), &mut notes);
        assert_eq!(out[0].connector, None);
        assert_eq!(out[0].candidates, ["a", "b"]);
        assert!(views.iter().all(|v| v.status == Status::Unknown));
        // By its app id it is one of them.
        let mut views = vec![view("a", "oidc", "ca"), view("b", "oidc", "cb")];
        let mut f = failure(Cause::WrongSecret, "2026-12-01T10:00:00Z");
        f.client_id = Some("cb".into());
        let logs = LogFindings {
            logins: vec![f],
            logins_ok: vec![LoginOk {
                connector: "b".into(),
                time: "2026-12-01T10:05:00Z".into(),
            }],
            ..Default::default()
        };
        let out = assess(&mut views, Some(&logs), &mut notes);
        assert!(out.is_empty(), "the later success clears it: {out:?}");
        assert!(notes.iter().any(|n| n.contains("worked since")));
        assert_eq!(views[1].status, Status::Ok);
    }
}
