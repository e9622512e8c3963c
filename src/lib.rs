//! ozrepair: brings a locked-out openZro / NetBird deployment back.
//!
//! The modules follow the operator's flow, in order; each step returns a value the next one takes, and the
//! report is made last from those values (see ARCHITECTURE.md):
//!
//! 1. [`cli`] parses the command line; `settings` turns it into one group of settings per step.
//! 2. `runtime` locates the deployment through what runs it (a container on an engine, or nothing with
//!    `--db`): a `runtime::Located`.
//! 3. `store` reaches where Dex keeps its state (an SQLite file) and reads it: a `dex::Stored`; `config`
//!    reads the config files the runtime names.
//! 4. [`evidence`] diagnoses from the IdP's own log lines and the providers' discovery.
//! 5. `plan` turns rows and evidence into field changes: a `plan::Plan` (plain data).
//! 6. `apply` applies them in one stop window (lock, stop, backup, write, verify, start, watch).
//! 7. `report` renders what the steps returned (text, JSON, monitoring formats), with the secret scrub at
//!    its one exit.
//!
//! `commands` walks that path for each command; `fleet` runs it over many hosts. Leaf helpers: [`verdict`]
//! (outcomes and exit codes), [`fault`] (crash points), `progress`, `timefmt`, `digest`, `safefs`,
//! `fields`, `logs`, `backups`.
//!
//! What is public is what the binary, the tests and the fuzz targets reach: the command line and [`run`],
//! the config-file editors, discovery, the crash points, what the differential test holds against Go's own
//! decoding ([`dex`], [`plan`], [`settings`]), and (with the `fuzzing` feature) the fuzz properties.

mod apply;
mod backups;
pub mod cli;
mod commands;
pub mod config;
pub mod dex;
mod digest;
mod dsn;
pub mod evidence;
pub mod fault;
mod fields;
mod fleet;
pub mod heap;
mod keys;
mod logs;
mod manpage;
pub mod plan;
mod progress;
#[cfg(any(test, feature = "fuzzing"))]
pub mod props;
mod report;
mod runtime;
mod safefs;
pub mod settings;
pub mod shared;
mod store;
mod timefmt;
pub mod verdict;

use cli::{Cli, Command};
use std::io::Write;
use verdict::ExitCode;

/// Runs a parsed command line and prints its report; returns the process's exit code (an [`ExitCode`],
/// or a monitoring plugin's state with `--output nagios`).
pub fn run(cli: Cli) -> i32 {
    progress::start();
    runtime::docker::endpoint::accept_new_host_keys(cli.global.ssh_accept_new);
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
            emit(&cli::completions(*shell));
            return ExitCode::Done.code();
        }
        Command::Man(a) => {
            let done = match &a.dir {
                Some(dir) => manpage::write_all(dir).map(|written| {
                    for w in written {
                        progress::say(format!("wrote {}", w.display()));
                    }
                }),
                None => manpage::main_page().map(|page| emit(&page)),
            };
            return match done {
                Ok(()) => ExitCode::Done.code(),
                Err(e) => {
                    progress::say(format!("{e:#}; no man page was written"));
                    ExitCode::Failed.code()
                }
            };
        }
        _ => {}
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            progress::say(format!(
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
    let (settings, report) = runtime.block_on(commands::run(&cli));
    let shown = report.render(&settings.output);
    emit(shown.stdout.as_bytes());
    if let Some(e) = &shown.stderr {
        let _ = std::io::stderr().write_all(e.as_bytes());
    }
    // The process exits right after this.
    shown.exit_now()
}

/// A command line that was not taken: clap's refusal (exit 2), or help and the version (exit 0), or a
/// value that is not UTF-8 (exit 2, one line naming the option). With `--output json` a refusal is still
/// one JSON report on stdout, so a script's parse reads its `error`; with `--output nagios` it is the
/// plugin's UNKNOWN line (exit 3), with `--output prometheus` the series of a failed check.
pub fn refused(refusal: cli::Refusal, args: &[std::ffi::OsString]) -> i32 {
    use clap::error::ErrorKind;
    let asked = |format: &str| {
        args.windows(2)
            .any(|w| (w[0] == "--output" || w[0] == "-o") && w[1] == format)
            || args.iter().any(|a| {
                *a == *format!("--output={format}")
                    || *a == *format!("-o{format}")
                    || *a == *format!("-o={format}")
            })
    };
    let format = ["json", "nagios", "prometheus"]
        .into_iter()
        .find(|f| asked(f));
    let command = cli::command_named(args);
    let (message, rendered) = match refusal {
        cli::Refusal::Clap(e) => {
            if format.is_none()
                || matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion)
            {
                e.exit();
            }
            let first = e.to_string();
            let message = first
                .lines()
                .next()
                .unwrap_or("usage error")
                .trim_start_matches("error: ")
                .to_string();
            let help = command
                .as_deref()
                .map(|c| format!("{c} "))
                .unwrap_or_default();
            (
                format!("{message}; nothing was changed; see `ozrepair {help}--help`"),
                e.render().to_string(),
            )
        }
        cli::Refusal::NotUtf8(message) => {
            let line = format!("ozrepair: {message}\n");
            (message, line)
        }
    };
    let Some(format) = format else {
        let _ = std::io::stderr().write_all(rendered.as_bytes());
        return ExitCode::Usage.code();
    };
    let report = commands::refused_report(
        command.as_deref().unwrap_or("none"),
        verdict::UsageError(message),
    );
    // Each format says it as its readers expect.
    let output = match format {
        "nagios" => settings::Output::Nagios,
        "prometheus" => settings::Output::Prometheus,
        _ => settings::Output::Json,
    };
    let shown = report.render(&settings::OutputOpts {
        format: output,
        color: false,
        show_secrets: false,
    });
    emit(shown.stdout.as_bytes());
    let _ = std::io::stderr().write_all(rendered.as_bytes());
    match output {
        settings::Output::Nagios => shown.exit_now(),
        _ => ExitCode::Usage.code(),
    }
}

/// Writes to stdout; a reader that went away (a closed pipe) is not an error worth a panic.
fn emit(bytes: &[u8]) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(bytes).and_then(|_| out.flush());
}
