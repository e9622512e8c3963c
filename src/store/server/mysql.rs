//! MySQL/MariaDB (Dex's `mysql` storage, openZro's Helm chart): the statements ozrepair runs, through the
//! `mysql` crate (TLS by rustls). Reads are one read-only transaction; writes one `SERIALIZABLE`
//! transaction (Dex's own isolation there), each statement guarded by the bytes read. `config` and `hash`
//! are `blob`s, bound and read as bytes. The connection reports found rows (CLIENT_FOUND_ROWS), so a
//! guarded update counts the row it matched.

use super::{PasswordRow, Snapshot, TxError, CONNECT_TIMEOUT};
use crate::dex::password::{LocalUser, LOCAL_CONNECTOR};
use crate::dex::{ConnectorRow, Schema, Storage};
use crate::dsn::{Security, Server};
use crate::fault::{self, Point};
use crate::store::{Edit, Found, NewRow};
use anyhow::{anyhow, Result};
use mysql::prelude::Queryable;
use mysql::{AccessMode, Conn, IsolationLevel, OptsBuilder, SslOpts, Transaction, TxOpts, Value};
use std::time::Duration;

pub struct My {
    conn: Conn,
    shown: String,
}

fn why(e: &mysql::Error, s: &Server) -> String {
    match e {
        mysql::Error::MySqlError(m) => match m.code {
            1045 => format!("the server refused the password of user {:?}", s.user),
            1044 | 1049 => format!(
                "there is no database {:?} the user may use ({})",
                s.database, m.message
            ),
            3159 => "the server requires TLS for this user (require_secure_transport)".into(),
            _ => m.message.clone(),
        },
        mysql::Error::IoError(io) => match io.kind() {
            std::io::ErrorKind::ConnectionRefused => {
                "the connection was refused (no server listens there)".into()
            }
            std::io::ErrorKind::NotFound => format!("there is no server socket at {}", s.host),
            std::io::ErrorKind::TimedOut => "the connection timed out".into(),
            _ => format!("{io}"),
        },
        mysql::Error::DriverError(d) => {
            let t = d.to_string();
            if t.contains("TLS") || t.contains("SSL") {
                format!("TLS failed: the server does not offer it, which the connection requires (Dex's default, tls=true, when no ssl.mode is set) ({t})")
            } else {
                t
            }
        }
        other => {
            let t = other.to_string();
            if t.to_ascii_lowercase().contains("certificate") {
                format!("TLS failed ({t})")
            } else {
                t
            }
        }
    }
}

impl My {
    pub fn connect(s: &Server) -> Result<My> {
        let shown = s.shown();
        let fail = |w: String| {
            anyhow!(
                "cannot reach the Dex store {shown} (from {}): {w}; nothing was changed; check the server and the settings in {}, or give a connection with --dsn-file",
                s.from,
                s.from
            )
        };
        let mut b = OptsBuilder::new()
            .user(Some(s.user.clone()))
            .pass((!s.password.is_empty()).then(|| s.password.expose().to_string()))
            .db_name(Some(s.database.clone()))
            .prefer_socket(false)
            .tcp_connect_timeout(Some(Duration::from_secs(
                s.connect_timeout.unwrap_or(CONNECT_TIMEOUT),
            )))
            .read_timeout(Some(Duration::from_secs(120)))
            .additional_capabilities(mysql::consts::CapabilityFlags::CLIENT_FOUND_ROWS);
        if s.is_socket() {
            b = b.socket(Some(s.host.clone()));
        } else {
            b = b.ip_or_hostname(Some(s.host.clone())).tcp_port(s.port);
        }
        let security = if s.is_socket() {
            Security::Plain
        } else {
            s.security().map_err(|e| fail(format!("{e:#}")))?
        };
        let tls = |accept_any: bool| {
            let mut o = SslOpts::default()
                .with_danger_accept_invalid_certs(accept_any)
                .with_danger_skip_domain_validation(accept_any || security == Security::VerifyCa);
            if let Some(ca) = &s.tls.ca_file {
                o = o.with_root_cert_path(Some(ca.clone()));
            }
            if let (Some(c), Some(k)) = (&s.tls.cert_file, &s.tls.key_file) {
                o = o.with_client_identity(Some(mysql::ClientIdentity::new(c.clone(), k.clone())));
            }
            o
        };
        let conn = match security {
            Security::Plain => Conn::new(b),
            Security::Unverified => Conn::new(b.ssl_opts(tls(true))),
            Security::VerifyCa | Security::VerifyFull => Conn::new(b.ssl_opts(tls(false))),
            // go-sql-driver's `preferred`: TLS when the server offers it, unverified.
            Security::Prefer => Conn::new(b.clone().ssl_opts(tls(true))).or_else(|_| Conn::new(b)),
        }
        .map_err(|e| fail(why(&e, s)))?;
        Ok(My { conn, shown })
    }

