//! The lab: two network namespaces joined by a veth pair (optionally a tap bridged on the client
//! side), a real server started from a [`Profile`] in the server namespace, and one adapter in
//! the client namespace through which conform talks to it.
//!
//! Invariants:
//! - Every lab has unique names `cf<pid>-<n>{s,c}` (namespaces) and `cf<pid>-<n>{s0,c0,t0,br}`
//!   (interfaces, at most 15 bytes), so labs can run side by side and reuse 192.0.2.0/24.
//! - The conform process never leaves its own namespace: sockets are created by short-lived
//!   helper threads, the server through `ip netns exec` (which execs, so the child's PID is the
//!   server's PID).
//! - Whatever happens (error during startup, `shutdown`, drop, panic unwinding, Ctrl-C through
//!   [`cleanup_all`]) the namespaces are deleted, which removes the veth, tap and bridge with
//!   them; the server is stopped by PID and reaped first.
//! - Every wait has a deadline.

use crate::cmd::{self, find_binary, is_root, require_binary};
use crate::error::LabError;
use crate::probe::{self, ProbeCtx, ProbeOutcome};
use crate::profile::{format_mac, render, AdapterKind, PlaceholderNames, Profile, ProtocolKind};
use async_trait::async_trait;
use conform_adapters::raw::{RawAdapter, RawConfig};
use conform_adapters::relay::RelayAdapter;
use conform_adapters::tap::{TapAdapter, DEFAULT_TAP_MAC};
use conform_adapters::{sys, Adapter, AdapterError, Incoming};
use conform_codec::Datagram;
use std::collections::BTreeMap;
use std::io::Write;
use std::net::{SocketAddr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};
use tokio::sync::broadcast;

/// Longest a server may take to die after SIGKILL before the lab gives up waiting (it is
/// then left to the namespace teardown, which kills whatever still runs there).
const KILL_WAIT: Duration = Duration::from_secs(2);
/// Upper bound on the grace period used by the synchronous `Drop` fallback.
const DROP_GRACE: Duration = Duration::from_millis(500);
/// Longest a profile's configuration check may run.
const CHECK_TIMEOUT: Duration = Duration::from_secs(30);
/// Lines of the server log quoted in startup errors.
const LOG_TAIL_LINES: usize = 20;

/// Choices a caller may override per lab.
#[derive(Clone, Debug, Default)]
pub struct LabOptions {
    /// Where configs, leases and `server.log` go. It must be empty or absent; default: a new
    /// directory `conform-lab-<id>` under the system temp directory. Kept after shutdown.
    pub run_dir: Option<PathBuf>,
    /// Use this adapter instead of the profile's (e.g. `relay` against a raw-mode profile).
    pub adapter: Option<AdapterKind>,
    /// Override the profile's readiness timeout.
    pub ready_timeout: Option<Duration>,
}

/// The names of a lab's namespaces and interfaces.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabNames {
    /// `<pid>-<n>`: unique per process and lab.
    pub id: String,
    pub server_ns: String,
    pub client_ns: String,
    /// The server's veth end (in `server_ns`).
    pub server_if: String,
    /// The client's veth end (in `client_ns`).
    pub client_if: String,
    /// Tap mode: the tap device and the bridge joining it to `client_if` (in `client_ns`).
    pub tap: Option<String>,
    pub bridge: Option<String>,
}

impl LabNames {
    fn new(id: &str, kind: AdapterKind) -> Self {
        let tap = kind == AdapterKind::Tap;
        LabNames {
            id: id.to_string(),
            server_ns: format!("cf{id}s"),
            client_ns: format!("cf{id}c"),
            server_if: format!("cf{id}s0"),
            client_if: format!("cf{id}c0"),
            tap: tap.then(|| format!("cf{id}t0")),
            bridge: tap.then(|| format!("cf{id}br")),
        }
    }

    fn namespaces(&self) -> Vec<String> {
        vec![self.server_ns.clone(), self.client_ns.clone()]
    }
}

// ---------------------------------------------------------------------------------------------
// Process-wide registry of live labs, for the CLI's Ctrl-C handler.

struct RegEntry {
    namespaces: Vec<String>,
    server_pid: Option<u32>,
}

static REGISTRY: Mutex<BTreeMap<u64, RegEntry>> = Mutex::new(BTreeMap::new());
static NEXT_LAB: AtomicU64 = AtomicU64::new(0);

fn registry() -> std::sync::MutexGuard<'static, BTreeMap<u64, RegEntry>> {
    // A panic while holding this lock cannot leave the map inconsistent (single inserts and
    // removes), so a poisoned lock is still usable, and cleanup must work after panics.
    REGISTRY.lock().unwrap_or_else(|e| e.into_inner())
}

fn register(key: u64, namespaces: Vec<String>) {
    registry().insert(
        key,
        RegEntry {
            namespaces,
            server_pid: None,
        },
    );
}

fn set_registered_pid(key: u64, pid: Option<u32>) {
    if let Some(e) = registry().get_mut(&key) {
        e.server_pid = pid;
    }
}

fn deregister(key: u64) -> Option<RegEntry> {
    registry().remove(&key)
}

/// Tears down every live lab of this process: SIGKILL to each server (by PID), then every
/// process left in the lab's namespaces, then the namespaces (and with them the veth, tap and
/// bridge). For a Ctrl-C handler: synchronous, no async runtime needed, safe to call twice.
/// Returns the number of labs removed. `Lab` values still alive afterwards find their lab gone
/// and do nothing on shutdown or drop.
pub fn cleanup_all() -> usize {
    let entries: Vec<RegEntry> = std::mem::take(&mut *registry()).into_values().collect();
    let n = entries.len();
    for e in entries {
        if let Some(pid) = e.server_pid {
            let _ = sys::send_signal(pid, libc_sigkill());
        }
        delete_namespaces(&e.namespaces);
    }
    n
}

