//! A private container engine for one test: its own daemon, data root and socket, so that discovery sees
//! only that test's deployment, with the stand-in management image imported into it. The daemon and
//! everything in it are removed on drop, also when the test fails. A missing engine is a failure, never
//! a skip.
//!
//! Two kinds ([`EngineKind`]): Docker's daemon, or a private `podman system service` serving the same
//! Docker API on its socket (Podman's own storage and run directories, a private containers.conf with
//! rlimits this machine's runc accepts). The engine's own CLI drives it ([`Engine::docker`]: `docker -H`
//! or `podman --url`, whose flags the tests use alike); ozrepair talks to the socket either way.

use crate::util::certs::make_certs;
use crate::util::repo;
use crate::util::run::{self, Finished};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The stand-in management server's image, imported into every engine.
pub const IMAGE: &str = "ozrepair-standin:local";
/// The stand-in built from the real Go libraries (tests/standin-go), imported on demand
/// ([`Engine::import_go_standin`]).
pub const GO_IMAGE: &str = "ozrepair-standin-go:local";

/// Which daemon serves the engine's API.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EngineKind {
    /// `dockerd`.
    Docker,
    /// `podman system service` (rootful).
    Podman,
    /// `podman system service` run by an ordinary user the engine creates for itself (rootless: its
    /// containers in a user namespace of that user's subordinate ids).
    PodmanRootless,
}

impl EngineKind {
    fn daemon(self) -> &'static str {
        match self {
            EngineKind::Docker => "dockerd",
            EngineKind::Podman | EngineKind::PodmanRootless => "podman",
        }
    }

    /// The client CLI, with the arguments that point it at `engine`.
    fn cli(self, engine: &Engine) -> Command {
        match self {
            EngineKind::Docker => {
                let mut c = Command::new("docker");
                c.arg("-H").arg(&engine.host);
                c
            }
            EngineKind::Podman | EngineKind::PodmanRootless => {
                let mut c = Command::new("podman");
                c.arg("--url").arg(&engine.host);
                c
            }
        }
    }

    /// The daemon for an engine kept under `dir`, answering on `listen` (run by `user` when rootless).
    fn daemon_command(
        self,
        program: &Path,
        dir: &Path,
        listen: &Listen,
        user: Option<&User>,
    ) -> Command {
        match self {
            EngineKind::Docker => {
                let mut c = Command::new(program);
                c.args(["-H", &format!("unix://{}", listen.socket.display())]);
                if let Some(certs) = &listen.certs {
                    for (flag, file) in [
                        ("--tlscacert", "ca.pem"),
                        ("--tlscert", "server-cert.pem"),
                        ("--tlskey", "server-key.pem"),
                    ] {
                        c.arg(flag).arg(certs.join(file));
                    }
                    c.arg("--tlsverify");
                }
                if let Some(port) = listen.tcp_port {
                    c.args(["-H", &format!("tcp://127.0.0.1:{port}")]);
                }
                c.arg("--data-root")
                    .arg(dir.join("data"))
                    .arg("--exec-root")
                    .arg(dir.join("x"))
                    .arg("--pidfile")
                    .arg(dir.join("d.pid"))
                    .args(["--bridge", "none", "--iptables=false", "--ip-masq=false"]);
                c
            }
            EngineKind::Podman | EngineKind::PodmanRootless => {
                assert!(
                    listen.tcp_port.is_none(),
                    "the Podman engine of the tests listens on its unix socket only"
                );
                // rlimits the local runc accepts (its hard limit; nproc well under the machine's), and
                // nothing that needs systemd or journald.
                let nofile = run::output(Command::new("sh").args(["-c", "ulimit -Hn"]))
                    .stdout_text()
                    .trim()
                    .parse::<u64>()
                    .unwrap_or(1_048_576);
                // Its events and temporary state under `dir` too: Podman's default places are shared by
                // every service on the machine, so one test's stops would show in another's events.
                let conf = dir.join("containers.conf");
                std::fs::write(
                    &conf,
                    format!(
                        "[containers]\ndefault_ulimits = [\"nofile={nofile}:{nofile}\", \"nproc=32768:32768\"]\nlog_driver = \"k8s-file\"\n\n[engine]\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\nevents_logfile_path = \"{}\"\ntmp_dir = \"{}\"\n",
                        dir.join("events.log").display(),
                        dir.join("tmp").display()
                    ),
                )
                .expect("write containers.conf");
                let mut c = match user {
                    // As the user, with its own runtime directory (the service's pause process and
                    // user namespace live there), by runuser so that root's groups are dropped.
                    Some(u) => {
                        let mut c = Command::new("runuser");
                        c.args(["-u", &u.name, "--", "env"])
                            .arg(format!("HOME={}", u.home.display()))
                            .arg(format!("XDG_RUNTIME_DIR={}", u.runtime_dir.display()))
                            .arg(format!("CONTAINERS_CONF={}", conf.display()))
                            .arg(program);
                        c
                    }
                    None => {
                        let mut c = Command::new(program);
                        c.env("CONTAINERS_CONF", &conf);
                        c
                    }
                };
                c.arg("--root")
                    .arg(dir.join("root"))
                    .arg("--runroot")
                    .arg(dir.join("run"))
                    .args(["--storage-driver", "vfs", "system", "service", "--time=0"])
                    .arg(format!("unix://{}", listen.socket.display()));
                c
            }
        }
    }
}

