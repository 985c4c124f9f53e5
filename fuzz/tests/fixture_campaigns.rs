//! `conform fuzz` against the fixture DHCP server (fixtures/dhcp-fixture), in a real lab.
//!
//! For each seeded fault, a campaign with a fixed seed and case budget must find it, and the
//! minimal case must be the fault's trigger and nothing more. Against the clean fixture, the
//! same campaign must find nothing. For PR#97 the regression case written from the finding is
//! loaded and run by the engine of `conform run`: it fails against the faulty server and passes
//! against the clean one.
//!
//! This test binary is also the fixture server: the lab starts it (through `ip netns exec`) as
//! `<this binary> --fixture-server ARGS`, so the test needs no separately built binary.
//!
//! Needs root (network namespaces); prints `skip:` and passes without it. A free argument
//! selects scenarios by name: `cargo test -p conform-fuzz --test fixture_campaigns -- pr97`.

use conform_fuzz::campaign::{Campaign, CampaignConfig, Finding};
use conform_fuzz::case::Val;
use conform_fuzz::cli::env_from;
use conform_fuzz::exec::{ExecConfig, Executor};
use conform_lab::{Lab, LabOptions, Profile};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Campaign seed and case budget every fault must be found within.
const SEED: u64 = 1;
const BUDGET: u64 = 3000;

struct Scenario {
    fault: &'static str,
    /// The finding's signature starts with this.
    signature: &'static str,
    /// What the minimal case must be.
    check: fn(&Finding) -> Result<(), String>,
}

/// The options field of the minimal message, as sent.
fn options(f: &Finding) -> &[u8] {
    f.request.payload.get(240..).unwrap_or(&[])
}

fn codes(f: &Finding) -> Vec<u8> {
    f.minimal.options.iter().map(|o| o.code).collect()
}

fn ensure(ok: bool, what: impl FnOnce() -> String) -> Result<(), String> {
    if ok {
        Ok(())
    } else {
        Err(what())
    }
}

const SCENARIOS: &[Scenario] = &[
    Scenario {
        fault: "pr97",
        signature: "no-offer",
        // DISCOVER{53=1, 61=01 <6 octets>}: dhcp-requirements.md §1.7's predicted minimum.
        check: |f| {
            let o = options(f);
            ensure(
                f.minimal.mutations.is_empty()
                    && o.len() == 13
                    && o[..5] == [53, 1, 1, 61, 7]
                    && o[5] == 1
                    && o[12] == 255,
                || format!("minimal options {:02x?}", o),
            )
        },
    },
    Scenario {
        fault: "echo61-type0",
        signature: "echo61:altered:",
        check: |f| {
            ensure(
                f.minimal.mutations.is_empty() && codes(f).contains(&61) && codes(f).len() <= 3,
                || format!("minimal {:?}", f.minimal),
            )
        },
    },
    Scenario {
        fault: "crash-long-prl",
        signature: "crash",
        check: |f| {
            let prl = f.minimal.options.iter().find(|o| o.code == 55);
            ensure(
                matches!(prl, Some(o) if matches!(&o.val, Val::Bytes(b) if (65..=80).contains(&b.len())))
                    && codes(f).len() <= 2,
                || format!("minimal {:?}", f.minimal),
            )
        },
    },
    Scenario {
        fault: "dup-server-id",
        signature: "duplicate:54:",
        check: |f| {
            let prl = f.minimal.options.iter().find(|o| o.code == 55);
            ensure(
                matches!(prl, Some(o) if matches!(&o.val, Val::Bytes(b) if b.contains(&54) && b.len() <= 2))
                    && f.minimal.mutations.is_empty(),
                || format!("minimal {:?}", f.minimal),
            )
        },
    },
    Scenario {
        fault: "cid-len0-hang",
        signature: "hang",
        check: |f| {
            let o = options(f);
            ensure(o.windows(2).any(|w| w == [61, 0]) && o.len() <= 8, || {
                format!("minimal options {:02x?}", o)
            })
        },
    },
    Scenario {
        fault: "flags-offset",
        signature: "flags:",
        check: |f| {
            ensure(
                f.minimal.mutations.is_empty() && codes(f).len() <= 3,
                || format!("minimal {:?}", f.minimal),
            )
        },
    },
    Scenario {
        fault: "short-opt-oob",
        signature: "yiaddr:OFFER",
        check: |f| {
            let o = options(f);
            let short50 = o.windows(2).any(|w| w[0] == 50 && w[1] < 4);
            ensure(short50 && codes(f).len() <= 3, || {
                format!("minimal options {:02x?}", o)
            })
        },
    },
    Scenario {
        fault: "bare-240-crash",
        signature: "crash",
        check: |f| {
            let p = &f.request.payload;
            ensure(p.len() == 240 && p[24..28] != [0; 4], || {
                format!(
                    "minimal message of {} octets, giaddr {:?}",
                    p.len(),
                    p.get(24..28)
                )
            })
        },
    },
];

