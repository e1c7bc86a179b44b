//! GIGADAT connector: Interac e-Transfer in Canada (CAD only) through Gigadat's API; wire
//! details and their public sources in [`wire`], field rules in [`fields`].
//!
//! - Pay-in (`CPI`): `payment-token` ⇒ one-time token; the payer is sent to the webflow
//!   (`{base}/webflow?transaction=…&token=…`) and completes the Interac transfer there.
//! - Payout (`ETO` e-Transfer, default, or `ACH`, by `payoutType`): `payment-token` with that
//!   type, then the finalisation URL (`{base}/webflow/deposit?transaction=…&token=…`) that
//!   executes it. Mozarto answers such a payout "Added to approvals table" /
//!   `AWAITING_APPROVAL` and calls the `finalizationURL` after an operator approved it; in
//!   Overture that approval is the `awaiting_approval` state *before* `submit_payout`, so the
//!   connector finalises right away. A finalisation that fails or is interrupted leaves the
//!   payout pending with its token in the stage; `sync` finalises it when Gigadat still says
//!   `STATUS_INITED` (never once Gigadat recorded it).
//! - Status: `GET {base}/api/transactions/{transactionId}`, the transaction id being
//!   Overture's (Gigadat keys transactions by the merchant's `transactionId`).
//! - Callbacks: Gigadat's listener notification carries `transaction` and `status` and no
//!   signature, so it is never trusted (docs/ARCHITECTURE.md): Overture queries the status.
//!
//! Credentials: `access_token` and `security_token` (HTTP Basic), `campaign_id` (path of the
//! token call); optional `sandbox` (`true` sends `"sandbox": true`, Gigadat's test switch) and
//! `site` (the merchant site URL Gigadat shows; default: the origin of `returnUrl`, else of
//! Overture's callback URL).

pub mod fields;
pub mod wire;

use crate::http::PspHttp;
use async_trait::async_trait;
use overture_core::connector::*;
use overture_core::domain::TxnType;
use overture_core::ids::OrderId;
use secrecy::ExposeSecret;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;
use wire::{ApiError, PaymentTokenOut, Stage, StatusOut, TxnKind};

/// Polling cadence (our choice; Gigadat publishes none): every 10–20 s for 15 minutes (a
/// payer finishes the webflow, and an e-Transfer usually lands, within minutes), then every
/// 10–20 minutes, giving up after 72 hours: an Interac e-Transfer the recipient must accept can
/// take days, and giving up marks the order failed while money might still move.
pub const POLL_SCHEDULE: PollSchedule = PollSchedule {
    fast: (10_000, 20_000),
    fast_window: 15 * 60_000,
    slow: (10 * 60_000, 20 * 60_000),
    give_up_after: 72 * 60 * 60_000,
};

const CAPABILITIES: Capabilities = Capabilities {
    psp_type: "GIGADAT",
    display_name: "Gigadat (Interac)",
    payin: true,
    payout: true,
    currencies: &["CAD"],
    countries: &["CA"],
    // `name` may also be given as firstName + lastName; `payoutType` (ETO|ACH) is optional.
    payin_fields: &["name", "phone", "userIp"],
    payout_fields: &["name", "phone"],
    async_model: "unsigned listener notification ⇒ transaction status call; polling",
    credential_fields: &["access_token", "security_token", "campaign_id"],
    poll_schedule: POLL_SCHEDULE,
    secret_fields: &[],
    final_by_callback: false,
};

/// The GIGADAT connector.
pub struct Gigadat {
    http: PspHttp,
    caps: Capabilities,
}

/// The account's credentials, exposed only for the duration of one call.
struct Creds<'a> {
    access_token: &'a str,
    security_token: &'a str,
    campaign_id: &'a str,
    sandbox: bool,
    site: Option<&'a str>,
}

impl<'a> Creds<'a> {
    fn of(account: &'a AccountContext) -> Result<Self, ConnectorError> {
        let optional = |name: &str| {
            account
                .credentials
                .0
                .get(name)
                .map(|s| s.expose_secret().trim())
                .filter(|s| !s.is_empty())
        };
        Ok(Self {
            access_token: account.credential("access_token")?.expose_secret(),
            security_token: account.credential("security_token")?.expose_secret(),
            campaign_id: account.credential("campaign_id")?.expose_secret(),
            sandbox: optional("sandbox").is_some_and(|s| s.eq_ignore_ascii_case("true")),
            site: optional("site"),
        })
    }
}

