//! DNS over TCP (RFC 1035 §4.2.2, RFC 7766) and the combined UDP+TCP adapter DNS suites use.
//!
//! [`TcpAdapter`] keeps a set of connections to one server, keyed by the datagram's transport
//! string (`Meta::transport`, written by the DNS codec):
//!
//! - `tcp;conn=N`: connection number N. Every query with the same N goes on the same
//!   connection, written as soon as it is sent (pipelined, RFC 7766 §6.2.1.1); answers are
//!   delivered in the order they arrive, so a suite matches them out of order by id.
//! - `tcp` alone: a connection per DNS id (the first two payload bytes), as genreport does.
//! - `;raw`: write the payload as it is, without the two-byte length (the suite frames it, or
//!   deliberately misframes it); `;close`: half-close (FIN) after writing.
//!
//! A connection is opened on first use (inside the lab's client namespace when there is one)
//! and reopened on the next send after the server closed it. Every message read from a
//! connection is delivered with transport `tcp;conn=N` (or `tcp` for per-id connections) and
//! the connection's ports; when the server closes a connection (or resets it) an empty
//! pseudo-message with `;closed` added is delivered, so a suite can observe closes.
//!
//! [`DnsAdapter`] routes each datagram by transport: `tcp...` to its `TcpAdapter`, anything
//! else to a UDP adapter (the lab's), or everything to TCP when built with `default_tcp`
//! (`--adapter tcp`). Subscribers see the merged stream.

use crate::adapter::{Adapter, AdapterError, Incoming};
use crate::raw::in_netns;
use async_trait::async_trait;
use conform_codec::{Datagram, Meta};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::TcpStream;
use tokio::sync::broadcast;

/// How long a connect may take (servers are in the lab or on loopback).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Connections kept before dead ones are pruned.
const PRUNE_AT: usize = 256;

/// Which connection a datagram goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Key {
    Named(u32),
    Id(u16),
}

/// What a transport string asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Route {
    tcp: bool,
    conn: Option<u32>,
    raw: bool,
    close: bool,
}

fn route(t: &str) -> Route {
    let mut parts = t.split(';');
    let kind = parts.next().unwrap_or("");
    let mut r = Route {
        tcp: kind == "tcp",
        conn: None,
        raw: false,
        close: false,
    };
    for a in parts {
        match a.split_once('=') {
            Some(("conn", v)) => r.conn = v.parse().ok(),
            None if a == "raw" => r.raw = true,
            None if a == "close" => r.close = true,
            _ => {}
        }
    }
    r
}

struct Conn {
    writer: tokio::sync::Mutex<OwnedWriteHalf>,
    dead: Arc<AtomicBool>,
    reader: tokio::task::JoinHandle<()>,
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

/// Shared by all connections: where arrivals go.
#[derive(Clone)]
struct Sink {
    tx: broadcast::Sender<Incoming>,
    seq: Arc<AtomicU64>,
}

impl Sink {
    fn deliver(&self, payload: Vec<u8>, meta: Meta) {
        let _ = self.tx.send(Incoming {
            datagram: Datagram { payload, meta },
            at: SystemTime::now(),
            seq: self.seq.fetch_add(1, Ordering::Relaxed),
        });
    }
}

/// DNS over TCP to one server. See the module doc.
pub struct TcpAdapter {
    server: SocketAddr,
    netns: Option<String>,
    conns: Mutex<HashMap<Key, Arc<Conn>>>,
    sink: Sink,
}

impl TcpAdapter {
    /// A TCP client of `server` whose sockets live in `netns` (the current namespace when
    /// `None`). Connects lazily, on the first send.
    pub fn new(netns: Option<&str>, server: SocketAddr) -> Self {
        let (tx, _) = broadcast::channel(4096);
        Self::with_sink(
            netns,
            server,
            Sink {
                tx,
                seq: Arc::new(AtomicU64::new(0)),
            },
        )
    }

    fn with_sink(netns: Option<&str>, server: SocketAddr, sink: Sink) -> Self {
        TcpAdapter {
            server,
            netns: netns.map(str::to_owned),
            conns: Mutex::new(HashMap::new()),
            sink,
        }
    }

