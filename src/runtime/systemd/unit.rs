//! One service unit as systemd describes it: its state now ([`Status`]: ActiveState, SubState, NRestarts,
//! Result, InvocationID, the main process), and its definition ([`Service`]: the command line it runs,
//! exactly, with its environment expanded; its user; its state, working and config directories; where
//! its output goes; its `ExecStartPre` commands; the program it runs, which tells what it is).

use super::ctl::{self, Props};
use crate::runtime::State;
use anyhow::{bail, Result};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The properties a look at a unit's state reads.
pub const STATUS_PROPS: &[&str] = &[
    "ActiveState",
    "SubState",
    "NRestarts",
    "Result",
    "InvocationID",
    "ExecMainStatus",
    "ExecMainCode",
    "MainPID",
    "ControlPID",
    "Job",
    "ExecMainStartTimestamp",
    "InactiveExitTimestamp",
];

/// Everything else read of a unit's definition.
const DEFINITION_PROPS: &[&str] = &[
    "Names",
    "Description",
    "User",
    "Group",
    "DynamicUser",
    "StateDirectory",
    "WorkingDirectory",
    "RuntimeDirectory",
    "ConfigurationDirectory",
    "StandardOutput",
    "StandardError",
    "SyslogIdentifier",
    "Environment",
    "EnvironmentFiles",
    "ExecStart",
    "ExecStartPre",
    "FragmentPath",
    "DropInPaths",
    "Restart",
    "RestartUSec",
    "TimeoutStopUSec",
    "TimeoutStartUSec",
    "PrivateNetwork",
];

/// A unit's state at one look.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Status {
    pub active: String,
    pub sub: String,
    pub n_restarts: u64,
    pub result: String,
    /// The run it is in (or last was in); empty when it has none.
    pub invocation: String,
    pub exit_status: i64,
    pub main_pid: u64,
    pub control_pid: u64,
    /// A job queued for it (a start or restart about to happen), when there is one.
    pub job: String,
    /// When its main process last started.
    pub main_started: Option<i128>,
    /// When it last left the inactive state (every start, automatic ones too).
    pub left_inactive: Option<i128>,
}

impl Status {
    pub fn of(p: &Props) -> Status {
        Status {
            active: p.get("ActiveState").to_string(),
            sub: p.get("SubState").to_string(),
            n_restarts: p.num("NRestarts"),
            result: p.get("Result").to_string(),
            invocation: p.get("InvocationID").to_string(),
            exit_status: p.get("ExecMainStatus").parse().unwrap_or(0),
            main_pid: p.num("MainPID"),
            control_pid: p.num("ControlPID"),
            job: match p.get("Job") {
                "" | "0" => String::new(),
                j => j.to_string(),
            },
            main_started: p.stamp("ExecMainStartTimestamp"),
            left_inactive: p.stamp("InactiveExitTimestamp"),
        }
    }

    /// `activating (auto-restart)`, as `systemctl status` says it.
    pub fn shown(&self) -> String {
        format!("{} ({})", self.active, self.sub)
    }

    /// Down and staying down as far as systemd itself goes: inactive or failed, no process, no job queued
    /// (a restart waiting for its RestartSec is `activating (auto-restart)`, not down).
    pub fn down(&self) -> bool {
        matches!(self.active.as_str(), "inactive" | "failed")
            && self.main_pid == 0
            && self.control_pid == 0
            && self.job.is_empty()
    }

    /// Waiting to be started again by its Restart= setting, or starting again after that.
    pub fn restarting(&self) -> bool {
        self.sub == "auto-restart" || (self.active == "activating" && self.n_restarts > 0)
    }

    /// The runtime-neutral state: running; restarting (in a loop); exited (failed: with its exit status);
    /// stopping; or systemd's own word.
    pub fn state(&self) -> State {
        match self.active.as_str() {
            _ if self.restarting() => State::Restarting,
            "active" | "reloading" | "refreshing" => State::Running,
            "deactivating" => State::Stopping,
            "inactive" | "failed" => State::Exited,
            other => State::Other(other.to_string()),
        }
    }

    /// The exit code for the report: the main process's status when it failed, else 0 (a unit stopped
    /// on purpose is not failing).
    pub fn exit_code(&self) -> i64 {
        if self.active == "failed" || self.restarting() {
            if self.exit_status != 0 {
                self.exit_status
            } else {
                1
            }
        } else {
            0
        }
    }
}

/// What a unit runs, as far as ozrepair tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// NetBird's or openZro's management server (`netbird-mgmt management`), its Dex embedded.
    Management(Product),
    /// NetBird's combined server (`netbird-server --config config.yaml`).
    Combined,
    /// Dex itself (`dex serve config.yaml`).
    Dex,
    /// Named like one of them, running something else.
    ByName,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Product {
    NetBird,
    OpenZro,
}

