//! Reach: where Dex keeps its connectors and passwords (a store). One trait, [`Store`], for everything a
//! run asks of it: read the schema and rows, hold it against other writers, take a verified backup, run
//! the one guarded transaction (passed in as a [`Write`]) and verify it, and put a backup back. Each
//! backend is one implementation file: [`sqlite`] (an SQLite file, on this machine or copied out of a
//! container), and [`none`] (the standalone setup: no Dex store, only config files). A new store (a
//! PostgreSQL server, say) is a file beside them and a branch of [`reach`]; plan and report do not change.

pub mod none;
pub mod server;
pub mod sqlite;

use crate::backups::{BackupSet, Check, Origin, Sets, Taken};
use crate::dex::password::{LocalUser, NewPassword};
use crate::dex::{ConnectorRow, Stored};
use crate::runtime::{Located, StorePlace};
use anyhow::Result;
use futures_util::future::LocalBoxFuture;

/// Whether a file on this machine is a Dex store ozrepair can read: what [`crate::runtime::locate`]
/// confirms a candidate with.
pub fn probe(path: &std::path::Path) -> bool {
    sqlite::is_dex_file(path)
}

/// Reaches the store `located` names: opens nothing yet, but copies a store inside the runtime out.
/// `live`: a database server may be written while the IdP runs (`--live`).
pub async fn reach(located: &Located, live: bool) -> Result<Box<dyn Store>> {
    match &located.place {
        StorePlace::Server(s) => Ok(Box::new(server::DbServer::new(
            (**s).clone(),
            located.runtime.unit().is_some(),
            live,
        ))),
        StorePlace::File(p) => Ok(Box::new(sqlite::Sqlite::on_host(p))),
        StorePlace::Inside(inside) => Ok(Box::new(
            sqlite::Sqlite::inside(&*located.runtime, inside).await?,
        )),
        StorePlace::Absent => Err(anyhow::anyhow!(
            "this deployment has no Dex database; nothing was changed"
        )),
    }
}

/// ozrepair's hold on a store while its stop window is open (one writer at a time); released when
/// dropped.
pub type Lock = Box<dyn std::any::Any>;

/// Asks who else holds a store now (see [`Store::holders`]).
pub type Holders = Box<dyn Fn() -> Option<String> + Send>;

/// One connector's new config, guarded by the bytes it must still have.
#[derive(Debug, Clone)]
pub struct Edit {
    pub id: String,
    pub before: Vec<u8>,
    pub after: Vec<u8>,
    pub resource_version: String,
}

/// A connector row to create, as Dex creates its built-in `local` one: empty resource_version, NULL config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRow {
    pub id: String,
    pub typ: String,
    pub name: String,
}

/// `resource_version` after an edit, as Dex's own `UpdateConnector` writes it (server/api.go):
/// `strconv.Atoi` of the version, an empty one counting as "0", plus one. So NetBird's `''` becomes `'1'`,
/// and any change makes a running Dex, which re-opens a connector whose version differs from the one it
/// cached, read the new config. Atoi takes an optional sign and decimal digits in the int64 range; Go's
/// addition wraps at its end, as here. A version Atoi refuses (not a number, or beyond int64) stays as it
/// is, as Dex leaves it (ozrepair edits with the IdP stopped, so the restart re-opens it anyway).
pub fn bumped(rv: &str) -> String {
    let n = if rv.is_empty() { "0" } else { rv };
    match n.parse::<i64>() {
        Ok(n) => n.wrapping_add(1).to_string(),
        Err(_) => rv.to_string(),
    }
}

/// The one change a stop window makes to the store, as a value.
pub enum Write<'a> {
    /// Connector configs replaced (each guarded by its bytes as read) and rows created (each still
    /// absent), in one transaction.
    Connectors {
        edits: &'a [Edit],
        new_rows: &'a [NewRow],
    },
    /// A local user's hash replaced (guarded by the row as read) and their local sessions removed.
    Password {
        user: &'a LocalUser,
        hash: &'a [u8],
        new: &'a NewPassword,
    },
    /// The restored store prepared by [`Store::prepare_restore`] put in place of the live one.
    Restore,
}

/// What a write did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wrote {
    Rows,
    Password { sessions_removed: usize },
    Restored,
}

/// How a write failed: before its commit (the store is as it was) or after it (the commit happened, and
/// the check that followed found the store not as planned).
#[derive(Debug)]
pub enum WriteError {
    RolledBack(anyhow::Error),
    AfterCommit(anyhow::Error),
}

