//! Diagnosis: what the running system says about its connectors, gathered before anything is planned.
//!
//! - [`logs`]: the container's own log lines, in every format the field prints, read into findings
//!   (go-oidc's issuer mismatch, other connector failures, the ready line);
//! - [`goquote`]: Go's quoting, so a `%q` value reads back exactly;
//! - [`discover`]: a provider's discovery document (`--discover`), fetched with strict limits.

pub mod discover;
pub mod goquote;
pub mod logs;

use crate::dex::jsonedit::{self, StrValue};
use crate::dex::Stored;
use crate::docker::engine::{LogRange, LATE_START_NS};
use crate::docker::locate::Located;
use crate::docker::ContainerState;
use crate::settings::Settings;
use anyhow::Result;
pub use logs::LogFindings;

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
    /// The container's logs since its last start (None without a container).
    pub logs: Option<LogFindings>,
    /// `--discover`: each OIDC connector's provider, asked once.
    pub discovered: Vec<Asked>,
}

/// The standalone setup: the provider of the management's `HttpConfig.AuthIssuer`, asked always (its
/// discovery document is the only evidence for that value), unless `--issuer` gives the value. With
/// `--discover`'s options when given, else the defaults (plain http only to loopback).
pub fn ask_management(configs: &crate::config::Configs, settings: &Settings) -> Option<Asked> {
    if settings.issuer.is_some() {
        return None;
    }
    let auth = configs.auth.as_ref().filter(|a| !a.embedded)?;
    let opts = settings.discover.clone().unwrap_or_default();
    crate::progress::say(format!(
        "asking {} (HttpConfig.AuthIssuer)",
        discover::discovery_url(&auth.issuer)
    ));
    Some(Asked {
        connector: crate::config::MANAGEMENT.into(),
        answer: discover::published_issuer(&auth.issuer, &opts).map_err(|e| e.to_string()),
    })
}

/// Reads the container's logs since its last start (unless locating already did) and, with `--discover`,
/// asks each OIDC connector's provider (one GET each; plain http only to loopback unless allowed).
pub async fn diagnose(
    located: &Located,
    stored: &Stored,
    settings: &Settings,
) -> Result<Diagnosis> {
    let logs = match (&located.logs, located.managed()) {
        (Some(l), _) => Some(l.clone()),
        (None, Some((e, c))) => {
            let window = c.diagnosed_run();
            let found = logs::scan_window(&e.run_logs(c).await?, &window);
            // A run that ended and said nothing after its recorded start: its lines may be stamped
            // before it (an engine under load records the start late), so look a little earlier.
            let ended = c.status == ContainerState::Restarting || c.status.stays_down();
            if found.is_silent() && ended && window.since.is_some() {
                let wider = window.widened(LATE_START_NS);
                let lines = e
                    .logs(&c.id, LogRange::Window(wider, crate::LOG_TAIL))
                    .await?;
                Some(logs::scan_window(&lines, &wider))
            } else {
                Some(found)
            }
        }
        (None, None) => None,
    };
    let mut discovered = Vec::new();
    if let Some(opts) = &settings.discover {
        for r in &stored.rows {
            if settings.only.as_deref().is_some_and(|o| o != r.id) || r.typ != "oidc" {
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
                    connector: r.id.clone(),
                    answer: discover::published_issuer(&issuer, opts).map_err(|e| e.to_string()),
                });
            }
        }
    }
    Ok(Diagnosis { logs, discovered })
}
