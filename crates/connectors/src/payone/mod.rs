//! PAYONE connector: Interac for Canada through Payone (payonepayment.com), as Mozarto routes
//! `pspType: "PAYONE"`. Payone publishes no API; the protocol in [`wire`] is **assumed** and
//! every assumption is listed there.
//!
//! - Pay-in: `POST /api/v1/payments` ⇒ `webflowURL`, the Interac webflow page the customer
//!   completes (Overture's `data.url`).
//! - Payout: `POST /api/v1/payouts`, an Interac e-Transfer to the customer's e-mail (phone
//!   optional), no customer page. Single step: submitted at most once, and after a crash the
//!   order is looked up by `merchantReference` (Overture's transaction id) before anything else.
//! - Status: `GET /api/v1/transactions/{id}` (or `?merchantReference=`); final statuses also
//!   arrive as webhooks signed with HMAC-SHA256 over the raw body (`X-Payone-Signature`); a
//!   bad or missing signature makes the webhook only a hint to query the status.

pub mod wire;

use crate::http::{PspHttp, PspResponse};
use async_trait::async_trait;
use overture_core::connector::*;
use overture_core::{OrderId, TxnType};
use secrecy::ExposeSecret;
use serde::de::DeserializeOwned;
use wire::{CreatedOut, ErrorOut, PaymentIn, TransactionList, TransactionOut, WebhookIn};

/// Polling cadence; Payone publishes none, so this is our choice: every 5–10 s for the first
/// 15 minutes (a customer finishes the Interac webflow, and an auto-deposited e-Transfer
/// settles, within minutes), then every 5–15 minutes, giving up after 24 hours.
pub const POLL_SCHEDULE: PollSchedule = PollSchedule {
    fast: (5_000, 10_000),
    fast_window: 15 * 60_000,
    slow: (5 * 60_000, 15 * 60_000),
    give_up_after: 24 * 60 * 60_000,
};

const CAPABILITIES: Capabilities = Capabilities {
    psp_type: "PAYONE",
    display_name: "Payone (Interac)",
    payin: true,
    payout: true,
    currencies: &["CAD"],
    countries: &["CA"],
    // The payout goes to the (always required) e-mail; `phone` is optional and checked when
    // given (see `validate`).
    payin_fields: &[],
    payout_fields: &[],
    async_model: "webflow page (pay-in); HMAC-SHA256 signed webhook + transaction status polling",
    credential_fields: &["api_key", "webhook_secret"],
    poll_schedule: POLL_SCHEDULE,
    secret_fields: &[],
    final_by_callback: false,
};

/// The PAYONE connector. Credentials: `api_key` (sent as `X-Api-Key`) and `webhook_secret`
/// (the HMAC key of webhook signatures).
pub struct Payone {
    http: PspHttp,
    caps: Capabilities,
}

impl Payone {
    /// A connector sending every call through `http` (errors classified there).
    pub fn new(http: PspHttp) -> Self {
        Self {
            http,
            caps: CAPABILITIES,
        }
    }

    /// Sends `request` with the API key header, built from the secret at the last moment.
    async fn send(
        &self,
        account: &AccountContext,
        request: reqwest::RequestBuilder,
    ) -> Result<PspResponse, ConnectorError> {
        let key = account.credential("api_key")?.expose_secret();
        self.http
            .send(request.header(wire::API_KEY_HEADER, key))
            .await
    }

    /// `POST {base}{path}` with `body` as JSON: `Ok(Ok(created))` on 2xx, `Ok(Err(refusal))`
    /// on a 4xx with an [`ErrorOut`] body.
    async fn create(
        &self,
        account: &AccountContext,
        path: &str,
        body: &PaymentIn,
    ) -> Result<Result<CreatedOut, (u16, ErrorOut)>, ConnectorError> {
        let url = format!("{}{}", account.base_url, path);
        let response = self
            .send(account, self.http.client().post(url).json(body))
            .await?;
        if (200..300).contains(&response.status) {
            let created: CreatedOut = parse(&response)?;
            if created.merchant_reference != body.merchant_reference {
                return Err(ConnectorError::Protocol(
                    "PAYONE answered about another merchantReference".into(),
                ));
            }
            return Ok(Ok(created));
        }
        Ok(Err((response.status, parse(&response)?)))
    }

