//! The only place in conform with `unsafe` code: thin, safe wrappers around the Linux calls the
//! adapters and the lab need and that neither `std` nor `socket2` offer.
//!
//! - AF_PACKET details: binding to an interface index, `PACKET_IGNORE_OUTGOING`, reading the
//!   `sockaddr_ll` of each received frame (its `sll_pkttype`), sending with a `sockaddr_ll`,
//!   and the interface's hardware address (`SIOCGIFHWADDR`).
//! - Network namespaces: `setns(2)` on `/var/run/netns/NAME`, only ever on a short-lived thread
//!   ([`run_in_netns`]) so that no pooled thread (and never the caller's) changes namespace.
//! - TAP devices: `open("/dev/net/tun")` plus `TUNSETIFF`.
//! - Signals: `kill(2)` by PID, for the lab's server processes.
//!
//! Invariant of this module: every `unsafe` block passes pointers to buffers and structures that
//! live across the call and whose sizes are passed alongside them; nothing here keeps raw
//! pointers after returning. Each block says why it is sound in a `SAFETY` comment.
#![allow(unsafe_code)]

use std::ffi::CString;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// `PACKET_IGNORE_OUTGOING` from `<linux/if_packet.h>` (Linux 4.20+); not exported by `libc`.
const PACKET_IGNORE_OUTGOING: libc::c_int = 23;

/// `sll_pkttype` of a frame this host sent (`PACKET_OUTGOING`).
pub(crate) const PACKET_OUTGOING: u8 = 4;

/// `IFNAMSIZ`: interface names are at most 15 bytes plus the terminating NUL.
pub const IFNAMSIZ: usize = 16;

/// `struct ifreq` with the union viewed as `short ifr_flags` (TUNSETIFF). The kernel copies
/// `sizeof(struct ifreq)` = 40 bytes, hence the padding.
#[repr(C)]
struct IfReqFlags {
    name: [libc::c_char; IFNAMSIZ],
    flags: libc::c_short,
    _pad: [u8; 22],
}

/// `struct ifreq` with the union viewed as `struct sockaddr ifr_hwaddr` (SIOCGIFHWADDR).
#[repr(C)]
struct IfReqHwAddr {
    name: [libc::c_char; IFNAMSIZ],
    addr: libc::sockaddr,
    _pad: [u8; 8],
}

/// Copies an interface name into an `ifr_name` field, rejecting names the kernel would reject.
fn ifr_name(name: &str) -> io::Result<[libc::c_char; IFNAMSIZ]> {
    let bytes = name.as_bytes();
    if bytes.is_empty() || bytes.len() >= IFNAMSIZ || bytes.contains(&0) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("invalid interface name `{name}` (1 to 15 bytes, no NUL)"),
        ));
    }
    let mut out = [0 as libc::c_char; IFNAMSIZ];
    for (o, b) in out.iter_mut().zip(bytes) {
        *o = *b as libc::c_char;
    }
    Ok(out)
}

/// The index of interface `name` in the calling thread's network namespace.
/// `ENODEV` (as `io::ErrorKind::NotFound`) when it does not exist.
pub(crate) fn if_index(name: &str) -> io::Result<u32> {
    let c = CString::new(name)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "interface name contains NUL"))?;
    // SAFETY: `c` is a valid NUL-terminated string that outlives the call.
    let idx = unsafe { libc::if_nametoindex(c.as_ptr()) };
    if idx == 0 {
        let e = io::Error::last_os_error();
        // if_nametoindex reports a missing device as ENODEV; normalise for callers.
        if e.raw_os_error() == Some(libc::ENODEV) || e.raw_os_error() == Some(libc::ENXIO) {
            return Err(io::Error::new(io::ErrorKind::NotFound, e));
        }
        return Err(e);
    }
    Ok(idx)
}

fn sockaddr_ll(ifindex: u32, protocol: u16) -> libc::sockaddr_ll {
    libc::sockaddr_ll {
        sll_family: libc::AF_PACKET as u16,
        sll_protocol: protocol.to_be(),
        sll_ifindex: ifindex as libc::c_int,
        sll_hatype: 0,
        sll_pkttype: 0,
        sll_halen: 0,
        sll_addr: [0; 8],
    }
}

