//! End to end, on Docker and Podman: `ozrepair domain --to NEW` on a deployment whose domain lives in its
//! bind-mounted management.json (AuthIssuer, EmbeddedIdP.Issuer, the dashboard's redirect URIs, the STUN
//! URI, a static connector's redirectURI) and in its connector rows' redirectURI (which NetBird never
//! rewrites). The old host is learned from AuthIssuer. A dry run (the default) shows every place and
//! writes and stops nothing; a hit ozrepair cannot edit (a nested value of a row) blocks the run with the
//! row and field named, nothing written; `--apply` changes every place in one stop window with one backup
//! set, only the host's bytes (a longer host that merely ends in it, `old-vpn.example.com`, is left),
//! the file's owner and mode kept, and the deployment back up.

use crate::util::backups::backup_sets;
use crate::util::command::ozrepair;
use crate::util::configs::{host_dir, management_json, write_config};
use crate::util::deploy::{Deployment, OPENZRO};
use crate::util::engine::events_mark;
use crate::util::hash::sha256_hex;
use crate::util::seed::{Connector, DexDb, JUMPCLOUD_SLASH};
use crate::util::snapshot::read_copy;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

const OLD: &str = "vpn.example.com";
const NEW: &str = "vpn2.example.net";

fn okta(redirect: &str) -> String {
    format!(
        r#"{{"clientID":"okta-1","issuer":"https://acme.okta.com","redirectURI":"{redirect}","scopes":["openid"]}}"#
    )
}

/// Every connector row: (id, config).
fn rows(db: &Path) -> Vec<(String, String)> {
    let (_dir, conn) = read_copy(db);
    let mut st = conn
        .prepare("select id, config from connector order by id")
        .unwrap();
    st.query_map([], |r| {
        let cfg = match r.get_ref(1)? {
            rusqlite::types::ValueRef::Blob(b) | rusqlite::types::ValueRef::Text(b) => {
                String::from_utf8_lossy(b).into_owned()
            }
            _ => String::new(),
        };
        Ok((r.get::<_, String>(0)?, cfg))
    })
    .unwrap()
    .collect::<Result<_, _>>()
    .unwrap()
}

