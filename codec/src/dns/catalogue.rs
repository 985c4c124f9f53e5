//! The DNS field catalogue: which template paths exist, their types, and the `id`/`arg` pair
//! carried in a [`FieldRef`]. The path list itself is documented in the [module](super) doc.
//!
//! Scheme: `FieldRef::id` is one of the constants in [`id`]. For per-record paths
//! (`answer.0.name`) `arg` is `section << 16 | index`; for per-section paths (`answer.names`)
//! `arg` is the section number (1 answer, 2 authority, 3 additional); for EDNS option paths
//! (`edns.option.cookie`) `arg` is the option code; otherwise `arg` is 0.

use super::wire::Section;
use crate::field::{FieldRef, FieldType};

/// Resource record types (IANA "Resource Record (RR) TYPEs"), the names genreport's TYPE
/// tests use. Other numbers are valid as numbers.
pub static TYPES: &[(&str, i64)] = &[
    ("A", 1),
    ("NS", 2),
    ("MD", 3),
    ("MF", 4),
    ("CNAME", 5),
    ("SOA", 6),
    ("MB", 7),
    ("MG", 8),
    ("MR", 9),
    ("NULL", 10),
    ("WKS", 11),
    ("PTR", 12),
    ("HINFO", 13),
    ("MINFO", 14),
    ("MX", 15),
    ("TXT", 16),
    ("RP", 17),
    ("AFSDB", 18),
    ("X25", 19),
    ("ISDN", 20),
    ("RT", 21),
    ("NSAP", 22),
    ("NSAP-PTR", 23),
    ("SIG", 24),
    ("KEY", 25),
    ("PX", 26),
    ("GPOS", 27),
    ("AAAA", 28),
    ("LOC", 29),
    ("NXT", 30),
    ("SRV", 33),
    ("NAPTR", 35),
    ("KX", 36),
    ("CERT", 37),
    ("A6", 38),
    ("DNAME", 39),
    ("OPT", 41),
    ("APL", 42),
    ("DS", 43),
    ("SSHFP", 44),
    ("IPSECKEY", 45),
    ("RRSIG", 46),
    ("NSEC", 47),
    ("DNSKEY", 48),
    ("DHCID", 49),
    ("NSEC3", 50),
    ("NSEC3PARAM", 51),
    ("TLSA", 52),
    ("SMIMEA", 53),
    ("HIP", 55),
    ("CDS", 59),
    ("CDNSKEY", 60),
    ("OPENPGPKEY", 61),
    ("CSYNC", 62),
    ("ZONEMD", 63),
    ("SVCB", 64),
    ("HTTPS", 65),
    ("SPF", 99),
    ("NID", 104),
    ("L32", 105),
    ("L64", 106),
    ("LP", 107),
    ("EUI48", 108),
    ("EUI64", 109),
    ("TKEY", 249),
    ("TSIG", 250),
    ("IXFR", 251),
    ("AXFR", 252),
    ("MAILB", 253),
    ("MAILA", 254),
    ("ANY", 255),
    ("URI", 256),
    ("CAA", 257),
    ("AVC", 258),
    ("DOA", 259),
    ("DLV", 32769),
];

/// CLASS values.
pub static CLASSES: &[(&str, i64)] =
    &[("IN", 1), ("CH", 3), ("HS", 4), ("NONE", 254), ("ANY", 255)];

/// OPCODE values (RFC 1035, 1996, 2136, 8490).
pub static OPCODES: &[(&str, i64)] = &[
    ("QUERY", 0),
    ("IQUERY", 1),
    ("STATUS", 2),
    ("NOTIFY", 4),
    ("UPDATE", 5),
    ("DSO", 6),
];

/// RCODE values, extended ones included (RFC 6895 §2.3).
pub static RCODES: &[(&str, i64)] = &[
    ("NOERROR", 0),
    ("FORMERR", 1),
    ("SERVFAIL", 2),
    ("NXDOMAIN", 3),
    ("NOTIMP", 4),
    ("REFUSED", 5),
    ("YXDOMAIN", 6),
    ("YXRRSET", 7),
    ("NXRRSET", 8),
    ("NOTAUTH", 9),
    ("NOTZONE", 10),
    ("DSOTYPENI", 11),
    ("BADVERS", 16),
    ("BADKEY", 17),
    ("BADTIME", 18),
    ("BADMODE", 19),
    ("BADNAME", 20),
    ("BADALG", 21),
    ("BADTRUNC", 22),
    ("BADCOOKIE", 23),
];

