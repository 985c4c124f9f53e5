//! The `conform` command line. Exit codes (documented in the README and tested):
//! 0 all selected cases passed; 1 a case failed (fail, inconc unless `--inconc=pass|skip`,
//! none); 2 invalid suite or usage; 3 harness error (adapter, privilege, lab).
#![deny(unsafe_code)]

use clap::{Parser, Subcommand, ValueEnum};
use conform_model::event::{EventKind, RunEvent, EVENTS_VERSION};
use conform_model::load::{load_paths, Loaded};
use conform_reports::aggregate::InconcPolicy;
use conform_reports::{jsonl, junit, term, RunRecord};
use conform_runner::exec::{CaseEnv, Emitter};
use conform_runner::plan::{run_all, Filter, Planned};
use conform_runner::{params, target};
use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

const EXIT_OK: u8 = 0;
const EXIT_FAILED: u8 = 1;
const EXIT_USAGE: u8 = 2;
const EXIT_HARNESS: u8 = 3;

#[derive(Parser)]
#[command(
    name = "conform",
    version,
    about = "TTCN-3-style conformance tests for DHCP and DNS servers"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Validate suites; report every problem with file:line:column (exit 2 on any).
    Check { paths: Vec<PathBuf> },
    /// List cases with id, spec reference, level and tags.
    List {
        paths: Vec<PathBuf>,
        #[command(flatten)]
        filter: FilterArgs,
    },
    /// Run cases against a target.
    Run(Box<RunArgs>),
    /// Replay the client side of a capture (pcap or pcapng) against a target, waiting for
    /// each answer and judging it against the captured one (docs/pcap.md).
    Replay(Box<ReplayArgs>),
    /// Write the exchanges of a capture as an editable suite (docs/pcap.md).
    Import(ImportArgs),
    /// Run suites against several targets and write the case × target conformance matrix
    /// (Markdown) with every failure explained.
    Matrix {
        paths: Vec<PathBuf>,
        /// Targets (profile names or files), comma-separated.
        #[arg(long, value_delimiter = ',', required = true)]
        targets: Vec<String>,
        /// Where to write the Markdown.
        #[arg(short, long)]
        output: PathBuf,
        #[arg(long, default_value = "Conformance matrix")]
        title: String,
        /// Hand-written Markdown appended after the generated part (kept in its own file).
        #[arg(long, value_name = "FILE")]
        notes: Option<PathBuf>,
        #[arg(long, default_value_t = 4)]
        jobs: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Print the JSON Schema of the suite format.
    Schema,
    /// Fuzz a server: generated messages, live oracles, shrinking, regression cases.
    #[command(subcommand)]
    Fuzz(conform_fuzz::FuzzCmd),
    /// Manage expected-results baselines.
    #[command(subcommand)]
    Baseline(BaselineCmd),
    /// Re-render reports from a saved events file.
    Report {
        /// Events files (repeatable: shards of one run are merged into one report).
        #[arg(long, required = true)]
        from: Vec<PathBuf>,
        #[arg(long)]
        junit: Option<PathBuf>,
        /// Write a self-contained HTML report (sequence charts, mismatch tables, filters).
        #[arg(long, value_name = "FILE")]
        html: Option<PathBuf>,
        #[arg(long, value_enum, default_value_t = InconcArg::Fail)]
        inconc: InconcArg,
    },
}

#[derive(Subcommand)]
enum BaselineCmd {
    /// Record the verdicts of saved runs (per target) as the expected results.
    Update {
        /// Events files of the runs (repeatable; shards of one run may be given together).
        #[arg(long = "from", required = true)]
        from: Vec<PathBuf>,
        /// The baseline file to create or update.
        #[arg(long)]
        baseline: PathBuf,
    },
}

#[derive(clap::Args, Clone)]
struct FilterArgs {
    /// Only cases whose id or title matches this regular expression.
    #[arg(short = 'k', value_name = "PATTERN")]
    pattern: Option<String>,
    /// Only cases with this tag (repeatable: all must be present).
    #[arg(long = "tag", value_name = "T")]
    tags: Vec<String>,
    /// Only shard k of n (1-based), split deterministically by case id: for CI fan-out.
    #[arg(long, value_name = "K/N")]
    partition: Option<String>,
}

