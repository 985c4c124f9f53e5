//! Reading captures (pcap, pcapng; Ethernet, SLL, SLL2) with precise errors on bad input, and
//! the offline PcapAdapter answering requests with rewritten captured replies.

use conform_adapters::pcap_replay::{
    exchanges, parse_trace, read_trace, DhcpRules, PcapAdapter, PortFilter, TraceRules,
};
use conform_adapters::Adapter;
use conform_codec::dhcp::raw::{Entry, RawOption, Repr};
use conform_codec::frame::build_udp_frame;
use conform_codec::{Datagram, Meta};
use proptest::prelude::*;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

const CLIENT: [u8; 6] = [0x02, 0, 0, 0, 0xc1, 0x01];
const SERVER: [u8; 6] = [0x02, 0, 0, 0, 0x01, 0x01];

fn dhcp(op: u8, xid: u32, mac: [u8; 6], yiaddr: Ipv4Addr, opts: &[(u8, &[u8])]) -> Vec<u8> {
    let mut r = Repr {
        op,
        xid,
        yiaddr,
        ..Repr::default()
    };
    r.chaddr[..6].copy_from_slice(&mac);
    r.options.entries = opts
        .iter()
        .map(|(c, d)| Entry::Option(RawOption::new(*c, d.to_vec())))
        .collect();
    r.options.end = true;
    let mut b = r.to_bytes();
    b.resize(b.len().max(300), 0);
    b
}

fn frame(payload: Vec<u8>, request: bool) -> Vec<u8> {
    let (es, ed, is, id, sp, dp) = if request {
        (
            CLIENT,
            [0xff; 6],
            Ipv4Addr::UNSPECIFIED,
            Ipv4Addr::BROADCAST,
            68,
            67,
        )
    } else {
        (
            SERVER,
            CLIENT,
            Ipv4Addr::new(192, 0, 2, 1),
            Ipv4Addr::new(192, 0, 2, 150),
            67,
            68,
        )
    };
    build_udp_frame(&Datagram {
        payload,
        meta: Meta {
            eth_src: Some(es),
            eth_dst: Some(ed),
            ip_src: Some(IpAddr::V4(is)),
            ip_dst: Some(IpAddr::V4(id)),
            src_port: Some(sp),
            dst_port: Some(dp),
            ..Meta::default()
        },
    })
    .unwrap()
}

const OFFERED: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 150);

/// A DORA as Ethernet frames: DISCOVER, OFFER, REQUEST, ACK (client-id 01+MAC, echoed).
fn dora() -> Vec<Vec<u8>> {
    let cid: &[u8] = &[1, 2, 0, 0, 0, 0xc1, 0x01];
    let sid: &[u8] = &[192, 0, 2, 1];
    let z = Ipv4Addr::UNSPECIFIED;
    vec![
        frame(
            dhcp(
                1,
                0x1111,
                CLIENT,
                z,
                &[(53, &[1]), (61, cid), (55, &[1, 3])],
            ),
            true,
        ),
        frame(
            dhcp(
                2,
                0x1111,
                CLIENT,
                OFFERED,
                &[
                    (53, &[2]),
                    (54, sid),
                    (51, &[0, 0, 14, 16]),
                    (61, cid),
                    (1, &[255, 255, 255, 0]),
                ],
            ),
            false,
        ),
        frame(
            dhcp(
                1,
                0x1111,
                CLIENT,
                z,
                &[(53, &[3]), (61, cid), (54, sid), (50, &OFFERED.octets())],
            ),
            true,
        ),
        frame(
            dhcp(
                2,
                0x1111,
                CLIENT,
                OFFERED,
                &[
                    (53, &[5]),
                    (54, sid),
                    (51, &[0, 0, 14, 16]),
                    (61, cid),
                    (1, &[255, 255, 255, 0]),
                ],
            ),
            false,
        ),
    ]
}

