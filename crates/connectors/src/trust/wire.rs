//! TRUST (Trust Payments, formerly Secure Trading) Webservices JSON API: the request envelope,
//! `TRANSACTIONQUERY`, the response records, and how an `AUTH` record's `errorcode` and
//! `settlestatus` become an outcome and a [`FailureClass`]. The Payment Pages side (hosted page
//! link, `sitesecurity`, URL notifications, `responsesitesecurity`) is in [`super::pages`].
//!
//! Sources: Trust Payments' help centre and developer docs (help.trustpayments.com
//! "TRANSACTIONQUERY" 4402764105617, "Error codes" 4402897300625, "Webservices API Guide for POS
//! developers" 11569681677713 for the settle statuses; docs.trustpayments.com
//! "Troubleshooting" for the 401 / 10205 / 60018 / 60019 answers) and Trust's official Python
//! SDK `securetrading` 1.0.26 (PyPI; github.com/SecureTrading/st-python-api), whose `api.py`,
//! `converter.py` and `httpclient.py` fix the envelope, the headers and the `requestreference`
//! echo. Read in that SDK, against earlier summaries of it: a request object may *not* carry
//! its own `datacenterurl` (the SDK asserts it is unset; only `Config` points it elsewhere);
//! the URL is `urljoin(datacenterurl, datacenterpath)`, so an absolute `datacenterpath`
//! replaces any path of `datacenterurl`; `acceptcustomeroutput` is sent only when configured;
//! the SDK needs `six` although its metadata does not declare it; plain `http://` works (the
//! SDK never insists on TLS). Hyperswitch's `trustpayments` connector names the settle
//! statuses and error codes differently from Trust's documentation; the documentation wins.
//!
//! Read in the sources:
//! 1. `POST {webservices host}/json/` (SDK `Config.datacenterpath`), HTTP Basic auth with the
//!    webservices user and password; the body repeats the user as `alias`. Same URL for test and
//!    live; test sites are named `test_…`. Bad credentials ⇒ HTTP 401 with an HTML page.
//! 2. Body `{"alias":…,"version":"1.00","request":[{…}]}`; every request object carries a
//!    `requestreference` that the answer's top-level `requestreference` echoes (the SDK refuses
//!    an answer whose reference differs) and the SDK also sends it as header `REQUESTREFERENCE`.
//! 3. Answer `{"requestreference","version","response":[{"errorcode","errormessage",
//!    "requesttypedescription",…}],"secrand"}`; `errorcode` `"0"` = processed.
//! 4. `TRANSACTIONQUERY`: `{"requesttypedescriptions":["TRANSACTIONQUERY"],"filter":{"<field>":
//!    [{"value":…}, …]}}`, values of one field OR-ed, fields AND-ed; at least one filter, else
//!    `60019 No searchable filter specified`. A filter on `orderreference` returns every request
//!    with that reference. The answer carries `records` (and `found`, their count).
//! 5. Error codes: `30000` field error (`errordata` names the field), `70000` declined by the
//!    bank, `71000` soft decline (SCA required), `60010` / `60034` / `99999` processing problem,
//!    final status unknown; `10205` malformed JSON; `60018` invalid request type.
//! 6. `settlestatus`: `0` pending settlement (automatic), `1` pending settlement (manually
//!    overridden), `2` suspended, `3` cancelled (final, nothing will settle), `10` settling,
//!    `100` settled.
//!
//! Inferred (not found in the sources; the sandbox speaks the same choices):
//! 7. The `found` count is a string (`"2"`), as every other number Trust returns; Overture
//!    reads `records` and ignores `found` when absent.
//! 8. Record fields used: `requesttypedescription`, `transactionreference`, `orderreference`,
//!    `sitereference`, `baseamount` (minor units, string), `currencyiso3a`, `errorcode`,
//!    `errormessage`, `settlestatus`, `transactionstartedtimestamp` (`YYYY-MM-DD hh:mm:ss` UTC).
//!    Only `AUTH` records decide a pay-in; others (`THREEDQUERY`, `RISKDEC`) are ignored.
//! 9. A successful `AUTH` whose `settlestatus` is `0`, `1`, `10` or `100` is approved for
//!    Overture (the funds are authorised and settle without further action); `2` (suspended,
//!    held for review) stays pending.