/// Names of the namespaces of every live lab in this process (for diagnostics and tests).
pub fn live_namespaces() -> Vec<String> {
    registry()
        .values()
        .flat_map(|e| e.namespaces.iter().cloned())
        .collect()
}

fn libc_sigkill() -> i32 {
    sys::signal_by_name("KILL").unwrap_or(9)
}

/// Kills what still runs in `namespaces` (only processes conform started: the lab's namespaces
/// are its own) and deletes them. Errors are ignored: this is the last line of cleanup and a
/// namespace that is already gone is fine.
fn delete_namespaces(namespaces: &[String]) {
    for ns in namespaces {
        if let Ok(out) = cmd::run_ok(&cmd::ip(&["netns", "pids", ns]), None) {
            // Never ourselves: a helper thread of this process may briefly sit in the namespace.
            let me = std::process::id();
            for pid in out
                .split_whitespace()
                .filter_map(|p| p.parse::<u32>().ok())
                .filter(|p| *p != me)
            {
                let _ = sys::send_signal(pid, libc_sigkill());
            }
        }
    }
    for ns in namespaces {
        let _ = cmd::run(&cmd::ip(&["netns", "del", ns]), &[], None, cmd::IP_TIMEOUT);
    }
}

// ---------------------------------------------------------------------------------------------
// The adapter handed out to suites.

/// The adapter the lab hands out. It forwards to the real adapter until the lab shuts down,
/// then drops it (closing its socket or tap fd, so nothing keeps the namespace alive) and
/// answers every call with an error. Clones held by suites therefore never outlive the lab's
/// resources.
struct LabPort {
    inner: RwLock<Option<Arc<dyn Adapter>>>,
    label: String,
}

impl LabPort {
    fn current(&self) -> Option<Arc<dyn Adapter>> {
        self.inner
            .read()
            .map(|g| g.clone())
            .unwrap_or_else(|e| e.into_inner().clone())
    }

    fn close(&self) {
        let taken = match self.inner.write() {
            Ok(mut g) => g.take(),
            Err(e) => e.into_inner().take(),
        };
        drop(taken);
    }
}

#[async_trait]
impl Adapter for LabPort {
    async fn send(&self, d: &Datagram) -> Result<(), AdapterError> {
        match self.current() {
            Some(a) => a.send(d).await,
            None => Err(AdapterError::Other(format!(
                "{}: the lab has been shut down",
                self.label
            ))),
        }
    }

    /// The port's adapter's fast path; a shut-down port declines, and `send` reports it.
    fn try_send(&self, d: &Datagram) -> Option<Result<(), AdapterError>> {
        self.current()?.try_send(d)
    }

    fn subscribe(&self) -> broadcast::Receiver<Incoming> {
        match self.current() {
            Some(a) => a.subscribe(),
            None => {
                // A receiver whose sender is gone: recv() reports Closed at once.
                let (_tx, rx) = broadcast::channel(1);
                rx
            }
        }
    }

    fn describe(&self) -> String {
        self.current()
            .map(|a| a.describe())
            .unwrap_or_else(|| format!("{} (shut down)", self.label))
    }

    fn incoming_sender(&self) -> Option<broadcast::Sender<Incoming>> {
        self.current().and_then(|a| a.incoming_sender())
    }

    fn take_waiting(&self) -> bool {
        self.current().is_some_and(|a| a.take_waiting())
    }
}

// ---------------------------------------------------------------------------------------------
// The lab.

/// A managed server process.
struct Server {
    child: Child,
    pid: u32,
    exit: Option<ExitStatus>,
    /// When it was spawned: readiness times are measured from here.
    spawned: Instant,
}

impl Server {
    /// Reaps the process if it has ended (so it is never left a zombie) and tells whether it
    /// still runs. `kill -0` would succeed on a zombie (lab.md 2.2); `try_wait` does not.
    fn alive(&mut self) -> bool {
        if self.exit.is_some() {
            return false;
        }
        match self.child.try_wait() {
            Ok(None) => true,
            Ok(Some(st)) => {
                self.exit = Some(st);
                false
            }
            Err(_) => false,
        }
    }
}

enum Mode {
    /// Namespaces created and owned by this lab.
    Namespaced { ip: PathBuf },
    /// Attached to an existing interface in the current namespace; nothing to tear down.
    Attached { iface: String },
}

/// A running lab. See the module documentation for its invariants.
pub struct Lab {
    key: u64,
    names: LabNames,
    mode: Mode,
    profile: Profile,
    adapter_kind: AdapterKind,
    run_dir: PathBuf,
    log_path: PathBuf,
    vars: BTreeMap<String, String>,
    params: BTreeMap<String, String>,
    server: Mutex<Option<Server>>,
    starts: AtomicU64,
    port: Arc<LabPort>,
    ready_after: Mutex<Option<Duration>>,
    ready_timeout: Duration,
    probe_mac: [u8; 6],
    torn_down: AtomicBool,
}

/// `<pid>-<n in base 36>`: short enough for IFNAMSIZ with the `cf` prefix and suffixes.
fn next_id() -> (u64, String) {
    let n = NEXT_LAB.fetch_add(1, Ordering::Relaxed);
    let mut digits = Vec::new();
    let mut x = n;
    loop {
        digits.push(char::from_digit((x % 36) as u32, 36).unwrap_or('0'));
        x /= 36;
        if x == 0 {
            break;
        }
    }
    let suffix: String = digits.iter().rev().collect();
    (n, format!("{}-{suffix}", std::process::id()))
}

