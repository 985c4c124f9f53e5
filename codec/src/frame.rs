//! Ethernet II / IPv4 / UDP framing for raw-socket adapters and capture files.
//!
//! [`build_udp_frame`] turns a [`Datagram`] into a frame with correct IPv4 and UDP checksums
//! (or a deliberately wrong UDP checksum when `meta.udp_checksum_ok` is `Some(false)`, for
//! robustness tests). The parsers go the other way and fill every [`Meta`] field they can see.
//!
//! Invariant: the parsers are total; they return `None` for anything that is not a complete,
//! unfragmented IPv4/UDP datagram and never panic.

use crate::datagram::{Datagram, Meta};
use etherparse::{
    EtherType, Ethernet2Header, IpNumber, Ipv4Header, Ipv4HeaderSlice, SingleVlanHeader, UdpHeader,
};
use std::net::{IpAddr, Ipv4Addr};

/// Source MAC used when `meta.eth_src` is `None` (locally administered, unicast).
pub const DEFAULT_ETH_SRC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x02];
/// TTL used when `meta.ip_ttl` is `None`.
pub const DEFAULT_TTL: u8 = 64;
/// pcap link types understood by [`parse_link_frame`].
pub const LINKTYPE_ETHERNET: u32 = 1;
pub const LINKTYPE_RAW: u32 = 101;
pub const LINKTYPE_LINUX_SLL: u32 = 113;
pub const LINKTYPE_LINUX_SLL2: u32 = 276;

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_VLAN: u16 = 0x8100;
const ARPHRD_ETHER: u16 = 1;
const SLL_BROADCAST: u8 = 1;

/// Builds Ethernet II + IPv4 + UDP around `d.payload`.
///
/// Uses `meta.eth_src` (default [`DEFAULT_ETH_SRC`]), `meta.eth_dst` (default broadcast),
/// `meta.ip_src` (default 0.0.0.0), `meta.ip_dst`, `meta.ip_ttl` (default [`DEFAULT_TTL`]) and
/// both ports, which are required. `meta.ip_len` is ignored: lengths are always computed. The IP
/// header has DF clear and identification 0, like common DHCP clients.
pub fn build_udp_frame(d: &Datagram) -> Result<Vec<u8>, String> {
    let m = &d.meta;
    if !(m.transport.is_empty() || m.transport == "udp") {
        return Err(format!(
            "cannot build a UDP frame for transport `{}`",
            m.transport
        ));
    }
    let v4 = |a: Option<IpAddr>, what: &str| match a {
        Some(IpAddr::V4(a)) => Ok(Some(a)),
        Some(IpAddr::V6(a)) => Err(format!("{what} {a} is IPv6; only IPv4 frames are built")),
        None => Ok(None),
    };
    let src = v4(m.ip_src, "ip.src")?.unwrap_or(Ipv4Addr::UNSPECIFIED);
    let dst = v4(m.ip_dst, "ip.dst")?.ok_or("ip.dst is required to build a frame")?;
    let sport = m.src_port.ok_or("udp.src is required to build a frame")?;
    let dport = m.dst_port.ok_or("udp.dst is required to build a frame")?;
    let udp_len = u16::try_from(UdpHeader::LEN + d.payload.len())
        .map_err(|_| format!("payload of {} bytes is too long for UDP", d.payload.len()))?;
    let ttl = m.ip_ttl.unwrap_or(DEFAULT_TTL);
    let mut ip = Ipv4Header::new(udp_len, ttl, IpNumber::UDP, src.octets(), dst.octets())
        .map_err(|e| format!("failed to build the IPv4 header: {e}"))?;
    ip.dont_fragment = false;
    ip.header_checksum = ip.calc_header_checksum();
    let mut udp = UdpHeader::with_ipv4_checksum(sport, dport, &ip, &d.payload)
        .map_err(|e| format!("failed to build the UDP header: {e}"))?;
    if m.udp_checksum_ok == Some(false) {
        // Any non-zero value other than the right one; zero would mean "no checksum".
        udp.checksum = if udp.checksum == 0x1234 {
            0x4321
        } else {
            0x1234
        };
    }
    let eth = Ethernet2Header {
        source: m.eth_src.unwrap_or(DEFAULT_ETH_SRC),
        destination: m.eth_dst.unwrap_or([0xff; 6]),
        ether_type: EtherType::IPV4,
    };
    let mut out = Vec::with_capacity(Ethernet2Header::LEN + 20 + usize::from(udp_len));
    out.extend_from_slice(&eth.to_bytes());
    out.extend_from_slice(&ip.to_bytes());
    out.extend_from_slice(&udp.to_bytes());
    out.extend_from_slice(&d.payload);
    Ok(out)
}