    /// The transaction for `order`: by Payone's id when known, else by `merchantReference`
    /// (`None` when Payone never received it).
    async fn lookup(
        &self,
        account: &AccountContext,
        order: &OrderRef,
    ) -> Result<Option<TransactionOut>, ConnectorError> {
        let base = format!("{}{}", account.base_url, wire::TRANSACTIONS_PATH);
        let found = match order.psp_transaction_id.as_deref() {
            Some(id) => {
                let url = format!("{base}/{}", urlencoding::encode(id));
                let response = self.send(account, self.http.client().get(url)).await?;
                Some(expect_ok::<TransactionOut>(&response)?)
            }
            None => {
                let request = self
                    .http
                    .client()
                    .get(base)
                    .query(&[("merchantReference", order.order_id.as_str())]);
                let response = self.send(account, request).await?;
                let list: TransactionList = expect_ok(&response)?;
                list.transactions
                    .into_iter()
                    .find(|t| t.merchant_reference == order.order_id.as_str())
            }
        };
        match found {
            Some(t) if t.merchant_reference != order.order_id.as_str() => Err(
                ConnectorError::Protocol("PAYONE answered about another merchantReference".into()),
            ),
            other => Ok(other),
        }
    }
}

/// Parses a JSON body, or [`ConnectorError::Protocol`] naming the status.
fn parse<T: DeserializeOwned>(response: &PspResponse) -> Result<T, ConnectorError> {
    serde_json::from_str(&response.body).map_err(|e| {
        ConnectorError::Protocol(format!(
            "PAYONE answer (HTTP {}) unreadable: {e}",
            response.status
        ))
    })
}

/// A 2xx JSON body; anything else is unexpected here (401/404/5xx were classified already).
fn expect_ok<T: DeserializeOwned>(response: &PspResponse) -> Result<T, ConnectorError> {
    if !(200..300).contains(&response.status) {
        return Err(ConnectorError::Protocol(format!(
            "PAYONE answered HTTP {}: {}",
            response.status,
            response.body.chars().take(200).collect::<String>()
        )));
    }
    parse(response)
}

