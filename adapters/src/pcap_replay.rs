//! Captures as input: reading pcap/pcapng traces with precise errors, pairing their client
//! requests with the server replies that answered them, and [`PcapAdapter`], which lets a
//! trace's captured server replies play the role of a live server (`--adapter pcap:FILE`).
//!
//! What is protocol-specific sits behind [`TraceRules`]: which UDP ports carry the protocol,
//! which datagrams are requests and which are replies, how replies pair with requests, and how
//! a captured reply is rewritten to answer a different (live) request. DHCP implements it here
//! ([`DhcpRules`]); DNS plugs in the same way through [`rules_for`].
//!
//! Invariants: reading never panics on any byte string; every error names the file and, when
//! it concerns a packet, its 1-based number as Wireshark shows it (`frame.number`).

use crate::adapter::{Adapter, AdapterError, Incoming};
use async_trait::async_trait;
use conform_codec::dhcp::raw::{Entry, Repr, MIN_LEN};
use conform_codec::frame::{
    parse_link_frame, LINKTYPE_ETHERNET, LINKTYPE_LINUX_SLL, LINKTYPE_LINUX_SLL2, LINKTYPE_RAW,
};
use conform_codec::Datagram;
use pcap_file::pcap::PcapParser;
use pcap_file::pcapng::Block;
use pcap_file::pcapng::PcapNgParser;
use pcap_file::PcapError;
use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use tokio::sync::broadcast;

/// Why a capture cannot be used. `Display` gives `FILE: packet N: what` (or `FILE: what`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceError {
    pub file: PathBuf,
    /// The 1-based packet number the problem is in, when it concerns one packet.
    pub packet: Option<usize>,
    pub message: String,
}

impl fmt::Display for TraceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.packet {
            Some(n) => write!(f, "{}: packet {n}: {}", self.file.display(), self.message),
            None => write!(f, "{}: {}", self.file.display(), self.message),
        }
    }
}

impl std::error::Error for TraceError {}

/// One datagram of the protocol found in a capture.
#[derive(Clone, Debug)]
pub struct TracePacket {
    /// 1-based packet number in the file (every packet record counts, DHCP or not).
    pub number: usize,
    /// Capture timestamp (since the Unix epoch).
    pub ts: Duration,
    pub datagram: Datagram,
}

/// The datagrams of one protocol in a capture, in file order.
#[derive(Clone, Debug)]
pub struct Trace {
    pub file: PathBuf,
    pub packets: Vec<TracePacket>,
    /// Packet records in the file, of any kind.
    pub total: usize,
    /// Packets cut by the snaplen that were not the protocol's (skipped).
    pub cut_skipped: usize,
}

/// Which datagrams of a capture are wanted: UDP with one of these ports.
#[derive(Clone, Debug)]
pub struct PortFilter {
    /// Protocol name for messages (`DHCP`).
    pub what: &'static str,
    pub ports: Vec<u16>,
}

impl PortFilter {
    fn wants(&self, src: u16, dst: u16) -> bool {
        self.ports.contains(&src) || self.ports.contains(&dst)
    }
}

/// Reads a pcap or pcapng file and keeps the UDP datagrams `filter` wants.
pub fn read_trace(path: &Path, filter: &PortFilter) -> Result<Trace, TraceError> {
    let bytes = std::fs::read(path).map_err(|e| TraceError {
        file: path.to_path_buf(),
        packet: None,
        message: format!("cannot read the capture: {e}"),
    })?;
    parse_trace(path, &bytes, filter)
}

