//! The command line, defined in one place. The surface is the contract in docs/cli-contract.md (v1): scripts
//! and fleets depend on these names, flags and exit codes. [`crate::settings`] turns it into what a run does.

use crate::dex::secrets::is_secret_field;
use crate::verdict::{ExitCode, UsageError};
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::ffi::OsString;
use std::path::PathBuf;

/// One example in a command's help and man page: a command line (that the parser takes: a test runs
/// every one through [`parse`]) and what it does.
pub struct Example {
    pub line: &'static str,
    pub what: &'static str,
}

const fn ex(line: &'static str, what: &'static str) -> Example {
    Example { line, what }
}

/// The examples of each command (`ozrepair` for the program itself), shown by `--help` and the man pages.
pub const EXAMPLES: &[(&str, &[Example])] = &[
    (
        "ozrepair",
        &[
            ex(
                "ozrepair inspect",
                "Find the deployment, show its connectors and what is wrong; change nothing.",
            ),
            ex(
                "ozrepair fix --dry-run",
                "Show the planned change as a diff; stop nothing, change nothing.",
            ),
            ex(
                "ozrepair fix",
                "Ask, then stop the container, back up, correct, start it and watch it.",
            ),
            ex(
                "ozrepair --db ./idp.db inspect",
                "Look at a database file directly, without Docker.",
            ),
        ],
    ),
    (
        "inspect",
        &[
            ex(
                "ozrepair inspect",
                "Find the deployment, show its connectors and what is wrong.",
            ),
            ex(
                "ozrepair inspect --discover -o json",
                "Also ask each provider for its issuer; the report as JSON.",
            ),
            ex(
                "ozrepair -H ssh://root@vpn.example.com inspect",
                "Look at the deployment of a remote Docker engine.",
            ),
            ex(
                "ozrepair --dsn-file /root/dex.dsn inspect",
                "Read Dex's store on the PostgreSQL or MySQL server this file names.",
            ),
        ],
    ),
    (
        "fix",
        &[
            ex(
                "ozrepair fix --dry-run",
                "Show the planned change as a diff; stop nothing, change nothing.",
            ),
            ex(
                "ozrepair fix",
                "Show the diff and ask; then stop, back up, correct, start, watch.",
            ),
            ex(
                "ozrepair fix --connector ID --issuer https://oauth.id.jumpcloud.com/ --yes",
                "Set exactly this issuer on one connector, without asking.",
            ),
            ex(
                "ozrepair fix --dsn-file /root/dex.dsn --live",
                "Correct Dex's store on a database server while Dex runs elsewhere.",
            ),
        ],
    ),
    (
        "backup",
        &[
            ex(
                "ozrepair backup --dry-run",
                "Say what would be stopped and where the backup would go.",
            ),
            ex(
                "ozrepair backup",
                "Ask, then stop the container, take a verified backup, start it.",
            ),
            ex(
                "ozrepair backup --yes --backup-dir /var/backups/ozrepair",
                "The same without asking, into another directory.",
            ),
        ],
    ),
    (
        "restore",
        &[
            ex(
                "ozrepair restore --dry-run",
                "Name the backup that would be put back; change nothing.",
            ),
            ex(
                "ozrepair restore",
                "Ask, then put the newest backup of this database back.",
            ),
            ex(
                "ozrepair restore --backup DIR --yes",
                "Put this backup set back, without asking.",
            ),
        ],
    ),
    (
        "local-login",
        &[
            ex(
                "ozrepair local-login --enable --dry-run",
                "Show what would turn local login back on.",
            ),
            ex(
                "ozrepair local-login --enable",
                "Ask, then turn it on: stop, back up, edit, start, watch.",
            ),
        ],
    ),
    (
        "backups",
        &[
            ex(
                "ozrepair backups",
                "List the backups of this database, oldest first.",
            ),
            ex(
                "ozrepair backups --all -o json",
                "Also the sets of other databases in the directory, as JSON.",
            ),
        ],
    ),
    (
        "password",
        &[
            ex(
                "ozrepair password --email admin@example.com --password-file ./pw --dry-run",
                "Say whose password would be set; change nothing.",
            ),
            ex(
                "ozrepair password --email admin@example.com --password-file ./pw",
                "Ask, then set it: stop, back up, write, start, watch.",
            ),
        ],
    ),
    (
        "secret",
        &[
            ex(
                "ozrepair secret --connector entra --secret-file - --verify --dry-run",
                "Type the new secret (not echoed); ask the provider; change nothing.",
            ),
            ex(
                "ozrepair secret --connector entra --secret-file ./new-secret --verify",
                "Ask the provider, then ask and write it: stop, back up, write, start.",
            ),
            ex(
                "ozrepair secret --connector management --secret-file ./s",
                "Set the management's IdP-manager credential in management.json.",
            ),
        ],
    ),
    (
        "domain",
        &[
            ex(
                "ozrepair domain --to vpn.example.net",
                "Show every place that holds the old host as one diff; change nothing.",
            ),
            ex(
                "ozrepair domain --from vpn.example.com --to vpn.example.net --apply",
                "Ask, then change them all in one stop window with one backup set.",
            ),
        ],
    ),
    (
        "fleet",
        &[
            ex(
                "ozrepair fleet --inventory hosts.txt inspect",
                "Inspect every host of the inventory (exit 3: a fix is due).",
            ),
            ex(
                "ozrepair fleet --inventory hosts.txt --serial 1 --max-fail 0 fix --yes",
                "Fix one host after the other; stop at the first failure.",
            ),
            ex(
                "ozrepair fleet --inventory - -o json inspect",
                "Hosts from stdin; one JSON report a line, then a summary.",
            ),
        ],
    ),
    (
        "completions",
        &[
            ex(
                "ozrepair completions bash > /etc/bash_completion.d/ozrepair",
                "Install bash completion.",
            ),
            ex(
                "ozrepair completions zsh > ~/.zfunc/_ozrepair",
                "Install zsh completion (~/.zfunc in $fpath).",
            ),
        ],
    ),
    (
        "man",
        &[
            ex(
                "ozrepair man --dir /usr/local/share/man/man1",
                "Write ozrepair(1) and a page per command.",
            ),
            ex("ozrepair man | man -l -", "Read ozrepair(1) now."),
        ],
    ),
];

