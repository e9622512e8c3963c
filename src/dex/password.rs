//! A local user's password in Dex's `password` table (`email` primary key, `hash` BLOB, `user_id`, …;
//! migrations/0001) and that user's sessions in `auth_session` (migrations/0017, rebuilt in 0023), for
//! `ozrepair password`. What it does mirrors NetBird's admin CLI, `netbird-mgmt admin user change-password`
//! (netbirdio/netbird `management/cmd/admin/admin.go`, PR #6507, v0.75), and what it writes is checked the
//! way Dex's password connector reads it at login:
//!
//! - **Which row:** NetBird trims the given email (`strings.TrimSpace`) and asks Dex's storage, whose
//!   `getPassword` looks up `strings.ToLower(email)` (dexidp/dex `storage/sql/crud.go`; `CreatePassword`
//!   stores the email lowercased too). [`lookup_email`] does both; the match against the stored email is
//!   then exact, byte for byte, as SQLite's `=` is.
//! - **The password:** NetBird's `resolvePasswordInput` reads the file (or stdin for `-`) and drops every
//!   trailing CR and LF (`strings.TrimRight(data, "\r\n")`); ozrepair does the same and refuses a second
//!   line, so a file both tools accept gives both the same password ([`NewPassword::parse`]). It must pass
//!   NetBird's `server.ValidatePassword` (`management/server/user.go`: at least 8 bytes, a digit, an
//!   uppercase letter, a character that is neither a letter nor a digit; [`policy_problem`]), and be at
//!   most 72 bytes (x/crypto's `bcrypt.GenerateFromPassword` refuses longer ones with
//!   `ErrPasswordTooLong`; 72 itself is taken). A control character (NUL, a tab, ESC, C1) is refused:
//!   no login form sends one, so such a password could never be typed in.
//! - **The hash:** `bcrypt.GenerateFromPassword(password, bcrypt.DefaultCost)`, cost 10, in Go's `$2a$`
//!   form, stored as a BLOB (Go binds `[]byte`). Dex's login (`server/connectors/password.go`,
//!   `passwordDB.Login`) first runs `passwords.CheckCost` (`server/passwords/passwords.go`: cost 10 to 16,
//!   else the login fails with an error) and then `bcrypt.CompareHashAndPassword`; [`dex_accepts`] is
//!   that check.
//! - **The sessions:** NetBird then calls `DeleteAuthSession(ctx, userID, "local")`, Dex's auth session of
//!   that user on the local (password) connector. With the table of migration 0023 (one row per signed-in
//!   browser) a user can have several; ozrepair removes every `auth_session` row with that `user_id` and
//!   `connector_id = 'local'`, and keeps the user's sessions on other connectors. Like NetBird it leaves
//!   refresh tokens and offline sessions: Dex's `passwordDB.Refresh` checks only that the user still
//!   exists with the same `user_id`, not the password.
//!
//! Neither the password nor a hash is ever put into a message of this module: the caller adds both to
//! the report's scrub as well.

use crate::verdict::UsageError;
use anyhow::{anyhow, bail, Result};

/// `bcrypt.DefaultCost`: the cost NetBird hashes with, and the lowest Dex's `CheckCost` accepts.
pub const COST: u32 = 10;
/// Dex's `upBoundCost`: the highest cost its `CheckCost` accepts at login.
pub const MAX_COST: u32 = 16;
/// The id of Dex's password connector (`server/connectors/resolve.go`, NetBird's `idp.LocalConnectorID`).
pub const LOCAL_CONNECTOR: &str = "local";
/// The longest password bcrypt hashes without truncating it (x/crypto refuses longer ones).
pub const MAX_BYTES: usize = 72;
/// NetBird's `minPasswordLength` (bytes, as Go's `len`).
pub const MIN_BYTES: usize = 8;

/// A new password, read from a file or stdin. It has no `Display`, and its `Debug` shows no byte of it.
#[derive(Clone, PartialEq, Eq)]
pub struct NewPassword(String);

