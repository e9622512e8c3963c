//! The report every command ends with, made last from what the steps returned ([`Trail`]): JSON
//! (docs/cli-contract.md, v1, one object per host; [`Report`] is its shape) or text for a person ([`text`]). Only
//! identifiers, issuers and hashes go in: never a connector's config. Everything printed leaves through
//! [`Report::render`] (or [`fleet_output`]), where the secret scrub ([`redact`]) sits.

pub mod json;
pub mod monitor;
pub mod redact;
pub mod text;

use crate::apply::Applied;
use crate::backups::BackupSet;
use crate::dex::Stored;
use crate::fields::Strings;
use crate::plan::{self, Change, ConnectorView, Plan, Status};
use crate::runtime::Located;
use crate::settings::{Output, OutputOpts};
use crate::store::Store;
pub use crate::verdict::{ExitCode, Outcome, Verdict};
use serde::Serialize;
use std::io::IsTerminal;

/// The version of the report's shape (2: the table of results grew, and `healthy` needs evidence).
pub const SCHEMA_VERSION: u32 = 2;

/// After a change: each changed connector's status as the run left it, its status before beside it.
/// Fixed: ok, by the change read back (and the IdP's log after its start, when something runs it).
/// Written but not seen to stay up, or not watched: unknown, with why.
fn after_change(views: &mut [ConnectorView], changes: &[Change], v: &Verdict, runs: bool) {
    for view in views.iter_mut() {
        if !changes.iter().any(|c| c.connector == view.id) {
            continue;
        }
        let (status, by, problem) = match v.outcome {
            Outcome::Fixed => (
                Status::Ok,
                Some(if runs { plan::BY_FIX } else { plan::BY_WRITE }),
                None,
            ),
            Outcome::Unverified if v.exit == ExitCode::Done => (
                Status::Unknown,
                None,
                Some("changed; its start was not watched (--wait 0)"),
            ),
            Outcome::Unverified => (
                Status::Unknown,
                None,
                Some("changed; the IdP did not stay up after it (see the error)"),
            ),
            _ => continue,
        };
        view.status_before = Some(view.status);
        view.status = status;
        view.checked_by = by;
        view.problem = problem.map(String::from);
    }
}

/// What a command's steps returned, as far as it got; the report is made from it at the end.
#[derive(Default)]
pub struct Trail {
    pub located: Option<Located>,
    pub store: Option<Box<dyn Store>>,
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
    /// `secret`: whose secret is (or would be) set, and what its provider said.
    pub secret: Option<SecretChange>,
}

crate::fields! {
    /// `secret`: whose secret field was (or would be) set, where, how long the new secret is, and what its
    /// provider said; never the secret, a part or a digest of it (extension).
    #[derive(Debug, Clone, Serialize)]
    pub struct SecretChange {
        pub connector: String,
        pub field: String,
        /// Where it is kept: `database`, and each config file.
        pub places: Vec<String>,
        /// The new secret's length in bytes.
        pub bytes: usize,
        /// It was written (false: dry-run, already stored, refused, or the run failed before the write).
        pub applied: bool,
        /// What the provider said: `accepted`, `refused`, `inconclusive`, `cannot_verify` or `not_asked`.
        pub verified: &'static str,
        /// The request that proves it, in words, or why none can for this type.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub verify_request: Option<String>,
        /// The token endpoint asked.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub verify_endpoint: Option<String>,
        /// What it answered (its status and error, never a token).
        #[serde(skip_serializing_if = "Option::is_none")]
        pub verify_answer: Option<String>,
    }
}

crate::fields! {
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
}

crate::fields! {
    #[derive(Debug, Clone, Serialize)]
    pub struct ContainerPart {
        pub name: String,
        pub id: String,
        pub state_before: String,
        pub state_after: Option<String>,
        pub restart_count: i64,
    }
}

