//! Locating the deployment: which container runs the IdP, which of its mounts holds the Dex database, and
//! where that database is on this host. Everything is discovered through the Docker API; names are never
//! assumed. Candidates come from every container in any state and each of its volume and bind mounts:
//! the known file names (idp.db, dex.db) and whatever a Dex config.yaml in a mount names as its SQLite
//! file. When two deployments qualify and nothing tells them apart, ozrepair refuses and names them.

use crate::engine::{Container, Engine, Mount};
use crate::{diagnose, reach, store};
use anyhow::{bail, Result};
use std::path::{Path, PathBuf};

/// File names Dex's SQLite storage has in the layouts ozrepair knows (NetBird/openZro embedded: idp.db;
/// a Dex container: dex.db).
pub const DB_NAMES: [&str; 2] = ["idp.db", "dex.db"];
/// Config files that may name the database or define static connectors.
const DEX_CONFIGS: [&str; 3] = ["config.yaml", "config.yml", "config.docker.yaml"];

/// A deployment: the database and, unless --db was given, the container that runs it.
#[derive(Debug, Clone, Default)]
pub struct Deployment {
    pub container: Option<Container>,
    pub volume: Option<String>,
    pub db: PathBuf,
    /// How it was found, for the report.
    pub why: Vec<String>,
    /// Set when the database is reached through the archive API: its path inside the container (`db` is
    /// then a local working copy, made by the caller).
    pub inside: Option<String>,
    /// Connectors a config file defines (id, host path of the file): NetBird rewrites them at every start.
    pub static_connectors: Vec<(String, String)>,
}

#[derive(Debug, Clone)]
struct Candidate {
    container: Container,
    volume: Option<String>,
    db: PathBuf,
    destination: String,
    how: String,
    inside: Option<String>,
}

/// What the operator said.
pub struct Wanted<'a> {
    pub container: Option<&'a str>,
    pub volume: Option<&'a str>,
    pub access: crate::cli::Access,
}

fn is_dex_db(db: &Path) -> bool {
    reach::read(db)
        .and_then(|s| store::check_schema(&s.conn, db))
        .is_ok()
}

/// The host path of a path inside the container, through the mount that holds it.
fn host_path<'m>(mounts: &'m [Mount], inside: &str) -> Option<(PathBuf, &'m Mount)> {
    mounts
        .iter()
        .filter(|m| {
            inside == m.destination
                || inside.starts_with(&format!("{}/", m.destination.trim_end_matches('/')))
        })
        .max_by_key(|m| m.destination.len())
        .map(|m| {
            let rest = inside[m.destination.len()..].trim_start_matches('/');
            (
                if rest.is_empty() {
                    PathBuf::from(&m.source)
                } else {
                    Path::new(&m.source).join(rest)
                },
                m,
            )
        })
}

/// The config files a container's mounts bring in: bind-mounted YAML files, or known names in mounted dirs.
fn config_files(c: &Container) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for m in &c.mounts {
        let src = Path::new(&m.source);
        if src.is_file() && (m.source.ends_with(".yaml") || m.source.ends_with(".yml")) {
            out.push(src.to_path_buf());
        } else if src.is_dir() {
            out.extend(
                DEX_CONFIGS
                    .iter()
                    .map(|n| src.join(n))
                    .filter(|p| p.is_file()),
            );
        }
    }
    out
}

/// The SQLite file a Dex config.yaml names: `storage: {type: sqlite3, config: {file: …}}`. A line-based
/// reading of that one setting (indentation-aware), not a YAML parser.
pub fn dex_sqlite_file(yaml: &str) -> Option<String> {
    let mut in_storage = false;
    let mut storage_indent = 0;
    let mut sqlite = false;
    let mut file = None;
    for line in yaml.lines() {
        let code = line.split(" #").next().unwrap_or("");
        if code.trim().is_empty() || code.trim_start().starts_with('#') {
            continue;
        }
        let indent = code.len() - code.trim_start().len();
        let t = code.trim();
        if indent == 0 {
            in_storage = t == "storage:";
            storage_indent = 0;
            continue;
        }
        if !in_storage {
            continue;
        }
        if storage_indent == 0 {
            storage_indent = indent;
        }
        if let Some(v) = t.strip_prefix("type:") {
            sqlite = v.trim().trim_matches(['"', '\'']) == "sqlite3";
        } else if let Some(v) = t.strip_prefix("file:") {
            if indent > storage_indent {
                file = Some(v.trim().trim_matches(['"', '\'']).to_string());
            }
        }
    }
    file.filter(|_| sqlite)
}

