//! Diagnose: what the running system says about its connectors, gathered before anything is planned.
//!
//! - the lines of the IdP's last run, read through its runtime and into findings by [`crate::logs`]
//!   (go-oidc's issuer mismatch, other connector failures, the ready line);
//! - [`discover`]: a provider's discovery document (`--discover`), fetched with strict limits.

pub mod discover;
pub mod token;

use crate::dex::jsonedit::{self, StrValue};
use crate::dex::Stored;
use crate::logs::LogFindings;
use crate::runtime::Runtime;
use anyhow::Result;

/// One provider asked with `--discover`.
#[derive(Debug, Clone)]
pub struct Asked {
    pub connector: String,
    /// The issuer the provider publishes, or why it could not be asked.
    pub answer: Result<String, String>,
}

/// Everything the system said, for the plan.
#[derive(Debug, Default, Clone)]
pub struct Diagnosis {
    /// The lines of the IdP's last run (None when nothing runs it).
    pub logs: Option<LogFindings>,
    /// `--discover`: each OIDC connector's provider, asked once.
    pub discovered: Vec<Asked>,
}

/// The standalone setup: the provider of the management's `HttpConfig.AuthIssuer`, asked always (its
/// discovery document is the only evidence for that value), unless `--issuer` gives the value. With
/// `--discover`'s options when given, else the defaults (plain http only to loopback).
pub fn ask_management(
    configs: &crate::config::Configs,
    issuer_given: bool,
    discover: Option<&discover::Options>,
) -> Option<Asked> {
    if issuer_given {
        return None;
    }
    let auth = configs.auth.as_ref().filter(|a| !a.embedded)?;
    let opts = discover.cloned().unwrap_or_default();
    crate::progress::say(format!(
        "asking {} (HttpConfig.AuthIssuer)",
        discover::discovery_url(&auth.issuer)
    ));
    Some(Asked {
        connector: crate::config::MANAGEMENT.into(),
        answer: discover::published_issuer(&auth.issuer, &opts).map_err(|e| e.to_string()),
    })
}

/// Reads the lines of the IdP's last run (unless locating already did: `logs`) and, with `--discover`
/// (`discover`), asks each OIDC connector's provider (one GET each; plain http only to loopback unless
/// allowed), only `only`'s with `--connector`.
pub async fn diagnose(
    runtime: &dyn Runtime,
    logs: Option<&LogFindings>,
    stored: &Stored,
    discover: Option<&discover::Options>,
    only: Option<&str>,
) -> Result<Diagnosis> {
    let logs = match logs {
        Some(l) => Some(l.clone()),
        None => runtime.last_run().await?,
    };
    let mut discovered = Vec::new();
    if let Some(opts) = discover {
        for r in &stored.rows {
            if only.is_some_and(|o| o != r.id) || r.typ != "oidc" {
                continue;
            }
            let Some(cfg) = r.config.as_deref() else {
                continue;
            };
            let Ok(fields) = jsonedit::top_level_fields(cfg) else {
                continue;
            };
            if let StrValue::Str(issuer) = jsonedit::string_value(cfg, &fields, "issuer") {
                crate::progress::say(format!("asking {}", discover::discovery_url(&issuer)));
                discovered.push(Asked {
                    connector: r.id.to_string(),
                    answer: discover::published_issuer(&issuer, opts).map_err(|e| e.to_string()),
                });
            }
        }
    }
    Ok(Diagnosis { logs, discovered })
}