/// The examples of `command` (`ozrepair` for the program's own).
pub fn examples(command: &str) -> &'static [Example] {
    EXAMPLES
        .iter()
        .find(|(c, _)| *c == command)
        .map(|(_, e)| *e)
        .unwrap_or(&[])
}

/// The examples of `command` as help text.
fn examples_help(command: &str) -> String {
    let mut s = String::from("Examples:");
    for e in examples(command) {
        s.push_str(&format!("\n  {}\n      {}", e.line, e.what));
    }
    s
}

/// The help's closing text: the examples, where the right issuer comes from, then the exit-code table
/// from [`ExitCode`].
fn after_help() -> String {
    format!(
        "{}\n\n{ISSUER_FROM}\n\n{}\n\nEach command has its own help and examples: ozrepair COMMAND --help; man ozrepair.",
        examples_help("ozrepair"),
        ExitCode::help_table()
    )
}

const ISSUER_FROM: &str = "\
Where the right issuer comes from: --issuer; else the container's own log line
  (`issuer did not match the issuer returned by provider, expected \"X\" got \"Y\"`:
  Y replaces X); else, with --discover, the provider's discovery document.
  ozrepair never adds or strips a slash on its own.";

/// The largest `--wait` and `--host-timeout`: a day, in seconds (every deadline is `now + this`, which
/// cannot overflow).
pub const MAX_WAIT: u64 = 86_400;
/// The largest `--discover-timeout`, in seconds.
pub const MAX_DISCOVER_TIMEOUT: u64 = 3_600;
/// The largest `--parallel`, `--serial` and `--max-fail`.
pub const MAX_HOSTS: u64 = 100_000;

/// A clap parser for a duration in whole seconds from `lo` to `hi`: a number of seconds (`30`), or
/// numbers with units joined (`30s`, `2m`, `1h`, `1m30s`), as kubectl and terraform take them. Anything
/// else, a negative duration among them, is a usage error (exit 2) that says what is taken.
fn duration_in(lo: u64, hi: u64) -> impl Fn(&str) -> Result<u64, String> + Clone + Send + Sync {
    move |s: &str| {
        let taken = format!(
            "takes seconds or a duration such as 30s, 2m or 1m30s, from {} to {}",
            show_duration(lo),
            show_duration(hi)
        );
        if s.starts_with('-') {
            return Err(format!("a duration is never negative; it {taken}"));
        }
        let secs = seconds_of(s).ok_or_else(|| format!("not a duration; it {taken}"))?;
        if secs < lo || secs > hi {
            return Err(format!("out of range; it {taken}"));
        }
        Ok(secs)
    }
}

/// The seconds `s` names (see [`duration_in`]); None when it is not such a duration (or overflows).
pub fn seconds_of(s: &str) -> Option<u64> {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return s.parse().ok();
    }
    let mut total: u64 = 0;
    let mut rest = s;
    // Each unit at most once, from the largest down.
    let mut units: &[(char, u64)] = &[('h', 3600), ('m', 60), ('s', 1)];
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let n: u64 = rest[..digits].parse().ok()?;
        let unit = rest[digits..].chars().next()?;
        let at = units.iter().position(|(u, _)| *u == unit)?;
        total = total.checked_add(n.checked_mul(units[at].1)?)?;
        units = &units[at + 1..];
        rest = &rest[digits + 1..];
    }
    (!s.is_empty()).then_some(total)
}

