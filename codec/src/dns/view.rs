//! The matchable view of a received DNS message ([`DnsView`], a [`Decoded`]).
//!
//! Decoding runs the lenient reader once ([`wire::Message::parse_deferred`]) and keeps its
//! result; scalars are read from it on every `get` (no allocation), lists, names and the RDATA
//! checks behind `malformed` are made on first use and cached in `OnceLock`s.
//!
//! Invariant: construction and every accessor are total; no input panics.

use super::catalogue::{self, id, name_in, CLASSES, OPCODES, RCODES, SECTIONS};
use super::wire::{self, flag, Message, Record, Section, EDNS_DO};
use crate::datagram::{Datagram, Meta};
use crate::field::FieldRef;
use crate::protocol::Decoded;
use crate::value::{hex, Value};
use serde_json::json;
use std::borrow::Cow;
use std::fmt;
use std::net::IpAddr;
use std::sync::OnceLock;

/// Cached list values of one section.
#[derive(Debug, Default)]
struct SecCache {
    names: OnceLock<Value>,
    types: OnceLock<Value>,
    classes: OnceLock<Value>,
    ttls: OnceLock<Value>,
    rdata: OnceLock<Value>,
}

/// A decoded DNS message plus the lower-layer facts it arrived with.
pub struct DnsView {
    payload: Vec<u8>,
    meta: Meta,
    msg: Message,
    /// `sections[s]` for s in 1..=3, allocated when a list field is first read: inline, the
    /// twenty cells made every view a large allocation (glibc then consolidates its free
    /// lists, which showed in the per-query profile), and most matches read no list.
    sections: OnceLock<Box<[SecCache; 4]>>,
    q_name: OnceLock<Value>,
    q_name_raw: OnceLock<Value>,
    edns_options: OnceLock<Value>,
    trailing: OnceLock<Value>,
    /// Every malformation, RDATA problems included (see [`DnsView::malformations`]).
    malformations: OnceLock<Vec<wire::Malformation>>,
}

impl fmt::Debug for DnsView {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DnsView")
            .field("summary", &self.summary())
            .finish_non_exhaustive()
    }
}

fn int(i: impl Into<i64>) -> Option<Cow<'static, Value>> {
    Some(Cow::Owned(Value::Int(i.into())))
}

fn boolean(b: bool) -> Option<Cow<'static, Value>> {
    Some(Cow::Owned(Value::Bool(b)))
}

/// The part of a transport string before the first `;` (`tcp;conn=3` is `tcp`).
pub fn transport_kind(t: &str) -> &str {
    t.split(';').next().unwrap_or("")
}

/// A `key=value` or bare `key` attribute of a transport string.
pub fn transport_attr<'a>(t: &'a str, key: &str) -> Option<&'a str> {
    t.split(';').skip(1).find_map(|a| match a.split_once('=') {
        Some((k, v)) if k == key => Some(v),
        None if a == key => Some(""),
        _ => None,
    })
}

impl DnsView {
    /// Decodes a datagram. Never fails.
    pub fn new(d: &Datagram) -> DnsView {
        DnsView::from_parts(d.payload.clone(), d.meta.clone())
    }

    /// Decodes an owned payload with its metadata.
    pub fn from_parts(payload: Vec<u8>, meta: Meta) -> DnsView {
        let msg = Message::parse_deferred(&payload);
        DnsView {
            payload,
            meta,
            msg,
            sections: OnceLock::new(),
            q_name: OnceLock::new(),
            q_name_raw: OnceLock::new(),
            edns_options: OnceLock::new(),
            trailing: OnceLock::new(),
            malformations: OnceLock::new(),
        }
    }

    /// The lenient parse of the payload. Its RDATA was not checked: its `malformations` are
    /// the structural ones only; [`DnsView::malformations`] has them all.
    pub fn message(&self) -> &Message {
        &self.msg
    }

