//! Matcher throughput on decoded DHCP replies (issue target: ≥1M matches/s per core), and
//! suite loading of 1,000 generated cases (target: `conform check` under 100 ms wall; the
//! bench measures the library part, scripts/bench-check.sh the whole binary).

use conform_codec::{protocol_by_name, Decoded, FieldRef, Protocol, Value};
use conform_model::load::load_paths;
use conform_model::{Env, Template};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::collections::HashMap;
use std::hint::black_box;
use std::net::Ipv4Addr;
use std::sync::Arc;

/// A DHCPOFFER shaped like dnsmasq's, with 15 options.
fn offer(p: &dyn Protocol) -> Arc<dyn Decoded> {
    let ip = |d| Value::Ipv4(Ipv4Addr::new(192, 0, 2, d));
    let f: Vec<(&str, Value)> = vec![
        ("op", Value::Int(2)),
        ("xid", Value::Int(0x1234_5678)),
        ("yiaddr", ip(150)),
        ("siaddr", ip(1)),
        ("chaddr", Value::Bytes(vec![2, 0, 0, 0, 0, 9])),
        ("flags.broadcast", Value::Bool(true)),
        ("options.message_type", Value::Int(2)),
        ("options.server_id", ip(1)),
        ("options.lease_time", Value::Int(3600)),
        ("options.renewal_time", Value::Int(1800)),
        ("options.rebinding_time", Value::Int(3150)),
        (
            "options.subnet_mask",
            Value::Ipv4(Ipv4Addr::new(255, 255, 255, 0)),
        ),
        ("options.broadcast_address", ip(255)),
        ("options.routers", Value::List(vec![ip(1)])),
        ("options.dns_servers", Value::List(vec![ip(1), ip(2)])),
        ("options.domain_name", Value::Str("lab.example".into())),
        ("options.hostname", Value::Str("client-1".into())),
        ("options.client_id", Value::Bytes(vec![1, 2, 0, 0, 0, 0, 9])),
        ("options.ntp_servers", Value::List(vec![ip(1)])),
        ("options.interface_mtu", Value::Int(1500)),
        ("options.vendor_specific", Value::Bytes(vec![1, 2, 3])),
        ("udp.src", Value::Int(67)),
        ("udp.dst", Value::Int(68)),
    ];
    let fields: Vec<(FieldRef, Option<Value>)> = f
        .into_iter()
        .map(|(k, v)| (p.resolve(k).expect(k), Some(v)))
        .collect();
    let d = p.encode(&fields).expect("encode");
    p.decode(&d)
}

const SUITE: &str = r#"
protocol: dhcp
params:
  server_ip: { type: ipv4, default: 192.0.2.1 }
  pool_start: { type: ipv4, default: 192.0.2.100 }
  pool_end: { type: ipv4, default: 192.0.2.200 }
templates:
  offer:
    op: BOOTREPLY
    xid: $xid
    chaddr: $chaddr
    yiaddr: { range: [$pool_start, $pool_end] }
    flags.broadcast: "*"
    option_codes: { superset: [53, 54, 51, 1, 3] }
    options:
      message_type: { one_of: [OFFER, ACK] }
      server_id: $server_ip
      lease_time: { range: 60..86400 }
      renewal_time: { range: "1..", ifpresent: true }
      client_id: { length: 2..255 }
      hostname: "*"
cases:
  - id: bench
    spec: RFC 2131 §4.3.1
    level: MUST
    text: x
    steps:
      - receive: { template: offer, capture: { ip: yiaddr, sid: options.server_id } }
"#;

fn template() -> (Template, HashMap<String, Value>) {
    let dir = std::env::temp_dir().join(format!("conform-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("b.yaml");
    std::fs::write(&f, SUITE).unwrap();
    let l = load_paths(&[f]);
    assert!(l.diagnostics.is_empty(), "{}", l.render_diagnostics());
    let case = &l.suites[0].cases[0];
    let t = match &case.steps[0] {
        conform_model::suite::Step::Alt { branches, .. } => match &branches[0].on {
            conform_model::suite::BranchOn::Receive { template, .. } => (**template).clone(),
            _ => unreachable!(),
        },
        _ => unreachable!(),
    };
    let mut env = HashMap::new();
    env.insert("xid".to_string(), Value::Int(0x1234_5678));
    env.insert("chaddr".to_string(), Value::Bytes(vec![2, 0, 0, 0, 0, 9]));
    env.insert(
        "server_ip".to_string(),
        Value::Ipv4(Ipv4Addr::new(192, 0, 2, 1)),
    );
    env.insert(
        "pool_start".to_string(),
        Value::Ipv4(Ipv4Addr::new(192, 0, 2, 100)),
    );
    env.insert(
        "pool_end".to_string(),
        Value::Ipv4(Ipv4Addr::new(192, 0, 2, 200)),
    );
    (t, env)
}

fn generated_suite(n: usize) -> String {
    let mut s = String::from(SUITE.split("cases:").next().unwrap());
    s.push_str("cases:\n");
    for i in 0..n {
        s.push_str(&format!(
            "  - id: gen-{i}\n    spec: RFC 2131 §4.3.1\n    level: MUST\n    text: generated\n    tags: [gen]\n    steps:\n      - receive: {{ template: offer, capture: {{ ip: yiaddr }} }}\n      - log: \"got $ip\"\n"
        ));
    }
    s
}

fn bench(c: &mut Criterion) {
    let p = protocol_by_name("dhcp").unwrap();
    let msg = offer(p.as_ref());
    let (t, env) = template();
    assert!(
        t.matches(msg.as_ref(), &env as &dyn Env),
        "bench template must match: {:?}",
        t.explain(msg.as_ref(), &env)
    );
    let mut g = c.benchmark_group("matcher");
    g.throughput(Throughput::Elements(1));
    g.bench_function("offer_15_options_superset_ranges", |b| {
        b.iter(|| black_box(t.matches(black_box(msg.as_ref()), &env)))
    });
    // The failing path builds the full mismatch report; it runs once per timeout, not per message.
    let mut env2 = env.clone();
    env2.insert("xid".to_string(), Value::Int(1));
    g.bench_function("offer_mismatch_report", |b| {
        b.iter(|| black_box(t.explain(black_box(msg.as_ref()), &env2)))
    });
    g.finish();

    let dir = std::env::temp_dir().join(format!("conform-bench-gen-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("gen.yaml");
    std::fs::write(&f, generated_suite(1000)).unwrap();
    let mut g = c.benchmark_group("load");
    g.sample_size(20);
    g.bench_function("check_1000_cases", |b| {
        b.iter(|| {
            let l = load_paths(std::slice::from_ref(&f));
            assert_eq!(l.suites[0].cases.len(), 1000);
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
