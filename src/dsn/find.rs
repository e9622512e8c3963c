//! Where a deployment's configuration names a store on a database server, read as the servers read it:
//!
//! - NetBird's combined server (`combined/cmd/config.go`, yaml.v3, keys matched exactly, no environment
//!   expansion): `server.authStore.engine: postgres` with `server.authStore.dsn` (the migration to
//!   PostgreSQL of NetBird's docs, and `migrate-to-enterprise.sh`'s `config.yaml.enterprise`). Any other
//!   engine keeps Dex on its SQLite file.
//! - Dex's `config.yaml` (ghodss/yaml, then encoding/json: keys matched as Go folds them):
//!   `storage.type: postgres|mysql` with `storage.config.{host, port, database, user, password,
//!   connectionTimeout, ssl.{mode, caFile, certFile, keyFile}}`, each string expanded by `os.ExpandEnv`
//!   with the IdP's environment unless `DEX_EXPAND_ENV` turns it off (`cmd/dex/config.go`).

use super::expand::{expand, lookup_in};
use super::pg::{self, Keep};
use super::{Flavour, Secret, Server};
use crate::config::yaml;
use crate::config::Seg;
use crate::dex::jsonedit::key_matches;
use anyhow::{anyhow, bail, Result};

/// What a config file says of the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Named {
    /// A database server.
    Server(Box<Server>),
    /// A store this version does not repair (Dex's `etcd`, `kubernetes`, `memory`, or its ent storage).
    Unsupported(String),
    /// Nothing about a server store (an SQLite store, or not a file that names the store).
    Nothing,
}

fn key(s: &Seg) -> Option<&str> {
    match s {
        Seg::Key(k) => Some(k),
        Seg::Index(_) => None,
    }
}

