//! proptest strategies for [`FuzzCase`]: structure-aware, weighted toward what real clients
//! send (dhcp-requirements.md §1.7).
//!
//! A uniform byte fuzzer hits `61 07 01 <mac>` (the PR#97 shape and the commonest identifier)
//! about once in 65,000 option-61 draws. Here every option is drawn from a dictionary of real
//! shapes first and oddities second, client profiles (dhclient, dhcpcd, udhcpc,
//! systemd-networkd, Windows, macOS/iOS, Android) fix the parameter request lists, vendor
//! classes and option orders, and structural mutations (duplicates, reordering, lying lengths,
//! PAD runs, RFC 3396 splits, overload, missing END, truncation, wrong cookie, odd htype/hlen)
//! come on top.
//!
//! Shrinking: every part is built so that proptest's simplification moves toward the clean
//! message. `prop_oneof!` shrinks toward its first alternative, so the realistic shape is always
//! listed first; optional options are `Option`s (shrinking drops them); mutations are a
//! vector (shrinking removes them); indices shrink toward the first option.

use crate::case::{Addr, Cut, FuzzCase, Kind, LenLie, Mutation, Opt, Relay, Val};
use proptest::collection::vec;
use proptest::prelude::*;

/// A real client's habits.
#[derive(Clone, Copy, Debug)]
pub struct ClientProfile {
    pub name: &'static str,
    /// Option codes in the order the client sends them (others follow, 82 is always last).
    pub order: &'static [u8],
    pub prl: &'static [u8],
    pub vendor_class: Option<&'static str>,
    pub max_size: Option<u16>,
}

/// Parameter request lists and option orders of common clients, from their sources or
/// captures (dhclient: Debian dhclient.conf; dhcpcd 9: dhcpcd.conf defaults; udhcpc: busybox
/// defaults; networkd: sd-dhcp-client defaults; Windows 10/11, macOS/iOS and Android 13:
/// captures as published by fingerprinting databases).
pub const PROFILES: &[ClientProfile] = &[
    ClientProfile {
        name: "udhcpc",
        order: &[53, 61, 50, 57, 55, 60, 12],
        prl: &[1, 3, 6, 12, 15, 28, 42],
        vendor_class: Some("udhcp 1.36.1"),
        max_size: Some(576),
    },
    ClientProfile {
        name: "windows",
        order: &[53, 61, 50, 12, 81, 60, 55],
        prl: &[1, 3, 6, 15, 31, 33, 43, 44, 46, 47, 119, 121, 249, 252],
        vendor_class: Some("MSFT 5.0"),
        max_size: None,
    },
    ClientProfile {
        name: "macos",
        order: &[53, 55, 57, 61, 50, 51, 12],
        prl: &[1, 121, 3, 6, 15, 108, 114, 119, 252, 95, 44, 46],
        vendor_class: None,
        max_size: Some(1500),
    },
    ClientProfile {
        name: "android",
        order: &[53, 61, 50, 57, 60, 12, 55],
        prl: &[1, 3, 6, 15, 26, 28, 51, 58, 59, 43, 114, 108],
        vendor_class: Some("android-dhcp-13"),
        max_size: Some(1500),
    },
    ClientProfile {
        name: "dhcpcd",
        order: &[53, 61, 50, 57, 60, 12, 145, 55],
        prl: &[1, 121, 33, 3, 6, 28, 51, 58, 59, 15, 119, 26, 42],
        vendor_class: Some("dhcpcd-9.4.1:Linux-6.1.0:x86_64:GenuineIntel"),
        max_size: Some(1472),
    },
    ClientProfile {
        name: "systemd-networkd",
        order: &[53, 61, 57, 50, 12, 55],
        prl: &[1, 3, 6, 12, 15, 26, 28, 42, 119, 121],
        vendor_class: None,
        max_size: Some(1500),
    },
    ClientProfile {
        name: "dhclient",
        order: &[53, 50, 12, 55, 61],
        prl: &[1, 28, 2, 3, 15, 6, 119, 12, 44, 47, 26, 121, 42],
        vendor_class: None,
        max_size: None,
    },
    ClientProfile {
        name: "conform-default",
        order: &[53, 61, 50, 54, 55],
        prl: &[1, 3, 6, 51, 54],
        vendor_class: None,
        max_size: None,
    },
];

