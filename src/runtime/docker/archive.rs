//! Reaching the database through the Docker archive API when its volume is not on this machine's
//! filesystem (a remote engine, Docker Desktop, rootless Docker): the database and its -journal/-wal/-shm
//! are copied out of the container into a private directory here, worked on there like any local file,
//! and the edited database is copied back in. Owner, group and mode go back as they were (never
//! `copy_uidgid`): Docker's tar headers carry them; Podman's carry the container user's uid/gid instead of
//! the file owner's, so there they come from the volume's file on this machine when it is the same file
//! (the same bytes where it is readable here, else the same size and modification time), its host owner
//! mapped back through a rootless engine's user namespace (Podman says its id map), and otherwise ozrepair
//! refuses to write back. The copy
//! back goes first under a temporary name and is verified by downloading it again (and its owner and mode
//! where they were found); stale journal or WAL files are emptied so they cannot be replayed onto the new
//! bytes; then the database itself is replaced and verified once more.
//!
//! An engine may fail to reach a crash-looping container's files for a moment (500 `open /proc/PID/ns/mnt`,
//! or 200 with an empty archive): the engine retries those, and an empty archive is never an empty file.

use super::engine::{Container, Engine, Facts};
use crate::runtime::InsideSet;
use anyhow::{anyhow, bail, Context, Result};
use futures_util::future::LocalBoxFuture;
use futures_util::FutureExt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::rc::Rc;

/// One file as the container has it.
#[derive(Debug, Clone)]
pub struct Entry {
    pub name: String,
    pub uid: u64,
    pub gid: u64,
    pub mode: u32,
    /// Modification time, whole seconds (the tar header's).
    pub mtime: u64,
    /// Where uid, gid and mode were read; None when they cannot be known (nothing is written back then).
    pub owner_from: Option<OwnerSource>,
    /// Why they cannot be known, when they cannot.
    pub owner_unknown: Option<&'static str>,
}

/// Where a file's owner and mode were read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OwnerSource {
    /// The engine's tar header (Docker).
    TarHeader,
    /// The volume's file on this machine, which held the same bytes.
    HostFile(PathBuf),
}

/// A file's uid, gid and permission bits.
type Owner = (u64, u64, u32);

/// A file of the volume on this machine, as far as this user can see it.
struct HostFile<'p> {
    path: &'p Path,
    /// Its bytes, when this user may read it (a rootless volume's files often are not readable).
    bytes: Option<Vec<u8>>,
    len: u64,
    mtime: u64,
    /// Its uid, gid and mode on this machine.
    owner: Owner,
}

impl HostFile<'_> {
    /// The same file as the container's `entry` with `data`: the same bytes where they can be read here,
    /// else the same size and modification time (Podman's tar header rounds the time to the nearest
    /// second: 11:32:50.848 comes as 11:32:51, so a second apart is the same time).
    fn is(&self, entry: &Entry, data: &[u8]) -> bool {
        match &self.bytes {
            Some(b) => b == data,
            None => self.len == data.len() as u64 && self.mtime.abs_diff(entry.mtime) <= 1,
        }
    }
}

/// The owner of one fetched file: the tar header when the engine's headers tell the owner; else the file
/// in the volume on this machine when it is the same file, its owner as the container sees it (see
/// [`Facts::container_owner`]); else unknown (uid/gid/mode stay the header's, unused).
fn resolve_owner(entry: &mut Entry, data: &[u8], facts: &Facts, host: Option<HostFile<'_>>) {
    if facts.tar_owners_trusted() {
        entry.owner_from = Some(OwnerSource::TarHeader);
        return;
    }
    entry.owner_from = None;
    let why = match host {
        Some(h) if h.is(entry, data) => {
            let (uid, gid, mode) = h.owner;
            match facts.container_owner(uid, gid) {
                Ok((uid, gid)) => {
                    (entry.uid, entry.gid, entry.mode) = (uid, gid, mode);
                    entry.owner_from = Some(OwnerSource::HostFile(h.path.to_path_buf()));
                    entry.owner_unknown = None;
                    return;
                }
                Err(why) => why,
            }
        }
        Some(_) => "the volume's file on this machine is not the container's file (other bytes, size or time)",
        None => "the volume's file cannot be found on this machine",
    };
    entry.owner_unknown = Some(why);
}

