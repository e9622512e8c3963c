//! Surgical edits of a connector's config JSON: find a top-level field's value span and replace exactly
//! those bytes, so key order, spacing, Go's `\u0026` escapes and every other byte stay as they were.
//! The JSON is read the way Go's encoding/json reads it when Dex decodes the config (and when go-oidc
//! decodes a discovery document):
//! - validity is Go's scanner's: RFC 8259 syntax, nesting up to 10000 levels, any bytes in strings except
//!   control characters (invalid UTF-8 and lone surrogate escapes decode to U+FFFD);
//! - keys match the way Go folds them (encoding/json's `foldName`: ASCII letters case-insensitively, any
//!   other rune to the smallest rune of its `unicode.SimpleFold` orbit, from a table generated with Go,
//!   [`crate::dex::foldtable`]; so `ſ` and the Kelvin sign `K` match `s` and `k`, while `ı` and `İ` match
//!   only themselves);
//! - the last matching key wins, except that a `null` leaves an earlier string in place.

use std::borrow::Cow;
use std::ops::Range;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field<'a> {
    /// The key, unescaped.
    pub key: Key<'a>,
    /// Byte span of the value (for a string: including its quotes).
    pub value: Range<usize>,
}

/// An object key, unescaped: the document's own bytes when the key has no escape and is valid UTF-8 (as
/// nearly every key is), else the text Go decodes. Reads as a `str`.
#[derive(Clone, PartialEq, Eq)]
pub struct Key<'a>(Cow<'a, str>);

impl<'a> Key<'a> {
    /// The key of the string literal `raw` (with its quotes); None when it is not one.
    fn of(raw: &'a [u8]) -> Option<Key<'a>> {
        match plain(raw) {
            Some(s) => Some(Key(Cow::Borrowed(s))),
            None => go_json_unquote(raw).map(|s| Key(Cow::Owned(s))),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::ops::Deref for Key<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Key<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.as_str(), f)
    }
}

impl std::fmt::Display for Key<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<str> for Key<'_> {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Key<'_> {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for Key<'_> {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other.as_str()
    }
}

impl PartialEq<Key<'_>> for String {
    fn eq(&self, other: &Key<'_>) -> bool {
        self.as_str() == other.as_str()
    }
}

/// The text of the string literal `raw` (with its quotes) when it needs no decoding: no escape and valid
/// UTF-8, so Go's decoder reads exactly these bytes.
fn plain(raw: &[u8]) -> Option<&str> {
    if raw.len() < 2 || raw.first() != Some(&b'"') || raw.last() != Some(&b'"') {
        return None;
    }
    let inner = &raw[1..raw.len() - 1];
    if inner.contains(&b'\\') {
        return None;
    }
    std::str::from_utf8(inner).ok()
}

#[derive(Debug, PartialEq, Eq)]
pub enum ConfigError {
    /// The bytes are not JSON at all (what is wrong and where; the message never quotes the input).
    NotJson(String),
    NotObject,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConfigError::NotJson(e) => write!(f, "config is not valid JSON ({e})"),
            ConfigError::NotObject => write!(f, "config is JSON but not an object"),
        }
    }
}

/// Go's encoding/json refuses documents nested deeper than this.
const MAX_DEPTH: usize = 10_000;

fn syntax(what: &str, at: usize) -> ConfigError {
    ConfigError::NotJson(format!("{what} at byte {at}"))
}

fn eof() -> ConfigError {
    ConfigError::NotJson("unexpected end of JSON input".into())
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\n' | b'\r') {
        i += 1;
    }
    i
}

/// Where the plain bytes of a string starting at `j` end: the first `"`, `\\` or control character at
/// or after `j`, or the end of `b`. Eight bytes at a time (a word's bytes tested at once), then byte by byte.
pub(crate) fn plain_run(b: &[u8], mut j: usize) -> usize {
    const ONES: u64 = u64::from_le_bytes([0x01; 8]);
    const HIGH: u64 = u64::from_le_bytes([0x80; 8]);
    // The high bit of each byte below `n` (n <= 0x80) in `x`, and of each zero byte of `x ^ c`; a borrow
    // may also mark a byte after a marked one, never one before, so the lowest mark is the first byte.
    let below = |x: u64, n: u8| x.wrapping_sub(ONES * u64::from(n)) & !x & HIGH;
    let zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    while let Some(w) = b.get(j..j + 8) {
        let mut a = [0u8; 8];
        a.copy_from_slice(w);
        let x = u64::from_le_bytes(a);
        let marks = below(x, 0x20)
            | zero(x ^ (ONES * u64::from(b'"')))
            | zero(x ^ (ONES * u64::from(b'\\')));
        if marks != 0 {
            // Little-endian: the lowest bit is the first byte.
            return j + (marks.trailing_zeros() / 8) as usize;
        }
        j += 8;
    }
    while j < b.len() && !matches!(b[j], b'"' | b'\\' | 0..=0x1f) {
        j += 1;
    }
    j
}

/// Checks the string starting at `i` (a `"`) and returns its end (exclusive).
fn check_string(b: &[u8], i: usize) -> Result<usize, ConfigError> {
    check_string_escapes(b, i).map(|(end, _)| end)
}

/// [`check_string`], also telling whether the string has an escape.
fn check_string_escapes(b: &[u8], i: usize) -> Result<(usize, bool), ConfigError> {
    let mut j = i + 1;
    let mut escapes = false;
    loop {
        j = plain_run(b, j);
        match b.get(j) {
            None => return Err(eof()),
            Some(b'"') => return Ok((j + 1, escapes)),
            Some(b'\\') => match b.get(j + 1).inspect(|_| escapes = true) {
                None => return Err(eof()),
                Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => j += 2,
                Some(b'u') => {
                    for k in j + 2..j + 6 {
                        match b.get(k) {
                            None => return Err(eof()),
                            Some(c) if c.is_ascii_hexdigit() => {}
                            Some(_) => return Err(syntax("invalid \\u escape in a string", k)),
                        }
                    }
                    j += 6;
                }
                Some(_) => return Err(syntax("invalid escape in a string", j)),
            },
            Some(c) if *c < 0x20 => return Err(syntax("control character in a string", j)),
            Some(_) => j += 1,
        }
    }
}

