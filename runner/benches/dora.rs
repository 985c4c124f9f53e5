//! One DORA exchange through conform (suite template → codec → adapter → decode → match) versus
//! a minimal raw-socket client (hand-built bytes, byte-offset checks) against the same dnsmasq
//! in one lab, interleaved in rounds so both see the same server state. Prints medians and the
//! ratio (issue target: conform at most 1.1x the minimal client).
//!
//! Needs root and dnsmasq; otherwise prints why it is skipped. Run:
//! `cargo bench -p conform --bench dora`.

use conform_adapters::Adapter;
use conform_codec::{protocol_by_name, Datagram, Meta};
use conform_lab::dhcp_probe::ClientMessage;
use conform_lab::{Lab, LabOptions, Profile};
use conform_model::Verdict;
use conform_runner::exec::{run_case, CaseEnv, Emitter};
use conform_runner::harness::{median, one_case, timed_case};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::{Duration, Instant};

const CLIENTS: u32 = 40;
const ROUNDS: usize = 10;

fn main() {
    if !conform_lab::is_root() || conform_lab::find_binary("dnsmasq").is_none() {
        println!("SKIPPED: the DORA bench needs root and dnsmasq (ci/install-servers.sh)");
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(bench());
}

fn discover_datagram(m: &ClientMessage) -> Datagram {
    Datagram {
        payload: m.build(),
        meta: Meta {
            eth_src: Some(m.chaddr),
            eth_dst: Some([0xff; 6]),
            ip_src: Some(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
            ip_dst: Some(IpAddr::V4(Ipv4Addr::BROADCAST)),
            src_port: Some(68),
            dst_port: Some(67),
            transport: "udp".into(),
            ..Meta::default()
        },
    }
}

/// Message type (option 53) of a reply to `xid`, found by scanning the options by hand.
fn reply_type(p: &[u8], xid: u32) -> Option<(u8, Ipv4Addr, Ipv4Addr)> {
    if p.len() < 240 || p[0] != 2 || p[4..8] != xid.to_be_bytes() {
        return None;
    }
    let yi = Ipv4Addr::new(p[16], p[17], p[18], p[19]);
    let (mut i, mut mt, mut sid) = (240, None, Ipv4Addr::UNSPECIFIED);
    while i + 1 < p.len() && p[i] != 255 {
        if p[i] == 0 {
            i += 1;
            continue;
        }
        let l = p[i + 1] as usize;
        if i + 2 + l > p.len() {
            break;
        }
        match p[i] {
            53 if l == 1 => mt = Some(p[i + 2]),
            54 if l == 4 => sid = Ipv4Addr::new(p[i + 2], p[i + 3], p[i + 4], p[i + 5]),
            _ => {}
        }
        i += 2 + l;
    }
    mt.map(|m| (m, yi, sid))
}

async fn minimal_dora(a: &Arc<dyn Adapter>, k: u32) -> Duration {
    let chaddr = [0x02, 0xbb, 0, 0, (k >> 8) as u8, k as u8];
    let xid = 0xbb00_0000 | k;
    let mut rx = a.subscribe();
    let start = Instant::now();
    // The same message shapes as the suite's templates (broadcast flag set), so the server does
    // the same work for both clients.
    let discover = ClientMessage {
        broadcast: true,
        ..ClientMessage::discover(xid, chaddr)
    };
    a.send(&discover_datagram(&discover)).await.expect("send");
    let (yi, sid) = loop {
        let inc = rx.recv().await.expect("recv");
        if let Some((2, yi, sid)) = reply_type(&inc.datagram.payload, xid) {
            break (yi, sid);
        }
    };
    let request = ClientMessage {
        broadcast: true,
        ..ClientMessage::request(xid, chaddr, yi, sid)
    };
    a.send(&discover_datagram(&request)).await.expect("send");
    loop {
        let inc = rx.recv().await.expect("recv");
        if let Some((5, _, _)) = reply_type(&inc.datagram.payload, xid) {
            break;
        }
    }
    start.elapsed()
}

const SUITE: &str = r#"
imports: [LIB]
cases:
  - id: bench-dora
    spec: RFC 2131 §3.1
    level: MUST
    text: bench
    steps:
      - send: discover
      - receive: { template: offer, capture: { ip: yiaddr, sid: options.server_id } }
      - send: { template: request_selecting, args: { ip: $ip, sid: $sid } }
      - receive: { template: ack, args: { ip: $ip } }
"#;

async fn bench() {
    let profile = match Profile::resolve("dnsmasq") {
        Ok(p) => p,
        Err(e) => panic!("{e}"),
    };
    let dir = std::env::temp_dir().join(format!("conform-dora-bench-{}", std::process::id()));
    let lab = Lab::start(
        profile,
        LabOptions {
            run_dir: Some(dir.join("lab")),
            ..LabOptions::default()
        },
    )
    .await
    .expect("lab");
    let adapter = lab.adapter();
    let lib =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../suites/dhcp/lib/common.yaml");
    let one = one_case(
        &dir,
        "dora.yaml",
        &SUITE.replace("LIB", &lib.canonicalize().unwrap().display().to_string()),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let case = one.case.clone();
    let params = one.params_with(|p| {
        lab.params()
            .get(&p.name)
            .map(|t| p.ty.parse_text(t).expect("param"))
    });
    let proto = protocol_by_name("dhcp").unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let drain = tokio::spawn(async move { while rx.recv().await.is_some() {} });
    let emitter = Emitter::new(tx);
    let (mut minimal, mut through) = (Vec::new(), Vec::new());
    // Warm-up: every client gets its lease once, so the measured rounds are renewals of known
    // bindings for both sides.
    for k in 0..CLIENTS {
        minimal_dora(&adapter, k).await;
        let env = CaseEnv {
            adapter: adapter.clone(),
            proto: proto.clone(),
            params: Arc::new(params.clone()),
            seed: u64::from(k),
            emitter: emitter.clone(),
        };
        assert_eq!(run_case(case.clone(), env).await.verdict, Verdict::Pass);
    }
    // Both clients run as tasks on the runtime's workers, as cases do in `conform run`.
    for _ in 0..ROUNDS {
        for k in 0..CLIENTS {
            let a = adapter.clone();
            minimal.push(
                tokio::spawn(async move { minimal_dora(&a, k).await })
                    .await
                    .expect("task"),
            );
            let env = CaseEnv {
                adapter: adapter.clone(),
                proto: proto.clone(),
                params: Arc::new(params.clone()),
                seed: u64::from(k),
                emitter: emitter.clone(),
            };
            let (took, r) = timed_case(case.clone(), env).await;
            through.push(took);
            assert_eq!(r.verdict, Verdict::Pass, "{:?}", r.reason);
        }
    }
    lab.shutdown().await;
    // The lab's run directory and the case file: nothing of the run stays behind.
    let _ = std::fs::remove_dir_all(&dir);
    drop(emitter);
    let _ = drain.await;
    let (m, c) = (median(minimal), median(through));
    println!(
        "DORA against dnsmasq, {} exchanges each, interleaved:",
        CLIENTS as usize * ROUNDS
    );
    println!("  minimal raw-socket client: median {:?}", m);
    println!("  conform (suite case):      median {:?}", c);
    println!(
        "  ratio conform/minimal: {:.2}x (target <= 1.10x)",
        c.as_secs_f64() / m.as_secs_f64()
    );
}
