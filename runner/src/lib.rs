//! conform-runner: plans, schedules and executes suites through an adapter, emitting typed
//! events. The `conform` binary (main.rs) is a thin CLI over this library.
#![deny(unsafe_code)]

pub mod exec;
pub mod harness;
pub mod params;
pub mod plan;
pub mod replay;
pub mod target;