fn prepare_run_dir(requested: Option<&Path>, id: &str) -> Result<PathBuf, LabError> {
    let dir = match requested {
        Some(d) => {
            std::fs::create_dir_all(d)
                .map_err(|e| LabError::io(format!("create run directory {}", d.display()), e))?;
            let non_empty = std::fs::read_dir(d)
                .map_err(|e| LabError::io(format!("read run directory {}", d.display()), e))?
                .next()
                .is_some();
            if non_empty {
                return Err(LabError::io(
                    format!("use run directory {}", d.display()),
                    std::io::Error::other("it is not empty (each lab needs fresh lease files)"),
                ));
            }
            d.to_path_buf()
        }
        None => {
            let d = std::env::temp_dir().join(format!("conform-lab-{id}"));
            // Only a stale directory of an earlier process with the same PID can be here.
            if d.exists() {
                std::fs::remove_dir_all(&d)
                    .map_err(|e| LabError::io(format!("remove stale {}", d.display()), e))?;
            }
            std::fs::create_dir_all(&d)
                .map_err(|e| LabError::io(format!("create run directory {}", d.display()), e))?;
            d
        }
    };
    // Absolute, because servers get it in their configs and run in other working directories.
    std::fs::canonicalize(&dir).map_err(|e| LabError::io(format!("resolve {}", dir.display()), e))
}

