//! The plan: from connector rows and evidence to a list of field changes. Plain data, shared by inspect,
//! `fix --dry-run` and `fix`. The right value comes from the operator (`--issuer`) or from the container's
//! own log line; the tool never invents one (it never adds or strips a slash on its own).

use crate::diagnose::LogFindings;
use crate::jsonedit::{string_value, top_level_fields, StrValue};
use crate::store::ConnectorRow;
use anyhow::{bail, Result};
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Mismatch,
    Unknown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    Logs,
    Discovery,
    Explicit,
}

/// A connector as the report shows it: never its secrets, only what identifies it and its issuer.
#[derive(Debug, Clone, Serialize)]
pub struct ConnectorView {
    pub id: String,
    #[serde(rename = "type")]
    pub typ: String,
    pub name: String,
    pub issuer: Option<String>,
    pub status: Status,
    /// Why the status is not ok, in a few words (extension of the contract).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
    /// The fields that locate the provider, for every connector type (extension): issuer, baseURL,
    /// hostName, tenant, ssoURL, redirectURI, clientID…
    pub endpoints: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub connector: String,
    pub field: String,
    pub from: String,
    pub to: String,
    pub source: Source,
    /// The log line or flag the new value comes from (extension of the contract).
    pub evidence: String,
}

#[derive(Debug, Default, Clone)]
pub struct Plan {
    pub changes: Vec<Change>,
    /// Things the operator should know that no change addresses.
    pub notes: Vec<String>,
    /// Log evidence the database already agrees with (the fix was written; the container has not run since).
    pub already_applied: usize,
}

/// What the plan is built from.
#[derive(Default)]
pub struct Inputs<'a> {
    pub rows: &'a [ConnectorRow],
    /// The container's logs from its last start (None without a container).
    pub logs: Option<&'a LogFindings>,
    /// The container is running (not restarting) in this run.
    pub running: bool,
    /// `--connector`
    pub only: Option<&'a str>,
    /// `--issuer`
    pub explicit_issuer: Option<&'a str>,
    /// `--discover`: per connector id, the issuer its provider publishes, or why it could not be asked.
    pub discovered: &'a [(String, Result<String, String>)],
    /// `--set CONNECTOR.FIELD=VALUE`, parsed.
    pub sets: &'a [SetField],
    /// `--issuer-alias`: correct by adding Dex's issuerAlias instead of changing issuer.
    pub issuer_alias: bool,
    /// Connectors that a config file defines and rewrites into the database at every start.
    pub static_ids: &'a [(String, String)],
}

/// One `--set` request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetField {
    pub connector: String,
    pub field: String,
    pub value: String,
}

pub use crate::redact::is_secret_field;

/// Config fields that locate the provider, shown for every connector type (issuer-like fields).
pub const ENDPOINT_FIELDS: [&str; 12] = [
    "issuer",
    "issuerAlias",
    "baseURL",
    "hostName",
    "tenant",
    "apiURL",
    "ssoURL",
    "ssoIssuer",
    "entityIssuer",
    "keystoneHost",
    "redirectURI",
    "clientID",
];

impl std::str::FromStr for SetField {
    type Err = UsageError;
    fn from_str(s: &str) -> Result<Self, UsageError> {
        let bad = || UsageError(format!("--set takes CONNECTOR.FIELD=VALUE, not {s:?}"));
        let (left, value) = s.split_once('=').ok_or_else(bad)?;
        let (connector, field) = left.rsplit_once('.').ok_or_else(bad)?;
        if connector.is_empty() || field.is_empty() {
            return Err(bad());
        }
        if is_secret_field(field) {
            return Err(UsageError(format!(
                "--set does not set secrets ({field} would be printed in the plan); nothing was changed"
            )));
        }
        Ok(SetField {
            connector: connector.into(),
            field: field.into(),
            value: value.into(),
        })
    }
}

/// Raised for flag combinations that cannot work (exit code 2).
#[derive(Debug)]
pub struct UsageError(pub String);
impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for UsageError {}

