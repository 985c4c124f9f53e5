//! The CPU floor of one DNS case: the dns_query bench's suite case (send `query`, receive
//! `soa_answer`) run to its verdict against an in-process adapter that answers every query at
//! once with a canned SOA answer, on a current-thread runtime. No network, no server, no
//! cross-thread wake-up: what is left is conform's own work per case (identity, templates,
//! encode, decode, match, events, timers, tasks). Compare with the dns_query bench's
//! conform-minus-plain difference to tell CPU work from scheduling.
//! Run: `cargo run --release -p conform --example dns_case_cpu [CASES]`.

use async_trait::async_trait;
use conform_adapters::{Adapter, AdapterError, Incoming};
use conform_codec::{Datagram, Meta};
use conform_model::Verdict;
use conform_runner::exec::{run_case, CaseEnv, Emitter};
use conform_runner::harness::dns_soa_case;

use std::sync::Arc;
use std::time::{Instant, SystemTime};
use tokio::sync::broadcast;

/// Answers each query with the same SOA answer, id copied from the query.
struct Echo {
    tx: broadcast::Sender<Incoming>,
}

fn soa_answer(id: [u8; 2]) -> Vec<u8> {
    let mut p = vec![id[0], id[1], 0x84, 0, 0, 1, 0, 1, 0, 0, 0, 0];
    for l in ["example", "test"] {
        p.push(l.len() as u8);
        p.extend_from_slice(l.as_bytes());
    }
    p.extend_from_slice(&[0, 0, 6, 0, 1]);
    // The answer: owner is a pointer to the question name, SOA IN TTL 300.
    p.extend_from_slice(&[0xc0, 12, 0, 6, 0, 1, 0, 0, 1, 44]);
    let mut rd = Vec::new();
    for n in [["ns1", "example"], ["hostmaster", "example"]] {
        for l in n {
            rd.push(l.len() as u8);
            rd.extend_from_slice(l.as_bytes());
        }
        rd.extend_from_slice(&[4, b't', b'e', b's', b't', 0]);
    }
    for v in [2026010101u32, 3600, 600, 86400, 300] {
        rd.extend_from_slice(&v.to_be_bytes());
    }
    p.extend_from_slice(&(rd.len() as u16).to_be_bytes());
    p.extend_from_slice(&rd);
    p
}

#[async_trait]
impl Adapter for Echo {
    async fn send(&self, d: &Datagram) -> Result<(), AdapterError> {
        let id = [d.payload[0], d.payload[1]];
        let _ = self.tx.send(Incoming {
            datagram: Datagram {
                payload: soa_answer(id),
                meta: Meta {
                    transport: "udp".into(),
                    ..Meta::default()
                },
            },
            at: SystemTime::now(),
            seq: 0,
        });
        Ok(())
    }
    fn subscribe(&self) -> broadcast::Receiver<Incoming> {
        self.tx.subscribe()
    }
    fn describe(&self) -> String {
        "echo".into()
    }
}

/// Time this thread spent on a CPU (Linux schedstat), so other load on the machine does not
/// count.
fn on_cpu_ns() -> Option<u64> {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    let dir = std::env::temp_dir().join(format!("conform-dns-cpu-{}", std::process::id()));
    let one = dns_soa_case(&dir).unwrap_or_else(|e| panic!("{e}"));
    let case = one.case.clone();
    let params = one.default_params();
    let params = Arc::new(params);
    let (tx, _) = broadcast::channel(4096);
    let adapter: Arc<dyn Adapter> = Arc::new(Echo { tx });
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let (etx, mut erx) = tokio::sync::mpsc::unbounded_channel();
        let emitter = Emitter::new(etx);
        let start = Instant::now();
        let cpu0 = on_cpu_ns();
        for i in 0..n {
            let env = CaseEnv {
                adapter: adapter.clone(),
                proto: one.protocol.clone(),
                params: params.clone(),
                seed: i as u64,
                emitter: emitter.clone(),
            };
            let r = run_case(case.clone(), env).await;
            assert_eq!(r.verdict, Verdict::Pass, "{:?}", r.reason);
            while erx.try_recv().is_ok() {}
        }
        let per = start.elapsed() / n as u32;
        let cpu = on_cpu_ns().zip(cpu0).map(|(b, a)| (b - a) as f64 / n as f64 / 1000.0);
        println!(
            "one DNS case, in-process answer, current thread: {per:?} wall, {} on CPU per case ({n} cases)",
            cpu.map(|c| format!("{c:.2}µs")).unwrap_or_else(|| "?".into())
        );
    });
    let _ = std::fs::remove_dir_all(&dir);
}
