//! Which Docker engine to talk to, the way the docker CLI decides it: `-H`/`$DOCKER_HOST`, else the
//! Docker context (`$DOCKER_CONTEXT`, else `currentContext` in `$DOCKER_CONFIG/config.json`), else the
//! local socket. `ssh://[user@]host[:port][/remote/socket]` goes through an SSH tunnel of our own: the
//! system `ssh` forwards a local unix socket to the remote engine's socket. That honours the port (which
//! bollard 0.21's ssh transport drops) and needs nothing on the remote side but sshd and the socket.
//! Extra ssh options (an identity file, a known-hosts file) come from `$OZREPAIR_SSH_ARGS`.

use anyhow::{anyhow, bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const LOCAL: &str = "unix:///var/run/docker.sock";

/// The endpoint, and where it came from (for the report).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub url: String,
    pub from: String,
}

fn docker_config_dir() -> PathBuf {
    match std::env::var_os("DOCKER_CONFIG") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/root".into()))
            .join(".docker"),
    }
}

/// The endpoint of Docker context `name` from its meta.json (contexts/meta/<sha256 of name>/meta.json).
fn context_host(config: &Path, name: &str) -> Result<String> {
    let meta = config.join("contexts/meta");
    for entry in std::fs::read_dir(&meta).with_context(|| {
        format!(
            "Docker context {name:?} is set, but {} cannot be read",
            meta.display()
        )
    })? {
        let file = entry?.path().join("meta.json");
        let Ok(bytes) = std::fs::read(&file) else {
            continue;
        };
        let Ok(v) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
            continue;
        };
        if v["Name"].as_str() == Some(name) {
            return v["Endpoints"]["docker"]["Host"]
                .as_str()
                .map(String::from)
                .ok_or_else(|| {
                    anyhow!(
                        "Docker context {name:?} ({}) names no docker endpoint",
                        file.display()
                    )
                });
        }
    }
    bail!("Docker context {name:?} is set but not found under {}; `docker context ls` lists them, or pass -H", meta.display())
}

/// Decides the endpoint from the flag (clap already folded `$DOCKER_HOST` into it) and the context.
pub fn resolve(host: Option<&str>) -> Result<Resolved> {
    resolve_in(
        host,
        &docker_config_dir(),
        std::env::var("DOCKER_CONTEXT").ok(),
    )
}

fn resolve_in(host: Option<&str>, config: &Path, env_context: Option<String>) -> Result<Resolved> {
    if let Some(h) = host.filter(|h| !h.is_empty()) {
        return Ok(Resolved {
            url: h.to_string(),
            from: "-H/DOCKER_HOST".into(),
        });
    }
    let current = env_context.filter(|c| !c.is_empty()).or_else(|| {
        let bytes = std::fs::read(config.join("config.json")).ok()?;
        let v: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
        v["currentContext"].as_str().map(String::from)
    });
    match current {
        Some(name) if name != "default" => Ok(Resolved {
            url: context_host(config, &name)?,
            from: format!("Docker context {name}"),
        }),
        _ => Ok(Resolved {
            url: LOCAL.into(),
            from: "the local socket".into(),
        }),
    }
}

/// `ssh://[user@]host[:port][/remote/socket]` -> (destination, port, remote socket path).
pub fn parse_ssh(url: &str) -> Result<(String, Option<u16>, String)> {
    let rest = url
        .strip_prefix("ssh://")
        .ok_or_else(|| anyhow!("{url:?} is not an ssh:// URL"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let (user, hostport) = match authority.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, authority),
    };
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || hostport.starts_with('[') => {
            let port = p
                .parse::<u16>()
                .map_err(|_| anyhow!("{url:?}: {p:?} is not a port"))?;
            (h.trim_start_matches('[').trim_end_matches(']'), Some(port))
        }
        _ => (hostport, None),
    };
    if host.is_empty() {
        bail!("{url:?} names no host");
    }
    let dest = match user {
        Some(u) => format!("{u}@{host}"),
        None => host.to_string(),
    };
    let socket = if path.is_empty() || path == "/" {
        "/var/run/docker.sock".to_string()
    } else {
        path.to_string()
    };
    Ok((dest, port, socket))
}

/// A running `ssh -N -L local.sock:remote.sock`; killed when dropped.
pub struct Tunnel {
    child: Child,
    _dir: tempfile::TempDir,
    pub socket: PathBuf,
}

