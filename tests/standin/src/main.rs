//! `standin`: a stand-in for the management server with its embedded Dex (NetBird v0.62+ / the openZro
//! layout of the troubleshooting page), for ozrepair's end-to-end tests. The real image cannot be pulled
//! here, so this program is built static and put in a FROM scratch image.
//!
//! It does what the real server does with the IdP database at start-up and fails exactly as it fails:
//! for every connector row it opens the connector; an OIDC connector whose stored issuer differs from the
//! one its provider publishes fails with go-oidc's error, wrapped the way Dex and NetBird wrap it.
//!
//! Environment:
//!   STANDIN_DB          database path (default /var/lib/openzro/idp.db)
//!   STANDIN_PUBLISHED   issuers the providers publish, separated by white space (the discovery documents)
//!   STANDIN_FORMAT      text (logrus text, NetBird's default) | json (NB_LOG_FORMAT=json) | dex-json (Dex's slog)
//!   STANDIN_MILLIS      1: millisecond timestamps (NetBird >= v0.65.3)
//!   STANDIN_ON_FAILURE  fatal (NetBird v0.62-v0.65.1: exit 1) | continue (v0.65.2+ and Dex v2.45: log, keep running)
//!   STANDIN_CONFIG      management.json: its EmbeddedIdP.StaticConnectors are written into the database at
//!                       every start, overwriting Name and Config, before any connector is opened (as NetBird);
//!                       the `local` connector is written when missing, and with EmbeddedIdP.LocalAuthDisabled
//!                       deleted again once the server is up
//!   STANDIN_TOKEN_ISSUER the standalone setup (an external IdP, no Dex database): the `iss` of the tokens
//!                       clients present. The management validates them against HttpConfig.AuthIssuer of
//!                       STANDIN_CONFIG and, when they differ, logs golang-jwt's refusal as NetBird does
//!                       (shared/auth/jwt/validator.go); it keeps running either way
//!   STANDIN_STORE_CONFIG a config.yaml that names a database server store (NetBird's server.authStore, or
//!                       Dex's storage:): the connectors are read from that server instead of STANDIN_DB
//!   STANDIN_DEX_CONFIG  a Dex config.yaml: its `connectors:` are opened too, as Dex's in-memory overlay of
//!                       static connectors (never written to the database)
//!   STANDIN_LOG_FILE    append the lines to this file instead of printing them
//!   STANDIN_SPLIT_LINE  the message of one line printed in two writes, its newline 1 s after its text
//!                       (conmon records a partial record, then the empty one that ends it)
//!
//! Command lines (as the real programs are started by systemd units; each sets what the environment
//! above does not):
//!   netbird-mgmt|openzro-mgmt management [--config F] [--datadir D] [--log-file console|PATH] [...]
//!                       F is STANDIN_CONFIG (its EmbeddedIdP.Storage.Config.File, else D/idp.db, is the
//!                       database); --log-file console prints, a path or no flag (the product's default,
//!                       /var/log/<product>/management.log) appends to that file
//!   netbird-server --config F.yaml
//!                       the database is server.authStore.file (under server.dataDir), else
//!                       server.dataDir/idp.db
//!   dex serve F.yaml    Dex: slog JSON on stderr, the database storage.config.file, F's connectors as
//!                       STANDIN_DEX_CONFIG

use ozrepair_standin::dex::{
    delete_local_connector, dex_static_connectors, ensure_local_connector, list_connectors,
    local_auth_disabled, open_connector, upsert_static_connectors,
};
use rusqlite::Connection;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

struct Log {
    format: String,
    millis: bool,
    file: Option<String>,
}

/// The value of `--name X` or `--name=X`.
fn flag(argv: &[String], name: &str) -> Option<String> {
    let eq = format!("{name}=");
    let mut found = None;
    let mut it = argv.iter();
    while let Some(a) = it.next() {
        if a == name {
            found = it.next().cloned();
        } else if let Some(v) = a.strip_prefix(&eq) {
            found = Some(v.to_string());
        }
    }
    found
}

/// A string at a path of a YAML document.
fn yaml_str(doc: &serde_yaml::Value, path: &[&str]) -> Option<String> {
    let mut cur = doc;
    for k in path {
        cur = cur.get(*k)?;
    }
    cur.as_str().map(String::from)
}

