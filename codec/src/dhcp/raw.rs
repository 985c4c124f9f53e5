//! The DHCPv4 raw layer: a checked view over message bytes ([`Packet`]), a lexer for option
//! areas ([`OptionIter`]), and a representation ([`Repr`]) that can hold *any* byte string a
//! server or a fuzzer might produce.
//!
//! The layering follows smoltcp's `wire` module. `Packet` gives named access to the fixed header
//! once [`Packet::check_len`] has passed. `Repr` is the editable form: options are an ordered
//! list of wire entries (PAD runs, options with the length byte as sent, a trailing truncated
//! option), not a map, so duplicates, any order, lying lengths, missing END and bytes after END
//! survive a parse/emit round trip byte for byte.
//!
//! Invariant: nothing in this module panics on any input. Every public parser is total.

use std::fmt;
use std::net::Ipv4Addr;

/// Byte layout of the fixed part of a DHCPv4 message (RFC 2131 §2, figure 1).
pub mod field {
    use std::ops::{Range, RangeFrom};

    pub const OP: usize = 0;
    pub const HTYPE: usize = 1;
    pub const HLEN: usize = 2;
    pub const HOPS: usize = 3;
    pub const XID: Range<usize> = 4..8;
    pub const SECS: Range<usize> = 8..10;
    pub const FLAGS: Range<usize> = 10..12;
    pub const CIADDR: Range<usize> = 12..16;
    pub const YIADDR: Range<usize> = 16..20;
    pub const SIADDR: Range<usize> = 20..24;
    pub const GIADDR: Range<usize> = 24..28;
    pub const CHADDR: Range<usize> = 28..44;
    pub const SNAME: Range<usize> = 44..108;
    pub const FILE: Range<usize> = 108..236;
    pub const COOKIE: Range<usize> = 236..240;
    pub const OPTIONS: RangeFrom<usize> = 240..;
}

/// Length of the BOOTP fixed header (everything before the magic cookie).
pub const HEADER_LEN: usize = 236;
/// Length of the fixed header plus the magic cookie: the shortest well-formed DHCP message.
pub const MIN_LEN: usize = 240;
/// The RFC 2131 §3 magic cookie, 99.130.83.99.
pub const MAGIC_COOKIE: [u8; 4] = [0x63, 0x82, 0x53, 0x63];
/// The RFC 951 minimum BOOTP message length that clients such as dhclient pad to.
pub const BOOTP_MIN_LEN: usize = 300;
/// The broadcast bit of `flags` (RFC 2131 §2, figure 2).
pub const FLAG_BROADCAST: u16 = 0x8000;
/// Option code of PAD (RFC 2132 §3.1).
pub const PAD: u8 = 0;
/// Option code of END (RFC 2132 §3.2).
pub const END: u8 = 255;
/// Option code of Option Overload (RFC 2132 §9.3).
pub const OVERLOAD: u8 = 52;

/// The message is too short for [`Packet`] accessors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("failed to read message: {len} bytes is shorter than the {MIN_LEN}-byte header and cookie")]
pub struct TooShort {
    pub len: usize,
}

