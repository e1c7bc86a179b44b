//! A DNS resolver for reqwest that only hands out addresses the policy accepts. reqwest
//! connects to exactly the addresses its resolver returns, so the address that was checked is
//! the address connected to: a name that resolves to a public address when saved and to
//! 127.0.0.1 later (DNS rebinding) is refused at that later connection.

use crate::policy::OutboundPolicy;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::io;
use std::sync::Arc;

/// Resolves with the system resolver (`tokio::net::lookup_host`), drops refused addresses and
/// fails the connection with [`crate::Refused::HostAddresses`] when none is left. Host names on
/// the allow-list keep every address.
#[derive(Debug, Clone)]
pub struct GuardedResolver {
    policy: Arc<OutboundPolicy>,
}

impl GuardedResolver {
    /// A resolver enforcing `policy`.
    pub fn new(policy: Arc<OutboundPolicy>) -> Self {
        Self { policy }
    }
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            // Port 0: reqwest puts the URL's port in afterwards.
            let found: Vec<_> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if found.is_empty() {
                let err = io::Error::new(io::ErrorKind::NotFound, format!("{host}: no addresses"));
                return Err(err.into());
            }
            let kept = policy.filter_resolved(&host, found)?;
            let addrs: Addrs = Box::new(kept.into_iter());
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::GuardedResolver;
    use crate::allow::AllowList;
    use crate::policy::{OutboundPolicy, Refused};
    use reqwest::dns::{Name, Resolve};
    use std::net::IpAddr;
    use std::str::FromStr;
    use std::sync::Arc;

    async fn resolve(production: bool, allow: &str, host: &str) -> Result<Vec<IpAddr>, String> {
        let policy = OutboundPolicy::new(production, allow.parse::<AllowList>().unwrap());
        let resolver = GuardedResolver::new(Arc::new(policy));
        match resolver.resolve(Name::from_str(host).unwrap()).await {
            Ok(addrs) => Ok(addrs.map(|a| a.ip()).collect()),
            Err(e) => match e.downcast_ref::<Refused>() {
                Some(refused) => Err(refused.code().to_owned()),
                None => Err(format!("other: {e}")),
            },
        }
    }

    #[tokio::test]
    async fn localhost_is_refused_in_production_only() {
        assert_eq!(
            resolve(true, "", "localhost").await,
            Err("OUTBOUND_HOST_ADDRESSES".into())
        );
        let dev = resolve(false, "", "localhost").await.unwrap();
        assert!(
            !dev.is_empty() && dev.iter().all(IpAddr::is_loopback),
            "{dev:?}"
        );
    }

    #[tokio::test]
    async fn allow_list_lets_names_and_blocks_through() {
        let by_name = resolve(true, "localhost", "localhost").await.unwrap();
        assert!(by_name.iter().all(IpAddr::is_loopback) && !by_name.is_empty());
        // Only the allowed block's addresses are handed out (::1 is dropped if present).
        let by_block = resolve(true, "127.0.0.0/8", "localhost").await.unwrap();
        assert!(!by_block.is_empty(), "{by_block:?}");
        assert!(
            by_block
                .iter()
                .all(|ip| matches!(ip, IpAddr::V4(v4) if v4.is_loopback())),
            "{by_block:?}"
        );
    }

    #[tokio::test]
    async fn unknown_names_fail_as_lookups() {
        let err = resolve(true, "", "no-such-host.invalid").await.unwrap_err();
        assert!(err.starts_with("other:"), "{err}");
    }
}
