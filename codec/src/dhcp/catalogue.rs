//! The DHCPv4 field catalogue: which template paths exist, their types, and how they map to
//! the `id`/`arg` pair carried in a [`FieldRef`].
//!
//! Scheme: `FieldRef::id` is one of the constants in [`id`]; `FieldRef::arg` is the option code
//! for option fields and 0 otherwise. Option paths are canonicalised to the option number, so
//! `options.client_id.type` and `options.61.type` resolve to the same `FieldRef` with path
//! `options.61.type`.
//!
//! Paths (type in parentheses):
//! - Header: `op` (enum BOOTREQUEST/BOOTREPLY), `htype`, `hlen`, `hops` (u8), `xid` (u32),
//!   `secs`, `flags` (u16), `flags.broadcast` (bool), `ciaddr`, `yiaddr`, `siaddr`, `giaddr`
//!   (ipv4), `chaddr` (bytes, first min(hlen, 16)), `chaddr_raw` (bytes, 16), `sname`, `file`
//!   (string up to the first NUL, lossy UTF-8, even when overloaded), `sname_raw`, `file_raw`,
//!   `cookie` (bytes), `size` (payload length). A header field is absent when the message is
//!   too short to contain it.
//! - Options, `<x>` a name from [`OPTIONS`] or a number 1..=254: `options.<x>` (typed from the
//!   RFC 3396 aggregate by [`OptKind`]; bytes when the length does not fit the type),
//!   `options.<x>.raw` (aggregate bytes), `options.<x>.len` (length byte of the first instance),
//!   `options.<x>.count` (instances in all areas; 0 when absent, never absent itself),
//!   `options.61.type` / `options.61.data`, `options.82.circuit_id` / `remote_id` /
//!   `suboption_codes`.
//! - Message facts: `option_codes`, `file_option_codes`, `sname_option_codes` (codes of every
//!   instance in wire order, PAD/END excluded), `end_present`, `after_end` (bytes after END in
//!   the options field, empty without END), `after_end_all_pad` (true when `after_end` is all
//!   zero, including empty), `malformed` (string, absent when well-formed; see
//!   [`Malformation`](super::raw::Malformation)), `duplicate_codes` (codes with more than one
//!   instance, in order of first appearance).
//! - Send-only: `raw_options`, `end` (reads back as `end_present`).
//! - Lower layers from `Datagram::meta`: `eth.src`, `eth.dst`, `ip.src`, `ip.dst`, `ip.ttl`,
//!   `ip.len`, `udp.src`, `udp.dst`, `udp.checksum_ok`; absent when the adapter does not know.
//! - Groups: `options`, `options.<x>`, `flags`, `eth`, `ip`, `udp`.

use crate::field::{FieldRef, FieldType};

/// How an option's RFC 3396 aggregate is turned into a typed value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptKind {
    /// Exactly 4 bytes.
    Ipv4,
    /// A non-empty multiple of 4 bytes.
    Ipv4List,
    U8,
    U16,
    U32,
    /// 4 bytes, two's complement (time offset, RFC 2132 §3.4).
    I32,
    /// 1 byte with [`MESSAGE_TYPES`] names.
    MessageType,
    /// 1 byte with [`OVERLOAD_VALUES`] names.
    Overload,
    /// A non-empty list of bytes (parameter request list).
    U8List,
    /// Non-empty valid UTF-8, kept verbatim (a trailing NUL stays visible).
    Str,
    /// Opaque bytes; any length, including zero.
    Bytes,
}

impl OptKind {
    /// Kinds whose typed value never allocates when well-formed (integers and addresses).
    pub fn is_scalar(self) -> bool {
        matches!(
            self,
            OptKind::Ipv4
                | OptKind::U8
                | OptKind::U16
                | OptKind::U32
                | OptKind::I32
                | OptKind::MessageType
                | OptKind::Overload
        )
    }
}

