//! Dex's store on a database server (PostgreSQL, MySQL/MariaDB): the one implementation file of [`Store`]
//! for both. Each flavour is a [`Db`] (a connection with the few statements ozrepair runs): [`pg`]
//! (the `postgres` crate, TLS by rustls) and [`mysql`] (the `mysql` crate, TLS by rustls). Its parts:
//!
//! - [`tls`]: certificates checked as Dex's drivers check them (`verify-full` unless told otherwise);
//! - [`set`]: a backup set of the rows ozrepair touches (`rows.json`: the `connector` table and the
//!   `password` hashes, as bytes), with a full dump of Dex's tables by the server's own dump tool when
//!   this machine has it (`pg_dump`, `mysqldump`/`mariadb-dump`), both verified by reading them back.
//!
//! Every read is one read-only transaction; every write one transaction whose statements are guarded by
//! the bytes read (`update … where id = $1 and config = $old`, exactly one row), read back on a new
//! connection after the commit. A commit whose answer was lost (the server went away) is decided by
//! reading the rows again. ozrepair's lock is the server's own (`pg_try_advisory_lock`, `GET_LOCK`), held
//! by a connection for as long as the stop window is open. Where ozrepair cannot stop the IdP (Dex runs
//! elsewhere), it writes only with `--live`, as Dex's own `UpdateConnector` does: `resource_version`
//! bumped, so the running Dex opens the connector again at its next login.

pub mod mysql;
pub mod pg;
pub mod set;
pub mod tls;

use super::{Edit, Found, Lock, NewRow, Store, Write, WriteError, Wrote};
use crate::backups::{BackupSet, Origin, Sets, Taken};
use crate::dex::password::LocalUser;
use crate::dex::{ConnectorRow, Schema, Stored};
use crate::dsn::{Flavour, Server};
use anyhow::{anyhow, Result};
use futures_util::future::LocalBoxFuture;
use futures_util::FutureExt;
use std::path::PathBuf;

/// Seconds to wait for a connection when the configuration names no timeout.
pub const CONNECT_TIMEOUT: u64 = 10;

/// A `password` row as a backup keeps it (only its hash is ever written by ozrepair).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordRow {
    pub email: String,
    pub user_id: String,
    pub hash: Vec<u8>,
}

/// What one read-only transaction saw.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub schema: Schema,
    pub rows: Vec<ConnectorRow>,
    /// Filled when asked for (a backup).
    pub passwords: Vec<PasswordRow>,
}

/// How a transaction failed.
pub enum TxError {
    /// Before its commit: the server keeps nothing of it.
    Before(anyhow::Error),
    /// The commit was sent and no answer came back: whether it happened is for a new read to tell.
    Commit(anyhow::Error),
}

impl From<anyhow::Error> for TxError {
    fn from(e: anyhow::Error) -> TxError {
        TxError::Before(e)
    }
}

/// One flavour's connection and the statements ozrepair runs on it.
pub trait Db {
    /// The schema (checked to be Dex's) and the connector rows, and the password rows when asked, in one
    /// read-only transaction.
    fn snapshot(&mut self, passwords: bool) -> Result<Snapshot>;
    fn find_user(&mut self, email: &str) -> Result<Found>;
    /// The guarded edits and the rows to create, in one transaction.
    fn write_rows(&mut self, edits: &[Edit], new: &[NewRow]) -> Result<(), TxError>;
    /// The hash replaced (guarded by the row read) and the user's local sessions removed.
    fn write_password(&mut self, user: &LocalUser, hash: &[u8]) -> Result<usize, TxError>;
    /// The connector table made what `saved` holds, and the saved users' hashes put back.
    fn restore(&mut self, saved: &set::Saved) -> Result<(), TxError>;
    /// The user's local sessions now.
    fn sessions(&mut self, user_id: &str) -> Result<usize>;
    /// Takes the server's lock for ozrepair (false: another run holds it).
    fn try_lock(&mut self) -> Result<bool>;
}

