//! TRUST connector: card pay-ins through Trust Payments' (formerly Secure Trading) hosted
//! Payment Pages, confirmed with the Webservices JSON API. Pay-ins only; no card data ever
//! passes through Overture (the customer types it on Trust's page).
//!
//! - Pay-in: [`Connector::start_payin`] makes no call: it builds the Payment Pages link
//!   (`data.url`, a GET of `/process/payments/choice` with the order's fields and the
//!   `sitesecurity` hash, [`pages`]). The customer pays there; Trust creates an `AUTH`.
//! - Notification: Trust posts a URL notification (`STR-10`) signed with
//!   `responsesitesecurity`; verified or not it is only a hint to query, never applied by
//!   itself.
//! - Status: `TRANSACTIONQUERY` filtered by site reference and order reference ([`wire`]);
//!   the `AUTH` records' `errorcode` and `settlestatus` decide (see [`decide`]).
//!
//! Credentials: `username` and `password` (the Webservices user, HTTP Basic), `sitereference`
//! (`test_…` on test sites), `site_security_password` (signs the link and the notifications).
//! The account's base URL is the Webservices host (`https://webservices.securetrading.net`);
//! the Payment Pages host is derived from it ([`pages::pages_base`]).

pub mod pages;
pub mod wire;

use crate::http::PspHttp;
use async_trait::async_trait;
use overture_core::connector::*;
use overture_core::domain::TxnType;
use overture_core::ids::OrderId;
use overture_core::{Currency, Money};
use pages::{Fields, Notification, Stage};
use rand::distributions::{Alphanumeric, DistString};
use secrecy::ExposeSecret;
use std::time::Duration;
use time::OffsetDateTime;
use wire::{Envelope, QueryRequest, Record, ResponseEnvelope};

/// Polling cadence. Trust publishes none; the notification is the prompt signal and polling
/// its backstop, and most pay-in pages are never paid: every 20–40 s for 15 minutes, then
/// every 5–10 minutes. A page is payable for 3 hours ([`pages::PAGE_LIFETIME`]); `sync`
/// reports it expired shortly after, so giving up comes after that.
pub const POLL_SCHEDULE: PollSchedule = PollSchedule {
    fast: (20_000, 40_000),
    fast_window: 15 * 60_000,
    slow: (5 * 60_000, 10 * 60_000),
    give_up_after: 3 * 60 * 60_000 + 30 * 60_000,
};

/// A payment submitted in the page's last moment may finish this long after it expired.
const EXPIRY_GRACE: Duration = Duration::from_secs(10 * 60);

/// Raw status of a pay-in whose page was handed out and no `AUTH` exists yet (Overture's word).
pub const AWAITING_PAYMENT: &str = "AWAITING_PAYMENT";
/// Raw status of a page whose 3 hours passed without an `AUTH` (Overture's word).
pub const EXPIRED: &str = "EXPIRED";

const CAPABILITIES: Capabilities = Capabilities {
    psp_type: "TRUST",
    display_name: "Trust Payments (cards)",
    payin: true,
    payout: false,
    currencies: &[
        "GBP", "EUR", "USD", "CAD", "AUD", "CHF", "SEK", "NOK", "DKK", "PLN", "CZK",
    ],
    countries: &[],
    payin_fields: &[],
    payout_fields: &[],
    async_model:
        "Payment Pages link (sitesecurity); URL notification (responsesitesecurity) ⇒ TRANSACTIONQUERY; polling",
    credential_fields: &[
        "username",
        "password",
        "sitereference",
        "site_security_password",
    ],
    poll_schedule: POLL_SCHEDULE,
    secret_fields: &[],
    final_by_callback: false,
};

/// The TRUST connector.
pub struct Trust {
    http: PspHttp,
    caps: Capabilities,
}

impl Trust {
    /// A connector sending every Webservices call through `http`.
    pub fn new(http: PspHttp) -> Self {
        Self {
            http,
            caps: CAPABILITIES,
        }
    }

