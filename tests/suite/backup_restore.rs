//! Backups and restore on a database file (`--db`, no Docker): what a backup set holds, that it is private,
//! that restore puts back the exact bytes with the database's owner and mode, saves the current state first,
//! and refuses a set whose checksums no longer match.

use crate::util::backups::backup_sets;
use crate::util::command::ozrepair;
use crate::util::seed::{DexDb, JC_ID, JUMPCLOUD_SLASH};
use crate::util::snapshot::snapshot;
use std::os::unix::fs::{MetadataExt, PermissionsExt};

#[test]
fn backup_restore_round_trip_and_refusal() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("dex.db");
    DexDb::locked_out()
        .level(13)
        .owner(1001, 1001)
        .mode(0o600)
        .write(&db);
    let dbs = db.to_str().unwrap();
    let original = std::fs::read(&db).unwrap();

    let b = ozrepair(["--db", dbs, "backup", "--yes", "--output", "json"]).run();
    assert_eq!(b.code, 0, "{b:?}");
    let root = dir.path().join("ozrepair-backups");
    let set = backup_sets(&root).pop().unwrap();
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(set.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["dex_schema"], 13);
    assert_eq!(m["connectors"], serde_json::json!(["local", JC_ID]));
    assert!(m["tool"].as_str().unwrap().starts_with("ozrepair "));
    assert!(m["created"].as_str().unwrap().ends_with('Z'));
    assert_eq!(m["files"][0]["sha256"], b.json()["backup"]["sha256"]);
    assert_eq!(
        (
            m["files"][0]["uid"].as_u64(),
            m["files"][0]["mode"].as_u64()
        ),
        (Some(1001), Some(0o600))
    );
    assert_eq!(
        std::fs::metadata(&root).unwrap().permissions().mode() & 0o777,
        0o700
    );
    for f in std::fs::read_dir(&set).unwrap() {
        let f = f.unwrap().path();
        assert_eq!(
            std::fs::metadata(&f).unwrap().permissions().mode() & 0o777,
            0o600,
            "{}",
            f.display()
        );
    }
    assert_eq!(std::fs::read(set.join("dex.db")).unwrap(), original);

    let fix = ozrepair([
        "--db",
        dbs,
        "fix",
        "--connector",
        JC_ID,
        "--issuer",
        JUMPCLOUD_SLASH,
        "--yes",
    ])
    .run();
    assert_eq!(fix.code, 0, "{fix:?}");
    let fixed = std::fs::read(&db).unwrap();
    assert_ne!(fixed, original);

    // Restore the first set by name: exact bytes, owner and mode kept, the fixed state saved first.
    let set_arg = set.to_str().unwrap();
    let r = ozrepair([
        "--db", dbs, "restore", "--backup", set_arg, "--yes", "--output", "json",
    ])
    .run();
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(std::fs::read(&db).unwrap(), original);
    let meta = std::fs::metadata(&db).unwrap();
    assert_eq!(
        (meta.uid(), meta.gid(), meta.mode() & 0o777),
        (1001, 1001, 0o600)
    );
    let newest = backup_sets(&root).pop().unwrap();
    assert_eq!(
        std::fs::read(newest.join("dex.db")).unwrap(),
        fixed,
        "the state before the restore was saved"
    );

    // A damaged set is refused and nothing changes.
    let mut bytes = std::fs::read(set.join("dex.db")).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(set.join("dex.db"), bytes).unwrap();
    let files = snapshot(dir.path());
    let bad = ozrepair(["--db", dbs, "restore", "--backup", set_arg, "--yes"]).run();
    assert_eq!(bad.code, 1, "{bad:?}");
    assert!(
        bad.stderr.contains("damaged") && bad.stderr.contains("nothing was changed"),
        "{bad:?}"
    );
    assert_eq!(snapshot(dir.path()), files);
}

/// A backup proves its copy's bytes; `--check` proves the database whole too. A database with a damaged
/// page is copied exactly by `backup` (the note says it was not checked), refused by `backup --check`
/// with nothing kept, and a set of it is refused by restore (which checks what it puts back).
#[test]
fn backup_keeps_exact_bytes_and_check_refuses_a_damaged_database() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("dex.db");
    DexDb::locked_out().write(&db);
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.execute_batch("begin").unwrap();
        for i in 0..200 {
            conn.execute(
                "insert into password (email, hash, username, user_id) values (?1, ?2, 'filler', 'filler')",
                rusqlite::params![format!("filler{i}@example.com"), vec![0x5au8; 1024]],
            )
            .unwrap();
        }
        conn.execute_batch("commit").unwrap();
    }
    let dbs = db.to_str().unwrap();
    let root = dir.path().join("ozrepair-backups");

    // Healthy: both kinds of backup succeed, and --check says nothing about damage.
    let plain = ozrepair(["--db", dbs, "backup", "--yes", "--output", "json"]).run();
    assert_eq!(plain.code, 0, "{plain:?}");
    let notes = plain.json()["notes"].to_string();
    assert!(notes.contains("backup --check"), "{notes}");
    let checked = ozrepair([
        "--db", dbs, "backup", "--check", "--yes", "--output", "json",
    ])
    .run();
    assert_eq!(checked.code, 0, "{checked:?}");
    assert!(
        !checked.json()["notes"].to_string().contains("not checked"),
        "{checked:?}"
    );
    assert_eq!(backup_sets(&root).len(), 2);

    // A page of filler rows near the end overwritten: SQLite sees it.
    let mut bytes = std::fs::read(&db).unwrap();
    let page = 4096;
    let at = bytes.len() - 10 * page;
    bytes[at + page / 4..at + page * 3 / 4].fill(0xa5);
    std::fs::write(&db, &bytes).unwrap();

    let refused = ozrepair(["--db", dbs, "backup", "--check", "--yes"]).run();
    assert_eq!(refused.code, 1, "{refused:?}");
    assert!(refused.stderr.contains("damaged"), "{refused:?}");
    assert_eq!(backup_sets(&root).len(), 2, "no set kept from --check");
    assert_eq!(std::fs::read(&db).unwrap(), bytes, "the database untouched");

    let copied = ozrepair(["--db", dbs, "backup", "--yes", "--output", "json"]).run();
    assert_eq!(copied.code, 0, "{copied:?}");
    let set = backup_sets(&root).pop().unwrap();
    assert_eq!(
        std::fs::read(set.join("dex.db")).unwrap(),
        bytes,
        "the exact bytes"
    );

    let r = ozrepair([
        "--db",
        dbs,
        "restore",
        "--backup",
        set.to_str().unwrap(),
        "--yes",
    ])
    .run();
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("damaged"), "{r:?}");
    assert_eq!(std::fs::read(&db).unwrap(), bytes);
}