/// Opens a connection to `server`.
fn connect(server: &Server) -> Result<Box<dyn Db>> {
    match server.flavour {
        Flavour::Postgres => Ok(Box::new(pg::Pg::connect(server)?)),
        Flavour::Mysql => Ok(Box::new(mysql::My::connect(server)?)),
    }
}

/// Runs `f` on a thread of its own: the `postgres` crate blocks on a runtime of its own, which may not
/// run inside ozrepair's.
pub fn off_runtime<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| match s.spawn(f).join() {
        Ok(v) => v,
        Err(p) => std::panic::resume_unwind(p),
    })
}

/// Runs `f` on a new connection to `server`, off the runtime.
fn with_db<T: Send>(server: &Server, f: impl FnOnce(&mut dyn Db) -> Result<T> + Send) -> Result<T> {
    off_runtime(|| {
        let mut db = connect(server)?;
        f(&mut *db)
    })
}

/// The store on a database server.
pub struct DbServer {
    server: Server,
    /// What runs the IdP can be stopped by this run (a container found on the engine).
    managed: bool,
    /// `--live`: write while the IdP may run.
    live: bool,
    /// The set a restore puts back, read and verified.
    prepared: Option<set::Saved>,
    notes: Vec<String>,
}

impl DbServer {
    pub fn new(server: Server, managed: bool, live: bool) -> DbServer {
        DbServer {
            server,
            managed,
            live,
            prepared: None,
            notes: Vec::new(),
        }
    }

    fn snapshot(&self, passwords: bool) -> Result<Snapshot> {
        with_db(&self.server, |db| db.snapshot(passwords))
    }

    /// After a commit: the rows as they are now, on a new connection.
    fn read_back(&self) -> Result<Snapshot> {
        self.snapshot(true)
            .map_err(|e| anyhow!("the rows could not be read back: {e:#}"))
    }

    /// Runs one transaction; a lost commit is decided by `landed` on a new read (Some(true): it landed;
    /// Some(false): it did not; None: neither as planned nor as before).
    fn transaction<T: Send>(
        &self,
        tx: impl FnOnce(&mut dyn Db) -> Result<T, TxError> + Send,
        landed: impl Fn(&Snapshot) -> Option<bool>,
        fallback: impl FnOnce() -> T,
    ) -> Result<T, WriteError> {
        let shown = self.server.shown();
        let outcome = off_runtime(|| {
            let mut db = connect(&self.server).map_err(TxError::Before)?;
            tx(&mut *db)
        });
        match outcome {
            Ok(v) => Ok(v),
            Err(TxError::Before(e)) => Err(WriteError::RolledBack(anyhow!(
                "{e:#}; nothing was committed, {shown} is as it was"
            ))),
            Err(TxError::Commit(e)) => match self.read_back().map(|s| landed(&s)) {
                Ok(Some(true)) => Ok(fallback()),
                Ok(Some(false)) => Err(WriteError::RolledBack(anyhow!(
                    "{e:#}; the commit did not happen, {shown} is as it was"
                ))),
                Ok(None) => Err(WriteError::AfterCommit(anyhow!(
                    "{e:#}, and {shown} now holds neither the rows as read nor as planned"
                ))),
                Err(re) => Err(WriteError::RolledBack(anyhow!(
                    "{e:#}; {re:#}; the server keeps no transaction it did not commit, so {shown} holds the rows as read or, had the commit gone through, the new ones: run `ozrepair inspect` once it answers"
                ))),
            },
        }
    }
}

/// Whether `rows` hold every edit's new bytes (Some(true)), every edit's old bytes (Some(false)), or
/// neither.
fn edits_landed(rows: &[ConnectorRow], edits: &[Edit], new: &[NewRow]) -> Option<bool> {
    let get = |id: &str| rows.iter().find(|r| r.id == id);
    let all_new = edits.iter().all(|e| {
        get(&e.id).is_some_and(|r| {
            r.config.as_deref() == Some(e.after.as_slice())
                && r.resource_version == e.resource_version
        })
    }) && new.iter().all(|n| get(&n.id).is_some());
    let all_old = edits
        .iter()
        .all(|e| get(&e.id).is_some_and(|r| r.config.as_deref() == Some(e.before.as_slice())))
        && new.iter().all(|n| get(&n.id).is_none());
    if all_new {
        Some(true)
    } else if all_old {
        Some(false)
    } else {
        None
    }
}

