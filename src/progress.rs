//! Progress for the person at the terminal, always on stderr (stdout holds only the report, so a script
//! can parse it while a person still sees what happens): one line each, prefixed `ozrepair: ` ([`say`]);
//! for work that takes a while, a line every half second while it lasts ([`Ticker`], [`Bytes`]), drawn as a
//! bar or spinner sized to the terminal when stderr is one, plain lines without times of day otherwise.
//! No step that can take a second goes without a line.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How often long work says that it goes on.
pub const EVERY: Duration = Duration::from_millis(500);
/// How often a [`Ticker`] looks whether it is time to speak.
const LOOK: Duration = Duration::from_millis(100);

/// Prints one progress line on stderr; on a terminal, wrapped onto continuation lines to its width (a
/// long path breaks after a `/`), so that no line runs past the edge.
pub fn say(msg: impl std::fmt::Display) {
    let line = format!("ozrepair: {msg}");
    match std::io::stderr()
        .is_terminal()
        .then(|| columns(2))
        .flatten()
    {
        Some(width) => eprint!("{}", crate::report::text::fit(&line, Some(width))),
        None => eprintln!("{line}"),
    }
    said_now();
}

/// When the last line was printed (or drawn), in milliseconds since [`epoch`].
static LAST: AtomicU64 = AtomicU64::new(0);

/// Starts the clock of the progress lines (the process's start: the first line is due half a second
/// after it).
pub fn start() {
    epoch();
}

/// The process's first look at the clock: the times in [`LAST`] count from it.
fn epoch() -> Instant {
    static EPOCH: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn said_now() {
    LAST.store(epoch().elapsed().as_millis() as u64, Ordering::SeqCst);
}

/// Whether nothing was said for [`EVERY`]: then long work speaks (so that whatever said the last line, a
/// ticker that starts or ends, no gap grows much past half a second).
fn quiet_for_a_while() -> bool {
    let now = epoch().elapsed().as_millis() as u64;
    now.saturating_sub(LAST.load(Ordering::SeqCst)) >= EVERY.as_millis() as u64
}

/// The columns of the terminal on descriptor `fd` (1: stdout, 2: stderr); None when it is not a terminal
/// (or says no width).
pub fn columns(fd: i32) -> Option<usize> {
    // SAFETY: an all-zero winsize is a valid value for the ioctl to fill in.
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    // SAFETY: TIOCGWINSZ writes a winsize into the pointer given; fd is only read.
    let r = unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &mut ws) };
    (r == 0 && ws.ws_col > 0).then_some(ws.ws_col as usize)
}

/// Whether progress is drawn (a bar, a spinner) rather than printed as lines.
fn drawn() -> bool {
    std::io::stderr().is_terminal() && columns(2).is_some()
}

/// `what` (the part of a line before the numbers) cut to fit `width` columns with room for `rest`.
fn short(what: &str, room: usize) -> String {
    if what.chars().count() <= room {
        return what.to_string();
    }
    let keep: String = what.chars().take(room.saturating_sub(1)).collect();
    format!("{keep}…")
}

/// How many [`Bytes`] are showing now: a [`Ticker`] is quiet meanwhile (the bytes say more, and two
/// drawings on one terminal line would garble it).
static BYTES_SHOWN: AtomicUsize = AtomicUsize::new(0);

/// Says, while it is alive, that `what` goes on: after half a second and every half second, a line with
/// the time it has taken so far (or a spinner on a terminal). Dropped, it stops and clears its spinner.
pub struct Ticker {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// Asks who holds what a [`Ticker`] waits for ("pid 1 (…)"), each time it speaks.
pub type Waiting = Box<dyn Fn() -> Option<String> + Send>;

impl Ticker {
    pub fn new(what: impl Into<String>) -> Ticker {
        Ticker::waiting(what, None)
    }

