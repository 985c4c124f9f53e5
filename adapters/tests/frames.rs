//! Frame-level adapters against the real kernel, without any server: two raw adapters on the
//! ends of a veth pair, and a tap adapter facing a raw adapter on the tap's kernel side. Each
//! test builds its own namespaces (`cf<pid>-a<n>{a,b}`), removed by a guard even on panic.
//! Needs root; otherwise prints `SKIPPED: ... because ...` and returns.

use conform_adapters::raw::{FrameDefaults, RawAdapter, RawConfig};
use conform_adapters::tap::TapAdapter;
use conform_adapters::{Adapter, AdapterError, Incoming};
use conform_codec::{Datagram, Meta};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;
use tokio::sync::broadcast;

static NEXT: AtomicU32 = AtomicU32::new(0);

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false)
}

/// Writes a line straight to stderr: libtest captures `eprintln!` of passing tests, and a skip
/// must be visible without `--nocapture`.
fn loud(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{line}");
}

fn skip(test: &str) -> bool {
    let why = if !is_root() {
        Some("the test is not running as root (network namespaces and AF_PACKET need it)")
    } else if Command::new("ip").arg("-V").output().is_err() {
        Some("`ip` (iproute2) is not installed")
    } else {
        None
    };
    if let Some(why) = why {
        loud(&format!("SKIPPED: {test} because {why}"));
    }
    why.is_some()
}

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("run ip");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Namespaces this test made; deleted on drop (which also removes their links).
struct Netns(Vec<String>);

impl Drop for Netns {
    fn drop(&mut self) {
        for n in &self.0 {
            let _ = Command::new("ip").args(["netns", "del", n]).output();
        }
    }
}