#[derive(clap::Args)]
struct RunArgs {
    paths: Vec<PathBuf>,
    #[command(flatten)]
    filter: FilterArgs,
    /// A target profile name (dnsmasq, kea, ...) or a profile file: conform builds a lab and
    /// starts the server.
    #[arg(long, value_name = "NAME|FILE")]
    target: Option<String>,
    /// Use an existing interface (a server already running on it) instead of a lab.
    #[arg(long, value_name = "IF")]
    iface: Option<String>,
    /// Talk plain UDP to a server at ADDR:PORT (DNS, or a DHCP server through the relay path).
    #[arg(long, value_name = "ADDR:PORT")]
    udp: Option<String>,
    /// Override the target profile's adapter: raw, relay, tap or udp; or pcap:FILE, an offline
    /// target whose captured server replies answer (docs/pcap.md).
    #[arg(long, value_name = "KIND")]
    adapter: Option<String>,
    /// Set a module parameter (repeatable).
    #[arg(long = "param", value_name = "NAME=VALUE")]
    params: Vec<String>,
    /// Cases in parallel against the one server, each with its own client identity; cases
    /// marked exclusive run alone, after the others.
    #[arg(long, default_value_t = 8)]
    jobs: usize,
    /// Seed for client identities (MACs, xids); printed so a run can be reproduced.
    #[arg(long)]
    seed: Option<u64>,
    /// Write run events as JSON lines.
    #[arg(long, value_name = "FILE")]
    events: Option<PathBuf>,
    /// Write JUnit XML.
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// Write a self-contained HTML report (sequence charts, mismatch tables, filters); with
    /// --pcap, each case links to its capture.
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
    /// Write every message of the run as annotated pcapng (a comment per packet: case, step,
    /// template matched or mismatch, verdict); per-case files go to <out>/pcap/<case>.pcapng.
    #[arg(long, value_name = "FILE")]
    pcap: Option<PathBuf>,
    /// How inconclusive verdicts count.
    #[arg(long, value_enum, default_value_t = InconcArg::Fail)]
    inconc: InconcArg,
    /// Terminal output: `human` (a line per case, progress bar on a terminal, summary) or
    /// `json` (every run event as a JSON line on stdout, for machines).
    #[arg(long, value_enum, default_value_t = FormatArg::Human)]
    format: FormatArg,
    /// Compare with an expected-results baseline: fail only on regressions and new failures.
    #[arg(long, value_name = "FILE")]
    baseline: Option<PathBuf>,
    /// Directory for the lab's server config and logs.
    #[arg(long, value_name = "DIR", default_value = "conform-out")]
    out: PathBuf,
}

/// How a capture becomes cases (`conform import` and `conform replay`).
#[derive(clap::Args, Clone)]
struct CaptureArgs {
    /// Suite name and case id prefix (default: from the file name).
    #[arg(long)]
    name: Option<String>,
    /// Leave this field out of the receive templates, on top of the default rules (repeatable;
    /// `options.hostname`, `flags`, `yiaddr`).
    #[arg(long = "ignore", value_name = "FIELD")]
    ignore: Vec<String>,
    /// How long to wait for each reply.
    #[arg(long, value_name = "DURATION", default_value = "3s")]
    timeout: String,
    /// How long a request the captured server did not answer must stay unanswered.
    #[arg(long, value_name = "DURATION", default_value = "1s")]
    silence: String,
}

#[derive(clap::Args)]
struct ImportArgs {
    /// The capture (pcap or pcapng; Ethernet, Linux cooked or raw IPv4 link types).
    capture: PathBuf,
    /// The suite file to write.
    #[arg(short, long)]
    output: PathBuf,
    #[command(flatten)]
    rules: CaptureArgs,
}