use overture_core::connector::{FailureClass, PspOutcome};
use serde::{Deserialize, Serialize};

/// Webservices path below the account's base URL (SDK `Config.datacenterpath`).
pub const JSON_PATH: &str = "/json/";
/// JSON interface version (SDK `Config.jsonversion` default).
pub const API_VERSION: &str = "1.00";
/// Header repeating the request's `requestreference` (SDK `httpclient._get_headers`).
pub const REQUESTREFERENCE_HEADER: &str = "REQUESTREFERENCE";
/// `Content-Type` of requests (SDK `httpclient._get_headers`).
pub const CONTENT_TYPE: &str = "application/json;charset=utf-8";
/// `requesttypedescription` of a transaction query.
pub const TRANSACTIONQUERY: &str = "TRANSACTIONQUERY";
/// `requesttypedescription` of an authorisation (what a Payment Pages payment creates).
pub const AUTH: &str = "AUTH";
/// `requesttypedescription` of an answer to a request Trust could not process at all.
pub const ERROR: &str = "ERROR";

/// `errorcode` values (help.trustpayments.com "Error codes"; docs "Troubleshooting").
pub mod errorcode {
    /// Processed successfully.
    pub const OK: &str = "0";
    /// Field error; `errordata` names the field.
    pub const FIELD_ERROR: &str = "30000";
    /// Declined by the bank.
    pub const DECLINED: &str = "70000";
    /// Soft decline: the issuer asks for Strong Customer Authentication.
    pub const SOFT_DECLINE: &str = "71000";
    /// Bank system error: final status unknown.
    pub const BANK_ERROR: &str = "60010";
    /// Processing problem: final status unknown.
    pub const PROCESSING_ERROR: &str = "60034";
    /// Unknown error: final status unknown.
    pub const UNKNOWN_ERROR: &str = "99999";
    /// Malformed JSON.
    pub const MALFORMED_JSON: &str = "10205";
    /// Invalid request type.
    pub const INVALID_REQUESTTYPE: &str = "60018";
    /// No searchable filter specified.
    pub const NO_SEARCHABLE_FILTER: &str = "60019";
}

/// `settlestatus` values (help.trustpayments.com, Webservices guide and settlement pages).
pub mod settlestatus {
    /// Pending settlement; settles automatically.
    pub const PENDING: &str = "0";
    /// Pending settlement, manually overridden.
    pub const MANUAL: &str = "1";
    /// Suspended: held, neither settled nor cancelled yet.
    pub const SUSPENDED: &str = "2";
    /// Cancelled: final, nothing will settle.
    pub const CANCELLED: &str = "3";
    /// Settling.
    pub const SETTLING: &str = "10";
    /// Settled.
    pub const SETTLED: &str = "100";
}

/// One filter value: `{"value": "…"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilterValue {
    pub value: String,
}

impl FilterValue {
    /// `[{"value": value}]`, a filter with one value.
    pub fn one(value: &str) -> Vec<Self> {
        vec![Self {
            value: value.to_owned(),
        }]
    }
}

/// The filters Overture sends: its site and one order reference (fields AND-ed).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct QueryFilter {
    pub sitereference: Vec<FilterValue>,
    pub orderreference: Vec<FilterValue>,
}

/// One `TRANSACTIONQUERY` request object.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct QueryRequest {
    /// Echoed as the answer's top-level `requestreference`.
    pub requestreference: String,
    /// `["TRANSACTIONQUERY"]`.
    pub requesttypedescriptions: Vec<&'static str>,
    pub filter: QueryFilter,
}

impl QueryRequest {
    /// The query for the requests of `sitereference` whose `orderreference` is `order`.
    pub fn by_order(requestreference: &str, sitereference: &str, order: &str) -> Self {
        Self {
            requestreference: requestreference.to_owned(),
            requesttypedescriptions: vec![TRANSACTIONQUERY],
            filter: QueryFilter {
                sitereference: FilterValue::one(sitereference),
                orderreference: FilterValue::one(order),
            },
        }
    }
}

