//! YAML read for in-place edits (see the module docs in mod.rs): a reader of the block-style subset that
//! Dex's `config.yaml` and NetBird's combined-server `config.yaml` are written in, and an editor that
//! replaces the bytes of one scalar and nothing else.
//!
//! What the real servers use to read these files (checked in their sources):
//!
//! - Dex (`dexidp/dex`, `cmd/dex/serve.go` `runServe`): `os.ReadFile`, then `github.com/ghodss/yaml`
//!   `YAMLToJSON` (go-yaml v2 underneath, so YAML 1.1 scalars: `yes`, `on`, `y` are booleans), then
//!   `encoding/json` into its `Config`. Environment expansion is not applied to the whole file: with the
//!   feature flag `expand_env` (on by default, `pkg/featureflags/set.go`) `cmd/dex/config.go`
//!   `expandEnvInMap` runs `os.ExpandEnv` over every string inside a connector's, the storage's and the
//!   signer's `config:` (the `Connector`, `Storage` and `Signer` `UnmarshalJSON`s), and
//!   `staticPasswords` can take a hash from an environment variable. A connector's `issuer` is therefore
//!   expanded: `$VAR` and `${VAR}` there are not what the file says.
//! - NetBird's combined server (`netbirdio/netbird`, `combined/cmd/config.go` `LoadConfig`):
//!   `gopkg.in/yaml.v3` `Unmarshal` into `CombinedConfig` (YAML 1.2 core scalars; `auth.localAuthDisabled`
//!   is a `bool`), no environment expansion.
//!
//! The reader therefore takes only what it can read exactly the way both libraries do, and refuses the
//! rest with one line: more than one document, directives, anchors, aliases, merge keys, tags, block
//! scalars (`|`, `>`), complex keys, scalars over more than one line, tabs outside quoted scalars and
//! comments, duplicate keys, characters YAML forbids or reads as line breaks (NEL, U+2028, U+2029, a BOM
//! inside), a CR that does not end a line, text that is not UTF-8. Flow collections (`[a, b]`, `{k: v}`)
//! are read when they end on the line they start on: each scalar inside is a value with its path
//! (`config: {issuer: https://…}` gives `config.issuer`), edited like any other; a flow collection over
//! several lines is refused with its line.
//!
//! Double-quoted escapes are read as go-yaml reads them (checked against Debian's go-yaml 2.4.0 and
//! 3.0.1, the versions Dex and NetBird pin): `\0 \a \b \t \n \v \f \r \e \<space> \" \\ \N \_ \L \P`,
//! `\xXX`, `\uXXXX` and `\UXXXXXXXX` as code points (a surrogate refused). `\/` is YAML 1.2 but go-yaml
//! refuses it ("found unknown escape character"), so Dex would not start: it is refused here too.
//!
//! [`replace`] writes the new value in the scalar's own style: `'…'` doubles `'`; `"…"` escapes `"`, `\`
//! and every character YAML would not keep as it is. A plain value stays plain: `new` must read back as
//! exactly itself, of the same type in both YAML 1.1 and 1.2 (a string stays a string that neither
//! library could take for a boolean, null, number or timestamp; `true`/`false` may become one another, and
//! so may the YAML 1.1 words `yes`/`no`, `on`/`off`, `y`/`n`, which go-yaml v2 reads as booleans and v3
//! as strings). Inside a flow collection a plain value also may not hold `,`, brackets or `?`.
//!
//! Booleans as each reader reads them ([`yaml11_bool`], [`yaml12_bool`], [`v3_typed_bool`]): go-yaml v2
//! (Dex) resolves `y Y yes Yes YES on On ON true True TRUE` and their negatives; yaml.v3 (NetBird) only
//! `true True TRUE false False FALSE`, except when it decodes into a Go `bool`, where it also takes the
//! YAML 1.1 words, quoted or not.
//! Otherwise it is refused, not quoted on the user's behalf: the user chose plain, and a value that needs
//! quotes (`#`, `: `, a leading indicator) is one that deserves a look before it goes into the file.
//! Values holding `$` are refused both ways (Dex expands them). Every result is proven before it is
//! returned: read again, every other key and value (path, style, value, span shifted) is as it was, and
//! the target reads `new`.

use anyhow::{anyhow, bail, Result};
use std::ops::Range;

/// One step of a path from the document's root (a mapping key as it reads, a sequence item from 0).
pub use super::Seg;

/// How a scalar is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// Unquoted.
    Plain,
    /// `'…'`, with `''` for a quote.
    Single,
    /// `"…"`, with backslash escapes.
    Double,
}

/// One scalar: the bytes of its whole token in the file (quotes included), what it reads as, its style.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scalar {
    pub path: Vec<Seg>,
    pub span: Range<usize>,
    pub value: String,
    pub style: Style,
}

/// Every scalar value of the (single) document with its path from the root, in file order. Refuses with a
/// one-line error what it cannot read exactly (so nothing is edited on a guess).
pub fn scalars(bytes: &[u8]) -> Result<Vec<Scalar>> {
    Ok(read(bytes)?
        .into_iter()
        .filter(|i| i.kind == Kind::Value)
        .map(|i| Scalar {
            path: i.path,
            span: i.span,
            value: i.value,
            style: i.style,
        })
        .collect())
}

