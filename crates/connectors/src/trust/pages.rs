//! TRUST Payment Pages: the hosted page link Overture hands out as `data.url`, the request
//! `sitesecurity` hash, URL notifications and their `responsesitesecurity` hash, and the stage
//! marker the connector keeps between its steps.
//!
//! Sources: docs.trustpayments.com "Request site security" (the example form and its hash
//! `hee879a9…`, which [`site_security`] reproduces: see the tests), help.trustpayments.com
//! "Generating site security hash" 4402737614097 (default field list, `h` + SHA-256, timestamp
//! then password, the customer has 3 hours from `sitesecuritytimestamp`), "Payment Pages field
//! specification" 4403024640913 (required fields, `mainamount` in main units, `version` 2),
//! "Redirecting the customer's browser" 360021198058 (`STR-6`/`STR-7` with
//! `successfulurlredirect`/`declinedurlredirect`), "URL notifications following payments"
//! 360021197998 (`STR-8`/`STR-9`/`STR-10`, answer 200 within 8 s, resent for 48 hours),
//! "URL notifications" 4402643049361 (form-encoded POST, `notificationreference` always sent)
//! and "Response site security" 4402734345361 (the `responsesitesecurity` formula and its
//! example string `0OrderVISARR5550test_site123452-44-66PASSWORD`, tested below). The default
//! field order is also the one of Secure Trading's Magento module (`Stpp_PaymentPages_Base`,
//! which still uses the older `g` prefix without a timestamp); reproducing the documented
//! `hee879a9…` confirms the order of the fields that example uses.
//!
//! Inferred or chosen (not found in the sources; the sandbox speaks the same choices):
//! 1. The link is a GET of `{pages host}/process/payments/choice?<fields>`: the Payment Pages
//!    take their fields as a query string as well as a form POST (Secure Trading's Magento
//!    module builds exactly this GET URL when POST is off), so `data.url` works on its own,
//!    without a page of Overture's.
//! 2. The Payment Pages host is the Webservices host with `webservices.` replaced by
//!    `payments.` (`webservices.securetrading.net` ⇒ `payments.securetrading.net`, the hosts
//!    both services publish); any other base URL (a sandbox) serves both below one base.
//! 3. The same site security password signs requests and verifies notifications (the
//!    "Response site security" article says so for redirects and notifications); Overture's
//!    account credential `site_security_password` is that password.
//! 4. `STR-10` notifications carry the fields the merchant ticks in the Rule Manager; Overture's
//!    account set-up ticks `baseamount`, `currencyiso3a`, `errorcode`, `orderreference`,
//!    `paymenttypedescription`, `requesttypedescription`, `settlestatus`, `sitereference` and
//!    `transactionreference` ([`NOTIFICATION_FIELDS`]).
//! 5. After a decline without `STR-7` the page offers the customer another try; with `STR-7`
//!    the customer is sent away and the session ends, so that decline is final.
//! 6. `orderreference`: Trust recommends at most 25 characters ("exact length dependent on
//!    acquiring bank"); Overture's order ids have 36 or more. The sandbox keeps up to 64.

use overture_core::connector::ConnectorError;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::time::Duration;
use subtle::ConstantTimeEq;
use time::format_description::BorrowedFormatItem;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime};

/// Payment Pages entry showing the payment-type choice first (help.trustpayments.com).
pub const CHOICE_PATH: &str = "/process/payments/choice";
/// Payment Pages entry showing the card details form at once.
pub const DETAILS_PATH: &str = "/process/payments/details";
/// `version` field value.
pub const PAGES_VERSION: &str = "2";
/// `stprofile` of the default page appearance.
pub const STPROFILE: &str = "default";
/// Prefix of a SHA-256 `sitesecurity` value that includes `sitesecuritytimestamp`.
pub const SITE_SECURITY_PREFIX: &str = "h";
/// How long a customer has from `sitesecuritytimestamp` to pay.
pub const PAGE_LIFETIME: Duration = Duration::from_secs(3 * 3600);

/// `ruleidentifier` values the connector uses.
pub mod rule {
    /// Redirect to `successfulurlredirect` after a successful payment.
    pub const SUCCESS_REDIRECT: &str = "STR-6";
    /// Redirect to `declinedurlredirect` after a declined payment.
    pub const DECLINE_REDIRECT: &str = "STR-7";
    /// URL notification to `successfulurlnotification` after a successful payment.
    pub const SUCCESS_NOTIFICATION: &str = "STR-8";
    /// URL notification to `declinedurlnotification` after a declined payment.
    pub const DECLINE_NOTIFICATION: &str = "STR-9";
    /// URL notification to `allurlnotification` after every payment.
    pub const ALL_NOTIFICATION: &str = "STR-10";
}