fn prefix() -> String {
    format!(
        "cf{}-a{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

fn dgram(payload: &[u8], sport: u16, dport: u16) -> Datagram {
    Datagram {
        payload: payload.to_vec(),
        meta: Meta {
            src_port: Some(sport),
            dst_port: Some(dport),
            ..Meta::default()
        },
    }
}

async fn next(rx: &mut broadcast::Receiver<Incoming>, within: Duration) -> Option<Incoming> {
    tokio::time::timeout(within, rx.recv())
        .await
        .ok()
        .and_then(Result::ok)
}

#[tokio::test]
async fn raw_pair_delivers_filters_and_never_echoes() {
    if skip("raw_pair_delivers_filters_and_never_echoes") {
        return;
    }
    let p = prefix();
    let (na, nb, ia, ib) = (
        format!("{p}a"),
        format!("{p}b"),
        format!("{p}a0"),
        format!("{p}b0"),
    );
    ip(&["netns", "add", &na]);
    let _guard_a = Netns(vec![na.clone()]);
    ip(&["netns", "add", &nb]);
    let _guard_b = Netns(vec![nb.clone()]);
    ip(&[
        "link", "add", &ia, "netns", &na, "type", "veth", "peer", "name", &ib, "netns", &nb,
    ]);
    ip(&[
        "-n",
        &na,
        "link",
        "set",
        &ia,
        "address",
        "02:cf:aa:00:00:01",
        "up",
    ]);
    ip(&[
        "-n",
        &nb,
        "link",
        "set",
        &ib,
        "address",
        "02:cf:bb:00:00:01",
        "up",
    ]);

    let a = RawAdapter::open_in_netns(&na, &ia, RawConfig::dhcp_client())
        .await
        .unwrap();
    let b = RawAdapter::open_in_netns(&nb, &ib, RawConfig::dhcp_client())
        .await
        .unwrap();
    let b53 = RawAdapter::open_in_netns(
        &nb,
        &ib,
        RawConfig::udp(
            vec![53],
            FrameDefaults {
                src_port: 5353,
                dst_port: 53,
                ..FrameDefaults::dhcp_client()
            },
        ),
    )
    .await
    .unwrap();
    assert_eq!(a.mac(), [0x02, 0xcf, 0xaa, 0, 0, 1]);
    assert!(
        a.describe().contains(&ia) && a.describe().contains(&na),
        "{}",
        a.describe()
    );
    let (mut rx_a, mut rx_b, mut rx_b53) = (a.subscribe(), b.subscribe(), b53.subscribe());

    // DHCP client defaults: broadcast from the interface MAC, 0.0.0.0:68 -> 255.255.255.255:67.
    a.send(&Datagram {
        payload: b"discover".to_vec(),
        meta: Meta::default(),
    })
    .await
    .unwrap();
    let got = next(&mut rx_b, Duration::from_secs(2))
        .await
        .expect("b receives a's frame");
    assert_eq!(got.datagram.payload, b"discover");
    let m = &got.datagram.meta;
    assert_eq!(m.eth_src, Some(a.mac()));
    assert_eq!(m.eth_dst, Some([0xff; 6]));
    assert_eq!(m.ip_src, Some("0.0.0.0".parse().unwrap()));
    assert_eq!(m.ip_dst, Some("255.255.255.255".parse().unwrap()));
    assert_eq!((m.src_port, m.dst_port), (Some(68), Some(67)));
    assert_eq!(m.udp_checksum_ok, Some(true));

    // A frame to a MAC that is not b's (PACKET_OTHERHOST) still reaches b: servers unicast to
    // chaddr, which is not the interface's address.
    let mut other = dgram(b"unicast", 67, 68);
    other.meta.eth_dst = Some([0x02, 0xcf, 0x12, 0x34, 0x56, 0x78]);
    other.meta.eth_src = Some([0x02, 0xcf, 0x99, 0, 0, 9]);
    a.send(&other).await.unwrap();
    let got = next(&mut rx_b, Duration::from_secs(2))
        .await
        .expect("b receives other-host frame");
    assert_eq!(got.datagram.payload, b"unicast");
    assert_eq!(got.datagram.meta.eth_src, Some([0x02, 0xcf, 0x99, 0, 0, 9]));

    // Not DHCP: dropped by b's kernel filter, delivered to the port-53 adapter.
    a.send(&dgram(b"dns?", 5353, 53)).await.unwrap();
    let got = next(&mut rx_b53, Duration::from_secs(2))
        .await
        .expect("b53 receives port 53");
    assert_eq!(got.datagram.payload, b"dns?");

    // Let anything in flight arrive, then check what must not have arrived.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        rx_b.try_recv().is_err(),
        "the DHCP-filtered adapter got a port-53 frame"
    );
    assert!(rx_a.try_recv().is_err(), "a received its own frames");
    assert_eq!(
        b.stats().unparsed,
        0,
        "the kernel filter should have dropped the DNS frame"
    );
    assert_eq!(a.stats().delivered, 0);
    // b53 only saw the DNS frame although the two DHCP frames crossed the same link.
    assert!(rx_b53.try_recv().is_err());
    assert_eq!(b.stats().delivered, 2);
}

#[tokio::test]
async fn tap_adapter_faces_the_kernel_side_of_its_tap() {
    if skip("tap_adapter_faces_the_kernel_side_of_its_tap") {
        return;
    }
    if !std::path::Path::new("/dev/net/tun").exists() {
        eprintln!(
            "SKIPPED: tap_adapter_faces_the_kernel_side_of_its_tap because /dev/net/tun is missing"
        );
        return;
    }
    let p = prefix();
    let (ns, tap) = (format!("{p}a"), format!("{p}t"));
    ip(&["netns", "add", &ns]);
    let _guard = Netns(vec![ns.clone()]);
    ip(&["-n", &ns, "tuntap", "add", "dev", &tap, "mode", "tap"]);
    ip(&["-n", &ns, "link", "set", &tap, "up"]);

    let t = TapAdapter::open_in_netns(&ns, &tap, RawConfig::dhcp_client())
        .await
        .unwrap();
    let k = RawAdapter::open_in_netns(&ns, &tap, RawConfig::dhcp_client())
        .await
        .unwrap();
    let (mut rx_t, mut rx_k) = (t.subscribe(), k.subscribe());

    // Written into the tap = received by the kernel on the tap interface.
    t.send(&Datagram {
        payload: b"from-tap".to_vec(),
        meta: Meta::default(),
    })
    .await
    .unwrap();
    let got = next(&mut rx_k, Duration::from_secs(2))
        .await
        .expect("kernel side sees the tap's frame");
    assert_eq!(got.datagram.payload, b"from-tap");
    assert_eq!(
        got.datagram.meta.eth_src,
        Some(conform_adapters::tap::DEFAULT_TAP_MAC)
    );

    // Sent by the kernel on the tap interface = read from the tap fd.
    k.send(&dgram(b"to-tap", 67, 68)).await.unwrap();
    let got = next(&mut rx_t, Duration::from_secs(2))
        .await
        .expect("tap reads the kernel's frame");
    assert_eq!(got.datagram.payload, b"to-tap");
    assert_eq!(got.datagram.meta.udp_checksum_ok, Some(true));

    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        rx_t.try_recv().is_err(),
        "tap adapter received its own frame"
    );
}

#[tokio::test]
async fn missing_interface_tap_and_namespace_are_named() {
    let e = TapAdapter::open("cfnosuchtap0", RawConfig::dhcp_client())
        .await
        .err()
        .unwrap();
    assert!(
        matches!(e, AdapterError::NoSuchInterface(ref n) if n == "cfnosuchtap0"),
        "{e}"
    );
    let e = RawAdapter::open_in_netns("cfnosuchns", "eth0", RawConfig::dhcp_client())
        .await
        .err()
        .unwrap();
    let s = e.to_string();
    assert!(s.contains("cfnosuchns"), "{s}");
}

#[tokio::test]
async fn raw_socket_without_privilege_is_a_privilege_error() {
    if is_root() {
        loud("SKIPPED: raw_socket_without_privilege_is_a_privilege_error because the test runs as root");
        return;
    }
    let e = RawAdapter::open("lo", RawConfig::dhcp_client())
        .await
        .err()
        .unwrap();
    assert!(matches!(e, AdapterError::Privilege(_)), "{e}");
}