/// [`read_trace`] on bytes already in memory; `file` is only used in errors.
pub fn parse_trace(file: &Path, bytes: &[u8], filter: &PortFilter) -> Result<Trace, TraceError> {
    let err = |packet: Option<usize>, message: String| TraceError {
        file: file.to_path_buf(),
        packet,
        message,
    };
    if bytes.is_empty() {
        return Err(err(
            None,
            "the file is empty (not a pcap or pcapng capture)".into(),
        ));
    }
    if bytes.len() < 4 {
        return Err(err(
            None,
            format!(
                "the file is {} bytes long: too short for a pcap or pcapng header",
                bytes.len()
            ),
        ));
    }
    let magic = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    let mut trace = Trace {
        file: file.to_path_buf(),
        packets: Vec::new(),
        total: 0,
        cut_skipped: 0,
    };
    let mut sink = Sink {
        filter,
        trace: &mut trace,
    };
    match magic {
        0xa1b2_c3d4 | 0xd4c3_b2a1 | 0xa1b2_3c4d | 0x4d3c_b2a1 => read_pcap(bytes, &mut sink).map_err(|(p, m)| err(p, m))?,
        0x0a0d_0d0a => read_pcapng(bytes, &mut sink).map_err(|(p, m)| err(p, m))?,
        _ => {
            return Err(err(
                None,
                format!("not a pcap or pcapng capture (the file starts with {magic:08x}, expected a pcap magic number or a pcapng section header)"),
            ))
        }
    }
    if trace.packets.is_empty() {
        let ports: Vec<String> = filter.ports.iter().map(u16::to_string).collect();
        return Err(err(
            None,
            format!(
                "no {} packets in the capture ({} packet(s), none UDP on port {})",
                filter.what,
                trace.total,
                ports.join(" or ")
            ),
        ));
    }
    Ok(trace)
}

type ReadError = (Option<usize>, String);

struct Sink<'a> {
    filter: &'a PortFilter,
    trace: &'a mut Trace,
}

impl Sink<'_> {
    /// Takes one packet record (`number` already counted).
    fn packet(
        &mut self,
        number: usize,
        linktype: u32,
        ts: Duration,
        data: &[u8],
        orig_len: u32,
    ) -> Result<(), ReadError> {
        if !matches!(
            linktype,
            LINKTYPE_ETHERNET | LINKTYPE_RAW | LINKTYPE_LINUX_SLL | LINKTYPE_LINUX_SLL2
        ) {
            return Err((
                Some(number),
                format!(
                    "link type {linktype} ({}) is not supported: conform reads Ethernet (1), raw IPv4 (101) and Linux cooked captures SLL (113) and SLL2 (276)",
                    linktype_name(linktype)
                ),
            ));
        }
        let ports = peek_udp_ports(linktype, data);
        let ours = ports.is_some_and(|(s, d)| self.filter.wants(s, d));
        if (data.len() as u64) < u64::from(orig_len) {
            if ours {
                return Err((
                    Some(number),
                    format!(
                        "the {} packet was cut by the capture's snaplen ({} of {orig_len} bytes captured); capture again without a snaplen limit (tcpdump -s 0)",
                        self.filter.what,
                        data.len()
                    ),
                ));
            }
            self.trace.cut_skipped += 1;
            return Ok(());
        }
        match parse_link_frame(linktype, data) {
            Some(d) => {
                let (s, p) = (d.meta.src_port.unwrap_or(0), d.meta.dst_port.unwrap_or(0));
                if self.filter.wants(s, p) {
                    self.trace.packets.push(TracePacket { number, ts, datagram: d });
                }
                Ok(())
            }
            None if ours => Err((
                Some(number),
                format!(
                    "malformed {} packet: not a complete IPv4/UDP datagram (a length beyond the captured bytes, a bad IPv4 header, or a fragment)",
                    self.filter.what
                ),
            )),
            None => Ok(()),
        }
    }
}

fn linktype_name(lt: u32) -> &'static str {
    match lt {
        0 => "BSD loopback",
        9 => "PPP",
        105 => "IEEE 802.11",
        108 => "OpenBSD loopback",
        127 => "802.11 radiotap",
        228 => "raw IPv4",
        229 => "raw IPv6",
        _ => "unknown to conform",
    }
}

/// The UDP ports of an IPv4/UDP frame, read from whatever header bytes are present (for
/// deciding whether a cut or malformed packet belongs to the protocol).
fn peek_udp_ports(linktype: u32, f: &[u8]) -> Option<(u16, u16)> {
    let be16 = |b: &[u8], i: usize| Some(u16::from_be_bytes([*b.get(i)?, *b.get(i + 1)?]));
    let ip = match linktype {
        LINKTYPE_ETHERNET => {
            let mut off = 12;
            let mut et = be16(f, off)?;
            while et == 0x8100 || et == 0x88a8 {
                off += 4;
                et = be16(f, off)?;
            }
            if et != 0x0800 {
                return None;
            }
            f.get(off + 2..)?
        }
        LINKTYPE_RAW => f,
        LINKTYPE_LINUX_SLL => {
            if be16(f, 14)? != 0x0800 {
                return None;
            }
            f.get(16..)?
        }
        LINKTYPE_LINUX_SLL2 => {
            if be16(f, 0)? != 0x0800 {
                return None;
            }
            f.get(20..)?
        }
        _ => return None,
    };
    let vihl = *ip.first()?;
    if vihl >> 4 != 4 || *ip.get(9)? != 17 {
        return None;
    }
    let ihl = usize::from(vihl & 0x0f) * 4;
    Some((be16(ip, ihl)?, be16(ip, ihl + 2)?))
}

