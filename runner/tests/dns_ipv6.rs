//! DNS over IPv6, UDP and TCP: NSD (started and stopped by this test, by PID) on the IPv6
//! loopback serves the repository's test zone; `conform run --udp [::1]:PORT` runs the RFC 1035
//! header cases over UDP and again with `--adapter tcp`. Skips loudly without nsd or ::1.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn dns_suites_run_over_ipv6_udp_and_tcp() {
    if Command::new("sh")
        .args(["-c", "command -v nsd"])
        .output()
        .map(|o| !o.status.success())
        .unwrap_or(true)
    {
        eprintln!(
            "SKIPPED: dns_suites_run_over_ipv6_udp_and_tcp needs nsd (ci/install-dns-servers.sh)"
        );
        return;
    }
    if std::net::UdpSocket::bind("[::1]:0").is_err() {
        eprintln!("SKIPPED: dns_suites_run_over_ipv6_udp_and_tcp needs the IPv6 loopback (::1)");
        return;
    }
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("dns6-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(
        repo.join("profiles/zones/example.test.zone"),
        dir.join("example.test.zone"),
    )
    .unwrap();
    let port = 30000 + (std::process::id() % 20000) as u16;
    let d = dir.display();
    std::fs::write(
        dir.join("nsd.conf"),
        format!(
            "server:\n    ip-address: ::1@{port}\n    do-ip4: no\n    username: \"\"\n    chroot: \"\"\n    database: \"\"\n    zonesdir: \"{d}\"\n    zonelistfile: \"{d}/zone.list\"\n    xfrdfile: \"{d}/xfrd.state\"\n    xfrdir: \"{d}\"\n    pidfile: \"{d}/nsd.pid\"\n    logfile: \"{d}/nsd.log\"\n    server-count: 1\n    rrl-ratelimit: 0\n    rrl-whitelist-ratelimit: 0\nremote-control:\n    control-enable: no\nzone:\n    name: \"example.test\"\n    zonefile: \"{d}/example.test.zone\"\n"
        ),
    )
    .unwrap();
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _nsd = Kill(
        Command::new("nsd")
            .args(["-d", "-c"])
            .arg(dir.join("nsd.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    // Wait until the port is bound (bounded).
    let start = Instant::now();
    while std::net::UdpSocket::bind(format!("[::1]:{port}")).is_ok()
        && start.elapsed() < Duration::from_secs(10)
    {
        std::thread::sleep(Duration::from_millis(50));
    }
    let addr = format!("[::1]:{port}");
    for extra in [&[][..], &["--adapter", "tcp"][..]] {
        let mut args = vec!["run", "suites/dns/rfc1035", "--udp", &addr];
        args.extend_from_slice(extra);
        let o = Command::new(env!("CARGO_BIN_EXE_conform"))
            .args(&args)
            .current_dir(&repo)
            .output()
            .unwrap();
        let t = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        assert_eq!(o.status.code(), Some(0), "{args:?}: {t}");
        assert!(t.contains("PASS") && !t.contains("FAIL"), "{t}");
    }
}