/// A named option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OptionDef {
    pub code: u8,
    /// snake_case name usable in paths (`options.lease_time`).
    pub name: &'static str,
    pub kind: OptKind,
}

const fn def(code: u8, name: &'static str, kind: OptKind) -> OptionDef {
    OptionDef { code, name, kind }
}

use OptKind as K;

/// Options with names and types. Every other code in 1..=254 is valid as a number and typed
/// [`OptKind::Bytes`].
pub const OPTIONS: &[OptionDef] = &[
    def(1, "subnet_mask", K::Ipv4),
    def(2, "time_offset", K::I32),
    def(3, "routers", K::Ipv4List),
    def(4, "time_servers", K::Ipv4List),
    def(5, "name_servers", K::Ipv4List),
    def(6, "dns_servers", K::Ipv4List),
    def(7, "log_servers", K::Ipv4List),
    def(9, "lpr_servers", K::Ipv4List),
    def(12, "hostname", K::Str),
    def(13, "boot_file_size", K::U16),
    def(15, "domain_name", K::Str),
    def(17, "root_path", K::Str),
    def(19, "ip_forwarding", K::U8),
    def(23, "default_ip_ttl", K::U8),
    def(26, "interface_mtu", K::U16),
    def(28, "broadcast_address", K::Ipv4),
    def(33, "static_routes", K::Ipv4List),
    def(35, "arp_cache_timeout", K::U32),
    def(40, "nis_domain", K::Str),
    def(41, "nis_servers", K::Ipv4List),
    def(42, "ntp_servers", K::Ipv4List),
    def(43, "vendor_specific", K::Bytes),
    def(44, "netbios_name_servers", K::Ipv4List),
    def(46, "netbios_node_type", K::U8),
    def(50, "requested_ip", K::Ipv4),
    def(51, "lease_time", K::U32),
    def(52, "overload", K::Overload),
    def(53, "message_type", K::MessageType),
    def(54, "server_id", K::Ipv4),
    def(55, "parameter_request_list", K::U8List),
    def(56, "message", K::Str),
    def(57, "max_message_size", K::U16),
    def(58, "renewal_time", K::U32),
    def(59, "rebinding_time", K::U32),
    def(60, "vendor_class_id", K::Str),
    def(61, "client_id", K::Bytes),
    def(66, "tftp_server", K::Str),
    def(67, "bootfile_name", K::Str),
    def(77, "user_class", K::Bytes),
    def(80, "rapid_commit", K::Bytes),
    def(81, "client_fqdn", K::Bytes),
    def(82, "relay_agent_info", K::Bytes),
    def(90, "authentication", K::Bytes),
    def(91, "client_last_transaction_time", K::U32),
    def(92, "associated_ip", K::Ipv4List),
    def(108, "ipv6_only_preferred", K::U32),
    def(114, "captive_portal", K::Str),
    def(116, "auto_config", K::U8),
    def(118, "subnet_selection", K::Ipv4),
    def(119, "domain_search", K::Bytes),
    def(121, "classless_static_routes", K::Bytes),
    def(150, "tftp_server_addresses", K::Ipv4List),
];

const N_OPTIONS: usize = OPTIONS.len();

const KINDS: [OptKind; 256] = {
    let mut k = [OptKind::Bytes; 256];
    let mut i = 0;
    while i < N_OPTIONS {
        k[OPTIONS[i].code as usize] = OPTIONS[i].kind;
        i += 1;
    }
    k
};

const NAMES: [Option<&str>; 256] = {
    let mut n = [None; 256];
    let mut i = 0;
    while i < N_OPTIONS {
        n[OPTIONS[i].code as usize] = Some(OPTIONS[i].name);
        i += 1;
    }
    n
};

const NAME_PAIRS: [(&str, i64); N_OPTIONS] = {
    let mut a = [("", 0i64); N_OPTIONS];
    let mut i = 0;
    while i < N_OPTIONS {
        a[i] = (OPTIONS[i].name, OPTIONS[i].code as i64);
        i += 1;
    }
    a
};

