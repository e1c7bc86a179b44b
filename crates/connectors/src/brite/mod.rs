//! BRITE connector: open-banking pay-ins (Brite Instant Payments); wire details and sources
//! in [`wire`], token caching in [`token`].
//!
//! - Auth: `merchant.authorize` with the account's `public_key` and `secret` ⇒ a Bearer token,
//!   cached per account and renewed before expiry with `merchant.token` (see [`token`]). A
//!   call Brite answers 401 (token revoked or expired early) is retried once with a fresh
//!   token: Brite refused it, so it did nothing.
//! - Pay-in: `session.create_deposit` (`merchant_reference` = Overture's transaction id,
//!   `approval_required: false`, callbacks for the session and transaction states) ⇒ the
//!   Brite client URL (`data.url`) and the session id, kept as the PSP transaction id.
//! - Status: `session.get` (state, `merchant_reference`, `transaction_id`), then
//!   `transaction.state` once a transaction exists; the transaction's state wins.
//! - Callbacks: unsigned JSON POSTs carrying only Brite's ids, possibly out of order or late:
//!   never trusted (docs/ARCHITECTURE.md). Each subscribed URL is Overture's callback URL plus
//!   `?order_id=<transaction id>` (as in Brite's own example), which is how a callback is
//!   mapped to its transaction; Overture then calls `sync`, which asks Brite. A late
//!   "PENDING" after "COMPLETED" therefore changes nothing: the status call says COMPLETED.

pub mod token;
pub mod wire;

use crate::http::PspHttp;
use async_trait::async_trait;
use overture_core::connector::*;
use overture_core::domain::TxnType;
use overture_core::ids::OrderId;
use overture_core::{Clock, SystemClock};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::value::RawValue;
use std::sync::Arc;
use token::{Plan, TokenCache};
use wire::{ApiError, CallbackIn, CreateDepositOut, SessionOut, TokenOut, TransactionStateOut};

/// Polling cadence (our choice; Brite publishes none): every 5–10 s for 10 minutes (a payer
/// authorises in the bank within minutes), then every 5–10 minutes, giving up after 24 hours
/// (Brite retries callbacks for an hour; a deposit not final after a day needs an operator).
pub const POLL_SCHEDULE: PollSchedule = PollSchedule {
    fast: (5_000, 10_000),
    fast_window: 10 * 60_000,
    slow: (5 * 60_000, 10 * 60_000),
    give_up_after: 24 * 60 * 60_000,
};

/// Countries served (Brite's market pages; inferred list) with their currency in
/// [`wire::currency_of`].
pub const COUNTRIES: &[&str] = &[
    "AT", "BE", "DE", "DK", "EE", "ES", "FI", "LT", "LV", "NL", "NO", "SE",
];

const CAPABILITIES: Capabilities = Capabilities {
    psp_type: "BRITE",
    display_name: "Brite (open banking)",
    payin: true,
    payout: false,
    currencies: &["EUR", "SEK", "NOK", "DKK"],
    countries: COUNTRIES,
    payin_fields: &["country"],
    payout_fields: &[],
    async_model:
        "unsigned session/transaction callbacks ⇒ session.get + transaction.state; polling",
    credential_fields: &["public_key", "secret"],
    poll_schedule: POLL_SCHEDULE,
    secret_fields: &[],
    final_by_callback: false,
};

/// The BRITE connector.
pub struct Brite {
    http: PspHttp,
    tokens: TokenCache,
    caps: Capabilities,
}

impl Brite {
    /// A connector using `http` for every call and the wall clock for token expiry.
    pub fn new(http: PspHttp) -> Self {
        Self::with_clock(http, Arc::new(SystemClock))
    }

    /// A connector whose token expiry decisions read `clock`.
    pub fn with_clock(http: PspHttp, clock: Arc<dyn Clock>) -> Self {
        Self {
            http,
            tokens: TokenCache::new(clock),
            caps: CAPABILITIES,
        }
    }

