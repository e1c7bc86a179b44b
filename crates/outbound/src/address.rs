//! What kind of address an IP is, for deciding whether Overture may connect to it.
//!
//! Sources: the IANA IPv4 and IPv6 Special-Purpose Address Registries (RFC 6890 and its
//! updates), RFC 1918 (private), RFC 6598 (shared CGNAT space), RFC 3927 / RFC 4291 (link-local),
//! RFC 4193 (unique-local), RFC 2544 / RFC 5180 (benchmarking), RFC 5737 / RFC 3849 / RFC 9637
//! (documentation), RFC 4291 §2.5.5 (IPv4-compatible and IPv4-mapped), RFC 6052 (NAT64
//! well-known prefix), RFC 3056 (6to4).
//!
//! Decisions beyond the list: 198.18.0.0/15 (benchmarking), 240.0.0.0/4 (reserved),
//! 192.0.0.0/24 (IETF protocol assignments), 192.88.99.0/24 (6to4 relay anycast, deprecated),
//! the documentation ranges, 2001::/23 (IETF protocol assignments, including Teredo) and every
//! IPv6 address outside 2000::/3 (the only block IANA allocates for global unicast) are refused.
//! IPv6 forms that carry an IPv4 address (IPv4-mapped `::ffff:a.b.c.d`, IPv4-compatible
//! `::a.b.c.d`, NAT64 `64:ff9b::a.b.c.d`, 6to4 `2002:AABB:CCDD::`) are classified as the IPv4
//! address they carry, because that is where a dual-stack socket, a NAT64 gateway or a 6to4
//! relay delivers the packets.

use ipnet::{Ipv4Net, Ipv6Net};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The kind of an IP address. Only [`AddressClass::Global`] is reachable by default;
/// [`AddressClass::Loopback`] also outside production mode (see `OutboundPolicy`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AddressClass {
    /// Globally reachable unicast.
    Global,
    /// 127.0.0.0/8, ::1.
    Loopback,
    /// RFC 1918: 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16.
    Private,
    /// 169.254.0.0/16 (cloud metadata services live here), fe80::/10.
    LinkLocal,
    /// fc00::/7, and the deprecated site-local fec0::/10.
    UniqueLocal,
    /// 100.64.0.0/10, carrier-grade NAT shared space (RFC 6598).
    SharedCgnat,
    /// 224.0.0.0/4, ff00::/8.
    Multicast,
    /// 0.0.0.0, :: (connecting to them reaches the local host on Linux).
    Unspecified,
    /// 255.255.255.255.
    Broadcast,
    /// 0.0.0.0/8 other than 0.0.0.0 ("this network").
    ThisNetwork,
    /// 198.18.0.0/15, 2001:2::/48 (RFC 2544 / RFC 5180 benchmarking).
    Benchmarking,
    /// 192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32, 3fff::/20.
    Documentation,
    /// Anything else special-purpose: 240.0.0.0/4, 192.0.0.0/24, 192.88.99.0/24, 2001::/23,
    /// 100::/64, 64:ff9b:1::/48, and IPv6 outside 2000::/3.
    Reserved,
}

impl AddressClass {
    /// A short lower-case name, used in refusal messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Global => "global",
            Self::Loopback => "loopback",
            Self::Private => "private (RFC 1918)",
            Self::LinkLocal => "link-local",
            Self::UniqueLocal => "unique-local",
            Self::SharedCgnat => "shared CGNAT (RFC 6598)",
            Self::Multicast => "multicast",
            Self::Unspecified => "unspecified",
            Self::Broadcast => "broadcast",
            Self::ThisNetwork => "this-network (0.0.0.0/8)",
            Self::Benchmarking => "benchmarking",
            Self::Documentation => "documentation",
            Self::Reserved => "reserved",
        }
    }
}

impl fmt::Display for AddressClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

const fn v4(a: u8, b: u8, c: u8, d: u8, len: u8) -> Ipv4Net {
    Ipv4Net::new_assert(Ipv4Addr::new(a, b, c, d), len)
}

#[allow(clippy::too_many_arguments)]
const fn v6(a: u16, b: u16, c: u16, d: u16, e: u16, f: u16, g: u16, h: u16, len: u8) -> Ipv6Net {
    Ipv6Net::new_assert(Ipv6Addr::new(a, b, c, d, e, f, g, h), len)
}

