//! A fuzz case as data: what kind of client message it is, its header, its options in wire
//! order, and the structural mutations applied on top. [`FuzzCase::encode`] turns it into the
//! exact bytes and lower-layer facts sent to the server, given the target's addresses ([`Env`]).
//!
//! Cases are symbolic where it matters for shrinking and portability: addresses are [`Addr`]
//! values resolved against the target (a pool address stays a pool address on any server), the
//! common client identifier `01 <chaddr>` is [`Val::CidChaddr`] (it follows chaddr while chaddr
//! shrinks), and mutations name options by index modulo the current option count (they stay
//! meaningful while the option list shrinks).

use conform_codec::dhcp::raw::{Entry, OptionArea, RawOption, Repr, FLAG_BROADCAST, MAGIC_COOKIE};
use conform_codec::{Datagram, Meta};
use std::net::{IpAddr, Ipv4Addr};

/// The target's addresses, from the lab's (or the user's) parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Env {
    pub server_ip: Ipv4Addr,
    pub mask: Ipv4Addr,
    pub pool_start: Ipv4Addr,
    pub pool_end: Ipv4Addr,
    /// The tester's address when it acts as a relay agent (its interface has it): giaddr.
    pub relay_ip: Ipv4Addr,
    /// The IP source of relayed messages (parameter `relay_src_ip`, default `relay_ip`): a
    /// profile may set another address, as a routed relay sends from its server-facing side
    /// (the udhcpd profile does: lib/common.yaml says why).
    pub relay_src_ip: Ipv4Addr,
    /// The server's MAC, for frames unicast to it (relayed and RENEWING messages).
    pub server_mac: [u8; 6],
    /// Lease time the server is configured with (informational: oracles never require it).
    pub lease_time: Option<u32>,
}

impl Default for Env {
    /// The lab's defaults (docs/profiles.md).
    fn default() -> Self {
        Env {
            server_ip: Ipv4Addr::new(192, 0, 2, 1),
            mask: Ipv4Addr::new(255, 255, 255, 0),
            pool_start: Ipv4Addr::new(192, 0, 2, 100),
            pool_end: Ipv4Addr::new(192, 0, 2, 200),
            relay_ip: Ipv4Addr::new(192, 0, 2, 2),
            relay_src_ip: Ipv4Addr::new(192, 0, 2, 2),
            server_mac: [0x02, 0xcf, 0, 0, 0, 1],
            lease_time: Some(3600),
        }
    }
}

impl Env {
    pub fn network(&self) -> u32 {
        u32::from(self.server_ip) & u32::from(self.mask)
    }
    pub fn broadcast(&self) -> u32 {
        self.network() | !u32::from(self.mask)
    }
    pub fn in_subnet(&self, a: Ipv4Addr) -> bool {
        u32::from(a) & u32::from(self.mask) == self.network()
    }
    /// A usable host address of the subnet: not the network or broadcast address, not the
    /// server's own.
    pub fn assignable(&self, a: Ipv4Addr) -> bool {
        let x = u32::from(a);
        self.in_subnet(a) && x != self.network() && x != self.broadcast() && a != self.server_ip
    }
    fn pool_size(&self) -> u32 {
        u32::from(self.pool_end)
            .saturating_sub(u32::from(self.pool_start))
            .saturating_add(1)
    }
}

/// An address in a case, resolved against [`Env`] when encoding.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Addr {
    Zero,
    /// The server's own address.
    Server,
    /// The n-th pool address (modulo the pool size).
    Pool(u8),
    /// Host n of the server's subnet (may or may not be in the pool).
    Subnet(u8),
    /// 198.51.100.n: on no network the server serves (TEST-NET-2).
    Foreign(u8),
    /// The tester's relay address.
    Relay,
    Broadcast,
}

impl Addr {
    pub fn resolve(&self, env: &Env) -> Ipv4Addr {
        match self {
            Addr::Zero => Ipv4Addr::UNSPECIFIED,
            Addr::Server => env.server_ip,
            Addr::Pool(n) => {
                Ipv4Addr::from(u32::from(env.pool_start) + u32::from(*n) % env.pool_size().max(1))
            }
            Addr::Subnet(n) => {
                Ipv4Addr::from(env.network() | (u32::from(*n) & !u32::from(env.mask)))
            }
            Addr::Foreign(n) => Ipv4Addr::new(198, 51, 100, *n),
            Addr::Relay => env.relay_ip,
            Addr::Broadcast => Ipv4Addr::BROADCAST,
        }
    }
}