/// Checks the number starting at `i` and returns its end: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`.
fn check_number(b: &[u8], mut i: usize) -> Result<usize, ConfigError> {
    let digits = |b: &[u8], mut i: usize| -> Result<usize, ConfigError> {
        match b.get(i) {
            None => return Err(eof()),
            Some(c) if c.is_ascii_digit() => {}
            Some(_) => return Err(syntax("invalid number", i)),
        }
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        Ok(i)
    };
    if b.get(i) == Some(&b'-') {
        i += 1;
    }
    i = match b.get(i) {
        Some(b'0') => i + 1,
        _ => digits(b, i)?,
    };
    if b.get(i) == Some(&b'.') {
        i = digits(b, i + 1)?;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        i = digits(b, i)?;
    }
    Ok(i)
}

/// After `{` or `,` in an object: a key, white space and `:`; returns where the value may start.
fn check_key(b: &[u8], i: usize) -> Result<usize, ConfigError> {
    check_key_span(b, i).map(|(_, after_colon, _)| after_colon)
}

/// [`check_key`], also returning where the key's string ends (exclusive) and whether it has an escape.
fn check_key_span(b: &[u8], i: usize) -> Result<(usize, usize, bool), ConfigError> {
    match b.get(i) {
        None => return Err(eof()),
        Some(b'"') => {}
        Some(_) => return Err(syntax("expected a string key", i)),
    }
    let (key_end, escapes) = check_string_escapes(b, i)?;
    let i = skip_ws(b, key_end);
    match b.get(i) {
        None => Err(eof()),
        Some(b':') => Ok((key_end, i + 1, escapes)),
        Some(_) => Err(syntax("expected ':' after a key", i)),
    }
}

/// Checks the value starting at `i` (after any white space) the way Go's scanner does and returns its end.
/// Iterative, so nesting depth costs no stack.
fn check_value(b: &[u8], i: usize) -> Result<usize, ConfigError> {
    check_value_at(b, i, 0)
}

/// The brackets a walk is inside, innermost last: the first [`Open::INLINE`] in place (Dex's configs
/// nest a few levels: no allocation per value), deeper ones in a vector.
struct Open {
    inline: [u8; Open::INLINE],
    len: usize,
    deeper: Vec<u8>,
}

impl Open {
    const INLINE: usize = 32;

    fn new() -> Open {
        Open {
            inline: [0; Open::INLINE],
            len: 0,
            deeper: Vec::new(),
        }
    }

    fn push(&mut self, c: u8) {
        match self.inline.get_mut(self.len) {
            Some(slot) => *slot = c,
            None => self.deeper.push(c),
        }
        self.len += 1;
    }

    fn pop(&mut self) {
        if self.len > Open::INLINE {
            self.deeper.pop();
        }
        self.len = self.len.saturating_sub(1);
    }

    fn len(&self) -> usize {
        self.len
    }

    fn last(&self) -> Option<&u8> {
        match self.len {
            0 => None,
            n if n <= Open::INLINE => self.inline.get(n - 1),
            _ => self.deeper.last(),
        }
    }
}

/// [`check_value`] for a value already `depth` levels deep.
fn check_value_at(b: &[u8], mut i: usize, depth: usize) -> Result<usize, ConfigError> {
    let mut open = Open::new();
    loop {
        i = skip_ws(b, i);
        let mut end = match b.get(i) {
            None => return Err(eof()),
            Some(&c @ (b'{' | b'[')) => {
                open.push(c);
                if open.len() + depth > MAX_DEPTH {
                    return Err(syntax("nesting deeper than 10000 levels", i));
                }
                let j = skip_ws(b, i + 1);
                let close = if c == b'{' { b'}' } else { b']' };
                if b.get(j) == Some(&close) {
                    open.pop();
                    j + 1
                } else {
                    i = if c == b'{' { check_key(b, j)? } else { j };
                    continue;
                }
            }
            Some(b'"') => check_string(b, i)?,
            Some(b'-' | b'0'..=b'9') => check_number(b, i)?,
            Some(&c @ (b't' | b'f' | b'n')) => {
                let lit: &[u8] = match c {
                    b't' => b"true",
                    b'f' => b"false",
                    _ => b"null",
                };
                match b.get(i..i + lit.len()) {
                    Some(s) if s == lit => i + lit.len(),
                    Some(_) => return Err(syntax("invalid literal", i)),
                    None if b[i..] == lit[..b.len() - i] => return Err(eof()),
                    None => return Err(syntax("invalid literal", i)),
                }
            }
            Some(_) => return Err(syntax("expected a value", i)),
        };
        // A value ended: close what it completes, or go on with the next element.
        loop {
            let Some(&top) = open.last() else {
                return Ok(end);
            };
            let j = skip_ws(b, end);
            let close = if top == b'{' { b'}' } else { b']' };
            match b.get(j) {
                None => return Err(eof()),
                Some(b',') => {
                    let k = skip_ws(b, j + 1);
                    i = if top == b'{' { check_key(b, k)? } else { k };
                    break;
                }
                Some(c) if *c == close => {
                    open.pop();
                    end = j + 1;
                }
                Some(_) => return Err(syntax("expected ',' or a closing bracket", j)),
            }
        }
    }
}

/// End (exclusive) of the string starting at `i` (which is a `"`). The input is known to be valid JSON.
pub fn string_end(b: &[u8], mut i: usize) -> usize {
    i += 1;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    b.len()
}

fn hex4(b: &[u8], i: usize) -> Option<u32> {
    let h = b.get(i..i + 4)?;
    if !h.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    u32::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok()
}

/// [`go_json_unquote`] as a [`crate::shared::Shared`] string: one allocation for a string without an
/// escape (nearly all).
pub fn go_json_unquote_shared(raw: &[u8]) -> Option<crate::shared::Shared> {
    match plain(raw) {
        Some(s) => Some(s.into()),
        None => go_json_unquote(raw).map(Into::into),
    }
}

