//! Dex databases as NetBird and openZro leave them: built from the repository's migrations/ by the
//! stand-in crate, with the connector rows a test names. [`DexDb::locked_out`] is the one locked-out
//! fixture; [`rows`] reads the connectors back as [`Row`]s. The `ozr-seed` fixture binary
//! ([`ozr_seed`]) leaves a database the way a crashed writer would.

use crate::util::repo;
use crate::util::run;
use ozrepair_standin::seed::{create_dex_db, insert_connector, insert_other_rows};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

/// JumpCloud's issuer as configured in the locked-out deployments: without the trailing slash.
pub const JUMPCLOUD: &str = "https://oauth.id.jumpcloud.com";
/// JumpCloud's issuer as it publishes it: with the slash.
pub const JUMPCLOUD_SLASH: &str = "https://oauth.id.jumpcloud.com/";
/// The client secret in every seeded connector: no output may ever contain it.
pub const SECRET: &str = "e2e-client-secret-9f8e7d6c5b4a-never-print";
/// The JumpCloud connector's id.
pub const JC_ID: &str = "d4s1a2b3c4d5e6f7g8h9";

/// The JumpCloud connector's config as NetBird writes it: compact, keys sorted, Go's \u0026, no
/// trailing slash added.
pub fn jumpcloud_config(issuer: &str) -> String {
    format!(
        r#"{{"clientID":"0f5e2c9a-e2e","clientSecret":"{SECRET}","insecureSkipEmailVerified":true,"issuer":"{issuer}","redirectURI":"https://openzro.example.com/oauth2/callback?x=1\u0026y=2","scopes":["openid","profile","email"]}}"#
    )
}

/// A connector row to write.
#[derive(Clone, Debug)]
pub struct Connector {
    pub id: &'static str,
    pub typ: &'static str,
    pub name: &'static str,
    pub resource_version: &'static str,
    /// The exact bytes of the config column (bound as a BLOB), or NULL.
    pub config: Option<String>,
}

impl Connector {
    /// Dex's built-in email and password connector (no config).
    pub fn local() -> Connector {
        Connector {
            id: "local",
            typ: "local",
            name: "Email",
            resource_version: "",
            config: None,
        }
    }

    /// The JumpCloud OIDC connector with this issuer and NetBird's empty resource_version.
    pub fn jumpcloud(issuer: &str) -> Connector {
        Connector {
            id: JC_ID,
            typ: "oidc",
            name: "JumpCloud",
            resource_version: "",
            config: Some(jumpcloud_config(issuer)),
        }
    }

    /// Another OIDC connector with exactly this config.
    pub fn oidc(
        id: &'static str,
        name: &'static str,
        resource_version: &'static str,
        config: String,
    ) -> Connector {
        Connector {
            id,
            typ: "oidc",
            name,
            resource_version,
            config: Some(config),
        }
    }
}

/// A Dex database to write: how many migrations, which connectors, the file's owner and mode. Besides
/// the connectors it holds one password row, so that a test can prove other tables are left alone.
#[derive(Clone, Debug)]
pub struct DexDb {
    pub level: usize,
    pub connectors: Vec<Connector>,
    pub uid: u32,
    pub gid: u32,
    pub mode: u32,
}

impl DexDb {
    /// `level` migrations and no connector, owned by root, mode 0644.
    pub fn new(level: usize) -> DexDb {
        DexDb {
            level,
            connectors: Vec::new(),
            uid: 0,
            gid: 0,
            mode: 0o644,
        }
    }

    /// The seed scenario of the openZro troubleshooting page: 11 migrations, the local connector and
    /// JumpCloud without its trailing slash, owned by root, mode 0644.
    pub fn locked_out() -> DexDb {
        DexDb::new(11).connectors([Connector::local(), Connector::jumpcloud(JUMPCLOUD)])
    }

    pub fn level(self, level: usize) -> DexDb {
        DexDb { level, ..self }
    }

    /// These connectors instead of the ones it had.
    pub fn connectors(self, connectors: impl IntoIterator<Item = Connector>) -> DexDb {
        DexDb {
            connectors: connectors.into_iter().collect(),
            ..self
        }
    }

    /// One more connector, after the others.
    pub fn with(mut self, connector: Connector) -> DexDb {
        self.connectors.push(connector);
        self
    }

    pub fn owner(self, uid: u32, gid: u32) -> DexDb {
        DexDb { uid, gid, ..self }
    }

