//! The simulated Payment Pages (`/process/payments/choice` and `/details`): field checks,
//! `sitesecurity`, the page, and the customer's outcome (see the module docs of `super`).

use super::{notify, site_password, Shared};
use crate::html::{escape, not_found, page as html_page};
use crate::keyring::SandboxSeed;
use crate::Scenario;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use overture_connectors::trust::pages::{self as trust_pages, rule, Fields, PAGE_LIFETIME};
use overture_connectors::trust::wire::{errorcode, settlestatus, Record, AUTH};
use overture_core::{Currency, Money};
use std::sync::Arc;
use std::time::Duration;
use subtle::ConstantTimeEq;
use time::OffsetDateTime;

/// Fields every Payment Pages request needs (help.trustpayments.com field specification).
const REQUIRED: &[&str] = &[
    "sitereference",
    "currencyiso3a",
    "mainamount",
    "version",
    "stprofile",
];
/// Rule identifiers this simulator acts on.
const RULES: &[&str] = &[
    rule::SUCCESS_REDIRECT,
    rule::DECLINE_REDIRECT,
    rule::SUCCESS_NOTIFICATION,
    rule::DECLINE_NOTIFICATION,
    rule::ALL_NOTIFICATION,
];
/// URL fields and the rule that enables each.
const RULE_URLS: &[(&str, &str)] = &[
    (rule::SUCCESS_REDIRECT, "successfulurlredirect"),
    (rule::DECLINE_REDIRECT, "declinedurlredirect"),
    (rule::SUCCESS_NOTIFICATION, "successfulurlnotification"),
    (rule::DECLINE_NOTIFICATION, "declinedurlnotification"),
    (rule::ALL_NOTIFICATION, "allurlnotification"),
];
/// A `sitesecuritytimestamp` this far in the future is still accepted (clock skew).
const CLOCK_SKEW: Duration = Duration::from_secs(10 * 60);
/// Longest `orderreference` kept (Trust recommends 25; Overture's ids are longer).
const MAX_ORDERREFERENCE: usize = 64;

/// A checked Payment Pages request.
#[derive(Clone, Debug)]
pub(crate) struct PageRequest {
    /// The fields as received, `outcome` removed.
    pub fields: Fields,
    pub site: String,
    pub amount: Money,
    pub orderreference: String,
    /// `ruleidentifier` values.
    pub rules: Vec<String>,
    /// One page session per signed link and order: `<sitesecurity>/<orderreference>`
    /// (`orderreference` is not part of the hash, so two orders of the same amount signed in
    /// the same second share a `sitesecurity`).
    pub session: String,
    pub scenario: Scenario,
}

impl PageRequest {
    /// The URL of `field` when its rule was requested (`STR-6` ⇒ `successfulurlredirect`).
    pub(crate) fn rule_url(&self, rule_id: &str) -> Option<&str> {
        let (_, field) = RULE_URLS.iter().find(|(r, _)| *r == rule_id)?;
        self.rules
            .iter()
            .any(|r| r == rule_id)
            .then(|| first(&self.fields, field))
            .flatten()
    }
}

/// Why a page request is refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Refused {
    /// Shown as Trust's "Invalid details" page; the text says which check failed.
    Invalid(String),
    /// `sitesecuritytimestamp` older than 3 hours (or far in the future).
    Expired,
}

fn first<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(n, v)| n == name && !v.trim().is_empty())
        .map(|(_, v)| v.as_str())
}

fn invalid(text: impl Into<String>) -> Refused {
    Refused::Invalid(text.into())
}

