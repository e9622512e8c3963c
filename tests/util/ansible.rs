//! An Ansible controller for one test: the repository's collection built and installed offline into the
//! test's temporary directory, an inventory of hosts reached over SSH (each behind its own [`Sshd`]), and
//! `ansible-playbook` runs whose PLAY RECAP and failures are read back. Everything Ansible writes (its
//! home, local and remote temporary files, the collection, ssh's known_hosts) stays in that directory.
//! A missing Ansible is a failure, never a skip: scripts/test.sh installs Debian's.

use crate::util::repo;
use crate::util::run;
use crate::util::sshd::Sshd;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// How long one playbook run may take.
const PLAY_LIMIT: Duration = Duration::from_secs(300);

pub struct Controller {
    dir: tempfile::TempDir,
}

impl Controller {
    /// A controller with the repository's `ansible/` collection installed (built with `ansible-galaxy
    /// collection build`, installed with `--offline`).
    pub fn new() -> Controller {
        for tool in ["ansible-playbook", "ansible-galaxy"] {
            let found = run::output(Command::new("sh").args(["-c", &format!("command -v {tool}")]));
            assert!(
                found.status.success(),
                "no {tool} on PATH: scripts/test.sh installs Debian's ansible (ansible-core)"
            );
        }
        let dir = tempfile::tempdir().expect("tempdir");
        for sub in [
            "home",
            "ansible-home",
            "local-tmp",
            "remote-tmp",
            "collections",
            "dist",
        ] {
            std::fs::create_dir_all(dir.path().join(sub)).expect("controller dir");
        }
        std::fs::write(dir.path().join("ansible.cfg"), "[defaults]\n").expect("ansible.cfg");
        let c = Controller { dir };
        let dist = c.path().join("dist");
        let built = c.run(
            Command::new("ansible-galaxy")
                .args(["collection", "build", "--force", "--output-path"])
                .arg(&dist)
                .arg(repo().join("ansible")),
        );
        assert!(
            built.status.success(),
            "collection build failed:\n{}{}",
            built.stdout_text(),
            built.stderr_text()
        );
        let tarball = std::fs::read_dir(&dist)
            .expect("dist")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .find(|p| p.to_string_lossy().ends_with(".tar.gz"))
            .expect("the built collection");
        let installed = c.run(
            Command::new("ansible-galaxy")
                .args(["collection", "install", "--offline", "-p"])
                .arg(c.path().join("collections"))
                .arg(&tarball),
        );
        assert!(
            installed.status.success(),
            "collection install failed:\n{}{}",
            installed.stdout_text(),
            installed.stderr_text()
        );
        c
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `cmd` with the controller's environment: nothing read from or written to the real home.
    fn run(&self, cmd: &mut Command) -> run::Finished {
        let d = self.path();
        cmd.current_dir(d)
            .env("HOME", d.join("home"))
            .env("ANSIBLE_CONFIG", d.join("ansible.cfg"))
            .env("ANSIBLE_HOME", d.join("ansible-home"))
            .env("ANSIBLE_LOCAL_TEMP", d.join("local-tmp"))
            .env("ANSIBLE_REMOTE_TEMP", d.join("remote-tmp"))
            .env("ANSIBLE_COLLECTIONS_PATH", d.join("collections"))
            .env("ANSIBLE_ROLES_PATH", d.join("roles"))
            .env("ANSIBLE_NOCOLOR", "1")
            .env("ANSIBLE_FORCE_COLOR", "0")
            .env("ANSIBLE_RETRY_FILES_ENABLED", "False")
            .env("ANSIBLE_HOST_KEY_CHECKING", "True")
            .env("ANSIBLE_PIPELINING", "True")
            // One ssh connection per host for a run's tasks; its master exits soon after the run.
            .env(
                "ANSIBLE_SSH_ARGS",
                "-o ControlMaster=auto -o ControlPersist=5s -o BatchMode=yes",
            )
            .env("ANSIBLE_SSH_CONTROL_PATH_DIR", d.join("cp"))
            .env_remove("DOCKER_HOST")
            .env_remove("ANSIBLE_INVENTORY");
        run::output_within(cmd, PLAY_LIMIT)
    }

    /// Writes an inventory directory: `hosts.yml` (group `ozrepair`, each host's connection through its
    /// sshd), `group_vars/ozrepair.yml` (`group`), `host_vars/<alias>.yml` (each host's settings), and
    /// a known_hosts file beside it with every server's host key.
    pub fn inventory(
        &self,
        name: &str,
        group: serde_json::Value,
        hosts: &[InventoryHost],
    ) -> PathBuf {
        let inv = self.path().join(name);
        std::fs::create_dir_all(inv.join("group_vars")).unwrap();
        std::fs::create_dir_all(inv.join("host_vars")).unwrap();
        let known = self.path().join(format!("{name}.known_hosts"));
        let lines: String = hosts
            .iter()
            .map(|h| h.sshd.known_hosts_line() + "\n")
            .collect();
        std::fs::write(&known, lines).unwrap();
        let mut entries = serde_json::Map::new();
        for h in hosts {
            entries.insert(
                h.alias.to_string(),
                serde_json::json!({
                    "ansible_host": "127.0.0.1",
                    "ansible_port": h.sshd.port,
                    "ansible_user": "root",
                    "ansible_become": false,
                    "ansible_python_interpreter": "auto_silent",
                    "ansible_ssh_private_key_file": h.sshd.client_key(),
                    "ansible_ssh_common_args": format!(
                        "-o UserKnownHostsFile={} -o StrictHostKeyChecking=yes -o IdentitiesOnly=yes",
                        known.display()
                    ),
                }),
            );
            std::fs::write(
                inv.join("host_vars").join(format!("{}.yml", h.alias)),
                serde_json::to_string_pretty(&h.vars).unwrap(),
            )
            .unwrap();
        }
        // JSON is YAML.
        let doc = serde_json::json!({"ozrepair": {"hosts": entries}});
        std::fs::write(
            inv.join("hosts.yml"),
            serde_json::to_string_pretty(&doc).unwrap(),
        )
        .unwrap();
        std::fs::write(
            inv.join("group_vars").join("ozrepair.yml"),
            serde_json::to_string_pretty(&group).unwrap(),
        )
        .unwrap();
        inv
    }

    /// Writes a playbook into the controller's directory and returns its path.
    pub fn write_playbook(&self, name: &str, text: &str) -> PathBuf {
        let p = self.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    /// `ansible-playbook -i INVENTORY PLAYBOOK ARGS…`; prints its PLAY RECAP under `title` on the test
    /// process's stderr (not captured by the test harness, so it shows in scripts/test.sh's output).
    pub fn playbook(&self, title: &str, inventory: &Path, playbook: &str, args: &[&str]) -> Play {
        let started = std::time::Instant::now();
        let f = self.run(
            Command::new("ansible-playbook")
                .arg("-i")
                .arg(inventory)
                .arg(playbook)
                .args(args),
        );
        let play = Play {
            code: f.status.code().unwrap_or(-1),
            stdout: f.stdout_text(),
            stderr: f.stderr_text(),
        };
        let mut err = std::io::stderr().lock();
        let _ = writeln!(
            err,
            "e2e_ansible: {title}: ansible-playbook {playbook} {} (exit {}, {:.1} s)\n{}",
            args.join(" "),
            play.code,
            started.elapsed().as_secs_f64(),
            play.recap_lines().join("\n")
        );
        play
    }
}

/// One host of an inventory: its alias, the sshd that reaches it, its host_vars.
pub struct InventoryHost<'a> {
    pub alias: &'a str,
    pub sshd: &'a Sshd,
    pub vars: serde_json::Value,
}

/// A host's counts in the PLAY RECAP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Recap {
    pub ok: u32,
    pub changed: u32,
    pub unreachable: u32,
    pub failed: u32,
    pub skipped: u32,
    pub rescued: u32,
    pub ignored: u32,
}

