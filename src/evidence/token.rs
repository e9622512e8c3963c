//! Asking a provider whether it takes a client's credential (`secret --verify`): one client credentials
//! grant (RFC 6749 §4.4) at its token endpoint, with the client id and the new secret, authenticated as
//! the connector authenticates (golang/oauth2's auto-detection: HTTP Basic with the form-urlencoded id and
//! secret first, then both in the body, the second answer counting; `basicAuthUnsupported` and the
//! management's IdP managers: the body only).
//!
//! Why the request is harmless: it involves no user, no consent and no session; at most the provider
//! issues an application token with the permissions an administrator granted the client, which ozrepair
//! never reads or keeps. A client that may not use the grant is told so (`unauthorized_client` by RFC
//! 6749), which says nothing of its secret: such an answer, and any answer that is neither a token nor a
//! refusal of the client's authentication, leaves the credential unverified.
//!
//! What may be contacted is what discovery may contact ([`super::discover`]: https, plain http only to
//! loopback unless allowed, the same CA file and deadline); a redirect is not followed. The secret goes
//! only into the request; nothing here puts it into a message.

use super::discover::{self, Options};
use crate::logs::login::{self, Cause};

/// Where the token endpoint is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// This URL.
    Url(String),
    /// The `token_endpoint` of this issuer's discovery document.
    Discover(String),
}

/// How the client authenticates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// HTTP Basic first, then the body (golang/oauth2's `AuthStyleAutoDetect`).
    Auto,
    /// The body only (`AuthStyleInParams`).
    Body,
}

/// The request that proves a credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub endpoint: Endpoint,
    pub client_id: String,
    pub style: Style,
    /// More form parameters (Entra's `scope`).
    pub extra: Vec<(&'static str, String)>,
    /// The request in words, for the report.
    pub what: String,
}

/// What the provider said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// It issued a token: it takes the credential.
    Accepted,
    /// It refused the client's authentication (the code and description it gave).
    Refused(String),
    /// It said neither (why, in a line).
    Inconclusive(String),
}

/// One verification, for the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asked {
    /// The token endpoint asked (or the issuer whose document named none).
    pub endpoint: String,
    pub request: String,
    pub answer: Answer,
}

/// The request that proves the secret of a connector of type `typ`, whose other config values `get`
/// reads (a dotted name reads a nested field); Err(why it cannot be verified) for the types whose
/// providers offer no request that proves a client's secret without a user.
pub fn request_for(typ: &str, get: &dyn Fn(&str) -> Option<String>) -> Result<Request, String> {
    let client_id = get("clientID").unwrap_or_default();
    match typ {
        "oidc" => {
            let (endpoint, from) = match get("providerDiscoveryOverrides.tokenURL").filter(|u| !u.is_empty()) {
                Some(u) => (Endpoint::Url(u), "providerDiscoveryOverrides.tokenURL"),
                None => (
                    Endpoint::Discover(get("issuer").unwrap_or_default()),
                    "the token_endpoint of the issuer's discovery document",
                ),
            };
            let body_only = get("basicAuthUnsupported").as_deref() == Some("true");
            Ok(Request {
                endpoint,
                client_id,
                style: if body_only { Style::Body } else { Style::Auto },
                extra: Vec::new(),
                what: format!(
                    "a client credentials grant (RFC 6749 §4.4) at {from}, authenticated {}",
                    if body_only {
                        "in the body (basicAuthUnsupported)"
                    } else {
                        "as Dex does (HTTP Basic, then the body)"
                    }
                ),
            })
        }
        "oauth" => Ok(Request {
            endpoint: Endpoint::Url(get("tokenURL").unwrap_or_default()),
            client_id,
            style: Style::Auto,
            extra: Vec::new(),
            what: "a client credentials grant (RFC 6749 §4.4) at the connector's tokenURL, authenticated as Dex does (HTTP Basic, then the body)".into(),
        }),
        "microsoft" => {
            let api = get("apiURL")
                .filter(|u| !u.is_empty())
                .unwrap_or_else(|| "https://login.microsoftonline.com".into());
            let tenant = get("tenant")
                .filter(|t| !t.is_empty())
                .unwrap_or_else(|| "common".into());
            let graph = get("graphURL")
                .filter(|u| !u.is_empty())
                .unwrap_or_else(|| "https://graph.microsoft.com".into());
            Ok(Request {
                endpoint: Endpoint::Url(format!(
                    "{}/{tenant}/oauth2/v2.0/token",
                    api.trim_end_matches('/')
                )),
                client_id,
                style: Style::Auto,
                extra: vec![("scope", format!("{}/.default", graph.trim_end_matches('/')))],
                what: "a client credentials grant (RFC 6749 §4.4) at the tenant's v2.0 token endpoint for Microsoft Graph (scope .default: only what an administrator granted the app)".into(),
            })
        }
        "ldap" => Err("an ldap connector's bindPW is proven by an LDAP bind, which ozrepair does not make".into()),
        "github" | "gitlab" | "gitea" | "google" | "linkedin" | "bitbucket-cloud" | "openshift" => Err(format!(
            "{typ}'s token endpoint offers an OAuth application no grant that proves its secret without a user"
        )),
        other => Err(format!("ozrepair knows no request that proves the secret of a {other} connector")),
    }
}

