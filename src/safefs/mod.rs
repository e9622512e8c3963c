//! The filesystem as ozrepair writes it, never through a link: a checked directory and the files made in it
//! ([`dir`]), ozrepair's own lock file ([`lock`]), and what is made in a directory belonging to that
//! directory's owner ([`owner`]). A leaf: it knows nothing of engines, stores or Dex.

pub mod dir;
pub mod lock;
pub mod owner;

pub use dir::Dir;

/// Whether this process may write `path` (a file, or a directory to make files in), as the kernel would
/// judge a write now: a read-only mount, an immutable file or missing permission is the error, in the
/// system's words. Nothing is opened or changed.
pub fn may_write(path: &std::path::Path) -> std::io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
    let dir = std::fs::symlink_metadata(path)?.is_dir();
    let mode = if dir {
        libc::W_OK | libc::X_OK
    } else {
        libc::W_OK
    };
    // SAFETY: a NUL-terminated path; faccessat only reads it. AT_EACCESS: as this process's effective
    // ids, the ones its writes would use.
    let r = unsafe {
        libc::faccessat(
            libc::AT_FDCWD,
            c.as_ptr(),
            mode,
            libc::AT_EACCESS | libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}
