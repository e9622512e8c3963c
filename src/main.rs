//! `ozrepair`: parses the command line, runs the command, prints its report, exits with its code.

use clap::Parser;
use ozrepair::cli::{Cli, Command};
use ozrepair::settings::Settings;
use ozrepair::verdict::ExitCode;
use ozrepair::{commands, fleet};
use std::ffi::OsString;
use std::io::Write;

fn main() {
    std::process::exit(run());
}

/// The process's exit code: an [`ExitCode`], or a monitoring plugin's state with `--output nagios`.
fn run() -> i32 {
    // Read as bytes: `std::env::args` panics on an argument that is not UTF-8.
    let args: Vec<OsString> = std::env::args_os().collect();
    if let Some(message) = not_utf8(&args) {
        return refused_not_utf8(&args, message).code();
    }
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(e) => return refused_by_clap(e, &args).code(),
    };
    ozrepair::docker::endpoint::accept_new_host_keys(cli.global.ssh_accept_new);
    if cli.global.verbose > 0 {
        let filter = if cli.global.verbose == 1 {
            "ozrepair=debug"
        } else {
            "debug"
        };
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
            .with_writer(std::io::stderr)
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init();
    }
    match &cli.command {
        Command::Completions { shell } => {
            emit(&ozrepair::cli::completions(*shell));
            return ExitCode::Done.code();
        }
        Command::Man => {
            return match ozrepair::cli::man() {
                Ok(page) => {
                    emit(&page);
                    ExitCode::Done.code()
                }
                Err(e) => {
                    ozrepair::progress::say(format!("cannot render the man page ({e})"));
                    ExitCode::Failed.code()
                }
            }
        }
        _ => {}
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            ozrepair::progress::say(format!(
                "cannot start the async runtime ({e}); nothing was changed"
            ));
            return ExitCode::Failed.code();
        }
    };
    if let Command::Fleet(a) = &cli.command {
        let (out, code) = runtime.block_on(fleet::run(&cli.global, a));
        emit(out.as_bytes());
        return code.code();
    }
    let (settings, refused) = Settings::from_cli(&cli.global, &cli.command);
    let report = runtime.block_on(async {
        if let Some(e) = refused {
            return commands::refused(cli.command.name(), e);
        }
        match &cli.command {
            Command::Inspect(_) => commands::inspect_or_fix("inspect", &settings).await,
            Command::Fix(_) => commands::inspect_or_fix("fix", &settings).await,
            Command::Backup(_) => commands::backup(&settings).await,
            Command::Backups(_) => commands::backups(&settings).await,
            Command::Password(_) => commands::password(&settings).await,
            Command::Restore(_) => commands::restore(&settings).await,
            Command::LocalLogin(_) => commands::inspect_or_fix("local-login", &settings).await,
            Command::Fleet(_) | Command::Completions { .. } | Command::Man => commands::refused(
                cli.command.name(),
                ozrepair::verdict::UsageError("not a single-host command".into()),
            ),
        }
    });
    let shown = report.render(&settings);
    emit(shown.stdout.as_bytes());
    if let Some(e) = &shown.stderr {
        let _ = std::io::stderr().write_all(e.as_bytes());
    }
    // `main` exits with this code next.
    shown.exit_now()
}

/// Whether the command line asks for `--output json`.
fn json_wanted(args: &[OsString]) -> bool {
    args.windows(2)
        .any(|w| w[0] == "--output" && w[1] == "json")
        || args.iter().any(|a| a == "--output=json")
}

/// The subcommand the command line names (for the report's `command`), if any.
fn command_named(args: &[OsString]) -> Option<String> {
    let definitions = <Cli as clap::CommandFactory>::command();
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
    lenient(<Cli as clap::CommandFactory>::command())
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

/// A command line with a value that is not UTF-8: one line on stderr, exit 2; with `--output json` also
/// one JSON report on stdout.
fn refused_not_utf8(args: &[OsString], message: String) -> ExitCode {
    if json_wanted(args) {
        let report = commands::refused(
            command_named(args).as_deref().unwrap_or("none"),
            ozrepair::verdict::UsageError(message.clone()),
        );
        emit(format!("{}\n", report.to_json()).as_bytes());
    }
    let _ = std::io::stderr().write_all(format!("ozrepair: {message}\n").as_bytes());
    ExitCode::Usage
}

/// A command line clap refuses (exit 2), or help and version (exit 0). With `--output json` a refusal is
/// still one JSON report on stdout, so a script's parse reads its `error`.
fn refused_by_clap(e: clap::Error, args: &[OsString]) -> ExitCode {
    use clap::error::ErrorKind;
    if !json_wanted(args) || matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion)
    {
        e.exit();
    }
    let first = e.to_string();
    let message = first
        .lines()
        .next()
        .unwrap_or("usage error")
        .trim_start_matches("error: ");
    let command = command_named(args);
    let help = command
        .as_deref()
        .map(|c| format!("{c} "))
        .unwrap_or_default();
    let report = commands::refused(
        command.as_deref().unwrap_or("none"),
        ozrepair::verdict::UsageError(format!(
            "{message}; nothing was changed; see `ozrepair {help}--help`"
        )),
    );
    emit(format!("{}\n", report.to_json()).as_bytes());
    let _ = std::io::stderr().write_all(e.render().to_string().as_bytes());
    ExitCode::Usage
}

/// Writes to stdout; a reader that went away (a closed pipe) is not an error worth a panic.
fn emit(bytes: &[u8]) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(bytes).and_then(|_| out.flush());
}