impl Gigadat {
    /// A connector sending every call through `http` (errors classified there).
    pub fn new(http: PspHttp) -> Self {
        Self {
            http,
            caps: CAPABILITIES,
        }
    }

    /// `payment-token` of `kind` for `request`. `Ok(Err(_))` is Gigadat's `{"err": …}`.
    pub async fn payment_token(
        &self,
        account: &AccountContext,
        request: &PaymentRequest,
        kind: TxnKind,
    ) -> Result<Result<PaymentTokenOut, ApiError>, ConnectorError> {
        let creds = Creds::of(account)?;
        let body = token_body(account, &creds, request, kind)?;
        let url = format!(
            "{}{}",
            account.base_url,
            wire::payment_token_path(creds.campaign_id)
        );
        let call = self.http.client().post(url).json(&body);
        self.send(account, "payment-token", call).await
    }

    /// Calls the finalisation URL of payout `transaction_id` with its `token`. Gigadat executes
    /// a payout once; finalising again only returns its state (assumed, the sandbox does so).
    /// The answer's status is returned when it carries one (Hyperswitch saw an empty 200).
    pub async fn finalize_payout(
        &self,
        account: &AccountContext,
        transaction_id: &str,
        token: &str,
    ) -> Result<Result<Option<StatusOut>, ApiError>, ConnectorError> {
        let url = format!("{}{}", account.base_url, wire::FINALIZE_PATH);
        let creds = Creds::of(account)?;
        let call = self
            .http
            .client()
            .post(url)
            .query(&[("transaction", transaction_id), ("token", token)])
            .basic_auth(creds.access_token, Some(creds.security_token));
        let response = self.http.send(call).await?;
        if response.body.trim().is_empty() && (200..300).contains(&response.status) {
            return Ok(Ok(None));
        }
        let answer: Result<serde_json::Value, ApiError> =
            wire::parse_answer("finalize", response.status, &response.body)?;
        Ok(answer.map(|value| serde_json::from_value::<StatusOut>(value).ok()))
    }

    /// Sends one call with Basic auth and reads the JSON answer.
    async fn send<T: DeserializeOwned>(
        &self,
        account: &AccountContext,
        call_name: &str,
        call: reqwest::RequestBuilder,
    ) -> Result<Result<T, ApiError>, ConnectorError> {
        let creds = Creds::of(account)?;
        // The auth header is built from the secrets at the last moment and never logged.
        let call = call.basic_auth(creds.access_token, Some(creds.security_token));
        let response = self.http.send(call).await?;
        tracing::debug!(
            call = call_name,
            status = response.status,
            "Gigadat answered"
        );
        wire::parse_answer(call_name, response.status, &response.body)
    }

    async fn status(
        &self,
        account: &AccountContext,
        transaction_id: &OrderId,
    ) -> Result<Result<StatusOut, ApiError>, ConnectorError> {
        let url = format!(
            "{}{}",
            account.base_url,
            wire::status_path(transaction_id.as_str())
        );
        let call = self.http.client().get(url);
        self.send(account, "transaction status", call).await
    }

    /// Finalises a payout whose token was issued. Any failure leaves the payout pending with
    /// the token kept, never an error that could close it: the next `sync` sees
    /// `STATUS_INITED` and retries.
    async fn finalize_step(
        &self,
        account: &AccountContext,
        transaction_id: &OrderId,
        token: &str,
    ) -> PspUpdate {
        let failure = match self
            .finalize_payout(account, transaction_id.as_str(), token)
            .await
        {
            Ok(Ok(answer)) => {
                // Without a status in the answer, a finalised payout is under way until
                // Gigadat reports a final status.
                let mut update = match answer {
                    Some(status) => update_from(&status, transaction_id),
                    None => PspUpdate::new(PspOutcome::Pending, "STATUS_PENDING"),
                };
                update.psp_transaction_id = Some(transaction_id.to_string());
                // An answer still saying STATUS_INITED did not finalise: keep the token.
                let stage = if wire::is_inited(&update.raw_status) {
                    Stage::issued(token)
                } else {
                    Stage::finalized()
                };
                update.stage = Some(stage.encode());
                return update;
            }
            Ok(Err(refusal)) => format!("finalisation refused: {}", refusal.err),
            Err(e) => format!("finalisation failed: {e}"),
        };
        tracing::warn!(%failure, "Gigadat payout left unfinalised; sync will retry");
        let mut update = PspUpdate::new(PspOutcome::Pending, "STATUS_INITED");
        update.psp_transaction_id = Some(transaction_id.to_string());
        update.stage = Some(Stage::issued(token).encode());
        update.message = Some(failure);
        update
    }
}

