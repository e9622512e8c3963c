//! A throwaway certificate authority for a TLS engine, made with openssl.

use crate::util::run;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Writes into `dir` a CA, a server certificate for 127.0.0.1 and a client certificate, in the file names
/// dockerd and the docker CLI expect (ca.pem; server-cert.pem and server-key.pem for the daemon; cert.pem
/// and key.pem for the clients). Returns `dir`.
pub fn make_certs(dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir).expect("certs dir");
    let openssl = |args: &[&str]| {
        let out = run::output(Command::new("openssl").args(args).current_dir(dir));
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            out.stderr_text()
        );
    };
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca-key.pem",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=ozr-test-ca",
    ]);
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
    )
    .expect("ext");
    std::fs::write(dir.join("client.ext"), "extendedKeyUsage=clientAuth\n").expect("ext");
    for (who, ext) in [("server", "server.ext"), ("client", "client.ext")] {
        openssl(&[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            &format!("{who}-key.pem"),
            "-out",
            &format!("{who}.csr"),
            "-subj",
            &format!("/CN={who}"),
        ]);
        openssl(&[
            "x509",
            "-req",
            "-in",
            &format!("{who}.csr"),
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca-key.pem",
            "-CAcreateserial",
            "-out",
            &format!("{who}-cert.pem"),
            "-days",
            "2",
            "-extfile",
            ext,
        ]);
    }
    std::fs::copy(dir.join("client-cert.pem"), dir.join("cert.pem")).expect("cert.pem");
    std::fs::copy(dir.join("client-key.pem"), dir.join("key.pem")).expect("key.pem");
    dir.to_path_buf()
}