#[derive(clap::Args)]
struct ReplayArgs {
    /// The capture (pcap or pcapng; Ethernet, Linux cooked or raw IPv4 link types).
    capture: PathBuf,
    #[command(flatten)]
    rules: CaptureArgs,
    #[command(flatten)]
    filter: FilterArgs,
    /// A target profile name or file (conform builds a lab and starts the server).
    #[arg(long, value_name = "NAME|FILE")]
    target: Option<String>,
    /// Use an existing interface (a server already running on it) instead of a lab.
    #[arg(long, value_name = "IF")]
    iface: Option<String>,
    /// Override the target profile's adapter: raw, relay, tap, udp, or pcap:FILE (offline).
    #[arg(long, value_name = "KIND")]
    adapter: Option<String>,
    /// Set a module parameter (repeatable): server_ip, pool_start, pool_end, subnet_mask, router.
    #[arg(long = "param", value_name = "NAME=VALUE")]
    params: Vec<String>,
    /// Cases (one per captured client) in parallel.
    #[arg(long, default_value_t = 8)]
    jobs: usize,
    #[arg(long)]
    seed: Option<u64>,
    #[arg(long, value_name = "FILE")]
    events: Option<PathBuf>,
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
    #[arg(long, value_name = "FILE")]
    pcap: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = InconcArg::Fail)]
    inconc: InconcArg,
    #[arg(long, value_enum, default_value_t = FormatArg::Human)]
    format: FormatArg,
    #[arg(long, value_name = "FILE")]
    baseline: Option<PathBuf>,
    /// Directory for the lab, the generated suite (<out>/replay/<name>.yaml) and per-case pcaps.
    #[arg(long, value_name = "DIR", default_value = "conform-out")]
    out: PathBuf,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum FormatArg {
    Human,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
enum InconcArg {
    Fail,
    Pass,
    Skip,
}

impl From<InconcArg> for InconcPolicy {
    fn from(a: InconcArg) -> Self {
        match a {
            InconcArg::Fail => InconcPolicy::Fail,
            InconcArg::Pass => InconcPolicy::Pass,
            InconcArg::Skip => InconcPolicy::Skip,
        }
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_USAGE } else { EXIT_OK };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    ExitCode::from(match cli.cmd {
        Cmd::Check { paths } => check(&paths),
        Cmd::List { paths, filter } => list(&paths, &filter),
        Cmd::Run(args) => run(*args),
        Cmd::Replay(args) => replay(*args),
        Cmd::Import(args) => import(&args),
        Cmd::Matrix {
            paths,
            targets,
            output,
            title,
            notes,
            jobs,
            seed,
        } => matrix(paths, targets, output, title, notes, jobs, seed),
        Cmd::Baseline(BaselineCmd::Update { from, baseline }) => baseline_update(&from, &baseline),
        Cmd::Fuzz(f) => conform_fuzz::run_cli(f),
        Cmd::Schema => {
            println!("{}", conform_model::schema::generate());
            EXIT_OK
        }
        Cmd::Report {
            from,
            junit: junit_path,
            html,
            inconc,
        } => report(&from, junit_path.as_ref(), html.as_ref(), inconc.into()),
    })
}

fn load(paths: &[PathBuf]) -> Result<Loaded, u8> {
    if paths.is_empty() {
        eprintln!("error: no suite paths given (for example: conform check suites/)");
        return Err(EXIT_USAGE);
    }
    let loaded = load_paths(paths);
    if !loaded.diagnostics.is_empty() {
        eprint!("{}", loaded.render_diagnostics());
        let files: std::collections::BTreeSet<_> =
            loaded.diagnostics.iter().map(|d| d.file.clone()).collect();
        eprintln!(
            "error: {} problem(s) in {} file(s)",
            loaded.diagnostics.len(),
            files.len()
        );
        return Err(EXIT_USAGE);
    }
    Ok(loaded)
}

fn check(paths: &[PathBuf]) -> u8 {
    match load(paths) {
        Ok(l) => {
            let n: usize = l.suites.iter().map(|s| s.cases.len()).sum();
            println!(
                "ok: {} suite(s), {} case(s), {} file(s) checked",
                l.suites.len(),
                n,
                l.sources.len()
            );
            EXIT_OK
        }
        Err(c) => c,
    }
}

fn filter_of(f: &FilterArgs) -> Result<Filter, u8> {
    let pattern = match &f.pattern {
        Some(p) => match regex::Regex::new(p) {
            Ok(r) => Some(r),
            Err(e) => {
                eprintln!("error: -k `{p}` is not a valid regular expression: {e}");
                return Err(EXIT_USAGE);
            }
        },
        None => None,
    };
    let partition = match &f.partition {
        Some(p) => match conform_runner::plan::Partition::parse(p) {
            Ok(p) => Some(p),
            Err(e) => {
                eprintln!("error: {e}");
                return Err(EXIT_USAGE);
            }
        },
        None => None,
    };
    Ok(Filter {
        pattern,
        tags: f.tags.clone(),
        partition,
    })
}

fn list(paths: &[PathBuf], f: &FilterArgs) -> u8 {
    let loaded = match load(paths) {
        Ok(l) => l,
        Err(c) => return c,
    };
    let filter = match filter_of(f) {
        Ok(f) => f,
        Err(c) => return c,
    };
    let mut n = 0;
    for c in loaded.cases().filter(|c| filter.selects(c)) {
        n += 1;
        let tags = if c.tags.is_empty() {
            String::new()
        } else {
            format!("  [{}]", c.tags.join(", "))
        };
        let excl = if c.exclusive { "  (exclusive)" } else { "" };
        println!(
            "{:<48} {:<22} {:<10}{}{}",
            c.id,
            c.spec.to_string(),
            c.level,
            tags,
            excl
        );
    }
    eprintln!("{n} case(s)");
    EXIT_OK
}

fn run(args: RunArgs) -> u8 {
    let loaded = match load(&args.paths) {
        Ok(l) => l,
        Err(c) => return c,
    };
    let filter = match filter_of(&args.filter) {
        Ok(f) => f,
        Err(c) => return c,
    };
    let cli_params = match params::parse_pairs(&args.params) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_USAGE;
        }
    };
    let unknown = params::unknown_params(
        loaded.suites.iter().flat_map(|s| s.params.iter()),
        &cli_params,
    );
    if !unknown.is_empty() {
        eprintln!(
            "error: --param names no suite declares: {}",
            unknown.join(", ")
        );
        return EXIT_USAGE;
    }
    let protos: std::collections::BTreeSet<&str> =
        loaded.suites.iter().map(|s| s.protocol.name()).collect();
    if protos.len() > 1 {
        eprintln!(
            "error: one run covers one protocol; these paths mix {}",
            protos.into_iter().collect::<Vec<_>>().join(" and ")
        );
        return EXIT_USAGE;
    }
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: failed to start the async runtime: {e}");
            return EXIT_HARNESS;
        }
    };
    rt.block_on(run_async(args, loaded, filter, cli_params))
}