fn pcap_error(e: &PcapError, what: &str) -> String {
    match e {
        PcapError::IncompleteBuffer => {
            format!("the file ends inside this {what} (truncated capture)")
        }
        other => format!("corrupt {what}: {other}"),
    }
}

fn read_pcap(bytes: &[u8], sink: &mut Sink<'_>) -> Result<(), ReadError> {
    let (mut rest, parser) =
        PcapParser::new(bytes).map_err(|e| (None, pcap_error(&e, "pcap file header")))?;
    let header = parser.header();
    let linktype = u32::from(header.datalink);
    let nanos = header.ts_resolution == pcap_file::TsResolution::NanoSecond;
    let snaplen = header.snaplen;
    let mut n = 0usize;
    while !rest.is_empty() {
        n += 1;
        sink.trace.total = n;
        let (r, raw) = parser.next_raw_packet(rest).map_err(|e| match e {
            PcapError::IncompleteBuffer => (
                Some(n),
                format!("the file ends inside this packet's record ({} byte(s) left of it; truncated capture)", rest.len()),
            ),
            other => (Some(n), pcap_error(&other, "packet record")),
        })?;
        rest = r;
        if raw.incl_len > raw.orig_len {
            return Err((
                Some(n),
                format!(
                    "corrupt packet record: captured length {} exceeds the original length {}",
                    raw.incl_len, raw.orig_len
                ),
            ));
        }
        if snaplen != 0 && raw.incl_len > snaplen.max(65_535) {
            return Err((
                Some(n),
                format!("corrupt packet record: captured length {} exceeds the file's snaplen {snaplen}", raw.incl_len),
            ));
        }
        let frac = if nanos {
            raw.ts_frac
        } else {
            raw.ts_frac.saturating_mul(1000)
        };
        let ts = Duration::new(u64::from(raw.ts_sec), frac.min(999_999_999));
        sink.packet(n, linktype, ts, &raw.data, raw.orig_len)?;
    }
    Ok(())
}

fn read_pcapng(bytes: &[u8], sink: &mut Sink<'_>) -> Result<(), ReadError> {
    let (mut rest, mut parser) = PcapNgParser::new(bytes)
        .map_err(|e| (None, pcap_error(&e, "pcapng section header block")))?;
    let mut n = 0usize;
    while !rest.is_empty() {
        // A block that fails to parse is reported as the next packet (the usual corruption is
        // a cut or damaged packet block); pcapng has no packet number before the block is read.
        let (r, block) = parser.next_block(rest).map_err(|e| {
            let what = match e {
                PcapError::IncompleteBuffer => format!(
                    "the file ends inside the block that follows packet {n} ({} byte(s) left; truncated capture)",
                    rest.len()
                ),
                other => format!("corrupt pcapng block after packet {n}: {other}"),
            };
            (Some(n + 1), what)
        })?;
        rest = r;
        let (iface, ts, data, orig_len) = match block {
            Block::EnhancedPacket(p) => (Some(p.interface_id), p.timestamp, p.data, p.original_len),
            Block::SimplePacket(p) => (Some(0), Duration::ZERO, p.data, p.original_len),
            Block::Packet(p) => (
                Some(u32::from(p.interface_id)),
                Duration::from_micros(p.timestamp),
                p.data,
                p.original_len,
            ),
            _ => (None, Duration::ZERO, Default::default(), 0),
        };
        let Some(iface) = iface else { continue };
        n += 1;
        sink.trace.total = n;
        let linktype = match parser.interfaces().get(iface as usize) {
            Some(i) => u32::from(i.linktype),
            None => {
                return Err((
                    Some(n),
                    format!("corrupt capture: the packet names interface {iface}, but the section describes {}", parser.interfaces().len()),
                ))
            }
        };
        sink.packet(n, linktype, ts, &data, orig_len)?;
    }
    Ok(())
}

