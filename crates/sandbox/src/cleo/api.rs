//! The JSON API (assumed, see `overture_connectors::cleo::wire`): creations, status lookups,
//! the per-country keys and the published country/currency/amount rules.

use super::{key_secret, webhook, Kind, Order, Shared};
use crate::Scenario;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use overture_connectors::cleo::fields;
use overture_connectors::cleo::wire::{
    self, status, CreatedOut, ErrorOut, PayinIn, PayoutIn, TransactionList,
};
use overture_core::{Currency, Money};
use serde::de::DeserializeOwned;
use std::collections::HashMap;
use std::sync::Arc;

fn refuse(
    code: StatusCode,
    error_code: &str,
    message: impl Into<String>,
    field: Option<&str>,
) -> Response {
    (code, Json(ErrorOut::new(error_code, message, field))).into_response()
}

/// A refusal that is a handler's whole answer, boxed: a `Response` is large and refusals are
/// the rare path (clippy `result_large_err`).
type Refusal = Box<Response>;

fn invalid(field: &str, message: impl Into<String>) -> Refusal {
    Box::new(refuse(
        StatusCode::BAD_REQUEST,
        wire::CODE_VALIDATION,
        message,
        Some(field),
    ))
}

/// `(account, country)` of `Authorization: Bearer ck_<cc>_<account>.<secret>` when the secret
/// is that account's key for that country; else 401.
fn authorized(shared: &Shared, headers: &HeaderMap) -> Result<(String, String), Refusal> {
    let key = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let parsed = key.and_then(|k| {
        let (id, secret) = k.split_once('.')?;
        let rest = id.strip_prefix("ck_")?;
        let (cc, account) = rest.split_once('_')?;
        matches!(cc, "cl" | "pe" | "mx")
            .then(|| (cc.to_owned(), account.to_owned(), secret.to_owned()))
    });
    match parsed {
        Some((cc, account, secret)) if key_secret(&shared.config.seed, &account, &cc) == secret => {
            Ok((account, cc.to_ascii_uppercase()))
        }
        _ => Err(Box::new(refuse(
            StatusCode::UNAUTHORIZED,
            "UNAUTHORIZED",
            "missing or unknown API key",
            None,
        ))),
    }
}

/// The amount as Cleo publishes it: CLP whole pesos, PEN and MXN with exactly two decimals.
fn amount(text: &str, currency: &str) -> Result<Money, Refusal> {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let (whole, cents) = text.split_once('.').unwrap_or((text, ""));
    let ok = match currency {
        "CLP" => digits(text),
        _ => digits(whole) && cents.len() == 2 && digits(cents),
    };
    if !ok {
        let rule = if currency == "CLP" {
            "CLP amounts are whole pesos"
        } else {
            "exactly two decimals"
        };
        return Err(invalid("amount", format!("amount {text:?}: {rule}")));
    }
    let known =
        Currency::from_code(currency).ok_or_else(|| invalid("currency", "unknown currency"))?;
    Money::parse_major(text, known).map_err(|e| invalid("amount", e.to_string()))
}

/// The shared checks of a creation: reference, country/currency pair, the key's country,
/// amount, URLs.
fn common(
    key_country: &str,
    (reference, country, currency, text, webhook_url): (&str, &str, &str, &str, &str),
) -> Result<Money, Refusal> {
    if reference.trim().is_empty() || reference.len() > 64 {
        return Err(invalid(
            "reference",
            "reference: required, at most 64 characters",
        ));
    }
    let local = wire::currency_of(country)
        .ok_or_else(|| invalid("country", format!("country {country:?}: CL, PE or MX only")))?;
    if currency != local {
        return Err(invalid(
            "currency",
            format!("{country} takes {local} only, not {currency}"),
        ));
    }
    if country != key_country {
        return Err(Box::new(refuse(
            StatusCode::FORBIDDEN,
            "COUNTRY_MISMATCH",
            format!("this key serves {key_country}, not {country}"),
            Some("country"),
        )));
    }
    let money = amount(text, currency)?;
    if reqwest::Url::parse(webhook_url).is_err() {
        return Err(invalid("webhook_url", "webhook_url: absolute URL required"));
    }
    Ok(money)
}

fn body<T: DeserializeOwned>(raw: &Bytes) -> Result<T, Refusal> {
    serde_json::from_slice(raw).map_err(|e| invalid("body", format!("body: {e}")))
}

/// A payout's beneficiary, checked with the country's account formats.
fn beneficiary_ok(p: &PayoutIn) -> Result<(), Refusal> {
    let b = &p.beneficiary;
    if b.name.trim().is_empty() {
        return Err(invalid("beneficiary.name", "the holder's name is required"));
    }
    let field = "beneficiary.account_number";
    match p.country.as_str() {
        "MX" if !fields::clabe_ok(&b.account_number) => Err(invalid(field, "not a valid CLABE")),
        "PE" if !fields::cci_ok(&b.account_number) => Err(invalid(field, "not a 20-digit CCI")),
        "CL" if !b.document_id.as_deref().is_some_and(fields::rut_ok) => {
            Err(invalid("beneficiary.document_id", "not a valid RUT"))
        }
        "CL" if b.bank_code.as_deref().is_none_or(|c| c.len() != 3) => Err(invalid(
            "beneficiary.bank_code",
            "3-digit bank code required",
        )),
        _ => Ok(()),
    }
}

