//! A deployment in a private engine: a volume holding a Dex database and a container running the
//! stand-in management server on it, laid out as one of the shapes found in the field.

use crate::util::engine::{Engine, IMAGE};
use crate::util::poll;
use crate::util::seed::{DexDb, JUMPCLOUD_SLASH};
use std::path::PathBuf;
use std::time::Duration;

/// Where a deployment keeps its database: the container's and volume's names, the volume's mount point
/// in the container, the database's file name.
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

/// The deployment of the openZro troubleshooting page, locked out: [`DexDb::locked_out`] in the
/// [`OPENZRO`] layout, the stand-in crash-looping on the JumpCloud issuer without its slash (it has
/// restarted at least twice).
pub fn locked_out(e: &Engine) -> Deployment {
    let d = Deployment::create(e, &OPENZRO, &DexDb::locked_out());
    d.run(e, &[("STANDIN_PUBLISHED", JUMPCLOUD_SLASH)]);
    d.wait_restarts(e, 2);
    d
}

pub struct Deployment {
    pub container: String,
    pub volume: String,
    /// Where the container mounts the volume, and the database's name in it.
    mount: String,
    db_name: String,
    /// The volume's directory on the host.
    pub mountpoint: PathBuf,
    /// The database's path on the host.
    pub db: PathBuf,
    /// The volume is a directory of the host, bind-mounted ([`Deployment::create_bind`]).
    bind: bool,
}

/// What the engine says about a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct State {
    pub status: String,
    /// -1 when the engine's answer was not a number.
    pub restarts: i64,
    pub started_at: String,
}

impl Deployment {
    /// Creates the layout's volume and writes `db` into it; no container yet.
    pub fn create(e: &Engine, l: &Layout, db: &DexDb) -> Deployment {
        e.docker_ok(&["volume", "create", l.volume]);
        let mountpoint =
            PathBuf::from(e.docker_ok(&["volume", "inspect", "-f", "{{.Mountpoint}}", l.volume]));
        let path = mountpoint.join(l.db_name);
        db.write(&path);
        Deployment {
            container: l.container.into(),
            volume: l.volume.into(),
            mount: l.mount.into(),
            db_name: l.db_name.into(),
            mountpoint,
            db: path,
            bind: false,
        }
    }

    /// Like `create`, with the database in `dir`, a directory of the host that the container will
    /// bind-mount at the layout's mount point (`volume` is then that directory).
    pub fn create_bind(l: &Layout, db: &DexDb, dir: &std::path::Path) -> Deployment {
        let path = dir.join(l.db_name);
        db.write(&path);
        Deployment {
            container: l.container.into(),
            volume: dir.display().to_string(),
            mount: l.mount.into(),
            db_name: l.db_name.into(),
            mountpoint: dir.to_path_buf(),
            db: path,
            bind: true,
        }
    }

    /// Starts the stand-in on the volume with `env` (STANDIN_*), restart policy always.
    pub fn run(&self, e: &Engine, env: &[(&str, &str)]) {
        self.run_with(e, env, &[]);
    }

    /// Like `run`, with more `docker run` arguments (--user, --label, -v for config files…).
    pub fn run_with(&self, e: &Engine, env: &[(&str, &str)], extra: &[&str]) {
        self.run_image(e, IMAGE, env, extra);
    }

    /// Like `run_with`, from another stand-in image (the Go one: [`crate::util::engine::GO_IMAGE`]).
    pub fn run_image(&self, e: &Engine, image: &str, env: &[(&str, &str)], extra: &[&str]) {
        self.run_image_on(e, image, "none", env, extra);
    }

    /// Like `run_image`, on the network `network` (`host`: the stand-in's provider on this machine's
    /// loopback, where ozrepair and the Go checkers reach it too) unless `extra` names one.
    pub fn run_image_on(
        &self,
        e: &Engine,
        image: &str,
        network: &str,
        env: &[(&str, &str)],
        extra: &[&str],
    ) {
        let mut args: Vec<String> = ["run", "-d", "--pull", "never"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        // `network` unless `extra` names one (`--network host`: it shares this machine's loopback).
        if !extra.contains(&"--network") {
            args.extend(["--network".to_string(), network.to_string()]);
        }
        args.extend(["--restart", "always", "--name"].map(String::from));
        args.push(self.container.clone());
        args.push("-v".into());
        args.push(format!("{}:{}", self.volume, self.mount));
        args.push("-e".into());
        args.push(format!("STANDIN_DB={}/{}", self.mount, self.db_name));
        // Each value from the client's environment, by name: the stand-in's secrets (STANDIN_CLIENTS)
        // are then on no command line that a test scanning the process list could find.
        for (k, _) in env {
            args.push("-e".into());
            args.push(k.to_string());
        }
        args.extend(extra.iter().map(|s| s.to_string()));
        args.push(image.into());
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        e.docker_ok_with(&refs, env);
    }

    /// Waits until the container has crashed and been restarted at least `n` times.
    pub fn wait_restarts(&self, e: &Engine, n: i64) {
        poll(
            "the container to crash-loop",
            Duration::from_secs(60),
            || {
                let c: i64 = e
                    .try_inspect(&self.container, "{{.RestartCount}}")?
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
                let all = format!("{}{}", logs.stdout_text(), logs.stderr_text());
                (all.contains("running HTTP server and gRPC server")
                    || all.contains("listening on"))
                .then_some(())
            },
        );
    }

    /// Removes the container and its volume, so that the layout can be made afresh on the same engine.
    pub fn remove(&self, e: &Engine) {
        e.docker_ok(&["rm", "-f", &self.container]);
        if !self.bind {
            e.docker_ok(&["volume", "rm", "-f", &self.volume]);
        }
    }

    pub fn state(&self, e: &Engine) -> State {
        let s = e.inspect(
            &self.container,
            "{{.State.Status}} {{.RestartCount}} {{.State.StartedAt}}",
        );
        let mut it = s.split_whitespace();
        State {
            status: it.next().unwrap_or_default().to_string(),
            restarts: it.next().and_then(|n| n.parse().ok()).unwrap_or(-1),
            started_at: it.next().unwrap_or_default().to_string(),
        }
    }
}
