//! What ozrepair makes inside a directory belongs to that directory's owner. Run as root on a volume
//! that a user owns (a rootless engine's volume, say), a root-owned lock file or backup directory would
//! lock that user out of their own volume: their next `ozrepair fix` could not take the lock and
//! `podman volume rm` could not delete it. So a file or directory ozrepair has just created is given
//! the owner and group of the directory it was created in, when they differ and this process may give
//! it away (only root may); run as an ordinary user, what it makes is that user's, as it must be.

use anyhow::{Context, Result};
use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// Gives `file`, which this process just made at `path` and holds open, the owner and group of the
/// directory that holds `path` (see the module). The change goes through the descriptor, so a link put
/// in its place since it was opened is not followed.
pub fn adopt_open(file: &File, path: &Path) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let made = file
        .metadata()
        .with_context(|| format!("cannot read the owner of {}", path.display()))?;
    let parent = std::fs::metadata(dir)
        .with_context(|| format!("cannot read the owner of {}", dir.display()))?;
    let (uid, gid) = (parent.uid(), parent.gid());
    // Only root makes files it could give away; an ordinary user's files are theirs.
    if made.uid() != 0 || (made.uid(), made.gid()) == (uid, gid) {
        return Ok(());
    }
    std::os::unix::fs::fchown(file, Some(uid), Some(gid)).with_context(|| {
        format!(
            "cannot give {} the owner of {} ({uid}:{gid})",
            path.display(),
            dir.display()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// As root (the suite runs as root): a file made in a directory another user owns becomes theirs; one
    /// made in a root-owned directory stays root's.
    #[test]
    fn a_file_made_in_another_users_directory_becomes_theirs() {
        let t = tempfile::tempdir().unwrap();
        let theirs = t.path().join("theirs");
        std::fs::create_dir(&theirs).unwrap();
        std::os::unix::fs::chown(&theirs, Some(4321), Some(4322)).unwrap();
        let f = theirs.join("lock");
        let file = File::create(&f).unwrap();
        let me = file.metadata().unwrap().uid();
        adopt_open(&file, &f).unwrap();
        let m = std::fs::metadata(&f).unwrap();
        if me == 0 {
            assert_eq!((m.uid(), m.gid()), (4321, 4322));
        } else {
            assert_eq!(m.uid(), me, "an ordinary user's file stays theirs");
        }
        let mine = t.path().join("mine");
        let file = File::create(&mine).unwrap();
        let before = file.metadata().unwrap();
        adopt_open(&file, &mine).unwrap();
        let after = std::fs::metadata(&mine).unwrap();
        assert_eq!((after.uid(), after.gid()), (before.uid(), before.gid()));
    }
}
