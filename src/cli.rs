//! The command line, defined in one place. The surface is the contract in docs/cli-contract.md (v1): scripts
//! and fleets depend on these names, flags and exit codes. [`crate::settings`] turns it into what a run does.

use crate::dex::secrets::is_secret_field;
use crate::verdict::{ExitCode, UsageError};
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

const AFTER_HELP: &str = "\
Examples:
  ozrepair inspect                      find the deployment, show its connectors and what is wrong
  ozrepair fix --dry-run                show the planned change as a diff; change nothing
  ozrepair fix --yes                    back up, stop, correct the issuer, start, watch it come up
  ozrepair fix --connector ID --issuer https://oauth.id.jumpcloud.com/ --yes
  ozrepair --db ./idp.db inspect        work on a database file directly, without Docker
  ozrepair backups / restore            list backups / put the newest one back

Where the right issuer comes from: --issuer; else the container's own log line
  (`issuer did not match the issuer returned by provider, expected \"X\" got \"Y\"`: Y replaces X);
  else, with --discover, the provider's discovery document.
  ozrepair never adds or strips a slash on its own.
";

/// The help's closing text: the examples, then the exit-code table from [`ExitCode`].
fn after_help() -> String {
    format!("{AFTER_HELP}\n{}", ExitCode::help_table())
}

/// The largest `--wait` and `--host-timeout`: a day, in seconds (every deadline is `now + this`, which
/// cannot overflow).
pub const MAX_WAIT: u64 = 86_400;
/// The largest `--discover-timeout`, in seconds.
pub const MAX_DISCOVER_TIMEOUT: u64 = 3_600;
/// The largest `--parallel`, `--serial` and `--max-fail`.
pub const MAX_HOSTS: u64 = 100_000;

/// A clap parser for a count in `lo..=hi` (a usage error, exit 2, outside it).
fn count_in(lo: u64, hi: u64) -> clap::builder::RangedU64ValueParser<usize> {
    clap::builder::RangedU64ValueParser::<usize>::new().range(lo..=hi)
}

/// `ozrepair --version`: version, git commit, build target.
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("OZR_GIT_COMMIT"),
    ", ",
    env!("OZR_TARGET"),
    ")"
);

#[derive(Debug, Parser)]
#[command(name = "ozrepair", version = VERSION, about, after_help = after_help(), propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Access {
    /// The host path when this machine can read the volume, else the archive API.
    #[default]
    Auto,
    /// The volume's path on this machine's filesystem.
    Host,
    /// Copy the database out of the container and back through the Docker archive API.
    Archive,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Color {
    /// Colour when stdout is a terminal and NO_COLOR is not set (and TERM is not dumb).
    Auto,
    Always,
    Never,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// A report for a person.
    Text,
    /// One JSON object (contract v1).
    Json,
    /// A monitoring-plugin status line with performance data; exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.
    Nagios,
    /// Prometheus text format, for node_exporter's textfile collector.
    Prometheus,
}

