//! `conform fuzz dhcp`: the command line over [`crate::campaign`].
//!
//! Exit codes as for `conform run`: 0 no finding, 1 findings, 2 usage, 3 harness error.

use crate::campaign::{self, Campaign, CampaignConfig, Report};
use crate::case::Env;
use crate::diff;
use crate::exec::{ExecConfig, Executor};
use crate::oracle::{hex, validity};
use conform_adapters::raw::{RawAdapter, RawConfig};
use conform_adapters::Adapter;
use conform_lab::{AdapterKind, Lab, LabOptions, Profile, ProtocolKind};
use std::io::IsTerminal;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

const EXIT_OK: u8 = 0;
const EXIT_FOUND: u8 = 1;
const EXIT_USAGE: u8 = 2;
const EXIT_HARNESS: u8 = 3;

/// `conform fuzz <protocol>`.
#[derive(clap::Subcommand, Debug)]
pub enum FuzzCmd {
    /// Fuzz a DHCPv4 server: structure-aware messages, live oracles (liveness canary,
    /// reply invariants, validity class, optional differential), shrinking against the
    /// server, and regression cases for `conform run`.
    Dhcp(Box<DhcpArgs>),
}

/// Options of `conform fuzz dhcp`.
#[derive(clap::Args, Debug, Clone)]
pub struct DhcpArgs {
    /// Target profile (dnsmasq, kea, isc-dhcpd, udhcpd, or a profile file): conform starts the
    /// server in a lab of network namespaces.
    #[arg(long, value_name = "NAME|FILE")]
    pub target: Option<String>,
    /// Fuzz a server already running behind this interface. Refused unless the interface is in
    /// a conform lab namespace or --i-own-this-network is given.
    #[arg(long, value_name = "IF")]
    pub iface: Option<String>,
    /// Confirm that the network behind --iface is yours to flood with malformed DHCP.
    #[arg(long)]
    pub i_own_this_network: bool,
    /// Differential: send every case to this second target too and report divergent
    /// accept/reject decisions.
    #[arg(long, value_name = "NAME|FILE")]
    pub against: Option<String>,
    /// Campaign seed (printed at start and in every finding); random when not given.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Number of cases (default 1000 unless --time is given).
    #[arg(long)]
    pub cases: Option<u64>,
    /// Run for this long: 90s, 10m, 1h.
    #[arg(long, value_name = "DURATION")]
    pub time: Option<String>,
    /// Run only case N of the seed, print everything it saw and exit.
    #[arg(long, value_name = "N")]
    pub replay: Option<u64>,
    /// Stop after this many distinct findings.
    #[arg(long, default_value_t = 20)]
    pub max_findings: usize,
    /// Do not report signatures starting with this (a known deviation; repeatable), e.g.
    /// `--ignore echo61`.
    #[arg(long, value_name = "SIGNATURE")]
    pub ignore: Vec<String>,
    /// Where regression cases (YAML + pcapng) are written.
    #[arg(long, value_name = "DIR", default_value = "suites/dhcp/regressions")]
    pub regressions: PathBuf,
    /// Do not write regression cases.
    #[arg(long)]
    pub no_regressions: bool,
    /// Write the campaign report as JSON.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Directory for the lab's server config, leases and log, kept afterwards. Default: a
    /// directory under /dev/shm (tmpfs) when it exists, so the server's lease-file fsyncs do
    /// not dominate a campaign (dnsmasq fsyncs on every ACK and RELEASE), else conform-out;
    /// removed at the end unless there were findings. The server log is emptied whenever it
    /// passes 64 MiB.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// How long a canary reply may take before the server is suspected, ms.
    #[arg(long, default_value_t = 1000)]
    pub reply_timeout_ms: u64,
    /// Shrinking budget per finding (executions).
    #[arg(long, default_value_t = 400)]
    pub shrink_iters: u32,
    /// Set a target parameter for --iface (server_ip, subnet_mask, pool_start, pool_end,
    /// relay_ip, server_mac); repeatable.
    #[arg(long = "param", value_name = "NAME=VALUE")]
    pub params: Vec<String>,
    /// Write the messages of the campaign's cases (hex, one per line) to FILE and exit
    /// without sending anything (for benchmarks against other tools).
    #[arg(long, value_name = "FILE")]
    pub export_cases: Option<PathBuf>,
    /// Cases in flight at once, each with its own canary (replies are told apart by xid; a
    /// finished case is replaced by the next at once; any liveness doubt re-runs the cases in
    /// flight one at a time). 1 = strictly one by one.
    #[arg(long, default_value_t = 16)]
    pub pipeline: usize,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

/// Runs a `conform fuzz` command; returns the exit code.
pub fn run(cmd: FuzzCmd) -> u8 {
    match cmd {
        FuzzCmd::Dhcp(a) => run_dhcp(*a),
    }
}

/// `90s`, `10m`, `1h`, `1500ms` or a number of seconds.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let (num, mult) = if let Some(n) = s.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = s.strip_suffix('m') {
        (n, 60.0)
    } else if let Some(n) = s.strip_suffix('h') {
        (n, 3600.0)
    } else {
        (s, 1.0)
    };
    let v: f64 = num.trim().parse().ok()?;
    (v >= 0.0 && v.is_finite()).then(|| Duration::from_secs_f64(v * mult))
}

fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let v: Vec<u8> = s
        .split(':')
        .map(|p| u8::from_str_radix(p, 16).ok())
        .collect::<Option<_>>()?;
    v.try_into().ok()
}

/// The target's addresses from parameters (lab params or --param pairs).
pub fn env_from(params: &std::collections::BTreeMap<String, String>) -> Result<Env, String> {
    let mut e = Env::default();
    let ip = |k: &str, d: Ipv4Addr| -> Result<Ipv4Addr, String> {
        match params.get(k) {
            Some(v) => v
                .parse()
                .map_err(|_| format!("{k} `{v}` is not an IPv4 address")),
            None => Ok(d),
        }
    };
    e.server_ip = ip("server_ip", e.server_ip)?;
    e.mask = ip("subnet_mask", e.mask)?;
    e.pool_start = ip("pool_start", e.pool_start)?;
    e.pool_end = ip("pool_end", e.pool_end)?;
    e.relay_ip = ip("relay_ip", ip("client_ip", e.relay_ip)?)?;
    e.relay_src_ip = ip("relay_src_ip", e.relay_ip)?;
    if let Some(m) = params.get("server_mac") {
        e.server_mac = parse_mac(m).ok_or(format!("server_mac `{m}` is not a MAC address"))?;
    }
    e.lease_time = params.get("lease_time").and_then(|v| v.parse().ok());
    Ok(e)
}

/// Whether this process runs inside one of conform's lab namespaces (`cf<id>c`/`cf<id>s`).
fn in_lab_namespace() -> bool {
    use std::os::unix::fs::MetadataExt;
    let Ok(me) = std::fs::metadata("/proc/self/ns/net") else {
        return false;
    };
    let Ok(dir) = std::fs::read_dir("/run/netns") else {
        return false;
    };
    dir.flatten().any(|e| {
        let name = e.file_name().to_string_lossy().to_string();
        name.starts_with("cf")
            && std::fs::metadata(e.path()).is_ok_and(|m| m.ino() == me.ino() && m.dev() == me.dev())
    })
}

struct Side {
    exec: Executor,
    lab: Option<Arc<Lab>>,
}

async fn start_target(
    rt: tokio::runtime::Handle,
    name: &str,
    out: &Path,
    seed: u64,
) -> Result<Side, (u8, String)> {
    let profile = Profile::resolve(name).map_err(|e| (EXIT_USAGE, e.to_string()))?;
    if profile.protocol != ProtocolKind::Dhcp {
        return Err((
            EXIT_USAGE,
            format!("target `{}` is not a DHCP server", profile.name),
        ));
    }
    let pname = profile.name.clone();
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    let opts = LabOptions {
        run_dir: Some(out.join(format!("fuzz-{pname}-{stamp}"))),
        // The fuzzer builds whole frames (MACs, relay addressing): always the raw adapter.
        adapter: Some(AdapterKind::Raw),
        ready_timeout: None,
    };
    let lab = Lab::start(profile, opts)
        .await
        .map_err(|e| (EXIT_HARNESS, e.to_string()))?;
    eprintln!(
        "conform fuzz: lab for `{pname}` up (server pid {}, log {})",
        lab.server_pid().map(|p| p.to_string()).unwrap_or_default(),
        lab.log_path().display()
    );
    let env = env_from(lab.params()).map_err(|e| (EXIT_USAGE, e))?;
    let lab = Arc::new(lab);
    let exec = Executor::new(rt, &pname, lab.adapter(), env, Some(lab.clone()), seed);
    Ok(Side {
        exec,
        lab: Some(lab),
    })
}

