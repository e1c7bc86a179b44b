//! CARDZO connector: Cardzo, a PaynetEasy white label, payouts **with bank confirmation**
//! (seed 004 "1.9. Payout with bank confirmation"; wire details in [`wire`]).
//!
//! Flow:
//! 1. `submit_payout` sends `POST {base}/paynet/api/v4/payout-check/{endpoint_id}` (the payout
//!    fields, OAuth 1.0a RSA-SHA256 signed as PAYMENTSOFT's payout) and returns pending with the
//!    `paynet-order-id` and marker [`wire::marker::CHECK_SENT`]. No money moves yet.
//! 2. `sync` asks `/paynet/api/v2/status/{endpoint_id}`. While `order-stage` is
//!    `payout_check_validating` the payout stays pending. Once it is `payout_check_validated`,
//!    `sync` sends `POST {base}/paynet/api/v4/payout-pay/{endpoint_id}` (`client_orderid`,
//!    `orderid`, `login`; OAuth signed) and returns pending with marker
//!    [`wire::marker::PAY_SENT`].
//! 3. From then on statuses, callbacks (`control = sha1(status + orderid + client_orderid +
//!    merchant_control)`) and the conditional `redirect-to` form work exactly as PAYMENTSOFT.
//!
//! Crash safety (docs/ARCHITECTURE.md): payout-pay is what moves money, so the decision to send it
//! is taken from the PSP's recorded `order-stage`, not from Overture's marker. If Overture crashed
//! after payout-pay reached Cardzo but before the marker was stored, the status shows a stage
//! after validation and `sync` only reports it. A payout-pay that Cardzo refuses as already
//! received is never retried; the order's status is read again instead. A bank that never
//! validates ends the payout `failed` with the PSP's reason (`payout_check_failed`); if the
//! PSP never says so, Overture's poll deadline fails it, and as payout-pay was never sent no
//! money can move afterwards.

pub mod wire;

use crate::http::PspHttp;
use crate::paymentsoft::{
    check_order, classify_create, parse_signed_callback, query_status, CreateAnswer, Creds,
};
use async_trait::async_trait;
use overture_core::connector::*;
use overture_core::{Clock, OrderId, SystemClock, TxnType};
use std::sync::Arc;
use wire::Step;
use wire::{marker, payout_check_request, report, PayoutPayRequest};
use wire::{WireResponse, TYPE_ASYNC_RESPONSE, TYPE_ERROR, TYPE_VALIDATION_ERROR};

/// Capability row of CARDZO. Currencies are those Cardzo's payout endpoints are commonly
/// configured for; the account's endpoint decides in the end.
const CAPABILITIES: Capabilities = Capabilities {
    psp_type: "CARDZO",
    display_name: "Cardzo",
    payin: false,
    payout: true,
    currencies: &["EUR", "USD", "GBP", "CAD", "PLN", "CZK"],
    countries: &[],
    payin_fields: &[],
    payout_fields: &[],
    async_model: "payout-check ⇒ bank confirmation (order-stage polling) ⇒ payout-pay; \
                  signed callback (control=sha1) + /api/v2/status polling",
    credential_fields: &[
        "login",
        "merchant_control",
        "endpoint_id",
        "oauth_private_key",
    ],
    poll_schedule: PollSchedule::PAYNETEASY,
    secret_fields: &[],
    final_by_callback: false,
};

/// The CARDZO connector (PaynetEasy v4 payout-check / payout-pay).
pub struct Cardzo {
    http: PspHttp,
    clock: Arc<dyn Clock>,
    caps: Capabilities,
}

/// The PSP's name in messages.
const PSP: &str = "CARDZO";

/// What a status query found.
enum Found {
    /// A `status-response`.
    Order(WireResponse),
    /// The PSP does not know the order; the text is its message.
    NotFound(String),
}

