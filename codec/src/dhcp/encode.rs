//! Encoding a concrete send template into a DHCPv4 datagram.
//!
//! Options are emitted in the order their fields first appear in the template, which is also
//! where `raw_options` elements are spliced in, so a template can produce any option sequence:
//! duplicates, PAD runs, lying lengths (`options.X.len`), zero-length options, missing END,
//! bytes after END, and a payload cut or padded to an exact `size`.
//!
//! Defaults: op 1, htype 1, hlen 6, hops/xid/secs/flags 0, addresses 0.0.0.0, chaddr/sname/file
//! zero, cookie 63 82 53 63, END appended, payload zero-padded to 300 bytes (RFC 951, as
//! dhclient does) unless `size` is given. Meta: eth.dst broadcast, eth.src = chaddr[..6] when
//! hlen is 6, ip 0.0.0.0 → 255.255.255.255, udp 68 → 67, transport "udp".
//!
//! Per option X (fields of one option are gathered and emitted together, at the position of
//! the first one):
//! - `options.X` typed value → one TLV, split into consecutive instances above 255 bytes
//!   (RFC 3396). `Value::Bytes` is accepted for any option as its raw data.
//! - `options.X.raw` → the bytes as data (split likewise).
//! - `options.X.len` → this length byte verbatim and no splitting, even if it lies; alone it
//!   emits `X len` with no data.
//! - `options.61.type` / `options.61.data` → one option 61 of type byte then data.
//! - `options.82.circuit_id` / `options.82.remote_id` → sub-options 1 / 2 in template order.
//! - a `None` value contributes nothing; an option with no contributions is not emitted.
//!
//! Other controls: `raw_options` (each element appended verbatim), `end` (append END, default
//! true), `after_end`, `size`, `cookie` (any length; options follow it directly), `sname_raw`,
//! `file_raw`, `flags.broadcast` (applied after `flags`), `eth.*`, `ip.src`, `ip.dst`,
//! `ip.ttl`, `udp.src`, `udp.dst`, and `udp.checksum_ok: false` (asks the frame builder for a
//! wrong checksum). For meta fields a `None` value clears the default. Decode-only paths
//! (`option_codes`, `malformed`, `ip.len`, `options.X.count`, ...) are an error.

use super::catalogue::{id, kind_of, OptKind};
use super::raw::{field, BOOTP_MIN_LEN, END, FLAG_BROADCAST, MAGIC_COOKIE};
use crate::datagram::{Datagram, Meta};
use crate::field::{FieldRef, FieldType};
use crate::protocol::EncodeError;
use crate::value::Value;
use std::net::{IpAddr, Ipv4Addr};

/// The parts of one option gathered from its template fields.
#[derive(Default)]
struct OptParts {
    typed: Option<Vec<u8>>,
    raw: Option<Vec<u8>>,
    len: Option<u8>,
    cid_type: Option<u8>,
    cid_data: Option<Vec<u8>>,
    /// RFC 3046 sub-options (code, data), in template order.
    subs: Vec<(u8, Vec<u8>)>,
}

enum Piece {
    Opt(u8),
    Raw(Vec<u8>),
}

/// The message under construction, starting from the documented defaults.
struct Msg {
    header: [u8; field::COOKIE.start],
    broadcast: Option<bool>,
    cookie: Vec<u8>,
    pieces: Vec<Piece>,
    parts: Vec<OptParts>,
    /// `slot[code]` is the index into `parts` once any field of that option has been seen.
    slot: [Option<u8>; 256],
    end: bool,
    after_end: Vec<u8>,
    size: Option<usize>,
    meta: Meta,
    /// Whether the template set `eth.src` (possibly to "unset"), overriding the chaddr default.
    eth_src_set: bool,
}

fn err(f: &FieldRef, reason: impl Into<String>) -> EncodeError {
    EncodeError::Field {
        path: f.path.to_string(),
        reason: reason.into(),
    }
}