/// An option's value.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Val {
    Bytes(Vec<u8>),
    /// An IPv4 address (4 octets).
    Addr(Addr),
    /// Client identifier `01` + the case's chaddr (6 octets): what udhcpc, Windows, macOS and
    /// Android send.
    CidChaddr,
}

/// One logical option. Values longer than 255 octets are emitted as RFC 3396 instances.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Opt {
    pub code: u8,
    pub val: Val,
}

impl Opt {
    pub fn bytes(code: u8, b: impl Into<Vec<u8>>) -> Opt {
        Opt {
            code,
            val: Val::Bytes(b.into()),
        }
    }
    pub fn addr(code: u8, a: Addr) -> Opt {
        Opt {
            code,
            val: Val::Addr(a),
        }
    }
    fn data(&self, env: &Env, chaddr: &[u8; 6]) -> Vec<u8> {
        match &self.val {
            Val::Bytes(b) => b.clone(),
            Val::Addr(a) => a.resolve(env).octets().to_vec(),
            Val::CidChaddr => {
                let mut v = vec![1];
                v.extend_from_slice(chaddr);
                v
            }
        }
    }
}

/// The client message a case imitates (the DHCP client states of RFC 2131 §4.3.2 for
/// REQUEST).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    Discover,
    /// REQUEST in SELECTING: 54 and 50, ciaddr 0, broadcast.
    Selecting,
    /// REQUEST in INIT-REBOOT: 50, no 54, ciaddr 0, broadcast.
    InitReboot,
    /// REQUEST in RENEWING: ciaddr, unicast to the server.
    Renewing,
    /// REQUEST in REBINDING: ciaddr, broadcast.
    Rebinding,
    Decline,
    Release,
    Inform,
}

impl Kind {
    /// The option 53 value of this kind.
    pub fn message_type(self) -> u8 {
        match self {
            Kind::Discover => 1,
            Kind::Selecting | Kind::InitReboot | Kind::Renewing | Kind::Rebinding => 3,
            Kind::Decline => 4,
            Kind::Release => 7,
            Kind::Inform => 8,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Kind::Discover => "DHCPDISCOVER",
            Kind::Selecting => "DHCPREQUEST (SELECTING)",
            Kind::InitReboot => "DHCPREQUEST (INIT-REBOOT)",
            Kind::Renewing => "DHCPREQUEST (RENEWING)",
            Kind::Rebinding => "DHCPREQUEST (REBINDING)",
            Kind::Decline => "DHCPDECLINE",
            Kind::Release => "DHCPRELEASE",
            Kind::Inform => "DHCPINFORM",
        }
    }
    /// Whether ciaddr carries an address in this kind.
    pub fn has_ciaddr(self) -> bool {
        matches!(
            self,
            Kind::Renewing | Kind::Rebinding | Kind::Release | Kind::Inform
        )
    }
}

/// Relay agent path: the tester plays the relay (giaddr set, sent from the relay address to
/// the server's port 67).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Relay {
    pub giaddr: Addr,
    pub hops: u8,
}

/// A lying length octet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LenLie {
    Zero,
    Max,
    PlusOne,
    MinusOne,
    Value(u8),
}

/// Where a message is cut.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Cut {
    /// Exactly 240 octets: header and cookie, no options (systemd #26151).
    Bare240,
    /// Inside the fixed header (200 + n % 36 octets).
    Header(u8),
    /// Inside the options: 240 + n % (options length).
    Options(u8),
}

/// Structural mutations, applied in order after the options are laid out.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Mutation {
    /// Copy option `idx` right after itself (adjacent) or to the end (non-adjacent).
    Duplicate { idx: usize, adjacent: bool },
    /// Move option `from` to position `to`.
    Move { from: usize, to: usize },
    /// Remove option `idx`.
    Remove { idx: usize },
    /// Write a length octet that disagrees with the data.
    LieLen { idx: usize, lie: LenLie },
    /// Empty the data of option `idx` (length 0).
    Empty { idx: usize },
    /// A run of PAD octets before option `at`.
    PadRun { at: usize, n: u8 },
    /// Split option `idx` into two instances (RFC 3396) after `at` octets of data.
    Split { idx: usize, at: u8 },
    /// Move options into `file` (1), `sname` (2) or both (3) and add option 52.
    Overload { area: u8, take: Vec<usize> },
    /// No END option.
    NoEnd,
    /// Octets after END.
    AfterEnd(Vec<u8>),
    /// Another magic cookie.
    Cookie([u8; 4]),
    /// Odd hardware type and length.
    Hw { htype: u8, hlen: u8 },
    /// Another op code (2 = BOOTREPLY).
    Op(u8),
    /// Cut the message short.
    Truncate(Cut),
    /// Zero-pad the message to this size (when larger).
    PadTo(u16),
}

