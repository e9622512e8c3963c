//! An SQLite store's files in a backup set: the raw database files (the database and any -journal/-wal/-shm
//! beside it) copied byte for byte under SQLite's locks that stop every other writer
//! ([`super::locks::hold_writers`]), each hashed as it is written and fsynced ([`backups::copy_hashed`]).
//! A set with a journal or WAL is proven to open as one database (SQLite replays it on a scratch copy and
//! runs its integrity_check there); a lone database file's bytes are the proof, and `backup --check`
//! ([`Check::Source`]) adds SQLite's `integrity_check` of the locked source on a second thread while it is
//! copied. Whether the live database is healthy is `fix`'s question: quick_check before it writes and
//! integrity_check after.
//!
//! Restore ([`Prepared`]) builds the restored database as one self-contained, verified file beside the
//! live one (the set's journal or WAL applied by SQLite), makes the live database consistent the way
//! SQLite reads it ([`settle`]: its hot journal rolled back, its WAL checkpointed, by SQLite itself), and
//! then swaps with one rename: a kill at any instant leaves the old database or the restored one.

use super::host::{self, SIDECARS};
use super::{locks, sql};
use crate::backups::{self, file_name, BackupSet, Check, Origin, Sets, Taken};
use crate::digest::sha256_of;
use crate::fault;
use crate::safefs::Dir;
use crate::timefmt;
use anyhow::{anyhow, bail, Context, Result};
use std::fs::File;
use std::os::unix::fs::{FileExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The directory of `db`, opened (a link at its last component is followed: the operator named it).
fn parent_of(db: &Path) -> Result<Dir> {
    let parent = match db.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let real = std::fs::canonicalize(&parent)
        .with_context(|| format!("cannot open the directory {}", parent.display()))?;
    Dir::open(&real)
}

/// Takes a backup set of `db` into `sets` and verifies it. Nothing in the database's directory is
/// written unless the backup directory is inside it.
pub fn take(db: &Path, sets: &Sets, origin: &Origin, check: Check) -> Result<Taken> {
    let db_name = file_name(db);
    let src_dir = parent_of(db)?;
    let stamp = timefmt::compact_now();
    let label = match origin.kind.as_deref() {
        Some(k) => format!("-{k}"),
        None => String::new(),
    };
    let (new, notes) = sets.begin(&format!("{db_name}-"), |n| match n {
        1 => format!("{db_name}-{stamp}{label}"),
        _ => format!("{db_name}-{stamp}-{n}{label}"),
    })?;
    // No other process writes the database from here until the set is complete.
    let writers = locks::hold_writers(db)?;
    fault::step("locked");
    let written = copy_set(db, &src_dir, &writers, &new, origin, check)
        .and_then(|(files, configs)| new.finish(backups::manifest(origin, files, configs)));
    drop(writers);
    let (set, unsigned) = written.map_err(|e| {
        e.context(format!(
            "the backup into {} failed and was removed",
            sets.path().display()
        ))
    })?;
    if set.manifest.files.len() > 1 {
        verify(&set).context("the backup was written but does not verify")?;
    }
    let mut notes = notes;
    notes.extend(unsigned);
    Ok(Taken { set, notes })
}

/// The files of the set, copied under the locks, and the config files; with [`Check::Source`] the lone
/// database proven whole on the way.
fn copy_set(
    db: &Path,
    src_dir: &Dir,
    writers: &locks::Writers,
    new: &backups::NewSet,
    origin: &Origin,
    check: Check,
) -> Result<(Vec<backups::FileEntry>, Vec<backups::ConfigEntry>)> {
    let db_name = file_name(db);
    let mut sources: Vec<(String, File)> = vec![(db_name.clone(), writers.file().try_clone()?)];
    for s in SIDECARS {
        let name = format!("{db_name}{s}");
        if src_dir.stat(&name)?.is_some() {
            sources.push((name.clone(), src_dir.open_file(&name)?));
        }
    }
    // With `backup --check`, a lone database file is checked in place while it is copied: the locks keep
    // its bytes as they are. (A set with a journal or WAL is checked on a scratch copy afterwards.)
    let check = (check == Check::Source && sources.len() == 1).then(|| {
        let path = db.to_path_buf();
        std::thread::spawn(move || -> Result<()> {
            let conn = host::open_immutable(&path)?;
            sql::integrity_check(&conn)
                .with_context(|| format!("{} is damaged; the backup was not kept", path.display()))
        })
    });
    let copied = sources
        .iter()
        .map(|(name, src)| new.copy_in(name, src))
        .collect::<Result<Vec<_>>>();
    if let Some(t) = check {
        t.join()
            .map_err(|_| anyhow!("the integrity check of {} stopped", db.display()))??;
    }
    let files = copied?;
    // The config files the deployment reads, saved with the database (the set's manifest lists them).
    let configs = new.copy_configs(&origin.configs)?;
    Ok((files, configs))
}

/// Proves a set of an SQLite store whole: every file's hash ([`backups::verify`]), its files a database
/// and its own -journal/-wal/-shm, and the database as SQLite reads it (integrity_check) on a private copy
/// (so a journal in the set is replayed there, not in the set; a lone file is opened immutable in place).
pub fn verify(set: &BackupSet) -> Result<()> {
    let dir = &set.dir;
    let manifest = backups::verify(dir)?.manifest;
    let Some(first) = manifest.files.first() else {
        // Config files only: their hashes are the proof.
        return Ok(());
    };
    for f in &manifest.files[1..] {
        let suffix = &f.name[first.name.len()..];
        if !SIDECARS.contains(&suffix) {
            bail!(
                "{}/{} names a file {:?} that is not part of a database set",
                dir.display(),
                backups::MANIFEST,
                f.name
            );
        }
    }
    let d = Dir::open(dir)?;
    let db_name = &first.name;
    if manifest.files.len() == 1 {
        let conn = sql::open_immutable(&dir.join(db_name))?;
        sql::integrity_check(&conn)
            .with_context(|| format!("the database in {} is damaged", dir.display()))?;
    } else {
        let scratch = tempfile::Builder::new()
            .prefix(".verify-")
            .tempdir_in(dir)
            .context("cannot make a scratch copy")?;
        let s = Dir::open(scratch.path())?;
        for f in &manifest.files {
            let mut out = s.create_file(&f.name, 0o600)?;
            std::io::copy(&mut d.open_file(&f.name)?, &mut out)
                .with_context(|| format!("cannot copy {} to check it", f.name))?;
        }
        let conn = rusqlite::Connection::open(scratch.path().join(db_name))?;
        sql::integrity_check(&conn)
            .with_context(|| format!("the database in {} is damaged", dir.display()))?;
    }
    Ok(())
}

/// Makes the database at `db` consistent the way SQLite reads it, by SQLite itself: a hot journal is rolled
/// back, a WAL checkpointed into the file and truncated. Afterwards the database file alone holds every
/// committed transaction. Nothing happens to a database without a journal or WAL beside it.
pub fn settle(db: &Path) -> Result<()> {
    let dir = parent_of(db)?;
    let name = file_name(db);
    let present = |s: &str| dir.stat(format!("{name}{s}")).map(|m| m.is_some());
    if !SIDECARS
        .iter()
        .try_fold(false, |any, s| Ok::<_, anyhow::Error>(any || present(s)?))?
    {
        return Ok(());
    }
    let conn = rusqlite::Connection::open_with_flags(
        db,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .with_context(|| format!("cannot open {}", db.display()))?;
    conn.busy_timeout(host::busy_timeout())?;
    // The first read rolls a hot journal back.
    conn.query_row("select count(*) from sqlite_master", [], |r| {
        r.get::<_, i64>(0)
    })
    .with_context(|| format!("SQLite cannot read {}", db.display()))?;
    fault::step("read the live database");
    let mode: String = conn.query_row("pragma journal_mode", [], |r| r.get(0))?;
    if mode.eq_ignore_ascii_case("wal") {
        let (busy, _, _): (i64, i64, i64) =
            conn.query_row("pragma wal_checkpoint(TRUNCATE)", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })?;
        if busy != 0 {
            bail!(
                "SQLite could not checkpoint the WAL of {} (another process reads it)",
                db.display()
            );
        }
        fault::step("checkpointed the live WAL");
    }
    drop(conn);
    fault::step("closed the live database");
    // What is left beside it must hold no data.
    if let Some(m) = dir.stat(format!("{name}-wal"))? {
        if m.len() > 0 {
            bail!("{}-wal still holds frames after a checkpoint", db.display());
        }
    }
    let mut magic = [0u8; 8];
    if dir
        .open_file(format!("{name}-journal"))
        .and_then(|j| Ok(j.read_exact_at(&mut magic, 0)?))
        .is_ok()
        && magic != [0; 8]
    {
        bail!(
            "{}-journal is still live after SQLite read the database",
            db.display()
        );
    }
    Ok(())
}

/// A restored database built beside the live one, not yet in place: a scratch directory in the
/// database's directory holding one self-contained, verified file with the live database's owner and mode.
/// Dropped before [`Prepared::swap`], it removes itself.
pub struct Prepared {
    parent: Dir,
    scratch_name: String,
    scratch: Option<Dir>,
    name: String,
    pub sha256: String,
    pub notes: Vec<String>,
}

impl Prepared {
    /// Builds the restored file from a verified set: its files copied (checked against the manifest),
    /// its journal or WAL applied by SQLite, integrity_check, the live database's owner and mode, fsynced.
    pub fn build(set: &BackupSet, db: &Path) -> Result<Prepared> {
        let parent = parent_of(db)?;
        let name = file_name(db);
        let notes = backups::clean_stale(&parent, &format!(".{name}.ozrepair-restore-"));
        let (uid, gid, mode) = match parent.stat(&name)? {
            Some(m) => (m.uid(), m.gid(), m.mode() & 0o7777),
            None => {
                let f = &set.manifest.files[0];
                (f.uid, f.gid, f.mode)
            }
        };
        let scratch_name = format!(
            ".{name}.ozrepair-restore-{}-{}",
            std::process::id(),
            timefmt::compact_now()
        );
        let scratch = parent.mkdir(&scratch_name, 0o700)?;
        scratch.try_lock()?;
        let mut p = Prepared {
            parent,
            scratch_name,
            scratch: Some(scratch),
            name,
            sha256: String::new(),
            notes,
        };
        p.fill(set, uid, gid, mode)?;
        Ok(p)
    }

    fn scratch(&self) -> Result<&Dir> {
        self.scratch
            .as_ref()
            .ok_or_else(|| anyhow!("the restored copy is gone"))
    }

    fn fill(&mut self, set: &BackupSet, uid: u32, gid: u32, mode: u32) -> Result<()> {
        let scratch = self.scratch()?;
        let src = Dir::open(&set.dir)?;
        let db_entry = &set.manifest.files[0];
        // The set's files under the live database's name, so that SQLite pairs them.
        for f in &set.manifest.files {
            let to = format!("{}{}", self.name, &f.name[db_entry.name.len()..]);
            let mut out = scratch.create_file(&to, 0o600)?;
            let (_, sha) = backups::copy_hashed(
                &src.open_file(&f.name)?,
                &mut out,
                &f.name,
                &scratch.join(&to),
            )?;
            if sha != f.sha256 {
                bail!(
                    "{} in {} changed since it was verified",
                    f.name,
                    set.dir.display()
                );
            }
        }
        let built = scratch.join(&self.name);
        if set.manifest.files.len() > 1 {
            settle(&built).context("SQLite could not apply the set's journal or WAL")?;
            for s in SIDECARS {
                scratch.unlink(format!("{}{s}", self.name))?;
            }
            fault::step("applied the set's journal or WAL");
        }
        {
            let conn = host::open_immutable(&built)?;
            sql::integrity_check(&conn).with_context(|| {
                format!("the restored copy of {} is damaged", set.dir.display())
            })?;
        }
        let f = scratch.open_file_rw(&self.name)?;
        f.set_permissions(std::fs::Permissions::from_mode(mode))?;
        std::os::unix::fs::fchown(&f, Some(uid), Some(gid))
            .with_context(|| format!("cannot give {} its owner {uid}:{gid}", built.display()))?;
        f.sync_all()?;
        fault::step("fsync the restored copy");
        scratch.sync()?;
        self.sha256 = sha256_of(&mut scratch.open_file(&self.name)?)?;
        Ok(())
    }

    /// Puts the restored file in place of the live database, which [`settle`] made self-contained: what is
    /// left beside it (an empty -wal, a -shm, a spent journal) goes first, then one rename. A kill at any
    /// instant leaves the old database (whole, as SQLite reads it) or the restored one.
    pub fn swap(mut self) -> Result<String> {
        let scratch = self
            .scratch
            .take()
            .ok_or_else(|| anyhow!("the restored copy is gone"))?;
        for s in SIDECARS {
            self.parent.unlink(format!("{}{s}", self.name))?;
            fault::step("removed a spent sidecar");
        }
        self.parent.sync()?;
        fault::step("fsync the directory before the swap");
        scratch.rename(&self.name, &self.parent, &self.name)?;
        fault::step("swapped");
        self.parent.sync()?;
        fault::step("fsync the directory after the swap");
        drop(scratch);
        let _ = self.parent.remove_flat(&self.scratch_name);
        let now = sha256_of(&mut self.parent.open_file(&self.name)?)?;
        if now != self.sha256 {
            bail!(
                "{} does not read back as the restored bytes",
                self.parent.join(&self.name).display()
            );
        }
        Ok(self.sha256.clone())
    }
}

impl Drop for Prepared {
    fn drop(&mut self) {
        if self.scratch.take().is_some() {
            let _ = self.parent.remove_flat(&self.scratch_name);
        }
    }
}
