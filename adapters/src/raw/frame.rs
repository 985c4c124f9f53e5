//! Ethernet / IPv4 / UDP framing for the frame-level adapters (raw AF_PACKET and tap).
//!
//! The bytes are `conform_codec::frame`'s ([`build_udp_frame`], [`parse_udp_frame`]); this
//! module adds what only an adapter knows: the lower-layer defaults for fields a datagram's
//! [`Meta`] leaves open ([`FrameDefaults`], the adapter's own MAC) and the kernel's word on
//! unfinished checksums. Parsing accepts Ethernet II with or without one 802.1Q tag, IPv4
//! without fragmentation, and UDP, verifies the UDP checksum and never panics on malformed
//! input (it returns `None`). A meta with `udp_checksum_ok: Some(false)` makes the builder send
//! a deliberately wrong UDP checksum (robustness tests).

use conform_codec::frame::{build_udp_frame, parse_udp_frame};
use conform_codec::{Datagram, Meta};
use std::net::{IpAddr, Ipv4Addr};

/// The Ethernet broadcast address.
pub const BROADCAST_MAC: [u8; 6] = [0xff; 6];

/// Lower-layer values used when a datagram's [`Meta`] does not name them.
///
/// The source MAC is not here: it defaults to the adapter's own address (the interface MAC
/// for raw sockets, a configured MAC for taps).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FrameDefaults {
    pub eth_dst: [u8; 6],
    pub ip_src: Ipv4Addr,
    pub ip_dst: Ipv4Addr,
    pub src_port: u16,
    pub dst_port: u16,
    pub ttl: u8,
}

impl FrameDefaults {
    /// A DHCP client without an address: `0.0.0.0:68 → 255.255.255.255:67`, Ethernet broadcast,
    /// TTL 64.
    pub fn dhcp_client() -> Self {
        FrameDefaults {
            eth_dst: BROADCAST_MAC,
            ip_src: Ipv4Addr::UNSPECIFIED,
            ip_dst: Ipv4Addr::BROADCAST,
            src_port: 68,
            dst_port: 67,
            ttl: 64,
        }
    }
}

/// Builds one Ethernet II / IPv4 / UDP frame carrying `d.payload`, with correct IPv4 header and
/// UDP checksums unless the meta asks for a wrong one. Fails (never panics) for IPv6 addresses,
/// a non-UDP transport or an oversized payload.
pub fn build_frame(d: &Datagram, src_mac: [u8; 6], def: &FrameDefaults) -> Result<Vec<u8>, String> {
    let m = &d.meta;
    let filled = Datagram {
        payload: d.payload.clone(),
        meta: Meta {
            eth_src: Some(m.eth_src.unwrap_or(src_mac)),
            eth_dst: Some(m.eth_dst.unwrap_or(def.eth_dst)),
            ip_src: Some(m.ip_src.unwrap_or(IpAddr::V4(def.ip_src))),
            ip_dst: Some(m.ip_dst.unwrap_or(IpAddr::V4(def.ip_dst))),
            ip_ttl: Some(m.ip_ttl.unwrap_or(def.ttl)),
            src_port: Some(m.src_port.unwrap_or(def.src_port)),
            dst_port: Some(m.dst_port.unwrap_or(def.dst_port)),
            ..m.clone()
        },
    };
    build_udp_frame(&filled)
}

