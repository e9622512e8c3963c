//! `ozr-seed`: writes a Dex database for the demo and the tests.
//!
//!   ozr-seed --db PATH [--schema N] [--connectors JSON] [--owner UID:GID] [--mode OCTAL]
//!
//!   ozr-seed --db PATH --hot-journal
//!
//!   ozr-seed --db PATH --hold-lock SECONDS
//!
//!   ozr-seed --db PATH --wal-pending
//!
//! --hot-journal: opens an existing database, writes enough inside one transaction that SQLite spills
//! pages into the file, and dies without committing: a hot -journal is left beside it, as after a crash.
//!
//! --hold-lock: opens an existing database, takes SQLite's exclusive lock (`BEGIN EXCLUSIVE`), prints
//! `locked` on stdout and sleeps SECONDS holding it, as another process in the middle of its work would.
//!
//! --wal-pending: switches an existing database to WAL mode, commits a change that stays in the -wal
//! (a password row `wal@example.com` and the connector names suffixed ` (wal)`), and dies without a
//! checkpoint: the committed data exists only in the -wal beside it, as after a crash.
//!
//! JSON is an array of {"id","type","name","resource_version","config"}; `config` is a string holding the
//! exact bytes to store (stored as a BLOB) or null. --schema defaults to 11 (NetBird's Dex fork).

use ozrepair_standin::seed::{create_dex_db, insert_connector, insert_other_rows, Connector};
use std::path::PathBuf;

fn main() {
    if let Err(e) = run() {
        eprintln!("ozr-seed: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (mut db, mut schema, mut connectors, mut owner, mut mode) =
        (None, 11usize, String::from("[]"), None, None);
    while let Some(a) = args.next() {
        let mut val = || args.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--db" => db = Some(PathBuf::from(val()?)),
            "--schema" => schema = val()?.parse()?,
            "--connectors" => connectors = val()?,
            "--owner" => owner = Some(val()?),
            "--mode" => mode = Some(u32::from_str_radix(&val()?, 8)?),
            "--hot-journal" => {
                let db = db.clone().ok_or("--db comes before --hot-journal")?;
                return crash_mid_transaction(&db);
            }
            "--hold-lock" => {
                let db = db.clone().ok_or("--db comes before --hold-lock")?;
                let secs: u64 = val()?.parse()?;
                return hold_lock(&db, secs);
            }
            "--wal-pending" => {
                let db = db.clone().ok_or("--db comes before --wal-pending")?;
                return crash_with_wal(&db);
            }
            _ => return Err(format!("unknown argument {a}").into()),
        }
    }
    let db = db.ok_or("--db is required")?;
    if db.exists() {
        return Err(format!("{} exists already", db.display()).into());
    }
    let list: Vec<serde_json::Value> = serde_json::from_str(&connectors)?;
    let conn = create_dex_db(&db, schema)?;
    for c in &list {
        let s = |k: &str| c.get(k).and_then(|v| v.as_str()).unwrap_or("").to_string();
        let config = c
            .get("config")
            .and_then(|v| v.as_str())
            .map(|s| s.as_bytes().to_vec());
        let (id, typ, name, rv) = (s("id"), s("type"), s("name"), s("resource_version"));
        insert_connector(
            &conn,
            &Connector {
                id: &id,
                typ: &typ,
                name: &name,
                resource_version: &rv,
                config: config.as_deref(),
            },
        )?;
    }
    insert_other_rows(&conn)?;
    drop(conn);
    if let Some(o) = owner {
        let (u, g) = o.split_once(':').ok_or("--owner is UID:GID")?;
        std::os::unix::fs::chown(&db, Some(u.parse()?), Some(g.parse()?))?;
    }
    if let Some(m) = mode {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&db, std::fs::Permissions::from_mode(m))?;
    }
    Ok(())
}

fn crash_mid_transaction(db: &std::path::Path) -> Result<(), Box<dyn std::error::Error>> {
    let conn = rusqlite::Connection::open(db)?;
    conn.execute_batch("pragma journal_mode=delete; pragma cache_size=2; begin immediate;")?;
    let filler = vec![0x5au8; 1024];
    for i in 0..2000 {
        conn.execute(
            "insert into password (email, hash, username, user_id) values (?1, ?2, 'x', 'x')",
            rusqlite::params![format!("crash{i}@example.com"), filler],
        )?;
    }
    // Die like a killed process: no commit, no rollback, no close.
    // SAFETY: _exit ends the process at once; nothing after it runs.
    unsafe { libc::_exit(9) }
}

fn hold_lock(db: &std::path::Path, secs: u64) -> Result<(), Box<dyn std::error::Error>> {
    use std::io::Write;
    let conn = rusqlite::Connection::open(db)?;
    conn.execute_batch("begin exclusive;")?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "locked")?;
    out.flush()?;
    std::thread::sleep(std::time::Duration::from_secs(secs));
    conn.execute_batch("rollback;")?;
    Ok(())
}

fn crash_with_wal(db: &std::path::Path) -> Result<(), Box<dyn std::error::Error>> {
    let conn = rusqlite::Connection::open(db)?;
    let mode: String = conn.query_row("pragma journal_mode=wal", [], |r| r.get(0))?;
    if mode != "wal" {
        return Err(format!("journal_mode is {mode}, not wal").into());
    }
    conn.execute_batch(
        "pragma wal_autocheckpoint=0;
         begin;
         insert into password (email, hash, username, user_id) values ('wal@example.com', x'00', 'wal', 'wal');
         update connector set name = name || ' (wal)';
         commit;",
    )?;
    // Die without closing: closing the last connection would checkpoint the -wal into the database.
    // SAFETY: _exit ends the process at once; nothing after it runs.
    unsafe { libc::_exit(0) }
}
