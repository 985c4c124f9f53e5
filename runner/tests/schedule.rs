//! Scheduling: `--jobs N` runs cases in parallel, an exclusive case runs alone, results come
//! back complete; verdict counts match. Uses the simulated peer and paused time.

use conform_adapters::sim::SimAdapter;
use conform_codec::protocol_by_name;
use conform_model::event::EventKind;
use conform_model::load::load_paths;
use conform_runner::exec::{CaseEnv, Emitter};
use conform_runner::plan::{run_all, Planned};
use std::collections::HashMap;
use std::sync::Arc;

fn suite(n: usize, exclusive: &[usize]) -> String {
    let mut s = String::from("protocol: dhcp\ncases:\n");
    for i in 0..n {
        let ex = if exclusive.contains(&i) {
            "    exclusive: true\n"
        } else {
            ""
        };
        s.push_str(&format!(
            "  - id: c{i}\n    spec: RFC 2131 §4.3.1\n    level: MUST\n    text: x\n{ex}    steps:\n      - wait: 1s\n      - setverdict: pass\n"
        ));
    }
    s
}

async fn run(
    n: usize,
    exclusive: &[usize],
    jobs: usize,
) -> (Vec<(String, f64, f64)>, conform_model::event::Counts) {
    // Removed when the run is done.
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("s.yaml");
    std::fs::write(&f, suite(n, exclusive)).unwrap();
    let loaded = load_paths(&[f]);
    assert!(
        loaded.diagnostics.is_empty(),
        "{}",
        loaded.render_diagnostics()
    );
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let emitter = Emitter::new(tx);
    let adapter = Arc::new(SimAdapter::new(Arc::new(|_| vec![])));
    let plan = loaded.suites[0]
        .cases
        .iter()
        .map(|c| Planned {
            case: c.clone(),
            env: CaseEnv {
                adapter: adapter.clone(),
                proto: protocol_by_name("dhcp").unwrap(),
                params: Arc::new(HashMap::new()),
                seed: 1,
                emitter: emitter.clone(),
            },
        })
        .collect();
    let out = run_all(plan, jobs, &HashMap::new()).await;
    drop(emitter);
    // (case, start, end) from the events.
    let mut spans: HashMap<String, (f64, f64)> = HashMap::new();
    while let Some(e) = rx.recv().await {
        match &e.kind {
            EventKind::CaseStarted { case, .. } => {
                spans.entry(case.clone()).or_default().0 = e.t_ms;
            }
            EventKind::CaseFinished { case, .. } => {
                spans.entry(case.clone()).or_default().1 = e.t_ms;
            }
            _ => {}
        }
    }
    let mut v: Vec<(String, f64, f64)> = spans.into_iter().map(|(k, (a, b))| (k, a, b)).collect();
    v.sort_by(|a, b| a.1.partial_cmp(&b.1).unwrap());
    (v, out.counts)
}

fn overlaps(a: &(String, f64, f64), b: &(String, f64, f64)) -> bool {
    a.1 < b.2 && b.1 < a.2
}

#[tokio::test(start_paused = true)]
async fn jobs_run_cases_in_parallel() {
    let (spans, counts) = run(8, &[], 4).await;
    assert_eq!(counts.pass, 8);
    let total = spans.iter().map(|s| s.2).fold(0.0, f64::max);
    // 8 one-second cases on 4 jobs: two waves.
    assert!((2000.0..2100.0).contains(&total), "{total}");
    let (_, c1) = run(3, &[], 1).await;
    assert_eq!(c1.pass, 3);
}

#[tokio::test(start_paused = true)]
async fn exclusive_cases_never_overlap_another_case() {
    let (spans, counts) = run(9, &[2, 6], 4).await;
    assert_eq!(counts.pass, 9);
    for ex in ["c2", "c6"] {
        let e = spans.iter().find(|s| s.0 == ex).unwrap();
        for other in spans.iter().filter(|s| s.0 != ex) {
            assert!(!overlaps(e, other), "{ex} overlaps {}: {spans:?}", other.0);
        }
    }
}
