//! Which config fields hold secrets (clientSecret, bindPW, keystonePassword, tokens…), and their values in
//! a set of connector rows, so the report can scrub them from everything it prints.

use crate::dex::{jsonedit, ConnectorRow};

/// What a secret field's name holds somewhere (upper case), besides the names `KEY` and `CLIENTKEY`.
const HINTS: [&[u8]; 9] = [
    b"SECRET",
    b"PASSWORD",
    b"PASSWD",
    b"TOKEN",
    b"BINDPW",
    b"ASSERTION",
    b"PRIVATEKEY",
    b"APIKEY",
    b"CREDENTIAL",
];

/// Whether a config field holds a secret, with the key folded the way Go's encoding/json matches keys to
/// struct fields (so `clientſecret`, which Go reads as clientSecret, is one). Claim-mapping settings such
/// as userIDKey or emailKey name claims and are not secrets.
pub fn is_secret_field(name: &str) -> bool {
    if name.is_ascii() && name.len() <= 64 {
        // Compared in place, case-insensitively, only where a hint can start: each hint by its first
        // letter (`| 0x20` folds a letter's case and maps no other byte onto a letter).
        let b = name.as_bytes();
        let at = |i: usize, h: &[u8]| {
            b.get(i..i + h.len())
                .is_some_and(|w| w.eq_ignore_ascii_case(h))
        };
        return (0..b.len()).any(|i| match b[i] | 0x20 {
            b's' => at(i, b"SECRET"),
            b'p' => at(i, b"PASSWORD") || at(i, b"PASSWD") || at(i, b"PRIVATEKEY"),
            b't' => at(i, b"TOKEN"),
            b'b' => at(i, b"BINDPW"),
            b'a' => at(i, b"ASSERTION") || at(i, b"APIKEY"),
            b'c' => at(i, b"CREDENTIAL"),
            _ => false,
        }) || b.eq_ignore_ascii_case(b"KEY")
            || b.eq_ignore_ascii_case(b"CLIENTKEY");
    }
    // Go's folding maps only ASCII letters, ſ and the Kelvin sign onto ASCII; any other rune (ı and İ
    // included) stays non-ASCII.
    let mut buf = [0u8; 64];
    let mut long = Vec::new();
    let mut n = 0;
    for c in name.chars() {
        let f = jsonedit::go_fold(c);
        let b = if f.is_ascii() { f as u8 } else { 0x80 };
        if n < buf.len() {
            buf[n] = b;
        } else {
            if long.is_empty() {
                long.extend_from_slice(&buf);
            }
            long.push(b);
        }
        n += 1;
    }
    let folded: &[u8] = if long.is_empty() { &buf[..n] } else { &long };
    HINTS
        .iter()
        .any(|h| folded.windows(h.len()).any(|w| w == *h))
        || folded == b"KEY"
        || folded == b"CLIENTKEY"
}

/// The secrets of a set of connectors: every scalar under a secret-looking key, at any depth, read as
/// leniently as Go reads a config (invalid UTF-8, any nesting, even a broken document). Strings are the
/// text Go decodes; numbers their literal. `null`, `true` and `false` are no secrets.
pub fn secrets_in(rows: &[ConnectorRow]) -> Vec<String> {
    let mut out = Vec::new();
    for r in rows {
        if let Some(c) = r.config.as_deref() {
            collect(c, &mut out);
        }
    }
    finish(&mut out);
    out
}

/// The secrets of a config whose top-level fields are already read ([`jsonedit::top_level_fields`]), the
/// same values [`collect`] finds: a secret key's value whole, and the nested objects and arrays of the
/// other keys (their own keys may be secret); top-level scalars of other keys are not walked again.
pub fn collect_read(config: &[u8], fields: &[jsonedit::Field], out: &mut Vec<String>) {
    for f in fields {
        let Some(v) = config.get(f.value.clone()) else {
            continue;
        };
        if is_secret_field(&f.key) {
            jsonedit::scalars(v, &|_| true, &mut |raw, _| push_value(raw, out));
        } else if v.first() == Some(&b'{') || (v.first() == Some(&b'[') && v.contains(&b'{')) {
            // Only an object below has keys that may be secret: an array without a `{` byte anywhere
            // (such as `scopes`) holds none.
            collect(v, out);
        }
    }
}

/// `out` sorted longest first, without duplicates (the order [`secrets_in`] gives).
pub fn finish(out: &mut Vec<String>) {
    out.sort_unstable_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
    out.dedup();
}

/// One scalar's text as a secret: a string as Go decodes it, a number as written; not null or a boolean.
fn push_value(raw: &[u8], out: &mut Vec<String>) {
    if matches!(raw, b"null" | b"true" | b"false") {
        return;
    }
    let v = if raw.first() == Some(&b'"') {
        jsonedit::go_json_unquote(raw).unwrap_or_else(|| {
            String::from_utf8_lossy(raw.get(1..raw.len().saturating_sub(1)).unwrap_or(raw))
                .into_owned()
        })
    } else {
        String::from_utf8_lossy(raw).into_owned()
    };
    if !v.is_empty() {
        out.push(v);
    }
}