/// Seconds as the help says them: `0s`, `30s`, `24h`.
fn show_duration(secs: u64) -> String {
    match secs {
        s if s >= 3600 && s % 3600 == 0 => format!("{}h", s / 3600),
        s if s >= 60 && s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

/// `--ca-file`, checked when the command line is read: a file this process can read that holds at least
/// one PEM certificate (a usage error, exit 2, otherwise; nothing has been looked at yet).
fn ca_file(s: &str) -> Result<PathBuf, String> {
    use std::io::Read;
    let next = "give a PEM file that holds the provider's root CA certificate";
    let mut pem = Vec::new();
    std::fs::File::open(s)
        .and_then(|f| f.take(4 << 20).read_to_end(&mut pem))
        .map_err(|e| format!("cannot read it ({}); {next}", crate::verdict::io_words(&e)))?;
    let certs = ureq::tls::parse_pem(&pem)
        .filter(|i| matches!(i, Ok(ureq::tls::PemItem::Certificate(_))))
        .count();
    if certs == 0 {
        return Err(format!(
            "it holds no PEM certificate (-----BEGIN CERTIFICATE-----); {next}"
        ));
    }
    Ok(PathBuf::from(s))
}

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
#[command(name = "ozrepair", version = VERSION, about, long_about = LONG_ABOUT, after_help = after_help(),
          propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// What `ozrepair --help` and ozrepair(1) say first.
const LONG_ABOUT: &str = "\
Brings a locked-out openZro / NetBird deployment back: finds the Dex database
through what runs it, diagnoses broken connectors from the container's own logs,
and repairs them (a verified backup, a byte-exact edit, a start and a watch).

At 3 a.m.: `ozrepair inspect` (read-only), then `ozrepair fix --dry-run` (the
diff; nothing stops), then `ozrepair fix` (asks, then stops the container, backs
up, writes, starts it and watches it). Every command that stops the container
asks first; without a terminal it needs --yes.";

/// The heading of the options that say where the deployment is (every command that reads one takes them).
pub const RUNTIME_OPTIONS: &str = "Runtime options";
/// The heading of the options every command takes (how it reports and asks).
pub const GLOBAL_OPTIONS: &str = "Global options";

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
        value_name = "URL",
        help_heading = RUNTIME_OPTIONS
    )]
    pub host: Option<String>,
    /// The container that runs the IdP. Default: discovered.
    #[arg(long, global = true, value_name = "NAME|ID", help_heading = RUNTIME_OPTIONS)]
    pub container: Option<String>,
    /// The volume that holds the IdP database. Default: discovered.
    #[arg(long, global = true, value_name = "NAME", help_heading = RUNTIME_OPTIONS)]
    pub volume: Option<String>,
    /// How to reach the database: the volume's path on this machine, or the Docker archive API (for a
    /// remote engine, Docker Desktop, rootless Docker).
    #[arg(long, global = true, value_enum, default_value_t = Access::Auto, help_heading = RUNTIME_OPTIONS)]
    pub access: Access,
    /// Work on this database file directly, without Docker (nothing is stopped or started).
    #[arg(long, global = true, value_name = "PATH", help_heading = RUNTIME_OPTIONS)]
    pub db: Option<PathBuf>,
    /// The systemd unit that runs the management server or Dex (`netbird-management`). Default: the
    /// engine's container, else the unit found by its name or by the program it runs.
    #[arg(long, global = true, value_name = "NAME", help_heading = RUNTIME_OPTIONS)]
    pub unit: Option<String>,
    /// The Dex store's database server, as a PostgreSQL connection string or URI, or a MySQL DSN or URI,
    /// read from this file (`-`: stdin) so that its password is in no shell history or process list; the
    /// environment variable OZREPAIR_DSN may hold it instead. It replaces the connection the deployment's
    /// configuration names; the container (or unit) found is still what is stopped and started.
    #[arg(long, global = true, value_name = "FILE", help_heading = RUNTIME_OPTIONS)]
    pub dsn_file: Option<PathBuf>,
    /// ssh:// endpoints: trust a host key ssh does not know yet and add it to known_hosts (ssh's
    /// StrictHostKeyChecking=accept-new). Without it an unknown host key is an error, as your ssh config says.
    #[arg(long, global = true, help_heading = RUNTIME_OPTIONS)]
    pub ssh_accept_new: bool,
    /// Report format on stdout. Logs and progress go to stderr. `nagios` exits as a monitoring plugin does
    /// (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN); the others exit with the codes of `ozrepair --help`.
    #[arg(short = 'o', long, global = true, value_enum, default_value_t = Output::Text, help_heading = GLOBAL_OPTIONS)]
    pub output: Output,
    /// Do not ask for confirmation (required when stdin is not a terminal and something would be
    /// stopped or changed).
    #[arg(short = 'y', long, global = true, help_heading = GLOBAL_OPTIONS)]
    pub yes: bool,
    /// Colour in the text report.
    #[arg(long, global = true, value_enum, default_value_t = Color::Auto, help_heading = GLOBAL_OPTIONS)]
    pub color: Color,
    /// Debug logs on stderr (-v: ozrepair's own, -vv: also its libraries').
    #[arg(short = 'v', long = "verbose", global = true, action = clap::ArgAction::Count, help_heading = GLOBAL_OPTIONS)]
    pub verbose: u8,
    /// Print secret config values (clientSecret and the like) instead of [redacted].
    #[arg(long, global = true, help_heading = GLOBAL_OPTIONS)]
    pub show_secrets: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Read-only: find the deployment, show its connectors and what is wrong.
    ///
    /// It lists the connectors with their issuers and status, what is wrong, and the plan fix would apply.
    /// It never writes a byte, and never stops, starts or restarts anything. With --discover it is also a
    /// monitoring check: exit 3 when a provider no longer publishes the issuer a connector stores.
    #[command(after_help = examples_help("inspect"))]
    Inspect(InspectArgs),
    /// Correct broken connectors (asks, then stops the container).
    ///
    /// It shows the planned change as a diff and asks; then it stops the container, takes a verified
    /// backup, edits only the bytes of the wrong values, starts the container and watches that it stays
    /// up. --dry-run shows the diff and stops nothing.
    #[command(after_help = examples_help("fix"))]
    Fix(FixArgs),
    /// Take a verified backup now (asks, then stops the container).
    ///
    /// It says what will be stopped and asks; then it stops the container, copies and verifies the
    /// database, and starts the container again. --dry-run says what would be stopped and where the
    /// backup would go.
    #[command(after_help = examples_help("backup"))]
    Backup(BackupArgs),
    /// Put a backup back (asks, then stops the container).
    ///
    /// It puts back the newest backup of this database unless --backup names one (never a pre-restore
    /// copy). It says which and asks; then it stops the container, saves the current database as a set
    /// labelled -pre-restore, swaps the backup in, starts the container and watches it. --dry-run names
    /// the set and stops nothing.
    #[command(after_help = examples_help("restore"))]
    Restore(RestoreArgs),
    /// Turn local (email and password) login back on (asks, then stops the container).
    ///
    /// The emergency door: local login is turned on for the next start in each config file that turns it
    /// off, and Dex's `local` connector row is created again if it was deleted. It asks, stops, backs up,
    /// edits, starts and watches like fix; fix never does it.
    #[command(after_help = examples_help("local-login"))]
    LocalLogin(LocalLoginArgs),
    /// List the backups of this database (read-only).
    ///
    /// It lists the backup sets of this database, the ones restore puts back, oldest first (--all: the
    /// sets of every database in the backup directory). Nothing is stopped or written.
    #[command(after_help = examples_help("backups"))]
    Backups(BackupsArgs),
    /// Set a local user's password (asks, then stops the container).
    ///
    /// The new password of a user of Dex's password database is read from a file or stdin, and that
    /// user's local sessions end. It asks; then it stops the container, backs up, writes, starts the
    /// container and watches it.
    #[command(after_help = examples_help("password"))]
    Password(PasswordArgs),
    /// Set a connector's client secret (asks, then stops the container).
    ///
    /// The new client secret (or bind password) of a connector, or the management's IdP-manager
    /// credential, is read from a file, stdin or the terminal (echo off), never from the command line,
    /// and written everywhere it lives. With --verify the provider's token endpoint is asked first, and a
    /// secret it refuses is never written. It asks; then it stops, backs up, writes, starts and watches.
    #[command(after_help = examples_help("secret"))]
    Secret(SecretArgs),
    /// Move the deployment's domain (a diff unless --apply).
    ///
    /// Every place ozrepair reads that holds the old host (config files, connectors' redirectURI) is
    /// shown as one diff; a place it cannot edit blocks the run. With --apply all of them are changed in
    /// one stop window with one backup set; DNS, certificates and proxies are listed as a checklist.
    #[command(after_help = examples_help("domain"))]
    Domain(DomainArgs),
    /// Run inspect, fix, password, secret or local-login on many Docker hosts.
    ///
    /// Each host of the inventory is a run of this binary with the host's endpoint; the output is a table
    /// (or one JSON report a line) and a summary. Changes need --yes: nothing can ask on each host.
    #[command(after_help = examples_help("fleet"))]
    Fleet(FleetArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    #[command(after_help = examples_help("completions"))]
    Completions {
        /// The shell to complete for.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page ozrepair(1), or write every page into a directory.
    ///
    /// Without --dir it prints ozrepair(1) as roff; with --dir it writes ozrepair.1 and one page per
    /// command (ozrepair-fix.1, …) into the directory.
    #[command(after_help = examples_help("man"))]
    Man(ManArgs),
}

/// `man`: where the pages go.
#[derive(Debug, Clone, Args)]
pub struct ManArgs {
    /// Write ozrepair.1 and one page per command (ozrepair-fix.1, …) into this directory (made when
    /// missing) instead of printing ozrepair(1).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
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
            Command::Secret(_) => "secret",
            Command::Domain(_) => "domain",
            Command::Fleet(_) => "fleet",
            Command::Completions { .. } => "completions",
            Command::Man(_) => "man",
        }
    }
}

