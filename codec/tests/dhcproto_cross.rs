//! Cross-checks the DHCPv4 codec against the independent `dhcproto` implementation on
//! well-formed messages, in both directions.

use conform_codec::dhcp::Dhcp;
use conform_codec::{Datagram, Decoded, FieldRef, Protocol, Value};
use dhcproto::v4::{self, DhcpOption, Message, MessageType, OptionCode};
use dhcproto::{Decodable, Decoder, Encodable};
use proptest::prelude::*;
use std::net::Ipv4Addr;

fn fields(items: Vec<(&str, Value)>) -> Vec<(FieldRef, Option<Value>)> {
    items
        .into_iter()
        .map(|(p, v)| (Dhcp.resolve(p).expect(p), Some(v)))
        .collect()
}

fn get(d: &dyn Decoded, path: &str) -> Option<Value> {
    d.get(&Dhcp.resolve(path).expect(path))
        .map(|c| c.into_owned())
}

fn ints(v: &[i64]) -> Value {
    Value::List(v.iter().map(|&i| Value::Int(i)).collect())
}

#[test]
fn our_request_decodes_identically_in_dhcproto() {
    let mac = [0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee];
    let d = Dhcp
        .encode(&fields(vec![
            ("xid", Value::Int(0x01020304)),
            ("secs", Value::Int(7)),
            ("flags.broadcast", Value::Bool(true)),
            ("chaddr", Value::Mac(mac)),
            ("options.message_type", Value::Int(3)),
            (
                "options.requested_ip",
                Value::Ipv4(Ipv4Addr::new(192, 0, 2, 50)),
            ),
            (
                "options.server_id",
                Value::Ipv4(Ipv4Addr::new(192, 0, 2, 1)),
            ),
            (
                "options.client_id",
                Value::Bytes(vec![1, 2, 0xaa, 0xbb, 0xcc, 0xdd, 0xee]),
            ),
            ("options.hostname", Value::Str("client-7".into())),
            (
                "options.parameter_request_list",
                ints(&[1, 3, 6, 15, 51, 54]),
            ),
            ("options.max_message_size", Value::Int(1500)),
            ("options.lease_time", Value::Int(86400)),
            ("options.vendor_class_id", Value::Str("conform 0.1".into())),
        ]))
        .unwrap();
    let m = Message::decode(&mut Decoder::new(&d.payload)).unwrap();
    assert_eq!(m.opcode(), v4::Opcode::BootRequest);
    assert_eq!(m.xid(), 0x01020304);
    assert_eq!(m.secs(), 7);
    assert!(m.flags().broadcast());
    assert_eq!(m.hlen(), 6);
    assert_eq!(m.chaddr(), &mac);
    assert_eq!(m.ciaddr(), Ipv4Addr::UNSPECIFIED);
    let o = m.opts();
    assert_eq!(o.msg_type(), Some(MessageType::Request));
    assert_eq!(
        o.get(OptionCode::RequestedIpAddress),
        Some(&DhcpOption::RequestedIpAddress(Ipv4Addr::new(
            192, 0, 2, 50
        )))
    );
    assert_eq!(
        o.get(OptionCode::ServerIdentifier),
        Some(&DhcpOption::ServerIdentifier(Ipv4Addr::new(192, 0, 2, 1)))
    );
    assert_eq!(
        o.get(OptionCode::ClientIdentifier),
        Some(&DhcpOption::ClientIdentifier(vec![
            1, 2, 0xaa, 0xbb, 0xcc, 0xdd, 0xee
        ]))
    );
    assert_eq!(
        o.get(OptionCode::Hostname),
        Some(&DhcpOption::Hostname("client-7".into()))
    );
    assert_eq!(
        o.get(OptionCode::ParameterRequestList),
        Some(&DhcpOption::ParameterRequestList(
            [1u8, 3, 6, 15, 51, 54]
                .iter()
                .map(|&c| OptionCode::from(c))
                .collect()
        ))
    );
    assert_eq!(
        o.get(OptionCode::MaxMessageSize),
        Some(&DhcpOption::MaxMessageSize(1500))
    );
    assert_eq!(
        o.get(OptionCode::AddressLeaseTime),
        Some(&DhcpOption::AddressLeaseTime(86400))
    );
    assert_eq!(
        o.get(OptionCode::ClassIdentifier),
        Some(&DhcpOption::ClassIdentifier(b"conform 0.1".to_vec()))
    );
    assert_eq!(o.len(), 9);
}