/// NetBird's management.json (or a combined server's config) in the container's mounts, and the ids of
/// the static connectors it defines (EmbeddedIdP.StaticConnectors).
fn static_connectors(c: &Container) -> Vec<(String, String)> {
    let mut files = Vec::new();
    for m in &c.mounts {
        let src = Path::new(&m.source);
        if src.is_file() && m.source.ends_with(".json") {
            files.push(src.to_path_buf());
        } else if src.is_dir() && src.join("management.json").is_file() {
            files.push(src.join("management.json"));
        }
    }
    let get = |v: &serde_json::Value, k: &str| -> Option<serde_json::Value> {
        v.as_object()?
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(k))
            .map(|(_, v)| v.clone())
    };
    let mut out = Vec::new();
    for f in files {
        let Ok(bytes) = std::fs::read(&f) else {
            continue;
        };
        let Ok(v) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
            continue;
        };
        let list = get(&v, "EmbeddedIdP").and_then(|e| get(&e, "StaticConnectors"));
        for sc in list.and_then(|l| l.as_array().cloned()).unwrap_or_default() {
            if let Some(id) = get(&sc, "id").and_then(|i| i.as_str().map(String::from)) {
                out.push((id, f.display().to_string()));
            }
        }
    }
    out
}

fn label(c: &Container, k: &str) -> String {
    c.labels.get(k).cloned().unwrap_or_default()
}

fn describe(c: &Container) -> String {
    let service = label(c, "com.docker.compose.service");
    let svc = if service.is_empty() {
        String::new()
    } else {
        format!(", compose service {service}")
    };
    format!(
        "container {} (image {}, {}{svc})",
        c.name, c.image, c.status
    )
}

/// The Dex databases one container's mounts hold.
fn candidates_of(c: &Container, want: &Wanted, unreadable: &mut Vec<String>) -> Vec<Candidate> {
    let mut out: Vec<Candidate> = Vec::new();
    let forced = want.container.is_some() || want.volume.is_some();
    let mut push = |db: PathBuf, m: &Mount, how: String| {
        if want.volume.is_some_and(|v| m.name.as_deref() != Some(v))
            || out.iter().any(|o| o.db == db)
        {
            return;
        }
        let dex = forced || is_dex_db(&db);
        tracing::debug!(container = %c.name, db = %db.display(), dex, how = %how, "database candidate");
        if dex {
            out.push(Candidate {
                container: c.clone(),
                volume: m.name.clone(),
                db,
                destination: m.destination.clone(),
                how,
                inside: None,
            });
        }
    };
    // What the container's own Dex config names first.
    for cfg in config_files(c) {
        let Some(inside) = std::fs::read_to_string(&cfg)
            .ok()
            .and_then(|y| dex_sqlite_file(&y))
        else {
            continue;
        };
        if let Some((db, m)) = host_path(&c.mounts, &inside) {
            if db.symlink_metadata().is_ok() {
                push(
                    db,
                    m,
                    format!("named by {} (storage.config.file {inside})", cfg.display()),
                );
            }
        }
    }
    for m in &c.mounts {
        if m.kind != "volume" && m.kind != "bind" {
            continue;
        }
        if !Path::new(&m.source).exists() {
            unreadable.push(format!("{} ({})", m.source, c.name));
            continue;
        }
        for n in DB_NAMES {
            let db = Path::new(&m.source).join(n);
            if db.symlink_metadata().is_ok() {
                push(db, m, format!("{n} in the mount at {}", m.destination));
            }
        }
    }
    out
}

