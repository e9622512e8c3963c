//! One durable, hashed copy of a file: what a backup proves of every byte it keeps.
//!
//! Three threads share the work on 2 cores (measured against `cp` + fsync of the copy, see
//! docs/BENCHMARKS.md, benchmark 2):
//! - the caller's thread copies, 1 MiB at a time by position (the source's descriptor may be shared with
//!   SQLite's locks): inside the kernel with `copy_file_range`, as `cp` does, or through one buffer by
//!   `pread`/`pwrite` where the kernel cannot (another file system, a file that reports no length);
//! - a second thread reads back each range just written to the copy (from the page cache, 256 KiB at a
//!   time, so the buffer stays in cache while it is hashed) and hashes it: sha256 is the one part that
//!   costs CPU, so it gets a core of its own, and what it hashes is the copy's bytes, not the source's;
//! - a third asks the kernel to start writing the copy to disk every 8 MiB (`sync_file_range`), so that
//!   the final fsync waits for the last few MiB instead of all of them. It only starts writeback; it is off
//!   the copy's path because the call can block while the disk is busy (called inline, per chunk, it made
//!   a 512 MiB backup 2.7 s against 1.7 s).
//!
//! Against the one pass of reading into a 4 MiB buffer, hashing it and writing it (the version before),
//! this spends a third of the CPU in the kernel (0.24-0.58 s of system time for 512 MiB against 1.0-1.6
//! s). 512 MiB, medians of alternating runs on 2 cores: under a load average of 11, 1.25-1.65 s against
//! 3.3 s before and 0.75-0.88 s for `cp` + fsync (1.67-1.87x); under a load average of 6, 0.78-0.80 s
//! against 0.59-0.66 s for `cp` + fsync (1.21-1.31x; before: 3.7x). Peak RSS 12 MiB. What stays above
//! `cp` is the hash itself: 0.31-0.39 s of user time for 512 MiB (sha256 with the CPU's SHA extensions),
//! which `cp` does not pay; under a load that leaves less than a core free it adds to the wall clock
//! instead of hiding on the second core.
//!
//! The copy is fsynced before its hash is returned. Memory stays flat: two buffers of 1 MiB and 256 KiB,
//! whatever the size.

use crate::digest::Sha256;
use crate::fault;
use anyhow::{anyhow, Context, Result};
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::os::unix::io::AsRawFd;
use std::path::Path;
use std::sync::mpsc::{channel, sync_channel};

/// Bytes copied at a time (4 MiB measured the same within noise: 1.58 s against 1.65 s, medians of 9
/// alternating runs under a load average of 11; 1 MiB lets the hash follow the copy closer).
const CHUNK: usize = 1 << 20;
/// Copied ranges the hasher may lag behind: the copy runs at most this many chunks ahead (in the page
/// cache, not in memory of ours).
const LAG: usize = 64;
/// The hasher's read size.
const HASH_BUF: usize = 256 << 10;
/// Writeback of the copy is started every this many bytes.
const FLUSH_EVERY: u64 = 8 << 20;

/// How the bytes are moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// `copy_file_range`: in the kernel, no copy through user space.
    Kernel,
    /// `pread` into a buffer, `pwrite` out: for what `copy_file_range` refuses.
    Buffer,
}

/// Copies all of `src` (from offset 0) into `dst`, hashing what the copy holds, and fsyncs `dst`. `dst`
/// must be new and open for reading and writing (its bytes are read back to be hashed). Returns the bytes
/// copied and their sha256 (lower-case hex). `what` and `to` name the two for errors.
pub fn copy_hashed(src: &File, dst: &mut File, what: &str, to: &Path) -> Result<(u64, String)> {
    copy_with(src, dst, what, to, Mode::Kernel)
}

