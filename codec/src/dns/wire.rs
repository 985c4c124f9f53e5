//! The lenient DNS reader: a raw view of any byte string a server may send.
//!
//! Unlike hickory-proto's decoder (dns-requirements.md §4.4), this reader never rejects a
//! message as a whole. It keeps what a strict decoder drops or rewrites: the header Z bit,
//! section counts that disagree with the data, several OPT records and OPT records outside the
//! additional section, OPT payload values below 512, owner names of OPT records, zero-length
//! and unparseable RDATA, compression pointers that loop or point forward, and bytes after the
//! last record. Every problem is recorded as a [`Malformation`] with its offset; parsing goes on
//! wherever the structure still tells where the next item starts.
//!
//! Invariant: [`Message::parse`] is total. No input panics, allocation is bounded by the input
//! length, and name decompression follows at most [`MAX_POINTER_HOPS`] pointers.

use std::fmt::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::ops::Range;

/// Byte ranges of the fixed header (RFC 1035 §4.1.1).
pub mod field {
    use std::ops::Range;
    pub const ID: Range<usize> = 0..2;
    pub const FLAGS: Range<usize> = 2..4;
    pub const QDCOUNT: Range<usize> = 4..6;
    pub const ANCOUNT: Range<usize> = 6..8;
    pub const NSCOUNT: Range<usize> = 8..10;
    pub const ARCOUNT: Range<usize> = 10..12;
}

/// Length of the fixed header.
pub const HEADER_LEN: usize = 12;
/// Most compression pointers followed while reading one name.
pub const MAX_POINTER_HOPS: usize = 64;
/// RFC 1035 §3.1: names are at most 255 octets on the wire.
pub const MAX_NAME_LEN: usize = 255;

/// Header flag bits (the 16-bit word at offset 2).
pub mod flag {
    pub const QR: u16 = 0x8000;
    pub const AA: u16 = 0x0400;
    pub const TC: u16 = 0x0200;
    pub const RD: u16 = 0x0100;
    pub const RA: u16 = 0x0080;
    /// The reserved bit (RFC 1035 "Z", bit 9; 0x40 in byte 3).
    pub const Z: u16 = 0x0040;
    pub const AD: u16 = 0x0020;
    pub const CD: u16 = 0x0010;
    pub const OPCODE_SHIFT: u16 = 11;
    pub const OPCODE_MASK: u16 = 0x7800;
    pub const RCODE_MASK: u16 = 0x000f;
}

/// The record type of OPT (RFC 6891).
pub const TYPE_OPT: u16 = 41;
/// EDNS DO flag in the OPT TTL's low 16 bits (RFC 3225).
pub const EDNS_DO: u16 = 0x8000;

/// Where an item is: the question section or one of the three record sections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Section {
    Question = 0,
    Answer = 1,
    Authority = 2,
    Additional = 3,
}

impl Section {
    pub const RECORDS: [Section; 3] = [Section::Answer, Section::Authority, Section::Additional];

    pub fn name(self) -> &'static str {
        match self {
            Section::Question => "question",
            Section::Answer => "answer",
            Section::Authority => "authority",
            Section::Additional => "additional",
        }
    }

    pub fn from_index(i: u32) -> Option<Section> {
        Some(match i {
            0 => Section::Question,
            1 => Section::Answer,
            2 => Section::Authority,
            3 => Section::Additional,
            _ => return None,
        })
    }
}

/// The fixed header, as raw numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Header {
    pub id: u16,
    pub flags: u16,
    pub qdcount: u16,
    pub ancount: u16,
    pub nscount: u16,
    pub arcount: u16,
}

impl Header {
    pub fn opcode(&self) -> u8 {
        ((self.flags & flag::OPCODE_MASK) >> flag::OPCODE_SHIFT) as u8
    }
    pub fn rcode(&self) -> u8 {
        (self.flags & flag::RCODE_MASK) as u8
    }
    pub fn bit(&self, mask: u16) -> bool {
        self.flags & mask != 0
    }
    pub fn count(&self, s: Section) -> u16 {
        match s {
            Section::Question => self.qdcount,
            Section::Answer => self.ancount,
            Section::Authority => self.nscount,
            Section::Additional => self.arcount,
        }
    }
}

/// A problem found while reading, with the offset where it was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformation {
    pub offset: usize,
    pub what: String,
}

impl std::fmt::Display for Malformation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (offset {})", self.what, self.offset)
    }
}

/// A domain name as read from the wire: where it is and whether it reads; its text is built
/// on request ([`WireName::text`]), since a verdict rarely needs every name of a message and
/// building them was the largest part of decoding an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireName {
    /// Offset of the name's first byte in the message.
    pub start: usize,
    /// Offset just after the name's in-place bytes (where the next field starts); `None` when
    /// the name runs past the end of the message.
    pub end: Option<usize>,
    /// Whether a compression pointer was followed.
    pub compressed: bool,
    /// Why the name could not be read completely.
    pub error: Option<String>,
}

