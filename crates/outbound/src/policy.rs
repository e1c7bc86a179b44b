//! The outbound policy: which URLs and addresses Overture may call, and why one is refused.

use crate::address::{classify, embedded_ipv4, AddressClass};
use crate::allow::AllowList;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use url::{Host, Url};

/// Where Overture may send HTTP requests (PSP APIs, merchant webhooks and verify-user).
///
/// - Schemes: `http` and `https` only; in production mode only `https`, unless the host is on
///   the allow-list (by name, or an IP literal inside an allowed block).
/// - Addresses: only globally reachable ones (see [`AddressClass`]); loopback is also allowed
///   outside production mode (the demo and tests run on 127.0.0.1). An address inside an
///   allowed block is always acceptable; a host name on the allow-list is not checked at all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutboundPolicy {
    /// Production mode: https only, loopback refused.
    pub production: bool,
    /// The operator's exceptions (`OVERTURE_OUTBOUND_ALLOW`).
    pub allow: AllowList,
}

/// An address the policy refuses, with its class.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressRefused {
    pub addr: IpAddr,
    pub class: AddressClass,
}

impl fmt::Display for AddressRefused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} is a {} address", self.addr, self.class)?;
        if let IpAddr::V6(v6) = self.addr {
            if let Some((carried, form)) = embedded_ipv4(v6) {
                write!(f, " ({} form of {carried})", form.as_str())?;
            }
        }
        if self.class == AddressClass::Loopback {
            f.write_str(" (allowed only outside production mode)")?;
        }
        Ok(())
    }
}

/// Why a URL may not be called. Each case has a stable [`Refused::code`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// Not an absolute URL.
    #[error("not an absolute URL ({0})")]
    InvalidUrl(String),
    /// A scheme other than `http` / `https`.
    #[error("scheme {0:?} is not allowed (only http and https)")]
    Scheme(String),
    /// No host. Defensive: the `url` crate gives every `http`/`https` URL a host.
    #[error("the URL has no host")]
    NoHost,
    /// Plain `http` in production mode to a host not on the allow-list.
    #[error("plain http to {0} in production mode (use https, or put the host on the outbound allow-list)")]
    PlainHttp(String),
    /// An IP literal (after normalisation) of a refused class.
    #[error("{0}")]
    Address(AddressRefused),
    /// A host name whose every resolved address is refused.
    #[error("every address of {host} is refused: {}", join(refused))]
    HostAddresses {
        host: String,
        refused: Vec<AddressRefused>,
    },
}

fn join(refused: &[AddressRefused]) -> String {
    refused
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

impl Refused {
    /// Stable code for this refusal.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidUrl(_) => "OUTBOUND_INVALID_URL",
            Self::Scheme(_) => "OUTBOUND_SCHEME",
            Self::NoHost => "OUTBOUND_NO_HOST",
            Self::PlainHttp(_) => "OUTBOUND_PLAIN_HTTP",
            Self::Address(_) => "OUTBOUND_ADDRESS",
            Self::HostAddresses { .. } => "OUTBOUND_HOST_ADDRESSES",
        }
    }
}

/// The outcome of checking a URL when it is saved ([`OutboundPolicy::check_saved_url`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SavedUrl {
    /// Acceptable: an allowed literal or name, or a name with at least one acceptable address.
    Accepted,
    /// The host name does not resolve from here; it will be checked at every connection.
    Unresolved { host: String, error: String },
}

impl OutboundPolicy {
    /// A policy; `production` enables https-only and refuses loopback.
    pub fn new(production: bool, allow: AllowList) -> Self {
        Self { production, allow }
    }

    /// Whether Overture may connect to `ip`: inside an allowed block, global, or loopback
    /// outside production mode. IPv4-mapped forms are judged as the IPv4 address.
    pub fn check_addr(&self, ip: IpAddr) -> Result<(), AddressRefused> {
        let carried = match ip {
            IpAddr::V6(v6) => embedded_ipv4(v6).map(|(v4, _)| IpAddr::V4(v4)),
            IpAddr::V4(_) => None,
        };
        if self.allow.allows_addr(ip) || carried.is_some_and(|c| self.allow.allows_addr(c)) {
            return Ok(());
        }
        match classify(ip) {
            AddressClass::Global => Ok(()),
            AddressClass::Loopback if !self.production => Ok(()),
            class => Err(AddressRefused { addr: ip, class }),
        }
    }

