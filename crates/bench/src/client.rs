//! The Cashier API client the load generators share, and the request bodies they send.

use crate::Target;
use jsonwebtoken::{encode, EncodingKey, Header};
use serde_json::{json, Value};
use std::time::{SystemTime, UNIX_EPOCH};

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Signed headers reused for every request (a client signs its tokens once).
#[derive(Clone)]
pub struct Client {
    pub http: reqwest::Client,
    /// The server's base URL, without a trailing `/`.
    pub url: String,
    company_jwt: String,
    user_jwt: String,
}

impl Client {
    /// Signs a company JWT and a user JWT (user `bench-user`), valid for a day.
    pub fn new(target: &Target) -> anyhow::Result<Self> {
        let key = EncodingKey::from_secret(target.api_secret.as_bytes());
        let company_jwt = encode(
            &Header::default(),
            &json!({ "sub": target.company_id, "exp": now_secs() + 86_400 }),
            &key,
        )?;
        let user_jwt = encode(
            &Header::default(),
            &json!({ "userId": "bench-user", "email": "bench@example.com", "firstName": "B", "lastName": "M",
                     "phone": "4165550123", "countryCode": "DE", "exp": now_secs() + 86_400 }),
            &key,
        )?;
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(1024)
            .build()?;
        Ok(Self {
            http,
            url: target.url.trim_end_matches('/').to_owned(),
            company_jwt,
            user_jwt,
        })
    }

    /// POSTs one Cashier request; returns the transaction id on a 2xx.
    pub async fn cashier(&self, body: &Value) -> Result<String, String> {
        let resp = self
            .http
            .post(format!("{}/v1/api/mozarto/cashier", self.url))
            .bearer_auth(&self.company_jwt)
            .header("x-user-token", format!("Bearer {}", self.user_jwt))
            .json(body)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = resp.status();
        let v: Value = resp.json().await.map_err(|e| e.to_string())?;
        if !status.is_success() {
            return Err(format!("{status} {}", v["errorCode"]));
        }
        v["data"]["transactionId"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| "no transactionId".into())
    }

    /// `GET /v1/api/mozarto/transactions/{id}` with the company JWT; `Ok` on a 2xx whose
    /// envelope says `isSuccess`, else the status and error code.
    pub async fn status(&self, id: &str) -> Result<(), String> {
        let resp = self
            .http
            .get(format!("{}/v1/api/mozarto/transactions/{id}", self.url))
            .bearer_auth(&self.company_jwt)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = resp.status();
        let v: Value = resp.json().await.map_err(|e| e.to_string())?;
        if !status.is_success() || v["isSuccess"] != json!(true) {
            return Err(format!("{status} {}", v["errorCode"]));
        }
        Ok(())
    }
}

/// A pay-in of 10.00 EUR at `psp` (FORUMPAY pay-ins stay pending until the hosted page is used).
pub fn payin_body(psp: &str) -> Value {
    json!({"pspType": psp, "type": "PAYIN", "baseamount": 10.00, "currency": "EUR", "userId": "bench-user",
           "email": "bench@example.com", "country": "DE", "preferredCrypto": "BTC"})
}

/// A PAYMENTSOFT payout; `amount` in major units (`"10.53"`), its cents choose the sandbox outcome.
pub fn payout_body(amount: &str) -> Value {
    let amount: Value = serde_json::from_str(amount).unwrap_or(json!(10.00));
    json!({"pspType": "PAYMENTSOFT", "type": "PAYOUT", "baseamount": amount, "currency": "EUR",
           "userId": "bench-user", "email": "bench@example.com", "country": "DE"})
}
