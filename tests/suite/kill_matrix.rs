//! The kill matrix of `restore` and `backup` (`--db`, no Docker): a debug build aborts at the n-th step of
//! the run (`OZREPAIR_FAULT_STEP=n`, as a SIGKILL would: no cleanup), for every n from 1 until a run
//! completes. After each kill the database, as SQLite reads it, is exactly the old one or the restored one
//! (compared row by row, never a mix), and a run without a fault then completes. The cases: a set without
//! a -wal, a set with a -wal (committed data only there), and a live database with a hot -journal; and a
//! backup of a database with and without a -wal, whose files must not change by one byte.

use crate::util::command::{ozrepair, Run};
use crate::util::run;
use crate::util::seed::{ozr_seed, DexDb};
use crate::util::snapshot::{read_copy, snapshot, Snapshot};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The most steps a case may take before a run must have completed.
const MAX_STEPS: u64 = 2000;

/// What SQLite reads in the database at `db` (a private copy of it and its -journal/-wal/-shm, so that
/// reading changes nothing): integrity_check must say ok, then every row of every table, in order.
fn content(db: &Path) -> String {
    let (_dir, conn) = read_copy(db);
    let ok: String = conn
        .query_row("pragma integrity_check", [], |r| r.get(0))
        .expect("integrity_check");
    assert_eq!(ok, "ok", "the database is sound");
    let tables: Vec<String> = conn
        .prepare("select name from sqlite_master where type = 'table' order by name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut out = String::new();
    for t in tables {
        let mut st = conn
            .prepare(&format!("select * from \"{t}\" order by rowid"))
            .unwrap();
        let n = st.column_count();
        let mut rows = st.query([]).unwrap();
        while let Some(r) = rows.next().unwrap() {
            out.push_str(&t);
            for i in 0..n {
                out.push_str(&format!(" {:?}", r.get_ref(i).unwrap()));
            }
            out.push('\n');
        }
    }
    out
}

fn set_name(db: &Path, name: &str) {
    let conn = rusqlite::Connection::open(db).expect("open");
    conn.execute("update connector set name = ?1 where id = 'local'", [name])
        .expect("update");
}

fn cp_tree(from: &Path, to: &Path) {
    if to.exists() {
        std::fs::remove_dir_all(to).expect("rm");
    }
    let out = run::output(Command::new("cp").arg("-a").arg(from).arg(to));
    assert!(out.status.success(), "{}", out.stderr_text());
}

fn backup(db: &Path) -> Run {
    ozrepair(["--db", &db.to_string_lossy(), "backup", "--yes"]).run()
}

/// The one set under `root` (the newest when there are several).
fn newest_set(root: &Path) -> PathBuf {
    let mut sets: Vec<PathBuf> = std::fs::read_dir(root)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| !p.file_name().unwrap().to_string_lossy().starts_with('.'))
        .collect();
    sets.sort();
    sets.pop().expect("a set")
}

/// Builds the case in `work` with `make` (which returns the set to restore), keeps it as a template, and
/// kills `restore --backup SET` at every step. Returns how many kills there were.
fn restore_matrix(make: fn(&Path) -> PathBuf) -> u64 {
    let root = tempfile::tempdir().expect("tempdir");
    let work = root.path().join("work");
    std::fs::create_dir(&work).unwrap();
    let set = make(&work);
    let tpl = root.path().join("tpl");
    cp_tree(&work, &tpl);
    let db = work.join("idp.db");
    let old = content(&db);
    let new = {
        let d = tempfile::tempdir().unwrap();
        let mut files = vec![];
        for e in std::fs::read_dir(&set).unwrap() {
            files.push(e.unwrap().path());
        }
        for f in files {
            std::fs::copy(&f, d.path().join(f.file_name().unwrap())).unwrap();
        }
        content(&d.path().join("idp.db"))
    };
    assert_ne!(old, new, "the case restores something different");
    let args = [
        "--db".to_string(),
        db.display().to_string(),
        "restore".into(),
        "--backup".into(),
        set.display().to_string(),
        "--yes".into(),
    ];
    let mut kills = 0;
    for n in 1..=MAX_STEPS {
        cp_tree(&tpl, &work);
        let r = ozrepair(&args)
            .env("OZREPAIR_FAULT_STEP", n.to_string())
            .run();
        let now = content(&db);
        if r.code == 0 {
            assert_eq!(now, new, "a completed restore holds the set");
            break;
        }
        assert!(
            r.stderr.contains(&format!("fault injected at step {n} ")),
            "killed at step {n}: {r:?}"
        );
        assert!(
            now == old || now == new,
            "after a kill at step {n} the database is the old one or the restored one:\n{r:?}"
        );
        kills += 1;
        let again = ozrepair(&args).run();
        assert_eq!(
            again.code, 0,
            "a re-run after a kill at step {n} completes: {again:?}"
        );
        assert_eq!(content(&db), new, "the re-run restored the set (step {n})");
        assert!(n < MAX_STEPS, "the restore never completed");
    }
    kills
}

