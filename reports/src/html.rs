//! One self-contained, offline HTML report, rendered from run events only.
//!
//! The page has a header (target, adapter, seed, run id, duration), the counts by outcome,
//! filters by outcome, specification (RFC) and tag, an index of cases, and one section per
//! case: spec reference, level and quoted normative text, tags, verdict, reason, deviation
//! note, a message sequence chart in inline SVG (`msc`), the mismatch tables and the full
//! event log. No external assets and no framework: CSS and a few lines of vanilla JS are
//! inline, and without JS every case is shown (the filters only hide sections).
//!
//! Everything taken from an event is escaped (`esc`): summaries, reasons and mismatch values
//! come from the server under test.

mod esc;
mod msc;

use crate::aggregate::{CaseRecord, RunRecord};
use conform_model::event::{EventKind, RunEvent};
use conform_model::Verdict;
use esc::esc;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;

/// How the page is rendered.
#[derive(Clone, Debug)]
pub struct HtmlOptions {
    /// Page title; `conform report` when unset.
    pub title: Option<String>,
    /// When set, each case links to `<pcap_dir>/<case id>.pcapng` (relative to the page).
    pub pcap_dir: Option<String>,
    /// At most this many message arrows per chart; the rest is listed in the event log.
    pub max_arrows: usize,
    /// At most this many lines of event log per case.
    pub max_log_lines: usize,
}

impl Default for HtmlOptions {
    fn default() -> Self {
        HtmlOptions {
            title: None,
            pcap_dir: None,
            max_arrows: 200,
            max_log_lines: 2000,
        }
    }
}

/// The outcome of a case as the report shows it: the verdict, with known deviations and
/// unexpected passes told apart (as the terminal report does).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Outcome {
    Fail,
    Error,
    Xpass,
    Inconc,
    None,
    Unfinished,
    Deviation,
    Pass,
}

impl Outcome {
    fn of(c: &CaseRecord) -> Outcome {
        if !c.finished {
            return Outcome::Unfinished;
        }
        match (c.verdict, c.deviation.is_some()) {
            (Verdict::Pass, false) => Outcome::Pass,
            (Verdict::Pass, true) => Outcome::Xpass,
            (Verdict::Fail | Verdict::Inconc, true) => Outcome::Deviation,
            (Verdict::Fail, false) => Outcome::Fail,
            (Verdict::Inconc, _) => Outcome::Inconc,
            (Verdict::Error, _) => Outcome::Error,
            (Verdict::None, _) => Outcome::None,
        }
    }

    fn key(self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Fail => "fail",
            Outcome::Inconc => "inconc",
            Outcome::Error => "error",
            Outcome::None => "none",
            Outcome::Deviation => "deviation",
            Outcome::Xpass => "xpass",
            Outcome::Unfinished => "unfinished",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Outcome::Pass => "PASS",
            Outcome::Fail => "FAIL",
            Outcome::Inconc => "INCONC",
            Outcome::Error => "ERROR",
            Outcome::None => "NONE",
            Outcome::Deviation => "DEVIATION",
            Outcome::Xpass => "XPASS",
            Outcome::Unfinished => "UNFINISHED",
        }
    }

    fn meaning(self) -> &'static str {
        match self {
            Outcome::Pass => "passed",
            Outcome::Fail => "failed",
            Outcome::Inconc => "inconclusive",
            Outcome::Error => "harness or dynamic error",
            Outcome::None => "no verdict was set",
            Outcome::Deviation => "failed as the target profile records (known deviation)",
            Outcome::Xpass => "passed although the target profile records a deviation",
            Outcome::Unfinished => "never finished (run interrupted)",
        }
    }
}