pub async fn locate(engine: &Engine, want: &Wanted<'_>) -> Result<Deployment> {
    let containers: Vec<Container> = match want.container {
        Some(name) => match engine.container(name).await? {
            Some(c) => vec![c],
            None => bail!(
                "there is no container {name:?} on {}; nothing was changed; `docker ps -a` lists the containers",
                engine.endpoint
            ),
        },
        None => {
            let mut all = Vec::new();
            for id in engine.container_ids().await? {
                if let Some(c) = engine.container(&id).await? {
                    all.push(c);
                }
            }
            all
        }
    };
    if let Some(v) = want.volume {
        if engine.volume_mountpoint(v).await?.is_none() {
            bail!("there is no volume {v:?} on {}; nothing was changed; `docker volume ls` lists the volumes", engine.endpoint);
        }
    }

    let mut unreadable: Vec<String> = Vec::new();
    let mut found: Vec<Candidate> = Vec::new();
    for c in &containers {
        if want.access != crate::cli::Access::Archive {
            found.extend(candidates_of(c, want, &mut unreadable));
        }
        if want.access == crate::cli::Access::Host {
            continue;
        }
        // Mounts this machine cannot read (or --access archive): ask the engine for the known names.
        for m in &c.mounts {
            let local = Path::new(&m.source).exists();
            if (local && want.access != crate::cli::Access::Archive)
                || want.volume.is_some_and(|v| m.name.as_deref() != Some(v))
            {
                continue;
            }
            for n in DB_NAMES {
                let inside = format!("{}/{n}", m.destination.trim_end_matches('/'));
                if engine.exists(&c.id, &inside).await? {
                    found.push(Candidate {
                        container: c.clone(),
                        volume: m.name.clone(),
                        db: PathBuf::from(&inside),
                        destination: m.destination.clone(),
                        how: format!(
                            "{n} in the mount at {}, through the Docker archive API",
                            m.destination
                        ),
                        inside: Some(inside),
                    });
                }
            }
        }
    }

    // A volume given on its own, mounted by no container: work on its database with nothing to stop.
    if found.is_empty() && want.container.is_none() {
        if let Some(v) = want.volume {
            if let Some(mp) = engine.volume_mountpoint(v).await? {
                if let Some(db) = DB_NAMES
                    .iter()
                    .map(|n| Path::new(&mp).join(n))
                    .find(|p| p.symlink_metadata().is_ok())
                {
                    return Ok(Deployment {
                        volume: Some(v.to_string()),
                        db,
                        why: vec![format!(
                            "volume {v} (no container mounts it, so nothing is stopped or started)"
                        )],
                        ..Default::default()
                    });
                }
            }
        }
    }

    if found.is_empty() {
        let mut msg = format!(
            "found no Dex database (idp.db, dex.db, or the file a Dex config.yaml names) in the mounts of {} container(s) on {}",
            containers.len(),
            engine.endpoint
        );
        if !unreadable.is_empty() {
            msg.push_str(&format!(
                " ({} mount(s) are not on this host's filesystem: {})",
                unreadable.len(),
                unreadable.join(", ")
            ));
        }
        msg.push_str(
            "; nothing was changed; name it with --container/--volume, or pass the file with --db",
        );
        bail!(msg);
    }

    // The same database seen through several containers (a sidecar mounting the same volume): keep the one
    // that looks most like the IdP's server.
    found.sort_by_key(|c| std::cmp::Reverse(server_score(&c.container)));
    let mut distinct: Vec<Candidate> = Vec::new();
    for c in found {
        if !distinct.iter().any(|d| d.db == c.db) {
            distinct.push(c);
        }
    }
    if distinct.len() == 1 {
        return Ok(deployment(distinct.remove(0), None));
    }

    // Several deployments: rank them by what says "this one is locked out".
    let mut ranked = Vec::new();
    for c in distinct {
        let lines = engine.logs(&c.container.id, crate::LOG_TAIL).await?;
        let f = diagnose::scan(&lines, &c.container.started_at);
        let (score, reason) = if !f.evidence.is_empty() || !f.failures.is_empty() {
            (2, "its logs report a failing connector")
        } else if c.container.status == "restarting" {
            (1, "it is in a restart loop")
        } else {
            (0, "")
        };
        ranked.push((score, reason, c));
    }
    ranked.sort_by_key(|(s, _, _)| std::cmp::Reverse(*s));
    let n = ranked.len();
    if ranked[0].0 > ranked[1].0 {
        let (_, reason, c) = ranked.remove(0);
        let others: Vec<String> = ranked
            .iter()
            .map(|(_, _, o)| o.container.name.clone())
            .collect();
        let why = format!(
            "chosen among {n} deployments because {reason} (the others: {})",
            others.join(", ")
        );
        return Ok(deployment(c, Some(why)));
    }
    let names: Vec<String> = ranked
        .iter()
        .map(|(_, _, c)| format!("--container {} ({})", c.container.name, c.db.display()))
        .collect();
    bail!(
        "found {n} deployments and nothing tells which one to repair: {}; nothing was changed; run again with one of them",
        names.join(", ")
    );
}

