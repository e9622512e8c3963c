//! Asking an OIDC provider which issuer it publishes, the way go-oidc asks: GET
//! `strings.TrimSuffix(issuer, "/") + "/.well-known/openid-configuration"`, demand status 200 and a JSON
//! object, and take its `issuer` string (go-oidc then compares it with the configured issuer byte for byte).
//! [`published_issuer`] returns that string unchanged: it never adds or strips a slash.
//!
//! What may be contacted: https always; plain http only when the host is loopback (127.0.0.0/8, `[::1]`,
//! `localhost`) or [`Options::allow_http`] is set; nothing else. ureq's own redirect following is off,
//! because it cannot check each hop: this module follows at most [`MAX_REDIRECTS`] redirects itself and
//! checks every target by the same rule before contacting it. One deadline ([`Options::timeout`]) bounds
//! the whole exchange, redirects and body included; the body is capped at [`BODY_LIMIT`] bytes.

use crate::dex::jsonedit::{self, ConfigError, StrValue};
use std::fmt;
use std::io;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use ureq::tls::{PemItem, RootCerts, TlsConfig};
use ureq::Agent;

/// What go-oidc appends to the issuer (after trimming one trailing slash).
pub const WELL_KNOWN: &str = "/.well-known/openid-configuration";
/// How many redirects are followed before giving up.
pub const MAX_REDIRECTS: usize = 5;
/// The largest discovery document read, in bytes (1 MiB).
pub const BODY_LIMIT: u64 = 1024 * 1024;
/// The default bound on the whole exchange.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// The longest URL, reason or excerpt put into an error message (in characters).
const SHOW_MAX: usize = 120;
/// The longest excerpt of a response body put into an error message (in characters).
const EXCERPT_MAX: usize = 60;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Bounds the whole exchange: connect, headers and body, over every redirect.
    pub timeout: Duration,
    /// A PEM file of the root CA certificates to trust instead of the built-in (Mozilla) roots.
    pub ca_file: Option<PathBuf>,
    /// Allow plain http to hosts that are not loopback.
    pub allow_http: bool,
}

impl Options {
    /// The options `--discover` and its flags give (None without `--discover`).
    pub fn of(d: &crate::cli::DiscoverArgs) -> Option<Options> {
        d.discover.then(|| Options {
            timeout: Duration::from_secs(d.discover_timeout.max(1)),
            ca_file: d.ca_file.clone(),
            allow_http: d.allow_http,
        })
    }
}

impl Default for Options {
    fn default() -> Self {
        Options {
            timeout: DEFAULT_TIMEOUT,
            ca_file: None,
            allow_http: false,
        }
    }
}

/// The URL go-oidc fetches for `issuer`: one trailing slash trimmed, then [`WELL_KNOWN`].
pub fn discovery_url(issuer: &str) -> String {
    format!("{}{WELL_KNOWN}", issuer.strip_suffix('/').unwrap_or(issuer))
}

