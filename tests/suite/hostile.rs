//! Hostile or broken volumes, one test each: the database (or something on its path, or beside it) is a
//! symlink, a directory, a FIFO, a hard link, empty, not SQLite, truncated, damaged, locked by another
//! process, on a read-only or full file system, or a connector's config is not JSON, not an object,
//! enormous, or holds a non-string issuer. Each is refused with one line on stderr that says what is wrong
//! and what to do next, exit 1, and not one byte changed anywhere; never a panic, never a secret printed.
//! A hot -journal or a -wal beside the database is not an error: `fix` goes through, its backup holds
//! those files byte for byte, and the result holds exactly the committed data.
//!
//! Works on files with `ozrepair --db PATH` (no Docker). The mount cases need root (bind mounts, tmpfs);
//! they unmount on drop, also when the case fails.

use crate::util::command::{ozrepair, OzrCommand, Run};
use crate::util::gocheck::go_decode;
use crate::util::hash::sha256_hex;
use crate::util::run;
use crate::util::seed::{
    jumpcloud_config, ozr_seed, rows_of, Connector, DexDb, Row, JC_ID, JUMPCLOUD, JUMPCLOUD_SLASH,
    SECRET,
};
use crate::util::snapshot::{read_copy, sha256_in, snapshot, Snapshot};
use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How a case ends when it passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Exit 1, one line, nothing changed.
    Refused,
    /// Not an error: done correctly.
    Handled,
}
use Outcome::*;

// ---------------------------------------------------------------------------------------------------
// The harness.

/// A case's world: `root/vol` holds the database (the "volume"), `root/outside` is somewhere else.
pub struct World {
    root: tempfile::TempDir,
    vol: PathBuf,
    db: PathBuf,
    outside: PathBuf,
}

impl World {
    /// The directories, without a database.
    pub fn empty() -> World {
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

    /// Writes `db` as the volume's database.
    fn seed(&self, db: &DexDb) {
        db.write(&self.db);
    }

    fn snapshot(&self) -> Snapshot {
        snapshot(self.root.path())
    }
}

/// How long one run may take here: every case is refused or done in well under a second.
const LIMIT: Duration = Duration::from_secs(30);

/// The real binary without a terminal and without Docker, waiting at most 2 s on a locked database.
fn ozr<I, S>(args: I) -> OzrCommand
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    ozrepair(args)
        .env("OZREPAIR_BUSY_TIMEOUT_MS", "2000")
        .timeout(LIMIT)
}

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
    ozr(fix_args(&db.to_string_lossy(), extra)).run()
}

