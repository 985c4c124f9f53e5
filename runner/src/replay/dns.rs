//! The DNS case writer: captured queries and their responses as suite cases (docs/pcap.md,
//! "DNS"). One case per exchange: DNS is stateless, so every query with its response is judged
//! on its own and cases run in parallel.
//!
//! Send templates write the query as captured with the field paths of suites/dns (header flags,
//! question, EDNS version, payload, flags and options in wire order) and the case's `$id`; a
//! query the field paths cannot reproduce (shorter than a header, several questions, records,
//! a compressed or escaped question name, trailing bytes, an unusual OPT) is sent byte for
//! byte with `raw` (the id still `$id`). A captured server cookie is dropped from a COOKIE
//! option (it was the captured server's); the client cookie is kept.
//!
//! Receive templates are the captured response under the DNS replay rules: id, QR, opcode,
//! (extended) RCODE, AA, TC, RD, CD, Z and the question as captured; the answer section's
//! records as captured in any order with TTLs as wildcards; the authority section likewise
//! when the answer section is empty (negative answers, referrals), otherwise, like the
//! additional section, as a `subset` (a server may leave out records, not add others); EDNS
//! present/absent, version and DO as captured; RA, AD, the EDNS payload and options not
//! compared.

use super::{case_head, dur, list_numbers, q, CaseWriter, ImportOptions};
use conform_adapters::pcap_replay::{Exchange, TracePacket, TraceRules};
use conform_codec::dns::catalogue::{name_in, type_name, CLASSES, EDNS_OPTIONS, OPCODES, RCODES};
use conform_codec::dns::wire::{self, flag, Message, Section, EDNS_DO, TYPE_OPT};
use conform_codec::value::hex;
use std::fmt::Write as _;
use std::net::IpAddr;

/// The DNS case writer.
pub struct DnsWriter;

type Lines = Vec<(String, String)>;

fn enum_lit(table: &'static [(&'static str, i64)], v: u16) -> String {
    name_in(table, i64::from(v))
        .map(str::to_string)
        .unwrap_or_else(|| v.to_string())
}

fn type_lit(t: u16) -> String {
    type_name(t)
        .map(str::to_string)
        .unwrap_or_else(|| t.to_string())
}

fn bytes_lit(b: &[u8]) -> String {
    q(&format!("0x{}", hex(b)))
}

fn option_key(code: u16) -> String {
    match name_in(EDNS_OPTIONS, i64::from(code)) {
        Some(n) => format!("edns.option.{}", n.to_ascii_lowercase()),
        None => format!("edns.option.{code}"),
    }
}

/// A list template: as it is for one element, `permutation` for more (any order), `subset`
/// when `subset` is asked.
fn list(items: &[String], subset: bool) -> String {
    let inner = items.join(", ");
    if subset {
        format!("{{ subset: [{inner}] }}")
    } else if items.len() > 1 {
        format!("{{ permutation: [{inner}] }}")
    } else {
        format!("[{inner}]")
    }
}

/// Why a query cannot be written with field paths (so it is sent with `raw`), or `None`.
fn needs_raw(p: &[u8], m: &Message) -> Option<&'static str> {
    let h = m.header?;
    if !m.malformations.is_empty() || !m.complete || m.end != p.len() {
        return Some("malformed or with trailing bytes");
    }
    if h.qdcount != 1 {
        return Some("not exactly one question");
    }
    let qn = &m.questions[0].name;
    if qn.compressed || qn.text(p).contains('\\') {
        return Some("a compressed or escaped question name");
    }
    if h.ancount != 0 || h.nscount != 0 || m.records.iter().any(|r| r.rtype != TYPE_OPT) {
        return Some("records besides the question");
    }
    match m.opts.as_slice() {
        [] => None,
        [o] if o.section == Section::Additional && o.owner == "." => None,
        _ => Some("an unusual OPT record"),
    }
}