    /// Every problem of the message in wire order, as [`Message::parse`] lists them. The
    /// RDATA is checked on the first call (a `malformed` match, a summary).
    pub fn malformations(&self) -> &[wire::Malformation] {
        self.malformations
            .get_or_init(|| self.msg.all_malformations(&self.payload))
    }

    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    fn section_list<'a>(
        &'a self,
        s: Section,
        cell: &'a OnceLock<Value>,
        f: impl Fn(&Record) -> Value,
    ) -> Option<Cow<'a, Value>> {
        self.msg.header?;
        Some(Cow::Borrowed(cell.get_or_init(|| {
            Value::List(self.msg.section(s).map(f).collect())
        })))
    }

    fn record(&self, arg: u32) -> Option<&Record> {
        let s = Section::from_index(arg >> 16)?;
        self.msg.section(s).nth((arg & 0xffff) as usize)
    }

    /// RDATA text; the generic form when a known type does not parse.
    fn rdata(&self, r: &Record) -> String {
        wire::rdata_text(&self.payload, r)
            .unwrap_or_else(|_| wire::generic_rdata(&self.payload[r.rdata.clone()]))
    }

    /// The summary's ` [transport]` suffix, when the meta names one.
    fn push_transport(&self, s: &mut String) {
        if let Some(t) = self.transport() {
            s.push_str(" [");
            s.push_str(t);
            s.push(']');
        }
    }

    fn transport(&self) -> Option<&str> {
        (!self.meta.transport.is_empty()).then_some(&*self.meta.transport)
    }

    fn meta_get(&self, f: &FieldRef) -> Option<Cow<'_, Value>> {
        let m = &self.meta;
        let ip = |a: Option<IpAddr>| {
            a.map(|a| {
                Cow::Owned(match a {
                    IpAddr::V4(a) => Value::Ipv4(a),
                    IpAddr::V6(a) => Value::Ipv6(a),
                })
            })
        };
        match f.id {
            id::TRANSPORT => self
                .transport()
                .map(|t| Cow::Owned(Value::Str(transport_kind(t).to_string()))),
            id::TCP_CONNECTION => {
                let t = self.transport()?;
                int(transport_attr(t, "conn")?.parse::<u32>().ok()?)
            }
            id::TCP_CLOSED => {
                let t = self.transport()?;
                (transport_kind(t) == "tcp")
                    .then(|| Value::Bool(transport_attr(t, "closed").is_some()))
                    .map(Cow::Owned)
            }
            id::TCP_FRAMING => {
                let t = self.transport()?;
                (transport_kind(t) == "tcp")
                    .then(|| Value::Bool(transport_attr(t, "raw").is_none()))
                    .map(Cow::Owned)
            }
            id::TCP_CLOSE => {
                let t = self.transport()?;
                (transport_kind(t) == "tcp")
                    .then(|| Value::Bool(transport_attr(t, "close").is_some()))
                    .map(Cow::Owned)
            }
            id::IP_SRC => ip(m.ip_src),
            id::IP_DST => ip(m.ip_dst),
            id::UDP_SRC => m.src_port.and_then(int),
            id::UDP_DST => m.dst_port.and_then(int),
            _ => None,
        }
    }

    fn edns_json(&self) -> serde_json::Value {
        let opts: Vec<serde_json::Value> = self
            .msg
            .opts
            .iter()
            .map(|o| {
                json!({
                    "section": o.section.name(),
                    "owner": o.owner,
                    "payload": o.payload,
                    "ext_rcode": o.ext_rcode,
                    "version": o.version,
                    "flags": o.flags,
                    "options": o.options.iter().map(|x| json!({"code": x.code, "len": x.len, "data": hex(&x.data)})).collect::<Vec<_>>(),
                })
            })
            .collect();
        serde_json::Value::Array(opts)
    }
}