    async fn connect(&self, key: Key) -> Result<Arc<Conn>, AdapterError> {
        let server = self.server;
        let std_stream = in_netns(self.netns.as_deref(), move || {
            let s =
                std::net::TcpStream::connect_timeout(&server, CONNECT_TIMEOUT).map_err(|e| {
                    AdapterError::Io {
                        what: format!("connect TCP to {server}"),
                        source: e,
                    }
                })?;
            s.set_nonblocking(true).map_err(|e| AdapterError::Io {
                what: "make TCP socket non-blocking".into(),
                source: e,
            })?;
            let _ = s.set_nodelay(true);
            Ok(s)
        })
        .await?;
        let stream = TcpStream::from_std(std_stream).map_err(|e| AdapterError::Io {
            what: "register TCP socket with the tokio reactor".into(),
            source: e,
        })?;
        let local = stream.local_addr().ok();
        let (mut rd, wr) = stream.into_split();
        let dead = Arc::new(AtomicBool::new(false));
        let transport = match key {
            Key::Named(n) => format!("tcp;conn={n}"),
            Key::Id(_) => "tcp".to_string(),
        };
        let meta = Meta {
            ip_src: Some(server.ip()),
            src_port: Some(server.port()),
            ip_dst: local.map(|l| l.ip()),
            dst_port: local.map(|l| l.port()),
            transport: transport.clone().into(),
            ..Meta::default()
        };
        let sink = self.sink.clone();
        let dead2 = dead.clone();
        let reader = tokio::spawn(async move {
            loop {
                let mut len = [0u8; 2];
                if rd.read_exact(&mut len).await.is_err() {
                    break;
                }
                let n = usize::from(u16::from_be_bytes(len));
                let mut buf = vec![0u8; n];
                if rd.read_exact(&mut buf).await.is_err() {
                    break;
                }
                sink.deliver(buf, meta.clone());
            }
            dead2.store(true, Ordering::Release);
            let mut m = meta;
            m.transport = format!("{transport};closed").into();
            sink.deliver(Vec::new(), m);
        });
        Ok(Arc::new(Conn {
            writer: tokio::sync::Mutex::new(wr),
            dead,
            reader,
        }))
    }

    async fn conn(&self, key: Key) -> Result<Arc<Conn>, AdapterError> {
        {
            let mut g = self.conns.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(c) = g.get(&key) {
                if !c.dead.load(Ordering::Acquire) {
                    return Ok(c.clone());
                }
                g.remove(&key);
            }
            if g.len() >= PRUNE_AT {
                g.retain(|_, c| !c.dead.load(Ordering::Acquire));
            }
        }
        let c = self.connect(key).await?;
        let mut g = self.conns.lock().unwrap_or_else(|e| e.into_inner());
        // A concurrent send may have connected the same key meanwhile: keep the first.
        Ok(g.entry(key).or_insert(c).clone())
    }

    async fn send_routed(&self, d: &Datagram, r: Route) -> Result<(), AdapterError> {
        let key = match r.conn {
            Some(n) => Key::Named(n),
            None => Key::Id(match d.payload.as_slice() {
                [a, b, ..] => u16::from_be_bytes([*a, *b]),
                _ => 0,
            }),
        };
        let c = self.conn(key).await?;
        let mut buf = Vec::with_capacity(d.payload.len() + 2);
        if !r.raw {
            let len = u16::try_from(d.payload.len()).map_err(|_| {
                AdapterError::Other(format!(
                    "a DNS message of {} bytes does not fit a TCP length prefix",
                    d.payload.len()
                ))
            })?;
            buf.extend_from_slice(&len.to_be_bytes());
        }
        buf.extend_from_slice(&d.payload);
        let mut w = c.writer.lock().await;
        // One write for prefix and message: one segment (RFC 7766 §8).
        if let Err(e) = w.write_all(&buf).await {
            return match e.kind() {
                // The server closed or reset the connection: that is its behaviour under
                // test, not a harness fault. The query is lost as a UDP datagram would be;
                // the reader delivers the `closed` pseudo-message.
                std::io::ErrorKind::BrokenPipe
                | std::io::ErrorKind::ConnectionReset
                | std::io::ErrorKind::NotConnected => {
                    c.dead.store(true, Ordering::Release);
                    Ok(())
                }
                _ => Err(AdapterError::Io {
                    what: format!("write to TCP connection to {}", self.server),
                    source: e,
                }),
            };
        }
        if r.close {
            let _ = w.shutdown().await;
        }
        Ok(())
    }
}

#[async_trait]
impl Adapter for TcpAdapter {
    async fn send(&self, d: &Datagram) -> Result<(), AdapterError> {
        let mut r = route(&d.meta.transport);
        r.tcp = true;
        self.send_routed(d, r).await
    }