/// `Some(value)` with probability `p`. Shrinking tries dropping the value first (one step),
/// then simplifies the value. Leaf payloads are generated with `no_shrink`: a budget of live
/// executions is spent on structure, not on binary-searching payload octets.
fn maybe<T: std::fmt::Debug + Clone + 'static>(
    p: f64,
    s: impl Strategy<Value = T> + 'static,
) -> BoxedStrategy<Option<T>> {
    (prop::bool::weighted(p), s)
        .prop_map(|(on, v)| on.then_some(v))
        .boxed()
}

/// Random octets in `lo..=hi` of a length in `len`: the length shrinks (toward the
/// shortest), the content does not (it comes from a seed).
fn bytes(len: std::ops::RangeInclusive<usize>, lo: u8, hi: u8) -> BoxedStrategy<Vec<u8>> {
    (len, any::<u64>().no_shrink())
        .prop_map(move |(n, mut seed)| {
            let span = u64::from(hi - lo) + 1;
            (0..n)
                .map(|_| {
                    seed = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
                    let mut z = seed;
                    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
                    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
                    lo + ((z ^ (z >> 31)) % span) as u8
                })
                .collect()
        })
        .boxed()
}

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![
        50 => Just(Kind::Discover),
        10 => Just(Kind::Selecting),
        8 => Just(Kind::InitReboot),
        5 => Just(Kind::Renewing),
        5 => Just(Kind::Rebinding),
        4 => Just(Kind::Decline),
        4 => Just(Kind::Release),
        6 => Just(Kind::Inform),
    ]
}

fn addr() -> impl Strategy<Value = Addr> {
    prop_oneof![
        6 => any::<u8>().prop_map(Addr::Pool),
        2 => any::<u8>().prop_map(Addr::Subnet),
        2 => any::<u8>().prop_map(Addr::Foreign),
        1 => Just(Addr::Zero),
        1 => Just(Addr::Server),
        1 => Just(Addr::Relay),
        1 => Just(Addr::Broadcast),
    ]
}

/// A locally administered unicast MAC (02:xx:..): shrinks toward 02:00:00:00:00:00.
fn mac() -> impl Strategy<Value = [u8; 6]> {
    prop_oneof![
        8 => any::<[u8; 5]>().no_shrink().prop_map(|b| [2, b[0], b[1], b[2], b[3], b[4]]),
        1 => any::<[u8; 6]>().no_shrink(),
    ]
}

/// A fixed-length value: usually exact, sometimes the lengths that broke servers
/// (0, 1, 3, exact + 1, 255).
fn fixed_len(exact: impl Strategy<Value = Val> + 'static, n: usize) -> BoxedStrategy<Val> {
    let short = vec(any::<u8>(), 0..n).no_shrink().prop_map(Val::Bytes);
    let long = vec(any::<u8>(), n + 1..=n + 1)
        .no_shrink()
        .prop_map(Val::Bytes);
    prop_oneof![
        20 => exact.no_shrink(),
        2 => short,
        1 => long,
        1 => vec(any::<u8>(), 255..=255).no_shrink().prop_map(Val::Bytes),
    ]
    .boxed()
}

fn ascii(min: usize, max: usize) -> impl Strategy<Value = Vec<u8>> {
    vec(prop_oneof![b'a'..=b'z', b'0'..=b'9', Just(b'-')], min..=max)
}

