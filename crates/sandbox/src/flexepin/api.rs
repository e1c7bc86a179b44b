//! The voucher API: authentication (HMAC header, fresh nonce, the key's own terminal),
//! validate and redeem, with each test PIN's outcome (module docs of [`super`]).

use super::{terminal_of, Outcome, Shared, Voucher, DEFAULT_API_KEY, DEFAULT_SECRET, KEYRING_NAME};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use overture_connectors::flexepin::wire::{self, result, VoucherOut};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// How far a nonce (epoch ms) may be from the sandbox clock (assumed).
const NONCE_WINDOW_MS: u64 = 10 * 60_000;

type Params = Path<(String, String, String)>;

/// `GET /status`.
pub(crate) async fn status() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "alive" }))
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn answer(code: i64, description: &str) -> VoucherOut {
    VoucherOut {
        result: code,
        result_description: description.to_owned(),
        ..VoucherOut::default()
    }
}

/// A refusal that is a handler's whole answer, boxed: a `Response` is large and refusals are
/// the rare path (clippy `result_large_err`).
type Refusal = Box<Response>;

fn unauthorized(why: &str) -> Refusal {
    Box::new((StatusCode::UNAUTHORIZED, Json(answer(401, why))).into_response())
}

/// The secret of `api_key`: the default account's constant, or the keyring's.
fn secret_of(shared: &Shared, api_key: &str) -> Option<String> {
    if api_key == DEFAULT_API_KEY {
        return Some(DEFAULT_SECRET.to_owned());
    }
    api_key
        .starts_with("fxk_")
        .then(|| shared.config.seed.derive(KEYRING_NAME, "secret", api_key))
}

