//! PAYMENTSOFT (PaynetEasy v4 family) wire format: request and response fields, the `control`
//! checksums, the response layout and the status mapping. Sources, all on doc.payneteasy.com:
//! "/api/v4/payout" (payout request and its response), "/api/v2/status" (order status),
//! "Connecting Party Callback" (merchant callback), "Final redirect" (browser return).
//! OAuth signing of v4 calls lives in [`super::oauth`].
//!
//! Amounts on the wire are major-unit decimal strings (`"10.50"` EUR). Where the public docs are
//! silent this module says "inferred" and names the choice; the sandbox speaks the same choices.

use overture_core::connector::{FailureClass, PspOutcome};
use serde::{Deserialize, Serialize};
use sha1::{Digest, Sha1};
use std::collections::BTreeMap;

/// Payout path below the base URL, `{endpoint_id}` appended ("/api/v4/payout").
pub const PAYOUT_PATH: &str = "/paynet/api/v4/payout";
/// Status path below the base URL, `{endpoint_id}` appended ("/api/v2/status").
pub const STATUS_PATH: &str = "/paynet/api/v2/status";

/// Response `type` of an accepted v4 request ("/api/v4/payout").
pub const TYPE_ASYNC_RESPONSE: &str = "async-response";
/// Response `type` of a refused request: the order was not created ("/api/v4/payout").
pub const TYPE_VALIDATION_ERROR: &str = "validation-error";
/// Response `type` of a PSP-side failure: the order was not created ("/api/v4/payout").
pub const TYPE_ERROR: &str = "error";
/// Response `type` of a status answer ("/api/v2/status").
pub const TYPE_STATUS_RESPONSE: &str = "status-response";

/// `error-code` for a field that failed validation. Inferred: the public docs publish no code
/// table; Overture's sandbox uses HTTP-like numbers so the meaning is readable.
pub const CODE_INVALID_FIELD: &str = "400";
/// `error-code` for a wrong `control` or unknown `login` on "/api/v2/status" (inferred, as above).
pub const CODE_BAD_CONTROL: &str = "401";
/// `error-code` of the status answer for an order the PSP does not know (inferred, as above):
/// `type=validation-error&error-code=404&error-message=Order not found`, HTTP 200.
pub const CODE_ORDER_NOT_FOUND: &str = "404";
/// `error-code` when a payout reuses a `client_orderid` (inferred, as above); the answer also
/// carries the existing order's `paynet-order-id`.
pub const CODE_DUPLICATE_ORDER: &str = "409";

/// The `/api/v4/payout` request body (form-urlencoded, signed with OAuth). Amount in major
/// units; receiver fields are sent only when known. Source: "/api/v4/payout".
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PayoutRequest {
    /// Merchant order id; Overture sends its transaction id (`txn_…`).
    pub client_orderid: String,
    /// Major units with the currency's decimals, e.g. `"10.50"`.
    pub amount: String,
    /// ISO 4217 code.
    pub currency: String,
    /// Order description shown in the PSP's back office.
    pub order_desc: String,
    /// Receiver's IP address.
    pub ipaddress: String,
    /// Destination of the payout, shown to the receiver.
    pub purpose: String,
    /// Where the PSP sends the final-status callback ("Connecting Party Callback").
    pub server_callback_url: Option<String>,
    /// Where the receiver's browser returns ("Final redirect").
    pub redirect_url: Option<String>,
    /// Receiver's e-mail.
    pub email: Option<String>,
    /// Receiver's first name.
    pub first_name: Option<String>,
    /// Receiver's last name.
    pub last_name: Option<String>,
    /// ISO 3166-1 alpha-2.
    pub country: Option<String>,
    /// Receiver's phone number.
    pub phone: Option<String>,
    /// Receiver's street address.
    pub address1: Option<String>,
    /// Receiver's city.
    pub city: Option<String>,
    /// Receiver's postal code.
    pub zip_code: Option<String>,
    /// Receiver's bank account number or IBAN.
    pub account_number: Option<String>,
    /// Receiver's bank routing number.
    pub routing_number: Option<String>,
    /// Receiver's bank name.
    pub bank_name: Option<String>,
}

