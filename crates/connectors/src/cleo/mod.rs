//! CLEO connector: bank transfers in Chile, Peru and Mexico through Cleo (cleo.cl / cleo.pe),
//! pay-in and payout. Cleo publishes no API; the protocol in [`wire`] is **assumed** and every
//! assumption is listed there, beside the few published facts it keeps: local currency per
//! country (CLP for CL, PEN for PE, MXN for MX; any other pair is refused with a field error
//! before any call), CLP amounts in whole pesos, and one API key per country chosen by the
//! request's country (`api_key_cl`, `api_key_pe`, `api_key_mx`).
//!
//! - Pay-in: `POST /v1/payins` ⇒ `checkout_url`, the hosted bank-transfer page (`data.url`).
//! - Payout: `POST /v1/payouts` to the account in `bankAccount` (CLABE, CCI, or Chilean
//!   account with `bankCode` and RUT `documentId`; [`fields`]). Submitted at most once; after a
//!   crash the order is looked up by reference (the order id) before anything else.
//! - Status: `GET /v1/transactions/{id}` (or `?reference=`), with the key of the order's
//!   country (its currency names it). Webhooks are HMAC-SHA256 signed, and only a hint to ask
//!   the status.

pub mod fields;
pub mod wire;

use crate::http::{PspHttp, PspResponse};
use async_trait::async_trait;
use overture_core::connector::*;
use overture_core::{OrderId, TxnType};
use secrecy::ExposeSecret;
use serde::de::DeserializeOwned;
use wire::{
    Beneficiary, CreatedOut, Customer, ErrorOut, PayinIn, PayoutIn, TransactionList,
    TransactionOut, WebhookIn,
};

/// Polling cadence, our choice (Cleo publishes none): every 10–20 s for 15 minutes (a
/// customer completes a bank transfer in minutes, and transfers between Chilean, Peruvian and
/// Mexican banks settle in seconds to minutes: SPEI, CCE, TEF), then every 10–20 minutes,
/// giving up after 24 hours.
pub const POLL_SCHEDULE: PollSchedule = PollSchedule {
    fast: (10_000, 20_000),
    fast_window: 15 * 60_000,
    slow: (10 * 60_000, 20 * 60_000),
    give_up_after: 24 * 60 * 60_000,
};

const CAPABILITIES: Capabilities = Capabilities {
    psp_type: "CLEO",
    display_name: "Cleo (bank transfer)",
    payin: true,
    payout: true,
    currencies: &["CLP", "MXN", "PEN"],
    countries: &["CL", "MX", "PE"],
    payin_fields: &["country"],
    payout_fields: &["country", "bankAccount"],
    async_model: "hosted bank-transfer page (pay-in); HMAC-SHA256 signed webhook + transaction status polling",
    credential_fields: &["api_key_cl", "api_key_pe", "api_key_mx", "webhook_secret"],
    poll_schedule: POLL_SCHEDULE,
    secret_fields: &[],
    final_by_callback: false,
};

/// The CLEO connector. Credentials: one API key per country (`api_key_cl`, `api_key_pe`,
/// `api_key_mx`) and `webhook_secret`.
pub struct Cleo {
    http: PspHttp,
    caps: Capabilities,
}

/// The request's country: the body's `country`, else the user token's `countryCode`.
fn country_of_request(request: &PaymentRequest) -> Option<String> {
    request
        .country
        .clone()
        .or_else(|| request.extras.get("countryCode").cloned())
        .map(|c| c.trim().to_ascii_uppercase())
        .filter(|c| !c.is_empty())
}