/// Whether a datagram is a client's request or a server's reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Request,
    Reply,
}

/// What [`TraceRules::classify`] says about one datagram.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Classified {
    pub role: Role,
    /// Message kind for matching requests (`DISCOVER`, `REQUEST`, a DNS query type).
    pub kind: String,
    /// A finer kind (`REQUEST selecting`); requests are matched by it first.
    pub subkind: String,
    /// Pairs replies with their request (DHCP: xid and chaddr).
    pub pair: Vec<u8>,
    /// The client this message belongs to (DHCP: chaddr), for grouping exchanges.
    pub client: Vec<u8>,
    /// One line for listings.
    pub summary: String,
}

/// The protocol-specific knowledge about captures.
pub trait TraceRules: Send + Sync {
    /// `dhcp`, `dns`.
    fn protocol(&self) -> &'static str;
    /// Ports and name of the protocol.
    fn filter(&self) -> PortFilter;
    /// Classifies a captured datagram; `Err` is a sentence for a corrupt message.
    fn classify(&self, d: &Datagram) -> Result<Classified, String>;
    /// Rewrites `reply`, captured as the answer to `captured`, so that it answers `live`:
    /// transaction ids, client addresses and echoed options of `captured` found in `reply` are
    /// replaced by those of `live`.
    fn rewrite_reply(&self, reply: &Datagram, captured: &Datagram, live: &Datagram) -> Datagram;
}

/// The capture rules of a protocol, by suite protocol name.
pub fn rules_for(protocol: &str) -> Option<Arc<dyn TraceRules>> {
    match protocol {
        "dhcp" => Some(Arc::new(DhcpRules)),
        _ => None,
    }
}

/// One request of a trace with the replies that answered it.
#[derive(Clone, Debug)]
pub struct Exchange {
    pub request: TracePacket,
    pub req: Classified,
    /// Replies paired with the request, in trace order.
    pub replies: Vec<(TracePacket, Classified)>,
    /// Packet numbers of retransmissions of the request (same pairing key and kind, sent
    /// before any reply), folded into this exchange.
    pub retransmissions: Vec<usize>,
}

/// The exchanges of a trace, plus the replies no request explains.
#[derive(Clone, Debug, Default)]
pub struct Exchanges {
    pub exchanges: Vec<Exchange>,
    /// Packet numbers of replies with no earlier request of the same transaction.
    pub orphans: Vec<usize>,
}

/// Pairs every reply with the latest earlier request of the same transaction and folds
/// retransmitted requests. Errors name the packet of a corrupt message.
pub fn exchanges(trace: &Trace, rules: &dyn TraceRules) -> Result<Exchanges, TraceError> {
    let mut out = Exchanges::default();
    let mut open: HashMap<Vec<u8>, usize> = HashMap::new();
    for p in &trace.packets {
        let c = rules.classify(&p.datagram).map_err(|m| TraceError {
            file: trace.file.clone(),
            packet: Some(p.number),
            message: m,
        })?;
        match c.role {
            Role::Request => {
                if let Some(&i) = open.get(&c.pair) {
                    let e = &mut out.exchanges[i];
                    if e.replies.is_empty()
                        && e.req.subkind == c.subkind
                        && e.request.datagram.payload.len() == p.datagram.payload.len()
                    {
                        e.retransmissions.push(p.number);
                        continue;
                    }
                }
                open.insert(c.pair.clone(), out.exchanges.len());
                out.exchanges.push(Exchange {
                    request: p.clone(),
                    req: c,
                    replies: Vec::new(),
                    retransmissions: Vec::new(),
                });
            }
            Role::Reply => match open.get(&c.pair) {
                Some(&i) => out.exchanges[i].replies.push((p.clone(), c)),
                None => out.orphans.push(p.number),
            },
        }
    }
    Ok(out)
}

/// DHCPv4 capture rules.
#[derive(Clone, Copy, Debug, Default)]
pub struct DhcpRules;

fn opt(r: &Repr, code: u8) -> Option<Vec<u8>> {
    r.aggregate(code)
}