/// Cashier API extras copied to optional payout receiver fields: (extras key, wire name).
pub const RECEIVER_EXTRAS: &[(&str, &str)] = &[
    ("firstName", "first_name"),
    ("lastName", "last_name"),
    ("phone", "phone"),
    ("address", "address1"),
    ("city", "city"),
    ("zipCode", "zip_code"),
    ("accountNumber", "account_number"),
    ("routingNumber", "routing_number"),
    ("bankName", "bank_name"),
];

impl PayoutRequest {
    /// Sets an optional receiver field by its wire name; unknown names are ignored.
    pub fn set_receiver_field(&mut self, wire_name: &str, value: String) {
        let slot = match wire_name {
            "first_name" => &mut self.first_name,
            "last_name" => &mut self.last_name,
            "phone" => &mut self.phone,
            "address1" => &mut self.address1,
            "city" => &mut self.city,
            "zip_code" => &mut self.zip_code,
            "account_number" => &mut self.account_number,
            "routing_number" => &mut self.routing_number,
            "bank_name" => &mut self.bank_name,
            _ => return,
        };
        *slot = Some(value);
    }

    /// The body as ordered name/value pairs (absent optional fields omitted). The same pairs are
    /// form-encoded as the body and fed to the OAuth base string, so both always agree.
    pub fn to_pairs(&self) -> Vec<(String, String)> {
        let required = [
            ("client_orderid", &self.client_orderid),
            ("amount", &self.amount),
            ("currency", &self.currency),
            ("order_desc", &self.order_desc),
            ("ipaddress", &self.ipaddress),
            ("purpose", &self.purpose),
        ];
        let optional = [
            ("server_callback_url", &self.server_callback_url),
            ("redirect_url", &self.redirect_url),
            ("email", &self.email),
            ("first_name", &self.first_name),
            ("last_name", &self.last_name),
            ("country", &self.country),
            ("phone", &self.phone),
            ("address1", &self.address1),
            ("city", &self.city),
            ("zip_code", &self.zip_code),
            ("account_number", &self.account_number),
            ("routing_number", &self.routing_number),
            ("bank_name", &self.bank_name),
        ];
        required
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.clone()))
            .chain(
                optional
                    .into_iter()
                    .filter_map(|(k, v)| v.as_ref().map(|v| (k.to_owned(), v.clone()))),
            )
            .collect()
    }
}

/// The `/api/v2/status` request body (form-urlencoded, authenticated by `control`).
/// Source: "/api/v2/status".
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusRequest {
    /// The merchant's `login`.
    pub login: String,
    /// Overture's transaction id, as sent in the payout.
    pub client_orderid: String,
    /// `paynet-order-id`. Empty when the payout response was lost; then the order is looked up
    /// by `client_orderid` (inferred: the docs list `orderid` as required; Overture's sandbox
    /// accepts it empty, and the real PSP answers not-found, which is safe but inconclusive).
    #[serde(default)]
    pub orderid: String,
    /// [`status_control`] of the other fields.
    pub control: String,
}

impl StatusRequest {
    /// A request with its `control` computed from `merchant_control`.
    pub fn new(login: &str, client_orderid: &str, orderid: &str, merchant_control: &str) -> Self {
        Self {
            login: login.to_owned(),
            client_orderid: client_orderid.to_owned(),
            orderid: orderid.to_owned(),
            control: status_control(login, client_orderid, orderid, merchant_control),
        }
    }

    /// The body as name/value pairs, in documented order.
    pub fn to_pairs(&self) -> Vec<(&'static str, &str)> {
        vec![
            ("login", self.login.as_str()),
            ("client_orderid", self.client_orderid.as_str()),
            ("orderid", self.orderid.as_str()),
            ("control", self.control.as_str()),
        ]
    }
}

/// Lower-case hex SHA-1 of the concatenation of `parts`.
fn sha1_hex(parts: &[&str]) -> String {
    let mut hasher = Sha1::new();
    for part in parts {
        hasher.update(part.as_bytes());
    }
    hex::encode(hasher.finalize())
}