/// Option 61 in the shapes real clients use, then the odd ones (dhcp-requirements.md §1.7).
pub fn client_id() -> BoxedStrategy<Val> {
    let duid = prop_oneof![
        // DUID-LL: type 3, htype 1, MAC (systemd-networkd, dhcpcd with duid)
        any::<[u8; 6]>().prop_map(|m| {
            let mut v = vec![0, 3, 0, 1];
            v.extend_from_slice(&m);
            v
        }),
        // DUID-LLT: type 1, htype 1, time, MAC
        (any::<[u8; 4]>(), any::<[u8; 6]>()).prop_map(|(t, m)| {
            let mut v = vec![0, 1, 0, 1];
            v.extend_from_slice(&t);
            v.extend_from_slice(&m);
            v
        }),
        // DUID-EN: type 2, enterprise number, identifier
        (any::<[u8; 4]>(), vec(any::<u8>(), 8..16)).prop_map(|(e, id)| {
            let mut v = vec![0, 2];
            v.extend_from_slice(&e);
            v.extend(id);
            v
        }),
        // DUID-UUID: type 4
        any::<[u8; 16]>().prop_map(|u| {
            let mut v = vec![0, 4];
            v.extend_from_slice(&u);
            v
        }),
    ];
    // Alternatives do not shrink inside (see `maybe`); the union still shrinks toward
    // `01 <chaddr>`, the first.
    prop_oneof![
        30 => Just(Val::CidChaddr),
        8 => any::<[u8; 6]>().no_shrink().prop_map(|m| {
            let mut v = vec![1];
            v.extend_from_slice(&m);
            Val::Bytes(v)
        }),
        12 => (any::<[u8; 4]>(), duid).no_shrink().prop_map(|(iaid, d)| {
            let mut v = vec![0xff];
            v.extend_from_slice(&iaid);
            v.extend(d);
            Val::Bytes(v)
        }),
        6 => ascii(1, 32).no_shrink().prop_map(|s| {
            let mut v = vec![0];
            v.extend(s);
            Val::Bytes(v)
        }),
        4 => (2u8..=254, bytes(1..=15, 0, 255)).prop_map(|(t, d)| {
            let mut v = vec![t];
            v.extend(d);
            Val::Bytes(v)
        }),
        // Type 1 with a length other than 7.
        2 => bytes(1..=11, 0, 255).prop_map(|d| {
            let mut v = vec![1];
            v.extend(d);
            Val::Bytes(v)
        }),
        1 => Just(Val::Bytes(vec![])),
        1 => any::<u8>().no_shrink().prop_map(|t| Val::Bytes(vec![t])),
        1 => bytes(2..=255, 0, 255).prop_map(Val::Bytes),
        1 => vec(any::<u8>(), 255..=255).no_shrink().prop_map(Val::Bytes),
    ]
    .boxed()
}

fn prl(profile: &'static ClientProfile) -> BoxedStrategy<Vec<u8>> {
    prop_oneof![
        20 => Just(profile.prl.to_vec()),
        3 => bytes(1..=23, 1, 254),
        1 => bytes(65..=255, 0, 255),
        1 => Just(vec![]),
        1 => Just(vec![1, 3, 6, 54, 51, 1, 3]),
    ]
    .boxed()
}

fn fqdn() -> impl Strategy<Value = Vec<u8>> {
    // RFC 4702: flags, RCODE1, RCODE2, then the name (ASCII, or wire format when E is set).
    (
        prop_oneof![Just(0u8), Just(1), Just(5), any::<u8>()],
        ascii(1, 20),
        prop::bool::ANY,
    )
        .prop_map(|(flags, name, wire)| {
            let mut v = vec![if wire { flags | 4 } else { flags & !4 }, 0, 0];
            if wire {
                v.push(name.len() as u8);
                v.extend(name);
                v.extend_from_slice(&[3, b'l', b'a', b'n', 0]);
            } else {
                v.extend(name);
            }
            v
        })
}

fn relay_info() -> impl Strategy<Value = Vec<u8>> {
    // RFC 3046: sub-options circuit-id (1), remote-id (2), in either order; sometimes an
    // unknown sub-option or a zero-length one.
    (
        vec(any::<u8>(), 1..12),
        vec(any::<u8>(), 1..12),
        prop::bool::ANY,
        prop_oneof![
            4 => Just(vec![]),
            1 => Just(vec![151, 2, 0xab, 0xcd]),
            1 => Just(vec![9, 0]),
        ],
    )
        .prop_map(|(c, r, swap, extra)| {
            let sub = |code: u8, d: &[u8]| {
                let mut v = vec![code, d.len() as u8];
                v.extend_from_slice(d);
                v
            };
            let (a, b) = (sub(1, &c), sub(2, &r));
            let mut v = if swap {
                [b, a].concat()
            } else {
                [a, b].concat()
            };
            v.extend(extra);
            v
        })
}

