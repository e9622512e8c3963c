//! Hostile or broken volumes, one table: the database (or something on its path, or beside it) is a
//! symlink, a directory, a FIFO, a hard link, empty, not SQLite, truncated, damaged, locked by another
//! process, on a read-only or full file system, or a connector's config is not JSON, not an object,
//! enormous, or holds a non-string issuer. Each is refused with one line on stderr that says what is wrong
//! and what to do next, exit 1, and not one byte changed anywhere; never a panic, never a secret printed.
//! A hot -journal or a -wal beside the database is not an error: `fix` goes through, its backup holds
//! those files byte for byte, and the result holds exactly the committed data.
//!
//! Works on files with `ozrepair --db PATH` (no Docker). The mount cases need root (bind mounts, tmpfs);
//! they unmount on drop, also when the case fails.

mod common;
use common::*;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How a case ended when it passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Exit 1, one line, nothing changed.
    Refused,
    /// Not an error: done correctly.
    Handled,
}
use Outcome::*;

type Case = (&'static str, fn() -> Outcome);

const CASES: &[Case] = &[
    ("database is a symlink out of the volume", symlink_db),
    (
        "a directory on the --db path is a symlink",
        symlinked_parent,
    ),
    ("database is a directory", db_is_directory),
    ("database is a FIFO", db_is_fifo),
    ("database is hard-linked", db_hard_linked),
    ("database is empty", db_empty),
    ("database is not SQLite", db_not_sqlite),
    ("database is truncated", db_truncated),
    ("database has a corrupt page", db_corrupt_page),
    ("database has a corrupt page header", db_corrupt_page_header),
    ("database is locked by another process", db_locked),
    ("the -journal beside it is a symlink", journal_symlink),
    ("connector config is not JSON", config_not_json),
    (
        "connector config is JSON but not an object",
        config_not_object,
    ),
    ("connector config is enormous", config_enormous),
    ("connector issuer is a number", issuer_number),
    ("a hot -journal beside the database", hot_journal),
    (
        "a -wal with committed data beside the database",
        wal_pending,
    ),
    ("read-only volume", read_only_volume),
    (
        "read-only volume, --backup-dir writable",
        read_only_volume_backup_dir,
    ),
    (
        "database file read-only, its directory writable",
        read_only_file,
    ),
    ("disk full during the backup", disk_full),
];

#[test]
fn hostile_inputs_are_refused_cleanly_or_handled() {
    let (mut refused, mut handled, mut failed) = (0, 0, Vec::new());
    for (name, case) in CASES {
        eprintln!("--- {name}");
        match std::panic::catch_unwind(case) {
            Ok(Refused) => refused += 1,
            Ok(Handled) => handled += 1,
            Err(e) => {
                let why = e
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                failed.push(format!("{name}: {why}"));
            }
        }
    }
    println!(
        "hostile inputs: {} cases, {refused} refused cleanly, {handled} handled",
        CASES.len()
    );
    assert!(
        failed.is_empty(),
        "{} of {} cases failed:\n{}",
        failed.len(),
        CASES.len(),
        failed.join("\n")
    );
    assert_eq!(refused + handled, CASES.len());
}

// ---------------------------------------------------------------------------------------------------
// The harness.

/// A case's world: `root/vol` holds the database (the "volume"), `root/outside` is somewhere else.
struct World {
    root: tempfile::TempDir,
    vol: PathBuf,
    db: PathBuf,
    outside: PathBuf,
}

impl World {
    /// A volume holding a locked-out database: the local connector and JumpCloud without the slash.
    fn new() -> World {
        World::with_rows(&[local_row(), jumpcloud_row(JUMPCLOUD)])
    }

    fn with_rows(rows: &[Row]) -> World {
        let w = World::empty();
        seed_db(&w.db, 11, rows, (0, 0), 0o644);
        w
    }

    /// The directories, without a database.
    fn empty() -> World {
        let root = tempfile::tempdir().expect("tempdir");
        let vol = root.path().join("vol");
        let outside = root.path().join("outside");
        std::fs::create_dir(&vol).expect("mkdir vol");
        std::fs::create_dir(&outside).expect("mkdir outside");
        World {
            db: vol.join("idp.db"),
            root,
            vol,
            outside,
        }
    }

    fn snapshot(&self) -> Snapshot {
        snapshot(self.root.path())
    }
}

/// A connector row with these exact config bytes.
fn jc_with_config(config: String) -> Row {
    Row {
        config: Some(config),
        ..jumpcloud_row(JUMPCLOUD)
    }
}

fn sha_of(p: &Path) -> String {
    use sha2::{Digest, Sha256};
    hex(&Sha256::digest(std::fs::read(p).expect("read file")))
}

/// Runs the real binary without a terminal and without Docker; kills it (and fails) after `limit`.
fn ozrepair(args: &[&str], env: &[(&str, &str)], limit: Duration) -> Run {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ozrepair"));
    c.args(args)
        .env_remove("DOCKER_HOST")
        .env_remove("OZREPAIR_FAULT")
        .env("OZREPAIR_BUSY_TIMEOUT_MS", "2000")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        c.env(k, v);
    }
    let mut child = c.spawn().expect("start ozrepair");
    let reader = |r: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut s = Vec::new();
            if let Some(mut r) = r {
                let _ = r.read_to_end(&mut s);
            }
            String::from_utf8_lossy(&s).into_owned()
        })
    };
    let out = reader(child.stdout.take().map(|r| Box::new(r) as _));
    let err = reader(child.stderr.take().map(|r| Box::new(r) as _));
    let end = Instant::now() + limit;
    let status = loop {
        if let Some(st) = child.try_wait().expect("wait") {
            break st;
        }
        if Instant::now() > end {
            let _ = child.kill();
            let _ = child.wait();
            panic!("ozrepair {args:?} did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Run {
        code: status.code().unwrap_or(-1),
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    }
}

const LIMIT: Duration = Duration::from_secs(30);

fn fix_args<'a>(db: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut a = vec![
        "--db",
        db,
        "fix",
        "--connector",
        JC_ID,
        "--issuer",
        JUMPCLOUD_SLASH,
        "--yes",
    ];
    a.extend_from_slice(extra);
    a
}

