//! [`Dns`]: the DNS [`Protocol`] implementation, tying the catalogue, the view and the encoder
//! together.

use super::catalogue::{self, id};
use super::{encode, view::DnsView};
use crate::datagram::Datagram;
use crate::field::FieldRef;
use crate::protocol::{Decoded, EncodeError, Protocol};
use crate::value::Value;
use std::sync::{Arc, Mutex};

/// DNS (RFC 1035, RFC 6891 and friends), named `dns` in suites.
///
/// It remembers its last few encodings (see [`EncodeMemo`]): a suite sends the same query shape
/// over and over with only the message id changing, and building it through hickory-proto was
/// the largest single cost on a DNS case's path to its verdict (dns_query bench).
#[derive(Debug, Default)]
pub struct Dns {
    memo: Mutex<EncodeMemo>,
}

/// How many distinct query shapes the memo keeps (most recently used first).
const MEMO_ENTRIES: usize = 16;

/// Recent encodings keyed by every field apart from `id`.
///
/// Invariant: an entry exists only for fields without `raw`, `patch` or `size` (the fields
/// that can put other bytes at offsets 0-1) and whose `id`, if any, is an integer the encoder
/// accepts; for those the encoder's output is a pure function of the fields, with the id's low
/// 16 bits at offsets 0-1 and nothing else depending on it. So a hit equals a fresh encode with
/// the new id written there (a unit test compares the two).
#[derive(Debug, Default)]
struct EncodeMemo {
    entries: Vec<(ShapeKey, Datagram)>,
}

/// A message's fields apart from `id`: (field id, argument, value), in template order.
type ShapeKey = Vec<(u32, u32, Option<Value>)>;

/// The id bytes a memo hit writes, or `None` when these fields must not use the memo.
fn memo_id(fields: &[(FieldRef, Option<Value>)]) -> Option<[u8; 2]> {
    let mut qid = 0u16;
    for (f, v) in fields {
        match f.id {
            id::RAW | id::PATCH | id::SIZE => return None,
            id::ID => match v {
                Some(Value::Int(n)) if (0..=i64::from(u32::MAX)).contains(n) => {
                    qid = (*n & 0xffff) as u16;
                }
                _ => return None,
            },
            _ => {}
        }
    }
    Some(qid.to_be_bytes())
}

/// Whether `key` holds exactly the non-id fields of `fields`, in order.
fn same_shape(key: &ShapeKey, fields: &[(FieldRef, Option<Value>)]) -> bool {
    let mut rest = fields.iter().filter(|(f, _)| f.id != id::ID);
    for (kid, karg, kv) in key {
        match rest.next() {
            Some((f, v)) if f.id == *kid && f.arg == *karg && v == kv => {}
            _ => return false,
        }
    }
    rest.next().is_none()
}

impl EncodeMemo {
    fn get(&mut self, fields: &[(FieldRef, Option<Value>)], qid: [u8; 2]) -> Option<Datagram> {
        let i = self
            .entries
            .iter()
            .position(|(k, _)| same_shape(k, fields))?;
        // Most recently used first, so a suite's one common shape is found at once.
        self.entries[..=i].rotate_right(1);
        let mut d = self.entries[0].1.clone();
        d.payload[0..2].copy_from_slice(&qid);
        Some(d)
    }

    fn put(&mut self, fields: &[(FieldRef, Option<Value>)], d: &Datagram) {
        if d.payload.len() < 2 {
            return;
        }
        let key = fields
            .iter()
            .filter(|(f, _)| f.id != id::ID)
            .map(|(f, v)| (f.id, f.arg, v.clone()))
            .collect();
        self.entries.insert(0, (key, d.clone()));
        self.entries.truncate(MEMO_ENTRIES);
    }
}

