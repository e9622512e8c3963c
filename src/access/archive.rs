//! Reaching the database through the Docker archive API when its volume is not on this machine's
//! filesystem (a remote engine, Docker Desktop, rootless Docker): the database and its -journal/-wal/-shm
//! are copied out of the container into a private directory here, worked on there like any local file,
//! and the edited database is copied back in. Owner, group and mode come from the downloaded tar headers
//! (never `copy_uidgid`). The copy back goes first under a temporary name and is verified by downloading
//! it again; stale journal or WAL files are emptied so they cannot be replayed onto the new bytes; then the
//! database itself is replaced and verified once more by downloading it.

use crate::access::host::{hex, sidecars, SIDECARS};
use crate::docker::Engine;
use anyhow::{anyhow, bail, Context, Result};
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};

/// One file as the container has it.
#[derive(Debug, Clone)]
pub struct Entry {
    pub name: String,
    pub uid: u64,
    pub gid: u64,
    pub mode: u32,
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
        },
    ))
}

/// Copies the database at `inside` and its journal/WAL files out of container `id`.
pub async fn fetch(e: &Engine, id: &str, inside: &str) -> Result<Fetched> {
    let dir = tempfile::Builder::new()
        .prefix("ozrepair-archive-")
        .tempdir()
        .context("cannot create a private directory")?;
    let mut entries = Vec::new();
    let mut db = None;
    for suffix in std::iter::once("").chain(SIDECARS) {
        let path = format!("{inside}{suffix}");
        let Some(tar) = e.download(id, &path).await? else {
            if suffix.is_empty() {
                bail!("there is no {path} in the container; nothing was changed");
            }
            continue;
        };
        let (data, entry) =
            only_file(&tar).map_err(|err| anyhow!("{path}: {err}; nothing was changed"))?;
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
    if hex(&Sha256::digest(&got)) != hex(&Sha256::digest(data))
        || (entry.uid, entry.gid, entry.mode) != (like.uid, like.gid, like.mode)
    {
        bail!("{name} does not read back as uploaded");
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
    let data = std::fs::read(local).with_context(|| format!("cannot read {}", local.display()))?;
    let like = fetched
        .first()
        .ok_or_else(|| anyhow!("nothing was fetched"))?
        .clone();
    let staged = format!(".{name}.ozrepair-new");
    put_verified(e, id, &dir, &staged, &data, &like)
        .await
        .context(
            "staging the new database in the container failed; the database there is unchanged",
        )?;
    for side in fetched.iter().skip(1) {
        put_verified(e, id, &dir, &side.name, b"", side)
            .await
            .with_context(|| format!("emptying the stale {} failed", side.name))?;
    }
    put_verified(e, id, &dir, &name, &data, &like)
        .await
        .context("replacing the database in the container failed")?;
    // The staged copy has served; leave an empty file (the archive API cannot delete).
    let _ = e.upload(id, &dir, tar_of(&staged, b"", &like)?).await;
    Ok(())
}

/// Copies the set out of the container again into the directory of `local_db` (replacing what is there),
/// e.g. after the container was stopped. Returns what the container had.
pub async fn refresh(e: &Engine, id: &str, inside: &str, local_db: &Path) -> Result<Vec<Entry>> {
    let f = fetch(e, id, inside).await?;
    let dir = local_db
        .parent()
        .ok_or_else(|| anyhow!("{} has no directory", local_db.display()))?;
    for p in sidecars(local_db) {
        std::fs::remove_file(&p)?;
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
}