/// One `ansible-playbook` run.
#[derive(Debug)]
pub struct Play {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Play {
    /// The lines after PLAY RECAP.
    pub fn recap_lines(&self) -> Vec<String> {
        self.stdout
            .lines()
            .skip_while(|l| !l.starts_with("PLAY RECAP"))
            .filter(|l| l.contains(" : ok="))
            .map(|l| l.trim_end().to_string())
            .collect()
    }

    /// Each host's counts in the PLAY RECAP; a host that never ran is not there.
    pub fn recap(&self) -> BTreeMap<String, Recap> {
        let mut out = BTreeMap::new();
        for line in self.recap_lines() {
            let (host, counts) = line.split_once(" : ").expect("a recap line");
            let mut r = Recap::default();
            for pair in counts.split_whitespace() {
                let (k, v) = pair.split_once('=').expect("key=value");
                let n: u32 = v.parse().expect("a count");
                match k {
                    "ok" => r.ok = n,
                    "changed" => r.changed = n,
                    "unreachable" => r.unreachable = n,
                    "failed" => r.failed = n,
                    "skipped" => r.skipped = n,
                    "rescued" => r.rescued = n,
                    "ignored" => r.ignored = n,
                    _ => {}
                }
            }
            out.insert(host.trim().to_string(), r);
        }
        out
    }