/// Decodes a JSON string literal (with its quotes) the way Go's encoding/json does: invalid UTF-8 bytes
/// and unpaired surrogate escapes become U+FFFD. None when `raw` is not a checked string literal.
pub fn go_json_unquote(raw: &[u8]) -> Option<String> {
    if raw.len() < 2 || raw.first() != Some(&b'"') || raw.last() != Some(&b'"') {
        return None;
    }
    if let Some(s) = plain(raw) {
        return Some(s.to_owned());
    }
    let b = &raw[..raw.len() - 1];
    let mut out = String::with_capacity(b.len());
    let mut i = 1;
    while i < b.len() {
        match b[i] {
            b'\\' => {
                let e = *b.get(i + 1)?;
                i += 2;
                match e {
                    b'"' | b'\\' | b'/' | b'\'' => out.push(char::from(e)),
                    b'b' => out.push('\u{8}'),
                    b'f' => out.push('\u{c}'),
                    b'n' => out.push('\n'),
                    b'r' => out.push('\r'),
                    b't' => out.push('\t'),
                    b'u' => {
                        let r = hex4(b, i)?;
                        i += 4;
                        if (0xD800..0xE000).contains(&r) {
                            // A pair only when a high surrogate is followed by an escaped low one.
                            let low = (b.get(i..i + 2) == Some(b"\\u"))
                                .then(|| hex4(b, i + 2))
                                .flatten()
                                .filter(|lo| (0xDC00..0xE000).contains(lo));
                            match low {
                                Some(lo) if r < 0xDC00 => {
                                    let c = 0x10000 + ((r - 0xD800) << 10) + (lo - 0xDC00);
                                    out.push(char::from_u32(c)?);
                                    i += 6;
                                }
                                _ => out.push(char::REPLACEMENT_CHARACTER),
                            }
                        } else {
                            out.push(char::from_u32(r)?);
                        }
                    }
                    _ => return None,
                }
            }
            c if c < 0x80 => {
                out.push(char::from(c));
                i += 1;
            }
            c => {
                // One UTF-8 sequence, or U+FFFD for one bad byte (Go's utf8.DecodeRune).
                let n = match c {
                    0xC2..=0xDF => 2,
                    0xE0..=0xEF => 3,
                    0xF0..=0xF4 => 4,
                    _ => 0,
                };
                match b.get(i..i + n).map(std::str::from_utf8) {
                    Some(Ok(s)) if n > 0 => {
                        out.push_str(s);
                        i += n;
                    }
                    _ => {
                        out.push(char::REPLACEMENT_CHARACTER);
                        i += 1;
                    }
                }
            }
        }
    }
    Some(out)
}

/// The top-level fields of a JSON object, in document order (duplicates included), validated by Go's
/// rules in the same single pass.
pub fn top_level_fields(src: &[u8]) -> Result<Vec<Field<'_>>, ConfigError> {
    // Dex's configs have a few to a few dozen fields: room for the common case without growing.
    let mut fields = Vec::with_capacity(16);
    top_level_fields_into(src, &mut fields).map(|()| fields)
}

/// [`top_level_fields`] into `fields` (cleared first), so that one vector serves a loop over many
/// configs; on an error its contents are unspecified.
pub fn top_level_fields_into<'a>(
    src: &'a [u8],
    fields: &mut Vec<Field<'a>>,
) -> Result<(), ConfigError> {
    fields.clear();
    let start = skip_ws(src, 0);
    let trailing = |end: usize| {
        let after = skip_ws(src, end);
        match after < src.len() {
            true => Err(syntax("unexpected data after the top-level value", after)),
            false => Ok(()),
        }
    };
    if src.get(start) != Some(&b'{') {
        trailing(check_value(src, start)?)?;
        return Err(ConfigError::NotObject);
    }
    // Checked as UTF-8 once (most configs are), so that keys need no check of their own.
    let text = std::str::from_utf8(src).ok();
    let mut i = skip_ws(src, start + 1);
    let end = if src.get(i) == Some(&b'}') {
        i + 1
    } else {
        loop {
            let (key_end, after_colon, escapes) = check_key_span(src, i)?;
            // A key without an escape in a document that is UTF-8 is its own bytes (the quotes are
            // ASCII, so they sit on char boundaries).
            let key = match text
                .filter(|_| !escapes)
                .and_then(|t| t.get(i + 1..key_end - 1))
            {
                Some(k) => Key(Cow::Borrowed(k)),
                None => Key::of(&src[i..key_end]).ok_or_else(|| syntax("undecodable key", i))?,
            };
            let v = skip_ws(src, after_colon);
            let v_end = check_value_at(src, v, 1)?;
            fields.push(Field {
                key,
                value: v..v_end,
            });
            let j = skip_ws(src, v_end);
            match src.get(j) {
                None => return Err(eof()),
                Some(b',') => i = skip_ws(src, j + 1),
                Some(b'}') => break j + 1,
                Some(_) => return Err(syntax("expected ',' or a closing bracket", j)),
            }
        }
    };
    trailing(end)?;
    Ok(())
}

/// The element spans of the JSON array `v` (which starts with `[` and is valid, as a value inside a
/// checked document is); empty for anything else.
pub fn array_elements(v: &[u8]) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    if v.first() != Some(&b'[') {
        return out;
    }
    let mut i = skip_ws(v, 1);
    if v.get(i) == Some(&b']') {
        return out;
    }
    while let Ok(end) = check_value(v, i) {
        out.push(skip_ws(v, i)..end);
        i = skip_ws(v, end);
        match v.get(i) {
            Some(b',') => i = skip_ws(v, i + 1),
            _ => break,
        }
    }
    out
}

/// One rune as Go's encoding/json folds key names (`foldName`, Go 1.21 and later): an ASCII letter to upper
/// case, any other rune to the smallest rune of its `unicode.SimpleFold` orbit, as the table generated by
/// Go 1.23 says ([`crate::dex::foldtable`]). Only `ſ` (to `S`) and the Kelvin sign (to `K`) fold into
/// ASCII; the dotless `ı` and the dotted `İ` fold to themselves.
pub fn go_fold(c: char) -> char {
    if c.is_ascii() {
        return c.to_ascii_uppercase();
    }
    let table = &crate::dex::foldtable::FOLD;
    match table.binary_search_by_key(&c, |&(from, _)| from) {
        Ok(i) => table.get(i).map_or(c, |&(_, to)| to),
        Err(_) => c,
    }
}

