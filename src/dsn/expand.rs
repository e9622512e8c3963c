//! Go's `os.ExpandEnv` (`os/env.go` `Expand`, `getShellName`), which Dex runs over every string of its
//! `storage.config` (unless `DEX_EXPAND_ENV` turns it off): `$NAME` and `${NAME}` become the variable's
//! value (empty when unset), a shell special variable (`$$`, `$1`, `$*` …) is looked up by its one
//! character, bad syntax (`${}`, an unclosed `${`) is eaten, and a `$` before anything else stays.

/// `s` with its variables replaced by `lookup` as Go's `os.Expand` does.
pub fn expand(s: &str, lookup: &dyn Fn(&str) -> Option<String>) -> String {
    let b = s.as_bytes();
    let mut out: Vec<u8> = Vec::with_capacity(b.len());
    let mut i = 0;
    let mut j = 0;
    let mut any = false;
    while j < b.len() {
        if b[j] == b'$' && j + 1 < b.len() {
            any = true;
            out.extend_from_slice(&b[i..j]);
            let (name, w) = shell_name(&b[j + 1..]);
            match (name, w) {
                (None, w) if w > 0 => {}
                (None, _) => out.push(b'$'),
                (Some(n), _) => {
                    let n = String::from_utf8_lossy(n);
                    out.extend_from_slice(lookup(&n).unwrap_or_default().as_bytes());
                }
            }
            j += w;
            i = j + 1;
        }
        j += 1;
    }
    if !any {
        return s.to_string();
    }
    out.extend_from_slice(&b[i.min(b.len())..]);
    String::from_utf8_lossy(&out).into_owned()
}

fn special(c: u8) -> bool {
    matches!(
        c,
        b'*' | b'#' | b'$' | b'@' | b'!' | b'?' | b'-' | b'0'..=b'9'
    )
}

fn alnum(c: u8) -> bool {
    c == b'_' || c.is_ascii_alphanumeric()
}

/// Go's `getShellName`: the name after a `$` (None: no name) and how many bytes it took.
fn shell_name(s: &[u8]) -> (Option<&[u8]>, usize) {
    if s[0] == b'{' {
        if s.len() > 2 && special(s[1]) && s[2] == b'}' {
            return (Some(&s[1..2]), 3);
        }
        for i in 1..s.len() {
            if s[i] == b'}' {
                if i == 1 {
                    return (None, 2);
                }
                return (Some(&s[1..i]), i + 1);
            }
        }
        return (None, 1);
    }
    if special(s[0]) {
        return (Some(&s[0..1]), 1);
    }
    let n = s.iter().take_while(|c| alnum(**c)).count();
    if n == 0 {
        (None, 0)
    } else {
        (Some(&s[..n]), n)
    }
}

/// An environment as a container has it (`KEY=value` lines), looked up as `os.Getenv` does (the first
/// entry of a name wins, as Go's syscall env copy keeps the first).
pub fn lookup_in(env: &[String]) -> impl Fn(&str) -> Option<String> + '_ {
    move |name: &str| {
        env.iter().find_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            (k == name).then(|| v.to_string())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_as_go_does() {
        let env = vec![
            "PGPASS=s3cret".to_string(),
            "HOST=db".to_string(),
            "HOST=other".to_string(),
        ];
        let l = lookup_in(&env);
        // The table of the reference notes, run with Go.
        assert_eq!(expand("pa$$word", &l), "paword");
        assert_eq!(expand("pa$word", &l), "pa");
        assert_eq!(expand("abc$1x", &l), "abcx");
        assert_eq!(expand("a$%b", &l), "a$%b");
        assert_eq!(expand("a$", &l), "a$");
        assert_eq!(expand("$PGPASS", &l), "s3cret");
        assert_eq!(expand("${PGPASS}!", &l), "s3cret!");
        assert_eq!(expand("${HOST}:5432", &l), "db:5432");
        assert_eq!(expand("x${}y", &l), "xy");
        assert_eq!(expand("x${abc", &l), "xabc");
        assert_eq!(expand("${$}", &l), "");
        assert_eq!(expand("plain", &l), "plain");
        assert_eq!(expand("é$HOSTé", &l), "édbé");
    }
}
