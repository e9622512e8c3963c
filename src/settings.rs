//! The settings every step reads, made once from the parsed command line ([`crate::cli`]). The command line
//! says what the operator typed; this says what the run will do. A new fix flag is a field here, set in
//! [`Settings::from_cli`], and read by the one step it concerns (usually [`crate::plan`]).

pub use crate::cli::{Access, Output, SetField};
use crate::cli::{Command, FixArgs, Global};
use crate::evidence::discover;
use crate::verdict::UsageError;
use std::path::PathBuf;
use std::time::Duration;

/// What the run works on.
#[derive(Debug, Clone)]
pub enum Target {
    /// `--db`: a database file, without Docker (nothing is stopped or started).
    File(PathBuf),
    /// A deployment on an engine: discovered, or narrowed by `--container` / `--volume`.
    Engine {
        host: Option<String>,
        container: Option<String>,
        volume: Option<String>,
        access: Access,
    },
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub target: Target,
    /// `--yes`: do not ask.
    pub yes: bool,
    /// `--show-secrets`: print secret values instead of scrubbing them, and list secret fields with a
    /// connector's endpoints.
    pub show_secrets: bool,
    pub output: Output,
    /// The text report is coloured.
    pub color: bool,

    // What the plan considers (fix; inspect has only `discover`).
    /// `--connector`
    pub only: Option<String>,
    /// `--issuer`
    pub issuer: Option<String>,
    /// `--set CONNECTOR.FIELD=VALUE`
    pub sets: Vec<SetField>,
    /// `--issuer-alias`: correct by adding Dex's issuerAlias instead of changing issuer.
    pub issuer_alias: bool,
    /// `--discover` and its options.
    pub discover: Option<discover::Options>,

    // How changes are applied (fix, backup, restore).
    /// Write nothing, stop nothing: `fix --dry-run`, and always for `inspect` (its plan is the same).
    pub dry_run: bool,
    /// `--backup-dir`; None: the default place for the database's access (see [`crate::access`]).
    pub backup_dir: Option<PathBuf>,
    /// Start the container again afterwards (not `--no-restart`).
    pub restart: bool,
    /// Seconds to watch the started container; 0 does not watch.
    pub wait: u64,
    /// `restore --backup`: the set to put back (None: the newest).
    pub backup: Option<PathBuf>,
    /// `restore --allow-other-database`: a set taken from another database may be put back.
    pub allow_other_database: bool,
}

impl Settings {
    /// The settings for one single-host command (not fleet, completions or man). Flags that cannot go
    /// together give a usage error, with the settings that still say how to print the refusal.
    pub fn from_cli(g: &Global, command: &Command) -> (Settings, Option<UsageError>) {
        let mut s = Settings {
            yes: g.yes,
            show_secrets: g.show_secrets,
            output: g.output,
            color: g.use_color(),
            ..Settings::default()
        };
        s.target = match &g.db {
            Some(db) => {
                if g.container.is_some() || g.volume.is_some() {
                    return (s, Some(UsageError("--db works on a file without Docker; it does not go with --container or --volume".into())));
                }
                Target::File(db.clone())
            }
            None => Target::Engine {
                host: g.host.clone(),
                container: g.container.clone(),
                volume: g.volume.clone(),
                access: g.access,
            },
        };
        match command {
            Command::Inspect(a) => {
                s.dry_run = true;
                s.discover = discovery(&a.discovery);
            }
            Command::Fix(a) => s.fix(a),
            Command::Backup(a) => s.backup_dir = a.backup_dir.clone(),
            Command::Backups(a) => s.backup_dir = a.backup_dir.clone(),
            Command::Restore(a) => {
                s.backup = a.backup.clone();
                s.allow_other_database = a.allow_other_database;
                s.backup_dir = a.backup_dir.clone();
                s.restart = !a.no_restart;
                s.wait = a.wait;
            }
            Command::Fleet(_) | Command::Completions { .. } | Command::Man => {}
        }
        (s, None)
    }

    fn fix(&mut self, a: &FixArgs) {
        self.only = a.connector.clone();
        self.issuer = a.issuer.clone();
        self.sets = a.set.clone();
        self.issuer_alias = a.issuer_alias;
        self.discover = discovery(&a.discovery);
        self.dry_run = a.dry_run;
        self.backup_dir = a.backup_dir.clone();
        self.restart = !a.no_restart;
        self.wait = a.wait;
    }
}

impl Default for Settings {
    /// A read-only look at the local engine's deployment, as `ozrepair inspect` with no flags.
    fn default() -> Settings {
        Settings {
            target: Target::Engine {
                host: None,
                container: None,
                volume: None,
                access: Access::Auto,
            },
            yes: false,
            show_secrets: false,
            output: Output::Text,
            color: false,
            only: None,
            issuer: None,
            sets: Vec::new(),
            issuer_alias: false,
            discover: None,
            dry_run: false,
            backup_dir: None,
            restart: true,
            wait: 30,
            backup: None,
            allow_other_database: false,
        }
    }
}

fn discovery(d: &crate::cli::DiscoverArgs) -> Option<discover::Options> {
    d.discover.then(|| discover::Options {
        timeout: Duration::from_secs(d.discover_timeout.max(1)),
        ca_file: d.ca_file.clone(),
        allow_http: d.allow_http,
    })
}
