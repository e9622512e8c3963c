//! `ozrepair`: parses the command line, runs the command, prints its report, exits with its code.

use clap::Parser;
use ozrepair::cli::{Cli, Command, Output};
use ozrepair::commands;

fn main() {
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
            return;
        }
        Command::Man => match ozrepair::cli::man() {
            Ok(page) => return emit(&page),
            Err(e) => {
                eprintln!("ozrepair: cannot render the man page ({e})");
                std::process::exit(1);
            }
        },
        _ => {}
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("ozrepair: cannot start the async runtime ({e}); nothing was changed");
            std::process::exit(1);
        }
    };
    let g = &cli.global;
    let report = runtime.block_on(async {
        match &cli.command {
            Command::Inspect(a) => commands::inspect(g, a).await,
            Command::Fix(a) => commands::fix(g, a).await,
            Command::Backup(a) => commands::backup_now(g, a).await,
            Command::Backups(a) => commands::backups(g, a).await,
            Command::Restore(a) => commands::restore(g, a).await,
            Command::Fleet(a) => {
                let code = ozrepair::fleet::run(g, a).await;
                std::process::exit(code);
            }
            Command::Completions { .. } | Command::Man => unreachable_report(),
        }
    });
    let secrets: &[String] = if g.show_secrets { &[] } else { &report.secrets };
    let shown = |s: &str| ozrepair::redact::scrub(s, secrets);
    match g.output {
        Output::Json => emit(format!("{}\n", shown(&report.to_json())).as_bytes()),
        Output::Text => emit(shown(&report.to_text(g.use_color())).as_bytes()),
    }
    if let Some(e) = &report.error {
        eprintln!("ozrepair: {}", shown(e));
    }
    std::process::exit(report.exit_code);
}

/// Completions and man return before the runtime starts; this only satisfies the match.
fn unreachable_report() -> ozrepair::report::Report {
    ozrepair::report::Report::new("none")
}

/// Writes to stdout; a reader that went away (a closed pipe) is not an error worth a panic.
fn emit(bytes: &[u8]) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(bytes).and_then(|_| out.flush());
}
