//! The Docker Engine API, through bollard: the few calls ozrepair makes, with errors that name the engine.
//! The tool never shells out to the docker CLI and never pulls an image.
//!
//! Engines that speak the Docker API but not exactly Docker's words (Podman's `stopped` state, which
//! bollard's generated enums reject) must not break discovery, so the JSON answers ozrepair reads
//! (container list and inspect, volume inspect, version) and the logs (whose `since` bollard takes in whole
//! seconds only) are read as plain JSON or frames: each such request goes out through bollard as a call on
//! a placeholder container name, and the request modifier bollard offers rewrites its path to the one we
//! want before it is sent. Every transport bollard speaks (unix socket, tcp, TLS, our ssh tunnel) so carries
//! them, with bollard's own HTTP handling. A request the modifier did not see is an error, never a guess.
//!
//! Transient engine errors (a 5xx while a container crash-loops: `read /proc/PID/cgroup`,
//! `open /proc/PID/ns/mnt`) are retried a few times with a short pause.

use crate::logs::{LogLine, RunWindow, START_SLACK_NS};

/// Lines stamped this soon after the run before ended may still be that run's (drained late): a wider
/// look at a running container's lines starts no earlier ([`Container::run_before_ended`]).
pub const AFTER_END_NS: i128 = 500_000_000;
use crate::runtime::State;
use anyhow::{anyhow, bail, Result};
use bollard::query_parameters::{StartContainerOptions, StopContainerOptionsBuilder};
use bollard::{BollardRequest, Docker};
use futures_util::StreamExt;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// How long a request that meets transient engine errors (5xx, an empty archive) is tried again: a
/// crash-looping container's process may be gone by the time the engine looks into /proc for it, again and
/// again for a second or two on a busy machine.
const RETRY_FOR: Duration = Duration::from_secs(8);
/// A HEAD carries no message, so a 500 that lasts (Docker: a path under a file; Podman: a file mounted into
/// a container that is not running) cannot be told from a loop's race: it is tried for less long.
const STAT_RETRY_FOR: Duration = Duration::from_secs(3);
/// The pause after the n-th failed attempt: n times this, at most [`RETRY_PAUSE_MAX`].
const RETRY_PAUSE: Duration = Duration::from_millis(100);
const RETRY_PAUSE_MAX: Duration = Duration::from_millis(500);
/// How long a container with a restart policy is watched for a restart loop, and how often it is looked at:
/// first after [`LOOP_POLL_FIRST`], each pause half as long again, up to [`LOOP_POLL`]. A loop without
/// back-off (Podman) starts its next run a few hundred milliseconds after the last, and the sooner that is
/// seen, the sooner the stop begins; a container that is not looping costs about 20 looks in all.
const LOOP_LOOK: Duration = Duration::from_millis(1200);
const LOOP_POLL_FIRST: Duration = Duration::from_millis(10);
const LOOP_POLL: Duration = Duration::from_millis(100);
/// How often Podman's event log is read while ozrepair waits on what Podman does (a loop's next run in
/// [`Engine::settle`], a stop's outcome in the stop window): each read is a whole answer of what the log
/// holds (`stream=false`), 2 to 5 ms on a private 4.3 service. Not its events stream: Podman 4.3 (file
/// events backend) tails its log by polling it every 250 ms, so a stream hands events over in batches
/// 0 to 250 ms after they happen (measured: latencies 0.8 to 245 ms over 39 events of a loop, through
/// both its own `/libpod/events?stream=true` and the Docker-compatible `/events`), slower than a loop's
/// whole period (about 130 ms here).
pub const PODMAN_EVENTS_POLL: Duration = Duration::from_millis(15);
/// A run up this long is not part of a loop [`Engine::settle`] could see: a loop without back-off starts
/// again within a second or two (Podman), and Docker's back-off shows as `restarting`. Measured by this
/// machine's clock against the engine's StartedAt; a remote engine's clock that is behind by more than
/// this only skips the look (the stop window still proves its stop holds before any write).
const SETTLED_AFTER_NS: i128 = 10_000_000_000;

/// One connection to one Docker engine.
pub struct Engine {
    docker: Docker,
    /// The endpoint as the operator would write it (for reports).
    pub endpoint: String,
    routes: Arc<Routes>,
    facts: OnceLock<Facts>,
    kind: OnceLock<Kind>,
    /// The SSH tunnel an ssh:// endpoint goes through (closed with the engine).
    _tunnel: Option<crate::runtime::docker::endpoint::Tunnel>,
}

/// Which engine answers: what it reports differently follows from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavour {
    Docker,
    /// Podman's Docker-compatible service: archive tar headers carry the container user's uid/gid, not the
    /// file owner's; restarts without back-off; `stopped` for `exited`.
    Podman,
}

/// Which engine answers (quick to ask: see [`Engine::kind`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kind {
    pub flavour: Flavour,
}

/// What the engine says of itself (`/version`, `/info`), asked once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    pub flavour: Flavour,
    /// The engine runs in a user namespace: host uids of its volumes are shifted from the container's.
    pub rootless: bool,
    /// A rootless engine's user namespace, when it says it (Podman's `host.idMappings`).
    pub ids: Option<IdMaps>,
    /// Podman's version, which its own `/libpod/` paths need.
    pub podman: Option<String>,
}

/// One range of a user namespace's id map: container ids `container..container+size` are host ids
/// `host..host+size`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdRange {
    pub container: u64,
    pub host: u64,
    pub size: u64,
}

/// A user namespace's uid and gid maps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdMaps {
    pub uid: Vec<IdRange>,
    pub gid: Vec<IdRange>,
}

/// The container id that host id `host` is in `map`, if the map covers it.
fn to_container(map: &[IdRange], host: u64) -> Option<u64> {
    map.iter().find_map(|r| {
        let off = host.checked_sub(r.host)?;
        (off < r.size)
            .then(|| r.container.checked_add(off))
            .flatten()
    })
}

impl IdMaps {
    /// Podman's `host.idMappings` (`{"uidmap": [{"container_id", "host_id", "size"}], "gidmap": …}`).
    fn of_libpod_info(info: &Value) -> Option<IdMaps> {
        let map = |key: &str| -> Option<Vec<IdRange>> {
            info["host"]["idMappings"][key]
                .as_array()?
                .iter()
                .map(|r| {
                    Some(IdRange {
                        container: r["container_id"].as_u64()?,
                        host: r["host_id"].as_u64()?,
                        size: r["size"].as_u64()?,
                    })
                })
                .collect::<Option<Vec<_>>>()
                .filter(|m| !m.is_empty())
        };
        Some(IdMaps {
            uid: map("uidmap")?,
            gid: map("gidmap")?,
        })
    }
}

impl Facts {
    /// The engine's tar headers tell a file's real owner (Docker's do; Podman's name the container user).
    pub fn tar_owners_trusted(&self) -> bool {
        self.flavour == Flavour::Docker
    }

    /// The uid and gid the container sees for a volume's file owned by `uid`:`gid` on the engine's host:
    /// the same on a rootful engine, mapped back through the user namespace on a rootless one; `Err` says
    /// why they cannot be known.
    pub fn container_owner(&self, uid: u64, gid: u64) -> Result<(u64, u64), &'static str> {
        if !self.rootless {
            return Ok((uid, gid));
        }
        let Some(ids) = &self.ids else {
            return Err("the engine is rootless and does not say its user namespace's id map, so the uids of its volume's files on this machine cannot be turned into the container's");
        };
        match (to_container(&ids.uid, uid), to_container(&ids.gid, gid)) {
            (Some(u), Some(g)) => Ok((u, g)),
            _ => Err("the owner of the volume's file on this machine is outside the rootless engine's user namespace"),
        }
    }
}

/// The version of the Podman engine a version answer names (`Components[Name=Podman Engine].Version`).
fn podman_version(version: &Value) -> Option<&str> {
    version["Components"].as_array()?.iter().find(|c| {
        c["Name"]
            .as_str()
            .is_some_and(|n| n.to_ascii_lowercase().contains("podman"))
    })?["Version"]
        .as_str()
        .filter(|v| !v.is_empty())
}

/// Whether Docker's info answer (`GET /info`) says the engine is rootless.
fn rootless_of(info: &Value) -> bool {
    info["SecurityOptions"].as_array().is_some_and(|o| {
        o.iter()
            .any(|s| s.as_str().is_some_and(|s| s.contains("name=rootless")))
    })
}

