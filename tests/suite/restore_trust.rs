//! Restore trusts nothing a container could have written. A backup set lives in the volume by default,
//! which the IdP's container (its own user, possibly compromised) can write: restore puts files back only
//! where ozrepair finds the deployment's config files itself (never where a manifest points), puts a set's
//! config files back only when this host's key signs its manifest, checks every destination before its
//! first swap, and still restores a set an older build wrote (its database; it was never signed).

use crate::util::backups::backup_sets;
use crate::util::command::ozrepair;
use crate::util::configs::{management_json, with_management_json};
use crate::util::deploy::Deployment;
use crate::util::engine::Engine;
use crate::util::seed::{rows, DexDb, JC_ID, JUMPCLOUD};
use std::path::{Path, PathBuf};

/// The container's user in the stand-in's layouts (what a set written from inside would be owned by).
const CONTAINER_UID: u32 = 1001;

/// A locked-out deployment whose static connector lives in a bind-mounted management.json, fixed once:
/// the file and the row now hold the corrected issuer, and a signed set holds the old file and row.
fn fixed_once(e: &Engine) -> (tempfile::TempDir, PathBuf, Deployment, PathBuf) {
    let (dir, file, d) = with_management_json(e, &management_json(JUMPCLOUD), 0o640, (0, 0), &[]);
    d.wait_restarts(e, 2);
    let fix = ozrepair(["fix", "--yes", "--output", "json"]).on(e).run();
    assert_eq!(fix.code, 0, "{fix:?}");
    let set = PathBuf::from(fix.json()["backup"]["dir"].as_str().expect("the set"));
    let m = manifest(&set);
    assert!(m["mac"].is_string(), "the set is signed: {m}");
    assert_eq!(m["configs"][0]["source"], file.display().to_string());
    (dir, file, d, set)
}

fn manifest(set: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(set.join("manifest.json")).expect("manifest"))
        .expect("manifest JSON")
}

/// A copy of `set` under a newer name beside it, its manifest changed by `edit` (and made newest), all of
/// it owned by the container's user, as a container that forged it would leave it.
fn forge(set: &Path, edit: impl FnOnce(&Path, &mut serde_json::Value)) -> PathBuf {
    let forged = set.with_file_name("idp.db-29991231T000000Z");
    std::fs::create_dir(&forged).expect("forged set");
    for f in std::fs::read_dir(set).expect("set") {
        let f = f.expect("entry").path();
        std::fs::copy(&f, forged.join(f.file_name().expect("name"))).expect("copy");
    }
    let mut m = manifest(&forged);
    m["created"] = "2999-12-31T00:00:00Z".into();
    edit(&forged, &mut m);
    std::fs::write(
        forged.join("manifest.json"),
        serde_json::to_vec_pretty(&m).expect("JSON"),
    )
    .expect("write manifest");
    for f in std::fs::read_dir(&forged)
        .expect("forged")
        .map(|f| f.expect("entry").path())
        .chain([forged.clone()])
    {
        std::os::unix::fs::chown(&f, Some(CONTAINER_UID), Some(CONTAINER_UID)).expect("chown");
    }
    forged
}

fn sha256_hex(bytes: &[u8]) -> String {
    crate::util::hash::sha256_hex(bytes)
}

#[test]
fn a_forged_manifest_never_steers_a_root_restore_to_another_file() {
    let e = Engine::start();
    let (_dir, file, d, set) = fixed_once(&e);
    let victim_dir = tempfile::tempdir_in("/var/tmp").expect("victim dir");
    let victim = victim_dir.path().join("victim.conf");
    std::fs::write(&victim, "the victim's own bytes\n").expect("victim");
    let fixed_file = std::fs::read(&file).expect("read");
    let fixed_rows = rows(&d.db);
    let forged = forge(&set, |_, m| {
        m["configs"][0]["source"] = victim.display().to_string().into();
    });
    let run = ozrepair(["restore", "--yes", "--output", "json"])
        .on(&e)
        .run();
    assert_eq!(run.code, 1, "{run:?}");
    let err = run.json()["error"].as_str().unwrap_or_default().to_string();
    assert!(err.contains(&victim.display().to_string()), "{err}");
    assert!(err.contains("nothing was changed"), "{err}");
    assert!(
        err.contains(&forged.display().to_string()),
        "the newest set was chosen: {err}"
    );
    assert_eq!(
        std::fs::read(&victim).expect("victim"),
        b"the victim's own bytes\n",
        "the host file is untouched"
    );
    assert_eq!(std::fs::read(&file).expect("read"), fixed_file);
    assert_eq!(rows(&d.db), fixed_rows, "the database is untouched");
}

