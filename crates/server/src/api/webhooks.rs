//! The merchant's webhook deliveries (company JWT; another company's delivery is a 404):
//! - `GET /v1/api/webhooks?state=pending|delivered|dead&limit&cursor`: newest first, each with
//!   its attempts: `data: {"items": [{"webhookId","transactionId","state","attempts",
//!   "nextAttemptAt","lastHttpStatus","lastError","createdAt","deliveredAt","payload",
//!   "attemptLog":[{"attempt","at","httpStatus","latencyMs","responseExcerpt"}]}],
//!   "nextCursor"}`;
//! - `POST /v1/api/webhooks/{id}/redeliver`: a dead or pending delivery is sent again at once
//!   under the same `webhook-id` and payload (409 `INVALID_STATE` once delivered or while an
//!   attempt is under way);
//! - `POST /v1/api/webhooks/test`: one signed test event to the configured webhook URL through
//!   the guarded client (no redirects), stored nowhere: `data: {"webhookId","ok","httpStatus",
//!   "latencyMs","responseExcerpt","error"?}`.

use crate::api::auth::CompanyAuth;
use crate::api::cursor;
use crate::api::error::{success, ApiError};
use crate::api::openapi::manage_schemas::{WebhookDeliveryView, WebhookPage, WebhookTest};
use crate::api::openapi::schemas::{DeliveryState as DeliveryStateDoc, Envelope, ErrorEnvelope};
use crate::app::App;
use crate::service::views::rfc3339;
use crate::workers::signing;
use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use overture_core::manage::DeliveryList;
use overture_core::store::StoreError;
use overture_core::{Company, DeliveryState, WebhookDelivery, WebhookId};
use overture_outbound::SendError;
use secrecy::ExposeSecret;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::Instant;

/// Characters of the receiver's answer shown by the test.
const EXCERPT_CHARS: usize = 512;
const SCOPE: &str = "whk-desc";

pub fn router() -> Router<App> {
    Router::new()
        .route("/v1/api/webhooks", get(list))
        .route("/v1/api/webhooks/test", post(test))
        .route("/v1/api/webhooks/{id}/redeliver", post(redeliver))
}

/// The company's webhook deliveries, newest first, each with its attempts.
#[utoipa::path(get, path = "/v1/api/webhooks", tag = "Transactions", operation_id = "listWebhooks",
    security(("companyJwt" = [])),
    params(
        ("state" = Option<DeliveryStateDoc>, Query, description = "`pending`, `delivered` or `dead`"),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 500, description = "Page size (default 50)"),
        ("cursor" = Option<String>, Query, description = "The previous page's `nextCursor`"),
    ),
    responses(
        (status = 200, description = "One page", body = Envelope<WebhookPage>,
            example = json!({"status": "success", "message": "Successfully", "isSuccess": true, "data": {"items": [
                {"webhookId": "msg_01jfxq8b0000000000000000aa", "transactionId": "txn_01jfxq6d3ab5c0e5n2x7v8w9yz",
                 "state": "delivered", "attempts": 1, "nextAttemptAt": null, "lastHttpStatus": 200, "lastError": null,
                 "createdAt": "2026-12-03T10:00:02.512Z", "deliveredAt": "2026-12-03T10:00:02.600Z", "payload": null,
                 "attemptLog": [{"attempt": 1, "at": "2026-12-03T10:00:02.600Z", "httpStatus": 200, "latencyMs": 12, "responseExcerpt": "ok"}]}],
                "nextCursor": null}})),
    ))]
pub(crate) async fn list(
    State(app): State<App>,
    CompanyAuth(company): CompanyAuth,
    Query(q): Query<BTreeMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    if let Some(unknown) = q
        .keys()
        .find(|k| !["state", "limit", "cursor"].contains(&k.as_str()))
    {
        return Err(ApiError::field(unknown, "unknown filter"));
    }
    let state = q
        .get("state")
        .map(|s| {
            DeliveryState::parse(s)
                .ok_or_else(|| ApiError::field("state", "pending, delivered or dead"))
        })
        .transpose()?;
    let query = DeliveryList {
        company_id: Some(company.id.clone()),
        state,
        after: q
            .get("cursor")
            .map(|c| cursor::decode(SCOPE, c))
            .transpose()?,
        limit: cursor::limit(q.get("limit"))?,
    };
    let page = app.store.list_deliveries(&query).await?;
    let mut items = Vec::with_capacity(page.items.len());
    for d in &page.items {
        let attempts = app.store.webhook_attempts(&d.id).await?;
        let mut item = delivery_view(d);
        item["attemptLog"] = attempts
            .iter()
            .map(|a| {
                json!({
                    "attempt": a.attempt,
                    "at": rfc3339(a.at),
                    "httpStatus": a.http_status,
                    "latencyMs": a.latency_ms,
                    "responseExcerpt": a.response_excerpt,
                })
            })
            .collect();
        items.push(item);
    }
    let next = match page.items.last() {
        Some(last) if page.has_more => {
            Some(cursor::encode(SCOPE, last.created_at, last.id.as_str()))
        }
        _ => None,
    };
    Ok(Json(success(json!({ "items": items, "nextCursor": next }))))
}

