//! A connector's config as Dex reads it: Go's encoding/json decoding the bytes into the `Config` struct of
//! the connector's type. Go matches each key to a field (exactly, else case-folded, see
//! [`jsonedit::key_matches`]), decodes every occurrence in order (the last one wins), ignores unknown
//! keys, and when one value has the wrong type it goes on but returns an error at the end, so Dex does not
//! open the connector. [`check`] finds such a value: an edit that leaves one would be reported fixed while
//! Dex still fails.
//!
//! Only fields whose Go type is certain are listed (Dex HEAD, docs in /work/shared/reference); unknown keys
//! and unlisted types are not checked, as Go ignores them too.

use crate::dex::jsonedit::{self, top_level_fields};

/// A Go field type, as far as JSON decoding cares.
#[derive(Debug, Clone, Copy)]
enum Go {
    /// `string` or `*string`: a string or null.
    Str,
    /// `bool` or `*bool`: true, false or null.
    Bool,
    /// `[]byte`: a base64 string (standard alphabet, padded) or null.
    Bytes,
    /// `[]string`: an array of strings (or nulls), or null.
    Strs,
    /// A struct: an object (its fields checked) or null.
    Obj(&'static [(&'static str, Go)]),
    /// A slice of structs: an array of objects (or nulls), or null.
    Objs(&'static [(&'static str, Go)]),
}
use Go::*;

const OIDC: &[(&str, Go)] = &[
    ("issuer", Str),
    ("issuerAlias", Str),
    ("clientID", Str),
    ("clientSecret", Str),
    ("redirectURI", Str),
    (
        "providerDiscoveryOverrides",
        Obj(&[
            ("tokenURL", Str),
            ("authURL", Str),
            ("jwksURL", Str),
            ("userInfoURL", Str),
        ]),
    ),
    ("basicAuthUnsupported", Bool),
    ("scopes", Strs),
    ("hostedDomains", Strs),
    ("rootCAs", Strs),
    ("insecureSkipEmailVerified", Bool),
    ("insecureEnableGroups", Bool),
    ("allowedGroups", Strs),
    ("acrValues", Strs),
    ("insecureSkipVerify", Bool),
    ("getUserInfo", Bool),
    ("userIDKey", Str),
    ("userNameKey", Str),
    ("promptType", Str),
    ("pkceChallenge", Str),
    ("overrideClaimMapping", Bool),
    (
        "claimMapping",
        Obj(&[("preferred_username", Str), ("email", Str), ("groups", Str)]),
    ),
];

const GITHUB: &[(&str, Go)] = &[
    ("clientID", Str),
    ("clientSecret", Str),
    ("redirectURI", Str),
    ("org", Str),
    ("orgs", Objs(&[("name", Str), ("teams", Strs)])),
    ("hostName", Str),
    ("rootCA", Str),
    ("teamNameField", Str),
    ("loadAllGroups", Bool),
    ("useLoginAsID", Bool),
    ("preferredEmailDomain", Str),
];

const LDAP: &[(&str, Go)] = &[
    ("host", Str),
    ("insecureNoSSL", Bool),
    ("insecureSkipVerify", Bool),
    ("startTLS", Bool),
    ("rootCA", Str),
    ("rootCAData", Bytes),
    ("clientCert", Str),
    ("clientKey", Str),
    ("bindDN", Str),
    ("bindPW", Str),
    ("usernamePrompt", Str),
    (
        "userSearch",
        Obj(&[
            ("baseDN", Str),
            ("filter", Str),
            ("username", Str),
            ("scope", Str),
            ("idAttr", Str),
            ("emailAttr", Str),
            ("nameAttr", Str),
            ("preferredUsernameAttr", Str),
            ("emailSuffix", Str),
        ]),
    ),
    (
        "groupSearch",
        Obj(&[
            ("baseDN", Str),
            ("filter", Str),
            ("scope", Str),
            ("userAttr", Str),
            ("groupAttr", Str),
            (
                "userMatchers",
                Objs(&[("userAttr", Str), ("groupAttr", Str)]),
            ),
            ("nameAttr", Str),
        ]),
    ),
];

const SAML: &[(&str, Go)] = &[
    ("ssoURL", Str),
    ("ssoIssuer", Str),
    ("entityIssuer", Str),
    ("ca", Str),
    ("caData", Bytes),
    ("insecureSkipSignatureValidation", Bool),
    ("usernameAttr", Str),
    ("emailAttr", Str),
    ("groupsAttr", Str),
    ("groupsDelim", Str),
    ("allowedGroups", Strs),
    ("filterGroups", Bool),
    ("redirectURI", Str),
    ("nameIDPolicyFormat", Str),
];

const OAUTH2: &[(&str, Go)] = &[
    ("clientID", Str),
    ("clientSecret", Str),
    ("redirectURI", Str),
];

