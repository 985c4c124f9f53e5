//! The compiled suite model the runner executes. Everything here is validated: template names
//! are resolved, field paths exist, literals are typed, variables are defined before use.

use crate::node::Pos;
use crate::template::Template;
use crate::verdict::Verdict;
use conform_codec::{FieldRef, FieldType, Protocol, Value};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// One loaded suite file.
#[derive(Debug, Clone)]
pub struct Suite {
    pub file: PathBuf,
    pub name: String,
    pub protocol: Arc<dyn Protocol>,
    pub description: Option<String>,
    pub params: Vec<ParamDef>,
    pub cases: Vec<Arc<Case>>,
}

/// A module parameter (TTCN-3 `modulepar`): read-only during a run, set by default, target
/// profile or `--param`, in that order of precedence.
#[derive(Debug, Clone)]
pub struct ParamDef {
    pub name: String,
    pub ty: ParamType,
    pub default: Option<Value>,
    pub doc: Option<String>,
    pub pos: Pos,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ParamType {
    Ipv4,
    Ipv6,
    Int,
    String,
    Bytes,
    Mac,
    Bool,
    /// Milliseconds as an integer; written `2s`, `500ms`.
    Duration,
}

impl ParamType {
    pub fn parse_name(s: &str) -> Option<ParamType> {
        Some(match s {
            "ipv4" => ParamType::Ipv4,
            "ipv6" => ParamType::Ipv6,
            "int" => ParamType::Int,
            "string" => ParamType::String,
            "bytes" => ParamType::Bytes,
            "mac" => ParamType::Mac,
            "bool" => ParamType::Bool,
            "duration" => ParamType::Duration,
            _ => return None,
        })
    }

    pub fn field_type(self) -> FieldType {
        match self {
            ParamType::Ipv4 => FieldType::Ipv4,
            ParamType::Ipv6 => FieldType::Ipv6,
            ParamType::Int | ParamType::Duration => FieldType::Int {
                min: i64::MIN,
                max: i64::MAX,
            },
            ParamType::String => FieldType::Str,
            ParamType::Bytes => FieldType::Bytes,
            ParamType::Mac => FieldType::Mac,
            ParamType::Bool => FieldType::Bool,
        }
    }

    /// Parses a value given on the command line or in a profile.
    pub fn parse_text(self, s: &str) -> Result<Value, String> {
        use conform_codec::field::Scalar;
        match self {
            ParamType::Duration => parse_duration(s)
                .map(|d| Value::Int(d.as_millis() as i64))
                .ok_or_else(|| format!("expected a duration such as 2s or 500ms, found `{s}`")),
            ParamType::Bool => match s {
                "true" | "yes" | "1" => Ok(Value::Bool(true)),
                "false" | "no" | "0" => Ok(Value::Bool(false)),
                _ => Err(format!("expected true or false, found `{s}`")),
            },
            _ => self.field_type().parse(&Scalar::Str(s.to_string())),
        }
    }
}

/// Parses `2s`, `500ms`, `1.5s`, `2m`, or a bare number of milliseconds.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let (num, mult_ms) = if let Some(n) = s.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1000.0)
    } else if let Some(n) = s.strip_suffix('m') {
        (n, 60_000.0)
    } else {
        (s, 1.0)
    };
    let x: f64 = num.trim().parse().ok()?;
    if !(0.0..=86_400_000.0).contains(&(x * mult_ms)) {
        return None;
    }
    Some(Duration::from_micros((x * mult_ms * 1000.0).round() as u64))
}

/// Requirement level of the quoted text (RFC 2119 keywords plus the checklist's own levels).
pub const LEVELS: &[&str] = &[
    "MUST",
    "MUST NOT",
    "SHALL",
    "SHALL NOT",
    "SHOULD",
    "SHOULD NOT",
    "MAY",
    "DERIVED",
    "ROBUST",
    "INTEROP",
];

/// Where a case's requirement comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpecRef {
    /// `RFC 2131`.
    pub doc: String,
    /// `4.3.1`, or `Table 3`.
    pub section: String,
}

impl std::fmt::Display for SpecRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // "RFC 2131 §4.3.1", but "RFC 2131 Table 3".
        if self.section.starts_with(|c: char| c.is_ascii_digit()) {
            write!(f, "{} §{}", self.doc, self.section)
        } else {
            write!(f, "{} {}", self.doc, self.section)
        }
    }
}

/// A test case.
#[derive(Debug, Clone)]
pub struct Case {
    pub id: String,
    pub title: String,
    pub suite: String,
    pub file: PathBuf,
    pub pos: Pos,
    pub spec: SpecRef,
    pub level: String,
    pub text: String,
    pub tags: Vec<String>,
    /// Needs the server alone (pool exhaustion, restart): never run alongside other cases.
    pub exclusive: bool,
    /// Guard timer for the whole case; expiry gives `error` (as TTCN-3 `execute(tc, t)`).
    pub timeout: Duration,
    /// The main test component's behaviour.
    pub steps: Vec<Step>,
    /// Parallel test components, each with its own identity.
    pub components: Vec<Component>,
    /// Whether the main steps start components explicitly; if not, all start at once.
    pub explicit_start: bool,
}

