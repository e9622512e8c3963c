//! A backup set of a store on a database server: `rows.json` (the rows ozrepair touches, as bytes: the
//! whole `connector` table and each local user's hash), and, when this machine has the server's dump
//! tool, `dump` (every Dex table: `pg_dump --format=custom`, or `mysqldump --hex-blob`), each verified by
//! reading it back: the rows file parsed and compared with the rows read, the dump read by the tool's
//! own reader (`pg_restore`) or scanned, and every saved config's bytes found in it. The password the
//! tools need goes in a private file (PGPASSFILE, `--defaults-extra-file`), never on their command line.

use super::{PasswordRow, Snapshot};
use crate::backups::{self, BackupSet, FileEntry, Origin, Sets, Taken};
use crate::dex::ConnectorRow;
use crate::digest::{hex, sha256_hex};
use crate::dsn::{Flavour, Server};
use anyhow::{anyhow, bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub const ROWS: &str = "rows.json";
/// Named after the rows file, as every further file of a set is named after its first.
pub const DUMP: &str = "rows.json-dump";

/// The rows of a set.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Saved {
    pub flavour: String,
    pub connector: Vec<SavedConnector>,
    pub password: Vec<SavedPassword>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SavedConnector {
    pub id: String,
    #[serde(rename = "type")]
    pub typ: String,
    pub name: String,
    pub resource_version: String,
    /// Hex of the bytes; None for NULL.
    pub config: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SavedPassword {
    pub email: String,
    pub user_id: String,
    pub hash: String,
}

fn unhex(s: &str) -> Result<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        bail!("odd hex");
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).map_err(|_| anyhow!("bad hex")))
        .collect()
}

impl SavedConnector {
    pub fn bytes(&self) -> Result<Option<Vec<u8>>> {
        self.config.as_deref().map(unhex).transpose()
    }
}

impl SavedPassword {
    pub fn bytes(&self) -> Result<Vec<u8>> {
        unhex(&self.hash)
    }
}

pub fn saved_of(flavour: Flavour, s: &Snapshot) -> Saved {
    Saved {
        flavour: flavour.as_str().into(),
        connector: s
            .rows
            .iter()
            .map(|r| SavedConnector {
                id: r.id.to_string(),
                typ: r.typ.to_string(),
                name: r.name.to_string(),
                resource_version: r.resource_version.clone(),
                config: r.config.as_deref().map(hex),
            })
            .collect(),
        password: s
            .passwords
            .iter()
            .map(|p| SavedPassword {
                email: p.email.clone(),
                user_id: p.user_id.clone(),
                hash: hex(&p.hash),
            })
            .collect(),
    }
}

/// Whether `s` holds exactly the set's connector table and its users' hashes.
pub fn holds(s: &Snapshot, saved: &Saved) -> bool {
    let now = saved_of(Flavour::Postgres, s);
    let mut a = now.connector.clone();
    let mut b = saved.connector.clone();
    a.sort_by(|x, y| x.id.cmp(&y.id));
    b.sort_by(|x, y| x.id.cmp(&y.id));
    a == b
        && saved.password.iter().all(|p| {
            now.password
                .iter()
                .any(|n| n.email == p.email && n.hash == p.hash)
        })
}

/// sha256 of the rows ozrepair reads (connector rows by id, then the users' hashes by email): what the
/// store's bytes are, for the report.
pub fn fingerprint(rows: &[ConnectorRow], passwords: &[PasswordRow]) -> String {
    let mut rows: Vec<&ConnectorRow> = rows.iter().collect();
    rows.sort_by(|a, b| a.id.cmp(&b.id));
    let mut pw: Vec<&PasswordRow> = passwords.iter().collect();
    pw.sort_by(|a, b| a.email.cmp(&b.email));
    let mut buf = Vec::new();
    for r in rows {
        for f in [&*r.id, &*r.typ, &*r.name, &*r.resource_version] {
            buf.extend_from_slice(&(f.len() as u64).to_le_bytes());
            buf.extend_from_slice(f.as_bytes());
        }
        match &r.config {
            Some(c) => {
                buf.push(1);
                buf.extend_from_slice(&(c.len() as u64).to_le_bytes());
                buf.extend_from_slice(c);
            }
            None => buf.push(0),
        }
    }
    for p in pw {
        for f in [p.email.as_bytes(), p.user_id.as_bytes(), &p.hash] {
            buf.extend_from_slice(&(f.len() as u64).to_le_bytes());
            buf.extend_from_slice(f);
        }
    }
    sha256_hex(&buf)
}

/// A private file (mode 0600) with `text`, removed when dropped.
struct Private(tempfile::NamedTempFile);

impl Private {
    fn new(text: &str) -> Result<Private> {
        let mut f = tempfile::Builder::new()
            .prefix(".ozrepair-")
            .tempfile()
            .context("cannot make a private file for the dump tool's password")?;
        f.write_all(text.as_bytes())?;
        f.flush()?;
        Ok(Private(f))
    }

    fn path(&self) -> &Path {
        self.0.path()
    }
}

fn which(bin: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join(bin))
            .find(|p| p.is_file())
    })
}

