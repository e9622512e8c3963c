//! Test fixtures for ozrepair.
//!
//! * [`seed`]: builds real Dex SQLite databases from the repository's `migrations/` files.
//! * [`dex`]: reads connectors the way Dex does and checks them the way go-oidc does; the `standin` binary
//!   (a stand-in for the management server with embedded Dex) is built on it.
//! * [`dbseed`]: Dex's schema on a PostgreSQL or MySQL server, from `migrations/postgres` and
//!   `migrations/mysql`, and its rows; [`dbstore`]: the stand-in's store on such a server, found from the
//!   same config files the real servers read.
//! * [`goquote`]: Go's `%q` quoting, so the stand-in's log lines carry exactly what the real ones carry.

pub mod dbseed;
pub mod dbstore;
pub mod dex;
pub mod goquote;
pub mod seed;
