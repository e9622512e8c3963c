//! Dex's password login, run by the real Go library: `standin-go login` (tests/standin-go/src/ozrstandin/
//! login.go) reads the `password` row as Dex's SQL storage does, checks the hash's cost as Dex does and
//! calls x/crypto's `bcrypt.CompareHashAndPassword`.

use crate::util::engine::go_standin_built;
use crate::util::run;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// The Go stand-in's binary (built once per run, see [`go_standin_built`]).
fn go_standin_bin() -> PathBuf {
    go_standin_built().join("standin-go")
}

/// Whether Dex logs `email` in with `password` on the database at `db`: Ok(user id) when it does,
/// Err(why) when it refuses. A check that could not be made fails the test.
pub fn dex_login(db: &Path, email: &str, password: &str) -> Result<String, String> {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("password");
    std::fs::write(&file, format!("{password}\n")).expect("write the password file");
    let out = run::output_within(
        Command::new(go_standin_bin())
            .arg("login")
            .arg("--db")
            .arg(db)
            .args(["--email", email, "--password-file"])
            .arg(&file),
        Duration::from_secs(60),
    );
    let text = out.stdout_text();
    match out.status.code() {
        Some(0) => Ok(text
            .trim()
            .strip_prefix("accepted user_id=")
            .unwrap_or_else(|| panic!("unexpected answer {text:?}"))
            .to_string()),
        Some(1) => Err(text.trim().to_string()),
        _ => panic!(
            "the login check could not be made: {:?} {text} {}",
            out.status,
            out.stderr_text()
        ),
    }
}

/// Whether the provider takes the credential Dex would send for connector `id` of the database at `db`:
/// `standin-go tokencheck` (tests/standin-go/src/ozrstandin/tokencheck.go: the row read and decoded as
/// Dex does, a client credentials grant by golang.org/x/oauth2/clientcredentials). Ok(()) when it issues
/// a token, Err(its refusal) when it refuses; a check that could not be made fails the test.
pub fn token_check(db: &Path, id: &str) -> Result<(), String> {
    let out = run::output_within(
        Command::new(go_standin_bin())
            .arg("tokencheck")
            .arg("--db")
            .arg(db)
            .args(["--connector", id]),
        Duration::from_secs(60),
    );
    let text = out.stdout_text();
    match out.status.code() {
        Some(0) => Ok(()),
        Some(1) => Err(text.trim().to_string()),
        _ => panic!(
            "the token check could not be made: {:?} {text} {}",
            out.status,
            out.stderr_text()
        ),
    }
}
