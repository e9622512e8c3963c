//! Backup sets: a directory of their own in a backup directory ([`Sets`]), holding a store's files copied
//! byte for byte, the config files saved with them, and a manifest of their sha256 sums (computed while
//! copying), written under a temporary name, fsynced, renamed into place ([`NewSet`]). What a store's
//! files are and how their integrity is proven is the store's own business ([`crate::store`]); here is
//! what every set shares: its naming, its manifest, its listing, and the proof of its bytes by their hashes.
//!
//! Everything in the backup directory goes through a checked directory descriptor ([`Dir`]): no link is
//! followed, an existing directory's mode is never changed, and a temporary set left by a killed run is
//! removed (and reported) by the next one.

use crate::digest::sha256_of;
use crate::fault;
use crate::safefs::{owner, Dir};
use crate::timefmt;

mod copy;
use anyhow::{anyhow, bail, Context, Result};
pub use copy::copy_hashed;
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

pub const MANIFEST: &str = "manifest.json";
/// The manifest's `kind` of the copy a restore saves first.
pub const PRE_RESTORE: &str = "pre-restore";
/// Where temporary sets are made in the backup directory.
pub const TMP_PREFIX: &str = ".tmp-";

/// What a backup proves beyond its copy's bytes. The bytes it always proves: hashed while copied (the
/// manifest's sha256 is of what was written), fsynced, renamed into place, the manifest fsynced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Check {
    /// The exact bytes, durable: what every backup promises.
    #[default]
    Bytes,
    /// And the source whole as its store reads it (`backup --check`: SQLite's integrity_check of the
    /// locked database while it is copied).
    Source,
}

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
    /// This host's signature of the rest of the manifest ([`crate::keys`]); absent on sets of older builds
    /// and where no key could be made. Restore puts a set's config files back only when it holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
}

impl Manifest {
    /// The bytes the signature covers: the manifest without `mac`, as serde_json writes it (a struct of
    /// strings, numbers and lists: serde_json cannot fail on it).
    fn signed_bytes(&self) -> Vec<u8> {
        let mut m = self.clone();
        m.mac = None;
        serde_json::to_vec(&m).unwrap_or_default()
    }

    /// Signs it with this host's key.
    pub fn sign(&mut self) -> Result<()> {
        let key = crate::keys::Key::load_or_create()?;
        self.mac = Some(key.mac(&self.signed_bytes()));
        Ok(())
    }

    /// Signed by this host's key: written by ozrepair run by this user on this host, and unchanged since
    /// (a copy the IdP's container made or edited is not).
    pub fn signed_here(&self) -> bool {
        let Some(mac) = &self.mac else {
            return false;
        };
        crate::keys::Key::load_or_create().is_ok_and(|k| k.verifies(&self.signed_bytes(), mac))
    }
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

/// Where a deployment's context is recorded in the manifest (made by the stop window from what was
/// located and read).
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

/// A backup directory: where sets are written, listed and looked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sets {
    root: PathBuf,
}

impl Sets {
    pub fn at(root: impl Into<PathBuf>) -> Sets {
        Sets { root: root.into() }
    }

    pub fn path(&self) -> &Path {
        &self.root
    }

    /// Opens the backup directory (made when missing, owned like its parent), removes what killed runs
    /// left of sets whose temporary names start with `stale` (each noted), and starts a new set named by
    /// the first of `name(1)`, `name(2)`… that neither exists nor is being made.
    pub fn begin(
        &self,
        stale: &str,
        name: impl Fn(u32) -> String,
    ) -> Result<(NewSet, Vec<String>)> {
        let root = &self.root;
        let root_dir = Dir::create_or_open(root)
            .with_context(|| format!("cannot use the backup directory {}", root.display()))?;
        owner::adopt_open(&root_dir.file()?, root)?;
        let notes = clean_stale(&root_dir, &format!("{TMP_PREFIX}{stale}"));
        let (name, tmp_name, tmp) = new_set(&root_dir, root, name)?;
        fault::step("made the temporary set");
        Ok((
            NewSet {
                root_dir,
                root: root.clone(),
                name,
                tmp_name,
                tmp: Some(tmp),
            },
            notes,
        ))
    }

