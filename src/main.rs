//! `ozrepair`: parses the command line, runs the command, prints its report, exits with its code.

use clap::Parser;
use ozrepair::cli::{Cli, Command};
use ozrepair::settings::Settings;
use ozrepair::verdict::ExitCode;
use ozrepair::{commands, fleet};
use std::io::Write;

fn main() {
    std::process::exit(run().code());
}

fn run() -> ExitCode {
    let cli = Cli::parse(); // usage errors exit 2
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
            return ExitCode::Done;
        }
        Command::Man => {
            return match ozrepair::cli::man() {
                Ok(page) => {
                    emit(&page);
                    ExitCode::Done
                }
                Err(e) => {
                    ozrepair::progress::say(format!("cannot render the man page ({e})"));
                    ExitCode::Failed
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
            return ExitCode::Failed;
        }
    };
    if let Command::Fleet(a) = &cli.command {
        let (out, code) = runtime.block_on(fleet::run(&cli.global, a));
        emit(out.as_bytes());
        return code;
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
            Command::Restore(_) => commands::restore(&settings).await,
            Command::Fleet(_) | Command::Completions { .. } | Command::Man => commands::refused(
                cli.command.name(),
                ozrepair::verdict::UsageError("not a single-host command".into()),
            ),
        }
    });
    let shown = report.render(&settings);
    emit(shown.stdout.as_bytes());
    if let Some(e) = &shown.stderr {
        eprint!("{e}");
    }
    report.exit_code
}

/// Writes to stdout; a reader that went away (a closed pipe) is not an error worth a panic.
fn emit(bytes: &[u8]) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(bytes).and_then(|_| out.flush());
}
