//! FLEXEPIN connector: prepaid voucher pay-ins redeemed synchronously (flexepin.com). The
//! wire format, its sources and every assumed detail are in [`wire`].
//!
//! - Pay-in (the create call is the only place the full PIN exists; the Cashier field
//!   `voucherPin` is a [`Capabilities::secret_fields`] entry, stored masked): `validate` the
//!   PIN for this transaction number, compare the voucher's face value and currency with the
//!   order (a voucher worth another amount or currency is declined and left untouched, never
//!   partially used), then `redeem` it. The redeem answer is final, so [`PayinStarted`] has no
//!   page and a final Approved or Declined update.
//! - A redeem whose answer is lost (timeout, 5xx, unreadable) is resolved by validating the
//!   same PIN and transaction number again: `USED` by this transaction ⇒ approved; still
//!   `ACTIVE` ⇒ failed (technical: not redeemed when checked); used by another ⇒ declined.
//!   Never by redeeming twice. When that check fails too, the create returns the error and the
//!   pay-in stays open.
//! - Status (`sync`, the poller's query after such an error or a crash): Flexepin publishes no
//!   lookup by transaction number and validate needs the full PIN, which only the create call
//!   had. So `sync` learns nothing: it answers Pending (`outcome-unknown`), and the pay-in
//!   fails with reason `timeout` when [`POLL_SCHEDULE`] gives up, 15 minutes after submission.
//!   Its message tells the operator to reconcile the transaction number (Overture's order id)
//!   in Flexepin's merchant portal.
//! - Callbacks: Flexepin sends none; anything received is refused.
//!
//! Mozarto's FLEXEPIN page says the API response is the final result but shows a sample
//! answer with `status: "PENDING"`; the redeem answer is final, so Overture answers
//! `data.status` `APPROVED` or `DECLINED` (and sends the webhook) at once.
//!
//! The PIN never reaches a log or an error message: transport errors (whose text names the
//! URL, which carries the PIN) are rewritten with the PIN masked.

pub mod wire;

use crate::http::{PspHttp, PspResponse};
use async_trait::async_trait;
use overture_core::connector::*;
use overture_core::{Money, OrderId, TxnType};
use secrecy::{ExposeSecret, SecretString};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};
use wire::{RedeemIn, VoucherOut};

/// The Cashier field holding the voucher PIN (Mozarto's FLEXEPIN pay-in request).
pub const PIN_FIELD: &str = "voucherPin";

/// Polling after a create whose outcome is unknown. `sync` cannot learn anything (no lookup
/// by transaction number exists), so this only decides when such a pay-in is closed: after
/// 15 minutes, long past any redeem still in flight (calls time out after 30 s), short enough
/// for the merchant to hear about it while the customer is still around.
pub const POLL_SCHEDULE: PollSchedule = PollSchedule {
    fast: (60_000, 120_000),
    fast_window: 5 * 60_000,
    slow: (5 * 60_000, 5 * 60_000),
    give_up_after: 15 * 60_000,
};

const CAPABILITIES: Capabilities = Capabilities {
    psp_type: "FLEXEPIN",
    display_name: "Flexepin (voucher)",
    payin: true,
    payout: false,
    // Flexepin's markets (Canada, Australia, Europe, US) [inferred]; a voucher is redeemed
    // only in its own currency.
    currencies: &["AUD", "CAD", "EUR", "USD"],
    countries: &[],
    payin_fields: &[PIN_FIELD],
    payout_fields: &[],
    async_model: "synchronous voucher redemption (validate + redeem), final in the Cashier answer",
    credential_fields: &["api_key", "secret", "terminal_id"],
    poll_schedule: POLL_SCHEDULE,
    secret_fields: &[PIN_FIELD],
    final_by_callback: false,
};

/// The FLEXEPIN connector. Credentials: `api_key` (the key id in the `AUTHENTICATION`
/// header), `secret` (its HMAC-SHA256 key) and `terminal_id` (the terminal in every path).
pub struct Flexepin {
    http: PspHttp,
    caps: Capabilities,
    /// Last nonce sent: nonces are epoch milliseconds, strictly increasing per process.
    last_nonce: AtomicU64,
}

/// One call's answer, or why it has none.
type Answer = Result<VoucherOut, ConnectorError>;

impl Flexepin {
    /// A connector sending every call through `http`.
    pub fn new(http: PspHttp) -> Self {
        Self {
            http,
            caps: CAPABILITIES,
            last_nonce: AtomicU64::new(0),
        }
    }