async fn run_async(
    args: RunArgs,
    loaded: Loaded,
    filter: Filter,
    cli_params: HashMap<String, String>,
) -> u8 {
    let spec = target::TargetSpec {
        target: args.target.clone(),
        iface: args.iface.clone(),
        udp: args.udp.clone(),
        adapter: args.adapter.clone(),
        out: args.out.clone(),
    };
    let proto = match loaded.suites.first() {
        Some(s) => s.protocol.clone(),
        None => {
            eprintln!("error: no cases to run");
            return EXIT_USAGE;
        }
    };
    let tgt = match target::start(&spec, proto.name()).await {
        Ok(t) => t,
        Err(target::TargetError::Usage(e)) => {
            eprintln!("error: {e}");
            return EXIT_USAGE;
        }
        Err(target::TargetError::Harness(e)) => {
            eprintln!("error: {e}");
            target::cleanup_all();
            return EXIT_HARNESS;
        }
    };
    let (code, _) = run_with_target(&args, &loaded, &filter, &cli_params, &tgt).await;
    tgt.shutdown().await;
    // Belt and braces: nothing this process created may outlive it.
    target::cleanup_all();
    code
}

async fn run_with_target(
    args: &RunArgs,
    loaded: &Loaded,
    filter: &Filter,
    cli_params: &HashMap<String, String>,
    tgt: &target::Target,
) -> (u8, Vec<RunEvent>) {
    let mut all: Vec<RunEvent> = Vec::new();
    let code = run_collect(args, loaded, filter, cli_params, tgt, &mut all).await;
    (code, all)
}

