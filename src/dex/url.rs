//! URLs as Go reads them: the check Go's `url.Parse` (which go-oidc and Dex apply to an issuer) makes, for
//! every value ozrepair is given for a field Dex reads as a URL (`--issuer`, `--set` of a URL field).

use super::jsonedit::key_matches;

/// Config fields Dex reads as URLs (any connector type; names as Dex's structs give them).
pub const URL_FIELDS: [&str; 15] = [
    "issuer",
    "issuerAlias",
    "redirectURI",
    "baseURL",
    "apiURL",
    "graphURL",
    "ssoURL",
    "tokenURL",
    "authURL",
    "jwksURL",
    "userInfoURL",
    "authorizationURL",
    "deviceAuthURL",
    "endSessionURL",
    "keystoneHost",
];

/// Fields Dex needs a value in (an empty one makes the connector fail to open).
pub const REQUIRED_FIELDS: [&str; 4] = ["issuer", "redirectURI", "clientID", "baseURL"];

/// Why `value` cannot be set in `field` (a name as Go matches keys), or None: a URL field takes what
/// [`issuer_problem`] accepts, a field Dex needs takes no empty value.
pub fn set_problem(field: &str, value: &str) -> Option<String> {
    if value.is_empty() && REQUIRED_FIELDS.iter().any(|f| key_matches(field, f)) {
        return Some(format!("{field} is empty, and Dex needs a value there"));
    }
    if URL_FIELDS.iter().any(|f| key_matches(field, f)) {
        return issuer_problem(value).map(|why| format!("{field} {why}"));
    }
    None
}

/// Why Go's `url.Parse` (which go-oidc and Dex apply to an issuer) would refuse `v`, or why it is no
/// issuer at all: empty, a control character, no scheme, no host, a bad `%` escape, a host or port Go
/// rejects. None when it is a usable absolute URL.
pub fn issuer_problem(v: &str) -> Option<String> {
    if v.is_empty() {
        return Some("is empty; give the issuer URL the provider publishes".into());
    }
    if let Some(c) = v.chars().find(|c| c.is_ascii_control()) {
        return Some(format!(
            "contains the control character U+{:04X}, which Go's url.Parse refuses",
            c as u32
        ));
    }
    let Some((scheme, rest)) = v.split_once(':') else {
        return Some("has no scheme (https://…)".into());
    };
    let mut sc = scheme.chars();
    if !sc.next().is_some_and(|c| c.is_ascii_alphabetic())
        || !sc.all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    {
        return Some(format!(
            "has no valid scheme ({scheme:?}); an issuer starts with https://"
        ));
    }
    let bytes = v.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        if *b == b'%'
            && !(bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit))
        {
            return Some("has a '%' that is not a %XX escape, which Go's url.Parse refuses".into());
        }
    }
    let Some(after) = rest.strip_prefix("//") else {
        return Some("has no host (scheme://host/…)".into());
    };
    let authority = after.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let (host, port) = if let Some(v6) = host_port.strip_prefix('[') {
        match v6.split_once(']') {
            Some((h, p)) if !h.is_empty() => (
                h,
                p.strip_prefix(':')
                    .or(if p.is_empty() { None } else { Some("x") }),
            ),
            _ => return Some("has an unclosed IPv6 host ([…])".into()),
        }
    } else {
        match host_port.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (host_port, None),
        }
    };
    if host.is_empty() {
        return Some("has no host (scheme://host/…)".into());
    }
    if let Some(c) = host
        .chars()
        .find(|c| !(c.is_alphanumeric() || "-._~!$&'()*+,;=%:".contains(*c)))
    {
        return Some(format!(
            "has the character {c:?} in its host, which Go's url.Parse refuses"
        ));
    }
    if port.is_some_and(|p| !p.bytes().all(|b| b.is_ascii_digit())) {
        return Some("has a port that is not a number".into());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuers_as_go_parses_them() {
        for ok in [
            "https://oauth.id.jumpcloud.com/",
            "https://login.example.com:8443/realms/a%20b?x=1#f",
            "http://[::1]:5556/dex",
            "https://user@idp.example.com",
            "https://idp.example.com/path with space",
        ] {
            assert_eq!(issuer_problem(ok), None, "{ok}");
        }
        for bad in [
            "",
            "https://a\n",
            "https://a/\u{7f}",
            "oauth.id.jumpcloud.com",
            "1https://a",
            "https:/a",
            "https://",
            "https:///path",
            "https://a b/",
            "https://a:port/",
            "https://a/%zz",
            "https://[::1/",
        ] {
            assert!(issuer_problem(bad).is_some(), "{bad:?}");
        }
    }
}

#[cfg(test)]
mod set_tests {
    use super::set_problem;

    #[test]
    fn url_fields_take_urls_and_required_fields_a_value() {
        assert!(set_problem("issuer", "not a url").is_some());
        assert!(set_problem("ISSUER", "").is_some());
        assert!(set_problem("redirectURI", "https://vpn.example.com/oauth2/callback").is_none());
        assert!(set_problem("redirecturi", "vpn.example.com/cb").is_some());
        assert!(set_problem("clientID", "").is_some());
        assert!(set_problem("clientID", "abc").is_none());
        assert!(set_problem("name", "").is_none());
        assert!(set_problem("userNameKey", "email").is_none());
        // A key that only looks like it (dotless i) is another field to Go.
        assert!(set_problem("\u{131}ssuer", "not a url").is_none());
    }
}