/// One generated client message. See the module documentation.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FuzzCase {
    pub kind: Kind,
    pub chaddr: [u8; 6],
    pub broadcast: bool,
    /// Must-be-zero flag bits that are set anyway (RFC 2131 §2).
    pub mbz: u16,
    pub secs: u16,
    pub ciaddr: Addr,
    pub relay: Option<Relay>,
    /// The options in wire order (53 included), before mutations.
    pub options: Vec<Opt>,
    pub mutations: Vec<Mutation>,
}

/// What goes on the wire for a case.
#[derive(Clone, Debug)]
pub struct Encoded {
    pub repr: Repr,
    pub bytes: Vec<u8>,
    pub datagram: Datagram,
}

/// Lays out entries for the options, splitting long values (RFC 3396).
fn entries_of(opts: &[(u8, Vec<u8>)]) -> Vec<RawOption> {
    let mut v = Vec::new();
    for (code, data) in opts {
        v.extend(conform_codec::dhcp::raw::split_option(*code, data));
    }
    v
}

fn idx(i: usize, len: usize) -> Option<usize> {
    (len > 0).then(|| i % len)
}

/// Writes options into a fixed-size area (file or sname) with END and PAD; returns how many of
/// `opts` fitted.
fn fill_area(area: &mut [u8], opts: &[RawOption]) -> usize {
    area.fill(0);
    let mut at = 0;
    let mut n = 0;
    for o in opts {
        let need = 2 + o.data.len();
        if at + need + 1 > area.len() {
            break;
        }
        area[at] = o.code;
        area[at + 1] = o.len;
        area[at + 2..at + need].copy_from_slice(&o.data);
        at += need;
        n += 1;
    }
    area[at] = 255;
    n
}

impl FuzzCase {
    /// The message's option 53 value as generated (before mutations).
    pub fn message_type(&self) -> u8 {
        self.kind.message_type()
    }

