//! Oracles: what is wrong with a server's behaviour on one case, judged from the request bytes,
//! the replies with its xid, and the liveness checks around it (dhcp-requirements.md §1.7,
//! group L and the bug catalogue of §3).
//!
//! - **Invariants** hold for every reply, whatever the request was ([`check_reply`]).
//! - **Validity class**: a well-formed DISCOVER must get an OFFER ([`validity`]).
//! - **Liveness** (crash, restart, hang) is judged by the executor ([`crate::exec`]) and
//!   reported as a [`Violation`] too.
//!
//! Every violation has a *signature* (`oracle:detail`) that names the kind of misbehaviour
//! but not the input, so a campaign reports and shrinks each kind once.

use crate::case::Env;
use conform_codec::dhcp::catalogue::kind_of;
use conform_codec::dhcp::raw::{
    first_malformation, option_areas, OptionIter, Repr, Token, MAGIC_COOKIE,
};
use conform_codec::Datagram;
use std::net::Ipv4Addr;

/// The oracles, for reports and regression cases.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Oracle {
    /// The server process exited.
    Crash,
    /// The server process is another one (it was restarted behind our back).
    Restart,
    /// The server runs but the canary got no answer.
    Hang,
    /// A well-formed DISCOVER got no OFFER.
    NoOffer,
    Op,
    Chaddr,
    Flags,
    Giaddr,
    Cookie,
    End,
    Malformed,
    MsgType,
    ServerId,
    LeaseTime,
    T1T2,
    Yiaddr,
    Echo61,
    Echo82,
    Size,
    Duplicate,
    /// A DHCPACK to a DHCPREQUEST is for the address the request names.
    AckAddress,
}

impl Oracle {
    pub fn name(self) -> &'static str {
        match self {
            Oracle::Crash => "crash",
            Oracle::Restart => "restart",
            Oracle::Hang => "hang",
            Oracle::NoOffer => "no-offer",
            Oracle::Op => "op",
            Oracle::Chaddr => "chaddr",
            Oracle::Flags => "flags",
            Oracle::Giaddr => "giaddr",
            Oracle::Cookie => "cookie",
            Oracle::End => "end",
            Oracle::Malformed => "malformed",
            Oracle::MsgType => "message-type",
            Oracle::ServerId => "server-id",
            Oracle::LeaseTime => "lease-time",
            Oracle::T1T2 => "t1-t2",
            Oracle::Yiaddr => "yiaddr",
            Oracle::Echo61 => "echo61",
            Oracle::Echo82 => "echo82",
            Oracle::Size => "size",
            Oracle::Duplicate => "duplicate",
            Oracle::AckAddress => "ack-address",
        }
    }

    /// Liveness oracles: the server stopped serving.
    pub fn is_liveness(self) -> bool {
        matches!(self, Oracle::Crash | Oracle::Restart | Oracle::Hang)
    }
}

/// One thing wrong with the server's behaviour.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    pub oracle: Oracle,
    /// `oracle:detail`, the same for every input showing this misbehaviour (e.g.
    /// `echo61:OFFER`, `message-type:RELEASE->ACK`).
    pub signature: String,
    /// What happened on this input, for people.
    pub detail: String,
}

impl Violation {
    pub fn new(oracle: Oracle, sig_detail: &str, detail: impl Into<String>) -> Violation {
        let signature = if sig_detail.is_empty() {
            oracle.name().to_string()
        } else {
            format!("{}:{sig_detail}", oracle.name())
        };
        Violation {
            oracle,
            signature,
            detail: detail.into(),
        }
    }
}

/// Message type names (option 53).
pub fn type_name(t: Option<u8>) -> String {
    match t {
        None => "BOOTP".into(),
        Some(t) => conform_codec::dhcp::catalogue::message_type_name(t)
            .map(str::to_string)
            .unwrap_or_else(|| format!("type-{t}")),
    }
}