/// A host file's size, time, owner and mode (and its bytes when readable), when it is a regular file.
fn host_file(path: &Path) -> Option<HostFile<'_>> {
    use std::os::unix::fs::MetadataExt;
    let meta = path.symlink_metadata().ok()?;
    if !meta.file_type().is_file() {
        return None;
    }
    Some(HostFile {
        path,
        bytes: std::fs::read(path).ok(),
        len: meta.len(),
        mtime: u64::try_from(meta.mtime()).unwrap_or(0),
        owner: (
            u64::from(meta.uid()),
            u64::from(meta.gid()),
            meta.mode() & 0o7777,
        ),
    })
}

/// The owner and mode of a host file as the container sees them.
fn host_owner(path: &Path, facts: &Facts) -> Option<Owner> {
    use std::os::unix::fs::MetadataExt;
    let meta = path.symlink_metadata().ok()?;
    let (uid, gid) = facts
        .container_owner(u64::from(meta.uid()), u64::from(meta.gid()))
        .ok()?;
    meta.file_type()
        .is_file()
        .then_some((uid, gid, meta.mode() & 0o7777))
}

/// Fails unless every file's owner and mode are known, so that they can go back as they were.
pub fn owners_known(entries: &[Entry], container: &str, inside: &str) -> Result<()> {
    if let Some(e) = entries.iter().find(|e| e.owner_from.is_none()) {
        bail!(
            "the owner of {} in container {container} cannot be known, so it could not be put back as it was: this engine's archive API names the container's user instead of the file's owner, and {}; nothing was changed; run ozrepair as root on the engine's host with --access host",
            if e.name.is_empty() { inside } else { &e.name },
            e.owner_unknown.unwrap_or("nothing else tells it")
        );
    }
    Ok(())
}

/// The database set copied out of a container.
pub struct Fetched {
    pub dir: tempfile::TempDir,
    /// The local copy of the database.
    pub db: PathBuf,
    /// What each file was in the container (database first).
    pub entries: Vec<Entry>,
}

/// (directory, file name) of a path inside the container.
pub fn split(inside: &str) -> (String, String) {
    match inside.rsplit_once('/') {
        Some((d, n)) => (
            if d.is_empty() {
                "/".into()
            } else {
                d.to_string()
            },
            n.to_string(),
        ),
        None => ("/".into(), inside.to_string()),
    }
}

/// The single regular file in a tar stream, with its header.
fn only_file(tar_bytes: &[u8]) -> Result<(Vec<u8>, Entry)> {
    let mut ar = tar::Archive::new(tar_bytes);
    let mut e = ar
        .entries()?
        .next()
        .ok_or_else(|| anyhow!("the engine returned no file"))??;
    let h = e.header().clone();
    if h.entry_type().is_symlink() || h.entry_type().is_hard_link() {
        bail!("it is a link in the container (ozrepair never follows links out of a volume)");
    }
    if !h.entry_type().is_file() {
        bail!("it is not a regular file in the container");
    }
    let name = e
        .path()?
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut data = Vec::new();
    e.read_to_end(&mut data)?;
    Ok((
        data,
        Entry {
            name,
            uid: h.uid()?,
            gid: h.gid()?,
            mode: h.mode()? & 0o7777,
            mtime: h.mtime()?,
            owner_from: Some(OwnerSource::TarHeader),
            owner_unknown: None,
        },
    ))
}

