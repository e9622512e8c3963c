//! Dex's data as ozrepair reads it, whatever store holds it: the connector rows and the schema they come
//! from ([`Stored`]), the byte-exact JSON edit of a connector's config ([`jsonedit`], keys folded by
//! [`foldtable`], generated with Go), the config as Go decodes it into Dex's struct for its type
//! ([`model`]), which fields are secret ([`secrets`]), and a local user's password as Dex checks it
//! ([`password`]).

pub mod foldtable;
pub mod jsonedit;
pub mod model;
pub mod password;
pub mod secrets;
pub mod url;

use crate::shared::Shared;

/// Dex SQLite migrations this build knows (the files in migrations/, Dex master of 2026-08).
pub const KNOWN_MIGRATIONS: i64 = 23;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schema {
    /// `max(num)` of the `migrations` table.
    pub migrations: i64,
    pub has_grant_types: bool,
    /// Migrations of this store's flavour that SQLite's numbering has not (MySQL's #7, which widens
    /// `auth_request.state`): MySQL's numbers run that far ahead of the families below.
    pub flavour_only: i64,
}

impl Schema {
    /// The Dex release family this schema count points to, for the report.
    pub fn describe(&self) -> String {
        let family = match self.migrations - self.flavour_only {
            ..=3 => "Dex before v2.4 (no connector table)",
            4..=10 => "Dex v2.4 to v2.33",
            11 => "Dex v2.35 to v2.44, NetBird's fork v0.244.0 (NetBird v0.62 to v0.70)",
            12..=13 => "Dex v2.45 (openZro's Dex container)",
            14..=KNOWN_MIGRATIONS => "Dex master 2026 (NetBird v0.71 and later)",
            _ => "newer than this build knows",
        };
        format!("{} migrations: {family}", self.migrations)
    }

    pub fn newer_than_known(&self) -> bool {
        self.migrations - self.flavour_only > KNOWN_MIGRATIONS
    }
}

/// One row of the `connector` table.
#[derive(Debug, Clone)]
pub struct ConnectorRow {
    /// The id, type and name are held without a copy by the connector's view too (see [`Shared`]).
    pub id: Shared,
    pub typ: Shared,
    pub name: Shared,
    pub resource_version: String,
    pub config: Option<Vec<u8>>,
    /// SQLite's storage class of `config` (Dex writes BLOBs; a hand edit may leave TEXT).
    pub storage: Storage,
}

/// How a row's `config` is stored (SQLite's storage classes; Dex writes bytes, a hand edit may leave text).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Storage {
    Null,
    Integer,
    Real,
    Text,
    Blob,
}

impl Storage {
    pub fn as_str(self) -> &'static str {
        match self {
            Storage::Null => "null",
            Storage::Integer => "integer",
            Storage::Real => "real",
            Storage::Text => "text",
            Storage::Blob => "blob",
        }
    }
}

/// What the store holds, as read before any change.
pub struct Stored {
    pub schema: Schema,
    pub rows: Vec<ConnectorRow>,
    /// sha256 of the store as read (empty when the read did not hash it).
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
                KNOWN_MIGRATIONS
            ));
        }
        out
    }
}