fn copy_with(
    src: &File,
    dst: &mut File,
    what: &str,
    to: &Path,
    mode: Mode,
) -> Result<(u64, String)> {
    let chunk = fault::chunk(CHUNK);
    let len = src.metadata().map(|m| m.len()).unwrap_or(0);
    let mut bar = (len >= super::SHOWN_FROM)
        .then(|| crate::progress::Bytes::new(&format!("copying {what}"), len));
    let dst: &File = dst;
    let (copied, sha256) = std::thread::scope(|scope| -> Result<(u64, String)> {
        // Ranges written to the copy go to the hasher, which reads them back.
        let (to_hash, hash_rx) = sync_channel::<(u64, usize)>(LAG);
        let hasher = scope.spawn(move || -> Result<String> {
            let mut h = Sha256::new();
            let mut buf = vec![0u8; HASH_BUF];
            for (offset, n) in hash_rx {
                let mut done = 0;
                while done < n {
                    let want = (n - done).min(buf.len());
                    let got = read_full(dst, &mut buf[..want], offset + done as u64)
                        .with_context(|| format!("cannot read back {}", to.display()))?;
                    if got < want {
                        return Err(anyhow!(
                            "{} is shorter than what was written to it",
                            to.display()
                        ));
                    }
                    h.update(&buf[..got]);
                    done += got;
                }
            }
            Ok(h.finish())
        });
        // Ranges to start writing to disk. A hint: the fsync below is what proves the copy durable (and
        // reports any error of this writeback), so the call's own result is not needed.
        let (to_flush, flush_rx) = channel::<(u64, u64)>();
        let fd = dst.as_raw_fd();
        scope.spawn(move || {
            for (offset, n) in flush_rx {
                // SAFETY: `fd` is `dst`'s, which outlives this scope; the call only starts writeback.
                unsafe {
                    libc::sync_file_range(
                        fd,
                        offset as libc::off64_t,
                        n as libc::off64_t,
                        libc::SYNC_FILE_RANGE_WRITE,
                    )
                };
            }
        });
        let copied = (|| -> Result<u64> {
            let mut mode = mode;
            let mut buf = Vec::new();
            let mut total = 0u64;
            let mut flushed = 0u64;
            loop {
                let n = match mode {
                    Mode::Kernel => match kernel_copy(src, dst, total, chunk) {
                        Ok(0) | Err(Refused) => {
                            // Nothing more by copy_file_range (the end, or a file that reports no
                            // length): the buffer reads on from here, and ends where read ends.
                            mode = Mode::Buffer;
                            continue;
                        }
                        Ok(n) => n,
                        Err(Failed(e)) => {
                            return Err(e)
                                .with_context(|| format!("cannot copy {what} to {}", to.display()))
                        }
                    },
                    Mode::Buffer => {
                        if buf.is_empty() {
                            buf = vec![0u8; chunk];
                        }
                        let n = read_full(src, &mut buf, total)
                            .with_context(|| format!("cannot read {what}"))?;
                        dst.write_all_at(&buf[..n], total)
                            .with_context(|| format!("cannot write {}", to.display()))?;
                        n
                    }
                };
                if n == 0 {
                    return Ok(total);
                }
                to_hash
                    .send((total, n))
                    .map_err(|_| anyhow!("the hash of {what} stopped"))?;
                total += n as u64;
                if total - flushed >= FLUSH_EVERY {
                    let _ = to_flush.send((flushed, total - flushed));
                    flushed = total;
                }
                if let Some(b) = &mut bar {
                    b.at(total);
                }
                fault::step("copy a chunk");
            }
        })();
        drop(to_hash);
        drop(to_flush);
        // The fsync waits for the disk while the hasher finishes the last ranges.
        let synced = copied.is_ok().then(|| {
            crate::progress::during(format!("flushing {} to disk", to.display()), || {
                dst.sync_all()
            })
        });
        let sha256 = hasher
            .join()
            .map_err(|_| anyhow!("the hash of {what} stopped"))?;
        // The hasher's error first: the copy stops when the hasher does.
        let sha256 = sha256?;
        let copied = copied?;
        if let Some(Err(e)) = synced {
            return Err(e).with_context(|| format!("cannot flush {} to disk", to.display()));
        }
        Ok((copied, sha256))
    })?;
    if let Some(b) = bar {
        b.done();
    }
    fault::step("fsync a copy");
    Ok((copied, sha256))
}