    /// The link's fields for `request` at `now`, signed, and the stage to keep. Amount in main
    /// units (`mainamount`), the order id as `orderreference`, the callback URL as the `STR-10`
    /// notification target, `returnUrl` (when given) as both `STR-6` and `STR-7` redirect.
    pub fn page_fields(
        account: &AccountContext,
        request: &PaymentRequest,
        now: OffsetDateTime,
    ) -> Result<(Fields, Stage), ConnectorError> {
        let site = secret(account, "sitereference")?;
        let mut fields: Fields = vec![
            pair("sitereference", &site),
            pair("stprofile", pages::STPROFILE),
            pair("currencyiso3a", request.amount.currency().code()),
            pair("mainamount", &request.amount.to_major_string()),
            pair("version", pages::PAGES_VERSION),
            pair("orderreference", request.order_id.as_str()),
            pair("billingemail", &request.email),
        ];
        let optional = [
            ("billingfirstname", request.extras.get("firstName")),
            ("billinglastname", request.extras.get("lastName")),
            ("billingtelephone", request.extras.get("phone")),
            ("billingcountryiso2a", request.country.as_ref()),
        ];
        for (name, value) in optional {
            if let Some(v) = value.map(|v| v.trim()).filter(|v| !v.is_empty()) {
                fields.push(pair(name, v));
            }
        }
        if let Some(back) = &request.return_url {
            fields.push(pair("ruleidentifier", pages::rule::SUCCESS_REDIRECT));
            fields.push(pair("successfulurlredirect", back));
            fields.push(pair("ruleidentifier", pages::rule::DECLINE_REDIRECT));
            fields.push(pair("declinedurlredirect", back));
        }
        fields.push(pair("ruleidentifier", pages::rule::ALL_NOTIFICATION));
        fields.push(pair("allurlnotification", &account.callback_url));
        let stamp = pages::timestamp(now);
        fields.push(pair("sitesecuritytimestamp", &stamp));
        let password = secret(account, "site_security_password")?;
        let hash = pages::site_security(&fields, &password);
        fields.push(pair("sitesecurity", &hash));
        let stage = Stage {
            sitesecuritytimestamp: stamp,
            decline_ends_page: request.return_url.is_some(),
        };
        Ok((fields, stage))
    }

    /// `TRANSACTIONQUERY` for the account's site and `order`: every record Trust holds with
    /// that `orderreference`. Any refusal (non-zero `errorcode`) or an answer naming another
    /// `requestreference` is [`ConnectorError::Protocol`].
    pub async fn transaction_query(
        &self,
        account: &AccountContext,
        order: &OrderId,
    ) -> Result<Vec<Record>, ConnectorError> {
        let username = secret(account, "username")?;
        let site = secret(account, "sitereference")?;
        let reference = format!(
            "OV{}",
            Alphanumeric.sample_string(&mut rand::thread_rng(), 10)
        );
        let body = Envelope {
            alias: username.clone(),
            version: wire::API_VERSION,
            request: vec![QueryRequest::by_order(&reference, &site, order.as_str())],
        };
        let json = serde_json::to_vec(&body)
            .map_err(|e| ConnectorError::Protocol(format!("query body: {e}")))?;
        let password = account.credential("password")?;
        // The auth header is built from the secret at the last moment and never logged.
        let request = self
            .http
            .client()
            .post(format!("{}{}", account.base_url, wire::JSON_PATH))
            .basic_auth(&username, Some(password.expose_secret()))
            .header(reqwest::header::CONTENT_TYPE, wire::CONTENT_TYPE)
            .header(reqwest::header::ACCEPT, "application/json")
            .header(wire::REQUESTREFERENCE_HEADER, &reference)
            .body(json);
        let response = self.http.send(request).await?;
        if response.status != 200 {
            return Err(ConnectorError::Protocol(format!(
                "TRANSACTIONQUERY: HTTP {}",
                response.status
            )));
        }
        records_of(&response.body, &reference)
    }
}

/// The records of a `TRANSACTIONQUERY` answer to `reference`.
fn records_of(body: &str, reference: &str) -> Result<Vec<Record>, ConnectorError> {
    let answer: ResponseEnvelope = serde_json::from_str(body)
        .map_err(|e| ConnectorError::Protocol(format!("TRANSACTIONQUERY answer: {e}")))?;
    if answer.requestreference != reference {
        return Err(ConnectorError::Protocol(
            "TRANSACTIONQUERY answer names another requestreference".into(),
        ));
    }
    let item = answer
        .response
        .into_iter()
        .next()
        .ok_or_else(|| ConnectorError::Protocol("TRANSACTIONQUERY: empty response".into()))?;
    if item.errorcode != wire::errorcode::OK {
        return Err(ConnectorError::Protocol(format!(
            "TRANSACTIONQUERY refused: errorcode {} {} {}",
            item.errorcode,
            item.errormessage.unwrap_or_default(),
            item.errordata.map(|d| d.to_string()).unwrap_or_default()
        )));
    }
    Ok(item.records.unwrap_or_default())
}