impl WireName {
    /// Presentation form: labels joined by `.`, a final `.`, `.` alone for the root. Bytes
    /// outside printable ASCII and `.`/`\` inside labels are escaped (`\DDD`, `\.`). The case
    /// is kept as sent. On a read error the labels read so far are kept. `msg` must be the
    /// message the name was read from.
    pub fn text(&self, msg: &[u8]) -> String {
        name_text(msg, self.start)
    }
}

/// Reads a (possibly compressed) name at `start` without building its text. Never panics.
pub fn read_name(msg: &[u8], start: usize) -> WireName {
    scan_name(msg, start, None)
}

/// The presentation form of the name at `start` (see [`WireName::text`]). Never panics.
pub fn name_text(msg: &[u8], start: usize) -> String {
    // Room for a typical name at once instead of growing 8, 16, 32 bytes.
    let mut text = String::with_capacity(32);
    let n = scan_name(msg, start, Some(&mut text));
    if text.is_empty() && n.error.is_none() {
        text.push('.');
    }
    text
}

/// Whether the presentation form of the name at `start` is `expected`: always
/// `name_text(msg, start) == expected`, but a name of plain labels (printable ASCII without `.`
/// or `\\`) read without a problem is compared in place, without building its text (a
/// template matching an owner name against `$zone`). Anything else is left to `name_text`.
/// Never panics.
pub fn name_equals(msg: &[u8], start: usize, expected: &str) -> bool {
    let want = expected.as_bytes();
    let (mut pos, mut at, mut hops, mut wire_len) = (start, 0usize, 0usize, 0usize);
    while let Some(&len) = msg.get(pos) {
        match len & 0xc0 {
            0x00 if len == 0 => {
                // The root alone is written `.`.
                return if at == 0 {
                    want == b"."
                } else {
                    at == want.len()
                };
            }
            0x00 => {
                wire_len += 1 + usize::from(len);
                let Some(label) = msg.get(pos + 1..pos + 1 + usize::from(len)) else {
                    break;
                };
                if wire_len > MAX_NAME_LEN || !is_plain_label(label) {
                    break;
                }
                let end = at + label.len();
                if want.get(at..end) != Some(label) || want.get(end) != Some(&b'.') {
                    return false;
                }
                at = end + 1;
                pos += 1 + usize::from(len);
            }
            0xc0 => {
                let Some(&lo) = msg.get(pos + 1) else {
                    break;
                };
                let target = usize::from(u16::from_be_bytes([len & 0x3f, lo]));
                hops += 1;
                if target >= pos || hops > MAX_POINTER_HOPS {
                    break;
                }
                pos = target;
            }
            _ => break,
        }
    }
    // A problem or an escaped byte: compare what the reader writes in that case.
    name_text(msg, start) == expected
}

/// Walks the name at `start`, appending its labels to `text` when given.
fn scan_name(msg: &[u8], start: usize, mut text: Option<&mut String>) -> WireName {
    let mut pos = start;
    let mut end: Option<usize> = None;
    let mut hops = 0usize;
    let mut wire_len = 0usize;
    let mut error = None;
    loop {
        let Some(&len) = msg.get(pos) else {
            error = Some("name runs past the end of the message".to_string());
            break;
        };
        match len & 0xc0 {
            0x00 => {
                wire_len += 1 + usize::from(len);
                if len == 0 {
                    if end.is_none() {
                        end = Some(pos + 1);
                    }
                    break;
                }
                let Some(label) = msg.get(pos + 1..pos + 1 + usize::from(len)) else {
                    error = Some("label runs past the end of the message".to_string());
                    break;
                };
                if wire_len > MAX_NAME_LEN {
                    error = Some(format!("name longer than {MAX_NAME_LEN} octets"));
                    // Keep reading to find the end, but stop collecting text.
                }
                if let (None, Some(t)) = (&error, text.as_deref_mut()) {
                    push_label(t, label);
                }
                pos += 1 + usize::from(len);
            }
            0xc0 => {
                let Some(&lo) = msg.get(pos + 1) else {
                    error = Some("compression pointer runs past the end".to_string());
                    break;
                };
                let target = usize::from(u16::from_be_bytes([len & 0x3f, lo]));
                if end.is_none() {
                    end = Some(pos + 2);
                }
                hops += 1;
                if target >= msg.len() {
                    error = Some(format!(
                        "compression pointer to {target} beyond the message"
                    ));
                    break;
                }
                if target >= pos {
                    error = Some(format!(
                        "compression pointer at {pos} to {target} does not point backwards"
                    ));
                    break;
                }
                if hops > MAX_POINTER_HOPS {
                    error = Some("compression pointer loop".to_string());
                    break;
                }
                pos = target;
            }
            other => {
                error = Some(format!(
                    "reserved label type 0x{:02x} (extended label)",
                    other | (len & 0x3f)
                ));
                break;
            }
        }
    }
    WireName {
        start,
        end,
        compressed: hops > 0,
        error,
    }
}