/// Whether `host` (as written in a URL: `[::1]` bracketed or not) is a loopback host.
pub fn is_loopback_host(host: &str) -> bool {
    let h = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if h.eq_ignore_ascii_case("localhost") || h.eq_ignore_ascii_case("localhost.") {
        return true;
    }
    match h.parse::<IpAddr>() {
        Ok(IpAddr::V4(a)) => a.is_loopback(),
        Ok(IpAddr::V6(a)) => {
            a.is_loopback() || a.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
        Err(_) => false,
    }
}

/// Why the published issuer could not be learned. Every variant displays as one line that names the URL
/// (userinfo removed, control characters escaped, shortened) and says what to do next.
#[derive(Debug)]
pub enum DiscoverError {
    /// The URL cannot be used at all.
    BadUrl { url: String, reason: String },
    /// A scheme other than https or http. `via` is the URL that redirected here.
    Scheme {
        url: String,
        scheme: String,
        via: Option<String>,
    },
    /// Plain http to a host that is not loopback, without `allow_http`. Nothing was sent to it.
    PlainHttp { url: String, via: Option<String> },
    /// The CA file cannot be read or holds no usable certificate.
    CaFile { path: PathBuf, reason: String },
    /// The deadline passed (connect, headers or body).
    Timeout { url: String, timeout: Duration },
    /// The host name does not resolve.
    HostNotFound { url: String },
    /// The connection failed or broke.
    Connect { url: String, reason: String },
    /// The TLS handshake failed (often: a private CA that is not trusted).
    Tls {
        url: String,
        reason: String,
        ca_file: bool,
    },
    /// A status other than 200 (and other than a followed redirect).
    Status { url: String, status: u16 },
    /// A redirect without a usable `Location`.
    BadRedirect {
        url: String,
        status: u16,
        reason: String,
    },
    /// More than [`MAX_REDIRECTS`] redirects, starting at `first`.
    TooManyRedirects { first: String, last: String },
    /// The body exceeds [`BODY_LIMIT`].
    TooLarge { url: String },
    /// The body is not JSON. `detail` is the parser's message and a short excerpt.
    NotJson { url: String, detail: String },
    /// The body is JSON but not an object.
    NotObject { url: String },
    /// The object has no `issuer` string; `found` says what is there instead.
    NoIssuer { url: String, found: String },
    /// The `issuer` is the empty string, which is never a usable correction.
    EmptyIssuer { url: String },
}

const CHECK: &str = "check the issuer URL or pass --issuer";

fn fmt_via(via: &Option<String>) -> String {
    via.as_ref()
        .map(|v| format!(" (redirected from {v})"))
        .unwrap_or_default()
}

impl fmt::Display for DiscoverError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use DiscoverError::*;
        match self {
            BadUrl { url, reason } => write!(f, "{url} is not a usable URL ({reason}); {CHECK}"),
            Scheme { url, scheme, via } => write!(
                f,
                "{url}{} uses scheme \"{scheme}\", which is refused (only https, or http to loopback); {CHECK}",
                fmt_via(via)
            ),
            PlainHttp { url, via } => write!(
                f,
                "plain http to {url}{} is refused (only loopback); pass --allow-http if you mean it",
                fmt_via(via)
            ),
            CaFile { path, reason } => write!(
                f,
                "cannot use CA file {}: {reason}; pass a PEM file that holds the IdP's root certificate",
                shown(&path.display().to_string())
            ),
            Timeout { url, timeout } => write!(
                f,
                "discovery at {url} did not answer within {} (timeout); check that the IdP is reachable \
                 from this host, or pass --issuer",
                fmt_duration(*timeout)
            ),
            HostNotFound { url } => write!(
                f,
                "discovery at {url} failed: the host name does not resolve (DNS); {CHECK}"
            ),
            Connect { url, reason } => write!(
                f,
                "discovery at {url} failed ({reason}); check that the IdP is reachable from this host, \
                 or pass --issuer"
            ),
            Tls {
                url,
                reason,
                ca_file: false,
            } => write!(
                f,
                "discovery at {url} failed TLS ({reason}); if the IdP uses a private CA, pass --ca-file \
                 with its root certificate"
            ),
            Tls {
                url,
                reason,
                ca_file: true,
            } => write!(
                f,
                "discovery at {url} failed TLS ({reason}); the CA file replaces the built-in roots, so it \
                 must hold the root that signed the IdP's certificate"
            ),
            Status { url, status } => {
                write!(f, "discovery at {url} answered {}; {CHECK}", status_text(*status))
            }
            BadRedirect {
                url,
                status,
                reason,
            } => write!(
                f,
                "discovery at {url} answered {} with {reason}; {CHECK}",
                status_text(*status)
            ),
            TooManyRedirects { first, last } => write!(
                f,
                "discovery at {first} was redirected more than {MAX_REDIRECTS} times (last to {last}); \
                 {CHECK}"
            ),
            TooLarge { url } => write!(
                f,
                "discovery at {url} answered more than 1 MiB, which is not a discovery document; {CHECK}"
            ),
            NotJson { url, detail } => write!(f, "discovery at {url} is not JSON ({detail}); {CHECK}"),
            NotObject { url } => write!(f, "discovery at {url} is JSON but not an object; {CHECK}"),
            NoIssuer { url, found } => {
                write!(f, "discovery at {url} has no \"issuer\" string ({found}); {CHECK}")
            }
            EmptyIssuer { url } => write!(f, "discovery at {url} has an empty \"issuer\"; {CHECK}"),
        }
    }
}