/// The secret values of one config, appended to `out`.
pub fn collect(config: &[u8], out: &mut Vec<String>) {
    jsonedit::scalars(config, &is_secret_field, &mut |raw, secret| {
        if secret {
            push_value(raw, out)
        }
    });
}

/// The config fields that hold a secret itself (not a path to a file that holds one), as Dex's Config
/// structs name them: `clientSecret` (every OAuth type; Crowd's application password), ldap's `bindPW`,
/// keystone's `keystonePassword`. A type has at most one.
pub const VALUE_FIELDS: [&str; 3] = ["clientSecret", "bindPW", "keystonePassword"];

/// The field of a connector type that holds its secret (None: the type has none, as saml, authproxy and
/// local have none).
pub fn value_field_of(typ: &str) -> Option<&'static str> {
    crate::dex::model::fields_of(typ)?
        .iter()
        .map(|(n, _)| *n)
        .find(|n| VALUE_FIELDS.contains(n))
}

/// The most a secret file may hold (only bounds the read).
pub const SECRET_FILE_MAX: u64 = 64 * 1024;

/// A new secret, read from a file or stdin. It has no `Display`, and its `Debug` shows no byte of it.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretValue(String);

impl std::fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretValue([redacted])")
    }
}

impl SecretValue {
    /// The secret in `data`, the bytes of a secret file: one trailing LF or CRLF dropped and nothing else
    /// (a secret may end in a space); then it must be one line of UTF-8 (Go's decoder would turn invalid
    /// bytes into U+FFFD, so Dex would send another secret) without control characters (no provider
    /// issues one; a stray CR or a second line is a mistake of the file). The error never quotes it.
    pub fn parse(data: &[u8]) -> Result<SecretValue, crate::verdict::UsageError> {
        use crate::verdict::UsageError;
        let line = data
            .strip_suffix(b"\r\n")
            .or_else(|| data.strip_suffix(b"\n"))
            .unwrap_or(data);
        if line.is_empty() {
            return Err(UsageError(
                "the secret file is empty; nothing was changed; write the new secret on its one line".into(),
            ));
        }
        if line.iter().any(|b| matches!(b, b'\r' | b'\n')) {
            return Err(UsageError(
                "the secret file holds more than one line (or a stray CR); nothing was changed; write the new secret alone on one line".into(),
            ));
        }
        let Ok(text) = std::str::from_utf8(line) else {
            return Err(UsageError(
                "the secret is not valid UTF-8 (Dex's JSON decoder would store another value); nothing was changed; write it as UTF-8 text".into(),
            ));
        };
        if text.chars().any(char::is_control) {
            return Err(UsageError(
                "the secret holds a control character (a NUL byte, a tab, an escape or the like), which no provider issues; nothing was changed; check the file".into(),
            ));
        }
        Ok(SecretValue(text.to_string()))
    }