impl Cardzo {
    /// A connector using `http` for every PSP call and the wall clock for OAuth timestamps.
    pub fn new(http: PspHttp) -> Self {
        Self::with_clock(http, Arc::new(SystemClock))
    }

    /// A connector whose OAuth timestamps come from `clock`.
    pub fn with_clock(http: PspHttp, clock: Arc<dyn Clock>) -> Self {
        Self {
            http,
            clock,
            caps: CAPABILITIES,
        }
    }

    /// `POST {base}{path}/{endpoint_id}` with `pairs` as the form body, OAuth 1.0a RSA-SHA256
    /// signed (consumer key = `login`), and the answer parsed.
    async fn signed_post(
        &self,
        account: &AccountContext,
        path: &str,
        pairs: &[(String, String)],
    ) -> Result<WireResponse, ConnectorError> {
        let clock = self.clock.as_ref();
        crate::paymentsoft::signed_post(PSP, &self.http, clock, account, path, path, pairs).await
    }

    /// `/api/v2/status` for `transaction_id` (and `paynet-order-id` when known).
    async fn status(
        &self,
        account: &AccountContext,
        transaction_id: &OrderId,
        paynet_order_id: Option<&str>,
    ) -> Result<Found, ConnectorError> {
        let answer =
            query_status(PSP, &self.http, account, transaction_id, paynet_order_id).await?;
        match answer.kind() {
            wire::TYPE_STATUS_RESPONSE => Ok(Found::Order(answer)),
            TYPE_VALIDATION_ERROR | TYPE_ERROR
                if answer.get("error-code") == Some(wire::CODE_ORDER_NOT_FOUND) =>
            {
                Ok(Found::NotFound(answer.error_text()))
            }
            // A status request carries only credentials and ids: a refusal means the account
            // is misconfigured (wrong login or merchant_control).
            TYPE_VALIDATION_ERROR => Err(ConnectorError::Config(format!(
                "CARDZO refused the status request: {}",
                answer.error_text()
            ))),
            other => Err(ConnectorError::Protocol(format!(
                "CARDZO status answer type {other:?}: {}",
                answer.error_text()
            ))),
        }
    }

    /// `/api/v4/payout-check` alone (what [`Connector::submit_payout`] sends), returning the
    /// PSP's raw answer; public so crash-recovery tests and tooling can create an order
    /// without Overture recording anything.
    pub async fn payout_check(
        &self,
        account: &AccountContext,
        request: &PaymentRequest,
    ) -> Result<WireResponse, ConnectorError> {
        let pairs = payout_check_request(account, request).to_pairs();
        let answer = self
            .signed_post(account, wire::PAYOUT_CHECK_PATH, &pairs)
            .await?;
        check_order(PSP, &answer, &request.order_id)?;
        Ok(answer)
    }

