//! The typed values that templates match against and that captures store.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

/// A decoded field value.
///
/// Invariant: two values of different variants never compare equal, except that the matcher
/// compares `Int` with enum names resolved at template-compile time (so no cross-variant
/// comparisons happen at run time).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Value {
    Bool(bool),
    Int(i64),
    Str(String),
    Bytes(Vec<u8>),
    Ipv4(Ipv4Addr),
    Ipv6(Ipv6Addr),
    Mac([u8; 6]),
    List(Vec<Value>),
}

impl Value {
    /// Short name of the variant, used in type-mismatch diagnostics.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Bool(_) => "bool",
            Value::Int(_) => "integer",
            Value::Str(_) => "string",
            Value::Bytes(_) => "bytes",
            Value::Ipv4(_) => "ipv4 address",
            Value::Ipv6(_) => "ipv6 address",
            Value::Mac(_) => "mac address",
            Value::List(_) => "list",
        }
    }

    /// Length as used by TTCN-3 `length(...)`: octets for bytes, characters for strings,
    /// elements for lists, octets for addresses.
    pub fn length(&self) -> Option<usize> {
        match self {
            Value::Str(s) => Some(s.chars().count()),
            Value::Bytes(b) => Some(b.len()),
            Value::List(l) => Some(l.len()),
            Value::Ipv4(_) => Some(4),
            Value::Ipv6(_) => Some(16),
            Value::Mac(_) => Some(6),
            Value::Bool(_) | Value::Int(_) => None,
        }
    }

    /// The value as raw octets where that makes sense (addresses, bytes, strings).
    pub fn as_octets(&self) -> Option<Vec<u8>> {
        match self {
            Value::Bytes(b) => Some(b.clone()),
            Value::Str(s) => Some(s.as_bytes().to_vec()),
            Value::Ipv4(a) => Some(a.octets().to_vec()),
            Value::Ipv6(a) => Some(a.octets().to_vec()),
            Value::Mac(m) => Some(m.to_vec()),
            _ => None,
        }
    }

    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }
}

/// Formats bytes as lowercase hex with no separators (`01020a`).
pub fn hex(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len() * 2);
    for x in b {
        s.push_str(&format!("{x:02x}"));
    }
    s
}

/// Parses hex with optional `0x` prefix and optional `:`, `-` or space separators.
pub fn parse_hex(s: &str) -> Option<Vec<u8>> {
    let t = s.strip_prefix("0x").unwrap_or(s);
    let digits: String = t
        .chars()
        .filter(|c| !matches!(c, ':' | '-' | ' ' | '_'))
        .collect();
    if !digits.len().is_multiple_of(2) || !digits.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    (0..digits.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&digits[i..i + 2], 16).ok())
        .collect()
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Str(s) => write!(f, "{s:?}"),
            Value::Bytes(b) => write!(f, "0x{}", hex(b)),
            Value::Ipv4(a) => write!(f, "{a}"),
            Value::Ipv6(a) => write!(f, "{a}"),
            Value::Mac(m) => write!(
                f,
                "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
                m[0], m[1], m[2], m[3], m[4], m[5]
            ),
            Value::List(l) => {
                write!(f, "[")?;
                for (i, v) in l.iter().enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    write!(f, "{v}")?;
                }
                write!(f, "]")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip() {
        assert_eq!(parse_hex("01:02:0a"), Some(vec![1, 2, 10]));
        assert_eq!(parse_hex("0x01020a"), Some(vec![1, 2, 10]));
        assert_eq!(parse_hex("0x1"), None);
        assert_eq!(parse_hex("zz"), None);
        assert_eq!(hex(&[1, 2, 10]), "01020a");
    }

    #[test]
    fn lengths() {
        assert_eq!(Value::Str("héllo".into()).length(), Some(5));
        assert_eq!(Value::Int(3).length(), None);
        assert_eq!(Value::List(vec![Value::Int(1)]).length(), Some(1));
    }
}
