//! Shared connector ⇄ sandbox test kit: serves a simulator over real HTTP on 127.0.0.1, nested
//! at `/sandbox/<psp>` like `overture serve` mounts it (with a random seed unless the test
//! gives one), opens the PSP account through the simulator's `POST /_accounts`, and runs a
//! callback receiver that feeds every callback into the connector's `parse_callback` for that
//! account, records what it returned and answers with the connector's `callback_ack` (as the
//! server does). PSP-specific request builders and assertions stay in each PSP's `tests.rs`.

use crate::{SandboxSeed, SimConfig, Simulator};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, on, MethodFilter};
use axum::Router;
use overture_core::connector::{
    AccountContext, CallbackOutcome, CallbackRequest, Connector, ConnectorError, OrderRef,
    PaymentRequest, PspUpdate,
};
use overture_core::{Credentials, PspAccountId};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What `parse_callback` returned for one callback.
pub(crate) type Outcome = Result<CallbackOutcome, ConnectorError>;

/// Turns one accepted callback and its outcome into what a test keeps of it.
pub(crate) type Record<H> = fn(&CallbackRequest, Outcome) -> H;

/// The callback receiver's state.
pub(crate) struct Receiver<C, H> {
    connector: Arc<C>,
    account: AccountContext,
    /// One record per accepted callback, in arrival order.
    pub(crate) hooks: Mutex<Vec<H>>,
    /// Answer this many callbacks with the refusal status before accepting.
    pub(crate) fail_next: AtomicU32,
    /// Every callback that reached the receiver, refused ones included.
    pub(crate) hits: AtomicUsize,
    refuse_with: StatusCode,
    record: Record<H>,
}

/// A running simulator, its connector and the callback receiver.
pub(crate) struct Harness<C, H> {
    pub(crate) connector: Arc<C>,
    pub(crate) account: AccountContext,
    /// The simulator's base URL (`http://127.0.0.1:<port>/sandbox/<psp>`).
    pub(crate) base: String,
    pub(crate) rx: Arc<Receiver<C, H>>,
    /// A browser-like client for hosted pages and the simulator's `/_orders`.
    pub(crate) web: reqwest::Client,
    /// The seed the simulator serves: another simulator with it knows the same accounts.
    pub(crate) seed: SandboxSeed,
}

/// How [`start`] sets up the harness; [`Setup::new`] gives the common defaults.
pub(crate) struct Setup<H> {
    record: Record<H>,
    refuse_with: StatusCode,
    /// `None` accepts callbacks with any method.
    methods: Option<MethodFilter>,
    wrap: Box<dyn FnOnce(Router) -> Router>,
    follow_redirects: bool,
    seed: Option<SandboxSeed>,
}

impl<H> Setup<H> {
    /// POST callbacks only, refusals answered 500, a client that does not follow redirects.
    pub(crate) fn new(record: Record<H>) -> Self {
        Self {
            record,
            refuse_with: StatusCode::INTERNAL_SERVER_ERROR,
            methods: Some(MethodFilter::POST),
            wrap: Box::new(|router| router),
            follow_redirects: false,
            seed: None,
        }
    }

    /// Serve with `seed` (as a sandbox restarted with the same seed) instead of a random one.
    pub(crate) fn seed(mut self, seed: SandboxSeed) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Answer refused callbacks (see [`Receiver::fail_next`]) with `status`.
    pub(crate) fn refuse_with(mut self, status: StatusCode) -> Self {
        self.refuse_with = status;
        self
    }

    /// Accept callbacks with any HTTP method.
    pub(crate) fn any_method(mut self) -> Self {
        self.methods = None;
        self
    }

    /// Wraps the router serving the simulator (e.g. with a middleware layer).
    pub(crate) fn wrap(mut self, wrap: impl FnOnce(Router) -> Router + 'static) -> Self {
        self.wrap = Box::new(wrap);
        self
    }

    /// Let the web client follow redirects.
    pub(crate) fn follow_redirects(mut self) -> Self {
        self.follow_redirects = true;
        self
    }
}

/// Keeps only the outcome of a callback.
pub(crate) fn outcome_only(_: &CallbackRequest, outcome: Outcome) -> Outcome {
    outcome
}

/// Opens an account at the simulator served at `base` through its `POST /_accounts`, as an
/// operator signing up at the PSP would; its callbacks go to `callback_url`.
pub(crate) async fn open_account(
    web: &reqwest::Client,
    base: &str,
    callback_url: &str,
) -> AccountContext {
    let response = web.post(format!("{base}/_accounts")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::CREATED, "opening an account");
    let body: Value = response.json().await.unwrap();
    let creds: BTreeMap<String, SecretString> = body["credentials"]
        .as_object()
        .expect("{\"credentials\": {…}}")
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                SecretString::from(v.as_str().unwrap().to_owned()),
            )
        })
        .collect();
    AccountContext {
        account_id: PspAccountId::generate(),
        base_url: base.to_owned(),
        credentials: Credentials(creds),
        callback_url: callback_url.to_owned(),
    }
}

/// `account` pointed at the simulator served at `base` (e.g. a restarted sandbox).
pub(crate) fn rebase(account: &AccountContext, base: &str) -> AccountContext {
    AccountContext {
        base_url: base.to_owned(),
        ..account.clone()
    }
}

