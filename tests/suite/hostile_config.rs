//! The config editors (`ozrepair::config::yaml`, `ozrepair::config::envfile`) against hostile files, one
//! test each, proven with the real readers:
//!
//! - YAML: every edited case is read before and after by the Go checker (`tests/yamlcheck-go`, built by
//!   scripts/build-yamlcheck-go.sh from Debian's packages) with both libraries the servers use: Dex's
//!   (ghodss/yaml over go-yaml v2) and NetBird's (gopkg.in/yaml.v3). The reading after the edit must equal
//!   the reading before with exactly that one value changed, and the bytes outside the value's token must
//!   be the same. A missing Go or package fails the test (the build script installs them).
//! - Env files: bash itself reads the file before and after (`set -a; . FILE`), and every key the file
//!   assigns must read the same except the one edited, which reads the new value.
//!
//! Every refused case is refused with one line.

use crate::util::{repo, run};
use ozrepair::config::yaml::{self, Scalar, Seg};
use ozrepair::config::{self as cfg, envfile, ConfigFile, Configs};
use ozrepair::plan::Store;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

// ---------------------------------------------------------------------------------------------------
// The harness.

/// The Go checker, built once per run (fast when nothing changed).
pub fn checker() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let built = run::output_within(
            &mut Command::new(repo().join("scripts/build-yamlcheck-go.sh")),
            Duration::from_secs(900),
        );
        assert!(
            built.status.success(),
            "scripts/build-yamlcheck-go.sh failed:\n{}",
            built.stderr_text()
        );
        repo().join("target/yamlcheck-go/ozryamlcheck")
    })
}

/// The YAML checker's binary (built once per run), for the test that it is a Go 1.23 build.
pub fn yamlcheck_bin() -> PathBuf {
    checker().to_path_buf()
}

/// What `reader` ("dex", "netbird", or a typed reader: "dex-flags", "netbird-flags",
/// "netbird-json-flags") reads from `bytes`, as JSON; Err with its message when it refuses.
pub fn go_read(reader: &str, bytes: &[u8]) -> Result<Value, String> {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("config.yaml");
    std::fs::write(&file, bytes).expect("write");
    let out = run::output(Command::new(checker()).arg(reader).arg(&file));
    match out.status.code() {
        Some(0) => Ok(serde_json::from_slice(&out.stdout).expect("the checker prints JSON")),
        Some(1) => Err(out.stderr_text()),
        _ => panic!("the checker failed: {}", out.stderr_text()),
    }
}

fn path(p: &[&str]) -> Vec<Seg> {
    p.iter()
        .map(|s| match s.parse() {
            Ok(i) => Seg::Index(i),
            Err(_) => Seg::Key(s.to_string()),
        })
        .collect()
}

fn at<'a>(v: &'a mut Value, p: &[Seg]) -> &'a mut Value {
    p.iter().fold(v, |v, s| match s {
        Seg::Key(k) => v.get_mut(k).expect("the key in Go's reading"),
        Seg::Index(i) => v.get_mut(*i).expect("the item in Go's reading"),
    })
}

fn scalar(src: &[u8], p: &[Seg]) -> Scalar {
    let all = yaml::scalars(src).expect("the file reads");
    all.into_iter()
        .find(|s| s.path == p)
        .expect("the path is a scalar")
}

/// Edits the scalar at `p` of `src` to `new` and proves it: bytes outside the token unchanged, and both
/// Go readers read the result as the original with exactly that value changed to `go` (what `new` reads
/// as: a JSON string, or a boolean for a plain true/false). Returns the result.
fn edits(src: &str, p: &[&str], new: &str, go: Value) -> String {
    let (src, p) = (src.as_bytes(), path(p));
    let s = scalar(src, &p);
    let out = yaml::replace(src, &s, new).expect("the edit is made");
    let tail = src.len() - s.span.end;
    assert_eq!(&out[..s.span.start], &src[..s.span.start], "bytes before");
    assert_eq!(&out[out.len() - tail..], &src[s.span.end..], "bytes after");
    for reader in ["dex", "netbird"] {
        let mut want = go_read(reader, src).expect("Go reads the original");
        *at(&mut want, &p) = go.clone();
        let got = go_read(reader, &out).expect("Go reads the result");
        assert_eq!(got, want, "{reader}: the result, read by Go");
    }
    String::from_utf8(out).expect("UTF-8")
}

/// One line that contains `word`.
fn one_line(e: anyhow::Error, word: &str) {
    let m = e.to_string();
    assert!(!m.contains('\n') && !m.is_empty(), "one line: {m:?}");
    assert!(m.contains(word), "{m:?} says {word:?}");
}

/// `src` is refused as a whole, with one line holding `word`.
fn unreadable(src: &str, word: &str) {
    one_line(yaml::scalars(src.as_bytes()).expect_err("refused"), word);
}

/// `src` reads, but replacing `p` with `new` is refused with one line holding `word`.
fn not_edited(src: &str, p: &[&str], new: &str, word: &str) {
    let s = scalar(src.as_bytes(), &path(p));
    one_line(
        yaml::replace(src.as_bytes(), &s, new).expect_err("refused"),
        word,
    );
}

const DEX: &str = "issuer: https://netbird.example.com/oauth2
storage:
  type: sqlite3
  config:
    file: /var/lib/netbird/idp.db
web:
  http: 0.0.0.0:5556
enablePasswordDB: true
oauth2:
  skipApprovalScreen: true
connectors:
- type: oidc
  id: jumpcloud
  name: JumpCloud
  config:
    issuer: https://oauth.id.jumpcloud.com # JumpCloud publishes the slash
    clientID: ozr
    scopes: [openid, profile, email]
    redirectURI: https://netbird.example.com/oauth2/callback
- type: oidc
  id: okta
  name: 'Okta ''prod'''
  config:
    issuer: \"https://example.okta.com\"
";

// ---------------------------------------------------------------------------------------------------
// YAML: edited.