impl Decoded for DnsView {
    fn get(&self, f: &FieldRef) -> Option<Cow<'_, Value>> {
        let m = &self.msg;
        match f.id {
            id::SIZE => return int(self.payload.len() as i64),
            id::MALFORMED => {
                return self
                    .malformations()
                    .first()
                    .map(|x| Cow::Owned(Value::Str(x.to_string())))
            }
            id::TRANSPORT..=id::UDP_DST => return self.meta_get(f),
            _ => {}
        }
        let h = m.header?;
        match f.id {
            id::ID => int(h.id),
            id::QR => boolean(h.bit(flag::QR)),
            id::OPCODE => int(h.opcode()),
            id::AA => boolean(h.bit(flag::AA)),
            id::TC => boolean(h.bit(flag::TC)),
            id::RD => boolean(h.bit(flag::RD)),
            id::RA => boolean(h.bit(flag::RA)),
            id::Z => boolean(h.bit(flag::Z)),
            id::AD => boolean(h.bit(flag::AD)),
            id::CD => boolean(h.bit(flag::CD)),
            id::RCODE => int(h.rcode()),
            id::EXT_RCODE => int(m.ext_rcode()?),
            id::FLAGS => int(h.flags),
            id::QDCOUNT => int(h.qdcount),
            id::ANCOUNT => int(h.ancount),
            id::NSCOUNT => int(h.nscount),
            id::ARCOUNT => int(h.arcount),
            id::QUESTION_COUNT => int(m.questions.len() as i64),
            id::Q_NAME => {
                let q = m.questions.first()?;
                Some(Cow::Borrowed(
                    self.q_name
                        .get_or_init(|| Value::Str(q.name.text(&self.payload))),
                ))
            }
            id::Q_NAME_RAW => {
                let q = m.questions.first()?;
                let end = q.name.end.unwrap_or(self.payload.len());
                Some(Cow::Borrowed(self.q_name_raw.get_or_init(|| {
                    Value::Bytes(self.payload[q.offset..end].to_vec())
                })))
            }
            id::Q_TYPE => int(m.questions.first()?.qtype?),
            id::Q_CLASS => int(m.questions.first()?.qclass?),
            id::SEC_COUNT => {
                let s = Section::from_index(f.arg)?;
                int(m.section(s).count() as i64)
            }
            id::SEC_NAMES | id::SEC_TYPES | id::SEC_CLASSES | id::SEC_TTLS | id::SEC_RDATA => {
                let s = Section::from_index(f.arg)?;
                let c = self.sections.get_or_init(Box::default).get(s as usize)?;
                match f.id {
                    id::SEC_NAMES => {
                        self.section_list(s, &c.names, |r| Value::Str(r.name.text(&self.payload)))
                    }
                    id::SEC_TYPES => self.section_list(s, &c.types, |r| Value::Int(r.rtype.into())),
                    id::SEC_CLASSES => {
                        self.section_list(s, &c.classes, |r| Value::Int(r.class.into()))
                    }
                    id::SEC_TTLS => self.section_list(s, &c.ttls, |r| Value::Int(r.ttl.into())),
                    _ => self.section_list(s, &c.rdata, |r| Value::Str(self.rdata(r))),
                }
            }
            id::RR_NAME => Some(Cow::Owned(Value::Str(
                self.record(f.arg)?.name.text(&self.payload),
            ))),
            id::RR_TYPE => int(self.record(f.arg)?.rtype),
            id::RR_CLASS => int(self.record(f.arg)?.class),
            id::RR_TTL => int(self.record(f.arg)?.ttl),
            id::RR_RDLENGTH => int(self.record(f.arg)?.rdlength),
            id::RR_RDATA => Some(Cow::Owned(Value::Str(self.rdata(self.record(f.arg)?)))),
            id::RR_RDATA_RAW => {
                let r = self.record(f.arg)?;
                Some(Cow::Owned(Value::Bytes(
                    self.payload[r.rdata.clone()].to_vec(),
                )))
            }
            id::EDNS_PRESENT => boolean(!m.opts.is_empty()),
            id::EDNS_COUNT => int(m.opts.len() as i64),
            id::EDNS_VERSION => int(m.opts.first()?.version),
            id::EDNS_DO => boolean(m.opts.first()?.flags & EDNS_DO != 0),
            id::EDNS_FLAGS => int(m.opts.first()?.flags),
            id::EDNS_Z => int(m.opts.first()?.flags & !EDNS_DO),
            id::EDNS_PAYLOAD => int(m.opts.first()?.payload),
            id::EDNS_EXT_RCODE => int(m.opts.first()?.ext_rcode),
            id::EDNS_SECTION => int(m.opts.first()?.section as u8),
            id::EDNS_OWNER => Some(Cow::Owned(Value::Str(m.opts.first()?.owner.clone()))),
            id::EDNS_RDLENGTH => int(m.records.get(m.opts.first()?.record)?.rdlength),
            id::EDNS_OPTIONS => {
                let o = m.opts.first()?;
                Some(Cow::Borrowed(self.edns_options.get_or_init(|| {
                    Value::List(
                        o.options
                            .iter()
                            .map(|x| Value::Int(x.code.into()))
                            .collect(),
                    )
                })))
            }
            id::EDNS_OPTION => {
                let o = m.opts.first()?;
                let x = o.options.iter().find(|x| u32::from(x.code) == f.arg)?;
                Some(Cow::Owned(Value::Bytes(x.data.clone())))
            }
            id::EDNS_OPTION_LEN => {
                let o = m.opts.first()?;
                int(o.options.iter().find(|x| u32::from(x.code) == f.arg)?.len)
            }
            id::TRAILING => {
                if !m.complete {
                    return None;
                }
                Some(Cow::Borrowed(self.trailing.get_or_init(|| {
                    Value::Bytes(m.trailing(&self.payload).to_vec())
                })))
            }
            _ => None,
        }
    }

    fn summary(&self) -> String {
        // Written into one buffer: the summary is built for every message sent and received
        // (events), so it is on the per-query path.
        use std::fmt::Write as _;
        let m = &self.msg;
        let mut s = String::with_capacity(96);
        let Some(h) = m.header else {
            if self.payload.is_empty() {
                s.push_str("DNS (no payload)");
            } else {
                let _ = write!(s, "DNS malformed ({} bytes)", self.payload.len());
            }
            self.push_transport(&mut s);
            return s;
        };
        let _ = write!(
            s,
            "DNS {} id={} ",
            if h.bit(flag::QR) { "R" } else { "Q" },
            h.id
        );
        match name_in(OPCODES, h.opcode().into()) {
            Some(n) => s.push_str(n),
            None => {
                let _ = write!(s, "OPCODE{}", h.opcode());
            }
        }
        if h.bit(flag::QR) {
            let rc = i64::from(m.ext_rcode().unwrap_or(0));
            s.push(' ');
            match name_in(RCODES, rc) {
                Some(n) => s.push_str(n),
                None => {
                    let _ = write!(s, "RCODE{rc}");
                }
            }
        }
        for (b, n) in [
            (flag::AA, "aa"),
            (flag::TC, "tc"),
            (flag::RD, "rd"),
            (flag::RA, "ra"),
            (flag::Z, "z"),
            (flag::AD, "ad"),
            (flag::CD, "cd"),
        ] {
            if h.bit(b) {
                s.push(' ');
                s.push_str(n);
            }
        }
        if let Some(q) = m.questions.first() {
            s.push(' ');
            s.push_str(&q.name.text(&self.payload));
            s.push(' ');
            if let Some(x) = q.qtype {
                match catalogue::type_name(x) {
                    Some(n) => s.push_str(n),
                    None => {
                        let _ = write!(s, "TYPE{x}");
                    }
                }
            }
        }
        let _ = write!(
            s,
            " an={} ns={} ar={}",
            m.section(Section::Answer).count(),
            m.section(Section::Authority).count(),
            m.section(Section::Additional).count()
        );
        if let Some(o) = m.opts.first() {
            let _ = write!(s, " edns(v{} {}", o.version, o.payload);
            if o.flags & EDNS_DO != 0 {
                s.push_str(" do");
            }
            if m.opts.len() > 1 {
                let _ = write!(s, " x{}", m.opts.len());
            }
            s.push(')');
        }
        if let Some(x) = self.malformations().first() {
            let _ = write!(s, " MALFORMED: {x}");
        }
        let tr = m.trailing(&self.payload).len();
        if tr > 0 {
            let _ = write!(s, " +{tr} trailing");
        }
        self.push_transport(&mut s);
        s
    }

    fn field_equals(&self, f: &FieldRef, expected: &Value) -> Option<bool> {
        let Value::Str(want) = expected else {
            return None;
        };
        let start = match f.id {
            id::Q_NAME => self.msg.questions.first().map(|q| q.name.start),
            id::RR_NAME => self.record(f.arg).map(|r| r.name.start),
            _ => return None,
        };
        Some(start.is_some_and(|s| wire::name_equals(&self.payload, s, want)))
    }

    fn datagram(&self) -> Option<Datagram> {
        Some(Datagram {
            payload: self.payload.clone(),
            meta: self.meta.clone(),
        })
    }

    fn to_json(&self) -> serde_json::Value {
        let m = &self.msg;
        let Some(h) = m.header else {
            return json!({ "payload": hex(&self.payload), "malformed": self.malformations().first().map(|x| x.to_string()), "transport": self.meta.transport });
        };
        let rr = |s: Section| -> Vec<serde_json::Value> {
            m.section(s)
                .map(|r| {
                    json!({
                        "name": r.name.text(&self.payload),
                        "type": catalogue::type_name(r.rtype).map(str::to_string).unwrap_or_else(|| format!("TYPE{}", r.rtype)),
                        "class": name_in(CLASSES, r.class.into()).map(str::to_string).unwrap_or_else(|| format!("CLASS{}", r.class)),
                        "ttl": r.ttl,
                        "rdata": self.rdata(r),
                    })
                })
                .collect()
        };
        json!({
            "id": h.id,
            "qr": h.bit(flag::QR),
            "opcode": h.opcode(),
            "aa": h.bit(flag::AA), "tc": h.bit(flag::TC), "rd": h.bit(flag::RD),
            "ra": h.bit(flag::RA), "z": h.bit(flag::Z), "ad": h.bit(flag::AD), "cd": h.bit(flag::CD),
            "rcode": h.rcode(),
            "ext_rcode": m.ext_rcode(),
            "counts": [h.qdcount, h.ancount, h.nscount, h.arcount],
            "question": m.questions.iter().map(|q| json!({"name": q.name.text(&self.payload), "type": q.qtype, "class": q.qclass})).collect::<Vec<_>>(),
            "answer": rr(Section::Answer),
            "authority": rr(Section::Authority),
            "additional": rr(Section::Additional),
            "edns": self.edns_json(),
            "edns_section_names": m.opts.iter().map(|o| name_in(SECTIONS, o.section as i64)).collect::<Vec<_>>(),
            "trailing": hex(m.trailing(&self.payload)),
            "malformed": self.malformations().iter().map(|x| x.to_string()).collect::<Vec<_>>(),
            "size": self.payload.len(),
            "transport": self.meta.transport,
        })
    }
}
