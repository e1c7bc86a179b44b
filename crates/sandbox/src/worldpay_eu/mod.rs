//! WORLDPAY_EU simulator: Worldpay's WPG XML gateway (`paymentService` v1.4) with Hosted
//! Payment Pages, as `overture_connectors::worldpay_eu::wire` documents it (sources and
//! inferred details there).
//!
//! Routes, relative to the simulator's base URL (`/sandbox/worldpay_eu` in `overture serve`):
//! - `POST /jsp/merchant/xml/paymentService.jsp`: the XML gateway, HTTP Basic auth
//!   (`xml_username:xml_password`, 401 otherwise; a merchant code in the envelope other than the
//!   authenticated one is `<error code="4">`). `<submit>` an HPP order ⇒ `<reference>` page URL;
//!   `<inquiry><orderInquiry>` ⇒ the payment's `lastEvent` (unknown order: `<error code="5">`;
//!   no payment yet: an `orderStatus` with `<error code="5">`).
//! - `GET /hpp?OrderKey=…&Ticket=…[&successURL=……]`: the Hosted Payment Page; `POST` to the same
//!   URL with `outcome=approve|decline` pays or refuses, then redirects (303) to the result URL
//!   for the outcome with `orderKey`, `paymentStatus`, `paymentAmount`, `paymentCurrency` and
//!   `mac2` (HMAC-SHA256 with the account's MAC secret), as Worldpay does.
//! - `POST /_merchant_channel` (Basic auth, form `address=<URL>`): stands in for the MAI
//!   Merchant Channel page where a merchant enters the address of its XML order notifications;
//!   not Worldpay's API. Without an address no notification is sent (as at Worldpay).
//! - `GET /_orders`: JSON inspection; `POST /_accounts`: opens an account; not Worldpay's.
//!
//! Order notifications (`<notify><orderStatusEvent>`, unsigned) are posted to the merchant
//! channel address when a payment becomes AUTHORISED, REFUSED or ERROR, and resent after each
//! `config.callback_retries` delay until answered HTTP 200 with a body containing `[OK]`.
//!
//! Outcomes follow the amount's cents ([`crate::Scenario`]) once the page is approved: `.51`
//! REFUSED (ISO 8583 51), `.52` ERROR, `.53` stays SENT_FOR_AUTHORISATION, `.54` HTTP 500 on submit
//! (nothing created), `.55` AUTHORISED without notification, `.56` notification twice, `.57` a
//! notification claiming REFUSED and a redirect with a wrong `mac2` (the inquiry says
//! AUTHORISED). A declined page is REFUSED (ISO 8583 5).
//!
//! Accounts (`POST /_accounts`, see [`crate::keyring`]): a random merchant code (`OVT` + 12
//! letters and digits, also the `xml_username`); `xml_password` and `mac_secret` derived from the
//! seed (`worldpay_eu/<name>/<merchant code>`), `installation_id` seven digits derived the same
//! way. **Default test account** (constant, for outside clients): merchant code and XML user
//! [`DEFAULT_MERCHANT_CODE`], password [`DEFAULT_XML_PASSWORD`], installation
//! [`DEFAULT_INSTALLATION_ID`], MAC secret [`DEFAULT_MAC_SECRET`].

mod api;
mod notify;
mod page;
#[cfg(test)]
mod tests;

use crate::keyring::{self, SandboxSeed};
use crate::{NewAccount, Scenario, SimConfig, Simulator};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use base64::Engine;
use overture_connectors::worldpay_eu::wire;
use overture_core::Money;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// This simulator's name in key derivations.
pub const KEYRING_NAME: &str = "worldpay_eu";
/// The default test account's merchant code and XML user name.
pub const DEFAULT_MERCHANT_CODE: &str = "OVERTUREDEMO";
/// The default test account's XML password.
pub const DEFAULT_XML_PASSWORD: &str = "overture-demo-xml-password";
/// The default test account's HPP installation id.
pub const DEFAULT_INSTALLATION_ID: &str = "1000001";
/// The default test account's MAC secret.
pub const DEFAULT_MAC_SECRET: &str = "overture-demo-mac-secret";

