//! Per-query overhead of conform on DNS (issue target: at most 1.1x a plain UDP client): the
//! same SOA query to the same NSD on a loopback port, through a plain tokio UDP socket (bytes
//! encoded once, id checked by offset) and through conform (a suite case using the
//! suites/dns templates: encode, adapter, decode, template match, events), interleaved, all as
//! worker tasks. A third side, for context, is a client that does the DNS work with a library
//! (hickory-proto builds the query and parses and checks the answer); the target is judged
//! against the plain client. The bench starts NSD itself on 127.0.0.1 and stops it by PID.
//! Run: `cargo bench -p conform --bench dns_query` (needs `nsd`; prints SKIPPED otherwise).
//!
//! Where the client and NSD run decides the plain query's own time (8 µs to 80 µs on a 2-vCPU
//! VM), so the ratio depends on placement. With `taskset` and two allowed CPUs (the first two
//! of the process's affinity list; called A and B here) the bench runs itself once per
//! placement, prints each run's `RESULT` line, then a table with the target per placement:
//! - `split`: the bench on A, NSD alone on B, as a server under test runs beside its tester
//!   (the plain query includes a cross-CPU wake-up, slow on a VM);
//! - `shared`: the bench and NSD on A (stable, the one for comparing two builds; the plain
//!   query is only ~8 µs there, so any per-case work shows as a large ratio);
//! - `unpinned`: wherever the scheduler puts them (runs land in a fast or a slow mode).
//!
//! `CONFORM_BENCH_RUNS` runs each placement that many times (default 3); the table shows the
//! median run. It exits non-zero when a placement gave no result.
//!
//! One run by hand (to profile a side, count syscalls or compare two builds), pinned by you:
//! `CONFORM_BENCH_PLACEMENT=shared taskset -c 0 <bench binary> --bench`, with
//! `CONFORM_BENCH_NSD_CPU=1` for split. `CONFORM_BENCH_PLACEMENT` only names the run (the
//! parent sets it for its children); `CONFORM_BENCH_ONLY=plain|conform|hickory` runs one side alone
//! (also a single run); `CONFORM_BENCH_ROUNDS` sets the queries per side.