impl Product {
    /// The management server's defaults (management/cmd/defaults.go): config, data directory, log file.
    pub fn defaults(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Product::NetBird => (
                "/etc/netbird/management.json",
                "/var/lib/netbird/",
                "/var/log/netbird/management.log",
            ),
            Product::OpenZro => (
                "/etc/openzro/management.json",
                "/var/lib/openzro/",
                "/var/log/openzro/management.log",
            ),
        }
    }
}

/// Unit names the field uses (NetBird's and openZro's packages and release files, NixOS's modules,
/// Dex's packages).
pub const KNOWN_NAMES: [&str; 5] = [
    "netbird-management.service",
    "openzro-management.service",
    "netbird-server.service",
    "netbird-mgmt.service",
    "dex.service",
];

/// What a command line runs.
pub fn role_of(argv: &[String], unit: &str) -> Option<Role> {
    let prog = argv
        .first()
        .map(|p| p.rsplit('/').next().unwrap_or(p))
        .unwrap_or("");
    let sub = argv.get(1).map(String::as_str).unwrap_or("");
    let product = if prog.starts_with("openzro") {
        Product::OpenZro
    } else {
        Product::NetBird
    };
    if matches!(
        prog,
        "netbird-mgmt" | "openzro-mgmt" | "netbird-management" | "openzro-management"
    ) || (matches!(prog, "netbird" | "openzro") && sub == "management")
    {
        return Some(Role::Management(product));
    }
    if matches!(
        prog,
        "netbird-server" | "netbird-combined" | "openzro-server"
    ) {
        return Some(Role::Combined);
    }
    if prog == "dex" && argv.iter().any(|a| a == "serve") {
        return Some(Role::Dex);
    }
    KNOWN_NAMES.contains(&unit).then_some(Role::ByName)
}

/// A unit's definition, read once when it is located.
#[derive(Debug, Clone)]
pub struct Service {
    pub name: String,
    pub props: Props,
    pub status: Status,
    /// The command line of its main process, exactly.
    pub argv: Vec<String>,
    /// Where `argv` was read: the running process, D-Bus, or `systemctl show`.
    pub argv_from: &'static str,
    /// Its `ExecStartPre` commands.
    pub pre: Vec<Vec<String>>,
    pub role: Option<Role>,
}

impl Service {
    /// The properties a [`Service`] is read from (its state and its definition).
    pub fn props() -> Vec<&'static str> {
        let mut props: Vec<&str> = STATUS_PROPS.to_vec();
        props.extend_from_slice(DEFINITION_PROPS);
        props
    }

    /// Reads `names` (their definitions and state); a name that is not a loaded or installed unit is an
    /// error only when `strict`.
    pub async fn read_all(names: &[String], strict: bool) -> Result<Vec<Service>> {
        let all = ctl::show(names, &Self::props()).await?;
        Self::from_shown(names.iter().cloned().zip(all).collect(), strict).await
    }

    /// The services `systemctl show` described with [`Service::props`]; a name that is not a loaded or
    /// installed unit is an error only when `strict`.
    pub async fn from_shown(shown: Vec<(String, Props)>, strict: bool) -> Result<Vec<Service>> {
        let mut out = Vec::new();
        for (name, p) in shown {
            if p.get("LoadState") == "not-found" {
                if strict {
                    bail!("there is no unit {name} on this host; nothing was changed; `systemctl list-units --type=service --all` lists the units");
                }
                continue;
            }
            out.push(Service::of(&name, p).await);
        }
        Ok(out)
    }

    async fn of(name: &str, props: Props) -> Service {
        let status = Status::of(&props);
        let env = environment(&props);
        let (start, pre, from) = match ctl::exec_argv(name, &["ExecStart", "ExecStartPre"]).await {
            Some(mut both) => {
                let pre = both.pop().unwrap_or_default();
                (both.pop().unwrap_or_default(), pre, "D-Bus")
            }
            None => (
                ctl::exec_from_show(props.get("ExecStart")),
                ctl::exec_from_show(props.get("ExecStartPre")),
                "systemctl show (arguments split at spaces)",
            ),
        };
        let (argv, argv_from) = match running_argv(status.main_pid) {
            Some(a) => (a, "its running process"),
            None => (
                start
                    .into_iter()
                    .next()
                    .map(|a| expand(&a, &env))
                    .unwrap_or_default(),
                from,
            ),
        };
        let pre = pre.into_iter().map(|a| expand(&a, &env)).collect();
        let role = role_of(&argv, name);
        Service {
            name: name.to_string(),
            props,
            status,
            argv,
            argv_from,
            pre,
            role,
        }
    }

    /// Its environment as `KEY=value` words (`Environment=`, then its environment files).
    pub fn env(&self) -> Vec<String> {
        environment(&self.props)
            .into_iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect()
    }

    /// The value of a command-line flag (`--config X` or `--config=X`), the last one given.
    pub fn flag(&self, name: &str) -> Option<String> {
        flag_in(&self.argv, name)
    }

    /// Its state directories as paths (`StateDirectory=netbird-server` -> /var/lib/netbird-server; with
    /// DynamicUser= it lives in /var/lib/private/, linked from there).
    pub fn state_dirs(&self) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for d in self.props.words("StateDirectory") {
            let d = d.split(':').next().unwrap_or(&d).to_string();
            if self.props.yes("DynamicUser") {
                out.push(Path::new("/var/lib/private").join(&d));
            }
            out.push(Path::new("/var/lib").join(&d));
        }
        out
    }

    /// Its working directory, when it has one (a leading `-` or `~` said how to treat it).
    pub fn working_dir(&self) -> Option<PathBuf> {
        let w = self.props.get("WorkingDirectory").trim_start_matches('-');
        (w.starts_with('/')).then(|| PathBuf::from(w))
    }

    /// Who it runs as, for the report.
    pub fn user(&self) -> String {
        let u = self.props.get("User");
        let g = self.props.get("Group");
        let who = match (u, g) {
            ("", _) => "root".to_string(),
            (u, "") => u.to_string(),
            (u, g) => format!("{u}:{g}"),
        };
        if self.props.yes("DynamicUser") {
            format!("{who} (DynamicUser: a uid allocated at each start)")
        } else {
            who
        }
    }

    /// Its environment files (`EnvironmentFiles=/etc/default/x (ignore_errors=yes)`).
    pub fn environment_files(&self) -> Vec<PathBuf> {
        self.props
            .get("EnvironmentFiles")
            .lines()
            .filter_map(|l| l.split_whitespace().next())
            .filter(|p| p.starts_with('/'))
            .map(PathBuf::from)
            .collect()
    }
}

