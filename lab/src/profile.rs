//! Target profiles: how to install, configure, start, probe and stop one server under test, the
//! parameter values suites use against it, and its known deviations. Format: docs/profiles.md.
//!
//! Loading has two layers: `raw` mirrors the YAML one to one (serde-saphyr,
//! `deny_unknown_fields`, no `untagged`/`flatten` so errors keep their positions), and
//! [`Profile`] is the validated, typed form. Validation collects every problem and names its
//! field (`lab.server_ip`, `files."kea.conf"`), including unknown `{placeholders}` in
//! templates, so a typo fails at load time rather than as a server that will not start.

use crate::error::ProfileError;
use regex::Regex;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::Path;
use std::time::Duration;

/// The profiles shipped with conform (the files under `profiles/`, embedded at build time so
/// `--target dnsmasq` works from any directory).
const BUILTIN: &[(&str, &str)] = &[
    ("dnsmasq", include_str!("../../profiles/dnsmasq.yaml")),
    ("kea", include_str!("../../profiles/kea.yaml")),
    ("isc-dhcpd", include_str!("../../profiles/isc-dhcpd.yaml")),
    ("udhcpd", include_str!("../../profiles/udhcpd.yaml")),
    ("unbound", include_str!("../../profiles/unbound.yaml")),
    ("nsd", include_str!("../../profiles/nsd.yaml")),
    ("knot", include_str!("../../profiles/knot.yaml")),
    ("bind9", include_str!("../../profiles/bind9.yaml")),
    ("pdns", include_str!("../../profiles/pdns.yaml")),
    (
        "dnsmasq-dns",
        include_str!("../../profiles/dnsmasq-dns.yaml"),
    ),
];

/// Placeholders the lab itself provides in templates (besides every `params` key).
pub const BUILTIN_PLACEHOLDERS: &[&str] = &[
    "dir",
    "iface",
    "client_iface",
    "netns",
    "client_netns",
    "server_ip",
    "prefix_len",
    "netmask",
    "subnet",
    "client_ip",
    "server_mac",
    "client_mac",
    "server_port",
];

/// Which protocol the server speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProtocolKind {
    Dhcp,
    Dns,
}

/// How conform's messages reach the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AdapterKind {
    /// AF_PACKET socket on the client veth end (DHCP client without an address).
    Raw,
    /// UDP socket at the relay address :67 (DHCP relay agent, sets giaddr).
    Relay,
    /// A tap device bridged with the client veth end (lab.md 2.3).
    Tap,
    /// Plain UDP from the client address (DNS).
    Udp,
}

impl AdapterKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AdapterKind::Raw => "raw",
            AdapterKind::Relay => "relay",
            AdapterKind::Tap => "tap",
            AdapterKind::Udp => "udp",
        }
    }
}

impl std::str::FromStr for AdapterKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "raw" => AdapterKind::Raw,
            "relay" => AdapterKind::Relay,
            "tap" => AdapterKind::Tap,
            "udp" => AdapterKind::Udp,
            _ => {
                return Err(format!(
                    "unknown adapter `{s}` (expected raw, relay, tap or udp)"
                ))
            }
        })
    }
}

/// Addresses of the two-namespace lab.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabSettings {
    /// The server's address on its veth end.
    pub server_ip: Ipv4Addr,
    pub prefix_len: u8,
    /// The client side's address in relay and udp modes (raw and tap clients have none).
    pub client_ip: Ipv4Addr,
    pub server_mac: [u8; 6],
    pub client_mac: [u8; 6],
    /// The server's UDP port (67 for DHCP, 53 for DNS unless set).
    pub server_port: u16,
    /// Further addresses of the server on its veth end, added after `server_ip` with the same
    /// prefix length (a multi-homed server, RFC 2131 §4.1). Empty by default.
    pub server_extra_ips: Vec<Ipv4Addr>,
}

impl LabSettings {
    /// The subnet mask of `prefix_len`.
    pub fn netmask(&self) -> Ipv4Addr {
        let bits = u32::MAX
            .checked_shl(32 - u32::from(self.prefix_len))
            .unwrap_or(0);
        Ipv4Addr::from(bits)
    }

    /// The network address of the server's subnet.
    pub fn subnet(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.server_ip) & u32::from(self.netmask()))
    }
}