/// Stops the lab. `keep`: leave its directory (configs, leases, server log); otherwise it is
/// removed (the default directory is on tmpfs, in memory).
async fn shutdown(side: Option<Side>, keep: bool) {
    if let Some(s) = side {
        drop(s.exec);
        if let Some(lab) = s.lab {
            let dir = lab.run_dir().to_path_buf();
            match Arc::try_unwrap(lab) {
                Ok(l) => l.shutdown().await,
                Err(_) => {
                    conform_lab::cleanup_all();
                }
            }
            if keep {
                eprintln!("conform fuzz: lab files kept in {}", dir.display());
            } else {
                let _ = std::fs::remove_dir_all(&dir);
            }
        }
    }
}

fn export(a: &DhcpArgs, seed: u64, path: &Path) -> u8 {
    let n = a.cases.unwrap_or(1000);
    let env = match env_from(&pairs(&a.params).unwrap_or_default()) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_USAGE;
        }
    };
    // One case per line: eth_src eth_dst ip_src ip_dst udp_src udp_dst payload-hex
    // (`-` for eth_src: the interface's own MAC).
    let mut s = String::new();
    for i in 0..n {
        let c = campaign::generate(seed, i);
        let enc = c.encode(&env, 0x4000_0000 | i as u32);
        let m = &enc.datagram.meta;
        let mac = |x: Option<[u8; 6]>| {
            x.map(|x| hex(&x).replace(' ', ":"))
                .unwrap_or_else(|| "-".into())
        };
        let ip = |x: Option<std::net::IpAddr>| {
            x.map(|a| a.to_string()).unwrap_or_else(|| "0.0.0.0".into())
        };
        s.push_str(&format!(
            "{} {} {} {} {} {} {}\n",
            mac(m.eth_src),
            mac(m.eth_dst),
            ip(m.ip_src),
            ip(m.ip_dst),
            m.src_port.unwrap_or(68),
            m.dst_port.unwrap_or(67),
            enc.bytes
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        ));
    }
    match std::fs::write(path, s) {
        Ok(()) => {
            eprintln!(
                "conform fuzz: wrote {n} cases of seed {seed} to {}",
                path.display()
            );
            EXIT_OK
        }
        Err(e) => {
            eprintln!("error: failed to write {}: {e}", path.display());
            EXIT_HARNESS
        }
    }
}

fn pairs(v: &[String]) -> Result<std::collections::BTreeMap<String, String>, String> {
    v.iter()
        .map(|p| {
            p.split_once('=')
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                .ok_or(format!("--param `{p}` is not NAME=VALUE"))
        })
        .collect()
}

fn lab_parent(a: &DhcpArgs) -> PathBuf {
    match &a.out {
        Some(o) => o.clone(),
        None if Path::new("/dev/shm").is_dir() => PathBuf::from("/dev/shm/conform-fuzz"),
        None => PathBuf::from("conform-out"),
    }
}

