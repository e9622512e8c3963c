//! Logins that fail while the IdP runs. Since NetBird v0.65.2 and Dex v2.44 a connector that cannot log
//! anyone in does not stop the server: the evidence is in the lines Dex writes at login time, not at a
//! start. What Dex logs (v2.45.1 `server/handlers.go`, master `server/authflow/*.go`):
//!
//! - `failed to authenticate` (`err`): the upstream redirected back with an error, or the token exchange
//!   failed. Each connector wraps the exchange's error in its own words (`oidc: failed to get token: %v`,
//!   `github: …`, `OAuth connector: …`, `linkedin: get token: …`; openshift reuses `oidc:`), around
//!   golang/oauth2's `RetrieveError`: `oauth2: "<error>" "<error_description>"` from v0.8 on (Dex v2.45.1
//!   pins v0.35.0), `oauth2: cannot fetch token: <status>\nResponse: <body>` before (a raw line break in
//!   NetBird's line format, where the rest of the record is on the next line).
//! - `failed to refresh identity` (`err`): the same exchange for a refresh (`oidc: failed to get refresh
//!   token: …`).
//! - `connector returned error when creating callback` (`connector_id`, `err`): building the login URL;
//!   its `expected callback URL %q did not match the URL in the config %q` is a connector whose stored
//!   `redirectURI` is not Dex's own callback (a domain that moved).
//! - `login successful` (`connector_id`; INFO, which NetBird logs only at info level): a login through
//!   that connector worked.
//!
//! And the management server (NetBird `shared/auth/jwt/validator.go`) refusing a token the IdP issued,
//! through golang-jwt: `token could not be parsed: token has invalid claims: token is not valid yet` (or
//! `token used before issued`): its clock is behind the issuer's.
//!
//! The providers' codes (RFC 6749 §5.2, Entra, Okta, Keycloak, Google, GitHub) tell the cause:
//! `invalid_client` is a client secret the provider refuses (Okta says the same for an expired or revoked
//! one, Keycloak answers `unauthorized_client` "Invalid client or Invalid client credentials", GitHub
//! `incorrect_client_credentials`); Entra's `AADSTS7000215` is a wrong secret (often the secret's ID given
//! for its value) and `AADSTS7000222` an expired one; `redirect_uri_mismatch` and Entra's `AADSTS50011` a
//! redirect URI the provider does not know; go-oidc's `token is expired` and `before the nbf (not before)
//! time` on an ID token fresh from the provider, and golang-jwt's `token is not valid yet` and `token used
//! before issued`, a clock that is off. Anything else (a user who cancelled: `access_denied`) is not a
//! fault of the deployment and is not reported.

use super::goquote::go_unquote;

/// Why logins through a connector fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Cause {
    /// The provider refuses the client secret (wrong, rotated, revoked).
    WrongSecret,
    /// The provider says the client secret expired (Entra's AADSTS7000222).
    ExpiredSecret,
    /// The redirect URI: Dex's own callback differs from the connector's `redirectURI`, or the provider
    /// does not know the one sent.
    RedirectMismatch,
    /// A token refused for its times: a clock that is off.
    ClockSkew,
}

impl Cause {
    /// Every cause, in the report's order.
    pub const ALL: [Cause; 4] = [
        Cause::WrongSecret,
        Cause::ExpiredSecret,
        Cause::RedirectMismatch,
        Cause::ClockSkew,
    ];

    /// The report's word for it.
    pub fn word(self) -> &'static str {
        match self {
            Cause::WrongSecret => "wrong_secret",
            Cause::ExpiredSecret => "expired_secret",
            Cause::RedirectMismatch => "redirect_mismatch",
            Cause::ClockSkew => "clock_skew",
        }
    }

    /// What it means, in a few words.
    pub fn says(self) -> &'static str {
        match self {
            Cause::WrongSecret => "the provider refuses its client secret",
            Cause::ExpiredSecret => "the provider says its client secret expired",
            Cause::RedirectMismatch => "the redirect URI does not match",
            Cause::ClockSkew => "tokens are refused for their times (a clock is off)",
        }
    }
}

/// One failed login, as one log record tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginFailure {
    pub cause: Cause,
    /// The connector the record names (`connector_id`), when it names one.
    pub connector: Option<String>,
    /// The connector types whose wording the error has (`oidc: failed to get token` is oidc or
    /// openshift); empty when the wording names none.
    pub types: &'static [&'static str],
    /// The client (application) id the provider's message names (Entra: `app '<id>'`).
    pub client_id: Option<String>,
    /// The provider's code or the library's words that tell the cause (`invalid_client`,
    /// `AADSTS7000222`, `nbf`…).
    pub code: String,
    /// A redirect mismatch Dex found itself: its own callback URL, and the one the connector stores.
    pub callback: Option<(String, String)>,
    /// The management server refused the token (no connector is involved).
    pub management: bool,
    /// The error, shortened, as the record gives it.
    pub message: String,
    /// The engine's timestamp of the record.
    pub time: String,
}

