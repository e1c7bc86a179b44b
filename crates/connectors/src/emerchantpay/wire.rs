//! EMERCHANTPAY wire format: emerchantpay's Genesis gateway, Web Payment Form (WPF) API.
//!
//! Sources (public): the Genesis API documentation (emerchantpay.github.io/gateway-api-docs,
//! docs.emerchantpay.com "Integrate your WPF": HTTP Basic auth with the API login and password),
//! the official SDKs: genesis_php (`Wpf\Create` required fields and XML tree, `Wpf\Reconcile`,
//! `Notification::isAuthentic` / `generateResponse`, transaction states, error codes, staging
//! and production host names), genesis.js (`wpf/create` path `{locale}/wpf`, notification echo,
//! reconcile after a verified notification) and the Genesis .NET SDK (the sample WPF
//! notification, the published signature examples and the sample `wpf_payment` create and
//! reconcile answers used as fixtures in this module's tests). Inferred or assumed details:
//!
//! 1. Hosts: staging `https://staging.wpf.emerchantpay.net`, production
//!    `https://wpf.emerchantpay.net` (genesis_php `Config`); create `POST {base}/wpf`
//!    (genesis_php; genesis.js sends `/{locale}/wpf`), reconcile `POST {base}/wpf/reconcile`,
//!    both XML (`Content-Type: text/xml`). Bad credentials ⇒ HTTP 401 (SDK fixture).
//! 2. A refused request answers `<wpf_payment><status>error</status><code/><message/>
//!    <technical_message/>`; the HTTP status of such an answer is not published, so any status
//!    other than the classified ones (401/403/404/429/5xx) is read for that body.
//! 3. The create answer's `status` is `new` (WPF states); the .NET sample shows `approved`:
//!    any non-`error` answer with `unique_id` and `redirect_url` is an open form.
//! 4. `unique_id` (the WPF's) is the PSP transaction id and the key of `wpf_reconcile`; Genesis
//!    publishes no WPF lookup by `transaction_id`, so an order whose create answer was lost
//!    cannot be asked for: its payer never got the form, nothing can be paid (not found).
//! 5. Notifications: form POST with `notification_type=wpf`, `wpf_unique_id`,
//!    `wpf_transaction_id`, `wpf_status`, `payment_transaction_*` and `signature` =
//!    hex SHA-1 / SHA-256 / SHA-512 (by length 40 / 64 / 128) of `wpf_unique_id` + API password
//!    (genesis_php). Answered with `<notification_echo><wpf_unique_id>…` (genesis_php,
//!    genesis.js, .NET); resent until echoed [inferred: the schedule is not published]. The
//!    notification carries no currency, so it names no amount Overture could check.
//! 6. The Mozarto "terminal token" is not needed: a WPF picks the terminal itself.
//! 7. Status mapping and failure classes: [`map_status`], [`failure_class`].
//!
//! Checked against our earlier research notes: `redirect_url` in the create answer (noted
//! "inferred") is confirmed by the .NET SDK's sample; the notes' `/{lang}/wpf` path is
//! genesis.js's, while genesis_php posts to `/wpf`: Overture uses `/wpf` and the sandbox takes
//! both. Mozarto's request carries raw card fields (`card{pan, cvv…}`); this connector sends
//! none: the card is entered on the WPF only.

use overture_core::connector::{FailureClass, PspOutcome};
use serde::{Deserialize, Serialize};
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha512};

/// Create path below the WPF host.
pub const CREATE_PATH: &str = "/wpf";
/// Reconcile path below the WPF host.
pub const RECONCILE_PATH: &str = "/wpf/reconcile";
/// The transaction type every Overture pay-in uses (3-D Secure sale, Mozarto).
pub const TRANSACTION_TYPE: &str = "sale3d";
/// `notification_type` of a WPF notification.
pub const NOTIFICATION_TYPE_WPF: &str = "wpf";
/// XML declaration of requests and of the echo.
pub const DECLARATION: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";

/// `<wpf_payment>` request (only the fields Overture sends). Amount in minor units.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename = "wpf_payment")]
pub struct WpfPaymentIn {
    /// Overture's order id (unique per merchant).
    pub transaction_id: String,
    pub usage: String,
    pub description: String,
    pub notification_url: String,
    pub return_success_url: String,
    pub return_failure_url: String,
    pub return_cancel_url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub return_pending_url: Option<String>,
    /// Minor units (`5000` = 50.00).
    pub amount: String,
    pub currency: String,
    pub customer_email: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub billing_address: Option<BillingAddress>,
    pub transaction_types: TransactionTypes,
}

impl WpfPaymentIn {
    /// The request document.
    pub fn to_xml(&self) -> Result<String, quick_xml::SeError> {
        Ok(format!("{DECLARATION}{}", quick_xml::se::to_string(self)?))
    }
}