/// The default `sitesecurity` fields, in hash order; absent fields are skipped, every value of
/// a repeated field (`ruleidentifier`) is taken in posted order; then the timestamp, then the
/// password.
pub const SITE_SECURITY_FIELDS: &[&str] = &[
    "currencyiso3a",
    "mainamount",
    "sitereference",
    "settlestatus",
    "settleduedate",
    "authmethod",
    "paypaladdressoverride",
    "strequiredfields",
    "version",
    "stprofile",
    "ruleidentifier",
    "stdefaultprofile",
    "successfulurlredirect",
    "declinedurlredirect",
    "successfulurlnotification",
    "declinedurlnotification",
    "merchantemail",
    "allurlnotification",
    "stextraurlnotifyfields",
    "stextraurlredirectfields",
];

/// The fields Overture's notification rule carries (module docs 4), besides
/// `notificationreference` and `responsesitesecurity`.
pub const NOTIFICATION_FIELDS: &[&str] = &[
    "baseamount",
    "currencyiso3a",
    "errorcode",
    "orderreference",
    "paymenttypedescription",
    "requesttypedescription",
    "settlestatus",
    "sitereference",
    "transactionreference",
];

/// Fields never part of `responsesitesecurity`.
const UNHASHED: &[&str] = &["notificationreference", "responsesitesecurity"];

/// `YYYY-MM-DD hh:mm:ss`, the format of `sitesecuritytimestamp` and Trust's timestamps.
const TIMESTAMP: &[BorrowedFormatItem<'static>] =
    format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");

/// Ordered `(name, value)` pairs as posted; a name may repeat.
pub type Fields = Vec<(String, String)>;

/// `time` in Trust's timestamp format (UTC expected).
pub fn timestamp(time: OffsetDateTime) -> String {
    // Formatting a valid date with a static description cannot fail.
    time.format(TIMESTAMP).unwrap_or_default()
}

/// A Trust timestamp read as UTC; `None` when malformed.
pub fn parse_timestamp(text: &str) -> Option<OffsetDateTime> {
    PrimitiveDateTime::parse(text.trim(), TIMESTAMP)
        .ok()
        .map(PrimitiveDateTime::assume_utc)
}

fn sha256_hex(parts: impl IntoIterator<Item = impl AsRef<[u8]>>) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part.as_ref());
    }
    hex::encode(hasher.finalize())
}

fn values<'a>(fields: &'a [(String, String)], name: &str) -> impl Iterator<Item = &'a str> {
    let name = name.to_owned();
    fields
        .iter()
        .filter(move |(n, _)| *n == name)
        .map(|(_, v)| v.as_str())
}

/// The request `sitesecurity`: `"h"` + lower-case hex SHA-256 of the values of
/// [`SITE_SECURITY_FIELDS`] present in `fields` (in that order), then the
/// `sitesecuritytimestamp` value, then `password`.
pub fn site_security(fields: &[(String, String)], password: &str) -> String {
    let mut parts: Vec<&str> = SITE_SECURITY_FIELDS
        .iter()
        .flat_map(|name| values(fields, name))
        .collect();
    parts.extend(values(fields, "sitesecuritytimestamp"));
    parts.push(password);
    format!("{SITE_SECURITY_PREFIX}{}", sha256_hex(parts))
}

/// `responsesitesecurity`: lower-case hex SHA-256 of every non-blank value (URL-decoded, white
/// space kept) in ASCII order of field name, `notificationreference` and
/// `responsesitesecurity` excluded, then `password`.
pub fn response_site_security(fields: &[(String, String)], password: &str) -> String {
    let mut hashed: Vec<&(String, String)> = fields
        .iter()
        .filter(|(n, v)| !UNHASHED.contains(&n.as_str()) && !v.is_empty())
        .collect();
    // Stable: the values of a repeated name keep their order.
    hashed.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    sha256_hex(
        hashed
            .into_iter()
            .map(|(_, v)| v.as_str())
            .chain(std::iter::once(password)),
    )
}

/// True when `presented` is the `responsesitesecurity` of `fields` (hex in either case),
/// compared in constant time.
pub fn verify_response_site_security(
    fields: &[(String, String)],
    password: &str,
    presented: &str,
) -> bool {
    let expected = response_site_security(fields, password);
    let presented = presented.trim().to_ascii_lowercase();
    expected.as_bytes().ct_eq(presented.as_bytes()).into()
}