/// What the command line says, as the environment variables it stands for (set only where the
/// environment does not set them).
fn from_command_line() {
    let argv: Vec<String> = std::env::args().collect();
    let prog = argv
        .first()
        .map(|p| p.rsplit('/').next().unwrap_or(p).to_string())
        .unwrap_or_default();
    let mut set: Vec<(&str, String)> = Vec::new();
    let under = |dir: &str, f: &str| {
        if f.starts_with('/') {
            f.to_string()
        } else {
            format!("{}/{f}", dir.trim_end_matches('/'))
        }
    };
    if argv.get(1).map(String::as_str) == Some("management") {
        let product = if prog.starts_with("openzro") {
            "openzro"
        } else {
            "netbird"
        };
        let config = flag(&argv, "--config").unwrap_or(format!("/etc/{product}/management.json"));
        let json: Option<serde_json::Value> = std::fs::read(&config)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok());
        let datadir = flag(&argv, "--datadir")
            .or_else(|| json.as_ref()?.get("Datadir")?.as_str().map(String::from))
            .unwrap_or(format!("/var/lib/{product}/"));
        let idp_file = json
            .as_ref()
            .and_then(|j| {
                j.get("EmbeddedIdP")?
                    .get("Storage")?
                    .get("Config")?
                    .get("File")?
                    .as_str()
                    .map(String::from)
            })
            .filter(|f| !f.is_empty());
        set.push(("STANDIN_CONFIG", config));
        set.push((
            "STANDIN_DB",
            under(&datadir, idp_file.as_deref().unwrap_or("idp.db")),
        ));
        match flag(&argv, "--log-file").as_deref() {
            Some("console") => {}
            Some(f) => set.push(("STANDIN_LOG_FILE", f.to_string())),
            None => set.push((
                "STANDIN_LOG_FILE",
                format!("/var/log/{product}/management.log"),
            )),
        }
    } else if prog.starts_with("netbird-server") {
        if let Some(config) = flag(&argv, "--config") {
            let doc: Option<serde_yaml::Value> = std::fs::read(&config)
                .ok()
                .and_then(|b| serde_yaml::from_slice(&b).ok());
            let data = doc
                .as_ref()
                .and_then(|d| yaml_str(d, &["server", "dataDir"]))
                .unwrap_or("/var/lib/netbird/".into());
            let file = doc
                .as_ref()
                .and_then(|d| yaml_str(d, &["server", "authStore", "file"]))
                .unwrap_or("idp.db".into());
            set.push(("STANDIN_DB", under(&data, &file)));
        }
    } else if prog == "dex" && argv.get(1).map(String::as_str) == Some("serve") {
        if let Some(config) = argv.get(2) {
            let doc: Option<serde_yaml::Value> = std::fs::read(config)
                .ok()
                .and_then(|b| serde_yaml::from_slice(&b).ok());
            if let Some(f) = doc
                .as_ref()
                .and_then(|d| yaml_str(d, &["storage", "config", "file"]))
            {
                set.push(("STANDIN_DB", f));
            }
            set.push(("STANDIN_DEX_CONFIG", config.clone()));
            set.push(("STANDIN_FORMAT", "dex-json".into()));
        }
    }
    for (k, v) in set {
        if std::env::var_os(k).is_none() {
            std::env::set_var(k, v);
        }
    }
}

impl Log {
    fn now(&self) -> String {
        let d = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let secs = d.as_secs() as i64;
        let (days, rem) = (secs.div_euclid(86400), secs.rem_euclid(86400));
        // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + i64::from(month <= 2);
        let hms = format!("{:02}:{:02}:{:02}", rem / 3600, rem % 3600 / 60, rem % 60);
        let frac = if self.millis {
            format!(".{:03}", d.subsec_millis())
        } else {
            String::new()
        };
        format!("{year:04}-{month:02}-{day:02}T{hms}{frac}Z")
    }