/// What ozrepair needs to know about a container.
#[derive(Debug, Clone)]
pub struct Container {
    pub id: String,
    pub name: String,
    pub image: String,
    pub status: State,
    pub started_at: String,
    /// `State.FinishedAt`: while it runs, when the run before this one ended (zero time: never).
    pub finished_at: String,
    pub restart_count: i64,
    pub exit_code: i64,
    /// `HostConfig.RestartPolicy.Name`: "" or "no" when the engine never restarts it by itself.
    pub restart_policy: String,
    /// `Config.User` (the container's user; "" for the image's default). Read from every inspect answer
    /// (its parse is tested) though no step decides by it yet.
    #[allow(dead_code)]
    pub user: String,
    pub labels: HashMap<String, String>,
    pub mounts: Vec<Mount>,
    /// `Config.Env` (`KEY=value`): what Dex expands in its `storage:` settings.
    pub env: Vec<String>,
    /// `Path` and `Args`: the command it runs (its `--config`).
    pub command: Vec<String>,
    /// `HostConfig.NetworkMode` (`host`: it shares this machine's network).
    pub network_mode: String,
    /// Its networks: name, address and the names it answers to there.
    pub networks: Vec<Network>,
    /// Set by [`Engine::settle`] when it saw the container start again by itself.
    pub loop_seen: Option<LoopSeen>,
}

/// One lifecycle event of a container: what happened (`died`, `cleanup`, `restart`, `init`, `start`,
/// …) and when (Unix time, ns).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lifecycle {
    pub action: String,
    pub at_ns: i128,
}

/// How far before the inspected run's start [`Engine::settle`] reads Podman's event log.
const LOOP_HISTORY_NS: i128 = 5_000_000_000;

/// Whether Podman's events show a restart loop around the run inspected, which started at
/// `run_started_ns`, and if so when a run of the loop that has ended started (the earliest run whose
/// lines the diagnosis reads). A restart by the policy is a `died` followed by a `start` with no
/// `cleanup` in between: Podman 4.3 restarts a container inside the cleanup that follows its death,
/// before that cleanup is logged (a loop logs `died`, `restart`, `init`, `start`, `died`, …), while a
/// stop, anyone's, logs `cleanup` after the death, before the lock it holds lets anyone start it again.
/// A loop is seen when the run inspected died and was restarted (that run, then), or when the run
/// inspected was itself a restart by the policy and so was the run before it (the run before, which
/// has ended). The next run's `start` is waited for, not
/// Podman's `restart`: the run that died has then had all its lines written (Podman logs the death
/// before the last lines of the run are in its log), which the diagnosis reads.
pub fn podman_loop_seen(events: &[Lifecycle], run_started_ns: i128) -> Option<i128> {
    // The run inspected (or a later one) died and the container started again.
    let mut died = false;
    for l in events.iter().filter(|l| l.at_ns >= run_started_ns) {
        match l.action.as_str() {
            "died" => died = true,
            "cleanup" => died = false,
            "start" if died => return Some(run_started_ns),
            _ => {}
        }
    }
    // The run inspected was started after the death of the run before it with no cleanup between (its
    // own `start` may not be logged yet: Podman logs it a few ms after the StartedAt that inspect gives),
    // and so was the run before it.
    let before: Vec<&Lifecycle> = events.iter().filter(|l| l.at_ns < run_started_ns).collect();
    let last = |list: &[&Lifecycle], action: &str| list.iter().rposition(|l| l.action == action);
    let died = last(&before, "died")?;
    let cleaned = |from: usize, to: usize| before[from..to].iter().any(|l| l.action == "cleanup");
    if cleaned(died, before.len()) {
        return None;
    }
    let started = last(&before[..died], "start")?;
    let died_before = last(&before[..started], "died")?;
    if cleaned(died_before, started) {
        return None;
    }
    Some(before[started].at_ns)
}

/// What Podman's events say of a container being stopped, read at one moment (its last death and what
/// followed it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopSeen {
    /// No run died in the events read.
    Nothing,
    /// The last run died, and nothing followed yet: Podman's cleanup (which restarts it or not) is to come.
    Died,
    /// The last run that died was started again (`restart`, `init` or `start` after its death): the loop
    /// goes on, or someone started it.
    Restarted,
    /// The last run that died was cleaned up, and nothing started it since: the first `cleanup`'s stamp
    /// (ns), and how many cleanups were logged after the death. Podman logs `cleanup` only when a
    /// cleanup did not restart the container (it restarts before it cleans up).
    CleanedUp { at: i128, cleanups: usize },
}

/// [`StopSeen`] of the events read (oldest first).
pub fn podman_stop_seen(events: &[Lifecycle]) -> StopSeen {
    let Some(died) = events.iter().rposition(|l| l.action == "died") else {
        return StopSeen::Nothing;
    };
    let after = &events[died + 1..];
    if after
        .iter()
        .any(|l| matches!(l.action.as_str(), "restart" | "init" | "start"))
    {
        return StopSeen::Restarted;
    }
    let mut cleanups = after.iter().filter(|l| l.action == "cleanup");
    match cleanups.next() {
        Some(c) => StopSeen::CleanedUp {
            at: c.at_ns,
            cleanups: 1 + cleanups.count(),
        },
        None => StopSeen::Died,
    }
}

/// A restart loop seen across two looks at a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoopSeen {
    /// The StartedAt of the earlier run seen (it has ended: the container started again since, so its
    /// lines are all in the log; those of the run under way or just ended may not all be yet, as Podman
    /// records the exit before its last lines are written).
    pub earlier_start: String,
}

impl Container {
    /// The lines that tell why the container is as it is: those of its current run; in a restart loop,
    /// from the earlier run seen on (a run that has ended and whose lines are all written, then the ones
    /// since: the current run may not have failed yet, or not have had its last lines written). A
    /// container never started has no window.
    pub fn diagnosed_run(&self) -> RunWindow {
        let at = |s: &str| {
            crate::timefmt::parse_rfc3339(s)
                .filter(|n| *n > 0)
                .map(|n| n - START_SLACK_NS)
        };
        let current = at(&self.started_at);
        let earlier = self.loop_seen.as_ref().and_then(|l| at(&l.earlier_start));
        RunWindow {
            since: match (earlier, current) {
                (Some(e), Some(c)) => Some(e.min(c)),
                (e, c) => e.or(c),
            },
        }
    }

    /// While it runs: when the run before this one ended (`State.FinishedAt`; i128::MIN when it never
    /// ran before), None when that cannot be told (no FinishedAt, or one after this run's start).
    pub fn run_before_ended(&self) -> Option<i128> {
        let started = crate::timefmt::parse_rfc3339(&self.started_at)?;
        match crate::timefmt::parse_rfc3339(&self.finished_at)? {
            f if f <= 0 => Some(i128::MIN),
            f if f < started => Some(f),
            _ => None,
        }
    }

