//! Secrets never leave the process: every value of a secret-looking config field (collected from the rows
//! by [`crate::dex::secrets`]) is scrubbed from every string of the report (connectors, changes, notes,
//! errors) before it is rendered, so the scrub sees each string exactly as it is, before any escaping
//! (JSON, the text report's control-character escapes). `--show-secrets` is the only way around it.
//!
//! Three rules, by what a secret looks like:
//! - a string that *is* a secret is redacted whatever its length (a 1-character secret, or the text
//!   `null`, which in JSON output is then the string "[redacted]", never a broken document);
//! - a secret of [`LONG`] bytes or more is redacted wherever it occurs inside a string;
//! - a shorter secret only where it is a whole word (between spaces, quotes or brackets), so a secret such
//!   as `oidc` or `https` does not turn every URL and type in the report into `[redacted]`.
//!
//! The long rule is linear in the text and cheap to set up for thousands of secrets: every long secret is
//! indexed by its first 8 bytes (a 2^20-bit filter, then a hash table of them). A text is probed at every
//! fifth position against a second filter, of the 4-byte grams at offsets 0 to 4 of every long secret:
//! each window of 8 bytes holds a probed position whose gram lies inside it, so only the (at most five)
//! positions before a probe that hits can start a secret; each of those costs one probe of the first
//! filter, and only a hit there compares bytes. A text without a hit (most report strings) costs one
//! probe per five bytes. A text that is a long secret needs no rule of its own: the long rule replaces
//! it whole (the longest secret at a position wins).

use std::borrow::Cow;
use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};

/// A small multiplicative hash for the scrub's sets (the keys are the database's own secrets, looked up
/// once per report string; SipHash's flooding resistance buys nothing here).
#[derive(Default)]
struct Fx(u64);

impl Hasher for Fx {
    fn write(&mut self, bytes: &[u8]) {
        for c in bytes.chunks(8) {
            let mut a = [0u8; 8];
            a[..c.len()].copy_from_slice(c);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(a))
                .wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
    }
    fn write_u8(&mut self, b: u8) {
        self.write(&[b]);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

type FxBuild = BuildHasherDefault<Fx>;

pub const REDACTED: &str = "[redacted]";

/// Secrets this long or longer are scrubbed wherever they occur; shorter ones as whole words only.
pub const LONG: usize = 8;
/// Secrets shorter than this are scrubbed only where a string is exactly the secret.
pub const WORD: usize = 4;

const FILTER_BITS: u32 = 20;

/// The scrub for one set of secrets, built once per report. It borrows the secrets (thousands of them
/// are not copied); only a secret's JSON-escaped form, when it differs, is a string of its own.
pub struct Scrubber<'a> {
    /// Whether there is a secret at all.
    any: bool,
    /// Secrets shorter than [`LONG`], redacted where a string is one of them (a string that is a long
    /// secret is redacted whole by the long rule).
    exact: HashSet<&'a str, FxBuild>,
    /// Secrets of WORD..LONG bytes, matched as whole words.
    words: HashSet<&'a str, FxBuild>,
    /// Long secrets with their first 8 bytes.
    long: Vec<(u64, Cow<'a, str>)>,
    /// `long` indexed by those 8 bytes: open addressing, linear probing from [`Scrubber::home`]; an entry
    /// is an index into `long` plus one, 0 an empty slot. At most half full.
    index: Vec<u32>,
    /// The first 8 bytes of every long secret (bits by [`slot`]).
    filter: Vec<u64>,
    /// Its 4-byte grams at offsets 0..[`STRIDE`] (bits by [`slot`] of the gram).
    grams: Vec<u64>,
}

/// Whether a secret is written differently in Go's JSON (`"`, `\\`, controls, `<`, `>`, `&`, and the
/// first byte of U+2028 and U+2029): by byte.
const GO_ESCAPES: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        t[b] = true;
        b += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t[b'<' as usize] = true;
    t[b'>' as usize] = true;
    t[b'&' as usize] = true;
    t[0xe2] = true;
    t
};

/// The bytes of a gram of [`Scrubber::grams`].
const GRAM: usize = 4;
/// Every STRIDE-th position of a text is probed against the grams: any [`LONG`] bytes of the text hold
/// one such position `p`, and `p + GRAM` is still inside them.
const STRIDE: usize = LONG - GRAM + 1;

fn gram(b: &[u8]) -> u64 {
    let mut a = [0u8; GRAM];
    a.copy_from_slice(&b[..GRAM]);
    u64::from(u32::from_le_bytes(a))
}

fn set_bit(bits: &mut [u64], k: usize) {
    bits[k >> 6] |= 1 << (k & 63);
}

fn has_bit(bits: &[u64], k: usize) -> bool {
    bits[k >> 6] & (1 << (k & 63)) != 0
}

fn prefix(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    u64::from_le_bytes(a)
}

fn slot(p: u64) -> usize {
    (p.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - FILTER_BITS)) as usize
}