    fn read_tx(&mut self) -> Result<Transaction<'_>> {
        Ok(self.conn.start_transaction(
            TxOpts::default()
                .set_isolation_level(Some(IsolationLevel::RepeatableRead))
                .set_access_mode(Some(AccessMode::ReadOnly)),
        )?)
    }

    fn write_tx(&mut self) -> Result<Transaction<'_>> {
        Ok(self.conn.start_transaction(
            TxOpts::default().set_isolation_level(Some(IsolationLevel::Serializable)),
        )?)
    }
}

fn not_dex(shown: &str, why: impl std::fmt::Display) -> anyhow::Error {
    anyhow!("{shown} is not a Dex database this tool understands ({why}); nothing was changed; check the database the configuration names")
}

fn tables(tx: &mut Transaction<'_>) -> Result<Vec<String>> {
    Ok(tx.query(
        "select cast(table_name as char) from information_schema.tables where table_schema = database()",
    )?)
}

fn has(t: &[String], name: &str) -> bool {
    t.iter().any(|x| x == name)
}

fn schema(tx: &mut Transaction<'_>, shown: &str) -> Result<(Schema, Vec<String>)> {
    let t = tables(tx)?;
    if !has(&t, "connector") {
        if has(&t, "connectors") {
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
    if !has(&t, "migrations") {
        return Err(not_dex(shown, "no `migrations` table"));
    }
    let cols: Vec<(String, String)> = tx.query(
        "select cast(column_name as char), cast(data_type as char) from information_schema.columns where table_schema = database() and table_name = 'connector'",
    )?;
    for need in ["id", "type", "name", "resource_version", "config"] {
        if !cols.iter().any(|(c, _)| c == need) {
            return Err(not_dex(
                shown,
                format!("the connector table has no `{need}` column"),
            ));
        }
    }
    if let Some((_, ty)) = cols.iter().find(|(c, _)| c == "config") {
        if !ty.ends_with("blob") && ty != "varbinary" {
            return Err(not_dex(
                shown,
                format!("connector.config is {ty}, not a blob as Dex creates it"),
            ));
        }
    }
    let triggers: Option<i64> = tx.query_first(
        "select count(*) from information_schema.triggers where trigger_schema = database() and event_object_table = 'connector'",
    )?;
    if triggers.unwrap_or(0) > 0 {
        return Err(not_dex(shown, "the connector table has a trigger, which Dex never creates and which an edit would set off; remove it by hand if it is not meant to be there"));
    }
    let kind: Option<String> = tx.query_first(
        "select cast(table_type as char) from information_schema.tables where table_schema = database() and table_name = 'connector'",
    )?;
    if kind.as_deref() != Some("BASE TABLE") {
        return Err(not_dex(
            shown,
            "the connector table is not a plain table, a shape Dex never creates",
        ));
    }
    let migrations: Option<Option<i64>> =
        tx.query_first("select cast(max(num) as signed) from migrations")?;
    let migrations = migrations.flatten().unwrap_or(0);
    Ok((
        Schema {
            migrations,
            has_grant_types: cols.iter().any(|(c, _)| c == "grant_types"),
            // MySQL-only #7 (auth_request.state widened): its numbers run one ahead from there.
            flavour_only: i64::from(migrations >= 7),
        },
        t,
    ))
}

fn text(v: Value) -> String {
    match v {
        Value::Bytes(b) => String::from_utf8_lossy(&b).into_owned(),
        Value::NULL => String::new(),
        other => other.as_sql(true),
    }
}

fn connectors(tx: &mut Transaction<'_>) -> Result<Vec<ConnectorRow>> {
    let rows: Vec<mysql::Row> =
        tx.query("select id, type, name, resource_version, config from connector order by id")?;
    rows.into_iter()
        .map(|mut r| {
            let get = |r: &mut mysql::Row, i: usize| r.take::<Value, _>(i).unwrap_or(Value::NULL);
            let config = match get(&mut r, 4) {
                Value::Bytes(b) => Some(b),
                Value::NULL => None,
                other => Some(other.as_sql(true).into_bytes()),
            };
            Ok(ConnectorRow {
                id: text(get(&mut r, 0)).into(),
                typ: text(get(&mut r, 1)).into(),
                name: text(get(&mut r, 2)).into(),
                resource_version: text(get(&mut r, 3)),
                storage: if config.is_some() {
                    Storage::Blob
                } else {
                    Storage::Null
                },
                config,
            })
        })
        .collect()
}

fn sessions(tx: &mut Transaction<'_>, t: &[String], user_id: &str) -> Result<usize> {
    if !has(t, "auth_session") {
        return Ok(0);
    }
    let n: Option<i64> = tx.exec_first(
        "select count(*) from auth_session where user_id = ? and connector_id = ?",
        (user_id, LOCAL_CONNECTOR),
    )?;
    Ok(usize::try_from(n.unwrap_or(0)).unwrap_or(0))
}

fn commit(tx: Transaction<'_>) -> Result<(), TxError> {
    fault::point(Point::InsideWrite);
    tx.commit()
        .map_err(|e| TxError::Commit(anyhow!("the commit got no answer ({e})")))
}

fn bytes(v: &[u8]) -> Value {
    Value::Bytes(v.to_vec())
}

impl super::Db for My {
    fn snapshot(&mut self, passwords: bool) -> Result<Snapshot> {
        let shown = self.shown.clone();
        let mut tx = self.read_tx()?;
        let (schema, t) = schema(&mut tx, &shown)?;
        let rows = connectors(&mut tx)?;
        let passwords = if passwords && has(&t, "password") {
            let rows: Vec<(Value, Value, Vec<u8>)> =
                tx.query("select email, user_id, hash from password order by email")?;
            rows.into_iter()
                .map(|(e, u, h)| PasswordRow {
                    email: text(e),
                    user_id: text(u),
                    hash: h,
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
        let row: Option<(Value, Vec<u8>)> = tx.exec_first(
            "select user_id, hash from password where email = ?",
            (email,),
        )?;
        let found = match row {
            Some((uid, hash)) => {
                let user_id = text(uid);
                Found::User(LocalUser {
                    email: email.to_string(),
                    sessions: sessions(&mut tx, &t, &user_id)?,
                    user_id,
                    hash,
                })
            }
            None => {
                let n: Option<i64> = tx.query_first("select count(*) from password")?;
                Found::Missing {
                    users: usize::try_from(n.unwrap_or(0)).unwrap_or(0),
                }
            }
        };
        tx.commit()?;
        Ok(found)
    }

    fn write_rows(&mut self, edits: &[Edit], new: &[NewRow]) -> Result<(), TxError> {
        let mut tx = self.write_tx()?;
        for e in edits {
            tx.exec_drop(
                "update connector set config = ?, resource_version = ? where id = ? and config = ?",
                (
                    bytes(&e.after),
                    &e.resource_version,
                    &e.id,
                    bytes(&e.before),
                ),
            )
            .map_err(anyhow::Error::from)?;
            let n = tx.affected_rows();
            if n != 1 {
                return Err(TxError::Before(anyhow!(
                    "connector {} changed after it was read (the guarded update touched {n} rows); rolled back",
                    e.id
                )));
            }
        }
        for r in new {
            tx.exec_drop(
                "insert into connector (id, type, name, resource_version, config) select ?, ?, ?, '', null from dual where not exists (select 1 from connector where id = ?)",
                (&r.id, &r.typ, &r.name, &r.id),
            )
            .map_err(anyhow::Error::from)?;
            if tx.affected_rows() != 1 {
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
        tx.exec_drop(
            "update password set hash = ? where email = ? and user_id = ? and hash = ?",
            (bytes(hash), &user.email, &user.user_id, bytes(&user.hash)),
        )
        .map_err(anyhow::Error::from)?;
        if tx.affected_rows() != 1 {
            return Err(TxError::Before(anyhow!(
                "the password row of {} changed after it was read; rolled back",
                user.email
            )));
        }
        let removed = if has(&t, "auth_session") {
            tx.exec_drop(
                "delete from auth_session where user_id = ? and connector_id = ?",
                (&user.user_id, LOCAL_CONNECTOR),
            )
            .map_err(anyhow::Error::from)?;
            tx.affected_rows() as usize
        } else {
            0
        };
        commit(tx)?;
        Ok(removed)
    }

    fn restore(&mut self, saved: &super::set::Saved) -> Result<(), TxError> {
        let mut tx = self.write_tx()?;
        let ids: Vec<String> = tx
            .query("select id from connector")
            .map_err(anyhow::Error::from)?;
        for id in ids {
            if !saved.connector.iter().any(|c| c.id == id) {
                tx.exec_drop("delete from connector where id = ?", (&id,))
                    .map_err(anyhow::Error::from)?;
            }
        }
        for c in &saved.connector {
            let config = match c.bytes()? {
                Some(b) => Value::Bytes(b),
                None => Value::NULL,
            };
            tx.exec_drop(
                "update connector set type = ?, name = ?, resource_version = ?, config = ? where id = ?",
                (&c.typ, &c.name, &c.resource_version, config.clone(), &c.id),
            )
            .map_err(anyhow::Error::from)?;
            if tx.affected_rows() == 0 {
                tx.exec_drop(
                    "insert into connector (id, type, name, resource_version, config) values (?, ?, ?, ?, ?)",
                    (&c.id, &c.typ, &c.name, &c.resource_version, config),
                )
                .map_err(anyhow::Error::from)?;
            }
        }
        for p in &saved.password {
            tx.exec_drop(
                "update password set hash = ? where email = ?",
                (Value::Bytes(p.bytes()?), &p.email),
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
        let got: Option<Option<i64>> = self
            .conn
            .query_first("select get_lock(concat('ozrepair:dex:', database()), 0)")?;
        Ok(got.flatten() == Some(1))
    }
}
