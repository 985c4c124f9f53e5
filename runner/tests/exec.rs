//! Runner semantics against an in-process simulated DHCP peer with tokio's paused time:
//! alt, timers, captures, components, defaults and the verdict rules. The simulated peer is for
//! these unit tests only; acceptance runs use real servers in the lab.

use conform_adapters::sim::SimAdapter;
use conform_adapters::{Adapter, AdapterError, Incoming};
use conform_codec::{protocol_by_name, Datagram, Protocol, Value};
use conform_model::event::{At, EventKind, RunEvent, NOT_TIED};
use conform_model::load::load_paths;
use conform_model::suite::Case;
use conform_model::Verdict;
use conform_runner::exec::{run_case, CaseEnv, CaseResult, Emitter};
use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn proto() -> Arc<dyn Protocol> {
    protocol_by_name("dhcp").unwrap()
}

fn get(p: &dyn Protocol, d: &Datagram, path: &str) -> Option<Value> {
    let f = p.resolve(path).unwrap();
    p.decode(d).get(&f).map(|v| v.into_owned())
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Normal,
    Silent,
    NakEverything,
    /// Sends a foreign OFFER (other xid) first, then the real one.
    NoiseFirst,
    /// Sends only a foreign OFFER (another exchange's xid) and an empty datagram (no xid at
    /// all, like a TCP `closed` pseudo-message): for this case, a silent server.
    OnlyForeign,
    /// Sends a foreign OFFER (closer to an OFFER template than anything else) and a NAK with
    /// the case's own xid.
    ForeignAndNak,
}

/// A minimal DHCP server: OFFER for DISCOVER, ACK for a REQUEST whose option 50 equals the
/// address it offered to that chaddr, NAK otherwise. Addresses are handed out per chaddr.
fn fake_server(mode: Mode) -> Arc<SimAdapter> {
    let leases: Arc<Mutex<HashMap<Vec<u8>, Ipv4Addr>>> = Arc::default();
    let p = proto();
    Arc::new(SimAdapter::new(Arc::new(move |d: &Datagram| {
        if mode == Mode::Silent {
            return vec![];
        }
        let p = p.as_ref();
        let Some(Value::Int(mt)) = get(p, d, "options.message_type") else {
            return vec![];
        };
        let Some(Value::Int(xid)) = get(p, d, "xid") else {
            return vec![];
        };
        let Some(Value::Bytes(ch)) = get(p, d, "chaddr") else {
            return vec![];
        };
        let mut l = leases.lock().unwrap();
        let n = l.len() as u8;
        let ip = *l
            .entry(ch.clone())
            .or_insert(Ipv4Addr::new(192, 0, 2, 100 + n));
        let reply_type = match (mode, mt) {
            (Mode::NakEverything | Mode::ForeignAndNak, _) => 6,
            (_, 1) => 2,
            (_, 3) => match get(p, d, "options.requested_ip") {
                Some(Value::Ipv4(r)) if r == ip => 5,
                _ => 6,
            },
            _ => return vec![],
        };
        let build_as = |xid: i64, yi: Ipv4Addr, reply_type: i64| {
            let fields: Vec<(conform_codec::FieldRef, Option<Value>)> = vec![
                ("op", Value::Int(2)),
                ("xid", Value::Int(xid)),
                (
                    "yiaddr",
                    Value::Ipv4(if reply_type == 6 {
                        Ipv4Addr::UNSPECIFIED
                    } else {
                        yi
                    }),
                ),
                ("chaddr", Value::Bytes(ch.clone())),
                ("options.message_type", Value::Int(reply_type)),
                (
                    "options.server_id",
                    Value::Ipv4(Ipv4Addr::new(192, 0, 2, 1)),
                ),
                ("options.lease_time", Value::Int(3600)),
                ("udp.src", Value::Int(67)),
                ("udp.dst", Value::Int(68)),
            ]
            .into_iter()
            .map(|(k, v)| (p.resolve(k).unwrap(), Some(v)))
            .collect();
            p.encode(&fields).unwrap()
        };
        let build = |xid: i64, yi: Ipv4Addr| build_as(xid, yi, reply_type);
        let mut out = vec![];
        if mode == Mode::ForeignAndNak {
            out.push((Duration::from_millis(5), build_as(xid ^ 0x5555, ip, 2)));
        }
        if matches!(mode, Mode::NoiseFirst | Mode::OnlyForeign) {
            out.push((Duration::from_millis(5), build(xid ^ 0x5555, ip)));
        }
        if mode == Mode::OnlyForeign {
            out.push((Duration::from_millis(6), Datagram::default()));
        } else {
            out.push((Duration::from_millis(10), build(xid, ip)));
        }
        out
    })))
}