on_both_engines!(every_place_of_the_domain_moves_in_one_window, |e| {
    let dir = host_dir();
    let file: PathBuf = dir.path().join("management.json");
    // The file, with a value of another host that ends in the old one: left as it is.
    let text = management_json(JUMPCLOUD_SLASH).replace(
        "\"DataStoreEncryptionKey\"",
        "\"Other\": \"https://old-vpn.example.com/x\",\n  \"DataStoreEncryptionKey\"",
    );
    write_config(&file, &text, 0o640, (0, 4242));
    let db = DexDb::new(23).connectors([
        Connector::local(),
        Connector::oidc("okta", "Okta", "", okta("https://vpn.example.com/oauth2/callback")),
        Connector::oidc(
            "nested",
            "Nested",
            "",
            r#"{"clientID":"n","issuer":"https://acme.okta.com","claimMapping":{"groups":"https://vpn.example.com/groups"}}"#.into(),
        ),
    ]);
    let d = Deployment::create(&e, &OPENZRO, &db);
    let mount = format!("{}:/etc/netbird/management.json", file.display());
    d.run_with(
        &e,
        &[
            (
                "STANDIN_PUBLISHED",
                &format!("{JUMPCLOUD_SLASH} https://acme.okta.com"),
            ),
            ("STANDIN_CONFIG", "/etc/netbird/management.json"),
        ],
        &["-v", &mount],
    );
    d.wait_ready(&e);
    let sha = sha256_hex(&std::fs::read(&d.db).unwrap());
    let since = events_mark();

    // A nested value of a row holds the old host: the run is blocked, the row and field named.
    let run = ozrepair([
        "domain", "--to", NEW, "--apply", "--yes", "--output", "json",
    ])
    .on(&e)
    .run();
    assert_eq!(run.code, 6, "{run:?}");
    let j = run.json();
    assert_eq!(j["result"], "action_needed", "{j}");
    assert!(
        j["error"]
            .as_str()
            .unwrap()
            .contains("connector nested's claimMapping holds vpn.example.com"),
        "{j}"
    );
    assert_eq!(j["backup"], serde_json::Value::Null);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), text);
    assert_eq!(sha256_hex(&std::fs::read(&d.db).unwrap()), sha);
    assert_eq!(e.stop_events(&d.container, &since), Vec::<String>::new());

    // Without that row: the dry run (the default) shows every place, writes and stops nothing.
    {
        let conn = rusqlite::Connection::open(&d.db).unwrap();
        conn.execute("delete from connector where id = 'nested'", [])
            .unwrap();
    }
    let sha = sha256_hex(&std::fs::read(&d.db).unwrap());
    let run = ozrepair(["domain", "--to", NEW, "--output", "json"])
        .on(&e)
        .run();
    assert_eq!(run.code, 3, "{run:?}");
    let j = run.json();
    assert_eq!(j["result"], "pending", "{j}");
    let mut places: Vec<String> = j["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| match c["store"].as_str().unwrap() {
            "file" => c["at"].as_str().unwrap().to_string(),
            _ => format!(
                "row {}.{}",
                c["connector"].as_str().unwrap(),
                c["field"].as_str().unwrap()
            ),
        })
        .collect();
    places.sort();
    let mut want = vec![
        "EmbeddedIdP.DashboardRedirectURIs[0]",
        "EmbeddedIdP.DashboardRedirectURIs[1]",
        "EmbeddedIdP.Issuer",
        "EmbeddedIdP.StaticConnectors[0].config.redirectURI",
        "HttpConfig.AuthIssuer",
        "Stuns[0].URI",
        "row okta.redirectURI",
    ];
    // The stand-in wrote the static connector into its row at its start, as NetBird does.
    want.push("row d4s1a2b3c4d5e6f7g8h9.redirectURI");
    want.sort();
    assert_eq!(places, want, "{j}");
    let notes = j["notes"].to_string();
    for item in [
        "DNS: point vpn2.example.net",
        "TLS: a certificate",
        "netbird up --management-url https://vpn2.example.net",
        "okta: https://vpn2.example.net/oauth2/callback",
    ] {
        assert!(notes.contains(item), "{item}: {notes}");
    }
    assert_eq!(std::fs::read_to_string(&file).unwrap(), text);
    assert_eq!(sha256_hex(&std::fs::read(&d.db).unwrap()), sha);
    assert_eq!(e.stop_events(&d.container, &since), Vec::<String>::new());
    let before_rows = rows(&d.db);

    // --apply: every place in one window, one backup set, only the host's bytes.
    let run = ozrepair([
        "domain", "--to", NEW, "--apply", "--yes", "--output", "json",
    ])
    .on(&e)
    .run();
    assert_eq!(run.code, 0, "{run:?}");
    let j = run.json();
    assert_eq!(j["result"], "fixed", "{j}");
    assert_eq!(j["container"]["state_after"], "running", "{j}");
    let after = std::fs::read_to_string(&file).unwrap();
    assert_eq!(
        after,
        text.replace("//vpn.example.com", "//vpn2.example.net")
            .replace("stun:vpn.example.com", "stun:vpn2.example.net")
    );
    assert!(after.contains("https://old-vpn.example.com/x"));
    let m = std::fs::metadata(&file).unwrap();
    assert_eq!((m.mode() & 0o7777, m.uid(), m.gid()), (0o640, 0, 4242));
    for ((id, was), (id2, now)) in before_rows.iter().zip(rows(&d.db).iter()) {
        assert_eq!(id, id2);
        assert_eq!(
            *now,
            was.replace("//vpn.example.com", "//vpn2.example.net"),
            "{id}"
        );
    }
    let backup = PathBuf::from(j["backup"]["path"].as_str().unwrap());
    assert_eq!(
        backup_sets(backup.parent().unwrap().parent().unwrap()).len(),
        1
    );
    assert_eq!(d.state(&e).status, "running");
    assert!(!rows(&d.db)
        .iter()
        .any(|(_, c)| c.contains("//vpn.example.com")));
    assert!(!after.contains(&format!("//{OLD}")));

    // Again: nothing holds the old host any more.
    let run = ozrepair(["domain", "--from", OLD, "--to", NEW, "--output", "json"])
        .on(&e)
        .run();
    assert_eq!(run.code, 5, "{run:?}");
});
