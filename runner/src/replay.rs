//! Captures as suites: `conform import` writes the client side of a capture as an editable
//! suite whose receive templates are the captured replies under the replay ignore rules, and
//! `conform replay` runs that suite against a live target (docs/pcap.md).
//!
//! The capture is read and its requests paired with their replies by
//! [`conform_adapters::pcap_replay`] (protocol rules behind `TraceRules`); this module turns
//! exchanges into cases. A case is one client's conversation in trace order: every request is
//! sent as captured with what must change rewritten (`$xid`, `$chaddr`, `$client_id`, addresses
//! learnt from earlier replies), and every captured reply becomes a receive template.
//! Protocols plug in through [`CaseWriter`]; DHCP is [`DhcpWriter`].

use conform_adapters::pcap_replay::{exchanges, rules_for, Exchange, Key, TraceError, TraceRules};
use conform_codec::dhcp::catalogue::{kind_of, message_type_name, name_of, OptKind};
use conform_codec::dhcp::raw::{Entry, Repr, MAGIC_COOKIE, MIN_LEN};
use conform_codec::value::hex;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::time::Duration;

mod dns;
pub use dns::DnsWriter;

/// How a capture becomes a suite.
#[derive(Clone, Debug)]
pub struct ImportOptions {
    /// The suite's name (and the prefix of case ids).
    pub name: String,
    /// Suite protocol; `None` tries each protocol conform can import.
    pub protocol: Option<String>,
    /// Extra field paths to leave out of the receive templates (`--ignore`).
    pub ignore: Vec<String>,
    /// How long each receive waits.
    pub receive_timeout: Duration,
    /// How long a request the captured server did not answer must stay unanswered.
    pub silence: Duration,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            name: "capture".into(),
            protocol: None,
            ignore: Vec::new(),
            receive_timeout: Duration::from_secs(3),
            silence: Duration::from_secs(1),
        }
    }
}

/// A suite made from a capture.
#[derive(Clone, Debug)]
pub struct Imported {
    /// The suite: one file, or several of at most [`CASES_PER_FILE`] cases each.
    pub files: Vec<String>,
    pub protocol: String,
    pub cases: usize,
    pub exchanges: usize,
    /// Things the user should know (orphan replies, requests replayed byte for byte, ...).
    pub notes: Vec<String>,
}

/// Writes an imported suite: the first file at `first`, the others beside it as
/// `<stem>-2.yaml`, `<stem>-3.yaml`, ... Returns the paths written.
pub fn write_files(imported: &Imported, first: &Path) -> Result<Vec<std::path::PathBuf>, String> {
    let stem = first
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "capture".into());
    let dir = first.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut out = Vec::new();
    for (k, text) in imported.files.iter().enumerate() {
        let p = if k == 0 {
            first.to_path_buf()
        } else {
            dir.join(format!("{stem}-{}.yaml", k + 1))
        };
        std::fs::write(&p, text).map_err(|e| format!("cannot write {}: {e}", p.display()))?;
        out.push(p);
    }
    Ok(out)
}

/// A suite name from a capture file name: `dhclient` from `clients/dhclient.pcapng`.
pub fn suite_name_of(path: &Path) -> String {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut out: String = stem
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    while out.contains("--") {
        out = out.replace("--", "-");
    }
    let out = out.trim_matches('-').to_string();
    if out.is_empty() {
        "capture".into()
    } else {
        out
    }
}

/// Whether an error says the capture has none of the protocol's packets (so the next
/// protocol may be tried).
fn is_no_packets(e: &TraceError, what: &str) -> bool {
    e.packet.is_none()
        && e.message
            .starts_with(&format!("no {what} packets in the capture"))
}

