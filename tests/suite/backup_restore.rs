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
