//! Locating the deployment: which container runs the IdP, which of its mounts holds the Dex database, and
//! where that database is on this host. Everything is discovered through the Docker API; names are never
//! assumed. When two deployments qualify and nothing tells them apart, ozrepair refuses and names them.

use crate::engine::{Container, Engine};
use crate::{diagnose, reach, store};
use anyhow::{bail, Result};
use std::path::{Path, PathBuf};

/// File names Dex's SQLite storage has in the layouts ozrepair knows (NetBird/openZro embedded: idp.db;
/// a Dex container: dex.db).
pub const DB_NAMES: [&str; 2] = ["idp.db", "dex.db"];

/// A deployment: the database and, unless --db was given, the container that runs it.
#[derive(Debug, Clone)]
pub struct Deployment {
    pub container: Option<Container>,
    pub volume: Option<String>,
    pub db: PathBuf,
    /// How it was found, for the report.
    pub why: Vec<String>,
}

#[derive(Debug, Clone)]
struct Candidate {
    container: Container,
    volume: Option<String>,
    db: PathBuf,
    destination: String,
}

/// What the operator said.
pub struct Wanted<'a> {
    pub container: Option<&'a str>,
    pub volume: Option<&'a str>,
}

fn is_dex_db(db: &Path) -> bool {
    reach::read(db)
        .and_then(|s| store::check_schema(&s.conn, db))
        .is_ok()
}

/// Looks for a Dex database in the directory a mount brings from the host.
fn databases_in(source: &str) -> Vec<PathBuf> {
    DB_NAMES
        .iter()
        .map(|n| Path::new(source).join(n))
        .filter(|p| p.symlink_metadata().is_ok())
        .collect()
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

    let mut found: Vec<Candidate> = Vec::new();
    let mut unreadable: Vec<String> = Vec::new();
    for c in &containers {
        for m in &c.mounts {
            if m.kind != "volume" && m.kind != "bind" {
                continue;
            }
            if want.volume.is_some_and(|v| m.name.as_deref() != Some(v)) {
                continue;
            }
            if !Path::new(&m.source).exists() {
                unreadable.push(format!("{} ({})", m.source, c.name));
                continue;
            }
            for db in databases_in(&m.source) {
                if is_dex_db(&db) || want.container.is_some() || want.volume.is_some() {
                    found.push(Candidate {
                        container: c.clone(),
                        volume: m.name.clone(),
                        db,
                        destination: m.destination.clone(),
                    });
                }
            }
        }
    }

    // A volume given on its own, mounted by no container: work on its database with nothing to stop.
    if found.is_empty() && want.container.is_none() {
        if let Some(v) = want.volume {
            if let Some(mp) = engine.volume_mountpoint(v).await? {
                if let Some(db) = databases_in(&mp).into_iter().next() {
                    return Ok(Deployment {
                        container: None,
                        volume: Some(v.to_string()),
                        db,
                        why: vec![format!(
                            "volume {v} (no container mounts it, so nothing is stopped or started)"
                        )],
                    });
                }
            }
        }
    }

    if found.is_empty() {
        let mut msg = format!(
            "found no Dex database (idp.db or dex.db) in the mounts of {} container(s) on {}",
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
    // that looks like the IdP's server.
    found.sort_by_key(|c| std::cmp::Reverse(server_score(&c.container)));
    let mut distinct: Vec<Candidate> = Vec::new();
    for c in found {
        if !distinct.iter().any(|d| d.db == c.db) {
            distinct.push(c);
        }
    }

    let chosen = if distinct.len() == 1 {
        distinct.remove(0)
    } else {
        // Several deployments: the one whose current run reports a connector failure is the one to fix.
        let mut failing = Vec::new();
        for (i, c) in distinct.iter().enumerate() {
            let lines = engine.logs(&c.container.id, crate::LOG_TAIL).await?;
            let f = diagnose::scan(&lines, &c.container.started_at);
            if !f.evidence.is_empty() || !f.failures.is_empty() {
                failing.push(i);
            }
        }
        if failing.len() == 1 {
            let c = distinct.remove(failing[0]);
            let mut d = deployment(c);
            d.why.push(format!(
                "chosen among {} deployments: the only one whose logs report a failing connector",
                distinct.len() + 1
            ));
            return Ok(d);
        }
        let names: Vec<String> = distinct
            .iter()
            .map(|c| format!("--container {} ({})", c.container.name, c.db.display()))
            .collect();
        bail!(
            "found {} deployments and nothing tells which one to repair: {}; nothing was changed; run again with one of them",
            distinct.len(),
            names.join(", ")
        );
    };
    Ok(deployment(chosen))
}

fn deployment(c: Candidate) -> Deployment {
    let why = vec![
        describe(&c.container),
        format!(
            "{} mounted at {}, database {}",
            c.volume
                .as_deref()
                .map(|v| format!("volume {v}"))
                .unwrap_or_else(|| "bind mount".into()),
            c.destination,
            c.db.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        ),
    ];
    Deployment {
        container: Some(c.container),
        volume: c.volume,
        db: c.db,
        why,
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