    /// Checks what can be known from the URL alone: the scheme, https in production mode, and
    /// the address when the host is an IP literal. The `url` crate has already normalised
    /// integer, octal and hex IPv4 forms (`http://2130706433/`, `http://0x7f.1/`,
    /// `http://0177.0.0.1/` are all 127.0.0.1). A host name is checked when it is resolved
    /// (`GuardedResolver`), since only then are its addresses known.
    pub fn check_url(&self, url: &Url) -> Result<(), Refused> {
        let scheme = url.scheme();
        if scheme != "http" && scheme != "https" {
            return Err(Refused::Scheme(scheme.to_owned()));
        }
        let host = url.host().ok_or(Refused::NoHost)?;
        if self.production && scheme == "http" && !self.host_allow_listed(&host) {
            return Err(Refused::PlainHttp(host.to_string()));
        }
        match host {
            Host::Domain(_) => Ok(()),
            Host::Ipv4(v4) => self.check_addr(IpAddr::V4(v4)).map_err(Refused::Address),
            Host::Ipv6(v6) => self.check_addr(IpAddr::V6(v6)).map_err(Refused::Address),
        }
    }

    /// True when `host` is on the allow-list: a listed name, or an IP literal in a listed block.
    pub fn host_allow_listed(&self, host: &Host<&str>) -> bool {
        match host {
            Host::Domain(name) => self.allow.allows_name(name),
            Host::Ipv4(v4) => self.allow.allows_addr(IpAddr::V4(*v4)),
            Host::Ipv6(v6) => self.allow.allows_addr(IpAddr::V6(*v6)),
        }
    }

    /// The addresses `host` resolved to that may be connected to, in their order. A name on
    /// the allow-list keeps them all. Err when addresses were given and every one is refused.
    pub fn filter_resolved(
        &self,
        host: &str,
        addrs: Vec<SocketAddr>,
    ) -> Result<Vec<SocketAddr>, Refused> {
        if self.allow.allows_name(host) {
            return Ok(addrs);
        }
        let mut kept = Vec::with_capacity(addrs.len());
        let mut refused = Vec::new();
        for addr in addrs {
            match self.check_addr(addr.ip()) {
                Ok(()) => kept.push(addr),
                Err(why) => refused.push(why),
            }
        }
        if kept.is_empty() && !refused.is_empty() {
            return Err(Refused::HostAddresses {
                host: host.to_owned(),
                refused,
            });
        }
        if !refused.is_empty() {
            tracing::warn!(host, refused = %join(&refused), "dropped refused addresses of an outbound host");
        }
        Ok(kept)
    }