fn inspect(db: &Path) -> Run {
    ozr(["--db", &db.to_string_lossy(), "inspect"]).run()
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

/// A mount that goes away when dropped (lazily if something still uses it).
struct Mount(PathBuf);

impl Mount {
    fn run(args: &[&str]) {
        let out = run::output(Command::new("mount").args(args));
        assert!(
            out.status.success(),
            "mount {args:?} failed (the mount cases need root): {}",
            out.stderr_text()
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

fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
}

/// The JumpCloud connector's row.
fn jumpcloud_row(conn: &rusqlite::Connection) -> Row {
    rows_of(conn)
        .into_iter()
        .find(|r| r.id == JC_ID)
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

fn store_is_sound(conn: &rusqlite::Connection) {
    let ok: String = conn
        .query_row("pragma integrity_check", [], |r| r.get(0))
        .expect("integrity_check");
    assert_eq!(ok, "ok");
}

// ---------------------------------------------------------------------------------------------------
// The cases.

// The database is a symlink out of the volume.
hostile!(symlinked_db, Refused, |w| {
    let real = w.outside.join("idp.db");
    DexDb::locked_out().write(&real);
    std::os::unix::fs::symlink(&real, &w.db).expect("symlink");
    refused_untouched(w, &w.db, &["symbolic link"], true)
});

// A directory on the `--db` path is a symlink: the operator named it, so ozrepair follows it (only
// the last component must be a plain file) and fixes the file it leads to. The lock file and the
// backups land in the real directory, beside the real file.
hostile!(symlinked_parent, Handled, |w| {
    let real = w.outside.join("idp.db");
    DexDb::locked_out().write(&real);
    let link = w.vol.join("data");
    std::os::unix::fs::symlink(&w.outside, &link).expect("symlink");
    let before = w.snapshot();
    let run = fix(&link.join("idp.db"), &[]);
    assert_sane(&run);
    assert_eq!(run.code, 0, "{run:?}");
    let (_d, conn) = read_copy(&real);
    let jc = jumpcloud_row(&conn);
    assert_eq!(jc.storage, "blob");
    assert_eq!(jc.config, jumpcloud_config(JUMPCLOUD_SLASH).into_bytes());
    let after = w.snapshot();
    assert_eq!(
        after.get("vol/data"),
        before.get("vol/data"),
        "the link stays"
    );
    assert!(after.contains_key("outside/.idp.db.ozrepair-lock"));
    let set = only_backup(&w.outside.join("ozrepair-backups"));
    assert_eq!(
        sha256_hex(&read(&set.join("idp.db"))),
        sha256_in(&before, "outside/idp.db"),
        "the backup holds the file as it was"
    );
    Handled
});

// The database is a directory.
hostile!(db_is_directory, Refused, |w| {
    std::fs::create_dir(&w.db).expect("mkdir");
    DexDb::locked_out().write(&w.db.join("idp.db"));
    refused_untouched(w, &w.db, &["is a directory"], true)
});

// The database is a FIFO.
hostile!(db_is_fifo, Refused, |w| {
    let made = run::output(Command::new("mkfifo").arg(&w.db));
    assert!(made.status.success(), "{}", made.stderr_text());
    refused_untouched(w, &w.db, &["not a regular file"], true)
});

// The database is hard-linked.
hostile!(db_hard_linked, Refused, |w| {
    w.seed(&DexDb::locked_out());
    std::fs::hard_link(&w.db, w.outside.join("idp.db.copy")).expect("hard link");
    refused_untouched(w, &w.db, &["hard-linked"], true)
});

// The database is empty.
hostile!(db_empty, Refused, |w| {
    std::fs::write(&w.db, b"").expect("write");
    refused_untouched(w, &w.db, &["empty"], true)
});

// The database is not SQLite.
hostile!(db_not_sqlite, Refused, |w| {
    std::fs::write(&w.db, noise(8192)).expect("write");
    refused_untouched(w, &w.db, &["not an SQLite database", "--db"], true)
});

// The database is truncated.
hostile!(db_truncated, Refused, |w| {
    w.seed(&DexDb::locked_out());
    let bytes = read(&w.db);
    assert!(bytes.len() >= 8 * 4096, "several pages");
    std::fs::write(&w.db, &bytes[..bytes.len() / 2]).expect("truncate");
    refused_untouched(w, &w.db, &["damaged", "ozrepair restore"], true)
});

// Garbage in the middle of a page (cell contents): `quick_check` reports it.
hostile!(db_corrupt_page, Refused, |w| {
    corrupt(w, |page_size| page_size / 4..page_size * 3 / 4)
});

// Garbage over a page's header: `quick_check` cannot even walk the tree and fails itself.
hostile!(db_corrupt_page_header, Refused, |w| corrupt(w, |_| 0..16));

/// A multi-page database with the bytes `span(page_size)` of a page of filler rows overwritten.
fn corrupt(w: &World, span: fn(usize) -> std::ops::Range<usize>) -> Outcome {
    w.seed(&DexDb::locked_out());
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
    let mut bytes = read(&w.db);
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
    refused_untouched(w, &w.db, &["damaged", "ozrepair restore"], true)
}

// The database is locked by another process: ozrepair waits about OZREPAIR_BUSY_TIMEOUT_MS, then
// gives up.
hostile!(db_locked, Refused, |w| {
    w.seed(&DexDb::locked_out());
    let mut child = ozr_seed()
        .args(["--db", &w.db.to_string_lossy(), "--hold-lock", "60"])
        .stdin(Stdio::null())
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
        let run = ozr(args).env("OZREPAIR_BUSY_TIMEOUT_MS", "500").run();
        let took = started.elapsed();
        // While it waits, a progress line names the holder; then one error line names it again.
        let said = run.stderr.trim_end();
        let (waiting, last) = said.rsplit_once('\n').unwrap_or(("", said));
        for l in waiting.lines() {
            assert!(
                l.contains("waiting for pid") && l.contains("ozr-seed"),
                "{run:?}"
            );
        }
        let only_error = Run {
            code: run.code,
            stdout: run.stdout.clone(),
            stderr: format!("{last}\n"),
        };
        let line = assert_refused(
            &only_error,
            false,
            &["is locked by pid", "ozr-seed", "500 ms"],
        );
        assert!(line.contains("nothing was changed"), "{line}");
        assert!(
            took >= Duration::from_millis(450) && took < Duration::from_secs(5),
            "it waits about the bound, then gives up: {took:?}"
        );
        assert_eq!(w.snapshot(), before, "no byte changed anywhere");
    }
    drop(holder);
    Refused
});

// The -journal beside the database is a symlink.
hostile!(journal_symlink, Refused, |w| {
    w.seed(&DexDb::locked_out());
    let elsewhere = w.outside.join("journal");
    std::fs::write(&elsewhere, b"not yours").expect("write");
    std::os::unix::fs::symlink(&elsewhere, w.vol.join("idp.db-journal")).expect("symlink");
    refused_untouched(w, &w.db, &["idp.db-journal is not a regular file"], true)
});

/// The secret of `secret_with_separator_and_del`.
const SEPARATOR_SECRET: &str = "zq-sec\u{2028}ret\u{7f}-tail";
/// The secrets of `secret_short_null_and_common`.
const SHORT_SECRETS: [&str; 6] = ["x", "ab", "nul", "null", "https", "oidc"];
/// The decoy the issuer and `--set` decoys hold (a key with the dotless ı, which Go matches to no field).
const DECOY: &str = "https://decoy.example.com";

/// The config of `secret_short_null_and_common` for one secret.
fn short_secret_config(secret: &str) -> String {
    format!(
        r#"{{"clientID":"{secret}","clientSecret":"{secret}","issuer":"{JUMPCLOUD}","redirectURI":"https://vpn.example.com/cb","scopes":["openid"]}}"#
    )
}

/// The JumpCloud config with `member` added as its last member.
fn jumpcloud_with(member: &str) -> String {
    let jc = jumpcloud_config(JUMPCLOUD);
    format!("{},{member}}}", &jc[..jc.len() - 1])
}

/// Every connector config the cases here store, by case name: the cases take theirs from here
/// ([`hostile_config`]), and the differential test (`go_checker::the_model_reads_configs_as_go_does`)
/// runs all of them through ozrepair's model and Go's decoder.
pub fn hostile_configs() -> Vec<(&'static str, Vec<u8>)> {
    let jc = jumpcloud_config(JUMPCLOUD);
    let pad = "x".repeat(1536 * 1024);
    let deep = format!("{}1{}", "[".repeat(200), "]".repeat(200));
    let mut invalid_utf8 = jc
        .replacen('{', &format!(r#"{{"deep":{deep},"#), 1)
        .replace(SECRET, "zq-inval@@-secret")
        .into_bytes();
    let at = invalid_utf8
        .windows(2)
        .position(|x| x == b"@@")
        .expect("marker");
    invalid_utf8[at] = 0xff;
    invalid_utf8[at + 1] = b'x';
    let mut out: Vec<(&'static str, Vec<u8>)> = vec![
        ("jumpcloud", jc.clone().into_bytes()),
        (
            "jumpcloud_slash",
            jumpcloud_config(JUMPCLOUD_SLASH).into_bytes(),
        ),
        ("config_not_json", jc.as_bytes()[..jc.len() - 20].to_vec()),
        (
            "config_not_object",
            format!(r#"["{SECRET}","{JUMPCLOUD}"]"#).into_bytes(),
        ),
        (
            "config_enormous",
            jc.replacen('{', &format!(r#"{{"padding":"{pad}","#), 1)
                .into_bytes(),
        ),
        (
            "issuer_number",
            jc.replace(&format!(r#""{JUMPCLOUD}""#), "42").into_bytes(),
        ),
        (
            "config_issuer_number_then_string",
            jc.replacen('{', r#"{"issuer":5,"#, 1).into_bytes(),
        ),
        (
            "config_issuer_object_folded_key",
            jc.replacen('{', "{\"iſsuer\":{\"a\":1},", 1).into_bytes(),
        ),
        (
            "config_type_error_elsewhere",
            jc.replace(r#""clientID":"0f5e2c9a-e2e""#, r#""clientID":7"#)
                .into_bytes(),
        ),
        (
            "secret_with_separator_and_del",
            jc.replace(SECRET, SEPARATOR_SECRET).into_bytes(),
        ),
        ("secret_invalid_utf8_and_deep", invalid_utf8),
        (
            "secret_under_folded_key",
            jc.replace("clientSecret", "clientſecret").into_bytes(),
        ),
        // Go 1.21+ folds ı (U+0131) to itself: Dex reads the first issuer, never the decoy.
        (
            "issuer_decoy_dotless_i",
            jumpcloud_with(&format!(r#""\u0131ssuer":"{DECOY}""#)).into_bytes(),
        ),
        (
            "set_decoy_dotless_i",
            jumpcloud_with(&format!(r#""redırectURI":"{DECOY}/oauth2/callback""#)).into_bytes(),
        ),
        (
            "claim_modifications_groups_filter_number",
            jumpcloud_with(r#""claimModifications":{"filterGroupClaims":{"groupsFilter":5}}"#)
                .into_bytes(),
        ),
        (
            "claim_modifications_claims_string",
            jumpcloud_with(r#""claimModifications":{"newGroupFromClaims":[{"claims":"x"}]}"#)
                .into_bytes(),
        ),
        ("empty_config", Vec::new()),
    ];
    for secret in SHORT_SECRETS {
        out.push((
            "secret_short_null_and_common",
            short_secret_config(secret).into_bytes(),
        ));
    }
    out
}

/// The config case `name` stores (see [`hostile_configs`]).
fn hostile_config(name: &str) -> Vec<u8> {
    hostile_configs()
        .into_iter()
        .find(|(n, _)| *n == name)
        .map(|(_, c)| c)
        .unwrap_or_else(|| panic!("no hostile config {name}"))
}

/// [`hostile_config`] as text (the configs the JumpCloud row takes as a String).
fn hostile_text(name: &str) -> String {
    String::from_utf8(hostile_config(name)).expect("a UTF-8 config")
}

/// A config problem is refused by `fix`; `inspect` reports the connector as unknown with its problem
/// (`action_needed`, exit 6: it only reads, and ozrepair has no change for it) and never prints the
/// config.
fn config_refused(w: &World, config: String, says: &[&str]) -> Outcome {
    let jc = Connector {
        config: Some(config),
        ..Connector::jumpcloud(JUMPCLOUD)
    };
    w.seed(&DexDb::new(11).connectors([Connector::local(), jc]));
    let before = w.snapshot();
    refused_untouched(w, &w.db, says, false);
    let run = inspect(&w.db);
    assert_sane(&run);
    assert_eq!(run.code, 6, "{run:?}");
    assert!(run.stdout.contains("unknown"), "{run:?}");
    assert!(run.stdout.contains("action_needed"), "{run:?}");
    assert_eq!(w.snapshot(), before);
    Refused
}

// A connector's config is not JSON.
hostile!(config_not_json, Refused, |w| {
    config_refused(
        w,
        hostile_text("config_not_json"),
        &["not valid JSON", JC_ID, "fix that connector"],
    )
});

// A connector's config is JSON but not an object.
hostile!(config_not_object, Refused, |w| config_refused(
    w,
    hostile_text("config_not_object"),
    &["not an object", JC_ID, "fix that connector"],
));

// A connector's config is enormous.
hostile!(config_enormous, Refused, |w| {
    let cfg = hostile_text("config_enormous");
    assert!(cfg.len() > 1 << 20);
    config_refused(w, cfg, &["bytes", JC_ID, "fix that connector"])
});

// A connector's issuer is a number.
hostile!(issuer_number, Refused, |w| {
    let cfg = hostile_text("issuer_number");
    assert!(cfg.contains(r#""issuer":42"#));
    config_refused(
        w,
        cfg,
        &[
            "issuer is a number, not a string",
            JC_ID,
            "fix that connector",
        ],
    )
});

// A hot -journal beside the database (a writer died mid-transaction): `fix` backs up the database
// and its journal as they are, then SQLite rolls the journal back when ozrepair opens the file to
// write, and the fix lands on the committed rows.
hostile!(hot_journal, Handled, |w| {
    w.seed(&DexDb::locked_out());
    let crashed = run::output(ozr_seed().args(["--db", &w.db.to_string_lossy(), "--hot-journal"]));
    assert_eq!(
        crashed.status.code(),
        Some(9),
        "the writer died mid-transaction"
    );
    let before = w.snapshot();
    assert!(before.contains_key("vol/idp.db-journal"), "a hot journal");
    let run = fix(&w.db, &[]);
    assert_sane(&run);
    assert_eq!(run.code, 0, "{run:?}");
    let set = only_backup(&w.vol.join("ozrepair-backups"));
    for f in ["idp.db", "idp.db-journal"] {
        assert_eq!(
            sha256_hex(&read(&set.join(f))),
            sha256_in(&before, &format!("vol/{f}")),
            "the backup holds {f} byte for byte"
        );
    }
    assert!(
        !w.vol.join("idp.db-journal").exists(),
        "the journal was rolled back"
    );
    let (_d, conn) = read_copy(&w.db);
    let jc = jumpcloud_row(&conn);
    assert_eq!(
        (jc.storage.as_str(), jc.config),
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
});

// A -wal with committed data beside the database (a writer died in WAL mode with committed data
// only in the -wal): `fix` backs up all three files, and the result holds the WAL's data plus the
// fix.
hostile!(wal_pending, Handled, |w| {
    w.seed(&DexDb::locked_out());
    let seeded = run::output(ozr_seed().args(["--db", &w.db.to_string_lossy(), "--wal-pending"]));
    assert_eq!(seeded.status.code(), Some(0), "ozr-seed --wal-pending");
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
            sha256_hex(&read(&set.join(f))),
            sha256_in(&before, &format!("vol/{f}")),
            "the backup holds {f} byte for byte"
        );
    }
    let (_d, conn) = read_copy(&w.db);
    let jc = jumpcloud_row(&conn);
    assert_eq!(
        (jc.storage.as_str(), jc.config),
        ("blob", jumpcloud_config(JUMPCLOUD_SLASH).into_bytes())
    );
    assert_eq!(
        jc.name, "JumpCloud (wal)",
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
});

/// The volume, holding the locked-out database, again as a read-only bind mount at `root/ro`; returns
/// the mount and the database's path through it.
fn read_only_volume_of(w: &World) -> (Mount, PathBuf) {
    w.seed(&DexDb::locked_out());
    let ro = w.root.path().join("ro");
    std::fs::create_dir(&ro).expect("mkdir ro");
    let m = Mount::bind_ro(&w.vol, &ro);
    (m, ro.join("idp.db"))
}

// A read-only volume.
hostile!(read_only_volume, Refused, |w| {
    let (_m, db) = read_only_volume_of(w);
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
});

// A read-only volume with a writable --backup-dir: ozrepair still refuses before the backup; it
// cannot take its lock beside the database, and a database on a read-only file system cannot be
// edited anyway.
hostile!(read_only_volume_backup_dir, Refused, |w| {
    let (_m, db) = read_only_volume_of(w);
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
});

// The database file itself is read-only (a read-only bind mount over it) in a writable directory: fix
// is refused before anything is stopped or backed up, with one line in ozrepair's words (no SQLite message,
// no "fix the cause above"); only ozrepair's empty lock file is new.
hostile!(read_only_file, Refused, |w| {
    w.seed(&DexDb::locked_out());
    let _m = Mount::bind_ro(&w.db, &w.db);
    let before = w.snapshot();
    let run = fix(&w.db, &[]);
    let line = assert_refused(
        &run,
        false,
        &["read-only file system", "nothing was changed", "remount"],
    );
    for not in ["readonly database", "cause above", "backup is at"] {
        assert!(!line.contains(not), "{line}");
    }
    assert_eq!(line.matches("nothing was changed").count(), 1, "{line}");
    assert_only_new(&before, &w.snapshot(), &["vol/.idp.db.ozrepair-lock"]);
    Refused
});

// A backup directory on a read-only file system: refused before the store is locked for writing,
// stopped or copied, naming the directory and --backup-dir.
hostile!(read_only_backup_dir, Refused, |w| {
    w.seed(&DexDb::locked_out());
    let ro = w.outside.join("ro-backups");
    std::fs::create_dir(&ro).expect("mkdir");
    let _m = Mount::bind_ro(&ro, &ro);
    let before = w.snapshot();
    for run in [
        fix(&w.db, &["--backup-dir", &ro.to_string_lossy()]),
        backup_run(&w.db, &["--backup-dir", &ro.to_string_lossy()]),
    ] {
        let line = assert_refused(
            &run,
            false,
            &[
                &ro.display().to_string(),
                "read-only file system",
                "nothing was changed",
                "--backup-dir",
            ],
        );
        assert_eq!(line.matches("nothing was changed").count(), 1, "{line}");
        assert!(!line.contains("cause above"), "{line}");
    }
    assert_only_new(&before, &w.snapshot(), &["vol/.idp.db.ozrepair-lock"]);
    Refused
});

// The disk fills up during the backup: a 512 KiB tmpfs holding a database of about 350 KiB, so the
// backup copy cannot fit. The partial copy is removed; the lock file and an empty ozrepair-backups/
// are all that is left.
hostile!(disk_full, Refused, |w| {
    w.seed(&DexDb::locked_out());
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
});

// ---------------------------------------------------------------------------------------------------
// Planted links and special files around the backup, shared backup directories, which set a restore takes.

/// `fix` refused after taking its lock: exit 1, one line saying `says`, and nothing changed but the lock
/// file beside the database.
fn refused_with_lock_only(w: &World, extra: &[&str], says: &[&str]) -> Outcome {
    let before = w.snapshot();
    let run = fix(&w.db, extra);
    let line = assert_refused(&run, true, says);
    assert!(line.contains("the database is unchanged"), "{line}");
    assert_only_new(&before, &w.snapshot(), &["vol/.idp.db.ozrepair-lock"]);
    Refused
}

// The default backup directory is a planted symlink out of the volume: refused, nothing written there.
hostile!(backup_dir_symlink, Refused, |w| {
    w.seed(&DexDb::locked_out());
    std::os::unix::fs::symlink(&w.outside, w.vol.join("ozrepair-backups")).expect("symlink");
    refused_with_lock_only(w, &[], &["ozrepair-backups is a symbolic link"])
});

// The lock file is a planted symlink: refused, its target is not created.
hostile!(lock_file_symlink, Refused, |w| {
    w.seed(&DexDb::locked_out());
    let target = w.outside.join("planted");
    std::os::unix::fs::symlink(&target, w.vol.join(".idp.db.ozrepair-lock")).expect("symlink");
    let before = w.snapshot();
    let run = fix(&w.db, &[]);
    assert_refused(
        &run,
        false,
        &["lock file", "symbolic link", "nothing was changed"],
    );
    assert!(!target.exists(), "nothing appeared at the link's target");
    assert_eq!(w.snapshot(), before);
    Refused
});

// The lock file is a planted FIFO: refused at once, it does not hang.
hostile!(lock_file_fifo, Refused, |w| {
    w.seed(&DexDb::locked_out());
    let made = run::output(Command::new("mkfifo").arg(w.vol.join(".idp.db.ozrepair-lock")));
    assert!(made.status.success(), "{}", made.stderr_text());
    let before = w.snapshot();
    let run = fix(&w.db, &[]);
    assert_refused(
        &run,
        false,
        &["lock file", "not a regular file", "nothing was changed"],
    );
    assert_eq!(w.snapshot(), before);
    Refused
});

// A shared --backup-dir (mode 1777, like /tmp) is used as it is: its mode is not changed, the set in it
// is private.
hostile!(backup_dir_shared_mode_kept, Handled, |w| {
    use std::os::unix::fs::PermissionsExt;
    w.seed(&DexDb::locked_out());
    let shared = w.outside.join("shared");
    std::fs::create_dir(&shared).expect("mkdir");
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o1777)).expect("chmod");
    let run = fix(&w.db, &["--backup-dir", &shared.to_string_lossy()]);
    assert_sane(&run);
    assert_eq!(run.code, 0, "{run:?}");
    let mode = std::fs::metadata(&shared)
        .expect("stat")
        .permissions()
        .mode()
        & 0o7777;
    assert_eq!(mode, 0o1777, "the shared directory's mode is kept");
    let set = only_backup(&shared);
    let set_mode = std::fs::metadata(&set).expect("stat").permissions().mode() & 0o777;
    assert_eq!(set_mode, 0o700, "the set itself is private");
    Handled
});

/// Sets the local connector's name (a change a restore must undo).
fn rename_local(db: &Path, name: &str) {
    let conn = rusqlite::Connection::open(db).expect("open");
    conn.execute("update connector set name = ?1 where id = 'local'", [name])
        .expect("update");
}

fn local_name(db: &Path) -> String {
    let (_d, conn) = read_copy(db);
    conn.query_row("select name from connector where id = 'local'", [], |r| {
        r.get(0)
    })
    .expect("name")
}

fn backup_run(db: &Path, extra: &[&str]) -> Run {
    let db = db.to_string_lossy().into_owned();
    let mut a = vec!["--db", &db, "backup", "--yes"];
    a.extend_from_slice(extra);
    ozr(a).run()
}

fn restore_run(db: &Path, extra: &[&str]) -> Run {
    let db = db.to_string_lossy().into_owned();
    let mut a = vec!["--db", &db, "restore", "--yes"];
    a.extend_from_slice(extra);
    ozr(a).run()
}

// Two databases share one --backup-dir: a bare restore of a takes a's newest set, not b's newer one;
// b's set named for a is refused without --allow-other-database, nothing changed.
hostile!(shared_backup_dir_two_databases, Handled, |w| {
    let a = w.vol.join("idp.db");
    let b = w.outside.join("idp.db");
    DexDb::locked_out().write(&a);
    DexDb::locked_out().write(&b);
    rename_local(&a, "a at its backup");
    rename_local(&b, "b at its backup");
    let shared = w.root.path().join("shared");
    let dir = shared.to_string_lossy().into_owned();
    assert_eq!(backup_run(&a, &["--backup-dir", &dir]).code, 0);
    let b_run = backup_run(&b, &["--backup-dir", &dir, "--output", "json"]);
    assert_eq!(b_run.code, 0, "{b_run:?}");
    let b_set = PathBuf::from(
        b_run.json()["backup"]["dir"]
            .as_str()
            .expect("the set's dir"),
    );
    rename_local(&a, "a later");
    let r = restore_run(&a, &["--backup-dir", &dir]);
    assert_sane(&r);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(local_name(&a), "a at its backup", "a's own set came back");
    let before = w.snapshot();
    let set = b_set.to_string_lossy().into_owned();
    let r = restore_run(&a, &["--backup-dir", &dir, "--backup", &set]);
    assert_refused(
        &r,
        false,
        &[
            "was taken from",
            "--allow-other-database",
            "nothing was changed",
        ],
    );
    assert_eq!(w.snapshot(), before, "nothing changed");
    Handled
});

// Eleven backups within a second or two: a bare restore takes the last one taken (by the manifest's
// time, not by the name's text, where `-9` sorts after `-11`).
hostile!(same_second_sets, Handled, |w| {
    w.seed(&DexDb::locked_out());
    for i in 1..=11 {
        rename_local(&w.db, &format!("state {i}"));
        let r = backup_run(&w.db, &[]);
        assert_eq!(r.code, 0, "{r:?}");
    }
    rename_local(&w.db, "after the last backup");
    let r = restore_run(&w.db, &[]);
    assert_sane(&r);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(local_name(&w.db), "state 11", "the newest set came back");
    Handled
});

// A restore's own pre-restore copy is never taken by a bare `restore --yes`: a second restore puts the
// same backup back instead of undoing the first.
hostile!(pre_restore_not_chosen, Handled, |w| {
    w.seed(&DexDb::locked_out());
    rename_local(&w.db, "the backup");
    assert_eq!(backup_run(&w.db, &[]).code, 0);
    rename_local(&w.db, "later");
    for _ in 0..2 {
        let r = restore_run(&w.db, &[]);
        assert_sane(&r);
        assert_eq!(r.code, 0, "{r:?}");
        assert_eq!(local_name(&w.db), "the backup");
    }
    let pre: Vec<String> = std::fs::read_dir(w.vol.join("ozrepair-backups"))
        .expect("root")
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .filter(|n| n.ends_with("-pre-restore"))
        .collect();
    assert_eq!(pre.len(), 2, "each restore saved a labelled copy: {pre:?}");
    Handled
});

// A WAL-mode database without -wal and -shm: inspect, fix --dry-run and backups create no file beside it.
hostile!(wal_mode_without_sidecars_read_only, Handled, |w| {
    w.seed(&DexDb::locked_out());
    {
        let conn = rusqlite::Connection::open(&w.db).expect("open");
        let mode: String = conn
            .query_row("pragma journal_mode = wal", [], |r| r.get(0))
            .expect("wal");
        assert_eq!(mode, "wal");
    }
    assert!(!w.vol.join("idp.db-wal").exists() && !w.vol.join("idp.db-shm").exists());
    let before = w.snapshot();
    let db = w.db.to_string_lossy().into_owned();
    for args in [
        vec!["--db", &db, "inspect"],
        fix_args(&db, &["--dry-run"]),
        vec!["--db", &db, "backups"],
    ] {
        let run = ozr(args.clone()).run();
        assert_sane(&run);
        // Nothing vouches for the connectors without logs: unchecked (5), or a plan (3); never a write.
        assert!([0, 3, 5].contains(&run.code), "{args:?}: {run:?}");
        assert_eq!(w.snapshot(), before, "{args:?} created or changed nothing");
    }
    Handled
});

// ---------------------------------------------------------------------------------------------------
// Hostile schemas, configs Go cannot decode, secrets in every encoding, hostile text, huge numbers.

/// Runs `sql` on the volume's database (before the case's snapshot).
fn alter(w: &World, sql: &str) {
    let conn = rusqlite::Connection::open(&w.db).expect("open");
    conn.execute_batch(sql).expect("alter the schema");
}

/// Sets the JumpCloud connector's config to exactly these bytes (a BLOB), and its name.
fn set_config(w: &World, config: &[u8], name: &str) {
    let conn = rusqlite::Connection::open(&w.db).expect("open");
    conn.execute(
        "update connector set config = ?1, name = ?2 where id = ?3",
        rusqlite::params![config, name, JC_ID],
    )
    .expect("set config");
}

/// A usage error: exit 2, one line, the tree exactly as it was.
fn usage_refused(w: &World, args: &[&str], says: &[&str]) -> Outcome {
    let before = w.snapshot();
    let run = ozr(args).run();
    assert_sane(&run);
    assert_eq!(run.code, 2, "exit 2 expected: {run:?}");
    let text = run.all().to_lowercase();
    for s in says {
        assert!(
            text.contains(&s.to_lowercase()),
            "should say {s:?}: {run:?}"
        );
    }
    assert_eq!(w.snapshot(), before, "no byte changed anywhere");
    Refused
}

// A trigger on the connector table (it would delete every password row when fix updates the row).
hostile!(schema_trigger, Refused, |w| {
    w.seed(&DexDb::locked_out());
    alter(
        w,
        "create trigger wipe after update on connector begin delete from password; end;",
    );
    refused_untouched(w, &w.db, &["trigger", "\"wipe\"", "connector"], true)
});

// A view in the schema.
hostile!(schema_view, Refused, |w| {
    w.seed(&DexDb::locked_out());
    alter(
        w,
        "create view connector_v as select id, config from connector;",
    );
    refused_untouched(w, &w.db, &["view", "connector_v"], true)
});

// The connector table is WITHOUT ROWID.
hostile!(schema_without_rowid, Refused, |w| {
    w.seed(&DexDb::locked_out());
    alter(
        w,
        "create table c2 (id text not null primary key, type text not null, name text not null,
                          resource_version text not null, config blob) without rowid;
         insert into c2 select id, type, name, resource_version, config from connector;
         drop table connector; alter table c2 rename to connector;",
    );
    refused_untouched(w, &w.db, &["without rowid", "nothing was changed"], true)
});

/// A JumpCloud config (the seed's, with `edit` applied) that Go's encoding/json cannot decode into
/// Dex's oidc Config: `fix` is refused, `inspect` shows the connector unknown with the reason.
fn undecodable(w: &World, config: String, says: &str) -> Outcome {
    config_refused(w, config, &["Dex cannot decode its config", says, JC_ID])
}

// `{"issuer":5,"issuer":"https://…"}`: the last issuer is a string, but Go reports the 5.
hostile!(config_issuer_number_then_string, Refused, |w| {
    let cfg = hostile_text("config_issuer_number_then_string");
    undecodable(w, cfg, "issuer is a number")
});

// An object before the string issuer, under a folded key Go matches to `issuer`.
hostile!(config_issuer_object_folded_key, Refused, |w| {
    let cfg = hostile_text("config_issuer_object_folded_key");
    undecodable(w, cfg, "issuer (key")
});

// A type error in another field (clientID a number): fixing the issuer alone would not open it.
hostile!(config_type_error_elsewhere, Refused, |w| {
    let cfg = hostile_text("config_type_error_elsewhere");
    undecodable(w, cfg, "clientID is a number")
});

// Dex's four disagreements with what ozrepair once reported (issue 22), each checked against the Go
// checker (Go 1.23's encoding/json into Dex's oidc Config): what Dex reads before, and after the run.

/// Seeds the volume with the local connector and the JumpCloud one holding `config`.
fn seed_jumpcloud(w: &World, config: &[u8]) {
    let jc = Connector {
        config: Some(String::from_utf8(config.to_vec()).expect("a UTF-8 config")),
        ..Connector::jumpcloud(JUMPCLOUD)
    };
    w.seed(&DexDb::new(11).connectors([Connector::local(), jc]));
}

/// The JumpCloud connector of a JSON report.
fn jumpcloud_of(report: &serde_json::Value) -> serde_json::Value {
    report["connectors"]
        .as_array()
        .and_then(|a| a.iter().find(|c| c["id"] == JC_ID))
        .cloned()
        .expect("the JumpCloud connector")
}

/// The JumpCloud row's config bytes and resource_version as stored now.
fn jumpcloud_stored(w: &World) -> (Vec<u8>, String) {
    let (_d, conn) = read_copy(&w.db);
    let jc = jumpcloud_row(&conn);
    let rv: String = conn
        .query_row(
            "select resource_version from connector where id = ?1",
            [JC_ID],
            |r| r.get(0),
        )
        .expect("rv");
    (jc.config, rv)
}

// `"\u0131ssuer"` (dotless ı) after the real issuer: Go 1.21+ folds ı to itself, so Dex reads the real
// issuer. ozrepair reports that one and `--issuer` rewrites exactly its bytes; the decoy stays.
hostile!(issuer_decoy_dotless_i, Handled, |w| {
    let cfg = hostile_config("issuer_decoy_dotless_i");
    let go = go_decode("oidc", &cfg);
    assert!(go.ok, "{go:?}");
    assert_eq!(
        go.string("issuer"),
        Some(JUMPCLOUD),
        "Dex reads the real issuer"
    );
    seed_jumpcloud(w, &cfg);
    let db = w.db.to_string_lossy().into_owned();
    let look = ozr(["--db", &db, "--output", "json", "inspect"]).run();
    assert_sane(&look);
    let jc = jumpcloud_of(&look.json());
    assert_eq!(jc["issuer"], JUMPCLOUD, "{jc}");
    assert_eq!(jc["endpoints"]["issuer"], JUMPCLOUD, "{jc}");
    let dry = ozr([
        "--db",
        &db,
        "--output",
        "json",
        "fix",
        "--dry-run",
        "--connector",
        JC_ID,
        "--issuer",
        JUMPCLOUD_SLASH,
    ])
    .run();
    assert_eq!(dry.code, 3, "{dry:?}");
    assert_eq!(dry.json()["changes"][0]["from"], JUMPCLOUD, "{dry:?}");
    let run = fix(&w.db, &[]);
    assert_sane(&run);
    assert_eq!(run.code, 0, "{run:?}");
    let (after, _) = jumpcloud_stored(w);
    let expected = String::from_utf8(cfg).expect("UTF-8").replacen(
        &format!(r#""issuer":"{JUMPCLOUD}""#),
        &format!(r#""issuer":"{JUMPCLOUD_SLASH}""#),
        1,
    );
    assert_eq!(
        String::from_utf8_lossy(&after),
        expected,
        "only the real issuer's bytes changed"
    );
    assert_eq!(
        go_decode("oidc", &after).string("issuer"),
        Some(JUMPCLOUD_SLASH),
        "Dex reads the fix"
    );
    Handled
});

// `--set ID.redirectURI=…` with a `redırectURI` decoy after the real one: the value Dex reads is set.
hostile!(set_decoy_dotless_i, Handled, |w| {
    const NEW: &str = "https://vpn2.example.com/oauth2/callback";
    let cfg = hostile_config("set_decoy_dotless_i");
    let real = "https://openzro.example.com/oauth2/callback?x=1&y=2";
    assert_eq!(go_decode("oidc", &cfg).string("redirectURI"), Some(real));
    seed_jumpcloud(w, &cfg);
    let db = w.db.to_string_lossy().into_owned();
    let set = format!("{JC_ID}.redirectURI={NEW}");
    let run = ozr([
        "--db", &db, "--output", "json", "fix", "--set", &set, "--yes",
    ])
    .run();
    assert_sane(&run);
    assert_eq!(run.code, 0, "{run:?}");
    let change = &run.json()["changes"][0];
    assert_eq!(change["field"], "redirectURI", "{run:?}");
    assert_eq!(change["from"], real, "{run:?}");
    let (after, _) = jumpcloud_stored(w);
    let expected = String::from_utf8(cfg).expect("UTF-8").replacen(
        r#""redirectURI":"https://openzro.example.com/oauth2/callback?x=1\u0026y=2""#,
        &format!(r#""redirectURI":"{NEW}""#),
        1,
    );
    assert_eq!(
        String::from_utf8_lossy(&after),
        expected,
        "only the real redirectURI changed"
    );
    assert_eq!(
        go_decode("oidc", &after).string("redirectURI"),
        Some(NEW),
        "Dex reads the new value"
    );
    Handled
});

/// A config whose claimModifications Dex cannot decode (the Go checker says so first): `fix` refuses,
/// `inspect` shows the connector unknown and why, and nothing is written.
fn claim_modifications_refused(w: &World, case: &str, says: &str) -> Outcome {
    let cfg = hostile_text(case);
    let go = go_decode("oidc", cfg.as_bytes());
    assert!(!go.ok, "Dex cannot decode it: {go:?}");
    assert!(go.error.contains("cannot unmarshal"), "{go:?}");
    undecodable(w, cfg, says)
}

// `"claimModifications":{"filterGroupClaims":{"groupsFilter":5}}`: never fixed by an issuer change.
hostile!(claim_modifications_groups_filter_number, Refused, |w| {
    claim_modifications_refused(
        w,
        "claim_modifications_groups_filter_number",
        "claimModifications.filterGroupClaims.groupsFilter is a number",
    )
});

// `"claimModifications":{"newGroupFromClaims":[{"claims":"x"}]}`: never fixed by an issuer change.
hostile!(claim_modifications_claims_string, Refused, |w| {
    claim_modifications_refused(
        w,
        "claim_modifications_claims_string",
        "claimModifications.newGroupFromClaims[0].claims is a string",
    )
});

// NetBird's resource_version `''`: Dex's own update treats it as 0 and writes `1`, so does ozrepair.
hostile!(resource_version_empty_becomes_one, Handled, |w| {
    w.seed(&DexDb::locked_out());
    let (_, before) = jumpcloud_stored(w);
    assert_eq!(before, "");
    let run = fix(&w.db, &[]);
    assert_sane(&run);
    assert_eq!(run.code, 0, "{run:?}");
    let (after, rv) = jumpcloud_stored(w);
    assert_eq!(after, jumpcloud_config(JUMPCLOUD_SLASH).into_bytes());
    assert_eq!(rv, "1");
    Handled
});

// An empty (0-byte) config: Dex does not decode it and opens the connector with issuer "". The report
// says that (not "not valid JSON"), and `fix --issuer` has no field to set.
hostile!(empty_config_as_dex_sees_it, Refused, |w| {
    let go = go_decode("oidc", b"");
    assert!(go.ok && go.string("issuer") == Some(""), "{go:?}");
    seed_jumpcloud(w, &hostile_config("empty_config"));
    let before = w.snapshot();
    let db = w.db.to_string_lossy().into_owned();
    let look = ozr(["--db", &db, "--output", "json", "inspect"]).run();
    assert_sane(&look);
    let jc = jumpcloud_of(&look.json());
    let problem = jc["problem"].as_str().unwrap_or_default();
    assert!(problem.contains("empty (0 bytes)"), "{jc}");
    assert!(problem.contains(r#"issuer """#), "{jc}");
    assert!(!problem.contains("not valid JSON"), "{jc}");
    assert_eq!(jc["status"], "unknown", "{jc}");
    let text = ozr(["--db", &db, "inspect"]).run();
    assert!(!text.all().contains("not valid JSON"), "{text:?}");
    assert_eq!(w.snapshot(), before);
    refused_untouched(w, &w.db, &["empty (0 bytes)", JC_ID], false)
});

// `--issuer ""`, an issuer with a newline, a URL without a host: usage errors before anything is read.
hostile!(issuer_not_a_url, Refused, |w| {
    w.seed(&DexDb::locked_out());
    let db = w.db.to_string_lossy().into_owned();
    for (bad, says) in [
        ("", "empty"),
        ("https://oauth.id.jumpcloud.com/\n", "control character"),
        ("oauth.id.jumpcloud.com", "scheme"),
        ("https:///x", "no host"),
    ] {
        let args = [
            "--db",
            &db,
            "fix",
            "--connector",
            JC_ID,
            "--issuer",
            bad,
            "--yes",
        ];
        usage_refused(w, &args, &[says, "nothing was changed"]);
    }
    Refused
});

// Huge numbers for every numeric flag: usage errors (exit 2) at parse time, no panic, nothing changed.
hostile!(huge_numeric_flags, Refused, |w| {
    w.seed(&DexDb::locked_out());
    let db = w.db.to_string_lossy().into_owned();
    let huge = "18446744073709551615";
    let inv = w.outside.join("inventory");
    std::fs::write(&inv, "unix:///nonexistent.sock\n").expect("inventory");
    let inv = inv.to_string_lossy().into_owned();
    let cases: Vec<Vec<&str>> = vec![
        fix_args(&db, &["--wait", huge]),
        fix_args(&db, &["--wait", "18446744073709551616"]),
        fix_args(&db, &["--wait", "-1"]),
        fix_args(&db, &["--discover", "--discover-timeout", huge]),
        vec!["--db", &db, "restore", "--yes", "--wait", huge],
        vec!["fleet", "--inventory", &inv, "--parallel", huge, "inspect"],
        vec!["fleet", "--inventory", &inv, "--parallel", "0", "inspect"],
        vec!["fleet", "--inventory", &inv, "--serial", huge, "inspect"],
        vec!["fleet", "--inventory", &inv, "--max-fail", huge, "inspect"],
        vec![
            "fleet",
            "--inventory",
            &inv,
            "--host-timeout",
            huge,
            "inspect",
        ],
    ];
    for (i, args) in cases.iter().enumerate() {
        // 2^64 is no number a u64 holds; -1 is refused in words; the durations (--wait,
        // --discover-timeout, --host-timeout) say they are out of range, the counts name their range.
        let says: &[&str] = match i {
            1 => &[],
            2 => &["never negative"],
            0 | 3 | 4 | 9 => &["out of range", "from"],
            _ => &["is not in"],
        };
        usage_refused(w, args, says);
    }
    Refused
});

// resource_version at u64::MAX: the fix goes through and the version stays (saturates, never wraps).
hostile!(resource_version_max, Handled, |w| {
    let jc = Connector {
        resource_version: "18446744073709551615",
        ..Connector::jumpcloud(JUMPCLOUD)
    };
    w.seed(&DexDb::new(11).connectors([Connector::local(), jc]));
    let run = fix(&w.db, &[]);
    assert_sane(&run);
    assert_eq!(run.code, 0, "{run:?}");
    let (_d, conn) = read_copy(&w.db);
    let jc = jumpcloud_row(&conn);
    assert_eq!(jc.config, jumpcloud_config(JUMPCLOUD_SLASH).into_bytes());
    let rv: String = conn
        .query_row(
            "select resource_version from connector where id = ?1",
            [JC_ID],
            |r| r.get(0),
        )
        .expect("rv");
    assert_eq!(rv, "18446744073709551615");
    Handled
});

/// Every form a secret could be printed in: raw, JSON-escaped, Rust-escaped.
fn forms(secret: &str) -> Vec<String> {
    let json = serde_json::to_string(secret).expect("json");
    vec![
        secret.to_string(),
        json.trim_matches('"').to_string(),
        format!("{secret:?}").trim_matches('"').to_string(),
    ]
}

/// inspect (text and JSON) and `fix --dry-run --set` echoing `secret` into clientID (a field that takes
/// any text: a URL field would refuse a control character as Go's url.Parse does): valid JSON, and no
/// form of `secret` (nor its distinctive `marker`) in any output.
fn secret_never_printed(w: &World, config: &[u8], secret: &str, marker: &str) -> Outcome {
    w.seed(&DexDb::locked_out());
    set_config(w, config, "JumpCloud");
    let before = w.snapshot();
    let db = w.db.to_string_lossy().into_owned();
    let echo = format!("{JC_ID}.clientID=id-{secret}");
    let runs = [
        ozr(["--db", &db, "inspect"]).run(),
        ozr(["--db", &db, "--output", "json", "inspect"]).run(),
        ozr(["--db", &db, "fix", "--dry-run", "--set", &echo]).run(),
        ozr([
            "--db",
            &db,
            "--output",
            "json",
            "fix",
            "--dry-run",
            "--set",
            &echo,
        ])
        .run(),
    ];
    for (i, run) in runs.iter().enumerate() {
        assert_sane(run);
        assert!(matches!(run.code, 0 | 3 | 5 | 6), "{run:?}");
        if i % 2 == 1 {
            serde_json::from_str::<serde_json::Value>(run.stdout.trim()).expect("valid JSON");
        }
        for f in forms(secret).iter().chain([&marker.to_string()]) {
            assert!(!run.all().contains(f.as_str()), "{f:?} printed: {run:?}");
        }
    }
    assert!(
        runs[2].stdout.contains("[redacted]"),
        "the echo is redacted in the diff: {:?}",
        runs[2]
    );
    assert_eq!(w.snapshot(), before, "dry runs change nothing");
    Handled
}

// A secret with U+2028 and DEL, echoed in the diff (the text diff once escaped it past the scrub).
hostile!(secret_with_separator_and_del, Handled, |w| {
    // Raw in the config: Go's JSON takes U+2028 and DEL unescaped.
    let cfg = hostile_config("secret_with_separator_and_del");
    secret_never_printed(w, &cfg, SEPARATOR_SECRET, "zq-sec")
});

// A secret with a byte that is not UTF-8, and a field nested deeper than 128 levels (the secrets were
// once collected by a stricter parser than Go's, which gave up on both): Go reads it with U+FFFD.
hostile!(secret_invalid_utf8_and_deep, Handled, |w| {
    let cfg = hostile_config("secret_invalid_utf8_and_deep");
    secret_never_printed(w, &cfg, "zq-inval\u{fffd}x-secret", "zq-inval")
});

// A key Go reads as clientSecret, spelled with the long s: its value is a secret too.
hostile!(secret_under_folded_key, Handled, |w| {
    let cfg = hostile_config("secret_under_folded_key");
    secret_never_printed(w, &cfg, SECRET, "e2e-client-secret")
});

// `--set ID.clientſecret=…` is a secret field as Go reads it: refused (exit 2), nothing changed.
hostile!(set_folded_secret_key, Refused, |w| {
    w.seed(&DexDb::locked_out());
    let db = w.db.to_string_lossy().into_owned();
    for field in ["clientſecret", "CLIENTSECRET", "bindpw"] {
        let set = format!("{JC_ID}.{field}=stolen");
        usage_refused(
            w,
            &["--db", &db, "fix", "--set", &set, "--yes"],
            &["does not set secrets"],
        );
    }
    Refused
});

// Secrets of 1-3 characters and `null`, equal to another field: redacted where they are that field's
// value; the JSON report stays valid; the issuer (which contains "https") is printed intact.
hostile!(secret_short_null_and_common, Handled, |w| {
    w.seed(&DexDb::locked_out());
    for secret in SHORT_SECRETS {
        let cfg = short_secret_config(secret);
        set_config(w, cfg.as_bytes(), "JumpCloud");
        let run = ozr([
            "--db",
            &w.db.to_string_lossy(),
            "--output",
            "json",
            "inspect",
        ])
        .run();
        assert_sane(&run);
        let v: serde_json::Value = serde_json::from_str(run.stdout.trim()).expect("valid JSON");
        let jc = v["connectors"]
            .as_array()
            .and_then(|a| a.iter().find(|c| c["id"] == JC_ID))
            .expect("the JumpCloud connector");
        assert_eq!(jc["endpoints"]["clientID"], "[redacted]", "{secret}: {jc}");
        assert_eq!(jc["issuer"], JUMPCLOUD, "{secret}: not mangled");
        assert_eq!(
            jc["endpoints"]["redirectURI"], "https://vpn.example.com/cb",
            "{secret}: not mangled"
        );
        assert_eq!(v["schema_version"], 2);
    }
    Handled
});

// Control characters in a connector's name and id: escaped in the text report, never raw.
hostile!(control_characters_in_names, Handled, |w| {
    w.seed(&DexDb::locked_out());
    set_config(
        w,
        jumpcloud_config(JUMPCLOUD).as_bytes(),
        "Jump\x1b[2J\x1b]0;owned\x07\rCloud\u{202e}\u{9b}",
    );
    let before = w.snapshot();
    let db = w.db.to_string_lossy().into_owned();
    for args in [
        vec!["--db", db.as_str(), "inspect"],
        vec![
            "--db",
            db.as_str(),
            "--color",
            "never",
            "fix",
            "--dry-run",
            "--connector",
            JC_ID,
            "--issuer",
            JUMPCLOUD_SLASH,
        ],
        vec!["--db", db.as_str(), "--output", "nagios", "inspect"],
        vec!["--db", db.as_str(), "--output", "json", "inspect"],
    ] {
        let run = ozr(&args).run();
        assert_sane(&run);
        for bad in ['\x1b', '\r', '\x07', '\u{202e}', '\u{9b}'] {
            assert!(!run.all().contains(bad), "{bad:?} printed raw: {run:?}");
        }
        if !args.contains(&"nagios") {
            assert!(run.stdout.contains("Jump"), "{run:?}");
        }
    }
    assert_eq!(w.snapshot(), before);
    Handled
});

// ---------------------------------------------------------------------------------------------------
// Issue 23: argv, passwords.

/// Every (command path, option) that takes a value, from clap's own definitions: the global options on
/// the top level and after every subcommand, and each subcommand's own (options and positionals).
fn options_taking_values() -> Vec<(Vec<String>, clap::Arg)> {
    use clap::CommandFactory;
    fn walk(
        cmd: &clap::Command,
        path: Vec<String>,
        globals: &[clap::Arg],
        out: &mut Vec<(Vec<String>, clap::Arg)>,
    ) {
        let own = cmd.get_arguments().filter(|a| !a.is_global_set());
        let all: Vec<clap::Arg> = own.cloned().chain(globals.iter().cloned()).collect();
        for a in all {
            let id = a.get_id().as_str();
            if a.get_action().takes_values() && id != "help" && id != "version" {
                out.push((path.clone(), a));
            }
        }
        for sub in cmd.get_subcommands() {
            let mut p = path.clone();
            p.push(sub.get_name().to_string());
            walk(sub, p, globals, out);
        }
    }
    let root = ozrepair::cli::Cli::command();
    let globals: Vec<clap::Arg> = root
        .get_arguments()
        .filter(|a| a.is_global_set())
        .cloned()
        .collect();
    let mut out = Vec::new();
    walk(&root, Vec::new(), &globals, &mut out);
    out
}

/// How an error names the option `a`.
fn option_name(a: &clap::Arg) -> String {
    match (a.get_long(), a.get_short()) {
        (Some(l), _) => format!("--{l}"),
        (None, Some(c)) => format!("-{c}"),
        (None, None) => format!(
            "<{}>",
            a.get_value_names()
                .and_then(|v| v.first())
                .map(|v| v.to_string())
                .unwrap_or_else(|| a.get_id().as_str().to_uppercase())
        ),
    }
}

/// A refusal of a value that is not UTF-8: exit 2, one line on stderr naming `name`, no panic; with
/// `--output json` also one JSON report on stdout whose error names it.
fn assert_not_utf8_refused(run: &Run, name: &str, json: bool, what: &str) {
    assert_sane(run);
    assert_eq!(run.code, 2, "{what}: exit 2 expected: {run:?}");
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{what}: one line: {run:?}");
    assert!(
        lines[0].starts_with("ozrepair: ") && lines[0].contains(&format!("{name} is not UTF-8")),
        "{what}: names {name}: {run:?}"
    );
    if json {
        let v: serde_json::Value = serde_json::from_str(run.stdout.trim())
            .unwrap_or_else(|e| panic!("{what}: one JSON report ({e}): {run:?}"));
        assert_eq!(v["result"], "failed", "{what}: {v}");
        assert!(
            v["error"].as_str().unwrap_or_default().contains(name),
            "{what}: {v}"
        );
    } else {
        assert_eq!(run.stdout, "", "{what}: {run:?}");
    }
}

// A value that is not UTF-8, for every option that takes one on every command (as `--opt VALUE` and as
// `--opt=VALUE`, in text and JSON output): a usage error naming the option, never a panic (today's main
// dies in `std::env::args`), never a run on a mangled path.
hostile!(argv_not_utf8_for_every_option, Refused, |w| {
    use std::ffi::OsString;
    use std::os::unix::ffi::OsStringExt;
    let bad = || OsString::from_vec(b"x\xffy".to_vec());
    let before = w.snapshot();
    let mut runs = 0;
    for (path, a) in options_taking_values() {
        let name = option_name(&a);
        for (json, joined) in [(false, false), (false, true), (true, false)] {
            // `--output VALUE --output json` would be two outputs: JSON is asked for the others only.
            if json && a.get_id().as_str() == "output" {
                continue;
            }
            let mut argv: Vec<OsString> = path.iter().map(OsString::from).collect();
            match (a.get_long(), joined) {
                (Some(l), true) => {
                    let mut v = format!("--{l}=").into_bytes();
                    v.extend_from_slice(b"x\xffy");
                    argv.push(OsString::from_vec(v));
                }
                (Some(l), false) => argv.extend([OsString::from(format!("--{l}")), bad()]),
                (None, true) => continue,
                (None, false) => argv.push(bad()),
            }
            if json {
                argv.extend(["--output".into(), "json".into()]);
            }
            let what = format!("{path:?} {name} (json {json}, joined {joined})");
            let run = ozr(&argv).run();
            assert_not_utf8_refused(&run, &name, json, &what);
            runs += 1;
        }
    }
    assert!(runs > 100, "{runs} command lines");
    eprintln!(
        "{runs} command lines with a value that is not UTF-8, each refused naming its option"
    );
    // A short option with its value attached, in a cluster.
    let run = ozr([OsString::from("-vH"), bad(), "inspect".into()]).run();
    assert_not_utf8_refused(&run, "--host", false, "-vH");
    // $DOCKER_HOST, the default of --host, is named as the variable (with -H given too: clap reads it).
    for args in [
        vec!["inspect"],
        vec!["-H", "unix:///nonexistent/ozr.sock", "inspect"],
    ] {
        let run = ozr(&args).env("DOCKER_HOST", bad()).run();
        let name = "$DOCKER_HOST (the default of --host)";
        assert_not_utf8_refused(&run, name, false, "DOCKER_HOST");
    }
    assert_eq!(w.snapshot(), before, "nothing written");
    Refused
});

const ALICE: &str = "alice@example.com";

/// The volume's database with a local user, alice (user id `u-alice`), and her old password.
fn with_alice(w: &World) {
    w.seed(&DexDb::locked_out());
    let old = bcrypt::hash_with_result("Old-Passw0rd!", 10)
        .expect("hash")
        .format_for_version(bcrypt::Version::TwoA);
    let conn = rusqlite::Connection::open(&w.db).expect("open");
    conn.execute(
        "insert into password (email, hash, username, user_id) values (?1, ?2, 'alice', 'u-alice')",
        rusqlite::params![ALICE, old.as_bytes()],
    )
    .expect("insert alice");
}

/// `ozrepair --db DB password` for alice with `password` (a line of its own in a file outside the world).
fn password_run(w: &World, password: &[u8]) -> Run {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("new-password");
    let mut data = password.to_vec();
    data.push(b'\n');
    std::fs::write(&file, data).expect("write the password file");
    ozr([
        "--db".as_ref(),
        w.db.as_os_str(),
        "password".as_ref(),
        "--email".as_ref(),
        ALICE.as_ref(),
        "--password-file".as_ref(),
        file.as_os_str(),
        "--yes".as_ref(),
    ])
    .run()
}

// Passwords of 71 and 72 bytes are set whole, as Go's bcrypt hashes up to 72 (today's main refuses 72):
// Dex's login by the real Go library takes exactly that password and not one that differs in its last
// byte.
hostile!(password_of_72_bytes_is_set_whole, Handled, |w| {
    with_alice(w);
    for n in [71, 72] {
        let p = format!("A1!{}", "x".repeat(n - 3));
        assert_eq!(p.len(), n);
        let run = password_run(w, p.as_bytes());
        assert_sane(&run);
        assert_eq!(run.code, 0, "{n} bytes: {run:?}");
        assert!(!run.all().contains(&p), "the password was printed");
        assert_eq!(
            crate::util::login::dex_login(&w.db, ALICE, &p),
            Ok("u-alice".to_string()),
            "{n} bytes"
        );
        let last = format!("{}y", &p[..n - 1]);
        assert!(
            crate::util::login::dex_login(&w.db, ALICE, &last).is_err(),
            "{n} bytes: the last byte is part of the hash"
        );
    }
    Handled
});

// 73 bytes, and control characters no login form sends (NUL, a tab, ESC, DEL, a C1 control): refused as
// a usage error with one line that does not quote the password (today's main takes a NUL), nothing
// changed.
hostile!(password_too_long_or_with_control_characters, Refused, |w| {
    with_alice(w);
    let before = w.snapshot();
    let long = format!("A1!{}", "x".repeat(70));
    for bad in [
        long.as_bytes(),
        b"Correct\0Horse-9",
        b"Correct\tHorse-9",
        b"Correct\x1bHorse-9",
        b"Correct\x7fHorse-9",
        "Correct\u{85}Horse-9".as_bytes(),
    ] {
        let run = password_run(w, bad);
        assert_sane(&run);
        assert_eq!(run.code, 2, "{bad:?}: {run:?}");
        assert_eq!(run.stderr.lines().count(), 1, "{bad:?}: one line: {run:?}");
        assert!(run.stderr.contains("nothing was changed"), "{run:?}");
        let text = String::from_utf8_lossy(bad);
        assert!(
            !run.all().contains(&*text),
            "the password was printed: {run:?}"
        );
        assert_eq!(w.snapshot(), before, "{bad:?}: no byte changed");
    }
    Refused
});

// ---------------------------------------------------------------------------------------------------
// Issue 23: the project's scripts and the dpkg lock.

/// Scripts whose apt-get lines another branch owns (scripts/lib/go-build.sh, reworked for Go 1.23): the
/// name goes from this list when that file installs through scripts/lib/apt.sh.
const APT_PENDING: &[&str] = &[];

/// Every `apt-get`/`apt` command line in `dir`'s shell scripts (and `.ci/run`) that is not in
/// scripts/lib/apt.sh: (file, line number, line).
fn bare_apt_lines(root: &Path) -> Vec<(String, usize, String)> {
    let mut files = vec![root.join(".ci/run")];
    let mut dirs = vec![root.join("scripts")];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).expect("read scripts/") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|x| x == "sh") {
                files.push(p);
            }
        }
    }
    let mut out = Vec::new();
    for f in files {
        let name = f
            .strip_prefix(root)
            .expect("in the repository")
            .display()
            .to_string();
        if name == "scripts/lib/apt.sh" || APT_PENDING.contains(&name.as_str()) {
            continue;
        }
        let text = std::fs::read_to_string(&f).expect("read a script");
        for (n, line) in text.lines().enumerate() {
            let code = line.trim_start();
            if code.starts_with('#') {
                continue;
            }
            // A command: the word, then an argument (not `)` or a redirection, as in messages and
            // `command -v apt-get >/dev/null`).
            let called = ["apt-get ", "apt "].iter().any(|w| {
                code.match_indices(w).any(|(i, _)| {
                    let before = code[..i].chars().last();
                    let after = code[i + w.len()..].chars().next();
                    !before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '-')
                        && after.is_some_and(|c| c.is_ascii_lowercase() || c == '-')
                })
            });
            if called {
                out.push((name.clone(), n + 1, line.to_string()));
            }
        }
    }
    out
}

/// Holds an fcntl write lock on `path` (as apt and dpkg lock their files) until dropped (closing the file
/// lets it go).
struct FcntlLock(#[allow(dead_code)] std::fs::File);

impl FcntlLock {
    fn take(path: &Path) -> FcntlLock {
        use std::os::fd::AsRawFd;
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .expect("open the lock file");
        // SAFETY: a plain struct of integers, filled in below.
        let mut fl: libc::flock = unsafe { std::mem::zeroed() };
        fl.l_type = libc::F_WRLCK as libc::c_short;
        fl.l_whence = libc::SEEK_SET as libc::c_short;
        // SAFETY: `f` is open for writing; `fl` is a valid flock.
        let r = unsafe { libc::fcntl(f.as_raw_fd(), libc::F_SETLK, &fl) };
        assert_eq!(r, 0, "lock {}", path.display());
        FcntlLock(f)
    }
}

// Every apt-get the project's scripts run goes through scripts/lib/apt.sh, and its apt_get waits for the
// dpkg lock that another apt run holds (proven with apt-get itself on a private copy of dpkg's state, so
// the machine's own lock is never taken): a concurrent apt run delays the tests instead of failing them.
hostile!(scripts_wait_for_the_dpkg_lock, Handled, |w| {
    let root = crate::util::repo();
    let bare = bare_apt_lines(&root);
    assert!(
        bare.is_empty(),
        "apt-get run without waiting for the dpkg lock (use scripts/lib/apt.sh): {bare:#?}"
    );
    let admin = w.outside.join("dpkg");
    std::fs::create_dir(&admin).expect("mkdir");
    std::fs::copy("/var/lib/dpkg/status", admin.join("status")).expect("dpkg status");
    let apt = |timeout: &str| {
        let script = format!(
            ". '{}'; apt_get -o Dir::State::status='{}' check",
            root.join("scripts/lib/apt.sh").display(),
            admin.join("status").display()
        );
        let mut c = Command::new("bash");
        c.args(["-c", &script]).env("OZR_APT_LOCK_TIMEOUT", timeout);
        c
    };
    let lock = admin.join("lock-frontend");
    // Without waiting, a held lock fails at once: the case can fail.
    let held = FcntlLock::take(&lock);
    let out = run::output(&mut apt("0"));
    assert!(!out.status.success(), "apt-get took a held lock");
    assert!(
        out.stderr_text().contains("Could not get lock"),
        "{}",
        out.stderr_text()
    );
    // Waiting, it goes on once the other run lets go.
    let start = Instant::now();
    let mut waiting = apt("60")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("bash");
    let released = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(2));
        drop(held);
    });
    let status = waiting.wait().expect("wait");
    released.join().expect("join");
    assert!(status.success(), "apt_get did not wait for the lock");
    assert!(
        start.elapsed() >= Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    Handled
});