/// Options every command takes, before or after the command name.
#[derive(Debug, Clone, Args)]
pub struct Global {
    /// Docker endpoint: unix://, tcp:// or ssh://[user@]host[:port]. Default: $DOCKER_HOST, else the Docker
    /// context ($DOCKER_CONTEXT or `docker context use`), else the local socket.
    #[arg(
        short = 'H',
        long,
        global = true,
        env = "DOCKER_HOST",
        value_name = "URL"
    )]
    pub host: Option<String>,
    /// The container that runs the IdP. Default: discovered.
    #[arg(long, global = true, value_name = "NAME|ID")]
    pub container: Option<String>,
    /// The volume that holds the IdP database. Default: discovered.
    #[arg(long, global = true, value_name = "NAME")]
    pub volume: Option<String>,
    /// How to reach the database: the volume's path on this machine, or the Docker archive API (for a
    /// remote engine, Docker Desktop, rootless Docker).
    #[arg(long, global = true, value_enum, default_value_t = Access::Auto)]
    pub access: Access,
    /// Work on this database file directly, without Docker (nothing is stopped or started).
    #[arg(long, global = true, value_name = "PATH")]
    pub db: Option<PathBuf>,
    /// Report format on stdout. Logs and progress go to stderr. `nagios` exits as a monitoring plugin does
    /// (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN); the others exit with the codes below.
    #[arg(long, global = true, value_enum, default_value_t = Output::Text)]
    pub output: Output,
    /// Colour in the text report.
    #[arg(long, global = true, value_enum, default_value_t = Color::Auto)]
    pub color: Color,
    /// Debug logs on stderr (-v: ozrepair's own, -vv: also its libraries').
    #[arg(short = 'v', long = "verbose", global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Print secret config values (clientSecret and the like) instead of [redacted].
    #[arg(long, global = true)]
    pub show_secrets: bool,
    /// Do not ask for confirmation (required when stdin is not a terminal and a change is due).
    #[arg(short = 'y', long, global = true)]
    pub yes: bool,
    /// ssh:// endpoints: trust a host key ssh does not know yet and add it to known_hosts (ssh's
    /// StrictHostKeyChecking=accept-new). Without it an unknown host key is an error, as your ssh config says.
    #[arg(long, global = true)]
    pub ssh_accept_new: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Read-only: find the deployment, list its connectors, report what is wrong. Never writes a byte,
    /// never stops, starts or restarts anything. With --discover it is also a monitoring check: exit 3
    /// when a provider no longer publishes the issuer a connector stores.
    Inspect(InspectArgs),
    /// Correct broken connectors: back up, stop the container, edit, start it, watch that it stays up.
    Fix(FixArgs),
    /// Take a verified backup now (the container is stopped around it, then started again).
    Backup(BackupArgs),
    /// Put a backup back (the newest one unless told which).
    Restore(RestoreArgs),
    /// The emergency door: turn local (email and password) login back on for the next start, in each
    /// config file that turns it off, and create Dex's `local` connector row again if it was deleted.
    /// Backs up, stops, edits, starts and watches like fix; never implied by fix.
    LocalLogin(LocalLoginArgs),
    /// List the backups of a deployment.
    Backups(BackupsArgs),
    /// Set a local (Dex password database) user's password, read from a file or stdin, and end that
    /// user's local sessions: back up, stop the container, write, start it, watch that it stays up.
    Password(PasswordArgs),
    /// Run inspect or fix over many Docker hosts listed in an inventory.
    Fleet(FleetArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff), e.g. `ozrepair man > /usr/local/share/man/man1/ozrepair.1`.
    Man,
}

impl Command {
    /// The command's name, as the report's `command` field gives it.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Inspect(_) => "inspect",
            Command::Fix(_) => "fix",
            Command::Backup(_) => "backup",
            Command::Restore(_) => "restore",
            Command::LocalLogin(_) => "local-login",
            Command::Backups(_) => "backups",
            Command::Password(_) => "password",
            Command::Fleet(_) => "fleet",
            Command::Completions { .. } => "completions",
            Command::Man => "man",
        }
    }
}

/// The completion script for `shell`, generated from the definitions above.
pub fn completions(shell: clap_complete::Shell) -> Vec<u8> {
    let mut cmd = <Cli as clap::CommandFactory>::command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd, "ozrepair", &mut out);
    out
}

/// The man page (roff), generated from the definitions above.
pub fn man() -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    clap_mangen::Man::new(<Cli as clap::CommandFactory>::command()).render(&mut out)?;
    Ok(out)
}

impl Global {
    /// Whether the text report is coloured.
    pub fn use_color(&self) -> bool {
        use std::io::IsTerminal;
        match self.color {
            Color::Always => true,
            Color::Never => false,
            Color::Auto => {
                std::io::stdout().is_terminal()
                    && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                    && std::env::var("TERM").map(|t| t != "dumb").unwrap_or(true)
            }
        }
    }
}

#[derive(Debug, Clone, Args)]
pub struct InspectArgs {
    #[command(flatten)]
    pub discovery: DiscoverArgs,
}

/// Asking the providers (OIDC discovery).
#[derive(Debug, Clone, Args)]
pub struct DiscoverArgs {
    /// Ask each connector's provider (its discovery document) for the issuer it publishes.
    #[arg(long)]
    pub discover: bool,
    /// Trust the CA certificates in this PEM file (instead of the built-in roots), for a provider behind a
    /// private CA.
    #[arg(long, value_name = "FILE", requires = "discover")]
    pub ca_file: Option<PathBuf>,
    /// Allow plain http:// discovery to hosts other than loopback.
    #[arg(long, requires = "discover")]
    pub allow_http: bool,
    /// Seconds to wait for each discovery document.
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = 10,
        requires = "discover",
        value_parser = clap::value_parser!(u64).range(1..=MAX_DISCOVER_TIMEOUT)
    )]
    pub discover_timeout: u64,
}