/// The file with `at`'s token replaced by `new` written in the same style (see the module docs for what
/// a plain value may become). Proves its result: re-reads it and checks every other key and value (path,
/// value, style, span shifted) is unchanged and `at`'s path now reads `new`.
pub fn replace(bytes: &[u8], at: &Scalar, new: &str) -> Result<Vec<u8>> {
    let before = read(bytes)?;
    let held = before.iter().find(|i| {
        i.kind == Kind::Value
            && i.path == at.path
            && i.span == at.span
            && i.value == at.value
            && i.style == at.style
    });
    let Some(held) = held else {
        bail!(
            "the YAML value to replace is not in this file as given (it changed since it was read); nothing was edited; read the file again"
        );
    };
    let line = line_of(bytes, at.span.start);
    let no = |what: &str| {
        anyhow!("YAML line {line}: {what}; nothing was edited; change this value by hand")
    };
    if at.value.contains('$') {
        return Err(no(
            "the value holds `$`, which Dex expands as an environment variable, so the file does not say what Dex reads",
        ));
    }
    if new.contains('$') {
        return Err(no(
            "the new value holds `$`, which Dex would expand as an environment variable",
        ));
    }
    let token = match at.style {
        Style::Plain => {
            if let Some(why) = plain_unfit(&at.value, new) {
                return Err(no(&why));
            }
            if held.flow && new.contains([',', '[', ']', '{', '}', '?']) {
                return Err(no(&format!(
                    "{new:?} cannot be written as a plain value inside a flow collection (`[…]`, `{{…}}`), where `,`, brackets and `?` end it (quote the value in the file first)"
                )));
            }
            new.to_string()
        }
        Style::Single => {
            if let Some(c) = new.chars().find(|&c| c != '\t' && !printable(c)) {
                return Err(no(&format!(
                    "the new value holds U+{:04X}, which a single-quoted YAML string cannot hold",
                    c as u32
                )));
            }
            format!("'{}'", new.replace('\'', "''"))
        }
        Style::Double => double_quoted(new),
    };
    let mut out = Vec::with_capacity(bytes.len() + token.len());
    out.extend_from_slice(&bytes[..at.span.start]);
    out.extend_from_slice(token.as_bytes());
    out.extend_from_slice(&bytes[at.span.end..]);
    prove(&before, &out, at, new, token.len())
        .map_err(|e| no(&format!("the edited file would not read as intended ({e})")))?;
    Ok(out)
}

/// `out` read again: the same items in the same order, the target now `new` in its place, every other
/// item the same with its span shifted by the change in length.
fn prove(before: &[Item], out: &[u8], at: &Scalar, new: &str, len: usize) -> Result<()> {
    let after = read(out).map_err(|e| anyhow!("it does not read: {e}"))?;
    if after.len() != before.len() {
        bail!("{} items instead of {}", after.len(), before.len());
    }
    let shift = |r: &Range<usize>| -> Range<usize> {
        if r.start >= at.span.end {
            r.start - at.span.len() + len..r.end - at.span.len() + len
        } else {
            r.clone()
        }
    };
    for (b, a) in before.iter().zip(&after) {
        let target = b.kind == Kind::Value && b.span == at.span;
        let (span, value) = if target {
            (at.span.start..at.span.start + len, new)
        } else {
            (shift(&b.span), b.value.as_str())
        };
        if a.kind != b.kind
            || a.flow != b.flow
            || a.path != b.path
            || a.style != b.style
            || a.span != span
            || a.value != value
        {
            bail!("{:?} at {:?} changed", b.path, b.span);
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------------
// Plain and quoted values.

/// Why `new` cannot replace the plain value `old` as a plain value; None when it can.
fn plain_unfit(old: &str, new: &str) -> Option<String> {
    let (ko, kn) = (plain_type(old), plain_type(new));
    if ko == PlainType::Other {
        return Some(format!(
            "the plain value {old:?} is not a string or true/false to every YAML reader"
        ));
    }
    if std::mem::discriminant(&kn) != std::mem::discriminant(&ko) {
        return Some(format!(
            "written plain, {new:?} would not read as the same type as {old:?} (quote the value in the file first)"
        ));
    }
    let first = new.chars().next()?;
    if "-?:,[]{}#&*!|>'\"%@`".contains(first)
        || new.starts_with(' ')
        || new.ends_with(' ')
        || new.contains(": ")
        || new.contains(" #")
        || new.ends_with(':')
        || new.chars().any(|c| !printable(c))
    {
        return Some(format!(
            "{new:?} cannot be written as a plain YAML value (quote the value in the file first)"
        ));
    }
    None
}

#[derive(Debug, PartialEq, Eq)]
enum PlainType {
    Str,
    /// A boolean to both: `true`, `False`, …
    Bool(bool),
    /// A YAML 1.1 boolean word (`yes`, `Off`, `n`, …): a boolean to go-yaml v2, a string to v3. One may
    /// become another (both readers keep the type), never a string or a 1.2 boolean.
    Bool11(bool),
    /// A null, a number, a timestamp, or anything one reader might take so.
    Other,
}

/// A plain scalar's type as both go-yaml v2 (YAML 1.1) and v3 (1.2 core) resolve it, conservatively.
fn plain_type(s: &str) -> PlainType {
    if let Some(b) = yaml12_bool(s) {
        return PlainType::Bool(b);
    }
    if let Some(b) = yaml11_bool(s) {
        return PlainType::Bool11(b);
    }
    let lower = s.to_ascii_lowercase();
    let special = [
        "", "y", "n", "yes", "no", "on", "off", "null", "~", "<<", "=",
    ];
    match s.chars().next() {
        None => PlainType::Other,
        _ if special.contains(&lower.as_str()) => PlainType::Other,
        Some(c) if c.is_ascii_digit() || "+-.".contains(c) => PlainType::Other,
        Some(_) => PlainType::Str,
    }
}

/// `s` as a double-quoted YAML scalar: `"` and `\` escaped, and every character YAML does not keep as
/// it is (controls, NEL, line and paragraph separators, U+FEFF, noncharacters).
fn double_quoted(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 2);
    o.push('"');
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\t' => o.push_str("\\t"),
            '\n' => o.push_str("\\n"),
            '\r' => o.push_str("\\r"),
            c if printable(c) => o.push(c),
            c if (c as u32) <= 0xff => o.push_str(&format!("\\x{:02x}", c as u32)),
            c if (c as u32) <= 0xffff => o.push_str(&format!("\\u{:04x}", c as u32)),
            c => o.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
    o.push('"');
    o
}

/// A character YAML keeps as it is inside a scalar (libyaml's printable set, less the characters it
/// reads as line breaks and the BOM).
fn printable(c: char) -> bool {
    matches!(c as u32,
        0x20..=0x7e | 0xa0..=0xd7ff | 0xe000..=0xfffd | 0x10000..=0x10ffff)
        && !matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}')
}

/// A plain scalar as go-yaml v2 resolves it to a boolean (YAML 1.1, `resolve.go`): exactly these
/// spellings, no others (`yEs` is a string).
pub fn yaml11_bool(s: &str) -> Option<bool> {
    match s {
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            Some(true)
        }
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            Some(false)
        }
        _ => None,
    }
}