impl std::fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NewPassword([redacted])")
    }
}

impl NewPassword {
    /// The password in `data`, the bytes of a password file: every trailing CR and LF dropped (as NetBird
    /// does), then it must be one line, UTF-8, and pass NetBird's policy. The error never quotes it.
    pub fn parse(data: &[u8]) -> Result<NewPassword, UsageError> {
        let end = data
            .iter()
            .rposition(|b| !matches!(b, b'\r' | b'\n'))
            .map_or(0, |i| i + 1);
        let line = &data[..end];
        if line.is_empty() {
            return Err(UsageError(
                "the password file is empty (or holds only line ends); nothing was changed; write the new password on its first line".into(),
            ));
        }
        if line.iter().any(|b| matches!(b, b'\r' | b'\n')) {
            return Err(UsageError(
                "the password file holds more than one line; nothing was changed; write the new password alone on one line".into(),
            ));
        }
        let Ok(text) = std::str::from_utf8(line) else {
            return Err(UsageError(
                "the password is not valid UTF-8 (Dex's login form sends UTF-8); nothing was changed; write it as UTF-8 text".into(),
            ));
        };
        if text.chars().any(char::is_control) {
            return Err(UsageError(
                "the password holds a control character (a NUL byte, a tab, an escape or the like), which no login form sends; nothing was changed; choose a password of printable characters".into(),
            ));
        }
        if let Some(why) = policy_problem(text) {
            return Err(UsageError(format!(
                "the new password {why}; nothing was changed; choose another"
            )));
        }
        Ok(NewPassword(text.to_string()))
    }

    /// The password's bytes, for bcrypt and for the report's scrub.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// Why NetBird's `ValidatePassword` (or bcrypt's 72-byte limit) refuses `p`; None when it is accepted.
/// Go's `len` counts bytes; its `unicode.IsDigit`, `IsUpper` and `IsLetter` are matched exactly in ASCII
/// and by Rust's Unicode properties beyond it (numeric, uppercase, alphabetic).
pub fn policy_problem(p: &str) -> Option<String> {
    if p.len() < MIN_BYTES {
        return Some(format!(
            "is shorter than {MIN_BYTES} bytes (NetBird's minimum)"
        ));
    }
    if p.len() > MAX_BYTES {
        return Some(format!(
            "is longer than {MAX_BYTES} bytes, the most bcrypt hashes (Go's bcrypt refuses it)"
        ));
    }
    let (mut digit, mut upper, mut special) = (false, false, false);
    for c in p.chars() {
        let is_digit = c.is_ascii_digit() || (!c.is_ascii() && c.is_numeric());
        if is_digit {
            digit = true;
        } else if c.is_uppercase() {
            upper = true;
        } else if !c.is_alphabetic() {
            special = true;
        }
    }
    let missing: Vec<&str> = [
        (!digit).then_some("one digit"),
        (!upper).then_some("one uppercase letter"),
        (!special).then_some("one special character"),
    ]
    .into_iter()
    .flatten()
    .collect();
    (!missing.is_empty()).then(|| {
        format!(
            "must contain at least {} (NetBird's password policy)",
            missing.join(", ")
        )
    })
}

/// Go's `strings.ToLower`: each rune by its simple lowercase mapping (`unicode.ToLower`), so U+0130 (İ)
/// becomes `i`, where Rust's full mapping would give two characters.
pub fn go_lower(s: &str) -> String {
    s.chars()
        .map(|c| {
            let mut l = c.to_lowercase();
            match (l.next(), l.next()) {
                (Some(one), None) => one,
                _ if c == '\u{130}' => 'i',
                _ => c,
            }
        })
        .collect()
}

/// The email as Dex looks it up: trimmed as NetBird trims it (`strings.TrimSpace`), lowercased as Dex's
/// `getPassword` does.
pub fn lookup_email(given: &str) -> String {
    go_lower(given.trim())
}

/// A local user as read from the `password` table, and how many local sessions they have.
#[derive(Clone, PartialEq, Eq)]
pub struct LocalUser {
    pub email: String,
    pub user_id: String,
    /// The stored hash's bytes (BLOB or TEXT), the guard of the write.
    pub hash: Vec<u8>,
    /// `auth_session` rows of this user on the local connector (0 without that table).
    pub sessions: usize,
}

impl std::fmt::Debug for LocalUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalUser")
            .field("email", &self.email)
            .field("user_id", &self.user_id)
            .field("hash", &"[redacted]")
            .field("sessions", &self.sessions)
            .finish()
    }
}

