//! conform-adapters: move datagrams between the runner and a server under test.
//!
//! An adapter is a small trait (packetdrill's netdev idea): `send` one datagram, `subscribe` to
//! everything that arrives. Adapters know framing, not meaning: they never decode DHCP or DNS.
//! Unsafe code is confined to the `sys` module (AF_PACKET, TUNSETIFF).
#![deny(unsafe_code)]

mod adapter;
pub mod pcap_dns;
pub mod pcap_replay;
pub mod raw;
pub mod relay;
pub mod sim;
pub mod sys;
pub mod tap;
pub mod tcp;
pub mod udp;

pub use adapter::{Adapter, AdapterError, Incoming};
