//! Findings as permanent conformance cases: a YAML suite file under
//! `suites/dhcp/regressions/` that sends the minimal message byte for byte and checks the
//! oracle that failed, plus the pcapng of the exchange that confirmed it.
//!
//! The message is written with explicit header fields, `chaddr_raw`, `cookie`, the whole
//! options field as one `raw_options` element, `end: false` and an exact `size`, so the suite
//! encoder reproduces it octet for octet (lying lengths, missing END, truncation included); only
//! the xid is the case's own `$xid`. Addresses inside options are the lab's (192.0.2.0/24).

use crate::case::Env;
use crate::exec::Frame;
use crate::oracle::{hex, type_name, Oracle, RequestFacts};
use conform_codec::dhcp::raw::{Repr, MAGIC_COOKIE};
use conform_codec::Datagram;
use conform_model::event::{At, EventKind, RunEvent, EVENTS_VERSION};
use conform_model::Verdict;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// What a regression case is written from.
pub struct RegressionInput<'a> {
    pub signature: &'a str,
    pub oracle: Oracle,
    pub detail: &'a str,
    pub target: &'a str,
    pub seed: u64,
    pub case_index: u64,
    /// The minimal message as sent in the confirming execution.
    pub request: &'a Datagram,
    /// The diff against the clean message.
    pub diff: &'a [String],
    pub env: &'a Env,
    /// The confirming execution's frames (for the pcapng).
    pub frames: &'a [Frame],
    /// How the campaign named the target (`--target` argument), for the replay hint.
    pub target_spec: &'a str,
}

/// The import path of `suites/dhcp/lib/common.yaml` as seen from `dir`: `../lib/common.yaml`
/// under `suites/dhcp/regressions`, otherwise relative to wherever the library is found from
/// the working directory.
pub fn lib_import(dir: &Path) -> String {
    let fallback = "../lib/common.yaml".to_string();
    if dir.join("../lib/common.yaml").is_file() {
        return fallback;
    }
    let Ok(cwd) = std::env::current_dir() else {
        return fallback;
    };
    let Some(lib) = cwd
        .ancestors()
        .map(|a| a.join("suites/dhcp/lib/common.yaml"))
        .find(|p| p.is_file())
        .and_then(|p| p.canonicalize().ok())
    else {
        return fallback;
    };
    let Ok(from) = dir.canonicalize() else {
        return fallback;
    };
    let a: Vec<_> = from.components().collect();
    let b: Vec<_> = lib.components().collect();
    let common = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let mut rel = PathBuf::new();
    for _ in common..a.len() {
        rel.push("..");
    }
    for c in &b[common..] {
        rel.push(c.as_os_str());
    }
    rel.display().to_string()
}

