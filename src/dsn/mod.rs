//! A Dex store on a database server (PostgreSQL, MySQL/MariaDB), as a value: where the deployment's
//! configuration names it and how Dex connects to it ([`Server`]). A leaf: locate reads it out of the
//! config files ([`find`]), the operator may give it (`--dsn-file`, `$OZREPAIR_DSN`: [`given`]), and the
//! store connects with it (`store::server`). The password is a [`Secret`]: it never reaches a report,
//! a log line, a backup manifest or a process's arguments.
//!
//! - [`expand`]: Go's `os.ExpandEnv`, which Dex runs over its `storage.config` strings;
//! - [`pg`]: libpq connection strings (`key=value` and `postgres://` URIs) as lib/pq and NetBird read them;
//! - [`my`]: go-sql-driver/mysql DSNs and `mysql://` URIs;
//! - [`find`]: NetBird's combined `config.yaml` (`server.authStore`), and Dex's `config.yaml` (`storage:`).

pub mod expand;
pub mod find;
pub mod my;
pub mod pg;

use anyhow::{anyhow, bail, Result};
use std::path::PathBuf;

/// Which server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavour {
    Postgres,
    Mysql,
}

impl Flavour {
    /// As the report names the store.
    pub fn as_str(self) -> &'static str {
        match self {
            Flavour::Postgres => "postgres",
            Flavour::Mysql => "mysql",
        }
    }

    pub fn default_port(self) -> u16 {
        match self {
            Flavour::Postgres => 5432,
            Flavour::Mysql => 3306,
        }
    }
}

/// A password: shown as `[redacted]` by Debug, read only through [`Secret::expose`].
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_empty() {
            "\"\""
        } else {
            "[redacted]"
        })
    }
}

/// TLS as the configuration asks for it (the mode as written, "" when it names none) and its files (on
/// this machine once located).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tls {
    pub mode: String,
    pub ca_file: Option<PathBuf>,
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
}

/// How the connection is secured, as Dex's driver would secure it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// No TLS (`sslmode=disable`, MySQL `false`).
    Plain,
    /// TLS if the server offers it, unverified; plain otherwise (`prefer`, `allow`, MySQL `preferred`).
    Prefer,
    /// TLS, the certificate not verified (`require` without a CA, MySQL `skip-verify`).
    Unverified,
    /// TLS, the chain verified but not the name (`verify-ca`, `require` with a CA file).
    VerifyCa,
    /// TLS, chain and host name verified (`verify-full`, MySQL `true`; the default of both when the
    /// configuration names no mode).
    VerifyFull,
}

/// A Dex store on a database server, as this machine reaches it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    pub flavour: Flavour,
    /// A host name or address, or a Unix socket (PostgreSQL: the socket's directory; MySQL: the socket
    /// file), as this machine reaches it.
    pub host: String,
    pub port: u16,
    pub database: String,
    pub user: String,
    pub password: Secret,
    pub tls: Tls,
    /// Seconds to wait for the connection (Dex's `connectionTimeout`, libpq's `connect_timeout`); None:
    /// ozrepair's default.
    pub connect_timeout: Option<u64>,
    /// Where these settings came from (a file and its key, `--dsn-file`), for the report.
    pub from: String,
    /// The name the server's certificate must carry when `host` is not the name the IdP uses (a
    /// container's address in place of its name).
    pub server_name: Option<String>,
    /// How this machine reaches the server when not as written (a socket through a container's mount, a
    /// container's address on its network), for the report.
    pub via: Option<String>,
    /// Notes on the settings (an SSL mode Dex's driver refuses, values taken from the environment).
    pub notes: Vec<String>,
}

impl Server {
    /// Settings with only a flavour and an address: no database, user, password, TLS or timeout yet
    /// (each reader fills in what its source names).
    pub fn new(flavour: Flavour, host: &str, port: u16) -> Server {
        Server {
            flavour,
            host: host.into(),
            port,
            database: String::new(),
            user: String::new(),
            password: Secret::default(),
            tls: Tls::default(),
            connect_timeout: None,
            from: String::new(),
            server_name: None,
            via: None,
            notes: Vec::new(),
        }
    }

    /// A Unix socket (a path), not a network address.
    pub fn is_socket(&self) -> bool {
        self.host.starts_with('/')
    }

