//! The Go checker of connector configs: `standin-go dexconfig` (tests/standin-go/src/ozrstandin/dexconfig.go),
//! built with Go 1.23 by scripts/build-standin-go.sh. It decodes a config with encoding/json into Go
//! structs that carry Dex's field names and types for every connector type, exactly as Dex's
//! `openConnector` does (an empty config is not decoded). Many configs go through one process.

use crate::util::engine::go_standin_built;
use crate::util::run;
use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// The Go stand-in's binary (built once per run, see [`go_standin_built`]).
pub fn standin_go_bin() -> PathBuf {
    go_standin_built().join("standin-go")
}

/// What Go (and so Dex) makes of one config.
#[derive(Debug, Clone)]
pub struct GoDecoded {
    /// encoding/json decoded it without an error (or it was empty and not decoded).
    pub ok: bool,
    /// The decoded Config, as json.Marshal writes it (when ok).
    pub value: Value,
    /// Dex's error (`parse connector config: …`) when not ok.
    pub error: String,
    /// The JSON path encoding/json names in a type error (`claimModifications.filterGroupClaims.groupsFilter`).
    pub field: Option<String>,
}

impl GoDecoded {
    /// The value Dex reads for the top-level string field `name` ("" when unset).
    pub fn string(&self, name: &str) -> Option<&str> {
        self.value.get(name).and_then(Value::as_str)
    }

    /// The value Dex reads for the string field at `path` (JSON names joined by dots, such as
    /// `claimMapping.email`); None under a nil pointer.
    pub fn string_at(&self, path: &str) -> Option<&str> {
        path.split('.')
            .try_fold(&self.value, |at, k| at.get(k))
            .and_then(Value::as_str)
    }
}

/// Standard base64, padded.
fn base64(b: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(b.len().div_ceil(3) * 4);
    for chunk in b.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &c)| n | (u32::from(c) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(A[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Decodes every (type, config) in one Go process: the requests are written on its stdin by a thread
/// while its answers are read, one line each, in order.
pub fn go_decode_all(reqs: &[(&str, &[u8])]) -> Vec<GoDecoded> {
    let mut child = Command::new(standin_go_bin())
        .args(["dexconfig", "decode"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start standin-go dexconfig decode");
    let mut stdin = child.stdin.take().expect("stdin");
    let lines: Vec<String> = reqs
        .iter()
        .map(|(typ, cfg)| {
            serde_json::json!({"type": typ, "config": base64(cfg)}).to_string() + "\n"
        })
        .collect();
    let writer = std::thread::spawn(move || {
        let mut w = std::io::BufWriter::new(&mut stdin);
        for l in &lines {
            w.write_all(l.as_bytes()).expect("write a request");
        }
        w.flush().expect("flush the requests");
    });
    let stdout = child.stdout.take().expect("stdout");
    let mut out = Vec::with_capacity(reqs.len());
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("read an answer");
        let v: Value = serde_json::from_str(&line).expect("an answer is JSON");
        out.push(GoDecoded {
            ok: v["ok"].as_bool().expect("ok"),
            value: v.get("value").cloned().unwrap_or(Value::Null),
            error: v["error"].as_str().unwrap_or_default().to_string(),
            field: v["field"].as_str().map(String::from),
        });
    }
    writer.join().expect("the writer");
    let status = child.wait().expect("wait for the checker");
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut e, &mut err);
    }
    assert!(status.success(), "the Go checker failed: {status:?} {err}");
    assert_eq!(out.len(), reqs.len(), "one answer per config");
    out
}

/// What Go makes of one config.
pub fn go_decode(typ: &str, config: &[u8]) -> GoDecoded {
    go_decode_all(&[(typ, config)]).remove(0)
}

/// Runs the Go stand-in with `args`; its stdout.
fn standin_go(args: &[&str]) -> String {
    let out = run::output_within(
        Command::new(standin_go_bin()).args(args),
        Duration::from_secs(120),
    );
    assert!(
        out.status.success(),
        "standin-go {args:?}: {:?} {}",
        out.status,
        out.stderr_text()
    );
    out.stdout_text()
}

/// Every connector type's fields as the Go checker's structs have them (`standin-go dexconfig schema`).
pub fn go_schema() -> Value {
    serde_json::from_str(&standin_go(&["dexconfig", "schema"])).expect("the schema is JSON")
}

/// What the fold-table generator prints (`standin-go foldtable`).
pub fn go_fold_table() -> String {
    standin_go(&["foldtable"])
}

/// The Go release a Go binary was built with, read from its build information (the `\xff Go buildinf:`
/// header, then the version as a length-prefixed string; Go 1.18 and later).
pub fn go_release_of(binary: &Path) -> String {
    let b = std::fs::read(binary).expect("read the binary");
    let magic = b"\xff Go buildinf:";
    let at = b
        .windows(magic.len())
        .position(|w| w == magic)
        .unwrap_or_else(|| panic!("{} has no Go build information", binary.display()));
    let flags = b[at + 15];
    assert!(flags & 2 != 0, "inline build information expected");
    let (mut len, mut shift, mut i) = (0usize, 0, at + 32);
    loop {
        let c = b[i];
        len |= usize::from(c & 0x7f) << shift;
        i += 1;
        if c & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
    String::from_utf8(b[i..i + len].to_vec()).expect("the version is text")
}
