//! conform-reports: every report is rendered from run events only (`conform_model::event`),
//! never from runner internals, so `conform report --from events.jsonl` can rebuild any of
//! them from a saved run.
#![deny(unsafe_code)]

pub mod aggregate;
pub mod baseline;
pub mod html;
pub mod jsonl;
pub mod junit;
pub mod matrix;
pub mod pcap;
pub mod term;

pub use aggregate::{CaseRecord, RunRecord};
