//! The DNS encoder against the lenient reader (every field set on send reads back the same,
//! including what hickory cannot express) and against hickory-proto's decoder (well-formed
//! queries decode to the same header, question and EDNS values).

use conform_codec::{protocol_by_name, Datagram, Decoded, Value};
use hickory_proto::op::Message as HMessage;
use proptest::prelude::*;
use std::sync::Arc;

fn encode(fields: &[(&str, Value)]) -> Datagram {
    let p = protocol_by_name("dns").unwrap();
    let f: Vec<_> = fields
        .iter()
        .map(|(k, v)| {
            (
                p.resolve(k).unwrap_or_else(|| panic!("{k}")),
                Some(v.clone()),
            )
        })
        .collect();
    p.encode(&f).unwrap()
}

fn decode(d: &Datagram) -> Arc<dyn Decoded> {
    protocol_by_name("dns").unwrap().decode(d)
}

fn get(v: &dyn Decoded, path: &str) -> Option<Value> {
    let f = protocol_by_name("dns").unwrap().resolve(path).unwrap();
    v.get(&f).map(|c| c.into_owned())
}

proptest! {
    #[test]
    fn fields_read_back(
        id in any::<u32>(),
        opcode in 0i64..16,
        bits in proptest::collection::vec(any::<bool>(), 7),
        qtype in 1i64..65535,
        version in 0i64..256,
        payload in 0i64..65536,
        dnssec_ok in any::<bool>(),
        z in 0i64..0x8000,
        opts in proptest::collection::vec(0i64..65536, 0..4),
    ) {
        let names = ["aa", "tc", "rd", "ra", "z", "ad", "cd"];
        let mut f: Vec<(&str, Value)> = vec![
            ("id", Value::Int(id.into())),
            ("opcode", Value::Int(opcode)),
            ("question.name", Value::Str("Www.Example.test.".into())),
            ("question.type", Value::Int(qtype)),
            ("edns.version", Value::Int(version)),
            ("edns.payload", Value::Int(payload)),
            ("edns.do", Value::Bool(dnssec_ok)),
            ("edns.z", Value::Int(z)),
            ("edns.options", Value::List(opts.iter().map(|o| Value::Int(*o)).collect())),
        ];
        for (n, b) in names.iter().zip(&bits) {
            f.push((n, Value::Bool(*b)));
        }
        let d = encode(&f);
        let v = decode(&d);
        prop_assert_eq!(get(v.as_ref(), "id"), Some(Value::Int(i64::from(id & 0xffff))));
        prop_assert_eq!(get(v.as_ref(), "opcode"), Some(Value::Int(opcode)));
        for (n, b) in names.iter().zip(&bits) {
            prop_assert_eq!(get(v.as_ref(), n), Some(Value::Bool(*b)), "{}", n);
        }
        prop_assert_eq!(get(v.as_ref(), "question.name"), Some(Value::Str("Www.Example.test.".into())));
        prop_assert_eq!(get(v.as_ref(), "question.type"), Some(Value::Int(qtype)));
        prop_assert_eq!(get(v.as_ref(), "edns.version"), Some(Value::Int(version)));
        prop_assert_eq!(get(v.as_ref(), "edns.payload"), Some(Value::Int(payload)));
        prop_assert_eq!(get(v.as_ref(), "edns.do"), Some(Value::Bool(dnssec_ok)));
        prop_assert_eq!(get(v.as_ref(), "edns.z"), Some(Value::Int(z)));
        prop_assert_eq!(get(v.as_ref(), "edns.options"), Some(Value::List(opts.iter().map(|o| Value::Int(*o)).collect())));
        prop_assert_eq!(get(v.as_ref(), "malformed"), None);
        prop_assert_eq!(get(v.as_ref(), "trailing"), Some(Value::Bytes(vec![])));
        // hickory agrees where it can represent the message (it drops Z, clamps the payload).
        let h = HMessage::from_vec(&d.payload).unwrap();
        prop_assert_eq!(h.metadata.id, (id & 0xffff) as u16);
        prop_assert_eq!(h.metadata.recursion_desired, bits[2]);
        prop_assert_eq!(h.queries[0].query_type(), hickory_proto::rr::RecordType::from(qtype as u16));
        let e = h.edns.unwrap();
        prop_assert_eq!(i64::from(e.version()), version);
        prop_assert_eq!(i64::from(e.max_payload()), payload.max(512));
        prop_assert_eq!(e.flags().dnssec_ok, dnssec_ok);
    }
}

#[test]
fn tcp_fields_become_the_transport_string() {
    let d = encode(&[
        ("id", Value::Int(1)),
        ("tcp.connection", Value::Int(9)),
        ("tcp.close", Value::Bool(true)),
    ]);
    assert_eq!(d.meta.transport, "tcp;conn=9;close");
    let d = encode(&[
        ("id", Value::Int(1)),
        ("transport", Value::Str("udp".into())),
    ]);
    assert_eq!(d.meta.transport, "udp");
}

#[test]
fn decode_only_fields_cannot_be_sent() {
    let p = protocol_by_name("dns").unwrap();
    for path in [
        "malformed",
        "answer.count",
        "answer.0.ttl",
        "question.count",
        "tcp.closed",
    ] {
        let f = p.resolve(path).unwrap();
        assert!(p.encode(&[(f, Some(Value::Int(1)))]).is_err(), "{path}");
    }
}