/// Binds a packet socket to one interface and protocol (host byte order, e.g. `ETH_P_ALL`).
pub(crate) fn bind_packet(fd: &impl AsRawFd, ifindex: u32, protocol: u16) -> io::Result<()> {
    let sll = sockaddr_ll(ifindex, protocol);
    // SAFETY: `sll` is a fully initialised sockaddr_ll living across the call; its size is passed.
    let rc = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&sll as *const libc::sockaddr_ll).cast::<libc::sockaddr>(),
            std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Asks the kernel not to loop this socket's (and this host's) outgoing frames back to it.
pub(crate) fn set_ignore_outgoing(fd: &impl AsRawFd) -> io::Result<()> {
    let one: libc::c_int = 1;
    // SAFETY: `one` is an int living across the call; its size is passed.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_PACKET,
            PACKET_IGNORE_OUTGOING,
            (&one as *const libc::c_int).cast::<libc::c_void>(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The Ethernet address of interface `name`, queried through any socket `fd` of the same
/// network namespace.
pub(crate) fn hw_addr(fd: &impl AsRawFd, name: &str) -> io::Result<[u8; 6]> {
    let mut req = IfReqHwAddr {
        name: ifr_name(name)?,
        // SAFETY: sockaddr is plain old data; all-zero is a valid value.
        addr: unsafe { std::mem::zeroed() },
        _pad: [0; 8],
    };
    // SAFETY: SIOCGIFHWADDR reads ifr_name and writes ifr_hwaddr inside the 40-byte `req`,
    // which lives across the call.
    let rc = unsafe {
        libc::ioctl(
            fd.as_raw_fd(),
            libc::SIOCGIFHWADDR,
            &mut req as *mut IfReqHwAddr,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    let mut mac = [0u8; 6];
    for (m, b) in mac.iter_mut().zip(req.addr.sa_data.iter()) {
        *m = *b as u8;
    }
    Ok(mac)
}

/// What the kernel said about one received frame.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct RecvInfo {
    /// Full length of the frame; larger than the buffer when it was truncated (`MSG_TRUNC`).
    pub len: usize,
    /// `sll_pkttype`: host, broadcast, multicast, other host, outgoing.
    pub pkttype: u8,
    /// `TP_STATUS_CSUMNOTREADY`: the sender offloaded its checksum and nobody finished it
    /// (typical for a veth), so the checksum field is not meaningful.
    pub csum_not_ready: bool,
}

const PACKET_AUXDATA: libc::c_int = 8;
const TP_STATUS_CSUMNOTREADY: u32 = 1 << 3;

/// `struct tpacket_auxdata` from `<linux/if_packet.h>`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct TpacketAuxdata {
    tp_status: u32,
    tp_len: u32,
    tp_snaplen: u32,
    tp_mac: u16,
    tp_net: u16,
    tp_vlan_tci: u16,
    tp_vlan_tpid: u16,
}

/// Asks for a `PACKET_AUXDATA` control message with every received frame.
pub(crate) fn set_auxdata(fd: &impl AsRawFd) -> io::Result<()> {
    let one: libc::c_int = 1;
    // SAFETY: `one` is an int living across the call; its size is passed.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_PACKET,
            PACKET_AUXDATA,
            (&one as *const libc::c_int).cast::<libc::c_void>(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Receives one frame with its `sll_pkttype` and, when [`set_auxdata`] was called, its
/// checksum status.
pub(crate) fn recv_ll(fd: &impl AsRawFd, buf: &mut [u8]) -> io::Result<RecvInfo> {
    // SAFETY: sockaddr_ll is plain old data; all-zero is a valid value.
    let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    // u64 elements keep the control buffer aligned for cmsghdr.
    let mut control = [0u64; 16];
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast::<libc::c_void>(),
        iov_len: buf.len(),
    };
    // SAFETY: msghdr is plain old data; all-zero is a valid value.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_name = (&mut sll as *mut libc::sockaddr_ll).cast::<libc::c_void>();
    msg.msg_namelen = std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast::<libc::c_void>();
    msg.msg_controllen = std::mem::size_of_val(&control) as _;
    // SAFETY: every pointer in `msg` refers to a live buffer (`sll`, `iov` → `buf`, `control`)
    // whose size is given next to it.
    let n = unsafe { libc::recvmsg(fd.as_raw_fd(), &mut msg, libc::MSG_TRUNC) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut info = RecvInfo {
        len: n as usize,
        pkttype: sll.sll_pkttype,
        csum_not_ready: false,
    };
    // SAFETY: the CMSG_* macros walk the control buffer the kernel just filled, bounded by
    // msg_controllen; the payload is read unaligned and only when it is large enough.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(&msg);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_PACKET
                && (*c).cmsg_type == PACKET_AUXDATA
                && (*c).cmsg_len as usize
                    >= libc::CMSG_LEN(std::mem::size_of::<TpacketAuxdata>() as u32) as usize
            {
                let aux = std::ptr::read_unaligned(libc::CMSG_DATA(c).cast::<TpacketAuxdata>());
                info.csum_not_ready = aux.tp_status & TP_STATUS_CSUMNOTREADY != 0;
            }
            c = libc::CMSG_NXTHDR(&msg, c);
        }
    }
    Ok(info)
}

const SIOCETHTOOL: libc::c_ulong = 0x8946;
const ETHTOOL_STXCSUM: u32 = 0x17;

/// `struct ethtool_value`.
#[repr(C)]
struct EthtoolValue {
    cmd: u32,
    data: u32,
}

/// `struct ifreq` with the union viewed as `void *ifr_data` (SIOCETHTOOL).
#[repr(C)]
struct IfReqData {
    name: [libc::c_char; IFNAMSIZ],
    data: *mut libc::c_void,
    _pad: [u8; 16],
}

/// Turns TX checksum offload off on interface `name` of the calling thread's namespace
/// (`ethtool -K NAME tx off`), so frames leaving it carry finished UDP checksums, as they would
/// on a physical NIC. Without this, a veth hands the peer frames with partial checksums.
pub fn disable_tx_checksum_offload(name: &str) -> io::Result<()> {
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None)?;
    let mut val = EthtoolValue {
        cmd: ETHTOOL_STXCSUM,
        data: 0,
    };
    let mut req = IfReqData {
        name: ifr_name(name)?,
        data: (&mut val as *mut EthtoolValue).cast::<libc::c_void>(),
        _pad: [0; 16],
    };
    // SAFETY: SIOCETHTOOL reads the 40-byte `req`, whose data pointer refers to `val`; both
    // live across the call.
    let rc = unsafe { libc::ioctl(sock.as_raw_fd(), SIOCETHTOOL, &mut req as *mut IfReqData) };
    if rc != 0 {
        let e = io::Error::last_os_error();
        return Err(io::Error::new(
            e.kind(),
            format!("ethtool tx off on {name}: {e}"),
        ));
    }
    Ok(())
}

/// Sends one complete Ethernet frame out of interface `ifindex`. `ethertype` is the frame's
/// EtherType in host order (it becomes `skb->protocol`).
pub(crate) fn send_ll(
    fd: &impl AsRawFd,
    ifindex: u32,
    ethertype: u16,
    frame: &[u8],
) -> io::Result<usize> {
    let sll = sockaddr_ll(ifindex, ethertype);
    // SAFETY: `frame` is readable for its length, `sll` is initialised; both outlive the call.
    let n = unsafe {
        libc::sendto(
            fd.as_raw_fd(),
            frame.as_ptr().cast::<libc::c_void>(),
            frame.len(),
            0,
            (&sll as *const libc::sockaddr_ll).cast::<libc::sockaddr>(),
            std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
        )
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(n as usize)
}

/// Moves the calling thread into the network namespace `/var/run/netns/NAME`.
/// Only for threads that exit right after their work: see [`run_in_netns`].
fn enter_netns(name: &str) -> io::Result<()> {
    if name.is_empty() || name.contains('/') || name == "." || name == ".." {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("invalid network namespace name `{name}`"),
        ));
    }
    let path = format!("/var/run/netns/{name}");
    let f = File::open(&path)
        .map_err(|e| io::Error::new(e.kind(), format!("open network namespace {path}: {e}")))?;
    // SAFETY: `f` is an open namespace file descriptor for the duration of the call.
    let rc = unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) };
    if rc != 0 {
        let e = io::Error::last_os_error();
        return Err(io::Error::new(e.kind(), format!("setns({path}): {e}")));
    }
    Ok(())
}

