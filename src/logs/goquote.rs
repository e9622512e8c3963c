//! Go's `strconv.Unquote` for double-quoted strings: how go-oidc's `%q` values (and logrus's and slog's
//! quoted fields) are read back exactly. A malformed or non-UTF-8 quoted value reads as nothing.

/// `n` hex digits at `i`, digits only (no sign, unlike `from_str_radix`).
fn hex_at(b: &[u8], i: usize, n: usize) -> Option<u32> {
    b.get(i..i + n)?.iter().try_fold(0u32, |v, c| {
        let d = char::from(*c).to_digit(16)?;
        Some((v << 4) | d)
    })
}

/// Go's strconv.Unquote for a double-quoted string at the start of `s`; returns the value and the bytes
/// used. None when the quoted string is malformed, unterminated, or does not decode to UTF-8.
pub fn go_unquote(s: &str) -> Option<(String, usize)> {
    let b = s.as_bytes();
    if b.first() != Some(&b'"') {
        return None;
    }
    let mut out: Vec<u8> = Vec::new();
    let mut i = 1;
    loop {
        let c = *b.get(i)?;
        match c {
            b'"' => return String::from_utf8(out).ok().map(|v| (v, i + 1)),
            b'\n' => return None,
            b'\\' => {
                let e = *b.get(i + 1)?;
                i += 2;
                match e {
                    b'a' => out.push(7),
                    b'b' => out.push(8),
                    b'f' => out.push(12),
                    b'n' => out.push(b'\n'),
                    b'r' => out.push(b'\r'),
                    b't' => out.push(b'\t'),
                    b'v' => out.push(11),
                    // `\'` is an error inside a double-quoted string in Go.
                    b'\\' | b'"' => out.push(e),
                    b'x' => {
                        out.push(u8::try_from(hex_at(b, i, 2)?).ok()?);
                        i += 2;
                    }
                    b'u' | b'U' => {
                        let n = if e == b'u' { 4 } else { 8 };
                        let c = char::from_u32(hex_at(b, i, n)?)?;
                        out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
                        i += n;
                    }
                    b'0'..=b'7' => {
                        let oct = |c: u8| (b'0'..=b'7').contains(&c).then(|| u32::from(c - b'0'));
                        let v = (u32::from(e - b'0') << 6)
                            | (oct(*b.get(i)?)? << 3)
                            | oct(*b.get(i + 1)?)?;
                        out.push(u8::try_from(v).ok()?);
                        i += 2;
                    }
                    _ => return None,
                }
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unquotes_go_escapes() {
        assert_eq!(
            go_unquote(r#""a\"b\\c\u00e9\x41\101\n" rest"#),
            Some(("a\"b\\céAA\n".to_string(), 25))
        );
        assert_eq!(
            go_unquote(r#""\U0001F600\a\b\f\r\t\v""#).map(|v| v.0),
            Some("😀\u{7}\u{8}\u{c}\r\t\u{b}".to_string())
        );
        assert_eq!(go_unquote(r#""unterminated"#), None);
        assert_eq!(go_unquote(r#""bad \q""#), None);
        assert_eq!(go_unquote(r#""\'""#), None);
        assert_eq!(go_unquote(r#""\x4""#), None);
        assert_eq!(go_unquote(r#""\777""#), None);
        assert_eq!(go_unquote(r#""\08""#), None);
        assert_eq!(go_unquote("\"a\nb\""), None);
        assert_eq!(go_unquote(r#""\xff""#), None);
        assert_eq!(go_unquote("x\"\""), None);
        assert_eq!(go_unquote(r#""""#), Some((String::new(), 2)));
    }
}
