//! Raw Ethernet adapter: one AF_PACKET socket bound to one interface, for DHCP clients that
//! have no address yet (and any other UDP protocol whose lower layers a test wants to control).
//!
//! The socket is opened once per run (opening and closing one costs 8–24 ms of RCU grace
//! period, lab.md 1.3), made non-blocking and driven by tokio's `AsyncFd`. A classic BPF filter
//! lets only IPv4/UDP frames with the configured ports reach user space. The adapter never
//! delivers its own frames: `PACKET_IGNORE_OUTGOING` keeps them out in the kernel and a
//! `sll_pkttype != PACKET_OUTGOING` check keeps them out should the option be unavailable.
//! Frames addressed to other MACs (`PACKET_OTHERHOST`) are delivered: servers unicast to the
//! chaddr of a client whose MAC is not the interface's.

pub(crate) mod bpf;
pub mod frame;

use crate::adapter::{Adapter, AdapterError, Incoming};
use crate::sys;
use async_trait::async_trait;
use conform_codec::Datagram;
pub use frame::{FrameDefaults, BROADCAST_MAC};
use socket2::{Domain, Protocol, SockFilter, Socket, Type};
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::SystemTime;
use tokio::io::unix::AsyncFd;
use tokio::sync::broadcast;

/// `ETH_P_ALL`: the socket sees every EtherType (tagged frames included); the BPF filter narrows.
const ETH_P_ALL: u16 = 0x0003;
/// `ETH_P_IP`, the EtherType of the frames this adapter sends.
const ETH_P_IP: u16 = 0x0800;
/// Receive buffer: larger than any frame on a 1500-byte MTU link, with room for jumbo frames.
const RECV_BUF: usize = 65_536;
/// Capacity of the broadcast channel to subscribers; a subscriber that lags further loses the
/// oldest datagrams (and sees `RecvError::Lagged`).
const CHANNEL_CAPACITY: usize = 4096;

/// What a frame-level adapter lets through and how it fills in outgoing frames.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawConfig {
    /// UDP ports (source or destination) delivered to subscribers; empty = all UDP.
    pub ports: Vec<u16>,
    /// Lower-layer values for fields a datagram's meta leaves open.
    pub defaults: FrameDefaults,
    /// Source MAC when the meta names none; `None` = the interface's own address.
    pub src_mac: Option<[u8; 6]>,
}

impl RawConfig {
    /// A DHCPv4 client: ports 67 and 68, `0.0.0.0:68 → 255.255.255.255:67`, Ethernet broadcast.
    pub fn dhcp_client() -> Self {
        RawConfig {
            ports: vec![67, 68],
            defaults: FrameDefaults::dhcp_client(),
            src_mac: None,
        }
    }

    /// Any UDP protocol: deliver frames with one of `ports`, send with `defaults`.
    pub fn udp(ports: Vec<u16>, defaults: FrameDefaults) -> Self {
        RawConfig {
            ports,
            defaults,
            src_mac: None,
        }
    }
}

/// Counters of what the receive loop saw, for diagnostics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RawStats {
    /// Datagrams delivered to subscribers.
    pub delivered: u64,
    /// Frames that passed the kernel filter but did not parse as IPv4/UDP (or had other ports).
    pub unparsed: u64,
    /// Own outgoing frames seen despite `PACKET_IGNORE_OUTGOING` (and dropped).
    pub outgoing: u64,
    /// Frames larger than the receive buffer (dropped).
    pub truncated: u64,
    /// Receive errors.
    pub errors: u64,
}

/// Receive counters shared by the frame-level adapters (raw and tap).
#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) delivered: AtomicU64,
    pub(crate) unparsed: AtomicU64,
    pub(crate) outgoing: AtomicU64,
    pub(crate) truncated: AtomicU64,
    pub(crate) errors: AtomicU64,
}

/// A raw AF_PACKET adapter bound to one interface. See the module documentation.
///
/// Invariants: the socket lives in the namespace it was opened in for its whole life, even
/// though the process stays in its own; subscribers never see frames this host sent.
pub struct RawAdapter {
    fd: Arc<AsyncFd<Socket>>,
    ifname: String,
    ifindex: u32,
    netns: Option<String>,
    mac: [u8; 6],
    cfg: RawConfig,
    tx: broadcast::Sender<Incoming>,
    counters: Arc<Counters>,
    reader: tokio::task::JoinHandle<()>,
}

/// Maps an OS error to the adapter's error kinds: missing privilege and missing interface get
/// their own variants so the CLI can explain them.
pub(crate) fn os_error(what: String, e: io::Error, ifname: &str) -> AdapterError {
    match e.raw_os_error() {
        Some(libc::EPERM) | Some(libc::EACCES) => AdapterError::Privilege(format!("{what}: {e}")),
        Some(libc::ENODEV) | Some(libc::ENXIO) => AdapterError::NoSuchInterface(ifname.to_string()),
        _ if e.kind() == io::ErrorKind::NotFound && what.contains("interface") => {
            AdapterError::NoSuchInterface(ifname.to_string())
        }
        _ => AdapterError::Io { what, source: e },
    }
}