/// A classic pcap file (microsecond, little endian) with per-packet (caplen, origlen) control.
fn pcap(linktype: u32, packets: &[(Vec<u8>, u32)]) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&0xa1b2c3d4u32.to_le_bytes());
    b.extend_from_slice(&2u16.to_le_bytes());
    b.extend_from_slice(&4u16.to_le_bytes());
    b.extend_from_slice(&[0; 8]);
    b.extend_from_slice(&65535u32.to_le_bytes());
    b.extend_from_slice(&linktype.to_le_bytes());
    for (i, (data, orig)) in packets.iter().enumerate() {
        b.extend_from_slice(&(1_700_000_000u32 + i as u32).to_le_bytes());
        b.extend_from_slice(&0u32.to_le_bytes());
        b.extend_from_slice(&(data.len() as u32).to_le_bytes());
        b.extend_from_slice(&orig.to_le_bytes());
        b.extend_from_slice(data);
    }
    b
}

fn full(frames: Vec<Vec<u8>>) -> Vec<(Vec<u8>, u32)> {
    frames
        .into_iter()
        .map(|f| {
            let n = f.len() as u32;
            (f, n)
        })
        .collect()
}

/// A pcapng file: SHB, one IDB, an EPB per frame.
fn pcapng(linktype: u16, frames: &[Vec<u8>]) -> Vec<u8> {
    pcapng_at(linktype, frames, None, 0)
}

/// The same, with an optional `if_tsresol` option in the IDB and every EPB stamped `ts`
/// (in the interface's units).
fn pcapng_at(linktype: u16, frames: &[Vec<u8>], tsresol: Option<u8>, ts: u64) -> Vec<u8> {
    let mut b = Vec::new();
    let block = |b: &mut Vec<u8>, ty: u32, body: &[u8]| {
        let len = 12 + body.len().div_ceil(4) * 4;
        b.extend_from_slice(&ty.to_le_bytes());
        b.extend_from_slice(&(len as u32).to_le_bytes());
        b.extend_from_slice(body);
        b.resize(b.len() + (len - 12 - body.len()), 0);
        b.extend_from_slice(&(len as u32).to_le_bytes());
    };
    let mut shb = Vec::new();
    shb.extend_from_slice(&0x1a2b3c4du32.to_le_bytes());
    shb.extend_from_slice(&1u16.to_le_bytes());
    shb.extend_from_slice(&0u16.to_le_bytes());
    shb.extend_from_slice(&(-1i64).to_le_bytes());
    block(&mut b, 0x0a0d0d0a, &shb);
    let mut idb = Vec::new();
    idb.extend_from_slice(&linktype.to_le_bytes());
    idb.extend_from_slice(&0u16.to_le_bytes());
    idb.extend_from_slice(&0u32.to_le_bytes());
    if let Some(r) = tsresol {
        // if_tsresol (9), length 1, padded to 4; then opt_endofopt.
        idb.extend_from_slice(&9u16.to_le_bytes());
        idb.extend_from_slice(&1u16.to_le_bytes());
        idb.extend_from_slice(&[r, 0, 0, 0]);
        idb.extend_from_slice(&[0, 0, 0, 0]);
    }
    block(&mut b, 1, &idb);
    for f in frames {
        let mut epb = Vec::new();
        epb.extend_from_slice(&0u32.to_le_bytes());
        epb.extend_from_slice(&((ts >> 32) as u32).to_le_bytes());
        epb.extend_from_slice(&(ts as u32).to_le_bytes());
        epb.extend_from_slice(&(f.len() as u32).to_le_bytes());
        epb.extend_from_slice(&(f.len() as u32).to_le_bytes());
        epb.extend_from_slice(f);
        block(&mut b, 6, &epb);
    }
    b
}

fn filter() -> PortFilter {
    DhcpRules.filter()
}

fn err_of(name: &str, bytes: &[u8]) -> String {
    parse_trace(Path::new(name), bytes, &filter())
        .expect_err("must be rejected")
        .to_string()
}

#[test]
fn pcapng_times_follow_the_interface_resolution() {
    // (if_tsresol option, timestamp in those units): each is 1,700,000,000.250 s.
    let cases: [(Option<u8>, u64); 4] = [
        // Absent: microseconds (dumpcap's default).
        (None, 1_700_000_000_250_000),
        // 9: nanoseconds (what conform's recorder writes).
        (Some(9), 1_700_000_000_250_000_000),
        // 3: milliseconds.
        (Some(3), 1_700_000_000_250),
        // 0x8a: units of 2^-10 s (1024 units = 1 s).
        (Some(0x8a), 1_700_000_000 * 1024 + 256),
    ];
    for (resol, ts) in cases {
        let bytes = pcapng_at(1, &dora(), resol, ts);
        let t = parse_trace(Path::new("a.pcapng"), &bytes, &filter()).unwrap();
        assert_eq!(
            t.packets[0].ts.as_millis(),
            1_700_000_000_250,
            "if_tsresol {resol:?}"
        );
    }
}