/// The document part of a spec reference, for the filter: `RFC 2131 §4.3.1` → `RFC 2131`.
fn spec_doc(spec: &str) -> String {
    let s = spec.trim();
    if let Some(rest) = s.strip_prefix("RFC") {
        let digits: String = rest
            .trim_start()
            .chars()
            .take_while(|c| c.is_ascii_digit())
            .collect();
        if !digits.is_empty() {
            return format!("RFC {digits}");
        }
    }
    match s.find('§') {
        Some(i) => s[..i].trim().to_string(),
        None => s.to_string(),
    }
}

fn case_of(k: &EventKind) -> Option<&str> {
    match k {
        EventKind::CaseStarted { case, .. } | EventKind::CaseFinished { case, .. } => Some(case),
        EventKind::Sent { at, .. }
        | EventKind::Received { at, .. }
        | EventKind::Matched { at, .. }
        | EventKind::Mismatch { at, .. }
        | EventKind::Timeout { at, .. }
        | EventKind::VerdictSet { at, .. }
        | EventKind::Log { at, .. }
        | EventKind::AdapterError { at, .. } => Some(&at.case),
        EventKind::RunStarted { .. } | EventKind::RunFinished { .. } => None,
    }
}

fn ms(d: f64) -> String {
    if d >= 10_000.0 {
        format!("{:.1} s", d / 1000.0)
    } else {
        format!("{d:.0} ms")
    }
}