fn profile(fault: &str) -> Profile {
    let exe = std::env::current_exe().expect("own path");
    let yaml = format!(
        r#"name: fixture-{fault}
protocol: dhcp
adapter: raw
command: ["{exe}", --fixture-server, --iface, "{{iface}}", --server-ip, "{{server_ip}}", --mask, "{{netmask}}",
          --router, "{{router}}", --pool-start, "{{pool_start}}", --pool-end, "{{pool_end}}",
          --lease, "{{lease_time}}", --fault, "{fault}"]
ready: {{ probe: {{ udp_port: 67 }}, timeout_ms: 5000 }}
stop: {{ signal: TERM, grace_ms: 500 }}
params: {{ server_ip: 192.0.2.1, subnet_mask: 255.255.255.0, router: 192.0.2.1,
          pool_start: 192.0.2.100, pool_end: 192.0.2.200, lease_time: 3600 }}
"#,
        exe = exe.display()
    );
    Profile::from_yaml_str(&yaml, "fixture_campaigns").expect("fixture profile")
}

struct Target {
    lab: Arc<Lab>,
    exec: Executor,
}

fn start(rt: &tokio::runtime::Runtime, fault: &str) -> Result<Target, String> {
    let lab = rt
        .block_on(Lab::start(profile(fault), LabOptions::default()))
        .map_err(|e| format!("lab: {e}"))?;
    let env = env_from(lab.params())?;
    let lab = Arc::new(lab);
    let mut exec = Executor::new(
        rt.handle().clone(),
        &format!("fixture-{fault}"),
        lab.adapter(),
        env,
        Some(lab.clone()),
        SEED,
    );
    exec.cfg = ExecConfig {
        canary_timeout: Duration::from_millis(400),
        retry_timeout: Duration::from_millis(1200),
        settle: Duration::ZERO,
    };
    Ok(Target { lab, exec })
}

fn stop(rt: &tokio::runtime::Runtime, t: Target) {
    let run_dir = t.lab.run_dir().to_path_buf();
    drop(t.exec);
    if let Ok(lab) = Arc::try_unwrap(t.lab) {
        rt.block_on(lab.shutdown());
    }
    let _ = std::fs::remove_dir_all(run_dir);
}

fn campaign(cases: u64, regressions: Option<PathBuf>) -> CampaignConfig {
    CampaignConfig {
        seed: SEED,
        cases: Some(cases),
        max_findings: 1,
        regressions,
        print: std::env::var_os("CONFORM_FUZZ_TEST_VERBOSE").is_some(),
        ..CampaignConfig::default()
    }
}

fn scenario(rt: &tokio::runtime::Runtime, sc: &Scenario, work: &Path) -> Result<String, String> {
    let mut t = start(rt, sc.fault)?;
    let stop_flag = AtomicBool::new(false);
    let regs = (sc.fault == "pr97").then(|| work.join("dhcp/regressions"));
    let started = Instant::now();
    let r = Campaign::new(campaign(BUDGET, regs.clone()), &stop_flag).run(&mut t.exec, None);
    let report = r.map_err(|e| format!("campaign: {e}"));
    let report = match report {
        Ok(r) => r,
        Err(e) => {
            stop(rt, t);
            return Err(e);
        }
    };
    let Some(f) = report.findings.first() else {
        stop(rt, t);
        return Err(format!("nothing found in {} cases", report.cases));
    };
    let mut out = format!(
        "found {} at case {} of {BUDGET}, minimal after {} shrink executions, reproduced {}/{}, {:.1}s",
        f.signature,
        f.case_index,
        f.shrink_steps,
        f.reproduced.0,
        f.reproduced.1,
        started.elapsed().as_secs_f64()
    );
    let checked = ensure(f.signature.starts_with(sc.signature), || {
        format!("signature {} (wanted {}...)", f.signature, sc.signature)
    })
    .and_then(|()| {
        ensure(f.confirmed && f.reproduced.0 >= 2, || {
            "not reproducible".into()
        })
    })
    .and_then(|()| (sc.check)(f));
    let replay = match (&checked, &f.regression) {
        (Ok(()), Some((yaml, pcap))) => replay_regression(rt, &t, yaml, pcap),
        (Ok(()), None) if regs.is_some() => Err("no regression case was written".into()),
        _ => Ok(String::new()),
    };
    stop(rt, t);
    checked.map_err(|e| format!("{out}; {e}; diff:\n{}", f.diff.join("\n")))?;
    out.push_str(&replay?);
    Ok(out)
}