fn run_dhcp(a: DhcpArgs) -> u8 {
    let seed = a.seed.unwrap_or_else(|| {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        t ^ (u64::from(std::process::id()) << 32)
    });
    if let Some(p) = &a.export_cases {
        return export(&a, seed, p);
    }
    let time = match a.time.as_deref().map(parse_duration) {
        Some(None) => {
            eprintln!(
                "error: --time `{}` is not a duration (90s, 10m, 1h)",
                a.time.as_deref().unwrap_or_default()
            );
            return EXIT_USAGE;
        }
        Some(Some(t)) => Some(t),
        None => None,
    };
    match (&a.target, &a.iface) {
        (None, None) => {
            eprintln!("error: no target: give --target NAME|FILE (conform starts the server in a lab) or --iface IF --i-own-this-network");
            return EXIT_USAGE;
        }
        (Some(_), Some(_)) => {
            eprintln!("error: give --target or --iface, not both");
            return EXIT_USAGE;
        }
        (None, Some(i)) if !a.i_own_this_network && !in_lab_namespace() => {
            eprintln!(
                "error: refusing to fuzz `{i}`: it is not in a conform lab namespace. Fuzzing floods the link with malformed DHCP \
                 that can crash or confuse every DHCP server and client on it. If the network behind `{i}` is yours, add --i-own-this-network."
            );
            return EXIT_USAGE;
        }
        _ => {}
    }
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => Arc::new(r),
        Err(e) => {
            eprintln!("error: failed to start the async runtime: {e}");
            return EXIT_HARNESS;
        }
    };
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        rt.spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                stop.store(true, Ordering::SeqCst);
                eprintln!("\ninterrupted: finishing the current case, writing what was found (Ctrl-C again to abort)");
                if tokio::signal::ctrl_c().await.is_ok() {
                    conform_lab::cleanup_all();
                    std::process::exit(130);
                }
            }
        });
    }
    // The runtime runs tasks only inside `block_on`: let the handler above register now, so a
    // Ctrl-C during the lab's start is not lost.
    rt.block_on(tokio::task::yield_now());
    let h = rt.handle().clone();
    let main = match (&a.target, &a.iface) {
        (Some(t), _) => rt.block_on(start_target(h.clone(), t, &lab_parent(&a), seed)),
        (None, Some(i)) => {
            let env = match pairs(&a.params).and_then(|p| env_from(&p)) {
                Ok(e) => e,
                Err(e) => {
                    eprintln!("error: {e}");
                    return EXIT_USAGE;
                }
            };
            match rt.block_on(RawAdapter::open(i, RawConfig::dhcp_client())) {
                Ok(ad) => {
                    let ad: Arc<dyn Adapter> = Arc::new(ad);
                    Ok(Side {
                        exec: Executor::new(h.clone(), &format!("iface {i}"), ad, env, None, seed),
                        lab: None,
                    })
                }
                Err(e) => Err((EXIT_HARNESS, e.to_string())),
            }
        }
        _ => unreachable!("checked above"),
    };
    let mut main = match main {
        Ok(s) => s,
        Err((code, e)) => {
            eprintln!("error: {e}");
            conform_lab::cleanup_all();
            return code;
        }
    };
    let mut other = match &a.against {
        Some(t) => match rt.block_on(start_target(h.clone(), t, &lab_parent(&a), seed)) {
            Ok(s) => Some(s),
            Err((code, e)) => {
                eprintln!("error: --against: {e}");
                rt.block_on(shutdown(Some(main), a.out.is_some()));
                conform_lab::cleanup_all();
                return code;
            }
        },
        None => None,
    };
    // The runtime has one thread, this one: every wait runs through `Runtime::block_on`.
    main.exec.drive_with(rt.clone());
    if let Some(o) = other.as_mut() {
        o.exec.drive_with(rt.clone());
    }
    let xcfg = ExecConfig {
        canary_timeout: Duration::from_millis(a.reply_timeout_ms.max(1)),
        retry_timeout: Duration::from_millis(a.reply_timeout_ms.max(1) * 3),
        settle: Duration::ZERO,
    };
    main.exec.cfg = xcfg;
    if let Some(o) = other.as_mut() {
        o.exec.cfg = xcfg;
    }
    // Lab files are kept when asked for (--out) or when there is something to look into.
    let code = if let Some(n) = a.replay {
        replay(&mut main.exec, seed, n)
    } else {
        let cfg = CampaignConfig {
            seed,
            cases: a.cases.or(if time.is_some() { None } else { Some(1000) }),
            time,
            max_findings: a.max_findings.max(1),
            shrink_iters: a.shrink_iters,
            regressions: (!a.no_regressions).then(|| a.regressions.clone()),
            ignore: a.ignore.clone(),
            progress: !a.quiet,
            target_spec: a
                .target
                .clone()
                .unwrap_or_else(|| format!("... --iface {}", a.iface.clone().unwrap_or_default())),
            pipeline: a.pipeline.max(1),
            ..CampaignConfig::default()
        };
        let (rss, hwm) = campaign::rss_kib();
        eprintln!(
            "conform fuzz: seed {seed}; target {}{}; {}; rss {rss} KiB (peak {hwm} KiB)",
            main.exec.name(),
            other
                .as_ref()
                .map(|o| format!(" against {}", o.exec.name()))
                .unwrap_or_default(),
            match (cfg.cases, cfg.time) {
                (Some(n), None) => format!("{n} cases"),
                (Some(n), Some(t)) => format!("{n} cases or {}s", t.as_secs()),
                (None, Some(t)) => format!("{}s", t.as_secs()),
                (None, None) => "no limit".into(),
            }
        );
        let r = Campaign::new(cfg, &stop).run(&mut main.exec, other.as_mut().map(|o| &mut o.exec));
        match r {
            Ok(report) => {
                print_summary(&report);
                if let Some(p) = &a.report {
                    if let Err(e) = std::fs::write(p, report_json(&report)) {
                        eprintln!("error: failed to write {}: {e}", p.display());
                    }
                }
                if report.findings.is_empty() {
                    EXIT_OK
                } else {
                    EXIT_FOUND
                }
            }
            Err(e) => {
                eprintln!("error: {e}");
                EXIT_HARNESS
            }
        }
    };
    let keep = a.out.is_some() || code != EXIT_OK;
    rt.block_on(async {
        shutdown(Some(main), keep).await;
        shutdown(other, keep).await;
    });
    conform_lab::cleanup_all();
    code
}