/// The definitions as clap reads them: [`Cli`]'s, with `completions` and `man` taking the global options
/// silently (they are accepted, as everywhere, but not shown in their help, man page or completions:
/// neither reaches an engine or prints a report).
pub fn command() -> clap::Command {
    let root = <Cli as clap::CommandFactory>::command();
    let globals: Vec<clap::Arg> = root
        .get_arguments()
        .filter(|a| a.is_global_set())
        .cloned()
        .collect();
    // clap copies a global option into a subcommand only when the subcommand has none of that id: a
    // hidden copy of its own keeps it out of sight there.
    ["completions", "man"].into_iter().fold(root, |root, name| {
        root.mut_subcommand(name, |sub| {
            globals
                .iter()
                .fold(sub, |sub, a| sub.arg(a.clone().hide(true)))
        })
    })
}

/// The completion script for `shell`, generated from the definitions above.
pub fn completions(shell: clap_complete::Shell) -> Vec<u8> {
    let mut cmd = command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd, "ozrepair", &mut out);
    out
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

/// Options as command-line arguments again, for the per-host runs of `fleet`: each option once, as
/// `--name=VALUE` (so that a value starting with `-` stays a value). Every group of options has one, beside
/// its definition; a test round-trips every option of every command through it.
pub trait ToArgs {
    fn to_args(&self, out: &mut Vec<OsString>);

    fn args(&self) -> Vec<OsString> {
        let mut out = Vec::new();
        self.to_args(&mut out);
        out
    }
}

fn flag(out: &mut Vec<OsString>, on: bool, name: &str) {
    if on {
        out.push(name.into());
    }
}

fn value(out: &mut Vec<OsString>, name: &str, v: impl AsRef<std::ffi::OsStr>) {
    let mut a = OsString::from(format!("{name}="));
    a.push(v);
    out.push(a);
}

/// `--dry-run`.
#[derive(Debug, Clone, Default, Args)]
pub struct DryRunArg {
    /// Say what would be done (the planned changes as a diff); stop nothing, change nothing.
    #[arg(long)]
    pub dry_run: bool,
}

impl ToArgs for DryRunArg {
    fn to_args(&self, out: &mut Vec<OsString>) {
        flag(out, self.dry_run, "--dry-run");
    }
}

/// `--backup-dir`.
#[derive(Debug, Clone, Default, Args)]
pub struct BackupDirArg {
    /// Where backups are written and looked for. Default: ozrepair-backups/ beside the database (for a
    /// database reached through the archive API, ~/ozrepair-backups/<container>).
    #[arg(long, value_name = "DIR")]
    pub backup_dir: Option<PathBuf>,
}

impl ToArgs for BackupDirArg {
    fn to_args(&self, out: &mut Vec<OsString>) {
        if let Some(d) = &self.backup_dir {
            value(out, "--backup-dir", d);
        }
    }
}

/// How the IdP is started again after a change.
#[derive(Debug, Clone, Args)]
pub struct StartArgs {
    /// Leave the IdP stopped after the change.
    #[arg(long)]
    pub no_restart: bool,
    /// Write to a database server while the IdP may be running, when ozrepair cannot stop it (Dex runs
    /// elsewhere): one guarded transaction, as Dex's own UpdateConnector writes, resource_version bumped so
    /// that the running Dex opens the connector again.
    #[arg(long)]
    pub live: bool,
    /// How long to watch the restarted IdP: seconds or a duration (30, 30s, 2m, 1m30s; 0: start it, do
    /// not watch; at most a day).
    #[arg(long, value_name = "DURATION", default_value = "30", allow_hyphen_values = true,
          value_parser = duration_in(0, MAX_WAIT))]
    pub wait: u64,
}

impl Default for StartArgs {
    fn default() -> StartArgs {
        StartArgs {
            no_restart: false,
            live: false,
            wait: 30,
        }
    }
}

impl ToArgs for StartArgs {
    fn to_args(&self, out: &mut Vec<OsString>) {
        flag(out, self.no_restart, "--no-restart");
        flag(out, self.live, "--live");
        value(out, "--wait", self.wait.to_string());
    }
}