    /// Sends payout-pay for an order whose status answer showed `payout_check_validated`, and
    /// reports where the order stands. Never sends a second one within this call.
    async fn pay_step(
        &self,
        account: &AccountContext,
        order: &OrderRef,
        paynet_order_id: &str,
    ) -> Result<PspUpdate, ConnectorError> {
        let creds = Creds::of(account)?;
        let body = PayoutPayRequest {
            client_orderid: order.order_id.to_string(),
            orderid: paynet_order_id.to_owned(),
            login: creds.login.to_owned(),
        };
        let sent = self
            .signed_post(account, wire::PAYOUT_PAY_PATH, &body.to_pairs())
            .await;
        let refusal = match sent {
            Ok(answer) if answer.kind() == TYPE_ASYNC_RESPONSE => {
                check_order(PSP, &answer, &order.order_id)?;
                tracing::info!(transaction_id = %order.order_id, "CARDZO payout-pay accepted");
                return Ok(PspUpdate {
                    psp_transaction_id: Some(paynet_order_id.to_owned()),
                    stage: Some(marker::PAY_SENT.to_owned()),
                    ..PspUpdate::new(PspOutcome::Pending, wire::status::PROCESSING)
                });
            }
            Ok(answer) if matches!(answer.kind(), TYPE_VALIDATION_ERROR | TYPE_ERROR) => {
                answer.error_text()
            }
            Ok(answer) => {
                return Err(ConnectorError::Protocol(format!(
                    "unexpected payout-pay answer type {:?}",
                    answer.kind()
                )))
            }
            // Certainly not sent (credentials, connection refused): nothing happened at the
            // PSP; the poller retries and the PSP's stage still says validated.
            Err(e) if e.certainly_not_processed() => return Err(e),
            // Timeout, 5xx, unreadable answer: the payout-pay may have arrived. The marker is
            // left as it was, so the next sync decides from the PSP's stage: validated means it
            // never arrived (sending it then is the first execution), later means it did.
            Err(e) => {
                tracing::warn!(transaction_id = %order.order_id, error = %e,
                    "CARDZO payout-pay outcome unknown; the next status query decides");
                return Ok(PspUpdate {
                    psp_transaction_id: Some(paynet_order_id.to_owned()),
                    message: Some(format!("payout-pay outcome unknown: {e}")),
                    ..PspUpdate::new(PspOutcome::Pending, wire::status::PROCESSING)
                });
            }
        };
        // Refused: typically a concurrent sync's payout-pay got there first. Read the status
        // again and report it, without acting on it.
        tracing::warn!(transaction_id = %order.order_id, %refusal,
            "CARDZO refused payout-pay; reporting the order's status instead");
        let mut update = match self
            .status(account, &order.order_id, Some(paynet_order_id))
            .await?
        {
            Found::Order(answer) => report(&answer, order)?,
            Found::NotFound(message) => PspUpdate {
                message: Some(message),
                ..PspUpdate::new(PspOutcome::NotFound, "not-found")
            },
        };
        if update.outcome == PspOutcome::Pending && update.message.is_none() {
            update.message = Some(format!("payout-pay refused: {refusal}"));
        }
        Ok(update)
    }
}

#[async_trait]
impl Connector for Cardzo {
    fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    fn validate_credentials(
        &self,
        credentials: &overture_core::Credentials,
    ) -> Result<(), FieldError> {
        crate::paymentsoft::oauth::validate_credentials(&self.caps, credentials)
    }

    async fn start_payin(
        &self,
        _account: &AccountContext,
        _request: &PaymentRequest,
    ) -> Result<PayinStarted, ConnectorError> {
        Err(ConnectorError::Unsupported(
            "CARDZO offers payouts only".into(),
        ))
    }

    /// payout-check only; payout-pay follows in [`Connector::sync`] once the bank validated.
    async fn submit_payout(
        &self,
        account: &AccountContext,
        request: &PaymentRequest,
    ) -> Result<PspUpdate, ConnectorError> {
        if request.txn_type != TxnType::Payout {
            return Err(ConnectorError::Unsupported(
                "CARDZO submit_payout needs a PAYOUT".into(),
            ));
        }
        let answer = self.payout_check(account, request).await?;
        let update = match classify_create(PSP, "payout-check", &answer, request)? {
            CreateAnswer::Accepted(id) => PspUpdate {
                psp_transaction_id: Some(id),
                stage: Some(marker::CHECK_SENT.to_owned()),
                ..PspUpdate::new(PspOutcome::Pending, wire::status::PROCESSING)
            },
            CreateAnswer::Duplicate(order) => return self.sync(account, &order).await,
            CreateAnswer::Refused(update) => update,
        };
        tracing::info!(transaction_id = %request.order_id, outcome = ?update.outcome,
            "CARDZO payout-check submitted");
        Ok(update)
    }

