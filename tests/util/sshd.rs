//! An OpenSSH server on loopback for one test, to reach an engine over ssh://.

use crate::util::engine::{free_port, Engine};
use crate::util::poll;
use crate::util::run;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Its own host key, a throwaway client key authorised for root, key authentication only. `ssh_args` is
/// what ozrepair needs in OZREPAIR_SSH_ARGS to use it: the client key, and a known_hosts file that holds
/// the server's host key, written there as an operator would after checking it (ozrepair trusts no
/// unknown host on its own). Stopped when dropped.
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
        for name in ["host_key", "client_key"] {
            let made = run::output(
                Command::new("ssh-keygen")
                    .args(["-q", "-t", "ed25519", "-N", "", "-f"])
                    .arg(d.join(name)),
            );
            assert!(
                made.status.success(),
                "ssh-keygen failed: {}",
                made.stderr_text()
            );
        }
        std::fs::copy(d.join("client_key.pub"), d.join("authorized_keys"))
            .expect("authorized_keys");
        let port = free_port();
        let config = format!(
            "ListenAddress 127.0.0.1\nPort {port}\nHostKey {hk}\nAuthorizedKeysFile {ak}\nPidFile {pid}\nPermitRootLogin prohibit-password\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\nAllowStreamLocalForwarding yes\nSubsystem sftp internal-sftp\n",
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
        let mut sshd = Sshd {
            dir,
            port,
            ssh_args: String::new(),
            daemon,
        };
        let known = sshd.dir.path().join("known_hosts");
        std::fs::write(&known, sshd.known_hosts_line() + "\n").expect("known_hosts");
        sshd.ssh_args = sshd.ssh_args_with(&known);
        sshd
    }

    /// OZREPAIR_SSH_ARGS for this server with `known_hosts` as the only known-hosts file. Its path may hold
    /// spaces: ssh splits UserKnownHostsFile's value at blanks unless it is double-quoted, and the option is
    /// single-quoted around that as for a shell.
    pub fn ssh_args_with(&self, known_hosts: &Path) -> String {
        format!(
            "-i {} -o 'UserKnownHostsFile=\"{}\"' -o GlobalKnownHostsFile=/dev/null -o IdentitiesOnly=yes",
            self.client_key().display(),
            known_hosts.display()
        )
    }

    /// The ssh:// endpoint of `engine`'s unix socket through this server.
    pub fn endpoint_for(&self, engine: &Engine) -> String {
        format!(
            "ssh://root@127.0.0.1:{}{}",
            self.port,
            engine.socket.display()
        )
    }

    /// The client key this server accepts (for root).
    pub fn client_key(&self) -> PathBuf {
        self.dir.path().join("client_key")
    }

    /// This server's host key as a known_hosts line for `[127.0.0.1]:port`.
    pub fn known_hosts_line(&self) -> String {
        let public =
            std::fs::read_to_string(self.dir.path().join("host_key.pub")).expect("host key");
        let mut it = public.split_whitespace();
        let (kind, key) = (it.next().unwrap_or_default(), it.next().unwrap_or_default());
        format!("[127.0.0.1]:{} {kind} {key}", self.port)
    }

    /// What the server logged.
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