fn fix(db: &Path, extra: &[&str]) -> Run {
    ozrepair(&fix_args(&db.to_string_lossy(), extra), &[], LIMIT)
}

fn inspect(db: &Path) -> Run {
    ozrepair(&["--db", &db.to_string_lossy(), "inspect"], &[], LIMIT)
}

/// The progress lines `fix` prints on stderr once it has started a backup.
const PROGRESS: [&str; 3] = [
    "ozrepair: backing up ",
    "ozrepair: backup verified: ",
    "ozrepair: writing ",
];

/// Never a panic, never the client secret, whatever the outcome.
fn assert_sane(run: &Run) {
    assert!(!run.all().contains("panicked"), "a panic: {run:?}");
    assert!(!run.all().contains("RUST_BACKTRACE"), "a panic: {run:?}");
    assert!(
        !run.all().contains(SECRET),
        "the client secret was printed: {run:?}"
    );
}

/// Exit 1 and exactly one error line on stderr (after the progress lines when `progress`), starting
/// `ozrepair: ` and containing each of `says`. Returns the error line.
fn assert_refused(run: &Run, progress: bool, says: &[&str]) -> String {
    assert_sane(run);
    assert_eq!(run.code, 1, "exit 1 expected: {run:?}");
    let lines: Vec<&str> = run.stderr.lines().collect();
    let errors: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| !(progress && PROGRESS.iter().any(|p| l.starts_with(p))))
        .collect();
    assert_eq!(
        errors.len(),
        1,
        "exactly one error line on stderr expected: {run:?}"
    );
    assert_eq!(
        lines.last(),
        errors.first(),
        "the error is the last line: {run:?}"
    );
    let line = errors[0];
    assert!(line.starts_with("ozrepair: "), "{run:?}");
    for s in says {
        assert!(
            line.to_lowercase().contains(&s.to_lowercase()),
            "the error should say {s:?}: {line}"
        );
    }
    line.to_string()
}

/// `after` is `before` plus exactly the entries named in `new` (relative paths; directories end in `/`);
/// every entry that was there is exactly as it was.
fn assert_only_new(before: &Snapshot, after: &Snapshot, new: &[&str]) {
    for (k, v) in before {
        assert_eq!(after.get(k), Some(v), "{k} changed or went away");
    }
    let extra: Vec<&String> = after.keys().filter(|k| !before.contains_key(*k)).collect();
    let want: Vec<String> = new.iter().map(|s| s.to_string()).collect();
    assert_eq!(
        extra,
        want.iter().collect::<Vec<_>>(),
        "new entries in the tree"
    );
}

