//! Readiness probes: how the lab decides that a freshly started server can be tested.
//!
//! Probing beats reading logs or PID files, whose formats differ per server (lab.md 10.4).
//! Every probe runs against a deadline and checks on each round that the server process is
//! still alive, so a server that dies during startup is reported at once with its exit status
//! rather than as a timeout.

use crate::dhcp_probe::{parse_reply, ClientMessage, OFFER};
use crate::profile::Probe;
use conform_adapters::{Adapter, AdapterError};
use conform_codec::{Datagram, Meta};
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;
use tokio::time::Instant;

/// Longest pause between two probe rounds (and between DISCOVER retransmissions).
const MAX_INTERVAL: Duration = Duration::from_millis(250);
/// How long DISCOVERs are retransmitted at the initial interval before backing off.
const STEADY: Duration = Duration::from_millis(300);
/// How often file- and /proc-based probes look again.
const POLL: Duration = Duration::from_millis(10);

/// Why a probe round did not (yet) succeed.
pub(crate) enum ProbeOutcome {
    Ready,
    /// The server process ended; the caller reports its status and log.
    ServerExited,
    TimedOut,
    /// The adapter failed in a way retrying will not fix.
    Adapter(AdapterError),
}

/// What the probes need to know about the lab.
pub(crate) struct ProbeCtx<'a> {
    pub adapter: &'a dyn Adapter,
    /// Relay mode: the DISCOVER is sent as a relay agent at this address would forward it.
    pub relay_ip: Option<Ipv4Addr>,
    /// The server's address, used as destination in relay and UDP modes.
    pub server_ip: Ipv4Addr,
    pub server_port: u16,
    /// The probe's own client MAC (never a test case's).
    pub probe_mac: [u8; 6],
    pub xid: u32,
    pub server_pid: Option<u32>,
    pub log: &'a Path,
    /// Resolved `log_line.file`, if the probe names one.
    pub log_line_file: Option<&'a Path>,
}

/// Runs `probe` until it succeeds, the server exits (`alive` returns false) or `deadline`.
pub(crate) async fn run(
    probe: &Probe,
    ctx: &ProbeCtx<'_>,
    deadline: Instant,
    alive: &(dyn Fn() -> bool + Sync),
) -> ProbeOutcome {
    match probe {
        Probe::DhcpOffer { interval } => dhcp_offer(ctx, *interval, deadline, alive).await,
        Probe::UdpPort(port) => {
            poll_until(deadline, alive, || {
                ctx.server_pid.is_some_and(|pid| udp_port_bound(pid, *port))
            })
            .await
        }
        Probe::LogLine { regex, .. } => {
            let file = ctx.log_line_file.unwrap_or(ctx.log);
            poll_until(deadline, alive, || {
                std::fs::read(file)
                    .map(|b| {
                        String::from_utf8_lossy(&b)
                            .lines()
                            .any(|l| regex.is_match(l))
                    })
                    .unwrap_or(false)
            })
            .await
        }
        Probe::Delay(d) => {
            let until = Instant::now() + *d;
            if until > deadline {
                tokio::time::sleep_until(deadline).await;
                return ProbeOutcome::TimedOut;
            }
            poll_until(deadline, alive, || Instant::now() >= until).await
        }
    }
}

async fn poll_until(
    deadline: Instant,
    alive: &(dyn Fn() -> bool + Sync),
    mut ready: impl FnMut() -> bool,
) -> ProbeOutcome {
    loop {
        if ready() {
            return ProbeOutcome::Ready;
        }
        if !alive() {
            return ProbeOutcome::ServerExited;
        }
        if Instant::now() >= deadline {
            return ProbeOutcome::TimedOut;
        }
        tokio::time::sleep(POLL.min(deadline.saturating_duration_since(Instant::now()))).await;
    }
}