fn deployment(c: Candidate, chosen: Option<String>) -> Deployment {
    let mut why = vec![
        describe(&c.container),
        format!(
            "{} mounted at {}: {}",
            c.volume
                .as_deref()
                .map(|v| format!("volume {v}"))
                .unwrap_or_else(|| "bind mount".into()),
            c.destination,
            c.how
        ),
    ];
    why.extend(chosen);
    let static_connectors = static_connectors(&c.container);
    Deployment {
        static_connectors,
        container: Some(c.container),
        volume: c.volume,
        db: c.db,
        why,
        inside: c.inside,
    }
}

/// How much a container looks like the process that owns the IdP database (not a sidecar).
fn server_score(c: &Container) -> u8 {
    let service = label(c, "com.docker.compose.service");
    let hay = format!("{} {} {service}", c.name, c.image).to_ascii_lowercase();
    let mut s = 0;
    for (needle, w) in [
        ("management", 3),
        ("server", 2),
        ("dex", 3),
        ("openzro", 1),
        ("netbird", 1),
    ] {
        if hay.contains(needle) {
            s += w;
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_sqlite_file_from_a_dex_config() {
        let yaml = "issuer: https://vpn.example.com/dex\nstorage:\n  type: sqlite3\n  config:\n    file: /var/lib/dex/dex.db # the db\nweb:\n  http: 0.0.0.0:5556\n";
        assert_eq!(
            dex_sqlite_file(yaml).as_deref(),
            Some("/var/lib/dex/dex.db")
        );
        let pg = "storage:\n  type: postgres\n  config:\n    host: db\n";
        assert_eq!(dex_sqlite_file(pg), None);
        let quoted = "storage:\n  type: \"sqlite3\"\n  config:\n    file: \"/data/x.sqlite\"\n";
        assert_eq!(dex_sqlite_file(quoted).as_deref(), Some("/data/x.sqlite"));
    }

    #[test]
    fn maps_container_paths_through_the_longest_mount() {
        let m = |src: &str, dst: &str| Mount {
            kind: "bind".into(),
            name: None,
            source: src.into(),
            destination: dst.into(),
        };
        let mounts = [m("/h/var", "/var"), m("/h/dex", "/var/lib/dex")];
        assert_eq!(
            host_path(&mounts, "/var/lib/dex/dex.db").map(|p| p.0),
            Some(PathBuf::from("/h/dex/dex.db"))
        );
        assert_eq!(
            host_path(&mounts, "/var/x").map(|p| p.0),
            Some(PathBuf::from("/h/var/x"))
        );
        assert!(host_path(&mounts, "/etc/x").is_none());
        assert!(host_path(&mounts, "/variable").is_none());
    }
}
