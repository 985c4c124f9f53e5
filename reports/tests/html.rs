//! The HTML report from a synthetic event stream: golden output, escaping of server-controlled
//! text, the arrow cap, and a real browser (headless Chromium) rendering the page: the dumped
//! DOM has the charts with the expected number of arrows and a screenshot is taken.

use conform_model::event::{At, Counts, EventKind, RunEvent};
use conform_model::{Mismatch, Verdict};
use conform_reports::html::{render, HtmlOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn ev(t: f64, kind: EventKind) -> RunEvent {
    RunEvent { t_ms: t, kind }
}

fn at(case: &str, component: &str, step: &str) -> At {
    At {
        case: case.into(),
        component: component.into(),
        step: step.into(),
    }
}

fn started(
    t: f64,
    case: &str,
    title: &str,
    spec: &str,
    level: &str,
    text: &str,
    tags: &[&str],
) -> RunEvent {
    ev(
        t,
        EventKind::CaseStarted {
            case: case.into(),
            title: title.into(),
            suite: "examples".into(),
            file: "suites/examples/dora.yaml".into(),
            spec: spec.into(),
            level: level.into(),
            text: text.into(),
            tags: tags.iter().map(|s| s.to_string()).collect(),
        },
    )
}

fn sent(t: f64, case: &str, comp: &str, template: &str, summary: &str) -> RunEvent {
    ev(
        t,
        EventKind::Sent {
            at: at(case, comp, "1"),
            template: template.into(),
            summary: summary.into(),
            datagram: Default::default(),
        },
    )
}

fn received(t: f64, case: &str, comp: &str, summary: &str) -> RunEvent {
    ev(
        t,
        EventKind::Received {
            at: at(case, comp, "2"),
            summary: summary.into(),
            datagram: Default::default(),
        },
    )
}

fn matched(t: f64, case: &str, comp: &str, template: &str, captured: &[(&str, &str)]) -> RunEvent {
    ev(
        t,
        EventKind::Matched {
            at: at(case, comp, "2"),
            template: template.into(),
            summary: String::new(),
            captured: captured
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        },
    )
}

fn verdict(t: f64, case: &str, comp: &str, v: Verdict, reason: Option<&str>) -> RunEvent {
    ev(
        t,
        EventKind::VerdictSet {
            at: at(case, comp, "3"),
            verdict: v,
            reason: reason.map(String::from),
        },
    )
}

fn finished(
    t: f64,
    case: &str,
    v: Verdict,
    reason: Option<&str>,
    deviation: Option<&str>,
    duration_ms: f64,
) -> RunEvent {
    ev(
        t,
        EventKind::CaseFinished {
            case: case.into(),
            verdict: v,
            reason: reason.map(String::from),
            duration_ms,
            deviation: deviation.map(String::from),
        },
    )
}

const NAK: &str = "DHCPNAK xid=0x2a <script>alert('pwned')</script> msg=\"bad\"";

/// Message arrows in `events()` with `opts()`: 4 (dora) + 2 (nak) + 4 (parallel) + 6 (long,
/// capped at 6 of 20).
const ARROWS: usize = 16;
/// Cases with at least one event besides start and finish, so with a chart.
const CHARTS: usize = 4;

/// Five cases: a pass, a failure with a mismatch and a hostile summary, a known deviation with
/// two parallel components, a long inconclusive exchange past the arrow cap, a case that never
/// set a verdict.
fn events() -> Vec<RunEvent> {
    let mut v = vec![ev(
        0.0,
        EventKind::RunStarted {
            version: 1,
            run_id: "00000000000000ab".into(),
            target: "dnsmasq".into(),
            adapter: "raw cf..c0 in netns conform-1".into(),
            cases: 5,
            seed: 42,
            started_unix_ms: 1_795_417_200_000,
        },
    )];
    let c = "dora-offer";
    v.extend([
        started(
            1.0,
            c,
            "DISCOVER gets an OFFER from the pool",
            "RFC 2131 §4.3.1",
            "MUST",
            "If no address is available in the pool,\nthe server MAY choose to report the problem.",
            &["core", "discover"],
        ),
        sent(
            1.5,
            c,
            "mtc",
            "discover",
            "DHCPDISCOVER xid=0x11 chaddr=02:00:00:00:00:01",
        ),
        received(
            3.2,
            c,
            "mtc",
            "DHCPOFFER xid=0x11 yiaddr=192.0.2.10 server-id=192.0.2.1 lease=3600",
        ),
        matched(3.3, c, "mtc", "offer", &[("lease_ip", "192.0.2.10")]),
        sent(
            3.6,
            c,
            "mtc",
            "request",
            "DHCPREQUEST xid=0x11 requested=192.0.2.10 server-id=192.0.2.1",
        ),
        received(
            5.0,
            c,
            "mtc",
            "DHCPACK xid=0x11 yiaddr=192.0.2.10 lease=3600",
        ),
        matched(5.1, c, "mtc", "ack", &[]),
        ev(
            5.2,
            EventKind::Log {
                at: at(c, "mtc", "5"),
                text: "lease 192.0.2.10 for 3600 s".into(),
            },
        ),
        verdict(5.3, c, "mtc", Verdict::Pass, None),
        finished(5.4, c, Verdict::Pass, None, None, 4.4),
    ]);
    let c = "nak-wrong-server-id";
    v.extend([
        started(
            10.0,
            c,
            "REQUEST naming another server is ignored",
            "RFC 2131 §4.3.2",
            "MUST",
            "If the server identifier does not match, the server MUST NOT reply.",
            &["core", "request", "nak"],
        ),
        sent(
            10.5,
            c,
            "mtc",
            "request_other",
            "DHCPREQUEST xid=0x2a server-id=198.51.100.9",
        ),
        received(12.0, c, "mtc", NAK),
        ev(
            2010.5,
            EventKind::Mismatch {
                at: at(c, "mtc", "2"),
                template: "silence".into(),
                closest: Some(NAK.into()),
                mismatches: vec![
                    Mismatch {
                        path: "options.53".into(),
                        expected: "absent".into(),
                        actual: "NAK (6) <b>".into(),
                    },
                    Mismatch {
                        path: "options.54".into(),
                        expected: "198.51.100.9".into(),
                        actual: "192.0.2.1".into(),
                    },
                ],
                unmatched: vec![NAK.into()],
            },
        ),
        ev(
            2010.6,
            EventKind::Timeout {
                at: at(c, "mtc", "2"),
                timer: "T_guard".into(),
            },
        ),
        verdict(
            2010.7,
            c,
            "mtc",
            Verdict::Fail,
            Some("the server answered a REQUEST for another server"),
        ),
        finished(
            2010.8,
            c,
            Verdict::Fail,
            Some("the server answered a REQUEST for another server"),
            None,
            2000.8,
        ),
    ]);
    let c = "parallel-client-ids";
    v.extend([
        started(
            3000.0,
            c,
            "two clients with distinct client ids get distinct leases",
            "RFC 6842 §3",
            "MUST",
            "Servers MUST echo the client identifier.",
            &["client-id", "rfc6842"],
        ),
        sent(
            3001.0,
            c,
            "ptc1",
            "discover",
            "DHCPDISCOVER xid=0x31 client-id=01:aa",
        ),
        sent(
            3001.2,
            c,
            "ptc2",
            "discover",
            "DHCPDISCOVER xid=0x32 client-id=01:bb",
        ),
        received(
            3003.0,
            c,
            "",
            "DHCPOFFER xid=0x31 yiaddr=192.0.2.20 (no client-id)",
        ),
        received(
            3003.4,
            c,
            "",
            "DHCPOFFER xid=0x32 yiaddr=192.0.2.21 (no client-id)",
        ),
        matched(3003.5, c, "ptc1", "offer", &[]),
        ev(
            3003.6,
            EventKind::AdapterError {
                at: at(c, "ptc2", "2"),
                message: "sendto: No buffer space available".into(),
            },
        ),
        verdict(
            3003.7,
            c,
            "ptc2",
            Verdict::Fail,
            Some("option 61 absent from the OFFER"),
        ),
        verdict(3003.8, c, "mtc", Verdict::Pass, None),
        finished(
            3004.0,
            c,
            Verdict::Fail,
            Some("option 61 absent from the OFFER"),
            Some("dnsmasq does not echo option 61"),
            4.0,
        ),
    ]);
    let c = "long-renewals";
    v.push(started(
        4000.0,
        c,
        "ten renewals in a row",
        "RFC 2131 §4.4.5",
        "SHOULD",
        "The client SHOULD renew at T1.",
        &["lease"],
    ));
    for i in 0..10 {
        let t = 4001.0 + i as f64 * 10.0;
        v.push(sent(
            t,
            c,
            "mtc",
            "renew",
            &format!(
                "DHCPREQUEST xid=0x{:x} ciaddr=192.0.2.10 (renewal {i})",
                0x40 + i
            ),
        ));
        v.push(received(
            t + 1.0,
            c,
            "mtc",
            &format!("DHCPACK xid=0x{:x} lease=3600", 0x40 + i),
        ));
    }
    v.extend([
        ev(
            4200.0,
            EventKind::Timeout {
                at: at(c, "mtc", "9"),
                timer: "T1".into(),
            },
        ),
        verdict(4200.1, c, "mtc", Verdict::Inconc, Some("no T1 configured")),
        finished(
            4200.2,
            c,
            Verdict::Inconc,
            Some("no T1 configured"),
            None,
            200.2,
        ),
    ]);
    let c = "silent";
    v.extend([
        started(
            5000.0,
            c,
            "a case that sets no verdict",
            "RFC 2132 §9.14",
            "MAY",
            "",
            &[],
        ),
        finished(5000.5, c, Verdict::None, None, None, 0.5),
        ev(
            5001.0,
            EventKind::RunFinished {
                counts: Counts::default(),
                duration_ms: 5001.0,
            },
        ),
    ]);
    v
}

fn opts() -> HtmlOptions {
    HtmlOptions {
        pcap_dir: Some("pcaps".into()),
        max_arrows: 6,
        ..HtmlOptions::default()
    }
}

#[test]
fn html_report_golden() {
    let html = render(&events(), &opts());
    insta::with_settings!({ snapshot_path => "data/snapshots", prepend_module_to_snapshot => false }, {
        insta::assert_snapshot!("html_report", html);
    });
}

#[test]
fn html_report_structure() {
    let html = render(&events(), &opts());
    assert_eq!(html.matches("<svg class=\"msc\"").count(), CHARTS);
    assert_eq!(html.matches("class=\"msc-arrow\"").count(), ARROWS);
    // One section per case, with its outcome for the filters.
    assert_eq!(html.matches("<section class=\"case ").count(), 5);
    for o in ["pass", "fail", "deviation", "inconc", "none"] {
        assert!(
            html.contains(&format!("<section class=\"case o-{o}\"")),
            "no {o} section"
        );
    }
    // The cap note, in the chart and under it.
    assert!(
        html.contains("capped at 6 messages: 14 more message(s) not drawn"),
        "cap notice missing"
    );
    assert!(html.contains("The chart shows the first 6 messages; 14 more message(s)"));
    // The closest message of the mismatch is drawn in red.
    assert_eq!(html.matches("msc-msg msc-recv msc-bad").count(), 1);
    // Received without a component goes to every component lifeline (mtc, ptc1, ptc2).
    assert_eq!(html.matches("msc-recv msc-bcast").count(), 2);
    // The normative text is quoted, the deviation explained, the pcap linked.
    assert!(html.contains(
        "<blockquote class=\"normative\">Servers MUST echo the client identifier.</blockquote>"
    ));
    assert!(html.contains("Known deviation of dnsmasq: dnsmasq does not echo option 61."));
    assert!(html.contains("<a href=\"pcaps/dora-offer.pcapng\">"));
    // No capture link for a case that exchanged no message (no capture file is written).
    assert!(!html.contains("pcaps/silent.pcapng"));
    // Without JS, every case is visible and the filter controls are hidden.
    assert!(html.contains("<html lang=\"en\" class=\"nojs\">"));
    assert!(
        !html.contains(" hidden"),
        "nothing is hidden before the script runs"
    );
    // Self-contained: no external asset.
    for bad in ["src=\"http", "href=\"http", "<link ", "@import", "url("] {
        assert!(!html.contains(bad), "external reference `{bad}`");
    }
}

#[test]
fn html_escapes_server_text() {
    let html = render(&events(), &opts());
    assert!(
        !html.contains("<script>alert"),
        "a server-controlled <script> reached the page unescaped"
    );
    assert!(html.contains("&lt;script&gt;alert(&#39;pwned&#39;)&lt;/script&gt;"));
    assert!(html.contains("NAK (6) &lt;b&gt;"));
    // The page's own single script is the only one.
    assert_eq!(html.matches("<script>").count(), 1);
    // Attribute context: a tag or spec with quotes cannot break out of data-* attributes.
    let mut evs = events();
    let id = "x\"><img src=x onerror=alert(1)>";
    evs.push(started(
        6000.0,
        id,
        "t",
        "RFC 1\" onmouseover=\"x",
        "MUST",
        "",
        &["a\"b"],
    ));
    evs.push(sent(6001.0, id, "mtc<svg onload=alert(2)>", "t<x>", "s"));
    let html = render(&evs, &opts());
    assert!(!html.contains("<img src=x"));
    assert!(
        !html.contains("<svg onload"),
        "a component name reached the chart unescaped"
    );
    assert!(!html.contains("\" onmouseover=\"x"));
    assert!(html.contains("data-tags=\"a&quot;b\""));
    // A case id cannot leave the pcap directory or the attribute.
    assert!(html.contains("href=\"pcaps/x___img_src_x_onerror_alert_1__.pcapng\""));
}

#[test]
fn html_caps_arrows_per_chart() {
    let mut v = vec![started(
        0.0,
        "flood",
        "many replies",
        "RFC 2131 §4.1",
        "MUST",
        "",
        &[],
    )];
    for i in 0..1000 {
        v.push(received(
            i as f64,
            "flood",
            "mtc",
            &format!("DHCPOFFER #{i}"),
        ));
    }
    v.push(verdict(
        1000.0,
        "flood",
        "mtc",
        Verdict::Fail,
        Some("too many offers"),
    ));
    v.push(finished(
        1001.0,
        "flood",
        Verdict::Fail,
        Some("too many offers"),
        None,
        1001.0,
    ));
    let html = render(&v, &HtmlOptions::default());
    assert_eq!(html.matches("class=\"msc-arrow\"").count(), 200);
    assert!(html.contains("capped at 200 messages: 800 more message(s) not drawn"));
    // The verdict after the cap is still drawn.
    assert!(html.contains("setverdict(fail): too many offers"));
}

// ---- headless Chromium ----

/// Writes a line straight to stderr, so a skip is visible without `--nocapture`.
fn loud(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

fn find_chromium() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for name in ["chromium", "chromium-browser"] {
        for dir in std::env::split_paths(&path).chain([PathBuf::from("/usr/bin")]) {
            let p = dir.join(name);
            if p.is_file() {
                return Some(p);
            }
        }
    }
    None
}

/// Runs headless Chromium on `page` with `extra` flags; returns stdout. Killed after 120 s.
fn chromium(bin: &Path, profile: &Path, page: &Path, fragment: &str, extra: &[String]) -> String {
    let mut cmd = Command::new(bin);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
    ])
    .arg(format!("--user-data-dir={}", profile.display()))
    .args(extra)
    .arg(format!("file://{}{fragment}", page.display()))
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("failed to start chromium");
    let stdout = child.stdout.take().expect("stdout");
    let stderr = child.stderr.take().expect("stderr");
    let out = std::thread::spawn(move || std::io::read_to_string(stdout).unwrap_or_default());
    let err = std::thread::spawn(move || std::io::read_to_string(stderr).unwrap_or_default());
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait for chromium") {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish within 120 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let out = out.join().unwrap_or_default();
    let err = err.join().unwrap_or_default();
    assert!(status.success(), "chromium failed ({status}): {err}");
    out
}

