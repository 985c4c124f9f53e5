//! Replay pacing: a captured client's DORA replayed by conform (the suite `conform replay`
//! runs: encode, adapter, decode, template match under the replay rules, captures, events)
//! versus a minimal raw client that resends the captured request bytes with xid, chaddr,
//! requested IP and server identifier patched at fixed offsets and checks replies by byte
//! offsets. Both wait for each answer before sending the next request, against the same dnsmasq
//! in one lab, interleaved per client so both see the same server state. Prints medians and the
//! ratio: replay is limited by the server's response time when the ratio is close to 1.
//!
//! Needs root and dnsmasq. Run: `cargo run --release -p conform --example replay_pacing
//! [CAPTURE] [CLIENTS] [ROUNDS]` (default suites/dhcp/clients/dhclient.pcapng, 40, 10).

use conform_adapters::pcap_replay::{exchanges, read_trace, DhcpRules, TraceRules};
use conform_adapters::Adapter;
use conform_codec::{protocol_by_name, Datagram};
use conform_lab::{Lab, LabOptions, Profile};
use conform_model::Verdict;
use conform_runner::exec::{run_case, CaseEnv, Emitter};
use conform_runner::harness::{median, one_case};
use conform_runner::replay::{import_capture, ImportOptions};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn main() {
    if !conform_lab::is_root() || conform_lab::find_binary("dnsmasq").is_none() {
        println!("SKIPPED: the replay pacing bench needs root and dnsmasq (ci/install-servers.sh)");
        return;
    }
    let args: Vec<String> = std::env::args().collect();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let capture = args
        .get(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("suites/dhcp/clients/dhclient.pcapng"));
    let clients: u32 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(40);
    let rounds: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(10);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(bench(capture, clients, rounds));
}

/// Offset of option `code`'s data in a DHCP payload.
fn option_at(p: &[u8], code: u8) -> Option<usize> {
    let mut i = 240;
    while i + 1 < p.len() && p[i] != 255 {
        if p[i] == 0 {
            i += 1;
            continue;
        }
        if p[i] == code {
            return Some(i + 2);
        }
        i += 2 + p[i + 1] as usize;
    }
    None
}

/// The captured request with this client's xid and MAC (and client-id `01`+MAC) patched in.
fn patch(d: &Datagram, xid: u32, mac: [u8; 6]) -> Datagram {
    let mut d = d.clone();
    let p = &mut d.payload;
    p[4..8].copy_from_slice(&xid.to_be_bytes());
    p[28..34].copy_from_slice(&mac);
    if let Some(i) = option_at(p, 61) {
        if p[i - 1] == 7 && p[i] == 1 {
            p[i + 1..i + 7].copy_from_slice(&mac);
        }
    }
    d.meta.eth_src = Some(mac);
    d
}

/// (message type, yiaddr, server id) of a reply to `xid`.
fn reply(p: &[u8], xid: u32) -> Option<(u8, [u8; 4], [u8; 4])> {
    if p.len() < 240 || p[0] != 2 || p[4..8] != xid.to_be_bytes() {
        return None;
    }
    let mt = p[option_at(p, 53)?];
    let sid = option_at(p, 54)
        .map(|i| [p[i], p[i + 1], p[i + 2], p[i + 3]])
        .unwrap_or([0; 4]);
    Some((mt, [p[16], p[17], p[18], p[19]], sid))
}

