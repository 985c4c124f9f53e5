//! Run events: the only thing reports consume (nextest's runner/reporter split).
//!
//! Written as JSON lines (`--events FILE`), one `RunEvent` per line, so any report can be
//! re-rendered later from a saved run. `EVENTS_VERSION` changes when a field changes meaning.

use crate::template::Mismatch;
use crate::verdict::Verdict;
use conform_codec::Datagram;
use serde::{Deserialize, Serialize};

pub const EVENTS_VERSION: u32 = 1;

/// Appended to the summary of a message that arrived during a case but carries none of the
/// case's correlation keys (another case's answer on a shared socket, or a reply with a
/// wrong id or xid), in a timeout's `Mismatch` event: its `closest` and `unmatched`.
pub const NOT_TIED: &str = " (not tied to this case)";

/// One event, stamped with milliseconds since the run started.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunEvent {
    pub t_ms: f64,
    pub kind: EventKind,
}

/// Where in a case an event happened.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct At {
    pub case: String,
    /// Test component (`mtc` for the main one).
    pub component: String,
    /// Step path such as `3` or `3.1` (inside an alt branch or repeat).
    pub step: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventKind {
    RunStarted {
        version: u32,
        run_id: String,
        target: String,
        adapter: String,
        cases: usize,
        seed: u64,
        /// Wall-clock start of the run (ms since the Unix epoch): `t_ms` values are relative to
        /// it, and captures written from events carry absolute timestamps.
        #[serde(default)]
        started_unix_ms: u64,
    },
    CaseStarted {
        case: String,
        title: String,
        suite: String,
        file: String,
        spec: String,
        level: String,
        text: String,
        tags: Vec<String>,
    },
    Sent {
        at: At,
        template: String,
        summary: String,
        datagram: Datagram,
    },
    Received {
        at: At,
        summary: String,
        datagram: Datagram,
    },
    Matched {
        at: At,
        template: String,
        summary: String,
        captured: Vec<(String, String)>,
    },
    /// A receive or alt ended without a match: the closest message and every mismatch, plus
    /// the messages that arrived and matched nothing.
    Mismatch {
        at: At,
        template: String,
        closest: Option<String>,
        mismatches: Vec<Mismatch>,
        unmatched: Vec<String>,
    },
    Timeout {
        at: At,
        timer: String,
    },
    VerdictSet {
        at: At,
        verdict: Verdict,
        reason: Option<String>,
    },
    Log {
        at: At,
        text: String,
    },
    AdapterError {
        at: At,
        message: String,
    },
    CaseFinished {
        case: String,
        verdict: Verdict,
        reason: Option<String>,
        duration_ms: f64,
        /// The target profile records this case as a known deviation of the server (expected
        /// to fail, with this reason). Present whatever the verdict.
        deviation: Option<String>,
    },
    RunFinished {
        counts: Counts,
        duration_ms: f64,
    },
}

/// Case counts by final verdict.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub none: usize,
    pub pass: usize,
    pub inconc: usize,
    pub fail: usize,
    pub error: usize,
    /// Failures and inconclusive results recorded as known deviations of the target
    /// (included in `fail` and `inconc`).
    pub deviations: usize,
}

impl Counts {
    pub fn add(&mut self, v: Verdict, deviation: bool) {
        match v {
            Verdict::None => self.none += 1,
            Verdict::Pass => self.pass += 1,
            Verdict::Inconc => self.inconc += 1,
            Verdict::Fail => self.fail += 1,
            Verdict::Error => self.error += 1,
        }
        if deviation && matches!(v, Verdict::Fail | Verdict::Inconc) {
            self.deviations += 1;
        }
    }

    pub fn total(&self) -> usize {
        self.none + self.pass + self.inconc + self.fail + self.error
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_round_trip_as_json() {
        let e = RunEvent {
            t_ms: 1.5,
            kind: EventKind::VerdictSet {
                at: At {
                    case: "c".into(),
                    component: "mtc".into(),
                    step: "1".into(),
                },
                verdict: Verdict::Fail,
                reason: Some("r".into()),
            },
        };
        let s = serde_json::to_string(&e).unwrap();
        assert!(s.contains(r#""type":"verdict_set""#), "{s}");
        let back: RunEvent = serde_json::from_str(&s).unwrap();
        assert_eq!(back, e);
    }
}