/// Copies the database at `inside` and its companions (its journal/WAL files: the same name with each of
/// `companions`' suffixes) out of container `id`. `host_dir` is where the database's directory is on this
/// machine by the container's mounts (it may not be readable here).
pub async fn fetch(
    e: &Engine,
    id: &str,
    inside: &str,
    host_dir: Option<&Path>,
    companions: &[&str],
) -> Result<Fetched> {
    let facts = e.facts().await;
    let dir = tempfile::Builder::new()
        .prefix("ozrepair-archive-")
        .tempdir()
        .context("cannot create a private directory")?;
    let mut entries = Vec::new();
    let mut db = None;
    for suffix in std::iter::once("").chain(companions.iter().copied()) {
        let path = format!("{inside}{suffix}");
        let Some(tar) = e.download(id, &path).await? else {
            if suffix.is_empty() {
                bail!("there is no {path} in the container; nothing was changed");
            }
            continue;
        };
        let (data, mut entry) =
            only_file(&tar).map_err(|err| anyhow!("{path}: {err}; nothing was changed"))?;
        let on_host = host_dir.map(|d| d.join(&entry.name));
        let host = on_host.as_deref().and_then(host_file);
        resolve_owner(&mut entry, &data, &facts, host);
        let local = dir.path().join(&entry.name);
        std::fs::write(&local, data)
            .with_context(|| format!("cannot write {}", local.display()))?;
        if suffix.is_empty() {
            db = Some(local);
        }
        entries.push(entry);
    }
    let db = db.ok_or_else(|| anyhow!("no database was copied out"))?;
    Ok(Fetched { dir, db, entries })
}

fn tar_of(name: &str, data: &[u8], like: &Entry) -> Result<Vec<u8>> {
    let mut h = tar::Header::new_gnu();
    h.set_size(data.len() as u64);
    h.set_mode(like.mode);
    h.set_uid(like.uid);
    h.set_gid(like.gid);
    h.set_mtime(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
    );
    h.set_entry_type(tar::EntryType::Regular);
    let mut b = tar::Builder::new(Vec::new());
    b.append_data(&mut h, name, data)?;
    Ok(b.into_inner()?)
}

async fn put_verified(
    e: &Engine,
    facts: &Facts,
    id: &str,
    dir: &str,
    name: &str,
    data: &[u8],
    like: &Entry,
) -> Result<()> {
    e.upload(id, dir, tar_of(name, data, like)?).await?;
    let back = e
        .download(id, &format!("{}/{name}", dir.trim_end_matches('/')))
        .await?
        .ok_or_else(|| anyhow!("{name} is missing after the upload"))?;
    let (got, entry) = only_file(&back)?;
    if got.as_slice() != data {
        bail!("{name} does not read back as uploaded");
    }
    let owner = match &like.owner_from {
        Some(OwnerSource::TarHeader) => Some((entry.uid, entry.gid, entry.mode)),
        Some(OwnerSource::HostFile(db)) => {
            db.parent().and_then(|d| host_owner(&d.join(name), facts))
        }
        None => None,
    };
    if owner != Some((like.uid, like.gid, like.mode)) {
        bail!(
            "{name} does not read back with owner {}:{} and mode {:o} (it has {})",
            like.uid,
            like.gid,
            like.mode,
            owner
                .map(|(u, g, m)| format!("{u}:{g} {m:o}"))
                .unwrap_or_else(|| "an owner that cannot be read".into())
        );
    }
    Ok(())
}

/// Puts the local database `local` back at `inside` in container `id` (stopped), as described above.
pub async fn put(
    e: &Engine,
    id: &str,
    inside: &str,
    local: &Path,
    fetched: &[Entry],
) -> Result<()> {
    let (dir, name) = split(inside);
    owners_known(fetched, id, inside)?;
    let facts = e.facts().await;
    let data = std::fs::read(local).with_context(|| format!("cannot read {}", local.display()))?;
    let like = fetched
        .first()
        .ok_or_else(|| anyhow!("nothing was fetched"))?
        .clone();
    let staged = format!(".{name}.ozrepair-new");
    put_verified(e, &facts, id, &dir, &staged, &data, &like)
        .await
        .context(
            "staging the new database in the container failed; the database there is unchanged",
        )?;
    for side in fetched.iter().skip(1) {
        put_verified(e, &facts, id, &dir, &side.name, b"", side)
            .await
            .with_context(|| format!("emptying the stale {} failed", side.name))?;
    }
    put_verified(e, &facts, id, &dir, &name, &data, &like)
        .await
        .context("replacing the database in the container failed")?;
    // The staged copy has served; leave an empty file (the archive API cannot delete).
    let _ = e.upload(id, &dir, tar_of(&staged, b"", &like)?).await;
    Ok(())
}

