//! Reading the container's own logs for evidence: go-oidc's
//! `issuer did not match the issuer returned by provider, expected "X" got "Y"` (Go %q-quoted), the
//! connector it belongs to, other connector failures, and the line that says the server is up.
//! Works on NetBird's logrus text lines (any level, ANSI colour or not), logrus JSON and Dex's slog JSON.

use crate::engine::LogLine;
use crate::timefmt::parse_rfc3339;

const MISMATCH: &str = "issuer did not match the issuer returned by provider, expected ";
/// Lines that say the management server (or Dex) finished starting: every connector opened or was skipped.
const READY_TEXT: &[&str] = &["running HTTP server and gRPC server on the same port"];
const READY_JSON_MSG: &[&str] = &["listening on"];

/// Log lines stamped up to this long before the container's StartedAt still belong to that run: the engine
/// records StartedAt after the process is already writing.
pub const START_SLACK_NS: i128 = 1_000_000_000;

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
    pub ready: bool,
    /// Lines read (after the start filter).
    pub lines: usize,
}

/// Go's strconv.Unquote for a double-quoted string at the start of `s`; returns the value and the bytes used.
pub fn go_unquote(s: &str) -> Option<(String, usize)> {
    let b = s.as_bytes();
    if b.first() != Some(&b'"') {
        return None;
    }
    let mut out: Vec<u8> = Vec::new();
    let mut i = 1;
    let hex = |r: &[u8]| {
        std::str::from_utf8(r)
            .ok()
            .and_then(|h| u32::from_str_radix(h, 16).ok())
    };
    while i < b.len() {
        match b[i] {
            b'"' => return String::from_utf8(out).ok().map(|v| (v, i + 1)),
            b'\\' => {
                let e = *b.get(i + 1)?;
                i += 2;
                match e {
                    b'a' => out.push(7),
                    b'b' => out.push(8),
                    b'f' => out.push(12),
                    b'n' => out.push(b'\n'),
                    b'r' => out.push(b'\r'),
                    b't' => out.push(b'\t'),
                    b'v' => out.push(11),
                    b'\\' | b'"' | b'\'' => out.push(e),
                    b'x' => {
                        out.push(u8::try_from(hex(b.get(i..i + 2)?)?).ok()?);
                        i += 2;
                    }
                    b'0'..=b'7' => {
                        let oct = std::str::from_utf8(b.get(i - 1..i + 2)?).ok()?;
                        out.push(u8::try_from(u32::from_str_radix(oct, 8).ok()?).ok()?);
                        i += 2;
                    }
                    b'u' | b'U' => {
                        let n = if e == b'u' { 4 } else { 8 };
                        let c = char::from_u32(hex(b.get(i..i + n)?)?)?;
                        out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
                        i += n;
                    }
                    _ => return None,
                }
            }
            b'\n' => return None,
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    None
}

/// Removes ANSI colour sequences (ESC [ … letter).
fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars().peekable();
    while let Some(c) = it.next() {
        if c == '\u{1b}' && it.peek() == Some(&'[') {
            for d in it.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
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

/// A logrus text line's `[id: X, err: …]` field.
fn text_field_id(text: &str) -> Option<String> {
    let p = text.find("[id: ").or_else(|| text.find(", id: "))?;
    let rest = &text[p..];
    let rest = &rest[rest.find("id: ")? + 4..];
    let id: String = rest
        .chars()
        .take_while(|c| *c != ',' && *c != ']')
        .collect();
    (!id.is_empty()).then_some(id)
}

/// What one line says, after JSON decoding (the text to search, the id field, whether it is a ready line).
fn line_text(raw: &str) -> (String, Option<String>, bool) {
    let clean = strip_ansi(raw);
    let trimmed = clean.trim();
    if trimmed.starts_with('{') {
        if let Ok(serde_json::Value::Object(m)) = serde_json::from_str::<serde_json::Value>(trimmed)
        {
            let s = |k: &str| m.get(k).and_then(|v| v.as_str()).unwrap_or("").to_string();
            let msg = s("msg");
            let ready = READY_JSON_MSG.contains(&msg.as_str())
                || READY_TEXT.iter().any(|r| msg.contains(r));
            let id = m.get("id").and_then(|v| v.as_str()).map(String::from);
            return (format!("{msg}: {} {}", s("err"), s("error")), id, ready);
        }
    }
    let ready = READY_TEXT.iter().any(|r| trimmed.contains(r));
    let id = text_field_id(trimmed);
    (trimmed.to_string(), id, ready)
}

/// Reads the lines of one run of the container: those stamped at or after `started_at` (less the slack).
/// An empty or zero `started_at` (never started) keeps every line.
pub fn scan(lines: &[LogLine], started_at: &str) -> LogFindings {
    scan_since(
        lines,
        parse_rfc3339(started_at)
            .filter(|n| *n > 0)
            .map(|n| n - START_SLACK_NS),
    )
}

/// Reads the lines stamped after `after` (an engine timestamp of an earlier line), or all when None.
pub fn scan_after(lines: &[LogLine], after: Option<&str>) -> LogFindings {
    scan_since(lines, after.and_then(parse_rfc3339).map(|n| n + 1))
}

/// Reads the lines stamped at or after `since` (nanoseconds), or all when None.
fn scan_since(lines: &[LogLine], since: Option<i128>) -> LogFindings {
    let mut f = LogFindings::default();
    for l in lines {
        if let (Some(since), Some(t)) = (since, parse_rfc3339(&l.time)) {
            if t < since {
                continue;
            }
        }
        f.lines += 1;
        let (text, field_id, ready) = line_text(&l.text);
        f.ready |= ready;
        let connector = connector_in(&text).or(field_id);
        if let Some(p) = text.find(MISMATCH) {
            let rest = &text[p + MISMATCH.len()..];
            if let Some((expected, used)) = go_unquote(rest) {
                if let Some(got_q) = rest[used..].strip_prefix(" got ") {
                    if let Some((got, _)) = go_unquote(got_q) {
                        f.evidence.push(Evidence {
                            connector,
                            expected,
                            got,
                            time: l.time.clone(),
                        });
                        continue;
                    }
                }
            }
        }
        if text.contains("Failed to open connector")
            || text.contains("failed to open all connectors")
        {
            let message = text
                .find("failed to open connector: ")
                .map(|p| &text[p..])
                .unwrap_or(&text);
            let message: String = message.chars().take(300).collect();
            f.failures.push(OtherFailure {
                connector,
                message,
                time: l.time.clone(),
            });
        }
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
    fn ignores_lines_from_earlier_runs() {
        let f = scan(
            &[line("2026-01-19T08:00:00Z", FATL)],
            "2026-01-19T09:00:00Z",
        );
        assert!(f.evidence.is_empty());
        assert_eq!(f.lines, 0);
    }

    #[test]
    fn unquotes_go_escapes() {
        assert_eq!(
            go_unquote(r#""a\"b\\c\u00e9\x41\101\n" rest"#),
            Some(("a\"b\\céAA\n".to_string(), 25))
        );
        assert_eq!(
            go_unquote(r#""\U0001F600""#).map(|v| v.0),
            Some("😀".to_string())
        );
        assert_eq!(go_unquote(r#""unterminated"#), None);
        assert_eq!(go_unquote(r#""bad \q""#), None);
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
    }
}
