//! PostgreSQL (Dex's `postgres` storage, NetBird's `authStore` with engine postgres): the statements
//! ozrepair runs, through the `postgres` crate (TLS by rustls, see [`super::tls`]). Reads are one
//! `REPEATABLE READ READ ONLY` transaction (the server refuses any write in it); writes one
//! `SERIALIZABLE` transaction, as Dex's own are, each statement guarded by the bytes read. `config` and
//! `hash` are `bytea`, bound and read as bytes.

use super::{PasswordRow, Snapshot, TxError, CONNECT_TIMEOUT};
use crate::dex::password::{LocalUser, LOCAL_CONNECTOR};
use crate::dex::{ConnectorRow, Schema, Storage};
use crate::dsn::{Security, Server};
use crate::fault::{self, Point};
use crate::store::{Edit, Found, NewRow};
use anyhow::{anyhow, Result};
use postgres::config::SslMode;
use postgres::{Client, IsolationLevel, Transaction};
use std::time::Duration;

pub struct Pg {
    client: Client,
    shown: String,
}

/// One line for a failed connection: what happened, without the connection string.
fn why(e: &postgres::Error, s: &Server) -> String {
    if let Some(db) = e.as_db_error() {
        return match db.code().code() {
            "28P01" => format!("the server refused the password of user {:?}", s.user),
            "28000" => format!("the server refuses this connection ({})", db.message()),
            "3D000" => format!("there is no database {:?} on the server", s.database),
            "53300" => "the server has no connection slot left".into(),
            _ => db.message().to_string(),
        };
    }
    let mut chain = Vec::new();
    let mut cur: Option<&dyn std::error::Error> = Some(e);
    while let Some(c) = cur {
        chain.push(c.to_string());
        if let Some(io) = c.downcast_ref::<std::io::Error>() {
            match io.kind() {
                std::io::ErrorKind::ConnectionRefused => {
                    return "the connection was refused (no server listens there)".into()
                }
                std::io::ErrorKind::NotFound => {
                    return format!("there is no server socket in {}", s.host)
                }
                std::io::ErrorKind::TimedOut => return "the connection timed out".into(),
                _ => {}
            }
        }
        cur = c.source();
    }
    let all = chain.join(": ");
    if all.contains("timed out") || all.contains("timeout") {
        "the connection timed out".into()
    } else if all.contains("does not support TLS") {
        "the server does not offer TLS, which the connection requires (Dex's default, sslmode verify-full, when none is set)".into()
    } else if all.contains("certificate")
        || all.contains("Certificate")
        || all.contains("tls")
        || all.contains("TLS")
    {
        format!("TLS failed ({all})")
    } else {
        all
    }
}

impl Pg {
    pub fn connect(s: &Server) -> Result<Pg> {
        let mut c = postgres::Config::new();
        c.host(&s.host)
            .port(s.port)
            .dbname(&s.database)
            .user(&s.user)
            .application_name("ozrepair")
            .connect_timeout(Duration::from_secs(
                s.connect_timeout.unwrap_or(CONNECT_TIMEOUT),
            ));
        if !s.password.is_empty() {
            c.password(s.password.expose());
        }
        let shown = s.shown();
        let fail = |w: String| {
            anyhow!(
                "cannot reach the Dex store {shown} (from {}): {w}; nothing was changed; check the server and the settings in {}, or give a connection with --dsn-file",
                s.from,
                s.from
            )
        };
        // libpq never uses TLS on a Unix socket.
        let security = if s.is_socket() {
            Security::Plain
        } else {
            s.security().map_err(|e| fail(format!("{e:#}")))?
        };
        let client = match super::tls::client_config(s).map_err(|e| fail(format!("{e:#}")))? {
            Some(cfg) if security != Security::Plain => {
                c.ssl_mode(if security == Security::Prefer {
                    SslMode::Prefer
                } else {
                    SslMode::Require
                });
                c.connect(tokio_postgres_rustls::MakeRustlsConnect::new(cfg))
            }
            _ => {
                c.ssl_mode(SslMode::Disable);
                c.connect(postgres::NoTls)
            }
        }
        .map_err(|e| fail(why(&e, s)))?;
        Ok(Pg { client, shown })
    }

    fn read_tx(&mut self) -> Result<Transaction<'_>> {
        Ok(self
            .client
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()?)
    }

    fn write_tx(&mut self) -> Result<Transaction<'_>> {
        Ok(self
            .client
            .build_transaction()
            .isolation_level(IsolationLevel::Serializable)
            .start()?)
    }
}

fn not_dex(shown: &str, why: impl std::fmt::Display) -> anyhow::Error {
    anyhow!("{shown} is not a Dex database this tool understands ({why}); nothing was changed; check the database the configuration names")
}

fn tables(tx: &mut Transaction<'_>) -> Result<Vec<String>> {
    Ok(tx
        .query(
            "select table_name::text from information_schema.tables where table_schema = current_schema()",
            &[],
        )?
        .iter()
        .map(|r| r.get::<_, String>(0))
        .collect())
}

