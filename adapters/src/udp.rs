//! Plain UDP socket adapter: DNS to a loopback or namespace address, and [`UdpIo`], the socket
//! and receive loop it shares with the relay adapter.

use crate::adapter::{Adapter, AdapterError, Incoming};
use crate::sys::{self, RecvBatch, BATCH_SLOTS};
use async_trait::async_trait;
use conform_codec::{Datagram, Meta};
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
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
/// A receiver about to wait can also read the socket itself ([`UdpIo::take_waiting`]): an
/// answer that came while the case task was busy (on a loopback server, before its own
/// `sendto` returned) then reaches it without a wake-up of the reader task through the reactor
/// and a hop through the channel, which was most of conform's added latency per DNS query.
///
/// Invariant: the channel sees every datagram this socket receives, in arrival order, each
/// stamped when read; never the socket's own sends. Reads and the channel sends that follow
/// them happen under one lock ([`Reading`]), whoever reads, so order and `seq` hold.
pub(crate) struct UdpIo {
    sock: Arc<AsyncFd<std::net::UdpSocket>>,
    local: SocketAddr,
    reading: Arc<Mutex<Reading>>,
    tx: broadcast::Sender<Incoming>,
    reader: tokio::task::JoinHandle<()>,
    /// `take_waiting` calls in a row that found the socket empty (see [`TAKE_PROBE_EVERY`]).
    empty_takes: AtomicU32,
}

/// After this many `take_waiting` calls in a row that found nothing, only every
/// [`TAKE_PROBE_EVERY`]th call reads the socket. Why: a server that answers before the
/// request's `sendto` returns (loopback, same CPU) is read at once by the waiting receiver,
/// but against one that answers later (another CPU, a namespace) every such read is an empty
/// `recvmmsg` (about 0.3 µs here) before the receiver waits anyway. A probe notices when the
/// answers start coming early again; skipping never loses a datagram (the reader task reads
/// everything), it only leaves the answer to the reactor's wake-up.
const TAKE_SKIP_AFTER: u32 = 8;

/// See [`TAKE_SKIP_AFTER`].
const TAKE_PROBE_EVERY: u32 = 8;

/// What a read needs, behind the lock that orders reads: the batch buffers and the next
/// sequence number.
struct Reading {
    batch: RecvBatch,
    seq: u64,
}

impl Reading {
    /// Reads what is waiting (up to one batch) and sends it on `tx`; returns how many
    /// datagrams the batch held (datagrams without a source address are skipped).
    fn read_batch(
        &mut self,
        sock: &std::net::UdpSocket,
        tx: &broadcast::Sender<Incoming>,
        local: SocketAddr,
    ) -> io::Result<usize> {
        let got = sys::recv_batch(sock, &mut self.batch)?;
        for i in 0..got {
            let (payload, from) = self.batch.get(i);
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
                seq: self.seq,
            });
            self.seq += 1;
        }
        Ok(got)
    }
}