/// The request that proves the management's IdP-manager credential: the one the management server makes
/// itself (a client credentials grant at `ClientConfig.TokenEndpoint`, the credential in the body).
pub fn management_request(m: &crate::config::IdpManager) -> Result<Request, String> {
    if !m.grant_type.eq_ignore_ascii_case("client_credentials") {
        return Err(format!(
            "its GrantType is {:?}, not client_credentials",
            m.grant_type
        ));
    }
    if m.token_endpoint.is_empty() {
        return Err("its ClientConfig has no TokenEndpoint".into());
    }
    let extra = match m.manager_type.to_ascii_lowercase().as_str() {
        "azure" => vec![("scope", "https://graph.microsoft.com/.default".to_string())],
        _ => Vec::new(),
    };
    Ok(Request {
        endpoint: Endpoint::Url(m.token_endpoint.clone()),
        client_id: m.client_id.clone(),
        style: Style::Body,
        extra,
        what: "the client credentials grant the management server makes itself (RFC 6749 §4.4, at ClientConfig.TokenEndpoint, the credential in the body)".into(),
    })
}

/// Asks the provider with `secret`.
pub fn ask(req: &Request, secret: &str, opts: &Options) -> Asked {
    let inconclusive = |endpoint: &str, why: String| Asked {
        endpoint: endpoint.to_string(),
        request: req.what.clone(),
        answer: Answer::Inconclusive(why),
    };
    let url = match &req.endpoint {
        Endpoint::Url(u) => u.clone(),
        Endpoint::Discover(issuer) => match discover::token_endpoint(issuer, opts) {
            Ok(u) => u,
            Err(e) => return inconclusive(issuer, e),
        },
    };
    let shown = discover::shown(&url);
    if req.client_id.is_empty() {
        return inconclusive(&shown, "the connector has no clientID".into());
    }
    let answer = match post(&url, req, secret, opts, req.style == Style::Body) {
        // golang/oauth2's auto-detection: Basic first; on any error the body, whose answer counts.
        Ok(a) if req.style == Style::Auto && a != Answer::Accepted => {
            post(&url, req, secret, opts, true)
        }
        other => other,
    };
    Asked {
        endpoint: shown,
        request: req.what.clone(),
        answer: answer.unwrap_or_else(Answer::Inconclusive),
    }
}

/// One POST of the grant, the client authenticated in the body (`in_body`) or by HTTP Basic.
fn post(
    url: &str,
    req: &Request,
    secret: &str,
    opts: &Options,
    in_body: bool,
) -> Result<Answer, String> {
    let target = discover::check_target(url, opts, None).map_err(|e| e.to_string())?;
    let agent = discover::agent(opts).map_err(|e| e.to_string())?;
    let mut form: Vec<(&str, &str)> = vec![("grant_type", "client_credentials")];
    for (k, v) in &req.extra {
        form.push((k, v));
    }
    if in_body {
        form.push(("client_id", &req.client_id));
        form.push(("client_secret", secret));
    }
    let mut r = agent.post(target.url.as_str());
    if !in_body {
        let pair = format!("{}:{}", query_escape(&req.client_id), query_escape(secret));
        r = r.header(
            "Authorization",
            format!("Basic {}", base64(pair.as_bytes())),
        );
    }
    let mut cfg = r.config().timeout_global(Some(opts.timeout));
    if target.loopback {
        cfg = cfg.proxy(None);
    }
    let mut response = cfg
        .build()
        .header("Accept", "application/json")
        .send_form(form)
        .map_err(|e| discover::from_ureq(e, &target.url, opts).to_string())?;
    let status = response.status().as_u16();
    let body = response
        .body_mut()
        .with_config()
        .limit(64 * 1024)
        .read_to_vec()
        .unwrap_or_default();
    Ok(read_answer(status, &body))
}

