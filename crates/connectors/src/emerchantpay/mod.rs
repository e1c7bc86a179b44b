//! EMERCHANTPAY connector: card pay-ins through emerchantpay's Genesis Web Payment Form
//! (WPF, transaction type `sale3d`); no card data ever crosses Overture. Wire details, sources
//! and every inferred detail are in [`wire`].
//!
//! - Pay-in: `POST {base}/wpf` `<wpf_payment>` (amount in minor units, the Cashier `returnUrl`
//!   as success, failure, cancel and pending URL, Overture's callback URL as
//!   `notification_url`) ⇒ `redirect_url` (`data.url`) and the form's `unique_id`.
//! - Status: `POST {base}/wpf/reconcile` `<wpf_reconcile><unique_id>` ⇒ the form's state.
//! - Notifications: form posts signed with `signature` = SHA-1/256/512 of `wpf_unique_id` +
//!   API password; a verified one is still a hint confirmed by a reconcile. Every accepted
//!   notification is answered with the XML echo Genesis expects ([`Connector::callback_ack`]).

pub mod wire;

use crate::http::{PspHttp, PspResponse};
use async_trait::async_trait;
use overture_core::connector::*;
use overture_core::{OrderId, TxnType};
use secrecy::ExposeSecret;
use wire::{WpfNotification, WpfPaymentIn, WpfPaymentOut};

/// Polling cadence (Genesis publishes none; notifications are the prompt signal): backoff from
/// 20 s for the first 15 minutes, then every 5–10 minutes, giving up after 2 hours (a WPF
/// lives 30 minutes by default, genesis_php `lifetime`).
pub const POLL_SCHEDULE: PollSchedule = PollSchedule {
    fast: (20_000, 40_000),
    fast_window: 15 * 60_000,
    slow: (5 * 60_000, 10 * 60_000),
    give_up_after: 2 * 60 * 60_000,
};

const CAPABILITIES: Capabilities = Capabilities {
    psp_type: "EMERCHANTPAY",
    display_name: "emerchantpay (Genesis WPF)",
    payin: true,
    payout: false,
    currencies: &["EUR", "USD", "GBP", "CAD", "AUD", "CHF", "SEK", "NOK", "DKK", "PLN"],
    countries: &[],
    // The WPF requires success, failure and cancel URLs (genesis_php `Wpf\Create`).
    payin_fields: &["returnUrl"],
    payout_fields: &[],
    async_model: "web payment form; signed notification (SHA-1/256/512 of wpf_unique_id + password), XML echo ⇒ wpf_reconcile; polling",
    credential_fields: &["username", "password"],
    poll_schedule: POLL_SCHEDULE,
    secret_fields: &[],
    final_by_callback: false,
};

/// The EMERCHANTPAY connector. Credentials: `username` and `password`, the Genesis API login
/// and password (HTTP Basic; the password also keys notification signatures).
pub struct Emerchantpay {
    http: PspHttp,
    caps: Capabilities,
}

impl Emerchantpay {
    /// A connector sending every call through `http` (errors classified there).
    pub fn new(http: PspHttp) -> Self {
        Self {
            http,
            caps: CAPABILITIES,
        }
    }

    /// `POST {base}{path}` with the XML document; the `<wpf_payment>` answer.
    async fn call(
        &self,
        account: &AccountContext,
        path: &str,
        xml: String,
    ) -> Result<WpfPaymentOut, ConnectorError> {
        let user = account.credential("username")?.expose_secret();
        let password = account.credential("password")?.expose_secret();
        let request = self
            .http
            .client()
            .post(format!("{}{path}", account.base_url))
            .basic_auth(user, Some(password))
            .header(reqwest::header::CONTENT_TYPE, "text/xml; charset=UTF-8")
            .body(xml);
        let response = self.http.send(request).await?;
        parse_answer(&response)
    }
}

/// The `<wpf_payment>` of any answer the HTTP client let through (refusals included).
fn parse_answer(response: &PspResponse) -> Result<WpfPaymentOut, ConnectorError> {
    WpfPaymentOut::parse(&response.body).map_err(|e| {
        ConnectorError::Protocol(format!(
            "Genesis answer (HTTP {}) unreadable: {e}",
            response.status
        ))
    })
}

fn xml_error(e: quick_xml::SeError) -> ConnectorError {
    ConnectorError::Protocol(format!("cannot write the Genesis request: {e}"))
}