/// Loads the regression case written for the finding and runs it with the engine of
/// `conform run` against the faulty lab (must fail) and a clean one (must pass).
fn replay_regression(
    rt: &tokio::runtime::Runtime,
    faulty: &Target,
    yaml: &Path,
    pcap: &Path,
) -> Result<String, String> {
    let loaded = conform_model::load::load_paths(&[yaml.to_path_buf()]);
    if !loaded.diagnostics.is_empty() {
        return Err(format!(
            "regression case does not load:\n{}",
            loaded.render_diagnostics()
        ));
    }
    let size = std::fs::metadata(pcap).map(|m| m.len()).unwrap_or(0);
    ensure(size > 100, || {
        format!("capture {} is empty", pcap.display())
    })?;
    let run = |lab: &Lab| -> Result<conform_model::Verdict, String> {
        let suite = &loaded.suites[0];
        let params: HashMap<String, String> = lab.params().clone().into_iter().collect();
        let vals = conform_runner::params::resolve(&suite.params, &params, &HashMap::new())?;
        let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
        let env = conform_runner::exec::CaseEnv {
            adapter: lab.adapter(),
            proto: suite.protocol.clone(),
            params: Arc::new(vals),
            seed: 7,
            emitter: conform_runner::exec::Emitter::new(tx),
        };
        Ok(rt
            .block_on(conform_runner::exec::run_case(suite.cases[0].clone(), env))
            .verdict)
    };
    let bad = run(&faulty.lab)?;
    let clean = start(rt, "none")?;
    let good = run(&clean.lab);
    stop(rt, clean);
    let good = good?;
    ensure(
        bad == conform_model::Verdict::Fail && good == conform_model::Verdict::Pass,
        || format!("regression case: {bad} against the fault, {good} against the clean server"),
    )?;
    Ok(format!(
        "; regression case {} fails against the fault, passes when fixed",
        yaml.display()
    ))
}

fn clean(rt: &tokio::runtime::Runtime) -> Result<String, String> {
    let mut t = start(rt, "none")?;
    let stop_flag = AtomicBool::new(false);
    let started = Instant::now();
    let r = Campaign::new(campaign(BUDGET, None), &stop_flag).run(&mut t.exec, None);
    stop(rt, t);
    let r = r.map_err(|e| e.to_string())?;
    ensure(r.findings.is_empty() && r.cases == BUDGET, || {
        format!(
            "{} findings in {} cases: {:?}",
            r.findings.len(),
            r.cases,
            r.findings
                .iter()
                .map(|f| (&f.signature, &f.detail, &f.diff))
                .collect::<Vec<_>>()
        )
    })?;
    Ok(format!(
        "{BUDGET} cases, no finding, {:.0} cases/s, {:.1}s",
        r.rate(),
        started.elapsed().as_secs_f64()
    ))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--fixture-server") {
        return match dhcp_fixture::serve(args[2..].to_vec()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("fixture: {e}");
                ExitCode::from(2)
            }
        };
    }
    // cargo passes libtest flags (--nocapture, --test-threads ...); free words filter.
    let filter: Vec<&str> = args[1..]
        .iter()
        .filter(|a| !a.starts_with('-'))
        .map(String::as_str)
        .collect();
    let wanted = |name: &str| filter.is_empty() || filter.iter().any(|f| name.contains(f));
    if !conform_lab::is_root() || conform_lab::find_binary("ip").is_none() {
        println!(
            "SKIPPED: fixture campaigns because they need root and iproute2 (network namespaces)"
        );
        return ExitCode::SUCCESS;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let work = std::env::temp_dir().join(format!("conform-fuzz-test-{}", std::process::id()));
    let lib = Path::new(env!("CARGO_MANIFEST_DIR")).join("../suites/dhcp/lib");
    let _ = std::fs::create_dir_all(work.join("dhcp/lib"));
    for f in ["common.yaml", "addressing.yaml", "processing.yaml"] {
        let _ = std::fs::copy(lib.join(f), work.join("dhcp/lib").join(f));
    }
    let mut failed = Vec::new();
    let mut ran = 0;
    for sc in SCENARIOS.iter().filter(|s| wanted(s.fault)) {
        ran += 1;
        match scenario(&rt, sc, &work) {
            Ok(m) => println!("fault {:<15} ok: {m}", sc.fault),
            Err(e) => {
                println!("fault {:<15} FAILED: {e}", sc.fault);
                failed.push(sc.fault);
            }
        }
    }
    if wanted("clean") {
        ran += 1;
        match clean(&rt) {
            Ok(m) => println!("clean fixture         ok: {m}"),
            Err(e) => {
                println!("clean fixture         FAILED: {e}");
                failed.push("clean");
            }
        }
    }
    conform_lab::cleanup_all();
    let _ = std::fs::remove_dir_all(&work);
    println!(
        "\nfixture campaigns: {} run, {} failed{}",
        ran,
        failed.len(),
        if failed.is_empty() {
            String::new()
        } else {
            format!(": {}", failed.join(", "))
        }
    );
    if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