    fn subscribe(&self) -> broadcast::Receiver<Incoming> {
        self.sink.tx.subscribe()
    }

    fn describe(&self) -> String {
        let ns = self
            .netns
            .as_deref()
            .map(|n| format!(" in netns {n}"))
            .unwrap_or_default();
        format!("tcp -> {}{ns}", self.server)
    }
}

/// UDP and TCP to one DNS server, routed by each datagram's transport. See the module doc.
pub struct DnsAdapter {
    udp: Arc<dyn Adapter>,
    tcp: TcpAdapter,
    default_tcp: bool,
    sink: Sink,
    forward: Option<tokio::task::JoinHandle<()>>,
}

impl DnsAdapter {
    /// Wraps a UDP adapter (the lab's) and adds TCP to `server` from `netns`. With
    /// `default_tcp`, datagrams that do not name a transport go over TCP too.
    pub fn new(
        udp: Arc<dyn Adapter>,
        netns: Option<&str>,
        server: SocketAddr,
        default_tcp: bool,
    ) -> Self {
        // TCP arrivals go into the UDP adapter's own channel when it offers one, so UDP
        // answers reach subscribers directly; otherwise a task forwards UDP arrivals.
        let (sink, forward) = match udp.incoming_sender() {
            Some(tx) => (
                Sink {
                    tx,
                    seq: Arc::new(AtomicU64::new(1 << 62)),
                },
                None,
            ),
            None => {
                let (tx, _) = broadcast::channel(4096);
                let sink = Sink {
                    tx,
                    seq: Arc::new(AtomicU64::new(0)),
                };
                let mut rx = udp.subscribe();
                let s2 = sink.clone();
                let forward = tokio::spawn(async move {
                    loop {
                        match rx.recv().await {
                            Ok(i) => s2.deliver(i.datagram.payload, i.datagram.meta),
                            Err(broadcast::error::RecvError::Lagged(_)) => continue,
                            Err(broadcast::error::RecvError::Closed) => break,
                        }
                    }
                });
                (sink, Some(forward))
            }
        };
        DnsAdapter {
            udp,
            tcp: TcpAdapter::with_sink(netns, server, sink.clone()),
            default_tcp,
            sink,
            forward,
        }
    }

    /// How `d` travels: its `transport` meta, else TCP when that is the default.
    fn route_of(&self, d: &Datagram) -> Route {
        let mut r = route(&d.meta.transport);
        if d.meta.transport.is_empty() && self.default_tcp {
            r.tcp = true;
        }
        r
    }
}

impl Drop for DnsAdapter {
    fn drop(&mut self) {
        if let Some(f) = &self.forward {
            f.abort();
        }
    }
}

#[async_trait]
impl Adapter for DnsAdapter {
    async fn send(&self, d: &Datagram) -> Result<(), AdapterError> {
        let r = self.route_of(d);
        if r.tcp {
            self.tcp.send_routed(d, r).await
        } else {
            self.udp.send(d).await
        }
    }

    /// UDP only: a TCP send may have to connect or wait for the stream.
    fn try_send(&self, d: &Datagram) -> Option<Result<(), AdapterError>> {
        if self.route_of(d).tcp {
            None
        } else {
            self.udp.try_send(d)
        }
    }

    fn subscribe(&self) -> broadcast::Receiver<Incoming> {
        self.sink.tx.subscribe()
    }

    /// UDP answers waiting on the wrapped adapter's socket, when its channel is this one's
    /// (with a forwarding task they would reach subscribers through that task anyway).
    fn take_waiting(&self) -> bool {
        self.forward.is_none() && self.udp.take_waiting()
    }