/// Parses an Ethernet II frame (optionally with one 802.1Q tag) carrying IPv4/UDP.
pub fn parse_udp_frame(frame: &[u8]) -> Option<Datagram> {
    let (eth, rest) = Ethernet2Header::from_slice(frame).ok()?;
    let (ether_type, rest) = if eth.ether_type == EtherType::VLAN_TAGGED_FRAME {
        let (vlan, rest) = SingleVlanHeader::from_slice(rest).ok()?;
        (vlan.ether_type, rest)
    } else {
        (eth.ether_type, rest)
    };
    if ether_type != EtherType::IPV4 {
        return None;
    }
    let mut d = parse_ipv4_udp(rest)?;
    d.meta.eth_src = Some(eth.source);
    d.meta.eth_dst = Some(eth.destination);
    Some(d)
}

/// Parses a Linux cooked capture v1 frame (pcap link type 113).
///
/// SLL records only the sender's address, so `eth_dst` is known only for broadcast packets.
pub fn parse_sll_frame(frame: &[u8]) -> Option<Datagram> {
    let h = frame.get(..16)?;
    let packet_type = u16::from_be_bytes([h[0], h[1]]);
    let hatype = u16::from_be_bytes([h[2], h[3]]);
    let addr_len = u16::from_be_bytes([h[4], h[5]]);
    let proto = u16::from_be_bytes([h[14], h[15]]);
    let packet_type = u8::try_from(packet_type).unwrap_or(u8::MAX);
    sll_common(
        &frame[16..],
        proto,
        hatype,
        packet_type,
        addr_len,
        &h[6..14],
    )
}

/// Parses a Linux cooked capture v2 frame (pcap link type 276).
pub fn parse_sll2_frame(frame: &[u8]) -> Option<Datagram> {
    let h = frame.get(..20)?;
    let proto = u16::from_be_bytes([h[0], h[1]]);
    let hatype = u16::from_be_bytes([h[8], h[9]]);
    sll_common(
        &frame[20..],
        proto,
        hatype,
        h[10],
        u16::from(h[11]),
        &h[12..20],
    )
}

fn sll_common(
    rest: &[u8],
    proto: u16,
    hatype: u16,
    packet_type: u8,
    addr_len: u16,
    addr: &[u8],
) -> Option<Datagram> {
    // A VLAN tag left in place by the capture sits between the SLL header and IP.
    let rest = match proto {
        ETHERTYPE_IPV4 => rest,
        ETHERTYPE_VLAN => {
            let tag = rest.get(..4)?;
            if u16::from_be_bytes([tag[2], tag[3]]) != ETHERTYPE_IPV4 {
                return None;
            }
            &rest[4..]
        }
        _ => return None,
    };
    let mut d = parse_ipv4_udp(rest)?;
    if hatype == ARPHRD_ETHER && addr_len == 6 {
        let mut m = [0u8; 6];
        m.copy_from_slice(&addr[..6]);
        d.meta.eth_src = Some(m);
    }
    if packet_type == SLL_BROADCAST {
        d.meta.eth_dst = Some([0xff; 6]);
    }
    Some(d)
}

