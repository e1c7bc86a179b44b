//! NEOSURF connector: prepaid vouchers through Neosurf's hosted "pay" page, version 3. The
//! wire format, its sources and every assumed detail are in [`wire`].
//!
//! - Pay-in: the signed form (`hash` = SHA-512 of the sorted values plus the secret key) is
//!   posted to the account's base URL; the page URL is taken out of the HTML answer and is
//!   Overture's `data.url`. The customer types the voucher PIN on Neosurf's page, never on
//!   Overture's. `expiry` is sent [`PAGE_LIFETIME_SECS`] after creation.
//! - Callback (to `urlCallback`, Overture's callback URL): verified with the same hash rule;
//!   it carries `merchantTransactionId` (the order id), `amount` (minor units) and `currency`,
//!   which the server compares with the stored order before anything is applied.
//! - Mozarto's NEOSURF page says the PIN is collected in the merchant's own interface and no
//!   `data.url` is returned, yet its newer configuration (hash key, ok/ko/pending URLs) is
//!   that of the hosted page every integration uses; Overture follows the hosted page and
//!   returns its URL.
//! - Status: Neosurf publishes none, so [`Capabilities::final_by_callback`] is set: a verified,
//!   fully matching callback is applied as final, and `sync` invents no query (it answers
//!   Pending). A pay-in with no callback fails with reason `timeout` when [`POLL_SCHEDULE`]
//!   gives up, two hours after submission (see there).

pub mod wire;

use crate::http::PspHttp;
use async_trait::async_trait;
use overture_core::connector::*;
use overture_core::{Currency, Money, OrderId, TxnType};
use secrecy::ExposeSecret;
use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};
use wire::{CallbackIn, PayIn};

/// How long the Neosurf page stays usable (`expiry`), our choice: an hour is plenty to buy or
/// find a voucher and type it, and bounds when a payment can still happen.
pub const PAGE_LIFETIME_SECS: u64 = 60 * 60;

/// No status query exists, so polling asks nothing; this schedule only closes a pay-in whose
/// callback never came: after two hours, the page's one-hour lifetime ([`PAGE_LIFETIME_SECS`],
/// after which no payment can start) plus an hour for a late or resent callback.
pub const POLL_SCHEDULE: PollSchedule = PollSchedule {
    fast: (60_000, 120_000),
    fast_window: 15 * 60_000,
    slow: (10 * 60_000, 15 * 60_000),
    give_up_after: 2 * 60 * 60_000,
};

/// The raw status of a pay-in waiting for its callback.
pub const WAITING: &str = "waiting-callback";

const CAPABILITIES: Capabilities = Capabilities {
    psp_type: "NEOSURF",
    display_name: "Neosurf (voucher)",
    payin: true,
    payout: false,
    // Currencies Neosurf vouchers are sold in [inferred from Neosurf's markets].
    currencies: &["AUD", "CAD", "CHF", "EUR", "GBP", "NZD", "PLN", "USD"],
    countries: &[],
    payin_fields: &[],
    payout_fields: &[],
    async_model: "hosted voucher page; SHA-512 hashed callback applied as final (no status query)",
    credential_fields: &["merchant_id", "secret_key"],
    poll_schedule: POLL_SCHEDULE,
    secret_fields: &[],
    final_by_callback: true,
};

/// The NEOSURF connector. Credentials: `merchant_id` and `secret_key` (the hash key).
pub struct Neosurf {
    http: PspHttp,
    caps: Capabilities,
}