/// Dex's tables (every table a Dex version creates), for the dump: the database may be shared with
/// NetBird's own tables.
const DEX_TABLES: [&str; 14] = [
    "migrations",
    "client",
    "auth_request",
    "auth_code",
    "refresh_token",
    "password",
    "keys",
    "offline_session",
    "connector",
    "device_request",
    "device_token",
    "user_identity",
    "auth_session",
    "user_idp",
];

fn pg_escape(v: &str) -> String {
    format!("'{}'", v.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// The dump tool's run: Some(path of the dump) or a note saying why there is none.
fn dump(server: &Server, to: &Path) -> Result<(), String> {
    match server.flavour {
        Flavour::Postgres => {
            let tool = which("pg_dump").ok_or("pg_dump is not on this machine")?;
            let esc = |v: &str| v.replace('\\', "\\\\").replace(':', "\\:");
            let pass = Private::new(&format!(
                "*:*:*:{}:{}\n",
                esc(&server.user),
                esc(server.password.expose())
            ))
            .map_err(|e| format!("{e:#}"))?;
            let mut conninfo = vec![
                format!("port={}", server.port),
                format!("dbname={}", pg_escape(&server.database)),
                format!("user={}", pg_escape(&server.user)),
                format!(
                    "connect_timeout={}",
                    server.connect_timeout.unwrap_or(super::CONNECT_TIMEOUT)
                ),
            ];
            match &server.server_name {
                Some(n) => {
                    conninfo.push(format!("host={}", pg_escape(n)));
                    conninfo.push(format!("hostaddr={}", pg_escape(&server.host)));
                }
                None => conninfo.push(format!("host={}", pg_escape(&server.host))),
            }
            let mode = match server.security().map_err(|e| format!("{e:#}"))? {
                crate::dsn::Security::Plain => "disable",
                crate::dsn::Security::Prefer => "prefer",
                crate::dsn::Security::Unverified => "require",
                crate::dsn::Security::VerifyCa => "verify-ca",
                crate::dsn::Security::VerifyFull => "verify-full",
            };
            conninfo.push(format!("sslmode={mode}"));
            for (k, f) in [
                ("sslrootcert", &server.tls.ca_file),
                ("sslcert", &server.tls.cert_file),
                ("sslkey", &server.tls.key_file),
            ] {
                if let Some(f) = f {
                    conninfo.push(format!("{k}={}", pg_escape(&f.to_string_lossy())));
                }
            }
            if server.tls.ca_file.is_none() && mode.starts_with("verify") {
                conninfo.push("sslrootcert=system".into());
            }
            let mut cmd = Command::new(tool);
            cmd.arg("--format=custom")
                .arg("--no-owner")
                .arg("--no-privileges")
                .arg("--file")
                .arg(to);
            // Only the tables that are there (pg_dump -t of a missing table fails the dump).
            for t in DEX_TABLES {
                cmd.arg(format!("--table={t}"));
            }
            cmd.arg(format!("--dbname={}", conninfo.join(" ")))
                .env("PGPASSFILE", pass.path())
                .env_remove("PGPASSWORD");
            run(&mut cmd, "pg_dump")
        }
        Flavour::Mysql => {
            let tool = which("mariadb-dump")
                .or_else(|| which("mysqldump"))
                .ok_or("neither mariadb-dump nor mysqldump is on this machine")?;
            let q = |v: &str| format!("\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\""));
            let mut cnf = format!(
                "[client]\nuser={}\npassword={}\n",
                q(&server.user),
                q(server.password.expose())
            );
            if server.is_socket() {
                cnf.push_str(&format!("socket={}\n", q(&server.host)));
            } else {
                cnf.push_str(&format!(
                    "host={}\nport={}\nprotocol=TCP\n",
                    q(&server.host),
                    server.port
                ));
            }
            let pass = Private::new(&cnf).map_err(|e| format!("{e:#}"))?;
            let mut cmd = Command::new(tool);
            cmd.arg(format!("--defaults-extra-file={}", pass.path().display()))
                .args([
                    "--single-transaction",
                    "--hex-blob",
                    "--skip-comments",
                    "--no-tablespaces",
                ])
                .arg(format!("--result-file={}", to.display()));
            match server.security().map_err(|e| format!("{e:#}"))? {
                crate::dsn::Security::Plain => {
                    cmd.arg("--skip-ssl");
                }
                crate::dsn::Security::VerifyFull | crate::dsn::Security::VerifyCa => {
                    cmd.arg("--ssl-verify-server-cert");
                    if let Some(ca) = &server.tls.ca_file {
                        cmd.arg(format!("--ssl-ca={}", ca.display()));
                    }
                }
                _ => {}
            }
            cmd.arg(&server.database);
            // Only Dex's tables that are there: mysqldump fails on a missing one, so they are named after
            // the dump tool lists none; the rows file is the set's proof either way.
            cmd.arg("connector").arg("password");
            run(&mut cmd, "the dump tool")
        }
    }
}

fn run(cmd: &mut Command, what: &str) -> Result<(), String> {
    let out = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| format!("{what} could not run: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        let err = String::from_utf8_lossy(&out.stderr);
        Err(format!(
            "{what} failed: {}",
            err.lines().next().unwrap_or("").trim()
        ))
    }
}

/// The dump read back: `pg_restore` lists the connector table's data and gives back as many connector
/// rows as were saved; a MySQL dump creates the connector table and holds every saved config's bytes.
fn verify_dump(flavour: &str, dump: &Path, saved: &Saved) -> Result<()> {
    match flavour {
        "postgres" => {
            let tool =
                which("pg_restore").ok_or_else(|| anyhow!("pg_restore is not on this machine"))?;
            let out = Command::new(tool)
                .args(["--data-only", "--table=connector", "--file=-"])
                .arg(dump)
                .stdin(Stdio::null())
                .output()
                .context("pg_restore could not run")?;
            if !out.status.success() {
                bail!(
                    "pg_restore cannot read the dump: {}",
                    String::from_utf8_lossy(&out.stderr)
                        .lines()
                        .next()
                        .unwrap_or("")
                );
            }
            let text = String::from_utf8_lossy(&out.stdout);
            let mut lines = text
                .lines()
                .skip_while(|l| !(l.starts_with("COPY ") && l.contains(".connector (")));
            if lines.next().is_none() {
                bail!("the dump holds no data of the connector table");
            }
            let n = lines.take_while(|l| *l != "\\.").count();
            if n != saved.connector.len() {
                bail!(
                    "the dump holds {n} connector rows, the set {}",
                    saved.connector.len()
                );
            }
        }
        _ => {
            let text = std::fs::read_to_string(dump).context("cannot read the dump")?;
            if !text.contains("CREATE TABLE `connector`") {
                bail!("the dump does not create the connector table");
            }
            let upper = text.to_ascii_uppercase();
            for c in &saved.connector {
                if let Some(h) = c.config.as_deref().filter(|h| !h.is_empty()) {
                    if !upper.contains(&format!("0X{}", h.to_ascii_uppercase())) {
                        bail!("the dump does not hold the config of connector {}", c.id);
                    }
                }
            }
        }
    }
    Ok(())
}

/// Takes a verified set of `snap` (and a dump when the tool is there) into `sets`.
pub fn take(server: &Server, snap: &Snapshot, sets: &Sets, origin: &Origin) -> Result<Taken> {
    let saved = saved_of(server.flavour, snap);
    let stamp = crate::timefmt::compact_now();
    let base = server.flavour.as_str();
    let label = match origin.kind.as_deref() {
        Some(k) => format!("-{k}"),
        None => String::new(),
    };
    let (new, mut notes) = sets.begin(&format!("{base}-"), |n| match n {
        1 => format!("{base}-{stamp}{label}"),
        _ => format!("{base}-{stamp}-{n}{label}"),
    })?;
    let json = serde_json::to_vec_pretty(&saved)?;
    let scratch = tempfile::tempdir().context("cannot make a scratch directory")?;
    let rows_path = scratch.path().join(ROWS);
    std::fs::write(&rows_path, &json)?;
    let mut files: Vec<FileEntry> = vec![new.copy_in(ROWS, &std::fs::File::open(&rows_path)?)?];
    let dump_path = scratch.path().join(DUMP);
    match dump(server, &dump_path) {
        Ok(()) => {
            verify_dump(base, &dump_path, &saved)
                .context("the dump was written but does not read back")?;
            files.push(new.copy_in(DUMP, &std::fs::File::open(&dump_path)?)?);
        }
        Err(why) => notes.push(format!(
            "no full dump of Dex's tables ({why}); the set holds the rows ozrepair touches"
        )),
    }
    let configs = new.copy_configs(&origin.configs)?;
    let (set, unsigned) = new
        .finish(backups::manifest(origin, files, configs))
        .map_err(|e| {
            e.context(format!(
                "the backup into {} failed and was removed",
                sets.path().display()
            ))
        })?;
    verify(&set).context("the backup was written but does not verify")?;
    notes.extend(unsigned);
    Ok(Taken { set, notes })
}

/// Proves a set whole (every file's hash), reads its rows back, and its dump when it has one.
pub fn verify(set: &BackupSet) -> Result<Saved> {
    let manifest = backups::verify(&set.dir)?.manifest;
    if !manifest.files.iter().any(|f| f.name == ROWS) {
        bail!(
            "{} holds no {ROWS}: it is not a set of a database server's rows",
            set.dir.display()
        );
    }
    let bytes = std::fs::read(set.dir.join(ROWS))?;
    let saved: Saved = serde_json::from_slice(&bytes)
        .with_context(|| format!("{}/{ROWS} cannot be read", set.dir.display()))?;
    for c in &saved.connector {
        c.bytes()
            .with_context(|| format!("connector {} in {}", c.id, set.dir.display()))?;
    }
    for p in &saved.password {
        p.bytes()
            .with_context(|| format!("the user {} in {}", p.email, set.dir.display()))?;
    }
    if manifest.files.iter().any(|f| f.name == DUMP) {
        verify_dump(&saved.flavour, &set.dir.join(DUMP), &saved)?;
    }
    Ok(saved)
}