impl DnsWriter {
    fn query_lines(e: &Exchange, notes: &mut Vec<String>, raw: &mut usize) -> Lines {
        let p = &e.request.datagram.payload;
        let m = Message::parse(p);
        let mut l: Lines = Vec::new();
        let mut push = |k: &str, v: String| l.push((k.to_string(), v));
        push("id", "$id".into());
        let Some(h) = m.header.filter(|_| needs_raw(p, &m).is_none()) else {
            *raw += 1;
            let why = needs_raw(p, &m).unwrap_or("shorter than a DNS header");
            notes.push(format!(
                "packet {}: query sent byte for byte ({why})",
                e.request.number
            ));
            push("raw", bytes_lit(p));
            return l;
        };
        if h.opcode() != 0 {
            push("opcode", enum_lit(OPCODES, u16::from(h.opcode())));
        }
        push("rd", h.bit(flag::RD).to_string());
        for (k, f) in [
            ("qr", flag::QR),
            ("aa", flag::AA),
            ("tc", flag::TC),
            ("ra", flag::RA),
            ("z", flag::Z),
            ("ad", flag::AD),
            ("cd", flag::CD),
        ] {
            if h.bit(f) {
                push(k, "true".into());
            }
        }
        if h.rcode() != 0 {
            push("rcode", enum_lit(RCODES, u16::from(h.rcode())));
        }
        let qu = &m.questions[0];
        push("question.name", q(&qu.name.text(p)));
        push("question.type", type_lit(qu.qtype.unwrap_or(0)));
        push("question.class", enum_lit(CLASSES, qu.qclass.unwrap_or(1)));
        if let Some(o) = m.opts.first() {
            push("edns.version", o.version.to_string());
            push("edns.payload", o.payload.to_string());
            if o.flags & EDNS_DO != 0 {
                push("edns.do", "true".into());
            }
            if o.flags & !EDNS_DO != 0 {
                push("edns.z", (o.flags & !EDNS_DO).to_string());
            }
            if o.ext_rcode != 0 {
                push("edns.ext_rcode", o.ext_rcode.to_string());
            }
            if o.options.is_empty() {
                push("edns.present", "true".into());
            }
            for opt in &o.options {
                let data = if opt.code == 10 && opt.data.len() > 8 {
                    notes.push(format!(
                        "packet {}: the captured server cookie is dropped from the COOKIE option (the client cookie is sent)",
                        e.request.number
                    ));
                    &opt.data[..8]
                } else {
                    &opt.data[..]
                };
                push(&option_key(opt.code), bytes_lit(data));
            }
        }
        l
    }

    fn response_lines(reply: &TracePacket, request: &TracePacket, ignore: &[String]) -> Lines {
        let p = &reply.datagram.payload;
        let m = Message::parse(p);
        let mut l: Lines = Vec::new();
        let mut push = |k: &str, v: String| {
            if !super::ignored(ignore, k) {
                l.push((k.to_string(), v));
            }
        };
        let same_id = p.get(..2) == request.datagram.payload.get(..2);
        push(
            "id",
            if same_id {
                "$id".into()
            } else {
                p.get(..2)
                    .map(|b| u16::from_be_bytes([b[0], b[1]]).to_string())
                    .unwrap_or_else(|| q("?"))
            },
        );
        let Some(h) = m.header else {
            return l;
        };
        push("qr", h.bit(flag::QR).to_string());
        push("opcode", enum_lit(OPCODES, u16::from(h.opcode())));
        push(
            "ext_rcode",
            enum_lit(RCODES, m.ext_rcode().unwrap_or(u16::from(h.rcode()))),
        );
        for (k, f) in [
            ("aa", flag::AA),
            ("tc", flag::TC),
            ("rd", flag::RD),
            ("cd", flag::CD),
            ("z", flag::Z),
        ] {
            push(k, h.bit(f).to_string());
        }
        if let Some(qu) = m.questions.first() {
            push("question.name", q(&qu.name.text(p)));
            push("question.type", type_lit(qu.qtype.unwrap_or(0)));
            push("question.class", enum_lit(CLASSES, qu.qclass.unwrap_or(1)));
        }
        let answers = m.section(Section::Answer).count();
        for (s, key) in [
            (Section::Answer, "answer"),
            (Section::Authority, "authority"),
            (Section::Additional, "additional"),
        ] {
            let recs: Vec<&wire::Record> = m.section(s).collect();
            let exact = match s {
                Section::Answer => true,
                Section::Authority => answers == 0,
                _ => false,
            };
            if recs.is_empty() {
                if exact {
                    push(&format!("{key}.count"), "0".into());
                }
                continue;
            }
            let names: Vec<String> = recs.iter().map(|r| q(&r.name.text(p))).collect();
            let types: Vec<String> = recs.iter().map(|r| type_lit(r.rtype)).collect();
            let classes: Vec<String> = recs.iter().map(|r| enum_lit(CLASSES, r.class)).collect();
            let rdata: Vec<String> = recs
                .iter()
                .map(|r| {
                    q(&wire::rdata_text(p, r)
                        .unwrap_or_else(|_| wire::generic_rdata(&p[r.rdata.clone()])))
                })
                .collect();
            push(&format!("{key}.names"), list(&names, !exact));
            push(&format!("{key}.types"), list(&types, !exact));
            push(&format!("{key}.classes"), list(&classes, !exact));
            if exact {
                let ttls = vec![q("?"); recs.len()];
                push(&format!("{key}.ttls"), format!("[{}]", ttls.join(", ")));
            }
            push(&format!("{key}.rdata"), list(&rdata, !exact));
        }
        match m.opts.first() {
            Some(o) => {
                push("edns.present", "true".into());
                push("edns.version", o.version.to_string());
                push("edns.do", (o.flags & EDNS_DO != 0).to_string());
            }
            None => push("edns.present", "false".into()),
        }
        l
    }
}

fn client_of(d: &conform_codec::Datagram) -> String {
    match (d.meta.ip_src, d.meta.src_port) {
        (Some(IpAddr::V4(a)), Some(p)) => format!("{a}:{p}"),
        (Some(a), Some(p)) => format!("[{a}]:{p}"),
        _ => "unknown".into(),
    }
}

