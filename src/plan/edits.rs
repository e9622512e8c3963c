//! From a plan to the bytes to write: one [`store::Edit`] per connector, each change applied to the config
//! as it is stored now, by replacing exactly the bytes of the value it targets.

use crate::dex::jsonedit;
use crate::dex::ConnectorRow;
use crate::plan::{door, Change, Plan};
use crate::store;
use anyhow::{anyhow, bail, Result};

/// The edits that bring `rows` to the plan: one per connector, its changes applied one after the other.
/// A change whose target value is already stored is skipped; a value that is neither the planned `from`
/// nor its `to` means the database moved under the plan, and nothing is done.
pub fn compute(rows: &[ConnectorRow], plan: &Plan) -> Result<Vec<store::Edit>> {
    let mut edits: Vec<store::Edit> = Vec::new();
    for c in plan
        .changes
        .iter()
        .filter(|c| c.store.is_database() && c.field != door::NEW_ROW)
    {
        let row = rows
            .iter()
            .find(|r| r.id == c.connector)
            .ok_or_else(|| anyhow!("connector {} is gone", c.connector))?;
        let original = row
            .config
            .clone()
            .ok_or_else(|| anyhow!("connector {} has no config", c.connector))?;
        let pos = match edits.iter().position(|e| e.id == c.connector) {
            Some(p) => p,
            None => {
                edits.push(store::Edit {
                    id: c.connector.clone(),
                    before: original.clone(),
                    after: original,
                    resource_version: store::bumped(&row.resource_version),
                });
                edits.len() - 1
            }
        };
        let fields = jsonedit::top_level_fields(&edits[pos].after)
            .map_err(|e| anyhow!("connector {}: {e}", c.connector))?;
        let (_, to) = c.values();
        if jsonedit::string_value(&edits[pos].after, &fields, &c.field)
            == jsonedit::StrValue::Str(to.to_string())
            && (c.hidden.is_none() || every_variant_is(&edits[pos].after, &c.field, to))
        {
            continue;
        }
        let after = edit_field(&edits[pos].after, c)
            .map_err(|e| anyhow!("connector {}: {e}", c.connector))?;
        edits[pos].after = after;
    }
    edits.retain(|e| e.after != e.before);
    // The whole result must decode in Dex as Go would decode it, or the fix would be reported while Dex
    // still cannot open the connector.
    for e in &edits {
        let typ = rows
            .iter()
            .find(|r| r.id == e.id)
            .map(|r| r.typ.as_str())
            .unwrap_or_default();
        if let Err(why) = crate::dex::model::check(typ, &e.after) {
            bail!(
                "connector {}: after the change Dex still could not decode its config ({why}); nothing was changed; fix that field in the dashboard or by hand",
                e.id
            );
        }
    }
    Ok(edits)
}

/// Whether every string value of a key Go matches to `field` is `value` (a secret's case variants).
fn every_variant_is(config: &[u8], field: &str, value: &str) -> bool {
    let Ok(fields) = jsonedit::top_level_fields(config) else {
        return false;
    };
    fields
        .iter()
        .filter(|f| {
            jsonedit::key_matches(&f.key, field) && config.get(f.value.start) == Some(&b'"')
        })
        .all(|f| {
            config
                .get(f.value.clone())
                .and_then(jsonedit::go_json_unquote)
                .is_some_and(|v| v == value)
        })
}

/// One change applied to a config's bytes: the value's bytes replaced (a secret's in every key Go
/// matches to its field), or (for issuerAlias, which Dex configs usually lack) the field added right
/// after `issuer`, where Go's sorted keys would put it. A secret is never named in an error.
fn edit_field(config: &[u8], c: &Change) -> Result<Vec<u8>> {
    let fields = jsonedit::top_level_fields(config).map_err(|e| anyhow!("{e}"))?;
    let (from, to) = c.values();
    match jsonedit::string_value(config, &fields, &c.field) {
        jsonedit::StrValue::Str(s) if s == from => {}
        jsonedit::StrValue::Absent | jsonedit::StrValue::Null if from.is_empty() => {}
        _ if c.hidden.is_some() => bail!(
            "{} is no longer the secret read before; run ozrepair again to re-plan",
            c.field
        ),
        _ => bail!(
            "{} is no longer {:?}; run ozrepair again to re-plan",
            c.field,
            c.from
        ),
    }
    let set = if c.hidden.is_some() {
        jsonedit::set_every_string(config, &c.field, to)
    } else {
        jsonedit::set_string(config, &c.field, to)
    };
    if let Some(out) = set.map_err(|e| anyhow!("{e}"))? {
        return Ok(out);
    }
    if c.field != "issuerAlias" {
        bail!(
            "it has no {} field; ozrepair never adds fields other than issuerAlias",
            c.field
        );
    }
    let issuer = jsonedit::effective_field(&fields, "issuer")
        .ok_or_else(|| anyhow!("it has no issuer field"))?;
    let at = issuer.value.end;
    let add = format!(
        ",{}:{}",
        jsonedit::go_json_string(&c.field),
        jsonedit::go_json_string(&c.to)
    );
    let out = jsonedit::splice(config, at..at, add.as_bytes());
    jsonedit::top_level_fields(&out).map_err(|e| anyhow!("{e}"))?;
    Ok(out)
}

/// The rows the plan creates that are still absent (Dex's `local` connector, for `local-login`).
pub fn new_rows(rows: &[ConnectorRow], plan: &Plan) -> Vec<store::NewRow> {
    plan.changes
        .iter()
        .filter(|c| c.store.is_database() && c.field == door::NEW_ROW)
        .filter(|c| !rows.iter().any(|r| r.id == c.connector))
        .map(|c| store::NewRow {
            id: c.connector.clone(),
            typ: door::LOCAL_TYPE.into(),
            name: door::LOCAL_NAME.into(),
        })
        .collect()
}
