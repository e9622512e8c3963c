//! `ozrepair`: parses the command line, runs the command, prints its report, exits with its code.

use clap::Parser;
use ozrepair::cli::{Cli, Command, Output};
use ozrepair::commands;

fn main() {
    let cli = Cli::parse(); // usage errors exit 2
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
        }
    });
    let secrets: &[String] = if g.show_secrets { &[] } else { &report.secrets };
    let shown = |s: &str| ozrepair::redact::scrub(s, secrets);
    match g.output {
        Output::Json => println!("{}", shown(&report.to_json())),
        Output::Text => print!("{}", shown(&report.to_text())),
    }
    if let Some(e) = &report.error {
        eprintln!("ozrepair: {}", shown(e));
    }
    std::process::exit(report.exit_code);
}
