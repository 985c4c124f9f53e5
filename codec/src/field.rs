//! Field catalogue types: what a template path names and how its literals are parsed.

use crate::value::{parse_hex, Value};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

/// The type of a field, used to parse template literals at load time and to explain mismatches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FieldType {
    Bool,
    /// An integer with inclusive bounds (a `u8` field is `Int { min: 0, max: 255 }`).
    Int {
        min: i64,
        max: i64,
    },
    /// An integer whose values also have names (`OFFER` for message type 2). Unknown numbers are
    /// still accepted: the server may send any byte.
    Enum {
        names: &'static [(&'static str, i64)],
        min: i64,
        max: i64,
    },
    Str,
    Bytes,
    Ipv4,
    Ipv6,
    Mac,
    List(Box<FieldType>),
}

/// A literal as written in a suite, before it is given a type.
#[derive(Clone, Debug, PartialEq)]
pub enum Scalar {
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
}

impl FieldType {
    pub const U8: FieldType = FieldType::Int { min: 0, max: 255 };
    pub const U16: FieldType = FieldType::Int { min: 0, max: 65535 };
    pub const U32: FieldType = FieldType::Int {
        min: 0,
        max: u32::MAX as i64,
    };

    /// Human name used in diagnostics ("expected an ipv4 address").
    pub fn describe(&self) -> String {
        match self {
            FieldType::Bool => "a boolean".into(),
            FieldType::Int { min, max } => format!("an integer in {min}..{max}"),
            FieldType::Enum { names, .. } => {
                let n: Vec<&str> = names.iter().map(|(n, _)| *n).collect();
                format!("a number or one of {}", n.join(", "))
            }
            FieldType::Str => "a string".into(),
            FieldType::Bytes => "bytes (hex such as 0x01ab or 01:ab, or a plain string)".into(),
            FieldType::Ipv4 => "an IPv4 address".into(),
            FieldType::Ipv6 => "an IPv6 address".into(),
            FieldType::Mac => "a MAC address (aa:bb:cc:dd:ee:ff)".into(),
            FieldType::List(t) => format!("a list of {}", t.describe()),
        }
    }

    /// The element type for list fields.
    pub fn element(&self) -> Option<&FieldType> {
        match self {
            FieldType::List(t) => Some(t),
            _ => None,
        }
    }

    /// Whether ranges make sense for this type.
    pub fn is_ordered(&self) -> bool {
        matches!(
            self,
            FieldType::Int { .. } | FieldType::Enum { .. } | FieldType::Ipv4 | FieldType::Ipv6
        )
    }

    /// Parses a literal into a value of this type. The error is a sentence fragment for a
    /// diagnostic ("expected an IPv4 address, found `10.0.0`").
    pub fn parse(&self, s: &Scalar) -> Result<Value, String> {
        let found = || match s {
            Scalar::Bool(b) => format!("`{b}`"),
            Scalar::Int(i) => format!("`{i}`"),
            Scalar::Float(x) => format!("`{x}`"),
            Scalar::Str(t) => format!("`{t}`"),
        };
        let err = || format!("expected {}, found {}", self.describe(), found());
        match (self, s) {
            (FieldType::Bool, Scalar::Bool(b)) => Ok(Value::Bool(*b)),
            (FieldType::Int { min, max }, _) => {
                let i = scalar_int(s).ok_or_else(err)?;
                if i < *min || i > *max {
                    return Err(format!("{i} is out of range {min}..{max}"));
                }
                Ok(Value::Int(i))
            }
            (FieldType::Enum { names, min, max }, _) => {
                if let Scalar::Str(t) = s {
                    if let Some((_, v)) = names.iter().find(|(n, _)| n.eq_ignore_ascii_case(t)) {
                        return Ok(Value::Int(*v));
                    }
                }
                let i = scalar_int(s).ok_or_else(err)?;
                if i < *min || i > *max {
                    return Err(format!("{i} is out of range {min}..{max}"));
                }
                Ok(Value::Int(i))
            }
            (FieldType::Str, Scalar::Str(t)) => Ok(Value::Str(t.clone())),
            (FieldType::Str, Scalar::Int(i)) => Ok(Value::Str(i.to_string())),
            (FieldType::Bytes, Scalar::Str(t)) => {
                if let Some(rest) = t.strip_prefix("str:") {
                    return Ok(Value::Bytes(rest.as_bytes().to_vec()));
                }
                if t.starts_with("0x") || t.contains(':') {
                    return parse_hex(t).map(Value::Bytes).ok_or_else(err);
                }
                Ok(Value::Bytes(t.as_bytes().to_vec()))
            }
            (FieldType::Ipv4, Scalar::Str(t)) => {
                t.parse::<Ipv4Addr>().map(Value::Ipv4).map_err(|_| err())
            }
            (FieldType::Ipv6, Scalar::Str(t)) => {
                t.parse::<Ipv6Addr>().map(Value::Ipv6).map_err(|_| err())
            }
            (FieldType::Mac, Scalar::Str(t)) => match parse_hex(t) {
                Some(b) if b.len() == 6 => {
                    let mut m = [0u8; 6];
                    m.copy_from_slice(&b);
                    Ok(Value::Mac(m))
                }
                _ => Err(err()),
            },
            _ => Err(err()),
        }
    }

