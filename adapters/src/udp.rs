//! Plain UDP socket adapter: DNS to a loopback or namespace address, and [`UdpIo`], the socket
//! and receive loop it shares with the relay adapter.

use crate::adapter::{Adapter, AdapterError, Incoming};
use crate::sys::{self, RecvBatch, BATCH_SLOTS};
use async_trait::async_trait;
use conform_codec::{Datagram, Meta};
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::io::unix::AsyncFd;
use tokio::sync::broadcast;

/// How long a send waits for room in a full socket send buffer before it reports the error.
const SEND_PATIENCE: Duration = Duration::from_secs(1);

/// A non-blocking UDP socket and the task that reads it into a broadcast channel.
///
/// Why not `tokio::net::UdpSocket`: the socket is registered for readability only, and read
/// in batches. A socket registered for writing too gets an EPOLLOUT edge each time the peer
/// takes a datagram off its queue, which woke the parked worker once per query for nothing;
/// and a `recv_from` loop must end every arrival with a read that finds the socket empty
/// (EAGAIN). [`sys::recv_batch`] takes everything waiting in one call, and when it returns
/// fewer datagrams than it has slots the loop clears the readiness instead of reading again
/// (tokio clears it only if no new event came in meanwhile, so nothing is missed). Both were
/// per-query costs in the dns_query bench (docs/performance.md).
///
/// Invariant: the channel sees every datagram this socket receives, in arrival order, each
/// stamped when read; never the socket's own sends.
pub(crate) struct UdpIo {
    sock: Arc<AsyncFd<std::net::UdpSocket>>,
    local: SocketAddr,
    reader: tokio::task::JoinHandle<()>,
}

impl UdpIo {
    /// Registers `sock` (already bound and non-blocking) and starts its receive loop.
    pub(crate) fn start(
        sock: std::net::UdpSocket,
        tx: broadcast::Sender<Incoming>,
    ) -> io::Result<Self> {
        let local = sock.local_addr()?;
        let sock = Arc::new(sys::async_udp_readable(sock)?);
        let reader = tokio::spawn(receive_loop(sock.clone(), tx, local));
        Ok(UdpIo {
            sock,
            local,
            reader,
        })
    }

    pub(crate) fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Sends one datagram. UDP sends do not block unless the send buffer is full; the socket is
    /// not registered for writability, so that rare case retries every millisecond for
    /// [`SEND_PATIENCE`].
    pub(crate) async fn send_to(&self, payload: &[u8], to: SocketAddr) -> io::Result<()> {
        let mut waited = Duration::ZERO;
        loop {
            match self.sock.get_ref().send_to(payload, to) {
                Ok(_) => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock && waited < SEND_PATIENCE => {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                    waited += Duration::from_millis(1);
                }
                Err(e) => return Err(e),
            }
        }
    }
}

