//! The properties the fuzz targets check (`fuzz/`, `cargo +nightly fuzz run TARGET`), as plain functions
//! so that the committed corpus (`fuzz/corpus/TARGET/`) replays on stable in `cargo test` and a simple
//! mutation loop can run them without nightly (`OZR_FUZZ_SECS=N cargo test --release --lib props::`).
//! Each takes arbitrary bytes and panics when its property does not hold; none may panic otherwise.

use crate::dex::jsonedit::{self, StrValue};
use crate::report::redact::{Scrubber, LONG, REDACTED};

/// A property: panics on an input where it does not hold.
pub type Property = fn(&[u8]);

/// The fuzz targets, by name, as `fuzz/fuzz_targets/NAME.rs` calls them.
pub const TARGETS: [(&str, Property); 7] = [
    ("json_edit", json_edit),
    ("go_unquote", go_unquote),
    ("log_record", log_record),
    ("inventory", inventory),
    ("scrub", scrub),
    ("yaml_edit", yaml_edit),
    ("env_edit", env_edit),
];

/// `data` split at its first NUL: (before, after); all of it and nothing when there is none.
fn split0(data: &[u8]) -> (&[u8], &[u8]) {
    match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[]),
    }
}

/// The JSON editor: reading never panics (also the tolerant secret walk and Dex's model check); a
/// successful `set_string` changes exactly the bytes of the value Go decodes, and they read back as the
/// new value; Go's string escaping reads back as the string.
pub fn json_edit(data: &[u8]) {
    let (config, value) = split0(data);
    let value = String::from_utf8_lossy(value);
    let mut secrets = Vec::new();
    crate::dex::secrets::collect(config, &mut secrets);
    let _ = crate::dex::model::check("oidc", config);
    let _ = crate::dex::model::check("ldap", config);
    let quoted = jsonedit::go_json_string(&value);
    assert_eq!(
        jsonedit::go_json_unquote(quoted.as_bytes()).as_deref(),
        Some(&*value),
        "go_json_string reads back"
    );
    let Ok(fields) = jsonedit::top_level_fields(config) else {
        assert!(jsonedit::set_string(config, "issuer", &value).is_err());
        return;
    };
    let _ = jsonedit::string_value(config, &fields, "issuer");
    let span = jsonedit::decoded_field(config, &fields, "issuer").map(|f| f.value.clone());
    match jsonedit::set_string(config, "issuer", &value) {
        Ok(Some(out)) => {
            let span = span.expect("an edit has a target");
            let tail = config.len() - span.end;
            assert_eq!(&out[..span.start], &config[..span.start], "bytes before");
            assert_eq!(&out[out.len() - tail..], &config[span.end..], "bytes after");
            assert_eq!(
                &out[span.start..out.len() - tail],
                quoted.as_bytes(),
                "the value"
            );
            let f = jsonedit::top_level_fields(&out).expect("still JSON");
            assert_eq!(
                jsonedit::string_value(&out, &f, "issuer"),
                StrValue::Str(value.into_owned())
            );
        }
        Ok(None) => assert!(span.is_none(), "a field Go decodes was not edited"),
        Err(_) => {}
    }
}

/// Go's strconv.Unquote: never panics; what it reads is a prefix of the input, starts and ends with a
/// quote, and ends on a char boundary.
pub fn go_unquote(data: &[u8]) {
    let s = String::from_utf8_lossy(data);
    if let Some((_, n)) = crate::logs::goquote::go_unquote(&s) {
        assert!(n >= 2 && n <= s.len() && s.is_char_boundary(n), "{n}");
        assert!(s[..n].starts_with('"') && s[..n].ends_with('"'));
    }
}

/// The log reader: any lines, in any format, never panic; a failure's message stays bounded.
pub fn log_record(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let lines: Vec<crate::logs::LogLine> = text
        .split('\n')
        .enumerate()
        .map(|(i, l)| crate::logs::LogLine {
            time: if i % 3 == 0 {
                String::new()
            } else {
                format!("2026-01-01T00:00:{:02}.000000000Z", i % 60)
            },
            text: l.to_string(),
        })
        .collect();
    let found = crate::logs::scan_all(&lines);
    for f in &found.failures {
        assert!(
            f.message.chars().count() <= 300,
            "a failure message is bounded"
        );
    }
}

