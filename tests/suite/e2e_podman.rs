//! The core scenarios on a private rootful Podman service (Debian's Podman 4.3, its Docker-compatible
//! API): while the management container crash-loops, which under Podman means `running` and `stopped`
//! without back-off, never `restarting`. Crash loops are races, so they are repeated: one pass proves
//! nothing.

use crate::util::command::ozrepair;
use crate::util::deploy::{locked_out, Deployment, OPENZRO};
use crate::util::engine::{events_mark, Engine};
use crate::util::seed::{after_fix, jumpcloud_config, rows, DexDb, JC_ID, JUMPCLOUD_SLASH};
use crate::util::snapshot::snapshot;
use std::os::unix::fs::MetadataExt;

/// `inspect` of one crash loop, again and again: pending every time, nothing written, nothing stopped.
#[test]
fn podman_inspect_of_a_crash_loop_is_pending_every_time() {
    let e = Engine::podman();
    let d = locked_out(&e);
    let files = snapshot(&d.mountpoint);
    let since = events_mark();
    for n in 1..=50 {
        let r = ozrepair(["inspect", "--output", "json"]).on(&e).run();
        assert_eq!(r.code, 3, "inspect {n} of the loop: {r:?}");
        assert_eq!(r.json()["changes"][0]["to"], JUMPCLOUD_SLASH, "{r:?}");
    }
    assert_eq!(
        snapshot(&d.mountpoint),
        files,
        "nothing in the volume changed"
    );
    assert_eq!(
        e.stop_events(&d.container, &since),
        Vec::<String>::new(),
        "nothing stopped it"
    );
}

/// `fix --yes` with no flags on fresh crash loops: each one fixed, the value still a BLOB, the container
/// running with a steady restart count; a second fix has nothing to do.
#[test]
fn podman_fix_with_no_flags_fixes_fresh_crash_loops() {
    let e = Engine::podman();
    for n in 0..20 {
        let d = locked_out(&e);
        let before = rows(&d.db);
        let fix = ozrepair(["fix", "--yes", "--output", "json"]).on(&e).run();
        assert_eq!(fix.code, 0, "loop {n}: {fix:?}");
        assert_eq!(fix.json()["result"], "fixed", "loop {n}: {fix:?}");
        assert_eq!(rows(&d.db), after_fix(&before), "loop {n}");
        assert_eq!(rows(&d.db)[1].storage, "blob");
        d.wait_ready(&e);
        let up = d.state(&e);
        assert_eq!(up.status, "running", "loop {n}");
        let again = ozrepair(["fix", "--yes", "--output", "json"]).on(&e).run();
        assert_eq!(again.code, 0, "loop {n}: {again:?}");
        assert_eq!(again.json()["result"], "healthy", "loop {n}: {again:?}");
        assert_eq!(d.state(&e), up, "loop {n}: the restart count is steady");
        d.remove(&e);
    }
}

/// Through the archive API on a loop, the Dex layout's owner and mode (1001:1001 0600) are kept.
#[test]
fn podman_archive_access_fixes_a_loop_and_keeps_owner_and_mode() {
    let e = Engine::podman();
    let d = Deployment::create(
        &e,
        &OPENZRO,
        &DexDb::locked_out().owner(1001, 1001).mode(0o600),
    );
    d.run_with(
        &e,
        &[("STANDIN_PUBLISHED", JUMPCLOUD_SLASH)],
        &["--user", "1001:1001"],
    );
    d.wait_restarts(&e, 2);
    let home = tempfile::tempdir().unwrap();
    let fix = ozrepair(["--access", "archive", "fix", "--yes", "--output", "json"])
        .on(&e)
        .env("HOME", home.path())
        .run();
    assert_eq!(fix.code, 0, "{fix:?}");
    let after = rows(&d.db);
    assert_eq!(after[1].id, JC_ID);
    assert_eq!(after[1].config_text(), jumpcloud_config(JUMPCLOUD_SLASH));
    assert_eq!(after[1].storage, "blob");
    let m = std::fs::metadata(&d.db).unwrap();
    assert_eq!((m.uid(), m.gid(), m.mode() & 0o7777), (1001, 1001, 0o600));
    d.wait_ready(&e);
}