    fn nonce(&self) -> String {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        let mut last = self.last_nonce.load(Ordering::SeqCst);
        loop {
            let next = now.max(last + 1);
            match self
                .last_nonce
                .compare_exchange(last, next, Ordering::SeqCst, Ordering::SeqCst)
            {
                Ok(_) => return next.to_string(),
                Err(seen) => last = seen,
            }
        }
    }

    /// Sends one signed call (`GET` without body, `PUT` with `body`) and reads the JSON
    /// answer. Errors never contain the PIN.
    async fn call(
        &self,
        account: &AccountContext,
        method: reqwest::Method,
        path: &str,
        body: Option<String>,
        pin: &SecretString,
    ) -> Answer {
        let api_key = account.credential("api_key")?.expose_secret();
        let secret = account.credential("secret")?.expose_secret();
        let nonce = self.nonce();
        let text = body.clone().unwrap_or_default();
        let signature = wire::sign(secret, method.as_str(), path, &nonce, &text);
        let url = format!("{}{path}", account.base_url);
        let mut request = self.http.client().request(method, url).header(
            wire::AUTH_HEADER,
            wire::auth_header(api_key, &signature, &nonce),
        );
        if let Some(body) = body {
            request = request
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body);
        }
        let response = self.http.send(request).await.map_err(|e| redact(e, pin))?;
        parse(&response).map_err(|e| redact(e, pin))
    }

    async fn validate_voucher(
        &self,
        account: &AccountContext,
        pin: &SecretString,
        trans_no: &str,
    ) -> Answer {
        let terminal = account.credential("terminal_id")?.expose_secret();
        let path = wire::validate_path(pin.expose_secret(), terminal, trans_no);
        self.call(account, reqwest::Method::GET, &path, None, pin)
            .await
    }

    async fn redeem_voucher(
        &self,
        account: &AccountContext,
        pin: &SecretString,
        request: &PaymentRequest,
    ) -> Answer {
        let terminal = account.credential("terminal_id")?.expose_secret();
        let path = wire::redeem_path(pin.expose_secret(), terminal, request.order_id.as_str());
        let body = RedeemIn {
            customer_ip: request.extras.get("userIp").cloned(),
        };
        let body = serde_json::to_string(&body)
            .map_err(|e| ConnectorError::Protocol(format!("redeem body: {e}")))?;
        self.call(account, reqwest::Method::PUT, &path, Some(body), pin)
            .await
    }

    /// After a redeem whose answer was lost: validate the same PIN and transaction number
    /// and read who used the voucher. `Err(lost)` when that check fails too.
    async fn resolve_lost_redeem(
        &self,
        account: &AccountContext,
        pin: &SecretString,
        trans_no: &str,
        lost: ConnectorError,
    ) -> Result<PspUpdate, ConnectorError> {
        tracing::warn!(order_id = trans_no, error = %lost,
            "FLEXEPIN redeem answer lost; validating the voucher again to learn the outcome");
        match self.validate_voucher(account, pin, trans_no).await {
            Ok(answer) if wire::redeemed_by(&answer) == Some(trans_no) => Ok(approved(&answer)),
            Ok(answer) if answer.is_active() => Ok(PspUpdate {
                message: Some(format!(
                    "redeem answer lost ({lost}); the voucher was still ACTIVE when checked: not redeemed"
                )),
                ..PspUpdate::failed(PspOutcome::Failed, "ACTIVE", FailureClass::Technical)
            }),
            Ok(answer) => Ok(refused(&answer)),
            Err(again) => {
                tracing::warn!(order_id = trans_no, error = %again,
                    "FLEXEPIN voucher check failed too; the redemption outcome is unknown");
                Err(lost)
            }
        }
    }
}

/// `err` with every occurrence of the PIN replaced by its masked form.
fn redact(err: ConnectorError, pin: &SecretString) -> ConnectorError {
    let pin = pin.expose_secret();
    let scrub = |text: String| {
        if pin.is_empty() {
            text
        } else {
            text.replace(pin, &mask_secret(pin))
        }
    };
    match err {
        ConnectorError::Unreachable(t) => ConnectorError::Unreachable(scrub(t)),
        ConnectorError::Protocol(t) => ConnectorError::Protocol(scrub(t)),
        ConnectorError::Config(t) => ConnectorError::Config(scrub(t)),
        ConnectorError::Unsupported(t) => ConnectorError::Unsupported(scrub(t)),
        ConnectorError::BadCallback(t) => ConnectorError::BadCallback(scrub(t)),
        other @ (ConnectorError::InvalidCredentials { .. }
        | ConnectorError::Timeout
        | ConnectorError::Unavailable { .. }
        | ConnectorError::RateLimited) => other,
    }
}