/// Whether a label is written as it is in presentation form: printable ASCII without `.` or
/// `\\`, the bytes that need no escape.
fn is_plain_label(label: &[u8]) -> bool {
    label
        .iter()
        .all(|&b| matches!(b, 0x21..=0x7e) && b != b'.' && b != b'\\')
}

fn push_label(text: &mut String, label: &[u8]) {
    // Almost every label is plain printable ASCII: one copy, not a push per byte.
    if is_plain_label(label) {
        if let Ok(plain) = std::str::from_utf8(label) {
            text.push_str(plain);
            text.push('.');
            return;
        }
    }
    for &b in label {
        match b {
            b'.' | b'\\' => {
                text.push('\\');
                text.push(b as char);
            }
            0x21..=0x7e => text.push(b as char),
            _ => {
                let _ = write!(text, "\\{b:03}");
            }
        }
    }
    text.push('.');
}

/// One entry of the question section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    pub offset: usize,
    pub name: WireName,
    pub qtype: Option<u16>,
    pub qclass: Option<u16>,
}

/// One resource record (OPT included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub section: Section,
    /// Offset of the owner name.
    pub offset: usize,
    /// Offset of the TYPE field (just after the owner's in-place bytes).
    pub fixed: usize,
    pub name: WireName,
    pub rtype: u16,
    pub class: u16,
    pub ttl: u32,
    /// RDLENGTH as sent.
    pub rdlength: u16,
    /// The RDATA bytes, within the message.
    pub rdata: Range<usize>,
    /// How many structural malformations (those [`Message::parse_deferred`] lists) were found
    /// before this record's RDATA: where a problem with its RDATA goes among them when
    /// [`Message::all_malformations`] checks it. It does not index the list of an eager
    /// [`Message::parse`], which has the RDATA problems in it too.
    pub found_before: usize,
}

impl Record {
    /// The whole record's bytes in the message.
    pub fn span(&self) -> Range<usize> {
        self.offset..self.rdata.end
    }
}

/// One EDNS option of an OPT record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EdnsOpt {
    pub code: u16,
    /// The length field as sent.
    pub len: u16,
    /// The data (shorter than `len` when the option overruns the RDATA).
    pub data: Vec<u8>,
}

/// An OPT pseudo-record decoded (RFC 6891 §6.1.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opt {
    /// Index into [`Message::records`].
    pub record: usize,
    pub section: Section,
    pub owner: String,
    /// CLASS: the requestor's UDP payload size, as sent (no clamping).
    pub payload: u16,
    /// The upper 8 bits of the extended RCODE.
    pub ext_rcode: u8,
    pub version: u8,
    /// The 16 flag bits (DO is 0x8000).
    pub flags: u16,
    pub options: Vec<EdnsOpt>,
}

/// A message read leniently.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Message {
    /// `None` when fewer than 12 bytes arrived.
    pub header: Option<Header>,
    pub questions: Vec<Question>,
    /// Records of all three sections, in wire order.
    pub records: Vec<Record>,
    /// Every OPT record, in wire order.
    pub opts: Vec<Opt>,
    /// Every problem found, in wire order; without those in RDATA when `rdata_checked` is
    /// false (a [`Message::parse_deferred`] read: see [`Message::all_malformations`]).
    pub malformations: Vec<Malformation>,
    /// Where reading stopped: the end of the last item of the last counted section, or where a
    /// fatal problem (an item running past the end) was found.
    pub end: usize,
    /// Whether every counted item was read (so `end..len` are trailing bytes).
    pub complete: bool,
    /// The message length.
    pub len: usize,
    /// Whether the RDATA of every record was checked, so `malformations` is the whole list.
    /// [`Message::parse`] checks it; [`Message::parse_deferred`] leaves it to
    /// [`Message::all_malformations`].
    pub rdata_checked: bool,
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    b.get(at..at + 2).map(|x| u16::from_be_bytes([x[0], x[1]]))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..at + 4)
        .map(|x| u32::from_be_bytes([x[0], x[1], x[2], x[3]]))
}

impl Message {
    /// Reads `msg`, the RDATA of every record included. Never fails and never panics.
    pub fn parse(msg: &[u8]) -> Message {
        let mut m = Message::parse_deferred(msg);
        m.malformations = m.all_malformations(msg);
        m.rdata_checked = true;
        m
    }

