//! FORUMPAY connector: crypto pay-ins through ForumPay's hosted page and crypto payouts through
//! its Buy API (forumpay.com `payInfo.api`; wire details and sources in [`wire`]).
//!
//! - Pay-in: `StartPayment` ⇒ hosted page (`access_url`); the payer pays on-chain; ForumPay
//!   posts an unsigned webhook (never trusted, docs/ARCHITECTURE.md) and `CheckPayment` tells
//!   the status.
//! - Payout: `StartBuyOrder` (creates an unconfirmed order for `reference_no`) then
//!   `ConfirmBuyOrder` (executes it); `CheckBuyOrder` (inferred) tells the status, and `sync`
//!   performs a confirmation that a crash left undone.

pub mod wire;

use crate::http::PspHttp;
use async_trait::async_trait;
use overture_core::connector::*;
use overture_core::domain::TxnType;
use overture_core::ids::OrderId;
use secrecy::ExposeSecret;
use serde::de::DeserializeOwned;
use serde::Serialize;
use wire::{method, ApiError, Stage, StatusOut};

/// Polling cadence. ForumPay publishes none; this is our choice. The webhook is the prompt
/// signal and polling only its backstop, and a crypto payment needs the payer and network
/// confirmations (minutes), so: every 20–40 s for the first 15 minutes, then every 5–10
/// minutes, giving up after 2 hours (ForumPay invoices expire well before that). Every 5–10 s
/// was measured to cost hundreds of status calls a second with a few thousand open pay-ins
/// (docs/PERFORMANCE.md).
pub const POLL_SCHEDULE: PollSchedule = PollSchedule {
    fast: (20_000, 40_000),
    fast_window: 15 * 60_000,
    slow: (5 * 60_000, 10 * 60_000),
    give_up_after: 2 * 60 * 60_000,
};

const CAPABILITIES: Capabilities = Capabilities {
    psp_type: "FORUMPAY",
    display_name: "ForumPay",
    payin: true,
    payout: true,
    currencies: &["EUR", "USD", "GBP", "CAD"],
    countries: &[],
    // Mozarto requires the country for ForumPay pay-ins (psp-notes, "ForumPay config").
    payin_fields: &["country"],
    payout_fields: &["walletAddress", "preferredCrypto"],
    async_model: "unsigned webhook ⇒ CheckPayment / CheckBuyOrder; polling",
    credential_fields: &["username", "secret", "pos_id"],
    poll_schedule: POLL_SCHEDULE,
    secret_fields: &[],
    final_by_callback: false,
};

/// The FORUMPAY connector. Credentials: `username` and `secret` (API key pair, HTTP Basic
/// auth) and `pos_id` (the merchant's point-of-sale label, sent on every call).
pub struct ForumPay {
    http: PspHttp,
    caps: Capabilities,
}

impl ForumPay {
    /// A connector sending every call through `http` (errors classified there).
    pub fn new(http: PspHttp) -> Self {
        Self {
            http,
            caps: CAPABILITIES,
        }
    }

    /// `StartBuyOrder` alone: the first half of [`Connector::submit_payout`], public so that
    /// crash-recovery tests and tooling can stop between the two steps. `Ok(Err(_))` is
    /// ForumPay's `{"err": ...}` refusal.
    pub async fn start_buy_order(
        &self,
        account: &AccountContext,
        request: &PaymentRequest,
    ) -> Result<Result<StatusOut, ApiError>, ConnectorError> {
        let params = wire::StartBuyOrderIn {
            pos_id: pos_id(account)?,
            invoice_currency: request.amount.currency().code().to_owned(),
            invoice_amount: request.amount.to_major_string(),
            currency: required_extra(request, "preferredCrypto")?.to_ascii_uppercase(),
            address: required_extra(request, "walletAddress")?.to_owned(),
            payer_id: request.user_id.clone(),
            reference_no: request.order_id.to_string(),
            webhook_url: Some(account.callback_url.clone()),
        };
        self.call(account, method::START_BUY_ORDER, &params).await
    }

