//! End-to-end harness: a private Docker engine per test (its own dockerd, data root and socket, so that
//! discovery sees only that test's deployment), the stand-in management image imported into it, Dex
//! databases built from migrations/, and the real `ozrepair` binary. Everything is removed on drop, also
//! when the test fails. A missing engine is a failure, never a skip.
#![allow(dead_code)]

use ozrepair_standin::seed::{create_dex_db, insert_connector, insert_other_rows, Connector};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub const IMAGE: &str = "ozrepair-standin:local";
pub const JUMPCLOUD: &str = "https://oauth.id.jumpcloud.com";
pub const JUMPCLOUD_SLASH: &str = "https://oauth.id.jumpcloud.com/";
pub const SECRET: &str = "e2e-client-secret-9f8e7d6c5b4a-never-print";
pub const JC_ID: &str = "d4s1a2b3c4d5e6f7g8h9";

/// The JumpCloud connector as NetBird writes it: compact, keys sorted, Go's \u0026, no trailing slash.
pub fn jumpcloud_config(issuer: &str) -> String {
    format!(
        r#"{{"clientID":"0f5e2c9a-e2e","clientSecret":"{SECRET}","insecureSkipEmailVerified":true,"issuer":"{issuer}","redirectURI":"https://openzro.example.com/oauth2/callback?x=1\u0026y=2","scopes":["openid","profile","email"]}}"#
    )
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The stand-in's root file system tar, built once per test binary by scripts/build-standin.sh.
fn standin_tar() -> &'static Path {
    static TAR: OnceLock<PathBuf> = OnceLock::new();
    TAR.get_or_init(|| {
        let tar = repo().join("target/standin/rootfs.tar");
        if std::env::var_os("OZR_STANDIN_BUILT").is_none() || !tar.exists() {
            let st = Command::new(repo().join("scripts/build-standin.sh"))
                .status()
                .expect("run scripts/build-standin.sh");
            assert!(st.success(), "scripts/build-standin.sh failed");
        }
        tar
    })
}

pub fn sh(cmd: &mut Command) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    out
}

/// Polls `f` every 50 ms until it returns Some, or panics after `limit`.
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

/// A private Docker engine for one test.
pub struct Engine {
    pub dir: PathBuf,
    pub host: String,
    daemon: Child,
    /// Environment the docker CLI and ozrepair need for this engine (TLS client settings).
    pub env: Vec<(String, String)>,
}

impl Engine {
    pub fn start() -> Engine {
        Engine::start_with(false)
    }

    /// With `tcp`, the engine also listens on a free port of 127.0.0.1, and `host` is that tcp:// URL.
    pub fn start_with(tcp: bool) -> Engine {
        Engine::start_full(tcp, false)
    }

