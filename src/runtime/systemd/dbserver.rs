//! A Dex store on a database server, named by a unit's config file: Dex's `storage.type: postgres|mysql`
//! in the config it serves, NetBird's combined server's `server.authStore.engine: postgres` in its
//! `--config` ([`crate::dsn::find`], with the unit's environment for Dex's expansion). A unit runs on
//! this machine, so the server is reached as the unit reaches it: a Unix socket at its path here, an
//! address as written, except the loopback of a unit with `PrivateNetwork=yes` (its own, not this
//! machine's).

use super::unit::Service;
use crate::dsn::find::{named_in, Named};
use crate::dsn::Server;
use anyhow::{anyhow, Result};
use std::path::{Path, PathBuf};

/// The largest config file read here.
const MAX: u64 = 4 << 20;

fn read(p: &Path) -> Option<Vec<u8>> {
    let meta = std::fs::metadata(p).ok()?;
    (meta.is_file() && meta.len() <= MAX).then(|| std::fs::read(p).ok())?
}

/// What the unit's config files say of a server store (None: they name none), reached as this machine
/// reaches it. An error is a store ozrepair does not take (Dex's etcd, a DSN NetBird refuses): it stands,
/// and no SQLite file is taken in its place.
pub fn named(s: &Service, configs: &[(PathBuf, String)]) -> Result<Option<Server>> {
    let env = s.env();
    for (path, _) in configs {
        let Some(bytes) = read(path) else {
            continue;
        };
        let shown = path.display().to_string();
        match named_in(&bytes, &shown, &env) {
            Ok(Named::Server(server)) => return reach(*server, s).map(Some),
            Ok(Named::Unsupported(why)) => {
                return Err(anyhow!(
                "{why}; nothing was changed; ozrepair repairs Dex on SQLite, PostgreSQL and MySQL"
            ))
            }
            Ok(Named::Nothing) => {}
            Err(e) => {
                return Err(anyhow!(
                    "{e:#}; nothing was changed; give the store's connection with --dsn-file"
                ))
            }
        }
    }
    Ok(None)
}

fn loopback(host: &str) -> bool {
    host == "localhost" || host.starts_with("127.") || host == "::1" || host.ends_with(".localhost")
}

/// `server` as this machine reaches the server the unit reaches.
pub fn reach(mut server: Server, s: &Service) -> Result<Server> {
    if server.is_socket() {
        server.via = Some(format!(
            "the socket {} on this machine, which {} uses",
            server.host, s.name
        ));
        return Ok(server);
    }
    if s.props.yes("PrivateNetwork") && loopback(&server.host) {
        return Err(anyhow!(
            "{} reaches its database at {}, the loopback of its own network (PrivateNetwork=yes), not this machine's; nothing was changed; give a connection this machine can use with --dsn-file",
            s.name,
            server.host
        ));
    }
    server.via = Some(format!("this machine's network, which {} uses", s.name));
    Ok(server)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::systemd::ctl::Props;

    fn service(props: &[(&str, &str)]) -> Service {
        Service {
            name: "dex.service".into(),
            props: Props(
                props
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            ),
            status: Default::default(),
            argv: Vec::new(),
            argv_from: "a test",
            pre: Vec::new(),
            role: None,
        }
    }

    fn pg(host: &str) -> Server {
        crate::dsn::pg::parse(
            &format!("host={host} dbname=dex"),
            crate::dsn::pg::Keep::NetBird,
        )
        .unwrap()
    }

    #[test]
    fn a_unit_reaches_its_server_as_this_machine_does() {
        let s = service(&[]);
        let sock = reach(pg("/run/postgresql"), &s).unwrap();
        assert_eq!(sock.host, "/run/postgresql");
        assert!(sock.via.unwrap().contains("socket"));
        assert_eq!(reach(pg("127.0.0.1"), &s).unwrap().host, "127.0.0.1");
        assert_eq!(
            reach(pg("db.example.com"), &s).unwrap().host,
            "db.example.com"
        );
        // Its own loopback is not this machine's.
        let private = service(&[("PrivateNetwork", "yes")]);
        let e = reach(pg("localhost"), &private).unwrap_err().to_string();
        assert!(
            e.contains("PrivateNetwork=yes") && e.contains("--dsn-file"),
            "{e}"
        );
        assert!(reach(pg("/run/postgresql"), &private).is_ok());
    }

    #[test]
    fn dex_storage_is_read_with_the_units_environment() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("config.yaml");
        std::fs::write(
            &p,
            "storage:\n  type: postgres\n  config:\n    host: $DB_HOST\n    database: dex\n    user: dex\n    password: ${DB_PW}\n",
        )
        .unwrap();
        let s = service(&[("Environment", "DB_HOST=db.internal DB_PW=pw-7f3a")]);
        let configs = vec![(p.clone(), "the config dex.service serves".to_string())];
        let server = named(&s, &configs).unwrap().unwrap();
        assert_eq!(server.host, "db.internal");
        assert_eq!(server.password.expose(), "pw-7f3a");
        std::fs::write(&p, "storage:\n  type: etcd\n").unwrap();
        let e = named(&s, &configs).unwrap_err().to_string();
        assert!(
            e.contains("\"etcd\"") && e.contains("nothing was changed"),
            "{e}"
        );
        std::fs::write(
            &p,
            "storage:\n  type: sqlite3\n  config:\n    file: /x.db\n",
        )
        .unwrap();
        assert!(named(&s, &configs).unwrap().is_none());
    }
}