    /// `ConfirmBuyOrder`: executes buy order `payment_id` (paid in crypto `currency`). ForumPay
    /// executes an order once; confirming again returns its current state.
    pub async fn confirm_buy_order(
        &self,
        account: &AccountContext,
        currency: &str,
        payment_id: &str,
    ) -> Result<Result<StatusOut, ApiError>, ConnectorError> {
        let params = wire::ConfirmBuyOrderIn {
            pos_id: pos_id(account)?,
            currency: currency.to_owned(),
            payment_id: payment_id.to_owned(),
        };
        self.call(account, method::CONFIRM_BUY_ORDER, &params).await
    }

    /// One API call: `POST {base}/api/v2/<Method>/`, Basic auth, form body, JSON answer.
    async fn call<I: Serialize, T: DeserializeOwned>(
        &self,
        account: &AccountContext,
        api_method: &str,
        params: &I,
    ) -> Result<Result<T, ApiError>, ConnectorError> {
        let url = format!("{}{}/{}/", account.base_url, wire::API_PREFIX, api_method);
        let username = account.credential("username")?;
        let secret = account.credential("secret")?;
        // The auth header is built from the secrets at the last moment and never logged.
        let request = self
            .http
            .client()
            .post(url)
            .basic_auth(username.expose_secret(), Some(secret.expose_secret()))
            .form(params);
        let response = self.http.send(request).await?;
        tracing::debug!(
            method = api_method,
            status = response.status,
            "ForumPay answered"
        );
        wire::parse_answer(api_method, response.status, &response.body)
    }

    /// Confirms an order that exists unconfirmed. Any failure here leaves a created order
    /// behind, so it is reported as pending (not as an error that could close the payout):
    /// the poller's next `sync` sees `Created` again and retries the confirmation.
    async fn confirm_step(
        &self,
        account: &AccountContext,
        currency: &str,
        payment_id: &str,
        stage: Option<String>,
    ) -> PspUpdate {
        let failure = match self.confirm_buy_order(account, currency, payment_id).await {
            Ok(Ok(status)) => return update_from(&status, payment_id, stage),
            Ok(Err(refusal)) => format!("ConfirmBuyOrder refused: {}", refusal.err),
            Err(e) => format!("ConfirmBuyOrder failed: {e}"),
        };
        tracing::warn!(%failure, "ForumPay buy order left unconfirmed; sync will retry");
        let mut update = PspUpdate::new(PspOutcome::Pending, "Created");
        update.psp_transaction_id = Some(payment_id.to_owned());
        update.stage = stage;
        update.message = Some(failure);
        update
    }

    async fn sync_payin(
        &self,
        account: &AccountContext,
        order: &OrderRef,
    ) -> Result<PspUpdate, ConnectorError> {
        // Without a payment id the StartPayment answer was lost: the payer never got a page,
        // and CheckPayment cannot be asked without the id and address.
        let Some(payment_id) = order.psp_transaction_id.as_deref() else {
            return Ok(PspUpdate::new(PspOutcome::NotFound, "NotStarted"));
        };
        let stage = Stage::decode(order.stage.as_deref());
        let Some((currency, address)) = stage
            .as_ref()
            .and_then(|s| Some((s.currency.clone(), s.address.clone()?)))
        else {
            return Err(ConnectorError::Protocol(
                "ForumPay pay-in has no stored currency/address to query".into(),
            ));
        };
        let params = wire::CheckPaymentIn {
            pos_id: pos_id(account)?,
            currency,
            payment_id: payment_id.to_owned(),
            address,
        };
        let answer: Result<StatusOut, ApiError> =
            self.call(account, method::CHECK_PAYMENT, &params).await?;
        match answer {
            Ok(status) => {
                check_reference(&status, &order.order_id)?;
                Ok(update_from(&status, payment_id, None))
            }
            Err(refusal) if refusal.is_not_found() => {
                Ok(PspUpdate::new(PspOutcome::NotFound, "NotFound"))
            }
            Err(refusal) => Err(ConnectorError::Protocol(format!(
                "CheckPayment refused: {}",
                refusal.err
            ))),
        }
    }