async fn run_collect(
    args: &RunArgs,
    loaded: &Loaded,
    filter: &Filter,
    cli_params: &HashMap<String, String>,
    tgt: &target::Target,
    all: &mut Vec<RunEvent>,
) -> u8 {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<RunEvent>();
    let emitter = Emitter::new(tx);
    let seed = args.seed.unwrap_or_else(rand::random);
    let mut plan = Vec::new();
    for s in &loaded.suites {
        let vals = match params::resolve(&s.params, &tgt.params, cli_params) {
            Ok(v) => v,
            Err(e) => {
                eprintln!("error: suite {}: {e}", s.file.display());
                return EXIT_USAGE;
            }
        };
        for c in s.cases.iter().filter(|c| filter.selects(c)) {
            let env = CaseEnv {
                adapter: tgt.adapter.clone(),
                proto: s.protocol.clone(),
                params: Arc::new(vals.clone()),
                seed,
                emitter: emitter.clone(),
            };
            // The target's profile may need more cases to run alone (`exclusive_tags`).
            let case = if !c.exclusive && c.tags.iter().any(|t| tgt.exclusive_tags.contains(t)) {
                Arc::new(conform_model::suite::Case {
                    exclusive: true,
                    ..(**c).clone()
                })
            } else {
                c.clone()
            };
            plan.push(Planned { case, env });
        }
    }
    if plan.is_empty() {
        if let Some(p) = filter.partition {
            // A CI fan-out may have more shards than a filtered run has cases: not an error.
            eprintln!(
                "conform: shard {}/{} has no cases; nothing to run",
                p.k, p.n
            );
            return EXIT_OK;
        }
        eprintln!("error: no case matches the filters");
        return EXIT_USAGE;
    }
    let total_cases = plan.len();
    let run_id = format!("{:016x}", rand::random::<u64>());
    eprintln!(
        "conform: run {run_id}, {} case(s) against {} via {}, seed {seed}",
        plan.len(),
        tgt.name,
        tgt.adapter.describe()
    );
    let started_unix_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    emitter.emit(EventKind::RunStarted {
        version: EVENTS_VERSION,
        run_id,
        target: tgt.name.clone(),
        adapter: tgt.adapter.describe(),
        cases: plan.len(),
        seed,
        started_unix_ms,
    });

    let mut events_file = match &args.events {
        Some(p) => match std::fs::File::create(p) {
            Ok(f) => Some(std::io::BufWriter::new(f)),
            Err(e) => {
                eprintln!("error: cannot write events to {}: {e}", p.display());
                return EXIT_USAGE;
            }
        },
        None => None,
    };
    let style = term::Style {
        color: std::io::stdout().is_terminal(),
    };
    let started = std::time::Instant::now();
    let deviations = tgt.deviations.clone();
    let jobs = args_jobs(args);
    let runner = tokio::spawn(async move { run_all(plan, jobs, &deviations).await });
    // Stream events: the terminal prints each case as it finishes, the JSON lines file gets all.
    let mut stdout = std::io::stdout();
    let json = args.format == FormatArg::Json;
    let bar = progress_bar(json, total_cases);
    let mut ctrl_c = std::pin::pin!(tokio::signal::ctrl_c());
    let mut interrupted = false;
    let mut runner = runner;
    let outcome = loop {
        tokio::select! {
            Some(e) = rx.recv() => {
                if let Some(f) = events_file.as_mut() {
                    let _ = jsonl::write_event(f, &e);
                }
                if json {
                    let _ = jsonl::write_event(&mut stdout, &e);
                }
                let finished = finished_case(&e);
                all.push(e);
                if let Some(id) = finished {
                    if !json {
                        print_case_line(all, &id, &mut stdout, style, bar.as_ref());
                    }
                }
            }
            r = &mut runner => break r.ok(),
            _ = &mut ctrl_c, if !interrupted => {
                interrupted = true;
                eprintln!("\ninterrupted: stopping the run and removing the lab");
                runner.abort();
            }
        }
    };
    // Events still queued when the runner finished: the last cases' lines must print too.
    // The run's outbox is delivered every 50 ms; what it holds now goes out first.
    emitter.deliver();
    while let Ok(e) = rx.try_recv() {
        if let Some(f) = events_file.as_mut() {
            let _ = jsonl::write_event(f, &e);
        }
        if json {
            let _ = jsonl::write_event(&mut stdout, &e);
        }
        let finished = finished_case(&e);
        all.push(e);
        if let Some(id) = finished {
            if !json {
                print_case_line(all, &id, &mut stdout, style, bar.as_ref());
            }
        }
    }
    // An interrupted run still writes its reports for the cases that finished, then exits 3.
    let interrupted_run = outcome.is_none();
    let counts = match outcome {
        Some(o) => o.counts,
        None => RunRecord::from_events(all.iter()).counts(),
    };
    let fin = RunEvent {
        t_ms: started.elapsed().as_secs_f64() * 1000.0,
        kind: EventKind::RunFinished {
            counts,
            duration_ms: started.elapsed().as_secs_f64() * 1000.0,
        },
    };
    if let Some(f) = events_file.as_mut() {
        let _ = jsonl::write_event(f, &fin);
        let _ = f.flush();
    }
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    if json {
        let _ = jsonl::write_event(&mut stdout, &fin);
    }
    all.push(fin);
    let rec = RunRecord::from_events(all.iter());
    let policy: InconcPolicy = args.inconc.into();
    if !json {
        print!("{}", term::summary(&rec, policy, style));
    }
    if let Some(p) = &args.pcap {
        if let Err(e) = write_pcaps(all, p, &args.out.join("pcap")) {
            eprintln!("error: {e}");
            return EXIT_HARNESS;
        }
    }
    if let Some(p) = &args.junit {
        match junit::render(&rec, policy) {
            Ok(xml) => {
                if let Err(e) = std::fs::write(p, xml) {
                    eprintln!("error: cannot write JUnit to {}: {e}", p.display());
                    return EXIT_HARNESS;
                }
            }
            Err(e) => {
                eprintln!("error: {e}");
                return EXIT_HARNESS;
            }
        }
    }
    if let Some(p) = &args.html {
        let pcaps = args.pcap.as_ref().map(|_| args.out.join("pcap"));
        if let Err(e) = write_html(all, p, pcaps.as_deref()) {
            eprintln!("error: {e}");
            return EXIT_HARNESS;
        }
    }
    if interrupted_run {
        eprintln!("interrupted: reports cover the cases that finished");
        return EXIT_HARNESS;
    }
    if let Some(b) = &args.baseline {
        return match conform_reports::baseline::Baseline::load(b) {
            Ok(base) => {
                let cmp = base.compare(&rec);
                print!("{}", cmp.render());
                if cmp.gate_ok() {
                    EXIT_OK
                } else {
                    EXIT_FAILED
                }
            }
            Err(e) => {
                eprintln!("error: {e}");
                EXIT_USAGE
            }
        };
    }
    exit_code(&rec, policy)
}

