//! The one HTTP stub: a one-request-per-connection HTTP/1.1 server on 127.0.0.1 (the only address these
//! tests contact) whose replies a route decides, and [`Discovery`], an OpenID discovery endpoint built on
//! it. Dropping a server stops and joins every thread it started.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// The path of the discovery document under an issuer.
const WELL_KNOWN: &str = "/.well-known/openid-configuration";

/// What the server answers. The status line's reason phrase is always `X`, so that a client's message
/// that names the status ("404 Not Found") is its own.
pub enum Reply {
    /// A status and a body.
    Body(u16, String),
    /// A redirect with this status and Location.
    Redirect(u16, String),
    /// Sleeps, then answers 200 with this body.
    SlowHeaders(Duration, String),
    /// Sends 200 headers promising a body, then sleeps before sending it.
    SlowBody(Duration, String),
}

type Route = dyn Fn(&str, &str) -> Reply + Send + Sync;

pub struct StubServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    hits: Arc<Mutex<Vec<String>>>,
    accept: Option<JoinHandle<()>>,
    workers: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl StubServer {
    /// `route(path, base)` decides the reply; `base` is `http://127.0.0.1:PORT`.
    pub fn start(route: impl Fn(&str, &str) -> Reply + Send + Sync + 'static) -> StubServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let stop = Arc::new(AtomicBool::new(false));
        let hits = Arc::new(Mutex::new(Vec::new()));
        let workers = Arc::new(Mutex::new(Vec::new()));
        let route: Arc<Route> = Arc::new(route);
        let accept = {
            let (stop, hits, workers) = (stop.clone(), hits.clone(), workers.clone());
            thread::spawn(move || {
                let base = format!("http://{addr}");
                for conn in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(conn) = conn else { continue };
                    let (stop, hits, route, base) =
                        (stop.clone(), hits.clone(), route.clone(), base.clone());
                    let worker = thread::spawn(move || serve(conn, &base, &*route, &hits, &stop));
                    workers.lock().expect("workers").push(worker);
                }
            })
        };
        StubServer {
            addr,
            stop,
            hits,
            accept: Some(accept),
            workers,
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The paths requested so far, in order.
    pub fn hits(&self) -> Vec<String> {
        self.hits.lock().expect("hits").clone()
    }
}

impl Drop for StubServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr); // wakes the accept loop
        if let Some(a) = self.accept.take() {
            let _ = a.join();
        }
        let workers = std::mem::take(&mut *self.workers.lock().expect("workers"));
        for w in workers {
            let _ = w.join();
        }
    }
}

/// Sleeps `d` in small steps, returning early when the server stops.
fn nap(d: Duration, stop: &AtomicBool) {
    let until = Instant::now() + d;
    while Instant::now() < until && !stop.load(Ordering::SeqCst) {
        thread::sleep(Duration::from_millis(20));
    }
}

fn head(status: u16, len: usize, extra: &str) -> String {
    format!(
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {len}\r\n{extra}Connection: close\r\n\r\n"
    )
}

fn serve(
    mut conn: TcpStream,
    base: &str,
    route: &Route,
    hits: &Mutex<Vec<String>>,
    stop: &AtomicBool,
) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
    let mut req = Vec::new();
    let mut buf = [0u8; 4096];
    while !req.windows(4).any(|w| w == b"\r\n\r\n") && req.len() < 65536 {
        match conn.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => req.extend_from_slice(&buf[..n]),
        }
        if req.first() == Some(&0x16) {
            // A TLS ClientHello: answer like a plain HTTP server does.
            let _ = conn.write_all(b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n");
            return;
        }
    }
    let text = String::from_utf8_lossy(&req);
    let Some(path) = text.split_whitespace().nth(1) else {
        return;
    };
    hits.lock().expect("hits").push(path.to_string());
    let _ = match route(path, base) {
        Reply::Body(status, body) => {
            conn.write_all(format!("{}{body}", head(status, body.len(), "")).as_bytes())
        }
        Reply::Redirect(status, loc) => {
            conn.write_all(head(status, 0, &format!("Location: {loc}\r\n")).as_bytes())
        }
        Reply::SlowHeaders(d, body) => {
            nap(d, stop);
            conn.write_all(format!("{}{body}", head(200, body.len(), "")).as_bytes())
        }
        Reply::SlowBody(d, body) => {
            let _ = conn.write_all(head(200, body.len(), "").as_bytes());
            let _ = conn.flush();
            nap(d, stop);
            conn.write_all(body.as_bytes())
        }
    };
    let _ = conn.flush();
}

/// An identity provider's discovery endpoint: serves `GET <path>/.well-known/openid-configuration` with
/// `{"issuer": <value>}` for each path it publishes; everything else is 404. What it publishes can
/// change while it runs.
pub struct Discovery {
    server: StubServer,
    issuers: Arc<Mutex<BTreeMap<String, String>>>,
}

impl Discovery {
    pub fn start() -> Discovery {
        let issuers: Arc<Mutex<BTreeMap<String, String>>> = Arc::default();
        let published = issuers.clone();
        let server = StubServer::start(move |path, _| {
            let issuer = path.strip_suffix(WELL_KNOWN).and_then(|at| {
                let published = published.lock().expect("issuers");
                published.get(at).cloned()
            });
            match issuer {
                Some(i) => Reply::Body(
                    200,
                    serde_json::json!({ "issuer": i, "jwks_uri": "x" }).to_string(),
                ),
                None => Reply::Body(404, "not found".to_string()),
            }
        });
        Discovery { server, issuers }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base(&self) -> String {
        self.server.base()
    }

    /// Publishes `issuer` at `path` (replacing what that path published before).
    pub fn publish(&self, path: &str, issuer: &str) {
        self.issuers
            .lock()
            .expect("issuers")
            .insert(path.to_string(), issuer.to_string());
    }

    /// Publishes nothing any more: every path is 404.
    pub fn withdraw_all(&self) {
        self.issuers.lock().expect("issuers").clear();
    }
}
