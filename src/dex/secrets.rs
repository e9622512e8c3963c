//! Which config fields hold secrets (clientSecret, bindPW, keystonePassword, tokens…), and their values in
//! a set of connector rows, so the report can scrub them from everything it prints.

use crate::dex::ConnectorRow;

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
}