const COMMON: &str = r#"
protocol: dhcp
params:
  server_ip: { type: ipv4, default: 192.0.2.1 }
templates:
  discover:
    op: BOOTREQUEST
    xid: $xid
    chaddr: $chaddr
    flags.broadcast: true
    options:
      message_type: DISCOVER
      client_id: $client_id
  request:
    params: [ip]
    modifies: discover
    options:
      message_type: REQUEST
      requested_ip: $ip
      server_id: $server_ip
  reply:
    params: [{type: "?"}]
    op: BOOTREPLY
    xid: $xid
    chaddr: $chaddr
    options:
      message_type: $type
      server_id: $server_ip
  offer:
    modifies: reply
    options:
      message_type: OFFER
      lease_time: { range: 60..86400 }
altsteps:
  nak_fails:
    - receive: { template: reply, args: { type: NAK } }
      verdict: fail
      reason: server sent DHCPNAK
"#;

fn suite(cases: &str) -> String {
    format!("{COMMON}\ncases:\n{cases}")
}

struct Run {
    result: CaseResult,
    events: Vec<RunEvent>,
}

/// The first case of a suite written to a temporary file, with the suite's parameter defaults.
fn first_case(yaml: &str) -> (Arc<Case>, HashMap<String, Value>) {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("t.yaml");
    std::fs::write(&f, yaml).unwrap();
    let loaded = load_paths(&[f]);
    assert!(
        loaded.diagnostics.is_empty(),
        "{}",
        loaded.render_diagnostics()
    );
    let s = &loaded.suites[0];
    let params = s
        .params
        .iter()
        .filter_map(|p| p.default.clone().map(|d| (p.name.clone(), d)))
        .collect();
    (s.cases[0].clone(), params)
}

async fn run_yaml(yaml: &str, adapter: Arc<dyn Adapter>) -> Run {
    let (case, params) = first_case(yaml);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let emitter = Emitter::new(tx);
    let env = CaseEnv {
        adapter,
        proto: proto(),
        params: Arc::new(params),
        seed: 7,
        emitter: emitter.clone(),
    };
    let result = run_case(case, env).await;
    // A finished case's events wait in the run's outbox until it is delivered.
    emitter.deliver();
    let mut events = vec![];
    while let Ok(e) = rx.try_recv() {
        events.push(e);
    }
    Run { result, events }
}

const META: &str =
    "    spec: RFC 2131 §4.3.1\n    level: MUST\n    text: \"the server responds\"\n";

fn case(id: &str, body: &str) -> String {
    format!("  - id: {id}\n{META}{body}")
}

const DORA: &str = r#"    steps:
      - send: discover
      - receive: { template: offer, capture: { offered: yiaddr } }
      - send: { template: request, args: { ip: $offered } }
      - receive: { template: reply, args: { type: ACK }, capture: { leased: yiaddr } }
      - log: "leased $leased"
"#;

