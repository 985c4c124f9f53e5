//! The matchable view of a received DHCPv4 message ([`DhcpView`], a [`Decoded`]).
//!
//! Decoding does the minimum once: it copies the payload, lexes the option areas into a list
//! of instances, and builds a 256-entry table from option code to a per-code slot. Typed values,
//! aggregates and string fields are computed on first use and cached in `OnceLock`s, so `get`
//! is a table lookup that returns borrowed values (or an owned scalar, which never allocates).
//!
//! Invariant: construction and every accessor are total; no input panics.

use super::catalogue::{self, id, kind_type, OptKind};
use super::raw::{
    field, first_malformation, Area, Malformation, OptionIter, Packet, Token, FLAG_BROADCAST,
    HEADER_LEN, MIN_LEN, OVERLOAD,
};
use crate::datagram::{Datagram, Meta};
use crate::field::{FieldRef, FieldType};
use crate::protocol::Decoded;
use crate::value::{hex, Value};
use serde_json::json;
use std::borrow::Cow;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::ops::Range;
use std::sync::OnceLock;

/// One option instance on the wire. Its data is `payload[start..end]`.
#[derive(Debug, Clone, Copy)]
struct Inst {
    code: u8,
    area: Area,
    /// Absolute offset of the code byte.
    offset: u32,
    /// The length byte as sent; `None` when the code was the last byte of its area.
    len: Option<u8>,
    start: u32,
    end: u32,
}

/// Per-code state: where the first instance is, how many there are, and cached values.
#[derive(Debug)]
struct Slot {
    first: u32,
    count: u32,
    raw: OnceLock<Value>,
    /// Only used for kinds that allocate (lists, strings) or split options; single-instance
    /// scalars are decoded on every `get`, which is cheaper than caching them.
    typed: OnceLock<Value>,
}

/// Cached sub-fields of options 61 and 82.
#[derive(Debug)]
enum Extra {
    ClientIdData(Option<Value>),
    Relay {
        circuit: Option<Value>,
        remote: Option<Value>,
        codes: Value,
    },
}

/// Lazily computed message-level values.
#[derive(Debug, Default)]
struct Lazy {
    chaddr: OnceLock<Value>,
    chaddr_raw: OnceLock<Value>,
    sname: OnceLock<Value>,
    file: OnceLock<Value>,
    sname_raw: OnceLock<Value>,
    file_raw: OnceLock<Value>,
    cookie: OnceLock<Value>,
    option_codes: OnceLock<Value>,
    file_codes: OnceLock<Value>,
    sname_codes: OnceLock<Value>,
    after_end: OnceLock<Value>,
    duplicate_codes: OnceLock<Value>,
    malformed: OnceLock<Option<Value>>,
    /// Sub-fields of option 61 and option 82.
    client_id: OnceLock<Extra>,
    relay: OnceLock<Extra>,
}

/// A decoded DHCPv4 message plus the lower-layer facts it arrived with.
pub struct DhcpView {
    payload: Vec<u8>,
    meta: Meta,
    /// All instances, in aggregation order: options field, then file, then sname.
    insts: Vec<Inst>,
    /// `insts[..n_main]` are in the options field.
    n_main: usize,
    end_present: bool,
    /// Absolute range of the bytes after END in the options field (empty without END).
    after_end: Range<usize>,
    /// `table[code]` is 0 when absent, else `1 + index` into `slots`.
    table: [u16; 256],
    slots: Vec<Slot>,
    lazy: Lazy,
}

impl fmt::Debug for DhcpView {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DhcpView")
            .field("summary", &self.summary())
            .finish_non_exhaustive()
    }
}

fn cached(cell: &OnceLock<Value>, init: impl FnOnce() -> Value) -> Option<Cow<'_, Value>> {
    Some(Cow::Borrowed(cell.get_or_init(init)))
}

fn codes_value(codes: impl Iterator<Item = u8>) -> Value {
    Value::List(codes.map(|c| Value::Int(c.into())).collect())
}

