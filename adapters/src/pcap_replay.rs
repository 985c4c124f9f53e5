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
pub use crate::pcap_dns::DnsRules;
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
use std::borrow::Cow;
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
    let mut packets = Vec::new();
    let stats = scan_file(path, filter, &mut |p: RawPacket<'_>| {
        keep(&mut packets, p, filter)
    })?;
    Ok(Trace {
        file: path.to_path_buf(),
        packets,
        total: stats.total,
        cut_skipped: stats.cut_skipped,
    })
}

/// [`read_trace`] on bytes already in memory; `file` is only used in errors.
pub fn parse_trace(file: &Path, bytes: &[u8], filter: &PortFilter) -> Result<Trace, TraceError> {
    let mut packets = Vec::with_capacity(bytes.len() / 512);
    let stats = scan_trace(file, bytes, filter, &mut |p: RawPacket<'_>| {
        keep(&mut packets, p, filter)
    })?;
    Ok(Trace {
        file: file.to_path_buf(),
        packets,
        total: stats.total,
        cut_skipped: stats.cut_skipped,
    })
}

fn keep(
    packets: &mut Vec<TracePacket>,
    p: RawPacket<'_>,
    filter: &PortFilter,
) -> Result<(), String> {
    match parse_link_frame(p.linktype, p.frame) {
        Some(datagram) => {
            packets.push(TracePacket {
                number: p.number,
                ts: p.ts,
                datagram,
            });
            Ok(())
        }
        None => Err(format!(
            "malformed {} packet: not a complete IPv4/UDP datagram",
            filter.what
        )),
    }
}

/// One packet of the protocol as found in the file, without a copy.
#[derive(Clone, Copy, Debug)]
pub struct RawPacket<'a> {
    /// 1-based packet number in the file.
    pub number: usize,
    pub ts: Duration,
    pub linktype: u32,
    /// The whole captured frame.
    pub frame: &'a [u8],
    /// Where the frame starts in the file.
    pub offset: u64,
    /// The UDP payload inside `frame`.
    pub payload: &'a [u8],
    /// UDP source and destination ports.
    pub ports: (u16, u16),
    /// IPv4 source and destination addresses.
    pub addrs: (Ipv4Addr, Ipv4Addr),
}

impl RawPacket<'_> {
    /// The packet's endpoints, for [`TraceRules::classify`].
    pub fn ends(&self) -> Ends {
        Ends {
            src: Some(IpAddr::V4(self.addrs.0)),
            dst: Some(IpAddr::V4(self.addrs.1)),
            ports: self.ports,
        }
    }
}

/// Counts of a scan.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ScanStats {
    /// Packet records in the file.
    pub total: usize,
    /// Packets of other protocols cut by the snaplen (skipped).
    pub cut_skipped: usize,
    /// Packets of the protocol handed to the visitor.
    pub kept: usize,
}