#[tokio::test(start_paused = true)]
async fn dora_passes_and_captures_flow_between_steps() {
    let sim = fake_server(Mode::Normal);
    let r = run_yaml(&suite(&case("dora", DORA)), sim.clone()).await;
    assert_eq!(r.result.verdict, Verdict::Pass, "{:?}", r.result.reason);
    let logs: Vec<&str> = r
        .events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Log { text, .. } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(logs, vec!["leased 192.0.2.100"]);
    // The REQUEST carried the captured address in option 50.
    let sent = sim.sent();
    assert_eq!(sent.len(), 2);
    assert_eq!(
        get(proto().as_ref(), &sent[1], "options.requested_ip"),
        Some(Value::Ipv4(Ipv4Addr::new(192, 0, 2, 100)))
    );
}

/// A case's step events, rendered when delivered, say what happened in order: each
/// `Matched` carries the summary of the message its `Received` logged (made once for both),
/// each summary is that of the datagram logged, and the two replies of a DORA are told apart.
#[tokio::test(start_paused = true)]
async fn step_events_render_in_order_with_each_message_summary() {
    let r = run_yaml(&suite(&case("dora", DORA)), fake_server(Mode::Normal)).await;
    assert_eq!(r.result.verdict, Verdict::Pass, "{:?}", r.result.reason);
    let p = proto();
    let mut shape = vec![];
    let mut received: Option<String> = None;
    let mut matched = vec![];
    for e in &r.events {
        match &e.kind {
            EventKind::CaseStarted { case, .. } => shape.push(format!("started {case}")),
            EventKind::Sent {
                at,
                template,
                summary,
                datagram,
            } => {
                assert_eq!(summary, &p.decode(datagram).summary());
                shape.push(format!("sent {template} at {}/{}", at.component, at.step));
            }
            EventKind::Received {
                at,
                summary,
                datagram,
            } => {
                assert_eq!(summary, &p.decode(datagram).summary());
                received = Some(summary.clone());
                shape.push(format!("received at {}", at.step));
            }
            EventKind::Matched {
                at,
                template,
                summary,
                captured,
            } => {
                assert_eq!(Some(summary), received.as_ref(), "matched its received");
                matched.push(summary.clone());
                shape.push(format!("matched {template} at {} {captured:?}", at.step));
            }
            EventKind::VerdictSet { at, verdict, .. } => {
                shape.push(format!("verdict {verdict:?} at {}", at.step))
            }
            _ => {}
        }
    }
    assert_eq!(
        shape,
        [
            "started dora",
            "sent discover at mtc/1",
            "received at 2",
            "matched offer at 2 [(\"offered\", \"192.0.2.100\")]",
            "verdict Pass at 2",
            "sent request at mtc/3",
            "received at 4",
            "matched reply at 4 [(\"leased\", \"192.0.2.100\")]",
            "verdict Pass at 4",
        ]
    );
    assert_eq!(matched.len(), 2);
    assert_ne!(
        matched[0], matched[1],
        "the OFFER and the ACK got one summary"
    );
}

/// Events carry the time they were emitted, not the time the outbox was delivered: a lazy
/// event delivered 100 ms later, and a case's step events delivered after a 300 ms wait.
#[tokio::test(start_paused = true)]
async fn stamps_are_taken_at_emission_not_at_delivery() {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let emitter = Emitter::new(tx);
    emitter.emit_lazy(|| EventKind::Log {
        at: At {
            case: "c".into(),
            component: "mtc".into(),
            step: "1".into(),
        },
        text: "early".into(),
    });
    tokio::time::advance(Duration::from_millis(100)).await;
    emitter.deliver();
    let e = rx.try_recv().expect("delivered");
    assert!(e.t_ms < 1.0, "stamped at delivery: {} ms", e.t_ms);
    let body = "    steps:\n      - send: discover\n      - receive: offer\n      - wait: 300ms\n      - log: late\n";
    let r = run_yaml(&suite(&case("stamps", body)), fake_server(Mode::Normal)).await;
    assert_eq!(r.result.verdict, Verdict::Pass, "{:?}", r.result.reason);
    let t = |want: fn(&EventKind) -> bool| {
        r.events
            .iter()
            .find(|e| want(&e.kind))
            .map(|e| e.t_ms)
            .expect("event present")
    };
    let matched = t(|k| matches!(k, EventKind::Matched { .. }));
    let late = t(|k| matches!(k, EventKind::Log { .. }));
    assert!(matched < 100.0, "matched stamped at {matched} ms");
    assert!(
        late - matched >= 300.0,
        "log at {late} ms, matched at {matched} ms"
    );
}