fn replay(exec: &mut Executor, seed: u64, n: u64) -> u8 {
    let case = campaign::generate(seed, n);
    if let Err(e) = exec.baseline() {
        eprintln!("error: {e}");
        return EXIT_HARNESS;
    }
    exec.record = true;
    exec.cfg.settle = Duration::from_millis(300);
    let obs = match exec.run(&case) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_HARNESS;
        }
    };
    let env = exec.env.clone();
    println!("case {n} of seed {seed}: {}", case.kind.name());
    println!("{case:#?}");
    println!(
        "validity: {}",
        match validity(&obs.request.payload, &env) {
            Ok(()) => "a well-formed DISCOVER (an OFFER is required)".to_string(),
            Err(e) => format!("not in the validity class ({e})"),
        }
    );
    let clean = case.clean().encode(&env, obs.xid).bytes;
    println!("message against a clean {}:", case.kind.name());
    for l in diff::diff(&clean, &obs.request.payload) {
        println!("  {l}");
    }
    println!(
        "sent {} octets: {}",
        obs.request.payload.len(),
        hex(&obs.request.payload)
    );
    for f in &obs.frames {
        println!(
            "  {} {} ({})",
            if f.sent { "->" } else { "<-" },
            crate::regress::summary(&f.datagram),
            f.label
        );
    }
    let vs = campaign::judge(&obs, &env);
    if obs.liveness.is_some() {
        let _ = exec.recover();
    }
    if vs.is_empty() {
        println!("no violation");
        EXIT_OK
    } else {
        for v in &vs {
            println!("violation {}: {}", v.signature, v.detail);
        }
        EXIT_FOUND
    }
}

fn print_summary(r: &Report) {
    println!(
        "\nconform fuzz: {} cases in {:.1}s ({:.0} cases/s), {} executions, seed {}{}",
        r.cases,
        r.duration.as_secs_f64(),
        r.rate(),
        r.executions,
        r.seed,
        if r.interrupted { " (interrupted)" } else { "" }
    );
    println!(
        "  {} finding(s), {} divergence(s), {} ignored hit(s), {} slow canaries, {} server restart(s)",
        r.findings.len(),
        r.divergences.len(),
        r.ignored,
        r.slow_canaries,
        r.restarts
    );
    for f in &r.findings {
        println!(
            "  - {} ({} hits){}",
            f.signature,
            r.hits.get(&f.signature).copied().unwrap_or(0),
            f.regression
                .as_ref()
                .map(|(y, _)| format!(": {}", y.display()))
                .unwrap_or_default()
        );
    }
    for d in &r.divergences {
        println!("  ~ {} ({} cases)", d.signature, d.count);
    }
    println!(
        "  rss {} KiB at start (peak {}), {} KiB at end (peak {})",
        r.rss_start.0, r.rss_start.1, r.rss_end.0, r.rss_end.1
    );
    let wall = r.duration.as_secs_f64().max(1e-9);
    println!(
        "  cpu: conform {:.2}s ({:.0}% of a core){}",
        r.own_cpu.as_secs_f64(),
        100.0 * r.own_cpu.as_secs_f64() / wall,
        r.server_cpu
            .map(|c| format!(
                ", server {:.2}s ({:.0}% of a core)",
                c.as_secs_f64(),
                100.0 * c.as_secs_f64() / wall
            ))
            .unwrap_or_default()
    );
    if std::io::stdout().is_terminal() && !r.findings.is_empty() {
        println!(
            "  replay a finding's case: conform fuzz dhcp --target ... --seed {} --replay N",
            r.seed
        );
    }
}