/// How the lab decides that the server is ready.
#[derive(Clone, Debug)]
pub enum Probe {
    /// Send a DHCPDISCOVER from a dedicated probe MAC (every `interval` for 300 ms, then with
    /// backoff up to 250 ms) until an OFFER for it arrives.
    DhcpOffer { interval: Duration },
    /// The server process has a UDP socket bound to this port (read from
    /// `/proc/<pid>/net/udp*`, which shows the server's namespace). Sends no traffic.
    UdpPort(u16),
    /// A line of the log (server.log, or `file`) matches the regex.
    LogLine { regex: Regex, file: Option<String> },
    /// Just wait.
    Delay(Duration),
}

impl Probe {
    /// One line for messages.
    pub fn describe(&self) -> String {
        match self {
            Probe::DhcpOffer { .. } => "dhcp_offer".into(),
            Probe::UdpPort(p) => format!("udp_port {p}"),
            Probe::LogLine { regex, .. } => format!("log_line /{}/", regex.as_str()),
            Probe::Delay(d) => format!("delay_ms {}", d.as_millis()),
        }
    }
}

/// Readiness: a probe and how long it may take.
#[derive(Clone, Debug)]
pub struct Ready {
    pub probe: Probe,
    pub timeout: Duration,
}

/// How the lab stops the server: `signal`, then SIGKILL after `grace`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stop {
    pub signal: i32,
    pub signal_name: String,
    pub grace: Duration,
}

/// A validated target profile. See docs/profiles.md for the YAML format.
#[derive(Clone, Debug)]
pub struct Profile {
    pub name: String,
    pub protocol: ProtocolKind,
    pub description: String,
    /// Debian packages the server needs (informational; named in "not found" errors).
    pub packages: Vec<String>,
    /// The default adapter (a lab may override it).
    pub adapter: AdapterKind,
    pub lab: LabSettings,
    /// File name (relative to the run directory) → template text.
    pub files: BTreeMap<String, String>,
    /// Optional configuration check run in the server namespace before starting.
    pub check: Vec<String>,
    /// The server's argv (templates); it must stay in the foreground.
    pub command: Vec<String>,
    pub env: BTreeMap<String, String>,
    /// Template of the PID file path, for servers that write one (deleted before each start).
    pub pidfile: Option<String>,
    pub ready: Ready,
    pub stop: Stop,
    /// Module parameter values for the suites (`server_ip`, `pool_start`, ...), as text.
    pub params: BTreeMap<String, String>,
    /// Test case id → why this server is known to deviate.
    pub deviations: BTreeMap<String, String>,
    /// Cases carrying any of these tags run alone against this server (as if marked
    /// `exclusive`), for what only this server cannot share (udhcpd's relay socket).
    pub exclusive_tags: Vec<String>,
    pub notes: String,
    /// Where the profile came from: `builtin:dnsmasq` or a path.
    pub origin: String,
}

mod raw {
    //! The YAML, one to one.
    use serde::Deserialize;
    use std::collections::BTreeMap;

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub(super) struct Profile {
        pub name: String,
        pub protocol: super::ProtocolKind,
        #[serde(default)]
        pub description: String,
        #[serde(default)]
        pub packages: Vec<String>,
        pub adapter: super::AdapterKind,
        #[serde(default)]
        pub lab: Lab,
        #[serde(default)]
        pub files: BTreeMap<String, String>,
        #[serde(default)]
        pub check: Vec<String>,
        pub command: Vec<String>,
        #[serde(default)]
        pub env: BTreeMap<String, Scalar>,
        #[serde(default)]
        pub pidfile: Option<String>,
        pub ready: Ready,
        #[serde(default)]
        pub stop: Stop,
        #[serde(default)]
        pub params: BTreeMap<String, Scalar>,
        #[serde(default)]
        pub deviations: BTreeMap<String, String>,
        #[serde(default)]
        pub exclusive_tags: Vec<String>,
        #[serde(default)]
        pub notes: String,
    }

    #[derive(Deserialize, Default)]
    #[serde(deny_unknown_fields)]
    pub(super) struct Lab {
        pub server_ip: Option<String>,
        pub prefix_len: Option<u8>,
        pub client_ip: Option<String>,
        pub server_mac: Option<String>,
        pub client_mac: Option<String>,
        pub server_port: Option<u16>,
        #[serde(default)]
        pub server_extra_ips: Vec<String>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub(super) struct Ready {
        pub probe: Probe,
        #[serde(default)]
        pub timeout_ms: Option<u64>,
    }

    /// Externally tagged: `probe: dhcp_offer` or `probe: { udp_port: 53 }`.
    #[derive(Deserialize)]
    #[serde(rename_all = "snake_case", deny_unknown_fields)]
    pub(super) enum Probe {
        DhcpOffer,
        UdpPort(u16),
        LogLine(LogLine),
        DelayMs(u64),
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub(super) struct LogLine {
        pub regex: String,
        #[serde(default)]
        pub file: Option<String>,
    }

