//! Inspection never writes: not even SQLite's own recovery. A database with a hot journal beside it (its
//! writer died mid-transaction) is read through a private copy, where the rollback happens; the files in
//! place keep every byte, and the report shows the committed rows.

use crate::util::command::ozrepair;
use crate::util::run;
use crate::util::seed::{ozr_seed, DexDb, JC_ID, JUMPCLOUD, JUMPCLOUD_SLASH};
use crate::util::snapshot::snapshot;

#[test]
fn inspect_reads_a_hot_journal_database_without_rolling_it_back() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("idp.db");
    DexDb::locked_out().write(&db);
    let dbs = db.to_str().unwrap();
    let crashed = run::output(ozr_seed().args(["--db", dbs, "--hot-journal"]));
    assert_eq!(
        crashed.status.code(),
        Some(9),
        "the writer died mid-transaction"
    );
    let journal = dir.path().join("idp.db-journal");
    assert!(
        std::fs::metadata(&journal)
            .map(|m| m.len() > 0)
            .unwrap_or(false),
        "a hot journal is left"
    );
    let files = snapshot(dir.path());

    let run = ozrepair(["--db", dbs, "inspect", "--output", "json"]).run();
    // Read (the JumpCloud connector not checked: there are no logs with --db).
    assert_eq!(run.code, 5, "{run:?}");
    assert_eq!(run.json()["result"], "unchecked", "{run:?}");
    let j = run.json();
    assert_eq!(j["connectors"][1]["id"], JC_ID);
    assert_eq!(j["connectors"][1]["issuer"], JUMPCLOUD);
    assert_eq!(
        snapshot(dir.path()),
        files,
        "neither the database nor its journal changed"
    );

    // fix --dry-run is as careful.
    let dry = ozrepair([
        "--db",
        dbs,
        "fix",
        "--dry-run",
        "--connector",
        JC_ID,
        "--issuer",
        JUMPCLOUD_SLASH,
    ])
    .run();
    assert_eq!(dry.code, 3, "{dry:?}");
    assert_eq!(snapshot(dir.path()), files);
}
