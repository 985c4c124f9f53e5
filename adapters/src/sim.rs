//! An in-process simulated peer, for unit tests of the runner only.
//!
//! The peer is a closure from a request to zero or more delayed replies. It is never evidence
//! that conform works against a real server: acceptance tests use the lab.

use crate::adapter::{Adapter, AdapterError, Incoming};
use async_trait::async_trait;
use conform_codec::Datagram;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::sync::broadcast;

/// Replies of the simulated peer to one request: each after its own delay.
pub type Responder = dyn Fn(&Datagram) -> Vec<(Duration, Datagram)> + Send + Sync;

/// A simulated server driven by a responder closure. Replies are scheduled with tokio timers,
/// so tests with paused time are deterministic.
pub struct SimAdapter {
    responder: Arc<Responder>,
    tx: broadcast::Sender<Incoming>,
    seq: Arc<AtomicU64>,
    sent: Arc<std::sync::Mutex<Vec<Datagram>>>,
}

impl SimAdapter {
    pub fn new(responder: Arc<Responder>) -> Self {
        let (tx, _) = broadcast::channel(4096);
        SimAdapter {
            responder,
            tx,
            seq: Arc::new(AtomicU64::new(0)),
            sent: Arc::default(),
        }
    }

    /// Everything the runner sent so far, for assertions.
    pub fn sent(&self) -> Vec<Datagram> {
        self.sent.lock().map(|g| g.clone()).unwrap_or_default()
    }
}

#[async_trait]
impl Adapter for SimAdapter {
    async fn send(&self, d: &Datagram) -> Result<(), AdapterError> {
        if let Ok(mut g) = self.sent.lock() {
            g.push(d.clone());
        }
        for (delay, reply) in (self.responder)(d) {
            let tx = self.tx.clone();
            let seq = self.seq.clone();
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                let _ = tx.send(Incoming {
                    datagram: reply,
                    at: SystemTime::now(),
                    seq: seq.fetch_add(1, Ordering::Relaxed),
                });
            });
        }
        Ok(())
    }

    fn subscribe(&self) -> broadcast::Receiver<Incoming> {
        self.tx.subscribe()
    }

    fn describe(&self) -> String {
        "sim (in-process simulated peer)".into()
    }
}
