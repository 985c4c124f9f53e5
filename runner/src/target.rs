//! Targets: where a run's messages go. A lab built from a target profile (conform starts the
//! server in network namespaces), an existing interface, or a plain UDP address.

use conform_adapters::raw::{RawAdapter, RawConfig};
use conform_adapters::tcp::DnsAdapter;
use conform_adapters::udp::UdpAdapter;
use conform_adapters::Adapter;
use conform_lab::{AdapterKind, Lab, LabOptions, Profile, ProtocolKind};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

/// What the command line asked for.
#[derive(Clone, Debug, Default)]
pub struct TargetSpec {
    pub target: Option<String>,
    pub iface: Option<String>,
    pub udp: Option<String>,
    /// Override the profile's adapter.
    pub adapter: Option<String>,
    pub out: PathBuf,
}

#[derive(Debug)]
pub enum TargetError {
    /// Exit 2: the command line is wrong.
    Usage(String),
    /// Exit 3: the harness could not set the target up.
    Harness(String),
}

/// A running target. `shutdown` tears down whatever conform created.
pub struct Target {
    pub name: String,
    pub adapter: Arc<dyn Adapter>,
    /// Module parameter values from the profile (text, parsed per suite parameter type).
    pub params: HashMap<String, String>,
    /// Known deviations of this server: case id → reason.
    pub deviations: HashMap<String, String>,
    /// Cases with any of these tags run alone against this target (the profile's
    /// `exclusive_tags`).
    pub exclusive_tags: Vec<String>,
    lab: Option<Box<dyn LabHandle>>,
}

/// Teardown of a lab, implemented by the lab crate's handle.
#[async_trait::async_trait]
pub trait LabHandle: Send + Sync {
    async fn shutdown(self: Box<Self>);
}

impl Target {
    pub async fn shutdown(self) {
        if let Some(l) = self.lab {
            l.shutdown().await;
        }
    }
}