/// `control` of a status request: `sha1(login + client_orderid + orderid + merchant_control)`,
/// lower-case hex ("/api/v2/status").
pub fn status_control(
    login: &str,
    client_orderid: &str,
    orderid: &str,
    merchant_control: &str,
) -> String {
    sha1_hex(&[login, client_orderid, orderid, merchant_control])
}

/// `control` of a callback or final redirect:
/// `sha1(status + orderid + client_orderid + merchant_control)`, lower-case hex
/// ("Connecting Party Callback", "Final redirect").
pub fn callback_control(
    status: &str,
    orderid: &str,
    client_orderid: &str,
    merchant_control: &str,
) -> String {
    sha1_hex(&[status, orderid, client_orderid, merchant_control])
}

/// Compares two checksums in time independent of where they differ (the length may leak, and
/// is public anyway: 40 hex digits).
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0_u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The merchant callback's parameters (HTTP GET query string, or a form body). Amount in major
/// units. Source: "Connecting Party Callback".
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallbackParams {
    /// Transaction type, `payout` here.
    #[serde(rename = "type", default)]
    pub kind: String,
    /// Final status word (see [`status`]).
    #[serde(default)]
    pub status: String,
    /// `paynet-order-id`.
    #[serde(default)]
    pub orderid: String,
    /// Same value as `client_orderid`.
    #[serde(default)]
    pub merchant_order: String,
    /// Overture's transaction id.
    #[serde(default)]
    pub client_orderid: String,
    /// Major units, e.g. `"10.50"`.
    #[serde(default)]
    pub amount: String,
    /// ISO 4217 code.
    #[serde(default)]
    pub currency: String,
    /// Reason of a decline or error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    /// PSP error code of a decline or error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// [`callback_control`] of `status`, `orderid`, `client_orderid`.
    #[serde(default)]
    pub control: String,
}

impl CallbackParams {
    /// Reads the known fields from decoded name/value pairs (missing ones empty).
    pub fn from_fields(fields: &BTreeMap<String, String>) -> Self {
        let get = |name: &str| fields.get(name).cloned().unwrap_or_default();
        let opt = |name: &str| fields.get(name).cloned().filter(|v| !v.is_empty());
        Self {
            kind: get("type"),
            status: get("status"),
            orderid: get("orderid"),
            merchant_order: get("merchant_order"),
            client_orderid: get("client_orderid"),
            amount: get("amount"),
            currency: get("currency"),
            error_message: opt("error_message"),
            error_code: opt("error_code"),
            control: get("control"),
        }
    }

    /// The fields as name/value pairs for a query string or form (empty ones omitted).
    pub fn to_pairs(&self) -> Vec<(&'static str, String)> {
        let fields = [
            ("type", Some(&self.kind)),
            ("status", Some(&self.status)),
            ("orderid", Some(&self.orderid)),
            ("merchant_order", Some(&self.merchant_order)),
            ("client_orderid", Some(&self.client_orderid)),
            ("amount", Some(&self.amount)),
            ("currency", Some(&self.currency)),
            ("error_message", self.error_message.as_ref()),
            ("error_code", self.error_code.as_ref()),
            ("control", Some(&self.control)),
        ];
        fields
            .into_iter()
            .filter_map(|(k, v)| v.filter(|v| !v.is_empty()).map(|v| (k, v.clone())))
            .collect()
    }

    /// True when `control` equals [`callback_control`] of the other fields.
    pub fn control_matches(&self, merchant_control: &str) -> bool {
        let expected = callback_control(
            &self.status,
            &self.orderid,
            &self.client_orderid,
            merchant_control,
        );
        constant_time_eq(&expected, &self.control.to_ascii_lowercase())
    }
}

/// A parsed PaynetEasy answer: `name=value` pairs joined by `&`, each after the first on its own
/// line (`type=async-response\n&paynet-order-id=…\n`), values form-urlencoded.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WireResponse {
    /// Decoded `name → value` pairs.
    pub fields: BTreeMap<String, String>,
}