    /// Reads `msg` as [`Message::parse`] does but leaves the RDATA of records other than OPT
    /// unchecked (a verdict rarely asks, and NSD's SOA answer spends a third of its reading
    /// time there): `malformations` then holds the structural problems only, and
    /// [`Message::all_malformations`] gives the same list `parse` would. Never panics.
    pub fn parse_deferred(msg: &[u8]) -> Message {
        let mut m = Message {
            len: msg.len(),
            ..Message::default()
        };
        let bad = |m: &mut Message, offset: usize, what: String| {
            m.malformations.push(Malformation { offset, what });
        };
        if msg.len() < HEADER_LEN {
            bad(
                &mut m,
                0,
                format!("message of {} bytes is shorter than the header", msg.len()),
            );
            m.end = msg.len();
            return m;
        }
        let h = Header {
            id: be16(msg, 0).unwrap_or(0),
            flags: be16(msg, 2).unwrap_or(0),
            qdcount: be16(msg, 4).unwrap_or(0),
            ancount: be16(msg, 6).unwrap_or(0),
            nscount: be16(msg, 8).unwrap_or(0),
            arcount: be16(msg, 10).unwrap_or(0),
        };
        m.header = Some(h);
        // Room for every counted item up front (bounded: a hostile count cannot reserve more
        // than the message could hold), so a usual answer is read without regrowing.
        m.questions
            .reserve(usize::from(h.qdcount).min(msg.len() / 5));
        let counted = usize::from(h.ancount) + usize::from(h.nscount) + usize::from(h.arcount);
        m.records.reserve(counted.min(msg.len() / 11));
        let mut pos = HEADER_LEN;
        for i in 0..h.qdcount {
            let name = read_name(msg, pos);
            if let Some(e) = &name.error {
                bad(&mut m, pos, format!("question {i} name: {e}"));
            }
            let Some(end) = name.end else {
                m.end = pos;
                return m;
            };
            let (qtype, qclass) = (be16(msg, end), be16(msg, end + 2));
            m.questions.push(Question {
                offset: pos,
                name,
                qtype,
                qclass,
            });
            if qclass.is_none() {
                bad(
                    &mut m,
                    end,
                    format!("question {i} truncated after its name"),
                );
                m.end = msg.len();
                return m;
            }
            pos = end + 4;
        }
        for s in Section::RECORDS {
            for i in 0..h.count(s) {
                let name = read_name(msg, pos);
                if let Some(e) = &name.error {
                    bad(&mut m, pos, format!("{} {i} owner: {e}", s.name()));
                }
                let Some(fixed) = name.end else {
                    m.end = pos;
                    return m;
                };
                let (Some(rtype), Some(class), Some(ttl), Some(rdlength)) = (
                    be16(msg, fixed),
                    be16(msg, fixed + 2),
                    be32(msg, fixed + 4),
                    be16(msg, fixed + 8),
                ) else {
                    bad(
                        &mut m,
                        fixed,
                        format!("{} {i} truncated in its fixed fields", s.name()),
                    );
                    m.end = msg.len();
                    return m;
                };
                let start = fixed + 10;
                let stop = start + usize::from(rdlength);
                if stop > msg.len() {
                    bad(
                        &mut m,
                        start,
                        format!(
                            "{} {i} RDATA of {rdlength} bytes overruns the message",
                            s.name()
                        ),
                    );
                    m.end = msg.len();
                    return m;
                }
                let rec = Record {
                    section: s,
                    offset: pos,
                    fixed,
                    name,
                    rtype,
                    class,
                    ttl,
                    rdlength,
                    rdata: start..stop,
                    found_before: m.malformations.len(),
                };
                if rtype == TYPE_OPT {
                    let opt = read_opt(msg, &rec, m.records.len(), &mut m.malformations);
                    m.opts.push(opt);
                }
                m.records.push(rec);
                pos = stop;
            }
        }
        m.end = pos;
        m.complete = true;
        m
    }

    /// Every malformation in wire order, those in RDATA included: `malformations` when the
    /// RDATA was checked, else that list with each record's RDATA problem put where
    /// [`Message::parse`] finds it.
    pub fn all_malformations(&self, msg: &[u8]) -> Vec<Malformation> {
        if self.rdata_checked {
            return self.malformations.clone();
        }
        let mut out = Vec::with_capacity(self.malformations.len());
        let mut taken = 0;
        let mut index = [0u16; 4];
        for rec in &self.records {
            let i = index[rec.section as usize];
            index[rec.section as usize] += 1;
            if rec.rtype == TYPE_OPT {
                continue;
            }
            if let Err(e) = rdata_as(msg, rec, false) {
                // `found_before` never decreases from one record to the next.
                let upto = rec.found_before.clamp(taken, self.malformations.len());
                out.extend_from_slice(&self.malformations[taken..upto]);
                taken = upto;
                out.push(Malformation {
                    offset: rec.rdata.start,
                    what: format!("{} {i} {e}", rec.section.name()),
                });
            }
        }
        out.extend_from_slice(&self.malformations[taken..]);
        out
    }