/// Option values a case may carry, each optional. Built per profile.
#[derive(Clone, Debug)]
struct Parts {
    mtype: Val,
    cid: Option<Val>,
    requested: Option<Val>,
    server_id: Option<Val>,
    prl: Option<Vec<u8>>,
    hostname: Option<Vec<u8>>,
    fqdn: Option<Vec<u8>>,
    vendor: Option<Vec<u8>>,
    user_class: Option<Vec<u8>>,
    max_size: Option<Val>,
    lease: Option<Val>,
    extra: Vec<(u8, Vec<u8>)>,
    o82: Option<Vec<u8>>,
}

fn parts(profile: &'static ClientProfile, kind: Kind) -> impl Strategy<Value = Parts> {
    let mt = kind.message_type();
    let mtype = prop_oneof![
        30 => Just(Val::Bytes(vec![mt])),
        1 => prop_oneof![Just(0u8), Just(2), Just(5), Just(9), Just(13), Just(200)]
            .prop_map(|t| Val::Bytes(vec![t])),
        1 => prop_oneof![Just(vec![]), Just(vec![mt, mt])].prop_map(Val::Bytes),
    ];
    let ip = || fixed_len(addr().prop_map(Val::Addr), 4);
    let needs50 = matches!(kind, Kind::Selecting | Kind::InitReboot | Kind::Decline);
    let needs54 = matches!(kind, Kind::Selecting | Kind::Decline | Kind::Release);
    let requested = match (needs50, kind == Kind::Discover) {
        (true, _) => maybe(0.9, ip()),
        (false, true) => maybe(0.4, ip()),
        _ => maybe(0.1, ip()),
    };
    let sid = || {
        fixed_len(
            prop_oneof![8 => Just(Addr::Server), 2 => addr()].prop_map(Val::Addr),
            4,
        )
    };
    let server_id = maybe(if needs54 { 0.9 } else { 0.08 }, sid());
    let size_value = prop_oneof![
        8 => Just(profile.max_size.unwrap_or(1500)),
        1 => prop_oneof![Just(0u16), Just(1), Just(300), Just(575), Just(576), Just(65535)],
        1 => any::<u16>().no_shrink(),
    ];
    let max_size = maybe(
        if profile.max_size.is_some() {
            0.83
        } else {
            0.2
        },
        fixed_len(
            size_value.prop_map(|s| Val::Bytes(s.to_be_bytes().to_vec())),
            2,
        ),
    );
    let vendor = match profile.vendor_class {
        Some(v) => maybe(
            0.85,
            prop_oneof![
                6 => Just(v.as_bytes().to_vec()),
                1 => vec(any::<u8>(), 0..40).no_shrink(),
            ],
        ),
        None => maybe(0.15, vec(any::<u8>(), 0..40).no_shrink()),
    };
    let hostname = maybe(
        0.7,
        prop_oneof![
            4 => ascii(1, 24).no_shrink(),
            1 => ascii(1, 12).no_shrink().prop_map(|mut s| { s.push(0); s }),
            1 => Just(vec![]),
            1 => vec(any::<u8>(), 1..64).no_shrink(),
        ],
    );
    let extra_code = prop_oneof![
        Just(43u8),
        Just(84),
        Just(116),
        Just(145),
        Just(2),
        Just(119),
        Just(249),
        224u8..=254,
        1u8..=254,
    ];
    let extra = (
        prop::bool::weighted(0.2),
        vec((extra_code, vec(any::<u8>(), 0..24)).no_shrink(), 1..3),
    )
        .prop_map(|(on, v)| if on { v } else { vec![] });
    (
        (mtype, maybe(0.86, client_id())),
        requested,
        server_id,
        maybe(0.9, prl(profile)),
        hostname,
        maybe(0.15, fqdn().no_shrink()),
        vendor,
        maybe(
            0.1,
            prop_oneof![
                Just(b"\x08iPXE-abc".to_vec()),
                vec(any::<u8>(), 0..20).no_shrink()
            ],
        ),
        max_size,
        maybe(
            0.15,
            fixed_len(
                prop_oneof![
                    Just(7_776_000u32),
                    Just(60),
                    Just(u32::MAX),
                    any::<u32>().no_shrink()
                ]
                .prop_map(|v| Val::Bytes(v.to_be_bytes().to_vec())),
                4,
            ),
        ),
        extra,
        maybe(0.8, relay_info().no_shrink()),
    )
        .prop_map(
            |(
                (mtype, cid),
                requested,
                server_id,
                prl,
                hostname,
                fqdn,
                vendor,
                user_class,
                max_size,
                lease,
                extra,
                o82,
            )| Parts {
                mtype,
                cid,
                requested,
                server_id,
                prl,
                hostname,
                fqdn,
                vendor,
                user_class,
                max_size,
                lease,
                extra,
                o82,
            },
        )
}

