//! The man pages: ozrepair(1) and one page per command (ozrepair-fix(1), …), made from the command line's
//! definitions ([`crate::cli::command`]). clap_mangen writes the title, NAME, SYNOPSIS, DESCRIPTION and
//! the options (each heading a section: OPTIONS, RUNTIME OPTIONS, GLOBAL OPTIONS); the sections after them
//! are written here from the tables they come from: EXAMPLES ([`crate::cli::EXAMPLES`], the help's too),
//! EXIT STATUS ([`crate::verdict::ExitCode`] and [`crate::verdict::RESULTS`], the one table of results),
//! ENVIRONMENT ([`ENVIRONMENT`], held to the source by a test), FILES and SEE ALSO.

use crate::cli::{self, Example};
use crate::verdict::{ExitCode, RESULTS};
use anyhow::{Context, Result};
use roff::{bold, italic, roman, Inline, Roff};
use std::path::{Path, PathBuf};

/// Every environment variable ozrepair reads, and what it does (a test holds this list to the source).
pub const ENVIRONMENT: &[(&str, &str)] = &[
    ("DOCKER_HOST", "The Docker endpoint when -H is not given: unix://, tcp://, https:// or ssh://[user@]host[:port][/socket]."),
    ("DOCKER_CONTEXT", "The docker CLI context whose endpoint is used when neither -H nor DOCKER_HOST is given (else the context config.json names, else the local socket)."),
    ("DOCKER_CONFIG", "The docker CLI's configuration directory, where config.json and the contexts are (default: ~/.docker)."),
    ("DOCKER_TLS_VERIFY", "With a tcp:// endpoint: talk TLS and present the client certificate in DOCKER_CERT_PATH."),
    ("DOCKER_CERT_PATH", "The directory of ca.pem, cert.pem and key.pem for DOCKER_TLS_VERIFY."),
    ("OZREPAIR_SSH_ARGS", "More options for the ssh that ssh:// endpoints run, split into words as a POSIX shell splits them; what a shell would expand or run is refused."),
    ("OZREPAIR_DSN", "The Dex store's database server (a PostgreSQL connection string or URI, or a MySQL DSN or mysql:// URI), as --dsn-file would give it; --dsn-file wins."),
    ("OZREPAIR_BUSY_TIMEOUT_MS", "How long to wait, in milliseconds, for another process to let go of its lock on the database before giving up and naming it (default: 10000)."),
    ("OZREPAIR_STATE_DIR", "The directory of this host's set key (default: /var/lib/ozrepair for root, else $XDG_STATE_HOME/ozrepair or ~/.local/state/ozrepair)."),
    ("XDG_STATE_HOME", "For a user other than root: the set key is in $XDG_STATE_HOME/ozrepair."),
    ("HOME", "The home directory: ~/.docker, the set key of a user other than root, and ~/ozrepair-backups/CONTAINER for databases reached through the archive API."),
    ("NO_COLOR", "When set and not empty: no colour in the text report (with --color auto)."),
    ("TERM", "dumb: no colour in the text report (with --color auto)."),
    ("OZREPAIR_FAULT", "Read by debug builds only (the test suite's crash points); a release build ignores it."),
    ("OZREPAIR_FAULT_STEP", "Read by debug builds only (the test suite's crash points); a release build ignores it."),
    ("OZREPAIR_PAUSE", "Read by debug builds only (the test suite's pause points); a release build ignores it."),
    ("OZREPAIR_PAUSE_FILE", "Read by debug builds only (the test suite's pause points); a release build ignores it."),
    ("PATH", "Where pg_dump, mysqldump or mariadb-dump are looked for, for the full dump of a database server's Dex tables beside a backup set."),
];

/// The variables of [`ENVIRONMENT`] that the Docker client library reads rather than ozrepair's own code.
pub const READ_BY_LIBRARIES: &[&str] = &["DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH"];