fn extra(request: &PaymentRequest, name: &str) -> Option<String> {
    request
        .extras
        .get(name)
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// The WPF request for `request`; `None` without a return URL (checked by `validate`).
fn wpf_request(account: &AccountContext, request: &PaymentRequest) -> Option<WpfPaymentIn> {
    let back = request.return_url.clone()?;
    let (first_name, last_name) = (extra(request, "firstName"), extra(request, "lastName"));
    let country = request
        .country
        .clone()
        .or_else(|| extra(request, "countryCode"));
    let any = first_name.is_some() || last_name.is_some() || country.is_some();
    let billing = any.then_some(wire::BillingAddress {
        first_name,
        last_name,
        country,
    });
    Some(WpfPaymentIn {
        transaction_id: request.order_id.to_string(),
        usage: "Card deposit".into(),
        description: format!("Payment {}", request.order_id),
        notification_url: account.callback_url.clone(),
        return_success_url: back.clone(),
        return_failure_url: back.clone(),
        return_cancel_url: back.clone(),
        return_pending_url: Some(back),
        amount: request.amount.minor().to_string(),
        currency: request.amount.currency().code().to_owned(),
        customer_email: request.email.clone(),
        customer_phone: extra(request, "phone"),
        billing_address: billing,
        transaction_types: wire::TransactionTypes::sale3d(),
    })
}

/// A create answered `status` `error`: a refusal before any form existed is declined (input
/// errors) or failed (system), not processed; a code that does not prove that is
/// [`ConnectorError::Protocol`], resolved by `sync`.
fn refused_create(answer: &WpfPaymentOut) -> Result<PayinStarted, ConnectorError> {
    let code = answer.code.as_deref().unwrap_or_default().trim().to_owned();
    let reason = answer.reason().unwrap_or_default();
    if !wire::refusal_creates_nothing(answer.code.as_deref()) {
        return Err(ConnectorError::Protocol(format!(
            "Genesis error {code}: {reason}"
        )));
    }
    let outcome = if code.starts_with('1') || code.starts_with('2') {
        PspOutcome::Failed
    } else {
        PspOutcome::Declined
    };
    let mut update =
        PspUpdate::failed(outcome, format!("error_{code}"), FailureClass::NotProcessed);
    update.message = Some(format!("Genesis refused the form (error {code}): {reason}"));
    Ok(PayinStarted {
        redirect_url: None,
        update,
    })
}

/// The update a reconcile answer gives.
fn update_from(answer: &WpfPaymentOut, unique_id: &str) -> PspUpdate {
    let raw = answer.status.trim().to_ascii_lowercase();
    let mut update = PspUpdate::new(wire::map_status(&raw), raw.clone());
    update.class = wire::failure_class(&raw, answer.decline_code());
    update.psp_transaction_id = Some(unique_id.to_owned());
    if update.outcome != PspOutcome::Approved {
        update.message = answer.reason();
    }
    update
}

/// Genesis error code of a reconcile for a form it does not know.
const TRANSACTION_NOT_FOUND: &str = "460";

#[async_trait]
impl Connector for Emerchantpay {
    fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    /// `sync` answers an order without a form unique id at once, without a call: the probe
    /// reconciles a fresh unique id that cannot exist. Genesis checks the API login first
    /// (wrong ⇒ HTTP 401); an authenticated answer for an unknown form is error 460
    /// ("Transaction not found"), which proves the credentials.
    async fn test_credentials(&self, account: &AccountContext) -> Result<(), ConnectorError> {
        let body = wire::WpfReconcileIn {
            unique_id: uuid::Uuid::new_v4().simple().to_string(),
        };
        let answer = self
            .call(
                account,
                wire::RECONCILE_PATH,
                body.to_xml().map_err(xml_error)?,
            )
            .await?;
        match answer.code.as_deref().map(str::trim) {
            Some(TRANSACTION_NOT_FOUND) => Ok(()),
            other => Err(ConnectorError::Protocol(format!(
                "Genesis answered {:?} (code {other:?}) for a form that cannot exist",
                answer.status
            ))),
        }
    }

    /// Pay-ins only, with a `returnUrl` (the WPF requires its return URLs).
    fn validate(&self, request: &PaymentRequest) -> Result<(), FieldError> {
        if request.txn_type == TxnType::Payin
            && request
                .return_url
                .as_deref()
                .is_none_or(|u| u.trim().is_empty())
        {
            return Err(FieldError {
                field: "returnUrl".into(),
                message: "returnUrl is required by EMERCHANTPAY (the payment form's return URLs)"
                    .into(),
            });
        }
        Ok(())
    }

    /// `POST /wpf`; the answer's `redirect_url` is the form and its `unique_id` the PSP id.
    async fn start_payin(
        &self,
        account: &AccountContext,
        request: &PaymentRequest,
    ) -> Result<PayinStarted, ConnectorError> {
        let body = wpf_request(account, request)
            .ok_or_else(|| ConnectorError::Unsupported("EMERCHANTPAY needs a returnUrl".into()))?;
        let answer = self
            .call(
                account,
                wire::CREATE_PATH,
                body.to_xml().map_err(xml_error)?,
            )
            .await?;
        if answer
            .status
            .trim()
            .eq_ignore_ascii_case(wire::status::ERROR)
        {
            return refused_create(&answer);
        }
        if answer
            .transaction_id
            .as_deref()
            .is_some_and(|t| t.trim() != request.order_id.as_str())
        {
            return Err(ConnectorError::Protocol(
                "Genesis answered about another transaction_id".into(),
            ));
        }
        let (Some(unique_id), Some(url)) = (answer.unique_id.clone(), answer.redirect_url.clone())
        else {
            return Err(ConnectorError::Protocol(
                "Genesis form without unique_id or redirect_url".into(),
            ));
        };
        let raw = answer.status.trim().to_ascii_lowercase();
        let mut update = PspUpdate::new(PspOutcome::Pending, raw);
        update.psp_transaction_id = Some(unique_id.trim().to_owned());
        Ok(PayinStarted {
            redirect_url: Some(url.trim().to_owned()),
            update,
        })
    }

    /// EMERCHANTPAY is pay-in only.
    async fn submit_payout(
        &self,
        _account: &AccountContext,
        _request: &PaymentRequest,
    ) -> Result<PspUpdate, ConnectorError> {
        Err(ConnectorError::Unsupported(
            "EMERCHANTPAY takes pay-ins only".into(),
        ))
    }

    /// `wpf_reconcile` by the stored `unique_id`; without one the create answer was lost, the
    /// payer never got the form: [`PspOutcome::NotFound`] (wire docs, item 4).
    async fn sync(
        &self,
        account: &AccountContext,
        order: &OrderRef,
    ) -> Result<PspUpdate, ConnectorError> {
        let Some(unique_id) = order.psp_transaction_id.as_deref() else {
            return Ok(PspUpdate::new(PspOutcome::NotFound, "not_found"));
        };
        let body = wire::WpfReconcileIn {
            unique_id: unique_id.to_owned(),
        };
        let answer = self
            .call(
                account,
                wire::RECONCILE_PATH,
                body.to_xml().map_err(xml_error)?,
            )
            .await?;
        if answer
            .status
            .trim()
            .eq_ignore_ascii_case(wire::status::ERROR)
            && answer.unique_id.is_none()
        {
            return Err(ConnectorError::Protocol(format!(
                "Genesis refused the reconcile (error {}): {}",
                answer.code.as_deref().unwrap_or_default(),
                answer.reason().unwrap_or_default()
            )));
        }
        let about_other = answer
            .unique_id
            .as_deref()
            .is_some_and(|u| u.trim() != unique_id)
            || answer
                .transaction_id
                .as_deref()
                .is_some_and(|t| t.trim() != order.order_id.as_str());
        if about_other {
            return Err(ConnectorError::Protocol(
                "Genesis reconciled another form".into(),
            ));
        }
        Ok(update_from(&answer, unique_id))
    }

    /// A WPF notification (form body, or the query when the body is empty). A bad or missing
    /// signature ⇒ [`CallbackOutcome::Unverified`]; no `wpf_unique_id` or no Overture
    /// `wpf_transaction_id` ⇒ [`ConnectorError::BadCallback`].
    fn parse_callback(
        &self,
        account: &AccountContext,
        request: &CallbackRequest,
    ) -> Result<CallbackOutcome, ConnectorError> {
        let n = notification(request)
            .ok_or_else(|| ConnectorError::BadCallback("not a WPF notification".into()))?;
        let order_id = OrderId::parse(&n.wpf_transaction_id).ok_or_else(|| {
            ConnectorError::BadCallback("wpf_transaction_id is not an Overture order id".into())
        })?;
        let password = account.credential("password")?.expose_secret();
        let why = if n.signature.is_empty() {
            Some("missing signature")
        } else if !wire::verify_signature(&n.signature, &n.wpf_unique_id, password) {
            Some("bad signature")
        } else {
            None
        };
        if let Some(why) = why {
            tracing::warn!(%order_id, why, "Genesis notification not verified; will reconcile");
            return Ok(CallbackOutcome::Unverified { order_id, why });
        }
        let raw = n.wpf_status.to_ascii_lowercase();
        let mut update = PspUpdate::new(wire::map_status(&raw), raw.clone());
        update.class = wire::failure_class(&raw, None);
        update.psp_transaction_id = Some(n.wpf_unique_id.clone());
        let claims = CallbackClaims {
            psp_transaction_id: Some(n.wpf_unique_id),
            amount: None,
            currency: None,
        };
        Ok(CallbackOutcome::Verified {
            order_id,
            update,
            claims,
        })
    }

    /// `<notification_echo><wpf_unique_id>…</wpf_unique_id></notification_echo>`: without it
    /// Genesis resends the notification.
    fn callback_ack(&self, request: &CallbackRequest) -> CallbackAck {
        let Some(n) = notification(request) else {
            return CallbackAck::default();
        };
        let echo = wire::NotificationEcho {
            wpf_unique_id: Some(n.wpf_unique_id),
            unique_id: None,
        };
        match echo.to_xml() {
            Ok(body) => CallbackAck {
                content_type: "application/xml",
                body,
            },
            Err(_) => CallbackAck::default(),
        }
    }
}

/// The WPF notification of a callback: the form body, else the query string; `None` without a
/// `wpf_unique_id`.
fn notification(request: &CallbackRequest) -> Option<WpfNotification> {
    let from_body =
        WpfNotification::from_form(&request.body).filter(|n| !n.wpf_unique_id.is_empty());
    from_body
        .or_else(|| WpfNotification::from_form(request.query.as_bytes()))
        .filter(|n| !n.wpf_unique_id.is_empty())
}

#[cfg(test)]
mod tests;