#[test]
fn reads_pcap_and_pcapng_dora() {
    let t = parse_trace(Path::new("a.pcap"), &pcap(1, &full(dora())), &filter()).unwrap();
    assert_eq!(t.packets.len(), 4);
    assert_eq!(
        t.packets.iter().map(|p| p.number).collect::<Vec<_>>(),
        vec![1, 2, 3, 4]
    );
    assert_eq!(t.packets[0].ts.as_secs(), 1_700_000_000);
    let t = parse_trace(Path::new("a.pcapng"), &pcapng(1, &dora()), &filter()).unwrap();
    assert_eq!(t.packets.len(), 4);
    let ex = exchanges(&t, &DhcpRules).unwrap();
    assert_eq!(ex.exchanges.len(), 2);
    assert_eq!(ex.exchanges[0].req.kind, "DISCOVER");
    assert_eq!(ex.exchanges[0].replies.len(), 1);
    assert_eq!(ex.exchanges[1].req.subkind, "REQUEST selecting");
    assert_eq!(ex.exchanges[1].replies[0].1.kind, "ACK");
}

#[test]
fn reads_linux_cooked_captures() {
    // SLL v1: packet type 4 (sent by us), ARPHRD_ETHER, 6-byte address, EtherType IPv4.
    let sll: Vec<(Vec<u8>, u32)> = dora()
        .into_iter()
        .map(|f| {
            let mut s = vec![0, 4, 0, 1, 0, 6];
            s.extend_from_slice(&f[6..12]);
            s.extend_from_slice(&[0, 0, 0x08, 0x00]);
            s.extend_from_slice(&f[14..]);
            let n = s.len() as u32;
            (s, n)
        })
        .collect();
    let t = parse_trace(Path::new("sll.pcap"), &pcap(113, &sll), &filter()).unwrap();
    assert_eq!(t.packets.len(), 4);
    assert_eq!(t.packets[0].datagram.meta.eth_src, Some(CLIENT));
    // SLL2 in pcapng.
    let sll2: Vec<Vec<u8>> = dora()
        .into_iter()
        .map(|f| {
            let mut s = vec![0x08, 0x00, 0, 0, 0, 0, 0, 2, 0, 1, 4, 6];
            s.extend_from_slice(&f[6..12]);
            s.extend_from_slice(&[0, 0]);
            s.extend_from_slice(&f[14..]);
            s
        })
        .collect();
    let t = parse_trace(Path::new("sll2.pcapng"), &pcapng(276, &sll2), &filter()).unwrap();
    assert_eq!(t.packets.len(), 4);
    assert_eq!(exchanges(&t, &DhcpRules).unwrap().exchanges.len(), 2);
}

#[test]
fn truncated_pcap_names_the_packet() {
    let b = pcap(1, &full(dora()));
    // Cut in the middle of packet 3's data.
    let first_two: usize = 24 + dora()[..2].iter().map(|f| 16 + f.len()).sum::<usize>();
    let e = err_of("cut.pcap", &b[..first_two + 16 + 100]);
    assert!(e.starts_with("cut.pcap: packet 3: "), "{e}");
    assert!(e.contains("truncated"), "{e}");
    // Cut inside packet 3's record header.
    let e = err_of("cut.pcap", &b[..first_two + 7]);
    assert!(e.starts_with("cut.pcap: packet 3: "), "{e}");
    // Cut inside the file header.
    let e = err_of("cut.pcap", &b[..10]);
    assert!(e.starts_with("cut.pcap: ") && e.contains("header"), "{e}");
}

#[test]
fn truncated_pcapng_names_the_packet() {
    let b = pcapng(1, &dora());
    let e = err_of("cut.pcapng", &b[..b.len() - 50]);
    assert!(e.starts_with("cut.pcapng: packet 4: "), "{e}");
    assert!(e.contains("truncated"), "{e}");
}

