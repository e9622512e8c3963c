//! What the management server's embedded Dex does with the `connector` table at start-up, reduced to the
//! part ozrepair repairs: read each row, decode its config, and for OIDC connectors compare the stored
//! issuer with the one the provider publishes, byte for byte, exactly as go-oidc does.

use crate::goquote::quote;
use rusqlite::{types::ValueRef, Connection};

pub struct Row {
    pub id: String,
    pub typ: String,
    pub config: Option<Vec<u8>>,
}

pub fn list_connectors(conn: &Connection) -> rusqlite::Result<Vec<Row>> {
    let mut st = conn.prepare("select id, type, name, resource_version, config from connector")?;
    let rows = st.query_map([], |r| {
        // database/sql turns TEXT into []byte too, so Dex reads either storage class.
        let config = match r.get_ref(4)? {
            ValueRef::Blob(b) | ValueRef::Text(b) => Some(b.to_vec()),
            _ => None,
        };
        Ok(Row {
            id: r.get(0)?,
            typ: r.get(1)?,
            config,
        })
    })?;
    rows.collect()
}

/// encoding/json matches keys case-insensitively and the last matching key wins.
fn string_field(config: &[u8], name: &str) -> Result<String, String> {
    let v: serde_json::Value =
        serde_json::from_slice(config).map_err(|e| format!("parse connector config: {e}"))?;
    let obj = v.as_object().ok_or_else(|| {
        "parse connector config: json: cannot unmarshal into Go value".to_string()
    })?;
    let mut issuer = String::new();
    for (k, v) in obj {
        if k.eq_ignore_ascii_case(name) {
            issuer = v
                .as_str()
                .ok_or_else(|| format!("parse connector config: json: cannot unmarshal into Go struct field Config.{name} of type string"))?
                .to_string();
        }
    }
    Ok(issuer)
}

/// Opens one connector as Dex would; `published` is what each reachable provider's discovery document says.
/// Returns the error chain Dex builds when the connector cannot be opened.
pub fn open_connector(row: &Row, published: &[String]) -> Result<(), String> {
    if row.typ != "oidc" {
        return Ok(());
    }
    let config = row.config.as_deref().unwrap_or(b"null");
    let issuer = string_field(config, "issuer")?;
    // Dex v2.43+: with issuerAlias set, go-oidc skips the discovery issuer check (InsecureIssuerURLContext).
    if !string_field(config, "issuerAlias")?.is_empty() {
        return Ok(());
    }
    let base = issuer.trim_end_matches('/');
    let inner = match published.iter().find(|p| p.trim_end_matches('/') == base) {
        None => {
            let host = base
                .split("//")
                .nth(1)
                .unwrap_or(base)
                .split('/')
                .next()
                .unwrap_or(base);
            format!("Get \"{base}/.well-known/openid-configuration\": dial tcp: lookup {host}: no such host")
        }
        Some(p) if *p != issuer => format!(
            "oidc: issuer did not match the issuer returned by provider, expected {} got {}",
            quote(&issuer),
            quote(p)
        ),
        Some(_) => return Ok(()),
    };
    Err(format!(
        "failed to open connector: failed to create connector {id}: failed to get provider: {inner}",
        id = row.id
    ))
}

/// encoding/json's field lookup: the exact key if present, else the last one equal under case folding.
fn go_get<'a>(v: &'a serde_json::Value, name: &str) -> Option<&'a serde_json::Value> {
    let obj = v.as_object()?;
    obj.get(name).or_else(|| {
        obj.iter()
            .rev()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    })
}

