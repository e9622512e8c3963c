//! Test fixtures for ozrepair.
//!
//! * [`seed`]: builds real Dex SQLite databases from the repository's `migrations/` files.
//! * [`dex`]: reads connectors the way Dex does and checks them the way go-oidc does; the `standin` binary
//!   (a stand-in for the management server with embedded Dex) is built on it.
//! * [`goquote`]: Go's `%q` quoting, so the stand-in's log lines carry exactly what the real ones carry.

pub mod dex;
pub mod goquote;
pub mod seed;
