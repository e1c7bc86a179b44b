//! NEOSURF wire format: Neosurf's hosted "pay" page, version 3 (neosurf.com prepaid vouchers:
//! the customer types the 10-character voucher PIN on Neosurf's own page). Neosurf publishes
//! no public API reference; what follows was read in three independent open-source
//! integrations: a Python shop back end (form values, JSON post, callback check), a Node.js
//! casino cashier's tests (create with its literal HTML answer, and a callback sample), and the
//! Lithium platform's Java Neosurf processor (`RegisterResponse`, `HashCalculator`). Each
//! detail is marked *[read]* or *[assumed]* (our choice; the sandbox speaks the same).
//!
//! 1. *[read]* Create: `POST https://pay.neosurf.com` (the account's base URL; path `/`) with
//!    `amount` (minor units, `5000` = 50.00), `currency` (lower case `eur`), `language`
//!    (`en`), `merchantId`, `merchantTransactionId`, `prohibitedForMinors` (`yes`/`no`),
//!    `urlOk`, `urlKo`, `urlPending`, `urlCallback`, `version` (`3`), optional `expiry`
//!    (ISO 8601, `2024-05-01T10:00:00+00:00`), and `hash`. Integrations send the fields as a
//!    form, as JSON, or in the query string; Overture sends a form.
//! 2. *[read]* `hash = lower_hex(SHA-512(concat(values of every other field, sorted by field
//!    name in ASCII order) + secret key))`; an empty value (and `hash` itself) adds nothing
//!    ([`hash`]).
//! 3. *[read]* The answer is an HTML page whose script sends the browser on:
//!    `document.location.href = 'https://pay.secure-neosurf.com/EN-PKQQ08MBAK4R0ZVUO';`.
//!    Integrators take that URL out of the page ([`page_url`]); it is Overture's `data.url`.
//! 4. *[read]* Callback: `POST` to `urlCallback` with the fields of [`CallbackIn`] (`amount`
//!    in minor units, `currency` lower case, `status` `ok` on success, `errorCode` empty on
//!    success, `transactionId` Neosurf's id) and `hash` by the same rule over them. A valid
//!    hash with an empty `errorCode` is a success (Lithium). Posted as a form (the Python and
//!    Java handlers read form parameters; the Node.js test posts JSON): Overture reads both.
//! 5. *[assumed]* Status words besides `ok`: `ko` (refused or cancelled by the customer),
//!    `error` (a processing error), `pending` (not final). No retry policy or acknowledgement
//!    is published: the sandbox resends a callback not answered 2xx, and Overture answers
//!    `OK` (HTTP 200).
//! 6. *[read]* Neosurf publishes no status query (no integration asks one), so the verified
//!    callback is the only final word: Overture applies it as final when its order id, amount
//!    and currency match the order (`Capabilities::final_by_callback`).
//! 7. *[assumed]* Not sent by Overture: `subMerchantId` (a site label both integrations fill
//!    with their own site), `test` (`yes` on Neosurf test accounts; Overture's accounts point
//!    at a sandbox or a live host by their base URL). A refused create answers HTTP 400 with a
//!    short HTML error.

use overture_core::connector::{FailureClass, PspOutcome};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha512};
use std::collections::BTreeMap;
use subtle::ConstantTimeEq;

/// `version` sent *[read]*.
pub const VERSION: &str = "3";
/// The field carrying the hash *[read]*.
pub const HASH_FIELD: &str = "hash";

/// Status words (module docs items 4 and 5).
pub mod status {
    /// Paid *[read]*.
    pub const OK: &str = "ok";
    /// Refused or cancelled *[assumed]*.
    pub const KO: &str = "ko";
    /// Processing error *[assumed]*.
    pub const ERROR: &str = "error";
    /// Not final *[assumed]*.
    pub const PENDING: &str = "pending";
}

/// The hash of `fields` *[read]*: SHA-512 over the values sorted by name (`hash` skipped),
/// then the secret, lower-case hex.
pub fn hash(fields: &BTreeMap<String, String>, secret: &str) -> String {
    let mut digest = Sha512::new();
    for (name, value) in fields {
        if name != HASH_FIELD {
            digest.update(value.as_bytes());
        }
    }
    digest.update(secret.as_bytes());
    hex::encode(digest.finalize())
}

