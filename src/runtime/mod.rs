//! Locate: what runs the IdP (a runtime), and where its store and config files are by that runtime's
//! configuration. One trait, [`Runtime`], for everything a run asks of it: tell its state, stop it and
//! prove the stop holds, start it and watch it come up, read the lines of its last run, copy out a store
//! this machine cannot open in place ([`InsideSet`]), and describe itself in the report. Each backend is
//! one implementation file: [`docker`] (a container on a Docker or Podman Engine API), [`systemd`] (a
//! service unit, its logs in journald or its log file) and [`none`] (`--db`: a file, nothing to stop or
//! start). A new runtime is a file beside them and a branch of [`locate`]; nothing after this step
//! changes.

pub mod docker;
pub mod generated;
pub mod none;
pub mod systemd;

use crate::logs::LogFindings;
use crate::settings::Target;
use crate::verdict::{ExitCode, Outcome, Verdict};
use anyhow::Result;
use futures_util::future::LocalBoxFuture;
use std::path::{Path, PathBuf};

/// Where Dex keeps its state, as the deployment's configuration says (a place, not yet reached).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorePlace {
    /// A file on this machine's filesystem (a volume's host path, a bind mount, or `--db`).
    File(PathBuf),
    /// A file inside what runs the IdP that this machine cannot open in place, reached through the
    /// runtime ([`Runtime::fetch`]).
    Inside(String),
    /// A database server (PostgreSQL, MySQL/MariaDB) the deployment's configuration names, as this machine
    /// reaches it.
    Server(Box<crate::dsn::Server>),
    /// No Dex store: a management server set up with an external IdP (the standalone setup), whose OIDC
    /// settings live in its config file.
    Absent,
}

/// Where the IdP's config files may be found on this machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigPlace {
    /// Brought in by the runtime (a container's mount): `source` on this machine, `seen_at` where the IdP
    /// sees it.
    Mount { source: PathBuf, seen_at: String },
    /// The directory of the deployment's own definition (a compose project's working directory), in or
    /// above which the setup file lives.
    SetupDir(PathBuf),
    /// A config file the runtime's definition names (a unit's `--config`), read whatever its name (its
    /// format by its extension, else by its name); `generated` when something writes it anew.
    File {
        path: PathBuf,
        /// How the IdP is told about it (`--config of netbird-management.service`).
        named_by: String,
        generated: Option<Generated>,
    },
}

/// A config file that something produces from another source at every start or every deployment (a
/// NixOS module, a unit's `ExecStartPre`, an Ansible template, a Helm chart): ozrepair never edits it,
/// since the next start or run writes it again, and names the source to change instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Generated {
    /// What writes it, and when (`ExecStartPre=… of netbird-management.service, at every start`).
    pub by: String,
    /// The source of truth (`the NixOS option services.netbird.server.management.settings`).
    pub source: String,
    /// How one of its values is named in that source.
    pub naming: Naming,
}

/// How a value of a generated file is named in its source of truth.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Naming {
    /// The value's path in the file under this prefix (a NixOS `settings` option:
    /// `services.netbird.server.management.settings` + `.HttpConfig.AuthIssuer`).
    Prefix(String),
    /// A template's variables, each with the value it renders.
    Template(Vec<TemplateVar>),
    /// The source has no name for single values.
    Unnamed,
}

/// One value of a file rendered from a template: the variable behind it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateVar {
    /// The value's path in the file, as the report shows it (`HttpConfig.AuthIssuer`).
    pub at: String,
    /// The variable (`openzro_oidc_issuer`).
    pub variable: String,
    /// What the template writes for it (`"{{ openzro_oidc_issuer }}/.well-known/openid-configuration"`).
    pub renders: String,
    /// What the template adds after the variable's value.
    pub suffix: String,
}

impl Generated {
    /// What to change in the source of truth so that the value at `at` (a path as the report shows it)
    /// becomes `to`: the name and the value to give it; None when the source has no name for it.
    pub fn change_for(&self, at: &str, to: &str) -> Option<(String, String)> {
        match &self.naming {
            Naming::Prefix(p) => Some((format!("{p}.{at}"), to.to_string())),
            Naming::Template(vars) => vars.iter().find(|v| v.at == at).map(|v| {
                (
                    format!(
                        "the variable {} (the template writes {})",
                        v.variable, v.renders
                    ),
                    to.strip_suffix(v.suffix.as_str()).unwrap_or(to).to_string(),
                )
            }),
            Naming::Unnamed => None,
        }
    }
}

/// Nothing of the kind a runtime looks for is there (no engine answers, or none of its containers or
/// units runs the IdP): [`locate`] then looks with the next runtime before it gives up.
#[derive(Debug)]
pub struct NothingHere(pub String);