/// `<billing_address>` (the fields Overture knows).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BillingAddress {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    /// ISO 3166-1 alpha-2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
}

/// `<transaction_types><transaction_type name="sale3d"/></transaction_types>`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransactionTypes {
    #[serde(default)]
    pub transaction_type: Vec<TransactionType>,
}

impl TransactionTypes {
    /// Only [`TRANSACTION_TYPE`].
    pub fn sale3d() -> Self {
        Self {
            transaction_type: vec![TransactionType {
                name: TRANSACTION_TYPE.to_owned(),
            }],
        }
    }
}

/// One `<transaction_type name/>`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransactionType {
    #[serde(rename = "@name")]
    pub name: String,
}

/// `<wpf_reconcile><unique_id/></wpf_reconcile>`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename = "wpf_reconcile")]
pub struct WpfReconcileIn {
    pub unique_id: String,
}

impl WpfReconcileIn {
    /// The request document.
    pub fn to_xml(&self) -> Result<String, quick_xml::SeError> {
        Ok(format!("{DECLARATION}{}", quick_xml::se::to_string(self)?))
    }
}

/// `<wpf_payment>` answer of create and reconcile (and of refusals, `status` `error`). Amounts
/// in minor units.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename = "wpf_payment")]
pub struct WpfPaymentOut {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_id: Option<String>,
    /// WPF state (see [`map_status`]) or `error`.
    #[serde(default)]
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unique_id: Option<String>,
    /// Genesis error code of a refusal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub technical_message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    /// The hosted form (create answer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect_url: Option<String>,
    /// The payment attempts made on the form (reconcile answer).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub payment_transaction: Vec<PaymentTransaction>,
}

impl WpfPaymentOut {
    /// Parses an answer document.
    pub fn parse(xml: &str) -> Result<Self, quick_xml::DeError> {
        quick_xml::de::from_str(xml)
    }

    /// The answer document.
    pub fn to_xml(&self) -> Result<String, quick_xml::SeError> {
        Ok(format!("{DECLARATION}{}", quick_xml::se::to_string(self)?))
    }

    /// The Genesis code of the last payment transaction (why it was declined), else the
    /// answer's own.
    pub fn decline_code(&self) -> Option<&str> {
        self.payment_transaction
            .iter()
            .rev()
            .find_map(|t| t.code.as_deref())
            .or(self.code.as_deref())
    }

    /// The most specific human-readable reason the answer carries.
    pub fn reason(&self) -> Option<String> {
        let last = self.payment_transaction.last();
        last.and_then(|t| t.technical_message.clone().or_else(|| t.message.clone()))
            .or_else(|| self.technical_message.clone())
            .or_else(|| self.message.clone())
            .filter(|m| !m.trim().is_empty())
    }
}

/// One `<payment_transaction>` of a reconcile answer.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentTransaction {
    #[serde(default)]
    pub transaction_type: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub unique_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub technical_message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
}

/// `<notification_echo><wpf_unique_id/></notification_echo>`, the acknowledgement.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename = "notification_echo")]
pub struct NotificationEcho {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wpf_unique_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unique_id: Option<String>,
}

impl NotificationEcho {
    /// The echo document.
    pub fn to_xml(&self) -> Result<String, quick_xml::SeError> {
        Ok(format!("{DECLARATION}{}", quick_xml::se::to_string(self)?))
    }

    /// Parses an echo (the sandbox checks the merchant's answer with it).
    pub fn parse(xml: &str) -> Result<Self, quick_xml::DeError> {
        quick_xml::de::from_str(xml)
    }
}

/// The fields of a WPF notification Overture reads (form fields, all strings).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WpfNotification {
    #[serde(default)]
    pub notification_type: String,
    #[serde(default)]
    pub wpf_unique_id: String,
    #[serde(default)]
    pub wpf_transaction_id: String,
    #[serde(default)]
    pub wpf_status: String,
    #[serde(default)]
    pub payment_transaction_transaction_type: String,
    #[serde(default)]
    pub payment_transaction_unique_id: String,
    #[serde(default)]
    pub payment_transaction_terminal_token: String,
    /// Minor units [inferred].
    #[serde(default)]
    pub payment_transaction_amount: String,
    #[serde(default)]
    pub signature: String,
}

impl WpfNotification {
    /// Parses a form body; values trimmed (genesis_php trims and decodes every field).
    pub fn from_form(body: &[u8]) -> Option<Self> {
        let mut n: Self = serde_urlencoded::from_bytes(body).ok()?;
        for field in [
            &mut n.notification_type,
            &mut n.wpf_unique_id,
            &mut n.wpf_transaction_id,
            &mut n.wpf_status,
            &mut n.signature,
        ] {
            *field = field.trim().to_owned();
        }
        Some(n)
    }
}

