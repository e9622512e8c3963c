//! A real systemd and journald for the systemd tests: the cached minimal Debian root
//! (scripts/systemd-machine.sh builds it once, outside the repository) booted with systemd-nspawn on an
//! overlay of its own, with the static `ozrepair` (scripts/build-static.sh) and the static stand-in
//! (scripts/build-standin.sh) bound in read-only: the stand-in as the programs the field's units run
//! (`/usr/bin/netbird-mgmt`, `openzro-mgmt`, `netbird-server`, `dex`). Commands run inside with
//! `nsenter` into every namespace of the machine's PID 1 (SQLite cannot open a database through
//! `/proc/<pid>/root`: the tool runs inside). Dropping the [`Machine`] kills it and removes its overlay,
//! its cgroups and its state, also when the test failed.

use crate::util::command::Run;
use crate::util::repo;
use crate::util::run::{self, Finished};
use crate::util::seed::{self, DexDb, Row};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// NixOS's netbird-mgmt, as its module's ExecStart names it.
pub const NIX_MGMT: &str =
    "/nix/store/0c4l1q8xg3b2k0m7r5v9d6w1y2z3a4b5-netbird-0.64.0/bin/netbird-mgmt";

/// Where the stand-in stands in for the field's programs.
pub const PROGRAMS: [&str; 5] = [
    "/usr/bin/netbird-mgmt",
    "/usr/bin/openzro-mgmt",
    "/usr/bin/netbird-server",
    "/usr/bin/dex",
    NIX_MGMT,
];

/// The static binaries, built once per run (unless the build scripts ran already: OZR_STATIC_BUILT,
/// OZR_STANDIN_BUILT). OZR_MACHINE_OZREPAIR runs another static ozrepair in the machines (an older
/// build, to see these tests fail on it).
fn binaries() -> &'static (PathBuf, PathBuf) {
    static BINS: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    BINS.get_or_init(|| {
        if let Some(other) = std::env::var_os("OZR_MACHINE_OZREPAIR") {
            let standin = repo().join("target/x86_64-unknown-linux-gnu/release/standin");
            return (PathBuf::from(other), standin);
        }
        let ozr = repo().join("target/static/ozrepair");
        let standin = repo().join("target/x86_64-unknown-linux-gnu/release/standin");
        for (bin, var, script) in [
            (&standin, "OZR_STANDIN_BUILT", "scripts/build-standin.sh"),
            (&ozr, "OZR_STATIC_BUILT", "scripts/build-static.sh"),
        ] {
            if std::env::var_os(var).is_none() || !bin.exists() {
                let built = run::output_within(
                    &mut Command::new(repo().join(script)),
                    Duration::from_secs(900),
                );
                assert!(
                    built.status.success(),
                    "{script} failed:\n{}",
                    built.stderr_text()
                );
            }
        }
        (ozr, standin)
    })
}

fn script() -> PathBuf {
    repo().join("scripts/systemd-machine.sh")
}

/// The root, built once (a few minutes the first time on a machine), and what an earlier run that was
/// killed left behind, swept.
fn prepared() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        let built = run::output_within(
            Command::new(script()).arg("root"),
            Duration::from_secs(1200),
        );
        assert!(
            built.status.success(),
            "scripts/systemd-machine.sh root failed:\n{}",
            built.stderr_text()
        );
        let swept = run::output(Command::new(script()).arg("sweep"));
        assert!(swept.status.success(), "sweep: {}", swept.stderr_text());
    });
}

/// A booted machine.
pub struct Machine {
    dir: PathBuf,
    pub leader: u32,
}

