//! Just enough DHCPv4 to probe a server and to run a smoke DORA in the lab's own tests:
//! hand-built DISCOVER and REQUEST messages and a lenient reply reader.
//!
//! This is deliberately not conform's DHCP codec (`conform_codec::dhcp`): the lab must be able
//! to tell whether a server is up without depending on the code under test. It never panics on
//! malformed replies; `parse_reply` returns `None` for anything that is not a BOOTREPLY.

use std::net::Ipv4Addr;

/// The magic cookie that starts the options field (RFC 2131 §3).
pub const MAGIC_COOKIE: [u8; 4] = [99, 130, 83, 99];

/// DHCP message types (option 53).
pub const DISCOVER: u8 = 1;
pub const OFFER: u8 = 2;
pub const REQUEST: u8 = 3;
pub const DECLINE: u8 = 4;
pub const ACK: u8 = 5;
pub const NAK: u8 = 6;
pub const RELEASE: u8 = 7;

/// The smallest BOOTP message many servers accept (RFC 1542 §3.1.1: at least 300 octets).
const MIN_LEN: usize = 300;

/// Fields of a client message; `build` turns them into bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientMessage {
    pub msg_type: u8,
    pub xid: u32,
    pub chaddr: [u8; 6],
    pub broadcast: bool,
    pub ciaddr: Ipv4Addr,
    /// Relay agent address (relay mode), `0.0.0.0` otherwise.
    pub giaddr: Ipv4Addr,
    /// Hop count (1 when relayed).
    pub hops: u8,
    /// Option 50.
    pub requested_ip: Option<Ipv4Addr>,
    /// Option 54.
    pub server_id: Option<Ipv4Addr>,
}

impl ClientMessage {
    /// A DISCOVER from `chaddr`.
    pub fn discover(xid: u32, chaddr: [u8; 6]) -> Self {
        ClientMessage {
            msg_type: DISCOVER,
            xid,
            chaddr,
            broadcast: false,
            ciaddr: Ipv4Addr::UNSPECIFIED,
            giaddr: Ipv4Addr::UNSPECIFIED,
            hops: 0,
            requested_ip: None,
            server_id: None,
        }
    }

    /// A SELECTING-state REQUEST for `offered` from server `server_id` (RFC 2131 §4.3.2).
    pub fn request(xid: u32, chaddr: [u8; 6], offered: Ipv4Addr, server_id: Ipv4Addr) -> Self {
        ClientMessage {
            msg_type: REQUEST,
            requested_ip: Some(offered),
            server_id: Some(server_id),
            ..ClientMessage::discover(xid, chaddr)
        }
    }

    /// The same message as a relay agent at `giaddr` forwards it.
    pub fn relayed(mut self, giaddr: Ipv4Addr) -> Self {
        self.giaddr = giaddr;
        self.hops = 1;
        self
    }

    /// The message on the wire: BOOTP header, magic cookie, options 53, 61, 55 (and 50/54),
    /// END, padded to 300 octets.
    pub fn build(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(MIN_LEN);
        b.extend_from_slice(&[1, 1, 6, self.hops]); // op BOOTREQUEST, htype Ethernet, hlen 6
        b.extend_from_slice(&self.xid.to_be_bytes());
        b.extend_from_slice(&[0, 0]); // secs
        b.extend_from_slice(&(if self.broadcast { 0x8000u16 } else { 0 }).to_be_bytes());
        b.extend_from_slice(&self.ciaddr.octets());
        b.extend_from_slice(&[0; 4]); // yiaddr
        b.extend_from_slice(&[0; 4]); // siaddr
        b.extend_from_slice(&self.giaddr.octets());
        b.extend_from_slice(&self.chaddr);
        b.extend_from_slice(&[0; 10]); // chaddr padding to 16
        b.extend_from_slice(&[0; 64]); // sname
        b.extend_from_slice(&[0; 128]); // file
        b.extend_from_slice(&MAGIC_COOKIE);
        b.extend_from_slice(&[53, 1, self.msg_type]);
        b.extend_from_slice(&[61, 7, 1]);
        b.extend_from_slice(&self.chaddr);
        if let Some(ip) = self.requested_ip {
            b.extend_from_slice(&[50, 4]);
            b.extend_from_slice(&ip.octets());
        }
        if let Some(ip) = self.server_id {
            b.extend_from_slice(&[54, 4]);
            b.extend_from_slice(&ip.octets());
        }
        b.extend_from_slice(&[55, 4, 1, 3, 51, 54]); // subnet mask, router, lease time, server id
        b.push(255);
        if b.len() < MIN_LEN {
            b.resize(MIN_LEN, 0);
        }
        b
    }
}

