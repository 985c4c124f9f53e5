//! `cleanup_all` (the CLI's Ctrl-C path) in its own test binary: it removes every lab of the
//! process, so it must not share a process with other lab tests.

mod common;

use common::*;
use conform_lab::{cleanup_all, Lab, LabOptions, Profile};

#[tokio::test]
async fn cleanup_all_removes_live_labs_and_later_shutdown_is_harmless() {
    if skip(
        "cleanup_all_removes_live_labs_and_later_shutdown_is_harmless",
        &["dnsmasq"],
    ) {
        return;
    }
    let lab = Lab::start(Profile::resolve("dnsmasq").unwrap(), LabOptions::default())
        .await
        .unwrap();
    let names = lab.names().clone();
    let pid = lab.server_pid().unwrap();
    assert_eq!(conform_lab::live_namespaces().len(), 2);
    assert_eq!(cleanup_all(), 1);
    assert_no_leftovers(&names);
    // SIGKILLed by cleanup_all; the lab reaps it when asked.
    let mut alive = true;
    for _ in 0..200 {
        alive = lab.server_alive();
        if !alive {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    assert!(!alive, "server {pid} survived cleanup_all");
    let run_dir = lab.run_dir().to_path_buf();
    lab.shutdown().await;
    let _ = std::fs::remove_dir_all(run_dir);
    assert_eq!(cleanup_all(), 0);
    assert_no_leftovers(&names);
}