/// The `payment-token` body. Field problems here mean `validate` was skipped; they are
/// reported as [`ConnectorError::Unsupported`] naming the field.
fn token_body(
    account: &AccountContext,
    creds: &Creds<'_>,
    request: &PaymentRequest,
    kind: TxnKind,
) -> Result<wire::PaymentTokenIn, ConnectorError> {
    let unsupported = |e: FieldError| ConnectorError::Unsupported(e.to_string());
    fields::currency(request).map_err(unsupported)?;
    let user_ip = match kind {
        TxnKind::Cpi => fields::user_ip(request).map_err(unsupported)?,
        TxnKind::Eto | TxnKind::Ach => {
            fields::optional_user_ip(request.extras.get("userIp").map(String::as_str))
                .map_err(unsupported)?
                .unwrap_or_else(|| wire::FALLBACK_USER_IP.to_owned())
        }
    };
    // CAD has two decimals, so this is always "10.50"-shaped, a valid JSON number literal.
    let amount = RawValue::from_string(request.amount.to_major_string())
        .map_err(|e| ConnectorError::Protocol(format!("amount: {e}")))?;
    let site = creds
        .site
        .map(str::to_owned)
        .or_else(|| request.return_url.as_deref().and_then(origin))
        .or_else(|| origin(&account.callback_url))
        .unwrap_or_else(|| account.callback_url.clone());
    Ok(wire::PaymentTokenIn {
        user_id: request.user_id.clone(),
        transaction_id: request.order_id.to_string(),
        name: fields::name(request).map_err(unsupported)?,
        email: request.email.clone(),
        site,
        user_ip,
        mobile: fields::phone(request).map_err(unsupported)?,
        currency: "CAD",
        language: "en",
        amount,
        kind,
        sandbox: creds.sandbox,
        listener_url: account.callback_url.clone(),
        return_url: request.return_url.clone(),
    })
}

/// `scheme://host[:port]` of an absolute URL; `None` when it is not one.
fn origin(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let host = rest
        .split(['/', '?', '#'])
        .next()
        .filter(|h| !h.is_empty())?;
    Some(format!("{scheme}://{host}"))
}

/// An answer about another transaction than the one asked for must never update this one.
fn check_echo(echoed: Option<&str>, expected: &OrderId) -> Result<(), ConnectorError> {
    match echoed {
        Some(id) if !id.is_empty() && id != expected.as_str() => Err(ConnectorError::Protocol(
            "Gigadat answered about another transaction".into(),
        )),
        _ => Ok(()),
    }
}

fn update_from(status: &StatusOut, transaction_id: &OrderId) -> PspUpdate {
    let mut update = PspUpdate::new(wire::outcome(&status.status), status.status.clone());
    update.class = wire::failure_class(&status.status);
    update.psp_transaction_id = Some(transaction_id.to_string());
    update.message = status.reason.clone().filter(|r| !r.is_empty());
    update
}

#[async_trait]
impl Connector for Gigadat {
    fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    /// CAD only; pay-ins need `name` (or `firstName` + `lastName`), `phone` (10–11 digits)
    /// and `userIp`; payouts need `name` and `phone`, and take `payoutType` ETO|ACH and an
    /// optional `userIp`.
    fn validate(&self, request: &PaymentRequest) -> Result<(), FieldError> {
        fields::currency(request)?;
        fields::name(request)?;
        fields::phone(request)?;
        match request.txn_type {
            TxnType::Payin => fields::user_ip(request).map(|_| ()),
            TxnType::Payout => {
                fields::payout_type(request)?;
                fields::optional_user_ip(request.extras.get("userIp").map(String::as_str))
                    .map(|_| ())
            }
        }
    }