/// Where a word ends for the short rule: white space, quotes, brackets and separators.
fn is_break(c: char) -> bool {
    c.is_whitespace() || "\"'`()[]{}<>,;=".contains(c)
}

impl<'a> Scrubber<'a> {
    pub fn new(secrets: &'a [String]) -> Scrubber<'a> {
        let mut s = Scrubber {
            any: false,
            exact: HashSet::default(),
            words: HashSet::default(),
            long: Vec::with_capacity(secrets.len()),
            index: Vec::new(),
            filter: Vec::new(),
            grams: Vec::new(),
        };
        for secret in secrets.iter().filter(|x| !x.is_empty()) {
            let secret = secret.as_str();
            s.any = true;
            if secret.len() >= LONG {
                s.add_long(Cow::Borrowed(secret));
                // Also as Go's JSON writes it, in case a log line or message carries it escaped.
                if secret.bytes().any(|b| GO_ESCAPES[usize::from(b)]) {
                    let quoted = crate::dex::jsonedit::go_json_string(secret);
                    let inner = &quoted[1..quoted.len() - 1];
                    if inner != secret {
                        s.add_long(Cow::Owned(inner.to_string()));
                    }
                }
            } else {
                s.exact.insert(secret);
                if secret.len() >= WORD {
                    s.words.insert(secret);
                }
            }
        }
        s.index_long();
        s
    }

    fn add_long(&mut self, secret: Cow<'a, str>) {
        if self.filter.is_empty() {
            self.filter = vec![0; 1 << (FILTER_BITS - 6)];
            self.grams = vec![0; 1 << (FILTER_BITS - 6)];
        }
        let b = secret.as_bytes();
        let p = prefix(b);
        set_bit(&mut self.filter, slot(p));
        for o in 0..STRIDE {
            set_bit(&mut self.grams, slot(gram(&b[o..])));
        }
        self.long.push((p, secret));
    }

    /// Where the probe for a prefix starts in `index`.
    fn home(&self, p: u64) -> usize {
        // `index` has a power-of-two length of at least 2 (see `index_long`).
        let bits = self.index.len().trailing_zeros();
        (p.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - bits)) as usize
    }

