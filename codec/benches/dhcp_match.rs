//! Measures the hot path of template matching: `Decoded::get` on a decoded 15-option OFFER,
//! ten fields per "match", plus the one-off decode cost.

use conform_codec::dhcp::Dhcp;
use conform_codec::{FieldRef, Protocol, Value};
use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;
use std::net::Ipv4Addr;

fn offer() -> conform_codec::Datagram {
    let ip = |a, b, c, d| Value::Ipv4(Ipv4Addr::new(a, b, c, d));
    let t: Vec<(&str, Value)> = vec![
        ("op", Value::Int(2)),
        ("xid", Value::Int(0x1a2b3c4d)),
        ("yiaddr", ip(192, 0, 2, 100)),
        ("chaddr", Value::Mac([2, 0, 0, 0, 0, 1])),
        ("options.message_type", Value::Int(2)),
        ("options.server_id", ip(192, 0, 2, 1)),
        ("options.lease_time", Value::Int(3600)),
        ("options.renewal_time", Value::Int(1800)),
        ("options.rebinding_time", Value::Int(3150)),
        ("options.subnet_mask", ip(255, 255, 255, 0)),
        ("options.broadcast_address", ip(192, 0, 2, 255)),
        ("options.routers", Value::List(vec![ip(192, 0, 2, 1)])),
        (
            "options.dns_servers",
            Value::List(vec![ip(192, 0, 2, 1), ip(192, 0, 2, 2)]),
        ),
        ("options.domain_name", Value::Str("example.com".into())),
        ("options.hostname", Value::Str("host1".into())),
        ("options.ntp_servers", Value::List(vec![ip(192, 0, 2, 123)])),
        ("options.interface_mtu", Value::Int(1500)),
        ("options.client_id", Value::Bytes(vec![1, 2, 0, 0, 0, 0, 1])),
        ("options.82.circuit_id", Value::Bytes(b"eth0".to_vec())),
        ("options.82.remote_id", Value::Bytes(vec![0xde, 0xad])),
    ];
    let fields: Vec<(FieldRef, Option<Value>)> = t
        .into_iter()
        .map(|(p, v)| (Dhcp.resolve(p).unwrap(), Some(v)))
        .collect();
    Dhcp.encode(&fields).unwrap()
}

fn template() -> Vec<(FieldRef, Value)> {
    let ip = |s: &str| Value::Ipv4(s.parse().unwrap());
    [
        ("op", Value::Int(2)),
        ("xid", Value::Int(0x1a2b3c4d)),
        ("yiaddr", ip("192.0.2.100")),
        ("options.message_type", Value::Int(2)),
        ("options.server_id", ip("192.0.2.1")),
        ("options.lease_time", Value::Int(3600)),
        ("options.subnet_mask", ip("255.255.255.0")),
        ("options.routers", Value::List(vec![ip("192.0.2.1")])),
        ("options.client_id", Value::Bytes(vec![1, 2, 0, 0, 0, 0, 1])),
        ("options.50.count", Value::Int(0)),
    ]
    .into_iter()
    .map(|(p, v)| (Dhcp.resolve(p).unwrap(), v))
    .collect()
}

fn bench(c: &mut Criterion) {
    let d = offer();
    let tpl = template();
    let view = Dhcp.decode(&d);
    c.bench_function("dhcp decode 15-option offer", |b| {
        b.iter(|| Dhcp.decode(black_box(&d)))
    });
    c.bench_function("dhcp match 10 fields (warm view)", |b| {
        b.iter(|| {
            tpl.iter()
                .all(|(f, want)| view.get(black_box(f)).is_some_and(|v| *v == *want))
        })
    });
    c.bench_function("dhcp decode + match 10 fields", |b| {
        b.iter(|| {
            let v = Dhcp.decode(black_box(&d));
            tpl.iter()
                .all(|(f, want)| v.get(f).is_some_and(|x| *x == *want))
        })
    });
    assert!(tpl
        .iter()
        .all(|(f, want)| view.get(f).is_some_and(|v| *v == *want)));
}

criterion_group!(benches, bench);
criterion_main!(benches);