/// EDNS option codes (IANA "DNS EDNS0 Option Codes"). Lowercase forms are path segments
/// (`edns.option.cookie`); list matching accepts either case.
pub static EDNS_OPTIONS: &[(&str, i64)] = &[
    ("LLQ", 1),
    ("UL", 2),
    ("NSID", 3),
    ("DAU", 5),
    ("DHU", 6),
    ("N3U", 7),
    ("ECS", 8),
    ("EXPIRE", 9),
    ("COOKIE", 10),
    ("KEEPALIVE", 11),
    ("PADDING", 12),
    ("CHAIN", 13),
    ("KEYTAG", 14),
    ("EDE", 15),
];

/// Section names for `edns.section`.
pub static SECTIONS: &[(&str, i64)] = &[
    ("QUESTION", 0),
    ("ANSWER", 1),
    ("AUTHORITY", 2),
    ("ADDITIONAL", 3),
];

/// The name of a type number (`SOA`).
pub fn type_name(t: u16) -> Option<&'static str> {
    TYPES
        .iter()
        .find(|(_, v)| *v == i64::from(t))
        .map(|(n, _)| *n)
}

/// The name of a value in one of the tables.
pub fn name_in(table: &'static [(&'static str, i64)], v: i64) -> Option<&'static str> {
    table.iter().find(|(_, x)| *x == v).map(|(n, _)| *n)
}

/// `FieldRef::id` values.
pub mod id {
    // Header (arg 0).
    pub const ID: u32 = 1;
    pub const QR: u32 = 2;
    pub const OPCODE: u32 = 3;
    pub const AA: u32 = 4;
    pub const TC: u32 = 5;
    pub const RD: u32 = 6;
    pub const RA: u32 = 7;
    pub const Z: u32 = 8;
    pub const AD: u32 = 9;
    pub const CD: u32 = 10;
    pub const RCODE: u32 = 11;
    pub const EXT_RCODE: u32 = 12;
    pub const QDCOUNT: u32 = 13;
    pub const ANCOUNT: u32 = 14;
    pub const NSCOUNT: u32 = 15;
    pub const ARCOUNT: u32 = 16;
    pub const FLAGS: u32 = 17;
    // Question (arg 0: the first question).
    pub const Q_NAME: u32 = 24;
    pub const Q_TYPE: u32 = 25;
    pub const Q_CLASS: u32 = 26;
    pub const Q_NAME_RAW: u32 = 27;
    pub const QUESTION_COUNT: u32 = 28;
    // Per section (arg = section).
    pub const SEC_COUNT: u32 = 32;
    pub const SEC_NAMES: u32 = 33;
    pub const SEC_TYPES: u32 = 34;
    pub const SEC_CLASSES: u32 = 35;
    pub const SEC_TTLS: u32 = 36;
    pub const SEC_RDATA: u32 = 37;
    // Per record (arg = section << 16 | index).
    pub const RR_NAME: u32 = 40;
    pub const RR_TYPE: u32 = 41;
    pub const RR_CLASS: u32 = 42;
    pub const RR_TTL: u32 = 43;
    pub const RR_RDATA: u32 = 44;
    pub const RR_RDLENGTH: u32 = 45;
    pub const RR_RDATA_RAW: u32 = 46;
    // EDNS (arg 0, or the option code).
    pub const EDNS_PRESENT: u32 = 48;
    pub const EDNS_COUNT: u32 = 49;
    pub const EDNS_VERSION: u32 = 50;
    pub const EDNS_DO: u32 = 51;
    pub const EDNS_FLAGS: u32 = 52;
    pub const EDNS_Z: u32 = 53;
    pub const EDNS_PAYLOAD: u32 = 54;
    pub const EDNS_EXT_RCODE: u32 = 55;
    pub const EDNS_OPTIONS: u32 = 56;
    pub const EDNS_SECTION: u32 = 57;
    pub const EDNS_OWNER: u32 = 58;
    pub const EDNS_RDLENGTH: u32 = 59;
    pub const EDNS_OPTION: u32 = 60;
    pub const EDNS_OPTION_LEN: u32 = 61;
    // Message facts.
    pub const TRAILING: u32 = 64;
    pub const MALFORMED: u32 = 65;
    pub const SIZE: u32 = 66;
    // Send-only controls.
    pub const RAW: u32 = 80;
    pub const PATCH: u32 = 81;
    // Lower layers.
    pub const TRANSPORT: u32 = 96;
    pub const TCP_CONNECTION: u32 = 97;
    pub const TCP_FRAMING: u32 = 98;
    pub const TCP_CLOSE: u32 = 99;
    pub const TCP_CLOSED: u32 = 100;
    pub const IP_SRC: u32 = 101;
    pub const IP_DST: u32 = 102;
    pub const UDP_SRC: u32 = 103;
    pub const UDP_DST: u32 = 104;
}