    /// One line as NetBird's logrus formatter (text or JSON) or Dex's slog JSON handler prints it.
    fn line(&self, level: &str, source: &str, msg: &str, fields: &[(&str, &str)]) {
        let t = self.now();
        let line = match self.format.as_str() {
            "json" => {
                let mut m = serde_json::Map::new();
                for (k, v) in fields {
                    m.insert((*k).into(), (*v).into());
                }
                let long = match level {
                    "FATL" => "fatal",
                    "ERRO" => "error",
                    "WARN" => "warning",
                    _ => "info",
                };
                m.insert("level".into(), long.into());
                m.insert("msg".into(), msg.into());
                m.insert("time".into(), t.into());
                m.insert("source".into(), source.into());
                m.insert("file".into(), source.into());
                serde_json::Value::Object(m).to_string()
            }
            "dex-json" => {
                let mut s = format!(
                    "{{\"time\":{},\"level\":{},\"msg\":{}",
                    serde_json::Value::from(t),
                    serde_json::Value::from(match level {
                        "FATL" | "ERRO" => "ERROR",
                        "WARN" => "WARN",
                        _ => "INFO",
                    }),
                    serde_json::Value::from(msg)
                );
                for (k, v) in fields {
                    s.push_str(&format!(
                        ",{}:{}",
                        serde_json::Value::from(*k),
                        serde_json::Value::from(*v)
                    ));
                }
                s.push('}');
                s
            }
            _ => {
                let f = if fields.is_empty() {
                    String::new()
                } else {
                    let inner: Vec<String> =
                        fields.iter().map(|(k, v)| format!("{k}: {v}")).collect();
                    format!("[{}] ", inner.join(", "))
                };
                format!("{t} {level} {f}{source}: {msg}")
            }
        };
        // NetBird logs to stdout when --log-file console, else to its log file; Dex logs to stderr.
        if let Some(f) = &self.file {
            use std::io::Write;
            if let Some(dir) = std::path::Path::new(f).parent() {
                let _ = std::fs::create_dir_all(dir);
            }
            if let Ok(mut out) = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(f)
            {
                let _ = writeln!(out, "{line}");
            }
        } else {
            // One write per line, as Go's loggers make it (conmon then records a whole line), except
            // STANDIN_SPLIT_LINE's: its text, then its newline 1 s later (apart for conmon however loaded
            // the machine is), which conmon records as a partial record and the empty one that ends it.
            use std::io::Write;
            let split = std::env::var("STANDIN_SPLIT_LINE").is_ok_and(|m| m == msg);
            let write = |out: &mut dyn Write| {
                if split {
                    let _ = out.write_all(line.as_bytes());
                    let _ = out.flush();
                    std::thread::sleep(Duration::from_secs(1));
                    let _ = out.write_all(b"\n");
                } else {
                    let _ = out.write_all(format!("{line}\n").as_bytes());
                }
                let _ = out.flush();
            };
            if self.format == "dex-json" {
                write(&mut std::io::stderr().lock());
            } else {
                write(&mut std::io::stdout().lock());
            }
        }
    }
}

/// The standalone management server: no embedded IdP; every API call's token is checked against
/// HttpConfig.AuthIssuer (jwt.WithIssuer), and a mismatch is logged on each call, naming neither value.
fn standalone(log: &Log, token_issuer: &str) -> ! {
    let config = std::env::var("STANDIN_CONFIG").unwrap_or_default();
    let issuer = std::fs::read(&config)
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .and_then(|v| {
            let http = v
                .as_object()?
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("HttpConfig"))?
                .1
                .clone();
            let iss = http
                .as_object()?
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("AuthIssuer"))?
                .1
                .clone();
            iss.as_str().map(String::from)
        });
    let Some(issuer) = issuer else {
        log.line(
            "FATL",
            "management/cmd/management.go:160",
            &format!("failed reading provided config file: {config}"),
            &[],
        );
        std::process::exit(1);
    };
    log.line(
        "INFO",
        "management/internals/server/server.go:202",
        "running HTTP server and gRPC server on the same port: [::]:80",
        &[],
    );
    // The dashboard's first API calls, a moment after the start.
    std::thread::sleep(Duration::from_millis(300));
    for _ in 0..3 {
        if token_issuer != issuer {
            log.line(
                "ERRO",
                "shared/auth/jwt/validator.go:225",
                "token could not be parsed: token has invalid claims: token has invalid issuer",
                &[],
            );
        }
    }
    // The stand-in's own marker (the real server logs accepted calls only at debug level): the calls
    // were made, so a test can tell "no refusal" from "not asked yet".
    log.line("INFO", "standin", "standin: 3 API calls made", &[]);
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

extern "C" fn on_term(_: libc::c_int) {
    // SAFETY: _exit is async-signal-safe; a stopped management server exits 0.
    unsafe { libc::_exit(0) }
}

