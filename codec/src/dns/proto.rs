//! [`Dns`]: the DNS [`Protocol`] implementation, tying the catalogue, the view and the encoder
//! together.

use super::{catalogue, encode, view::DnsView};
use crate::datagram::Datagram;
use crate::field::FieldRef;
use crate::protocol::{Decoded, EncodeError, Protocol};
use crate::value::Value;
use std::sync::Arc;

/// DNS (RFC 1035, RFC 6891 and friends), named `dns` in suites.
#[derive(Debug, Default, Clone, Copy)]
pub struct Dns;

impl Protocol for Dns {
    fn name(&self) -> &'static str {
        "dns"
    }

    fn resolve(&self, path: &str) -> Option<FieldRef> {
        catalogue::resolve(path)
    }

    fn is_group(&self, path: &str) -> bool {
        catalogue::is_group(path)
    }

    fn paths(&self) -> Vec<String> {
        catalogue::paths()
    }

    fn decode(&self, d: &Datagram) -> Arc<dyn Decoded> {
        Arc::new(DnsView::new(d))
    }

    fn encode(&self, fields: &[(FieldRef, Option<Value>)]) -> Result<Datagram, EncodeError> {
        encode::encode(fields)
    }
}
