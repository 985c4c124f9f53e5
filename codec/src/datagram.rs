//! What an adapter hands to a protocol codec and back: a payload plus the lower-layer facts
//! that templates may match (`ip.dst`, `udp.src`, `eth.dst`).

use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// One protocol message as it crossed (or will cross) the wire.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Datagram {
    /// The application payload (DHCP message, DNS message without TCP length prefix).
    #[serde(with = "hexbytes")]
    pub payload: Vec<u8>,
    pub meta: Meta,
}

/// Lower-layer facts. `None` means the adapter does not know (a UDP socket does not see MACs).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meta {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eth_src: Option<[u8; 6]>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eth_dst: Option<[u8; 6]>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_src: Option<IpAddr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_dst: Option<IpAddr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_ttl: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub src_port: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dst_port: Option<u16>,
    /// Whether the UDP checksum verified; `None` when not checked (sockets, zero checksum).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub udp_checksum_ok: Option<bool>,
    /// Total IP datagram length, when known (RFC 2131 §2: replies fit in 576 octets).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_len: Option<u16>,
    /// Transport: "udp" or "tcp", with attributes for TCP (`tcp;conn=3`). Borrowed for the
    /// fixed strings adapters write on every datagram, so stamping one does not allocate.
    #[serde(default, skip_serializing_if = "str_is_empty")]
    pub transport: std::borrow::Cow<'static, str>,
}

fn str_is_empty(s: &str) -> bool {
    s.is_empty()
}

mod hexbytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(b: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&crate::value::hex(b))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        crate::value::parse_hex(&s).ok_or_else(|| serde::de::Error::custom("invalid hex payload"))
    }
}