/// The creation body for `request`; `webhook_url` is Overture's callback URL.
fn payment_in(account: &AccountContext, request: &PaymentRequest) -> PaymentIn {
    let extra = |name: &str| {
        request
            .extras
            .get(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    PaymentIn {
        merchant_reference: request.order_id.to_string(),
        amount: request.amount.to_major_string(),
        currency: request.amount.currency().code().to_owned(),
        user_id: request.user_id.clone(),
        email: request.email.clone(),
        first_name: extra("firstName"),
        last_name: extra("lastName"),
        phone: extra("phone").and_then(|p| wire::normalize_phone(&p)),
        user_ip: extra("userIp"),
        country: request.country.clone(),
        return_url: match request.txn_type {
            TxnType::Payin => request.return_url.clone(),
            TxnType::Payout => None,
        },
        webhook_url: Some(account.callback_url.clone()),
    }
}

fn update_from(t: &TransactionOut) -> PspUpdate {
    PspUpdate {
        psp_transaction_id: Some(t.transaction_id.clone()),
        message: t.message.clone().filter(|m| !m.is_empty()),
        class: wire::failure_class(&t.status),
        ..PspUpdate::new(wire::map_status(&t.status), t.status.clone())
    }
}

fn refusal_text((status, refusal): &(u16, ErrorOut)) -> String {
    format!(
        "{} (HTTP {status}, {})",
        refusal.error.message, refusal.error.code
    )
}

#[async_trait]
impl Connector for Payone {
    fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    /// The capability table's checks, plus the phone format Interac needs when one is given.
    fn validate(&self, request: &PaymentRequest) -> Result<(), FieldError> {
        if let Some(phone) = request.extras.get("phone").filter(|p| !p.trim().is_empty()) {
            if wire::normalize_phone(phone).is_none() {
                return Err(FieldError {
                    field: "phone".into(),
                    message: "phone must have 10 or 11 digits (Canadian number)".into(),
                });
            }
        }
        if let Some(country) = request.country.as_deref() {
            if country != "CA" {
                return Err(FieldError {
                    field: "country".into(),
                    message: "PAYONE (Interac) serves CA only".into(),
                });
            }
        }
        Ok(())
    }

    /// `POST /api/v1/payments`; the answer's `webflowURL` is the page. A refusal is
    /// [`ConnectorError::Protocol`]: there is no page, and `sync` then finds no order.
    async fn start_payin(
        &self,
        account: &AccountContext,
        request: &PaymentRequest,
    ) -> Result<PayinStarted, ConnectorError> {
        let body = payment_in(account, request);
        let created = self
            .create(account, wire::PAYMENTS_PATH, &body)
            .await?
            .map_err(|refusal| {
                ConnectorError::Protocol(format!(
                    "PAYONE refused the pay-in: {}",
                    refusal_text(&refusal)
                ))
            })?;
        let redirect_url = created
            .webflow_url
            .clone()
            .filter(|u| !u.is_empty())
            .ok_or_else(|| ConnectorError::Protocol("PAYONE pay-in without webflowURL".into()))?;
        Ok(PayinStarted {
            redirect_url: Some(redirect_url),
            update: PspUpdate {
                psp_transaction_id: Some(created.transaction_id),
                class: wire::failure_class(&created.status),
                ..PspUpdate::new(wire::map_status(&created.status), created.status)
            },
        })
    }

    /// `POST /api/v1/payouts`. A 400 refusal is a decline (nothing was created); a reused
    /// `merchantReference` reports the existing order instead.
    async fn submit_payout(
        &self,
        account: &AccountContext,
        request: &PaymentRequest,
    ) -> Result<PspUpdate, ConnectorError> {
        if request.txn_type != TxnType::Payout {
            return Err(ConnectorError::Unsupported(
                "PAYONE submit_payout needs a PAYOUT".into(),
            ));
        }
        let body = payment_in(account, request);
        match self.create(account, wire::PAYOUTS_PATH, &body).await? {
            Ok(created) => Ok(PspUpdate {
                psp_transaction_id: Some(created.transaction_id),
                class: wire::failure_class(&created.status),
                ..PspUpdate::new(wire::map_status(&created.status), created.status)
            }),
            Err((409, refusal)) if refusal.error.code == wire::CODE_DUPLICATE => {
                tracing::warn!(transaction_id = %request.order_id,
                    "PAYONE reports the payout exists already; asking its status");
                let order = OrderRef {
                    order_id: request.order_id.clone(),
                    txn_type: request.txn_type,
                    amount: request.amount,
                    psp_transaction_id: refusal.error.transaction_id,
                    stage: None,
                    extras: request.extras.clone(),
                };
                self.sync(account, &order).await
            }
            Err((400, refusal)) => Ok(PspUpdate {
                message: Some(refusal_text(&(400, refusal))),
                ..PspUpdate::failed(PspOutcome::Declined, "refused", FailureClass::NotProcessed)
            }),
            Err(other) => Err(ConnectorError::Protocol(format!(
                "PAYONE payout answer: {}",
                refusal_text(&other)
            ))),
        }
    }

    /// `GET /api/v1/transactions/{id}` (or by `merchantReference` when the id was never
    /// stored); unknown ⇒ [`PspOutcome::NotFound`].
    async fn sync(
        &self,
        account: &AccountContext,
        order: &OrderRef,
    ) -> Result<PspUpdate, ConnectorError> {
        Ok(match self.lookup(account, order).await? {
            Some(t) => update_from(&t),
            None => PspUpdate::new(PspOutcome::NotFound, "not-found"),
        })
    }

    /// Webhook: JSON [`WebhookIn`] with `X-Payone-Signature` = hex HMAC-SHA256 of the raw
    /// body under `webhook_secret`. Bad or missing signature ⇒ [`CallbackOutcome::Unverified`];
    /// unreadable body or no Overture `merchantReference` ⇒ [`ConnectorError::BadCallback`].
    fn parse_callback(
        &self,
        account: &AccountContext,
        request: &CallbackRequest,
    ) -> Result<CallbackOutcome, ConnectorError> {
        let secret = account.credential("webhook_secret")?.expose_secret();
        let body: WebhookIn = serde_json::from_slice(&request.body).map_err(|e| {
            ConnectorError::BadCallback(format!("body is not the JSON webhook: {e}"))
        })?;
        let order_id = OrderId::parse(&body.merchant_reference).ok_or_else(|| {
            ConnectorError::BadCallback(
                "merchantReference is not an Overture transaction id".into(),
            )
        })?;
        let header = wire::SIGNATURE_HEADER.to_ascii_lowercase();
        let signature = request
            .headers
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(&header))
            .map(|(_, value)| value.as_str());
        let why = match signature {
            None => Some("missing signature"),
            Some(sig) if !wire::verify_webhook(secret, &request.body, sig) => Some("bad signature"),
            Some(_) if body.status.trim().is_empty() => {
                return Err(ConnectorError::BadCallback("webhook without status".into()))
            }
            Some(_) => None,
        };
        if let Some(why) = why {
            tracing::warn!(order_id = %order_id, why,
                "PAYONE webhook not verified; will query the status instead");
            return Ok(CallbackOutcome::Unverified { order_id, why });
        }
        let update = PspUpdate {
            psp_transaction_id: Some(body.transaction_id.clone()).filter(|id| !id.is_empty()),
            message: body.message.clone().filter(|m| !m.is_empty()),
            class: wire::failure_class(&body.status),
            ..PspUpdate::new(wire::map_status(&body.status), body.status.clone())
        };
        let claims = CallbackClaims {
            psp_transaction_id: Some(body.transaction_id.clone()).filter(|id| !id.is_empty()),
            amount: Some(body.amount.clone()).filter(|a| !a.is_empty()),
            currency: Some(body.currency.clone()).filter(|c| !c.is_empty()),
        };
        Ok(CallbackOutcome::Verified {
            order_id,
            update,
            claims,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::OutboundPolicy;
    use overture_core::{Credentials, Currency, Money, PspAccountId};
    use secrecy::SecretString;
    use std::collections::BTreeMap;
    use std::time::Duration;

    const SECRET: &str = "whsec_unit";

    fn account() -> AccountContext {
        AccountContext {
            account_id: PspAccountId::generate(),
            base_url: "http://127.0.0.1:9".into(),
            credentials: Credentials(BTreeMap::from([(
                "webhook_secret".to_owned(),
                SecretString::from(SECRET),
            )])),
            callback_url: "http://127.0.0.1:9/cb".into(),
        }
    }

    fn webhook(body: &str, signature: Option<String>) -> Result<CallbackOutcome, ConnectorError> {
        let headers = signature
            .map(|s| vec![("x-payone-signature".to_owned(), s)])
            .unwrap_or_default();
        Payone::new(PspHttp::new(
            Duration::from_secs(1),
            OutboundPolicy::default(),
        ))
        .parse_callback(
            &account(),
            &CallbackRequest {
                method: "POST".into(),
                query: String::new(),
                headers,
                body: body.as_bytes().to_vec(),
            },
        )
    }

    #[test]
    fn signed_webhook_is_verified_and_tampering_is_not() {
        let txn = OrderId::for_attempt(&overture_core::TransactionId::generate(), 1);
        let body = format!(
            r#"{{"transaction_id":"po_1","status":"confirmed","merchantReference":"{txn}","amount":"10.00","currency":"CAD"}}"#
        );
        let good = wire::sign_webhook(SECRET, body.as_bytes());
        match webhook(&body, Some(good.clone())).unwrap() {
            CallbackOutcome::Verified {
                order_id,
                update,
                claims,
            } => {
                assert_eq!(order_id, txn);
                assert_eq!(update.outcome, PspOutcome::Approved);
                assert_eq!(update.psp_transaction_id.as_deref(), Some("po_1"));
                assert_eq!(claims.amount.as_deref(), Some("10.00"));
                assert_eq!(claims.currency.as_deref(), Some("CAD"));
            }
            other => panic!("{other:?}"),
        }
        let tampered = body.replace("confirmed", "declined");
        for (body, sig, why) in [
            (tampered.as_str(), Some(good), "bad signature"),
            (body.as_str(), None, "missing signature"),
        ] {
            assert!(matches!(
                webhook(body, sig),
                Ok(CallbackOutcome::Unverified { why: w, .. }) if w == why
            ));
        }
        assert!(matches!(
            webhook(r#"{"status":"confirmed"}"#, None),
            Err(ConnectorError::BadCallback(_))
        ));
        assert!(matches!(
            webhook("nope", None),
            Err(ConnectorError::BadCallback(_))
        ));
    }

    #[test]
    fn validate_checks_phone_and_country() {
        let payone = Payone::new(PspHttp::new(
            Duration::from_secs(1),
            OutboundPolicy::default(),
        ));
        let mut request = PaymentRequest {
            order_id: OrderId::for_attempt(&overture_core::TransactionId::generate(), 1),
            txn_type: TxnType::Payout,
            amount: Money::parse_major("10", Currency::from_code("CAD").unwrap()).unwrap(),
            user_id: "u1".into(),
            email: "a@example.ca".into(),
            country: Some("CA".into()),
            return_url: Some("https://mp.example/back".into()),
            merchant_reference: None,
            extras: BTreeMap::from([("phone".to_owned(), "+1 416 555 0199".to_owned())]),
        };
        assert!(payone.validate(&request).is_ok());
        let body = payment_in(&account(), &request);
        assert_eq!(body.amount, "10.00");
        assert_eq!(body.phone.as_deref(), Some("14165550199"));
        assert_eq!(body.return_url, None, "payouts have no page to return from");
        request.extras.insert("phone".into(), "12345".into());
        assert_eq!(payone.validate(&request).unwrap_err().field, "phone");
        request.extras.clear();
        request.country = Some("US".into());
        assert_eq!(payone.validate(&request).unwrap_err().field, "country");
    }
}