    /// A host's counts; fails the test when the host is not in the recap.
    pub fn host(&self, alias: &str) -> Recap {
        *self
            .recap()
            .get(alias)
            .unwrap_or_else(|| panic!("{alias} is not in the PLAY RECAP:\n{}", self.all()))
    }

    /// The result of each failed task, by host: `fatal: [HOST]: FAILED! => {…}`.
    pub fn failures(&self) -> BTreeMap<String, serde_json::Value> {
        let mut out = BTreeMap::new();
        for line in self.stdout.lines() {
            let Some(rest) = line.strip_prefix("fatal: [") else {
                continue;
            };
            let Some((host, tail)) = rest.split_once("]: FAILED! => ") else {
                continue;
            };
            let v: serde_json::Value = serde_json::from_str(tail)
                .unwrap_or_else(|e| panic!("the failure of {host} is not JSON ({e}): {tail}"));
            out.insert(host.to_string(), v);
        }
        out
    }

    pub fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }

    /// Every task result the default callback printed with its JSON (a module's at `-v`, a debug
    /// message always), in order: the task's name as the banner gives it (a role's task as `ROLE : NAME`),
    /// the host and the result.
    pub fn results(&self) -> Vec<TaskResult> {
        let mut out = Vec::new();
        let mut task = String::new();
        let mut lines = self.stdout.lines();
        while let Some(line) = lines.next() {
            if let Some(rest) = line.strip_prefix("TASK [") {
                task = rest.rsplit_once("] ").map_or(rest, |(t, _)| t).to_string();
                continue;
            }
            let Some((status, rest)) = line.split_once(": [") else {
                continue;
            };
            if !["ok", "changed", "fatal", "skipping", "failed"].contains(&status) {
                continue;
            }
            let Some((host, after)) = rest.split_once(']') else {
                continue;
            };
            let Some(tail) = after
                .strip_prefix(" => ")
                .or_else(|| after.strip_prefix(": FAILED! => "))
            else {
                continue;
            };
            // One line at -v, indented over several at -vvv and for debug messages.
            let mut text = tail.to_string();
            let result = loop {
                if let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) {
                    break v;
                }
                match lines.next() {
                    Some(l) => {
                        text.push('\n');
                        text.push_str(l);
                    }
                    None => panic!("the result of {task} on {host} is not JSON: {text}"),
                }
            };
            out.push(TaskResult {
                task: task.clone(),
                host: host.split(" -> ").next().unwrap_or(host).to_string(),
                result,
            });
        }
        out
    }

    /// The result of the last task whose name starts with `task` on `alias`; fails the test when there is
    /// none.
    pub fn result(&self, task: &str, alias: &str) -> serde_json::Value {
        self.results()
            .into_iter()
            .rev()
            .find(|r| r.host == alias && r.task.starts_with(task))
            .map(|r| r.result)
            .unwrap_or_else(|| panic!("no result of {task:?} on {alias}:\n{}", self.all()))
    }
}

/// One task's result on one host, as `ansible-playbook` printed it.
#[derive(Debug, Clone)]
pub struct TaskResult {
    pub task: String,
    pub host: String,
    pub result: serde_json::Value,
}

/// The collection's module run directly by Debian's Python (as Ansible runs it on a target), with `args`;
/// its module_utils are found through an `ansible_collections/openzro/ozrepair` link to the repository's
/// `ansible/` on PYTHONPATH.
pub fn run_module(args: serde_json::Value) -> (serde_json::Value, String) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("args.json");
    std::fs::write(
        &file,
        serde_json::json!({ "ANSIBLE_MODULE_ARGS": args }).to_string(),
    )
    .unwrap();
    let ns = dir.path().join("ansible_collections/openzro");
    std::fs::create_dir_all(&ns).unwrap();
    std::os::unix::fs::symlink(repo().join("ansible"), ns.join("ozrepair")).unwrap();
    let out = crate::util::run::output_within(
        std::process::Command::new("/usr/bin/python3")
            .arg(repo().join("ansible/plugins/modules/ozrepair.py"))
            .arg(&file)
            .env("PYTHONPATH", dir.path())
            .env("PYTHONDONTWRITEBYTECODE", "1"),
        std::time::Duration::from_secs(120),
    );
    let text = out.stdout_text();
    let v = serde_json::from_str(text.trim())
        .unwrap_or_else(|e| panic!("{e}: {text} {}", out.stderr_text()));
    (v, format!("{text}{}", out.stderr_text()))
}
