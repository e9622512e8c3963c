//! The settings of a run, made once from the parsed command line ([`crate::cli`]): what it works on
//! ([`Target`]), and one group per step that reads it: the plan's options ([`PlanArgs`], the command
//! line's own group), how changes are applied ([`ApplyOpts`]), what is put back ([`RestoreArgs`]), how
//! the report is printed ([`OutputOpts`]). Each step takes only its group. A new fix flag is a field of its
//! group in `cli.rs`, read by the one step it concerns.

use crate::backups::Check;
pub use crate::cli::{Access, Output, PlanArgs, RestoreArgs, SetField, WindowArgs};
use crate::cli::{Command, Global, PasswordArgs, SecretArgs};
use crate::dex::password::{self, NewPassword};
use crate::dex::secrets::SecretValue;
use crate::dex::url;
use crate::verdict::UsageError;
use std::path::PathBuf;

/// What the run works on.
#[derive(Debug, Clone)]
pub enum Target {
    /// `--db`: a database file, without Docker (nothing is stopped or started).
    File(PathBuf),
    /// `--unit`: the systemd unit that runs the IdP.
    Unit {
        name: String,
        /// `--dsn-file` / `$OZREPAIR_DSN`: the store's server as the operator gives it.
        dsn: Option<Box<crate::dsn::Server>>,
    },
    /// A deployment on an engine: discovered, or narrowed by `--container` / `--volume`.
    Engine {
        host: Option<String>,
        container: Option<String>,
        volume: Option<String>,
        access: Access,
        /// `--dsn-file` / `$OZREPAIR_DSN`: the store's server as the operator gives it.
        dsn: Option<Box<crate::dsn::Server>>,
    },
}

/// How the report is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputOpts {
    pub format: Output,
    /// The text report is coloured.
    pub color: bool,
    /// `--show-secrets`: print secret values instead of scrubbing them.
    pub show_secrets: bool,
}

/// How changes are applied (fix, password, local-login, restore).
#[derive(Debug, Clone, Default)]
pub struct ApplyOpts {
    /// Write nothing, stop nothing: `--dry-run`, and always for `inspect` (its plan is the same).
    pub dry_run: bool,
    pub window: WindowArgs,
    /// `backup --check`: the source proven whole too, not only the copy's bytes.
    pub check: Check,
}

impl ApplyOpts {
    /// Start the IdP again afterwards (not `--no-restart`).
    pub fn restart(&self) -> bool {
        !self.window.start.no_restart
    }

    /// Seconds to watch the started IdP; 0 does not watch.
    pub fn wait(&self) -> u64 {
        self.window.start.wait
    }

    /// `--live`: a database server may be written while the IdP runs, when ozrepair cannot stop it.
    pub fn live(&self) -> bool {
        self.window.start.live
    }

    /// `--backup-dir`; None: the store's default place.
    pub fn backup_dir(&self) -> Option<&PathBuf> {
        self.window.backups.backup_dir.as_ref()
    }
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub target: Target,
    /// `--yes`: do not ask.
    pub yes: bool,
    pub output: OutputOpts,
    /// What the plan considers (fix; inspect has only `--discover`).
    pub plan: PlanArgs,
    /// `local-login --enable`: the plan turns local login on (and nothing else).
    pub local_login: bool,
    pub apply: ApplyOpts,
    /// `restore`: the set to put back, and whether another database's set may be.
    pub restore: RestoreArgs,
    /// `password`: whose password, and the new one (read from its file when the command line was read).
    pub password: Option<PasswordSet>,
    /// `secret`: whose secret, the new one (read from its file when the command line was read), and how
    /// it is proven.
    pub secret: Option<SecretSet>,
    /// `domain`: the new host, and the old one when given.
    pub domain: Option<(String, Option<String>)>,
    /// `backups --all`: list the sets of every database in the directory, not only this one's.
    pub all_sets: bool,
}

