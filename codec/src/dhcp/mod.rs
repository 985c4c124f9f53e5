//! DHCPv4: the raw wire layer ([`raw`]), the field catalogue ([`catalogue`]), the matchable
//! view of received messages ([`view`]), the template encoder ([`encode`]) and the
//! [`Protocol`](crate::protocol::Protocol) implementation [`Dhcp`].

pub mod catalogue;
pub mod encode;
mod proto;
pub mod raw;
pub mod view;

pub use proto::Dhcp;
pub use raw::{Entry, OptionArea, Packet, RawOption, Repr};
pub use view::DhcpView;