impl Drop for UdpIo {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

async fn receive_loop(
    sock: Arc<AsyncFd<std::net::UdpSocket>>,
    tx: broadcast::Sender<Incoming>,
    local: SocketAddr,
) {
    let mut batch = RecvBatch::new();
    let mut seq = 0u64;
    let mut consecutive_errors = 0u32;
    loop {
        let Ok(mut guard) = sock.readable().await else {
            break;
        };
        match sys::recv_batch(guard.get_inner(), &mut batch) {
            Ok(got) => {
                consecutive_errors = 0;
                for i in 0..got {
                    let (payload, from) = batch.get(i);
                    let Some(from) = from else { continue };
                    let meta = Meta {
                        ip_src: Some(from.ip()),
                        src_port: Some(from.port()),
                        ip_dst: Some(local.ip()),
                        dst_port: Some(local.port()),
                        transport: "udp".into(),
                        ..Meta::default()
                    };
                    let _ = tx.send(Incoming {
                        datagram: Datagram {
                            payload: payload.to_vec(),
                            meta,
                        },
                        at: SystemTime::now(),
                        seq,
                    });
                    seq += 1;
                }
                if got < BATCH_SLOTS {
                    guard.clear_ready();
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => guard.clear_ready(),
            Err(_) => {
                // ICMP errors (port unreachable) surface here on Linux; they are not fatal.
                consecutive_errors += 1;
                if consecutive_errors > 100 {
                    break;
                }
            }
        }
    }
}

/// A UDP socket bound locally, sending to a fixed server address unless the datagram's meta
/// names another destination.
pub struct UdpAdapter {
    io: UdpIo,
    server: SocketAddr,
    tx: broadcast::Sender<Incoming>,
}

impl UdpAdapter {
    /// Binds `local` and starts the receive loop.
    pub async fn bind(local: SocketAddr, server: SocketAddr) -> Result<Self, AdapterError> {
        let io_err = |what: String| move |e| AdapterError::Io { what, source: e };
        let sock = std::net::UdpSocket::bind(local)
            .map_err(io_err(format!("bind UDP socket to {local}")))?;
        sock.set_broadcast(true)
            .map_err(io_err("enable SO_BROADCAST".into()))?;
        sock.set_nonblocking(true)
            .map_err(io_err("make UDP socket non-blocking".into()))?;
        let (tx, _) = broadcast::channel(4096);
        let io = UdpIo::start(sock, tx.clone())
            .map_err(io_err("register UDP socket with the tokio reactor".into()))?;
        Ok(UdpAdapter { io, server, tx })
    }

    pub fn local_addr(&self) -> Option<SocketAddr> {
        Some(self.io.local_addr())
    }
}

#[async_trait]
impl Adapter for UdpAdapter {
    async fn send(&self, d: &Datagram) -> Result<(), AdapterError> {
        let to = match (d.meta.ip_dst, d.meta.dst_port) {
            (Some(ip), Some(port)) if !ip.is_unspecified() => SocketAddr::new(ip, port),
            _ => self.server,
        };
        self.io
            .send_to(&d.payload, to)
            .await
            .map_err(|e| AdapterError::Io {
                what: format!("send to {to}"),
                source: e,
            })
    }

    fn subscribe(&self) -> broadcast::Receiver<Incoming> {
        self.tx.subscribe()
    }

    fn describe(&self) -> String {
        format!("udp {}", self.server)
    }

    fn incoming_sender(&self) -> Option<broadcast::Sender<Incoming>> {
        Some(self.tx.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn next(rx: &mut broadcast::Receiver<Incoming>) -> Incoming {
        tokio::time::timeout(Duration::from_secs(2), rx.recv())
            .await
            .expect("a datagram within 2 s")
            .expect("the channel is open")
    }

    /// Batched reads lose nothing: bursts longer than a batch, a datagram after the loop has
    /// cleared readiness, and answers to IPv4 and IPv6 loopback (traffic stays on this host).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn bursts_and_stragglers_arrive_whole_and_in_order() {
        for (local, peer_at) in [("127.0.0.1:0", "127.0.0.1:0"), ("[::1]:0", "[::1]:0")] {
            let Ok(peer) = std::net::UdpSocket::bind(peer_at) else {
                println!("SKIPPED: {peer_at}: no loopback for this family here");
                continue;
            };
            let a = UdpAdapter::bind(local.parse().unwrap(), peer.local_addr().unwrap())
                .await
                .unwrap();
            let mut rx = a.subscribe();
            let me = a.local_addr().unwrap();
            for burst in 0..3u8 {
                for k in 0..(3 * BATCH_SLOTS as u8) {
                    peer.send_to(&[burst, k], me).unwrap();
                }
                for k in 0..(3 * BATCH_SLOTS as u8) {
                    let got = next(&mut rx).await;
                    assert_eq!(got.datagram.payload, [burst, k], "{local}");
                    assert_eq!(
                        got.datagram.meta.ip_src,
                        Some(peer.local_addr().unwrap().ip())
                    );
                    assert_eq!(got.datagram.meta.dst_port, Some(me.port()));
                }
                // A straggler after the loop went back to waiting.
                tokio::time::sleep(Duration::from_millis(20)).await;
                peer.send_to(b"late", me).unwrap();
                assert_eq!(next(&mut rx).await.datagram.payload, b"late");
            }
            // And the other way: what the adapter sends reaches the peer, never its own channel.
            a.send(&Datagram {
                payload: b"ping".to_vec(),
                meta: Meta::default(),
            })
            .await
            .unwrap();
            let mut buf = [0u8; 8];
            peer.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
            let (n, from) = peer.recv_from(&mut buf).unwrap();
            assert_eq!((&buf[..n], from), (&b"ping"[..], me));
            assert!(rx.try_recv().is_err(), "own send seen");
        }
    }
}
