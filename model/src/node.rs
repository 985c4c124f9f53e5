//! A YAML document as a tree of spanned nodes.
//!
//! The suite loader reads YAML into this generic tree first and validates it by hand, so that
//! every problem in a file is reported at once with its line and column (serde's derive stops at
//! the first error). serde-saphyr gives each node its position through `Spanned`.

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;
use std::fmt;

/// A position in a source file (1-based line and column).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pos {
    pub line: u32,
    pub col: u32,
}

/// A node with the position where it was written.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub pos: Pos,
    pub kind: NodeKind,
}

#[derive(Clone, Debug, PartialEq)]
pub enum NodeKind {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    /// Entries in document order; duplicate keys are rejected by the YAML parser.
    Map(Vec<(Key, Node)>),
}

/// A mapping key with its own position.
#[derive(Clone, Debug, PartialEq)]
pub struct Key {
    pub pos: Pos,
    pub name: String,
}

impl Node {
    pub fn type_name(&self) -> &'static str {
        match self.kind {
            NodeKind::Null => "null",
            NodeKind::Bool(_) => "a boolean",
            NodeKind::Int(_) => "an integer",
            NodeKind::Float(_) => "a number",
            NodeKind::Str(_) => "a string",
            NodeKind::Seq(_) => "a list",
            NodeKind::Map(_) => "a mapping",
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            NodeKind::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&[(Key, Node)]> {
        match &self.kind {
            NodeKind::Map(m) => Some(m),
            _ => None,
        }
    }

    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.kind {
            NodeKind::Seq(s) => Some(s),
            _ => None,
        }
    }

    /// Looks a key up in a mapping node.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k.name == key)
            .map(|(_, v)| v)
    }

    /// A scalar rendered back to text (for scalars written as numbers where text is meant).
    pub fn scalar_text(&self) -> Option<String> {
        match &self.kind {
            NodeKind::Str(s) => Some(s.clone()),
            NodeKind::Int(i) => Some(i.to_string()),
            NodeKind::Float(f) => Some(f.to_string()),
            NodeKind::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }
}

fn pos_of<T>(s: &Spanned<T>) -> Pos {
    Pos {
        line: s.referenced.line() as u32,
        col: s.referenced.column() as u32,
    }
}

/// The unspanned body, deserialized from any YAML value.
struct Body(NodeKind);

