//! The emergency door, `local-login --enable`: the plan that turns local (email and password) login back
//! on for the next start. Explicit only: `fix` never plans it. Each setting that turns local login off in a
//! config file ozrepair read is set to the value that lets it in, and Dex's built-in `local` connector row
//! is created again when it was deleted (NetBird deletes it at start-up when `LocalAuthDisabled` is set).
//! A setting's value is read as its server reads it (`config::read`): Dex's `enablePasswordDB: no` is off
//! (go-yaml v2 reads YAML 1.1 booleans), and it is turned on as `yes`, the word of its own family.

use super::{defined_in_files, views_of, Change, Plan, Source, Store};
use crate::config::{self, Configs, Seg};
use crate::dex::ConnectorRow;
use crate::logs::LogFindings;

/// The `field` of a change that creates a whole connector row.
pub const NEW_ROW: &str = "(row)";
/// Dex's built-in password connector, as NetBird and Dex create it.
pub const LOCAL_ID: &str = "local";
pub const LOCAL_TYPE: &str = "local";
pub const LOCAL_NAME: &str = "Email";
const EVIDENCE: &str = "local-login --enable";

/// The plan of `local-login --enable` (`show_secrets`: list each connector's secret fields).
pub fn local_login(
    rows: &[ConnectorRow],
    configs: &Configs,
    logs: Option<&LogFindings>,
    show_secrets: bool,
) -> Plan {
    let mut secrets = Vec::new();
    let mut views = views_of(rows, logs, show_secrets, &mut secrets);
    defined_in_files(&mut views, configs, logs);
    for c in &configs.connectors {
        secrets.extend(c.secrets.iter().cloned());
    }
    crate::dex::secrets::finish(&mut secrets);
    let mut plan = Plan {
        secrets,
        ..Plan::default()
    };
    for f in &configs.login_flags {
        if f.value == f.enabled_when {
            continue;
        }
        let file = &configs.files[f.file];
        let field = match f.path.last() {
            Some(Seg::Key(k)) => k.clone(),
            _ => config::show_path(&f.path),
        };
        plan.changes.push(Change {
            connector: LOCAL_ID.into(),
            field,
            from: f.value.to_string(),
            to: f.enabled_when.to_string(),
            source: Source::Explicit,
            evidence: EVIDENCE.into(),
            store: Store::File {
                file: file.path.display().to_string(),
                at: config::show_path(&f.path),
                path: f.path.clone(),
                kind: config::Kind::Bool,
            },
        });
    }
    // Dex with `enablePasswordDB` adds `local` as a static connector of its own: no row is needed there.
    let dex_adds_local = configs.login_flags.iter().any(|f| f.enabled_when);
    if !dex_adds_local && !rows.iter().any(|r| r.id == LOCAL_ID) {
        plan.changes.push(Change {
            connector: LOCAL_ID.into(),
            field: NEW_ROW.into(),
            from: String::new(),
            to: format!("type {LOCAL_TYPE}, name {LOCAL_NAME}"),
            source: Source::Explicit,
            evidence: format!("{EVIDENCE}: Dex's built-in password connector is missing"),
            store: Store::Database,
        });
    }
    if configs.unread_flags > 0 {
        plan.notes.push(
            "a setting that turns local login off holds a value its server does not read as a boolean (the note above names its file and line); ozrepair does not change it: write true or false there by hand".into(),
        );
    } else if configs.login_flags.is_empty() {
        plan.notes.push(
            "no config file ozrepair read sets local login (management.json EmbeddedIdP.LocalAuthDisabled, config.yaml localAuthDisabled or enablePasswordDB); if it is turned off elsewhere (an environment variable, a file ozrepair did not find), turn it on there".into(),
        );
    } else if plan.changes.is_empty() {
        plan.notes
            .push("local login is already on in every config file ozrepair read, and the local connector exists".into());
    }
    plan.connectors = views;
    plan
}
