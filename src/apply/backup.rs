//! Backup sets: the raw database files (the database and any -journal/-wal/-shm beside it) copied byte for
//! byte into a directory of their own with a manifest of sha256 sums, written under a temporary name,
//! fsynced, renamed into place, then verified by reading everything back and checking a copy with SQLite.
//! Restore puts those exact bytes back, keeping the owner and mode the database has.

use crate::access::host::{hex, sha256_file, sidecar, sidecars, SIDECARS};
use crate::apply::owner;
use crate::dex::{store, ConnectorRow, Schema};
use crate::docker::locate::Located;
use crate::timefmt;
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

pub const MANIFEST: &str = "manifest.json";
const CHUNK: usize = 1 << 20;

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
    pub created: String,
    /// The database file the set was taken from.
    pub source: String,
    pub host: Option<String>,
    pub container: Option<String>,
    pub volume: Option<String>,
    pub dex_schema: Option<i64>,
    pub connectors: Vec<String>,
    pub files: Vec<FileEntry>,
}

/// Where a deployment's context is recorded in the manifest.
#[derive(Debug, Clone, Default)]
pub struct Origin {
    pub host: Option<String>,
    pub container: Option<String>,
    pub volume: Option<String>,
    pub dex_schema: Option<i64>,
    pub connectors: Vec<String>,
}