/// Option names as enum names, so `option_codes` templates can say `[message_type, server_id]`.
pub static OPTION_NAMES: &[(&str, i64)] = &NAME_PAIRS;

/// Option 53 values (RFC 2132 §9.6, RFC 3203, RFC 4388, RFC 6926, RFC 7724).
pub static MESSAGE_TYPES: &[(&str, i64)] = &[
    ("DISCOVER", 1),
    ("OFFER", 2),
    ("REQUEST", 3),
    ("DECLINE", 4),
    ("ACK", 5),
    ("NAK", 6),
    ("RELEASE", 7),
    ("INFORM", 8),
    ("FORCERENEW", 9),
    ("LEASEQUERY", 10),
    ("LEASEUNASSIGNED", 11),
    ("LEASEUNKNOWN", 12),
    ("LEASEACTIVE", 13),
    ("BULKLEASEQUERY", 14),
    ("LEASEQUERYDONE", 15),
    ("ACTIVELEASEQUERY", 16),
    ("LEASEQUERYSTATUS", 17),
    ("TLS", 18),
];

/// Option 52 values (RFC 2132 §9.3).
pub static OVERLOAD_VALUES: &[(&str, i64)] = &[("FILE", 1), ("SNAME", 2), ("BOTH", 3)];

/// `op` values (RFC 2131 §2).
pub static OP_NAMES: &[(&str, i64)] = &[("BOOTREQUEST", 1), ("BOOTREPLY", 2)];

/// The kind of an option code (Bytes for unnamed codes).
pub fn kind_of(code: u8) -> OptKind {
    KINDS[usize::from(code)]
}

/// The snake_case name of an option code, if it has one.
pub fn name_of(code: u8) -> Option<&'static str> {
    NAMES[usize::from(code)]
}

/// Name of a message type value (`OFFER`).
pub fn message_type_name(v: u8) -> Option<&'static str> {
    MESSAGE_TYPES
        .iter()
        .find(|(_, x)| *x == i64::from(v))
        .map(|(n, _)| *n)
}

/// The option code for a path segment: a number in 1..=254 or a catalogue name.
pub fn option_code(segment: &str) -> Option<u8> {
    if let Ok(n) = segment.parse::<u8>() {
        return (1..=254).contains(&n).then_some(n);
    }
    OPTIONS.iter().find(|d| d.name == segment).map(|d| d.code)
}

/// The template type of an option kind.
pub fn kind_type(k: OptKind) -> FieldType {
    match k {
        OptKind::Ipv4 => FieldType::Ipv4,
        OptKind::Ipv4List => FieldType::List(Box::new(FieldType::Ipv4)),
        OptKind::U8 => FieldType::U8,
        OptKind::U16 => FieldType::U16,
        OptKind::U32 => FieldType::U32,
        OptKind::I32 => FieldType::Int {
            min: i32::MIN.into(),
            max: i32::MAX.into(),
        },
        OptKind::MessageType => FieldType::Enum {
            names: MESSAGE_TYPES,
            min: 0,
            max: 255,
        },
        OptKind::Overload => FieldType::Enum {
            names: OVERLOAD_VALUES,
            min: 0,
            max: 255,
        },
        OptKind::U8List => FieldType::List(Box::new(FieldType::U8)),
        OptKind::Str => FieldType::Str,
        OptKind::Bytes => FieldType::Bytes,
    }
}