/// Runs `f` in `netns` (or here) on a helper thread, mapping a failure to enter the namespace.
pub(crate) async fn in_netns<T, F>(netns: Option<&str>, f: F) -> Result<T, AdapterError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, AdapterError> + Send + 'static,
{
    let r = sys::run_in_netns(netns, move || Ok(f())).await;
    match r {
        Ok(inner) => inner,
        Err(e) => {
            let what = format!("enter network namespace `{}`", netns.unwrap_or("?"));
            Err(match e.raw_os_error() {
                Some(libc::EPERM) | Some(libc::EACCES) => {
                    AdapterError::Privilege(format!("{what}: {e}"))
                }
                _ => AdapterError::Io { what, source: e },
            })
        }
    }
}

struct Opened {
    sock: Socket,
    ifindex: u32,
    mac: [u8; 6],
}

/// Creates, filters and binds the packet socket in the calling thread's namespace.
fn open_socket(ifname: &str, ports: &[u16]) -> Result<Opened, AdapterError> {
    let ifindex = sys::if_index(ifname).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => AdapterError::NoSuchInterface(ifname.to_string()),
        _ => AdapterError::Io {
            what: format!("look up interface `{ifname}`"),
            source: e,
        },
    })?;
    // Protocol 0: the socket receives nothing until bind(), so no unfiltered frame can be
    // queued before the filter is attached.
    let sock = Socket::new(Domain::PACKET, Type::RAW, Some(Protocol::from(0)))
        .map_err(|e| os_error("open AF_PACKET socket".into(), e, ifname))?;
    let prog = bpf::udp_ports_filter(ports).map_err(AdapterError::Other)?;
    let filters: Vec<SockFilter> = prog
        .iter()
        .map(|i| SockFilter::new(i.code, i.jt, i.jf, i.k))
        .collect();
    sock.attach_filter(&filters)
        .map_err(|e| os_error("attach BPF filter".into(), e, ifname))?;
    // Older kernels (< 4.20) lack the option; the pkttype check in the reader still applies.
    let _ = sys::set_ignore_outgoing(&sock);
    sys::set_auxdata(&sock).map_err(|e| os_error("enable PACKET_AUXDATA".into(), e, ifname))?;
    sys::bind_packet(&sock, ifindex, ETH_P_ALL).map_err(|e| {
        os_error(
            format!("bind packet socket to interface `{ifname}`"),
            e,
            ifname,
        )
    })?;
    sock.set_nonblocking(true)
        .map_err(|e| os_error("make packet socket non-blocking".into(), e, ifname))?;
    let mac = sys::hw_addr(&sock, ifname)
        .map_err(|e| os_error(format!("read MAC of interface `{ifname}`"), e, ifname))?;
    Ok(Opened { sock, ifindex, mac })
}

impl RawAdapter {
    /// Opens the adapter on interface `ifname` of the current network namespace.
    /// Must be called inside a tokio runtime.
    pub async fn open(ifname: &str, cfg: RawConfig) -> Result<Self, AdapterError> {
        Self::open_impl(None, ifname, cfg).await
    }

    /// Opens the adapter on interface `ifname` of the named network namespace
    /// (`/var/run/netns/NAME`, as made by `ip netns add`). The process stays in its own
    /// namespace: only a short-lived helper thread enters `netns` to create the socket.
    pub async fn open_in_netns(
        netns: &str,
        ifname: &str,
        cfg: RawConfig,
    ) -> Result<Self, AdapterError> {
        Self::open_impl(Some(netns), ifname, cfg).await
    }

    async fn open_impl(
        netns: Option<&str>,
        ifname: &str,
        cfg: RawConfig,
    ) -> Result<Self, AdapterError> {
        let name = ifname.to_string();
        let ports = cfg.ports.clone();
        let opened = in_netns(netns, move || open_socket(&name, &ports)).await?;
        let fd = Arc::new(
            sys::async_socket(opened.sock).map_err(|e| AdapterError::Io {
                what: "register packet socket with the tokio reactor".into(),
                source: e,
            })?,
        );
        let (tx, _) = broadcast::channel(CHANNEL_CAPACITY);
        let counters = Arc::new(Counters::default());
        let reader = tokio::spawn(receive_loop(
            fd.clone(),
            tx.clone(),
            counters.clone(),
            cfg.ports.clone(),
        ));
        Ok(RawAdapter {
            fd,
            ifname: ifname.to_string(),
            ifindex: opened.ifindex,
            netns: netns.map(str::to_owned),
            mac: cfg.src_mac.unwrap_or(opened.mac),
            cfg,
            tx,
            counters,
            reader,
        })
    }

