//! `secret`: the plan that writes a new secret into a connector's secret field everywhere the deployment
//! keeps it, or into the management's IdP-manager credential. Where a connector's secret lives:
//!
//! - its row (`config`'s `clientSecret`, ldap's `bindPW`, keystone's `keystonePassword`): every key that
//!   Go's decoder matches to the field gets the new value (a stray `clientsecret` after `clientSecret`
//!   is the one Dex reads, and NetBird's exact-case update would read the other);
//! - management.json `EmbeddedIdP.StaticConnectors` (NetBird writes it into the row at every start): the
//!   file and the row, in one window;
//! - Dex's config.yaml `connectors:` (an overlay in memory): the file only. Dex runs `os.ExpandEnv` over
//!   those values and its image's entrypoint runs gomplate over the file, so a `$` or `{{` in the new
//!   secret would reach Dex altered, and a stored value with `$` comes from the environment: both are
//!   refused, never written.
//!
//! The changes carry the values hidden ([`super::Hidden`]): `from` and `to` say only each one's length.

use super::{
    Change, ConnectorView, Endpoints, Hidden, Plan, PlanArgs, Seen, Source, Status, Store,
};
use crate::config::{self, Configs, Held, MANAGEMENT};
use crate::dex::jsonedit::{self, StrValue};
use crate::dex::secrets::{value_field_of, SecretValue};
use crate::evidence::token;
use crate::verdict::UsageError;
use anyhow::{bail, Result};

/// What a connector's status rests on after `secret --verify` took.
pub const BY_PROVIDER: &str = "its provider's token endpoint took the new secret (--verify)";

/// The plan of a `secret` run, and what the report says of it.
pub struct SecretPlan {
    pub plan: Plan,
    /// The field set (`clientSecret`, `bindPW`, `keystonePassword`, `ClientSecret`).
    pub field: String,
    /// Where it is written: `database`, and each config file.
    pub places: Vec<String>,
    /// The request that proves the new secret, or why none can.
    pub request: Result<token::Request, String>,
}

/// The change of a secret at `store`, from `old` to `new`.
fn change(id: &str, field: &str, old: &str, new: &str, evidence: &str, store: Store) -> Change {
    Change {
        connector: id.into(),
        field: field.into(),
        from: SecretValue::shown(old),
        to: SecretValue::shown(new),
        source: Source::Explicit,
        evidence: evidence.into(),
        store,
        hidden: Some(Hidden {
            from: old.into(),
            to: new.into(),
        }),
    }
}

fn file_store(configs: &Configs, file: usize, path: &[config::Seg]) -> Store {
    Store::File {
        file: configs.files[file].path.display().to_string(),
        at: config::show_path(path),
        path: path.to_vec(),
        kind: config::Kind::Str,
    }
}

/// Why a value cannot go into Dex's config.yaml as it is (None: it can).
fn yaml_refusal(v: &str) -> Option<&'static str> {
    if v.contains('$') {
        Some("a `$` (Dex expands the environment in those values: os.ExpandEnv)")
    } else if v.contains("{{") {
        Some("`{{` (Dex's image renders the file with gomplate)")
    } else {
        None
    }
}