    pub fn mode(self, mode: u32) -> DexDb {
        DexDb { mode, ..self }
    }

    /// Writes it at `path` (which must not exist yet).
    pub fn write(&self, path: &Path) {
        let conn = create_dex_db(path, self.level).expect("create Dex db");
        for c in &self.connectors {
            insert_connector(
                &conn,
                &ozrepair_standin::seed::Connector {
                    id: c.id,
                    typ: c.typ,
                    name: c.name,
                    resource_version: c.resource_version,
                    config: c.config.as_deref().map(str::as_bytes),
                },
            )
            .expect("insert connector");
        }
        insert_other_rows(&conn).expect("insert other rows");
        drop(conn);
        std::os::unix::fs::chown(path, Some(self.uid), Some(self.gid)).expect("chown");
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(self.mode)).expect("chmod");
    }
}

/// One connector row as it is stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    pub id: String,
    pub typ: String,
    pub name: String,
    /// The SQLite storage class of the config (`typeof(config)`): Dex binds it as a BLOB.
    pub storage: String,
    /// The config's bytes (empty for NULL).
    pub config: Vec<u8>,
    pub resource_version: String,
}

impl Row {
    /// The config as text.
    pub fn config_text(&self) -> String {
        String::from_utf8(self.config.clone()).expect("the config is UTF-8")
    }
}

/// Every connector row of the database at `db`, in rowid order, opened read-only.
pub fn rows(db: &Path) -> Vec<Row> {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .expect("open db");
    rows_of(&conn)
}

/// Every connector row through `conn`, in rowid order.
pub fn rows_of(conn: &rusqlite::Connection) -> Vec<Row> {
    let mut st = conn
        .prepare(
            "select id, type, name, typeof(config), coalesce(cast(config as blob), x''), \
             resource_version from connector order by rowid",
        )
        .expect("prepare");
    let rows = st
        .query_map([], |r| {
            Ok(Row {
                id: r.get(0)?,
                typ: r.get(1)?,
                name: r.get(2)?,
                storage: r.get(3)?,
                config: r.get(4)?,
                resource_version: r.get(5)?,
            })
        })
        .expect("query")
        .collect::<Result<Vec<_>, _>>()
        .expect("rows");
    rows
}

/// The rows after a correct fix of [`DexDb::locked_out`]'s JumpCloud connector, computed from the rows
/// before it: only that config changed, to the issuer with its slash, and its resource_version as Dex
/// bumps it.
pub fn after_fix(before: &[Row]) -> Vec<Row> {
    let mut rows = before.to_vec();
    let jc = rows
        .iter_mut()
        .find(|r| r.id == JC_ID)
        .expect("a JumpCloud row");
    jc.config = jumpcloud_config(JUMPCLOUD_SLASH).into_bytes();
    // As Dex's own UpdateConnector writes it: strconv.Atoi of the version ('' counting as 0), plus one.
    let n = if jc.resource_version.is_empty() {
        Some(0)
    } else {
        jc.resource_version.parse::<i64>().ok()
    };
    if let Some(n) = n {
        jc.resource_version = n.wrapping_add(1).to_string();
    }
    rows
}

/// The `ozr-seed` fixture binary, ready for arguments. It is built once per run next to the `ozrepair`
/// under test (honouring CARGO_TARGET_DIR): `cargo test` builds the fixture crate as a library only, so
/// its binary may be missing or older than the modes used here.
pub fn ozr_seed() -> Command {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    let bin = BIN.get_or_init(|| {
        let manifest = repo();
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .or_else(|| option_env!("CARGO_TARGET_DIR").map(PathBuf::from))
            .map(|t| if t.is_relative() { manifest.join(t) } else { t })
            .unwrap_or_else(|| manifest.join("target"));
        let built = run::output_within(
            Command::new(env!("CARGO"))
                .args(["build", "-q", "-p", "ozrepair-standin", "--bin", "ozr-seed"])
                .env("CARGO_TARGET_DIR", &target)
                .current_dir(&manifest),
            Duration::from_secs(600),
        );
        assert!(
            built.status.success(),
            "cannot build ozr-seed:\n{}",
            built.stderr_text()
        );
        let bin = target.join("debug/ozr-seed");
        assert!(bin.is_file(), "no {}", bin.display());
        bin
    });
    Command::new(bin)
}
