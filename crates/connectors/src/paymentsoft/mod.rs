//! PAYMENTSOFT connector: Payment Soft, a PaynetEasy v4 white label. Payouts only in this wave.
//!
//! Flows (doc.payneteasy.com):
//! - create: `POST {base}/paynet/api/v4/payout/{endpoint_id}`, form body signed with OAuth 1.0a
//!   RSA-SHA256 (consumer key = `login`), answer `type=async-response` with `paynet-order-id`
//!   ("/api/v4/payout");
//! - status: `POST {base}/paynet/api/v2/status/{endpoint_id}` authenticated by
//!   `control = sha1(login + client_orderid + orderid + merchant_control)` ("/api/v2/status");
//!   a `redirect-to` in the answer is a receiver form that must be filled before the payout
//!   proceeds; it is passed on as [`PspUpdate::redirect_url`];
//! - callback: HTTP GET with `control = sha1(status + orderid + client_orderid +
//!   merchant_control)` ("Connecting Party Callback").
//!
//! The PSP order id (`client_orderid`) is Overture's transaction id, so an order whose create
//! answer was lost can still be found: the status request then carries an empty `orderid`
//! (an inferred behaviour, see [`wire::StatusRequest::orderid`]).

pub mod oauth;
pub mod wire;

use crate::http::PspHttp;
use async_trait::async_trait;
use overture_core::connector::*;
use overture_core::{Clock, Money, OrderId, SystemClock, TxnType};
use rand::RngCore;
use secrecy::ExposeSecret;
use std::collections::BTreeMap;
use std::sync::Arc;
use wire::{CallbackParams, PayoutRequest, StatusRequest, WireResponse};

/// The PSP's name in messages.
const PSP: &str = "PAYMENTSOFT";

/// Capability row of PAYMENTSOFT. Currencies are those Payment Soft's payout endpoints are
/// commonly configured for; the account's endpoint decides in the end.
const CAPABILITIES: Capabilities = Capabilities {
    psp_type: "PAYMENTSOFT",
    display_name: "Payment Soft",
    payin: false,
    payout: true,
    currencies: &["EUR", "USD", "GBP", "CAD", "PLN", "CZK"],
    countries: &[],
    payin_fields: &[],
    payout_fields: &[],
    async_model: "signed callback (control=sha1) + /api/v2/status polling",
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

/// The PAYMENTSOFT connector (PaynetEasy v4 protocol).
pub struct PaymentSoft {
    http: PspHttp,
    clock: Arc<dyn Clock>,
    caps: Capabilities,
}

impl PaymentSoft {
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
}

// ---- PaynetEasy family helpers: PAYMENTSOFT is the family root, CARDZO calls these too ----

/// `{base}{path}/{endpoint_id}`.
fn url(account: &AccountContext, path: &str, endpoint_id: &str) -> String {
    format!("{}{}/{}", account.base_url, path, endpoint_id)
}

/// The account's credentials, exposed only for the duration of one call.
pub(crate) struct Creds<'a> {
    pub(crate) login: &'a str,
    pub(crate) merchant_control: &'a str,
    pub(crate) endpoint_id: &'a str,
}

impl<'a> Creds<'a> {
    pub(crate) fn of(account: &'a AccountContext) -> Result<Self, ConnectorError> {
        let endpoint_id = account.credential("endpoint_id")?.expose_secret();
        // It becomes a path segment: refuse anything that could change the path.
        if endpoint_id.is_empty() || !endpoint_id.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(ConnectorError::Config(
                "endpoint_id must be a non-empty alphanumeric id".into(),
            ));
        }
        Ok(Self {
            login: account.credential("login")?.expose_secret(),
            merchant_control: account.credential("merchant_control")?.expose_secret(),
            endpoint_id,
        })
    }
}

