//! SQLite's own file locks ([`hold_writers`]), taken so that no other process can write the database while
//! its files are copied (a backup of a file another process writes is one transaction generation, not
//! several). In rollback-journal mode that is a SHARED lock (no writer can commit) and the RESERVED lock
//! (no writer can start); in WAL mode also the WAL's WRITE and CHECKPOINT locks in the -shm. The locks are
//! open-file-description locks on the same bytes SQLite's unix VFS locks, so they exclude other processes'
//! SQLite connections exactly as another SQLite connection would, and are released when the process dies.
//! [`holders`] names the processes that hold a lock on a file.

use super::host::{busy_timeout, sidecar};
use anyhow::{anyhow, bail, Context, Result};
use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::Path;
use std::time::{Duration, Instant};

// SQLite's unix VFS lock bytes (os_unix.c): in the database file, PENDING at 1 GiB, RESERVED after it,
// then 510 SHARED bytes; in the -shm, the WAL locks from byte 120 (WRITE, CHECKPOINT, RECOVER, READ…).
const PENDING_BYTE: i64 = 0x4000_0000;
const RESERVED_BYTE: i64 = PENDING_BYTE + 1;
const SHARED_FIRST: i64 = PENDING_BYTE + 2;
const SHARED_SIZE: i64 = 510;
const WAL_WRITE_LOCK: i64 = 120;
/// The first bytes of a journal that SQLite would roll back.
const JOURNAL_MAGIC: [u8; 8] = [0xd9, 0xd5, 0x05, 0xf9, 0x20, 0xa1, 0x63, 0xd7];

/// SQLite's locks on one database, held by this process until dropped.
pub struct Writers {
    db: File,
    /// The -shm's WAL locks (WAL mode).
    _shm: Option<File>,
}

impl Writers {
    /// The database file, opened once for the locks (reads through it see what the lock protects).
    pub fn file(&self) -> &File {
        &self.db
    }
}

/// One open-file-description lock, without waiting: Ok(false) when another process holds a conflicting one.
fn ofd_lock(f: &File, kind: libc::c_int, start: i64, len: i64) -> Result<bool> {
    // SAFETY: an all-zero flock is a valid value to fill in.
    let mut fl: libc::flock = unsafe { std::mem::zeroed() };
    fl.l_type = kind as libc::c_short;
    fl.l_whence = libc::SEEK_SET as libc::c_short;
    fl.l_start = start as libc::off_t;
    fl.l_len = len as libc::off_t;
    fl.l_pid = 0;
    // SAFETY: fcntl on an open descriptor with a valid flock.
    let r = unsafe { libc::fcntl(f.as_raw_fd(), libc::F_OFD_SETLK, &fl) };
    if r == 0 {
        return Ok(true);
    }
    let e = std::io::Error::last_os_error();
    match e.raw_os_error() {
        Some(libc::EAGAIN) | Some(libc::EACCES) => Ok(false),
        _ => Err(anyhow!(e).context("cannot take SQLite's lock")),
    }
}

fn open_nofollow(path: &Path, write: bool) -> std::io::Result<File> {
    let mut o = std::fs::OpenOptions::new();
    o.read(true).write(write);
    std::os::unix::fs::OpenOptionsExt::custom_flags(
        &mut o,
        libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC,
    );
    o.open(path)
}

/// A process's command line as /proc gives it, its words joined by spaces, at most 60 characters and no
/// control character (its `comm` when the command line cannot be read).
fn command_of(pid: &str) -> String {
    let line = std::fs::read(format!("/proc/{pid}/cmdline"))
        .ok()
        .map(|b| {
            String::from_utf8_lossy(&b)
                .split('\0')
                .filter(|w| !w.is_empty())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .filter(|l| !l.is_empty())
        .or_else(|| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .ok()
                .map(|c| c.trim().to_string())
        })
        .unwrap_or_else(|| "?".into());
    let clean: String = line
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if clean.chars().count() > 60 {
        format!("{}…", clean.chars().take(59).collect::<String>())
    } else {
        clean
    }
}

/// Reads `/proc/locks` for the processes that hold a lock on `path`: "pid 123 (sqlite3 /srv/idp.db)".
pub fn holders(path: &Path) -> Vec<String> {
    let Ok(meta) = std::fs::metadata(path) else {
        return Vec::new();
    };
    let dev = meta.dev();
    let (major, minor) = (libc::major(dev), libc::minor(dev));
    let want = format!("{major:02x}:{minor:02x}:{}", meta.ino());
    let Ok(text) = std::fs::read_to_string("/proc/locks") else {
        return Vec::new();
    };
    let mut out: Vec<String> = Vec::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        // "1: POSIX  ADVISORY  WRITE 1234 08:01:5678 1073741824 1073741824"
        let Some(pos) = f
            .iter()
            .position(|w| w.contains(':') && w.matches(':').count() == 2)
        else {
            continue;
        };
        if pos == 0 || !f[pos].eq_ignore_ascii_case(&want) {
            continue;
        }
        let pid = f[pos - 1];
        if pid == "-1" || pid.parse::<u32>().ok() == Some(std::process::id()) {
            continue;
        }
        let who = format!("pid {pid} ({})", command_of(pid));
        if !out.contains(&who) {
            out.push(who);
        }
    }
    out
}

