//! Crash safety, end to end against a real Docker engine: the fix is killed (abort, no cleanup) at every
//! crash point of the enum (`ozrepair::fault::Point::ALL`), config-file writes included. Each time the database holds either the old bytes or the fixed bytes, never
//! anything between; a backup exists whenever a write happened; and running `ozrepair fix` again finishes
//! the job (a container left stopped is started). Also: two fixes at once never both write.

use crate::util::backups::backup_sets;
use crate::util::command::ozrepair;
use crate::util::configs::{management_json, with_management_json};
use crate::util::deploy::{locked_out, Deployment};
use crate::util::engine::{events_mark, Engine};
use crate::util::seed::{after_fix, rows, JC_ID, JUMPCLOUD, JUMPCLOUD_SLASH};
use crate::util::snapshot::snapshot;
use ozrepair::fault::Point;
use std::path::PathBuf;

fn backups(d: &Deployment) -> Vec<PathBuf> {
    backup_sets(&d.mountpoint.join("ozrepair-backups"))
}

/// Kills `fix --yes` at `point` on the locked-out deployment (its database alone: the bytes nobody else
/// writes while it crash-loops), then checks the database and finishes the job with a second run.
fn crash_at(point: Point) {
    let e = Engine::start();
    let d = locked_out(&e);
    let original = std::fs::read(&d.db).unwrap();
    let before = rows(&d.db);
    let point = point.name();

    let crashed = ozrepair(["fix", "--yes"])
        .on(&e)
        .env("OZREPAIR_FAULT", point)
        .run();
    assert_ne!(
        crashed.code, 0,
        "the fault at {point} must kill the run: {crashed:?}"
    );
    assert!(
        crashed
            .stderr
            .contains(&format!("fault injected at {point}")),
        "{crashed:?}"
    );

    // Old or new, never between.
    let now = rows(&d.db);
    let written = now == after_fix(&before);
    assert!(
        written || now == before,
        "{point}: the rows are neither the old nor the fixed ones: {now:?}"
    );
    if !written {
        assert_eq!(
            std::fs::read(&d.db).unwrap(),
            original,
            "{point}: old rows, and the old bytes too"
        );
    }
    // A write never happens without a backup of the old bytes.
    if written {
        let sets = backups(&d);
        assert_eq!(sets.len(), 1, "{point}: one backup");
        let name = d.db.file_name().unwrap();
        assert_eq!(
            std::fs::read(sets[0].join(name)).unwrap(),
            original,
            "{point}: the backup holds the old bytes"
        );
    }
    let expect_written = matches!(point, "after-write" | "before-start");
    assert_eq!(written, expect_written, "{point}: written = {written}");

    // Running it again finishes the job.
    let again = ozrepair(["fix", "--yes", "--output", "json"]).on(&e).run();
    assert_eq!(again.code, 0, "{point}: the second run: {again:?}");
    assert_eq!(rows(&d.db), after_fix(&before), "{point}");
    d.wait_ready(&e);
    assert_eq!(d.state(&e).status, "running", "{point}");
    assert!(
        !backups(&d).is_empty(),
        "{point}: a backup exists after the fix"
    );
}

#[test]
fn crash_after_stop() {
    crash_at(Point::AfterStop);
}

#[test]
fn crash_after_backup() {
    crash_at(Point::AfterBackup);
}

#[test]
fn crash_after_the_config_files_with_none_to_write() {
    crash_at(Point::AfterFiles);
}

#[test]
fn crash_inside_the_write_transaction() {
    crash_at(Point::InsideWrite);
}

#[test]
fn crash_after_the_write() {
    crash_at(Point::AfterWrite);
}

#[test]
fn crash_before_start() {
    crash_at(Point::BeforeStart);
}

#[test]
fn every_fault_point_has_a_test() {
    // The points a fix of a database alone passes have a test each above; the kill matrix below passes
    // every point of the enum on a deployment with a config file too.
    let names: Vec<&str> = Point::ALL.iter().map(|p| p.name()).collect();
    assert_eq!(
        names,
        [
            "after-stop",
            "after-backup",
            "inside-files",
            "after-files",
            "inside-write",
            "after-write",
            "before-start"
        ]
    );
}

/// The issuer's bytes replaced in a config as ozrepair edits it (the value's bytes only).
fn with_issuer(text: &[u8], from: &str, to: &str) -> Vec<u8> {
    let s = String::from_utf8(text.to_vec()).expect("UTF-8");
    let (old, new) = (
        format!("\"issuer\": \"{from}\""),
        format!("\"issuer\": \"{to}\""),
    );
    let (old_c, new_c) = (
        format!("\"issuer\":\"{from}\""),
        format!("\"issuer\":\"{to}\""),
    );
    assert!(
        s.contains(&old) || s.contains(&old_c),
        "the issuer {from} is in the config"
    );
    s.replace(&old, &new).replace(&old_c, &new_c).into_bytes()
}