/// The `/api/v4/payout` body for `request` (CARDZO's `/api/v4/payout-check` takes the same).
pub(crate) fn payout_request(account: &AccountContext, request: &PaymentRequest) -> PayoutRequest {
    let extra = |name: &str| {
        request
            .extras
            .get(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let mut body = PayoutRequest {
        client_orderid: request.order_id.to_string(),
        amount: request.amount.to_major_string(),
        currency: request.amount.currency().code().to_owned(),
        order_desc: request
            .merchant_reference
            .clone()
            .unwrap_or_else(|| format!("Payout {}", request.order_id)),
        // The receiver's IP is required on the wire; server-initiated payouts have none, so the
        // loopback address stands in (PaynetEasy examples do the same for S2S calls).
        ipaddress: extra("userIp").unwrap_or_else(|| "127.0.0.1".into()),
        purpose: extra("purpose").unwrap_or_else(|| format!("user {}", request.user_id)),
        server_callback_url: Some(account.callback_url.clone()),
        redirect_url: request.return_url.clone(),
        email: Some(request.email.clone()).filter(|e| !e.is_empty()),
        country: request.country.clone(),
        ..Default::default()
    };
    for (extras_key, wire_name) in wire::RECEIVER_EXTRAS {
        if let Some(value) = extra(extras_key) {
            body.set_receiver_field(wire_name, value);
        }
    }
    body
}

/// A fresh OAuth nonce: 128 random bits as hex.
fn nonce() -> String {
    let mut bytes = [0_u8; 16];
    rand::thread_rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// `psp`'s `name=value` answer, or a protocol error quoting its head.
pub(crate) fn parse_answer(psp: &str, body: &str) -> Result<WireResponse, ConnectorError> {
    WireResponse::parse(body).ok_or_else(|| {
        let head: String = body.chars().take(120).collect();
        ConnectorError::Protocol(format!("{psp} answer is not a key=value list: {head:?}"))
    })
}

/// What a v4 create call (`payout`, `payout-check`) answered ("/api/v4/payout": `type` is
/// async-response, validation-error or error).
pub(crate) enum CreateAnswer {
    /// The PSP created the order; its `paynet-order-id`.
    Accepted(String),
    /// The order exists already (an earlier submission got through): ask where *that* order
    /// stands instead of declining a payout that may be paid.
    Duplicate(OrderRef),
    /// The PSP did not create the order: validation-error ⇒ Declined, error ⇒ Failed.
    Refused(PspUpdate),
}

/// Classifies a v4 create answer for `request`; `step` names the call in errors.
pub(crate) fn classify_create(
    psp: &str,
    step: &str,
    answer: &WireResponse,
    request: &PaymentRequest,
) -> Result<CreateAnswer, ConnectorError> {
    let paynet_order_id = answer.get("paynet-order-id").map(str::to_owned);
    match answer.kind() {
        wire::TYPE_ASYNC_RESPONSE => paynet_order_id.map(CreateAnswer::Accepted).ok_or_else(|| {
            ConnectorError::Protocol(format!("{step} async-response without paynet-order-id"))
        }),
        wire::TYPE_VALIDATION_ERROR
            if answer.get("error-code") == Some(wire::CODE_DUPLICATE_ORDER) =>
        {
            tracing::warn!(transaction_id = %request.order_id,
                "{psp} reports the order exists already; asking its status");
            Ok(CreateAnswer::Duplicate(OrderRef {
                order_id: request.order_id.clone(),
                txn_type: request.txn_type,
                amount: request.amount,
                psp_transaction_id: paynet_order_id,
                stage: None,
                extras: request.extras.clone(),
            }))
        }
        kind @ (wire::TYPE_VALIDATION_ERROR | wire::TYPE_ERROR) => {
            let outcome = if kind == wire::TYPE_ERROR {
                PspOutcome::Failed
            } else {
                PspOutcome::Declined
            };
            // The PSP created no order: nothing can have been paid.
            Ok(CreateAnswer::Refused(PspUpdate {
                message: Some(answer.error_text()),
                psp_transaction_id: paynet_order_id,
                ..PspUpdate::failed(outcome, kind, FailureClass::NotProcessed)
            }))
        }
        other => Err(ConnectorError::Protocol(format!(
            "unexpected {step} answer type {other:?}"
        ))),
    }
}

/// Fails when the PSP answered about another order than the one asked for: such an answer must
/// never update this one.
pub(crate) fn check_order(
    psp: &str,
    answer: &WireResponse,
    transaction_id: &OrderId,
) -> Result<(), ConnectorError> {
    match answer.get("merchant-order-id") {
        Some(id) if id != transaction_id.as_str() => Err(ConnectorError::Protocol(format!(
            "{psp} answered for order {id}, not {transaction_id}"
        ))),
        _ => Ok(()),
    }
}

/// `POST {base}{path}/{endpoint_id}` with `pairs` as the form body, OAuth 1.0a RSA-SHA256
/// signed (consumer key = `login`), and `psp`'s answer parsed. `what` names the body in errors.
pub(crate) async fn signed_post(
    psp: &str,
    http: &PspHttp,
    clock: &dyn Clock,
    account: &AccountContext,
    path: &str,
    what: &str,
    pairs: &[(String, String)],
) -> Result<WireResponse, ConnectorError> {
    let creds = Creds::of(account)?;
    let key = oauth::load_private_key(account.credential("oauth_private_key")?.expose_secret())
        .map_err(|e| ConnectorError::Config(format!("oauth_private_key: {e}")))?;
    let url = url(account, path, creds.endpoint_id);
    let body = serde_urlencoded::to_string(pairs)
        .map_err(|e| ConnectorError::Protocol(format!("{what} body: {e}")))?;
    let timestamp = u64::try_from(clock.now_ms() / 1000).unwrap_or(0);
    let authorization = oauth::sign_request(&url, pairs, creds.login, &key, timestamp, &nonce())
        .map_err(|e| ConnectorError::Config(format!("OAuth signing: {e}")))?;
    let request = http
        .client()
        .post(&url)
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .header(reqwest::header::AUTHORIZATION, authorization)
        .body(body);
    parse_answer(psp, &http.send(request).await?.body)
}

/// `/api/v2/status` for `transaction_id` (and `paynet-order-id` when known): `psp`'s answer,
/// checked to be about this order; what its type means is the caller's.
pub(crate) async fn query_status(
    psp: &str,
    http: &PspHttp,
    account: &AccountContext,
    transaction_id: &OrderId,
    paynet_order_id: Option<&str>,
) -> Result<WireResponse, ConnectorError> {
    let creds = Creds::of(account)?;
    let request = StatusRequest::new(
        creds.login,
        transaction_id.as_str(),
        paynet_order_id.unwrap_or_default(),
        creds.merchant_control,
    );
    let url = url(account, wire::STATUS_PATH, creds.endpoint_id);
    let response = http
        .send(http.client().post(&url).form(&request.to_pairs()))
        .await?;
    let answer = parse_answer(psp, &response.body)?;
    check_order(psp, &answer, transaction_id)?;
    Ok(answer)
}

/// A PaynetEasy callback: HTTP GET (or a form POST) with
/// `control = sha1(status + orderid + client_orderid + merchant_control)`; a bad or missing
/// `control` ⇒ [`CallbackOutcome::Unverified`].
pub(crate) fn parse_signed_callback(
    psp: &str,
    account: &AccountContext,
    request: &CallbackRequest,
) -> Result<CallbackOutcome, ConnectorError> {
    let merchant_control = account.credential("merchant_control")?.expose_secret();
    let params = callback_params(request)?;
    let order_id = OrderId::parse(&params.client_orderid).ok_or_else(|| {
        ConnectorError::BadCallback("client_orderid is missing or not an Overture id".into())
    })?;
    if params.control.is_empty() || !params.control_matches(merchant_control) {
        tracing::warn!(order_id = %order_id,
            "{psp} callback with a bad control; will query the status instead");
        return Ok(CallbackOutcome::Unverified {
            order_id,
            why: "bad control",
        });
    }
    if params.status.is_empty() {
        return Err(ConnectorError::BadCallback(
            "callback without status".into(),
        ));
    }
    let update = PspUpdate {
        outcome: wire::map_status(&params.status),
        class: wire::failure_class(&params.status),
        raw_status: params.status.clone(),
        psp_transaction_id: Some(params.orderid.clone()).filter(|id| !id.is_empty()),
        stage: None,
        message: params.error_message.clone().filter(|m| !m.is_empty()),
        redirect_url: None,
    };
    let claims = CallbackClaims {
        psp_transaction_id: Some(params.orderid.clone()).filter(|id| !id.is_empty()),
        amount: Some(params.amount.clone()).filter(|a| !a.is_empty()),
        currency: Some(params.currency.clone()).filter(|c| !c.is_empty()),
    };
    Ok(CallbackOutcome::Verified {
        order_id,
        update,
        claims,
    })
}

#[async_trait]
impl Connector for PaymentSoft {
    fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    fn validate_credentials(
        &self,
        credentials: &overture_core::Credentials,
    ) -> Result<(), FieldError> {
        oauth::validate_credentials(&self.caps, credentials)
    }

    async fn start_payin(
        &self,
        _account: &AccountContext,
        _request: &PaymentRequest,
    ) -> Result<PayinStarted, ConnectorError> {
        Err(ConnectorError::Unsupported(
            "PAYMENTSOFT pay-ins are not offered yet".into(),
        ))
    }

    async fn submit_payout(
        &self,
        account: &AccountContext,
        request: &PaymentRequest,
    ) -> Result<PspUpdate, ConnectorError> {
        if request.txn_type != TxnType::Payout {
            return Err(ConnectorError::Unsupported(
                "PAYMENTSOFT submit_payout needs a PAYOUT".into(),
            ));
        }
        let pairs = payout_request(account, request).to_pairs();
        let answer = signed_post(
            PSP,
            &self.http,
            self.clock.as_ref(),
            account,
            wire::PAYOUT_PATH,
            "payout",
            &pairs,
        )
        .await?;
        check_order(PSP, &answer, &request.order_id)?;
        let update = match classify_create(PSP, "payout", &answer, request)? {
            CreateAnswer::Accepted(id) => PspUpdate {
                psp_transaction_id: Some(id),
                ..PspUpdate::new(PspOutcome::Pending, wire::status::PROCESSING)
            },
            CreateAnswer::Duplicate(order) => return self.sync(account, &order).await,
            CreateAnswer::Refused(update) => update,
        };
        tracing::info!(transaction_id = %request.order_id, outcome = ?update.outcome,
            "PAYMENTSOFT payout submitted");
        Ok(update)
    }

    async fn sync(
        &self,
        account: &AccountContext,
        order: &OrderRef,
    ) -> Result<PspUpdate, ConnectorError> {
        let answer = query_status(
            PSP,
            &self.http,
            account,
            &order.order_id,
            order.psp_transaction_id.as_deref(),
        )
        .await?;
        match answer.kind() {
            wire::TYPE_STATUS_RESPONSE => {
                let raw = answer.get("status").ok_or_else(|| {
                    ConnectorError::Protocol("status-response without status".into())
                })?;
                warn_on_amount_mismatch(&answer, order);
                Ok(PspUpdate {
                    outcome: wire::map_status(raw),
                    class: wire::failure_class(raw),
                    raw_status: raw.to_owned(),
                    psp_transaction_id: answer
                        .get("paynet-order-id")
                        .map(str::to_owned)
                        .or_else(|| order.psp_transaction_id.clone()),
                    stage: answer.get("order-stage").map(str::to_owned),
                    message: answer.get("error-message").map(str::to_owned),
                    redirect_url: answer.get("redirect-to").map(str::to_owned),
                })
            }
            wire::TYPE_VALIDATION_ERROR | wire::TYPE_ERROR
                if answer.get("error-code") == Some(wire::CODE_ORDER_NOT_FOUND) =>
            {
                Ok(PspUpdate {
                    message: Some(answer.error_text()),
                    ..PspUpdate::new(PspOutcome::NotFound, "not-found")
                })
            }
            // A status request carries only credentials and ids, so a refusal means the account
            // is misconfigured (wrong login or merchant_control).
            wire::TYPE_VALIDATION_ERROR => Err(ConnectorError::Config(format!(
                "PAYMENTSOFT refused the status request: {}",
                answer.error_text()
            ))),
            wire::TYPE_ERROR => Err(ConnectorError::Protocol(format!(
                "PAYMENTSOFT status error: {}",
                answer.error_text()
            ))),
            other => Err(ConnectorError::Protocol(format!(
                "unexpected status answer type {other:?}"
            ))),
        }
    }

    fn parse_callback(
        &self,
        account: &AccountContext,
        request: &CallbackRequest,
    ) -> Result<CallbackOutcome, ConnectorError> {
        parse_signed_callback(PSP, account, request)
    }
}

/// The callback's parameters from the query string (the documented HTTP GET) and, for a POST,
/// the form body; a body value wins over a query value of the same name.
pub(crate) fn callback_params(request: &CallbackRequest) -> Result<CallbackParams, ConnectorError> {
    let bad = |e: serde_urlencoded::de::Error| ConnectorError::BadCallback(e.to_string());
    let mut fields: BTreeMap<String, String> =
        serde_urlencoded::from_str::<Vec<(String, String)>>(&request.query)
            .map_err(bad)?
            .into_iter()
            .collect();
    if !request.body.is_empty() {
        let body: Vec<(String, String)> =
            serde_urlencoded::from_bytes(&request.body).map_err(bad)?;
        fields.extend(body);
    }
    if fields.is_empty() {
        return Err(ConnectorError::BadCallback(
            "callback without parameters".into(),
        ));
    }
    Ok(CallbackParams::from_fields(&fields))
}

/// Logs when the PSP's amount or currency differs from the order's: never expected, worth an
/// operator's look, but not a reason to ignore a final status for money that may have moved.
fn warn_on_amount_mismatch(answer: &WireResponse, order: &OrderRef) {
    let (Some(amount), Some(currency)) = (answer.get("amount"), answer.get("currency")) else {
        return;
    };
    let same = currency == order.amount.currency().code()
        && Money::parse_major(amount, order.amount.currency()).is_ok_and(|m| m == order.amount);
    if !same {
        tracing::warn!(transaction_id = %order.order_id, psp_amount = amount,
            psp_currency = currency, "PAYMENTSOFT reports another amount than the order's");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::OutboundPolicy;
    use overture_core::{Credentials, PspAccountId};
    use secrecy::SecretString;
    use std::time::Duration;

    const TXN: &str = "txn_0190f0e0a1b2c3d4e5f60718293a4b5c";
    const KEY: &str = "SANDBOX-CONTROL";

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

    fn callback(method: &str, query: &str, body: &str) -> Result<CallbackOutcome, ConnectorError> {
        PaymentSoft::new(PspHttp::new(
            Duration::from_secs(1),
            OutboundPolicy::default(),
        ))
        .parse_callback(
            &account(),
            &CallbackRequest {
                method: method.into(),
                query: query.into(),
                headers: Vec::new(),
                body: body.as_bytes().to_vec(),
            },
        )
    }

    /// `control` = sha1("approved" + "1234567" + TXN + KEY), from `sha1sum` (see wire.rs).
    const GOOD: &str = "91f65352be959da107ead8aa13e95660eaf14874";

    #[test]
    fn signed_get_callback_is_verified() {
        let query = format!(
            "type=payout&status=approved&orderid=1234567&merchant_order={TXN}\
             &client_orderid={TXN}&amount=10.00&currency=EUR&control={GOOD}"
        );
        match callback("GET", &query, "").unwrap() {
            CallbackOutcome::Verified {
                order_id,
                update,
                claims,
            } => {
                assert_eq!(order_id.as_str(), TXN);
                assert_eq!(update.outcome, PspOutcome::Approved);
                assert_eq!(update.psp_transaction_id.as_deref(), Some("1234567"));
                let expected = CallbackClaims {
                    psp_transaction_id: Some("1234567".into()),
                    amount: Some("10.00".into()),
                    currency: Some("EUR".into()),
                };
                assert_eq!(claims, expected);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn form_post_callback_is_read_too() {
        let body = format!("status=approved&orderid=1234567&client_orderid={TXN}&control={GOOD}");
        assert!(matches!(
            callback("POST", "", &body),
            Ok(CallbackOutcome::Verified { .. })
        ));
    }

    #[test]
    fn tampered_or_unsigned_callback_is_unverified() {
        for query in [
            format!("status=declined&orderid=1234567&client_orderid={TXN}&control={GOOD}"),
            format!("status=approved&orderid=1234567&client_orderid={TXN}"),
        ] {
            assert!(matches!(
                callback("GET", &query, ""),
                Ok(CallbackOutcome::Unverified {
                    why: "bad control",
                    ..
                })
            ));
        }
    }

    #[test]
    fn callback_without_an_overture_order_is_bad() {
        for query in [
            "",
            "status=approved&control=x",
            "client_orderid=12345&status=approved",
        ] {
            assert!(matches!(
                callback("GET", query, ""),
                Err(ConnectorError::BadCallback(_))
            ));
        }
    }

    #[test]
    fn payout_body_uses_extras_and_defaults() {
        let request = PaymentRequest {
            order_id: OrderId::parse(TXN).unwrap(),
            txn_type: TxnType::Payout,
            amount: Money::parse_major("10.5", overture_core::Currency::from_code("EUR").unwrap())
                .unwrap(),
            user_id: "u1".into(),
            email: "a@example.com".into(),
            country: Some("DE".into()),
            return_url: Some("https://mp.example/back".into()),
            merchant_reference: None,
            extras: BTreeMap::from([("lastName".to_owned(), "Lovelace".to_owned())]),
        };
        let body = payout_request(&account(), &request);
        assert_eq!(body.amount, "10.50");
        assert_eq!(body.ipaddress, "127.0.0.1");
        assert_eq!(body.last_name.as_deref(), Some("Lovelace"));
        assert_eq!(
            body.server_callback_url.as_deref(),
            Some("http://127.0.0.1:9/cb")
        );
        assert_eq!(
            body.redirect_url.as_deref(),
            Some("https://mp.example/back")
        );
    }
}