impl WireResponse {
    /// Parses a body; `None` when it is not a `name=value` list with a `type`.
    pub fn parse(body: &str) -> Option<Self> {
        // Line breaks only separate pairs; values never contain raw ones (they are encoded).
        let joined: String = body.chars().filter(|c| *c != '\n' && *c != '\r').collect();
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(joined.trim()).ok()?;
        let fields: BTreeMap<String, String> = pairs
            .into_iter()
            .map(|(k, v)| (k.trim().to_owned(), v))
            .collect();
        fields.contains_key("type").then_some(Self { fields })
    }

    /// A field, `None` when absent or empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// The `type` field.
    pub fn kind(&self) -> &str {
        self.get("type").unwrap_or_default()
    }

    /// `error-message`, else `error-code`, else a generic text.
    pub fn error_text(&self) -> String {
        match (self.get("error-message"), self.get("error-code")) {
            (Some(m), Some(c)) => format!("{m} (code {c})"),
            (Some(m), None) => m.to_owned(),
            (None, Some(c)) => format!("error code {c}"),
            (None, None) => format!("PSP answered type={}", self.kind()),
        }
    }
}

/// Encodes an answer in the PaynetEasy layout (used by the sandbox; empty values are skipped).
pub fn encode_response(pairs: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (name, value) in pairs.iter().filter(|(_, v)| !v.is_empty()) {
        if !out.is_empty() {
            out.push('&');
        }
        out.push_str(name);
        out.push('=');
        out.push_str(&urlencoding::encode(value));
        out.push('\n');
    }
    out
}

/// Order statuses ("/api/v2/status"): final `approved`, `declined`, `filtered`, `error`;
/// non-final `processing`, `unknown`, `chain_declined`.
pub mod status {
    /// Final: the payout was paid.
    pub const APPROVED: &str = "approved";
    /// Final: refused by the bank or the processor.
    pub const DECLINED: &str = "declined";
    /// Final: refused by the PSP's fraud filters.
    pub const FILTERED: &str = "filtered";
    /// Final: technical failure.
    pub const ERROR: &str = "error";
    /// Not final: being processed (also while a receiver form waits).
    pub const PROCESSING: &str = "processing";
    /// Not final: the PSP does not know yet.
    pub const UNKNOWN: &str = "unknown";
    /// Not final: one route declined, the chain may try the next.
    pub const CHAIN_DECLINED: &str = "chain_declined";
}

/// Normalises a PaynetEasy status word. Unlisted words count as not final (`Pending`): an
/// unknown word must never close a payout; polling keeps asking until the give-up deadline.
pub fn map_status(raw: &str) -> PspOutcome {
    match raw.trim().to_ascii_lowercase().as_str() {
        status::APPROVED => PspOutcome::Approved,
        status::DECLINED | status::FILTERED => PspOutcome::Declined,
        status::ERROR => PspOutcome::Failed,
        // processing, unknown, chain_declined (the chain may still try another route), other.
        _ => PspOutcome::Pending,
    }
}

