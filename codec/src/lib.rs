//! conform-codec: everything conform knows about bytes on the wire, and nothing about I/O.
//!
//! Layering follows smoltcp's `wire` module: a raw layer that can represent any byte string the
//! server might send (including malformed ones), a typed view for templates (`Decoded::get` by
//! field path), and one-line summaries for logs and charts. Decoders never panic: malformations
//! are exposed as fields (for example `dhcp` replies without END expose `end_present: false`).
#![deny(unsafe_code)]

pub mod datagram;
pub mod dhcp;
pub mod dns;
pub mod field;
pub mod frame;
pub mod protocol;
pub mod value;

pub use datagram::{Datagram, Meta};
pub use field::{FieldRef, FieldType};
pub use protocol::{protocol_by_name, Decoded, EncodeError, Protocol};
pub use value::Value;