/// A plain scalar as yaml.v3 resolves it to a boolean (the YAML 1.2 core schema).
pub fn yaml12_bool(s: &str) -> Option<bool> {
    match s {
        "true" | "True" | "TRUE" => Some(true),
        "false" | "False" | "FALSE" => Some(false),
        _ => None,
    }
}

/// What yaml.v3 decodes into a Go `bool` field (NetBird's `localAuthDisabled`): a plain scalar by
/// [`yaml11_bool`] (the core words resolve to booleans; v3's decoder takes the YAML 1.1 words for a typed
/// bool "for compatibility"), and a quoted one only when it is one of those YAML 1.1 words (`"yes"`,
/// `'off'`; a quoted `"true"` is a string it refuses).
pub fn v3_typed_bool(s: &str, style: Style) -> Option<bool> {
    match style {
        Style::Plain => yaml11_bool(s),
        _ => yaml11_bool(s).filter(|_| yaml12_bool(s).is_none()),
    }
}

/// The boolean word of the same family and spelling as `like` (`true`/`false`, `yes`/`no`, `on`/`off`,
/// `y`/`n`, each in lower, capitalised or upper case) that reads as `value`; None when `like` is none.
pub fn bool_word(like: &str, value: bool) -> Option<&'static str> {
    const PAIRS: [(&str, &str); 11] = [
        ("true", "false"),
        ("True", "False"),
        ("TRUE", "FALSE"),
        ("yes", "no"),
        ("Yes", "No"),
        ("YES", "NO"),
        ("on", "off"),
        ("On", "Off"),
        ("ON", "OFF"),
        ("y", "n"),
        ("Y", "N"),
    ];
    PAIRS
        .iter()
        .find(|(t, f)| like == *t || like == *f)
        .map(|(t, f)| if value { *t } else { *f })
}

/// The 1-based line of byte `at` in the file (for messages).
pub fn line_at(bytes: &[u8], at: usize) -> usize {
    line_of(bytes, at)
}

// ---------------------------------------------------------------------------------------------------
// The reader.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A mapping key (path: the mapping's, with the key).
    Key,
    /// A scalar value.
    Value,
    /// A key or `-` with no value (null): an empty span where it would be.
    Null,
    /// An empty flow collection (`[]`, `{}`), as its bytes.
    Flow,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Item {
    kind: Kind,
    path: Vec<Seg>,
    span: Range<usize>,
    value: String,
    style: Style,
    /// Inside a flow collection (`[…]`, `{…}`), where `,`, brackets and `?` end a plain scalar.
    flow: bool,
}

#[derive(Debug, Clone, Copy)]
struct Line {
    start: usize,
    /// Where the line's text ends (before `\r\n` or `\n`).
    end: usize,
    indent: usize,
    /// Blank, a comment, or a document marker already accounted for.
    skip: bool,
}

