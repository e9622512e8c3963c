//! Reading the IdP's own log lines for evidence (whatever runtime gave them): go-oidc's
//! `issuer did not match the issuer returned by provider, expected "X" got "Y"` (Go %q-quoted), the
//! connector it belongs to, other connector failures, and the line that says the server is up.
//!
//! Formats read:
//! - NetBird's logrus text, `<time> <LEVL> [k: v, …] <file:line>: <msg>` (FATL up to v0.65.1, ERRO with
//!   `[id: …, err: …]` fields in any order from v0.65.2), RFC 3339 or millisecond times, ANSI colour or not;
//! - logrus JSON (`NB_LOG_FORMAT=json`): the chain in `msg` (fatal) or in `err` with the id in `id` (error);
//! - logrus's default text format (`time="…" level=fatal msg="…"`, or `level=error msg="…" err="…"`): the
//!   chain in a Go-quoted value, go-oidc's quotes escaped a second time;
//! - Dex's slog JSON (`msg`, `id`, `err`) and slog text (`msg="…" id=… err="…"`, values Go-quoted);
//! - Dex's stderr when it does not continue: `failed to initialize server: server: Failed to open
//!   connector <id>: …`.
//!
//! Long lines: Docker keeps a line longer than 16 KiB as several entries, and its API with timestamps puts
//! each entry's own timestamp in the middle of the line; those stamps are taken out again. When a mismatch
//! message starts on one line and its values go on in the next lines (entries returned separately, or a
//! setup that wraps long lines), up to [`MAX_CONTINUATION`] following lines of the same run are joined.
//!
//! A quoted value that is malformed or not UTF-8 gives no evidence: a wrong value is worse than none.

pub mod goquote;
pub mod login;

use crate::timefmt::parse_rfc3339;
use goquote::go_unquote;
use std::borrow::Cow;

/// One line of a log: its timestamp as the runtime gave it (empty when it gave none) and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub time: String,
    pub text: String,
}

/// Log lines stamped up to this long before a container's StartedAt still belong to that run: the engine
/// records StartedAt after the process is already writing (measured on Podman 4.3.1 in crash loops: in a
/// third of the starts, by up to 34 ms on a loaded two-core machine), while the previous run's last line
/// comes well before it (at least 115 ms on Podman, which restarts without back-off; Docker's back-off
/// starts at 100 ms). The run ozrepair starts itself is told by log position instead (`runtime::docker`).
pub const START_SLACK_NS: i128 = 50_000_000;

/// Which part of a container's log tells of its last run(s): the lines stamped from `since` (nanoseconds
/// since the epoch; every line when None).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunWindow {
    pub since: Option<i128>,
}

impl RunWindow {
    /// Whether a line stamped `stamp` may belong to the window: a stamp with whole seconds stands for its
    /// whole second, so it is kept when any instant it stands for is inside (the engine, which knows the
    /// exact times, already chose the lines). A line without a stamp is kept.
    pub fn admits(&self, stamp: &str) -> bool {
        let Some((_, last)) = crate::timefmt::stamp_bounds(stamp) else {
            return true;
        };
        self.since.is_none_or(|s| last >= s)
    }
}

/// How far before a run's recorded start its lines are looked for when none were found after it: an
/// engine under load records StartedAt after the process has already written and failed (seen with 16
/// Docker engines busy on two cores: a run whose failure line was stamped before its StartedAt, so that
/// its window held nothing).
pub const LATE_START_NS: i128 = 2_000_000_000;

impl RunWindow {
    /// The same window opened `by` earlier (a window without a start stays one).
    pub fn widened(&self, by: i128) -> RunWindow {
        RunWindow {
            since: self.since.map(|s| s - by),
        }
    }
}

/// How many log lines are read of one run (its start is within them in every layout seen).
pub const TAIL: usize = 500;

const MISMATCH: &str = "issuer did not match the issuer returned by provider, expected ";
/// Lines that say the management server (or Dex) finished starting: every connector opened or was skipped.
const READY_TEXT: &[&str] = &["running HTTP server and gRPC server on the same port"];
const READY_JSON_MSG: &[&str] = &["listening on"];

/// At most this many following lines are joined to a line whose mismatch message they continue.
pub const MAX_CONTINUATION: usize = 3;
/// A continuation is stamped at most this long after the line it continues.
const JOIN_GAP_NS: i128 = 1_000_000_000;
/// Docker's log copier cuts a line into entries of this many bytes.
const DOCKER_PART: usize = 16 * 1024;

/// One issuer mismatch reported by the container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evidence {
    /// The connector the line names, when it names one.
    pub connector: Option<String>,
    /// The issuer the connector has (go-oidc's "expected").
    pub expected: String,
    /// The issuer the provider publishes (go-oidc's "got").
    pub got: String,
    /// The engine's timestamp of the line.
    pub time: String,
}

/// A connector that failed to open for another reason (shown to the operator, never acted on).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtherFailure {
    pub connector: Option<String>,
    pub message: String,
    pub time: String,
}

#[derive(Debug, Default, Clone)]
pub struct LogFindings {
    pub evidence: Vec<Evidence>,
    pub failures: Vec<OtherFailure>,
    /// Logins that failed while the IdP ran ([`login`]).
    pub logins: Vec<login::LoginFailure>,
    /// Logins that worked, by connector.
    pub logins_ok: Vec<login::LoginOk>,
    pub ready: bool,
    /// Lines read (after the start filter).
    pub lines: usize,
    /// Where the lines were read, as the evidence names it (`journal of netbird-management.service`);
    /// None: a container's log.
    pub source: Option<String>,
}

impl LogFindings {
    /// Where the lines were read, for the evidence of a change.
    pub fn source(&self) -> &str {
        self.source.as_deref().unwrap_or("container log")
    }
}

/// Removes ANSI escape sequences (CSI: ESC [ parameters intermediates final).
fn strip_ansi(s: &str) -> Cow<'_, str> {
    if !s.contains('\u{1b}') {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars().peekable();
    while let Some(c) = it.next() {
        if c != '\u{1b}' {
            out.push(c);
            continue;
        }
        if it.peek() != Some(&'[') {
            continue;
        }
        it.next();
        while it.next_if(|d| ('\u{30}'..='\u{3f}').contains(d)).is_some() {}
        while it.next_if(|d| ('\u{20}'..='\u{2f}').contains(d)).is_some() {}
        it.next_if(|d| ('\u{40}'..='\u{7e}').contains(d));
    }
    Cow::Owned(out)
}

/// The length of a Docker timestamp and its space at byte `p` of `text`, if there is one.
fn docker_stamp_at(text: &str, p: usize) -> Option<usize> {
    let rest = text.get(p..)?;
    let sp = rest.bytes().take(40).position(|c| c == b' ')?;
    let stamp = rest.get(..sp)?;
    (stamp.len() >= 21 && stamp.as_bytes().get(19) == Some(&b'.') && parse_rfc3339(stamp).is_some())
        .then_some(sp + 1)
}

/// Takes out the timestamps that the Engine API puts in front of each 16 KiB entry of a long line (they land
/// in the middle of the line, which has no line break there). None when a cut went through a UTF-8 sequence,
/// so that the text around it was lost to U+FFFD.
fn unsplit(text: &str) -> Option<Cow<'_, str>> {
    let mut out = String::new();
    let mut start = 0;
    while text.len() > start + DOCKER_PART {
        let cut = start + DOCKER_PART;
        // A cut through a UTF-8 sequence shifts the stamp by up to 2 bytes (the lossy decoding's U+FFFD).
        let Some((p, n)) = (cut..=cut + 2).find_map(|p| docker_stamp_at(text, p).map(|n| (p, n)))
        else {
            break;
        };
        if p != cut || text[..p].ends_with('\u{fffd}') || text[p + n..].starts_with('\u{fffd}') {
            return None;
        }
        out.push_str(&text[start..p]);
        start = p + n;
    }
    if start == 0 {
        return Some(Cow::Borrowed(text));
    }
    out.push_str(&text[start..]);
    Some(Cow::Owned(out))
}

/// The connector id in Dex's error chain (`failed to create connector <id>:` or `Failed to open connector <id>:`).
fn connector_in(text: &str) -> Option<String> {
    for marker in ["failed to create connector ", "Failed to open connector "] {
        if let Some(p) = text.find(marker) {
            let rest = &text[p + marker.len()..];
            let id: String = rest
                .chars()
                .take_while(|c| *c != ':' && !c.is_whitespace())
                .collect();
            if !id.is_empty() && rest[id.len()..].starts_with(':') {
                return Some(id);
            }
        }
    }
    None
}

