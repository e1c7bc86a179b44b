//! The client address of a request, as an extractor ([`ClientAddr`]) so a handler that needs it
//! cannot read a spoofable header by mistake.
//!
//! The address is the TCP peer, unless the peer is a trusted reverse proxy
//! (`OVERTURE_TRUSTED_PROXIES`). Then `X-Forwarded-For` is read from the right: each proxy
//! appends the address it received the request from, so entries right of the first untrusted
//! one were written by our own proxies, and everything left of it was sent by the client and
//! proves nothing. The answer is the right-most entry that is not itself a trusted proxy (the
//! left-most entry when all are trusted). A malformed entry reached before that answer makes the
//! header worthless, and the peer is used. This is the rule of MDN's `X-Forwarded-For` page
//! ("Selecting an IP address") and of nginx's `real_ip_recursive`.

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use ipnet::IpNet;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// The header reverse proxies append the client address to.
pub const FORWARDED_FOR: &str = "x-forwarded-for";

/// A `--trusted-proxies` entry that is neither a network (CIDR) nor an address.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{entry:?} is not an IP network (CIDR such as 10.0.0.0/8 or fd00::/8) or IP address")]
pub struct BadProxyEntry {
    pub entry: String,
}

/// The reverse proxies whose `X-Forwarded-For` is believed: a set of IP networks.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustedProxies(Arc<[IpNet]>);

impl TrustedProxies {
    /// Parses a comma-separated list of CIDRs or bare addresses (`"10.0.0.0/8, 192.0.2.7"`);
    /// an empty list trusts no proxy. Fails on the first bad entry, naming it.
    pub fn parse(text: &str) -> Result<Self, BadProxyEntry> {
        let nets = text
            .split(',')
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .map(|entry| {
                entry
                    .parse::<IpNet>()
                    .map(|n| n.trunc())
                    .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| BadProxyEntry {
                        entry: entry.to_owned(),
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self(nets.into()))
    }

    /// Whether `ip` is one of the trusted proxies.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|net| net.contains(&ip))
    }
}

/// One `X-Forwarded-For` entry: a bare address, or `address:port` as some proxies write it.
fn parse_hop(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    entry
        .parse::<IpAddr>()
        .or_else(|_| entry.parse::<SocketAddr>().map(|s| s.ip()))
        .ok()
        .map(|ip| ip.to_canonical())
}

/// The client address of a request from `peer` with `headers` (see the module docs).
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &TrustedProxies) -> IpAddr {
    let peer = peer.to_canonical();
    if !trusted.contains(peer) {
        return peer;
    }
    // Several header lines are one list, in order (RFC 9110 §5.3).
    let mut entries = Vec::new();
    for value in headers.get_all(FORWARDED_FOR) {
        let Ok(text) = value.to_str() else {
            return peer;
        };
        entries.extend(text.split(','));
    }
    let mut client = peer;
    for entry in entries.iter().rev() {
        let Some(hop) = parse_hop(entry) else {
            return peer;
        };
        if !trusted.contains(hop) {
            return hop;
        }
        client = hop;
    }
    client
}

/// The client address of the request (see the module docs). Needs the server to run with
/// `into_make_service_with_connect_info::<SocketAddr>()` and a [`TrustedProxies`] extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

/// The server was not set up to tell client addresses (a wiring bug, never the client's).
#[derive(Debug, thiserror::Error)]
#[error("client address unavailable: the server runs without connect info or trusted proxies")]
pub struct ClientAddrUnavailable;