impl std::fmt::Display for WriteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WriteError::RolledBack(e) => write!(f, "{e:#}"),
            WriteError::AfterCommit(e) => write!(f, "the change was committed, but {e:#}"),
        }
    }
}

impl std::error::Error for WriteError {}

/// A lookup of a local user.
#[derive(Debug)]
pub enum Found {
    User(LocalUser),
    /// No row has that email; `users` rows exist in all.
    Missing {
        users: usize,
    },
}

/// Where Dex keeps its state. A stop window ([`crate::apply`]) drives it: [`Store::lock`], then (the IdP
/// stopped) [`Store::refresh`], [`Store::backup`], [`Store::write`], [`Store::fingerprint`].
pub trait Store {
    /// Its kind, as the report names it: `sqlite`, `none`.
    fn kind(&self) -> &'static str;
    /// Where it is, as the report names it.
    fn shown(&self) -> String;
    /// The name a backup's manifest records for it (what `restore` matches a set against).
    fn source(&self) -> String;
    /// Where its backups go when `--backup-dir` does not say.
    fn default_backups(&self) -> Sets;

    /// Checks it is Dex's store and undamaged, and reads every connector row and its fingerprint.
    fn read(&self) -> Result<Stored>;
    /// The schema and the connector rows only (a backup proves the rest as it copies).
    fn read_rows(&self) -> Result<Stored>;
    /// The connector rows as they are now.
    fn connectors(&self) -> Result<Vec<ConnectorRow>>;
    /// The local user whose stored email is `email` (already as Dex looks it up).
    fn find_user(&self, email: &str) -> Result<Found>;

    /// ozrepair's hold on it: one writer at a time; a second run refuses at once.
    fn lock(&self) -> Result<Lock>;
    /// Fails when a write could not be made or put back exactly (checked before anything is stopped).
    fn can_write(&self) -> Result<()>;
    /// Who else holds the store now ("pid N (command)"), asked every half second while ozrepair waits
    /// for it, for the progress line; None when the store cannot tell.
    fn holders(&self) -> Option<Holders> {
        None
    }
    /// After the stop: take it again as it is now.
    fn refresh(&mut self) -> LocalBoxFuture<'_, Result<()>>;
    /// A verified backup of it as it is now, with `origin` in its manifest; `check` says whether the
    /// source is also proven whole as the store reads it.
    fn backup(&self, sets: &Sets, origin: &Origin, check: Check) -> Result<Taken>;
    /// The one guarded transaction, verified by reading back, and put where it lives.
    fn write<'a>(&'a mut self, w: Write<'a>) -> LocalBoxFuture<'a, Result<Wrote, WriteError>>;
    /// What its bytes are now (sha256), for the report (None when it has none of its own).
    fn fingerprint(&self) -> Result<Option<String>>;

    /// Proves a backup set of this store is whole: every file's hash, and the store in it readable.
    fn verify_set(&self, set: &BackupSet) -> Result<()>;
    /// Builds the store of `set`, verified, beside the live one (not yet in place), and makes the live
    /// one consistent so that a backup of it is whole. Notes what was cleaned up on the way.
    fn prepare_restore(&mut self, set: &BackupSet) -> Result<Vec<String>>;

    /// What the last write has to say for the report (a write made live, and what proves it took).
    fn notes(&mut self) -> Vec<String> {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bumps_as_dex_does() {
        assert_eq!(bumped("7"), "8");
        // Dex's defaultTo(rv, "0"): NetBird's empty version becomes 1.
        assert_eq!(bumped(""), "1");
        assert_eq!(bumped("abc"), "abc");
        assert_eq!(bumped(" 7"), " 7");
        assert_eq!(bumped("1_0"), "1_0");
        // strconv.Atoi takes a sign and leading zeros.
        assert_eq!(bumped("+7"), "8");
        assert_eq!(bumped("-3"), "-2");
        assert_eq!(bumped("007"), "8");
        // Beyond int64 Atoi fails and Dex leaves the version; at its end Go's addition wraps.
        assert_eq!(bumped("9223372036854775806"), "9223372036854775807");
        assert_eq!(bumped("9223372036854775807"), "-9223372036854775808");
        assert_eq!(bumped("18446744073709551614"), "18446744073709551614");
        assert_eq!(bumped("18446744073709551615"), "18446744073709551615");
        assert_eq!(bumped("99999999999999999999999"), "99999999999999999999999");
    }
}
