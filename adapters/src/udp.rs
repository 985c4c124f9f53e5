//! Plain UDP socket adapter: DNS to a loopback or namespace address, and the base of the DHCP
//! relay adapter.

use crate::adapter::{Adapter, AdapterError, Incoming};
use async_trait::async_trait;
use conform_codec::{Datagram, Meta};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::SystemTime;
use tokio::net::UdpSocket;
use tokio::sync::broadcast;

/// A UDP socket bound locally, sending to a fixed server address unless the datagram's meta
/// names another destination.
pub struct UdpAdapter {
    sock: Arc<UdpSocket>,
    server: SocketAddr,
    tx: broadcast::Sender<Incoming>,
    reader: tokio::task::JoinHandle<()>,
}

impl UdpAdapter {
    /// Binds `local` and starts the receive loop.
    pub async fn bind(local: SocketAddr, server: SocketAddr) -> Result<Self, AdapterError> {
        let sock = UdpSocket::bind(local).await.map_err(|e| AdapterError::Io {
            what: format!("bind UDP socket to {local}"),
            source: e,
        })?;
        sock.set_broadcast(true).map_err(|e| AdapterError::Io {
            what: "enable SO_BROADCAST".into(),
            source: e,
        })?;
        let sock = Arc::new(sock);
        let (tx, _) = broadcast::channel(4096);
        let reader = {
            let sock = sock.clone();
            let tx = tx.clone();
            let local = sock.local_addr().ok();
            tokio::spawn(async move {
                let seq = AtomicU64::new(0);
                let mut buf = vec![0u8; 65536];
                loop {
                    let Ok((n, from)) = sock.recv_from(&mut buf).await else {
                        break;
                    };
                    let meta = Meta {
                        ip_src: Some(from.ip()),
                        src_port: Some(from.port()),
                        ip_dst: local.map(|l| l.ip()),
                        dst_port: local.map(|l| l.port()),
                        transport: "udp".into(),
                        ..Meta::default()
                    };
                    let _ = tx.send(Incoming {
                        datagram: Datagram {
                            payload: buf[..n].to_vec(),
                            meta,
                        },
                        at: SystemTime::now(),
                        seq: seq.fetch_add(1, Ordering::Relaxed),
                    });
                }
            })
        };
        Ok(UdpAdapter {
            sock,
            server,
            tx,
            reader,
        })
    }

    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.sock.local_addr().ok()
    }
}

impl Drop for UdpAdapter {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

#[async_trait]
impl Adapter for UdpAdapter {
    async fn send(&self, d: &Datagram) -> Result<(), AdapterError> {
        let to = match (d.meta.ip_dst, d.meta.dst_port) {
            (Some(ip), Some(port)) if !ip.is_unspecified() => SocketAddr::new(ip, port),
            _ => self.server,
        };
        self.sock
            .send_to(&d.payload, to)
            .await
            .map(|_| ())
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
