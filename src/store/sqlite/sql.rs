//! Dex's schema in SQLite: the schema check, the connector rows, and the one write ozrepair makes (config
//! bytes bound as a BLOB, in one transaction, verified after commit).

use super::host::busy_timeout;
use crate::dex::{ConnectorRow, Schema, Storage};
use crate::fault::{self, Point};
use crate::shared::{Interned, Shared};
use crate::store::{Edit, NewRow, WriteError};
use anyhow::{bail, Context, Result};
use rusqlite::{params, types::ValueRef, Connection, OpenFlags, TransactionBehavior};
use std::path::Path;

/// Opens a file that nothing else may change (a backup) read-only and immutable: no locks, no journal.
pub fn open_immutable(path: &Path) -> Result<Connection> {
    let uri = format!("file:{}?immutable=1", uri_escape(&path.to_string_lossy()));
    Connection::open_with_flags(
        &uri,
        OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .with_context(|| format!("cannot open {} as SQLite", path.display()))
}

/// Percent-escapes what a SQLite URI path cannot hold literally.
fn uri_escape(p: &str) -> String {
    p.bytes()
        .map(|b| match b {
            b'?' | b'#' | b'%' | 0x80.. => format!("%{b:02X}"),
            _ => (b as char).to_string(),
        })
        .collect()
}

fn not_dex(path: &Path, why: impl std::fmt::Display) -> anyhow::Error {
    anyhow::anyhow!(
        "{} is not a Dex database this tool understands ({why}); nothing was changed",
        path.display()
    )
}

/// The first read of a database failed: say whether it is locked, damaged or not SQLite at all, and what
/// to do next, instead of calling every failure "not a Dex database".
fn unreadable(path: &Path, e: rusqlite::Error) -> anyhow::Error {
    use rusqlite::ErrorCode::*;
    match e.sqlite_error_code() {
        Some(DatabaseBusy | DatabaseLocked) => anyhow::anyhow!(
            "{} is locked by {} and stayed locked for {} ms; nothing was changed; stop what holds it (the IdP container, a sqlite3 shell, a backup job) and run again, or wait longer with OZREPAIR_BUSY_TIMEOUT_MS",
            path.display(),
            super::locks::holders_of(path).unwrap_or_else(|| "another process".into()),
            busy_timeout().as_millis()
        ),
        Some(DatabaseCorrupt) => anyhow::anyhow!(
            "{} is damaged (SQLite says: {e}); nothing was changed; put a backup back with `ozrepair restore` (`ozrepair backups` lists them)",
            path.display()
        ),
        Some(NotADatabase) => anyhow::anyhow!(
            "{} is not an SQLite database (SQLite says: {e}); nothing was changed; check the path, or pass --db with the IdP's database file",
            path.display()
        ),
        _ => not_dex(path, format!("SQLite says: {e}")),
    }
}

/// Checks that the database is Dex's SQL storage with a connector table ozrepair can read and write.
pub fn check_schema(conn: &Connection, path: &Path) -> Result<Schema> {
    let tables: Vec<String> = conn
        .prepare("select name from sqlite_master where type = 'table'")
        .and_then(|mut st| st.query_map([], |r| r.get(0))?.collect())
        .map_err(|e| unreadable(path, e))?;
    if !tables.iter().any(|t| t == "connector") {
        if tables.iter().any(|t| t == "connectors") {
            return Err(not_dex(path, "it uses Dex's ent storage (a `connectors` table), which this version does not edit"));
        }
        return Err(not_dex(
            path,
            format!("no `connector` table; tables: {}", tables.join(", ")),
        ));
    }
    if !tables.iter().any(|t| t == "migrations") {
        return Err(not_dex(path, "no `migrations` table"));
    }
    check_shape(conn, path)?;
    let mut columns: Vec<(String, String)> = Vec::new();
    let mut st = conn.prepare("pragma table_info(connector)")?;
    let mut rows = st.query([])?;
    while let Some(r) = rows.next()? {
        columns.push((
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?.to_ascii_lowercase(),
        ));
    }
    for need in ["id", "type", "name", "resource_version", "config"] {
        if !columns.iter().any(|(c, _)| c == need) {
            return Err(not_dex(
                path,
                format!("the connector table has no `{need}` column"),
            ));
        }
    }
    let migrations: Option<i64> =
        conn.query_row("select max(num) from migrations", [], |r| r.get(0))?;
    Ok(Schema {
        migrations: migrations.unwrap_or(0),
        has_grant_types: columns.iter().any(|(c, _)| c == "grant_types"),
        flavour_only: 0,
    })
}

/// Shapes Dex's migrations never create, which would make ozrepair's one UPDATE do something else than
/// replace one row's bytes (a trigger fires, a view or virtual table routes it elsewhere) or make the
/// read-back differ: any trigger or view in the schema, a `connector` table that is virtual, WITHOUT
/// ROWID, or has generated columns. Refused before anything is written.
fn check_shape(conn: &Connection, path: &Path) -> Result<()> {
    let odd: Vec<(String, String, String)> = conn
        .prepare(
            "select type, name, tbl_name from sqlite_master where type in ('trigger', 'view') order by type, name",
        )
        .and_then(|mut st| st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?.collect())
        .map_err(|e| unreadable(path, e))?;
    if let Some((kind, name, table)) = odd.first() {
        let on = if kind == "trigger" {
            format!(" on table {table:?}")
        } else {
            String::new()
        };
        return Err(not_dex(
            path,
            format!(
                "it has a {kind} {name:?}{on} ({} in all), which Dex never creates and which an edit would set off; remove it by hand if it is not meant to be there",
                odd.len()
            ),
        ));
    }
    let (sql, wr, ncol, xcol): (String, i64, i64, i64) = conn
        .query_row(
            "select (select coalesce(sql, '') from sqlite_master where type = 'table' and name = 'connector'),
                    coalesce((select wr from pragma_table_list where schema = 'main' and name = 'connector'), 0),
                    (select count(*) from pragma_table_info('connector')),
                    (select count(*) from pragma_table_xinfo('connector'))",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .map_err(|e| unreadable(path, e))?;
    let sql = sql.to_ascii_lowercase();
    let why = if sql.trim_start().starts_with("create virtual table") {
        Some("the connector table is a virtual table")
    } else if wr != 0 {
        Some("the connector table is WITHOUT ROWID")
    } else if xcol != ncol {
        Some("the connector table has generated or hidden columns")
    } else {
        None
    };
    match why {
        Some(w) => Err(not_dex(path, format!("{w}, a shape Dex never creates"))),
        None => Ok(()),
    }
}

/// SQLite's storage class of a value.
fn storage_of(v: &ValueRef) -> Storage {
    match v {
        ValueRef::Null => Storage::Null,
        ValueRef::Integer(_) => Storage::Integer,
        ValueRef::Real(_) => Storage::Real,
        ValueRef::Text(_) => Storage::Text,
        ValueRef::Blob(_) => Storage::Blob,
    }
}

/// A text (or blob) column's bytes as they are, when they are valid UTF-8 (nearly always).
fn utf8_of<'a>(v: &ValueRef<'a>) -> Option<&'a str> {
    match *v {
        ValueRef::Text(b) | ValueRef::Blob(b) => std::str::from_utf8(b).ok(),
        _ => None,
    }
}

