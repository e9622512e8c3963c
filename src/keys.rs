//! This host's key for what ozrepair writes where others can write too. A backup set's manifest and a
//! restore journal live in (or beside) a volume the IdP's container can write: a container (running as its
//! own user, and possibly compromised) could copy a set, point its manifest anywhere and make it look
//! newest. So each is signed with an HMAC-SHA256 keyed by a secret only the user who runs ozrepair can
//! read, kept outside every volume, and restore trusts a set's config files (and a journal's steps) only
//! when the signature holds.
//!
//! The key is 32 random bytes in `set-key`, mode 0600, in a directory of mode 0700 owned by that user:
//! `$OZREPAIR_STATE_DIR`, else `/var/lib/ozrepair` for root, else `$XDG_STATE_HOME/ozrepair` (or
//! `~/.local/state/ozrepair`). It is made on first use, never through a link; a key file that another user
//! owns or others may read is refused.

use crate::safefs::Dir;
use anyhow::{anyhow, bail, Context, Result};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::io::{Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

const FILE: &str = "set-key";
const LEN: usize = 32;

/// This host's key (never printed: no `Debug` shows it).
pub struct Key([u8; LEN]);

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key([redacted])")
    }
}

/// Where the key lives for the user running this process.
pub fn dir() -> Result<PathBuf> {
    if let Some(d) = std::env::var_os("OZREPAIR_STATE_DIR").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(d));
    }
    // SAFETY: geteuid cannot fail and has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        return Ok(PathBuf::from("/var/lib/ozrepair"));
    }
    if let Some(d) = std::env::var_os("XDG_STATE_HOME").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(d).join("ozrepair"));
    }
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .ok_or_else(|| anyhow!("$HOME is not set, so there is no place for this user's key"))?;
    Ok(PathBuf::from(home).join(".local/state/ozrepair"))
}

impl Key {
    /// This user's key, made when there is none yet.
    pub fn load_or_create() -> Result<Key> {
        Key::load_or_create_in(&dir()?)
    }

    /// The key in `path` (see the module), made when there is none yet.
    pub fn load_or_create_in(path: &std::path::Path) -> Result<Key> {
        let d = Dir::create_or_open(path)
            .with_context(|| format!("cannot use {} for ozrepair's key", path.display()))?;
        // SAFETY: geteuid cannot fail and has no preconditions.
        let me = unsafe { libc::geteuid() };
        let dm = d.file()?.metadata()?;
        if dm.uid() != me || dm.mode() & 0o022 != 0 {
            bail!(
                "{} is not this user's own directory (owner {}, mode {:o}); ozrepair keeps its key only where no one else can write",
                path.display(),
                dm.uid(),
                dm.mode() & 0o7777
            );
        }
        let file = match d.stat(FILE)? {
            Some(_) => d.open_file(FILE)?,
            None => {
                let mut bytes = [0u8; LEN];
                std::fs::File::open("/dev/urandom")
                    .and_then(|mut r| r.read_exact(&mut bytes))
                    .context("cannot read random bytes for the key")?;
                let mut f = d.create_file(FILE, 0o600)?;
                f.write_all(&bytes)?;
                f.sync_all()?;
                d.sync()?;
                d.open_file(FILE)?
            }
        };
        let m = file.metadata()?;
        if !m.is_file() || m.uid() != me || m.mode() & 0o077 != 0 || m.len() != LEN as u64 {
            bail!(
                "{}/{FILE} is not a key only this user can read (owner {}, mode {:o}, {} bytes); remove it and run again",
                path.display(),
                m.uid(),
                m.mode() & 0o7777,
                m.len()
            );
        }
        let mut key = [0u8; LEN];
        (&file).read_exact(&mut key)?;
        Ok(Key(key))
    }

    /// The HMAC-SHA256 of `bytes`, in hex.
    pub fn mac(&self, bytes: &[u8]) -> String {
        crate::digest::hex(&self.tag(bytes))
    }

    fn tag(&self, bytes: &[u8]) -> Vec<u8> {
        // An HMAC takes a key of any length: `new_from_slice` cannot fail for it.
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(&self.0)
            .unwrap_or_else(|_| unreachable!("HMAC accepts every key length"));
        m.update(bytes);
        m.finalize().into_bytes().to_vec()
    }

    /// Whether `mac` (hex) is the HMAC of `bytes` under this key (compared in constant time).
    pub fn verifies(&self, bytes: &[u8], mac: &str) -> bool {
        let Some(given) = unhex(mac) else {
            return false;
        };
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(&self.0)
            .unwrap_or_else(|_| unreachable!("HMAC accepts every key length"));
        m.update(bytes);
        m.verify_slice(&given).is_ok()
    }
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mac_verifies_only_its_own_bytes_under_its_own_key() {
        let k = Key([7; LEN]);
        let other = Key([8; LEN]);
        let mac = k.mac(b"manifest");
        assert_eq!(mac.len(), 64);
        assert!(k.verifies(b"manifest", &mac));
        assert!(!k.verifies(b"manifesT", &mac));
        assert!(!other.verifies(b"manifest", &mac));
        assert!(!k.verifies(b"manifest", "zz"));
        assert!(!k.verifies(b"manifest", ""));
        assert_eq!(format!("{k:?}"), "Key([redacted])");
    }

    #[test]
    fn the_key_is_made_once_and_refused_when_others_may_read_it() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        let a = Key::load_or_create_in(&state).unwrap();
        let b = Key::load_or_create_in(&state).unwrap();
        assert_eq!(a.0, b.0, "made once");
        let f = state.join(FILE);
        std::fs::set_permissions(&f, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
        assert!(Key::load_or_create_in(&state).is_err());
    }
}