/// Bytes up to the first NUL, as lossy UTF-8.
fn c_string(b: &[u8]) -> String {
    let end = b.iter().position(|&x| x == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

/// Decodes an option aggregate by kind. When the length does not fit the kind the result is
/// `Value::Bytes` of the aggregate, so a typed template mismatches visibly instead of matching
/// "absent" or a truncated value.
pub fn typed_value(kind: OptKind, b: &[u8]) -> Value {
    let bytes = || Value::Bytes(b.to_vec());
    match kind {
        OptKind::Ipv4 => match <[u8; 4]>::try_from(b) {
            Ok(a) => Value::Ipv4(Ipv4Addr::from(a)),
            Err(_) => bytes(),
        },
        OptKind::Ipv4List if !b.is_empty() && b.len().is_multiple_of(4) => Value::List(
            b.chunks_exact(4)
                .map(|c| Value::Ipv4(Ipv4Addr::new(c[0], c[1], c[2], c[3])))
                .collect(),
        ),
        OptKind::U8 | OptKind::MessageType | OptKind::Overload if b.len() == 1 => {
            Value::Int(b[0].into())
        }
        OptKind::U16 if b.len() == 2 => Value::Int(u16::from_be_bytes([b[0], b[1]]).into()),
        OptKind::U32 if b.len() == 4 => {
            Value::Int(u32::from_be_bytes([b[0], b[1], b[2], b[3]]).into())
        }
        OptKind::I32 if b.len() == 4 => {
            Value::Int(i32::from_be_bytes([b[0], b[1], b[2], b[3]]).into())
        }
        OptKind::U8List if !b.is_empty() => codes_value(b.iter().copied()),
        OptKind::Str if !b.is_empty() => match std::str::from_utf8(b) {
            Ok(s) => Value::Str(s.to_owned()),
            Err(_) => bytes(),
        },
        _ => bytes(),
    }
}

/// Parses RFC 3046 sub-options. A sub-option running past the end stops parsing; it is not
/// listed.
fn relay_extra(agg: &[u8]) -> Extra {
    let (mut circuit, mut remote, mut codes) = (None, None, Vec::new());
    let mut i = 0;
    while i + 2 <= agg.len() {
        let (code, len) = (agg[i], usize::from(agg[i + 1]));
        let Some(data) = agg.get(i + 2..i + 2 + len) else {
            break;
        };
        codes.push(Value::Int(code.into()));
        match code {
            1 if circuit.is_none() => circuit = Some(Value::Bytes(data.to_vec())),
            2 if remote.is_none() => remote = Some(Value::Bytes(data.to_vec())),
            _ => {}
        }
        i += 2 + len;
    }
    Extra::Relay {
        circuit,
        remote,
        codes: Value::List(codes),
    }
}

impl DhcpView {
    /// Decodes a datagram. Never fails.
    pub fn new(d: &Datagram) -> DhcpView {
        DhcpView::from_parts(d.payload.clone(), d.meta.clone())
    }

    /// Decodes an owned payload with its metadata.
    pub fn from_parts(payload: Vec<u8>, meta: Meta) -> DhcpView {
        let mut v = DhcpView {
            payload,
            meta,
            insts: Vec::new(),
            n_main: 0,
            end_present: false,
            after_end: 0..0,
            table: [0; 256],
            slots: Vec::new(),
            lazy: Lazy::default(),
        };
        v.scan();
        v
    }

    fn scan(&mut self) {
        let p = &self.payload;
        if p.len() < MIN_LEN {
            return;
        }
        let mut insts = Vec::with_capacity(24);
        // The overload value comes from the first option 52 of the options field (as in
        // `raw::overload_of`), found while lexing that field, which is always lexed first.
        let mut overload: Option<u8> = None;
        let areas = [
            (Area::Options, field::OPTIONS.start..p.len()),
            (Area::File, field::FILE),
            (Area::Sname, field::SNAME),
        ];
        for (area, range) in areas {
            let ov = overload.unwrap_or(0);
            match area {
                Area::File if ov & 1 == 0 => continue,
                Area::Sname if ov & 2 == 0 => continue,
                _ => {}
            }
            let base = range.start;
            for t in OptionIter::new(&p[range.clone()]) {
                let (offset, code, len, data) = match t {
                    Token::Pad { .. } => continue,
                    Token::End { offset } => {
                        if area == Area::Options {
                            self.end_present = true;
                            self.after_end = base + offset + 1..range.end;
                        }
                        continue;
                    }
                    Token::Option { offset, code, data } => {
                        if code == OVERLOAD && area == Area::Options && overload.is_none() {
                            overload = Some(match data {
                                [v @ 1..=3] => *v,
                                _ => 0,
                            });
                        }
                        (offset, code, Some(data.len() as u8), data)
                    }
                    Token::Truncated {
                        offset,
                        code,
                        len,
                        data,
                    } => (offset, code, len, data),
                };
                let start = base + offset + 1 + usize::from(len.is_some());
                insts.push(Inst {
                    code,
                    area,
                    offset: (base + offset) as u32,
                    len,
                    start: start as u32,
                    end: (start + data.len()) as u32,
                });
            }
            if area == Area::Options {
                self.n_main = insts.len();
            }
        }
        for (i, inst) in insts.iter().enumerate() {
            let t = &mut self.table[usize::from(inst.code)];
            if *t == 0 {
                self.slots.push(Slot {
                    first: i as u32,
                    count: 0,
                    raw: OnceLock::new(),
                    typed: OnceLock::new(),
                });
                *t = self.slots.len() as u16;
            }
            self.slots[usize::from(*t) - 1].count += 1;
        }
        self.insts = insts;
    }

    /// The payload this view was decoded from.
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    /// The lower-layer facts this view was decoded with.
    pub fn meta(&self) -> &Meta {
        &self.meta
    }

    fn slot(&self, code: u32) -> Option<&Slot> {
        let i = *self.table.get(code as usize)?;
        (i != 0).then(|| &self.slots[usize::from(i) - 1])
    }

    fn data(&self, inst: &Inst) -> &[u8] {
        &self.payload[inst.start as usize..inst.end as usize]
    }

    /// The RFC 3396 aggregate of an option: all instances concatenated in the order options,
    /// file, sname. `None` when absent.
    pub fn aggregate(&self, code: u8) -> Option<Cow<'_, [u8]>> {
        let s = self.slot(code.into())?;
        Some(self.slot_aggregate(code, s))
    }

    fn slot_aggregate(&self, code: u8, s: &Slot) -> Cow<'_, [u8]> {
        let first = &self.insts[s.first as usize];
        if s.count == 1 {
            return Cow::Borrowed(self.data(first));
        }
        let mut v = Vec::new();
        for inst in &self.insts[s.first as usize..] {
            if inst.code == code {
                v.extend_from_slice(self.data(inst));
            }
        }
        Cow::Owned(v)
    }

    fn raw<'a>(&'a self, code: u8, s: &'a Slot) -> &'a Value {
        s.raw
            .get_or_init(|| Value::Bytes(self.slot_aggregate(code, s).into_owned()))
    }

    fn typed<'a>(&'a self, code: u8, s: &'a Slot) -> &'a Value {
        s.typed.get_or_init(|| match catalogue::kind_of(code) {
            OptKind::Bytes => self.raw(code, s).clone(),
            k => typed_value(k, &self.slot_aggregate(code, s)),
        })
    }

    /// Sub-fields of option 61 (`client_id`) or 82 (`relay`); `None` when that option is absent.
    fn extra(&self, relay: bool) -> Option<&Extra> {
        let (code, cell) = if relay {
            (82, &self.lazy.relay)
        } else {
            (61, &self.lazy.client_id)
        };
        let s = self.slot(code.into())?;
        Some(cell.get_or_init(|| {
            let agg = self.slot_aggregate(code, s);
            if relay {
                relay_extra(&agg)
            } else {
                // `options.61.data`: the aggregate without its type byte.
                Extra::ClientIdData(
                    agg.split_first()
                        .map(|(_, rest)| Value::Bytes(rest.to_vec())),
                )
            }
        }))
    }

    fn packet(&self) -> Packet<&[u8]> {
        Packet::new_unchecked(&self.payload)
    }

    fn u8_at(&self, i: usize) -> Option<Cow<'_, Value>> {
        self.payload
            .get(i)
            .map(|&b| Cow::Owned(Value::Int(b.into())))
    }

    fn be_at(&self, r: Range<usize>) -> Option<Cow<'_, Value>> {
        let b = self.payload.get(r)?;
        let n = b.iter().fold(0i64, |acc, &x| (acc << 8) | i64::from(x));
        Some(Cow::Owned(Value::Int(n)))
    }

    fn ipv4_at(&self, r: Range<usize>) -> Option<Cow<'_, Value>> {
        let b = self.payload.get(r)?;
        Some(Cow::Owned(Value::Ipv4(Ipv4Addr::new(
            b[0], b[1], b[2], b[3],
        ))))
    }

    fn bytes_at<'a>(
        &'a self,
        r: Range<usize>,
        cell: &'a OnceLock<Value>,
    ) -> Option<Cow<'a, Value>> {
        let b = self.payload.get(r)?;
        cached(cell, || Value::Bytes(b.to_vec()))
    }

    fn str_at<'a>(&'a self, r: Range<usize>, cell: &'a OnceLock<Value>) -> Option<Cow<'a, Value>> {
        let b = self.payload.get(r)?;
        cached(cell, || Value::Str(c_string(b)))
    }

    fn flags(&self) -> Option<u16> {
        self.payload
            .get(field::FLAGS)
            .map(|b| u16::from_be_bytes([b[0], b[1]]))
    }

    /// The first malformation (see [`first_malformation`]).
    pub fn malformation(&self) -> Option<Malformation> {
        first_malformation(&self.payload)
    }

    fn message_type(&self) -> Option<u8> {
        let s = self.slot(53)?;
        match self.typed(53, s) {
            Value::Int(i) => u8::try_from(*i).ok(),
            _ => None,
        }
    }

    fn area_codes(&self, area: Area) -> Vec<u8> {
        self.insts
            .iter()
            .filter(|i| i.area == area)
            .map(|i| i.code)
            .collect()
    }

    fn meta_get(&self, id: u32) -> Option<Value> {
        let m = &self.meta;
        let ip = |a: Option<IpAddr>| {
            a.map(|a| match a {
                IpAddr::V4(a) => Value::Ipv4(a),
                IpAddr::V6(a) => Value::Ipv6(a),
            })
        };
        match id {
            id::ETH_SRC => m.eth_src.map(Value::Mac),
            id::ETH_DST => m.eth_dst.map(Value::Mac),
            id::IP_SRC => ip(m.ip_src),
            id::IP_DST => ip(m.ip_dst),
            id::IP_TTL => m.ip_ttl.map(|x| Value::Int(x.into())),
            id::IP_LEN => m.ip_len.map(|x| Value::Int(x.into())),
            id::UDP_SRC => m.src_port.map(|x| Value::Int(x.into())),
            id::UDP_DST => m.dst_port.map(|x| Value::Int(x.into())),
            id::UDP_CHECKSUM_OK => m.udp_checksum_ok.map(Value::Bool),
            _ => None,
        }
    }
}