impl Machine {
    /// Boots a fresh machine (its changes on an overlay of their own).
    pub fn boot() -> Machine {
        let (ozr, standin) = binaries().clone();
        prepared();
        static N: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "t{}n{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        );
        let dir = PathBuf::from(format!("/var/tmp/ozr-machine-{name}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("machine dir");
        let mut cmd = Command::new(script());
        cmd.arg("boot").arg(&dir).arg(&name);
        cmd.arg(format!("{}:/usr/local/bin/ozrepair", ozr.display()));
        for p in PROGRAMS {
            cmd.arg(format!("{}:{p}", standin.display()));
        }
        let booted = run::output_within(&mut cmd, Duration::from_secs(300));
        let mut m = Machine { dir, leader: 0 };
        assert!(
            booted.status.success(),
            "the machine did not boot:\n{}",
            booted.stderr_text()
        );
        m.leader = booted
            .stdout_text()
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("no leader pid in {:?}", booted.stdout_text()));
        m
    }

    fn nsenter(&self) -> Command {
        let mut c = Command::new("nsenter");
        c.env_clear()
            .env(
                "PATH",
                "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            )
            .env("LC_ALL", "C")
            .args(["-t", &self.leader.to_string(), "-a", "--"]);
        c
    }

    /// Runs `script` with /bin/sh inside the machine.
    pub fn sh(&self, script: &str) -> Finished {
        self.sh_in(script, None)
    }

    fn sh_in(&self, script: &str, stdin: Option<Vec<u8>>) -> Finished {
        let mut c = self.nsenter();
        c.args(["/bin/sh", "-c", script]);
        run::Running::spawn(&mut c, stdin, false, Duration::from_secs(120)).wait()
    }

    /// Runs `script` and returns its stdout; fails the test when it fails.
    pub fn ok(&self, script: &str) -> String {
        let f = self.sh(script);
        assert!(
            f.status.success(),
            "in the machine: {script}\n{}{}",
            f.stdout_text(),
            f.stderr_text()
        );
        f.stdout_text()
    }

    /// Writes `bytes` to `path` inside the machine, with its owner (`user:group`) and mode.
    pub fn write(&self, path: &str, bytes: &[u8], owner: &str, mode: u32) {
        let q = shell_quote(path);
        let f = self.sh_in(
            &format!("mkdir -p \"$(dirname {q})\" && cat > {q} && chown {owner} {q} && chmod {mode:o} {q}"),
            Some(bytes.to_vec()),
        );
        assert!(f.status.success(), "writing {path}: {}", f.stderr_text());
    }

    /// A file's bytes inside the machine.
    pub fn read(&self, path: &str) -> Vec<u8> {
        let f = self.sh(&format!("cat {}", shell_quote(path)));
        assert!(f.status.success(), "reading {path}: {}", f.stderr_text());
        f.stdout
    }

    /// `stat -c '%U:%G %a'` of a file inside the machine.
    pub fn owner_mode(&self, path: &str) -> String {
        self.ok(&format!("stat -c '%U:%G %a' {}", shell_quote(path)))
            .trim()
            .to_string()
    }

    /// Writes the Dex database `db` at `path` inside the machine, owned by `owner`, mode `mode`.
    pub fn write_db(&self, path: &str, db: &DexDb, owner: &str, mode: u32) {
        let tmp = tempfile::tempdir().unwrap();
        let local = tmp.path().join("idp.db");
        db.write(&local);
        self.write(path, &std::fs::read(&local).unwrap(), owner, mode);
    }

    /// The connector rows of the database at `path` inside the machine (read from a copy of its bytes).
    pub fn rows(&self, path: &str) -> Vec<Row> {
        let tmp = tempfile::tempdir().unwrap();
        let local = tmp.path().join("copy.db");
        std::fs::write(&local, self.read(path)).unwrap();
        seed::rows(&local)
    }

    /// Installs a unit file and makes systemd read it.
    pub fn install_unit(&self, name: &str, text: &str) {
        self.write(
            &format!("/etc/systemd/system/{name}"),
            text.as_bytes(),
            "root:root",
            0o644,
        );
        self.ok("systemctl daemon-reload");
    }

    /// `systemctl show` of a unit, as a map.
    pub fn show(&self, unit: &str) -> BTreeMap<String, String> {
        self.ok(&format!("systemctl show --no-pager {unit}"))
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// Polls the unit until `f` holds of its properties (fails the test after `limit`).
    pub fn wait_for(
        &self,
        unit: &str,
        what: &str,
        limit: Duration,
        f: impl Fn(&BTreeMap<String, String>) -> bool,
    ) -> BTreeMap<String, String> {
        let end = Instant::now() + limit;
        loop {
            let p = self.show(unit);
            if f(&p) {
                return p;
            }
            assert!(
                Instant::now() < end,
                "{unit} did not get to {what} within {limit:?}: {} ({}), NRestarts {}, Result {}\n{}",
                p.get("ActiveState").map(String::as_str).unwrap_or(""),
                p.get("SubState").map(String::as_str).unwrap_or(""),
                p.get("NRestarts").map(String::as_str).unwrap_or(""),
                p.get("Result").map(String::as_str).unwrap_or(""),
                self.sh(&format!("journalctl --no-pager -n 30 -u {unit}")).stdout_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The journal's entries matching `matches` (journalctl -o json), as JSON objects.
    pub fn journal(&self, matches: &str) -> Vec<serde_json::Value> {
        self.ok(&format!("journalctl --no-pager --all -o json {matches}"))
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// The jobs systemd ran for `unit` (PID 1's entries about it with a `JOB_TYPE`: start, stop, restart;
    /// a job's "…ing" and "…ed" entries are one job, by its `JOB_ID`), each with the message before its
    /// first entry (an automatic restart's job follows "Scheduled restart job").
    pub fn jobs(&self, unit: &str) -> Vec<(String, String)> {
        let entries = self.journal(&format!("_PID=1 UNIT={unit}"));
        let mut out = Vec::new();
        let mut seen: Vec<String> = Vec::new();
        let mut before = String::new();
        for e in entries {
            let msg = e["MESSAGE"].as_str().unwrap_or("").to_string();
            if let Some(t) = e["JOB_TYPE"].as_str() {
                let id = e["JOB_ID"].as_str().unwrap_or("").to_string();
                if id.is_empty() || !seen.contains(&id) {
                    seen.push(id);
                    out.push((t.to_string(), before.clone()));
                }
            }
            before = msg;
        }
        out
    }

    /// Runs the ozrepair inside the machine with `args` (stdin from /dev/null, no terminal).
    pub fn ozrepair(&self, args: &[&str]) -> Run {
        let mut c = self.nsenter();
        c.arg("/usr/local/bin/ozrepair").args(args);
        let f = run::Running::spawn(&mut c, None, false, Duration::from_secs(180)).wait();
        Run {
            code: f.status.code().unwrap_or(-1),
            stdout: f.stdout_text(),
            stderr: f.stderr_text(),
        }
    }
}

impl Drop for Machine {
    fn drop(&mut self) {
        let halted = run::output(Command::new(script()).arg("halt").arg(&self.dir));
        if !halted.status.success() {
            eprintln!(
                "halting the machine in {}: {}",
                self.dir.display(),
                halted.stderr_text()
            );
        }
    }
}

/// `s` quoted for /bin/sh.
pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}
