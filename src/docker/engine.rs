//! The Docker Engine API, through bollard: the few calls ozrepair makes, with errors that name the engine.
//! The tool never shells out to the docker CLI and never pulls an image.

use anyhow::{anyhow, bail, Result};
use bollard::query_parameters::{
    InspectContainerOptions, ListContainersOptionsBuilder, LogsOptionsBuilder,
    StartContainerOptions, StopContainerOptionsBuilder,
};
use bollard::Docker;
use futures_util::StreamExt;
use std::collections::HashMap;

/// One connection to one Docker engine.
pub struct Engine {
    docker: Docker,
    /// The endpoint as the operator would write it (for reports).
    pub endpoint: String,
    /// The SSH tunnel an ssh:// endpoint goes through (closed with the engine).
    _tunnel: Option<crate::docker::endpoint::Tunnel>,
}

/// What ozrepair needs to know about a container.
#[derive(Debug, Clone)]
pub struct Container {
    pub id: String,
    pub name: String,
    pub image: String,
    pub status: ContainerState,
    pub started_at: String,
    pub restart_count: i64,
    pub exit_code: i64,
    pub labels: HashMap<String, String>,
    pub mounts: Vec<Mount>,
}

/// A container's state as the engine reports it. An engine's word this build does not know is kept as
/// [`ContainerState::Other`], so a new or foreign state never breaks parsing; Podman's `stopped` is what
/// Docker calls `exited`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContainerState {
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

impl ContainerState {
    pub fn parse(word: &str) -> ContainerState {
        match word {
            "created" => ContainerState::Created,
            "running" => ContainerState::Running,
            "paused" => ContainerState::Paused,
            "restarting" => ContainerState::Restarting,
            "removing" => ContainerState::Removing,
            "stopping" => ContainerState::Stopping,
            "exited" | "stopped" => ContainerState::Exited,
            "dead" => ContainerState::Dead,
            other => ContainerState::Other(other.to_string()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            ContainerState::Created => "created",
            ContainerState::Running => "running",
            ContainerState::Paused => "paused",
            ContainerState::Restarting => "restarting",
            ContainerState::Removing => "removing",
            ContainerState::Stopping => "stopping",
            ContainerState::Exited => "exited",
            ContainerState::Dead => "dead",
            ContainerState::Other(w) => w,
        }
    }

    /// A process of the container is alive (or about to be), so it may hold the database open: it must be
    /// stopped before a write.
    pub fn holds_database(&self) -> bool {
        matches!(
            self,
            ContainerState::Running | ContainerState::Restarting | ContainerState::Paused
        )
    }

    /// Not running and not about to run again by itself.
    pub fn is_down(&self) -> bool {
        matches!(self, ContainerState::Exited | ContainerState::Created)
    }
}

impl std::fmt::Display for ContainerState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
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

/// One log line with the engine's timestamp.
pub struct LogLine {
    pub time: String,
    pub text: String,
}

impl Engine {
    /// `host`: unix://, tcp:// or http://; None means $DOCKER_HOST, else the local socket.
    pub fn connect(host: Option<&str>) -> Result<Engine> {
        let r = crate::docker::endpoint::resolve(host)?;
        let h = r.url.as_str();
        let unreachable = |e: bollard::errors::Error| {
            anyhow!("cannot reach the Docker engine at {h} ({e}); nothing was changed; start the engine or point -H/--host at the right one")
        };
        let (docker, tunnel) = if h.starts_with("ssh://") {
            let t = crate::docker::endpoint::ssh_tunnel(h)?;
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
        tracing::debug!(endpoint = h, from = %r.from, "docker endpoint");
        Ok(Engine {
            docker,
            endpoint: r.url,
            _tunnel: tunnel,
        })
    }

    /// An engine error as one line: a refusal quotes the engine, anything else means it did not answer.
    fn unreachable(&self, e: bollard::errors::Error) -> anyhow::Error {
        match e {
            bollard::errors::Error::DockerResponseServerError { status_code, message } => {
                let message = message.split_whitespace().collect::<Vec<_>>().join(" ");
                anyhow!("the Docker engine at {} refused the request ({status_code}: {message})", self.endpoint)
            }
            e => anyhow!(
                "the Docker engine at {} does not answer ({e}); start the engine or point -H/--host at the right one",
                self.endpoint
            ),
        }
    }

    pub async fn ping(&self) -> Result<()> {
        self.docker
            .ping()
            .await
            .map(|_| ())
            .map_err(|e| self.unreachable(e))
    }

    /// Every container in any state, by id.
    pub async fn container_ids(&self) -> Result<Vec<String>> {
        let opts = ListContainersOptionsBuilder::default().all(true).build();
        let list = self
            .docker
            .list_containers(Some(opts))
            .await
            .map_err(|e| self.unreachable(e))?;
        Ok(list.into_iter().filter_map(|c| c.id).collect())
    }

    /// Inspects a container by name or id; Ok(None) when there is no such container.
    pub async fn container(&self, name_or_id: &str) -> Result<Option<Container>> {
        tracing::debug!(engine = %self.endpoint, container = name_or_id, "inspect container");
        let i = match self
            .docker
            .inspect_container(name_or_id, None::<InspectContainerOptions>)
            .await
        {
            Ok(i) => i,
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => return Ok(None),
            Err(e) => return Err(self.unreachable(e)),
        };
        let state = i.state.unwrap_or_default();
        let config = i.config.unwrap_or_default();
        let mounts = i
            .mounts
            .unwrap_or_default()
            .into_iter()
            .filter_map(|m| {
                Some(Mount {
                    kind: MountKind::parse(&m.typ.map(|t| t.to_string()).unwrap_or_default()),
                    name: m.name.filter(|n| !n.is_empty()),
                    source: m.source.filter(|s| !s.is_empty())?,
                    destination: m.destination.unwrap_or_default(),
                })
            })
            .collect();
        Ok(Some(Container {
            id: i.id.unwrap_or_default(),
            name: i
                .name
                .unwrap_or_default()
                .trim_start_matches('/')
                .to_string(),
            image: config.image.unwrap_or_default(),
            status: ContainerState::parse(&state.status.map(|s| s.to_string()).unwrap_or_default()),
            started_at: state.started_at.unwrap_or_default(),
            restart_count: i.restart_count.unwrap_or(0),
            exit_code: state.exit_code.unwrap_or(0),
            labels: config.labels.unwrap_or_default(),
            mounts,
        }))
    }

    /// The host path of a named volume (its Mountpoint).
    pub async fn volume_mountpoint(&self, name: &str) -> Result<Option<String>> {
        match self.docker.inspect_volume(name).await {
            Ok(v) => Ok(Some(v.mountpoint)),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(None),
            Err(e) => Err(self.unreachable(e)),
        }
    }

    /// The last `tail` lines of stdout and stderr, with timestamps, oldest first.
    pub async fn logs(&self, id: &str, tail: usize) -> Result<Vec<LogLine>> {
        tracing::debug!(container = id, tail, "read logs");
        let opts = LogsOptionsBuilder::default()
            .stdout(true)
            .stderr(true)
            .timestamps(true)
            .tail(&tail.to_string())
            .build();
        let mut stream = self.docker.logs(id, Some(opts));
        let mut out = Vec::new();
        // Each chunk is one frame of the engine's stream (one log entry, stdout or stderr): decoding them
        // one by one keeps an entry of one stream from being glued to the other's.
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| self.unreachable(e))?;
            let bytes = chunk.into_bytes();
            for l in String::from_utf8_lossy(&bytes)
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
        Ok(out)
    }

