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

/// The locked-out database, again, in a deployment that was fixed: the container stopped, the file
/// rewritten with the broken issuer (same owner and mode), the container started, crash-looping again.
fn break_again(e: &Engine, d: &Deployment, db: &DexDb) {
    e.docker_ok(&["stop", "-t", "1", &d.container]);
    std::fs::remove_file(&d.db).unwrap();
    db.write(&d.db);
    let restarts = d.state(e).restarts;
    e.docker_ok(&["start", &d.container]);
    d.wait_restarts(e, restarts + 2);
}

/// The owner, group and mode of a file.
fn owner_of(p: &std::path::Path) -> (u32, u32, u32) {
    let m = std::fs::symlink_metadata(p).unwrap();
    (m.uid(), m.gid(), m.mode() & 0o7777)
}

/// A user's own rootless Podman service. As that user, ozrepair fixes the database with host access
/// (the file is the user's: the containers' root), and, for a database the container's user 1001 owns
/// (a subordinate uid on this machine, 0600: not readable by the user), through the archive API, found
/// by itself when the host file cannot be opened, the owner mapped back through the service's user
/// namespace and kept.
#[test]
fn podman_rootless_the_user_fixes_with_host_and_with_archive_access() {
    let e = Engine::podman_rootless();
    let u = e.user();

    // The database is the containers' root's, i.e. the user's own file: host access.
    let db = DexDb::locked_out().owner(u.uid, u.gid).mode(0o644);
    let d = Deployment::create(&e, &OPENZRO, &db);
    d.run(&e, &[("STANDIN_PUBLISHED", JUMPCLOUD_SLASH)]);
    d.wait_restarts(&e, 2);
    let before = rows(&d.db);
    let fix = ozrepair(["fix", "--yes", "--output", "json"])
        .on(&e)
        .by_user(u)
        .run();
    assert_eq!(fix.code, 0, "{fix:?}");
    assert_eq!(fix.json()["result"], "fixed", "{fix:?}");
    assert_eq!(fix.json()["database"]["path"], d.db.display().to_string());
    assert_eq!(rows(&d.db), after_fix(&before));
    assert_eq!(owner_of(&d.db), (u.uid, u.gid, 0o644));
    d.wait_ready(&e);
    d.remove(&e);

    // The container's user 1001 owns it (on this machine: the user's subordinate uid for 1001), 0600.
    let host = (u.host_uid(1001), u.host_gid(1001));
    let db = DexDb::locked_out().owner(host.0, host.1).mode(0o600);
    for access in [None, Some("archive")] {
        let d = Deployment::create(&e, &OPENZRO, &db);
        d.run_with(
            &e,
            &[("STANDIN_PUBLISHED", JUMPCLOUD_SLASH)],
            &["--user", "1001:1001"],
        );
        d.wait_restarts(&e, 2);
        let before = rows(&d.db);
        let mut args = vec!["fix", "--yes", "--output", "json"];
        if let Some(a) = access {
            args.splice(0..0, ["--access", a]);
        }
        let fix = ozrepair(&args).on(&e).by_user(u).run();
        assert_eq!(fix.code, 0, "{access:?}: {fix:?}");
        let j = fix.json();
        assert_eq!(j["result"], "fixed", "{access:?}: {fix:?}");
        assert_eq!(
            j["database"]["path"],
            format!("{}:/var/lib/openzro/idp.db", d.container),
            "{access:?}: through the archive API"
        );
        assert_eq!(rows(&d.db), after_fix(&before), "{access:?}");
        assert_eq!(rows(&d.db)[1].storage, "blob");
        assert_eq!(
            owner_of(&d.db),
            (host.0, host.1, 0o600),
            "{access:?}: owner and mode kept"
        );
        d.wait_ready(&e);
        d.remove(&e);
    }
}

/// Root fixes a rootless user's deployment (host access: root can read the user's volume), and what it
/// leaves in the volume (the lock file, the backups) is the volume owner's: the user's own `fix` works
/// afterwards, and the user can still remove the volume.
#[test]
fn podman_rootless_after_root_fixes_the_user_still_can_and_can_remove_the_volume() {
    let e = Engine::podman_rootless();
    let u = e.user();
    let db = DexDb::locked_out().owner(u.uid, u.gid).mode(0o600);
    let d = Deployment::create(&e, &OPENZRO, &db);
    d.run(&e, &[("STANDIN_PUBLISHED", JUMPCLOUD_SLASH)]);
    d.wait_restarts(&e, 2);

    let root = ozrepair(["fix", "--yes", "--output", "json"]).on(&e).run();
    assert_eq!(root.code, 0, "{root:?}");
    assert_eq!(root.json()["result"], "fixed", "{root:?}");
    let volume_owner = owner_of(&d.mountpoint);
    assert_eq!(
        (volume_owner.0, volume_owner.1),
        (u.uid, u.gid),
        "the volume is the user's"
    );
    let backup = std::path::PathBuf::from(root.json()["backup"]["path"].as_str().unwrap());
    let set = backup.parent().unwrap();
    let made = [
        d.mountpoint.join(".idp.db.ozrepair-lock"),
        d.mountpoint.join("ozrepair-backups"),
        set.to_path_buf(),
        backup.clone(),
        set.join("manifest.json"),
    ];
    for p in &made {
        let (uid, gid, _) = owner_of(p);
        assert_eq!((uid, gid), (u.uid, u.gid), "{} is the user's", p.display());
    }
    assert_eq!(
        owner_of(&d.db),
        (u.uid, u.gid, 0o600),
        "owner and mode kept"
    );
    d.wait_ready(&e);

    break_again(&e, &d, &db);
    let mine = ozrepair(["fix", "--yes", "--output", "json"])
        .on(&e)
        .by_user(u)
        .run();
    assert_eq!(mine.code, 0, "{mine:?}");
    assert_eq!(mine.json()["result"], "fixed", "{mine:?}");
    d.wait_ready(&e);

    let rm = e.docker_as_user(&["rm", "-f", &d.container]);
    assert!(rm.status.success(), "{}", rm.stderr_text());
    let rm = e.docker_as_user(&["volume", "rm", &d.volume]);
    assert!(
        rm.status.success(),
        "the user removes their volume: {}",
        rm.stderr_text()
    );
    assert!(!d.mountpoint.exists(), "the volume's files are gone");
}
