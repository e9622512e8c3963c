//! A checked directory and the files made inside it, never through a link: the directory is opened once
//! with `O_NOFOLLOW | O_DIRECTORY`, and every file, subdirectory, rename and removal afterwards goes
//! through `openat`/`mkdirat`/`renameat`/`unlinkat` relative to that descriptor, with `O_NOFOLLOW` on the
//! name. An existing directory's mode is never changed.

use anyhow::{anyhow, bail, Context, Result};
use std::ffi::{CString, OsStr, OsString};
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// An open directory, reached without following a link at its last component.
pub struct Dir {
    fd: OwnedFd,
    pub path: PathBuf,
}

fn cstr(s: &OsStr) -> io::Result<CString> {
    CString::new(s.as_bytes()).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))
}

/// A single file name: not empty, no `/`, not `.` or `..`.
fn plain(name: &OsStr) -> Result<CString> {
    let b = name.as_bytes();
    if b.is_empty() || b.contains(&b'/') || b == b"." || b == b".." {
        bail!("{:?} is not a plain file name", name);
    }
    Ok(cstr(name)?)
}

fn cvt(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// Why an open with `O_NOFOLLOW` failed, in the operator's words.
fn open_error(path: &Path, e: io::Error, what: &str) -> anyhow::Error {
    let link = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
    match e.raw_os_error() {
        Some(libc::ELOOP) | Some(libc::ENOTDIR) if link => anyhow!(
            "{} is a symbolic link (ozrepair never writes through a link); nothing was changed; remove it, or pass {what} with the real place",
            path.display()
        ),
        Some(libc::ENOTDIR) => anyhow!(
            "{} is not a directory; nothing was changed; remove it, or pass {what} with a directory",
            path.display()
        ),
        _ => anyhow!(e).context(format!("cannot open {}", path.display())),
    }
}

impl Dir {
    /// Opens an existing directory; a symbolic link as its last component is refused.
    pub fn open(path: &Path) -> Result<Dir> {
        Self::open_raw(path).map_err(|e| open_error(path, e, "--backup-dir"))
    }

    fn open_raw(path: &Path) -> io::Result<Dir> {
        let c = cstr(path.as_os_str())?;
        // SAFETY: `c` is a valid NUL-terminated path; the returned descriptor is owned below.
        let fd = cvt(unsafe {
            libc::open(
                c.as_ptr(),
                libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC,
            )
        })?;
        // SAFETY: `fd` was just returned by open and is owned by nothing else.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(Dir {
            fd,
            path: path.to_path_buf(),
        })
    }

    /// The directory at `path`, made (mode 0700) when it is missing, with its missing parents; an existing
    /// one is used as it is (its mode is not touched). A link in its place is refused.
    pub fn create_or_open(path: &Path) -> Result<Dir> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create the directory {}", parent.display()))?;
        }
        let c = cstr(path.as_os_str())?;
        // SAFETY: `c` is a valid NUL-terminated path.
        match cvt(unsafe { libc::mkdir(c.as_ptr(), 0o700) }) {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => {
                return Err(anyhow!(e))
                    .with_context(|| format!("cannot create the directory {}", path.display()))
            }
        }
        Self::open(path)
    }

    fn raw(&self) -> libc::c_int {
        self.fd.as_raw_fd()
    }

    /// The path of `name` inside, for messages and for SQLite (which opens by path).
    pub fn join(&self, name: impl AsRef<OsStr>) -> PathBuf {
        self.path.join(name.as_ref())
    }

    /// Creates a new file (it must not exist) with `mode`, open for reading and writing (a backup's copy
    /// is read back to be hashed).
    pub fn create_file(&self, name: impl AsRef<OsStr>, mode: u32) -> Result<File> {
        let name = name.as_ref();
        let c = plain(name)?;
        // SAFETY: `c` is a valid NUL-terminated name; the descriptor is owned below.
        let fd = cvt(unsafe {
            libc::openat(
                self.raw(),
                c.as_ptr(),
                libc::O_RDWR | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW | libc::O_CLOEXEC,
                mode as libc::c_uint,
            )
        })
        .with_context(|| format!("cannot create {}", self.join(name).display()))?;
        // SAFETY: `fd` was just returned by openat and is owned by nothing else.
        Ok(File::from(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    /// Opens a regular file inside for reading: a link, FIFO, device or directory is refused (the open
    /// does not block on a FIFO).
    pub fn open_file(&self, name: impl AsRef<OsStr>) -> Result<File> {
        self.open_regular(name, libc::O_RDONLY)
    }

    /// Opens a regular file inside for reading and writing (nothing is written by opening it).
    pub fn open_file_rw(&self, name: impl AsRef<OsStr>) -> Result<File> {
        self.open_regular(name, libc::O_RDWR)
    }

    fn open_regular(&self, name: impl AsRef<OsStr>, access: libc::c_int) -> Result<File> {
        let name = name.as_ref();
        let c = plain(name)?;
        let path = self.join(name);
        // SAFETY: `c` is a valid NUL-terminated name; the descriptor is owned below.
        let fd = cvt(unsafe {
            libc::openat(
                self.raw(),
                c.as_ptr(),
                access | libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC,
            )
        })
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ELOOP) => anyhow!(
                "{} is a symbolic link (ozrepair never follows one); nothing was changed; move it away and run again",
                path.display()
            ),
            _ => anyhow!(e).context(format!("cannot open {}", path.display())),
        })?;
        // SAFETY: `fd` was just returned by openat and is owned by nothing else.
        let f = File::from(unsafe { OwnedFd::from_raw_fd(fd) });
        if !f.metadata()?.file_type().is_file() {
            bail!(
                "{} is not a regular file; nothing was changed; move it away and run again",
                path.display()
            );
        }
        Ok(f)
    }

    /// What `name` is, without following it (None when it does not exist).
    pub fn stat(&self, name: impl AsRef<OsStr>) -> Result<Option<std::fs::Metadata>> {
        let name = name.as_ref();
        plain(name)?;
        match std::fs::symlink_metadata(self.join(name)) {
            Ok(m) => Ok(Some(m)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(anyhow!(e).context(format!("cannot read {}", self.join(name).display()))),
        }
    }

    /// Makes a new subdirectory (it must not exist) and opens it.
    pub fn mkdir(&self, name: impl AsRef<OsStr>, mode: u32) -> Result<Dir> {
        let name = name.as_ref();
        let c = plain(name)?;
        // SAFETY: `c` is a valid NUL-terminated name.
        cvt(unsafe { libc::mkdirat(self.raw(), c.as_ptr(), mode as libc::mode_t) })
            .with_context(|| format!("cannot create {}", self.join(name).display()))?;
        self.subdir(name)
    }

    /// Opens an existing subdirectory, not through a link.
    pub fn subdir(&self, name: impl AsRef<OsStr>) -> Result<Dir> {
        let name = name.as_ref();
        let c = plain(name)?;
        let path = self.join(name);
        // SAFETY: `c` is a valid NUL-terminated name; the descriptor is owned below.
        let fd = cvt(unsafe {
            libc::openat(
                self.raw(),
                c.as_ptr(),
                libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC,
            )
        })
        .map_err(|e| open_error(&path, e, "--backup"))?;
        // SAFETY: `fd` was just returned by openat and is owned by nothing else.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(Dir { fd, path })
    }

    /// Renames `from` (inside this directory) to `to` inside `into` (the same file system).
    pub fn rename(&self, from: impl AsRef<OsStr>, into: &Dir, to: impl AsRef<OsStr>) -> Result<()> {
        let (from, to) = (from.as_ref(), to.as_ref());
        let (cf, ct) = (plain(from)?, plain(to)?);
        // SAFETY: both names are valid NUL-terminated strings; both descriptors are open directories.
        cvt(unsafe { libc::renameat(self.raw(), cf.as_ptr(), into.raw(), ct.as_ptr()) })
            .with_context(|| {
                format!(
                    "cannot move {} to {}",
                    self.join(from).display(),
                    into.join(to).display()
                )
            })?;
        Ok(())
    }

    /// Removes the file `name` (not a directory); a missing one is not an error.
    pub fn unlink(&self, name: impl AsRef<OsStr>) -> Result<()> {
        self.unlink_flags(name.as_ref(), 0)
    }

    /// Removes the empty subdirectory `name`.
    pub fn rmdir(&self, name: impl AsRef<OsStr>) -> Result<()> {
        self.unlink_flags(name.as_ref(), libc::AT_REMOVEDIR)
    }

    fn unlink_flags(&self, name: &OsStr, flags: libc::c_int) -> Result<()> {
        let c = plain(name)?;
        // SAFETY: `c` is a valid NUL-terminated name.
        match cvt(unsafe { libc::unlinkat(self.raw(), c.as_ptr(), flags) }) {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(anyhow!(e))
                .with_context(|| format!("cannot remove {}", self.join(name).display())),
        }
    }

    /// The names inside (not `.` and `..`).
    pub fn names(&self) -> Result<Vec<OsString>> {
        let rd = std::fs::read_dir(format!("/proc/self/fd/{}", self.raw()))
            .or_else(|_| std::fs::read_dir(&self.path))
            .with_context(|| format!("cannot list {}", self.path.display()))?;
        Ok(rd.filter_map(|e| e.ok().map(|e| e.file_name())).collect())
    }

    /// Removes a directory that holds only files (a temporary set, a scratch copy), and the directory;
    /// returns the bytes freed.
    pub fn remove_flat(&self, name: impl AsRef<OsStr>) -> Result<u64> {
        let name = name.as_ref();
        let sub = self.subdir(name)?;
        let mut freed = 0;
        for n in sub.names()? {
            match sub.stat(&n)? {
                Some(m) if m.is_dir() => freed += sub.remove_flat(&n)?,
                Some(m) => {
                    freed += m.len();
                    sub.unlink(&n)?;
                }
                None => {}
            }
        }
        self.rmdir(name)?;
        Ok(freed)
    }

    /// An exclusive `flock` on the directory itself, without waiting: false when another process holds it.
    pub fn try_lock(&self) -> Result<bool> {
        // SAFETY: flock on an open descriptor.
        match cvt(unsafe { libc::flock(self.raw(), libc::LOCK_EX | libc::LOCK_NB) }) {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(false),
            Err(e) => Err(anyhow!(e).context(format!("cannot lock {}", self.path.display()))),
        }
    }

    /// fsync of the directory (its entries are on disk).
    pub fn sync(&self) -> Result<()> {
        // SAFETY: fsync on an open descriptor.
        cvt(unsafe { libc::fsync(self.raw()) })
            .with_context(|| format!("cannot flush directory {} to disk", self.path.display()))?;
        Ok(())
    }

    /// The directory's descriptor as a file (for fstat, fchown).
    pub fn file(&self) -> Result<File> {
        Ok(File::from(self.fd.try_clone()?))
    }

    /// The owner of the directory.
    pub fn uid(&self) -> Result<u32> {
        let f = self.fd.try_clone()?;
        Ok(File::from(f).metadata()?.uid())
    }
}

/// The file's directory, opened without following links, and its name.
pub fn split(path: &Path) -> Result<(Dir, std::ffi::OsString)> {
    let parent = path
        .parent()
        .ok_or_else(|| anyhow!("{} has no directory", path.display()))?;
    let name = path
        .file_name()
        .ok_or_else(|| anyhow!("{} has no file name", path.display()))?
        .to_os_string();
    Ok((Dir::open(parent)?, name))
}