/// Why `copy_file_range` moved nothing.
enum KernelCopy {
    /// It cannot copy these two files (another file system, a kernel or file system without it, a
    /// special file): the buffer does it.
    Refused,
    /// A real error (no space, I/O).
    Failed(std::io::Error),
}
use KernelCopy::{Failed, Refused};

/// Up to `n` bytes from `offset` of `src` to the same offset of `dst`, inside the kernel; the bytes
/// copied (0 at the end of `src`, or where `src` reports no more).
fn kernel_copy(src: &File, dst: &File, offset: u64, n: usize) -> Result<usize, KernelCopy> {
    loop {
        let mut off_in = offset as libc::loff_t;
        let mut off_out = offset as libc::loff_t;
        // SAFETY: both descriptors are open for the call; the offsets are ours, so neither file's
        // position moves (the source's descriptor may be shared).
        let r = unsafe {
            libc::copy_file_range(
                src.as_raw_fd(),
                &mut off_in,
                dst.as_raw_fd(),
                &mut off_out,
                n,
                0,
            )
        };
        if r >= 0 {
            return Ok(r as usize);
        }
        let e = std::io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EINTR) => {}
            Some(libc::EXDEV | libc::EINVAL | libc::ENOSYS | libc::EOPNOTSUPP | libc::EBADF) => {
                return Err(Refused)
            }
            _ => return Err(Failed(e)),
        }
    }
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
    use std::os::unix::fs::OpenOptionsExt;

    fn create(path: &Path) -> File {
        std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .unwrap()
    }

    fn roundtrip(len: usize, mode: Mode) {
        let dir = tempfile::tempdir().unwrap();
        let bytes: Vec<u8> = (0..len).map(|i| (i * 7 + i / 4099) as u8).collect();
        let src_path = dir.path().join("src");
        std::fs::write(&src_path, &bytes).unwrap();
        let src = File::open(&src_path).unwrap();
        let to = dir.path().join("dst");
        let mut dst = create(&to);
        let (n, sha) = copy_with(&src, &mut dst, "src", &to, mode).unwrap();
        assert_eq!(n, len as u64);
        assert_eq!(
            sha,
            crate::digest::sha256_hex(&bytes),
            "{len} bytes, {mode:?}"
        );
        let mut back = Vec::new();
        File::open(&to).unwrap().read_to_end(&mut back).unwrap();
        assert!(back == bytes, "the copy of {len} bytes differs ({mode:?})");
    }

    #[test]
    fn every_length_around_the_chunks_is_copied_and_hashed_whole() {
        for mode in [Mode::Kernel, Mode::Buffer] {
            for len in [
                0,
                1,
                HASH_BUF - 1,
                HASH_BUF + 1,
                CHUNK - 1,
                CHUNK,
                CHUNK + 1,
                FLUSH_EVERY as usize + 17,
                (LAG + 2) * CHUNK + 17,
            ] {
                roundtrip(len, mode);
            }
        }
    }

    #[test]
    fn a_file_that_reports_no_length_is_copied_whole() {
        // /proc files report a length of 0, and copy_file_range copies nothing of them: the buffer reads
        // on to the real end.
        let src = File::open("/proc/self/status").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let to = dir.path().join("dst");
        let mut dst = create(&to);
        let (n, sha) = copy_hashed(&src, &mut dst, "status", &to).unwrap();
        let back = std::fs::read(&to).unwrap();
        assert!(n > 0 && n == back.len() as u64, "{n} bytes copied");
        assert_eq!(sha, crate::digest::sha256_hex(&back));
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

    #[test]
    fn a_copy_that_cannot_be_read_back_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let src_path = dir.path().join("src");
        std::fs::write(&src_path, vec![1u8; CHUNK + 5]).unwrap();
        let src = File::open(&src_path).unwrap();
        // Write-only: the hash cannot read what was written.
        let to = dir.path().join("dst");
        let mut dst = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&to)
            .unwrap();
        let e = copy_hashed(&src, &mut dst, "src", &to).unwrap_err();
        assert!(format!("{e:#}").contains("cannot read back"), "{e:#}");
    }
}