/// The notification signature with the hash its length names: hex SHA-1 (40), SHA-256 (64) or
/// SHA-512 (128) of `unique_id + password`; `None` for any other length.
pub fn signature_for(length: usize, unique_id: &str, password: &str) -> Option<String> {
    let input = format!("{unique_id}{password}");
    Some(match length {
        40 => hex::encode(Sha1::digest(input.as_bytes())),
        64 => hex::encode(Sha256::digest(input.as_bytes())),
        128 => hex::encode(Sha512::digest(input.as_bytes())),
        _ => return None,
    })
}

/// True when `signature` (hex, any case) is the signature of `unique_id` under `password`;
/// compared without early exit.
pub fn verify_signature(signature: &str, unique_id: &str, password: &str) -> bool {
    let given = signature.trim().to_ascii_lowercase();
    let Some(expected) = signature_for(given.len(), unique_id, password) else {
        return false;
    };
    given
        .bytes()
        .zip(expected.bytes())
        .fold(0u8, |acc, (a, b)| acc | (a ^ b))
        == 0
}

/// WPF and transaction state words (genesis_php `Transaction\States`).
pub mod status {
    pub const NEW: &str = "new";
    pub const USER: &str = "user";
    pub const SUBMITTED: &str = "submitted";
    pub const PENDING: &str = "pending";
    pub const PENDING_ASYNC: &str = "pending_async";
    pub const IN_PROGRESS: &str = "in_progress";
    pub const PENDING_HOLD: &str = "pending_hold";
    pub const PENDING_REVIEW: &str = "pending_review";
    pub const APPROVED: &str = "approved";
    pub const DECLINED: &str = "declined";
    pub const ERROR: &str = "error";
    pub const UNSUCCESSFUL: &str = "unsuccessful";
    pub const TIMEOUT: &str = "timeout";
    pub const VOIDED: &str = "voided";
    pub const REFUNDED: &str = "refunded";
    pub const CHARGEBACKED: &str = "chargebacked";
}

/// States that follow an approval (refunds and disputes are outside Overture's model).
const AFTER_APPROVAL: &[&str] = &[
    "refunded",
    "chargebacked",
    "chargeback_reversed",
    "chargeback_reversal",
    "pre_arbitrated",
    "second_chargebacked",
    "represented",
    "representment_reversed",
];

/// Normalises a WPF state: approved (and the refund/chargeback states that follow it) ⇒
/// approved; declined, voided ⇒ declined; error, unsuccessful, timeout ⇒ failed; new, user,
/// submitted, pending, pending_async, in_progress, pending_hold, pending_review and any
/// unknown word ⇒ pending (an unknown word never closes a payment).
pub fn map_status(raw: &str) -> PspOutcome {
    let word = raw.trim().to_ascii_lowercase();
    match word.as_str() {
        status::APPROVED => PspOutcome::Approved,
        w if AFTER_APPROVAL.contains(&w) => PspOutcome::Approved,
        status::DECLINED | status::VOIDED => PspOutcome::Declined,
        status::ERROR | status::UNSUCCESSFUL | status::TIMEOUT => PspOutcome::Failed,
        _ => PspOutcome::Pending,
    }
}

/// What a final failure proves ([`FailureClass`]), from the state and the Genesis error code
/// (genesis_php `Constants\Errors`):
///
/// | state | code | class |
/// |---|---|---|
/// | declined | 510 invalid card, 520 expired card, 600–699 risk management / blacklists | hard decline |
/// | declined | 500 issuer decline, 540 credit exceeded, any other or none | soft decline |
/// | voided | — (authorisation cancelled, nothing captured) | not processed |
/// | timeout | — (the form expired unpaid) | not processed |
/// | error, unsuccessful | — | technical |
///
/// A create refused with `status` `error` created no form: not processed (see the connector).
pub fn failure_class(raw: &str, code: Option<&str>) -> Option<FailureClass> {
    let code: Option<u32> = code.and_then(|c| c.trim().parse().ok());
    match raw.trim().to_ascii_lowercase().as_str() {
        status::DECLINED => Some(match code {
            Some(510 | 520 | 600..=699) => FailureClass::HardDecline,
            _ => FailureClass::SoftDecline,
        }),
        status::VOIDED | status::TIMEOUT => Some(FailureClass::NotProcessed),
        status::ERROR | status::UNSUCCESSFUL => Some(FailureClass::Technical),
        _ => None,
    }
}

/// Whether a create refusal with Genesis `code` proves nothing was created: every code but
/// 100 (system error) and 450 (double transaction: a form may exist) does.
pub fn refusal_creates_nothing(code: Option<&str>) -> bool {
    !matches!(code.map(str::trim), Some("100" | "450") | None)
}

#[cfg(test)]
#[path = "wire_tests.rs"]
pub(crate) mod tests;