    /// One POST with an optional Bearer token, answer read by [`wire::parse_answer`].
    async fn post<I: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        account: &AccountContext,
        path: &str,
        body: &I,
        bearer: Option<&SecretString>,
    ) -> Result<Result<T, ApiError>, ConnectorError> {
        let url = format!("{}{}", account.base_url, path);
        let mut call = self.http.client().post(url).json(body);
        if let Some(token) = bearer {
            // Built from the secret at the last moment, never logged.
            call = call.bearer_auth(token.expose_secret());
        }
        let response = self.http.send(call).await?;
        tracing::debug!(path, status = response.status, "Brite answered");
        wire::parse_answer(path, response.status, &response.body)
    }

    /// A usable access token for `account`: cached, refreshed, or newly authorised.
    async fn bearer(&self, account: &AccountContext) -> Result<SecretString, ConnectorError> {
        let public_key = account.credential("public_key")?.expose_secret();
        let secret = account.credential("secret")?.expose_secret();
        let fingerprint = token::fingerprint(public_key, secret);
        let issued = match self.tokens.plan(&account.account_id, &fingerprint) {
            Plan::Use(token) => return Ok(token),
            Plan::Refresh(access, refresh) => {
                let body = wire::RefreshIn {
                    access_token: access.expose_secret(),
                    refresh_token: refresh.expose_secret(),
                };
                match self
                    .post(account, wire::REFRESH_PATH, &body, Some(&access))
                    .await
                {
                    Ok(Ok(issued)) => Some(issued),
                    // Refresh refused (token already renewed elsewhere, or expired early):
                    // a new pair from the credentials does the same job.
                    Ok(Err(_)) | Err(ConnectorError::InvalidCredentials { .. }) => None,
                    Err(e) => return Err(e),
                }
            }
            Plan::Authorize => None,
        };
        let issued: TokenOut = match issued {
            Some(issued) => issued,
            None => {
                let body = wire::AuthorizeIn { public_key, secret };
                self.post(account, wire::AUTHORIZE_PATH, &body, None)
                    .await?
                    .map_err(|refusal| {
                        ConnectorError::Protocol(format!(
                            "merchant.authorize refused: {}",
                            refusal.message
                        ))
                    })?
            }
        };
        Ok(self.tokens.store(
            &account.account_id,
            &fingerprint,
            issued.access_token,
            issued.refresh_token,
            issued.expires,
        ))
    }

    /// An authenticated API call. A 401 means Brite refused the token without acting, so the
    /// call is retried once with a token obtained afresh.
    async fn call<I: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        account: &AccountContext,
        path: &str,
        body: &I,
    ) -> Result<Result<T, ApiError>, ConnectorError> {
        let token = self.bearer(account).await?;
        match self.post(account, path, body, Some(&token)).await {
            Err(ConnectorError::InvalidCredentials { status: 401 }) => {
                self.tokens.invalidate(&account.account_id, &token);
                let token = self.bearer(account).await?;
                self.post(account, path, body, Some(&token)).await
            }
            other => other,
        }
    }

    async fn session(
        &self,
        account: &AccountContext,
        session_id: &str,
    ) -> Result<Result<SessionOut, ApiError>, ConnectorError> {
        let body = wire::IdIn { id: session_id };
        self.call(account, wire::SESSION_GET_PATH, &body).await
    }

    async fn transaction_state(
        &self,
        account: &AccountContext,
        transaction_id: &str,
    ) -> Result<TransactionStateOut, ConnectorError> {
        let body = wire::IdIn { id: transaction_id };
        self.call(account, wire::TRANSACTION_STATE_PATH, &body)
            .await?
            .map_err(|refusal| {
                ConnectorError::Protocol(format!("transaction.state refused: {}", refusal.message))
            })
    }
}

/// The country of the deposit: the request's, else the user token's `countryCode`.
fn country(request: &PaymentRequest) -> Option<String> {
    request
        .country
        .clone()
        .or_else(|| request.extras.get("countryCode").cloned())
        .map(|c| c.trim().to_ascii_uppercase())
        .filter(|c| !c.is_empty())
}

fn field_error(field: &str, message: String) -> FieldError {
    FieldError {
        field: field.to_owned(),
        message,
    }
}

/// The subscriptions of one deposit: every callback goes to Overture's callback URL with the
/// transaction id in `order_id`.
fn callbacks(account: &AccountContext, transaction_id: &OrderId) -> Vec<CallbackIn> {
    let separator = if account.callback_url.contains('?') {
        '&'
    } else {
        '?'
    };
    let url = format!(
        "{}{separator}{}={}",
        account.callback_url,
        wire::ORDER_ID_PARAM,
        transaction_id
    );
    let sessions = wire::SESSION_CALLBACKS.iter().map(|s| CallbackIn {
        url: url.clone(),
        session_state: Some(*s),
        transaction_state: None,
    });
    let transactions = wire::TRANSACTION_CALLBACKS.iter().map(|t| CallbackIn {
        url: url.clone(),
        session_state: None,
        transaction_state: Some(*t),
    });
    sessions.chain(transactions).collect()
}

#[async_trait]
impl Connector for Brite {
    fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    /// `sync` answers an order without a session id at once, without a call: ask about a
    /// fresh session id that cannot exist instead (`merchant.authorize`, then `session.get` must answer "not found").
    async fn test_credentials(&self, account: &AccountContext) -> Result<(), ConnectorError> {
        let mut order = probe_order(&self.caps)?;
        order.psp_transaction_id = Some(uuid::Uuid::new_v4().simple().to_string());
        match self.sync(account, &order).await?.outcome {
            PspOutcome::NotFound => Ok(()),
            other => Err(ConnectorError::Protocol(format!(
                "the PSP answered {other:?} for a session id that cannot exist"
            ))),
        }
    }

