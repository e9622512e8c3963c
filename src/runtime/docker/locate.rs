//! Locating the deployment: which container runs the IdP, which of its mounts holds the Dex database, and
//! where that database is on this host. Everything is discovered through the Docker API; names are never
//! assumed. Candidates come from every container in any state and each of its volume and bind mounts:
//! the known file names (idp.db, dex.db) and whatever a Dex config.yaml in a mount names as its SQLite
//! file. When two deployments qualify and nothing tells them apart, ozrepair refuses and names them.

use super::engine::{before_anything, Container, Engine, Mount, MountKind, Unreachable};
use crate::logs::{self, LogFindings};
use crate::runtime::{ConfigPlace, Probe, State, StorePlace as DbPlace};
use crate::settings::Access;
use anyhow::{bail, Result};
use std::path::{Path, PathBuf};

/// File names Dex's SQLite storage has in the layouts ozrepair knows (NetBird/openZro embedded: idp.db;
/// a Dex container: dex.db).
pub const DB_NAMES: [&str; 2] = ["idp.db", "dex.db"];
/// Config files that may name the database or define static connectors.
const DEX_CONFIGS: [&str; 3] = ["config.yaml", "config.yml", "config.docker.yaml"];

/// What was found on the engine.
pub struct Found {
    pub container: Option<Container>,
    pub volume: Option<String>,
    pub place: DbPlace,
    pub why: Vec<String>,
    pub logs: Option<LogFindings>,
}

#[derive(Debug, Clone)]
struct Candidate {
    container: Container,
    volume: Option<String>,
    place: DbPlace,
    destination: String,
    how: String,
    /// More to say of how it was found (a stale SQLite file left beside a server store).
    notes: Vec<String>,
}

/// What the operator said.
pub struct Wanted<'a> {
    pub container: Option<&'a str>,
    pub volume: Option<&'a str>,
    pub access: Access,
}

/// A file this machine can open for reading, or no file at all.
fn readable_or_absent(p: &Path) -> bool {
    match p.symlink_metadata() {
        // Not there, or not a directory to hold it (a mount of a single file).
        Err(e) => e.kind() != std::io::ErrorKind::PermissionDenied,
        Ok(m) if m.file_type().is_file() => std::fs::File::open(p).is_ok(),
        Ok(_) => true,
    }
}