    fn describe(&self) -> String {
        format!(
            "dns {} + {}{}",
            self.udp.describe(),
            self.tcp.describe(),
            if self.default_tcp {
                " (tcp by default)"
            } else {
                ""
            }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    #[test]
    fn routes() {
        assert_eq!(
            route("tcp;conn=3;raw;close"),
            Route {
                tcp: true,
                conn: Some(3),
                raw: true,
                close: true
            }
        );
        assert!(!route("").tcp);
        assert!(!route("udp").tcp);
    }

    /// `try_send` sends a UDP datagram at once (the peer gets it, at the destination the
    /// datagram names) and declines TCP (the caller awaits `send` for it) without sending
    /// anything over UDP in its place.
    #[tokio::test]
    async fn try_send_sends_udp_now_and_declines_tcp() {
        let peer = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        peer.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let other = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        other
            .set_read_timeout(Some(Duration::from_secs(2)))
            .unwrap();
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let tcp_at = l.local_addr().unwrap();
        let udp = crate::udp::UdpAdapter::bind(
            "127.0.0.1:0".parse().unwrap(),
            peer.local_addr().unwrap(),
        )
        .await
        .unwrap();
        let a = DnsAdapter::new(Arc::new(udp), None, tcp_at, false);
        let mut buf = [0u8; 16];
        let plain = Datagram {
            payload: b"q1".to_vec(),
            meta: Meta::default(),
        };
        assert!(matches!(a.try_send(&plain), Some(Ok(()))));
        let (n, _) = peer.recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"q1");
        // A datagram naming its own destination goes there, not to the server.
        let aimed = Datagram {
            payload: b"q2".to_vec(),
            meta: Meta {
                ip_dst: Some(other.local_addr().unwrap().ip()),
                dst_port: Some(other.local_addr().unwrap().port()),
                ..Meta::default()
            },
        };
        assert!(matches!(a.try_send(&aimed), Some(Ok(()))));
        let (n, _) = other.recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"q2");
        let over_tcp = Datagram {
            payload: vec![0, 9, 0, 0],
            meta: Meta {
                transport: "tcp".into(),
                ..Meta::default()
            },
        };
        assert!(a.try_send(&over_tcp).is_none(), "TCP is never sent at once");
        peer.set_nonblocking(true).unwrap();
        assert!(
            peer.recv_from(&mut buf).is_err(),
            "a declined send went out over UDP"
        );
        // And `DnsAdapter` with TCP as default declines a datagram without a transport.
        let udp2 = crate::udp::UdpAdapter::bind(
            "127.0.0.1:0".parse().unwrap(),
            peer.local_addr().unwrap(),
        )
        .await
        .unwrap();
        let b = DnsAdapter::new(Arc::new(udp2), None, tcp_at, true);
        assert!(b.try_send(&plain).is_none());
        drop(l);
    }

    /// A loopback server that answers two pipelined queries in reverse order, then closes.
    #[tokio::test]
    async fn pipelined_out_of_order_and_close_on_loopback() {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let server = l.local_addr().unwrap();
        let srv = tokio::spawn(async move {
            let (mut s, _) = l.accept().await.unwrap();
            let mut msgs = Vec::new();
            for _ in 0..2 {
                let mut len = [0u8; 2];
                s.read_exact(&mut len).await.unwrap();
                let mut b = vec![0u8; usize::from(u16::from_be_bytes(len))];
                s.read_exact(&mut b).await.unwrap();
                msgs.push(b);
            }
            for m in msgs.iter().rev() {
                let mut out = (m.len() as u16).to_be_bytes().to_vec();
                out.extend_from_slice(m);
                s.write_all(&out).await.unwrap();
            }
        });
        let a = TcpAdapter::new(None, server);
        let mut rx = a.subscribe();
        for id in [1u8, 2] {
            let d = Datagram {
                payload: vec![0, id, 0, 0],
                meta: Meta {
                    transport: "tcp;conn=7".into(),
                    ..Meta::default()
                },
            };
            a.send(&d).await.unwrap();
        }
        let mut got = Vec::new();
        for _ in 0..3 {
            let i = tokio::time::timeout(Duration::from_secs(2), rx.recv())
                .await
                .unwrap()
                .unwrap();
            got.push((i.datagram.payload, i.datagram.meta.transport.into_owned()));
        }
        srv.await.unwrap();
        assert_eq!(got[0], (vec![0, 2, 0, 0], "tcp;conn=7".to_string()));
        assert_eq!(got[1], (vec![0, 1, 0, 0], "tcp;conn=7".to_string()));
        assert_eq!(got[2], (vec![], "tcp;conn=7;closed".to_string()));
    }
}
