//! Live tests against real servers in real labs. Each needs root and the server binary; when
//! either is missing the test prints `SKIPPED: ... because ...` and returns.
//!
//! All traffic stays inside the namespaces each test's lab creates (192.0.2.0/24, TEST-NET-1).

mod common;

use common::*;
use conform_adapters::raw::RawAdapter;
use conform_adapters::AdapterError;
use conform_lab::{AdapterKind, Lab, LabError, LabOptions, Profile};
use std::net::Ipv4Addr;
use std::time::Duration;

/// Per-reply timeout: generous, udhcpd needs ~25 ms per reply (lab.md 3.2).
const REPLY: Duration = Duration::from_secs(2);
/// Timed repetitions after the first, checked DORA.
const REPS: u8 = 20;

/// Starts `profile` with `adapter`, runs one checked DORA and `REPS` timed ones, shuts the lab
/// down and checks that nothing is left.
async fn dora_against(profile: &str, binary: &str, adapter: AdapterKind, mac_tag: u8) {
    dora_against_paced(profile, binary, adapter, mac_tag, Duration::ZERO).await
}

/// `dora_against` with a pause before every message.
async fn dora_against_paced(
    profile: &str,
    binary: &str,
    adapter: AdapterKind,
    mac_tag: u8,
    pace: Duration,
) {
    let test = format!("dora_{profile}_{}", adapter.as_str());
    if skip(&test, &[binary]) {
        return;
    }
    let p = Profile::resolve(profile).unwrap();
    let lab = Lab::start(
        p,
        LabOptions {
            adapter: Some(adapter),
            ..LabOptions::default()
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{test}: lab did not start: {e}"));
    let names = lab.names().clone();
    let a = lab.adapter();
    let relay = (adapter == AdapterKind::Relay).then(|| {
        (
            lab.params()["relay_ip"].parse().unwrap(),
            lab.params()["server_ip"].parse().unwrap(),
        )
    });

    let result = async {
        let first = dora_paced(a.as_ref(), 0x0c0f_0000 | u32::from(mac_tag) << 8, [0x02, 0xcf, 0, 0, mac_tag, 0], relay, REPLY, pace).await?;
        let (o, k) = (&first.offer.reply, &first.ack.reply);
        if !in_pool(k.yiaddr) {
            return Err(format!("ACK yiaddr {} not in pool", k.yiaddr));
        }
        if o.yiaddr != k.yiaddr {
            return Err(format!("OFFER {} and ACK {} differ", o.yiaddr, k.yiaddr));
        }
        if k.server_id != Some(Ipv4Addr::new(192, 0, 2, 1)) {
            return Err(format!("ACK server id {:?}", k.server_id));
        }
        if first.ack.meta.udp_checksum_ok == Some(false) {
            return Err("ACK with a bad UDP checksum".into());
        }
        if relay.is_some() && k.giaddr != Ipv4Addr::new(192, 0, 2, 2) {
            return Err(format!("relayed ACK giaddr {}", k.giaddr));
        }
        eprintln!(
            "{test}: OFFER {} ACK {} lease {:?} router {:?}; reply to {:?}/{:?} ip_len {:?} checksum_ok {:?}",
            o.yiaddr, k.yiaddr, k.lease_time, k.router, first.ack.meta.eth_dst.map(conform_lab::profile::format_mac),
            first.ack.meta.ip_dst, first.ack.meta.ip_len, first.ack.meta.udp_checksum_ok
        );
        let (mut offers, mut acks) = (Vec::new(), Vec::new());
        for i in 1..=REPS {
            let d = dora_paced(a.as_ref(), 0x0c0f_0000 | u32::from(mac_tag) << 8 | u32::from(i), [0x02, 0xcf, 0, 0, mac_tag, i], relay, REPLY, pace)
                .await?;
            if !in_pool(d.ack.reply.yiaddr) {
                return Err(format!("ACK yiaddr {} not in pool", d.ack.reply.yiaddr));
            }
            offers.push(d.offer.latency);
            acks.push(d.ack.latency);
        }
        eprintln!(
            "MEASURED {test}: startup→ready {} | DISCOVER→OFFER median {} (min {}, max {}) | REQUEST→ACK median {} (min {}, max {}) | n={REPS}",
            ms(lab.ready_after().unwrap_or_default()),
            ms(median(offers.clone())),
            ms(*offers.iter().min().unwrap()),
            ms(*offers.iter().max().unwrap()),
            ms(median(acks.clone())),
            ms(*acks.iter().min().unwrap()),
            ms(*acks.iter().max().unwrap()),
        );
        Ok::<(), String>(())
    }
    .await;
    let log = lab.log_path().to_path_buf();
    let run_dir = lab.run_dir().to_path_buf();
    lab.shutdown().await;
    assert_no_leftovers(&names);
    if result.is_ok() {
        // Kept only when the test fails: the log is the evidence.
        let _ = std::fs::remove_dir_all(&run_dir);
    }
    if let Err(e) = result {
        let tail = std::fs::read_to_string(&log).unwrap_or_default();
        panic!("{test}: {e}\nserver log {}:\n{tail}", log.display());
    }
}

#[tokio::test]
async fn dora_dnsmasq_raw() {
    dora_against("dnsmasq", "dnsmasq", AdapterKind::Raw, 0x10).await;
}

#[tokio::test]
async fn dora_kea_raw() {
    dora_against("kea", "kea-dhcp4", AdapterKind::Raw, 0x11).await;
}

#[tokio::test]
async fn dora_isc_dhcpd_raw() {
    dora_against("isc-dhcpd", "dhcpd", AdapterKind::Raw, 0x12).await;
}

#[tokio::test]
async fn dora_udhcpd_raw() {
    dora_against("udhcpd", "busybox", AdapterKind::Raw, 0x13).await;
}

#[tokio::test]
async fn dora_dnsmasq_relay() {
    dora_against("dnsmasq", "dnsmasq", AdapterKind::Relay, 0x20).await;
}

#[tokio::test]
async fn dora_dnsmasq_tap() {
    dora_against("dnsmasq", "dnsmasq", AdapterKind::Tap, 0x30).await;
}

#[tokio::test]
async fn dora_kea_tap() {
    dora_against("kea", "kea-dhcp4", AdapterKind::Tap, 0x31).await;
}

/// A configuration check that fails stops the start with the checker's output.
#[tokio::test]
async fn kea_config_check_rejects_broken_config() {
    if skip("kea_config_check_rejects_broken_config", &["kea-dhcp4"]) {
        return;
    }
    let mut p = Profile::resolve("kea").unwrap();
    p.files.insert(
        "kea-dhcp4.conf".into(),
        "{ \"Dhcp4\": { \"valid-lifetime\": \"soon\" } }".into(),
    );
    let err = Lab::start(p, LabOptions::default())
        .await
        .err()
        .expect("must fail");
    assert!(matches!(err, LabError::ConfigRejected { .. }), "{err}");
    if let LabError::ConfigRejected { dir, .. } = &err {
        assert!(dir.join("kea-dhcp4.conf").exists());
        let _ = std::fs::remove_dir_all(dir);
    }
    assert!(
        err.to_string().contains("kea rejected its configuration"),
        "{err}"
    );
}

/// restart_server gives a new PID, the server answers again (and, for servers that persist
/// leases, the same address to the same client), and a killed server is seen dead and reaped.
async fn restart_and_liveness(profile: &str, binary: &str, tag: u8) {
    let test = format!("restart_and_liveness_{profile}");
    if skip(&test, &[binary]) {
        return;
    }
    let lab = Lab::start(Profile::resolve(profile).unwrap(), LabOptions::default())
        .await
        .unwrap();
    let names = lab.names().clone();
    let pid1 = lab.server_pid().unwrap();
    assert!(lab.server_alive());
    let a = lab.adapter();
    let chaddr = [0x02, 0xcf, 0, 0, tag, 1];
    let before = dora(
        a.as_ref(),
        0x0c0f_4001 | u32::from(tag) << 8,
        chaddr,
        None,
        REPLY,
    )
    .await;
    let t = std::time::Instant::now();
    let restart = lab.restart_server().await;
    let wall = t.elapsed();
    let pid2 = lab.server_pid().unwrap();
    let after = dora(
        a.as_ref(),
        0x0c0f_4002 | u32::from(tag) << 8,
        chaddr,
        None,
        REPLY,
    )
    .await;
    conform_adapters::sys::send_signal(pid2, 9).unwrap();
    let mut dead = false;
    for _ in 0..200 {
        if !lab.server_alive() {
            dead = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let status = lab.server_exit_status();
    let log = std::fs::read_to_string(lab.log_path()).unwrap_or_default();
    let run_dir = lab.run_dir().to_path_buf();
    lab.shutdown().await;
    let _ = std::fs::remove_dir_all(&run_dir);
    assert_no_leftovers(&names);
    let took = restart.unwrap_or_else(|e| panic!("{test}: restart failed: {e}\n{log}"));
    let before = before.unwrap_or_else(|e| panic!("{test}: DORA before restart: {e}\n{log}"));
    let after = after.unwrap_or_else(|e| panic!("{test}: DORA after restart: {e}\n{log}"));
    eprintln!(
        "MEASURED {test}: restart (stop + start + ready) {}, start→ready {}; address before {} after {}",
        ms(wall),
        ms(took),
        before.ack.reply.yiaddr,
        after.ack.reply.yiaddr
    );
    assert_ne!(pid1, pid2);
    assert!(dead, "SIGKILLed server still reported alive");
    assert_eq!(status.as_deref(), Some("killed by signal 9"));
    // The lab's adapter is closed after shutdown.
    assert!(a.send(&conform_codec::Datagram::default()).await.is_err());
}

#[tokio::test]
async fn restart_and_liveness_dnsmasq() {
    restart_and_liveness("dnsmasq", "dnsmasq", 0x40).await;
}

#[tokio::test]
async fn restart_and_liveness_kea() {
    restart_and_liveness("kea", "kea-dhcp4", 0x41).await;
}

#[tokio::test]
async fn restart_and_liveness_isc_dhcpd() {
    restart_and_liveness("isc-dhcpd", "dhcpd", 0x42).await;
}

#[tokio::test]
async fn restart_and_liveness_udhcpd() {
    restart_and_liveness("udhcpd", "busybox", 0x43).await;
}

/// A missing interface is a clear error, both from the raw adapter and from Lab::attach.
/// Needs no privileges: the lookup fails before any socket is opened.
#[tokio::test]
async fn no_such_interface_is_named() {
    let e = RawAdapter::open("cfnosuch0", conform_adapters::raw::RawConfig::dhcp_client())
        .await
        .err()
        .unwrap();
    assert!(
        matches!(e, AdapterError::NoSuchInterface(ref n) if n == "cfnosuch0"),
        "{e}"
    );
    assert_eq!(e.to_string(), "no such interface `cfnosuch0`");
    let e = Lab::attach(
        Profile::resolve("dnsmasq").unwrap(),
        "cfnosuch0",
        LabOptions::default(),
    )
    .await
    .err()
    .unwrap();
    assert!(
        matches!(e, LabError::NoSuchInterface(ref n) if n == "cfnosuch0"),
        "{e}"
    );
}

/// A missing server binary is named together with the package to install.
#[tokio::test]
async fn missing_binary_names_the_package() {
    if !conform_lab::is_root() {
        loud("SKIPPED: missing_binary_names_the_package because the root check comes first");
        return;
    }
    let mut p = Profile::resolve("dnsmasq").unwrap();
    p.command[0] = "dnsmasq-not-installed-here".into();
    let e = Lab::start(p, LabOptions::default()).await.err().unwrap();
    assert_eq!(
        e.to_string(),
        "dnsmasq-not-installed-here not found: apt-get install dnsmasq-base"
    );
}

#[tokio::test]
async fn dora_kea_relay() {
    dora_against("kea", "kea-dhcp4", AdapterKind::Relay, 0x21).await;
}

#[tokio::test]
async fn dora_isc_dhcpd_relay() {
    dora_against("isc-dhcpd", "dhcpd", AdapterKind::Relay, 0x22).await;
}

/// Paced: busybox udhcpd 1.35 answers a relay through a fresh UDP socket bound to
/// server_ip:67 and connected to giaddr:67, exactly the 4-tuple of the relay's next request
/// (relays send from port 67). A request that arrives before udhcpd closes that socket is
/// queued on it and lost (UdpInDatagrams does not count it, IpInDelivers does). Back to back,
/// 1 to 5 of 10 DORAs failed here; with 5 ms between messages none did.
#[tokio::test]
async fn dora_udhcpd_relay() {
    dora_against_paced(
        "udhcpd",
        "busybox",
        AdapterKind::Relay,
        0x23,
        Duration::from_millis(5),
    )
    .await;
}

#[tokio::test]
async fn dora_isc_dhcpd_tap() {
    dora_against("isc-dhcpd", "dhcpd", AdapterKind::Tap, 0x32).await;
}

#[tokio::test]
async fn dora_udhcpd_tap() {
    dora_against("udhcpd", "busybox", AdapterKind::Tap, 0x33).await;
}

/// Without root the lab refuses to start with an error that says so.
#[tokio::test]
async fn not_root_is_reported() {
    if conform_lab::is_root() {
        loud("SKIPPED: not_root_is_reported because the test runs as root");
        return;
    }
    let e = Lab::start(Profile::resolve("dnsmasq").unwrap(), LabOptions::default())
        .await
        .err()
        .unwrap();
    assert!(matches!(e, LabError::NotRoot), "{e}");
    assert!(e.to_string().contains("needs root"), "{e}");
}