/// Walks a pcap or pcapng capture and hands every complete IPv4/UDP datagram `filter` wants to
/// `visit`, in file order, without copying it. A `visit` error is reported for that packet.
/// Checks and errors are those of [`read_trace`] (a capture with none of the protocol's
/// packets is an error).
pub fn scan_trace(
    file: &Path,
    bytes: &[u8],
    filter: &PortFilter,
    visit: &mut dyn FnMut(RawPacket<'_>) -> Result<(), String>,
) -> Result<ScanStats, TraceError> {
    scan(file, &mut Source::memory(bytes), filter, visit)
}

/// [`scan_trace`] streaming the file through a 1 MiB window: memory stays small whatever the
/// capture's size, and `RawPacket::offset` says where each frame is in the file.
pub fn scan_file(
    path: &Path,
    filter: &PortFilter,
    visit: &mut dyn FnMut(RawPacket<'_>) -> Result<(), String>,
) -> Result<ScanStats, TraceError> {
    let f = std::fs::File::open(path).map_err(|e| TraceError {
        file: path.to_path_buf(),
        packet: None,
        message: format!("cannot read the capture: {e}"),
    })?;
    scan(path, &mut Source::file(f), filter, visit)
}

fn scan(
    file: &Path,
    src: &mut Source<'_>,
    filter: &PortFilter,
    visit: &mut dyn FnMut(RawPacket<'_>) -> Result<(), String>,
) -> Result<ScanStats, TraceError> {
    let err = |packet: Option<usize>, message: String| TraceError {
        file: file.to_path_buf(),
        packet,
        message,
    };
    src.fill(4).map_err(|(p, m)| err(p, m))?;
    let head = src.window();
    if head.is_empty() {
        return Err(err(
            None,
            "the file is empty (not a pcap or pcapng capture)".into(),
        ));
    }
    if head.len() < 4 {
        return Err(err(
            None,
            format!(
                "the file is {} bytes long: too short for a pcap or pcapng header",
                head.len()
            ),
        ));
    }
    let magic = u32::from_be_bytes([head[0], head[1], head[2], head[3]]);
    let mut sink = Sink {
        filter,
        visit,
        stats: ScanStats::default(),
    };
    match magic {
        0xa1b2_c3d4 | 0xd4c3_b2a1 | 0xa1b2_3c4d | 0x4d3c_b2a1 => read_pcap(src, &mut sink).map_err(|(p, m)| err(p, m))?,
        0x0a0d_0d0a => read_pcapng(src, &mut sink).map_err(|(p, m)| err(p, m))?,
        _ => {
            return Err(err(
                None,
                format!("not a pcap or pcapng capture (the file starts with {magic:08x}, expected a pcap magic number or a pcapng section header)"),
            ))
        }
    }
    let stats = sink.stats;
    if stats.kept == 0 {
        let ports: Vec<String> = filter.ports.iter().map(u16::to_string).collect();
        return Err(err(
            None,
            format!(
                "no {} packets in the capture ({} packet(s), none UDP on port {})",
                filter.what,
                stats.total,
                ports.join(" or ")
            ),
        ));
    }
    Ok(stats)
}

type ReadError = (Option<usize>, String);

struct Sink<'a, 'v> {
    filter: &'a PortFilter,
    visit: &'a mut (dyn FnMut(RawPacket<'_>) -> Result<(), String> + 'v),
    stats: ScanStats,
}

impl Sink<'_, '_> {
    /// Takes one packet record (`number` already counted).
    fn packet(
        &mut self,
        number: usize,
        linktype: u32,
        ts: Duration,
        data: &[u8],
        orig_len: u32,
        offset: u64,
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
        let ours = peek_udp_ports(linktype, data).is_some_and(|(s, d)| self.filter.wants(s, d));
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
            self.stats.cut_skipped += 1;
            return Ok(());
        }
        if !ours {
            return Ok(());
        }
        match udp_payload(linktype, data) {
            Some((range, ports, addrs)) => {
                self.stats.kept += 1;
                (self.visit)(RawPacket { number, ts, linktype, frame: data, offset, payload: &data[range], ports, addrs }).map_err(|m| (Some(number), m))
            }
            None => Err((
                Some(number),
                format!(
                    "malformed {} packet: not a complete IPv4/UDP datagram (a length beyond the captured bytes, a bad IPv4 header, or a fragment)",
                    self.filter.what
                ),
            )),
        }
    }
}

/// Where the IPv4 header starts in a frame, as [`parse_link_frame`] finds it.
fn ip_offset(linktype: u32, f: &[u8]) -> Option<usize> {
    let be16 = |i: usize| Some(u16::from_be_bytes([*f.get(i)?, *f.get(i + 1)?]));
    let after_tag = |proto: u16, at: usize| match proto {
        0x0800 => Some(at),
        0x8100 if be16(at + 2)? == 0x0800 => Some(at + 4),
        _ => None,
    };
    match linktype {
        LINKTYPE_ETHERNET => after_tag(be16(12)?, 14),
        LINKTYPE_RAW => Some(0),
        LINKTYPE_LINUX_SLL => after_tag(be16(14)?, 16),
        LINKTYPE_LINUX_SLL2 => after_tag(be16(0)?, 20),
        _ => None,
    }
}

/// The UDP payload range, ports and addresses of a complete, unfragmented IPv4/UDP frame;
/// `None` where [`parse_link_frame`] would give `None`.
#[allow(clippy::type_complexity)]
fn udp_payload(
    linktype: u32,
    f: &[u8],
) -> Option<(std::ops::Range<usize>, (u16, u16), (Ipv4Addr, Ipv4Addr))> {
    let o = ip_offset(linktype, f)?;
    let ip = f.get(o..)?;
    let be16 = |b: &[u8], i: usize| Some(u16::from_be_bytes([*b.get(i)?, *b.get(i + 1)?]));
    let vihl = *ip.first()?;
    let ihl = usize::from(vihl & 0x0f) * 4;
    if vihl >> 4 != 4 || ihl < 20 || ip.len() < ihl || ip[9] != 17 {
        return None;
    }
    let total = usize::from(be16(ip, 2)?);
    let frag = be16(ip, 6)?;
    if total < ihl || total > ip.len() || frag & 0x3fff != 0 {
        return None;
    }
    let seg = &ip[ihl..total];
    let ulen = usize::from(be16(seg, 4)?);
    if ulen < 8 || ulen > seg.len() {
        return None;
    }
    let start = o + ihl + 8;
    let a4 = |i: usize| Ipv4Addr::new(ip[i], ip[i + 1], ip[i + 2], ip[i + 3]);
    Some((
        start..o + ihl + ulen,
        (be16(seg, 0)?, be16(seg, 2)?),
        (a4(12), a4(16)),
    ))
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

/// The bytes of a capture: one slice in memory, or a file streamed through a window (so a
/// large capture is never held in memory whole).
struct Source<'b> {
    mem: &'b [u8],
    file: Option<std::fs::File>,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// File offset of the window's first byte.
    offset: u64,
}

const WINDOW: usize = 1 << 20;

impl<'b> Source<'b> {
    fn memory(mem: &'b [u8]) -> Self {
        Source {
            mem,
            file: None,
            buf: Vec::new(),
            start: 0,
            end: mem.len(),
            offset: 0,
        }
    }

    fn file(f: std::fs::File) -> Source<'static> {
        Source {
            mem: &[],
            file: Some(f),
            buf: vec![0; WINDOW],
            start: 0,
            end: 0,
            offset: 0,
        }
    }

    fn window(&self) -> &[u8] {
        match self.file {
            None => &self.mem[self.start..self.end],
            Some(_) => &self.buf[self.start..self.end],
        }
    }

    fn consume(&mut self, n: usize) {
        self.start += n;
        self.offset += n as u64;
    }

    /// Reads more bytes behind the window; `false` when there are no more.
    fn refill(&mut self) -> Result<bool, ReadError> {
        use std::io::Read;
        let Some(f) = self.file.as_mut() else {
            return Ok(false);
        };
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.buf.len() {
            let n = self.buf.len() * 2;
            self.buf.resize(n, 0);
        }
        loop {
            match f.read(&mut self.buf[self.end..]) {
                Ok(0) => return Ok(false),
                Ok(n) => {
                    self.end += n;
                    return Ok(true);
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err((None, format!("cannot read the capture: {e}"))),
            }
        }
    }

    /// Makes at least `n` bytes visible if the input has them.
    fn fill(&mut self, n: usize) -> Result<(), ReadError> {
        while self.window().len() < n && self.refill()? {}
        Ok(())
    }
}

fn read_pcap(src: &mut Source<'_>, sink: &mut Sink<'_, '_>) -> Result<(), ReadError> {
    src.fill(24)?;
    let (rem, parser) =
        PcapParser::new(src.window()).map_err(|e| (None, pcap_error(&e, "pcap file header")))?;
    let used = src.window().len() - rem.len();
    src.consume(used);
    let header = parser.header();
    let linktype = u32::from(header.datalink);
    let nanos = header.ts_resolution == pcap_file::TsResolution::NanoSecond;
    let snaplen = header.snaplen;
    let mut n = 0usize;
    loop {
        if src.window().is_empty() && !src.refill()? {
            return Ok(());
        }
        let res = parser.next_raw_packet(src.window());
        let (left, raw) = match res {
            Ok((rem, raw)) => (rem.len(), raw),
            Err(PcapError::IncompleteBuffer) => {
                if src.refill()? {
                    continue;
                }
                return Err((
                    Some(n + 1),
                    format!(
                        "the file ends inside this packet's record ({} byte(s) left of it; truncated capture)",
                        src.window().len()
                    ),
                ));
            }
            Err(other) => return Err((Some(n + 1), pcap_error(&other, "packet record"))),
        };
        n += 1;
        sink.stats.total = n;
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
        let w = src.window();
        let at = src.offset + (raw.data.as_ptr() as usize - w.as_ptr() as usize) as u64;
        sink.packet(n, linktype, ts, &raw.data, raw.orig_len, at)?;
        let used = w.len() - left;
        src.consume(used);
    }
}

fn read_pcapng(src: &mut Source<'_>, sink: &mut Sink<'_, '_>) -> Result<(), ReadError> {
    let mut parser = loop {
        match PcapNgParser::new(src.window()) {
            Ok((rem, parser)) => {
                let used = src.window().len() - rem.len();
                src.consume(used);
                break parser;
            }
            Err(PcapError::IncompleteBuffer) => {
                if src.refill()? {
                    continue;
                }
                return Err((
                    None,
                    pcap_error(&PcapError::IncompleteBuffer, "pcapng section header block"),
                ));
            }
            Err(e) => return Err((None, pcap_error(&e, "pcapng section header block"))),
        }
    };
    let mut n = 0usize;
    loop {
        if src.window().is_empty() && !src.refill()? {
            return Ok(());
        }
        // A block that fails to parse is reported as the next packet (the usual corruption is
        // a cut or damaged packet block); pcapng has no packet number before the block is read.
        let res = parser.next_block(src.window());
        let (left, block) = match res {
            Ok((rem, block)) => (rem.len(), block),
            Err(PcapError::IncompleteBuffer) => {
                if src.refill()? {
                    continue;
                }
                return Err((
                    Some(n + 1),
                    format!(
                        "the file ends inside the block that follows packet {n} ({} byte(s) left; truncated capture)",
                        src.window().len()
                    ),
                ));
            }
            Err(other) => {
                return Err((
                    Some(n + 1),
                    format!("corrupt pcapng block after packet {n}: {other}"),
                ))
            }
        };
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
        let w = src.window();
        let used = w.len() - left;
        if let Some(iface) = iface {
            n += 1;
            sink.stats.total = n;
            let linktype = match parser.interfaces().get(iface as usize) {
                Some(i) => u32::from(i.linktype),
                None => {
                    return Err((
                        Some(n),
                        format!(
                            "corrupt capture: the packet names interface {iface}, but the section describes {}",
                            parser.interfaces().len()
                        ),
                    ))
                }
            };
            let ts = match parser.interfaces().get(iface as usize) {
                Some(i) => scale_ts(ts, &i.options),
                None => ts,
            };
            let at =
                src.offset + (data.as_ptr() as usize).saturating_sub(w.as_ptr() as usize) as u64;
            sink.packet(n, linktype, ts, &data, orig_len, at)?;
        }
        src.consume(used);
    }
}

/// The time of a pcapng packet block. pcap-file hands over the block's 64-bit timestamp as
/// if it counted nanoseconds; it counts units of the interface's `if_tsresol` (10^-6 s when
/// the option is absent, as dumpcap writes; 10^-n or 2^-n s when present).
fn scale_ts(
    raw: Duration,
    options: &[pcap_file::pcapng::blocks::interface_description::InterfaceDescriptionOption<'_>],
) -> Duration {
    use pcap_file::pcapng::blocks::interface_description::InterfaceDescriptionOption as O;
    let units = raw.as_nanos();
    let resol = options
        .iter()
        .find_map(|o| match o {
            O::IfTsResol(r) => Some(*r),
            _ => None,
        })
        .unwrap_or(6);
    let nanos = if resol & 0x80 == 0 {
        let exp = u32::from(resol & 0x7f);
        if exp <= 9 {
            units.saturating_mul(10u128.pow(9 - exp))
        } else {
            units / 10u128.pow((exp - 9).min(38))
        }
    } else {
        // 2^-n seconds per unit.
        let exp = u32::from(resol & 0x7f).min(127);
        (units.saturating_mul(1_000_000_000)) >> exp
    };
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}

/// Whether a datagram is a client's request or a server's reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Request,
    Reply,
}

/// A fixed-size key (pairing, client identity) that needs no allocation: up to 23 bytes kept
/// as they are; longer inputs are folded with FNV-1a into the last 8 bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    len: u8,
    bytes: [u8; 23],
}