/// IPv4 special-purpose blocks, most specific first where they overlap.
const IPV4: &[(Ipv4Net, AddressClass)] = &[
    (v4(0, 0, 0, 0, 32), AddressClass::Unspecified),
    (v4(0, 0, 0, 0, 8), AddressClass::ThisNetwork),
    (v4(127, 0, 0, 0, 8), AddressClass::Loopback),
    (v4(10, 0, 0, 0, 8), AddressClass::Private),
    (v4(172, 16, 0, 0, 12), AddressClass::Private),
    (v4(192, 168, 0, 0, 16), AddressClass::Private),
    (v4(169, 254, 0, 0, 16), AddressClass::LinkLocal),
    (v4(100, 64, 0, 0, 10), AddressClass::SharedCgnat),
    (v4(224, 0, 0, 0, 4), AddressClass::Multicast),
    (v4(255, 255, 255, 255, 32), AddressClass::Broadcast),
    (v4(240, 0, 0, 0, 4), AddressClass::Reserved),
    (v4(198, 18, 0, 0, 15), AddressClass::Benchmarking),
    (v4(192, 0, 2, 0, 24), AddressClass::Documentation),
    (v4(198, 51, 100, 0, 24), AddressClass::Documentation),
    (v4(203, 0, 113, 0, 24), AddressClass::Documentation),
    (v4(192, 0, 0, 0, 24), AddressClass::Reserved),
    (v4(192, 88, 99, 0, 24), AddressClass::Reserved),
];

/// IPv6 special-purpose blocks that carry no IPv4 address, most specific first.
const IPV6: &[(Ipv6Net, AddressClass)] = &[
    (v6(0, 0, 0, 0, 0, 0, 0, 0, 128), AddressClass::Unspecified),
    (v6(0, 0, 0, 0, 0, 0, 0, 1, 128), AddressClass::Loopback),
    (v6(0xfe80, 0, 0, 0, 0, 0, 0, 0, 10), AddressClass::LinkLocal),
    (
        v6(0xfc00, 0, 0, 0, 0, 0, 0, 0, 7),
        AddressClass::UniqueLocal,
    ),
    (
        v6(0xfec0, 0, 0, 0, 0, 0, 0, 0, 10),
        AddressClass::UniqueLocal,
    ),
    (v6(0xff00, 0, 0, 0, 0, 0, 0, 0, 8), AddressClass::Multicast),
    (
        v6(0x2001, 2, 0, 0, 0, 0, 0, 0, 48),
        AddressClass::Benchmarking,
    ),
    (
        v6(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0, 32),
        AddressClass::Documentation,
    ),
    (
        v6(0x3fff, 0, 0, 0, 0, 0, 0, 0, 20),
        AddressClass::Documentation,
    ),
    (v6(0x2001, 0, 0, 0, 0, 0, 0, 0, 23), AddressClass::Reserved),
    (v6(0x0100, 0, 0, 0, 0, 0, 0, 0, 64), AddressClass::Reserved),
    (
        v6(0x64, 0xff9b, 1, 0, 0, 0, 0, 0, 48),
        AddressClass::Reserved,
    ),
];

/// IPv4-compatible `::a.b.c.d` (RFC 4291 §2.5.5.1, deprecated but still routed by some stacks).
const IPV4_COMPATIBLE: Ipv6Net = v6(0, 0, 0, 0, 0, 0, 0, 0, 96);
/// IPv4-mapped `::ffff:a.b.c.d` (RFC 4291 §2.5.5.2).
const IPV4_MAPPED: Ipv6Net = v6(0, 0, 0, 0, 0, 0xffff, 0, 0, 96);
/// NAT64 well-known prefix `64:ff9b::/96` (RFC 6052).
const NAT64: Ipv6Net = v6(0x64, 0xff9b, 0, 0, 0, 0, 0, 0, 96);
/// 6to4 `2002::/16`; the IPv4 address is in bits 16..48 (RFC 3056).
const SIX_TO_FOUR: Ipv6Net = v6(0x2002, 0, 0, 0, 0, 0, 0, 0, 16);
/// Global unicast `2000::/3`: everything IANA allocates to the public IPv6 internet.
const GLOBAL_UNICAST: Ipv6Net = v6(0x2000, 0, 0, 0, 0, 0, 0, 0, 3);