    /// The secret, for the write, the provider and the report's scrub.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// How the report shows a secret: its length, never a byte or a digest of it.
    pub fn shown(s: &str) -> String {
        format!("(secret, {} bytes)", s.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_file_loses_one_line_end_and_nothing_else() {
        let read = |b: &[u8]| SecretValue::parse(b).map(|s| s.expose().to_string());
        assert_eq!(read(b"s3cr3t\n").unwrap(), "s3cr3t");
        assert_eq!(read(b"s3cr3t\r\n").unwrap(), "s3cr3t");
        assert_eq!(read(b"s3cr3t").unwrap(), "s3cr3t");
        assert_eq!(
            read(b" s3 cr3t \n").unwrap(),
            " s3 cr3t ",
            "spaces are kept"
        );
        assert_eq!(read("sé~<&>\"\\\n".as_bytes()).unwrap(), "sé~<&>\"\\");
        for bad in [
            &b""[..],
            b"\n",
            b"\r\n",
            b"s3cr3t\n\n",
            b"s3cr3t\r",
            b"a\nb\n",
            b"a\tb",
            b"a\x00b",
            b"\xff\xfe",
        ] {
            let e = SecretValue::parse(bad).unwrap_err().0;
            assert!(e.contains("nothing was changed"), "{bad:?}: {e}");
        }
        assert_eq!(
            format!("{:?}", SecretValue::parse(b"hunter2").unwrap()),
            "SecretValue([redacted])"
        );
        assert_eq!(SecretValue::shown("abc"), "(secret, 3 bytes)");
    }

    #[test]
    fn each_type_has_its_one_secret_field() {
        for (t, f) in [
            ("oidc", Some("clientSecret")),
            ("microsoft", Some("clientSecret")),
            ("atlassian-crowd", Some("clientSecret")),
            ("ldap", Some("bindPW")),
            ("keystone", Some("keystonePassword")),
            ("saml", None),
            ("authproxy", None),
            ("local", None),
        ] {
            assert_eq!(value_field_of(t), f, "{t}");
        }
    }

    #[test]
    fn secret_fields_and_claim_keys() {
        for f in [
            "clientSecret",
            "bindPW",
            "keystonePassword",
            "token",
            "clientAssertion",
            "key",
            "clientſecret",
            "CLIENTSECRET",
            "bindpw",
            "KEY",
        ] {
            assert!(is_secret_field(f), "{f}");
        }
        for f in [
            "userIDKey",
            "emailKey",
            "issuer",
            "clientID",
            "redirectURI",
            "groupsKey",
            "keys",
            "ıssuer",
        ] {
            assert!(!is_secret_field(f), "{f}");
        }
        assert!(!is_secret_field(&"x".repeat(200)));
        assert!(is_secret_field(&format!("{}Secret", "x".repeat(200))));
    }

    /// The ASCII path as it was (upper-cased into a buffer, then plain comparisons), for comparison.
    fn ascii_reference(name: &str) -> bool {
        let b = name.to_ascii_uppercase().into_bytes();
        HINTS.iter().any(|h| b.windows(h.len()).any(|w| w == *h))
            || b == b"KEY"
            || b == b"CLIENTKEY"
    }

    #[test]
    fn ascii_keys_as_the_reference_reads_them() {
        let hints = [
            "secret",
            "password",
            "passwd",
            "token",
            "bindpw",
            "assertion",
            "privatekey",
            "apikey",
            "credential",
            "key",
            "clientkey",
        ];
        let mut names: Vec<String> = Vec::new();
        for h in hints {
            for (pre, post) in [
                ("", ""),
                ("x", ""),
                ("", "x"),
                ("client", "Value"),
                ("_", "_"),
            ] {
                names.push(format!("{pre}{h}{post}"));
                names.push(format!("{pre}{}{post}", h.to_ascii_uppercase()));
                // Each letter changed once, and each prefix of the hint cut short.
                for i in 0..h.len() {
                    let mut m = h.as_bytes().to_vec();
                    m[i] ^= 0x20;
                    names.push(format!(
                        "{pre}{}{post}",
                        String::from_utf8(m.clone()).unwrap()
                    ));
                    m[i] = b'@';
                    names.push(format!("{pre}{}{post}", String::from_utf8(m).unwrap()));
                    names.push(format!("{pre}{}", &h[..i]));
                }
            }
        }
        names.extend(["", "a", "s", "S", "p", "{", "[", "@", "`", "3"].map(String::from));
        for n in &names {
            assert_eq!(is_secret_field(n), ascii_reference(n), "{n:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn any_ascii_key_as_the_reference_reads_it(
            v in proptest::collection::vec(proptest::sample::select(
                b"sSeEcCrRtTpPaAwWoOdDkKnNbBiIyYlLvVxX0_[{@`".to_vec()), 0..70)
        ) {
            let n = String::from_utf8(v).unwrap();
            // Past 64 bytes the general path reads it; the same answer either way.
            proptest::prop_assert_eq!(is_secret_field(&n), ascii_reference(&n));
        }
    }

    #[test]
    fn collects_like_go_reads() {
        // Invalid UTF-8, a folded key, a nested array under a secret key, a number, null, depth > 128.
        let deep = format!("{}1{}", "[".repeat(300), "]".repeat(300));
        let mut cfg = b"{\"clientSecret\":\"a".to_vec();
        cfg.push(0xff);
        cfg.extend_from_slice(
            format!(
                "b\",\"clientſecret\":\"\u{2028}x\",\"tokens\":[\"t1\",{{\"k\":\"t2\"}}],\"bindPW\":1234,\"password\":null,\"x\":{deep},\"issuer\":\"https://a\"}}"
            )
            .as_bytes(),
        );
        let mut out = Vec::new();
        collect(&cfg, &mut out);
        for want in ["a\u{fffd}b", "\u{2028}x", "t1", "t2", "1234"] {
            assert!(out.iter().any(|s| s == want), "{want:?} in {out:?}");
        }
        assert!(
            !out.iter().any(|s| s == "null" || s.contains("https")),
            "{out:?}"
        );
        // The pass over read fields finds the same.
        let fields = jsonedit::top_level_fields(&cfg).unwrap();
        let mut again = Vec::new();
        collect_read(&cfg, &fields, &mut again);
        finish(&mut out);
        finish(&mut again);
        assert_eq!(out, again);
        // A broken document still gives up its secrets.
        let mut out = Vec::new();
        collect(br#"{"clientSecret":"abc","x":[}"#, &mut out);
        assert_eq!(out, vec!["abc".to_string()]);
    }
}