/// A 200 JSON [`VoucherOut`]; anything else is [`ConnectorError::Protocol`].
fn parse(response: &PspResponse) -> Answer {
    if response.status != 200 {
        return Err(ConnectorError::Protocol(format!(
            "FLEXEPIN answered HTTP {}",
            response.status
        )));
    }
    serde_json::from_str(&response.body)
        .map_err(|e| ConnectorError::Protocol(format!("FLEXEPIN answer unreadable: {e}")))
}

fn approved(answer: &VoucherOut) -> PspUpdate {
    PspUpdate {
        psp_transaction_id: answer.transaction_id.clone().filter(|t| !t.is_empty()),
        ..PspUpdate::new(PspOutcome::Approved, wire::STATUS_USED)
    }
}

/// A refused validate or redeem: declined, or failed for a system error.
fn refused(answer: &VoucherOut) -> PspUpdate {
    let class = match answer.result {
        wire::result::OK => FailureClass::HardDecline,
        code => wire::failure_class(code),
    };
    let outcome = match class {
        FailureClass::Technical | FailureClass::Unknown => PspOutcome::Failed,
        FailureClass::HardDecline | FailureClass::SoftDecline | FailureClass::NotProcessed => {
            PspOutcome::Declined
        }
    };
    let status = answer.status_word();
    let raw = if status.is_empty() {
        format!("result-{}", answer.result)
    } else {
        status
    };
    PspUpdate {
        message: Some(format!(
            "{} (result {})",
            answer.result_description, answer.result
        )),
        ..PspUpdate::failed(outcome, raw, class)
    }
}

/// `Some(decline)` when the voucher's face value or currency is not the order's.
fn value_mismatch(answer: &VoucherOut, amount: Money) -> Option<PspUpdate> {
    let currency = answer
        .currency
        .as_deref()
        .unwrap_or("")
        .trim()
        .to_ascii_uppercase();
    let value = answer.value.as_deref().unwrap_or("");
    let (raw, same) = if currency != amount.currency().code() {
        ("currency-mismatch", false)
    } else {
        let worth = Money::parse_major(value, amount.currency()).ok();
        ("amount-mismatch", worth == Some(amount))
    };
    (!same).then(|| PspUpdate {
        message: Some(format!(
            "the voucher is worth {value} {currency}, the order is {} {}; not redeemed",
            amount.to_major_string(),
            amount.currency().code()
        )),
        ..PspUpdate::failed(PspOutcome::Declined, raw, FailureClass::HardDecline)
    })
}

/// A validate call that failed before any redeem was sent: nothing was redeemed.
fn unvalidated(error: ConnectorError) -> Result<PayinStarted, ConnectorError> {
    if error.certainly_not_processed() {
        return Err(error);
    }
    Ok(final_update(PspUpdate {
        message: Some(format!(
            "voucher check failed ({error}); nothing was redeemed"
        )),
        ..PspUpdate::failed(
            PspOutcome::Failed,
            "not-validated",
            FailureClass::NotProcessed,
        )
    }))
}

fn final_update(update: PspUpdate) -> PayinStarted {
    PayinStarted {
        redirect_url: None,
        update,
    }
}

/// Flexepin's result code for a terminal that does not belong to the API key.
const TERMINAL_NOT_KEYS: i64 = 4010;

#[async_trait]
impl Connector for Flexepin {
    /// A voucher is redeemed in the create call itself: a lost answer may have moved money, so
    /// a pay-in whose redeem answer stays unknown never goes to another account.
    fn payin_needs_customer(&self) -> bool {
        false
    }

    fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    /// Flexepin has no status query: the probe validates a PIN that is no voucher (all
    /// zeros) with a fresh transaction number. Validation moves no money; any signed answer
    /// proves the key and secret, except result 4010 (the terminal is not the key's).
    async fn test_credentials(&self, account: &AccountContext) -> Result<(), ConnectorError> {
        let pin = SecretString::from("0000000000000000".to_owned());
        let trans_no = OrderId::for_attempt(&overture_core::TransactionId::generate(), 1);
        let answer = self
            .validate_voucher(account, &pin, trans_no.as_str())
            .await?;
        if answer.result == TERMINAL_NOT_KEYS {
            return Err(ConnectorError::InvalidCredentials { status: 200 });
        }
        Ok(())
    }