/// The request body: `{"alias", "version", "request": […]}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Envelope<R> {
    /// The webservices user name (the HTTP Basic user).
    pub alias: String,
    /// [`API_VERSION`].
    pub version: &'static str,
    pub request: Vec<R>,
}

/// The answer body.
#[derive(Clone, Debug, Deserialize)]
pub struct ResponseEnvelope {
    pub requestreference: String,
    #[serde(default)]
    pub version: Option<String>,
    pub response: Vec<ResponseItem>,
}

/// One answer object; `records` only for `TRANSACTIONQUERY`.
#[derive(Clone, Debug, Deserialize)]
pub struct ResponseItem {
    pub errorcode: String,
    #[serde(default)]
    pub errormessage: Option<String>,
    /// Usually a list of field names; kept as JSON.
    #[serde(default)]
    pub errordata: Option<serde_json::Value>,
    #[serde(default)]
    pub requesttypedescription: Option<String>,
    /// Number of records, as a string (inferred, see module docs 7).
    #[serde(default)]
    pub found: Option<String>,
    #[serde(default)]
    pub records: Option<Vec<Record>>,
}

/// One stored request as `TRANSACTIONQUERY` returns it (the fields Overture reads; Trust sends
/// many more). All values are strings on the wire.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    #[serde(default)]
    pub requesttypedescription: String,
    #[serde(default)]
    pub transactionreference: String,
    #[serde(default)]
    pub orderreference: String,
    #[serde(default)]
    pub sitereference: String,
    /// Minor units (`"1050"` = 10.50).
    #[serde(default)]
    pub baseamount: String,
    #[serde(default)]
    pub currencyiso3a: String,
    #[serde(default)]
    pub errorcode: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errormessage: Option<String>,
    #[serde(default)]
    pub settlestatus: String,
    /// `YYYY-MM-DD hh:mm:ss`, UTC.
    #[serde(default)]
    pub transactionstartedtimestamp: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paymenttypedescription: Option<String>,
}

impl Record {
    /// The record's outcome and, when failed, its class (see [`outcome`]).
    pub fn outcome(&self) -> (PspOutcome, Option<FailureClass>) {
        outcome(&self.errorcode, &self.settlestatus)
    }

    /// The raw status Overture stores: `"errorcode=<e> settlestatus=<s>"`.
    pub fn raw_status(&self) -> String {
        raw_status(&self.errorcode, &self.settlestatus)
    }
}

/// `"errorcode=<e> settlestatus=<s>"`: Trust has no single status word, so Overture stores both
/// fields that decide an outcome.
pub fn raw_status(errorcode: &str, settlestatus: &str) -> String {
    format!("errorcode={errorcode} settlestatus={settlestatus}")
}

/// Normalises an `AUTH` outcome from its `errorcode` and `settlestatus` (module docs 5, 6, 9):
///
/// | errorcode | settlestatus | outcome | class | why |
/// |---|---|---|---|---|
/// | `0` | `0` `1` `10` `100` | approved | — | authorised; settles without further action |
/// | `0` | `2` | pending | — | suspended: held for review, may still settle or be cancelled |
/// | `0` | `3` | declined | soft decline | authorised, then cancelled by a rule or the merchant: nothing settles |
/// | `0` | other | pending | — | unknown settle status: keep asking |
/// | `70000` | any | declined | soft decline | the bank declined ("do not honour" and the like) |
/// | `71000` | any | declined | soft decline | the issuer wants SCA; another attempt may pass |
/// | `30000` | any | failed | not processed | field error: refused before authorisation |
/// | `60010` `60034` `99999` | any | failed | technical | final status unknown at Trust: not proof that nothing moved |
/// | other | any | failed | unknown | not in this table |
pub fn outcome(errorcode: &str, settlestatus: &str) -> (PspOutcome, Option<FailureClass>) {
    match errorcode.trim() {
        errorcode::OK => match settlestatus.trim() {
            settlestatus::PENDING
            | settlestatus::MANUAL
            | settlestatus::SETTLING
            | settlestatus::SETTLED => (PspOutcome::Approved, None),
            settlestatus::CANCELLED => (PspOutcome::Declined, Some(FailureClass::SoftDecline)),
            settlestatus::SUSPENDED => (PspOutcome::Pending, None),
            other => {
                tracing::warn!(settlestatus = other, "unknown Trust settlestatus; pending");
                (PspOutcome::Pending, None)
            }
        },
        code => {
            let class = failure_class(code);
            let outcome = match class {
                FailureClass::SoftDecline | FailureClass::HardDecline => PspOutcome::Declined,
                _ => PspOutcome::Failed,
            };
            (outcome, Some(class))
        }
    }
}