/// `secret --connector --secret-file [--verify]`, read.
#[derive(Debug, Clone)]
pub struct SecretSet {
    /// The connector, or `management` for the management's IdP-manager credential.
    pub connector: String,
    pub new: SecretValue,
    /// Where it was read from, for the report: the file's path, or `stdin`.
    pub source: String,
    /// `--verify`: the request's options (None without it).
    pub verify: Option<crate::evidence::discover::Options>,
}

/// `password --email --password-file`, read: the email as Dex looks it up, and the new password.
#[derive(Debug, Clone)]
pub struct PasswordSet {
    /// Trimmed and lowercased ([`password::lookup_email`]).
    pub email: String,
    pub new: NewPassword,
}

impl Settings {
    /// The settings for one single-host command (not fleet, completions or man). Flags that cannot go
    /// together give a usage error, with the settings that still say how to print the refusal.
    pub fn from_cli(g: &Global, command: &Command) -> (Settings, Option<UsageError>) {
        let mut s = Settings {
            output: OutputOpts {
                format: g.output,
                color: g.use_color(),
                show_secrets: g.show_secrets,
            },
            yes: g.yes,
            ..Settings::default()
        };
        // One stdin: the connection string and a secret or password cannot both come from it.
        let stdin_value = match command {
            Command::Secret(a) => Some((&a.secret_file, "--secret-file")),
            Command::Password(a) => Some((&a.password_file, "--password-file")),
            _ => None,
        };
        if let (Some(d), Some((f, flag))) = (&g.dsn_file, stdin_value) {
            if d.as_os_str() == "-" && f.as_os_str() == "-" {
                return (
                    s,
                    Some(UsageError(format!("--dsn-file - and {flag} - would both read stdin; nothing was changed; give one of them as a file"))),
                );
            }
        }
        let dsn = match read_dsn(g.dsn_file.as_deref()) {
            Ok(d) => d,
            Err(e) => return (s, Some(e)),
        };
        s.target = match (&g.db, &g.unit) {
            (Some(_), Some(_)) => {
                return (s, Some(UsageError("--db works on a file with nothing to stop or start; it does not go with --unit".into())));
            }
            (Some(db), None) => {
                if g.container.is_some() || g.volume.is_some() {
                    return (s, Some(UsageError("--db works on a file without Docker; it does not go with --container or --volume".into())));
                }
                if dsn.is_some() {
                    return (s, Some(UsageError("--db names an SQLite file and --dsn-file (or OZREPAIR_DSN) a database server; give one of them; nothing was changed".into())));
                }
                Target::File(db.clone())
            }
            (None, Some(unit)) => {
                if g.container.is_some() || g.volume.is_some() {
                    return (s, Some(UsageError("--unit names a systemd unit; it does not go with --container or --volume".into())));
                }
                if unit.trim().is_empty() {
                    return (s, Some(UsageError("--unit is empty; give the unit's name (`systemctl list-units --type=service` lists them)".into())));
                }
                Target::Unit {
                    name: unit.clone(),
                    dsn,
                }
            }
            (None, None) => Target::Engine {
                host: g.host.clone(),
                container: g.container.clone(),
                volume: g.volume.clone(),
                access: g.access,
                dsn,
            },
        };
        if matches!(
            command,
            Command::Backup(_) | Command::Backups(_) | Command::Restore(_)
        ) && matches!(g.output, Output::Nagios | Output::Prometheus)
        {
            return (
                s,
                Some(UsageError(format!(
                    "{} is not a check: --output {} is for inspect and fix; nothing was changed; use --output text or json",
                    command.name(),
                    if g.output == Output::Nagios { "nagios" } else { "prometheus" }
                ))),
            );
        }
        match command {
            Command::Inspect(a) => {
                s.apply.dry_run = true;
                s.plan.discovery = a.discovery.clone();
            }
            Command::Fix(a) => {
                if let Some(why) = a.plan.issuer.as_deref().and_then(url::issuer_problem) {
                    return (
                        s,
                        Some(UsageError(format!("--issuer {why}; nothing was changed"))),
                    );
                }
                if let Some(e) = a.plan.set.iter().find_map(|f| f.refusal()) {
                    return (s, Some(e));
                }
                s.plan = a.plan.clone();
                s.apply = ApplyOpts {
                    dry_run: a.dry.dry_run,
                    window: a.window.clone(),
                    ..ApplyOpts::default()
                };
            }
            Command::Backup(a) => {
                s.apply.dry_run = a.dry.dry_run;
                s.apply.window.backups = a.backups.clone();
                if a.check {
                    s.apply.check = Check::Source;
                }
            }
            Command::Backups(a) => {
                s.all_sets = a.all;
                s.apply.window.backups = a.backups.clone();
            }
            Command::Restore(a) => {
                s.restore = a.clone();
                s.apply.dry_run = a.dry.dry_run;
                s.apply.window = a.window.clone();
            }
            Command::LocalLogin(a) => {
                s.local_login = a.enable;
                s.apply = ApplyOpts {
                    dry_run: a.dry.dry_run,
                    window: a.window.clone(),
                    ..ApplyOpts::default()
                };
            }
            Command::Password(a) => {
                if let Err(e) = s.password(a) {
                    return (s, Some(e));
                }
            }
            Command::Secret(a) => {
                if let Err(e) = s.secret(a) {
                    return (s, Some(e));
                }
            }
            Command::Domain(a) => {
                use crate::plan::domain::host_ok;
                s.apply = ApplyOpts {
                    dry_run: !a.apply,
                    window: a.window.clone(),
                    ..ApplyOpts::default()
                };
                for (flag, h) in [("--to", Some(&a.to)), ("--from", a.from.as_ref())] {
                    if let Some(h) = h.filter(|h| !host_ok(h)) {
                        return (
                            s,
                            Some(UsageError(format!(
                                "{flag} {:?} is not a host (lowercase letters, digits, `-` and `.`, an optional `:port`; no scheme or path); nothing was changed",
                                h.chars().take(80).collect::<String>()
                            ))),
                        );
                    }
                }
                if a.from.as_deref() == Some(a.to.as_str()) {
                    return (
                        s,
                        Some(UsageError(
                            "--from and --to are the same host; nothing was changed".into(),
                        )),
                    );
                }
                s.domain = Some((a.to.clone(), a.from.clone()));
            }
            Command::Fleet(_) | Command::Completions { .. } | Command::Man(_) => {}
        }
        (s, None)
    }