fn read_tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read(path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

impl Lab {
    /// Builds a lab for `profile`: namespaces and links, config files in the run directory, the
    /// server started and probed until ready, the adapter open. On any error everything built
    /// so far is removed before the error is returned.
    pub async fn start(profile: Profile, opts: LabOptions) -> Result<Lab, LabError> {
        if !is_root() {
            return Err(LabError::NotRoot);
        }
        let ip = require_binary("ip", &["iproute2".to_string()])?;
        // Validation guarantees a program name, but `Profile`'s fields are public.
        let program = profile.command.first().ok_or_else(|| {
            LabError::Profile(crate::error::ProfileError::Invalid {
                origin: profile.origin.clone(),
                problems: vec!["command: must name the server program (argv list)".into()],
            })
        })?;
        require_binary(program, &profile.packages)?;
        if let Some(c) = profile.check.first() {
            require_binary(c, &profile.packages)?;
        }
        let kind = opts.adapter.unwrap_or(profile.adapter);
        check_adapter_fits(&profile, kind)?;

        // Retry with a fresh id if a namespace of that name exists (a stale lab of an earlier
        // process that had the same PID and was killed before it could clean up).
        let mut last_err = None;
        for _ in 0..5 {
            let (key, id) = next_id();
            let names = LabNames::new(&id, kind);
            if [
                &names.server_if,
                &names.client_if,
                &names.bridge.clone().unwrap_or_default(),
            ]
            .iter()
            .any(|n| n.len() > 15)
            {
                return Err(LabError::Command {
                    cmd: "name lab interfaces".into(),
                    detail: format!(
                        "`{}` exceeds 15 bytes (IFNAMSIZ)",
                        names.bridge.unwrap_or(names.server_if)
                    ),
                });
            }
            // Registered before creation, so a Ctrl-C in between still finds them.
            register(key, names.namespaces());
            match create_namespaces(&names) {
                Ok(()) => {}
                Err(e) if e.to_string().contains("File exists") => {
                    deregister(key);
                    last_err = Some(e);
                    continue;
                }
                Err(e) => {
                    deregister(key);
                    return Err(e);
                }
            }
            let run_dir = match prepare_run_dir(opts.run_dir.as_deref(), &id) {
                Ok(d) => d,
                Err(e) => {
                    delete_namespaces(&names.namespaces());
                    deregister(key);
                    return Err(e);
                }
            };
            let lab = Lab::new(
                key,
                names,
                Mode::Namespaced { ip: ip.clone() },
                profile,
                kind,
                run_dir,
                &opts,
            );
            return match lab.bring_up().await {
                Ok(()) => Ok(lab),
                Err(e) => {
                    lab.shutdown().await;
                    Err(e)
                }
            };
        }
        Err(last_err.unwrap_or_else(|| LabError::Command {
            cmd: "ip netns add".into(),
            detail: "no free name".into(),
        }))
    }

    /// A lab around a server that is already running and reachable through interface `iface`
    /// of the current namespace: no namespaces are created and no server is managed
    /// (`server_pid` is `None`, `restart_server` fails). The adapter is opened on `iface` (raw
    /// or tap) or bound to the profile's client address (relay, udp). No readiness probe is
    /// sent: the caller vouches for the server.
    pub async fn attach(profile: Profile, iface: &str, opts: LabOptions) -> Result<Lab, LabError> {
        let kind = opts.adapter.unwrap_or(profile.adapter);
        check_adapter_fits(&profile, kind)?;
        let (key, id) = next_id();
        let run_dir = prepare_run_dir(opts.run_dir.as_deref(), &id)?;
        let names = LabNames {
            id,
            server_ns: String::new(),
            client_ns: String::new(),
            server_if: String::new(),
            client_if: iface.to_string(),
            tap: (kind == AdapterKind::Tap).then(|| iface.to_string()),
            bridge: None,
        };
        let lab = Lab::new(
            key,
            names,
            Mode::Attached {
                iface: iface.to_string(),
            },
            profile,
            kind,
            run_dir,
            &opts,
        );
        match lab.open_adapter().await {
            Ok(adapter) => {
                lab.install_adapter(adapter);
                Ok(lab)
            }
            Err(e) => {
                // Nothing was written yet: remove the (empty) run directory again.
                let _ = std::fs::remove_dir(&lab.run_dir);
                Err(match e {
                    LabError::Adapter(AdapterError::NoSuchInterface(n)) => {
                        LabError::NoSuchInterface(n)
                    }
                    other => other,
                })
            }
        }
    }

    fn new(
        key: u64,
        names: LabNames,
        mode: Mode,
        profile: Profile,
        kind: AdapterKind,
        run_dir: PathBuf,
        opts: &LabOptions,
    ) -> Lab {
        let dir = run_dir.display().to_string();
        let vars = profile.placeholders(&PlaceholderNames {
            dir: &dir,
            iface: &names.server_if,
            client_iface: &names.client_if,
            netns: &names.server_ns,
            client_netns: &names.client_ns,
        });
        let probe_mac = [
            0x02,
            0xcf,
            0xfe,
            (key >> 16) as u8,
            (key >> 8) as u8,
            key as u8,
        ];
        let params = derived_params(&profile, kind, &names);
        let label = format!("lab {} ({})", names.id, kind.as_str());
        Lab {
            key,
            log_path: run_dir.join("server.log"),
            ready_timeout: opts.ready_timeout.unwrap_or(profile.ready.timeout),
            names,
            mode,
            profile,
            adapter_kind: kind,
            run_dir,
            vars,
            params,
            server: Mutex::new(None),
            starts: AtomicU64::new(0),
            port: Arc::new(LabPort {
                inner: RwLock::new(None),
                label,
            }),
            ready_after: Mutex::new(None),
            probe_mac,
            torn_down: AtomicBool::new(false),
        }
    }

    /// Everything after the namespaces exist.
    async fn bring_up(&self) -> Result<(), LabError> {
        self.configure_namespaces().await?;
        self.write_files()?;
        self.run_check().await?;
        self.spawn_server()?;
        let adapter = self.open_adapter().await?;
        self.install_adapter(adapter);
        self.wait_ready().await
    }

    // -- network ------------------------------------------------------------------------------

    async fn configure_namespaces(&self) -> Result<(), LabError> {
        let n = &self.names;
        let l = &self.profile.lab;
        // IPv6 off in both namespaces before any link exists: no RS/MLD/DAD noise in captures.
        for ns in [&n.server_ns, &n.client_ns] {
            let _ = sys::run_in_netns(Some(ns), || {
                for f in ["all", "default"] {
                    // Absent when the kernel has no IPv6; then there is nothing to silence.
                    let _ =
                        std::fs::write(format!("/proc/sys/net/ipv6/conf/{f}/disable_ipv6"), "1");
                }
                Ok(())
            })
            .await;
        }
        let veth = cmd::ip(&[
            "link",
            "add",
            &n.server_if,
            "netns",
            &n.server_ns,
            "type",
            "veth",
            "peer",
            "name",
            &n.client_if,
            "netns",
            &n.client_ns,
        ]);
        blocking(move || cmd::run_ok(&veth, None).map(|_| ())).await?;

        let prefix = l.prefix_len;
        let mut server_batch = format!(
            "link set lo up\nlink set {sif} address {smac}\naddr add {sip}/{prefix} dev {sif}\nlink set {sif} up\n",
            sif = n.server_if,
            smac = format_mac(l.server_mac),
            sip = l.server_ip,
        );
        // A multi-homed server (RFC 2131 §4.1): further addresses on the same interface, added
        // after server_ip so that it stays the primary address the servers take as theirs.
        for extra in &l.server_extra_ips {
            server_batch.push_str(&format!("addr add {extra}/{prefix} dev {}\n", n.server_if));
        }
        let mut client_batch = format!(
            "link set lo up\nlink set {cif} address {cmac}\n",
            cif = n.client_if,
            cmac = format_mac(l.client_mac)
        );
        // Raw mode gets the client address too: suites act as a relay agent (giaddr =
        // client_ip) on the raw adapter, and the server must resolve giaddr by ARP to reply.
        if matches!(
            self.adapter_kind,
            AdapterKind::Relay | AdapterKind::Udp | AdapterKind::Raw
        ) {
            client_batch.push_str(&format!(
                "addr add {}/{prefix} dev {}\n",
                l.client_ip, n.client_if
            ));
        }
        client_batch.push_str(&format!("link set {} up\n", n.client_if));
        // Raw mode: the client namespace owns the pool's addresses (local routes), so it answers
        // the server's ARP for a leased address as a configured client would. Without it a
        // server that unicasts through its IP stack (ACK to ciaddr when RENEWING) never sends.
        if self.adapter_kind == AdapterKind::Raw {
            let get = |k: &str| {
                self.profile
                    .params
                    .get(k)
                    .and_then(|v| v.parse::<std::net::Ipv4Addr>().ok())
            };
            if let (Some(a), Some(b)) = (get("pool_start"), get("pool_end")) {
                for (net, len) in cidr_cover(a, b) {
                    client_batch.push_str(&format!("route add local {net}/{len} dev lo\n"));
                }
            }
        }
        if let (Some(tap), Some(br)) = (&n.tap, &n.bridge) {
            // lab.md 2.3: a persistent tap (NO-CARRIER until conform attaches) bridged with the
            // client veth end; STP off and no forward delay, so it forwards at once.
            client_batch.push_str(&format!(
                "tuntap add dev {tap} mode tap\n\
                 link add {br} type bridge stp_state 0 forward_delay 0\n\
                 link set {cif} master {br}\n\
                 link set {tap} master {br}\n\
                 link set {br} up\n\
                 link set {tap} up\n",
                cif = n.client_if
            ));
        }
        server_batch.push('\n');
        let sargs = cmd::ip(&["-n", &n.server_ns, "-batch", "-"]);
        let cargs = cmd::ip(&["-n", &n.client_ns, "-batch", "-"]);
        blocking(move || cmd::run_ok(&sargs, Some(&server_batch)).map(|_| ())).await?;
        blocking(move || cmd::run_ok(&cargs, Some(&client_batch)).map(|_| ())).await?;

        // Finished checksums on the wire, as from a physical NIC: otherwise a veth passes
        // frames with partial checksums and udp_checksum_ok cannot be judged. Best effort: the
        // raw adapter reports such frames as "not checked" anyway.
        for (ns, ifname) in [(&n.server_ns, &n.server_if), (&n.client_ns, &n.client_if)] {
            let i = ifname.clone();
            let _ = sys::run_in_netns(Some(ns), move || sys::disable_tx_checksum_offload(&i)).await;
        }
        Ok(())
    }

    // -- server -------------------------------------------------------------------------------

    fn render(&self, field: &str, t: &str) -> Result<String, LabError> {
        render(t, &self.vars).map_err(|e| {
            LabError::Profile(crate::error::ProfileError::Invalid {
                origin: self.profile.origin.clone(),
                problems: vec![format!("{field}: {e}")],
            })
        })
    }

    fn write_files(&self) -> Result<(), LabError> {
        for (name, tpl) in &self.profile.files {
            let text = self.render(&format!("files.\"{name}\""), tpl)?;
            let path = self.run_dir.join(name);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)
                    .map_err(|e| LabError::io(format!("create {}", parent.display()), e))?;
            }
            std::fs::write(&path, text)
                .map_err(|e| LabError::io(format!("write {}", path.display()), e))?;
        }
        Ok(())
    }

    fn env(&self) -> Result<Vec<(String, String)>, LabError> {
        self.profile
            .env
            .iter()
            .map(|(k, v)| Ok((k.clone(), self.render(&format!("env.{k}"), v)?)))
            .collect()
    }

    /// `ip netns exec <server ns> <abs program> <rendered args>`.
    fn netns_argv(&self, field: &str, argv: &[String]) -> Result<Vec<String>, LabError> {
        let Mode::Namespaced { ip } = &self.mode else {
            return Err(LabError::NotManaged(
                self.attached_iface(),
                "start a server",
            ));
        };
        let first = argv.first().ok_or_else(|| LabError::Command {
            cmd: field.to_string(),
            detail: "empty command".into(),
        })?;
        let prog = find_binary(first).ok_or_else(|| LabError::MissingBinary {
            binary: first.clone(),
            install: self.profile.packages.join(" "),
        })?;
        let mut out = vec![
            ip.display().to_string(),
            "netns".into(),
            "exec".into(),
            self.names.server_ns.clone(),
        ];
        out.push(prog.display().to_string());
        for (i, a) in argv.iter().enumerate().skip(1) {
            out.push(self.render(&format!("{field}[{i}]"), a)?);
        }
        Ok(out)
    }

    async fn run_check(&self) -> Result<(), LabError> {
        if self.profile.check.is_empty() {
            return Ok(());
        }
        let argv = self.netns_argv("check", &self.profile.check)?;
        let env = self.env()?;
        let shown = self.profile.check.join(" ");
        let o = blocking(move || cmd::run(&argv, &env, None, CHECK_TIMEOUT)).await?;
        if o.success {
            return Ok(());
        }
        Err(LabError::ConfigRejected {
            server: self.profile.name.clone(),
            cmd: shown,
            status: o.status,
            output: format!("{}{}", o.stdout, o.stderr).trim().to_string(),
            dir: self.run_dir.clone(),
        })
    }

    fn pidfile(&self) -> Option<PathBuf> {
        self.profile
            .pidfile
            .as_ref()
            .and_then(|p| render(p, &self.vars).ok())
            .map(PathBuf::from)
    }

    fn spawn_server(&self) -> Result<(), LabError> {
        let argv = self.netns_argv("command", &self.profile.command)?;
        let env = self.env()?;
        // A stale PID file (of a zombie, even) makes some servers refuse to start (lab.md 3.5).
        if let Some(pf) = self.pidfile() {
            let _ = std::fs::remove_file(pf);
        }
        let n = self.starts.fetch_add(1, Ordering::Relaxed) + 1;
        let mut log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_path)
            .map_err(|e| LabError::io(format!("open {}", self.log_path.display()), e))?;
        let _ = writeln!(
            log,
            "--- conform: start #{n} of {}: {}",
            self.profile.name,
            argv.join(" ")
        );
        let log_err = log
            .try_clone()
            .map_err(|e| LabError::io("duplicate the log file handle", e))?;
        let mut command = Command::new(&argv[0]);
        command
            .args(&argv[1..])
            .envs(env)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err);
        // Its own process group: a terminal's Ctrl-C reaches conform, which then stops the
        // server in order (cleanup_all), instead of racing it.
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let spawned = Instant::now();
        let child = command.spawn().map_err(|e| {
            LabError::io(
                format!("start {} ({})", self.profile.name, argv.join(" ")),
                e,
            )
        })?;
        let pid = child.id();
        set_registered_pid(self.key, Some(pid));
        *self.server.lock().unwrap_or_else(|e| e.into_inner()) = Some(Server {
            child,
            pid,
            exit: None,
            spawned,
        });
        Ok(())
    }

    fn server_exited_error(&self) -> LabError {
        let status = self
            .server
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .and_then(|s| s.exit)
            .map(cmd::describe_status)
            .unwrap_or_else(|| "unknown status".into());
        LabError::ServerExited {
            server: self.profile.name.clone(),
            status,
            log: self.log_path.clone(),
            tail: read_tail(&self.log_path, LOG_TAIL_LINES),
        }
    }

    async fn wait_ready(&self) -> Result<(), LabError> {
        let started = self
            .server
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .map(|s| s.spawned)
            .unwrap_or_else(Instant::now);
        let deadline = tokio::time::Instant::now() + self.ready_timeout;
        let port = self.port.clone();
        let log_line_file = match &self.profile.ready.probe {
            crate::profile::Probe::LogLine { file: Some(f), .. } => {
                Some(PathBuf::from(self.render("ready.probe.log_line.file", f)?))
            }
            _ => None,
        };
        let xid = 0xcf00_0000 | ((std::process::id() & 0xfff) << 12) | (self.key as u32 & 0xfff);
        let ctx = ProbeCtx {
            adapter: port.as_ref(),
            relay_ip: (self.adapter_kind == AdapterKind::Relay)
                .then_some(self.profile.lab.client_ip),
            server_ip: self.profile.lab.server_ip,
            server_port: self.profile.lab.server_port,
            probe_mac: self.probe_mac,
            xid,
            server_pid: self.server_pid(),
            log: &self.log_path,
            log_line_file: log_line_file.as_deref(),
        };
        let alive = || self.server_alive();
        match probe::run(&self.profile.ready.probe, &ctx, deadline, &alive).await {
            ProbeOutcome::Ready => {
                *self.ready_after.lock().unwrap_or_else(|e| e.into_inner()) =
                    Some(started.elapsed());
                Ok(())
            }
            ProbeOutcome::ServerExited => Err(self.server_exited_error()),
            ProbeOutcome::Adapter(e) => Err(LabError::Adapter(e)),
            ProbeOutcome::TimedOut => {
                if !self.server_alive() {
                    return Err(self.server_exited_error());
                }
                Err(LabError::ReadyTimeout {
                    server: self.profile.name.clone(),
                    probe: self.profile.ready.probe.describe(),
                    timeout_ms: self.ready_timeout.as_millis() as u64,
                    log: self.log_path.clone(),
                    tail: read_tail(&self.log_path, LOG_TAIL_LINES),
                })
            }
        }
    }

    /// Stops the server: the profile's signal, then SIGKILL after the grace period; reaped.
    async fn stop_server(&self) {
        let Some(pid) = self.running_pid() else {
            return;
        };
        let _ = sys::send_signal(pid, self.profile.stop.signal);
        let grace_end = Instant::now() + self.profile.stop.grace;
        while Instant::now() < grace_end {
            if !self.server_alive() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        if self.server_alive() {
            let _ = sys::send_signal(pid, libc_sigkill());
            let kill_end = Instant::now() + KILL_WAIT;
            while self.server_alive() && Instant::now() < kill_end {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
        set_registered_pid(self.key, None);
    }

    /// `stop_server` for `Drop`: blocking, with a shorter grace period.
    fn stop_server_blocking(&self) {
        let Some(pid) = self.running_pid() else {
            return;
        };
        let _ = sys::send_signal(pid, self.profile.stop.signal);
        let grace_end = Instant::now() + self.profile.stop.grace.min(DROP_GRACE);
        while self.server_alive() && Instant::now() < grace_end {
            std::thread::sleep(Duration::from_millis(5));
        }
        if self.server_alive() {
            let _ = sys::send_signal(pid, libc_sigkill());
            let kill_end = Instant::now() + KILL_WAIT;
            while self.server_alive() && Instant::now() < kill_end {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        set_registered_pid(self.key, None);
    }

    fn running_pid(&self) -> Option<u32> {
        let mut g = self.server.lock().unwrap_or_else(|e| e.into_inner());
        let s = g.as_mut()?;
        s.alive().then_some(s.pid)
    }

    fn attached_iface(&self) -> String {
        match &self.mode {
            Mode::Attached { iface } => iface.clone(),
            Mode::Namespaced { .. } => self.names.client_if.clone(),
        }
    }

    // -- adapter ------------------------------------------------------------------------------

    async fn open_adapter(&self) -> Result<Arc<dyn Adapter>, LabError> {
        let l = &self.profile.lab;
        let ns = match &self.mode {
            Mode::Namespaced { .. } => Some(self.names.client_ns.as_str()),
            Mode::Attached { .. } => None,
        };
        let server = SocketAddr::V4(SocketAddrV4::new(l.server_ip, l.server_port));
        let a: Arc<dyn Adapter> = match self.adapter_kind {
            AdapterKind::Raw => {
                let cfg = RawConfig::dhcp_client();
                let a = match ns {
                    Some(ns) => RawAdapter::open_in_netns(ns, &self.names.client_if, cfg).await?,
                    None => RawAdapter::open(&self.names.client_if, cfg).await?,
                };
                Arc::new(a)
            }
            AdapterKind::Tap => {
                let tap = self.names.tap.clone().unwrap_or_default();
                let cfg = RawConfig::dhcp_client();
                let a = match ns {
                    Some(ns) => TapAdapter::open_in_netns(ns, &tap, cfg).await?,
                    None => TapAdapter::open(&tap, cfg).await?,
                };
                Arc::new(a)
            }
            AdapterKind::Relay => {
                let local = SocketAddr::V4(SocketAddrV4::new(l.client_ip, 67));
                let a = match ns {
                    Some(ns) => RelayAdapter::open_in_netns(ns, local, server).await?,
                    None => RelayAdapter::bind(local, server).await?,
                };
                Arc::new(a)
            }
            AdapterKind::Udp => {
                let local = SocketAddr::V4(SocketAddrV4::new(l.client_ip, 0));
                let a = match ns {
                    Some(ns) => RelayAdapter::udp_in_netns(ns, local, server).await?,
                    None => RelayAdapter::udp(local, server).await?,
                };
                Arc::new(a)
            }
        };
        Ok(a)
    }

    fn install_adapter(&self, a: Arc<dyn Adapter>) {
        let mut g = self.port.inner.write().unwrap_or_else(|e| e.into_inner());
        *g = Some(a);
    }

    // -- public API ---------------------------------------------------------------------------

    /// The adapter through which suites talk to the server. Valid until `shutdown`; afterwards
    /// its `send` fails and its receivers report `Closed`.
    pub fn adapter(&self) -> Arc<dyn Adapter> {
        self.port.clone()
    }

    /// Which adapter this lab uses.
    pub fn adapter_kind(&self) -> AdapterKind {
        self.adapter_kind
    }

    /// Module parameters for suites: the profile's `params` plus values the lab knows
    /// (`server_ip`, `subnet_mask`, `prefix_len`, `server_mac`, `client_mac`, `client_iface`,
    /// `adapter`, `client_ip` in raw, relay and udp modes, `relay_ip` in raw and relay modes).
    pub fn params(&self) -> &BTreeMap<String, String> {
        &self.params
    }

    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    pub fn names(&self) -> &LabNames {
        &self.names
    }

    /// The run directory with the rendered configs, lease files and `server.log`.
    pub fn run_dir(&self) -> &Path {
        &self.run_dir
    }

    /// The file that captures the server's stdout and stderr (each start appends a header).
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// The PID of the managed server process (the latest start), or `None` in attached mode.
    pub fn server_pid(&self) -> Option<u32> {
        self.server
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .map(|s| s.pid)
    }

    /// Whether the managed server still runs (same PID, not a zombie: an exited server is
    /// reaped here). Always `true` in attached mode, where the lab cannot know.
    pub fn server_alive(&self) -> bool {
        if matches!(self.mode, Mode::Attached { .. }) {
            return true;
        }
        self.server
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_mut()
            .is_some_and(Server::alive)
    }

    /// How the server ended (`exit status 1`, `killed by signal 9`), if it has.
    pub fn server_exit_status(&self) -> Option<String> {
        let mut g = self.server.lock().unwrap_or_else(|e| e.into_inner());
        let s = g.as_mut()?;
        s.alive();
        s.exit.map(cmd::describe_status)
    }

    /// Time from spawning the latest server process to its successful readiness probe.
    pub fn ready_after(&self) -> Option<Duration> {
        *self.ready_after.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Stops the server (signal, grace, SIGKILL, reap) and starts it again with the same
    /// configuration and lease files, then waits until it is ready. Returns the time from start
    /// to ready.
    pub async fn restart_server(&self) -> Result<Duration, LabError> {
        if let Mode::Attached { iface } = &self.mode {
            return Err(LabError::NotManaged(iface.clone(), "restart the server"));
        }
        self.stop_server().await;
        self.spawn_server()?;
        self.wait_ready().await?;
        Ok(self.ready_after().unwrap_or_default())
    }

    /// Stops the server and removes the namespaces (with the veth, tap and bridge). The run
    /// directory stays. Never fails: cleanup problems are ignored so that one broken step does
    /// not leave the rest behind.
    pub async fn shutdown(self) {
        self.port.close();
        self.stop_server().await;
        // Give the runtime a moment to drop the adapter's aborted receive task, so its socket
        // is closed before the namespace goes.
        tokio::task::yield_now().await;
        if let Mode::Namespaced { .. } = self.mode {
            if let Some(entry) = deregister(self.key) {
                let namespaces = entry.namespaces;
                let _ = tokio::task::spawn_blocking(move || delete_namespaces(&namespaces)).await;
            }
        }
        self.torn_down.store(true, Ordering::SeqCst);
    }
}

impl Drop for Lab {
    /// The fallback when `shutdown` was not awaited (early return, panic): blocking cleanup.
    fn drop(&mut self) {
        if self.torn_down.swap(true, Ordering::SeqCst) {
            return;
        }
        self.port.close();
        self.stop_server_blocking();
        if let Mode::Namespaced { .. } = self.mode {
            if let Some(entry) = deregister(self.key) {
                delete_namespaces(&entry.namespaces);
            }
        }
    }
}

fn check_adapter_fits(profile: &Profile, kind: AdapterKind) -> Result<(), LabError> {
    let ok = match profile.protocol {
        ProtocolKind::Dhcp => true,
        ProtocolKind::Dns => kind == AdapterKind::Udp,
    };
    if ok {
        Ok(())
    } else {
        Err(LabError::Profile(crate::error::ProfileError::Invalid {
            origin: profile.origin.clone(),
            problems: vec![format!(
                "adapter: `{}` cannot carry {:?}",
                kind.as_str(),
                profile.protocol
            )],
        }))
    }
}

fn derived_params(
    profile: &Profile,
    kind: AdapterKind,
    names: &LabNames,
) -> BTreeMap<String, String> {
    let l = &profile.lab;
    let mut p = profile.params.clone();
    let mut set = |k: &str, v: String| {
        p.insert(k.to_string(), v);
    };
    set("server_ip", l.server_ip.to_string());
    set("subnet_mask", l.netmask().to_string());
    set("prefix_len", l.prefix_len.to_string());
    set("server_mac", format_mac(l.server_mac));
    set("server_port", l.server_port.to_string());
    set("client_iface", names.client_if.clone());
    set("adapter", kind.as_str().to_string());
    match kind {
        AdapterKind::Raw => {
            set("client_mac", format_mac(l.client_mac));
            set("client_ip", l.client_ip.to_string());
            set("relay_ip", l.client_ip.to_string());
        }
        AdapterKind::Tap => set("client_mac", format_mac(DEFAULT_TAP_MAC)),
        AdapterKind::Relay => {
            set("client_ip", l.client_ip.to_string());
            set("relay_ip", l.client_ip.to_string());
        }
        AdapterKind::Udp => set("client_ip", l.client_ip.to_string()),
    }
    p
}

/// The smallest list of CIDR blocks covering `start..=end` exactly.
fn cidr_cover(start: std::net::Ipv4Addr, end: std::net::Ipv4Addr) -> Vec<(std::net::Ipv4Addr, u8)> {
    let (mut a, b) = (u64::from(u32::from(start)), u64::from(u32::from(end)));
    let mut out = Vec::new();
    while a <= b {
        // The largest block aligned at `a` that stays within `b`.
        let mut size = if a == 0 {
            1u64 << 32
        } else {
            a & a.wrapping_neg()
        };
        while a + size - 1 > b {
            size >>= 1;
        }
        out.push((
            std::net::Ipv4Addr::from(a as u32),
            32 - size.trailing_zeros() as u8,
        ));
        a += size;
    }
    out
}

/// Creates both namespaces; on failure removes whichever was created.
fn create_namespaces(names: &LabNames) -> Result<(), LabError> {
    cmd::run_ok(&cmd::ip(&["netns", "add", &names.server_ns]), None)?;
    if let Err(e) = cmd::run_ok(&cmd::ip(&["netns", "add", &names.client_ns]), None) {
        delete_namespaces(std::slice::from_ref(&names.server_ns));
        return Err(e);
    }
    Ok(())
}

/// Runs blocking work (helper processes) off the async worker threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, LabError> + Send + 'static,
) -> Result<T, LabError> {
    tokio::task::spawn_blocking(f).await.unwrap_or_else(|e| {
        Err(LabError::Command {
            cmd: "lab helper".into(),
            detail: format!("helper task failed: {e}"),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fit_ifnamsiz_for_the_largest_pid() {
        let n = LabNames::new("4194304-zz", AdapterKind::Tap);
        for s in [
            &n.server_if,
            &n.client_if,
            n.tap.as_ref().unwrap(),
            n.bridge.as_ref().unwrap(),
        ] {
            assert!(s.len() <= 15, "{s}");
        }
        assert_eq!(n.server_ns, "cf4194304-zzs");
    }

    #[test]
    fn ids_are_unique_and_short() {
        let (a, ia) = next_id();
        let (b, ib) = next_id();
        assert_ne!(a, b);
        assert_ne!(ia, ib);
        assert!(ia.starts_with(&format!("{}-", std::process::id())));
    }

    #[test]
    fn derived_params_per_adapter() {
        let p = Profile::builtin("dnsmasq").unwrap().unwrap();
        let names = LabNames::new("1-0", AdapterKind::Relay);
        let d = derived_params(&p, AdapterKind::Relay, &names);
        assert_eq!(d["relay_ip"], "192.0.2.2");
        assert_eq!(d["pool_start"], "192.0.2.100");
        let ip = |s: &str| s.parse::<std::net::Ipv4Addr>().unwrap();
        assert_eq!(
            cidr_cover(ip("192.0.2.100"), ip("192.0.2.200")),
            vec![
                (ip("192.0.2.100"), 30),
                (ip("192.0.2.104"), 29),
                (ip("192.0.2.112"), 28),
                (ip("192.0.2.128"), 26),
                (ip("192.0.2.192"), 29),
                (ip("192.0.2.200"), 32)
            ]
        );
        assert_eq!(d["adapter"], "relay");
        // Raw mode: the client veth has client_ip too, so suites can act as a relay agent.
        let d = derived_params(&p, AdapterKind::Raw, &names);
        assert_eq!(d["relay_ip"], "192.0.2.2");
        assert_eq!(d["client_mac"], "02:cf:00:00:00:02");
        let d = derived_params(&p, AdapterKind::Tap, &names);
        assert!(!d.contains_key("relay_ip"));
    }

    #[test]
    fn run_dir_must_be_empty() {
        let base = std::env::temp_dir().join(format!("conform-lab-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let d = prepare_run_dir(Some(&base), "x").unwrap();
        assert!(d.is_absolute());
        std::fs::write(base.join("f"), "x").unwrap();
        let e = prepare_run_dir(Some(&base), "x").unwrap_err();
        assert!(e.to_string().contains("not empty"), "{e}");
        let _ = std::fs::remove_dir_all(&base);
    }

    #[tokio::test]
    async fn closed_port_errors_and_closes_receivers() {
        let port = LabPort {
            inner: RwLock::new(None),
            label: "lab t".into(),
        };
        assert!(port
            .send(&Datagram::default())
            .await
            .unwrap_err()
            .to_string()
            .contains("shut down"));
        let mut rx = port.subscribe();
        assert!(matches!(
            rx.recv().await,
            Err(broadcast::error::RecvError::Closed)
        ));
    }
}