#[test]
fn dhcproto_offer_decodes_identically_here() {
    let mut m = Message::new_with_id(
        0xcafef00d,
        Ipv4Addr::UNSPECIFIED,
        Ipv4Addr::new(192, 0, 2, 100),
        Ipv4Addr::new(192, 0, 2, 1),
        Ipv4Addr::UNSPECIFIED,
        &[2, 0, 0, 0, 0, 7],
    );
    m.set_opcode(v4::Opcode::BootReply);
    let o = m.opts_mut();
    o.insert(DhcpOption::MessageType(MessageType::Offer));
    o.insert(DhcpOption::ServerIdentifier(Ipv4Addr::new(192, 0, 2, 1)));
    o.insert(DhcpOption::AddressLeaseTime(3600));
    o.insert(DhcpOption::SubnetMask(Ipv4Addr::new(255, 255, 255, 0)));
    o.insert(DhcpOption::Router(vec![Ipv4Addr::new(192, 0, 2, 1)]));
    o.insert(DhcpOption::DomainNameServer(vec![
        Ipv4Addr::new(192, 0, 2, 53),
        Ipv4Addr::new(192, 0, 2, 54),
    ]));
    o.insert(DhcpOption::Renewal(1800));
    o.insert(DhcpOption::Rebinding(3150));
    o.insert(DhcpOption::InterfaceMtu(1500));
    let bytes = m.to_vec().unwrap();
    let v = Dhcp.decode(&Datagram {
        payload: bytes,
        ..Datagram::default()
    });
    let ip = |s: &str| Value::Ipv4(s.parse().unwrap());
    assert_eq!(get(&*v, "op"), Some(Value::Int(2)));
    assert_eq!(get(&*v, "xid"), Some(Value::Int(0xcafef00d)));
    assert_eq!(get(&*v, "yiaddr"), Some(ip("192.0.2.100")));
    assert_eq!(get(&*v, "siaddr"), Some(ip("192.0.2.1")));
    assert_eq!(
        get(&*v, "chaddr"),
        Some(Value::Bytes(vec![2, 0, 0, 0, 0, 7]))
    );
    assert_eq!(get(&*v, "options.message_type"), Some(Value::Int(2)));
    assert_eq!(get(&*v, "options.server_id"), Some(ip("192.0.2.1")));
    assert_eq!(get(&*v, "options.lease_time"), Some(Value::Int(3600)));
    assert_eq!(get(&*v, "options.subnet_mask"), Some(ip("255.255.255.0")));
    assert_eq!(
        get(&*v, "options.routers"),
        Some(Value::List(vec![ip("192.0.2.1")]))
    );
    assert_eq!(
        get(&*v, "options.dns_servers"),
        Some(Value::List(vec![ip("192.0.2.53"), ip("192.0.2.54")]))
    );
    assert_eq!(get(&*v, "options.renewal_time"), Some(Value::Int(1800)));
    assert_eq!(get(&*v, "options.rebinding_time"), Some(Value::Int(3150)));
    assert_eq!(get(&*v, "options.interface_mtu"), Some(Value::Int(1500)));
    // dhcproto sorts options by code.
    assert_eq!(
        get(&*v, "option_codes"),
        Some(ints(&[1, 3, 6, 26, 51, 53, 54, 58, 59]))
    );
    assert_eq!(get(&*v, "end_present"), Some(Value::Bool(true)));
    assert_eq!(get(&*v, "malformed"), None);
}

proptest! {
    #[test]
    fn well_formed_messages_agree(
        xid in any::<u32>(),
        mac in any::<[u8; 6]>(),
        ciaddr in any::<[u8; 4]>(),
        lease in any::<u32>(),
        mtype in 1i64..=8,
        host in "[a-z][a-z0-9-]{0,30}",
        dns in prop::collection::vec(any::<[u8; 4]>(), 1..70),
        prl in prop::collection::vec(1u8..=254, 1..20),
    ) {
        let dns_v = Value::List(dns.iter().map(|a| Value::Ipv4(Ipv4Addr::from(*a))).collect());
        let d = Dhcp
            .encode(&fields(vec![
                ("xid", Value::Int(xid.into())),
                ("ciaddr", Value::Ipv4(ciaddr.into())),
                ("chaddr", Value::Mac(mac)),
                ("options.message_type", Value::Int(mtype)),
                ("options.lease_time", Value::Int(lease.into())),
                ("options.hostname", Value::Str(host.clone())),
                // More than 63 addresses exceed 255 bytes and are split per RFC 3396.
                ("options.dns_servers", dns_v.clone()),
                ("options.parameter_request_list", ints(&prl.iter().map(|&c| i64::from(c)).collect::<Vec<_>>())),
            ]))
            .unwrap();
        let m = Message::decode(&mut Decoder::new(&d.payload)).unwrap();
        prop_assert_eq!(m.xid(), xid);
        prop_assert_eq!(m.chaddr(), &mac);
        prop_assert_eq!(m.ciaddr(), Ipv4Addr::from(ciaddr));
        let o = m.opts();
        prop_assert_eq!(o.get(OptionCode::AddressLeaseTime), Some(&DhcpOption::AddressLeaseTime(lease)));
        prop_assert_eq!(o.get(OptionCode::Hostname), Some(&DhcpOption::Hostname(host.clone())));
        let want: Vec<Ipv4Addr> = dns.iter().map(|a| Ipv4Addr::from(*a)).collect();
        prop_assert_eq!(o.get(OptionCode::DomainNameServer), Some(&DhcpOption::DomainNameServer(want)));
        let prl_codes: Vec<OptionCode> = prl.iter().map(|&c| OptionCode::from(c)).collect();
        prop_assert_eq!(o.get(OptionCode::ParameterRequestList), Some(&DhcpOption::ParameterRequestList(prl_codes)));
        prop_assert_eq!(o.msg_type().map(u8::from), Some(mtype as u8));

        // And our own view reads back the same values.
        let v = Dhcp.decode(&d);
        prop_assert_eq!(get(&*v, "options.dns_servers"), Some(dns_v));
        prop_assert_eq!(get(&*v, "options.hostname"), Some(Value::Str(host)));
        prop_assert_eq!(get(&*v, "malformed"), None);
    }
}
