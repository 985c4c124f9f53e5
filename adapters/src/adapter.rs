use async_trait::async_trait;
use conform_codec::Datagram;
use std::time::SystemTime;
use tokio::sync::broadcast;

/// A datagram that arrived from the server, stamped on arrival.
#[derive(Clone, Debug)]
pub struct Incoming {
    pub datagram: Datagram,
    /// Wall-clock arrival time (for pcapng and reports).
    pub at: SystemTime,
    /// Monotonic sequence number per adapter, so reports can order arrivals exactly.
    pub seq: u64,
}

/// Why an adapter could not do its job. These are harness faults: they give the `error`
/// verdict, never `fail`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AdapterError {
    #[error("no such interface `{0}`")]
    NoSuchInterface(String),
    #[error("missing privilege: {0} (run as root or grant CAP_NET_RAW/CAP_NET_ADMIN)")]
    Privilege(String),
    #[error("failed to {what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Other(String),
}

/// The port between test components and the system under test.
///
/// Invariants: `subscribe` receivers see every datagram that arrives after the call, in arrival
/// order, and never see the adapter's own outgoing datagrams.
#[async_trait]
pub trait Adapter: Send + Sync {
    /// Transmits one datagram. The adapter fills in lower layers the datagram's `meta` leaves
    /// open (source MAC, IP header, UDP ports).
    async fn send(&self, d: &Datagram) -> Result<(), AdapterError>;

    /// Sends `d` at once when that needs no waiting, with the same effect and errors as
    /// [`Adapter::send`]; `None` when the adapter cannot tell without waiting (a stream, a full
    /// socket buffer, an adapter without this path), and the caller then awaits `send`. Why:
    /// `send` is a boxed future per call (two for a wrapping adapter), on every case's path,
    /// where a datagram socket's send never waits in practice. Invariant: `Some` means the
    /// datagram was handed to the kernel (or the error `send` would give), never both paths.
    fn try_send(&self, _d: &Datagram) -> Option<Result<(), AdapterError>> {
        None
    }

    /// A new receiver of everything that arrives from now on.
    fn subscribe(&self) -> broadcast::Receiver<Incoming>;

    /// One line for logs: `raw cf-1234-c0`, `udp 127.0.0.1:5353`.
    fn describe(&self) -> String;

    /// The sender behind `subscribe`, for adapters that let a wrapper deliver into the same
    /// channel (DNS over UDP and TCP share one stream of arrivals without a forwarding task,
    /// which would cost a cross-thread wake-up per message).
    fn incoming_sender(&self) -> Option<broadcast::Sender<Incoming>> {
        None
    }

    /// Moves what has already arrived, without waiting, into the `subscribe` channel, and
    /// tells whether there was anything. A receiver about to wait calls it first: an answer
    /// that came while it was busy then reaches it without the adapter's reader task being
    /// woken through the reactor. Never required for correctness (the reader task delivers
    /// everything anyway); order and `seq` stay as the invariant above says. The default
    /// does nothing (adapters whose arrivals come from a task only).
    fn take_waiting(&self) -> bool {
        false
    }
}

/// One line naming a layer-2 port for logs and reports: `raw cf1-0c0 in netns cf1-0c
/// (02:cf:00:00:00:02)`. Shared by the raw and tap adapters.
pub(crate) fn describe_l2(kind: &str, name: &str, netns: Option<&str>, mac: [u8; 6]) -> String {
    let ns = netns.map(|n| format!(" in netns {n}")).unwrap_or_default();
    let m = mac;
    format!(
        "{kind} {name}{ns} ({:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x})",
        m[0], m[1], m[2], m[3], m[4], m[5]
    )
}