impl<'de> Deserialize<'de> for Body {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Body;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any YAML value")
            }
            fn visit_unit<E>(self) -> Result<Body, E> {
                Ok(Body(NodeKind::Null))
            }
            fn visit_none<E>(self) -> Result<Body, E> {
                Ok(Body(NodeKind::Null))
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Body, D::Error> {
                Body::deserialize(d)
            }
            fn visit_bool<E>(self, v: bool) -> Result<Body, E> {
                Ok(Body(NodeKind::Bool(v)))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Body, E> {
                Ok(Body(NodeKind::Int(v)))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Body, E> {
                i64::try_from(v)
                    .map(|i| Body(NodeKind::Int(i)))
                    .map_err(|_| E::custom(format!("integer {v} is too large")))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Body, E> {
                Ok(Body(NodeKind::Float(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Body, E> {
                Ok(Body(NodeKind::Str(v.to_string())))
            }
            fn visit_string<E>(self, v: String) -> Result<Body, E> {
                Ok(Body(NodeKind::Str(v)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Body, A::Error> {
                let mut out = Vec::new();
                while let Some(n) = a.next_element::<Node>()? {
                    out.push(n);
                }
                Ok(Body(NodeKind::Seq(out)))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Body, A::Error> {
                let mut out: Vec<(Key, Node)> = Vec::new();
                while let Some(k) = a.next_key::<Spanned<KeyText>>()? {
                    let v = a.next_value::<Node>()?;
                    let key = Key {
                        pos: pos_of(&k),
                        name: k.value.0,
                    };
                    out.push((key, v));
                }
                Ok(Body(NodeKind::Map(out)))
            }
        }
        d.deserialize_any(V)
    }
}

/// Map keys as text: `53: OFFER` has an integer key that suites use as a name.
struct KeyText(String);

impl<'de> Deserialize<'de> for KeyText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = KeyText;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a scalar mapping key")
            }
            fn visit_str<E>(self, v: &str) -> Result<KeyText, E> {
                Ok(KeyText(v.to_string()))
            }
            fn visit_i64<E>(self, v: i64) -> Result<KeyText, E> {
                Ok(KeyText(v.to_string()))
            }
            fn visit_u64<E>(self, v: u64) -> Result<KeyText, E> {
                Ok(KeyText(v.to_string()))
            }
            fn visit_bool<E>(self, v: bool) -> Result<KeyText, E> {
                Ok(KeyText(v.to_string()))
            }
            fn visit_f64<E>(self, v: f64) -> Result<KeyText, E> {
                Ok(KeyText(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = Spanned::<Body>::deserialize(d)?;
        Ok(Node {
            pos: pos_of(&s),
            kind: s.value.0,
        })
    }
}

/// Parses YAML text into a node tree. The error carries the position of a syntax error.
pub fn parse_yaml(text: &str) -> Result<Node, (Pos, String)> {
    // YAML 1.2 core booleans only: under YAML 1.1 rules `var: n` or `hostname: off` would
    // silently become booleans (the "Norway problem").
    let opts = serde_saphyr::options! {
        strict_booleans: true,
        budget: serde_saphyr::budget! {
            max_depth: 64,
            max_nodes: 2_000_000,
        },
    };
    serde_saphyr::from_str_with_options::<Node>(text, opts).map_err(|e| {
        let pos = e
            .location()
            .map(|l| Pos {
                line: l.line() as u32,
                col: l.column() as u32,
            })
            .unwrap_or_default();
        // The library's Display includes a snippet; keep only the first line, we render our own.
        let msg = e.to_string();
        let first = msg.lines().next().unwrap_or("invalid YAML").to_string();
        (pos, strip_location_prefix(&first))
    })
}

fn strip_location_prefix(s: &str) -> String {
    // serde-saphyr puts "line N column M: " somewhere in the message; positions are reported
    // separately, so drop it wherever it is.
    let s = s.strip_prefix("error: ").unwrap_or(s);
    if let Some(start) = s.find("line ") {
        let rest = &s[start + 5..];
        let digits = rest.chars().take_while(|c| c.is_ascii_digit()).count();
        if digits > 0 && rest[digits..].starts_with(" column ") {
            let after = &rest[digits + 8..];
            let d2 = after.chars().take_while(|c| c.is_ascii_digit()).count();
            if let Some(tail) = after[d2..].strip_prefix(": ") {
                return format!("{}{}", &s[..start], tail);
            }
        }
    }
    s.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_of_nested_values() {
        let n = parse_yaml("a:\n  b: [1, x]\n  53: OFFER\n").unwrap();
        let a = n.get("a").unwrap();
        assert_eq!(a.pos.line, 2);
        let b = a.get("b").unwrap();
        let items = b.as_seq().unwrap();
        assert_eq!(items[1].pos, Pos { line: 2, col: 10 });
        let k = &a.as_map().unwrap()[1].0;
        assert_eq!((k.name.as_str(), k.pos.line, k.pos.col), ("53", 3, 3));
    }

    #[test]
    fn syntax_error_has_position() {
        let (pos, msg) = parse_yaml("a: [1, 2\nb: 3\n").unwrap_err();
        assert!(pos.line >= 1, "{msg}");
        assert!(!msg.is_empty());
    }
}

#[cfg(test)]
mod yaml12 {
    use super::NodeKind;

    /// YAML 1.1 booleans (`n`, `yes`, `off`) are plain strings: `var: n` must name `n`.
    #[test]
    fn only_yaml12_booleans() {
        let n = super::parse_yaml("a: n\nb: y\nc: yes\nd: off\ne: true\n").unwrap();
        for k in ["a", "b", "c", "d"] {
            assert!(matches!(n.get(k).unwrap().kind, NodeKind::Str(_)), "{k}");
        }
        assert_eq!(n.get("e").unwrap().kind, NodeKind::Bool(true));
    }
}
