//! The demo merchant platform mounted beside the sandboxes (`/sandbox/mp/…`), so a fresh
//! `overture serve` works end to end with curl: it allows every user on verify-user, and
//! records the webhooks it receives (`GET /sandbox/mp/webhooks` lists them). Also: the demo
//! company created on first start, and company/PSP-account creation shared with the CLI.
//! Sandbox PSP accounts are opened over HTTP at the sandbox (`POST /sandbox/<psp>/_accounts`),
//! so each company gets its own credentials.

use crate::api::auth::issue_company_token;
use crate::workers::signing;
use anyhow::Context;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::{Json, Router};
use overture_core::store::Store;
use overture_core::*;
use rand::distributions::{Alphanumeric, DistString};
use rust_decimal::Decimal;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Webhooks received by the demo MP (newest last, at most 1000).
#[derive(Clone, Default)]
pub struct DemoMp {
    received: Arc<Mutex<Vec<Value>>>,
}

impl DemoMp {
    /// `/sandbox/mp/verify-user` (always allowed), `/sandbox/mp/webhook`, `/sandbox/mp/webhooks`.
    pub fn router(&self) -> Router {
        Router::new()
            .route(
                "/sandbox/mp/verify-user",
                post(|| async { Json(json!({ "allowed": true })) }),
            )
            .route("/sandbox/mp/webhook", post(receive))
            .route("/sandbox/mp/webhooks", get(list))
            .with_state(self.clone())
    }
}

async fn receive(State(mp): State<DemoMp>, headers: HeaderMap, body: String) -> &'static str {
    let header = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let entry = json!({
        "webhookId": header("webhook-id"),
        "webhookTimestamp": header("webhook-timestamp"),
        "webhookSignature": header("webhook-signature"),
        "body": serde_json::from_str::<Value>(&body).unwrap_or(Value::String(body)),
    });
    if let Ok(mut received) = mp.received.lock() {
        if received.len() >= 1000 {
            received.remove(0);
        }
        received.push(entry);
    }
    "OK"
}

async fn list(State(mp): State<DemoMp>) -> Json<Value> {
    let received = mp.received.lock().map(|r| r.clone()).unwrap_or_default();
    Json(json!({ "webhooks": received }))
}

/// A new random API secret (48 alphanumerics).
pub fn generate_api_secret() -> String {
    Alphanumeric.sample_string(&mut rand::thread_rng(), 48)
}

/// Settings of a new company.
pub struct NewCompany {
    pub name: String,
    pub webhook_url: String,
    pub verify_user_url: String,
    pub webhook_authorization: Option<String>,
    pub payout_approval_threshold: Option<Decimal>,
    pub verify_payins: bool,
}

/// Creates a company with fresh secrets; returns it (secrets included, for printing once).
pub async fn create_company(
    store: &dyn Store,
    new: NewCompany,
    now: i64,
) -> anyhow::Result<Company> {
    let company = Company {
        id: CompanyId::generate(),
        name: new.name,
        api_secret: SecretString::from(generate_api_secret()),
        webhook_url: new.webhook_url,
        webhook_secret: SecretString::from(signing::generate_secret()),
        webhook_authorization: new.webhook_authorization.map(SecretString::from),
        verify_user_url: new.verify_user_url,
        payout_approval_threshold: new.payout_approval_threshold,
        verify_payins: new.verify_payins,
        created_at: now,
        thresholds: Default::default(),
        retired: Default::default(),
    };
    store.insert_company(&company).await?;
    Ok(company)
}

/// A sandbox PSP account opened at a sandbox, not yet stored for a company.
pub struct SandboxAccount {
    pub psp_type: PspType,
    /// `<public base>/sandbox/<psp>`.
    pub base_url: String,
    pub credentials: Credentials,
}

/// Why a sandbox account could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    /// Stable code `SANDBOX_UNREACHABLE`.
    #[error("{psp} sandbox at {url} did not answer (is `overture sandbox` or `overture serve` running there?)")]
    Unreachable {
        psp: &'static str,
        url: String,
        #[source]
        source: reqwest::Error,
    },
    /// Stable code `SANDBOX_REFUSED`.
    #[error("{psp} sandbox at {url} answered HTTP {status} to the account request")]
    Refused {
        psp: &'static str,
        url: String,
        status: u16,
    },
    /// Stable code `SANDBOX_BAD_ANSWER`.
    #[error("{psp} sandbox at {url} answered without {{\"credentials\": {{name: value}}}}")]
    BadAnswer { psp: &'static str, url: String },
}

impl ProvisionError {
    /// Stable error code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unreachable { .. } => "SANDBOX_UNREACHABLE",
            Self::Refused { .. } => "SANDBOX_REFUSED",
            Self::BadAnswer { .. } => "SANDBOX_BAD_ANSWER",
        }
    }
}

/// How long one account request to a sandbox may take.
const PROVISION_TIMEOUT: Duration = Duration::from_secs(10);

/// Opens one account at every built-in sandbox, as signing up at each PSP would:
/// `POST <provision_base>/sandbox/<psp>/_accounts` answers `{"credentials": {…}}` with that
/// account's own credentials. The accounts' base URLs are `<public_base>/sandbox/<psp>` (the
/// two bases differ when the sandbox is reached locally but called back publicly).
pub async fn open_sandbox_accounts(
    public_base: &str,
    provision_base: &str,
) -> Result<Vec<SandboxAccount>, ProvisionError> {
    let mut out = Vec::new();
    for sim in overture_sandbox::all() {
        let path = format!("/sandbox/{}", sim.path());
        let at = format!("{}{path}", provision_base.trim_end_matches('/'));
        let credentials = open_sandbox_account(sim.psp_type(), &at).await?;
        out.push(SandboxAccount {
            psp_type: PspType(sim.psp_type().to_owned()),
            base_url: format!("{}{path}", public_base.trim_end_matches('/')),
            credentials,
        });
    }
    Ok(out)
}