/// Where a pay-in stands, from its `TRANSACTIONQUERY` records (module docs of [`wire`]):
///
/// 1. Any approved `AUTH` ⇒ approved (the customer may have retried after a decline).
/// 2. Else any pending one (suspended) ⇒ pending.
/// 3. Else the latest `AUTH` decides when a decline ends the page (`STR-7` was sent), the page
///    expired, or no stage exists; otherwise the customer may still try again ⇒ pending.
/// 4. No `AUTH`: pending while the page is payable, failed (`EXPIRED`, not processed) after;
///    without a stage the link was never handed out ⇒ not found.
///
/// Every `AUTH` must carry the order's amount and currency, else [`ConnectorError::Protocol`]
/// (the `sitesecurity` hash covers both, so a mismatch is never a normal answer).
pub fn decide(
    records: &[Record],
    order: &OrderRef,
    stage: Option<&Stage>,
    now: OffsetDateTime,
) -> Result<PspUpdate, ConnectorError> {
    let mut auths: Vec<&Record> = records
        .iter()
        .filter(|r| r.requesttypedescription == wire::AUTH)
        .filter(|r| r.orderreference == order.order_id.as_str())
        .collect();
    for record in &auths {
        check_amount(record, order.amount)?;
    }
    auths.sort_by(|a, b| {
        a.transactionstartedtimestamp
            .cmp(&b.transactionstartedtimestamp)
    });
    let latest_with = |wanted: PspOutcome| {
        auths
            .iter()
            .rev()
            .find(|r| r.outcome().0 == wanted)
            .copied()
    };
    if let Some(record) = latest_with(PspOutcome::Approved).or(latest_with(PspOutcome::Pending)) {
        return Ok(update_from(record));
    }
    let expired = stage.is_some_and(|s| s.page_expired(now, EXPIRY_GRACE));
    match (auths.last(), stage) {
        (Some(record), Some(s)) if !s.decline_ends_page && !expired => {
            let mut update = PspUpdate::new(PspOutcome::Pending, record.raw_status());
            update.psp_transaction_id = Some(record.transactionreference.clone());
            update.message = Some("declined; the customer may try again on the page".into());
            Ok(update)
        }
        (Some(record), _) => Ok(update_from(record)),
        (None, None) => Ok(PspUpdate::new(PspOutcome::NotFound, "NO_RECORDS")),
        (None, Some(_)) if expired => {
            let mut update =
                PspUpdate::failed(PspOutcome::Failed, EXPIRED, FailureClass::NotProcessed);
            update.message = Some("the payment page expired unpaid".into());
            Ok(update)
        }
        (None, Some(_)) => Ok(PspUpdate::new(PspOutcome::Pending, AWAITING_PAYMENT)),
    }
}

fn check_amount(record: &Record, amount: Money) -> Result<(), ConnectorError> {
    let same_amount = record.baseamount.trim().parse::<i64>().ok() == Some(amount.minor());
    let same_currency = record.currencyiso3a.trim() == amount.currency().code();
    if same_amount && same_currency {
        Ok(())
    } else {
        Err(ConnectorError::Protocol(format!(
            "Trust AUTH {} is for {} {} (minor units), not the order's amount",
            record.transactionreference, record.baseamount, record.currencyiso3a
        )))
    }
}

fn update_from(record: &Record) -> PspUpdate {
    let (outcome, class) = record.outcome();
    let mut update = PspUpdate::new(outcome, record.raw_status());
    update.class = class;
    update.psp_transaction_id = Some(record.transactionreference.clone()).filter(|t| !t.is_empty());
    if class.is_some() {
        update.message = record.errormessage.clone().filter(|m| !m.is_empty());
    }
    update
}

#[async_trait]
impl Connector for Trust {
    fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    /// Builds the signed Payment Pages link; no PSP call is made, so nothing can be refused
    /// here but a missing credential ([`ConnectorError::Config`]).
    async fn start_payin(
        &self,
        account: &AccountContext,
        request: &PaymentRequest,
    ) -> Result<PayinStarted, ConnectorError> {
        let (fields, stage) = Self::page_fields(account, request, OffsetDateTime::now_utc())?;
        let url = pages::page_url(&pages::pages_base(&account.base_url), &fields)?;
        let mut update = PspUpdate::new(PspOutcome::Pending, AWAITING_PAYMENT);
        update.stage = Some(stage.encode()?);
        Ok(PayinStarted {
            redirect_url: Some(url),
            update,
        })
    }