    /// `payment-token` of type `CPI` (amount in major units, two decimals), then the webflow
    /// URL. A refusal is [`ConnectorError::Protocol`]: there is no page to send the payer to,
    /// and the order is resolved by `sync`.
    async fn start_payin(
        &self,
        account: &AccountContext,
        request: &PaymentRequest,
    ) -> Result<PayinStarted, ConnectorError> {
        let started = self
            .payment_token(account, request, TxnKind::Cpi)
            .await?
            .map_err(|refusal| {
                ConnectorError::Protocol(format!("payment-token refused: {}", refusal.err))
            })?;
        check_echo(Some(&started.data.transaction_id), &request.order_id)?;
        let redirect_url = format!(
            "{}{}?transaction={}&token={}",
            account.base_url,
            wire::WEBFLOW_PATH,
            urlencoding::encode(&started.data.transaction_id),
            urlencoding::encode(&started.token)
        );
        let mut update = PspUpdate::new(PspOutcome::Pending, "STATUS_INITED");
        update.psp_transaction_id = Some(started.data.transaction_id);
        Ok(PayinStarted {
            redirect_url: Some(redirect_url),
            update,
        })
    }

    /// `payment-token` of type `payoutType` (ETO by default), then the finalisation URL. A
    /// token refusal is a decline (Gigadat created nothing); a failed finalisation is pending
    /// (see `finalize_step`).
    async fn submit_payout(
        &self,
        account: &AccountContext,
        request: &PaymentRequest,
    ) -> Result<PspUpdate, ConnectorError> {
        let kind =
            fields::payout_type(request).map_err(|e| ConnectorError::Unsupported(e.to_string()))?;
        let created = match self.payment_token(account, request, kind).await? {
            Ok(created) => created,
            Err(refusal) => {
                let mut update =
                    PspUpdate::failed(PspOutcome::Declined, "REFUSED", FailureClass::NotProcessed);
                update.message = Some(refusal.err);
                return Ok(update);
            }
        };
        check_echo(Some(&created.data.transaction_id), &request.order_id)?;
        Ok(self
            .finalize_step(account, &request.order_id, &created.token)
            .await)
    }

    /// The transaction status call; for a payout still `STATUS_INITED` whose token is in the
    /// stage, the finalisation step. Unknown transaction ⇒ [`PspOutcome::NotFound`].
    async fn sync(
        &self,
        account: &AccountContext,
        order: &OrderRef,
    ) -> Result<PspUpdate, ConnectorError> {
        let status = match self.status(account, &order.order_id).await? {
            Ok(status) => status,
            Err(refusal) if refusal.is_not_found() => {
                return Ok(PspUpdate::new(PspOutcome::NotFound, "NOT_FOUND"));
            }
            Err(refusal) => {
                return Err(ConnectorError::Protocol(format!(
                    "transaction status refused: {}",
                    refusal.err
                )));
            }
        };
        check_echo(status.transaction_id.as_deref(), &order.order_id)?;
        if order.txn_type == TxnType::Payout && wire::is_inited(&status.status) {
            let token = Stage::decode(order.stage.as_deref())
                .filter(|s| s.step == Stage::TOKEN)
                .and_then(|s| s.token);
            if let Some(token) = token {
                // Issued, never finalised (failed attempt or crash after storing the stage):
                // the next step, once, as Gigadat's own state says.
                return Ok(self.finalize_step(account, &order.order_id, &token).await);
            }
            // No token kept (a crash before the stage was stored): nothing can execute this
            // payout any more; it stays pending until Gigadat expires the token.
        }
        Ok(update_from(&status, &order.order_id))
    }