fn en(names: &'static [(&'static str, i64)], max: i64) -> FieldType {
    FieldType::Enum { names, min: 0, max }
}

fn list(t: FieldType) -> FieldType {
    FieldType::List(Box::new(t))
}

const COUNT: FieldType = FieldType::Int {
    min: 0,
    max: i64::MAX,
};

/// Paths with a fixed meaning, in documentation order.
pub const FIXED_PATHS: &[&str] = &[
    "id",
    "qr",
    "opcode",
    "aa",
    "tc",
    "rd",
    "ra",
    "z",
    "ad",
    "cd",
    "rcode",
    "ext_rcode",
    "flags",
    "qdcount",
    "ancount",
    "nscount",
    "arcount",
    "question.name",
    "question.type",
    "question.class",
    "question.name_raw",
    "question.count",
    "edns.present",
    "edns.count",
    "edns.version",
    "edns.do",
    "edns.flags",
    "edns.z",
    "edns.payload",
    "edns.ext_rcode",
    "edns.options",
    "edns.section",
    "edns.owner",
    "edns.rdlength",
    "trailing",
    "malformed",
    "size",
    "raw",
    "patch",
    "transport",
    "tcp.connection",
    "tcp.framing",
    "tcp.close",
    "tcp.closed",
    "ip.src",
    "ip.dst",
    "udp.src",
    "udp.dst",
];

fn fixed(path: &str) -> Option<(u32, FieldType)> {
    use FieldType as T;
    Some(match path {
        // `id` accepts a 32-bit value on send (the low 16 bits are sent), see the module doc.
        "id" => (
            id::ID,
            T::Int {
                min: 0,
                max: u32::MAX.into(),
            },
        ),
        "qr" => (id::QR, T::Bool),
        "opcode" => (id::OPCODE, en(OPCODES, 15)),
        "aa" => (id::AA, T::Bool),
        "tc" => (id::TC, T::Bool),
        "rd" => (id::RD, T::Bool),
        "ra" => (id::RA, T::Bool),
        "z" => (id::Z, T::Bool),
        "ad" => (id::AD, T::Bool),
        "cd" => (id::CD, T::Bool),
        "rcode" => (id::RCODE, en(RCODES, 15)),
        "ext_rcode" => (id::EXT_RCODE, en(RCODES, 4095)),
        "flags" => (id::FLAGS, T::U16),
        "qdcount" => (id::QDCOUNT, T::U16),
        "ancount" => (id::ANCOUNT, T::U16),
        "nscount" => (id::NSCOUNT, T::U16),
        "arcount" => (id::ARCOUNT, T::U16),
        "question.name" => (id::Q_NAME, T::Str),
        "question.type" => (id::Q_TYPE, en(TYPES, 65535)),
        "question.class" => (id::Q_CLASS, en(CLASSES, 65535)),
        "question.name_raw" => (id::Q_NAME_RAW, T::Bytes),
        "question.count" => (id::QUESTION_COUNT, COUNT),
        "edns.present" => (id::EDNS_PRESENT, T::Bool),
        "edns.count" => (id::EDNS_COUNT, COUNT),
        "edns.version" => (id::EDNS_VERSION, T::U8),
        "edns.do" => (id::EDNS_DO, T::Bool),
        "edns.flags" => (id::EDNS_FLAGS, T::U16),
        "edns.z" => (id::EDNS_Z, T::U16),
        "edns.payload" => (id::EDNS_PAYLOAD, T::U16),
        "edns.ext_rcode" => (id::EDNS_EXT_RCODE, T::U8),
        "edns.options" => (id::EDNS_OPTIONS, list(en(EDNS_OPTIONS, 65535))),
        "edns.section" => (id::EDNS_SECTION, en(SECTIONS, 3)),
        "edns.owner" => (id::EDNS_OWNER, T::Str),
        "edns.rdlength" => (id::EDNS_RDLENGTH, T::U16),
        "trailing" => (id::TRAILING, T::Bytes),
        "malformed" => (id::MALFORMED, T::Str),
        "size" => (id::SIZE, T::Int { min: 0, max: 65535 }),
        "raw" => (id::RAW, T::Bytes),
        "patch" => (id::PATCH, list(T::Str)),
        "transport" => (id::TRANSPORT, T::Str),
        "tcp.connection" => (id::TCP_CONNECTION, T::U32),
        "tcp.framing" => (id::TCP_FRAMING, T::Bool),
        "tcp.close" => (id::TCP_CLOSE, T::Bool),
        "tcp.closed" => (id::TCP_CLOSED, T::Bool),
        "ip.src" => (id::IP_SRC, T::Ipv4),
        "ip.dst" => (id::IP_DST, T::Ipv4),
        "udp.src" => (id::UDP_SRC, T::U16),
        "udp.dst" => (id::UDP_DST, T::U16),
        _ => return None,
    })
}