/// Checks `fields` as the Payment Pages would, at `now`: required fields, amount, rules and
/// their URLs, `sitesecurity` against the site's password, then the 3-hour window.
pub(crate) fn check(
    seed: &SandboxSeed,
    fields: Fields,
    now: OffsetDateTime,
) -> Result<PageRequest, Refused> {
    for name in REQUIRED {
        first(&fields, name).ok_or_else(|| invalid(format!("{name} is required")))?;
    }
    if first(&fields, "version") != Some(trust_pages::PAGES_VERSION) {
        return Err(invalid("version must be 2"));
    }
    let site = first(&fields, "sitereference")
        .unwrap_or_default()
        .to_owned();
    let currency = first(&fields, "currencyiso3a")
        .and_then(Currency::from_code)
        .ok_or_else(|| invalid("currencyiso3a"))?;
    let amount = first(&fields, "mainamount")
        .and_then(|a| Money::parse_major(a, currency).ok())
        .filter(|m| m.minor() > 0)
        .ok_or_else(|| invalid("mainamount"))?;
    let orderreference = first(&fields, "orderreference")
        .unwrap_or_default()
        .to_owned();
    if orderreference.len() > MAX_ORDERREFERENCE {
        return Err(invalid("orderreference too long"));
    }
    let rules: Vec<String> = fields
        .iter()
        .filter(|(n, _)| n == "ruleidentifier")
        .map(|(_, v)| v.clone())
        .collect();
    if let Some(unknown) = rules.iter().find(|r| !RULES.contains(&r.as_str())) {
        return Err(invalid(format!("ruleidentifier {unknown}")));
    }
    for (_, field) in RULE_URLS {
        let ok = first(&fields, field).is_none_or(|u| {
            reqwest::Url::parse(u).is_ok_and(|p| matches!(p.scheme(), "http" | "https"))
        });
        if !ok {
            return Err(invalid(format!("{field} is not an http(s) URL")));
        }
    }
    let presented = first(&fields, "sitesecurity")
        .ok_or_else(|| invalid("sitesecurity is required on this site"))?
        .to_owned();
    let expected = trust_pages::site_security(&fields, &site_password(seed, &site));
    if !bool::from(expected.as_bytes().ct_eq(presented.as_bytes())) {
        return Err(invalid("Invalid details"));
    }
    let started = first(&fields, "sitesecuritytimestamp")
        .and_then(trust_pages::parse_timestamp)
        .ok_or_else(|| invalid("sitesecuritytimestamp"))?;
    if now > started + PAGE_LIFETIME || now + CLOCK_SKEW < started {
        return Err(Refused::Expired);
    }
    Ok(PageRequest {
        session: format!("{presented}/{orderreference}"),
        fields,
        site,
        scenario: Scenario::from_minor(amount.minor()),
        amount,
        orderreference,
        rules,
    })
}

/// `GET|POST /process/payments/{choice,details}`. The fields are the query string's when there
/// is one (Overture's link, and the page's own form which posts back to it), else the form
/// body's (a merchant's POST); `outcome` is taken from the body or the query.
pub(crate) async fn page(
    State(shared): State<Arc<Shared>>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let mut query_fields: Fields =
        serde_urlencoded::from_str(query.as_deref().unwrap_or_default()).unwrap_or_default();
    let mut body_fields: Fields = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let outcome = take(&mut body_fields, "outcome").or(take(&mut query_fields, "outcome"));
    let fields = if query_fields.is_empty() {
        body_fields
    } else {
        query_fields
    };
    let request = match check(&shared.config.seed, fields, OffsetDateTime::now_utc()) {
        Ok(request) => request,
        Err(refused) => return refused_page(&refused),
    };
    if request.scenario == Scenario::Http500OnCreate {
        // The page fails before anything is recorded: a query later finds nothing.
        let body = html_page("Error", "<p>Internal error (.54)</p>");
        return (StatusCode::INTERNAL_SERVER_ERROR, Html(body)).into_response();
    }
    let session = shared.with_book(|b| b.sessions.get(&request.session).cloned());
    if let Some(last) = session.filter(|s| s.closed).and_then(|s| s.last) {
        return result_page(&shared, &last);
    }
    match outcome.as_deref() {
        None => form_page(&request, None),
        Some("approve") => complete(&shared, &request, true).await,
        Some("decline") => complete(&shared, &request, false).await,
        Some(_) => {
            let body = html_page("Bad request", "<p>outcome must be approve or decline</p>");
            (StatusCode::BAD_REQUEST, Html(body)).into_response()
        }
    }
}

fn take(fields: &mut Fields, name: &str) -> Option<String> {
    let at = fields.iter().position(|(n, _)| n == name)?;
    Some(fields.remove(at).1)
}

/// The gateway's answer to the customer's card: `(errorcode, settlestatus, errormessage)`.
fn result(approve: bool, scenario: Scenario) -> (&'static str, &'static str, &'static str) {
    match (approve, scenario) {
        (false, _) | (true, Scenario::Decline) => {
            (errorcode::DECLINED, settlestatus::CANCELLED, "Decline")
        }
        (true, Scenario::Error) => (
            errorcode::BANK_ERROR,
            settlestatus::CANCELLED,
            "Bank System Error",
        ),
        (true, Scenario::StaysProcessing) => (errorcode::OK, settlestatus::SUSPENDED, "Ok"),
        (true, _) => (errorcode::OK, settlestatus::PENDING, "Ok"),
    }
}