    async fn sync_payout(
        &self,
        account: &AccountContext,
        order: &OrderRef,
    ) -> Result<PspUpdate, ConnectorError> {
        // The stage holds the crypto currency once submit_payout ran; after a crash before it
        // was stored, the request's own `preferredCrypto` is the same value.
        let currency = Stage::decode(order.stage.as_deref())
            .map(|s| s.currency)
            .or_else(|| {
                order
                    .extras
                    .get("preferredCrypto")
                    .map(|c| c.trim().to_ascii_uppercase())
            })
            .filter(|c| !c.is_empty())
            .ok_or_else(|| {
                ConnectorError::Protocol("ForumPay payout has no crypto currency".into())
            })?;
        let params = wire::CheckBuyOrderIn {
            pos_id: pos_id(account)?,
            currency: currency.clone(),
            payment_id: order.psp_transaction_id.clone(),
            reference_no: order.order_id.to_string(),
        };
        let answer: Result<StatusOut, ApiError> =
            self.call(account, method::CHECK_BUY_ORDER, &params).await?;
        let status = match answer {
            Ok(status) => status,
            Err(refusal) if refusal.is_not_found() => {
                return Ok(PspUpdate::new(PspOutcome::NotFound, "NotFound"));
            }
            Err(refusal) => {
                return Err(ConnectorError::Protocol(format!(
                    "CheckBuyOrder refused: {}",
                    refusal.err
                )));
            }
        };
        check_reference(&status, &order.order_id)?;
        let payment_id = status
            .payment_id
            .clone()
            .or_else(|| order.psp_transaction_id.clone())
            .ok_or_else(|| ConnectorError::Protocol("CheckBuyOrder gave no payment_id".into()))?;
        let stage = Some(
            Stage {
                currency: currency.clone(),
                address: None,
            }
            .encode()?,
        );
        if status.is_unconfirmed_buy_order() {
            // StartBuyOrder happened, ConfirmBuyOrder did not (a crash in between, or a
            // failed confirmation): perform the next step, once, as the PSP's state says.
            return Ok(self
                .confirm_step(account, &currency, &payment_id, stage)
                .await);
        }
        Ok(update_from(&status, &payment_id, stage))
    }
}

#[async_trait]
impl Connector for ForumPay {
    fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    /// `CheckPayment` needs a payment's currency and address, so the probe is a
    /// `CheckBuyOrder` of a payout reference that cannot exist (answered "not found").
    async fn test_credentials(&self, account: &AccountContext) -> Result<(), ConnectorError> {
        let mut order = probe_order(&self.caps)?;
        order.txn_type = overture_core::TxnType::Payout;
        order.extras.insert("preferredCrypto".into(), "BTC".into());
        match self.sync(account, &order).await?.outcome {
            PspOutcome::NotFound => Ok(()),
            other => Err(ConnectorError::Protocol(format!(
                "the PSP answered {other:?} for a buy order that cannot exist"
            ))),
        }
    }

    /// The capability table's required fields, plus formats ForumPay would refuse.
    fn validate(&self, request: &PaymentRequest) -> Result<(), FieldError> {
        let fields = match request.txn_type {
            TxnType::Payin => self.caps.payin_fields,
            TxnType::Payout => self.caps.payout_fields,
        };
        for field in fields {
            let present = match *field {
                "country" => request.country.as_deref().is_some_and(|c| !c.is_empty()),
                other => request
                    .extras
                    .get(other)
                    .is_some_and(|v| !v.trim().is_empty()),
            };
            if !present {
                return Err(field_error(field, "is required by FORUMPAY"));
            }
        }
        if let Some(crypto) = request.extras.get("preferredCrypto") {
            let ok = (2..=10).contains(&crypto.trim().len())
                && crypto.trim().bytes().all(|b| b.is_ascii_alphanumeric());
            if !ok {
                return Err(field_error(
                    "preferredCrypto",
                    "must be a crypto currency code such as BTC",
                ));
            }
        }
        if let Some(wallet) = request.extras.get("walletAddress") {
            let ok = (8..=128).contains(&wallet.trim().len())
                && wallet.trim().bytes().all(|b| b.is_ascii_graphic());
            if !ok {
                return Err(field_error(
                    "walletAddress",
                    "must be 8-128 printable characters without spaces",
                ));
            }
        }
        Ok(())
    }

