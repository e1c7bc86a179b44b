//! FLEXEPIN wire format: Flexepin's voucher redemption REST API (prepaid 16-digit voucher PINs,
//! flexepin.com). Flexepin publishes no public API reference; what follows was read in two
//! independent open-source integrations that agree with each other: a Node.js service
//! (`FlexepinService.js` of a crypto ATM back end, GitHub `rodrigo-barraza/wakanda`) and a C#
//! casino platform (`FlexepinHelpers.cs` and `Models/Flexepin/*.cs` of IqSoft's cashier). Each
//! detail below is marked *[read]* (seen in both, or in the one named) or *[assumed]* (our
//! choice where neither shows it; the sandbox speaks the same choices).
//!
//! 1. *[read]* JSON over HTTPS below the account's base URL (live and test hosts are not
//!    public; the account's `base_url` holds them). `GET /status` ⇒ `{"status":"alive"}`.
//! 2. *[read]* `GET /voucher/validate/{pin}/{terminalId}/{transNo}` looks a voucher up without
//!    using it; `PUT /voucher/redeem/{pin}/{terminalId}/{transNo}` redeems it, body
//!    `{"customer_ip": "…"}` (IqSoft; the Node.js service sends no body). `transNo` is the
//!    merchant's unique transaction number: Overture sends the attempt's order id (`txn_…`).
//! 3. *[read]* Every call carries `AUTHENTICATION: HMAC {apiKey}:{signature}:{nonce}`, nonce =
//!    epoch milliseconds, `signature = lower_hex(HMAC-SHA256(secret, METHOD "\n" PATH "\n"
//!    NONCE "\n" BODY))`, PATH from `/voucher/…` (or `/status`) without host, BODY the exact
//!    request body or empty ([`string_to_sign`]). The Node.js service spells the header
//!    `Authentication`; HTTP header names are case-insensitive.
//! 4. *[read]* Answers ([`VoucherOut`], IqSoft's `VoucherOutput`): `result` (0 = success),
//!    `result_description` ("Success"), `transaction_id`, `trans_no`, `serial`, `value`,
//!    `cost`, `currency`, `description`, `ean`, `status`. A usable voucher validates with
//!    result 0 and status `ACTIVE`; a redeemed one answers result 0 and status `USED`.
//! 5. *[read]* `value` and `currency` are the voucher's own (a voucher has a fixed face value,
//!    a whole number of major units: IqSoft reads `value` as an integer, the Node.js service
//!    divides it by a USD price). Overture never converts: a voucher whose value or currency
//!    differs from the requested amount is declined before any redeem, never partially used.
//! 6. *[read]* Result 4019 asks for a "flex swap" (a voucher of another product or currency,
//!    IqSoft's `CallFlexSwapApi`): out of scope, declined.
//! 7. *[assumed]* Other result codes, which neither source lists: 4001 voucher not found,
//!    4002 voucher already used, 4003 voucher not active (cancelled, expired, blocked),
//!    4010 terminal not allowed, 5000 system error ([`result`]). Wrong credentials or a bad
//!    signature ⇒ HTTP 401; unknown paths ⇒ 404.
//! 8. *[assumed]* Validating a `USED` voucher answers its status `USED` with the `trans_no`
//!    and `transaction_id` of the redemption that used it, so a merchant whose redeem answer
//!    was lost can tell whether its own transaction used the voucher ([`redeemed_by`]).
//! 9. *[read]* Flexepin sends no notifications (Mozarto: "Flexepin does not support
//!    webhooks. The API response is the final result") and publishes no lookup by transaction
//!    number: with only the masked PIN nothing can be asked (see the connector's `sync`).

use hmac::{Hmac, Mac};
use overture_core::connector::FailureClass;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;
use sha2::Sha256;

/// The authentication header *[read]*.
pub const AUTH_HEADER: &str = "AUTHENTICATION";
/// Health check path *[read]*: `{"status":"alive"}`.
pub const STATUS_PATH: &str = "/status";
/// `status` of a voucher that can be redeemed *[read]*.
pub const STATUS_ACTIVE: &str = "ACTIVE";
/// `status` of a redeemed voucher *[read]*.
pub const STATUS_USED: &str = "USED";
/// `status` of a voucher that can no longer be used (cancelled, expired) *[assumed]*.
pub const STATUS_INACTIVE: &str = "INACTIVE";