    /// `voucherPin`: 16 digits; the amount: whole major units (vouchers have whole face
    /// values). Checked before any call.
    fn validate(&self, request: &PaymentRequest) -> Result<(), FieldError> {
        let pin = request.extras.get(PIN_FIELD).map(|p| p.trim());
        match pin {
            None | Some("") => Err(FieldError {
                field: PIN_FIELD.into(),
                message: format!("{PIN_FIELD} is required by FLEXEPIN"),
            }),
            Some(p) if !wire::is_valid_pin(p) => Err(FieldError {
                field: PIN_FIELD.into(),
                message: "voucherPin must be the voucher's 16 digits".into(),
            }),
            Some(_) if !is_whole(request.amount) => Err(FieldError {
                field: "baseamount".into(),
                message:
                    "Flexepin vouchers have whole face values: the amount must be a whole number"
                        .into(),
            }),
            Some(_) => Ok(()),
        }
    }

    /// Validate, compare, redeem (see the module docs). Declines and failures the PSP
    /// answered are final updates; a lost redeem answer is resolved by validating again.
    async fn start_payin(
        &self,
        account: &AccountContext,
        request: &PaymentRequest,
    ) -> Result<PayinStarted, ConnectorError> {
        let pin = request
            .extras
            .get(PIN_FIELD)
            .map(|p| SecretString::from(p.trim().to_owned()))
            .filter(|p| wire::is_valid_pin(p.expose_secret()))
            .ok_or_else(|| {
                ConnectorError::Unsupported("FLEXEPIN needs the full voucherPin".into())
            })?;
        let trans_no = request.order_id.as_str();
        let checked = match self.validate_voucher(account, &pin, trans_no).await {
            Ok(answer) => answer,
            Err(error) => return unvalidated(error),
        };
        if wire::redeemed_by(&checked) == Some(trans_no) {
            return Ok(final_update(approved(&checked)));
        }
        if !checked.is_active() {
            return Ok(final_update(refused(&checked)));
        }
        if let Some(decline) = value_mismatch(&checked, request.amount) {
            return Ok(final_update(decline));
        }
        let update = match self.redeem_voucher(account, &pin, request).await {
            Ok(answer) if answer.is_used() => approved(&answer),
            Ok(answer) if answer.result != wire::result::OK => refused(&answer),
            Ok(answer) => {
                let odd = ConnectorError::Protocol(format!(
                    "redeem answered result 0 with status {:?}",
                    answer.status_word()
                ));
                self.resolve_lost_redeem(account, &pin, trans_no, odd)
                    .await?
            }
            Err(e) if e.never_reached() => return Err(e),
            Err(e @ ConnectorError::InvalidCredentials { .. }) => return Err(e),
            Err(e) => self.resolve_lost_redeem(account, &pin, trans_no, e).await?,
        };
        Ok(final_update(update))
    }

    /// FLEXEPIN pays nothing out.
    async fn submit_payout(
        &self,
        _account: &AccountContext,
        _request: &PaymentRequest,
    ) -> Result<PspUpdate, ConnectorError> {
        Err(ConnectorError::Unsupported(
            "FLEXEPIN has no payouts".into(),
        ))
    }

    /// Nothing can be learned: no lookup by transaction number exists and the stored PIN is
    /// masked (module docs). Pending until the poll schedule gives up.
    async fn sync(
        &self,
        _account: &AccountContext,
        order: &OrderRef,
    ) -> Result<PspUpdate, ConnectorError> {
        if order.txn_type != TxnType::Payin {
            return Err(ConnectorError::Unsupported(
                "FLEXEPIN has no payouts".into(),
            ));
        }
        Ok(PspUpdate {
            message: Some(format!(
                "redemption outcome unknown: Flexepin offers no lookup by transaction number; \
                 reconcile trans_no {} in the Flexepin merchant portal",
                order.order_id
            )),
            ..PspUpdate::new(PspOutcome::Pending, "outcome-unknown")
        })
    }

    /// Flexepin sends no callbacks: refused.
    fn parse_callback(
        &self,
        _account: &AccountContext,
        _request: &CallbackRequest,
    ) -> Result<CallbackOutcome, ConnectorError> {
        Err(ConnectorError::BadCallback(
            "Flexepin sends no callbacks".into(),
        ))
    }
}

