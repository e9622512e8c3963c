//! A connector's config as Dex reads it: Go's encoding/json decoding the bytes into the `Config` struct of
//! the connector's type (Dex's `openConnector`). What Go does, and so what this model does:
//! - an empty config (NULL or zero bytes) is not decoded at all: Dex opens the zero Config (every field
//!   empty, issuer `""`); so does the JSON `null`;
//! - anything else must be one JSON document (trailing data is an error) whose top level is an object;
//! - each key matches a field exactly, else folded ([`jsonedit::key_matches`]: Go's `foldName`, the
//!   smallest rune of each rune's `unicode.SimpleFold` orbit); unknown keys are ignored, at any depth;
//! - every occurrence is decoded in document order: for a scalar the last one wins, a `null` leaves a
//!   string, bool, number or struct as it was (a pointer, slice or map it sets to nil), a struct given
//!   twice is merged field by field, a slice is replaced;
//! - a value of the wrong type (a number for a string, a string for a bool or a `[]string`, a fraction or
//!   an out-of-range number for an int, text that is not base64 for a `[]byte`) does not stop the decoder,
//!   but it returns an error at the end, and Dex does not open the connector (`parse connector config: …`);
//! - invalid UTF-8 and lone surrogates in strings become U+FFFD.
//!
//! [`check`] finds such a wrong value (an edit that leaves one would be reported fixed while Dex still
//! fails); [`decode`] also gives the value Dex reads for each string field outside slices and maps.
//!
//! The types are Dex's connector `Config` structs (Dex v2.45.1, plus the fields Dex master adds: the
//! oidc discovery overrides `userInfoURL`, `deviceAuthURL`, `endSessionURL`, ldap's `kerberos`, gitlab's
//! `inheritedGroups`, microsoft's `clientAssertion`, `batchGroupLookups`, `preferredUsernameField`,
//! bitbucket-cloud's `getWorkspacePermissions`), from /work/shared/reference (stores-hosts-and-dex-types.md
//! §3). The Go checker in the tests (`standin-go dexconfig`, tests/standin-go) holds the same types as Go
//! structs; the test `go_checker::the_model_has_the_go_checkers_types` compares the two, and the
//! differential test compares their answers.

use crate::dex::jsonedit::{self, top_level_fields, ConfigError};
use std::collections::BTreeMap;

