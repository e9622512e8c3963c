//! Builds Dex SQLite databases the way Dex itself does: a `migrations` table, then each SQLite migration of
//! `migrations/` in one transaction with its row `(num, date('now'))`.

use rusqlite::{params, Connection};
use std::path::Path;

include!(concat!(env!("OUT_DIR"), "/migrations.rs"));

/// Number of Dex SQLite migrations the repository ships.
pub fn known_migrations() -> usize {
    MIGRATIONS.len()
}

/// Creates a Dex database at `path` with the first `level` migrations applied.
pub fn create_dex_db(path: &Path, level: usize) -> rusqlite::Result<Connection> {
    assert!(
        level <= MIGRATIONS.len(),
        "only {} migrations are known",
        MIGRATIONS.len()
    );
    let mut conn = Connection::open(path)?;
    conn.execute_batch(
        "create table if not exists migrations (num integer not null, at timestamp not null);",
    )?;
    for (i, (_, sql)) in MIGRATIONS.iter().take(level).enumerate() {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.execute(
            "insert into migrations (num, at) values (?1, date('now'))",
            [i as i64 + 1],
        )?;
        tx.commit()?;
    }
    Ok(conn)
}

/// One connector row, `config` given as the exact bytes to store (bound as a BLOB, as Go binds `[]byte`).
pub struct Connector<'a> {
    pub id: &'a str,
    pub typ: &'a str,
    pub name: &'a str,
    pub resource_version: &'a str,
    pub config: Option<&'a [u8]>,
}

pub fn has_column(conn: &Connection, table: &str, column: &str) -> rusqlite::Result<bool> {
    let mut st = conn.prepare(&format!("pragma table_info({table})"))?;
    let names: Vec<String> = st.query_map([], |r| r.get(1))?.collect::<Result<_, _>>()?;
    Ok(names.iter().any(|n| n == column))
}

pub fn insert_connector(conn: &Connection, c: &Connector) -> rusqlite::Result<()> {
    if has_column(conn, "connector", "grant_types")? {
        // Dex writes json.Marshal(nil) = `null` for a connector without grant types.
        conn.execute(
            "insert into connector (id, type, name, resource_version, config, grant_types) values (?1, ?2, ?3, ?4, ?5, ?6)",
            params![c.id, c.typ, c.name, c.resource_version, c.config, b"null".as_slice()],
        )?;
    } else {
        conn.execute(
            "insert into connector (id, type, name, resource_version, config) values (?1, ?2, ?3, ?4, ?5)",
            params![c.id, c.typ, c.name, c.resource_version, c.config],
        )?;
    }
    Ok(())
}

/// A few rows elsewhere in the database, so that tests can prove they are left alone.
pub fn insert_other_rows(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute(
        "insert into password (email, hash, username, user_id) values (?1, ?2, ?3, ?4)",
        params![
            "admin@example.com",
            b"$2a$10$abcdefghijklmnopqrstuv".as_slice(),
            "admin",
            "0001"
        ],
    )?;
    Ok(())
}
