//! The demo merchant platform mounted beside the sandboxes (`/sandbox/mp/…`), so a fresh
//! `overture serve` works end to end with curl: it allows every user on verify-user, and
//! records the webhooks it receives (`GET /sandbox/mp/webhooks` lists them). Also: the demo
//! company created on first start, and company/PSP-account creation shared with the CLI.

use crate::api::auth::issue_company_token;
use crate::workers::signing;
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
use std::sync::{Arc, Mutex};

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
    };
    store.insert_company(&company).await?;
    Ok(company)
}

/// Adds one PSP account per built-in sandbox, pointing at `sandbox_base` (the URL under which
/// `/sandbox/<psp>` is served) with the sandbox's credentials.
pub async fn add_sandbox_accounts(
    store: &dyn Store,
    company: &CompanyId,
    sandbox_base: &str,
    now: i64,
) -> anyhow::Result<Vec<PspAccount>> {
    let mut out = Vec::new();
    for sim in overture_sandbox::all() {
        let account = PspAccount {
            id: PspAccountId::generate(),
            company_id: company.clone(),
            psp_type: PspType(sim.psp_type().to_owned()),
            base_url: format!(
                "{}/sandbox/{}",
                sandbox_base.trim_end_matches('/'),
                sim.path()
            ),
            credentials: Credentials(
                sim.credentials()
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), SecretString::from(v)))
                    .collect(),
            ),
            enabled: true,
            priority: 0,
            created_at: now,
        };
        store.insert_psp_account(&account).await?;
        out.push(account);
    }
    Ok(out)
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
/// sandboxes. Prints its id, secrets and a 30-day company JWT to stdout.
pub async fn seed_demo(store: &dyn Store, public_url: &str, now: i64) -> anyhow::Result<()> {
    if store.count_companies().await? > 0 {
        return Ok(());
    }
    let base = public_url.trim_end_matches('/');
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
    add_sandbox_accounts(store, &company.id, base, now).await?;
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
    Ok(())
}