/// Reads `path` and writes its exchanges as a suite. Without `opts.protocol` the capture is
/// DHCP when it has DHCP packets, else DNS.
pub fn import_capture(path: &Path, opts: &ImportOptions) -> Result<Imported, TraceError> {
    let protocols: Vec<String> = match &opts.protocol {
        Some(p) => vec![p.clone()],
        None => vec!["dhcp".into(), "dns".into()],
    };
    let mut last_err: Option<TraceError> = None;
    for p in &protocols {
        let Some(rules) = rules_for(p) else {
            last_err = Some(TraceError {
                file: path.to_path_buf(),
                packet: None,
                message: format!("importing {p} captures is not supported yet"),
            });
            continue;
        };
        let trace = match conform_adapters::pcap_replay::read_trace(path, &rules.filter()) {
            Ok(t) => t,
            // None of this protocol's packets: try the next protocol; any other problem (a
            // truncated or corrupt file) is the file's, whatever the protocol.
            Err(e) if is_no_packets(&e, rules.filter().what) => {
                last_err = Some(match last_err {
                    // "no DHCP packets ... (N packet(s), none UDP on port 67 or 68)" and the
                    // same for DNS: one sentence for both.
                    Some(prev) if is_no_packets(&prev, "DHCP") => TraceError {
                        message: prev
                            .message
                            .replacen("no DHCP packets", "no DHCP or DNS packets", 1)
                            .replacen("port 67 or 68", "port 67, 68 or 53", 1),
                        ..prev
                    },
                    _ => e,
                });
                continue;
            }
            Err(e) => return Err(e),
        };
        let ex = exchanges(&trace, rules.as_ref())?;
        let writer = writer_for(p).ok_or_else(|| TraceError {
            file: path.to_path_buf(),
            packet: None,
            message: format!("importing {p} captures is not supported yet"),
        })?;
        let requests = ex.exchanges.len();
        if requests == 0 {
            return Err(TraceError {
                file: path.to_path_buf(),
                packet: None,
                message: format!(
                    "no client requests in the capture ({} {} packet(s), all server replies): there is nothing to replay",
                    trace.packets.len(),
                    rules.filter().what
                ),
            });
        }
        let mut notes = Vec::new();
        if !ex.orphans.is_empty() {
            notes.push(format!(
                "{} repl{} without a captured request skipped (packet{} {})",
                ex.orphans.len(),
                if ex.orphans.len() == 1 { "y" } else { "ies" },
                if ex.orphans.len() == 1 { "" } else { "s" },
                list_numbers(&ex.orphans)
            ));
        }
        let source = path
            .file_name()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string());
        let (files, cases) = writer.write(&source, &ex.exchanges, opts, rules.as_ref(), &mut notes);
        return Ok(Imported {
            files,
            protocol: p.clone(),
            cases,
            exchanges: requests,
            notes,
        });
    }
    Err(last_err.unwrap_or_else(|| TraceError {
        file: path.to_path_buf(),
        packet: None,
        message: "no protocol to import".into(),
    }))
}

fn list_numbers(v: &[usize]) -> String {
    let mut s: Vec<String> = v.iter().take(10).map(usize::to_string).collect();
    if v.len() > 10 {
        s.push(format!("and {} more", v.len() - 10));
    }
    s.join(", ")
}

/// The head every replayed case shares (id, title, the capture and packet range as its spec,
/// level INTEROP, the quoted rule, tag `replay`), written by each protocol's writer.
pub(crate) fn case_head(
    y: &mut String,
    id: &str,
    title: &str,
    source: &str,
    range: &str,
    text: &str,
) {
    let _ = writeln!(y, "  - id: {}", q(id));
    let _ = writeln!(y, "    title: {}", q(title));
    let _ = writeln!(
        y,
        "    spec: {{ doc: {}, section: {} }}",
        q(&format!("capture {source}")),
        q(range)
    );
    let _ = writeln!(y, "    level: INTEROP");
    let _ = writeln!(y, "    text: {}", q(text));
    let _ = writeln!(y, "    tags: [replay]");
}

/// Writes exchanges of one protocol as a suite.
pub trait CaseWriter {
    /// The suite YAML (one text per file) and its number of cases.
    fn write(
        &self,
        source: &str,
        ex: &[Exchange],
        opts: &ImportOptions,
        rules: &dyn TraceRules,
        notes: &mut Vec<String>,
    ) -> (Vec<String>, usize);
}

/// The case writer of a protocol.
pub fn writer_for(protocol: &str) -> Option<Box<dyn CaseWriter>> {
    match protocol {
        "dhcp" => Some(Box::new(DhcpWriter)),
        "dns" => Some(Box::new(DnsWriter)),
        _ => None,
    }
}

