//! Running helper programs (`ip`, configuration checks) with a deadline, and finding binaries.
//!
//! Every wait here has a timeout: a helper that hangs is killed (it is our own child, by PID)
//! and reported, never waited on forever.

use crate::error::LabError;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long one `ip` command may take; they normally take a few ms.
pub(crate) const IP_TIMEOUT: Duration = Duration::from_secs(10);

/// Directories searched after `PATH`: servers live in sbin, which a non-login shell's (or
/// cargo's) `PATH` may lack.
const SBIN_DIRS: &[&str] = &[
    "/usr/local/sbin",
    "/usr/sbin",
    "/sbin",
    "/usr/local/bin",
    "/usr/bin",
    "/bin",
];

/// The absolute path of program `name` (as given if it contains a `/`).
pub fn find_binary(name: &str) -> Option<PathBuf> {
    if name.contains('/') {
        let p = PathBuf::from(name);
        return is_executable(&p).then_some(p);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(SBIN_DIRS.iter().map(PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// `find_binary`, or the lab's "not found: apt-get install ..." error.
pub(crate) fn require_binary(name: &str, packages: &[String]) -> Result<PathBuf, LabError> {
    find_binary(name).ok_or_else(|| LabError::MissingBinary {
        binary: name.to_string(),
        install: if packages.is_empty() {
            name.to_string()
        } else {
            packages.join(" ")
        },
    })
}

/// The effective user is root (uid 0), read from `/proc/self/status`.
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|euid| euid == "0"))
        })
        .unwrap_or(false)
}

/// The outcome of a finished helper.
#[derive(Debug)]
pub(crate) struct Output {
    pub success: bool,
    pub status: String,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `argv` (with `stdin` text if given) and waits at most `timeout`, killing it after that.
/// Blocking: call from a blocking context or accept a few ms on the caller's thread.
pub(crate) fn run(
    argv: &[String],
    envs: &[(String, String)],
    stdin: Option<&str>,
    timeout: Duration,
) -> Result<Output, LabError> {
    let shown = argv.join(" ");
    let (prog, args) = argv.split_first().ok_or_else(|| LabError::Command {
        cmd: shown.clone(),
        detail: "empty command".into(),
    })?;
    let mut cmd = Command::new(prog);
    cmd.args(args)
        .envs(envs.iter().map(|(k, v)| (k, v)))
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| LabError::Command {
        cmd: shown.clone(),
        detail: format!("cannot start it: {e}"),
    })?;
    if let (Some(text), Some(mut w)) = (stdin, child.stdin.take()) {
        // Small inputs (batch files of a few lines) fit the pipe buffer; a write error shows up
        // as the command's own failure below.
        let _ = w.write_all(text.as_bytes());
    }
    // Read the pipes on helper threads so a chatty child cannot block on a full pipe. Results
    // come back over channels with a deadline: a grandchild that inherited a pipe must not
    // make us wait forever.
    let reader = |pipe: Option<Box<dyn Read + Send>>| {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut s = String::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_string(&mut s);
            }
            let _ = tx.send(s);
        });
        rx
    };
    let out_rx = reader(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let err_rx = reader(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(st)) => break Some(st),
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(1)),
            Err(e) => {
                return Err(LabError::Command {
                    cmd: shown,
                    detail: format!("wait failed: {e}"),
                });
            }
        }
    };
    let stdout = out_rx
        .recv_timeout(Duration::from_secs(1))
        .unwrap_or_default();
    let stderr = err_rx
        .recv_timeout(Duration::from_secs(1))
        .unwrap_or_default();
    match status {
        None => Err(LabError::Command {
            cmd: shown,
            detail: format!("timed out after {} ms and was killed", timeout.as_millis()),
        }),
        Some(st) => Ok(Output {
            success: st.success(),
            status: describe_status(st),
            stdout,
            stderr,
        }),
    }
}

/// Runs `argv` and turns a failure into `LabError::Command` with the tool's own message.
pub(crate) fn run_ok(argv: &[String], stdin: Option<&str>) -> Result<String, LabError> {
    let o = run(argv, &[], stdin, IP_TIMEOUT)?;
    if o.success {
        Ok(o.stdout)
    } else {
        let msg = o.stderr.trim();
        Err(LabError::Command {
            cmd: argv.join(" "),
            detail: format!(
                "{}: {}",
                o.status,
                if msg.is_empty() { o.stdout.trim() } else { msg }
            ),
        })
    }
}

/// `exit status 3`, `killed by signal 9`.
pub(crate) fn describe_status(st: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (st.code(), st.signal()) {
        (Some(c), _) => format!("exit status {c}"),
        (None, Some(s)) => format!("killed by signal {s}"),
        _ => st.to_string(),
    }
}

/// Helper: `["ip", args...]` as owned strings.
pub(crate) fn ip(args: &[&str]) -> Vec<String> {
    std::iter::once("ip")
        .chain(args.iter().copied())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_sh_and_not_nonsense() {
        assert!(find_binary("sh").is_some());
        assert!(find_binary("conform-no-such-binary-xyz").is_none());
        let e = require_binary(
            "conform-no-such-binary-xyz",
            &["pkg-a".into(), "pkg-b".into()],
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "conform-no-such-binary-xyz not found: apt-get install pkg-a pkg-b"
        );
    }

    #[test]
    fn run_captures_status_and_output_and_times_out() {
        let o = run(
            &[
                "sh".into(),
                "-c".into(),
                "echo out; echo err >&2; exit 3".into(),
            ],
            &[],
            None,
            Duration::from_secs(5),
        )
        .unwrap();
        assert!(!o.success);
        assert_eq!(o.status, "exit status 3");
        assert_eq!(o.stdout.trim(), "out");
        assert_eq!(o.stderr.trim(), "err");
        let t = Instant::now();
        let e = run(
            &["sleep".into(), "5".into()],
            &[],
            None,
            Duration::from_millis(100),
        )
        .unwrap_err();
        assert!(e.to_string().contains("timed out"), "{e}");
        assert!(t.elapsed() < Duration::from_secs(3));
        let o = run(&["cat".into()], &[], Some("hello"), Duration::from_secs(5)).unwrap();
        assert_eq!(o.stdout, "hello");
    }
}