/// Copies the set out of the container again into the directory of `local_db` (replacing what is there),
/// e.g. after the container was stopped. Returns what the container had.
pub async fn refresh(
    e: &Engine,
    id: &str,
    inside: &str,
    host_dir: Option<&Path>,
    local_db: &Path,
    companions: &[&str],
) -> Result<Vec<Entry>> {
    let f = fetch(e, id, inside, host_dir, companions).await?;
    let dir = local_db
        .parent()
        .ok_or_else(|| anyhow!("{} has no directory", local_db.display()))?;
    for suffix in companions {
        let mut name = local_db.as_os_str().to_os_string();
        name.push(suffix);
        let p = PathBuf::from(name);
        if p.symlink_metadata().is_ok() {
            std::fs::remove_file(&p)?;
        }
    }
    for entry in &f.entries {
        let to = if entry.name == f.entries[0].name {
            local_db.to_path_buf()
        } else {
            dir.join(&entry.name)
        };
        std::fs::copy(f.dir.path().join(&entry.name), &to)?;
    }
    Ok(f.entries)
}

/// A store's set inside a container, copied out to a private directory here (see the module notes).
pub struct InContainer {
    engine: Rc<Engine>,
    container_id: String,
    container_name: String,
    /// Its path inside the container.
    inside: String,
    /// Its directory on this machine by the container's mounts (it may not be readable here).
    host_dir: Option<PathBuf>,
    /// The suffixes of the files that go with it (its journal, WAL…).
    companions: Vec<String>,
    /// The local copy (its directory is removed when this is dropped).
    copy: Fetched,
    /// What each file of the set was in the container when last fetched (database first).
    entries: Vec<Entry>,
}

impl InContainer {
    pub async fn fetch(
        engine: &Rc<Engine>,
        c: &Container,
        inside: &str,
        host_dir: Option<PathBuf>,
        companions: &[&str],
    ) -> Result<InContainer> {
        let copy = fetch(engine, &c.id, inside, host_dir.as_deref(), companions).await?;
        Ok(InContainer {
            engine: engine.clone(),
            container_id: c.id.clone(),
            container_name: c.name.clone(),
            inside: inside.to_string(),
            host_dir,
            companions: companions.iter().map(|s| s.to_string()).collect(),
            entries: copy.entries.clone(),
            copy,
        })
    }
}

impl InsideSet for InContainer {
    fn local(&self) -> &Path {
        &self.copy.db
    }

    fn shown(&self) -> String {
        format!("{}:{}", self.container_name, self.inside)
    }

    /// On this machine under ~/ozrepair-backups/<container>.
    fn default_backups(&self) -> PathBuf {
        PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/root".into()))
            .join("ozrepair-backups")
            .join(&self.container_name)
    }

