//! Running the helper programs the tests need (docker, openssl, ssh-keygen, mount, the build scripts,
//! the `ozr-seed` fixture) and the binary under test: stdin from /dev/null unless given, stdout and
//! stderr captured, and a time limit after which the child is killed and the test fails with the
//! command and whatever it printed so far.

use std::io::{Read, Write};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long a helper program may take unless told otherwise.
pub const HELPER_LIMIT: Duration = Duration::from_secs(120);

/// What a finished command printed and how it ended.
pub struct Finished {
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl Finished {
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}

/// Runs `cmd` to the end (at most [`HELPER_LIMIT`]).
pub fn output(cmd: &mut Command) -> Finished {
    Running::spawn(cmd, None, false, HELPER_LIMIT).wait()
}

/// Runs `cmd` to the end within `limit`.
pub fn output_within(cmd: &mut Command, limit: Duration) -> Finished {
    Running::spawn(cmd, None, false, limit).wait()
}

/// The program and its arguments, for messages.
fn describe(cmd: &Command) -> String {
    std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|a| a.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// A child being run: its output is read by two threads while it runs, so a full pipe never blocks it.
pub struct Running {
    child: Child,
    what: String,
    stdout: Capture,
    stderr: Capture,
    stdin: Option<JoinHandle<()>>,
    deadline: Instant,
    limit: Duration,
}

/// The bytes read so far from one of the child's pipes, and the thread reading them.
struct Capture {
    bytes: Arc<Mutex<Vec<u8>>>,
    reader: Option<JoinHandle<()>>,
}

impl Capture {
    fn of(pipe: Option<impl Read + Send + 'static>) -> Capture {
        let bytes: Arc<Mutex<Vec<u8>>> = Arc::default();
        let reader = pipe.map(|mut r| {
            let sink = bytes.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 8192];
                loop {
                    match r.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => sink.lock().expect("capture").extend_from_slice(&buf[..n]),
                    }
                }
            })
        });
        Capture { bytes, reader }
    }

    fn done(&self) -> bool {
        self.reader.as_ref().is_none_or(JoinHandle::is_finished)
    }

    fn take(&mut self) -> Vec<u8> {
        if let Some(r) = self.reader.take().filter(JoinHandle::is_finished) {
            let _ = r.join();
        }
        std::mem::take(&mut *self.bytes.lock().expect("capture"))
    }
}

impl Running {
    /// Starts `cmd` with `stdin` (None: /dev/null) and its stdout captured, or closed at once when
    /// `close_stdout`. It must end, and close its pipes, within `limit`.
    pub fn spawn(
        cmd: &mut Command,
        stdin: Option<Vec<u8>>,
        close_stdout: bool,
        limit: Duration,
    ) -> Running {
        let what = describe(cmd);
        cmd.stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
        let stdin = stdin.and_then(|bytes| {
            let mut pipe = child.stdin.take()?;
            Some(std::thread::spawn(move || {
                let _ = pipe.write_all(&bytes);
            }))
        });
        let out = child.stdout.take();
        let stdout = Capture::of(out.filter(|_| !close_stdout));
        let stderr = Capture::of(child.stderr.take());
        Running {
            child,
            what,
            stdout,
            stderr,
            stdin,
            deadline: Instant::now() + limit,
            limit,
        }
    }

    /// Waits until the child has exited and closed its pipes; kills it and fails the test, with what it
    /// printed, when that takes longer than the limit.
    pub fn wait(mut self) -> Finished {
        let status = loop {
            let exited = self.child.try_wait().expect("wait for child");
            if let Some(st) = exited.filter(|_| self.stdout.done() && self.stderr.done()) {
                break st;
            }
            if Instant::now() > self.deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                // What it printed up to now; a grandchild may still hold a pipe open, so not forever.
                let grace = Instant::now() + Duration::from_secs(2);
                while !(self.stdout.done() && self.stderr.done()) && Instant::now() < grace {
                    std::thread::sleep(Duration::from_millis(5));
                }
                panic!(
                    "{} did not finish within {:?}; it was killed.\nstdout:\n{}\nstderr:\n{}",
                    self.what,
                    self.limit,
                    String::from_utf8_lossy(&self.stdout.take()),
                    String::from_utf8_lossy(&self.stderr.take())
                );
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        if let Some(w) = self.stdin.take() {
            let _ = w.join();
        }
        Finished {
            status,
            stdout: self.stdout.take(),
            stderr: self.stderr.take(),
        }
    }
}
