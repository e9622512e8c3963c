//! ozrepair: brings a locked-out openZro / NetBird deployment back.
//!
//! The modules follow the operator's flow, in order; each step returns a value the next one takes, and the
//! report is made last from those values (see ARCHITECTURE.md):
//!
//! 1. [`cli`] parses the command line; [`settings`] turns it into the one set of settings every step reads.
//! 2. [`docker`] talks to the engine and locates the deployment: a [`docker::locate::Located`].
//! 3. [`access`] reaches its database, on this host or through the archive API: an [`access::Database`].
//! 4. [`dex`] reads the Dex store (schema, connector rows): a [`dex::Stored`].
//! 5. [`evidence`] diagnoses from the container's logs and the providers' discovery: a
//!    [`evidence::Diagnosis`].
//! 6. [`plan`] turns rows and evidence into field changes: a [`plan::Plan`] (plain data).
//! 7. [`apply`] applies them in one stop window (backup, write, verify, start, watch): an
//!    [`apply::Applied`].
//! 8. [`report`] renders what the steps returned (text, JSON), with the secret scrub at its one exit.
//!
//! [`commands`] walks that path for each command; [`fleet`] runs it over many hosts. [`verdict`] (outcomes
//! and exit codes), [`progress`] (messages on stderr) and [`timefmt`] are leaf helpers.

pub mod access;
pub mod apply;
pub mod cli;
pub mod commands;
pub mod config;
pub mod dex;
pub mod docker;
pub mod evidence;
pub mod fleet;
pub mod plan;
pub mod progress;
pub mod props;
pub mod report;
pub mod settings;
pub mod timefmt;
pub mod verdict;

/// How many log lines are read from a container (its last start is within them in every layout seen).
pub const LOG_TAIL: usize = 500;