/// Lays the parts out in the profile's order.
fn layout(profile: &ClientProfile, p: Parts, relayed: bool) -> Vec<Opt> {
    let mut by_code: Vec<Opt> = Vec::new();
    by_code.push(Opt {
        code: 53,
        val: p.mtype,
    });
    let mut put = |code: u8, v: Option<Val>| {
        if let Some(val) = v {
            by_code.push(Opt { code, val });
        }
    };
    put(61, p.cid);
    put(50, p.requested);
    put(54, p.server_id);
    put(55, p.prl.map(Val::Bytes));
    put(12, p.hostname.map(Val::Bytes));
    put(81, p.fqdn.map(Val::Bytes));
    put(60, p.vendor.map(Val::Bytes));
    put(77, p.user_class.map(Val::Bytes));
    put(57, p.max_size);
    put(51, p.lease);
    let rank = |c: u8| {
        profile
            .order
            .iter()
            .position(|x| *x == c)
            .unwrap_or(profile.order.len())
    };
    by_code.sort_by_key(|o| rank(o.code));
    for (code, d) in p.extra {
        by_code.push(Opt::bytes(code, d));
    }
    if relayed {
        if let Some(o) = p.o82 {
            by_code.push(Opt::bytes(82, o));
        }
    }
    by_code
}