/// The option code for a path segment: a number or a name from [`EDNS_OPTIONS`] (any case).
pub fn option_code(seg: &str) -> Option<u16> {
    if let Ok(n) = seg.parse::<u16>() {
        return Some(n);
    }
    EDNS_OPTIONS
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(seg))
        .map(|(_, v)| *v as u16)
}

fn section_of(seg: &str) -> Option<Section> {
    Some(match seg {
        "answer" => Section::Answer,
        "authority" => Section::Authority,
        "additional" => Section::Additional,
        _ => return None,
    })
}

fn per_section(sub: &str) -> Option<(u32, FieldType)> {
    use FieldType as T;
    Some(match sub {
        "count" => (id::SEC_COUNT, COUNT),
        "names" => (id::SEC_NAMES, list(T::Str)),
        "types" => (id::SEC_TYPES, list(en(TYPES, 65535))),
        "classes" => (id::SEC_CLASSES, list(en(CLASSES, 65535))),
        "ttls" => (id::SEC_TTLS, list(T::U32)),
        "rdata" => (id::SEC_RDATA, list(T::Str)),
        _ => return None,
    })
}

fn per_record(sub: &str) -> Option<(u32, FieldType)> {
    use FieldType as T;
    Some(match sub {
        "name" => (id::RR_NAME, T::Str),
        "type" => (id::RR_TYPE, en(TYPES, 65535)),
        "class" => (id::RR_CLASS, en(CLASSES, 65535)),
        "ttl" => (id::RR_TTL, T::U32),
        "rdata" => (id::RR_RDATA, T::Str),
        "rdlength" => (id::RR_RDLENGTH, T::U16),
        "rdata_raw" => (id::RR_RDATA_RAW, T::Bytes),
        _ => return None,
    })
}