impl std::fmt::Display for NothingHere {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for NothingHere {}

/// The deployment as located: what runs it, and where its store and config files are.
pub struct Located {
    pub runtime: Box<dyn Runtime>,
    /// The volume that holds the store, when the runtime names one.
    pub volume: Option<String>,
    pub place: StorePlace,
    /// How it was found, for the report.
    pub why: Vec<String>,
    /// The lines of its last run, when choosing among deployments read them already.
    pub logs: Option<LogFindings>,
    /// Where its config files may be.
    pub configs: Vec<ConfigPlace>,
}

/// Whether a file on this machine is a Dex store: given to [`locate`] by the store step, which alone
/// knows how to read one.
pub type Probe<'a> = &'a dyn Fn(&Path) -> bool;

/// Finds the deployment `target` names: a file (`--db`); a unit (`--unit`); or, with neither, through
/// the Docker or Podman engine the container and mount that hold the Dex store (each candidate confirmed
/// with `probe`), and when no engine answers or none of its containers runs the IdP (and nothing narrowed
/// the search to an engine: `-H`, `--container`, `--volume`), the systemd unit that runs it.
pub async fn locate(target: &Target, probe: Probe<'_>) -> Result<Located> {
    match target {
        Target::File(db) => Ok(none::located(db)),
        Target::Unit { name, dsn } => {
            let found = systemd::locate(Some(name), probe).await;
            match dsn {
                // The unit asked for stands: when it is not found, its error does.
                Some(given) => with_given_server(found, given, true),
                None => found,
            }
        }
        Target::Engine {
            host,
            container,
            volume,
            access,
            dsn,
        } => {
            let found = docker::locate(
                host.as_deref(),
                container.as_deref(),
                volume.as_deref(),
                *access,
                probe,
            )
            .await;
            let engine_only = host.is_some() || container.is_some() || volume.is_some();
            let found = match found {
                Err(e) if !engine_only && e.downcast_ref::<NothingHere>().is_some() => {
                    systemd::instead_of_engine(e, probe).await
                }
                other => other,
            };
            match dsn {
                Some(given) => with_given_server(found, given, container.is_some()),
                None => found,
            }
        }
    }
}

/// The operator's `--dsn-file` (or `$OZREPAIR_DSN`) over what was found: the deployment's container is
/// still what is stopped and started, and the operator's connection replaces the one its configuration
/// names. When no deployment was found (and no `--container` was asked for), the server alone: nothing is
/// stopped or started, so a write needs `--live`.
fn with_given_server(
    found: Result<Located>,
    given: &crate::dsn::Server,
    container_asked: bool,
) -> Result<Located> {
    let place = StorePlace::Server(Box::new(given.clone()));
    match found {
        Ok(mut l) => {
            let was = match &l.place {
                StorePlace::Server(s) => format!("the connection {} names", s.from),
                StorePlace::File(p) => format!("the SQLite file {}", p.display()),
                StorePlace::Inside(p) => format!("the SQLite file {p}"),
                StorePlace::Absent => "no Dex store".to_string(),
            };
            l.why.push(format!("{}: {} replaces {was}", given.from, given.shown()));
            l.place = place;
            Ok(l)
        }
        Err(e) if !container_asked => Ok(Located {
            runtime: Box::new(none::NoRuntime),
            volume: None,
            place,
            why: vec![
                format!("{}: {}", given.from, given.shown()),
                format!("no deployment was found on the engine ({e:#}), so nothing is stopped or started"),
            ],
            logs: None,
            configs: Vec::new(),
        }),
        // The container asked for was not found: its error stands.
        Err(e) => Err(e),
    }
}

/// The state of what runs the IdP, in the runtime's own word (kept as [`State::Other`] when this build
/// does not know it, so a new or foreign state never breaks parsing). Podman's `stopped` is what Docker
/// calls `exited`. [`State::Restarting`] is also what ozrepair calls an IdP it saw start again by itself
/// within a moment (Podman restarts without back-off and never says `restarting`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    Created,
    Running,
    Paused,
    Restarting,
    Removing,
    Stopping,
    Exited,
    Dead,
    Other(String),
}

impl State {
    pub fn parse(word: &str) -> State {
        match word {
            "created" | "configured" | "initialized" => State::Created,
            "running" => State::Running,
            "paused" => State::Paused,
            "restarting" => State::Restarting,
            "removing" => State::Removing,
            "stopping" => State::Stopping,
            "exited" | "stopped" => State::Exited,
            "dead" => State::Dead,
            other => State::Other(other.to_string()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            State::Created => "created",
            State::Running => "running",
            State::Paused => "paused",
            State::Restarting => "restarting",
            State::Removing => "removing",
            State::Stopping => "stopping",
            State::Exited => "exited",
            State::Dead => "dead",
            State::Other(s) => s,
        }
    }

    /// The store may be open (the process exists).
    pub fn holds_database(&self) -> bool {
        matches!(
            self,
            State::Running | State::Restarting | State::Paused | State::Stopping
        )
    }

    /// Not running and not about to run again by itself.
    pub fn is_down(&self) -> bool {
        matches!(self, State::Exited | State::Created)
    }

    /// Stopped for a write: down, or `dead` (not running either).
    pub fn stays_down(&self) -> bool {
        self.is_down() || *self == State::Dead
    }
}

impl std::fmt::Display for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What runs the IdP, as located: the report's description of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unit {
    /// Its name (a container's name).
    pub name: String,
    pub id: String,
    pub state: State,
    /// The exit code of its last run (0 while running or never run).
    pub exit_code: i64,
    /// How often it was started again by itself.
    pub restarts: i64,
}