/// How a change is applied: the stop window's options (fix, password, local-login, restore).
#[derive(Debug, Clone, Default, Args)]
pub struct WindowArgs {
    #[command(flatten)]
    pub backups: BackupDirArg,
    #[command(flatten)]
    pub start: StartArgs,
}

impl ToArgs for WindowArgs {
    fn to_args(&self, out: &mut Vec<OsString>) {
        self.backups.to_args(out);
        self.start.to_args(out);
    }
}

/// Asking the providers (OIDC discovery).
#[derive(Debug, Clone, Args)]
pub struct DiscoverArgs {
    /// Ask each connector's provider (its discovery document) for the issuer it publishes.
    #[arg(long)]
    pub discover: bool,
    /// Trust the CA certificates in this PEM file (instead of the built-in roots), for a provider behind a
    /// private CA.
    #[arg(long, value_name = "FILE", requires = "discover", value_parser = ca_file)]
    pub ca_file: Option<PathBuf>,
    /// Allow plain http:// discovery to hosts other than loopback.
    #[arg(long, requires = "discover")]
    pub allow_http: bool,
    /// How long to wait for each discovery document: seconds or a duration (10, 10s, 1m).
    #[arg(
        long,
        value_name = "DURATION",
        default_value = "10",
        requires = "discover",
        allow_hyphen_values = true,
        value_parser = duration_in(1, MAX_DISCOVER_TIMEOUT)
    )]
    pub discover_timeout: u64,
}

impl Default for DiscoverArgs {
    fn default() -> DiscoverArgs {
        DiscoverArgs {
            discover: false,
            ca_file: None,
            allow_http: false,
            discover_timeout: 10,
        }
    }
}

impl ToArgs for DiscoverArgs {
    fn to_args(&self, out: &mut Vec<OsString>) {
        if self.discover {
            out.push("--discover".into());
            value(out, "--discover-timeout", self.discover_timeout.to_string());
        }
        if let Some(f) = &self.ca_file {
            value(out, "--ca-file", f);
        }
        flag(out, self.allow_http, "--allow-http");
    }
}

/// What the plan of `fix` considers: which connector, and the values the operator gives.
#[derive(Debug, Clone, Default, Args)]
pub struct PlanArgs {
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
}

impl ToArgs for PlanArgs {
    fn to_args(&self, out: &mut Vec<OsString>) {
        if let Some(c) = &self.connector {
            value(out, "--connector", c);
        }
        if let Some(i) = &self.issuer {
            value(out, "--issuer", i);
        }
        self.discovery.to_args(out);
        for s in &self.set {
            value(out, "--set", &s.raw);
        }
        flag(out, self.issuer_alias, "--issuer-alias");
    }
}

#[derive(Debug, Clone, Default, Args)]
pub struct InspectArgs {
    #[command(flatten)]
    pub discovery: DiscoverArgs,
}

impl ToArgs for InspectArgs {
    fn to_args(&self, out: &mut Vec<OsString>) {
        self.discovery.to_args(out);
    }
}

#[derive(Debug, Clone, Default, Args)]
pub struct FixArgs {
    #[command(flatten)]
    pub dry: DryRunArg,
    #[command(flatten)]
    pub plan: PlanArgs,
    #[command(flatten)]
    pub window: WindowArgs,
}

impl ToArgs for FixArgs {
    fn to_args(&self, out: &mut Vec<OsString>) {
        self.dry.to_args(out);
        self.plan.to_args(out);
        self.window.to_args(out);
    }
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
    /// How long one host may take before its run is stopped and counted as failed: seconds or a
    /// duration (600, 10m).
    #[arg(long, value_name = "DURATION", default_value = "600", allow_hyphen_values = true,
          value_parser = duration_in(1, MAX_WAIT))]
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
    /// Set the same connector's secret on every host (needs --yes unless --dry-run; the secret file, on
    /// this machine, is read by each host's run; not `-`).
    Secret(SecretArgs),
    /// Refused, whatever follows: each deployment has its own domain, and one `--to` for every host would
    /// give them all one name. Run `ozrepair -H ENDPOINT domain --to NEW` for each host.
    #[command(hide = true)]
    Domain {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
        rest: Vec<OsString>,
    },
}

/// `domain`: the new host, the old one, and whether to write (a dry run unless --apply).
#[derive(Debug, Clone, Args)]
pub struct DomainArgs {
    /// The new host (`vpn.example.net`, with `:port` when the deployment names one), no scheme.
    #[arg(long, value_name = "HOST")]
    pub to: String,
    /// The old host (default: the host of the management's AuthIssuer, else the one host every
    /// connector's redirectURI names).
    #[arg(long, value_name = "HOST")]
    pub from: Option<String>,
    /// Write the changes (without it, the diff only: nothing is written or stopped).
    #[arg(long)]
    pub apply: bool,
    #[command(flatten)]
    pub window: WindowArgs,
}

impl ToArgs for DomainArgs {
    fn to_args(&self, out: &mut Vec<OsString>) {
        value(out, "--to", &self.to);
        if let Some(f) = &self.from {
            value(out, "--from", f);
        }
        flag(out, self.apply, "--apply");
        self.window.to_args(out);
    }
}

/// Proving a credential at its provider's token endpoint (`secret --verify`).
#[derive(Debug, Clone, Args)]
pub struct VerifyArgs {
    /// Ask the provider's token endpoint with the new secret before writing it (a client credentials
    /// grant: see docs/cli-contract.md for each connector type); when it refuses it, nothing is written.
    #[arg(long)]
    pub verify: bool,
    /// Trust the CA certificates in this PEM file (instead of the built-in roots), for a provider behind a
    /// private CA.
    #[arg(long, value_name = "FILE", requires = "verify", value_parser = ca_file)]
    pub ca_file: Option<PathBuf>,
    /// Allow plain http:// to hosts other than loopback.
    #[arg(long, requires = "verify")]
    pub allow_http: bool,
    /// How long to wait for the provider's answer: seconds or a duration (10, 30s, 1m).
    #[arg(
        long,
        value_name = "DURATION",
        default_value = "10",
        requires = "verify",
        allow_hyphen_values = true,
        value_parser = duration_in(1, MAX_DISCOVER_TIMEOUT)
    )]
    pub verify_timeout: u64,
}

