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
