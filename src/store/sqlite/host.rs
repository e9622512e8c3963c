//! Reaching the database file on the host: refuse what is not a plain file inside its directory, and read
//! without writing (a read-only open, or a private copy when a journal or WAL file must be replayed).

use anyhow::{bail, Context, Result};
use rusqlite::{Connection, OpenFlags};
use std::fs::{self, File};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The files SQLite may keep beside a database.
pub const SIDECARS: [&str; 3] = ["-journal", "-wal", "-shm"];

pub fn sidecar(db: &Path, suffix: &str) -> PathBuf {
    let mut s = db.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// The sidecar files that exist beside `db`.
pub fn sidecars(db: &Path) -> Vec<PathBuf> {
    SIDECARS
        .iter()
        .map(|s| sidecar(db, s))
        .filter(|p| p.symlink_metadata().is_ok())
        .collect()
}

/// Refuses, before anything is stopped or backed up, a database this process could not edit: the file,
/// its sidecars, and its directory (where SQLite makes its journal) must be writable now.
pub fn writable(db: &Path) -> Result<()> {
    let dir = db
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut paths = vec![db.to_path_buf()];
    paths.extend(sidecars(db));
    paths.push(dir.to_path_buf());
    for p in paths {
        let Err(e) = crate::safefs::may_write(&p) else {
            continue;
        };
        let why = if e.kind() == std::io::ErrorKind::ReadOnlyFilesystem {
            format!(
                "{} is on a read-only file system, so ozrepair cannot edit it; nothing was changed; remount it read-write, or copy the database to a writable place and pass --db",
                db.display()
            )
        } else {
            let what = if p == dir { "its directory" } else { "it" };
            format!(
                "{} cannot be edited: {what}, {}, is not writable for this user ({}); nothing was changed; run ozrepair as the owner of {} or as root, or make it writable",
                db.display(),
                p.display(),
                crate::verdict::io_words(&e),
                p.display()
            )
        };
        return Err(crate::verdict::Refused(why).into());
    }
    Ok(())
}

/// Checks that `db` is a plain, non-empty file reached without symlinks and not hard-linked elsewhere.
pub fn check_file(db: &Path) -> Result<fs::Metadata> {
    let meta = fs::symlink_metadata(db).map_err(|e| {
        anyhow::anyhow!(
            "cannot read {}: {}; nothing was changed; check the path (or give the database with --db)",
            db.display(),
            crate::verdict::io_words(&e)
        )
    })?;
    let ft = meta.file_type();
    let what = if ft.is_symlink() {
        "a symbolic link (ozrepair never follows links out of a volume)"
    } else if ft.is_dir() {
        "a directory"
    } else if ft.is_fifo() || ft.is_socket() || ft.is_block_device() || ft.is_char_device() {
        "not a regular file"
    } else if meta.len() == 0 {
        "empty"
    } else if meta.nlink() > 1 {
        "hard-linked elsewhere too (ozrepair does not edit a file that other paths share)"
    } else {
        ""
    };
    if !what.is_empty() {
        bail!("{} is {what}; nothing was changed; check the path, or pass --db with the real database file", db.display());
    }
    for p in sidecars(db) {
        let m = fs::symlink_metadata(&p)?;
        if !m.file_type().is_file() {
            bail!(
                "{} is not a regular file; nothing was changed; move it away and run again",
                p.display()
            );
        }
    }
    Ok(meta)
}

/// How long to wait for another process's lock on the database before giving up: 10 s, or
/// `OZREPAIR_BUSY_TIMEOUT_MS`.
pub fn busy_timeout() -> Duration {
    std::env::var("OZREPAIR_BUSY_TIMEOUT_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map(|ms: u64| Duration::from_millis(ms.min(3_600_000)))
        .unwrap_or(Duration::from_secs(10))
}

/// Opens a database read-only: SQLite cannot write a byte through this handle.
pub fn open_read_only(path: &Path) -> Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .with_context(|| format!("cannot open {} as SQLite", path.display()))?;
    conn.busy_timeout(busy_timeout())?;
    Ok(conn)
}

/// The database header says WAL mode (file format versions 2 at bytes 18 and 19).
pub fn is_wal_mode(db: &Path) -> bool {
    use std::os::unix::fs::FileExt;
    let mut h = [0u8; 20];
    File::open(db)
        .and_then(|f| f.read_exact_at(&mut h, 0))
        .is_ok()
        && (h[18] == 2 || h[19] == 2)
}

/// Opens a file that nothing may change through this handle, read-only and immutable: SQLite takes no
/// locks and makes no -wal, -shm or -journal beside it.
pub fn open_immutable(path: &Path) -> Result<Connection> {
    use std::os::unix::ffi::OsStrExt;
    let escaped: String = path
        .as_os_str()
        .as_bytes()
        .iter()
        .copied()
        .map(|b| match b {
            b'?' | b'#' | b'%' | 0x80.. => format!("%{b:02X}"),
            _ => (b as char).to_string(),
        })
        .collect();
    let conn = Connection::open_with_flags(
        format!("file:{escaped}?immutable=1"),
        OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .with_context(|| format!("cannot open {} as SQLite", path.display()))?;
    Ok(conn)
}

/// A read view of the database that cannot change it.
pub struct Snapshot {
    pub conn: Connection,
    /// Set when the view is a private copy (its directory is removed on drop).
    _copy: Option<tempfile::TempDir>,
}

/// Opens `db` for reading without writing a byte of it: read-only in place when no journal or WAL file is
/// beside it; otherwise on a private copy of the whole set, where SQLite may replay or roll back freely.
pub fn read(db: &Path) -> Result<Snapshot> {
    check_file(db)?;
    // A journal can go between its listing and its copy (the IdP's transaction ended, as it does many
    // times a second in a tight restart loop): then the sidecars are listed again.
    for _ in 0..20 {
        if let Some(s) = read_once(db)? {
            return Ok(s);
        }
    }
    bail!(
        "{}'s journal kept coming and going while ozrepair read it (the IdP is writing); nothing was changed; stop the IdP, or run again",
        db.display()
    )
}

/// One read of `db` and its sidecars; None when a sidecar went before it was copied.
fn read_once(db: &Path) -> Result<Option<Snapshot>> {
    let extra = sidecars(db);
    if extra.is_empty() {
        // A WAL-mode database opened read-only would get a -wal and a -shm made beside it. Without them
        // there is nothing to replay: the file alone is the database, read immutable (no file is made).
        let conn = if is_wal_mode(db) {
            open_immutable(db)?
        } else {
            open_read_only(db)?
        };
        return Ok(Some(Snapshot { conn, _copy: None }));
    }
    let dir = tempfile::Builder::new()
        .prefix("ozrepair-read-")
        .tempdir()
        .context("cannot create a temporary directory")?;
    let name = db
        .file_name()
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("idp.db"));
    let copy = dir.path().join(&name);
    fs::copy(db, &copy).with_context(|| format!("cannot copy {} to read it", db.display()))?;
    for p in &extra {
        let suffix = SIDECARS
            .iter()
            .find(|s| p.as_os_str().to_string_lossy().ends_with(*s))
            .copied()
            .unwrap_or("");
        match fs::copy(p, sidecar(&copy, suffix)) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("cannot copy {}", p.display())),
        }
    }
    let conn = Connection::open(&copy)
        .with_context(|| format!("cannot open a copy of {}", db.display()))?;
    conn.busy_timeout(busy_timeout())?;
    Ok(Some(Snapshot {
        conn,
        _copy: Some(dir),
    }))
}