/// True when `fields["hash"]` is [`hash`] of the others (hex in either case), compared in
/// constant time.
pub fn verify(fields: &BTreeMap<String, String>, secret: &str) -> bool {
    let Some(given) = fields.get(HASH_FIELD) else {
        return false;
    };
    let expected = hash(fields, secret);
    let given = given.trim().to_ascii_lowercase();
    given.len() == expected.len() && bool::from(given.as_bytes().ct_eq(expected.as_bytes()))
}

/// The create fields before hashing *[read]*. Amount in minor units.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PayIn {
    /// Minor units (`"5000"` = 50.00).
    pub amount: String,
    /// Lower case ISO 4217 code.
    pub currency: String,
    pub language: String,
    pub merchant_id: String,
    /// Overture's order id.
    pub merchant_transaction_id: String,
    /// `yes`: Overture's merchants are gaming platforms.
    pub prohibited_for_minors: String,
    /// Where the customer returns (`urlOk`, `urlKo`, `urlPending`), when known.
    pub return_url: Option<String>,
    pub url_callback: String,
    /// ISO 8601 with `+00:00`, when the page must expire.
    pub expiry: Option<String>,
}

impl PayIn {
    /// Every field with its wire name, `hash` included.
    pub fn fields(&self, secret: &str) -> BTreeMap<String, String> {
        let mut f = BTreeMap::new();
        let mut put = |k: &str, v: &str| {
            f.insert(k.to_owned(), v.to_owned());
        };
        put("amount", &self.amount);
        put("currency", &self.currency);
        put("language", &self.language);
        put("merchantId", &self.merchant_id);
        put("merchantTransactionId", &self.merchant_transaction_id);
        put("prohibitedForMinors", &self.prohibited_for_minors);
        put("urlCallback", &self.url_callback);
        put("version", VERSION);
        if let Some(url) = &self.return_url {
            put("urlOk", url);
            put("urlKo", url);
            put("urlPending", url);
        }
        if let Some(expiry) = &self.expiry {
            put("expiry", expiry);
        }
        let h = hash(&f, secret);
        f.insert(HASH_FIELD.to_owned(), h);
        f
    }
}

/// The page URL out of the create answer *[read]*: the target of `document.location.href`.
pub fn page_url(html: &str) -> Option<String> {
    let start = html.find("document.location.href")?;
    let rest = &html[start..];
    let rest = &rest[rest.find('=')? + 1..];
    let rest = rest.trim_start();
    let quote = rest.chars().next().filter(|c| *c == '\'' || *c == '"')?;
    let rest = &rest[1..];
    let url = &rest[..rest.find(quote)?];
    (url.starts_with("https://") || url.starts_with("http://")).then(|| url.to_owned())
}

/// The create answer page *[read: the Node.js cashier test's literal answer, abridged]*.
pub fn redirect_page(url: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>PAY</title>\n\
         </head>\n<body class=\"neosurf-pay\" onload=\"redirection()\">\n<script>\n\
         function redirection() {{\n    document.location.href = '{url}';\n}}\n</script>\n\
         </body>\n</html>"
    )
}

/// The callback fields *[read: Lithium `RegisterResponse`, the Node.js sample]*. Amount in
/// minor units.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CallbackIn {
    /// Minor units.
    pub amount: String,
    /// `2021-05-17 09:32:57`.
    pub created: String,
    /// Lower case ISO 4217 code.
    pub currency: String,
    pub error_code: String,
    pub error_message: String,
    pub merchant_id: String,
    /// Overture's order id.
    pub merchant_transaction_id: String,
    /// What the voucher was charged, minor units of `methodCurrency`.
    pub method_charged_amount: String,
    pub method_currency: String,
    pub method_expiry: String,
    pub method_id: String,
    pub method_label: String,
    /// `neosurf`.
    pub method_name: String,
    /// See [`status`].
    pub status: String,
    pub sub_merchant_id: String,
    pub transaction3d: String,
    /// Neosurf's id of the payment.
    pub transaction_id: String,
}

