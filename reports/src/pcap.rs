//! Annotated pcapng from run events: every sent and received message as an Ethernet frame with
//! a comment naming the case, component, step, the template it was sent from or matched (or
//! that it matched nothing), and the case's verdict. Wireshark and tshark show the comments
//! (`frame.comment`, formerly `pkt_comment`).
//!
//! Frames are rebuilt from the decoded layers each event carries (MACs, addresses, ports,
//! payload); a reply whose UDP checksum was wrong is written with a wrong checksum again, so
//! the capture keeps that fact.

use conform_codec::frame::build_udp_frame;
use conform_codec::Meta;
use conform_model::event::{EventKind, RunEvent};
use conform_model::Verdict;
use pcap_file::pcapng::blocks::enhanced_packet::{EnhancedPacketBlock, EnhancedPacketOption};
use pcap_file::pcapng::blocks::interface_description::{
    InterfaceDescriptionBlock, InterfaceDescriptionOption,
};
use pcap_file::pcapng::PcapNgWriter;
use pcap_file::DataLink;
use std::borrow::Cow;
use std::collections::HashMap;
use std::io::Write;
use std::time::Duration;

/// One packet to write, with its annotation.
struct Packet {
    case: String,
    t_ms: f64,
    frame: Vec<u8>,
    comment: String,
}

/// Writes every message of the run (or of one case) to `w`. Returns the packet count.
pub fn write(events: &[RunEvent], case: Option<&str>, w: impl Write) -> Result<usize, String> {
    let mut packets = collect(events);
    // In time order: events of parallel cases interleave, and a reply logged by the case that
    // did not send its request may come before the request in the event stream. Captures
    // are read in file order (conform replay pairs a reply with the latest earlier request).
    packets.sort_by(|a, b| a.t_ms.total_cmp(&b.t_ms));
    let mut writer =
        PcapNgWriter::new(w).map_err(|e| format!("failed to write pcapng header: {e}"))?;
    let idb = InterfaceDescriptionBlock {
        linktype: DataLink::ETHERNET,
        snaplen: 0,
        options: vec![
            InterfaceDescriptionOption::IfName(Cow::Borrowed("conform")),
            // pcap-file writes an EPB timestamp as nanoseconds whatever the interface says,
            // so the interface must declare 10^-9 (9); readers scale by this option.
            InterfaceDescriptionOption::IfTsResol(9),
        ],
    };
    writer
        .write_pcapng_block(idb)
        .map_err(|e| format!("failed to write pcapng interface: {e}"))?;
    let base_ms = events
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::RunStarted {
                started_unix_ms, ..
            } => Some(*started_unix_ms as f64),
            _ => None,
        })
        .unwrap_or(0.0);
    let mut n = 0;
    for p in packets.iter().filter(|p| case.is_none_or(|c| c == p.case)) {
        let ts = Duration::from_micros(((base_ms + p.t_ms) * 1000.0).max(0.0) as u64);
        let block = EnhancedPacketBlock {
            interface_id: 0,
            timestamp: ts,
            original_len: p.frame.len() as u32,
            data: Cow::Borrowed(&p.frame),
            options: vec![EnhancedPacketOption::Comment(Cow::Borrowed(&p.comment))],
        };
        writer
            .write_pcapng_block(block)
            .map_err(|e| format!("failed to write packet: {e}"))?;
        n += 1;
    }
    Ok(n)
}