/// A read-only view over the bytes of a DHCPv4 message.
///
/// Invariant: after [`Packet::new_checked`] (or a successful [`Packet::check_len`]) no accessor
/// panics, because all of them read inside the first [`MIN_LEN`] bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps a buffer without checking its length; accessors may panic until `check_len` passes.
    pub const fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// Wraps a buffer that is at least [`MIN_LEN`] bytes long.
    pub fn new_checked(buffer: T) -> Result<Packet<T>, TooShort> {
        let p = Packet::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// Ensures every accessor reads in bounds.
    pub fn check_len(&self) -> Result<(), TooShort> {
        let len = self.buffer.as_ref().len();
        if len < MIN_LEN {
            Err(TooShort { len })
        } else {
            Ok(())
        }
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn b(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    pub fn op(&self) -> u8 {
        self.b()[field::OP]
    }
    pub fn htype(&self) -> u8 {
        self.b()[field::HTYPE]
    }
    pub fn hlen(&self) -> u8 {
        self.b()[field::HLEN]
    }
    pub fn hops(&self) -> u8 {
        self.b()[field::HOPS]
    }
    pub fn xid(&self) -> u32 {
        u32::from_be_bytes(arr(&self.b()[field::XID]))
    }
    pub fn secs(&self) -> u16 {
        u16::from_be_bytes(arr(&self.b()[field::SECS]))
    }
    pub fn flags(&self) -> u16 {
        u16::from_be_bytes(arr(&self.b()[field::FLAGS]))
    }
    pub fn ciaddr(&self) -> Ipv4Addr {
        Ipv4Addr::from(arr::<4>(&self.b()[field::CIADDR]))
    }
    pub fn yiaddr(&self) -> Ipv4Addr {
        Ipv4Addr::from(arr::<4>(&self.b()[field::YIADDR]))
    }
    pub fn siaddr(&self) -> Ipv4Addr {
        Ipv4Addr::from(arr::<4>(&self.b()[field::SIADDR]))
    }
    pub fn giaddr(&self) -> Ipv4Addr {
        Ipv4Addr::from(arr::<4>(&self.b()[field::GIADDR]))
    }
    /// All 16 bytes of the chaddr field, whatever `hlen` says.
    pub fn chaddr_raw(&self) -> &[u8] {
        &self.b()[field::CHADDR]
    }
    /// The first `min(hlen, 16)` bytes of chaddr.
    pub fn chaddr(&self) -> &[u8] {
        &self.b()[field::CHADDR][..usize::from(self.hlen()).min(16)]
    }
    pub fn sname(&self) -> &[u8] {
        &self.b()[field::SNAME]
    }
    pub fn file(&self) -> &[u8] {
        &self.b()[field::FILE]
    }
    pub fn cookie(&self) -> [u8; 4] {
        arr(&self.b()[field::COOKIE])
    }
    /// The options area: everything after the cookie, to the end of the buffer.
    pub fn options(&self) -> &[u8] {
        &self.b()[field::OPTIONS]
    }
}

/// Copies a slice of known length into an array. Callers pass ranges of the right width.
fn arr<const N: usize>(s: &[u8]) -> [u8; N] {
    let mut a = [0u8; N];
    a.copy_from_slice(&s[..N]);
    a
}

/// One lexical item of an options area, with its offset from the start of that area.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Token<'a> {
    /// `count` consecutive PAD bytes.
    Pad { offset: usize, count: usize },
    /// A complete option: `data.len()` equals the length byte on the wire.
    Option {
        offset: usize,
        code: u8,
        data: &'a [u8],
    },
    /// END. The lexer yields nothing after it; the rest of the area is "after END".
    End { offset: usize },
    /// An option that does not fit in the area: a code byte with no length byte (`len: None`),
    /// or a length claiming more bytes than remain (`data` holds what remains). Always last.
    Truncated {
        offset: usize,
        code: u8,
        len: Option<u8>,
        data: &'a [u8],
    },
}

/// Lexes an options area (the main options field, or `file`/`sname` under overload).
///
/// Total: every byte string lexes, and the tokens (plus the bytes after END) reproduce the
/// area exactly.
#[derive(Debug, Clone)]
pub struct OptionIter<'a> {
    area: &'a [u8],
    pos: usize,
    done: bool,
}

impl<'a> OptionIter<'a> {
    pub fn new(area: &'a [u8]) -> OptionIter<'a> {
        OptionIter {
            area,
            pos: 0,
            done: false,
        }
    }
}

impl<'a> Iterator for OptionIter<'a> {
    type Item = Token<'a>;