fn main() {
    // SAFETY: installing a plain handler that only calls _exit.
    unsafe {
        libc::signal(
            libc::SIGTERM,
            on_term as extern "C" fn(libc::c_int) as libc::sighandler_t,
        );
        libc::signal(
            libc::SIGINT,
            on_term as extern "C" fn(libc::c_int) as libc::sighandler_t,
        );
    }
    from_command_line();
    let env = |k: &str, d: &str| std::env::var(k).unwrap_or_else(|_| d.to_string());
    let log = Log {
        format: env("STANDIN_FORMAT", "text"),
        millis: env("STANDIN_MILLIS", "0") == "1",
        file: std::env::var("STANDIN_LOG_FILE").ok(),
    };
    if let Ok(token_issuer) = std::env::var("STANDIN_TOKEN_ISSUER") {
        standalone(&log, &token_issuer);
    }
    let db = env("STANDIN_DB", "/var/lib/openzro/idp.db");
    let published: Vec<String> = env("STANDIN_PUBLISHED", "")
        .split_whitespace()
        .map(String::from)
        .collect();
    let fatal = env("STANDIN_ON_FAILURE", "fatal") == "fatal";
    let dex = log.format == "dex-json";

    log.line(
        "INFO",
        "management/cmd/management.go:192",
        "loading embedded IdP storage",
        &[("file", &db)],
    );
    let conn = Connection::open(&db).and_then(|c| {
        c.busy_timeout(Duration::from_secs(5))?;
        Ok(c)
    });
    let mut local_disabled = false;
    if let (Ok(c), Ok(config)) = (&conn, std::env::var("STANDIN_CONFIG")) {
        let upserted = std::fs::read(&config)
            .map_err(|e| format!("failed to read config {config}: {e}"))
            .and_then(|bytes| {
                local_disabled = local_auth_disabled(&bytes);
                ensure_local_connector(c)
                    .map_err(|e| format!("failed to create local connector: {e}"))?;
                upsert_static_connectors(c, &bytes)
            });
        if let Err(e) = upserted {
            let msg = format!("failed to create embedded IDP manager: failed to create embedded IdP provider: failed to initialize storage: {e}");
            log.line(
                "FATL",
                "management/internals/server/modules.go:122",
                &msg,
                &[],
            );
            std::process::exit(1);
        }
    }
    let server_rows = std::env::var("STANDIN_STORE_CONFIG")
        .ok()
        .map(|p| ozrepair_standin::dbstore::list(&p));
    let rows = conn.and_then(|c| {
        let rows = list_connectors(&c)?;
        Ok((c, rows))
    });
    let rows = match server_rows {
        None => rows.map_err(|e| e.to_string()),
        Some(Ok(server)) => Connection::open_in_memory()
            .map(|c| (c, server))
            .map_err(|e| e.to_string()),
        Some(Err(e)) => Err(e),
    };
    let overlay = match std::env::var("STANDIN_DEX_CONFIG") {
        Ok(path) => std::fs::read(&path)
            .map_err(|e| format!("failed to read config file {path}: {e}"))
            .and_then(|b| dex_static_connectors(&b)),
        Err(_) => Ok(Vec::new()),
    };
    let overlay = match overlay {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    // Dex overlays the static connectors on the storage's: a static one hides a row with its id.
    let rows = rows.map(|(c, mut rows)| {
        rows.retain(|r| !overlay.iter().any(|o| o.id == r.id));
        rows.extend(overlay);
        (c, rows)
    });
    let (conn, rows) = match rows {
        Ok(r) => r,
        Err(e) => {
            let msg = format!("failed to create embedded IDP manager: failed to open storage: {e}");
            log.line(
                "FATL",
                "management/internals/server/modules.go:122",
                &msg,
                &[],
            );
            std::process::exit(1);
        }
    };
    for row in &rows {
        let Err(chain) = open_connector(row, &published) else {
            continue;
        };
        if fatal {
            if dex {
                eprintln!(
                    "failed to initialize server: server: Failed to open connector {}: {chain}",
                    row.id
                );
                std::process::exit(2);
            }
            let msg = format!(
                "failed to create embedded IDP manager: failed to create embedded IdP provider: failed to create dex server: server: Failed to open connector {}: {chain}",
                row.id
            );
            log.line(
                "FATL",
                "management/internals/server/modules.go:122",
                &msg,
                &[],
            );
            std::process::exit(1);
        }
        let source = if dex {
            ""
        } else {
            "idp/dex/logrus_handler.go:83"
        };
        log.line(
            "ERRO",
            source,
            "server: Failed to open connector",
            &[("id", &row.id), ("err", &chain)],
        );
    }
    if local_disabled {
        if let Err(e) = delete_local_connector(&conn) {
            log.line(
                "ERRO",
                "management/server/idp/embedded.go:402",
                &format!("failed to disable local auth: {e}"),
                &[],
            );
        } else {
            log.line(
                "INFO",
                "idp/dex/logrus_handler.go:83",
                "local authentication disabled",
                &[],
            );
        }
    }
    if dex {
        log.line(
            "INFO",
            "",
            "listening on",
            &[("server", "http"), ("address", "0.0.0.0:5556")],
        );
    } else {
        log.line(
            "INFO",
            "management/internals/server/server.go:201",
            "management server version 0.64.0",
            &[],
        );
        log.line(
            "INFO",
            "management/internals/server/server.go:202",
            "running HTTP server and gRPC server on the same port: [::]:80",
            &[],
        );
    }
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}