/// Records the `AUTH`, sends the notifications, and answers the browser.
async fn complete(shared: &Arc<Shared>, request: &PageRequest, approve: bool) -> Response {
    let (code, settle, message) = result(approve, request.scenario);
    let ok = code == errorcode::OK;
    let ends_session = ok || request.rule_url(rule::DECLINE_REDIRECT).is_some();
    let record = Record {
        requesttypedescription: AUTH.into(),
        transactionreference: String::new(),
        orderreference: request.orderreference.clone(),
        sitereference: request.site.clone(),
        baseamount: request.amount.minor().to_string(),
        currencyiso3a: request.amount.currency().code().into(),
        errorcode: code.into(),
        errormessage: Some(message.into()),
        settlestatus: settle.into(),
        transactionstartedtimestamp: trust_pages::timestamp(OffsetDateTime::now_utc()),
        paymenttypedescription: Some("VISA".into()),
    };
    // Check and record in one step so that two racing POSTs record one AUTH.
    let recorded = shared.with_book(|b| {
        let session = b.sessions.entry(request.session.clone()).or_default();
        if session.closed {
            return Err(session.last.clone());
        }
        let record = b.insert(record);
        let session = b.sessions.entry(request.session.clone()).or_default();
        session.closed = ends_session;
        session.last = Some(record.transactionreference.clone());
        Ok(record)
    });
    let record = match recorded {
        Ok(record) => record,
        Err(Some(last)) => return result_page(shared, &last),
        Err(None) => return not_found("No such payment"),
    };
    notify::after_auth(shared, request, &record);
    if ok && settle == settlestatus::PENDING {
        notify::settle_later(shared, &record.transactionreference);
    }
    let target = if ok {
        request.rule_url(rule::SUCCESS_REDIRECT)
    } else {
        request.rule_url(rule::DECLINE_REDIRECT)
    };
    let password = site_password(&shared.config.seed, &request.site);
    match (target, ok) {
        (Some(url), _) => {
            Redirect::to(&notify::redirect_url(url, &record, &password)).into_response()
        }
        (None, true) => result_page(shared, &record.transactionreference),
        (None, false) => form_page(request, Some(message)),
    }
}

fn refused_page(refused: &Refused) -> Response {
    let body = match refused {
        Refused::Invalid(why) => format!("<h1>Invalid details</h1><p>{}</p>", escape(why)),
        Refused::Expired => "<h1>Payment session expired</h1>\
             <p>sitesecuritytimestamp is more than 3 hours old</p>"
            .to_owned(),
    };
    (
        StatusCode::BAD_REQUEST,
        Html(html_page("Trust Payments sandbox", &body)),
    )
        .into_response()
}

/// The payment page: amount, reference, and the outcome buttons; the fields travel as hidden
/// inputs so that a page reached by a form POST posts them back. No card field.
fn form_page(request: &PageRequest, declined: Option<&str>) -> Response {
    let hidden: String = request
        .fields
        .iter()
        .map(|(n, v)| {
            format!(
                "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
                escape(n),
                escape(v)
            )
        })
        .collect();
    let notice = declined
        .map(|m| format!("<p><b>{}</b>: please try another card.</p>", escape(m)))
        .unwrap_or_default();
    let body = format!(
        "<h1>Trust Payments (sandbox)</h1>{notice}\
         <p>Pay <b>{} {}</b>, order {}.</p>\
         <p>Test card 4111 1111 1111 1111 is entered for you.</p>\
         <form method=\"post\">{hidden}\
         <button name=\"outcome\" value=\"approve\">Pay</button> \
         <button name=\"outcome\" value=\"decline\">Use a declined card</button>\
         </form>",
        escape(&request.amount.to_major_string()),
        escape(request.amount.currency().code()),
        escape(&request.orderreference),
    );
    Html(html_page("Trust Payments sandbox", &body)).into_response()
}

fn result_page(shared: &Shared, reference: &str) -> Response {
    let found = shared.with_book(|b| b.auth_mut(reference).map(|a| a.record.clone()));
    let Some(record) = found else {
        return not_found("No such payment");
    };
    let word = if record.errorcode == errorcode::OK {
        "successful"
    } else {
        "declined"
    };
    let body = format!(
        "<h1>Payment {word}</h1><p>Transaction {} for order {}</p>",
        escape(&record.transactionreference),
        escape(&record.orderreference)
    );
    Html(html_page("Trust Payments sandbox", &body)).into_response()
}
