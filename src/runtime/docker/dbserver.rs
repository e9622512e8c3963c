//! A Dex store on a database server, found through a container: the config file the IdP reads (the one
//! its command names with `--config`, else the known names in its mounts), what that file says of the
//! store ([`crate::dsn::find`], with the container's environment for Dex's expansion), and how this
//! machine reaches the server the IdP reaches:
//!
//! - a Unix socket (`host=/run/postgresql`, MySQL `host: /run/mysqld/mysqld.sock`): through the
//!   container's mount of it, on this machine;
//! - an address when the container shares its host's network (`NetworkMode: host`): as written;
//! - a name of another container on a network they share (compose's `postgres` service, NetBird's
//!   `netbird-postgres`): that container's address there, which this machine reaches when the engine is
//!   local (Linux puts the host on every bridge network); the certificate is still checked against the
//!   name the IdP uses;
//! - anything else (a managed server, a name this machine resolves): as written.
//!
//! Why not through the engine: the Engine API forwards no TCP connection, and a client run inside the
//! database's container through the exec API (psql, mysql) would carry the rows as text through a pipe,
//! without the driver's binding of bytes, TLS, or one transaction checked by its row count. When this
//! machine cannot reach the server (a remote engine, a loopback address inside the container), the error
//! says so and `--dsn-file` gives a connection it can use (a published port, an SSH tunnel).

use super::engine::Container;
use super::locate::host_path;
use crate::dsn::find::{named_in, Named};
use crate::dsn::Server;
use anyhow::{anyhow, Result};
use std::path::{Path, PathBuf};

/// Config files the IdP may read its store from, when its command names none.
const KNOWN: [&str; 3] = ["config.yaml", "config.yml", "config.docker.yaml"];
/// The largest config file read here.
const MAX: u64 = 4 << 20;

/// The value of `--config`/`-c` in the container's command.
fn config_arg(command: &[String]) -> Option<&str> {
    let mut it = command.iter();
    while let Some(a) = it.next() {
        if let Some(v) = a.strip_prefix("--config=") {
            return Some(v);
        }
        if a == "--config" || a == "-c" {
            return it.next().map(String::as_str);
        }
    }
    // Dex's own command: `dex serve /etc/dex/config.yaml`.
    let serve = command.iter().position(|a| a == "serve")?;
    command[serve + 1..]
        .iter()
        .find(|a| !a.starts_with('-') && (a.ends_with(".yaml") || a.ends_with(".yml")))
        .map(String::as_str)
}

/// The config files (host path, path in the container) the IdP reads its store from.
pub fn store_configs(c: &Container) -> Vec<(PathBuf, String)> {
    if let Some(inside) = config_arg(&c.command) {
        return host_path(&c.mounts, inside)
            .filter(|(p, _)| p.is_file())
            .map(|(p, _)| vec![(p, inside.to_string())])
            .unwrap_or_default();
    }
    let mut out = Vec::new();
    for m in &c.mounts {
        let src = Path::new(&m.source);
        if src.is_file()
            && KNOWN
                .iter()
                .any(|k| m.destination.ends_with(&format!("/{k}")))
        {
            out.push((src.to_path_buf(), m.destination.clone()));
        } else if src.is_dir() {
            for k in KNOWN {
                let p = src.join(k);
                if p.is_file() {
                    out.push((p, format!("{}/{k}", m.destination.trim_end_matches('/'))));
                }
            }
        }
    }
    out
}

fn read(p: &Path) -> Result<Vec<u8>> {
    use std::io::Read;
    let mut data = Vec::new();
    std::fs::File::open(p)?
        .take(MAX + 1)
        .read_to_end(&mut data)?;
    if data.len() as u64 > MAX {
        return Err(anyhow!("{} is larger than a config file", p.display()));
    }
    Ok(data)
}

/// What the container's configuration says of a server store (None: it names none), reached as this
/// machine reaches it. `all`: every container of the engine; `local`: the engine runs on this machine.
pub fn named(c: &Container, all: &[Container], local: bool) -> Result<Option<Server>> {
    for (host, _inside) in store_configs(c) {
        let Ok(bytes) = read(&host) else {
            continue;
        };
        match named_in(&bytes, &host.display().to_string(), &c.env)? {
            Named::Server(s) => return reach(*s, c, all, local).map(Some),
            Named::Unsupported(why) => {
                return Err(anyhow!(
                "{why}; nothing was changed; ozrepair repairs Dex on SQLite, PostgreSQL and MySQL"
            ))
            }
            Named::Nothing => {}
        }
    }
    Ok(None)
}

fn loopback(host: &str) -> bool {
    host == "localhost" || host.starts_with("127.") || host == "::1" || host.ends_with(".localhost")
}