    /// With `tls` (and `tcp`), the tcp port requires TLS with client certificates from a throwaway CA;
    /// `env` then holds DOCKER_TLS_VERIFY and DOCKER_CERT_PATH for the clients.
    pub fn start_full(tcp: bool, tls: bool) -> Engine {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::SeqCst);
        // Short paths: containerd's socket lives under the exec root and unix socket paths are limited.
        let dir = PathBuf::from(format!("/tmp/ozr-e2e/{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create engine dir");
        let sock = dir.join("d.sock");
        let log = std::fs::File::create(dir.join("dockerd.log")).expect("log file");
        let dockerd = which("dockerd").unwrap_or_else(|| {
            panic!("no dockerd on PATH: the end-to-end tests need a Docker engine (scripts/docker-up.sh installs one)")
        });
        let tcp_port = tcp.then(|| {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("free port");
            l.local_addr().expect("addr").port()
        });
        let mut hosts = vec!["-H".to_string(), format!("unix://{}", sock.display())];
        let mut env = Vec::new();
        if tls {
            let certs = make_certs(&dir.join("certs"));
            for (flag, file) in [
                ("--tlscacert", "ca.pem"),
                ("--tlscert", "server-cert.pem"),
                ("--tlskey", "server-key.pem"),
            ] {
                hosts.extend([flag.to_string(), certs.join(file).display().to_string()]);
            }
            hosts.push("--tlsverify".into());
            env.push(("DOCKER_TLS_VERIFY".to_string(), "1".to_string()));
            env.push(("DOCKER_CERT_PATH".to_string(), certs.display().to_string()));
        }
        if let Some(p) = tcp_port {
            hosts.extend(["-H".to_string(), format!("tcp://127.0.0.1:{p}")]);
        }
        let daemon = Command::new(dockerd)
            .args(&hosts)
            .args(["--data-root", &dir.join("data").to_string_lossy()])
            .args(["--exec-root", &dir.join("x").to_string_lossy()])
            .args(["--pidfile", &dir.join("d.pid").to_string_lossy()])
            .args(["--bridge", "none", "--iptables=false", "--ip-masq=false"])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start dockerd");
        let host = match tcp_port {
            Some(p) => format!("tcp://127.0.0.1:{p}"),
            None => format!("unix://{}", sock.display()),
        };
        let mut e = Engine {
            dir,
            host,
            daemon,
            env,
        };
        let started = Instant::now();
        loop {
            if e.docker(&["version", "--format", "{{.Server.Version}}"])
                .status
                .success()
            {
                break;
            }
            if let Ok(Some(st)) = e.daemon.try_wait() {
                let log = std::fs::read_to_string(e.dir.join("dockerd.log")).unwrap_or_default();
                panic!("dockerd exited ({st}) while starting:\n{}", tail(&log, 20));
            }
            if started.elapsed() > Duration::from_secs(60) {
                let log = std::fs::read_to_string(e.dir.join("dockerd.log")).unwrap_or_default();
                let out = e.docker(&["version"]);
                panic!(
                    "dockerd did not answer within 60 s:\n{}\ndocker version: {}",
                    tail(&log, 10),
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let out = e.docker(&[
            "import",
            "--change",
            r#"CMD ["/standin"]"#,
            &standin_tar().to_string_lossy(),
            IMAGE,
        ]);
        assert!(
            out.status.success(),
            "docker import failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        e
    }

    pub fn docker(&self, args: &[&str]) -> Output {
        sh(Command::new("docker")
            .arg("-H")
            .arg(&self.host)
            .args(args)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null()))
    }

    pub fn docker_ok(&self, args: &[&str]) -> String {
        let out = self.docker(args);
        assert!(
            out.status.success(),
            "docker {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    pub fn inspect(&self, container: &str, format: &str) -> String {
        self.docker_ok(&["inspect", "-f", format, container])
    }

    /// Runs the real ozrepair binary against this engine, with no terminal on stdin.
    pub fn ozrepair(&self, args: &[&str]) -> Run {
        self.ozrepair_env(args, &[])
    }

    /// Like `ozrepair`, with extra environment variables.
    pub fn ozrepair_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        Run::from(sh(self.ozrepair_command(args, env).stdin(Stdio::null())))
    }

    pub fn ozrepair_command(&self, args: &[&str], env: &[(&str, &str)]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_ozrepair"));
        c.args(args)
            .env("DOCKER_HOST", &self.host)
            .env_remove("DOCKER_CONTEXT")
            .env_remove("OZREPAIR_FAULT")
            .envs(self.env.iter().map(|(k, v)| (k, v)));
        for (k, v) in env {
            c.env(k, v);
        }
        c
    }

    /// The engine's events of kinds that only a stop or kill produces, since `since` (unix seconds).
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
            "{{.Action}}",
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
        for id in String::from_utf8_lossy(&ids.stdout).split_whitespace() {
            let _ = self.docker(&["rm", "-f", "-v", id]);
        }
        let _ = self.docker(&["volume", "prune", "-f"]);
        unsafe_term(self.daemon.id());
        let end = Instant::now() + Duration::from_secs(20);
        while Instant::now() < end {
            if let Ok(Some(_)) = self.daemon.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn unsafe_term(pid: u32) {
    let _ = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
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

pub fn unix_now() -> u64 {
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

/// What one ozrepair run printed and returned.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Run {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl Run {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(self.stdout.trim())
            .unwrap_or_else(|e| panic!("stdout is not one JSON object ({e}):\n{self:?}"))
    }
    pub fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

/// The fixture binary `ozr-seed`, built once per run next to the `ozrepair` under test (honouring
/// CARGO_TARGET_DIR): `cargo test` builds the fixture crate as a library only, so its binary may be
/// missing or older than the modes used here.
pub fn seed_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .or_else(|| option_env!("CARGO_TARGET_DIR").map(PathBuf::from))
            .map(|t| if t.is_relative() { manifest.join(t) } else { t })
            .unwrap_or_else(|| manifest.join("target"));
        let st = Command::new(env!("CARGO"))
            .args(["build", "-q", "-p", "ozrepair-standin", "--bin", "ozr-seed"])
            .env("CARGO_TARGET_DIR", &target)
            .current_dir(&manifest)
            .status()
            .expect("run cargo build for ozr-seed");
        assert!(st.success(), "cannot build ozr-seed");
        let bin = target.join("debug/ozr-seed");
        assert!(bin.is_file(), "no {}", bin.display());
        bin
    })
}

/// Runs the real ozrepair binary without Docker (for `--db`), with no terminal on stdin and `env` added.
pub fn ozrepair_local(args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ozrepair"));
    c.args(args)
        .env_remove("DOCKER_HOST")
        .env_remove("NO_COLOR")
        .env_remove("OZREPAIR_FAULT")
        .stdin(Stdio::null());
    for (k, v) in env {
        c.env(k, v);
    }
    Run::from(sh(&mut c))
}

/// The seed scenario of the openZro troubleshooting page: the JumpCloud connector without its trailing
/// slash, the stand-in crash-looping on it.
pub fn locked_out(e: &Engine) -> Deployment {
    let d = Deployment::create(
        e,
        &OPENZRO,
        11,
        &[local_row(), jumpcloud_row(JUMPCLOUD)],
        (0, 0),
        0o644,
    );
    d.run(e, &OPENZRO, &[("STANDIN_PUBLISHED", JUMPCLOUD_SLASH)]);
    d.wait_restarts(e, 2);
    d
}

/// A connector row to seed.
pub struct Row {
    pub id: &'static str,
    pub typ: &'static str,
    pub name: &'static str,
    pub rv: &'static str,
    pub config: Option<String>,
}

pub fn local_row() -> Row {
    Row {
        id: "local",
        typ: "local",
        name: "Email",
        rv: "",
        config: None,
    }
}

pub fn jumpcloud_row(issuer: &str) -> Row {
    Row {
        id: JC_ID,
        typ: "oidc",
        name: "JumpCloud",
        rv: "",
        config: Some(jumpcloud_config(issuer)),
    }
}

/// Writes a Dex database with `level` migrations and these connectors (configs bound as BLOBs).
pub fn seed_db(path: &Path, level: usize, rows: &[Row], owner: (u32, u32), mode: u32) {
    let conn = create_dex_db(path, level).expect("create Dex db");
    for r in rows {
        insert_connector(
            &conn,
            &Connector {
                id: r.id,
                typ: r.typ,
                name: r.name,
                resource_version: r.rv,
                config: r.config.as_deref().map(str::as_bytes),
            },
        )
        .expect("insert connector");
    }
    insert_other_rows(&conn).expect("insert other rows");
    drop(conn);
    std::os::unix::fs::chown(path, Some(owner.0), Some(owner.1)).expect("chown");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

/// A deployment in a private engine: a volume holding the database and a container running the stand-in.
pub struct Deployment {
    pub container: String,
    pub volume: String,
    pub mountpoint: PathBuf,
    pub db: PathBuf,
}

pub struct Layout {
    pub container: &'static str,
    pub volume: &'static str,
    pub mount: &'static str,
    pub db_name: &'static str,
}

/// The layout of the openZro troubleshooting page.
pub const OPENZRO: Layout = Layout {
    container: "openzro-management",
    volume: "root_openzro_management",
    mount: "/var/lib/openzro",
    db_name: "idp.db",
};

impl Deployment {
    pub fn create(
        e: &Engine,
        l: &Layout,
        level: usize,
        rows: &[Row],
        owner: (u32, u32),
        mode: u32,
    ) -> Deployment {
        e.docker_ok(&["volume", "create", l.volume]);
        let mountpoint =
            PathBuf::from(e.docker_ok(&["volume", "inspect", "-f", "{{.Mountpoint}}", l.volume]));
        let db = mountpoint.join(l.db_name);
        seed_db(&db, level, rows, owner, mode);
        Deployment {
            container: l.container.into(),
            volume: l.volume.into(),
            mountpoint,
            db,
        }
    }

    /// Starts the stand-in on the volume with `env` (STANDIN_*), restart policy always.
    pub fn run(&self, e: &Engine, l: &Layout, env: &[(&str, &str)]) {
        self.run_with(e, l, env, &[]);
    }

    /// Like `run`, with more `docker run` arguments (--user, --label, -v for config files…).
    pub fn run_with(&self, e: &Engine, l: &Layout, env: &[(&str, &str)], extra: &[&str]) {
        let mut args: Vec<String> = [
            "run",
            "-d",
            "--pull",
            "never",
            "--network",
            "none",
            "--restart",
            "always",
            "--name",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.push(self.container.clone());
        args.push("-v".into());
        args.push(format!("{}:{}", self.volume, l.mount));
        args.push("-e".into());
        args.push(format!("STANDIN_DB={}/{}", l.mount, l.db_name));
        for (k, v) in env {
            args.push("-e".into());
            args.push(format!("{k}={v}"));
        }
        args.extend(extra.iter().map(|s| s.to_string()));
        args.push(IMAGE.into());
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        e.docker_ok(&refs);
    }

    /// Waits until the container has crashed and been restarted at least `n` times.
    pub fn wait_restarts(&self, e: &Engine, n: i64) {
        poll(
            "the container to crash-loop",
            Duration::from_secs(60),
            || {
                let c: i64 = e
                    .inspect(&self.container, "{{.RestartCount}}")
                    .parse()
                    .ok()?;
                (c >= n).then_some(())
            },
        );
    }

    /// Waits until the stand-in says it is serving.
    pub fn wait_ready(&self, e: &Engine) {
        poll(
            "the container to report it is serving",
            Duration::from_secs(60),
            || {
                let logs = e.docker(&["logs", &self.container]);
                let all = format!(
                    "{}{}",
                    String::from_utf8_lossy(&logs.stdout),
                    String::from_utf8_lossy(&logs.stderr)
                );
                (all.contains("running HTTP server and gRPC server")
                    || all.contains("listening on"))
                .then_some(())
            },
        );
    }

    pub fn state(&self, e: &Engine) -> (String, i64, String) {
        let s = e.inspect(
            &self.container,
            "{{.State.Status}} {{.RestartCount}} {{.State.StartedAt}}",
        );
        let mut it = s.split_whitespace();
        (
            it.next().unwrap_or_default().to_string(),
            it.next().and_then(|n| n.parse().ok()).unwrap_or(-1),
            it.next().unwrap_or_default().to_string(),
        )
    }
}

/// What every entry under a directory is: a file by (sha256, size, mode, uid, gid, nlink), a directory by
/// its mode and owner, a symlink by its target, anything else by its type. It never opens a FIFO (that would
/// block) and never follows a link. Equal snapshots mean no byte, owner, mode or link changed.
pub type Snapshot = BTreeMap<String, String>;

pub fn snapshot(dir: &Path) -> Snapshot {
    use std::os::unix::fs::FileTypeExt;
    let mut out = Snapshot::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read dir") {
            let p = entry.expect("entry").path();
            let m = std::fs::symlink_metadata(&p).expect("metadata");
            let rel = p.strip_prefix(dir).unwrap_or(&p).display().to_string();
            let ft = m.file_type();
            let owner = format!("{:o} {}:{}", m.mode(), m.uid(), m.gid());
            if ft.is_dir() {
                out.insert(format!("{rel}/"), owner);
                stack.push(p);
            } else if ft.is_symlink() {
                let to = std::fs::read_link(&p).expect("readlink");
                out.insert(rel, format!("-> {} {owner}", to.display()));
            } else if ft.is_file() {
                let sha = hex(&Sha256::digest(std::fs::read(&p).expect("read file")));
                out.insert(
                    rel,
                    format!("{sha} {} {owner} nlink {}", m.len(), m.nlink()),
                );
            } else {
                out.insert(rel, format!("special fifo={} {owner}", ft.is_fifo()));
            }
        }
    }
    out
}

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// (id, typeof(config), config bytes, resource_version) of every connector row, opened read-only.
pub fn rows(db: &Path) -> Vec<(String, String, Vec<u8>, String)> {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .expect("open db");
    let mut st = conn.prepare("select id, typeof(config), coalesce(cast(config as blob), x''), resource_version from connector order by rowid").expect("prepare");
    let rows = st
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .expect("query")
        .collect::<Result<Vec<_>, _>>()
        .expect("rows");
    rows
}

/// A discovery endpoint on loopback: serves `GET <path>/.well-known/openid-configuration` with
/// `{"issuer": <value>}` for each (path, issuer) it is given; everything else is 404. The issuer values
/// can be changed while it runs. It stops when dropped.
pub struct Discovery {
    pub base: String,
    pub issuers: std::sync::Arc<std::sync::Mutex<Vec<(String, String)>>>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Discovery {
    pub fn start() -> Discovery {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        listener.set_nonblocking(true).expect("nonblocking");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let issuers: std::sync::Arc<std::sync::Mutex<Vec<(String, String)>>> = Default::default();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (iss, st) = (issuers.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            while !st.load(Ordering::SeqCst) {
                let Ok((mut conn, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                };
                let _ = conn.set_nonblocking(false);
                let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
                let mut buf = [0u8; 4096];
                let n = conn.read(&mut buf).unwrap_or(0);
                let req = String::from_utf8_lossy(&buf[..n]);
                let path = req.split_whitespace().nth(1).unwrap_or("").to_string();
                let found = iss.lock().map(|l| {
                    l.iter()
                        .find(|(p, _)| format!("{p}/.well-known/openid-configuration") == path)
                        .map(|(_, i)| i.clone())
                });
                let (status, body) = match found {
                    Ok(Some(i)) => (
                        "200 OK",
                        serde_json::json!({ "issuer": i, "jwks_uri": "x" }).to_string(),
                    ),
                    _ => ("404 Not Found", "not found".to_string()),
                };
                let _ = write!(
                    conn,
                    "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        Discovery {
            base,
            issuers,
            stop,
            thread: Some(thread),
        }
    }

    /// Publishes `issuer` at `path` (replacing what that path published before).
    pub fn publish(&self, path: &str, issuer: &str) {
        let mut l = self.issuers.lock().expect("lock");
        l.retain(|(p, _)| p != path);
        l.push((path.to_string(), issuer.to_string()));
    }
}

impl Drop for Discovery {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// An OpenSSH server on loopback for one test: its own host key, a throwaway client key authorised for
/// root, key authentication only. `ssh_args` is what ozrepair needs in OZREPAIR_SSH_ARGS to use it.
pub struct Sshd {
    dir: tempfile::TempDir,
    pub port: u16,
    pub ssh_args: String,
    daemon: Child,
}

impl Sshd {
    pub fn start() -> Sshd {
        let sshd = PathBuf::from("/usr/sbin/sshd");
        assert!(
            sshd.exists(),
            "no /usr/sbin/sshd: scripts/test.sh installs Debian's openssh-server"
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        for (name, kind) in [("host_key", "ed25519"), ("client_key", "ed25519")] {
            let st = Command::new("ssh-keygen")
                .args(["-q", "-t", kind, "-N", "", "-f"])
                .arg(d.join(name))
                .stdin(Stdio::null())
                .status()
                .expect("ssh-keygen");
            assert!(st.success(), "ssh-keygen failed");
        }
        std::fs::copy(d.join("client_key.pub"), d.join("authorized_keys"))
            .expect("authorized_keys");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("port")
            .local_addr()
            .expect("addr")
            .port();
        let config = format!(
            "ListenAddress 127.0.0.1\nPort {port}\nHostKey {hk}\nAuthorizedKeysFile {ak}\nPidFile {pid}\nPermitRootLogin prohibit-password\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\nAllowStreamLocalForwarding yes\n",
            hk = d.join("host_key").display(),
            ak = d.join("authorized_keys").display(),
            pid = d.join("sshd.pid").display(),
        );
        std::fs::write(d.join("sshd_config"), config).expect("sshd_config");
        std::fs::create_dir_all("/run/sshd").expect("/run/sshd");
        let daemon = Command::new(&sshd)
            .args(["-D", "-e", "-f"])
            .arg(d.join("sshd_config"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(d.join("sshd.log")).expect("log"))
            .spawn()
            .expect("start sshd");
        poll("sshd to listen", Duration::from_secs(20), || {
            std::net::TcpStream::connect(("127.0.0.1", port))
                .ok()
                .map(|_| ())
        });
        let ssh_args = format!(
            "-i {} -o UserKnownHostsFile={} -o IdentitiesOnly=yes",
            d.join("client_key").display(),
            d.join("known_hosts").display()
        );
        Sshd {
            dir,
            port,
            ssh_args,
            daemon,
        }
    }

    /// The ssh:// endpoint of `engine` through this server.
    pub fn endpoint_for(&self, engine: &Engine) -> String {
        let socket = engine.host.trim_start_matches("unix://");
        format!("ssh://root@127.0.0.1:{}{socket}", self.port)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("sshd.log")).unwrap_or_default()
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
    }
}

/// A throwaway CA, a server certificate for 127.0.0.1 and a client certificate, made with openssl, in the
/// file names dockerd and the docker CLI expect (ca.pem, cert.pem, key.pem for the client).
fn make_certs(dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir).expect("certs dir");
    let run = |args: &[&str]| {
        let out = sh(Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .stdin(Stdio::null()));
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca-key.pem",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=ozr-test-ca",
    ]);
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
    )
    .expect("ext");
    std::fs::write(dir.join("client.ext"), "extendedKeyUsage=clientAuth\n").expect("ext");
    for (who, ext) in [("server", "server.ext"), ("client", "client.ext")] {
        run(&[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            &format!("{who}-key.pem"),
            "-out",
            &format!("{who}.csr"),
            "-subj",
            &format!("/CN={who}"),
        ]);
        run(&[
            "x509",
            "-req",
            "-in",
            &format!("{who}.csr"),
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca-key.pem",
            "-CAcreateserial",
            "-out",
            &format!("{who}-cert.pem"),
            "-days",
            "2",
            "-extfile",
            ext,
        ]);
    }
    std::fs::copy(dir.join("client-cert.pem"), dir.join("cert.pem")).expect("cert.pem");
    std::fs::copy(dir.join("client-key.pem"), dir.join("key.pem")).expect("key.pem");
    dir.to_path_buf()
}
