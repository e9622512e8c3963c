//! Progress messages for the person at the terminal: one line each on stderr, prefixed `ozrepair: `.
//! stdout holds only the report, so a script can parse it while a person still sees what happens.

/// Prints one progress line on stderr.
pub fn say(msg: impl std::fmt::Display) {
    eprintln!("ozrepair: {msg}");
}