#[test]
fn yaml_plain_issuer_beside_a_comment() {
    let out = edits(
        DEX,
        &["connectors", "0", "config", "issuer"],
        "https://oauth.id.jumpcloud.com/",
        json!("https://oauth.id.jumpcloud.com/"),
    );
    assert!(out.contains("    issuer: https://oauth.id.jumpcloud.com/ # JumpCloud publishes"));
}

#[test]
fn yaml_double_quoted_issuer_of_the_second_item() {
    edits(
        DEX,
        &["connectors", "1", "config", "issuer"],
        "https://example.okta.com/",
        json!("https://example.okta.com/"),
    );
}

#[test]
fn yaml_single_quoted_with_doubled_quotes() {
    let out = edits(
        DEX,
        &["connectors", "1", "name"],
        "Okta 'it''s'",
        json!("Okta 'it''s'"),
    );
    assert!(out.contains("  name: 'Okta ''it''''s'''\n"));
}

#[test]
fn yaml_double_quoted_escapes_read_and_written() {
    let src =
        "connectors:\n- id: a\n  config:\n    issuer: \"https://a/\\u00e9\\\"q\\\\\\x41\" # c\n";
    assert_eq!(
        scalar(
            src.as_bytes(),
            &path(&["connectors", "0", "config", "issuer"])
        )
        .value,
        "https://a/é\"q\\A"
    );
    let new = "https://b/\"\\é\u{2028}\u{7f}\u{feff}\t";
    edits(
        src,
        &["connectors", "0", "config", "issuer"],
        new,
        json!(new),
    );
}

#[test]
fn yaml_crlf_and_bom_are_kept() {
    let src = format!("\u{feff}{}", DEX.replace('\n', "\r\n"));
    let out = edits(
        &src,
        &["connectors", "0", "config", "issuer"],
        "https://oauth.id.jumpcloud.com/",
        json!("https://oauth.id.jumpcloud.com/"),
    );
    assert!(out.starts_with('\u{feff}'));
    assert_eq!(out.matches("\r\n").count(), out.matches('\n').count());
}

#[test]
fn yaml_four_spaces_and_indented_sequence() {
    let src = "connectors:\n    -   type: oidc\n        id: a\n        config:\n            issuer: 'https://a'\n    -   type: oidc\n        id: b\n        config:\n            issuer: https://b\n";
    edits(
        src,
        &["connectors", "1", "config", "issuer"],
        "https://b/",
        json!("https://b/"),
    );
}

#[test]
fn yaml_document_start_and_end_markers() {
    let src =
        "--- # Dex\nconnectors:\n  - id: a\n    config:\n      issuer: https://a\n...\n# end\n";
    edits(
        src,
        &["connectors", "0", "config", "issuer"],
        "https://a/",
        json!("https://a/"),
    );
}

#[test]
fn yaml_item_on_its_own_line_and_null_neighbours() {
    let src = "connectors:\n-\n  id: a\n  name:\n  config:\n    issuer:    https://a    # x\n    extra: ~\n";
    edits(
        src,
        &["connectors", "0", "config", "issuer"],
        "https://a/b",
        json!("https://a/b"),
    );
}

#[test]
fn yaml_enable_password_db_true_to_false() {
    let out = edits(DEX, &["enablePasswordDB"], "false", json!(false));
    assert!(out.contains("\nenablePasswordDB: false\n"));
}

#[test]
fn yaml_storage_file() {
    edits(
        DEX,
        &["storage", "config", "file"],
        "/var/lib/netbird/dex.db",
        json!("/var/lib/netbird/dex.db"),
    );
}

#[test]
fn yaml_netbird_local_auth_disabled() {
    let src = "server:\n  listenAddress: \":443\"\n  auth:\n    issuer: \"https://netbird.example.com/oauth2\"\n    localAuthDisabled: true  # no passwords\n    dashboardRedirectURIs:\n      - \"https://netbird.example.com/nb-auth\"\n";
    let out = edits(
        src,
        &["server", "auth", "localAuthDisabled"],
        "false",
        json!(false),
    );
    assert!(out.contains("    localAuthDisabled: false  # no passwords\n"));
}

// ---------------------------------------------------------------------------------------------------
// YAML: refused.

#[test]
fn yaml_refuses_a_second_document() {
    unreadable(&format!("{DEX}---\nissuer: x\n"), "more than one document");
    unreadable(&format!("{DEX}...\nissuer: x\n"), "more than one document");
    // An empty first document: Go reads that one (null), not the second.
    assert_eq!(
        go_read("dex", b"---\n---\na: 1\n").expect("reads"),
        Value::Null
    );
    unreadable("---\n# empty\n---\na: 1\n", "more than one document");
}

#[test]
fn yaml_refuses_anchors_aliases_and_merge_keys() {
    unreadable("connectors: &c\n- id: a\n", "anchor");
    unreadable(
        "a: &i https://a\nconnectors:\n- config:\n    issuer: *i\n",
        "anchor",
    );
    unreadable("connectors:\n- config:\n    issuer: *i\n", "alias");
    unreadable(
        "base: {issuer: x}\nconnectors:\n- config:\n    <<: x\n",
        "merge",
    );
}

#[test]
fn yaml_refuses_tags() {
    unreadable(
        "connectors:\n- config:\n    issuer: !!str https://a\n",
        "tag",
    );
    unreadable("connectors: !!seq\n- id: a\n", "tag");
}

#[test]
fn yaml_refuses_block_scalars() {
    unreadable(
        "connectors:\n- config:\n    issuer: |\n      https://a\n",
        "block scalar",
    );
    unreadable(
        "connectors:\n- config:\n    issuer: >-\n      https://a\n",
        "block scalar",
    );
}

