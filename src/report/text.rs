//! Text for a person: the report, the plan as a diff, and the fleet's table. Built from the report's
//! plain data; nothing here is parsed back.

use super::{HostResult, Report};
use crate::plan::{Change, ConnectorView, Status};
use crate::verdict::{ExitCode, Outcome};
use std::collections::BTreeMap;

/// What a line of the diff is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiffKind {
    /// `~ connector …`: the connector a change is in.
    Hunk,
    /// `-   "field": old`
    Removed,
    /// `+   "field": new`
    Added,
    /// `    from: …`: where the new value comes from.
    Source,
}

pub struct DiffLine {
    pub kind: DiffKind,
    pub text: String,
}

/// The changes as a unified-diff-like list of lines, one hunk per change.
pub fn diff(changes: &[Change], views: &[ConnectorView]) -> Vec<DiffLine> {
    let mut out = Vec::new();
    for c in changes {
        let (typ, name) = views
            .iter()
            .find(|v| v.id == c.connector)
            .map(|v| (v.typ.as_str(), v.name.as_str()))
            .unwrap_or(("?", "?"));
        let line = |kind, text| DiffLine { kind, text };
        out.push(line(
            DiffKind::Hunk,
            format!("~ connector {} ({typ}, {name:?})", c.connector),
        ));
        out.push(line(
            DiffKind::Removed,
            format!("-   \"{}\": {:?}", c.field, c.from),
        ));
        out.push(line(
            DiffKind::Added,
            format!("+   \"{}\": {:?}", c.field, c.to),
        ));
        out.push(line(DiffKind::Source, format!("    from: {}", c.evidence)));
    }
    out
}

/// The diff as plain text, one line each (shown before the confirmation prompt).
pub fn diff_text(changes: &[Change], views: &[ConnectorView]) -> String {
    diff(changes, views)
        .into_iter()
        .map(|l| format!("{}\n", l.text))
        .collect()
}

/// The report for a person; `color` adds ANSI colour to the diff, statuses and the result.
pub fn report(r: &Report, color: bool) -> String {
    let paint = |code: &str, t: &str| {
        if color {
            format!("\x1b[{code}m{t}\x1b[0m")
        } else {
            t.to_string()
        }
    };
    let mut o = String::new();
    let mut line = |k: &str, v: &str| o.push_str(&format!("{k:<11} {v}\n"));
    if let Some(h) = &r.host {
        line("engine", h);
    }
    if let Some(c) = &r.container {
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
    for why in &r.located {
        line("found", why);
    }
    if let Some(d) = &r.database {
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
    if !r.connectors.is_empty() {
        let found =
            matches!(r.result, Outcome::Fixed | Outcome::Unverified) && !r.changes.is_empty();
        o.push_str(if found {
            "connectors (as found, before the change)\n"
        } else {
            "connectors\n"
        });
        let w_id = r
            .connectors
            .iter()
            .map(|c| c.id.len())
            .max()
            .unwrap_or(2)
            .max(2);
        let w_ty = r
            .connectors
            .iter()
            .map(|c| c.typ.len())
            .max()
            .unwrap_or(4)
            .max(4);
        let w_na = r
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
        for c in &r.connectors {
            let status = serde_json::to_value(c.status)
                .ok()
                .and_then(|v| v.as_str().map(String::from))
                .unwrap_or_default();
            let name: String = c.name.chars().take(24).collect();
            let status = match c.status {
                Status::Ok => paint("32", &format!("{status:<8}")),
                Status::Mismatch => paint("31", &format!("{status:<8}")),
                Status::Unknown => paint("33", &format!("{status:<8}")),
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
    let diff = diff(&r.changes, &r.connectors);
    if !diff.is_empty() {
        let verb = if matches!(r.result, Outcome::Fixed | Outcome::Unverified) {
            "applied"
        } else {
            "planned"
        };
        o.push_str(&format!("changes ({verb})\n"));
        for l in &diff {
            let shown = match l.kind {
                DiffKind::Removed => paint("31", &l.text),
                DiffKind::Added => paint("32", &l.text),
                DiffKind::Hunk => paint("1", &l.text),
                DiffKind::Source => l.text.clone(),
            };
            o.push_str(&format!("  {shown}\n"));
        }
    }
    for b in &r.backups {
        o.push_str(&format!(
            "{:<11} {}  {}  {} bytes  sha256 {}\n",
            "backup", b.created, b.dir, b.size, b.sha256
        ));
    }
    if let Some(b) = &r.backup {
        o.push_str(&format!(
            "{:<11} {} (sha256 {})\n",
            "backup", b.path, b.sha256
        ));
    }
    // A note the error line repeats is printed once, in the error.
    let repeated = |n: &str| r.error.as_deref().is_some_and(|e| e.contains(n));
    for n in r.notes.iter().filter(|n| !repeated(n)) {
        o.push_str(&format!("{:<11} {n}\n", "note"));
    }
    let result = r.result.as_str();
    let hint = match (r.result, r.command.as_str()) {
        (Outcome::Pending, "inspect") => ": run `ozrepair fix` to apply the plan",
        (Outcome::Pending, _) => ": run the same command without --dry-run to apply it",
        (Outcome::Healthy, _) => ": nothing to fix",
        _ => "",
    };
    let code = match r.result {
        Outcome::Healthy | Outcome::Fixed => "1;32",
        Outcome::Pending => "1;33",
        Outcome::Failed | Outcome::Unverified => "1;31",
    };
    let result = paint(code, result);
    o.push_str(&format!(
        "{:<11} {result}{hint} (exit {})\n",
        "result",
        r.exit_code.code()
    ));
    if let Some(e) = &r.error {
        o.push_str(&format!("{:<11} {e}\n", "error"));
    }
    o
}

/// The fleet as a table, one host a row, and a summary line.
pub fn fleet_table(
    results: &[HostResult],
    counts: &BTreeMap<String, usize>,
    code: ExitCode,
) -> String {
    let w = results
        .iter()
        .map(|r| r.endpoint.len())
        .max()
        .unwrap_or(4)
        .max(4);
    let mut o = format!(
        "{:<w$}  {:<24}  {:<10}  {:<7}  ERROR\n",
        "HOST", "CONTAINER", "RESULT", "CHANGES"
    );
    for r in results {
        let v = &r.report;
        let container = v["container"]["name"].as_str().unwrap_or("-");
        let changes = v["changes"]
            .as_array()
            .map(|c| c.len().to_string())
            .unwrap_or_else(|| "-".into());
        let error: String = v["error"]
            .as_str()
            .unwrap_or("")
            .chars()
            .take(120)
            .collect();
        o.push_str(&format!(
            "{:<w$}  {:<24}  {:<10}  {:<7}  {error}\n",
            r.endpoint,
            container,
            v["result"].as_str().unwrap_or("failed"),
            changes
        ));
    }
    let summary: Vec<String> = counts.iter().map(|(k, n)| format!("{k}={n}")).collect();
    o.push_str(&format!(
        "{} hosts: {} (exit {})\n",
        results.len(),
        summary.join(" "),
        code.code()
    ));
    o
}