/// Whether Go's encoding/json would decode object key `key` into a struct field named `name`.
pub fn key_matches(key: &str, name: &str) -> bool {
    if key.is_ascii() && name.is_ascii() {
        // ASCII folds to ASCII only: the common case without decoding a char.
        return key.eq_ignore_ascii_case(name);
    }
    key == name || key.chars().map(go_fold).eq(name.chars().map(go_fold))
}

/// The last key that Go's decoder would match to `name` (see [`key_matches`]).
pub fn effective_field<'a, 'k>(fields: &'a [Field<'k>], name: &str) -> Option<&'a Field<'k>> {
    fields.iter().rev().find(|f| key_matches(&f.key, name))
}

/// The field whose value a string-typed Go struct field named `name` ends up with: the last matching key,
/// skipping later `null`s (Go leaves a string unchanged on null); a `null` only when every match is null.
pub fn decoded_field<'a, 'k>(
    src: &[u8],
    fields: &'a [Field<'k>],
    name: &str,
) -> Option<&'a Field<'k>> {
    let mut matching = fields.iter().rev().filter(|f| key_matches(&f.key, name));
    let last = matching.clone().next()?;
    Some(
        matching
            .find(|f| src.get(f.value.clone()) != Some(&b"null"[..]))
            .unwrap_or(last),
    )
}

/// What a field's value is, as far as a string-typed config field is concerned.
#[derive(Debug, PartialEq, Eq)]
pub enum StrValue {
    Absent,
    Null,
    Str(String),
    /// Present but not a string (a number, an object…): Dex cannot decode the config.
    NotString(&'static str),
}

/// The value Go's decoder gives the string field `name` (see [`decoded_field`]).
pub fn string_value(src: &[u8], fields: &[Field<'_>], name: &str) -> StrValue {
    let Some(f) = decoded_field(src, fields, name) else {
        return StrValue::Absent;
    };
    let Some(raw) = src.get(f.value.clone()) else {
        return StrValue::Absent;
    };
    match raw.first() {
        Some(b'"') => go_json_unquote(raw)
            .map(StrValue::Str)
            .unwrap_or(StrValue::NotString("an undecodable string")),
        Some(b'n') => StrValue::Null,
        Some(b'{') => StrValue::NotString("an object"),
        Some(b'[') => StrValue::NotString("an array"),
        Some(b't') | Some(b'f') => StrValue::NotString("a boolean"),
        _ => StrValue::NotString("a number"),
    }
}

/// Every scalar (string, number, literal) of a JSON document, with whether an object key on its path is
/// `marked`: a tolerant walk that never fails and needs no validity (invalid UTF-8, any depth, even a
/// truncated or broken document), so it can find secrets wherever Go's lenient decoder would read them.
/// `f` gets the scalar's bytes (a string with its quotes) and the flag.
pub fn scalars(src: &[u8], marked: &dyn Fn(&str) -> bool, f: &mut dyn FnMut(&[u8], bool)) {
    struct Level {
        object: bool,
        /// A key on the path above this container is marked.
        inherited: bool,
        /// Object: a key is due next (after `{` or `,`).
        want_key: bool,
        /// Object: the current member's key is marked.
        key_marked: bool,
    }
    let mut stack: Vec<Level> = Vec::new();
    let value_marked = |stack: &[Level]| match stack.last() {
        Some(l) if l.object => l.inherited || l.key_marked,
        Some(l) => l.inherited,
        None => false,
    };
    let mut i = 0;
    while i < src.len() {
        match src[i] {
            b' ' | b'\t' | b'\n' | b'\r' => i += 1,
            c @ (b'{' | b'[') => {
                let inherited = value_marked(&stack);
                stack.push(Level {
                    object: c == b'{',
                    inherited,
                    want_key: c == b'{',
                    key_marked: false,
                });
                i += 1;
            }
            b'}' | b']' => {
                stack.pop();
                i += 1;
            }
            b',' => {
                if let Some(l) = stack.last_mut().filter(|l| l.object) {
                    l.want_key = true;
                    l.key_marked = false;
                }
                i += 1;
            }
            b':' => {
                if let Some(l) = stack.last_mut() {
                    l.want_key = false;
                }
                i += 1;
            }
            b'"' => {
                let end = string_end(src, i);
                let raw = &src[i..end];
                match stack.last_mut() {
                    Some(l) if l.object && l.want_key => {
                        // Most keys have no escape: read them in place.
                        let inner = raw.get(1..raw.len().saturating_sub(1)).unwrap_or_default();
                        l.key_marked = match std::str::from_utf8(inner) {
                            Ok(k) if raw.len() >= 2 && !k.contains('\\') => marked(k),
                            _ => marked(
                                &go_json_unquote(raw)
                                    .unwrap_or_else(|| String::from_utf8_lossy(raw).into_owned()),
                            ),
                        };
                    }
                    _ => f(raw, value_marked(&stack)),
                }
                i = end;
            }
            _ => {
                let end = src[i..]
                    .iter()
                    .position(|b| b" \t\n\r,:{}[]\"".contains(b))
                    .map_or(src.len(), |n| i + n);
                f(&src[i..end], value_marked(&stack));
                i = end;
            }
        }
    }
}

/// A string as Go's json.Marshal writes it: `<`, `>`, `&`, U+2028 and U+2029 as \u escapes, `\b \f \n \r \t`
/// short, other control characters as lower-case \u00XX, everything else raw.
pub fn go_json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32))
            }
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `src` with the bytes of `span` replaced by `with`.
pub fn splice(src: &[u8], span: Range<usize>, with: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(src.len().saturating_sub(span.len()) + with.len());
    out.extend_from_slice(&src[..span.start]);
    out.extend_from_slice(with);
    out.extend_from_slice(&src[span.end..]);
    out
}

/// Sets the string field `name` (the occurrence Go's decoder would use) to `value`, changing only that
/// value's bytes. Returns None when the field is absent: the tool edits values, it never adds keys on its own.
pub fn set_string(src: &[u8], name: &str, value: &str) -> Result<Option<Vec<u8>>, ConfigError> {
    let fields = top_level_fields(src)?;
    let Some(f) = decoded_field(src, &fields, name) else {
        return Ok(None);
    };
    let out = splice(src, f.value.clone(), go_json_string(value).as_bytes());
    // The result must still be a JSON object with the new value in place.
    let check = top_level_fields(&out)?;
    if string_value(&out, &check, name) != StrValue::Str(value.to_string()) {
        return Err(ConfigError::NotJson(
            "the edited config does not read back the new value".into(),
        ));
    }
    Ok(Some(out))
}