/// Renders `html` in headless Chromium: the DOM after scripts ran, the DOM of
/// `page.html#problems` (filtered by the page's script), and a screenshot that is kept in
/// `<target>/tmp/html-report/<name>.png` to look at.
fn browse(name: &str, html: &str) -> Option<(String, String, PathBuf)> {
    let Some(bin) = find_chromium() else {
        loud("SKIPPED: html report browser test because chromium is not installed (apt-get install chromium, or ci/install-report-tools.sh)");
        return None;
    };
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("html-report");
    std::fs::create_dir_all(&dir).unwrap();
    let page = dir.join(format!("{name}.html"));
    std::fs::write(&page, html).unwrap();
    let png = dir.join(format!("{name}.png"));
    let _ = std::fs::remove_file(&png);
    let profile = dir.join(format!("{name}-profile-{}", std::process::id()));
    let dump = ["--dump-dom".to_string()];
    let dom = chromium(&bin, &profile.join("dom"), &page, "", &dump);
    let problems = chromium(&bin, &profile.join("problems"), &page, "#problems", &dump);
    let shot = [
        format!("--screenshot={}", png.display()),
        "--window-size=1280,2000".to_string(),
    ];
    chromium(&bin, &profile.join("shot"), &page, "", &shot);
    let _ = std::fs::remove_dir_all(&profile);
    Some((dom, problems, png))
}

