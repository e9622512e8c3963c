//! A real terminal for one run of a program: util-linux's `script` gives it a pseudo-terminal for stdin,
//! stdout and stderr, and `stty` sets its size before the program starts, so the program sees what it
//! would see in an operator's terminal of that width. What the terminal received comes back raw;
//! [`drawn_lines`] cuts it into what was drawn on each line (at every line feed and carriage return,
//! escape sequences removed), to be measured in display columns.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// What one run in a terminal printed, and how it ended.
#[derive(Debug)]
pub struct TtyRun {
    pub code: i32,
    /// Everything the terminal received (stdout and stderr alike), escape sequences and all.
    pub raw: String,
}

/// A word for `sh -c`, quoted.
fn quoted(word: &str) -> String {
    format!("'{}'", word.replace('\'', "'\\''"))
}

/// Runs `program` with `args` in a terminal `cols` columns wide, with `env` (and a clean environment
/// otherwise: PATH, HOME and TERM=xterm). `answer`: when the output shows the first string, the second is
/// typed (as a person would, after the prompt appears).
pub fn run_in_terminal(
    program: &str,
    args: &[String],
    env: &[(String, String)],
    cols: u16,
    answer: Option<(&str, &str)>,
    limit: Duration,
) -> TtyRun {
    let line = std::iter::once(quoted(program))
        .chain(args.iter().map(|a| quoted(a)))
        .collect::<Vec<_>>()
        .join(" ");
    let mut cmd = Command::new("script");
    cmd.args(["-q", "-e", "-f", "-c"])
        .arg(format!("stty cols {cols} rows 60; exec {line}"))
        .arg("/dev/null")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", std::env::var_os("HOME").unwrap_or_default())
        .env("TERM", "xterm")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("run script (util-linux)");
    let mut out = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel::<Vec<u8>>();
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        loop {
            match out.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if tx.send(buf[..n].to_vec()).is_err() {
                        break;
                    }
                }
            }
        }
    });
    let mut stdin = child.stdin.take();
    let mut answer = answer;
    let mut raw: Vec<u8> = Vec::new();
    let end = Instant::now() + limit;
    loop {
        match rx.recv_timeout(Duration::from_millis(50)) {
            Ok(chunk) => raw.extend_from_slice(&chunk),
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
        if let Some((prompt, reply)) = answer {
            if String::from_utf8_lossy(&raw).contains(prompt) {
                if let Some(s) = stdin.as_mut() {
                    s.write_all(reply.as_bytes()).expect("type the answer");
                }
                answer = None;
            }
        }
        if Instant::now() > end {
            let _ = child.kill();
            panic!(
                "{line} did not finish in the terminal within {limit:?}:\n{}",
                String::from_utf8_lossy(&raw)
            );
        }
    }
    drop(stdin);
    let status = child.wait().expect("wait for script");
    let _ = reader.join();
    TtyRun {
        code: status.code().unwrap_or(-1),
        raw: String::from_utf8_lossy(&raw).into_owned(),
    }
}

/// What was drawn on each line: the text between line feeds and carriage returns, without escape
/// sequences (CSI, OSC, and two-byte ones).
pub fn drawn_lines(raw: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut cur = String::new();
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\n' | '\r' => lines.push(std::mem::take(&mut cur)),
            '\x1b' => match chars.next() {
                Some('[') => {
                    for c in chars.by_ref() {
                        if ('\x40'..='\x7e').contains(&c) {
                            break;
                        }
                    }
                }
                Some(']') => {
                    while let Some(c) = chars.next() {
                        if c == '\x07' || (c == '\x1b' && chars.next_if_eq(&'\\').is_some()) {
                            break;
                        }
                    }
                }
                _ => {}
            },
            c if c.is_control() => {}
            c => cur.push(c),
        }
    }
    lines.push(cur);
    lines
}

/// The drawn lines wider than `cols` display columns.
pub fn wider_than(raw: &str, cols: usize) -> Vec<String> {
    use unicode_width::UnicodeWidthStr;
    drawn_lines(raw)
        .into_iter()
        .filter(|l| l.width() > cols)
        .collect()
}