/// Where a daemon answers.
struct Listen {
    socket: PathBuf,
    tcp_port: Option<u16>,
    /// With TLS: the directory of the CA, server and client certificates.
    certs: Option<PathBuf>,
}

/// How to start an engine: on a unix socket, and also on a tcp port of 127.0.0.1, with or without TLS.
pub struct EngineBuilder {
    kind: EngineKind,
    tcp: bool,
    tls: bool,
}

impl EngineBuilder {
    /// Also listen on a free port of 127.0.0.1; the engine's `host` is then that tcp:// URL.
    pub fn tcp(self) -> EngineBuilder {
        EngineBuilder { tcp: true, ..self }
    }

    /// The tcp port requires TLS with client certificates from a throwaway CA; the engine's `env` then
    /// holds DOCKER_TLS_VERIFY and DOCKER_CERT_PATH for the clients. Implies `tcp`.
    pub fn tls(self) -> EngineBuilder {
        EngineBuilder {
            tcp: true,
            tls: true,
            ..self
        }
    }

    /// A private Podman service instead of dockerd.
    pub fn podman(self) -> EngineBuilder {
        EngineBuilder {
            kind: EngineKind::Podman,
            ..self
        }
    }

    /// A private rootless Podman service, run by a user created for this engine (see [`User`]).
    pub fn podman_rootless(self) -> EngineBuilder {
        EngineBuilder {
            kind: EngineKind::PodmanRootless,
            ..self
        }
    }

    pub fn start(self) -> Engine {
        Engine::launch(self)
    }
}

/// A private engine for one test.
pub struct Engine {
    kind: EngineKind,
    dir: PathBuf,
    /// The endpoint clients use: the unix socket, or the tcp port when there is one.
    pub host: String,
    /// The unix socket, always there.
    pub socket: PathBuf,
    /// Environment the docker CLI and ozrepair need for this engine (TLS client settings).
    pub env: Vec<(String, String)>,
    daemon: Child,
    /// The user that runs a rootless engine (removed after the engine).
    user: Option<User>,
}

impl Engine {
    /// A Docker engine on a unix socket.
    pub fn start() -> Engine {
        Engine::builder().start()
    }

    /// A private rootful Podman service on a unix socket.
    pub fn podman() -> Engine {
        Engine::builder().podman().start()
    }

    /// A private rootless Podman service on a unix socket, run by a user of its own.
    pub fn podman_rootless() -> Engine {
        Engine::builder().podman_rootless().start()
    }

    /// The user that runs this engine, when it is rootless.
    pub fn user(&self) -> &User {
        self.user
            .as_ref()
            .expect("only a rootless engine has a user of its own")
    }

    pub fn builder() -> EngineBuilder {
        EngineBuilder {
            kind: EngineKind::Docker,
            tcp: false,
            tls: false,
        }
    }