/// Sets every string value of a key Go's decoder matches to `name` (`clientSecret`, `clientsecret`,
/// `CLIENTſECRET`…) to `value`, changing only those values' bytes: whichever of them a reader takes (Go the
/// last; NetBird's exact-case map lookup, which re-marshals the map with its keys sorted, another), it
/// reads `value`. A `null` or a non-string is left as it is. None when no such key holds a string.
pub fn set_every_string(
    src: &[u8],
    name: &str,
    value: &str,
) -> Result<Option<Vec<u8>>, ConfigError> {
    let fields = top_level_fields(src)?;
    let spans: Vec<Range<usize>> = fields
        .iter()
        .filter(|f| key_matches(&f.key, name) && src.get(f.value.start) == Some(&b'"'))
        .map(|f| f.value.clone())
        .collect();
    if spans.is_empty() {
        return Ok(None);
    }
    let token = go_json_string(value);
    let mut out = src.to_vec();
    // From the last to the first, so that the earlier spans stay where they are.
    for span in spans.iter().rev() {
        out = splice(&out, span.clone(), token.as_bytes());
    }
    let check = top_level_fields(&out)?;
    if string_value(&out, &check, name) != StrValue::Str(value.to_string()) {
        return Err(ConfigError::NotJson(
            "the edited config does not read back the new value".into(),
        ));
    }
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_bracket_stack_is_a_stack_past_its_inline_part() {
        let mut open = super::Open::new();
        let mut model: Vec<u8> = Vec::new();
        for n in 0..100u8 {
            let c = if n % 3 == 0 { b'{' } else { b'[' };
            open.push(c);
            model.push(c);
            assert_eq!(open.last(), model.last());
            assert_eq!(open.len(), model.len());
        }
        while !model.is_empty() {
            open.pop();
            model.pop();
            assert_eq!(open.last(), model.last());
            assert_eq!(open.len(), model.len());
        }
    }

    use super::*;

    #[test]
    fn every_case_variant_of_a_secret_gets_the_new_value_and_only_they_change() {
        let src = r#"{"ClientSecret":"old","clientID":"x","clientSecret":"new\u0026","clientsecret":"stray","clientſecret":null,"other":"old"}"#;
        let out = set_every_string(src.as_bytes(), "clientSecret", "s<3\\\"")
            .unwrap()
            .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"ClientSecret":"s\u003c3\\\"","clientID":"x","clientSecret":"s\u003c3\\\"","clientsecret":"s\u003c3\\\"","clientſecret":null,"other":"old"}"#
        );
        assert_eq!(
            set_every_string(br#"{"a":"b"}"#, "clientSecret", "x").unwrap(),
            None
        );
    }

    const GO: &[u8] = br#"{"clientID":"abc","clientSecret":"s3cr3t","insecureSkipEmailVerified":true,"issuer":"https://oauth.id.jumpcloud.com","redirectURI":"https://vpn.example.com/oauth2/callback?a=1\u0026b=2","scopes":["openid","profile","email"]}"#;

    #[test]
    fn edits_only_the_issuer_bytes() {
        let out = set_string(GO, "issuer", "https://oauth.id.jumpcloud.com/")
            .unwrap()
            .unwrap();
        let expected = String::from_utf8_lossy(GO).replace(
            r#""issuer":"https://oauth.id.jumpcloud.com""#,
            r#""issuer":"https://oauth.id.jumpcloud.com/""#,
        );
        assert_eq!(String::from_utf8(out).unwrap(), expected);
    }

    #[test]
    fn keeps_spacing_and_escapes_of_other_fields() {
        let src = b"{ \"Issuer\" : \"https://a\" ,\n  \"x\": \"\\u003c\\u0026\" }";
        let out = set_string(src, "issuer", "https://a/").unwrap().unwrap();
        assert_eq!(
            out,
            b"{ \"Issuer\" : \"https://a/\" ,\n  \"x\": \"\\u003c\\u0026\" }".to_vec()
        );
    }

    #[test]
    fn last_case_insensitive_key_wins_like_go() {
        let src = br#"{"issuer":"https://first","ISSUER":"https://second"}"#;
        let fields = top_level_fields(src).unwrap();
        assert_eq!(
            string_value(src, &fields, "issuer"),
            StrValue::Str("https://second".into())
        );
        let out = set_string(src, "issuer", "https://x").unwrap().unwrap();
        assert_eq!(
            out,
            br#"{"issuer":"https://first","ISSUER":"https://x"}"#.to_vec()
        );
    }

    #[test]
    fn keys_fold_like_go_fold_name() {
        // Go's foldName: ſ folds to S and the Kelvin sign to K; the dotless ı and the dotted İ fold only
        // to themselves (the smallest rune of their SimpleFold orbits), so they match no ASCII name.
        assert!(key_matches("iſſuer", "issuer"));
        assert!(!key_matches("ıssuer", "issuer"));
        assert!(!key_matches("İSSUER", "issuer"));
        assert!(key_matches("ıssuer", "ıSSUER"));
        assert!(!key_matches("redırectURI", "redirectURI"));
        assert!(key_matches("toKenURL", "tokenURL"));
        assert!(!key_matches("issuer ", "issuer"));
        assert!(!key_matches("issuerAlias", "issuer"));
        assert!(!key_matches("îssuer", "issuer"));
        // Non-ASCII letters fold within their orbits: é with É, ß with ẞ, µ with Μ and μ, σ with ς and Σ.
        assert!(key_matches("clé", "CLÉ"));
        assert!(key_matches("ß", "\u{1e9e}"));
        assert!(key_matches("µ", "μ") && key_matches("Μ", "µ"));
        assert!(key_matches("ς", "Σ") && key_matches("σ", "ς"));
        assert_eq!(go_fold('ı'), 'ı');
        assert_eq!(go_fold('İ'), 'İ');
        assert_eq!(go_fold('ſ'), 'S');
        assert_eq!(go_fold('\u{212a}'), 'K');
        assert_eq!(go_fold('k'), 'K');
        let src = "{\"issuer\":\"https://a\",\"iſsuer\":\"https://b\"}".as_bytes();
        let fields = top_level_fields(src).unwrap();
        assert_eq!(
            string_value(src, &fields, "issuer"),
            StrValue::Str("https://b".into())
        );
        // The decoy of the issue: a later "\u0131ssuer" is no issuer; the edit goes to the real one.
        let src = br#"{"issuer":"https://oauth.id.jumpcloud.com","\u0131ssuer":"https://decoy.example.com"}"#;
        let fields = top_level_fields(src).unwrap();
        assert_eq!(
            string_value(src, &fields, "issuer"),
            StrValue::Str("https://oauth.id.jumpcloud.com".into())
        );
        assert_eq!(
            set_string(src, "issuer", "https://oauth.id.jumpcloud.com/").unwrap(),
            Some(br#"{"issuer":"https://oauth.id.jumpcloud.com/","\u0131ssuer":"https://decoy.example.com"}"#.to_vec())
        );
    }

    /// Only ſ and the Kelvin sign fold into ASCII, and every rune's fold is a fixed point (the smallest
    /// rune of an orbit is its own smallest), as Go's foldRune gives.
    #[test]
    fn the_fold_table_folds_two_runes_into_ascii() {
        let into_ascii: Vec<char> = crate::dex::foldtable::FOLD
            .iter()
            .filter(|(from, to)| !from.is_ascii() && to.is_ascii())
            .map(|&(from, _)| from)
            .collect();
        assert_eq!(into_ascii, ['\u{17f}', '\u{212a}']);
        let table = &crate::dex::foldtable::FOLD;
        assert!(table.windows(2).all(|w| w[0].0 < w[1].0), "sorted");
        for &(from, to) in table.iter() {
            assert!(to < from, "{from:?} folds to a smaller rune");
            assert_eq!(go_fold(to), to, "{to:?} is its own fold");
        }
        assert_eq!(go_fold('\u{10428}'), '\u{10400}', "Deseret, beyond the BMP");
    }

    #[test]
    fn a_later_null_leaves_the_string_like_go() {
        let src = br#"{"issuer":"https://a","Issuer":null}"#;
        let fields = top_level_fields(src).unwrap();
        assert_eq!(
            string_value(src, &fields, "issuer"),
            StrValue::Str("https://a".into())
        );
        assert_eq!(effective_field(&fields, "issuer").unwrap().key, "Issuer");
        let out = set_string(src, "issuer", "https://a/").unwrap().unwrap();
        assert_eq!(out, br#"{"issuer":"https://a/","Issuer":null}"#.to_vec());
        let only_null = br#"{"issuer":null}"#;
        let fields = top_level_fields(only_null).unwrap();
        assert_eq!(string_value(only_null, &fields, "issuer"), StrValue::Null);
        assert_eq!(
            set_string(only_null, "issuer", "https://a").unwrap(),
            Some(br#"{"issuer":"https://a"}"#.to_vec())
        );
    }

    #[test]
    fn nested_values_and_empty_objects() {
        let src =
            br#"{"claimMapping":{"issuer":"nested"},"scopes":["a","b]"],"n":-1.5e3,"issuer":null}"#;
        let fields = top_level_fields(src).unwrap();
        assert_eq!(
            fields.iter().map(|f| f.key.as_str()).collect::<Vec<_>>(),
            ["claimMapping", "scopes", "n", "issuer"]
        );
        assert_eq!(string_value(src, &fields, "issuer"), StrValue::Null);
        assert_eq!(top_level_fields(b" {} ").unwrap(), vec![]);
        assert_eq!(
            top_level_fields(br#"{"a":[],"b":{},"c":[[],{}]}"#)
                .unwrap()
                .len(),
            3
        );
    }

    #[test]
    fn refuses_what_is_not_an_object() {
        assert_eq!(top_level_fields(b"[1,2]"), Err(ConfigError::NotObject));
        assert_eq!(top_level_fields(b" \"x\" "), Err(ConfigError::NotObject));
        assert!(matches!(
            top_level_fields(b"{\"issuer\":"),
            Err(ConfigError::NotJson(_))
        ));
        assert!(matches!(
            top_level_fields(b""),
            Err(ConfigError::NotJson(_))
        ));
        let src = br#"{"issuer":42}"#;
        assert_eq!(
            string_value(src, &top_level_fields(src).unwrap(), "issuer"),
            StrValue::NotString("a number")
        );
    }

    #[test]
    fn validates_like_go() {
        let bad: &[&[u8]] = &[
            b"{\"a\":01}",
            b"{\"a\":1.}",
            b"{\"a\":.5}",
            b"{\"a\":+1}",
            b"{\"a\":-}",
            b"{\"a\":1e}",
            b"{\"a\":tru}",
            b"{\"a\":nul",
            b"{\"a\":\"\\x41\"}",
            b"{\"a\":\"\\'\"}",
            b"{\"a\":\"\\u12g4\"}",
            b"{\"a\":\"tab\there\"}",
            b"{\"a\":1,}",
            b"{\"a\" 1}",
            b"{a:1}",
            b"{\"a\":[1 2]}",
            b"{\"a\":[1,]}",
            b"{\"a\":1}}",
            b"{\"a\":1} x",
            b"{\"a\":[}",
            b"\xef\xbb\xbf{}",
        ];
        for b in bad {
            assert!(
                matches!(top_level_fields(b), Err(ConfigError::NotJson(_))),
                "{:?}",
                String::from_utf8_lossy(b)
            );
        }
        let good: &[&[u8]] = &[
            b"{\"a\":-0.5e+10,\"b\":0,\"c\":1E-2,\"d\":[true,false,null],\"e\":\"\\/\\b\\f\"}",
            b"\t\r\n{ \"a\" :\n[ ] }\n",
        ];
        for b in good {
            assert!(
                top_level_fields(b).is_ok(),
                "{:?}",
                String::from_utf8_lossy(b)
            );
        }
        // Go accepts nesting up to 10000 levels; deeper is an error, not a stack overflow.
        let deep = |n: usize| format!("{{\"a\":{}1{}}}", "[".repeat(n), "]".repeat(n));
        assert!(top_level_fields(deep(9_999).as_bytes()).is_ok());
        assert!(matches!(
            top_level_fields(deep(10_000).as_bytes()),
            Err(ConfigError::NotJson(_))
        ));
        assert!(top_level_fields(deep(1_000_000).as_bytes()).is_err());
    }

    #[test]
    fn error_messages_never_quote_the_input() {
        let Err(ConfigError::NotJson(msg)) = top_level_fields(br#"{"clientSecret":"hunter2","x":"#)
        else {
            panic!("expected NotJson");
        };
        assert!(!msg.contains("hunter2"), "{msg}");
        let Err(ConfigError::NotJson(msg)) = top_level_fields(br#"{"clientSecret":hunter2}"#)
        else {
            panic!("expected NotJson");
        };
        assert!(!msg.contains("hunter"), "{msg}");
    }

    #[test]
    fn decodes_strings_like_go() {
        assert_eq!(
            go_json_unquote(br#""a\u003cb\u0026\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00""#).unwrap(),
            "a<b&\"\\/\u{8}\u{c}\n\r\té😀"
        );
        // Lone or reversed surrogates and invalid UTF-8 bytes become U+FFFD, one per bad byte.
        assert_eq!(go_json_unquote(br#""\ud800x""#).unwrap(), "\u{fffd}x");
        assert_eq!(
            go_json_unquote(br#""\ude00\ud83d""#).unwrap(),
            "\u{fffd}\u{fffd}"
        );
        assert_eq!(go_json_unquote(br#""\ud83d\u0041""#).unwrap(), "\u{fffd}A");
        assert_eq!(
            go_json_unquote(b"\"a\xe2\x82b\xffc\xed\xa0\x80\"").unwrap(),
            "a\u{fffd}\u{fffd}b\u{fffd}c\u{fffd}\u{fffd}\u{fffd}"
        );
        // Go's decoder accepts such configs and so does ozrepair.
        let src = b"{\"issuer\":\"https://a\xff\",\"k\xfe\":1}";
        let fields = top_level_fields(src).unwrap();
        assert_eq!(fields[1].key, "k\u{fffd}");
        assert_eq!(
            string_value(src, &fields, "issuer"),
            StrValue::Str("https://a\u{fffd}".into())
        );
        assert_eq!(
            set_string(src, "issuer", "https://b").unwrap(),
            Some(b"{\"issuer\":\"https://b\",\"k\xfe\":1}".to_vec())
        );
    }

    #[test]
    fn absent_field_is_not_added() {
        assert_eq!(
            set_string(br#"{"clientID":"x"}"#, "issuer", "https://a").unwrap(),
            None
        );
    }

    #[test]
    fn plain_run_finds_the_first_special_byte() {
        let naive = |b: &[u8], mut j: usize| {
            while j < b.len() && !matches!(b[j], b'"' | b'\\' | 0..=0x1f) {
                j += 1;
            }
            j
        };
        for filler in [b'a', 0x20, 0x7f, 0x80, 0xe9, 0xff] {
            for special in [
                0x00, 0x01, 0x1f, b'"', b'\\', 0x20, 0x21, 0x23, 0x5b, 0x5d, 0xa2, 0xdc,
            ] {
                for len in 0..26 {
                    for pos in 0..len {
                        let mut b = vec![filler; len];
                        b[pos] = special;
                        if pos + 3 < len {
                            b[pos + 3] = b'"';
                        }
                        for from in 0..len.min(10) {
                            assert_eq!(plain_run(&b, from), naive(&b, from), "{b:?} from {from}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn go_string_escapes() {
        assert_eq!(
            go_json_string("a<b>&\"\\\n\u{1}\u{2028}é"),
            r#""a\u003cb\u003e\u0026\"\\\n\u0001\u2028é""#
        );
    }

    mod props {
        use super::super::*;
        use proptest::prelude::*;
        use std::collections::BTreeMap;

        /// A JSON value as Go's json.Marshal writes a map-based document (keys sorted).
        #[derive(Debug, Clone)]
        enum J {
            Null,
            Bool(bool),
            Num(String),
            Str(String),
            Arr(Vec<J>),
            Obj(BTreeMap<String, J>),
        }

        fn text() -> impl Strategy<Value = String> {
            let c = prop_oneof![
                3 => any::<char>(),
                2 => proptest::char::range('a', 'z'),
                2 => prop::sample::select(vec![
                    '"', '\\', '/', '<', '>', '&', '\u{2028}', '\u{2029}', '\n', '\t', '\u{0}',
                    '\u{1f}', '\u{7f}', 'é', '😀', '\u{fffd}', ' ', ':', ',', '{', '}', '[', ']',
                ]),
            ];
            prop::collection::vec(c, 0..12).prop_map(|v| v.into_iter().collect())
        }

        fn key() -> impl Strategy<Value = String> {
            prop_oneof![4 => text(), 1 => Just("issuer".to_string()), 1 => Just("Issuer".to_string())]
        }

        fn value() -> impl Strategy<Value = J> {
            let leaf = prop_oneof![
                Just(J::Null),
                any::<bool>().prop_map(J::Bool),
                any::<i64>().prop_map(|n| J::Num(n.to_string())),
                (-1e9f64..1e9f64).prop_map(|f| J::Num(format!("{f:?}"))),
                (1e-300f64..1e300f64).prop_map(|f| J::Num(format!("{f:e}"))),
                text().prop_map(J::Str),
            ];
            leaf.prop_recursive(3, 32, 5, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..5).prop_map(J::Arr),
                    prop::collection::btree_map(key(), inner, 0..5).prop_map(J::Obj),
                ]
            })
        }

        /// Renders `j`, putting `ws()` between tokens; records the span of the top-level `issuer` value.
        fn render(
            j: &J,
            out: &mut String,
            ws: &mut dyn FnMut() -> &'static str,
            top: bool,
            span: &mut Option<std::ops::Range<usize>>,
        ) {
            match j {
                J::Null => out.push_str("null"),
                J::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
                J::Num(n) => out.push_str(n),
                J::Str(s) => out.push_str(&go_json_string(s)),
                J::Arr(v) => {
                    out.push('[');
                    for (i, x) in v.iter().enumerate() {
                        if i > 0 {
                            out.push_str(ws());
                            out.push(',');
                        }
                        out.push_str(ws());
                        render(x, out, ws, false, span);
                    }
                    out.push_str(ws());
                    out.push(']');
                }
                J::Obj(m) => {
                    out.push('{');
                    for (i, (k, x)) in m.iter().enumerate() {
                        if i > 0 {
                            out.push_str(ws());
                            out.push(',');
                        }
                        out.push_str(ws());
                        out.push_str(&go_json_string(k));
                        out.push_str(ws());
                        out.push(':');
                        out.push_str(ws());
                        let start = out.len();
                        render(x, out, ws, false, span);
                        if top && k == "issuer" {
                            *span = Some(start..out.len());
                        }
                    }
                    out.push_str(ws());
                    out.push('}');
                }
            }
        }

        /// A config object with a string `issuer` among other sorted keys, none of which Go would also
        /// decode into `issuer`.
        fn config() -> impl Strategy<Value = (BTreeMap<String, J>, String)> {
            (prop::collection::btree_map(key(), value(), 0..8), text()).prop_map(|(mut m, old)| {
                m.retain(|k, _| !key_matches(k, "issuer"));
                m.insert("issuer".into(), J::Str(old.clone()));
                (m, old)
            })
        }

        fn check(
            m: BTreeMap<String, J>,
            old: &str,
            new: &str,
            seeds: &[u8],
        ) -> Result<(), TestCaseError> {
            const WS: [&str; 6] = ["", "", "", " ", "\n  ", "\t\r\n "];
            let mut k = 0usize;
            let mut ws = || {
                k += 1;
                if seeds.is_empty() {
                    ""
                } else {
                    WS[usize::from(seeds[k % seeds.len()]) % WS.len()]
                }
            };
            let (mut src, mut span) = (String::new(), None);
            src.push_str(ws());
            render(&J::Obj(m.clone()), &mut src, &mut ws, true, &mut span);
            src.push_str(ws());
            let span = span.expect("the issuer was rendered");
            let src = src.into_bytes();

            let fields = top_level_fields(&src).expect("valid JSON");
            prop_assert_eq!(
                fields.iter().map(|f| f.key.clone()).collect::<Vec<_>>(),
                m.keys().cloned().collect::<Vec<_>>()
            );
            prop_assert_eq!(
                string_value(&src, &fields, "issuer"),
                StrValue::Str(old.into())
            );

            let out = set_string(&src, "issuer", new)
                .expect("edits")
                .expect("issuer present");
            let tail = src.len() - span.end;
            prop_assert_eq!(&out[..span.start], &src[..span.start]);
            prop_assert_eq!(&out[out.len() - tail..], &src[span.end..]);
            let quoted = go_json_string(new);
            prop_assert_eq!(&out[span.start..out.len() - tail], quoted.as_bytes());
            let v: serde_json::Value = serde_json::from_slice(&out).expect("serde_json parses it");
            prop_assert_eq!(v.get("issuer").and_then(|v| v.as_str()), Some(new));
            let before: serde_json::Value =
                serde_json::from_slice(&src).expect("serde_json parses it");
            let (mut a, mut b) = (before, v);
            a.as_object_mut().map(|o| o.remove("issuer"));
            b.as_object_mut().map(|o| o.remove("issuer"));
            prop_assert_eq!(a, b);
            Ok(())
        }

        /// `n` cases, and no regression files written into the source tree.
        fn cases(n: u32) -> ProptestConfig {
            ProptestConfig {
                cases: n,
                failure_persistence: None,
                ..ProptestConfig::default()
            }
        }

        proptest! {
            #![proptest_config(cases(600))]

            /// Token soup: ozrepair's validity is serde_json's on inputs built from JSON's grammar pieces.
            #[test]
            fn validity_agrees_with_serde_json_on_token_soup(
                toks in prop::collection::vec(prop::sample::select(vec![
                    "{", "}", "[", "]", ",", ":", "\"a\"", "\"\\u00e9\"", "\"\\u12\"", "\"\\x41\"",
                    "\"\\/\"", "\"\t\"", "\"", "0", "01", "-", "-0", "1.", "1.5", ".5", "e", "E+", "1e5",
                    "true", "tru", "false", "null", "nulll", " ", "\n", "x",
                ]), 0..14),
                wrap in any::<bool>(),
            ) {
                let body = toks.concat();
                let src = if wrap { format!("{{\"k\":{body}}}") } else { body };
                let ours = match top_level_fields(src.as_bytes()) {
                    Ok(_) | Err(ConfigError::NotObject) => true,
                    Err(ConfigError::NotJson(_)) => false,
                };
                let theirs = serde_json::from_slice::<serde::de::IgnoredAny>(src.as_bytes()).is_ok();
                prop_assert_eq!(ours, theirs, "{:?}", src);
            }

        }

        proptest! {
            #![proptest_config(cases(200))]

            #[test]
            fn set_string_changes_only_the_issuer_span((m, old) in config(), new in text()) {
                check(m, &old, &new, &[])?;
            }

            #[test]
            fn set_string_with_white_space((m, old) in config(), new in text(),
                                           seeds in prop::collection::vec(any::<u8>(), 1..64)) {
                check(m, &old, &new, &seeds)?;
            }

            /// One changed byte: ozrepair's validity is serde_json's (both follow RFC 8259 here).
            #[test]
            fn validity_agrees_with_serde_json((m, _) in config(), at in any::<prop::sample::Index>(),
                                               byte in prop_oneof![
                                                   0x00u8..0x80,
                                                   prop::sample::select(b"0123456789-+.eE\"\\{}[],: ntfu".to_vec()),
                                               ]) {
                let mut src = String::new();
                render(&J::Obj(m), &mut src, &mut || "", true, &mut None);
                let mut src = src.into_bytes();
                let i = at.index(src.len());
                src[i] = byte;
                let ours = match top_level_fields(&src) {
                    Ok(_) | Err(ConfigError::NotObject) => true,
                    Err(ConfigError::NotJson(_)) => false,
                };
                let theirs = serde_json::from_slice::<serde::de::IgnoredAny>(&src).is_ok();
                prop_assert_eq!(ours, theirs, "{:?}", String::from_utf8_lossy(&src));
            }
        }
    }
}
