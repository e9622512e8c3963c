//! PostgreSQL connection strings: libpq's `key=value` form (values bare or single-quoted, `\` escaping)
//! and its `postgres://` / `postgresql://` URIs (percent-decoded), read into a [`Server`].
//!
//! NetBird's own reader (`idp/dex/config.go` `parsePostgresDSN`, for `server.authStore.dsn`) keeps only
//! `host` (default `localhost`), `port` (default 5432, never 0), `dbname` (required), `user`, `password`
//! and `sslmode` (one of disable, allow, prefer, require, verify-ca, verify-full) and hands those to Dex;
//! everything else, `sslrootcert` and `connect_timeout` among it, never reaches Dex. [`Keep::NetBird`]
//! reads it the same way, so ozrepair connects as Dex inside NetBird does.

use super::{Flavour, Secret, Server};
use anyhow::{anyhow, bail, Result};

/// Which parameters are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    /// Everything ozrepair knows (an operator's `--dsn-file`).
    All,
    /// What NetBird's `parsePostgresDSN` keeps (a combined server's `authStore.dsn`).
    NetBird,
}

/// The `(key, value)` pairs of a connection string, in order.
pub fn pairs(dsn: &str) -> Result<Vec<(String, String)>> {
    let t = dsn.trim();
    if let Some(rest) = t
        .strip_prefix("postgres://")
        .or_else(|| t.strip_prefix("postgresql://"))
    {
        return uri_pairs(rest);
    }
    kv_pairs(t)
}

fn kv_pairs(s: &str) -> Result<Vec<(String, String)>> {
    let b: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let skip_ws = |i: &mut usize| {
        while *i < b.len() && b[*i].is_whitespace() {
            *i += 1;
        }
    };
    loop {
        skip_ws(&mut i);
        if i >= b.len() {
            break;
        }
        let start = i;
        while i < b.len() && b[i] != '=' && !b[i].is_whitespace() {
            i += 1;
        }
        let key: String = b[start..i].iter().collect();
        skip_ws(&mut i);
        if i >= b.len() || b[i] != '=' {
            bail!("the connection string has {key:?} without \"=\" after it");
        }
        i += 1;
        skip_ws(&mut i);
        let mut val = String::new();
        if i < b.len() && b[i] == '\'' {
            i += 1;
            loop {
                match b.get(i) {
                    None => {
                        bail!("the connection string has an unterminated quoted value for {key:?}")
                    }
                    Some('\'') => {
                        i += 1;
                        break;
                    }
                    Some('\\') => {
                        if let Some(c) = b.get(i + 1) {
                            val.push(*c);
                        }
                        i += 2;
                    }
                    Some(c) => {
                        val.push(*c);
                        i += 1;
                    }
                }
            }
        } else {
            while i < b.len() && !b[i].is_whitespace() {
                if b[i] == '\\' && i + 1 < b.len() {
                    i += 1;
                }
                val.push(b[i]);
                i += 1;
            }
        }
        if key.is_empty() {
            bail!("the connection string has a value without a key");
        }
        out.push((key, val));
    }
    Ok(out)
}

/// Percent-decoding (a bad escape is refused, as libpq refuses it).
pub fn pct(s: &str) -> Result<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| anyhow!("the URI has a bad percent escape"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| anyhow!("the URI decodes to text that is not UTF-8"))
}

fn uri_pairs(rest: &str) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    let (main, query) = match rest.split_once('?') {
        Some((m, q)) => (m, Some(q)),
        None => (rest, None),
    };
    let (authority, path) = match main.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (main, None),
    };
    let hostport = match authority.rsplit_once('@') {
        Some((userinfo, hp)) => {
            let (u, p) = match userinfo.split_once(':') {
                Some((u, p)) => (u, Some(p)),
                None => (userinfo, None),
            };
            if !u.is_empty() {
                out.push(("user".into(), pct(u)?));
            }
            if let Some(p) = p {
                out.push(("password".into(), pct(p)?));
            }
            hp
        }
        None => authority,
    };
    if !hostport.is_empty() {
        let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
            let (h, after) = v6
                .split_once(']')
                .ok_or_else(|| anyhow!("the URI has an unclosed IPv6 host"))?;
            (h.to_string(), after.strip_prefix(':').map(str::to_string))
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => (pct(h)?, Some(p.to_string())),
                None => (pct(hostport)?, None),
            }
        };
        if host.contains(',') {
            bail!("the URI names several hosts; give the one Dex uses");
        }
        if !host.is_empty() {
            out.push(("host".into(), host));
        }
        if let Some(p) = port.filter(|p| !p.is_empty()) {
            out.push(("port".into(), p));
        }
    }
    if let Some(db) = path.filter(|p| !p.is_empty()) {
        out.push(("dbname".into(), pct(db)?));
    }
    for kv in query
        .unwrap_or_default()
        .split('&')
        .filter(|s| !s.is_empty())
    {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        out.push((pct(k)?, pct(v)?));
    }
    Ok(out)
}