impl std::error::Error for DiscoverError {}

/// "404 Not Found", or just the number when the code has no standard reason phrase.
fn status_text(status: u16) -> String {
    match ureq::http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
    {
        Some(r) => format!("{status} {r}"),
        None => status.to_string(),
    }
}

/// "10s", "1.5s", "250ms".
fn fmt_duration(d: Duration) -> String {
    if d.as_secs() > 0 && d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else if d.as_secs() == 0 {
        format!("{}ms", d.as_millis())
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

/// `s` fit for a one-line message: control characters escaped, at most [`SHOW_MAX`] characters.
pub(super) fn one_line(s: &str, max: usize) -> String {
    let mut out = String::new();
    for (n, c) in s.chars().enumerate() {
        if n == max {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// A URL as shown in messages: userinfo (which may hold a password) removed, then [`one_line`].
pub(super) fn shown(url: &str) -> String {
    let without_userinfo = match url.split_once("://") {
        Some((scheme, rest)) => {
            let auth_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
            match rest[..auth_end].rfind('@') {
                Some(at) => format!("{scheme}://{}", &rest[at + 1..]),
                None => url.to_string(),
            }
        }
        None => url.to_string(),
    };
    one_line(&without_userinfo, SHOW_MAX)
}

/// The scheme of an absolute URL (RFC 3986: a letter, then letters, digits, `+`, `-`, `.`, then `:`).
fn scheme_of(url: &str) -> Option<&str> {
    let colon = url.find(':')?;
    let scheme = &url[..colon];
    let mut chars = scheme.chars();
    let first = chars.next()?;
    (first.is_ascii_alphabetic()
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
    .then_some(scheme)
}

fn strip_fragment(url: &str) -> &str {
    url.split_once('#').map_or(url, |(u, _)| u)
}

/// A URL that passed the scheme/host rule and may be contacted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Target {
    /// The URL to request (fragment removed).
    pub(super) url: String,
    pub(super) loopback: bool,
}

/// Applies the scheme/host rule to `url` without any network access.
pub(super) fn check_target(
    url: &str,
    opts: &Options,
    via: Option<&str>,
) -> Result<Target, DiscoverError> {
    let bad = |reason: &str| DiscoverError::BadUrl {
        url: shown(url),
        reason: reason.to_string(),
    };
    let Some(scheme) = scheme_of(url) else {
        return Err(bad("no scheme; an issuer starts with https://"));
    };
    let https = scheme.eq_ignore_ascii_case("https");
    if !https && !scheme.eq_ignore_ascii_case("http") {
        return Err(DiscoverError::Scheme {
            url: shown(url),
            scheme: one_line(scheme, 20),
            via: via.map(shown),
        });
    }
    let Some(rest) = url[scheme.len() + 1..].strip_prefix("//") else {
        return Err(bad("no host"));
    };
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if hostport.starts_with('[') {
        match hostport.find(']') {
            Some(end) => &hostport[..=end],
            None => return Err(bad("unclosed [ in the host")),
        }
    } else {
        hostport.split_once(':').map_or(hostport, |(h, _)| h)
    };
    if host.is_empty() {
        return Err(bad("no host"));
    }
    let loopback = is_loopback_host(host);
    if !https && !loopback && !opts.allow_http {
        return Err(DiscoverError::PlainHttp {
            url: shown(url),
            via: via.map(shown),
        });
    }
    Ok(Target {
        url: strip_fragment(url).to_string(),
        loopback,
    })
}

/// Removes `.` and `..` segments from an absolute path (which may carry a query).
fn remove_dot_segments(path_and_query: &str) -> String {
    let (path, query) = match path_and_query.find('?') {
        Some(q) => path_and_query.split_at(q),
        None => (path_and_query, ""),
    };
    let segs: Vec<&str> = path.split('/').skip(1).collect();
    let mut out: Vec<&str> = Vec::new();
    for (i, seg) in segs.iter().enumerate() {
        let last = i + 1 == segs.len();
        match *seg {
            "." => {}
            ".." => {
                out.pop();
            }
            s => {
                out.push(s);
                continue;
            }
        }
        if last {
            out.push("");
        }
    }
    format!("/{}{query}", out.join("/"))
}

/// Resolves a `Location` header against the URL that sent it (RFC 3986 §5.2, without a URL crate).
fn resolve(base: &str, location: &str) -> Result<String, String> {
    let loc = location.trim();
    if loc.is_empty() {
        return Err("an empty Location header".into());
    }
    if scheme_of(loc).is_some() {
        return Ok(strip_fragment(loc).to_string());
    }
    let Some((scheme, rest)) = base.split_once("://") else {
        return Err("a Location that cannot be resolved".into());
    };
    let auth_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..auth_end];
    let tail = &rest[auth_end..];
    let base_path = &tail[..tail.find(['?', '#']).unwrap_or(tail.len())];
    let out = if let Some(r) = loc.strip_prefix("//") {
        format!("{scheme}://{r}")
    } else if loc.starts_with('/') {
        format!("{scheme}://{authority}{}", remove_dot_segments(loc))
    } else if loc.starts_with('?') {
        format!("{scheme}://{authority}{base_path}{loc}")
    } else if loc.starts_with('#') {
        base.to_string()
    } else {
        let dir = base_path.rfind('/').map_or("/", |i| &base_path[..=i]);
        format!(
            "{scheme}://{authority}{}",
            remove_dot_segments(&format!("{dir}{loc}"))
        )
    };
    Ok(strip_fragment(&out).to_string())
}

/// Checks that `der` is one complete DER SEQUENCE, as every X.509 certificate is.
fn looks_like_der_cert(der: &[u8]) -> bool {
    let (Some(&0x30), Some(&l)) = (der.first(), der.get(1)) else {
        return false;
    };
    let (len, header) = match l {
        0..=0x7f => (usize::from(l), 2),
        0x81..=0x84 => {
            let n = usize::from(l & 0x7f);
            let Some(bytes) = der.get(2..2 + n) else {
                return false;
            };
            (
                bytes
                    .iter()
                    .fold(0usize, |acc, &b| acc << 8 | usize::from(b)),
                2 + n,
            )
        }
        _ => return false,
    };
    header.checked_add(len) == Some(der.len())
}

/// The root certificates in the PEM file at `path`.
pub fn load_ca_file(path: &Path) -> Result<RootCerts, DiscoverError> {
    let err = |reason: String| DiscoverError::CaFile {
        path: path.to_path_buf(),
        reason: one_line(&reason, SHOW_MAX),
    };
    let pem = std::fs::read(path).map_err(|e| err(e.to_string()))?;
    let mut certs = Vec::new();
    for item in ureq::tls::parse_pem(&pem) {
        match item {
            Ok(PemItem::Certificate(c)) => {
                if !looks_like_der_cert(c.der()) {
                    return Err(err(format!(
                        "certificate {} in it is not an X.509 certificate",
                        certs.len() + 1
                    )));
                }
                certs.push(c);
            }
            Ok(_) => {}
            Err(e) => return Err(err(format!("it is not valid PEM ({e})"))),
        }
    }
    if certs.is_empty() {
        return Err(err(
            "it holds no PEM certificate (-----BEGIN CERTIFICATE-----)".into(),
        ));
    }
    Ok(RootCerts::new_with_certs(&certs))
}

pub(super) fn agent(opts: &Options) -> Result<Agent, DiscoverError> {
    let mut tls = TlsConfig::builder();
    if let Some(path) = &opts.ca_file {
        tls = tls.root_certs(load_ca_file(path)?);
    }
    let config = Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .tls_config(tls.build())
        .user_agent(concat!("ozrepair/", env!("CARGO_PKG_VERSION")))
        .build();
    Ok(Agent::new_with_config(config))
}

/// Whether `io` wraps a `T`, where `T` is named by the ureq error variant that carries it. Handshake and
/// certificate failures reach us as I/O errors around a `rustls::Error`; this finds them without
/// depending on the rustls crate directly.
fn wraps<T: std::error::Error + 'static>(_variant: fn(T) -> ureq::Error, io: &io::Error) -> bool {
    io.get_ref().is_some_and(|e| e.is::<T>())
}

/// Maps a ureq error met while talking to `url` to a [`DiscoverError`].
pub(super) fn from_ureq(e: ureq::Error, url: &str, opts: &Options) -> DiscoverError {
    let url = shown(url);
    let reason = |s: String| one_line(&s, SHOW_MAX);
    match e {
        ureq::Error::Timeout(_) => DiscoverError::Timeout {
            url,
            timeout: opts.timeout,
        },
        ureq::Error::Io(io) if io.kind() == io::ErrorKind::TimedOut => DiscoverError::Timeout {
            url,
            timeout: opts.timeout,
        },
        ureq::Error::HostNotFound => DiscoverError::HostNotFound { url },
        ureq::Error::BodyExceedsLimit(_) => DiscoverError::TooLarge { url },
        ureq::Error::BadUri(s) => DiscoverError::BadUrl {
            url,
            reason: reason(s),
        },
        ureq::Error::Http(h) => DiscoverError::BadUrl {
            url,
            reason: reason(h.to_string()),
        },
        ureq::Error::Tls(s) => DiscoverError::Tls {
            url,
            reason: reason(s.to_string()),
            ca_file: opts.ca_file.is_some(),
        },
        ureq::Error::Rustls(r) => DiscoverError::Tls {
            url,
            reason: reason(r.to_string()),
            ca_file: opts.ca_file.is_some(),
        },
        ureq::Error::Io(io) if wraps(ureq::Error::Rustls, &io) => DiscoverError::Tls {
            url,
            reason: reason(io.to_string()),
            ca_file: opts.ca_file.is_some(),
        },
        ureq::Error::Io(io) => DiscoverError::Connect {
            url,
            reason: reason(io.to_string()),
        },
        other => DiscoverError::Connect {
            url,
            reason: reason(other.to_string()),
        },
    }
}

/// What the body holds, for an error message: the parser's message and the start of the body.
fn not_json_detail(parse_error: &str, body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let start = text.trim_start();
    if start.is_empty() {
        return "the body is empty".into();
    }
    format!(
        "{}; it starts with \"{}\"",
        one_line(parse_error, SHOW_MAX),
        one_line(start, EXCERPT_MAX)
    )
}

/// The `issuer` string of a discovery document, read the way Go's encoding/json decodes it into
/// go-oidc's struct: keys match case-insensitively and the last match wins.
fn issuer_of(body: &[u8], url: &str) -> Result<String, DiscoverError> {
    let fields = jsonedit::top_level_fields(body).map_err(|e| match e {
        ConfigError::NotJson(msg) => DiscoverError::NotJson {
            url: shown(url),
            detail: not_json_detail(&msg, body),
        },
        ConfigError::NotObject => DiscoverError::NotObject { url: shown(url) },
    })?;
    let found = match jsonedit::string_value(body, &fields, "issuer") {
        StrValue::Str(s) if s.is_empty() => {
            return Err(DiscoverError::EmptyIssuer { url: shown(url) })
        }
        StrValue::Str(s) => return Ok(s),
        StrValue::Absent => "the key is missing".to_string(),
        StrValue::Null => "it is null".to_string(),
        StrValue::NotString(kind) => format!("it is {kind}"),
    };
    Err(DiscoverError::NoIssuer {
        url: shown(url),
        found,
    })
}

/// Asks the provider configured as `issuer` which issuer it publishes, and returns that string exactly.
pub fn published_issuer(issuer: &str, opts: &Options) -> Result<String, DiscoverError> {
    let (body, url) = document(issuer, opts)?;
    issuer_of(&body, &url)
}

/// The `token_endpoint` of the discovery document of `issuer` (read as Go reads it into go-oidc's
/// struct), or why it could not be learned (one line).
pub fn token_endpoint(issuer: &str, opts: &Options) -> Result<String, String> {
    let (body, url) = document(issuer, opts).map_err(|e| e.to_string())?;
    let fields = jsonedit::top_level_fields(&body)
        .map_err(|_| format!("discovery at {} is not a JSON object", shown(&url)))?;
    match jsonedit::string_value(&body, &fields, "token_endpoint") {
        StrValue::Str(s) if !s.is_empty() => Ok(s),
        _ => Err(format!(
            "discovery at {} names no token_endpoint",
            shown(&url)
        )),
    }
}

/// The discovery document of `issuer` (the body, and the URL it came from after redirects).
fn document(issuer: &str, opts: &Options) -> Result<(Vec<u8>, String), DiscoverError> {
    let first = discovery_url(issuer);
    let mut target = check_target(&first, opts, None)?;
    let agent = agent(opts)?;
    let start = Instant::now();
    let deadline = start.checked_add(opts.timeout);
    let mut redirects = 0;
    loop {
        let remaining = match deadline {
            Some(d) => d.saturating_duration_since(Instant::now()),
            None => opts.timeout,
        };
        if remaining.is_zero() {
            return Err(DiscoverError::Timeout {
                url: shown(&target.url),
                timeout: opts.timeout,
            });
        }
        let mut request = agent
            .get(target.url.as_str())
            .config()
            .timeout_global(Some(remaining));
        if target.loopback {
            // Never hand a loopback request to a proxy from the environment (Go does not either).
            request = request.proxy(None);
        }
        let mut response = request
            .build()
            .call()
            .map_err(|e| from_ureq(e, &target.url, opts))?;
        let status = response.status().as_u16();
        if matches!(status, 301 | 302 | 303 | 307 | 308) {
            let bad = |reason: String| DiscoverError::BadRedirect {
                url: shown(&target.url),
                status,
                reason,
            };
            let location = match response.headers().get("location") {
                None => return Err(bad("no Location header".into())),
                Some(v) => v
                    .to_str()
                    .map_err(|_| bad("a Location header that is not ASCII".into()))?,
            };
            let next = resolve(&target.url, location).map_err(bad)?;
            if redirects == MAX_REDIRECTS {
                return Err(DiscoverError::TooManyRedirects {
                    first: shown(&first),
                    last: shown(&next),
                });
            }
            redirects += 1;
            target = check_target(&next, opts, Some(&target.url))?;
            continue;
        }
        if status != 200 {
            return Err(DiscoverError::Status {
                url: shown(&target.url),
                status,
            });
        }
        let body = response
            .body_mut()
            .with_config()
            .limit(BODY_LIMIT)
            .read_to_vec()
            .map_err(|e| from_ureq(e, &target.url, opts))?;
        return Ok((body, target.url));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discovery_url_trims_exactly_one_slash() {
        let w = WELL_KNOWN;
        assert_eq!(
            discovery_url("https://oauth.id.jumpcloud.com/"),
            format!("https://oauth.id.jumpcloud.com{w}")
        );
        assert_eq!(
            discovery_url("https://oauth.id.jumpcloud.com"),
            format!("https://oauth.id.jumpcloud.com{w}")
        );
        assert_eq!(
            discovery_url("https://x.okta.com/oauth2/default"),
            format!("https://x.okta.com/oauth2/default{w}")
        );
        // Like strings.TrimSuffix: one slash only.
        assert_eq!(discovery_url("https://x//"), format!("https://x/{w}"));
        assert_eq!(discovery_url(""), w.to_string());
    }

    #[test]
    fn loopback_hosts() {
        for h in [
            "127.0.0.1",
            "127.0.0.5",
            "127.255.255.254",
            "[::1]",
            "::1",
            "localhost",
            "LOCALHOST",
            "LocalHost.",
            "[::ffff:127.0.0.1]",
        ] {
            assert!(is_loopback_host(h), "{h}");
        }
        for h in [
            "10.0.0.1",
            "128.0.0.1",
            "0.0.0.0",
            "[::]",
            "[fe80::1]",
            "idp.example.invalid",
            "localhost.example.com",
            "127.0.0.1.nip.io",
            "",
        ] {
            assert!(!is_loopback_host(h), "{h}");
        }
    }

    #[test]
    fn plain_http_rule() {
        let opts = Options::default();
        for ok in [
            "http://127.0.0.5:8080/x",
            "http://[::1]/x",
            "http://localhost/x",
            "http://LOCALHOST:1/x",
            "https://10.0.0.1/x",
            "https://idp.example.invalid",
        ] {
            assert!(check_target(ok, &opts, None).is_ok(), "{ok}");
        }
        let refused = check_target("http://10.0.0.1/x", &opts, None).unwrap_err();
        assert!(matches!(refused, DiscoverError::PlainHttp { .. }));
        assert_eq!(
            refused.to_string(),
            "plain http to http://10.0.0.1/x is refused (only loopback); pass --allow-http if you mean it"
        );
        // userinfo is not mistaken for the host, and never shown.
        let sneaky = check_target("http://127.0.0.1:pw@evil.example/x", &opts, None).unwrap_err();
        assert!(matches!(sneaky, DiscoverError::PlainHttp { .. }));
        assert!(!sneaky.to_string().contains("pw"), "{sneaky}");
        let allowed = Options {
            allow_http: true,
            ..Options::default()
        };
        assert!(check_target("http://10.0.0.1/x", &allowed, None).is_ok());
        for bad in [
            "ftp://127.0.0.1/x",
            "file:///etc/passwd",
            "javascript:alert(1)",
        ] {
            assert!(
                matches!(
                    check_target(bad, &allowed, None),
                    Err(DiscoverError::Scheme { .. })
                ),
                "{bad}"
            );
        }
        for bad in ["127.0.0.1/x", "https:x", "https:///x", "http://[::1/x"] {
            assert!(
                matches!(
                    check_target(bad, &allowed, None),
                    Err(DiscoverError::BadUrl { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn resolves_locations() {
        let base = "https://a.example/t/x/doc?q=1#f";
        for (loc, want) in [
            ("https://b.example/y", "https://b.example/y"),
            ("http://b.example/y#frag", "http://b.example/y"),
            ("//c.example/z", "https://c.example/z"),
            ("/abs", "https://a.example/abs"),
            ("/a/./b/../c", "https://a.example/a/c"),
            ("other", "https://a.example/t/x/other"),
            ("../up?k=v", "https://a.example/t/up?k=v"),
            ("../../../../top", "https://a.example/top"),
            ("?q=2", "https://a.example/t/x/doc?q=2"),
            ("..", "https://a.example/t/"),
        ] {
            assert_eq!(resolve(base, loc).as_deref(), Ok(want), "{loc}");
        }
        assert!(resolve(base, "  ").is_err());
    }

    #[test]
    fn messages_are_one_line_and_short() {
        assert_eq!(fmt_duration(Duration::from_secs(10)), "10s");
        assert_eq!(fmt_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(fmt_duration(Duration::from_millis(250)), "250ms");
        let long = format!("https://x/{}\n", "a".repeat(500));
        let s = shown(&long);
        assert!(!s.contains('\n'));
        assert!(s.chars().count() <= SHOW_MAX + 1);
        assert_eq!(status_text(404), "404 Not Found");
        assert_eq!(status_text(599), "599");
    }

    #[test]
    fn der_sanity() {
        assert!(looks_like_der_cert(&[0x30, 0x01, 0x00]));
        assert!(!looks_like_der_cert(&[0x30, 0x02, 0x00]));
        assert!(!looks_like_der_cert(b"hello world"));
        let mut long = vec![0x30, 0x82, 0x01, 0x00];
        long.extend(std::iter::repeat_n(0u8, 256));
        assert!(looks_like_der_cert(&long));
    }
}