/// Parses a bare IPv4 packet carrying UDP (pcap link type 101, or the inside of a frame).
///
/// Returns `None` for other protocols, fragments, and packets whose IPv4 total length or UDP
/// length does not fit the bytes present. Bytes beyond the IPv4 total length (Ethernet
/// padding) are ignored. `udp_checksum_ok` is `None` when the checksum field is zero.
pub fn parse_ipv4_udp(packet: &[u8]) -> Option<Datagram> {
    let ip = Ipv4HeaderSlice::from_slice(packet).ok()?;
    if ip.protocol() != IpNumber::UDP || ip.is_fragmenting_payload() {
        return None;
    }
    let header_len = ip.slice().len();
    let total = usize::from(ip.total_len());
    if total < header_len || total > packet.len() {
        return None;
    }
    let segment = &packet[header_len..total];
    let (udp, _) = UdpHeader::from_slice(segment).ok()?;
    let udp_len = usize::from(udp.length);
    if udp_len < UdpHeader::LEN || udp_len > segment.len() {
        return None;
    }
    let payload = &segment[UdpHeader::LEN..udp_len];
    let checksum_ok = match udp.checksum {
        0 => None,
        c => Some(
            udp.calc_checksum_ipv4_raw(ip.source(), ip.destination(), payload)
                .ok()?
                == c,
        ),
    };
    Some(Datagram {
        payload: payload.to_vec(),
        meta: Meta {
            eth_src: None,
            eth_dst: None,
            ip_src: Some(IpAddr::V4(ip.source_addr())),
            ip_dst: Some(IpAddr::V4(ip.destination_addr())),
            ip_ttl: Some(ip.ttl()),
            src_port: Some(udp.source_port),
            dst_port: Some(udp.destination_port),
            udp_checksum_ok: checksum_ok,
            ip_len: Some(ip.total_len()),
            transport: "udp".into(),
        },
    })
}

