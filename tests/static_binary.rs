//! The static release binary (scripts/build-static.sh) runs on a bare FROM scratch image: no libc, no
//! SQLite, nothing but the file itself, and inspects a real Dex database there.

mod common;
use common::*;
use std::path::PathBuf;
use std::process::Command;

#[test]
fn the_static_binary_runs_in_an_empty_image() {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let bin = repo.join("target/static/ozrepair");
    if std::env::var_os("OZR_STATIC_BUILT").is_none() || !bin.exists() {
        let st = Command::new(repo.join("scripts/build-static.sh"))
            .status()
            .unwrap();
        assert!(st.success(), "scripts/build-static.sh failed");
    }
    let root = tempfile::tempdir().unwrap();
    std::fs::copy(&bin, root.path().join("ozrepair")).unwrap();
    let tar = root.path().join("rootfs.tar");
    let st = Command::new("tar")
        .args([
            "-C",
            root.path().to_str().unwrap(),
            "-cf",
            tar.to_str().unwrap(),
            "ozrepair",
        ])
        .status()
        .unwrap();
    assert!(st.success());

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
    seed_db(
        &mp.join("idp.db"),
        11,
        &[local_row(), jumpcloud_row(JUMPCLOUD)],
        (0, 0),
        0o644,
    );
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
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["connectors"][1]["issuer"], JUMPCLOUD);
    assert_eq!(j["database"]["dex_migrations"], 11);
}
