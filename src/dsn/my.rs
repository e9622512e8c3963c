//! MySQL/MariaDB connection strings: go-sql-driver/mysql's DSN (`user:password@tcp(host:port)/db?tls=…`,
//! `@unix(/path)`), which is what Dex builds from its `storage:` block, and `mysql://` URIs
//! (`?ssl-mode=DISABLED|PREFERRED|REQUIRED|VERIFY_CA|VERIFY_IDENTITY`, `?socket=/path`).

use super::pg::pct;
use super::{Flavour, Secret, Server};
use anyhow::{anyhow, bail, Result};

/// Whether `s` reads as go-sql-driver's DSN (`…@tcp(…)/…`, `…@unix(…)/…`, `tcp(…)/…`).
pub fn looks_like_go_dsn(s: &str) -> bool {
    s.contains("tcp(") || s.contains("unix(")
}

fn empty() -> Server {
    Server::new(Flavour::Mysql, "127.0.0.1", 3306)
}

fn host_port(s: &mut Server, addr: &str) -> Result<()> {
    let (h, p) = if let Some(v6) = addr.strip_prefix('[') {
        let (h, after) = v6
            .split_once(']')
            .ok_or_else(|| anyhow!("the DSN has an unclosed IPv6 host"))?;
        (h.to_string(), after.strip_prefix(':').map(str::to_string))
    } else {
        match addr.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), Some(p.to_string())),
            None => (addr.to_string(), None),
        }
    };
    if !h.is_empty() {
        s.host = h;
    }
    if let Some(p) = p {
        s.port = p
            .parse::<u16>()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| anyhow!("the DSN's port {p:?} is not a port"))?;
    }
    Ok(())
}

/// Reads a go-sql-driver DSN or a `mysql://` URI.
pub fn parse(dsn: &str) -> Result<Server> {
    let t = dsn.trim();
    let mut s = empty();
    if let Some(rest) = t.strip_prefix("mysql://") {
        let (main, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (authority, db) = main.split_once('/').unwrap_or((main, ""));
        let hp = match authority.rsplit_once('@') {
            Some((ui, hp)) => {
                let (u, p) = ui.split_once(':').unwrap_or((ui, ""));
                s.user = pct(u)?;
                s.password = Secret::new(pct(p)?);
                hp
            }
            None => authority,
        };
        host_port(&mut s, &pct(hp)?)?;
        s.database = pct(db)?;
        for kv in query.split('&').filter(|x| !x.is_empty()) {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            let v = pct(v)?;
            match k.to_ascii_lowercase().as_str() {
                "socket" => s.host = v,
                "ssl-mode" | "sslmode" => {
                    s.tls.mode = match v.to_ascii_uppercase().as_str() {
                        "DISABLED" => "false",
                        "PREFERRED" => "preferred",
                        "REQUIRED" => "skip-verify",
                        "VERIFY_CA" | "VERIFY_IDENTITY" => "true",
                        other => bail!("ssl-mode {other:?} is not a MySQL ssl-mode"),
                    }
                    .into()
                }
                "ssl-ca" => s.tls.ca_file = Some(v.into()),
                "ssl-cert" => s.tls.cert_file = Some(v.into()),
                "ssl-key" => s.tls.key_file = Some(v.into()),
                _ => {}
            }
        }
        return Ok(s);
    }
    // go-sql-driver: [user[:password]@][net[(addr)]]/dbname[?params]; the last '/' ends the address.
    let slash = t
        .rfind('/')
        .ok_or_else(|| anyhow!("the MySQL DSN has no \"/dbname\""))?;
    let (head, tail) = (&t[..slash], &t[slash + 1..]);
    let (db, query) = tail.split_once('?').unwrap_or((tail, ""));
    s.database = db.to_string();
    let (userinfo, net) = match head.rfind('@') {
        Some(at) => (Some(&head[..at]), &head[at + 1..]),
        None => (None, head),
    };
    if let Some(ui) = userinfo {
        let (u, p) = ui.split_once(':').unwrap_or((ui, ""));
        s.user = u.to_string();
        s.password = Secret::new(p);
    }
    if let Some(open) = net.find('(') {
        let proto = &net[..open];
        let addr = net[open + 1..]
            .strip_suffix(')')
            .ok_or_else(|| anyhow!("the MySQL DSN's address is not closed with \")\""))?;
        match proto {
            "tcp" => host_port(&mut s, addr)?,
            "unix" => s.host = addr.to_string(),
            other => bail!("the MySQL DSN's protocol {other:?} is neither tcp nor unix"),
        }
    }
    for kv in query.split('&').filter(|x| !x.is_empty()) {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        let v = pct(v)?;
        match k {
            "tls" => s.tls.mode = v,
            "timeout" => {
                s.connect_timeout = v
                    .trim_end_matches('s')
                    .parse::<f64>()
                    .ok()
                    .map(|f| f.ceil() as u64)
                    .filter(|t| *t > 0)
            }
            _ => {}
        }
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_dsns() {
        let s = parse("dex:p@ss:w0rd@tcp(db.example.com:3307)/dex?tls=skip-verify&parseTime=true")
            .unwrap();
        assert_eq!((s.host.as_str(), s.port), ("db.example.com", 3307));
        assert_eq!(s.user, "dex");
        assert_eq!(s.password.expose(), "p@ss:w0rd");
        assert_eq!(s.tls.mode, "skip-verify");
        let u = parse("dex@unix(/run/mysqld/mysqld.sock)/dex").unwrap();
        assert_eq!(u.host, "/run/mysqld/mysqld.sock");
        assert!(parse("dex@tcp(db").is_err());
    }

    #[test]
    fn uris() {
        let s = parse("mysql://dex:se%40cret@[::1]:3310/dex?ssl-mode=DISABLED").unwrap();
        assert_eq!(
            (s.host.as_str(), s.port, s.database.as_str()),
            ("::1", 3310, "dex")
        );
        assert_eq!(s.password.expose(), "se@cret");
        assert_eq!(s.tls.mode, "false");
    }
}