/// The value of `--name X` / `--name=X` in `argv` (the last one).
pub fn flag_in(argv: &[String], name: &str) -> Option<String> {
    let mut found = None;
    let eq = format!("{name}=");
    let mut it = argv.iter();
    while let Some(a) = it.next() {
        if a == name {
            found = it.next().cloned();
        } else if let Some(v) = a.strip_prefix(&eq) {
            found = Some(v.to_string());
        }
    }
    found
}

/// The argv of a running process (`/proc/PID/cmdline`), when there is one.
fn running_argv(pid: u64) -> Option<Vec<String>> {
    if pid == 0 {
        return None;
    }
    let bytes = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let argv: Vec<String> = bytes
        .split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    (!argv.is_empty()).then_some(argv)
}

/// The unit's environment: its `Environment=` assignments, then its environment files' (later ones win,
/// as systemd applies them).
fn environment(p: &Props) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    for word in shell_words(p.get("Environment")) {
        if let Some((k, v)) = word.split_once('=') {
            env.insert(k.to_string(), v.to_string());
        }
    }
    for line in p.get("EnvironmentFiles").lines() {
        let Some(path) = line.split_whitespace().next() else {
            continue;
        };
        let Ok(text) = std::fs::read_to_string(path) else {
            continue;
        };
        for (k, v) in env_file(&text) {
            env.insert(k, v);
        }
    }
    env
}

/// `KEY=VALUE` lines as systemd reads an environment file: `#` and `;` comments, optional quotes.
pub fn env_file(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for line in text.lines() {
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') || t.starts_with(';') {
            continue;
        }
        let Some((k, v)) = t.split_once('=') else {
            continue;
        };
        let k = k.trim();
        if k.is_empty() || !k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            continue;
        }
        let v = v.trim();
        let v = shell_words(v).join(" ");
        out.push((k.to_string(), v));
    }
    out
}

/// Words with double or single quotes and backslashes, as systemd splits `Environment=` values.
pub fn shell_words(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (None, c) if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            (None, '"' | '\'') => {
                quote = Some(c);
                in_word = true;
            }
            (Some(q), c) if c == q => quote = None,
            (_, '\\') => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
                in_word = true;
            }
            (_, c) => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        out.push(cur);
    }
    out
}