    /// Like [`Ticker::new`], and each line also names who holds what it waits for, when `waiting` says.
    pub fn waiting(what: impl Into<String>, waiting: Option<Waiting>) -> Ticker {
        let what = what.into();
        let said = move || match waiting.as_ref().and_then(|w| w()) {
            Some(who) => format!("{what}: waiting for {who} to let go of it"),
            None => what.clone(),
        };
        let (tx, rx) = mpsc::channel::<()>();
        let started = Instant::now();
        let thread = std::thread::Builder::new()
            .name("progress".into())
            .spawn(move || {
                let mut spinner: Option<indicatif::ProgressBar> = None;
                while let Err(mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(LOOK) {
                    if !quiet_for_a_while() {
                        continue;
                    }
                    if BYTES_SHOWN.load(Ordering::SeqCst) > 0 {
                        if let Some(b) = spinner.take() {
                            b.finish_and_clear();
                        }
                        continue;
                    }
                    let what = said();
                    if !drawn() {
                        say(format!("{what}: {:.1} s", started.elapsed().as_secs_f64()));
                        continue;
                    }
                    let room = columns(2).unwrap_or(80).saturating_sub(24);
                    let b = spinner.get_or_insert_with(|| {
                        let b = indicatif::ProgressBar::new_spinner();
                        if let Ok(s) = indicatif::ProgressStyle::with_template(
                            "ozrepair: {spinner} {msg} {elapsed}",
                        ) {
                            b.set_style(s);
                        }
                        b
                    });
                    b.set_message(short(&what, room));
                    b.tick();
                    said_now();
                }
                if let Some(b) = spinner {
                    b.finish_and_clear();
                }
            })
            .ok();
        Ticker {
            stop: Some(tx),
            thread,
        }
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Runs `f`, saying that `what` goes on while it lasts (see [`Ticker`]).
pub fn during<T>(what: impl Into<String>, f: impl FnOnce() -> T) -> T {
    let _t = Ticker::new(what);
    f()
}

/// Runs `f` like [`during`], each line naming who holds what it waits for (see [`Ticker::waiting`]).
pub fn waiting<T>(what: impl Into<String>, who: Option<Waiting>, f: impl FnOnce() -> T) -> T {
    let _t = Ticker::waiting(what, who);
    f()
}

/// How far a copy of `len` bytes is: a bar sized to the terminal, or a plain line every half second.
pub struct Bytes {
    what: String,
    len: u64,
    bar: Option<indicatif::ProgressBar>,
}

impl Bytes {
    pub fn new(what: &str, len: u64) -> Bytes {
        BYTES_SHOWN.fetch_add(1, Ordering::SeqCst);
        let bar = drawn().then(|| {
            let b = indicatif::ProgressBar::new(len);
            // The numbers take up to 40 columns; the bar takes what is left (wide_bar), the name at most 24.
            let width = columns(2).unwrap_or(80);
            if let Ok(s) = indicatif::ProgressStyle::with_template(
                "{msg} {wide_bar} {bytes}/{total_bytes} {binary_bytes_per_sec} {eta}",
            ) {
                b.set_style(s);
            }
            b.set_message(short(what, 24.min(width.saturating_sub(56))));
            b
        });
        Bytes {
            what: what.to_string(),
            len,
            bar,
        }
    }

    /// `done` bytes are copied.
    pub fn at(&mut self, done: u64) {
        match &self.bar {
            Some(b) => {
                b.set_position(done);
                said_now();
            }
            None if quiet_for_a_while() => {
                say(format!(
                    "{}: {} of {} ({}%)",
                    self.what,
                    mib(done),
                    mib(self.len),
                    done * 100 / self.len.max(1)
                ));
            }
            None => {}
        }
    }

    pub fn done(self) {}
}

impl Drop for Bytes {
    fn drop(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
        BYTES_SHOWN.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Bytes in MiB, one decimal.
fn mib(n: u64) -> String {
    format!("{:.1} MiB", n as f64 / (1u64 << 20) as f64)
}