    /// `password`: the email, and the new password from its file or stdin (a usage error, exit 2, when it
    /// cannot be read or is refused; nothing has been looked at yet).
    fn password(&mut self, a: &PasswordArgs) -> Result<(), UsageError> {
        self.apply = ApplyOpts {
            dry_run: a.dry.dry_run,
            window: a.window.clone(),
            ..ApplyOpts::default()
        };
        let email = password::lookup_email(&a.email);
        if email.is_empty() {
            return Err(UsageError(
                "--email is empty; nothing was changed; give the local user's email".into(),
            ));
        }
        let data = read_password_file(&a.password_file)?;
        self.password = Some(PasswordSet {
            email,
            new: NewPassword::parse(&data)?,
        });
        Ok(())
    }
}

impl Settings {
    /// `secret`: the connector, and the new secret from its file or stdin (a usage error, exit 2, when it
    /// cannot be read or is refused; nothing has been looked at yet).
    fn secret(&mut self, a: &SecretArgs) -> Result<(), UsageError> {
        use std::io::IsTerminal;
        self.apply = ApplyOpts {
            dry_run: a.dry.dry_run,
            window: a.window.clone(),
            ..ApplyOpts::default()
        };
        if a.connector.is_empty() {
            return Err(UsageError(
                "--connector is empty; nothing was changed; give the connector's id (or `management`)"
                    .into(),
            ));
        }
        // No secret is ever shown by this command, whatever --show-secrets says.
        self.output.show_secrets = false;
        let data = if a.secret_file.as_os_str() == "-" && std::io::stdin().is_terminal() {
            prompt_no_echo("New secret (not echoed): ")?
        } else {
            read_value_file(&a.secret_file, "--secret-file", "secret")?
        };
        self.secret = Some(SecretSet {
            connector: a.connector.clone(),
            new: SecretValue::parse(&data)?,
            source: if a.secret_file.as_os_str() == "-" {
                if std::io::stdin().is_terminal() {
                    "the terminal".into()
                } else {
                    "stdin".into()
                }
            } else {
                a.secret_file.display().to_string()
            },
            verify: a.verify.verify.then(|| crate::evidence::discover::Options {
                timeout: std::time::Duration::from_secs(a.verify.verify_timeout.max(1)),
                ca_file: a.verify.ca_file.clone(),
                allow_http: a.verify.allow_http,
            }),
        });
        Ok(())
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
                dsn: None,
            },
            yes: false,
            output: OutputOpts {
                format: Output::Text,
                color: false,
                show_secrets: false,
            },
            plan: PlanArgs::default(),
            local_login: false,
            apply: ApplyOpts::default(),
            restore: RestoreArgs::default(),
            password: None,
            secret: None,
            domain: None,
            all_sets: false,
        }
    }
}

