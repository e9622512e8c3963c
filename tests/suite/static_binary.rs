//! The static release binary (scripts/build-static.sh) runs on a bare FROM scratch image: no libc, no
//! SQLite, nothing but the file itself, and inspects a real Dex database there.

use crate::util::engine::Engine;
use crate::util::run;
use crate::util::seed::{DexDb, JUMPCLOUD};
use std::path::PathBuf;
use std::process::Command;

#[test]
fn the_static_binary_runs_in_an_empty_image() {
    let bin = crate::util::release::static_binary();
    let root = tempfile::tempdir().unwrap();
    std::fs::copy(&bin, root.path().join("ozrepair")).unwrap();
    let tar = root.path().join("rootfs.tar");
    let packed = run::output(
        Command::new("tar")
            .arg("-C")
            .arg(root.path())
            .arg("-cf")
            .arg(&tar)
            .arg("ozrepair"),
    );
    assert!(packed.status.success(), "{}", packed.stderr_text());

    let e = Engine::start();
    e.docker_ok(&["import", tar.to_str().unwrap(), "ozrepair-static:test"]);
    let version = e.docker_ok(&[
        "run",
        "--rm",
        "--pull",
        "never",
        "--network",
        "none",
        "ozrepair-static:test",
        "/ozrepair",
        "--version",
    ]);
    assert!(version.starts_with("ozrepair "), "{version}");

    e.docker_ok(&["volume", "create", "data"]);
    let mp = PathBuf::from(e.docker_ok(&["volume", "inspect", "-f", "{{.Mountpoint}}", "data"]));
    DexDb::locked_out().write(&mp.join("idp.db"));
    let out = e.docker(&[
        "run",
        "--rm",
        "--pull",
        "never",
        "--network",
        "none",
        "-v",
        "data:/data",
        "ozrepair-static:test",
        "/ozrepair",
        "--db",
        "/data/idp.db",
        "inspect",
        "--output",
        "json",
    ]);
    // It reads the store (exit 5: with --db nothing vouches for the JumpCloud connector).
    assert_eq!(out.status.code(), Some(5), "{}", out.stderr_text());
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["result"], "unchecked");
    assert_eq!(j["connectors"][1]["issuer"], JUMPCLOUD);
    assert_eq!(j["database"]["dex_migrations"], 11);
}