/// What the oracles need to know about the request.
#[derive(Clone, Debug)]
pub struct RequestFacts {
    pub repr: Repr,
    pub len: usize,
    /// Option 53, when the aggregate is one octet.
    pub mtype: Option<u8>,
    pub cid: Option<Vec<u8>>,
    pub o82: Option<Vec<u8>>,
    /// Largest reply the client accepts, as an IP datagram (option 57, at least 576).
    pub limit: usize,
}

/// The RFC 3396 aggregate of `code` over *complete* instances only (an instance that runs past
/// its area is not an option a server can be expected to have read), in the options field
/// only or in all areas.
pub fn complete_aggregate(repr: &Repr, code: u8, all_areas: bool) -> Option<Vec<u8>> {
    let mut found = false;
    let mut v = Vec::new();
    for o in repr.options.options().filter(|o| o.code == code) {
        found = true;
        v.extend_from_slice(&o.data);
    }
    if all_areas && repr.overload() != 0 {
        for a in [repr.file_options(), repr.sname_options()]
            .into_iter()
            .flatten()
        {
            for o in a.options().filter(|o| o.code == code) {
                found = true;
                v.extend_from_slice(&o.data);
            }
        }
    }
    found.then_some(v)
}

impl RequestFacts {
    pub fn new(bytes: &[u8]) -> RequestFacts {
        let repr = Repr::parse(bytes);
        // Without the cookie the options field holds no DHCP options (a BOOTP request).
        let whole = repr.short_len.is_none() && repr.cookie == MAGIC_COOKIE;
        let agg = |c| {
            if whole {
                complete_aggregate(&repr, c, true)
            } else {
                None
            }
        };
        let mtype = match agg(53).as_deref() {
            Some([t]) => Some(*t),
            _ => None,
        };
        let limit = match agg(57).as_deref() {
            Some([a, b]) => usize::from(u16::from_be_bytes([*a, *b])).max(576),
            _ => 576,
        };
        RequestFacts {
            cid: agg(61),
            // Relay agents append option 82 to the options field (RFC 3046 §2.1). With an
            // instance in file or sname as well, whether a server should read it (overload)
            // and echo it is unclear: no echo is required then.
            o82: if whole {
                let opts = complete_aggregate(&repr, 82, false);
                (opts == complete_aggregate(&repr, 82, true))
                    .then_some(opts)
                    .flatten()
            } else {
                None
            },
            mtype,
            limit,
            len: bytes.len(),
            repr,
        }
    }

    /// The reply types RFC 2131 allows for this request (§4.3, Table 2): OFFER to DISCOVER,
    /// ACK or NAK to REQUEST, ACK to INFORM, nothing to anything else.
    pub fn legal_replies(&self) -> &'static [u8] {
        match self.mtype {
            Some(1) => &[2],
            Some(3) => &[5, 6],
            Some(8) => &[5],
            _ => &[],
        }
    }
}

/// Option instances of a reply (all areas), in aggregation order, borrowed from it.
fn instances(b: &[u8]) -> Vec<(u8, &[u8])> {
    let mut v = Vec::new();
    for (_, area) in option_areas(b) {
        for t in OptionIter::new(area) {
            if let Token::Option { code, data, .. } = t {
                v.push((code, data));
            }
        }
    }
    v
}

fn u32_of(b: &Option<Vec<u8>>) -> Option<u32> {
    b.as_deref()
        .and_then(|s| <[u8; 4]>::try_from(s).ok())
        .map(u32::from_be_bytes)
}