/// YAML scalar for a string: JSON escaping is valid YAML double-quoted style.
fn q(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

/// Whether field `k` is left out of replayed receive templates: `--ignore` names it or a group
/// above it (`options` covers `options.lease_time`).
fn ignored(ignore: &[String], k: &str) -> bool {
    ignore.iter().any(|i| {
        i == k
            || k.strip_prefix(i.as_str())
                .is_some_and(|r| r.starts_with('.'))
    })
}

/// The steps for a request the captured server left unanswered: the live server must stay
/// silent too. A timer of `silence`; a reply matching `reply` (template fields) fails the case,
/// the timeout passes it. `what` names the request in the reason ("DHCPDISCOVER", "query").
fn silence_steps(
    y: &mut String,
    packet: usize,
    timer: &str,
    silence: Duration,
    reply: &str,
    what: &str,
) {
    let _ = writeln!(
        y,
        "      # the captured server did not answer packet {packet}: the live one must not either"
    );
    let _ = writeln!(
        y,
        "      - start_timer: {{ name: {timer}, duration: {} }}",
        dur(silence)
    );
    let _ = writeln!(y, "      - alt:");
    let _ = writeln!(y, "          - receive: {{ with: {{ {reply} }} }}");
    let _ = writeln!(y, "            verdict: fail");
    let _ = writeln!(
        y,
        "            reason: {}",
        q(&format!(
            "the captured server did not answer this {what} (packet {packet}); the live server did"
        ))
    );
    let _ = writeln!(y, "          - timeout: {timer}");
    let _ = writeln!(y, "            verdict: pass");
}

fn dur(d: Duration) -> String {
    format!("{}ms", d.as_millis())
}

/// The DHCP case writer. See docs/pcap.md for the rules it applies.
pub struct DhcpWriter;

/// Module parameters a DHCP suite from a capture declares, with defaults taken from it.
struct Params {
    server_ip: Option<Ipv4Addr>,
    subnet_mask: Option<Ipv4Addr>,
    router: Option<Ipv4Addr>,
    pool: (Ipv4Addr, Ipv4Addr),
}

/// Template lines: (field path, YAML value).
type Lines = Vec<(String, String)>;

/// One step of a case before rendering.
enum Step {
    Send {
        lines: Vec<(String, String)>,
        note: String,
    },
    Receive {
        lines: Vec<(String, String)>,
        capture: Vec<(String, String)>,
        reason: String,
    },
    Silent {
        packet: usize,
        kind: String,
        n: usize,
        xid: String,
    },
}

/// What a case knows while it is written: captured values and the variables that hold their
/// live counterparts.
#[derive(Default)]
struct CaseVars {
    mac: Vec<u8>,
    /// Captured xid → expression (`$xid` for the first).
    xids: Vec<(u32, String)>,
    /// Captured address → variable holding the live one.
    addrs: Vec<(Ipv4Addr, String)>,
    /// Captured server MAC → (variable, index of the receive step that captures it).
    macs: Vec<([u8; 6], String)>,
    /// Server MACs of replies: (step index, captured eth.src).
    reply_macs: Vec<(usize, [u8; 6])>,
    client_id: Option<(Vec<u8>, String)>,
}

impl CaseVars {
    fn xid(&mut self, x: u32) -> String {
        if let Some((_, e)) = self.xids.iter().find(|(c, _)| *c == x) {
            return e.clone();
        }
        let e = if self.xids.is_empty() {
            "$xid".to_string()
        } else {
            format!("0x{x:08x}")
        };
        self.xids.push((x, e.clone()));
        e
    }

    fn addr(&self, a: Ipv4Addr) -> Option<String> {
        self.addrs
            .iter()
            .find(|(c, _)| *c == a)
            .map(|(_, v)| format!("${v}"))
    }

    fn addr_or_lit(&self, a: Ipv4Addr) -> String {
        self.addr(a).unwrap_or_else(|| a.to_string())
    }
}

fn ip4(b: &[u8]) -> Option<Ipv4Addr> {
    <[u8; 4]>::try_from(b).ok().map(Ipv4Addr::from)
}

fn opt_key(code: u8) -> String {
    match name_of(code) {
        Some(n) => format!("options.{n}"),
        None => format!("options.{code}"),
    }
}

/// A typed YAML literal for an option's data, or `None` when it must be written as bytes.
fn typed_literal(code: u8, data: &[u8], vars: &CaseVars) -> Option<String> {
    let k = kind_of(code);
    match k {
        OptKind::Ipv4 => ip4(data).map(|a| vars.addr_or_lit(a)),
        OptKind::Ipv4List if !data.is_empty() && data.len().is_multiple_of(4) => {
            let v: Vec<String> = data
                .chunks(4)
                .filter_map(ip4)
                .map(|a| vars.addr_or_lit(a))
                .collect();
            Some(format!("[{}]", v.join(", ")))
        }
        OptKind::U8 if data.len() == 1 => Some(data[0].to_string()),
        OptKind::U16 if data.len() == 2 => Some(u16::from_be_bytes([data[0], data[1]]).to_string()),
        OptKind::U32 if data.len() == 4 => {
            Some(u32::from_be_bytes([data[0], data[1], data[2], data[3]]).to_string())
        }
        OptKind::I32 if data.len() == 4 => {
            Some(i32::from_be_bytes([data[0], data[1], data[2], data[3]]).to_string())
        }
        OptKind::MessageType if data.len() == 1 => Some(
            message_type_name(data[0])
                .map(str::to_string)
                .unwrap_or_else(|| data[0].to_string()),
        ),
        OptKind::Overload if data.len() == 1 => Some(data[0].to_string()),
        OptKind::U8List if !data.is_empty() => Some(format!(
            "[{}]",
            data.iter()
                .map(u8::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        )),
        OptKind::Str if !data.is_empty() => std::str::from_utf8(data).ok().map(q),
        OptKind::Bytes => Some(q(&format!("0x{}", hex(data)))),
        _ => None,
    }
}

/// `(key, value)` for one option of a sent request.
fn send_option(code: u8, data: &[u8], vars: &CaseVars) -> (String, String) {
    if code == 61 {
        if let Some((c, e)) = &vars.client_id {
            if c.as_slice() == data {
                return (opt_key(code), e.clone());
            }
        }
    }
    match typed_literal(code, data, vars) {
        Some(v) => (opt_key(code), v),
        None => (
            format!("{}.raw", opt_key(code)),
            q(&format!("0x{}", hex(data))),
        ),
    }
}

fn mac_lit(m: &[u8]) -> String {
    q(&m.iter()
        .map(|x| format!("{x:02x}"))
        .collect::<Vec<_>>()
        .join(":"))
}

impl DhcpWriter {
    fn params(ex: &[Exchange]) -> Params {
        let mut server_ip = None;
        let mut subnet_mask = None;
        let mut router = None;
        let mut lo: Option<Ipv4Addr> = None;
        for e in ex {
            for (p, _) in &e.replies {
                let r = Repr::parse(&p.datagram.payload);
                if server_ip.is_none() {
                    server_ip = r.aggregate(54).as_deref().and_then(ip4);
                }
                if subnet_mask.is_none() {
                    subnet_mask = r.aggregate(1).as_deref().and_then(ip4);
                }
                if router.is_none() {
                    router = r
                        .aggregate(3)
                        .as_deref()
                        .and_then(|d| d.get(..4))
                        .and_then(ip4);
                }
                if lo.is_none() && !r.yiaddr.is_unspecified() {
                    lo = Some(r.yiaddr);
                }
            }
        }
        // The pool defaults to the subnet of the first address handed out (without network and
        // broadcast addresses); targets supply their own pool.
        let pool = match lo.or(server_ip) {
            Some(a) => {
                let m = u32::from(subnet_mask.unwrap_or(Ipv4Addr::new(255, 255, 255, 0)));
                let net = u32::from(a) & m;
                let bcast = net | !m;
                if bcast > net + 1 {
                    (Ipv4Addr::from(net + 1), Ipv4Addr::from(bcast - 1))
                } else {
                    (a, a)
                }
            }
            None => (Ipv4Addr::UNSPECIFIED, Ipv4Addr::BROADCAST),
        };
        Params {
            server_ip,
            subnet_mask,
            router,
            pool,
        }
    }

    /// Groups exchanges into cases: one per client (chaddr) in order of first appearance.
    fn cases(ex: &[Exchange]) -> Vec<Vec<&Exchange>> {
        let mut order: Vec<Key> = Vec::new();
        let mut by: BTreeMap<Key, Vec<&Exchange>> = BTreeMap::new();
        for e in ex {
            if !by.contains_key(&e.req.client) {
                order.push(e.req.client);
            }
            by.entry(e.req.client).or_default().push(e);
        }
        order.into_iter().filter_map(|k| by.remove(&k)).collect()
    }

    /// Which captured reply a request is judged by: with replies from several servers, the
    /// one from the server the client chose next (option 54 of its next request), else the
    /// first.
    fn chosen_reply(e: &Exchange, next: Option<&Exchange>) -> Option<usize> {
        if e.replies.is_empty() {
            return None;
        }
        let chosen = next.and_then(|n| Repr::parse(&n.request.datagram.payload).aggregate(54));
        if let Some(sid) = chosen {
            if let Some(i) = e.replies.iter().position(|(p, _)| {
                Repr::parse(&p.datagram.payload).aggregate(54).as_deref() == Some(sid.as_slice())
            }) {
                return Some(i);
            }
        }
        Some(0)
    }

    fn request_lines(
        e: &Exchange,
        vars: &mut CaseVars,
        notes: &mut Vec<String>,
        bytewise: &mut usize,
    ) -> Vec<(String, String)> {
        let d = &e.request.datagram;
        let r = Repr::parse(&d.payload);
        let mut l: Vec<(String, String)> = Vec::new();
        let mut push = |k: &str, v: String| l.push((k.to_string(), v));
        push(
            "op",
            if r.op == 1 {
                "BOOTREQUEST".into()
            } else {
                r.op.to_string()
            },
        );
        if r.htype != 1 {
            push("htype", r.htype.to_string());
        }
        if r.hlen != 6 {
            push("hlen", r.hlen.to_string());
        }
        if r.hops != 0 {
            push("hops", r.hops.to_string());
        }
        let x = vars.xid(r.xid);
        push("xid", x);
        if r.secs != 0 {
            push("secs", r.secs.to_string());
        }
        if r.flags != 0 {
            push("flags", format!("0x{:04x}", r.flags));
        }
        for (k, a) in [
            ("ciaddr", r.ciaddr),
            ("yiaddr", r.yiaddr),
            ("siaddr", r.siaddr),
            ("giaddr", r.giaddr),
        ] {
            if !a.is_unspecified() {
                push(k, vars.addr_or_lit(a));
            }
        }
        let hw = &r.chaddr[..usize::from(r.hlen).min(16)];
        if !vars.mac.is_empty() && hw == vars.mac.as_slice() {
            push("chaddr", "$chaddr".into());
        } else {
            push("chaddr", q(&format!("0x{}", hex(hw))));
        }
        if r.chaddr[hw.len()..].iter().any(|b| *b != 0) {
            push("chaddr_raw", q(&format!("0x{}", hex(&r.chaddr))));
        }
        if r.sname.iter().any(|b| *b != 0) {
            push("sname_raw", q(&format!("0x{}", hex(&r.sname))));
        }
        if r.file.iter().any(|b| *b != 0) {
            push("file_raw", q(&format!("0x{}", hex(&r.file))));
        }
        if r.cookie != MAGIC_COOKIE {
            push("cookie", q(&format!("0x{}", hex(&r.cookie))));
        }
        // Options in wire order, typed where they round-trip; byte for byte when the area has
        // what templates cannot place (duplicates, PAD runs, a truncated option).
        let mut seen = [false; 256];
        let simple = r.options.entries.iter().all(|en| match en {
            Entry::Option(o) => {
                let dup = seen[usize::from(o.code)];
                seen[usize::from(o.code)] = true;
                !dup && usize::from(o.len) == o.data.len()
            }
            _ => false,
        });
        if simple {
            for en in &r.options.entries {
                if let Entry::Option(o) = en {
                    let (k, v) = send_option(o.code, &o.data, vars);
                    push(&k, v);
                }
            }
        } else {
            *bytewise += 1;
            let mut area = Vec::new();
            let mut body = r.options.clone();
            body.end = false;
            body.after_end.clear();
            body.emit(&mut area);
            push(
                "raw_options",
                format!("[{}]", q(&format!("0x{}", hex(&area)))),
            );
            notes.push(format!(
                "packet {}: options replayed byte for byte (duplicate options, PAD or a truncated option); identities inside them are not rewritten",
                e.request.number
            ));
        }
        if !r.options.end {
            push("end", "false".into());
        }
        if r.options.after_end.iter().any(|b| *b != 0) {
            push("after_end", q(&format!("0x{}", hex(&r.options.after_end))));
        }
        let natural = MIN_LEN + r.options.buffer_len() - r.options.after_end.len();
        if d.payload.len() != natural.max(300) {
            push("size", d.payload.len().to_string());
        }
        // Lower layers, where they differ from the encoder's defaults.
        let m = &d.meta;
        if let Some(src) = m.eth_src {
            if src.as_slice() != hw {
                push("eth.src", mac_lit(&src));
            }
        }
        if let Some(dst) = m.eth_dst {
            if dst != [0xff; 6] {
                match vars.macs.iter().find(|(c, _)| *c == dst) {
                    Some((_, v)) => push("eth.dst", format!("${v}")),
                    None => match vars.reply_macs.iter().find(|(_, c)| *c == dst) {
                        Some(&(step, _)) => {
                            let v = format!("server_mac_{step}");
                            vars.macs.push((dst, v.clone()));
                            push("eth.dst", format!("${v}"));
                        }
                        None => push("eth.dst", mac_lit(&dst)),
                    },
                }
            }
        }
        if let Some(IpAddr::V4(a)) = m.ip_src {
            if !a.is_unspecified() {
                push("ip.src", vars.addr_or_lit(a));
            }
        }
        if let Some(IpAddr::V4(a)) = m.ip_dst {
            if a != Ipv4Addr::BROADCAST {
                push("ip.dst", vars.addr_or_lit(a));
            }
        }
        if let Some(t) = m.ip_ttl {
            if t != 64 {
                push("ip.ttl", t.to_string());
            }
        }
        if m.src_port.is_some_and(|p| p != 68) {
            push("udp.src", m.src_port.unwrap_or(68).to_string());
        }
        if m.dst_port.is_some_and(|p| p != 67) {
            push("udp.dst", m.dst_port.unwrap_or(67).to_string());
        }
        l
    }

    #[allow(clippy::too_many_arguments)]
    fn reply_lines(
        reply: &conform_adapters::pcap_replay::TracePacket,
        req: &Repr,
        step: usize,
        vars: &mut CaseVars,
        params: &Params,
        ignore: &[String],
    ) -> (Lines, Lines) {
        let r = Repr::parse(&reply.datagram.payload);
        let mut l: Vec<(String, String)> = Vec::new();
        let mut cap: Vec<(String, String)> = Vec::new();
        let mut push = |k: &str, v: String| {
            if !ignored(ignore, k) {
                l.push((k.to_string(), v));
            }
        };
        push("op", "BOOTREPLY".into());
        push(
            "xid",
            if r.xid == req.xid {
                vars.xid(r.xid)
            } else {
                format!("0x{:08x}", r.xid)
            },
        );
        let hw = &r.chaddr[..usize::from(r.hlen).min(16)];
        if !vars.mac.is_empty() && hw == vars.mac.as_slice() {
            push("chaddr", "$chaddr".into());
        } else {
            push("chaddr", q(&format!("0x{}", hex(hw))));
        }
        push("flags", format!("0x{:04x}", r.flags));
        push("ciaddr", vars.addr_or_lit(r.ciaddr));
        push("giaddr", vars.addr_or_lit(r.giaddr));
        if r.yiaddr.is_unspecified() {
            push("yiaddr", "0.0.0.0".into());
        } else if let Some(v) = vars.addr(r.yiaddr) {
            push("yiaddr", v);
        } else {
            push("yiaddr", "{ range: \"$pool_start..$pool_end\" }".into());
            if !ignored(ignore, "yiaddr") {
                let v = format!("yiaddr_{step}");
                cap.push((v.clone(), "yiaddr".into()));
                vars.addrs.push((r.yiaddr, v));
            }
        }
        let mut seen = [false; 256];
        for en in &r.options.entries {
            let Entry::Option(o) = en else { continue };
            if std::mem::replace(&mut seen[usize::from(o.code)], true) {
                continue;
            }
            let data = r.aggregate(o.code).unwrap_or_default();
            let key = opt_key(o.code);
            match o.code {
                // Lease times legitimately differ; T1/T2 are optional and follow the lease.
                58 | 59 => {}
                51 => push(&key, q("?")),
                54 => {
                    push(&key, q("?"));
                    if let (Some(a), false) = (ip4(&data), ignored(ignore, &key)) {
                        if vars.addr(a).is_none() {
                            let v = format!("server_{step}");
                            cap.push((v.clone(), key.clone()));
                            vars.addrs.push((a, v));
                        }
                    }
                }
                // Echoes of the request: the same expression as sent.
                61 | 82 => {
                    let sent = req.aggregate(o.code);
                    if sent.as_deref() == Some(data.as_slice()) {
                        let (_, v) = send_option(o.code, &data, vars);
                        push(&key, v);
                    } else if let Some(v) = typed_literal(o.code, &data, vars) {
                        push(&key, v);
                    }
                }
                1 if params
                    .subnet_mask
                    .and_then(|m| ip4(&data).map(|a| a == m))
                    .unwrap_or(false) =>
                {
                    push(&key, "$subnet_mask".into())
                }
                3 if params.router.is_some_and(|rt| data == rt.octets()) => {
                    push(&key, "[$router]".into())
                }
                53 | 1 | 3 => {
                    if let Some(v) = typed_literal(o.code, &data, vars) {
                        push(&key, v);
                    }
                }
                // Everything else is the server's configuration: compared when present.
                _ => match typed_literal(o.code, &data, vars) {
                    Some(v) => push(&key, format!("{{ ifpresent: {v} }}")),
                    None => push(
                        &format!("{key}.raw"),
                        format!("{{ ifpresent: {} }}", q(&format!("0x{}", hex(&data)))),
                    ),
                },
            }
        }
        if let Some(src) = reply.datagram.meta.eth_src {
            vars.reply_macs.push((step, src));
        }
        (l, cap)
    }
}

impl CaseWriter for DhcpWriter {
    fn write(
        &self,
        source: &str,
        ex: &[Exchange],
        opts: &ImportOptions,
        _rules: &dyn TraceRules,
        notes: &mut Vec<String>,
    ) -> (Vec<String>, usize) {
        let params = Self::params(ex);
        let groups = Self::cases(ex);
        let mut y = String::new();
        let packets: usize = ex
            .iter()
            .map(|e| 1 + e.retransmissions.len() + e.replies.len())
            .sum();
        let _ = writeln!(y, "# Imported by `conform import` from {source}: {packets} DHCP packet(s), {} request(s), {} case(s).", ex.len(), groups.len());
        let _ = writeln!(y, "# Each case replays one client's requests in capture order and expects the captured replies");
        let _ = writeln!(y, "# under the replay rules (docs/pcap.md): xid, chaddr and client identifier are this run's");
        let _ = writeln!(y, "# identity; yiaddr is any pool address first, then the same address; server identifier and");
        let _ = writeln!(y, "# lease time need only be present; T1/T2, secs, hops, siaddr, sname, file and the lower layers");
        let _ = writeln!(y, "# are not compared; other configuration options are compared when present (`ifpresent`).");
        let _ = writeln!(y, "suite: {}", q(&opts.name));
        let _ = writeln!(y, "protocol: dhcp");
        let _ = writeln!(y, "description: {}", q(&format!("Client side of the capture {source}, replayed with the captured replies as templates.")));
        let _ = writeln!(y, "params:");
        let mut param = |n: &str, a: Ipv4Addr, doc: &str| {
            let _ = writeln!(y, "  {n}: {{ type: ipv4, default: {a}, doc: {} }}", q(doc));
        };
        param(
            "pool_start",
            params.pool.0,
            "First pool address (default: the captured subnet); targets supply theirs.",
        );
        param(
            "pool_end",
            params.pool.1,
            "Last pool address (default: the captured subnet); targets supply theirs.",
        );
        if let Some(a) = params.server_ip {
            param(
                "server_ip",
                a,
                "The captured server's identifier; targets supply theirs.",
            );
        }
        if let Some(a) = params.subnet_mask {
            param(
                "subnet_mask",
                a,
                "The captured subnet mask (option 1); targets supply theirs.",
            );
        }
        if let Some(a) = params.router {
            param(
                "router",
                a,
                "The captured router (option 3); targets supply theirs.",
            );
        }
        let _ = writeln!(y, "settings:");
        let _ = writeln!(y, "  receive_timeout: {}", dur(opts.receive_timeout));
        let _ = writeln!(y, "cases:");
        let head_end = y.len();
        let mut starts = Vec::with_capacity(groups.len());
        let mut bytewise = 0;
        for (ci, group) in groups.iter().enumerate() {
            starts.push(y.len());
            let mut vars = CaseVars {
                mac: group[0].req.client.as_bytes().to_vec(),
                ..CaseVars::default()
            };
            let first = Repr::parse(&group[0].request.datagram.payload);
            if let Some(cid) = first.aggregate(61) {
                if vars.mac.len() == 6 && cid.len() == 7 && cid[0] == 1 && cid[1..] == vars.mac[..]
                {
                    vars.client_id = Some((cid, "$client_id".into()));
                }
            }
            let mut steps: Vec<Step> = Vec::new();
            let mut kinds: Vec<String> = Vec::new();
            let mut numbers: Vec<usize> = Vec::new();
            for (i, e) in group.iter().enumerate() {
                numbers.push(e.request.number);
                numbers.extend(&e.retransmissions);
                let lines = Self::request_lines(e, &mut vars, notes, &mut bytewise);
                let retx = if e.retransmissions.is_empty() {
                    String::new()
                } else {
                    format!(
                        ", retransmitted as packet {} (sent once)",
                        list_numbers(&e.retransmissions)
                    )
                };
                steps.push(Step::Send {
                    lines,
                    note: format!("packet {}: DHCP{}{retx}", e.request.number, e.req.kind),
                });
                let req = Repr::parse(&e.request.datagram.payload);
                match Self::chosen_reply(e, group.get(i + 1).copied()) {
                    Some(ri) => {
                        let (p, c) = &e.replies[ri];
                        numbers.extend(e.replies.iter().map(|(p, _)| p.number));
                        kinds.push(format!("{}→{}", e.req.kind, c.kind));
                        let step = steps.len() + 1;
                        let (lines, capture) =
                            Self::reply_lines(p, &req, step, &mut vars, &params, &opts.ignore);
                        steps.push(Step::Receive {
                            lines,
                            capture,
                            reason: format!(
                                "no reply like the captured DHCP{} (packet {}) to this DHCP{}",
                                c.kind, p.number, e.req.kind
                            ),
                        });
                    }
                    None => {
                        kinds.push(format!("{}→(none)", e.req.kind));
                        if matches!(
                            e.req.kind.as_ref(),
                            "DISCOVER" | "REQUEST" | "INFORM" | "BOOTP"
                        ) {
                            let xid = vars.xid(req.xid);
                            steps.push(Step::Silent {
                                packet: e.request.number,
                                kind: e.req.kind.to_string(),
                                n: steps.len() + 1,
                                xid,
                            });
                        }
                    }
                }
            }
            // Receive steps that capture a server MAC used later.
            numbers.sort_unstable();
            let lo = numbers.first().copied().unwrap_or(0);
            let hi = numbers.last().copied().unwrap_or(0);
            let range = if lo == hi {
                format!("packet {lo}")
            } else {
                format!("packets {lo}-{hi}")
            };
            let client = group[0]
                .req
                .client
                .as_bytes()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<Vec<_>>()
                .join(":");
            case_head(
                &mut y,
                &format!("{}-{}", opts.name, ci + 1),
                &format!("{} (client {client}, {range})", kinds.join(", ")),
                source,
                &range,
                &format!("The server answers the client's captured requests ({range} of {source}) as the captured server did, under the replay rules of docs/pcap.md."),
            );
            let waits: u128 = steps
                .iter()
                .map(|s| match s {
                    Step::Receive { .. } => opts.receive_timeout.as_millis(),
                    Step::Silent { .. } => opts.silence.as_millis(),
                    Step::Send { .. } => 0,
                })
                .sum();
            let _ = writeln!(y, "    timeout: {}ms", waits + 10_000);
            let _ = writeln!(y, "    steps:");
            for (si, s) in steps.iter().enumerate() {
                match s {
                    Step::Send { lines, note } => {
                        let _ = writeln!(y, "      # {note}");
                        let _ = writeln!(y, "      - send:");
                        let _ = writeln!(y, "          with:");
                        for (k, v) in lines {
                            let _ = writeln!(y, "            {k}: {v}");
                        }
                    }
                    Step::Receive {
                        lines,
                        capture,
                        reason,
                    } => {
                        let mut capture = capture.clone();
                        for (m, v) in &vars.macs {
                            if let Some(stepno) = v
                                .strip_prefix("server_mac_")
                                .and_then(|n| n.parse::<usize>().ok())
                            {
                                if stepno == si + 1 {
                                    let _ = m;
                                    capture.push((v.clone(), "eth.src".into()));
                                }
                            }
                        }
                        let _ = writeln!(y, "      - receive:");
                        let _ = writeln!(y, "          with:");
                        for (k, v) in lines {
                            let _ = writeln!(y, "            {k}: {v}");
                        }
                        if !capture.is_empty() {
                            let c: Vec<String> =
                                capture.iter().map(|(v, p)| format!("{v}: {p}")).collect();
                            let _ = writeln!(y, "          capture: {{ {} }}", c.join(", "));
                        }
                        let _ = writeln!(y, "          reason: {}", q(reason));
                    }
                    Step::Silent {
                        packet,
                        kind,
                        n,
                        xid,
                    } => {
                        silence_steps(
                            &mut y,
                            *packet,
                            &format!("quiet_{n}"),
                            opts.silence,
                            &format!("op: BOOTREPLY, xid: {xid}, chaddr: $chaddr"),
                            &format!("DHCP{kind}"),
                        );
                    }
                }
            }
        }
        if bytewise > 0 {
            notes.push(format!(
                "{bytewise} request(s) with options replayed byte for byte"
            ));
        }
        (split_files(&y, head_end, starts, &opts.name), groups.len())
    }
}

/// Splits a suite text into files of at most [`CASES_PER_FILE`] cases: `y[..head_end]` is the
/// head every file repeats (the second file's suite is `<name>-2`, ...), `starts` where each
/// case begins. The YAML reader has an event budget per file.
fn split_files(y: &str, head_end: usize, mut starts: Vec<usize>, name: &str) -> Vec<String> {
    starts.push(y.len());
    let mut files = Vec::new();
    for (k, w) in starts
        .windows(2)
        .collect::<Vec<_>>()
        .chunks(CASES_PER_FILE)
        .enumerate()
    {
        let (a, b) = (w[0][0], w[w.len() - 1][1]);
        let mut head = y[..head_end].to_string();
        if k > 0 {
            head = head.replacen(
                &format!("suite: {}", q(name)),
                &format!("suite: {}", q(&format!("{name}-{}", k + 1))),
                1,
            );
        }
        head.push_str(&y[a..b]);
        files.push(head);
    }
    if files.is_empty() {
        files.push(y.to_string());
    }
    files
}

/// Cases per generated suite file (the YAML reader allows about a million events per file).
pub const CASES_PER_FILE: usize = 2000;

/// Parses `3s`, `500ms`, `1.5s` or a bare number of milliseconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let (num, scale) = if let Some(n) = t.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = t.strip_suffix('s') {
        (n, 1000.0)
    } else {
        (t, 1.0)
    };
    match num.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 && v * scale <= 86_400_000.0 => {
            Ok(Duration::from_millis((v * scale).round() as u64))
        }
        _ => Err(format!("`{s}` is not a duration such as 3s or 500ms")),
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn ignore_names_a_field_or_a_group_above_it() {
        let ig = vec!["options".to_string(), "secs".to_string()];
        assert!(ignored(&ig, "options"));
        assert!(ignored(&ig, "options.lease_time"));
        assert!(ignored(&ig, "secs"));
        assert!(!ignored(&ig, "optionsx"));
        assert!(!ignored(&ig, "sec"));
        assert!(!ignored(&[], "secs"));
    }

    use super::*;

    #[test]
    fn suite_names_from_files() {
        assert_eq!(
            suite_name_of(Path::new("suites/dhcp/clients/dhclient.pcapng")),
            "dhclient"
        );
        assert_eq!(suite_name_of(Path::new("My Trace (1).pcap")), "my-trace-1");
        assert_eq!(suite_name_of(Path::new("...pcap")), "capture");
    }

    #[test]
    fn literals_are_typed_where_they_round_trip() {
        let v = CaseVars::default();
        assert_eq!(typed_literal(53, &[1], &v).as_deref(), Some("DISCOVER"));
        assert_eq!(
            typed_literal(51, &[0, 0, 14, 16], &v).as_deref(),
            Some("3600")
        );
        assert_eq!(
            typed_literal(51, &[0, 14, 16], &v),
            None,
            "a wrong length is written as bytes"
        );
        assert_eq!(
            typed_literal(55, &[1, 3, 6], &v).as_deref(),
            Some("[1, 3, 6]")
        );
        assert_eq!(
            typed_literal(12, b"host\"x", &v).as_deref(),
            Some("\"host\\\"x\"")
        );
        assert_eq!(typed_literal(12, &[0xff, 0xfe], &v), None);
        assert_eq!(
            send_option(12, &[0xff], &v),
            ("options.hostname.raw".to_string(), "\"0xff\"".to_string())
        );
        assert_eq!(
            send_option(200, &[1, 2], &v),
            ("options.200".to_string(), "\"0x0102\"".to_string())
        );
    }
}
