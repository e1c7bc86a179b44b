//! The operator's outbound allow-list (`OVERTURE_OUTBOUND_ALLOW`): comma-separated entries,
//! each one of
//!
//! - a CIDR block, IPv4 or IPv6 (`10.1.2.0/24`, `fd00:1::/64`), or a single address
//!   (`10.1.2.3`, `::1`), which makes those addresses acceptable however they are reached;
//! - a host name (`pay.internal`), matched exactly and case-insensitively (a trailing dot is
//!   ignored), whose addresses are then not checked at all;
//! - a wildcard `*.suffix` (`*.pay.internal`), matching every name that ends in `.suffix`
//!   (any depth) but not `suffix` itself; list both to allow both.
//!
//! An allow-listed host (by name, or an IP literal inside an allowed block) may also be called
//! over plain `http` in production mode. Blank entries are ignored; any other entry that is
//! none of the above is an error naming it.

use ipnet::IpNet;
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// A bad allow-list entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("outbound allow-list entry {entry:?}: {why}")]
pub struct AllowListError {
    /// The entry as written.
    pub entry: String,
    /// What is wrong with it.
    pub why: &'static str,
}

impl AllowListError {
    /// Stable code for this error.
    pub fn code(&self) -> &'static str {
        "OUTBOUND_ALLOW_LIST_INVALID"
    }
}

/// A host-name entry.
#[derive(Debug, Clone, PartialEq, Eq)]
enum NameRule {
    /// Exact name, lower case, no trailing dot.
    Exact(String),
    /// `*.suffix`: holds `.suffix`, lower case.
    Suffix(String),
}

/// The parsed allow-list; empty by default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowList {
    nets: Vec<IpNet>,
    names: Vec<NameRule>,
}

impl AllowList {
    /// True when nothing is allowed beyond the default policy.
    pub fn is_empty(&self) -> bool {
        self.nets.is_empty() && self.names.is_empty()
    }

    /// True when `ip` lies in an allowed block. IPv4-mapped IPv6 addresses match IPv4 blocks.
    pub fn allows_addr(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.nets.iter().any(|net| net.contains(&ip))
    }

    /// True when the host name `name` is allowed (exactly, or by a `*.suffix` entry).
    pub fn allows_name(&self, name: &str) -> bool {
        let name = normalise_name(name);
        self.names.iter().any(|rule| match rule {
            NameRule::Exact(exact) => *exact == name,
            NameRule::Suffix(suffix) => name.len() > suffix.len() && name.ends_with(suffix),
        })
    }

    fn push(&mut self, entry: &str) -> Result<(), AllowListError> {
        let fail = |why| AllowListError {
            entry: entry.to_owned(),
            why,
        };
        if let Ok(net) = entry.parse::<IpNet>() {
            self.nets.push(net.trunc());
        } else if let Ok(ip) = entry.parse::<IpAddr>() {
            self.nets.push(IpNet::from(ip));
        } else if entry.contains('/') {
            return Err(fail("not a valid CIDR block"));
        } else if let Some(suffix) = entry.strip_prefix("*.") {
            let suffix = normalise_name(suffix);
            check_name(&suffix).map_err(fail)?;
            self.names.push(NameRule::Suffix(format!(".{suffix}")));
        } else {
            let name = normalise_name(entry);
            check_name(&name).map_err(fail)?;
            self.names.push(NameRule::Exact(name));
        }
        Ok(())
    }
}

/// Lower case, without a trailing dot.
fn normalise_name(name: &str) -> String {
    name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase()
}

/// A DNS host name: dot-separated labels of ASCII letters, digits and inner hyphens, at most
/// 63 bytes each; the last label is not all digits (URL parsers read such hosts as IPv4
/// numbers, e.g. `2130706433` is 127.0.0.1, so an entry like that would never match a name).
fn check_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() || name.len() > 253 {
        return Err("not a host name, CIDR block or IP address");
    }
    for label in name.split('.') {
        let valid = !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if !valid {
            return Err("not a host name, CIDR block or IP address");
        }
    }
    let last = name.rsplit('.').next().unwrap_or(name);
    if last.bytes().all(|b| b.is_ascii_digit()) {
        return Err("looks like an IP address but is not one (write it as a.b.c.d or a CIDR)");
    }
    Ok(())
}

impl FromStr for AllowList {
    type Err = AllowListError;

    /// Parses comma-separated entries (see the module documentation).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut list = Self::default();
        for entry in s.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            list.push(entry)?;
        }
        Ok(list)
    }
}

impl fmt::Display for AllowList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let nets = self.nets.iter().map(ToString::to_string);
        let names = self.names.iter().map(|rule| match rule {
            NameRule::Exact(name) => name.clone(),
            NameRule::Suffix(suffix) => format!("*{suffix}"),
        });
        let all: Vec<String> = nets.chain(names).collect();
        f.write_str(&all.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::AllowList;
    use std::net::IpAddr;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn cidrs_and_addresses() {
        let list: AllowList = "10.1.2.0/24, fd00:1::/64,192.168.7.7,::1".parse().unwrap();
        assert!(list.allows_addr(ip("10.1.2.200")));
        assert!(!list.allows_addr(ip("10.1.3.1")));
        assert!(list.allows_addr(ip("fd00:1::5")));
        assert!(!list.allows_addr(ip("fd00:2::5")));
        assert!(list.allows_addr(ip("192.168.7.7")));
        assert!(!list.allows_addr(ip("192.168.7.8")));
        assert!(list.allows_addr(ip("::1")));
        // The IPv4-mapped form of an allowed IPv4 address is the same address.
        assert!(list.allows_addr(ip("::ffff:10.1.2.3")));
        assert_eq!(
            list.to_string(),
            "10.1.2.0/24,fd00:1::/64,192.168.7.7/32,::1/128"
        );
    }

    #[test]
    fn host_bits_in_a_block_are_ignored() {
        let list: AllowList = "10.1.2.99/24".parse().unwrap();
        assert!(list.allows_addr(ip("10.1.2.1")));
    }

    #[test]
    fn names_exact_and_wildcard() {
        let list: AllowList = "Pay.Internal,*.psp.example.".parse().unwrap();
        assert!(list.allows_name("pay.internal"));
        assert!(list.allows_name("PAY.INTERNAL."));
        assert!(!list.allows_name("api.pay.internal"));
        assert!(!list.allows_name("pay.internal.evil.com"));
        assert!(list.allows_name("api.psp.example"));
        assert!(list.allows_name("a.b.psp.example"));
        assert!(!list.allows_name("psp.example"));
        assert!(!list.allows_name("evilpsp.example"));
        assert!(!list.allows_addr(ip("10.0.0.1")));
    }

    #[test]
    fn empty_and_blank_entries() {
        let list: AllowList = " , ,".parse().unwrap();
        assert!(list.is_empty());
        assert!(!list.allows_name("localhost"));
        assert!("".parse::<AllowList>().unwrap().is_empty());
    }

    #[test]
    fn bad_entries_are_named() {
        for bad in [
            "10.1.2.0/33",
            "10.1.2/24",
            "pay internal",
            "http://pay.internal",
            "*.",
            "*",
            "a..b",
            "-pay.internal",
            "2130706433",
            "10.1.2",
            "pay.internal:443",
        ] {
            let err = format!("ok.example,{bad}")
                .parse::<AllowList>()
                .unwrap_err();
            assert_eq!(err.entry, bad.trim());
            assert_eq!(err.code(), "OUTBOUND_ALLOW_LIST_INVALID");
            assert!(err.to_string().contains(bad.trim()), "{err}");
        }
    }
}