/// The import options of a capture command, or exit 2.
fn import_options(
    capture: &std::path::Path,
    a: &CaptureArgs,
) -> Result<conform_runner::replay::ImportOptions, u8> {
    let parse = |s: &str, what: &str| {
        conform_runner::replay::parse_duration(s).map_err(|e| {
            eprintln!("error: --{what}: {e}");
            EXIT_USAGE
        })
    };
    Ok(conform_runner::replay::ImportOptions {
        name: a
            .name
            .clone()
            .unwrap_or_else(|| conform_runner::replay::suite_name_of(capture)),
        protocol: None,
        ignore: a.ignore.clone(),
        receive_timeout: parse(&a.timeout, "timeout")?,
        silence: parse(&a.silence, "silence")?,
    })
}

fn import(a: &ImportArgs) -> u8 {
    let opts = match import_options(&a.capture, &a.rules) {
        Ok(o) => o,
        Err(c) => return c,
    };
    let imported = match conform_runner::replay::import_capture(&a.capture, &opts) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_USAGE;
        }
    };
    let written = match conform_runner::replay::write_files(&imported, &a.output) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_HARNESS;
        }
    };
    for n in &imported.notes {
        eprintln!("note: {n}");
    }
    if written.len() > 1 {
        eprintln!(
            "note: {} cases: written as {} files ({} and siblings)",
            imported.cases,
            written.len(),
            a.output.display()
        );
    }
    // The written suite must load: check it as `conform check` would.
    if let Err(c) = load(&written) {
        eprintln!(
            "error: the suite written to {} does not load (a bug in conform import)",
            a.output.display()
        );
        return c;
    }
    eprintln!(
        "wrote {}: {} case(s) from {} {} request(s)",
        a.output.display(),
        imported.cases,
        imported.exchanges,
        imported.protocol
    );
    EXIT_OK
}

fn replay(a: ReplayArgs) -> u8 {
    let opts = match import_options(&a.capture, &a.rules) {
        Ok(o) => o,
        Err(c) => return c,
    };
    let imported = match conform_runner::replay::import_capture(&a.capture, &opts) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_USAGE;
        }
    };
    for n in &imported.notes {
        eprintln!("note: {n}");
    }
    let dir = a.out.join("replay");
    let file = dir.join(format!("{}.yaml", opts.name));
    let written = match std::fs::create_dir_all(&dir)
        .map_err(|e| format!("cannot create {}: {e}", dir.display()))
        .and_then(|_| conform_runner::replay::write_files(&imported, &file))
    {
        Ok(w) => w,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_HARNESS;
        }
    };
    eprintln!(
        "conform: replaying {} request(s) of {} as {} case(s) (suite {})",
        imported.exchanges,
        a.capture.display(),
        imported.cases,
        file.display()
    );
    run(RunArgs {
        paths: written,
        filter: a.filter,
        target: a.target,
        iface: a.iface,
        udp: None,
        adapter: a.adapter,
        params: a.params,
        jobs: a.jobs,
        seed: a.seed,
        events: a.events,
        junit: a.junit,
        html: a.html,
        pcap: a.pcap,
        inconc: a.inconc,
        format: a.format,
        baseline: a.baseline,
        out: a.out,
    })
}

fn args_jobs(a: &RunArgs) -> usize {
    a.jobs
}

/// 3 when any case ended in `error`, else 1 when any case did not pass the gate, else 0.
fn exit_code(rec: &RunRecord, policy: InconcPolicy) -> u8 {
    if rec
        .cases
        .iter()
        .any(|c| c.verdict == conform_model::Verdict::Error)
    {
        EXIT_HARNESS
    } else if rec.cases.iter().all(|c| c.gate_ok(policy)) {
        EXIT_OK
    } else {
        EXIT_FAILED
    }
}

fn report(
    from: &[PathBuf],
    junit_path: Option<&PathBuf>,
    html_path: Option<&PathBuf>,
    policy: InconcPolicy,
) -> u8 {
    let events = match read_events_files(from) {
        Ok(e) => e,
        Err(c) => return c,
    };
    let rec = RunRecord::from_events(events.iter());
    let style = term::Style {
        color: std::io::stdout().is_terminal(),
    };
    for c in &rec.cases {
        println!("{}", term::case_line(c, style));
    }
    print!("{}", term::summary(&rec, policy, style));
    if let Some(p) = junit_path {
        match junit::render(&rec, policy).map(|x| std::fs::write(p, x)) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                eprintln!("error: cannot write {}: {e}", p.display());
                return EXIT_HARNESS;
            }
            Err(e) => {
                eprintln!("error: {e}");
                return EXIT_HARNESS;
            }
        }
    }
    if let Some(p) = html_path {
        if let Err(e) = write_html(&events, p, None) {
            eprintln!("error: {e}");
            return EXIT_HARNESS;
        }
    }
    exit_code(&rec, policy)
}

