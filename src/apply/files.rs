//! Config-file edits inside the stop window: computed from the file as it is now, written to a temporary
//! file beside it (same owner and mode), fsynced, renamed over it, the directory fsynced, and read back.
//! A file with a second hard link is refused (before the stop, and again before the rename): the rename
//! would leave the other name with the old bytes.

use crate::config::{self, ConfigFile};
use crate::plan::{Plan, Store};
use anyhow::{anyhow, bail, Context, Result};
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

/// One file's new bytes, computed from its bytes as they are now.
pub struct FileWrite {
    pub path: PathBuf,
    pub before: Vec<u8>,
    pub after: Vec<u8>,
}

/// The files whose planned values are not stored yet, each with every planned change applied to its
/// current bytes. A value that is neither the planned `from` nor its `to` means the file moved under the
/// plan, and nothing is done.
pub fn compute(plan: &Plan) -> Result<Vec<FileWrite>> {
    let mut out: Vec<FileWrite> = Vec::new();
    for c in &plan.changes {
        let Store::File {
            file,
            at,
            path,
            kind,
        } = &c.store
        else {
            continue;
        };
        let p = PathBuf::from(file);
        let pos = match out.iter().position(|w| w.path == p) {
            Some(i) => i,
            None => {
                let bytes = config::read_for_edit(&p)?;
                out.push(FileWrite {
                    path: p.clone(),
                    before: bytes.clone(),
                    after: bytes,
                });
                out.len() - 1
            }
        };
        let current = ConfigFile {
            path: p.clone(),
            in_container: String::new(),
            format: config::format_of(&p)
                .ok_or_else(|| anyhow!("{} is not a config file ozrepair edits", p.display()))?,
            bytes: out[pos].after.clone(),
        };
        match config::edit(&current, path, *kind, &c.from, &c.to) {
            Ok(after) => out[pos].after = after,
            // Already the planned value (another run wrote it): nothing to do for this change.
            Err(_) if config::edit(&current, path, *kind, &c.to, &c.to).is_ok() => {}
            Err(e) => bail!("{}: {e:#} ({at})", p.display()),
        }
    }
    out.retain(|w| w.after != w.before);
    Ok(out)
}

/// Fails unless this process may replace `path` by rename: its directory must be writable to it (a
/// read-only mount, a directory of another user's).
pub fn can_replace(path: &std::path::Path) -> Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let dir = path.parent().unwrap_or(std::path::Path::new("."));
    let c = std::ffi::CString::new(dir.as_os_str().as_bytes())
        .map_err(|_| anyhow!("{} is not a path", dir.display()))?;
    // SAFETY: `c` is a valid NUL-terminated path.
    if unsafe { libc::access(c.as_ptr(), libc::W_OK | libc::X_OK) } != 0 {
        let e = std::io::Error::last_os_error();
        bail!("{} cannot be replaced here ({e})", path.display());
    }
    Ok(())
}

/// Writes `w.after` in place of the file: a temporary file in the same directory with the file's owner
/// and mode, fsynced, renamed over it, the directory fsynced; then the file is read back. The file must
/// still hold `w.before`.
pub fn write(w: &FileWrite) -> Result<()> {
    let (dir, name) = config::split(&w.path)?;
    let now = config::read_for_edit(&w.path)?;
    if now != w.before {
        bail!(
            "{} changed while ozrepair was working; it was not written",
            w.path.display()
        );
    }
    let meta = dir
        .stat(&name)?
        .ok_or_else(|| anyhow!("{} is gone", w.path.display()))?;
    // Temporary files of an earlier run that was killed before its rename (the window's lock says no
    // other run is writing now) go first.
    let prefix = format!(".{}.ozrepair-", name.to_string_lossy());
    for stale in dir.names()? {
        if stale.to_string_lossy().starts_with(&prefix)
            && dir.stat(&stale)?.is_some_and(|m| m.file_type().is_file())
        {
            let _ = dir.unlink(&stale);
        }
    }
    let tmp = format!("{prefix}{}", std::process::id());
    let written = (|| -> Result<()> {
        let mut f = dir.create_file(&tmp, 0o600)?;
        std::os::unix::fs::fchown(&f, Some(meta.uid()), Some(meta.gid()))
            .with_context(|| format!("cannot give {} its owner", dir.join(&tmp).display()))?;
        f.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(
            meta.mode() & 0o7777,
        ))?;
        f.write_all(&w.after)?;
        f.sync_all()?;
        crate::fault::step("fsync a config file");
        dir.rename(&tmp, &dir, &name)?;
        crate::fault::step("rename a config file");
        dir.sync()?;
        Ok(())
    })();
    if let Err(e) = written {
        let _ = dir.unlink(&tmp);
        return Err(e.context(format!("cannot write {}", w.path.display())));
    }
    let back = config::read_file(&w.path)?;
    if back != w.after {
        bail!("{} does not read back as written", w.path.display());
    }
    Ok(())
}
