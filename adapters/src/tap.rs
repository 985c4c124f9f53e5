//! TAP adapter: conform *is* the host behind a TAP device, reading and writing whole Ethernet
//! frames through `/dev/net/tun` (`IFF_TAP | IFF_NO_PI`). In the lab the tap is bridged with the
//! client end of the veth (lab.md 2.3), so the server sits on the other side of the bridge.
//!
//! Framing is the raw adapter's ([`crate::raw::frame`]). Unlike a packet socket there is no
//! kernel filter: every frame the bridge forwards to the tap is read and filtered here by UDP
//! port. Frames conform writes go into the kernel, never back to this fd, so own frames are
//! never delivered. A tap is where user-space fault injection (drop, delay, duplicate) can
//! live later; the kernel in CI has no netem (lab.md 1.1).

use crate::adapter::{Adapter, AdapterError, Incoming};
use crate::raw::{deliver, frame, in_netns, os_error, Counters, RawConfig, RawStats};
use crate::sys;
use async_trait::async_trait;
use conform_codec::Datagram;
use std::fs::File;
use std::io::{self, Read, Write};
use std::sync::Arc;
use tokio::io::unix::AsyncFd;
use tokio::sync::broadcast;

/// The source MAC of frames conform writes into a tap when neither the datagram nor the
/// config names one. It must differ from the tap's own (kernel-side) MAC: a bridge drops frames
/// whose source is one of its own port addresses.
pub const DEFAULT_TAP_MAC: [u8; 6] = [0x02, 0xcf, 0x7a, 0x90, 0x00, 0x01];

/// A TAP-device adapter. See the module documentation.
pub struct TapAdapter {
    fd: Arc<AsyncFd<File>>,
    name: String,
    netns: Option<String>,
    mac: [u8; 6],
    cfg: RawConfig,
    tx: broadcast::Sender<Incoming>,
    counters: Arc<Counters>,
    reader: tokio::task::JoinHandle<()>,
}

/// Attaches to the existing tap `name` in the calling thread's namespace.
fn attach(name: &str) -> Result<File, AdapterError> {
    // TUNSETIFF would silently create a new, unbridged tap if `name` did not exist: check first.
    sys::if_index(name).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => AdapterError::NoSuchInterface(name.to_string()),
        _ => AdapterError::Io {
            what: format!("look up interface `{name}`"),
            source: e,
        },
    })?;
    let fd = sys::open_tap(name).map_err(|e| match e.raw_os_error() {
        Some(libc::EBUSY) => AdapterError::Other(format!(
            "failed to attach to tap `{name}`: another process is attached to it"
        )),
        Some(libc::EINVAL) => AdapterError::Other(format!(
            "failed to attach to `{name}`: it exists but is not a tap device"
        )),
        _ => os_error(format!("attach to tap `{name}`"), e, name),
    })?;
    Ok(File::from(fd))
}

impl TapAdapter {
    /// Attaches to tap `name` in the current network namespace.
    pub async fn open(name: &str, cfg: RawConfig) -> Result<Self, AdapterError> {
        Self::open_impl(None, name, cfg).await
    }

    /// Attaches to tap `name` in network namespace `netns` (TUNSETIFF looks the device up in
    /// the namespace of the opener, lab.md 2.5). The process stays in its own namespace.
    pub async fn open_in_netns(
        netns: &str,
        name: &str,
        cfg: RawConfig,
    ) -> Result<Self, AdapterError> {
        Self::open_impl(Some(netns), name, cfg).await
    }

    async fn open_impl(
        netns: Option<&str>,
        name: &str,
        cfg: RawConfig,
    ) -> Result<Self, AdapterError> {
        let n = name.to_string();
        let file = in_netns(netns, move || attach(&n)).await?;
        let fd = Arc::new(sys::async_file(file).map_err(|e| AdapterError::Io {
            what: "register tap fd with the tokio reactor".into(),
            source: e,
        })?);
        let (tx, _) = broadcast::channel(4096);
        let counters = Arc::new(Counters::default());
        let reader = tokio::spawn(receive_loop(
            fd.clone(),
            tx.clone(),
            counters.clone(),
            cfg.ports.clone(),
        ));
        Ok(TapAdapter {
            fd,
            name: name.to_string(),
            netns: netns.map(str::to_owned),
            mac: cfg.src_mac.unwrap_or(DEFAULT_TAP_MAC),
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

    /// What the receive loop has seen so far.
    pub fn stats(&self) -> RawStats {
        self.counters.snapshot()
    }
}

async fn receive_loop(
    fd: Arc<AsyncFd<File>>,
    tx: broadcast::Sender<Incoming>,
    counters: Arc<Counters>,
    ports: Vec<u16>,
) {
    // One read returns exactly one frame; a frame larger than the buffer is cut (and dropped).
    let mut buf = vec![0u8; 65_536];
    let mut seq = 0u64;
    let mut consecutive_errors = 0u32;
    loop {
        let Ok(mut guard) = fd.readable().await else {
            break;
        };
        let n = match guard.try_io(|f| (&mut f.get_ref()).read(&mut buf)) {
            Err(_would_block) => continue,
            Ok(Ok(0)) => break,
            Ok(Ok(n)) => n,
            Ok(Err(e)) if e.kind() == io::ErrorKind::Interrupted => continue,
            Ok(Err(_)) => {
                // EIO while the tap is down or being deleted; give up if it persists.
                counters
                    .errors
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                consecutive_errors += 1;
                if consecutive_errors > 100 {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(1)).await;
                continue;
            }
        };
        consecutive_errors = 0;
        // Taps have no checksum offload unless asked (TUNSETOFFLOAD), so the kernel finished
        // every checksum before handing the frame over.
        deliver(&buf[..n], false, &ports, &tx, &counters, &mut seq);
    }
}

impl Drop for TapAdapter {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

#[async_trait]
impl Adapter for TapAdapter {
    async fn send(&self, d: &Datagram) -> Result<(), AdapterError> {
        let frame =
            frame::build_frame(d, self.mac, &self.cfg.defaults).map_err(AdapterError::Other)?;
        loop {
            let mut guard = self.fd.writable().await.map_err(|e| AdapterError::Io {
                what: "wait for tap to be writable".into(),
                source: e,
            })?;
            match guard.try_io(|f| (&mut f.get_ref()).write(&frame)) {
                Err(_would_block) => continue,
                Ok(Ok(_)) => return Ok(()),
                Ok(Err(e)) if e.kind() == io::ErrorKind::Interrupted => continue,
                Ok(Err(e)) => {
                    return Err(os_error(
                        format!("write frame to tap `{}`", self.name),
                        e,
                        &self.name,
                    ))
                }
            }
        }
    }

    fn subscribe(&self) -> broadcast::Receiver<Incoming> {
        self.tx.subscribe()
    }

    fn describe(&self) -> String {
        crate::adapter::describe_l2("tap", &self.name, self.netns.as_deref(), self.mac)
    }
}