    /// Builds `index` over `long`.
    fn index_long(&mut self) {
        if self.long.is_empty() {
            return;
        }
        // At most half full, so a probe meets an empty slot soon; u32 entries (a report has far fewer
        // than 2^32 secrets; `long` is cut to fit if ever it had more).
        self.long.truncate(u32::MAX as usize - 1);
        self.index = vec![0; (2 * self.long.len()).next_power_of_two().max(2)];
        let mask = self.index.len() - 1;
        // A secret already indexed (the same value in many configs) is not indexed again, so a probe's
        // run stays short.
        'secrets: for n in 0..self.long.len() {
            let (p, secret) = &self.long[n];
            let mut h = self.home(*p);
            while let Some(e) = self.index[h].checked_sub(1) {
                let (q, other) = &self.long[e as usize];
                if q == p && other == secret {
                    continue 'secrets;
                }
                h = (h + 1) & mask;
            }
            self.index[h] = n as u32 + 1;
        }
    }

    /// The longest long secret that `b` starts with, among those whose first 8 bytes are `p`.
    fn longest_at(&self, b: &[u8], p: u64) -> Option<&str> {
        let mask = self.index.len() - 1;
        let mut h = self.home(p);
        let mut best: Option<&str> = None;
        loop {
            let e = self.index[h] as usize;
            if e == 0 {
                return best;
            }
            let (q, s) = &self.long[e - 1];
            if *q == p && s.len() > best.map_or(0, str::len) && b.starts_with(s.as_bytes()) {
                best = Some(s);
            }
            h = (h + 1) & mask;
        }
    }

    pub fn is_empty(&self) -> bool {
        !self.any
    }

    /// `text` with its secrets replaced by [redacted]; None when it has none (it stays as it is).
    pub fn scrub(&self, text: &str) -> Option<String> {
        if !self.any || text.is_empty() {
            return None;
        }
        if text.len() < LONG && self.exact.contains(text) {
            return Some(REDACTED.to_string());
        }
        let long = self.scrub_long(text);
        if !self.words.is_empty() {
            if let Some(t) = self.scrub_words(long.as_deref().unwrap_or(text)) {
                return Some(t);
            }
        }
        long
    }

    /// The long rule; None when nothing matched. Only the positions a probed gram points to are tried:
    /// a long secret at `i` holds the probed position `p` in `i..i + STRIDE` (see [`STRIDE`]), whose gram
    /// is its gram at offset `p - i`, so every position where one starts is tried, left to right, as a
    /// pass over every position would (the longest secret at the first position wins, and the pass goes
    /// on after it).
    fn scrub_long(&self, text: &str) -> Option<String> {
        let b = text.as_bytes();
        if self.long.is_empty() || b.len() < LONG {
            return None;
        }
        let mut out: Option<String> = None;
        // `copied`: the end of the last match; `i`: the first position not tried yet.
        let (mut i, mut copied, mut p) = (0, 0, 0);
        let last = b.len() - LONG;
        while p + GRAM <= b.len() {
            if has_bit(&self.grams, slot(gram(&b[p..]))) {
                i = i.max(p.saturating_sub(STRIDE - 1));
                while i <= p.min(last) {
                    let q = prefix(&b[i..]);
                    if has_bit(&self.filter, slot(q)) {
                        if let Some(m) = self.longest_at(&b[i..], q) {
                            // A match starts and ends on char boundaries: the secret is UTF-8 itself.
                            let o = out.get_or_insert_with(|| String::with_capacity(text.len()));
                            o.push_str(&text[copied..i]);
                            o.push_str(REDACTED);
                            i += m.len();
                            copied = i;
                            continue;
                        }
                    }
                    i += 1;
                }
            }
            p += STRIDE;
        }
        let mut o = out?;
        o.push_str(&text[copied..]);
        Some(o)
    }

    /// The short rule: whole words equal to a secret (a trailing `:` or `.` is not part of the word).
    fn scrub_words(&self, text: &str) -> Option<String> {
        let mut out: Option<String> = None;
        let mut copied = 0;
        let mut start = None;
        let check = |from: usize, to: usize, out: &mut Option<String>, copied: &mut usize| {
            let w = text[from..to].trim_end_matches([':', '.']);
            if w.len() >= WORD && self.words.contains(w) {
                let o = out.get_or_insert_with(|| String::with_capacity(text.len()));
                o.push_str(&text[*copied..from]);
                o.push_str(REDACTED);
                *copied = from + w.len();
            }
        };
        for (i, c) in text.char_indices() {
            if is_break(c) {
                if let Some(s) = start.take() {
                    check(s, i, &mut out, &mut copied);
                }
            } else if start.is_none() {
                start = Some(i);
            }
        }
        if let Some(s) = start {
            check(s, text.len(), &mut out, &mut copied);
        }
        let mut o = out?;
        o.push_str(&text[copied..]);
        Some(o)
    }

    /// `text` scrubbed, as a new string.
    #[cfg(any(test, feature = "fuzzing"))]
    pub fn scrubbed(&self, text: &str) -> String {
        self.scrub(text).unwrap_or_else(|| text.to_string())
    }
}