crate::fields! {
    #[derive(Debug, Clone, Serialize)]
    pub struct DatabasePart {
        pub path: String,
        pub volume: Option<String>,
        pub sha256_before: Option<String>,
        pub sha256_after: Option<String>,
        pub dex_migrations: Option<i64>,
        pub schema: Option<String>,
    }
}

crate::fields! {
    #[derive(Debug, Clone, Serialize)]
    pub struct BackupPart {
        pub path: String,
        pub sha256: String,
        pub dir: String,
    }
}

crate::fields! {
    #[derive(Debug, Clone, Serialize)]
    pub struct DiscoveryPart {
        pub connector: String,
        /// The issuer the provider publishes, when it could be asked.
        pub published: Option<String>,
        /// Why it could not be asked.
        pub error: Option<String>,
    }
}

crate::fields! {
    #[derive(Debug, Clone, Serialize)]
    pub struct BackupListing {
        pub dir: String,
        pub created: String,
        pub sha256: String,
        pub size: u64,
        pub connectors: Vec<String>,
    }
}

crate::fields! {
    /// The report (contract v1). Its fields are declared once, here: serde writes its JSON in this order
    /// (the connectors through [`json::connectors`]), and [`Strings`] visits every string for the scrub
    /// and the escapes.
    #[derive(Debug, Clone, Serialize)]
    pub struct Report {
        pub schema_version: u32,
        pub command: String,
        pub host: Option<String>,
        /// What runs the IdP (extension): `docker`, `podman`, `none`; null when nothing was located.
        pub runtime: Option<String>,
        pub container: Option<ContainerPart>,
        pub database: Option<DatabasePart>,
        /// Where Dex keeps its state (extension): `sqlite`; null when no store was reached.
        pub store: Option<String>,
        #[serde(serialize_with = "json::connectors")]
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
        /// Logins that failed while the IdP ran, by connector and cause, with what repairs each
        /// (extension).
        #[serde(skip_serializing_if = "Vec::is_empty")]
        pub login_failures: Vec<plan::logins::LoginView>,
        /// The backup sets, for `backups` (extension).
        #[serde(skip_serializing_if = "Vec::is_empty")]
        pub backups: Vec<BackupListing>,
        /// `password`: the user and their sessions (extension).
        #[serde(skip_serializing_if = "Option::is_none")]
        pub password_change: Option<PasswordChange>,
        /// `secret`: the secret field, where it is kept, its length, what the provider said (extension).
        #[serde(skip_serializing_if = "Option::is_none")]
        pub secret_change: Option<SecretChange>,
        #[serde(skip)]
        pub exit_code: ExitCode,
        /// Secret values read from the store, scrubbed from every output (never serialised).
        #[serde(skip)]
        pub secrets: Vec<String>,
    }
}

impl Strings for Outcome {
    fn strings(&mut self, _: &mut dyn FnMut(&str) -> Option<String>) {}
}

impl Strings for ExitCode {
    fn strings(&mut self, _: &mut dyn FnMut(&str) -> Option<String>) {}
}