    /// Listener notifications are unsigned: always [`CallbackOutcome::Unverified`] for the
    /// `transaction` they name, whatever `status` they claim. No Overture transaction id ⇒
    /// [`ConnectorError::BadCallback`].
    fn parse_callback(
        &self,
        _account: &AccountContext,
        request: &CallbackRequest,
    ) -> Result<CallbackOutcome, ConnectorError> {
        let notification = wire::parse_notification(&request.query, &request.body)
            .ok_or_else(|| ConnectorError::BadCallback("unreadable notification".into()))?;
        let reference = notification
            .transaction
            .filter(|t| !t.is_empty())
            .ok_or_else(|| ConnectorError::BadCallback("no transaction".into()))?;
        let order_id = OrderId::parse(&reference).ok_or_else(|| {
            ConnectorError::BadCallback("transaction is not an Overture transaction id".into())
        })?;
        Ok(CallbackOutcome::Unverified {
            order_id,
            why: "unsigned listener notification",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::OutboundPolicy;
    use overture_core::ids::PspAccountId;
    use overture_core::money::{Currency, Money};
    use std::time::Duration;

    fn account() -> AccountContext {
        AccountContext {
            account_id: PspAccountId::generate(),
            base_url: "http://127.0.0.1:9".into(),
            credentials: Default::default(),
            callback_url: "https://overture.example/v1/api/psp-callbacks/gigadat/psp_1".into(),
        }
    }

    fn request(txn_type: TxnType, currency: &str, extras: &[(&str, &str)]) -> PaymentRequest {
        PaymentRequest {
            order_id: OrderId::for_attempt(&overture_core::TransactionId::generate(), 1),
            txn_type,
            amount: Money::parse_major("10.50", Currency::from_code(currency).unwrap()).unwrap(),
            user_id: "1".into(),
            email: "a@example.com".into(),
            country: Some("CA".into()),
            return_url: Some("https://shop.example/back?x=1".into()),
            merchant_reference: None,
            extras: extras
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        }
    }

    const GOOD: &[(&str, &str)] = &[
        ("name", "Jane Doe"),
        ("phone", "403-123-4567"),
        ("userIp", "70.67.168.5"),
    ];

    #[test]
    fn validation_names_each_field() {
        let g = Gigadat::new(PspHttp::new(
            Duration::from_secs(1),
            OutboundPolicy::default(),
        ));
        assert!(g.validate(&request(TxnType::Payin, "CAD", GOOD)).is_ok());
        let field = |r: PaymentRequest| g.validate(&r).unwrap_err().field;
        assert_eq!(field(request(TxnType::Payin, "EUR", GOOD)), "currency");
        assert_eq!(field(request(TxnType::Payin, "CAD", &GOOD[1..])), "name");
        assert_eq!(
            field(request(TxnType::Payin, "CAD", &[GOOD[0], GOOD[2]])),
            "phone"
        );
        assert_eq!(field(request(TxnType::Payin, "CAD", &GOOD[..2])), "userIp");
        // Payouts do without userIp but check payoutType.
        assert!(g
            .validate(&request(TxnType::Payout, "CAD", &GOOD[..2]))
            .is_ok());
        let bad_type = [GOOD[0], GOOD[1], ("payoutType", "WIRE")];
        assert_eq!(
            field(request(TxnType::Payout, "CAD", &bad_type)),
            "payoutType"
        );
    }

    #[test]
    fn token_body_uses_defaults() {
        let account = account();
        let mut creds = Creds {
            access_token: "a",
            security_token: "s",
            campaign_id: "c",
            sandbox: false,
            site: None,
        };
        let payin = token_body(
            &account,
            &creds,
            &request(TxnType::Payin, "CAD", GOOD),
            TxnKind::Cpi,
        )
        .unwrap();
        assert_eq!(payin.site, "https://shop.example");
        assert_eq!(payin.mobile, "4031234567");
        assert_eq!(payin.amount.get(), "10.50");
        creds.site = Some("https://brand.example");
        let payout = token_body(
            &account,
            &creds,
            &request(TxnType::Payout, "CAD", &GOOD[..2]),
            TxnKind::Eto,
        )
        .unwrap();
        assert_eq!(payout.user_ip, wire::FALLBACK_USER_IP);
        assert_eq!(payout.site, "https://brand.example");
        assert_eq!(
            origin("http://127.0.0.1:8080/x?y").as_deref(),
            Some("http://127.0.0.1:8080")
        );
        assert_eq!(origin("nope"), None);
    }

    #[test]
    fn notifications_are_never_trusted() {
        let g = Gigadat::new(PspHttp::new(
            Duration::from_secs(1),
            OutboundPolicy::default(),
        ));
        let txn = OrderId::for_attempt(&overture_core::TransactionId::generate(), 1);
        let cb = |query: String| CallbackRequest {
            method: "POST".into(),
            query,
            headers: Vec::new(),
            body: Vec::new(),
        };
        match g.parse_callback(
            &account(),
            &cb(format!("transaction={txn}&status=STATUS_SUCCESS")),
        ) {
            Ok(CallbackOutcome::Unverified { order_id, .. }) => {
                assert_eq!(order_id, txn)
            }
            other => panic!("unexpected {other:?}"),
        }
        for bad in ["status=STATUS_SUCCESS", "transaction=AB-09"] {
            assert!(matches!(
                g.parse_callback(&account(), &cb(bad.into())),
                Err(ConnectorError::BadCallback(_))
            ));
        }
    }

    #[test]
    fn missing_credentials_are_config_errors() {
        assert!(matches!(
            Creds::of(&account()),
            Err(ConnectorError::Config(_))
        ));
    }
}
