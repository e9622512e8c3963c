//! The standalone setup (an external IdP, no embedded Dex): the management server's own OIDC settings in
//! management.json. `HttpConfig.AuthIssuer` must be exactly the `iss` of the tokens the provider issues;
//! with one character off, every token is refused ("token could not be parsed: token has invalid claims:
//! token has invalid issuer", `shared/auth/jwt/validator.go`), a line that names neither value. So the
//! right value comes from `--issuer` or from the provider's discovery document, the only evidence there is.
//! NetBird overrides AuthIssuer from `OIDCConfigEndpoint` when that is set; an endpoint derived from the
//! old issuer follows the correction.

use super::{Change, ConnectorView, Plan, Source, Status, Store};
use crate::config::{self, Configs};
use crate::evidence::discover::discovery_url;
use crate::evidence::Asked;
use crate::settings::Settings;
use anyhow::{bail, Result};
use std::collections::BTreeMap;

pub use crate::config::MANAGEMENT;

/// The plan for the management's OIDC settings, from `--issuer` or what the provider answered.
pub fn build(configs: &Configs, asked: Option<&Asked>, s: &Settings) -> Result<Plan> {
    let Some(auth) = configs.auth.as_ref().filter(|a| !a.embedded) else {
        bail!(
            "found no Dex database, and no management.json ozrepair read has the management's own OIDC settings (HttpConfig.AuthIssuer without an enabled EmbeddedIdP){}; nothing was changed; name the deployment with --container/--volume, or pass the database with --db",
            match configs.notes.first() {
                Some(n) => format!(" ({n})"),
                None => String::new(),
            }
        );
    };
    let file = &configs.files[auth.file];
    let shown = file.path.display().to_string();
    let mut endpoints = BTreeMap::from([("issuer".to_string(), auth.issuer.clone())]);
    if let Some(e) = &auth.endpoint {
        endpoints.insert("OIDCConfigEndpoint".into(), e.clone());
    }
    let mut view = ConnectorView {
        id: MANAGEMENT.into(),
        typ: "management".into(),
        name: "HttpConfig.AuthIssuer".into(),
        issuer: Some(auth.issuer.clone()),
        status: Status::Unknown,
        problem: None,
        endpoints,
        store: "file",
        file: Some(shown.clone()),
    };
    let mut plan = Plan::default();
    let (to, source, evidence) = match (&s.issuer, asked.map(|a| &a.answer)) {
        (Some(i), _) => (i.clone(), Source::Explicit, "--issuer".to_string()),
        (None, Some(Ok(published))) => (
            published.clone(),
            Source::Discovery,
            format!(
                "discovery document {}: issuer {published:?}",
                discovery_url(&auth.issuer)
            ),
        ),
        (None, Some(Err(why))) => {
            plan.notes.push(format!("{MANAGEMENT}: {why}"));
            plan.discovered = asked.into_iter().cloned().collect();
            plan.connectors = vec![view];
            return Ok(plan);
        }
        (None, None) => {
            plan.notes.push(format!(
                "{MANAGEMENT}: HttpConfig.AuthIssuer is unchecked; pass --discover to ask the provider"
            ));
            plan.connectors = vec![view];
            return Ok(plan);
        }
    };
    plan.discovered = asked.into_iter().cloned().collect();
    if to == auth.issuer {
        view.status = Status::Ok;
    } else {
        view.status = Status::Mismatch;
        view.problem = Some(format!(
            "HttpConfig.AuthIssuer {:?}, the provider's tokens carry {to:?}",
            auth.issuer
        ));
        plan.changes.push(change(
            file,
            ("AuthIssuer", &auth.issuer_path),
            &auth.issuer,
            &to,
            source,
            &evidence,
        ));
        // An endpoint that is the discovery URL of the old issuer follows it.
        if let Some(e) = &auth.endpoint {
            let (old, new) = (discovery_url(&auth.issuer), discovery_url(&to));
            if *e == old && old != new {
                plan.changes.push(change(
                    file,
                    ("OIDCConfigEndpoint", &auth.endpoint_path),
                    e,
                    &new,
                    source,
                    &format!("{evidence} (the endpoint is its discovery URL)"),
                ));
            }
        }
    }
    plan.connectors = vec![view];
    Ok(plan)
}

fn change(
    file: &config::ConfigFile,
    (field, path): (&str, &[config::Seg]),
    from: &str,
    to: &str,
    source: Source,
    evidence: &str,
) -> Change {
    Change {
        connector: MANAGEMENT.into(),
        field: field.into(),
        from: from.into(),
        to: to.into(),
        source,
        evidence: evidence.into(),
        store: Store::File {
            file: file.path.display().to_string(),
            at: config::show_path(path),
            path: path.to_vec(),
            kind: config::Kind::Str,
        },
    }
}
