//! Ethernet / IPv4 / UDP framing for the frame-level adapters (raw AF_PACKET and tap).
//!
//! A small private stand-in for `conform_codec::frame` (being written elsewhere): building
//! fills in what a datagram's [`Meta`] leaves open from [`FrameDefaults`]; parsing accepts
//! Ethernet II with or without one 802.1Q tag, IPv4 without fragmentation, and UDP, verifies
//! the UDP checksum and never panics on malformed input (it returns `None`).

use conform_codec::{Datagram, Meta};
use etherparse::{LinkExtSlice, LinkSlice, NetSlice, PacketBuilder, SlicedPacket, TransportSlice};
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
/// UDP checksums. Fails (never panics) for IPv6 addresses or an oversized payload.
pub fn build_frame(d: &Datagram, src_mac: [u8; 6], def: &FrameDefaults) -> Result<Vec<u8>, String> {
    let m = &d.meta;
    let v4 = |ip: Option<IpAddr>, dflt: Ipv4Addr, what: &str| -> Result<Ipv4Addr, String> {
        match ip {
            None => Ok(dflt),
            Some(IpAddr::V4(a)) => Ok(a),
            Some(IpAddr::V6(a)) => {
                Err(format!("{what} {a} is IPv6; frame adapters send IPv4 only"))
            }
        }
    };
    let ip_src = v4(m.ip_src, def.ip_src, "ip.src")?;
    let ip_dst = v4(m.ip_dst, def.ip_dst, "ip.dst")?;
    let builder = PacketBuilder::ethernet2(
        m.eth_src.unwrap_or(src_mac),
        m.eth_dst.unwrap_or(def.eth_dst),
    )
    .ipv4(
        ip_src.octets(),
        ip_dst.octets(),
        m.ip_ttl.unwrap_or(def.ttl),
    )
    .udp(
        m.src_port.unwrap_or(def.src_port),
        m.dst_port.unwrap_or(def.dst_port),
    );
    // 65535 - 20 (IPv4) - 8 (UDP): beyond that the length fields cannot describe the datagram.
    if d.payload.len() > 65_507 {
        return Err(format!(
            "payload of {} bytes does not fit one IPv4/UDP datagram",
            d.payload.len()
        ));
    }
    let mut out = Vec::with_capacity(builder.size(d.payload.len()));
    builder
        .write(&mut out, &d.payload)
        .map_err(|e| format!("failed to build frame: {e}"))?;
    Ok(out)
}

/// Parses an Ethernet frame into a datagram if it is IPv4/UDP. `None` for anything else
/// (ARP, IPv6, TCP, fragments, truncated or inconsistent headers).
///
/// `checksum_trusted_partial`: the kernel said the frame's checksum was never finished
/// (`TP_STATUS_CSUMNOTREADY`, a veth with TX checksum offload): then `udp_checksum_ok` is `None`
/// (not checked) rather than a false alarm.
pub fn parse_frame(frame: &[u8], checksum_not_ready: bool) -> Option<Datagram> {
    let p = SlicedPacket::from_ethernet(frame).ok()?;
    let (eth_src, eth_dst) = match p.link.as_ref()? {
        LinkSlice::Ethernet2(e) => (e.source(), e.destination()),
        _ => return None,
    };
    // Tolerate one (or more) 802.1Q tags; anything else in the extension chain is not ours.
    if p.link_exts
        .iter()
        .any(|x| !matches!(x, LinkExtSlice::Vlan(_)))
    {
        return None;
    }
    let NetSlice::Ipv4(ip) = p.net.as_ref()? else {
        return None;
    };
    if ip.is_payload_fragmented() {
        return None;
    }
    let TransportSlice::Udp(udp) = p.transport.as_ref()? else {
        return None;
    };
    let h = ip.header();
    let payload = udp.payload();
    let udp_checksum_ok = if udp.checksum() == 0 || checksum_not_ready {
        None
    } else {
        udp.to_header()
            .calc_checksum_ipv4_raw(h.source(), h.destination(), payload)
            .ok()
            .map(|c| c == udp.checksum())
    };
    Some(Datagram {
        payload: payload.to_vec(),
        meta: Meta {
            eth_src: Some(eth_src),
            eth_dst: Some(eth_dst),
            ip_src: Some(IpAddr::V4(h.source_addr())),
            ip_dst: Some(IpAddr::V4(h.destination_addr())),
            ip_ttl: Some(h.ttl()),
            src_port: Some(udp.source_port()),
            dst_port: Some(udp.destination_port()),
            udp_checksum_ok,
            ip_len: Some(h.total_len()),
            transport: "udp".into(),
        },
    })
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