fn delivery_view(d: &WebhookDelivery) -> Value {
    json!({
        "webhookId": d.id,
        "transactionId": d.transaction_id,
        "state": d.state.as_str(),
        "attempts": d.attempts,
        "nextAttemptAt": match d.state {
            DeliveryState::Pending => Some(rfc3339(d.next_attempt_at)),
            DeliveryState::Delivered | DeliveryState::Dead => None,
        },
        "lastHttpStatus": d.last_http_status,
        "lastError": d.last_error,
        "createdAt": rfc3339(d.created_at),
        "deliveredAt": d.delivered_at.map(rfc3339),
        "payload": serde_json::from_str::<Value>(&d.payload).unwrap_or(Value::Null),
    })
}

/// Sends a dead or pending delivery again at once, under the same `webhook-id` and payload.
#[utoipa::path(post, path = "/v1/api/webhooks/{id}/redeliver", tag = "Transactions", operation_id = "redeliverWebhook",
    security(("companyJwt" = [])),
    params(("id" = String, Path, description = "A webhook id (`msg_…`)")),
    responses(
        (status = 200, description = "Queued for delivery now", body = Envelope<WebhookDeliveryView>,
            example = json!({"status": "success", "message": "Successfully", "isSuccess": true, "data": {
                "webhookId": "msg_01jfxq8b0000000000000000aa", "transactionId": "txn_01jfxq6d3ab5c0e5n2x7v8w9yz",
                "state": "pending", "attempts": 8, "nextAttemptAt": "2026-12-03T10:00:02.512Z", "lastHttpStatus": 500,
                "lastError": null, "createdAt": "2026-12-02T10:00:02.512Z", "deliveredAt": null, "payload": null}})),
        (status = 409, description = "`INVALID_STATE`: delivered already, or an attempt is under way", body = ErrorEnvelope),
    ))]
pub(crate) async fn redeliver(
    State(app): State<App>,
    CompanyAuth(company): CompanyAuth,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = WebhookId::parse(&id).ok_or(ApiError::NotFound)?;
    app.store
        .webhook_delivery(&id)
        .await?
        .filter(|d| d.company_id == company.id)
        .ok_or(ApiError::NotFound)?;
    let delivery = match app.store.redeliver_webhook(&id, app.now(), None).await {
        Ok(d) => d,
        Err(StoreError::Conflict(m)) => return Err(ApiError::InvalidState(m)),
        Err(StoreError::NotFound(_)) => return Err(ApiError::NotFound),
        Err(e) => return Err(e.into()),
    };
    app.webhook_wakeup.notify_one();
    tracing::info!(webhook_id = %id, company = %company.id, "merchant redelivery");
    Ok(Json(success(delivery_view(&delivery))))
}

/// One signed test event to the webhook URL (through the guarded client, no redirects),
/// stored nowhere.
#[utoipa::path(post, path = "/v1/api/webhooks/test", tag = "Transactions", operation_id = "testWebhook",
    security(("companyJwt" = [])),
    responses(
        (status = 200, description = "What the receiver answered", body = Envelope<WebhookTest>,
            example = json!({"status": "success", "message": "Successfully", "isSuccess": true, "data": {
                "webhookId": "msg_01jfxq8b0000000000000000ab", "ok": true, "httpStatus": 200, "latencyMs": 9, "responseExcerpt": "ok"}})),
    ))]
pub(crate) async fn test(
    State(app): State<App>,
    CompanyAuth(company): CompanyAuth,
) -> Result<Json<Value>, ApiError> {
    let id = WebhookId::generate();
    let now = app.now();
    let body = json!({
        "type": "test",
        "company_id": company.id,
        "message": "Overture test webhook: no transaction",
        "sent_at": rfc3339(now),
    })
    .to_string();
    let started = Instant::now();
    let sent = app
        .http
        .send(signed_request(&app, &company, &id, now, body))
        .await;
    let (status, excerpt, error) = match sent {
        Ok(response) => {
            let status = response.status().as_u16();
            let text = response.text().await.unwrap_or_default();
            (
                Some(status),
                text.chars().take(EXCERPT_CHARS).collect(),
                None,
            )
        }
        Err(e @ (SendError::Refused(_) | SendError::Http(_))) => {
            (None, String::new(), Some(e.to_string()))
        }
    };
    let latency_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
    let mut data = json!({
        "webhookId": id,
        "ok": status.is_some_and(|s| (200..300).contains(&s)),
        "httpStatus": status,
        "latencyMs": latency_ms,
        "responseExcerpt": excerpt,
    });
    if let Some(e) = error {
        data["error"] = json!(e);
    }
    Ok(Json(success(data)))
}

/// A POST of `body` to the company's webhook URL with the Standard Webhooks headers (both
/// signatures during a rotation) and its `Authorization` value, as the dispatcher sends.
fn signed_request(
    app: &App,
    company: &Company,
    id: &WebhookId,
    now: i64,
    body: String,
) -> reqwest::RequestBuilder {
    let timestamp = now / 1000;
    let signature = signing::signature_header(company, now, id.as_str(), timestamp, &body);
    let mut request = app
        .http
        .client()
        .post(&company.webhook_url)
        .timeout(app.tuning.webhook_timeout)
        .header("content-type", "application/json")
        .header("webhook-id", id.as_str())
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(body);
    if let Some(auth) = &company.webhook_authorization {
        request = request.header("authorization", auth.expose_secret());
    }
    request
}