impl Report {
    /// The report of a command: what its steps returned (the trail is used up: its connectors move in,
    /// 10,000 of them are not copied), and how it ended.
    pub fn make(command: &str, t: Trail, verdict: Verdict) -> Report {
        let Trail {
            located,
            store,
            stored,
            configs,
            plan,
            applied,
            backups,
            notes: own_notes,
            password,
            secret,
        } = t;
        let applied = applied.as_ref();
        let runtime = located.as_ref().map(|l| &*l.runtime);
        let unit = runtime.and_then(|r| r.unit());
        let mut notes: Vec<String> = stored.as_ref().map(|s| s.notes()).unwrap_or_default();
        notes.extend(configs.iter().flat_map(|c| c.notes.iter().cloned()));
        notes.extend(plan.iter().flat_map(|p| p.notes.iter().cloned()));
        notes.extend(own_notes);
        notes.extend(applied.iter().flat_map(|a| a.notes.iter().cloned()));
        // The plan read every row's secrets already; without a plan they are read here.
        let secrets = match (&plan, &stored) {
            (Some(_), _) => Vec::new(),
            (None, Some(s)) => crate::dex::secrets::secrets_in(&s.rows),
            (None, None) => Vec::new(),
        };
        let logins = plan.as_ref().map(|p| p.logins.clone()).unwrap_or_default();
        let (mut connectors, changes, discovery, plan_secrets) = match plan {
            Some(p) => {
                let changes = match applied {
                    Some(a) if a.already_stored => Vec::new(),
                    _ => p.changes,
                };
                let discovery = p
                    .discovered
                    .into_iter()
                    .map(|a| DiscoveryPart {
                        connector: a.connector,
                        published: a.answer.as_ref().ok().cloned(),
                        error: a.answer.err(),
                    })
                    .collect();
                (p.connectors, changes, discovery, p.secrets)
            }
            None => (Vec::new(), Vec::new(), Vec::new(), Vec::new()),
        };
        if let Some(v) = applied
            .filter(|a| !a.already_stored)
            .and_then(|a| a.verdict.as_ref())
        {
            after_change(&mut connectors, &changes, v, unit.is_some());
        }
        let report = Report {
            schema_version: SCHEMA_VERSION,
            command: command.to_string(),
            host: runtime.and_then(|r| r.host()).map(str::to_string),
            runtime: runtime.map(|r| r.kind().to_string()),
            container: unit.map(|u| ContainerPart {
                name: u.name.clone(),
                id: u.id.clone(),
                state_before: u.state.to_string(),
                state_after: applied
                    .and_then(|a| a.state_after.as_ref())
                    .map(|s| s.to_string()),
                restart_count: u.restarts,
            }),
            database: store.as_ref().map(|st| DatabasePart {
                path: st.shown(),
                volume: located.as_ref().and_then(|l| l.volume.clone()),
                sha256_before: stored.as_ref().map(|s| s.sha256.clone()),
                sha256_after: applied.and_then(|a| a.sha256_after.clone()),
                dex_migrations: stored.as_ref().map(|s| s.schema.migrations),
                schema: stored.as_ref().map(|s| s.schema.describe()),
            }),
            store: store.as_ref().map(|st| st.kind().to_string()),
            connectors,
            changes,
            backup: applied.and_then(|a| a.backup.as_ref()).map(BackupPart::of),
            result: verdict.outcome,
            error: verdict.error,
            located: located
                .as_ref()
                .map(|l| l.why.clone())
                .unwrap_or_default()
                .into_iter()
                .chain(configs.iter().flat_map(|c| c.describe()))
                .collect(),
            notes,
            discovery,
            login_failures: logins,
            backups: backups.iter().map(BackupListing::of).collect(),
            password_change: password,
            secret_change: secret,
            exit_code: verdict.exit,
            secrets: if plan_secrets.is_empty() {
                secrets
            } else {
                plan_secrets
            },
        };
        // The rows read (five allocations each, 50,000 for 10,000 connectors) are not freed: a report is
        // made once, at the end of a command, and the process exits right after printing it (see
        // [`Rendered::exit_now`]), when its memory goes back to the system at once. They own no file,
        // lock or child process (the store's connection was closed when they were read).
        std::mem::forget(stored);
        report
    }

    /// The report's JSON (see [`json`]).
    pub fn to_json(&self) -> String {
        json::report(self).unwrap_or_else(|e| {
            format!(
                "{{\"schema_version\":{SCHEMA_VERSION},\"result\":\"failed\",\"error\":{:?}}}",
                e.to_string()
            )
        })
    }

    /// The report with its secrets scrubbed from every string (see [`redact`]).
    pub fn scrubbed(mut self) -> Report {
        // The scrub borrows the secrets while the strings change: they are set aside meanwhile.
        let secrets = std::mem::take(&mut self.secrets);
        let sc = redact::Scrubber::new(&secrets);
        if !sc.is_empty() {
            self.strings(&mut |t| sc.scrub(t));
        }
        drop(sc);
        self.secrets = secrets;
        self
    }