    /// Refuses, before anything is stopped, a backup directory no set could be written in: it (or, when it
    /// is not there yet, the nearest directory above it, where it would be made) must be writable now.
    pub fn check_writable(&self) -> Result<()> {
        let mut p = self.root.clone();
        loop {
            match std::fs::symlink_metadata(&p) {
                Ok(_) => break,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    match p.parent().filter(|d| !d.as_os_str().is_empty()) {
                        Some(d) => p = d.to_path_buf(),
                        None => {
                            p = PathBuf::from(".");
                            break;
                        }
                    }
                }
                Err(_) => return Ok(()),
            }
        }
        let Err(e) = crate::safefs::may_write(&p) else {
            return Ok(());
        };
        let made = if p == self.root {
            String::new()
        } else {
            format!(
                " ({} would be made in {})",
                self.root.display(),
                p.display()
            )
        };
        let why = if e.kind() == std::io::ErrorKind::ReadOnlyFilesystem {
            "is on a read-only file system".to_string()
        } else {
            format!(
                "is not writable for this user ({})",
                crate::verdict::io_words(&e)
            )
        };
        Err(crate::verdict::Refused(format!(
            "the backup directory {}{made} {why}, and ozrepair changes nothing without a backup; nothing was changed; pass --backup-dir with a directory this user can write",
            self.root.display()
        ))
        .into())
    }

    /// The sets here, oldest first by the time their manifests record (sets taken within one second
    /// keep their order); links and temporary sets are not sets.
    pub fn list(&self) -> Result<Vec<BackupSet>> {
        list(&self.root)
    }

    /// The set a bare `restore` takes: the newest backup of `source` that is not a pre-restore copy.
    pub fn newest_for(&self, source: &str) -> Result<BackupSet> {
        newest_for(&self.root, source)
    }
}

/// A set being written: its temporary directory (locked, so that no other run takes it for a killed
/// run's leftover), renamed into place by [`NewSet::finish`]. Dropped unfinished, it is removed.
pub struct NewSet {
    root_dir: Dir,
    root: PathBuf,
    name: String,
    tmp_name: String,
    tmp: Option<Dir>,
}

impl NewSet {
    fn tmp(&self) -> Result<&Dir> {
        self.tmp
            .as_ref()
            .ok_or_else(|| anyhow!("the temporary set is gone"))
    }

    /// Copies all of `src` into the set as `name` (hashed on the way, fsynced), with `src`'s mode and
    /// owner recorded.
    pub fn copy_in(&self, name: &str, src: &File) -> Result<FileEntry> {
        let tmp = self.tmp()?;
        let meta = src.metadata()?;
        let mut dst = tmp.create_file(name, 0o600)?;
        owner::adopt_open(&dst, &tmp.join(name))?;
        let (size, sha256) = copy_hashed(src, &mut dst, name, &tmp.join(name))?;
        Ok(FileEntry {
            name: name.to_string(),
            size,
            sha256,
            mode: meta.mode() & 0o7777,
            uid: meta.uid(),
            gid: meta.gid(),
        })
    }

    /// Copies each config file into the set (hashed on the way), as `config-<n>-<name>`.
    pub fn copy_configs(&self, paths: &[PathBuf]) -> Result<Vec<ConfigEntry>> {
        let mut configs = Vec::new();
        for (n, path) in paths.iter().enumerate() {
            let (dir, base) = crate::safefs::dir::split(path)?;
            let src = dir.open_file(&base)?;
            let name = format!("{CONFIG_PREFIX}{}-{}", n + 1, base.to_string_lossy());
            let file = self.copy_in(&name, &src)?;
            configs.push(ConfigEntry {
                source: path.display().to_string(),
                file,
            });
        }
        Ok(configs)
    }