/// The 1-based line number of byte `at`.
fn line_of(bytes: &[u8], at: usize) -> usize {
    1 + bytes[..at.min(bytes.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
}

fn read(bytes: &[u8]) -> Result<Vec<Item>> {
    let t = std::str::from_utf8(bytes).map_err(|e| {
        anyhow!(
            "YAML line {}: not UTF-8 text; nothing was edited; change this value by hand",
            line_of(bytes, e.valid_up_to())
        )
    })?;
    let mut r = Reader {
        t,
        lines: Vec::new(),
        items: Vec::new(),
    };
    r.lines()?;
    if let Some(k) = r.next_content(0) {
        let l = r.lines[k];
        let next = r.node(k, l.start + l.indent, &mut Vec::new(), -1)?;
        if let Some(k) = r.next_content(next) {
            return Err(r.err(k, "text after the end of the document's top level"));
        }
    }
    Ok(r.items)
}

/// Deeper nesting than any config file has is refused (the reader recurses once a level).
const MAX_DEPTH: usize = 64;
/// libyaml takes a key on one line of at most 1024 characters; longer ones are refused well before.
const MAX_KEY: usize = 512;

struct Reader<'a> {
    t: &'a str,
    lines: Vec<Line>,
    items: Vec<Item>,
}

impl<'a> Reader<'a> {
    fn err(&self, line: usize, what: &str) -> anyhow::Error {
        anyhow!(
            "YAML line {}: {what}; nothing was edited (ozrepair edits only YAML it reads exactly as Dex and NetBird do); change this value by hand",
            line + 1
        )
    }

    /// Splits the text into lines, checks characters, tabs, line ends and document markers.
    fn lines(&mut self) -> Result<()> {
        let t = self.t;
        let body = if t.starts_with('\u{feff}') { 3 } else { 0 };
        let mut start = body;
        let mut n = 0;
        let mut seen_content = false;
        let mut started = false;
        let mut ended = false;
        while start <= t.len() {
            let nl = t[start..].find('\n').map(|i| start + i);
            let raw_end = nl.unwrap_or(t.len());
            let end = if raw_end > start && t.as_bytes()[raw_end - 1] == b'\r' {
                raw_end - 1
            } else {
                raw_end
            };
            let text = &t[start..end];
            if text.contains('\r') {
                return Err(self.err(n, "a carriage return that does not end a line"));
            }
            if let Some(c) = text.chars().find(|&c| c != '\t' && !printable(c)) {
                return Err(self.err(
                    n,
                    &format!(
                        "U+{:04X}, a character YAML forbids or reads as a line break",
                        c as u32
                    ),
                ));
            }
            let indent = text.len() - text.trim_start_matches(' ').len();
            let content = &text[indent..];
            if content.starts_with('\t') {
                return Err(self.err(n, "a tab in the indentation"));
            }
            let mut skip = content.is_empty() || content.starts_with('#');
            if ended && !skip {
                return Err(self.err(n, "more than one document (text after `...`)"));
            }
            if indent == 0 && !skip {
                if content.starts_with('%') {
                    return Err(self.err(n, "a YAML directive"));
                }
                let marker = |m: &str| {
                    content == m
                        || content
                            .strip_prefix(m)
                            .is_some_and(|r| r.starts_with([' ', '\t']))
                };
                if marker("---") {
                    // A second `---` starts a second document, even when the first is empty (Go then
                    // reads the empty one).
                    if seen_content || started {
                        return Err(self.err(n, "more than one document (a second `---`)"));
                    }
                    let rest = content[3..].trim_start_matches([' ', '\t']);
                    if !rest.is_empty() && !rest.starts_with('#') {
                        return Err(self.err(n, "a value on the `---` line"));
                    }
                    started = true;
                    skip = true;
                } else if marker("...") {
                    let rest = content[3..].trim_start_matches([' ', '\t']);
                    if !rest.is_empty() && !rest.starts_with('#') {
                        return Err(self.err(n, "text after `...`"));
                    }
                    ended = true;
                    skip = true;
                }
            }
            if !skip {
                seen_content = true;
            }
            self.lines.push(Line {
                start,
                end,
                indent,
                skip,
            });
            n += 1;
            match nl {
                Some(i) => start = i + 1,
                None => break,
            }
        }
        Ok(())
    }

    fn next_content(&self, from: usize) -> Option<usize> {
        (from..self.lines.len()).find(|&i| !self.lines[i].skip)
    }

    fn indent(&self, i: usize) -> usize {
        self.lines[i].indent
    }

    /// The line's text from byte `p` to its end.
    fn rest(&self, i: usize, p: usize) -> &'a str {
        let t: &'a str = self.t;
        &t[p..self.lines[i].end]
    }

    fn push(&mut self, kind: Kind, path: &[Seg], span: Range<usize>, value: String, style: Style) {
        self.items.push(Item {
            kind,
            path: path.to_vec(),
            span,
            value,
            style,
            flow: false,
        });
    }

    /// The node whose first token is at byte `p` of line `i`; `parent` is the indentation of the
    /// collection that holds it (-1 for the root). Returns the line after it.
    fn node(&mut self, i: usize, p: usize, path: &mut Vec<Seg>, parent: isize) -> Result<usize> {
        if path.len() > MAX_DEPTH {
            return Err(self.err(i, &format!("nested deeper than {MAX_DEPTH} levels")));
        }
        let col = p - self.lines[i].start;
        if is_entry(self.rest(i, p)) {
            return self.seq(i, col, path);
        }
        if self.key(i, p)?.is_some() {
            return self.map(i, col, path);
        }
        self.value(i, p, path, parent)
    }

    fn seq(&mut self, first: usize, col: usize, path: &mut Vec<Seg>) -> Result<usize> {
        let mut j = first;
        let mut index = 0;
        loop {
            let p = self.lines[j].start + col + 1;
            let q = self.space(j, p)?;
            let here = self.rest(j, q);
            path.push(Seg::Index(index));
            let next = if here.is_empty() || here.starts_with('#') {
                match self.next_content(j + 1) {
                    Some(k) if self.indent(k) > col => {
                        let s = self.lines[k].start + self.indent(k);
                        self.node(k, s, path, col as isize)?
                    }
                    _ => {
                        self.push(Kind::Null, path, p..p, String::new(), Style::Plain);
                        j + 1
                    }
                }
            } else {
                self.node(j, q, path, col as isize)?
            };
            path.pop();
            index += 1;
            match self.next_content(next) {
                Some(k)
                    if self.indent(k) == col
                        && is_entry(self.rest(k, self.lines[k].start + col)) =>
                {
                    j = k
                }
                Some(k) if self.indent(k) > col => {
                    return Err(self.err(k, "indented more than the sequence item before it"))
                }
                _ => return Ok(next),
            }
        }
    }

    fn map(&mut self, first: usize, col: usize, path: &mut Vec<Seg>) -> Result<usize> {
        let mut j = first;
        let mut keys: std::collections::HashSet<String> = std::collections::HashSet::new();
        loop {
            let p = self.lines[j].start + col;
            let Some((key, span, after)) = self.key(j, p)? else {
                return Err(self.err(j, "a line that is neither `key: value` nor a sequence item"));
            };
            if span.len() > MAX_KEY {
                return Err(self.err(j, &format!("a key longer than {MAX_KEY} bytes")));
            }
            if keys.contains(&key) {
                return Err(self.err(j, &format!("the key {key:?} twice in one mapping")));
            }
            keys.insert(key.clone());
            path.push(Seg::Key(key.clone()));
            let style = match self.t.as_bytes()[span.start] {
                b'"' => Style::Double,
                b'\'' => Style::Single,
                _ => Style::Plain,
            };
            self.push(Kind::Key, path, span, key, style);
            let q = self.space(j, after)?;
            let here = self.rest(j, q);
            let next = if here.is_empty() || here.starts_with('#') {
                if q == after && !here.is_empty() {
                    return Err(self.err(j, "`#` right after `:`"));
                }
                match self.next_content(j + 1) {
                    Some(k) if self.indent(k) > col => {
                        let s = self.lines[k].start + self.indent(k);
                        self.node(k, s, path, col as isize)?
                    }
                    Some(k)
                        if self.indent(k) == col
                            && is_entry(self.rest(k, self.lines[k].start + col)) =>
                    {
                        self.seq(k, col, path)?
                    }
                    _ => {
                        self.push(Kind::Null, path, after..after, String::new(), Style::Plain);
                        j + 1
                    }
                }
            } else if is_entry(here) {
                return Err(self.err(j, "a sequence item on the line of its key"));
            } else {
                self.value(j, q, path, col as isize)?
            };
            path.pop();
            match self.next_content(next) {
                Some(k) if self.indent(k) == col => {
                    if is_entry(self.rest(k, self.lines[k].start + col)) {
                        return Err(self.err(k, "a sequence item where a mapping key was expected"));
                    }
                    j = k;
                }
                Some(k) if self.indent(k) > col => {
                    return Err(self.err(k, "indented more than the key before it"))
                }
                _ => return Ok(next),
            }
        }
    }

    /// Skips spaces from `p`; refuses a tab there.
    fn space(&self, i: usize, p: usize) -> Result<usize> {
        let r = self.rest(i, p);
        let s = r.trim_start_matches(' ');
        if s.starts_with('\t') {
            return Err(self.err(i, "a tab outside a quoted value or comment"));
        }
        Ok(p + (r.len() - s.len()))
    }

    /// Refusals for a token that starts with a YAML indicator this reader does not take.
    fn indicator(&self, i: usize, s: &str) -> Result<()> {
        let sp = |rest: &str| rest.is_empty() || rest.starts_with([' ', '\t']);
        let what = match s.chars().next() {
            Some('&') => "an anchor (`&`)",
            Some('*') => "an alias (`*`)",
            Some('!') => "a tag (`!`)",
            Some('|') | Some('>') => "a block scalar (`|` or `>`)",
            Some('%') | Some('@') | Some('`') => "a reserved indicator (`%`, `@` or a backquote)",
            Some(',') | Some(']') | Some('}') => {
                "a flow indicator (`,`, `]` or `}`) outside a flow collection"
            }
            Some('?') if sp(&s[1..]) => "a complex key (`?`)",
            Some(':') if sp(&s[1..]) => "a value without a key",
            _ => return Ok(()),
        };
        Err(self.err(i, what))
    }

    /// A mapping key at byte `p` of line `i`: (its value, its token, the byte after its `:`); None when
    /// the text there is not a key.
    fn key(&self, i: usize, p: usize) -> Result<Option<(String, Range<usize>, usize)>> {
        let r = self.rest(i, p);
        self.indicator(i, r)?;
        let colon = |at: usize| -> Option<usize> {
            let s = &self.rest(i, at);
            let t = s.trim_start_matches(' ');
            let c = at + (s.len() - t.len());
            let after = &t.get(1..)?;
            (t.starts_with(':') && (after.is_empty() || after.starts_with([' ', '\t'])))
                .then_some(c + 1)
        };
        match r.as_bytes().first() {
            None | Some(b'[') | Some(b'{') | Some(b'#') => Ok(None),
            Some(b'"') | Some(b'\'') => {
                let (value, end) = self.quoted(i, p)?;
                Ok(colon(end).map(|c| (value, p..end, c)))
            }
            Some(_) => {
                let stop = comment_at(r).unwrap_or(r.len());
                let b = r.as_bytes();
                let Some(k) = (0..stop).find(|&k| {
                    b[k] == b':' && (k + 1 == b.len() || b[k + 1] == b' ' || b[k + 1] == b'\t')
                }) else {
                    return Ok(None);
                };
                let key = r[..k].trim_end_matches(' ');
                if key.contains('\t') {
                    return Err(self.err(i, "a tab in a key"));
                }
                if key == "<<" {
                    return Err(self.err(i, "a merge key (`<<`)"));
                }
                if plain_type(key) != PlainType::Str {
                    return Err(self.err(
                        i,
                        &format!(
                            "the key {key:?}, which YAML may read as something other than a string"
                        ),
                    ));
                }
                Ok(Some((key.to_string(), p..p + key.len(), p + k + 1)))
            }
        }
    }

    /// A quoted scalar at byte `p` of line `i`, on that line: (its value, the byte after it).
    fn quoted(&self, i: usize, p: usize) -> Result<(String, usize)> {
        let r = self.rest(i, p);
        let unclosed = || self.err(i, "a quoted value that does not end on its line");
        let mut v = String::new();
        if let Some(body) = r.strip_prefix('\'') {
            let mut it = body.char_indices().peekable();
            while let Some((k, c)) = it.next() {
                if c == '\'' {
                    if it.peek().map(|x| x.1) == Some('\'') {
                        it.next();
                        v.push('\'');
                    } else {
                        return Ok((v, p + 1 + k + 1));
                    }
                } else {
                    v.push(c);
                }
            }
            return Err(unclosed());
        }
        let body = &r[1..];
        let mut it = body.char_indices();
        while let Some((k, c)) = it.next() {
            match c {
                '"' => return Ok((v, p + 1 + k + 1)),
                '\\' => {
                    let Some((_, e)) = it.next() else {
                        return Err(self.err(i, "a double-quoted value continued on the next line"));
                    };
                    let hex = |n: usize, it: &mut std::str::CharIndices| -> Option<char> {
                        let mut x = 0u32;
                        for _ in 0..n {
                            x = x * 16 + it.next()?.1.to_digit(16)?;
                        }
                        char::from_u32(x)
                    };
                    let c = match e {
                        '0' => '\0',
                        'a' => '\u{7}',
                        'b' => '\u{8}',
                        't' | '\t' => '\t',
                        'n' => '\n',
                        'v' => '\u{b}',
                        'f' => '\u{c}',
                        'r' => '\r',
                        'e' => '\u{1b}',
                        ' ' => ' ',
                        '"' => '"',
                        '/' => return Err(self.err(
                            i,
                            "the escape `\\/`, which go-yaml (Dex's and NetBird's reader) refuses",
                        )),
                        '\\' => '\\',
                        'N' => '\u{85}',
                        '_' => '\u{a0}',
                        'L' => '\u{2028}',
                        'P' => '\u{2029}',
                        'x' | 'u' | 'U' => {
                            let n = match e {
                                'x' => 2,
                                'u' => 4,
                                _ => 8,
                            };
                            hex(n, &mut it).ok_or_else(|| {
                                self.err(
                                    i,
                                    "a `\\x`, `\\u` or `\\U` escape that is not a character",
                                )
                            })?
                        }
                        _ => return Err(self.err(i, &format!("the escape `\\{e}`"))),
                    };
                    v.push(c);
                }
                c => v.push(c),
            }
        }
        Err(unclosed())
    }

    /// A scalar or one-line flow collection at byte `p` of line `i`, then nothing but a comment to the
    /// line's end, and no continuation on the lines after it (indented more than `parent`).
    fn value(&mut self, i: usize, p: usize, path: &[Seg], parent: isize) -> Result<usize> {
        let r = self.rest(i, p);
        self.indicator(i, r)?;
        if is_entry(r) {
            return Err(self.err(i, "a sequence item where a value was expected"));
        }
        let end = match r.as_bytes().first() {
            Some(b'"') | Some(b'\'') => {
                let (v, end) = self.quoted(i, p)?;
                let style = if r.starts_with('"') {
                    Style::Double
                } else {
                    Style::Single
                };
                self.push(Kind::Value, path, p..end, v, style);
                end
            }
            Some(b'[') | Some(b'{') => self.flow(i, p, &mut path.to_vec())?,
            _ => {
                let stop = comment_at(r).unwrap_or(r.len());
                let v = r[..stop].trim_end_matches(' ');
                if v.contains('\t') {
                    return Err(self.err(i, "a tab in a plain value"));
                }
                if v.contains(": ") || v.ends_with(':') {
                    return Err(self.err(i, "`: ` inside a plain value"));
                }
                self.push(
                    Kind::Value,
                    path,
                    p..p + v.len(),
                    v.to_string(),
                    Style::Plain,
                );
                p + v.len()
            }
        };
        let tail = self.rest(i, end);
        let t = tail.trim_start_matches(' ');
        if !(t.is_empty() || (t.starts_with('#') && t.len() < tail.len())) {
            return Err(self.err(i, "text after the value on its line"));
        }
        if let Some(k) = self.next_content(i + 1) {
            if self.indent(k) as isize > parent {
                return Err(self.err(k, "a value continued on the next line"));
            }
        }
        Ok(i + 1)
    }

    /// The flow collection at byte `p` of line `i`, closed on that line, read as go-yaml reads it: items
    /// and `key: value` pairs of quoted scalars, plain scalars and nested flows, separated by `, `. Each
    /// scalar is an item of its own (a key under `path`, a value under `path` and its key or index), so a
    /// value inside a flow is read and edited like any other; an empty collection is one opaque item.
    /// Anything else inside (anchors, aliases, tags, comments, tabs, empty items or keys, duplicate keys, a
    /// trailing comma, `?`) is refused. Returns the byte after it.
    fn flow(&mut self, i: usize, p: usize, path: &mut Vec<Seg>) -> Result<usize> {
        if path.len() > MAX_DEPTH {
            return Err(self.err(i, &format!("nested deeper than {MAX_DEPTH} levels")));
        }
        let t: &'a str = self.t;
        let b = t.as_bytes();
        let end = self.lines[i].end;
        let bad = |r: &Self, what: &str| {
            r.err(
                i,
                &format!("{what} inside a flow collection (`[…]`, `{{…}}`)"),
            )
        };
        let skip = |r: &Self, mut k: usize| -> Result<usize> {
            while k < end && b[k] == b' ' {
                k += 1;
            }
            if k < end && b[k] == b'\t' {
                return Err(bad(r, "a tab"));
            }
            Ok(k)
        };
        let (map, close) = match b[p] {
            b'[' => (false, b']'),
            _ => (true, b'}'),
        };
        let mut k = skip(self, p + 1)?;
        if k < end && b[k] == close {
            let v = t[p..k + 1].to_string();
            self.push(Kind::Flow, path, p..k + 1, v, Style::Plain);
            return Ok(k + 1);
        }
        let mut keys: std::collections::HashSet<String> = std::collections::HashSet::new();
        let mut index = 0;
        loop {
            if map {
                let (key, span) = self.flow_key(i, k)?;
                if keys.contains(&key) {
                    return Err(bad(self, &format!("the key {key:?} twice in one mapping")));
                }
                keys.insert(key.clone());
                path.push(Seg::Key(key.clone()));
                let style = match b[span.start] {
                    b'"' => Style::Double,
                    b'\'' => Style::Single,
                    _ => Style::Plain,
                };
                self.push(Kind::Key, path, span.clone(), key, style);
                k = skip(self, span.end)?;
                if !(k + 1 < end && b[k] == b':' && matches!(b[k + 1], b' ' | b',' | b'}')) {
                    return Err(bad(self, "a key without `: ` and a value"));
                }
                k = skip(self, k + 1)?;
            } else {
                path.push(Seg::Index(index));
                index += 1;
            }
            k = self.flow_value(i, k, path)?;
            path.pop();
            k = skip(self, k)?;
            match b.get(k) {
                Some(&c) if c == close && k < end => return Ok(k + 1),
                Some(b',') if k < end => {
                    k = skip(self, k + 1)?;
                    if k < end && b[k] == close {
                        return Err(bad(self, "a trailing comma"));
                    }
                }
                _ if k >= end => {
                    return Err(self.err(
                        i,
                        "a flow collection (`[…]`, `{…}`) that does not end on its line",
                    ))
                }
                _ => {
                    return Err(bad(
                        self,
                        "a missing comma or a bracket that does not match",
                    ))
                }
            }
        }
    }

    /// A key of a flow mapping at byte `k` of line `i`: a quoted scalar, or a plain one that every YAML
    /// reader takes as a string. (Its value, its token.)
    fn flow_key(&self, i: usize, k: usize) -> Result<(String, Range<usize>)> {
        let b = self.t.as_bytes();
        match b.get(k) {
            Some(b'"') | Some(b'\'') => {
                let (v, e) = self.quoted(i, k)?;
                Ok((v, k..e))
            }
            Some(b'[') | Some(b'{') => Err(self.err(
                i,
                "a collection as a key inside a flow collection (`[…]`, `{…}`)",
            )),
            _ => {
                let e = self.flow_plain(i, k)?;
                let key = self.t[k..e].trim_end_matches(' ');
                if key == "<<" {
                    return Err(self.err(i, "a merge key (`<<`)"));
                }
                if plain_type(key) != PlainType::Str {
                    return Err(self.err(
                        i,
                        &format!(
                            "the key {key:?}, which YAML may read as something other than a string"
                        ),
                    ));
                }
                if key.len() > MAX_KEY {
                    return Err(self.err(i, &format!("a key longer than {MAX_KEY} bytes")));
                }
                Ok((key.to_string(), k..k + key.len()))
            }
        }
    }

    /// A value of a flow collection at byte `k` of line `i`, under `path`: a nested flow, a quoted scalar
    /// or a plain one, pushed as items; the byte after it.
    fn flow_value(&mut self, i: usize, k: usize, path: &mut Vec<Seg>) -> Result<usize> {
        let t: &'a str = self.t;
        let b = t.as_bytes();
        match b.get(k) {
            Some(b'[') | Some(b'{') => self.flow(i, k, path),
            Some(b'"') | Some(b'\'') => {
                let (v, e) = self.quoted(i, k)?;
                let style = if b[k] == b'"' {
                    Style::Double
                } else {
                    Style::Single
                };
                self.push_flow(path, k..e, v, style);
                Ok(e)
            }
            _ => {
                let e = self.flow_plain(i, k)?;
                let v = t[k..e].trim_end_matches(' ');
                self.push_flow(path, k..k + v.len(), v.to_string(), Style::Plain);
                Ok(k + v.len())
            }
        }
    }

    /// The end of the plain scalar at byte `k` of line `i` inside a flow collection (before the `,`,
    /// bracket or `: ` that ends it; trailing spaces included).
    fn flow_plain(&self, i: usize, k: usize) -> Result<usize> {
        let b = self.t.as_bytes();
        let end = self.lines[i].end;
        let bad = |what: &str| {
            self.err(
                i,
                &format!("{what} inside a flow collection (`[…]`, `{{…}}`)"),
            )
        };
        match b.get(k) {
            _ if k >= end => {
                return Err(self.err(
                    i,
                    "a flow collection (`[…]`, `{…}`) that does not end on its line",
                ))
            }
            Some(b',') | Some(b']') | Some(b'}') | Some(b':') | Some(b'#') | Some(b'?')
            | Some(b'-') => return Err(bad("an empty item or an indicator")),
            None => return Err(bad("nothing")),
            Some(_) => {}
        }
        self.indicator(i, self.rest(i, k))?;
        let mut e = k;
        while e < end {
            match b[e] {
                b',' | b'[' | b']' | b'{' | b'}' => break,
                b':' if e + 1 < end && matches!(b[e + 1], b' ' | b',' | b']' | b'}') => break,
                b':' if e + 1 == end => break,
                b'#' if b[e - 1] == b' ' => return Err(bad("a comment")),
                b'?' => return Err(bad("`?`, which ends a plain scalar there")),
                b'\t' => return Err(bad("a tab")),
                _ => e += 1,
            }
        }
        Ok(e)
    }

    /// A scalar value inside a flow collection.
    fn push_flow(&mut self, path: &[Seg], span: Range<usize>, value: String, style: Style) {
        self.items.push(Item {
            kind: Kind::Value,
            path: path.to_vec(),
            span,
            value,
            style,
            flow: true,
        });
    }
}