#[tokio::test(start_paused = true)]
async fn silent_server_fails_with_a_timeout_and_reports_no_message() {
    let r = run_yaml(&suite(&case("silent", DORA)), fake_server(Mode::Silent)).await;
    assert_eq!(r.result.verdict, Verdict::Fail);
    assert!(
        r.result
            .reason
            .as_deref()
            .unwrap_or("")
            .contains("no message matching `offer` within 2s"),
        "{:?}",
        r.result.reason
    );
    let mm = r.events.iter().find_map(|e| match &e.kind {
        EventKind::Mismatch { closest, .. } => Some(closest.clone()),
        _ => None,
    });
    assert_eq!(mm, Some(None));
    // The second send never happened: the component stopped at the failed receive.
    assert!(!r
        .events
        .iter()
        .any(|e| matches!(&e.kind, EventKind::Sent { at, .. } if at.step == "3")));
}

#[tokio::test(start_paused = true)]
async fn wrong_reply_reports_field_expected_actual() {
    let r = run_yaml(&suite(&case("nak", DORA)), fake_server(Mode::NakEverything)).await;
    assert_eq!(r.result.verdict, Verdict::Fail);
    let (closest, mms) = r
        .events
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::Mismatch {
                closest,
                mismatches,
                ..
            } => Some((closest.clone(), mismatches.clone())),
            _ => None,
        })
        .unwrap();
    assert!(closest.unwrap().contains("NAK"));
    let m = mms
        .iter()
        .find(|m| m.path == "options.53")
        .expect("message type mismatch reported");
    assert_eq!(m.expected, "OFFER (2)");
    assert_eq!(m.actual, "NAK (6)");
}

#[tokio::test(start_paused = true)]
async fn activated_default_turns_a_nak_into_an_immediate_fail() {
    let body = format!("    activate: [nak_fails]\n{DORA}");
    let r = run_yaml(
        &suite(&case("def", &body)),
        fake_server(Mode::NakEverything),
    )
    .await;
    assert_eq!(
        r.result.verdict,
        Verdict::Fail,
        "{:?} {:#?}",
        r.result.reason,
        r.events
    );
    assert_eq!(r.result.reason.as_deref(), Some("server sent DHCPNAK"));
    // The default fired on arrival, long before the 2 s receive timer.
    assert!(
        r.result.duration < Duration::from_millis(100),
        "{:?}",
        r.result.duration
    );
    // And the report still says how the NAK differs from the awaited OFFER.
    let mm = r
        .events
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::Mismatch { mismatches, .. } => Some(mismatches.clone()),
            _ => None,
        })
        .expect("a mismatch report for the message the default took");
    assert!(
        mm.iter()
            .any(|m| m.path == "options.53" && m.actual == "NAK (6)"),
        "{mm:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn foreign_messages_are_skipped_not_matched() {
    let r = run_yaml(&suite(&case("noise", DORA)), fake_server(Mode::NoiseFirst)).await;
    assert_eq!(r.result.verdict, Verdict::Pass, "{:?}", r.result.reason);
}