/// A flow mapping (`config: {issuer: …, clientID: …}`), which Dex reads, is read like a block one: its
/// issuer edited in place and proven in both Go readers; its secrets are scrubbed; a plain value that would
/// end early inside the flow is refused; a flow over several lines is refused with its file and line.
#[test]
fn yaml_flow_mappings_are_read_and_edited() {
    let src = "issuer: https://vpn.example.com/dex\nconnectors:\n- type: oidc\n  id: jc\n  name: JumpCloud\n  config: {issuer: https://oauth.id.jumpcloud.com, clientID: abc, clientSecret: s3cr3t-flow-value, scopes: [openid, email]}\n";
    let p = ["connectors", "0", "config", "issuer"];
    let out = edits(
        src,
        &p,
        "https://oauth.id.jumpcloud.com/",
        json!("https://oauth.id.jumpcloud.com/"),
    );
    assert!(out.contains("{issuer: https://oauth.id.jumpcloud.com/, clientID: abc,"));
    edits(
        "connectors: [{id: a, config: {issuer: \"https://a\", name: 'x'}}]\n",
        &p,
        "https://a/\"",
        json!("https://a/\""),
    );
    let configs = Configs::of_files(vec![config_file("/etc/dex/config.yaml", src)]);
    let c = &configs.connectors[0];
    assert_eq!(
        (c.id.as_str(), c.issuer.as_deref()),
        ("jc", Some("https://oauth.id.jumpcloud.com"))
    );
    assert!(c.secrets.contains(&"s3cr3t-flow-value".to_string()));
    not_edited(src, &p, "https://a/?b=c", "flow collection");
    not_edited(src, &p, "https://a/,b", "flow collection");

    let multi =
        "issuer: x\nconnectors:\n- id: jc\n  config: {issuer: https://a,\n    clientID: abc}\n";
    assert!(go_read("dex", multi.as_bytes()).is_ok(), "Dex reads it");
    unreadable(multi, "YAML line 4");
    let configs = Configs::of_files(vec![config_file("/etc/dex/config.yaml", multi)]);
    assert!(
        configs
            .notes
            .iter()
            .any(|n| n.starts_with("/etc/dex/config.yaml: YAML line 4:")),
        "{:?}",
        configs.notes
    );
}

#[test]
fn yaml_refuses_tabs_as_indentation() {
    unreadable("connectors:\n- config:\n\tissuer: https://a\n", "tab");
    unreadable("connectors:\n- config:\n    issuer:\thttps://a\n", "tab");
}

#[test]
fn yaml_refuses_duplicate_keys() {
    // go-yaml v2 (Dex) takes the last, yaml.v3 (NetBird) refuses the file: which one is meant is a guess.
    let src = "connectors:\n- config:\n    issuer: https://a\n    issuer: https://b\n";
    assert_eq!(
        go_read("dex", src.as_bytes()).expect("v2 reads it"),
        json!({"connectors": [{"config": {"issuer": "https://b"}}]})
    );
    assert!(go_read("netbird", src.as_bytes()).is_err());
    unreadable(src, "twice");
}

#[test]
fn yaml_refuses_multi_line_scalars() {
    unreadable(
        "connectors:\n- config:\n    issuer: https://a\n      /b\n",
        "continued",
    );
    unreadable(
        "connectors:\n- config:\n    issuer: \"https://a\n      /b\"\n",
        "does not end",
    );
    unreadable(
        "connectors:\n- config:\n    issuer: 'https://a\n      /b'\n",
        "does not end",
    );
    unreadable(
        "connectors:\n- config:\n    issuer: \"https://a\\\n      /b\"\n",
        "continued",
    );
}

#[test]
fn yaml_refuses_dollar_values_dex_expands() {
    let src = "connectors:\n- config:\n    issuer: https://$IDP_HOST/\n    clientID: ${ID}\n    name: x\n";
    not_edited(
        src,
        &["connectors", "0", "config", "issuer"],
        "https://a/",
        "$",
    );
    not_edited(src, &["connectors", "0", "config", "name"], "$HOME", "$");
}

#[test]
fn yaml_refuses_a_plain_value_that_would_change_type_or_shape() {
    let p = ["connectors", "0", "config", "issuer"];
    // go-yaml v2 reads plain `yes` as a boolean: Dex would get true, not a string.
    assert_eq!(
        go_read("dex", b"a: yes\n").expect("reads"),
        json!({"a": true})
    );
    not_edited(DEX, &p, "yes", "same type");
    not_edited(DEX, &p, "123", "same type");
    not_edited(DEX, &p, "https://a # b", "plain");
    not_edited(DEX, &p, "'https://a'", "plain");
    not_edited(DEX, &p, "a: b", "plain");
    not_edited(DEX, &["enablePasswordDB"], "https://a", "same type");
}

#[test]
fn yaml_refuses_the_escape_go_yaml_refuses() {
    let src = "a: \"https://a\\/\"\n";
    assert!(go_read("dex", src.as_bytes()).is_err());
    assert!(go_read("netbird", src.as_bytes()).is_err());
    unreadable(src, "go-yaml");
}

#[test]
fn yaml_refuses_a_stale_scalar() {
    let s = scalar(
        DEX.as_bytes(),
        &path(&["connectors", "0", "config", "issuer"]),
    );
    let moved = format!("# a new first line\n{DEX}");
    one_line(
        yaml::replace(moved.as_bytes(), &s, "https://x/").expect_err("refused"),
        "read the file again",
    );
}

#[test]
fn yaml_refuses_directives_and_bad_characters() {
    unreadable("%YAML 1.1\n---\na: b\n", "directive");
    unreadable("a: b\u{2028}c\n", "U+2028");
    unreadable("a: b\u{85}c\n", "U+0085");
}

// ---------------------------------------------------------------------------------------------------
// Env files, proven with bash.