/// The schema, checked as Dex's: a `connector` table (a plain table, no trigger or rule) with its
/// columns, `config` bytea, and a `migrations` table.
fn schema(tx: &mut Transaction<'_>, shown: &str) -> Result<(Schema, Vec<String>)> {
    let t = tables(tx)?;
    if !t.iter().any(|x| x == "connector") {
        if t.iter().any(|x| x == "connectors") {
            return Err(not_dex(shown, "it uses Dex's ent storage (a `connectors` table), which this version does not edit"));
        }
        return Err(not_dex(
            shown,
            if t.is_empty() {
                "it has no tables at all".to_string()
            } else {
                format!("no `connector` table among its {} tables", t.len())
            },
        ));
    }
    if !t.iter().any(|x| x == "migrations") {
        return Err(not_dex(shown, "no `migrations` table"));
    }
    let cols: Vec<(String, String)> = tx
        .query(
            "select column_name::text, data_type::text from information_schema.columns where table_schema = current_schema() and table_name = 'connector'",
            &[],
        )?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    for need in ["id", "type", "name", "resource_version", "config"] {
        if !cols.iter().any(|(c, _)| c == need) {
            return Err(not_dex(
                shown,
                format!("the connector table has no `{need}` column"),
            ));
        }
    }
    if let Some((_, ty)) = cols.iter().find(|(c, _)| c == "config") {
        if ty != "bytea" {
            return Err(not_dex(
                shown,
                format!("connector.config is {ty}, not bytea as Dex creates it"),
            ));
        }
    }
    let shape: Option<(String, i64, i64)> = tx
        .query_opt(
            "select c.relkind::text,
                    (select count(*) from pg_trigger t where t.tgrelid = c.oid and not t.tgisinternal),
                    (select count(*) from pg_rewrite w where w.ev_class = c.oid)
             from pg_class c where c.oid = to_regclass('connector')",
            &[],
        )?
        .map(|r| (r.get(0), r.get(1), r.get(2)));
    match shape {
        Some((kind, _, _)) if kind != "r" => {
            return Err(not_dex(shown, "the connector table is not a plain table, a shape Dex never creates"))
        }
        Some((_, trig, _)) if trig > 0 => {
            return Err(not_dex(shown, format!("the connector table has {trig} trigger(s), which Dex never creates and which an edit would set off; remove them by hand if they are not meant to be there")))
        }
        Some((_, _, rules)) if rules > 0 => {
            return Err(not_dex(shown, "the connector table has a rule, which Dex never creates"))
        }
        _ => {}
    }
    let migrations: Option<i64> = tx
        .query_one("select max(num)::bigint from migrations", &[])?
        .get(0);
    Ok((
        Schema {
            migrations: migrations.unwrap_or(0),
            has_grant_types: cols.iter().any(|(c, _)| c == "grant_types"),
            flavour_only: 0,
        },
        t,
    ))
}

fn connectors(tx: &mut Transaction<'_>) -> Result<Vec<ConnectorRow>> {
    Ok(tx
        .query(
            "select id::text, type::text, name::text, resource_version::text, config from connector order by id",
            &[],
        )?
        .iter()
        .map(|r| {
            let config: Option<Vec<u8>> = r.get(4);
            ConnectorRow {
                id: r.get::<_, &str>(0).into(),
                typ: r.get::<_, &str>(1).into(),
                name: r.get::<_, &str>(2).into(),
                resource_version: r.get(3),
                storage: if config.is_some() { Storage::Blob } else { Storage::Null },
                config,
            }
        })
        .collect())
}

fn has(tables: &[String], t: &str) -> bool {
    tables.iter().any(|x| x == t)
}

fn sessions(tx: &mut Transaction<'_>, tables: &[String], user_id: &str) -> Result<usize> {
    if !has(tables, "auth_session") {
        return Ok(0);
    }
    let n: i64 = tx
        .query_one(
            "select count(*) from auth_session where user_id = $1 and connector_id = $2",
            &[&user_id, &LOCAL_CONNECTOR],
        )?
        .get(0);
    Ok(usize::try_from(n).unwrap_or(0))
}

fn commit(tx: Transaction<'_>) -> Result<(), TxError> {
    fault::point(Point::InsideWrite);
    tx.commit()
        .map_err(|e| TxError::Commit(anyhow!("the commit got no answer ({e})")))
}

impl super::Db for Pg {
    fn snapshot(&mut self, passwords: bool) -> Result<Snapshot> {
        let shown = self.shown.clone();
        let mut tx = self.read_tx()?;
        let (schema, t) = schema(&mut tx, &shown)?;
        let rows = connectors(&mut tx)?;
        let passwords = if passwords && has(&t, "password") {
            tx.query(
                "select email::text, user_id::text, hash from password order by email",
                &[],
            )?
            .iter()
            .map(|r| PasswordRow {
                email: r.get(0),
                user_id: r.get(1),
                hash: r.get(2),
            })
            .collect()
        } else {
            Vec::new()
        };
        tx.commit()?;
        Ok(Snapshot {
            schema,
            rows,
            passwords,
        })
    }