/// True when `amount` is a whole number of major units.
fn is_whole(amount: Money) -> bool {
    amount.minor() % 10_i64.pow(amount.currency().exponent()) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::OutboundPolicy;
    use overture_core::{Credentials, Currency, OrderId, PspAccountId, TransactionId};
    use std::collections::BTreeMap;
    use std::time::Duration;

    const PIN: &str = "9780000200000000";

    fn connector() -> Flexepin {
        Flexepin::new(PspHttp::new(
            Duration::from_millis(500),
            OutboundPolicy::default(),
        ))
    }

    fn request(pin: &str, amount: &str) -> PaymentRequest {
        PaymentRequest {
            order_id: OrderId::for_attempt(&TransactionId::generate(), 1),
            txn_type: TxnType::Payin,
            amount: Money::parse_major(amount, Currency::from_code("EUR").unwrap()).unwrap(),
            user_id: "u1".into(),
            email: "a@example.com".into(),
            country: None,
            return_url: None,
            merchant_reference: None,
            extras: BTreeMap::from([(PIN_FIELD.to_owned(), pin.to_owned())]),
        }
    }

    #[test]
    fn validate_checks_the_pin_and_whole_amounts() {
        let c = connector();
        assert!(c.validate(&request(PIN, "20")).is_ok());
        assert_eq!(
            c.validate(&request("12345", "20")).unwrap_err().field,
            PIN_FIELD
        );
        assert_eq!(c.validate(&request("", "20")).unwrap_err().field, PIN_FIELD);
        assert_eq!(
            c.validate(&request(PIN, "20.50")).unwrap_err().field,
            "baseamount"
        );
        let mut none = request(PIN, "20");
        none.extras.clear();
        assert_eq!(c.validate(&none).unwrap_err().field, PIN_FIELD);
    }

    #[test]
    fn a_voucher_of_another_value_or_currency_is_declined() {
        let eur20 = request(PIN, "20").amount;
        let voucher = |value: &str, currency: &str| VoucherOut {
            value: Some(value.into()),
            currency: Some(currency.into()),
            status: Some("ACTIVE".into()),
            ..Default::default()
        };
        assert!(value_mismatch(&voucher("20", "EUR"), eur20).is_none());
        assert!(value_mismatch(&voucher("20.00", "eur"), eur20).is_none());
        let other = value_mismatch(&voucher("50", "EUR"), eur20).unwrap();
        assert_eq!(
            (
                other.outcome,
                other.raw_status.as_str(),
                other.failure_class()
            ),
            (
                PspOutcome::Declined,
                "amount-mismatch",
                FailureClass::HardDecline
            )
        );
        let cad = value_mismatch(&voucher("20", "CAD"), eur20).unwrap();
        assert_eq!(cad.raw_status, "currency-mismatch");
    }

    /// The transport error of an unreachable PSP names the URL, which carries the PIN: the
    /// connector masks it before anyone sees the error.
    #[tokio::test]
    async fn errors_never_carry_the_pin() {
        let account = AccountContext {
            account_id: PspAccountId::generate(),
            base_url: "http://127.0.0.1:9".into(),
            credentials: Credentials(
                ["api_key", "secret", "terminal_id"]
                    .into_iter()
                    .map(|k| (k.to_owned(), SecretString::from("x")))
                    .collect(),
            ),
            callback_url: "http://127.0.0.1:9/cb".into(),
        };
        let c = connector();
        let pin = SecretString::from(PIN);
        let raw = c
            .http
            .send(
                c.http
                    .client()
                    .get(format!("http://127.0.0.1:9/voucher/validate/{PIN}")),
            )
            .await
            .unwrap_err();
        assert!(
            raw.to_string().contains(PIN),
            "reqwest names the URL: {raw}"
        );
        assert!(!redact(raw, &pin).to_string().contains(PIN));
        let err = c
            .start_payin(&account, &request(PIN, "20"))
            .await
            .unwrap_err();
        assert!(matches!(err, ConnectorError::Unreachable(_)), "{err:?}");
        assert!(!format!("{err} {err:?}").contains(PIN), "{err:?}");
        assert!(format!("{err}").contains("****0000"), "{err}");
    }

    #[tokio::test]
    async fn sync_learns_nothing_and_stays_pending() {
        let account = AccountContext {
            account_id: PspAccountId::generate(),
            base_url: "http://127.0.0.1:9".into(),
            credentials: Credentials(BTreeMap::new()),
            callback_url: String::new(),
        };
        let req = request("****0000", "20");
        let order = OrderRef {
            order_id: req.order_id.clone(),
            txn_type: TxnType::Payin,
            amount: req.amount,
            psp_transaction_id: None,
            stage: None,
            extras: req.extras.clone(),
        };
        let update = connector().sync(&account, &order).await.unwrap();
        assert_eq!(update.outcome, PspOutcome::Pending);
        assert!(update.message.unwrap().contains(order.order_id.as_str()));
    }

    #[test]
    fn nonces_strictly_increase() {
        let c = connector();
        let a: u64 = c.nonce().parse().unwrap();
        let b: u64 = c.nonce().parse().unwrap();
        assert!(b > a);
    }
}