/// What bash has for each of `keys` after `set -a; . FILE` (with an empty environment); `<unset>` for a
/// key it did not set.
fn bash_reads(bytes: &[u8], keys: &[String]) -> Vec<String> {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("setup.env");
    std::fs::write(&file, bytes).expect("write");
    let out = run::output(
        Command::new("env")
            .args(["-i", "bash", "-c"])
            .arg(r#"set -a; . "$0" 2>/dev/null; for k; do printf '%s\0' "${!k-<unset>}"; done"#)
            .arg(&file)
            .args(keys),
    );
    assert!(out.status.success(), "bash: {}", out.stderr_text());
    let text = String::from_utf8(out.stdout).expect("UTF-8");
    let mut v: Vec<String> = text.split('\0').map(str::to_string).collect();
    v.pop();
    v
}

/// Edits `key` in `src` to `new` and proves it with bash: every key reads as before except `key`, which
/// reads `new`; the bytes outside the value's token are the same. Returns the result.
fn env_edits(src: &str, key: &str, new: &str) -> String {
    let src = src.as_bytes();
    let all = envfile::assignments(src).expect("the file reads");
    let a = all.iter().find(|a| a.key == key).expect("the key");
    let keys: Vec<String> = all.iter().map(|a| a.key.clone()).collect();
    let before = bash_reads(src, &keys);
    for (a, b) in all.iter().zip(&before) {
        if a.literal {
            assert_eq!(&a.value, b, "{}: read as bash reads it", a.key);
        }
    }
    let out = envfile::replace(src, a, new).expect("the edit is made");
    let tail = src.len() - a.span.end;
    assert_eq!(&out[..a.span.start], &src[..a.span.start], "bytes before");
    assert_eq!(&out[out.len() - tail..], &src[a.span.end..], "bytes after");
    let want: Vec<String> = keys
        .iter()
        .zip(&before)
        .map(|(k, b)| if k == key { new.to_string() } else { b.clone() })
        .collect();
    assert_eq!(bash_reads(&out, &keys), want, "bash reads the result");
    String::from_utf8(out).expect("UTF-8")
}

/// `key` in `src` is not edited to `new`: one line holding `word`. Returns what bash reads for it.
fn env_not_edited(src: &str, key: &str, new: &str, word: &str) -> String {
    let all = envfile::assignments(src.as_bytes()).expect("the file reads");
    let a = all.iter().rev().find(|a| a.key == key).expect("the key");
    one_line(
        envfile::replace(src.as_bytes(), a, new).expect_err("refused"),
        word,
    );
    bash_reads(src.as_bytes(), &[key.to_string()]).remove(0)
}

const ENV: &str = "## setup.env\n# Dashboard domain. e.g. app.mydomain.com\nNETBIRD_DOMAIN=\"netbird.example.com\"\n\n# OIDC\nNETBIRD_AUTH_OIDC_CONFIGURATION_ENDPOINT=\"https://idp.example.com/.well-known/openid-configuration\"\nNETBIRD_AUTH_AUDIENCE='netbird'\nNETBIRD_MGMT_IDP=none # comment\n  export   NETBIRD_USE_AUTH0=false   # spaces\nNETBIRD_AUTH_DEVICE_AUTH_PROVIDER=\"none\"\nNETBIRD_EMPTY=\n";

#[test]
fn env_double_quoted_endpoint() {
    let out = env_edits(
        ENV,
        "NETBIRD_AUTH_OIDC_CONFIGURATION_ENDPOINT",
        "https://oauth.id.jumpcloud.com/.well-known/openid-configuration",
    );
    assert!(out.contains("\nNETBIRD_AUTH_OIDC_CONFIGURATION_ENDPOINT=\"https://oauth.id.jumpcloud.com/.well-known/openid-configuration\"\n"));
}

#[test]
fn env_single_quoted() {
    env_edits(
        ENV,
        "NETBIRD_AUTH_AUDIENCE",
        "netbird client \"x\" $HOME `id` \\",
    );
}

#[test]
fn env_unquoted_beside_a_comment() {
    let out = env_edits(ENV, "NETBIRD_MGMT_IDP", "dex");
    assert!(out.contains("\nNETBIRD_MGMT_IDP=dex # comment\n"));
}

#[test]
fn env_export_with_spaces_around() {
    let out = env_edits(ENV, "NETBIRD_USE_AUTH0", "true");
    assert!(out.contains("\n  export   NETBIRD_USE_AUTH0=true   # spaces\n"));
    let a = envfile::assignments(out.as_bytes()).expect("reads");
    assert!(
        a.iter()
            .find(|a| a.key == "NETBIRD_USE_AUTH0")
            .expect("key")
            .export
    );
}

#[test]
fn env_empty_value_and_no_final_newline() {
    let src = ENV.trim_end_matches('\n');
    let out = env_edits(src, "NETBIRD_EMPTY", "https://x/y:1");
    assert!(out.ends_with("\nNETBIRD_EMPTY=https://x/y:1"));
}

#[test]
fn env_refuses_dollar_and_backquotes() {
    let src =
        "NETBIRD_DOMAIN=example.com\nA=\"https://$NETBIRD_DOMAIN/x\"\nB=${NETBIRD_DOMAIN}\nC=\\x\n";
    assert_eq!(
        env_not_edited(src, "A", "https://a/", "expands"),
        "https://example.com/x"
    );
    assert_eq!(env_not_edited(src, "B", "x", "expands"), "example.com");
    // Command substitutions: where they end needs a shell parser, so the file is not read at all.
    for src in [
        "A=`echo hi`\n",
        "A=\"$(echo \"hi\")\"\n",
        "A=${B:-\"x\"}\n",
        "A=$'a\\'b'\n",
    ] {
        one_line(
            envfile::assignments(src.as_bytes()).expect_err(src),
            "does not follow exactly",
        );
    }
    assert_eq!(env_not_edited(src, "C", "x", "expands"), "x");
    env_not_edited(src, "NETBIRD_DOMAIN", "$HOME", "literally");
    env_not_edited(ENV, "NETBIRD_DOMAIN", "a\"b", "literally");
    env_not_edited(ENV, "NETBIRD_AUTH_AUDIENCE", "it's", "literally");
    env_not_edited(ENV, "NETBIRD_MGMT_IDP", "a b", "literally");
}

#[test]
fn env_refuses_a_key_assigned_twice() {
    let src = "A=first\nA=\"second\"\n";
    assert_eq!(env_not_edited(src, "A", "x", "more than once"), "second");
}

#[test]
fn env_refuses_crlf_values_bash_reads_with_the_cr() {
    let src = "A=\"https://a\"\r\nB=b\r\n";
    assert_eq!(env_not_edited(src, "A", "x", "CRLF"), "https://a\r");
    assert_eq!(env_not_edited(src, "B", "x", "CRLF"), "b\r");
}

#[test]
fn env_refuses_a_bom_before_the_first_key() {
    let src = "\u{feff}A=1\nB=2\n";
    one_line(
        envfile::assignments(src.as_bytes()).expect_err("refused"),
        "byte order mark",
    );
    assert_eq!(
        bash_reads(src.as_bytes(), &["A".into(), "B".into()]),
        ["<unset>", "2"]
    );
    // After a comment line the mark is harmless to the assignments.
    env_edits("\u{feff}# c\nB=2\n", "B", "3");
}

#[test]
fn env_refuses_multi_line_values() {
    let src = "A=\"line one\nline two\"\nB=x\n";
    assert_eq!(
        env_not_edited(src, "A", "x", "expands"),
        "line one\nline two"
    );
    env_edits(src, "B", "y");
}

#[test]
fn env_refuses_lines_bash_runs_as_commands() {
    for src in [
        "A=a b\n",
        "A=1 B=2\n",
        "A=1; B=2\n",
        "source other.env\n",
        "A+=x\n",
        "A='x\n",
    ] {
        one_line(
            envfile::assignments(src.as_bytes()).expect_err(src),
            "env file line 1",
        );
    }
}

// ---------------------------------------------------------------------------------------------------
// YAML: the reader against Go on many mutated files.

/// What `reader` reads from each of many files, in one run: per file, the JSON it reads or its error.
fn go_batch(reader: &str, files: &[Vec<u8>]) -> Vec<Result<Value, String>> {
    let dir = tempfile::tempdir().expect("tempdir");
    let names: Vec<PathBuf> = files
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let p = dir.path().join(format!("{i:05}.yaml"));
            std::fs::write(&p, b).expect("write");
            p
        })
        .collect();
    let out = run::output(Command::new(checker()).args(["batch", reader]).args(&names));
    assert!(out.status.success(), "the checker: {}", out.stderr_text());
    let lines: Vec<Result<Value, String>> = out
        .stdout_text()
        .lines()
        .map(|l| {
            let mut v: Value = serde_json::from_str(l).expect("a JSON line");
            match v.get("error") {
                Some(e) => Err(e.as_str().unwrap_or_default().to_string()),
                None => Ok(v["value"].take()),
            }
        })
        .collect();
    assert_eq!(lines.len(), files.len(), "one line a file");
    lines
}

