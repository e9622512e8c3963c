//! Secrets never leave the process: every value of a secret-looking config field (collected from the rows
//! by [`crate::dex::secrets`]) is scrubbed from everything printed (report, notes, errors), whatever path it
//! took to get there. `--show-secrets` is the only way around it.

pub const REDACTED: &str = "[redacted]";

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
    use crate::dex::secrets::secrets_in;
    use crate::dex::{ConnectorRow, Storage};

    #[test]
    fn scrubs_nested_and_escaped_values() {
        let row = ConnectorRow {
            id: "x".into(),
            typ: "ldap".into(),
            name: "x".into(),
            resource_version: String::new(),
            config: Some(br#"{"bindPW":"p\"w<d>","nested":{"clientSecret":"s3cr3t-value"},"userIDKey":"email"}"#.to_vec()),
            storage: Storage::Blob,
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