fn new_order(
    account: String,
    kind: Kind,
    money: Money,
    (reference, country): (&str, &str),
) -> Order {
    Order {
        seq: 0,
        account,
        kind,
        id: String::new(),
        reference: reference.trim().to_owned(),
        amount: money.to_major_string(),
        currency: money.currency().code().to_owned(),
        country: country.to_owned(),
        status: match kind {
            Kind::Payin => status::PENDING,
            Kind::Payout => status::PROCESSING,
        },
        message: None,
        scenario: Scenario::from_minor(money.minor()),
        return_url: None,
        webhook_url: String::new(),
        executions: u32::from(kind == Kind::Payout),
        webhook_attempts: 0,
        webhooks_sent: 0,
        status_queries: 0,
    }
}

/// Stores `order` (`.54` first answers 500 and creates nothing); 409 for a reused reference.
fn store(shared: &Shared, order: Order) -> Result<Order, Refusal> {
    if order.scenario == Scenario::Http500OnCreate {
        return Err(Box::new(refuse(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL_ERROR",
            "internal error",
            None,
        )));
    }
    shared.insert(order).map_err(|existing| {
        let mut refusal = ErrorOut::new(
            wire::CODE_DUPLICATE,
            "reference already used; nothing was created",
            None,
        );
        refusal.error.id = Some(existing);
        Box::new((StatusCode::CONFLICT, Json(refusal)).into_response())
    })
}

fn created(order: &Order, checkout_url: Option<String>) -> Response {
    let out = CreatedOut {
        id: order.id.clone(),
        reference: order.reference.clone(),
        status: order.status.to_owned(),
        checkout_url,
    };
    (StatusCode::CREATED, Json(out)).into_response()
}

/// `POST /v1/payins`.
pub(crate) async fn create_payin(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    raw: Bytes,
) -> Response {
    let run = || -> Result<Order, Refusal> {
        let (account, key_country) = authorized(&shared, &headers)?;
        let p: PayinIn = body(&raw)?;
        let money = common(
            &key_country,
            (
                &p.reference,
                &p.country,
                &p.currency,
                &p.amount,
                &p.webhook_url,
            ),
        )?;
        if !p.customer.email.contains('@') {
            return Err(invalid("customer.email", "not an e-mail address"));
        }
        let mut order = new_order(account, Kind::Payin, money, (&p.reference, &p.country));
        order.return_url = p.return_url.clone();
        order.webhook_url = p.webhook_url.clone();
        store(&shared, order)
    };
    match run() {
        Ok(order) => created(&order, Some(shared.checkout_url(&order.id))),
        Err(refusal) => *refusal,
    }
}

/// `POST /v1/payouts`: settled after `processing_delay`.
pub(crate) async fn create_payout(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    raw: Bytes,
) -> Response {
    let run = || -> Result<Order, Refusal> {
        let (account, key_country) = authorized(&shared, &headers)?;
        let p: PayoutIn = body(&raw)?;
        let money = common(
            &key_country,
            (
                &p.reference,
                &p.country,
                &p.currency,
                &p.amount,
                &p.webhook_url,
            ),
        )?;
        beneficiary_ok(&p)?;
        let mut order = new_order(account, Kind::Payout, money, (&p.reference, &p.country));
        order.webhook_url = p.webhook_url.clone();
        store(&shared, order)
    };
    match run() {
        Ok(order) => {
            webhook::settle_later(&shared, &order.id);
            created(&order, None)
        }
        Err(refusal) => *refusal,
    }
}

/// `GET /v1/transactions/{id}`; unknown (or another account's) ⇒ 404.
pub(crate) async fn get_one(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let (account, _) = match authorized(&shared, &headers) {
        Ok(a) => a,
        Err(refusal) => return *refusal,
    };
    let found = shared.update(&id, |o| {
        (o.account == account).then(|| {
            o.status_queries += 1;
            o.out()
        })
    });
    match found.flatten() {
        Some(out) => Json(out).into_response(),
        None => refuse(StatusCode::NOT_FOUND, "NOT_FOUND", "unknown id", None),
    }
}

/// `GET /v1/transactions?reference=…`: a list, empty when unknown.
pub(crate) async fn search(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let (account, _) = match authorized(&shared, &headers) {
        Ok(a) => a,
        Err(refusal) => return *refusal,
    };
    let Some(reference) = query.get("reference").filter(|r| !r.is_empty()) else {
        return *invalid("reference", "reference: required");
    };
    let found = shared.update_by_reference(&account, reference, |o| {
        o.status_queries += 1;
        o.out()
    });
    Json(TransactionList {
        data: found.into_iter().collect(),
    })
    .into_response()
}