/// Parses a captured frame by pcap link type (Ethernet, raw IPv4, SLL, SLL2).
pub fn parse_link_frame(linktype: u32, frame: &[u8]) -> Option<Datagram> {
    match linktype {
        LINKTYPE_ETHERNET => parse_udp_frame(frame),
        LINKTYPE_RAW => parse_ipv4_udp(frame),
        LINKTYPE_LINUX_SLL => parse_sll_frame(frame),
        LINKTYPE_LINUX_SLL2 => parse_sll2_frame(frame),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample() -> Datagram {
        Datagram {
            payload: b"hello dhcp".to_vec(),
            meta: Meta {
                eth_src: Some([2, 0, 0, 0, 0, 9]),
                eth_dst: Some([0xff; 6]),
                ip_src: Some(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
                ip_dst: Some(IpAddr::V4(Ipv4Addr::BROADCAST)),
                src_port: Some(68),
                dst_port: Some(67),
                transport: "udp".into(),
                ..Meta::default()
            },
        }
    }

    #[test]
    fn build_then_parse() {
        let d = sample();
        let f = build_udp_frame(&d).unwrap();
        assert_eq!(f.len(), 14 + 20 + 8 + 10);
        assert_eq!(&f[12..14], &[0x08, 0x00]);
        assert_eq!(f[14], 0x45);
        assert_eq!(f[22], DEFAULT_TTL);
        let p = parse_udp_frame(&f).unwrap();
        assert_eq!(p.payload, d.payload);
        assert_eq!(p.meta.eth_src, d.meta.eth_src);
        assert_eq!(p.meta.ip_dst, d.meta.ip_dst);
        assert_eq!(p.meta.src_port, Some(68));
        assert_eq!(p.meta.udp_checksum_ok, Some(true));
        assert_eq!(p.meta.ip_len, Some(38));
        assert_eq!(p.meta.ip_ttl, Some(64));
        // The IPv4 header checksum verifies: the one's complement sum of the header is 0xffff.
        let sum: u32 = f[14..34]
            .chunks(2)
            .map(|c| u32::from(u16::from_be_bytes([c[0], c[1]])))
            .sum();
        let folded = (sum & 0xffff) + (sum >> 16);
        assert_eq!(folded, 0xffff);
    }

    #[test]
    fn ethernet_padding_is_ignored_and_vlan_tolerated() {
        let f = build_udp_frame(&sample()).unwrap();
        let mut padded = f.clone();
        padded.resize(80, 0);
        assert_eq!(parse_udp_frame(&padded).unwrap().payload, b"hello dhcp");
        let mut tagged = f[..12].to_vec();
        tagged.extend_from_slice(&[0x81, 0x00, 0x00, 0x05]);
        tagged.extend_from_slice(&f[12..]);
        assert_eq!(parse_udp_frame(&tagged).unwrap().payload, b"hello dhcp");
    }

    #[test]
    fn wrong_checksum_on_request_and_zero_checksum() {
        let mut d = sample();
        d.meta.udp_checksum_ok = Some(false);
        let f = build_udp_frame(&d).unwrap();
        assert_eq!(
            parse_udp_frame(&f).unwrap().meta.udp_checksum_ok,
            Some(false)
        );
        let mut z = f.clone();
        z[40] = 0;
        z[41] = 0;
        assert_eq!(parse_udp_frame(&z).unwrap().meta.udp_checksum_ok, None);
    }

    #[test]
    fn rejects_non_udp_and_missing_fields() {
        let f = build_udp_frame(&sample()).unwrap();
        let mut tcp = f.clone();
        tcp[23] = 6;
        assert!(parse_udp_frame(&tcp).is_none());
        let mut arp = f.clone();
        arp[12..14].copy_from_slice(&[0x08, 0x06]);
        assert!(parse_udp_frame(&arp).is_none());
        assert!(
            parse_udp_frame(&f[..f.len() - 1]).is_none(),
            "IP total length exceeds frame"
        );
        let mut d = sample();
        d.meta.dst_port = None;
        assert!(build_udp_frame(&d).unwrap_err().contains("udp.dst"));
        d = sample();
        d.meta.ip_dst = Some("::1".parse().unwrap());
        assert!(build_udp_frame(&d).is_err());
    }

    #[test]
    fn sll_and_sll2() {
        let f = build_udp_frame(&sample()).unwrap();
        let ip = &f[14..];
        let mut sll = vec![0, 1, 0, 1, 0, 6, 2, 0, 0, 0, 0, 9, 0, 0, 0x08, 0x00];
        sll.extend_from_slice(ip);
        let d = parse_link_frame(LINKTYPE_LINUX_SLL, &sll).unwrap();
        assert_eq!(d.meta.eth_src, Some([2, 0, 0, 0, 0, 9]));
        assert_eq!(d.meta.eth_dst, Some([0xff; 6]));
        assert_eq!(d.payload, b"hello dhcp");
        let mut sll2 = vec![
            0x08, 0x00, 0, 0, 0, 0, 0, 3, 0, 1, 0, 6, 2, 0, 0, 0, 0, 9, 0, 0,
        ];
        sll2.extend_from_slice(ip);
        let d = parse_link_frame(LINKTYPE_LINUX_SLL2, &sll2).unwrap();
        assert_eq!(d.meta.eth_src, Some([2, 0, 0, 0, 0, 9]));
        assert_eq!(
            d.meta.eth_dst, None,
            "unicast to us: destination not recorded"
        );
        assert_eq!(
            parse_link_frame(LINKTYPE_RAW, ip).unwrap().meta.src_port,
            Some(68)
        );
    }

    proptest! {
        #[test]
        fn parsers_never_panic(b in prop::collection::vec(any::<u8>(), 0..200)) {
            let _ = parse_udp_frame(&b);
            let _ = parse_sll_frame(&b);
            let _ = parse_sll2_frame(&b);
            let _ = parse_ipv4_udp(&b);
        }

        #[test]
        fn mutated_frames_never_panic(i in 0usize..60, x in any::<u8>(), cut in 0usize..60) {
            let mut f = build_udp_frame(&sample()).unwrap();
            let n = f.len();
            f[i % n] = x;
            f.truncate(n - cut.min(n));
            let _ = parse_udp_frame(&f);
        }

        #[test]
        fn build_parse_round_trip(
            payload in prop::collection::vec(any::<u8>(), 0..600),
            src in any::<[u8; 4]>(), dst in any::<[u8; 4]>(),
            sp in any::<u16>(), dp in any::<u16>(), ttl in any::<u8>(),
        ) {
            let mut d = sample();
            d.payload = payload;
            d.meta.ip_src = Some(IpAddr::V4(src.into()));
            d.meta.ip_dst = Some(IpAddr::V4(dst.into()));
            d.meta.src_port = Some(sp);
            d.meta.dst_port = Some(dp);
            d.meta.ip_ttl = Some(ttl);
            let p = parse_udp_frame(&build_udp_frame(&d).unwrap()).unwrap();
            prop_assert_eq!(&p.payload, &d.payload);
            prop_assert_eq!(p.meta.ip_src, d.meta.ip_src);
            prop_assert_eq!(p.meta.dst_port, Some(dp));
            prop_assert_eq!(p.meta.udp_checksum_ok, Some(true));
        }
    }
}
