//! Dex's SQLite store: the one implementation file of [`Store`] for it. The database is either a file on
//! this machine ([`Database::Host`]) or a private copy of the set inside what runs the IdP
//! ([`Database::Inside`], copied out and put back by the runtime); either way [`Sqlite::path`] is the
//! file ozrepair reads, backs up and writes. Its parts:
//!
//! - [`host`]: the file on this machine (no links, read without writing);
//! - [`sql`]: the schema and the shapes Dex never creates, quick_check, the connector rows, and the one
//!   transactional write, which tells a failure before its commit from one after;
//! - [`users`]: the `password` and `auth_session` tables (`ozrepair password`);
//! - [`locks`]: SQLite's own locks, which stop other writers while the files are copied;
//! - [`copy`]: the set's files copied and proven, and restore's build beside the live file and swap.

pub mod copy;
pub mod host;
pub mod locks;
pub mod sql;
pub mod users;

use super::{Found, Lock, Store, Write, WriteError, Wrote};
use crate::backups::{BackupSet, Check, Origin, Sets, Taken};
use crate::dex::Stored;
use crate::runtime::{InsideSet, Runtime};
use anyhow::{anyhow, Result};
use futures_util::future::LocalBoxFuture;
use futures_util::FutureExt;
use std::path::{Path, PathBuf};

/// Whether `path` is a Dex SQLite database ozrepair can read (its schema checks out).
pub fn is_dex_file(path: &Path) -> bool {
    host::read(path)
        .and_then(|s| sql::check_schema(&s.conn, path))
        .is_ok()
}

/// The database as ozrepair works on it.
pub enum Database {
    /// The file itself, on this machine.
    Host(PathBuf),
    /// A private copy of the set inside what runs the IdP.
    Inside(Box<dyn InsideSet>),
}

/// An SQLite store, and the restore being prepared for it.
pub struct Sqlite {
    db: Database,
    prepared: Option<copy::Prepared>,
}

impl Sqlite {
    /// The file `path` on this machine.
    pub fn on_host(path: &Path) -> Sqlite {
        Sqlite {
            db: Database::Host(path.to_path_buf()),
            prepared: None,
        }
    }

    /// The database at `inside`, copied out of what `runtime` runs with its journal and WAL.
    pub async fn inside(runtime: &dyn Runtime, inside: &str) -> Result<Sqlite> {
        let set = runtime.fetch(inside, &host::SIDECARS).await?;
        Ok(Sqlite {
            db: Database::Inside(set),
            prepared: None,
        })
    }

    /// The file ozrepair reads, backs up and writes (the database itself, or its local copy).
    pub fn path(&self) -> &Path {
        match &self.db {
            Database::Host(p) => p,
            Database::Inside(set) => set.local(),
        }
    }

    /// A read view that cannot change the database.
    fn snapshot(&self) -> Result<host::Snapshot> {
        host::read(self.path())
    }

    /// After a write: the set put back where it lives (nothing to do for a file on this machine).
    async fn put_back(&self) -> Result<()> {
        match &self.db {
            Database::Host(_) => Ok(()),
            Database::Inside(set) => set.put_back().await,
        }
    }
}