/// The cost a bcrypt hash names (`$2?$NN$…`), as Go's `bcrypt.Cost` reads it; None when it is no bcrypt
/// hash.
pub fn cost(hash: &[u8]) -> Option<u32> {
    if hash.len() != 60 || hash[0] != b'$' || hash[1] != b'2' || hash[3] != b'$' || hash[6] != b'$'
    {
        return None;
    }
    std::str::from_utf8(&hash[4..6]).ok()?.parse().ok()
}

/// Whether Dex's password connector logs `password` in with `hash`: its `CheckCost` (cost 10 to 16) and
/// then `bcrypt.CompareHashAndPassword`.
pub fn dex_accepts(hash: &[u8], password: &str) -> bool {
    let Some(c) = cost(hash) else { return false };
    if !(COST..=MAX_COST).contains(&c) {
        return false;
    }
    let Ok(text) = std::str::from_utf8(hash) else {
        return false;
    };
    bcrypt::verify(password, text).unwrap_or(false)
}

/// A new hash of `p`: bcrypt at [`COST`] with a fresh random salt, in Go's `$2a$` form, as bytes.
///
/// Go's bcrypt hashes up to 72 bytes. The bcrypt crate's `non_truncating_*` functions count the NUL it
/// appends (as Go does, `append(key, 0)`) against that limit and so refuse a 72-byte password Go takes;
/// its truncating hash is used instead, after the length is checked here: for 72 bytes or fewer only the
/// appended NUL can be cut, exactly as Go's key schedule ignores it.
pub fn hash(p: &NewPassword) -> Result<Vec<u8>> {
    if p.expose().len() > MAX_BYTES {
        bail!(
            "the new password is longer than {MAX_BYTES} bytes, the most bcrypt hashes; nothing was changed"
        );
    }
    let parts = bcrypt::hash_with_result(p.expose(), COST).map_err(|e| {
        anyhow!("bcrypt could not hash the new password ({e}); nothing was changed")
    })?;
    Ok(parts.format_for_version(bcrypt::Version::TwoA).into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "Correct-Horse-9";

    #[test]
    fn the_password_is_the_one_line_with_its_line_ends_dropped() {
        assert_eq!(
            NewPassword::parse(b"Correct-Horse-9\n").unwrap().expose(),
            GOOD
        );
        assert_eq!(
            NewPassword::parse(b"Correct-Horse-9\r\n\r\n")
                .unwrap()
                .expose(),
            GOOD
        );
        assert_eq!(
            NewPassword::parse(b" Correct-Horse-9 ").unwrap().expose(),
            " Correct-Horse-9 "
        );
        for bad in [
            &b""[..],
            b"\n",
            b"\r\n",
            b"Correct-Horse-9\nsecond",
            b"Correct\rHorse-9",
            b"Correct-Horse-9\xff",
            b"Correct\0Horse-9",
            b"Correct\tHorse-9",
            b"Correct\x1bHorse-9",
            b"Correct\x7fHorse-9",
            "Correct\u{85}Horse-9".as_bytes(),
        ] {
            assert!(NewPassword::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn refusals_never_quote_the_password() {
        for bad in [
            &b"Correct-Horse-9\nsecond"[..],
            b"Zq1!",
            b"qqqqzzzz-9",
            b"Correct-Horse-9\xff",
        ] {
            let e = NewPassword::parse(bad).unwrap_err().0;
            let text = String::from_utf8_lossy(bad);
            assert!(!e.contains(text.trim_end_matches('\u{fffd}')), "{e}");
        }
        assert_eq!(
            format!("{:?}", NewPassword::parse(b"Correct-Horse-9").unwrap()),
            "NewPassword([redacted])"
        );
    }

    #[test]
    fn netbird_policy() {
        assert_eq!(policy_problem(GOOD), None);
        assert_eq!(
            policy_problem("Ab1!"),
            Some("is shorter than 8 bytes (NetBird's minimum)".into())
        );
        assert!(policy_problem("abcdefgh")
            .unwrap()
            .contains("one digit, one uppercase letter, one special character"));
        assert!(policy_problem("Abcdefgh1")
            .unwrap()
            .ends_with("one special character (NetBird's password policy)"));
        assert!(policy_problem("abcdefg1!")
            .unwrap()
            .contains("least one uppercase letter ("));
        assert!(
            policy_problem(&format!("A1!{}", "x".repeat(69))).is_none(),
            "72 bytes is the most"
        );
        assert!(policy_problem(&format!("A1!{}", "x".repeat(70)))
            .unwrap()
            .contains("72 bytes"));
        // Bytes, as Go's len counts: 7 characters, 8 bytes.
        assert_eq!(policy_problem("Äb1!xyz"), None);
        assert!(policy_problem("ÄÖÜäöü1")
            .unwrap()
            .contains("one special character"));
    }

    #[test]
    fn emails_are_looked_up_as_dex_does() {
        assert_eq!(lookup_email("  Alice@Example.COM\t"), "alice@example.com");
        assert_eq!(go_lower("İSTANBUL"), "istanbul");
        assert_eq!(go_lower("ΣΑΣ"), "σασ", "no final-sigma rule, as Go");
    }

    #[test]
    fn hashes_are_go_style_cost_10_and_verify() {
        let p = NewPassword::parse(GOOD.as_bytes()).unwrap();
        let h = hash(&p).unwrap();
        assert_eq!(&h[..7], b"$2a$10$");
        assert_eq!(h.len(), 60);
        assert_eq!(cost(&h), Some(10));
        assert!(dex_accepts(&h, GOOD));
        assert!(!dex_accepts(&h, "Correct-Horse-8"));
        assert_ne!(hash(&p).unwrap(), h, "a fresh salt each time");
    }

    #[test]
    fn passwords_of_up_to_72_bytes_are_hashed_whole() {
        for n in [71, 72] {
            let text = format!("A1!{}", "x".repeat(n - 3));
            let p = NewPassword::parse(text.as_bytes()).expect("accepted");
            let h = hash(&p).expect("hashed");
            assert!(dex_accepts(&h, &text), "{n} bytes");
            // Every byte counts: the last one changed is another password.
            let other = format!("{}y", &text[..n - 1]);
            assert!(
                !dex_accepts(&h, &other),
                "{n} bytes: the last byte is hashed"
            );
        }
        let long = format!("A1!{}", "x".repeat(70));
        assert!(NewPassword::parse(long.as_bytes()).is_err(), "73 bytes");
    }

    #[test]
    fn dex_refuses_costs_outside_10_to_16() {
        let low = bcrypt::hash_with_result(GOOD, 4)
            .unwrap()
            .format_for_version(bcrypt::Version::TwoA);
        assert!(bcrypt::verify(GOOD, &low).unwrap());
        assert!(!dex_accepts(low.as_bytes(), GOOD));
        assert_eq!(
            cost(b"$2a$17$abcdefghijklmnopqrstuuabcdefghijklmnopqrstuvwxyz01234"),
            Some(17)
        );
        assert_eq!(cost(b"not a hash"), None);
    }
}
