//! conform-lab: builds the labs conform tests real servers in.
//!
//! A lab is two network namespaces joined by a veth pair (or a tap bridged on the client side),
//! a real DHCP or DNS server started inside the server namespace from a target [`Profile`], and
//! one adapter in the client namespace. The conform process itself never leaves its own
//! namespace, and every lab is removed again: by [`Lab::shutdown`], by `Drop`, or by
//! [`cleanup_all`] from a Ctrl-C handler. Recipes and measurements: shared reference lab.md.
//!
//! ```no_run
//! # async fn demo() -> Result<(), conform_lab::LabError> {
//! use conform_lab::{Lab, LabOptions, Profile};
//! let lab = Lab::start(Profile::resolve("dnsmasq")?, LabOptions::default()).await?;
//! let adapter = lab.adapter(); // send DHCP through it, subscribe to replies
//! println!("{} ready after {:?}, log {}", lab.profile().name, lab.ready_after(), lab.log_path().display());
//! lab.shutdown().await;
//! # Ok(()) }
//! ```
#![deny(unsafe_code)]

mod cmd;
pub mod dhcp_probe;
mod error;
mod lab;
mod probe;
pub mod profile;

pub use cmd::{find_binary, is_root};
pub use error::{LabError, ProfileError};
pub use lab::{cleanup_all, live_namespaces, Lab, LabNames, LabOptions};
pub use profile::{AdapterKind, LabSettings, Probe, Profile, ProtocolKind, Ready, Stop};
