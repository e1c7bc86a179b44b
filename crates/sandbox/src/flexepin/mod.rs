//! FLEXEPIN simulator: Flexepin's voucher redemption API as two open-source integrations
//! speak it (sources and every assumed detail in `overture_connectors::flexepin::wire`).
//!
//! Routes, relative to the simulator's base URL (`/sandbox/flexepin` in `overture serve`):
//! - `GET /status` ⇒ `{"status":"alive"}` (unauthenticated);
//! - `GET /voucher/validate/{pin}/{terminalId}/{transNo}` and
//!   `PUT /voucher/redeem/{pin}/{terminalId}/{transNo}` (body `{"customer_ip": …}`), each with
//!   `AUTHENTICATION: HMAC {apiKey}:{signature}:{nonce}` over `METHOD\nPATH\nNONCE\nBODY`
//!   (PATH as sent, below the base URL). A wrong key, signature, or a nonce that is not epoch
//!   milliseconds within 10 minutes of the sandbox clock, or a replay of a request already accepted ⇒
//!   HTTP 401 `{"result":401,…}`; a terminal that is not the key's ⇒ result 4010;
//! - `GET /_orders`: inspection JSON (masked PIN, validations, redeem calls, executions); not
//!   Flexepin's. `POST /_accounts`: opens an account; not Flexepin's.
//!
//! Accounts (`POST /_accounts`, see [`crate::keyring`]): `api_key` = `fxk_` + 20 random
//! letters and digits; `secret` = `flexepin/secret/<api_key>` and `terminal_id` = `T` + the
//! first 12 hex digits of `flexepin/terminal_id/<api_key>`, both derived from the sandbox seed.
//! The fixed **default test account**, the same in every sandbox, for outside clients:
//! `api_key` [`DEFAULT_API_KEY`], `secret` [`DEFAULT_SECRET`], `terminal_id`
//! [`DEFAULT_TERMINAL_ID`].
//!
//! **Test vouchers.** Every 16-digit PIN is a voucher whose properties its digits spell:
//! `CCC VVVVVV XXXXX OO` — `CCC` the ISO 4217 numeric code of its currency (978 EUR, 124 CAD,
//! 036 AUD, 840 USD; any other ⇒ result 4001 not found), `VVVVVV` its face value in whole
//! major units (`000020` = 20; `000000` ⇒ not found), `XXXXX` free (to make PINs unique), `OO`
//! the outcome, following the cents table where Flexepin has the path (Flexepin sends no
//! notifications and has no processing state, so `.56` and `.57` behave as `00`):
//! - `00`–`49`: an active voucher; redeem marks it `USED` by the calling transaction;
//! - `51`: already used by another transaction (validate: result 4002, status `USED`) ⇒
//!   declined;
//! - `52`: redeem answers result 5000 "System error" and leaves the voucher active ⇒ failed;
//! - `53`: redeem uses the voucher but answers HTTP 504, and every validate of it afterwards
//!   answers HTTP 503: the outcome cannot be learned (Overture keeps the pay-in open until its
//!   poll schedule gives up);
//! - `54`: redeem answers HTTP 500 without using the voucher;
//! - `55`: redeem uses the voucher but answers HTTP 504 (the answer is lost); validate then
//!   shows it `USED` by this transaction;
//! - `58`: an inactive voucher (cancelled or expired): result 4003, status `INACTIVE`.
//!
//! The voucher's value and currency are the voucher's: the merchant's amount never reaches the
//! PSP, so a voucher worth another amount or currency is the connector's to refuse.
//! Examples: `9780000200000000` is an active 20 EUR voucher,
//! `9780000200000051` a used one, `1240000500000055` a 50 CAD voucher whose redeem answer is
//! lost. PINs are never logged and `/_orders` shows them masked.

mod api;
#[cfg(test)]
mod tests;

use crate::keyring::{self, SandboxSeed};
use crate::{NewAccount, SimConfig, Simulator};
use axum::extract::State;
use axum::routing::{get, put};
use axum::{Json, Router};
use overture_core::connector::mask_secret;
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

/// This simulator's name in key derivations (`flexepin/<credential>/<api_key>`).
pub const KEYRING_NAME: &str = "flexepin";
/// The default test account's API key (constant, documented).
pub const DEFAULT_API_KEY: &str = "fxk_overture_default_test";
/// The default test account's HMAC secret (constant, documented: it protects nothing).
pub const DEFAULT_SECRET: &str = "flexepin-sandbox-default-secret";
/// The default test account's terminal id (constant, documented).
pub const DEFAULT_TERMINAL_ID: &str = "TOVERTURETEST";

/// The FLEXEPIN simulator.
pub struct FlexepinSandbox;

impl Simulator for FlexepinSandbox {
    fn psp_type(&self) -> &'static str {
        "FLEXEPIN"
    }

    fn create_account(&self, seed: &SandboxSeed) -> NewAccount {
        let api_key = format!("fxk_{}", keyring::random_alphanumeric(20));
        NewAccount::new(vec![
            ("secret", seed.derive(KEYRING_NAME, "secret", &api_key)),
            ("terminal_id", terminal_of(seed, &api_key)),
            ("api_key", api_key),
        ])
    }

    fn router(&self, config: SimConfig) -> Router {
        let shared = Arc::new(Shared {
            config,
            book: Mutex::new(Book::default()),
        });
        Router::new()
            .route("/status", get(api::status))
            .route(
                "/voucher/validate/{pin}/{terminal}/{trans_no}",
                get(api::validate),
            )
            .route(
                "/voucher/redeem/{pin}/{terminal}/{trans_no}",
                put(api::redeem),
            )
            .route("/_orders", get(list_orders))
            .with_state(shared)
    }
}