/// Sends DISCOVERs from the probe MAC (every `interval` for 300 ms, then with exponential
/// backoff up to 250 ms) until an OFFER with the probe's xid arrives.
async fn dhcp_offer(
    ctx: &ProbeCtx<'_>,
    interval: Duration,
    deadline: Instant,
    alive: &(dyn Fn() -> bool + Sync),
) -> ProbeOutcome {
    let mut rx = ctx.adapter.subscribe();
    let mut msg = ClientMessage::discover(ctx.xid, ctx.probe_mac);
    let mut meta = Meta {
        eth_src: Some(ctx.probe_mac),
        ..Meta::default()
    };
    if let Some(relay) = ctx.relay_ip {
        msg = msg.relayed(relay);
        meta = Meta {
            ip_dst: Some(IpAddr::V4(ctx.server_ip)),
            dst_port: Some(ctx.server_port),
            ..Meta::default()
        };
    }
    let datagram = Datagram {
        payload: msg.build(),
        meta,
    };
    let mut gap = interval.max(Duration::from_millis(1));
    let started = Instant::now();
    let mut next_send = started;
    loop {
        let now = Instant::now();
        if now >= deadline {
            return ProbeOutcome::TimedOut;
        }
        if !alive() {
            return ProbeOutcome::ServerExited;
        }
        if now >= next_send {
            match ctx.adapter.send(&datagram).await {
                Ok(()) => {}
                // Missing privilege or interface will not go away by retrying.
                Err(e @ (AdapterError::Privilege(_) | AdapterError::NoSuchInterface(_))) => {
                    return ProbeOutcome::Adapter(e)
                }
                // Anything else (for example ICMP errors while the server is not yet bound)
                // is retried at the next round.
                Err(_) => {}
            }
            next_send = now + gap;
            // Steady at first (servers here are ready in 10-90 ms, lab.md 3.2), then back off
            // so a server that answers slowly is not flooded with requests it answers late.
            if now.duration_since(started) >= STEADY {
                gap = (gap * 2).min(MAX_INTERVAL);
            }
        }
        // Wake up for the next retransmission, the deadline, or at least every 50 ms to
        // notice a dead server.
        let wake = next_send.min(deadline).min(now + Duration::from_millis(50));
        match tokio::time::timeout_at(wake, rx.recv()).await {
            Ok(Ok(inc)) => {
                if let Some(r) = parse_reply(&inc.datagram.payload) {
                    if r.xid == ctx.xid && r.msg_type == Some(OFFER) {
                        return ProbeOutcome::Ready;
                    }
                }
            }
            Ok(Err(RecvError::Lagged(_))) => {}
            Ok(Err(RecvError::Closed)) => {
                return ProbeOutcome::Adapter(AdapterError::Other(
                    "the lab's adapter was closed".into(),
                ))
            }
            Err(_elapsed) => {}
        }
    }
}

/// Whether process `pid` has a UDP (or UDP6) socket bound to `port`. `/proc/<pid>/net/udp`
/// shows the sockets of the *process's* network namespace, so this sees into the server's
/// namespace without entering it or sending anything.
pub(crate) fn udp_port_bound(pid: u32, port: u16) -> bool {
    let want = format!(":{port:04X}");
    ["udp", "udp6"].iter().any(|f| {
        std::fs::read_to_string(format!("/proc/{pid}/net/{f}"))
            .map(|t| {
                t.lines().skip(1).any(|l| {
                    l.split_whitespace()
                        .nth(1)
                        .is_some_and(|local| local.ends_with(&want))
                })
            })
            .unwrap_or(false)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn udp_port_probe_sees_own_socket() {
        let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = s.local_addr().unwrap().port();
        assert!(udp_port_bound(std::process::id(), port));
        drop(s);
        assert!(!udp_port_bound(std::process::id(), port));
    }

    #[tokio::test]
    async fn poll_until_reports_exit_and_timeout() {
        let deadline = Instant::now() + Duration::from_millis(50);
        assert!(matches!(
            poll_until(deadline, &|| false, || false).await,
            ProbeOutcome::ServerExited
        ));
        assert!(matches!(
            poll_until(deadline, &|| true, || false).await,
            ProbeOutcome::TimedOut
        ));
        assert!(matches!(
            poll_until(deadline, &|| true, || true).await,
            ProbeOutcome::Ready
        ));
    }
}