    /// Reads a container inspect answer (`GET /containers/{id}/json`) without failing on words this build
    /// does not know: a missing field reads as empty, an unknown state as [`State::Other`].
    pub fn from_inspect(v: &Value) -> Container {
        let s = |v: &Value| v.as_str().unwrap_or_default().to_string();
        let state = &v["State"];
        let config = &v["Config"];
        let mut status = State::parse(state["Status"].as_str().unwrap_or_default());
        if state["Restarting"].as_bool() == Some(true) {
            status = State::Restarting;
        }
        let labels = config["Labels"]
            .as_object()
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                    .collect()
            })
            .unwrap_or_default();
        let mounts = v["Mounts"]
            .as_array()
            .map(|ms| {
                ms.iter()
                    .filter_map(|m| {
                        Some(Mount {
                            kind: MountKind::parse(m["Type"].as_str().unwrap_or_default()),
                            name: m["Name"]
                                .as_str()
                                .filter(|n| !n.is_empty())
                                .map(String::from),
                            source: m["Source"].as_str().filter(|s| !s.is_empty())?.to_string(),
                            destination: s(&m["Destination"]),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        let strings = |v: &Value| -> Vec<String> {
            v.as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default()
        };
        let mut command: Vec<String> = v["Path"].as_str().map(String::from).into_iter().collect();
        command.extend(strings(&v["Args"]));
        let networks = v["NetworkSettings"]["Networks"]
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(name, n)| Network {
                        name: name.clone(),
                        ip: s(&n["IPAddress"]),
                        aliases: strings(&n["Aliases"])
                            .into_iter()
                            .chain(strings(&n["DNSNames"]))
                            .collect(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        Container {
            env: strings(&config["Env"]),
            command,
            network_mode: s(&v["HostConfig"]["NetworkMode"]),
            networks,
            id: s(&v["Id"]),
            name: s(&v["Name"]).trim_start_matches('/').to_string(),
            image: s(&config["Image"]),
            status,
            started_at: s(&state["StartedAt"]),
            finished_at: s(&state["FinishedAt"]),
            restart_count: v["RestartCount"].as_i64().unwrap_or(0),
            exit_code: state["ExitCode"].as_i64().unwrap_or(0),
            restart_policy: s(&v["HostConfig"]["RestartPolicy"]["Name"]),
            user: s(&config["User"]),
            labels,
            mounts,
            loop_seen: None,
        }
    }

    /// The engine restarts it by itself when it exits (a restart policy other than "no").
    pub fn restarts_by_itself(&self) -> bool {
        !matches!(self.restart_policy.as_str(), "" | "no")
    }
}

/// `later` is another run of the container than `earlier`: it was started again in between (a restart
/// count that grew, or another StartedAt).
pub fn started_again(earlier: &Container, later: &Container) -> bool {
    later.restart_count > earlier.restart_count
        || (!later.started_at.is_empty() && later.started_at != earlier.started_at)
}

/// What kind of mount: a named volume, a bind mount, or something ozrepair does not look into (tmpfs…).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MountKind {
    Volume,
    Bind,
    Other(String),
}

impl MountKind {
    fn parse(word: &str) -> MountKind {
        match word {
            "volume" => MountKind::Volume,
            "bind" => MountKind::Bind,
            other => MountKind::Other(other.to_string()),
        }
    }
}

/// A network a container is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Network {
    pub name: String,
    /// Its IPv4 address there ("" when it has none).
    pub ip: String,
    /// The names it answers to there (compose's service name among them).
    pub aliases: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Mount {
    pub kind: MountKind,
    /// The volume's name (volumes only).
    pub name: Option<String>,
    /// Where the data is on the engine's host.
    pub source: String,
    /// Where the container sees it.
    pub destination: String,
}

/// Which lines of a container's log to read.
#[derive(Debug, Clone, Copy)]
pub enum LogRange {
    /// The last N lines.
    Tail(usize),
    /// The last line, read for its stamp only: asked with `tail=1` on both engines (Podman's tail may
    /// give it another line's text, never another stamp), not the whole log of a long loop.
    LastStamp,
    /// Every line the engine stamped at or after this instant (nanoseconds since the epoch), at most the
    /// last N of them.
    Since(i128, Option<usize>),
    /// The lines of a run window, at most the last N of them.
    Window(RunWindow, usize),
}

/// What the archive API's HEAD says about a path (`X-Docker-Container-Path-Stat`).
#[derive(Debug, Clone, Copy)]
pub struct PathStat {
    /// Go's os.ModeDir is set.
    pub is_dir: bool,
}

/// How long the container's current run has been up by this machine's clock (None when its StartedAt
/// cannot be read).
fn up_for_ns(c: &Container) -> Option<i128> {
    let started = crate::timefmt::parse_rfc3339(&c.started_at)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_nanos() as i128;
    Some(now - started)
}

/// The libpod API version that Podman's own paths (events, logs) are asked under (Podman 3
/// and later serve it: the version in a path is not held to a minimum).
const LIBPOD_API: &str = "3.0.0";

/// Go's os.ModeDir in a path stat's mode.
const GO_MODE_DIR: u32 = 1 << 31;

/// An engine's answer that is not a success.
enum Failure {
    /// The engine answered with this status.
    Status(u16, String),
    /// It could not be reached at all: its socket or port refused, is not there, or may not be opened
    /// (the system's words for it).
    Unreachable(std::io::ErrorKind, String),
    /// No answer (or one that could not be read).
    Other(String),
}

/// The engine could not be reached at all: what happened, and what to do (the caller says the state).
#[derive(Debug)]
pub struct Unreachable {
    pub what: String,
    pub next: &'static str,
}

impl std::fmt::Display for Unreachable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}; {}", self.what, self.next)
    }
}

impl std::error::Error for Unreachable {}

/// An error of a request made before anything was done: an [`Unreachable`] engine said with the state
/// (nothing was changed) before the next step; any other error as it is.
pub fn before_anything(e: anyhow::Error) -> anyhow::Error {
    match e.downcast::<Unreachable>() {
        Ok(u) => anyhow!("{}; nothing was changed; {}", u.what, u.next),
        Err(e) => e,
    }
}

impl Failure {
    fn of(e: bollard::errors::Error) -> Failure {
        match e {
            bollard::errors::Error::DockerResponseServerError {
                status_code,
                message,
            } => Failure::Status(
                status_code,
                message.split_whitespace().collect::<Vec<_>>().join(" "),
            ),
            e => {
                // The system's error under the client library's layers (hyper's "client error
                // (Connect)" says nothing to an operator).
                let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&e);
                while let Some(c) = cause {
                    if let Some(io) = c.downcast_ref::<std::io::Error>() {
                        use std::io::ErrorKind as K;
                        if matches!(
                            io.kind(),
                            K::ConnectionRefused | K::PermissionDenied | K::NotFound
                        ) {
                            return Failure::Unreachable(io.kind(), crate::verdict::io_words(io));
                        }
                    }
                    cause = c.source();
                }
                Failure::Other(e.to_string())
            }
        }
    }

    /// Worth another try: the engine failed inside (5xx), e.g. reading /proc of a process that just exited.
    fn transient(&self) -> bool {
        matches!(self, Failure::Status(s, _) if *s >= 500)
    }
}

/// The requests waiting to be rewritten, by placeholder number.
#[derive(Default)]
struct Routes {
    next: AtomicU64,
    pending: Mutex<HashMap<u64, String>>,
}

/// The container name a rerouted request is issued on; the modifier replaces the request's path.
const PLACEHOLDER: &str = "ozrepair-raw-";

/// (everything before `/containers/<placeholder>`, the placeholder's number) of a request URI made for a
/// placeholder, e.g. `unix://<hex>/containers/ozrepair-raw-7/export` -> (`unix://<hex>`, 7). bollard 0.21
/// sends its paths without an API version (the versioned base is replaced when it joins the absolute
/// path), so the rerouted paths go unversioned too, like every other call; Podman's own `/libpod/` paths
/// need one and name it.
fn placeholder_of(uri: &str) -> Option<(&str, u64)> {
    let marker = format!("/containers/{PLACEHOLDER}");
    let at = uri.find(&marker)?;
    let rest = &uri[at + marker.len()..];
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 || !matches!(rest.as_bytes().get(digits), Some(b'/') | Some(b'?') | None) {
        return None;
    }
    Some((&uri[..at], rest[..digits].parse().ok()?))
}

impl Routes {
    fn reroute(&self, mut req: BollardRequest) -> BollardRequest {
        let uri = req.uri().to_string();
        if let Some((prefix, n)) = placeholder_of(&uri) {
            let path = self.pending.lock().ok().and_then(|mut p| p.remove(&n));
            if let Some(path) = path {
                if let Ok(u) = format!("{prefix}{path}").parse() {
                    *req.uri_mut() = u;
                }
            }
        }
        req
    }

    fn add(&self, path: String) -> u64 {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut p) = self.pending.lock() {
            p.insert(n, path);
        }
        n
    }

    /// Whether request `n` was never sent (its route is still waiting); forgets it either way.
    fn unsent(&self, n: u64) -> bool {
        self.pending
            .lock()
            .map(|mut p| p.remove(&n).is_some())
            .unwrap_or(true)
    }
}

