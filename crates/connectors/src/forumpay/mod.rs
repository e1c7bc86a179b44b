//! FORUMPAY connector (placeholder until implemented).

use crate::http::PspHttp;
use async_trait::async_trait;
use overture_core::connector::*;

/// FORUMPAY connector.
pub struct ForumPay {
    #[allow(dead_code)]
    http: PspHttp,
    caps: Capabilities,
}

impl ForumPay {
    pub fn new(http: PspHttp) -> Self {
        Self {
            http,
            caps: Capabilities {
                psp_type: "FORUMPAY",
                display_name: "ForumPay",
                payin: false,
                payout: false,
                currencies: &[],
                countries: &[],
                payin_fields: &[],
                payout_fields: &[],
                async_model: "",
                credential_fields: &[],
                poll_schedule: PollSchedule::PAYNETEASY,
            },
        }
    }
}

#[async_trait]
impl Connector for ForumPay {
    fn capabilities(&self) -> &Capabilities {
        &self.caps
    }
    async fn start_payin(
        &self,
        _: &AccountContext,
        _: &PaymentRequest,
    ) -> Result<PayinStarted, ConnectorError> {
        Err(ConnectorError::Unsupported("not implemented".into()))
    }
    async fn submit_payout(
        &self,
        _: &AccountContext,
        _: &PaymentRequest,
    ) -> Result<PspUpdate, ConnectorError> {
        Err(ConnectorError::Unsupported("not implemented".into()))
    }
    async fn sync(&self, _: &AccountContext, _: &OrderRef) -> Result<PspUpdate, ConnectorError> {
        Err(ConnectorError::Unsupported("not implemented".into()))
    }
    fn parse_callback(
        &self,
        _: &AccountContext,
        _: &CallbackRequest,
    ) -> Result<CallbackOutcome, ConnectorError> {
        Err(ConnectorError::Unsupported("not implemented".into()))
    }
}