/// Parses an Ethernet frame into a datagram if it is IPv4/UDP. `None` for anything else
/// (ARP, IPv6, TCP, fragments, truncated or inconsistent headers).
///
/// `checksum_not_ready`: the kernel said the frame's checksum was never finished
/// (`TP_STATUS_CSUMNOTREADY`, a veth with TX checksum offload); then `udp_checksum_ok` is `None`
/// (not checked) rather than a false alarm.
pub fn parse_frame(frame: &[u8], checksum_not_ready: bool) -> Option<Datagram> {
    let mut d = parse_udp_frame(frame)?;
    if checksum_not_ready {
        d.meta.udp_checksum_ok = None;
    }
    Some(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dgram(payload: &[u8]) -> Datagram {
        Datagram {
            payload: payload.to_vec(),
            meta: Meta::default(),
        }
    }

    #[test]
    fn dhcp_client_defaults_round_trip() {
        let mac = [2, 0xcf, 0, 0, 0, 1];
        let f = build_frame(&dgram(&[1, 2, 3, 4]), mac, &FrameDefaults::dhcp_client()).unwrap();
        assert_eq!(f.len(), 14 + 20 + 8 + 4);
        let d = parse_frame(&f, false).unwrap();
        assert_eq!(d.payload, vec![1, 2, 3, 4]);
        assert_eq!(d.meta.eth_src, Some(mac));
        assert_eq!(d.meta.eth_dst, Some(BROADCAST_MAC));
        assert_eq!(d.meta.ip_src, Some(IpAddr::V4(Ipv4Addr::UNSPECIFIED)));
        assert_eq!(d.meta.ip_dst, Some(IpAddr::V4(Ipv4Addr::BROADCAST)));
        assert_eq!((d.meta.src_port, d.meta.dst_port), (Some(68), Some(67)));
        assert_eq!(d.meta.udp_checksum_ok, Some(true));
        assert_eq!(d.meta.ip_len, Some(32));
        assert_eq!(d.meta.ip_ttl, Some(64));
    }

    #[test]
    fn meta_overrides_defaults() {
        let mut d = dgram(b"x");
        d.meta.eth_src = Some([2, 0, 0, 0, 0, 9]);
        d.meta.eth_dst = Some([2, 0, 0, 0, 0, 8]);
        d.meta.ip_src = Some("192.0.2.2".parse().unwrap());
        d.meta.ip_dst = Some("192.0.2.1".parse().unwrap());
        d.meta.src_port = Some(5353);
        d.meta.dst_port = Some(53);
        d.meta.ip_ttl = Some(1);
        let f = build_frame(&d, [0; 6], &FrameDefaults::dhcp_client()).unwrap();
        let back = parse_frame(&f, false).unwrap();
        assert_eq!(back.meta.eth_src, d.meta.eth_src);
        assert_eq!(back.meta.eth_dst, d.meta.eth_dst);
        assert_eq!(back.meta.ip_src, d.meta.ip_src);
        assert_eq!(back.meta.ip_dst, d.meta.ip_dst);
        assert_eq!(back.meta.src_port, Some(5353));
        assert_eq!(back.meta.dst_port, Some(53));
        assert_eq!(back.meta.ip_ttl, Some(1));
    }

    #[test]
    fn ipv6_meta_is_an_error_not_a_panic() {
        let mut d = dgram(b"x");
        d.meta.ip_dst = Some("2001:db8::1".parse().unwrap());
        assert!(build_frame(&d, [0; 6], &FrameDefaults::dhcp_client())
            .unwrap_err()
            .contains("IPv6"));
    }

    #[test]
    fn corrupted_checksum_is_reported_and_partial_is_unchecked() {
        let mut f = build_frame(&dgram(&[9; 10]), [2; 6], &FrameDefaults::dhcp_client()).unwrap();
        let last = f.len() - 1;
        f[last] ^= 0xff;
        assert_eq!(
            parse_frame(&f, false).unwrap().meta.udp_checksum_ok,
            Some(false)
        );
        assert_eq!(parse_frame(&f, true).unwrap().meta.udp_checksum_ok, None);
        // A zero checksum means "not computed" in IPv4 (RFC 768).
        f[14 + 20 + 6] = 0;
        f[14 + 20 + 7] = 0;
        assert_eq!(parse_frame(&f, false).unwrap().meta.udp_checksum_ok, None);
    }

    #[test]
    fn a_deliberately_wrong_checksum_is_sent_when_asked() {
        let mut d = dgram(b"bad");
        d.meta.udp_checksum_ok = Some(false);
        let f = build_frame(&d, [2; 6], &FrameDefaults::dhcp_client()).unwrap();
        assert_eq!(
            parse_frame(&f, false).unwrap().meta.udp_checksum_ok,
            Some(false)
        );
    }

    #[test]
    fn vlan_tagged_frames_are_tolerated() {
        let f = build_frame(&dgram(b"tagged"), [2; 6], &FrameDefaults::dhcp_client()).unwrap();
        let mut t = f[..12].to_vec();
        t.extend_from_slice(&[0x81, 0x00, 0x00, 0x05]);
        t.extend_from_slice(&f[12..]);
        let d = parse_frame(&t, false).unwrap();
        assert_eq!(d.payload, b"tagged");
        assert_eq!(d.meta.udp_checksum_ok, Some(true));
    }

    #[test]
    fn garbage_never_panics() {
        let f = build_frame(&dgram(&[7; 40]), [2; 6], &FrameDefaults::dhcp_client()).unwrap();
        for cut in 0..f.len() {
            let _ = parse_frame(&f[..cut], false);
        }
        let mut x = f.clone();
        for i in 0..x.len() {
            x[i] = x[i].wrapping_add(0x5a);
            let _ = parse_frame(&x, false);
        }
        assert!(parse_frame(&[], false).is_none());
        assert!(parse_frame(&[0xff; 13], false).is_none());
    }
}