/// The largest connection string file ozrepair reads.
const DSN_FILE_MAX: u64 = 64 * 1024;

/// The server the operator gives: `--dsn-file` (a file, or `-` for stdin), else `$OZREPAIR_DSN`. A usage
/// error (exit 2) when it cannot be read or parsed; the error never holds the string itself.
fn read_dsn(file: Option<&std::path::Path>) -> Result<Option<Box<crate::dsn::Server>>, UsageError> {
    use std::io::Read;
    let (text, from) = match file {
        Some(p) => {
            let mut data = Vec::new();
            let (r, what) = if p.as_os_str() == "-" {
                (
                    std::io::stdin()
                        .lock()
                        .take(DSN_FILE_MAX + 1)
                        .read_to_end(&mut data),
                    "stdin".to_string(),
                )
            } else {
                (
                    std::fs::File::open(p)
                        .and_then(|f| f.take(DSN_FILE_MAX + 1).read_to_end(&mut data)),
                    p.display().to_string(),
                )
            };
            if let Err(e) = r {
                return Err(UsageError(format!("cannot read the connection string from {what} ({}); nothing was changed; give a readable file with --dsn-file", crate::verdict::io_words(&e))));
            }
            if data.len() as u64 > DSN_FILE_MAX {
                return Err(UsageError(format!("{what} holds more than {DSN_FILE_MAX} bytes, which is no connection string; nothing was changed")));
            }
            (
                String::from_utf8_lossy(&data).into_owned(),
                format!("--dsn-file {what}"),
            )
        }
        None => match std::env::var("OZREPAIR_DSN") {
            Ok(v) if !v.trim().is_empty() => (v, "$OZREPAIR_DSN".to_string()),
            _ => return Ok(None),
        },
    };
    crate::dsn::given(&text, &from)
        .map(|s| Some(Box::new(s)))
        .map_err(|e| UsageError(format!("{from}: {e:#}; nothing was changed; give a PostgreSQL connection string or URI, or a MySQL DSN or URI")))
}

/// The most a password or secret file may hold (a password is at most 72 bytes; this only bounds the
/// read).
const PASSWORD_FILE_MAX: u64 = crate::dex::secrets::SECRET_FILE_MAX;

/// The bytes of `--password-file` (`-`: stdin, refused when it is a terminal: ozrepair does not prompt,
/// and a typed password would echo).
fn read_password_file(path: &std::path::Path) -> Result<Vec<u8>, UsageError> {
    read_value_file(path, "--password-file", "password")
}