/// Both Go readers' readings of many files, one run each: per file, (dex, netbird).
fn go_read_many(files: &[Vec<u8>]) -> Vec<[Result<Value, String>; 2]> {
    go_batch("dex", files)
        .into_iter()
        .zip(go_batch("netbird", files))
        .map(|(d, n)| [d, n])
        .collect()
}

fn get<'a>(v: &'a Value, p: &[Seg]) -> Option<&'a Value> {
    p.iter().try_fold(v, |v, s| match s {
        Seg::Key(k) => v.get(k),
        Seg::Index(i) => v.get(*i),
    })
}

/// What Go reads for `value` written plain or quoted: a quoted one is a string; a plain one a string,
/// a boolean, or (numbers, nulls, YAML 1.1 words) something this check does not pin down.
fn agrees(s: &Scalar, go: &Value) -> bool {
    match (s.style, go) {
        (_, Value::String(g)) => *g == s.value,
        (yaml::Style::Plain, Value::Bool(b)) => {
            let l = s.value.to_ascii_lowercase();
            if *b {
                ["true", "yes", "on", "y"].contains(&l.as_str())
            } else {
                ["false", "no", "off", "n"].contains(&l.as_str())
            }
        }
        (yaml::Style::Plain, _) => true,
        _ => false,
    }
}