/// Whether `s` starts a sequence item (`-` then a space or the end).
fn is_entry(s: &str) -> bool {
    s == "-" || s.starts_with("- ") || s.starts_with("-\t")
}

/// Where a comment starts in a plain line's text: a `#` after a space.
fn comment_at(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    (1..b.len()).find(|&k| b[k] == b'#' && (b[k - 1] == b' ' || b[k - 1] == b'\t'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(k: &str) -> Seg {
        Seg::Key(k.into())
    }

    fn find<'a>(s: &'a [Scalar], path: &[Seg]) -> &'a Scalar {
        s.iter().find(|x| x.path == path).expect("the path is read")
    }

    const DEX: &str = "\u{feff}---\r\nissuer: https://dex.example.com/dex # ours\r\nstorage:\r\n  type: sqlite3\r\n  config:\r\n    file: /var/lib/dex/dex.db\r\nenablePasswordDB: true\r\nconnectors:\r\n- type: oidc\r\n  id: jc\r\n  name: 'JumpCloud ''SSO'''\r\n  config:\r\n    issuer: \"https://oauth.id.jumpcloud.com\\u002f\" # note\r\n    scopes: [openid, email]\r\n";

    #[test]
    fn reads_paths_values_and_styles() {
        let s = scalars(DEX.as_bytes()).expect("reads");
        let iss = find(
            &s,
            &[
                key("connectors"),
                Seg::Index(0),
                key("config"),
                key("issuer"),
            ],
        );
        assert_eq!(iss.value, "https://oauth.id.jumpcloud.com/");
        assert_eq!(iss.style, Style::Double);
        assert_eq!(
            &DEX[iss.span.clone()],
            "\"https://oauth.id.jumpcloud.com\\u002f\""
        );
        let name = find(&s, &[key("connectors"), Seg::Index(0), key("name")]);
        assert_eq!(
            (name.value.as_str(), name.style),
            ("JumpCloud 'SSO'", Style::Single)
        );
        let top = find(&s, &[key("issuer")]);
        assert_eq!(&DEX[top.span.clone()], "https://dex.example.com/dex");
        let scope = find(
            &s,
            &[
                key("connectors"),
                Seg::Index(0),
                key("config"),
                key("scopes"),
                Seg::Index(1),
            ],
        );
        assert_eq!((scope.value.as_str(), scope.style), ("email", Style::Plain));
    }

    #[test]
    fn flow_mappings_are_read_and_edited() {
        let src = "connectors:\n- id: a\n  config: {issuer: https://a, clientID: 'x y', scopes: [openid, \"e\"], m: {}}\n";
        let s = scalars(src.as_bytes()).expect("reads");
        let iss = find(
            &s,
            &[
                key("connectors"),
                Seg::Index(0),
                key("config"),
                key("issuer"),
            ],
        );
        assert_eq!(&src[iss.span.clone()], "https://a");
        let out = replace(src.as_bytes(), iss, "https://a/").expect("edits");
        assert_eq!(
            String::from_utf8(out).expect("utf8"),
            src.replace("https://a,", "https://a/,")
        );
        // A plain value that would end early in a flow is refused, not quoted.
        assert!(replace(src.as_bytes(), iss, "https://a/?x=1").is_err());
        assert!(replace(src.as_bytes(), iss, "a,b").is_err());
        let id = find(
            &s,
            &[
                key("connectors"),
                Seg::Index(0),
                key("config"),
                key("clientID"),
            ],
        );
        let out = replace(src.as_bytes(), id, "a, b").expect("quoted");
        assert!(String::from_utf8(out)
            .expect("utf8")
            .contains("clientID: 'a, b',"));
        for bad in [
            "a: {b: 1, b: 2}\n",
            "a: {b: 1,\n  c: 2}\n",
            "a: {[b]: 1}\n",
            "a: {b: 1, }\n",
        ] {
            assert!(scalars(bad.as_bytes()).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn booleans_as_each_reader_reads_them() {
        for (w, v) in [("no", false), ("Off", false), ("Y", true), ("TRUE", true)] {
            assert_eq!(yaml11_bool(w), Some(v), "{w}");
        }
        assert_eq!(yaml11_bool("yEs"), None);
        assert_eq!(yaml12_bool("yes"), None);
        assert_eq!(v3_typed_bool("yes", Style::Double), Some(true));
        assert_eq!(v3_typed_bool("true", Style::Single), None);
        assert_eq!(bool_word("No", true), Some("Yes"));
        assert_eq!(bool_word("n", true), Some("y"));
        assert_eq!(bool_word("OFF", true), Some("ON"));
        assert_eq!(bool_word("maybe", true), None);
        // A YAML 1.1 word may become its opposite, never a 1.2 boolean or a string.
        let b = b"enablePasswordDB: no # off\n";
        let s = scalars(b).expect("reads");
        let out = replace(b, &s[0], "yes").expect("1.1 to 1.1");
        assert_eq!(out, b"enablePasswordDB: yes # off\n".to_vec());
        assert!(replace(b, &s[0], "true").is_err());
        assert!(replace(b, &s[0], "nope").is_err());
    }

    #[test]
    fn replaces_only_the_token_in_each_style() {
        let b = DEX.as_bytes();
        let s = scalars(b).expect("reads");
        let iss = find(
            &s,
            &[
                key("connectors"),
                Seg::Index(0),
                key("config"),
                key("issuer"),
            ],
        );
        let out = replace(b, iss, "https://oauth.id.jumpcloud.com").expect("edits");
        let want = DEX.replace(
            "\"https://oauth.id.jumpcloud.com\\u002f\"",
            "\"https://oauth.id.jumpcloud.com\"",
        );
        assert_eq!(String::from_utf8(out).expect("utf8"), want);
        let name = find(&s, &[key("connectors"), Seg::Index(0), key("name")]);
        let out = replace(b, name, "it's").expect("edits");
        assert!(String::from_utf8(out)
            .expect("utf8")
            .contains("  name: 'it''s'\r\n"));
        let top = find(&s, &[key("issuer")]);
        let out = replace(b, top, "https://dex.example.com/dex/").expect("edits");
        assert!(String::from_utf8(out)
            .expect("utf8")
            .contains("issuer: https://dex.example.com/dex/ # ours\r\n"));
        let pw = find(&s, &[key("enablePasswordDB")]);
        let out = replace(b, pw, "false").expect("bool to bool");
        assert!(String::from_utf8(out)
            .expect("utf8")
            .contains("enablePasswordDB: false\r\n"));
        assert!(replace(b, pw, "yes").is_err(), "a YAML 1.1 boolean");
        assert!(
            replace(b, top, "true").is_err(),
            "a string would become a bool"
        );
        assert!(replace(b, top, "a # b").is_err(), "would become a comment");
    }

    #[test]
    fn double_quoted_writes_escapes_that_read_back() {
        let b = b"k: \"x\"\n";
        let s = scalars(b).expect("reads");
        let v = "a\"b\\c\u{1}\u{2028}\u{feff}é";
        let out = replace(b, &s[0], v).expect("edits");
        assert_eq!(scalars(&out).expect("reads")[0].value, v);
    }

    #[test]
    fn refuses_what_it_cannot_read_exactly_in_one_line() {
        for (src, word) in [
            ("a: 1\n---\nb: 2\n", "more than one document"),
            ("a: &x 1\nb: *x\n", "anchor"),
            ("a:\n  <<: {b: 1}\n", "merge"),
            ("a: !!str x\n", "tag"),
            ("a: |\n  x\n", "block scalar"),
            ("a:\n\tb: 1\n", "tab"),
            ("a: 1\na: 2\n", "twice"),
            ("a: x\n  y\n", "continued"),
            ("a: \"x\n  y\"\n", "does not end"),
            ("a: [x,\n  y]\n", "flow"),
            ("a: x\rb: y\n", "carriage return"),
            ("a: \"x\\/y\"\n", "go-yaml"),
            ("a: \"\\ud83d\"\n", "not a character"),
        ] {
            let e = scalars(src.as_bytes()).expect_err(src).to_string();
            assert!(e.contains(word), "{src:?}: {e}");
            assert!(!e.contains('\n'), "one line: {e}");
        }
    }

    #[test]
    fn refuses_dollar_values() {
        let b = b"a: https://$HOST/\nb: x\n";
        let s = scalars(b).expect("reads");
        assert!(replace(b, &s[0], "https://h/").is_err());
        assert!(replace(b, &s[1], "${X}").is_err());
    }

    #[test]
    fn indentation_styles() {
        for src in [
            "connectors:\n- id: a\n  config:\n    issuer: x\n",
            "connectors:\n  - id: a\n    config:\n      issuer: x\n",
            "connectors:\n    -   id: a\n        config:\n            issuer: x\n",
            "connectors:\n-\n  id: a\n  config: {issuer: y}\n  config2:\n    issuer: x\n",
        ] {
            let s = scalars(src.as_bytes()).expect(src);
            let iss = s.iter().find(|x| x.value == "x").expect(src);
            assert_eq!(iss.path[..2], [key("connectors"), Seg::Index(0)], "{src}");
            let out = replace(src.as_bytes(), iss, "z").expect(src);
            assert_eq!(
                String::from_utf8(out).expect("utf8"),
                src.replace(": x", ": z")
            );
        }
    }
}