#[test]
fn corrupt_records_name_the_packet() {
    // incl_len > orig_len on packet 2.
    let mut p = full(dora());
    p[1].1 = 10;
    let e = err_of("bad.pcap", &pcap(1, &p));
    assert!(e.starts_with("bad.pcap: packet 2: corrupt"), "{e}");
    // A pcapng block whose trailing length disagrees with its leading length (packet 2).
    let mut b = pcapng(1, &dora());
    let shb_idb = 28 + 20;
    let epb1 = 32 + dora()[0].len().div_ceil(4) * 4;
    let at = shb_idb + epb1 + 4;
    b[at..at + 4].copy_from_slice(&7u32.to_le_bytes());
    let e = err_of("bad.pcapng", &b);
    assert!(e.starts_with("bad.pcapng: packet 2: "), "{e}");
    // Garbage and empty files.
    let e = err_of("x.pcap", b"GET / HTTP/1.1\r\n");
    assert!(e.starts_with("x.pcap: not a pcap or pcapng capture"), "{e}");
    let e = err_of("empty.pcap", b"");
    assert!(e.contains("empty"), "{e}");
    let e = err_of("tiny.pcap", b"\xd4\xc3");
    assert!(e.contains("too short"), "{e}");
}

#[test]
fn unknown_link_type_is_named() {
    let e = err_of("wifi.pcap", &pcap(105, &full(dora())));
    assert!(
        e.starts_with("wifi.pcap: packet 1: link type 105 (IEEE 802.11) is not supported"),
        "{e}"
    );
    let e = err_of("odd.pcapng", &pcapng(147, &dora()));
    assert!(e.starts_with("odd.pcapng: packet 1: link type 147"), "{e}");
}

#[test]
fn snaplen_cut_dhcp_packet_is_an_error_other_cut_packets_are_skipped() {
    let mut p = full(dora());
    p[1].0.truncate(96);
    let e = err_of("snap.pcap", &pcap(1, &p));
    assert!(e.starts_with("snap.pcap: packet 2: the DHCP packet was cut by the capture's snaplen (96 of 342 bytes captured)"), "{e}");
    // A cut DNS packet in front of a complete DORA is skipped, not an error.
    let mut dns = frame(vec![0; 40], true);
    dns[34..36].copy_from_slice(&5353u16.to_be_bytes());
    dns[36..38].copy_from_slice(&53u16.to_be_bytes());
    let n = dns.len() as u32;
    dns.truncate(46);
    let mut p = vec![(dns, n)];
    p.extend(full(dora()));
    let t = parse_trace(Path::new("mixed.pcap"), &pcap(1, &p), &filter()).unwrap();
    assert_eq!(t.packets.len(), 4);
    assert_eq!(t.packets[0].number, 2);
    assert_eq!(t.cut_skipped, 1);
}

#[test]
fn capture_without_dhcp_is_an_error() {
    let mut dns = frame(vec![0; 40], true);
    dns[34..36].copy_from_slice(&5353u16.to_be_bytes());
    dns[36..38].copy_from_slice(&53u16.to_be_bytes());
    let arp = {
        let mut a = vec![0xff; 6];
        a.extend_from_slice(&CLIENT);
        a.extend_from_slice(&[0x08, 0x06]);
        a.extend_from_slice(&[0; 28]);
        a
    };
    let e = err_of("dns.pcap", &pcap(1, &full(vec![arp, dns])));
    assert_eq!(
        e,
        "dns.pcap: no DHCP packets in the capture (2 packet(s), none UDP on port 67 or 68)"
    );
}

#[test]
fn malformed_dhcp_packets_name_the_packet() {
    // Port 67, but a 12-byte payload.
    let mut f = dora();
    f[2] = frame(vec![1; 12], true);
    let t = parse_trace(Path::new("short.pcap"), &pcap(1, &full(f)), &filter()).unwrap();
    let e = exchanges(&t, &DhcpRules).unwrap_err().to_string();
    assert!(
        e.starts_with("short.pcap: packet 3: not a DHCP message: a UDP payload of 12 bytes"),
        "{e}"
    );
    // An IPv4 total length beyond the frame.
    let mut f = dora();
    f[1][16] = 0x0f;
    let e = err_of("badip.pcap", &pcap(1, &full(f)));
    assert!(
        e.starts_with("badip.pcap: packet 2: malformed DHCP packet"),
        "{e}"
    );
}