impl Key {
    pub fn new(parts: &[&[u8]]) -> Key {
        let mut k = Key {
            len: 0,
            bytes: [0; 23],
        };
        let n: usize = parts.iter().map(|p| p.len()).sum();
        if n <= 23 {
            for p in parts {
                k.bytes[usize::from(k.len)..usize::from(k.len) + p.len()].copy_from_slice(p);
                k.len += p.len() as u8;
            }
        } else {
            let mut h: u64 = 0xcbf2_9ce4_8422_2325;
            for b in parts.iter().flat_map(|p| p.iter()) {
                h ^= u64::from(*b);
                h = h.wrapping_mul(0x0000_0100_0000_01b3);
            }
            let head = parts.first().map(|p| &p[..p.len().min(15)]).unwrap_or(&[]);
            k.bytes[..head.len()].copy_from_slice(head);
            k.bytes[15..].copy_from_slice(&h.to_be_bytes());
            k.len = 24;
        }
        k
    }

    /// The bytes of a short key (a folded key gives its 23 stored bytes).
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len).min(23)]
    }
}

/// What [`TraceRules::classify`] says about one datagram.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Classified {
    pub role: Role,
    /// Message kind for matching requests (`DISCOVER`, `REQUEST`, a DNS query type).
    pub kind: Cow<'static, str>,
    /// A finer kind (`REQUEST selecting`); requests are matched by it first.
    pub subkind: Cow<'static, str>,
    /// Pairs replies with their request (DHCP: xid and chaddr).
    pub pair: Key,
    /// The client this message belongs to (DHCP: chaddr; DNS: address and port), for grouping
    /// exchanges.
    pub client: Key,
    /// A second, looser key a request is also known by (DNS: client and id without the
    /// question), for replies that do not repeat what the full key covers; such a reply gives
    /// it as its `pair`. `None` for DHCP.
    pub pair_loose: Option<Key>,
}