fn extra(request: &PaymentRequest, name: &str) -> Option<String> {
    request
        .extras
        .get(name)
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

impl Cleo {
    /// A connector sending every call through `http`.
    pub fn new(http: PspHttp) -> Self {
        Self {
            http,
            caps: CAPABILITIES,
        }
    }

    /// Sends `request` with the API key of `country`, built from the secret at the last moment.
    async fn send(
        &self,
        account: &AccountContext,
        country: &str,
        request: reqwest::RequestBuilder,
    ) -> Result<PspResponse, ConnectorError> {
        let name = wire::key_name(country)
            .ok_or_else(|| ConnectorError::Unsupported(format!("CLEO does not serve {country}")))?;
        let key = account.credential(name)?.expose_secret();
        self.http.send(request.bearer_auth(key)).await
    }

    /// `POST {base}{path}`: `Ok(Ok(created))` on 2xx, `Ok(Err((status, refusal)))` on a 4xx
    /// with an [`ErrorOut`] body.
    async fn create<B: serde::Serialize + Sync>(
        &self,
        account: &AccountContext,
        country: &str,
        path: &str,
        reference: &str,
        body: &B,
    ) -> Result<Result<CreatedOut, (u16, ErrorOut)>, ConnectorError> {
        let url = format!("{}{path}", account.base_url);
        let response = self
            .send(account, country, self.http.client().post(url).json(body))
            .await?;
        if (200..300).contains(&response.status) {
            let created: CreatedOut = parse(&response)?;
            if created.reference != reference {
                return Err(ConnectorError::Protocol(
                    "CLEO answered about another reference".into(),
                ));
            }
            return Ok(Ok(created));
        }
        Ok(Err((response.status, parse(&response)?)))
    }

    /// The transaction for `order`, by Cleo's id when known, else by reference (`None`: Cleo
    /// never received it).
    async fn lookup(
        &self,
        account: &AccountContext,
        order: &OrderRef,
    ) -> Result<Option<TransactionOut>, ConnectorError> {
        let currency = order.amount.currency().code();
        let country = wire::country_of(currency)
            .ok_or_else(|| ConnectorError::Unsupported(format!("CLEO does not take {currency}")))?;
        let base = format!("{}{}", account.base_url, wire::TRANSACTIONS_PATH);
        let reference = order.order_id.as_str();
        let found = match order.psp_transaction_id.as_deref() {
            Some(id) => {
                let url = format!("{base}/{}", urlencoding::encode(id));
                let response = self
                    .send(account, country, self.http.client().get(url))
                    .await?;
                Some(expect_ok::<TransactionOut>(&response)?)
            }
            None => {
                let request = self
                    .http
                    .client()
                    .get(base)
                    .query(&[("reference", reference)]);
                let response = self.send(account, country, request).await?;
                let list: TransactionList = expect_ok(&response)?;
                list.data.into_iter().find(|t| t.reference == reference)
            }
        };
        match found {
            Some(t) if t.reference != reference => Err(ConnectorError::Protocol(
                "CLEO answered about another reference".into(),
            )),
            other => Ok(other),
        }
    }
}

fn parse<T: DeserializeOwned>(response: &PspResponse) -> Result<T, ConnectorError> {
    serde_json::from_str(&response.body).map_err(|e| {
        ConnectorError::Protocol(format!(
            "CLEO answer (HTTP {}) unreadable: {e}",
            response.status
        ))
    })
}

fn expect_ok<T: DeserializeOwned>(response: &PspResponse) -> Result<T, ConnectorError> {
    if !(200..300).contains(&response.status) {
        return Err(ConnectorError::Protocol(format!(
            "CLEO answered HTTP {}",
            response.status
        )));
    }
    parse(response)
}

fn update_of(status: &str, id: &str, message: Option<String>) -> PspUpdate {
    PspUpdate {
        psp_transaction_id: Some(id.to_owned()).filter(|i| !i.is_empty()),
        message: message.filter(|m| !m.is_empty()),
        class: wire::failure_class(status),
        ..PspUpdate::new(wire::map_status(status), status.to_owned())
    }
}

fn refusal_text((status, refusal): &(u16, ErrorOut)) -> String {
    let field = refusal
        .error
        .field
        .as_deref()
        .map(|f| format!(", field {f}"))
        .unwrap_or_default();
    format!(
        "{} (HTTP {status}, {}{field})",
        refusal.error.message, refusal.error.code
    )
}

fn payin_body(account: &AccountContext, request: &PaymentRequest, country: &str) -> PayinIn {
    PayinIn {
        reference: request.order_id.to_string(),
        amount: wire::amount_text(request.amount),
        currency: request.amount.currency().code().to_owned(),
        country: country.to_owned(),
        customer: Customer {
            id: request.user_id.clone(),
            email: request.email.clone(),
            first_name: extra(request, "firstName"),
            last_name: extra(request, "lastName"),
            phone: extra(request, "phone"),
            document_id: extra(request, "documentId"),
        },
        return_url: request.return_url.clone(),
        webhook_url: account.callback_url.clone(),
    }
}

fn payout_body(account: &AccountContext, request: &PaymentRequest, country: &str) -> PayoutIn {
    let name = [extra(request, "firstName"), extra(request, "lastName")]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    PayoutIn {
        reference: request.order_id.to_string(),
        amount: wire::amount_text(request.amount),
        currency: request.amount.currency().code().to_owned(),
        country: country.to_owned(),
        beneficiary: Beneficiary {
            name,
            email: request.email.clone(),
            document_id: extra(request, "documentId").map(|d| fields::normalize_rut(&d)),
            bank_code: extra(request, "bankCode"),
            account_number: extra(request, "bankAccount").unwrap_or_default(),
        },
        webhook_url: account.callback_url.clone(),
    }
}

/// The country the request names; the create paths call it after `validate` accepted it.
fn served_country(request: &PaymentRequest) -> Result<String, ConnectorError> {
    country_of_request(request)
        .filter(|c| wire::currency_of(c) == Some(request.amount.currency().code()))
        .ok_or_else(|| {
            ConnectorError::Unsupported("CLEO needs a served country and its currency".into())
        })
}

#[async_trait]
impl Connector for Cleo {
    fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    /// The country (body `country` or the user token's `countryCode`) must be CL, PE or MX,
    /// and the currency its own (CLP, PEN, MXN); payouts need the country's account fields.
    fn validate(&self, request: &PaymentRequest) -> Result<(), FieldError> {
        let field = |field: &str, message: String| FieldError {
            field: field.into(),
            message,
        };
        let country = country_of_request(request).ok_or_else(|| {
            field(
                "country",
                "country is required by CLEO (CL, PE or MX)".into(),
            )
        })?;
        let local = wire::currency_of(&country).ok_or_else(|| {
            field(
                "country",
                format!("CLEO serves CL, PE and MX, not {country}"),
            )
        })?;
        let currency = request.amount.currency().code();
        if currency != local {
            return Err(field(
                "currency",
                format!(
                    "CLEO takes only the local currency: {local} for {country}, not {currency}"
                ),
            ));
        }
        match request.txn_type {
            TxnType::Payin => Ok(()),
            TxnType::Payout => fields::check_payout(&country, &request.extras),
        }
    }

    /// `POST /v1/payins`; the answer's `checkout_url` is the page. A 400 refusal created
    /// nothing: a final failure, not processed, without a page.
    async fn start_payin(
        &self,
        account: &AccountContext,
        request: &PaymentRequest,
    ) -> Result<PayinStarted, ConnectorError> {
        let country = served_country(request)?;
        let body = payin_body(account, request, &country);
        match self
            .create(account, &country, wire::PAYINS_PATH, &body.reference, &body)
            .await?
        {
            Ok(created) => {
                let page = created
                    .checkout_url
                    .clone()
                    .filter(|u| !u.is_empty())
                    .ok_or_else(|| {
                        ConnectorError::Protocol("CLEO pay-in without checkout_url".into())
                    })?;
                Ok(PayinStarted {
                    redirect_url: Some(page),
                    update: update_of(&created.status, &created.id, None),
                })
            }
            Err((400, refusal)) => Ok(PayinStarted {
                redirect_url: None,
                update: PspUpdate {
                    message: Some(refusal_text(&(400, refusal))),
                    ..PspUpdate::failed(PspOutcome::Failed, "refused", FailureClass::NotProcessed)
                },
            }),
            Err(other) => Err(ConnectorError::Protocol(format!(
                "CLEO refused the pay-in: {}",
                refusal_text(&other)
            ))),
        }
    }

    /// `POST /v1/payouts`. A 400 refusal is a decline (nothing created); a reused reference
    /// reports the existing order instead.
    async fn submit_payout(
        &self,
        account: &AccountContext,
        request: &PaymentRequest,
    ) -> Result<PspUpdate, ConnectorError> {
        if request.txn_type != TxnType::Payout {
            return Err(ConnectorError::Unsupported(
                "CLEO submit_payout needs a PAYOUT".into(),
            ));
        }
        let country = served_country(request)?;
        let body = payout_body(account, request, &country);
        match self
            .create(
                account,
                &country,
                wire::PAYOUTS_PATH,
                &body.reference,
                &body,
            )
            .await?
        {
            Ok(created) => Ok(update_of(&created.status, &created.id, None)),
            Err((409, refusal)) if refusal.error.code == wire::CODE_DUPLICATE => {
                tracing::warn!(order_id = %request.order_id,
                    "CLEO reports the payout exists already; asking its status");
                let order = OrderRef {
                    order_id: request.order_id.clone(),
                    txn_type: request.txn_type,
                    amount: request.amount,
                    psp_transaction_id: refusal.error.id,
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
                "CLEO payout answer: {}",
                refusal_text(&other)
            ))),
        }
    }

    /// `GET /v1/transactions/{id}` (or by reference); unknown ⇒ [`PspOutcome::NotFound`].
    async fn sync(
        &self,
        account: &AccountContext,
        order: &OrderRef,
    ) -> Result<PspUpdate, ConnectorError> {
        Ok(match self.lookup(account, order).await? {
            Some(t) => update_of(&t.status, &t.id, t.message),
            None => PspUpdate::new(PspOutcome::NotFound, "not-found"),
        })
    }

    /// Webhook: JSON [`WebhookIn`] with `Cleo-Signature: t=…,v1=…` (HMAC-SHA256 of
    /// `"<t>.<body>"` under `webhook_secret`). Bad or missing signature ⇒ unverified; no
    /// Overture reference ⇒ [`ConnectorError::BadCallback`].
    fn parse_callback(
        &self,
        account: &AccountContext,
        request: &CallbackRequest,
    ) -> Result<CallbackOutcome, ConnectorError> {
        let secret = account.credential("webhook_secret")?.expose_secret();
        let body: WebhookIn = serde_json::from_slice(&request.body).map_err(|e| {
            ConnectorError::BadCallback(format!("body is not the JSON webhook: {e}"))
        })?;
        let t = body.data;
        let order_id = OrderId::parse(&t.reference).ok_or_else(|| {
            ConnectorError::BadCallback("reference is not an Overture order id".into())
        })?;
        let header = wire::SIGNATURE_HEADER.to_ascii_lowercase();
        let signature = request
            .headers
            .iter()
            .find(|(name, _)| *name == header)
            .map(|(_, value)| value.as_str());
        let why = match signature {
            None => Some("missing signature"),
            Some(sig) if wire::verify_webhook(secret, sig, &request.body).is_none() => {
                Some("bad signature")
            }
            Some(_) => None,
        };
        if let Some(why) = why {
            tracing::warn!(%order_id, why, "CLEO webhook not verified; will query the status instead");
            return Ok(CallbackOutcome::Unverified { order_id, why });
        }
        Ok(CallbackOutcome::Verified {
            order_id,
            update: update_of(&t.status, &t.id, t.message.clone()),
            claims: CallbackClaims {
                psp_transaction_id: Some(t.id.clone()).filter(|i| !i.is_empty()),
                amount: Some(t.amount.clone()).filter(|a| !a.is_empty()),
                currency: Some(t.currency.clone()).filter(|c| !c.is_empty()),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::OutboundPolicy;
    use overture_core::{Currency, Money, TransactionId};
    use std::collections::BTreeMap;
    use std::time::Duration;

    fn cleo() -> Cleo {
        Cleo::new(PspHttp::new(
            Duration::from_secs(1),
            OutboundPolicy::default(),
        ))
    }

    fn request(
        kind: TxnType,
        amount: &str,
        currency: &str,
        country: Option<&str>,
    ) -> PaymentRequest {
        PaymentRequest {
            order_id: OrderId::for_attempt(&TransactionId::generate(), 1),
            txn_type: kind,
            amount: Money::parse_major(amount, Currency::from_code(currency).unwrap()).unwrap(),
            user_id: "u1".into(),
            email: "a@example.cl".into(),
            country: country.map(str::to_owned),
            return_url: None,
            merchant_reference: None,
            extras: BTreeMap::from([
                ("firstName".to_owned(), "Ana".to_owned()),
                ("lastName".to_owned(), "Pérez".to_owned()),
                ("bankAccount".to_owned(), "002010077777777771".to_owned()),
            ]),
        }
    }

    #[test]
    fn only_the_local_currency_of_a_served_country_is_taken() {
        let c = cleo();
        assert!(c
            .validate(&request(TxnType::Payin, "10000", "CLP", Some("CL")))
            .is_ok());
        assert!(c
            .validate(&request(TxnType::Payin, "150.50", "PEN", Some("PE")))
            .is_ok());
        assert!(c
            .validate(&request(TxnType::Payout, "99.90", "MXN", Some("MX")))
            .is_ok());
        let wrong = c
            .validate(&request(TxnType::Payin, "150", "PEN", Some("CL")))
            .unwrap_err();
        assert_eq!(wrong.field, "currency");
        assert!(wrong.message.contains("CLP for CL"), "{}", wrong.message);
        let far = c
            .validate(&request(TxnType::Payin, "10", "MXN", Some("AR")))
            .unwrap_err();
        assert_eq!(far.field, "country");
        let none = c
            .validate(&request(TxnType::Payin, "10", "MXN", None))
            .unwrap_err();
        assert_eq!(none.field, "country");
        let mut from_token = request(TxnType::Payin, "10", "MXN", None);
        from_token.extras.insert("countryCode".into(), "MX".into());
        assert!(
            c.validate(&from_token).is_ok(),
            "the user token's countryCode counts"
        );
        let bad_clabe = {
            let mut r = request(TxnType::Payout, "10", "MXN", Some("MX"));
            r.extras
                .insert("bankAccount".into(), "002010077777777772".into());
            r
        };
        assert_eq!(c.validate(&bad_clabe).unwrap_err().field, "bankAccount");
    }

    #[test]
    fn bodies_carry_whole_pesos_and_the_account() {
        let account = AccountContext {
            account_id: overture_core::PspAccountId::generate(),
            base_url: "http://127.0.0.1:9".into(),
            credentials: overture_core::Credentials(BTreeMap::new()),
            callback_url: "http://127.0.0.1:9/cb".into(),
        };
        let payin = payin_body(
            &account,
            &request(TxnType::Payin, "10000", "CLP", Some("CL")),
            "CL",
        );
        let json = serde_json::to_value(&payin).unwrap();
        assert_eq!(
            (json["amount"].as_str(), json["country"].as_str()),
            (Some("10000"), Some("CL"))
        );
        let payout = payout_body(
            &account,
            &request(TxnType::Payout, "99.9", "MXN", Some("MX")),
            "MX",
        );
        assert_eq!(payout.amount, "99.90");
        assert_eq!(payout.beneficiary.name, "Ana Pérez");
        assert_eq!(payout.beneficiary.account_number, "002010077777777771");
    }
}
