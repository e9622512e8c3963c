//! One durable, hashed copy of a file: what a backup proves of every byte it keeps.
//!
//! The bytes are read once, in large chunks, by position (the descriptor may be shared with SQLite's
//! locks). The caller's thread reads a chunk and writes it; a second thread hashes the same chunk (sha256
//! is the one part that costs CPU, so the two cores share the work). Memory stays flat: `DEPTH + 1`
//! chunks at most, reused.
//!
//! The hash is of the very buffers that were written, so the manifest's sha256 is the copy's, and the
//! copy is fsynced before its hash is returned.

use crate::digest::hex;
use crate::fault;
use anyhow::{anyhow, Context, Result};
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::mpsc::{channel, sync_channel};
use std::sync::Arc;

/// Bytes read (and written) at a time.
const CHUNK: usize = 4 << 20;
/// Chunks in flight between the reader and the hasher: the copy's memory is `DEPTH * CHUNK`.
const DEPTH: usize = 4;

/// Copies all of `src` (from offset 0) into `dst`, hashing what it writes, and fsyncs `dst`. Returns the
/// bytes copied and their sha256 (lower-case hex). `what` and `to` name the two for errors.
pub fn copy_hashed(src: &File, dst: &mut File, what: &str, to: &Path) -> Result<(u64, String)> {
    let chunk = fault::chunk(CHUNK);
    let len = src.metadata().map(|m| m.len()).unwrap_or(0);
    let bar = super::progress(len, &format!("copying {what}"));
    let total = std::thread::scope(|scope| -> Result<(u64, String)> {
        // Filled chunks go to the hasher; the hasher gives each back when it is done with it.
        let (to_hash, hash_rx) = sync_channel::<(Arc<Vec<u8>>, usize)>(DEPTH);
        let (give_back, free) = channel::<Arc<Vec<u8>>>();
        let hasher = scope.spawn(move || {
            let mut h = Sha256::new();
            for (buf, n) in hash_rx {
                h.update(&buf[..n]);
                // The reader may have gone (an error): the buffer is then simply dropped.
                let _ = give_back.send(buf);
            }
            hex(&h.finalize())
        });
        let copied = (|| -> Result<u64> {
            let mut made = 0;
            let mut total = 0u64;
            loop {
                // A chunk the hasher is done with, or a new one while fewer than DEPTH + 1 exist (DEPTH in
                // the channel and one being filled).
                let reused = match free.try_recv() {
                    Ok(b) => Some(b),
                    Err(_) if made > DEPTH => Some(
                        free.recv()
                            .map_err(|_| anyhow!("the hash of {what} stopped"))?,
                    ),
                    Err(_) => None,
                };
                let mut buf = match reused.map(Arc::try_unwrap) {
                    Some(Ok(b)) => b,
                    // Not shared any more once given back: this thread dropped its handle after writing.
                    Some(Err(shared)) => shared.as_ref().clone(),
                    None => {
                        made += 1;
                        vec![0u8; chunk]
                    }
                };
                let n = read_full(src, &mut buf, total)
                    .with_context(|| format!("cannot read {what}"))?;
                if n == 0 {
                    return Ok(total);
                }
                let buf = Arc::new(buf);
                to_hash
                    .send((Arc::clone(&buf), n))
                    .map_err(|_| anyhow!("the hash of {what} stopped"))?;
                dst.write_all(&buf[..n])
                    .with_context(|| format!("cannot write {}", to.display()))?;
                drop(buf);
                if let Some(b) = &bar {
                    b.inc(n as u64);
                }
                total += n as u64;
                fault::step("copy a chunk");
            }
        })();
        drop(to_hash);
        let sha256 = hasher
            .join()
            .map_err(|_| anyhow!("the hash of {what} stopped"))?;
        Ok((copied?, sha256))
    })?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    dst.sync_all()
        .with_context(|| format!("cannot flush {} to disk", to.display()))?;
    fault::step("fsync a copy");
    Ok(total)
}

/// Reads into `buf` from `offset` until it is full or the file ends; the bytes read.
fn read_full(src: &File, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match src.read_at(&mut buf[n..], offset + n as u64) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn roundtrip(len: usize) {
        let dir = tempfile::tempdir().unwrap();
        let bytes: Vec<u8> = (0..len).map(|i| (i * 7 + i / 4099) as u8).collect();
        let src_path = dir.path().join("src");
        std::fs::write(&src_path, &bytes).unwrap();
        let src = File::open(&src_path).unwrap();
        let to = dir.path().join("dst");
        let mut dst = File::create(&to).unwrap();
        let (n, sha) = copy_hashed(&src, &mut dst, "src", &to).unwrap();
        assert_eq!(n, len as u64);
        assert_eq!(sha, crate::digest::sha256_hex(&bytes));
        let mut back = Vec::new();
        File::open(&to).unwrap().read_to_end(&mut back).unwrap();
        assert!(back == bytes, "the copy of {len} bytes differs");
    }

    #[test]
    fn every_length_around_the_chunks_is_copied_and_hashed_whole() {
        for len in [
            0,
            1,
            CHUNK - 1,
            CHUNK,
            CHUNK + 1,
            DEPTH * CHUNK,
            (DEPTH + 2) * CHUNK + 17,
        ] {
            roundtrip(len);
        }
    }

    #[test]
    fn a_failed_write_is_an_error_and_the_hasher_ends() {
        let dir = tempfile::tempdir().unwrap();
        let src_path = dir.path().join("src");
        std::fs::write(&src_path, vec![1u8; 3 * CHUNK]).unwrap();
        let src = File::open(&src_path).unwrap();
        // Opened read-only: every write fails.
        let to = dir.path().join("dst");
        std::fs::write(&to, b"").unwrap();
        let mut dst = File::open(&to).unwrap();
        let e = copy_hashed(&src, &mut dst, "src", &to).unwrap_err();
        assert!(format!("{e:#}").contains("cannot write"), "{e:#}");
    }
}