/// Go's strconv.ParseBool.
fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// What `bytes` (a YAML file at `shown`) says of the store. `env` is the IdP's environment (`KEY=value`).
pub fn named_in(bytes: &[u8], shown: &str, env: &[String]) -> Result<Named> {
    let scalars = match yaml::scalars(bytes) {
        Ok(s) => s,
        // Not a file ozrepair reads exactly: it names no store ozrepair would take from it.
        Err(_) => return Ok(Named::Nothing),
    };
    let path_of = |sc: &yaml::Scalar| -> Vec<String> {
        sc.path.iter().filter_map(key).map(str::to_string).collect()
    };
    // NetBird's combined server: yaml.v3 matches its tags exactly.
    let mut engine = None;
    let mut dsn = None;
    for sc in &scalars {
        let p = path_of(sc);
        let p: Vec<&str> = p.iter().map(String::as_str).collect();
        match p.as_slice() {
            ["server", "authStore", "engine"] => engine = Some(sc.value.clone()),
            ["server", "authStore", "dsn"] => dsn = Some(sc.value.clone()),
            _ => {}
        }
    }
    if let Some(engine) = engine {
        if engine == "postgres" {
            let dsn = dsn.filter(|d| !d.is_empty()).ok_or_else(|| {
                anyhow!("{shown} sets server.authStore.engine: postgres without a dsn (NetBird refuses to start with it: authStore.dsn is required when authStore.engine is postgres)")
            })?;
            let mut s = pg::parse(&dsn, Keep::NetBird)
                .map_err(|e| anyhow!("{shown} server.authStore.dsn: {e:#}"))?;
            s.from = format!("{shown} (server.authStore.dsn)");
            if matches!(s.tls.mode.as_str(), "prefer" | "allow") {
                s.notes.push(format!(
                    "sslmode {} works in NetBird (lib/pq 1.12), not in Dex v2.45's own driver",
                    s.tls.mode
                ));
            }
            return Ok(Named::Server(Box::new(s)));
        }
        return Ok(Named::Nothing);
    }

    // Dex's config.yaml: keys fold as encoding/json folds them; the last of several wins.
    let is = |k: &str, name: &str| key_matches(k, name);
    let mut typ = None;
    let mut cfg: Vec<(Vec<String>, String)> = Vec::new();
    for sc in &scalars {
        let p = path_of(sc);
        if p.len() < 2 || !is(&p[0], "storage") {
            continue;
        }
        if p.len() == 2 && is(&p[1], "type") {
            typ = Some(sc.value.clone());
        } else if p.len() >= 3 && is(&p[1], "config") {
            cfg.push((p[2..].to_vec(), sc.value.clone()));
        }
    }
    let Some(typ) = typ else {
        return Ok(Named::Nothing);
    };
    let flavour = match typ.as_str() {
        "postgres" => Flavour::Postgres,
        "mysql" => Flavour::Mysql,
        "sqlite3" => return Ok(Named::Nothing),
        other => {
            return Ok(Named::Unsupported(format!(
            "{shown} keeps Dex's state in storage type {other:?}, which ozrepair does not repair"
        )))
        }
    };
    let expand_on = env
        .iter()
        .rev()
        .find_map(|kv| kv.strip_prefix("DEX_EXPAND_ENV="))
        .and_then(parse_bool)
        .unwrap_or(true);
    let lookup = lookup_in(env);
    let mut expanded: Vec<&'static str> = Vec::new();
    let mut s = Server {
        from: format!("{shown} (storage)"),
        ..Server::new(flavour, "", 0)
    };
    for (p, raw) in &cfg {
        let v = if expand_on {
            expand(raw, &lookup)
        } else {
            raw.clone()
        };
        let field: &'static str = match p.as_slice() {
            [k] if is(k, "host") => "host",
            [k] if is(k, "port") => "port",
            [k] if is(k, "database") => "database",
            [k] if is(k, "user") => "user",
            [k] if is(k, "password") => "password",
            [k] if is(k, "connectionTimeout") => "connectionTimeout",
            [s1, k] if is(s1, "ssl") && is(k, "mode") => "ssl.mode",
            [s1, k] if is(s1, "ssl") && is(k, "caFile") => "ssl.caFile",
            [s1, k] if is(s1, "ssl") && is(k, "certFile") => "ssl.certFile",
            [s1, k] if is(s1, "ssl") && is(k, "keyFile") => "ssl.keyFile",
            _ => continue,
        };
        if v != *raw {
            expanded.push(field);
        }
        match field {
            "host" => s.host = v,
            "port" => {
                s.port = v.parse::<u16>().map_err(|_| {
                    anyhow!("{shown} storage.config.port {v:?} is not a port (Dex refuses it too)")
                })?
            }
            "database" => s.database = v,
            "user" => s.user = v,
            "password" => s.password = Secret::new(v),
            "connectionTimeout" => s.connect_timeout = v.parse().ok().filter(|t| *t > 0),
            "ssl.mode" => s.tls.mode = v,
            "ssl.caFile" => {
                s.tls.ca_file =
                    Some(v.into()).filter(|p: &std::path::PathBuf| !p.as_os_str().is_empty())
            }
            "ssl.certFile" => {
                s.tls.cert_file =
                    Some(v.into()).filter(|p: &std::path::PathBuf| !p.as_os_str().is_empty())
            }
            "ssl.keyFile" => {
                s.tls.key_file =
                    Some(v.into()).filter(|p: &std::path::PathBuf| !p.as_os_str().is_empty())
            }
            _ => {}
        }
    }
    if !expanded.is_empty() {
        s.notes.push(format!(
            "storage.config {} taken from the IdP's environment, as Dex expands it",
            expanded.join(", ")
        ));
    }
    match flavour {
        // Dex's Postgres: `host:port` in host is split (back-compat), an empty host is libpq's default.
        Flavour::Postgres => {
            if !s.host.starts_with('/') {
                if let Some((h, p)) = s.host.rsplit_once(':') {
                    if !h.contains(':') || h.starts_with('[') {
                        if let Ok(port) = p.parse::<u16>() {
                            s.host = h.trim_matches(['[', ']']).to_string();
                            s.port = port;
                        }
                    }
                }
            }
            if s.host.is_empty() {
                s.host = "localhost".into();
            }
            if matches!(s.tls.mode.as_str(), "prefer" | "allow") {
                s.notes.push(format!(
                    "ssl.mode {} is refused by Dex v2.45's driver (lib/pq 1.11: only disable, require, verify-ca, verify-full)",
                    s.tls.mode
                ));
            }
        }
        // Dex's MySQL: a leading '/' is a socket; `host:port` is kept when no port is set.
        Flavour::Mysql => {
            if !s.host.starts_with('/') && s.port == 0 {
                if let Some((h, p)) = s.host.rsplit_once(':') {
                    if let Ok(port) = p.parse::<u16>() {
                        s.host = h.trim_matches(['[', ']']).to_string();
                        s.port = port;
                    }
                }
            }
            if s.host.is_empty() {
                bail!("{shown} storage.config.host is empty (Dex's MySQL storage needs a host)");
            }
        }
    }
    if s.port == 0 {
        s.port = flavour.default_port();
    }
    s.security()
        .map_err(|e| anyhow!("{shown} storage.config.ssl: {e:#}"))?;
    Ok(Named::Server(Box::new(s)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(yaml: &str, env: &[&str]) -> Server {
        let env: Vec<String> = env.iter().map(|s| s.to_string()).collect();
        match named_in(yaml.as_bytes(), "/etc/x/config.yaml", &env).unwrap() {
            Named::Server(s) => *s,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn netbird_auth_store() {
        let y = "server:\n  listenAddress: \":80\"\n  authStore:\n    engine: \"postgres\"\n    dsn: \"host=postgres user=netbird password=abc dbname=netbird port=5432 sslmode=disable\"\n";
        let s = server(y, &[]);
        assert_eq!(
            (s.host.as_str(), s.database.as_str()),
            ("postgres", "netbird")
        );
        assert_eq!(s.password.expose(), "abc");
        assert!(s.from.contains("server.authStore.dsn"));
        // Only engine postgres is a server; sqlite3 keeps the file.
        let f = "server:\n  authStore:\n    engine: sqlite3\n    file: /var/lib/netbird/idp.db\n";
        assert_eq!(named_in(f.as_bytes(), "c", &[]).unwrap(), Named::Nothing);
        // A DSN NetBird refuses is refused with NetBird's reason.
        let bad = "server:\n  authStore:\n    engine: postgres\n    dsn: \"host=db\"\n";
        assert!(named_in(bad.as_bytes(), "c", &[]).is_err());
        // No expansion in NetBird's file.
        let e = "server:\n  authStore:\n    engine: postgres\n    dsn: \"host=db dbname=x password=$PW\"\n";
        let env = ["PW=secret".to_string()];
        match named_in(e.as_bytes(), "c", &env).unwrap() {
            Named::Server(s) => assert_eq!(s.password.expose(), "$PW"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn dex_storage_with_env() {
        let y = "issuer: https://x/dex\nstorage:\n  type: postgres\n  config:\n    Host: db.internal:6432\n    database: dex\n    user: dex\n    password: $DEX_PG_PASSWORD\n    ssl:\n      mode: verify-ca\n      caFile: /etc/dex/ca.pem\n";
        let s = server(y, &["DEX_PG_PASSWORD=s3cret"]);
        assert_eq!((s.host.as_str(), s.port), ("db.internal", 6432));
        assert_eq!(s.password.expose(), "s3cret");
        assert_eq!(s.tls.mode, "verify-ca");
        assert!(s.notes[0].contains("password"), "{:?}", s.notes);
        let off = server(y, &["DEX_PG_PASSWORD=s3cret", "DEX_EXPAND_ENV=false"]);
        assert_eq!(off.password.expose(), "$DEX_PG_PASSWORD");
        let m = "storage:\n  type: mysql\n  config:\n    host: /run/mysqld/mysqld.sock\n    database: dex\n    user: dex\n";
        let s = server(m, &[]);
        assert_eq!(
            (s.flavour, s.host.as_str(), s.port),
            (Flavour::Mysql, "/run/mysqld/mysqld.sock", 3306)
        );
        let etcd = "storage:\n  type: etcd\n  config:\n    endpoints: [http://e:2379]\n";
        assert!(matches!(
            named_in(etcd.as_bytes(), "c", &[]).unwrap(),
            Named::Unsupported(_)
        ));
        let sq = "storage:\n  type: sqlite3\n  config:\n    file: /var/lib/dex/dex.db\n";
        assert_eq!(named_in(sq.as_bytes(), "c", &[]).unwrap(), Named::Nothing);
    }
}