#[test]
fn a_forged_set_with_legitimate_paths_puts_no_bytes_into_a_host_file() {
    let e = Engine::start();
    let (_dir, file, d, set) = fixed_once(&e);
    let fixed_file = std::fs::read(&file).expect("read");
    let forged_bytes = b"{\"forged\": true}\n".to_vec();
    let forged = forge(&set, |dir, m| {
        let name = m["configs"][0]["name"].as_str().expect("name").to_string();
        std::fs::write(dir.join(&name), &forged_bytes).expect("forge the copy");
        m["configs"][0]["sha256"] = sha256_hex(&forged_bytes).into();
        m["configs"][0]["size"] = forged_bytes.len().into();
    });
    let run = ozrepair(["restore", "--yes", "--no-restart", "--output", "json"])
        .on(&e)
        .run();
    assert_eq!(run.code, 0, "{run:?}");
    let j = run.json();
    assert_eq!(j["result"], "restored", "{run:?}");
    assert_eq!(j["backup"]["dir"], forged.display().to_string());
    assert_eq!(
        std::fs::read(&file).expect("read"),
        fixed_file,
        "no byte of the forged copy reached the host file"
    );
    let notes = j["notes"].to_string();
    assert!(notes.contains("was not put back"), "{notes}");
    assert!(notes.contains("not signed with this host's key"), "{notes}");
    // The database (which the container can write anyway) is the set's.
    let jc = rows(&d.db)
        .into_iter()
        .find(|r| r.id == JC_ID)
        .expect("row");
    assert!(
        jc.config_text().contains(&format!("\"{JUMPCLOUD}\"")),
        "{}",
        jc.config_text()
    );

    // The genuine set puts the file back too: it is signed.
    let back = ozrepair([
        "restore",
        "--yes",
        "--no-restart",
        "--output",
        "json",
        "--backup",
        &set.display().to_string(),
    ])
    .on(&e)
    .run();
    assert_eq!(back.code, 0, "{back:?}");
    assert_eq!(
        std::fs::read_to_string(&file).expect("read"),
        management_json(JUMPCLOUD),
        "the set's own copy"
    );
}

#[test]
fn restore_checks_every_destination_before_its_first_swap() {
    let e = Engine::start();
    let (dir, file, d, set) = fixed_once(&e);
    let fixed_file = std::fs::read(&file).expect("read");
    let fixed_rows = rows(&d.db);
    // A second name for the file: putting it back by rename would split it; refused before anything.
    let other = dir.path().join("management.json.link");
    std::fs::hard_link(&file, &other).expect("link");
    let run = ozrepair([
        "restore",
        "--yes",
        "--no-restart",
        "--output",
        "json",
        "--backup",
        &set.display().to_string(),
    ])
    .on(&e)
    .run();
    assert_eq!(run.code, 1, "{run:?}");
    let err = run.json()["error"].as_str().unwrap_or_default().to_string();
    assert!(err.contains("hard links"), "{err}");
    assert!(err.contains("nothing was restored"), "{err}");
    assert_eq!(rows(&d.db), fixed_rows, "the database was not swapped");
    assert_eq!(std::fs::read(&file).expect("read"), fixed_file);
    assert_eq!(std::fs::read(&other).expect("read"), fixed_file);
}

#[test]
fn a_set_an_older_build_wrote_is_still_restored() {
    let fixture = crate::util::repo().join("tests/data/legacy-set");
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("idp.db");
    DexDb::locked_out().write(&db);
    let sets = dir.path().join("ozrepair-backups");
    std::fs::create_dir(&sets).expect("sets");
    let mut copied = None;
    for s in std::fs::read_dir(&fixture).expect("fixture") {
        let s = s.expect("entry").path();
        let to = sets.join(s.file_name().expect("name"));
        std::fs::create_dir(&to).expect("set dir");
        for f in std::fs::read_dir(&s).expect("set") {
            let f = f.expect("file").path();
            std::fs::copy(&f, to.join(f.file_name().expect("name"))).expect("copy");
        }
        copied = Some(to);
    }
    let set = copied.expect("the fixture holds a set");
    assert!(
        manifest(&set)["mac"].is_null(),
        "an older build's set is not signed"
    );
    let run = ozrepair([
        "--db",
        &db.display().to_string(),
        "--output",
        "json",
        "restore",
        "--backup",
        &set.display().to_string(),
        "--allow-other-database",
        "--yes",
    ])
    .run();
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.json()["result"], "restored");
    let now = rows(&db);
    assert!(now.iter().any(|r| r.id == "legacy-jc"), "{now:?}");
    assert_eq!(
        backup_sets(&sets).len(),
        2,
        "the set and the copy saved before it"
    );
}