/// Reads a connection string into a server (later keys win, as in libpq).
pub fn parse(dsn: &str, keep: Keep) -> Result<Server> {
    let mut s = Server::new(Flavour::Postgres, "localhost", 5432);
    for (k, v) in pairs(dsn)? {
        match (k.as_str(), keep) {
            ("host" | "hostaddr", _) if !v.is_empty() => s.host = v,
            ("port", _) => {
                s.port =
                    v.parse::<u16>().ok().filter(|p| *p != 0).ok_or_else(|| {
                        anyhow!("the connection string's port {v:?} is not a port")
                    })?
            }
            ("dbname", _) => s.database = v,
            ("user", _) => s.user = v,
            ("password", _) => s.password = Secret::new(v),
            ("sslmode", _) => s.tls.mode = v,
            ("sslrootcert", Keep::All) => s.tls.ca_file = Some(v.into()),
            ("sslcert", Keep::All) => s.tls.cert_file = Some(v.into()),
            ("sslkey", Keep::All) => s.tls.key_file = Some(v.into()),
            ("connect_timeout", Keep::All) => s.connect_timeout = v.parse().ok().filter(|t| *t > 0),
            _ => {}
        }
    }
    if keep == Keep::NetBird {
        if s.database.is_empty() {
            bail!("dbname is required in DSN (NetBird refuses this authStore.dsn too)");
        }
        if !matches!(
            s.tls.mode.as_str(),
            "" | "disable" | "allow" | "prefer" | "require" | "verify-ca" | "verify-full"
        ) {
            bail!(
                "unsupported sslmode {:?} (NetBird refuses this authStore.dsn too)",
                s.tls.mode
            );
        }
    }
    if s.database.is_empty() {
        s.database = s.user.clone();
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_migrate_to_enterprise_dsn() {
        let s = parse(
            "host=postgres user=netbird password=0123abcd dbname=netbird port=5432 sslmode=disable",
            Keep::NetBird,
        )
        .unwrap();
        assert_eq!(
            (
                s.host.as_str(),
                s.port,
                s.database.as_str(),
                s.user.as_str()
            ),
            ("postgres", 5432, "netbird", "netbird")
        );
        assert_eq!(s.password.expose(), "0123abcd");
        assert_eq!(s.tls.mode, "disable");
    }

    #[test]
    fn quoted_values_and_uris() {
        let s = parse(
            r"host = '/run/postgresql' dbname='dex db' password='it''s' user=a\ b",
            Keep::All,
        );
        // '' is not an escape in libpq's quoted values: the quote ends the value.
        assert!(s.is_err() || s.as_ref().unwrap().password.expose() != "it's");
        let s = parse(
            r"host='/run/postgresql' dbname='dex db' password='it\'s' user=a\ b",
            Keep::All,
        )
        .unwrap();
        assert_eq!(s.host, "/run/postgresql");
        assert_eq!(s.database, "dex db");
        assert_eq!(s.password.expose(), "it's");
        assert_eq!(s.user, "a b");
        let u = parse(
            "postgresql://dex:p%40ss@[::1]:6543/dex?sslmode=verify-ca&sslrootcert=/ca.pem&connect_timeout=7",
            Keep::All,
        )
        .unwrap();
        assert_eq!((u.host.as_str(), u.port), ("::1", 6543));
        assert_eq!(u.password.expose(), "p@ss");
        assert_eq!(
            u.tls.ca_file.as_deref(),
            Some(std::path::Path::new("/ca.pem"))
        );
        assert_eq!(u.connect_timeout, Some(7));
        let sock = parse("postgres://%2Frun%2Fpostgresql/dex", Keep::All).unwrap();
        assert_eq!(sock.host, "/run/postgresql");
    }

    #[test]
    fn netbird_drops_what_it_does_not_read() {
        let s = parse(
            "host=db dbname=dex sslmode=verify-ca sslrootcert=/ca.pem connect_timeout=3",
            Keep::NetBird,
        )
        .unwrap();
        assert_eq!(s.tls.ca_file, None);
        assert_eq!(s.connect_timeout, None);
        assert!(parse("host=db", Keep::NetBird).is_err());
        assert!(parse("host=db dbname=x sslmode=bogus", Keep::NetBird).is_err());
        assert!(parse("host=db dbname=x port=0", Keep::NetBird).is_err());
    }
}
