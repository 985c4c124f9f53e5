//! Per-query overhead of conform on DNS (issue target: at most 1.1x a plain UDP client): the
//! same SOA query to the same NSD on a loopback port, through a plain tokio UDP socket (bytes
//! encoded once, id checked by offset) and through conform (a suite case using the
//! suites/dns templates: encode, adapter, decode, template match, events), interleaved, both as
//! worker tasks. The bench starts NSD itself on 127.0.0.1 and stops it by PID.
//! Run: `cargo bench -p conform --bench dns_query` (needs `nsd`; prints SKIPPED otherwise).
//! On a VM whose idle vCPUs sleep deeply, whole runs land in a fast or a slow mode; for
//! comparing two builds, `taskset -c 0 <bench binary> --bench` keeps both sides and NSD on one
//! vCPU (stable), and `CONFORM_BENCH_NSD_CPU=1` with it puts NSD alone on the other vCPU.

use conform_model::Verdict;
use conform_runner::exec::{CaseEnv, Emitter};
use conform_runner::harness::{dns_soa_case, timed_case};
use conform_runner::target::{start, TargetSpec};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Queries per side; `CONFORM_BENCH_ROUNDS` overrides it (longer runs for profiling).
fn rounds() -> usize {
    std::env::var("CONFORM_BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(400)
}

fn main() {
    if Command::new("sh")
        .args(["-c", "command -v nsd"])
        .output()
        .map(|o| !o.status.success())
        .unwrap_or(true)
    {
        println!("SKIPPED: the DNS query bench needs nsd (ci/install-dns-servers.sh)");
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(bench());
}

/// The zone and config from the repository's NSD profile, pointed at a loopback port.
fn start_nsd(dir: &std::path::Path, port: u16) -> std::process::Child {
    let prof = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../profiles/zones/example.test.zone"
    ))
    .expect("zone");
    std::fs::write(dir.join("example.test.zone"), prof).unwrap();
    let d = dir.display();
    std::fs::write(
        dir.join("nsd.conf"),
        format!(
            "server:\n    ip-address: 127.0.0.1@{port}\n    do-ip6: no\n    username: \"\"\n    chroot: \"\"\n    database: \"\"\n    zonesdir: \"{d}\"\n    zonelistfile: \"{d}/zone.list\"\n    xfrdfile: \"{d}/xfrd.state\"\n    xfrdir: \"{d}\"\n    pidfile: \"{d}/nsd.pid\"\n    logfile: \"{d}/nsd.log\"\n    server-count: 1\n    rrl-ratelimit: 0\n    rrl-whitelist-ratelimit: 0\nremote-control:\n    control-enable: no\nzone:\n    name: \"example.test\"\n    zonefile: \"{d}/example.test.zone\"\n"
        ),
    )
    .unwrap();
    // CONFORM_BENCH_NSD_CPU pins NSD to one CPU (run the bench itself under `taskset` on the
    // other): on a VM whose idle vCPUs sleep deeply, where each side lands decides whole runs.
    let mut cmd = match std::env::var("CONFORM_BENCH_NSD_CPU") {
        Ok(cpu) => {
            let mut c = Command::new("taskset");
            c.args(["-c", &cpu, "nsd"]);
            c
        }
        Err(_) => Command::new("nsd"),
    };
    cmd.args(["-d", "-c"])
        .arg(dir.join("nsd.conf"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("nsd")
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

async fn bench() {
    let dir = std::env::temp_dir().join(format!("conform-dns-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let port = 20000 + (std::process::id() % 20000) as u16;
    let mut nsd = start_nsd(&dir, port);
    let server = format!("127.0.0.1:{port}");
    // The plain client: one pre-encoded query, the id checked at offset 0.
    let query: Vec<u8> = {
        let mut q = vec![0x1a, 0xbc, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        for l in ["example", "test"] {
            q.push(l.len() as u8);
            q.extend_from_slice(l.as_bytes());
        }
        q.extend_from_slice(&[0, 0, 6, 0, 1]);
        q
    };
    let sock = Arc::new(tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap());
    sock.connect(&server).await.unwrap();
    // Wait until NSD answers (bounded).
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut buf = vec![0u8; 4096];
    loop {
        sock.send(&query).await.unwrap();
        if let Ok(Ok(n)) =
            tokio::time::timeout(Duration::from_millis(100), sock.recv(&mut buf)).await
        {
            if n > 2 && buf[..2] == query[..2] {
                break;
            }
        }
        assert!(Instant::now() < deadline, "nsd did not answer on {server}");
    }
    let one = dns_soa_case(&dir).unwrap_or_else(|e| panic!("{e}"));
    let case = one.case.clone();
    let params = one.default_params();
    let params = Arc::new(params);
    let target = start(
        &TargetSpec {
            udp: Some(server.clone()),
            ..TargetSpec::default()
        },
        "dns",
    )
    .await
    .map_err(|_| "target")
    .unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let drain = tokio::spawn(async move { while rx.recv().await.is_some() {} });
    let emitter = Emitter::new(tx);
    let (mut plain, mut through) = (Vec::new(), Vec::new());
    let rounds = rounds();
    // CONFORM_BENCH_ONLY=plain|conform runs one side alone, to profile or count syscalls and
    // context switches of that side (`perf stat -e context-switches`, `strace -c`).
    let only = std::env::var("CONFORM_BENCH_ONLY").ok();
    let (run_plain, run_conform) = match only.as_deref() {
        Some("plain") => (true, false),
        Some("conform") => (false, true),
        _ => (true, true),
    };
    // Each round runs both sides back to back, in an order that alternates from round to
    // round: whichever side runs second finds the other's effects (a woken NSD, caches, the
    // scheduler's bookkeeping on a shared vCPU), and a fixed order would give them all to one.
    for i in 0..rounds + 20 {
        let conform_first = i % 2 == 1;
        for side in [conform_first, !conform_first] {
            if side {
                if !run_conform {
                    continue;
                }
                let env = CaseEnv {
                    adapter: target.adapter.clone(),
                    proto: one.protocol.clone(),
                    params: params.clone(),
                    seed: i as u64,
                    emitter: emitter.clone(),
                };
                let (t2, r) = timed_case(case.clone(), env).await;
                assert_eq!(r.verdict, Verdict::Pass, "{:?}", r.reason);
                // The first rounds warm caches on both sides.
                if i >= 20 {
                    through.push(t2);
                }
            } else {
                if !run_plain {
                    continue;
                }
                let s = sock.clone();
                let q = query.clone();
                let took = tokio::spawn(async move {
                    let mut buf = vec![0u8; 4096];
                    let start = Instant::now();
                    s.send(&q).await.unwrap();
                    loop {
                        let n = s.recv(&mut buf).await.unwrap();
                        if n > 2 && buf[..2] == q[..2] {
                            break;
                        }
                    }
                    start.elapsed()
                })
                .await
                .unwrap();
                if i >= 20 {
                    plain.push(took);
                }
            }
        }
    }
    target.shutdown().await;
    let _ = nsd.kill();
    let _ = nsd.wait();
    drop(emitter);
    let _ = drain.await;
    if let Some(side) = only {
        let v = if run_plain { plain } else { through };
        println!("{side} alone, {rounds} queries: median {:?}", median(v));
        return;
    }
    // Per-round figures as well: each round's two queries ran back to back, so their ratio
    // and difference see the same machine state, where the medians of each side can drift
    // apart when other work on the shared cores comes and goes during the run.
    let mut ratios: Vec<f64> = plain
        .iter()
        .zip(&through)
        .map(|(p, c)| c.as_secs_f64() / p.as_secs_f64())
        .collect();
    ratios.sort_by(f64::total_cmp);
    let mut diffs: Vec<f64> = plain
        .iter()
        .zip(&through)
        .map(|(p, c)| (c.as_secs_f64() - p.as_secs_f64()) * 1e6)
        .collect();
    diffs.sort_by(f64::total_cmp);
    let (pr, pd) = (ratios[ratios.len() / 2], diffs[diffs.len() / 2]);
    let (p, c) = (median(plain), median(through));
    println!("SOA query to NSD on loopback, {rounds} queries each, interleaved:");
    println!("  plain UDP client:     median {p:?}");
    println!("  conform (suite case): median {c:?}");
    println!(
        "  ratio conform/plain: {:.2}x (target <= 1.10x)",
        c.as_secs_f64() / p.as_secs_f64()
    );
    println!("  per round: median ratio {pr:.2}x, median difference {pd:.1} µs");
}
