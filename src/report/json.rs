//! The report's JSON ([`Report::to_json`]): serde_json's for [`Report`]'s derived `Serialize`, with its
//! bulk (the connectors, 10,000 of them in a large store) written by hand ([`connectors`]): a string's
//! plain runs are found eight bytes at a time and copied at once ([`push_str`]) instead of serde_json's
//! test of every byte. The unit tests hold the hand-written part to what serde_json writes for
//! [`ConnectorView`].

use super::Report;
use crate::plan::ConnectorView;
use serde::Serialize;

/// `s` as serde_json writes a string, quotes included: `"`, `\` and the control characters below 0x20
/// escaped (`\b` `\t` `\n` `\f` `\r`, the others `\u00xx` in lower-case hex), everything else (DEL,
/// non-ASCII, `/`) as it is.
pub fn push_str(o: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    o.push('"');
    let b = s.as_bytes();
    let (mut i, mut copied) = (0, 0);
    loop {
        i = crate::dex::jsonedit::plain_run(b, i);
        let Some(&c) = b.get(i) else { break };
        // `c` is ASCII, so `i` and `i + 1` are char boundaries.
        o.push_str(&s[copied..i]);
        match c {
            b'"' => o.push_str("\\\""),
            b'\\' => o.push_str("\\\\"),
            0x08 => o.push_str("\\b"),
            b'\t' => o.push_str("\\t"),
            b'\n' => o.push_str("\\n"),
            0x0c => o.push_str("\\f"),
            b'\r' => o.push_str("\\r"),
            _ => {
                o.push_str("\\u00");
                o.push(char::from(HEX[usize::from(c >> 4)]));
                o.push(char::from(HEX[usize::from(c & 0xf)]));
            }
        }
        i += 1;
        copied = i;
    }
    o.push_str(&s[copied..]);
    o.push('"');
}

fn push_opt(o: &mut String, s: Option<&str>) {
    match s {
        Some(s) => push_str(o, s),
        None => o.push_str("null"),
    }
}

/// One connector, as its derived `Serialize` writes it.
fn push_connector(o: &mut String, c: &ConnectorView) {
    o.push_str("{\"id\":");
    push_str(o, &c.id);
    o.push_str(",\"type\":");
    push_str(o, &c.typ);
    o.push_str(",\"name\":");
    push_str(o, &c.name);
    o.push_str(",\"issuer\":");
    push_opt(o, c.issuer.as_deref());
    o.push_str(",\"status\":");
    push_str(o, c.status.as_str());
    if let Some(p) = &c.problem {
        o.push_str(",\"problem\":");
        push_str(o, p);
    }
    o.push_str(",\"endpoints\":{");
    for (n, (k, v)) in c.endpoints.iter().enumerate() {
        if n > 0 {
            o.push(',');
        }
        push_str(o, k);
        o.push(':');
        push_str(o, v);
    }
    o.push_str("},\"store\":");
    push_str(o, c.store);
    if let Some(f) = &c.file {
        o.push_str(",\"file\":");
        push_str(o, f);
    }
    if let Some(b) = &c.checked_by {
        o.push_str(",\"checked_by\":");
        push_str(o, b);
    }
    if let Some(s) = c.status_before {
        o.push_str(",\"status_before\":");
        push_str(o, s.as_str());
    }
    o.push('}');
}

/// The report's JSON: serde_json's, field by field as [`Report`] declares them, with one byte of room
/// left for the line end the caller adds.
///
/// serde_json writes everything but the connectors, which stand there as one placeholder string; the
/// connectors are then written by hand in its place, straight into the one output buffer (not through
/// serde_json's `RawValue`, which parses all of them again to check them: 30 M instructions for 10,000).
/// The placeholder is the string [`PLACEHOLDER`], which only it writes where serde_json's output holds it
/// exactly once; anything else (a report string that happens to be the placeholder) takes the way through
/// `RawValue`.
pub fn report(r: &Report) -> serde_json::Result<String> {
    let outline = {
        let _placeholder = Placeholder::set();
        serde_json::to_string(r)?
    };
    let at = {
        let mut hits = outline.match_indices(PLACEHOLDER_JSON);
        match (hits.next(), hits.next()) {
            (Some((at, _)), None) => at,
            _ => {
                let mut o = serde_json::to_string(r)?;
                o.reserve_exact(1);
                return Ok(o);
            }
        }
    };
    let (before, after) = (&outline[..at], &outline[at + PLACEHOLDER_JSON.len()..]);
    let mut o = String::with_capacity(before.len() + estimate(&r.connectors) + after.len() + 1);
    o.push_str(before);
    push_connectors(&mut o, &r.connectors);
    o.push_str(after);
    Ok(o)
}