/// Held while the window is open: a connection of its own holding the server's lock, on a thread of its
/// own; dropped, the thread ends and the connection (and the lock) with it.
struct ServerLock {
    stop: Option<std::sync::mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for ServerLock {
    fn drop(&mut self) {
        self.stop.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Store for DbServer {
    fn kind(&self) -> &'static str {
        self.server.flavour.as_str()
    }

    fn shown(&self) -> String {
        self.server.shown()
    }

    /// `postgres://host:port/db` as the IdP names it (never the address it was reached at).
    fn source(&self) -> String {
        let mut s = self.server.clone();
        if let Some(n) = &s.server_name {
            s.host = n.clone();
        }
        s.shown()
    }

    /// On this machine: `$HOME/ozrepair-backups/<server>`.
    fn default_backups(&self) -> Sets {
        let name: String = self
            .source()
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        Sets::at(
            PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/root".into()))
                .join("ozrepair-backups")
                .join(name.trim_matches('_')),
        )
    }

    fn read(&self) -> Result<Stored> {
        let snap = self.snapshot(true)?;
        Ok(Stored {
            sha256: set::fingerprint(&snap.rows, &snap.passwords),
            schema: snap.schema,
            rows: snap.rows,
        })
    }

    fn read_rows(&self) -> Result<Stored> {
        let snap = self.snapshot(false)?;
        Ok(Stored {
            schema: snap.schema,
            rows: snap.rows,
            sha256: String::new(),
        })
    }

    fn connectors(&self) -> Result<Vec<ConnectorRow>> {
        Ok(self.snapshot(false)?.rows)
    }

    fn find_user(&self, email: &str) -> Result<Found> {
        let email = email.to_string();
        with_db(&self.server, move |db| db.find_user(&email))
    }

    fn lock(&self) -> Result<Lock> {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<bool>>();
        let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
        let server = self.server.clone();
        let thread = std::thread::spawn(move || {
            let held = connect(&server).and_then(|mut db| {
                let got = db.try_lock()?;
                Ok((db, got))
            });
            match held {
                Ok((db, got)) => {
                    let _ = ready_tx.send(Ok(got));
                    if got {
                        // Held until the window's end drops the sender.
                        let _ = stop_rx.recv();
                    }
                    drop(db);
                }
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                }
            }
        });
        let got = ready_rx
            .recv()
            .map_err(|_| anyhow!("the lock's connection ended"))??;
        let lock = ServerLock {
            stop: Some(stop_tx),
            thread: Some(thread),
        };
        if !got {
            return Err(anyhow!(
                "another ozrepair holds the lock of {}; nothing was changed; wait for it to finish and run again",
                self.server.shown()
            ));
        }
        Ok(Box::new(lock))
    }

    /// Refused when ozrepair cannot stop the IdP and `--live` was not given.
    fn can_write(&self) -> Result<()> {
        if self.managed || self.live {
            return Ok(());
        }
        Err(anyhow!(
            "ozrepair cannot stop the IdP that reads {} (no container of this deployment was found), and writing while it may run needs --live; nothing was changed; stop the IdP yourself, or pass --live to write as Dex's own UpdateConnector does (one guarded transaction, resource_version bumped so that the running Dex opens the connector again)",
            self.server.shown()
        ))
    }

    fn refresh(&mut self) -> LocalBoxFuture<'_, Result<()>> {
        async { Ok(()) }.boxed_local()
    }

    fn backup(&self, sets: &Sets, origin: &Origin) -> Result<Taken> {
        let snap = self.snapshot(true)?;
        set::take(&self.server, &snap, sets, origin)
    }