/// The files ozrepair reads and writes besides the deployment's own.
const FILES: &[(&str, &str)] = &[
    ("ozrepair-backups/DB-TIME/", "A backup set, beside the database (or under --backup-dir): the database and any -journal, -wal or -shm beside it, byte for byte, each config file saved with it as config-N-NAME, and manifest.json (each file's sha256, size, mode and owner, the Dex schema, the connector ids, the time, host, container and volume, and a signature made with this host's key). Files are mode 0600 in a 0700 directory: they hold client secrets. The copy restore saves first ends in -pre-restore."),
    ("~/ozrepair-backups/CONTAINER/", "The sets of a database reached through the Docker archive API, on the machine ozrepair runs on."),
    ("ozrepair-backups/.restore-journal.json", "What an interrupted restore has left to do (signed); the next restore finishes it, and every other command refuses to start while it is there."),
    (".DB.ozrepair-lock", "Beside the database: one ozrepair writes at a time."),
    ("/var/lib/ozrepair/set-key", "This host's key (32 random bytes, mode 0600, outside every volume) that signs sets and journals: a set the IdP's container could have written is never trusted to put config files back. For a user other than root: $XDG_STATE_HOME/ozrepair/set-key or ~/.local/state/ozrepair/set-key."),
    ("~/.docker/config.json", "The docker CLI's current context (read only)."),
    ("/proc/locks", "Read to name the process that holds a lock on the database."),
];

/// A page: its file name (`ozrepair.1`, `ozrepair-fix.1`) and its roff.
pub struct Page {
    pub file: String,
    pub roff: Vec<u8>,
}

/// The date in every page's title: the commit's day (see build.rs).
const DATE: &str = env!("OZR_COMMIT_DATE");
/// The source in every page's footer.
const SOURCE: &str = concat!("ozrepair ", env!("CARGO_PKG_VERSION"));
const MANUAL: &str = "ozrepair manual";

/// The commands that get a page of their own (every command but clap's `help`).
fn commands(root: &clap::Command) -> Vec<&clap::Command> {
    root.get_subcommands()
        .filter(|c| c.get_name() != "help")
        .collect()
}

/// ozrepair(1) and one page per command.
pub fn pages() -> Result<Vec<Page>> {
    let mut root = cli::command();
    root.build();
    let mut out = vec![Page {
        file: "ozrepair.1".into(),
        roff: page(&root, None)?,
    }];
    for sub in commands(&root) {
        out.push(Page {
            file: format!("ozrepair-{}.1", sub.get_name()),
            roff: page(sub, Some(&root))?,
        });
    }
    Ok(out)
}

/// ozrepair(1) alone (`ozrepair man`).
pub fn main_page() -> Result<Vec<u8>> {
    let mut root = cli::command();
    root.build();
    page(&root, None)
}

/// Writes every page into `dir` (made when missing); returns the files written.
pub fn write_all(dir: &Path) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot make the directory {}", dir.display()))?;
    let mut written = Vec::new();
    for p in pages()? {
        let path = dir.join(&p.file);
        std::fs::write(&path, &p.roff)
            .with_context(|| format!("cannot write {}", path.display()))?;
        written.push(path);
    }
    Ok(written)
}

/// The page of `cmd` (`parent`: the program, for a command's page).
fn page(cmd: &clap::Command, parent: Option<&clap::Command>) -> Result<Vec<u8>> {
    let name = match parent {
        Some(_) => format!("ozrepair-{}", cmd.get_name()),
        None => "ozrepair".to_string(),
    };
    let shown = cmd.clone().display_name(&name);
    let man = clap_mangen::Man::new(shown)
        .title(name.to_uppercase())
        .section("1")
        .date(DATE)
        .source(SOURCE)
        .manual(MANUAL);
    let mut out = Vec::new();
    man.render_title(&mut out)?;
    man.render_name_section(&mut out)?;
    man.render_synopsis_section(&mut out)?;
    man.render_description_section(&mut out)?;
    // clap_mangen puts an empty line between two line breaks before the possible values; mandoc's lint
    // warns of both breaks: one vertical space says the same.
    let mut options = Vec::new();
    man.render_options_section(&mut options)?;
    let options = String::from_utf8_lossy(&options).replace("\n.br\n\n.br\n", "\n.sp\n");
    out.extend(options.into_bytes());
    let mut r = Roff::new();
    match parent {
        None => commands_section(&mut r, cmd),
        Some(_) if cmd.has_subcommands() => actions_section(&mut r, cmd),
        Some(_) => {}
    }
    let example_of = if parent.is_some() {
        cmd.get_name()
    } else {
        "ozrepair"
    };
    examples_section(&mut r, cli::examples(example_of));
    exit_section(&mut r);
    environment_section(&mut r);
    files_section(&mut r);
    see_also_section(&mut r, parent.map(|_| cmd.get_name()));
    out.extend(r.to_roff().into_bytes());
    Ok(out)
}