impl IntoResponse for ClientAddrUnavailable {
    fn into_response(self) -> Response {
        tracing::error!(error = %self, "cannot tell the client address");
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            "Something went wrong; the details are in the server log.",
        )
            .into_response()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = ClientAddrUnavailable;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .ok_or(ClientAddrUnavailable)?
            .0
            .ip();
        let trusted = parts
            .extensions
            .get::<TrustedProxies>()
            .ok_or(ClientAddrUnavailable)?;
        Ok(Self(client_ip(peer, &parts.headers, trusted)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn forwarded(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(FORWARDED_FOR, v.parse().unwrap());
        }
        h
    }

    fn proxies() -> TrustedProxies {
        TrustedProxies::parse("10.0.0.0/8, 192.0.2.7").unwrap()
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_forwards() {
        let h = forwarded(&["198.51.100.1"]);
        assert_eq!(
            client_ip(ip("203.0.113.9"), &h, &proxies()),
            ip("203.0.113.9")
        );
        let none = TrustedProxies::default();
        assert_eq!(client_ip(ip("10.0.0.1"), &h, &none), ip("10.0.0.1"));
    }

    #[test]
    fn spoofed_left_entries_are_ignored() {
        // The client sent "1.1.1.1, 198.51.100.1"; our proxy appended the real peer.
        let h = forwarded(&["1.1.1.1, 198.51.100.1, 203.0.113.9"]);
        assert_eq!(client_ip(ip("10.1.2.3"), &h, &proxies()), ip("203.0.113.9"));
        // Behind two trusted proxies, split over two header lines.
        let h = forwarded(&["1.1.1.1, 203.0.113.9", "192.0.2.7"]);
        assert_eq!(client_ip(ip("10.1.2.3"), &h, &proxies()), ip("203.0.113.9"));
        // Garbage left of the answer does not matter.
        let h = forwarded(&["not-an-ip, 203.0.113.9:4711"]);
        assert_eq!(client_ip(ip("10.1.2.3"), &h, &proxies()), ip("203.0.113.9"));
    }

    #[test]
    fn a_malformed_or_missing_header_falls_back_to_the_peer() {
        let peer = ip("10.1.2.3");
        for values in [
            vec![],
            vec!["203.0.113.9, garbage"],
            vec!["203.0.113.9, "],
            vec!["unknown"],
        ] {
            let h = forwarded(&values);
            assert_eq!(client_ip(peer, &h, &proxies()), peer, "{values:?}");
        }
        let mut h = HeaderMap::new();
        h.append(
            FORWARDED_FOR,
            axum::http::HeaderValue::from_bytes(b"\xff203.0.113.9").unwrap(),
        );
        assert_eq!(client_ip(peer, &h, &proxies()), peer, "not text");
    }

    #[test]
    fn only_trusted_hops_give_the_left_most_and_addresses_are_canonical() {
        let h = forwarded(&["10.9.9.9, 192.0.2.7"]);
        assert_eq!(client_ip(ip("10.1.2.3"), &h, &proxies()), ip("10.9.9.9"));
        // An IPv4 peer seen on a dual-stack socket is still the IPv4 proxy.
        let h = forwarded(&["[2001:db8::5]:443"]);
        assert_eq!(
            client_ip(ip("::ffff:10.1.2.3"), &h, &proxies()),
            ip("2001:db8::5")
        );
        assert_eq!(
            client_ip(ip("::ffff:203.0.113.9"), &HeaderMap::new(), &proxies()),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn proxy_lists_parse_and_bad_entries_are_named() {
        let t = TrustedProxies::parse(" 127.0.0.1/32 ,fd00::/8,, 192.0.2.7 ").unwrap();
        assert!(t.contains(ip("127.0.0.1")) && !t.contains(ip("127.0.0.2")));
        assert!(t.contains(ip("fd12::1")) && t.contains(ip("192.0.2.7")));
        assert_eq!(
            TrustedProxies::parse("").unwrap(),
            TrustedProxies::default()
        );
        let err = TrustedProxies::parse("10.0.0.0/8, 10.0.0.300/8").unwrap_err();
        assert_eq!(err.entry, "10.0.0.300/8");
        assert!(err.to_string().contains("\"10.0.0.300/8\""), "{err}");
        assert!(TrustedProxies::parse("10.0.0.0/33").is_err());
    }
}