/// The host path of a path inside the container, through the mount that holds it.
pub fn host_path<'m>(mounts: &'m [Mount], inside: &str) -> Option<(PathBuf, &'m Mount)> {
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
fn candidates_of(
    c: &Container,
    want: &Wanted,
    probe: Probe<'_>,
    unreadable: &mut Vec<String>,
) -> Vec<Candidate> {
    let mut out: Vec<Candidate> = Vec::new();
    let forced = want.container.is_some() || want.volume.is_some();
    let mut push = |db: PathBuf, m: &Mount, how: String| {
        if want.volume.is_some_and(|v| m.name.as_deref() != Some(v))
            || out.iter().any(|o| o.place == DbPlace::File(db.clone()))
        {
            return;
        }
        let dex = forced || probe(&db);
        tracing::debug!(container = %c.name, db = %db.display(), dex, how = %how, "database candidate");
        if dex {
            out.push(Candidate {
                container: c.clone(),
                volume: m.name.clone(),
                place: DbPlace::File(db),
                destination: m.destination.clone(),
                how,
                notes: Vec::new(),
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
        if !matches!(m.kind, MountKind::Volume | MountKind::Bind) {
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

/// Finds the deployment on `engine`: every container (or the one asked for) and each of its mounts,
/// candidates confirmed by `probe`, ranked by their logs when several qualify.
pub async fn find(engine: &Engine, want: &Wanted<'_>, probe: Probe<'_>) -> Result<Found> {
    // Containers that could not be inspected (an engine error that outlived the retries): named in the
    // report, the others are looked at all the same.
    let mut skipped: Vec<String> = Vec::new();
    let containers: Vec<Container> = match want.container {
        Some(name) => match engine.container(name).await {
            Ok(Some(c)) => vec![c],
            Ok(None) => bail!(
                "there is no container {name:?} on {}; nothing was changed; `docker ps -a` lists the containers",
                engine.endpoint
            ),
            Err(e) if e.is::<Unreachable>() => return Err(before_anything(e)),
            Err(e) => bail!(
                "container {name} could not be inspected: {e:#}; nothing was changed; run again in a moment"
            ),
        },
        None => {
            let mut all = Vec::new();
            let ids = engine.container_ids().await.map_err(before_anything)?;
            for id in ids {
                match engine.container(&id).await {
                    Ok(Some(c)) => all.push(c),
                    // Removed since the list was taken.
                    Ok(None) => {}
                    Err(e) => {
                        let short: String = id.chars().take(12).collect();
                        tracing::warn!(container = %short, "cannot inspect: {e:#}");
                        skipped.push(format!("container {short} could not be inspected ({e:#}) and was skipped"));
                    }
                }
            }
            all
        }
    };
    match find_in(engine, want, &containers, probe).await {
        Ok(mut f) => {
            f.why.extend(skipped);
            Ok(f)
        }
        Err(e) if skipped.is_empty() => Err(e),
        Err(e) => Err(anyhow::anyhow!("{e:#} ({})", skipped.join("; "))),
    }
}

/// The deployment among `containers` (every container of the engine, or the one asked for).
async fn find_in(
    engine: &Engine,
    want: &Wanted<'_>,
    containers: &[Container],
    probe: Probe<'_>,
) -> Result<Found> {
    if let Some(v) = want.volume {
        if engine.volume_mountpoint(v).await?.is_none() {
            bail!("there is no volume {v:?} on {}; nothing was changed; `docker volume ls` lists the volumes", engine.endpoint);
        }
    }

    let mut unreadable: Vec<String> = Vec::new();
    // Paths the engine could not be asked about (its archive API failed for them).
    let mut unasked: Vec<String> = Vec::new();
    let mut found: Vec<Candidate> = Vec::new();
    // Containers whose configuration names a store ozrepair cannot take (never replaced by a file).
    let mut refused: Vec<anyhow::Error> = Vec::new();
    let local = engine.endpoint.starts_with("unix://");
    for c in containers {
        // A database server the configuration names is the store: an SQLite file left in the mounts
        // (NetBird's migration leaves idp.db) is never taken for it.
        if want.volume.is_none() {
            match super::dbserver::named(c, containers, local) {
                Ok(Some(server)) => {
                    found.push(server_candidate(c, server));
                    continue;
                }
                Ok(None) => {}
                Err(e) => {
                    refused.push(e);
                    continue;
                }
            }
        }
        if want.access != Access::Archive {
            found.extend(candidates_of(c, want, probe, &mut unreadable));
        }
        if want.access == Access::Host {
            continue;
        }
        // Mounts this machine cannot read (or --access archive): ask the engine for the known names. A
        // mount whose database file is there but cannot be opened here (a rootless engine's volume, its
        // files owned by shifted uids) counts as one this machine cannot read.
        for m in &c.mounts {
            let local = Path::new(&m.source).exists()
                && DB_NAMES
                    .iter()
                    .all(|n| readable_or_absent(&Path::new(&m.source).join(n)));
            if (local && want.access != Access::Archive)
                || want.volume.is_some_and(|v| m.name.as_deref() != Some(v))
            {
                continue;
            }
            // Only a directory can hold the database (a config file may be mounted on its own).
            match engine.stat(&c.id, &m.destination).await {
                Ok(Some(s)) if s.is_dir => {}
                Ok(_) => continue,
                Err(e) => {
                    tracing::debug!(container = %c.name, path = %m.destination, "cannot look: {e:#}");
                    unasked.push(format!("{} in {}", m.destination, c.name));
                    continue;
                }
            }
            for n in DB_NAMES {
                let inside = format!("{}/{n}", m.destination.trim_end_matches('/'));
                // An engine that cannot look does not stop the search: the path is named if nothing is
                // found.
                let there = match engine.exists(&c.id, &inside).await {
                    Ok(there) => there,
                    Err(e) => {
                        tracing::debug!(container = %c.name, path = %inside, "cannot look: {e:#}");
                        unasked.push(format!("{inside} in {}", c.name));
                        false
                    }
                };
                if there {
                    found.push(Candidate {
                        container: c.clone(),
                        volume: m.name.clone(),
                        place: DbPlace::Inside(inside),
                        destination: m.destination.clone(),
                        how: format!(
                            "{n} in the mount at {}, through the Docker archive API",
                            m.destination
                        ),
                        notes: Vec::new(),
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
                    return Ok(Found {
                        container: None,
                        volume: Some(v.to_string()),
                        place: DbPlace::File(db),
                        why: vec![format!(
                            "volume {v} (no container mounts it, so nothing is stopped or started)"
                        )],
                        logs: None,
                    });
                }
            }
        }
    }

    if found.is_empty() {
        if let Some(e) = refused.into_iter().next() {
            return Err(e);
        }
    }
    if found.is_empty() && want.volume.is_none() {
        if let Some(f) = standalone(containers, want)? {
            return Ok(f);
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
        if !unasked.is_empty() {
            msg.push_str(&format!(
                " (the engine could not look for {})",
                unasked.join(", ")
            ));
        }
        msg.push_str(
            "; nothing was changed; name it with --container/--volume, or pass the file with --db",
        );
        // Nothing on this engine: [`crate::runtime::locate`] may look at systemd's units next.
        return Err(crate::runtime::NothingHere(msg).into());
    }

    // The same database seen through several containers (a sidecar mounting the same volume): keep the one
    // that looks most like the IdP's server.
    found.sort_by_key(|c| std::cmp::Reverse(server_score(&c.container)));
    let mut distinct: Vec<Candidate> = Vec::new();
    for c in found {
        if !distinct.iter().any(|d| d.place == c.place) {
            distinct.push(c);
        }
    }
    // A container that may restart by itself is looked at twice: Podman's restart loop says `running`
    // or `stopped`, never `restarting`.
    let mut settled: Vec<Container> = Vec::new();
    for c in &mut distinct {
        let now = match settled.iter().find(|s| s.id == c.container.id) {
            Some(s) => s.clone(),
            None => {
                let s = engine.settle(c.container.clone()).await?;
                settled.push(s.clone());
                s
            }
        };
        c.container = now;
    }
    if distinct.len() == 1 {
        return Ok(found_one(distinct.remove(0), None, None));
    }

    // Several deployments: rank them by what says "this one is locked out".
    let mut ranked = Vec::new();
    for c in distinct {
        let lines = engine.run_logs(&c.container).await?;
        let f = logs::scan_window(&lines, &c.container.diagnosed_run());
        let (score, reason) = if !f.evidence.is_empty() || !f.failures.is_empty() {
            (2, "its logs report a failing connector")
        } else if c.container.status == State::Restarting {
            (1, "it is in a restart loop")
        } else {
            (0, "")
        };
        ranked.push(Ranked {
            score,
            reason,
            candidate: c,
            logs: f,
        });
    }
    ranked.sort_by_key(|r| std::cmp::Reverse(r.score));
    let n = ranked.len();
    if ranked[0].score > ranked[1].score {
        let best = ranked.remove(0);
        let others: Vec<String> = ranked
            .iter()
            .map(|o| o.candidate.container.name.clone())
            .collect();
        let why = format!(
            "chosen among {n} deployments because {} (the others: {})",
            best.reason,
            others.join(", ")
        );
        return Ok(found_one(best.candidate, Some(why), Some(best.logs)));
    }
    let names: Vec<String> = ranked
        .iter()
        .map(|r| {
            let place = match &r.candidate.place {
                DbPlace::File(p) => p.display().to_string(),
                DbPlace::Inside(p) => p.clone(),
                DbPlace::Server(s) => s.shown(),
                DbPlace::Absent => "no Dex database".into(),
            };
            format!("--container {} ({place})", r.candidate.container.name)
        })
        .collect();
    bail!(
        "found {n} deployments and nothing tells which one to repair: {}; nothing was changed; run again with one of them",
        names.join(", ")
    );
}

/// One deployment among several, with what its logs say (read to rank them).
struct Ranked {
    score: u8,
    reason: &'static str,
    candidate: Candidate,
    logs: LogFindings,
}

/// A server store the container's configuration names, with the SQLite files its mounts still hold
/// named as left alone.
fn server_candidate(c: &Container, server: crate::dsn::Server) -> Candidate {
    let mut notes: Vec<String> = server.notes.clone();
    if let Some(v) = &server.via {
        notes.push(format!("reached through {v}"));
    }
    for m in &c.mounts {
        for n in DB_NAMES {
            let db = Path::new(&m.source).join(n);
            if db.symlink_metadata().is_ok() {
                notes.push(format!(
                    "{}/{n} in the mount at {} is not the store (the configuration names {}); it is left alone",
                    m.destination.trim_end_matches('/'),
                    m.destination,
                    server.flavour.as_str()
                ));
            }
        }
    }
    Candidate {
        container: c.clone(),
        volume: None,
        destination: String::new(),
        how: format!(
            "{} {}, named by {}",
            server.flavour.as_str(),
            server.shown(),
            server.from
        ),
        place: DbPlace::Server(Box::new(server)),
        notes,
    }
}

fn found_one(c: Candidate, chosen: Option<String>, logs: Option<LogFindings>) -> Found {
    if let DbPlace::Server(_) = &c.place {
        let mut why = vec![describe(&c.container), c.how];
        why.extend(c.notes);
        why.extend(chosen);
        return Found {
            container: Some(c.container),
            volume: None,
            place: c.place,
            why,
            logs,
        };
    }
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
    Found {
        container: Some(c.container),
        volume: c.volume,
        place: c.place,
        why,
        logs,
    }
}

/// With no Dex database anywhere: the management server set up with an external IdP (the standalone
/// setup), the one container that mounts a management.json (a file of that name, or one in a mounted
/// directory). Whether that file holds OIDC settings ozrepair can check is for the config step to read.
fn standalone(containers: &[Container], want: &Wanted<'_>) -> Result<Option<Found>> {
    let mounts_management_json = |c: &Container| {
        c.mounts.iter().find_map(|m| {
            let src = Path::new(&m.source);
            let file = if m.source.ends_with("/management.json") {
                src.to_path_buf()
            } else {
                src.join("management.json")
            };
            file.symlink_metadata()
                .is_ok_and(|meta| meta.is_file())
                .then(|| file.display().to_string())
        })
    };
    let mut with: Vec<(&Container, String)> = containers
        .iter()
        .filter_map(|c| mounts_management_json(c).map(|f| (c, f)))
        .collect();
    with.sort_by_key(|(c, _)| std::cmp::Reverse(server_score(c)));
    match with.as_slice() {
        [] => Ok(None),
        [(c, file), rest @ ..]
            if want.container.is_some()
                || rest.iter().all(|(o, _)| server_score(o) < server_score(c)) =>
        {
            let c = (*c).clone();
            Ok(Some(Found {
                why: vec![
                    describe(&c),
                    format!("no Dex database in its mounts: a management server with an external IdP (the standalone setup), its settings in {file}"),
                ],
                container: Some(c),
                volume: None,
                place: DbPlace::Absent,
                logs: None,
            }))
        }
        _ => bail!(
            "found no Dex database, and {} containers mount a management.json: {}; nothing was changed; name one with --container",
            with.len(),
            with.iter()
                .map(|(c, f)| format!("{} ({f})", c.name))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Where a container's config files may be: each volume and bind mount, and the directory of the compose
/// project that made it (where NetBird's configure.sh keeps setup.env).
pub fn config_places(c: &Container) -> Vec<ConfigPlace> {
    let mut out = Vec::new();
    if let Some(dir) = c.labels.get("com.docker.compose.project.working_dir") {
        out.push(ConfigPlace::SetupDir(PathBuf::from(dir)));
    }
    out.extend(c.mounts.iter().map(|m| ConfigPlace::Mount {
        source: PathBuf::from(&m.source),
        seen_at: m.destination.clone(),
    }));
    out
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
            kind: MountKind::Bind,
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
