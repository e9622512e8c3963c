//! Env files (shell assignments) read for in-place edits: the setup env file NetBird's
//! `infrastructure_files/configure.sh` reads with `source setup.env` (bash), lines such as
//! `NETBIRD_AUTH_OIDC_CONFIGURATION_ENDPOINT="https://idp.example.com/.well-known/openid-configuration"`.
//!
//! The reader follows bash, not a dotenv library: it finds each assignment's value token (a shell word,
//! quotes included) and says whether bash reads it literally. Only literal values are ever edited:
//!
//! - unquoted: only characters bash never treats specially in an assignment (letters, digits, non-ASCII,
//!   and `- _ . / : @ % + , = ^`); `KEY=v # c` ends the value at the blank before `#`;
//! - `'…'` on one line (bash expands nothing inside);
//! - `"…"` on one line without `$`, a backquote or `\`.
//!
//! Anything else (`$NAME`, `${NAME}`, escapes, a word that mixes quoted and unquoted parts, a quote that
//! runs over several lines) is read (`value` is then what the word reads as before expansions) but
//! `literal` is false. A CR before the LF is, to bash, part of the word: a CRLF file's values read with a
//! trailing CR, so they are not literal and the refusal says to convert the line ends. A UTF-8 BOM makes
//! bash read the first line as a command (`\u{feff}KEY=…` is no assignment): a BOM is taken only before
//! a comment of plain words (bash then runs a command named `\u{feff}#` that does not exist, and goes
//! on); otherwise the file is refused. Lines bash would run as anything other than an assignment, a
//! comment or `export KEY` (other commands, `KEY=a b`, `A=1 B=2`, `KEY+=x`, `;`) are refused with the
//! line number, since they could change what the file sets; so are command substitutions (`` `…` ``,
//! `$(…)`), `${…}` with an operator and `$'…'`, whose end only a shell parser finds.

use anyhow::{anyhow, bail, Result};
use std::ops::Range;

/// How a value token is quoted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quote {
    None,
    Single,
    Double,
}

/// One `KEY=value` (or `export KEY=value`) the way bash reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    /// 1-based line of the key.
    pub line: usize,
    pub key: String,
    /// The value token, quotes included (empty for `KEY=`).
    pub span: Range<usize>,
    /// What the token reads as (before expansions, when it is not literal).
    pub value: String,
    pub quote: Quote,
    pub export: bool,
    /// False when bash would expand or interpret it (`$`, a backquote, `\`, mixed or unbalanced quotes,
    /// several lines, a CR): never edited.
    pub literal: bool,
}

/// Why bash does not read `a`'s value literally, in a few words (for an assignment whose `literal` is
/// false).
pub fn why_not_literal(bytes: &[u8], a: &Assignment) -> &'static str {
    let token = bytes.get(a.span.clone()).unwrap_or_default();
    let after = bytes.get(a.span.end).copied();
    if token.contains(&b'$') {
        "a $ expansion"
    } else if token.contains(&b'\r') || after == Some(b'\r') {
        "CRLF line ends: bash keeps the CR in the value"
    } else if token.contains(&b'\\') {
        "a backslash escape or line continuation"
    } else if token.contains(&b'\n') {
        "a quoted value over several lines"
    } else {
        "quoting bash reads differently"
    }
}

