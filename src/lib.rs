//! ozrepair: brings a locked-out openZro / NetBird deployment back.
//!
//! The modules follow what an operator sees, in order:
//! [`locate`] the deployment through Docker ([`engine`]) -> [`reach`] its database file -> read the Dex
//! [`store`] -> [`diagnose`] from the container's logs -> [`plan`] the field changes ([`jsonedit`] makes
//! them byte-exact) -> [`apply`] them (with [`backup`]) -> [`report`]. [`commands`] walks that path for
//! each command; [`cli`] defines the command line.

pub mod apply;
pub mod archive;
pub mod backup;
pub mod cli;
pub mod commands;
pub mod diagnose;
pub mod discover;
pub mod endpoint;
pub mod engine;
pub mod fault;
pub mod fleet;
pub mod jsonedit;
pub mod locate;
pub mod lock;
pub mod plan;
pub mod reach;
pub mod redact;
pub mod report;
pub mod store;
pub mod timefmt;

/// How many log lines are read from a container (its last start is within them in every layout seen).
pub const LOG_TAIL: usize = 500;