    /// Signs the manifest ([`Manifest::sign`]; a set that cannot be signed is kept, and the returned note
    /// says so), writes it, fsyncs the set, renames it into place and fsyncs the backup directory.
    pub fn finish(mut self, mut manifest: Manifest) -> Result<(BackupSet, Option<String>)> {
        let unsigned = manifest.sign().err().map(|e| {
            format!("the backup is not signed with this host's key ({e:#}): restore will put back its database, not its config files")
        });
        let result = (|| -> Result<()> {
            let tmp = self.tmp()?;
            write_manifest(tmp, &manifest)?;
            tmp.sync()?;
            fault::step("fsync the temporary set");
            self.root_dir
                .rename(&self.tmp_name, &self.root_dir, &self.name)?;
            fault::step("renamed the set");
            self.root_dir.sync()?;
            fault::step("fsync the backup directory");
            Ok(())
        })();
        if let Err(e) = result {
            return Err(e.context(format!(
                "the backup into {} failed and was removed",
                self.root.display()
            )));
        }
        self.tmp = None;
        Ok((
            BackupSet {
                dir: self.root_dir.join(&self.name),
                manifest,
            },
            unsigned,
        ))
    }
}

impl Drop for NewSet {
    fn drop(&mut self) {
        if let Some(tmp) = self.tmp.take() {
            drop(tmp);
            let _ = self.root_dir.remove_flat(&self.tmp_name);
        }
    }
}

