//! WORLDPAY_EU connector: card pay-ins through Worldpay's WPG XML gateway (`paymentService`
//! v1.4) and its Hosted Payment Pages; no card data ever crosses Overture. Wire details,
//! sources and every inferred detail are in [`wire`].
//!
//! - Pay-in: `<submit><order>` (amount in minor units, payment method mask `ALL`, the shopper's
//!   e-mail) ⇒ `<reference>` URL; the result URLs (`successURL`, `failureURL`, `pendingURL`,
//!   `errorURL`, `cancelURL`, all the Cashier `returnUrl`) are appended and the whole is
//!   `data.url`.
//! - Status: `<inquiry><orderInquiry>` ⇒ the payment's `lastEvent` ([`wire::map_last_event`]).
//! - Callbacks: XML order notifications (`<notify><orderStatusEvent>`, unsigned) are hints
//!   answered `[OK]` ([`Connector::callback_ack`]) and confirmed by an inquiry. A shopper
//!   redirect (`orderKey`, `paymentStatus`, `mac2`) forwarded to the callback URL is checked
//!   with the MAC secret; even verified it is only a hint (Worldpay: "do not use these URLs to
//!   update your order details").
//! - Notifications go to the address set in Worldpay's Merchant Admin Interface (Merchant
//!   Channel, http, xml) for the merchant code: the operator enters the account's Overture
//!   callback URL there.

pub mod wire;

use crate::http::{PspHttp, PspResponse};
use async_trait::async_trait;
use overture_core::connector::*;
use overture_core::{Money, OrderId, TxnType};
use secrecy::ExposeSecret;
use wire::{InquiryAnswer, PaymentService, RedirectParams};

/// Polling cadence (Worldpay publishes none and asks integrators to prefer notifications and
/// to wait 5 minutes before inquiring): backoff from 30 s for the first 15 minutes, then every
/// 5–10 minutes, giving up after 3 hours (an abandoned Hosted Payment Page never pays).
pub const POLL_SCHEDULE: PollSchedule = PollSchedule {
    fast: (30_000, 60_000),
    fast_window: 15 * 60_000,
    slow: (5 * 60_000, 10 * 60_000),
    give_up_after: 3 * 60 * 60_000,
};

const CAPABILITIES: Capabilities = Capabilities {
    psp_type: "WORLDPAY_EU",
    display_name: "Worldpay (WPG XML, hosted pages)",
    payin: true,
    payout: false,
    currencies: &[
        "EUR", "GBP", "USD", "CHF", "SEK", "NOK", "DKK", "PLN", "CZK", "HUF", "RON",
    ],
    countries: &[],
    payin_fields: &[],
    payout_fields: &[],
    async_model: "hosted payment page; unsigned XML order notification (ack [OK]) ⇒ orderInquiry; redirect MAC checked; polling",
    credential_fields: &[
        "merchant_code",
        "installation_id",
        "xml_username",
        "xml_password",
        "mac_secret",
    ],
    poll_schedule: POLL_SCHEDULE,
    secret_fields: &[],
    final_by_callback: false,
};

/// The raw status of an order whose page was handed out and not paid yet (Worldpay's MAI word
/// for a shopper sent to the payment pages).
pub const STATUS_REDIRECTED: &str = "SHOPPER_REDIRECTED";

/// The WORLDPAY_EU connector. Credentials: `merchant_code` (envelope), `installation_id` (the
/// HPP installation), `xml_username` / `xml_password` (HTTP Basic), `mac_secret` (redirect MAC).
pub struct WorldpayEu {
    http: PspHttp,
    caps: Capabilities,
}

impl WorldpayEu {
    /// A connector sending every call through `http` (errors classified there).
    pub fn new(http: PspHttp) -> Self {
        Self {
            http,
            caps: CAPABILITIES,
        }
    }

    /// `POST {base}/jsp/merchant/xml/paymentService.jsp` with `doc`; the answer's `<reply>`.
    async fn call(
        &self,
        account: &AccountContext,
        doc: &PaymentService,
    ) -> Result<wire::Reply, ConnectorError> {
        let xml = doc
            .to_xml()
            .map_err(|e| ConnectorError::Protocol(format!("cannot write the XML order: {e}")))?;
        let user = account.credential("xml_username")?.expose_secret();
        let password = account.credential("xml_password")?.expose_secret();
        let request = self
            .http
            .client()
            .post(format!("{}{}", account.base_url, wire::PATH))
            .basic_auth(user, Some(password))
            .header(reqwest::header::CONTENT_TYPE, "text/xml; charset=UTF-8")
            .body(xml);
        let response = self.http.send(request).await?;
        parse_reply(&response, &doc.merchant_code)
    }
}

