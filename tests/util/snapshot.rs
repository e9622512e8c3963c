//! What a directory tree holds, to prove that a run changed nothing (or exactly what it may).

use crate::util::hash::sha256_hex;
use std::collections::BTreeMap;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

/// Every entry under a directory by its path relative to it: a file by (sha256, size, mode, uid, gid,
/// nlink), a directory (its path ending in `/`) by its mode and owner, a symlink by its target, anything
/// else by its type. Taking one never opens a FIFO (that would block) and never follows a link. Equal
/// snapshots mean no byte, owner, mode or link changed.
pub type Snapshot = BTreeMap<String, String>;

pub fn snapshot(dir: &Path) -> Snapshot {
    let mut out = Snapshot::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read dir") {
            let p = entry.expect("entry").path();
            let m = std::fs::symlink_metadata(&p).expect("metadata");
            let rel = p.strip_prefix(dir).unwrap_or(&p).display().to_string();
            let ft = m.file_type();
            let owner = format!("{:o} {}:{}", m.mode(), m.uid(), m.gid());
            if ft.is_dir() {
                out.insert(format!("{rel}/"), owner);
                stack.push(p);
            } else if ft.is_symlink() {
                let to = std::fs::read_link(&p).expect("readlink");
                out.insert(rel, format!("-> {} {owner}", to.display()));
            } else if ft.is_file() {
                let sha = sha256_hex(&std::fs::read(&p).expect("read file"));
                out.insert(
                    rel,
                    format!("{sha} {} {owner} nlink {}", m.len(), m.nlink()),
                );
            } else {
                out.insert(rel, format!("special fifo={} {owner}", ft.is_fifo()));
            }
        }
    }
    out
}

/// The sha256 a snapshot recorded for the file at `rel`.
pub fn sha256_in(snapshot: &Snapshot, rel: &str) -> String {
    let entry = snapshot
        .get(rel)
        .unwrap_or_else(|| panic!("no {rel} in the snapshot"));
    entry.split(' ').next().unwrap_or_default().to_string()
}

/// Opens a private copy of `db` (and any -journal/-wal/-shm beside it), so reading cannot change the
/// files in place.
pub fn read_copy(db: &Path) -> (tempfile::TempDir, rusqlite::Connection) {
    let dir = tempfile::tempdir().expect("tempdir");
    let copy = dir.path().join("idp.db");
    std::fs::copy(db, &copy).expect("copy db");
    for s in ["-journal", "-wal", "-shm"] {
        let side = std::path::PathBuf::from(format!("{}{s}", db.display()));
        if side.exists() {
            std::fs::copy(&side, format!("{}{s}", copy.display())).expect("copy sidecar");
        }
    }
    let conn = rusqlite::Connection::open(&copy).expect("open copy");
    (dir, conn)
}