/// The Payment Pages base for the account's Webservices base URL (module docs 2).
pub fn pages_base(base_url: &str) -> String {
    let trimmed = base_url.trim_end_matches('/');
    let Ok(mut url) = reqwest::Url::parse(trimmed) else {
        return trimmed.to_owned();
    };
    let Some(rest) = url.host_str().and_then(|h| h.strip_prefix("webservices.")) else {
        return trimmed.to_owned();
    };
    let host = format!("payments.{rest}");
    if url.set_host(Some(&host)).is_err() {
        return trimmed.to_owned();
    }
    url.as_str().trim_end_matches('/').to_owned()
}

/// The hosted page link: `{pages base}{CHOICE_PATH}?<fields form-encoded>`.
pub fn page_url(pages_base: &str, fields: &[(String, String)]) -> Result<String, ConnectorError> {
    let query = serde_urlencoded::to_string(fields)
        .map_err(|e| ConnectorError::Protocol(format!("page fields: {e}")))?;
    Ok(format!(
        "{}{CHOICE_PATH}?{query}",
        pages_base.trim_end_matches('/')
    ))
}

/// What the connector keeps between `start_payin` and `sync` (persisted as JSON in the
/// order's stage): when the page's 3 hours began, and whether a decline ends the session
/// (`STR-7` was sent, module docs 5).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Stage {
    /// The link's `sitesecuritytimestamp`.
    pub sitesecuritytimestamp: String,
    pub decline_ends_page: bool,
}

impl Stage {
    /// The persisted text.
    pub fn encode(&self) -> Result<String, ConnectorError> {
        serde_json::to_string(self).map_err(|e| ConnectorError::Protocol(format!("stage: {e}")))
    }

    /// Reads a persisted stage; `None` when absent or not ours.
    pub fn decode(text: Option<&str>) -> Option<Self> {
        text.and_then(|t| serde_json::from_str(t).ok())
    }

    /// True once no payment can start on the page any more: [`PAGE_LIFETIME`] after the
    /// timestamp, plus `grace` for a payment submitted at the last moment. A malformed
    /// timestamp counts as expired.
    pub fn page_expired(&self, now: OffsetDateTime, grace: Duration) -> bool {
        match parse_timestamp(&self.sitesecuritytimestamp) {
            Some(start) => now > start + PAGE_LIFETIME + grace,
            None => true,
        }
    }
}

/// A URL notification: the form fields exactly as posted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notification {
    pub fields: Fields,
}

impl Notification {
    /// Parses an `application/x-www-form-urlencoded` body; `None` when it is not one or
    /// carries no fields.
    pub fn parse(body: &[u8]) -> Option<Self> {
        let fields: Fields = serde_urlencoded::from_bytes(body).ok()?;
        (!fields.is_empty()).then_some(Self { fields })
    }

    /// The first value of `name`, if present and not blank.
    pub fn get(&self, name: &str) -> Option<&str> {
        values(&self.fields, name).find(|v| !v.trim().is_empty())
    }