/// The `<reply>` of a 200 answer about `merchant_code`; anything else is a protocol error.
fn parse_reply(response: &PspResponse, merchant_code: &str) -> Result<wire::Reply, ConnectorError> {
    if response.status != 200 {
        return Err(ConnectorError::Protocol(format!(
            "Worldpay answered HTTP {}",
            response.status
        )));
    }
    let doc = PaymentService::parse(&response.body)
        .map_err(|e| ConnectorError::Protocol(format!("Worldpay reply unreadable: {e}")))?;
    if doc.merchant_code != merchant_code {
        return Err(ConnectorError::Protocol(
            "Worldpay replied for another merchant code".into(),
        ));
    }
    doc.reply
        .ok_or_else(|| ConnectorError::Protocol("Worldpay answer without <reply>".into()))
}

fn credential(account: &AccountContext, name: &str) -> Result<String, ConnectorError> {
    Ok(account.credential(name)?.expose_secret().trim().to_owned())
}

/// The HPP order for `request`.
fn hpp_order(
    account: &AccountContext,
    request: &PaymentRequest,
) -> Result<PaymentService, ConnectorError> {
    let mut doc = PaymentService::new(&credential(account, "merchant_code")?);
    doc.submit = Some(wire::Submit {
        order: wire::Order {
            order_code: request.order_id.to_string(),
            installation_id: Some(credential(account, "installation_id")?),
            description: format!("Payment {}", request.order_id),
            amount: wire::Amount::of(&request.amount),
            payment_method_mask: Some(wire::PaymentMethodMask {
                include: vec![wire::Include { code: "ALL".into() }],
            }),
            shopper: Some(wire::Shopper {
                shopper_email_address: Some(request.email.clone()),
            }),
        },
    });
    Ok(doc)
}

/// The reference URL with the five result URLs appended (each `return_url`).
pub fn page_url(reference: &str, return_url: Option<&str>) -> String {
    let Some(back) = return_url else {
        return reference.to_owned();
    };
    let back = urlencoding::encode(back);
    let mut url = reference.to_owned();
    for name in [
        "successURL",
        "failureURL",
        "pendingURL",
        "errorURL",
        "cancelURL",
    ] {
        let separator = if url.contains('?') { '&' } else { '?' };
        url.push_str(&format!("{separator}{name}={back}"));
    }
    url
}

/// A create refused with `<error>`: no order exists, nothing can have been paid. Code 1
/// (internal error) and a duplicate order are not proof of that: [`ConnectorError::Protocol`],
/// resolved by an inquiry.
fn refused_create(error: &wire::ErrorElement) -> Result<PayinStarted, ConnectorError> {
    let code = error.code.trim();
    let message = error.message.trim();
    if code == wire::ERROR_INTERNAL || message.to_ascii_lowercase().contains("duplicate") {
        return Err(ConnectorError::Protocol(format!(
            "Worldpay error {code}: {message}"
        )));
    }
    let mut update = PspUpdate::failed(
        PspOutcome::Declined,
        format!("ERROR_{code}"),
        FailureClass::NotProcessed,
    );
    update.message = Some(format!(
        "Worldpay refused the order (error {code}): {message}"
    ));
    Ok(PayinStarted {
        redirect_url: None,
        update,
    })
}

/// The update a payment's `lastEvent` gives.
fn update_from(payment: &wire::Payment, psp_id: Option<String>) -> PspUpdate {
    let raw = payment.last_event.trim().to_ascii_uppercase();
    let code = payment.return_code.as_ref().map(|c| c.code.as_str());
    let mut update = PspUpdate::new(wire::map_last_event(&raw), raw.clone());
    update.class = wire::failure_class(&raw, code);
    update.psp_transaction_id = psp_id;
    update.message = payment.return_code.as_ref().map(|c| {
        format!("ISO 8583 {} {}", c.code, c.description)
            .trim()
            .to_owned()
    });
    update
}

