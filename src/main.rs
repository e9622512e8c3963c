//! `ozrepair`: parses the command line, runs the command, exits with its code.

fn main() {
    ozrepair::heap::reserve();
    // Read as bytes: `std::env::args` panics on an argument that is not UTF-8.
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let code = match ozrepair::cli::parse(&args) {
        Ok(cli) => ozrepair::run(cli),
        Err(refusal) => ozrepair::refused(refusal, &args),
    };
    std::process::exit(code);
}