    /// True when `responsesitesecurity` is present and matches `password`.
    pub fn verify(&self, password: &str) -> bool {
        self.get("responsesitesecurity")
            .is_some_and(|given| verify_response_site_security(&self.fields, password, given))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Fields {
        list.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    /// The example form of docs.trustpayments.com "Request site security": its published
    /// `sitesecurity` is reproduced with the site security password `password`.
    #[test]
    fn published_request_site_security_example() {
        let form = pairs(&[
            ("sitereference", "test_site12345"),
            ("stprofile", "default"),
            ("currencyiso3a", "USD"),
            ("mainamount", "100.00"),
            ("version", "2"),
            ("orderreference", "myorder12345"),
            ("sitesecuritytimestamp", "2019-05-28 14:22:37"),
        ]);
        assert_eq!(
            site_security(&form, "password"),
            "hee879a9ab97753b3a768925d50842f10e19fea03fef0b820026b6df92d415866"
        );
        assert_ne!(
            site_security(&form, "PASSWORD"),
            site_security(&form, "password")
        );
    }

    #[test]
    fn rule_identifiers_and_urls_are_hashed_in_order() {
        let base = pairs(&[
            ("currencyiso3a", "GBP"),
            ("mainamount", "10.50"),
            ("sitereference", "test_site12345"),
            ("version", "2"),
            ("stprofile", "default"),
            ("ruleidentifier", "STR-6"),
            ("successfulurlredirect", "https://m.example/ok"),
            ("ruleidentifier", "STR-10"),
            ("allurlnotification", "https://o.example/cb"),
            ("sitesecuritytimestamp", "2026-01-02 03:04:05"),
        ]);
        // Computed outside Rust: printf '%s' 'GBP10.50test_site123452defaultSTR-6STR-10\
        // https://m.example/okhttps://o.example/cb2026-01-02 03:04:05pw' | sha256sum
        assert_eq!(
            site_security(&base, "pw"),
            "h813a64c74eca6b3b1dfdf3bb0c493eca51eb80ab7d65ea6532b55a8e9ada9684"
        );
    }

    /// help.trustpayments.com "Response site security": the example fields give the string
    /// `0OrderVISARR5550test_site123452-44-66PASSWORD`, whose SHA-256 was computed outside
    /// Rust (`printf '%s' '0OrderVISARR5550test_site123452-44-66PASSWORD' | sha256sum`).
    #[test]
    fn published_response_site_security_example() {
        let fields = pairs(&[
            ("transactionreference", "2-44-66"),
            ("notificationreference", "NR-1"),
            ("errorcode", "0"),
            ("sitereference", "test_site12345"),
            ("settlestatus", "0"),
            ("orderreference", "Order"),
            ("requestreference", "RR555"),
            ("authcode", ""),
            ("paymenttypedescription", "VISA"),
        ]);
        let expected = "1a8b45c137c1d1df8ce6ff923421043f879a85a181e9c0d96a8904211af8b0b0";
        assert_eq!(response_site_security(&fields, "PASSWORD"), expected);
        let mut signed = fields.clone();
        signed.push(("responsesitesecurity".into(), expected.to_ascii_uppercase()));
        let note = Notification { fields: signed };
        assert!(note.verify("PASSWORD"));
        assert!(!note.verify("password"));
        let mut tampered = note.clone();
        tampered.fields[2].1 = "70000".into();
        assert!(!tampered.verify("PASSWORD"));
    }

    #[test]
    fn notification_bodies_are_url_decoded() {
        let note =
            Notification::parse(b"orderreference=txn_1&billingemail=a%40b.co&authcode=1234%20")
                .unwrap();
        assert_eq!(note.get("billingemail"), Some("a@b.co"));
        // Trailing white space is part of the hashed value.
        assert_eq!(note.fields[2].1, "1234 ");
        assert!(Notification::parse(b"").is_none());
    }

    #[test]
    fn pages_host_follows_the_webservices_host() {
        assert_eq!(
            pages_base("https://webservices.securetrading.net/"),
            "https://payments.securetrading.net"
        );
        assert_eq!(
            pages_base("https://webservices.securetrading.us"),
            "https://payments.securetrading.us"
        );
        assert_eq!(
            pages_base("http://127.0.0.1:8080/sandbox/trust"),
            "http://127.0.0.1:8080/sandbox/trust"
        );
    }

    #[test]
    fn page_links_repeat_rule_identifiers() {
        let url = page_url(
            "http://127.0.0.1:9/sandbox/trust",
            &pairs(&[
                ("ruleidentifier", "STR-6"),
                ("successfulurlredirect", "https://m.example/ok?a=1&b=2"),
                ("ruleidentifier", "STR-10"),
            ]),
        )
        .unwrap();
        assert_eq!(
            url,
            "http://127.0.0.1:9/sandbox/trust/process/payments/choice?ruleidentifier=STR-6\
             &successfulurlredirect=https%3A%2F%2Fm.example%2Fok%3Fa%3D1%26b%3D2\
             &ruleidentifier=STR-10"
        );
    }

    #[test]
    fn the_page_expires_three_hours_after_its_timestamp() {
        let stage = Stage {
            sitesecuritytimestamp: "2026-01-02 03:04:05".into(),
            decline_ends_page: true,
        };
        let start = parse_timestamp("2026-01-02 03:04:05").unwrap();
        assert_eq!(timestamp(start), "2026-01-02 03:04:05");
        let grace = Duration::from_secs(300);
        assert!(!stage.page_expired(start + PAGE_LIFETIME, grace));
        assert!(stage.page_expired(start + PAGE_LIFETIME + grace * 2, grace));
        let bad = Stage {
            sitesecuritytimestamp: "yesterday".into(),
            ..stage.clone()
        };
        assert!(bad.page_expired(start, grace));
        assert_eq!(Stage::decode(Some(&stage.encode().unwrap())), Some(stage));
    }
}
