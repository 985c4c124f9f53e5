//! DNS capture rules ([`DnsRules`]): which datagrams of a capture are DNS, queries or
//! responses, how responses pair with queries, and how a captured response is rewritten to
//! answer a different (live) query. The rules are documented in docs/pcap.md ("The DNS replay
//! rules"); this module is what implements them.
//!
//! * UDP on port 53 (DNS over TCP in captures is skipped: the port filter keeps UDP only).
//! * Role: the direction when exactly one port is 53 (to 53: query, from 53: response), else
//!   the QR bit. So a malformed query with QR set that went to a server is still a query.
//! * Pairing: client address and port, message id and question (name compared without
//!   regard to case, type, class). A response without a question (FORMERR and NOTIMP answers
//!   often drop it) pairs by client and id alone.
//! * Client: address and port of the querier.
//!
//! Invariant: classification never panics on any byte string (payloads of 2 bytes and more
//! are accepted: a message shorter than the header is a query replayed byte for byte).

use crate::pcap_replay::{Classified, Ends, Key, PortFilter, Role, TraceRules};
use conform_codec::dns::catalogue::{name_in, type_name, CLASSES, OPCODES, RCODES};
use conform_codec::dns::wire::{Message, HEADER_LEN};
use conform_codec::Datagram;
use std::borrow::Cow;
use std::net::IpAddr;

/// DNS capture rules (UDP, port 53).
#[derive(Clone, Copy, Debug, Default)]
pub struct DnsRules;

/// The DNS server port.
pub const PORT: u16 = 53;

