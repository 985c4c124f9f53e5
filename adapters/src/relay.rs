//! DHCP relay-agent adapter: a plain UDP socket bound to `<relay address>:67` that sends to the
//! server's `address:67`, the way a relay agent (RFC 2131 §4.1, RFC 1542) forwards client
//! messages. The suite sets `giaddr` in the payload (this adapter never edits payloads); the
//! server answers to `giaddr:67`, which is this socket.
//!
//! Needs no raw-socket privilege, only an address to bind: in the lab the client-side veth gets
//! the relay address (for example 192.0.2.2/24). Binding port 67 needs
//! `CAP_NET_BIND_SERVICE` (root in the lab).
//!
//! The same type, opened with [`RelayAdapter::udp_in_netns`], is the lab's plain UDP adapter
//! (DNS): `conform_adapters::udp::UdpAdapter` can only bind in the process's own namespace.

use crate::adapter::{Adapter, AdapterError, Incoming};
use crate::raw::in_netns;
use crate::udp::UdpIo;
use async_trait::async_trait;
use conform_codec::{Datagram, Meta};
use std::io;
use std::net::{IpAddr, SocketAddr};
use tokio::sync::broadcast;

/// A UDP socket in a chosen network namespace, bound to a local address and sending to a fixed
/// server unless a datagram's meta names another unicast destination.
///
/// Invariant: subscribers see only datagrams received on this socket (never its own sends).
pub struct RelayAdapter {
    io: UdpIo,
    server: SocketAddr,
    netns: Option<String>,
    label: &'static str,
}

fn bind_std(local: SocketAddr, netns: Option<&str>) -> Result<std::net::UdpSocket, AdapterError> {
    let where_ = netns
        .map(|n| format!(" in network namespace `{n}`"))
        .unwrap_or_default();
    let s = std::net::UdpSocket::bind(local).map_err(|e| match e.raw_os_error() {
        Some(libc::EACCES) | Some(libc::EPERM) => {
            AdapterError::Privilege(format!("bind UDP {local}{where_}: {e}"))
        }
        Some(libc::EADDRNOTAVAIL) => AdapterError::Other(format!(
            "failed to bind UDP {local}{where_}: address {} is not configured on any interface \
             there (give the client-side interface this address for relay mode)",
            local.ip()
        )),
        _ => AdapterError::Io {
            what: format!("bind UDP {local}{where_}"),
            source: e,
        },
    })?;
    let io_err = |what: &str, e: io::Error| AdapterError::Io {
        what: what.into(),
        source: e,
    };
    s.set_broadcast(true)
        .map_err(|e| io_err("enable SO_BROADCAST", e))?;
    s.set_nonblocking(true)
        .map_err(|e| io_err("make UDP socket non-blocking", e))?;
    Ok(s)
}

impl RelayAdapter {
    /// A relay agent at `local` (normally `<relay ip>:67`) in the current namespace.
    pub async fn bind(local: SocketAddr, server: SocketAddr) -> Result<Self, AdapterError> {
        Self::open(None, local, server, "relay").await
    }

    /// A relay agent at `local` inside network namespace `netns`. The process stays in its own
    /// namespace; the socket lives in `netns`.
    pub async fn open_in_netns(
        netns: &str,
        local: SocketAddr,
        server: SocketAddr,
    ) -> Result<Self, AdapterError> {
        Self::open(Some(netns), local, server, "relay").await
    }

    /// A plain UDP client in the current namespace.
    pub async fn udp(local: SocketAddr, server: SocketAddr) -> Result<Self, AdapterError> {
        Self::open(None, local, server, "udp").await
    }

    /// A plain UDP client (for example DNS from `192.0.2.2:0` to `192.0.2.1:53`) inside `netns`.
    pub async fn udp_in_netns(
        netns: &str,
        local: SocketAddr,
        server: SocketAddr,
    ) -> Result<Self, AdapterError> {
        Self::open(Some(netns), local, server, "udp").await
    }

    async fn open(
        netns: Option<&str>,
        local: SocketAddr,
        server: SocketAddr,
        label: &'static str,
    ) -> Result<Self, AdapterError> {
        let ns = netns.map(str::to_owned);
        let std_sock = in_netns(netns, move || bind_std(local, ns.as_deref())).await?;
        let io = UdpIo::start(std_sock).map_err(|e| AdapterError::Io {
            what: "register UDP socket with the tokio reactor".into(),
            source: e,
        })?;
        Ok(RelayAdapter {
            io,
            server,
            netns: netns.map(str::to_owned),
            label,
        })
    }

    /// The bound local address (the relay agent's address for relay mode).
    pub fn local_addr(&self) -> SocketAddr {
        self.io.local_addr()
    }

    /// The default destination.
    pub fn server_addr(&self) -> SocketAddr {
        self.server
    }
}