    #[derive(Deserialize, Default)]
    #[serde(deny_unknown_fields)]
    pub(super) struct Stop {
        #[serde(default)]
        pub signal: Option<String>,
        #[serde(default)]
        pub grace_ms: Option<u64>,
    }

    /// A scalar kept as text: `lease_time: 3600` and `lease_time: "3600"` mean the same.
    pub(super) struct Scalar(pub String);

    impl<'de> Deserialize<'de> for Scalar {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl serde::de::Visitor<'_> for V {
                type Value = Scalar;
                fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                    f.write_str("a string, number or boolean")
                }
                fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Scalar, E> {
                    Ok(Scalar(v.to_string()))
                }
                fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Scalar, E> {
                    Ok(Scalar(v))
                }
                fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Scalar, E> {
                    Ok(Scalar(v.to_string()))
                }
                fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Scalar, E> {
                    Ok(Scalar(v.to_string()))
                }
                fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Scalar, E> {
                    Ok(Scalar(v.to_string()))
                }
                fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Scalar, E> {
                    Ok(Scalar(v.to_string()))
                }
            }
            d.deserialize_any(V)
        }
    }
}

/// Parses `02:cf:00:00:00:01`.
pub fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let mut out = [0u8; 6];
    let mut parts = s.split(':');
    for o in out.iter_mut() {
        let p = parts.next()?;
        if p.len() != 2 {
            return None;
        }
        *o = u8::from_str_radix(p, 16).ok()?;
    }
    parts.next().is_none().then_some(out)
}

/// Formats a MAC as `02:cf:00:00:00:01`.
pub fn format_mac(m: [u8; 6]) -> String {
    format!(
        "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        m[0], m[1], m[2], m[3], m[4], m[5]
    )
}

/// Replaces `{name}` placeholders. A placeholder is `{` + `[a-z_][a-z0-9_]*` + `}`; any other
/// brace is literal text, so JSON (`{ "Dhcp4": {`) needs no escaping. `{{` is a literal `{`.
/// Unknown placeholder names are an error that names them.
pub fn render(template: &str, vars: &BTreeMap<String, String>) -> Result<String, String> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    let mut unknown: Vec<String> = Vec::new();
    while let Some(i) = rest.find('{') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(stripped) = after.strip_prefix('{') {
            out.push('{');
            rest = stripped;
            continue;
        }
        let name_len = after
            .char_indices()
            .take_while(|(j, c)| {
                c.is_ascii_lowercase() || *c == '_' || (*j > 0 && c.is_ascii_digit())
            })
            .count();
        if name_len > 0 && after[name_len..].starts_with('}') {
            let name = &after[..name_len];
            match vars.get(name) {
                Some(v) => out.push_str(v),
                None => {
                    if !unknown.iter().any(|u| u == name) {
                        unknown.push(name.to_string());
                    }
                }
            }
            rest = &after[name_len + 1..];
        } else {
            out.push('{');
            rest = after;
        }
    }
    out.push_str(rest);
    if unknown.is_empty() {
        Ok(out)
    } else {
        let list: Vec<String> = unknown.iter().map(|u| format!("{{{u}}}")).collect();
        Err(format!("unknown placeholder {}", list.join(", ")))
    }
}

