//! Real database servers for one test: Debian's PostgreSQL and MariaDB, each started privately (its own
//! data directory under /tmp/ozr-db/, a Unix socket there and a free port of 127.0.0.1), with a `dex`
//! database and user (a password, checked by the server: scram-sha-256, mysql_native_password) holding
//! Dex's schema made from the repository's migration statements for that flavour (`migrations/postgres`,
//! `migrations/mysql`). Stopped and removed on drop, also when the test fails. A missing server is a
//! failure, never a skip (scripts/lib/db-servers.sh installs them).

use crate::util::engine::free_port;
use crate::util::poll;
use crate::util::run;
use ozrepair_standin::dbseed;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// The password of the `dex` user on every test server.
pub const DEX_PASSWORD: &str = "dex-db-password-7c1e-never-print";
/// The superuser's (postgres, root) password.
const ADMIN_PASSWORD: &str = "admin-db-password-4b2a-never-print";

/// Which server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavour {
    Postgres,
    Mariadb,
}

fn fresh_dir(kind: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = PathBuf::from(format!(
        "/tmp/ozr-db/{kind}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("sock")).expect("server dir");
    dir
}

fn chown_r(dir: &Path, user: &str) {
    let out = run::output(Command::new("chown").args(["-R", user]).arg(dir));
    assert!(out.status.success(), "chown: {}", out.stderr_text());
}

fn ok(what: &str, cmd: &mut Command) -> String {
    let out = run::output_within(cmd, Duration::from_secs(120));
    assert!(
        out.status.success(),
        "{what} failed: {}{}",
        out.stdout_text(),
        out.stderr_text()
    );
    out.stdout_text()
}

/// A private server.
pub struct DbServer {
    pub flavour: Flavour,
    dir: PathBuf,
    pub port: u16,
    bin: PathBuf,
    /// mariadbd, a child of the test: killed and waited for (a zombie would still be in /proc).
    child: std::sync::Mutex<Option<std::process::Child>>,
}

impl DbServer {
    /// A PostgreSQL server with Dex v2.45's schema (13 migrations) in database `dex`.
    pub fn postgres() -> DbServer {
        DbServer::postgres_at(13)
    }

    pub fn postgres_at(level: usize) -> DbServer {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .ok()
            .and_then(|rd| {
                let mut v: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path().join("bin"))).collect();
                v.sort();
                v.pop()
            })
            .filter(|b| b.join("initdb").exists())
            .expect("no PostgreSQL server (/usr/lib/postgresql/*/bin/initdb): scripts/lib/db-servers.sh installs Debian's postgresql");
        let dir = fresh_dir("pg");
        std::fs::write(dir.join("pw"), ADMIN_PASSWORD).expect("pwfile");
        chown_r(&dir, "postgres");
        ok(
            "initdb",
            Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(bin.join("initdb"))
                .arg("-D")
                .arg(dir.join("data"))
                .args([
                    "-U",
                    "postgres",
                    "--auth-local=scram-sha-256",
                    "--auth-host=scram-sha-256",
                    "--no-sync",
                ])
                .arg(format!("--pwfile={}", dir.join("pw").display())),
        );
        let s = DbServer {
            flavour: Flavour::Postgres,
            dir,
            port: free_port(),
            bin,
            child: std::sync::Mutex::new(None),
        };
        s.start_again();
        let mut admin = s.admin_pg();
        for q in [
            format!("create role dex login password '{DEX_PASSWORD}'"),
            "create database dex owner dex".to_string(),
        ] {
            admin
                .batch_execute(&q)
                .expect("create the dex role and database");
        }
        let mut dex = s.pg();
        dbseed::pg_schema(&mut dex, level).expect("Dex's PostgreSQL schema");
        s
    }

    /// A MariaDB server with Dex v2.45's MySQL schema (14 migrations) in database `dex`.
    pub fn mariadb() -> DbServer {
        let bin = PathBuf::from("/usr/sbin/mariadbd");
        assert!(bin.exists(), "no MariaDB server (/usr/sbin/mariadbd): scripts/lib/db-servers.sh installs Debian's mariadb-server");
        let dir = fresh_dir("my");
        chown_r(&dir, "mysql");
        ok(
            "mariadb-install-db",
            Command::new("mariadb-install-db")
                .args([
                    "--no-defaults",
                    "--user=mysql",
                    "--auth-root-authentication-method=normal",
                    "--skip-test-db",
                ])
                .arg(format!("--datadir={}", dir.join("data").display())),
        );
        let s = DbServer {
            flavour: Flavour::Mariadb,
            dir,
            port: free_port(),
            bin,
            child: std::sync::Mutex::new(None),
        };
        s.start_again();
        let mut root = s.admin_my();
        use mysql::prelude::Queryable;
        for q in [
            format!("create user 'dex'@'localhost' identified by '{DEX_PASSWORD}'"),
            format!("create user 'dex'@'127.0.0.1' identified by '{DEX_PASSWORD}'"),
            "create database dex".to_string(),
            "grant all on dex.* to 'dex'@'localhost'".to_string(),
            "grant all on dex.* to 'dex'@'127.0.0.1'".to_string(),
            format!("alter user 'root'@'localhost' identified by '{ADMIN_PASSWORD}'"),
        ] {
            root.query_drop(q)
                .expect("set up the dex user and database");
        }
        let mut dex = s.my();
        dbseed::mysql_schema(&mut dex, 14).expect("Dex's MySQL schema");
        s
    }

    /// Database `dex` made afresh (dropped, created, Dex's schema), for the next deployment.
    pub fn reset(&self) {
        match self.flavour {
            Flavour::Postgres => {
                let mut admin = self.admin_pg();
                for q in [
                    "drop database if exists dex with (force)",
                    "create database dex owner dex",
                ] {
                    admin.batch_execute(q).expect("recreate dex");
                }
                dbseed::pg_schema(&mut self.pg(), 13).expect("Dex's PostgreSQL schema");
            }
            Flavour::Mariadb => {
                use mysql::prelude::Queryable;
                self.admin_my()
                    .query_drop("drop database if exists dex")
                    .expect("drop dex");
                self.admin_my()
                    .query_drop("create database dex")
                    .expect("create dex");
                dbseed::mysql_schema(&mut self.my(), 14).expect("Dex's MySQL schema");
            }
        }
    }

    /// The directory of its Unix socket (PostgreSQL's socket directory; MariaDB's `mysqld.sock` is in it).
    pub fn sock_dir(&self) -> PathBuf {
        self.dir.join("sock")
    }

    /// Starts it (again), and waits until it answers.
    pub fn start_again(&self) {
        match self.flavour {
            Flavour::Postgres => {
                ok(
                    "pg_ctl start",
                    Command::new("runuser").args(["-u", "postgres", "--"]).arg(self.bin.join("pg_ctl"))
                        .arg("-D").arg(self.dir.join("data")).arg("-l").arg(self.dir.join("log"))
                        .args(["-w", "-t", "60", "-o"])
                        .arg(format!(
                            "-c listen_addresses=127.0.0.1 -p {} -c unix_socket_directories={} -c fsync=off -c max_connections=40 -c shared_buffers=16MB",
                            self.port,
                            self.sock_dir().display()
                        ))
                        .arg("start"),
                );
            }
            Flavour::Mariadb => {
                let log = std::fs::File::create(self.dir.join("out.log")).expect("log");
                let child = Command::new(&self.bin)
                    .arg("--no-defaults")
                    .arg(format!("--datadir={}", self.dir.join("data").display()))
                    .arg(format!(
                        "--socket={}",
                        self.sock_dir().join("mysqld.sock").display()
                    ))
                    .arg(format!("--port={}", self.port))
                    .arg(format!(
                        "--pid-file={}",
                        self.dir.join("mysqld.pid").display()
                    ))
                    .arg(format!(
                        "--log-error={}",
                        self.dir.join("err.log").display()
                    ))
                    .args([
                        "--bind-address=127.0.0.1",
                        "--user=mysql",
                        "--skip-name-resolve",
                        "--innodb-buffer-pool-size=16M",
                        "--max-connections=40",
                        "--skip-log-bin",
                    ])
                    .stdin(std::process::Stdio::null())
                    .stdout(log.try_clone().expect("log"))
                    .stderr(log)
                    .spawn()
                    .expect("start mariadbd");
                *self.child.lock().unwrap_or_else(|e| e.into_inner()) = Some(child);
                poll("MariaDB to answer", Duration::from_secs(60), || {
                    let o = mysql::OptsBuilder::new()
                        .socket(Some(
                            self.sock_dir().join("mysqld.sock").display().to_string(),
                        ))
                        .user(Some("root"))
                        .pass(Some(ADMIN_PASSWORD));
                    let o2 = mysql::OptsBuilder::new()
                        .socket(Some(
                            self.sock_dir().join("mysqld.sock").display().to_string(),
                        ))
                        .user(Some("root"));
                    (mysql::Conn::new(o).is_ok() || mysql::Conn::new(o2).is_ok()).then_some(())
                });
            }
        }
    }

    /// Kills it at once (as a crash: no clean shutdown), and waits until it is gone.
    pub fn kill(&self) {
        match self.flavour {
            Flavour::Postgres => {
                let _ = run::output(
                    Command::new("runuser")
                        .args(["-u", "postgres", "--"])
                        .arg(self.bin.join("pg_ctl"))
                        .arg("-D")
                        .arg(self.dir.join("data"))
                        .args(["-m", "immediate", "-w", "stop"]),
                );
            }
            Flavour::Mariadb => {
                if let Some(mut c) = self.child.lock().unwrap_or_else(|e| e.into_inner()).take() {
                    let _ = c.kill();
                    let _ = c.wait();
                }
                let _ = std::fs::remove_file(self.dir.join("mysqld.pid"));
            }
        }
    }

    fn admin_pg(&self) -> postgres::Client {
        postgres::Config::new()
            .host_path(self.sock_dir())
            .port(self.port)
            .user("postgres")
            .password(ADMIN_PASSWORD)
            .dbname("postgres")
            .connect(postgres::NoTls)
            .expect("connect as postgres")
    }

    fn admin_my(&self) -> mysql::Conn {
        let sock = self.sock_dir().join("mysqld.sock").display().to_string();
        mysql::Conn::new(
            mysql::OptsBuilder::new()
                .socket(Some(sock.clone()))
                .user(Some("root"))
                .pass(Some(ADMIN_PASSWORD)),
        )
        .or_else(|_| {
            mysql::Conn::new(
                mysql::OptsBuilder::new()
                    .socket(Some(sock))
                    .user(Some("root")),
            )
        })
        .expect("connect as root")
    }

    /// A connection as `dex` to database `dex` (PostgreSQL).
    pub fn pg(&self) -> postgres::Client {
        postgres::Config::new()
            .host_path(self.sock_dir())
            .port(self.port)
            .user("dex")
            .password(DEX_PASSWORD)
            .dbname("dex")
            .connect(postgres::NoTls)
            .expect("connect as dex")
    }

    /// A connection as `dex` to database `dex` (MariaDB).
    pub fn my(&self) -> mysql::Conn {
        mysql::Conn::new(
            mysql::OptsBuilder::new()
                .socket(Some(
                    self.sock_dir().join("mysqld.sock").display().to_string(),
                ))
                .user(Some("dex"))
                .pass(Some(DEX_PASSWORD))
                .db_name(Some("dex")),
        )
        .expect("connect as dex")
    }

    /// Inserts a connector row.
    pub fn insert(&self, r: &dbseed::Row) {
        match self.flavour {
            Flavour::Postgres => dbseed::pg_insert(&mut self.pg(), r).expect("insert"),
            Flavour::Mariadb => dbseed::mysql_insert(&mut self.my(), r).expect("insert"),
        }
    }

    /// Every connector row (id, resource_version, config bytes), by id.
    pub fn rows(&self) -> dbseed::Rows {
        match self.flavour {
            Flavour::Postgres => dbseed::pg_rows(&mut self.pg()).expect("rows"),
            Flavour::Mariadb => dbseed::mysql_rows(&mut self.my()).expect("rows"),
        }
    }

    /// lib/pq's or go-sql-driver's DSN for the Go checker (over TCP, no TLS).
    pub fn go_dsn(&self, database: &str) -> String {
        match self.flavour {
            Flavour::Postgres => format!(
                "host=127.0.0.1 port={} user=dex password={DEX_PASSWORD} dbname={database} sslmode=disable",
                self.port
            ),
            Flavour::Mariadb => format!("dex:{DEX_PASSWORD}@tcp(127.0.0.1:{})/{database}", self.port),
        }
    }
}

impl Drop for DbServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
