//! Dex's `password` table (local users: `email` primary key, `hash` BLOB, `user_id`, …; migrations/0001)
//! and that user's sessions in `auth_session` (migrations/0017, rebuilt in 0023), in SQLite: the lookup
//! and the one write of `ozrepair password` (see [`crate::dex::password`] for what it mirrors).

use super::sql::{integrity_check, open_for_write};
use crate::dex::password::{dex_accepts, LocalUser, NewPassword, LOCAL_CONNECTOR};
use crate::fault::{self, Point};
use crate::store::{Found, WriteError};
use anyhow::{anyhow, bail, Context, Result};
use rusqlite::types::ValueRef;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use std::path::Path;

fn has_table(conn: &Connection, name: &str) -> Result<bool> {
    Ok(conn
        .query_row(
            "select 1 from sqlite_master where type = 'table' and name = ?1",
            [name],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

/// The bytes of a BLOB or TEXT value (None for NULL and numbers).
fn bytes_of(v: ValueRef) -> Option<Vec<u8>> {
    match v {
        ValueRef::Blob(b) | ValueRef::Text(b) => Some(b.to_vec()),
        _ => None,
    }
}

fn read_user(conn: &Connection, email: &str) -> Result<Option<(String, Vec<u8>)>> {
    conn.query_row(
        "select user_id, hash from password where email = ?1",
        [email],
        |r| Ok((r.get::<_, String>(0)?, bytes_of(r.get_ref(1)?))),
    )
    .optional()
    .context("cannot read Dex's password table")?
    .map(|(uid, hash)| {
        hash.map(|h| (uid, h)).ok_or_else(|| {
            anyhow!("the password row of {email} holds no hash (NULL or a number); nothing was changed; Dex could not log this user in either, so put the row right with Dex's API or restore a backup")
        })
    })
    .transpose()
}

/// The user's `auth_session` rows on the local connector (0 when the table does not exist yet).
pub fn local_sessions(conn: &Connection, user_id: &str) -> Result<usize> {
    if !has_table(conn, "auth_session")? {
        return Ok(0);
    }
    let n: i64 = conn.query_row(
        "select count(*) from auth_session where user_id = ?1 and connector_id = ?2",
        params![user_id, LOCAL_CONNECTOR],
        |r| r.get(0),
    )?;
    Ok(usize::try_from(n).unwrap_or(0))
}

/// Looks up the user whose stored email is `email` (already as [`lookup_email`] makes it).
pub fn find(conn: &Connection, email: &str) -> Result<Found> {
    match read_user(conn, email)? {
        Some((user_id, hash)) => Ok(Found::User(LocalUser {
            email: email.to_string(),
            sessions: local_sessions(conn, &user_id)?,
            user_id,
            hash,
        })),
        None => {
            let n: i64 = conn.query_row("select count(*) from password", [], |r| r.get(0))?;
            Ok(Found::Missing {
                users: usize::try_from(n).unwrap_or(0),
            })
        }
    }
}

/// The one write: in one IMMEDIATE transaction, the user's hash replaced (guarded by the `user_id` and
/// hash bytes read before) and their local sessions deleted; then `integrity_check`, and a read-back: the
/// row holds the new hash as a BLOB, Dex would accept the password with it, and no local session is left.
/// Returns how many sessions were removed.
pub fn write(
    path: &Path,
    user: &LocalUser,
    new_hash: &[u8],
    p: &NewPassword,
) -> Result<usize, WriteError> {
    let (conn, removed) = commit(path, user, new_hash).map_err(WriteError::RolledBack)?;
    check_written(&conn, user, new_hash, p).map_err(WriteError::AfterCommit)?;
    Ok(removed)
}

fn commit(path: &Path, user: &LocalUser, new_hash: &[u8]) -> Result<(Connection, usize)> {
    let mut conn = open_for_write(path)?;
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .context("cannot lock the database for writing (another process holds it)")?;
    let now = read_user(&tx, &user.email)?;
    if now.as_ref() != Some(&(user.user_id.clone(), user.hash.clone())) {
        bail!(
            "the password row of {} changed after it was read; rolled back, the database is as it was",
            user.email
        );
    }
    // A Vec<u8> binds as a BLOB, the storage class Dex writes.
    let n = tx.execute(
        "update password set hash = ?1 where email = ?2",
        params![new_hash, user.email],
    )?;
    if n != 1 {
        bail!(
            "updating the password of {} touched {n} rows; rolled back, the database is as it was",
            user.email
        );
    }
    let removed = if has_table(&tx, "auth_session")? {
        tx.execute(
            "delete from auth_session where user_id = ?1 and connector_id = ?2",
            params![user.user_id, LOCAL_CONNECTOR],
        )?
    } else {
        0
    };
    fault::point(Point::InsideWrite);
    tx.commit()
        .context("the commit failed; SQLite rolled back, the database is as it was")?;
    Ok((conn, removed))
}

fn check_written(
    conn: &Connection,
    user: &LocalUser,
    new_hash: &[u8],
    p: &NewPassword,
) -> Result<()> {
    integrity_check(conn)?;
    let (class, bytes): (String, Option<Vec<u8>>) = conn.query_row(
        "select typeof(hash), hash from password where email = ?1",
        [&user.email],
        |r| Ok((r.get(0)?, bytes_of(r.get_ref(1)?))),
    )?;
    if class != "blob" || bytes.as_deref() != Some(new_hash) {
        bail!(
            "the password row of {} does not read back as written (storage class {class})",
            user.email
        );
    }
    if !dex_accepts(new_hash, p.expose()) {
        bail!(
            "the stored hash of {} does not verify against the new password",
            user.email
        );
    }
    let left = local_sessions(conn, &user.user_id)?;
    if left != 0 {
        bail!("{left} local session(s) of {} are still there", user.email);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dex::password::hash;

    const GOOD: &str = "Correct-Horse-9";

    fn db_with(dir: &Path) -> std::path::PathBuf {
        let path = dir.join("idp.db");
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(
            "create table password (email text not null primary key, hash blob not null, username text not null, user_id text not null);
             create table auth_session (id text not null primary key, user_id text not null, connector_id text not null, client_states blob not null);
             insert into password values ('alice@example.com', cast('$2a$10$abcdefghijklmnopqrstuv' as blob), 'alice', 'u-alice');
             insert into password values ('bob@example.com', cast('x' as blob), 'bob', 'u-bob');
             insert into auth_session values ('s1', 'u-alice', 'local', x'');
             insert into auth_session values ('s2', 'u-alice', 'local', x'');
             insert into auth_session values ('s3', 'u-alice', 'jumpcloud', x'');
             insert into auth_session values ('s4', 'u-bob', 'local', x'');",
        )
        .unwrap();
        path
    }

    fn alice(path: &Path) -> LocalUser {
        match find(&Connection::open(path).unwrap(), "alice@example.com").unwrap() {
            Found::User(u) => u,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_write_sets_the_hash_and_removes_only_that_users_local_sessions() {
        let dir = tempfile::tempdir().unwrap();
        let path = db_with(dir.path());
        let user = alice(&path);
        assert_eq!(user.sessions, 2);
        let p = NewPassword::parse(GOOD.as_bytes()).unwrap();
        let h = hash(&p).unwrap();
        assert_eq!(write(&path, &user, &h, &p).unwrap(), 2);
        let conn = Connection::open(&path).unwrap();
        let left: Vec<String> = conn
            .prepare("select id from auth_session order by id")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(left, ["s3", "s4"]);
        let (class, stored): (String, Vec<u8>) = conn
            .query_row(
                "select typeof(hash), hash from password where email = 'alice@example.com'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!((class.as_str(), stored), ("blob", h));
        let bob: Vec<u8> = conn
            .query_row(
                "select hash from password where email = 'bob@example.com'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(bob, b"x");
    }

    #[test]
    fn a_row_changed_since_it_was_read_is_not_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = db_with(dir.path());
        let user = alice(&path);
        Connection::open(&path).unwrap()
            .execute("update password set hash = cast('other' as blob) where email = 'alice@example.com'", []).unwrap();
        let p = NewPassword::parse(GOOD.as_bytes()).unwrap();
        let e = write(&path, &user, &hash(&p).unwrap(), &p).unwrap_err();
        assert!(matches!(e, WriteError::RolledBack(_)), "{e}");
        assert!(e.to_string().contains("changed after it was read"), "{e}");
        assert_eq!(
            local_sessions(&Connection::open(&path).unwrap(), "u-alice").unwrap(),
            2
        );
    }

    #[test]
    fn an_unknown_email_gives_the_count_of_users() {
        let dir = tempfile::tempdir().unwrap();
        let path = db_with(dir.path());
        let found = find(&Connection::open(&path).unwrap(), "carol@example.com").unwrap();
        assert!(matches!(found, Found::Missing { users: 2 }), "{found:?}");
    }

    #[test]
    fn without_an_auth_session_table_there_are_no_sessions() {
        let dir = tempfile::tempdir().unwrap();
        let path = db_with(dir.path());
        Connection::open(&path)
            .unwrap()
            .execute_batch("drop table auth_session")
            .unwrap();
        let user = alice(&path);
        assert_eq!(user.sessions, 0);
        let p = NewPassword::parse(GOOD.as_bytes()).unwrap();
        assert_eq!(write(&path, &user, &hash(&p).unwrap(), &p).unwrap(), 0);
    }
}