/// `result` codes (see the module docs for which are read and which assumed).
pub mod result {
    /// Success *[read]*.
    pub const OK: i64 = 0;
    /// No voucher with this PIN *[assumed]*.
    pub const NOT_FOUND: i64 = 4001;
    /// The voucher was redeemed already *[assumed]*.
    pub const USED: i64 = 4002;
    /// The voucher is cancelled, expired or blocked *[assumed]*.
    pub const INACTIVE: i64 = 4003;
    /// The terminal may not redeem this voucher *[assumed]*.
    pub const TERMINAL: i64 = 4010;
    /// The voucher needs a "flex swap" (another product or currency) *[read, IqSoft]*.
    pub const SWAP_REQUIRED: i64 = 4019;
    /// Flexepin failed to process the request *[assumed]*.
    pub const SYSTEM_ERROR: i64 = 5000;
}

/// `/voucher/validate/{pin}/{terminal_id}/{trans_no}` *[read]*.
pub fn validate_path(pin: &str, terminal_id: &str, trans_no: &str) -> String {
    voucher_path("validate", pin, terminal_id, trans_no)
}

/// `/voucher/redeem/{pin}/{terminal_id}/{trans_no}` *[read]*.
pub fn redeem_path(pin: &str, terminal_id: &str, trans_no: &str) -> String {
    voucher_path("redeem", pin, terminal_id, trans_no)
}

fn voucher_path(action: &str, pin: &str, terminal_id: &str, trans_no: &str) -> String {
    let enc = |s: &str| urlencoding::encode(s).into_owned();
    format!(
        "/voucher/{action}/{}/{}/{}",
        enc(pin),
        enc(terminal_id),
        enc(trans_no)
    )
}

/// The signed text *[read]*: `METHOD "\n" PATH "\n" NONCE "\n" BODY`.
pub fn string_to_sign(method: &str, path: &str, nonce: &str, body: &str) -> String {
    format!("{method}\n{path}\n{nonce}\n{body}")
}

fn mac(secret: &str) -> Option<Hmac<Sha256>> {
    Hmac::<Sha256>::new_from_slice(secret.as_bytes()).ok()
}