/// The WORLDPAY_EU simulator.
pub struct WorldpayEuSandbox;

impl Simulator for WorldpayEuSandbox {
    fn psp_type(&self) -> &'static str {
        "WORLDPAY_EU"
    }

    fn create_account(&self, seed: &SandboxSeed) -> NewAccount {
        let code = format!(
            "OVT{}",
            keyring::random_alphanumeric(12).to_ascii_uppercase()
        );
        let secrets = AccountSecrets::of(seed, &code);
        NewAccount::new(vec![
            ("merchant_code", code.clone()),
            ("installation_id", secrets.installation_id),
            ("xml_username", code.clone()),
            (
                "xml_password",
                seed.derive(KEYRING_NAME, "xml_password", &code),
            ),
            ("mac_secret", secrets.mac_secret),
        ])
    }

    fn router(&self, config: SimConfig) -> Router {
        let shared = Arc::new(Shared {
            config,
            book: Mutex::new(Book::default()),
            client: reqwest::Client::new(),
        });
        Router::new()
            .route(wire::PATH, post(api::payment_service))
            .route("/hpp", get(page::show).post(page::complete))
            .route("/_merchant_channel", post(merchant_channel))
            .route("/_orders", get(list_orders))
            .with_state(shared)
    }
}

/// An account's non-login secrets.
pub(crate) struct AccountSecrets {
    pub installation_id: String,
    pub mac_secret: String,
}

impl AccountSecrets {
    /// The secrets of merchant `code` (the default account's constants, else derived).
    pub(crate) fn of(seed: &SandboxSeed, code: &str) -> Self {
        if code == DEFAULT_MERCHANT_CODE {
            return Self {
                installation_id: DEFAULT_INSTALLATION_ID.into(),
                mac_secret: DEFAULT_MAC_SECRET.into(),
            };
        }
        let digits = seed.derive_short(KEYRING_NAME, "installation_id", code, 12);
        let number = u64::from_str_radix(&digits, 16).unwrap_or(0) % 9_000_000 + 1_000_000;
        Self {
            installation_id: number.to_string(),
            mac_secret: seed.derive(KEYRING_NAME, "mac_secret", code),
        }
    }
}

/// The merchant code of `Authorization: Basic <code>:<password>` when the password is that
/// code's; `None` otherwise.
pub(crate) fn authenticate(seed: &SandboxSeed, headers: &HeaderMap) -> Option<String> {
    let value = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let encoded = value.strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    let ok = if user == DEFAULT_MERCHANT_CODE {
        password == DEFAULT_XML_PASSWORD
    } else {
        !user.is_empty() && seed.verify(KEYRING_NAME, "xml_password", user, password)
    };
    ok.then(|| user.to_owned())
}

/// One HPP order at the simulated gateway.
#[derive(Clone, Debug)]
pub(crate) struct Order {
    pub seq: u64,
    pub merchant_code: String,
    pub order_code: String,
    /// `reference/@id`.
    pub reference_id: String,
    /// The page's ticket (its key in page URLs).
    pub ticket: String,
    pub amount: Money,
    pub scenario: Scenario,
    /// `None` until the shopper acted on the page.
    pub last_event: Option<&'static str>,
    /// ISO 8583 code and text of a refusal.
    pub return_code: Option<(&'static str, &'static str)>,
    /// Times money moved (an authorisation); must stay ≤ 1.
    pub executions: u32,
    pub notify_attempts: u32,
    /// Notifications answered 200 with `[OK]`.
    pub notifications_acked: u32,
    pub inquiries: u32,
}

impl Order {
    /// `orderKey` as Worldpay writes it (empty admin code).
    pub(crate) fn order_key(&self) -> String {
        format!("^{}^{}", self.merchant_code, self.order_code)
    }

    /// The `<payment>` of an inquiry or a notification, when there is one.
    pub(crate) fn payment(&self, last_event: &str) -> wire::Payment {
        let mut amount = wire::Amount::of(&self.amount);
        amount.debit_credit_indicator = Some("credit".into());
        wire::Payment {
            payment_method: Some("VISA-SSL".into()),
            amount: Some(amount),
            last_event: last_event.to_owned(),
            return_code: self.return_code.map(|(code, text)| wire::ReturnCode {
                code: code.into(),
                description: text.into(),
            }),
        }
    }
}

