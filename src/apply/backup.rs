//! Backup sets: the raw database files (the database and any -journal/-wal/-shm beside it) copied byte for
//! byte, under SQLite's locks that stop every other writer ([`lock::hold_writers`]), into a directory of
//! their own with a manifest of sha256 sums (computed while copying), written under a temporary name,
//! fsynced, renamed into place. The integrity of those bytes is proven while they are copied: SQLite's
//! `integrity_check` of the locked source on a second thread (a lone database file), or of a scratch copy of
//! the set afterwards (a set with a journal or WAL, which SQLite replays there).
//!
//! Everything in the backup directory goes through a checked directory descriptor ([`Dir`]): no link is
//! followed, an existing directory's mode is never changed, and a temporary set left by a killed run is
//! removed (and reported) by the next one.
//!
//! Restore ([`Prepared`]) builds the restored database as one self-contained, verified file beside the
//! live one (the set's journal or WAL applied by SQLite), makes the live database consistent the way
//! SQLite reads it ([`settle`]: its hot journal rolled back, its WAL checkpointed, by SQLite itself), and
//! then swaps with one rename: a kill at any instant leaves the old database or the restored one.

use crate::access::dirfd::Dir;
use crate::access::host::{self, hex, sha256_of, SIDECARS};
use crate::apply::{fault, lock, owner};
use crate::dex::{store, ConnectorRow, Schema};
use crate::docker::locate::Located;
use crate::timefmt;
use anyhow::{anyhow, bail, Context, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::fs::{FileExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

pub const MANIFEST: &str = "manifest.json";
/// The manifest's `kind` of the copy a restore saves first.
pub const PRE_RESTORE: &str = "pre-restore";
const CHUNK: usize = 1 << 20;
/// Where temporary sets are made in the backup directory.
const TMP_PREFIX: &str = ".tmp-";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FileEntry {
    pub name: String,
    pub size: u64,
    pub sha256: String,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub tool: String,
    /// When the set was taken, RFC 3339 in UTC with nanoseconds (older sets: whole seconds).
    pub created: String,
    /// The database the set was taken from: its real path, or `container:/path` inside a container.
    pub source: String,
    /// `pre-restore` for the copy a restore saves first; absent for a backup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    pub host: Option<String>,
    pub container: Option<String>,
    pub volume: Option<String>,
    pub dex_schema: Option<i64>,
    pub connectors: Vec<String>,
    pub files: Vec<FileEntry>,
    /// Config files saved with the database (before ozrepair edits them): `name` in the set, `source`
    /// the file's path on the host.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub configs: Vec<ConfigEntry>,
}

/// A config file in a set.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConfigEntry {
    pub source: String,
    #[serde(flatten)]
    pub file: FileEntry,
}

/// The name a config file has in a set: `config-<n>-<its name>`.
const CONFIG_PREFIX: &str = "config-";

/// Where a deployment's context is recorded in the manifest.
#[derive(Debug, Clone, Default)]
pub struct Origin {
    /// The database as [`Manifest::source`] names it.
    pub source: String,
    pub kind: Option<String>,
    pub host: Option<String>,
    pub container: Option<String>,
    pub volume: Option<String>,
    pub dex_schema: Option<i64>,
    pub connectors: Vec<String>,
    /// Config files to save with the database (host paths).
    pub configs: Vec<PathBuf>,
}

impl Origin {
    /// The one place an origin is made: the located deployment and the store as read now.
    pub fn of(located: &Located, source: String, schema: &Schema, rows: &[ConnectorRow]) -> Origin {
        Origin {
            source,
            kind: None,
            host: located.engine.as_ref().map(|e| e.endpoint.clone()),
            container: located.container.as_ref().map(|c| c.name.clone()),
            volume: located.volume.clone(),
            dex_schema: Some(schema.migrations),
            connectors: rows.iter().map(|r| r.id.clone()).collect(),
            configs: Vec::new(),
        }
    }
}

/// A backup set on disk.
#[derive(Debug, Clone)]
pub struct BackupSet {
    pub dir: PathBuf,
    pub manifest: Manifest,
}

impl BackupSet {
    /// The database file inside the set.
    pub fn db_file(&self) -> PathBuf {
        self.dir.join(
            self.manifest
                .files
                .first()
                .map(|f| f.name.as_str())
                .unwrap_or("idp.db"),
        )
    }
    pub fn db_sha256(&self) -> String {
        self.manifest
            .files
            .first()
            .map(|f| f.sha256.clone())
            .unwrap_or_default()
    }
    pub fn is_pre_restore(&self) -> bool {
        self.manifest.kind.as_deref() == Some(PRE_RESTORE)
    }
    /// Taken from `source` (compared as real paths when both exist).
    pub fn is_from(&self, source: &str) -> bool {
        same_source(&self.manifest.source, source)
    }
}

fn same_source(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

/// A progress bar on stderr for copies large enough to wait for, only when stderr is a terminal.
fn progress(len: u64, what: &str) -> Option<indicatif::ProgressBar> {
    use std::io::IsTerminal;
    if len < 64 << 20 || !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(len);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{msg} {bar:30} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
    ) {
        bar.set_style(style);
    }
    bar.set_message(what.to_string());
    Some(bar)
}

/// Copies all of `src` (from offset 0, by position: the descriptor may be shared) into `dst`, hashing on
/// the way, and fsyncs `dst`. Streams in 1 MiB chunks: memory stays flat whatever the size.
fn copy_hashed(src: &File, dst: &mut File, what: &str, to: &Path) -> Result<(u64, String)> {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; fault::chunk(CHUNK)];
    let mut total = 0u64;
    let bar = progress(
        src.metadata().map(|m| m.len()).unwrap_or(0),
        &format!("copying {what}"),
    );
    loop {
        let n = src
            .read_at(&mut buf, total)
            .with_context(|| format!("cannot read {what}"))?;
        if n == 0 {
            break;
        }
        if let Some(b) = &bar {
            b.inc(n as u64);
        }
        h.update(&buf[..n]);
        dst.write_all(&buf[..n])
            .with_context(|| format!("cannot write {}", to.display()))?;
        total += n as u64;
        fault::step("copy a chunk");
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    dst.sync_all()
        .with_context(|| format!("cannot flush {} to disk", to.display()))?;
    fault::step("fsync a copy");
    Ok((total, hex(&h.finalize())))
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

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

/// Removes what killed runs left in `dir`: directories named `prefix…` that no live run holds (each run
/// holds an flock on its own). Returns a note per removal.
fn clean_stale(dir: &Dir, prefix: &str) -> Vec<String> {
    let mut notes = Vec::new();
    let Ok(names) = dir.names() else {
        return notes;
    };
    for n in names {
        let s = n.to_string_lossy();
        if !s.starts_with(prefix) {
            continue;
        }
        let Ok(Some(m)) = dir.stat(&n) else { continue };
        if !m.is_dir() || m.uid() != unsafe_geteuid() {
            continue;
        }
        let Ok(sub) = dir.subdir(&n) else { continue };
        if !sub.try_lock().unwrap_or(false) {
            continue; // a run in progress
        }
        match dir.remove_flat(&n) {
            Ok(bytes) => notes.push(format!(
                "removed {} ({bytes} bytes), left by an interrupted run",
                dir.join(&n).display()
            )),
            Err(e) => notes.push(format!(
                "could not remove {}, left by an interrupted run: {e:#}",
                dir.join(&n).display()
            )),
        }
    }
    notes
}

fn unsafe_geteuid() -> u32 {
    // SAFETY: geteuid cannot fail and has no preconditions.
    unsafe { libc::geteuid() }
}

/// A set's name (the first of `name(1)`, `name(2)`… that neither exists nor is being made) and its
/// temporary directory, made, owned like the backup directory and locked while the set is written (a later
/// run's [`clean_stale`] knows it is not stale).
fn new_set(
    root_dir: &Dir,
    root: &Path,
    name: impl Fn(u32) -> String,
) -> Result<(String, String, Dir)> {
    let mut n = 1;
    let (name, tmp_name, tmp) = loop {
        let name = name(n);
        let tmp_name = format!("{TMP_PREFIX}{name}");
        if root_dir.stat(&name)?.is_none() {
            match root_dir.mkdir(&tmp_name, 0o700) {
                Ok(d) => break (name, tmp_name, d),
                Err(_) if root_dir.stat(&tmp_name)?.is_some() => {}
                Err(e) => {
                    return Err(
                        e.context(format!("cannot create a backup set in {}", root.display()))
                    )
                }
            }
        }
        n += 1;
    };
    owner::adopt_open(&tmp.file()?, &root_dir.join(&tmp_name))?;
    tmp.try_lock()?;
    Ok((name, tmp_name, tmp))
}

/// A set taken: the set, and what was cleaned up on the way.
pub struct Taken {
    pub set: BackupSet,
    pub notes: Vec<String>,
}

/// Takes a backup set of `db` under `root` and verifies it. Nothing in the database's directory is written
/// unless `root` is inside it.
pub fn take(db: &Path, root: &Path, origin: &Origin) -> Result<Taken> {
    let root_dir = Dir::create_or_open(root)
        .with_context(|| format!("cannot use the backup directory {}", root.display()))?;
    owner::adopt_open(&root_dir.file()?, root)?;
    let db_name = file_name(db);
    let notes = clean_stale(&root_dir, &format!("{TMP_PREFIX}{db_name}-"));
    let src_dir = parent_of(db)?;
    // No other process writes the database from here until the set is complete.
    let writers = lock::hold_writers(db)?;
    fault::step("locked");
    let stamp = timefmt::compact_now();
    let label = match origin.kind.as_deref() {
        Some(k) => format!("-{k}"),
        None => String::new(),
    };
    let (name, tmp_name, tmp) = new_set(&root_dir, root, |n| match n {
        1 => format!("{db_name}-{stamp}{label}"),
        _ => format!("{db_name}-{stamp}-{n}{label}"),
    })?;
    fault::step("made the temporary set");
    let result = write_set(db, &src_dir, &writers, &tmp, origin).and_then(|manifest| {
        root_dir.rename(&tmp_name, &root_dir, &name)?;
        fault::step("renamed the set");
        root_dir.sync()?;
        fault::step("fsync the backup directory");
        Ok(manifest)
    });
    let manifest = match result {
        Ok(m) => m,
        Err(e) => {
            drop(tmp);
            let _ = root_dir.remove_flat(&tmp_name);
            return Err(e.context(format!(
                "the backup into {} failed and was removed",
                root.display()
            )));
        }
    };
    drop(writers);
    let set = BackupSet {
        dir: root_dir.join(&name),
        manifest,
    };
    if set.manifest.files.len() > 1 {
        verify(&set.dir).context("the backup was written but does not verify")?;
    }
    Ok(Taken { set, notes })
}

/// The files of the set, copied under the locks, and its manifest; integrity proven on the way.
fn write_set(
    db: &Path,
    src_dir: &Dir,
    writers: &lock::Writers,
    tmp: &Dir,
    origin: &Origin,
) -> Result<Manifest> {
    let db_name = file_name(db);
    let mut sources: Vec<(String, File)> = vec![(db_name.clone(), writers.file().try_clone()?)];
    for s in SIDECARS {
        let name = format!("{db_name}{s}");
        if src_dir.stat(&name)?.is_some() {
            sources.push((name.clone(), src_dir.open_file(&name)?));
        }
    }
    // A lone database file is checked in place while it is copied: the locks keep its bytes as they are.
    let check = (sources.len() == 1).then(|| {
        let path = db.to_path_buf();
        std::thread::spawn(move || -> Result<()> {
            let conn = host::open_immutable(&path)?;
            store::integrity_check(&conn)
                .with_context(|| format!("{} is damaged; the backup was not kept", path.display()))
        })
    });
    let mut files = Vec::new();
    let copied = (|| -> Result<()> {
        for (name, src) in &sources {
            let meta = src.metadata()?;
            let mut dst = tmp.create_file(name, 0o600)?;
            owner::adopt_open(&dst, &tmp.join(name))?;
            let (size, sha256) = copy_hashed(src, &mut dst, name, &tmp.join(name))?;
            files.push(FileEntry {
                name: name.clone(),
                size,
                sha256,
                mode: meta.mode() & 0o7777,
                uid: meta.uid(),
                gid: meta.gid(),
            });
        }
        Ok(())
    })();
    if let Some(t) = check {
        t.join()
            .map_err(|_| anyhow!("the integrity check of {} stopped", db.display()))??;
    }
    copied?;
    let configs = copy_configs(tmp, &origin.configs)?;
    let manifest = Manifest {
        tool: format!("ozrepair {}", env!("CARGO_PKG_VERSION")),
        created: timefmt::rfc3339_precise_now(),
        source: origin.source.clone(),
        kind: origin.kind.clone(),
        host: origin.host.clone(),
        container: origin.container.clone(),
        volume: origin.volume.clone(),
        dex_schema: origin.dex_schema,
        connectors: origin.connectors.clone(),
        files,
        configs,
    };
    write_manifest(tmp, &manifest)?;
    tmp.sync()?;
    fault::step("fsync the temporary set");
    Ok(manifest)
}

/// The set's manifest, written and fsynced (the set's directory is fsynced by the caller).
fn write_manifest(tmp: &Dir, manifest: &Manifest) -> Result<()> {
    let mut mf = tmp.create_file(MANIFEST, 0o600)?;
    owner::adopt_open(&mf, &tmp.join(MANIFEST))?;
    mf.write_all(&serde_json::to_vec_pretty(manifest)?)?;
    mf.sync_all()?;
    fault::step("fsync the manifest");
    Ok(())
}

/// Copies each config file into the set (hashed on the way), as `config-<n>-<name>`.
fn copy_configs(tmp: &Dir, paths: &[PathBuf]) -> Result<Vec<ConfigEntry>> {
    let mut configs = Vec::new();
    for (n, path) in paths.iter().enumerate() {
        let (dir, base) = crate::config::split(path)?;
        let src = dir.open_file(&base)?;
        let meta = src.metadata()?;
        let name = format!("{CONFIG_PREFIX}{}-{}", n + 1, base.to_string_lossy());
        let mut dst = tmp.create_file(&name, 0o600)?;
        owner::adopt_open(&dst, &tmp.join(&name))?;
        let (size, sha256) = copy_hashed(&src, &mut dst, &name, &tmp.join(&name))?;
        configs.push(ConfigEntry {
            source: path.display().to_string(),
            file: FileEntry {
                name,
                size,
                sha256,
                mode: meta.mode() & 0o7777,
                uid: meta.uid(),
                gid: meta.gid(),
            },
        });
    }
    Ok(configs)
}

/// A set of config files only, for a deployment with no Dex database (the standalone setup): the files
/// copied and hashed, the manifest, fsync, rename, then verified by its hashes.
pub fn take_files(root: &Path, origin: &Origin) -> Result<Taken> {
    let root_dir = Dir::create_or_open(root)
        .with_context(|| format!("cannot use the backup directory {}", root.display()))?;
    owner::adopt_open(&root_dir.file()?, root)?;
    let notes = clean_stale(&root_dir, &format!("{TMP_PREFIX}config-"));
    let stamp = timefmt::compact_now();
    let (name, tmp_name, tmp) = new_set(&root_dir, root, |n| match n {
        1 => format!("config-{stamp}"),
        _ => format!("config-{stamp}-{n}"),
    })?;
    let result = (|| -> Result<Manifest> {
        let configs = copy_configs(&tmp, &origin.configs)?;
        let manifest = Manifest {
            tool: format!("ozrepair {}", env!("CARGO_PKG_VERSION")),
            created: timefmt::rfc3339_precise_now(),
            source: origin.source.clone(),
            kind: origin.kind.clone(),
            host: origin.host.clone(),
            container: origin.container.clone(),
            volume: origin.volume.clone(),
            dex_schema: None,
            connectors: Vec::new(),
            files: Vec::new(),
            configs,
        };
        write_manifest(&tmp, &manifest)?;
        tmp.sync()?;
        root_dir.rename(&tmp_name, &root_dir, &name)?;
        root_dir.sync()?;
        Ok(manifest)
    })();
    let manifest = match result {
        Ok(m) => m,
        Err(e) => {
            drop(tmp);
            let _ = root_dir.remove_flat(&tmp_name);
            return Err(e.context(format!(
                "the backup into {} failed and was removed",
                root.display()
            )));
        }
    };
    let set = BackupSet {
        dir: root_dir.join(&name),
        manifest,
    };
    verify(&set.dir).context("the backup was written but does not verify")?;
    Ok(Taken { set, notes })
}

/// Reads `dir`'s manifest, without following a link.
fn manifest_in(dir: &Dir) -> Result<Manifest> {
    let mut bytes = Vec::new();
    dir.open_file(MANIFEST)
        .and_then(|mut f| Ok(f.read_to_end(&mut bytes)?))
        .with_context(|| format!("{} has no readable {MANIFEST}", dir.path.display()))?;
    let m: Manifest = serde_json::from_slice(&bytes)
        .with_context(|| format!("{}/{MANIFEST} is not a manifest", dir.path.display()))?;
    // Every name is a plain file name in the set: the database, then its sidecars (a set of config files
    // only has no database).
    let first = match m.files.first() {
        Some(f) => f.clone(),
        None if !m.configs.is_empty() => return check_configs(dir, m),
        None => bail!("{} lists no files", dir.path.display()),
    };
    for f in &m.files {
        let ok = !f.name.is_empty()
            && !f.name.contains('/')
            && !f.name.starts_with('.')
            && (f.name == first.name
                || SIDECARS
                    .iter()
                    .any(|s| f.name == format!("{}{s}", first.name)));
        if !ok {
            bail!(
                "{}/{MANIFEST} names a file {:?} that is not part of a database set",
                dir.path.display(),
                f.name
            );
        }
    }
    check_configs(dir, m)
}

/// The config copies a manifest names are plain `config-` files of the set.
fn check_configs(dir: &Dir, m: Manifest) -> Result<Manifest> {
    for c in &m.configs {
        let n = &c.file.name;
        if !n.starts_with(CONFIG_PREFIX) || n.contains('/') || m.files.iter().any(|f| f.name == *n)
        {
            bail!(
                "{}/{MANIFEST} names a config copy {n:?} that is not part of a set",
                dir.path.display()
            );
        }
    }
    Ok(m)
}

pub fn read_manifest(dir: &Path) -> Result<Manifest> {
    manifest_in(&Dir::open(dir)?)
}

/// Reads every file of a set back against its manifest, then opens a private copy with SQLite
/// (so a journal in the set is replayed there, not in the set) and runs integrity_check.
pub fn verify(dir: &Path) -> Result<BackupSet> {
    let d = Dir::open(dir)?;
    let manifest = manifest_in(&d)?;
    for f in manifest
        .files
        .iter()
        .chain(manifest.configs.iter().map(|c| &c.file))
    {
        let got = sha256_of(&mut d.open_file(&f.name)?)?;
        if got != f.sha256 {
            bail!(
                "{} in {} has sha256 {got}, the manifest says {}: the backup is damaged",
                f.name,
                dir.display(),
                f.sha256
            );
        }
    }
    if manifest.files.is_empty() {
        // Config files only: their hashes are the proof.
        return Ok(BackupSet {
            dir: dir.to_path_buf(),
            manifest,
        });
    }
    // The set is itself a copy. A lone database file is checked in place through an immutable read-only
    // open (SQLite cannot write a byte of it); a set with a journal or WAL is checked on a scratch copy,
    // where SQLite may replay it without touching the set.
    let db_name = &manifest.files[0].name;
    if manifest.files.len() == 1 {
        let conn = store::open_immutable(&dir.join(db_name))?;
        store::integrity_check(&conn)
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
        store::integrity_check(&conn)
            .with_context(|| format!("the database in {} is damaged", dir.display()))?;
    }
    Ok(BackupSet {
        dir: dir.to_path_buf(),
        manifest,
    })
}

/// The sets under `root`, oldest first by the time their manifests record (sets taken within one second
/// keep their order); links and temporary sets are not sets.
pub fn list(root: &Path) -> Result<Vec<BackupSet>> {
    let d = match Dir::open(root) {
        Ok(d) => d,
        Err(_) if std::fs::symlink_metadata(root).is_err() => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut out = Vec::new();
    for n in d.names()? {
        if n.to_string_lossy().starts_with('.') {
            continue;
        }
        let Ok(Some(m)) = d.stat(&n) else { continue };
        if !m.is_dir() {
            continue;
        }
        let Ok(sub) = d.subdir(&n) else { continue };
        if let Ok(manifest) = manifest_in(&sub) {
            out.push(BackupSet {
                dir: d.join(&n),
                manifest,
            });
        }
    }
    out.sort_by_cached_key(|b| {
        (
            timefmt::parse_rfc3339(&b.manifest.created).unwrap_or(0),
            b.dir.clone(),
        )
    });
    Ok(out)
}

/// The set a bare `restore` takes: the newest backup of `source` that is not a pre-restore copy.
pub fn newest_for(root: &Path, source: &str) -> Result<BackupSet> {
    let sets = list(root)?;
    let n = sets.len();
    let others = sets.iter().filter(|s| !s.is_from(source)).count();
    sets.into_iter()
        .rev()
        .find(|s| s.is_from(source) && !s.is_pre_restore())
        .ok_or_else(|| {
            anyhow!(
                "there is no backup of {source} in {} ({n} set(s) there, {others} of another database, the rest copies saved before a restore); nothing was changed; name one with --backup",
                root.display()
            )
        })
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
        let notes = clean_stale(&parent, &format!(".{name}.ozrepair-restore-"));
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
            let (_, sha) = copy_hashed(
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
            store::integrity_check(&conn).with_context(|| {
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