    fn next(&mut self) -> Option<Token<'a>> {
        if self.done || self.pos >= self.area.len() {
            return None;
        }
        let offset = self.pos;
        let code = self.area[offset];
        match code {
            PAD => {
                let count = self.area[offset..]
                    .iter()
                    .take_while(|&&b| b == PAD)
                    .count();
                self.pos += count;
                Some(Token::Pad { offset, count })
            }
            END => {
                self.done = true;
                Some(Token::End { offset })
            }
            _ => {
                let Some(&len) = self.area.get(offset + 1) else {
                    self.done = true;
                    return Some(Token::Truncated {
                        offset,
                        code,
                        len: None,
                        data: &[],
                    });
                };
                let start = offset + 2;
                let end = start + usize::from(len);
                if end > self.area.len() {
                    self.done = true;
                    let data = &self.area[start..];
                    return Some(Token::Truncated {
                        offset,
                        code,
                        len: Some(len),
                        data,
                    });
                }
                self.pos = end;
                Some(Token::Option {
                    offset,
                    code,
                    data: &self.area[start..end],
                })
            }
        }
    }
}

/// An option as it appears on the wire. `len` is the length byte as sent, which may disagree
/// with `data.len()` when a test deliberately emits a lying length.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RawOption {
    pub code: u8,
    pub len: u8,
    pub data: Vec<u8>,
}

impl RawOption {
    /// An option whose length byte is the data length. Panics if `data` exceeds 255 bytes;
    /// use [`split_option`] for long values.
    pub fn new(code: u8, data: Vec<u8>) -> RawOption {
        let len = u8::try_from(data.len()).expect("option data longer than 255 bytes");
        RawOption { code, len, data }
    }
}

/// Splits a value into RFC 3396 instances of at most 255 bytes. An empty value gives one
/// zero-length instance, so "present but empty" stays representable.
pub fn split_option(code: u8, data: &[u8]) -> Vec<RawOption> {
    if data.is_empty() {
        return vec![RawOption {
            code,
            len: 0,
            data: Vec::new(),
        }];
    }
    data.chunks(255)
        .map(|c| RawOption::new(code, c.to_vec()))
        .collect()
}

/// One entry of an options area, in wire order.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Entry {
    /// A run of PAD bytes. Parsing merges adjacent PADs, so `count >= 1` and two `Pad` entries
    /// are never adjacent in a parsed area.
    Pad(usize),
    Option(RawOption),
    /// The last option of an area that runs past its end (see [`Token::Truncated`]).
    Truncated {
        code: u8,
        len: Option<u8>,
        data: Vec<u8>,
    },
}

/// An options area as a sequence of wire entries.
///
/// Invariants of a parsed area: a `Truncated` entry can only be last, and then `end` is false
/// and `after_end` is empty; `after_end` is empty unless `end` is true.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct OptionArea {
    pub entries: Vec<Entry>,
    /// Whether END terminates the area.
    pub end: bool,
    /// Bytes after END, kept verbatim (normally PAD, but servers and fuzzers send anything).
    pub after_end: Vec<u8>,
}

impl OptionArea {
    /// Parses an area. Never fails: malformations become `Truncated` entries.
    pub fn parse(area: &[u8]) -> OptionArea {
        let mut out = OptionArea::default();
        for t in OptionIter::new(area) {
            match t {
                Token::Pad { count, .. } => out.entries.push(Entry::Pad(count)),
                Token::Option { code, data, .. } => out.entries.push(Entry::Option(RawOption {
                    code,
                    len: data.len() as u8,
                    data: data.to_vec(),
                })),
                Token::End { offset } => {
                    out.end = true;
                    out.after_end = area[offset + 1..].to_vec();
                }
                Token::Truncated {
                    code, len, data, ..
                } => out.entries.push(Entry::Truncated {
                    code,
                    len,
                    data: data.to_vec(),
                }),
            }
        }
        out
    }

    /// Number of bytes [`OptionArea::emit`] writes.
    pub fn buffer_len(&self) -> usize {
        let body: usize = self
            .entries
            .iter()
            .map(|e| match e {
                Entry::Pad(n) => *n,
                Entry::Option(o) => 2 + o.data.len(),
                Entry::Truncated { len, data, .. } => 1 + usize::from(len.is_some()) + data.len(),
            })
            .sum();
        body + usize::from(self.end) + self.after_end.len()
    }

