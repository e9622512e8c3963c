//! `ozrepair`: parses the command line, runs the command, exits with its code.

use clap::Parser;

fn main() {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let code = match ozrepair::cli::Cli::try_parse_from(&args) {
        Ok(cli) => ozrepair::run(cli),
        Err(e) => ozrepair::refused_by_clap(e, &args),
    };
    std::process::exit(code);
}