/// `FieldRef::id` values.
pub mod id {
    // Fixed header (arg 0).
    pub const OP: u32 = 1;
    pub const HTYPE: u32 = 2;
    pub const HLEN: u32 = 3;
    pub const HOPS: u32 = 4;
    pub const XID: u32 = 5;
    pub const SECS: u32 = 6;
    pub const FLAGS: u32 = 7;
    pub const FLAGS_BROADCAST: u32 = 8;
    pub const CIADDR: u32 = 9;
    pub const YIADDR: u32 = 10;
    pub const SIADDR: u32 = 11;
    pub const GIADDR: u32 = 12;
    pub const CHADDR: u32 = 13;
    pub const CHADDR_RAW: u32 = 14;
    pub const SNAME: u32 = 15;
    pub const FILE: u32 = 16;
    pub const SNAME_RAW: u32 = 17;
    pub const FILE_RAW: u32 = 18;
    pub const COOKIE: u32 = 19;
    pub const SIZE: u32 = 20;
    // Options (arg = option code).
    pub const OPT: u32 = 32;
    pub const OPT_RAW: u32 = 33;
    pub const OPT_LEN: u32 = 34;
    pub const OPT_COUNT: u32 = 35;
    pub const CLIENT_ID_TYPE: u32 = 36;
    pub const CLIENT_ID_DATA: u32 = 37;
    pub const RELAY_CIRCUIT_ID: u32 = 38;
    pub const RELAY_REMOTE_ID: u32 = 39;
    pub const RELAY_SUBOPTION_CODES: u32 = 40;
    // Whole-message facts (arg 0).
    pub const OPTION_CODES: u32 = 64;
    pub const FILE_OPTION_CODES: u32 = 65;
    pub const SNAME_OPTION_CODES: u32 = 66;
    pub const END_PRESENT: u32 = 67;
    pub const AFTER_END: u32 = 68;
    pub const AFTER_END_ALL_PAD: u32 = 69;
    pub const MALFORMED: u32 = 70;
    pub const DUPLICATE_CODES: u32 = 71;
    // Send-only controls (arg 0). `END` reads back as `end_present`.
    pub const RAW_OPTIONS: u32 = 96;
    pub const END: u32 = 97;
    // Lower layers, from `Datagram::meta` (arg 0).
    pub const ETH_SRC: u32 = 128;
    pub const ETH_DST: u32 = 129;
    pub const IP_SRC: u32 = 130;
    pub const IP_DST: u32 = 131;
    pub const IP_TTL: u32 = 132;
    pub const IP_LEN: u32 = 133;
    pub const UDP_SRC: u32 = 134;
    pub const UDP_DST: u32 = 135;
    pub const UDP_CHECKSUM_OK: u32 = 136;
}

/// Paths that are not per-option, in documentation order.
pub const FIXED_PATHS: &[&str] = &[
    "op",
    "htype",
    "hlen",
    "hops",
    "xid",
    "secs",
    "flags",
    "flags.broadcast",
    "ciaddr",
    "yiaddr",
    "siaddr",
    "giaddr",
    "chaddr",
    "chaddr_raw",
    "sname",
    "file",
    "sname_raw",
    "file_raw",
    "cookie",
    "size",
    "option_codes",
    "file_option_codes",
    "sname_option_codes",
    "end_present",
    "after_end",
    "after_end_all_pad",
    "malformed",
    "duplicate_codes",
    "raw_options",
    "end",
    "eth.src",
    "eth.dst",
    "ip.src",
    "ip.dst",
    "ip.ttl",
    "ip.len",
    "udp.src",
    "udp.dst",
    "udp.checksum_ok",
];

fn list(t: FieldType) -> FieldType {
    FieldType::List(Box::new(t))
}

fn option_name_enum() -> FieldType {
    FieldType::Enum {
        names: OPTION_NAMES,
        min: 0,
        max: 255,
    }
}