/// Percent-encodes one path segment or query value (a name given by the operator stays one segment).
fn enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The path of a logs request for `range`, and how many of the last lines read are kept here (None: all).
/// On Podman:
/// - its own path (`/libpod/…/logs`): the compatible one inspects the container first (to know whether it
///   has a terminal), which waits for the container's lock, held by Podman's cleanup for most of a
///   restart loop's period; its own path does not, and always frames the lines (bollard reads either);
/// - `tail` is never asked for lines it reads (only for [`LogRange::LastStamp`]): Podman 4.3 reads a
///   k8s-file log backwards for it and joins each partial record to the line before it instead of the
///   one it starts (libpod/logs `getTailLog`; seen as Dex's `{"msg":"loading embedded IdP storage"}`
///   `{"msg":"listening on"}` read as one line and an empty one, when conmon read the JSON and its
///   newline apart), so its lines are read forwards and cut here.
fn logs_request(id: &str, range: LogRange, podman: bool) -> (String, Option<usize>) {
    let mut q = if podman {
        format!("/v{LIBPOD_API}/libpod/containers/{}/logs?", enc(id))
    } else {
        format!("/containers/{}/logs?", enc(id))
    };
    q.push_str("stdout=1&stderr=1&timestamps=1");
    let (since, tail) = match range {
        LogRange::LastStamp => {
            q.push_str("&tail=1");
            return (q, None);
        }
        LogRange::Tail(n) => (None, Some(n)),
        LogRange::Since(ns, tail) => (Some(ns), tail),
        LogRange::Window(w, n) => (w.since, Some(n)),
    };
    if let Some(s) = since {
        q.push_str(&format!("&since={}", crate::timefmt::api_seconds(s)));
    }
    match tail {
        Some(n) if !podman => {
            q.push_str(&format!("&tail={n}"));
            (q, None)
        }
        tail => {
            q.push_str("&tail=all");
            (q, tail)
        }
    }
}

/// Splits one log entry into lines with the engine's timestamp. A partial record (Docker cuts lines over
/// 16 KiB, conmon writes what one read of the pipe got) stays a line of its own: the scanner joins a cut
/// line's pieces by what they say (`logs::joined_record`), and a record a stop cut short is never glued
/// to the next run's first line.
fn push_lines(out: &mut Vec<LogLine>, bytes: &[u8]) {
    for l in String::from_utf8_lossy(bytes)
        .lines()
        .filter(|l| !l.is_empty())
    {
        out.push(match l.split_once(' ') {
            Some((t, rest)) if t.len() >= 20 && t.as_bytes()[4] == b'-' => LogLine {
                time: t.to_string(),
                text: rest.to_string(),
            },
            _ => LogLine {
                time: String::new(),
                text: l.to_string(),
            },
        });
    }
}

