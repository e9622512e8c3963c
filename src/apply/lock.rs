//! One writer per database: an advisory lock on `.<db name>.ozrepair-lock` beside it, held while fix,
//! backup or restore work. A second run refuses at once instead of writing too.

use anyhow::{anyhow, Context, Result};
use std::fs::{File, OpenOptions, TryLockError};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Held until dropped (the kernel releases it when the process dies, too).
pub struct Lock {
    _file: File,
    pub path: PathBuf,
}

pub fn path_for(db: &Path) -> PathBuf {
    let name = db
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "idp.db".into());
    db.parent()
        .unwrap_or(Path::new("."))
        .join(format!(".{name}.ozrepair-lock"))
}

pub fn acquire(db: &Path) -> Result<Lock> {
    let path = path_for(db);
    let file = match OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(&path)
    {
        Ok(f) => f,
        // Nothing can be written beside the database: say so plainly, before any backup is taken.
        Err(e) if e.kind() == std::io::ErrorKind::ReadOnlyFilesystem => {
            return Err(anyhow!(
                "{} is on a read-only file system, so ozrepair can neither lock nor edit it; nothing was changed; remount it read-write, or copy the database to a writable place and pass --db",
                db.display()
            ))
        }
        Err(e) => {
            return Err(e).with_context(|| {
                format!(
                    "cannot create the lock file {}; nothing was changed",
                    path.display()
                )
            })
        }
    };
    match file.try_lock() {
        Ok(()) => {
            crate::apply::owner::adopt_in_parent(&path)
                .context("the lock was taken, but nothing was changed")?;
            Ok(Lock { _file: file, path })
        }
        Err(TryLockError::WouldBlock) => Err(anyhow!(
            "another ozrepair is working on {} (it holds {}); nothing was changed; wait for it to finish, then run again",
            db.display(),
            path.display()
        )),
        Err(TryLockError::Error(e)) => Err(anyhow!("cannot lock {} ({e}); nothing was changed", path.display())),
    }
}