    /// Pay-ins only; `country` (or the user token's `countryCode`) must be a Brite market and
    /// the currency that market's (Brite has no currency field: SE SEK, NO NOK, DK DKK, others
    /// EUR).
    fn validate(&self, request: &PaymentRequest) -> Result<(), FieldError> {
        if request.txn_type == TxnType::Payout {
            return Err(field_error("type", "BRITE takes pay-ins only".into()));
        }
        let country = country(request)
            .ok_or_else(|| field_error("country", "country is required by BRITE".into()))?;
        if !COUNTRIES.contains(&country.as_str()) {
            return Err(field_error(
                "country",
                format!("country {country} is not served by BRITE"),
            ));
        }
        let expected = wire::currency_of(&country);
        let currency = request.amount.currency().code();
        if currency != expected {
            return Err(field_error(
                "currency",
                format!("currency must be {expected} for BRITE deposits from {country}"),
            ));
        }
        Ok(())
    }

    /// `session.create_deposit` (amount in major units of the country's currency). A refusal
    /// is [`ConnectorError::Protocol`]: there is no client to send the payer to.
    async fn start_payin(
        &self,
        account: &AccountContext,
        request: &PaymentRequest,
    ) -> Result<PayinStarted, ConnectorError> {
        self.validate(request)
            .map_err(|e| ConnectorError::Unsupported(e.to_string()))?;
        let country = country(request)
            .ok_or_else(|| ConnectorError::Unsupported("BRITE needs a country".into()))?;
        let amount = RawValue::from_string(request.amount.to_major_string())
            .map_err(|e| ConnectorError::Protocol(format!("amount: {e}")))?;
        let extra = |name: &str| {
            request
                .extras
                .get(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let body = wire::CreateDepositIn {
            country_id: country,
            amount,
            callbacks: callbacks(account, &request.order_id),
            customer_email: request.email.clone(),
            customer_firstname: extra("firstName"),
            customer_lastname: extra("lastName"),
            merchant_reference: request.order_id.to_string(),
            redirect_uri: request.return_url.clone(),
            approval_required: false,
        };
        let created: CreateDepositOut = self
            .call(account, wire::CREATE_DEPOSIT_PATH, &body)
            .await?
            .map_err(|refusal| {
                ConnectorError::Protocol(format!(
                    "session.create_deposit refused: {}",
                    refusal.message
                ))
            })?;
        let mut update = PspUpdate::new(PspOutcome::Pending, "session:CREATED");
        update.psp_transaction_id = Some(created.id);
        Ok(PayinStarted {
            redirect_url: Some(created.url),
            update,
        })
    }

    /// Brite pay-outs are not offered through Overture (capabilities say `payout: false`).
    async fn submit_payout(
        &self,
        _account: &AccountContext,
        _request: &PaymentRequest,
    ) -> Result<PspUpdate, ConnectorError> {
        Err(ConnectorError::Unsupported("BRITE payouts".into()))
    }

    /// `session.get`, then `transaction.state` when the session has a transaction. Without a
    /// session id the create answer was lost, so the payer never got the client: NotFound.
    async fn sync(
        &self,
        account: &AccountContext,
        order: &OrderRef,
    ) -> Result<PspUpdate, ConnectorError> {
        let Some(session_id) = order.psp_transaction_id.as_deref() else {
            return Ok(PspUpdate::new(PspOutcome::NotFound, "session:NONE"));
        };
        let session = match self.session(account, session_id).await? {
            Ok(session) => session,
            Err(refusal) if refusal.is_not_found() => {
                return Ok(PspUpdate::new(PspOutcome::NotFound, "session:NOT_FOUND"));
            }
            Err(refusal) => {
                return Err(ConnectorError::Protocol(format!(
                    "session.get refused: {}",
                    refusal.message
                )));
            }
        };
        let reference = session.merchant_reference.as_deref().unwrap_or("");
        if !reference.is_empty() && reference != order.order_id.as_str() {
            return Err(ConnectorError::Protocol(
                "Brite session belongs to another merchant_reference".into(),
            ));
        }
        let mut update = match session.transaction_id.as_deref().filter(|t| !t.is_empty()) {
            Some(transaction_id) => {
                let state = self.transaction_state(account, transaction_id).await?.state;
                PspUpdate::new(
                    wire::transaction_outcome(state),
                    format!("transaction:{}", wire::transaction_state_name(state)),
                )
            }
            None => PspUpdate::new(
                wire::session_outcome(session.state),
                format!("session:{}", wire::session_state_name(session.state)),
            ),
        };
        update.class = wire::failure_class(update.outcome);
        update.psp_transaction_id = Some(session_id.to_owned());
        Ok(update)
    }

    /// Brite callbacks are unsigned and carry only Brite's ids: always
    /// [`CallbackOutcome::Unverified`] for the `order_id` of the callback URL. No `order_id`,
    /// or a body that is not a Brite callback ⇒ [`ConnectorError::BadCallback`].
    fn parse_callback(
        &self,
        _account: &AccountContext,
        request: &CallbackRequest,
    ) -> Result<CallbackOutcome, ConnectorError> {
        let body: wire::CallbackBody = serde_json::from_slice(&request.body)
            .map_err(|_| ConnectorError::BadCallback("body is not JSON".into()))?;
        let names_something = body.session_id.is_some() || body.transaction_id.is_some();
        if !names_something {
            return Err(ConnectorError::BadCallback(
                "neither session_id nor transaction_id".into(),
            ));
        }
        let order_id = serde_urlencoded::from_str::<Vec<(String, String)>>(&request.query)
            .unwrap_or_default()
            .into_iter()
            .find(|(k, _)| k == wire::ORDER_ID_PARAM)
            .map(|(_, v)| v)
            .ok_or_else(|| ConnectorError::BadCallback("no order_id in the URL".into()))?;
        let order_id = OrderId::parse(&order_id).ok_or_else(|| {
            ConnectorError::BadCallback("order_id is not an Overture transaction id".into())
        })?;
        Ok(CallbackOutcome::Unverified {
            order_id,
            why: "unsigned Brite callback",
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
            callback_url: "https://o.example/v1/api/psp-callbacks/brite/psp_1".into(),
        }
    }

    fn request(country: Option<&str>, currency: &str) -> PaymentRequest {
        PaymentRequest {
            order_id: OrderId::for_attempt(&overture_core::TransactionId::generate(), 1),
            txn_type: TxnType::Payin,
            amount: Money::parse_major("10.00", Currency::from_code(currency).unwrap()).unwrap(),
            user_id: "1".into(),
            email: "a@example.com".into(),
            country: country.map(str::to_owned),
            return_url: None,
            merchant_reference: None,
            extras: Default::default(),
        }
    }

    #[test]
    fn validation_checks_country_and_its_currency() {
        let b = Brite::new(PspHttp::new(
            Duration::from_secs(1),
            OutboundPolicy::default(),
        ));
        assert!(b.validate(&request(Some("SE"), "SEK")).is_ok());
        assert!(b.validate(&request(Some("fi"), "EUR")).is_ok());
        assert_eq!(
            b.validate(&request(None, "EUR")).unwrap_err().field,
            "country"
        );
        assert_eq!(
            b.validate(&request(Some("US"), "EUR")).unwrap_err().field,
            "country"
        );
        assert_eq!(
            b.validate(&request(Some("SE"), "EUR")).unwrap_err().field,
            "currency"
        );
        let mut from_token = request(None, "NOK");
        from_token.extras.insert("countryCode".into(), "NO".into());
        assert!(b.validate(&from_token).is_ok());
    }

    #[test]
    fn callbacks_subscribe_every_state_with_the_order_id() {
        let txn = OrderId::for_attempt(&overture_core::TransactionId::generate(), 1);
        let subs = callbacks(&account(), &txn);
        assert_eq!(subs.len(), 9);
        assert!(subs
            .iter()
            .all(|c| c.url.ends_with(&format!("?order_id={txn}"))
                && c.session_state.is_some() != c.transaction_state.is_some()));
    }

    #[test]
    fn callbacks_are_never_trusted() {
        let b = Brite::new(PspHttp::new(
            Duration::from_secs(1),
            OutboundPolicy::default(),
        ));
        let txn = OrderId::for_attempt(&overture_core::TransactionId::generate(), 1);
        let cb = |query: String, body: &str| CallbackRequest {
            method: "POST".into(),
            query,
            headers: Vec::new(),
            body: body.as_bytes().to_vec(),
        };
        let body = r#"{"merchant_id":"m","transaction_id":"t","transaction_state":5}"#;
        match b.parse_callback(&account(), &cb(format!("order_id={txn}"), body)) {
            Ok(CallbackOutcome::Unverified { order_id, .. }) => {
                assert_eq!(order_id, txn)
            }
            other => panic!("unexpected {other:?}"),
        }
        for (query, body) in [
            (String::new(), body),
            (format!("order_id={txn}"), r#"{"merchant_id":"m"}"#),
            (format!("order_id={txn}"), "nope"),
            ("order_id=ORD-1".to_owned(), body),
        ] {
            assert!(matches!(
                b.parse_callback(&account(), &cb(query, body)),
                Err(ConnectorError::BadCallback(_))
            ));
        }
    }
}