    /// Bytes after the last counted record (empty when reading stopped early).
    pub fn trailing<'a>(&self, msg: &'a [u8]) -> &'a [u8] {
        if self.complete {
            msg.get(self.end..).unwrap_or(&[])
        } else {
            &[]
        }
    }

    /// Records of one section, OPT excluded.
    pub fn section(&self, s: Section) -> impl Iterator<Item = &Record> {
        self.records
            .iter()
            .filter(move |r| r.section == s && r.rtype != TYPE_OPT)
    }

    /// The 12-bit extended RCODE: the header RCODE plus the first OPT's upper bits.
    pub fn ext_rcode(&self) -> Option<u16> {
        let h = self.header?;
        let hi = self.opts.first().map_or(0, |o| u16::from(o.ext_rcode));
        Some((hi << 4) | u16::from(h.rcode()))
    }
}

fn read_opt(msg: &[u8], rec: &Record, index: usize, bad: &mut Vec<Malformation>) -> Opt {
    let data = &msg[rec.rdata.clone()];
    let mut options = Vec::new();
    let mut i = 0;
    while i < data.len() {
        let (Some(code), Some(len)) = (be16(data, i), be16(data, i + 2)) else {
            bad.push(Malformation {
                offset: rec.rdata.start + i,
                what: "EDNS option header truncated".into(),
            });
            break;
        };
        let s = i + 4;
        let e = s + usize::from(len);
        let avail = &data[s.min(data.len())..e.min(data.len())];
        options.push(EdnsOpt {
            code,
            len,
            data: avail.to_vec(),
        });
        if e > data.len() {
            bad.push(Malformation {
                offset: rec.rdata.start + i,
                what: format!("EDNS option {code} of length {len} overruns the OPT RDATA"),
            });
            break;
        }
        i = e;
    }
    Opt {
        record: index,
        section: rec.section,
        owner: rec.name.text(msg),
        payload: rec.class,
        ext_rcode: (rec.ttl >> 24) as u8,
        version: (rec.ttl >> 16) as u8,
        flags: rec.ttl as u16,
        options,
    }
}

/// RFC 3597 generic form: `\# <len> <hex>` (`\# 0` for empty RDATA).
pub fn generic_rdata(b: &[u8]) -> String {
    if b.is_empty() {
        "\\# 0".into()
    } else {
        format!("\\# {} {}", b.len(), crate::value::hex(b))
    }
}

/// A name inside RDATA: it must be readable and end within the RDATA. The text is empty
/// unless `collect`.
fn rdata_name(
    msg: &[u8],
    at: usize,
    stop: usize,
    collect: bool,
) -> Result<(String, usize), String> {
    let n = read_name(msg, at);
    match (n.error, n.end) {
        (Some(e), _) => Err(format!("name in RDATA: {e}")),
        (None, Some(end)) if end <= stop => Ok((
            if collect {
                name_text(msg, at)
            } else {
                String::new()
            },
            end,
        )),
        _ => Err("name overruns the RDATA".into()),
    }
}

fn char_strings(b: &[u8]) -> Option<String> {
    let mut out = String::new();
    let mut i = 0;
    while i < b.len() {
        let l = usize::from(b[i]);
        let s = b.get(i + 1..i + 1 + l)?;
        if !out.is_empty() {
            out.push(' ');
        }
        out.push('"');
        for &c in s {
            match c {
                b'"' | b'\\' => {
                    out.push('\\');
                    out.push(c as char);
                }
                0x20..=0x7e => out.push(c as char),
                _ => {
                    let _ = write!(out, "\\{c:03}");
                }
            }
        }
        out.push('"');
        i += 1 + l;
    }
    Some(out)
}

/// RDATA in presentation form for the common types: A/AAAA addresses, NS/CNAME/PTR/DNAME
/// names, `pref name` for MX, the seven SOA fields, quoted TXT strings, `prio weight port
/// target` for SRV; RFC 3597 `\# len hex` for every other type. `Err` says why a known type's
/// RDATA does not parse (the caller then uses the generic form).
pub fn rdata_text(msg: &[u8], r: &Record) -> Result<String, String> {
    rdata_as(msg, r, true)
}