/// Every assignment in file order; refuses with one line a file it cannot read exactly as bash does.
pub fn assignments(bytes: &[u8]) -> Result<Vec<Assignment>> {
    let t = std::str::from_utf8(bytes).map_err(|e| {
        anyhow!(
            "env file line {}: not UTF-8 text; nothing was edited; change this value by hand",
            line_of(bytes, e.valid_up_to())
        )
    })?;
    if let Some(i) = t.find('\0') {
        bail!(
            "env file line {}: a NUL byte, which bash drops; nothing was edited; change this value by hand",
            line_of(bytes, i)
        );
    }
    let bom = t.starts_with('\u{feff}');
    let b = t.as_bytes();
    let mut p = 0;
    if bom {
        // bash reads the mark as the start of line 1's first word: that line is a command to it. A
        // comment of plain words there runs a command named `\u{feff}#` that does not exist (an error
        // message, nothing set); anything else is refused.
        let first = &t[3..eol(b, 0)];
        let first = first.strip_suffix('\n').unwrap_or(first);
        let first = first.strip_suffix('\r').unwrap_or(first);
        if !(first.starts_with('#')
            && first
                .chars()
                .all(|c| c == ' ' || c == '#' || unquoted_safe(c)))
        {
            bail!("env file line 1: a UTF-8 byte order mark, with which bash does not read line 1 as an assignment or a comment; nothing was edited; remove the mark");
        }
        p = eol(b, 0);
    }
    let mut out = Vec::new();
    while p < b.len() {
        while p < b.len() && matches!(b[p], b' ' | b'\t') {
            p += 1;
        }
        if p >= b.len() {
            break;
        }
        let line = line_of(bytes, p);
        let no = |what: &str| {
            anyhow!("env file line {line}: {what}; nothing was edited (ozrepair edits only assignments bash reads literally); change this value by hand")
        };
        match b[p] {
            b'\n' => {
                p += 1;
                continue;
            }
            b'\r' if b.get(p + 1) == Some(&b'\n') => {
                p += 2;
                continue;
            }
            b'#' => {
                p = eol(b, p);
                continue;
            }
            _ => {}
        }
        let mut export = false;
        if let Some(r) = t[p..].strip_prefix("export") {
            if r.starts_with([' ', '\t']) {
                export = true;
                p += 6;
                while p < b.len() && matches!(b[p], b' ' | b'\t') {
                    p += 1;
                }
            }
        }
        let name_end = p + t[p..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(t.len() - p);
        let name = &t[p..name_end];
        let is_name = name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
        if export && is_name && after_word(b, name_end).is_some() {
            p = eol(b, name_end);
            continue;
        }
        if !is_name || b.get(name_end) != Some(&b'=') {
            return Err(no(
                "a line bash would not read as `KEY=value` (a command or something else)",
            ));
        }
        let start = name_end + 1;
        let w = word(t, start).map_err(no)?;
        let Some(next) = after_word(b, w.end) else {
            return Err(no(
                "more than one word after `=` (bash would run a command, or set more than one key)",
            ));
        };
        out.push(Assignment {
            line,
            key: name.to_string(),
            span: start..w.end,
            value: w.value,
            quote: w.quote,
            export,
            literal: w.literal,
        });
        p = next;
    }
    Ok(out)
}

/// Replaces the one value, same quoting; refuses a value that is not literal, a key assigned more than
/// once, a `new` that cannot be written literally in that quoting. Proves its result by re-reading (only
/// that value changed).
pub fn replace(bytes: &[u8], at: &Assignment, new: &str) -> Result<Vec<u8>> {
    let before = assignments(bytes)?;
    if !before.contains(at) {
        bail!("the env file's {} is not in the file as given (it changed since it was read); nothing was edited; read the file again", at.key);
    }
    let line = at.line;
    let key = &at.key;
    let no = |what: &str| {
        anyhow!(
            "env file line {line}: {key}: {what}; nothing was edited; change this value by hand"
        )
    };
    if before.iter().filter(|a| a.key == at.key).count() > 1 {
        return Err(no("the key is assigned more than once"));
    }
    if !at.literal {
        if at.value.ends_with('\r') {
            return Err(no("the line ends in CRLF, and bash reads the CR into the value (convert the file to LF line ends first)"));
        }
        return Err(no("bash expands or interprets this value ($, a backquote, a backslash, mixed quotes or several lines)"));
    }
    let fits = match at.quote {
        Quote::None => new.chars().all(unquoted_safe),
        Quote::Single => !new.contains(['\'', '\n', '\r', '\0']),
        Quote::Double => !new.contains(['"', '$', '`', '\\', '\n', '\r', '\0']),
    };
    if !fits {
        let how = match at.quote {
            Quote::None => "unquoted",
            Quote::Single => "in single quotes",
            Quote::Double => "in double quotes",
        };
        return Err(no(&format!(
            "the new value cannot be written literally {how}"
        )));
    }
    let token = match at.quote {
        Quote::None => new.to_string(),
        Quote::Single => format!("'{new}'"),
        Quote::Double => format!("\"{new}\""),
    };
    let mut out = Vec::with_capacity(bytes.len() + token.len());
    out.extend_from_slice(&bytes[..at.span.start]);
    out.extend_from_slice(token.as_bytes());
    out.extend_from_slice(&bytes[at.span.end..]);
    let after =
        assignments(&out).map_err(|e| no(&format!("the edited file would not read ({e})")))?;
    let d = |r: &Range<usize>| {
        if r.start >= at.span.end {
            r.start + token.len() - at.span.len()..r.end + token.len() - at.span.len()
        } else {
            r.clone()
        }
    };
    let same = after.len() == before.len()
        && before.iter().zip(&after).all(|(b, a)| {
            if b == at {
                a.key == b.key
                    && a.line == b.line
                    && a.span == (b.span.start..b.span.start + token.len())
                    && a.value == new
                    && a.quote == b.quote
                    && a.export == b.export
                    && a.literal
            } else {
                *a == Assignment {
                    span: d(&b.span),
                    ..b.clone()
                }
            }
        });
    if !same {
        return Err(no("the edited file would not read as intended"));
    }
    Ok(out)
}

/// A character bash keeps as it is in an unquoted assignment value.
fn unquoted_safe(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-_./:@%+,=^".contains(c) || (c as u32) >= 0xa0
}

fn line_of(bytes: &[u8], at: usize) -> usize {
    1 + bytes[..at.min(bytes.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
}

/// The byte after the line that `p` is on (after its `\n`), or the end.
fn eol(b: &[u8], p: usize) -> usize {
    b[p..]
        .iter()
        .position(|&c| c == b'\n')
        .map_or(b.len(), |i| p + i + 1)
}

/// After a word ending at `p`: blanks, then an optional comment, then the line's end; the start of the
/// next line. None when more follows on the line.
fn after_word(b: &[u8], mut p: usize) -> Option<usize> {
    let w = p;
    while p < b.len() && matches!(b[p], b' ' | b'\t') {
        p += 1;
    }
    match b.get(p) {
        None => Some(p),
        Some(b'\n') => Some(p + 1),
        Some(b'#') if p > w => Some(eol(b, p)),
        _ => None,
    }
}

/// What the reader does not follow exactly, so that it cannot tell where the value ends.
const UNFOLLOWED: &str = "a command substitution, `${…}` with an operator, or `$'…'`/`$\"…\"` quoting, which this reader does not follow exactly";

/// The length of the `$` expansion at `k`: `$NAME`, `${NAME}`, `$1`, `$?`… or a lone `$`; refuses the
/// forms whose end needs a shell parser (`$(…)`, `${NAME…}` with an operator, `$'…'`, `$"…"`).
fn dollar(b: &[u8], k: usize) -> std::result::Result<usize, &'static str> {
    let ident = |from: usize| {
        b[from..]
            .iter()
            .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_')
            .count()
    };
    match b.get(k + 1) {
        Some(b'(') | Some(b'\'') | Some(b'"') => Err(UNFOLLOWED),
        Some(b'{') => {
            let n = ident(k + 2);
            if n > 0 && b.get(k + 2 + n) == Some(&b'}') {
                Ok(n + 3)
            } else {
                Err(UNFOLLOWED)
            }
        }
        Some(c) if c.is_ascii_alphabetic() || *c == b'_' => Ok(1 + ident(k + 1)),
        _ => Ok(1),
    }
}

struct Word {
    end: usize,
    value: String,
    quote: Quote,
    literal: bool,
}

/// The shell word at `p` as bash reads it in an assignment.
fn word(t: &str, p: usize) -> std::result::Result<Word, &'static str> {
    let b = t.as_bytes();
    let mut i = p;
    let mut value = String::new();
    let mut parts: Vec<Quote> = Vec::new();
    let mut literal = true;
    let part = |parts: &mut Vec<Quote>, q: Quote| {
        if parts.last() != Some(&q) || q != Quote::None {
            parts.push(q);
        }
    };
    while i < b.len() {
        let c = b[i];
        match c {
            b' ' | b'\t' | b'\n' | b';' | b'&' | b'|' | b'<' | b'>' | b'(' | b')' => break,
            b'\'' => {
                let close = t[i + 1..]
                    .find('\'')
                    .ok_or("a single quote that never closes")?;
                let s = &t[i + 1..i + 1 + close];
                literal &= !s.contains(['\n', '\r']);
                value.push_str(s);
                part(&mut parts, Quote::Single);
                i += close + 2;
            }
            b'"' => {
                let mut k = i + 1;
                loop {
                    match b.get(k) {
                        None => return Err("a double quote that never closes"),
                        Some(b'"') => break,
                        Some(b'\\') => {
                            literal = false;
                            k += 2;
                        }
                        Some(b'`') => return Err(UNFOLLOWED),
                        Some(b'$') => {
                            literal = false;
                            k += dollar(b, k)?;
                        }
                        Some(b'\n') | Some(b'\r') => {
                            literal = false;
                            k += 1;
                        }
                        Some(_) => k += 1,
                    }
                }
                value.push_str(t.get(i + 1..k).ok_or("a double quote that never closes")?);
                part(&mut parts, Quote::Double);
                i = k + 1;
            }
            b'\\' => {
                literal = false;
                let n = t[i + 1..].chars().next().map_or(0, char::len_utf8);
                // `\` before a line break joins the lines: bash drops both.
                if &t[i + 1..i + 1 + n] != "\n" {
                    value.push_str(&t[i + 1..i + 1 + n]);
                }
                part(&mut parts, Quote::None);
                i += 1 + n;
            }
            b'`' => return Err(UNFOLLOWED),
            b'$' => {
                literal = false;
                let n = dollar(b, i)?;
                value.push_str(&t[i..i + n]);
                part(&mut parts, Quote::None);
                i += n;
            }
            _ => {
                let ch = t[i..].chars().next().ok_or("not a character")?;
                literal &= unquoted_safe(ch);
                value.push(ch);
                part(&mut parts, Quote::None);
                i += ch.len_utf8();
            }
        }
    }
    let quote = match parts.as_slice() {
        [] | [Quote::None] => Quote::None,
        [q] => *q,
        _ => {
            literal = false;
            Quote::None
        }
    };
    Ok(Word {
        end: i,
        value,
        quote,
        literal,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ENV: &str = "# setup\nNETBIRD_DOMAIN=\"netbird.example.com\"\nexport NETBIRD_AUTH_OIDC_CONFIGURATION_ENDPOINT='https://idp.example.com/.well-known/openid-configuration'\n  PLAIN=https://a/b # note\nEMPTY=\nexport NETBIRD_DOMAIN2\nX=\"$HOME\"\n";

    #[test]
    fn reads_each_form() {
        let a = assignments(ENV.as_bytes()).expect("reads");
        let got: Vec<_> = a
            .iter()
            .map(|a| {
                (
                    a.key.as_str(),
                    a.value.as_str(),
                    a.quote,
                    a.export,
                    a.literal,
                    &ENV[a.span.clone()],
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                (
                    "NETBIRD_DOMAIN",
                    "netbird.example.com",
                    Quote::Double,
                    false,
                    true,
                    "\"netbird.example.com\""
                ),
                (
                    "NETBIRD_AUTH_OIDC_CONFIGURATION_ENDPOINT",
                    "https://idp.example.com/.well-known/openid-configuration",
                    Quote::Single,
                    true,
                    true,
                    "'https://idp.example.com/.well-known/openid-configuration'"
                ),
                (
                    "PLAIN",
                    "https://a/b",
                    Quote::None,
                    false,
                    true,
                    "https://a/b"
                ),
                ("EMPTY", "", Quote::None, false, true, ""),
                ("X", "$HOME", Quote::Double, false, false, "\"$HOME\""),
            ]
        );
        assert_eq!(a[2].line, 4);
    }

    #[test]
    fn replaces_one_value_in_its_quoting() {
        let a = assignments(ENV.as_bytes()).expect("reads");
        let out = replace(ENV.as_bytes(), &a[1], "https://idp.example.com/x").expect("edits");
        assert_eq!(
            String::from_utf8(out).expect("utf8"),
            ENV.replace("/.well-known/openid-configuration'", "/x'")
        );
        let out = replace(ENV.as_bytes(), &a[2], "https://a/c").expect("edits");
        assert!(String::from_utf8(out)
            .expect("utf8")
            .contains("  PLAIN=https://a/c # note\n"));
        assert!(replace(ENV.as_bytes(), &a[4], "x").is_err(), "not literal");
        assert!(
            replace(ENV.as_bytes(), &a[0], "a$b").is_err(),
            "would expand"
        );
        assert!(
            replace(ENV.as_bytes(), &a[2], "a b").is_err(),
            "would split"
        );
        assert!(
            replace(ENV.as_bytes(), &a[1], "it's").is_err(),
            "would close the quote"
        );
    }

    #[test]
    fn refuses_lines_bash_reads_otherwise() {
        for src in [
            "A=1 B=2\n",
            "A= b\n",
            "A+=1\n",
            "echo hi\n",
            "A=1;B=2\n",
            "A='x\n",
            "\u{feff}A=1\n",
        ] {
            let e = assignments(src.as_bytes()).expect_err(src).to_string();
            assert!(e.starts_with("env file line 1: "), "{e}");
            assert!(!e.contains('\n'), "{e}");
        }
    }

    #[test]
    fn crlf_values_hold_the_cr_and_are_not_edited() {
        let src = b"A=\"x\"\r\nB=y\r\n";
        let a = assignments(src).expect("reads");
        assert_eq!((a[0].value.as_str(), a[0].literal), ("x\r", false));
        assert_eq!((a[1].value.as_str(), a[1].literal), ("y\r", false));
        let e = replace(src, &a[0], "z").expect_err("refused").to_string();
        assert!(e.contains("CRLF"), "{e}");
    }

    #[test]
    fn a_backslash_line_break_joins_lines_and_is_not_literal() {
        let a = assignments(b"B=x\\\ny\nC=z\n").expect("reads");
        assert_eq!((a[0].value.as_str(), a[0].literal), ("xy", false));
        assert_eq!((a[1].key.as_str(), a[1].line), ("C", 3));
    }

    #[test]
    fn duplicate_keys_are_not_edited() {
        let src = b"A=1\nA=2\n";
        let a = assignments(src).expect("reads");
        assert!(replace(src, &a[1], "3")
            .expect_err("refused")
            .to_string()
            .contains("more than once"));
    }
}
