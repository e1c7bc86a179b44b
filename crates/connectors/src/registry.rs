//! The connector registry: the only place that lists the PSPs. Adding a PSP is one line here.

use crate::http::PspHttp;
use overture_core::connector::{Capabilities, Connector};
use std::collections::BTreeMap;
use std::sync::Arc;

/// All connectors, by `pspType`.
#[derive(Clone)]
pub struct Registry {
    connectors: BTreeMap<&'static str, Arc<dyn Connector>>,
}

impl Registry {
    /// Every built-in connector, sharing one HTTP client.
    pub fn builtin(http: PspHttp) -> Self {
        let all: Vec<Arc<dyn Connector>> = vec![
            Arc::new(crate::paymentsoft::PaymentSoft::new(http.clone())),
            Arc::new(crate::forumpay::ForumPay::new(http.clone())),
            Arc::new(crate::gigadat::Gigadat::new(http.clone())),
            Arc::new(crate::brite::Brite::new(http.clone())),
            Arc::new(crate::cardzo::Cardzo::new(http.clone())),
            Arc::new(crate::payone::Payone::new(http.clone())),
            Arc::new(crate::trust::Trust::new(http.clone())),
            Arc::new(crate::worldpay_eu::WorldpayEu::new(http.clone())),
            Arc::new(crate::emerchantpay::Emerchantpay::new(http.clone())),
            Arc::new(crate::flexepin::Flexepin::new(http.clone())),
            Arc::new(crate::neosurf::Neosurf::new(http.clone())),
            Arc::new(crate::cleo::Cleo::new(http.clone())),
        ];
        Self {
            connectors: all
                .into_iter()
                .map(|c| (c.capabilities().psp_type, c))
                .collect(),
        }
    }

    /// The connector for a `pspType`, if Overture has one.
    pub fn get(&self, psp_type: &str) -> Option<&Arc<dyn Connector>> {
        self.connectors.get(psp_type)
    }

    /// The capability table, sorted by `pspType`.
    pub fn capabilities(&self) -> Vec<&Capabilities> {
        self.connectors.values().map(|c| c.capabilities()).collect()
    }
}