impl Unit {
    /// Up: it opened every connector it could (a running server; not a restart loop).
    pub fn running(&self) -> bool {
        self.state == State::Running
    }

    /// Down for a reason of its own: in a restart loop, or exited with a failure.
    pub fn failing(&self) -> bool {
        self.state == State::Restarting || (self.state == State::Exited && self.exit_code != 0)
    }
}

/// How a start went.
pub struct Started {
    pub verdict: Verdict,
    pub state_after: Option<State>,
    pub notes: Vec<String>,
}

/// The verdict of a watch: fixed when nothing was wrong (`down` None); else unverified (exit 4), naming
/// why `name` did not stay up within `wait` seconds, the command that shows its lines, and the backup.
pub fn watched(
    down: Option<String>,
    name: &str,
    wait: u64,
    logs_command: &str,
    backup: Option<&str>,
) -> Verdict {
    match down {
        None => Verdict::fixed(),
        Some(why) => Verdict::new(Outcome::Unverified, ExitCode::NotUp).with_error(format!(
            "the change is written and verified, but {name} did not stay up within {wait}s: {why}; see `{logs_command}`{}",
            backup
                .map(|d| format!("; the old database is in {d} (`ozrepair restore` puts it back)"))
                .unwrap_or_default()
        )),
    }
}

/// A store's files inside what runs the IdP, copied out to a private place on this machine because this
/// machine cannot open them in place (a container's volume on a remote engine, or one whose files are
/// owned by shifted ids): worked on here, and put back as they were.
pub trait InsideSet {
    /// The local copy of the main file.
    fn local(&self) -> &Path;
    /// Where it lives, as the report names it (`mgmt:/var/lib/netbird/idp.db`).
    fn shown(&self) -> String;
    /// Where its backups go by default (on this machine).
    fn default_backups(&self) -> PathBuf;
    /// Takes the set again as it is now (after the stop: nothing writes it any more).
    fn refresh(&mut self) -> LocalBoxFuture<'_, Result<()>>;
    /// Fails when the set could not be put back exactly as it was (its owner cannot be known): checked
    /// before anything is stopped or written.
    fn can_put_back(&self) -> Result<()>;
    /// Puts the local copy back where it lives, verified.
    fn put_back(&self) -> LocalBoxFuture<'_, Result<()>>;
}

/// What runs the IdP. A stop window ([`crate::apply`]) drives it: [`Runtime::stop`], then only while the
/// stop holds ([`Runtime::check_held`]) is anything written, then [`Runtime::start_and_watch`].
pub trait Runtime {
    /// Its kind, as the report names it: `docker`, `podman`, `none`.
    fn kind(&self) -> &'static str;
    /// The endpoint it was reached at (`unix:///var/run/docker.sock`), when there is one.
    fn host(&self) -> Option<&str>;
    /// What runs the IdP, when something does (None: nothing is stopped or started).
    fn unit(&self) -> Option<&Unit>;
    /// How an operator starts it by hand (`docker start mgmt`).
    fn start_command(&self) -> Option<String>;
    /// How an operator reads its log (`docker logs mgmt`).
    fn logs_command(&self) -> Option<String>;

    /// Stops it when it may hold the store or start again by itself, and proves the stop holds; when it
    /// cannot be stopped, nothing is changed.
    fn stop(&mut self) -> LocalBoxFuture<'_, Result<()>>;
    /// This run stopped it (it was up, or looping, and was asked to stop).
    fn stopped_here(&self) -> bool;
    /// It was asked to stop and did not stay stopped: it runs (or loops) as before.
    fn stop_refused(&self) -> bool;
    /// Fails unless it is still in the run it was proven stopped in (nothing started it since).
    fn check_held(&self) -> LocalBoxFuture<'_, Result<()>>;
    /// Starts it again without watching, when this run stopped it (a backup).
    fn start_if_stopped_here(&self) -> LocalBoxFuture<'_, Result<()>>;
    /// Starts it and watches it for `wait` seconds: it must stay up, and the lines of this start must
    /// report no connector failure. `backup` is named when it did not stay up.
    fn start_and_watch(
        &self,
        wait: u64,
        backup: Option<String>,
    ) -> LocalBoxFuture<'_, Result<Started>>;
    /// Its state now, for the report.
    fn state_now(&self) -> LocalBoxFuture<'_, Option<State>>;
    /// What the lines of its last run say (None when there is nothing that logs).
    fn last_run(&self) -> LocalBoxFuture<'_, Result<Option<LogFindings>>>;
    /// Copies out the store at `inside` (a file, and the companions named after it with `companions`'
    /// suffixes) to a private place on this machine.
    fn fetch<'a>(
        &'a self,
        inside: &'a str,
        companions: &'a [&'a str],
    ) -> LocalBoxFuture<'a, Result<Box<dyn InsideSet>>>;
}