fn len_lie() -> impl Strategy<Value = LenLie> {
    prop_oneof![
        Just(LenLie::Zero),
        Just(LenLie::Max),
        Just(LenLie::PlusOne),
        Just(LenLie::MinusOne),
        any::<u8>().prop_map(LenLie::Value),
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let i = || 0usize..16;
    prop_oneof![
        3 => (i(), any::<bool>()).prop_map(|(idx, adjacent)| Mutation::Duplicate { idx, adjacent }),
        3 => (i(), i()).prop_map(|(from, to)| Mutation::Move { from, to }),
        2 => i().prop_map(|idx| Mutation::Remove { idx }),
        3 => (i(), len_lie()).prop_map(|(idx, lie)| Mutation::LieLen { idx, lie }),
        2 => i().prop_map(|idx| Mutation::Empty { idx }),
        2 => (i(), prop_oneof![1u8..4, Just(40), any::<u8>()]).prop_map(|(at, n)| Mutation::PadRun { at, n }),
        2 => (i(), any::<u8>()).prop_map(|(idx, at)| Mutation::Split { idx, at }),
        2 => (1u8..=3, vec(i(), 1..4)).prop_map(|(area, take)| Mutation::Overload { area, take }),
        2 => Just(Mutation::NoEnd),
        1 => prop_oneof![
            Just(vec![0u8; 8]),
            Just(vec![53, 1, 3]),
            vec(any::<u8>(), 1..16).no_shrink(),
        ].prop_map(Mutation::AfterEnd),
        1 => prop_oneof![Just([0u8; 4]), Just([99, 130, 83, 98]), any::<[u8; 4]>().no_shrink()].prop_map(Mutation::Cookie),
        1 => prop_oneof![
            Just((6u8, 6u8)), Just((1, 0)), Just((1, 16)), Just((1, 17)), Just((1, 255)),
            Just((0, 6)), Just((32, 20)), (any::<u8>(), any::<u8>()).no_shrink()
        ].prop_map(|(htype, hlen)| Mutation::Hw { htype, hlen }),
        1 => prop_oneof![Just(2u8), Just(0), Just(3), any::<u8>()].prop_map(Mutation::Op),
        3 => prop_oneof![
            2 => Just(Cut::Bare240),
            1 => any::<u8>().prop_map(Cut::Header),
            2 => any::<u8>().prop_map(Cut::Options),
        ].prop_map(Mutation::Truncate),
        1 => prop_oneof![Just(300u16), Just(576), Just(1024), Just(1472)].prop_map(Mutation::PadTo),
    ]
}

/// The strategy for one fuzz case.
/// The strategy for one fuzz case of `profile` and `kind`.
fn case_for(profile: &'static ClientProfile, kind: Kind) -> BoxedStrategy<FuzzCase> {
    let relay = prop_oneof![
        3 => Just(None),
        1 => (prop_oneof![8 => Just(Addr::Relay), 1 => addr()], prop_oneof![Just(1u8), 0u8..4, any::<u8>()])
            .prop_map(|(giaddr, hops)| Some(Relay { giaddr, hops })),
    ];
    (
        Just(kind),
        mac(),
        prop_oneof![7 => Just(true), 3 => Just(false)],
        prop_oneof![12 => Just(0u16), 1 => any::<u16>()],
        prop_oneof![8 => Just(0u16), 2 => 0u16..10, 1 => any::<u16>()],
        prop_oneof![6 => any::<u8>().prop_map(Addr::Pool), 1 => Just(Addr::Relay), 2 => addr()],
        relay,
        parts(profile, kind),
        (prop::bool::weighted(0.6), vec(mutation(), 1..4))
            .prop_map(|(on, v)| if on { v } else { vec![] }),
    )
        .prop_map(
            move |(kind, chaddr, broadcast, mbz, secs, ciaddr, relay, parts, mutations)| {
                let options = layout(profile, parts, relay.is_some());
                FuzzCase {
                    kind,
                    chaddr,
                    broadcast,
                    mbz,
                    secs,
                    ciaddr,
                    relay,
                    options,
                    mutations,
                }
            },
        )
        .boxed()
}

const KINDS: [Kind; 8] = [
    Kind::Discover,
    Kind::Selecting,
    Kind::InitReboot,
    Kind::Renewing,
    Kind::Rebinding,
    Kind::Decline,
    Kind::Release,
    Kind::Inform,
];

/// The strategy for one fuzz case: a client profile and a message kind, then the case. The
/// per-(profile, kind) strategies are built once (building them per case cost more than
/// drawing from them).
pub fn case_strategy() -> BoxedStrategy<FuzzCase> {
    let table: Vec<BoxedStrategy<FuzzCase>> = PROFILES
        .iter()
        .flat_map(|p| KINDS.iter().map(move |k| case_for(p, *k)))
        .collect();
    (0..PROFILES.len(), kind())
        .prop_flat_map(move |(pi, kind)| {
            let ki = KINDS.iter().position(|k| *k == kind).unwrap_or(0);
            table[pi * KINDS.len() + ki].clone()
        })
        .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::case::Env;
    use proptest::strategy::ValueTree;
    use proptest::test_runner::{TestRng, TestRunner};

    fn runner(seed: u8) -> TestRunner {
        TestRunner::new_with_rng(
            proptest::test_runner::Config::default(),
            TestRng::from_seed(proptest::test_runner::RngAlgorithm::ChaCha, &[seed; 32]),
        )
    }

    #[test]
    fn generation_is_deterministic_and_varied() {
        let s = case_strategy();
        let a = s.new_tree(&mut runner(1)).unwrap().current();
        let b = s.new_tree(&mut runner(1)).unwrap().current();
        assert_eq!(a, b);
        let mut r = runner(2);
        let mut pr97 = 0;
        let mut discover = 0;
        for _ in 0..2000 {
            let c = s.new_tree(&mut r).unwrap().current();
            let bytes = c.encode(&Env::default(), 1).bytes;
            if c.kind == Kind::Discover {
                discover += 1;
            }
            if bytes.windows(3).any(|w| w == [61, 7, 1]) {
                pr97 += 1;
            }
        }
        assert!(discover > 700, "{discover}");
        assert!(
            pr97 > 300,
            "the commonest client-id shape must be common: {pr97}"
        );
    }

    #[test]
    fn shrinking_reaches_the_clean_shape() {
        // Simplify as far as possible with "any case fails": the floor is a bare DISCOVER.
        let s = case_strategy();
        let mut r = runner(9);
        let mut t = s.new_tree(&mut r).unwrap();
        while t.simplify() {}
        let c = t.current();
        assert!(c.mutations.is_empty(), "{c:?}");
        assert_eq!(c.kind, Kind::Discover);
    }
}
