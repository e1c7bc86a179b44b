//! Child processes of the real `overture` binary, killed (SIGKILL) when dropped.

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// A running `overture` child process.
pub struct Proc {
    pub child: Child,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Proc {
    /// `kill -9`: no shutdown hooks run.
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `overture` binary built for this test run.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_overture")
}

/// Runs a one-shot command and parses its stdout (JSON, or a bare string).
pub fn run(args: &[&str], envs: &[(&str, String)]) -> Value {
    let out = Command::new(bin()).args(args).envs(envs.iter().map(|(k, v)| (*k, v))).output().unwrap();
    assert!(out.status.success(), "overture {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    serde_json::from_str(text.trim()).unwrap_or(Value::String(text.trim().to_owned()))
}

/// Starts a long-running command and waits for its `{"listening": url}` line; logs go to `log`.
pub fn spawn(args: &[&str], envs: &[(&str, String)], log: &Path) -> (Proc, String) {
    let log = std::fs::OpenOptions::new().create(true).append(true).open(log).unwrap();
    let mut child = Command::new(bin())
        .args(args)
        .envs(envs.iter().map(|(k, v)| (*k, v)))
        .env("RUST_LOG", "info,sqlx=warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log))
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let url = loop {
        let line = lines.next().expect("process exited before listening").unwrap();
        if let Ok(v) = serde_json::from_str::<Value>(&line) {
            if let Some(url) = v["listening"].as_str() {
                break url.to_owned();
            }
        }
    };
    // Keep draining stdout so the child never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (Proc { child }, url)
}

/// A free 127.0.0.1 port (bound and released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}