/// Lower-case hex `HMAC-SHA256(secret, string_to_sign(…))` *[read]*.
pub fn sign(secret: &str, method: &str, path: &str, nonce: &str, body: &str) -> String {
    // HMAC takes keys of any length: `mac` never fails.
    let Some(mut mac) = mac(secret) else {
        return String::new();
    };
    mac.update(string_to_sign(method, path, nonce, body).as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// True when `signature` (hex, any case) signs this request; constant-time comparison.
pub fn verify(
    secret: &str,
    (method, path, nonce, body): (&str, &str, &str, &str),
    signature: &str,
) -> bool {
    let (Ok(expected), Some(mut mac)) = (hex::decode(signature.trim()), mac(secret)) else {
        return false;
    };
    mac.update(string_to_sign(method, path, nonce, body).as_bytes());
    mac.verify_slice(&expected).is_ok()
}

/// The header value `HMAC {api_key}:{signature}:{nonce}` *[read]*.
pub fn auth_header(api_key: &str, signature: &str, nonce: &str) -> String {
    format!("HMAC {api_key}:{signature}:{nonce}")
}

/// The parts of an [`auth_header`] value: `(api_key, signature, nonce)`.
pub fn parse_auth_header(value: &str) -> Option<(&str, &str, &str)> {
    let rest = value.trim().strip_prefix("HMAC ")?;
    let mut parts = rest.splitn(3, ':');
    let key = parts.next().filter(|s| !s.is_empty())?;
    let signature = parts.next().filter(|s| !s.is_empty())?;
    let nonce = parts.next().filter(|s| !s.is_empty())?;
    Some((key, signature, nonce))
}

/// True for a Flexepin voucher PIN: exactly 16 ASCII digits (Mozarto's example
/// `"1234567890123456"`; printed Flexepin vouchers carry a 16-digit PIN).
pub fn is_valid_pin(pin: &str) -> bool {
    pin.len() == 16 && pin.bytes().all(|b| b.is_ascii_digit())
}

/// Body of the redeem call *[read, IqSoft]*: `{"customer_ip": "…"}`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RedeemIn {
    /// The payer's IP address, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_ip: Option<String>,
}

/// Answer of validate and redeem *[read, IqSoft `VoucherOutput`]*. `value` is the voucher's
/// face value in major units of `currency`, kept as the JSON number's text (money never passes
/// through a float).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VoucherOut {
    /// 0 = success (see [`result`]).
    pub result: i64,
    /// `"Success"` or the reason.
    #[serde(default)]
    pub result_description: String,
    /// Flexepin's id of the redemption.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_id: Option<String>,
    /// The merchant's transaction number: for a `USED` voucher, the one that used it
    /// (*[assumed]*, module docs item 8).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trans_no: Option<String>,
    /// The voucher's serial number (printed on it; not secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial: Option<String>,
    /// Face value, major units (`50`), as the JSON number's text.
    #[serde(default, with = "number_text", skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// What the voucher cost its buyer, major units, as text.
    #[serde(default, with = "number_text", skip_serializing_if = "Option::is_none")]
    pub cost: Option<String>,
    /// ISO 4217 code of `value`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    /// Product description (`"Flexepin 50 EUR"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The product's EAN code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ean: Option<String>,
    /// `ACTIVE`, `USED` *[read]* or `INACTIVE` *[assumed]*.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

impl VoucherOut {
    /// The voucher's status, upper case (empty when absent).
    pub fn status_word(&self) -> String {
        self.status
            .as_deref()
            .unwrap_or("")
            .trim()
            .to_ascii_uppercase()
    }

    /// True when this is a voucher that can be redeemed: result 0 and status `ACTIVE`.
    pub fn is_active(&self) -> bool {
        self.result == result::OK && self.status_word() == STATUS_ACTIVE
    }

    /// True when this answer says the voucher is now used: result 0 and status `USED`.
    pub fn is_used(&self) -> bool {
        self.result == result::OK && self.status_word() == STATUS_USED
    }
}

/// Who used a voucher, from a validate answer: `Some(trans_no)` when its status is `USED`
/// (module docs item 8), whatever `result` says.
pub fn redeemed_by(answer: &VoucherOut) -> Option<&str> {
    (answer.status_word() == STATUS_USED)
        .then_some(answer.trans_no.as_deref())
        .flatten()
}

/// What a refused validate or redeem proves ([`FailureClass`]):
///
/// | result | class | why |
/// |---|---|---|
/// | 4001 not found, 4002 used, 4003 not active, 4019 swap required | hard decline | the voucher cannot pay this order, anywhere |
/// | 4010 terminal not allowed | not processed | the account may not redeem it; nothing was redeemed |
/// | 5000 system error | technical | an explicit error, but not proof that nothing moved |
/// | any other | unknown | not in the table |
///
/// A voucher of another value or currency than the order is refused by Overture before the
/// redeem call: hard decline (the voucher is untouched, and no account can take it for this
/// order).
pub fn failure_class(code: i64) -> FailureClass {
    match code {
        result::NOT_FOUND | result::USED | result::INACTIVE | result::SWAP_REQUIRED => {
            FailureClass::HardDecline
        }
        result::TERMINAL => FailureClass::NotProcessed,
        result::SYSTEM_ERROR => FailureClass::Technical,
        _ => FailureClass::Unknown,
    }
}

/// (De)serialises an optional JSON number (or numeric string) as its exact text.
mod number_text {
    use super::*;

    pub fn serialize<S: Serializer>(value: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(text) => {
                let raw = RawValue::from_string(text.clone()).map_err(serde::ser::Error::custom)?;
                raw.serialize(s)
            }
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        let raw: Option<Box<RawValue>> = Option::deserialize(d)?;
        let Some(raw) = raw else { return Ok(None) };
        let text = raw.get().trim();
        if text == "null" {
            return Ok(None);
        }
        let text = text.trim_matches('"');
        let numeric = !text.is_empty()
            && text
                .bytes()
                .all(|b| b.is_ascii_digit() || b == b'.' || b == b'-');
        if !numeric {
            return Err(serde::de::Error::custom(format!("not a number: {text}")));
        }
        Ok(Some(text.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TXN: &str = "txn_0190f0e0a1b2c3d4e5f60718293a4b5c";

    /// Expected values computed outside Rust with `printf 'GET\n<path>\n<nonce>\n' | openssl
    /// dgst -sha256 -hmac flexepin-secret` (and the same with `PUT` and the body).
    #[test]
    fn signature_matches_openssl() {
        let path = validate_path("1234567890123456", "T100", TXN);
        assert_eq!(
            path,
            format!("/voucher/validate/1234567890123456/T100/{TXN}")
        );
        let sig = sign("flexepin-secret", "GET", &path, "1700000000000", "");
        assert_eq!(
            sig,
            "76b22e3720aab18cf2b5945adc0db1fc100a9a88ee9a4d0d15942d0823fd304d"
        );
        let body = r#"{"customer_ip":"203.0.113.9"}"#;
        let path = redeem_path("1234567890123456", "T100", TXN);
        let sig = sign("flexepin-secret", "PUT", &path, "1700000000001", body);
        assert_eq!(
            sig,
            "24aace176e3c3dd0298c386f973c328a66f4546ff3c5c05414d2543dd58b7d81"
        );
        let parts = ("PUT", path.as_str(), "1700000000001", body);
        assert!(verify("flexepin-secret", parts, &sig.to_ascii_uppercase()));
        assert!(!verify("other", parts, &sig));
        let tampered = ("PUT", path.as_str(), "1700000000002", body);
        assert!(!verify("flexepin-secret", tampered, &sig));
    }

    #[test]
    fn auth_header_round_trips() {
        let header = auth_header("key-1", "abcd", "1700000000000");
        assert_eq!(header, "HMAC key-1:abcd:1700000000000");
        assert_eq!(
            parse_auth_header(&header),
            Some(("key-1", "abcd", "1700000000000"))
        );
        assert_eq!(parse_auth_header("Bearer x"), None);
        assert_eq!(parse_auth_header("HMAC key::1"), None);
    }

    /// The answer shape of IqSoft's `VoucherOutput` model with the Node.js service's
    /// `result_description: "Success"`.
    #[test]
    fn voucher_answers_parse_and_keep_the_value_exact() {
        let json = r#"{"result":0,"result_description":"Success","transaction_id":"91100231",
            "trans_no":"txn_1","serial":"0123456789","value":50,"cost":50.00,"currency":"EUR",
            "description":"Flexepin 50 EUR","ean":"9120000000000","status":"ACTIVE"}"#;
        let out: VoucherOut = serde_json::from_str(json).unwrap();
        assert!(out.is_active());
        assert!(!out.is_used());
        assert_eq!(out.value.as_deref(), Some("50"));
        assert_eq!(out.cost.as_deref(), Some("50.00"));
        let again: VoucherOut =
            serde_json::from_str(&serde_json::to_string(&out).unwrap()).unwrap();
        assert_eq!(again, out);
        let used: VoucherOut = serde_json::from_str(
            r#"{"result":4002,"result_description":"Voucher is used","status":"USED","trans_no":"txn_9"}"#,
        )
        .unwrap();
        assert_eq!(redeemed_by(&used), Some("txn_9"));
        assert!(serde_json::from_str::<VoucherOut>(r#"{"result":0,"value":"ten"}"#).is_err());
    }

    #[test]
    fn pins_are_sixteen_digits() {
        assert!(is_valid_pin("1234567890123456"));
        assert!(!is_valid_pin("123456789012345"));
        assert!(!is_valid_pin("1234 5678 9012 3456"));
        assert!(!is_valid_pin("12345678901234ab"));
    }

    #[test]
    fn refusals_are_classified() {
        assert_eq!(failure_class(result::USED), FailureClass::HardDecline);
        assert_eq!(
            failure_class(result::SWAP_REQUIRED),
            FailureClass::HardDecline
        );
        assert_eq!(failure_class(result::TERMINAL), FailureClass::NotProcessed);
        assert_eq!(failure_class(result::SYSTEM_ERROR), FailureClass::Technical);
        assert_eq!(failure_class(7), FailureClass::Unknown);
    }
}