/// The processes that hold a lock on `db` or its -wal or -shm, as one phrase ("pid 1 (…), pid 2 (…)");
/// None when no other process does.
pub fn holders_of(db: &Path) -> Option<String> {
    let mut who: Vec<String> = Vec::new();
    for p in [db.to_path_buf(), sidecar(db, "-wal"), sidecar(db, "-shm")] {
        for h in holders(&p) {
            if !who.contains(&h) {
                who.push(h);
            }
        }
    }
    (!who.is_empty()).then(|| who.join(", "))
}

/// Takes SQLite's locks that stop every other writer of `db` (see the module notes), waiting up to the
/// busy timeout for a transaction in progress to end; then refuses and says who holds the database.
pub fn hold_writers(db: &Path) -> Result<Writers> {
    // The RESERVED lock needs a descriptor open for writing; a read-only file can only be read-locked
    // (nothing can write it through this mount either).
    let (file, writable) = match open_nofollow(db, true) {
        Ok(f) => (f, true),
        Err(_) => (
            open_nofollow(db, false).with_context(|| format!("cannot open {}", db.display()))?,
            false,
        ),
    };
    if !file.metadata()?.file_type().is_file() {
        bail!(
            "{} is not a regular file; nothing was changed",
            db.display()
        );
    }
    let mut header = [0u8; 20];
    let wal = file.read_at(&mut header, 0).is_ok_and(|n| n == 20) && header[18] == 2;
    let timeout = busy_timeout();
    let deadline = Instant::now() + timeout;
    let mut shm: Option<File> = None;
    let mut hot_journal = false;
    loop {
        if take_once(&file, db, wal, writable, &mut shm, &mut hot_journal)? {
            // With a journal a dead writer left (hot), only SHARED is held: no reader may use the
            // uncommitted pages (it gets SQLITE_BUSY until the lock is gone, then rolls it back).
            return Ok(Writers {
                db: file,
                _shm: shm,
            });
        }
        // Let go of what was taken, so that the other side can finish.
        let _ = ofd_lock(&file, libc::F_UNLCK, 0, 0);
        if let Some(s) = shm.take() {
            let _ = ofd_lock(&s, libc::F_UNLCK, 0, 0);
        }
        if Instant::now() >= deadline {
            let who = holders_of(db).unwrap_or_else(|| "another process".to_string());
            bail!(
                "{} is being written by {who}, which held it for {} ms; nothing was changed; stop it (the IdP container, a sqlite3 shell, a backup job) and run again, or wait longer with OZREPAIR_BUSY_TIMEOUT_MS",
                db.display(),
                timeout.as_millis()
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// One attempt at every lock: Ok(false) when one of them is held by another process.
fn take_once(
    file: &File,
    db: &Path,
    wal: bool,
    writable: bool,
    shm: &mut Option<File>,
    hot_journal: &mut bool,
) -> Result<bool> {
    // As SQLite takes SHARED: through PENDING, so that a writer waiting for EXCLUSIVE goes first.
    if !ofd_lock(file, libc::F_RDLCK, PENDING_BYTE, 1)? {
        return Ok(false);
    }
    let shared = ofd_lock(file, libc::F_RDLCK, SHARED_FIRST, SHARED_SIZE)?;
    ofd_lock(file, libc::F_UNLCK, PENDING_BYTE, 1)?;
    if !shared {
        return Ok(false);
    }
    if wal {
        // No -shm: no process has the database open.
        return match open_nofollow(&sidecar(db, "-shm"), true) {
            Ok(f) => {
                let got = f.metadata()?.file_type().is_file()
                    && ofd_lock(&f, libc::F_WRLCK, WAL_WRITE_LOCK, 2)?;
                *shm = Some(f);
                Ok(got)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(true),
            Err(_) => Ok(true),
        };
    }
    if !writable {
        return Ok(true);
    }
    if !ofd_lock(file, libc::F_WRLCK, RESERVED_BYTE, 1)? {
        return Ok(false);
    }
    // Nobody else holds RESERVED: a journal with a live header is hot (its writer died).
    let mut magic = [0u8; 8];
    *hot_journal = open_nofollow(&sidecar(db, "-journal"), false)
        .and_then(|j| j.read_exact_at(&mut magic, 0))
        .is_ok()
        && magic == JOURNAL_MAGIC;
    if *hot_journal {
        ofd_lock(file, libc::F_UNLCK, RESERVED_BYTE, 1)?;
    }
    Ok(true)
}