/// The terminal id of the account `api_key`.
pub(crate) fn terminal_of(seed: &SandboxSeed, api_key: &str) -> String {
    if api_key == DEFAULT_API_KEY {
        return DEFAULT_TERMINAL_ID.to_owned();
    }
    format!(
        "T{}",
        seed.derive_short(KEYRING_NAME, "terminal_id", api_key, 12)
    )
}

/// What a PIN's last two digits make the sandbox do (module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    Normal,
    UsedElsewhere,
    SystemError,
    Unknowable,
    Http500,
    AnswerLost,
    Inactive,
}

/// A voucher as its PIN spells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Spec {
    pub currency: &'static str,
    /// Whole major units.
    pub value: u32,
    pub outcome: Outcome,
}

/// Decodes a test PIN (`None`: no such voucher).
pub(crate) fn decode(pin: &str) -> Option<Spec> {
    if pin.len() != 16 || !pin.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let currency = match &pin[0..3] {
        "978" => "EUR",
        "124" => "CAD",
        "036" => "AUD",
        "840" => "USD",
        _ => return None,
    };
    let value: u32 = pin[3..9].parse().ok().filter(|v| *v > 0)?;
    let outcome = match &pin[14..16] {
        "51" => Outcome::UsedElsewhere,
        "52" => Outcome::SystemError,
        "53" => Outcome::Unknowable,
        "54" => Outcome::Http500,
        "55" => Outcome::AnswerLost,
        "58" => Outcome::Inactive,
        _ => Outcome::Normal,
    };
    Some(Spec {
        currency,
        value,
        outcome,
    })
}

/// One voucher the sandbox has seen.
#[derive(Clone, Debug)]
pub(crate) struct Voucher {
    pub seq: u64,
    pub spec: Spec,
    /// The masked PIN (what `/_orders` shows).
    pub masked: String,
    pub serial: String,
    /// `(api_key, trans_no, transaction_id)` of the redemption that used it.
    pub used_by: Option<(String, String, String)>,
    /// The transaction number of the latest call about it.
    pub last_trans_no: String,
    pub validations: u32,
    pub redeem_calls: u32,
    /// Times the voucher was used; must stay ≤ 1.
    pub executions: u32,
}

/// State shared by the handlers.
pub(crate) struct Shared {
    pub config: SimConfig,
    book: Mutex<Book>,
}

#[derive(Default)]
struct Book {
    /// By full PIN.
    vouchers: HashMap<String, Voucher>,
    /// `(nonce, api_key, signature)` of every request accepted: a replay is refused.
    nonces: HashSet<(u64, String, String)>,
    next_seq: u64,
}

impl Shared {
    fn with_book<R>(&self, f: impl FnOnce(&mut Book) -> R) -> R {
        let mut guard = self.book.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut guard)
    }

    /// Records a signed request (`api_key`, `nonce`, `signature`); false when the same one
    /// was accepted before (a replay). Requests older than the accepted window are forgotten
    /// (they are refused by their age anyway).
    pub(crate) fn fresh_nonce(
        &self,
        api_key: &str,
        nonce: u64,
        signature: &str,
        oldest: u64,
    ) -> bool {
        self.with_book(|book| {
            book.nonces.retain(|(n, _, _)| *n >= oldest);
            let signature = signature.to_ascii_lowercase();
            book.nonces.insert((nonce, api_key.to_owned(), signature))
        })
    }

    /// Applies `f` to the voucher `pin` (created on first sight; `trans_no` recorded as the
    /// latest caller). `None` when the PIN spells no voucher.
    pub(crate) fn voucher<R>(
        &self,
        pin: &str,
        trans_no: &str,
        f: impl FnOnce(&mut Voucher) -> R,
    ) -> Option<R> {
        let spec = decode(pin)?;
        Some(self.with_book(|book| {
            book.next_seq += 1;
            let seq = book.next_seq;
            let voucher = book
                .vouchers
                .entry(pin.to_owned())
                .or_insert_with(|| Voucher {
                    seq,
                    spec,
                    masked: mask_secret(pin),
                    serial: format!("{:010}", 1_000_000_000 + seq),
                    used_by: (spec.outcome == Outcome::UsedElsewhere).then(|| {
                        let other = format!("another-merchant-{seq}");
                        (other.clone(), other, format!("FX{}", 90_000_000 + seq))
                    }),
                    last_trans_no: String::new(),
                    validations: 0,
                    redeem_calls: 0,
                    executions: 0,
                });
            voucher.last_trans_no = trans_no.to_owned();
            f(voucher)
        }))
    }
}

/// `GET /_orders`: every voucher seen, oldest first, PINs masked.
async fn list_orders(State(shared): State<Arc<Shared>>) -> Json<Value> {
    let mut all: Vec<Voucher> = shared.with_book(|b| b.vouchers.values().cloned().collect());
    all.sort_by_key(|v| v.seq);
    let list: Vec<Value> = all
        .iter()
        .map(|v| {
            json!({
                "pin": v.masked,
                "trans_no": v.used_by.as_ref().map(|u| u.1.clone()).unwrap_or(v.last_trans_no.clone()),
                "value": v.spec.value,
                "currency": v.spec.currency,
                "status": if v.used_by.is_some() { "USED" } else { "ACTIVE" },
                "validations": v.validations,
                "redeem_calls": v.redeem_calls,
                "executions": v.executions,
            })
        })
        .collect();
    Json(Value::Array(list))
}
