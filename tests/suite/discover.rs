//! `ozrepair::evidence::discover` against the HTTP stub on 127.0.0.1 (the only address these tests contact).

use crate::util::http::{Reply, StubServer};
use ozrepair::evidence::discover::{
    discovery_url, published_issuer, DiscoverError, Options, WELL_KNOWN,
};
use std::net::TcpListener;
use std::time::{Duration, Instant};

fn doc(issuer: &str) -> String {
    format!(r#"{{"issuer":"{issuer}","authorization_endpoint":"{issuer}/auth"}}"#)
}

fn short(ms: u64) -> Options {
    Options {
        timeout: Duration::from_millis(ms),
        ..Options::default()
    }
}

/// Asserts the error message is one line and names `url`.
fn one_line_naming(e: &DiscoverError, url: &str) -> String {
    let msg = e.to_string();
    eprintln!("{msg}");
    assert!(!msg.contains('\n'), "{msg}");
    assert!(msg.contains(url), "{msg} should name {url}");
    msg
}

#[test]
fn trailing_slash_published_is_returned_with_it() {
    let s = StubServer::start(|path, base| match path {
        "/.well-known/openid-configuration" => Reply::Body(200, doc(&format!("{base}/"))),
        _ => Reply::Body(404, String::new()),
    });
    let got = published_issuer(&s.base(), &Options::default()).expect("discovery");
    assert_eq!(got, format!("{}/", s.base()));
}

#[test]
fn issuer_without_slash_is_returned_without() {
    let s = StubServer::start(|path, base| match path {
        "/oauth2/default/.well-known/openid-configuration" => {
            Reply::Body(200, doc(&format!("{base}/oauth2/default")))
        }
        _ => Reply::Body(404, String::new()),
    });
    let configured = format!("{}/oauth2/default/", s.base());
    let got = published_issuer(&configured, &Options::default()).expect("discovery");
    assert_eq!(got, format!("{}/oauth2/default", s.base()));
}

#[test]
fn configured_trailing_slash_fetches_the_same_document() {
    let s = StubServer::start(|path, _| match path {
        "/t/.well-known/openid-configuration" => Reply::Body(200, doc("https://idp/t/")),
        _ => Reply::Body(404, String::new()),
    });
    let with = published_issuer(&format!("{}/t/", s.base()), &Options::default()).expect("with /");
    let without =
        published_issuer(&format!("{}/t", s.base()), &Options::default()).expect("without /");
    assert_eq!(with, "https://idp/t/");
    assert_eq!(without, "https://idp/t/");
    let want = format!("/t{WELL_KNOWN}");
    assert_eq!(s.hits(), vec![want.clone(), want]);
    assert_eq!(
        discovery_url(&format!("{}/t/", s.base())),
        discovery_url(&format!("{}/t", s.base()))
    );
}

#[test]
fn go_json_key_matching_last_case_insensitive_match_wins() {
    let s = StubServer::start(|_, _| {
        Reply::Body(
            200,
            r#"{"Issuer":"https://first","jwks_uri":"x","ISSUER":"https://last/"}"#.into(),
        )
    });
    let got = published_issuer(&s.base(), &Options::default()).expect("discovery");
    assert_eq!(got, "https://last/");
}

#[test]
fn status_404() {
    let s = StubServer::start(|_, _| Reply::Body(404, "{}".into()));
    let e = published_issuer(&s.base(), &Options::default()).unwrap_err();
    assert!(
        matches!(e, DiscoverError::Status { status: 404, .. }),
        "{e:?}"
    );
    let url = discovery_url(&s.base());
    let msg = one_line_naming(&e, &url);
    assert_eq!(
        msg,
        format!("discovery at {url} answered 404 Not Found; check the issuer URL or pass --issuer")
    );
}

#[test]
fn status_500() {
    let s = StubServer::start(|_, _| Reply::Body(500, "oops".into()));
    let e = published_issuer(&s.base(), &Options::default()).unwrap_err();
    assert!(
        matches!(e, DiscoverError::Status { status: 500, .. }),
        "{e:?}"
    );
    let msg = one_line_naming(&e, &discovery_url(&s.base()));
    assert!(msg.contains("answered 500 Internal Server Error"), "{msg}");
}

#[test]
fn redirect_is_followed() {
    let s = StubServer::start(|path, base| match path {
        "/old/.well-known/openid-configuration" => Reply::Redirect(302, "/new/doc".into()),
        "/new/doc" => Reply::Redirect(301, format!("{base}/newer/doc")),
        "/newer/doc" => Reply::Body(200, doc(&format!("{base}/new/"))),
        _ => Reply::Body(404, String::new()),
    });
    let got =
        published_issuer(&format!("{}/old", s.base()), &Options::default()).expect("discovery");
    assert_eq!(got, format!("{}/new/", s.base()));
    assert_eq!(
        s.hits(),
        vec![
            format!("/old{WELL_KNOWN}"),
            "/new/doc".into(),
            "/newer/doc".into()
        ]
    );
}

#[test]
fn redirect_loop_stops_after_five_hops() {
    let s = StubServer::start(|path, _| Reply::Redirect(302, path.to_string()));
    let e = published_issuer(&s.base(), &Options::default()).unwrap_err();
    assert!(matches!(e, DiscoverError::TooManyRedirects { .. }), "{e:?}");
    let msg = one_line_naming(&e, &discovery_url(&s.base()));
    assert!(msg.contains("redirected more than 5 times"), "{msg}");
    assert_eq!(s.hits().len(), 6, "the first request and 5 redirects");
}

#[test]
fn redirect_to_plain_http_elsewhere_is_refused() {
    let s = StubServer::start(|_, _| Reply::Redirect(302, "http://idp.example.invalid/doc".into()));
    let e = published_issuer(&s.base(), &Options::default()).unwrap_err();
    assert!(matches!(e, DiscoverError::PlainHttp { .. }), "{e:?}");
    let msg = one_line_naming(&e, "http://idp.example.invalid/doc");
    assert!(msg.contains("--allow-http"), "{msg}");
    assert!(
        msg.contains(&format!("redirected from {}", discovery_url(&s.base()))),
        "{msg}"
    );
    assert_eq!(s.hits().len(), 1);
}

#[test]
fn redirect_to_other_scheme_is_refused() {
    let s = StubServer::start(|_, _| Reply::Redirect(307, "ftp://127.0.0.1/doc".into()));
    let e = published_issuer(&s.base(), &Options::default()).unwrap_err();
    assert!(matches!(e, DiscoverError::Scheme { .. }), "{e:?}");
    one_line_naming(&e, "ftp://127.0.0.1/doc");
}

#[test]
fn invalid_json() {
    let s = StubServer::start(|_, _| Reply::Body(200, "<html>\n<body>login</body></html>".into()));
    let e = published_issuer(&s.base(), &Options::default()).unwrap_err();
    assert!(matches!(e, DiscoverError::NotJson { .. }), "{e:?}");
    let msg = one_line_naming(&e, &discovery_url(&s.base()));
    assert!(msg.contains("is not JSON ("), "{msg}");
    assert!(msg.contains("<html>"), "{msg}");
}

#[test]
fn json_without_issuer() {
    let s = StubServer::start(|_, _| Reply::Body(200, r#"{"jwks_uri":"https://x/keys"}"#.into()));
    let e = published_issuer(&s.base(), &Options::default()).unwrap_err();
    assert!(matches!(e, DiscoverError::NoIssuer { .. }), "{e:?}");
    let msg = one_line_naming(&e, &discovery_url(&s.base()));
    assert!(
        msg.contains(r#"has no "issuer" string (the key is missing)"#),
        "{msg}"
    );
}

#[test]
fn issuer_not_a_string() {
    for (body, what) in [
        (r#"{"issuer":42}"#, "it is a number"),
        (r#"{"issuer":null}"#, "it is null"),
        (r#"{"issuer":["https://x"]}"#, "it is an array"),
    ] {
        let s = StubServer::start(move |_, _| Reply::Body(200, body.into()));
        let e = published_issuer(&s.base(), &Options::default()).unwrap_err();
        assert!(matches!(e, DiscoverError::NoIssuer { .. }), "{e:?}");
        let msg = one_line_naming(&e, &discovery_url(&s.base()));
        assert!(msg.contains(what), "{msg}");
    }
}

#[test]
fn json_not_an_object_and_empty_issuer() {
    let s = StubServer::start(|path, _| match path {
        "/array/.well-known/openid-configuration" => Reply::Body(200, r#"["issuer"]"#.into()),
        _ => Reply::Body(200, r#"{"issuer":""}"#.into()),
    });
    let e = published_issuer(&format!("{}/array", s.base()), &Options::default()).unwrap_err();
    assert!(matches!(e, DiscoverError::NotObject { .. }), "{e:?}");
    let e = published_issuer(&s.base(), &Options::default()).unwrap_err();
    assert!(matches!(e, DiscoverError::EmptyIssuer { .. }), "{e:?}");
}

#[test]
fn body_over_one_mib_is_refused() {
    let s = StubServer::start(|_, _| {
        let pad = " ".repeat(1024 * 1024);
        Reply::Body(200, format!(r#"{{"issuer":"https://x"{pad}}}"#))
    });
    let e = published_issuer(&s.base(), &Options::default()).unwrap_err();
    assert!(matches!(e, DiscoverError::TooLarge { .. }), "{e:?}");
    one_line_naming(&e, &discovery_url(&s.base()));
}

#[test]
fn slow_headers_time_out() {
    let began = Instant::now();
    {
        let s =
            StubServer::start(|_, _| Reply::SlowHeaders(Duration::from_secs(3), doc("https://x")));
        let e = published_issuer(&s.base(), &short(1000)).unwrap_err();
        let took = began.elapsed();
        assert!(matches!(e, DiscoverError::Timeout { .. }), "{e:?}");
        let msg = one_line_naming(&e, &discovery_url(&s.base()));
        assert!(msg.contains("did not answer within 1s (timeout)"), "{msg}");
        assert!(took >= Duration::from_millis(900), "{took:?}");
        assert!(took < Duration::from_millis(2000), "{took:?}");
    }
    // The server and its sleeping handler are gone too, well before the handler's 3 s.
    assert!(
        began.elapsed() < Duration::from_millis(2500),
        "{:?}",
        began.elapsed()
    );
}

#[test]
fn slow_body_times_out() {
    let began = Instant::now();
    {
        let s = StubServer::start(|_, _| Reply::SlowBody(Duration::from_secs(3), doc("https://x")));
        let e = published_issuer(&s.base(), &short(700)).unwrap_err();
        assert!(matches!(e, DiscoverError::Timeout { .. }), "{e:?}");
        assert!(
            began.elapsed() < Duration::from_millis(1700),
            "{:?}",
            began.elapsed()
        );
    }
    assert!(
        began.elapsed() < Duration::from_millis(2500),
        "{:?}",
        began.elapsed()
    );
}

#[test]
fn plain_http_to_other_hosts_is_refused_before_connecting() {
    let began = Instant::now();
    let e = published_issuer("http://idp.example.invalid", &Options::default()).unwrap_err();
    assert!(matches!(e, DiscoverError::PlainHttp { .. }), "{e:?}");
    assert_eq!(
        e.to_string(),
        format!(
            "plain http to http://idp.example.invalid{WELL_KNOWN} is refused (only loopback); pass \
             --allow-http if you mean it"
        )
    );
    assert!(began.elapsed() < Duration::from_millis(200));
    let e = published_issuer("ftp://127.0.0.1/", &Options::default()).unwrap_err();
    assert!(matches!(e, DiscoverError::Scheme { .. }), "{e:?}");
}

#[test]
fn missing_or_bad_ca_file_is_a_clear_error() {
    let s = StubServer::start(|_, base| Reply::Body(200, doc(base)));
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("no-such-ca.pem");
    let opts = Options {
        ca_file: Some(missing.clone()),
        ..Options::default()
    };
    let e = published_issuer(&s.base(), &opts).unwrap_err();
    assert!(matches!(e, DiscoverError::CaFile { .. }), "{e:?}");
    let msg = one_line_naming(&e, &missing.display().to_string());
    assert!(msg.starts_with("cannot use CA file "), "{msg}");

    let garbage = dir.path().join("garbage.pem");
    std::fs::write(&garbage, "not a certificate\n").expect("write");
    let opts = Options {
        ca_file: Some(garbage.clone()),
        ..Options::default()
    };
    let e = published_issuer(&s.base(), &opts).unwrap_err();
    let msg = one_line_naming(&e, &garbage.display().to_string());
    assert!(msg.contains("no PEM certificate"), "{msg}");

    let bad_der = dir.path().join("bad-der.pem");
    std::fs::write(
        &bad_der,
        "-----BEGIN CERTIFICATE-----\naGVsbG8gd29ybGQ=\n-----END CERTIFICATE-----\n",
    )
    .expect("write");
    let opts = Options {
        ca_file: Some(bad_der),
        ..Options::default()
    };
    let e = published_issuer(&s.base(), &opts).unwrap_err();
    assert!(e.to_string().contains("not an X.509 certificate"), "{e}");
    assert!(
        s.hits().is_empty(),
        "a CA file error stops before any request"
    );
}

#[test]
fn connection_refused_is_one_line() {
    // A port that was just free: bind, note it, close.
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let issuer = format!("http://127.0.0.1:{port}");
    let e = published_issuer(&issuer, &short(2000)).unwrap_err();
    assert!(matches!(e, DiscoverError::Connect { .. }), "{e:?}");
    one_line_naming(&e, &discovery_url(&issuer));
}

#[test]
fn https_to_a_plain_http_server_is_a_tls_error() {
    let s = StubServer::start(|_, base| Reply::Body(200, doc(base)));
    let issuer = s.base().replacen("http://", "https://", 1);
    let e = published_issuer(&issuer, &short(3000)).unwrap_err();
    assert!(matches!(e, DiscoverError::Tls { .. }), "{e:?}");
    let msg = one_line_naming(&e, &discovery_url(&issuer));
    assert!(msg.contains("--ca-file"), "{msg}");

    // With a CA file, the hint says the file replaces the built-in roots.
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = dir.path().join("ca.pem");
    std::fs::write(
        &ca,
        "-----BEGIN CERTIFICATE-----\nMAMCAQA=\n-----END CERTIFICATE-----\n",
    )
    .expect("write");
    let opts = Options {
        ca_file: Some(ca),
        ..short(3000)
    };
    let e = published_issuer(&issuer, &opts).unwrap_err();
    assert!(
        matches!(e, DiscoverError::Tls { ca_file: true, .. }),
        "{e:?}"
    );
    let msg = one_line_naming(&e, &discovery_url(&issuer));
    assert!(msg.contains("replaces the built-in roots"), "{msg}");
}