/// Where a datagram came from and went to, as far as known (a live request built by the
/// encoder has no addresses).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ends {
    pub src: Option<IpAddr>,
    pub dst: Option<IpAddr>,
    /// UDP source and destination ports (0 when unknown).
    pub ports: (u16, u16),
}

impl Ends {
    /// The endpoints recorded in a datagram's metadata.
    pub fn of(d: &Datagram) -> Ends {
        Ends {
            src: d.meta.ip_src,
            dst: d.meta.ip_dst,
            ports: (d.meta.src_port.unwrap_or(0), d.meta.dst_port.unwrap_or(0)),
        }
    }
}

/// The protocol-specific knowledge about captures.
pub trait TraceRules: Send + Sync {
    /// `dhcp`, `dns`.
    fn protocol(&self) -> &'static str;
    /// Ports and name of the protocol.
    fn filter(&self) -> PortFilter;
    /// Classifies a captured UDP payload (sent between `ends`); `Err` is a sentence for a
    /// corrupt message. Called for every packet of a capture: it should allocate little.
    fn classify(&self, payload: &[u8], ends: Ends) -> Result<Classified, String>;
    /// Rewrites `reply`, captured as the answer to `captured`, so that it answers `live`:
    /// transaction ids, client addresses and echoed options of `captured` found in `reply` are
    /// replaced by those of `live`.
    fn rewrite_reply(&self, reply: &Datagram, captured: &Datagram, live: &Datagram) -> Datagram;
}