impl Origin {
    /// The one place an origin is made: the located deployment and the store as read now.
    pub fn of(located: &Located, schema: &Schema, rows: &[ConnectorRow]) -> Origin {
        Origin {
            host: located.engine.as_ref().map(|e| e.endpoint.clone()),
            container: located.container.as_ref().map(|c| c.name.clone()),
            volume: located.volume.clone(),
            dex_schema: Some(schema.migrations),
            connectors: rows.iter().map(|r| r.id.clone()).collect(),
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

/// Copies `from` to a new file `to` (mode 0600), hashing on the way, and fsyncs it. Streams in 1 MiB
/// chunks: memory stays flat whatever the size.
fn copy_hashed(from: &Path, to: &Path) -> Result<(u64, String)> {
    let mut src = File::open(from).with_context(|| format!("cannot read {}", from.display()))?;
    let mut dst = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(to)
        .with_context(|| format!("cannot create {}", to.display()))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; CHUNK];
    let mut total = 0u64;
    let bar = progress(
        src.metadata().map(|m| m.len()).unwrap_or(0),
        &format!("copying {}", file_name(from)),
    );
    loop {
        let n = src.read(&mut buf)?;
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
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    dst.sync_all()
        .with_context(|| format!("cannot flush {} to disk", to.display()))?;
    Ok((total, hex(&h.finalize())))
}

fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("cannot flush directory {}", dir.display()))
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Takes a backup set of `db` under `root` and verifies it. Nothing in the database's directory is written
/// unless `root` is inside it.
pub fn take(db: &Path, root: &Path, origin: &Origin) -> Result<BackupSet> {
    fs::create_dir_all(root)
        .with_context(|| format!("cannot create the backup directory {}", root.display()))?;
    let _ = fs::set_permissions(root, fs::Permissions::from_mode(0o700));
    owner::adopt_in_parent(root)?;
    let base = format!("{}-{}", file_name(db), timefmt::compact_now());
    let mut name = base.clone();
    let mut n = 1;
    while root.join(&name).exists() {
        n += 1;
        name = format!("{base}-{n}");
    }
    let tmp = root.join(format!(".tmp-{name}"));
    let _ = fs::remove_dir_all(&tmp);
    fs::create_dir(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
    fs::set_permissions(&tmp, fs::Permissions::from_mode(0o700))?;
    owner::adopt(&tmp, root)?;
    let result = (|| -> Result<BackupSet> {
        let mut files = Vec::new();
        for src in std::iter::once(db.to_path_buf()).chain(sidecars(db)) {
            let meta = fs::symlink_metadata(&src)?;
            let fname = file_name(&src);
            let (size, sha256) = copy_hashed(&src, &tmp.join(&fname))?;
            owner::adopt(&tmp.join(&fname), &tmp)?;
            files.push(FileEntry {
                name: fname,
                size,
                sha256,
                mode: meta.mode() & 0o7777,
                uid: meta.uid(),
                gid: meta.gid(),
            });
        }
        let manifest = Manifest {
            tool: format!("ozrepair {}", env!("CARGO_PKG_VERSION")),
            created: timefmt::rfc3339_now(),
            source: db.display().to_string(),
            host: origin.host.clone(),
            container: origin.container.clone(),
            volume: origin.volume.clone(),
            dex_schema: origin.dex_schema,
            connectors: origin.connectors.clone(),
            files,
        };
        let mut mf = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(tmp.join(MANIFEST))?;
        mf.write_all(&serde_json::to_vec_pretty(&manifest)?)?;
        mf.sync_all()?;
        owner::adopt(&tmp.join(MANIFEST), &tmp)?;
        sync_dir(&tmp)?;
        let dir = root.join(&name);
        fs::rename(&tmp, &dir)?;
        sync_dir(root)?;
        Ok(BackupSet { dir, manifest })
    })();
    let set = match result {
        Ok(s) => s,
        Err(e) => {
            let _ = fs::remove_dir_all(&tmp);
            return Err(e.context(format!(
                "the backup into {} failed and was removed",
                root.display()
            )));
        }
    };
    verify(&set.dir).context("the backup was written but does not verify")?;
    Ok(set)
}

pub fn read_manifest(dir: &Path) -> Result<Manifest> {
    let bytes = fs::read(dir.join(MANIFEST))
        .with_context(|| format!("{} has no readable {MANIFEST}", dir.display()))?;
    serde_json::from_slice(&bytes)
        .with_context(|| format!("{}/{MANIFEST} is not a manifest", dir.display()))
}

/// Reads every file of a set back against its manifest, then opens a private copy with SQLite
/// (so a journal in the set is replayed there, not in the set) and runs integrity_check.
pub fn verify(dir: &Path) -> Result<BackupSet> {
    let manifest = read_manifest(dir)?;
    if manifest.files.is_empty() {
        bail!("{} lists no files", dir.display());
    }
    for f in &manifest.files {
        let got = sha256_file(&dir.join(&f.name))?;
        if got != f.sha256 {
            bail!(
                "{} in {} has sha256 {got}, the manifest says {}: the backup is damaged",
                f.name,
                dir.display(),
                f.sha256
            );
        }
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
        let opts = fs_extra::file::CopyOptions::new();
        for f in &manifest.files {
            fs_extra::file::copy(dir.join(&f.name), scratch.path().join(&f.name), &opts)
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

/// The sets under `root`, oldest first (names sort by time).
pub fn list(root: &Path) -> Result<Vec<BackupSet>> {
    let mut out = Vec::new();
    let rd = match fs::read_dir(root) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(e).with_context(|| format!("cannot list {}", root.display())),
    };
    let mut dirs: Vec<PathBuf> = rd
        .filter_map(|e| e.ok())
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .map(|e| e.path())
        .filter(|p| p.join(MANIFEST).is_file())
        .collect();
    dirs.sort();
    for d in dirs {
        if let Ok(manifest) = read_manifest(&d) {
            out.push(BackupSet { dir: d, manifest });
        }
    }
    Ok(out)
}

/// Puts the exact bytes of a verified set back at `db`: stale -journal/-wal/-shm first go, then each file
/// is written to a temporary name beside its target, given the owner and mode the database has, fsynced
/// and renamed into place.
pub fn restore(set: &BackupSet, db: &Path) -> Result<()> {
    let dir = db.parent().unwrap_or(Path::new("."));
    let (uid, gid, mode) = match fs::symlink_metadata(db) {
        Ok(m) => (m.uid(), m.gid(), m.mode() & 0o7777),
        Err(_) => {
            let f = &set.manifest.files[0];
            (f.uid, f.gid, f.mode)
        }
    };
    let db_name = set.manifest.files[0].name.clone();
    let target_of = |name: &str| -> PathBuf {
        match SIDECARS.iter().find(|s| name == format!("{db_name}{s}")) {
            Some(s) => sidecar(db, s),
            None => db.to_path_buf(),
        }
    };
    // A stale journal or WAL next to the restored bytes would be replayed onto them.
    for p in sidecars(db) {
        if !set.manifest.files.iter().any(|f| target_of(&f.name) == p) {
            fs::remove_file(&p).with_context(|| format!("cannot remove {}", p.display()))?;
        }
    }
    // Sidecars before the database, so that the database is never paired with a foreign journal.
    for f in set.manifest.files.iter().rev() {
        let target = target_of(&f.name);
        let tmp = dir.join(format!(".{}.ozrepair-restore", file_name(&target)));
        let _ = fs::remove_file(&tmp);
        let (_, sha) = copy_hashed(&set.dir.join(&f.name), &tmp)?;
        if sha != f.sha256 {
            let _ = fs::remove_file(&tmp);
            bail!(
                "{} changed while it was being restored; the database was not replaced",
                f.name
            );
        }
        fs::set_permissions(&tmp, fs::Permissions::from_mode(mode))?;
        std::os::unix::fs::chown(&tmp, Some(uid), Some(gid))
            .with_context(|| format!("cannot give {} its owner {uid}:{gid}", tmp.display()))?;
        File::open(&tmp)?.sync_all()?;
        fs::rename(&tmp, &target)
            .with_context(|| format!("cannot move the restored file onto {}", target.display()))?;
    }
    sync_dir(dir)?;
    let now = sha256_file(db)?;
    if now != set.manifest.files[0].sha256 {
        bail!("{} does not read back as the backup's bytes", db.display());
    }
    Ok(())
}
