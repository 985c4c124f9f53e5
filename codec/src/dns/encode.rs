//! Encoding a concrete send template into a DNS query datagram.
//!
//! Two layers, as dns-requirements.md §4.3 recommends: hickory-proto builds every part it can
//! express (header flags and opcode, the question, one OPT record with version, DO, unknown
//! flag bits and options in template order, an OPT record in another section or with another
//! owner), then byte patches located with the lenient reader ([`wire`]) add what hickory
//! cannot: the header Z bit, section counts that lie, an OPT payload below 512 (hickory clamps
//! it), extended-RCODE bits in a query, an RDLENGTH or option length that lies, several OPT
//! records, raw question names (bad compression pointers, labels over 63 octets, extended label
//! types), trailing bytes, arbitrary `OFFSET=HEX` patches and a cut or padded size.
//!
//! Order of application: build with hickory → splice a raw question name → OPT patches →
//! extra OPT copies → `flags` / `z` → counts → `trailing` → `patch` → `size`.
//! With `raw` the message is those bytes instead of a built one; `id`, `patch`, `trailing` and
//! `size` still apply.
//!
//! Defaults: id 0, a QUERY with every flag clear (RD=0, as an authoritative test wants), no
//! question unless `question.name` or `question.name_raw` is given (type A and class IN by
//! default), no OPT unless an `edns.*` field is given (then version 0, payload 1232, no
//! flags). Meta: `transport` empty (the adapter's default, UDP), the adapter's server address.