/// Sets the target up.
pub async fn start(spec: &TargetSpec, protocol: &str) -> Result<Target, TargetError> {
    if let Some(file) = spec
        .adapter
        .as_deref()
        .and_then(|a| a.strip_prefix("pcap:"))
    {
        return start_pcap(spec, file, protocol);
    }
    if spec.udp.is_some() && (spec.target.is_some() || spec.iface.is_some()) {
        return Err(TargetError::Usage(
            "--udp cannot be combined with --target or --iface".into(),
        ));
    }
    if let Some(u) = &spec.udp {
        let server: SocketAddr = u
            .parse()
            .map_err(|_| TargetError::Usage(format!("--udp `{u}` is not ADDR:PORT")))?;
        let local: SocketAddr = if server.is_ipv4() {
            "0.0.0.0:0".parse()
        } else {
            "[::]:0".parse()
        }
        .map_err(|_| TargetError::Harness("bad local address".into()))?;
        let a = UdpAdapter::bind(local, server)
            .await
            .map_err(|e| TargetError::Harness(e.to_string()))?;
        let adapter: Arc<dyn Adapter> = if protocol == "dns" {
            // DNS: UDP plus TCP to the same address (templates choose per message).
            Arc::new(DnsAdapter::new(
                Arc::new(a),
                None,
                server,
                spec.adapter.as_deref() == Some("tcp"),
            ))
        } else {
            Arc::new(a)
        };
        return Ok(Target {
            name: format!("udp {server}"),
            adapter,
            params: HashMap::new(),
            deviations: HashMap::new(),
            exclusive_tags: vec![],
            lab: None,
        });
    }
    // `--adapter tcp` (DNS only): the lab keeps its UDP adapter and DNS goes over TCP by default.
    let dns_tcp = spec.adapter.as_deref() == Some("tcp");
    if dns_tcp && protocol != "dns" {
        return Err(TargetError::Usage("--adapter tcp is for DNS suites".into()));
    }
    let adapter_kind = match spec.adapter.as_deref() {
        None | Some("tcp") => None,
        Some(a) => Some(parse_adapter(a)?),
    };
    match (&spec.target, &spec.iface) {
        (None, None) => Err(TargetError::Usage(
            "no target: give --target NAME|FILE (conform starts the server in a lab), --iface IF (a server already running behind IF) or --udp ADDR:PORT".into(),
        )),
        (None, Some(iface)) => {
            if protocol != "dhcp" {
                return Err(TargetError::Usage("--iface without --target is for DHCP; use --udp for DNS".into()));
            }
            let a = RawAdapter::open(iface, RawConfig::dhcp_client()).await.map_err(|e| TargetError::Harness(e.to_string()))?;
            Ok(Target { name: format!("iface {iface}"), adapter: Arc::new(a), params: HashMap::new(), deviations: HashMap::new(), exclusive_tags: vec![], lab: None })
        }
        (Some(t), iface) => {
            let profile = Profile::resolve(t).map_err(|e| TargetError::Usage(e.to_string()))?;
            let serves = match profile.protocol {
                ProtocolKind::Dhcp => "dhcp",
                ProtocolKind::Dns => "dns",
            };
            if serves != protocol {
                return Err(TargetError::Usage(format!(
                    "target `{}` serves {serves}, but the suites are {protocol}",
                    profile.name
                )));
            }
            let name = profile.name.clone();
            let deviations: HashMap<String, String> = profile.deviations.clone().into_iter().collect();
            let exclusive_tags = profile.exclusive_tags.clone();
            let stamp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0);
            let opts = LabOptions { run_dir: Some(spec.out.join(format!("{name}-{stamp}"))), adapter: adapter_kind, ready_timeout: None };
            let lab = match iface {
                Some(i) => Lab::attach(profile, i, opts).await,
                None => Lab::start(profile, opts).await,
            }
            .map_err(|e| TargetError::Harness(e.to_string()))?;
            eprintln!("conform: lab for `{name}` up (server log: {})", lab.log_path().display());
            let params: HashMap<String, String> = lab.params().clone().into_iter().collect();
            let mut adapter = lab.adapter();
            if serves == "dns" {
                // DNS: the lab's UDP adapter plus TCP from the client namespace to the server.
                let l = &lab.profile().lab;
                let server = SocketAddr::new(l.server_ip.into(), l.server_port);
                let ns = if iface.is_some() { None } else { Some(lab.names().client_ns.clone()) };
                adapter = Arc::new(DnsAdapter::new(adapter, ns.as_deref(), server, dns_tcp));
            }
            Ok(Target { name, adapter, params, deviations, exclusive_tags, lab: Some(Box::new(LabBox(lab))) })
        }
    }
}

/// `--adapter pcap:FILE`: an offline target whose captured server replies answer the run's
/// requests (no lab, no server; parameters from suite defaults or `--param`).
fn start_pcap(spec: &TargetSpec, file: &str, protocol: &str) -> Result<Target, TargetError> {
    if spec.target.is_some() || spec.iface.is_some() || spec.udp.is_some() {
        return Err(TargetError::Usage(
            "--adapter pcap:FILE is a target of its own: drop --target, --iface and --udp".into(),
        ));
    }
    if file.is_empty() {
        return Err(TargetError::Usage(
            "--adapter pcap:FILE needs a capture file".into(),
        ));
    }
    let a = conform_adapters::pcap_replay::PcapAdapter::open(std::path::Path::new(file), protocol)
        .map_err(|e| TargetError::Usage(e.to_string()))?;
    Ok(Target {
        name: format!("pcap {file}"),
        adapter: Arc::new(a),
        params: HashMap::new(),
        deviations: HashMap::new(),
        exclusive_tags: vec![],
        lab: None,
    })
}

fn parse_adapter(a: &str) -> Result<AdapterKind, TargetError> {
    Ok(match a {
        "raw" => AdapterKind::Raw,
        "relay" => AdapterKind::Relay,
        "tap" => AdapterKind::Tap,
        "udp" => AdapterKind::Udp,
        other => {
            return Err(TargetError::Usage(format!(
                "unknown adapter `{other}`: raw, relay, tap, udp, pcap:FILE (or tcp for DNS)"
            )))
        }
    })
}

struct LabBox(Lab);

#[async_trait::async_trait]
impl LabHandle for LabBox {
    async fn shutdown(self: Box<Self>) {
        self.0.shutdown().await;
    }
}

/// Removes every lab this process created: for Ctrl-C and fatal paths.
pub fn cleanup_all() -> usize {
    conform_lab::cleanup_all()
}