    /// The bytes and frame facts for this case with transaction id `xid`.
    pub fn encode(&self, env: &Env, xid: u32) -> Encoded {
        let mut repr = Repr {
            xid,
            secs: self.secs,
            flags: (if self.broadcast { FLAG_BROADCAST } else { 0 }) | (self.mbz & !FLAG_BROADCAST),
            ..Repr::default()
        };
        repr.chaddr[..6].copy_from_slice(&self.chaddr);
        if self.kind.has_ciaddr() {
            repr.ciaddr = self.ciaddr.resolve(env);
        }
        if let Some(r) = &self.relay {
            repr.giaddr = r.giaddr.resolve(env);
            repr.hops = r.hops;
        }
        let opts: Vec<(u8, Vec<u8>)> = self
            .options
            .iter()
            .map(|o| (o.code, o.data(env, &self.chaddr)))
            .collect();
        let mut list = entries_of(&opts);
        // PAD runs are kept apart from the option list so indices keep naming options.
        let mut pads: Vec<(usize, u8)> = Vec::new();
        let mut end = true;
        let mut after_end = Vec::new();
        let mut cut = None;
        let mut pad_to = None;
        for m in &self.mutations {
            let n = list.len();
            match m {
                Mutation::Duplicate { idx: i, adjacent } => {
                    if let Some(i) = idx(*i, n) {
                        let o = list[i].clone();
                        if *adjacent {
                            list.insert(i + 1, o);
                        } else {
                            list.push(o);
                        }
                    }
                }
                Mutation::Move { from, to } => {
                    if let Some(f) = idx(*from, n) {
                        let o = list.remove(f);
                        let t = to % n;
                        list.insert(t.min(list.len()), o);
                    }
                }
                Mutation::Remove { idx: i } => {
                    if let Some(i) = idx(*i, n) {
                        list.remove(i);
                    }
                }
                Mutation::LieLen { idx: i, lie } => {
                    if let Some(i) = idx(*i, n) {
                        let o = &mut list[i];
                        let dl = o.data.len() as u8;
                        o.len = match lie {
                            LenLie::Zero => 0,
                            LenLie::Max => 255,
                            LenLie::PlusOne => dl.saturating_add(1),
                            LenLie::MinusOne => dl.saturating_sub(1),
                            LenLie::Value(v) => *v,
                        };
                    }
                }
                Mutation::Empty { idx: i } => {
                    if let Some(i) = idx(*i, n) {
                        list[i].data.clear();
                        list[i].len = 0;
                    }
                }
                Mutation::PadRun { at, n: count } => {
                    pads.push((at % (n + 1), (*count).max(1)));
                }
                Mutation::Split { idx: i, at } => {
                    if let Some(i) = idx(*i, n) {
                        let o = list[i].clone();
                        if o.data.len() >= 2 && o.len as usize == o.data.len() {
                            let k = 1 + usize::from(*at) % (o.data.len() - 1);
                            list[i] = RawOption::new(o.code, o.data[..k].to_vec());
                            list.insert(i + 1, RawOption::new(o.code, o.data[k..].to_vec()));
                        }
                    }
                }
                Mutation::Overload { area, take } => {
                    let area = (*area).clamp(1, 3);
                    let mut picked: Vec<usize> = take.iter().filter_map(|t| idx(*t, n)).collect();
                    picked.sort_unstable();
                    picked.dedup();
                    let moved: Vec<RawOption> = picked.iter().map(|&i| list[i].clone()).collect();
                    let mut placed = 0;
                    if area & 1 != 0 {
                        placed += fill_area(&mut repr.file, &moved[placed..]);
                    }
                    if area & 2 != 0 {
                        placed += fill_area(&mut repr.sname, &moved[placed..]);
                    }
                    for &i in picked[..placed].iter().rev() {
                        list.remove(i);
                    }
                    list.insert(0, RawOption::new(52, vec![area]));
                }
                Mutation::NoEnd => end = false,
                Mutation::AfterEnd(b) => after_end = b.clone(),
                Mutation::Cookie(c) => repr.cookie = *c,
                Mutation::Hw { htype, hlen } => {
                    repr.htype = *htype;
                    repr.hlen = *hlen;
                }
                Mutation::Op(op) => repr.op = *op,
                Mutation::Truncate(c) => cut = Some(*c),
                Mutation::PadTo(s) => pad_to = Some(usize::from(*s)),
            }
        }
        let mut entries: Vec<Entry> = Vec::with_capacity(list.len() + pads.len());
        pads.sort_by_key(|p| p.0);
        let mut p = pads.iter().peekable();
        for (i, o) in list.into_iter().enumerate() {
            while let Some((_, count)) = p.next_if(|(at, _)| *at == i) {
                push_pad(&mut entries, usize::from(*count));
            }
            entries.push(Entry::Option(o));
        }
        for (_, count) in p {
            push_pad(&mut entries, usize::from(*count));
        }
        repr.options = OptionArea {
            entries,
            end,
            after_end: if end { after_end } else { Vec::new() },
        };
        let mut bytes = repr.to_bytes();
        if let Some(c) = cut {
            let at = match c {
                Cut::Bare240 => 240,
                Cut::Header(x) => 200 + usize::from(x) % 36,
                Cut::Options(x) => {
                    let olen = bytes.len().saturating_sub(240);
                    240 + if olen > 0 { usize::from(x) % olen } else { 0 }
                }
            };
            bytes.truncate(at);
        }
        if let Some(s) = pad_to {
            if s > bytes.len() {
                bytes.resize(s, 0);
            }
        }
        let repr = Repr::parse(&bytes);
        let datagram = Datagram {
            payload: bytes.clone(),
            meta: self.meta(env, &repr),
        };
        Encoded {
            repr,
            bytes,
            datagram,
        }
    }

    /// Lower layers: a client broadcasts from 0.0.0.0:68 with its chaddr as source MAC; a
    /// RENEWING client unicasts from ciaddr to the server; a relay agent unicasts from the
    /// relay address, port 67, to the server's port 67.
    fn meta(&self, env: &Env, repr: &Repr) -> Meta {
        let ip4 = |a: Ipv4Addr| Some(IpAddr::V4(a));
        let mut m = Meta {
            eth_dst: Some([0xff; 6]),
            ip_src: ip4(Ipv4Addr::UNSPECIFIED),
            ip_dst: ip4(Ipv4Addr::BROADCAST),
            src_port: Some(68),
            dst_port: Some(67),
            transport: "udp".into(),
            eth_src: Some(self.chaddr),
            ..Meta::default()
        };
        if self.relay.is_some() {
            m.eth_src = None;
            m.eth_dst = Some(env.server_mac);
            m.ip_src = ip4(env.relay_src_ip);
            m.ip_dst = ip4(env.server_ip);
            m.src_port = Some(67);
        } else if self.kind == Kind::Renewing {
            m.eth_dst = Some(env.server_mac);
            m.ip_src = ip4(repr.ciaddr);
            m.ip_dst = ip4(env.server_ip);
        }
        m
    }