use conform_model::Verdict;
use conform_runner::exec::{CaseEnv, Emitter};
use conform_runner::harness::{dns_soa_case, median, timed_case};
use conform_runner::target::{start, TargetSpec};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Queries per side; `CONFORM_BENCH_ROUNDS` overrides it (longer runs for profiling).
fn rounds() -> usize {
    std::env::var("CONFORM_BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(400)
}

/// A placement of the bench process and NSD on the CPUs: which of the two allowed CPUs (0 for
/// the first, 1 for the second) each is pinned to, if any.
struct Placement {
    name: &'static str,
    bench_cpu: Option<usize>,
    nsd_cpu: Option<usize>,
}

const PLACEMENTS: [Placement; 3] = [
    Placement {
        name: "split",
        bench_cpu: Some(0),
        nsd_cpu: Some(1),
    },
    Placement {
        name: "shared",
        bench_cpu: Some(0),
        nsd_cpu: None,
    },
    Placement {
        name: "unpinned",
        bench_cpu: None,
        nsd_cpu: None,
    },
];

/// The CPUs this process may run on, from `Cpus_allowed_list` in /proc/self/status
/// (`0-1`, `2-3,6`): a cpuset need not start at CPU 0.
fn allowed_cpus() -> Vec<usize> {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let Some(list) = status
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
    else {
        return Vec::new();
    };
    let mut cpus = Vec::new();
    for part in list.trim().split(',').filter(|p| !p.is_empty()) {
        let (lo, hi) = part.split_once('-').unwrap_or((part, part));
        if let (Ok(lo), Ok(hi)) = (lo.parse::<usize>(), hi.parse::<usize>()) {
            cpus.extend(lo..=hi);
        }
    }
    cpus
}

fn has(cmd: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {cmd}")])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// Runs this bench once per placement (each `CONFORM_BENCH_RUNS` times) on the CPUs `cpus`
/// (two), echoing the children's result lines, then prints the table and the target per
/// placement. Exits with 1 if a placement gave no result.
fn all_placements(cpus: [usize; 2]) {
    let runs: usize = std::env::var("CONFORM_BENCH_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(3)
        .max(1);
    let exe = std::env::current_exe().expect("the bench's own path");
    let mut table = Vec::new();
    for p in &PLACEMENTS {
        let mut got: Vec<RunResult> = Vec::new();
        for _ in 0..runs {
            let mut cmd = match p.bench_cpu {
                Some(i) => {
                    let mut c = Command::new("taskset");
                    c.args(["-c", &cpus[i].to_string()]).arg(&exe);
                    c
                }
                None => Command::new(&exe),
            };
            cmd.arg("--bench").env("CONFORM_BENCH_PLACEMENT", p.name);
            match p.nsd_cpu {
                Some(i) => cmd.env("CONFORM_BENCH_NSD_CPU", cpus[i].to_string()),
                None => cmd.env_remove("CONFORM_BENCH_NSD_CPU"),
            };
            // A child's panic (NSD silent, a failed case) shows as it happens.
            cmd.stderr(Stdio::inherit());
            let out = cmd.output().expect("run the bench for one placement");
            let text = String::from_utf8_lossy(&out.stdout);
            match text.lines().find_map(RunResult::parse) {
                Some(r) => {
                    println!("{}", r.line());
                    got.push(r);
                }
                None => println!("{}: no result ({}): {}", p.name, out.status, text.trim()),
            }
        }
        let n = got.len();
        got.sort_by(|a, b| a.ratio.total_cmp(&b.ratio));
        let median = (n > 0).then(|| got.swap_remove(n / 2));
        table.push((p.name, n, median));
    }
    println!();
    println!("SOA query to NSD on loopback, the median run of each placement:");
    println!("| placement | runs | plain (median) | conform (median) | ratio (per round) | added per query (per round) | hickory-proto client (median) | conform against it (per round) |");
    println!("| --- | --- | --- | --- | --- | --- | --- | --- |");
    for (name, n, r) in &table {
        match r {
            Some(r) => println!(
                "| {name} | {n} | {:.1} µs | {:.1} µs | {:.2}x | {:.1} µs | {:.1} µs | {:.2}x |",
                r.plain_us, r.conform_us, r.ratio, r.diff_us, r.hickory_us, r.ratio_hickory
            ),
            None => println!("| {name} | 0 | no result | | | | | |"),
        }
    }
    let verdicts: Vec<String> = table
        .iter()
        .map(|(name, _, r)| match r {
            Some(r) if r.ratio <= 1.10 => format!("{name} {:.2}x met", r.ratio),
            Some(r) => format!("{name} {:.2}x NOT met", r.ratio),
            None => format!("{name} no result"),
        })
        .collect();
    println!("target <= 1.10x: {}", verdicts.join("; "));
    if table.iter().any(|(_, _, r)| r.is_none()) {
        std::process::exit(1);
    }
}

/// One run's figures, as a child prints them on its `RESULT` line.
struct RunResult {
    placement: String,
    plain_us: f64,
    conform_us: f64,
    ratio: f64,
    diff_us: f64,
    hickory_us: f64,
    /// Per round, conform against the hickory-proto client.
    ratio_hickory: f64,
}

impl RunResult {
    fn line(&self) -> String {
        format!(
            "RESULT placement={} plain_us={:.2} conform_us={:.2} ratio={:.3} diff_us={:.2} hickory_us={:.2} ratio_hickory={:.3}",
            self.placement,
            self.plain_us,
            self.conform_us,
            self.ratio,
            self.diff_us,
            self.hickory_us,
            self.ratio_hickory
        )
    }

    fn parse(line: &str) -> Option<RunResult> {
        let rest = line.strip_prefix("RESULT ")?;
        let field = |k: &str| {
            rest.split(' ')
                .find_map(|kv| kv.strip_prefix(k)?.strip_prefix('='))
        };
        let num = |k: &str| field(k)?.parse::<f64>().ok();
        Some(RunResult {
            placement: field("placement")?.to_string(),
            plain_us: num("plain_us")?,
            conform_us: num("conform_us")?,
            ratio: num("ratio")?,
            diff_us: num("diff_us")?,
            hickory_us: num("hickory_us")?,
            ratio_hickory: num("ratio_hickory")?,
        })
    }
}

fn main() {
    if let Ok(side) = std::env::var("CONFORM_BENCH_ONLY") {
        assert!(
            ["plain", "conform", "hickory"].contains(&side.as_str()),
            "CONFORM_BENCH_ONLY={side}: expected plain, conform or hickory"
        );
    }
    if !has("nsd") {
        println!("SKIPPED: the DNS query bench needs nsd (ci/install-dns-servers.sh)");
        return;
    }
    if std::env::var_os("CONFORM_BENCH_PLACEMENT").is_none()
        && std::env::var_os("CONFORM_BENCH_ONLY").is_none()
    {
        let cpus = allowed_cpus();
        if has("taskset") && cpus.len() >= 2 {
            all_placements([cpus[0], cpus[1]]);
            return;
        }
        println!(
            "one run only, placed by the scheduler: placements need taskset and two allowed CPUs ({} here)",
            cpus.len()
        );
    }
    // A silent NSD must end the run, not hang it: a watchdog thread that ends a run whose
    // rounds stop advancing (not a timeout per plain query, which would add a timer to the
    // side compared against; not a total time, which a long run under valgrind can exceed).
    std::thread::spawn(|| {
        const STALL: Duration = Duration::from_secs(60);
        let mut seen = PROGRESS.load(Ordering::Relaxed);
        loop {
            std::thread::sleep(STALL);
            let now = PROGRESS.load(Ordering::Relaxed);
            if now == seen {
                eprintln!("dns_query bench: no round ended in {STALL:?} (nsd silent?); giving up");
                kill_nsd();
                std::process::exit(2);
            }
            seen = now;
        }
    });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(bench());
}

/// NSD's PID while it runs, for the watchdog (0: none). Whoever takes it (the watchdog or
/// [`Nsd`]'s drop) is the one who stops NSD.
static NSD_PID: AtomicU32 = AtomicU32::new(0);

/// Rounds begun, for the watchdog (also counts the warm-up and while NSD starts: 0).
static PROGRESS: AtomicU64 = AtomicU64::new(0);

/// Removes the run's directory. NSD's helper processes (xfrd writes its state there) may
/// still be ending after NSD itself: a few tries.
fn remove_run_dir() {
    let dir = run_dir();
    for _ in 0..20 {
        if std::fs::remove_dir_all(&dir).is_ok() || !dir.exists() {
            return;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// The run's directory (NSD's config, zone and state), removed when the run ends.
fn run_dir() -> std::path::PathBuf {
    std::env::temp_dir().join(format!("conform-dns-bench-{}", std::process::id()))
}

/// Ends NSD by its PID (`kill` from the shell: this crate has no unsafe code for a signal)
/// and removes the run's directory.
fn kill_nsd() {
    let pid = NSD_PID.swap(0, Ordering::SeqCst);
    if pid != 0 {
        let _ = Command::new("kill").arg(pid.to_string()).status();
    }
    remove_run_dir();
}

/// The NSD this bench started; stopped (and the run's directory removed) when dropped, so a
/// panicking run leaves neither.
struct Nsd(std::process::Child);

impl Drop for Nsd {
    fn drop(&mut self) {
        // The watchdog took it: it stops NSD and exits the process.
        if NSD_PID.swap(0, Ordering::SeqCst) == 0 {
            return;
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
        remove_run_dir();
    }
}

/// The zone and config from the repository's NSD profile, pointed at a loopback port.
fn start_nsd(dir: &std::path::Path, port: u16) -> Nsd {
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
    let child = cmd
        .args(["-d", "-c"])
        .arg(dir.join("nsd.conf"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("nsd");
    NSD_PID.store(child.id(), Ordering::SeqCst);
    Nsd(child)
}

/// The sides of a round.
#[derive(Clone, Copy, PartialEq)]
enum Side {
    /// Pre-encoded bytes, the answer's id checked by offset: the least a UDP client can do.
    Plain,
    /// The suite case through conform.
    Conform,
    /// A straightforward client built on a DNS library: each query built from the name and
    /// encoded, each answer parsed whole and checked (rcode, first answer's type), with
    /// hickory-proto, conform's own encoder dependency. (conform memoises its encoding and
    /// reads the answer only as far as the template asks.)
    Hickory,
}

impl Side {
    fn name(self) -> &'static str {
        match self {
            Side::Plain => "plain",
            Side::Conform => "conform",
            Side::Hickory => "hickory",
        }
    }
}

/// One SOA query the hickory-proto way, timed from building the query to the checked answer.
async fn hickory_query(s: &tokio::net::UdpSocket) -> Duration {
    use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
    use hickory_proto::rr::{Name, RecordType};
    let mut buf = vec![0u8; 4096];
    let start = Instant::now();
    let mut m = Message::new(0x1abd, MessageType::Query, OpCode::Query);
    m.add_query(Query::query(
        Name::from_ascii("example.test.").expect("name"),
        RecordType::SOA,
    ));
    let q = m.to_vec().expect("encode");
    s.send(&q).await.unwrap();
    loop {
        let n = s.recv(&mut buf).await.unwrap();
        let Ok(a) = Message::from_vec(&buf[..n]) else {
            continue;
        };
        if a.metadata.id == 0x1abd {
            assert_eq!(a.metadata.response_code, ResponseCode::NoError);
            assert_eq!(
                a.answers.first().map(|r| r.record_type()),
                Some(RecordType::SOA)
            );
            break;
        }
    }
    start.elapsed()
}

async fn bench() {
    let dir = run_dir();
    std::fs::create_dir_all(&dir).unwrap();
    let port = 20000 + (std::process::id() % 20000) as u16;
    let nsd = start_nsd(&dir, port);
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
    let (mut plain, mut through, mut library) = (Vec::new(), Vec::new(), Vec::new());
    let rounds = rounds();
    // CONFORM_BENCH_ONLY=plain|conform|hickory runs one side alone, to profile or count
    // syscalls and context switches of that side (`perf stat -e context-switches`, `strace -c`).
    let only = std::env::var("CONFORM_BENCH_ONLY").ok();
    let runs = |side: Side| only.as_deref().is_none_or(|o| o == side.name());
    // Each round runs the three sides back to back, in an order that goes through all six
    // permutations round by round: whichever side runs after another finds its effects (a
    // woken NSD, caches, the scheduler's bookkeeping on a shared vCPU), and a fixed order
    // would give them all to one side. In this sequence every side takes each place twice and,
    // across round boundaries too, follows each other side equally often and never itself.
    const ORDERS: [[Side; 3]; 6] = [
        [Side::Plain, Side::Conform, Side::Hickory],
        [Side::Plain, Side::Hickory, Side::Conform],
        [Side::Hickory, Side::Conform, Side::Plain],
        [Side::Conform, Side::Plain, Side::Hickory],
        [Side::Conform, Side::Hickory, Side::Plain],
        [Side::Hickory, Side::Plain, Side::Conform],
    ];
    // The first rounds (whole cycles of the orders) warm caches on every side.
    const WARM: usize = 4 * ORDERS.len();
    for i in 0..rounds + WARM {
        PROGRESS.fetch_add(1, Ordering::Relaxed);
        let keep = i >= WARM;
        for side in ORDERS[i % ORDERS.len()] {
            if !runs(side) {
                continue;
            }
            match side {
                Side::Conform => {
                    let env = CaseEnv {
                        adapter: target.adapter.clone(),
                        proto: one.protocol.clone(),
                        params: params.clone(),
                        seed: i as u64,
                        emitter: emitter.clone(),
                    };
                    let (took, r) = timed_case(case.clone(), env).await;
                    assert_eq!(r.verdict, Verdict::Pass, "{:?}", r.reason);
                    if keep {
                        through.push(took);
                    }
                }
                Side::Plain => {
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
                    if keep {
                        plain.push(took);
                    }
                }
                Side::Hickory => {
                    let s = sock.clone();
                    let took = tokio::spawn(async move { hickory_query(&s).await })
                        .await
                        .unwrap();
                    if keep {
                        library.push(took);
                    }
                }
            }
        }
    }
    target.shutdown().await;
    drop(nsd);
    drop(emitter);
    let _ = drain.await;
    if let Some(side) = only {
        let v = [plain, through, library]
            .into_iter()
            .find(|v| !v.is_empty())
            .unwrap_or_else(|| panic!("CONFORM_BENCH_ONLY={side}: plain, conform or hickory"));
        println!("{side} alone, {rounds} queries: median {:?}", median(v));
        return;
    }
    // Per-round figures as well: each round's queries ran back to back, so their ratio and
    // difference see the same machine state, where the medians of each side can drift apart
    // when other work on the shared cores comes and goes during the run.
    let per_round = |base: &[Duration]| {
        let mut ratios: Vec<f64> = base
            .iter()
            .zip(&through)
            .map(|(b, c)| c.as_secs_f64() / b.as_secs_f64())
            .collect();
        ratios.sort_by(f64::total_cmp);
        let mut diffs: Vec<f64> = base
            .iter()
            .zip(&through)
            .map(|(b, c)| (c.as_secs_f64() - b.as_secs_f64()) * 1e6)
            .collect();
        diffs.sort_by(f64::total_cmp);
        (ratios[ratios.len() / 2], diffs[diffs.len() / 2])
    };
    let (pr, pd) = per_round(&plain);
    let (hr, hd) = per_round(&library);
    let (p, c, h) = (median(plain), median(through), median(library));
    println!("SOA query to NSD on loopback, {rounds} queries each, interleaved:");
    println!("  plain UDP client:       median {p:?}");
    println!("  hickory-proto client:   median {h:?}");
    println!("  conform (suite case):   median {c:?}");
    println!(
        "  ratio conform/plain: {:.2}x (target <= 1.10x)",
        c.as_secs_f64() / p.as_secs_f64()
    );
    println!(
        "  per round, conform against plain: median ratio {pr:.2}x, median difference {pd:.1} µs"
    );
    println!("  per round, conform against hickory-proto: median ratio {hr:.2}x, median difference {hd:.1} µs");
    let placement = std::env::var("CONFORM_BENCH_PLACEMENT").unwrap_or_else(|_| "unnamed".into());
    println!(
        "{}",
        RunResult {
            placement,
            plain_us: p.as_secs_f64() * 1e6,
            conform_us: c.as_secs_f64() * 1e6,
            ratio: pr,
            diff_us: pd,
            hickory_us: h.as_secs_f64() * 1e6,
            ratio_hickory: hr,
        }
        .line()
    );
}