    /// Converts a value of another compatible kind into this type, for values that arrive at run
    /// time through variables (a captured `yiaddr` used as `options.requested_ip`).
    pub fn coerce(&self, v: &Value) -> Option<Value> {
        match (self, v) {
            (FieldType::Int { .. } | FieldType::Enum { .. }, Value::Int(_)) => Some(v.clone()),
            (FieldType::Bool, Value::Bool(_)) => Some(v.clone()),
            (FieldType::Str, Value::Str(_)) => Some(v.clone()),
            (FieldType::Ipv4, Value::Ipv4(_)) => Some(v.clone()),
            (FieldType::Ipv6, Value::Ipv6(_)) => Some(v.clone()),
            (FieldType::Mac, Value::Mac(_)) => Some(v.clone()),
            (FieldType::Mac, Value::Bytes(b)) if b.len() == 6 => {
                let mut m = [0u8; 6];
                m.copy_from_slice(b);
                Some(Value::Mac(m))
            }
            (FieldType::Ipv4, Value::Bytes(b)) if b.len() == 4 => {
                Some(Value::Ipv4(Ipv4Addr::new(b[0], b[1], b[2], b[3])))
            }
            (FieldType::Bytes, _) => v.as_octets().map(Value::Bytes),
            (FieldType::List(_), Value::List(_)) => Some(v.clone()),
            _ => None,
        }
    }

    /// Renders a value for humans, using enum names where known.
    pub fn render(&self, v: &Value) -> String {
        if let (FieldType::Enum { names, .. }, Value::Int(i)) = (self, v) {
            if let Some((n, _)) = names.iter().find(|(_, x)| x == i) {
                return format!("{n} ({i})");
            }
        }
        if let (FieldType::List(t), Value::List(items)) = (self, v) {
            let parts: Vec<String> = items.iter().map(|x| t.render(x)).collect();
            return format!("[{}]", parts.join(", "));
        }
        v.to_string()
    }
}

fn scalar_int(s: &Scalar) -> Option<i64> {
    match s {
        Scalar::Int(i) => Some(*i),
        Scalar::Str(t) => {
            if let Some(h) = t.strip_prefix("0x") {
                i64::from_str_radix(h, 16).ok()
            } else {
                t.parse().ok()
            }
        }
        Scalar::Float(f) if f.fract() == 0.0 => Some(*f as i64),
        _ => None,
    }
}

/// A resolved field path. `id` and `arg` are private to the protocol that resolved it; the
/// matcher only carries the reference back to `Decoded::get`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldRef {
    /// The canonical path (`options.61.type`), used in reports.
    pub path: Arc<str>,
    pub ty: FieldType,
    pub id: u32,
    pub arg: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_by_type() {
        assert_eq!(FieldType::U8.parse(&Scalar::Int(7)), Ok(Value::Int(7)));
        assert!(FieldType::U8.parse(&Scalar::Int(300)).is_err());
        assert_eq!(
            FieldType::Ipv4.parse(&Scalar::Str("10.0.0.1".into())),
            Ok(Value::Ipv4(Ipv4Addr::new(10, 0, 0, 1)))
        );
        assert!(FieldType::Ipv4
            .parse(&Scalar::Str("10.0.0".into()))
            .is_err());
        assert_eq!(
            FieldType::Bytes.parse(&Scalar::Str("0x0102".into())),
            Ok(Value::Bytes(vec![1, 2]))
        );
        assert_eq!(
            FieldType::Bytes.parse(&Scalar::Str("str:a:b".into())),
            Ok(Value::Bytes(b"a:b".to_vec()))
        );
        static N: &[(&str, i64)] = &[("OFFER", 2)];
        let e = FieldType::Enum {
            names: N,
            min: 0,
            max: 255,
        };
        assert_eq!(e.parse(&Scalar::Str("offer".into())), Ok(Value::Int(2)));
        assert_eq!(e.render(&Value::Int(2)), "OFFER (2)");
    }
}