/// Resolves a path that is not under `options.`.
fn fixed(path: &str) -> Option<(u32, FieldType)> {
    use FieldType as T;
    Some(match path {
        "op" => (
            id::OP,
            T::Enum {
                names: OP_NAMES,
                min: 0,
                max: 255,
            },
        ),
        "htype" => (id::HTYPE, T::U8),
        "hlen" => (id::HLEN, T::U8),
        "hops" => (id::HOPS, T::U8),
        "xid" => (id::XID, T::U32),
        "secs" => (id::SECS, T::U16),
        "flags" => (id::FLAGS, T::U16),
        "flags.broadcast" => (id::FLAGS_BROADCAST, T::Bool),
        "ciaddr" => (id::CIADDR, T::Ipv4),
        "yiaddr" => (id::YIADDR, T::Ipv4),
        "siaddr" => (id::SIADDR, T::Ipv4),
        "giaddr" => (id::GIADDR, T::Ipv4),
        "chaddr" => (id::CHADDR, T::Bytes),
        "chaddr_raw" => (id::CHADDR_RAW, T::Bytes),
        "sname" => (id::SNAME, T::Str),
        "file" => (id::FILE, T::Str),
        "sname_raw" => (id::SNAME_RAW, T::Bytes),
        "file_raw" => (id::FILE_RAW, T::Bytes),
        "cookie" => (id::COOKIE, T::Bytes),
        "size" => (id::SIZE, T::Int { min: 0, max: 65507 }),
        "option_codes" => (id::OPTION_CODES, list(option_name_enum())),
        "file_option_codes" => (id::FILE_OPTION_CODES, list(option_name_enum())),
        "sname_option_codes" => (id::SNAME_OPTION_CODES, list(option_name_enum())),
        "end_present" => (id::END_PRESENT, T::Bool),
        "after_end" => (id::AFTER_END, T::Bytes),
        "after_end_all_pad" => (id::AFTER_END_ALL_PAD, T::Bool),
        "malformed" => (id::MALFORMED, T::Str),
        "duplicate_codes" => (id::DUPLICATE_CODES, list(T::U8)),
        "raw_options" => (id::RAW_OPTIONS, list(T::Bytes)),
        "end" => (id::END, T::Bool),
        "eth.src" => (id::ETH_SRC, T::Mac),
        "eth.dst" => (id::ETH_DST, T::Mac),
        "ip.src" => (id::IP_SRC, T::Ipv4),
        "ip.dst" => (id::IP_DST, T::Ipv4),
        "ip.ttl" => (id::IP_TTL, T::U8),
        "ip.len" => (id::IP_LEN, T::U16),
        "udp.src" => (id::UDP_SRC, T::U16),
        "udp.dst" => (id::UDP_DST, T::U16),
        "udp.checksum_ok" => (id::UDP_CHECKSUM_OK, T::Bool),
        _ => return None,
    })
}

/// Resolves a path to its canonical `FieldRef`.
pub fn resolve(path: &str) -> Option<FieldRef> {
    if let Some((id, ty)) = fixed(path) {
        return Some(FieldRef {
            path: path.into(),
            ty,
            id,
            arg: 0,
        });
    }
    let rest = path.strip_prefix("options.")?;
    let (seg, sub) = match rest.split_once('.') {
        Some((a, b)) => (a, Some(b)),
        None => (rest, None),
    };
    let code = option_code(seg)?;
    let (id, ty) = match (sub, code) {
        (None, _) => (id::OPT, kind_type(kind_of(code))),
        (Some("raw"), _) => (id::OPT_RAW, FieldType::Bytes),
        (Some("len"), _) => (id::OPT_LEN, FieldType::U8),
        (Some("count"), _) => (
            id::OPT_COUNT,
            FieldType::Int {
                min: 0,
                max: i64::MAX,
            },
        ),
        (Some("type"), 61) => (id::CLIENT_ID_TYPE, FieldType::U8),
        (Some("data"), 61) => (id::CLIENT_ID_DATA, FieldType::Bytes),
        (Some("circuit_id"), 82) => (id::RELAY_CIRCUIT_ID, FieldType::Bytes),
        (Some("remote_id"), 82) => (id::RELAY_REMOTE_ID, FieldType::Bytes),
        (Some("suboption_codes"), 82) => (id::RELAY_SUBOPTION_CODES, list(FieldType::U8)),
        _ => return None,
    };
    let canonical = match sub {
        None => format!("options.{code}"),
        Some(s) => format!("options.{code}.{s}"),
    };
    Some(FieldRef {
        path: canonical.into(),
        ty,
        id,
        arg: u32::from(code),
    })
}