    /// The tar stream of `path` in the container (running or stopped); Ok(None) when there is no such path.
    pub async fn download(&self, id: &str, path: &str) -> Result<Option<Vec<u8>>> {
        tracing::debug!(container = id, path, "archive download");
        let opts = bollard::query_parameters::DownloadFromContainerOptionsBuilder::default()
            .path(path)
            .build();
        let mut stream = self.docker.download_from_container(id, Some(opts));
        let mut out = Vec::new();
        while let Some(chunk) = stream.next().await {
            match chunk {
                Ok(b) => out.extend_from_slice(&b),
                Err(bollard::errors::Error::DockerResponseServerError {
                    status_code: 404, ..
                }) => return Ok(None),
                Err(e) => return Err(self.unreachable(e)),
            }
        }
        Ok(Some(out))
    }

    /// Whether `path` exists in the container (archive HEAD: no content is copied).
    pub async fn exists(&self, id: &str, path: &str) -> Result<bool> {
        let opts = bollard::query_parameters::ContainerArchiveInfoOptionsBuilder::default()
            .path(path)
            .build();
        match self.docker.get_container_archive_info(id, Some(opts)).await {
            Ok(_) => Ok(true),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(false),
            Err(e) => Err(self.unreachable(e)),
        }
    }

    /// Extracts a tar stream into directory `dir` of the container (Docker replaces existing files).
    pub async fn upload(&self, id: &str, dir: &str, tar: Vec<u8>) -> Result<()> {
        tracing::debug!(container = id, dir, bytes = tar.len(), "archive upload");
        let opts = bollard::query_parameters::UploadToContainerOptionsBuilder::default()
            .path(dir)
            .build();
        self.docker
            .upload_to_container(id, Some(opts), bollard::body_full(tar.into()))
            .await
            .map_err(|e| self.unreachable(e))
    }

    /// Stops the container (SIGTERM, then SIGKILL after `grace` seconds). Stopping also halts a restart loop.
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