/// What a smoke test needs from a server reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    pub xid: u32,
    pub flags: u16,
    pub yiaddr: Ipv4Addr,
    pub siaddr: Ipv4Addr,
    pub giaddr: Ipv4Addr,
    pub chaddr: [u8; 6],
    /// Option 53; `None` for a BOOTP reply without it.
    pub msg_type: Option<u8>,
    /// Option 54.
    pub server_id: Option<Ipv4Addr>,
    /// Option 51.
    pub lease_time: Option<u32>,
    /// Option 1.
    pub subnet_mask: Option<Ipv4Addr>,
    /// Option 3, first address.
    pub router: Option<Ipv4Addr>,
}

fn ip4(b: &[u8]) -> Option<Ipv4Addr> {
    let a: [u8; 4] = b.get(..4)?.try_into().ok()?;
    Some(Ipv4Addr::from(a))
}

/// Reads a BOOTREPLY. `None` if `b` is not one (too short, op != 2, no magic cookie). Options
/// are read leniently up to END or the end of the buffer; a truncated option ends the walk.
pub fn parse_reply(b: &[u8]) -> Option<Reply> {
    if b.len() < 240 || b[0] != 2 || b[236..240] != MAGIC_COOKIE {
        return None;
    }
    let mut r = Reply {
        xid: u32::from_be_bytes(b[4..8].try_into().ok()?),
        flags: u16::from_be_bytes(b[10..12].try_into().ok()?),
        yiaddr: ip4(&b[16..20])?,
        siaddr: ip4(&b[20..24])?,
        giaddr: ip4(&b[24..28])?,
        chaddr: b[28..34].try_into().ok()?,
        msg_type: None,
        server_id: None,
        lease_time: None,
        subnet_mask: None,
        router: None,
    };
    let mut i = 240;
    while let Some(&code) = b.get(i) {
        match code {
            0 => {
                i += 1;
                continue;
            }
            255 => break,
            _ => {}
        }
        let Some(&len) = b.get(i + 1) else { break };
        let Some(data) = b.get(i + 2..i + 2 + usize::from(len)) else {
            break;
        };
        match code {
            53 if len == 1 => r.msg_type = Some(data[0]),
            54 => r.server_id = ip4(data),
            51 if len == 4 => r.lease_time = Some(u32::from_be_bytes(data.try_into().ok()?)),
            1 => r.subnet_mask = ip4(data),
            3 => r.router = ip4(data),
            _ => {}
        }
        i += 2 + usize::from(len);
    }
    Some(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discover_layout() {
        let m = ClientMessage::discover(0x01020304, [2, 0xcf, 0, 0, 0, 1]).build();
        assert_eq!(m.len(), 300);
        assert_eq!(&m[..4], &[1, 1, 6, 0]);
        assert_eq!(&m[4..8], &[1, 2, 3, 4]);
        assert_eq!(&m[28..34], &[2, 0xcf, 0, 0, 0, 1]);
        assert_eq!(&m[236..240], &MAGIC_COOKIE);
        assert_eq!(&m[240..243], &[53, 1, DISCOVER]);
    }

    #[test]
    fn request_carries_50_and_54_and_relay_sets_giaddr() {
        let m = ClientMessage::request(
            7,
            [2; 6],
            Ipv4Addr::new(192, 0, 2, 150),
            Ipv4Addr::new(192, 0, 2, 1),
        )
        .relayed(Ipv4Addr::new(192, 0, 2, 2))
        .build();
        assert_eq!(m[3], 1);
        assert_eq!(&m[24..28], &[192, 0, 2, 2]);
        let opts = &m[240..];
        assert!(opts.windows(6).any(|w| w == [50, 4, 192, 0, 2, 150]));
        assert!(opts.windows(6).any(|w| w == [54, 4, 192, 0, 2, 1]));
    }

    #[test]
    fn parse_a_reply_built_from_a_request() {
        let mut m = ClientMessage::discover(9, [2; 6]).build();
        m[0] = 2;
        m[16..20].copy_from_slice(&[192, 0, 2, 100]);
        m[240..243].copy_from_slice(&[53, 1, OFFER]);
        m[243..249].copy_from_slice(&[54, 4, 192, 0, 2, 1]);
        m[249..255].copy_from_slice(&[51, 4, 0, 0, 14, 16]);
        m[255] = 255;
        let r = parse_reply(&m).unwrap();
        assert_eq!(r.xid, 9);
        assert_eq!(r.msg_type, Some(OFFER));
        assert_eq!(r.yiaddr, Ipv4Addr::new(192, 0, 2, 100));
        assert_eq!(r.server_id, Some(Ipv4Addr::new(192, 0, 2, 1)));
        assert_eq!(r.lease_time, Some(3600));
    }

    #[test]
    fn malformed_replies_never_panic() {
        let mut m = ClientMessage::discover(9, [2; 6]).build();
        m[0] = 2;
        assert!(parse_reply(&m[..239]).is_none());
        assert!(parse_reply(&ClientMessage::discover(9, [2; 6]).build()).is_none());
        for cut in 240..m.len() {
            let _ = parse_reply(&m[..cut]);
        }
        m[240..243].copy_from_slice(&[53, 200, 1]);
        assert!(parse_reply(&m).is_some());
    }
}
