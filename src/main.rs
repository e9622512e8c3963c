//! `ozrepair`: parses the command line, runs the command, prints its report, exits with its code.

use clap::Parser;
use ozrepair::cli::{Cli, Command};
use ozrepair::settings::Settings;
use ozrepair::verdict::ExitCode;
use ozrepair::{commands, fleet};
use std::io::Write;

fn main() {
    std::process::exit(run());
}

/// The process's exit code: an [`ExitCode`], or a monitoring plugin's state with `--output nagios`.
fn run() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return refused_by_clap(e).code(),
    };
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

/// A command line clap refuses (exit 2), or help and version (exit 0). With `--output json` a refusal is
/// still one JSON report on stdout, so a script's parse reads its `error`.
fn refused_by_clap(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    let args: Vec<String> = std::env::args().collect();
    let json = args
        .windows(2)
        .any(|w| w[0] == "--output" && w[1] == "json")
        || args.iter().any(|a| a == "--output=json");
    if !json || matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
        e.exit();
    }
    let first = e.to_string();
    let message = first
        .lines()
        .next()
        .unwrap_or("usage error")
        .trim_start_matches("error: ");
    let definitions = <Cli as clap::CommandFactory>::command();
    let command = definitions
        .get_subcommands()
        .map(|c| c.get_name())
        .find(|c| args.iter().skip(1).any(|a| a == c));
    let help = command.map(|c| format!("{c} ")).unwrap_or_default();
    let report = commands::refused(
        command.unwrap_or("none"),
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