fn coerced(f: &FieldRef, ty: &FieldType, v: &Value) -> Result<Value, EncodeError> {
    ty.coerce(v).ok_or_else(|| {
        err(
            f,
            format!("expected {}, got {} {v}", ty.describe(), v.kind()),
        )
    })
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

fn octets(f: &FieldRef, v: &Value) -> Result<Vec<u8>, EncodeError> {
    match v {
        Value::Bytes(b) => Ok(b.clone()),
        _ => v
            .as_octets()
            .ok_or_else(|| err(f, format!("expected bytes, got {} {v}", v.kind()))),
    }
}

fn ipv4(f: &FieldRef, v: &Value) -> Result<Ipv4Addr, EncodeError> {
    match coerced(f, &FieldType::Ipv4, v)? {
        Value::Ipv4(a) => Ok(a),
        _ => Err(err(f, "expected an IPv4 address")),
    }
}

fn boolean(f: &FieldRef, v: &Value) -> Result<bool, EncodeError> {
    match v {
        Value::Bool(b) => Ok(*b),
        _ => Err(err(f, format!("expected a boolean, got {} {v}", v.kind()))),
    }
}

fn mac(f: &FieldRef, v: &Value) -> Result<[u8; 6], EncodeError> {
    match coerced(f, &FieldType::Mac, v)? {
        Value::Mac(m) => Ok(m),
        _ => Err(err(f, "expected a MAC address")),
    }
}

/// Bytes for a fixed-size header area, zero-padded; longer values are an error.
fn fit(f: &FieldRef, b: &[u8], size: usize) -> Result<Vec<u8>, EncodeError> {
    if b.len() > size {
        return Err(err(f, format!("{} bytes do not fit in {size}", b.len())));
    }
    let mut v = b.to_vec();
    v.resize(size, 0);
    Ok(v)
}

/// The wire data of a typed option value. `Value::Bytes` is accepted for any option as raw data,
/// so a template can send a wrong-length value through the typed path too.
fn option_data(f: &FieldRef, code: u8, v: &Value) -> Result<Vec<u8>, EncodeError> {
    if let Value::Bytes(b) = v {
        return Ok(b.clone());
    }
    let kind = kind_of(code);
    let be = |i: i64, n: usize| i.to_be_bytes()[8 - n..].to_vec();
    Ok(match kind {
        OptKind::Ipv4 => ipv4(f, v)?.octets().to_vec(),
        OptKind::Ipv4List => match v {
            Value::List(items) => {
                let mut out = Vec::with_capacity(items.len() * 4);
                for x in items {
                    out.extend_from_slice(&ipv4(f, x)?.octets());
                }
                out
            }
            other => ipv4(f, other)?.octets().to_vec(),
        },
        OptKind::U8 | OptKind::MessageType | OptKind::Overload => be(int(f, v, 0, 255)?, 1),
        OptKind::U16 => be(int(f, v, 0, 0xffff)?, 2),
        OptKind::U32 => be(int(f, v, 0, u32::MAX.into())?, 4),
        OptKind::I32 => be(int(f, v, i32::MIN.into(), i32::MAX.into())?, 4),
        OptKind::U8List => match v {
            Value::List(items) => items
                .iter()
                .map(|x| int(f, x, 0, 255).map(|i| i as u8))
                .collect::<Result<_, _>>()?,
            other => be(int(f, other, 0, 255)?, 1),
        },
        OptKind::Str | OptKind::Bytes => octets(f, v)?,
    })
}

impl Msg {
    fn new() -> Msg {
        let mut header = [0u8; field::COOKIE.start];
        header[field::OP] = 1;
        header[field::HTYPE] = 1;
        header[field::HLEN] = 6;
        Msg {
            header,
            broadcast: None,
            cookie: MAGIC_COOKIE.to_vec(),
            pieces: Vec::new(),
            parts: Vec::new(),
            slot: [None; 256],
            end: true,
            after_end: Vec::new(),
            size: None,
            meta: Meta {
                eth_dst: Some([0xff; 6]),
                ip_src: Some(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
                ip_dst: Some(IpAddr::V4(Ipv4Addr::BROADCAST)),
                src_port: Some(68),
                dst_port: Some(67),
                transport: "udp".into(),
                ..Meta::default()
            },
            eth_src_set: false,
        }
    }

    fn parts(&mut self, code: u8) -> &mut OptParts {
        let i = match self.slot[usize::from(code)] {
            Some(i) => usize::from(i),
            None => {
                // At most 254 option codes exist, so the index fits in a u8.
                self.parts.push(OptParts::default());
                self.pieces.push(Piece::Opt(code));
                let i = self.parts.len() - 1;
                self.slot[usize::from(code)] = Some(i as u8);
                i
            }
        };
        &mut self.parts[i]
    }

    fn put(&mut self, r: std::ops::Range<usize>, b: &[u8]) {
        self.header[r].copy_from_slice(b);
    }

    fn apply(&mut self, f: &FieldRef, v: Option<&Value>) -> Result<(), EncodeError> {
        // Meta fields: `None` clears the default (the adapter decides).
        match f.id {
            id::ETH_SRC => {
                self.eth_src_set = true;
                self.meta.eth_src = v.map(|v| mac(f, v)).transpose()?;
                return Ok(());
            }
            id::ETH_DST => {
                self.meta.eth_dst = v.map(|v| mac(f, v)).transpose()?;
                return Ok(());
            }
            id::IP_SRC => {
                self.meta.ip_src = v.map(|v| ipv4(f, v).map(IpAddr::V4)).transpose()?;
                return Ok(());
            }
            id::IP_DST => {
                self.meta.ip_dst = v.map(|v| ipv4(f, v).map(IpAddr::V4)).transpose()?;
                return Ok(());
            }
            id::IP_TTL => {
                self.meta.ip_ttl = v.map(|v| int(f, v, 0, 255).map(|i| i as u8)).transpose()?;
                return Ok(());
            }
            id::UDP_SRC => {
                self.meta.src_port = v
                    .map(|v| int(f, v, 0, 0xffff).map(|i| i as u16))
                    .transpose()?;
                return Ok(());
            }
            id::UDP_DST => {
                self.meta.dst_port = v
                    .map(|v| int(f, v, 0, 0xffff).map(|i| i as u16))
                    .transpose()?;
                return Ok(());
            }
            id::UDP_CHECKSUM_OK => {
                // `false` asks the frame builder for a deliberately wrong checksum.
                self.meta.udp_checksum_ok = v.map(|v| boolean(f, v)).transpose()?;
                return Ok(());
            }
            _ => {}
        }
        let Some(v) = v else { return Ok(()) };
        let code = u8::try_from(f.arg).unwrap_or(0);
        match f.id {
            id::OP | id::HTYPE | id::HLEN | id::HOPS => {
                let at = match f.id {
                    id::OP => field::OP,
                    id::HTYPE => field::HTYPE,
                    id::HLEN => field::HLEN,
                    _ => field::HOPS,
                };
                self.header[at] = int(f, v, 0, 255)? as u8;
            }
            id::XID => self.put(
                field::XID,
                &(int(f, v, 0, u32::MAX.into())? as u32).to_be_bytes(),
            ),
            id::SECS => self.put(field::SECS, &(int(f, v, 0, 0xffff)? as u16).to_be_bytes()),
            id::FLAGS => self.put(field::FLAGS, &(int(f, v, 0, 0xffff)? as u16).to_be_bytes()),
            id::FLAGS_BROADCAST => self.broadcast = Some(boolean(f, v)?),
            id::CIADDR => self.put(field::CIADDR, &ipv4(f, v)?.octets()),
            id::YIADDR => self.put(field::YIADDR, &ipv4(f, v)?.octets()),
            id::SIADDR => self.put(field::SIADDR, &ipv4(f, v)?.octets()),
            id::GIADDR => self.put(field::GIADDR, &ipv4(f, v)?.octets()),
            id::CHADDR | id::CHADDR_RAW => {
                let b = fit(f, &octets(f, v)?, 16)?;
                self.put(field::CHADDR, &b);
            }
            id::SNAME | id::SNAME_RAW => {
                let b = fit(f, &octets(f, v)?, 64)?;
                self.put(field::SNAME, &b);
            }
            id::FILE | id::FILE_RAW => {
                let b = fit(f, &octets(f, v)?, 128)?;
                self.put(field::FILE, &b);
            }
            id::COOKIE => self.cookie = octets(f, v)?,
            id::SIZE => self.size = Some(int(f, v, 0, 65507)? as usize),
            id::END => self.end = boolean(f, v)?,
            id::AFTER_END => self.after_end = octets(f, v)?,
            id::RAW_OPTIONS => {
                let mut b = Vec::new();
                match v {
                    Value::List(items) => {
                        for x in items {
                            b.extend_from_slice(&octets(f, x)?);
                        }
                    }
                    other => b = octets(f, other)?,
                }
                self.pieces.push(Piece::Raw(b));
            }
            id::OPT => {
                let data = option_data(f, code, v)?;
                self.parts(code).typed = Some(data);
            }
            id::OPT_RAW => {
                let data = octets(f, v)?;
                self.parts(code).raw = Some(data);
            }
            id::OPT_LEN => {
                let l = int(f, v, 0, 255)? as u8;
                self.parts(code).len = Some(l);
            }
            id::CLIENT_ID_TYPE => {
                let t = int(f, v, 0, 255)? as u8;
                self.parts(code).cid_type = Some(t);
            }
            id::CLIENT_ID_DATA => {
                let d = octets(f, v)?;
                self.parts(code).cid_data = Some(d);
            }
            id::RELAY_CIRCUIT_ID | id::RELAY_REMOTE_ID => {
                let d = octets(f, v)?;
                if d.len() > 255 {
                    return Err(err(
                        f,
                        format!("a sub-option holds at most 255 bytes, got {}", d.len()),
                    ));
                }
                let sub = if f.id == id::RELAY_CIRCUIT_ID { 1 } else { 2 };
                self.parts(code).subs.push((sub, d));
            }
            _ => return Err(err(f, "is decode-only and cannot be sent")),
        }
        Ok(())
    }

    /// Appends one option's instances to `out`.
    fn emit_option(code: u8, p: &OptParts, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        let sources = usize::from(p.typed.is_some())
            + usize::from(p.raw.is_some())
            + usize::from(p.cid_type.is_some() || p.cid_data.is_some())
            + usize::from(!p.subs.is_empty());
        if sources > 1 {
            return Err(EncodeError::Field {
                path: format!("options.{code}"),
                reason: "give the value one way only (typed, .raw, or sub-fields)".into(),
            });
        }
        let data: Vec<u8> = if let Some(d) = p.typed.as_ref().or(p.raw.as_ref()) {
            d.clone()
        } else if !p.subs.is_empty() {
            let mut d = Vec::new();
            for (c, s) in &p.subs {
                d.push(*c);
                d.push(s.len() as u8);
                d.extend_from_slice(s);
            }
            d
        } else {
            p.cid_type
                .iter()
                .copied()
                .chain(p.cid_data.iter().flatten().copied())
                .collect()
        };
        match p.len {
            // A given length is written verbatim, even when it lies about the data.
            Some(len) => {
                out.push(code);
                out.push(len);
                out.extend_from_slice(&data);
            }
            None => {
                for o in super::raw::split_option(code, &data) {
                    out.push(o.code);
                    out.push(o.len);
                    out.extend_from_slice(&o.data);
                }
            }
        }
        Ok(())
    }

    fn finish(mut self) -> Result<Datagram, EncodeError> {
        if let Some(b) = self.broadcast {
            let flags = u16::from_be_bytes([self.header[10], self.header[11]]);
            let flags = if b {
                flags | FLAG_BROADCAST
            } else {
                flags & !FLAG_BROADCAST
            };
            self.put(field::FLAGS, &flags.to_be_bytes());
        }
        if !self.eth_src_set && self.header[field::HLEN] == 6 {
            let mut m = [0u8; 6];
            m.copy_from_slice(&self.header[field::CHADDR][..6]);
            self.meta.eth_src = Some(m);
        }
        let mut p = Vec::with_capacity(BOOTP_MIN_LEN.max(self.size.unwrap_or(0)));
        p.extend_from_slice(&self.header);
        p.extend_from_slice(&self.cookie);
        for piece in &self.pieces {
            match piece {
                Piece::Raw(b) => p.extend_from_slice(b),
                Piece::Opt(code) => {
                    let i = self.slot[usize::from(*code)].map_or(0, usize::from);
                    Msg::emit_option(*code, &self.parts[i], &mut p)?;
                }
            }
        }
        if self.end {
            p.push(END);
        }
        p.extend_from_slice(&self.after_end);
        match self.size {
            Some(n) => p.resize(n, 0),
            // Pad like dhclient: some servers and relays drop messages under 300 bytes.
            None if p.len() < BOOTP_MIN_LEN => p.resize(BOOTP_MIN_LEN, 0),
            None => {}
        }
        Ok(Datagram {
            payload: p,
            meta: self.meta,
        })
    }
}

/// Encodes a concrete template (see the module docs for the defaults and controls).
pub fn encode(fields: &[(FieldRef, Option<Value>)]) -> Result<Datagram, EncodeError> {
    let mut m = Msg::new();
    for (f, v) in fields {
        m.apply(f, v.as_ref())?;
    }
    m.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dhcp::Dhcp;
    use crate::protocol::Protocol;
    use proptest::prelude::*;

    fn tpl(items: Vec<(&str, Option<Value>)>) -> Vec<(FieldRef, Option<Value>)> {
        items
            .into_iter()
            .map(|(p, v)| (Dhcp.resolve(p).unwrap_or_else(|| panic!("{p}")), v))
            .collect()
    }

    fn enc(items: Vec<(&str, Option<Value>)>) -> Datagram {
        Dhcp.encode(&tpl(items)).unwrap()
    }

    fn opts(d: &Datagram) -> &[u8] {
        &d.payload[field::OPTIONS]
    }

    const MAC: [u8; 6] = [0x02, 0x11, 0x22, 0x33, 0x44, 0x55];

    fn discover() -> Datagram {
        enc(vec![
            ("xid", Some(Value::Int(0xdeadbeef))),
            ("flags.broadcast", Some(Value::Bool(true))),
            ("chaddr", Some(Value::Mac(MAC))),
            ("options.message_type", Some(Value::Int(1))),
            (
                "options.client_id",
                Some(Value::Bytes(vec![1, 2, 0x11, 0x22, 0x33, 0x44, 0x55])),
            ),
            (
                "options.parameter_request_list",
                Some(ints(&[1, 3, 6, 51, 54])),
            ),
        ])
    }

    fn ints(v: &[i64]) -> Value {
        Value::List(v.iter().map(|&i| Value::Int(i)).collect())
    }

    #[test]
    fn encodes_discover_bytes() {
        let d = discover();
        let p = &d.payload;
        assert_eq!(p.len(), 300, "padded to the BOOTP minimum");
        assert_eq!(&p[..4], &[1, 1, 6, 0]);
        assert_eq!(&p[field::XID], &[0xde, 0xad, 0xbe, 0xef]);
        assert_eq!(&p[field::SECS], &[0, 0]);
        assert_eq!(&p[field::FLAGS], &[0x80, 0x00]);
        assert_eq!(&p[field::CIADDR], &[0; 4]);
        assert_eq!(&p[field::CHADDR][..6], &MAC);
        assert_eq!(&p[field::CHADDR][6..], &[0; 10]);
        assert_eq!(&p[field::SNAME], &[0; 64][..]);
        assert_eq!(&p[field::COOKIE], &MAGIC_COOKIE);
        assert_eq!(
            &opts(&d)[..26],
            &[
                53, 1, 1, //
                61, 7, 1, 2, 0x11, 0x22, 0x33, 0x44, 0x55, //
                55, 5, 1, 3, 6, 51, 54, //
                255, 0, 0, 0, 0, 0, 0
            ]
        );
        assert!(p[260..].iter().all(|&b| b == 0));
        let m = &d.meta;
        assert_eq!(m.eth_src, Some(MAC));
        assert_eq!(m.eth_dst, Some([0xff; 6]));
        assert_eq!(m.ip_src, Some(IpAddr::V4(Ipv4Addr::UNSPECIFIED)));
        assert_eq!(m.ip_dst, Some(IpAddr::V4(Ipv4Addr::BROADCAST)));
        assert_eq!((m.src_port, m.dst_port), (Some(68), Some(67)));
        assert_eq!(m.transport, "udp");
    }

    #[test]
    fn typed_options_follow_template_order() {
        let d = enc(vec![
            (
                "options.routers",
                Some(Value::List(vec![Value::Ipv4(Ipv4Addr::new(10, 0, 0, 1))])),
            ),
            ("options.lease_time", Some(Value::Int(3600))),
            ("options.time_offset", Some(Value::Int(-1))),
            ("options.max_message_size", Some(Value::Int(576))),
            ("options.hostname", Some(Value::Str("h".into()))),
            (
                "options.requested_ip",
                Some(Value::Ipv4(Ipv4Addr::new(192, 0, 2, 7))),
            ),
            ("options.200", Some(Value::Bytes(vec![]))),
        ]);
        assert_eq!(
            &opts(&d)[..36],
            &[
                3, 4, 10, 0, 0, 1, //
                51, 4, 0, 0, 0x0e, 0x10, //
                2, 4, 0xff, 0xff, 0xff, 0xff, //
                57, 2, 0x02, 0x40, //
                12, 1, b'h', //
                50, 4, 192, 0, 2, 7, //
                200, 0, // zero-length options are kept, unlike dhcproto
                255, 0, 0
            ]
        );
    }

    #[test]
    fn raw_len_and_subfields() {
        let d = enc(vec![
            ("options.51.raw", Some(Value::Bytes(vec![0, 0]))),
            ("options.51.len", Some(Value::Int(4))),
            ("options.61.type", Some(Value::Int(0xff))),
            ("options.61.data", Some(Value::Bytes(vec![0, 0, 0, 1]))),
            ("options.82.remote_id", Some(Value::Bytes(vec![9]))),
            ("options.82.circuit_id", Some(Value::Bytes(b"e0".to_vec()))),
            ("options.50.len", Some(Value::Int(0))),
            ("end", Some(Value::Bool(false))),
            ("size", Some(Value::Int(280))),
        ]);
        assert_eq!(d.payload.len(), 280);
        assert_eq!(
            &opts(&d)[..25],
            &[
                51, 4, 0, 0, // a lying length: claims 4, carries 2
                61, 5, 0xff, 0, 0, 0, 1, //
                82, 7, 2, 1, 9, 1, 2, b'e', b'0', // sub-options in template order
                50, 0, // length only
                0, 0, 0 // no END; zero fill up to `size`
            ]
        );
    }

    #[test]
    fn raw_options_end_after_end_cookie_and_size() {
        let d = enc(vec![
            (
                "raw_options",
                Some(Value::List(vec![
                    Value::Bytes(vec![0, 0]),
                    Value::Bytes(vec![53, 1, 1]),
                ])),
            ),
            ("options.53", Some(Value::Int(3))),
            ("after_end", Some(Value::Bytes(vec![53, 1, 2]))),
            ("cookie", Some(Value::Bytes(vec![1, 2, 3, 4]))),
            ("size", Some(Value::Int(248))),
        ]);
        assert_eq!(&d.payload[field::COOKIE], &[1, 2, 3, 4]);
        assert_eq!(&d.payload[240..], &[0, 0, 53, 1, 1, 53, 1, 3]);
        let cut = enc(vec![("size", Some(Value::Int(100)))]);
        assert_eq!(cut.payload.len(), 100);
        let bootp = enc(vec![
            ("cookie", Some(Value::Bytes(vec![]))),
            ("end", Some(Value::Bool(false))),
        ]);
        assert_eq!(bootp.payload.len(), 300);
        assert!(bootp.payload[236..].iter().all(|&b| b == 0));
    }

    #[test]
    fn long_values_split_per_rfc3396() {
        let d = enc(vec![("options.121", Some(Value::Bytes(vec![7; 300])))]);
        let o = opts(&d);
        assert_eq!(&o[..2], &[121, 255]);
        assert_eq!(&o[257..259], &[121, 45]);
        assert_eq!(o[259 + 45], 255);
    }

    #[test]
    fn none_omits_and_header_defaults_stay() {
        let d = enc(vec![
            ("options.53", Some(Value::Int(1))),
            ("options.61", None),
            ("xid", None),
            ("eth.src", None),
        ]);
        assert_eq!(&opts(&d)[..4], &[53, 1, 1, 255]);
        assert_eq!(d.meta.eth_src, None, "explicitly unset");
        let d = enc(vec![("hlen", Some(Value::Int(16)))]);
        assert_eq!(
            d.meta.eth_src, None,
            "no Ethernet default when hlen is not 6"
        );
    }

    #[test]
    fn header_and_meta_overrides() {
        let d = enc(vec![
            ("op", Some(Value::Int(2))),
            ("hops", Some(Value::Int(1))),
            ("secs", Some(Value::Int(0x0102))),
            ("flags", Some(Value::Int(0x7fff))),
            ("flags.broadcast", Some(Value::Bool(true))),
            ("giaddr", Some(Value::Ipv4(Ipv4Addr::new(10, 1, 0, 1)))),
            ("sname", Some(Value::Str("srv".into()))),
            ("file_raw", Some(Value::Bytes(vec![1, 2]))),
            ("ip.src", Some(Value::Ipv4(Ipv4Addr::new(10, 1, 0, 1)))),
            ("udp.src", Some(Value::Int(67))),
            ("ip.ttl", Some(Value::Int(1))),
            ("udp.checksum_ok", Some(Value::Bool(false))),
        ]);
        let p = &d.payload;
        assert_eq!(&p[..4], &[2, 1, 6, 1]);
        assert_eq!(&p[field::SECS], &[1, 2]);
        assert_eq!(&p[field::FLAGS], &[0xff, 0xff]);
        assert_eq!(&p[field::GIADDR], &[10, 1, 0, 1]);
        assert_eq!(&p[44..48], b"srv\0");
        assert_eq!(&p[108..111], &[1, 2, 0]);
        assert_eq!(d.meta.src_port, Some(67));
        assert_eq!(d.meta.ip_ttl, Some(1));
        assert_eq!(d.meta.udp_checksum_ok, Some(false));
    }

    #[test]
    fn errors_name_the_path() {
        let e = |items| Dhcp.encode(&tpl(items)).unwrap_err();
        let path = |err: EncodeError| match err {
            EncodeError::Field { path, .. } => path,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            path(e(vec![("chaddr", Some(Value::Bytes(vec![0; 17])))])),
            "chaddr"
        );
        assert_eq!(path(e(vec![("htype", Some(Value::Int(256)))])), "htype");
        assert_eq!(
            path(e(vec![(
                "options.lease_time",
                Some(Value::Str("x".into()))
            )])),
            "options.51"
        );
        assert_eq!(path(e(vec![("ciaddr", Some(Value::Int(1)))])), "ciaddr");
        assert_eq!(
            path(e(vec![("option_codes", Some(ints(&[1])))])),
            "option_codes"
        );
        assert_eq!(path(e(vec![("ip.len", Some(Value::Int(1)))])), "ip.len");
        assert_eq!(
            path(e(vec![
                ("options.61", Some(Value::Bytes(vec![1]))),
                ("options.61.type", Some(Value::Int(1))),
            ])),
            "options.61"
        );
    }

    #[test]
    fn lenient_values() {
        // A single address for a list option, bytes for a typed option, a MAC as bytes.
        let d = enc(vec![
            (
                "options.routers",
                Some(Value::Ipv4(Ipv4Addr::new(10, 0, 0, 1))),
            ),
            ("options.lease_time", Some(Value::Bytes(vec![0, 1]))),
            ("chaddr", Some(Value::Bytes(MAC.to_vec()))),
        ]);
        assert_eq!(&opts(&d)[..11], &[3, 4, 10, 0, 0, 1, 51, 2, 0, 1, 255]);
        assert_eq!(d.meta.eth_src, Some(MAC));
    }

    #[test]
    fn encode_then_decode_through_the_view() {
        let d = discover();
        let v = Dhcp.decode(&d);
        let get = |p: &str| v.get(&Dhcp.resolve(p).unwrap()).map(|c| c.into_owned());
        assert_eq!(get("xid"), Some(Value::Int(0xdeadbeef)));
        assert_eq!(get("options.message_type"), Some(Value::Int(1)));
        assert_eq!(get("options.61.type"), Some(Value::Int(1)));
        assert_eq!(get("option_codes"), Some(ints(&[53, 61, 55])));
        assert_eq!(get("after_end_all_pad"), Some(Value::Bool(true)));
        assert_eq!(get("malformed"), None);
        assert_eq!(get("eth.src"), Some(Value::Mac(MAC)));
        assert_eq!(v.summary(), "DHCPDISCOVER xid=0xdeadbeef [53,61,55]");
    }

    proptest! {
        #[test]
        fn raw_options_round_trip(
            opts in prop::collection::btree_map(1u8..255, prop::collection::vec(any::<u8>(), 0..300), 0..10),
        ) {
            let items: Vec<(String, Option<Value>)> = opts
                .iter()
                .map(|(c, d)| (format!("options.{c}.raw"), Some(Value::Bytes(d.clone()))))
                .collect();
            let fields: Vec<(FieldRef, Option<Value>)> =
                items.iter().map(|(p, v)| (Dhcp.resolve(p).unwrap(), v.clone())).collect();
            let d = Dhcp.encode(&fields).unwrap();
            let v = Dhcp.decode(&d);
            for (c, data) in &opts {
                let f = Dhcp.resolve(&format!("options.{c}.raw")).unwrap();
                let got = v.get(&f).map(|x| x.into_owned());
                // Option 52 turns sname/file into option areas, which are zero here (PAD only).
                prop_assert_eq!(got, Some(Value::Bytes(data.clone())));
            }
            let f = Dhcp.resolve("malformed").unwrap();
            prop_assert!(v.get(&f).is_none());
        }
    }
}