/// Files mutated from hostile seeds (bytes and YAML tokens spliced in, lines dropped and crossed): every
/// one the reader accepts is read by both Go libraries, each scalar reads as Go reads it at its path, and
/// every edit the editor makes on them reads in Go as the original with exactly that value changed.
#[test]
fn yaml_reader_and_editor_agree_with_go_on_mutants() {
    let seeds: Vec<String> = vec![
        DEX.to_string(),
        format!("\u{feff}---\r\n{}", DEX.replace('\n', "\r\n")),
        "server:\n  auth:\n    issuer: \"https://nb/\\u00e9\\\"\\\\\"\n    localAuthDisabled: true # c\n    uris:\n      - 'it''s'\n      - \"b\"\n".into(),
        "connectors:\n    -   id: a\n        config:\n            issuer: x y # z\n            n:\n-\n  k: ~\n...\n".into(),
        "a:\n- b\n- - c\n  - d\n-\n  - e: f\n    g: [h, {i: j}]\n".into(),
        "connectors: [{id: a, config: {issuer: https://a/b, clientID: 'x y', scopes: [openid, \"e\"]}}]\nc: {issuer: \"https://c\" , k: [], m: {}}\n".into(),
    ];
    const TOKENS: [&str; 34] = [
        ": ", "- ", "#", " #", "'", "\"", "\\", "\n", "\r\n", "  ", "\t", "---\n", "...\n", "&a ",
        "*a", "!!str ", "|", ">", "[", "]", "{", "}", ",", "? ", "yes", "~", "\\u00e9", "\\/",
        "<<: ", "\u{feff}", "%", "$X", "true", "0x1",
    ];
    // OZR_YAML_MUTANTS=N[,SEED] runs more of them (the default is what the suite runs).
    let knob = std::env::var("OZR_YAML_MUTANTS").unwrap_or_default();
    let mut knob = knob.split(',').map(|v| v.parse::<u64>().ok());
    let count = knob.next().flatten().unwrap_or(1500) as usize;
    let mut x: u64 = knob.next().flatten().unwrap_or(0x9e37_79b9_7f4a_7c15) | 1;
    let mut rnd = move |n: usize| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x % n.max(1) as u64) as usize
    };
    let mut mutants: Vec<Vec<u8>> = Vec::new();
    while mutants.len() < count {
        let mut b = seeds[rnd(seeds.len())].clone().into_bytes();
        for _ in 0..1 + rnd(3) {
            let at = rnd(b.len() + 1);
            let ins: Vec<u8> = match rnd(4) {
                0 => TOKENS[rnd(TOKENS.len())].as_bytes().to_vec(),
                1 => {
                    if at < b.len() {
                        b.remove(at);
                    }
                    Vec::new()
                }
                2 => {
                    let o = seeds[rnd(seeds.len())].as_bytes();
                    let from = rnd(o.len());
                    let to = (from + rnd(40)).min(o.len());
                    o[from..to].to_vec()
                }
                _ => vec![b' '],
            };
            let at = at.min(b.len());
            b.splice(at..at, ins);
        }
        if yaml::scalars(&b).is_ok() {
            mutants.push(b);
        }
    }
    let go = go_read_many(&mutants);
    let news = [
        "https://x/",
        "false",
        "é\"'\\ #x",
        "true",
        "a'b\"c\\d, [e]{f}: g",
        "ü ö\u{2028}\u{85}\t",
        "https://a/b?c=d&e#f",
    ];
    let mut edited: Vec<(usize, Vec<Seg>, Value, Vec<u8>)> = Vec::new();
    for (i, (m, readings)) in mutants.iter().zip(&go).enumerate() {
        let all = yaml::scalars(m).expect("accepted");
        let text = String::from_utf8_lossy(m);
        for (r, reading) in ["dex", "netbird"].iter().zip(readings) {
            let v = reading.as_ref().unwrap_or_else(|e| {
                panic!("{r} refuses a file the reader accepts ({e}): {text:?}")
            });
            for s in &all {
                let g = get(v, &s.path)
                    .unwrap_or_else(|| panic!("{r}: no {:?} in {v} for {text:?}", s.path));
                assert!(
                    agrees(s, g),
                    "{r}: {:?} reads {g}, not {:?}: {text:?}",
                    s.path,
                    s.value
                );
            }
        }
        for s in all.iter().take(2) {
            let new = news[rnd(news.len())];
            if let Ok(out) = yaml::replace(m, s, new) {
                let want = match (s.style, new) {
                    (yaml::Style::Plain, "true") => json!(true),
                    (yaml::Style::Plain, "false") => json!(false),
                    _ => json!(new),
                };
                edited.push((i, s.path.clone(), want, out));
            }
        }
    }
    assert!(edited.len() > count / 5, "{} edits made", edited.len());
    let outs: Vec<Vec<u8>> = edited.iter().map(|e| e.3.clone()).collect();
    for ((i, p, want, out), after) in edited.iter().zip(go_read_many(&outs)) {
        for (k, after) in after.into_iter().enumerate() {
            let mut before = go[*i][k].clone().expect("read before");
            *at(&mut before, p) = want.clone();
            let after = after.unwrap_or_else(|e| {
                panic!(
                    "Go refuses the edit ({e}): {:?}",
                    String::from_utf8_lossy(out)
                )
            });
            assert_eq!(after, before, "{:?}", String::from_utf8_lossy(out));
        }
    }
    eprintln!(
        "{} accepted mutants, {} edits proven in Go",
        mutants.len(),
        edited.len()
    );
}

// ---------------------------------------------------------------------------------------------------
// Env files: the reader and editor against bash on many mutated files.

/// What bash has after sourcing each file (in a subshell each, `set -a`, an empty environment and no
/// PATH, so nothing but builtins can run) for each of its keys; `<unset>` for one it did not set.
fn bash_reads_many(files: &[(Vec<u8>, Vec<String>)]) -> Vec<Vec<String>> {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut names = Vec::new();
    for (i, (b, keys)) in files.iter().enumerate() {
        let p = dir.path().join(format!("{i:05}.env"));
        std::fs::write(&p, b).expect("write");
        std::fs::write(p.with_extension("keys"), keys.join("\n") + "\n").expect("write");
        names.push(p);
    }
    let script = r#"for f; do (set -a; . "$f" >/dev/null 2>&1; while IFS= read -r k; do printf '%s\0' "${!k-<unset>}"; done < "${f%.env}.keys"); printf '\1\0'; done"#;
    let out = run::output(
        Command::new("env")
            .args(["-i", "PATH=", "/bin/bash", "-c", script, "bash"])
            .args(&names)
            .current_dir(dir.path()),
    );
    assert!(out.status.success(), "bash: {}", out.stderr_text());
    let mut all = Vec::new();
    let mut cur = Vec::new();
    for v in out.stdout.split(|&b| b == 0) {
        if v == b"\x01" {
            all.push(std::mem::take(&mut cur));
        } else if !v.is_empty() || !cur.is_empty() || all.len() < files.len() {
            cur.push(String::from_utf8_lossy(v).into_owned());
        }
    }
    assert_eq!(all.len(), files.len(), "one reading a file");
    all
}

