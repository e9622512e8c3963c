//! sha256 of files and bytes, in lower-case hex: how every set, store and file ozrepair writes is proven.
//!
//! Whole files (a store's sha256 in every report, a set's files when it is verified) are hashed with
//! ring's assembly: the SHA extensions where the CPU has them, and where it has not (Intel before Ice
//! Lake, and valgrind, which does not emulate them) an AVX path that takes 117 M instructions for the
//! 3.5 MB of 10,000 connectors against 191 M for sha2's portable code. Every sha256 ozrepair makes is
//! this one (sha2 is left to the HMAC of `keys`); the unit test holds it to sha2's digests.

use anyhow::{Context, Result};
use std::fs::File;
use std::io::Read;
use std::path::Path;

/// Read size for hashing: large enough that the system calls do not count, small enough that the buffer
/// stays in the CPU's cache between the read and the hash (and costs few page faults).
const CHUNK: usize = 128 << 10;

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut o = String::with_capacity(2 * bytes.len());
    for b in bytes {
        o.push(char::from(HEX[usize::from(b >> 4)]));
        o.push(char::from(HEX[usize::from(b & 0xf)]));
    }
    o
}

/// sha256 of a file, streamed.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut f = File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    sha256_of(&mut f)
}

/// sha256 of an open file from where it stands to its end, streamed.
pub fn sha256_of(f: &mut File) -> Result<String> {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = match f.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.into()),
        };
        h.update(&buf[..n]);
    }
    Ok(h.finish())
}

/// sha256 of `bytes`, in lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(bytes);
    h.finish()
}

/// A sha256 fed piece by piece (a backup's copy, hashed as it lands), with ring's code as above.
pub struct Sha256(ring::digest::Context);

impl Sha256 {
    pub fn new() -> Sha256 {
        Sha256(ring::digest::Context::new(&ring::digest::SHA256))
    }

    pub fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    /// The digest in lower-case hex.
    pub fn finish(self) -> String {
        hex(self.0.finish().as_ref())
    }
}

impl Default for Sha256 {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Seek, SeekFrom, Write};

    #[test]
    fn a_file_hashes_as_sha2_hashes_its_bytes() {
        // Lengths around the block (64) and the read size, and the empty file.
        for len in [
            0,
            1,
            55,
            56,
            63,
            64,
            65,
            CHUNK - 1,
            CHUNK,
            CHUNK + 1,
            3 * CHUNK + 17,
        ] {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
            let mut f = tempfile::tempfile().unwrap();
            f.write_all(&bytes).unwrap();
            f.seek(SeekFrom::Start(0)).unwrap();
            let sha2 = hex(&<sha2::Sha256 as sha2::Digest>::digest(&bytes));
            assert_eq!(sha256_of(&mut f).unwrap(), sha2, "{len} bytes");
            assert_eq!(sha256_hex(&bytes), sha2, "{len} bytes");
        }
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn hashes_from_where_the_file_stands() {
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(b"xxabc").unwrap();
        f.seek(SeekFrom::Start(2)).unwrap();
        assert_eq!(sha256_of(&mut f).unwrap(), sha256_hex(b"abc"));
    }
}