/// The ids in a container list answer (`GET /containers/json`).
fn ids_of(list: &Value) -> Vec<String> {
    list.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|c| c["Id"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// Which engine a version answer (`GET /version`) comes from.
fn flavour_of(version: &Value) -> Flavour {
    let podman = version["Components"].as_array().is_some_and(|cs| {
        cs.iter().any(|c| {
            c["Name"]
                .as_str()
                .is_some_and(|n| n.to_ascii_lowercase().contains("podman"))
        })
    }) || version["Platform"]["Name"]
        .as_str()
        .is_some_and(|n| n.to_ascii_lowercase().contains("podman"));
    if podman {
        Flavour::Podman
    } else {
        Flavour::Docker
    }
}

impl Engine {
    /// `host`: unix://, tcp:// or http://; None means $DOCKER_HOST, else the local socket.
    pub fn connect(host: Option<&str>) -> Result<Engine> {
        let r = crate::runtime::docker::endpoint::resolve(host)?;
        let h = r.url.as_str();
        let unreachable = |e: bollard::errors::Error| {
            let why = match e {
                bollard::errors::Error::SocketNotFoundError(_) => "no such socket".to_string(),
                e => e.to_string(),
            };
            anyhow!("cannot connect to the Docker engine at {h}: {why}; nothing was changed; start the engine, or point -H or $DOCKER_HOST at the engine that runs the deployment")
        };
        let (docker, tunnel) = if h.starts_with("ssh://") {
            let t = crate::runtime::docker::endpoint::ssh_tunnel(h)?;
            let d = Docker::connect_with_unix(
                &t.socket.to_string_lossy(),
                120,
                bollard::API_DEFAULT_VERSION,
            )
            .map_err(unreachable)?;
            (d, Some(t))
        } else if ["unix://", "tcp://", "http://", "https://"]
            .iter()
            .any(|p| h.starts_with(p))
        {
            (Docker::connect_with_host(h).map_err(unreachable)?, None)
        } else {
            bail!("Docker endpoint {h:?} is not one this build speaks (unix://, tcp://, https://, ssh://); nothing was changed");
        };
        let routes = Arc::new(Routes::default());
        let r2 = Arc::clone(&routes);
        let docker = docker.with_request_modifier(move |req| r2.reroute(req));
        tracing::debug!(endpoint = h, from = %r.from, "docker endpoint");
        Ok(Engine {
            docker,
            endpoint: r.url,
            routes,
            facts: OnceLock::new(),
            kind: OnceLock::new(),
            _tunnel: tunnel,
        })
    }

    /// The host and key type whose ssh host key `--ssh-accept-new` trusted for the first time in this
    /// run (an ssh:// endpoint only).
    pub fn ssh_accepted(&self) -> Option<&str> {
        self._tunnel.as_ref()?.accepted.as_deref()
    }

    /// An engine error as one line: a refusal quotes the engine, anything else means it did not answer.
    fn unreachable(&self, e: bollard::errors::Error) -> anyhow::Error {
        self.failed(Failure::of(e))
    }

    fn failed(&self, f: Failure) -> anyhow::Error {
        match f {
            Failure::Status(status_code, message) => anyhow!(
                "the Docker engine at {} refused the request ({status_code}: {message})",
                self.endpoint
            ),
            Failure::Unreachable(kind, words) => anyhow::Error::new(Unreachable {
                what: format!("cannot connect to the Docker engine at {}: {words}", self.endpoint),
                next: match kind {
                    std::io::ErrorKind::PermissionDenied => "run ozrepair as root, or as a user in the group that owns the engine's socket (docker)",
                    _ => "start the engine, or point -H or $DOCKER_HOST at the engine that runs the deployment",
                },
            }),
            Failure::Other(e) => anyhow!(
                "the Docker engine at {} does not answer ({e}); start the engine or point -H/--host at the right one",
                self.endpoint
            ),
        }
    }

    /// Sends `attempt` until it succeeds or fails for good (anything but a transient error), for at most
    /// [`RETRY_FOR`].
    async fn retried<T, F, Fut>(&self, attempt: F) -> Result<T, Failure>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, Failure>>,
    {
        self.retried_for(RETRY_FOR, attempt).await
    }

    /// [`Engine::retried`] for at most `budget`.
    async fn retried_for<T, F, Fut>(&self, budget: Duration, mut attempt: F) -> Result<T, Failure>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, Failure>>,
    {
        let end = Instant::now() + budget;
        let mut n: u32 = 1;
        loop {
            match attempt().await {
                Err(f) if f.transient() && Instant::now() < end => {
                    tracing::debug!(engine = %self.endpoint, attempt = n, "transient engine error; retrying");
                    tokio::time::sleep((RETRY_PAUSE * n).min(RETRY_PAUSE_MAX)).await;
                    n += 1;
                }
                other => return other,
            }
        }
    }

    /// One GET of `path` (with its query) through bollard, its body as it came.
    async fn get_raw(&self, path: &str) -> Result<Vec<u8>, Failure> {
        let n = self.routes.add(path.to_string());
        let mut stream = self.docker.export_container(&format!("{PLACEHOLDER}{n}"));
        let mut out = Vec::new();
        let mut failed = None;
        while let Some(chunk) = stream.next().await {
            match chunk {
                Ok(b) => out.extend_from_slice(&b),
                Err(e) => {
                    failed = Some(Failure::of(e));
                    break;
                }
            }
        }
        if self.routes.unsent(n) {
            return Err(Failure::Other(format!(
                "the request for {path} could not be routed through this build's Docker client"
            )));
        }
        match failed {
            Some(f) => Err(f),
            None => Ok(out),
        }
    }

    async fn get_json(&self, path: &str) -> Result<Value, Failure> {
        let body = self.retried(|| self.get_raw(path)).await?;
        serde_json::from_slice(&body)
            .map_err(|e| Failure::Other(format!("its answer to GET {path} is not JSON ({e})")))
    }

    pub async fn ping(&self) -> Result<()> {
        self.docker
            .ping()
            .await
            .map(|_| ())
            .map_err(|e| self.unreachable(e))
    }

    /// What the engine says of itself (asked once; an engine that does not say is taken for a rootful
    /// Docker).
    pub async fn facts(&self) -> Facts {
        if let Some(f) = self.facts.get() {
            return f.clone();
        }
        let version = self.get_json("/version").await.ok();
        let flavour = version.as_ref().map(flavour_of).unwrap_or(Flavour::Docker);
        let podman = (flavour == Flavour::Podman).then(|| {
            version
                .as_ref()
                .and_then(podman_version)
                .unwrap_or("4.0.0")
                .to_string()
        });
        let rootless = match flavour {
            // Podman's Docker-compatible /info does not say it; its own /libpod/info does, under the
            // version Podman reports (it answers 404 without one). Not said: taken as rootless, so that
            // host uids are never trusted by mistake.
            Flavour::Podman => {
                let v = podman.as_deref().unwrap_or("4.0.0");
                match self.get_json(&format!("/v{}/libpod/info", enc(v))).await {
                    Ok(info) => (
                        info["host"]["security"]["rootless"].as_bool() != Some(false),
                        IdMaps::of_libpod_info(&info),
                    ),
                    Err(f) => {
                        tracing::debug!(engine = %self.endpoint, "libpod info: {:#}", self.failed(f));
                        (true, None)
                    }
                }
            }
            Flavour::Docker => match self.get_json("/info").await {
                Ok(v) => (rootless_of(&v), None),
                Err(_) => (false, None),
            },
        };
        let (rootless, ids) = rootless;
        let f = Facts {
            flavour,
            rootless,
            ids,
            podman,
        };
        tracing::debug!(engine = %self.endpoint, ?f, "engine facts");
        self.facts.get_or_init(|| f).clone()
    }

    /// Which engine this is (asked once; an engine that does not say is taken for Docker). Podman
    /// answers its own `/libpod/_ping` at once, Docker says 404; `/version` would tell too, but Podman
    /// takes a second or two for it while it looks at the host (1.5 s measured on 4.3.1), and it is
    /// asked only where the version matters (`facts`).
    pub async fn kind(&self) -> Kind {
        if let Some(k) = self.kind.get() {
            return k.clone();
        }
        let flavour = match self.get_raw("/libpod/_ping").await {
            Ok(body) if body.trim_ascii() == b"OK" => Flavour::Podman,
            _ => Flavour::Docker,
        };
        let k = Kind { flavour };
        self.kind.get_or_init(|| k).clone()
    }

    /// Every container in any state, by id.
    pub async fn container_ids(&self) -> Result<Vec<String>> {
        let list = self
            .get_json("/containers/json?all=1")
            .await
            .map_err(|f| self.failed(f))?;
        Ok(ids_of(&list))
    }

    /// Inspects a container by name or id; Ok(None) when there is no such container. A transient engine
    /// error is retried a few times before it is returned.
    pub async fn container(&self, name_or_id: &str) -> Result<Option<Container>> {
        tracing::debug!(engine = %self.endpoint, container = name_or_id, "inspect container");
        match self
            .get_json(&format!("/containers/{}/json", enc(name_or_id)))
            .await
        {
            Ok(v) => Ok(Some(Container::from_inspect(&v))),
            Err(Failure::Status(404, _)) => Ok(None),
            Err(f) => Err(self.failed(f)),
        }
    }

    /// Looks at a container again for a moment when its engine may restart it by itself: a restart count
    /// or StartedAt that changes means a restart loop, and the container is returned as
    /// [`State::Restarting`] (Podman restarts without back-off and reports `running` or `stopped`,
    /// never `restarting`). Otherwise the latest look is returned.
    pub async fn settle(&self, first: Container) -> Result<Container> {
        if !first.restarts_by_itself()
            || matches!(
                first.status,
                State::Restarting | State::Paused | State::Dead
            )
        {
            return Ok(first);
        }
        if first.status == State::Running && up_for_ns(&first) >= Some(SETTLED_AFTER_NS) {
            return Ok(first);
        }
        let end = Instant::now() + LOOP_LOOK;
        if self.kind().await.flavour == Flavour::Podman {
            if let Some(settled) = self.podman_settle(&first, end).await? {
                return Ok(settled);
            }
        }
        let mut last = first.clone();
        let mut pause = LOOP_POLL_FIRST;
        while Instant::now() < end {
            tokio::time::sleep(pause).await;
            pause = (pause * 3 / 2).min(LOOP_POLL);
            match self.container(&first.id).await? {
                Some(now) => last = now,
                None => return Ok(last),
            }
            if started_again(&first, &last) {
                tracing::debug!(container = %first.name, from = first.restart_count, to = last.restart_count, "restart loop");
                last.loop_seen = Some(LoopSeen {
                    earlier_start: first.started_at.clone(),
                });
                last.status = State::Restarting;
                return Ok(last);
            }
        }
        Ok(last)
    }

    /// [`Engine::settle`] on Podman, from its event log ([`podman_loop_seen`]): the loop is seen in
    /// the log as it is when first read (the run inspected and the one before it were restarts by the
    /// policy), or as soon as Podman logs the next run's start after the death of the run inspected,
    /// instead of when an inspect happens to fall on the next run. None when the log cannot be read
    /// (then the inspects decide).
    async fn podman_settle(&self, first: &Container, end: Instant) -> Result<Option<Container>> {
        let Some(run) = crate::timefmt::parse_rfc3339(&first.started_at).filter(|n| *n > 0) else {
            return Ok(None);
        };
        loop {
            let Some(events) = self.podman_events(&first.id, run - LOOP_HISTORY_NS).await else {
                return Ok(None);
            };
            if let Some(earlier) = podman_loop_seen(&events, run) {
                // The look it was seen from, not a new one: an inspect waits for the container's lock,
                // which Podman's cleanup holds while it restarts the container (55 to 75 ms of a loop's
                // 85 to 95 ms here), and a new one would change neither the state (restarting) nor the
                // window of lines read (from the earlier run on).
                let mut looped = first.clone();
                tracing::debug!(container = %first.name, restarts = first.restart_count, "restart loop (Podman's events)");
                looped.loop_seen = Some(LoopSeen {
                    earlier_start: if earlier == run {
                        first.started_at.clone()
                    } else {
                        crate::timefmt::rfc3339_micros(earlier)
                    },
                });
                looped.status = State::Restarting;
                return Ok(Some(looped));
            }
            if Instant::now() >= end {
                return Ok(Some(
                    self.container(&first.id)
                        .await?
                        .unwrap_or_else(|| first.clone()),
                ));
            }
            tokio::time::sleep(PODMAN_EVENTS_POLL).await;
        }
    }

    /// The host path of a named volume (its Mountpoint).
    pub async fn volume_mountpoint(&self, name: &str) -> Result<Option<String>> {
        match self.get_json(&format!("/volumes/{}", enc(name))).await {
            Ok(v) => Ok(v["Mountpoint"].as_str().map(String::from)),
            Err(Failure::Status(404, _)) => Ok(None),
            Err(f) => Err(self.failed(f)),
        }
    }

    /// The lines of the run [`Container::diagnosed_run`] names (the last [`crate::logs::TAIL`] of them).
    pub async fn run_logs(&self, c: &Container) -> Result<Vec<LogLine>> {
        let w = c.diagnosed_run();
        let range = if w == RunWindow::default() {
            LogRange::Tail(crate::logs::TAIL)
        } else {
            LogRange::Window(w, crate::logs::TAIL)
        };
        self.logs(&c.id, range).await
    }

    /// The lines `range` selects of stdout and stderr, with timestamps, oldest first.
    pub async fn logs(&self, id: &str, range: LogRange) -> Result<Vec<LogLine>> {
        tracing::debug!(container = id, ?range, "read logs");
        let podman = self.kind().await.flavour == Flavour::Podman;
        let (path, keep) = logs_request(id, range, podman);
        let read = || async {
            let n = self.routes.add(path.clone());
            let mut stream = self.docker.logs(&format!("{PLACEHOLDER}{n}"), None);
            let mut out = Vec::new();
            // Each chunk is one frame of the engine's stream (one log entry, stdout or stderr): decoding them
            // one by one keeps an entry of one stream from being glued to the other's.
            let mut failed = None;
            while let Some(chunk) = stream.next().await {
                match chunk {
                    Ok(c) => push_lines(&mut out, &c.into_bytes()),
                    Err(e) => {
                        failed = Some(Failure::of(e));
                        break;
                    }
                }
            }
            if self.routes.unsent(n) {
                return Err(Failure::Other(
                    "the logs request could not be routed through this build's Docker client"
                        .into(),
                ));
            }
            match failed {
                Some(f) => Err(f),
                None => {
                    if let Some(n) = keep {
                        out.drain(..out.len().saturating_sub(n));
                    }
                    Ok(out)
                }
            }
        };
        self.retried(read).await.map_err(|f| self.failed(f))
    }

    /// The tar stream of `path` in the container (running or stopped); Ok(None) when there is no such path.
    /// An empty answer is an error (an engine that cannot reach a crash-looping container's files may
    /// answer 200 with nothing): it is retried, and never taken for an empty file.
    pub async fn download(&self, id: &str, path: &str) -> Result<Option<Vec<u8>>> {
        tracing::debug!(container = id, path, "archive download");
        let once = || async {
            let opts = bollard::query_parameters::DownloadFromContainerOptionsBuilder::default()
                .path(path)
                .build();
            let mut stream = self.docker.download_from_container(id, Some(opts));
            let mut out = Vec::new();
            while let Some(chunk) = stream.next().await {
                out.extend_from_slice(&chunk.map_err(Failure::of)?);
            }
            if out.is_empty() {
                return Err(Failure::Status(
                    500,
                    "the engine returned an empty archive".into(),
                ));
            }
            Ok(out)
        };
        match self.retried(once).await {
            Ok(b) => Ok(Some(b)),
            Err(Failure::Status(404, _)) => Ok(None),
            Err(f) => Err(anyhow!(
                "{} when copying {path} out of the container",
                self.failed(f)
            )),
        }
    }

    /// What the archive API says of `path` in the container (HEAD: no content is copied); Ok(None) when
    /// there is no such path.
    pub async fn stat(&self, id: &str, path: &str) -> Result<Option<PathStat>> {
        let once = || async {
            let opts = bollard::query_parameters::ContainerArchiveInfoOptionsBuilder::default()
                .path(path)
                .build();
            self.docker
                .get_container_archive_info(id, Some(opts))
                .await
                .map_err(Failure::of)
        };
        match self.retried_for(STAT_RETRY_FOR, once).await {
            Ok(s) => Ok(Some(PathStat {
                is_dir: s.file_mode & GO_MODE_DIR != 0,
            })),
            Err(Failure::Status(404, _)) => Ok(None),
            Err(f) => Err(anyhow!("{} when looking for {path}", self.failed(f))),
        }
    }

    /// Whether `path` exists in the container (archive HEAD: no content is copied).
    pub async fn exists(&self, id: &str, path: &str) -> Result<bool> {
        Ok(self.stat(id, path).await?.is_some())
    }

    /// Extracts a tar stream into directory `dir` of the container (the engine replaces existing files).
    pub async fn upload(&self, id: &str, dir: &str, tar: Vec<u8>) -> Result<()> {
        tracing::debug!(container = id, dir, bytes = tar.len(), "archive upload");
        let once = || async {
            let opts = bollard::query_parameters::UploadToContainerOptionsBuilder::default()
                .path(dir)
                .build();
            self.docker
                .upload_to_container(id, Some(opts), bollard::body_full(tar.clone().into()))
                .await
                .map_err(Failure::of)
        };
        self.retried(once).await.map_err(|f| self.failed(f))
    }

    /// A Podman container's lifecycle events since `since_ns` (Unix time, ns), oldest first, from
    /// Podman's own events API (`stream=false`: what its event log holds now, then the answer ends; the
    /// Docker-compatible one ignores `until` and would stream on). None when the engine is not Podman or
    /// does not answer: then nothing can be read from them.
    pub async fn podman_events(&self, id: &str, since_ns: i128) -> Option<Vec<Lifecycle>> {
        if self.kind().await.flavour != Flavour::Podman {
            return None;
        }
        let filters = enc(&format!(r#"{{"container":["{id}"],"type":["container"]}}"#));
        let path = format!(
            "/v{LIBPOD_API}/libpod/events?stream=false&since={}&filters={filters}",
            crate::timefmt::api_seconds(since_ns)
        );
        let body = match self.retried(|| self.get_raw(&path)).await {
            Ok(b) => b,
            Err(f) => {
                tracing::debug!(container = id, "podman events: {:#}", self.failed(f));
                return None;
            }
        };
        let mut out = Vec::new();
        for v in serde_json::Deserializer::from_slice(&body).into_iter::<Value>() {
            let v = v.ok()?;
            let action = v["Action"].as_str().or_else(|| v["status"].as_str())?;
            let at = v["timeNano"].as_i64()?;
            out.push(Lifecycle {
                action: action.to_string(),
                at_ns: i128::from(at),
            });
        }
        out.sort_by_key(|l| l.at_ns);
        Some(out)
    }

    /// Asks the engine to stop the container (SIGTERM, then SIGKILL after `grace` seconds). An engine may
    /// answer "already stopped" while its restart policy starts the container again: the stop window
    /// proves the stop holds.
    pub async fn stop(&self, id: &str, grace: i32) -> Result<()> {
        tracing::debug!(container = id, grace, "stop container");
        let opts = StopContainerOptionsBuilder::default().t(grace).build();
        self.docker
            .stop_container(id, Some(opts))
            .await
            .map_err(|e| self.unreachable(e))
    }

    pub async fn start(&self, id: &str) -> Result<()> {
        tracing::debug!(container = id, "start container");
        self.docker
            .start_container(id, None::<StartContainerOptions>)
            .await
            .map_err(|e| self.unreachable(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::LATE_START_NS;

    #[test]
    fn a_widened_window_starts_earlier_and_a_window_without_start_stays_one() {
        let w = RunWindow {
            since: Some(5_000_000_000),
        };
        assert_eq!(w.widened(LATE_START_NS).since, Some(3_000_000_000));
        assert!(!w.admits("1970-01-01T00:00:04Z"));
        assert!(w.widened(LATE_START_NS).admits("1970-01-01T00:00:04Z"));
        assert_eq!(
            RunWindow::default().widened(LATE_START_NS),
            RunWindow::default()
        );
    }

    /// Events at the given ms.
    fn ev(list: &[(&str, i128)]) -> Vec<Lifecycle> {
        list.iter()
            .map(|(a, t)| Lifecycle {
                action: a.to_string(),
                at_ns: t * MS,
            })
            .collect()
    }

    const MS: i128 = 1_000_000;

    /// The events of a loop that a stop ended, and of stops answered while the loop went on (the orders
    /// and the spacing, in ms, that Podman 4.3.1 logged them in on this machine).
    #[test]
    fn podman_events_tell_a_stop_that_holds() {
        // The run started at 100 was stopped: it died, and both cleanups ran (the stop's and conmon's,
        // 0.6 to 53 ms apart).
        let held = ev(&[
            ("start", 100),
            ("died", 190),
            ("cleanup", 274),
            ("cleanup", 275),
        ]);
        assert_eq!(
            podman_stop_seen(&held),
            StopSeen::CleanedUp {
                at: 274 * MS,
                cleanups: 2
            }
        );
        assert_eq!(
            podman_stop_seen(&held[..3]),
            StopSeen::CleanedUp {
                at: 274 * MS,
                cleanups: 1
            },
            "one cleanup so far: the bound decides"
        );
        // A stop that the cleanup of the run it killed raced: the loop restarted it once more, and its
        // next run died by itself and was cleaned up.
        let raced = ev(&[
            ("init", 349),
            ("start", 362),
            ("died", 374),
            ("restart", 396),
            ("init", 466),
            ("start", 472),
            ("died", 477),
            ("cleanup", 519),
            ("cleanup", 520),
        ]);
        assert_eq!(
            podman_stop_seen(&raced),
            StopSeen::CleanedUp {
                at: 519 * MS,
                cleanups: 2
            }
        );
        assert_eq!(
            podman_stop_seen(&raced[..7]),
            StopSeen::Died,
            "its cleanup is to come"
        );
        assert_eq!(podman_stop_seen(&raced[..6]), StopSeen::Restarted);
        // Answered "already stopped" between two runs: died, restart, init, start, died, restart…
        let looped = ev(&[
            ("died", 160),
            ("restart", 170),
            ("init", 278),
            ("start", 290),
            ("died", 291),
            ("restart", 337),
        ]);
        assert_eq!(podman_stop_seen(&looped), StopSeen::Restarted);
        // Cleaned up, then started again (by someone): the stop does not hold.
        assert_eq!(
            podman_stop_seen(&ev(&[("died", 190), ("cleanup", 200), ("start", 300)])),
            StopSeen::Restarted
        );
        // The restart logged after a cleanup (not seen on 4.3, and what the bound waits for).
        assert_eq!(
            podman_stop_seen(&ev(&[("died", 190), ("cleanup", 200), ("restart", 230)])),
            StopSeen::Restarted
        );
        // A cleanup of an earlier death says nothing of the run that died since.
        assert_eq!(
            podman_stop_seen(&ev(&[
                ("died", 50),
                ("cleanup", 60),
                ("start", 100),
                ("died", 150)
            ])),
            StopSeen::Died
        );
        assert_eq!(podman_stop_seen(&ev(&[("start", 100)])), StopSeen::Nothing);
        assert_eq!(podman_stop_seen(&[]), StopSeen::Nothing);
    }

    /// A loop is seen from the log: a death of the run inspected (or a later one), then a start with no
    /// cleanup in between; or the run inspected and the one before it both started by the policy. Never
    /// from a stop and a start, nor from one restart before the run inspected.
    #[test]
    fn podman_events_tell_a_loop() {
        // Recorded on 4.3.1 (ms; StartedAt is 2 to 5.5 ms before the start logged).
        let looped = ev(&[
            ("init", 135),
            ("start", 143),
            ("died", 180),
            ("restart", 190),
            ("init", 263),
            ("start", 274),
            ("died", 308),
            ("restart", 314),
            ("init", 386),
            ("start", 398),
        ]);
        // The run inspected (started 272) died and the next one started: that run.
        assert_eq!(podman_loop_seen(&looped, 272 * MS), Some(272 * MS));
        // The same log read before the next start: the run inspected was a restart, and so was the
        // one before it (started 143), when the log shows that one's restart too.
        assert_eq!(podman_loop_seen(&looped[..9], 272 * MS), None);
        let mut longer = ev(&[("init", 0), ("start", 10), ("died", 46), ("restart", 54)]);
        longer.extend(looped.clone());
        assert_eq!(podman_loop_seen(&longer[..13], 272 * MS), Some(143 * MS));
        // Inspected as the next run started (396), before Podman logged that start: the run that
        // started at 274 died and the container started again with no cleanup between.
        assert_eq!(podman_loop_seen(&longer[..13], 396 * MS), Some(274 * MS));
        assert_eq!(
            podman_loop_seen(&longer[..8], 141 * MS),
            None,
            "Podman's restart is not waited on: the next run's start is (the dead run's lines are all written by then)"
        );
        // Stopped and started again (anyone's stop, then a start): a cleanup between them.
        let restarted_by_hand = ev(&[
            ("start", 10),
            ("died", 50),
            ("restart", 55),
            ("init", 90),
            ("start", 100),
            ("died", 190),
            ("cleanup", 200),
            ("init", 300),
            ("start", 310),
        ]);
        assert_eq!(podman_loop_seen(&restarted_by_hand, 100 * MS), None);
        assert_eq!(podman_loop_seen(&restarted_by_hand, 308 * MS), None);
        // Crashed once, restarted, up since: not a loop (one restart).
        assert_eq!(podman_loop_seen(&restarted_by_hand[..5], 98 * MS), None);
        assert_eq!(podman_loop_seen(&[], 100), None);
    }

    /// Podman 4.3's own info answer of a rootless service (its idMappings as this machine's printed them).
    #[test]
    fn a_rootless_engines_host_owners_map_back_to_the_containers() {
        let info = serde_json::json!({"host": {"security": {"rootless": true}, "idMappings": {
            "uidmap": [{"container_id": 0, "host_id": 1001, "size": 1},
                       {"container_id": 1, "host_id": 100000, "size": 65536}],
            "gidmap": [{"container_id": 0, "host_id": 1001, "size": 1},
                       {"container_id": 1, "host_id": 100000, "size": 65536}]}}});
        let f = Facts {
            flavour: Flavour::Podman,
            rootless: true,
            ids: IdMaps::of_libpod_info(&info),
            podman: Some("4.3.1".into()),
        };
        assert_eq!(f.container_owner(1001, 1001), Ok((0, 0)));
        assert_eq!(f.container_owner(101000, 101000), Ok((1001, 1001)));
        assert_eq!(f.container_owner(165535, 100000), Ok((65536, 1)));
        assert!(f.container_owner(165536, 100000).is_err(), "past the range");
        assert!(
            f.container_owner(0, 0).is_err(),
            "host root is not in the namespace"
        );
        let unsaid = Facts {
            ids: None,
            ..f.clone()
        };
        assert!(unsaid.container_owner(1001, 1001).is_err());
        let rootful = Facts {
            rootless: false,
            ..f
        };
        assert_eq!(rootful.container_owner(0, 5), Ok((0, 5)));
        assert_eq!(
            IdMaps::of_libpod_info(&serde_json::json!({"host": {}})),
            None
        );
    }

    /// Podman 4.3.1's answer for a container in a crash loop, cut to what ozrepair reads (and a few fields
    /// it does not).
    const PODMAN_INSPECT: &str = r#"{
        "Id": "ee55f16ca040d8dc",
        "State": {"Status": "stopped", "Running": false, "Paused": false, "Restarting": false,
                  "OOMKilled": false, "Dead": false, "Pid": 0, "ExitCode": 1, "Error": "",
                  "StartedAt": "2026-12-01T09:12:50.435038979Z", "FinishedAt": "2026-12-01T09:12:50.463953425Z",
                  "Health": {"Status": "", "FailingStreak": 0, "Log": null}},
        "Name": "/openzro-management",
        "RestartCount": 3,
        "HostConfig": {"RestartPolicy": {"Name": "always", "MaximumRetryCount": 0}},
        "Config": {"User": "1001", "Image": "localhost/ozrepair-standin:local", "Labels": {"a": "b"}},
        "Mounts": [{"Type": "volume", "Name": "root_openzro_management",
                    "Source": "/var/lib/containers/storage/volumes/root_openzro_management/_data",
                    "Destination": "/var/lib/openzro", "Driver": "local", "Mode": "", "RW": true,
                    "Propagation": "rprivate"},
                   {"Type": "tmpfs", "Source": "", "Destination": "/tmp"}]
    }"#;

    #[test]
    fn reads_podman_inspect_with_its_own_words() {
        let v: Value = serde_json::from_str(PODMAN_INSPECT).unwrap();
        let c = Container::from_inspect(&v);
        assert_eq!(c.status, State::Exited);
        assert_eq!(c.name, "openzro-management");
        assert_eq!((c.restart_count, c.exit_code), (3, 1));
        assert_eq!(c.started_at, "2026-12-01T09:12:50.435038979Z");
        assert_eq!(c.user, "1001");
        assert!(c.restarts_by_itself());
        assert_eq!(c.labels.get("a").map(String::as_str), Some("b"));
        assert_eq!(
            c.mounts.len(),
            1,
            "a mount without a source is not looked into"
        );
        assert_eq!(c.mounts[0].kind, MountKind::Volume);
        assert_eq!(c.mounts[0].name.as_deref(), Some("root_openzro_management"));
        assert_eq!(c.mounts[0].destination, "/var/lib/openzro");
    }

    #[test]
    fn unknown_or_missing_fields_never_fail() {
        let c = Container::from_inspect(&serde_json::json!({"State": {"Status": "hibernating"}}));
        assert_eq!(c.status, State::Other("hibernating".into()));
        assert!(!c.restarts_by_itself());
        assert!(c.mounts.is_empty() && c.labels.is_empty());
        let c = Container::from_inspect(
            &serde_json::json!({"State": {"Status": "running", "Restarting": true}}),
        );
        assert_eq!(c.status, State::Restarting);
        let c = Container::from_inspect(&serde_json::json!(null));
        assert_eq!(c.status, State::Other(String::new()));
        assert_eq!(State::parse("stopped"), State::Exited);
        assert!(State::Stopping.holds_database());
    }

    #[test]
    fn a_new_run_is_a_restart_count_or_a_start_that_changed() {
        let v: Value = serde_json::from_str(PODMAN_INSPECT).unwrap();
        let a = Container::from_inspect(&v);
        let mut b = a.clone();
        assert!(!started_again(&a, &b));
        b.status = State::Running;
        assert!(!started_again(&a, &b), "a state alone is not a new run");
        b.restart_count += 1;
        assert!(started_again(&a, &b));
        let mut c = a.clone();
        c.started_at = "2026-12-01T09:12:50.635038979Z".into();
        assert!(
            started_again(&a, &c),
            "Podman resets the count on a manual start"
        );
    }

    #[test]
    fn the_diagnosed_run_is_the_last_one_that_ended() {
        let v: Value = serde_json::from_str(PODMAN_INSPECT).unwrap();
        let mut c = Container::from_inspect(&v);
        let started = crate::timefmt::parse_rfc3339(&c.started_at).unwrap();
        assert_eq!(
            c.diagnosed_run(),
            RunWindow {
                since: Some(started - START_SLACK_NS)
            }
        );
        // A loop: from the earlier run seen on (it has ended, its lines are all written).
        c.loop_seen = Some(LoopSeen {
            earlier_start: "2026-12-01T09:12:50.235038979Z".into(),
        });
        assert_eq!(
            c.diagnosed_run().since,
            Some(started - 200_000_000 - START_SLACK_NS)
        );
        // Docker counts the restart before the next run starts (the same StartedAt): that run.
        c.loop_seen = Some(LoopSeen {
            earlier_start: c.started_at.clone(),
        });
        assert_eq!(c.diagnosed_run().since, Some(started - START_SLACK_NS));
        c.started_at = "0001-01-01T00:00:00Z".into();
        c.loop_seen = None;
        assert_eq!(c.diagnosed_run(), RunWindow::default());
    }

    #[test]
    fn the_run_before_ended_when_finished_at_says_so() {
        let v: Value = serde_json::from_str(PODMAN_INSPECT).unwrap();
        let mut c = Container::from_inspect(&v);
        // This run has ended (FinishedAt after StartedAt): the run before it cannot be told.
        assert_eq!(c.run_before_ended(), None);
        c.finished_at = "0001-01-01T00:00:00Z".into();
        assert_eq!(c.run_before_ended(), Some(i128::MIN), "never ran before");
        c.finished_at = "2026-12-01T09:12:45.435038979Z".into();
        assert_eq!(
            c.run_before_ended(),
            crate::timefmt::parse_rfc3339("2026-12-01T09:12:45.435038979Z")
        );
        c.finished_at = String::new();
        assert_eq!(c.run_before_ended(), None);
    }

    #[test]
    fn whole_second_stamps_are_judged_by_their_whole_second() {
        let s = crate::timefmt::parse_rfc3339("2026-12-01T09:09:31.727Z").unwrap();
        let w = RunWindow { since: Some(s) };
        // Podman stamps a line of 09:09:31.9 as 09:09:31: it may belong to the run.
        assert!(w.admits("2026-12-01T09:09:31Z"));
        assert!(!w.admits("2026-12-01T09:09:30Z"));
        assert!(!w.admits("2026-12-01T09:09:31.700Z"));
        assert!(w.admits("2026-12-01T09:09:31.727Z"));
        assert!(w.admits("2026-12-01T09:09:33Z"));
        assert!(w.admits(""));
        assert!(RunWindow::default().admits("2026-12-01T09:09:30Z"));
    }

    #[test]
    fn placeholders_are_found_exactly() {
        let u = "unix://2f746d70/containers/ozrepair-raw-17/export";
        assert_eq!(placeholder_of(u), Some(("unix://2f746d70", 17)));
        assert_eq!(
            placeholder_of("unix://2f746d70/v1.53/containers/ozrepair-raw-17/export"),
            Some(("unix://2f746d70/v1.53", 17))
        );
        assert_eq!(
            placeholder_of("https://h:2376/v1.53/containers/ozrepair-raw-3/logs?stdout=true"),
            Some(("https://h:2376/v1.53", 3))
        );
        assert_eq!(
            placeholder_of("unix://x/v1.53/containers/ozrepair-raw-/export"),
            None
        );
        assert_eq!(
            placeholder_of("unix://x/v1.53/containers/ozrepair-raw-1x/export"),
            None
        );
        assert_eq!(placeholder_of("unix://x/v1.53/containers/abc/export"), None);
        let r = Routes::default();
        let n = r.add("/containers/json?all=1".into());
        assert!(r.unsent(n));
        assert!(!r.unsent(n), "a route is used once");
    }

    #[test]
    fn paths_and_queries() {
        assert_eq!(enc("openzro-management"), "openzro-management");
        assert_eq!(enc("a/b?c d"), "a%2Fb%3Fc%20d");
        // Docker's compatible path; Podman's own (the compatible one inspects the container first).
        let docker = |r| logs_request("mgmt", r, false);
        let podman = |r| logs_request("mgmt", r, true);
        const DOCKER: &str = "/containers/mgmt/logs?stdout=1&stderr=1&timestamps=1";
        const PODMAN: &str = "/v3.0.0/libpod/containers/mgmt/logs?stdout=1&stderr=1&timestamps=1";
        assert_eq!(
            docker(LogRange::Tail(500)),
            (format!("{DOCKER}&tail=500"), None)
        );
        let since = LogRange::Since(1_796_116_235_435_038_979, None);
        let all = "&since=1796116235.435038979&tail=all";
        assert_eq!(docker(since), (format!("{DOCKER}{all}"), None));
        assert_eq!(podman(since), (format!("{PODMAN}{all}"), None));
        // Podman is never asked for a tail: every line of the range, the last N kept here.
        assert_eq!(
            podman(LogRange::Tail(500)),
            (format!("{PODMAN}&tail=all"), Some(500))
        );
        let window = RunWindow {
            since: Some(1_796_116_235_435_038_979),
        };
        assert_eq!(
            podman(LogRange::Window(window, 7)),
            (format!("{PODMAN}{all}"), Some(7))
        );
        assert_eq!(
            podman(LogRange::LastStamp),
            (format!("{PODMAN}&tail=1"), None),
            "a stamp is asked of Podman's tail too"
        );
        assert_eq!(
            docker(LogRange::Window(window, 7)).0,
            format!("{DOCKER}&since=1796116235.435038979&tail=7")
        );
        assert_eq!(
            logs_request("a/b", LogRange::LastStamp, true).0,
            "/v3.0.0/libpod/containers/a%2Fb/logs?stdout=1&stderr=1&timestamps=1&tail=1"
        );
    }

    #[test]
    fn lists_versions_and_log_entries() {
        let list =
            serde_json::json!([{"Id": "a", "State": "stopped"}, {"Names": ["/x"]}, {"Id": "b"}]);
        assert_eq!(ids_of(&list), vec!["a", "b"]);
        assert_eq!(ids_of(&serde_json::json!({})), Vec::<String>::new());
        let podman = serde_json::json!({"Platform": {"Name": "linux/amd64/debian-12"},
            "Components": [{"Name": "Podman Engine", "Version": "4.3.1"}], "ApiVersion": "1.41"});
        assert_eq!(flavour_of(&podman), Flavour::Podman);
        assert_eq!(podman_version(&podman), Some("4.3.1"));
        let docker = serde_json::json!({"Platform": {"Name": "Docker Engine - Community"},
            "Components": [{"Name": "Engine"}, {"Name": "containerd"}]});
        assert_eq!(flavour_of(&docker), Flavour::Docker);
        assert_eq!(podman_version(&docker), None);
        assert!(rootless_of(
            &serde_json::json!({"SecurityOptions": ["name=seccomp,profile=default", "name=rootless"]})
        ));
        assert!(!rootless_of(
            &serde_json::json!({"SecurityOptions": ["name=seccomp,profile=default"]})
        ));
        let mut out = Vec::new();
        push_lines(
            &mut out,
            b"2026-12-01T09:09:31Z INFO a\n2026-12-01T09:09:31Z FATL b\n",
        );
        push_lines(&mut out, b"no stamp\n\n");
        assert_eq!(out.len(), 3);
        assert_eq!(out[1].time, "2026-12-01T09:09:31Z");
        assert_eq!(out[1].text, "FATL b");
        assert_eq!(out[2].time, "");
    }
}