/// A manifest of this build for a set taken now: `origin`'s record, and the files copied.
pub fn manifest(origin: &Origin, files: Vec<FileEntry>, configs: Vec<ConfigEntry>) -> Manifest {
    Manifest {
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
        mac: None,
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

/// Copies large enough to wait for say how far they are: a bar on a terminal, sized to it; otherwise a
/// plain line every half second.
pub(super) const SHOWN_FROM: u64 = 64 << 20;

pub fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Removes what killed runs left in `dir`: directories named `prefix…` that no live run holds (each run
/// holds an flock on its own). Returns a note per removal.
pub fn clean_stale(dir: &Dir, prefix: &str) -> Vec<String> {
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

/// The set's manifest, written and fsynced (the set's directory is fsynced by the caller).
pub fn write_manifest(tmp: &Dir, manifest: &Manifest) -> Result<()> {
    let mut mf = tmp.create_file(MANIFEST, 0o600)?;
    owner::adopt_open(&mf, &tmp.join(MANIFEST))?;
    mf.write_all(&serde_json::to_vec_pretty(manifest)?)?;
    mf.sync_all()?;
    fault::step("fsync the manifest");
    Ok(())
}

/// A set of config files only, for a deployment with no Dex store (the standalone setup): the files
/// copied and hashed, the manifest, fsync, rename, then verified by its hashes.
pub fn take_files(sets: &Sets, origin: &Origin) -> Result<Taken> {
    let stamp = timefmt::compact_now();
    let (new, notes) = sets.begin("config-", |n| match n {
        1 => format!("config-{stamp}"),
        _ => format!("config-{stamp}-{n}"),
    })?;
    let configs = new.copy_configs(&origin.configs)?;
    let mut m = manifest(origin, Vec::new(), configs);
    m.dex_schema = None;
    m.connectors = Vec::new();
    let (set, unsigned) = new.finish(m)?;
    verify(&set.dir).context("the backup was written but does not verify")?;
    let mut notes = notes;
    notes.extend(unsigned);
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
    // Every name is a plain file name in the set: the store's main file, then the files named after it
    // (a database's -journal/-wal/-shm: the store checks which); a set of config files only has none.
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
                || f.name
                    .strip_prefix(first.name.as_str())
                    .is_some_and(|suffix| suffix.starts_with('-')));
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

/// The set in `dir` as its manifest describes it, not yet proven (see [`verify`] and the store's
/// `verify_set`).
pub fn open(dir: &Path) -> Result<BackupSet> {
    Ok(BackupSet {
        dir: dir.to_path_buf(),
        manifest: manifest_in(&Dir::open(dir)?)?,
    })
}

/// Reads every file of a set back against its manifest (whether the store in it is readable is its
/// store's to prove: [`crate::store::Store::verify_set`]).
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
    Ok(BackupSet {
        dir: dir.to_path_buf(),
        manifest,
    })
}

/// The sets under `root`, oldest first by the time their manifests record (sets taken within one second
/// keep their order); links and temporary sets are not sets.
fn list(root: &Path) -> Result<Vec<BackupSet>> {
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
fn newest_for(root: &Path, source: &str) -> Result<BackupSet> {
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

/// What an interrupted restore left to do, written (signed, fsynced, renamed into place) in the backup
/// directory before its first swap and removed after its last write: the next `restore` finds it and
/// finishes the same set, and every other stop window refuses to start while it is there.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Journal {
    /// The set being put back.
    pub set: PathBuf,
    /// The copy of the store (and files) saved before the restore.
    pub before: PathBuf,
    /// Each config file put back: where, and its sha256 before and after.
    pub files: Vec<JournalFile>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JournalFile {
    pub path: PathBuf,
    pub before: String,
    pub after: String,
}

/// The journal's name in the backup directory.
const JOURNAL: &str = ".restore-journal.json";

impl Journal {
    fn signed_bytes(&self) -> Vec<u8> {
        let mut j = self.clone();
        j.mac = None;
        // A struct of paths and strings: serde_json cannot fail on it.
        serde_json::to_vec(&j).unwrap_or_default()
    }

    /// Writes it (signed with this host's key) into `sets`, durably.
    pub fn save(&mut self, sets: &Sets) -> Result<()> {
        let key = crate::keys::Key::load_or_create()?;
        self.mac = Some(key.mac(&self.signed_bytes()));
        let d = Dir::create_or_open(sets.path())?;
        let tmp = format!("{JOURNAL}.tmp-{}", std::process::id());
        let mut f = d.create_file(&tmp, 0o600)?;
        owner::adopt_open(&f, &d.join(&tmp))?;
        f.write_all(&serde_json::to_vec_pretty(self)?)?;
        f.sync_all()?;
        d.rename(&tmp, &d, JOURNAL)?;
        d.sync()?;
        fault::step("wrote the restore journal");
        Ok(())
    }

    /// The journal in `sets`, when there is one; refused with one line when this host's key does not
    /// sign it (a journal the IdP's container wrote must not steer a restore).
    pub fn load(sets: &Sets) -> Result<Option<Journal>> {
        let d = match Dir::open(sets.path()) {
            Ok(d) => d,
            Err(_) => return Ok(None),
        };
        if d.stat(JOURNAL)?.is_none() {
            return Ok(None);
        }
        let mut bytes = Vec::new();
        d.open_file(JOURNAL)?.read_to_end(&mut bytes)?;
        let shown = d.join(JOURNAL);
        let j: Journal = serde_json::from_slice(&bytes)
            .with_context(|| format!("{} is not a restore journal", shown.display()))?;
        let signed = j.mac.as_deref().is_some_and(|mac| {
            crate::keys::Key::load_or_create().is_ok_and(|k| k.verifies(&j.signed_bytes(), mac))
        });
        if !signed {
            bail!(
                "{} is not signed with this host's key, so ozrepair does not follow it; nothing was changed; remove it if no restore of yours was interrupted",
                shown.display()
            );
        }
        Ok(Some(j))
    }

    /// Removes the journal from `sets` (the restore is complete).
    pub fn remove(sets: &Sets) -> Result<()> {
        let d = Dir::open(sets.path())?;
        d.unlink(JOURNAL)?;
        d.sync()?;
        fault::step("removed the restore journal");
        Ok(())
    }
}