/// One line typed at the terminal that is stdin, read with echo off, after `prompt` (written to the
/// controlling terminal, else stderr). Signals from the keyboard are off too while it is read, so that
/// Ctrl-C is read as a byte (a control character, which the secret refuses) and the terminal's settings
/// are always put back; Ctrl-D gives an empty secret, also refused.
fn prompt_no_echo(prompt: &str) -> Result<Vec<u8>, UsageError> {
    use std::io::{Read, Write};
    let fd = libc::STDIN_FILENO;
    let failed = |e: std::io::Error| {
        UsageError(format!(
            "cannot read the secret from the terminal ({e}); nothing was changed; give it in a file with --secret-file FILE"
        ))
    };
    // SAFETY: a zeroed termios is a valid value for tcgetattr to fill; fd 0 is open (it is a terminal).
    let mut old: libc::termios = unsafe { std::mem::zeroed() };
    if unsafe { libc::tcgetattr(fd, &mut old) } != 0 {
        return Err(failed(std::io::Error::last_os_error()));
    }
    let mut quiet = old;
    quiet.c_lflag &= !(libc::ECHO | libc::ECHONL | libc::ISIG);
    quiet.c_lflag |= libc::ICANON;
    // SAFETY: `quiet` is a termios read from this terminal with flags changed.
    if unsafe { libc::tcsetattr(fd, libc::TCSAFLUSH, &quiet) } != 0 {
        return Err(failed(std::io::Error::last_os_error()));
    }
    let mut tty = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/tty")
        .ok();
    let say = |tty: &mut Option<std::fs::File>, text: &str| match tty {
        Some(t) => {
            let _ = t.write_all(text.as_bytes());
        }
        None => {
            let _ = std::io::stderr().write_all(text.as_bytes());
        }
    };
    say(&mut tty, prompt);
    // One line (canonical mode hands it over whole, its LF included), or what came before Ctrl-D.
    let mut data = Vec::new();
    let mut byte = [0u8; 1];
    let read = loop {
        match std::io::stdin().lock().read(&mut byte) {
            Ok(0) => break Ok(()),
            Ok(_) => {
                data.push(byte[0]);
                if byte[0] == b'\n' || data.len() as u64 > PASSWORD_FILE_MAX {
                    break Ok(());
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => break Err(e),
        }
    };
    // SAFETY: `old` is what tcgetattr read from this terminal.
    unsafe { libc::tcsetattr(fd, libc::TCSAFLUSH, &old) };
    say(&mut tty, "\n");
    read.map_err(failed)?;
    if data.len() as u64 > PASSWORD_FILE_MAX {
        return Err(UsageError(format!(
            "more than {PASSWORD_FILE_MAX} bytes were typed, which is no secret; nothing was changed"
        )));
    }
    Ok(data)
}

/// The bytes of a file that holds one value (`flag`: its option; `noun`: what it holds), or of stdin for
/// `-` (refused when stdin is a terminal: ozrepair does not prompt, and a typed value would echo).
fn read_value_file(path: &std::path::Path, flag: &str, noun: &str) -> Result<Vec<u8>, UsageError> {
    use std::io::{IsTerminal, Read};
    let mut data = Vec::new();
    let (read, what) = if path.as_os_str() == "-" {
        let stdin = std::io::stdin();
        if stdin.is_terminal() {
            return Err(UsageError(format!("{flag} - reads the {noun} from stdin, which is a terminal, and ozrepair does not prompt for it; nothing was changed; pipe it in (`ozrepair {noun} ... {flag} - < FILE`) or give a file")));
        }
        let r = stdin
            .lock()
            .take(PASSWORD_FILE_MAX + 1)
            .read_to_end(&mut data);
        (r, "stdin".to_string())
    } else {
        let r = std::fs::File::open(path)
            .and_then(|f| f.take(PASSWORD_FILE_MAX + 1).read_to_end(&mut data));
        (r, path.display().to_string())
    };
    if let Err(e) = read {
        return Err(UsageError(format!(
            "cannot read the {noun} from {what} ({e}); nothing was changed; give a readable file with {flag}"
        )));
    }
    if data.len() as u64 > PASSWORD_FILE_MAX {
        return Err(UsageError(format!(
            "{what} holds more than {PASSWORD_FILE_MAX} bytes, which is no {noun} file; nothing was changed; write the new {noun} alone on one line"
        )));
    }
    Ok(data)
}