    /// Appends the wire form: entries, END if `end`, then `after_end`.
    pub fn emit(&self, out: &mut Vec<u8>) {
        for e in &self.entries {
            match e {
                Entry::Pad(n) => out.resize(out.len() + n, PAD),
                Entry::Option(o) => {
                    out.push(o.code);
                    out.push(o.len);
                    out.extend_from_slice(&o.data);
                }
                Entry::Truncated { code, len, data } => {
                    out.push(*code);
                    out.extend(len.iter());
                    out.extend_from_slice(data);
                }
            }
        }
        if self.end {
            out.push(END);
        }
        out.extend_from_slice(&self.after_end);
    }

    /// The complete options, in wire order.
    pub fn options(&self) -> impl Iterator<Item = &RawOption> {
        self.entries.iter().filter_map(|e| match e {
            Entry::Option(o) => Some(o),
            _ => None,
        })
    }
}

/// Which area an option instance came from. Aggregation order (RFC 3396 §5) is the
/// declaration order: options, then file, then sname.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Area {
    Options,
    File,
    Sname,
}

impl Area {
    pub fn name(self) -> &'static str {
        match self {
            Area::Options => "options",
            Area::File => "file",
            Area::Sname => "sname",
        }
    }

    /// Absolute offset of the area's first byte in the message.
    pub fn base(self) -> usize {
        match self {
            Area::Options => field::OPTIONS.start,
            Area::File => field::FILE.start,
            Area::Sname => field::SNAME.start,
        }
    }
}

/// The overload value (1 file, 2 sname, 3 both) from the first option 52 in the options field,
/// or 0 when there is none or it is malformed (length other than 1, value outside 1..=3).
/// RFC 2131 §4.1 only allows option 52 in the options field, so `file`/`sname` are not searched.
pub fn overload_of(options_area: &[u8]) -> u8 {
    for t in OptionIter::new(options_area) {
        if let Token::Option {
            code: OVERLOAD,
            data,
            ..
        } = t
        {
            return match data {
                [v @ 1..=3] => *v,
                _ => 0,
            };
        }
    }
    0
}

/// The areas that hold options for a message, in aggregation order, with their bytes.
/// Empty when the message is shorter than [`MIN_LEN`].
pub fn option_areas(msg: &[u8]) -> Vec<(Area, &[u8])> {
    if msg.len() < MIN_LEN {
        return Vec::new();
    }
    let opts = &msg[field::OPTIONS];
    let ov = overload_of(opts);
    let mut v = vec![(Area::Options, opts)];
    if ov & 1 != 0 {
        v.push((Area::File, &msg[field::FILE]));
    }
    if ov & 2 != 0 {
        v.push((Area::Sname, &msg[field::SNAME]));
    }
    v
}

/// The first structural problem in a message: where a parser had to stop or guess.
///
/// Missing END and bytes after END are not malformations in this sense; they are reported
/// separately (`end_present`, `after_end`) because they do not stop parsing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Malformation {
    /// Shorter than the fixed header plus cookie.
    Short { len: usize },
    /// A code byte at the very end of an area, with no length byte.
    NoLength { area: Area, offset: usize, code: u8 },
    /// A length byte claiming more bytes than remain in the area.
    Overrun {
        area: Area,
        offset: usize,
        code: u8,
        claimed: u8,
        remain: usize,
    },
}

impl fmt::Display for Malformation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let where_ = |area: &Area| match area {
            Area::Options => String::new(),
            a => format!(" (in {})", a.name()),
        };
        match self {
            Malformation::Short { len } if *len < HEADER_LEN => {
                write!(
                    f,
                    "message is {len} bytes, shorter than the {HEADER_LEN}-byte header"
                )
            }
            Malformation::Short { len } => {
                write!(f, "message is {len} bytes, the magic cookie is incomplete")
            }
            Malformation::NoLength { area, offset, code } => {
                write!(
                    f,
                    "option {code} at offset {offset} has no length byte{}",
                    where_(area)
                )
            }
            Malformation::Overrun {
                area,
                offset,
                code,
                claimed,
                remain,
            } => write!(
                f,
                "option {code} at offset {offset} claims {claimed} bytes but {remain} remain{}",
                where_(area)
            ),
        }
    }
}