    /// `StartPayment`: `invoice_amount` in major units of the request currency, `currency`
    /// the crypto (`preferredCrypto`, default BTC), `reference_no` Overture's transaction id.
    /// A `{"err":…}` refusal is [`ConnectorError::Protocol`]: there is no page to send the
    /// user to, and the order is then resolved by `sync`, which finds no payment.
    async fn start_payin(
        &self,
        account: &AccountContext,
        request: &PaymentRequest,
    ) -> Result<PayinStarted, ConnectorError> {
        let crypto = request
            .extras
            .get("preferredCrypto")
            .map(|c| c.trim().to_ascii_uppercase())
            .filter(|c| !c.is_empty())
            .unwrap_or_else(|| wire::DEFAULT_CRYPTO.to_owned());
        let params = wire::StartPaymentIn {
            pos_id: pos_id(account)?,
            invoice_currency: request.amount.currency().code().to_owned(),
            invoice_amount: request.amount.to_major_string(),
            currency: crypto.clone(),
            reference_no: request.order_id.to_string(),
            payer_id: request.user_id.clone(),
            payer_ip_address: request
                .extras
                .get("userIp")
                .cloned()
                .unwrap_or_else(|| wire::FALLBACK_PAYER_IP.to_owned()),
            payer_email: request.email.clone(),
            accept_zero_confirmations: "false",
            webhook_url: Some(account.callback_url.clone()),
            on_success_redirect_url: request.return_url.clone(),
            on_failure_redirect_url: request.return_url.clone(),
        };
        let answer: Result<wire::StartPaymentOut, ApiError> =
            self.call(account, method::START_PAYMENT, &params).await?;
        let started = answer.map_err(|refusal| {
            ConnectorError::Protocol(format!("StartPayment refused: {}", refusal.err))
        })?;
        let stage = Stage {
            currency: started.currency.clone().unwrap_or(crypto),
            address: Some(started.address.clone()),
        };
        let mut update = PspUpdate::new(PspOutcome::Pending, "Waiting");
        update.psp_transaction_id = Some(started.payment_id);
        update.stage = Some(stage.encode()?);
        Ok(PayinStarted {
            redirect_url: Some(started.access_url),
            update,
        })
    }

    /// `StartBuyOrder` then `ConfirmBuyOrder` (amount in major units of the request currency,
    /// crypto `preferredCrypto` to `walletAddress`). A `StartBuyOrder` refusal is a decline
    /// (ForumPay created nothing); a failed confirmation is pending (see `confirm_step`).
    async fn submit_payout(
        &self,
        account: &AccountContext,
        request: &PaymentRequest,
    ) -> Result<PspUpdate, ConnectorError> {
        let created = match self.start_buy_order(account, request).await? {
            Ok(created) => created,
            Err(refusal) => {
                let mut update =
                    PspUpdate::failed(PspOutcome::Declined, "Refused", FailureClass::NotProcessed);
                update.message = Some(refusal.err);
                return Ok(update);
            }
        };
        check_reference(&created, &request.order_id)?;
        let payment_id = created
            .payment_id
            .clone()
            .ok_or_else(|| ConnectorError::Protocol("StartBuyOrder gave no payment_id".into()))?;
        let currency = required_extra(request, "preferredCrypto")?.to_ascii_uppercase();
        let stage = Some(
            Stage {
                currency: currency.clone(),
                address: None,
            }
            .encode()?,
        );
        if !created.is_unconfirmed_buy_order() {
            // ForumPay returned an existing order for this reference that is already past
            // confirmation: confirming again is never needed.
            return Ok(update_from(&created, &payment_id, stage));
        }
        Ok(self
            .confirm_step(account, &currency, &payment_id, stage)
            .await)
    }

    /// Pay-ins: `CheckPayment`; payouts: `CheckBuyOrder` (inferred), confirming an order left
    /// unconfirmed. Unknown payment / order ⇒ [`PspOutcome::NotFound`].
    async fn sync(
        &self,
        account: &AccountContext,
        order: &OrderRef,
    ) -> Result<PspUpdate, ConnectorError> {
        match order.txn_type {
            TxnType::Payin => self.sync_payin(account, order).await,
            TxnType::Payout => self.sync_payout(account, order).await,
        }
    }

