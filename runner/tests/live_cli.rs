//! End-to-end runs of the `conform` binary against real servers in labs it builds itself, and
//! the bad-input paths of issue 3: no such interface, no privilege, a server that never
//! answers, a server that floods garbage, Ctrl-C. Each asserts the documented exit code, a clear
//! message, and that no namespace or interface is left behind.
//!
//! These need root and the server packages (`ci/install-servers.sh`); otherwise each test says
//! loudly why it is skipped and returns.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_conform")
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn have(binary: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {binary}"))
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

fn skip_unless(binaries: &[&str]) -> bool {
    if !is_root() {
        eprintln!("SKIPPED: live conform test needs root (network namespaces, raw sockets)");
        return true;
    }
    for b in binaries {
        if !have(b) {
            eprintln!("SKIPPED: live conform test needs `{b}` (run ci/install-servers.sh)");
            return true;
        }
    }
    false
}

/// Namespaces and links carrying this test process's conform children's prefix.
fn leftovers(pid: u32) -> Vec<String> {
    let prefix = format!("cf{pid}");
    let mut out = Vec::new();
    for cmd in [["netns", "list"], ["-o", "link"]] {
        if let Ok(o) = Command::new("ip").args(cmd).output() {
            for l in String::from_utf8_lossy(&o.stdout).lines() {
                if l.contains(&prefix) {
                    out.push(l.to_string());
                }
            }
        }
    }
    out
}

fn tmpdir(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("live-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

const DORA: &str = r#"
imports: [IMPORT]
cases:
  - id: live-dora
    spec: RFC 2131 §3.1
    level: MUST
    text: "The server responds with a DHCPOFFER message that includes an available network address in the 'yiaddr' field"
    activate: [nak_fails]
    steps:
      - send: discover
      - receive: { template: offer, capture: { ip: yiaddr, sid: options.server_id } }
      - send: { template: request_selecting, args: { ip: $ip, sid: $sid } }
      - receive: { template: ack, args: { ip: $ip } }
"#;

fn dora_suite(dir: &Path) -> PathBuf {
    let lib = repo()
        .join("suites/dhcp/lib/common.yaml")
        .canonicalize()
        .unwrap();
    let f = dir.join("dora.yaml");
    std::fs::write(&f, DORA.replace("IMPORT", &lib.display().to_string())).unwrap();
    f
}

/// Runs conform with a hard deadline, so a hang fails the test instead of blocking CI.
fn run(args: &[&str], deadline: Duration) -> (Output, u32) {
    let child = Command::new(bin())
        .args(args)
        .current_dir(repo())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let start = Instant::now();
    let out = wait_with_deadline(child, deadline);
    assert!(
        start.elapsed() < deadline,
        "conform {args:?} did not finish within {deadline:?}"
    );
    (out, pid)
}

fn wait_with_deadline(mut child: std::process::Child, deadline: Duration) -> Output {
    let start = Instant::now();
    loop {
        if let Ok(Some(_)) = child.try_wait() {
            return child.wait_with_output().unwrap();
        }
        if start.elapsed() > deadline {
            let _ = child.kill();
            return child.wait_with_output().unwrap();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn dora_against_each_real_server_passes_with_junit_and_events() {
    for (target, binary) in [
        ("dnsmasq", "dnsmasq"),
        ("kea", "kea-dhcp4"),
        ("isc-dhcpd", "dhcpd"),
        ("udhcpd", "busybox"),
    ] {
        if skip_unless(&[binary]) {
            continue;
        }
        let dir = tmpdir(target);
        let suite = dora_suite(&dir);
        let junit = dir.join("j.xml");
        let events = dir.join("e.jsonl");
        let (o, pid) = run(
            &[
                "run",
                suite.to_str().unwrap(),
                "--target",
                target,
                "--junit",
                junit.to_str().unwrap(),
                "--events",
                events.to_str().unwrap(),
                "--out",
                dir.join("out").to_str().unwrap(),
            ],
            Duration::from_secs(60),
        );
        let t = text(&o);
        assert_eq!(o.status.code(), Some(0), "{target}: {t}");
        assert!(t.contains("PASS") && t.contains("live-dora"), "{t}");
        let xml = std::fs::read_to_string(&junit).unwrap();
        assert!(
            xml.contains(r#"<testcase name="live-dora""#) && !xml.contains("<failure"),
            "{xml}"
        );
        let ev = std::fs::read_to_string(&events).unwrap();
        assert!(
            ev.contains(r#""type":"matched""#) && ev.contains("DHCPACK"),
            "{ev}"
        );
        assert!(
            leftovers(pid).is_empty(),
            "{target}: left behind {:?}",
            leftovers(pid)
        );
        // The server's own log is kept with the results.
        let logs: Vec<_> = walk(&dir.join("out"))
            .into_iter()
            .filter(|p| p.ends_with("server.log"))
            .collect();
        assert_eq!(logs.len(), 1, "{target}: {logs:?}");
    }
}

fn walk(d: &Path) -> Vec<PathBuf> {
    let mut out = vec![];
    if let Ok(rd) = std::fs::read_dir(d) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

#[test]
fn no_such_interface_is_a_harness_error_naming_it() {
    if skip_unless(&[]) {
        return;
    }
    let dir = tmpdir("noif");
    let suite = dora_suite(&dir);
    let (o, _) = run(
        &["run", suite.to_str().unwrap(), "--iface", "cfnosuch0"],
        Duration::from_secs(20),
    );
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(text(&o).contains("cfnosuch0"), "{}", text(&o));
}

#[test]
fn missing_privilege_is_a_harness_error_saying_so() {
    if skip_unless(&["setpriv", "dnsmasq"]) {
        return;
    }
    let dir = tmpdir("priv");
    let suite = dora_suite(&dir);
    std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    let child = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
            bin(),
            "run",
            suite.to_str().unwrap(),
            "--target",
            "dnsmasq",
            "--out",
        ])
        .arg(dir.join("out"))
        .current_dir(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let o = wait_with_deadline(child, Duration::from_secs(20));
    let t = text(&o);
    assert_eq!(o.status.code(), Some(3), "{t}");
    assert!(
        t.to_lowercase().contains("root") || t.to_lowercase().contains("privilege"),
        "{t}"
    );
}

fn custom_profile(dir: &Path, name: &str, command: &str, ready: &str) -> PathBuf {
    let p = dir.join(format!("{name}.yaml"));
    std::fs::write(
        &p,
        format!(
            "name: {name}\nprotocol: dhcp\nadapter: raw\ncommand: {command}\nready: {ready}\nstop: {{ signal: TERM, grace_ms: 500 }}\nparams:\n  server_ip: 192.0.2.1\n  pool_start: 192.0.2.100\n  pool_end: 192.0.2.200\n"
        ),
    )
    .unwrap();
    p
}

#[test]
fn a_server_that_never_answers_fails_readiness_and_the_lab_is_removed() {
    if skip_unless(&["sleep"]) {
        return;
    }
    let dir = tmpdir("silent");
    let suite = dora_suite(&dir);
    let prof = custom_profile(
        &dir,
        "silent",
        "[sleep, \"60\"]",
        "{ probe: dhcp_offer, timeout_ms: 1000 }",
    );
    let (o, pid) = run(
        &[
            "run",
            suite.to_str().unwrap(),
            "--target",
            prof.to_str().unwrap(),
            "--out",
            dir.join("out").to_str().unwrap(),
        ],
        Duration::from_secs(30),
    );
    let t = text(&o);
    assert_eq!(o.status.code(), Some(3), "{t}");
    assert!(t.contains("did not become ready"), "{t}");
    assert!(
        leftovers(pid).is_empty(),
        "left behind {:?}",
        leftovers(pid)
    );
}

#[test]
fn a_server_that_goes_silent_after_start_gives_fail_verdicts_not_hangs() {
    if skip_unless(&["sleep"]) {
        return;
    }
    let dir = tmpdir("mute");
    let suite = dora_suite(&dir);
    let prof = custom_profile(
        &dir,
        "mute",
        "[sleep, \"60\"]",
        "{ probe: { delay_ms: 50 } }",
    );
    let (o, pid) = run(
        &[
            "run",
            suite.to_str().unwrap(),
            "--target",
            prof.to_str().unwrap(),
            "--out",
            dir.join("out").to_str().unwrap(),
        ],
        Duration::from_secs(30),
    );
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(
        t.contains("no message matching `offer`") && t.contains("no message arrived"),
        "{t}"
    );
    assert!(
        leftovers(pid).is_empty(),
        "left behind {:?}",
        leftovers(pid)
    );
}

/// A hostile server: floods the client with garbage UDP to port 68 (random bytes, truncated
/// and malformed DHCP) for a bounded time. conform must report a fail naming what arrived,
/// never panic or hang.
#[test]
fn a_server_flooding_garbage_is_reported_not_crashed() {
    if skip_unless(&["python3"]) {
        return;
    }
    let dir = tmpdir("flood");
    let script = dir.join("flood.py");
    std::fs::write(
        &script,
        r#"import socket, os, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
s.bind(("192.0.2.1", 67))
end = time.time() + 8
i = 0
while time.time() < end and i < 20000:
    i += 1
    kind = i % 4
    if kind == 0:
        p = os.urandom(i % 700)
    elif kind == 1:
        p = bytes([2, 1, 6, 0]) + os.urandom(100)            # truncated BOOTREPLY
    elif kind == 2:
        p = bytes([2, 1, 6, 0]) + os.urandom(232) + bytes([99, 130, 83, 99, 53, 200])  # option overruns
    else:
        p = bytes([2, 1, 6, 0]) + os.urandom(232) + bytes([99, 130, 83, 99]) + bytes([53, 1, 2, 51, 4, 0, 0]) # cut lease time, no END
    s.sendto(p, ("192.0.2.255", 68))
    if i % 50 == 0:
        time.sleep(0.01)
"#,
    )
    .unwrap();
    let prof = custom_profile(
        &dir,
        "flood",
        &format!("[python3, \"{}\"]", script.display()),
        "{ probe: { delay_ms: 100 } }",
    );
    let (o, pid) = run(
        &[
            "run",
            dora_suite(&dir).to_str().unwrap(),
            "--target",
            prof.to_str().unwrap(),
            "--out",
            dir.join("out").to_str().unwrap(),
        ],
        Duration::from_secs(40),
    );
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(t.contains("matched nothing"), "{t}");
    assert!(!t.contains("panicked"), "{t}");
    assert!(
        leftovers(pid).is_empty(),
        "left behind {:?}",
        leftovers(pid)
    );
}

#[test]
fn ctrl_c_stops_the_run_and_removes_the_lab() {
    if skip_unless(&["dnsmasq", "kill"]) {
        return;
    }
    let dir = tmpdir("sigint");
    let lib = repo()
        .join("suites/dhcp/lib/common.yaml")
        .canonicalize()
        .unwrap();
    let suite = dir.join("slow.yaml");
    std::fs::write(
        &suite,
        format!("imports: [{}]\ncases:\n  - id: slow\n    spec: RFC 2131 §3.1\n    level: MUST\n    text: x\n    timeout: 60s\n    steps:\n      - wait: 50s\n      - setverdict: pass\n", lib.display()),
    )
    .unwrap();
    let child = Command::new(bin())
        .args([
            "run",
            suite.to_str().unwrap(),
            "--target",
            "dnsmasq",
            "--out",
            dir.join("out").to_str().unwrap(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    // Wait until the lab exists, then interrupt.
    let start = Instant::now();
    while leftovers(pid).is_empty() && start.elapsed() < Duration::from_secs(15) {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!leftovers(pid).is_empty(), "the lab never came up");
    std::thread::sleep(Duration::from_millis(300));
    Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .unwrap();
    let o = wait_with_deadline(child, Duration::from_secs(15));
    let t = text(&o);
    assert!(
        start.elapsed() < Duration::from_secs(25),
        "Ctrl-C did not stop the run: {t}"
    );
    assert!(t.contains("interrupted"), "{t}");
    assert_ne!(o.status.code(), Some(0), "{t}");
    assert!(
        leftovers(pid).is_empty(),
        "left behind {:?}",
        leftovers(pid)
    );
}

/// `--iface IF`: a server the user runs themselves behind an interface. The test builds that
/// setup by hand (its own namespace and veth pair, dnsmasq started and stopped by PID), then
/// points conform at the veth end in this namespace. Traffic stays on that veth pair.
#[test]
fn iface_points_at_a_server_that_is_already_running() {
    if skip_unless(&["dnsmasq", "ip"]) {
        return;
    }
    let pid = std::process::id();
    let ns = format!("cf{pid}i");
    let (host_if, srv_if) = (format!("cf{pid}h"), format!("cf{pid}v"));
    let dir = tmpdir("iface");
    let sh = |cmd: &str| {
        Command::new("sh")
            .arg("-c")
            .arg(cmd)
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    };
    struct Cleanup(String, String, Option<std::process::Child>);
    impl Drop for Cleanup {
        fn drop(&mut self) {
            if let Some(mut c) = self.2.take() {
                let _ = c.kill();
                let _ = c.wait();
            }
            let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
            let _ = Command::new("ip").args(["link", "del", &self.1]).status();
        }
    }
    let mut guard = Cleanup(ns.clone(), host_if.clone(), None);
    assert!(sh(&format!(
        "ip netns add {ns} && ip link add {host_if} type veth peer name {srv_if} netns {ns} && \
         ip -n {ns} addr add 192.0.2.1/24 dev {srv_if} && ip -n {ns} link set {srv_if} up && ip -n {ns} link set lo up && \
         ip link set {host_if} up && ethtool -K {host_if} tx off >/dev/null 2>&1; ip netns exec {ns} ethtool -K {srv_if} tx off >/dev/null 2>&1; true"
    )));
    let conf = dir.join("dnsmasq.conf");
    std::fs::write(
        &conf,
        format!(
            "port=0\ninterface={srv_if}\nbind-interfaces\ndhcp-range=192.0.2.100,192.0.2.200,255.255.255.0,1h\ndhcp-leasefile={}\ndhcp-authoritative\nno-ping\nlog-facility=-\n",
            dir.join("leases").display()
        ),
    )
    .unwrap();
    let child = Command::new("ip")
        .args([
            "netns",
            "exec",
            &ns,
            "dnsmasq",
            "-k",
            "--user=root",
            &format!("--conf-file={}", conf.display()),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    guard.2 = Some(child);
    std::thread::sleep(Duration::from_millis(300));
    let suite = dora_suite(&dir);
    let (o, _) = run(
        &[
            "run",
            suite.to_str().unwrap(),
            "--iface",
            &host_if,
            "--param",
            "server_ip=192.0.2.1",
        ],
        Duration::from_secs(30),
    );
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    assert!(
        t.contains("PASS") && t.contains(&format!("iface {host_if}")),
        "{t}"
    );
    drop(guard);
    assert!(
        !sh(&format!("ip netns list | grep -q {ns}")),
        "namespace left behind"
    );
}