/// What NetBird's management server does with `EmbeddedIdP.StaticConnectors` of its management.json at
/// every start, before Dex opens any connector (`idp/dex/connector.go` `ensureStaticConnectors`,
/// `idp/dex/config.go` `ToStorageConnector`): each is mapped to Dex's type, its config gets the OIDC
/// defaults it lacks and is marshalled again (Go sorts map keys), and the row is created, or its Name and
/// Config are overwritten. Returns the ids upserted.
pub fn upsert_static_connectors(
    conn: &Connection,
    management_json: &[u8],
) -> Result<Vec<String>, String> {
    let root: serde_json::Value = serde_json::from_slice(management_json)
        .map_err(|e| format!("failed to parse config: {e}"))?;
    let list = go_get(&root, "EmbeddedIdP")
        .and_then(|e| go_get(e, "StaticConnectors"))
        .and_then(|l| l.as_array())
        .cloned()
        .unwrap_or_default();
    let mut ids = Vec::new();
    for c in &list {
        let s = |k: &str| {
            go_get(c, k)
                .and_then(|v| v.as_str())
                .unwrap_or("")
                .to_string()
        };
        let (typ, name, id) = (s("type"), s("name"), s("id"));
        let mut config = go_get(c, "config")
            .and_then(|v| v.as_object())
            .cloned()
            .unwrap_or_default();
        let dex_type = match typ.as_str() {
            "oidc" | "zitadel" | "entra" | "okta" | "pocketid" | "authentik" | "keycloak"
            | "adfs" => {
                let mut default = |k: &str, v: serde_json::Value| {
                    config.entry(k.to_string()).or_insert(v);
                };
                default("scopes", serde_json::json!(["openid", "profile", "email"]));
                default("insecureEnableGroups", serde_json::json!(true));
                default("insecureSkipEmailVerified", serde_json::json!(true));
                "oidc".to_string()
            }
            _ => typ.clone(),
        };
        // serde_json's map is ordered by key, as Go's json.Marshal orders a map's keys.
        let data = serde_json::to_vec(&serde_json::Value::Object(config))
            .map_err(|e| format!("failed to marshal connector config: {e}"))?;
        let exists: bool = conn
            .query_row("select count(*) from connector where id = ?1", [&id], |r| {
                r.get::<_, i64>(0)
            })
            .map(|n| n > 0)
            .map_err(|e| format!("failed to get connector {id}: {e}"))?;
        let done = if exists {
            conn.execute(
                "update connector set name = ?1, config = ?2 where id = ?3",
                rusqlite::params![name, data, id],
            )
        } else {
            conn.execute(
                "insert into connector (id, type, name, resource_version, config) values (?1, ?2, ?3, '', ?4)",
                rusqlite::params![id, dex_type, name, data],
            )
        };
        done.map_err(|e| format!("failed to update connector {id}: {e}"))?;
        ids.push(id);
    }
    Ok(ids)
}

/// NetBird's `EmbeddedIdP.LocalAuthDisabled` in management.json (encoding/json: folded keys; a missing or
/// non-boolean value is false).
pub fn local_auth_disabled(management_json: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(management_json)
        .ok()
        .and_then(|root| {
            go_get(&root, "EmbeddedIdP")
                .and_then(|e| go_get(e, "LocalAuthDisabled"))
                .and_then(|v| v.as_bool())
        })
        .unwrap_or(false)
}

/// NetBird's storage initialisation writes Dex's built-in `local` connector when it is missing
/// (`ensureLocalConnector`: id local, type local, name Email, empty resource_version, NULL config).
pub fn ensure_local_connector(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute(
        "insert into connector (id, type, name, resource_version, config) select 'local', 'local', 'Email', '', NULL where not exists (select 1 from connector where id = 'local')",
        [],
    )
    .map(|_| ())
}

/// With `LocalAuthDisabled`, NetBird deletes the `local` connector once the server is up
/// (`DisableLocalAuth`, "local authentication disabled").
pub fn delete_local_connector(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute("delete from connector where id = 'local'", [])
        .map(|_| ())
}

/// The static connectors of a Dex config file (`connectors:`), as Dex reads them: the YAML turned into
/// JSON, each connector's `config` kept as that JSON (Dex's `cmd/dex/config.go`, `storage.WithStaticConnectors`).
/// They are an overlay in memory: never written to the database.
pub fn dex_static_connectors(config_yaml: &[u8]) -> Result<Vec<Row>, String> {
    let root: serde_json::Value =
        serde_yaml::from_slice(config_yaml).map_err(|e| format!("error parse config file {e}"))?;
    let list = root
        .get("connectors")
        .and_then(|c| c.as_array())
        .cloned()
        .unwrap_or_default();
    let mut out = Vec::new();
    for c in &list {
        let s = |k: &str| c.get(k).and_then(|v| v.as_str()).unwrap_or("").to_string();
        let config = c
            .get("config")
            .map(|v| serde_json::to_vec(v).unwrap_or_default());
        out.push(Row {
            id: s("id"),
            typ: s("type"),
            config,
        });
    }
    Ok(out)
}