    /// ForumPay webhooks are unsigned (JSON or form body with `payment_id`, `reference_no`):
    /// always [`CallbackOutcome::Unverified`], whatever else the body claims; Overture then
    /// calls `sync`. No `reference_no` or an unparsable body ⇒ [`ConnectorError::BadCallback`].
    fn parse_callback(
        &self,
        _account: &AccountContext,
        request: &CallbackRequest,
    ) -> Result<CallbackOutcome, ConnectorError> {
        let content_type = request
            .headers
            .iter()
            .find(|(name, _)| name == "content-type")
            .map(|(_, value)| value.as_str());
        let body = if request.body.iter().all(u8::is_ascii_whitespace) {
            // Tolerate the fields arriving in the query string instead of the body.
            wire::parse_webhook(None, request.query.as_bytes())
        } else {
            wire::parse_webhook(content_type, &request.body)
        }
        .ok_or_else(|| ConnectorError::BadCallback("body is neither JSON nor a form".into()))?;
        let reference = body
            .reference_no
            .filter(|r| !r.is_empty())
            .ok_or_else(|| ConnectorError::BadCallback("no reference_no".into()))?;
        let order_id = OrderId::parse(&reference).ok_or_else(|| {
            ConnectorError::BadCallback("reference_no is not an Overture transaction id".into())
        })?;
        Ok(CallbackOutcome::Unverified {
            order_id,
            why: "unsigned webhook",
        })
    }
}

fn pos_id(account: &AccountContext) -> Result<String, ConnectorError> {
    Ok(account.credential("pos_id")?.expose_secret().to_owned())
}

fn required_extra<'a>(request: &'a PaymentRequest, name: &str) -> Result<&'a str, ConnectorError> {
    request
        .extras
        .get(name)
        .map(|v| v.trim())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ConnectorError::Unsupported(format!("FORUMPAY needs {name}")))
}

fn field_error(field: &str, message: &str) -> FieldError {
    FieldError {
        field: field.to_owned(),
        message: format!("{field} {message}"),
    }
}

/// An answer about another order than the one asked for must never update this one.
fn check_reference(status: &StatusOut, expected: &OrderId) -> Result<(), ConnectorError> {
    match status.reference_no.as_deref() {
        Some(reference) if !reference.is_empty() && reference != expected.as_str() => Err(
            ConnectorError::Protocol("ForumPay answered about another reference_no".into()),
        ),
        _ => Ok(()),
    }
}

fn update_from(status: &StatusOut, payment_id: &str, stage: Option<String>) -> PspUpdate {
    let mut update = PspUpdate::new(status.outcome(), status.status.clone());
    update.class = status.failure_class();
    update.psp_transaction_id = Some(payment_id.to_owned());
    update.stage = stage;
    update.message = status.reason.clone().filter(|r| !r.is_empty());
    update
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::OutboundPolicy;
    use overture_core::ids::PspAccountId;
    use std::time::Duration;

    fn account() -> AccountContext {
        AccountContext {
            account_id: PspAccountId::generate(),
            base_url: "http://127.0.0.1:9".into(),
            credentials: Default::default(),
            callback_url: "http://127.0.0.1:9/cb".into(),
        }
    }

    fn callback(body: &str, content_type: &str) -> CallbackRequest {
        CallbackRequest {
            method: "POST".into(),
            query: String::new(),
            headers: vec![("content-type".into(), content_type.into())],
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn webhooks_are_never_trusted() {
        let fp = ForumPay::new(PspHttp::new(
            Duration::from_secs(1),
            OutboundPolicy::default(),
        ));
        let txn = OrderId::for_attempt(&overture_core::TransactionId::generate(), 1);
        let body = format!(
            r#"{{"payment_id":"p","reference_no":"{txn}","status":"Confirmed","confirmed":true}}"#
        );
        match fp.parse_callback(&account(), &callback(&body, "application/json")) {
            Ok(CallbackOutcome::Unverified { order_id, .. }) => {
                assert_eq!(order_id, txn)
            }
            other => panic!("unexpected {other:?}"),
        }
        let form = format!("payment_id=p&reference_no={txn}");
        assert!(matches!(
            fp.parse_callback(
                &account(),
                &callback(&form, "application/x-www-form-urlencoded")
            ),
            Ok(CallbackOutcome::Unverified { .. })
        ));
        for bad in [r#"{"payment_id":"p"}"#, r#"{"reference_no":"nope"}"#, "{"] {
            assert!(matches!(
                fp.parse_callback(&account(), &callback(bad, "application/json")),
                Err(ConnectorError::BadCallback(_))
            ));
        }
    }

    #[test]
    fn missing_credentials_are_config_errors() {
        let err = pos_id(&account()).unwrap_err();
        assert!(matches!(err, ConnectorError::Config(_)));
    }
}