/// [`text_of`] as a [`Shared`] string, copied once (valid UTF-8 straight from SQLite's buffer).
fn shared_text_of(v: ValueRef) -> Shared {
    match utf8_of(&v) {
        Some(s) => Shared::from(s),
        None => Shared::from(text_of(v)),
    }
}

fn text_of(v: ValueRef) -> String {
    match v {
        // Valid UTF-8 (nearly always) copied as it is; anything else as from_utf8_lossy reads it.
        ValueRef::Text(b) | ValueRef::Blob(b) => match std::str::from_utf8(b) {
            Ok(s) => s.to_owned(),
            Err(_) => String::from_utf8_lossy(b).into_owned(),
        },
        ValueRef::Integer(i) => i.to_string(),
        ValueRef::Real(f) => f.to_string(),
        ValueRef::Null => String::new(),
    }
}

/// Every connector row, in rowid order, in one pass.
pub fn connectors(conn: &Connection) -> Result<Vec<ConnectorRow>> {
    let mut st = conn
        .prepare("select id, type, name, resource_version, config from connector order by rowid")?;
    // Room for every row at once (10,000 rows are 1.3 MB: regrowing copies them); only a hint, the
    // rows are what the select returns.
    let count: i64 = conn
        .query_row("select count(*) from connector", [], |r| r.get(0))
        .unwrap_or(0);
    let mut out = Vec::with_capacity(usize::try_from(count).unwrap_or(0).min(1 << 20));
    // A handful of types among all the rows: one string for each.
    let mut types = Interned::default();
    let mut rows = st.query([])?;
    while let Some(r) = rows.next()? {
        let cfg = r.get_ref(4)?;
        out.push(ConnectorRow {
            id: shared_text_of(r.get_ref(0)?),
            typ: {
                let v = r.get_ref(1)?;
                utf8_of(&v).map_or_else(|| shared_text_of(v), |s| types.get(s))
            },
            name: shared_text_of(r.get_ref(2)?),
            resource_version: text_of(r.get_ref(3)?),
            storage: storage_of(&cfg),
            config: match cfg {
                ValueRef::Blob(b) | ValueRef::Text(b) => Some(b.to_vec()),
                _ => None,
            },
        });
    }
    Ok(out)
}