impl Store for Sqlite {
    fn kind(&self) -> &'static str {
        "sqlite"
    }

    /// Its host path, or `container:/path/inside`.
    fn shown(&self) -> String {
        match &self.db {
            Database::Host(p) => p.display().to_string(),
            Database::Inside(set) => set.shown(),
        }
    }

    /// Its real path on this machine, or `container:/path` inside a container.
    fn source(&self) -> String {
        match &self.db {
            Database::Host(p) => std::fs::canonicalize(p)
                .unwrap_or_else(|_| p.clone())
                .display()
                .to_string(),
            Database::Inside(set) => set.shown(),
        }
    }

    /// Beside the database (ozrepair-backups/), or for a database inside a container, on this machine
    /// (see [`InsideSet::default_backups`]).
    fn default_backups(&self) -> Sets {
        Sets::at(match &self.db {
            Database::Host(p) => p
                .parent()
                .unwrap_or(Path::new("."))
                .join("ozrepair-backups"),
            Database::Inside(set) => set.default_backups(),
        })
    }

    /// Checks it is Dex's SQL storage and undamaged (quick_check), then every connector row; the file's
    /// sha256 is made on a second thread meanwhile (a core of its own where there is one: it is a tenth
    /// of inspect's time on 10,000 connectors), once the file has been opened as a regular file (not a
    /// FIFO, whose open would wait for a writer forever). A failed read is the error, as if the hash had
    /// not been made; a thread that cannot be started leaves the hash to this one, after the read.
    fn read(&self) -> Result<Stored> {
        let path = self.path();
        let snap = self.snapshot()?;
        let read = || -> Result<_> {
            // Pages read through a memory map (no pread and copy per 4 KiB page), once for quick_check
            // and once for the rows; read-only either way.
            let _ = snap.conn.pragma_update(None, "mmap_size", 1i64 << 30);
            let schema = sql::check_schema(&snap.conn, path)?;
            sql::quick_check(&snap.conn, path)?;
            Ok((schema, sql::connectors(&snap.conn)?))
        };
        let hash = || crate::digest::sha256_file(path);
        let (read, sha256) = std::thread::scope(|scope| {
            match std::thread::Builder::new()
                .name("sha256".into())
                .spawn_scoped(scope, hash)
            {
                Ok(h) => {
                    let read = read();
                    let sha256 = h.join().unwrap_or_else(|_| {
                        Err(anyhow!("the sha256 of {} failed", path.display()))
                    });
                    (read, sha256)
                }
                Err(_) => match read() {
                    Ok(r) => (Ok(r), hash()),
                    Err(e) => (Err(e), Ok(String::new())),
                },
            }
        });
        drop(snap);
        let (schema, rows) = read?;
        Ok(Stored {
            schema,
            rows,
            sha256: sha256?,
        })
    }

    /// The schema and the connector rows only: for `backup`, whose set proves the integrity of every
    /// byte (integrity_check while copying) and hashes them as it copies, so neither a quick_check nor a
    /// hash of the source is made here. `sha256` is left empty.
    fn read_rows(&self) -> Result<Stored> {
        let path = self.path();
        let snap = self.snapshot()?;
        let schema = sql::check_schema(&snap.conn, path)?;
        let rows = sql::connectors(&snap.conn)?;
        Ok(Stored {
            schema,
            rows,
            sha256: String::new(),
        })
    }

    fn connectors(&self) -> Result<Vec<crate::dex::ConnectorRow>> {
        sql::connectors(&self.snapshot()?.conn)
    }

    fn find_user(&self, email: &str) -> Result<Found> {
        users::find(&self.snapshot()?.conn, email)
    }

    /// ozrepair's lock file beside the database (for a copy out of a container, beside the copy: the
    /// runtime's own stop keeps the container from writing it).
    fn lock(&self) -> Result<Lock> {
        Ok(Box::new(crate::safefs::lock::acquire(self.path())?))
    }

    fn holders(&self) -> Option<super::Holders> {
        let path = self.path().to_path_buf();
        Some(Box::new(move || locks::holders_of(&path)))
    }

    /// A database on the host must be writable (the file, its sidecars, its directory); a set copied out
    /// of a container must go back with its owner: refused when that cannot be known.
    fn can_write(&self) -> Result<()> {
        match &self.db {
            Database::Host(_) => host::writable(self.path()),
            Database::Inside(set) => set.can_put_back(),
        }
    }

    fn refresh(&mut self) -> LocalBoxFuture<'_, Result<()>> {
        async move {
            match &mut self.db {
                Database::Host(_) => Ok(()),
                Database::Inside(set) => set.refresh().await,
            }
        }
        .boxed_local()
    }

    fn backup(&self, sets: &Sets, origin: &Origin, check: Check) -> Result<Taken> {
        copy::take(self.path(), sets, origin, check)
    }

    fn write<'a>(&'a mut self, w: Write<'a>) -> LocalBoxFuture<'a, Result<Wrote, WriteError>> {
        async move {
            let wrote = match w {
                Write::Connectors { edits, new_rows } => {
                    sql::write_changes(self.path(), edits, new_rows)?;
                    Wrote::Rows
                }
                Write::Password { user, hash, new } => Wrote::Password {
                    sessions_removed: users::write(self.path(), user, hash, new)?,
                },
                Write::Restore => {
                    let prepared = self.prepared.take().ok_or_else(|| {
                        WriteError::RolledBack(anyhow!("no restore was prepared"))
                    })?;
                    prepared.swap().map_err(WriteError::RolledBack)?;
                    Wrote::Restored
                }
            };
            self.put_back().await.map_err(WriteError::RolledBack)?;
            Ok(wrote)
        }
        .boxed_local()
    }

    fn fingerprint(&self) -> Result<Option<String>> {
        crate::digest::sha256_file(self.path()).map(Some)
    }

    fn verify_set(&self, set: &BackupSet) -> Result<()> {
        copy::verify(set)
    }

    /// Refused while another process holds the database; then the set's database is built and verified
    /// beside the live one, and the live one is made consistent by SQLite (any change SQLite makes to it
    /// is its own rollback or checkpoint).
    fn prepare_restore(&mut self, set: &BackupSet) -> Result<Vec<String>> {
        let path = self.path().to_path_buf();
        let holders = locks::holders(&path);
        if !holders.is_empty() {
            return Err(anyhow!(
                "{} is open in {}; nothing was changed; stop it first, then run the restore again",
                path.display(),
                holders.join(", ")
            ));
        }
        let untouched = "the live database was not touched";
        let prepared = copy::Prepared::build(set, &path).map_err(|e| {
            anyhow!("{e:#}; building the restored copy failed and it was removed; {untouched}")
        })?;
        let notes = prepared.notes.clone();
        crate::fault::step("built the restored copy");
        copy::settle(&path).map_err(|e| {
            anyhow!("{e:#}; the live database is as SQLite reads it (any change SQLite made to it was its own rollback or checkpoint); nothing was restored")
        })?;
        self.prepared = Some(prepared);
        Ok(notes)
    }
}