impl CaseWriter for DnsWriter {
    fn write(
        &self,
        source: &str,
        ex: &[Exchange],
        opts: &ImportOptions,
        _rules: &dyn TraceRules,
        notes: &mut Vec<String>,
    ) -> (Vec<String>, usize) {
        let mut y = String::new();
        let packets: usize = ex
            .iter()
            .map(|e| 1 + e.retransmissions.len() + e.replies.len())
            .sum();
        let _ = writeln!(y, "# Imported by `conform import` from {source}: {packets} DNS packet(s), {} quer{}, {} case(s).", ex.len(), if ex.len() == 1 { "y" } else { "ies" }, ex.len());
        let _ = writeln!(y, "# Each case sends one captured query (with this case's id, $id) and expects the captured");
        let _ = writeln!(y, "# response under the DNS replay rules (docs/pcap.md): header, RCODE and question as captured;");
        let _ = writeln!(y, "# answer records as captured in any order, TTLs not compared; authority likewise for empty");
        let _ = writeln!(y, "# answers, otherwise authority and additional records a `subset` of the captured ones; EDNS");
        let _ = writeln!(y, "# presence, version and DO as captured; RA, AD, EDNS payload and options not compared.");
        let _ = writeln!(y, "suite: {}", q(&opts.name));
        let _ = writeln!(y, "protocol: dns");
        let _ = writeln!(
            y,
            "description: {}",
            q(&format!(
                "Queries of the capture {source}, replayed with the captured responses as templates."
            ))
        );
        let _ = writeln!(y, "settings:");
        let _ = writeln!(y, "  receive_timeout: {}", dur(opts.receive_timeout));
        let _ = writeln!(y, "cases:");
        let head_end = y.len();
        let mut starts = Vec::with_capacity(ex.len());
        let mut raw = 0;
        for (ci, e) in ex.iter().enumerate() {
            starts.push(y.len());
            let kind = &e.req.kind;
            let mut numbers = vec![e.request.number];
            numbers.extend(&e.retransmissions);
            numbers.extend(e.replies.iter().map(|(p, _)| p.number));
            numbers.sort_unstable();
            let (lo, hi) = (numbers[0], numbers[numbers.len() - 1]);
            let range = if lo == hi {
                format!("packet {lo}")
            } else {
                format!("packets {lo}-{hi}")
            };
            let answer = e
                .replies
                .first()
                .map(|(_, c)| c.kind.to_string())
                .unwrap_or_else(|| "(none)".into());
            let client = client_of(&e.request.datagram);
            case_head(
                &mut y,
                &format!("{}-{}", opts.name, ci + 1),
                &format!("{kind} → {answer} (client {client}, {range})"),
                source,
                &range,
                &format!("The server answers the captured query ({range} of {source}) as the captured server did, under the DNS replay rules of docs/pcap.md."),
            );
            let wait = match e.replies.first() {
                Some(_) => opts.receive_timeout,
                None => opts.silence,
            };
            let _ = writeln!(y, "    timeout: {}ms", wait.as_millis() + 10_000);
            let _ = writeln!(y, "    steps:");
            let retx = if e.retransmissions.is_empty() {
                String::new()
            } else {
                format!(
                    ", retransmitted as packet {} (sent once)",
                    list_numbers(&e.retransmissions)
                )
            };
            let _ = writeln!(y, "      # packet {}: query {kind}{retx}", e.request.number);
            let _ = writeln!(y, "      - send:");
            let _ = writeln!(y, "          with:");
            for (k, v) in Self::query_lines(e, notes, &mut raw) {
                let _ = writeln!(y, "            {k}: {v}");
            }
            match e.replies.first() {
                Some((p, c)) => {
                    if e.replies.len() > 1 {
                        let more: Vec<usize> =
                            e.replies[1..].iter().map(|(p, _)| p.number).collect();
                        let _ = writeln!(
                            y,
                            "      # judged on the first response; later ones (packet {}) are not",
                            list_numbers(&more)
                        );
                    }
                    let _ = writeln!(y, "      - receive:");
                    let _ = writeln!(y, "          with:");
                    for (k, v) in Self::response_lines(p, &e.request, &opts.ignore) {
                        let _ = writeln!(y, "            {k}: {v}");
                    }
                    let _ = writeln!(
                        y,
                        "          reason: {}",
                        q(&format!(
                            "no response like the captured {} (packet {}) to this query",
                            c.kind, p.number
                        ))
                    );
                }
                None => {
                    super::silence_steps(
                        &mut y,
                        e.request.number,
                        "quiet",
                        opts.silence,
                        "id: $id, qr: true",
                        "query",
                    );
                }
            }
        }
        if raw > 0 {
            notes.push(format!(
                "{raw} quer{} sent byte for byte",
                if raw == 1 { "y" } else { "ies" }
            ));
        }
        let files = super::split_files(&y, head_end, starts, &opts.name);
        (files, ex.len())
    }
}