async fn minimal(
    a: &Arc<dyn Adapter>,
    discover: &Datagram,
    request: &Datagram,
    k: u32,
) -> Duration {
    let mac = [0x02, 0xcc, 0, 0, (k >> 8) as u8, k as u8];
    let xid = 0xcc00_0000 | k;
    let mut rx = a.subscribe();
    let start = Instant::now();
    a.send(&patch(discover, xid, mac)).await.expect("send");
    let (yi, sid) = loop {
        let inc = rx.recv().await.expect("recv");
        if let Some((2, yi, sid)) = reply(&inc.datagram.payload, xid) {
            break (yi, sid);
        }
    };
    let mut req = patch(request, xid, mac);
    if let Some(i) = option_at(&req.payload, 50) {
        req.payload[i..i + 4].copy_from_slice(&yi);
    }
    if let Some(i) = option_at(&req.payload, 54) {
        req.payload[i..i + 4].copy_from_slice(&sid);
    }
    a.send(&req).await.expect("send");
    loop {
        let inc = rx.recv().await.expect("recv");
        if let Some((5, _, _)) = reply(&inc.datagram.payload, xid) {
            break;
        }
    }
    start.elapsed()
}

async fn bench(capture: PathBuf, clients: u32, rounds: usize) {
    let trace = read_trace(&capture, &DhcpRules.filter()).expect("capture");
    let ex = exchanges(&trace, &DhcpRules).expect("exchanges");
    assert!(
        ex.exchanges.len() >= 2 && ex.exchanges[0].req.kind == "DISCOVER",
        "the capture must start with a DORA"
    );
    let discover = ex.exchanges[0].request.datagram.clone();
    let request = ex.exchanges[1].request.datagram.clone();
    let imported = import_capture(
        &capture,
        &ImportOptions {
            name: "pacing".into(),
            ..ImportOptions::default()
        },
    )
    .expect("import");
    let dir = std::env::temp_dir().join(format!("conform-replay-pacing-{}", std::process::id()));
    let one = one_case(&dir, "pacing.yaml", &imported.files[0]).unwrap_or_else(|e| panic!("{e}"));
    let case = one.case.clone();
    let lab = Lab::start(
        Profile::resolve("dnsmasq").expect("profile"),
        LabOptions {
            run_dir: Some(dir.join("lab")),
            ..LabOptions::default()
        },
    )
    .await
    .expect("lab");
    let adapter = lab.adapter();
    let params = one.params_with(|p| {
        lab.params()
            .get(&p.name)
            .map(|t| p.ty.parse_text(t).expect("param"))
    });
    let proto = protocol_by_name("dhcp").unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let drain = tokio::spawn(async move { while rx.recv().await.is_some() {} });
    let emitter = Emitter::new(tx);
    let env = |k: u32| CaseEnv {
        adapter: adapter.clone(),
        proto: proto.clone(),
        params: Arc::new(params.clone()),
        seed: u64::from(k),
        emitter: emitter.clone(),
    };
    // Warm-up: every client of both kinds gets its lease once.
    for k in 0..clients {
        minimal(&adapter, &discover, &request, k).await;
        let r = run_case(case.clone(), env(k)).await;
        assert_eq!(r.verdict, Verdict::Pass, "{:?}", r.reason);
    }
    let (mut mins, mut reps) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        for k in 0..clients {
            let (a, d, q) = (adapter.clone(), discover.clone(), request.clone());
            mins.push(
                tokio::spawn(async move { minimal(&a, &d, &q, k).await })
                    .await
                    .expect("task"),
            );
            let (case, e) = (case.clone(), env(k));
            let (took, r) = tokio::spawn(async move {
                let start = Instant::now();
                let r = run_case(case, e).await;
                (start.elapsed(), r)
            })
            .await
            .expect("task");
            assert_eq!(r.verdict, Verdict::Pass, "{:?}", r.reason);
            reps.push(took);
        }
    }
    lab.shutdown().await;
    drop(emitter);
    let _ = drain.await;
    let _ = std::fs::remove_dir_all(&dir);
    let (m, c) = (median(mins), median(reps));
    println!(
        "replay pacing: {} DORAs of {} against dnsmasq, each side, interleaved",
        clients as usize * rounds,
        capture.display()
    );
    println!("  minimal raw client (patched captured bytes): median {m:?}");
    println!("  conform replay case:                         median {c:?}");
    println!(
        "  ratio replay/minimal: {:.2}x",
        c.as_secs_f64() / m.as_secs_f64()
    );
}