/// What a final PaynetEasy status proves ([`FailureClass`]; PaynetEasy publishes no decline
/// taxonomy for payouts, so this table is Overture's reading of the status words):
///
/// | status | class | why |
/// |---|---|---|
/// | `declined` | soft decline | the bank or processor refused this payout; nothing was paid, but it is a decision |
/// | `filtered` | hard decline | the PSP's fraud filters: never retried elsewhere |
/// | `error` | technical | a processing error after acceptance: not proof that nothing moved |
///
/// A v4 create answer of type `validation-error` or `error` means the PSP created no order:
/// not processed (see `classify_create`).
pub fn failure_class(raw: &str) -> Option<FailureClass> {
    match raw.trim().to_ascii_lowercase().as_str() {
        status::DECLINED => Some(FailureClass::SoftDecline),
        status::FILTERED => Some(FailureClass::HardDecline),
        status::ERROR => Some(FailureClass::Technical),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn final_statuses_are_classified() {
        assert_eq!(failure_class("declined"), Some(FailureClass::SoftDecline));
        assert_eq!(failure_class("FILTERED"), Some(FailureClass::HardDecline));
        assert_eq!(failure_class("error"), Some(FailureClass::Technical));
        assert_eq!(failure_class("processing"), None);
    }

    const TXN: &str = "txn_0190f0e0a1b2c3d4e5f60718293a4b5c";

    /// Expected digests computed outside Rust with
    /// `printf '%s' '<concatenation>' | sha1sum`.
    #[test]
    fn control_formulas_match_known_vectors() {
        assert_eq!(
            status_control("overture-sandbox", TXN, "1234567", "SANDBOX-CONTROL"),
            "370fbaa3b1ef185a5f262ef87c699529284d18af"
        );
        assert_eq!(
            status_control("overture-sandbox", TXN, "", "SANDBOX-CONTROL"),
            "3670e39113ccb25e969493ee2a440713f1912548"
        );
        assert_eq!(
            callback_control("approved", "1234567", TXN, "SANDBOX-CONTROL"),
            "91f65352be959da107ead8aa13e95660eaf14874"
        );
    }

    #[test]
    fn callback_control_check_rejects_tampering() {
        let mut params = CallbackParams {
            status: "approved".into(),
            orderid: "1234567".into(),
            client_orderid: TXN.into(),
            control: "91F65352BE959DA107EAD8AA13E95660EAF14874".into(),
            ..Default::default()
        };
        assert!(params.control_matches("SANDBOX-CONTROL"));
        params.status = "declined".into();
        assert!(!params.control_matches("SANDBOX-CONTROL"));
        assert!(!constant_time_eq("abc", "abcd"));
    }

    #[test]
    fn parses_the_documented_layout() {
        let body = "type=async-response\n&serial-number=00000000-0000-0000-0000-0000005b4a8b\n\
                    &merchant-order-id=902B4FF5\n&paynet-order-id=1969595\n";
        let r = WireResponse::parse(body).unwrap();
        assert_eq!(r.kind(), TYPE_ASYNC_RESPONSE);
        assert_eq!(r.get("paynet-order-id"), Some("1969595"));
        assert_eq!(r.get("error-message"), None);
        assert!(WireResponse::parse("<html>oops</html>").is_none());
        assert!(WireResponse::parse("").is_none());
    }

    #[test]
    fn encoded_answers_parse_back() {
        let body = encode_response(&[
            ("type", TYPE_VALIDATION_ERROR),
            ("error-message", "amount: must be > 0 & a number"),
            ("error-code", CODE_INVALID_FIELD),
            ("paynet-order-id", ""),
        ]);
        assert!(body.starts_with("type=validation-error\n&error-message="));
        let r = WireResponse::parse(&body).unwrap();
        assert_eq!(r.error_text(), "amount: must be > 0 & a number (code 400)");
        assert!(!r.fields.contains_key("paynet-order-id"));
    }

    #[test]
    fn statuses_map_to_outcomes() {
        assert_eq!(map_status("approved"), PspOutcome::Approved);
        assert_eq!(map_status("declined"), PspOutcome::Declined);
        assert_eq!(map_status("filtered"), PspOutcome::Declined);
        assert_eq!(map_status("error"), PspOutcome::Failed);
        for pending in ["processing", "unknown", "chain_declined", "something-new"] {
            assert_eq!(map_status(pending), PspOutcome::Pending);
        }
    }

    #[test]
    fn payout_pairs_skip_absent_fields_and_round_trip() {
        let mut req = PayoutRequest {
            client_orderid: TXN.into(),
            amount: "10.50".into(),
            currency: "EUR".into(),
            order_desc: "Payout".into(),
            ipaddress: "127.0.0.1".into(),
            purpose: "user 42".into(),
            email: Some("a@b.example".into()),
            ..Default::default()
        };
        req.set_receiver_field("first_name", "Ada".into());
        req.set_receiver_field("nonsense", "x".into());
        let pairs = req.to_pairs();
        assert_eq!(pairs.len(), 8);
        let body = serde_urlencoded::to_string(&pairs).unwrap();
        let back: PayoutRequest = serde_urlencoded::from_str(&body).unwrap();
        assert_eq!(back, req);
    }
}
