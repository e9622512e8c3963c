//! Surgical edits of a connector's config JSON: find a top-level field's value span and replace exactly
//! those bytes, so key order, spacing, Go's `\u0026` escapes and every other byte stay as they were.
//! Keys are matched the way Go's encoding/json matches them when Dex decodes the config: case-insensitively,
//! the last matching key winning.

use std::ops::Range;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// The key, unescaped.
    pub key: String,
    /// Byte span of the value (for a string: including its quotes).
    pub value: Range<usize>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum ConfigError {
    /// The bytes are not JSON at all (serde_json's message, which never quotes the input).
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

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\n' | b'\r') {
        i += 1;
    }
    i
}

/// End (exclusive) of the string starting at `i` (which is a `"`). The input is known to be valid JSON.
fn string_end(b: &[u8], mut i: usize) -> usize {
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

/// End (exclusive) of the value starting at `i`. Iterative, so nesting depth costs no stack.
fn value_end(b: &[u8], i: usize) -> usize {
    match b.get(i) {
        Some(b'"') => string_end(b, i),
        Some(b'{') | Some(b'[') => {
            let mut depth = 0usize;
            let mut j = i;
            while j < b.len() {
                match b[j] {
                    b'"' => {
                        j = string_end(b, j);
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return j + 1;
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
            b.len()
        }
        _ => {
            let mut j = i;
            while j < b.len() && !matches!(b[j], b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r')
            {
                j += 1;
            }
            j
        }
    }
}

/// The top-level fields of a JSON object, in document order (duplicates included).
pub fn top_level_fields(src: &[u8]) -> Result<Vec<Field>, ConfigError> {
    // Validate first (strings, escapes, numbers, nesting); the scanner below then only finds spans.
    serde_json::from_slice::<serde::de::IgnoredAny>(src)
        .map_err(|e| ConfigError::NotJson(e.to_string()))?;
    let mut i = skip_ws(src, 0);
    if src.get(i) != Some(&b'{') {
        return Err(ConfigError::NotObject);
    }
    let mut fields = Vec::new();
    i = skip_ws(src, i + 1);
    if src.get(i) == Some(&b'}') {
        return Ok(fields);
    }
    loop {
        let key_end = string_end(src, i);
        let key: String = serde_json::from_slice(&src[i..key_end])
            .map_err(|e| ConfigError::NotJson(e.to_string()))?;
        i = skip_ws(src, key_end);
        i = skip_ws(src, i + 1); // the ':'
        let end = value_end(src, i);
        fields.push(Field { key, value: i..end });
        i = skip_ws(src, end);
        match src.get(i) {
            Some(b',') => i = skip_ws(src, i + 1),
            _ => return Ok(fields),
        }
    }
}

/// The field Dex's decoder would use for `name`: the last key equal to it ignoring ASCII case.
pub fn effective_field<'a>(fields: &'a [Field], name: &str) -> Option<&'a Field> {
    fields
        .iter()
        .rev()
        .find(|f| f.key.eq_ignore_ascii_case(name))
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

pub fn string_value(src: &[u8], fields: &[Field], name: &str) -> StrValue {
    let Some(f) = effective_field(fields, name) else {
        return StrValue::Absent;
    };
    let raw = &src[f.value.clone()];
    match raw.first() {
        Some(b'"') => serde_json::from_slice(raw)
            .map(StrValue::Str)
            .unwrap_or(StrValue::NotString("string")),
        Some(b'n') => StrValue::Null,
        Some(b'{') => StrValue::NotString("an object"),
        Some(b'[') => StrValue::NotString("an array"),
        Some(b't') | Some(b'f') => StrValue::NotString("a boolean"),
        _ => StrValue::NotString("a number"),
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
    let mut out = Vec::with_capacity(src.len() - span.len() + with.len());
    out.extend_from_slice(&src[..span.start]);
    out.extend_from_slice(with);
    out.extend_from_slice(&src[span.end..]);
    out
}

/// Sets the string field `name` (its effective occurrence) to `value`, changing only that value's bytes.
/// Returns None when the field is absent: the tool edits values, it never adds keys on its own.
pub fn set_string(src: &[u8], name: &str, value: &str) -> Result<Option<Vec<u8>>, ConfigError> {
    let fields = top_level_fields(src)?;
    let Some(f) = effective_field(&fields, name) else {
        return Ok(None);
    };
    let out = splice(src, f.value.clone(), go_json_string(value).as_bytes());
    // The result must still be a JSON object with the new value in place.
    let check = top_level_fields(&out)?;
    debug_assert_eq!(
        string_value(&out, &check, name),
        StrValue::Str(value.to_string())
    );
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;

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
    }

    #[test]
    fn refuses_what_is_not_an_object() {
        assert_eq!(top_level_fields(b"[1,2]"), Err(ConfigError::NotObject));
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
    fn absent_field_is_not_added() {
        assert_eq!(
            set_string(br#"{"clientID":"x"}"#, "issuer", "https://a").unwrap(),
            None
        );
    }

    #[test]
    fn go_string_escapes() {
        assert_eq!(
            go_json_string("a<b>&\"\\\n\u{1}\u{2028}é"),
            r#""a\u003cb\u003e\u0026\"\\\n\u0001\u2028é""#
        );
    }
}