    /// Trust Payment Pages take pay-ins only.
    async fn submit_payout(
        &self,
        _account: &AccountContext,
        _request: &PaymentRequest,
    ) -> Result<PspUpdate, ConnectorError> {
        Err(ConnectorError::Unsupported(
            "TRUST takes pay-ins only".into(),
        ))
    }

    /// `TRANSACTIONQUERY` by order reference, then [`decide`].
    async fn sync(
        &self,
        account: &AccountContext,
        order: &OrderRef,
    ) -> Result<PspUpdate, ConnectorError> {
        if order.txn_type == TxnType::Payout {
            return Err(ConnectorError::Unsupported(
                "TRUST takes pay-ins only".into(),
            ));
        }
        let records = self.transaction_query(account, &order.order_id).await?;
        let stage = Stage::decode(order.stage.as_deref());
        decide(&records, order, stage.as_ref(), OffsetDateTime::now_utc())
    }

    /// A URL notification (form body; the query string when the body is empty). Verified when
    /// `responsesitesecurity` matches the site security password; either way only a hint.
    /// No `orderreference` that is an Overture order id, or another site's notification ⇒
    /// [`ConnectorError::BadCallback`].
    fn parse_callback(
        &self,
        account: &AccountContext,
        request: &CallbackRequest,
    ) -> Result<CallbackOutcome, ConnectorError> {
        let raw = if request.body.iter().all(u8::is_ascii_whitespace) {
            request.query.as_bytes()
        } else {
            request.body.as_slice()
        };
        let note = Notification::parse(raw)
            .ok_or_else(|| ConnectorError::BadCallback("not a form-encoded notification".into()))?;
        let order_id = note
            .get("orderreference")
            .and_then(OrderId::parse)
            .ok_or_else(|| {
                ConnectorError::BadCallback("orderreference is not an Overture order id".into())
            })?;
        let site = secret(account, "sitereference")?;
        if note.get("sitereference").is_some_and(|s| s != site) {
            return Err(ConnectorError::BadCallback(
                "notification of another site".into(),
            ));
        }
        let password = secret(account, "site_security_password")?;
        if !note.verify(&password) {
            let why = if note.get("responsesitesecurity").is_some() {
                "bad responsesitesecurity"
            } else {
                "no responsesitesecurity"
            };
            return Ok(CallbackOutcome::Unverified { order_id, why });
        }
        Ok(CallbackOutcome::Verified {
            order_id,
            update: notification_update(&note),
            claims: notification_claims(&note),
        })
    }
}

/// What a verified notification claims: an `AUTH`'s outcome, or pending for any other request.
fn notification_update(note: &Notification) -> PspUpdate {
    let is_auth = note
        .get("requesttypedescription")
        .is_none_or(|t| t == wire::AUTH);
    let record = Record {
        requesttypedescription: wire::AUTH.into(),
        transactionreference: note.get("transactionreference").unwrap_or("").into(),
        errorcode: note.get("errorcode").unwrap_or("").into(),
        settlestatus: note.get("settlestatus").unwrap_or("").into(),
        ..Record::default()
    };
    if is_auth {
        update_from(&record)
    } else {
        PspUpdate::new(PspOutcome::Pending, record.raw_status())
    }
}

/// Amount (major units, from `baseamount` in minor units) and currency, when both are there.
/// No PSP order id: one order may have several `AUTH`s (a retry after a decline).
fn notification_claims(note: &Notification) -> CallbackClaims {
    let currency = note.get("currencyiso3a").map(str::to_owned);
    let amount = currency
        .as_deref()
        .and_then(Currency::from_code)
        .zip(note.get("baseamount").and_then(|a| a.parse::<i64>().ok()))
        .and_then(|(c, minor)| Money::from_minor(minor, c).ok())
        .map(|m| m.to_major_string());
    CallbackClaims {
        psp_transaction_id: None,
        amount,
        currency,
    }
}

fn pair(name: &str, value: &str) -> (String, String) {
    (name.to_owned(), value.to_owned())
}

fn secret(account: &AccountContext, name: &str) -> Result<String, ConnectorError> {
    Ok(account.credential(name)?.expose_secret().to_owned())
}

#[cfg(test)]
mod tests;