const MICROSOFT: &[(&str, Go)] = &[
    ("clientID", Str),
    ("clientSecret", Str),
    ("redirectURI", Str),
    ("tenant", Str),
    ("onlySecurityGroups", Bool),
    ("groups", Strs),
    ("groupNameFormat", Str),
    ("useGroupsAsWhitelist", Bool),
    ("emailToLowercase", Bool),
    ("apiURL", Str),
    ("graphURL", Str),
    ("promptType", Str),
    ("domainHint", Str),
    ("scopes", Strs),
];

const GOOGLE: &[(&str, Go)] = &[
    ("clientID", Str),
    ("clientSecret", Str),
    ("redirectURI", Str),
    ("scopes", Strs),
    ("hostedDomains", Strs),
    ("groups", Strs),
    ("serviceAccountFilePath", Str),
    ("fetchTransitiveGroupMembership", Bool),
];

const GITLAB: &[(&str, Go)] = &[
    ("baseURL", Str),
    ("clientID", Str),
    ("clientSecret", Str),
    ("redirectURI", Str),
    ("groups", Strs),
    ("useLoginAsID", Bool),
];

const OPENSHIFT: &[(&str, Go)] = &[
    ("issuer", Str),
    ("clientID", Str),
    ("clientSecret", Str),
    ("redirectURI", Str),
    ("groups", Strs),
    ("insecureCA", Bool),
    ("rootCA", Str),
];

const KEYSTONE: &[(&str, Go)] = &[
    ("keystoneHost", Str),
    ("domain", Str),
    ("keystoneUsername", Str),
    ("keystonePassword", Str),
];

/// The fields of a connector type's Config struct; None for a type not modelled here.
fn fields_of(typ: &str) -> Option<&'static [(&'static str, Go)]> {
    Some(match typ {
        "oidc" => OIDC,
        "github" => GITHUB,
        "ldap" => LDAP,
        "saml" => SAML,
        "microsoft" => MICROSOFT,
        "google" => GOOGLE,
        "gitlab" => GITLAB,
        "openshift" => OPENSHIFT,
        "keystone" => KEYSTONE,
        "gitea" | "oauth" | "linkedin" | "bitbucket-cloud" | "atlassian-crowd" => OAUTH2,
        _ => return None,
    })
}

/// What a JSON value is, in Go's words.
fn kind(v: &[u8]) -> &'static str {
    match v.first() {
        Some(b'"') => "a string",
        Some(b'{') => "an object",
        Some(b'[') => "an array",
        Some(b't' | b'f') => "a boolean",
        Some(b'n') => "null",
        _ => "a number",
    }
}

fn expects(t: Go) -> &'static str {
    match t {
        Str => "a string",
        Bool => "true or false",
        Bytes => "a base64 string",
        Strs => "an array of strings",
        Obj(_) => "an object",
        Objs(_) => "an array of objects",
    }
}

/// Whether `s` (the decoded string) is standard, padded base64, as Go's `[]byte` decoding wants it.
fn is_base64(s: &str) -> bool {
    let b: Vec<u8> = s.bytes().filter(|c| !matches!(c, b'\r' | b'\n')).collect();
    if !b.len().is_multiple_of(4) {
        return false;
    }
    let pad = b.iter().rev().take_while(|&&c| c == b'=').count();
    pad <= 2
        && b[..b.len() - pad]
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'+' || *c == b'/')
}

/// Checks the (valid JSON) value `v` against `t`; the error names the path of the field.
fn check_value(v: &[u8], t: Go, path: &dyn Fn() -> String) -> Result<(), String> {
    if v == b"null" {
        return Ok(());
    }
    let wrong = || {
        Err(format!(
            "{} is {}, where Dex expects {}",
            path(),
            kind(v),
            expects(t)
        ))
    };
    match t {
        Str if v.first() == Some(&b'"') => Ok(()),
        Bool if v == b"true" || v == b"false" => Ok(()),
        Bytes if v.first() == Some(&b'"') => match jsonedit::go_json_unquote(v) {
            Some(s) if is_base64(&s) => Ok(()),
            _ => Err(format!(
                "{} is not valid base64, which Dex expects there",
                path()
            )),
        },
        Strs if v.first() == Some(&b'[') && all_strings(v) => Ok(()),
        Strs if v.first() == Some(&b'[') => {
            for (i, e) in elements(v).iter().enumerate() {
                check_value(&v[e.clone()], Str, &|| format!("{}[{i}]", path()))?;
            }
            Ok(())
        }
        Objs(fields) if v.first() == Some(&b'[') => {
            for (i, e) in elements(v).iter().enumerate() {
                check_value(&v[e.clone()], Obj(fields), &|| format!("{}[{i}]", path()))?;
            }
            Ok(())
        }
        Obj(fields) if v.first() == Some(&b'{') => check_object(v, fields, &format!("{}.", path())),
        _ => wrong(),
    }
}

/// Checks every member of the object `v` whose key Go would decode into one of `fields`.
fn check_object(v: &[u8], fields: &[(&str, Go)], prefix: &str) -> Result<(), String> {
    let members = top_level_fields(v).map_err(|e| e.to_string())?;
    check_members(v, &members, fields, prefix)
}