#[test]
fn missing_file_is_named() {
    let e = read_trace(Path::new("/nonexistent/x.pcap"), &filter())
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("/nonexistent/x.pcap: cannot read the capture"),
        "{e}"
    );
}

fn request(xid: u32, mac: [u8; 6], opts: &[(u8, &[u8])]) -> Datagram {
    let mut payload = dhcp(1, xid, mac, Ipv4Addr::UNSPECIFIED, opts);
    payload.truncate(300);
    Datagram {
        payload,
        meta: Meta {
            eth_src: Some(mac),
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

/// Writes `bytes` to `name` in `dir`, a test's own temporary directory (removed when the
/// test drops it).
fn write_tmp(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.path().join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

#[tokio::test]
async fn pcap_adapter_answers_with_rewritten_captured_replies() {
    let tmp = tempfile::tempdir().unwrap();
    let path = write_tmp(&tmp, "dora.pcapng", &pcapng(1, &dora()));
    let a = PcapAdapter::open(&path, "dhcp").unwrap();
    assert_eq!(a.replies(), 2);
    assert!(a.describe().contains("dora.pcapng"), "{}", a.describe());
    let mut rx = a.subscribe();
    let mac = [0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee];
    let mut cid = vec![1];
    cid.extend_from_slice(&mac);
    a.send(&request(0xdead_beef, mac, &[(53, &[1]), (61, &cid)]))
        .await
        .unwrap();
    let offer = rx.try_recv().expect("an OFFER").datagram;
    let r = Repr::parse(&offer.payload);
    assert_eq!(r.op, 2);
    assert_eq!(r.xid, 0xdead_beef);
    assert_eq!(&r.chaddr[..6], &mac);
    assert_eq!(r.aggregate(53), Some(vec![2]));
    assert_eq!(
        r.aggregate(61),
        Some(cid.clone()),
        "client-id echo follows the sent identifier"
    );
    assert_eq!(
        offer.meta.eth_dst,
        Some(mac),
        "unicast to the captured client becomes unicast to this one"
    );
    assert_eq!(r.yiaddr, OFFERED);
    // A REQUEST for another address: the captured ACK's yiaddr follows the requested address.
    let want = Ipv4Addr::new(192, 0, 2, 177);
    a.send(&request(
        0x0102_0304,
        mac,
        &[
            (53, &[3]),
            (61, &cid),
            (54, &[192, 0, 2, 1]),
            (50, &want.octets()),
        ],
    ))
    .await
    .unwrap();
    let ack = rx.try_recv().expect("an ACK").datagram;
    let r = Repr::parse(&ack.payload);
    assert_eq!(r.aggregate(53), Some(vec![5]));
    assert_eq!(r.xid, 0x0102_0304);
    assert_eq!(r.yiaddr, want);
    assert_eq!(ack.meta.ip_dst, Some(IpAddr::V4(want)));
    // No identifier sent: the echo is dropped.
    a.send(&request(7, mac, &[(53, &[1])])).await.unwrap();
    let r = Repr::parse(&rx.try_recv().expect("a second OFFER").datagram.payload);
    assert_eq!(r.aggregate(61), None);
    // A kind the trace never answered (INFORM): silence.
    a.send(&request(8, mac, &[(53, &[8])])).await.unwrap();
    assert!(rx.try_recv().is_err(), "nothing answers an INFORM");
    // Not a DHCP request at all: silence, no error.
    a.send(&Datagram {
        payload: vec![1, 2, 3],
        meta: Meta::default(),
    })
    .await
    .unwrap();
    assert!(rx.try_recv().is_err());
}

#[test]
fn pcap_adapter_needs_replies() {
    let requests: Vec<Vec<u8>> = dora().into_iter().step_by(2).collect();
    let tmp = tempfile::tempdir().unwrap();
    let path = write_tmp(&tmp, "requests-only.pcap", &pcap(1, &full(requests)));
    let e = PcapAdapter::open(&path, "dhcp")
        .err()
        .expect("no replies")
        .to_string();
    assert!(e.contains("requests-only.pcap: no server replies"), "{e}");
    let e = PcapAdapter::open(&path, "gopher")
        .err()
        .expect("unknown protocol")
        .to_string();
    assert!(e.contains("not supported"), "{e}");
}

#[test]
fn retransmissions_are_folded_and_orphans_counted() {
    let d = dora();
    let frames = vec![
        d[1].clone(),
        d[0].clone(),
        d[0].clone(),
        d[1].clone(),
        d[2].clone(),
        d[3].clone(),
    ];
    let t = parse_trace(Path::new("r.pcap"), &pcap(1, &full(frames)), &filter()).unwrap();
    let ex = exchanges(&t, &DhcpRules).unwrap();
    assert_eq!(ex.orphans, vec![1]);
    assert_eq!(ex.exchanges.len(), 2);
    assert_eq!(ex.exchanges[0].retransmissions, vec![3]);
    assert_eq!(ex.exchanges[0].replies.len(), 1);
}

#[test]
fn rules_are_shared_through_the_trait() {
    let r: Arc<dyn TraceRules> = conform_adapters::pcap_replay::rules_for("dhcp").unwrap();
    assert_eq!(r.protocol(), "dhcp");
    assert!(conform_adapters::pcap_replay::rules_for("smtp").is_none());
}

proptest! {
    #[test]
    fn reading_never_panics(b in prop::collection::vec(any::<u8>(), 0..400)) {
        let _ = parse_trace(Path::new("f"), &b, &filter());
    }

    #[test]
    fn mutated_captures_never_panic(i in 0usize..1600, x in any::<u8>(), cut in 0usize..1600, ng in any::<bool>()) {
        let mut b = if ng { pcapng(1, &dora()) } else { pcap(1, &full(dora())) };
        let n = b.len();
        b[i % n] = x;
        b.truncate(n - cut.min(n));
        if let Ok(t) = parse_trace(Path::new("f"), &b, &filter()) {
            let _ = exchanges(&t, &DhcpRules);
        }
    }
}

#[test]
fn streamed_files_larger_than_the_window_read_and_fail_like_memory() {
    // 4,000 frames (about 1.4 MB): records straddle the 1 MiB read window.
    let frames: Vec<Vec<u8>> = (0..1000).flat_map(|_| dora()).collect();
    let tmp = tempfile::tempdir().unwrap();
    for (name, bytes) in [
        ("big.pcap", pcap(1, &full(frames.clone()))),
        ("big.pcapng", pcapng(1, &frames)),
    ] {
        let path = write_tmp(&tmp, name, &bytes);
        let t = read_trace(&path, &filter()).unwrap();
        assert_eq!(t.packets.len(), 4000, "{name}");
        assert_eq!(t.packets[3999].number, 4000);
        let mem = parse_trace(&path, &bytes, &filter()).unwrap();
        assert_eq!(mem.packets.len(), t.packets.len());
        assert!(t
            .packets
            .iter()
            .zip(&mem.packets)
            .all(|(a, b)| a.datagram == b.datagram && a.number == b.number));
        let a = PcapAdapter::open(&path, "dhcp").unwrap();
        assert_eq!(a.replies(), 2000);
        // Cut 100 bytes before the end: the last packet's record is incomplete.
        let cut = write_tmp(&tmp, &format!("cut-{name}"), &bytes[..bytes.len() - 100]);
        let e = read_trace(&cut, &filter()).unwrap_err().to_string();
        assert!(
            e.contains("packet 4000: ") && e.contains("truncated"),
            "{e}"
        );
        let e = PcapAdapter::open(&cut, "dhcp").err().unwrap().to_string();
        assert!(e.contains("packet 4000: "), "{e}");
    }
}

#[tokio::test]
async fn streamed_adapter_reads_frames_back_from_the_file() {
    let frames: Vec<Vec<u8>> = (0..1000).flat_map(|_| dora()).collect();
    let tmp = tempfile::tempdir().unwrap();
    let path = write_tmp(&tmp, "stream.pcapng", &pcapng(1, &frames));
    let a = PcapAdapter::open(&path, "dhcp").unwrap();
    let mut rx = a.subscribe();
    let mac = [0x02, 1, 2, 3, 4, 5];
    for i in 0..1500u32 {
        a.send(&request(i, mac, &[(53, &[1])])).await.unwrap();
        let r = Repr::parse(&rx.try_recv().expect("an OFFER").datagram.payload);
        assert_eq!((r.xid, r.yiaddr), (i, OFFERED));
    }
}