/// Whether `path` names a group: `options`, `options.<x>`, `flags`, `eth`, `ip`, `udp`.
pub fn is_group(path: &str) -> bool {
    match path {
        "options" | "flags" | "eth" | "ip" | "udp" => true,
        _ => path
            .strip_prefix("options.")
            .and_then(option_code)
            .is_some(),
    }
}

/// Every documented path: fixed paths, then each named option with its sub-fields.
pub fn paths() -> Vec<String> {
    let mut v: Vec<String> = FIXED_PATHS.iter().map(|s| s.to_string()).collect();
    for d in OPTIONS {
        let base = format!("options.{}", d.name);
        v.push(base.clone());
        for sub in ["raw", "len", "count"] {
            v.push(format!("{base}.{sub}"));
        }
        let extra: &[&str] = match d.code {
            61 => &["type", "data"],
            82 => &["circuit_id", "remote_id", "suboption_codes"],
            _ => &[],
        };
        v.extend(extra.iter().map(|s| format!("{base}.{s}")));
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_codes_agree() {
        for d in OPTIONS {
            assert_eq!(option_code(d.name), Some(d.code), "{}", d.name);
            assert_eq!(name_of(d.code), Some(d.name));
            assert_eq!(kind_of(d.code), d.kind);
        }
        assert_eq!(OPTION_NAMES.len(), OPTIONS.len());
        let mut codes: Vec<u8> = OPTIONS.iter().map(|d| d.code).collect();
        codes.dedup();
        assert_eq!(codes.len(), OPTIONS.len(), "codes are sorted and unique");
        assert!(codes.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn client_id_name_and_number_resolve_identically() {
        assert_eq!(resolve("options.client_id"), resolve("options.61"));
        assert_eq!(&*resolve("options.client_id").unwrap().path, "options.61");
        assert_eq!(
            resolve("options.client_id.type"),
            resolve("options.61.type")
        );
        assert_eq!(
            &*resolve("options.client_id.data").unwrap().path,
            "options.61.data"
        );
        assert_eq!(
            resolve("options.relay_agent_info.circuit_id").unwrap().arg,
            82
        );
    }

    #[test]
    fn types_follow_the_catalogue() {
        let ty = |p: &str| resolve(p).unwrap().ty;
        assert_eq!(ty("options.lease_time"), FieldType::U32);
        assert_eq!(
            ty("options.routers"),
            FieldType::List(Box::new(FieldType::Ipv4))
        );
        assert_eq!(ty("options.200"), FieldType::Bytes);
        assert_eq!(
            ty("options.200.count"),
            FieldType::Int {
                min: 0,
                max: i64::MAX
            }
        );
        assert!(matches!(ty("options.message_type"), FieldType::Enum { .. }));
        assert!(resolve("options.0").is_none());
        assert!(resolve("options.255").is_none());
        assert!(resolve("options.no_such_option").is_none());
        assert!(resolve("options.51.type").is_none(), "type is only for 61");
        assert!(resolve("nonsense").is_none());
    }

    #[test]
    fn groups() {
        for g in [
            "options",
            "options.61",
            "options.client_id",
            "flags",
            "eth",
            "ip",
            "udp",
        ] {
            assert!(is_group(g), "{g}");
        }
        for g in ["xid", "options.0", "options.61.type", "flags.broadcast"] {
            assert!(!is_group(g), "{g}");
        }
    }

    #[test]
    fn every_listed_path_resolves() {
        for p in paths() {
            assert!(resolve(&p).is_some(), "{p}");
        }
    }
}