/// What a token endpoint's answer says: a token (status 2xx with an `access_token`), a refusal of the
/// client's authentication (RFC 6749 §5.2 `invalid_client`, and the providers' words for a wrong or
/// expired secret), or neither.
pub fn read_answer(status: u16, body: &[u8]) -> Answer {
    let json: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    let text = |k: &str| {
        json.as_ref()
            .and_then(|j| j.get(k))
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_string()
    };
    let token = json
        .as_ref()
        .and_then(|j| j.get("access_token"))
        .and_then(|v| v.as_str())
        .is_some_and(|t| !t.is_empty());
    let (error, description) = (text("error"), text("error_description"));
    if (200..300).contains(&status) && token && error.is_empty() {
        return Answer::Accepted;
    }
    let said = if error.is_empty() {
        format!("HTTP {status}")
    } else if description.is_empty() {
        format!("HTTP {status}, {error}")
    } else {
        format!(
            "HTTP {status}, {error}: {}",
            discover::one_line(description.lines().next().unwrap_or_default(), 200)
        )
    };
    match login::refusal(&format!("{error}: {description}")) {
        Some(Cause::WrongSecret | Cause::ExpiredSecret) => Answer::Refused(said),
        _ => Answer::Inconclusive(format!(
            "the provider answered {said}, which does not say whether it takes the credential"
        )),
    }
}

/// Go's `url.QueryEscape`, as RFC 6749 §2.3.1 wants the id and secret before Basic encodes them.
fn query_escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                o.push(char::from(b))
            }
            b' ' => o.push('+'),
            _ => o.push_str(&format!("%{b:02X}")),
        }
    }
    o
}

/// Standard base64 with padding.
fn base64(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut o = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18, 12, 6, 0].iter().enumerate() {
            if i <= chunk.len() {
                o.push(char::from(A[((n >> shift) & 63) as usize]));
            } else {
                o.push('=');
            }
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_read_as_rfc_6749_and_the_providers_say() {
        assert_eq!(
            read_answer(200, br#"{"access_token":"x","token_type":"Bearer"}"#),
            Answer::Accepted
        );
        for (status, body) in [
            (
                401,
                r#"{"error":"invalid_client","error_description":"Client authentication failed."}"#,
            ),
            (
                401,
                r#"{"error":"invalid_client","error_description":"AADSTS7000222: The provided client secret keys for app 'a' are expired."}"#,
            ),
            (
                401,
                r#"{"error":"unauthorized_client","error_description":"Invalid client or Invalid client credentials"}"#,
            ),
            (
                200,
                r#"{"error":"incorrect_client_credentials","error_description":"The client_id and/or client_secret passed are incorrect."}"#,
            ),
        ] {
            assert!(
                matches!(read_answer(status, body.as_bytes()), Answer::Refused(_)),
                "{body}"
            );
        }
        for (status, body) in [
            // The client authenticated and may not use the grant: nothing said of the secret.
            (
                400,
                r#"{"error":"unauthorized_client","error_description":"not allowed"}"#,
            ),
            (400, r#"{"error":"unsupported_grant_type"}"#),
            (400, r#"{"error":"invalid_scope"}"#),
            (500, "<html>oops</html>"),
            (200, r#"{"token_type":"Bearer"}"#),
        ] {
            assert!(
                matches!(
                    read_answer(status, body.as_bytes()),
                    Answer::Inconclusive(_)
                ),
                "{body}"
            );
        }
    }

    #[test]
    fn basic_credentials_are_form_encoded_then_base64() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(
            base64(b"Aladdin:open sesame"),
            "QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
        );
        assert_eq!(query_escape("a b:c/d~é"), "a+b%3Ac%2Fd~%C3%A9");
    }

    #[test]
    fn each_type_has_its_request_or_says_why_not() {
        let cfg = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        let r = request_for(
            "oidc",
            &cfg(&[("clientID", "c"), ("issuer", "https://idp")]),
        )
        .unwrap();
        assert_eq!(r.endpoint, Endpoint::Discover("https://idp".into()));
        assert_eq!(r.style, Style::Auto);
        let r = request_for(
            "oidc",
            &cfg(&[
                ("clientID", "c"),
                ("providerDiscoveryOverrides.tokenURL", "https://t"),
                ("basicAuthUnsupported", "true"),
            ]),
        )
        .unwrap();
        assert_eq!(
            (r.endpoint, r.style),
            (Endpoint::Url("https://t".into()), Style::Body)
        );
        let r = request_for("microsoft", &cfg(&[("clientID", "c"), ("tenant", "t-1")])).unwrap();
        assert_eq!(
            r.endpoint,
            Endpoint::Url("https://login.microsoftonline.com/t-1/oauth2/v2.0/token".into())
        );
        assert_eq!(
            r.extra,
            vec![("scope", "https://graph.microsoft.com/.default".to_string())]
        );
        for t in ["ldap", "github", "google", "keystone", "atlassian-crowd"] {
            assert!(request_for(t, &cfg(&[])).is_err(), "{t}");
        }
    }
}