/// Checks one reply to `req` (a datagram whose xid is the request's). Returns every violation.
pub fn check_reply(req: &RequestFacts, reply: &Datagram, env: &Env) -> Vec<Violation> {
    let b = &reply.payload;
    let mut out = Vec::new();
    if b.len() < 240 {
        out.push(Violation::new(
            Oracle::Malformed,
            "short",
            format!(
                "the reply is {} octets, shorter than header and cookie",
                b.len()
            ),
        ));
        return out;
    }
    let r = Repr::parse(b);
    // Complete instances of every area, borrowed from the reply; aggregates from them.
    let inst = instances(b);
    let agg = |c: u8| -> Option<Vec<u8>> {
        let mut found = false;
        let mut v = Vec::new();
        for (code, d) in &inst {
            if *code == c {
                found = true;
                v.extend_from_slice(d);
            }
        }
        found.then_some(v)
    };
    let rtype = match agg(53).as_deref() {
        Some([t]) => Some(*t),
        _ => None,
    };
    let tn = type_name(rtype);
    let v = |o: Oracle, d: String| Violation::new(o, &tn, d);
    let q = &req.repr;
    if r.op != 2 {
        out.push(v(
            Oracle::Op,
            format!("op is {} in a reply, not 2 (BOOTREPLY)", r.op),
        ));
    }
    if r.cookie != MAGIC_COOKIE {
        out.push(v(Oracle::Cookie, format!("magic cookie {:02x?}", r.cookie)));
    }
    let n = usize::from(q.hlen.min(16));
    if q.hlen <= 16 && r.chaddr[..n] != q.chaddr[..n] {
        out.push(v(
            Oracle::Chaddr,
            format!(
                "chaddr {:02x?} is not the request's {:02x?}",
                &r.chaddr[..n],
                &q.chaddr[..n]
            ),
        ));
    }
    if r.giaddr != q.giaddr {
        out.push(v(
            Oracle::Giaddr,
            format!("giaddr {} is not the request's {}", r.giaddr, q.giaddr),
        ));
    }
    // RFC 2131 Table 3: flags from the client; §4.3.2: a relayed DHCPNAK sets the broadcast bit.
    let relayed_nak = rtype == Some(6) && !q.giaddr.is_unspecified();
    let (want, mask) = if relayed_nak {
        (q.flags | 0x8000, 0xffff)
    } else {
        (q.flags, 0xffff)
    };
    if r.flags & mask != want & mask {
        out.push(v(
            Oracle::Flags,
            format!(
                "flags 0x{:04x}, the request had 0x{:04x}{}",
                r.flags,
                q.flags,
                if relayed_nak {
                    " (a relayed DHCPNAK sets the broadcast bit)"
                } else {
                    ""
                }
            ),
        ));
    }
    if let Some(m) = first_malformation(b) {
        out.push(v(
            Oracle::Malformed,
            format!("the reply's options are malformed: {m}"),
        ));
    }
    if !r.options.end {
        out.push(v(Oracle::End, "the options field has no END".into()));
    }
    let count = |c: u8| inst.iter().filter(|(code, _)| *code == c).count();
    // Message type: one instance, legal for the request.
    if count(53) > 1 {
        out.push(v(
            Oracle::Duplicate,
            format!("option 53 appears {} times", count(53)),
        ));
    }
    let legal = req.legal_replies();
    match rtype {
        Some(t) if !legal.contains(&t) => out.push(Violation::new(
            Oracle::MsgType,
            &format!("{}->{}", type_name(req.mtype), tn),
            format!("a {} in reply to a {}", tn, type_name(req.mtype)),
        )),
        None if req.mtype.is_some() => out.push(Violation::new(
            Oracle::MsgType,
            &format!("{}->{}", type_name(req.mtype), tn),
            format!(
                "a reply without a valid option 53 to a {}",
                type_name(req.mtype)
            ),
        )),
        _ => {}
    }
    let dhcp = rtype.is_some();
    // A repeated 54 is the duplicate oracle's (its aggregate is 8 octets, which a client
    // following RFC 3396 rejects): report it once, there.
    if dhcp && count(54) <= 1 {
        match agg(54) {
            Some(s) if s.len() == 4 => {}
            Some(s) => out.push(v(
                Oracle::ServerId,
                format!("option 54 has {} octets", s.len()),
            )),
            None => out.push(v(Oracle::ServerId, "no server identifier (54)".into())),
        }
    }
    // Lease times: OFFER and ACK to a request for an address carry 51; NAK and the ACK to an
    // INFORM do not (Table 3).
    let inform_ack = rtype == Some(5) && req.mtype == Some(8);
    let lease = u32_of(&agg(51));
    // Only for a request of a known type: a DHCP reply to anything else is already a
    // message-type violation, and its other fields mean nothing in particular.
    let grants = matches!(rtype, Some(2) | Some(5)) && !inform_ack && req.mtype.is_some();
    if grants && lease.is_none() {
        out.push(v(
            Oracle::LeaseTime,
            "no lease time (51), or not 4 octets".into(),
        ));
    }
    if !grants && req.mtype.is_some() && matches!(rtype, Some(6) | Some(5)) && agg(51).is_some() {
        out.push(v(
            Oracle::LeaseTime,
            format!(
                "a lease time in a {tn}{}",
                if inform_ack { " to a DHCPINFORM" } else { "" }
            ),
        ));
    }
    let (t1, t2) = (u32_of(&agg(58)), u32_of(&agg(59)));
    if let Some(l) = lease.filter(|l| *l != u32::MAX) {
        let bad = match (t1, t2) {
            (Some(a), Some(b)) => !(a < b && b < l),
            (Some(a), None) => a >= l,
            (None, Some(b)) => b >= l,
            (None, None) => false,
        };
        if bad {
            out.push(v(
                Oracle::T1T2,
                format!("T1 {t1:?} T2 {t2:?} lease {l}: not T1 < T2 < lease"),
            ));
        }
    }
    // yiaddr: an address of the subnet for OFFER and ACK with a lease; 0 in a NAK.
    if grants && !env.assignable(r.yiaddr) {
        out.push(v(
            Oracle::Yiaddr,
            format!(
                "yiaddr {} is not a usable address of the configured subnet",
                r.yiaddr
            ),
        ));
    }
    if rtype == Some(6) && r.yiaddr != Ipv4Addr::UNSPECIFIED {
        out.push(v(
            Oracle::Yiaddr,
            format!("yiaddr {} in a DHCPNAK (must be 0)", r.yiaddr),
        ));
    }
    // RFC 2131 §4.3.2: a DHCPACK to a DHCPREQUEST is for the address the request names:
    // option 50 (SELECTING, INIT-REBOOT) or ciaddr (RENEWING, REBINDING). A REQUEST that
    // names neither "MUST" not be acknowledged (checklist G-04).
    if rtype == Some(5) && req.mtype == Some(3) {
        // RENEWING and REBINDING name their address in ciaddr (50 MUST NOT be sent then); a
        // request carrying both is contradictory, and either address is accepted.
        let o50 = complete_aggregate(q, 50, true);
        let mut named: Vec<Ipv4Addr> = Vec::new();
        if !q.ciaddr.is_unspecified() {
            named.push(q.ciaddr);
        }
        if let Some([a, b, c, d]) = o50.as_deref() {
            named.push(Ipv4Addr::new(*a, *b, *c, *d));
        }
        match named.first().copied() {
            None => out.push(Violation::new(
                Oracle::AckAddress,
                "unnamed",
                format!(
                    "a DHCPACK (yiaddr {}) to a DHCPREQUEST that names no address (ciaddr 0, {})",
                    r.yiaddr,
                    match &o50 {
                        None => "no option 50".to_string(),
                        Some(d) =>
                            format!("option 50 of {} octets as RFC 3396 aggregates it", d.len()),
                    }
                ),
            )),
            Some(a) if !named.contains(&r.yiaddr) => out.push(Violation::new(
                Oracle::AckAddress,
                "other",
                format!("a DHCPACK for {} to a DHCPREQUEST for {a}", r.yiaddr),
            )),
            _ => {}
        }
    }
    // RFC 6842: option 61 unaltered, when the client sent a valid one; none otherwise.
    if dhcp {
        let got = agg(61);
        match (&req.cid, &got) {
            (Some(c), None) if c.len() >= 2 => out.push(Violation::new(
                Oracle::Echo61,
                &format!("missing:{tn}"),
                format!("no option 61 in the {tn}; the request had {}", hex(c)),
            )),
            (Some(c), Some(g)) if c.len() >= 2 && c != g => out.push(Violation::new(
                Oracle::Echo61,
                &format!("altered:{tn}"),
                format!(
                    "option 61 {} in the {tn}; the request had {}",
                    hex(g),
                    hex(c)
                ),
            )),
            (None, Some(g)) => out.push(Violation::new(
                Oracle::Echo61,
                &format!("unsolicited:{tn}"),
                format!("option 61 {} in the {tn}; the request had none", hex(g)),
            )),
            _ => {}
        }
    }
    // RFC 3046 §2.2: a relayed request's option 82 is echoed; a server may leave it out only
    // when the reply would not fit with it (I-05).
    if dhcp && !q.giaddr.is_unspecified() {
        if let Some(o) = req
            .o82
            .as_ref()
            .filter(|o| o.len() <= 255 && suboptions_fit(o))
        {
            match agg(82) {
                Some(g) if &g != o => out.push(Violation::new(
                    Oracle::Echo82,
                    &format!("altered:{tn}"),
                    format!(
                        "option 82 {} in the {tn}; the request had {}",
                        hex(&g),
                        hex(o)
                    ),
                )),
                None if b.len() + 28 + 2 + o.len() <= req.limit => out.push(Violation::new(
                    Oracle::Echo82,
                    &format!("missing:{tn}"),
                    format!(
                        "no option 82 in the relayed {tn}; the request had {}",
                        hex(o)
                    ),
                )),
                _ => {}
            }
        }
    }
    // Size: the IP datagram fits option 57 (at least 576) or 576.
    let ip_len = reply.meta.ip_len.map(usize::from).unwrap_or(b.len() + 28);
    if ip_len > req.limit {
        out.push(v(
            Oracle::Size,
            format!(
                "the reply is a {ip_len}-octet IP datagram; the client accepts {}",
                req.limit
            ),
        ));
    }
    // Single-instance options (fixed-size values) must not repeat.
    let mut seen: Vec<u8> = Vec::new();
    for (c, _) in &inst {
        if *c != 53 && kind_of(*c).is_scalar() && count(*c) > 1 && !seen.contains(c) {
            seen.push(*c);
            out.push(Violation::new(
                Oracle::Duplicate,
                &format!("{c}:{tn}"),
                format!("option {c} appears {} times in the {tn}", count(*c)),
            ));
        }
    }
    out
}