/// A logrus text line's `id` field: `[id: X, …]`, or `…, id: X]` when it is not the first field.
fn text_field_id(text: &str) -> Option<String> {
    text_field(text, "id")
}

/// A NetBird text line's field `key`: `[key: X, …]`, or `…, key: X]` when it is not the first field (a
/// value without white space, as connector ids are).
fn text_field(text: &str, key: &str) -> Option<String> {
    let token = |rest: &str| {
        let end = rest.find([',', ']'])?;
        let id = &rest[..end];
        (!id.is_empty() && !id.contains(char::is_whitespace)).then(|| id.to_string())
    };
    let first = format!("[{key}: ");
    if let Some(id) = text
        .find(&first)
        .and_then(|p| token(&text[p + first.len()..]))
    {
        return Some(id);
    }
    let later = format!(", {key}: ");
    text.rfind(&later)
        .and_then(|p| token(&text[p + later.len()..]))
}

/// The login-time message a NetBird text line ends with (`… idp/dex/logrus_handler.go:83: failed to
/// authenticate`), or the management's token refusal in it.
fn netbird_login_msg(t: &str) -> Option<&str> {
    if let Some(m) = login::MESSAGES
        .iter()
        .find(|m| t.strip_suffix(**m).is_some_and(|head| head.ends_with(": ")))
    {
        return Some(m);
    }
    t.find(login::TOKEN_REFUSED).map(|p| &t[p..])
}

/// The `key=value` pairs of a slog or logrus text line (`msg="…" id=x err="…"`); quoted values are
/// Go-unquoted. Words that are not pairs are skipped.
fn kv_fields(text: &str) -> Vec<(&str, String)> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    // Each failed quote costs a pass over the rest of the line: after a few, quotes are plain words.
    let mut misses = 0;
    let mut unquote = |at: usize| {
        if misses >= 4 {
            return None;
        }
        let r = go_unquote(&text[at..]);
        misses += usize::from(r.is_none());
        r
    };
    let to_space = |mut i: usize| {
        while i < b.len() && b[i] != b' ' {
            i += 1;
        }
        i
    };
    while i < b.len() {
        if b[i] == b' ' {
            i += 1;
            continue;
        }
        if b[i] == b'"' {
            i = match unquote(i) {
                Some((_, n)) => i + n,
                None => to_space(i),
            };
            continue;
        }
        let start = i;
        while i < b.len() && !matches!(b[i], b' ' | b'=' | b'"') {
            i += 1;
        }
        if i > start && b.get(i) == Some(&b'=') {
            let key = &text[start..i];
            i += 1;
            if b.get(i) != Some(&b'"') {
                let end = to_space(i);
                out.push((key, text[i..end].to_string()));
                i = end;
                continue;
            }
            if let Some((v, n)) = unquote(i) {
                out.push((key, v));
                i += n;
                continue;
            }
        }
        i = to_space(i);
    }
    out
}

/// The first mismatch message in `text`: where it starts, expected and got.
fn mismatch_in(text: &str) -> Option<(usize, String, String)> {
    let at = text.find(MISMATCH)?;
    let rest = &text[at + MISMATCH.len()..];
    let (expected, used) = go_unquote(rest)?;
    let (got, _) = go_unquote(rest[used..].strip_prefix(" got ")?)?;
    Some((at, expected, got))
}

/// What one log record says.
#[derive(Debug, Default)]
struct Record {
    /// connector, expected, got
    evidence: Option<(Option<String>, String, String)>,
    /// connector, message
    failure: Option<(Option<String>, String)>,
    /// A login that failed or worked.
    login: Option<login::Read>,
    ready: bool,
}

/// Reads one record (a log line, or lines joined).
fn read_record(raw: &str) -> Record {
    let (text, intact) = match unsplit(raw) {
        Some(t) => (t, true),
        None => (Cow::Borrowed(raw), false),
    };
    let clean = strip_ansi(&text);
    let t = clean.trim();
    // The texts that may hold the error chain, the record's id field, its summary and readiness.
    let mut texts: Vec<String> = Vec::new();
    let mut parsed = None;
    // The record's message, its error and its `connector_id`, for the login-time lines.
    let mut login_parts: Option<(String, String, Option<String>)> = None;
    if t.starts_with('{') {
        if let Ok(serde_json::Value::Object(m)) = serde_json::from_str::<serde_json::Value>(t) {
            let s = |k: &str| m.get(k).and_then(|v| v.as_str()).map(String::from);
            let (msg, err, error) = (s("msg"), s("err"), s("error"));
            if let Some(m) = &msg {
                let e = err.clone().or_else(|| error.clone());
                login_parts = Some((m.clone(), e.unwrap_or_else(|| m.clone()), s("connector_id")));
            }
            let msg_text = msg.as_deref().unwrap_or_default();
            let ready = READY_JSON_MSG.contains(&msg_text)
                || READY_TEXT.iter().any(|r| msg_text.contains(r));
            let summary = [&msg, &err, &error]
                .into_iter()
                .flatten()
                .map(String::as_str)
                .collect::<Vec<_>>()
                .join(": ");
            texts.extend([msg, err, error].into_iter().flatten());
            parsed = Some((s("id"), summary, ready));
        }
    }
    let (id, summary, ready) = match parsed {
        Some(p) => p,
        None => {
            // Only lines with key=value pairs are tokenised (it costs a pass per quoted word).
            let kv = if ["msg=", "err=", "error=", "id="]
                .iter()
                .any(|k| t.contains(k))
            {
                kv_fields(t)
            } else {
                Vec::new()
            };
            let get = |k: &str| kv.iter().rev().find(|(key, _)| *key == k).map(|(_, v)| v);
            let kv_msg = get("msg");
            let kv_err = get("err").or_else(|| get("error"));
            login_parts = match (netbird_login_msg(t), kv_msg) {
                // NetBird's line format prints the fields raw: the whole line is the error's text.
                (Some(m), _) if !t.starts_with("time=") && !t.starts_with("level=") => {
                    let err = t.find("err: ").map_or(t, |p| &t[p + 5..]);
                    Some((
                        m.to_string(),
                        err.to_string(),
                        text_field(t, "connector_id"),
                    ))
                }
                (_, Some(m)) => Some((
                    m.clone(),
                    kv_err.cloned().unwrap_or_else(|| m.clone()),
                    get("connector_id").cloned(),
                )),
                _ => None,
            };
            let ready = READY_TEXT.iter().any(|r| t.contains(r))
                || kv_msg.is_some_and(|m| READY_JSON_MSG.contains(&m.as_str()));
            texts.push(t.to_string());
            let mut summary = t.to_string();
            let err = get("err").or_else(|| get("error"));
            // slog / logrus key=value text (logrus's default TextFormatter): the chain is in a quoted
            // value, `msg=` for a fatal line, `err=`/`error=` beside a short `msg=` for an error line, and
            // go-oidc's own quotes are escaped once more inside it.
            texts.extend([kv_msg, err].into_iter().flatten().cloned());
            if let (Some(m), Some(e)) = (kv_msg, err) {
                summary = format!("{m}: {e}");
            } else if let (Some(m), true) =
                (kv_msg, t.starts_with("time=") || t.starts_with("level="))
            {
                summary = m.clone();
            }
            (
                text_field_id(t).or_else(|| get("id").cloned()),
                summary,
                ready,
            )
        }
    };
    let mut rec = Record {
        ready,
        login: login_parts.and_then(|(m, e, c)| login::read(&m, &e, c)),
        ..Record::default()
    };
    if intact {
        rec.evidence = texts.iter().find_map(|text| {
            let (at, expected, got) = mismatch_in(text)?;
            Some((
                connector_in(&text[..at]).or_else(|| id.clone()),
                expected,
                got,
            ))
        });
    }
    if rec.evidence.is_none()
        && (summary.contains("Failed to open connector")
            || summary.contains("failed to open all connectors")
            // The management refusing a token whose issuer is not HttpConfig.AuthIssuer (golang-jwt).
            || summary.contains("token has invalid issuer"))
    {
        let message = summary
            .find("failed to open connector: ")
            .map(|p| &summary[p..])
            .unwrap_or(&summary);
        rec.failure = Some((
            connector_in(&summary).or(id),
            message.chars().take(300).collect(),
        ));
    }
    rec
}