    fn find_user(&mut self, email: &str) -> Result<Found> {
        let mut tx = self.read_tx()?;
        let t = tables(&mut tx)?;
        if !has(&t, "password") {
            return Ok(Found::Missing { users: 0 });
        }
        let row = tx.query_opt(
            "select user_id::text, hash from password where email = $1",
            &[&email],
        )?;
        let found = match row {
            Some(r) => {
                let user_id: String = r.get(0);
                Found::User(LocalUser {
                    email: email.to_string(),
                    sessions: sessions(&mut tx, &t, &user_id)?,
                    user_id,
                    hash: r.get(1),
                })
            }
            None => {
                let n: i64 = tx.query_one("select count(*) from password", &[])?.get(0);
                Found::Missing {
                    users: usize::try_from(n).unwrap_or(0),
                }
            }
        };
        tx.commit()?;
        Ok(found)
    }

    fn write_rows(&mut self, edits: &[Edit], new: &[NewRow]) -> Result<(), TxError> {
        let mut tx = self.write_tx()?;
        for e in edits {
            let n = tx
                .execute(
                    "update connector set config = $1, resource_version = $2 where id = $3 and config = $4",
                    &[&e.after, &e.resource_version, &e.id, &e.before],
                )
                .map_err(anyhow::Error::from)?;
            if n != 1 {
                return Err(TxError::Before(anyhow!(
                    "connector {} changed after it was read (the guarded update touched {n} rows); rolled back",
                    e.id
                )));
            }
        }
        for r in new {
            let n = tx
                .execute(
                    "insert into connector (id, type, name, resource_version, config) select $1::text, $2::text, $3::text, '', null where not exists (select 1 from connector where id = $1::text)",
                    &[&r.id, &r.typ, &r.name],
                )
                .map_err(anyhow::Error::from)?;
            if n != 1 {
                return Err(TxError::Before(anyhow!(
                    "connector {} appeared after the database was read; rolled back",
                    r.id
                )));
            }
        }
        commit(tx)
    }

    fn write_password(&mut self, user: &LocalUser, hash: &[u8]) -> Result<usize, TxError> {
        let mut tx = self.write_tx()?;
        let t = tables(&mut tx)?;
        let n = tx
            .execute(
                "update password set hash = $1 where email = $2 and user_id = $3 and hash = $4",
                &[&hash, &user.email, &user.user_id, &user.hash],
            )
            .map_err(anyhow::Error::from)?;
        if n != 1 {
            return Err(TxError::Before(anyhow!(
                "the password row of {} changed after it was read; rolled back",
                user.email
            )));
        }
        let removed = if has(&t, "auth_session") {
            tx.execute(
                "delete from auth_session where user_id = $1 and connector_id = $2",
                &[&user.user_id, &LOCAL_CONNECTOR],
            )
            .map_err(anyhow::Error::from)? as usize
        } else {
            0
        };
        commit(tx)?;
        Ok(removed)
    }

    fn restore(&mut self, saved: &super::set::Saved) -> Result<(), TxError> {
        let mut tx = self.write_tx()?;
        let ids: Vec<String> = saved.connector.iter().map(|c| c.id.clone()).collect();
        tx.execute(
            "delete from connector where not (id::text = any($1))",
            &[&ids],
        )
        .map_err(anyhow::Error::from)?;
        for c in &saved.connector {
            let config = c.bytes()?;
            let n = tx
                .execute(
                    "update connector set type = $2, name = $3, resource_version = $4, config = $5 where id = $1",
                    &[&c.id, &c.typ, &c.name, &c.resource_version, &config],
                )
                .map_err(anyhow::Error::from)?;
            if n == 0 {
                tx.execute(
                    "insert into connector (id, type, name, resource_version, config) values ($1, $2, $3, $4, $5)",
                    &[&c.id, &c.typ, &c.name, &c.resource_version, &config],
                )
                .map_err(anyhow::Error::from)?;
            }
        }
        for p in &saved.password {
            let hash = p.bytes()?;
            tx.execute(
                "update password set hash = $1 where email = $2",
                &[&hash, &p.email],
            )
            .map_err(anyhow::Error::from)?;
        }
        commit(tx)
    }

    fn sessions(&mut self, user_id: &str) -> Result<usize> {
        let mut tx = self.read_tx()?;
        let t = tables(&mut tx)?;
        let n = sessions(&mut tx, &t, user_id)?;
        tx.commit()?;
        Ok(n)
    }

    fn try_lock(&mut self) -> Result<bool> {
        let got: bool = self
            .client
            .query_one(
                "select pg_try_advisory_lock(hashtext('ozrepair:dex:' || current_database() || ':' || current_schema()))",
                &[],
            )?
            .get(0);
        Ok(got)
    }
}