/// Opens one account at the `psp` sandbox served at `base_url` (`…/sandbox/<psp>`):
/// `POST <base_url>/_accounts`, answering the account's own credentials.
pub async fn open_sandbox_account(
    psp: &'static str,
    base_url: &str,
) -> Result<Credentials, ProvisionError> {
    let url = format!("{}/_accounts", base_url.trim_end_matches('/'));
    let unreachable = |source| ProvisionError::Unreachable {
        psp,
        url: url.clone(),
        source,
    };
    let response = reqwest::Client::new()
        .post(&url)
        .timeout(PROVISION_TIMEOUT)
        .send()
        .await
        .map_err(unreachable)?;
    let status = response.status();
    if !status.is_success() {
        return Err(ProvisionError::Refused {
            psp,
            url,
            status: status.as_u16(),
        });
    }
    let body: Value = response.json().await.map_err(unreachable)?;
    credentials_of(&body).ok_or(ProvisionError::BadAnswer { psp, url })
}

/// The `credentials` object of an `/_accounts` answer: non-empty, string values only.
fn credentials_of(body: &Value) -> Option<Credentials> {
    let map = body.get("credentials")?.as_object()?;
    if map.is_empty() {
        return None;
    }
    map.iter()
        .map(|(name, value)| {
            let value = value.as_str()?;
            Some((name.clone(), SecretString::from(value.to_owned())))
        })
        .collect::<Option<_>>()
        .map(Credentials)
}

/// Stores `accounts` as PSP accounts of `company` (credentials sealed at rest by the store).
pub async fn store_sandbox_accounts(
    store: &dyn Store,
    company: &CompanyId,
    accounts: Vec<SandboxAccount>,
    now: i64,
) -> anyhow::Result<Vec<PspAccount>> {
    let mut out = Vec::new();
    for opened in accounts {
        let account = PspAccount {
            id: PspAccountId::generate(),
            company_id: company.clone(),
            psp_type: opened.psp_type,
            base_url: opened.base_url,
            credentials: opened.credentials,
            enabled: true,
            priority: 0,
            limits: Default::default(),
            created_at: now,
            deleted_at: None,
        };
        store.insert_psp_account(&account).await?;
        out.push(account);
    }
    Ok(out)
}

/// Opens an account at every built-in sandbox (see [`open_sandbox_accounts`]) and stores them
/// for `company`.
pub async fn add_sandbox_accounts(
    store: &dyn Store,
    company: &CompanyId,
    public_base: &str,
    provision_base: &str,
    now: i64,
) -> anyhow::Result<Vec<PspAccount>> {
    let accounts = open_sandbox_accounts(public_base, provision_base).await?;
    store_sandbox_accounts(store, company, accounts, now).await
}

/// The JSON printed for a new company: `{"companyId","apiSecret","webhookSecret"}`.
pub fn company_secrets_json(company: &Company) -> Value {
    json!({
        "companyId": company.id,
        "apiSecret": company.api_secret.expose_secret(),
        "webhookSecret": company.webhook_secret.expose_secret(),
    })
}

/// On first start with an empty database: a demo company wired to the demo MP and the
/// sandboxes, whose accounts are opened through `local_url` (the sandboxes this process
/// serves; stored base URLs use `public_url`). Prints its id, secrets and a 30-day company
/// JWT to stdout as one JSON line, `{"companyId","apiSecret","webhookSecret","companyJwt",
/// "note"}`, and writes the same line to `file` when given (mode 0600, replacing an older
/// file). Errors: a sandbox that does not answer, the store, or `file` not writable (the line
/// was printed before).
pub async fn seed_demo(
    store: &dyn Store,
    public_url: &str,
    local_url: &str,
    file: Option<&Path>,
    now: i64,
) -> anyhow::Result<()> {
    if store.count_companies().await? > 0 {
        return Ok(());
    }
    let base = public_url.trim_end_matches('/');
    // Opened first: when a sandbox does not answer, no company without accounts is left.
    let accounts = open_sandbox_accounts(base, local_url).await?;
    let company = create_company(
        store,
        NewCompany {
            name: "Demo Merchant".into(),
            webhook_url: format!("{base}/sandbox/mp/webhook"),
            verify_user_url: format!("{base}/sandbox/mp/verify-user"),
            webhook_authorization: None,
            payout_approval_threshold: Some(Decimal::from(1000)),
            verify_payins: false,
        },
        now,
    )
    .await?;
    store_sandbox_accounts(store, &company.id, accounts, now).await?;
    let token = issue_company_token(
        &company.id,
        &company.api_secret,
        (now / 1000) as u64,
        30 * 24 * 3600,
    );
    let mut out = company_secrets_json(&company);
    out["companyJwt"] = Value::String(token);
    out["note"] = Value::String(
        "demo company created on first start; payouts of 1000 or more wait for approval".into(),
    );
    println!("{out}");
    if let Some(path) = file {
        write_demo_file(path, &format!("{out}\n"))
            .with_context(|| format!("writing the demo company to {}", path.display()))?;
    }
    Ok(())
}

/// Writes `line` to `path` (mode 0600), creating its directory and replacing an older file.
fn write_demo_file(path: &Path, line: &str) -> anyhow::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e.into()),
    }
    crate::serve::write_private(path, line)
}