fn matrix(
    paths: Vec<PathBuf>,
    targets: Vec<String>,
    output: PathBuf,
    title: String,
    notes: Option<PathBuf>,
    jobs: usize,
    seed: u64,
) -> u8 {
    let notes_text = match &notes {
        Some(p) => match std::fs::read_to_string(p) {
            Ok(t) => Some(t),
            Err(e) => {
                eprintln!("error: cannot read notes {}: {e}", p.display());
                return EXIT_USAGE;
            }
        },
        None => None,
    };
    let loaded = match load(&paths) {
        Ok(l) => l,
        Err(c) => return c,
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: failed to start the async runtime: {e}");
            return EXIT_HARNESS;
        }
    };
    let command = format!(
        "conform matrix {} --targets {} -o {}{}",
        paths
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(" "),
        targets.join(","),
        output.display(),
        notes
            .as_ref()
            .map(|n| format!(" --notes {}", n.display()))
            .unwrap_or_default()
    );
    let mut records = Vec::new();
    let mut worst = EXIT_OK;
    for t in &targets {
        let args = RunArgs {
            paths: paths.clone(),
            filter: FilterArgs {
                pattern: None,
                tags: vec![],
                partition: None,
            },
            target: Some(t.clone()),
            iface: None,
            udp: None,
            adapter: None,
            params: vec![],
            jobs,
            seed: Some(seed),
            events: None,
            junit: None,
            html: None,
            pcap: None,
            inconc: InconcArg::Fail,
            format: FormatArg::Human,
            baseline: None,
            out: PathBuf::from("conform-out"),
        };
        eprintln!("=== {t} ===");
        let code = rt.block_on(async {
            let proto = loaded
                .suites
                .first()
                .map(|s| s.protocol.name())
                .unwrap_or("dhcp");
            let spec = target::TargetSpec {
                target: Some(t.clone()),
                iface: None,
                udp: None,
                adapter: None,
                out: args.out.clone(),
            };
            let tgt = match target::start(&spec, proto).await {
                Ok(x) => x,
                Err(target::TargetError::Usage(e)) => {
                    eprintln!("error: {e}");
                    return EXIT_USAGE;
                }
                Err(target::TargetError::Harness(e)) => {
                    eprintln!("error: {e}");
                    target::cleanup_all();
                    return EXIT_HARNESS;
                }
            };
            let filter = Filter::default();
            let (code, events) =
                run_with_target(&args, &loaded, &filter, &HashMap::new(), &tgt).await;
            tgt.shutdown().await;
            target::cleanup_all();
            records.push(RunRecord::from_events(events.iter()));
            code
        });
        if code == EXIT_USAGE {
            return code;
        }
        worst = worst.max(code);
    }
    let md = conform_reports::matrix::render(&records, &title, &command, notes_text.as_deref());
    if let Err(e) = std::fs::write(&output, md) {
        eprintln!("error: cannot write {}: {e}", output.display());
        return EXIT_HARNESS;
    }
    eprintln!("wrote {}", output.display());
    worst
}

fn finished_case(e: &RunEvent) -> Option<String> {
    match &e.kind {
        EventKind::CaseFinished { case, .. } => Some(case.clone()),
        _ => None,
    }
}

/// A progress bar on stderr when it is a terminal and the run is long enough to want one.
fn progress_bar(json: bool, total: usize) -> Option<indicatif::ProgressBar> {
    if json || total < 2 || !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(total as u64);
    let style = indicatif::ProgressStyle::with_template(
        "{bar:30} {pos}/{len} cases  {elapsed_precise}  {msg}",
    )
    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
    bar.set_style(style);
    Some(bar)
}

/// Prints the line of a just-finished case, built from that case's events only.
fn print_case_line(
    all: &[RunEvent],
    id: &str,
    out: &mut impl Write,
    style: term::Style,
    bar: Option<&indicatif::ProgressBar>,
) {
    let mine = all.iter().filter(|e| match &e.kind {
        EventKind::CaseStarted { case, .. } | EventKind::CaseFinished { case, .. } => case == id,
        _ => false,
    });
    let rec = RunRecord::from_events(mine);
    if let Some(c) = rec.cases.first() {
        let line = term::case_line(c, style);
        match bar {
            Some(b) => {
                b.println(line);
                b.inc(1);
                let failed = all.iter().filter(|e| matches!(&e.kind, EventKind::CaseFinished { verdict, deviation, .. } if *verdict != conform_model::Verdict::Pass && deviation.is_none())).count();
                b.set_message(format!("{failed} not passed"));
            }
            None => {
                let _ = writeln!(out, "{line}");
            }
        }
    }
}

