//! Errors of the lab: all are harness faults (they give the `error` verdict, never `fail`),
//! and each message names the thing that is missing or broken and, where it helps, the fix.

use conform_adapters::AdapterError;
use std::path::PathBuf;

/// Why a target profile could not be found, read or accepted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProfileError {
    /// Neither a built-in profile nor a readable file.
    #[error(
        "unknown target `{name}`: not a built-in profile (built-in: {builtins}) and no such file"
    )]
    Unknown { name: String, builtins: String },
    #[error("failed to read profile {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The YAML did not match the profile format (unknown or missing field, wrong type).
    #[error("failed to parse profile {origin}: {message}")]
    Parse { origin: String, message: String },
    /// The YAML parsed but values are invalid; every problem names its field.
    #[error("invalid profile {origin}:\n  - {}", problems.join("\n  - "))]
    Invalid {
        origin: String,
        problems: Vec<String>,
    },
}

/// Why a lab could not be built, run or torn down.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LabError {
    #[error(transparent)]
    Profile(#[from] ProfileError),
    /// A program the lab or the profile needs is not installed.
    #[error("{binary} not found: apt-get install {install}")]
    MissingBinary { binary: String, install: String },
    #[error(
        "building a lab needs root (network namespaces, veth, raw sockets); \
         run as root or inside a user+network namespace with CAP_NET_ADMIN and CAP_NET_RAW"
    )]
    NotRoot,
    #[error("no such interface `{0}`")]
    NoSuchInterface(String),
    /// The server process ended before it became ready.
    #[error("{server} exited during startup ({status}); its log is {log}, last lines:\n{tail}")]
    ServerExited {
        server: String,
        status: String,
        log: PathBuf,
        tail: String,
    },
    /// The server runs but its readiness probe never succeeded.
    #[error(
        "{server} did not become ready within {timeout_ms} ms (probe: {probe}); \
         see its log at {log}{}", if tail.is_empty() { String::new() } else { format!(", last lines:\n{tail}") }
    )]
    ReadyTimeout {
        server: String,
        probe: String,
        timeout_ms: u64,
        log: PathBuf,
        tail: String,
    },
    /// A configuration check (`check:` in the profile) rejected the rendered configuration.
    #[error("{server} rejected its configuration (`{cmd}`, {status}); the rendered files are in {dir}:\n{output}")]
    ConfigRejected {
        server: String,
        cmd: String,
        status: String,
        output: String,
        dir: PathBuf,
    },
    /// An `ip` (or other helper) command failed.
    #[error("failed to run `{cmd}`: {detail}")]
    Command { cmd: String, detail: String },
    #[error(transparent)]
    Adapter(#[from] AdapterError),
    /// The operation needs a server the lab started itself (`Lab::attach` manages none).
    #[error("the lab does not manage a server process (attached to `{0}`): cannot {1}")]
    NotManaged(String, &'static str),
    #[error("failed to {what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
}

impl LabError {
    pub(crate) fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        LabError::Io {
            what: what.into(),
            source,
        }
    }
}
