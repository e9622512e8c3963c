//! Text for a person: the report, the plan as a diff, and the fleet's table. Built from the report's
//! plain data; nothing here is parsed back.

use super::{HostResult, Report};
use crate::plan::{Change, ConnectorView, Status, Store};
use crate::verdict::{ExitCode, Outcome};
use std::collections::BTreeMap;

/// Whether a character could drive a terminal or hide text: C0 and C1 controls, DEL, the line and
/// paragraph separators, and the bidirectional controls.
fn unsafe_char(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}' | '\u{2029}' | '\u{200e}' | '\u{200f}' | '\u{61c}'
        )
        || ('\u{202a}'..='\u{202e}').contains(&c)
        || ('\u{2066}'..='\u{2069}').contains(&c)
}

/// Whether `s` has a byte that can start an [`unsafe_char`]: a C0 control or DEL, or the first byte of
/// a C1 control (0xC2), U+061C (0xD8) or the U+2xxx controls (0xE2). A fast test before the exact one.
fn maybe_unsafe(s: &str) -> bool {
    // Branch-free per byte, so the loop vectorises: most reports are plain ASCII.
    s.as_bytes().chunks(64).any(|c| {
        c.iter().fold(false, |acc, &b| {
            acc | (b < 0x20) | (b == 0x7f) | (b == 0xc2) | (b == 0xd8) | (b == 0xe2)
        })
    })
}

/// A string from outside (the database, the logs, the engine) as the text report prints it: every
/// character that could drive a terminal written as `\u{…}`; everything else as it is.
pub fn clean(s: &str) -> std::borrow::Cow<'_, str> {
    if !maybe_unsafe(s) || !s.chars().any(unsafe_char) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut o = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if unsafe_char(c) {
            o.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            o.push(c);
        }
    }
    std::borrow::Cow::Owned(o)
}

/// [`clean`] as the report's strings take it: the new text, None when nothing changes.
pub fn cleaned(s: &str) -> Option<String> {
    match clean(s) {
        std::borrow::Cow::Owned(c) => Some(c),
        std::borrow::Cow::Borrowed(_) => None,
    }
}

/// JSON text with the characters JSON may carry raw but a terminal may act on (DEL, C1 controls, the
/// separators and bidi controls; serde_json already escapes C0) as `\u` escapes: the same JSON value.
pub fn json_terminal_safe(json: String) -> String {
    if !maybe_unsafe(&json) || !json.chars().any(unsafe_char) {
        return json;
    }
    let mut o = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        if unsafe_char(c) {
            // Every such char is in the BMP and, in serde_json's output, inside a string.
            o.push_str(&format!("\\u{:04x}", c as u32));
        } else {
            o.push(c);
        }
    }
    o
}

/// How many columns `s` takes on a terminal: ANSI escape sequences (the colours) take none, a wide
/// character two.
pub fn columns(s: &str) -> usize {
    use unicode_width::UnicodeWidthChar;
    let mut n = 0;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            // CSI: ESC [ parameters final-byte.
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
            continue;
        }
        n += c.width().unwrap_or(0);
    }
    n
}

/// Where a long line may break after a character when it has no space to break at: after a path's or
/// URL's separators.
fn breaks_after(c: char) -> bool {
    matches!(c, '/' | ',' | ';' | '&' | '?' | '=' | ':' | '-' | '_' | '.')
}

/// One line cut to `width` columns: the longest head that fits, broken at the last space (or, in a word
/// longer than the line, after a separator, else anywhere), and the rest (None when it all fits).
fn cut(line: &str, width: usize) -> (String, Option<String>) {
    if columns(line) <= width {
        return (line.to_string(), None);
    }
    // The byte offset at which the head reaches `width` columns.
    let mut used = 0;
    let mut end = line.len();
    let mut in_escape = false;
    for (i, c) in line.char_indices() {
        if in_escape {
            in_escape = !c.is_ascii_alphabetic();
            continue;
        }
        if c == '\x1b' {
            in_escape = true;
            continue;
        }
        let w = unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
        if used + w > width {
            end = i;
            break;
        }
        used += w;
    }
    let head = &line[..end];
    // Past the indentation: a break there would only move the line.
    let lead = head.len() - head.trim_start().len();
    let at = head[lead..]
        .rfind(' ')
        .map(|i| lead + i)
        .filter(|&i| i > lead)
        .map(|i| (i, i + 1))
        .or_else(|| {
            head[lead..]
                .char_indices()
                .filter(|(_, c)| breaks_after(*c))
                .map(|(i, c)| lead + i + c.len_utf8())
                .next_back()
                .filter(|&i| i > lead + 1)
                .map(|i| (i, i))
        })
        .unwrap_or((end, end));
    let rest = line[at.1..].trim_start();
    (
        line[..at.0].trim_end().to_string(),
        (!rest.is_empty()).then(|| rest.to_string()),
    )
}