#[test]
fn html_report_in_headless_chromium() {
    let html = render(&events(), &opts());
    let Some((dom, problems, png)) = browse("synthetic", &html) else {
        return;
    };
    // The charts are in the DOM the browser built, with every arrow.
    assert_eq!(
        dom.matches("<svg class=\"msc\"").count(),
        CHARTS,
        "charts in the dumped DOM"
    );
    assert_eq!(
        dom.matches("class=\"msc-arrow\"").count(),
        ARROWS,
        "arrows in the dumped DOM"
    );
    // The escaped summary stayed text: no script element besides the page's own.
    assert_eq!(dom.matches("<script>").count(), 1);
    assert!(
        dom.contains("&lt;script&gt;alert('pwned')&lt;/script&gt;"),
        "escaped summary as text"
    );
    // The filter script ran: the no-JS class is gone and the counter was filled in.
    assert!(
        !dom.contains("class=\"nojs\""),
        "the filter script did not run"
    );
    assert!(dom.contains("5 of 5 cases shown"));
    // `#problems` runs the filter: pass and known-deviation cases are hidden, in the index
    // and in the case sections alike.
    assert!(
        problems.contains("3 of 5 cases shown"),
        "the #problems filter did not apply"
    );
    for (o, hidden) in [
        ("pass", true),
        ("deviation", true),
        ("fail", false),
        ("inconc", false),
        ("none", false),
    ] {
        let tag = format!("<section class=\"case o-{o}\"");
        let at = problems
            .find(&tag)
            .unwrap_or_else(|| panic!("no {o} section"));
        let open_tag = &problems[at..at + problems[at..].find('>').unwrap()];
        assert_eq!(
            open_tag.contains(" hidden"),
            hidden,
            "{o} section: {open_tag}"
        );
    }
    let rows: Vec<&str> = problems
        .split("<tr data-outcome=")
        .skip(1)
        .map(|r| &r[..r.find('>').unwrap()])
        .collect();
    assert_eq!(rows.len(), 5);
    assert_eq!(
        rows.iter().filter(|r| r.contains(" hidden")).count(),
        2,
        "index rows hidden: {rows:?}"
    );
    let size = std::fs::metadata(&png).map(|m| m.len()).unwrap_or(0);
    assert!(
        size > 50_000,
        "screenshot {} is only {size} bytes",
        png.display()
    );
    let head = std::fs::read(&png).unwrap();
    assert_eq!(&head[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    loud(&format!(
        "html report screenshot: {} ({size} bytes)",
        png.display()
    ));
}
