//! The report every command ends with: JSON (contract v1, one object per host) or text for a person.
//! Only identifiers, issuers and hashes go in: never a connector's config, so never a secret.

use crate::plan::{Change, ConnectorView};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Healthy,
    Pending,
    Fixed,
    Failed,
    Unverified,
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
    /// The backup sets, for `backups` (extension).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub backups: Vec<BackupListing>,
    /// Where the chosen values come from, as a diff (extension; text form of `changes`).
    #[serde(skip)]
    pub diff: String,
    #[serde(skip)]
    pub exit_code: i32,
    /// Secret values read from the database, scrubbed from every output (never serialised).
    #[serde(skip)]
    pub secrets: Vec<String>,
}

impl Report {
    pub fn new(command: &str) -> Report {
        Report {
            schema_version: 1,
            command: command.to_string(),
            host: None,
            container: None,
            database: None,
            connectors: Vec::new(),
            changes: Vec::new(),
            backup: None,
            result: Outcome::Failed,
            error: None,
            located: Vec::new(),
            notes: Vec::new(),
            backups: Vec::new(),
            diff: String::new(),
            exit_code: 1,
            secrets: Vec::new(),
        }
    }

    pub fn finish(&mut self, result: Outcome, exit_code: i32) {
        self.result = result;
        self.exit_code = exit_code;
    }

    pub fn fail(&mut self, error: String) {
        self.error = Some(error);
        if self.result != Outcome::Unverified {
            self.result = Outcome::Failed;
            self.exit_code = 1;
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| {
            format!(
                "{{\"schema_version\":1,\"result\":\"failed\",\"error\":{:?}}}",
                e.to_string()
            )
        })
    }

    /// The report for a person; `color` adds ANSI colour to the diff, statuses and the result.
    pub fn to_text(&self, color: bool) -> String {
        let paint = |code: &str, t: &str| {
            if color {
                format!("\x1b[{code}m{t}\x1b[0m")
            } else {
                t.to_string()
            }
        };
        let mut o = String::new();
        let mut line = |k: &str, v: &str| o.push_str(&format!("{k:<11} {v}\n"));
        if let Some(h) = &self.host {
            line("engine", h);
        }
        if let Some(c) = &self.container {
            let after = c
                .state_after
                .as_deref()
                .map(|s| format!(" -> {s}"))
                .unwrap_or_default();
            line(
                "container",
                &format!(
                    "{} ({}{after}, {} restarts)",
                    c.name, c.state_before, c.restart_count
                ),
            );
        }
        for why in &self.located {
            line("found", why);
        }
        if let Some(d) = &self.database {
            line("database", &d.path);
            if let Some(v) = &d.volume {
                line("volume", v);
            }
            if let Some(s) = &d.schema {
                line("schema", s);
            }
            if let Some(s) = &d.sha256_before {
                line(
                    "sha256",
                    &match &d.sha256_after {
                        Some(a) if a != s => format!("{s} -> {a}"),
                        _ => s.clone(),
                    },
                );
            }
        }
        if !self.connectors.is_empty() {
            let found = matches!(self.result, Outcome::Fixed | Outcome::Unverified)
                && !self.changes.is_empty();
            o.push_str(if found {
                "connectors (as found, before the change)\n"
            } else {
                "connectors\n"
            });
            let w_id = self
                .connectors
                .iter()
                .map(|c| c.id.len())
                .max()
                .unwrap_or(2)
                .max(2);
            let w_ty = self
                .connectors
                .iter()
                .map(|c| c.typ.len())
                .max()
                .unwrap_or(4)
                .max(4);
            let w_na = self
                .connectors
                .iter()
                .map(|c| c.name.len())
                .max()
                .unwrap_or(4)
                .clamp(4, 24);
            o.push_str(&format!(
                "  {:<w_id$}  {:<w_ty$}  {:<w_na$}  {:<8}  ISSUER\n",
                "ID", "TYPE", "NAME", "STATUS"
            ));
            for c in &self.connectors {
                let status = serde_json::to_value(c.status)
                    .ok()
                    .and_then(|v| v.as_str().map(String::from))
                    .unwrap_or_default();
                let name: String = c.name.chars().take(24).collect();
                let status = match c.status {
                    crate::plan::Status::Ok => paint("32", &format!("{status:<8}")),
                    crate::plan::Status::Mismatch => paint("31", &format!("{status:<8}")),
                    crate::plan::Status::Unknown => paint("33", &format!("{status:<8}")),
                };
                o.push_str(&format!(
                    "  {:<w_id$}  {:<w_ty$}  {:<w_na$}  {status}  {}\n",
                    c.id,
                    c.typ,
                    name,
                    c.issuer.as_deref().unwrap_or("-")
                ));
                if let Some(p) = &c.problem {
                    o.push_str(&format!("  {:<w_id$}  ^ {p}\n", ""));
                }
            }
        }
        if !self.diff.is_empty() {
            let verb = if matches!(self.result, Outcome::Fixed | Outcome::Unverified) {
                "applied"
            } else {
                "planned"
            };
            o.push_str(&format!("changes ({verb})\n"));
            for l in self.diff.lines() {
                let l = match l.chars().next() {
                    Some('-') => paint("31", l),
                    Some('+') => paint("32", l),
                    Some('~') => paint("1", l),
                    _ => l.to_string(),
                };
                o.push_str(&format!("  {l}\n"));
            }
        }
        for b in &self.backups {
            o.push_str(&format!(
                "{:<11} {}  {}  {} bytes  sha256 {}\n",
                "backup", b.created, b.dir, b.size, b.sha256
            ));
        }
        if let Some(b) = &self.backup {
            o.push_str(&format!(
                "{:<11} {} (sha256 {})\n",
                "backup", b.path, b.sha256
            ));
        }
        for n in &self.notes {
            o.push_str(&format!("{:<11} {n}\n", "note"));
        }
        let result = serde_json::to_value(self.result)
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default();
        let hint = match (self.result, self.command.as_str()) {
            (Outcome::Pending, "inspect") => ": run `ozrepair fix` to apply the plan",
            (Outcome::Pending, _) => ": run the same command without --dry-run to apply it",
            (Outcome::Healthy, _) => ": nothing to fix",
            _ => "",
        };
        let code = match self.result {
            Outcome::Healthy | Outcome::Fixed => "1;32",
            Outcome::Pending => "1;33",
            Outcome::Failed | Outcome::Unverified => "1;31",
        };
        let result = paint(code, &result);
        o.push_str(&format!(
            "{:<11} {result}{hint} (exit {})\n",
            "result", self.exit_code
        ));
        if let Some(e) = &self.error {
            o.push_str(&format!("{:<11} {e}\n", "error"));
        }
        o
    }
}