/// The file name (without `.pcapng`) of a case's capture: the id with anything but letters,
/// digits, `-`, `_` and `.` replaced by `_`. Shared by the writer and the HTML report's links.
pub fn file_stem(case: &str) -> String {
    case.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Case ids that have at least one packet, for per-case files.
pub fn cases_with_packets(events: &[RunEvent]) -> Vec<String> {
    let mut v: Vec<String> = Vec::new();
    for p in collect(events) {
        if !v.contains(&p.case) {
            v.push(p.case);
        }
    }
    v
}

fn collect(events: &[RunEvent]) -> Vec<Packet> {
    let verdicts: HashMap<&str, Verdict> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::CaseFinished { case, verdict, .. } => Some((case.as_str(), *verdict)),
            _ => None,
        })
        .collect();
    // A message sent through a socket adapter (DNS over UDP) has no addresses or ports of its
    // own: the socket supplies them. Such a message is written with the endpoints of the replies
    // (the case's first, else the run's first), reversed, so that the capture has both sides.
    let mut peers: HashMap<&str, Meta> = HashMap::new();
    let mut run_peer: Option<Meta> = None;
    for e in events {
        if let EventKind::Received { at, datagram, .. } = &e.kind {
            let m = &datagram.meta;
            let udp = m.transport.is_empty() || m.transport == "udp";
            if udp
                && m.ip_src.is_some()
                && m.ip_dst.is_some()
                && m.src_port.is_some()
                && m.dst_port.is_some()
            {
                let back = Meta {
                    ip_src: m.ip_dst,
                    ip_dst: m.ip_src,
                    src_port: m.dst_port,
                    dst_port: m.src_port,
                    eth_src: m.eth_dst,
                    eth_dst: m.eth_src,
                    ..Meta::default()
                };
                peers
                    .entry(at.case.as_str())
                    .or_insert_with(|| back.clone());
                run_peer.get_or_insert(back);
            }
        }
    }
    let mut out: Vec<Packet> = Vec::new();
    // Received messages are annotated by what happened to them next: a Matched event with the
    // same summary, or a Mismatch listing it as unmatched.
    let mut pending: Vec<usize> = Vec::new();
    for e in events {
        match &e.kind {
            EventKind::Sent {
                at,
                template,
                datagram,
                ..
            } => {
                let m = &datagram.meta;
                let filled;
                let datagram = match peers.get(at.case.as_str()).or(run_peer.as_ref()) {
                    Some(p)
                        if (m.transport.is_empty() || m.transport == "udp")
                            && (m.ip_dst.is_none() || m.dst_port.is_none()) =>
                    {
                        let mut d = datagram.clone();
                        d.meta.ip_src = m.ip_src.or(p.ip_src);
                        d.meta.ip_dst = m.ip_dst.or(p.ip_dst);
                        d.meta.src_port = m.src_port.or(p.src_port);
                        d.meta.dst_port = m.dst_port.or(p.dst_port);
                        d.meta.eth_src = m.eth_src.or(p.eth_src);
                        d.meta.eth_dst = m.eth_dst.or(p.eth_dst);
                        filled = d;
                        &filled
                    }
                    _ => datagram,
                };
                if let Ok(frame) = build_udp_frame(datagram) {
                    let v = verdicts.get(at.case.as_str()).copied().unwrap_or_default();
                    out.push(Packet {
                        case: at.case.clone(),
                        t_ms: e.t_ms,
                        frame,
                        comment: format!("case={} component={} step={} sent template `{template}`; case verdict {v}", at.case, at.component, at.step),
                    });
                }
            }
            EventKind::Received {
                at,
                summary,
                datagram,
            } => {
                if let Ok(frame) = build_udp_frame(datagram) {
                    let v = verdicts.get(at.case.as_str()).copied().unwrap_or_default();
                    pending.push(out.len());
                    out.push(Packet {
                        case: at.case.clone(),
                        t_ms: e.t_ms,
                        frame,
                        comment: format!(
                            "case={} received {summary}; matched nothing; case verdict {v}",
                            at.case
                        ),
                    });
                }
            }
            EventKind::Matched {
                at,
                template,
                summary,
                ..
            } => {
                if let Some(pos) = pending.iter().position(|&i| {
                    out[i].case == at.case && out[i].comment.contains(summary.as_str())
                }) {
                    let i = pending.remove(pos);
                    let v = verdicts.get(at.case.as_str()).copied().unwrap_or_default();
                    out[i].comment = format!(
                        "case={} component={} step={} received {summary}; matched template `{template}`; case verdict {v}",
                        at.case, at.component, at.step
                    );
                }
            }
            EventKind::Mismatch {
                at,
                template,
                closest: Some(cl),
                mismatches,
                ..
            } => {
                if let Some(&i) = pending
                    .iter()
                    .rev()
                    .find(|&&i| out[i].case == at.case && out[i].comment.contains(cl.as_str()))
                {
                    let diffs: Vec<String> = mismatches
                        .iter()
                        .map(|m| {
                            format!("{}: expected {}, actual {}", m.path, m.expected, m.actual)
                        })
                        .collect();
                    let v = verdicts.get(at.case.as_str()).copied().unwrap_or_default();
                    out[i].comment = format!(
                            "case={} component={} step={} received {cl}; closest to template `{template}` but mismatched: {}; case verdict {v}",
                            at.case,
                            at.component,
                            at.step,
                            diffs.join("; ")
                        );
                }
            }
            _ => {}
        }
    }
    out
}
