//! [`Dhcp`]: the DHCPv4 [`Protocol`] implementation, tying the catalogue, the view and the
//! encoder together.

use super::{catalogue, encode, view::DhcpView};
use crate::datagram::Datagram;
use crate::field::FieldRef;
use crate::protocol::{Decoded, EncodeError, Protocol};
use crate::value::Value;
use std::sync::Arc;

/// DHCPv4 (RFC 2131, RFC 2132, RFC 3396), named `dhcp` in suites.
#[derive(Debug, Default, Clone, Copy)]
pub struct Dhcp;

impl Protocol for Dhcp {
    fn name(&self) -> &'static str {
        "dhcp"
    }

    fn resolve(&self, path: &str) -> Option<FieldRef> {
        catalogue::resolve(path)
    }

    fn is_group(&self, path: &str) -> bool {
        catalogue::is_group(path)
    }

    fn paths(&self) -> Vec<String> {
        catalogue::paths()
    }

    fn decode(&self, d: &Datagram) -> Arc<dyn Decoded> {
        Arc::new(DhcpView::new(d))
    }

    /// The xid (RFC 2131 §2: the server's replies carry the client's xid).
    fn correlation(&self, payload: &[u8]) -> Option<u64> {
        let x = payload.get(super::raw::field::XID)?;
        Some(u64::from(u32::from_be_bytes([x[0], x[1], x[2], x[3]])))
    }

    fn decode_owned(&self, d: Datagram) -> Arc<dyn Decoded> {
        Arc::new(DhcpView::from_parts(d.payload, d.meta))
    }

    fn encode(&self, fields: &[(FieldRef, Option<Value>)]) -> Result<Datagram, EncodeError> {
        encode::encode(fields)
    }

    fn sendable(&self, f: &FieldRef) -> bool {
        use catalogue::id;
        !matches!(
            f.id,
            id::OPT_COUNT
                | id::RELAY_SUBOPTION_CODES
                | id::OPTION_CODES
                | id::FILE_OPTION_CODES
                | id::SNAME_OPTION_CODES
                | id::END_PRESENT
                | id::AFTER_END_ALL_PAD
                | id::MALFORMED
                | id::DUPLICATE_CODES
                | id::IP_LEN
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The key is the xid, wherever the encoder puts it; a message too short for one has none.
    #[test]
    fn correlation_is_the_xid() {
        let f = |k: &str, v: Value| (catalogue::resolve(k).unwrap(), Some(v));
        let d = Dhcp
            .encode(&[
                f("op", Value::Int(1)),
                f("xid", Value::Int(0xdead_beef)),
                f("options.message_type", Value::Int(1)),
            ])
            .unwrap();
        assert_eq!(Dhcp.correlation(&d.payload), Some(0xdead_beef));
        assert_eq!(Dhcp.correlation(&d.payload[..7]), None);
    }
}