impl Drop for Tunnel {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn ssh_tunnel(url: &str) -> Result<Tunnel> {
    let (dest, port, remote) = parse_ssh(url)?;
    let dir = tempfile::Builder::new()
        .prefix("ozrepair-ssh-")
        .tempdir()
        .context("cannot create a directory for the SSH tunnel")?;
    let socket = dir.path().join("docker.sock");
    let mut cmd = Command::new("ssh");
    cmd.args([
        "-N",
        "-o",
        "BatchMode=yes",
        "-o",
        "ExitOnForwardFailure=yes",
        "-o",
        "StrictHostKeyChecking=accept-new",
    ]);
    if let Some(p) = port {
        cmd.args(["-p", &p.to_string()]);
    }
    if let Ok(extra) = std::env::var("OZREPAIR_SSH_ARGS") {
        cmd.args(extra.split_whitespace());
    }
    cmd.arg("-L")
        .arg(format!("{}:{remote}", socket.display()))
        .arg(&dest);
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    tracing::debug!(?cmd, "ssh tunnel");
    let mut child = cmd
        .spawn()
        .map_err(|e| anyhow!("cannot run ssh for {url} ({e}); install the OpenSSH client"))?;
    let end = Instant::now() + Duration::from_secs(20);
    // Ready when a connection is accepted: ssh creates the socket file before it listens on it, and a
    // connect in between is refused. Looked at often first (a tunnel is up in tens of milliseconds).
    let mut pause = Duration::from_millis(2);
    while std::os::unix::net::UnixStream::connect(&socket).is_err() {
        if let Some(status) = child.try_wait()? {
            let mut err = String::new();
            if let Some(mut s) = child.stderr.take() {
                let _ = std::io::Read::read_to_string(&mut s, &mut err);
            }
            bail!(
                "ssh to {url} failed ({status}: {}); nothing was changed; check that `ssh{} {dest}` works without a password prompt",
                err.lines().last().unwrap_or("no message").trim(),
                port.map(|p| format!(" -p {p}")).unwrap_or_default()
            );
        }
        if Instant::now() > end {
            let _ = child.kill();
            bail!("ssh to {url} did not set up the tunnel within 20 s; nothing was changed");
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(50));
    }
    Ok(Tunnel {
        child,
        _dir: dir,
        socket,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssh_urls() {
        assert_eq!(
            parse_ssh("ssh://root@vpn:2222").unwrap(),
            ("root@vpn".into(), Some(2222), "/var/run/docker.sock".into())
        );
        assert_eq!(
            parse_ssh("ssh://vpn").unwrap(),
            ("vpn".into(), None, "/var/run/docker.sock".into())
        );
        assert_eq!(
            parse_ssh("ssh://u@[::1]:22/run/user/1000/docker.sock").unwrap(),
            (
                "u@::1".into(),
                Some(22),
                "/run/user/1000/docker.sock".into()
            )
        );
        assert!(parse_ssh("ssh://host:notaport").is_err());
        assert!(parse_ssh("ssh://").is_err());
    }

    #[test]
    fn contexts_like_the_docker_cli() {
        let dir = tempfile::tempdir().unwrap();
        let meta = dir.path().join("contexts/meta/abc");
        std::fs::create_dir_all(&meta).unwrap();
        std::fs::write(
            meta.join("meta.json"),
            r#"{"Name":"site-b","Endpoints":{"docker":{"Host":"ssh://root@b:2222"}}}"#,
        )
        .unwrap();
        std::fs::write(
            dir.path().join("config.json"),
            r#"{"currentContext":"site-b"}"#,
        )
        .unwrap();
        let r = resolve_in(None, dir.path(), None).unwrap();
        assert_eq!(r.url, "ssh://root@b:2222");
        assert_eq!(r.from, "Docker context site-b");
        // -H wins over the context; DOCKER_CONTEXT wins over config.json; "default" is the local socket.
        assert_eq!(
            resolve_in(Some("tcp://x:2375"), dir.path(), None)
                .unwrap()
                .url,
            "tcp://x:2375"
        );
        assert_eq!(
            resolve_in(None, dir.path(), Some("default".into()))
                .unwrap()
                .url,
            LOCAL
        );
        assert!(resolve_in(None, dir.path(), Some("nope".into())).is_err());
        assert_eq!(
            resolve_in(None, Path::new("/nonexistent"), None)
                .unwrap()
                .url,
            LOCAL
        );
    }
}