impl Decoded for DhcpView {
    fn get(&self, f: &FieldRef) -> Option<Cow<'_, Value>> {
        let l = &self.lazy;
        match f.id {
            id::OPT => {
                let s = self.slot(f.arg)?;
                let code = f.arg as u8;
                let kind = catalogue::kind_of(code);
                if s.count == 1 && kind.is_scalar() {
                    let data = self.data(&self.insts[s.first as usize]);
                    return Some(Cow::Owned(typed_value(kind, data)));
                }
                Some(Cow::Borrowed(self.typed(code, s)))
            }
            id::OPT_RAW => {
                let s = self.slot(f.arg)?;
                Some(Cow::Borrowed(self.raw(f.arg as u8, s)))
            }
            id::OPT_LEN => {
                let s = self.slot(f.arg)?;
                let len = self.insts[s.first as usize].len?;
                Some(Cow::Owned(Value::Int(len.into())))
            }
            id::OPT_COUNT => {
                let n = self.slot(f.arg).map_or(0, |s| s.count);
                Some(Cow::Owned(Value::Int(n.into())))
            }
            id::CLIENT_ID_TYPE => {
                let s = self.slot(f.arg)?;
                let t = *self.slot_aggregate(f.arg as u8, s).first()?;
                Some(Cow::Owned(Value::Int(t.into())))
            }
            id::CLIENT_ID_DATA
            | id::RELAY_CIRCUIT_ID
            | id::RELAY_REMOTE_ID
            | id::RELAY_SUBOPTION_CODES => {
                let v = match (self.extra(f.id != id::CLIENT_ID_DATA)?, f.id) {
                    (Extra::ClientIdData(v), id::CLIENT_ID_DATA) => v.as_ref(),
                    (Extra::Relay { circuit, .. }, id::RELAY_CIRCUIT_ID) => circuit.as_ref(),
                    (Extra::Relay { remote, .. }, id::RELAY_REMOTE_ID) => remote.as_ref(),
                    (Extra::Relay { codes, .. }, id::RELAY_SUBOPTION_CODES) => Some(codes),
                    _ => None,
                };
                v.map(Cow::Borrowed)
            }
            id::OP => self.u8_at(field::OP),
            id::HTYPE => self.u8_at(field::HTYPE),
            id::HLEN => self.u8_at(field::HLEN),
            id::HOPS => self.u8_at(field::HOPS),
            id::XID => self.be_at(field::XID),
            id::SECS => self.be_at(field::SECS),
            id::FLAGS => self.be_at(field::FLAGS),
            id::FLAGS_BROADCAST => self
                .flags()
                .map(|x| Cow::Owned(Value::Bool(x & FLAG_BROADCAST != 0))),
            id::CIADDR => self.ipv4_at(field::CIADDR),
            id::YIADDR => self.ipv4_at(field::YIADDR),
            id::SIADDR => self.ipv4_at(field::SIADDR),
            id::GIADDR => self.ipv4_at(field::GIADDR),
            id::CHADDR => {
                let hlen = usize::from(*self.payload.get(field::HLEN)?).min(16);
                let s = field::CHADDR.start;
                self.bytes_at(s..s + hlen, &l.chaddr)
            }
            id::CHADDR_RAW => self.bytes_at(field::CHADDR, &l.chaddr_raw),
            id::SNAME => self.str_at(field::SNAME, &l.sname),
            id::FILE => self.str_at(field::FILE, &l.file),
            id::SNAME_RAW => self.bytes_at(field::SNAME, &l.sname_raw),
            id::FILE_RAW => self.bytes_at(field::FILE, &l.file_raw),
            id::COOKIE => self.bytes_at(field::COOKIE, &l.cookie),
            id::SIZE => Some(Cow::Owned(Value::Int(self.payload.len() as i64))),
            id::OPTION_CODES => cached(&l.option_codes, || {
                codes_value(self.insts[..self.n_main].iter().map(|i| i.code))
            }),
            id::FILE_OPTION_CODES => cached(&l.file_codes, || {
                codes_value(self.area_codes(Area::File).into_iter())
            }),
            id::SNAME_OPTION_CODES => cached(&l.sname_codes, || {
                codes_value(self.area_codes(Area::Sname).into_iter())
            }),
            id::END_PRESENT | id::END => Some(Cow::Owned(Value::Bool(self.end_present))),
            id::AFTER_END => cached(&l.after_end, || {
                Value::Bytes(self.payload[self.after_end.clone()].to_vec())
            }),
            id::AFTER_END_ALL_PAD => {
                let all = self.payload[self.after_end.clone()].iter().all(|&b| b == 0);
                Some(Cow::Owned(Value::Bool(all)))
            }
            id::MALFORMED => l
                .malformed
                .get_or_init(|| self.malformation().map(|m| Value::Str(m.to_string())))
                .as_ref()
                .map(Cow::Borrowed),
            id::DUPLICATE_CODES => cached(&l.duplicate_codes, || {
                let dups = self.slots.iter().filter(|s| s.count > 1);
                codes_value(dups.map(|s| self.insts[s.first as usize].code))
            }),
            id::RAW_OPTIONS => None,
            other => self.meta_get(other).map(Cow::Owned),
        }
    }

    fn summary(&self) -> String {
        let p = &self.payload;
        let op = p.first().copied();
        let mut s = match (self.message_type(), op) {
            (Some(t), _) => match catalogue::message_type_name(t) {
                Some(n) => format!("DHCP{n}"),
                None => format!("DHCP(type {t})"),
            },
            (None, Some(1)) => "BOOTREQUEST".to_string(),
            (None, Some(2)) => "BOOTREPLY".to_string(),
            (None, Some(x)) => format!("BOOTP(op {x})"),
            (None, None) => "empty".to_string(),
        };
        if let Some(b) = p.get(field::XID) {
            s.push_str(&format!(
                " xid=0x{:02x}{:02x}{:02x}{:02x}",
                b[0], b[1], b[2], b[3]
            ));
        }
        if let Some(b) = p.get(field::YIADDR) {
            let y = Ipv4Addr::new(b[0], b[1], b[2], b[3]);
            if op == Some(2) || !y.is_unspecified() {
                s.push_str(&format!(" yiaddr={y}"));
            }
        }
        if p.len() >= MIN_LEN {
            let list = |codes: &[u8]| {
                codes
                    .iter()
                    .map(|c| c.to_string())
                    .collect::<Vec<_>>()
                    .join(",")
            };
            let main: Vec<u8> = self.insts[..self.n_main].iter().map(|i| i.code).collect();
            s.push_str(&format!(" [{}]", list(&main)));
            for area in [Area::File, Area::Sname] {
                let c = self.area_codes(area);
                if !c.is_empty() {
                    s.push_str(&format!(" {}[{}]", area.name(), list(&c)));
                }
            }
            if !self.end_present {
                s.push_str(" no-END");
            }
        }
        if let Some(m) = self.malformation() {
            s.push_str(&format!(" malformed: {m}"));
        }
        s
    }

    fn datagram(&self) -> Option<Datagram> {
        Some(Datagram {
            payload: self.payload.clone(),
            meta: self.meta.clone(),
        })
    }

    fn to_json(&self) -> serde_json::Value {
        let mut o = serde_json::Map::new();
        let p = &self.payload;
        o.insert("size".into(), json!(p.len()));
        if p.len() >= HEADER_LEN {
            let pk = self.packet();
            o.insert("op".into(), json!(pk.op()));
            o.insert("htype".into(), json!(pk.htype()));
            o.insert("hlen".into(), json!(pk.hlen()));
            o.insert("hops".into(), json!(pk.hops()));
            o.insert("xid".into(), json!(format!("0x{:08x}", pk.xid())));
            o.insert("secs".into(), json!(pk.secs()));
            o.insert("flags".into(), json!(pk.flags()));
            o.insert("broadcast".into(), json!(pk.flags() & FLAG_BROADCAST != 0));
            o.insert("ciaddr".into(), json!(pk.ciaddr().to_string()));
            o.insert("yiaddr".into(), json!(pk.yiaddr().to_string()));
            o.insert("siaddr".into(), json!(pk.siaddr().to_string()));
            o.insert("giaddr".into(), json!(pk.giaddr().to_string()));
            o.insert("chaddr".into(), json!(hex(pk.chaddr())));
            o.insert("sname".into(), json!(c_string(pk.sname())));
            o.insert("file".into(), json!(c_string(pk.file())));
        } else {
            o.insert("header_hex".into(), json!(hex(p)));
        }
        if let Some(c) = p.get(field::COOKIE) {
            o.insert("cookie".into(), json!(hex(c)));
        }
        let mut seen = [false; 256];
        let opts: Vec<serde_json::Value> = self
            .insts
            .iter()
            .map(|inst| {
                let mut e = serde_json::Map::new();
                e.insert("code".into(), json!(inst.code));
                if let Some(n) = catalogue::name_of(inst.code) {
                    e.insert("name".into(), json!(n));
                }
                e.insert("area".into(), json!(inst.area.name()));
                e.insert("offset".into(), json!(inst.offset));
                e.insert("len".into(), json!(inst.len));
                e.insert("data".into(), json!(hex(self.data(inst))));
                // The typed value belongs to the aggregate, so it is shown once, on the first
                // instance; later instances of a split option are marked as continuations.
                let first = !std::mem::replace(&mut seen[usize::from(inst.code)], true);
                if first {
                    if let Some(s) = self.slot(inst.code.into()) {
                        let ty = kind_type(catalogue::kind_of(inst.code));
                        e.insert("value".into(), value_json(&ty, self.typed(inst.code, s)));
                        if s.count > 1 {
                            e.insert("instances".into(), json!(s.count));
                        }
                    }
                } else {
                    e.insert("continuation".into(), json!(true));
                }
                serde_json::Value::Object(e)
            })
            .collect();
        o.insert("options".into(), serde_json::Value::Array(opts));
        o.insert("end_present".into(), json!(self.end_present));
        o.insert("after_end".into(), json!(hex(&p[self.after_end.clone()])));
        let dups: Vec<u8> = self
            .slots
            .iter()
            .filter(|s| s.count > 1)
            .map(|s| self.insts[s.first as usize].code)
            .collect();
        o.insert("duplicate_codes".into(), json!(dups));
        if let Some(m) = self.malformation() {
            o.insert("malformed".into(), json!(m.to_string()));
        }
        if let Ok(meta) = serde_json::to_value(&self.meta) {
            o.insert("meta".into(), meta);
        }
        serde_json::Value::Object(o)
    }
}