/// Resolves a path to its canonical `FieldRef`.
pub fn resolve(path: &str) -> Option<FieldRef> {
    let mk = |p: String, (id, ty): (u32, FieldType), arg: u32| FieldRef {
        path: p.into(),
        ty,
        id,
        arg,
    };
    if let Some(x) = fixed(path) {
        return Some(mk(path.to_string(), x, 0));
    }
    let mut parts = path.split('.');
    let first = parts.next()?;
    if first == "edns" {
        if parts.next()? != "option" {
            return None;
        }
        let code = option_code(parts.next()?)?;
        let (id, ty) = match parts.next() {
            None => (id::EDNS_OPTION, FieldType::Bytes),
            Some("len") => (id::EDNS_OPTION_LEN, FieldType::U16),
            Some(_) => return None,
        };
        if parts.next().is_some() {
            return None;
        }
        let canonical = match name_in(EDNS_OPTIONS, code.into()) {
            Some(n) => format!("edns.option.{}", n.to_ascii_lowercase()),
            None => format!("edns.option.{code}"),
        };
        let canonical = if id == id::EDNS_OPTION_LEN {
            format!("{canonical}.len")
        } else {
            canonical
        };
        return Some(mk(canonical, (id, ty), code.into()));
    }
    let s = section_of(first)?;
    let second = parts.next()?;
    let third = parts.next();
    if parts.next().is_some() {
        return None;
    }
    match third {
        None => {
            let x = per_section(second)?;
            Some(mk(path.to_string(), x, s as u32))
        }
        Some(sub) => {
            let idx: u16 = second.parse().ok()?;
            let x = per_record(sub)?;
            Some(mk(
                format!("{first}.{idx}.{sub}"),
                x,
                ((s as u32) << 16) | u32::from(idx),
            ))
        }
    }
}

/// Whether `path` names a group of fields.
pub fn is_group(path: &str) -> bool {
    match path {
        "question" | "edns" | "edns.option" | "answer" | "authority" | "additional" | "tcp"
        | "ip" | "udp" => true,
        _ => {
            let mut p = path.split('.');
            match (p.next(), p.next(), p.next(), p.next()) {
                (Some(s), Some(i), None, None) => {
                    section_of(s).is_some() && i.parse::<u16>().is_ok()
                }
                (Some("edns"), Some("option"), Some(c), None) => option_code(c).is_some(),
                _ => false,
            }
        }
    }
}

/// Every documented path.
pub fn paths() -> Vec<String> {
    let mut v: Vec<String> = FIXED_PATHS.iter().map(|s| s.to_string()).collect();
    for s in ["answer", "authority", "additional"] {
        for sub in ["count", "names", "types", "classes", "ttls", "rdata"] {
            v.push(format!("{s}.{sub}"));
        }
        for sub in [
            "name",
            "type",
            "class",
            "ttl",
            "rdata",
            "rdlength",
            "rdata_raw",
        ] {
            v.push(format!("{s}.0.{sub}"));
        }
    }
    for (n, _) in EDNS_OPTIONS {
        let n = n.to_ascii_lowercase();
        v.push(format!("edns.option.{n}"));
        v.push(format!("edns.option.{n}.len"));
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_path_resolves() {
        for p in paths() {
            let f = resolve(&p).unwrap_or_else(|| panic!("{p}"));
            assert_eq!(&*f.path, p, "listed paths are canonical");
        }
    }

    #[test]
    fn canonical_forms() {
        assert_eq!(
            &*resolve("edns.option.10").unwrap().path,
            "edns.option.cookie"
        );
        assert_eq!(resolve("edns.option.COOKIE"), resolve("edns.option.cookie"));
        assert_eq!(
            &*resolve("edns.option.100").unwrap().path,
            "edns.option.100"
        );
        let r = resolve("authority.3.ttl").unwrap();
        assert_eq!(r.arg, (2 << 16) | 3);
        assert!(resolve("answer.x.ttl").is_none());
        assert!(resolve("answer.0.nope").is_none());
        assert!(resolve("nope").is_none());
        assert!(resolve("edns.option.cookie.x").is_none());
    }

    #[test]
    fn groups() {
        for g in [
            "question",
            "edns",
            "edns.option",
            "answer",
            "answer.2",
            "edns.option.nsid",
        ] {
            assert!(is_group(g), "{g}");
        }
        for g in ["id", "answer.count", "answer.0.name", "edns.do"] {
            assert!(!is_group(g), "{g}");
        }
    }

    #[test]
    fn tables_have_unique_values() {
        for t in [TYPES, CLASSES, OPCODES, RCODES, EDNS_OPTIONS] {
            let mut v: Vec<i64> = t.iter().map(|(_, x)| *x).collect();
            v.sort_unstable();
            let n = v.len();
            v.dedup();
            assert_eq!(v.len(), n);
        }
    }
}