/// The capture rules of a protocol, by suite protocol name.
pub fn rules_for(protocol: &str) -> Option<Arc<dyn TraceRules>> {
    match protocol {
        "dhcp" => Some(Arc::new(DhcpRules)),
        "dns" => Some(Arc::new(DnsRules)),
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

/// A request with its replies, over any message representation `T`.
struct Paired<T> {
    len: u32,
    kind: Cow<'static, str>,
    subkind: Cow<'static, str>,
    item: T,
    replies: Vec<T>,
    retransmissions: Vec<usize>,
}

/// FNV-1a: keys are short and not attacker-chosen in a way that matters here (a capture the
/// user hands in), and SipHash showed in the profile of loading 100,000 packets.
#[derive(Clone, Copy)]
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl std::hash::Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}

type KeyMap<V> = HashMap<Key, V, std::hash::BuildHasherDefault<Fnv>>;

/// Pairs every reply with the latest earlier request of the same transaction and folds
/// retransmissions (same pairing key and kind and length, before any reply).
struct Pairer<T> {
    open: KeyMap<usize>,
    out: Vec<Paired<T>>,
    orphans: Vec<usize>,
}

impl<T> Pairer<T> {
    fn with_capacity(n: usize) -> Self {
        Pairer {
            open: KeyMap::with_capacity_and_hasher(n, Default::default()),
            out: Vec::with_capacity(n),
            orphans: Vec::new(),
        }
    }

    fn push(&mut self, number: usize, len: usize, c: &Classified, item: T) {
        let len = len as u32;
        match c.role {
            Role::Request => {
                if let Some(&i) = self.open.get(&c.pair) {
                    let e = &mut self.out[i];
                    if e.replies.is_empty() && e.subkind == c.subkind && e.len == len {
                        e.retransmissions.push(number);
                        return;
                    }
                }
                self.open.insert(c.pair, self.out.len());
                if let Some(k) = c.pair_loose {
                    self.open.insert(k, self.out.len());
                }
                self.out.push(Paired {
                    len,
                    kind: c.kind.clone(),
                    subkind: c.subkind.clone(),
                    item,
                    replies: Vec::new(),
                    retransmissions: Vec::new(),
                });
            }
            Role::Reply => match self.open.get(&c.pair) {
                Some(&i) => self.out[i].replies.push(item),
                None => self.orphans.push(number),
            },
        }
    }
}

/// Pairs every reply with the latest earlier request of the same transaction and folds
/// retransmitted requests. Errors name the packet of a corrupt message.
pub fn exchanges(trace: &Trace, rules: &dyn TraceRules) -> Result<Exchanges, TraceError> {
    let mut pr: Pairer<(&TracePacket, Classified)> = Pairer::with_capacity(trace.packets.len() / 2);
    for p in &trace.packets {
        let c = rules
            .classify(&p.datagram.payload, Ends::of(&p.datagram))
            .map_err(|m| TraceError {
                file: trace.file.clone(),
                packet: Some(p.number),
                message: m,
            })?;
        pr.push(p.number, p.datagram.payload.len(), &c, (p, c.clone()));
    }
    Ok(Exchanges {
        exchanges: pr
            .out
            .into_iter()
            .map(|e| Exchange {
                request: e.item.0.clone(),
                req: e.item.1,
                replies: e.replies.into_iter().map(|(p, c)| (p.clone(), c)).collect(),
                retransmissions: e.retransmissions,
            })
            .collect(),
        orphans: pr.orphans,
    })
}

/// DHCPv4 capture rules.
#[derive(Clone, Copy, Debug, Default)]
pub struct DhcpRules;

fn opt(r: &Repr, code: u8) -> Option<Vec<u8>> {
    r.aggregate(code)
}

fn dhcp_type_name(t: u8) -> Cow<'static, str> {
    Cow::Borrowed(match t {
        1 => "DISCOVER",
        2 => "OFFER",
        3 => "REQUEST",
        4 => "DECLINE",
        5 => "ACK",
        6 => "NAK",
        7 => "RELEASE",
        8 => "INFORM",
        n => return Cow::Owned(format!("TYPE{n}")),
    })
}

