//! The harness every suite module shares, one concern a file:
//!
//! * [`command`]: the one builder for runs of the `ozrepair` binary under test, and their [`Run`]s.
//! * [`run`]: running helper programs (docker, openssl, mount, …) with a time limit.
//! * [`dbserver`]: real PostgreSQL and MariaDB servers, private to a test, with Dex's schema.
//! * [`engine`]: a private container engine per test; [`deploy`]: a deployment in it.
//! * [`configs`]: a deployment's management.json, bind-mounted into the stand-in.
//! * [`seed`]: Dex databases, connector rows, the locked-out fixture, the `ozr-seed` fixture binary.
//! * [`snapshot`], [`backups`], [`hash`]: what is on disk, to prove what changed and what did not.
//! * [`login`]: Dex's password login by the real Go library (the Go stand-in's `login`).
//! * [`gocheck`]: connector configs as Go 1.23 decodes them into Dex's structs (the Go stand-in's `dexconfig`).
//! * [`http`]: the HTTP stub server; [`sshd`]: an OpenSSH server; [`certs`]: a throwaway CA.
//! * [`ansible`]: an Ansible controller with the repository's collection, and its playbook runs.
//! * [`pty`]: a run in a real terminal of a given width, and what it drew on each line.
//! * [`release`]: the static release binary, the packages and the image an operator gets.

#[macro_use]
mod macros;

pub mod ansible;
pub mod backups;
pub mod certs;
pub mod command;
pub mod configs;
pub mod dbserver;
pub mod deploy;
pub mod engine;
pub mod gocheck;
pub mod hash;
pub mod http;
pub mod login;
pub mod machine;
pub mod pty;
pub mod release;
pub mod run;
pub mod seed;
pub mod snapshot;
pub mod sshd;

use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The repository's root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Polls `f` every 50 ms until it returns Some, or fails the test after `limit`.
pub fn poll<T>(what: &str, limit: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let end = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            Instant::now() < end,
            "timed out after {limit:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