/// State shared by the handlers and background tasks of one simulator instance.
pub(crate) struct Shared {
    pub config: SimConfig,
    book: Mutex<Book>,
    /// Client for notifications.
    pub client: reqwest::Client,
}

#[derive(Default)]
struct Book {
    /// By (merchant code, order code).
    orders: HashMap<(String, String), Order>,
    /// Ticket → (merchant code, order code).
    by_ticket: HashMap<String, (String, String)>,
    /// Merchant code → notification address (the MAI Merchant Channel).
    channels: HashMap<String, String>,
    next_seq: u64,
}

/// (merchant code, order code).
pub(crate) type Key = (String, String);

impl Shared {
    fn with_book<R>(&self, f: impl FnOnce(&mut Book) -> R) -> R {
        let mut guard = self.book.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut guard)
    }

    /// Stores a new order unless its merchant used the order code already (`false`).
    pub(crate) fn insert(&self, mut order: Order) -> Option<Order> {
        self.with_book(|book| {
            let key = (order.merchant_code.clone(), order.order_code.clone());
            if book.orders.contains_key(&key) {
                return None;
            }
            book.next_seq += 1;
            order.seq = book.next_seq;
            book.by_ticket.insert(order.ticket.clone(), key.clone());
            book.orders.insert(key, order.clone());
            Some(order)
        })
    }

    /// Applies `f` to the order `key`; `None` if unknown.
    pub(crate) fn update<R>(&self, key: &Key, f: impl FnOnce(&mut Order) -> R) -> Option<R> {
        self.with_book(|book| book.orders.get_mut(key).map(f))
    }

    /// The key of the order whose page has `ticket`.
    pub(crate) fn by_ticket(&self, ticket: &str) -> Option<Key> {
        self.with_book(|book| book.by_ticket.get(ticket).cloned())
    }

    /// The notification address of `merchant_code`, if one was set.
    pub(crate) fn channel(&self, merchant_code: &str) -> Option<String> {
        self.with_book(|book| book.channels.get(merchant_code).cloned())
    }

    /// `{base}/hpp?OrderKey=…&Ticket=…`.
    pub(crate) fn page_url(&self, order: &Order) -> String {
        format!(
            "{}/hpp?OrderKey={}&Ticket={}",
            self.config.base_url.trim_end_matches('/'),
            urlencoding::encode(&format!("{}^{}", order.merchant_code, order.order_code)),
            order.ticket
        )
    }
}

/// `POST /_merchant_channel`: sets the merchant's notification address (MAI stand-in).
async fn merchant_channel(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let Some(merchant) = authenticate(&shared.config.seed, &headers) else {
        return (StatusCode::UNAUTHORIZED, "authentication error").into_response();
    };
    let Some(address) = form
        .get("address")
        .filter(|a| reqwest::Url::parse(a).is_ok_and(|u| u.scheme().starts_with("http")))
    else {
        return (StatusCode::BAD_REQUEST, "address: an absolute http(s) URL").into_response();
    };
    shared.with_book(|book| book.channels.insert(merchant, address.clone()));
    StatusCode::NO_CONTENT.into_response()
}

/// `GET /_orders`: every order, oldest first.
async fn list_orders(State(shared): State<Arc<Shared>>) -> Json<Value> {
    let mut orders: Vec<Order> = shared.with_book(|b| b.orders.values().cloned().collect());
    orders.sort_by_key(|o| o.seq);
    let list = orders
        .iter()
        .map(|o| {
            json!({
                "merchant_code": o.merchant_code,
                "order_code": o.order_code,
                "reference_id": o.reference_id,
                "amount": o.amount.to_major_string(),
                "currency": o.amount.currency().code(),
                "last_event": o.last_event,
                "executions": o.executions,
                "notify_attempts": o.notify_attempts,
                "notifications_acked": o.notifications_acked,
                "inquiries": o.inquiries,
            })
        })
        .collect();
    Json(Value::Array(list))
}