    fn launch(b: EngineBuilder) -> Engine {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::SeqCst);
        // Short paths: containerd's socket lives under the exec root and unix socket paths are limited.
        let dir = PathBuf::from(format!("/tmp/ozr-e2e/{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create engine dir");
        let program = which(b.kind.daemon()).unwrap_or_else(|| {
            panic!(
                "no {} on PATH: the end-to-end tests need a container engine (scripts/docker-up.sh installs Docker's)",
                b.kind.daemon()
            )
        });
        let listen = Listen {
            socket: dir.join("d.sock"),
            tcp_port: b.tcp.then(free_port),
            certs: b.tls.then(|| make_certs(&dir.join("certs"))),
        };
        let mut env = Vec::new();
        if let Some(certs) = &listen.certs {
            env.push(("DOCKER_TLS_VERIFY".to_string(), "1".to_string()));
            env.push(("DOCKER_CERT_PATH".to_string(), certs.display().to_string()));
        }
        let user = (b.kind == EngineKind::PodmanRootless).then(|| User::create(&dir, n));
        let log = std::fs::File::create(dir.join("daemon.log")).expect("log file");
        let daemon = b
            .kind
            .daemon_command(&program, &dir, &listen, user.as_ref())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", program.display()));
        let host = match listen.tcp_port {
            Some(p) => format!("tcp://127.0.0.1:{p}"),
            None => format!("unix://{}", listen.socket.display()),
        };
        let mut e = Engine {
            kind: b.kind,
            dir,
            host,
            socket: listen.socket,
            env,
            daemon,
            user,
        };
        e.wait_until_up();
        e.docker_ok(&[
            "import",
            "--change",
            r#"CMD ["/standin"]"#,
            &standin_tar().to_string_lossy(),
            IMAGE,
        ]);
        e
    }