/// A login through a connector that worked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginOk {
    pub connector: String,
    pub time: String,
}

/// Dex's messages at login time.
pub const AUTH_FAILED: &str = "failed to authenticate";
pub const REFRESH_FAILED: &str = "failed to refresh identity";
pub const CALLBACK_FAILED: &str = "connector returned error when creating callback";
pub const LOGIN_OK: &str = "login successful";
/// NetBird's JWT validator refusing a token (`errTokenParsing`).
pub const TOKEN_REFUSED: &str = "token could not be parsed";

/// The messages [`read`] takes, for a line format that gives its message only at its end.
pub const MESSAGES: [&str; 4] = [AUTH_FAILED, REFRESH_FAILED, CALLBACK_FAILED, LOGIN_OK];

/// How each connector wraps its token exchange's error, and the types that use the wording.
const WORDINGS: [(&str, &[&str]); 9] = [
    ("oidc: ", &["oidc", "openshift"]),
    ("OAuth connector: ", &["oauth"]),
    ("github: ", &["github"]),
    ("gitlab: ", &["gitlab"]),
    ("gitea: ", &["gitea"]),
    ("google: ", &["google"]),
    ("microsoft: ", &["microsoft"]),
    ("bitbucket: ", &["bitbucket-cloud"]),
    ("linkedin: ", &["linkedin"]),
];

/// Dex's own check of a connector's redirect URI (oidc, oauth, github, gitlab, gitea, google, microsoft,
/// linkedin, bitbucket-cloud, openshift).
const CALLBACK_MISMATCH: &str = "expected callback URL ";

/// What one record says of a login: a failure, a success, or nothing. `msg` is the record's message,
/// `err` its error (or the whole line when the format does not set the error apart), `connector` its
/// `connector_id`.
#[derive(Debug)]
pub enum Read {
    Failed(LoginFailure),
    Ok(String),
}

pub fn read(msg: &str, err: &str, connector: Option<String>) -> Option<Read> {
    if msg == LOGIN_OK {
        return connector.map(Read::Ok);
    }
    let management = msg.starts_with(TOKEN_REFUSED);
    if !management && !MESSAGES.contains(&msg) {
        return None;
    }
    let (cause, code, callback) = if management {
        let (c, code) = skew(err)?;
        (c, code, None)
    } else if let Some((ours, stored)) = callback_mismatch(err) {
        (
            Cause::RedirectMismatch,
            "callback".to_string(),
            Some((ours, stored)),
        )
    } else {
        let (c, code) = cause_of(err)?;
        (c, code, None)
    };
    Some(Read::Failed(LoginFailure {
        cause,
        connector: if management { None } else { connector },
        types: if management { &[] } else { types_of(err) },
        client_id: client_id_of(err),
        code,
        callback,
        management,
        message: short(err),
        time: String::new(),
    }))
}

/// `err` shortened for the report (300 characters at most).
fn short(err: &str) -> String {
    let t = err.trim();
    let mut s: String = t.chars().take(300).collect();
    if s.len() < t.len() {
        s.push('…');
    }
    s
}

/// Whether `code` occurs in `s` as a word of its own (not inside a longer identifier).
fn has_code(s: &str, code: &str) -> bool {
    let word = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
    s.match_indices(code).any(|(i, _)| {
        !word(s[..i].chars().next_back()) && !word(s[i + code.len()..].chars().next())
    })
}

/// What a token endpoint's error (`<error>: <description>`) says of the client's credential: the cause
/// when it refuses it as wrong or expired.
pub fn refusal(text: &str) -> Option<Cause> {
    cause_of(text)
        .map(|(c, _)| c)
        .filter(|c| matches!(c, Cause::WrongSecret | Cause::ExpiredSecret))
}

