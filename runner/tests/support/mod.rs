//! Helpers shared by the CLI-level integration tests (`mod support;` in each test file): run
//! the built `conform` binary from the workspace root, make a fresh temporary directory, and
//! tell whether a live test can run here (root, a server binary on the PATH).
// Each test binary compiles this module and uses only some of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Runs the `conform` binary of this build with `args`, from the workspace root.
pub fn conform(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_conform"))
        .args(args)
        .current_dir(workspace())
        .output()
        .expect("run conform")
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A fresh, empty directory `<tmp>/conform-<suite>-test-<pid>-<name>`, removed when the
/// test drops it; kept (and its path printed) when the test fails, for a look at what it
/// wrote.
pub fn tmp(suite: &str, name: &str) -> TmpDir {
    let d = std::env::temp_dir().join(format!(
        "conform-{suite}-test-{}-{name}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    TmpDir(d)
}

/// See [`tmp`].
pub struct TmpDir(PathBuf);

impl std::ops::Deref for TmpDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for TmpDir {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl Drop for TmpDir {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("kept for inspection: {}", self.0.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// Whether `bin` is on the PATH (or in /usr/sbin, where Debian puts servers).
pub fn have(bin: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(bin).is_file()))
        || Path::new("/usr/sbin").join(bin).is_file()
}

/// Whether this process runs as root (effective uid 0), read from /proc: no libc call.
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .map(|s| {
            s.lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false)
}

/// Writes `bytes` to `dir/name` and checks that `conform import` and `conform replay` (with
/// `reference` as the offline answers) both reject it with exit 2, an error containing `want`
/// and no panic. Returns the written path, for checks of the offline-target path.
pub fn assert_capture_rejected(
    dir: &Path,
    name: &str,
    bytes: &[u8],
    reference: &str,
    want: &str,
) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    let adapter = format!("pcap:{reference}");
    for cmd in [
        vec![
            "import",
            p.to_str().unwrap(),
            "-o",
            dir.join("x.yaml").to_str().unwrap(),
        ],
        vec![
            "replay",
            p.to_str().unwrap(),
            "--adapter",
            &adapter,
            "--out",
            dir.to_str().unwrap(),
        ],
    ] {
        let o = conform(&cmd);
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{name} {cmd:?}: {err}");
        assert!(err.contains(want), "{name}: expected `{want}` in: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    p
}