/// Writes the whole run to `file` and one capture per case into `per_case_dir`.
fn write_pcaps(
    all: &[RunEvent],
    file: &std::path::Path,
    per_case_dir: &std::path::Path,
) -> Result<(), String> {
    let f =
        std::fs::File::create(file).map_err(|e| format!("cannot write {}: {e}", file.display()))?;
    conform_reports::pcap::write(all, None, std::io::BufWriter::new(f))?;
    std::fs::create_dir_all(per_case_dir)
        .map_err(|e| format!("cannot create {}: {e}", per_case_dir.display()))?;
    for case in conform_reports::pcap::cases_with_packets(all) {
        let path = per_case_dir.join(format!(
            "{}.pcapng",
            conform_reports::pcap::file_stem(&case)
        ));
        let f = std::fs::File::create(&path)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        conform_reports::pcap::write(all, Some(&case), std::io::BufWriter::new(f))?;
    }
    Ok(())
}

/// Writes the HTML report. `pcap_dir` holds the per-case captures, linked relative to the page.
fn write_html(
    events: &[RunEvent],
    path: &std::path::Path,
    pcap_dir: Option<&std::path::Path>,
) -> Result<(), String> {
    let rel = |target: &std::path::Path| -> Option<String> {
        let page_dir = std::path::absolute(path).ok()?.parent()?.to_path_buf();
        let target = std::path::absolute(target).ok()?;
        let common = page_dir
            .components()
            .zip(target.components())
            .take_while(|(a, b)| a == b)
            .count();
        let mut parts: Vec<String> = page_dir
            .components()
            .skip(common)
            .map(|_| "..".to_string())
            .collect();
        parts.extend(
            target
                .components()
                .skip(common)
                .map(|c| c.as_os_str().to_string_lossy().into_owned()),
        );
        Some(if parts.is_empty() {
            ".".to_string()
        } else {
            parts.join("/")
        })
    };
    let opts = conform_reports::html::HtmlOptions {
        pcap_dir: pcap_dir.and_then(rel),
        ..Default::default()
    };
    std::fs::write(path, conform_reports::html::render(events, &opts))
        .map_err(|e| format!("cannot write HTML report to {}: {e}", path.display()))
}

fn read_events_files(from: &[PathBuf]) -> Result<Vec<RunEvent>, u8> {
    let mut all = Vec::new();
    for p in from {
        let f = match std::fs::File::open(p) {
            Ok(f) => f,
            Err(e) => {
                eprintln!("error: cannot read {}: {e}", p.display());
                return Err(EXIT_USAGE);
            }
        };
        match jsonl::read_events(std::io::BufReader::new(f)) {
            Ok(mut e) => all.append(&mut e),
            Err(e) => {
                eprintln!("error: {}: {e}", p.display());
                return Err(EXIT_USAGE);
            }
        }
    }
    Ok(all)
}

fn baseline_update(from: &[PathBuf], path: &std::path::Path) -> u8 {
    let events = match read_events_files(from) {
        Ok(e) => e,
        Err(c) => return c,
    };
    let mut base = if path.exists() {
        match conform_reports::baseline::Baseline::load(path) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("error: {e}");
                return EXIT_USAGE;
            }
        }
    } else {
        conform_reports::baseline::Baseline::default()
    };
    // Each events file may come from another target: update target by target.
    for run in split_runs(&events) {
        let rec = RunRecord::from_events(run.iter());
        eprintln!(
            "baseline: {} case(s) for target `{}`",
            rec.cases.len(),
            rec.target
        );
        base.update(&rec);
    }
    if let Err(e) = std::fs::write(path, base.to_json()) {
        eprintln!("error: cannot write {}: {e}", path.display());
        return EXIT_HARNESS;
    }
    EXIT_OK
}

/// Splits concatenated events at each `RunStarted`, merging runs of the same target (shards).
fn split_runs(events: &[RunEvent]) -> Vec<Vec<RunEvent>> {
    let mut by_target: Vec<(String, Vec<RunEvent>)> = Vec::new();
    let mut current: Option<usize> = None;
    for e in events {
        if let EventKind::RunStarted { target, .. } = &e.kind {
            current = Some(match by_target.iter().position(|(t, _)| t == target) {
                Some(i) => i,
                None => {
                    by_target.push((target.clone(), Vec::new()));
                    by_target.len() - 1
                }
            });
        }
        if let Some(i) = current {
            by_target[i].1.push(e.clone());
        }
    }
    by_target.into_iter().map(|(_, v)| v).collect()
}