/// The first malformation of a message, scanning options, then file, then sname.
pub fn first_malformation(msg: &[u8]) -> Option<Malformation> {
    if msg.len() < MIN_LEN {
        return Some(Malformation::Short { len: msg.len() });
    }
    for (area, bytes) in option_areas(msg) {
        for t in OptionIter::new(bytes) {
            if let Token::Truncated {
                offset,
                code,
                len,
                data,
            } = t
            {
                let offset = area.base() + offset;
                return Some(match len {
                    None => Malformation::NoLength { area, offset, code },
                    Some(claimed) => Malformation::Overrun {
                        area,
                        offset,
                        code,
                        claimed,
                        remain: data.len(),
                    },
                });
            }
        }
    }
    None
}

/// A DHCPv4 message as data: the header fields plus the options field as wire entries.
///
/// `sname` and `file` are kept as raw bytes (they are header fields); when option 52 says they
/// hold options, [`Repr::file_options`] and [`Repr::sname_options`] parse them.
///
/// Invariant: for every byte string `b`, `Repr::parse(b).to_bytes() == b`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Repr {
    pub op: u8,
    pub htype: u8,
    pub hlen: u8,
    pub hops: u8,
    pub xid: u32,
    pub secs: u16,
    pub flags: u16,
    pub ciaddr: Ipv4Addr,
    pub yiaddr: Ipv4Addr,
    pub siaddr: Ipv4Addr,
    pub giaddr: Ipv4Addr,
    pub chaddr: [u8; 16],
    pub sname: [u8; 64],
    pub file: [u8; 128],
    pub cookie: [u8; 4],
    pub options: OptionArea,
    /// `Some(n)` (with `n < MIN_LEN`) for a message cut short: only the first `n` bytes of the
    /// header are on the wire, the missing header bytes read as zero, and `options` is empty.
    pub short_len: Option<usize>,
}

impl Default for Repr {
    /// A BOOTREQUEST from an Ethernet client with zero fields, the magic cookie and no options.
    fn default() -> Repr {
        Repr {
            op: 1,
            htype: 1,
            hlen: 6,
            hops: 0,
            xid: 0,
            secs: 0,
            flags: 0,
            ciaddr: Ipv4Addr::UNSPECIFIED,
            yiaddr: Ipv4Addr::UNSPECIFIED,
            siaddr: Ipv4Addr::UNSPECIFIED,
            giaddr: Ipv4Addr::UNSPECIFIED,
            chaddr: [0; 16],
            sname: [0; 64],
            file: [0; 128],
            cookie: MAGIC_COOKIE,
            options: OptionArea::default(),
            short_len: None,
        }
    }
}

impl Repr {
    /// Parses any byte string. Short messages keep the header bytes that exist (missing ones
    /// read as zero) and record their length in `short_len`.
    pub fn parse(bytes: &[u8]) -> Repr {
        let (fixed, short_len) = if bytes.len() < MIN_LEN {
            let mut f = [0u8; MIN_LEN];
            f[..bytes.len()].copy_from_slice(bytes);
            (f, Some(bytes.len()))
        } else {
            (arr::<MIN_LEN>(bytes), None)
        };
        let p = Packet::new_unchecked(&fixed[..]);
        Repr {
            op: p.op(),
            htype: p.htype(),
            hlen: p.hlen(),
            hops: p.hops(),
            xid: p.xid(),
            secs: p.secs(),
            flags: p.flags(),
            ciaddr: p.ciaddr(),
            yiaddr: p.yiaddr(),
            siaddr: p.siaddr(),
            giaddr: p.giaddr(),
            chaddr: arr(p.chaddr_raw()),
            sname: arr(p.sname()),
            file: arr(p.file()),
            cookie: p.cookie(),
            options: match short_len {
                Some(_) => OptionArea::default(),
                None => OptionArea::parse(&bytes[field::OPTIONS]),
            },
            short_len,
        }
    }

