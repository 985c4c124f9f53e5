//! Startup failures: a server that never answers, one that exits at once. Own test binary (own
//! process), with the tests serialised, so "no namespace of this process is left" is exact.

mod common;

use common::*;
use conform_lab::{Lab, LabError, LabOptions, Profile};
use std::time::Duration;

static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Namespaces of this process that `ip netns list` still shows.
fn own_namespaces() -> Vec<String> {
    let out = std::process::Command::new("ip")
        .args(["netns", "list"])
        .output()
        .expect("ip netns list");
    let prefix = format!("cf{}-", std::process::id());
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| n.starts_with(&prefix))
        .map(str::to_owned)
        .collect()
}

fn own_links() -> Vec<String> {
    let out = std::process::Command::new("ip")
        .args(["-br", "link"])
        .output()
        .expect("ip link");
    let prefix = format!("cf{}-", std::process::id());
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.starts_with(&prefix))
        .map(str::to_owned)
        .collect()
}

/// A "server" that runs but never answers: the readiness probe times out with an error that
/// names the server and its log, and the lab (namespaces, veth, the process) is gone afterwards.
#[tokio::test]
async fn server_never_answers_times_out_and_lab_is_removed() {
    let _serial = SERIAL.lock().await;
    if skip(
        "server_never_answers_times_out_and_lab_is_removed",
        &["sleep"],
    ) {
        return;
    }
    let p = Profile::from_yaml_str(
        "name: mute\nprotocol: dhcp\nadapter: raw\ncommand: [sleep, '30']\nready:\n  probe: dhcp_offer\n  timeout_ms: 400\nstop:\n  grace_ms: 100\n",
        "test:mute",
    )
    .unwrap();
    let t = std::time::Instant::now();
    let err = Lab::start(p, LabOptions::default())
        .await
        .err()
        .expect("must not become ready");
    let elapsed = t.elapsed();
    let msg = err.to_string();
    assert!(matches!(err, LabError::ReadyTimeout { .. }), "{msg}");
    if let LabError::ReadyTimeout { log, .. } = &err {
        assert!(
            log.exists(),
            "the log must survive the lab: {}",
            log.display()
        );
        let _ = std::fs::remove_dir_all(log.parent().unwrap());
    }
    assert!(
        msg.contains("mute did not become ready within 400 ms (probe: dhcp_offer)"),
        "{msg}"
    );
    assert!(msg.contains("server.log"), "{msg}");
    assert!(elapsed < Duration::from_secs(5), "took {elapsed:?}");
    assert_eq!(own_namespaces(), Vec::<String>::new());
    assert_eq!(own_links(), Vec::<String>::new());
    assert!(conform_lab::live_namespaces().is_empty());
    eprintln!("MEASURED never-answers: error after {}", ms(elapsed));
}

/// A server that exits during startup is reported with its exit status and log tail, and the
/// lab is removed.
#[tokio::test]
async fn server_exiting_at_startup_is_reported() {
    let _serial = SERIAL.lock().await;
    if skip("server_exiting_at_startup_is_reported", &["sh"]) {
        return;
    }
    let p = Profile::from_yaml_str(
        "name: crashy\nprotocol: dhcp\nadapter: raw\ncommand: [sh, -c, 'echo config broken on {iface} >&2; exit 3']\nready:\n  probe: dhcp_offer\n  timeout_ms: 3000\n",
        "test:crashy",
    )
    .unwrap();
    let err = Lab::start(p, LabOptions::default())
        .await
        .err()
        .expect("must fail");
    let msg = err.to_string();
    assert!(matches!(err, LabError::ServerExited { .. }), "{msg}");
    if let LabError::ServerExited { log, .. } = &err {
        let _ = std::fs::remove_dir_all(log.parent().unwrap());
    }
    assert!(
        msg.contains("crashy exited during startup (exit status 3)"),
        "{msg}"
    );
    assert!(msg.contains("config broken on cf"), "{msg}");
    assert_eq!(own_namespaces(), Vec::<String>::new());
}

/// A lab dropped without `shutdown` (early return, panic) is still removed by `Drop`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_lab_is_removed() {
    let _serial = SERIAL.lock().await;
    if skip("dropped_lab_is_removed", &["dnsmasq"]) {
        return;
    }
    let lab = Lab::start(Profile::resolve("dnsmasq").unwrap(), LabOptions::default())
        .await
        .unwrap();
    let names = lab.names().clone();
    let pid = lab.server_pid().unwrap();
    let run_dir = lab.run_dir().to_path_buf();
    drop(lab);
    let _ = std::fs::remove_dir_all(run_dir);
    assert_no_leftovers(&names);
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "server {pid} still exists"
    );
}
