//! The stand-in's store on a database server, found as the real servers find it: NetBird's combined
//! `config.yaml` (`server.authStore.engine: postgres`, `dsn`; no expansion) or Dex's `config.yaml`
//! (`storage.type: postgres|mysql` and its `config`, strings expanded from the environment as Dex's
//! `os.ExpandEnv` does for `$NAME` and `${NAME}`). With no SSL setting, Dex's drivers require TLS
//! (verify-full, MySQL tls=true); the test servers offer none, so such a config fails as Dex fails.

use crate::dex::Row;
use mysql::prelude::Queryable;

fn expand(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = String::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'$' && i + 1 < b.len() {
            let (name, w) = if b[i + 1] == b'{' {
                match s[i + 2..].find('}') {
                    Some(end) => (&s[i + 2..i + 2 + end], end + 3),
                    None => ("", 2),
                }
            } else {
                let n = s[i + 1..]
                    .bytes()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == b'_')
                    .count();
                (&s[i + 1..i + 1 + n], n + 1)
            };
            if w == 1 {
                out.push('$');
                i += 1;
                continue;
            }
            out.push_str(&std::env::var(name).unwrap_or_default());
            i += w;
        } else {
            let c = s[i..].chars().next().unwrap_or('\0');
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

fn get<'a>(v: &'a serde_json::Value, path: &[&str]) -> Option<&'a serde_json::Value> {
    path.iter().try_fold(v, |v, k| {
        let o = v.as_object()?;
        o.get(*k).or_else(|| {
            o.iter()
                .rev()
                .find(|(x, _)| x.eq_ignore_ascii_case(k))
                .map(|(_, v)| v)
        })
    })
}

fn s(v: &serde_json::Value, path: &[&str]) -> String {
    match get(v, path) {
        Some(serde_json::Value::String(x)) => expand(x),
        Some(serde_json::Value::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}

/// The connector rows of the store the config at `path` names (the error as the real server logs it).
pub fn list(path: &str) -> Result<Vec<Row>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("failed to read config {path}: {e}"))?;
    let root: serde_json::Value =
        serde_yaml::from_slice(&bytes).map_err(|e| format!("failed to parse config: {e}"))?;
    if let Some(engine) = root
        .get("server")
        .and_then(|s| s.get("authStore"))
        .and_then(|a| a.get("engine"))
        .and_then(|e| e.as_str())
    {
        if engine != "postgres" {
            return Err(format!("unsupported IdP storage type: {engine}"));
        }
        let dsn = root["server"]["authStore"]["dsn"].as_str().unwrap_or("");
        let cfg: postgres::Config = dsn
            .parse()
            .map_err(|e| format!("invalid IdP storage config: {e}"))?;
        let socket = cfg
            .get_hosts()
            .iter()
            .any(|h| matches!(h, postgres::config::Host::Unix(_)));
        if cfg.get_ssl_mode() != postgres::config::SslMode::Disable && !socket {
            return Err("pq: SSL is not enabled on the server".into());
        }
        return pg_rows(cfg);
    }
    let typ = s(&root, &["storage", "type"]);
    let c = |k: &str| s(&root, &["storage", "config", k]);
    let mode = s(&root, &["storage", "config", "ssl", "mode"]);
    match typ.as_str() {
        "postgres" => {
            let mut cfg = postgres::Config::new();
            cfg.host(&c("host"))
                .dbname(&c("database"))
                .user(&c("user"))
                .password(c("password"));
            if let Ok(p) = c("port").parse::<u16>() {
                cfg.port(p);
            }
            if mode != "disable" && !c("host").starts_with('/') {
                return Err("pq: SSL is not enabled on the server".into());
            }
            pg_rows(cfg)
        }
        "mysql" => {
            let host = c("host");
            let mut b = mysql::OptsBuilder::new()
                .user(Some(c("user")))
                .pass(Some(c("password")))
                .db_name(Some(c("database")));
            if host.starts_with('/') {
                b = b.socket(Some(host));
            } else {
                b = b
                    .ip_or_hostname(Some(host))
                    .tcp_port(c("port").parse().unwrap_or(3306));
                if mode != "false" {
                    return Err("TLS requested but server does not support TLS".into());
                }
            }
            let mut conn = mysql::Conn::new(b).map_err(|e| e.to_string())?;
            let rows: Vec<(String, String, Option<Vec<u8>>)> = conn
                .query("select id, type, config from connector")
                .map_err(|e| e.to_string())?;
            Ok(rows
                .into_iter()
                .map(|(id, typ, config)| Row { id, typ, config })
                .collect())
        }
        other => Err(format!("unsupported IdP storage type: {other}")),
    }
}

fn pg_rows(cfg: postgres::Config) -> Result<Vec<Row>, String> {
    let mut client = cfg
        .connect(postgres::NoTls)
        .map_err(|e| format!("pq: {e}"))?;
    let rows = client
        .query("select id, type, config from connector", &[])
        .map_err(|e| format!("pq: {e}"))?;
    Ok(rows
        .iter()
        .map(|r| Row {
            id: r.get(0),
            typ: r.get(1),
            config: r.get(2),
        })
        .collect())
}