/// FNV-1a over bytes, ASCII letters folded to lower case when `fold` is set.
fn fnv(h: &mut u64, bytes: &[u8], fold: bool) {
    for b in bytes {
        let b = if fold { b.to_ascii_lowercase() } else { *b };
        *h = (*h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
    }
}

const FNV_START: u64 = 0xcbf2_9ce4_8422_2325;

/// The first question of a message as it lies on the wire: the name's in-place bytes (up to
/// and including the root label or a compression pointer) and the 4 bytes of type and class.
/// `None` when the message has no complete first question.
pub fn question_span(msg: &[u8]) -> Option<std::ops::Range<usize>> {
    if msg.len() < HEADER_LEN || u16::from_be_bytes([msg[4], msg[5]]) == 0 {
        return None;
    }
    let mut pos = HEADER_LEN;
    loop {
        let len = *msg.get(pos)?;
        match len {
            0 => {
                pos += 1;
                break;
            }
            l if l & 0xc0 == 0xc0 => {
                pos += 2;
                break;
            }
            l if l & 0xc0 != 0 => return None,
            l => pos += 1 + usize::from(l),
        }
    }
    (pos + 4 <= msg.len()).then_some(HEADER_LEN..pos + 4)
}

/// Presentation form of the first question's name, lower case (`www.example.test.`), for
/// titles and for matching live queries to captured ones.
fn question_text(msg: &[u8], span: &std::ops::Range<usize>) -> String {
    conform_codec::dns::wire::name_text(msg, span.start).to_ascii_lowercase()
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

impl DnsRules {
    /// What a query asks, for titles and for the offline adapter's choice of answer: `SOA
    /// example.test.`, with the class when not IN and the opcode when not QUERY; `(no
    /// question)` or `(short message)` otherwise.
    pub fn query_kind(msg: &[u8]) -> String {
        if msg.len() < HEADER_LEN {
            return "(short message)".into();
        }
        let opcode = (msg[2] >> 3) & 0x0f;
        let mut s = String::new();
        if opcode != 0 {
            match name_in(OPCODES, i64::from(opcode)) {
                Some(n) => s.push_str(n),
                None => s.push_str(&format!("OPCODE{opcode}")),
            }
            s.push(' ');
        }
        match question_span(msg) {
            Some(q) => {
                let t = be16(msg, q.end - 4);
                let c = be16(msg, q.end - 2);
                match type_name(t) {
                    Some(n) => s.push_str(n),
                    None => s.push_str(&format!("TYPE{t}")),
                }
                s.push(' ');
                s.push_str(&question_text(msg, &q));
                if c != 1 {
                    s.push(' ');
                    match name_in(CLASSES, i64::from(c)) {
                        Some(n) => s.push_str(n),
                        None => s.push_str(&format!("CLASS{c}")),
                    }
                }
            }
            None => s.push_str("(no question)"),
        }
        s
    }

    /// The (extended) RCODE name of a response (`NOERROR`, `NXDOMAIN`, `BADVERS`).
    pub fn rcode_name(msg: &[u8]) -> String {
        let m = Message::parse(msg);
        match m.ext_rcode() {
            Some(rc) => name_in(RCODES, i64::from(rc))
                .map(str::to_string)
                .unwrap_or_else(|| format!("RCODE{rc}")),
            None => "(short message)".into(),
        }
    }

    fn addr_bytes(a: Option<IpAddr>) -> ([u8; 16], usize) {
        let mut b = [0u8; 16];
        match a {
            Some(IpAddr::V4(v)) => {
                b[..4].copy_from_slice(&v.octets());
                (b, 4)
            }
            Some(IpAddr::V6(v)) => {
                b.copy_from_slice(&v.octets());
                (b, 16)
            }
            None => (b, 4),
        }
    }
}

impl TraceRules for DnsRules {
    fn protocol(&self) -> &'static str {
        "dns"
    }

    fn filter(&self) -> PortFilter {
        PortFilter {
            what: "DNS",
            ports: vec![PORT],
        }
    }

    fn classify(&self, p: &[u8], ends: Ends) -> Result<Classified, String> {
        let (sport, dport) = ends.ports;
        if p.len() < 2 {
            return Err(format!(
                "not a DNS message: a UDP payload of {} byte(s) on port {sport}/{dport} (a DNS message has at least an id, and a 12-byte header to be answered)",
                p.len()
            ));
        }
        let to_server = dport == PORT && sport != PORT;
        let from_server = sport == PORT && dport != PORT;
        let qr = p.get(2).is_some_and(|b| b & 0x80 != 0);
        let role = if to_server || (!from_server && !qr) {
            Role::Request
        } else {
            Role::Reply
        };
        let (addr, port) = match role {
            Role::Request => (ends.src, sport),
            Role::Reply => (ends.dst, dport),
        };
        let (ab, an) = Self::addr_bytes(addr);
        let client = Key::new(&[&ab[..an], &port.to_be_bytes()]);
        let id = &p[0..2];
        let q = question_span(p);
        let mut h = FNV_START;
        if let Some(r) = &q {
            fnv(&mut h, &p[r.clone()], true);
        }
        let loose = Key::new(&[&ab[..an], &port.to_be_bytes(), id]);
        let full = Key::new(&[&ab[..an], &port.to_be_bytes(), id, &h.to_be_bytes()]);
        let (kind, subkind): (Cow<'static, str>, Cow<'static, str>) = match role {
            Role::Request => {
                let k = Self::query_kind(p);
                // The whole query but its id: the offline adapter answers a live query with the
                // captured answer to the byte-identical query first, then to the same question.
                let mut b = FNV_START;
                fnv(&mut b, &p[2..], false);
                let s = format!("{k} #{b:016x}");
                (Cow::Owned(k), Cow::Owned(s))
            }
            Role::Reply => {
                let k: Cow<'static, str> = Cow::Owned(Self::rcode_name(p));
                (k.clone(), k)
            }
        };
        let (pair, pair_loose) = match (role, q.is_some()) {
            (Role::Request, _) => (full, Some(loose)),
            (Role::Reply, true) => (full, None),
            (Role::Reply, false) => (loose, None),
        };
        Ok(Classified {
            role,
            kind,
            subkind,
            pair,
            client,
            pair_loose,
        })
    }

    fn rewrite_reply(&self, reply: &Datagram, captured: &Datagram, live: &Datagram) -> Datagram {
        let mut out = reply.clone();
        let r = &mut out.payload;
        let c = &captured.payload;
        let l = &live.payload;
        // The id, when the captured response copied the captured query's.
        if r.len() >= 2 && c.len() >= 2 && l.len() >= 2 && r[..2] == c[..2] {
            r[..2].copy_from_slice(&l[..2]);
        }
        // RD and CD are copied from the query (RFC 6895 §2).
        if r.len() >= 4 && c.len() >= 4 && l.len() >= 4 {
            for bit in [0x01u8, 0x10u8] {
                let at = if bit == 0x01 { 2 } else { 3 };
                if r[at] & bit == c[at] & bit {
                    r[at] = (r[at] & !bit) | (l[at] & bit);
                }
            }
        }
        // The question as the live query wrote it (case may differ), when the captured response
        // repeated the captured query's and the live question is as long.
        if let (Some(rq), Some(cq), Some(lq)) =
            (question_span(r), question_span(c), question_span(l))
        {
            if r[rq.clone()] == c[cq.clone()] && lq.len() == rq.len() {
                let live_q = l[lq].to_vec();
                r[rq].copy_from_slice(&live_q);
            }
        }
        // Lower layers: the response went to the captured client; it now goes to the live one,
        // on the live query's transport (a TCP query gets the answer on its connection).
        let m = &mut out.meta;
        if m.eth_dst.is_some() && m.eth_dst == captured.meta.eth_src {
            m.eth_dst = live.meta.eth_src.or(m.eth_dst);
        }
        if m.ip_dst.is_some() && m.ip_dst == captured.meta.ip_src {
            m.ip_dst = live.meta.ip_src.or(m.ip_dst);
        }
        if m.dst_port.is_some() && m.dst_port == captured.meta.src_port {
            m.dst_port = live.meta.src_port.or(m.dst_port);
        }
        let t = &live.meta.transport;
        if t.starts_with("tcp") {
            let conn = t.split(';').find(|a| a.starts_with("conn="));
            m.transport = match conn {
                Some(cn) => format!("tcp;{cn}").into(),
                None => "tcp".into(),
            };
        }
        m.ip_len = None;
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    /// A query: id, flags, one question `name` (wire form) type A class IN, no records.
    fn query(id: u16, flags: u16, name: &[u8]) -> Vec<u8> {
        let mut m = Vec::new();
        m.extend_from_slice(&id.to_be_bytes());
        m.extend_from_slice(&flags.to_be_bytes());
        m.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]);
        m.extend_from_slice(name);
        m.extend_from_slice(&[0, 1, 0, 1]);
        m
    }

    const WWW: &[u8] = b"\x03www\x07example\x04test\x00";
    const WWW_UPPER: &[u8] = b"\x03WWW\x07example\x04test\x00";

    fn ends(src: [u8; 4], sport: u16, dst: [u8; 4], dport: u16) -> Ends {
        Ends {
            src: Some(IpAddr::V4(Ipv4Addr::from(src))),
            dst: Some(IpAddr::V4(Ipv4Addr::from(dst))),
            ports: (sport, dport),
        }
    }

    #[test]
    fn queries_and_responses_pair_by_client_id_and_question() {
        let r = DnsRules;
        let cli = [192, 0, 2, 2];
        let srv = [192, 0, 2, 1];
        let q = r
            .classify(&query(0x1234, 0x0100, WWW), ends(cli, 40000, srv, 53))
            .unwrap();
        assert_eq!(q.role, Role::Request);
        assert_eq!(q.kind, "A www.example.test.");
        assert!(q.subkind.starts_with("A www.example.test. #"));
        // The response repeats the question in another case: same pair key.
        let a = r
            .classify(&query(0x1234, 0x8580, WWW_UPPER), ends(srv, 53, cli, 40000))
            .unwrap();
        assert_eq!(a.role, Role::Reply);
        assert_eq!(a.kind, "NOERROR");
        assert_eq!(a.pair, q.pair);
        assert_eq!(a.client, q.client);
        // Another id, port or client does not pair.
        for (id, e) in [
            (0x1235, ends(srv, 53, cli, 40000)),
            (0x1234, ends(srv, 53, cli, 40001)),
            (0x1234, ends(srv, 53, [192, 0, 2, 3], 40000)),
        ] {
            let x = r.classify(&query(id, 0x8580, WWW), e).unwrap();
            assert_ne!(x.pair, q.pair);
        }
        // Another question with the same id does not pair either.
        let other = r
            .classify(
                &query(0x1234, 0x8580, b"\x04mail\x07example\x04test\x00"),
                ends(srv, 53, cli, 40000),
            )
            .unwrap();
        assert_ne!(other.pair, q.pair);
        // A response without a question (FORMERR) pairs by client and id.
        let mut formerr = query(0x1234, 0x8181, WWW)[..12].to_vec();
        formerr[5] = 0;
        let f = r.classify(&formerr, ends(srv, 53, cli, 40000)).unwrap();
        assert_eq!(f.kind, "FORMERR");
        assert_eq!(Some(f.pair), q.pair_loose);
    }

    #[test]
    fn role_by_direction_then_qr() {
        let r = DnsRules;
        // QR set but sent to port 53 from a client port: a (malformed) query.
        let c = r
            .classify(&query(1, 0x8000, WWW), ends([1; 4], 5555, [2; 4], 53))
            .unwrap();
        assert_eq!(c.role, Role::Request);
        // Between two servers (both ports 53): the QR bit.
        let c = r
            .classify(&query(1, 0x8000, WWW), ends([1; 4], 53, [2; 4], 53))
            .unwrap();
        assert_eq!(c.role, Role::Reply);
        let c = r
            .classify(&query(1, 0x0000, WWW), ends([1; 4], 53, [2; 4], 53))
            .unwrap();
        assert_eq!(c.role, Role::Request);
    }

    #[test]
    fn short_and_odd_messages() {
        let r = DnsRules;
        let e = r
            .classify(&[7], ends([1; 4], 5555, [2; 4], 53))
            .unwrap_err();
        assert!(e.contains("1 byte(s) on port 5555/53"), "{e}");
        let c = r
            .classify(
                &[0x12, 0x10, 0xab, 0xcd, 0xef],
                ends([1; 4], 5555, [2; 4], 53),
            )
            .unwrap();
        assert_eq!(c.role, Role::Request);
        assert_eq!(c.kind, "(short message)");
        let mut noq = query(9, 0, WWW)[..12].to_vec();
        noq[5] = 0;
        let c = r.classify(&noq, ends([1; 4], 5555, [2; 4], 53)).unwrap();
        assert_eq!(c.kind, "(no question)");
        let mut notify = query(9, 0x2000, WWW);
        notify[HEADER_LEN + WWW.len() + 1] = 6;
        notify[HEADER_LEN + WWW.len() + 3] = 3;
        assert_eq!(
            DnsRules::query_kind(&notify),
            "NOTIFY SOA www.example.test. CH"
        );
        // A question whose name runs past the end.
        let cut = &query(9, 0, WWW)[..16];
        assert_eq!(question_span(cut), None);
        assert_eq!(DnsRules::query_kind(cut), "(no question)");
        // Never a panic on any short input.
        for n in 0..40 {
            let b: Vec<u8> = (0..n).map(|i| (i * 37 + 5) as u8).collect();
            let _ = r.classify(&b, ends([1; 4], 5555, [2; 4], 53));
            let _ = DnsRules::query_kind(&b);
        }
    }

    #[test]
    fn responses_are_rewritten_to_the_live_query() {
        let r = DnsRules;
        let mut captured = Datagram {
            payload: query(0x1111, 0x0100, WWW),
            ..Datagram::default()
        };
        captured.meta.ip_src = Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2)));
        captured.meta.src_port = Some(40000);
        let mut reply = Datagram {
            payload: query(0x1111, 0x8580, WWW),
            ..Datagram::default()
        };
        reply
            .payload
            .extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 1, 44, 0, 4, 192, 0, 2, 80]);
        reply.payload[7] = 1;
        reply.meta.ip_dst = captured.meta.ip_src;
        reply.meta.dst_port = Some(40000);
        let mut live = Datagram {
            payload: query(0x2222, 0x0000, WWW_UPPER),
            ..Datagram::default()
        };
        live.meta.src_port = Some(5353);
        live.meta.transport = "tcp;conn=3;close".into();
        let out = r.rewrite_reply(&reply, &captured, &live);
        assert_eq!(&out.payload[..2], &[0x22, 0x22], "id");
        assert_eq!(out.payload[2] & 1, 0, "RD follows the live query");
        assert_eq!(
            &out.payload[12..16],
            b"\x03WWW",
            "question as the live query wrote it"
        );
        assert_eq!(out.payload[out.payload.len() - 4..], [192, 0, 2, 80]);
        assert_eq!(out.meta.dst_port, Some(5353));
        assert_eq!(out.meta.transport, "tcp;conn=3");
    }
}