impl Default for VerifyArgs {
    fn default() -> VerifyArgs {
        VerifyArgs {
            verify: false,
            ca_file: None,
            allow_http: false,
            verify_timeout: 10,
        }
    }
}

impl ToArgs for VerifyArgs {
    fn to_args(&self, out: &mut Vec<OsString>) {
        if self.verify {
            out.push("--verify".into());
            value(out, "--verify-timeout", self.verify_timeout.to_string());
        }
        if let Some(f) = &self.ca_file {
            value(out, "--ca-file", f);
        }
        flag(out, self.allow_http, "--allow-http");
    }
}

/// `secret`: whose secret, where the new one comes from, whether it is proven first, and how the change
/// is applied (as `fix`).
#[derive(Debug, Clone, Args)]
pub struct SecretArgs {
    /// The connector whose secret field (clientSecret; ldap's bindPW; keystone's keystonePassword) is set,
    /// or `management` for the management server's IdP-manager credential (management.json
    /// IdpManagerConfig.ClientConfig.ClientSecret).
    #[arg(long, value_name = "ID")]
    pub connector: String,
    /// The file whose one line is the new secret (one trailing LF or CRLF dropped, nothing else), or `-`
    /// for stdin (on a terminal ozrepair asks for it, echo off). There is no flag for the secret itself.
    #[arg(long, value_name = "FILE|-")]
    pub secret_file: PathBuf,
    #[command(flatten)]
    pub verify: VerifyArgs,
    #[command(flatten)]
    pub dry: DryRunArg,
    #[command(flatten)]
    pub window: WindowArgs,
}