use super::catalogue::id;
use super::wire::{self, Message};
use crate::datagram::{Datagram, Meta};
use crate::field::FieldRef;
use crate::protocol::EncodeError;
use crate::value::{parse_hex, Value};
use hickory_proto::op::{Edns, Message as HMessage, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::opt::EdnsOption;
use hickory_proto::rr::{DNSClass, Name, Record, RecordType};
use std::net::IpAddr;

/// What the template asked for, gathered before building.
#[derive(Default)]
struct Spec {
    id: u16,
    qr: bool,
    opcode: u8,
    aa: bool,
    tc: bool,
    rd: bool,
    ra: bool,
    z: Option<bool>,
    ad: bool,
    cd: bool,
    rcode: u8,
    flags: Option<u16>,
    id_given: bool,
    counts: [Option<u16>; 4],
    q_name: Option<String>,
    q_name_raw: Option<Vec<u8>>,
    q_type: u16,
    q_class: u16,
    edns: bool,
    edns_off: bool,
    version: u8,
    dnssec_ok: bool,
    edns_flags: Option<u16>,
    edns_z: u16,
    payload: Option<u16>,
    ext_rcode: Option<u8>,
    /// Options in template order (code, data).
    options: Vec<(u16, Vec<u8>)>,
    option_lens: Vec<(u16, u16)>,
    section: u8,
    owner: Option<String>,
    rdlength: Option<u16>,
    opt_count: Option<u64>,
    trailing: Vec<u8>,
    raw: Option<Vec<u8>>,
    patches: Vec<(usize, Vec<u8>)>,
    size: Option<usize>,
    transport: Option<String>,
    conn: Option<u32>,
    framing: Option<bool>,
    close: bool,
    meta: Meta,
}

fn err(f: &FieldRef, reason: impl Into<String>) -> EncodeError {
    EncodeError::Field {
        path: f.path.to_string(),
        reason: reason.into(),
    }
}

fn int(f: &FieldRef, v: &Value, min: i64, max: i64) -> Result<i64, EncodeError> {
    let i = match v {
        Value::Int(i) => *i,
        Value::Bool(b) => i64::from(*b),
        _ => return Err(err(f, format!("expected an integer, got {} {v}", v.kind()))),
    };
    if i < min || i > max {
        return Err(err(f, format!("{i} is out of range {min}..{max}")));
    }
    Ok(i)
}

fn boolean(f: &FieldRef, v: &Value) -> Result<bool, EncodeError> {
    match v {
        Value::Bool(b) => Ok(*b),
        _ => Err(err(f, format!("expected a boolean, got {} {v}", v.kind()))),
    }
}

fn text(f: &FieldRef, v: &Value) -> Result<String, EncodeError> {
    match v {
        Value::Str(s) => Ok(s.clone()),
        _ => Err(err(f, format!("expected a string, got {} {v}", v.kind()))),
    }
}

fn octets(f: &FieldRef, v: &Value) -> Result<Vec<u8>, EncodeError> {
    v.as_octets()
        .ok_or_else(|| err(f, format!("expected bytes, got {} {v}", v.kind())))
}

/// Parses `OFFSET=HEX` (offset decimal or 0x-hex).
fn parse_patch(s: &str) -> Option<(usize, Vec<u8>)> {
    let (o, h) = s.split_once('=')?;
    let o = o.trim();
    let off = match o.strip_prefix("0x") {
        Some(x) => usize::from_str_radix(x, 16).ok()?,
        None => o.parse().ok()?,
    };
    let bytes = parse_hex(h.trim())?;
    (!bytes.is_empty()).then_some((off, bytes))
}

/// A name in presentation form to wire form, without any validation (labels over 63 octets and
/// names over 255 are written as asked, a label length byte is `len & 0xff`). `\DDD` and `\X`
/// escapes are understood; a missing final dot is implied.
pub fn name_to_wire(text: &str) -> Vec<u8> {
    let mut out = Vec::new();
    if text == "." || text.is_empty() {
        out.push(0);
        return out;
    }
    let mut label: Vec<u8> = Vec::new();
    let b = text.as_bytes();
    let mut i = 0;
    let flush = |out: &mut Vec<u8>, label: &mut Vec<u8>| {
        out.push(label.len() as u8);
        out.append(label);
    };
    while i < b.len() {
        match b[i] {
            b'\\' => {
                let d = b
                    .get(i + 1..i + 4)
                    .filter(|d| d.iter().all(u8::is_ascii_digit));
                if let Some(d) = d {
                    let n = d.iter().fold(0u32, |a, x| a * 10 + u32::from(x - b'0'));
                    label.push(n as u8);
                    i += 4;
                } else if let Some(&c) = b.get(i + 1) {
                    label.push(c);
                    i += 2;
                } else {
                    i += 1;
                }
            }
            b'.' => {
                flush(&mut out, &mut label);
                i += 1;
            }
            c => {
                label.push(c);
                i += 1;
            }
        }
    }
    if !label.is_empty() {
        flush(&mut out, &mut label);
    }
    out.push(0);
    out
}

impl Spec {
    fn apply(&mut self, f: &FieldRef, v: Option<&Value>) -> Result<(), EncodeError> {
        // `None` (omit) means "not sent" for optional parts and "default" for the rest.
        let Some(v) = v else {
            match f.id {
                id::Q_NAME => self.q_name = None,
                id::Q_NAME_RAW => self.q_name_raw = None,
                id::EDNS_PRESENT => self.edns_off = true,
                id::IP_DST => self.meta.ip_dst = None,
                id::UDP_DST => self.meta.dst_port = None,
                _ => {}
            }
            return Ok(());
        };
        let u16v = |v: &Value| int(f, v, 0, 0xffff).map(|i| i as u16);
        match f.id {
            id::ID => {
                self.id = (int(f, v, 0, u32::MAX.into())? & 0xffff) as u16;
                self.id_given = true;
            }
            id::QR => self.qr = boolean(f, v)?,
            id::OPCODE => self.opcode = int(f, v, 0, 15)? as u8,
            id::AA => self.aa = boolean(f, v)?,
            id::TC => self.tc = boolean(f, v)?,
            id::RD => self.rd = boolean(f, v)?,
            id::RA => self.ra = boolean(f, v)?,
            id::Z => self.z = Some(boolean(f, v)?),
            id::AD => self.ad = boolean(f, v)?,
            id::CD => self.cd = boolean(f, v)?,
            id::RCODE => self.rcode = int(f, v, 0, 15)? as u8,
            id::EXT_RCODE => {
                let x = int(f, v, 0, 4095)?;
                self.rcode = (x & 0xf) as u8;
                if x > 15 {
                    self.ext_rcode = Some((x >> 4) as u8);
                    self.edns = true;
                }
            }
            id::FLAGS => self.flags = Some(u16v(v)?),
            id::QDCOUNT => self.counts[0] = Some(u16v(v)?),
            id::ANCOUNT => self.counts[1] = Some(u16v(v)?),
            id::NSCOUNT => self.counts[2] = Some(u16v(v)?),
            id::ARCOUNT => self.counts[3] = Some(u16v(v)?),
            id::Q_NAME => self.q_name = Some(text(f, v)?),
            id::Q_NAME_RAW => self.q_name_raw = Some(octets(f, v)?),
            id::Q_TYPE => self.q_type = u16v(v)?,
            id::Q_CLASS => self.q_class = u16v(v)?,
            id::EDNS_PRESENT => {
                if boolean(f, v)? {
                    self.edns = true;
                } else {
                    self.edns_off = true;
                }
            }
            id::EDNS_COUNT => {
                let n = int(f, v, 0, 100)? as u64;
                if n == 0 {
                    self.edns_off = true;
                } else {
                    self.edns = true;
                    self.opt_count = Some(n);
                }
            }
            id::EDNS_VERSION => {
                self.version = int(f, v, 0, 255)? as u8;
                self.edns = true;
            }
            id::EDNS_DO => {
                self.dnssec_ok = boolean(f, v)?;
                self.edns = true;
            }
            id::EDNS_FLAGS => {
                self.edns_flags = Some(u16v(v)?);
                self.edns = true;
            }
            id::EDNS_Z => {
                self.edns_z = u16v(v)? & 0x7fff;
                self.edns = true;
            }
            id::EDNS_PAYLOAD => {
                self.payload = Some(u16v(v)?);
                self.edns = true;
            }
            id::EDNS_EXT_RCODE => {
                self.ext_rcode = Some(int(f, v, 0, 255)? as u8);
                self.edns = true;
            }
            id::EDNS_OPTIONS => {
                let Value::List(items) = v else {
                    return Err(err(f, "expected a list of option codes"));
                };
                for x in items {
                    self.options.push((u16v(x)?, Vec::new()));
                }
                self.edns = true;
            }
            id::EDNS_OPTION => {
                self.options.push((f.arg as u16, octets(f, v)?));
                self.edns = true;
            }
            id::EDNS_OPTION_LEN => {
                let code = f.arg as u16;
                if !self.options.iter().any(|(c, _)| *c == code) {
                    self.options.push((code, Vec::new()));
                }
                self.option_lens.push((code, u16v(v)?));
                self.edns = true;
            }
            id::EDNS_SECTION => {
                self.section = int(f, v, 1, 3)? as u8;
                self.edns = true;
            }
            id::EDNS_OWNER => {
                self.owner = Some(text(f, v)?);
                self.edns = true;
            }
            id::EDNS_RDLENGTH => {
                self.rdlength = Some(u16v(v)?);
                self.edns = true;
            }
            id::TRAILING => self.trailing = octets(f, v)?,
            id::SIZE => self.size = Some(int(f, v, 0, 65535)? as usize),
            id::RAW => self.raw = Some(octets(f, v)?),
            id::PATCH => {
                let Value::List(items) = v else {
                    return Err(err(f, "expected a list of \"OFFSET=HEX\" strings"));
                };
                for x in items {
                    let s = text(f, x)?;
                    let p = parse_patch(&s).ok_or_else(|| {
                        err(f, format!("`{s}` is not OFFSET=HEX (for example \"3=40\")"))
                    })?;
                    self.patches.push(p);
                }
            }
            id::TRANSPORT => {
                let t = text(f, v)?;
                if !matches!(t.as_str(), "udp" | "tcp") {
                    return Err(err(f, format!("`{t}` is not udp or tcp")));
                }
                self.transport = Some(t);
            }
            id::TCP_CONNECTION => self.conn = Some(int(f, v, 0, u32::MAX.into())? as u32),
            id::TCP_FRAMING => self.framing = Some(boolean(f, v)?),
            id::TCP_CLOSE => self.close = boolean(f, v)?,
            id::IP_DST => match v {
                Value::Ipv4(a) => self.meta.ip_dst = Some(IpAddr::V4(*a)),
                Value::Ipv6(a) => self.meta.ip_dst = Some(IpAddr::V6(*a)),
                _ => return Err(err(f, "expected an IP address")),
            },
            id::UDP_DST => self.meta.dst_port = Some(u16v(v)?),
            _ => {
                return Err(err(
                    f,
                    "this field is only read from received messages and cannot be sent",
                ))
            }
        }
        Ok(())
    }

    fn edns(&self) -> Edns {
        let mut e = Edns::new();
        e.set_max_payload(self.payload.unwrap_or(1232));
        e.set_version(self.version);
        let flags = self
            .edns_flags
            .unwrap_or(self.edns_z | if self.dnssec_ok { wire::EDNS_DO } else { 0 });
        e.set_dnssec_ok(flags & wire::EDNS_DO != 0);
        e.flags_mut().z = flags & 0x7fff;
        for (code, data) in &self.options {
            e.options_mut()
                .insert(EdnsOption::Unknown(*code, data.clone()));
        }
        e
    }

    /// The message hickory can build, plus the raw question name to splice in (if any).
    fn build(&self) -> Result<(Vec<u8>, Option<Vec<u8>>), EncodeError> {
        let mt = if self.qr {
            MessageType::Response
        } else {
            MessageType::Query
        };
        let mut m = HMessage::new(self.id, mt, OpCode::from_u8(self.opcode));
        let md = &mut m.metadata;
        md.authoritative = self.aa;
        md.truncation = self.tc;
        md.recursion_desired = self.rd;
        md.recursion_available = self.ra;
        md.authentic_data = self.ad;
        md.checking_disabled = self.cd;
        md.response_code = <ResponseCode as From<u16>>::from(u16::from(self.rcode));
        let mut splice = None;
        if self.q_name.is_some() || self.q_name_raw.is_some() {
            let name = match (&self.q_name_raw, &self.q_name) {
                (Some(raw), _) => {
                    splice = Some(raw.clone());
                    Name::root()
                }
                (None, Some(t)) => {
                    let fq = if t.ends_with('.') {
                        t.clone()
                    } else {
                        format!("{t}.")
                    };
                    match Name::from_ascii(&fq) {
                        Ok(n) => n,
                        Err(_) => {
                            // Over-long labels or names: hickory refuses, write them as asked.
                            splice = Some(name_to_wire(t));
                            Name::root()
                        }
                    }
                }
                (None, None) => Name::root(),
            };
            let ty = if self.q_type == 0 { 1 } else { self.q_type };
            let mut q = Query::query(name, RecordType::from(ty));
            q.set_query_class(DNSClass::from(if self.q_class == 0 {
                1
            } else {
                self.q_class
            }));
            m.add_query(q);
        }
        if self.edns && !self.edns_off {
            let e = self.edns();
            if self.section == 0 || self.section == 3 {
                if let Some(o) = &self.owner {
                    let mut r = Record::from(&e);
                    r.name = Name::from_ascii(o).map_err(|x| EncodeError::Field {
                        path: "edns.owner".into(),
                        reason: x.to_string(),
                    })?;
                    m.add_additional(r);
                } else {
                    m.set_edns(e);
                }
            } else {
                let mut r = Record::from(&e);
                if let Some(o) = &self.owner {
                    r.name = Name::from_ascii(o).map_err(|x| EncodeError::Field {
                        path: "edns.owner".into(),
                        reason: x.to_string(),
                    })?;
                }
                if self.section == 1 {
                    m.add_answer(r);
                } else {
                    m.add_authority(r);
                }
            }
        }
        let wire = m
            .to_vec()
            .map_err(|e| EncodeError::Other(format!("hickory-proto: {e}")))?;
        Ok((wire, splice))
    }

    /// Byte patches on the first OPT record found by the lenient reader.
    fn patch_opt(&self, w: &mut Vec<u8>) {
        let parsed = Message::parse(w);
        let Some(o) = parsed.opts.first() else {
            return;
        };
        let r = &parsed.records[o.record];
        let fx = r.fixed;
        if let Some(p) = self.payload {
            w[fx + 2..fx + 4].copy_from_slice(&p.to_be_bytes());
        }
        w[fx + 4] = self.ext_rcode.unwrap_or(0);
        // Option lengths that lie: walk the options of the built RDATA.
        for (code, len) in &self.option_lens {
            let mut i = r.rdata.start;
            while i + 4 <= r.rdata.end {
                let c = u16::from_be_bytes([w[i], w[i + 1]]);
                let l = usize::from(u16::from_be_bytes([w[i + 2], w[i + 3]]));
                if c == *code {
                    w[i + 2..i + 4].copy_from_slice(&len.to_be_bytes());
                    break;
                }
                i += 4 + l;
            }
        }
        if let Some(n) = self.opt_count.filter(|n| *n > 1) {
            let copy = w[r.span()].to_vec();
            for _ in 1..n {
                w.extend_from_slice(&copy);
            }
            let ar = u16::from_be_bytes([w[10], w[11]]).wrapping_add((n - 1) as u16);
            w[10..12].copy_from_slice(&ar.to_be_bytes());
        }
        if let Some(l) = self.rdlength {
            w[fx + 8..fx + 10].copy_from_slice(&l.to_be_bytes());
        }
    }

    fn finish(self) -> Result<Datagram, EncodeError> {
        let mut w = match &self.raw {
            Some(raw) => {
                let mut w = raw.clone();
                if self.id_given && w.len() >= 2 {
                    w[0..2].copy_from_slice(&self.id.to_be_bytes());
                }
                w
            }
            None => {
                let (mut w, splice) = self.build()?;
                if let Some(name) = splice {
                    // The placeholder root name is the single 0 byte at offset 12.
                    if w.len() > wire::HEADER_LEN {
                        w.splice(wire::HEADER_LEN..wire::HEADER_LEN + 1, name);
                    }
                }
                if self.edns && !self.edns_off {
                    self.patch_opt(&mut w);
                }
                if let Some(f) = self.flags {
                    w[2..4].copy_from_slice(&f.to_be_bytes());
                }
                match self.z {
                    Some(true) => w[3] |= 0x40,
                    Some(false) => w[3] &= !0x40,
                    None => {}
                }
                for (i, c) in self.counts.iter().enumerate() {
                    if let Some(c) = c {
                        let at = 4 + 2 * i;
                        w[at..at + 2].copy_from_slice(&c.to_be_bytes());
                    }
                }
                w
            }
        };
        w.extend_from_slice(&self.trailing);
        for (off, bytes) in &self.patches {
            let end = off + bytes.len();
            if end > w.len() {
                w.resize(end, 0);
            }
            w[*off..end].copy_from_slice(bytes);
        }
        if let Some(n) = self.size {
            w.resize(n, 0);
        }
        let mut meta = self.meta;
        let tcp_asked = self.conn.is_some() || self.framing.is_some() || self.close;
        let kind = match (&self.transport, tcp_asked) {
            (Some(t), _) => t.clone(),
            (None, true) => "tcp".into(),
            (None, false) => String::new(),
        };
        let mut t = kind;
        if t == "tcp" {
            if let Some(c) = self.conn {
                t.push_str(&format!(";conn={c}"));
            }
            if self.framing == Some(false) {
                t.push_str(";raw");
            }
            if self.close {
                t.push_str(";close");
            }
        }
        meta.transport = t.into();
        Ok(Datagram { payload: w, meta })
    }
}

/// Encodes a send template (fields in template order; `None` = omit).
pub fn encode(fields: &[(FieldRef, Option<Value>)]) -> Result<Datagram, EncodeError> {
    let mut s = Spec::default();
    for (f, v) in fields {
        s.apply(f, v.as_ref())?;
    }
    s.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::catalogue::resolve;

    fn enc(fields: &[(&str, Value)]) -> Vec<u8> {
        let f: Vec<(FieldRef, Option<Value>)> = fields
            .iter()
            .map(|(p, v)| (resolve(p).unwrap(), Some(v.clone())))
            .collect();
        encode(&f).unwrap().payload
    }

    fn s(x: &str) -> Value {
        Value::Str(x.into())
    }

    #[test]
    fn plain_soa_query() {
        let w = enc(&[
            ("id", Value::Int(0x1_2345)),
            ("question.name", s("ExAmPlE.test.")),
            ("question.type", Value::Int(6)),
        ]);
        let mut want = vec![0x23, 0x45, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        want.extend_from_slice(b"\x07ExAmPlE\x04test\x00\x00\x06\x00\x01");
        assert_eq!(w, want);
    }

    #[test]
    fn edns_below_512_and_ext_rcode_and_z() {
        let w = enc(&[
            ("question.name", s("example.test")),
            ("z", Value::Bool(true)),
            ("edns.payload", Value::Int(100)),
            ("edns.version", Value::Int(1)),
            ("edns.do", Value::Bool(true)),
            ("edns.z", Value::Int(0x80)),
            ("edns.options", Value::List(vec![Value::Int(100)])),
        ]);
        let m = Message::parse(&w);
        assert!(m.malformations.is_empty());
        assert_eq!(w[3] & 0x40, 0x40);
        let o = &m.opts[0];
        assert_eq!((o.payload, o.version, o.flags), (100, 1, 0x8080));
        assert_eq!(o.options[0].code, 100);
        assert_eq!(o.options[0].len, 0);
    }

    #[test]
    fn two_opts_opt_in_answer_and_lying_counts() {
        let w = enc(&[
            ("question.name", s("example.test")),
            ("edns.count", Value::Int(2)),
        ]);
        let m = Message::parse(&w);
        assert_eq!(m.opts.len(), 2);
        assert_eq!(m.header.unwrap().arcount, 2);
        let w = enc(&[
            ("question.name", s("example.test")),
            ("edns.section", Value::Int(1)),
        ]);
        let m = Message::parse(&w);
        assert_eq!(m.opts[0].section, wire::Section::Answer);
        let w = enc(&[
            ("question.name", s("example.test")),
            ("qdcount", Value::Int(2)),
        ]);
        let m = Message::parse(&w);
        assert!(!m.complete);
    }

    #[test]
    fn raw_names_and_patches() {
        let long = "a".repeat(64) + ".example.test.";
        let w = enc(&[("question.name", s(&long))]);
        assert_eq!(w[12], 64);
        let w = enc(&[
            ("question.name_raw", Value::Bytes(vec![0xc0, 0x0c])),
            ("patch", Value::List(vec![s("2=ff")])),
            ("trailing", Value::Bytes(vec![1, 2])),
        ]);
        assert_eq!(&w[12..14], &[0xc0, 0x0c]);
        assert_eq!(w[2], 0xff);
        assert_eq!(&w[w.len() - 2..], &[1, 2]);
        assert_eq!(name_to_wire("a\\.b.c"), b"\x03a.b\x01c\x00".to_vec());
    }

    #[test]
    fn transport_string() {
        let f: Vec<(FieldRef, Option<Value>)> = vec![
            (resolve("tcp.connection").unwrap(), Some(Value::Int(3))),
            (resolve("tcp.framing").unwrap(), Some(Value::Bool(false))),
        ];
        assert_eq!(encode(&f).unwrap().meta.transport, "tcp;conn=3;raw");
    }
}