/// The first instance of option `code` in a DHCP message (options field, then `file` and
/// `sname` when option 52 says they hold options). No allocation.
pub fn find_dhcp_option(msg: &[u8], code: u8) -> Option<&[u8]> {
    use conform_codec::dhcp::raw::{OptionIter, Token};
    fn scan(area: &[u8], code: u8) -> (Option<&[u8]>, u8) {
        let mut found = None;
        let mut overload = 0;
        for t in OptionIter::new(area) {
            if let Token::Option { code: c, data, .. } = t {
                if c == code && found.is_none() {
                    found = Some(data);
                }
                if c == 52 && data.len() == 1 {
                    overload = data[0];
                }
            }
        }
        (found, overload)
    }
    let (found, overload) = scan(msg.get(MIN_LEN..)?, code);
    if found.is_some() {
        return found;
    }
    for (bit, range) in [(1u8, 108..236), (2u8, 44..108)] {
        if overload & bit != 0 {
            if let (Some(d), _) = scan(&msg[range], code) {
                return Some(d);
            }
        }
    }
    None
}

impl DhcpRules {
    /// The message type name (`DISCOVER`) of a DHCP payload, `BOOTP` without option 53.
    pub fn message_type(msg: &[u8]) -> Cow<'static, str> {
        match find_dhcp_option(msg, 53) {
            Some([t]) => dhcp_type_name(*t),
            _ => Cow::Borrowed("BOOTP"),
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

    fn classify(&self, p: &[u8], ends: Ends) -> Result<Classified, String> {
        let ports = ends.ports;
        if p.len() < MIN_LEN {
            return Err(format!(
                "not a DHCP message: a UDP payload of {} bytes on port {}/{} (a DHCP message has at least {MIN_LEN})",
                p.len(),
                ports.0,
                ports.1
            ));
        }
        if p[236..240] != conform_codec::dhcp::raw::MAGIC_COOKIE {
            return Err(format!(
                "not a DHCP message: magic cookie {} instead of 63825363",
                conform_codec::value::hex(&p[236..240])
            ));
        }
        let role = match p[0] {
            1 => Role::Request,
            2 => Role::Reply,
            op => {
                return Err(format!(
                    "not a DHCP message: op {op} (1 BOOTREQUEST or 2 BOOTREPLY)"
                ))
            }
        };
        let kind = Self::message_type(p);
        let subkind = if kind == "REQUEST" {
            let ciaddr_zero = p[12..16] == [0; 4];
            Cow::Borrowed(
                match (
                    find_dhcp_option(p, 54).is_some(),
                    find_dhcp_option(p, 50).is_some(),
                    ciaddr_zero,
                ) {
                    (true, _, _) => "REQUEST selecting",
                    (false, true, _) => "REQUEST init-reboot",
                    (false, false, false) => "REQUEST renewing",
                    (false, false, true) => "REQUEST malformed",
                },
            )
        } else {
            kind.clone()
        };
        let hw = &p[28..28 + usize::from(p[2]).min(16)];
        Ok(Classified {
            role,
            kind,
            subkind,
            pair: Key::new(&[&p[4..8], hw]),
            client: Key::new(&[hw]),
            pair_loose: None,
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

/// A frame of the capture, by position in the file's bytes.
#[derive(Clone, Copy, Debug)]
struct Frame {
    start: u64,
    len: u32,
    linktype: u32,
}

/// One captured request with the replies that answered it.
struct Group {
    request: Frame,
    replies: Vec<Frame>,
}

/// Replies of a trace grouped by the kind of request they answered, each kind in trace order
/// with a cursor: the n-th live request of a kind gets the n-th captured answer group of that
/// kind (wrapping around when the trace has fewer).
struct Book {
    groups: Vec<Group>,
    by_subkind: HashMap<Cow<'static, str>, Vec<u32>>,
    by_kind: HashMap<Cow<'static, str>, Vec<u32>>,
    cursors: Mutex<HashMap<String, usize>>,
}

impl Book {
    fn pick(&self, subkind: &str, kind: &str) -> Option<&Group> {
        let (key, list) = match self.by_subkind.get(subkind) {
            Some(g) => (subkind, g),
            None => (kind, self.by_kind.get(kind)?),
        };
        if list.is_empty() {
            return None;
        }
        let mut cur = self.cursors.lock().ok()?;
        let i = match cur.get_mut(key) {
            Some(i) => i,
            None => cur.entry(key.to_string()).or_insert(0),
        };
        let g = &self.groups[list[*i % list.len()] as usize];
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
///
/// The capture is streamed once and indexed by frame position in the file; frames are read
/// back and decoded only when they answer a request, so loading a large trace costs little
/// more than reading it, in little memory.
pub struct PcapAdapter {
    file: PathBuf,
    rules: Arc<dyn TraceRules>,
    file_handle: std::fs::File,
    book: Book,
    replies: usize,
    tx: broadcast::Sender<Incoming>,
    seq: AtomicU64,
}

impl PcapAdapter {
    /// Loads the trace for a suite protocol (`dhcp`, `dns`).
    pub fn open(path: &Path, protocol: &str) -> Result<Self, TraceError> {
        let rules = rules_for(protocol).ok_or_else(|| TraceError {
            file: path.to_path_buf(),
            packet: None,
            message: format!("offline checks of {protocol} captures are not supported yet"),
        })?;
        let file = std::fs::File::open(path).map_err(|e| TraceError {
            file: path.to_path_buf(),
            packet: None,
            message: format!("cannot read the capture: {e}"),
        })?;
        Self::index(path, file, rules)
    }

    /// Streams the capture once, keeping only an index of the frames that answered requests
    /// (and the requests they answered) by file offset.
    fn index(
        path: &Path,
        file: std::fs::File,
        rules: Arc<dyn TraceRules>,
    ) -> Result<Self, TraceError> {
        let filter = rules.filter();
        // About two frames per exchange of ~350 bytes each: size the index once.
        let estimate = file
            .metadata()
            .map(|m| (m.len() / 800) as usize)
            .unwrap_or(0)
            .min(1 << 24);
        let mut pr: Pairer<Frame> = Pairer::with_capacity(estimate);
        let stats = scan_file(path, &filter, &mut |p: RawPacket<'_>| {
            let c = rules.classify(p.payload, p.ends())?;
            let frame = Frame {
                start: p.offset,
                len: p.frame.len() as u32,
                linktype: p.linktype,
            };
            pr.push(p.number, p.payload.len(), &c, frame);
            Ok(())
        })?;
        let mut groups = Vec::new();
        let mut by_subkind: HashMap<Cow<'static, str>, Vec<u32>> = HashMap::new();
        let mut by_kind: HashMap<Cow<'static, str>, Vec<u32>> = HashMap::new();
        let mut replies = 0;
        for e in pr.out {
            if e.replies.is_empty() {
                continue;
            }
            let gi = groups.len() as u32;
            replies += e.replies.len();
            by_kind.entry(e.kind).or_default().push(gi);
            by_subkind.entry(e.subkind).or_default().push(gi);
            groups.push(Group {
                request: e.item,
                replies: e.replies,
            });
        }
        if replies == 0 {
            return Err(TraceError {
                file: path.to_path_buf(),
                packet: None,
                message: format!(
                    "no server replies to client requests in the capture ({} {} packet(s)): nothing can answer a suite",
                    stats.kept, filter.what
                ),
            });
        }
        // Replies arrive at once, so parallel cases produce bursts: a deeper queue than a live
        // adapter's keeps a case that is not scheduled for a while from lagging behind.
        let (tx, _) = broadcast::channel((replies * 2).clamp(4096, 65_536));
        Ok(PcapAdapter {
            file: path.to_path_buf(),
            rules,
            file_handle: file,
            book: Book {
                groups,
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

    fn datagram(&self, f: Frame) -> Option<Datagram> {
        use std::os::unix::fs::FileExt;
        let mut buf = vec![0u8; f.len as usize];
        self.file_handle.read_exact_at(&mut buf, f.start).ok()?;
        parse_link_frame(f.linktype, &buf)
    }
}

#[async_trait]
impl Adapter for PcapAdapter {
    async fn send(&self, d: &Datagram) -> Result<(), AdapterError> {
        // A request the rules cannot read gets no answer, as from a server that drops it.
        let Ok(c) = self.rules.classify(&d.payload, Ends::of(d)) else {
            return Ok(());
        };
        if c.role != Role::Request {
            return Ok(());
        }
        let Some(group) = self.book.pick(&c.subkind, &c.kind) else {
            return Ok(());
        };
        let Some(request) = self.datagram(group.request) else {
            return Ok(());
        };
        for f in &group.replies {
            let Some(captured) = self.datagram(*f) else {
                continue;
            };
            let reply = self.rules.rewrite_reply(&captured, &request, d);
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