    fn refresh(&mut self) -> LocalBoxFuture<'_, Result<()>> {
        async move {
            let companions: Vec<&str> = self.companions.iter().map(String::as_str).collect();
            self.entries = refresh(
                &self.engine,
                &self.container_id,
                &self.inside,
                self.host_dir.as_deref(),
                &self.copy.db,
                &companions,
            )
            .await?;
            Ok(())
        }
        .boxed_local()
    }

    fn can_put_back(&self) -> Result<()> {
        owners_known(&self.entries, &self.container_name, &self.inside)
    }

    fn put_back(&self) -> LocalBoxFuture<'_, Result<()>> {
        async move {
            crate::progress::say(format!(
                "copying the database back into {}",
                self.container_name
            ));
            put(
                &self.engine,
                &self.container_id,
                &self.inside,
                &self.copy.db,
                &self.entries,
            )
            .await
        }
        .boxed_local()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tar_round_trip_keeps_owner_and_mode() {
        let like = Entry {
            name: "dex.db".into(),
            uid: 1001,
            gid: 1001,
            mode: 0o600,
            mtime: 0,
            owner_from: Some(OwnerSource::TarHeader),
            owner_unknown: None,
        };
        let t = tar_of("dex.db", b"hello", &like).unwrap();
        let (data, e) = only_file(&t).unwrap();
        assert_eq!(data, b"hello");
        assert_eq!(
            (e.name.as_str(), e.uid, e.gid, e.mode),
            ("dex.db", 1001, 1001, 0o600)
        );
        assert_eq!(
            split("/var/lib/dex/dex.db"),
            ("/var/lib/dex".into(), "dex.db".into())
        );
        assert_eq!(split("/idp.db"), ("/".into(), "idp.db".into()));
    }

    #[test]
    fn owners_come_from_where_they_can_be_known() {
        use crate::runtime::docker::engine::{Flavour, IdMaps, IdRange};
        let docker = Facts {
            flavour: Flavour::Docker,
            rootless: false,
            ids: None,
            podman: None,
        };
        let podman = Facts {
            flavour: Flavour::Podman,
            ..docker.clone()
        };
        // A rootless service of user 1000 with subordinate ids from 100000 (container 1001 is 101000).
        let range = |container, host, size| IdRange {
            container,
            host,
            size,
        };
        let map = vec![range(0, 1000, 1), range(1, 100000, 65536)];
        let rootless = Facts {
            rootless: true,
            ids: Some(IdMaps {
                uid: map.clone(),
                gid: map,
            }),
            ..podman.clone()
        };
        let unmapped = Facts {
            ids: None,
            ..rootless.clone()
        };
        // Podman's header: the container user (root), not the file's owner.
        let header = || Entry {
            name: "idp.db".into(),
            uid: 0,
            gid: 0,
            mode: 0o600,
            mtime: 1_700_000_000,
            owner_from: Some(OwnerSource::TarHeader),
            owner_unknown: None,
        };
        let p = Path::new("/v/_data/idp.db");
        let host = |bytes: Option<&[u8]>, len, mtime, owner| {
            Some(HostFile {
                path: p,
                bytes: bytes.map(<[u8]>::to_vec),
                len,
                mtime,
                owner,
            })
        };
        let readable = || host(Some(b"db"), 2, 1, (1001, 1001, 0o600));

        let mut e = header();
        resolve_owner(&mut e, b"db", &docker, readable());
        assert_eq!((e.uid, e.owner_from), (0, Some(OwnerSource::TarHeader)));

        let mut e = header();
        resolve_owner(&mut e, b"db", &podman, readable());
        assert_eq!(
            (e.uid, e.gid, e.mode, e.owner_from),
            (1001, 1001, 0o600, Some(OwnerSource::HostFile(p.into())))
        );

        // Rootless, the file not readable by this user: the same size and time, its host owner mapped back.
        for rounded in [1_699_999_999, 1_700_000_000] {
            let mut e = header();
            resolve_owner(
                &mut e,
                b"db",
                &rootless,
                host(None, 2, rounded, (101000, 101000, 0o600)),
            );
            assert_eq!(
                (e.uid, e.gid, e.mode, e.owner_from),
                (1001, 1001, 0o600, Some(OwnerSource::HostFile(p.into())))
            );
        }

        // Another file at that path (other bytes; unreadable with another size or time), no file, an owner
        // outside the namespace, or a rootless engine that does not say its map: unknown, nothing goes back.
        for (facts, host) in [
            (&podman, host(Some(b"other"), 5, 1, (1001, 1001, 0o600))),
            (
                &rootless,
                host(None, 3, 1_700_000_000, (101000, 101000, 0o600)),
            ),
            (
                &rootless,
                host(None, 2, 1_700_000_002, (101000, 101000, 0o600)),
            ),
            (&podman, None),
            (&rootless, host(None, 2, 1_700_000_000, (0, 0, 0o600))),
            (&unmapped, readable()),
        ] {
            let mut e = header();
            resolve_owner(&mut e, b"db", facts, host);
            assert_eq!(e.owner_from, None);
            assert!(owners_known(&[e], "mgmt", "/var/lib/openzro/idp.db").is_err());
        }
        assert!(owners_known(&[header()], "mgmt", "/x").is_ok());
    }
}