/// The cause of a failed exchange or callback, and the code that tells it.
fn cause_of(err: &str) -> Option<(Cause, String)> {
    for (code, cause) in [
        ("AADSTS7000222", Cause::ExpiredSecret),
        ("AADSTS7000215", Cause::WrongSecret),
        ("AADSTS50011", Cause::RedirectMismatch),
    ] {
        if err.contains(code) {
            return Some((cause, code.to_string()));
        }
    }
    if has_code(err, "redirect_uri_mismatch") {
        return Some((Cause::RedirectMismatch, "redirect_uri_mismatch".into()));
    }
    for code in ["invalid_client", "incorrect_client_credentials"] {
        if has_code(err, code) {
            return Some((Cause::WrongSecret, code.into()));
        }
    }
    // Keycloak answers a wrong secret with unauthorized_client (RFC 6749 keeps that code for a client
    // that authenticated but may not use the grant, which is no fault of the secret).
    if has_code(err, "unauthorized_client")
        && err
            .to_ascii_lowercase()
            .contains("invalid client credentials")
    {
        return Some((Cause::WrongSecret, "unauthorized_client".into()));
    }
    skew(err)
}

/// A token refused for its times.
fn skew(err: &str) -> Option<(Cause, String)> {
    for (words, code) in [
        ("before the nbf (not before) time", "nbf"),
        ("token is not valid yet", "nbf"),
        ("token used before issued", "iat"),
    ] {
        if err.contains(words) {
            return Some((Cause::ClockSkew, code.into()));
        }
    }
    // go-oidc's expiry check on an ID token the provider has just issued (not a refresh of an old one).
    (err.contains("failed to verify ID Token") && err.contains("token is expired"))
        .then(|| (Cause::ClockSkew, "exp".into()))
}

/// Dex's `expected callback URL %q did not match the URL in the config %q`: (Dex's, the connector's).
fn callback_mismatch(err: &str) -> Option<(String, String)> {
    let at = err.find(CALLBACK_MISMATCH)?;
    let rest = &err[at + CALLBACK_MISMATCH.len()..];
    let (ours, n) = go_unquote(rest)?;
    let rest = rest[n..].strip_prefix(" did not match the URL in the config ")?;
    let (stored, _) = go_unquote(rest)?;
    Some((ours, stored))
}

/// The connector types whose wording the error starts with (the first `<wording>failed to` or
/// `<wording>get token` in it).
fn types_of(err: &str) -> &'static [&'static str] {
    let mut best: Option<(usize, &'static [&'static str])> = None;
    for (w, types) in WORDINGS {
        for (i, _) in err.match_indices(w) {
            let after = &err[i + w.len()..];
            if after.starts_with("failed to ") || after.starts_with("get token") {
                if best.is_none_or(|(b, _)| i < b) {
                    best = Some((i, types));
                }
                break;
            }
        }
    }
    best.map(|(_, t)| t).unwrap_or(&[])
}