    /// The clean message this case departs from: the same kind, client and path, with only
    /// the options its kind requires (53, and 50/54 where RFC 2131 Table 5 asks for them), in
    /// the usual order, and no mutations. Used as the left side of finding diffs.
    pub fn clean(&self) -> FuzzCase {
        let mut options = vec![Opt::bytes(53, vec![self.message_type()])];
        match self.kind {
            Kind::Selecting | Kind::Decline => {
                options.push(Opt::addr(50, Addr::Pool(0)));
                options.push(Opt::addr(54, Addr::Server));
            }
            Kind::InitReboot => options.push(Opt::addr(50, Addr::Pool(0))),
            Kind::Release => options.push(Opt::addr(54, Addr::Server)),
            _ => {}
        }
        FuzzCase {
            kind: self.kind,
            chaddr: self.chaddr,
            broadcast: true,
            mbz: 0,
            secs: 0,
            ciaddr: if self.kind.has_ciaddr() {
                Addr::Pool(0)
            } else {
                Addr::Zero
            },
            relay: self.relay.as_ref().map(|_| Relay {
                giaddr: Addr::Relay,
                hops: 1,
            }),
            options,
            mutations: Vec::new(),
        }
    }
}

fn push_pad(entries: &mut Vec<Entry>, n: usize) {
    // Parsing merges adjacent PAD runs; keep one entry so emit/parse stay inverse.
    if let Some(Entry::Pad(c)) = entries.last_mut() {
        *c += n;
    } else {
        entries.push(Entry::Pad(n));
    }
}