/// How an IPv6 address carries an IPv4 address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Embedding {
    /// `::ffff:a.b.c.d`.
    Ipv4Mapped,
    /// `::a.b.c.d`.
    Ipv4Compatible,
    /// `64:ff9b::a.b.c.d`.
    Nat64,
    /// `2002:AABB:CCDD::/48`.
    SixToFour,
}

impl Embedding {
    /// The form's usual name, for messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ipv4Mapped => "IPv4-mapped",
            Self::Ipv4Compatible => "IPv4-compatible",
            Self::Nat64 => "NAT64",
            Self::SixToFour => "6to4",
        }
    }
}

/// The IPv4 address an IPv6 address carries, and how; `None` for a plain IPv6 address.
/// `::` and `::1` are not IPv4-compatible forms (they are unspecified and loopback).
pub fn embedded_ipv4(ip: Ipv6Addr) -> Option<(Ipv4Addr, Embedding)> {
    let octets = ip.octets();
    let low = Ipv4Addr::new(octets[12], octets[13], octets[14], octets[15]);
    if IPV4_MAPPED.contains(&ip) {
        Some((low, Embedding::Ipv4Mapped))
    } else if NAT64.contains(&ip) {
        Some((low, Embedding::Nat64))
    } else if SIX_TO_FOUR.contains(&ip) {
        let carried = Ipv4Addr::new(octets[2], octets[3], octets[4], octets[5]);
        Some((carried, Embedding::SixToFour))
    } else if IPV4_COMPATIBLE.contains(&ip) && u128::from(ip) > 1 {
        Some((low, Embedding::Ipv4Compatible))
    } else {
        None
    }
}

/// The class of an IPv4 address.
pub fn classify_v4(ip: Ipv4Addr) -> AddressClass {
    IPV4.iter()
        .find(|(net, _)| net.contains(&ip))
        .map_or(AddressClass::Global, |(_, class)| *class)
}

/// The class of an IPv6 address; forms that carry an IPv4 address take that address's class.
pub fn classify_v6(ip: Ipv6Addr) -> AddressClass {
    if let Some((carried, _)) = embedded_ipv4(ip) {
        return classify_v4(carried);
    }
    if let Some((_, class)) = IPV6.iter().find(|(net, _)| net.contains(&ip)) {
        return *class;
    }
    if GLOBAL_UNICAST.contains(&ip) {
        AddressClass::Global
    } else {
        AddressClass::Reserved
    }
}