    /// The source MAC used when a datagram names none.
    pub fn mac(&self) -> [u8; 6] {
        self.mac
    }

    /// The interface this adapter is bound to.
    pub fn ifname(&self) -> &str {
        &self.ifname
    }

    /// What the receive loop has seen so far.
    pub fn stats(&self) -> RawStats {
        self.counters.snapshot()
    }
}

impl Counters {
    pub(crate) fn snapshot(&self) -> RawStats {
        let c = self;
        RawStats {
            delivered: c.delivered.load(Ordering::Relaxed),
            unparsed: c.unparsed.load(Ordering::Relaxed),
            outgoing: c.outgoing.load(Ordering::Relaxed),
            truncated: c.truncated.load(Ordering::Relaxed),
            errors: c.errors.load(Ordering::Relaxed),
        }
    }
}

/// Reads frames until the socket fails for good or the task is aborted, and broadcasts the
/// parsed datagrams.
async fn receive_loop(
    fd: Arc<AsyncFd<Socket>>,
    tx: broadcast::Sender<Incoming>,
    counters: Arc<Counters>,
    ports: Vec<u16>,
) {
    let mut buf = vec![0u8; RECV_BUF];
    let mut seq = 0u64;
    let mut consecutive_errors = 0u32;
    loop {
        let Ok(mut guard) = fd.readable().await else {
            break;
        };
        let info = match guard.try_io(|s| sys::recv_ll(s.get_ref(), &mut buf)) {
            Err(_would_block) => continue,
            Ok(Ok(info)) => info,
            Ok(Err(e)) if e.kind() == io::ErrorKind::Interrupted => continue,
            Ok(Err(_)) => {
                // ENETDOWN is reported once when the interface goes away (namespace deleted);
                // a socket that keeps failing is given up rather than spun on.
                counters.errors.fetch_add(1, Ordering::Relaxed);
                consecutive_errors += 1;
                if consecutive_errors > 100 {
                    break;
                }
                continue;
            }
        };
        consecutive_errors = 0;
        if info.pkttype == sys::PACKET_OUTGOING {
            counters.outgoing.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        if info.len > buf.len() {
            counters.truncated.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        deliver(
            &buf[..info.len],
            info.csum_not_ready,
            &ports,
            &tx,
            &counters,
            &mut seq,
        );
    }
}

/// Parses one frame and hands it to subscribers if it belongs to the protocol.
pub(crate) fn deliver(
    frame: &[u8],
    csum_not_ready: bool,
    ports: &[u16],
    tx: &broadcast::Sender<Incoming>,
    counters: &Counters,
    seq: &mut u64,
) {
    let wanted = |d: &Datagram| {
        ports.is_empty()
            || d.meta.src_port.is_some_and(|p| ports.contains(&p))
            || d.meta.dst_port.is_some_and(|p| ports.contains(&p))
    };
    match frame::parse_frame(frame, csum_not_ready) {
        Some(datagram) if wanted(&datagram) => {
            counters.delivered.fetch_add(1, Ordering::Relaxed);
            // No subscriber is not an error: nobody is listening right now.
            let _ = tx.send(Incoming {
                datagram,
                at: SystemTime::now(),
                seq: *seq,
            });
            *seq += 1;
        }
        _ => {
            counters.unparsed.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl Drop for RawAdapter {
    fn drop(&mut self) {
        // The reader holds a clone of the socket; aborting it lets the fd close.
        self.reader.abort();
    }
}

#[async_trait]
impl Adapter for RawAdapter {
    async fn send(&self, d: &Datagram) -> Result<(), AdapterError> {
        let frame =
            frame::build_frame(d, self.mac, &self.cfg.defaults).map_err(AdapterError::Other)?;
        loop {
            let mut guard = self.fd.writable().await.map_err(|e| AdapterError::Io {
                what: "wait for packet socket to be writable".into(),
                source: e,
            })?;
            match guard.try_io(|s| sys::send_ll(s.get_ref(), self.ifindex, ETH_P_IP, &frame)) {
                Err(_would_block) => continue,
                Ok(Ok(_)) => return Ok(()),
                Ok(Err(e)) if e.kind() == io::ErrorKind::Interrupted => continue,
                Ok(Err(e)) => {
                    return Err(os_error(
                        format!("send frame on interface `{}`", self.ifname),
                        e,
                        &self.ifname,
                    ))
                }
            }
        }
    }

    fn subscribe(&self) -> broadcast::Receiver<Incoming> {
        self.tx.subscribe()
    }

    fn describe(&self) -> String {
        crate::adapter::describe_l2("raw", &self.ifname, self.netns.as_deref(), self.mac)
    }
}