/// The order id named by an order code, or [`ConnectorError::BadCallback`].
fn order_id(code: &str) -> Result<OrderId, ConnectorError> {
    OrderId::parse(code.trim())
        .ok_or_else(|| ConnectorError::BadCallback("orderCode is not an Overture order id".into()))
}

/// A shopper redirect forwarded to the callback URL: verified by its MAC, never applied.
fn parse_redirect(
    account: &AccountContext,
    params: &RedirectParams,
) -> Result<CallbackOutcome, ConnectorError> {
    let order_id = order_id(params.order_code())?;
    let merchant = credential(account, "merchant_code")?;
    if params.merchant_code().is_some_and(|m| m != merchant) {
        return Err(ConnectorError::BadCallback(
            "redirect for another merchant code".into(),
        ));
    }
    let secret = account.credential("mac_secret")?.expose_secret();
    let why = if params.mac2.is_empty() {
        Some("redirect without MAC")
    } else if !wire::verify_redirect(secret, params) {
        Some("bad redirect MAC")
    } else {
        None
    };
    if let Some(why) = why {
        tracing::warn!(%order_id, why, "Worldpay redirect not verified; will inquire instead");
        return Ok(CallbackOutcome::Unverified { order_id, why });
    }
    let (amount, currency) = params.amount_and_currency();
    let status = if params.payment_status.is_empty() {
        wire::last_event::SHOPPER_CANCELLED.to_owned()
    } else {
        params.payment_status.to_ascii_uppercase()
    };
    let mut update = PspUpdate::new(wire::map_last_event(&status), status.clone());
    update.class = wire::failure_class(&status, None);
    let claimed = overture_core::Currency::from_code(currency)
        .and_then(|c| Money::from_minor(amount.parse().ok()?, c).ok());
    let claims = CallbackClaims {
        psp_transaction_id: None,
        // An amount that is not minor units of the currency cannot match: kept verbatim.
        amount: Some(claimed.map_or_else(|| amount.to_owned(), |m| m.to_major_string())),
        currency: Some(currency.to_owned()),
    };
    Ok(CallbackOutcome::Verified {
        order_id,
        update,
        claims,
    })
}

/// An XML order notification: unsigned, so a hint naming the order.
fn parse_notification(
    account: &AccountContext,
    body: &str,
) -> Result<CallbackOutcome, ConnectorError> {
    let doc = PaymentService::parse(body)
        .map_err(|e| ConnectorError::BadCallback(format!("not a Worldpay notification: {e}")))?;
    if doc.merchant_code != credential(account, "merchant_code")? {
        return Err(ConnectorError::BadCallback(
            "notification for another merchant code".into(),
        ));
    }
    let event = doc
        .notify
        .ok_or_else(|| ConnectorError::BadCallback("no <notify> element".into()))?
        .order_status_event;
    let order_id = order_id(&event.order_code)?;
    let claimed = event.payment.map(|p| p.last_event).unwrap_or_default();
    tracing::info!(%order_id, last_event = %claimed, "Worldpay order notification (unsigned)");
    Ok(CallbackOutcome::Unverified {
        order_id,
        why: "unsigned order notification",
    })
}