/// `PRAGMA quick_check`: structure and page checks without the index cross-check (fast on large files).
pub fn quick_check(conn: &Connection, path: &Path) -> Result<()> {
    // A page too damaged to walk makes the pragma itself fail rather than report.
    let problems: Vec<String> = conn
        .prepare("pragma quick_check")
        .and_then(|mut st| st.query_map([], |r| r.get(0))?.collect())
        .map_err(|e| unreadable(path, e))?;
    if problems.len() == 1 && problems[0] == "ok" {
        return Ok(());
    }
    bail!(
        "{} is damaged (quick_check: {}); nothing was changed; put a backup back with `ozrepair restore` (`ozrepair backups` lists them)",
        path.display(),
        first_problems(&problems, 2)
    )
}

/// The first `n` problems a check reports, on one line (SQLite puts several lines in one row).
fn first_problems(rows: &[String], n: usize) -> String {
    rows.iter()
        .flat_map(|r| r.lines())
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("*** in database"))
        .take(n)
        .collect::<Vec<_>>()
        .join("; ")
}

pub fn integrity_check(conn: &Connection) -> Result<()> {
    let mut st = conn.prepare("pragma integrity_check")?;
    let problems: Vec<String> = st.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
    if problems.len() == 1 && problems[0] == "ok" {
        Ok(())
    } else {
        bail!("integrity_check reports: {}", first_problems(&problems, 3))
    }
}

/// Writes the edits in one IMMEDIATE transaction, each guarded by its `before` bytes, and creates the rows
/// in `new` (each must still be absent); then checks the database and reads every edited row back (bytes
/// equal, storage class BLOB).
pub fn write_changes(path: &Path, edits: &[Edit], new: &[NewRow]) -> Result<(), WriteError> {
    commit_edits(path, edits, new)
        .map_err(WriteError::RolledBack)?
        .map_err(WriteError::AfterCommit)
}

/// The database opened for the one transaction of a write, with the busy timeout every open has.
pub fn open_for_write(path: &Path) -> Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .with_context(|| format!("cannot open {} for writing", path.display()))?;
    conn.busy_timeout(busy_timeout())?;
    Ok(conn)
}