    fn write<'a>(&'a mut self, w: Write<'a>) -> LocalBoxFuture<'a, Result<Wrote, WriteError>> {
        async move {
            let live = !self.managed;
            let wrote = match w {
                Write::Connectors { edits, new_rows } => {
                    self.transaction(
                        |db| db.write_rows(edits, new_rows),
                        |s| edits_landed(&s.rows, edits, new_rows),
                        || (),
                    )?;
                    let back = self.read_back().map_err(WriteError::AfterCommit)?;
                    if edits_landed(&back.rows, edits, new_rows) != Some(true) {
                        return Err(WriteError::AfterCommit(anyhow!(
                            "the rows do not read back as written"
                        )));
                    }
                    if live && !edits.is_empty() {
                        self.notes.push(format!(
                            "written live, with the IdP running: {} read back with the new bytes and resource_version {}, which makes a running Dex open the connector again at its next login",
                            edits.iter().map(|e| e.id.as_str()).collect::<Vec<_>>().join(", "),
                            edits.iter().map(|e| e.resource_version.as_str()).collect::<Vec<_>>().join(", ")
                        ));
                    }
                    Wrote::Rows
                }
                Write::Password { user, hash, new } => {
                    let landed = |s: &Snapshot| {
                        let row = s.passwords.iter().find(|p| p.email == user.email)?;
                        if row.hash == hash {
                            Some(true)
                        } else if row.hash == user.hash {
                            Some(false)
                        } else {
                            None
                        }
                    };
                    let removed =
                        self.transaction(|db| db.write_password(user, hash), landed, || user.sessions)?;
                    let back = self.read_back().map_err(WriteError::AfterCommit)?;
                    if landed(&back) != Some(true) {
                        return Err(WriteError::AfterCommit(anyhow!(
                            "the password row of {} does not read back as written",
                            user.email
                        )));
                    }
                    if !crate::dex::password::dex_accepts(hash, new.expose()) {
                        return Err(WriteError::AfterCommit(anyhow!(
                            "the stored hash of {} does not verify against the new password",
                            user.email
                        )));
                    }
                    let uid = user.user_id.clone();
                    let left = with_db(&self.server, move |db| db.sessions(&uid))
                        .map_err(WriteError::AfterCommit)?;
                    if left != 0 {
                        return Err(WriteError::AfterCommit(anyhow!(
                            "{left} local session(s) of {} are still there",
                            user.email
                        )));
                    }
                    Wrote::Password {
                        sessions_removed: removed,
                    }
                }
                Write::Restore => {
                    let saved = self
                        .prepared
                        .take()
                        .ok_or_else(|| WriteError::RolledBack(anyhow!("no restore was prepared")))?;
                    let landed = |s: &Snapshot| Some(set::holds(s, &saved));
                    self.transaction(|db| db.restore(&saved), landed, || ())?;
                    let back = self.read_back().map_err(WriteError::AfterCommit)?;
                    if !set::holds(&back, &saved) {
                        return Err(WriteError::AfterCommit(anyhow!(
                            "the restored rows do not read back as the set holds them"
                        )));
                    }
                    Wrote::Restored
                }
            };
            Ok(wrote)
        }
        .boxed_local()
    }

    fn fingerprint(&self) -> Result<Option<String>> {
        let snap = self.snapshot(true)?;
        Ok(Some(set::fingerprint(&snap.rows, &snap.passwords)))
    }

    fn verify_set(&self, s: &BackupSet) -> Result<()> {
        set::verify(s).map(|_| ())
    }

    /// The set's rows read and verified; nothing of the live server is touched yet.
    fn prepare_restore(&mut self, s: &BackupSet) -> Result<Vec<String>> {
        let saved = set::verify(s)?;
        if saved.flavour != self.server.flavour.as_str() {
            return Err(anyhow!(
                "{} holds rows of a {} store, not of this {} one; nothing was changed",
                s.dir.display(),
                saved.flavour,
                self.server.flavour.as_str()
            ));
        }
        self.prepared = Some(saved);
        Ok(vec![
            "the connector table and the saved users' password hashes are put back as the set holds them; sessions removed since are not".into(),
        ])
    }

    fn notes(&mut self) -> Vec<String> {
        std::mem::take(&mut self.notes)
    }
}