/// Whether option 82's data is a non-empty sequence of sub-options that fills it exactly
/// (RFC 3046 §2.0). A server may drop a malformed one instead of echoing it.
pub fn suboptions_fit(o: &[u8]) -> bool {
    let mut i = 0;
    while i < o.len() {
        match o.get(i + 1) {
            Some(l) => i += 2 + usize::from(*l),
            None => return false,
        }
    }
    i == o.len() && !o.is_empty()
}

/// Why a request is not in the validity class, or `None` when it is a well-formed DISCOVER that
/// RFC 2131 §4.3.1 answers with an OFFER: a BOOTREQUEST from an Ethernet client (htype 1, hlen
/// 6, a unicast non-zero chaddr) with the magic cookie, ciaddr 0, flags without must-be-zero
/// bits, sent directly or through our relay address, whose option areas lex cleanly, end with
/// END followed only by PAD; one-octet 53 = DISCOVER; fixed-size options of their size (50, 51,
/// 54, 57 ≥ 576, 52 in 1..3, 58, 59); option 61 of 2..255 octets; other options non-empty where
/// RFC 2132 says "minimum length 1" (12, 55, 60); option 82 only when relayed, with sub-options
/// that fit; no server identifier (Table 5); the message at most 576 octets as an IP datagram
/// unless 57 allows more.
pub fn validity(bytes: &[u8], env: &Env) -> Result<(), String> {
    let f = RequestFacts::new(bytes);
    let r = &f.repr;
    if r.short_len.is_some() {
        return Err("shorter than header and cookie".into());
    }
    if r.op != 1 || r.htype != 1 || r.hlen != 6 {
        return Err(format!("op/htype/hlen {}/{}/{}", r.op, r.htype, r.hlen));
    }
    if r.cookie != MAGIC_COOKIE {
        return Err("wrong magic cookie".into());
    }
    if r.chaddr[0] & 1 != 0 || r.chaddr[..6] == [0; 6] {
        return Err("chaddr is multicast or zero".into());
    }
    if !r.ciaddr.is_unspecified() {
        return Err("ciaddr set in a DISCOVER".into());
    }
    if r.flags & 0x7fff != 0 {
        return Err("must-be-zero flag bits set".into());
    }
    let relayed = !r.giaddr.is_unspecified();
    if relayed && r.giaddr != env.relay_ip {
        return Err("giaddr is not our relay address".into());
    }
    if let Some(m) = first_malformation(bytes) {
        return Err(format!("malformed: {m}"));
    }
    if !r.options.end || r.options.after_end.iter().any(|b| *b != 0) {
        return Err("no END, or non-PAD octets after it".into());
    }
    if let Some(ov) = r.options.options().find(|o| o.code == 52) {
        if ov.data.len() != 1 || !(1..=3).contains(&ov.data[0]) {
            return Err("bad option 52".into());
        }
        for a in [r.file_options(), r.sname_options()].into_iter().flatten() {
            if !a.end {
                return Err("overloaded area without END".into());
            }
        }
    }
    if r.options.options().filter(|o| o.code == 52).count() > 1 {
        return Err("option 52 repeated".into());
    }
    if f.mtype != Some(1) {
        return Err("not a one-octet DISCOVER".into());
    }
    // RFC 2131 Table 5: a DHCPDISCOVER MUST NOT carry a server identifier.
    if r.aggregate(54).is_some() {
        return Err("option 54 in a DISCOVER (Table 5: MUST NOT)".into());
    }
    let size = |c: u8, n: usize| match r.aggregate(c) {
        Some(d) if d.len() != n => Err(format!("option {c} has {} octets, not {n}", d.len())),
        _ => Ok(()),
    };
    for (c, n) in [(50, 4), (51, 4), (54, 4), (57, 2), (58, 4), (59, 4)] {
        size(c, n)?;
    }
    if let Some(d) = r.aggregate(57) {
        if u16::from_be_bytes([d[0], d[1]]) < 576 {
            return Err("option 57 below 576".into());
        }
    }
    if let Some(c) = &f.cid {
        if c.len() < 2 || c.len() > 255 {
            return Err(format!("option 61 of {} octets", c.len()));
        }
    }
    for c in [12, 55, 60] {
        if r.aggregate(c).is_some_and(|d| d.is_empty()) {
            return Err(format!("option {c} is empty"));
        }
    }
    if let Some(o) = &f.o82 {
        if !relayed {
            return Err("option 82 without giaddr".into());
        }
        if !suboptions_fit(o) {
            return Err("option 82 sub-options do not fit".into());
        }
    }
    if bytes.len() + 28 > f.limit {
        return Err("larger than the client says it accepts".into());
    }
    let mut codes: Vec<u8> = Vec::new();
    for a in [Some(r.options.clone()), r.file_options(), r.sname_options()]
        .into_iter()
        .flatten()
    {
        codes.extend(a.options().map(|o| o.code));
    }
    codes.sort_unstable();
    codes.dedup();
    for c in codes {
        if let Some(d) = r.aggregate(c) {
            option_content_ok(c, &d)?;
        }
    }
    Ok(())
}