/// The calling account's API key when the header signs this request with that key's secret
/// and a fresh nonce; else the 401 answer.
fn authorized(
    shared: &Shared,
    (method, uri, headers, body): (&Method, &Uri, &HeaderMap, &[u8]),
) -> Result<String, Refusal> {
    let header = headers
        .get(wire::AUTH_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(wire::parse_auth_header);
    let Some((key, signature, nonce)) = header else {
        return Err(unauthorized("missing or malformed AUTHENTICATION header"));
    };
    let Some(secret) = secret_of(shared, key) else {
        return Err(unauthorized("unknown API key"));
    };
    let body = std::str::from_utf8(body).unwrap_or("");
    let parts = (method.as_str(), uri.path(), nonce, body);
    if !wire::verify(&secret, parts, signature) {
        return Err(unauthorized("bad signature"));
    }
    let now = now_ms();
    let value: Option<u64> = nonce.parse().ok();
    let fresh = value.is_some_and(|n| n.abs_diff(now) <= NONCE_WINDOW_MS);
    let oldest = now.saturating_sub(NONCE_WINDOW_MS);
    match value {
        Some(n) if fresh && shared.fresh_nonce(key, n, signature, oldest) => Ok(key.to_owned()),
        _ => Err(unauthorized("stale or reused nonce")),
    }
}

/// The account's checks shared by validate and redeem: auth, then the terminal.
fn account_for(
    shared: &Shared,
    request: (&Method, &Uri, &HeaderMap, &[u8]),
    terminal: &str,
) -> Result<String, Refusal> {
    let key = authorized(shared, request)?;
    if terminal_of(&shared.config.seed, &key) != terminal {
        let refusal = answer(result::TERMINAL, "Terminal not allowed");
        return Err(Box::new(Json(refusal).into_response()));
    }
    Ok(key)
}

/// The answer describing `voucher` for a caller asking with `trans_no`.
fn describe(voucher: &Voucher, trans_no: &str) -> VoucherOut {
    let spec = voucher.spec;
    let mut out = VoucherOut {
        result: result::OK,
        result_description: "Success".into(),
        trans_no: Some(trans_no.to_owned()),
        serial: Some(voucher.serial.clone()),
        value: Some(spec.value.to_string()),
        cost: Some(format!("{}.00", spec.value)),
        currency: Some(spec.currency.to_owned()),
        description: Some(format!("Flexepin {} {}", spec.value, spec.currency)),
        ean: Some("9120000000000".into()),
        status: Some(wire::STATUS_ACTIVE.into()),
        transaction_id: None,
    };
    if let Some((_, used_trans_no, transaction_id)) = &voucher.used_by {
        out.result = result::USED;
        out.result_description = "Voucher is used".into();
        out.status = Some(wire::STATUS_USED.into());
        out.trans_no = Some(used_trans_no.clone());
        out.transaction_id = Some(transaction_id.clone());
    } else if spec.outcome == Outcome::Inactive {
        out.result = result::INACTIVE;
        out.result_description = "Voucher is not active".into();
        out.status = Some(wire::STATUS_INACTIVE.into());
    }
    out
}

fn not_found() -> Response {
    Json(answer(result::NOT_FOUND, "Voucher not found")).into_response()
}

/// `GET /voucher/validate/{pin}/{terminal}/{trans_no}`.
pub(crate) async fn validate(
    State(shared): State<Arc<Shared>>,
    Path((pin, terminal, trans_no)): Params,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    if let Err(refusal) = account_for(&shared, (&method, &uri, &headers, &[]), &terminal) {
        return *refusal;
    }
    let seen = shared.voucher(&pin, &trans_no, |v| {
        v.validations += 1;
        let unknowable = v.spec.outcome == Outcome::Unknowable && v.executions > 0;
        (!unknowable).then(|| describe(v, &trans_no))
    });
    match seen {
        None => not_found(),
        Some(None) => StatusCode::SERVICE_UNAVAILABLE.into_response(),
        Some(Some(out)) => Json(out).into_response(),
    }
}

/// What a redeem call did.
enum Redeemed {
    Answer(Box<VoucherOut>),
    Status(StatusCode),
}

/// Uses the voucher for `(key, trans_no)` unless it is used, inactive, or its outcome says
/// otherwise.
fn redeem_once(voucher: &mut Voucher, key: &str, trans_no: &str) -> Redeemed {
    voucher.redeem_calls += 1;
    let current = describe(voucher, trans_no);
    if current.result != result::OK {
        return Redeemed::Answer(Box::new(current));
    }
    match voucher.spec.outcome {
        Outcome::SystemError => {
            return Redeemed::Answer(Box::new(answer(result::SYSTEM_ERROR, "System error")));
        }
        Outcome::Http500 => return Redeemed::Status(StatusCode::INTERNAL_SERVER_ERROR),
        Outcome::Normal
        | Outcome::UsedElsewhere
        | Outcome::Unknowable
        | Outcome::AnswerLost
        | Outcome::Inactive => {}
    }
    let transaction_id = format!("FX{}", 10_000_000 + voucher.seq);
    voucher.used_by = Some((key.to_owned(), trans_no.to_owned(), transaction_id));
    voucher.executions += 1;
    match voucher.spec.outcome {
        Outcome::Unknowable | Outcome::AnswerLost => Redeemed::Status(StatusCode::GATEWAY_TIMEOUT),
        _ => {
            let mut out = describe(voucher, trans_no);
            out.result = result::OK;
            out.result_description = "Success".into();
            Redeemed::Answer(Box::new(out))
        }
    }
}

/// `PUT /voucher/redeem/{pin}/{terminal}/{trans_no}` with `{"customer_ip": …}`.
pub(crate) async fn redeem(
    State(shared): State<Arc<Shared>>,
    Path((pin, terminal, trans_no)): Params,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let key = match account_for(&shared, (&method, &uri, &headers, &body), &terminal) {
        Ok(key) => key,
        Err(refusal) => return *refusal,
    };
    if !body.is_empty() && serde_json::from_slice::<wire::RedeemIn>(&body).is_err() {
        let refusal = answer(400, "body must be {\"customer_ip\": \"…\"}");
        return (StatusCode::BAD_REQUEST, Json(refusal)).into_response();
    }
    match shared.voucher(&pin, &trans_no, |v| redeem_once(v, &key, &trans_no)) {
        None => not_found(),
        Some(Redeemed::Answer(out)) => Json(*out).into_response(),
        Some(Redeemed::Status(code)) => code.into_response(),
    }
}