impl CallbackIn {
    /// Every field with its wire name, `hash` included (signed with `secret`).
    pub fn fields(&self, secret: &str) -> BTreeMap<String, String> {
        let value = serde_json::to_value(self).unwrap_or_default();
        let mut f: BTreeMap<String, String> = value
            .as_object()
            .map(|o| {
                o.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                    .collect()
            })
            .unwrap_or_default();
        let h = hash(&f, secret);
        f.insert(HASH_FIELD.to_owned(), h);
        f
    }
}

/// Normalises a callback: `ok` with no `errorCode` ⇒ approved; `ko` ⇒ declined; `error`, or
/// `ok` with an `errorCode` ⇒ failed; anything else ⇒ not final.
pub fn map_status(status: &str, error_code: &str) -> PspOutcome {
    let failed = !error_code.trim().is_empty();
    match status.trim().to_ascii_lowercase().as_str() {
        status::OK if failed => PspOutcome::Failed,
        status::OK => PspOutcome::Approved,
        status::KO => PspOutcome::Declined,
        status::ERROR => PspOutcome::Failed,
        _ => PspOutcome::Pending,
    }
}

/// What a final failure proves ([`FailureClass`]):
///
/// | status | class | why |
/// |---|---|---|
/// | `ko` | soft decline | refused or abandoned; the customer may pay another way |
/// | `error` | technical | a processing error: not proof that nothing was charged |
/// | `ok` with an `errorCode` | unknown | contradictory; not in the table |
///
/// A create Neosurf refused (HTTP 400) opened no page: not processed.
pub fn failure_class(status: &str, error_code: &str) -> Option<FailureClass> {
    match map_status(status, error_code) {
        PspOutcome::Declined => Some(FailureClass::SoftDecline),
        PspOutcome::Failed if status.trim().eq_ignore_ascii_case(status::ERROR) => {
            Some(FailureClass::Technical)
        }
        PspOutcome::Failed => Some(FailureClass::Unknown),
        PspOutcome::Approved | PspOutcome::Pending | PspOutcome::NotFound => None,
    }
}

