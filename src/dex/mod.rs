//! The Dex store: its SQLite schema and connector rows ([`store`]), and the byte-exact JSON edit of a
//! connector's config ([`jsonedit`], keys folded by [`foldtable`], generated with Go), and the config as Dex
//! decodes it ([`model`]).

pub mod foldtable;
pub mod jsonedit;
pub mod model;
pub mod password;
pub mod secrets;
pub mod store;

use crate::access::{host, Database};
use anyhow::Result;
pub use store::{ConnectorRow, Schema, Storage};

/// What the database holds, as read before any change.
pub struct Stored {
    pub schema: Schema,
    pub rows: Vec<ConnectorRow>,
    /// sha256 of the database file as read.
    pub sha256: String,
}

impl Stored {
    /// Things the operator should know about the store itself.
    pub fn notes(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.schema.newer_than_known() {
            out.push(format!(
                "the database has {} Dex migrations, newer than the {} this build knows; its connector table has every column ozrepair needs, so it goes on",
                self.schema.migrations,
                store::KNOWN_MIGRATIONS
            ));
        }
        out
    }
}

/// Reads the store: checks it is Dex's SQL storage and undamaged (quick_check), then every connector row.
pub fn read(db: &Database) -> Result<Stored> {
    let path = db.path();
    let snap = db.read()?;
    // Pages read through a memory map (no pread and copy per 4 KiB page), once for quick_check and once
    // for the rows; read-only either way.
    let _ = snap.conn.pragma_update(None, "mmap_size", 1i64 << 30);
    let schema = store::check_schema(&snap.conn, path)?;
    store::quick_check(&snap.conn, path)?;
    let rows = store::connectors(&snap.conn)?;
    drop(snap);
    Ok(Stored {
        schema,
        rows,
        sha256: host::sha256_file(path)?,
    })
}

/// Reads the schema and the connector rows only: for `backup`, whose set proves the integrity of every
/// byte (integrity_check while copying) and hashes them as it copies, so neither a quick_check nor a
/// hash of the source is made here. `sha256` is left empty for the caller to fill in.
pub fn read_rows(db: &Database) -> Result<Stored> {
    let path = db.path();
    let snap = db.read()?;
    let schema = store::check_schema(&snap.conn, path)?;
    let rows = store::connectors(&snap.conn)?;
    Ok(Stored {
        schema,
        rows,
        sha256: String::new(),
    })
}