impl ToArgs for SecretArgs {
    /// The path of the secret file, never its content.
    fn to_args(&self, out: &mut Vec<OsString>) {
        value(out, "--connector", &self.connector);
        value(out, "--secret-file", &self.secret_file);
        self.verify.to_args(out);
        self.dry.to_args(out);
        self.window.to_args(out);
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
    #[command(flatten)]
    pub dry: DryRunArg,
    #[command(flatten)]
    pub window: WindowArgs,
}

impl ToArgs for PasswordArgs {
    /// The path of the password file, never its content.
    fn to_args(&self, out: &mut Vec<OsString>) {
        value(out, "--email", &self.email);
        value(out, "--password-file", &self.password_file);
        self.dry.to_args(out);
        self.window.to_args(out);
    }
}

#[derive(Debug, Clone, Args)]
pub struct LocalLoginArgs {
    /// Turn local login on (required: the door opens only when asked by name).
    #[arg(long, required = true)]
    pub enable: bool,
    #[command(flatten)]
    pub dry: DryRunArg,
    #[command(flatten)]
    pub window: WindowArgs,
}

impl ToArgs for LocalLoginArgs {
    fn to_args(&self, out: &mut Vec<OsString>) {
        flag(out, self.enable, "--enable");
        self.dry.to_args(out);
        self.window.to_args(out);
    }
}

#[derive(Debug, Clone, Default, Args)]
pub struct BackupArgs {
    #[command(flatten)]
    pub dry: DryRunArg,
    #[command(flatten)]
    pub backups: BackupDirArg,
    /// Also prove the database whole as SQLite reads it (its integrity_check, while it is copied). Every
    /// backup proves its copy's bytes without it.
    #[arg(long)]
    pub check: bool,
}

impl ToArgs for BackupArgs {
    fn to_args(&self, out: &mut Vec<OsString>) {
        self.dry.to_args(out);
        self.backups.to_args(out);
        if self.check {
            out.push("--check".into());
        }
    }
}

#[derive(Debug, Clone, Default, Args)]
pub struct BackupsArgs {
    /// Also list the sets of other databases found in the backup directory (by default only this
    /// database's, the ones `restore` puts back).
    #[arg(long)]
    pub all: bool,
    #[command(flatten)]
    pub backups: BackupDirArg,
}

impl ToArgs for BackupsArgs {
    fn to_args(&self, out: &mut Vec<OsString>) {
        flag(out, self.all, "--all");
        self.backups.to_args(out);
    }
}

/// What `restore` puts back.
#[derive(Debug, Clone, Default, Args)]
pub struct RestoreArgs {
    /// The backup directory to put back. Default: the newest one.
    #[arg(long, value_name = "PATH")]
    pub backup: Option<PathBuf>,
    /// Put back a set whose manifest names another database (by default a set restores only onto its own).
    #[arg(long)]
    pub allow_other_database: bool,
    #[command(flatten)]
    pub dry: DryRunArg,
    #[command(flatten)]
    pub window: WindowArgs,
}

impl ToArgs for RestoreArgs {
    fn to_args(&self, out: &mut Vec<OsString>) {
        if let Some(b) = &self.backup {
            value(out, "--backup", b);
        }
        flag(out, self.allow_other_database, "--allow-other-database");
        self.dry.to_args(out);
        self.window.to_args(out);
    }
}

/// Why a command line was not taken.
pub enum Refusal {
    /// clap refused it (or it asked for help or the version).
    Clap(clap::Error),
    /// A value is not UTF-8 text: the message names the option.
    NotUtf8(String),
}

/// Parses the command line as bytes: a value that is not UTF-8 is refused naming its option (never a
/// panic), then clap parses it.
pub fn parse(args: &[std::ffi::OsString]) -> Result<Cli, Refusal> {
    if let Some(message) = not_utf8(args) {
        return Err(Refusal::NotUtf8(message));
    }
    let matches = command()
        .try_get_matches_from(args)
        .map_err(Refusal::Clap)?;
    <Cli as clap::FromArgMatches>::from_arg_matches(&matches).map_err(Refusal::Clap)
}

/// The subcommand the command line names (for the report's `command`), if any.
pub fn command_named(args: &[OsString]) -> Option<String> {
    let definitions = command();
    let names: Vec<String> = definitions
        .get_subcommands()
        .map(|c| c.get_name().to_string())
        .collect();
    names
        .into_iter()
        .find(|c| args.iter().skip(1).any(|a| a == c.as_str()))
}

/// The first argument that is not UTF-8 (or `$DOCKER_HOST`, the default of `--host`), as a usage error
/// naming the option it is the value of; None when every one is UTF-8.
///
/// clap itself says which option a value belongs to (short clusters, `--opt=value`, `--` and all): the
/// arguments are parsed once more, made UTF-8 with U+FFFD for the bytes that are not, by a copy of the
/// definitions that takes any bytes as a value and ignores every other error; the option whose value
/// holds U+FFFD is the one.
fn not_utf8(args: &[OsString]) -> Option<String> {
    let bad_arg = args
        .iter()
        .skip(1)
        .position(|a| a.to_str().is_none())
        .map(|i| i + 1);
    let bad_env = std::env::var_os("DOCKER_HOST").is_some_and(|v| v.to_str().is_none());
    if bad_arg.is_none() && !bad_env {
        return None;
    }
    let lossy: Vec<String> = args
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let named = probe()
        .try_get_matches_from(&lossy)
        .ok()
        .and_then(|m| holder(&probe(), &m));
    let what = match (named, bad_arg) {
        (Some(name), _) => format!("the value of {name}"),
        // A value clap does not take (an unknown flag, a command name): its place on the line.
        (None, Some(i)) => format!("argument {i}"),
        // $DOCKER_HOST with -H given: clap still reads it for a subcommand (and would refuse it without
        // saying which), so it is named here.
        (None, None) => "the value of $DOCKER_HOST (the default of --host)".into(),
    };
    Some(format!(
        "{what} is not UTF-8 text; ozrepair reads its arguments as UTF-8; nothing was changed; give it in UTF-8 (a path too: rename it, or use a link with a UTF-8 name)"
    ))
}

/// The definitions, taking any bytes as an option's value and ignoring every error (see [`not_utf8`]).
fn probe() -> clap::Command {
    fn lenient(c: clap::Command) -> clap::Command {
        c.ignore_errors(true)
            .mut_args(|a| {
                if a.get_action().takes_values() {
                    a.value_parser(clap::builder::OsStringValueParser::new())
                } else {
                    a
                }
            })
            .mut_subcommands(lenient)
    }
    lenient(command())
}

/// The option (as `--name`, `-c` or `<NAME>`) whose value in `m` holds U+FFFD, at `cmd`'s level or below.
fn holder(cmd: &clap::Command, m: &clap::ArgMatches) -> Option<String> {
    for a in cmd.get_arguments() {
        let id = a.get_id().as_str();
        let Ok(Some(values)) = m.try_get_raw(id) else {
            continue;
        };
        if !values
            .into_iter()
            .any(|v| v.to_string_lossy().contains('\u{fffd}'))
        {
            continue;
        }
        let name = match (a.get_long(), a.get_short()) {
            (Some(l), _) => format!("--{l}"),
            (None, Some(c)) => format!("-{c}"),
            (None, None) => format!(
                "<{}>",
                a.get_value_names()
                    .and_then(|v| v.first())
                    .map(|v| v.to_string())
                    .unwrap_or_else(|| id.to_uppercase())
            ),
        };
        if m.value_source(id) == Some(clap::parser::ValueSource::EnvVariable) {
            let var = a
                .get_env()
                .map(|v| v.to_string_lossy().into_owned())
                .unwrap_or_default();
            return Some(format!("${var} (the default of {name})"));
        }
        return Some(name);
    }
    let (name, sub) = m.subcommand()?;
    holder(cmd.find_subcommand(name)?, sub)
}

/// One `--set CONNECTOR.FIELD=VALUE`, parsed. Parsing never fails: a refusal is kept in `refused` and
/// raised after the command line is read ([`SetField::refusal`]), so that no error message echoes the
/// value (clap's own would print it whole, and a value may hold a secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetField {
    pub connector: String,
    pub field: String,
    pub value: String,
    /// The argument as given (what fleet passes on).
    pub raw: String,
    /// Why it cannot be set, in words that never quote the value.
    pub refused: Option<String>,
}

impl SetField {
    /// The usage error of a `--set` that cannot be set.
    pub fn refusal(&self) -> Option<UsageError> {
        self.refused
            .as_ref()
            .map(|why| UsageError(format!("{why}; nothing was changed")))
    }
}

impl std::str::FromStr for SetField {
    type Err = UsageError;
    fn from_str(s: &str) -> Result<Self, UsageError> {
        let mut set = SetField {
            connector: String::new(),
            field: String::new(),
            value: String::new(),
            raw: s.to_string(),
            refused: None,
        };
        let parts = s
            .split_once('=')
            .and_then(|(left, value)| Some((left.rsplit_once('.')?, value)))
            .filter(|((c, f), _)| !c.is_empty() && !f.is_empty());
        let Some(((connector, field), value)) = parts else {
            set.refused = Some(
                "--set takes CONNECTOR.FIELD=VALUE, and one of its arguments is not of that form"
                    .into(),
            );
            return Ok(set);
        };
        (set.connector, set.field, set.value) = (connector.into(), field.into(), value.into());
        if is_secret_field(field) {
            set.refused = Some(format!(
                "--set does not set secrets ({connector}.{field} would be printed in the plan)"
            ));
        } else if let Some(why) = crate::dex::url::set_problem(field, value) {
            set.refused = Some(format!("--set {connector}.{why}"));
        }
        Ok(set)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_definitions_hold_together() {
        Cli::command().debug_assert();
    }

    /// A value an option takes, by the name its help gives the value.
    fn sample(value_name: &str) -> &'static str {
        match value_name {
            "SECONDS" | "DURATION" => "7",
            "ID" => "okta-1",
            "URL" => "https://idp.example.com/",
            "CONNECTOR.FIELD=VALUE" => "okta-1.redirectURI=https://vpn.example.com/cb",
            "DIR" => "/var/backups/ozr",
            "FILE" => "/etc/ozr/ca.pem",
            "N" => "3",
            "PATH" => "/var/backups/ozr/set-1",
            "ADDR" => "alice@example.com",
            "FILE|-" => "/etc/ozr/password",
            "HOST" => "vpn2.example.net",
            other => {
                panic!("no sample value for {other:?}: add one, so that the round trip covers it")
            }
        }
    }