/// `expiry` for `unix_secs` *[read format]*: `YYYY-MM-DDThh:mm:ss+00:00`.
pub fn expiry_at(unix_secs: u64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(unix_secs);
    let text = humantime::format_rfc3339_seconds(t).to_string();
    text.trim_end_matches('Z').to_owned() + "+00:00"
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "f0e1d2c3b4a5968778695a4b3c2d1e0f";
    const TXN: &str = "txn_0190f0e0a1b2c3d4e5f60718293a4b5c";

    /// The create of the Node.js cashier test (its values, our order id and secret). Expected
    /// hash computed outside Rust: `printf '%s' '<values in name order><secret>' | sha512sum`.
    #[test]
    fn create_hash_matches_sha512sum() {
        let fields: BTreeMap<String, String> = [
            ("amount", "5000"),
            ("currency", "eur"),
            ("language", "en"),
            ("merchantId", "24842"),
            ("merchantTransactionId", TXN),
            ("prohibitedForMinors", "yes"),
            ("subMerchantId", "https://luckydino.com"),
            ("test", "yes"),
            ("urlCallback", "http://localhost:3006/api/v1/neosurf"),
            ("urlKo", "http://127.0.0.1:3003/fail"),
            ("urlOk", "http://127.0.0.1:3003/ok"),
            ("urlPending", "http://127.0.0.1:3003/fail"),
            ("version", "3"),
            ("hash", ""),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        assert_eq!(
            hash(&fields, SECRET),
            "fd581764de05d2d636ee2d07140b04b935d2e94233d68f39063af442356e80a0\
             5949cfb98d6a65ac26b8cc8e8a8ef6d282b230f8af6258374597c176a198b49e"
        );
    }

    /// The callback sample of the Node.js cashier test (its values, our ids and secret),
    /// hashed outside Rust the same way.
    #[test]
    fn callback_hash_matches_sha512sum() {
        let callback = CallbackIn {
            amount: "50000".into(),
            created: "2021-05-17 09:32:57".into(),
            currency: "eur".into(),
            merchant_id: "24842".into(),
            merchant_transaction_id: TXN.into(),
            method_charged_amount: "10000".into(),
            method_currency: "EUR".into(),
            method_expiry: "01/01/2032".into(),
            method_id: "5554605".into(),
            method_label: "5554605".into(),
            method_name: "neosurf".into(),
            status: "ok".into(),
            sub_merchant_id: "https://luckydino.com".into(),
            transaction_id: "7d1e5f0a-3c2b-4e8d-9a6f-1b2c3d4e5f60".into(),
            ..Default::default()
        };
        let fields = callback.fields(SECRET);
        assert_eq!(
            fields[HASH_FIELD],
            "49d578dde13e8825bfb0e5c8d7bb73a56cbcac18b7ff5f6270c63f6fdc70eabd\
             f16e60c0da825ce1e03339d254ef495fc6619bf0c78b2d451b58d3fcc8900cee"
        );
        assert!(verify(&fields, SECRET));
        let mut tampered = fields.clone();
        tampered.insert("amount".into(), "50001".into());
        assert!(!verify(&tampered, SECRET));
        assert!(!verify(&fields, "other"));
    }

    /// The literal answer page of the Node.js cashier test.
    #[test]
    fn page_url_comes_out_of_the_answer_page() {
        let html = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<title>PAY</title>\n\
            <link href=\"https://pay.secure-neosurf.com/assets/pay/css/app.css?id=ed7f\" rel=\"stylesheet\">\n\
            </head>\n<body class=\"neosurf-pay\" onload=\"redirection()\">\n<script>\n    $.blockUI();\n\n\
            function redirection() {\n        document.location.href = 'https://pay.secure-neosurf.com/EN-PKQQ08MBAK4R0ZVUO';\n    }\n\
            </script>\n</body>\n</html>";
        assert_eq!(
            page_url(html).as_deref(),
            Some("https://pay.secure-neosurf.com/EN-PKQQ08MBAK4R0ZVUO")
        );
        let ours = redirect_page("http://127.0.0.1:1/sandbox/neosurf/EN-ABC");
        assert_eq!(
            page_url(&ours).as_deref(),
            Some("http://127.0.0.1:1/sandbox/neosurf/EN-ABC")
        );
        assert_eq!(page_url("<html>error</html>"), None);
        assert_eq!(page_url("document.location.href = 'javascript:x'"), None);
    }

    #[test]
    fn create_fields_are_hashed_with_the_return_url_thrice() {
        let payin = PayIn {
            amount: "2000".into(),
            currency: "eur".into(),
            language: "en".into(),
            merchant_id: "24842".into(),
            merchant_transaction_id: TXN.into(),
            prohibited_for_minors: "yes".into(),
            return_url: Some("https://mp.example/back".into()),
            url_callback: "https://overture.example/cb".into(),
            expiry: Some(expiry_at(1_700_000_000)),
        };
        let fields = payin.fields(SECRET);
        assert_eq!(fields["urlOk"], fields["urlKo"]);
        assert_eq!(fields["expiry"], "2023-11-14T22:13:20+00:00");
        assert_eq!(fields["version"], "3");
        assert!(verify(&fields, SECRET));
    }

    #[test]
    fn statuses_map_and_classify() {
        assert_eq!(map_status("ok", ""), PspOutcome::Approved);
        assert_eq!(map_status("OK", "E1"), PspOutcome::Failed);
        assert_eq!(map_status("ko", "DECLINED"), PspOutcome::Declined);
        assert_eq!(map_status("error", "E9"), PspOutcome::Failed);
        assert_eq!(map_status("pending", ""), PspOutcome::Pending);
        assert_eq!(failure_class("ko", "X"), Some(FailureClass::SoftDecline));
        assert_eq!(failure_class("error", "X"), Some(FailureClass::Technical));
        assert_eq!(failure_class("ok", "X"), Some(FailureClass::Unknown));
        assert_eq!(failure_class("ok", ""), None);
    }
}