    /// Polls the API until it answers; fails with the daemon's log if it exits or takes over 60 s.
    fn wait_until_up(&mut self) {
        let started = Instant::now();
        loop {
            let probe = self.docker(&["version", "--format", "{{.Server.Version}}"]);
            if probe.status.success() {
                return;
            }
            let log = || std::fs::read_to_string(self.dir.join("daemon.log")).unwrap_or_default();
            if let Ok(Some(st)) = self.daemon.try_wait() {
                panic!(
                    "{} exited ({st}) while starting:\n{}",
                    self.kind.daemon(),
                    tail(&log(), 20)
                );
            }
            if started.elapsed() > Duration::from_secs(60) {
                panic!(
                    "{} did not answer within 60 s:\n{}\ndocker version: {}",
                    self.kind.daemon(),
                    tail(&log(), 10),
                    probe.stderr_text()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Runs the engine's CLI (docker, or podman for a Podman engine) against this engine.
    pub fn docker(&self, args: &[&str]) -> Finished {
        run::output(
            self.kind
                .cli(self)
                .args(args)
                .envs(self.env.iter().map(|(k, v)| (k, v))),
        )
    }

    /// Runs podman against this rootless engine as its user (as the user would type it).
    pub fn docker_as_user(&self, args: &[&str]) -> Finished {
        let u = self.user();
        run::output(
            Command::new("runuser")
                .args(["-u", &u.name, "--", "env"])
                .arg(format!("HOME={}", u.home.display()))
                .args(["podman", "--url", &self.host])
                .args(args),
        )
    }

    /// Like [`Engine::docker`], and fails the test unless it succeeds; returns stdout, trimmed.
    pub fn docker_ok(&self, args: &[&str]) -> String {
        self.docker_ok_with(args, &[])
    }

    /// [`Engine::docker_ok`] with `env` in the client's environment (`-e NAME` takes a value from there:
    /// a secret a test hands a container is then on no command line).
    pub fn docker_ok_with(&self, args: &[&str], env: &[(&str, &str)]) -> String {
        let out = run::output(
            self.kind
                .cli(self)
                .args(args)
                .envs(self.env.iter().map(|(k, v)| (k, v)))
                .envs(env.iter().copied()),
        );
        assert!(
            out.status.success(),
            "docker {args:?} failed: {}",
            out.stderr_text()
        );
        out.stdout_text().trim().to_string()
    }

    /// Imports the stand-in built from the real Go libraries as [`GO_IMAGE`].
    pub fn import_go_standin(&self) {
        self.docker_ok(&[
            "import",
            "--change",
            r#"CMD ["/standin-go"]"#,
            &go_standin_tar().to_string_lossy(),
            GO_IMAGE,
        ]);
    }

    pub fn inspect(&self, container: &str, format: &str) -> String {
        self.docker_ok(&["inspect", "-f", format, container])
    }

    /// [`Engine::inspect`] for a poll: None when the CLI fails this once. Podman 4.3's inspect of a
    /// container in a crash loop can fail while its process goes away ("read /proc/PID/cgroup: no such
    /// process"); the next look answers.
    pub fn try_inspect(&self, container: &str, format: &str) -> Option<String> {
        let out = self.docker(&["inspect", "-f", format, container]);
        out.status
            .success()
            .then(|| out.stdout_text().trim().to_string())
    }

    /// The engine's events of kinds that only a stop or kill produces, since `since` (see
    /// [`events_mark`]).
    pub fn stop_events(&self, container: &str, since: &str) -> Vec<String> {
        let now = format!("{}", unix_now() + 1);
        let out = self.docker_ok(&[
            "events",
            "--since",
            since,
            "--until",
            &now,
            "--filter",
            &format!("container={container}"),
            "--filter",
            "event=kill",
            "--filter",
            "event=stop",
            "--format",
            match self.kind {
                EngineKind::Docker => "{{.Action}}",
                EngineKind::Podman | EngineKind::PodmanRootless => "{{.Status}}",
            },
        ]);
        out.lines()
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect()
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        let ids = self.docker(&["ps", "-aq"]);
        for id in ids.stdout_text().split_whitespace() {
            let _ = self.docker(&["rm", "-f", "-v", id]);
        }
        let _ = self.docker(&["volume", "prune", "-f"]);
        let _ = Command::new("kill")
            .args(["-TERM", &self.daemon.id().to_string()])
            .status();
        let end = Instant::now() + Duration::from_secs(20);
        while Instant::now() < end {
            if let Ok(Some(_)) = self.daemon.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
        // A rootless service leaves its pause process (the user namespace's holder) and conmons: every
        // process of the engine's user goes, then the user (userdel removes its subordinate ids).
        if let Some(u) = self.user.take() {
            u.remove();
        }
        unmount_under(&self.dir);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Detaches every mount left under `dir`, deepest first. dockerd binds its default network namespace at
/// `<exec-root>/netns/default` and leaves it mounted when it is stopped; the directory could not be removed
/// and each suite left its engines' directories and mounts behind.
fn unmount_under(dir: &Path) {
    let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return;
    };
    let mut points: Vec<&str> = info
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|m| Path::new(m).starts_with(dir))
        .collect();
    points.sort_by_key(|m| std::cmp::Reverse(m.len()));
    for m in points {
        let _ = Command::new("umount").args(["-l", m]).status();
    }
}

/// An ordinary user made for one rootless engine: its name, ids, home and runtime directory under the
/// engine's directory, and the first of the subordinate ids useradd gave it (its containers' uid 1 is
/// that host uid; their root is the user itself).
pub struct User {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub home: PathBuf,
    pub runtime_dir: PathBuf,
    pub subuid: u32,
    pub subgid: u32,
    /// A copy of the binary under test the user can run (the build tree may not be readable by others).
    pub ozrepair: PathBuf,
}

impl User {
    fn create(dir: &Path, n: usize) -> User {
        let name = format!("ozr{}u{n}", std::process::id());
        let home = dir.join("home");
        let made = run::output(
            Command::new("useradd")
                .args([
                    "--no-create-home",
                    "--shell",
                    "/usr/sbin/nologin",
                    "--home-dir",
                ])
                .arg(&home)
                .arg(&name),
        );
        assert!(
            made.status.success(),
            "useradd {name} failed: {}",
            made.stderr_text()
        );
        let id = |flag: &str| -> u32 {
            run::output(Command::new("id").args([flag, &name]))
                .stdout_text()
                .trim()
                .parse()
                .expect("id of the new user")
        };
        let (uid, gid) = (id("-u"), id("-g"));
        // useradd gives every new user a range of subordinate ids (login.defs SUB_UID_*); read it.
        let sub = |file: &str| -> u32 {
            let text = std::fs::read_to_string(file).unwrap_or_default();
            text.lines()
                .find_map(|l| {
                    let mut f = l.split(':');
                    (f.next() == Some(name.as_str())).then(|| f.next()?.parse().ok())?
                })
                .unwrap_or_else(|| panic!("useradd gave {name} no subordinate ids in {file}"))
        };
        let (subuid, subgid) = (sub("/etc/subuid"), sub("/etc/subgid"));
        let runtime_dir = dir.join("xdg");
        let bin = dir.join("bin");
        for d in [&home, &runtime_dir, &bin] {
            std::fs::create_dir_all(d).expect("user directory");
        }
        let ozrepair = bin.join("ozrepair");
        std::fs::copy(env!("CARGO_BIN_EXE_ozrepair"), &ozrepair).expect("copy ozrepair");
        // The engine's whole directory is the user's: storage, run state, socket, home.
        for d in [dir, &home, &runtime_dir] {
            std::os::unix::fs::chown(d, Some(uid), Some(gid)).expect("chown engine dir");
        }
        std::fs::set_permissions(
            &runtime_dir,
            std::os::unix::fs::PermissionsExt::from_mode(0o700),
        )
        .expect("chmod runtime dir");
        User {
            name,
            uid,
            gid,
            home,
            runtime_dir,
            subuid,
            subgid,
            ozrepair,
        }
    }

    /// The host uid of uid `id` in the user's containers.
    pub fn host_uid(&self, id: u32) -> u32 {
        if id == 0 {
            self.uid
        } else {
            self.subuid + id - 1
        }
    }

    /// The host gid of gid `id` in the user's containers.
    pub fn host_gid(&self, id: u32) -> u32 {
        if id == 0 {
            self.gid
        } else {
            self.subgid + id - 1
        }
    }

    fn remove(self) {
        for signal in ["-TERM", "-KILL"] {
            let _ = Command::new("pkill")
                .args([signal, "-u", &self.name])
                .status();
            let end = Instant::now() + Duration::from_secs(10);
            while Instant::now() < end
                && Command::new("pgrep")
                    .args(["-u", &self.name])
                    .stdout(Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success())
            {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        let _ = Command::new("userdel").arg(&self.name).status();
    }
}

/// The Go stand-in's root file system tar (see [`go_standin_built`]).
fn go_standin_tar() -> PathBuf {
    go_standin_built().join("rootfs.tar")
}

/// The Go stand-in's build directory (its binary `standin-go` and `rootfs.tar`), built once per run by
/// scripts/build-standin-go.sh, which installs Debian's Go toolchain and libraries when they are missing
/// (unless OZR_STANDIN_BUILT says both are there already).
pub fn go_standin_built() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = repo().join("target/standin-go");
        let there = dir.join("rootfs.tar").exists() && dir.join("standin-go").exists();
        if std::env::var_os("OZR_STANDIN_BUILT").is_none() || !there {
            let built = run::output_within(
                &mut Command::new(repo().join("scripts/build-standin-go.sh")),
                Duration::from_secs(900),
            );
            assert!(
                built.status.success(),
                "scripts/build-standin-go.sh failed:\n{}",
                built.stderr_text()
            );
        }
        dir
    })
}

/// The stand-in's root file system tar, built once per run by scripts/build-standin.sh (unless
/// OZR_STANDIN_BUILT says it is already there).
fn standin_tar() -> &'static Path {
    static TAR: OnceLock<PathBuf> = OnceLock::new();
    TAR.get_or_init(|| {
        let tar = repo().join("target/standin/rootfs.tar");
        if std::env::var_os("OZR_STANDIN_BUILT").is_none() || !tar.exists() {
            let built = run::output_within(
                &mut Command::new(repo().join("scripts/build-standin.sh")),
                Duration::from_secs(600),
            );
            assert!(
                built.status.success(),
                "scripts/build-standin.sh failed:\n{}",
                built.stderr_text()
            );
        }
        tar
    })
}

/// A port of 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

fn which(bin: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join(bin))
            .find(|p| p.is_file())
    })
}

fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Now, as `docker events --since` takes it, to the nanosecond.
pub fn events_mark() -> String {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    format!("{}.{:09}", d.as_secs(), d.subsec_nanos())
}
