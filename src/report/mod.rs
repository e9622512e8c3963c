//! The report every command ends with, made last from what the steps returned ([`Trail`]): JSON
//! (docs/cli-contract.md, v1, one object per host; [`Report`] is its shape) or text for a person ([`text`]). Only
//! identifiers, issuers and hashes go in: never a connector's config. Everything printed leaves through
//! [`Report::render`] (or [`fleet_output`]), where the secret scrub ([`redact`]) sits.

pub mod json;
pub mod monitor;
pub mod redact;
pub mod text;

use crate::access::Database;
use crate::apply::backup::BackupSet;
use crate::apply::Applied;
use crate::dex::Stored;
use crate::docker::locate::Located;
use crate::plan::{Change, ConnectorView, Plan};
use crate::settings::{Output, Settings};
pub use crate::verdict::{ExitCode, Outcome, Verdict};
use serde::Serialize;
use std::io::IsTerminal;

/// What a command's steps returned, as far as it got; the report is made from it at the end.
#[derive(Default)]
pub struct Trail {
    pub located: Option<Located>,
    pub db: Option<Database>,
    pub stored: Option<Stored>,
    /// The config files read (inspect and fix).
    pub configs: Option<crate::config::Configs>,
    pub plan: Option<Plan>,
    pub applied: Option<Applied>,
    /// `backups`: the sets found.
    pub backups: Vec<BackupSet>,
    /// What the command itself has to say (a judgement, an empty listing).
    pub notes: Vec<String>,
    /// `password`: the user whose password is (or would be) set.
    pub password: Option<PasswordChange>,
}