/// A live database and a plain set of an older state.
fn plain_set(work: &Path) -> PathBuf {
    let db = work.join("idp.db");
    DexDb::locked_out().write(&db);
    assert_eq!(backup(&db).code, 0);
    set_name(&db, "changed after the backup");
    newest_set(&work.join("ozrepair-backups"))
}

/// A set with a -wal holding committed data, restored over a live database without one.
fn wal_set(work: &Path) -> PathBuf {
    let db = work.join("idp.db");
    DexDb::locked_out().write(&db);
    let seeded = run::output(ozr_seed().args(["--db", &db.to_string_lossy(), "--wal-pending"]));
    assert_eq!(seeded.status.code(), Some(0), "ozr-seed --wal-pending");
    assert!(work.join("idp.db-wal").exists());
    assert_eq!(backup(&db).code, 0);
    let set = newest_set(&work.join("ozrepair-backups"));
    assert!(set.join("idp.db-wal").exists(), "the set has a -wal");
    set_name(&db, "changed after the backup");
    set
}

/// A plain set restored over a live database with a hot -journal (a writer died mid-transaction).
fn hot_journal_live(work: &Path) -> PathBuf {
    let db = work.join("idp.db");
    DexDb::locked_out().write(&db);
    assert_eq!(backup(&db).code, 0);
    set_name(&db, "changed after the backup");
    let crashed = run::output(ozr_seed().args(["--db", &db.to_string_lossy(), "--hot-journal"]));
    assert_eq!(
        crashed.status.code(),
        Some(9),
        "the writer died mid-transaction"
    );
    assert!(work.join("idp.db-journal").exists(), "a hot journal");
    newest_set(&work.join("ozrepair-backups"))
}

#[test]
fn restore_killed_at_every_step_set_without_wal() {
    let kills = restore_matrix(plain_set);
    assert!(kills >= 30, "{kills} kill points");
    eprintln!("kill matrix, restore of a set without -wal: {kills} kills");
}

#[test]
fn restore_killed_at_every_step_set_with_wal() {
    let kills = restore_matrix(wal_set);
    assert!(kills >= 30, "{kills} kill points");
    eprintln!("kill matrix, restore of a set with -wal: {kills} kills");
}

#[test]
fn restore_killed_at_every_step_live_hot_journal() {
    let kills = restore_matrix(hot_journal_live);
    assert!(kills >= 30, "{kills} kill points");
    eprintln!("kill matrix, restore over a hot journal: {kills} kills");
}

/// The files around the database, without what a backup may add (its lock file and its sets).
fn around(work: &Path) -> Snapshot {
    let mut s = snapshot(work);
    s.retain(|k, _| !k.starts_with("ozrepair-backups") && !k.starts_with(".idp.db.ozrepair-lock"));
    s
}

/// Kills `backup` at every step: the database's files never change; a re-run completes and removes
/// the temporary set the killed run left, and says so.
fn backup_matrix(wal: bool) -> u64 {
    let root = tempfile::tempdir().expect("tempdir");
    let work = root.path().join("work");
    std::fs::create_dir(&work).unwrap();
    let db = work.join("idp.db");
    DexDb::locked_out().write(&db);
    if wal {
        let seeded = run::output(ozr_seed().args(["--db", &db.to_string_lossy(), "--wal-pending"]));
        assert_eq!(seeded.status.code(), Some(0));
    }
    let before = around(&work);
    let backups = work.join("ozrepair-backups");
    let mut kills = 0;
    for n in 1..=MAX_STEPS {
        let r = ozrepair(["--db", &db.to_string_lossy(), "backup", "--yes"])
            .env("OZREPAIR_FAULT_STEP", n.to_string())
            .run();
        assert_eq!(
            around(&work),
            before,
            "the database's files are unchanged (step {n})"
        );
        if r.code == 0 {
            break;
        }
        assert!(
            r.stderr.contains(&format!("fault injected at step {n} ")),
            "killed at step {n}: {r:?}"
        );
        kills += 1;
        let stale = std::fs::read_dir(&backups)
            .map(|rd| {
                rd.filter_map(|e| e.ok())
                    .any(|e| e.file_name().to_string_lossy().starts_with(".tmp-"))
            })
            .unwrap_or(false);
        let again = backup(&db);
        assert_eq!(
            again.code, 0,
            "a re-run after a kill at step {n} completes: {again:?}"
        );
        if stale {
            assert!(
                again.all().contains("left by an interrupted run"),
                "the re-run reports the stale set it removed: {again:?}"
            );
        }
        let left: Vec<String> = std::fs::read_dir(&backups)
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
            .filter(|n| n.starts_with('.'))
            .collect();
        assert!(left.is_empty(), "no temporary set is left: {left:?}");
        assert!(n < MAX_STEPS, "the backup never completed");
    }
    // Every set there restores the database's content.
    let want = content(&db);
    for e in std::fs::read_dir(&backups).unwrap() {
        let set = e.unwrap().path();
        let d = tempfile::tempdir().unwrap();
        for f in std::fs::read_dir(&set).unwrap() {
            let f = f.unwrap().path();
            std::fs::copy(&f, d.path().join(f.file_name().unwrap())).unwrap();
        }
        assert_eq!(content(&d.path().join("idp.db")), want, "{}", set.display());
    }
    kills
}