/// The inventory parser: never panics; an error names its line in one line; every host has an endpoint
/// and no empty value.
pub fn inventory(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    match crate::fleet::parse_inventory(&text) {
        Ok(hosts) => {
            for h in hosts {
                assert!(h.endpoint.contains("://"));
                assert!(h.container.as_ref().is_none_or(|c| !c.is_empty()));
                assert!(h.volume.as_ref().is_none_or(|v| !v.is_empty()));
            }
        }
        Err(e) => {
            let m = e.to_string();
            assert!(m.starts_with("inventory line "), "{m}");
            assert!(!m.contains('\n'), "one line: {m:?}");
        }
    }
}

/// The scrub: never panics; a string that is a secret becomes [redacted]; no secret of [`LONG`] bytes or
/// more is left in the text (for secrets without brackets, which the marker itself could complete).
pub fn scrub(data: &[u8]) {
    let (head, text) = split0(data);
    let text = String::from_utf8_lossy(text);
    let secrets: Vec<String> = head
        .split(|&b| b == b'\n')
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .filter(|s| !s.is_empty())
        .collect();
    let sc = Scrubber::new(&secrets);
    let out = sc.scrubbed(&text);
    if secrets.iter().any(|s| *s == *text) {
        assert_eq!(out, REDACTED);
    }
    for s in &secrets {
        if s.len() >= LONG && !s.contains(['[', ']']) {
            assert!(!out.contains(s.as_str()), "{s:?} left in {out:?}");
        }
    }
    for s in &secrets {
        assert_eq!(sc.scrubbed(s), REDACTED, "a secret alone");
    }
}

/// An error of the config editors: one line.
fn one_line(e: &anyhow::Error) {
    let m = e.to_string();
    assert!(!m.is_empty() && !m.contains('\n'), "one line: {m:?}");
}

/// The YAML editor: reading never panics and refuses in one line; for each of the first scalars it
/// reads, `replace` with the new value either refuses in one line or returns bytes that differ from the
/// input only inside that scalar's token, and read back with the scalar at the same path and place now
/// holding the new value.
pub fn yaml_edit(data: &[u8]) {
    use crate::config::yaml;
    let (file, new) = split0(data);
    let new = String::from_utf8_lossy(new);
    let all = match yaml::scalars(file) {
        Ok(all) => all,
        Err(e) => return one_line(&e),
    };
    for s in all.iter().take(4) {
        match yaml::replace(file, s, &new) {
            Ok(out) => {
                let tail = file.len() - s.span.end;
                assert!(out.len() >= tail && out.len() - tail >= s.span.start);
                assert_eq!(&out[..s.span.start], &file[..s.span.start], "bytes before");
                assert_eq!(&out[out.len() - tail..], &file[s.span.end..], "bytes after");
                let again = yaml::scalars(&out).expect("the result reads");
                let at = again.iter().find(|x| x.path == s.path).expect("the path");
                assert_eq!(at.value, new, "reads the new value");
                assert_eq!(
                    (at.span.start, at.span.end + tail),
                    (s.span.start, out.len())
                );
                assert_eq!(at.style, s.style, "the same style");
            }
            Err(e) => one_line(&e),
        }
    }
}