/// The transaction (its error: nothing was committed), then the checks after the commit (the inner error).
fn commit_edits(path: &Path, edits: &[Edit], new: &[NewRow]) -> Result<Result<()>> {
    let mut conn = open_for_write(path)?;
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .context("cannot lock the database for writing (another process holds it)")?;
    for e in edits {
        let current: Option<Vec<u8>> =
            tx.query_row("select config from connector where id = ?1", [&e.id], |r| {
                Ok(match r.get_ref(0)? {
                    ValueRef::Blob(b) | ValueRef::Text(b) => Some(b.to_vec()),
                    _ => None,
                })
            })?;
        if current.as_deref() != Some(e.before.as_slice()) {
            bail!(
                "connector {} changed after it was read; rolled back, the database is as it was",
                e.id
            );
        }
        // A Vec<u8> binds as a BLOB, the storage class Dex writes.
        let n = tx.execute(
            "update connector set config = ?1, resource_version = ?2 where id = ?3",
            params![e.after.as_slice(), e.resource_version, e.id],
        )?;
        if n != 1 {
            bail!(
                "updating connector {} touched {n} rows; rolled back, the database is as it was",
                e.id
            );
        }
    }
    for n in new {
        let exists: i64 = tx.query_row(
            "select count(*) from connector where id = ?1",
            [&n.id],
            |r| r.get(0),
        )?;
        if exists != 0 {
            bail!(
                "connector {} appeared after the database was read; rolled back, the database is as it was",
                n.id
            );
        }
        tx.execute(
            "insert into connector (id, type, name, resource_version, config) values (?1, ?2, ?3, '', NULL)",
            params![n.id, n.typ, n.name],
        )?;
    }
    fault::point(Point::InsideWrite);
    tx.commit()
        .context("the commit failed; SQLite rolled back, the database is as it was")?;
    Ok(check_written(&conn, edits, new))
}

/// After the commit: integrity_check and a read-back of every edited or created row.
fn check_written(conn: &Connection, edits: &[Edit], new: &[NewRow]) -> Result<()> {
    integrity_check(conn)?;
    for n in new {
        let (typ, name, null): (String, String, bool) = conn.query_row(
            "select type, name, config is null from connector where id = ?1",
            [&n.id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        if (typ.as_str(), name.as_str(), null) != (n.typ.as_str(), n.name.as_str(), true) {
            bail!("connector {} does not read back as created", n.id);
        }
    }
    for e in edits {
        let (class, bytes): (String, Vec<u8>) = conn.query_row(
            "select typeof(config), config from connector where id = ?1",
            [&e.id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        if class != "blob" || bytes != e.after {
            bail!(
                "connector {} does not read back as written (storage class {class})",
                e.id
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A connector table with a trigger that rewrites the row after the update: the commit happens,
    /// the read-back fails, and the error says the change was committed (check_schema refuses such a
    /// table first; this is the write's own guard).
    #[test]
    fn a_failed_read_back_after_the_commit_is_an_after_commit_error() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("idp.db");
        let conn = Connection::open(&db).unwrap();
        conn.execute_batch(
            "create table connector (id text primary key, type text, name text, resource_version text, config blob);
             insert into connector values ('a', 'oidc', 'a', '', cast('{\"issuer\":\"x\"}' as blob));
             create trigger t after update on connector begin update connector set config = cast('{}' as blob) where id = new.id; end;",
        )
        .unwrap();
        drop(conn);
        let e = Edit {
            id: "a".into(),
            before: br#"{"issuer":"x"}"#.to_vec(),
            after: br#"{"issuer":"y"}"#.to_vec(),
            resource_version: String::new(),
        };
        let err = write_changes(&db, &[e], &[]).unwrap_err();
        assert!(matches!(err, WriteError::AfterCommit(_)), "{err}");
        assert!(err.to_string().contains("was committed"), "{err}");
    }

    #[test]
    fn knows_as_many_migrations_as_the_repository_ships() {
        assert_eq!(
            crate::dex::KNOWN_MIGRATIONS as usize,
            ozrepair_standin::seed::known_migrations()
        );
    }
}