/// Whether a line holds the start of a mismatch message (all of the marker or its beginning at the end).
fn opens_mismatch(raw: &str) -> bool {
    raw.contains(MISMATCH) || (1..MISMATCH.len()).any(|n| raw.ends_with(&MISMATCH[..n]))
}

/// Whether a line looks like a log record of its own rather than the rest of the line before it.
fn starts_record(raw: &str) -> bool {
    let clean = strip_ansi(raw);
    let t = clean.trim_start();
    let first = t.split(' ').next().unwrap_or("");
    let b = t.as_bytes();
    t.starts_with('{')
        || parse_rfc3339(first).is_some()
        || [
            "time=",
            "level=",
            "failed to initialize server:",
            "panic:",
            "goroutine ",
        ]
        .iter()
        .any(|p| t.starts_with(p))
        || (b.len() > 4 && b[..4].iter().all(u8::is_ascii_uppercase) && b[4] == b'[')
}

/// Whether `next` may be the rest of `prev`: stamped close to it and not a log record of its own.
fn continues(prev: &LogLine, next: &LogLine) -> bool {
    let near = match (parse_rfc3339(&prev.time), parse_rfc3339(&next.time)) {
        (Some(a), Some(b)) => (b - a).abs() <= JOIN_GAP_NS,
        _ => true,
    };
    near && !starts_record(&next.text) && read_record(&next.text).evidence.is_none()
}

/// Joins the lines after `lines[0]` that continue its mismatch message; returns the record and the number of
/// lines it took, or None when no join gives evidence.
fn joined_record(lines: &[&LogLine]) -> Option<(Record, usize)> {
    let first = lines.first()?;
    if !opens_mismatch(&first.text) {
        return None;
    }
    let mut joined = first.text.clone();
    for k in 1..=MAX_CONTINUATION {
        let next = lines.get(k)?;
        if !continues(lines[k - 1], next) {
            return None;
        }
        joined.push_str(&next.text);
        let rec = read_record(&joined);
        // The message must start in the first line, so the chain before it is that line's.
        if rec.evidence.is_some() && joined.find(MISMATCH).is_some_and(|p| p < first.text.len()) {
            return Some((rec, k + 1));
        }
    }
    None
}

/// Whether a line holds the start of golang/oauth2's older error (`cannot fetch token: <status>` and a
/// line break before `Response: <body>`), whose record NetBird's line format ends on a later line.
fn opens_login(raw: &str) -> bool {
    raw.contains("cannot fetch token: ") && netbird_login_msg(strip_ansi(raw).trim()).is_none()
}

/// Joins the lines after `lines[0]` that continue its login-time record (with the line breaks the error
/// had); returns the record and the number of lines it took, or None when no join gives a login.
fn joined_login(lines: &[&LogLine]) -> Option<(Record, usize)> {
    let first = lines.first()?;
    let mut joined = first.text.clone();
    for k in 1..=MAX_CONTINUATION {
        let next = lines.get(k)?;
        if !continues(lines[k - 1], next) {
            return None;
        }
        joined.push('\n');
        joined.push_str(&next.text);
        let rec = read_record(&joined);
        if rec.login.is_some() {
            return Some((rec, k + 1));
        }
    }
    None
}

/// The record's own timestamp (its first word, or logrus's `time="…"`), for a line the engine gave none.
fn own_stamp(text: &str) -> String {
    let t = strip_ansi(text);
    let t = t.trim_start();
    let first = t.split(' ').next().unwrap_or("");
    if parse_rfc3339(first).is_some() {
        return first.to_string();
    }
    if t.starts_with('{') {
        return serde_json::from_str::<serde_json::Value>(t)
            .ok()
            .and_then(|v| v.get("time")?.as_str().map(String::from))
            .filter(|v| parse_rfc3339(v).is_some())
            .unwrap_or_default();
    }
    kv_fields(t)
        .into_iter()
        .find(|(k, _)| *k == "time")
        .map(|(_, v)| v)
        .filter(|v| parse_rfc3339(v).is_some())
        .unwrap_or_default()
}

/// Reads the lines of the run that started at `started_at` (less [`START_SLACK_NS`]). An empty or zero
/// `started_at` (never started) keeps every line.
#[cfg(test)]
pub fn scan(lines: &[LogLine], started_at: &str) -> LogFindings {
    scan_window(
        lines,
        &RunWindow {
            since: parse_rfc3339(started_at)
                .filter(|n| *n > 0)
                .map(|n| n - START_SLACK_NS),
        },
    )
}

/// Reads every line given (the caller already chose them, e.g. by their position after a start).
pub fn scan_all(lines: &[LogLine]) -> LogFindings {
    scan_window(lines, &RunWindow::default())
}

/// Reads the lines a run window may hold ([`RunWindow::admits`]: a whole-second stamp stands for its
/// whole second, so the engine's own choice of lines by exact time is never narrowed by a rounded stamp).
impl LogFindings {
    /// Nothing the plan could use: no evidence, no failure, no ready line.
    pub fn is_silent(&self) -> bool {
        self.evidence.is_empty() && self.failures.is_empty() && !self.ready
    }
}