/// The report as JSON.
pub fn report_json(r: &Report) -> String {
    let findings: Vec<serde_json::Value> = r
        .findings
        .iter()
        .map(|f| {
            serde_json::json!({
                "signature": f.signature,
                "oracle": f.oracle.name(),
                "detail": f.detail,
                "seed": f.seed,
                "case": f.case_index,
                "hits": r.hits.get(&f.signature).copied().unwrap_or(0),
                "confirmed": f.confirmed,
                "shrink_executions": f.shrink_steps,
                "reproduced": format!("{}/{}", f.reproduced.0, f.reproduced.1),
                "minimal_hex": hex(&f.request.payload),
                "diff": f.diff,
                "regression": f.regression.as_ref().map(|(y, _)| y.display().to_string()),
                "pcap": f.regression.as_ref().map(|(_, p)| p.display().to_string()),
            })
        })
        .collect();
    let divs: Vec<serde_json::Value> = r
        .divergences
        .iter()
        .map(|d| {
            serde_json::json!({
                "signature": d.signature,
                "case": d.case_index,
                "count": d.count,
                "outcome_a": d.outcome_a,
                "outcome_b": d.outcome_b,
                "minimal_hex": hex(&d.request.payload),
                "diff": d.diff,
            })
        })
        .collect();
    let v = serde_json::json!({
        "seed": r.seed,
        "target": r.target,
        "against": r.against,
        "cases": r.cases,
        "duration_s": r.duration.as_secs_f64(),
        "cases_per_s": r.rate(),
        "executions": r.executions,
        "interrupted": r.interrupted,
        "hits": r.hits,
        "ignored": r.ignored,
        "slow_canaries": r.slow_canaries,
        "restarts": r.restarts,
        "cpu_s": { "conform": r.own_cpu.as_secs_f64(), "server": r.server_cpu.map(|c| c.as_secs_f64()) },
        "rss_kib": { "start": r.rss_start.0, "start_peak": r.rss_start.1, "end": r.rss_end.0, "end_peak": r.rss_end.1 },
        "findings": findings,
        "divergences": divs,
    });
    serde_json::to_string_pretty(&v).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("10m"), Some(Duration::from_secs(600)));
        assert_eq!(parse_duration("1500ms"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2"), Some(Duration::from_secs(2)));
        assert_eq!(parse_duration("x"), None);
    }

    #[test]
    fn env_from_lab_params() {
        let p: std::collections::BTreeMap<String, String> = [
            ("server_ip", "10.0.0.1"),
            ("subnet_mask", "255.255.0.0"),
            ("client_ip", "10.0.0.2"),
            ("server_mac", "02:cf:00:00:00:09"),
        ]
        .into_iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
        let e = env_from(&p).unwrap();
        assert_eq!(e.server_ip, Ipv4Addr::new(10, 0, 0, 1));
        assert_eq!(e.relay_ip, Ipv4Addr::new(10, 0, 0, 2));
        // Relayed messages come from giaddr unless the profile names another source.
        assert_eq!(e.relay_src_ip, Ipv4Addr::new(10, 0, 0, 2));
        assert_eq!(e.server_mac, [2, 0xcf, 0, 0, 0, 9]);
        let mut p = p;
        p.insert("relay_src_ip".into(), "10.0.0.4".into());
        let e = env_from(&p).unwrap();
        assert_eq!(e.relay_ip, Ipv4Addr::new(10, 0, 0, 2));
        assert_eq!(e.relay_src_ip, Ipv4Addr::new(10, 0, 0, 4));
    }
}