/// A command line with its environment variables expanded as systemd does at exec: a word that is only
/// `$NAME` becomes the value's words; `${NAME}` inside a word becomes the value.
pub fn expand(argv: &[String], env: &BTreeMap<String, String>) -> Vec<String> {
    let mut out = Vec::new();
    for (i, a) in argv.iter().enumerate() {
        if i > 0 {
            if let Some(name) = a.strip_prefix('$').filter(|n| {
                !n.is_empty() && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            }) {
                out.extend(
                    env.get(name)
                        .map(|v| v.split_whitespace().map(String::from).collect::<Vec<_>>())
                        .unwrap_or_default(),
                );
                continue;
            }
        }
        let mut s = String::new();
        let mut rest = a.as_str();
        while let Some(p) = rest.find("${") {
            s.push_str(&rest[..p]);
            match rest[p + 2..].find('}') {
                Some(end) => {
                    let name = &rest[p + 2..p + 2 + end];
                    s.push_str(env.get(name).map(String::as_str).unwrap_or(""));
                    rest = &rest[p + 3 + end..];
                }
                None => {
                    s.push_str(&rest[p..]);
                    rest = "";
                }
            }
        }
        s.push_str(rest);
        out.push(s);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn roles_by_program_and_name() {
        assert_eq!(
            role_of(&v(&["/usr/bin/netbird-mgmt", "management"]), "x.service"),
            Some(Role::Management(Product::NetBird))
        );
        assert_eq!(
            role_of(
                &v(&[
                    "/usr/bin/openzro-mgmt",
                    "management",
                    "--config",
                    "/etc/openzro/management.json"
                ]),
                "x.service"
            ),
            Some(Role::Management(Product::OpenZro))
        );
        assert_eq!(
            role_of(
                &v(&[
                    "/nix/store/abc-netbird-server/bin/netbird-server",
                    "--config",
                    "/run/netbird-server/config.yaml"
                ]),
                "netbird-server.service"
            ),
            Some(Role::Combined)
        );
        assert_eq!(
            role_of(
                &v(&["/usr/local/bin/dex", "serve", "/etc/dex/config.yaml"]),
                "idp.service"
            ),
            Some(Role::Dex)
        );
        assert_eq!(role_of(&v(&["/usr/bin/dex", "version"]), "x.service"), None);
        assert_eq!(role_of(&v(&["/opt/x"]), "dex.service"), Some(Role::ByName));
        assert_eq!(role_of(&v(&["/usr/sbin/sshd", "-D"]), "ssh.service"), None);
    }

    #[test]
    fn expands_the_environment_as_systemd_does() {
        let env: BTreeMap<String, String> = [
            (
                "FLAGS".to_string(),
                "--log-file console  --datadir /d".to_string(),
            ),
            ("LVL".to_string(), "info".to_string()),
        ]
        .into();
        assert_eq!(
            expand(
                &v(&[
                    "/usr/bin/netbird-mgmt",
                    "management",
                    "$FLAGS",
                    "--log-level",
                    "${LVL}",
                    "x${NONE}y",
                    "$EMPTY"
                ]),
                &env
            ),
            v(&[
                "/usr/bin/netbird-mgmt",
                "management",
                "--log-file",
                "console",
                "--datadir",
                "/d",
                "--log-level",
                "info",
                "xy"
            ])
        );
        assert_eq!(
            flag_in(&v(&["a", "--config", "/x", "--config=/y"]), "--config").as_deref(),
            Some("/y")
        );
        assert_eq!(flag_in(&v(&["a", "--config"]), "--config"), None);
    }

    #[test]
    fn reads_environment_files_and_words() {
        let text = "# {{ ansible_managed }}\nOPENZRO_LOG_LEVEL=info\n; c\nFLAGS=\"--log-file console\"\nBAD LINE\nexport X=1\n";
        assert_eq!(
            env_file(text),
            vec![
                ("OPENZRO_LOG_LEVEL".to_string(), "info".to_string()),
                ("FLAGS".to_string(), "--log-file console".to_string())
            ]
        );
        assert_eq!(
            shell_words(r#"A=1 "B=x y" C='z'"#),
            v(&["A=1", "B=x y", "C=z"])
        );
    }

    #[test]
    fn states_as_systemd_says_them() {
        let st = |a: &str, s: &str, n: u64| Status {
            active: a.into(),
            sub: s.into(),
            n_restarts: n,
            ..Status::default()
        };
        assert_eq!(
            st("activating", "auto-restart", 3).state(),
            State::Restarting
        );
        assert_eq!(st("active", "running", 3).state(), State::Running);
        assert_eq!(st("failed", "failed", 5).state(), State::Exited);
        assert_eq!(st("failed", "failed", 5).exit_code(), 1);
        assert_eq!(st("inactive", "dead", 0).exit_code(), 0);
        assert!(st("inactive", "dead", 0).down());
        assert!(!st("activating", "auto-restart", 0).down());
        let mut queued = st("inactive", "dead", 0);
        queued.job = "42".into();
        assert!(!queued.down());
        assert_eq!(
            st("activating", "auto-restart", 1).shown(),
            "activating (auto-restart)"
        );
    }
}