    /// A PEM file that holds a certificate (--ca-file is read when the command line is parsed).
    fn test_pem() -> String {
        let path = std::env::temp_dir().join(format!("ozr-cli-test-{}.pem", std::process::id()));
        std::fs::write(
            &path,
            "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        path.display().to_string()
    }

    /// The command line of the subcommand at `path` with every one of its own options set away from its
    /// default (walked from clap's definition, so a new option is in it), and the options' long names.
    fn every_option(path: &[&str]) -> (Vec<String>, Vec<String>) {
        let root = Cli::command();
        let mut cmd = &root;
        for p in path {
            cmd = cmd.find_subcommand(p).expect("a subcommand");
        }
        let mut argv: Vec<String> = vec!["ozrepair".into()];
        let pem = test_pem();
        argv.extend(path.iter().map(|p| p.to_string()));
        let mut longs = Vec::new();
        for a in cmd.get_arguments() {
            if a.is_global_set() || a.is_positional() {
                continue;
            }
            let Some(long) = a.get_long() else { continue };
            if matches!(long, "help" | "version") {
                continue;
            }
            longs.push(long.to_string());
            if a.get_action().takes_values() {
                let name = a
                    .get_value_names()
                    .and_then(|n| n.first())
                    .map(|n| n.to_string())
                    .unwrap_or_default();
                let v = if long == "ca-file" {
                    pem.clone()
                } else {
                    sample(&name).to_string()
                };
                argv.push(format!("--{long}={v}"));
            } else {
                argv.push(format!("--{long}"));
            }
        }
        (argv, longs)
    }

    /// The options of the parsed command at `path`, as `fleet` passes them on.
    fn options_of(cli: &Cli, path: &[&str]) -> Vec<OsString> {
        match (&cli.command, path) {
            (Command::Fleet(f), ["fleet", ..]) => match &f.action {
                FleetAction::Inspect(a) => a.args(),
                FleetAction::Fix(a) => a.args(),
                FleetAction::Password(a) => a.args(),
                FleetAction::LocalLogin(a) => a.args(),
                FleetAction::Secret(a) => a.args(),
                FleetAction::Domain { rest } => rest.clone(),
            },
            (Command::Inspect(a), _) => a.args(),
            (Command::Secret(a), _) => a.args(),
            (Command::Domain(a), _) => a.args(),
            (Command::Fix(a), _) => a.args(),
            (Command::Password(a), _) => a.args(),
            (Command::LocalLogin(a), _) => a.args(),
            (Command::Backup(a), _) => a.args(),
            (Command::Backups(a), _) => a.args(),
            (Command::Restore(a), _) => a.args(),
            (other, _) => panic!("{other:?} has no options to pass on"),
        }
    }

    #[test]
    fn every_option_of_every_command_round_trips_through_the_fleets_arguments() {
        for path in [
            &["inspect"][..],
            &["fix"],
            &["password"],
            &["local-login"],
            &["backup"],
            &["backups"],
            &["restore"],
            &["fleet", "inspect"],
            &["fleet", "fix"],
            &["fleet", "password"],
            &["fleet", "local-login"],
            &["secret"],
            &["fleet", "secret"],
            &["domain"],
        ] {
            let (mut argv, longs) = every_option(path);
            // fleet's own options come before its action.
            if path[0] == "fleet" {
                argv.insert(2, "--inventory=/etc/ozr/hosts".into());
            }
            let first = Cli::try_parse_from(&argv)
                .unwrap_or_else(|e| panic!("{argv:?} does not parse: {e}"));
            let again = options_of(&first, path);
            for long in &longs {
                assert!(
                    again
                        .iter()
                        .any(|a| a.to_string_lossy().starts_with(&format!("--{long}"))),
                    "{path:?}: --{long} is lost on the way to fleet's hosts: {again:?}"
                );
            }
            // Parsed again as a host's run parses them: the same options.
            let mut host: Vec<OsString> = vec!["ozrepair".into()];
            host.push(path.last().copied().unwrap_or_default().into());
            host.extend(again.iter().cloned());
            let second = Cli::try_parse_from(&host)
                .unwrap_or_else(|e| panic!("{host:?} does not parse: {e}"));
            let inner = |c: &Cli| -> String {
                // The host's run is the same command without the fleet around it.
                match &c.command {
                    Command::Inspect(a) => format!("{a:?}"),
                    Command::Fix(a) => format!("{a:?}"),
                    Command::Password(a) => format!("{a:?}"),
                    Command::LocalLogin(a) => format!("{a:?}"),
                    Command::Secret(a) => format!("{a:?}"),
                    Command::Domain(a) => format!("{a:?}"),
                    Command::Backup(a) => format!("{a:?}"),
                    Command::Backups(a) => format!("{a:?}"),
                    Command::Restore(a) => format!("{a:?}"),
                    Command::Fleet(f) => match &f.action {
                        FleetAction::Inspect(a) => format!("{a:?}"),
                        FleetAction::Fix(a) => format!("{a:?}"),
                        FleetAction::Password(a) => format!("{a:?}"),
                        FleetAction::LocalLogin(a) => format!("{a:?}"),
                        FleetAction::Secret(a) => format!("{a:?}"),
                        FleetAction::Domain { rest } => format!("{rest:?}"),
                    },
                    other => format!("{other:?}"),
                }
            };
            assert_eq!(inner(&first), inner(&second), "{path:?}");
        }
    }
}