/// `password`: whose password was set and how many of their local sessions were removed; never the
/// password or a hash (extension).
#[derive(Debug, Clone, Serialize)]
pub struct PasswordChange {
    pub email: String,
    pub user_id: String,
    /// Sessions removed; with `--dry-run` (or before the write) the sessions that would be removed.
    pub sessions_removed: usize,
    /// The new hash was written (false: dry-run, already set, or the run failed before the write).
    pub applied: bool,
}
#[derive(Debug, Clone, Serialize)]
pub struct ContainerPart {
    pub name: String,
    pub id: String,
    pub state_before: String,
    pub state_after: Option<String>,
    pub restart_count: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct DatabasePart {
    pub path: String,
    pub volume: Option<String>,
    pub sha256_before: Option<String>,
    pub sha256_after: Option<String>,
    pub dex_migrations: Option<i64>,
    pub schema: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct BackupPart {
    pub path: String,
    pub sha256: String,
    pub dir: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct DiscoveryPart {
    pub connector: String,
    /// The issuer the provider publishes, when it could be asked.
    pub published: Option<String>,
    /// Why it could not be asked.
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct BackupListing {
    pub dir: String,
    pub created: String,
    pub sha256: String,
    pub size: u64,
    pub connectors: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub schema_version: u32,
    pub command: String,
    pub host: Option<String>,
    pub container: Option<ContainerPart>,
    pub database: Option<DatabasePart>,
    pub connectors: Vec<ConnectorView>,
    pub changes: Vec<Change>,
    pub backup: Option<BackupPart>,
    pub result: Outcome,
    pub error: Option<String>,
    /// How the deployment was found (extension).
    pub located: Vec<String>,
    /// Findings no change addresses, warnings (extension).
    pub notes: Vec<String>,
    /// `--discover`: what each provider answered (extension).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub discovery: Vec<DiscoveryPart>,
    /// The backup sets, for `backups` (extension).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub backups: Vec<BackupListing>,
    /// `password`: the user and their sessions (extension).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password_change: Option<PasswordChange>,
    #[serde(skip)]
    pub exit_code: ExitCode,
    /// Secret values read from the database, scrubbed from every output (never serialised).
    #[serde(skip)]
    pub secrets: Vec<String>,
}

impl Report {
    /// The report of a command: what its steps returned, and how it ended.
    pub fn make(command: &str, t: &Trail, verdict: Verdict) -> Report {
        let located = t.located.as_ref();
        let applied = t.applied.as_ref();
        let stored = t.stored.as_ref();
        let mut notes: Vec<String> = stored.map(|s| s.notes()).unwrap_or_default();
        notes.extend(t.configs.iter().flat_map(|c| c.notes.iter().cloned()));
        notes.extend(t.plan.iter().flat_map(|p| p.notes.iter().cloned()));
        notes.extend(t.notes.iter().cloned());
        notes.extend(applied.iter().flat_map(|a| a.notes.iter().cloned()));
        let changes = match (&t.plan, applied) {
            (_, Some(a)) if a.already_stored => Vec::new(),
            (Some(p), _) => p.changes.clone(),
            (None, _) => Vec::new(),
        };
        Report {
            schema_version: 1,
            command: command.to_string(),
            host: located
                .and_then(|l| l.engine.as_ref())
                .map(|e| e.endpoint.clone()),
            container: located
                .and_then(|l| l.container.as_ref())
                .map(|c| ContainerPart {
                    name: c.name.clone(),
                    id: c.id.clone(),
                    state_before: c.status.to_string(),
                    state_after: applied
                        .and_then(|a| a.state_after.as_ref())
                        .map(|s| s.to_string()),
                    restart_count: c.restart_count,
                }),
            database: t.db.as_ref().map(|db| DatabasePart {
                path: db.shown(),
                volume: located.and_then(|l| l.volume.clone()),
                sha256_before: stored.map(|s| s.sha256.clone()),
                sha256_after: applied.and_then(|a| a.sha256_after.clone()),
                dex_migrations: stored.map(|s| s.schema.migrations),
                schema: stored.map(|s| s.schema.describe()),
            }),
            connectors: t
                .plan
                .as_ref()
                .map(|p| p.connectors.clone())
                .unwrap_or_default(),
            changes,
            backup: applied.and_then(|a| a.backup.as_ref()).map(BackupPart::of),
            result: verdict.outcome,
            error: verdict.error,
            located: located
                .map(|l| l.why.clone())
                .unwrap_or_default()
                .into_iter()
                .chain(t.configs.iter().flat_map(|c| c.describe()))
                .collect(),
            notes,
            discovery: t
                .plan
                .iter()
                .flat_map(|p| &p.discovered)
                .map(|a| DiscoveryPart {
                    connector: a.connector.clone(),
                    published: a.answer.as_ref().ok().cloned(),
                    error: a.answer.as_ref().err().cloned(),
                })
                .collect(),
            backups: t.backups.iter().map(BackupListing::of).collect(),
            password_change: t.password.clone(),
            exit_code: verdict.exit,
            // The plan read every row's secrets already; without a plan they are read here.
            secrets: match (&t.plan, stored) {
                (Some(p), _) => p.secrets.clone(),
                (None, Some(s)) => crate::dex::secrets::secrets_in(&s.rows),
                (None, None) => Vec::new(),
            },
        }
    }

    /// The report as serde_json writes it (see [`json`]).
    pub fn to_json(&self) -> String {
        json::report(self).unwrap_or_else(|e| {
            format!(
                "{{\"schema_version\":1,\"result\":\"failed\",\"error\":{:?}}}",
                e.to_string()
            )
        })
    }

    /// Every string of the report, for the scrub and the terminal escapes (each field once, map keys too).
    pub fn strings_mut(&mut self, f: &mut dyn FnMut(&mut String)) {
        let opt = |o: &mut Option<String>, f: &mut dyn FnMut(&mut String)| {
            if let Some(v) = o {
                f(v)
            }
        };
        f(&mut self.command);
        opt(&mut self.host, f);
        if let Some(c) = &mut self.container {
            f(&mut c.name);
            f(&mut c.id);
            f(&mut c.state_before);
            opt(&mut c.state_after, f);
        }
        if let Some(d) = &mut self.database {
            f(&mut d.path);
            opt(&mut d.volume, f);
            opt(&mut d.sha256_before, f);
            opt(&mut d.sha256_after, f);
            opt(&mut d.schema, f);
        }
        for c in &mut self.connectors {
            f(&mut c.id);
            f(&mut c.typ);
            f(&mut c.name);
            opt(&mut c.issuer, f);
            opt(&mut c.problem, f);
            opt(&mut c.file, f);
            c.endpoints.values_mut().for_each(&mut *f);
            // Keys are field names; a plain one (letters and digits, as every endpoint name is) is left
            // as it is, and the map is rebuilt only when another one changes.
            let keys: Vec<(std::borrow::Cow<'static, str>, String)> = c
                .endpoints
                .keys()
                .filter(|k| !k.bytes().all(|b| b.is_ascii_alphanumeric()))
                .filter_map(|k| {
                    let mut t = k.to_string();
                    f(&mut t);
                    (t != **k).then(|| (k.clone(), t))
                })
                .collect();
            for (old, new) in keys {
                if let Some(v) = c.endpoints.remove(&old) {
                    c.endpoints.insert(new.into(), v);
                }
            }
        }
        for c in &mut self.changes {
            f(&mut c.connector);
            f(&mut c.field);
            f(&mut c.from);
            f(&mut c.to);
            f(&mut c.evidence);
            if let crate::plan::Store::File { file, at, .. } = &mut c.store {
                f(file);
                f(at);
            }
        }
        if let Some(b) = &mut self.backup {
            f(&mut b.path);
            f(&mut b.sha256);
            f(&mut b.dir);
        }
        opt(&mut self.error, f);
        self.located.iter_mut().for_each(&mut *f);
        self.notes.iter_mut().for_each(&mut *f);
        for d in &mut self.discovery {
            f(&mut d.connector);
            opt(&mut d.published, f);
            opt(&mut d.error, f);
        }
        for b in &mut self.backups {
            f(&mut b.dir);
            f(&mut b.created);
            f(&mut b.sha256);
            b.connectors.iter_mut().for_each(&mut *f);
        }
        if let Some(p) = &mut self.password_change {
            f(&mut p.email);
            f(&mut p.user_id);
        }
    }

    /// The report with its secrets scrubbed from every string (see [`redact`]).
    pub fn scrubbed(mut self) -> Report {
        // The scrub borrows the secrets while the strings change: they are set aside meanwhile.
        let secrets = std::mem::take(&mut self.secrets);
        let sc = redact::Scrubber::new(&secrets);
        if !sc.is_empty() {
            self.strings_mut(&mut |t| sc.scrub(t));
        }
        drop(sc);
        self.secrets = secrets;
        self
    }

    /// What is printed: the report on stdout, and the error line for stderr; secrets scrubbed from every
    /// string of the report before it is rendered unless `--show-secrets`, and (except in JSON, which
    /// escapes them itself) control characters escaped so that nothing from the database, the logs or the
    /// engine can drive the operator's terminal.
    pub fn render(self, s: &Settings) -> Rendered {
        let mut r = if s.show_secrets {
            self
        } else {
            self.scrubbed()
        };
        if s.output != Output::Json {
            r.strings_mut(&mut text::clean_in_place);
        }
        let (stdout, exit) = match s.output {
            Output::Json => {
                let mut json = text::json_terminal_safe(r.to_json());
                json.push('\n');
                (json, r.exit_code.code())
            }
            Output::Text => (text::report(&r, s.color), r.exit_code.code()),
            Output::Nagios => {
                let (text, state) = monitor::nagios(&r);
                (text, state.code())
            }
            Output::Prometheus => (monitor::prometheus(&r), r.exit_code.code()),
        };
        // On a terminal the text report already ends with the error; elsewhere stderr carries it too.
        let shown_in_report = s.output == Output::Text
            && std::io::stdout().is_terminal()
            && std::io::stderr().is_terminal();
        let stderr = r
            .error
            .as_deref()
            .map(text::clean)
            .filter(|_| !shown_in_report)
            .map(|e| format!("ozrepair: {e}\n"));
        Rendered {
            stdout,
            stderr,
            exit,
            report: r,
        }
    }
}

/// The planned changes as the confirmation prompt shows them: scrubbed and escaped like the report.
pub fn prompt_diff(plan: &Plan, s: &Settings) -> String {
    let mut r = Report {
        changes: plan.changes.clone(),
        connectors: plan.connectors.clone(),
        secrets: if s.show_secrets {
            Vec::new()
        } else {
            plan.secrets.clone()
        },
        ..Report::make("fix", &Trail::default(), Verdict::healthy())
    };
    r = r.scrubbed();
    r.strings_mut(&mut text::clean_in_place);
    text::diff_text(&r.changes, &r.connectors)
}

/// A report as printed.
pub struct Rendered {
    pub stdout: String,
    pub stderr: Option<String>,
    /// The process's exit code: the report's, or the monitoring plugin's for `--output nagios`.
    pub exit: i32,
    /// The report it was rendered from (see [`Rendered::exit_now`]).
    report: Report,
}

impl Rendered {
    /// The exit code, for a process that exits right after printing this: the report is not freed, as
    /// the process's memory goes back to the system at exit anyway (freeing 10,000 connectors' strings
    /// one by one costs about as much as scrubbing them). Nothing else is held: the report owns no file,
    /// lock or child process.
    pub fn exit_now(self) -> i32 {
        let exit = self.exit;
        std::mem::forget(self.report);
        exit
    }
}

impl BackupPart {
    fn of(b: &BackupSet) -> BackupPart {
        BackupPart {
            path: b.db_file().display().to_string(),
            sha256: b.db_sha256(),
            dir: b.dir.display().to_string(),
        }
    }
}

impl BackupListing {
    fn of(set: &BackupSet) -> BackupListing {
        BackupListing {
            dir: set.dir.display().to_string(),
            created: set.manifest.created.clone(),
            sha256: set.db_sha256(),
            size: set.manifest.files.first().map(|f| f.size).unwrap_or(0),
            connectors: set.manifest.connectors.clone(),
        }
    }
}

/// One host of a fleet: its report (as the host's own run printed it, already scrubbed) and exit code.
pub struct HostResult {
    pub endpoint: String,
    pub report: serde_json::Value,
    pub exit: ExitCode,
}

/// The hosts whose ssh host key `--ssh-accept-new` trusted for the first time (fleet.rs marks them).
pub fn ssh_accepted(results: &[HostResult]) -> Vec<&str> {
    results
        .iter()
        .filter(|r| r.report.get("ssh_host_key_accepted").is_some())
        .map(|r| r.endpoint.as_str())
        .collect()
}

/// The fleet's output: one JSON line per host and a summary line, or a table.
pub fn fleet_output(
    output: Output,
    results: &[HostResult],
    counts: &std::collections::BTreeMap<String, usize>,
    code: ExitCode,
) -> String {
    match output {
        Output::Json => {
            let mut o = String::new();
            for r in results {
                o.push_str(&format!("{}\n", r.report));
            }
            let mut summary = serde_json::json!({"hosts": results.len(), "results": counts});
            let accepted = ssh_accepted(results);
            if !accepted.is_empty() {
                summary["ssh_host_keys_accepted"] = serde_json::json!(accepted);
            }
            o.push_str(&format!(
                "{}\n",
                serde_json::json!({"summary": summary, "exit_code": code.code()})
            ));
            o
        }
        Output::Text | Output::Nagios | Output::Prometheus => {
            text::fleet_table(results, counts, code)
        }
    }
}