impl Neosurf {
    /// A connector sending every call through `http`.
    pub fn new(http: PspHttp) -> Self {
        Self {
            http,
            caps: CAPABILITIES,
        }
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The create fields for `request`, signed.
fn payin_fields(
    account: &AccountContext,
    request: &PaymentRequest,
) -> Result<BTreeMap<String, String>, ConnectorError> {
    let payin = PayIn {
        amount: request.amount.minor().to_string(),
        currency: request.amount.currency().code().to_ascii_lowercase(),
        language: "en".into(),
        merchant_id: account
            .credential("merchant_id")?
            .expose_secret()
            .to_owned(),
        merchant_transaction_id: request.order_id.to_string(),
        prohibited_for_minors: "yes".into(),
        return_url: request.return_url.clone(),
        url_callback: account.callback_url.clone(),
        expiry: Some(wire::expiry_at(now_secs() + PAGE_LIFETIME_SECS)),
    };
    Ok(payin.fields(account.credential("secret_key")?.expose_secret()))
}

/// The callback's fields: a form body, or JSON (values as text).
fn callback_fields(request: &CallbackRequest) -> Result<BTreeMap<String, String>, ConnectorError> {
    let is_json = request
        .headers
        .iter()
        .any(|(name, value)| name == "content-type" && value.to_ascii_lowercase().contains("json"));
    if !is_json {
        let body: BTreeMap<String, String> = serde_urlencoded::from_bytes(&request.body)
            .map_err(|e| ConnectorError::BadCallback(format!("form body: {e}")))?;
        return Ok(body);
    }
    let value: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&request.body)
            .map_err(|e| ConnectorError::BadCallback(format!("JSON body: {e}")))?;
    Ok(value
        .into_iter()
        .map(|(k, v)| {
            let text = match v {
                serde_json::Value::String(s) => s,
                serde_json::Value::Null => String::new(),
                other => other.to_string(),
            };
            (k, text)
        })
        .collect())
}

/// The callback's amount (minor units) in major units of its currency, as the server compares
/// it; `None` when either is unreadable.
fn claimed_amount(callback: &CallbackIn) -> Option<(String, String)> {
    let currency = Currency::from_code(&callback.currency.trim().to_ascii_uppercase())?;
    let minor: i64 = callback.amount.trim().parse().ok()?;
    let money = Money::from_minor(minor, currency).ok()?;
    Some((money.to_major_string(), currency.code().to_owned()))
}

#[async_trait]
impl Connector for Neosurf {
    fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    /// Neosurf publishes no authenticated call besides creating a payment page (no status
    /// query, no account call), so there is nothing to prove the credentials with that leaves
    /// no trace: refused as unsupported. The first pay-in proves them.
    async fn test_credentials(&self, _account: &AccountContext) -> Result<(), ConnectorError> {
        Err(ConnectorError::Unsupported(
            "NEOSURF has no API call that proves credentials without creating a payment page; \
             the first pay-in's page proves them"
                .into(),
        ))
    }

    /// Posts the signed form; the page URL comes out of the HTML answer. HTTP 400 (Neosurf
    /// refused the request, no page exists) is a final failure, not processed.
    async fn start_payin(
        &self,
        account: &AccountContext,
        request: &PaymentRequest,
    ) -> Result<PayinStarted, ConnectorError> {
        let fields = payin_fields(account, request)?;
        // The base URL itself (`https://pay.neosurf.com`): the PSP's root is the endpoint.
        let request = self.http.client().post(&account.base_url).form(&fields);
        let response = self.http.send(request).await?;
        if response.status == 400 {
            let reason: String = response.body.chars().take(300).collect();
            return Ok(PayinStarted {
                redirect_url: None,
                update: PspUpdate {
                    message: Some(format!("Neosurf refused the pay-in: {reason}")),
                    ..PspUpdate::failed(PspOutcome::Failed, "refused", FailureClass::NotProcessed)
                },
            });
        }
        let page = (response.status == 200)
            .then(|| wire::page_url(&response.body))
            .flatten()
            .ok_or_else(|| {
                ConnectorError::Protocol(format!(
                    "Neosurf answer (HTTP {}) names no page",
                    response.status
                ))
            })?;
        Ok(PayinStarted {
            redirect_url: Some(page),
            update: PspUpdate::new(PspOutcome::Pending, WAITING),
        })
    }

