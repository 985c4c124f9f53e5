//! Targets: where a run's messages go. A lab built from a target profile (conform starts the
//! server in network namespaces), an existing interface, or a plain UDP address.

use conform_adapters::udp::UdpAdapter;
use conform_adapters::Adapter;
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
    let chosen = [spec.target.is_some(), spec.iface.is_some(), spec.udp.is_some()].iter().filter(|x| **x).count();
    if chosen != 1 {
        return Err(TargetError::Usage("give exactly one of --target NAME|FILE, --iface IF or --udp ADDR:PORT".into()));
    }
    if let Some(u) = &spec.udp {
        let server: SocketAddr = u.parse().map_err(|_| TargetError::Usage(format!("--udp `{u}` is not ADDR:PORT")))?;
        let local: SocketAddr = if server.is_ipv4() { "0.0.0.0:0".parse() } else { "[::]:0".parse() }
            .map_err(|_| TargetError::Harness("bad local address".into()))?;
        let a = UdpAdapter::bind(local, server).await.map_err(|e| TargetError::Harness(e.to_string()))?;
        return Ok(Target { name: format!("udp {server}"), adapter: Arc::new(a), params: HashMap::new(), deviations: HashMap::new(), lab: None });
    }
    let _ = protocol;
    Err(TargetError::Usage("--target and --iface need the lab, which is not built into this conform yet".into()))
}