/// `secret --connector ID`: the plan for a connector. `evidence`: where the secret was read from.
pub fn connector(
    seen: &Seen,
    id: &str,
    new: &SecretValue,
    evidence: &str,
    show_secrets: bool,
) -> Result<SecretPlan> {
    let args = PlanArgs {
        connector: Some(id.to_string()),
        ..PlanArgs::default()
    };
    // The connectors as inspect shows them (their logins, their problems); no other change is planned.
    let mut plan = super::build(seen, &args, show_secrets)?;
    plan.changes.clear();
    plan.held_elsewhere.clear();
    plan.already_applied = 0;
    plan.secrets.push(new.expose().to_string());
    let Some(view) = plan.connectors.iter().find(|v| v.id == id) else {
        bail!("there is no connector {id:?}; nothing was changed");
    };
    let typ = view.typ.clone();
    let Some(field) = value_field_of(&typ) else {
        return Err(UsageError(format!(
            "connector {id} is of type {typ}, which has no secret field ozrepair sets (clientSecret, bindPW, keystonePassword); nothing was changed"
        ))
        .into());
    };
    let row = seen.rows.iter().find(|r| r.id == id);
    let fc = seen.configs.connector(id);
    let mut places = Vec::new();
    if let Some(fc) = fc {
        let file = seen.configs.file_of(fc);
        let Some(v) = seen.configs.connector_value(fc, field) else {
            bail!(
                "connector {id} is defined in {} line {} without {field}; ozrepair edits values, it never adds fields; nothing was changed",
                file.path.display(),
                fc.line
            );
        };
        let Some(old) = v.value.clone() else {
            bail!(
                "connector {id}'s {field} in {} line {} is not a string; nothing was changed",
                file.path.display(),
                v.line
            );
        };
        if fc.held == Held::Overlay {
            if let Some(why) = yaml_refusal(&old) {
                bail!(
                    "connector {id}'s {field} in {} line {} holds {why}: Dex takes it from its environment or a template, so set it where that comes from; nothing was changed",
                    file.path.display(),
                    v.line
                );
            }
            if let Some(why) = yaml_refusal(new.expose()) {
                return Err(UsageError(format!(
                    "the new secret holds {why}, so Dex would not read it as written in {}; nothing was changed; put it in Dex's environment and refer to it there, or set DEX_EXPAND_ENV=false and write it by hand",
                    file.path.display()
                ))
                .into());
            }
        }
        places.push(file.path.display().to_string());
        plan.secrets.push(old.clone());
        if old != new.expose() {
            plan.changes.push(change(
                id,
                field,
                &old,
                new.expose(),
                evidence,
                file_store(seen.configs, fc.file, &v.path),
            ));
        }
    }
    let in_row = row.filter(|_| fc.is_none_or(|f| f.held == Held::Static));
    if let Some(r) = in_row {
        let cfg = r.config.as_deref().unwrap_or_default();
        let fields = jsonedit::top_level_fields(cfg)
            .map_err(|e| anyhow::anyhow!("connector {id}: {e}; nothing was changed"))?;
        let old = match jsonedit::string_value(cfg, &fields, field) {
            StrValue::Str(s) => s,
            StrValue::Absent => bail!(
                "connector {id}'s config has no {field}; ozrepair edits values, it never adds fields; nothing was changed"
            ),
            _ => bail!("connector {id}'s {field} is not a string; nothing was changed"),
        };
        places.push("database".into());
        plan.secrets.push(old.clone());
        let every = every_variant(cfg, &fields, field, new.expose());
        if old != new.expose() || !every {
            plan.changes.push(change(
                id,
                field,
                &old,
                new.expose(),
                evidence,
                Store::Database,
            ));
        }
    }
    // The values the verification reads: the row's, else the file's.
    let request = match (in_row, fc) {
        (Some(r), _) => {
            let cfg = r.config.clone().unwrap_or_default();
            token::request_for(&typ, &|name: &str| row_value(&cfg, name))
        }
        (None, Some(fc)) => token::request_for(&typ, &|name: &str| {
            let mut v = None;
            let mut path = name.split('.');
            if let (Some(first), None) = (path.next(), path.next()) {
                v = seen
                    .configs
                    .connector_value(fc, first)
                    .and_then(|v| v.value);
            }
            v
        }),
        (None, None) => Err("its config was not read".into()),
    };
    plan.scope = Some(id.to_string());
    Ok(SecretPlan {
        plan,
        field: field.to_string(),
        places,
        request,
    })
}

/// Whether every string of a key Go matches to `field` is `value` already.
fn every_variant(cfg: &[u8], fields: &[jsonedit::Field], field: &str, value: &str) -> bool {
    fields
        .iter()
        .filter(|f| jsonedit::key_matches(&f.key, field) && cfg.get(f.value.start) == Some(&b'"'))
        .all(|f| {
            cfg.get(f.value.clone())
                .and_then(jsonedit::go_json_unquote)
                .is_some_and(|v| v == value)
        })
}

/// A string value of a row's config as Go decodes it; a dotted name reads a nested object's field;
/// `true`/`false` for a boolean.
fn row_value(cfg: &[u8], name: &str) -> Option<String> {
    let mut doc = cfg.to_vec();
    let mut parts = name.split('.').peekable();
    while let Some(p) = parts.next() {
        let fields = jsonedit::top_level_fields(&doc).ok()?;
        let f = jsonedit::decoded_field(&doc, &fields, p)?;
        let raw = doc.get(f.value.clone())?.to_vec();
        if parts.peek().is_some() {
            doc = raw;
            continue;
        }
        return match raw.as_slice() {
            b"true" | b"false" => Some(String::from_utf8_lossy(&raw).into_owned()),
            _ => jsonedit::go_json_unquote(&raw),
        };
    }
    None
}

