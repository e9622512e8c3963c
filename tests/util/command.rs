//! The one way the tests run the `ozrepair` binary under test: [`ozrepair`] builds the command with a
//! clean environment, [`OzrCommand::run`] runs it (no terminal on stdin, a time limit) and returns a
//! [`Run`]: exit code, stdout, stderr.

use crate::util::engine::{Engine, User};
use crate::util::run::Running;
use std::ffi::OsStr;
use std::process::Command;
use std::time::Duration;

/// How long one run may take unless told otherwise: longer than any `--wait` the tests pass, and than
/// a fleet of four.
pub const LIMIT: Duration = Duration::from_secs(180);

/// Variables that change what ozrepair does (which engine, how it talks to it, colour, the OZREPAIR_*
/// knobs, how a panic reads): none leaks in from the environment the tests run in. A test that needs one
/// sets it; HOME is inherited, and set explicitly by the tests whose results depend on it.
const CLEARED: &[&str] = &[
    "DOCKER_HOST",
    "DOCKER_CONTEXT",
    "DOCKER_CONFIG",
    "DOCKER_TLS_VERIFY",
    "DOCKER_CERT_PATH",
    "NO_COLOR",
    "RUST_BACKTRACE",
    "RUST_LIB_BACKTRACE",
];

/// The binary under test with `args`, in a clean environment, not yet run.
pub fn ozrepair<I, S>(args: I) -> OzrCommand
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ozrepair"));
    for var in CLEARED {
        cmd.env_remove(var);
    }
    for (var, _) in std::env::vars_os() {
        if var.to_string_lossy().starts_with("OZREPAIR_") {
            cmd.env_remove(var);
        }
    }
    cmd.args(args);
    OzrCommand {
        cmd,
        stdin: None,
        close_stdout: false,
        limit: LIMIT,
    }
}

/// A run of `ozrepair` being put together.
pub struct OzrCommand {
    cmd: Command,
    stdin: Option<Vec<u8>>,
    close_stdout: bool,
    limit: Duration,
}

impl OzrCommand {
    pub fn args<I, S>(mut self, args: I) -> OzrCommand
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.cmd.args(args);
        self
    }

    pub fn env(mut self, key: &str, value: impl AsRef<OsStr>) -> OzrCommand {
        self.cmd.env(key, value);
        self
    }

    pub fn envs(mut self, vars: &[(&str, &str)]) -> OzrCommand {
        self.cmd.envs(vars.iter().copied());
        self
    }

    /// Talks to `engine`: DOCKER_HOST and the engine's client settings (TLS).
    pub fn on(mut self, engine: &Engine) -> OzrCommand {
        self.cmd.env("DOCKER_HOST", &engine.host);
        self.cmd.envs(engine.env.iter().map(|(k, v)| (k, v)));
        self
    }

    /// These bytes on stdin (a pipe, not a terminal) instead of /dev/null.
    pub fn stdin(mut self, bytes: impl Into<Vec<u8>>) -> OzrCommand {
        self.stdin = Some(bytes.into());
        self
    }

    /// Its stdout is a pipe whose reading end is closed before it writes.
    pub fn close_stdout(mut self) -> OzrCommand {
        self.close_stdout = true;
        self
    }

    /// Kill it and fail the test if it has not finished within `limit` (default [`LIMIT`]).
    pub fn timeout(mut self, limit: Duration) -> OzrCommand {
        self.limit = limit;
        self
    }

    /// Runs it as `user` (by runuser, so root's groups are dropped; HOME is the user's), with the
    /// environment set so far, from the copy of the binary the user can run.
    pub fn by_user(mut self, user: &User) -> OzrCommand {
        let mut c = Command::new("runuser");
        c.args(["-u", &user.name, "--", "env"]);
        // env takes its -u options before the assignments.
        for (k, _) in self.cmd.get_envs().filter(|(_, v)| v.is_none()) {
            c.arg("-u").arg(k);
        }
        for (k, v) in self.cmd.get_envs() {
            if let Some(v) = v {
                let mut kv = k.to_os_string();
                kv.push("=");
                kv.push(v);
                c.arg(kv);
            }
        }
        c.arg(format!("HOME={}", user.home.display()))
            .arg(&user.ozrepair)
            .args(self.cmd.get_args());
        self.cmd = c;
        self
    }

    /// Starts it and returns at once; [`Started::wait`] collects the result.
    pub fn spawn(mut self) -> Started {
        let running = Running::spawn(&mut self.cmd, self.stdin, self.close_stdout, self.limit);
        Started(running)
    }

    /// Runs it to the end.
    pub fn run(self) -> Run {
        self.spawn().wait()
    }
}

/// A run that was started.
pub struct Started(Running);

impl Started {
    pub fn wait(self) -> Run {
        let f = self.0.wait();
        Run {
            code: f.status.code().unwrap_or(-1),
            stdout: f.stdout_text(),
            stderr: f.stderr_text(),
        }
    }
}

/// What one ozrepair run printed and returned (-1 for a run ended by a signal).
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Stdout as one JSON document.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(self.stdout.trim())
            .unwrap_or_else(|e| panic!("stdout is not one JSON object ({e}):\n{self:?}"))
    }

    /// Stdout as one JSON document a line (`--output json` of `fleet`).
    pub fn json_lines(&self) -> Vec<serde_json::Value> {
        self.stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect()
    }

    /// Stdout and stderr together.
    pub fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}
