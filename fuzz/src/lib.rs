//! conform-fuzz: structure-aware fuzzing of DHCPv4 servers with live oracles, shrinking against
//! the server, and findings written back as conformance cases (`conform fuzz dhcp`).
//!
//! Layers, bottom up:
//! - [`case`]: a fuzz case as data (kind, header, options in wire order, structural mutations)
//!   and its exact encoding through the codec's raw layer;
//! - [`gen`]: proptest strategies, weighted toward what real clients send;
//! - [`oracle`]: invariants on every reply, the validity class, signatures;
//! - [`exec`]: one execution against a live server (case, canary DORA, liveness by PID);
//! - [`campaign`]: the loop, dedup by signature, shrinking with the server in the loop,
//!   differential testing;
//! - [`diff`] and [`regress`]: readable diffs, regression YAML and pcapng;
//! - [`cli`]: `conform fuzz dhcp`.
#![deny(unsafe_code)]

pub mod campaign;
pub mod case;
pub mod cli;
pub mod diff;
pub mod exec;
pub mod gen;
pub mod oracle;
pub mod regress;

pub use campaign::{Campaign, CampaignConfig, Finding, Report};
pub use cli::{run as run_cli, FuzzCmd};