/// A fix refused before any write or lock: exit 1, one line, the tree exactly as it was. `inspect` too,
/// when `also_inspect`.
fn refused_untouched(w: &World, db: &Path, says: &[&str], also_inspect: bool) -> Outcome {
    let before = w.snapshot();
    let run = fix(db, &[]);
    let line = assert_refused(&run, false, says);
    assert!(line.contains("nothing was changed"), "{line}");
    assert_eq!(w.snapshot(), before, "no byte changed anywhere");
    if also_inspect {
        let run = inspect(db);
        let line = assert_refused(&run, false, says);
        assert!(line.contains("nothing was changed"), "{line}");
        assert_eq!(w.snapshot(), before, "inspect changed nothing");
    }
    Refused
}

fn seed(args: &[&str]) -> std::process::ExitStatus {
    Command::new(seed_bin())
        .args(args)
        .status()
        .expect("run ozr-seed")
}

/// A mount that goes away when dropped (lazily if something still uses it).
struct Mount(PathBuf);

impl Mount {
    fn run(args: &[&str]) {
        let out = Command::new("mount")
            .args(args)
            .output()
            .expect("run mount");
        assert!(
            out.status.success(),
            "mount {args:?} failed (the mount cases need root): {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// `from` again at `at`, read-only.
    fn bind_ro(from: &Path, at: &Path) -> Mount {
        let (from, at_s) = (from.to_string_lossy(), at.to_string_lossy());
        Mount::run(&["--bind", &from, &at_s]);
        let m = Mount(at.to_path_buf());
        Mount::run(&["-o", "remount,bind,ro", &at_s]);
        m
    }

    fn tmpfs(at: &Path, size: &str) -> Mount {
        Mount::run(&[
            "-t",
            "tmpfs",
            "-o",
            &format!("size={size},mode=0755"),
            "tmpfs",
            &at.to_string_lossy(),
        ]);
        Mount(at.to_path_buf())
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let ok = Command::new("umount")
            .arg(&self.0)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        }
    }
}

/// A child process killed and reaped when dropped.
struct Holder(Child);

impl Drop for Holder {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Adds `n` password rows of about 1 KiB each, so the database spans many pages.
fn add_filler(db: &Path, n: usize) {
    let conn = rusqlite::Connection::open(db).expect("open");
    let hash = vec![0x5au8; 1024];
    conn.execute_batch("begin").expect("begin");
    for i in 0..n {
        conn.execute(
            "insert into password (email, hash, username, user_id) values (?1, ?2, 'filler', 'filler')",
            rusqlite::params![format!("filler{i}@example.com"), hash],
        )
        .expect("insert filler");
    }
    conn.execute_batch("commit").expect("commit");
}

/// Deterministic bytes that are not SQLite (nor JSON, nor text).
fn noise(n: usize) -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// Opens a private copy of `db` (and any -journal/-wal/-shm beside it), so reading cannot change the
/// files in place.
fn read_copy(db: &Path) -> (tempfile::TempDir, rusqlite::Connection) {
    let dir = tempfile::tempdir().expect("tempdir");
    let copy = dir.path().join("idp.db");
    std::fs::copy(db, &copy).expect("copy db");
    for s in ["-journal", "-wal", "-shm"] {
        let side = PathBuf::from(format!("{}{s}", db.display()));
        if side.exists() {
            std::fs::copy(&side, format!("{}{s}", copy.display())).expect("copy sidecar");
        }
    }
    let conn = rusqlite::Connection::open(&copy).expect("open copy");
    (dir, conn)
}

/// (typeof(config), config, name) of the JumpCloud connector.
fn jc_row(conn: &rusqlite::Connection) -> (String, Vec<u8>, String) {
    conn.query_row(
        "select typeof(config), cast(config as blob), name from connector where id = ?1",
        [JC_ID],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )
    .expect("JumpCloud row")
}

fn count(conn: &rusqlite::Connection, sql: &str) -> i64 {
    conn.query_row(sql, [], |r| r.get(0)).expect("count")
}

/// The one backup set under `root`.
fn only_backup(root: &Path) -> PathBuf {
    let sets: Vec<PathBuf> = std::fs::read_dir(root)
        .expect("backup root")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    assert_eq!(sets.len(), 1, "one backup set expected: {sets:?}");
    sets[0].clone()
}

// ---------------------------------------------------------------------------------------------------
// The cases.

fn symlink_db() -> Outcome {
    let w = World::empty();
    let real = w.outside.join("idp.db");
    seed_db(
        &real,
        11,
        &[local_row(), jumpcloud_row(JUMPCLOUD)],
        (0, 0),
        0o644,
    );
    std::os::unix::fs::symlink(&real, &w.db).expect("symlink");
    refused_untouched(&w, &w.db, &["symbolic link"], true)
}

/// `--db` names a path through a symlinked directory: the operator named it, so ozrepair follows it
/// (only the last component must be a plain file) and fixes the file it leads to. The lock file and the
/// backups land in the real directory, beside the real file.
fn symlinked_parent() -> Outcome {
    let w = World::empty();
    let real = w.outside.join("idp.db");
    seed_db(
        &real,
        11,
        &[local_row(), jumpcloud_row(JUMPCLOUD)],
        (0, 0),
        0o644,
    );
    let link = w.vol.join("data");
    std::os::unix::fs::symlink(&w.outside, &link).expect("symlink");
    let before = w.snapshot();
    let run = fix(&link.join("idp.db"), &[]);
    assert_sane(&run);
    assert_eq!(run.code, 0, "{run:?}");
    let (_d, conn) = read_copy(&real);
    let (class, config, _) = jc_row(&conn);
    assert_eq!(class, "blob");
    assert_eq!(config, jumpcloud_config(JUMPCLOUD_SLASH).into_bytes());
    let after = w.snapshot();
    assert_eq!(
        after.get("vol/data"),
        before.get("vol/data"),
        "the link stays"
    );
    assert!(after.contains_key("outside/.idp.db.ozrepair-lock"));
    let set = only_backup(&w.outside.join("ozrepair-backups"));
    assert_eq!(
        sha_of(&set.join("idp.db")),
        before["outside/idp.db"].split(' ').next().unwrap(),
        "the backup holds the file as it was"
    );
    Handled
}

fn db_is_directory() -> Outcome {
    let w = World::empty();
    std::fs::create_dir(&w.db).expect("mkdir");
    seed_db(
        &w.db.join("idp.db"),
        11,
        &[local_row(), jumpcloud_row(JUMPCLOUD)],
        (0, 0),
        0o644,
    );
    refused_untouched(&w, &w.db, &["is a directory"], true)
}

fn db_is_fifo() -> Outcome {
    let w = World::empty();
    let st = Command::new("mkfifo").arg(&w.db).status().expect("mkfifo");
    assert!(st.success());
    refused_untouched(&w, &w.db, &["not a regular file"], true)
}

fn db_hard_linked() -> Outcome {
    let w = World::new();
    std::fs::hard_link(&w.db, w.outside.join("idp.db.copy")).expect("hard link");
    refused_untouched(&w, &w.db, &["hard-linked"], true)
}

fn db_empty() -> Outcome {
    let w = World::empty();
    std::fs::write(&w.db, b"").expect("write");
    refused_untouched(&w, &w.db, &["empty"], true)
}

fn db_not_sqlite() -> Outcome {
    let w = World::empty();
    std::fs::write(&w.db, noise(8192)).expect("write");
    refused_untouched(&w, &w.db, &["not an SQLite database", "--db"], true)
}

fn db_truncated() -> Outcome {
    let w = World::new();
    let bytes = std::fs::read(&w.db).expect("read");
    assert!(bytes.len() >= 8 * 4096, "several pages");
    std::fs::write(&w.db, &bytes[..bytes.len() / 2]).expect("truncate");
    refused_untouched(&w, &w.db, &["damaged", "ozrepair restore"], true)
}

/// Garbage in the middle of a page (cell contents): `quick_check` reports it.
fn db_corrupt_page() -> Outcome {
    corrupt(|page_size| page_size / 4..page_size * 3 / 4)
}

/// Garbage over a page's header: `quick_check` cannot even walk the tree and fails itself.
fn db_corrupt_page_header() -> Outcome {
    corrupt(|_| 0..16)
}

/// A multi-page database with the bytes `span(page_size)` of a page of filler rows overwritten.
fn corrupt(span: fn(usize) -> std::ops::Range<usize>) -> Outcome {
    let w = World::new();
    add_filler(&w.db, 200);
    let (page_size, pages) = {
        let conn = rusqlite::Connection::open(&w.db).expect("open");
        let ps: i64 = conn
            .query_row("pragma page_size", [], |r| r.get(0))
            .unwrap();
        let n: i64 = conn
            .query_row("pragma page_count", [], |r| r.get(0))
            .unwrap();
        (ps as usize, n as usize)
    };
    assert!(pages > 60, "a multi-page database ({pages} pages)");
    // A page of filler rows, near the end of the file.
    let mut bytes = std::fs::read(&w.db).expect("read");
    let page = (pages - 10) * page_size;
    let r = span(page_size);
    bytes[page + r.start..page + r.end].fill(0xa5);
    std::fs::write(&w.db, &bytes).expect("write");
    {
        let conn = rusqlite::Connection::open_with_flags(
            &w.db,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .expect("open");
        let first: String = conn
            .query_row("pragma quick_check", [], |r| r.get(0))
            .unwrap_or_else(|e| e.to_string());
        assert_ne!(first, "ok", "the corruption must be one SQLite can see");
    }
    refused_untouched(&w, &w.db, &["damaged", "ozrepair restore"], true)
}

fn db_locked() -> Outcome {
    let w = World::new();
    let mut child = Command::new(seed_bin())
        .args(["--db", &w.db.to_string_lossy(), "--hold-lock", "60"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("start ozr-seed --hold-lock");
    let out = child.stdout.take().expect("stdout");
    let holder = Holder(child);
    let mut line = String::new();
    BufReader::new(out).read_line(&mut line).expect("read");
    assert_eq!(line.trim(), "locked", "the holder took the lock");
    let before = w.snapshot();
    let db = w.db.to_string_lossy().into_owned();
    for args in [fix_args(&db, &[]), vec!["--db", &db, "inspect"]] {
        let started = Instant::now();
        let run = ozrepair(&args, &[("OZREPAIR_BUSY_TIMEOUT_MS", "500")], LIMIT);
        let took = started.elapsed();
        let line = assert_refused(&run, false, &["locked by another process", "500 ms"]);
        assert!(line.contains("nothing was changed"), "{line}");
        assert!(
            took >= Duration::from_millis(450) && took < Duration::from_secs(5),
            "it waits about the bound, then gives up: {took:?}"
        );
        assert_eq!(w.snapshot(), before, "no byte changed anywhere");
    }
    drop(holder);
    Refused
}

fn journal_symlink() -> Outcome {
    let w = World::new();
    let elsewhere = w.outside.join("journal");
    std::fs::write(&elsewhere, b"not yours").expect("write");
    std::os::unix::fs::symlink(&elsewhere, w.vol.join("idp.db-journal")).expect("symlink");
    refused_untouched(&w, &w.db, &["idp.db-journal is not a regular file"], true)
}

/// A config problem is refused by `fix`; `inspect` reports the connector as unknown with its problem
/// (exit 0: it only reads) and never prints the config.
fn config_refused(config: String, says: &[&str]) -> Outcome {
    let w = World::with_rows(&[local_row(), jc_with_config(config)]);
    let before = w.snapshot();
    refused_untouched(&w, &w.db, says, false);
    let run = inspect(&w.db);
    assert_sane(&run);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("unknown"), "{run:?}");
    assert_eq!(w.snapshot(), before);
    Refused
}

fn config_not_json() -> Outcome {
    let cfg = jumpcloud_config(JUMPCLOUD);
    config_refused(
        cfg[..cfg.len() - 20].to_string(),
        &["not valid JSON", JC_ID, "fix that connector"],
    )
}

fn config_not_object() -> Outcome {
    config_refused(
        format!(r#"["{SECRET}","{JUMPCLOUD}"]"#),
        &["not an object", JC_ID, "fix that connector"],
    )
}

fn config_enormous() -> Outcome {
    let pad = "x".repeat(1536 * 1024);
    let cfg = jumpcloud_config(JUMPCLOUD).replacen('{', &format!(r#"{{"padding":"{pad}","#), 1);
    assert!(cfg.len() > 1 << 20);
    config_refused(cfg, &["bytes", JC_ID, "fix that connector"])
}

fn issuer_number() -> Outcome {
    let cfg = jumpcloud_config(JUMPCLOUD).replace(&format!(r#""{JUMPCLOUD}""#), "42");
    assert!(cfg.contains(r#""issuer":42"#));
    config_refused(
        cfg,
        &[
            "issuer is a number, not a string",
            JC_ID,
            "fix that connector",
        ],
    )
}

/// A writer died mid-transaction: `fix` backs up the database and its journal as they are, then SQLite
/// rolls the journal back when ozrepair opens the file to write, and the fix lands on the committed rows.
fn hot_journal() -> Outcome {
    let w = World::new();
    let st = seed(&["--db", &w.db.to_string_lossy(), "--hot-journal"]);
    assert_eq!(st.code(), Some(9), "the writer died mid-transaction");
    let before = w.snapshot();
    assert!(before.contains_key("vol/idp.db-journal"), "a hot journal");
    let run = fix(&w.db, &[]);
    assert_sane(&run);
    assert_eq!(run.code, 0, "{run:?}");
    let set = only_backup(&w.vol.join("ozrepair-backups"));
    for f in ["idp.db", "idp.db-journal"] {
        assert_eq!(
            sha_of(&set.join(f)),
            before[&format!("vol/{f}")].split(' ').next().unwrap(),
            "the backup holds {f} byte for byte"
        );
    }
    assert!(
        !w.vol.join("idp.db-journal").exists(),
        "the journal was rolled back"
    );
    let (_d, conn) = read_copy(&w.db);
    let (class, config, _) = jc_row(&conn);
    assert_eq!(
        (class.as_str(), config),
        ("blob", jumpcloud_config(JUMPCLOUD_SLASH).into_bytes())
    );
    assert_eq!(
        count(
            &conn,
            "select count(*) from password where email like 'crash%'"
        ),
        0,
        "not one row of the crashed transaction"
    );
    assert_eq!(
        count(
            &conn,
            "select count(*) from password where email = 'admin@example.com'"
        ),
        1
    );
    assert_eq!(
        count(&conn, "select count(*) from connector"),
        2,
        "the committed connectors"
    );
    store_is_sound(&conn);
    Handled
}

/// A writer died in WAL mode with committed data only in the -wal: `fix` backs up all three files, and
/// the result holds the WAL's data plus the fix.
fn wal_pending() -> Outcome {
    let w = World::new();
    let st = seed(&["--db", &w.db.to_string_lossy(), "--wal-pending"]);
    assert_eq!(st.code(), Some(0), "ozr-seed --wal-pending");
    let before = w.snapshot();
    assert!(before.contains_key("vol/idp.db-wal"), "a -wal");
    {
        // The committed data is only in the -wal: the database file alone does not have it.
        let dir = tempfile::tempdir().unwrap();
        std::fs::copy(&w.db, dir.path().join("idp.db")).unwrap();
        let conn = rusqlite::Connection::open(dir.path().join("idp.db")).unwrap();
        assert_eq!(
            count(
                &conn,
                "select count(*) from password where email = 'wal@example.com'"
            ),
            0
        );
    }
    let run = fix(&w.db, &[]);
    assert_sane(&run);
    assert_eq!(run.code, 0, "{run:?}");
    let set = only_backup(&w.vol.join("ozrepair-backups"));
    for f in ["idp.db", "idp.db-wal", "idp.db-shm"] {
        assert_eq!(
            sha_of(&set.join(f)),
            before[&format!("vol/{f}")].split(' ').next().unwrap(),
            "the backup holds {f} byte for byte"
        );
    }
    let (_d, conn) = read_copy(&w.db);
    let (class, config, name) = jc_row(&conn);
    assert_eq!(
        (class.as_str(), config),
        ("blob", jumpcloud_config(JUMPCLOUD_SLASH).into_bytes())
    );
    assert_eq!(
        name, "JumpCloud (wal)",
        "the WAL's committed update is kept"
    );
    assert_eq!(
        count(
            &conn,
            "select count(*) from password where email = 'wal@example.com'"
        ),
        1,
        "the WAL's committed insert is kept"
    );
    store_is_sound(&conn);
    Handled
}

fn store_is_sound(conn: &rusqlite::Connection) {
    let ok: String = conn
        .query_row("pragma integrity_check", [], |r| r.get(0))
        .expect("integrity_check");
    assert_eq!(ok, "ok");
}

/// The volume as a read-only bind mount at `root/ro`.
fn read_only_world() -> (World, Mount, PathBuf) {
    let w = World::new();
    let ro = w.root.path().join("ro");
    std::fs::create_dir(&ro).expect("mkdir ro");
    let m = Mount::bind_ro(&w.vol, &ro);
    let db = ro.join("idp.db");
    (w, m, db)
}

fn read_only_volume() -> Outcome {
    let (w, _m, db) = read_only_world();
    let before = snapshot(&w.vol);
    let run = fix(&db, &[]);
    let line = assert_refused(
        &run,
        false,
        &["read-only file system", "nothing was changed", "remount"],
    );
    assert!(!line.contains("backup is at"), "{line}");
    assert_eq!(snapshot(&w.vol), before, "no byte changed anywhere");
    Refused
}

/// With a writable --backup-dir, ozrepair still refuses before the backup: it cannot take its lock
/// beside the database, and a database on a read-only file system cannot be edited anyway.
fn read_only_volume_backup_dir() -> Outcome {
    let (w, _m, db) = read_only_world();
    let backups = w.outside.join("backups");
    std::fs::create_dir(&backups).expect("mkdir");
    let before = w.snapshot();
    let run = fix(&db, &["--backup-dir", &backups.to_string_lossy()]);
    assert_refused(
        &run,
        false,
        &["read-only file system", "nothing was changed", "remount"],
    );
    assert_eq!(
        w.snapshot(),
        before,
        "no byte changed anywhere, no backup taken"
    );
    Refused
}

/// The database file itself is read-only (a read-only bind mount over it) in a writable directory:
/// the lock and the backup succeed, the write fails; the database is unchanged and the error says
/// where the backup is.
fn read_only_file() -> Outcome {
    let w = World::new();
    let _m = Mount::bind_ro(&w.db, &w.db);
    let before = w.snapshot();
    let run = fix(&w.db, &[]);
    let line = assert_refused(
        &run,
        true,
        &[
            "readonly database",
            "the database is unchanged",
            "the backup is at",
        ],
    );
    assert!(
        run.stderr.contains("ozrepair: backup verified: "),
        "{run:?}"
    );
    let after = w.snapshot();
    let set = only_backup(&w.vol.join("ozrepair-backups"));
    let set_name = set.file_name().unwrap().to_string_lossy().into_owned();
    assert!(line.contains(&set_name), "{line}");
    assert_only_new(
        &before,
        &after,
        &[
            "vol/.idp.db.ozrepair-lock",
            "vol/ozrepair-backups/",
            &format!("vol/ozrepair-backups/{set_name}/"),
            &format!("vol/ozrepair-backups/{set_name}/idp.db"),
            &format!("vol/ozrepair-backups/{set_name}/manifest.json"),
        ],
    );
    assert_eq!(
        sha_of(&set.join("idp.db")),
        before["vol/idp.db"].split(' ').next().unwrap(),
        "the backup holds the database byte for byte"
    );
    Refused
}

/// A 512 KiB tmpfs holding a database of about 350 KiB: the backup copy cannot fit. The partial copy is
/// removed; the lock file and an empty ozrepair-backups/ are all that is left.
fn disk_full() -> Outcome {
    let w = World::new();
    add_filler(&w.db, 180);
    let size = std::fs::metadata(&w.db).expect("metadata").len();
    assert!(
        (300 << 10..=420 << 10).contains(&size),
        "a database of 300-420 KiB, not {size}"
    );
    let small = w.root.path().join("small");
    std::fs::create_dir(&small).expect("mkdir");
    let _m = Mount::tmpfs(&small, "512k");
    let db = small.join("idp.db");
    std::fs::copy(&w.db, &db).expect("copy into the tmpfs");
    let before = snapshot(&small);
    let run = fix(&db, &[]);
    let line = assert_refused(
        &run,
        true,
        &[
            "no space left on device",
            "failed and was removed",
            "the database is unchanged",
        ],
    );
    assert!(!line.contains("backup is at"), "{line}");
    let after = snapshot(&small);
    assert_only_new(
        &before,
        &after,
        &[".idp.db.ozrepair-lock", "ozrepair-backups/"],
    );
    Refused
}