#[test]
fn backup_killed_at_every_step() {
    let kills = backup_matrix(false);
    assert!(kills >= 30, "{kills} kill points");
    eprintln!("kill matrix, backup: {kills} kills");
}

#[test]
fn backup_killed_at_every_step_with_wal() {
    let kills = backup_matrix(true);
    assert!(kills >= 30, "{kills} kill points");
    eprintln!("kill matrix, backup with -wal: {kills} kills");
}

/// The kill matrix of `restore` of a set that holds a config file, on a deployment in a private engine
/// (its container created and never started, so nothing else writes): `fix --issuer … --no-restart`
/// corrects the static connector in management.json and its row and saves both in a signed set; then
/// `restore` of that set is killed at every step. After each kill the database is the old one or the
/// restored one and management.json holds its old bytes or the set's, never a mix; and `ozrepair restore`
/// run again (without `--backup`: an interrupted restore's journal names the set) finishes the job.
#[test]
fn restore_with_a_config_file_killed_at_every_step() {
    use crate::util::configs::{host_dir, management_json, write_config};
    use crate::util::deploy::{Deployment, OPENZRO};
    use crate::util::engine::{Engine, IMAGE};
    use crate::util::seed::{JC_ID, JUMPCLOUD, JUMPCLOUD_SLASH};
    let e = Engine::start();
    let d = Deployment::create(&e, &OPENZRO, &DexDb::locked_out());
    let cfg = host_dir();
    let file = cfg.path().join("management.json");
    write_config(&file, &management_json(JUMPCLOUD), 0o640, (0, 0));
    e.docker_ok(&[
        "create",
        "--pull",
        "never",
        "--network",
        "none",
        "--name",
        &d.container,
        "-v",
        &format!("{}:/var/lib/openzro", d.volume),
        "-v",
        &format!("{}:/etc/netbird/management.json", file.display()),
        IMAGE,
    ]);
    let fix = ozrepair([
        "fix",
        "--yes",
        "--no-restart",
        "--output",
        "json",
        "--connector",
        JC_ID,
        "--issuer",
        JUMPCLOUD_SLASH,
    ])
    .on(&e)
    .run();
    assert_eq!(fix.code, 0, "{fix:?}");
    assert_eq!(fix.json()["changes"].as_array().map(Vec::len), Some(2));
    let set = PathBuf::from(fix.json()["backup"]["dir"].as_str().expect("the set"));
    // The templates of both places: the volume (database, lock, sets) and the config file's directory.
    let root = tempfile::tempdir().expect("tempdir");
    let (vol_tpl, cfg_tpl) = (root.path().join("vol"), root.path().join("cfg"));
    cp_tree(&d.mountpoint, &vol_tpl);
    cp_tree(cfg.path(), &cfg_tpl);
    let (old_db, old_file) = (content(&d.db), std::fs::read(&file).unwrap());
    let new_file = management_json(JUMPCLOUD).into_bytes();
    assert_ne!(old_file, new_file);
    let set_db = {
        let t = tempfile::tempdir().unwrap();
        std::fs::copy(set.join("idp.db"), t.path().join("idp.db")).unwrap();
        content(&t.path().join("idp.db"))
    };
    assert_ne!(old_db, set_db, "the case restores something different");
    let args = [
        "restore".to_string(),
        "--yes".into(),
        "--backup".into(),
        set.display().to_string(),
    ];
    let mut kills = 0;
    for n in 1..=MAX_STEPS {
        cp_tree(&vol_tpl, &d.mountpoint);
        cp_tree(&cfg_tpl, cfg.path());
        let r = ozrepair(&args)
            .on(&e)
            .env("OZREPAIR_FAULT_STEP", n.to_string())
            .run();
        let (db_now, file_now) = (content(&d.db), std::fs::read(&file).unwrap());
        if r.code == 0 {
            assert_eq!(file_now, new_file, "a completed restore puts the file back");
            assert_eq!(db_now, set_db, "a completed restore holds the set");
            break;
        }
        assert!(
            r.stderr.contains(&format!("fault injected at step {n} ")),
            "killed at step {n}: {r:?}"
        );
        assert!(
            file_now == old_file || file_now == new_file,
            "after a kill at step {n} management.json is its old bytes or the set's"
        );
        assert!(
            db_now == old_db || db_now == set_db,
            "after a kill at step {n} the database is the old one or the restored one"
        );
        kills += 1;
        let again = ozrepair(["restore", "--yes"]).on(&e).run();
        assert_eq!(
            again.code, 0,
            "a re-run after a kill at step {n} finishes: {again:?}"
        );
        assert_eq!(std::fs::read(&file).unwrap(), new_file, "step {n}");
        assert_eq!(
            content(&d.db),
            set_db,
            "the re-run restored the set (step {n})"
        );
        assert!(n < MAX_STEPS, "the restore never completed");
    }
    assert!(kills >= 30, "{kills} kill points");
    eprintln!("kill matrix, restore with a config file: {kills} kills");
}