/// `YYYY-MM-DD HH:MM:SS UTC` from milliseconds since the Unix epoch (proleptic Gregorian
/// calendar, Howard Hinnant's days-to-civil algorithm).
fn utc(unix_ms: u64) -> String {
    let secs = unix_ms / 1000;
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Renders the whole page.
pub fn render(events: &[RunEvent], opts: &HtmlOptions) -> String {
    let run = RunRecord::from_events(events.iter());
    let finished = events
        .iter()
        .any(|e| matches!(e.kind, EventKind::RunFinished { .. }));
    let started_unix_ms = events.iter().find_map(|e| match e.kind {
        EventKind::RunStarted {
            started_unix_ms, ..
        } if started_unix_ms > 0 => Some(started_unix_ms),
        _ => None,
    });
    let mut per_case: HashMap<&str, Vec<&RunEvent>> = HashMap::new();
    let mut t0: HashMap<&str, f64> = HashMap::new();
    for e in events {
        if let Some(c) = case_of(&e.kind) {
            if let EventKind::CaseStarted { case, .. } = &e.kind {
                t0.insert(case.as_str(), e.t_ms);
            }
            per_case.entry(c).or_default().push(e);
        }
    }
    let outcomes: Vec<Outcome> = run.cases.iter().map(Outcome::of).collect();
    let title = opts
        .title
        .clone()
        .unwrap_or_else(|| "conform report".to_string());

    let mut h = String::with_capacity(64 * 1024);
    h.push_str(
        "<!DOCTYPE html>\n<html lang=\"en\" class=\"nojs\">\n<head>\n<meta charset=\"utf-8\">\n",
    );
    h.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    let _ = writeln!(
        h,
        "<title>{} — {} ({})</title>",
        esc(&title),
        esc(&run.target),
        esc(&run.run_id)
    );
    h.push_str("<style>\n");
    h.push_str(CSS);
    h.push_str("</style>\n</head>\n<body>\n");

    // Header.
    h.push_str("<header>\n");
    let _ = writeln!(h, "<h1>{}</h1>", esc(&title));
    h.push_str("<dl class=\"meta\">\n");
    let mut meta = vec![
        ("target", run.target.clone()),
        ("adapter", run.adapter.clone()),
        ("seed", run.seed.to_string()),
        ("run id", run.run_id.clone()),
        (
            "duration",
            if finished {
                ms(run.duration_ms)
            } else {
                "unfinished (no run_finished event)".to_string()
            },
        ),
        ("cases", run.cases.len().to_string()),
    ];
    if let Some(t) = started_unix_ms {
        meta.push(("started", utc(t)));
    }
    for (k, v) in meta {
        let _ = writeln!(h, "<div><dt>{k}</dt><dd>{}</dd></div>", esc(&v));
    }
    h.push_str("</dl>\n</header>\n");

    // Summary: counts by outcome (checkboxes when JS runs), spec and tag filters.
    let mut counts: BTreeMap<Outcome, usize> = BTreeMap::new();
    for o in &outcomes {
        *counts.entry(*o).or_default() += 1;
    }
    let specs: BTreeSet<String> = run
        .cases
        .iter()
        .map(|c| spec_doc(&c.spec))
        .filter(|s| !s.is_empty())
        .collect();
    let tags: BTreeSet<&str> = run
        .cases
        .iter()
        .flat_map(|c| c.tags.iter().map(String::as_str))
        .collect();
    h.push_str("<section id=\"summary\">\n<form id=\"filters\" onsubmit=\"return false\">\n<div class=\"chips\">\n");
    for (o, n) in &counts {
        let _ = writeln!(
            h,
            "<label class=\"chip o-{k}\" title=\"{m}\"><input class=\"js-only\" type=\"checkbox\" name=\"outcome\" value=\"{k}\" checked> {l} <b>{n}</b></label>",
            k = o.key(),
            l = o.label(),
            m = o.meaning(),
        );
    }
    h.push_str("</div>\n<div class=\"selects js-only\">\n");
    h.push_str("<label>Spec <select id=\"f-spec\"><option value=\"\">all</option>");
    for s in &specs {
        let _ = write!(h, "<option value=\"{0}\">{0}</option>", esc(s));
    }
    h.push_str(
        "</select></label>\n<label>Tag <select id=\"f-tag\"><option value=\"\">all</option>",
    );
    for t in &tags {
        let _ = write!(h, "<option value=\"{0}\">{0}</option>", esc(t));
    }
    h.push_str("</select></label>\n");
    h.push_str("<button type=\"button\" id=\"f-problems\">problems only</button> <button type=\"button\" id=\"f-all\">show all</button>\n");
    let _ = writeln!(
        h,
        "<span id=\"f-shown\">{0} of {0} cases shown</span>",
        run.cases.len()
    );
    h.push_str("</div>\n</form>\n</section>\n");

    // Index.
    h.push_str("<section id=\"index\">\n<table>\n<thead><tr><th>verdict</th><th>case</th><th>spec</th><th>level</th><th>time</th><th>title</th></tr></thead>\n<tbody>\n");
    for (i, (c, o)) in run.cases.iter().zip(&outcomes).enumerate() {
        let _ = writeln!(
            h,
            "<tr {attrs}><td><span class=\"badge o-{k}\">{l}</span></td><td><a href=\"#c{i}\"><code>{id}</code></a></td><td>{spec}</td><td>{level}</td><td class=\"num\">{d}</td><td>{t}</td></tr>",
            attrs = filter_attrs(c, *o),
            k = o.key(),
            l = o.label(),
            id = esc(&c.id),
            spec = esc(&c.spec),
            level = esc(&c.level),
            d = ms(c.duration_ms),
            t = esc(&c.title),
        );
    }
    h.push_str("</tbody>\n</table>\n</section>\n<main>\n");

    // One section per case.
    for (i, (c, o)) in run.cases.iter().zip(&outcomes).enumerate() {
        let evs = per_case
            .get(c.id.as_str())
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        let start = t0.get(c.id.as_str()).copied().unwrap_or(0.0);
        case_section(&mut h, i, c, *o, evs, start, &run, opts);
    }
    h.push_str("</main>\n<script>\n");
    h.push_str(JS);
    h.push_str("</script>\n</body>\n</html>\n");
    h
}

fn filter_attrs(c: &CaseRecord, o: Outcome) -> String {
    format!(
        "data-outcome=\"{}\" data-spec=\"{}\" data-tags=\"{}\"",
        o.key(),
        esc(&spec_doc(&c.spec)),
        esc(&c.tags.join("|"))
    )
}

#[allow(clippy::too_many_arguments)]
fn case_section(
    h: &mut String,
    i: usize,
    c: &CaseRecord,
    o: Outcome,
    evs: &[&RunEvent],
    t0: f64,
    run: &RunRecord,
    opts: &HtmlOptions,
) {
    let _ = writeln!(
        h,
        "<section class=\"case o-{}\" id=\"c{i}\" {}>",
        o.key(),
        filter_attrs(c, o)
    );
    let _ = writeln!(
        h,
        "<h2><span class=\"badge o-{k}\" title=\"{m}\">{l}</span> <code>{id}</code> <span class=\"title\">{t}</span></h2>",
        k = o.key(),
        m = o.meaning(),
        l = o.label(),
        id = esc(&c.id),
        t = esc(&c.title),
    );
    let _ = writeln!(
        h,
        "<p class=\"where\"><b class=\"spec\">{spec}</b> <span class=\"level\">{level}</span> <span class=\"dim\">suite {suite} · {file} · {d}</span></p>",
        spec = esc(&c.spec),
        level = esc(&c.level),
        suite = esc(&c.suite),
        file = esc(&c.file),
        d = ms(c.duration_ms),
    );
    if !c.text.trim().is_empty() {
        let _ = writeln!(
            h,
            "<blockquote class=\"normative\">{}</blockquote>",
            esc(c.text.trim())
        );
    }
    if !c.tags.is_empty() {
        h.push_str("<p class=\"tags\">");
        for t in &c.tags {
            let _ = write!(h, "<span class=\"tag\">{}</span>", esc(t));
        }
        h.push_str("</p>\n");
    }
    if let Some(r) = &c.reason {
        let _ = writeln!(h, "<p class=\"reason\"><b>Reason:</b> {}</p>", esc(r));
    }
    if let Some(d) = &c.deviation {
        let note = match c.verdict {
            Verdict::Fail | Verdict::Inconc => format!(
                "Known deviation of {}: {}. This {} is expected and does not fail the gate.",
                run.target,
                d.trim_end_matches('.'),
                if c.verdict == Verdict::Fail { "failure" } else { "inconclusive result" }
            ),
            Verdict::Pass => format!(
                "Unexpected pass: the profile of {} records a deviation ({d}). The server (or the case) changed: update the profile.",
                run.target
            ),
            _ => format!("The profile of {} records a deviation: {d}.", run.target),
        };
        let _ = writeln!(h, "<p class=\"deviation\">{}</p>", esc(&note));
    }
    let has_messages = evs
        .iter()
        .any(|e| matches!(e.kind, EventKind::Sent { .. } | EventKind::Received { .. }));
    if let (Some(dir), true) = (&opts.pcap_dir, has_messages) {
        let dir = dir.trim_end_matches('/');
        let href = format!("{dir}/{}.pcapng", crate::pcap::file_stem(&c.id));
        let _ = writeln!(
            h,
            "<p class=\"pcap\">Capture: <a href=\"{0}\">{0}</a></p>",
            esc(&href)
        );
    }

    let server = if run.target.is_empty() {
        "server".to_string()
    } else {
        run.target.clone()
    };
    let chart = msc::chart(evs, t0, &server, opts.max_arrows);
    let drawable = evs.iter().any(|e| {
        !matches!(
            e.kind,
            EventKind::CaseStarted { .. } | EventKind::CaseFinished { .. }
        )
    });
    h.push_str("<div class=\"msc-wrap\">\n");
    if drawable {
        h.push_str("<div class=\"msc-scroll\">");
        h.push_str(&chart.svg);
        h.push_str("</div>\n");
    } else {
        h.push_str(
            "<p class=\"dim\">No messages or other events were recorded for this case.</p>\n",
        );
    }
    if !c.mismatches.is_empty() {
        h.push_str("<div class=\"mismatches\">\n");
        for (n, m) in c.mismatches.iter().enumerate() {
            let _ = writeln!(
                h,
                "<div class=\"mismatch\">\n<h3>#{} expected <code>{}</code></h3>",
                n + 1,
                esc(&m.template)
            );
            match &m.closest {
                Some(cl) => {
                    let _ = writeln!(h, "<p>closest message: <code>{}</code></p>", esc(cl));
                }
                None => h.push_str("<p>no message arrived</p>\n"),
            }
            if !m.mismatches.is_empty() {
                h.push_str("<table class=\"mm\"><thead><tr><th>field</th><th>expected</th><th>actual</th></tr></thead><tbody>\n");
                for f in &m.mismatches {
                    let _ = writeln!(
                        h,
                        "<tr><td><code>{}</code></td><td><code>{}</code></td><td class=\"actual\"><code>{}</code></td></tr>",
                        esc(&f.path),
                        esc(&f.expected),
                        esc(&f.actual)
                    );
                }
                h.push_str("</tbody></table>\n");
            }
            if !m.unmatched.is_empty() {
                let _ = writeln!(
                    h,
                    "<p>{} message(s) arrived and matched nothing:</p><ul class=\"unmatched\">",
                    m.unmatched.len()
                );
                for u in &m.unmatched {
                    let _ = writeln!(h, "<li><code>{}</code></li>", esc(u));
                }
                h.push_str("</ul>\n");
            }
            h.push_str("</div>\n");
        }
        h.push_str("</div>\n");
    }
    h.push_str("</div>\n");
    if chart.omitted_messages + chart.omitted_other > 0 {
        let _ = writeln!(
            h,
            "<p class=\"note\">The chart shows the first {} messages; {} more message(s) and {} other event(s) are only in the event log.</p>",
            chart.arrows, chart.omitted_messages, chart.omitted_other
        );
    }
    if !c.log.is_empty() {
        let shown = c.log.len().min(opts.max_log_lines);
        let _ = writeln!(
            h,
            "<details class=\"log\"><summary>Event log ({} lines)</summary><pre>",
            c.log.len()
        );
        for l in &c.log[..shown] {
            h.push_str(&esc(l));
            h.push('\n');
        }
        if shown < c.log.len() {
            let _ = writeln!(h, "… {} more line(s) not shown; `conform report --from` on the events file has them all", c.log.len() - shown);
        }
        h.push_str("</pre></details>\n");
    }
    h.push_str("</section>\n");
}

const CSS: &str = r#":root{--pass:#1a7f37;--fail:#cf222e;--inconc:#9a6700;--error:#8250df;--none:#6e7781;--deviation:#bc4c00;--xpass:#bf3989;--fg:#1f2328;--dim:#59636e;--line:#d1d9e0;--bg2:#f6f8fa}
*{box-sizing:border-box}
[hidden]{display:none!important}
.nojs .js-only{display:none!important}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:var(--fg);margin:0 auto;padding:16px 24px 48px;max-width:1600px}
code,pre,.msc text{font-family:ui-monospace,"DejaVu Sans Mono",Menlo,Consolas,monospace}
h1{font-size:22px;margin:0 0 8px}
h2{font-size:17px;margin:0 0 6px;display:flex;gap:8px;align-items:baseline;flex-wrap:wrap}
h3{font-size:14px;margin:0 0 4px}
.meta{display:flex;flex-wrap:wrap;gap:6px 28px;margin:0 0 12px}
.meta div{display:flex;gap:6px}.meta dt{color:var(--dim)}.meta dt::after{content":"}.meta dd{margin:0;font-weight:600}
#summary{position:sticky;top:0;background:#fff;z-index:2;padding:8px 0;border-bottom:1px solid var(--line)}
.chips{display:flex;flex-wrap:wrap;gap:8px}
.chip{border:1px solid currentColor;border-radius:14px;padding:2px 12px;font-weight:600;cursor:pointer;user-select:none}
.chip b{margin-left:4px}.chip input{margin:0 4px 0 0;vertical-align:-2px}
.selects{margin-top:8px;display:flex;flex-wrap:wrap;gap:12px;align-items:center}
#f-shown{color:var(--dim)}
#index table{border-collapse:collapse;margin:12px 0 20px;width:100%}
#index td,#index th{padding:3px 8px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
#index td:nth-child(3),#index td:nth-child(4){white-space:nowrap}
#index th{background:var(--bg2);font-weight:600}
td.num{text-align:right;white-space:nowrap}
a{color:#0969da}
.badge{display:inline-block;min-width:64px;text-align:center;border-radius:4px;padding:1px 6px;font-size:12px;font-weight:700;color:#fff;background:var(--none)}
.case{border:1px solid var(--line);border-left:6px solid var(--none);border-radius:6px;padding:12px 16px;margin:0 0 18px;scroll-margin-top:110px}
.o-pass{--c:var(--pass)}.o-fail{--c:var(--fail)}.o-inconc{--c:var(--inconc)}.o-error{--c:var(--error)}.o-none,.o-unfinished{--c:var(--none)}.o-deviation{--c:var(--deviation)}.o-xpass{--c:var(--xpass)}
.case,.badge{border-left-color:var(--c)}.badge{background:var(--c)}.chip{color:var(--c)}
.where{margin:0 0 6px}.level{font-weight:700;font-size:12px;border:1px solid var(--line);border-radius:3px;padding:0 4px}
.dim{color:var(--dim)}
blockquote.normative{margin:6px 0 8px;padding:6px 12px;border-left:4px solid var(--line);background:var(--bg2);white-space:pre-wrap;font-style:italic}
.tags{margin:4px 0}.tag{display:inline-block;background:#ddf4ff;color:#0550ae;border-radius:10px;padding:0 8px;margin-right:4px;font-size:12px}
.reason{margin:4px 0}.deviation{margin:4px 0;padding:4px 10px;border-radius:4px;background:#fff1e5;border:1px solid #ffd8b5}
.o-xpass .deviation{background:#ffeff7;border-color:#ffd3eb}
.note{color:var(--dim);font-style:italic}
.msc-wrap{display:flex;flex-wrap:wrap;gap:16px;align-items:flex-start;margin-top:10px}
.msc-scroll{overflow-x:auto;max-width:100%;border:1px solid var(--line);border-radius:4px;background:#fff}
.mismatches{flex:1 1 440px;min-width:320px}
.mismatch{border:1px solid #ffcecb;background:#ffebe9;border-radius:4px;padding:8px 10px;margin-bottom:10px}
.mismatch p{margin:2px 0 6px}
table.mm{border-collapse:collapse;width:100%;background:#fff}
table.mm td,table.mm th{border:1px solid #ffcecb;padding:2px 6px;text-align:left;vertical-align:top;overflow-wrap:anywhere}
table.mm td:first-child{white-space:nowrap;overflow-wrap:normal}
table.mm td.actual{color:var(--fail);font-weight:600}
ul.unmatched{margin:0;padding-left:20px}
details.log{margin-top:8px}details.log pre{background:var(--bg2);padding:8px;overflow-x:auto;font-size:12px;max-height:480px}
.msc text{font-size:11px;fill:var(--fg)}
.msc .msc-t{font-size:10px;fill:var(--dim);text-anchor:end}
.msc-head rect{fill:var(--bg2);stroke:#8c959f}.msc-head text{text-anchor:middle;font-weight:700}
.msc-server rect{fill:#eef1f4}
.msc-lifeline{stroke:#8c959f;stroke-dasharray:4 3}
.msc-arrow{stroke:#0969da;stroke-width:1.5}.msc-arrowhead{fill:#0969da}
.msc-recv .msc-arrow{stroke:#1f6feb}.msc-recv .msc-arrowhead{fill:#1f6feb}
.msc-sent .msc-arrow{stroke:#24292f}.msc-sent .msc-arrowhead{fill:#24292f}
.msc-bad .msc-arrow{stroke:var(--fail);stroke-width:2}.msc-bad .msc-arrowhead{fill:var(--fail)}.msc-bad .msc-label{fill:var(--fail);font-weight:700}
.msc-check{stroke:var(--pass);stroke-width:2.2;fill:none}.msc-match text{fill:var(--pass)}
.msc-cross{stroke:var(--fail);stroke-width:2.5}.msc-mismatch text{fill:var(--fail);font-weight:700}
.msc-hourglass{fill:#fff8c5;stroke:var(--inconc);stroke-width:1.5}.msc-timeout text{fill:var(--inconc);font-weight:600}
.msc-hex{stroke:#fff;stroke-width:1}.msc-verdict text{font-weight:700}
.msc-verdict.v-pass .msc-hex{fill:var(--pass)}.msc-verdict.v-pass text{fill:var(--pass)}
.msc-verdict.v-fail .msc-hex{fill:var(--fail)}.msc-verdict.v-fail text{fill:var(--fail)}
.msc-verdict.v-inconc .msc-hex{fill:var(--inconc)}.msc-verdict.v-inconc text{fill:var(--inconc)}
.msc-verdict.v-error .msc-hex{fill:var(--error)}.msc-verdict.v-error text{fill:var(--error)}
.msc-verdict.v-none .msc-hex{fill:var(--none)}
.msc-note path,.msc-note rect{fill:#fffbdd;stroke:#d4a72c}
.msc-adapter-error rect{fill:#ffebe9;stroke:var(--fail)}.msc-adapter-error text{fill:var(--fail)}
.msc-truncated rect{fill:var(--bg2);stroke:#8c959f;stroke-dasharray:3 3}.msc-truncated text{fill:var(--dim);font-style:italic}
@media print{#summary{position:static}.js-only{display:none!important}}
"#;

const JS: &str = r#"(function () {
  document.documentElement.classList.remove('nojs');
  var form = document.getElementById('filters');
  var boxes = Array.prototype.slice.call(form.querySelectorAll('input[name=outcome]'));
  var spec = document.getElementById('f-spec'), tag = document.getElementById('f-tag');
  var shown = document.getElementById('f-shown');
  function apply() {
    var on = {};
    boxes.forEach(function (b) { on[b.value] = b.checked; });
    var n = 0, total = 0;
    document.querySelectorAll('[data-outcome]').forEach(function (el) {
      var ok = on[el.dataset.outcome] !== false
        && (!spec.value || el.dataset.spec === spec.value)
        && (!tag.value || ('|' + el.dataset.tags + '|').indexOf('|' + tag.value + '|') >= 0);
      el.hidden = !ok;
      if (el.tagName === 'SECTION') { total++; if (ok) { n++; } }
    });
    shown.textContent = n + ' of ' + total + ' cases shown';
  }
  form.addEventListener('change', apply);
  function problems() {
    boxes.forEach(function (b) { b.checked = b.value !== 'pass' && b.value !== 'deviation'; });
    apply();
  }
  document.getElementById('f-problems').addEventListener('click', problems);
  document.getElementById('f-all').addEventListener('click', function () {
    boxes.forEach(function (b) { b.checked = true; });
    spec.value = ''; tag.value = '';
    apply();
  });
  // report.html#problems opens with only the cases that need attention.
  if (location.hash === '#problems') { problems(); } else { apply(); }
})();
"#;

#[cfg(test)]
mod tests {
    #[test]
    fn utc_dates() {
        assert_eq!(super::utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(super::utc(951_782_400_000), "2000-02-29 00:00:00 UTC");
        assert_eq!(super::utc(1_795_417_200_123), "2026-11-23 07:00:00 UTC");
    }

    #[test]
    fn spec_documents() {
        assert_eq!(super::spec_doc("RFC 2131 §4.3.1"), "RFC 2131");
        assert_eq!(super::spec_doc("RFC2132 Table 3"), "RFC 2132");
        assert_eq!(super::spec_doc("ES 201 873-1 §B.1"), "ES 201 873-1");
    }
}