/// What stands for the connectors in serde_json's pass of [`report`] (a NUL at each end: no report string
/// a run makes is this), and how serde_json writes it.
const PLACEHOLDER: &str = "\0ozrepair: the connectors\0";
const PLACEHOLDER_JSON: &str = "\"\\u0000ozrepair: the connectors\\u0000\"";

thread_local! {
    /// Set while [`report`]'s serde_json pass runs: [`connectors`] then writes [`PLACEHOLDER`].
    static WRITE_PLACEHOLDER: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// [`WRITE_PLACEHOLDER`] set until dropped.
struct Placeholder;

impl Placeholder {
    fn set() -> Placeholder {
        WRITE_PLACEHOLDER.with(|p| p.set(true));
        Placeholder
    }
}

impl Drop for Placeholder {
    fn drop(&mut self) {
        WRITE_PLACEHOLDER.with(|p| p.set(false));
    }
}

/// The length of the connectors' JSON when no string needs an escape (nearly always): what
/// [`push_connector`] writes, counted.
fn estimate(cs: &[ConnectorView]) -> usize {
    let s = |t: &str| t.len() + 2;
    let o = |t: Option<&str>| t.map_or(4, s);
    let per = |c: &ConnectorView| {
        "{\"id\":,\"type\":,\"name\":,\"issuer\":,\"status\":,\"endpoints\":{},\"store\":}".len()
            + s(&c.id)
            + s(&c.typ)
            + s(&c.name)
            + o(c.issuer.as_deref())
            + s(c.status.as_str())
            + c.problem
                .as_deref()
                .map_or(0, |p| ",\"problem\":".len() + s(p))
            + c.endpoints
                .iter()
                .map(|(k, v)| s(k) + 1 + s(v))
                .sum::<usize>()
            + c.endpoints.len().saturating_sub(1)
            + s(c.store)
            + c.file.as_deref().map_or(0, |f| ",\"file\":".len() + s(f))
            + c.checked_by.map_or(0, |b| ",\"checked_by\":".len() + s(b))
            + c.status_before
                .map_or(0, |b| ",\"status_before\":".len() + s(b.as_str()))
    };
    2 + cs.len().saturating_sub(1) + cs.iter().map(per).sum::<usize>()
}

/// The connectors' JSON array, appended to `o`.
fn push_connectors(o: &mut String, cs: &[ConnectorView]) {
    o.push('[');
    for (n, c) in cs.iter().enumerate() {
        if n > 0 {
            o.push(',');
        }
        push_connector(o, c);
    }
    o.push(']');
}

/// The connectors, written by hand (see the module) and handed to serde_json as they are; in [`report`]'s
/// pass, its placeholder.
pub fn connectors<S: serde::Serializer>(cs: &[ConnectorView], ser: S) -> Result<S::Ok, S::Error> {
    if WRITE_PLACEHOLDER.with(|p| p.get()) {
        return ser.serialize_str(PLACEHOLDER);
    }
    let mut o = String::with_capacity(estimate(cs));
    push_connectors(&mut o, cs);
    let raw = serde_json::value::RawValue::from_string(o).map_err(serde::ser::Error::custom)?;
    raw.serialize(ser)
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::plan::{Change, Source, Status, Store};
    use crate::report::{
        BackupListing, BackupPart, ContainerPart, DatabasePart, DiscoveryPart, PasswordChange,
        Trail,
    };
    use crate::verdict::Verdict;
    use proptest::prelude::*;

    fn serde_str(s: &str) -> String {
        serde_json::to_string(s).unwrap()
    }

    fn mine(s: &str) -> String {
        let mut o = String::new();
        push_str(&mut o, s);
        o
    }

    /// Every byte below 0x20 and the other bytes JSON or a terminal cares about, alone and in text.
    fn hostile() -> Vec<String> {
        let mut v: Vec<String> = (0u8..0x20).map(|b| char::from(b).to_string()).collect();
        let all_controls: String = (0u8..0x20).map(char::from).collect();
        v.extend(
            [
                "",
                "\"",
                "\\",
                "\\\"",
                "\"\\\"",
                "/",
                "</script>",
                "\u{7f}",
                "\u{80}",
                "\u{9f}",
                "é",
                "ṡecret-ünïcode",
                "\u{2028}\u{2029}",
                "\u{202e}bidi\u{2066}",
                "\u{feff}",
                "😀 emoji 🏳️‍🌈",
                "\u{10ffff}",
                "plain ascii text that is longer than eight bytes",
                "https://login.microsoftonline.com/3f1c2d4e/v2.0",
                "a\"b\\c\nd\re\tf\u{8}g\u{c}h\u{0}i\u{1f}j\u{7f}k",
                "12345678\"12345678\\1234567\n",
            ]
            .map(String::from),
        );
        v.push(all_controls.clone());
        v.push(format!("{all_controls}{all_controls}x\u{2028}y"));
        // A special byte at every offset of a word.
        for at in 0..17 {
            for c in [
                '"', '\\', '\n', '\u{1}', '\u{1f}', '\u{7f}', 'é', '\u{2028}',
            ] {
                v.push(format!("{}{c}{}", "x".repeat(at), "y".repeat(17 - at)));
            }
        }
        v
    }

    #[test]
    fn strings_are_escaped_as_serde_json_escapes_them() {
        for s in hostile() {
            assert_eq!(mine(&s), serde_str(&s), "{s:?}");
        }
    }

    proptest! {
        #[test]
        fn any_string_is_escaped_as_serde_json_escapes_it(s in any::<String>()) {
            prop_assert_eq!(mine(&s), serde_str(&s));
        }

        #[test]
        fn any_mix_of_special_characters(v in prop::collection::vec(
            prop::sample::select(vec![
                '"', '\\', '\n', '\r', '\t', '\u{8}', '\u{c}', '\u{0}', '\u{1}', '\u{1b}', '\u{1f}', ' ',
                'a', '/', '\u{7f}', '\u{80}', 'é', '\u{2028}', '\u{ffff}', '😀',
            ]),
            0..40,
        )) {
            let s: String = v.into_iter().collect();
            prop_assert_eq!(mine(&s), serde_str(&s));
        }
    }

    fn view(h: &str, n: usize) -> ConnectorView {
        ConnectorView {
            id: format!("{h}id{n}").into(),
            typ: format!("oidc{h}").into(),
            name: h.into(),
            issuer: n.is_multiple_of(2).then(|| format!("https://{h}/").into()),
            status: [Status::Ok, Status::Mismatch, Status::Unknown][n % 3],
            problem: n.is_multiple_of(3).then(|| format!("problem {h}")),
            endpoints: crate::plan::Endpoints::from_iter(
                (0..n % 4).map(|k| (format!("{h}key{k}").into(), format!("{h}value{k}"))),
            ),
            store: ["database", "static", "overlay"][n % 3],
            file: (n % 2 == 1).then(|| format!("/etc/{h}.json")),
            checked_by: n
                .is_multiple_of(2)
                .then_some("the provider's discovery document"),
            status_before: (n % 3 == 1).then_some(Status::Mismatch),
        }
    }

    /// A report with every field filled in (`full`) or left at its default.
    pub(crate) fn report_of(h: &str, full: bool) -> Report {
        let mut r = Report::make("inspect", Trail::default(), Verdict::healthy());
        r.connectors = (0..7).map(|n| view(h, n)).collect();
        if !full {
            return r;
        }
        r.command = format!("fix{h}");
        r.host = Some(format!("ssh://{h}"));
        r.runtime = Some(format!("docker{h}"));
        r.store = Some(format!("sqlite{h}"));
        r.container = Some(ContainerPart {
            name: h.into(),
            id: h.into(),
            state_before: h.into(),
            state_after: Some(h.into()),
            restart_count: -3,
        });
        r.database = Some(DatabasePart {
            path: h.into(),
            volume: Some(h.into()),
            sha256_before: Some(h.into()),
            sha256_after: None,
            dex_migrations: Some(11),
            schema: Some(h.into()),
        });
        r.changes = vec![
            Change {
                connector: h.into(),
                field: h.into(),
                from: h.into(),
                to: h.into(),
                source: Source::Logs,
                evidence: h.into(),
                store: Store::Database,
                hidden: None,
            },
            Change {
                connector: h.into(),
                field: h.into(),
                from: h.into(),
                to: h.into(),
                source: Source::Explicit,
                evidence: h.into(),
                store: Store::File {
                    file: h.into(),
                    at: h.into(),
                    path: Vec::new(),
                    kind: Default::default(),
                },
                hidden: None,
            },
        ];
        r.backup = Some(BackupPart {
            path: h.into(),
            sha256: h.into(),
            dir: h.into(),
        });
        r.error = Some(format!("error {h}"));
        r.located = vec![h.into(), String::new()];
        r.notes = vec![h.into()];
        r.discovery = vec![DiscoveryPart {
            connector: h.into(),
            published: Some(h.into()),
            error: None,
        }];
        r.login_failures = vec![crate::plan::logins::LoginView {
            connector: Some(h.into()),
            candidates: vec![h.into()],
            cause: "wrong_secret",
            code: h.into(),
            count: 3,
            last: h.into(),
            message: h.into(),
            repair: h.into(),
        }];
        r.backups = vec![BackupListing {
            dir: h.into(),
            created: h.into(),
            sha256: h.into(),
            size: 42,
            connectors: vec![h.into()],
        }];
        r.secret_change = Some(crate::report::SecretChange {
            connector: h.into(),
            field: h.into(),
            places: vec![h.into()],
            bytes: 40,
            applied: true,
            verified: "accepted",
            verify_request: Some(h.into()),
            verify_endpoint: Some(h.into()),
            verify_answer: Some(h.into()),
        });
        r.password_change = Some(PasswordChange {
            email: h.into(),
            user_id: h.into(),
            sessions_removed: 2,
            applied: true,
        });
        r
    }

    /// The connectors as [`connectors`] writes them by hand.
    fn by_hand(cs: &[ConnectorView]) -> String {
        let mut out = Vec::new();
        connectors(cs, &mut serde_json::Serializer::new(&mut out)).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn the_report_is_written_as_serde_json_writes_it() {
        for h in hostile() {
            for full in [false, true] {
                let r = report_of(&h, full);
                // The hand-written connectors are what serde_json writes for ConnectorView's derive.
                assert_eq!(
                    by_hand(&r.connectors),
                    serde_json::to_string(&r.connectors).unwrap(),
                    "{h:?} {full}"
                );
                // And the whole report is valid JSON that reads back to the same connectors.
                let v: serde_json::Value = serde_json::from_str(&report(&r).unwrap()).unwrap();
                assert_eq!(
                    v["connectors"],
                    serde_json::to_value(&r.connectors).unwrap(),
                    "{h:?} {full}"
                );
            }
        }
        let mut empty = report_of("x", false);
        empty.connectors.clear();
        assert_eq!(by_hand(&empty.connectors), "[]");
    }

    #[test]
    fn the_estimate_is_the_length_without_escapes() {
        for full in [false, true] {
            let r = report_of("plain", full);
            assert_eq!(estimate(&r.connectors), by_hand(&r.connectors).len());
        }
        assert_eq!(estimate(&[]), 2);
    }

    #[test]
    fn the_spliced_report_is_byte_for_byte_serde_jsons() {
        let mut cases: Vec<Report> = Vec::new();
        for h in hostile() {
            for full in [false, true] {
                cases.push(report_of(&h, full));
            }
        }
        // A report string that is the placeholder, or holds it, or two of them: the way through RawValue.
        for s in [
            PLACEHOLDER.to_string(),
            format!("x{PLACEHOLDER}x"),
            format!("{PLACEHOLDER}{PLACEHOLDER}"),
        ] {
            let mut r = report_of("p", true);
            r.error = Some(s.clone());
            cases.push(r);
            let mut r = report_of("p", false);
            r.connectors[0].name = s.as_str().into();
            r.notes = vec![s];
            cases.push(r);
        }
        let mut none = report_of("n", true);
        none.connectors.clear();
        cases.push(none);
        assert_eq!(
            serde_json::to_string(PLACEHOLDER).unwrap(),
            PLACEHOLDER_JSON
        );
        for r in &cases {
            let spliced = report(r).unwrap();
            // serde_json's own serialization of the whole report, the connectors through RawValue.
            assert_eq!(spliced, serde_json::to_string(r).unwrap());
            assert!(spliced.capacity() > spliced.len(), "room for the line end");
            assert!(!WRITE_PLACEHOLDER.with(|p| p.get()));
        }
    }
}