/// Runs `f` on a fresh thread, inside network namespace `netns` when given, and returns its
/// result. Sockets and fds created by `f` stay in that namespace after the thread has exited,
/// while the calling process (and every other thread) stays where it was.
///
/// Async so that a tokio worker is not blocked: opening a packet socket costs several ms of
/// RCU grace period (lab.md 1.3).
pub async fn run_in_netns<T, F>(netns: Option<&str>, f: F) -> io::Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> io::Result<T> + Send + 'static,
{
    let netns = netns.map(str::to_owned);
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("conform-netns".into())
        .spawn(move || {
            let r = match netns.as_deref() {
                Some(ns) => enter_netns(ns).and_then(|()| f()),
                None => f(),
            };
            // The receiver may be gone (caller cancelled); then the result is simply dropped.
            let _ = tx.send(r);
        })?;
    rx.await
        .unwrap_or_else(|_| Err(io::Error::other("namespace helper thread panicked")))
}

/// Opens `/dev/net/tun` and attaches to the existing TAP device `name` (`IFF_TAP | IFF_NO_PI`),
/// non-blocking. The device is looked up in the calling thread's network namespace.
pub(crate) fn open_tap(name: &str) -> io::Result<OwnedFd> {
    let path = c"/dev/net/tun";
    // SAFETY: `path` is a valid NUL-terminated string.
    let fd = unsafe {
        libc::open(
            path.as_ptr(),
            libc::O_RDWR | libc::O_NONBLOCK | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        let e = io::Error::last_os_error();
        return Err(io::Error::new(e.kind(), format!("open /dev/net/tun: {e}")));
    }
    // SAFETY: `fd` was just returned by open(2) and is owned by nobody else.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    let mut req = IfReqFlags {
        name: ifr_name(name)?,
        flags: (libc::IFF_TAP | libc::IFF_NO_PI) as libc::c_short,
        _pad: [0; 22],
    };
    // SAFETY: TUNSETIFF reads (and may write back) the 40-byte `req`, which lives across the call.
    let rc = unsafe {
        libc::ioctl(
            owned.as_raw_fd(),
            libc::TUNSETIFF,
            &mut req as *mut IfReqFlags,
        )
    };
    if rc != 0 {
        let e = io::Error::last_os_error();
        return Err(io::Error::new(e.kind(), format!("TUNSETIFF {name}: {e}")));
    }
    Ok(owned)
}

