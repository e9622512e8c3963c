//! Dex's schema on a database server, built the way Dex builds it (`storage/sql/migrate.go`): a
//! `migrations` table, then each migration of the flavour (`migrations/postgres`, `migrations/mysql`,
//! Dex v2.45.1's statements) in one transaction with its row `(num, now())`. And the rows the tests put
//! there, `config` bound as bytes as Go binds a `[]byte`.

include!(concat!(env!("OUT_DIR"), "/server_migrations.rs"));

use mysql::prelude::Queryable;

/// Dex's PostgreSQL schema, the first `level` migrations.
pub fn pg_schema(c: &mut postgres::Client, level: usize) -> Result<(), postgres::Error> {
    c.batch_execute(
        "create table if not exists migrations (num integer not null, at timestamptz not null);",
    )?;
    for (i, (_, sql)) in PG_MIGRATIONS.iter().take(level).enumerate() {
        let mut tx = c.transaction()?;
        tx.batch_execute(sql)?;
        tx.execute(
            "insert into migrations (num, at) values ($1, now())",
            &[&(i as i32 + 1)],
        )?;
        tx.commit()?;
    }
    Ok(())
}

/// Dex's MySQL schema, the first `level` migrations.
pub fn mysql_schema(c: &mut mysql::Conn, level: usize) -> Result<(), mysql::Error> {
    c.query_drop(
        "create table if not exists migrations (num integer not null, at datetime(3) not null);",
    )?;
    for (i, (_, sql)) in MYSQL_MIGRATIONS.iter().take(level).enumerate() {
        let mut tx = c.start_transaction(mysql::TxOpts::default())?;
        for stmt in sql.split(";\n").map(str::trim).filter(|s| !s.is_empty()) {
            tx.query_drop(stmt.trim_end_matches(';'))?;
        }
        tx.exec_drop(
            "insert into migrations (num, at) values (?, now())",
            (i as i64 + 1,),
        )?;
        tx.commit()?;
    }
    Ok(())
}

/// One connector row.
pub struct Row<'a> {
    pub id: &'a str,
    pub typ: &'a str,
    pub name: &'a str,
    pub resource_version: &'a str,
    pub config: Option<&'a [u8]>,
}

pub fn pg_insert(c: &mut postgres::Client, r: &Row) -> Result<(), postgres::Error> {
    c.execute(
        "insert into connector (id, type, name, resource_version, config) values ($1, $2, $3, $4, $5)",
        &[&r.id, &r.typ, &r.name, &r.resource_version, &r.config],
    )
    .map(|_| ())
}

pub fn mysql_insert(c: &mut mysql::Conn, r: &Row) -> Result<(), mysql::Error> {
    let cfg = match r.config {
        Some(b) => mysql::Value::Bytes(b.to_vec()),
        None => mysql::Value::NULL,
    };
    c.exec_drop(
        "insert into connector (id, type, name, resource_version, config) values (?, ?, ?, ?, ?)",
        (r.id, r.typ, r.name, r.resource_version, cfg),
    )
}

/// Every connector row as (id, resource_version, config), by id: what a test compares.
pub type Rows = Vec<(String, String, Option<Vec<u8>>)>;

pub fn pg_rows(c: &mut postgres::Client) -> Result<Rows, postgres::Error> {
    Ok(c.query(
        "select id, resource_version, config from connector order by id",
        &[],
    )?
    .iter()
    .map(|r| (r.get(0), r.get(1), r.get(2)))
    .collect())
}

pub fn mysql_rows(c: &mut mysql::Conn) -> Result<Rows, mysql::Error> {
    c.query("select id, resource_version, config from connector order by id")
}