/// The kill matrix of every crash point of the enum, on a deployment whose static connector lives in a
/// bind-mounted management.json (so that the run passes the config-file points too): after each kill,
/// every file the run touches holds its old bytes or its new ones (the database as rows, since the
/// stand-in rewrites the row from the file at every start; management.json byte for byte); a change
/// never happens without a backup of what it replaced; and a second run finishes the job.
#[test]
fn every_crash_point_leaves_old_or_new_bytes_in_every_file() {
    let e = Engine::start();
    for point in Point::ALL {
        let name = point.name();
        let (_dir, file, d) =
            with_management_json(&e, &management_json(JUMPCLOUD), 0o640, (0, 0), &[]);
        d.wait_restarts(&e, 2);
        let old_file = std::fs::read(&file).unwrap();
        let new_file = with_issuer(&old_file, JUMPCLOUD, JUMPCLOUD_SLASH);
        let before = rows(&d.db);
        let after: Vec<_> = before
            .iter()
            .map(|r| {
                let mut r = r.clone();
                if r.id == JC_ID {
                    r.config = with_issuer(&r.config, JUMPCLOUD, JUMPCLOUD_SLASH);
                }
                r
            })
            .collect();

        let crashed = ozrepair(["fix", "--yes"])
            .on(&e)
            .env("OZREPAIR_FAULT", name)
            .run();
        assert_ne!(
            crashed.code, 0,
            "{name}: the fault kills the run: {crashed:?}"
        );
        assert!(
            crashed
                .stderr
                .contains(&format!("fault injected at {name}")),
            "{name}: {crashed:?}"
        );
        let file_now = std::fs::read(&file).unwrap();
        let file_written = file_now == new_file;
        assert!(
            file_written || file_now == old_file,
            "{name}: management.json is neither the old nor the new bytes"
        );
        let now: Vec<_> = rows(&d.db)
            .into_iter()
            .map(|mut r| {
                // ozrepair bumps a numeric resource_version; the comparison is of the bytes it edits.
                r.resource_version = String::new();
                r
            })
            .collect();
        let strip = |rs: &[crate::util::seed::Row]| -> Vec<crate::util::seed::Row> {
            rs.iter()
                .cloned()
                .map(|mut r| {
                    r.resource_version = String::new();
                    r
                })
                .collect()
        };
        let db_written = now == strip(&after);
        assert!(
            db_written || now == strip(&before),
            "{name}: the rows are neither the old nor the fixed ones: {now:?}"
        );
        assert_eq!(
            file_written,
            !matches!(point, Point::AfterStop | Point::AfterBackup),
            "{name}: the file is written from the first config-file point on"
        );
        assert_eq!(db_written, point.store_written(), "{name}: the row");
        if file_written || db_written {
            let sets = backups(&d);
            assert_eq!(sets.len(), 1, "{name}: one backup");
            let manifest: serde_json::Value =
                serde_json::from_slice(&std::fs::read(sets[0].join("manifest.json")).unwrap())
                    .unwrap();
            let copy = manifest["configs"][0]["name"]
                .as_str()
                .expect("a config copy");
            assert_eq!(
                std::fs::read(sets[0].join(copy)).unwrap(),
                old_file,
                "{name}: the backup holds the old management.json"
            );
            assert_eq!(
                strip(&rows(&sets[0].join("idp.db"))),
                strip(&before),
                "{name}: the backup holds the old rows"
            );
        }
        let again = ozrepair(["fix", "--yes", "--output", "json"]).on(&e).run();
        assert_eq!(again.code, 0, "{name}: the second run: {again:?}");
        assert_eq!(std::fs::read(&file).unwrap(), new_file, "{name}");
        d.wait_ready(&e);
        assert_eq!(d.state(&e).status, "running", "{name}");
        d.remove(&e);
    }
}

#[test]
fn a_second_fix_refuses_while_one_holds_the_lock() {
    let e = Engine::start();
    let d = locked_out(&e);
    let files = snapshot(&d.mountpoint);
    let lock_path = d.mountpoint.join(".idp.db.ozrepair-lock");
    let lock = std::fs::File::create(&lock_path).unwrap();
    lock.lock().unwrap();
    let files_with_lock = snapshot(&d.mountpoint);
    let since = events_mark();
    let run = ozrepair(["fix", "--yes"]).on(&e).run();
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr.contains("another ozrepair is working on"),
        "{run:?}"
    );
    assert_eq!(snapshot(&d.mountpoint), files_with_lock, "nothing written");
    assert_eq!(
        e.stop_events(&d.container, &since),
        Vec::<String>::new(),
        "the container was not stopped"
    );
    drop(lock);
    std::fs::remove_file(&lock_path).unwrap();
    assert_eq!(snapshot(&d.mountpoint), files);
}

#[test]
fn two_fixes_at_once_never_both_write() {
    let e = Engine::start();
    let d = locked_out(&e);
    let before = rows(&d.db);
    let spawn = || {
        ozrepair(["fix", "--yes", "--output", "json"])
            .on(&e)
            .spawn()
    };
    let (a, b) = (spawn(), spawn());
    let (a, b) = (a.wait(), b.wait());
    let results = [a.json()["result"].clone(), b.json()["result"].clone()];
    let fixed = results.iter().filter(|r| *r == "fixed").count();
    assert_eq!(fixed, 1, "exactly one run applied the fix: {a:?} {b:?}");
    // The other either found the lock held (failed, nothing done) or found the work already done.
    assert!(
        results.iter().any(|r| *r == "failed" || *r == "healthy"),
        "{a:?} {b:?}"
    );
    assert_eq!(backups(&d).len(), 1, "one backup, one write");
    assert_eq!(rows(&d.db), after_fix(&before));
}