/// JSON for a typed value: enum names where known, addresses as strings, bytes as hex.
fn value_json(ty: &FieldType, v: &Value) -> serde_json::Value {
    match (ty, v) {
        (FieldType::Enum { names, .. }, Value::Int(i)) => {
            match names.iter().find(|(_, x)| x == i) {
                Some((n, _)) => json!(n),
                None => json!(i),
            }
        }
        (_, Value::Bool(b)) => json!(b),
        (_, Value::Int(i)) => json!(i),
        (_, Value::Str(s)) => json!(s),
        (_, Value::Bytes(b)) => json!(hex(b)),
        (_, Value::Ipv4(a)) => json!(a.to_string()),
        (_, Value::Ipv6(a)) => json!(a.to_string()),
        (_, Value::Mac(_)) => json!(v.to_string()),
        (t, Value::List(items)) => {
            let et = t.element().cloned().unwrap_or(FieldType::Bytes);
            serde_json::Value::Array(items.iter().map(|x| value_json(&et, x)).collect())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dhcp::Dhcp;
    use crate::protocol::Protocol;
    use proptest::prelude::*;

    /// The options of a dnsmasq-shaped OFFER: 15 options (109 bytes with END).
    #[rustfmt::skip]
    static OFFER_OPTIONS: &[u8] = &[
        53, 1, 2,
        54, 4, 192, 0, 2, 1,
        51, 4, 0, 0, 0x0e, 0x10,
        58, 4, 0, 0, 0x07, 0x08,
        59, 4, 0, 0, 0x0c, 0x4e,
        1, 4, 255, 255, 255, 0,
        28, 4, 192, 0, 2, 255,
        3, 4, 192, 0, 2, 1,
        6, 8, 192, 0, 2, 1, 192, 0, 2, 2,
        15, 11, b'e', b'x', b'a', b'm', b'p', b'l', b'e', b'.', b'c', b'o', b'm',
        12, 5, b'h', b'o', b's', b't', b'1',
        42, 4, 192, 0, 2, 123,
        26, 2, 0x05, 0xdc,
        61, 7, 1, 2, 0, 0, 0, 0, 1,
        82, 12, 1, 4, b'e', b't', b'h', b'0', 2, 4, 0xde, 0xad, 0xbe, 0xef,
        255,
    ];

    /// Header and cookie of a reply: op 2, xid 0x1a2b3c4d, B=1, yiaddr .100, siaddr .1.
    fn header(op: u8) -> Vec<u8> {
        let mut h = vec![0u8; MIN_LEN];
        h[..4].copy_from_slice(&[op, 1, 6, 0]);
        h[4..8].copy_from_slice(&[0x1a, 0x2b, 0x3c, 0x4d]);
        h[10] = 0x80;
        h[16..20].copy_from_slice(&[192, 0, 2, 100]);
        h[20..24].copy_from_slice(&[192, 0, 2, 1]);
        h[28..34].copy_from_slice(&[2, 0, 0, 0, 0, 1]);
        h[236..240].copy_from_slice(&crate::dhcp::raw::MAGIC_COOKIE);
        h
    }

    /// The OFFER: header, options, END and eleven PAD bytes (360 bytes).
    fn offer() -> Vec<u8> {
        let mut b = header(2);
        b.extend_from_slice(OFFER_OPTIONS);
        b.extend_from_slice(&[0; 11]);
        assert_eq!(b.len(), 360);
        b
    }

    fn view(payload: Vec<u8>) -> DhcpView {
        let meta = Meta {
            ip_src: Some("192.0.2.1".parse().unwrap()),
            ip_dst: Some("255.255.255.255".parse().unwrap()),
            src_port: Some(67),
            dst_port: Some(68),
            eth_dst: Some([0xff; 6]),
            udp_checksum_ok: Some(true),
            ip_len: Some(328),
            ..Meta::default()
        };
        DhcpView::new(&Datagram { payload, meta })
    }

    fn get(v: &DhcpView, path: &str) -> Option<Value> {
        let f = Dhcp
            .resolve(path)
            .unwrap_or_else(|| panic!("{path} does not resolve"));
        v.get(&f).map(Cow::into_owned)
    }

    fn ip(s: &str) -> Value {
        Value::Ipv4(s.parse().unwrap())
    }

    fn ints(v: &[i64]) -> Value {
        Value::List(v.iter().map(|&i| Value::Int(i)).collect())
    }

    #[test]
    fn parses_offer_fixture() {
        let v = view(offer());
        assert_eq!(get(&v, "op"), Some(Value::Int(2)));
        assert_eq!(get(&v, "xid"), Some(Value::Int(0x1a2b3c4d)));
        assert_eq!(get(&v, "flags"), Some(Value::Int(0x8000)));
        assert_eq!(get(&v, "flags.broadcast"), Some(Value::Bool(true)));
        assert_eq!(get(&v, "yiaddr"), Some(ip("192.0.2.100")));
        assert_eq!(get(&v, "ciaddr"), Some(ip("0.0.0.0")));
        assert_eq!(
            get(&v, "chaddr"),
            Some(Value::Bytes(vec![2, 0, 0, 0, 0, 1]))
        );
        assert_eq!(get(&v, "chaddr_raw").unwrap().length(), Some(16));
        assert_eq!(get(&v, "sname"), Some(Value::Str(String::new())));
        assert_eq!(
            get(&v, "cookie"),
            Some(Value::Bytes(vec![0x63, 0x82, 0x53, 0x63]))
        );
        assert_eq!(get(&v, "size"), Some(Value::Int(360)));

        assert_eq!(get(&v, "options.message_type"), Some(Value::Int(2)));
        assert_eq!(get(&v, "options.server_id"), Some(ip("192.0.2.1")));
        assert_eq!(get(&v, "options.lease_time"), Some(Value::Int(3600)));
        assert_eq!(get(&v, "options.renewal_time"), Some(Value::Int(1800)));
        assert_eq!(get(&v, "options.rebinding_time"), Some(Value::Int(3150)));
        assert_eq!(get(&v, "options.subnet_mask"), Some(ip("255.255.255.0")));
        assert_eq!(
            get(&v, "options.routers"),
            Some(Value::List(vec![ip("192.0.2.1")]))
        );
        assert_eq!(
            get(&v, "options.dns_servers"),
            Some(Value::List(vec![ip("192.0.2.1"), ip("192.0.2.2")]))
        );
        assert_eq!(
            get(&v, "options.domain_name"),
            Some(Value::Str("example.com".into()))
        );
        assert_eq!(
            get(&v, "options.hostname"),
            Some(Value::Str("host1".into()))
        );
        assert_eq!(get(&v, "options.interface_mtu"), Some(Value::Int(1500)));
        assert_eq!(
            get(&v, "options.client_id"),
            Some(Value::Bytes(vec![1, 2, 0, 0, 0, 0, 1]))
        );
        assert_eq!(get(&v, "options.client_id.type"), Some(Value::Int(1)));
        assert_eq!(
            get(&v, "options.61.data"),
            Some(Value::Bytes(vec![2, 0, 0, 0, 0, 1]))
        );
        assert_eq!(
            get(&v, "options.82.circuit_id"),
            Some(Value::Bytes(b"eth0".to_vec()))
        );
        assert_eq!(
            get(&v, "options.82.remote_id"),
            Some(Value::Bytes(vec![0xde, 0xad, 0xbe, 0xef]))
        );
        assert_eq!(get(&v, "options.82.suboption_codes"), Some(ints(&[1, 2])));
        assert_eq!(get(&v, "options.6.len"), Some(Value::Int(8)));
        assert_eq!(get(&v, "options.6.count"), Some(Value::Int(1)));
        assert_eq!(
            get(&v, "options.lease_time.raw"),
            Some(Value::Bytes(vec![0, 0, 0x0e, 0x10]))
        );

        assert_eq!(get(&v, "options.requested_ip"), None);
        assert_eq!(get(&v, "options.requested_ip.len"), None);
        assert_eq!(get(&v, "options.50.count"), Some(Value::Int(0)));
        assert_eq!(get(&v, "options.200"), None);

        assert_eq!(
            get(&v, "option_codes"),
            Some(ints(&[
                53, 54, 51, 58, 59, 1, 28, 3, 6, 15, 12, 42, 26, 61, 82
            ]))
        );
        assert_eq!(get(&v, "end_present"), Some(Value::Bool(true)));
        assert_eq!(get(&v, "after_end"), Some(Value::Bytes(vec![0; 11])));
        assert_eq!(get(&v, "after_end_all_pad"), Some(Value::Bool(true)));
        assert_eq!(get(&v, "malformed"), None);
        assert_eq!(get(&v, "duplicate_codes"), Some(ints(&[])));

        assert_eq!(get(&v, "ip.src"), Some(ip("192.0.2.1")));
        assert_eq!(get(&v, "udp.src"), Some(Value::Int(67)));
        assert_eq!(get(&v, "udp.checksum_ok"), Some(Value::Bool(true)));
        assert_eq!(get(&v, "eth.dst"), Some(Value::Mac([0xff; 6])));
        assert_eq!(get(&v, "eth.src"), None, "unknown in meta");
        assert_eq!(get(&v, "ip.len"), Some(Value::Int(328)));

        assert_eq!(
            v.summary(),
            "DHCPOFFER xid=0x1a2b3c4d yiaddr=192.0.2.100 [53,54,51,58,59,1,28,3,6,15,12,42,26,61,82]"
        );
        let j = v.to_json();
        assert_eq!(j["options"].as_array().unwrap().len(), 15);
        assert_eq!(j["options"][0]["name"], "message_type");
        assert_eq!(j["options"][0]["value"], "OFFER");
        assert_eq!(j["options"][8]["value"], json!(["192.0.2.1", "192.0.2.2"]));
        assert_eq!(j["options"][13]["data"], "01020000000001");
        assert_eq!(j["xid"], "0x1a2b3c4d");
        assert_eq!(j["end_present"], true);
        assert!(j.get("malformed").is_none());
    }

    #[test]
    fn borrowed_values_for_stored_fields() {
        let v = view(offer());
        let f = Dhcp.resolve("options.dns_servers").unwrap();
        assert!(matches!(v.get(&f), Some(Cow::Borrowed(_))));
        let f = Dhcp.resolve("option_codes").unwrap();
        assert!(matches!(v.get(&f), Some(Cow::Borrowed(_))));
    }

    #[test]
    fn rfc3396_aggregation_adjacent_and_not() {
        let mut b = header(1);
        b.extend_from_slice(&[61, 3, 1, 2, 0, 61, 5, 0, 0, 0, 0, 1, 53, 1, 1]);
        b.extend_from_slice(&[
            6, 4, 10, 0, 0, 1, 12, 1, b'a', 6, 4, 10, 0, 0, 2, 12, 1, b'b', 255,
        ]);
        let v = view(b);
        assert_eq!(
            get(&v, "options.61"),
            Some(Value::Bytes(vec![1, 2, 0, 0, 0, 0, 0, 1]))
        );
        assert_eq!(
            get(&v, "options.61.len"),
            Some(Value::Int(3)),
            "first instance"
        );
        assert_eq!(get(&v, "options.61.count"), Some(Value::Int(2)));
        assert_eq!(get(&v, "options.61.type"), Some(Value::Int(1)));
        assert_eq!(
            get(&v, "options.6"),
            Some(Value::List(vec![ip("10.0.0.1"), ip("10.0.0.2")]))
        );
        assert_eq!(get(&v, "options.hostname"), Some(Value::Str("ab".into())));
        assert_eq!(get(&v, "duplicate_codes"), Some(ints(&[61, 6, 12])));
        assert_eq!(
            get(&v, "option_codes"),
            Some(ints(&[61, 61, 53, 6, 12, 6, 12]))
        );
        assert_eq!(v.aggregate(12).as_deref(), Some(&b"ab"[..]));
        let j = v.to_json();
        assert_eq!(j["options"][0]["instances"], 2);
        assert_eq!(j["options"][1]["continuation"], true);
    }

    #[test]
    fn overload_into_file_and_sname() {
        let mut b = header(1);
        // sname (offset 44): 61 in sname; file (offset 108): hostname and a second 61 piece.
        b[44..50].copy_from_slice(&[61, 2, 3, 4, 255, 0]);
        b[108..118].copy_from_slice(&[12, 4, b'h', b'o', b's', b't', 61, 1, 9, 255]);
        b.extend_from_slice(&[53, 1, 1, 52, 1, 3, 61, 1, 1, 255]);
        let v = view(b);
        assert_eq!(get(&v, "options.overload"), Some(Value::Int(3)));
        assert_eq!(get(&v, "options.hostname"), Some(Value::Str("host".into())));
        // Aggregation order is options, file, sname.
        assert_eq!(get(&v, "options.61"), Some(Value::Bytes(vec![1, 9, 3, 4])));
        assert_eq!(get(&v, "options.61.count"), Some(Value::Int(3)));
        assert_eq!(get(&v, "option_codes"), Some(ints(&[53, 52, 61])));
        assert_eq!(get(&v, "file_option_codes"), Some(ints(&[12, 61])));
        assert_eq!(get(&v, "sname_option_codes"), Some(ints(&[61])));
        assert!(
            v.summary().ends_with("[53,52,61] file[12,61] sname[61]"),
            "{}",
            v.summary()
        );

        // Without option 52 the same sname/file bytes are names, not options.
        let mut b2 = v.payload().to_vec();
        b2[243..246].copy_from_slice(&[0, 0, 0]);
        let v2 = view(b2);
        assert_eq!(get(&v2, "options.hostname"), None);
        assert_eq!(get(&v2, "file_option_codes"), Some(ints(&[])));
    }

    #[test]
    fn missing_end_and_junk_after_end() {
        let mut b = header(2);
        b.extend_from_slice(&[53, 1, 2, 54, 4, 192, 0, 2, 1]);
        let v = view(b.clone());
        assert_eq!(get(&v, "end_present"), Some(Value::Bool(false)));
        assert_eq!(get(&v, "after_end"), Some(Value::Bytes(vec![])));
        assert_eq!(
            get(&v, "malformed"),
            None,
            "a missing END is not a parse failure"
        );
        assert!(v.summary().ends_with(" no-END"));

        b.extend_from_slice(&[255, 53, 1, 3, 0]);
        let v = view(b);
        assert_eq!(get(&v, "end_present"), Some(Value::Bool(true)));
        assert_eq!(get(&v, "after_end"), Some(Value::Bytes(vec![53, 1, 3, 0])));
        assert_eq!(get(&v, "after_end_all_pad"), Some(Value::Bool(false)));
        assert_eq!(
            get(&v, "options.53"),
            Some(Value::Int(2)),
            "options after END are ignored"
        );
        assert_eq!(get(&v, "options.53.count"), Some(Value::Int(1)));
    }

    #[test]
    fn truncated_message_keeps_existing_header_fields() {
        let v = view(offer()[..20].to_vec());
        assert_eq!(get(&v, "xid"), Some(Value::Int(0x1a2b3c4d)));
        assert_eq!(get(&v, "yiaddr"), Some(ip("192.0.2.100")));
        assert_eq!(get(&v, "siaddr"), None);
        assert_eq!(get(&v, "chaddr"), None);
        assert_eq!(get(&v, "cookie"), None);
        assert_eq!(get(&v, "options.53"), None);
        assert_eq!(get(&v, "option_codes"), Some(ints(&[])));
        assert_eq!(get(&v, "size"), Some(Value::Int(20)));
        assert_eq!(
            get(&v, "malformed"),
            Some(Value::Str(
                "message is 20 bytes, shorter than the 236-byte header".into()
            ))
        );
        assert_eq!(v.summary(), "BOOTREPLY xid=0x1a2b3c4d yiaddr=192.0.2.100 malformed: message is 20 bytes, shorter than the 236-byte header");
        assert_eq!(
            view(vec![]).summary(),
            "empty malformed: message is 0 bytes, shorter than the 236-byte header"
        );
    }

    #[test]
    fn wrong_length_options_read_as_bytes() {
        let mut b = header(2);
        b.extend_from_slice(&[
            53, 2, 2, 0, 51, 2, 0x0e, 0x10, 3, 6, 10, 0, 0, 1, 0, 0, 12, 0, 54, 4,
        ]);
        b.extend_from_slice(&[192, 0]);
        let v = view(b);
        assert_eq!(
            get(&v, "options.lease_time"),
            Some(Value::Bytes(vec![0x0e, 0x10]))
        );
        assert_eq!(
            get(&v, "options.message_type"),
            Some(Value::Bytes(vec![2, 0]))
        );
        assert_eq!(
            get(&v, "options.routers"),
            Some(Value::Bytes(vec![10, 0, 0, 1, 0, 0]))
        );
        assert_eq!(get(&v, "options.hostname"), Some(Value::Bytes(vec![])));
        // Option 54 overruns the packet: present, claimed length 4, two bytes of data.
        assert_eq!(
            get(&v, "options.server_id"),
            Some(Value::Bytes(vec![192, 0]))
        );
        assert_eq!(get(&v, "options.server_id.len"), Some(Value::Int(4)));
        assert_eq!(
            get(&v, "malformed"),
            Some(Value::Str(
                "option 54 at offset 258 claims 4 bytes but 2 remain".into()
            ))
        );
        assert!(
            v.summary().starts_with("BOOTREPLY "),
            "53 with length 2 is not a type"
        );
    }

    #[test]
    fn non_utf8_text_reads_as_bytes_and_nul_stays_visible() {
        let mut b = header(2);
        b.extend_from_slice(&[12, 2, 0xff, 0xfe, 15, 4, b'a', b'.', b'b', 0, 255]);
        let v = view(b);
        assert_eq!(
            get(&v, "options.hostname"),
            Some(Value::Bytes(vec![0xff, 0xfe]))
        );
        assert_eq!(
            get(&v, "options.domain_name"),
            Some(Value::Str("a.b\0".into()))
        );
    }

    #[test]
    fn relay_suboptions_in_wire_order_and_truncated() {
        let mut b = header(2);
        b.extend_from_slice(&[82, 11, 2, 1, 7, 151, 0, 1, 2, b'x', b'y', 5, 9, 255]);
        let v = view(b);
        assert_eq!(
            get(&v, "options.82.suboption_codes"),
            Some(ints(&[2, 151, 1]))
        );
        assert_eq!(
            get(&v, "options.82.circuit_id"),
            Some(Value::Bytes(b"xy".to_vec()))
        );
        assert_eq!(get(&v, "options.82.remote_id"), Some(Value::Bytes(vec![7])));
    }

    proptest! {
        #[test]
        fn any_bytes_decode_and_every_field_reads(
            b in prop::collection::vec(any::<u8>(), 0..400),
            codes in prop::collection::vec(1u8..255, 0..4),
        ) {
            let v = view(b.clone());
            let mut paths = Dhcp.paths();
            for c in codes {
                for s in ["", ".raw", ".len", ".count"] {
                    paths.push(format!("options.{c}{s}"));
                }
            }
            for p in &paths {
                let _ = get(&v, p);
            }
            let _ = (v.summary(), v.to_json());
            let r = crate::dhcp::raw::Repr::parse(&b);
            // The view and the raw layer agree on the options field.
            let main: Vec<i64> = r
                .options
                .entries
                .iter()
                .filter_map(|e| match e {
                    crate::dhcp::raw::Entry::Option(o) => Some(i64::from(o.code)),
                    crate::dhcp::raw::Entry::Truncated { code, .. } => Some(i64::from(*code)),
                    _ => None,
                })
                .collect();
            if b.len() >= MIN_LEN {
                prop_assert_eq!(get(&v, "option_codes"), Some(ints(&main)));
                prop_assert_eq!(get(&v, "end_present"), Some(Value::Bool(r.options.end)));
            }
        }

        #[test]
        fn view_and_raw_layer_agree_on_aggregates(
            sname in prop::collection::vec(any::<u8>(), 64),
            file in prop::collection::vec(any::<u8>(), 128),
            ov in 0u8..5,
            opts in prop::collection::vec(any::<u8>(), 0..120),
        ) {
            let mut b = header(1);
            b[44..108].copy_from_slice(&sname);
            b[108..236].copy_from_slice(&file);
            b.extend_from_slice(&[52, 1, ov]);
            b.extend_from_slice(&opts);
            let v = view(b.clone());
            let r = crate::dhcp::raw::Repr::parse(&b);
            for code in 1..=254u8 {
                prop_assert_eq!(v.aggregate(code).map(|c| c.into_owned()), r.aggregate(code));
            }
            prop_assert_eq!(v.malformation(), first_malformation(&b));
        }

        #[test]
        fn any_options_after_a_real_header_decode(
            opts in prop::collection::vec(any::<u8>(), 0..300),
        ) {
            let mut b = header(2);
            b.extend_from_slice(&opts);
            let v = view(b);
            for p in Dhcp.paths() {
                let _ = get(&v, &p);
            }
            let _ = (v.summary(), v.to_json());
        }
    }
}