/// A timeout's report marks messages that carry none of the case's keys (another case's
/// answer on a shared socket, a wrong xid): when only such messages arrived, the closest is
/// still explained but says it is not tied to this case, and every such message is marked in
/// the list. A wrong answer to the case's own xid is the closest, unmarked.
#[tokio::test(start_paused = true)]
async fn a_timeout_report_marks_messages_not_tied_to_the_case() {
    let mismatch = |r: &Run| {
        r.events
            .iter()
            .find_map(|e| match &e.kind {
                EventKind::Mismatch {
                    closest,
                    mismatches,
                    unmatched,
                    ..
                } => Some((closest.clone(), mismatches.len(), unmatched.clone())),
                _ => None,
            })
            .expect("a mismatch report")
    };
    let r = run_yaml(
        &suite(&case("foreign", DORA)),
        fake_server(Mode::OnlyForeign),
    )
    .await;
    assert_eq!(r.result.verdict, Verdict::Fail);
    let (closest, n, unmatched) = mismatch(&r);
    let closest = closest.expect("the closest of the others");
    assert!(
        closest.contains("DHCPOFFER") && closest.ends_with(NOT_TIED),
        "{closest}"
    );
    assert!(n > 0, "the wrong xid is still shown field by field");
    assert_eq!(unmatched.len(), 2, "{unmatched:?}");
    assert!(
        unmatched.iter().all(|u| u.ends_with(NOT_TIED)),
        "{unmatched:?}"
    );
    // The case's own wrong answer (a NAK for the DISCOVER) is the closest, unmarked, even
    // beside another exchange's OFFER that differs from the template in its xid alone.
    let r = run_yaml(&suite(&case("nak", DORA)), fake_server(Mode::ForeignAndNak)).await;
    let (closest, n, unmatched) = mismatch(&r);
    assert!(
        closest
            .as_deref()
            .is_some_and(|c| c.contains("DHCPNAK") && !c.ends_with(NOT_TIED)),
        "{closest:?}"
    );
    assert!(n > 0);
    assert_eq!(unmatched.len(), 2, "{unmatched:?}");
    assert!(unmatched[0].contains("DHCPOFFER") && unmatched[0].ends_with(NOT_TIED));
    assert!(!unmatched[1].ends_with(NOT_TIED), "{unmatched:?}");
}

#[tokio::test(start_paused = true)]
async fn alt_timer_branch_gives_inconc_and_verdicts_never_improve() {
    let body = r#"    steps:
      - start_timer: { name: t, duration: 500ms }
      - send: discover
      - alt:
          - receive: offer
            verdict: pass
          - timeout: t
            verdict: inconc
            reason: no offer in time
      - setverdict: pass
"#;
    let r = run_yaml(&suite(&case("alt", body)), fake_server(Mode::Silent)).await;
    assert_eq!(r.result.verdict, Verdict::Inconc);
    assert_eq!(r.result.reason.as_deref(), Some("no offer in time"));
    assert!(r.result.duration >= Duration::from_millis(500));
}

#[tokio::test(start_paused = true)]
async fn alt_repeat_reenters_until_the_wanted_message() {
    let body = r#"    steps:
      - start_timer: { name: t, duration: 1s }
      - send: discover
      - alt:
          - receive: { template: reply, args: { type: OFFER }, with: { xid: { not: $xid } } }
            repeat: true
          - receive: offer
            verdict: pass
          - timeout: t
            verdict: fail
"#;
    let r = run_yaml(&suite(&case("rep", body)), fake_server(Mode::NoiseFirst)).await;
    assert_eq!(r.result.verdict, Verdict::Pass, "{:?}", r.result.reason);
}

#[tokio::test(start_paused = true)]
async fn a_case_without_verdict_is_none_not_pass() {
    let body = "    steps:\n      - send: discover\n      - wait: 100ms\n";
    let r = run_yaml(&suite(&case("none", body)), fake_server(Mode::Normal)).await;
    assert_eq!(r.result.verdict, Verdict::None);
}

#[tokio::test(start_paused = true)]
async fn setverdict_fail_then_pass_stays_fail() {
    let body = "    steps:\n      - setverdict: { verdict: fail, reason: first }\n      - setverdict: pass\n";
    let r = run_yaml(&suite(&case("worse", body)), fake_server(Mode::Normal)).await;
    assert_eq!(r.result.verdict, Verdict::Fail);
    assert_eq!(r.result.reason.as_deref(), Some("first"));
}