/// The destination of one datagram: the meta's address if it is a usable unicast address
/// (a client template's `255.255.255.255` or `0.0.0.0` means "the server" here), the meta's
/// port if given, the server otherwise.
fn destination(meta: &Meta, server: SocketAddr) -> SocketAddr {
    let ip = match meta.ip_dst {
        Some(IpAddr::V4(a)) if !a.is_unspecified() && !a.is_broadcast() && !a.is_multicast() => {
            IpAddr::V4(a)
        }
        Some(IpAddr::V6(a)) if !a.is_unspecified() && !a.is_multicast() => IpAddr::V6(a),
        _ => server.ip(),
    };
    SocketAddr::new(ip, meta.dst_port.unwrap_or(server.port()))
}

impl RelayAdapter {
    fn send_error(&self, to: SocketAddr) -> impl FnOnce(std::io::Error) -> AdapterError {
        let what = format!("send UDP {} -> {to}", self.io.local_addr());
        move |source| AdapterError::Io { what, source }
    }
}

#[async_trait]
impl Adapter for RelayAdapter {
    async fn send(&self, d: &Datagram) -> Result<(), AdapterError> {
        let to = destination(&d.meta, self.server);
        self.io
            .send_to(&d.payload, to)
            .await
            .map_err(self.send_error(to))
    }

    fn try_send(&self, d: &Datagram) -> Option<Result<(), AdapterError>> {
        let to = destination(&d.meta, self.server);
        Some(
            self.io
                .try_send_to(&d.payload, to)?
                .map_err(self.send_error(to)),
        )
    }

    fn subscribe(&self) -> broadcast::Receiver<Incoming> {
        self.io.subscribe()
    }

    fn incoming_sender(&self) -> Option<broadcast::Sender<Incoming>> {
        Some(self.io.sender())
    }

    fn take_waiting(&self) -> bool {
        self.io.take_waiting()
    }

    fn describe(&self) -> String {
        let ns = self
            .netns
            .as_deref()
            .map(|n| format!(" in netns {n}"))
            .unwrap_or_default();
        format!(
            "{} {} -> {}{ns}",
            self.label,
            self.io.local_addr(),
            self.server
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcast_and_unspecified_destinations_mean_the_server() {
        let server: SocketAddr = "192.0.2.1:67".parse().unwrap();
        let mut m = Meta::default();
        assert_eq!(destination(&m, server), server);
        m.ip_dst = Some("255.255.255.255".parse().unwrap());
        assert_eq!(destination(&m, server), server);
        m.ip_dst = Some("0.0.0.0".parse().unwrap());
        assert_eq!(destination(&m, server), server);
        m.ip_dst = Some("192.0.2.9".parse().unwrap());
        m.dst_port = Some(1067);
        assert_eq!(destination(&m, server), "192.0.2.9:1067".parse().unwrap());
    }

    #[tokio::test]
    async fn loopback_echo_in_own_namespace() {
        // 127.0.0.1 only: traffic never leaves this host.
        let echo = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        echo.set_read_timeout(Some(std::time::Duration::from_secs(2)))
            .unwrap();
        let server = echo.local_addr().unwrap();
        let a = RelayAdapter::bind("127.0.0.1:0".parse().unwrap(), server)
            .await
            .unwrap();
        let mut rx = a.subscribe();
        a.send(&Datagram {
            payload: b"ping".to_vec(),
            meta: Meta::default(),
        })
        .await
        .unwrap();
        let mut buf = [0u8; 16];
        let (n, from) = echo.recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"ping");
        echo.send_to(b"pong", from).unwrap();
        let got = tokio::time::timeout(std::time::Duration::from_secs(2), rx.recv())
            .await
            .expect("reply within 2 s")
            .unwrap();
        assert_eq!(got.datagram.payload, b"pong");
        assert_eq!(got.datagram.meta.ip_src, Some(server.ip()));
        assert_eq!(got.datagram.meta.src_port, Some(server.port()));
        assert!(a.describe().starts_with("relay 127.0.0.1:"));
        // The fast path sends the same way, and its error names the route as `send`'s does
        // (port 0 is not a destination: the kernel refuses it).
        let again = Datagram {
            payload: b"ping2".to_vec(),
            meta: Meta::default(),
        };
        assert!(matches!(a.try_send(&again), Some(Ok(()))));
        let (n, _) = echo.recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"ping2");
        let nowhere = Datagram {
            payload: b"x".to_vec(),
            meta: Meta {
                dst_port: Some(0),
                ..Meta::default()
            },
        };
        let fast = a.try_send(&nowhere).expect("an answer without waiting");
        let slow = a.send(&nowhere).await;
        assert_eq!(fast.unwrap_err().to_string(), slow.unwrap_err().to_string());
    }
}