/// `s` as this machine reaches the server the container's IdP reaches.
pub fn reach(mut s: Server, c: &Container, all: &[Container], local: bool) -> Result<Server> {
    let give = "nothing was changed; give a connection this machine can use with --dsn-file";
    // Certificate and key files are where the IdP sees them.
    for f in [
        &mut s.tls.ca_file,
        &mut s.tls.cert_file,
        &mut s.tls.key_file,
    ]
    .into_iter()
    .flatten()
    {
        if let Some((p, _)) = host_path(&c.mounts, &f.to_string_lossy()) {
            *f = p;
        }
    }
    if s.is_socket() {
        let (p, _) = host_path(&c.mounts, &s.host).ok_or_else(|| {
            anyhow!(
                "{} reaches its database through the socket {}, which is in none of its mounts; {give}",
                c.name,
                s.host
            )
        })?;
        if !local {
            return Err(anyhow!(
                "{} reaches its database through the socket {}, on the engine's machine, not this one; {give}",
                c.name,
                s.host
            ));
        }
        s.via = Some(format!(
            "the socket {} through {}'s mount, at {}",
            s.host,
            c.name,
            p.display()
        ));
        s.host = p.display().to_string();
        return Ok(s);
    }
    if c.network_mode == "host" {
        s.via = Some(format!("this machine's own network, which {} uses", c.name));
        return Ok(s);
    }
    if loopback(&s.host) {
        return Err(anyhow!(
            "{} reaches its database at {}, which is the container's own loopback; {give}",
            c.name,
            s.host
        ));
    }
    for n in &c.networks {
        let peer = all.iter().find_map(|o| {
            let on = o.networks.iter().find(|on| on.name == n.name)?;
            (o.id != c.id && (o.name == s.host || on.aliases.contains(&s.host)))
                .then(|| (o, on.ip.clone()))
        });
        if let Some((o, ip)) = peer {
            if ip.is_empty() || !local {
                return Err(anyhow!(
                    "{}'s database is container {} on the engine's network {}, which this machine cannot reach; {give} (a published port, an SSH tunnel)",
                    c.name,
                    o.name,
                    n.name
                ));
            }
            s.via = Some(format!(
                "container {} at {ip} on network {}",
                o.name, n.name
            ));
            s.server_name = Some(s.host.clone());
            s.host = ip;
            return Ok(s);
        }
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::docker::engine::{Mount, MountKind, Network};

    fn container(name: &str, nets: &[(&str, &str, &[&str])]) -> Container {
        let v = serde_json::json!({"Id": name, "Name": format!("/{name}"), "State": {"Status": "running"}, "Config": {}});
        let mut c = Container::from_inspect(&v);
        c.networks = nets
            .iter()
            .map(|(n, ip, al)| Network {
                name: n.to_string(),
                ip: ip.to_string(),
                aliases: al.iter().map(|a| a.to_string()).collect(),
            })
            .collect();
        c
    }

    fn pg(host: &str) -> Server {
        crate::dsn::pg::parse(
            &format!("host={host} dbname=netbird"),
            crate::dsn::pg::Keep::NetBird,
        )
        .unwrap()
    }

    #[test]
    fn a_compose_service_is_reached_at_its_address_and_checked_by_its_name() {
        let server = container(
            "netbird-server",
            &[("nb_netbird", "172.30.0.2", &["netbird-server"])],
        );
        let db = container(
            "netbird-postgres",
            &[(
                "nb_netbird",
                "172.30.0.3",
                &["postgres", "netbird-postgres"],
            )],
        );
        let other = container("unrelated", &[("other", "172.31.0.9", &["postgres"])]);
        let all = [server.clone(), db, other];
        let s = reach(pg("postgres"), &server, &all, true).unwrap();
        assert_eq!(s.host, "172.30.0.3");
        assert_eq!(s.server_name.as_deref(), Some("postgres"));
        assert!(s.via.unwrap().contains("netbird-postgres"));
        // A remote engine's network is not this machine's.
        let e = reach(pg("postgres"), &server, &all, false).unwrap_err();
        assert!(e.to_string().contains("--dsn-file"), "{e}");
        // A managed server: as written.
        assert_eq!(
            reach(pg("db.example.com"), &server, &all, true)
                .unwrap()
                .host,
            "db.example.com"
        );
        // The container's own loopback is not this machine's.
        assert!(reach(pg("localhost"), &server, &all, true).is_err());
    }

    #[test]
    fn sockets_and_host_networks() {
        let mut c = container("mgmt", &[]);
        c.mounts = vec![Mount {
            kind: MountKind::Bind,
            name: None,
            source: "/srv/pgsock".into(),
            destination: "/run/postgresql".into(),
        }];
        let s = reach(pg("/run/postgresql"), &c, &[], true).unwrap();
        assert_eq!(s.host, "/srv/pgsock");
        assert!(reach(pg("/var/run/other"), &c, &[], true).is_err());
        c.network_mode = "host".into();
        assert_eq!(
            reach(pg("127.0.0.1"), &c, &[], true).unwrap().host,
            "127.0.0.1"
        );
    }

    #[test]
    fn the_config_the_command_names() {
        let cmd = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            config_arg(&cmd(&[
                "/go/bin/netbird-server",
                "--config",
                "/etc/netbird/config.yaml.enterprise"
            ])),
            Some("/etc/netbird/config.yaml.enterprise")
        );
        assert_eq!(
            config_arg(&cmd(&["x", "--config=/a.yaml"])),
            Some("/a.yaml")
        );
        assert_eq!(
            config_arg(&cmd(&["dex", "serve", "/etc/dex/config.yaml"])),
            Some("/etc/dex/config.yaml")
        );
        assert_eq!(config_arg(&cmd(&["/standin"])), None);
    }
}