/// ozrepair(1)'s list of commands, each with the page that tells more.
fn commands_section(r: &mut Roff, root: &clap::Command) {
    r.control("SH", ["COMMANDS"]);
    for sub in commands(root) {
        r.control("TP", []);
        r.text([bold(sub.get_name())]);
        let about = sub.get_about().map(|a| a.to_string()).unwrap_or_default();
        r.text([roman(format!("{about} See "))]);
        r.text(see(&format!("ozrepair-{}", sub.get_name())));
    }
}

/// fleet's actions (each runs the command of that name on every host).
fn actions_section(r: &mut Roff, cmd: &clap::Command) {
    r.control("SH", ["ACTIONS"]);
    for sub in cmd.get_subcommands().filter(|c| c.get_name() != "help") {
        r.control("TP", []);
        r.text([bold(sub.get_name())]);
        let about = sub.get_about().map(|a| a.to_string()).unwrap_or_default();
        r.text([roman(format!(
            "{about} It takes the options of ozrepair {} (see ",
            sub.get_name()
        ))]);
        let mut s = see(&format!("ozrepair-{}", sub.get_name()));
        s.push(roman(")."));
        r.text(s);
    }
}

/// `name(1)` as a reference.
fn see(name: &str) -> Vec<Inline> {
    vec![bold(name), roman("(1)")]
}

fn examples_section(r: &mut Roff, examples: &[Example]) {
    if examples.is_empty() {
        return;
    }
    r.control("SH", ["EXAMPLES"]);
    for e in examples {
        r.control("TP", []);
        r.text([bold(e.line)]);
        r.text([roman(e.what)]);
    }
}

/// The exit codes, each with the results that end with it (from the one table).
fn exit_section(r: &mut Roff) {
    r.control("SH", ["EXIT STATUS"]);
    for c in ExitCode::ALL {
        let words: Vec<&str> = RESULTS
            .iter()
            .filter(|row| row.exit == c)
            .map(|row| row.word)
            .collect();
        r.control("TP", []);
        r.text([bold(c.code().to_string())]);
        let mut text = vec![roman(format!("{}.", c.meaning().replace('`', "")))];
        if !words.is_empty() {
            text.push(roman(" Results: "));
            text.push(italic(words.join(", ")));
            text.push(roman("."));
        }
        r.text(text);
    }
    r.control("PP", []);
    r.text([roman(
        "With --output nagios the process exits as a monitoring plugin does instead: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.",
    )]);
}

fn environment_section(r: &mut Roff) {
    r.control("SH", ["ENVIRONMENT"]);
    for (var, what) in ENVIRONMENT {
        r.control("TP", []);
        r.text([bold(*var)]);
        let by = if READ_BY_LIBRARIES.contains(var) {
            " (Read by the Docker client library.)"
        } else {
            ""
        };
        r.text([roman(format!("{what}{by}"))]);
    }
}

fn files_section(r: &mut Roff) {
    r.control("SH", ["FILES"]);
    for (file, what) in FILES {
        r.control("TP", []);
        r.text([italic(*file)]);
        r.text([roman(*what)]);
    }
}