/// The env-file editor: reading never panics and refuses in one line; for each of the first assignments,
/// `replace` either refuses in one line or returns bytes that differ from the input only inside the
/// value's token, and read back with that key holding the new value, literal, in the same quoting.
pub fn env_edit(data: &[u8]) {
    use crate::config::envfile;
    let (file, new) = split0(data);
    let new = String::from_utf8_lossy(new);
    let all = match envfile::assignments(file) {
        Ok(all) => all,
        Err(e) => return one_line(&e),
    };
    for a in all.iter().take(4) {
        match envfile::replace(file, a, &new) {
            Ok(out) => {
                assert!(a.literal, "only literal values are edited");
                let tail = file.len() - a.span.end;
                assert!(out.len() >= tail && out.len() - tail >= a.span.start);
                assert_eq!(&out[..a.span.start], &file[..a.span.start], "bytes before");
                assert_eq!(&out[out.len() - tail..], &file[a.span.end..], "bytes after");
                let again = envfile::assignments(&out).expect("the result reads");
                let at = again
                    .iter()
                    .find(|x| x.line == a.line && x.key == a.key)
                    .expect("the key");
                assert_eq!(at.value, new, "reads the new value");
                assert!(at.literal && at.quote == a.quote && at.export == a.export);
                assert_eq!(
                    (at.span.start, at.span.end + tail),
                    (a.span.start, out.len())
                );
            }
            Err(e) => one_line(&e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("fuzz/corpus")
            .join(target);
        let mut out: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.expect("entry").path())
            .map(|p| {
                let b = std::fs::read(&p).expect("read");
                (p, b)
            })
            .collect();
        out.sort();
        out
    }

    /// Every committed corpus file through its target's property.
    #[test]
    fn corpus_replays_clean() {
        for (name, f) in TARGETS {
            let files = corpus(name);
            assert!(files.len() >= 3, "{name}: a seed corpus");
            for (p, b) in files {
                let r = std::panic::catch_unwind(|| f(&b));
                assert!(r.is_ok(), "{name}: {} fails its property", p.display());
            }
        }
    }

    /// A mutation loop on stable: the corpus mutated (bytes flipped, inserted, deleted, tokens spliced in,
    /// files crossed) for OZR_FUZZ_SECS seconds per target (default: a fraction of a second). A failing
    /// input is written to target/fuzz-failure-TARGET and named in the panic.
    #[test]
    fn mutation_loop() {
        let secs: f64 = std::env::var("OZR_FUZZ_SECS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.3);
        const TOKENS: [&[u8]; 24] = [
            b"{",
            b"}",
            b"[",
            b"]",
            b"\"",
            b"\\",
            b":",
            b",",
            b"\\u00",
            b"\\ud83d",
            b"null",
            b"issuer",
            b"iss\xc5\xbfuer",
            b"\"issuer\":",
            b"\xff",
            b"\xe2\x80\xa8",
            b"\x1b[",
            b"\n",
            b"=",
            b"container=",
            b"unix://",
            b"issuer did not match the issuer returned by provider, expected \"",
            b"\" got \"",
            b"\0",
        ];
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let mut rnd = move |n: usize| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % n.max(1) as u64) as usize
        };
        let mut total = 0u64;
        for (name, f) in TARGETS {
            let seeds: Vec<Vec<u8>> = corpus(name).into_iter().map(|(_, b)| b).collect();
            let until = std::time::Instant::now() + std::time::Duration::from_secs_f64(secs);
            while std::time::Instant::now() < until {
                let mut b = seeds[rnd(seeds.len())].clone();
                for _ in 0..1 + rnd(8) {
                    let at = rnd(b.len() + 1);
                    match rnd(6) {
                        0 if !b.is_empty() => {
                            let i = at.min(b.len() - 1);
                            b[i] ^= 1 << rnd(8);
                        }
                        1 if !b.is_empty() => {
                            let i = at.min(b.len() - 1);
                            b.remove(i);
                        }
                        2 => b.insert(at, rnd(256) as u8),
                        3 => {
                            let t = TOKENS[rnd(TOKENS.len())];
                            b.splice(at..at, t.iter().copied());
                        }
                        4 => {
                            let o = &seeds[rnd(seeds.len())];
                            let from = rnd(o.len() + 1);
                            let to = from + rnd(o.len() - from + 1);
                            b.splice(at..at, o[from..to].iter().copied());
                        }
                        _ if b.len() > 1 => {
                            let (len, from) = (b.len(), at.min(b.len()));
                            let to = (from + rnd(len - from + 1)).min(len);
                            b.drain(from..to);
                        }
                        _ => {}
                    }
                }
                total += 1;
                if std::panic::catch_unwind(|| f(&b)).is_err() {
                    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                        .join(format!("target/fuzz-failure-{name}"));
                    let _ = std::fs::write(&p, &b);
                    panic!("{name}: a mutated input fails, written to {}", p.display());
                }
            }
        }
        eprintln!("mutation loop: {total} inputs");
    }
}