/// The connector's issuer, its endpoint fields, and what is wrong with its config if anything.
fn read_config(row: &ConnectorRow) -> (Option<String>, BTreeMap<String, String>, Option<String>) {
    let mut endpoints = BTreeMap::new();
    let Some(cfg) = row.config.as_deref() else {
        return (None, endpoints, None);
    };
    if cfg.len() > MAX_CONFIG {
        let problem = format!(
            "its config is {} bytes, more than the {} KiB a connector config can sensibly be",
            cfg.len(),
            MAX_CONFIG / 1024
        );
        return (None, endpoints, Some(problem));
    }
    let fields = match top_level_fields(cfg) {
        Err(e) => return (None, endpoints, Some(e.to_string())),
        Ok(f) => f,
    };
    for name in ENDPOINT_FIELDS {
        if let StrValue::Str(v) = string_value(cfg, &fields, name) {
            endpoints.insert(name.to_string(), v);
        }
    }
    match string_value(cfg, &fields, "issuer") {
        StrValue::Str(s) => (Some(s), endpoints, None),
        StrValue::NotString(what) => (
            None,
            endpoints,
            Some(format!("its issuer is {what}, not a string")),
        ),
        StrValue::Absent | StrValue::Null => (None, endpoints, None),
    }
}

/// The largest config ozrepair reads or edits (Dex's own are a few hundred bytes).
pub const MAX_CONFIG: usize = 1 << 20;

/// A correction of a connector's issuer, before it becomes a change of `issuer` or `issuerAlias`.
struct Correction {
    idx: usize,
    to: String,
    source: Source,
    evidence: String,
}