#[derive(Debug, Clone, Args)]
pub struct FixArgs {
    /// Show the planned changes as a diff; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Only this connector.
    #[arg(long, value_name = "ID")]
    pub connector: Option<String>,
    /// Set exactly this issuer (needs --connector when more than one connector could match).
    #[arg(long, value_name = "URL")]
    pub issuer: Option<String>,
    #[command(flatten)]
    pub discovery: DiscoverArgs,
    /// Set a string field of a connector's config, e.g. --set okta-1.redirectURI=https://vpn.example.com/oauth2/callback
    /// (the field must exist; secrets cannot be set this way). Repeatable.
    #[arg(long = "set", value_name = "CONNECTOR.FIELD=VALUE")]
    pub set: Vec<SetField>,
    /// Correct a mismatch by adding Dex's issuerAlias (the published issuer) and leaving issuer as it is
    /// (Dex v2.43 or later).
    #[arg(long)]
    pub issuer_alias: bool,
    /// Where the backup goes. Default: beside the database (ozrepair-backups/).
    #[arg(long, value_name = "DIR")]
    pub backup_dir: Option<PathBuf>,
    /// Leave the container stopped after the edit.
    #[arg(long)]
    pub no_restart: bool,
    /// How long to watch the restarted container, in seconds (0: do not watch; at most a day).
    #[arg(long, value_name = "SECONDS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(0..=MAX_WAIT))]
    pub wait: u64,
}

#[derive(Debug, Clone, Args)]
pub struct FleetArgs {
    /// One Docker endpoint a line (unix://, tcp://, ssh://), `-` for stdin. After the endpoint, optional
    /// `container=NAME`, `volume=NAME` and `access=auto|host|archive`; `#` starts a comment.
    #[arg(long, value_name = "FILE")]
    pub inventory: PathBuf,
    /// How many hosts run at once.
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = count_in(1, MAX_HOSTS))]
    pub parallel: usize,
    /// Work in batches of N hosts, one batch after the other (default: one batch of all hosts).
    #[arg(long, value_name = "N", value_parser = count_in(1, MAX_HOSTS))]
    pub serial: Option<usize>,
    /// Stop before the next batch once more than N hosts have failed.
    #[arg(long, value_name = "N", value_parser = count_in(0, MAX_HOSTS))]
    pub max_fail: Option<usize>,
    /// Seconds one host may take before it is stopped and counted as failed.
    #[arg(long, value_name = "SECONDS", default_value_t = 600,
          value_parser = clap::value_parser!(u64).range(1..=MAX_WAIT))]
    pub host_timeout: u64,
    #[command(subcommand)]
    pub action: FleetAction,
}

#[derive(Debug, Clone, Subcommand)]
pub enum FleetAction {
    /// Inspect every host (read-only).
    Inspect(InspectArgs),
    /// Fix every host (needs --yes: nothing can ask).
    Fix(FixArgs),
    /// Set the same local user's password on every host (needs --yes; the password file, on this
    /// machine, is read by each host's run; not `-`).
    Password(PasswordArgs),
    /// Turn local login back on on every host (needs --yes unless --dry-run).
    LocalLogin(LocalLoginArgs),
}

impl LocalLoginArgs {
    /// These options as command-line arguments again (for the per-host runs of `fleet`).
    pub fn to_args(&self) -> Vec<String> {
        let mut a: Vec<String> = vec!["--enable".into()];
        if self.dry_run {
            a.push("--dry-run".into());
        }
        if let Some(d) = &self.backup_dir {
            a.push(format!("--backup-dir={}", d.display()));
        }
        if self.no_restart {
            a.push("--no-restart".into());
        }
        a.push(format!("--wait={}", self.wait));
        a
    }
}

impl PasswordArgs {
    /// These options as command-line arguments again (for the per-host runs of `fleet`): the path of the
    /// password file, never its content.
    pub fn to_args(&self) -> Vec<String> {
        let mut a: Vec<String> = vec![
            format!("--email={}", self.email),
            format!("--password-file={}", self.password_file.display()),
        ];
        if self.dry_run {
            a.push("--dry-run".into());
        }
        if let Some(d) = &self.backup_dir {
            a.push(format!("--backup-dir={}", d.display()));
        }
        if self.no_restart {
            a.push("--no-restart".into());
        }
        a.extend(["--wait".into(), self.wait.to_string()]);
        a
    }
}

impl DiscoverArgs {
    /// These options as command-line arguments again (for the per-host runs of `fleet`).
    pub fn to_args(&self) -> Vec<String> {
        let mut a = Vec::new();
        if self.discover {
            a.push("--discover".into());
            a.extend([
                "--discover-timeout".into(),
                self.discover_timeout.to_string(),
            ]);
        }
        if let Some(f) = &self.ca_file {
            a.extend(["--ca-file".into(), f.display().to_string()]);
        }
        if self.allow_http {
            a.push("--allow-http".into());
        }
        a
    }
}