impl Profile {
    /// The names of the built-in profiles.
    pub fn builtin_names() -> Vec<&'static str> {
        BUILTIN.iter().map(|(n, _)| *n).collect()
    }

    /// A built-in profile by name (`dnsmasq`, `kea`, `isc-dhcpd`, `udhcpd`).
    pub fn builtin(name: &str) -> Option<Result<Profile, ProfileError>> {
        BUILTIN
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(n, text)| Profile::from_yaml_str(text, &format!("builtin:{n}")))
    }

    /// Loads a profile file.
    pub fn load(path: &Path) -> Result<Profile, ProfileError> {
        let text = std::fs::read_to_string(path).map_err(|e| ProfileError::Read {
            path: path.to_path_buf(),
            source: e,
        })?;
        Profile::from_yaml_str(&text, &path.display().to_string())
    }

    /// `--target X`: a built-in name, else a path to a profile file.
    pub fn resolve(name_or_path: &str) -> Result<Profile, ProfileError> {
        if let Some(p) = Profile::builtin(name_or_path) {
            return p;
        }
        let path = Path::new(name_or_path);
        if path.exists() {
            return Profile::load(path);
        }
        Err(ProfileError::Unknown {
            name: name_or_path.to_string(),
            builtins: Profile::builtin_names().join(", "),
        })
    }

    /// Parses and validates profile YAML; `origin` names it in errors.
    pub fn from_yaml_str(text: &str, origin: &str) -> Result<Profile, ProfileError> {
        let raw: raw::Profile = serde_saphyr::from_str(text).map_err(|e| ProfileError::Parse {
            origin: origin.to_string(),
            message: e.to_string(),
        })?;
        validate(raw, origin)
    }

    /// The placeholder values of a lab built from this profile, given its run directory and
    /// interface/namespace names. Every `params` key is a placeholder too (built-ins win; a
    /// param may not contradict the lab section, which validation checks).
    pub fn placeholders(&self, names: &PlaceholderNames<'_>) -> BTreeMap<String, String> {
        let mut v: BTreeMap<String, String> = self.params.clone();
        let l = &self.lab;
        let mut set = |k: &str, val: String| {
            v.insert(k.to_string(), val);
        };
        set("dir", names.dir.to_string());
        set("iface", names.iface.to_string());
        set("client_iface", names.client_iface.to_string());
        set("netns", names.netns.to_string());
        set("client_netns", names.client_netns.to_string());
        set("server_ip", l.server_ip.to_string());
        set("prefix_len", l.prefix_len.to_string());
        set("netmask", l.netmask().to_string());
        set("subnet", l.subnet().to_string());
        set("client_ip", l.client_ip.to_string());
        set("server_mac", format_mac(l.server_mac));
        set("client_mac", format_mac(l.client_mac));
        set("server_port", l.server_port.to_string());
        v
    }
}

/// Names the lab fills into built-in placeholders.
#[derive(Clone, Copy, Debug)]
pub struct PlaceholderNames<'a> {
    pub dir: &'a str,
    pub iface: &'a str,
    pub client_iface: &'a str,
    pub netns: &'a str,
    pub client_netns: &'a str,
}

