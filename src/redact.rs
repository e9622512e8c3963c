//! Secrets never leave the process: every value of a secret-looking config field (clientSecret, bindPW,
//! keystonePassword, tokens…) is collected when the database is read, and scrubbed from everything printed
//! (report, notes, errors), whatever path it took to get there. `--show-secrets` is the only way around it.

use crate::store::ConnectorRow;

pub const REDACTED: &str = "[redacted]";

/// Whether a config field holds a secret. Claim-mapping settings such as userIDKey or emailKey name claims
/// and are not secrets.
pub fn is_secret_field(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    const HINTS: [&str; 9] = [
        "secret",
        "password",
        "passwd",
        "token",
        "bindpw",
        "assertion",
        "privatekey",
        "apikey",
        "credential",
    ];
    HINTS.iter().any(|h| n.contains(h)) || n == "key" || n == "clientkey"
}

fn collect(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, v) in m {
                match v {
                    serde_json::Value::String(s) if is_secret_field(k) && s.len() >= 4 => {
                        out.push(s.clone())
                    }
                    _ => collect(v, out),
                }
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|v| collect(v, out)),
        _ => {}
    }
}

/// The secret values in these connectors' configs, longest first.
pub fn secrets_in(rows: &[ConnectorRow]) -> Vec<String> {
    let mut out = Vec::new();
    for r in rows {
        if let Some(v) = r
            .config
            .as_deref()
            .and_then(|c| serde_json::from_slice::<serde_json::Value>(c).ok())
        {
            collect(&v, &mut out);
        }
    }
    out.sort_by_key(|s| std::cmp::Reverse(s.len()));
    out.dedup();
    out
}

/// `text` with every secret replaced by [redacted] (also in its JSON-escaped form). One pass over the text
/// whatever the number of secrets (Aho-Corasick, leftmost-longest), so a database with thousands of
/// connectors costs no more to print than one with a few.
pub fn scrub(text: &str, secrets: &[String]) -> String {
    let mut needles: Vec<String> = Vec::with_capacity(secrets.len() * 2);
    for s in secrets {
        needles.push(s.clone());
        let escaped = serde_json::to_string(s).unwrap_or_default();
        let inner = escaped.trim_matches('"');
        if inner != s {
            needles.push(inner.to_string());
        }
    }
    if needles.is_empty() {
        return text.to_string();
    }
    match aho_corasick::AhoCorasick::builder()
        .match_kind(aho_corasick::MatchKind::LeftmostLongest)
        .build(&needles)
    {
        Ok(ac) => ac.replace_all(text, &vec![REDACTED; needles.len()]),
        // Too many or too large to index: print nothing rather than risk a secret.
        Err(_) => "[output withheld: it could not be checked for secrets]\n".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_fields_and_claim_keys() {
        for f in [
            "clientSecret",
            "bindPW",
            "keystonePassword",
            "token",
            "clientAssertion",
            "key",
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
        ] {
            assert!(!is_secret_field(f), "{f}");
        }
    }

    #[test]
    fn scrubs_nested_and_escaped_values() {
        let row = ConnectorRow {
            id: "x".into(),
            typ: "ldap".into(),
            name: "x".into(),
            resource_version: String::new(),
            config: Some(br#"{"bindPW":"p\"w<d>","nested":{"clientSecret":"s3cr3t-value"},"userIDKey":"email"}"#.to_vec()),
            storage: "blob",
        };
        let secrets = secrets_in(&[row]);
        assert_eq!(
            secrets,
            vec!["s3cr3t-value".to_string(), "p\"w<d>".to_string()]
        );
        let text = r#"a s3cr3t-value b "p\"w<d>" email"#;
        assert_eq!(
            scrub(text, &secrets),
            r#"a [redacted] b "[redacted]" email"#
        );
    }
}