async fn receive<C: Connector, H: Send + 'static>(
    State(rx): State<Arc<Receiver<C, H>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    rx.hits.fetch_add(1, Ordering::SeqCst);
    if rx
        .fail_next
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
    {
        return rx.refuse_with.into_response();
    }
    let request = CallbackRequest {
        method: method.to_string(),
        query: uri.query().unwrap_or_default().to_owned(),
        headers: headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_ascii_lowercase(),
                    v.to_str().unwrap_or("").to_owned(),
                )
            })
            .collect(),
        body: body.to_vec(),
    };
    let outcome = rx.connector.parse_callback(&rx.account, &request);
    // Answered as the server answers an accepted callback: the PSP's acknowledgement.
    let ack = rx.connector.callback_ack(&request);
    let hook = (rx.record)(&request, outcome);
    rx.hooks.lock().unwrap().push(hook);
    (StatusCode::OK, [(CONTENT_TYPE, ack.content_type)], ack.body).into_response()
}

/// Serves `sim` and a callback receiver on 127.0.0.1, opens an account at `sim`, and points
/// `connector` at them.
pub(crate) async fn start<S: Simulator, C: Connector, H: Send + 'static>(
    sim: S,
    connector: C,
    setup: Setup<H>,
) -> Harness<C, H> {
    let connector = Arc::new(connector);
    let hook_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    // The sandbox's base URL must be known before its router is built: bind first.
    let sandbox_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let path = format!("/sandbox/{}", sim.path());
    let base = format!("http://{}{path}", sandbox_listener.local_addr().unwrap());
    let callback_url = format!("http://{}/hook", hook_listener.local_addr().unwrap());
    let seed = setup.seed.unwrap_or_else(SandboxSeed::random);
    let config = SimConfig {
        base_url: base.clone(),
        processing_delay: Duration::from_millis(50),
        callback_retries: vec![Duration::from_millis(20), Duration::from_millis(20)],
        seed: seed.clone(),
        ..SimConfig::default()
    };
    // Nested like `overture serve` mounts it, so relative routes and base_url are exercised.
    let app = (setup.wrap)(Router::new().nest(&path, crate::mount(Arc::new(sim), config)));
    tokio::spawn(async move { axum::serve(sandbox_listener, app).await });
    let web = if setup.follow_redirects {
        reqwest::Client::new()
    } else {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
    };
    let account = open_account(&web, &base, &callback_url).await;
    let rx = Arc::new(Receiver {
        connector: Arc::clone(&connector),
        account: account.clone(),
        hooks: Mutex::new(Vec::new()),
        fail_next: AtomicU32::new(0),
        hits: AtomicUsize::new(0),
        refuse_with: setup.refuse_with,
        record: setup.record,
    });
    let route = match setup.methods {
        Some(methods) => on(methods, receive::<C, H>),
        None => any(receive::<C, H>),
    };
    let hook_app = Router::new()
        .route("/hook", route)
        .with_state(Arc::clone(&rx));
    tokio::spawn(async move { axum::serve(hook_listener, hook_app).await });
    Harness {
        connector,
        account,
        base,
        rx,
        web,
        seed,
    }
}

/// What Overture would persist after `update` (nothing when `None`).
pub(crate) fn order_ref(req: &PaymentRequest, update: Option<&PspUpdate>) -> OrderRef {
    OrderRef {
        order_id: req.order_id.clone(),
        txn_type: req.txn_type,
        amount: req.amount,
        psp_transaction_id: update.and_then(|u| u.psp_transaction_id.clone()),
        stage: update.and_then(|u| u.stage.clone()),
        extras: req.extras.clone(),
    }
}

impl<C, H> Harness<C, H> {
    /// A second account at the same simulator (its callbacks go to the same receiver, which
    /// checks them with the first account's credentials).
    pub(crate) async fn other_account(&self) -> AccountContext {
        open_account(&self.web, &self.base, &self.account.callback_url).await
    }

    /// The harness's account with `overrides` replacing or adding single credentials.
    pub(crate) fn account_with(&self, overrides: &[(&str, &str)]) -> AccountContext {
        let mut account = self.account.clone();
        for (k, v) in overrides {
            account
                .credentials
                .0
                .insert((*k).to_owned(), SecretString::from(*v));
        }
        account
    }

    /// The value of the harness account's credential `name`.
    pub(crate) fn credential(&self, name: &str) -> String {
        self.account.credentials.0[name].expose_secret().to_owned()
    }

    /// Every order the simulator holds (its `/_orders`).
    pub(crate) async fn orders(&self) -> Vec<Value> {
        let url = format!("{}/_orders", self.base);
        let list: Value = self
            .web
            .get(url)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        list.as_array().unwrap().clone()
    }

    /// The one order whose `field` is `id`; asserts there is exactly one (else fails with
    /// `message`).
    pub(crate) async fn only_order(&self, field: &str, id: &str, message: &str) -> Value {
        let all = self.orders().await;
        let mine: Vec<&Value> = all.iter().filter(|o| o[field] == id).collect();
        assert_eq!(mine.len(), 1, "{message}");
        mine[0].clone()
    }

    /// Waits until at least `n` recorded callbacks are picked by `pick` (or ~2 s), returns what
    /// it picked, or nothing when they never arrived.
    pub(crate) async fn wait_hooks<T>(&self, n: usize, pick: impl Fn(&H) -> Option<T>) -> Vec<T> {
        for _ in 0..100 {
            let hooks: Vec<T> = self
                .rx
                .hooks
                .lock()
                .unwrap()
                .iter()
                .filter_map(&pick)
                .collect();
            if hooks.len() >= n {
                return hooks;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Vec::new()
    }

    /// Waits until `n` callbacks were recorded (at most `tries` × 10 ms), then `linger` longer
    /// so extra ones would show; returns every recorded callback.
    pub(crate) async fn settled_hooks(&self, n: usize, tries: u32, linger: Duration) -> Vec<H>
    where
        H: Clone,
    {
        for _ in 0..tries {
            if self.rx.hooks.lock().unwrap().len() >= n {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        tokio::time::sleep(linger).await;
        self.rx.hooks.lock().unwrap().clone()
    }
}