/// Env files mutated from hostile seeds: for every one the reader accepts, each key assigned once with a
/// literal value reads in bash exactly as the reader says, and every edit the editor makes reads in bash
/// as the original with exactly that key changed.
#[test]
fn env_reader_and_editor_agree_with_bash_on_mutants() {
    let seeds = [
        ENV.to_string(),
        ENV.replace('\n', "\r\n"),
        "A=\"$HOME/x\"\nB='it'\nC=a\\ b\n  export D=1 # c\nE=\"multi\nline\"\nF=\nG=x=y:z,@%+^\n"
            .to_string(),
        "\u{feff}# c\nexport K\nK=\"v w\"\nL='#x'\nM=v#w\n".to_string(),
    ];
    const TOKENS: [&str; 24] = [
        "\"", "'", "$", "`", "\\", "#", " #", "\n", "\r\n", " ", "\t", "=", "export ", ";", "(",
        "~", "*", "\u{feff}", "{", "}", "!", "&", "é", "A=",
    ];
    // OZR_ENV_MUTANTS=N[,SEED] runs more of them (the default is what the suite runs).
    let knob = std::env::var("OZR_ENV_MUTANTS").unwrap_or_default();
    let mut knob = knob.split(',').map(|v| v.parse::<u64>().ok());
    let count = knob.next().flatten().unwrap_or(600) as usize;
    let mut x: u64 = knob.next().flatten().unwrap_or(0x2545_f491_4f6c_dd1d) | 1;
    let mut rnd = move |n: usize| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x % n.max(1) as u64) as usize
    };
    let mut files: Vec<(Vec<u8>, Vec<String>)> = Vec::new();
    while files.len() < count {
        let mut b = seeds[rnd(seeds.len())].clone().into_bytes();
        for _ in 0..1 + rnd(3) {
            let at = rnd(b.len() + 1).min(b.len());
            let ins: Vec<u8> = match rnd(3) {
                0 => TOKENS[rnd(TOKENS.len())].as_bytes().to_vec(),
                1 => {
                    if at < b.len() {
                        b.remove(at);
                    }
                    Vec::new()
                }
                _ => {
                    let o = seeds[rnd(seeds.len())].as_bytes();
                    let from = rnd(o.len());
                    o[from..(from + rnd(30)).min(o.len())].to_vec()
                }
            };
            let at = at.min(b.len());
            b.splice(at..at, ins);
        }
        if let Ok(all) = envfile::assignments(&b) {
            let keys = all.iter().map(|a| a.key.clone()).collect();
            files.push((b, keys));
        }
    }
    let before = bash_reads_many(&files);
    let news = ["https://x/", "v", "", "é:/@%"];
    // Per edit: the result, its keys, what each must read (None: not compared).
    type Edit = (Vec<u8>, Vec<String>, Vec<Option<String>>);
    let mut edited: Vec<Edit> = Vec::new();
    for ((b, keys), read) in files.iter().zip(&before) {
        let all = envfile::assignments(b).expect("accepted");
        for (a, got) in all.iter().zip(read) {
            if a.literal && all.iter().filter(|x| x.key == a.key).count() == 1 {
                assert_eq!(*got, a.value, "{}: {:?}", a.key, String::from_utf8_lossy(b));
            }
        }
        for a in all.iter().take(2) {
            let new = news[rnd(news.len())];
            if let Ok(out) = envfile::replace(b, a, new) {
                // A key whose last assignment is not literal may read differently in another shell
                // (`$#`, `$$`, `$RANDOM`): only the others are compared.
                let want = keys
                    .iter()
                    .zip(read)
                    .map(|(k, v)| {
                        let last = all.iter().rev().find(|x| x.key == *k).expect("assigned");
                        if *k == a.key {
                            Some(new.to_string())
                        } else {
                            last.literal.then(|| v.clone())
                        }
                    })
                    .collect();
                edited.push((out, keys.clone(), want));
            }
        }
    }
    assert!(edited.len() > count / 3, "{} edits made", edited.len());
    let outs: Vec<(Vec<u8>, Vec<String>)> = edited
        .iter()
        .map(|(o, k, _)| (o.clone(), k.clone()))
        .collect();
    for ((out, _, want), got) in edited.iter().zip(bash_reads_many(&outs)) {
        let got: Vec<Option<String>> = got
            .into_iter()
            .zip(want)
            .map(|(g, w)| w.as_ref().map(|_| g))
            .collect();
        assert_eq!(got, *want, "{:?}", String::from_utf8_lossy(out));
    }
    eprintln!(
        "{} accepted env files, {} edits proven in bash",
        files.len(),
        edited.len()
    );
}

// ---------------------------------------------------------------------------------------------------
// Booleans as each server reads them (issue 23), proven with the real decoders: Dex's (ghodss/yaml over
// go-yaml v2 into its Config's bool), NetBird's (yaml.v3 into CombinedConfig's bool; encoding/json into
// management.json's).

/// A config file ozrepair read from `path`, holding `text`.
fn config_file(path: &str, text: &str) -> ConfigFile {
    ConfigFile {
        path: PathBuf::from(path),
        in_container: String::new(),
        format: cfg::format_of(Path::new(path)).expect("a config file name"),
        bytes: text.as_bytes().to_vec(),
    }
}

/// Every spelling go-yaml v2 reads as a boolean, and some that no reader does.
const BOOLEAN_WORDS: [&str; 25] = [
    "y", "Y", "yes", "Yes", "YES", "on", "On", "ON", "true", "True", "TRUE", "n", "N", "no", "No",
    "NO", "off", "Off", "OFF", "false", "False", "FALSE", "yEs", "1", "enabled",
];

/// For each word written plain, single- and double-quoted as the value of the setting in `file_of`,
/// ozrepair reads what the server's decoder (`reader`, `field`) reads: the same boolean, or no boolean
/// (counted as unread, with a note naming the file and line) where the decoder refuses the file. Where
/// the value is a boolean to the server but not to a YAML 1.2 reader that does not know the field's type
/// (yaml.v3 into `interface{}`), a note says so.
fn flags_read_as(
    reader: &str,
    field: &str,
    pointer: &str,
    file_of: impl Fn(&str) -> String,
    line: usize,
) {
    let path = "/etc/dex/config.yaml";
    let values: Vec<String> = BOOLEAN_WORDS
        .iter()
        .flat_map(|w| [w.to_string(), format!("'{w}'"), format!("\"{w}\"")])
        .collect();
    let files: Vec<Vec<u8>> = values.iter().map(|v| file_of(v).into_bytes()).collect();
    let typed = go_batch(reader, &files);
    let untyped = go_batch("netbird", &files);
    for ((v, bytes), (typed, untyped)) in values.iter().zip(&files).zip(typed.iter().zip(&untyped))
    {
        let text = String::from_utf8_lossy(bytes);
        let ours = Configs::of_files(vec![config_file(path, &text)]);
        let at = format!("{path} line {line}:");
        match typed {
            Ok(go) => {
                assert_eq!(ours.login_flags.len(), 1, "{reader} reads {v}: {go}");
                assert_eq!(json!(ours.login_flags[0].value), go[field], "{reader}: {v}");
                let generic = untyped.as_ref().expect("yaml.v3 reads it").pointer(pointer);
                let noted = ours.notes.iter().any(|n| n.starts_with(&at));
                assert_eq!(
                    noted,
                    generic != Some(&go[field]),
                    "{reader}: {v} reads {generic:?} to yaml.v3 untyped: {:?}",
                    ours.notes
                );
            }
            Err(e) => {
                assert!(ours.login_flags.is_empty(), "{reader} refuses {v} ({e})");
                assert_eq!(ours.unread_flags, 1, "{reader}: {v}");
                assert!(
                    ours.notes
                        .iter()
                        .any(|n| n.starts_with(&at) && n.contains("does not read as a boolean")),
                    "{reader}: {v}: {:?}",
                    ours.notes
                );
            }
        }
    }
}

