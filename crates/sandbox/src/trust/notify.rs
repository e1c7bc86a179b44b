//! After an `AUTH`: URL notifications (form POST of the notification fields, signed with
//! `responsesitesecurity`, resent after each `config.callback_retries` delay while not
//! answered HTTP 200), the signed redirect fields, and settlement of approved `AUTH`s.

use super::pages::PageRequest;
use super::{site_password, Shared};
use crate::keyring;
use crate::notify::until_accepted;
use crate::Scenario;
use overture_connectors::trust::pages::{self as trust_pages, rule, Fields, NOTIFICATION_FIELDS};
use overture_connectors::trust::wire::{errorcode, settlestatus, Record};
use std::sync::Arc;
use std::time::Duration;

/// Trust waits this long for the notification's HTTP 200 (help.trustpayments.com: "within 8
/// seconds").
const NOTIFICATION_TIMEOUT: Duration = Duration::from_secs(8);
/// Fields of the result redirect ("Payment pages redirect": errorcode, settlestatus and
/// transactionreference at least).
const REDIRECT_FIELDS: &[&str] = &[
    "errorcode",
    "orderreference",
    "settlestatus",
    "sitereference",
    "transactionreference",
];

/// The value of a record field by its wire name (`""` when the record has none).
fn field(record: &Record, name: &str) -> String {
    match name {
        "baseamount" => record.baseamount.clone(),
        "currencyiso3a" => record.currencyiso3a.clone(),
        "errorcode" => record.errorcode.clone(),
        "orderreference" => record.orderreference.clone(),
        "paymenttypedescription" => record.paymenttypedescription.clone().unwrap_or_default(),
        "requesttypedescription" => record.requesttypedescription.clone(),
        "settlestatus" => record.settlestatus.clone(),
        "sitereference" => record.sitereference.clone(),
        "transactionreference" => record.transactionreference.clone(),
        _ => String::new(),
    }
}

fn fields_of(record: &Record, names: &[&str]) -> Fields {
    names
        .iter()
        .map(|n| ((*n).to_owned(), field(record, n)))
        .collect()
}

/// `fields` with a fresh `notificationreference` and their `responsesitesecurity` (computed
/// with `password`, the reference excluded as the formula says).
pub(crate) fn signed(mut fields: Fields, password: &str) -> Fields {
    let hash = trust_pages::response_site_security(&fields, password);
    fields.push((
        "notificationreference".into(),
        format!("NR-{}", keyring::random_alphanumeric(12)),
    ));
    fields.push(("responsesitesecurity".into(), hash));
    fields
}

/// The browser's redirect to `target` with the signed result fields appended to its query.
pub(crate) fn redirect_url(target: &str, record: &Record, password: &str) -> String {
    let mut fields = fields_of(record, REDIRECT_FIELDS);
    let hash = trust_pages::response_site_security(&fields, password);
    fields.push(("responsesitesecurity".into(), hash));
    match reqwest::Url::parse(target) {
        Ok(mut url) => {
            url.query_pairs_mut().extend_pairs(fields);
            url.to_string()
        }
        Err(_) => target.to_owned(),
    }
}

/// The notification targets the request asked for, for this result.
fn targets(request: &PageRequest, ok: bool) -> Vec<String> {
    let by_result = if ok {
        rule::SUCCESS_NOTIFICATION
    } else {
        rule::DECLINE_NOTIFICATION
    };
    [rule::ALL_NOTIFICATION, by_result]
        .into_iter()
        .filter_map(|r| request.rule_url(r).map(str::to_owned))
        .collect()
}

/// Sends the notifications of `record` (`.55` none, `.56` each twice, `.57` a lying one).
pub(crate) fn after_auth(shared: &Arc<Shared>, request: &PageRequest, record: &Record) {
    let copies = match request.scenario {
        Scenario::NoCallback => 0,
        Scenario::DuplicateCallback => 2,
        _ => 1,
    };
    let password = site_password(&shared.config.seed, &request.site);
    for url in targets(request, record.errorcode == errorcode::OK) {
        for _ in 0..copies {
            let body = body(record, request.scenario, &password);
            let shared = Arc::clone(shared);
            let (url, reference) = (url.clone(), record.transactionreference.clone());
            tokio::spawn(async move { deliver(&shared, &reference, &url, body).await });
        }
    }
}

/// The form body; `.57` claims the opposite outcome and is signed with a wrong password.
fn body(record: &Record, scenario: Scenario, password: &str) -> String {
    let mut fields = fields_of(record, NOTIFICATION_FIELDS);
    let mut password = password.to_owned();
    if scenario == Scenario::ForgedCallback {
        let approved = record.errorcode == errorcode::OK;
        let (code, settle) = if approved {
            (errorcode::DECLINED, settlestatus::CANCELLED)
        } else {
            (errorcode::OK, settlestatus::PENDING)
        };
        for (name, value) in &mut fields {
            match name.as_str() {
                "errorcode" => *value = code.to_owned(),
                "settlestatus" => *value = settle.to_owned(),
                _ => {}
            }
        }
        password = "forged-not-the-sites-password".to_owned();
    }
    // A list of string pairs always encodes.
    serde_urlencoded::to_string(signed(fields, &password)).unwrap_or_default()
}

/// One notification, resent after each `callback_retries` delay while not answered 200.
async fn deliver(shared: &Shared, reference: &str, url: &str, body: String) {
    let body = &body;
    let accepted = until_accepted(&shared.config.callback_retries, || async move {
        shared.with_book(|b| {
            if let Some(a) = b.auth_mut(reference) {
                a.notification_attempts += 1;
            }
        });
        shared
            .client
            .post(url)
            .timeout(NOTIFICATION_TIMEOUT)
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded; charset=UTF-8",
            )
            .body(body.clone())
            .send()
            .await
            .is_ok_and(|r| r.status() == reqwest::StatusCode::OK)
    })
    .await;
    if accepted {
        shared.with_book(|b| {
            if let Some(a) = b.auth_mut(reference) {
                a.notifications_sent += 1;
            }
        });
    } else {
        tracing::warn!(
            reference,
            "TRUST sandbox notification not accepted; giving up"
        );
    }
}

/// After `processing_delay`, an approved `AUTH` pending settlement is settled (`100`).
pub(crate) fn settle_later(shared: &Arc<Shared>, reference: &str) {
    let shared = Arc::clone(shared);
    let reference = reference.to_owned();
    tokio::spawn(async move {
        tokio::time::sleep(shared.config.processing_delay).await;
        shared.with_book(|b| {
            if let Some(a) = b.auth_mut(&reference) {
                if a.record.errorcode == errorcode::OK
                    && a.record.settlestatus == settlestatus::PENDING
                {
                    a.record.settlestatus = settlestatus::SETTLED.to_owned();
                }
            }
        });
    });
}