#[async_trait]
impl Connector for WorldpayEu {
    fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    /// The required names, and `installation_id` a number (Worldpay installation ids are
    /// numeric, e.g. `1000001`).
    fn validate_credentials(
        &self,
        credentials: &overture_core::Credentials,
    ) -> Result<(), FieldError> {
        require_credentials(&self.caps, credentials)?;
        let numeric = credentials.0.get("installation_id").is_none_or(|v| {
            let v = secrecy::ExposeSecret::expose_secret(v).trim();
            !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit())
        });
        if numeric {
            Ok(())
        } else {
            Err(FieldError {
                field: "installation_id".into(),
                message: "must be the installation's number (digits only)".into(),
            })
        }
    }

    /// `<submit>` an HPP order; the `<reference>` URL plus the result URLs is the page. An
    /// `<error>` reply is a refusal before any order existed (declined, not processed).
    async fn start_payin(
        &self,
        account: &AccountContext,
        request: &PaymentRequest,
    ) -> Result<PayinStarted, ConnectorError> {
        if request.txn_type != TxnType::Payin {
            return Err(ConnectorError::Unsupported(
                "WORLDPAY_EU takes pay-ins only".into(),
            ));
        }
        let reply = self.call(account, &hpp_order(account, request)?).await?;
        let status = match (reply.order_status, reply.error) {
            (Some(status), _) => status,
            (None, Some(error)) => return refused_create(&error),
            (None, None) => {
                return Err(ConnectorError::Protocol("Worldpay reply is empty".into()));
            }
        };
        if status.order_code != request.order_id.as_str() {
            return Err(ConnectorError::Protocol(
                "Worldpay replied about another orderCode".into(),
            ));
        }
        if let Some(error) = &status.error {
            return refused_create(error);
        }
        let reference = status
            .reference
            .filter(|r| !r.url.trim().is_empty())
            .ok_or_else(|| ConnectorError::Protocol("Worldpay reply without <reference>".into()))?;
        let mut update = PspUpdate::new(PspOutcome::Pending, STATUS_REDIRECTED);
        update.psp_transaction_id = Some(reference.id.trim().to_owned()).filter(|i| !i.is_empty());
        Ok(PayinStarted {
            redirect_url: Some(page_url(
                reference.url.trim(),
                request.return_url.as_deref(),
            )),
            update,
        })
    }

    /// WORLDPAY_EU is pay-in only.
    async fn submit_payout(
        &self,
        _account: &AccountContext,
        _request: &PaymentRequest,
    ) -> Result<PspUpdate, ConnectorError> {
        Err(ConnectorError::Unsupported(
            "WORLDPAY_EU takes pay-ins only".into(),
        ))
    }

    /// `<inquiry><orderInquiry>`. No payment yet: pending while the page was handed out (a
    /// `reference` id is stored), [`PspOutcome::NotFound`] when the create reply never came
    /// back (the shopper never got a page, so nothing can be paid).
    async fn sync(
        &self,
        account: &AccountContext,
        order: &OrderRef,
    ) -> Result<PspUpdate, ConnectorError> {
        let mut doc = PaymentService::new(&credential(account, "merchant_code")?);
        doc.inquiry = Some(wire::Inquiry {
            order_inquiry: wire::OrderInquiry {
                order_code: order.order_id.to_string(),
            },
        });
        let reply = self.call(account, &doc).await?;
        let answer = wire::inquiry_answer(&reply, order.order_id.as_str())
            .map_err(|e| ConnectorError::Protocol(format!("Worldpay inquiry: {e}")))?;
        let psp_id = order.psp_transaction_id.clone();
        Ok(match answer {
            InquiryAnswer::Payment(payment) => update_from(&payment, psp_id),
            InquiryAnswer::NoPayment(_) if psp_id.is_none() => {
                PspUpdate::new(PspOutcome::NotFound, "NOT_FOUND")
            }
            InquiryAnswer::NoPayment(text) => {
                let mut update = PspUpdate::new(PspOutcome::Pending, STATUS_REDIRECTED);
                update.psp_transaction_id = psp_id;
                update.message = Some(text).filter(|t| !t.is_empty());
                update
            }
            InquiryAnswer::Refused(error) => {
                return Err(ConnectorError::Protocol(format!(
                    "Worldpay refused the inquiry (error {}): {}",
                    error.code.trim(),
                    error.message.trim()
                )));
            }
        })
    }

    /// An XML order notification (POST body) ⇒ [`CallbackOutcome::Unverified`]; a shopper
    /// redirect (`orderKey`… in the query or a form body) ⇒ verified by `mac2` or unverified.
    /// Neither names an Overture order ⇒ [`ConnectorError::BadCallback`].
    fn parse_callback(
        &self,
        account: &AccountContext,
        request: &CallbackRequest,
    ) -> Result<CallbackOutcome, ConnectorError> {
        let body = String::from_utf8_lossy(&request.body);
        let body = body.trim();
        if body.starts_with('<') {
            return parse_notification(account, body);
        }
        let params = RedirectParams::from_query(&request.query)
            .or_else(|| RedirectParams::from_query(body))
            .ok_or_else(|| {
                ConnectorError::BadCallback("neither an order notification nor a redirect".into())
            })?;
        parse_redirect(account, &params)
    }

    /// `[OK]`: what Worldpay expects, or it resends the notification.
    fn callback_ack(&self, _request: &CallbackRequest) -> CallbackAck {
        CallbackAck {
            content_type: "text/plain; charset=utf-8",
            body: wire::NOTIFICATION_ACK.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests;