#[test]
fn yaml_booleans_are_read_as_dex_reads_them() {
    flags_read_as(
        "dex-flags",
        "enablePasswordDB",
        "/enablePasswordDB",
        |v| format!("issuer: https://vpn.example.com/dex\nenablePasswordDB: {v} # the door\n"),
        2,
    );
}

#[test]
fn yaml_booleans_are_read_as_netbird_reads_them() {
    flags_read_as(
        "netbird-flags",
        "localAuthDisabled",
        "/server/auth/localAuthDisabled",
        |v| {
            format!("server:\n  auth:\n    issuer: https://vpn.example.com/oauth2\n    localAuthDisabled: {v}\n")
        },
        4,
    );
}

/// management.json's flag is read as encoding/json reads it: `true` and `false` only; a string is no
/// boolean (NetBird refuses the file), named with its line.
#[test]
fn json_booleans_are_read_as_netbird_reads_them() {
    for v in ["true", "false", "\"true\"", "1", "null"] {
        let text = format!("{{\n  \"EmbeddedIdP\": {{\n    \"LocalAuthDisabled\": {v}\n  }}\n}}\n");
        let go = go_read("netbird-json-flags", text.as_bytes());
        let ours = Configs::of_files(vec![config_file("/etc/netbird/management.json", &text)]);
        match (v, go) {
            ("null", Ok(go)) => {
                // Go leaves the bool false: local login is on, and there is nothing to change.
                assert_eq!(go["localAuthDisabled"], json!(false));
                assert!(ours.login_flags.is_empty() && ours.unread_flags == 0);
            }
            (_, Ok(go)) => {
                assert_eq!(
                    json!(ours.login_flags[0].value),
                    go["localAuthDisabled"],
                    "{v}"
                );
            }
            (_, Err(_)) => {
                assert_eq!((ours.login_flags.len(), ours.unread_flags), (0, 1), "{v}");
                assert!(
                    ours.notes[0].starts_with("/etc/netbird/management.json line 3:"),
                    "{:?}",
                    ours.notes
                );
            }
        }
    }
}

/// `local-login --enable` sees Dex's `enablePasswordDB: no` (and every other YAML 1.1 "off") as off and
/// turns it on in the word's own family and spelling; NetBird's quoted `"yes"` likewise. Each result is
/// read by the server's own decoder as on, and by both generic readers as the original with only that
/// value changed; the bytes around it are untouched.
#[test]
fn local_login_turns_yaml_1_1_words_on_as_the_servers_read_them() {
    let dex = |v: &str| {
        format!("issuer: https://vpn.example.com/dex\nenablePasswordDB: {v}   # local login\nconnectors: []\n")
    };
    let nb = |v: &str| format!("server:\n  auth:\n    localAuthDisabled: {v} # no passwords\n");
    let cases: Vec<(String, String, &str, Value)> = [
        ("no", "yes"),
        ("No", "Yes"),
        ("NO", "YES"),
        ("off", "on"),
        ("Off", "On"),
        ("OFF", "ON"),
        ("n", "y"),
        ("N", "Y"),
        ("false", "true"),
    ]
    .iter()
    .map(|(off, on)| {
        (
            dex(off),
            dex(on),
            "dex-flags",
            json!({"enablePasswordDB": true}),
        )
    })
    .chain(
        [
            ("yes", "no"),
            ("'on'", "'off'"),
            ("\"Y\"", "\"N\""),
            ("TRUE", "FALSE"),
        ]
        .iter()
        .map(|(off, on)| {
            (
                nb(off),
                nb(on),
                "netbird-flags",
                json!({"localAuthDisabled": false}),
            )
        }),
    )
    .collect();
    for (before, after, reader, on) in cases {
        assert_ne!(
            go_read(reader, before.as_bytes()).expect("reads"),
            on,
            "{before}"
        );
        let file = config_file("/etc/dex/config.yaml", &before);
        let configs = Configs::of_files(vec![file.clone()]);
        let plan = ozrepair::plan::door::local_login(&[], &configs, None, false);
        let files: Vec<_> = plan
            .changes
            .iter()
            .filter(|c| matches!(c.store, Store::File { .. }))
            .collect();
        assert_eq!(files.len(), 1, "{before}: {:?}", plan.notes);
        let c = files[0];
        let Store::File { path, kind, .. } = &c.store else {
            unreachable!()
        };
        let out = cfg::edit(&file, path, *kind, &c.from, &c.to).expect("edited");
        assert_eq!(String::from_utf8(out.clone()).expect("UTF-8"), after);
        assert_eq!(go_read(reader, &out).expect("reads"), on, "{after}");
        // Nothing else moved, as either generic reader reads the file.
        for generic in ["dex", "netbird"] {
            let mut want = go_read(generic, before.as_bytes()).expect("reads");
            let got = go_read(generic, &out).expect("reads");
            let p: Vec<Seg> = path.clone();
            *at(&mut want, &p) = at(&mut got.clone(), &p).clone();
            assert_eq!(got, want, "{generic}: {after}");
        }
    }
}