/// The other pages: the program's and every command's but this one, and the tools around it.
fn see_also_section(r: &mut Roff, this: Option<&str>) {
    r.control("SH", ["SEE ALSO"]);
    let mut root = cli::command();
    root.build();
    let mut refs: Vec<String> = Vec::new();
    if this.is_some() {
        refs.push("ozrepair".into());
    }
    refs.extend(
        commands(&root)
            .into_iter()
            .map(|c| c.get_name())
            .filter(|n| Some(*n) != this)
            .map(|n| format!("ozrepair-{n}")),
    );
    let mut line: Vec<Inline> = Vec::new();
    for (i, name) in refs.iter().enumerate() {
        if i > 0 {
            line.push(roman(", "));
        }
        line.extend(see(name));
    }
    for other in ["docker", "podman", "sqlite3"] {
        line.push(roman(", "));
        line.extend(see(other));
    }
    r.text(line);
    r.control("PP", []);
    r.text([roman(
        "The command-line contract (commands, flags, exit codes, the JSON report) is docs/cli-contract.md in the source.",
    )]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// Every environment variable the source reads by name (`std::env::var`, `var_os`, clap's `env`);
    /// not this file's, and not props.rs's (built only for the tests and the fuzz targets).
    fn read_in_source() -> BTreeSet<String> {
        fn walk(dir: &Path, out: &mut BTreeSet<String>) {
            for e in std::fs::read_dir(dir).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    walk(&p, out);
                    continue;
                }
                if p.extension().is_none_or(|x| x != "rs")
                    || p.ends_with("manpage.rs")
                    || p.ends_with("props.rs")
                {
                    continue;
                }
                let text = std::fs::read_to_string(&p).unwrap();
                for opener in ["var(\"", "var_os(\"", "env = \""] {
                    for (at, _) in text.match_indices(opener) {
                        let rest = &text[at + opener.len()..];
                        let name: String = rest
                            .chars()
                            .take_while(|c| {
                                c.is_ascii_uppercase() || *c == '_' || c.is_ascii_digit()
                            })
                            .collect();
                        if !name.is_empty() && rest[name.len()..].starts_with('"') {
                            out.insert(name);
                        }
                    }
                }
            }
        }
        let mut out = BTreeSet::new();
        walk(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut out);
        out
    }

    #[test]
    fn the_environment_section_names_every_variable_the_source_reads() {
        let source = read_in_source();
        let listed: BTreeSet<String> = ENVIRONMENT
            .iter()
            .map(|(v, _)| v.to_string())
            .filter(|v| !READ_BY_LIBRARIES.contains(&v.as_str()))
            .collect();
        assert!(source.contains("OZREPAIR_BUSY_TIMEOUT_MS"), "{source:?}");
        assert_eq!(
            listed, source,
            "ENVIRONMENT (the man pages) and the variables the source reads differ"
        );
    }

    #[test]
    fn every_command_has_a_page_with_every_section() {
        let pages = pages().unwrap();
        let names: Vec<&str> = pages.iter().map(|p| p.file.as_str()).collect();
        for want in [
            "ozrepair.1",
            "ozrepair-fix.1",
            "ozrepair-backup.1",
            "ozrepair-man.1",
        ] {
            assert!(names.contains(&want), "{names:?}");
        }
        for p in &pages {
            let text = String::from_utf8(p.roff.clone()).unwrap();
            for section in [
                ".SH NAME",
                ".SH SYNOPSIS",
                ".SH DESCRIPTION",
                ".SH EXAMPLES",
                ".SH \"EXIT STATUS\"",
                ".SH ENVIRONMENT",
                ".SH FILES",
                ".SH \"SEE ALSO\"",
            ] {
                assert!(text.contains(section), "{}: no {section}:\n{text}", p.file);
            }
            assert!(!text.contains(".SH EXTRA"), "{}", p.file);
            // Every page it names exists.
            for (at, _) in text.match_indices("\\fBozrepair") {
                let rest = &text[at + 3..];
                let Some(end) = rest.find("\\fR") else {
                    continue;
                };
                if !rest[end..].starts_with("\\fR(1)") {
                    continue;
                }
                let named = rest[..end].replace("\\-", "-");
                assert!(
                    names.contains(&format!("{named}.1").as_str()),
                    "{} names {named}(1), which is no page",
                    p.file
                );
            }
        }
        // A command's own options are on its page.
        let fix = pages.iter().find(|p| p.file == "ozrepair-fix.1").unwrap();
        let fix = String::from_utf8(fix.roff.clone()).unwrap();
        assert!(fix.contains("\\-\\-dry\\-run"), "{fix}");
        assert!(fix.contains("RUNTIME OPTIONS"), "{fix}");
        // completions and man show no engine options.
        for quiet in ["ozrepair-man.1", "ozrepair-completions.1"] {
            let p = pages.iter().find(|p| p.file == quiet).unwrap();
            let t = String::from_utf8(p.roff.clone()).unwrap();
            assert!(!t.contains("\\-\\-host"), "{quiet}: {t}");
        }
    }
}