/// `secret --connector management`: the management server's IdP-manager credential in management.json.
pub fn management(configs: &Configs, new: &SecretValue, evidence: &str) -> Result<SecretPlan> {
    let Some(m) = &configs.idp_manager else {
        bail!(
            "no management.json ozrepair read has an IdpManagerConfig, so there is no management credential to set{}; nothing was changed",
            if configs.files.is_empty() {
                " (no config file was found in the container's mounts)"
            } else {
                ""
            }
        );
    };
    let file = &configs.files[m.file];
    let (Some(path), Some(old)) = (&m.secret_path, &m.secret) else {
        bail!(
            "{} has no string IdpManagerConfig.ClientConfig.ClientSecret; ozrepair edits values, it never adds fields; nothing was changed",
            file.path.display()
        );
    };
    let mut plan = Plan {
        connectors: vec![ConnectorView {
            id: MANAGEMENT.into(),
            typ: MANAGEMENT.into(),
            name: if m.manager_type.is_empty() {
                "IdP manager".into()
            } else {
                format!("IdP manager ({})", m.manager_type).into()
            },
            issuer: None,
            status: Status::Unknown,
            problem: None,
            endpoints: Endpoints::new(),
            store: "file",
            file: Some(file.path.display().to_string()),
            checked_by: None,
            status_before: None,
        }],
        secrets: vec![new.expose().to_string(), old.clone()],
        scope: Some(MANAGEMENT.into()),
        ..Plan::default()
    };
    if old != new.expose() {
        plan.changes.push(change(
            MANAGEMENT,
            "ClientSecret",
            old,
            new.expose(),
            evidence,
            file_store(configs, m.file, path),
        ));
    }
    Ok(SecretPlan {
        plan,
        field: "ClientSecret".into(),
        places: vec![file.path.display().to_string()],
        request: token::management_request(m),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dex::{ConnectorRow, Storage};

    fn seen_rows(rows: &[ConnectorRow]) -> Plan {
        let configs = Configs::default();
        let seen = Seen {
            rows,
            logs: None,
            discovered: &[],
            configs: &configs,
        };
        let new = SecretValue::parse(b"brand-new-secret-1\n").unwrap();
        connector(&seen, "a", &new, "stdin", false).unwrap().plan
    }

    fn row(typ: &str, cfg: &str) -> ConnectorRow {
        ConnectorRow {
            id: "a".into(),
            typ: typ.into(),
            name: "A".into(),
            resource_version: String::new(),
            config: Some(cfg.as_bytes().to_vec()),
            storage: Storage::Blob,
        }
    }

    #[test]
    fn a_secret_change_shows_lengths_only_and_carries_the_values_hidden() {
        let plan = seen_rows(&[row(
            "oidc",
            r#"{"clientID":"c","clientSecret":"old-secret-value","issuer":"https://idp"}"#,
        )]);
        assert_eq!(plan.changes.len(), 1);
        let c = &plan.changes[0];
        assert_eq!(
            (c.from.as_str(), c.to.as_str()),
            ("(secret, 16 bytes)", "(secret, 18 bytes)")
        );
        assert_eq!(c.values(), ("old-secret-value", "brand-new-secret-1"));
        let shown = format!("{c:?} {}", serde_json::to_string(c).unwrap());
        assert!(
            !shown.contains("old-secret") && !shown.contains("brand-new"),
            "{shown}"
        );
        // The edit changes every case variant, and only those bytes.
        let rows = [row(
            "oidc",
            r#"{"clientSecret":"old-secret-value","clientsecret":"stray","issuer":"https://idp"}"#,
        )];
        let plan = seen_rows(&rows);
        let edits = super::super::edits::compute(&rows, &plan).unwrap();
        assert_eq!(
            String::from_utf8(edits[0].after.clone()).unwrap(),
            r#"{"clientSecret":"brand-new-secret-1","clientsecret":"brand-new-secret-1","issuer":"https://idp"}"#
        );
        // Already stored everywhere: nothing to change.
        let plan = seen_rows(&[row("oidc", r#"{"clientSecret":"brand-new-secret-1"}"#)]);
        assert!(plan.changes.is_empty());
    }

    #[test]
    fn refuses_a_type_without_a_secret_and_a_missing_field() {
        let configs = Configs::default();
        let new = SecretValue::parse(b"x-secret-y\n").unwrap();
        for (typ, cfg, want) in [
            ("saml", r#"{"ssoURL":"https://x"}"#, "has no secret field"),
            ("oidc", r#"{"issuer":"https://x"}"#, "never adds fields"),
            ("oidc", r#"{"clientSecret":5}"#, "not a string"),
        ] {
            let rows = [row(typ, cfg)];
            let seen = Seen {
                rows: &rows,
                logs: None,
                discovered: &[],
                configs: &configs,
            };
            let e = connector(&seen, "a", &new, "stdin", false)
                .err()
                .unwrap()
                .to_string();
            assert!(e.contains(want), "{typ} {cfg}: {e}");
            assert!(!e.contains("x-secret-y"));
        }
    }
}
