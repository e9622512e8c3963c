//! Reaching the database: one type for both ways in, so nothing after this step asks "are we in archive
//! mode". [`Database::Host`] is a file on this machine ([`host`]); [`Database::Archive`] is a private copy
//! of the set inside the container, fetched and put back through the engine's archive API ([`archive`]).
//! Either way [`Database::path`] is the file ozrepair reads, backs up and writes; after the container is
//! stopped [`Database::refresh`] takes the set as it is now, and after the write [`Database::write_back`]
//! puts it back and verifies it.

pub mod archive;
pub mod dirfd;
pub mod host;

use crate::docker::locate::{DbPlace, Located};
use crate::docker::Engine;
use anyhow::{anyhow, Result};
use std::path::{Path, PathBuf};

/// The database as ozrepair works on it.
pub enum Database {
    /// The file itself, on this machine.
    Host(PathBuf),
    /// A private copy of the set inside a container.
    Archive(InContainer),
}

/// A database set copied out of a container, and where it goes back.
pub struct InContainer {
    pub container_id: String,
    pub container_name: String,
    /// Its path inside the container.
    pub inside: String,
    /// Its directory on this machine by the container's mounts (it may not be readable here).
    host_dir: Option<PathBuf>,
    /// The local copy (its directory is removed when this is dropped).
    copy: archive::Fetched,
    /// What each file of the set was in the container when last fetched (database first).
    entries: Vec<archive::Entry>,
}

impl Database {
    /// Reaches the database `located` names: opens nothing yet, but copies an in-container set out.
    pub async fn reach(located: &Located) -> Result<Database> {
        match &located.place {
            DbPlace::Host(p) => Ok(Database::Host(p.clone())),
            DbPlace::Absent => Err(anyhow!(
                "this deployment has no Dex database; nothing was changed"
            )),
            DbPlace::Container(inside) => {
                let (e, c) = located.managed().ok_or_else(|| {
                    anyhow!("a database inside a container needs the engine and the container")
                })?;
                let host_dir = crate::docker::locate::host_path(&c.mounts, inside)
                    .and_then(|(p, _)| p.parent().map(Path::to_path_buf));
                let copy = archive::fetch(e, &c.id, inside, host_dir.as_deref()).await?;
                Ok(Database::Archive(InContainer {
                    container_id: c.id.clone(),
                    container_name: c.name.clone(),
                    inside: inside.clone(),
                    host_dir,
                    entries: copy.entries.clone(),
                    copy,
                }))
            }
        }
    }

    /// The file ozrepair reads, backs up and writes (the database itself, or its local copy).
    pub fn path(&self) -> &Path {
        match self {
            Database::Host(p) => p,
            Database::Archive(a) => &a.copy.db,
        }
    }

    /// The database as the report names it: its host path, or `container:/path/inside`.
    pub fn shown(&self) -> String {
        match self {
            Database::Host(p) => p.display().to_string(),
            Database::Archive(a) => format!("{}:{}", a.container_name, a.inside),
        }
    }

    /// A read view that cannot change the database.
    pub fn read(&self) -> Result<host::Snapshot> {
        host::read(self.path())
    }

    /// Where backups go by default: beside the database, or for a database inside a container, on this
    /// machine under ~/ozrepair-backups/<container>.
    pub fn default_backup_root(&self) -> PathBuf {
        match self {
            Database::Host(p) => p
                .parent()
                .unwrap_or(Path::new("."))
                .join("ozrepair-backups"),
            Database::Archive(a) => {
                PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/root".into()))
                    .join("ozrepair-backups")
                    .join(&a.container_name)
            }
        }
    }

    /// After the container stopped: take the set as it is now (nothing writes it any more).
    pub async fn refresh(&mut self, engine: &Engine) -> Result<()> {
        if let Database::Archive(a) = self {
            a.entries = archive::refresh(
                engine,
                &a.container_id,
                &a.inside,
                a.host_dir.as_deref(),
                &a.copy.db,
            )
            .await?;
        }
        Ok(())
    }

    /// Fails when the set could not be put back as it was (its owner cannot be known): checked before
    /// anything is stopped or written.
    pub fn can_write_back(&self) -> Result<()> {
        match self {
            Database::Host(_) => Ok(()),
            Database::Archive(a) => archive::owners_known(&a.entries, &a.container_name, &a.inside),
        }
    }

    /// After the write: put the set back where it lives, verified. Nothing to do for a host file.
    pub async fn write_back(&self, engine: &Engine) -> Result<()> {
        if let Database::Archive(a) = self {
            crate::progress::say(format!(
                "copying the database back into {}",
                a.container_name
            ));
            archive::put(engine, &a.container_id, &a.inside, &a.copy.db, &a.entries).await?;
        }
        Ok(())
    }
}