impl Protocol for Dns {
    fn name(&self) -> &'static str {
        "dns"
    }

    fn resolve(&self, path: &str) -> Option<FieldRef> {
        catalogue::resolve(path)
    }

    fn is_group(&self, path: &str) -> bool {
        catalogue::is_group(path)
    }

    fn paths(&self) -> Vec<String> {
        catalogue::paths()
    }

    fn decode(&self, d: &Datagram) -> Arc<dyn Decoded> {
        Arc::new(DnsView::new(d))
    }

    /// The header's id (RFC 1035 §4.1.1: copied into the reply).
    fn correlation(&self, payload: &[u8]) -> Option<u64> {
        let id = payload.get(..2)?;
        Some(u64::from(u16::from_be_bytes([id[0], id[1]])))
    }

    fn decode_owned(&self, d: Datagram) -> Arc<dyn Decoded> {
        Arc::new(DnsView::from_parts(d.payload, d.meta))
    }

    fn encode(&self, fields: &[(FieldRef, Option<Value>)]) -> Result<Datagram, EncodeError> {
        let Some(qid) = memo_id(fields) else {
            return encode::encode(fields);
        };
        let mut memo = self.memo.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(d) = memo.get(fields, qid) {
            return Ok(d);
        }
        let d = encode::encode(fields)?;
        memo.put(fields, &d);
        Ok(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(list: &[(&str, Value)]) -> Vec<(FieldRef, Option<Value>)> {
        list.iter()
            .map(|(p, v)| (catalogue::resolve(p).unwrap(), Some(v.clone())))
            .collect()
    }

    /// A query's key is its id, and the answer the encoder builds for it (same id) has the
    /// same key; a message too short for an id has none.
    #[test]
    fn correlation_is_the_id() {
        let dns = Dns::default();
        let q = dns
            .encode(&fields(&[
                ("id", Value::Int(0x1abc)),
                ("question.name", Value::Str("example.test".into())),
            ]))
            .unwrap();
        assert_eq!(dns.correlation(&q.payload), Some(0x1abc));
        let a = dns
            .encode(&fields(&[
                ("id", Value::Int(0x1abc)),
                ("qr", Value::Bool(true)),
            ]))
            .unwrap();
        assert_eq!(dns.correlation(&a.payload), dns.correlation(&q.payload));
        assert_eq!(dns.correlation(&[0x1a]), None);
    }

    /// A memo hit is byte for byte (and meta for meta) what a fresh encode gives, for several
    /// shapes and ids, and the byte-level fields bypass it.
    #[test]
    fn memo_hits_equal_fresh_encodes() {
        let dns = Dns::default();
        let s = |x: &str| Value::Str(x.into());
        let shapes: Vec<Vec<(&str, Value)>> = vec![
            vec![
                ("question.name", s("example.test")),
                ("question.type", Value::Int(6)),
            ],
            vec![
                ("question.name", s("example.test")),
                ("edns.version", Value::Int(0)),
                ("edns.payload", Value::Int(1232)),
                ("transport", s("tcp")),
            ],
            vec![
                ("question.name", s("www.example.test")),
                ("rd", Value::Bool(true)),
            ],
            vec![
                ("question.name", s("example.test")),
                ("size", Value::Int(1)),
            ],
            vec![
                ("question.name", s("example.test")),
                ("patch", Value::List(vec![s("0=0909")])),
            ],
        ];
        for round in 0..3 {
            for (k, shape) in shapes.iter().enumerate() {
                for qid in [0i64, 1, 0x1abc, 0x1_ffff, i64::from(u32::MAX)] {
                    let mut with_id = shape.clone();
                    with_id.insert(k % 2, ("id", Value::Int(qid)));
                    let f = fields(&with_id);
                    let fresh = encode::encode(&f);
                    let memo = dns.encode(&f);
                    match (fresh, memo) {
                        (Ok(a), Ok(b)) => {
                            assert_eq!(a, b, "round {round}, shape {k}, id {qid}")
                        }
                        (a, b) => assert_eq!(a.is_err(), b.is_err(), "shape {k}"),
                    }
                }
                let f = fields(shape);
                assert_eq!(
                    encode::encode(&f).ok(),
                    dns.encode(&f).ok(),
                    "shape {k}, no id"
                );
            }
        }
        // An id the encoder rejects is rejected with the memo filled, too.
        let f = fields(&[("id", Value::Int(-1)), ("question.name", s("example.test"))]);
        assert!(dns.encode(&f).is_err());
        assert!(dns.memo.lock().unwrap().entries.len() <= MEMO_ENTRIES);
    }
}