    /// Status query; sends payout-pay when the PSP's `order-stage` is
    /// `payout_check_validated` and Overture recorded none (see [`wire::next_step`]).
    async fn sync(
        &self,
        account: &AccountContext,
        order: &OrderRef,
    ) -> Result<PspUpdate, ConnectorError> {
        let answer = match self
            .status(
                account,
                &order.order_id,
                order.psp_transaction_id.as_deref(),
            )
            .await?
        {
            Found::Order(answer) => answer,
            Found::NotFound(message) => {
                return Ok(PspUpdate {
                    message: Some(message),
                    ..PspUpdate::new(PspOutcome::NotFound, "not-found")
                })
            }
        };
        let update = report(&answer, order)?;
        let step = wire::next_step(
            update.outcome,
            answer.get("order-stage"),
            order.stage.as_deref(),
        );
        tracing::debug!(transaction_id = %order.order_id, ?step, "CARDZO status");
        match step {
            Step::SendPay => {
                let Some(paynet_order_id) = update.psp_transaction_id.clone() else {
                    return Err(ConnectorError::Protocol(
                        "validated order without paynet-order-id".into(),
                    ));
                };
                self.pay_step(account, order, &paynet_order_id).await
            }
            Step::AwaitBank => Ok(PspUpdate {
                stage: Some(marker::CHECK_SENT.to_owned()),
                ..update
            }),
            Step::PayNotYetVisible => {
                tracing::warn!(transaction_id = %order.order_id,
                    "CARDZO still shows the order validated after an accepted payout-pay; waiting");
                Ok(update)
            }
            Step::Final | Step::CheckFailed | Step::AfterPay | Step::Unknown => Ok(update),
        }
    }

    /// Same callback as PAYMENTSOFT: HTTP GET (or a form POST) with
    /// `control = sha1(status + orderid + client_orderid + merchant_control)`; a bad or
    /// missing `control` ⇒ [`CallbackOutcome::Unverified`].
    fn parse_callback(
        &self,
        account: &AccountContext,
        request: &CallbackRequest,
    ) -> Result<CallbackOutcome, ConnectorError> {
        parse_signed_callback(PSP, account, request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::OutboundPolicy;
    use overture_core::{Credentials, PspAccountId};
    use secrecy::SecretString;
    use std::collections::BTreeMap;
    use std::time::Duration;

    const TXN: &str = "txn_0190f0e0a1b2c3d4e5f60718293a4b5c";
    const KEY: &str = "SANDBOX-CONTROL";
    /// `control` = sha1("approved" + "1234567" + TXN + KEY), pinned in paymentsoft/wire.rs.
    const GOOD: &str = "91f65352be959da107ead8aa13e95660eaf14874";

    fn account() -> AccountContext {
        AccountContext {
            account_id: PspAccountId::generate(),
            base_url: "http://127.0.0.1:9".into(),
            credentials: Credentials(BTreeMap::from([(
                "merchant_control".to_owned(),
                SecretString::from(KEY),
            )])),
            callback_url: "http://127.0.0.1:9/cb".into(),
        }
    }

    fn callback(query: &str) -> Result<CallbackOutcome, ConnectorError> {
        Cardzo::new(PspHttp::new(
            Duration::from_secs(1),
            OutboundPolicy::default(),
        ))
        .parse_callback(
            &account(),
            &CallbackRequest {
                method: "GET".into(),
                query: query.into(),
                headers: Vec::new(),
                body: Vec::new(),
            },
        )
    }

    #[test]
    fn callbacks_verify_like_paymentsoft() {
        let good = format!("status=approved&orderid=1234567&client_orderid={TXN}&control={GOOD}");
        assert!(matches!(
            callback(&good),
            Ok(CallbackOutcome::Verified { update, .. }) if update.outcome == PspOutcome::Approved
        ));
        let forged = good.replace("approved", "declined");
        assert!(matches!(
            callback(&forged),
            Ok(CallbackOutcome::Unverified { .. })
        ));
        assert!(matches!(
            callback("status=approved"),
            Err(ConnectorError::BadCallback(_))
        ));
    }
}
