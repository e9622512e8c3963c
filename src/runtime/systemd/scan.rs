//! The unit files that name one of the programs that run the IdP, read from systemd's unit directories
//! without asking systemd (which would load every unit it is asked about). Only a first choice:
//! systemd's own ExecStart of each unit confirms it ([`super::unit::role_of`]).

use std::path::Path;

/// Where systemd reads unit files and drop-ins (the system manager's search path,
/// `systemd-analyze unit-paths`).
const UNIT_DIRS: [&str; 13] = [
    "/etc/systemd/system.control",
    "/run/systemd/system.control",
    "/run/systemd/transient",
    "/run/systemd/generator.early",
    "/etc/systemd/system",
    "/etc/systemd/system.attached",
    "/run/systemd/system",
    "/run/systemd/system.attached",
    "/run/systemd/generator",
    "/usr/local/lib/systemd/system",
    "/lib/systemd/system",
    "/usr/lib/systemd/system",
    "/run/systemd/generator.late",
];

/// The programs a unit that runs the IdP starts (their file names).
const PROGRAMS: [&str; 8] = [
    "netbird-mgmt",
    "openzro-mgmt",
    "netbird-management",
    "openzro-management",
    "netbird-server",
    "netbird-combined",
    "openzro-server",
    "dex",
];

/// The largest unit file read.
const MAX: u64 = 256 << 10;

/// Whether an `Exec…=` line of a unit file names one of [`PROGRAMS`] (as a path's last part, or a
/// word: `/usr/bin/dex serve`, `${pkgs.dex}/bin/dex`).
pub fn names_a_program(text: &str) -> bool {
    text.lines().any(|l| {
        let l = l.trim_start();
        l.starts_with("Exec")
            && l.split(|c: char| c.is_whitespace() || c == '=' || c == '"' || c == '\'')
                .any(|w| {
                    let last = w.rsplit('/').next().unwrap_or(w);
                    PROGRAMS.contains(&last)
                })
    })
}

/// The names of the service units (not templates) whose unit file or a drop-in of it names one of the
/// programs in an `Exec…=` line.
pub fn naming_programs() -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut add = |name: &str| {
        if name.ends_with(".service") && !name.contains("@.") && !out.iter().any(|n| n == name) {
            out.push(name.to_string());
        }
    };
    for dir in UNIT_DIRS {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let path = e.path();
            if name.ends_with(".service") {
                if read_small(&path).is_some_and(|t| names_a_program(&t)) {
                    add(&name);
                }
            } else if let Some(unit) = name.strip_suffix(".d") {
                let Ok(drop_ins) = std::fs::read_dir(&path) else {
                    continue;
                };
                if drop_ins.flatten().any(|d| {
                    d.file_name().to_string_lossy().ends_with(".conf")
                        && read_small(&d.path()).is_some_and(|t| names_a_program(&t))
                }) {
                    add(unit);
                }
            }
        }
    }
    out
}

/// A unit file's text (following links: NixOS links them into the Nix store).
fn read_small(p: &Path) -> Option<String> {
    let meta = std::fs::metadata(p).ok()?;
    if !meta.is_file() || meta.len() > MAX {
        return None;
    }
    std::fs::read_to_string(p).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_lines_that_name_the_programs() {
        assert!(names_a_program(
            "[Service]\nExecStart=/usr/bin/netbird-mgmt management $FLAGS\n"
        ));
        assert!(names_a_program(
            "ExecStart=/nix/store/abc-dex-2.45/bin/dex serve /nix/store/x-config.yaml"
        ));
        assert!(names_a_program(
            "ExecStart=\"/opt/netbird/netbird-server\" --config /etc/x"
        ));
        assert!(!names_a_program("ExecStart=/usr/sbin/sshd -D\n"));
        assert!(!names_a_program(
            "Description=dex\nExecStart=/usr/bin/true\n"
        ));
        assert!(!names_a_program("ExecStart=/usr/bin/dexter\n"));
    }
}