fn dhcp_type_name(t: u8) -> String {
    match t {
        1 => "DISCOVER".into(),
        2 => "OFFER".into(),
        3 => "REQUEST".into(),
        4 => "DECLINE".into(),
        5 => "ACK".into(),
        6 => "NAK".into(),
        7 => "RELEASE".into(),
        8 => "INFORM".into(),
        n => format!("TYPE{n}"),
    }
}

fn mac_text(b: &[u8]) -> String {
    b.iter()
        .map(|x| format!("{x:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

impl DhcpRules {
    /// The message type name (`DISCOVER`) of a DHCP payload, `BOOTP` without option 53.
    pub fn message_type(r: &Repr) -> String {
        match opt(r, 53).as_deref() {
            Some([t]) => dhcp_type_name(*t),
            _ => "BOOTP".into(),
        }
    }

    /// The chaddr bytes that identify the client (`hlen` of them, at most 16).
    pub fn client_hw(r: &Repr) -> Vec<u8> {
        r.chaddr[..usize::from(r.hlen).min(16)].to_vec()
    }
}

#[derive(Clone, Copy)]
enum Addr {
    Ciaddr,
    Yiaddr,
    Giaddr,
}

impl TraceRules for DhcpRules {
    fn protocol(&self) -> &'static str {
        "dhcp"
    }

    fn filter(&self) -> PortFilter {
        PortFilter {
            what: "DHCP",
            ports: vec![67, 68],
        }
    }

    fn classify(&self, d: &Datagram) -> Result<Classified, String> {
        let p = &d.payload;
        if p.len() < MIN_LEN {
            return Err(format!(
                "not a DHCP message: a UDP payload of {} bytes on port {}/{} (a DHCP message has at least {MIN_LEN})",
                p.len(),
                d.meta.src_port.unwrap_or(0),
                d.meta.dst_port.unwrap_or(0)
            ));
        }
        let r = Repr::parse(p);
        if r.cookie != conform_codec::dhcp::raw::MAGIC_COOKIE {
            return Err(format!(
                "not a DHCP message: magic cookie {} instead of 63825363",
                conform_codec::value::hex(&r.cookie)
            ));
        }
        let role = match r.op {
            1 => Role::Request,
            2 => Role::Reply,
            op => {
                return Err(format!(
                    "not a DHCP message: op {op} (1 BOOTREQUEST or 2 BOOTREPLY)"
                ))
            }
        };
        let kind = Self::message_type(&r);
        let subkind = if kind == "REQUEST" {
            let state = match (
                opt(&r, 54).is_some(),
                opt(&r, 50).is_some(),
                r.ciaddr.is_unspecified(),
            ) {
                (true, _, _) => "selecting",
                (false, true, _) => "init-reboot",
                (false, false, false) => "renewing",
                (false, false, true) => "malformed",
            };
            format!("REQUEST {state}")
        } else {
            kind.clone()
        };
        let hw = Self::client_hw(&r);
        let mut pair = r.xid.to_be_bytes().to_vec();
        pair.extend_from_slice(&hw);
        let mut summary = format!("DHCP{kind} xid=0x{:08x} chaddr={}", r.xid, mac_text(&hw));
        if role == Role::Reply && !r.yiaddr.is_unspecified() {
            summary.push_str(&format!(" yiaddr={}", r.yiaddr));
        }
        Ok(Classified {
            role,
            kind,
            subkind,
            pair,
            client: hw,
            summary,
        })
    }

    fn rewrite_reply(&self, reply: &Datagram, captured: &Datagram, live: &Datagram) -> Datagram {
        let mut r = Repr::parse(&reply.payload);
        let c = Repr::parse(&captured.payload);
        let l = Repr::parse(&live.payload);
        // Fields a server copies from the request.
        if r.xid == c.xid {
            r.xid = l.xid;
        }
        if r.secs == c.secs {
            r.secs = l.secs;
        }
        if r.hops == c.hops {
            r.hops = l.hops;
        }
        if r.flags == c.flags {
            r.flags = l.flags;
        } else if (r.flags ^ c.flags) & 0x7fff == 0 {
            r.flags = (r.flags & 0x7fff) | (l.flags & 0x8000);
        }
        if r.chaddr == c.chaddr || Self::client_hw(&r) == Self::client_hw(&c) {
            r.chaddr = l.chaddr;
            r.hlen = l.hlen;
            r.htype = l.htype;
        }
        // Addresses of the captured request (ciaddr, giaddr, requested IP) map to the live
        // request's; a reply field holding a mapped address gets the live one.
        let mut map: Vec<(Ipv4Addr, Ipv4Addr)> = Vec::new();
        let ip4 = |b: Option<Vec<u8>>| {
            b.and_then(|b| <[u8; 4]>::try_from(b.as_slice()).ok())
                .map(Ipv4Addr::from)
        };
        for (a, b) in [(c.ciaddr, l.ciaddr), (c.giaddr, l.giaddr)] {
            if !a.is_unspecified() && !b.is_unspecified() {
                map.push((a, b));
            }
        }
        if let (Some(a), Some(b)) = (ip4(opt(&c, 50)), ip4(opt(&l, 50))) {
            map.push((a, b));
        }
        if let (Some(a), true) = (ip4(opt(&c, 50)), !l.ciaddr.is_unspecified()) {
            map.push((a, l.ciaddr));
        }
        let remap = |a: Ipv4Addr| {
            map.iter()
                .find(|(x, _)| *x == a)
                .map(|(_, y)| *y)
                .unwrap_or(a)
        };
        for f in [Addr::Ciaddr, Addr::Yiaddr, Addr::Giaddr] {
            let slot = match f {
                Addr::Ciaddr => &mut r.ciaddr,
                Addr::Yiaddr => &mut r.yiaddr,
                Addr::Giaddr => &mut r.giaddr,
            };
            *slot = remap(*slot);
        }
        if r.giaddr == c.giaddr {
            r.giaddr = l.giaddr;
        }
        // Echoed options (client identifier, relay agent information): a reply copy of the
        // captured request's option becomes a copy of the live request's (or is dropped).
        for code in [61u8, 82] {
            let (Some(rv), Some(cv)) = (opt(&r, code), opt(&c, code)) else {
                continue;
            };
            if rv != cv {
                continue;
            }
            let lv = opt(&l, code);
            let mut entries = Vec::with_capacity(r.options.entries.len());
            let mut done = false;
            for e in r.options.entries.drain(..) {
                match e {
                    Entry::Option(o) if o.code == code => {
                        if !done {
                            if let Some(v) = &lv {
                                entries.extend(
                                    conform_codec::dhcp::raw::split_option(code, v)
                                        .into_iter()
                                        .map(Entry::Option),
                                );
                            }
                            done = true;
                        }
                    }
                    other => entries.push(other),
                }
            }
            r.options.entries = entries;
        }
        let mut out = reply.clone();
        out.payload = r.to_bytes();
        // Lower layers: the reply went to the captured client; it now goes to the live one.
        let m = &mut out.meta;
        if m.eth_dst.is_some() && m.eth_dst == captured.meta.eth_src {
            m.eth_dst = live.meta.eth_src.or_else(|| l.chaddr[..6].try_into().ok());
        }
        if let Some(IpAddr::V4(a)) = m.ip_dst {
            let b = remap(a);
            m.ip_dst = Some(IpAddr::V4(
                if captured.meta.ip_src == Some(IpAddr::V4(a)) && !a.is_unspecified() {
                    match live.meta.ip_src {
                        Some(IpAddr::V4(x)) if !x.is_unspecified() => x,
                        _ => b,
                    }
                } else {
                    b
                },
            ));
        }
        if m.dst_port.is_some() && m.dst_port == captured.meta.src_port {
            m.dst_port = live.meta.src_port.or(m.dst_port);
        }
        m.ip_len = None;
        out
    }
}

/// One captured reply, indexed by what it answered.
struct Answer {
    /// The captured request it answered.
    request: Arc<Datagram>,
    reply: Datagram,
}

/// Replies of a trace grouped by the kind of request they answered, each group in trace
/// order with a cursor: the n-th live request of a kind gets the n-th captured answer group of
/// that kind (wrapping around when the trace has fewer).
struct Book {
    /// subkind → list of answer groups (one group = all replies to one captured request).
    by_subkind: HashMap<String, Vec<Vec<Answer>>>,
    by_kind: HashMap<String, Vec<Vec<Answer>>>,
    cursors: Mutex<HashMap<String, usize>>,
}

impl Book {
    fn pick(&self, subkind: &str, kind: &str) -> Option<&[Answer]> {
        let (key, groups) = match self.by_subkind.get(subkind) {
            Some(g) => (format!("s:{subkind}"), g),
            None => (format!("k:{kind}"), self.by_kind.get(kind)?),
        };
        if groups.is_empty() {
            return None;
        }
        let mut cur = self.cursors.lock().ok()?;
        let i = cur.entry(key).or_insert(0);
        let g = &groups[*i % groups.len()];
        *i += 1;
        Some(g)
    }
}

/// Offline target: the captured server replies of a trace answer the requests a suite sends.
///
/// For each sent request it picks the captured reply that answered the same kind of request
/// (DHCP: message type, and for DHCPREQUEST its state), in trace order, rewrites it to fit the
/// sent request ([`TraceRules::rewrite_reply`]) and delivers it at once. When no captured
/// request of that kind was answered, it stays silent, so the case times out honestly.
pub struct PcapAdapter {
    file: PathBuf,
    rules: Arc<dyn TraceRules>,
    book: Book,
    replies: usize,
    tx: broadcast::Sender<Incoming>,
    seq: AtomicU64,
}

impl PcapAdapter {
    /// Loads the trace for a suite protocol (`dhcp`).
    pub fn open(path: &Path, protocol: &str) -> Result<Self, TraceError> {
        let rules = rules_for(protocol).ok_or_else(|| TraceError {
            file: path.to_path_buf(),
            packet: None,
            message: format!("offline checks of {protocol} captures are not supported yet"),
        })?;
        let trace = read_trace(path, &rules.filter())?;
        Self::from_trace(&trace, rules)
    }

    /// Builds the adapter from a trace already read.
    pub fn from_trace(trace: &Trace, rules: Arc<dyn TraceRules>) -> Result<Self, TraceError> {
        let ex = exchanges(trace, rules.as_ref())?;
        let mut by_subkind: HashMap<String, Vec<Vec<Answer>>> = HashMap::new();
        let mut by_kind: HashMap<String, Vec<Vec<Answer>>> = HashMap::new();
        let mut replies = 0;
        for e in ex.exchanges {
            if e.replies.is_empty() {
                continue;
            }
            let req = Arc::new(e.request.datagram);
            let group = |replies: &[(TracePacket, Classified)]| -> Vec<Answer> {
                replies
                    .iter()
                    .map(|(p, _)| Answer {
                        request: req.clone(),
                        reply: p.datagram.clone(),
                    })
                    .collect()
            };
            replies += e.replies.len();
            by_kind
                .entry(e.req.kind.clone())
                .or_default()
                .push(group(&e.replies));
            by_subkind
                .entry(e.req.subkind.clone())
                .or_default()
                .push(group(&e.replies));
        }
        if replies == 0 {
            return Err(TraceError {
                file: trace.file.clone(),
                packet: None,
                message: format!(
                    "no server replies to client requests in the capture ({} {} packet(s)): nothing can answer a suite",
                    trace.packets.len(),
                    rules.filter().what
                ),
            });
        }
        let (tx, _) = broadcast::channel(4096);
        Ok(PcapAdapter {
            file: trace.file.clone(),
            rules,
            book: Book {
                by_subkind,
                by_kind,
                cursors: Mutex::new(HashMap::new()),
            },
            replies,
            tx,
            seq: AtomicU64::new(0),
        })
    }

    /// Captured replies available to answer requests.
    pub fn replies(&self) -> usize {
        self.replies
    }
}

#[async_trait]
impl Adapter for PcapAdapter {
    async fn send(&self, d: &Datagram) -> Result<(), AdapterError> {
        // A request the rules cannot read gets no answer, as from a server that drops it.
        let Ok(c) = self.rules.classify(d) else {
            return Ok(());
        };
        if c.role != Role::Request {
            return Ok(());
        }
        let Some(group) = self.book.pick(&c.subkind, &c.kind) else {
            return Ok(());
        };
        for a in group {
            let reply = self.rules.rewrite_reply(&a.reply, &a.request, d);
            let _ = self.tx.send(Incoming {
                datagram: reply,
                at: SystemTime::now(),
                seq: self.seq.fetch_add(1, Ordering::Relaxed),
            });
        }
        Ok(())
    }

    fn subscribe(&self) -> broadcast::Receiver<Incoming> {
        self.tx.subscribe()
    }

    fn describe(&self) -> String {
        format!(
            "pcap {} ({} captured replies)",
            self.file.display(),
            self.replies
        )
    }
}