fn check_members(
    v: &[u8],
    members: &[jsonedit::Field],
    fields: &[(&str, Go)],
    prefix: &str,
) -> Result<(), String> {
    for m in members {
        // Go prefers an exact match of the key, then a case-folded one (the names here fold apart, so
        // there is at most one). The names are ASCII: an ASCII key matches at the same length only.
        let ascii = m.key.is_ascii();
        let field = fields.iter().find(|(n, _)| {
            if ascii {
                m.key.len() == n.len() && m.key.eq_ignore_ascii_case(n)
            } else {
                jsonedit::key_matches(&m.key, n)
            }
        });
        if let Some((name, t)) = field {
            let value = &v[m.value.clone()];
            // The common case needs no path: a string, a boolean or null where one is expected.
            let plain = matches!(
                (t, value.first()),
                (_, Some(b'n')) | (Str, Some(b'"')) | (Bool, Some(b't' | b'f'))
            );
            if !plain {
                let path = || {
                    if m.key == *name {
                        format!("{prefix}{name}")
                    } else {
                        format!("{prefix}{name} (key {:?})", m.key)
                    }
                };
                check_value(value, *t, &path)?;
            }
        }
    }
    Ok(())
}

/// Whether every element of the (valid JSON) array `v` is a string or null, the common case of a `[]string`
/// field, told without splitting the array.
fn all_strings(v: &[u8]) -> bool {
    let ws = |b: &u8| matches!(b, b' ' | b'\t' | b'\n' | b'\r');
    let mut i = 1;
    loop {
        while v.get(i).is_some_and(ws) {
            i += 1;
        }
        match v.get(i) {
            Some(b']') => return true,
            Some(b'"') => i = jsonedit::string_end(v, i),
            Some(b'n') if v[i..].starts_with(b"null") => i += 4,
            _ => return false,
        }
        while v.get(i).is_some_and(ws) {
            i += 1;
        }
        match v.get(i) {
            Some(b',') => i += 1,
            Some(b']') => return true,
            _ => return false,
        }
    }
}

fn elements(v: &[u8]) -> Vec<std::ops::Range<usize>> {
    jsonedit::array_elements(v)
}

/// Whether Go's encoding/json decodes `config` into the Config struct of connector type `typ` without an
/// error; the error says which field has which wrong type. A type this build does not model passes.
pub fn check(typ: &str, config: &[u8]) -> Result<(), String> {
    let Some(fields) = fields_of(typ) else {
        return Ok(());
    };
    check_object(config, fields, "")
}

/// [`check`] for a config whose top-level fields are already read ([`top_level_fields`]).
pub fn check_read(typ: &str, config: &[u8], members: &[jsonedit::Field]) -> Result<(), String> {
    match fields_of(typ) {
        Some(fields) => check_members(config, members, fields, ""),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_errors_anywhere_make_the_config_undecodable() {
        for (cfg, says) in [
            (r#"{"issuer":5,"issuer":"https://a"}"#, "issuer is a number"),
            (
                r#"{"issuer":{"x":1},"issuer":"https://a"}"#,
                "issuer is an object",
            ),
            (
                r#"{"Issuer":"https://a","issuer":["https://b"]}"#,
                "issuer is an array",
            ),
            (
                r#"{"issuer":"https://a","clientID":7}"#,
                "clientID is a number",
            ),
            (
                r#"{"issuer":"https://a","scopes":"openid"}"#,
                "scopes is a string",
            ),
            (r#"{"issuer":"https://a","scopes":[1]}"#, "scopes[0]"),
            (
                r#"{"issuer":"https://a","insecureSkipVerify":"yes"}"#,
                "insecureSkipVerify",
            ),
            (
                r#"{"issuer":"https://a","claimMapping":{"email":false}}"#,
                "claimMapping.email",
            ),
            ("{\"iſſuer\":5,\"issuer\":\"https://a\"}", "issuer (key"),
            ("{\"\u{212a}ey\":1,\"clientID\":\"x\"}", ""),
        ] {
            let r = check("oidc", cfg.as_bytes());
            if says.is_empty() {
                assert!(r.is_ok(), "{cfg}: {r:?}");
            } else {
                let e = r.expect_err(cfg);
                assert!(e.contains(says), "{cfg}: {e}");
            }
        }
    }

    #[test]
    fn what_go_accepts() {
        for cfg in [
            r#"{"issuer":"https://a","clientID":null,"scopes":["openid",null],"unknown":{"x":[1]}}"#,
            r#"{"issuer":null,"basicAuthUnsupported":true,"claimMapping":null}"#,
            r#"{}"#,
        ] {
            assert_eq!(check("oidc", cfg.as_bytes()), Ok(()), "{cfg}");
        }
        assert!(check("ldap", br#"{"rootCAData":"aGk="}"#).is_ok());
        assert!(check("ldap", br#"{"rootCAData":"not base64!"}"#).is_err());
        assert!(check("github", br#"{"orgs":[{"name":"a","teams":["b"]}]}"#).is_ok());
        assert!(check("github", br#"{"orgs":["a"]}"#).is_err());
        assert!(check("somethingelse", br#"{"issuer":5}"#).is_ok());
    }
}