/// A sequence of RFC 1035 names (labels of at most 63 octets, compression pointers to earlier
/// offsets) that fills `d` exactly; `partial` allows a last name without the root label
/// (RFC 4702 FQDN).
fn names_ok(d: &[u8], partial: bool) -> bool {
    let mut i = 0;
    let mut in_name = false;
    while i < d.len() {
        let l = d[i];
        match l {
            0 => {
                in_name = false;
                i += 1;
            }
            1..=63 => {
                in_name = true;
                i += 1 + usize::from(l);
            }
            0xc0..=0xff => {
                let Some(lo) = d.get(i + 1) else { return false };
                let target = (usize::from(l & 0x3f) << 8) | usize::from(*lo);
                if target >= i {
                    return false;
                }
                in_name = false;
                i += 2;
            }
            _ => return false,
        }
    }
    i == d.len() && (partial || !in_name)
}

/// Whether an option's data has the format its definition gives (RFC 2132 sizes and the
/// structured client options): the validity class requires it, because a server may drop a
/// message whose options it cannot decode.
pub fn option_content_ok(code: u8, d: &[u8]) -> Result<(), String> {
    use conform_codec::dhcp::catalogue::OptKind as K;
    let bad = |why: &str| Err(format!("option {code} {why} ({} octets)", d.len()));
    let ok = match code {
        // RFC 3397 domain search: names.
        119 => names_ok(d, false),
        // RFC 3442: (width <= 32, ceil(width/8) octets, router) repeated.
        121 => {
            let mut i = 0;
            while i < d.len() {
                let w = d[i];
                if w > 32 {
                    return bad("has a route width above 32");
                }
                i += 1 + usize::from(w).div_ceil(8) + 4;
            }
            i == d.len() && !d.is_empty()
        }
        // RFC 4702: flags, two RCODEs, then a name (wire format when E is set).
        81 => d.len() >= 3 && (d[0] & 4 == 0 || names_ok(&d[3..], true)),
        // RFC 3004: length-prefixed, non-empty user classes.
        77 => {
            let mut i = 0;
            while i < d.len() {
                if d[i] == 0 {
                    return bad("has an empty user class");
                }
                i += 1 + usize::from(d[i]);
            }
            i == d.len() && !d.is_empty()
        }
        61 => (2..=255).contains(&d.len()),
        82 => suboptions_fit(d),
        _ => match kind_of(code) {
            K::Ipv4 | K::U32 | K::I32 => d.len() == 4,
            K::U16 => d.len() == 2,
            K::U8 | K::MessageType | K::Overload => d.len() == 1,
            K::Ipv4List => !d.is_empty() && d.len().is_multiple_of(4),
            K::U8List | K::Str => !d.is_empty(),
            K::Bytes => true,
        },
    };
    if ok {
        Ok(())
    } else {
        bad("does not have its defined format")
    }
}