/// FNV-1a, for stable short ids.
pub fn fnv(data: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in data {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The case id: `fuzz-<signature>-<hash of signature and message without xid>`.
pub fn case_id(signature: &str, request: &[u8]) -> String {
    let mut key = signature.as_bytes().to_vec();
    let mut m = request.to_vec();
    if m.len() >= 8 {
        m[4..8].fill(0);
    }
    key.extend(m);
    let sig: String = signature
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let sig = sig.trim_matches('-').replace("--", "-");
    format!("fuzz-{sig}-{:08x}", fnv(&key) as u32)
}

/// A double-quoted YAML string; `$` is dropped (reasons substitute variables).
fn q(s: &str) -> String {
    let mut o = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '$' => {}
            '\n' => o.push(' '),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

fn hexq(b: &[u8]) -> String {
    format!(
        "\"0x{}\"",
        b.iter().map(|x| format!("{x:02x}")).collect::<String>()
    )
}

fn mac(m: &[u8]) -> String {
    m.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Spec reference, level and quoted text per oracle.
fn requirement(o: Oracle) -> (&'static str, &'static str, &'static str) {
    match o {
        Oracle::Crash | Oracle::Restart | Oracle::Hang => (
            "{ doc: dhcp-requirements.md, section: \"2 L-01\" }",
            "ROBUST",
            "Canary: after each test input, a fresh client's DISCOVER gets an OFFER within 1 s; the process has not restarted (PID, uptime or lease continuity unchanged).",
        ),
        Oracle::NoOffer => (
            "RFC 2131 §4.3.1",
            "DERIVED",
            "When a server receives a DHCPDISCOVER message from a client, the server chooses a network address for the requesting client. [...] the server then sends a DHCPOFFER message to the client.",
        ),
        Oracle::Echo61 => (
            "RFC 6842 §3",
            "MUST",
            "If the 'client identifier' option is present in a message received from a client, the server MUST return the 'client identifier' option, unaltered, in its response message.",
        ),
        Oracle::Echo82 => (
            "RFC 3046 §2.2",
            "SHALL",
            "DHCP servers claiming to support the Relay Agent Information option SHALL echo the entire contents of the Relay Agent Information option in all replies.",
        ),
        Oracle::Size => (
            "RFC 2132 §9.10",
            "DERIVED",
            "This option specifies the maximum length DHCP message that it is willing to accept. [...] The minimum legal value is 576 octets.",
        ),
        Oracle::T1T2 => (
            "RFC 2131 §4.4.5",
            "DERIVED",
            "T1 defaults to (0.5 * duration_of_lease). T2 defaults to (0.875 * duration_of_lease).",
        ),
        Oracle::Duplicate => (
            "RFC 2131 §4.3.1",
            "DERIVED",
            "The server MUST return to the client: [...] Parameters requested by the client, according to the following rules: [...] each option is sent once (RFC 3396: instances of one option are concatenated).",
        ),
        Oracle::AckAddress => (
            "RFC 2131 §4.3.2",
            "MUST",
            "'requested IP address' MUST be filled in with the yiaddr value from the chosen DHCPOFFER [SELECTING] / MUST be filled in with client's notion of its previously assigned address [INIT-REBOOT]; 'ciaddr' MUST be filled in with client's IP address [RENEWING, REBINDING]; the DHCPACK carries that address in yiaddr.",
        ),
        Oracle::MsgType => (
            "RFC 2131 §4.3",
            "DERIVED",
            "DHCPOFFER answers DHCPDISCOVER; DHCPACK or DHCPNAK answer DHCPREQUEST; DHCPACK answers DHCPINFORM; DHCPDECLINE and DHCPRELEASE get no reply (RFC 2131 §3.1, §4.3.3, §4.3.4).",
        ),
        Oracle::Malformed | Oracle::End | Oracle::Cookie => (
            "RFC 2131 §3",
            "MUST",
            "The first four octets of the 'options' field of the DHCP message contain the (decimal) values 99, 130, 83 and 99 [...] The options field ends with the end option.",
        ),
        _ => (
            "RFC 2131 Table 3",
            "MUST",
            "Fields and options used by DHCP servers: op BOOTREPLY; xid 'xid' from client message; flags 'flags' from client message; giaddr 'giaddr' from client message; chaddr 'chaddr' from client message; option 54 Server identifier MUST; option 51 IP address lease time MUST (DHCPOFFER, DHCPACK to DHCPREQUEST), MUST NOT (DHCPACK to DHCPINFORM, DHCPNAK).",
        ),
    }
}

/// The rule an oracle checks, as a failure reason.
fn rule(o: Oracle) -> &'static str {
    match o {
        Oracle::Op => "the reply's op is not BOOTREPLY",
        Oracle::Chaddr => "the reply's chaddr is not the request's",
        Oracle::Flags => "the reply's flags are not the request's",
        Oracle::Giaddr => "the reply's giaddr is not the request's",
        Oracle::Cookie => "the reply's magic cookie is wrong",
        Oracle::End => "the reply's options have no END",
        Oracle::Malformed => "the reply's options are malformed",
        Oracle::MsgType => "a reply of a type RFC 2131 does not allow for this request",
        Oracle::ServerId => "the reply has no 4-octet server identifier",
        Oracle::LeaseTime => "the lease time is missing where required or present where forbidden",
        Oracle::T1T2 => "T1 and T2 are not below the lease time",
        Oracle::Yiaddr => "yiaddr is not a usable address of the subnet (or not 0 in a DHCPNAK)",
        Oracle::Echo61 => "option 61 is not returned unaltered",
        Oracle::Echo82 => "option 82 is not echoed unaltered",
        Oracle::Size => "the reply is larger than the client accepts",
        Oracle::Duplicate => "a single-instance option appears more than once",
        Oracle::AckAddress => "the DHCPACK is not for the address the request names",
        Oracle::NoOffer => "a well-formed DHCPDISCOVER got no DHCPOFFER",
        Oracle::Crash | Oracle::Restart | Oracle::Hang => "the server stopped serving",
    }
}

/// The reply type named in a signature (`echo61:altered:OFFER` → `OFFER`).
fn sig_type(signature: &str) -> Option<&str> {
    let last = signature.rsplit(':').next()?;
    let last = last.rsplit("->").next()?;
    ["OFFER", "ACK", "NAK"].contains(&last).then_some(last)
}

/// The fields of the reply template that express the oracle, or `None` when the oracle is
/// checked by the step shape (liveness, no-offer, message type).
fn constraint(inp: &RegressionInput<'_>, facts: &RequestFacts) -> Vec<String> {
    let r = &facts.repr;
    let env = inp.env;
    let sig = inp.signature;
    match inp.oracle {
        Oracle::Op => vec!["op: BOOTREPLY".into()],
        Oracle::Chaddr => {
            let n = usize::from(r.hlen.min(16));
            vec![format!("chaddr: {}", hexq(&r.chaddr[..n]))]
        }
        Oracle::Flags => {
            let nak_relayed = sig.ends_with("NAK") && !r.giaddr.is_unspecified();
            let f = if nak_relayed {
                r.flags | 0x8000
            } else {
                r.flags
            };
            vec![format!("flags: {f}")]
        }
        Oracle::Giaddr => vec![format!("giaddr: {}", r.giaddr)],
        Oracle::Cookie => vec![format!("cookie: {}", hexq(&MAGIC_COOKIE))],
        Oracle::End => vec!["end_present: true".into()],
        Oracle::Malformed => vec!["malformed: omit".into()],
        Oracle::ServerId => vec!["options.server_id: \"?\"".into()],
        Oracle::LeaseTime => {
            if sig.ends_with("NAK") || facts.mtype == Some(8) {
                vec!["options.lease_time: omit".into()]
            } else {
                vec!["options.lease_time: \"?\"".into()]
            }
        }
        Oracle::T1T2 => vec![
            // T1 < T2 itself is not expressible as a template; both below the lease is.
            "options.renewal_time: { range: \"..!$lease_time\", ifpresent: true }".into(),
            "options.rebinding_time: { range: \"..!$lease_time\", ifpresent: true }".into(),
        ],
        Oracle::Yiaddr => {
            if sig.ends_with("NAK") {
                vec!["yiaddr: 0.0.0.0".into()]
            } else {
                let first = std::net::Ipv4Addr::from(env.network() + 1);
                let last = std::net::Ipv4Addr::from(env.broadcast() - 1);
                vec![format!("yiaddr: {{ range: \"{first}..{last}\" }}")]
            }
        }
        Oracle::Echo61 => match &facts.cid {
            Some(c) => vec![format!("options.61.raw: {}", hexq(c))],
            None => vec!["options.61: omit".into()],
        },
        Oracle::Echo82 => match &facts.o82 {
            Some(o) => vec![format!("options.82.raw: {}", hexq(o))],
            None => vec![],
        },
        Oracle::Size => vec![format!("ip.len: {{ range: \"..{}\" }}", facts.limit)],
        Oracle::AckAddress => {
            let mut named: Vec<String> = Vec::new();
            if !r.ciaddr.is_unspecified() {
                named.push(r.ciaddr.to_string());
            }
            if let Some(d) = crate::oracle::complete_aggregate(r, 50, true).filter(|d| d.len() == 4)
            {
                named.push(std::net::Ipv4Addr::new(d[0], d[1], d[2], d[3]).to_string());
            }
            match named.len() {
                0 => vec![],
                1 => vec![format!("yiaddr: {}", named[0])],
                _ => vec![format!("yiaddr: {{ one_of: [{}] }}", named.join(", "))],
            }
        }
        Oracle::Duplicate => {
            let code: u8 = sig
                .split(':')
                .nth(1)
                .and_then(|c| c.parse().ok())
                .unwrap_or(53);
            vec![format!("options.{code}.count: 1")]
        }
        _ => vec![],
    }
}

/// The YAML text of the regression case.
pub fn yaml(inp: &RegressionInput<'_>, import: &str) -> String {
    let d = inp.request;
    let b = &d.payload;
    let id = case_id(inp.signature, b);
    let facts = RequestFacts::new(b);
    let r = Repr::parse(b);
    let (spec, level, text) = requirement(inp.oracle);
    let mut y = String::new();
    let w = &mut y;
    let _ = writeln!(
        w,
        "# yaml-language-server: $schema=../../../schemas/suite.schema.json"
    );
    let _ = writeln!(w, "#");
    let _ = writeln!(
        w,
        "# Written by `conform fuzz dhcp` from a finding against `{}`",
        inp.target
    );
    let _ = writeln!(
        w,
        "# (seed {}, case {}): {}",
        inp.seed, inp.case_index, inp.signature
    );
    let _ = writeln!(w, "#   {}", inp.detail.replace('\n', " "));
    let _ = writeln!(
        w,
        "# Replay the campaign case: conform fuzz dhcp --target {} --seed {} --replay {}",
        inp.target_spec, inp.seed, inp.case_index
    );
    let _ = writeln!(w, "# Capture of the confirming exchange: {id}.pcapng");
    let _ = writeln!(w, "#");
    let _ = writeln!(w, "# The minimal message against a clean one of its kind:");
    for l in inp.diff {
        let _ = writeln!(w, "#   {l}");
    }
    let _ = writeln!(w, "suite: {id}");
    let _ = writeln!(w, "protocol: dhcp");
    let _ = writeln!(
        w,
        "description: {}",
        q(&format!("Fuzz regression: {}", inp.signature))
    );
    let _ = writeln!(w, "imports: [{import}]");
    let _ = writeln!(w, "params:");
    let _ = writeln!(w, "  server_mac: {{ type: mac, default: \"{}\", doc: \"The server's MAC (frames unicast to it).\" }}", mac(&inp.env.server_mac));
    let _ = writeln!(w);
    let _ = writeln!(w, "cases:");
    let _ = writeln!(w, "  - id: {id}");
    let _ = writeln!(
        w,
        "    title: {}",
        q(&format!("fuzz ({}): {}", inp.signature, rule(inp.oracle)))
    );
    let _ = writeln!(w, "    spec: {spec}");
    let _ = writeln!(w, "    level: {level}");
    let _ = writeln!(w, "    text: >-");
    let _ = writeln!(w, "      {text}");
    let _ = writeln!(w, "    tags: [fuzz, regression, {}]", inp.oracle.name());
    // Liveness regressions share the server with other cases: if the crash comes back, every
    // case fails with it, and running alone would only lengthen the suite.
    let _ = writeln!(w, "    steps:");
    let _ = writeln!(w, "      - send:");
    let _ = writeln!(w, "          with:");
    let f = |w: &mut String, s: String| {
        let _ = writeln!(w, "            {s}");
    };
    f(w, format!("op: {}", r.op));
    f(w, format!("htype: {}", r.htype));
    f(w, format!("hlen: {}", r.hlen));
    f(w, format!("hops: {}", r.hops));
    f(w, "xid: $xid".into());
    f(w, format!("secs: {}", r.secs));
    f(w, format!("flags: {}", r.flags));
    f(w, format!("ciaddr: {}", r.ciaddr));
    f(w, format!("yiaddr: {}", r.yiaddr));
    f(w, format!("siaddr: {}", r.siaddr));
    f(w, format!("giaddr: {}", r.giaddr));
    f(w, format!("chaddr_raw: {}", hexq(&r.chaddr)));
    if r.sname.iter().any(|x| *x != 0) {
        f(w, format!("sname_raw: {}", hexq(&r.sname)));
    }
    if r.file.iter().any(|x| *x != 0) {
        f(w, format!("file_raw: {}", hexq(&r.file)));
    }
    f(w, format!("cookie: {}", hexq(&r.cookie)));
    if b.len() > 240 {
        f(w, format!("raw_options: [{}]", hexq(&b[240..])));
    }
    f(w, "end: false".into());
    f(w, format!("size: {}", b.len()));
    let m = &d.meta;
    match m.eth_src {
        Some(s) => f(w, format!("eth.src: \"{}\"", mac(&s))),
        None => f(w, "eth.src: omit".into()),
    }
    if m.eth_dst == Some(inp.env.server_mac) {
        f(w, "eth.dst: $server_mac".into());
    }
    let ip = |a: Option<std::net::IpAddr>| a.map(|a| a.to_string()).unwrap_or_default();
    let server = inp.env.server_ip.to_string();
    let relay = inp.env.relay_ip.to_string();
    let sub = |s: String| {
        if s == server {
            "$server_ip".to_string()
        } else if s == relay {
            "$relay_ip".to_string()
        } else {
            s
        }
    };
    // A relay agent's forwarded message (source port 67) is sent from $relay_src_ip, which a
    // profile may set apart from giaddr (the udhcpd profile does: see lib/common.yaml).
    if m.src_port == Some(67) && m.ip_src == Some(std::net::IpAddr::V4(inp.env.relay_src_ip)) {
        f(w, "ip.src: $relay_src_ip".into());
    } else {
        f(w, format!("ip.src: {}", sub(ip(m.ip_src))));
    }
    f(w, format!("ip.dst: {}", sub(ip(m.ip_dst))));
    f(w, format!("udp.src: {}", m.src_port.unwrap_or(68)));
    f(w, format!("udp.dst: {}", m.dst_port.unwrap_or(67)));
    let reason = q(&format!(
        "{} (the fuzz finding, against {}: {})",
        rule(inp.oracle),
        inp.target,
        inp.detail
    ));
    match inp.oracle {
        Oracle::Crash | Oracle::Restart | Oracle::Hang => {
            let _ = writeln!(
                w,
                "      # Liveness: a fresh client (no client identifier) must still get a lease."
            );
            let _ = writeln!(w, "      - wait: 300ms");
            let _ = writeln!(
                w,
                "      - send: {{ template: discover, with: {{ options.client_id: omit }} }}"
            );
            let _ = writeln!(w, "      - receive: {{ template: offer, capture: {{ offered: yiaddr }}, reason: {} }}", q(&format!("the server stopped serving after the message above (found as: {})", inp.detail)));
            let _ = writeln!(w, "      - send: {{ template: request_selecting, args: {{ ip: $offered, sid: $server_ip }}, with: {{ options.client_id: omit }} }}");
            let _ = writeln!(
                w,
                "      - receive: {{ template: ack, args: {{ ip: $offered }} }}"
            );
            let _ = writeln!(w, "      - send: {{ template: release, args: {{ ip: $offered, sid: $server_ip }}, with: {{ options.client_id: omit }} }}");
        }
        Oracle::NoOffer => {
            let _ = writeln!(w, "      - receive:");
            let _ = writeln!(
                w,
                "          with: {{ op: BOOTREPLY, xid: $xid, options.message_type: OFFER }}"
            );
            let _ = writeln!(w, "          timeout: 2s");
            let _ = writeln!(
                w,
                "          reason: \"a well-formed DHCPDISCOVER got no DHCPOFFER within 2s\""
            );
        }
        Oracle::AckAddress if inp.signature.ends_with("unnamed") => {
            let _ = writeln!(w, "      - start_timer: {{ name: quiet, duration: 2s }}");
            let _ = writeln!(w, "      - alt:");
            let _ = writeln!(
                w,
                "          - receive: {{ with: {{ xid: $xid, options.message_type: ACK }} }}"
            );
            let _ = writeln!(w, "            verdict: fail");
            let _ = writeln!(w, "            reason: {reason}");
            let _ = writeln!(w, "          - timeout: quiet");
            let _ = writeln!(w, "            verdict: pass");
            let _ = writeln!(
                w,
                "            reason: no DHCPACK to a DHCPREQUEST that names no address"
            );
        }
        Oracle::MsgType => {
            let legal: Vec<String> = facts
                .legal_replies()
                .iter()
                .map(|t| type_name(Some(*t)))
                .collect();
            let _ = writeln!(w, "      - start_timer: {{ name: quiet, duration: 2s }}");
            let _ = writeln!(w, "      - alt:");
            if !legal.is_empty() {
                let _ = writeln!(w, "          - receive: {{ with: {{ xid: $xid, options.message_type: {{ one_of: [{}] }} }} }}", legal.join(", "));
                let _ = writeln!(w, "            verdict: pass");
            }
            let _ = writeln!(
                w,
                "          - receive: {{ with: {{ xid: $xid, options.message_type: \"?\" }} }}"
            );
            let _ = writeln!(w, "            verdict: fail");
            let _ = writeln!(w, "            reason: {reason}");
            let _ = writeln!(w, "          - timeout: quiet");
            let _ = writeln!(w, "            verdict: pass");
            let _ = writeln!(
                w,
                "            reason: no reply of a type RFC 2131 does not allow here"
            );
        }
        _ => {
            let t = sig_type(inp.signature).unwrap_or("OFFER");
            let _ = writeln!(w, "      - start_timer: {{ name: t_reply, duration: 2s }}");
            let _ = writeln!(w, "      - alt:");
            let _ = writeln!(w, "          - receive:");
            let _ = writeln!(w, "              with:");
            let _ = writeln!(w, "                xid: $xid");
            let _ = writeln!(w, "                options.message_type: {t}");
            for c in constraint(inp, &facts) {
                let _ = writeln!(w, "                {c}");
            }
            let _ = writeln!(w, "            verdict: pass");
            let _ = writeln!(
                w,
                "          - receive: {{ with: {{ xid: $xid, options.message_type: {t} }} }}"
            );
            let _ = writeln!(w, "            verdict: fail");
            let _ = writeln!(w, "            reason: {reason}");
            // Silence cannot show the fault (a server may drop the malformed request): the
            // regression guards "never this reply again", so no reply passes, with a reason.
            let _ = writeln!(w, "          - timeout: t_reply");
            let _ = writeln!(w, "            verdict: pass");
            let _ = writeln!(w, "            reason: \"no DHCP{t} within 2s: the server ignored the request, so the fault cannot show\"");
        }
    }
    y
}

/// One-line summaries for capture comments.
pub fn summary(d: &Datagram) -> String {
    let r = Repr::parse(&d.payload);
    let t = match r.aggregate(53).as_deref() {
        Some([t]) => type_name(Some(*t)),
        _ => "BOOTP".into(),
    };
    format!(
        "{} {t} xid 0x{:08x} {} octets",
        if r.op == 2 { "reply" } else { "request" },
        r.xid,
        d.payload.len()
    )
}

/// Writes the frames as annotated pcapng (through the run-event capture writer).
pub fn write_pcap(
    path: &Path,
    id: &str,
    signature: &str,
    frames: &[Frame],
) -> Result<usize, String> {
    let t0 = frames.first().map(|f| f.at).unwrap_or_else(SystemTime::now);
    let ms = |t: SystemTime| {
        t.duration_since(t0)
            .map(|d| d.as_secs_f64() * 1000.0)
            .unwrap_or(0.0)
    };
    let at = |i: usize| At {
        case: id.to_string(),
        component: "fuzz".into(),
        step: i.to_string(),
    };
    let mut ev = vec![RunEvent {
        t_ms: 0.0,
        kind: EventKind::RunStarted {
            version: EVENTS_VERSION,
            run_id: id.to_string(),
            target: signature.to_string(),
            adapter: "raw".into(),
            cases: 1,
            seed: 0,
            started_unix_ms: t0
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_millis() as u64)
                .unwrap_or(0),
        },
    }];
    for (i, f) in frames.iter().enumerate() {
        let kind = if f.sent {
            EventKind::Sent {
                at: at(i),
                template: f.label.clone(),
                summary: summary(&f.datagram),
                datagram: f.datagram.clone(),
            }
        } else {
            EventKind::Received {
                at: at(i),
                summary: format!("{} ({})", summary(&f.datagram), f.label),
                datagram: f.datagram.clone(),
            }
        };
        ev.push(RunEvent {
            t_ms: ms(f.at),
            kind,
        });
    }
    ev.push(RunEvent {
        t_ms: frames.last().map(|f| ms(f.at)).unwrap_or(0.0),
        kind: EventKind::CaseFinished {
            case: id.to_string(),
            verdict: Verdict::Fail,
            reason: Some(signature.to_string()),
            duration_ms: 0.0,
            deviation: None,
        },
    });
    let file = std::fs::File::create(path)
        .map_err(|e| format!("failed to create {}: {e}", path.display()))?;
    conform_reports::pcap::write(&ev, None, std::io::BufWriter::new(file))
}

/// Writes `<dir>/<id>.yaml` and `<dir>/<id>.pcapng`; returns both paths.
pub fn write(dir: &Path, inp: &RegressionInput<'_>) -> Result<(PathBuf, PathBuf), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("failed to create {}: {e}", dir.display()))?;
    let id = case_id(inp.signature, &inp.request.payload);
    let y = dir.join(format!("{id}.yaml"));
    std::fs::write(&y, yaml(inp, &lib_import(dir)))
        .map_err(|e| format!("failed to write {}: {e}", y.display()))?;
    let p = dir.join(format!("{id}.pcapng"));
    write_pcap(&p, &id, inp.signature, inp.frames)?;
    Ok((y, p))
}

/// Hex of the minimal message, for reports.
pub fn message_hex(d: &Datagram) -> String {
    hex(&d.payload)
}
