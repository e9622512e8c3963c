// Embeds every migrations/NNNN_*.sql file (Dex's SQLite schema, in Dex's order) into the seeder, so the
// fixtures build their databases from exactly the files the repository ships.
use std::{env, fs, path::PathBuf};

fn embed(dir: &PathBuf, name: &str, out: &mut String) {
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "sql"));
    files.sort();
    out.push_str(&format!("pub static {name}: &[(&str, &str)] = &[\n"));
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
        let n = f.file_name().unwrap().to_string_lossy().into_owned();
        out.push_str(&format!(
            "    ({n:?}, include_str!({:?})),\n",
            f.canonicalize().unwrap()
        ));
    }
    out.push_str("];\n");
}

fn main() {
    let root = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap()).join("../../migrations");
    let mut servers = String::new();
    embed(&root.join("postgres"), "PG_MIGRATIONS", &mut servers);
    embed(&root.join("mysql"), "MYSQL_MIGRATIONS", &mut servers);
    fs::write(
        PathBuf::from(env::var("OUT_DIR").unwrap()).join("server_migrations.rs"),
        servers,
    )
    .unwrap();
    let dir = root;
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "sql"));
    files.sort();
    let mut out = String::from("pub static MIGRATIONS: &[(&str, &str)] = &[\n");
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        out.push_str(&format!(
            "    ({name:?}, include_str!({:?})),\n",
            f.canonicalize().unwrap()
        ));
    }
    out.push_str("];\n");
    fs::write(
        PathBuf::from(env::var("OUT_DIR").unwrap()).join("migrations.rs"),
        out,
    )
    .unwrap();
}
