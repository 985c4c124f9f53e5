//! Helpers shared by the live lab tests: skip rules, a hand-built DORA, leftover checks.
#![allow(dead_code)]

use conform_adapters::Adapter;
use conform_codec::{Datagram, Meta};
use conform_lab::dhcp_probe::{parse_reply, ClientMessage, Reply, ACK, OFFER};
use conform_lab::{find_binary, is_root, LabNames};
use std::net::{IpAddr, Ipv4Addr};
use std::process::Command;
use std::time::{Duration, Instant};

/// Why a live test cannot run here, if it cannot: not root, or a program missing.
pub fn skip_reason(binaries: &[&str]) -> Option<String> {
    if !is_root() {
        return Some(
            "the test is not running as root (namespaces, veth and raw sockets need it)".into(),
        );
    }
    if !std::path::Path::new("/dev/net/tun").exists() {
        return Some("/dev/net/tun is missing".into());
    }
    for b in std::iter::once(&"ip").chain(binaries) {
        if find_binary(b).is_none() {
            return Some(format!(
                "`{b}` is not installed (run ci/install-servers.sh)"
            ));
        }
    }
    None
}

/// Prints the loud skip line and returns true if the test must skip.
pub fn skip(test: &str, binaries: &[&str]) -> bool {
    match skip_reason(binaries) {
        Some(why) => {
            loud(&format!("SKIPPED: {test} because {why}"));
            true
        }
        None => false,
    }
}

/// Writes a line straight to stderr. libtest captures `eprintln!` of passing tests; a skip must
/// be visible without `--nocapture`.
pub fn loud(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// One reply and how long it took.
pub struct Got {
    pub reply: Reply,
    pub meta: Meta,
    pub latency: Duration,
}

/// Outcome of a DISCOVER → OFFER → REQUEST → ACK exchange.
pub struct Dora {
    pub offer: Got,
    pub ack: Got,
}

/// Sends `msg` and waits up to `within` for a reply with the same xid and type `want`.
pub async fn exchange(
    adapter: &dyn Adapter,
    msg: &ClientMessage,
    meta: &Meta,
    want: u8,
    within: Duration,
) -> Result<Got, String> {
    let mut rx = adapter.subscribe();
    let d = Datagram {
        payload: msg.build(),
        meta: meta.clone(),
    };
    let t0 = Instant::now();
    adapter
        .send(&d)
        .await
        .map_err(|e| format!("send failed: {e}"))?;
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Err(_) => {
                return Err(format!(
                    "no reply of type {want} to xid {:#x} within {within:?}",
                    msg.xid
                ))
            }
            Ok(Err(tokio::sync::broadcast::error::RecvError::Lagged(_))) => continue,
            Ok(Err(e)) => return Err(format!("adapter closed: {e}")),
            Ok(Ok(inc)) => {
                let latency = t0.elapsed();
                if let Some(r) = parse_reply(&inc.datagram.payload) {
                    if r.xid == msg.xid && r.msg_type == Some(want) {
                        return Ok(Got {
                            reply: r,
                            meta: inc.datagram.meta,
                            latency,
                        });
                    }
                }
            }
        }
    }
}

/// A full DORA from `chaddr`; in relay mode as a relay agent at `relay` towards `server`.
pub async fn dora(
    adapter: &dyn Adapter,
    xid: u32,
    chaddr: [u8; 6],
    relay: Option<(Ipv4Addr, Ipv4Addr)>,
    within: Duration,
) -> Result<Dora, String> {
    dora_paced(adapter, xid, chaddr, relay, within, Duration::ZERO).await
}

/// `dora` with a pause of `pace` before each message (for servers that cannot take a request
/// right after their own reply; see the udhcpd relay test).
pub async fn dora_paced(
    adapter: &dyn Adapter,
    xid: u32,
    chaddr: [u8; 6],
    relay: Option<(Ipv4Addr, Ipv4Addr)>,
    within: Duration,
    pace: Duration,
) -> Result<Dora, String> {
    let (mut discover, meta) = match relay {
        None => (
            ClientMessage::discover(xid, chaddr),
            Meta {
                eth_src: Some(chaddr),
                ..Meta::default()
            },
        ),
        Some((relay_ip, server)) => (
            ClientMessage::discover(xid, chaddr).relayed(relay_ip),
            Meta {
                ip_dst: Some(IpAddr::V4(server)),
                dst_port: Some(67),
                ..Meta::default()
            },
        ),
    };
    tokio::time::sleep(pace).await;
    let offer = exchange(adapter, &discover, &meta, OFFER, within).await?;
    let server_id = offer
        .reply
        .server_id
        .ok_or("OFFER without server identifier (option 54)")?;
    discover = ClientMessage::request(xid, chaddr, offer.reply.yiaddr, server_id);
    if let Some((relay_ip, _)) = relay {
        discover = discover.relayed(relay_ip);
    }
    tokio::time::sleep(pace).await;
    let ack = exchange(adapter, &discover, &meta, ACK, within).await?;
    Ok(Dora { offer, ack })
}

pub fn in_pool(a: Ipv4Addr) -> bool {
    (u32::from(Ipv4Addr::new(192, 0, 2, 100))..=u32::from(Ipv4Addr::new(192, 0, 2, 200)))
        .contains(&u32::from(a))
}

/// Asserts that nothing of the lab is left: no namespace, no interface with its id.
pub fn assert_no_leftovers(names: &LabNames) {
    let ns = Command::new("ip")
        .args(["netns", "list"])
        .output()
        .expect("ip netns list");
    let ns = String::from_utf8_lossy(&ns.stdout);
    for n in [&names.server_ns, &names.client_ns] {
        assert!(
            !ns.lines()
                .any(|l| l.split_whitespace().next() == Some(n.as_str())),
            "namespace {n} left behind:\n{ns}"
        );
    }
    let links = Command::new("ip")
        .args(["-br", "link"])
        .output()
        .expect("ip link");
    let links = String::from_utf8_lossy(&links.stdout);
    let tag = format!("cf{}", names.id);
    assert!(
        !links.contains(&tag),
        "interface with {tag} left behind:\n{links}"
    );
    assert!(
        !std::path::Path::new(&format!("/var/run/netns/{}", names.server_ns)).exists(),
        "netns mount point left behind"
    );
}

pub fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

pub fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1000.0)
}