pub fn hex(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len() * 3);
    for (i, x) in b.iter().enumerate() {
        if i > 0 {
            s.push(' ');
        }
        s.push_str(&format!("{x:02x}"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use conform_codec::dhcp::raw::{Entry, OptionArea, RawOption};
    use conform_codec::Meta;

    fn msg(op: u8, opts: &[(u8, &[u8])], f: impl FnOnce(&mut Repr)) -> Vec<u8> {
        let mut r = Repr {
            op,
            xid: 7,
            flags: 0x8000,
            ..Repr::default()
        };
        r.chaddr[..6].copy_from_slice(&[2, 0, 0, 0, 0, 1]);
        r.options = OptionArea {
            entries: opts
                .iter()
                .map(|(c, d)| Entry::Option(RawOption::new(*c, d.to_vec())))
                .collect(),
            end: true,
            after_end: vec![],
        };
        f(&mut r);
        r.to_bytes()
    }

    fn dg(b: Vec<u8>) -> Datagram {
        Datagram {
            payload: b,
            meta: Meta::default(),
        }
    }

    const CID: &[u8] = &[1, 2, 0, 0, 0, 0, 1];

    fn good_offer() -> Vec<u8> {
        msg(
            2,
            &[
                (53, &[2]),
                (54, &[192, 0, 2, 1]),
                (51, &[0, 0, 14, 16]),
                (58, &[0, 0, 7, 8]),
                (59, &[0, 0, 12, 78]),
                (61, CID),
            ],
            |r| r.yiaddr = Ipv4Addr::new(192, 0, 2, 100),
        )
    }

    #[test]
    fn clean_offer_passes() {
        let req = msg(1, &[(53, &[1]), (61, CID)], |_| {});
        assert_eq!(validity(&req, &Env::default()), Ok(()));
        let f = RequestFacts::new(&req);
        assert_eq!(check_reply(&f, &dg(good_offer()), &Env::default()), vec![]);
    }

    #[test]
    fn catches_echo_and_duplicates_and_flags() {
        let req = RequestFacts::new(&msg(1, &[(53, &[1]), (61, CID)], |_| {}));
        let bad = msg(
            2,
            &[
                (53, &[2]),
                (54, &[192, 0, 2, 1]),
                (54, &[192, 0, 2, 1]),
                (51, &[0, 0, 14, 16]),
                (61, &[0, 2, 0, 0, 0, 0, 1]),
            ],
            |r| {
                r.yiaddr = Ipv4Addr::new(192, 0, 2, 100);
                r.flags = 0;
            },
        );
        let sigs: Vec<String> = check_reply(&req, &dg(bad), &Env::default())
            .into_iter()
            .map(|v| v.signature)
            .collect();
        assert_eq!(
            sigs,
            vec!["flags:OFFER", "echo61:altered:OFFER", "duplicate:54:OFFER"]
        );
    }

    #[test]
    fn illegal_reply_types() {
        let rel = RequestFacts::new(&msg(1, &[(53, &[7])], |_| {}));
        let v = check_reply(&rel, &dg(good_offer()), &Env::default());
        assert!(
            v.iter()
                .any(|v| v.signature == "message-type:RELEASE->OFFER"),
            "{v:?}"
        );
    }

    #[test]
    fn option_formats() {
        assert!(option_content_ok(119, &[3, b'l', b'a', b'n', 0, 1, b'x', 0xc0, 0]).is_ok());
        assert!(option_content_ok(119, &[0xae]).is_err());
        assert!(option_content_ok(121, &[24, 192, 0, 2, 192, 0, 2, 1]).is_ok());
        assert!(option_content_ok(121, &[33, 0, 0, 0, 0]).is_err());
        assert!(option_content_ok(81, &[4, 0, 0, 3, b'p', b'c', b'1']).is_ok());
        assert!(option_content_ok(77, b"\x04iPXE").is_ok());
        assert!(option_content_ok(77, b"iPXE").is_err());
        assert!(option_content_ok(51, &[0, 0, 14]).is_err());
        assert!(option_content_ok(3, &[192, 0, 2, 1, 192, 0, 2, 2]).is_ok());
        assert!(option_content_ok(200, &[]).is_ok());
    }

    #[test]
    fn validity_class() {
        let env = Env::default();
        assert!(validity(&msg(1, &[(53, &[1]), (61, &[1])], |_| {}), &env).is_err());
        assert!(validity(&msg(1, &[(53, &[1]), (57, &[1, 0])], |_| {}), &env).is_err());
        assert!(validity(&msg(1, &[(53, &[3])], |_| {}), &env).is_err());
        assert!(validity(&msg(1, &[(53, &[1])], |r| r.options.end = false), &env).is_err());
        assert!(validity(
            &msg(1, &[(53, &[1]), (82, &[1, 1, 7])], |r| r.giaddr =
                env.relay_ip),
            &env
        )
        .is_ok());
        assert!(validity(&msg(1, &[(53, &[1]), (82, &[1, 1, 7])], |_| {}), &env).is_err());
    }
}