    /// NEOSURF pays nothing out.
    async fn submit_payout(
        &self,
        _account: &AccountContext,
        _request: &PaymentRequest,
    ) -> Result<PspUpdate, ConnectorError> {
        Err(ConnectorError::Unsupported("NEOSURF has no payouts".into()))
    }

    /// No status query exists: Pending, without any call (the callback decides).
    async fn sync(
        &self,
        _account: &AccountContext,
        order: &OrderRef,
    ) -> Result<PspUpdate, ConnectorError> {
        if order.txn_type != TxnType::Payin {
            return Err(ConnectorError::Unsupported("NEOSURF has no payouts".into()));
        }
        Ok(PspUpdate::new(PspOutcome::Pending, WAITING))
    }

    /// The callback: form (or JSON) fields with `hash`. No order id ⇒ [`ConnectorError::BadCallback`];
    /// a missing or wrong hash ⇒ [`CallbackOutcome::Unverified`]; else the status with
    /// claims (Neosurf's id, amount in major units, currency).
    fn parse_callback(
        &self,
        account: &AccountContext,
        request: &CallbackRequest,
    ) -> Result<CallbackOutcome, ConnectorError> {
        let secret = account.credential("secret_key")?.expose_secret();
        let fields = callback_fields(request)?;
        let reference = fields
            .get("merchantTransactionId")
            .map(String::as_str)
            .unwrap_or("");
        let order_id = OrderId::parse(reference).ok_or_else(|| {
            ConnectorError::BadCallback("merchantTransactionId is not an Overture order id".into())
        })?;
        let why = match fields.get(wire::HASH_FIELD) {
            None => Some("missing hash"),
            Some(_) if !wire::verify(&fields, secret) => Some("bad hash"),
            Some(_) => None,
        };
        if let Some(why) = why {
            tracing::warn!(%order_id, why, "NEOSURF callback not verified; ignored");
            return Ok(CallbackOutcome::Unverified { order_id, why });
        }
        let value = serde_json::to_value(&fields).unwrap_or_default();
        let callback: CallbackIn = serde_json::from_value(value)
            .map_err(|e| ConnectorError::BadCallback(format!("callback fields: {e}")))?;
        let merchant = account.credential("merchant_id")?.expose_secret();
        if callback.merchant_id != *merchant {
            return Err(ConnectorError::BadCallback(
                "callback for another merchantId".into(),
            ));
        }
        let (amount, currency) = claimed_amount(&callback)
            .ok_or_else(|| ConnectorError::BadCallback("unreadable amount or currency".into()))?;
        let psp_id = Some(callback.transaction_id.clone()).filter(|t| !t.is_empty());
        let message = [
            callback.error_code.as_str(),
            callback.error_message.as_str(),
        ]
        .iter()
        .filter(|s| !s.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join(": ");
        let update = PspUpdate {
            class: wire::failure_class(&callback.status, &callback.error_code),
            psp_transaction_id: psp_id.clone(),
            message: Some(message).filter(|m| !m.is_empty()),
            ..PspUpdate::new(
                wire::map_status(&callback.status, &callback.error_code),
                callback.status.to_ascii_lowercase(),
            )
        };
        Ok(CallbackOutcome::Verified {
            order_id,
            update,
            claims: CallbackClaims {
                psp_transaction_id: psp_id,
                amount: Some(amount),
                currency: Some(currency),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::OutboundPolicy;
    use overture_core::{Credentials, PspAccountId, TransactionId};
    use secrecy::SecretString;
    use std::time::Duration;

    fn account() -> AccountContext {
        AccountContext {
            account_id: PspAccountId::generate(),
            base_url: "http://127.0.0.1:9".into(),
            credentials: Credentials(BTreeMap::from([
                ("merchant_id".to_owned(), SecretString::from("24842")),
                ("secret_key".to_owned(), SecretString::from("k3y")),
            ])),
            callback_url: "http://127.0.0.1:9/cb".into(),
        }
    }

    fn parse(body: Vec<u8>, json: bool) -> Result<CallbackOutcome, ConnectorError> {
        let content_type = if json {
            "application/json"
        } else {
            "application/x-www-form-urlencoded"
        };
        Neosurf::new(PspHttp::new(
            Duration::from_secs(1),
            OutboundPolicy::default(),
        ))
        .parse_callback(
            &account(),
            &CallbackRequest {
                method: "POST".into(),
                query: String::new(),
                headers: vec![("content-type".into(), content_type.into())],
                body,
            },
        )
    }

    fn callback(order: &OrderId, status: &str) -> CallbackIn {
        CallbackIn {
            amount: "2050".into(),
            currency: "eur".into(),
            merchant_id: "24842".into(),
            merchant_transaction_id: order.to_string(),
            status: status.into(),
            transaction_id: "ns-1".into(),
            ..Default::default()
        }
    }

    #[test]
    fn hashed_callbacks_verify_as_form_or_json_and_carry_claims() {
        let order = OrderId::for_attempt(&TransactionId::generate(), 1);
        let fields = callback(&order, "ok").fields("k3y");
        let form = serde_urlencoded::to_string(&fields).unwrap().into_bytes();
        let json = serde_json::to_vec(&fields).unwrap();
        for (body, is_json) in [(form, false), (json, true)] {
            match parse(body, is_json).unwrap() {
                CallbackOutcome::Verified {
                    order_id,
                    update,
                    claims,
                } => {
                    assert_eq!(order_id, order);
                    assert_eq!(update.outcome, PspOutcome::Approved);
                    assert_eq!(
                        claims.amount.as_deref(),
                        Some("20.50"),
                        "minor units read as major"
                    );
                    assert_eq!(claims.currency.as_deref(), Some("EUR"));
                    assert_eq!(claims.psp_transaction_id.as_deref(), Some("ns-1"));
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn forged_or_foreign_callbacks_are_not_taken() {
        let order = OrderId::for_attempt(&TransactionId::generate(), 1);
        let forged = callback(&order, "ok").fields("not-our-key");
        let body = serde_urlencoded::to_string(&forged).unwrap().into_bytes();
        assert!(matches!(
            parse(body, false).unwrap(),
            CallbackOutcome::Unverified {
                why: "bad hash",
                ..
            }
        ));
        let mut unsigned = callback(&order, "ok").fields("k3y");
        unsigned.remove("hash");
        let body = serde_urlencoded::to_string(&unsigned).unwrap().into_bytes();
        assert!(matches!(
            parse(body, false).unwrap(),
            CallbackOutcome::Unverified {
                why: "missing hash",
                ..
            }
        ));
        let mut other = callback(&order, "ok");
        other.merchant_id = "99999".into();
        let body = serde_urlencoded::to_string(other.fields("k3y"))
            .unwrap()
            .into_bytes();
        assert!(matches!(
            parse(body, false),
            Err(ConnectorError::BadCallback(_))
        ));
        let mut no_order = callback(&order, "ok");
        no_order.merchant_transaction_id = "123".into();
        let body = serde_urlencoded::to_string(no_order.fields("k3y"))
            .unwrap()
            .into_bytes();
        assert!(matches!(
            parse(body, false),
            Err(ConnectorError::BadCallback(_))
        ));
    }

    #[test]
    fn declines_carry_their_class_and_reason() {
        let order = OrderId::for_attempt(&TransactionId::generate(), 1);
        let mut ko = callback(&order, "ko");
        ko.error_code = "DECLINED".into();
        ko.error_message = "Voucher refused".into();
        let body = serde_urlencoded::to_string(ko.fields("k3y"))
            .unwrap()
            .into_bytes();
        match parse(body, false).unwrap() {
            CallbackOutcome::Verified { update, .. } => {
                assert_eq!(update.outcome, PspOutcome::Declined);
                assert_eq!(update.failure_class(), FailureClass::SoftDecline);
                assert_eq!(update.message.as_deref(), Some("DECLINED: Voucher refused"));
            }
            other => panic!("{other:?}"),
        }
    }
}