    /// What is printed: the report on stdout, and the error line for stderr; secrets scrubbed from every
    /// string of the report before it is rendered unless `--show-secrets`, and (except in JSON, which
    /// escapes them itself) control characters escaped so that nothing from the store, the logs or the
    /// runtime can drive the operator's terminal.
    pub fn render(self, s: &OutputOpts) -> Rendered {
        let mut r = if s.show_secrets {
            self
        } else {
            self.scrubbed()
        };
        if s.format != Output::Json {
            r.strings(&mut text::cleaned);
        }
        let (stdout, exit) = match s.format {
            Output::Json => {
                let mut json = text::json_terminal_safe(r.to_json());
                json.push('\n');
                (json, r.exit_code.code())
            }
            Output::Text => (
                text::report(&r, s.color, crate::progress::columns(1)),
                r.exit_code.code(),
            ),
            Output::Nagios => {
                let (text, state) = monitor::nagios(&r);
                (text, state.code())
            }
            Output::Prometheus => (monitor::prometheus(&r), r.exit_code.code()),
        };
        // On a terminal the text report already ends with the error; elsewhere stderr carries it too.
        let shown_in_report = s.format == Output::Text
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
pub fn prompt_diff(plan: &Plan, show_secrets: bool) -> String {
    let mut r = Report {
        changes: plan.changes.clone(),
        connectors: plan.connectors.clone(),
        secrets: if show_secrets {
            Vec::new()
        } else {
            plan.secrets.clone()
        },
        ..Report::make("fix", Trail::default(), Verdict::healthy())
    };
    r = r.scrubbed();
    r.strings(&mut text::cleaned);
    text::fit(
        &text::diff_text(&r.changes, &r.connectors),
        crate::progress::columns(2),
    )
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
            text::fleet_table(results, counts, code, crate::progress::columns(1))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A mark in every string of a full report; a string the visit misses keeps it.
    const MARK: &str = "ZQXJ";
    const SECRET: &str = "s3cr3t-value-never-printed";

    #[test]
    fn every_string_of_the_report_is_visited_and_scrubbed_in_every_output_format() {
        let mut r = json::tests::report_of(MARK, true);
        // Endpoint names are the program's own (plain names, never visited): give them such names.
        for c in &mut r.connectors {
            c.endpoints = std::mem::take(&mut c.endpoints)
                .into_values()
                .zip(["issuer", "clientID", "tenant", "baseURL"])
                .map(|(v, k)| (std::borrow::Cow::Borrowed(k), v))
                .collect();
        }
        assert!(r.to_json().contains(MARK));
        let mut visited = 0;
        r.strings(&mut |_| {
            visited += 1;
            Some(SECRET.to_string())
        });
        assert!(visited > 40, "{visited}");
        // No string of the report escaped the visit: the JSON has no mark left, and every visited string
        // is in it.
        let shown = r.clone().render(&OutputOpts {
            format: Output::Json,
            color: false,
            show_secrets: true,
        });
        assert!(!shown.stdout.contains(MARK), "{}", shown.stdout);
        assert_eq!(shown.stdout.matches(SECRET).count(), visited);
        // So the scrub, which runs on the visit, leaves no secret in any format.
        r.secrets = vec![SECRET.to_string()];
        for format in [
            Output::Text,
            Output::Json,
            Output::Nagios,
            Output::Prometheus,
        ] {
            let shown = r.clone().render(&OutputOpts {
                format,
                color: false,
                show_secrets: false,
            });
            assert!(
                !shown.stdout.contains(SECRET),
                "{format:?}: {}",
                shown.stdout
            );
            assert!(
                !shown.stderr.as_deref().unwrap_or_default().contains(SECRET),
                "{format:?}"
            );
        }
    }
}