    /// Checks a URL an operator is saving (company webhook / verify-user URL, PSP base URL):
    /// [`check_url`](Self::check_url), then, for a host name not on the allow-list, resolves it
    /// now and refuses it when every address is refused. A name that does not resolve here is
    /// accepted as [`SavedUrl::Unresolved`] (the caller warns): it is checked again at every
    /// connection.
    pub async fn check_saved_url(&self, raw: &str) -> Result<SavedUrl, Refused> {
        let url = Url::parse(raw).map_err(|e| Refused::InvalidUrl(e.to_string()))?;
        self.check_url(&url)?;
        let Some(Host::Domain(name)) = url.host() else {
            return Ok(SavedUrl::Accepted);
        };
        if self.allow.allows_name(name) {
            return Ok(SavedUrl::Accepted);
        }
        let port = url.port_or_known_default().unwrap_or(0);
        let resolved = tokio::net::lookup_host((name, port)).await;
        match resolved {
            Ok(addrs) => {
                self.filter_resolved(name, addrs.collect())?;
                Ok(SavedUrl::Accepted)
            }
            Err(e) => Ok(SavedUrl::Unresolved {
                host: name.to_owned(),
                error: e.to_string(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{OutboundPolicy, Refused, SavedUrl};
    use crate::address::AddressClass;
    use crate::allow::AllowList;
    use std::net::SocketAddr;
    use url::Url;

    fn policy(production: bool, allow: &str) -> OutboundPolicy {
        OutboundPolicy::new(production, allow.parse::<AllowList>().unwrap())
    }

    fn check(p: &OutboundPolicy, url: &str) -> Result<(), Refused> {
        p.check_url(&Url::parse(url).unwrap())
    }

    fn refused_class(p: &OutboundPolicy, url: &str) -> AddressClass {
        match check(p, url) {
            Err(Refused::Address(a)) => a.class,
            other => panic!("{url}: {other:?}"),
        }
    }

    /// Every spelling of 127.0.0.1 the `url` crate normalises, and the IPv6 forms carrying it.
    const LOOPBACK_FORMS: [&str; 9] = [
        "http://127.0.0.1/",
        "http://2130706433/",
        "http://0x7f.1/",
        "http://0x7f000001/",
        "http://0177.0.0.1/",
        "http://127.1/",
        "http://[::1]/",
        "http://[::ffff:7f00:1]/",
        "http://[::ffff:127.0.0.1]/",
    ];

    #[test]
    fn loopback_literals_are_refused_in_production_only() {
        let dev = policy(false, "");
        // Production refuses plain http first; https shows the address check itself.
        let prod = policy(true, "");
        for url in LOOPBACK_FORMS {
            assert_eq!(check(&dev, url), Ok(()), "{url}");
            assert_eq!(check(&prod, url).unwrap_err().code(), "OUTBOUND_PLAIN_HTTP");
            let https = url.replacen("http://", "https://", 1);
            assert_eq!(
                refused_class(&prod, &https),
                AddressClass::Loopback,
                "{url}"
            );
        }
    }

    #[test]
    fn internal_literals_are_refused_everywhere() {
        let cases = [
            (
                "http://169.254.169.254/latest/meta-data/",
                AddressClass::LinkLocal,
            ),
            ("http://2852039166/", AddressClass::LinkLocal),
            ("http://0xa9.0xfe.0xa9.0xfe/", AddressClass::LinkLocal),
            ("http://[fe80::1]/", AddressClass::LinkLocal),
            ("http://[::ffff:169.254.169.254]/", AddressClass::LinkLocal),
            ("http://10.0.0.1/", AddressClass::Private),
            ("http://012.0.0.1/", AddressClass::Private),
            ("http://172.16.0.1/", AddressClass::Private),
            ("http://192.168.0.1/", AddressClass::Private),
            ("http://[::ffff:192.168.0.1]/", AddressClass::Private),
            ("http://[fd00::1]/", AddressClass::UniqueLocal),
            ("http://100.64.0.1/", AddressClass::SharedCgnat),
            ("http://224.0.0.1/", AddressClass::Multicast),
            ("http://[ff02::1]/", AddressClass::Multicast),
            ("http://0.0.0.0/", AddressClass::Unspecified),
            ("http://0/", AddressClass::Unspecified),
            ("http://[::]/", AddressClass::Unspecified),
            ("http://255.255.255.255/", AddressClass::Broadcast),
            ("http://0.1.2.3/", AddressClass::ThisNetwork),
            ("http://198.18.0.1/", AddressClass::Benchmarking),
            ("http://240.0.0.1/", AddressClass::Reserved),
            ("http://[::10.0.0.1]/", AddressClass::Private),
            ("http://[64:ff9b::a9fe:a9fe]/", AddressClass::LinkLocal),
            ("http://[2002:a00:1::]/", AddressClass::Private),
        ];
        for production in [false, true] {
            let p = policy(production, "");
            for (url, class) in cases {
                let url = if production {
                    url.replacen("http://", "https://", 1)
                } else {
                    url.to_owned()
                };
                assert_eq!(refused_class(&p, &url), class, "{url}");
            }
        }
    }

    #[test]
    fn public_literals_and_names_pass() {
        for production in [false, true] {
            let p = policy(production, "");
            for url in [
                "https://8.8.8.8/",
                "https://[2606:4700:4700::1111]/",
                "https://[::ffff:8.8.8.8]/",
                "https://psp.example.com/api",
                "https://localhost/",
            ] {
                assert_eq!(check(&p, url), Ok(()), "{url}");
            }
        }
    }

    #[test]
    fn production_requires_https_unless_allow_listed() {
        let prod = policy(true, "");
        assert_eq!(
            check(&prod, "http://psp.example.com/"),
            Err(Refused::PlainHttp("psp.example.com".into()))
        );
        assert_eq!(check(&prod, "https://psp.example.com/"), Ok(()));
        assert_eq!(check(&policy(false, ""), "http://psp.example.com/"), Ok(()));
        let listed = policy(true, "pay.internal,*.psp.example.com,10.1.2.0/24");
        assert_eq!(check(&listed, "http://pay.internal:8080/"), Ok(()));
        assert_eq!(check(&listed, "http://api.psp.example.com/"), Ok(()));
        assert_eq!(check(&listed, "http://10.1.2.3/"), Ok(()));
        assert_eq!(
            check(&listed, "http://other.internal/").unwrap_err().code(),
            "OUTBOUND_PLAIN_HTTP"
        );
        assert_eq!(
            refused_class(&listed, "https://10.1.3.1/"),
            AddressClass::Private
        );
    }

    #[test]
    fn allow_listed_blocks_accept_their_addresses() {
        let p = policy(true, "127.0.0.1/32,10.1.2.0/24,fd00:1::/64");
        assert_eq!(check(&p, "http://127.0.0.1:9000/"), Ok(()));
        assert_eq!(check(&p, "http://2130706433/"), Ok(()));
        assert_eq!(check(&p, "http://[::ffff:127.0.0.1]/"), Ok(()));
        assert_eq!(check(&p, "https://10.1.2.3/"), Ok(()));
        assert_eq!(check(&p, "https://[fd00:1::7]/"), Ok(()));
        assert_eq!(
            refused_class(&p, "https://127.0.0.2/"),
            AddressClass::Loopback
        );
        assert_eq!(refused_class(&p, "https://[::1]/"), AddressClass::Loopback);
        assert_eq!(
            refused_class(&p, "https://[fd00:2::7]/"),
            AddressClass::UniqueLocal
        );
        let dev = policy(false, "10.0.0.0/8");
        assert_eq!(check(&dev, "http://10.9.9.9/"), Ok(()));
        assert_eq!(
            refused_class(&dev, "http://192.168.1.1/"),
            AddressClass::Private
        );
    }

    #[test]
    fn only_http_and_https() {
        let p = policy(false, "");
        for url in [
            "ftp://example.com/",
            "file:///etc/passwd",
            "gopher://x/",
            "ws://x/",
        ] {
            assert_eq!(
                check(&p, url).unwrap_err().code(),
                "OUTBOUND_SCHEME",
                "{url}"
            );
        }
    }

    #[test]
    fn refusal_messages_say_why() {
        let prod = policy(true, "");
        let err = check(&prod, "https://[::ffff:7f00:1]/").unwrap_err();
        assert_eq!(err.code(), "OUTBOUND_ADDRESS");
        assert_eq!(
            err.to_string(),
            "::ffff:127.0.0.1 is a loopback address (IPv4-mapped form of 127.0.0.1) \
             (allowed only outside production mode)"
        );
        let err = check(&prod, "https://169.254.169.254/").unwrap_err();
        assert_eq!(err.to_string(), "169.254.169.254 is a link-local address");
    }

    fn addrs(list: &[&str]) -> Vec<SocketAddr> {
        list.iter().map(|a| a.parse().unwrap()).collect()
    }

    #[test]
    fn resolved_addresses_are_filtered() {
        let prod = policy(true, "");
        let mixed = addrs(&["127.0.0.1:0", "8.8.8.8:0", "[::1]:0", "[2606:4700::1]:0"]);
        assert_eq!(
            prod.filter_resolved("mixed.example", mixed.clone())
                .unwrap(),
            addrs(&["8.8.8.8:0", "[2606:4700::1]:0"])
        );
        assert_eq!(
            policy(false, "")
                .filter_resolved("mixed.example", mixed.clone())
                .unwrap(),
            mixed
        );
        let internal = addrs(&["127.0.0.1:0", "10.0.0.1:0"]);
        let err = prod
            .filter_resolved("evil.example", internal.clone())
            .unwrap_err();
        assert_eq!(err.code(), "OUTBOUND_HOST_ADDRESSES");
        assert!(
            err.to_string()
                .starts_with("every address of evil.example is refused: 127.0.0.1 is a loopback"),
            "{err}"
        );
        // A listed name skips the address check; a listed block accepts its addresses.
        assert_eq!(
            policy(true, "Evil.Example")
                .filter_resolved("evil.example", internal.clone())
                .unwrap(),
            internal
        );
        assert_eq!(
            policy(true, "10.0.0.0/8")
                .filter_resolved("evil.example", internal)
                .unwrap(),
            addrs(&["10.0.0.1:0"])
        );
    }

    #[tokio::test]
    async fn saved_urls_are_resolved_when_possible() {
        let prod = policy(true, "");
        let err = prod
            .check_saved_url("https://localhost/hook")
            .await
            .unwrap_err();
        assert_eq!(err.code(), "OUTBOUND_HOST_ADDRESSES");
        assert_eq!(
            policy(false, "")
                .check_saved_url("http://localhost:9/hook")
                .await,
            Ok(SavedUrl::Accepted)
        );
        assert_eq!(
            policy(true, "localhost")
                .check_saved_url("http://localhost/hook")
                .await,
            Ok(SavedUrl::Accepted)
        );
        // `.invalid` never resolves (RFC 6761): accepted, to be checked at every connection.
        assert!(matches!(
            prod.check_saved_url("https://psp.invalid/api").await,
            Ok(SavedUrl::Unresolved { host, .. }) if host == "psp.invalid"
        ));
        assert_eq!(
            prod.check_saved_url("/relative").await.unwrap_err().code(),
            "OUTBOUND_INVALID_URL"
        );
        assert_eq!(
            policy(false, "")
                .check_saved_url("http://169.254.169.254/")
                .await
                .unwrap_err()
                .code(),
            "OUTBOUND_ADDRESS"
        );
    }
}