/// The canary: a DISCOVER (or SELECTING REQUEST, or RELEASE) from a fresh client with no
/// client identifier, PRL [1, 3, 6, 15, 51], broadcast flag set. Nothing in it depends on the
/// option shapes the fuzzer varies, so it answers "is the server still serving?" only.
pub fn canary_message(
    env: &Env,
    mtype: u8,
    xid: u32,
    mac: [u8; 6],
    addr: Option<Ipv4Addr>,
) -> Datagram {
    let mut r = Repr {
        xid,
        flags: FLAG_BROADCAST,
        cookie: MAGIC_COOKIE,
        ..Repr::default()
    };
    r.chaddr[..6].copy_from_slice(&mac);
    let mut opts = vec![RawOption::new(53, vec![mtype])];
    match (mtype, addr) {
        (3, Some(a)) => {
            opts.push(RawOption::new(54, env.server_ip.octets().to_vec()));
            opts.push(RawOption::new(50, a.octets().to_vec()));
        }
        (7, Some(a)) => {
            r.ciaddr = a;
            r.flags = 0;
            opts.push(RawOption::new(54, env.server_ip.octets().to_vec()));
        }
        _ => {}
    }
    if mtype != 7 {
        opts.push(RawOption::new(55, vec![1, 3, 6, 15, 51]));
    }
    r.options = OptionArea {
        entries: opts.into_iter().map(Entry::Option).collect(),
        end: true,
        after_end: Vec::new(),
    };
    let mut payload = r.to_bytes();
    payload.resize(payload.len().max(300), 0);
    Datagram {
        payload,
        meta: Meta {
            eth_src: Some(mac),
            eth_dst: Some([0xff; 6]),
            ip_src: Some(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
            ip_dst: Some(IpAddr::V4(Ipv4Addr::BROADCAST)),
            src_port: Some(68),
            dst_port: Some(67),
            transport: "udp".into(),
            ..Meta::default()
        },
    }
}

/// A DHCPRELEASE for the address a case was just given, from the same client identity
/// (htype, hlen, chaddr and the RFC 3396 aggregate of option 61), so a fuzz case leaves the
/// pool as it found it.
pub fn release_for(env: &Env, req: &Repr, yiaddr: Ipv4Addr, xid: u32) -> Datagram {
    let mut r = Repr {
        xid,
        htype: req.htype,
        hlen: req.hlen,
        chaddr: req.chaddr,
        ciaddr: yiaddr,
        ..Repr::default()
    };
    let mut entries = vec![
        Entry::Option(RawOption::new(53, vec![7])),
        Entry::Option(RawOption::new(54, env.server_ip.octets().to_vec())),
    ];
    // Option 61 exactly as the request carried it (same instances, in the options field):
    // a server that keys leases on the first instance only (dnsmasq) and one that
    // concatenates (RFC 3396) both recognise the same client.
    let mut areas = vec![req.options.clone()];
    areas.extend(req.file_options());
    areas.extend(req.sname_options());
    for a in &areas {
        entries.extend(
            a.options()
                .filter(|o| o.code == 61)
                .map(|o| Entry::Option(RawOption::new(61, o.data.clone()))),
        );
    }
    r.options = OptionArea {
        entries,
        end: true,
        after_end: Vec::new(),
    };
    let mut payload = r.to_bytes();
    payload.resize(payload.len().max(300), 0);
    let mut mac = [0u8; 6];
    mac.copy_from_slice(&req.chaddr[..6]);
    Datagram {
        payload,
        meta: Meta {
            eth_src: Some(mac),
            eth_dst: Some([0xff; 6]),
            ip_src: Some(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
            ip_dst: Some(IpAddr::V4(Ipv4Addr::BROADCAST)),
            src_port: Some(68),
            dst_port: Some(67),
            transport: "udp".into(),
            ..Meta::default()
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> FuzzCase {
        FuzzCase {
            kind: Kind::Discover,
            chaddr: [2, 0, 0, 0, 0, 1],
            broadcast: true,
            mbz: 0,
            secs: 0,
            ciaddr: Addr::Zero,
            relay: None,
            options: vec![
                Opt::bytes(53, vec![1]),
                Opt {
                    code: 61,
                    val: Val::CidChaddr,
                },
                Opt::bytes(55, vec![1, 3, 6]),
            ],
            mutations: vec![],
        }
    }

    #[test]
    fn encodes_a_discover() {
        let e = base().encode(&Env::default(), 0x01020304);
        assert_eq!(
            &e.bytes[240..],
            &[53, 1, 1, 61, 7, 1, 2, 0, 0, 0, 0, 1, 55, 3, 1, 3, 6, 255]
        );
        assert_eq!(&e.bytes[4..8], &[1, 2, 3, 4]);
        assert_eq!(e.datagram.meta.eth_src, Some([2, 0, 0, 0, 0, 1]));
    }

    #[test]
    fn mutations_apply() {
        let mut c = base();
        c.mutations = vec![
            Mutation::Duplicate {
                idx: 0,
                adjacent: true,
            },
            Mutation::LieLen {
                idx: 3,
                lie: LenLie::Max,
            },
            Mutation::PadRun { at: 1, n: 2 },
            Mutation::NoEnd,
        ];
        let e = c.encode(&Env::default(), 1);
        assert_eq!(
            &e.bytes[240..],
            &[53, 1, 1, 0, 0, 53, 1, 1, 61, 7, 1, 2, 0, 0, 0, 0, 1, 55, 255, 1, 3, 6]
        );
        assert_eq!(Repr::parse(&e.bytes).to_bytes(), e.bytes);
    }

    #[test]
    fn overload_and_cut() {
        let mut c = base();
        c.mutations = vec![Mutation::Overload {
            area: 1,
            take: vec![1],
        }];
        let e = c.encode(&Env::default(), 1);
        assert_eq!(&e.bytes[240..], &[52, 1, 1, 53, 1, 1, 55, 3, 1, 3, 6, 255]);
        assert_eq!(&e.bytes[108..118], &[61, 7, 1, 2, 0, 0, 0, 0, 1, 255]);
        assert_eq!(e.repr.aggregate(61), Some(vec![1, 2, 0, 0, 0, 0, 1]));
        c.mutations = vec![Mutation::Truncate(Cut::Bare240)];
        assert_eq!(c.encode(&Env::default(), 1).bytes.len(), 240);
    }

    #[test]
    fn addresses_resolve() {
        let env = Env::default();
        assert_eq!(Addr::Pool(0).resolve(&env), Ipv4Addr::new(192, 0, 2, 100));
        assert_eq!(Addr::Pool(101).resolve(&env), Ipv4Addr::new(192, 0, 2, 100));
        assert_eq!(Addr::Subnet(7).resolve(&env), Ipv4Addr::new(192, 0, 2, 7));
        assert!(env.assignable(Ipv4Addr::new(192, 0, 2, 7)));
        assert!(!env.assignable(Ipv4Addr::new(192, 0, 2, 255)));
        assert!(!env.assignable(Ipv4Addr::new(192, 0, 2, 1)));
    }
}