#[derive(Debug, Clone)]
pub struct Component {
    pub name: String,
    pub steps: Vec<Step>,
    pub pos: Pos,
}

/// A timer or wait duration: written in the suite, or a module parameter of type `duration`
/// (`duration: $silence`) so a target profile or `--param` can set it (TTCN-3 timers
/// initialised from module parameters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dur {
    Fixed(Duration),
    /// The name of a `duration` module parameter (its value is milliseconds).
    Param(String),
}

impl Dur {
    /// The duration under the given parameter lookup. The loader only accepts names of
    /// declared `duration` parameters, and every parameter has a value when a case runs, so
    /// `None` from the lookup is a harness bug; it is treated as zero rather than a panic.
    pub fn resolve(&self, lookup: impl Fn(&str) -> Option<i64>) -> Duration {
        match self {
            Dur::Fixed(d) => *d,
            Dur::Param(name) => Duration::from_millis(lookup(name).unwrap_or(0).max(0) as u64),
        }
    }
}

/// One step of a component's behaviour.
#[derive(Debug, Clone)]
pub enum Step {
    Send {
        template: Arc<Template>,
        pos: Pos,
    },
    /// `receive` and `alt` both compile to this: branches tried in order on every message
    /// (TTCN-3 snapshot semantics), timers checked when they expire.
    Alt {
        branches: Vec<Branch>,
        pos: Pos,
    },
    StartTimer {
        name: String,
        duration: Dur,
        pos: Pos,
    },
    StopTimer {
        name: String,
        pos: Pos,
    },
    /// Wait for a timer to expire.
    Timeout {
        name: String,
        pos: Pos,
    },
    SetVerdict {
        verdict: Verdict,
        reason: Option<String>,
        pos: Pos,
    },
    Wait {
        duration: Dur,
        pos: Pos,
    },
    Log {
        text: String,
        pos: Pos,
    },
    Start {
        components: Vec<String>,
        pos: Pos,
    },
    Join {
        components: Vec<String>,
        pos: Pos,
    },
    /// Ends this component's behaviour.
    Stop {
        pos: Pos,
    },
    /// Runs the steps `count` times with `$i` = 0, 1, ... With `fresh_identity` every
    /// iteration is a new client (new mac, chaddr, client_id, xid), for pool exhaustion.
    Repeat {
        count: u32,
        var: String,
        fresh_identity: bool,
        steps: Vec<Step>,
        pos: Pos,
    },
}

impl Step {
    pub fn pos(&self) -> Pos {
        match self {
            Step::Send { pos, .. }
            | Step::Alt { pos, .. }
            | Step::StartTimer { pos, .. }
            | Step::StopTimer { pos, .. }
            | Step::Timeout { pos, .. }
            | Step::SetVerdict { pos, .. }
            | Step::Wait { pos, .. }
            | Step::Log { pos, .. }
            | Step::Start { pos, .. }
            | Step::Join { pos, .. }
            | Step::Stop { pos }
            | Step::Repeat { pos, .. } => *pos,
        }
    }

    /// Step kind for events.
    pub fn kind(&self) -> &'static str {
        match self {
            Step::Send { .. } => "send",
            Step::Alt { .. } => "alt",
            Step::StartTimer { .. } => "start_timer",
            Step::StopTimer { .. } => "stop_timer",
            Step::Timeout { .. } => "timeout",
            Step::SetVerdict { .. } => "setverdict",
            Step::Wait { .. } => "wait",
            Step::Log { .. } => "log",
            Step::Start { .. } => "start",
            Step::Join { .. } => "join",
            Step::Stop { .. } => "stop",
            Step::Repeat { .. } => "repeat",
        }
    }
}

/// One alternative of an `alt`.
#[derive(Debug, Clone)]
pub struct Branch {
    pub on: BranchOn,
    pub verdict: Option<Verdict>,
    pub reason: Option<String>,
    pub steps: Vec<Step>,
    /// Re-enter the alt after this branch (TTCN-3 `repeat`).
    pub repeat: bool,
    /// End the component after this branch.
    pub stop: bool,
    /// Name of the altstep this branch came from, for reports.
    pub from_altstep: Option<String>,
    pub pos: Pos,
}

#[derive(Debug, Clone)]
pub enum BranchOn {
    Receive {
        template: Arc<Template>,
        capture: Vec<(String, FieldRef)>,
    },
    /// A named timer expired. For `receive` steps the loader adds an implicit timer.
    Timeout {
        timer: String,
        implicit: Option<Duration>,
    },
}