/// The class of an address.
pub fn classify(ip: IpAddr) -> AddressClass {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

#[cfg(test)]
mod tests {
    use super::{classify, embedded_ipv4, AddressClass, Embedding};
    use std::net::{IpAddr, Ipv4Addr};

    fn class(s: &str) -> AddressClass {
        classify(s.parse::<IpAddr>().unwrap())
    }

    #[test]
    fn ipv4_blocks() {
        let cases = [
            ("8.8.8.8", AddressClass::Global),
            ("1.1.1.1", AddressClass::Global),
            ("0.0.0.0", AddressClass::Unspecified),
            ("0.1.2.3", AddressClass::ThisNetwork),
            ("127.0.0.1", AddressClass::Loopback),
            ("127.255.255.254", AddressClass::Loopback),
            ("10.0.0.1", AddressClass::Private),
            ("172.16.0.1", AddressClass::Private),
            ("172.31.255.255", AddressClass::Private),
            ("172.32.0.1", AddressClass::Global),
            ("192.168.1.1", AddressClass::Private),
            ("169.254.169.254", AddressClass::LinkLocal),
            ("100.64.0.1", AddressClass::SharedCgnat),
            ("100.127.255.255", AddressClass::SharedCgnat),
            ("100.128.0.1", AddressClass::Global),
            ("224.0.0.1", AddressClass::Multicast),
            ("239.255.255.250", AddressClass::Multicast),
            ("255.255.255.255", AddressClass::Broadcast),
            ("240.0.0.1", AddressClass::Reserved),
            ("198.18.0.1", AddressClass::Benchmarking),
            ("198.19.255.255", AddressClass::Benchmarking),
            ("198.20.0.1", AddressClass::Global),
            ("192.0.2.1", AddressClass::Documentation),
            ("198.51.100.7", AddressClass::Documentation),
            ("203.0.113.9", AddressClass::Documentation),
            ("192.0.0.8", AddressClass::Reserved),
            ("192.88.99.1", AddressClass::Reserved),
        ];
        for (ip, want) in cases {
            assert_eq!(class(ip), want, "{ip}");
        }
    }

    #[test]
    fn ipv6_blocks() {
        let cases = [
            ("2606:4700:4700::1111", AddressClass::Global),
            ("::", AddressClass::Unspecified),
            ("::1", AddressClass::Loopback),
            ("fe80::1", AddressClass::LinkLocal),
            ("febf::1", AddressClass::LinkLocal),
            ("fc00::1", AddressClass::UniqueLocal),
            ("fd12:3456::1", AddressClass::UniqueLocal),
            ("fec0::1", AddressClass::UniqueLocal),
            ("ff02::1", AddressClass::Multicast),
            ("2001:2::1", AddressClass::Benchmarking),
            ("2001:db8::1", AddressClass::Documentation),
            ("3fff::1", AddressClass::Documentation),
            ("2001::1", AddressClass::Reserved),
            ("100::1", AddressClass::Reserved),
            ("64:ff9b:1::1", AddressClass::Reserved),
            ("4000::1", AddressClass::Reserved),
            ("::ffff:0:7f00:1", AddressClass::Reserved),
        ];
        for (ip, want) in cases {
            assert_eq!(class(ip), want, "{ip}");
        }
    }

    #[test]
    fn ipv6_forms_carrying_ipv4_take_its_class() {
        let cases = [
            ("::ffff:127.0.0.1", AddressClass::Loopback),
            ("::ffff:7f00:1", AddressClass::Loopback),
            ("::ffff:169.254.169.254", AddressClass::LinkLocal),
            ("::ffff:10.0.0.1", AddressClass::Private),
            ("::ffff:100.64.0.1", AddressClass::SharedCgnat),
            ("::ffff:0.0.0.0", AddressClass::Unspecified),
            ("::ffff:8.8.8.8", AddressClass::Global),
            ("::127.0.0.1", AddressClass::Loopback),
            ("::10.0.0.1", AddressClass::Private),
            ("::169.254.169.254", AddressClass::LinkLocal),
            ("::8.8.8.8", AddressClass::Global),
            ("64:ff9b::127.0.0.1", AddressClass::Loopback),
            ("64:ff9b::192.168.0.1", AddressClass::Private),
            ("64:ff9b::8.8.8.8", AddressClass::Global),
            ("2002:7f00:1::", AddressClass::Loopback),
            ("2002:a9fe:a9fe::1", AddressClass::LinkLocal),
            ("2002:c0a8:101::", AddressClass::Private),
            ("2002:808:808::1", AddressClass::Global),
        ];
        for (ip, want) in cases {
            assert_eq!(class(ip), want, "{ip}");
        }
    }

    #[test]
    fn embedding_is_reported() {
        let carried = |s: &str| match s.parse::<IpAddr>().unwrap() {
            IpAddr::V6(v6) => embedded_ipv4(v6),
            IpAddr::V4(_) => unreachable!(),
        };
        let loopback = Ipv4Addr::new(127, 0, 0, 1);
        assert_eq!(
            carried("::ffff:127.0.0.1"),
            Some((loopback, Embedding::Ipv4Mapped))
        );
        assert_eq!(
            carried("::127.0.0.1"),
            Some((loopback, Embedding::Ipv4Compatible))
        );
        assert_eq!(
            carried("64:ff9b::7f00:1"),
            Some((loopback, Embedding::Nat64))
        );
        assert_eq!(
            carried("2002:7f00:1::"),
            Some((loopback, Embedding::SixToFour))
        );
        assert_eq!(carried("::"), None);
        assert_eq!(carried("::1"), None);
        assert_eq!(carried("2606:4700::1"), None);
    }
}