/// `text` with every secret replaced by [redacted] (see [`Scrubber`]).
#[cfg(any(test, feature = "fuzzing"))]
pub fn scrub(text: &str, secrets: &[String]) -> String {
    Scrubber::new(secrets).scrubbed(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dex::secrets::secrets_in;
    use crate::dex::{ConnectorRow, Storage};

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn scrubs_nested_and_escaped_values() {
        let row = ConnectorRow {
            id: "x".into(),
            typ: "ldap".into(),
            name: "x".into(),
            resource_version: String::new(),
            config: Some(br#"{"bindPW":"p\"w<d>","nested":{"clientSecret":"s3cr3t-value"},"userIDKey":"email"}"#.to_vec()),
            storage: Storage::Blob,
        };
        let secrets = secrets_in(&[row]);
        assert_eq!(
            secrets,
            vec!["s3cr3t-value".to_string(), "p\"w<d>".to_string()]
        );
        assert_eq!(
            scrub("a s3cr3t-value b email", &secrets),
            "a [redacted] b email"
        );
        assert_eq!(scrub("p\"w<d>", &secrets), "[redacted]");
        // The JSON-escaped form of a long secret, as a log line may carry it.
        let long = s(&["<long&secret>"]);
        assert_eq!(
            scrub(r#"msg "\u003clong\u0026secret\u003e""#, &long),
            r#"msg "[redacted]""#
        );
    }

    #[test]
    fn short_and_common_secrets() {
        let secrets = s(&["ab", "null", "oidc", "https", "x"]);
        let sc = Scrubber::new(&secrets);
        for exact in ["ab", "null", "oidc", "https", "x"] {
            assert_eq!(sc.scrubbed(exact), REDACTED, "{exact}");
        }
        // Inside ordinary text they mangle nothing.
        for text in [
            "https://oauth.id.jumpcloud.com/",
            "oidc-connector",
            "a static connector",
            "abc",
            "nullable",
        ] {
            assert_eq!(sc.scrubbed(text), text);
        }
        // A short secret as a whole word is scrubbed.
        assert_eq!(
            sc.scrubbed("password was \"oidc\": rejected"),
            "password was \"[redacted]\": rejected"
        );
        assert_eq!(sc.scrubbed("got oidc."), "got [redacted].");
    }

    #[test]
    fn a_long_secret_is_found_at_every_offset() {
        // The first pass probes every fifth position only: a secret at any offset must still be found.
        for n in LONG..LONG + 7 {
            let secret: String = (0..n).map(|i| char::from(b'A' + i as u8)).collect();
            let sc = Scrubber::new(std::slice::from_ref(&secret));
            for at in 0..12 {
                for tail in 0..6 {
                    let text = format!("{}{secret}{}", "x".repeat(at), "y".repeat(tail));
                    let want = format!("{}{REDACTED}{}", "x".repeat(at), "y".repeat(tail));
                    assert_eq!(sc.scrubbed(&text), want, "{text}");
                }
            }
        }
    }

    #[test]
    fn long_secrets_with_odd_characters() {
        let secrets = s(&[
            "sec\u{2028}ret\u{7f}!",
            "ṡecret-ünïcode",
            "0123456789abcdef",
        ]);
        let sc = Scrubber::new(&secrets);
        assert_eq!(
            sc.scrubbed("x sec\u{2028}ret\u{7f}! y ṡecret-ünïcode z"),
            "x [redacted] y [redacted] z"
        );
        assert_eq!(
            sc.scrubbed("0123456789abcdef0123456789abcdef"),
            "[redacted][redacted]"
        );
        assert_eq!(sc.scrubbed("0123456789abcde"), "0123456789abcde");
        // Thousands of secrets cost one pass.
        let many: Vec<String> = (0..5000).map(|i| format!("secret-{i:08}")).collect();
        let sc = Scrubber::new(&many);
        assert_eq!(
            sc.scrubbed("a secret-00004999 b secret-0000 c"),
            "a [redacted] b secret-0000 c"
        );
    }

    #[test]
    fn secrets_that_share_their_first_bytes() {
        // Secrets that share their first 8 bytes: each alone is redacted whole, and at a position the
        // longest one that matches wins.
        let shared = s(&["abcdefgh", "abcdefgh1", "abcdefgh12345", "abcdefgh\"<q>"]);
        let sc = Scrubber::new(&shared);
        for t in &shared {
            assert_eq!(sc.scrubbed(t), REDACTED, "{t}");
        }
        assert_eq!(sc.scrubbed("xabcdefgh123y"), "x[redacted]23y");
        assert_eq!(sc.scrubbed("abcdefgh12345abcdefgh"), "[redacted][redacted]");
        assert_eq!(sc.scrubbed("abcdefg"), "abcdefg");
        assert_eq!(sc.scrubbed(r#"abcdefgh\"\u003cq\u003e"#), REDACTED);
        let same: Vec<String> = (0..3000).map(|i| format!("prefix00-{i}")).collect();
        let sc = Scrubber::new(&same);
        for t in &same {
            assert_eq!(sc.scrubbed(t), REDACTED, "{t}");
            assert_eq!(sc.scrubbed(&format!("<{t}>")), "<[redacted]>", "{t}");
        }
    }

    /// The long rule as a pass over every position (what the probes must agree with).
    fn long_rule_everywhere(sc: &Scrubber, text: &str) -> Option<String> {
        let b = text.as_bytes();
        let (mut out, mut i, mut copied) = (None::<String>, 0, 0);
        while !sc.long.is_empty() && i + LONG <= b.len() {
            if let Some(m) = sc.longest_at(&b[i..], prefix(&b[i..])) {
                let o = out.get_or_insert_with(String::new);
                o.push_str(&text[copied..i]);
                o.push_str(REDACTED);
                i += m.len();
                copied = i;
                continue;
            }
            i += 1;
        }
        let mut o = out?;
        o.push_str(&text[copied..]);
        Some(o)
    }

    proptest::proptest! {
        #[test]
        fn the_probes_find_what_a_pass_over_every_position_finds(
            secrets in proptest::collection::vec("[ab]{8,12}", 1..6),
            text in "[abc]{0,60}",
        ) {
            let sc = Scrubber::new(&secrets);
            proptest::prop_assert_eq!(sc.scrub_long(&text), long_rule_everywhere(&sc, &text));
        }
    }

    #[test]
    fn a_secret_many_times_over_is_indexed_once() {
        let mut many: Vec<String> = vec!["the-same-bind-password".to_string(); 20_000];
        many.extend((0..100).map(|i| format!("the-same-{i}")));
        let sc = Scrubber::new(&many);
        assert_eq!(sc.index.iter().filter(|&&e| e != 0).count(), 101);
        assert_eq!(
            sc.scrubbed("x the-same-bind-password the-same-7 the-same-"),
            "x [redacted] [redacted] the-same-"
        );
    }
}
