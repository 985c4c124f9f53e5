//! The protocol abstraction the runner and the suite loader use: resolve field paths, decode
//! datagrams into matchable views, encode concrete templates.

use crate::datagram::Datagram;
use crate::field::FieldRef;
use crate::value::Value;
use std::borrow::Cow;
use std::fmt::Debug;
use std::sync::Arc;

/// A protocol known to conform (DHCPv4, DNS).
pub trait Protocol: Send + Sync + Debug {
    /// `dhcp` or `dns`.
    fn name(&self) -> &'static str;

    /// Resolves a dotted field path (`options.client_id.type`, `yiaddr`, `ip.dst`) to its
    /// canonical form. `None` when the path is unknown for this protocol.
    fn resolve(&self, path: &str) -> Option<FieldRef>;

    /// Whether `path` names a group of fields (`options`, `flags`, `ip`), so a nested YAML map
    /// under it is a record of sub-fields rather than a matching mechanism.
    fn is_group(&self, path: &str) -> bool;

    /// Known paths, for "did you mean" hints and for documentation.
    fn paths(&self) -> Vec<String>;

    /// Decodes a received datagram. Never fails and never panics: malformed input is exposed
    /// through fields such as `malformed` or `end_present`.
    fn decode(&self, d: &Datagram) -> Arc<dyn Decoded>;

    /// Decodes a datagram the caller gives up, without copying it; the view gives it back
    /// through [`Decoded::datagram`] (a receiver keeps the datagram for its event that way
    /// instead of decoding a copy). The default keeps the datagram beside a view of it.
    fn decode_owned(&self, d: Datagram) -> Arc<dyn Decoded> {
        Arc::new(Kept {
            view: self.decode(&d),
            datagram: d,
        })
    }

    /// Encodes a send template whose fields are all concrete. `None` means "omit this field"
    /// (for options: do not emit it). Fields are in template order, which is the wire order
    /// for options.
    fn encode(&self, fields: &[(FieldRef, Option<Value>)]) -> Result<Datagram, EncodeError>;

    /// Whether a send template may set this field. Decode-only facts (`option_codes`,
    /// `malformed`, `ip.len`) are not; the loader rejects them in send templates up front.
    fn sendable(&self, _f: &FieldRef) -> bool {
        true
    }

    /// The key that ties an answer to the request it answers, read from a message's bytes
    /// (DHCP: the xid; DNS: the id); `None` when the protocol has none or the message is too
    /// short to carry it. A timeout's mismatch report uses it to tell the case's own messages
    /// from other cases' that arrive on a shared socket (docs/decisions.md D10). It assumes
    /// what a conforming server does, echo the key; a reply that does not is still reported,
    /// marked as not tied to the case.
    fn correlation(&self, _payload: &[u8]) -> Option<u64> {
        None
    }
}

/// A decoded message: the view templates match against.
pub trait Decoded: Send + Sync + Debug {
    /// The value at a resolved path, or `None` when the field is absent.
    fn get(&self, f: &FieldRef) -> Option<Cow<'_, Value>>;
    /// One line for logs and sequence charts (`DHCPOFFER xid=0x1234 yiaddr=192.0.2.100`).
    fn summary(&self) -> String;
    /// A JSON rendering of every field, for events and HTML reports.
    fn to_json(&self) -> serde_json::Value;
    /// The datagram this view was decoded from, when the view keeps it (every view that
    /// [`Protocol::decode_owned`] returns does).
    fn datagram(&self) -> Option<Datagram> {
        None
    }
    /// Whether field `f` is present and equal to `expected`, when the view can tell without
    /// building the field's value (a DNS name compared in wire form); `None` leaves it to
    /// `get`. Invariant: an answer is always `get(f).as_deref() == Some(expected)`. Only
    /// string fields (`FieldType::Str`) are asked: a view answers for nothing else.
    fn field_equals(&self, _f: &FieldRef, _expected: &Value) -> Option<bool> {
        None
    }
}

/// [`Protocol::decode_owned`]'s default: a view and the datagram it was made from.
#[derive(Debug)]
struct Kept {
    view: Arc<dyn Decoded>,
    datagram: Datagram,
}

impl Decoded for Kept {
    fn get(&self, f: &FieldRef) -> Option<Cow<'_, Value>> {
        self.view.get(f)
    }
    fn summary(&self) -> String {
        self.view.summary()
    }
    fn to_json(&self) -> serde_json::Value {
        self.view.to_json()
    }
    fn field_equals(&self, f: &FieldRef, expected: &Value) -> Option<bool> {
        self.view.field_equals(f, expected)
    }
    fn datagram(&self) -> Option<Datagram> {
        Some(self.datagram.clone())
    }
}

/// Why a send template could not become bytes.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EncodeError {
    #[error("field `{path}` cannot be encoded: {reason}")]
    Field { path: String, reason: String },
    #[error("failed to encode message: {0}")]
    Other(String),
}

/// Looks a protocol up by the name used in suites.
pub fn protocol_by_name(name: &str) -> Option<Arc<dyn Protocol>> {
    match name {
        "dhcp" => Some(Arc::new(crate::dhcp::Dhcp)),
        "dns" => Some(Arc::new(crate::dns::Dns::default())),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::datagram::Meta;

    /// A protocol without its own `decode_owned`, to exercise the default.
    #[derive(Debug)]
    struct Plain;

    impl Protocol for Plain {
        fn name(&self) -> &'static str {
            "plain"
        }
        fn resolve(&self, _: &str) -> Option<FieldRef> {
            None
        }
        fn is_group(&self, _: &str) -> bool {
            false
        }
        fn paths(&self) -> Vec<String> {
            vec![]
        }
        fn decode(&self, d: &Datagram) -> Arc<dyn Decoded> {
            protocol_by_name("dns").unwrap().decode(d)
        }
        fn encode(&self, _: &[(FieldRef, Option<Value>)]) -> Result<Datagram, EncodeError> {
            Err(EncodeError::Other("no".into()))
        }
    }

    /// Every view made by `decode_owned` gives back the datagram it was made from, and reads
    /// the same fields as a view of a copy.
    #[test]
    fn owned_decodes_give_the_datagram_back() {
        let d = Datagram {
            payload: vec![0x1a, 0xbc, 0x84, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff],
            meta: Meta {
                transport: "udp".into(),
                src_port: Some(53),
                ..Meta::default()
            },
        };
        let dns = protocol_by_name("dns").unwrap();
        let dhcp = protocol_by_name("dhcp").unwrap();
        let plain: Arc<dyn Protocol> = Arc::new(Plain);
        for p in [&dns, &dhcp, &plain] {
            let v = p.decode_owned(d.clone());
            assert_eq!(v.datagram().as_ref(), Some(&d), "{}", p.name());
            assert_eq!(v.summary(), p.decode(&d).summary(), "{}", p.name());
        }
        let id = dns.resolve("id").unwrap();
        assert_eq!(
            dns.decode_owned(d.clone()).get(&id).map(|v| v.into_owned()),
            Some(Value::Int(0x1abc))
        );
    }
}
