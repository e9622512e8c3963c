//! Which Docker engine to talk to, the way the docker CLI decides it: `-H`/`$DOCKER_HOST`, else the
//! Docker context (`$DOCKER_CONTEXT`, else `currentContext` in `$DOCKER_CONFIG/config.json`), else the
//! local socket. `ssh://[user@]host[:port][/remote/socket]` goes through an SSH tunnel of our own: the
//! system `ssh` forwards a local unix socket to the remote engine's socket. That honours the port (which
//! bollard 0.21's ssh transport drops) and needs nothing on the remote side but sshd and the socket.
//! Extra ssh options (an identity file, a known-hosts file) come from `$OZREPAIR_SSH_ARGS`, split into
//! words as a shell would split them ([`shell_words`]).
//!
//! Host keys are checked as the operator's ssh config says, as the docker CLI leaves them: ozrepair
//! passes no `StrictHostKeyChecking` of its own, and `BatchMode` makes an unknown key an error (never a
//! prompt), which ozrepair reports as one line naming the host and the `ssh-keyscan`/known_hosts step.
//! `--ssh-accept-new` opts in to trusting a key seen for the first time (`StrictHostKeyChecking=
//! accept-new`); the report's `located` then says that the key was accepted ([`accepted_line`]).

use anyhow::{anyhow, bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// `--ssh-accept-new`, for this process (set once by main before any engine is reached).
static ACCEPT_NEW: AtomicBool = AtomicBool::new(false);

/// Trust host keys ssh has not seen yet (`--ssh-accept-new`).
pub fn accept_new_host_keys(yes: bool) {
    ACCEPT_NEW.store(yes, Ordering::Relaxed);
}

/// How the report's `located` line starts when a host key was accepted.
const ACCEPTED: &str = "ssh: accepted the new host key of ";
const ACCEPTED_END: &str = ": ssh did not know it, and --ssh-accept-new added it to known_hosts";

/// The report's `located` line for a host key `--ssh-accept-new` trusted (`key`: host and key type).
pub fn accepted_line(key: &str) -> String {
    format!("{ACCEPTED}{key}{ACCEPTED_END}")
}

/// The host and key type of an [`accepted_line`] (for the fleet report); None for any other line.
pub fn accepted_key(line: &str) -> Option<&str> {
    line.strip_prefix(ACCEPTED)?.strip_suffix(ACCEPTED_END)
}

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

/// `s` split into words as a POSIX shell splits a command line, without running anything: blanks
/// separate words, `'…'` keeps everything, `"…"` keeps everything but `\` before `"`, `\`, `$`, a
/// backquote or a newline, and `\` outside quotes keeps the next character. What a shell would expand or
/// run (`$`, a backquote, `;`, `|`, `&`, `<`, `>`, `(`, `)`, outside single quotes) is refused, as is
/// an unclosed quote: the words are never a guess.
pub fn shell_words(s: &str) -> Result<Vec<String>> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut it = s.chars();
    while let Some(c) = it.next() {
        match c {
            ' ' | '\t' | '\n' => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match it.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => bail!("a single quote that is not closed"),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match it.next() {
                        Some('"') => break,
                        Some('\\') => match it.next() {
                            Some(e @ ('"' | '\\' | '$' | '`')) => word.push(e),
                            Some('\n') => {}
                            Some(e) => {
                                word.push('\\');
                                word.push(e);
                            }
                            None => bail!("a double quote that is not closed"),
                        },
                        Some(c @ ('$' | '`')) => {
                            bail!("{c:?} inside double quotes, which a shell would expand (ozrepair does not)")
                        }
                        Some(c) => word.push(c),
                        None => bail!("a double quote that is not closed"),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match it.next() {
                    Some('\n') => {}
                    Some(e) => word.push(e),
                    None => bail!("a backslash at the end"),
                }
            }
            '$' | '`' | ';' | '|' | '&' | '<' | '>' | '(' | ')' => {
                bail!("{c:?}, which a shell would expand or run (ozrepair does not): quote it")
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

/// A running `ssh -N -L local.sock:remote.sock`; killed when dropped.
pub struct Tunnel {
    child: Child,
    _dir: tempfile::TempDir,
    pub socket: PathBuf,
    /// `--ssh-accept-new` trusted this host's key, unknown until now: the host and key type as ssh
    /// names them (`[vpn.example.com]:2222 (ED25519)`).
    pub accepted: Option<String>,
}

/// The name known_hosts gives `host` on `port` (`host`, or `[host]:port` off port 22).
fn known_name(host: &str, port: Option<u16>) -> String {
    match port {
        Some(p) if p != 22 => format!("[{host}]:{p}"),
        _ => host.to_string(),
    }
}

/// What a host-key refusal by ssh means, as one line; None when ssh failed for another reason.
fn host_key_refusal(url: &str, stderr: &str, host: &str, port: Option<u16>) -> Option<String> {
    let known = known_name(host, port);
    if stderr.contains("REMOTE HOST IDENTIFICATION HAS CHANGED")
        || (stderr.contains("Host key for") && stderr.contains("has changed"))
    {
        return Some(format!(
            "ssh to {url} refused the connection: the host key of {known} is not the one known_hosts holds (a reinstalled server, or a machine in the middle); nothing was changed; check the server's key out of band, then replace the old one (`ssh-keygen -R '{known}'`, and add the checked key)"
        ));
    }
    if stderr.contains("Host key verification failed") {
        let p = port
            .filter(|&p| p != 22)
            .map(|p| format!(" -p {p}"))
            .unwrap_or_default();
        return Some(format!(
            "ssh to {url} stopped: the host key of {known} is not known (not in known_hosts), and ozrepair trusts no host on its own; nothing was changed; check the key and add it (`ssh-keyscan{p} {host} >> ~/.ssh/known_hosts`, its fingerprint by `ssh-keygen -lf` compared with the server's own), or re-run with --ssh-accept-new to trust it on first use"
        ));
    }
    None
}

/// What the pipe holds now, without waiting (ssh wrote it before the tunnel accepted a connection).
fn read_available(pipe: &mut std::process::ChildStderr) -> String {
    use std::io::Read;
    use std::os::fd::AsRawFd;
    let fd = pipe.as_raw_fd();
    // SAFETY: `fd` is the open read end of the child's stderr pipe, owned by `pipe` for this call.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    // SAFETY: as above; only O_NONBLOCK is added to the flags just read.
    if flags < 0 || unsafe { libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) } < 0 {
        return String::new();
    }
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match pipe.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
        if out.len() > 1 << 16 {
            break;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The host and key type of ssh's "Permanently added '[h]:p' (ED25519) to the list of known hosts".
fn permanently_added(stderr: &str) -> Option<String> {
    let line = stderr.lines().find(|l| l.contains("Permanently added '"))?;
    let rest = &line[line.find("Permanently added '")? + "Permanently added '".len()..];
    let (host, rest) = rest.split_once('\'')?;
    let kind = rest
        .trim_start()
        .strip_prefix('(')
        .and_then(|r| r.split_once(')'))
        .map(|(k, _)| format!(" ({k})"))
        .unwrap_or_default();
    Some(format!("{host}{kind}"))
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
    let host = dest.rsplit_once('@').map_or(dest.as_str(), |(_, h)| h);
    let accept_new = ACCEPT_NEW.load(Ordering::Relaxed);
    let mut cmd = Command::new("ssh");
    cmd.args([
        "-N",
        "-o",
        "BatchMode=yes",
        "-o",
        "ExitOnForwardFailure=yes",
    ]);
    if accept_new {
        cmd.args(["-o", "StrictHostKeyChecking=accept-new"]);
    }
    if let Some(p) = port {
        cmd.args(["-p", &p.to_string()]);
    }
    if let Some(extra) = std::env::var_os("OZREPAIR_SSH_ARGS") {
        let extra = extra.to_str().ok_or_else(|| {
            anyhow!("$OZREPAIR_SSH_ARGS is not UTF-8 text; nothing was changed; write it in UTF-8")
        })?;
        let words = shell_words(extra).map_err(|e| {
            anyhow!("$OZREPAIR_SSH_ARGS cannot be split into ssh's arguments ({e}); nothing was changed; quote it as for a shell")
        })?;
        cmd.args(words);
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
            if let Some(line) = host_key_refusal(url, &err, host, port) {
                bail!("{line}");
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
    let accepted = if accept_new {
        child
            .stderr
            .as_mut()
            .map(read_available)
            .and_then(|e| permanently_added(&e))
    } else {
        None
    };
    if let Some(k) = &accepted {
        tracing::debug!(key = %k, "ssh accepted a new host key");
    }
    Ok(Tunnel {
        child,
        _dir: dir,
        socket,
        accepted,
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
    fn ssh_args_are_split_as_a_shell_splits_them() {
        let w = shell_words(
            "-i /k -o 'UserKnownHostsFile=/a b/known' -o \"ProxyCommand=nc \\\"x\\\" %h\" a\\ b\t ''",
        )
        .unwrap();
        assert_eq!(
            w,
            [
                "-i",
                "/k",
                "-o",
                "UserKnownHostsFile=/a b/known",
                "-o",
                "ProxyCommand=nc \"x\" %h",
                "a b",
                ""
            ]
        );
        assert_eq!(shell_words("  ").unwrap(), Vec::<String>::new());
        for bad in ["-o 'x", "-o \"x", "$HOME/k", "a;b", "\"$X\"", "`id`", "x\\"] {
            assert!(shell_words(bad).is_err(), "{bad:?}");
        }
        assert_eq!(shell_words("'$HOME'").unwrap(), ["$HOME"]);
    }

    #[test]
    fn host_key_refusals_are_one_line_naming_the_host() {
        let unknown = "No ED25519 host key is known for [10.0.0.5]:2222 and you have requested strict checking.\r\nHost key verification failed.\r\n";
        let m =
            host_key_refusal("ssh://root@10.0.0.5:2222", unknown, "10.0.0.5", Some(2222)).unwrap();
        assert!(m.contains("[10.0.0.5]:2222 is not known"), "{m}");
        assert!(m.contains("ssh-keyscan -p 2222 10.0.0.5"), "{m}");
        assert!(m.contains("--ssh-accept-new"), "{m}");
        assert!(!m.contains('\n'));
        let changed = "@@@@\r\n@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\r\nHost key verification failed.\r\n";
        let m = host_key_refusal("ssh://vpn", changed, "vpn", None).unwrap();
        assert!(m.contains("ssh-keygen -R 'vpn'"), "{m}");
        assert!(host_key_refusal("ssh://vpn", "Connection refused", "vpn", None).is_none());
        assert_eq!(
            accepted_key(&accepted_line("[h]:22 (RSA)")),
            Some("[h]:22 (RSA)")
        );
        assert_eq!(
            permanently_added("Warning: Permanently added '[127.0.0.1]:4022' (ED25519) to the list of known hosts.\r\n").as_deref(),
            Some("[127.0.0.1]:4022 (ED25519)")
        );
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