/// The reading state's lock; a panic while holding it cannot leave the buffers inconsistent
/// (each read overwrites them), so a poisoned lock is used as is.
fn lock(m: &Mutex<Reading>) -> MutexGuard<'_, Reading> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl UdpIo {
    /// Registers `sock` (already bound and non-blocking) and starts its receive loop into a
    /// new channel ([`UdpIo::subscribe`]).
    pub(crate) fn start(sock: std::net::UdpSocket) -> io::Result<Self> {
        let local = sock.local_addr()?;
        let (tx, _) = broadcast::channel(4096);
        let sock = Arc::new(sys::async_udp_readable(sock)?);
        let reading = Arc::new(Mutex::new(Reading {
            batch: RecvBatch::new(),
            seq: 0,
        }));
        let reader = tokio::spawn(receive_loop(
            sock.clone(),
            reading.clone(),
            tx.clone(),
            local,
        ));
        Ok(UdpIo {
            sock,
            local,
            reading,
            tx,
            reader,
            empty_takes: AtomicU32::new(0),
        })
    }

    /// Reads every datagram already waiting on the socket into the channel, without waiting;
    /// returns whether there was one. If the reader task is reading at this moment it
    /// returns false at once: what it reads reaches the channel anyway. Costs one
    /// `recvmmsg` that finds the socket empty when nothing is waiting.
    pub(crate) fn take_waiting(&self) -> bool {
        // A load and a store, not one atomic update: receivers taking at once may lose a count
        // or a reset. That only shifts the cadence for a few takes; it cannot lose a datagram.
        let empty = self.empty_takes.load(Ordering::Relaxed);
        if empty >= TAKE_SKIP_AFTER && !empty.is_multiple_of(TAKE_PROBE_EVERY) {
            self.empty_takes
                .store(empty.wrapping_add(1), Ordering::Relaxed);
            return false;
        }
        let Ok(mut r) = self.reading.try_lock() else {
            return false;
        };
        let mut any = false;
        // An error (a queued ICMP error, which the failing read consumes) ends the take; it
        // is not fatal, and the reader task keeps reading.
        while let Ok(got) = r.read_batch(self.sock.get_ref(), &self.tx, self.local) {
            any |= got > 0;
            if got < BATCH_SLOTS {
                break;
            }
        }
        let empty = if any { 0 } else { empty.wrapping_add(1) };
        self.empty_takes.store(empty, Ordering::Relaxed);
        any
    }

    pub(crate) fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// A receiver of everything read from now on.
    pub(crate) fn subscribe(&self) -> broadcast::Receiver<Incoming> {
        self.tx.subscribe()
    }

    /// The channel's sender, for wrappers that deliver into the same stream.
    pub(crate) fn sender(&self) -> broadcast::Sender<Incoming> {
        self.tx.clone()
    }

    /// One non-blocking `sendto`: `None` when the socket buffer is full (the caller waits with
    /// [`UdpIo::send_to`]), else its outcome.
    pub(crate) fn try_send_to(&self, payload: &[u8], to: SocketAddr) -> Option<io::Result<()>> {
        match self.sock.get_ref().send_to(payload, to) {
            Ok(_) => Some(Ok(())),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => None,
            Err(e) => Some(Err(e)),
        }
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
    reading: Arc<Mutex<Reading>>,
    tx: broadcast::Sender<Incoming>,
    local: SocketAddr,
) {
    let mut consecutive_errors = 0u32;
    loop {
        let Ok(mut guard) = sock.readable().await else {
            break;
        };
        let read = lock(&reading).read_batch(guard.get_inner(), &tx, local);
        match read {
            Ok(got) => {
                consecutive_errors = 0;
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
        let io = UdpIo::start(sock)
            .map_err(io_err("register UDP socket with the tokio reactor".into()))?;
        Ok(UdpAdapter { io, server })
    }

    pub fn local_addr(&self) -> Option<SocketAddr> {
        Some(self.io.local_addr())
    }

    /// Where `d` goes: its own destination when it names one, else the server.
    fn destination(&self, d: &Datagram) -> SocketAddr {
        match (d.meta.ip_dst, d.meta.dst_port) {
            (Some(ip), Some(port)) if !ip.is_unspecified() => SocketAddr::new(ip, port),
            _ => self.server,
        }
    }
}

fn send_error(to: SocketAddr) -> impl FnOnce(io::Error) -> AdapterError {
    move |e| AdapterError::Io {
        what: format!("send to {to}"),
        source: e,
    }
}

#[async_trait]
impl Adapter for UdpAdapter {
    async fn send(&self, d: &Datagram) -> Result<(), AdapterError> {
        let to = self.destination(d);
        self.io
            .send_to(&d.payload, to)
            .await
            .map_err(send_error(to))
    }

    fn try_send(&self, d: &Datagram) -> Option<Result<(), AdapterError>> {
        let to = self.destination(d);
        Some(self.io.try_send_to(&d.payload, to)?.map_err(send_error(to)))
    }

    fn subscribe(&self) -> broadcast::Receiver<Incoming> {
        self.io.subscribe()
    }

    fn describe(&self) -> String {
        format!("udp {}", self.server)
    }

    fn incoming_sender(&self) -> Option<broadcast::Sender<Incoming>> {
        Some(self.io.sender())
    }

    fn take_waiting(&self) -> bool {
        self.io.take_waiting()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A peer on IPv4 loopback and an adapter aimed at it: the peer, the adapter, a receiver of
    /// the adapter's arrivals and the adapter's own address.
    async fn adapter_and_peer() -> (
        std::net::UdpSocket,
        UdpAdapter,
        broadcast::Receiver<Incoming>,
        SocketAddr,
    ) {
        let peer = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let a = UdpAdapter::bind("127.0.0.1:0".parse().unwrap(), peer.local_addr().unwrap())
            .await
            .unwrap();
        let rx = a.subscribe();
        let me = a.local_addr().unwrap();
        (peer, a, rx, me)
    }

    async fn next(rx: &mut broadcast::Receiver<Incoming>) -> Incoming {
        tokio::time::timeout(Duration::from_secs(2), rx.recv())
            .await
            .expect("a datagram within 2 s")
            .expect("the channel is open")
    }

    /// `take_waiting` reads what is queued at the moment of the call, in order with what the
    /// reader task read before, and reports an empty socket as `false`. On a current-thread
    /// runtime the reader task cannot run while the test does not yield, so the only reader
    /// of the later datagrams is `take_waiting`.
    #[tokio::test(flavor = "current_thread")]
    async fn a_waiting_receiver_reads_what_is_queued_itself_in_order() {
        let (peer, a, mut rx, me) = adapter_and_peer().await;
        assert!(!a.take_waiting(), "nothing was sent yet");
        // Two datagrams for the reader task.
        peer.send_to(b"r0", me).unwrap();
        peer.send_to(b"r1", me).unwrap();
        let mut got = vec![next(&mut rx).await, next(&mut rx).await];
        // More than a batch for the receiver itself: no yield from here on.
        let n = 2 * BATCH_SLOTS + 3;
        for k in 0..n {
            peer.send_to(format!("t{k}").as_bytes(), me).unwrap();
        }
        let mut tries = 0;
        while rx.len() < n {
            a.take_waiting();
            tries += 1;
            assert!(tries < 200, "only {} of {n} datagrams read", rx.len());
            std::thread::sleep(Duration::from_millis(5));
        }
        for _ in 0..n {
            got.push(rx.try_recv().expect("read without yielding"));
        }
        let texts: Vec<String> = got
            .iter()
            .map(|i| String::from_utf8_lossy(&i.datagram.payload).into_owned())
            .collect();
        let want: Vec<String> = ["r0", "r1"]
            .into_iter()
            .map(String::from)
            .chain((0..n).map(|k| format!("t{k}")))
            .collect();
        assert_eq!(texts, want);
        assert!(
            got.windows(2).all(|w| w[0].seq < w[1].seq),
            "seq out of order"
        );
        assert!(got
            .iter()
            .all(|i| i.datagram.meta.dst_port == Some(me.port())));
        assert!(!a.take_waiting(), "the socket is empty again");
        // The reader task, woken later by the same arrivals, finds nothing to add.
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(rx.try_recv().is_err(), "a datagram was delivered twice");
    }

    /// After [`TAKE_SKIP_AFTER`] empty takes in a row, a take reads the socket only every
    /// [`TAKE_PROBE_EVERY`]th call; a probe that finds a datagram brings back reading on every
    /// call. Current-thread runtime: nothing but `take_waiting` reads while the test runs.
    #[tokio::test(flavor = "current_thread")]
    async fn a_receiver_stops_looking_at_an_empty_socket_until_a_probe_finds_data() {
        let (peer, a, mut rx, me) = adapter_and_peer().await;
        // A loopback `sendto` queues the datagram on the receiving socket before it returns.
        for _ in 0..=TAKE_SKIP_AFTER {
            assert!(!a.take_waiting());
        }
        peer.send_to(b"late", me).unwrap();
        // Blocking, not yielding: the reader task still cannot run.
        std::thread::sleep(Duration::from_millis(10));
        let mut calls = 1;
        while !a.take_waiting() {
            calls += 1;
            assert!(calls <= TAKE_PROBE_EVERY, "no probe within {calls} calls");
        }
        assert_eq!(calls, TAKE_PROBE_EVERY, "the probe came at the wrong take");
        assert_eq!(rx.try_recv().unwrap().datagram.payload, b"late");
        // A hit: the next datagram is read by the very next take.
        peer.send_to(b"early", me).unwrap();
        std::thread::sleep(Duration::from_millis(10));
        assert!(a.take_waiting(), "not read at once after a hit");
        assert_eq!(rx.try_recv().unwrap().datagram.payload, b"early");
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
