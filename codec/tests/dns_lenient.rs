//! The lenient DNS reader against arbitrary bytes (never panics) and against hickory-proto's
//! strict decoder (agrees on well-formed messages, keeps what hickory rejects or alters).

use conform_codec::dns::catalogue::resolve;
use conform_codec::dns::wire::Message;
use conform_codec::{protocol_by_name, Datagram, FieldRef, Value};
use hickory_proto::op::{Edns, Message as HMessage, Query};
use hickory_proto::rr::{Name, RecordType};
use proptest::prelude::*;

fn all_paths() -> Vec<FieldRef> {
    let p = protocol_by_name("dns").unwrap();
    let mut v: Vec<FieldRef> = p.paths().iter().map(|s| p.resolve(s).unwrap()).collect();
    for s in [
        "answer.7.rdata",
        "additional.1.name",
        "edns.option.100",
        "edns.option.3.len",
    ] {
        v.push(resolve(s).unwrap());
    }
    v
}

fn get(bytes: &[u8], path: &str) -> Option<Value> {
    let p = protocol_by_name("dns").unwrap();
    let d = p.decode(&Datagram {
        payload: bytes.to_vec(),
        meta: Default::default(),
    });
    d.get(&resolve(path).unwrap()).map(|c| c.into_owned())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let p = protocol_by_name("dns").unwrap();
        let d = p.decode(&Datagram { payload: bytes.clone(), meta: Default::default() });
        for f in all_paths() {
            let _ = d.get(&f);
        }
        let _ = d.summary();
        let _ = d.to_json();
        let m = Message::parse(&bytes);
        prop_assert!(m.end <= bytes.len());
    }

    /// Mutations of a valid answer: flip bytes and cut, the reader still never panics and a
    /// complete parse always accounts for every byte (records + trailing).
    #[test]
    fn mutated_answers(pos in 0usize..120, val in any::<u8>(), cut in 0usize..130) {
        let mut b = hickory_answer();
        if pos < b.len() { b[pos] = val; }
        b.truncate(cut.min(b.len()));
        let m = Message::parse(&b);
        if m.complete {
            prop_assert_eq!(m.end + m.trailing(&b).len(), b.len());
        }
        // The view checks RDATA only when asked; what it reports is what the eager read finds.
        prop_assert!(m.malformations.windows(2).all(|w| w[0].offset <= w[1].offset));
        prop_assert_eq!(
            get(&b, "malformed"),
            m.malformations.first().map(|x| Value::Str(x.to_string()))
        );
        // Names compared in place agree with the names a view builds.
        let d = protocol_by_name("dns").unwrap().decode(&Datagram { payload: b.clone(), meta: Default::default() });
        for path in ["question.name", "answer.0.name", "additional.0.name", "answer.1.name"] {
            let f = resolve(path).unwrap();
            let built = d.get(&f).map(|c| c.into_owned());
            for want in [built.clone(), Some(Value::Str("www.Example.test.".into())), Some(Value::Str(".".into()))].into_iter().flatten() {
                prop_assert_eq!(d.field_equals(&f, &want), Some(built.as_ref() == Some(&want)), "{}", path);
            }
        }
    }
}

/// A response built by hickory: SOA question, one A answer, EDNS with DO.
fn hickory_answer() -> Vec<u8> {
    use hickory_proto::rr::{rdata::A, RData, Record};
    let mut m = HMessage::query();
    m.metadata.id = 0x4242;
    m.metadata.message_type = hickory_proto::op::MessageType::Response;
    m.metadata.authoritative = true;
    let n = Name::from_ascii("www.Example.test.").unwrap();
    m.add_query(Query::query(n.clone(), RecordType::A));
    m.add_answer(Record::from_rdata(n, 300, RData::A(A::new(192, 0, 2, 80))));
    let mut e = Edns::new();
    e.set_max_payload(1232).set_dnssec_ok(true);
    m.set_edns(e);
    m.to_vec().unwrap()
}

#[test]
fn agrees_with_hickory_on_a_well_formed_answer() {
    let b = hickory_answer();
    let h = HMessage::from_vec(&b).unwrap();
    assert_eq!(get(&b, "id"), Some(Value::Int(i64::from(h.metadata.id))));
    assert_eq!(get(&b, "aa"), Some(Value::Bool(true)));
    assert_eq!(
        get(&b, "question.name"),
        Some(Value::Str("www.Example.test.".into()))
    );
    assert_eq!(
        get(&b, "answer.rdata"),
        Some(Value::List(vec![Value::Str("192.0.2.80".into())]))
    );
    assert_eq!(
        get(&b, "answer.ttls"),
        Some(Value::List(vec![Value::Int(300)]))
    );
    assert_eq!(get(&b, "edns.payload"), Some(Value::Int(1232)));
    assert_eq!(get(&b, "edns.do"), Some(Value::Bool(true)));
    assert_eq!(get(&b, "additional.count"), Some(Value::Int(0)));
    assert_eq!(get(&b, "malformed"), None);
    assert_eq!(get(&b, "trailing"), Some(Value::Bytes(vec![])));
}

#[test]
fn keeps_what_hickory_rejects_or_alters() {
    let good = hickory_answer();
    // Z bit: hickory drops it silently.
    let mut b = good.clone();
    b[3] |= 0x40;
    assert_eq!(get(&b, "z"), Some(Value::Bool(true)));
    // Payload 100: hickory rewrites it to 512.
    let m = Message::parse(&good);
    let fx = m.records[m.opts[0].record].fixed;
    let mut b = good.clone();
    b[fx + 2..fx + 4].copy_from_slice(&100u16.to_be_bytes());
    assert_eq!(HMessage::from_vec(&b).unwrap().max_payload(), 512);
    assert_eq!(get(&b, "edns.payload"), Some(Value::Int(100)));
    // Two OPT records: hickory rejects the whole message.
    let mut b = good.clone();
    let span = m.records[m.opts[0].record].span();
    b.extend_from_slice(&good[span]);
    b[11] += 1;
    assert!(HMessage::from_vec(&b).is_err());
    assert_eq!(get(&b, "edns.count"), Some(Value::Int(2)));
    assert_eq!(get(&b, "rcode"), Some(Value::Int(0)));
    // Trailing bytes: hickory ignores them.
    let mut b = good.clone();
    b.extend_from_slice(b"xyz");
    assert!(HMessage::from_vec(&b).is_ok());
    assert_eq!(get(&b, "trailing"), Some(Value::Bytes(b"xyz".to_vec())));
    // A record with RDLENGTH 5: hickory rejects the message, the view keeps it.
    let mut b = good.clone();
    let a = &m.records[0];
    b[a.fixed + 9] = 5;
    b.insert(a.rdata.end, 0);
    assert!(HMessage::from_vec(&b).is_err());
    assert_eq!(
        get(&b, "answer.0.rdata"),
        Some(Value::Str("\\# 5 c000025000".into()))
    );
    assert!(matches!(get(&b, "malformed"), Some(Value::Str(s)) if s.contains("not 4 bytes")));
}