pub fn build(inp: &Inputs) -> Result<(Vec<ConnectorView>, Plan)> {
    let mut views: Vec<ConnectorView> = inp
        .rows
        .iter()
        .map(|r| {
            let (issuer, endpoints, problem) = read_config(r);
            let checked = r.typ == "oidc" || issuer.is_some();
            let status = if problem.is_some() {
                Status::Unknown
            } else if !checked || inp.running {
                Status::Ok
            } else {
                Status::Unknown
            };
            ConnectorView {
                id: r.id.clone(),
                typ: r.typ.clone(),
                name: r.name.clone(),
                issuer,
                status,
                problem,
                endpoints,
            }
        })
        .collect();
    let mut plan = Plan::default();
    let ids = || {
        views
            .iter()
            .map(|v| v.id.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };

    if let Some(only) = inp.only {
        if !views.iter().any(|v| v.id == only) {
            bail!(
                "there is no connector {only:?}; the connectors are: {}; nothing was changed",
                ids()
            );
        }
    }
    for s in inp.sets {
        if !views.iter().any(|v| v.id == s.connector) {
            bail!("--set names connector {:?}, which does not exist; the connectors are: {}; nothing was changed", s.connector, ids());
        }
    }

    // Failures the container reported that no rule here can fix: shown, never acted on.
    if let Some(logs) = inp.logs {
        for f in &logs.failures {
            if let Some(v) = f
                .connector
                .as_ref()
                .and_then(|id| views.iter_mut().find(|v| &v.id == id))
            {
                v.status = Status::Unknown;
                v.problem = Some(f.message.clone());
            }
            plan.notes.push(format!(
                "the container reports connector {} failing for another reason: {}",
                f.connector.as_deref().unwrap_or("(unnamed)"),
                f.message
            ));
        }
    }

    // Where the right issuer comes from, in the contract's order: --issuer, the logs, discovery.
    let mut corrections: Vec<Correction> = Vec::new();
    if let Some(to) = inp.explicit_issuer {
        let candidates: Vec<usize> = match inp.only {
            Some(id) => views.iter().position(|v| v.id == id).into_iter().collect(),
            None => (0..views.len())
                .filter(|&i| views[i].issuer.is_some() || views[i].typ == "oidc")
                .collect(),
        };
        let idx = match candidates.as_slice() {
            [i] => *i,
            [] => bail!("no connector has an issuer to set; nothing was changed"),
            many => {
                let ids: Vec<&str> = many.iter().map(|&i| views[i].id.as_str()).collect();
                return Err(UsageError(format!(
                    "--issuer could apply to {} connectors ({}): name one with --connector; nothing was changed",
                    many.len(),
                    ids.join(", ")
                ))
                .into());
            }
        };
        if let Some(problem) = &views[idx].problem {
            bail!("connector {}: {problem}; nothing was changed; fix that connector in the dashboard or by hand", views[idx].id);
        }
        if views[idx].issuer.is_none() {
            bail!(
                "connector {} has no issuer field to set (type {}); ozrepair edits values, it never adds fields; nothing was changed",
                views[idx].id,
                views[idx].typ
            );
        }
        corrections.push(Correction {
            idx,
            to: to.into(),
            source: Source::Explicit,
            evidence: "--issuer given by the operator".into(),
        });
    } else {
        if let Some(logs) = inp.logs {
            for ev in &logs.evidence {
                let matches = |v: &ConnectorView, issuer: &str| {
                    v.issuer.as_deref() == Some(issuer)
                        && ev.connector.as_ref().is_none_or(|c| *c == v.id)
                };
                let Some(idx) = views.iter().position(|v| matches(v, &ev.expected)) else {
                    if views.iter().any(|v| matches(v, &ev.got)) {
                        plan.already_applied += 1;
                    } else {
                        plan.notes.push(format!(
                            "the container reports connector {} with issuer {:?}, but no connector in the database has that issuer: it may be a static connector from a config file (management.json StaticConnectors or Dex's connectors:), which a database edit cannot fix",
                            ev.connector.as_deref().unwrap_or("(unnamed)"),
                            ev.expected
                        ));
                    }
                    continue;
                };
                let evidence = format!(
                    "container log {}: issuer did not match the issuer returned by provider, expected {:?} got {:?}",
                    if ev.time.is_empty() { "line" } else { ev.time.as_str() },
                    ev.expected,
                    ev.got
                );
                corrections.retain(|c| c.idx != idx);
                corrections.push(Correction {
                    idx,
                    to: ev.got.clone(),
                    source: Source::Logs,
                    evidence,
                });
            }
        }
        for (id, answer) in inp.discovered {
            let Some(idx) = views.iter().position(|v| &v.id == id) else {
                continue;
            };
            match answer {
                Err(why) => {
                    if views[idx].status != Status::Mismatch {
                        views[idx].status = Status::Unknown;
                    }
                    plan.notes.push(format!("connector {id}: {why}"));
                }
                Ok(published) if views[idx].issuer.as_deref() == Some(published.as_str()) => {
                    if !corrections.iter().any(|c| c.idx == idx) {
                        views[idx].status = Status::Ok;
                        views[idx].problem = None;
                    }
                }
                Ok(published) => {
                    if !corrections.iter().any(|c| c.idx == idx) {
                        let stored = views[idx].issuer.clone().unwrap_or_default();
                        corrections.push(Correction {
                            idx,
                            to: published.clone(),
                            source: Source::Discovery,
                            evidence: format!(
                                "discovery document {}: issuer {published:?}",
                                crate::discover::discovery_url(&stored)
                            ),
                        });
                    }
                }
            }
        }
    }

    for c in corrections {
        let v = &mut views[c.idx];
        let from = v.issuer.clone().unwrap_or_default();
        if from == c.to {
            v.status = Status::Ok;
            v.problem = None;
            continue;
        }
        v.status = Status::Mismatch;
        v.problem = Some(format!(
            "stored issuer {from:?}, the provider publishes {:?}",
            c.to
        ));
        if inp.only.is_some_and(|o| o != v.id) {
            continue;
        }
        if let Some((_, file)) = inp.static_ids.iter().find(|(id, _)| *id == v.id) {
            plan.notes.push(format!(
                "connector {} is a static connector defined in {file}; NetBird writes it into the database again at every start, so a database edit would not stick: set its issuer to {:?} in that file (EmbeddedIdP.StaticConnectors), then restart the container",
                v.id, c.to
            ));
            continue;
        }
        let (field, from) = if inp.issuer_alias {
            (
                "issuerAlias".to_string(),
                v.endpoints.get("issuerAlias").cloned().unwrap_or_default(),
            )
        } else {
            ("issuer".to_string(), from)
        };
        if from != c.to {
            plan.changes.push(Change {
                connector: v.id.clone(),
                field,
                from,
                to: c.to,
                source: c.source,
                evidence: c.evidence,
            });
        }
    }
    if inp.issuer_alias && !plan.changes.is_empty() {
        plan.notes.push("issuerAlias makes Dex skip the discovery issuer check and accept tokens from the alias; it needs Dex v2.43 or later".into());
    }

    for s in inp.sets {
        let Some(row) = inp.rows.iter().find(|r| r.id == s.connector) else {
            continue;
        };
        let cfg = row.config.as_deref().unwrap_or(b"");
        let fields = top_level_fields(cfg)
            .map_err(|e| anyhow::anyhow!("connector {}: {e}; nothing was changed", s.connector))?;
        let Some(f) = crate::jsonedit::effective_field(&fields, &s.field) else {
            bail!("connector {} has no field {:?}; ozrepair edits values, it never adds fields; nothing was changed", s.connector, s.field);
        };
        let from = match string_value(cfg, &fields, &f.key) {
            StrValue::Str(v) => v,
            _ => bail!(
                "connector {} field {:?} is not a string; nothing was changed",
                s.connector,
                f.key
            ),
        };
        if from != s.value {
            plan.changes
                .retain(|c| !(c.connector == s.connector && c.field == f.key));
            plan.changes.push(Change {
                connector: s.connector.clone(),
                field: f.key.clone(),
                from,
                to: s.value.clone(),
                source: Source::Explicit,
                evidence: format!("--set {}.{}", s.connector, s.field),
            });
        }
    }
    Ok((views, plan))
}

/// The plan as a unified-diff-like text, one hunk per change.
pub fn render_diff(plan: &Plan, views: &[ConnectorView]) -> String {
    let mut out = String::new();
    for c in &plan.changes {
        let (typ, name) = views
            .iter()
            .find(|v| v.id == c.connector)
            .map(|v| (v.typ.as_str(), v.name.as_str()))
            .unwrap_or(("?", "?"));
        out.push_str(&format!("~ connector {} ({typ}, {name:?})\n", c.connector));
        out.push_str(&format!("-   \"{}\": {:?}\n", c.field, c.from));
        out.push_str(&format!("+   \"{}\": {:?}\n", c.field, c.to));
        out.push_str(&format!("    from: {}\n", c.evidence));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::Evidence;

    fn row(id: &str, typ: &str, cfg: &str) -> ConnectorRow {
        ConnectorRow {
            id: id.into(),
            typ: typ.into(),
            name: id.into(),
            resource_version: String::new(),
            config: Some(cfg.as_bytes().to_vec()),
            storage: "blob",
        }
    }

    fn logs(expected: &str, got: &str, connector: Option<&str>) -> LogFindings {
        LogFindings {
            evidence: vec![Evidence {
                connector: connector.map(String::from),
                expected: expected.into(),
                got: got.into(),
                time: String::new(),
            }],
            ..Default::default()
        }
    }

    #[test]
    fn log_evidence_targets_the_connector_with_the_expected_issuer() {
        let rows = [
            row("a", "oidc", r#"{"issuer":"https://x"}"#),
            row("b", "oidc", r#"{"issuer":"https://y"}"#),
        ];
        let l = logs("https://y", "https://y/", None);
        let (views, plan) = build(&Inputs {
            rows: &rows,
            logs: Some(&l),
            running: false,
            only: None,
            explicit_issuer: None,
            ..Default::default()
        })
        .unwrap();
        assert_eq!(plan.changes.len(), 1);
        assert_eq!(
            (
                plan.changes[0].connector.as_str(),
                plan.changes[0].to.as_str()
            ),
            ("b", "https://y/")
        );
        assert_eq!(views[0].status, Status::Unknown);
        assert_eq!(views[1].status, Status::Mismatch);
    }

    #[test]
    fn evidence_that_is_already_applied_plans_nothing() {
        let rows = [row("a", "oidc", r#"{"issuer":"https://y/"}"#)];
        let l = logs("https://y", "https://y/", Some("a"));
        let (_, plan) = build(&Inputs {
            rows: &rows,
            logs: Some(&l),
            running: true,
            only: None,
            explicit_issuer: None,
            ..Default::default()
        })
        .unwrap();
        assert!(plan.changes.is_empty() && plan.notes.is_empty());
    }

    #[test]
    fn evidence_for_an_unknown_connector_becomes_a_note() {
        let rows = [row("a", "oidc", r#"{"issuer":"https://x"}"#)];
        let l = logs("https://static", "https://static/", Some("static1"));
        let (_, plan) = build(&Inputs {
            rows: &rows,
            logs: Some(&l),
            running: false,
            only: None,
            explicit_issuer: None,
            ..Default::default()
        })
        .unwrap();
        assert!(plan.changes.is_empty());
        assert!(plan.notes[0].contains("static connector"));
    }

    #[test]
    fn explicit_issuer_needs_a_connector_when_ambiguous() {
        let rows = [
            row("a", "oidc", r#"{"issuer":"https://x"}"#),
            row("b", "oidc", r#"{"issuer":"https://y"}"#),
        ];
        let e = build(&Inputs {
            rows: &rows,
            logs: None,
            running: false,
            only: None,
            explicit_issuer: Some("https://z"),
            ..Default::default()
        })
        .unwrap_err();
        assert!(e.downcast_ref::<UsageError>().is_some());
        let (_, plan) = build(&Inputs {
            rows: &rows,
            logs: None,
            running: false,
            only: Some("b"),
            explicit_issuer: Some("https://z"),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(plan.changes[0].source, Source::Explicit);
        assert_eq!(plan.changes[0].from, "https://y");
    }

    #[test]
    fn local_connector_without_config_is_ok_and_never_changed() {
        let mut local = row("local", "local", "");
        local.config = None;
        local.storage = "null";
        let (views, plan) = build(&Inputs {
            rows: &[local],
            logs: None,
            running: false,
            only: None,
            explicit_issuer: None,
            ..Default::default()
        })
        .unwrap();
        assert_eq!(views[0].status, Status::Ok);
        assert!(plan.changes.is_empty());
    }
}
