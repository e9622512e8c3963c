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
use crate::settings::PlanArgs;
use anyhow::{bail, Result};
use std::borrow::Cow;

pub use crate::config::MANAGEMENT;

/// The plan for the management's OIDC settings, from `--issuer` or what the provider answered.
pub fn build(configs: &Configs, asked: Option<&Asked>, s: &PlanArgs) -> Result<Plan> {
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
    let issuer = crate::shared::Shared::from(auth.issuer.as_str());
    let mut endpoints = super::Endpoints::from([(Cow::Borrowed("issuer"), issuer.clone())]);
    if let Some(e) = &auth.endpoint {
        endpoints.insert(Cow::Borrowed("OIDCConfigEndpoint"), e.clone());
    }
    let mut view = ConnectorView {
        id: MANAGEMENT.into(),
        typ: "management".into(),
        name: "HttpConfig.AuthIssuer".into(),
        issuer: Some(issuer),
        status: Status::Unknown,
        problem: None,
        endpoints,
        store: "file",
        file: Some(shown.clone()),
        checked_by: None,
        status_before: None,
    };
    let mut plan = Plan {
        judges_connectors: true,
        ..Plan::default()
    };
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
    view.checked_by = Some(source.says());
    if to == auth.issuer {
        view.status = Status::Ok;
    } else {
        view.status = Status::Mismatch;
        view.problem = Some(match source {
            Source::Explicit => {
                format!(
                    "HttpConfig.AuthIssuer {:?}, --issuer sets {to:?}",
                    auth.issuer
                )
            }
            _ => format!(
                "HttpConfig.AuthIssuer {:?}, the provider's tokens carry {to:?}",
                auth.issuer
            ),
        });
        plan.changes.push(change(
            file,
            ("AuthIssuer", &auth.issuer_path),
            &auth.issuer,
            &to,
            source,
            &evidence,
        ));
        // The setup file configure.sh writes management.json from: its endpoint, when it is the old
        // issuer's discovery URL, follows the correction; another value is named, never guessed.
        if let Some((fi, key, value)) = &configs.env_endpoint {
            let (old, new) = (discovery_url(&auth.issuer), discovery_url(&to));
            if *value == old && old != new {
                plan.changes.push(change(
                    &configs.files[*fi],
                    (key, &[config::Seg::Key(key.clone())]),
                    value,
                    &new,
                    source,
                    &format!("{evidence} (the endpoint is its discovery URL)"),
                ));
            } else if *value != new {
                plan.notes.push(format!(
                    "{}: {key} is {value:?}, not the discovery URL of the corrected issuer ({new:?}); check it before running configure.sh again",
                    configs.files[*fi].path.display()
                ));
            }
        } else if let Some(w) = &configs.env_unedited {
            // Left as it is, the next configure.sh writes the old endpoint into management.json again.
            plan.held_elsewhere.push(format!(
                "{w}: set it to {:?} by hand before running configure.sh again",
                discovery_url(&to)
            ));
        }
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
    super::generated::hold_back(&mut plan, configs);
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
        hidden: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ConfigFile, Format};

    fn file(path: &str, format: Format, text: &str) -> ConfigFile {
        ConfigFile {
            path: path.into(),
            in_container: String::new(),
            format,
            bytes: text.as_bytes().to_vec(),
        }
    }

    fn asked(published: &str) -> Asked {
        Asked {
            connector: MANAGEMENT.into(),
            answer: Ok(published.into()),
        }
    }

    #[test]
    fn the_issuer_and_the_endpoints_derived_from_it_follow_the_published_issuer() {
        let old = "https://idp.example.com/realms/Netbird";
        let new = "https://idp.example.com/realms/netbird";
        let configs = Configs::of_files(vec![
            file(
                "/srv/artifacts/management.json",
                Format::Json,
                &format!(r#"{{"HttpConfig":{{"AuthIssuer":"{old}","OIDCConfigEndpoint":"{old}/.well-known/openid-configuration"}}}}"#),
            ),
            file(
                "/srv/setup.env",
                Format::Env,
                &format!("export NETBIRD_AUTH_OIDC_CONFIGURATION_ENDPOINT=\"{old}/.well-known/openid-configuration\"\n"),
            ),
        ]);
        let plan = build(&configs, Some(&asked(new)), &PlanArgs::default()).unwrap();
        let at: Vec<(&str, &str)> = plan
            .changes
            .iter()
            .map(|c| match &c.store {
                Store::File { file, at, .. } => (file.as_str(), at.as_str()),
                Store::Database => ("", ""),
            })
            .collect();
        assert_eq!(
            at,
            [
                ("/srv/artifacts/management.json", "HttpConfig.AuthIssuer"),
                ("/srv/setup.env", "NETBIRD_AUTH_OIDC_CONFIGURATION_ENDPOINT"),
                (
                    "/srv/artifacts/management.json",
                    "HttpConfig.OIDCConfigEndpoint"
                ),
            ]
        );
        // Each edit applies to its file as planned.
        for (c, f) in plan.changes.iter().zip([0, 1, 0]) {
            let Store::File { path, kind, .. } = &c.store else {
                unreachable!()
            };
            let out = config::edit(&configs.files[f], path, *kind, &c.from, &c.to).unwrap();
            assert!(String::from_utf8(out).unwrap().contains(&c.to));
        }
    }

    #[test]
    fn a_slash_only_difference_leaves_the_endpoints_and_an_unrelated_endpoint_is_named() {
        let configs = Configs::of_files(vec![
            file("/m.json", Format::Json, r#"{"HttpConfig":{"AuthIssuer":"https://a"}}"#),
            file("/setup.env", Format::Env, "NETBIRD_AUTH_OIDC_CONFIGURATION_ENDPOINT=https://b/.well-known/openid-configuration\n"),
        ]);
        let plan = build(&configs, Some(&asked("https://a/")), &PlanArgs::default()).unwrap();
        assert_eq!(plan.changes.len(), 1);
        assert!(
            plan.notes[0].contains("check it before running configure.sh"),
            "{:?}",
            plan.notes
        );
    }
}