/// Signals a process conform started. `sig` is a signal number such as `libc::SIGTERM`.
pub fn send_signal(pid: u32, sig: i32) -> io::Result<()> {
    let pid = libc::pid_t::try_from(pid)
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "invalid pid"))?;
    // SAFETY: kill(2) takes plain integers; pid > 0 targets exactly one process, never a group.
    let rc = unsafe { libc::kill(pid, sig) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Signal numbers by name, for profiles (`TERM`, `SIGTERM`, `INT`, ...).
pub fn signal_by_name(name: &str) -> Option<i32> {
    let n = name.trim().trim_start_matches("SIG");
    Some(match n {
        "TERM" => libc::SIGTERM,
        "INT" => libc::SIGINT,
        "HUP" => libc::SIGHUP,
        "QUIT" => libc::SIGQUIT,
        "KILL" => libc::SIGKILL,
        "USR1" => libc::SIGUSR1,
        "USR2" => libc::SIGUSR2,
        _ => return None,
    })
}

/// Registers an owned socket with the tokio reactor (must run inside a runtime).
pub(crate) fn async_socket(
    s: socket2::Socket,
) -> io::Result<tokio::io::unix::AsyncFd<socket2::Socket>> {
    // SAFETY: `Socket` owns its fd, closes it only on drop and always returns the same fd from
    // as_raw_fd; the AsyncFd takes ownership, and callers never replace it via get_mut.
    unsafe { tokio::io::unix::AsyncFd::register(s) }.map_err(io::Error::from)
}

/// Registers a UDP socket with the tokio reactor for readability only (must run inside a
/// runtime): see `udp::UdpIo` for why not writability.
pub(crate) fn async_udp_readable(
    s: std::net::UdpSocket,
) -> io::Result<tokio::io::unix::AsyncFd<std::net::UdpSocket>> {
    // SAFETY: as for `async_socket`: the `UdpSocket` owns its fd for its whole life and the
    // AsyncFd takes ownership of it.
    unsafe { tokio::io::unix::AsyncFd::register_with_interest(s, tokio::io::Interest::READABLE) }
        .map_err(io::Error::from)
}

/// Registers an owned file (a tap fd) with the tokio reactor (must run inside a runtime).
pub(crate) fn async_file(f: File) -> io::Result<tokio::io::unix::AsyncFd<File>> {
    // SAFETY: as for `async_socket`: `File` owns its fd for its whole life.
    unsafe { tokio::io::unix::AsyncFd::register(f) }.map_err(io::Error::from)
}

/// How many datagrams one [`recv_batch`] call takes at most.
pub(crate) const BATCH_SLOTS: usize = 8;

/// Bytes per slot: the largest UDP payload.
const SLOT_BYTES: usize = 65_536;

/// Buffers for [`recv_batch`]: [`BATCH_SLOTS`] datagrams of up to 64 KiB each, with their
/// sources. Allocated once per receive loop.
pub(crate) struct RecvBatch {
    bufs: Vec<Vec<u8>>,
    addrs: [libc::sockaddr_storage; BATCH_SLOTS],
    lens: [usize; BATCH_SLOTS],
}

impl RecvBatch {
    pub(crate) fn new() -> Self {
        RecvBatch {
            bufs: (0..BATCH_SLOTS).map(|_| vec![0u8; SLOT_BYTES]).collect(),
            // SAFETY: sockaddr_storage is plain old data; all-zero is a valid value.
            addrs: unsafe { std::mem::zeroed() },
            lens: [0; BATCH_SLOTS],
        }
    }

    /// Datagram `i` of the last call: its bytes and its source (`None` for a family other
    /// than IPv4 or IPv6).
    pub(crate) fn get(&self, i: usize) -> (&[u8], Option<std::net::SocketAddr>) {
        (
            &self.bufs[i][..self.lens[i]],
            sockaddr_to_std(&self.addrs[i]),
        )
    }
}

fn sockaddr_to_std(sa: &libc::sockaddr_storage) -> Option<std::net::SocketAddr> {
    use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
    match libc::c_int::from(sa.ss_family) {
        libc::AF_INET => {
            // SAFETY: the family says the storage holds a sockaddr_in, which it is large and
            // aligned enough for.
            let a = unsafe { &*(sa as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            Some(SocketAddr::new(
                Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr)).into(),
                u16::from_be(a.sin_port),
            ))
        }
        libc::AF_INET6 => {
            // SAFETY: as above, for sockaddr_in6.
            let a = unsafe { &*(sa as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
            Some(SocketAddr::new(
                Ipv6Addr::from(a.sin6_addr.s6_addr).into(),
                u16::from_be(a.sin6_port),
            ))
        }
        _ => None,
    }
}

/// Receives up to [`BATCH_SLOTS`] datagrams waiting on a UDP socket without blocking
/// (`recvmmsg(2)` with `MSG_DONTWAIT`) and returns how many it took. Fewer than the slots means
/// the queue was empty when the call ended, so the caller needs no further read to learn that
/// (a datagram arriving later raises a new readiness event). Errors as `recvmmsg` reports them
/// (EAGAIN when nothing was waiting).
pub(crate) fn recv_batch(fd: &impl AsRawFd, batch: &mut RecvBatch) -> io::Result<usize> {
    // SAFETY: iovec and mmsghdr are plain old data; all-zero is a valid value.
    let mut iovs: [libc::iovec; BATCH_SLOTS] = unsafe { std::mem::zeroed() };
    let mut msgs: [libc::mmsghdr; BATCH_SLOTS] = unsafe { std::mem::zeroed() };
    for (i, (iov, m)) in iovs.iter_mut().zip(msgs.iter_mut()).enumerate() {
        iov.iov_base = batch.bufs[i].as_mut_ptr().cast::<libc::c_void>();
        iov.iov_len = batch.bufs[i].len();
        m.msg_hdr.msg_name = (&mut batch.addrs[i] as *mut libc::sockaddr_storage).cast();
        m.msg_hdr.msg_namelen = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        m.msg_hdr.msg_iov = iov;
        m.msg_hdr.msg_iovlen = 1;
    }
    // SAFETY: `msgs` holds BATCH_SLOTS headers whose name and iovec pointers refer to live
    // buffers in `batch` and `iovs` (sizes alongside), all outliving the call; no timeout.
    let got = unsafe {
        libc::recvmmsg(
            fd.as_raw_fd(),
            msgs.as_mut_ptr(),
            BATCH_SLOTS as libc::c_uint,
            libc::MSG_DONTWAIT,
            std::ptr::null_mut(),
        )
    };
    if got < 0 {
        return Err(io::Error::last_os_error());
    }
    let got = got as usize;
    for (len, m) in batch.lens.iter_mut().zip(&msgs).take(got) {
        *len = (m.msg_len as usize).min(SLOT_BYTES);
    }
    Ok(got)
}