#[tokio::test(start_paused = true)]
async fn components_run_in_parallel_with_their_own_identity() {
    let body = format!(
        "    components:\n      a:\n{0}      b:\n{0}",
        DORA.replace("    steps:", "        steps:")
            .replace("      - ", "          - ")
    );
    let sim = fake_server(Mode::Normal);
    let r = run_yaml(&suite(&case("two", &body)), sim.clone()).await;
    assert_eq!(r.result.verdict, Verdict::Pass, "{:?}", r.result.reason);
    let sent = sim.sent();
    assert_eq!(sent.len(), 4);
    let macs: std::collections::HashSet<_> = sent
        .iter()
        .map(|d| get(proto().as_ref(), d, "chaddr"))
        .collect();
    assert_eq!(macs.len(), 2, "each component has its own chaddr");
    let logs: std::collections::HashSet<String> = r
        .events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Log { text, .. } => Some(text.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(logs.len(), 2, "two different leases: {logs:?}");
}

#[tokio::test(start_paused = true)]
async fn a_failing_component_fails_the_case_and_explicit_start_join_work() {
    let body = r#"    components:
      good:
        steps:
          - send: discover
          - receive: offer
      bad:
        steps:
          - send: discover
          - receive: { template: reply, args: { type: ACK } }
    steps:
      - start: [good, bad]
      - join: [good, bad]
      - setverdict: pass
"#;
    let r = run_yaml(&suite(&case("mixed", body)), fake_server(Mode::Normal)).await;
    assert_eq!(r.result.verdict, Verdict::Fail);
}

#[tokio::test(start_paused = true)]
async fn case_guard_timer_gives_error() {
    let body = "    timeout: 1s\n    steps:\n      - wait: 5s\n      - setverdict: pass\n";
    let r = run_yaml(&suite(&case("guard", body)), fake_server(Mode::Normal)).await;
    assert_eq!(r.result.verdict, Verdict::Error);
    assert!(r.result.reason.unwrap().contains("guard timer"));
}

/// An adapter that cannot send: through `send`, or (`fast`) already in `try_send`, when
/// `send` must not be reached at all.
struct Broken {
    fast: bool,
}
#[async_trait::async_trait]
impl Adapter for Broken {
    async fn send(&self, _d: &Datagram) -> Result<(), AdapterError> {
        assert!(!self.fast, "send after try_send answered");
        Err(AdapterError::Privilege("cannot open packet socket".into()))
    }
    fn try_send(&self, _d: &Datagram) -> Option<Result<(), AdapterError>> {
        self.fast
            .then(|| Err(AdapterError::Privilege("cannot open packet socket".into())))
    }
    fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Incoming> {
        tokio::sync::broadcast::channel(1).1
    }
    fn describe(&self) -> String {
        "broken".into()
    }
}

#[tokio::test(start_paused = true)]
async fn adapter_failure_is_error_not_fail() {
    for fast in [false, true] {
        let r = run_yaml(&suite(&case("broken", DORA)), Arc::new(Broken { fast })).await;
        assert_eq!(r.result.verdict, Verdict::Error, "fast path: {fast}");
        assert!(
            r.result
                .reason
                .as_deref()
                .is_some_and(|m| m.contains("adapter failed to send")
                    && m.contains("cannot open packet socket")),
            "{:?}",
            r.result.reason
        );
        assert!(r
            .events
            .iter()
            .any(|e| matches!(e.kind, EventKind::AdapterError { .. })));
        assert!(
            !r.events
                .iter()
                .any(|e| matches!(e.kind, EventKind::Sent { .. })),
            "a failed send was logged as sent"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn repeat_runs_steps_with_a_counter() {
    let body = r#"    steps:
      - repeat:
          count: 3
          var: n
          steps:
            - log: "round $n"
      - setverdict: pass
"#;
    let r = run_yaml(&suite(&case("loop", body)), fake_server(Mode::Normal)).await;
    let logs: Vec<String> = r
        .events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Log { text, .. } => Some(text.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(logs, vec!["round 0", "round 1", "round 2"]);
    assert_eq!(r.result.verdict, Verdict::Pass);
}

#[tokio::test(start_paused = true)]
async fn a_file_level_default_applies_to_every_case_of_the_file() {
    // The same NAK-everything server, with `nak_fails` activated for the whole file rather
    // than by the case: the case fails on the first NAK, not at the receive timeout.
    let yaml = format!(
        "{COMMON}\nactivate: [nak_fails]\ncases:\n{}",
        case("file-default", DORA)
    );
    let r = run_yaml(&yaml, fake_server(Mode::NakEverything)).await;
    assert_eq!(r.result.verdict, Verdict::Fail, "{:?}", r.result.reason);
    assert_eq!(r.result.reason.as_deref(), Some("server sent DHCPNAK"));
    assert!(
        r.result.duration < Duration::from_millis(100),
        "{:?}",
        r.result.duration
    );
    // Without it, the same case waits for the receive timeout (control).
    let r = run_yaml(
        &suite(&case("no-default", DORA)),
        fake_server(Mode::NakEverything),
    )
    .await;
    assert_eq!(r.result.verdict, Verdict::Fail);
    assert!(
        r.result.duration >= Duration::from_secs(2),
        "{:?}",
        r.result.duration
    );
}

#[tokio::test(start_paused = true)]
async fn timers_and_waits_take_their_duration_from_a_module_parameter() {
    let yaml = format!(
        "{}\ncases:\n{}",
        COMMON.replacen(
            "params:\n",
            "params:\n  settle: { type: duration, default: 1500ms }\n  quiet: { type: duration, default: 700ms }\n",
            1
        ),
        case(
            "param-durations",
            r#"    steps:
      - wait: $settle
      - start_timer: { name: t, duration: $quiet }
      - alt:
          - receive: offer
            verdict: fail
          - timeout: t
            verdict: pass
"#
        )
    );
    let r = run_yaml(&yaml, fake_server(Mode::Silent)).await;
    assert_eq!(r.result.verdict, Verdict::Pass, "{:?}", r.result.reason);
    // 1500 ms of wait plus 700 ms of timer, in paused (virtual) time.
    assert!(
        r.result.duration >= Duration::from_millis(2200)
            && r.result.duration < Duration::from_millis(2300),
        "{:?}",
        r.result.duration
    );
}

/// The run's outbox: events reach the channel only when delivered (by the anchor's tick, by
/// `deliver`, or when the last emitter goes), in emission order, lazy ones rendered then.
#[tokio::test(start_paused = true)]
async fn events_wait_in_the_outbox_and_arrive_in_order() {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let emitter = Emitter::new(tx);
    let log = |text: &str| EventKind::Log {
        at: Default::default(),
        text: text.into(),
    };
    emitter.emit(log("first"));
    let rendered = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let r = rendered.clone();
    emitter.emit_lazy(move || {
        r.store(true, std::sync::atomic::Ordering::SeqCst);
        EventKind::Log {
            at: Default::default(),
            text: "second".into(),
        }
    });
    emitter.emit(log("third"));
    assert!(rx.try_recv().is_err(), "nothing before delivery");
    assert!(
        !rendered.load(std::sync::atomic::Ordering::SeqCst),
        "lazy until delivered"
    );
    emitter.deliver();
    let texts = |rx: &mut tokio::sync::mpsc::UnboundedReceiver<RunEvent>| {
        let mut v = vec![];
        while let Ok(e) = rx.try_recv() {
            if let EventKind::Log { text, .. } = e.kind {
                v.push(text);
            }
        }
        v
    };
    assert_eq!(texts(&mut rx), ["first", "second", "third"]);
    // A case's events are delivered by the run's anchor within its period, without a call.
    let (dora, params) = first_case(&suite(&case("dora", DORA)));
    let env = CaseEnv {
        adapter: fake_server(Mode::Normal),
        proto: proto(),
        params: Arc::new(params),
        seed: 7,
        emitter: emitter.clone(),
    };
    let r = run_case(dora, env).await;
    assert_eq!(r.verdict, Verdict::Pass, "{:?}", r.reason);
    emitter.emit(log("after the case"));
    tokio::time::sleep(Duration::from_millis(120)).await;
    let kinds: Vec<String> = std::iter::from_fn(|| rx.try_recv().ok())
        .map(|e| match e.kind {
            EventKind::CaseStarted { .. } => "started".to_string(),
            EventKind::Log { text, .. } => text,
            EventKind::Sent { summary, .. } => {
                format!("sent {}", summary.split(' ').next().unwrap_or(""))
            }
            EventKind::Matched { .. } => "matched".into(),
            _ => "other".into(),
        })
        .collect();
    assert_eq!(
        kinds.first().map(String::as_str),
        Some("started"),
        "{kinds:?}"
    );
    assert_eq!(
        kinds.last().map(String::as_str),
        Some("after the case"),
        "{kinds:?}"
    );
    assert!(
        kinds.contains(&"sent DHCPDISCOVER".to_string()),
        "{kinds:?}"
    );
    assert_eq!(
        kinds.iter().filter(|k| *k == "matched").count(),
        2,
        "{kinds:?}"
    );
    // Whatever is left goes out when the last emitter is dropped.
    emitter.emit(log("last"));
    drop(emitter);
    assert_eq!(texts(&mut rx), ["last"]);
}

/// A peer whose replies wait "on the socket" until someone takes them: `send` queues the
/// simulated server's replies, and only `take_waiting` moves them into the channel (as a
/// datagram that arrived while the case task was busy waits for the reader task).
struct Waiting {
    inner: Arc<SimAdapter>,
    tx: tokio::sync::broadcast::Sender<Incoming>,
    queued: Mutex<Vec<Datagram>>,
    takes: std::sync::atomic::AtomicUsize,
    /// Per adapter and increasing, as the adapter contract asks.
    seq: std::sync::atomic::AtomicU64,
}

#[async_trait::async_trait]
impl Adapter for Waiting {
    async fn send(&self, d: &Datagram) -> Result<(), AdapterError> {
        // The sim answers through its own channel after its delay; take that answer here.
        let mut rx = self.inner.subscribe();
        self.inner.send(d).await?;
        let reply = rx.recv().await.expect("the sim answers");
        self.queued.lock().unwrap().push(reply.datagram);
        Ok(())
    }
    fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Incoming> {
        self.tx.subscribe()
    }
    fn describe(&self) -> String {
        "waiting (test)".into()
    }
    fn take_waiting(&self) -> bool {
        self.takes
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let queued = std::mem::take(&mut *self.queued.lock().unwrap());
        let any = !queued.is_empty();
        for datagram in queued {
            let _ = self.tx.send(Incoming {
                datagram,
                at: std::time::SystemTime::now(),
                seq: self.seq.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            });
        }
        any
    }
}

/// A receive first takes what already arrived from the adapter (`Adapter::take_waiting`):
/// answers that only that call delivers are matched, and the case passes.
#[tokio::test(start_paused = true)]
async fn a_receive_takes_what_already_arrived_from_the_adapter() {
    let a = Arc::new(Waiting {
        inner: fake_server(Mode::Normal),
        tx: tokio::sync::broadcast::channel(16).0,
        queued: Mutex::default(),
        takes: Default::default(),
        seq: Default::default(),
    });
    let r = run_yaml(&suite(&case("dora", DORA)), a.clone()).await;
    assert_eq!(r.result.verdict, Verdict::Pass, "{:?}", r.result.reason);
    assert!(a.takes.load(std::sync::atomic::Ordering::Relaxed) >= 2);
    // The `Received` events carry the datagrams as they arrived (the case decoded them
    // without a copy; the events take them back from the views).
    let got: Vec<&Datagram> = r
        .events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Received { datagram, .. } => Some(datagram),
            _ => None,
        })
        .collect();
    assert_eq!(got.len(), 2);
    for d in got {
        assert_eq!(get(proto().as_ref(), d, "op"), Some(Value::Int(2)));
        assert_eq!(d.meta.dst_port, Some(68));
    }
}