    /// Number of bytes [`Repr::emit`] writes.
    pub fn buffer_len(&self) -> usize {
        match self.short_len {
            Some(n) => n.min(MIN_LEN),
            None => MIN_LEN + self.options.buffer_len(),
        }
    }

    /// Appends the wire form to `out`.
    pub fn emit(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(&[self.op, self.htype, self.hlen, self.hops]);
        out.extend_from_slice(&self.xid.to_be_bytes());
        out.extend_from_slice(&self.secs.to_be_bytes());
        out.extend_from_slice(&self.flags.to_be_bytes());
        for a in [self.ciaddr, self.yiaddr, self.siaddr, self.giaddr] {
            out.extend_from_slice(&a.octets());
        }
        out.extend_from_slice(&self.chaddr);
        out.extend_from_slice(&self.sname);
        out.extend_from_slice(&self.file);
        out.extend_from_slice(&self.cookie);
        match self.short_len {
            Some(n) => out.truncate(start + n.min(MIN_LEN)),
            None => self.options.emit(out),
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(self.buffer_len());
        self.emit(&mut v);
        v
    }

    /// The overload value from the options field (see [`overload_of`]).
    pub fn overload(&self) -> u8 {
        self.options
            .options()
            .find(|o| o.code == OVERLOAD)
            .map(|o| match o.data.as_slice() {
                [v @ 1..=3] if o.len == 1 => *v,
                _ => 0,
            })
            .unwrap_or(0)
    }

    /// The options in `file`, when option 52 says it holds options.
    pub fn file_options(&self) -> Option<OptionArea> {
        (self.overload() & 1 != 0).then(|| OptionArea::parse(&self.file))
    }

    /// The options in `sname`, when option 52 says it holds options.
    pub fn sname_options(&self) -> Option<OptionArea> {
        (self.overload() & 2 != 0).then(|| OptionArea::parse(&self.sname))
    }

    /// The RFC 3396 aggregate of `code`: the data of every instance concatenated in the order
    /// options, file, sname. `None` when the option is absent. Truncated instances contribute
    /// the bytes that are present.
    pub fn aggregate(&self, code: u8) -> Option<Vec<u8>> {
        let mut found = false;
        let mut agg = Vec::new();
        let areas = [
            Some(self.options.clone()),
            self.file_options(),
            self.sname_options(),
        ];
        for area in areas.iter().flatten() {
            for e in &area.entries {
                match e {
                    Entry::Option(o) if o.code == code => {
                        found = true;
                        agg.extend_from_slice(&o.data);
                    }
                    Entry::Truncated { code: c, data, .. } if *c == code => {
                        found = true;
                        agg.extend_from_slice(data);
                    }
                    _ => {}
                }
            }
        }
        found.then_some(agg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A 244-byte DISCOVER: header, cookie, `35 01 01`, END.
    fn discover_bytes() -> Vec<u8> {
        let mut b = vec![0u8; 240];
        b[0] = 1;
        b[1] = 1;
        b[2] = 6;
        b[4..8].copy_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
        b[10] = 0x80;
        b[28..34].copy_from_slice(&[0x02, 0, 0, 0, 0, 1]);
        b[236..240].copy_from_slice(&MAGIC_COOKIE);
        b.extend_from_slice(&[53, 1, 1, 255]);
        b
    }

    #[test]
    fn packet_accessors() {
        let b = discover_bytes();
        let p = Packet::new_checked(&b[..]).unwrap();
        assert_eq!(p.op(), 1);
        assert_eq!(p.xid(), 0xdeadbeef);
        assert_eq!(p.flags(), FLAG_BROADCAST);
        assert_eq!(p.chaddr(), &[2, 0, 0, 0, 0, 1]);
        assert_eq!(p.chaddr_raw().len(), 16);
        assert_eq!(p.cookie(), MAGIC_COOKIE);
        assert_eq!(p.options(), &[53, 1, 1, 255]);
        assert_eq!(
            Packet::new_checked(&b[..239]).unwrap_err(),
            TooShort { len: 239 }
        );
    }

    #[test]
    fn hlen_above_16_is_capped() {
        let mut b = discover_bytes();
        b[2] = 200;
        assert_eq!(Packet::new_checked(&b[..]).unwrap().chaddr().len(), 16);
    }

    #[test]
    fn lexes_every_shape() {
        let area = [0, 0, 0, 53, 1, 1, 61, 0, 51, 4, 0, 0];
        let t: Vec<Token> = OptionIter::new(&area).collect();
        assert_eq!(
            t,
            vec![
                Token::Pad {
                    offset: 0,
                    count: 3
                },
                Token::Option {
                    offset: 3,
                    code: 53,
                    data: &[1]
                },
                Token::Option {
                    offset: 6,
                    code: 61,
                    data: &[]
                },
                Token::Truncated {
                    offset: 8,
                    code: 51,
                    len: Some(4),
                    data: &[0, 0]
                },
            ]
        );
        let t: Vec<Token> = OptionIter::new(&[53, 1, 1, 12]).collect();
        assert_eq!(
            t[1],
            Token::Truncated {
                offset: 3,
                code: 12,
                len: None,
                data: &[]
            }
        );
        let t: Vec<Token> = OptionIter::new(&[255, 53, 1, 1]).collect();
        assert_eq!(t, vec![Token::End { offset: 0 }]);
    }

    #[test]
    fn parse_and_emit_discover() {
        let b = discover_bytes();
        let r = Repr::parse(&b);
        assert_eq!(r.xid, 0xdeadbeef);
        assert_eq!(
            r.options.entries,
            vec![Entry::Option(RawOption::new(53, vec![1]))]
        );
        assert!(r.options.end);
        assert!(r.options.after_end.is_empty());
        assert_eq!(r.buffer_len(), b.len());
        // Emit into a buffer pre-filled with 0xa5 so that unwritten bytes would show.
        let mut out = vec![0xa5; 3];
        r.emit(&mut out);
        assert_eq!(&out[3..], &b[..]);
    }

    #[test]
    fn construct_discover() {
        let r = Repr {
            xid: 0xdeadbeef,
            flags: FLAG_BROADCAST,
            chaddr: [2, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            options: OptionArea {
                entries: vec![Entry::Option(RawOption::new(53, vec![1]))],
                end: true,
                after_end: vec![],
            },
            ..Repr::default()
        };
        assert_eq!(r.to_bytes(), discover_bytes());
    }

    #[test]
    fn short_messages_keep_existing_header_fields() {
        let b = discover_bytes();
        let r = Repr::parse(&b[..10]);
        assert_eq!(r.short_len, Some(10));
        assert_eq!(r.xid, 0xdeadbeef);
        assert_eq!(r.flags, 0, "flags are beyond byte 10");
        assert_eq!(r.to_bytes(), &b[..10]);
        assert_eq!(
            first_malformation(&b[..10]),
            Some(Malformation::Short { len: 10 })
        );
        assert_eq!(
            Malformation::Short { len: 10 }.to_string(),
            "message is 10 bytes, shorter than the 236-byte header"
        );
        assert_eq!(
            first_malformation(&b[..240]),
            None,
            "240 bytes: no options, no END"
        );
    }

    #[test]
    fn overrun_is_reported_with_absolute_offset() {
        let mut b = discover_bytes();
        b.truncate(243);
        b.extend_from_slice(&[51, 4, 0, 0]);
        let m = first_malformation(&b).unwrap();
        assert_eq!(
            m.to_string(),
            "option 51 at offset 243 claims 4 bytes but 2 remain"
        );
        assert_eq!(Repr::parse(&b).to_bytes(), b);
    }

    #[test]
    fn overload_areas_and_aggregation() {
        let mut r = Repr::default();
        r.options.entries = vec![
            Entry::Option(RawOption::new(52, vec![3])),
            Entry::Option(RawOption::new(61, vec![1, 2])),
            Entry::Option(RawOption::new(53, vec![1])),
        ];
        r.options.end = true;
        r.file[..6].copy_from_slice(&[61, 2, 3, 4, 255, 0]);
        r.sname[..3].copy_from_slice(&[61, 1, 5]);
        r.sname[63] = 12;
        assert_eq!(r.overload(), 3);
        assert_eq!(r.aggregate(61), Some(vec![1, 2, 3, 4, 5]));
        assert_eq!(
            r.aggregate(12),
            Some(vec![]),
            "truncated instance contributes nothing"
        );
        assert_eq!(r.aggregate(50), None);
        let m = first_malformation(&r.to_bytes()).unwrap();
        assert_eq!(
            m.to_string(),
            "option 12 at offset 107 has no length byte (in sname)"
        );
        assert_eq!(
            overload_of(&[52, 2, 1, 0]),
            0,
            "52 with length 2 means no overload"
        );
        assert_eq!(overload_of(&[52, 1, 4]), 0);
    }

    #[test]
    fn split_option_rfc3396() {
        let v = split_option(121, &[7u8; 300]);
        assert_eq!(v.len(), 2);
        assert_eq!((v[0].len, v[1].len), (255, 45));
        assert_eq!(
            split_option(61, &[]),
            vec![RawOption {
                code: 61,
                len: 0,
                data: vec![]
            }]
        );
    }

    fn arb_entry() -> impl Strategy<Value = Entry> {
        prop_oneof![
            (1usize..4).prop_map(Entry::Pad),
            (1u8..255, prop::collection::vec(any::<u8>(), 0..20))
                .prop_map(|(c, d)| Entry::Option(RawOption::new(c, d))),
        ]
    }

    /// Merges adjacent PAD runs, which parsing cannot tell apart.
    fn normalise(mut entries: Vec<Entry>) -> Vec<Entry> {
        let mut out: Vec<Entry> = Vec::new();
        for e in entries.drain(..) {
            match (out.last_mut(), &e) {
                (Some(Entry::Pad(a)), Entry::Pad(b)) => *a += b,
                _ => out.push(e),
            }
        }
        out
    }

    prop_compose! {
        fn arb_repr()(
            head in prop::collection::vec(any::<u8>(), 236),
            cookie in any::<[u8; 4]>(),
            entries in prop::collection::vec(arb_entry(), 0..12),
            tail in prop_oneof![
                Just(None),
                (1u8..255, prop::option::of(any::<u8>()))
                    .prop_map(|(c, l)| Some((c, l.map(|l| l.max(1)))))
            ],
            end in any::<bool>(),
            after_end in prop::collection::vec(any::<u8>(), 0..8),
        ) -> Repr {
            let mut r = Repr::parse(&head);
            r.short_len = None;
            r.cookie = cookie;
            r.options.entries = normalise(entries);
            match tail {
                // A truncated option is always last, and nothing follows it.
                Some((code, len)) => {
                    r.options.entries.push(Entry::Truncated { code, len, data: vec![] });
                }
                None => {
                    r.options.end = end;
                    if end {
                        r.options.after_end = after_end;
                    }
                }
            }
            r
        }
    }

    proptest! {
        #[test]
        fn any_bytes_parse_and_reemit_exactly(b in prop::collection::vec(any::<u8>(), 0..600)) {
            let r = Repr::parse(&b);
            prop_assert_eq!(r.to_bytes(), b.clone());
            prop_assert_eq!(r.buffer_len(), b.len());
            let _ = first_malformation(&b);
            let _ = r.aggregate(61);
            if let Ok(p) = Packet::new_checked(&b[..]) {
                let _ = (p.chaddr(), p.options(), p.xid());
            }
        }

        #[test]
        fn repr_emit_then_parse_is_identity(r in arb_repr()) {
            let b = r.to_bytes();
            prop_assert_eq!(b.len(), r.buffer_len());
            prop_assert_eq!(Repr::parse(&b), r);
        }
    }
}