/// The application id an Entra message names: `app '<id>'` or `application '<id>'`.
fn client_id_of(err: &str) -> Option<String> {
    for marker in ["app '", "application '"] {
        if let Some(p) = err.find(marker) {
            let rest = &err[p + marker.len()..];
            let id: String = rest.chars().take_while(|c| *c != '\'').collect();
            if !id.is_empty()
                && id.len() <= 200
                && rest[id.len()..].starts_with('\'')
                && !id.contains(char::is_whitespace)
            {
                return Some(id);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(msg: &str, err: &str) -> LoginFailure {
        match read(msg, err, None) {
            Some(Read::Failed(f)) => f,
            _ => panic!("no failure in {msg:?} {err:?}"),
        }
    }

    #[test]
    fn tells_each_cause_by_its_real_words() {
        let cases: &[(&str, &str, Cause, &str)] = &[
            // golang/oauth2 v0.35 (Dex v2.45.1), RFC 6749 §5.2.
            (AUTH_FAILED, r#"oidc: failed to get token: oauth2: "invalid_client" "Client authentication failed""#, Cause::WrongSecret, "invalid_client"),
            // golang/oauth2 before v0.8: the status and body.
            (AUTH_FAILED, "oidc: failed to get token: oauth2: cannot fetch token: 401 Unauthorized\nResponse: {\"error\":\"invalid_client\"}", Cause::WrongSecret, "invalid_client"),
            // GitHub's form-encoded answer.
            (AUTH_FAILED, "github: failed to get token: oauth2: cannot fetch token: 200 OK\nResponse: error=incorrect_client_credentials&error_description=The+client_id", Cause::WrongSecret, "incorrect_client_credentials"),
            (AUTH_FAILED, r#"microsoft: failed to get token: oauth2: "invalid_client" "AADSTS7000222: The provided client secret keys for app '6731de76-14a6-49ae-97bc-6eba6914391e' are expired. Visit the Azure portal to create new keys for your app: https://aka.ms/NewClientSecret""#, Cause::ExpiredSecret, "AADSTS7000222"),
            (AUTH_FAILED, r#"oidc: failed to get token: oauth2: "invalid_client" "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app 'abc'.""#, Cause::WrongSecret, "AADSTS7000215"),
            (AUTH_FAILED, r#"oidc: failed to get token: oauth2: "unauthorized_client" "Invalid client or Invalid client credentials""#, Cause::WrongSecret, "unauthorized_client"),
            (REFRESH_FAILED, r#"oidc: failed to get refresh token: oauth2: "invalid_client""#, Cause::WrongSecret, "invalid_client"),
            (AUTH_FAILED, "redirect_uri_mismatch: The redirect URI in the request does not match", Cause::RedirectMismatch, "redirect_uri_mismatch"),
            (AUTH_FAILED, "oidc: failed to verify ID Token: oidc: current time 2026-12-01 10:00:00 +0000 UTC before the nbf (not before) time: 2026-12-01 10:10:00 +0000 UTC", Cause::ClockSkew, "nbf"),
            (AUTH_FAILED, "oidc: failed to verify ID Token: oidc: token is expired (Token Expiry: 2026-12-01 09:50:00 +0000 UTC)", Cause::ClockSkew, "exp"),
            ("token could not be parsed: token has invalid claims: token is not valid yet", "token could not be parsed: token has invalid claims: token is not valid yet", Cause::ClockSkew, "nbf"),
        ];
        for (msg, err, cause, code) in cases {
            let f = failed(msg, err);
            assert_eq!((f.cause, f.code.as_str()), (*cause, *code), "{err}");
        }
    }

    #[test]
    fn attributes_by_wording_app_id_and_connector_id() {
        let f = failed(
            AUTH_FAILED,
            r#"microsoft: failed to get token: oauth2: "invalid_client" "AADSTS7000222: … for app 'a-1' are expired""#,
        );
        assert_eq!(f.types, &["microsoft"]);
        assert_eq!(f.client_id.as_deref(), Some("a-1"));
        let f = failed(
            AUTH_FAILED,
            "OAuth connector: failed to get token: invalid_client",
        );
        assert_eq!(f.types, &["oauth"]);
        let f = failed(
            AUTH_FAILED,
            "linkedin: get token: oauth2: \"invalid_client\"",
        );
        assert_eq!(f.types, &["linkedin"]);
        // The first wording is Dex's; go-oidc's own `oidc:` inside it is not a second one.
        let f = failed(
            AUTH_FAILED,
            "oidc: failed to verify ID Token: oidc: token is expired (Token Expiry: x)",
        );
        assert_eq!(f.types, &["oidc", "openshift"]);
        // The callback line names its connector, and Dex's own URL.
        match read(
            CALLBACK_FAILED,
            r#"expected callback URL "https://new.example.com/oauth2/callback" did not match the URL in the config "https://old.example.com/oauth2/callback""#,
            Some("okta-1".into()),
        ) {
            Some(Read::Failed(f)) => {
                assert_eq!(f.connector.as_deref(), Some("okta-1"));
                assert_eq!(f.cause, Cause::RedirectMismatch);
                assert_eq!(
                    f.callback,
                    Some((
                        "https://new.example.com/oauth2/callback".into(),
                        "https://old.example.com/oauth2/callback".into()
                    ))
                );
            }
            _ => panic!("no failure"),
        }
        assert!(matches!(
            read(LOGIN_OK, "", Some("okta-1".into())),
            Some(Read::Ok(c)) if c == "okta-1"
        ));
    }

    #[test]
    fn ignores_what_is_no_fault_of_the_deployment() {
        for (msg, err) in [
            (AUTH_FAILED, "access_denied: The user cancelled"),
            (
                AUTH_FAILED,
                r#"oidc: failed to get token: oauth2: "invalid_grant" "code expired""#,
            ),
            // unauthorized_client by RFC 6749: the client authenticated, the grant is not allowed.
            (
                AUTH_FAILED,
                r#"oauth2: "unauthorized_client" "grant type not allowed""#,
            ),
            // Words inside longer identifiers are not the codes.
            (AUTH_FAILED, "oidc: my_invalid_client_x failed"),
            ("some other message", r#"oauth2: "invalid_client""#),
            // The management refusing an expired token is its user's old token, not a clock.
            (
                "token could not be parsed: token has invalid claims: token is expired",
                "token could not be parsed: token has invalid claims: token is expired",
            ),
        ] {
            assert!(read(msg, err, None).is_none(), "{msg}: {err}");
        }
    }
}
