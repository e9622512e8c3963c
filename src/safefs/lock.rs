//! ozrepair's own lock: one ozrepair per store, an advisory lock on `.<name>.ozrepair-lock` beside the file
//! it is taken for (a store's file, or the first config file of a deployment with no store), held while a
//! stop window is open; a second run refuses at once instead of writing too. The lock file is opened
//! without following a link and without blocking, and must be a regular file.

use crate::verdict::Refused;
use anyhow::{anyhow, Context, Result};
use std::ffi::CString;
use std::fs::File;
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Held until dropped (the kernel releases it when the process dies, too).
pub struct Lock {
    _file: File,
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

/// Opens (or creates, mode 0600) the lock file: never through a link, never blocking on a FIFO.
fn open_lock_file(path: &Path) -> std::io::Result<File> {
    let c = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
    // SAFETY: `c` is a valid NUL-terminated path; the descriptor is owned below.
    let fd = unsafe {
        libc::open(
            c.as_ptr(),
            libc::O_WRONLY | libc::O_CREAT | libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC,
            0o600 as libc::c_uint,
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `fd` was just returned by open and is owned by nothing else.
    Ok(File::from(unsafe { OwnedFd::from_raw_fd(fd) }))
}

/// Takes the lock for `db` (a store's file, or a config file), refusing at once when another run holds it.
pub fn acquire(db: &Path) -> Result<Lock> {
    let path = path_for(db);
    let planted = |what: &str| {
        anyhow!(
            "the lock file {} is {what}; ozrepair does not use it; nothing was changed; remove it and run again",
            path.display()
        )
    };
    let file = match open_lock_file(&path) {
        Ok(f) => f,
        // Nothing can be written beside the database: say so plainly, before any backup is taken.
        Err(e) if e.kind() == std::io::ErrorKind::ReadOnlyFilesystem => {
            return Err(Refused(format!(
                "{} is on a read-only file system, so ozrepair can neither lock nor edit it; nothing was changed; remount it read-write, or copy the database to a writable place and pass --db",
                db.display()
            ))
            .into())
        }
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            return Err(Refused(format!(
                "cannot make ozrepair's lock file {} beside {}: permission denied, so ozrepair cannot edit it either; nothing was changed; run ozrepair as the user that owns {} (or as root)",
                path.display(),
                db.display(),
                path.parent().unwrap_or(Path::new("/")).display()
            ))
            .into())
        }
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => return Err(planted("a symbolic link")),
        // A FIFO without a reader (opening it for writing without blocking fails so).
        Err(e) if e.raw_os_error() == Some(libc::ENXIO) => return Err(planted("not a regular file")),
        Err(e) if e.raw_os_error() == Some(libc::EISDIR) => return Err(planted("a directory")),
        Err(e) => {
            return Err(anyhow!(
                "cannot make ozrepair's lock file {} ({})",
                path.display(),
                crate::verdict::io_words(&e)
            ))
        }
    };
    let meta = file.metadata()?;
    if !meta.file_type().is_file() {
        return Err(planted("not a regular file"));
    }
    if meta.nlink() > 1 {
        return Err(planted("hard-linked elsewhere"));
    }
    match file.try_lock() {
        Ok(()) => {
            super::owner::adopt_open(&file, &path)
                .context("the lock was taken, but nothing was changed")?;
            Ok(Lock { _file: file })
        }
        Err(std::fs::TryLockError::WouldBlock) => Err(anyhow!(
            "another ozrepair is working on {} (it holds {}); nothing was changed; wait for it to finish, then run again",
            db.display(),
            path.display()
        )),
        Err(std::fs::TryLockError::Error(e)) => Err(anyhow!("cannot lock {} ({e}); nothing was changed", path.display())),
    }
}