fn validate(r: raw::Profile, origin: &str) -> Result<Profile, ProfileError> {
    let mut problems: Vec<String> = Vec::new();
    let mut p = |s: String| problems.push(s);

    if r.name.trim().is_empty() {
        p("name: must not be empty".into());
    }
    let ip = |field: &str, v: &Option<String>, dflt: Ipv4Addr, p: &mut dyn FnMut(String)| match v {
        None => dflt,
        Some(s) => s.trim().parse().unwrap_or_else(|_| {
            p(format!("{field}: `{s}` is not an IPv4 address"));
            dflt
        }),
    };
    let mac = |field: &str, v: &Option<String>, dflt: [u8; 6], p: &mut dyn FnMut(String)| match v {
        None => dflt,
        Some(s) => parse_mac(s.trim()).unwrap_or_else(|| {
            p(format!(
                "{field}: `{s}` is not a MAC address (like 02:cf:00:00:00:01)"
            ));
            dflt
        }),
    };
    let server_ip = ip(
        "lab.server_ip",
        &r.lab.server_ip,
        Ipv4Addr::new(192, 0, 2, 1),
        &mut p,
    );
    let client_ip = ip(
        "lab.client_ip",
        &r.lab.client_ip,
        Ipv4Addr::new(192, 0, 2, 2),
        &mut p,
    );
    let prefix_len = r.lab.prefix_len.unwrap_or(24);
    if !(1..=30).contains(&prefix_len) {
        p(format!(
            "lab.prefix_len: {prefix_len} is out of range (1 to 30)"
        ));
    }
    let server_mac = mac(
        "lab.server_mac",
        &r.lab.server_mac,
        [0x02, 0xcf, 0, 0, 0, 0x01],
        &mut p,
    );
    let client_mac = mac(
        "lab.client_mac",
        &r.lab.client_mac,
        [0x02, 0xcf, 0, 0, 0, 0x02],
        &mut p,
    );
    let default_port = match r.protocol {
        ProtocolKind::Dhcp => 67,
        ProtocolKind::Dns => 53,
    };
    let lab = LabSettings {
        server_ip,
        prefix_len: prefix_len.clamp(1, 30),
        client_ip,
        server_mac,
        client_mac,
        server_port: r.lab.server_port.unwrap_or(default_port),
        server_extra_ips: Vec::new(),
    };
    let mut lab = lab;
    for (i, s) in r.lab.server_extra_ips.iter().enumerate() {
        let field = format!("lab.server_extra_ips[{i}]");
        match s.trim().parse::<Ipv4Addr>() {
            Err(_) => p(format!("{field}: `{s}` is not an IPv4 address")),
            Ok(a) if a == server_ip || a == client_ip => p(format!(
                "{field}: {a} must differ from lab.server_ip and lab.client_ip"
            )),
            Ok(a) if lab.server_extra_ips.contains(&a) => {
                p(format!("{field}: {a} is listed twice"))
            }
            Ok(a) => lab.server_extra_ips.push(a),
        }
    }
    if lab.subnet() != Ipv4Addr::from(u32::from(client_ip) & u32::from(lab.netmask())) {
        p(format!(
            "lab.client_ip: {client_ip} is not in the server's subnet {}/{}",
            lab.subnet(),
            lab.prefix_len
        ));
    }
    if client_ip == server_ip {
        p("lab.client_ip: must differ from lab.server_ip".into());
    }
    if server_mac == client_mac {
        p("lab.client_mac: must differ from lab.server_mac".into());
    }

    if r.protocol == ProtocolKind::Dns && r.adapter != AdapterKind::Udp {
        p(format!(
            "adapter: `{}` is for DHCP; DNS profiles use `udp`",
            r.adapter.as_str()
        ));
    }

    if r.command.is_empty() || r.command[0].trim().is_empty() {
        p("command: must name the server program (argv list)".into());
    }

    let params: BTreeMap<String, String> = r.params.into_iter().map(|(k, v)| (k, v.0)).collect();
    for (k, v) in &params {
        if !k
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            || k.starts_with(|c: char| c.is_ascii_digit())
        {
            p(format!(
                "params.{k}: parameter names are lowercase letters, digits and `_`"
            ));
        }
        let derived = match k.as_str() {
            "server_ip" => Some(lab.server_ip.to_string()),
            "subnet_mask" | "netmask" => Some(lab.netmask().to_string()),
            "prefix_len" => Some(lab.prefix_len.to_string()),
            _ => None,
        };
        if let Some(d) = derived {
            if v.trim() != d {
                p(format!(
                    "params.{k}: `{v}` contradicts the lab section ({d})"
                ));
            }
        }
    }
    for k in ["pool_start", "pool_end", "router"] {
        if let Some(v) = params.get(k) {
            match v.trim().parse::<Ipv4Addr>() {
                Ok(a) if u32::from(a) & u32::from(lab.netmask()) != u32::from(lab.subnet()) => {
                    p(format!(
                        "params.{k}: {a} is not in the lab subnet {}/{}",
                        lab.subnet(),
                        lab.prefix_len
                    ))
                }
                Ok(_) => {}
                Err(_) => p(format!("params.{k}: `{v}` is not an IPv4 address")),
            }
        }
    }
    if let Some(v) = params.get("lease_time") {
        if v.trim().parse::<u32>().is_err() {
            p(format!(
                "params.lease_time: `{v}` is not a number of seconds"
            ));
        }
    }

    for name in r.files.keys() {
        let path = Path::new(name);
        if name.is_empty()
            || path.is_absolute()
            || path
                .components()
                .any(|c| !matches!(c, std::path::Component::Normal(_)))
        {
            p(format!("files.\"{name}\": file names are relative paths inside the run directory (no `..`, not absolute)"));
        }
    }

    let env: BTreeMap<String, String> = r.env.into_iter().map(|(k, v)| (k, v.0)).collect();

    let probe = match r.ready.probe {
        raw::Probe::DhcpOffer => {
            if r.protocol != ProtocolKind::Dhcp {
                p("ready.probe: dhcp_offer needs protocol dhcp".into());
            }
            Probe::DhcpOffer {
                interval: Duration::from_millis(20),
            }
        }
        raw::Probe::UdpPort(port) => {
            if port == 0 {
                p("ready.probe.udp_port: port 0 is not a port".into());
            }
            Probe::UdpPort(port)
        }
        raw::Probe::LogLine(l) => match Regex::new(&l.regex) {
            Ok(regex) => Probe::LogLine {
                regex,
                file: l.file,
            },
            Err(e) => {
                p(format!("ready.probe.log_line.regex: {e}"));
                Probe::Delay(Duration::ZERO)
            }
        },
        raw::Probe::DelayMs(ms) => Probe::Delay(Duration::from_millis(ms)),
    };
    let timeout_ms = r.ready.timeout_ms.unwrap_or(3000);
    if timeout_ms == 0 || timeout_ms > 600_000 {
        p(format!(
            "ready.timeout_ms: {timeout_ms} is out of range (1 to 600000)"
        ));
    }

    let signal_name = r.stop.signal.clone().unwrap_or_else(|| "TERM".into());
    let signal = conform_adapters::sys::signal_by_name(&signal_name).unwrap_or_else(|| {
        p(format!(
            "stop.signal: unknown signal `{signal_name}` (TERM, INT, HUP, QUIT, KILL, USR1, USR2)"
        ));
        15
    });
    let grace_ms = r.stop.grace_ms.unwrap_or(2000);
    if grace_ms > 60_000 {
        p(format!(
            "stop.grace_ms: {grace_ms} is out of range (0 to 60000)"
        ));
    }

    // Templates are checked against the placeholders a lab will provide, so a misspelt
    // placeholder is reported here, with its field, rather than by a server that will not start.
    let mut known: BTreeMap<String, String> = params.clone();
    for b in BUILTIN_PLACEHOLDERS {
        known.insert((*b).to_string(), String::new());
    }
    let mut check_tpl = |field: String, t: &str| {
        if let Err(e) = render(t, &known) {
            problems.push(format!("{field}: {e}"));
        }
    };
    for (k, t) in &r.files {
        check_tpl(format!("files.\"{k}\""), t);
    }
    for (i, a) in r.command.iter().enumerate() {
        check_tpl(format!("command[{i}]"), a);
    }
    for (i, a) in r.check.iter().enumerate() {
        check_tpl(format!("check[{i}]"), a);
    }
    for (k, t) in &env {
        check_tpl(format!("env.{k}"), t);
    }
    if let Some(pf) = &r.pidfile {
        check_tpl("pidfile".into(), pf);
    }
    if let Probe::LogLine { file: Some(f), .. } = &probe {
        check_tpl("ready.probe.log_line.file".into(), f);
    }

    if !problems.is_empty() {
        return Err(ProfileError::Invalid {
            origin: origin.to_string(),
            problems,
        });
    }
    Ok(Profile {
        name: r.name,
        protocol: r.protocol,
        description: r.description,
        packages: r.packages,
        adapter: r.adapter,
        lab,
        files: r.files,
        check: r.check,
        command: r.command,
        env,
        pidfile: r.pidfile,
        ready: Ready {
            probe,
            timeout: Duration::from_millis(timeout_ms),
        },
        stop: Stop {
            signal,
            signal_name,
            grace: Duration::from_millis(grace_ms),
        },
        params,
        deviations: r.deviations,
        exclusive_tags: r.exclusive_tags,
        notes: r.notes,
        origin: origin.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = "name: t\nprotocol: dhcp\nadapter: raw\ncommand: [sleep, '60']\nready:\n  probe: dhcp_offer\n";

    #[test]
    fn every_builtin_profile_loads() {
        for n in Profile::builtin_names() {
            let p = Profile::builtin(n)
                .unwrap()
                .unwrap_or_else(|e| panic!("{n}: {e}"));
            assert_eq!(p.name, n);
            if p.protocol == ProtocolKind::Dns {
                // The DNS profiles (unbound, nsd, knot, bind9, pdns, dnsmasq-dns).
                assert_eq!(p.adapter, AdapterKind::Udp);
                assert_eq!(p.lab.server_port, 53);
                assert!(matches!(p.ready.probe, Probe::UdpPort(53)));
                assert!(!p.packages.is_empty());
                continue;
            }
            assert_eq!(p.protocol, ProtocolKind::Dhcp);
            assert_eq!(p.adapter, AdapterKind::Raw);
            assert_eq!(p.params["pool_start"], "192.0.2.100");
            assert_eq!(p.params["pool_end"], "192.0.2.200");
            assert_eq!(p.params["router"], "192.0.2.1");
            assert_eq!(p.params["lease_time"], "3600");
            assert_eq!(p.lab.server_ip, Ipv4Addr::new(192, 0, 2, 1));
            assert!(matches!(p.ready.probe, Probe::DhcpOffer { .. }));
            assert!(!p.packages.is_empty());
        }
        assert!(Profile::builtin("nope").is_none());
    }

    #[test]
    fn builtin_files_match_the_repository_copies() {
        // include_str! embeds them at build time; this documents that resolve() prefers them.
        let p = Profile::resolve("kea").unwrap();
        assert_eq!(p.origin, "builtin:kea");
        assert_eq!(p.env["KEA_PIDFILE_DIR"], "{dir}");
        assert_eq!(p.pidfile.as_deref(), Some("{dir}/kea-dhcp4.kea-dhcp4.pid"));
    }

    #[test]
    fn signed_zone_copies_match_the_signed_files() {
        // Profiles embed their files, so the signed zones are inlined; ci/sign-zone.sh rewrites
        // the copies with the signed files. A copy edited by hand, or a re-signing without
        // the rewrite, would serve different RRSIGs from different servers.
        let signed = include_str!("../../profiles/zones/signed.test.zone.signed");
        let nsec3 = include_str!("../../profiles/zones/signed3.test.zone.signed");
        for n in ["nsd", "knot", "bind9", "pdns", "unbound"] {
            let p = Profile::builtin(n).unwrap().unwrap();
            assert_eq!(p.files["signed.test.zone"], signed, "{n}: signed.test.zone");
            assert_eq!(
                p.files["signed3.test.zone"], nsec3,
                "{n}: signed3.test.zone"
            );
            assert_eq!(p.params["signed_zone"], "signed.test.", "{n}");
            assert_eq!(p.params["nsec3_zone"], "signed3.test.", "{n}");
        }
        // The DNSKEY RRset of signed.test is over 512 bytes on its own (two 2048-bit RSA
        // keys: a 260-byte public key each, plus owner, header and 4 bytes of RDATA fields),
        // which T-03 and genreport edns@512 rely on; the public keys alone are over 512.
        let keys: usize = signed
            .lines()
            .filter(|l| l.contains(" IN DNSKEY "))
            .map(|l| l.split(' ').skip(7).collect::<String>().len() * 3 / 4)
            .sum();
        assert!(keys > 512, "DNSKEY RDATA {keys} bytes");
    }

    #[test]
    fn minimal_profile_gets_defaults() {
        let p = Profile::from_yaml_str(MINIMAL, "t").unwrap();
        assert_eq!(p.lab.prefix_len, 24);
        assert_eq!(p.lab.netmask(), Ipv4Addr::new(255, 255, 255, 0));
        assert_eq!(p.lab.subnet(), Ipv4Addr::new(192, 0, 2, 0));
        assert_eq!(p.lab.server_port, 67);
        assert_eq!(p.ready.timeout, Duration::from_millis(3000));
        assert_eq!(p.stop.signal, 15);
        assert_eq!(p.stop.grace, Duration::from_millis(2000));
    }

    #[test]
    fn server_extra_ips_are_parsed_and_checked() {
        let p = Profile::from_yaml_str(
            &format!("{MINIMAL}lab:\n  server_extra_ips: [192.0.2.3, 203.0.113.1]\n"),
            "t",
        )
        .unwrap();
        assert_eq!(
            p.lab.server_extra_ips,
            vec![Ipv4Addr::new(192, 0, 2, 3), Ipv4Addr::new(203, 0, 113, 1)]
        );
        assert!(Profile::from_yaml_str(MINIMAL, "t")
            .unwrap()
            .lab
            .server_extra_ips
            .is_empty());
        let e = Profile::from_yaml_str(
            &format!(
                "{MINIMAL}lab:\n  server_extra_ips: [192.0.2.1, nope, 192.0.2.9, 192.0.2.9]\n"
            ),
            "t",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("lab.server_extra_ips[0]: 192.0.2.1 must differ"),
            "{e}"
        );
        assert!(e.contains("lab.server_extra_ips[1]: `nope`"), "{e}");
        assert!(
            e.contains("lab.server_extra_ips[3]: 192.0.2.9 is listed twice"),
            "{e}"
        );
    }

    #[test]
    fn unknown_field_is_named() {
        let e = Profile::from_yaml_str(&format!("{MINIMAL}comand: [x]\n"), "t.yaml").unwrap_err();
        let s = e.to_string();
        assert!(s.contains("comand"), "{s}");
        assert!(s.contains("t.yaml"), "{s}");
    }

    #[test]
    fn missing_field_is_named() {
        let e = Profile::from_yaml_str(
            "name: t\nprotocol: dhcp\nadapter: raw\nready: {probe: dhcp_offer}\n",
            "t",
        )
        .unwrap_err();
        assert!(e.to_string().contains("command"), "{e}");
    }

    #[test]
    fn wrong_enum_value_is_named() {
        let e = Profile::from_yaml_str(&MINIMAL.replace("adapter: raw", "adapter: pcap"), "t")
            .unwrap_err();
        assert!(e.to_string().contains("pcap"), "{e}");
    }

    #[test]
    fn invalid_values_name_their_fields_all_at_once() {
        let y = format!(
            "{MINIMAL}lab:\n  server_ip: 999.1.1.1\n  client_mac: zz\nparams:\n  pool_start: 10.0.0.1\n  lease_time: soon\nstop:\n  signal: NOPE\nfiles:\n  ../x: hi\n  a.conf: \"{{pol_start}}\"\n"
        );
        let e = Profile::from_yaml_str(&y, "t").unwrap_err();
        let s = e.to_string();
        for needle in [
            "lab.server_ip",
            "lab.client_mac",
            "params.pool_start",
            "params.lease_time",
            "stop.signal",
            "files.\"../x\"",
            "files.\"a.conf\": unknown placeholder {pol_start}",
        ] {
            assert!(s.contains(needle), "missing `{needle}` in:\n{s}");
        }
    }

    #[test]
    fn probe_variants_parse() {
        let y = MINIMAL.replace(
            "probe: dhcp_offer",
            "probe: { udp_port: 53 }\n  timeout_ms: 500",
        );
        let p = Profile::from_yaml_str(&y, "t").unwrap();
        assert!(matches!(p.ready.probe, Probe::UdpPort(53)));
        assert_eq!(p.ready.timeout, Duration::from_millis(500));
        let y = MINIMAL.replace(
            "probe: dhcp_offer",
            "probe: { log_line: { regex: 'started .*', file: '{dir}/x.log' } }",
        );
        let p = Profile::from_yaml_str(&y, "t").unwrap();
        assert!(matches!(p.ready.probe, Probe::LogLine { .. }));
        let y = MINIMAL.replace("probe: dhcp_offer", "probe: { delay_ms: 100 }");
        let p = Profile::from_yaml_str(&y, "t").unwrap();
        assert!(matches!(p.ready.probe, Probe::Delay(d) if d == Duration::from_millis(100)));
        let y = MINIMAL.replace("probe: dhcp_offer", "probe: { log_line: { regex: '(' } }");
        assert!(Profile::from_yaml_str(&y, "t")
            .unwrap_err()
            .to_string()
            .contains("ready.probe.log_line.regex"));
    }

    #[test]
    fn contradicting_params_are_rejected() {
        let y = format!("{MINIMAL}params:\n  server_ip: 192.0.2.9\n");
        let s = Profile::from_yaml_str(&y, "t").unwrap_err().to_string();
        assert!(s.contains("params.server_ip"), "{s}");
    }

    #[test]
    fn dns_profiles_cannot_use_frame_adapters() {
        let y = MINIMAL
            .replace("protocol: dhcp", "protocol: dns")
            .replace("probe: dhcp_offer", "probe: { udp_port: 53 }");
        let s = Profile::from_yaml_str(&y, "t").unwrap_err().to_string();
        assert!(s.contains("adapter"), "{s}");
        let y = y.replace("adapter: raw", "adapter: udp");
        let p = Profile::from_yaml_str(&y, "t").unwrap();
        assert_eq!(p.lab.server_port, 53);
    }

    #[test]
    fn render_placeholders_and_literal_braces() {
        let mut v = BTreeMap::new();
        v.insert("dir".to_string(), "/tmp/x".to_string());
        v.insert("lease_time".to_string(), "3600".to_string());
        assert_eq!(
            render(
                "{ \"a\": {lease_time}, \"b\": \"{dir}/l\" } {{dir}} {} {9x}",
                &v
            )
            .unwrap(),
            "{ \"a\": 3600, \"b\": \"/tmp/x/l\" } {dir}} {} {9x}"
        );
        assert_eq!(
            render("{nope} {nope} {dir}", &v).unwrap_err(),
            "unknown placeholder {nope}"
        );
        assert_eq!(render("", &v).unwrap(), "");
        assert_eq!(render("{", &v).unwrap(), "{");
        assert_eq!(render("{dir", &v).unwrap(), "{dir");
    }

    #[test]
    fn mac_parsing() {
        assert_eq!(parse_mac("02:cf:00:00:00:0a"), Some([2, 0xcf, 0, 0, 0, 10]));
        assert_eq!(parse_mac("02:cf:00:00:00"), None);
        assert_eq!(parse_mac("02:cf:00:00:00:00:00"), None);
        assert_eq!(parse_mac("2:cf:00:00:00:00"), None);
        assert_eq!(format_mac([2, 0xcf, 0, 0, 0, 10]), "02:cf:00:00:00:0a");
    }

    #[test]
    fn resolve_unknown_lists_builtins() {
        let s = Profile::resolve("/nonexistent/profile.yaml")
            .unwrap_err()
            .to_string();
        assert!(s.contains("dnsmasq") && s.contains("udhcpd"), "{s}");
    }
}