pub fn scan_window(lines: &[LogLine], window: &RunWindow) -> LogFindings {
    let kept: Vec<&LogLine> = lines.iter().filter(|l| window.admits(&l.time)).collect();
    let mut f = LogFindings {
        lines: kept.len(),
        ..LogFindings::default()
    };
    let mut i = 0;
    while i < kept.len() {
        let l = kept[i];
        let mut rec = read_record(&l.text);
        let mut used = 1;
        if rec.evidence.is_none() {
            if let Some((joined, n)) = joined_record(&kept[i..]) {
                rec = joined;
                used = n;
            }
        }
        if rec.evidence.is_some() {
            // The rest of a cut line after its values (`, id: x] file.go:83: msg`) is part of it too.
            while used <= MAX_CONTINUATION
                && kept.get(i + used).is_some_and(|next| {
                    continues(kept[i + used - 1], next) && !next.text.contains(MISMATCH)
                })
            {
                used += 1;
            }
        }
        if rec.login.is_none() && rec.evidence.is_none() && opens_login(&l.text) {
            if let Some((joined, n)) = joined_login(&kept[i..]) {
                rec = joined;
                used = n;
            }
        }
        f.ready |= rec.ready;
        let time = || {
            if l.time.is_empty() {
                own_stamp(&l.text)
            } else {
                l.time.clone()
            }
        };
        match rec.login.take() {
            Some(login::Read::Failed(mut failed)) => {
                failed.time = time();
                f.logins.push(failed);
            }
            Some(login::Read::Ok(connector)) => f.logins_ok.push(login::LoginOk {
                connector,
                time: time(),
            }),
            None => {}
        }
        if let Some((connector, expected, got)) = rec.evidence {
            f.evidence.push(Evidence {
                connector,
                expected,
                got,
                time: l.time.clone(),
            });
        } else if let Some((connector, message)) = rec.failure {
            f.failures.push(OtherFailure {
                connector,
                message,
                time: l.time.clone(),
            });
        }
        i += used;
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(t: &str, text: &str) -> LogLine {
        LogLine {
            time: t.into(),
            text: text.into(),
        }
    }

    fn lines(texts: &[&str]) -> Vec<LogLine> {
        texts.iter().map(|t| line("", t)).collect()
    }

    /// The single piece of evidence in `texts`, as (connector, expected, got).
    fn one(texts: &[&str]) -> (Option<String>, String, String) {
        let f = scan(&lines(texts), "");
        assert_eq!(f.evidence.len(), 1, "{f:?}");
        let e = &f.evidence[0];
        (e.connector.clone(), e.expected.clone(), e.got.clone())
    }

    fn ev(id: &str, expected: &str, got: &str) -> (Option<String>, String, String) {
        (Some(id.into()), expected.into(), got.into())
    }

    const ID: &str = "d4s1a2b3c4d5e6f7g8h9";
    const JC: &str = "https://oauth.id.jumpcloud.com";
    const JC_SLASH: &str = "https://oauth.id.jumpcloud.com/";

    const CHAIN: &str = r#"failed to open connector: failed to create connector d4s1a2b3c4d5e6f7g8h9: failed to get provider: oidc: issuer did not match the issuer returned by provider, expected "https://oauth.id.jumpcloud.com" got "https://oauth.id.jumpcloud.com/""#;

    const FATL: &str = r#"2026-01-19T08:38:54Z FATL management/internals/server/modules.go:122: failed to create embedded IDP manager: failed to create embedded IdP provider: failed to create dex server: server: Failed to open connector d4s1a2b3c4d5e6f7g8h9: failed to open connector: failed to create connector d4s1a2b3c4d5e6f7g8h9: failed to get provider: oidc: issuer did not match the issuer returned by provider, expected "https://oauth.id.jumpcloud.com" got "https://oauth.id.jumpcloud.com/""#;

    #[test]
    fn reads_the_fatal_text_line() {
        let f = scan(
            &[line("2026-01-19T08:38:54.1Z", FATL)],
            "2026-01-19T08:38:54.2Z",
        );
        assert_eq!(
            f.evidence,
            vec![Evidence {
                connector: Some("d4s1a2b3c4d5e6f7g8h9".into()),
                expected: "https://oauth.id.jumpcloud.com".into(),
                got: "https://oauth.id.jumpcloud.com/".into(),
                time: "2026-01-19T08:38:54.1Z".into(),
            }]
        );
        assert!(f.failures.is_empty());
    }

    #[test]
    fn reads_every_fatal_text_variant() {
        let want = ev(ID, JC, JC_SLASH);
        for (time, line_no, prefix) in [
            (
                "2026-01-09T11:02:03Z",
                103,
                "failed to create embedded IDP manager",
            ),
            (
                "2026-01-30T11:02:03Z",
                107,
                "failed to create embedded IDP manager",
            ),
            (
                "2026-02-10T11:02:03Z",
                122,
                "failed to create embedded IDP manager",
            ),
            (
                "2026-03-01T11:02:03.045Z",
                130,
                "failed to create embedded IDP service",
            ),
            (
                "2026-03-01T12:02:03.045+01:00",
                130,
                "failed to create embedded IDP service",
            ),
        ] {
            let chain = format!("{prefix}: failed to create embedded IdP provider: failed to create dex server: server: Failed to open connector {ID}: {CHAIN}");
            let plain =
                format!("{time} FATL management/internals/server/modules.go:{line_no}: {chain}");
            let coloured = format!("{time} \u{1b}[31mFATL\u{1b}[0m \u{1b}[2mmanagement/internals/server/modules.go:{line_no}\u{1b}[0m: {chain}");
            let bold = format!("\u{1b}[1;31m{time}\u{1b}[0m \u{1b}[1;31mFATL\u{1b}[0m management/internals/server/modules.go:{line_no}: {chain}\u{1b}[0m");
            for l in [plain, coloured, bold] {
                assert_eq!(one(&[&l]), want, "{l}");
            }
        }
    }

    #[test]
    fn reads_the_erro_line_in_either_field_order() {
        let want = ev(ID, JC, JC_SLASH);
        for time in ["2026-02-18T09:00:00Z", "2026-02-20T10:00:00.123Z"] {
            let a = format!("{time} ERRO [id: {ID}, err: {CHAIN}] idp/dex/logrus_handler.go:83: server: Failed to open connector");
            let b = format!("{time} ERRO [err: {CHAIN}, id: {ID}] idp/dex/logrus_handler.go:83: server: Failed to open connector");
            let c = format!("{time} \u{1b}[31mERRO\u{1b}[0m \u{1b}[36m[err: {CHAIN}, id: {ID}]\u{1b}[0m idp/dex/logrus_handler.go:83: server: Failed to open connector");
            let d = format!("{time} \u{1b}[31mERRO\u{1b}[0m [\u{1b}[36mid\u{1b}[0m: {ID}, \u{1b}[36merr\u{1b}[0m: {CHAIN}] idp/dex/logrus_handler.go:83: server: Failed to open connector");
            for l in [a, b, c, d] {
                assert_eq!(one(&[&l]), want, "{l}");
                assert!(scan(&lines(&[&l]), "").failures.is_empty());
            }
        }
    }

    #[test]
    fn reads_coloured_erro_and_json_lines() {
        let erro = "\u{1b}[31mERRO\u{1b}[0m[2026-02-20T10:00:00.123Z] [err: failed to open connector: failed to create connector okta-1: failed to get provider: oidc: issuer did not match the issuer returned by provider, expected \"https://a.okta.com/\" got \"https://a.okta.com\", id: okta-1] idp/dex/logrus_handler.go:83: server: Failed to open connector";
        let json = r#"{"time":"2026-02-20T10:00:00Z","level":"ERROR","msg":"server: Failed to open connector","id":"authentik","err":"failed to open connector: failed to create connector authentik: failed to get provider: oidc: issuer did not match the issuer returned by provider, expected \"https://auth.example.com/application/o/nb\" got \"https://auth.example.com/application/o/nb/\""}"#;
        let f = scan(&[line("", erro), line("", json)], "");
        assert_eq!(f.evidence.len(), 2);
        assert_eq!(f.evidence[0].connector.as_deref(), Some("okta-1"));
        assert_eq!(f.evidence[0].got, "https://a.okta.com");
        assert_eq!(f.evidence[1].connector.as_deref(), Some("authentik"));
        assert_eq!(
            f.evidence[1].got,
            "https://auth.example.com/application/o/nb/"
        );
    }

    #[test]
    fn reads_logrus_json() {
        let q = |s: &str| serde_json::Value::from(s).to_string();
        let fatal = format!(
            r#"{{"file":"/go/src/management/internals/server/modules.go:122","func":"github.com/netbirdio/netbird/management/internals/server.(*BaseServer).IdpManager.func1","level":"fatal","msg":{},"source":"management/internals/server/modules.go:122","time":"2026-01-19T08:38:54Z"}}"#,
            q(&format!("failed to create embedded IDP manager: failed to create embedded IdP provider: failed to create dex server: server: Failed to open connector {ID}: {CHAIN}"))
        );
        let error = format!(
            r#"{{"err":{},"file":"/go/src/idp/dex/logrus_handler.go:83","func":"github.com/netbirdio/netbird/idp/dex.(*LogrusHandler).Handle","id":"{ID}","level":"error","msg":"server: Failed to open connector","source":"idp/dex/logrus_handler.go:83","time":"2026-02-20T10:00:00.123Z"}}"#,
            q(CHAIN)
        );
        for l in [fatal, error] {
            assert_eq!(one(&[&l]), ev(ID, JC, JC_SLASH), "{l}");
        }
    }

    #[test]
    fn reads_dex_slog_json_text_and_stderr() {
        let chain = CHAIN.replace(ID, "jumpcloud");
        let json = format!(
            r#"{{"time":"2026-02-20T10:00:00.123456789Z","level":"ERROR","msg":"server: Failed to open connector","id":"jumpcloud","err":{}}}"#,
            serde_json::Value::from(chain.as_str())
        );
        let text = format!(
            r#"time=2026-02-20T10:00:00.123Z level=ERROR msg="server: Failed to open connector" id=jumpcloud err={}"#,
            ozrepair_standin::goquote::quote(&chain)
        );
        let stderr = format!(
            "failed to initialize server: server: Failed to open connector jumpcloud: {chain}"
        );
        for l in [json, text, stderr] {
            assert_eq!(one(&[&l]), ev("jumpcloud", JC, JC_SLASH), "{l}");
        }
        // The id comes from the JSON field when the chain does not name it.
        let bare = r#"{"level":"ERROR","msg":"server: Failed to open connector","id":"gl","err":"oidc: issuer did not match the issuer returned by provider, expected \"https://gl\" got \"https://gl/\""}"#;
        assert_eq!(one(&[bare]), ev("gl", "https://gl", "https://gl/"));
        let bare = r#"time=2026-02-20T10:00:00Z level=ERROR msg="server: Failed to open connector" id=gl err="oidc: issuer did not match the issuer returned by provider, expected \"https://gl\" got \"https://gl/\"""#;
        assert_eq!(one(&[bare]), ev("gl", "https://gl", "https://gl/"));
        let bare = "2026-02-20T10:00:00Z ERRO [err: oidc: issuer did not match the issuer returned by provider, expected \"https://gl\" got \"https://gl/\", id: gl] idp/dex/logrus_handler.go:83: server: Failed to open connector";
        assert_eq!(one(&[bare]), ev("gl", "https://gl", "https://gl/"));
    }

    #[test]
    fn quoted_values_with_quotes_and_escapes() {
        let cases = [
            (r#"https://a/" got "https://b"#, "https://a/"),
            (r"https://a\b", "https://a/\u{1}"),
            (
                "https://idp.example/é/😀/\u{7f}/\u{2028}",
                "https://x\t\n\r\u{0}",
            ),
            (r#"\"quoted\" \\ got \\ "#, r#"" got ""#),
        ];
        for (expected, got) in cases {
            let l = format!(
                "2026-01-19T08:38:54Z FATL m.go:1: failed to create connector c1: failed to get provider: oidc: {MISMATCH}{} got {}",
                ozrepair_standin::goquote::quote(expected),
                ozrepair_standin::goquote::quote(got)
            );
            assert_eq!(one(&[&l]), ev("c1", expected, got), "{l}");
        }
    }

    #[test]
    fn malformed_or_non_utf8_values_give_no_evidence() {
        for values in [
            r#""https://a\xff" got "https://a/""#,
            r#""https://a" got "https://a/\xc3""#,
            r#""https://a\400" got "https://a/""#,
            r#""https://a\q" got "https://a/""#,
            r#""https://a\x+f" got "https://a/""#,
            r#""https://a\u+0041" got "https://a/""#,
            r#""https://a\'" got "https://a/""#,
            r#""https://a\ud800" got "https://a/""#,
            r#""https://a\U00110000" got "https://a/""#,
            r#""https://a" got "https://a/"#,
            r#""https://a" got https://a/"#,
            r#""https://a"  got "https://a/""#,
            r#""https://a\"#,
        ] {
            let l = format!("2026-01-19T08:38:54Z ERRO [id: c1, err: failed to open connector: failed to create connector c1: failed to get provider: oidc: {MISMATCH}{values}] idp/dex/logrus_handler.go:83: server: Failed to open connector");
            let f = scan(&lines(&[&l]), "");
            assert!(f.evidence.is_empty(), "{l}");
            assert_eq!(f.failures.len(), 1, "{l}");
            assert_eq!(f.failures[0].connector.as_deref(), Some("c1"));
        }
        // Valid escapes that spell UTF-8 byte by byte are fine, as in Go.
        let l = format!("{MISMATCH}\"https://\\xc3\\xa9\\303\\251\" got \"https://x\"");
        assert_eq!(scan(&lines(&[&l]), "").evidence[0].expected, "https://éé");
    }

    #[test]
    fn joins_a_message_continued_on_the_next_lines() {
        let want = ev(ID, JC, JC_SLASH);
        let stamp = |n: u32| format!("2026-02-20T10:00:00.{n:09}Z");
        let split = |text: &str, cuts: &[usize]| -> Vec<LogLine> {
            let mut out = Vec::new();
            let mut from = 0;
            for (k, c) in cuts.iter().chain([text.len()].iter()).enumerate() {
                out.push(line(&stamp(k as u32), &text[from..*c]));
                from = *c;
            }
            out
        };
        let m = FATL.find(MISMATCH).unwrap();
        let q = FATL.rfind(" got ").unwrap();
        // In the values, in the marker, right after the marker; two and three pieces.
        for cuts in [
            vec![q + 3],
            vec![q + 10],
            vec![m + 5],
            vec![m + MISMATCH.len()],
            vec![m + MISMATCH.len() + 4, q + 8],
            vec![m + 1, m + 30, q + 2],
        ] {
            let f = scan(&split(FATL, &cuts), "");
            assert_eq!(f.evidence.len(), 1, "{cuts:?}");
            let e = &f.evidence[0];
            assert_eq!(
                (e.connector.clone(), e.expected.clone(), e.got.clone()),
                want
            );
            assert_eq!(e.time, stamp(0));
            assert!(f.failures.is_empty(), "{cuts:?}");
            assert_eq!(f.lines, cuts.len() + 1);
        }
        // A JSON line cut inside its `err` value.
        let json = format!(
            r#"{{"time":"2026-02-20T10:00:00Z","level":"ERROR","msg":"server: Failed to open connector","id":"{ID}","err":{}}}"#,
            serde_json::Value::from(CHAIN)
        );
        let at = json.find("expected").unwrap() + 15;
        let f = scan(&split(&json, &[at]), "");
        assert_eq!(f.evidence.len(), 1);
        assert_eq!(f.evidence[0].got, JC_SLASH);
        // The rest of a cut ERRO line after the values is part of it, not a failure of its own.
        let erro = format!("2026-02-20T10:00:00.123Z ERRO [err: {CHAIN}, id: {ID}] idp/dex/logrus_handler.go:83: server: Failed to open connector");
        let end = erro.rfind('"').unwrap() + 1;
        for cuts in [vec![end], vec![end - 3, end], vec![end, end + 4]] {
            let f = scan(&split(&erro, &cuts), "");
            assert_eq!(f.evidence.len(), 1, "{cuts:?}");
            assert!(f.failures.is_empty(), "{cuts:?}: {:?}", f.failures);
        }
        // Lines after the joined ones are read on their own.
        let mut ls = split(FATL, &[q + 10]);
        ls.push(line(&stamp(9), FATL));
        assert_eq!(scan(&ls, "").evidence.len(), 2);
    }

    #[test]
    fn joins_only_what_continues_the_line() {
        let m = FATL.find(MISMATCH).unwrap() + MISMATCH.len() + 5;
        let (head, tail) = FATL.split_at(m);
        let t0 = "2026-02-20T10:00:00.000000001Z";
        // The next line is a record of its own (a new run's line, JSON, slog text): no join.
        for next in [
            format!("2026-02-20T10:00:01Z INFO x.go:1: {tail}"),
            format!("{{\"msg\":\"{tail}\"}}"),
            format!("time=2026-02-20T10:00:00Z level=INFO msg={tail}"),
        ] {
            let f = scan(&[line(t0, head), line(t0, &next)], "");
            assert!(f.evidence.is_empty(), "{next}");
        }
        // Too far apart in time.
        let f = scan(&[line(t0, head), line("2026-02-20T10:00:05Z", tail)], "");
        assert!(f.evidence.is_empty());
        // A complete line after an unrelated failure is not glued to it.
        let dial = "2026-02-20T10:00:00Z ERRO [id: gl, err: failed to open connector: failed to create connector gl: failed to get provider: Get \"https://gl/.well-known/openid-configuration\": dial tcp: lookup gl: no such host] idp/dex/logrus_handler.go:83: server: Failed to open connector";
        let stderr =
            format!("failed to initialize server: server: Failed to open connector {ID}: {CHAIN}");
        let f = scan(&[line(t0, dial), line(t0, &stderr)], "");
        assert_eq!(f.evidence.len(), 1);
        assert_eq!(f.evidence[0].connector.as_deref(), Some(ID));
        assert_eq!(f.failures.len(), 1);
        assert_eq!(f.failures[0].connector.as_deref(), Some("gl"));
        // Bounded: a message spread over more than 1 + MAX_CONTINUATION lines is not put together.
        let cut: Vec<usize> = (1..=MAX_CONTINUATION + 1).map(|k| m + 2 * k).collect();
        let mut pieces = Vec::new();
        let mut from = 0;
        for c in cut.iter().chain([FATL.len()].iter()) {
            pieces.push(line(t0, &FATL[from..*c]));
            from = *c;
        }
        assert!(scan(&pieces, "").evidence.is_empty());
        // A value cut off for good gives nothing.
        assert!(scan(&[line(t0, head)], "").evidence.is_empty());
    }

    #[test]
    fn takes_out_docker_stamps_of_16k_entries() {
        // What the Engine API returns for a line longer than 16 KiB: the entries' own stamps mid-line.
        let long = format!("https://idp.example.com/{}", "a".repeat(20_000));
        let text = format!(
            "2026-01-19T08:38:54Z FATL m.go:1: failed to create connector c1: failed to get provider: oidc: {MISMATCH}{} got {}",
            ozrepair_standin::goquote::quote(&long),
            ozrepair_standin::goquote::quote(&format!("{long}/"))
        );
        let stamp = "2026-01-19T08:38:54.123456789Z ";
        let mut stamped = String::new();
        for (k, chunk) in text.as_bytes().chunks(DOCKER_PART).enumerate() {
            if k > 0 {
                stamped.push_str(stamp);
            }
            stamped.push_str(std::str::from_utf8(chunk).unwrap());
        }
        assert_eq!(stamped.matches(stamp).count(), 2);
        let f = scan(&[line("2026-01-19T08:38:54.1Z", &stamped)], "");
        assert_eq!(f.evidence.len(), 1);
        assert_eq!(f.evidence[0].expected, long);
        assert_eq!(f.evidence[0].got, format!("{long}/"));
        // A cut through a UTF-8 sequence loses bytes to U+FFFD: no evidence, never a wrong value.
        let text = ["", "x"]
            .iter()
            .map(|pad| {
                let long = format!("https://idp.example.com/{pad}{}", "é".repeat(10_000));
                format!(
                    "{MISMATCH}{} got \"https://x\"",
                    ozrepair_standin::goquote::quote(&long)
                )
            })
            .find(|t| !t.is_char_boundary(DOCKER_PART))
            .unwrap();
        let lossy = String::from_utf8_lossy(&text.as_bytes()[..DOCKER_PART]).into_owned()
            + stamp
            + &String::from_utf8_lossy(&text.as_bytes()[DOCKER_PART..]);
        assert!(lossy.contains('\u{fffd}'));
        assert!(scan(&lines(&[&lossy]), "").evidence.is_empty());
        // A stamp-like text in a value elsewhere is left alone.
        let odd = format!("{MISMATCH}\"https://a/{stamp}b\" got \"https://a\"");
        assert_eq!(
            scan(&lines(&[&odd]), "").evidence[0].expected,
            format!("https://a/{stamp}b")
        );
    }

    #[test]
    fn connector_id_sources() {
        // Only `Failed to open connector <id>:` names it (a failure, no `failed to create connector`).
        let f = scan(
            &lines(&["failed to initialize server: server: Failed to open connector ldap-1: failed to open connector: ldap: no host"]),
            "",
        );
        assert_eq!(f.failures[0].connector.as_deref(), Some("ldap-1"));
        // The chain's id wins over an issuer that contains connector-like text.
        let l = format!(
            "2026-01-19T08:38:54Z ERRO [err: failed to open connector: failed to create connector c1: failed to get provider: oidc: {MISMATCH}\"https://a/failed to create connector c2: x, id: c3]\" got \"https://a\", id: c1] idp/dex/logrus_handler.go:83: server: Failed to open connector"
        );
        assert_eq!(
            one(&[&l]),
            ev(
                "c1",
                "https://a/failed to create connector c2: x, id: c3]",
                "https://a"
            )
        );
        assert_eq!(
            text_field_id("x [id: okta-1, err: e] y"),
            Some("okta-1".into())
        );
        assert_eq!(
            text_field_id("x [err: e, id: okta-1] y"),
            Some("okta-1".into())
        );
        assert_eq!(text_field_id("x [err: e] y"), None);
    }

    #[test]
    fn ignores_lines_from_earlier_runs() {
        let f = scan(
            &[line("2026-01-19T08:00:00Z", FATL)],
            "2026-01-19T09:00:00Z",
        );
        assert!(f.evidence.is_empty());
        assert_eq!(f.lines, 0);
        // The slack: a line stamped just before StartedAt belongs to the run (the engine records StartedAt
        // after the process is writing); one stamped before the slack does not.
        let l = [line("2026-01-19T08:59:59.97Z", FATL)];
        assert_eq!(scan(&l, "2026-01-19T09:00:00Z").evidence.len(), 1);
        assert_eq!(scan(&l, "0001-01-01T00:00:00Z").evidence.len(), 1);
        let earlier = [line("2026-01-19T08:59:59.5Z", FATL)];
        assert_eq!(scan(&earlier, "2026-01-19T09:00:00Z").lines, 0);
        assert_eq!(scan_all(&earlier).evidence.len(), 1);
        // Podman's whole-second stamps: a line of the current second may be of this run (its real time is
        // anywhere in that second), so it is kept; the engine's own `since` chose it by its exact time.
        let podman = [line("2026-12-01T09:09:31Z", FATL)];
        assert_eq!(
            scan(&podman, "2026-12-01T09:09:31.727488523Z")
                .evidence
                .len(),
            1
        );
        assert_eq!(scan(&podman, "2026-12-01T09:09:32.100000000Z").lines, 0);
        let w = RunWindow {
            since: parse_rfc3339("2026-12-01T09:09:31.5Z"),
        };
        assert_eq!(scan_window(&podman, &w).lines, 1);
        assert_eq!(
            scan_window(&[line("2026-12-01T09:09:30Z", FATL)], &w).lines,
            0
        );
    }

    #[test]
    fn notices_ready_and_other_failures() {
        let f = scan(
            &[
                line("", "2026-01-19T08:38:54Z ERRO [id: gl, err: failed to open connector: failed to create connector gl: failed to get provider: Get \"https://gl/.well-known/openid-configuration\": dial tcp: lookup gl: no such host] idp/dex/logrus_handler.go:83: server: Failed to open connector"),
                line("", "2026-01-19T08:38:55Z INFO management/internals/server/server.go:202: running HTTP server and gRPC server on the same port: [::]:80"),
            ],
            "",
        );
        assert!(f.ready);
        assert_eq!(f.failures.len(), 1);
        assert_eq!(f.failures[0].connector.as_deref(), Some("gl"));
        for ready in [
            r#"{"time":"2026-02-20T10:00:00Z","level":"INFO","msg":"listening on","server":"http","address":"0.0.0.0:5556"}"#,
            r#"time=2026-02-20T10:00:00Z level=INFO msg="listening on" server=http address=0.0.0.0:5556"#,
        ] {
            assert!(scan(&lines(&[ready]), "").ready, "{ready}");
        }
        let f = scan(
            &lines(&[
                r#"time=2026-02-20T10:00:00Z level=ERROR msg="server: Failed to open connector" id=gl err="failed to open connector: failed to create connector gl: failed to get provider: 404 Not Found: \"nope\"""#,
            ]),
            "",
        );
        assert_eq!(f.failures.len(), 1);
        assert_eq!(f.failures[0].connector.as_deref(), Some("gl"));
        assert_eq!(
            f.failures[0].message,
            "failed to open connector: failed to create connector gl: failed to get provider: 404 Not Found: \"nope\""
        );
        assert!(!scan(&lines(&["INFO listening on nothing"]), "").ready);
    }

    /// A failed login in every format the field prints, each read to its cause, connector and time; the
    /// older oauth2 error's line break splits NetBird's line, and the two lines are one record.
    #[test]
    fn reads_login_failures_in_every_format() {
        use login::Cause;
        let chain =
            r#"oidc: failed to get token: oauth2: "invalid_client" "Client authentication failed""#;
        let js = |s: &str| serde_json::Value::from(s).to_string();
        let q = ozrepair_standin::goquote::quote;
        let t = "2026-12-01T10:00:00Z";
        let netbird = [
            format!("{t} ERRO [err: {chain}] idp/dex/logrus_handler.go:83: failed to authenticate"),
            format!("{t} \u{1b}[31mERRO\u{1b}[0m [err: {chain}] idp/dex/logrus_handler.go:83: failed to authenticate"),
        ];
        let others = [
            format!(
                r#"{{"err":{},"level":"error","msg":"failed to authenticate","time":"{t}"}}"#,
                js(chain)
            ),
            format!(
                r#"{{"time":"{t}","level":"ERROR","msg":"failed to authenticate","err":{},"client_remote_addr":"10.0.0.1","request_id":"r1"}}"#,
                js(chain)
            ),
            format!(
                r#"time="{t}" level=error msg="failed to authenticate" err={}"#,
                q(chain)
            ),
            format!(
                r#"time={t} level=ERROR msg="failed to authenticate" err={} request_id=r1"#,
                q(chain)
            ),
        ];
        for l in netbird.iter().chain(others.iter()) {
            let f = scan(&[line("", l)], "");
            assert_eq!(f.logins.len(), 1, "{l}");
            let got = &f.logins[0];
            assert_eq!(got.cause, Cause::WrongSecret, "{l}");
            assert_eq!(got.code, "invalid_client");
            assert_eq!(got.types, &["oidc", "openshift"]);
            assert_eq!(
                got.time, t,
                "the record's own time when the engine gave none: {l}"
            );
            assert!(f.evidence.is_empty() && f.failures.is_empty());
        }
        // golang/oauth2 before v0.8: the body after a line break, the message on the second line.
        let split = [
            line("2026-12-01T10:00:01.5Z", "2026-12-01T10:00:01Z ERRO [err: oidc: failed to get token: oauth2: cannot fetch token: 401 Unauthorized"),
            line("2026-12-01T10:00:01.5Z", r#"Response: {"error":"invalid_client","error_description":"AADSTS7000222: The provided client secret keys for app 'a-1' are expired."}] idp/dex/logrus_handler.go:83: failed to authenticate"#),
            line("2026-12-01T10:00:02Z", "2026-12-01T10:00:02Z INFO management/server/x.go:1: something else"),
        ];
        let f = scan(&split, "");
        assert_eq!(f.logins.len(), 1, "{f:?}");
        assert_eq!(f.logins[0].cause, Cause::ExpiredSecret);
        assert_eq!(f.logins[0].client_id.as_deref(), Some("a-1"));
        assert_eq!(f.logins[0].time, "2026-12-01T10:00:01.5Z");
        // The callback line names its connector in every format.
        let cb = r#"expected callback URL "https://new.example.com/oauth2/callback" did not match the URL in the config "https://old.example.com/oauth2/callback""#;
        for l in [
            format!("{t} ERRO [connector_id: okta-1, err: {cb}] idp/dex/logrus_handler.go:83: connector returned error when creating callback"),
            format!(r#"{{"connector_id":"okta-1","err":{},"level":"error","msg":"connector returned error when creating callback","time":"{t}"}}"#, js(cb)),
            format!(r#"time={t} level=ERROR msg="connector returned error when creating callback" connector_id=okta-1 err={}"#, q(cb)),
        ] {
            let f = scan(&[line(t, &l)], "");
            assert_eq!(f.logins.len(), 1, "{l}");
            assert_eq!(f.logins[0].connector.as_deref(), Some("okta-1"), "{l}");
            assert_eq!(f.logins[0].cause, Cause::RedirectMismatch);
            assert_eq!(
                f.logins[0].callback.as_ref().map(|c| c.0.as_str()),
                Some("https://new.example.com/oauth2/callback")
            );
        }
        // A success names its connector; the management's refusal of a token from the future is a clock.
        let f = scan(
            &lines(&[
                &format!("{t} INFO [connector_id: okta-1, email: a@example.com, username: a] idp/dex/logrus_handler.go:83: login successful"),
                &format!(r#"{{"time":"{t}","level":"INFO","msg":"login successful","connector_id":"gh","username":"a"}}"#),
                &format!("{t} ERRO shared/auth/jwt/validator.go:225: token could not be parsed: token has invalid claims: token is not valid yet"),
            ]),
            "",
        );
        let ok: Vec<&str> = f.logins_ok.iter().map(|o| o.connector.as_str()).collect();
        assert_eq!(ok, ["okta-1", "gh"]);
        assert_eq!(f.logins.len(), 1);
        assert!(f.logins[0].management && f.logins[0].cause == Cause::ClockSkew);
        // Other lines are no logins: an issuer mismatch stays evidence, a user who cancelled is nothing.
        let f = scan(&lines(&[FATL, &format!("{t} ERRO [err: access_denied: cancelled] idp/dex/logrus_handler.go:83: failed to authenticate")]), "");
        assert!(f.logins.is_empty());
        assert_eq!(f.evidence.len(), 1);
    }

    #[test]
    fn hostile_lines_stay_cheap() {
        // Unbalanced quotes in a key=value line: bounded work, no evidence, no panic.
        let l = format!("msg=x {}", "\"a ".repeat(40_000));
        let started = std::time::Instant::now();
        let f = scan(&lines(&[&l, &l, &l]), "");
        assert!(f.evidence.is_empty());
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
        assert_eq!(
            kv_fields(r#"time=t level=ERROR msg="a b" id=x err="e \"q\"" bare "w o" k="#),
            vec![
                ("time", "t".to_string()),
                ("level", "ERROR".to_string()),
                ("msg", "a b".to_string()),
                ("id", "x".to_string()),
                ("err", "e \"q\"".to_string()),
                ("k", String::new()),
            ]
        );
    }

    #[test]
    fn strips_ansi_sequences() {
        assert_eq!(strip_ansi("\u{1b}[1;31mERRO\u{1b}[0m x"), "ERRO x");
        assert_eq!(strip_ansi("a\u{1b}[38;5;208mb\u{1b}[K"), "ab");
        // A broken sequence does not swallow the rest of the line.
        assert_eq!(strip_ansi("a\u{1b}[12é \"q\""), "aé \"q\"");
    }

    mod props {
        use super::super::*;
        use ozrepair_standin::goquote::quote;
        use proptest::prelude::*;

        fn cases(n: u32) -> ProptestConfig {
            ProptestConfig {
                cases: n,
                failure_persistence: None,
                ..ProptestConfig::default()
            }
        }

        /// Strings with what is hard to quote: quotes, backslashes, controls, non-ASCII, emoji, and the
        /// pieces of the mismatch message itself.
        fn nasty() -> impl Strategy<Value = String> {
            let piece = prop_oneof![
                4 => any::<char>().prop_map(String::from),
                3 => proptest::char::range('a', 'z').prop_map(String::from),
                3 => prop::sample::select(vec![
                    "\"", "\\", "\\\"", "\n", "\r", "\t", "\u{0}", "\u{7}", "\u{1b}", "\u{7f}",
                    "\u{85}", "\u{a0}", "\u{ad}", "\u{2028}", "\u{feff}", "\u{e000}", "\u{fffd}",
                    "é", "😀", "👩‍👩‍👧", " got ", "\" got \"", "expected ", "https://", "/", ", id: x]",
                    "failed to create connector z: ", "2026-01-19T08:38:54.123456789Z ",
                ]).prop_map(String::from),
            ];
            prop::collection::vec(piece, 0..16).prop_map(|v| v.concat())
        }

        fn conn_id() -> impl Strategy<Value = String> {
            "[a-z0-9][a-z0-9_-]{0,24}"
        }

        /// A line in format `k` carrying the mismatch of connector `id`.
        fn render(k: u8, id: &str, expected: &str, got: &str) -> String {
            let chain = format!(
                "failed to open connector: failed to create connector {id}: failed to get provider: oidc: {MISMATCH}{} got {}",
                quote(expected),
                quote(got)
            );
            let js = |s: &str| serde_json::Value::from(s).to_string();
            match k % 7 {
                0 => format!("2026-01-19T08:38:54Z FATL management/internals/server/modules.go:122: failed to create embedded IDP manager: failed to create embedded IdP provider: failed to create dex server: server: Failed to open connector {id}: {chain}"),
                1 => format!("2026-02-20T10:00:00.123Z \u{1b}[31mFATL\u{1b}[0m management/internals/server/modules.go:130: failed to create embedded IDP service: failed to create dex server: server: Failed to open connector {id}: {chain}"),
                2 => format!("2026-02-20T10:00:00.123Z ERRO [err: {chain}, id: {id}] idp/dex/logrus_handler.go:83: server: Failed to open connector"),
                3 => format!("2026-02-20T10:00:00Z ERRO [id: {id}, err: {chain}] idp/dex/logrus_handler.go:83: server: Failed to open connector"),
                4 => format!(r#"{{"err":{},"id":{},"level":"error","msg":"server: Failed to open connector","source":"idp/dex/logrus_handler.go:83","time":"2026-02-20T10:00:00Z"}}"#, js(&chain), js(id)),
                5 => format!(r#"{{"time":"2026-02-20T10:00:00Z","level":"ERROR","msg":"server: Failed to open connector","id":{},"err":{}}}"#, js(id), js(&chain)),
                _ => format!(r#"time=2026-02-20T10:00:00Z level=ERROR msg="server: Failed to open connector" id={id} err={}"#, quote(&chain)),
            }
        }

        proptest! {
            #![proptest_config(cases(300))]

            #[test]
            fn go_quote_round_trips(s in nasty(), rest in nasty()) {
                let q = quote(&s);
                prop_assert_eq!(go_unquote(&q), Some((s.clone(), q.len())));
                let followed = format!("{q}{rest}");
                prop_assert_eq!(go_unquote(&followed), Some((s, q.len())));
            }

            #[test]
            fn a_line_from_random_values_gives_exactly_them(
                k in 0u8..7, id in conn_id(), expected in nasty(), got in nasty(),
            ) {
                let l = render(k, &id, &expected, &got);
                let f = scan(&[LogLine { time: "2026-02-20T10:00:00Z".into(), text: l.clone() }], "");
                prop_assert_eq!(f.evidence.len(), 1, "{}", l);
                let e = &f.evidence[0];
                prop_assert_eq!(e.connector.as_deref(), Some(id.as_str()));
                prop_assert_eq!(&e.expected, &expected);
                prop_assert_eq!(&e.got, &got);
                prop_assert!(f.failures.is_empty());
            }

            #[test]
            fn a_line_cut_into_pieces_gives_the_same(
                k in 0u8..7, id in conn_id(), expected in nasty(), got in nasty(),
                cuts in prop::collection::vec(any::<prop::sample::Index>(), 1..=MAX_CONTINUATION),
            ) {
                let l = render(k, &id, &expected, &got);
                let m = l.find(MISMATCH).unwrap_or(0);
                let mut at: Vec<usize> = cuts
                    .iter()
                    .map(|c| m + 1 + c.index(l.len() - m - 1))
                    .filter(|c| l.is_char_boundary(*c))
                    .collect();
                at.sort_unstable();
                at.dedup();
                let mut pieces = Vec::new();
                let mut from = 0;
                for c in at.iter().chain([l.len()].iter()) {
                    pieces.push(LogLine { time: "2026-02-20T10:00:00Z".into(), text: l[from..*c].to_string() });
                    from = *c;
                }
                prop_assume!(pieces.iter().skip(1).all(|p| !starts_record(&p.text)));
                let f = scan(&pieces, "");
                prop_assert_eq!(f.evidence.len(), 1, "{:?}", pieces.iter().map(|p| &p.text).collect::<Vec<_>>());
                prop_assert_eq!(f.evidence[0].connector.as_deref(), Some(id.as_str()));
                prop_assert_eq!(&f.evidence[0].expected, &expected);
                prop_assert_eq!(&f.evidence[0].got, &got);
                prop_assert!(f.failures.is_empty(), "{:?}", f.failures);
            }

            /// Whatever follows the marker, reading never panics, and evidence is only what Go's
            /// Unquote would give of the line as it is read: without a terminal's escapes (`strip_ansi`:
            /// logrus colours its levels; a value Go quoted never holds a raw ESC).
            #[test]
            fn never_panics_and_never_invents(tail in nasty(), raw in "\\PC{0,40}") {
                for text in [format!("{MISMATCH}{tail}"), format!("{MISMATCH}\"{raw}"), tail.clone(), raw.clone()] {
                    let f = scan(&[LogLine { time: String::new(), text: text.clone() }], "");
                    let read = strip_ansi(&text);
                    for e in &f.evidence {
                        let rest = &read[read.find(MISMATCH).map_or(0, |p| p + MISMATCH.len())..];
                        let (x, n) = go_unquote(rest).expect("evidence comes from a quoted value");
                        prop_assert_eq!(&e.expected, &x);
                        prop_assert_eq!(
                            go_unquote(rest[n..].strip_prefix(" got ").unwrap_or_default()).map(|g| g.0),
                            Some(e.got.clone())
                        );
                    }
                }
            }
        }
    }

    /// The login-time lines the real libraries print (tests/data/go-login-corpus.jsonl, made by the Go
    /// stand-in: golang/oauth2's exchange against its RFC 6749 token endpoint in each provider's words,
    /// go-oidc's ID token verifier under a provider clock 10 minutes off, logrus's three formats and
    /// slog's two): each reads to its cause, code, connector and application id, a line break in it
    /// (the older oauth2 error in NetBird's format) as Docker returns it, one entry a line.
    #[test]
    fn reads_every_login_line_the_real_go_libraries_print() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/go-login-corpus.jsonl");
        let corpus = std::fs::read_to_string(&path).unwrap();
        let mut formats = std::collections::BTreeSet::new();
        let mut causes = std::collections::BTreeSet::new();
        let mut split = 0;
        for (n, rec) in corpus.lines().enumerate() {
            let rec: serde_json::Value = serde_json::from_str(rec).unwrap();
            let text = rec["line"].as_str().unwrap();
            formats.insert(rec["format"].as_str().unwrap().to_string());
            let entries: Vec<LogLine> = text
                .split('\n')
                .map(|l| line("2026-12-01T10:00:00.5Z", l))
                .collect();
            split += usize::from(entries.len() > 1);
            let f = scan(&entries, "");
            let cause = rec["cause"].as_str().unwrap();
            causes.insert(cause.to_string());
            if cause == "ok" {
                assert_eq!(f.logins.len(), 0, "line {n}: {text}");
                assert_eq!(f.logins_ok.len(), 1, "line {n}: {text}");
                assert_eq!(
                    f.logins_ok[0].connector,
                    rec["connector_id"].as_str().unwrap()
                );
                continue;
            }
            assert_eq!(f.logins.len(), 1, "line {n}: {text}");
            let l = &f.logins[0];
            assert_eq!(l.cause.word(), cause, "line {n}: {text}");
            assert_eq!(l.code, rec["code"].as_str().unwrap(), "line {n}: {text}");
            assert_eq!(
                l.connector.as_deref(),
                rec["connector_id"].as_str(),
                "line {n}"
            );
            assert_eq!(
                l.client_id.as_deref(),
                rec["client_id"].as_str(),
                "line {n}"
            );
            let types: Vec<&str> = rec["types"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t.as_str().unwrap())
                .collect();
            assert_eq!(l.types, types.as_slice(), "line {n}: {text}");
            assert!(f.failures.is_empty() && f.evidence.is_empty(), "line {n}");
        }
        assert_eq!(
            formats.into_iter().collect::<Vec<_>>(),
            ["dex-json", "dex-text", "json", "netbird", "text"]
        );
        assert_eq!(
            causes.into_iter().collect::<Vec<_>>(),
            [
                "clock_skew",
                "expired_secret",
                "ok",
                "redirect_mismatch",
                "wrong_secret"
            ]
        );
        assert!(split > 0, "the older oauth2 error splits NetBird's line");
    }

    /// What the real libraries print (tests/data/go-log-corpus.jsonl, made by the Go stand-in from go-oidc,
    /// logrus and encoding/json): every line reads back to exactly the issuers of its error, whole and as the
    /// Engine API returns a line longer than 16 KiB; a line whose issuer Go's url.Parse refused gives no
    /// evidence but a failure, quoted.
    #[test]
    fn reads_every_line_the_real_go_libraries_print() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/go-log-corpus.jsonl");
        let corpus = std::fs::read_to_string(&path).unwrap();
        let stamp = "2026-12-01T07:26:37.123456789Z ";
        let mut formats = std::collections::BTreeMap::new();
        let mut long = 0;
        for (n, rec) in corpus.lines().enumerate() {
            let rec: serde_json::Value = serde_json::from_str(rec).unwrap();
            let text = rec["line"].as_str().unwrap();
            *formats
                .entry(rec["format"].as_str().unwrap().to_string())
                .or_insert(0) += 1;
            let mut stamped = String::new();
            for (k, chunk) in text.as_bytes().chunks(DOCKER_PART).enumerate() {
                if k > 0 {
                    stamped.push_str(stamp);
                }
                stamped.push_str(&String::from_utf8_lossy(chunk));
            }
            let mut views = vec![text.to_string()];
            if text.len() > DOCKER_PART
                && (1..=text.len() / DOCKER_PART).all(|k| text.is_char_boundary(k * DOCKER_PART))
            {
                long += 1;
                views.push(stamped);
            }
            for v in views {
                let f = scan(&[line("2026-12-01T07:26:37.1Z", &v)], "");
                if rec["parse_error"].as_bool() == Some(true) {
                    assert!(f.evidence.is_empty(), "line {n}: {text}");
                    assert_eq!(f.failures.len(), 1, "line {n}: {text}");
                    continue;
                }
                assert_eq!(f.evidence.len(), 1, "line {n}: {text}");
                assert_eq!(
                    f.evidence[0].expected,
                    rec["expected"].as_str().unwrap(),
                    "line {n}"
                );
                assert_eq!(f.evidence[0].got, rec["got"].as_str().unwrap(), "line {n}");
                assert_eq!(
                    f.evidence[0].connector.as_deref(),
                    rec["connector_id"].as_str(),
                    "line {n}"
                );
            }
        }
        // Every format the libraries print is in the corpus, and so are lines the engine splits.
        assert_eq!(
            formats.keys().map(String::as_str).collect::<Vec<_>>(),
            ["json", "netbird", "text"]
        );
        assert!(long > 0);
    }
}
