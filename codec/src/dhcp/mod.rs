//! DHCPv4 (placeholder: being replaced by the full raw layer).
use crate::datagram::Datagram;
use crate::field::{FieldRef, FieldType};
use crate::protocol::{Decoded, EncodeError, Protocol};
use crate::value::Value;
use std::borrow::Cow;
use std::sync::Arc;

#[derive(Debug, Default)]
pub struct Dhcp;

impl Protocol for Dhcp {
    fn name(&self) -> &'static str {
        "dhcp"
    }
    fn resolve(&self, path: &str) -> Option<FieldRef> {
        let ty = match path {
            "op" => FieldType::U8,
            "xid" => FieldType::U32,
            _ => return None,
        };
        Some(FieldRef { path: path.into(), ty, id: 0, arg: 0 })
    }
    fn is_group(&self, _path: &str) -> bool {
        false
    }
    fn paths(&self) -> Vec<String> {
        vec!["op".into(), "xid".into()]
    }
    fn decode(&self, d: &Datagram) -> Arc<dyn Decoded> {
        Arc::new(Stub(d.payload.clone()))
    }
    fn encode(&self, _fields: &[(FieldRef, Option<Value>)]) -> Result<Datagram, EncodeError> {
        Err(EncodeError::Other("not yet".into()))
    }
}

#[derive(Debug)]
struct Stub(Vec<u8>);
impl Decoded for Stub {
    fn get(&self, _f: &FieldRef) -> Option<Cow<'_, Value>> {
        None
    }
    fn summary(&self) -> String {
        String::new()
    }
    fn to_json(&self) -> serde_json::Value {
        serde_json::Value::Null
    }
}