/// `text` with every line longer than `width` columns wrapped onto continuation lines: indented to its
/// value (12 columns for a `label      value` line) or 4 more than the line itself. None: as it is (not
/// a terminal).
pub fn fit(text: &str, width: Option<usize>) -> String {
    let Some(width) = width.filter(|w| *w >= 20) else {
        return text.to_string();
    };
    let mut o = String::with_capacity(text.len() + 64);
    for line in text.lines() {
        let plain_lead = line.len() - line.trim_start().len();
        let labelled = plain_lead == 0
            && line.len() > 12
            && line.is_char_boundary(12)
            && line[..12].ends_with(' ')
            && !line[..12].trim_end().contains(' ');
        let indent = if labelled { 12 } else { plain_lead + 4 }.min(width / 2);
        let (head, mut rest) = cut(line, width);
        o.push_str(&head);
        o.push('\n');
        while let Some(r) = rest.take() {
            let (h, more) = cut(&format!("{:indent$}{r}", ""), width);
            o.push_str(&h);
            o.push('\n');
            rest = more;
        }
    }
    o
}

/// A value in double quotes, as the diff shows it (already [`clean`]ed: only `"` is escaped here).
fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\\\""))
}

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
        if c.field == crate::plan::door::NEW_ROW {
            out.push(line(
                DiffKind::Hunk,
                format!("+ connector {} (a new row)", c.connector),
            ));
            out.push(line(DiffKind::Added, format!("+   {}", quote(&c.to))));
            out.push(line(DiffKind::Source, format!("    from: {}", c.evidence)));
            continue;
        }
        let hunk = match &c.store {
            Store::Database => format!("~ connector {} ({typ}, {})", c.connector, quote(name)),
            Store::File { file, at, .. } => format!(
                "~ file {} at {} (connector {})",
                quote(file),
                quote(at),
                c.connector
            ),
        };
        out.push(line(DiffKind::Hunk, hunk));
        out.push(line(
            DiffKind::Removed,
            format!("-   {}: {}", quote(&c.field), quote(&c.from)),
        ));
        out.push(line(
            DiffKind::Added,
            format!("+   {}: {}", quote(&c.field), quote(&c.to)),
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
/// `password`: what was (or would be) done for the user, never the password or its hash.
fn password_line(p: &super::PasswordChange, result: Outcome) -> String {
    let who = format!("{} (user id {})", p.email, p.user_id);
    let n = p.sessions_removed;
    match (p.applied, result) {
        (true, _) => format!("{who}: new password set, {n} local session(s) removed"),
        (false, Outcome::Pending) => {
            format!("{who}: the password would be replaced and {n} local session(s) removed")
        }
        (false, Outcome::Healthy) => format!("{who}: already has the new password"),
        (false, _) => format!("{who}: not changed ({n} local session(s))"),
    }
}

/// `secret`: what was (or would be) done, never the secret: its field, where, its length.
fn secret_line(sc: &super::SecretChange) -> String {
    format!(
        "{} {}: a new secret of {} bytes {} ({}); provider: {}",
        sc.connector,
        sc.field,
        sc.bytes,
        if sc.applied { "written" } else { "not written" },
        sc.places.join(", "),
        sc.verified
    )
}

/// A manifest's time as the text shows it: to the second.
fn to_the_second(t: &str) -> String {
    match (t.find('.'), t.ends_with('Z')) {
        (Some(dot), true) => format!("{}Z", &t[..dot]),
        _ => t.to_string(),
    }
}

/// The report for a person; `color` adds ANSI colour to the diff, statuses and the result; `width`: the
/// terminal's columns (every line fits in them), None when stdout is not a terminal.
pub fn report(r: &Report, color: bool, width: Option<usize>) -> String {
    fit(&report_lines(r, color, width), width)
}

fn report_lines(r: &Report, color: bool, width: Option<usize>) -> String {
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
            if r.runtime.as_deref() == Some("systemd") {
                "unit"
            } else {
                "container"
            },
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
        if let Some(s) = d.sha256_before.as_ref().filter(|s| !s.is_empty()) {
            line(
                "sha256",
                &match &d.sha256_after {
                    Some(a) if a != s => format!("{s} -> {a}"),
                    _ => s.clone(),
                },
            );
        }
    }
    if let Some(p) = &r.password_change {
        line("password", &password_line(p, r.result));
    }
    if let Some(sc) = &r.secret_change {
        line("secret", &secret_line(sc));
        if let Some(req) = &sc.verify_request {
            line("", &format!("verify: {req}"));
        }
        if let Some(a) = &sc.verify_answer {
            line(
                "",
                &format!(
                    "provider: {} ({}{a})",
                    sc.verified,
                    sc.verify_endpoint
                        .as_deref()
                        .map(|e| format!("{e}: "))
                        .unwrap_or_default()
                ),
            );
        }
    }
    if !r.connectors.is_empty() {
        let after = r.connectors.iter().any(|c| c.status_before.is_some());
        o.push_str(if after {
            "connectors (after the change; BEFORE: as found)\n"
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
        let before = |c: &crate::plan::ConnectorView| -> String {
            if !after {
                return String::new();
            }
            let b = c.status_before.map(|s| s.as_str()).unwrap_or("");
            format!("{b:<8}  ")
        };
        o.push_str(&format!(
            "  {:<w_id$}  {:<w_ty$}  {:<w_na$}  {}{:<8}  ISSUER\n",
            "ID",
            "TYPE",
            "NAME",
            if after { "BEFORE    " } else { "" },
            "STATUS"
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
            let row = format!(
                "  {:<w_id$}  {:<w_ty$}  {:<w_na$}  {}{status}  ",
                c.id,
                c.typ,
                name,
                before(c),
            );
            let issuer = c.issuer.as_deref().unwrap_or("-");
            // An issuer that does not fit beside the row goes whole on the next line (it is copied).
            if width.is_some_and(|w| columns(&row) + columns(issuer) > w) {
                o.push_str(&format!("{}\n      {issuer}\n", row.trim_end()));
            } else {
                o.push_str(&format!("{row}{issuer}\n"));
            }
            if let Some(p) = &c.problem {
                o.push_str(&format!("  {:<w_id$}  ^ {p}\n", ""));
            }
        }
        o.push_str(&checked_line(&r.connectors));
    }
    for l in &r.login_failures {
        let who = match (&l.connector, l.candidates.as_slice()) {
            (Some(c), _) => c.clone(),
            (None, list) => format!("one of {}", list.join(", ")),
        };
        o.push_str(&format!(
            "{:<11} {who}: {} failed login(s), last {}: {} ({})\n{:<11}   {}\n{:<11}   repair: {}\n",
            "logins",
            l.count,
            if l.last.is_empty() { "-" } else { &l.last },
            l.cause,
            l.code,
            "",
            l.message,
            "",
            l.repair
        ));
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
    // A set: its directory, then when, how big, what it holds, and its database's sha256 alone on a line
    // (64 columns: with a label it would not fit in 80).
    for b in &r.backups {
        o.push_str(&format!("{:<11} {}\n", "backup", b.dir));
        let connectors = match b.connectors.len() {
            1 => "1 connector".to_string(),
            n => format!("{n} connectors"),
        };
        o.push_str(&format!(
            "{:<11} taken {}, {} bytes, {connectors}, sha256:\n",
            "",
            to_the_second(&b.created),
            b.size
        ));
        o.push_str(&format!("{:<11} {}\n", "", b.sha256));
    }
    if let Some(b) = &r.backup {
        let same = r
            .database
            .as_ref()
            .and_then(|d| d.sha256_before.as_deref())
            .is_some_and(|s| s == b.sha256);
        if same {
            o.push_str(&format!(
                "{:<11} {} (its sha256 is the one above)\n",
                "backup", b.path
            ));
        } else {
            o.push_str(&format!("{:<11} {}\n", "backup", b.path));
            o.push_str(&format!("{:<11} sha256:\n{:<11} {}\n", "", "", b.sha256));
        }
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
        (Outcome::Healthy, _) => ": every connector checked, nothing to fix",
        (Outcome::Listed, _) => ": nothing was checked or changed",
        (Outcome::Unchecked, _) => ": nothing found to fix, but not every connector was checked",
        (Outcome::ActionNeeded, _) => ": ozrepair cannot change it; see the error",
        _ => "",
    };
    let code = match r.result {
        Outcome::Healthy | Outcome::Fixed | Outcome::BackedUp | Outcome::Restored => "1;32",
        Outcome::Listed => "1",
        Outcome::Pending | Outcome::Unchecked | Outcome::Cancelled => "1;33",
        Outcome::Failed | Outcome::Unverified | Outcome::ActionNeeded | Outcome::Skipped => "1;31",
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

/// Who said what: how many connectors each source vouched for, and how many nothing checked.
fn checked_line(views: &[crate::plan::ConnectorView]) -> String {
    let mut by: Vec<(&str, usize)> = Vec::new();
    let mut unchecked = 0;
    for v in views {
        match (v.status, v.checked_by) {
            (Status::Ok | Status::Mismatch, Some(b)) => {
                match by.iter_mut().find(|(s, _)| *s == b) {
                    Some((_, n)) => *n += 1,
                    None => by.push((b, 1)),
                }
            }
            (_, None) if v.problem.is_none() => unchecked += 1,
            _ => {}
        }
    }
    let mut parts: Vec<String> = by.iter().map(|(b, n)| format!("{n} by {b}")).collect();
    if unchecked > 0 {
        parts.push(format!("{unchecked} not checked"));
    }
    if parts.is_empty() {
        return String::new();
    }
    format!("{:<11} {}\n", "checked", parts.join("; "))
}

/// The fleet as a table, one host a row (its error on the lines below it), and a summary line; `width`:
/// the terminal's columns, None when stdout is not a terminal.
pub fn fleet_table(
    results: &[HostResult],
    counts: &BTreeMap<String, usize>,
    code: ExitCode,
    width: Option<usize>,
) -> String {
    let w = results
        .iter()
        .map(|r| columns(&clean(&r.endpoint)))
        .max()
        .unwrap_or(4)
        .max(4);
    let w_res = Outcome::ALL
        .iter()
        .map(|o| o.as_str().len())
        .max()
        .unwrap_or(6);
    // On a terminal too narrow for the longest endpoint, the HOST column keeps to what is left, and an
    // endpoint wider than it takes a line of its own above its row.
    let rest = 2 + 24 + 2 + w_res + 2 + "CHANGES".len();
    let w = match width {
        Some(width) if w + rest > width => width.saturating_sub(rest).max(4),
        _ => w,
    };
    let mut o = format!(
        "{:<w$}  {:<24}  {:<w_res$}  CHANGES\n",
        "HOST", "CONTAINER", "RESULT"
    );
    for r in results {
        let v = &r.report;
        // Each host's report came back as JSON: its strings are escaped again for the terminal here.
        let container = clean(v["container"]["name"].as_str().unwrap_or("-"));
        let changes = v["changes"]
            .as_array()
            .map(|c| c.len().to_string())
            .unwrap_or_else(|| "-".into());
        let mut endpoint = clean(&r.endpoint).into_owned();
        if columns(&endpoint) > w {
            o.push_str(&format!("{endpoint}\n"));
            endpoint.clear();
        }
        o.push_str(&format!(
            "{:<w$}  {:<24}  {:<w_res$}  {}\n",
            endpoint,
            container,
            clean(v["result"].as_str().unwrap_or("failed")),
            changes
        ));
        if let Some(e) = v["error"].as_str().filter(|e| !e.is_empty()) {
            o.push_str(&format!("    error: {}\n", clean(e)));
        }
    }
    let summary: Vec<String> = counts.iter().map(|(k, n)| format!("{k}={n}")).collect();
    o.push_str(&format!(
        "{} hosts: {} (exit {})\n",
        results.len(),
        summary.join(" "),
        code.code()
    ));
    let accepted = super::ssh_accepted(results);
    if !accepted.is_empty() {
        let hosts: Vec<String> = accepted.iter().map(|h| clean(h).into_owned()).collect();
        o.push_str(&format!(
            "ssh host keys accepted (--ssh-accept-new, now in known_hosts): {}\n",
            hosts.join(", ")
        ));
    }
    fit(&o, width)
}