/// A Go type, as far as encoding/json decoding cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Go {
    /// `string` (or a string type): a string.
    Str,
    /// `bool`: true or false.
    Bool,
    /// `intN`: a JSON number that `strconv.ParseInt` reads and that fits in N bits (`int` is 64).
    Int(u32),
    /// `uintN`: a JSON number that `strconv.ParseUint` reads and that fits in N bits.
    Uint(u32),
    /// `[]byte`: a base64 string (standard alphabet, padded; CR and LF skipped), or an array of numbers
    /// from 0 to 255 (encoding/json decodes an array into any slice).
    Bytes,
    /// A slice: an array, each element decoded as the element type.
    Slice(&'static Go),
    /// A struct: an object, its keys matched to these fields (JSON name, type), in declaration order.
    Struct(&'static [(&'static str, Go)]),
    /// `map[string]T`: an object, each value decoded as T.
    Map(&'static Go),
    /// A pointer: decoded as its element (`null` sets it to nil instead of leaving it).
    Ptr(&'static Go),
}
use Go::*;

/// `[]string`.
const STRS: Go = Slice(&Str);

const OIDC: &[(&str, Go)] = &[
    ("issuer", Str),
    ("issuerAlias", Str),
    ("clientID", Str),
    ("clientSecret", Str),
    ("redirectURI", Str),
    (
        "providerDiscoveryOverrides",
        Struct(&[
            ("tokenURL", Str),
            ("authURL", Str),
            ("jwksURL", Str),
            ("userInfoURL", Str),
            ("deviceAuthURL", Str),
            ("endSessionURL", Str),
        ]),
    ),
    ("basicAuthUnsupported", Ptr(&Bool)),
    ("scopes", STRS),
    ("hostedDomains", STRS),
    ("rootCAs", STRS),
    ("insecureSkipEmailVerified", Bool),
    ("insecureEnableGroups", Bool),
    ("allowedGroups", STRS),
    ("acrValues", STRS),
    ("insecureSkipVerify", Bool),
    ("getUserInfo", Bool),
    ("userIDKey", Str),
    ("userNameKey", Str),
    ("promptType", Ptr(&Str)),
    ("pkceChallenge", Str),
    ("overrideClaimMapping", Bool),
    (
        "claimMapping",
        Struct(&[("preferred_username", Str), ("email", Str), ("groups", Str)]),
    ),
    (
        "claimModifications",
        Struct(&[
            (
                "newGroupFromClaims",
                Slice(&Struct(&[
                    ("claims", STRS),
                    ("delimiter", Str),
                    ("clearDelimiter", Bool),
                    ("prefix", Str),
                ])),
            ),
            ("filterGroupClaims", Struct(&[("groupsFilter", Str)])),
            (
                "modifyGroupNames",
                Struct(&[("prefix", Str), ("suffix", Str)]),
            ),
        ]),
    ),
];

const OAUTH: &[(&str, Go)] = &[
    ("clientID", Str),
    ("clientSecret", Str),
    ("redirectURI", Str),
    ("tokenURL", Str),
    ("authorizationURL", Str),
    ("userInfoURL", Str),
    ("scopes", STRS),
    ("rootCAs", STRS),
    ("insecureSkipVerify", Bool),
    ("userIDKey", Str),
    (
        "claimMapping",
        Struct(&[
            ("userNameKey", Str),
            ("preferredUsernameKey", Str),
            ("groupsKey", Str),
            ("emailKey", Str),
            ("emailVerifiedKey", Str),
        ]),
    ),
];

/// github's and gitea's `Org`.
const ORGS: Go = Slice(&Struct(&[("name", Str), ("teams", STRS)]));

const GITHUB: &[(&str, Go)] = &[
    ("clientID", Str),
    ("clientSecret", Str),
    ("redirectURI", Str),
    ("org", Str),
    ("orgs", ORGS),
    ("hostName", Str),
    ("rootCA", Str),
    ("teamNameField", Str),
    ("loadAllGroups", Bool),
    ("useLoginAsID", Bool),
    ("preferredEmailDomain", Str),
];

const GITLAB: &[(&str, Go)] = &[
    ("baseURL", Str),
    ("clientID", Str),
    ("clientSecret", Str),
    ("redirectURI", Str),
    ("groups", STRS),
    ("useLoginAsID", Bool),
    ("getGroupsPermission", Bool),
    ("rootCAData", Bytes),
    ("inheritedGroups", Bool),
];

const GOOGLE: &[(&str, Go)] = &[
    ("clientID", Str),
    ("clientSecret", Str),
    ("redirectURI", Str),
    ("scopes", STRS),
    ("hostedDomains", STRS),
    ("groups", STRS),
    ("serviceAccountFilePath", Str),
    // No JSON tags: the keys are the Go names (matched case-insensitively like any other).
    ("AdminEmail", Str),
    ("DomainToAdminEmail", Map(&Str)),
    ("fetchTransitiveGroupMembership", Bool),
    ("promptType", Ptr(&Str)),
];

const MICROSOFT: &[(&str, Go)] = &[
    ("clientID", Str),
    ("clientSecret", Str),
    ("clientAssertion", Str),
    ("redirectURI", Str),
    ("tenant", Str),
    ("onlySecurityGroups", Bool),
    ("groups", STRS),
    ("groupNameFormat", Str),
    ("useGroupsAsWhitelist", Bool),
    ("emailToLowercase", Bool),
    ("batchGroupLookups", Bool),
    ("apiURL", Str),
    ("graphURL", Str),
    // A plain string here, a pointer in oidc and google.
    ("promptType", Str),
    ("domainHint", Str),
    ("scopes", STRS),
    ("preferredUsernameField", Str),
];

const LDAP: &[(&str, Go)] = &[
    ("host", Str),
    ("insecureNoSSL", Bool),
    ("insecureSkipVerify", Bool),
    ("startTLS", Bool),
    ("rootCA", Str),
    ("clientCert", Str),
    ("clientKey", Str),
    ("rootCAData", Bytes),
    ("bindDN", Str),
    ("bindPW", Str),
    ("usernamePrompt", Str),
    (
        "kerberos",
        Ptr(&Struct(&[
            ("enabled", Bool),
            ("keytabPath", Str),
            ("spn", Str),
            ("keytabPrincipal", Str),
            ("maxClockSkew", Int(64)),
            ("expectedRealm", Str),
            ("usernameFromPrincipal", Str),
            ("fallbackToPassword", Bool),
        ])),
    ),
    (
        "userSearch",
        Struct(&[
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
        Struct(&[
            ("baseDN", Str),
            ("filter", Str),
            ("scope", Str),
            ("userAttr", Str),
            ("groupAttr", Str),
            ("recursionGroupAttr", Str),
            (
                "userMatchers",
                Slice(&Struct(&[
                    ("userAttr", Str),
                    ("groupAttr", Str),
                    ("recursionGroupAttr", Str),
                ])),
            ),
            ("nameAttr", Str),
        ]),
    ),
];

const SAML: &[(&str, Go)] = &[
    ("entityIssuer", Str),
    ("ssoIssuer", Str),
    ("ssoURL", Str),
    ("ca", Str),
    ("caData", Bytes),
    ("insecureSkipSignatureValidation", Bool),
    ("usernameAttr", Str),
    ("emailAttr", Str),
    ("groupsAttr", Str),
    ("groupsDelim", Str),
    ("allowedGroups", STRS),
    ("filterGroups", Bool),
    ("redirectURI", Str),
    ("nameIDPolicyFormat", Str),
];

const OPENSHIFT: &[(&str, Go)] = &[
    ("issuer", Str),
    ("clientID", Str),
    ("clientSecret", Str),
    ("redirectURI", Str),
    ("groups", STRS),
    ("insecureCA", Bool),
    ("rootCA", Str),
];

const BITBUCKET_CLOUD: &[(&str, Go)] = &[
    ("clientID", Str),
    ("clientSecret", Str),
    ("redirectURI", Str),
    ("teams", STRS),
    ("includeTeamGroups", Bool),
    ("getWorkspacePermissions", Bool),
];

const GITEA: &[(&str, Go)] = &[
    ("baseURL", Str),
    ("clientID", Str),
    ("clientSecret", Str),
    ("redirectURI", Str),
    ("orgs", ORGS),
    ("loadAllGroups", Bool),
    ("useLoginAsID", Bool),
];

const LINKEDIN: &[(&str, Go)] = &[
    ("clientID", Str),
    ("clientSecret", Str),
    ("redirectURI", Str),
];

const KEYSTONE: &[(&str, Go)] = &[
    ("domain", Str),
    ("keystoneHost", Str),
    ("keystoneUsername", Str),
    ("keystonePassword", Str),
];

const AUTHPROXY: &[(&str, Go)] = &[
    ("userIDHeader", Str),
    ("userHeader", Str),
    ("userNameHeader", Str),
    ("emailHeader", Str),
    ("groupHeader", Str),
    ("groupHeaderSeparator", Str),
    ("staticGroups", STRS),
];

const ATLASSIAN_CROWD: &[(&str, Go)] = &[
    ("baseURL", Str),
    ("clientID", Str),
    ("clientSecret", Str),
    ("groups", STRS),
    ("preferredUsernameField", Str),
    ("usernamePrompt", Str),
];

const MOCK_PASSWORD: &[(&str, Go)] = &[("username", Str), ("password", Str)];

/// Every connector type Dex has a config struct for (its registry, `server.ConnectorsConfig`); the
/// built-in `local` connector has none (Dex never decodes its config).
pub const TYPES: [&str; 18] = [
    "atlassian-crowd",
    "authproxy",
    "bitbucket-cloud",
    "gitea",
    "github",
    "gitlab",
    "google",
    "keystone",
    "ldap",
    "linkedin",
    "microsoft",
    "mockCallback",
    "mockPassword",
    "oauth",
    "oidc",
    "openshift",
    "saml",
    "samlExperimental",
];

/// The fields of a connector type's Config struct; None for a type Dex has no config struct for (`local`,
/// or a type Dex does not know).
pub fn fields_of(typ: &str) -> Option<&'static [(&'static str, Go)]> {
    Some(match typ {
        "oidc" => OIDC,
        "oauth" => OAUTH,
        "github" => GITHUB,
        "gitlab" => GITLAB,
        "google" => GOOGLE,
        "microsoft" => MICROSOFT,
        "ldap" => LDAP,
        "saml" | "samlExperimental" => SAML,
        "openshift" => OPENSHIFT,
        "bitbucket-cloud" => BITBUCKET_CLOUD,
        "gitea" => GITEA,
        "linkedin" => LINKEDIN,
        "keystone" => KEYSTONE,
        "authproxy" => AUTHPROXY,
        "atlassian-crowd" => ATLASSIAN_CROWD,
        "mockCallback" => &[],
        "mockPassword" => MOCK_PASSWORD,
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

fn expects(t: Go) -> String {
    match t {
        Str => "a string".into(),
        Bool => "true or false".into(),
        Int(bits) => format!(
            "a whole number from {} to {} (Go int{bits})",
            int_min(bits),
            int_max(bits)
        ),
        Uint(bits) => format!(
            "a whole number from 0 to {} (Go uint{bits})",
            uint_max(bits)
        ),
        Bytes => "a base64 string".into(),
        Slice(Str) => "an array of strings".into(),
        Slice(Struct(_)) => "an array of objects".into(),
        Slice(_) => "an array".into(),
        Struct(_) => "an object".into(),
        Map(_) => "an object".into(),
        Ptr(t) => expects(*t),
    }
}

fn int_min(bits: u32) -> i128 {
    -(1i128 << (bits.clamp(1, 64) - 1))
}

fn int_max(bits: u32) -> i128 {
    (1i128 << (bits.clamp(1, 64) - 1)) - 1
}

fn uint_max(bits: u32) -> u128 {
    (1u128 << bits.clamp(1, 64)) - 1
}

/// The whole number a JSON number literal is, as strconv.ParseInt / ParseUint (base 10) read it: an
/// optional `-` (ParseInt only) and digits; None for a fraction, an exponent or more than 128 bits.
fn whole(lit: &[u8], signed: bool) -> Option<i128> {
    let (neg, digits) = match lit.split_first() {
        Some((b'-', rest)) if signed => (true, rest),
        _ => (false, lit),
    };
    if digits.is_empty() || digits.len() > 38 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n: i128 = std::str::from_utf8(digits).ok()?.parse().ok()?;
    Some(if neg { -n } else { n })
}

/// Whether `s` (the decoded string) is standard, padded base64, as Go's `[]byte` decoding wants it
/// (`base64.StdEncoding.Decode`, which skips CR and LF).
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
        Ptr(inner) => check_value(v, *inner, path),
        Str if v.first() == Some(&b'"') => Ok(()),
        Bool if v == b"true" || v == b"false" => Ok(()),
        Int(bits) | Uint(bits) if matches!(v.first(), Some(b'-' | b'0'..=b'9')) => {
            let signed = matches!(t, Int(_));
            let fits = whole(v, signed).is_some_and(|n| {
                if signed {
                    (int_min(bits)..=int_max(bits)).contains(&n)
                } else {
                    n >= 0 && (n as u128) <= uint_max(bits)
                }
            });
            if fits {
                Ok(())
            } else {
                Err(format!("{} is a number that is not {}", path(), expects(t)))
            }
        }
        Bytes if v.first() == Some(&b'"') => match jsonedit::go_json_unquote(v) {
            Some(s) if is_base64(&s) => Ok(()),
            _ => Err(format!(
                "{} is not valid base64, which Dex expects there",
                path()
            )),
        },
        Bytes if v.first() == Some(&b'[') => {
            for (i, e) in jsonedit::array_elements(v).iter().enumerate() {
                check_value(&v[e.clone()], Uint(8), &|| format!("{}[{i}]", path()))?;
            }
            Ok(())
        }
        Slice(Str) if v.first() == Some(&b'[') && all_strings(v) => Ok(()),
        Slice(elem) if v.first() == Some(&b'[') => {
            for (i, e) in jsonedit::array_elements(v).iter().enumerate() {
                check_value(&v[e.clone()], *elem, &|| format!("{}[{i}]", path()))?;
            }
            Ok(())
        }
        Struct(fields) if v.first() == Some(&b'{') => {
            let members = top_level_fields(v).map_err(|e| e.to_string())?;
            check_members(v, &members, fields, &format!("{}.", path()))
        }
        Map(elem) if v.first() == Some(&b'{') => {
            let members = top_level_fields(v).map_err(|e| e.to_string())?;
            for m in &members {
                let value = &v[m.value.clone()];
                check_value(value, *elem, &|| format!("{}[{:?}]", path(), m.key))?;
            }
            Ok(())
        }
        _ => wrong(),
    }
}

/// The field a key decodes into: Go prefers an exact match of the key, then a folded one (the names of
/// one struct fold apart, so there is at most one). The names are ASCII: an ASCII key matches one only
/// case-insensitively at the same length.
fn field_of<'f>(key: &str, fields: &'f [(&'static str, Go)]) -> Option<&'f (&'static str, Go)> {
    if key.is_ascii() {
        fields
            .iter()
            .find(|(n, _)| key.len() == n.len() && key.eq_ignore_ascii_case(n))
    } else {
        fields.iter().find(|(n, _)| jsonedit::key_matches(key, n))
    }
}

fn check_members(
    v: &[u8],
    members: &[jsonedit::Field],
    fields: &[(&'static str, Go)],
    prefix: &str,
) -> Result<(), String> {
    for m in members {
        let Some((name, t)) = field_of(&m.key, fields) else {
            continue;
        };
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

/// Whether Dex reads `config` as its type's zero Config: the config is NULL, empty (Dex does not decode
/// it) or the JSON `null` (Go decodes it to nothing).
/// NULL, empty or the JSON null: Dex decodes nothing into the type's config (it decodes only a config
/// of non-zero length, and Go's decoder leaves a struct as it is for `null`), whatever the type.
pub fn is_zero(config: Option<&[u8]>) -> bool {
    config.is_none_or(|c| c.is_empty() || json_trim(c) == b"null")
}

/// `b` without JSON's white space (space, tab, CR, LF) around it.
fn json_trim(b: &[u8]) -> &[u8] {
    let ws = |c: &u8| matches!(c, b' ' | b'\t' | b'\n' | b'\r');
    let start = b.iter().position(|c| !ws(c)).unwrap_or(b.len());
    let end = b.iter().rposition(|c| !ws(c)).map_or(start, |i| i + 1);
    &b[start..end]
}

/// What Dex sees in a config it reads as the zero Config (see [`is_zero`]), for a type it decodes: the
/// problem to report. None for any other config, and for `local` and types Dex does not know.
pub fn zero_config(typ: &str, config: Option<&[u8]>) -> Option<String> {
    let fields = fields_of(typ)?;
    if !is_zero(config) {
        return None;
    }
    let what = match config {
        None => "NULL: Dex decodes nothing",
        Some([]) => "empty (0 bytes): Dex decodes nothing",
        Some(_) => "the JSON null: Go decodes it to nothing",
    };
    let issuer = if fields.iter().any(|(n, _)| *n == "issuer") {
        " (issuer \"\")"
    } else {
        ""
    };
    Some(format!(
        "its config is {what}, so Dex opens the connector with every field empty{issuer}"
    ))
}

/// The top level of a config Go decodes into a struct: its members, or why Go refuses it.
fn members_of(config: &[u8]) -> Result<Vec<jsonedit::Field<'_>>, String> {
    match top_level_fields(config) {
        Ok(m) => Ok(m),
        Err(ConfigError::NotObject) => Err(format!(
            "config is JSON but not an object: {}, which Go cannot decode into a struct",
            kind(json_trim(config))
        )),
        Err(e) => Err(e.to_string()),
    }
}

/// Whether Go's encoding/json decodes `config` into the Config struct of connector type `typ` without an
/// error, as Dex does (an empty config is not decoded); the error says which field has which wrong type.
/// A type Dex has no config struct for passes.
pub fn check(typ: &str, config: &[u8]) -> Result<(), String> {
    let Some(fields) = fields_of(typ) else {
        return Ok(());
    };
    if is_zero(Some(config)) {
        return Ok(());
    }
    check_members(config, &members_of(config)?, fields, "")
}

/// [`check`] for a config whose top-level fields are already read ([`top_level_fields`]).
pub fn check_read(typ: &str, config: &[u8], members: &[jsonedit::Field]) -> Result<(), String> {
    match fields_of(typ) {
        Some(fields) => check_members(config, members, fields, ""),
        None => Ok(()),
    }
}

/// What Dex reads from a config it decodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    /// Every string field of the type outside slices and maps, by its path of JSON names
    /// (`issuer`, `claimMapping.email`, `kerberos.spn`), with the value Go leaves in it: `""` when no key
    /// set it, None for a nil pointer (a `*string`, or a field of a nil `*struct`). Duplicates as Go
    /// decodes them: the last string wins, a null leaves a string (sets a pointer to nil), an object given
    /// twice is merged field by field.
    pub strings: BTreeMap<String, Option<String>>,
}

/// The zero values of the string fields of `fields` under `prefix` (inside a nil pointer when `nil`).
fn zero_strings(
    fields: &[(&'static str, Go)],
    prefix: &str,
    nil: bool,
    out: &mut BTreeMap<String, Option<String>>,
) {
    for (name, t) in fields {
        let path = format!("{prefix}{name}");
        match t {
            Str => {
                out.insert(path, (!nil).then(String::new));
            }
            Ptr(Str) => {
                out.insert(path, None);
            }
            Struct(inner) => zero_strings(inner, &format!("{path}."), nil, out),
            Ptr(Struct(inner)) => zero_strings(inner, &format!("{path}."), true, out),
            _ => {}
        }
    }
}

/// Decodes the members of a (checked) object into `out` as Go does, in document order; `live` holds the
/// pointers to structs that are not nil.
fn decode_strings(
    v: &[u8],
    members: &[jsonedit::Field],
    fields: &[(&'static str, Go)],
    prefix: &str,
    live: &mut std::collections::BTreeSet<String>,
    out: &mut BTreeMap<String, Option<String>>,
) {
    for m in members {
        let Some((name, t)) = field_of(&m.key, fields) else {
            continue;
        };
        let value = &v[m.value.clone()];
        let path = format!("{prefix}{name}");
        match (t, value.first()) {
            (Str | Ptr(Str), Some(b'"')) => {
                out.insert(path, jsonedit::go_json_unquote(value));
            }
            (Ptr(Str), Some(b'n')) => {
                out.insert(path, None);
            }
            (Struct(inner), Some(b'{')) => {
                if let Ok(nested) = top_level_fields(value) {
                    decode_strings(value, &nested, inner, &format!("{path}."), live, out);
                }
            }
            (Ptr(Struct(inner)), Some(b'n')) => {
                live.remove(&path);
                zero_strings(inner, &format!("{path}."), true, out);
            }
            (Ptr(Struct(inner)), Some(b'{')) => {
                // A nil pointer gets a new zero struct; a live one is decoded into, merging.
                if live.insert(path.clone()) {
                    zero_strings(inner, &format!("{path}."), false, out);
                }
                if let Ok(nested) = top_level_fields(value) {
                    decode_strings(value, &nested, inner, &format!("{path}."), live, out);
                }
            }
            _ => {}
        }
    }
}

/// How Dex reads `config` for a connector of type `typ`: None for a type Dex has no config struct for;
/// else what it reads, or why Go refuses the config (Dex then does not open the connector).
pub fn decode(typ: &str, config: &[u8]) -> Option<Result<Decoded, String>> {
    let fields = fields_of(typ)?;
    let mut strings = BTreeMap::new();
    zero_strings(fields, "", false, &mut strings);
    if is_zero(Some(config)) {
        return Some(Ok(Decoded { strings }));
    }
    let members = match members_of(config) {
        Ok(m) => m,
        Err(e) => return Some(Err(e)),
    };
    if let Err(e) = check_members(config, &members, fields, "") {
        return Some(Err(e));
    }
    let mut live = std::collections::BTreeSet::new();
    decode_strings(config, &members, fields, "", &mut live, &mut strings);
    Some(Ok(Decoded { strings }))
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
            // Dotless and dotted I fold to themselves: these keys are no issuer, whatever they hold.
            ("{\"ıssuer\":5,\"İSSUER\":[],\"issuer\":\"https://a\"}", ""),
            (
                r#"{"claimModifications":{"filterGroupClaims":{"groupsFilter":5}}}"#,
                "claimModifications.filterGroupClaims.groupsFilter is a number",
            ),
            (
                r#"{"claimModifications":{"newGroupFromClaims":[{"claims":"x"}]}}"#,
                "claimModifications.newGroupFromClaims[0].claims is a string",
            ),
            (
                r#"{"claimModifications":{"modifyGroupNames":[]}}"#,
                "modifyGroupNames is an array",
            ),
            (r#"{"basicAuthUnsupported":"true"}"#, "basicAuthUnsupported"),
            (r#"{"promptType":false}"#, "promptType is a boolean"),
            (
                r#"{"providerDiscoveryOverrides":{"endSessionURL":1}}"#,
                "endSessionURL",
            ),
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
            "",
            "null",
            " null\n",
        ] {
            assert_eq!(check("oidc", cfg.as_bytes()), Ok(()), "{cfg:?}");
        }
        assert!(check("oidc", b"[]").is_err());
        assert!(check("oidc", b"{} x").is_err());
        assert!(check("ldap", br#"{"rootCAData":"aGk="}"#).is_ok());
        assert!(check("ldap", br#"{"rootCAData":"aG\nk="}"#).is_ok());
        assert!(check("ldap", br#"{"rootCAData":[0,104,255]}"#).is_ok());
        assert!(check("ldap", br#"{"rootCAData":[256]}"#).is_err());
        assert!(check("ldap", br#"{"rootCAData":"not base64!"}"#).is_err());
        assert!(check("ldap", br#"{"kerberos":{"maxClockSkew":-5}}"#).is_ok());
        for n in ["1.0", "1e3", "9223372036854775808", "\"5\""] {
            let cfg = format!(r#"{{"kerberos":{{"maxClockSkew":{n}}}}}"#);
            assert!(check("ldap", cfg.as_bytes()).is_err(), "{cfg}");
        }
        assert!(check(
            "ldap",
            br#"{"kerberos":{"maxClockSkew":-9223372036854775808}}"#
        )
        .is_ok());
        assert!(check("github", br#"{"orgs":[{"name":"a","teams":["b"]}]}"#).is_ok());
        assert!(check("github", br#"{"orgs":["a"]}"#).is_err());
        assert!(check("google", br#"{"domainToAdminEmail":{"a":"b","c":null}}"#).is_ok());
        assert!(check("google", br#"{"DomainToAdminEmail":{"a":1}}"#).is_err());
        assert!(check("authproxy", br#"{"staticGroups":"admins"}"#).is_err());
        assert!(check("mockCallback", br#"{"anything":5}"#).is_ok());
        assert!(check("somethingelse", br#"{"issuer":5}"#).is_ok());
        assert!(check("local", b"not json").is_ok());
    }

    #[test]
    fn decodes_the_strings_dex_reads() {
        let cfg = "{\"issuer\":\"https://a\",\"\\u0131ssuer\":\"https://decoy\",\"Issuer\":null,\"clientid\":\"x\",\"redirectURI\":\"a\\u0026b\"}";
        let d = decode("oidc", cfg.as_bytes()).unwrap().unwrap();
        let s = |k: &str| d.strings[k].as_deref();
        assert_eq!(s("issuer"), Some("https://a"));
        assert_eq!(s("clientID"), Some("x"));
        assert_eq!(s("redirectURI"), Some("a&b"));
        assert_eq!(s("issuerAlias"), Some(""));
        assert_eq!(s("promptType"), None, "a nil *string");
        let empty = decode("oidc", b"").unwrap().unwrap();
        assert!(empty
            .strings
            .values()
            .all(|v| v.as_deref().is_none_or(str::is_empty)));
        // A struct given twice is merged; a null leaves it; a later string wins.
        let cfg = r#"{"claimMapping":{"email":"e","groups":"g1"},"claimMapping":null,"ClaimMapping":{"groups":"g2"},"promptType":"","promptType":null}"#;
        let d = decode("oidc", cfg.as_bytes()).unwrap().unwrap();
        assert_eq!(d.strings["claimMapping.email"].as_deref(), Some("e"));
        assert_eq!(d.strings["claimMapping.groups"].as_deref(), Some("g2"));
        assert_eq!(d.strings["promptType"], None);
        // A pointer to a struct: null sets it to nil, a later object starts from zero.
        let cfg = r#"{"kerberos":{"spn":"a","keytabPath":"k"},"kerberos":null,"kerberos":{"keytabPath":"b"}}"#;
        let d = decode("ldap", cfg.as_bytes()).unwrap().unwrap();
        assert_eq!(d.strings["kerberos.spn"].as_deref(), Some(""));
        assert_eq!(d.strings["kerberos.keytabPath"].as_deref(), Some("b"));
        let d = decode(
            "ldap",
            br#"{"kerberos":{"spn":"a"},"kerberos":{"keytabPath":"b"}}"#,
        )
        .unwrap()
        .unwrap();
        assert_eq!(d.strings["kerberos.spn"].as_deref(), Some("a"), "merged");
        assert_eq!(
            decode("ldap", b"{}").unwrap().unwrap().strings["kerberos.spn"],
            None
        );
        assert!(decode("local", b"").is_none());
        assert!(decode("oidc", b"[1]").unwrap().is_err());
    }

    #[test]
    fn an_empty_config_is_what_dex_reads_as_zero() {
        let p = zero_config("oidc", Some(b"")).unwrap();
        assert!(
            p.contains("empty (0 bytes)") && p.contains("issuer \"\""),
            "{p}"
        );
        assert!(zero_config("oidc", None).unwrap().contains("NULL"));
        assert!(zero_config("oidc", Some(b" null "))
            .unwrap()
            .contains("null"));
        assert!(!zero_config("github", Some(b"")).unwrap().contains("issuer"));
        assert_eq!(zero_config("local", None), None);
        assert_eq!(zero_config("oidc", Some(b"{}")), None);
        assert_eq!(zero_config("unknowntype", Some(b"")), None);
    }
}