    /// Where it is, for the report and a backup's manifest: `postgres://host:port/db`, or
    /// `postgres:///db?host=/run/postgresql` for a socket. Never the user's password.
    pub fn shown(&self) -> String {
        let scheme = self.flavour.as_str();
        if self.is_socket() {
            format!("{scheme}:///{}?socket={}", self.database, self.host)
        } else if self.host.contains(':') {
            format!("{scheme}://[{}]:{}/{}", self.host, self.port, self.database)
        } else {
            format!("{scheme}://{}:{}/{}", self.host, self.port, self.database)
        }
    }

    /// How Dex's driver would secure the connection with these settings.
    pub fn security(&self) -> Result<Security> {
        let mode = self.tls.mode.trim();
        let has_files = self.tls.ca_file.is_some()
            || self.tls.cert_file.is_some()
            || self.tls.key_file.is_some();
        Ok(match self.flavour {
            // Dex's storage/sql/config.go: an empty mode is verify-full; lib/pq's require with a CA file
            // verifies the chain (verify-ca).
            Flavour::Postgres => match mode {
                "" | "verify-full" => Security::VerifyFull,
                "verify-ca" => Security::VerifyCa,
                "require" if self.tls.ca_file.is_some() => Security::VerifyCa,
                "require" => Security::Unverified,
                "prefer" | "allow" => Security::Prefer,
                "disable" => Security::Plain,
                other => bail!(
                    "sslmode {other:?} is not one PostgreSQL's drivers know (disable, allow, prefer, require, verify-ca, verify-full)"
                ),
            },
            // Dex's MySQL config: any of the files makes a custom TLS config that verifies with the CA;
            // otherwise the mode is go-sql-driver's tls parameter, empty meaning true.
            Flavour::Mysql if has_files => Security::VerifyFull,
            Flavour::Mysql => match mode.to_ascii_lowercase().as_str() {
                "" | "true" | "1" => Security::VerifyFull,
                "skip-verify" => Security::Unverified,
                "preferred" => Security::Prefer,
                "false" | "0" => Security::Plain,
                other => bail!(
                    "the MySQL TLS mode {other:?} is not one go-sql-driver/mysql knows (true, false, skip-verify, preferred)"
                ),
            },
        })
    }
}

/// What the operator gave with `--dsn-file` (or `$OZREPAIR_DSN`): a PostgreSQL connection string or URI,
/// or a MySQL DSN or URI, as the file's first non-empty line. `from` names where it was read.
pub fn given(text: &str, from: &str) -> Result<Server> {
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .ok_or_else(|| anyhow!("{from} holds no connection string"))?;
    let mut s = if line.starts_with("mysql://") || my::looks_like_go_dsn(line) {
        my::parse(line)?
    } else {
        pg::parse(line, pg::Keep::All)?
    };
    s.from = from.to_string();
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_never_shows() {
        let s = given(
            "postgres://dex:hunter2@db.example.com:6432/dex?sslmode=require",
            "--dsn-file x",
        )
        .unwrap();
        assert!(!format!("{s:?}").contains("hunter2"));
        assert!(!s.shown().contains("hunter2"));
        assert_eq!(s.shown(), "postgres://db.example.com:6432/dex");
        assert_eq!(s.password.expose(), "hunter2");
    }

    #[test]
    fn security_follows_dex() {
        let mut s = pg::parse("host=db dbname=dex", pg::Keep::All).unwrap();
        assert_eq!(s.security().unwrap(), Security::VerifyFull);
        s.tls.mode = "require".into();
        assert_eq!(s.security().unwrap(), Security::Unverified);
        s.tls.ca_file = Some("/ca.pem".into());
        assert_eq!(s.security().unwrap(), Security::VerifyCa);
        s.tls.mode = "bogus".into();
        assert!(s.security().is_err());
        let mut m = my::parse("dex:pw@tcp(db:3306)/dex").unwrap();
        assert_eq!(m.security().unwrap(), Security::VerifyFull);
        m.tls.mode = "false".into();
        assert_eq!(m.security().unwrap(), Security::Plain);
        m.tls.mode = "preferred".into();
        assert_eq!(m.security().unwrap(), Security::Prefer);
    }
}