/// [`rdata_text`]; with `text` unset only the check runs and `Ok`'s text is incomplete (the
/// parse checks every record's RDATA, and building the text of each was most of its cost).
fn rdata_as(msg: &[u8], r: &Record, text: bool) -> Result<String, String> {
    let b = &msg[r.rdata.clone()];
    let (start, stop) = (r.rdata.start, r.rdata.end);
    let ty = super::catalogue::type_name(r.rtype).unwrap_or("TYPE");
    let wrong = |what: &str| Err(format!("{ty} RDATA {what} (length {})", b.len()));
    match r.rtype {
        1 => match <[u8; 4]>::try_from(b) {
            Ok(a) if text => Ok(Ipv4Addr::from(a).to_string()),
            Ok(_) => Ok(String::new()),
            Err(_) => wrong("is not 4 bytes"),
        },
        28 => match <[u8; 16]>::try_from(b) {
            Ok(a) if text => Ok(Ipv6Addr::from(a).to_string()),
            Ok(_) => Ok(String::new()),
            Err(_) => wrong("is not 16 bytes"),
        },
        2 | 5 | 12 | 39 => {
            let (n, end) = rdata_name(msg, start, stop, text)?;
            if end != stop {
                return wrong("has bytes after the name");
            }
            Ok(n)
        }
        15 => {
            let Some(pref) = be16(b, 0) else {
                return wrong("is too short");
            };
            let (n, end) = rdata_name(msg, start + 2, stop, text)?;
            if end != stop {
                return wrong("has bytes after the name");
            }
            Ok(format!("{pref} {n}"))
        }
        6 => {
            let (mname, e1) = rdata_name(msg, start, stop, text)?;
            let (rname, e2) = rdata_name(msg, e1, stop, text)?;
            if stop.checked_sub(e2) != Some(20) {
                return wrong("does not end with five 32-bit numbers");
            }
            if !text {
                return Ok(String::new());
            }
            let n: Vec<u32> = (0..5).map(|k| be32(msg, e2 + 4 * k).unwrap_or(0)).collect();
            Ok(format!(
                "{mname} {rname} {} {} {} {} {}",
                n[0], n[1], n[2], n[3], n[4]
            ))
        }
        16 | 99 => match char_strings(b) {
            Some(s) if !b.is_empty() => Ok(s),
            _ => wrong("is not a sequence of character strings"),
        },
        33 => {
            let (Some(p), Some(w), Some(port)) = (be16(b, 0), be16(b, 2), be16(b, 4)) else {
                return wrong("is too short");
            };
            let (n, end) = rdata_name(msg, start + 6, stop, text)?;
            if end != stop {
                return wrong("has bytes after the name");
            }
            Ok(format!("{p} {w} {port} {n}"))
        }
        _ if !text => Ok(String::new()),
        _ => Ok(generic_rdata(b)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `dig +norec SOA example.test` answered by NSD (shape of a real answer, compressed).
    pub(crate) fn soa_answer() -> Vec<u8> {
        let mut m = vec![
            0x12, 0x34, 0x84, 0x00, 0, 1, 0, 1, 0, 0, 0, 1, // header: QR AA, 1/1/0/1
        ];
        m.extend_from_slice(b"\x07example\x04test\x00\x00\x06\x00\x01");
        // answer: owner pointer to 12, SOA IN ttl 300
        m.extend_from_slice(&[0xc0, 0x0c, 0, 6, 0, 1, 0, 0, 1, 0x2c]);
        let mut rd = Vec::new();
        rd.extend_from_slice(b"\x03ns1\xc0\x0c");
        rd.extend_from_slice(b"\x0ahostmaster\xc0\x0c");
        for n in [2026010101u32, 3600, 600, 86400, 300] {
            rd.extend_from_slice(&n.to_be_bytes());
        }
        m.extend_from_slice(&(rd.len() as u16).to_be_bytes());
        m.extend_from_slice(&rd);
        // additional: OPT payload 1232, DO
        m.extend_from_slice(&[0, 0, 41, 0x04, 0xd0, 0, 0, 0x80, 0, 0, 0]);
        m
    }

    #[test]
    fn reads_a_compressed_soa_answer() {
        let b = soa_answer();
        let m = Message::parse(&b);
        assert!(m.malformations.is_empty(), "{:?}", m.malformations);
        assert!(m.complete);
        assert_eq!(m.end, b.len());
        let h = m.header.unwrap();
        assert_eq!(h.id, 0x1234);
        assert!(h.bit(flag::QR) && h.bit(flag::AA) && !h.bit(flag::Z));
        assert_eq!(m.questions[0].name.text(&b), "example.test.");
        let a: Vec<&Record> = m.section(Section::Answer).collect();
        assert_eq!(a.len(), 1);
        assert_eq!(
            rdata_text(&b, a[0]).unwrap(),
            "ns1.example.test. hostmaster.example.test. 2026010101 3600 600 86400 300"
        );
        assert_eq!(m.opts.len(), 1);
        assert_eq!(m.opts[0].payload, 1232);
        assert_eq!(m.opts[0].flags, EDNS_DO);
        assert_eq!(m.section(Section::Additional).count(), 0);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 4000, ..Default::default() })]

        /// Comparing in place always agrees with building the text: on mutated and cut
        /// answers, at every offset, against the name's own text, a changed copy of it and
        /// names that differ only in case, an escape or a final dot.
        #[test]
        fn name_equals_agrees_with_name_text(
            pos in 0usize..90, val in proptest::prelude::any::<u8>(), cut in 0usize..100,
            start in 0usize..100, edit in 0usize..6,
        ) {
            let mut b = soa_answer();
            if pos < b.len() { b[pos] = val; }
            b.truncate(cut.min(b.len()));
            let text = name_text(&b, start);
            let others = [
                text.clone(),
                text.to_uppercase(),
                text.trim_end_matches('.').to_string(),
                format!("{text}."),
                text.replace('e', "\\101"),
                ".".to_string(),
            ];
            let want = &others[edit];
            proptest::prop_assert_eq!(name_equals(&b, start, want), &text == want, "{:?} at {}", want, start);
        }
    }

    /// An answer with records of several kinds around an OPT record in the middle of the
    /// additional section (so OPT problems, RDATA problems and name problems interleave when
    /// its bytes are changed).
    fn mixed_answer() -> Vec<u8> {
        let mut m = vec![0xab, 0xcd, 0x84, 0, 0, 1, 0, 2, 0, 1, 0, 3];
        m.extend_from_slice(b"\x07example\x04test\x00\x00\x0f\x00\x01");
        // answer: MX 10 mail.example.test, A 192.0.2.1
        m.extend_from_slice(&[0xc0, 12, 0, 15, 0, 1, 0, 0, 0, 60, 0, 9, 0, 10]);
        m.extend_from_slice(b"\x04mail\xc0\x0c");
        m.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 1]);
        // authority: NS ns1.example.test
        m.extend_from_slice(&[0xc0, 12, 0, 2, 0, 1, 0, 0, 0, 60, 0, 6]);
        m.extend_from_slice(b"\x03ns1\xc0\x0c");
        // additional: A glue, OPT with one option, AAAA
        m.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 53]);
        m.extend_from_slice(&[0, 0, 41, 4, 0xd0, 0, 0, 0x80, 0, 0, 6, 0, 10, 0, 2, 1, 2]);
        m.extend_from_slice(&[0xc0, 12, 0, 28, 0, 1, 0, 0, 0, 60, 0, 16]);
        m.extend_from_slice(&[0x20, 1, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        m
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 4000, ..Default::default() })]

        /// What an eager read lists is the structural problems (those a deferred read lists,
        /// in order) plus one problem per record whose RDATA does not parse, computed here
        /// record by record, in order; and the whole list is in wire order.
        #[test]
        fn all_malformations_are_the_structural_ones_plus_each_rdata_problem(
            p1 in 0usize..140, v1 in proptest::prelude::any::<u8>(),
            p2 in 0usize..140, v2 in proptest::prelude::any::<u8>(), cut in 0usize..150,
        ) {
            let mut b = mixed_answer();
            if p1 < b.len() { b[p1] = v1; }
            if p2 < b.len() { b[p2] = v2; }
            b.truncate(cut.min(b.len()));
            let all = Message::parse(&b).malformations;
            let deferred = Message::parse_deferred(&b);
            let mut index = [0usize; 4];
            let mut rdata = Vec::new();
            for r in &deferred.records {
                let i = index[r.section as usize];
                index[r.section as usize] += 1;
                if r.rtype == TYPE_OPT {
                    continue;
                }
                if let Err(e) = rdata_as(&b, r, false) {
                    rdata.push(Malformation { offset: r.rdata.start, what: format!("{} {i} {e}", r.section.name()) });
                }
            }
            proptest::prop_assert!(all.windows(2).all(|w| w[0].offset <= w[1].offset), "{:?}", all);
            // Split `all` into the structural list (a subsequence) and the rest.
            let mut structural = deferred.malformations.iter().peekable();
            let mut rest = Vec::new();
            for m in &all {
                if structural.peek() == Some(&m) {
                    structural.next();
                } else {
                    rest.push(m.clone());
                }
            }
            proptest::prop_assert!(structural.next().is_none(), "{:?} not all in {:?}", deferred.malformations, all);
            proptest::prop_assert_eq!(rest, rdata);
        }
    }

    /// A bad RDATA followed by a record cut in its fixed fields, and an OPT whose problem
    /// comes before a later record's bad RDATA: each in wire order.
    #[test]
    fn rdata_problems_before_a_fatal_cut_and_after_an_opt() {
        let mut b = vec![0, 1, 0x84, 0, 0, 0, 0, 2, 0, 0, 0, 0];
        b.extend_from_slice(&[0, 0, 1, 0, 1, 0, 0, 0, 1, 0, 2, 1, 2]); // A with 2 bytes
        b.extend_from_slice(&[0, 0, 1, 0, 1]); // cut after TYPE and CLASS
        let whats: Vec<String> = Message::parse(&b)
            .malformations
            .into_iter()
            .map(|m| m.what)
            .collect();
        assert_eq!(whats.len(), 2, "{whats:?}");
        assert!(whats[0].starts_with("answer 0 A RDATA"), "{whats:?}");
        assert!(
            whats[1].contains("answer 1 truncated in its fixed fields"),
            "{whats:?}"
        );

        let mut b = vec![0, 1, 0x84, 0, 0, 0, 0, 0, 0, 0, 0, 2];
        // OPT whose option overruns, then an A with 5 bytes
        b.extend_from_slice(&[0, 0, 41, 4, 0xd0, 0, 0, 0, 0, 0, 4, 0, 10, 0, 9]);
        b.extend_from_slice(&[0, 0, 1, 0, 1, 0, 0, 0, 1, 0, 5, 1, 2, 3, 4, 5]);
        let m = Message::parse(&b);
        let whats: Vec<&str> = m.malformations.iter().map(|m| m.what.as_str()).collect();
        assert_eq!(whats.len(), 2, "{whats:?}");
        assert!(
            !whats[0].contains("RDATA") || whats[0].contains("option"),
            "{whats:?}"
        );
        assert!(whats[1].starts_with("additional 1 A RDATA"), "{whats:?}");
        assert_eq!(Message::parse_deferred(&b).malformations.len(), 1);
    }

    /// The deferred RDATA check puts each record's RDATA problem where an eager read finds
    /// it: after the problems of earlier records and of this record's owner, before later ones.
    #[test]
    fn deferred_rdata_problems_keep_wire_order() {
        let mut b = vec![0, 1, 0x84, 0, 0, 0, 0, 3, 0, 0, 0, 1];
        // answer 0: an A record with 3 bytes of RDATA (bad RDATA)
        b.extend_from_slice(&[0, 0, 1, 0, 1, 0, 0, 0, 1, 0, 3, 1, 2, 3]);
        // answer 1: owner is a forward pointer (structural), RDATA fine
        let at = b.len();
        b.extend_from_slice(&[
            0xc0,
            (at + 2) as u8,
            0,
            1,
            0,
            1,
            0,
            0,
            0,
            1,
            0,
            4,
            1,
            2,
            3,
            4,
        ]);
        // answer 2: an MX with a 1-byte RDATA (bad RDATA)
        b.extend_from_slice(&[0, 0, 15, 0, 1, 0, 0, 0, 1, 0, 1, 9]);
        // additional: an OPT whose option overruns its RDATA (found while reading)
        b.extend_from_slice(&[0, 0, 41, 4, 0xd0, 0, 0, 0, 0, 0, 4, 0, 10, 0, 9]);
        let eager = Message::parse(&b);
        let whats: Vec<&str> = eager
            .malformations
            .iter()
            .map(|m| m.what.as_str())
            .collect();
        assert_eq!(whats.len(), 4, "{whats:?}");
        assert!(whats[0].starts_with("answer 0 A RDATA"), "{whats:?}");
        assert!(whats[1].starts_with("answer 1 owner"), "{whats:?}");
        assert!(whats[2].starts_with("answer 2 MX RDATA"), "{whats:?}");
        assert!(eager
            .malformations
            .windows(2)
            .all(|w| w[0].offset <= w[1].offset));
        let deferred = Message::parse_deferred(&b);
        assert!(!deferred.rdata_checked && eager.rdata_checked);
        assert_eq!(
            deferred.malformations,
            [
                eager.malformations[1].clone(),
                eager.malformations[3].clone()
            ],
            "the structural ones only"
        );
        assert_eq!(
            (
                &deferred.records,
                &deferred.opts,
                deferred.end,
                deferred.complete
            ),
            (&eager.records, &eager.opts, eager.end, eager.complete)
        );
    }

    #[test]
    fn pointer_problems_are_reported_not_fatal() {
        // Question name = pointer to itself.
        let mut b = vec![0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 6, 0, 1];
        let m = Message::parse(&b);
        assert!(m.malformations[0].what.contains("does not point backwards"));
        assert_eq!(m.questions.len(), 1);
        assert!(m.complete);
        // Pointer beyond the end.
        b[13] = 200;
        let m = Message::parse(&b);
        assert!(m.malformations[0].what.contains("beyond the message"));
        // Extended label type.
        b[12] = 0x41;
        let m = Message::parse(&b);
        assert!(m.malformations[0].what.contains("reserved label type"));
    }

    #[test]
    fn short_and_truncated_messages() {
        assert_eq!(Message::parse(&[1, 2, 3]).header, None);
        let m = Message::parse(&[0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 3, b'a']);
        assert!(!m.complete);
        assert!(m.malformations[0].what.contains("past the end"));
    }

    #[test]
    fn trailing_bytes_and_duplicate_opt() {
        let mut b = soa_answer();
        b[11] = 2; // arcount 2
        b.extend_from_slice(&[0, 0, 41, 0x01, 0x00, 0, 0, 0, 0, 0, 0]); // second OPT, payload 256
        b.extend_from_slice(b"junk");
        let m = Message::parse(&b);
        assert_eq!(m.opts.len(), 2);
        assert_eq!(m.opts[1].payload, 256);
        assert_eq!(m.trailing(&b), b"junk");
    }

    #[test]
    fn names_escape_and_keep_case() {
        let b = b"\x03A.b\x02\\\xff\x00";
        let n = read_name(b, 0);
        assert_eq!(n.text(b), "A\\.b.\\\\\\255.");
        assert_eq!(n.end, Some(b.len()));
        assert_eq!(name_text(b"\x00", 0), ".");
    }
}