/// What a non-zero `errorcode` proves (the table at [`outcome`]).
pub fn failure_class(code: &str) -> FailureClass {
    match code.trim() {
        errorcode::DECLINED | errorcode::SOFT_DECLINE => FailureClass::SoftDecline,
        errorcode::FIELD_ERROR => FailureClass::NotProcessed,
        errorcode::BANK_ERROR | errorcode::PROCESSING_ERROR | errorcode::UNKNOWN_ERROR => {
            FailureClass::Technical
        }
        _ => FailureClass::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_and_settle_statuses_map_to_outcomes() {
        for settled in ["0", "1", "10", "100"] {
            assert_eq!(outcome("0", settled), (PspOutcome::Approved, None));
        }
        assert_eq!(outcome("0", "2"), (PspOutcome::Pending, None));
        assert_eq!(
            outcome("0", "3"),
            (PspOutcome::Declined, Some(FailureClass::SoftDecline))
        );
        assert_eq!(
            outcome("70000", "3"),
            (PspOutcome::Declined, Some(FailureClass::SoftDecline))
        );
        assert_eq!(
            outcome("71000", ""),
            (PspOutcome::Declined, Some(FailureClass::SoftDecline))
        );
        assert_eq!(
            outcome("30000", ""),
            (PspOutcome::Failed, Some(FailureClass::NotProcessed))
        );
        for unknown_status in ["60010", "60034", "99999"] {
            assert_eq!(
                outcome(unknown_status, "3"),
                (PspOutcome::Failed, Some(FailureClass::Technical))
            );
        }
        assert_eq!(
            outcome("12345", "0"),
            (PspOutcome::Failed, Some(FailureClass::Unknown))
        );
    }

    #[test]
    fn query_envelope_has_the_documented_shape() {
        let body = Envelope {
            alias: "webservices@example.com".into(),
            version: API_VERSION,
            request: vec![QueryRequest::by_order(
                "A1b2c3d4e",
                "test_site12345",
                "100100",
            )],
        };
        // The request shape of the TRANSACTIONQUERY article, with one orderreference filter.
        let expected = serde_json::json!({
            "alias": "webservices@example.com",
            "version": "1.00",
            "request": [{
                "requestreference": "A1b2c3d4e",
                "requesttypedescriptions": ["TRANSACTIONQUERY"],
                "filter": {
                    "sitereference": [{"value": "test_site12345"}],
                    "orderreference": [{"value": "100100"}]
                }
            }]
        });
        assert_eq!(serde_json::to_value(&body).unwrap(), expected);
    }

    #[test]
    fn documented_error_answers_parse() {
        // docs.trustpayments.com "Troubleshooting", "10205 Malformed JSON".
        let text = r#"{"requestreference":"W23-rd55dned","version":"1.00","response":[{"errorcode":"10205","requesttypedescription":"ERROR","transactionstartedtimestamp":"2016-11-10 12:18:50","errormessage":"Malformed JSON","errordata":["invalid json"]}],"secrand":"Z0Xk"}"#;
        let answer: ResponseEnvelope = serde_json::from_str(text).unwrap();
        assert_eq!(answer.requestreference, "W23-rd55dned");
        let item = &answer.response[0];
        assert_eq!(item.errorcode, errorcode::MALFORMED_JSON);
        assert_eq!(item.requesttypedescription.as_deref(), Some(ERROR));
        assert!(item.records.is_none());
    }
}
