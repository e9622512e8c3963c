//! Crash safety, end to end against a real Docker engine: the fix is killed (abort, no cleanup) at every
//! fault point of its path. Each time the database holds either the old bytes or the fixed bytes, never
//! anything between; a backup exists whenever a write happened; and running `ozrepair fix` again finishes
//! the job (a container left stopped is started). Also: two fixes at once never both write.

use crate::util::backups::backup_sets;
use crate::util::command::ozrepair;
use crate::util::deploy::{locked_out, Deployment};
use crate::util::engine::{events_mark, Engine};
use crate::util::seed::{after_fix, rows};
use crate::util::snapshot::snapshot;
use std::path::PathBuf;

fn backups(d: &Deployment) -> Vec<PathBuf> {
    backup_sets(&d.mountpoint.join("ozrepair-backups"))
}

fn crash_at(point: &str) {
    let e = Engine::start();
    let d = locked_out(&e);
    let original = std::fs::read(&d.db).unwrap();
    let before = rows(&d.db);

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
    crash_at("after-stop");
}

#[test]
fn crash_after_backup() {
    crash_at("after-backup");
}

#[test]
fn crash_inside_the_write_transaction() {
    crash_at("inside-write");
}

#[test]
fn crash_after_the_write() {
    crash_at("after-write");
}

#[test]
fn crash_before_start() {
    crash_at("before-start");
}

#[test]
fn every_fault_point_has_a_test() {
    // The list the binary knows and the tests above must agree.
    assert_eq!(
        ozrepair::apply::fault::POINTS,
        [
            "after-stop",
            "after-backup",
            "inside-write",
            "after-write",
            "before-start"
        ]
    );
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