impl FixArgs {
    /// These options as command-line arguments again (for the per-host runs of `fleet`).
    pub fn to_args(&self) -> Vec<String> {
        let mut a: Vec<String> = Vec::new();
        if self.dry_run {
            a.push("--dry-run".into());
        }
        if let Some(c) = &self.connector {
            a.extend(["--connector".into(), c.clone()]);
        }
        if let Some(i) = &self.issuer {
            a.extend(["--issuer".into(), i.clone()]);
        }
        a.extend(self.discovery.to_args());
        for s in &self.set {
            a.extend([
                "--set".into(),
                format!("{}.{}={}", s.connector, s.field, s.value),
            ]);
        }
        if self.issuer_alias {
            a.push("--issuer-alias".into());
        }
        if let Some(d) = &self.backup_dir {
            a.extend(["--backup-dir".into(), d.display().to_string()]);
        }
        if self.no_restart {
            a.push("--no-restart".into());
        }
        a.extend(["--wait".into(), self.wait.to_string()]);
        a
    }
}

/// `password`: the user, where the new password comes from, and how the change is applied (as `fix`).
#[derive(Debug, Clone, Args)]
pub struct PasswordArgs {
    /// The local user's email, as stored in Dex's password table (looked up trimmed and lowercased, as Dex
    /// and NetBird do).
    #[arg(long, value_name = "ADDR")]
    pub email: String,
    /// The file whose first line is the new password (trailing line ends dropped; one line only), or `-`
    /// for stdin (not a terminal: ozrepair does not prompt). There is no flag for the password itself.
    #[arg(long, value_name = "FILE|-")]
    pub password_file: PathBuf,
    /// Say what would change; change nothing, stop nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Where the backup goes. Default: beside the database (ozrepair-backups/).
    #[arg(long, value_name = "DIR")]
    pub backup_dir: Option<PathBuf>,
    /// Leave the container stopped after the write.
    #[arg(long)]
    pub no_restart: bool,
    /// How long to watch the restarted container, in seconds (0: do not watch; at most a day).
    #[arg(long, value_name = "SECONDS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(0..=MAX_WAIT))]
    pub wait: u64,
}

#[derive(Debug, Clone, Args)]
pub struct LocalLoginArgs {
    /// Turn local login on (required: the door opens only when asked by name).
    #[arg(long, required = true)]
    pub enable: bool,
    /// Show the planned changes as a diff; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Where the backup goes. Default: beside the database (ozrepair-backups/).
    #[arg(long, value_name = "DIR")]
    pub backup_dir: Option<PathBuf>,
    /// Leave the container stopped after the edit.
    #[arg(long)]
    pub no_restart: bool,
    /// How long to watch the restarted container, in seconds (0: do not watch; at most a day).
    #[arg(long, value_name = "SECONDS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(0..=MAX_WAIT))]
    pub wait: u64,
}

#[derive(Debug, Clone, Args)]
pub struct BackupArgs {
    /// Where the backup goes. Default: beside the database (ozrepair-backups/).
    #[arg(long, value_name = "DIR")]
    pub backup_dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct BackupsArgs {
    /// Where the backups are. Default: beside the database (ozrepair-backups/).
    #[arg(long, value_name = "DIR")]
    pub backup_dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct RestoreArgs {
    /// The backup directory to put back. Default: the newest one.
    #[arg(long, value_name = "PATH")]
    pub backup: Option<PathBuf>,
    /// Put back a set whose manifest names another database (by default a set restores only onto its own).
    #[arg(long)]
    pub allow_other_database: bool,
    /// Where the backups are. Default: beside the database (ozrepair-backups/).
    #[arg(long, value_name = "DIR")]
    pub backup_dir: Option<PathBuf>,
    /// Leave the container stopped after the restore.
    #[arg(long)]
    pub no_restart: bool,
    /// How long to watch the restarted container, in seconds (0: do not watch; at most a day).
    #[arg(long, value_name = "SECONDS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(0..=MAX_WAIT))]
    pub wait: u64,
}

/// One `--set CONNECTOR.FIELD=VALUE`, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetField {
    pub connector: String,
    pub field: String,
    pub value: String,
}

impl std::str::FromStr for SetField {
    type Err = UsageError;
    fn from_str(s: &str) -> Result<Self, UsageError> {
        let bad = || UsageError(format!("--set takes CONNECTOR.FIELD=VALUE, not {s:?}"));
        let (left, value) = s.split_once('=').ok_or_else(bad)?;
        let (connector, field) = left.rsplit_once('.').ok_or_else(bad)?;
        if connector.is_empty() || field.is_empty() {
            return Err(bad());
        }
        if is_secret_field(field) {
            return Err(UsageError(format!(
                "--set does not set secrets ({field} would be printed in the plan); nothing was changed"
            )));
        }
        Ok(SetField {
            connector: connector.into(),
            field: field.into(),
            value: value.into(),
        })
    }
}
