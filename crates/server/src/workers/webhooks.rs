//! The webhook dispatcher: delivers outbox rows to the merchant's webhook URL with Standard
//! Webhooks headers, the same `webhook-id` on every attempt, a 10 s timeout, retries on the
//! configured schedule (`5s,5m,30m,2h,5h,10h,10h` by default, ±10 % jitter) and dead-letters
//! the row after the last attempt. Calls go through the guarded outbound client: a refused URL
//! or a 3xx answer is a failed attempt. Each attempt sends `traceparent` in the trace of the
//! request that created the transaction (when it had one), with a span id of its own.

use crate::app::App;
use crate::trace;
use crate::workers::{ms, run_loop, signing};
use overture_core::store::{DeliveryNext, WebhookAttemptResult};
use overture_core::*;
use overture_outbound::SendError;
use rand::Rng;
use secrecy::ExposeSecret;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

/// Bytes of the merchant's response kept with each attempt.
const EXCERPT_BYTES: usize = 512;

/// Runs the dispatcher until cancelled.
pub async fn run(app: App, cancel: CancellationToken) {
    let wakeup = (app.webhook_wakeup.clone(), app.tuning.webhook_concurrency);
    run_loop("webhooks", app, wakeup, cancel, round).await;
}

async fn round(app: App, permits: Arc<Semaphore>) -> anyhow::Result<bool> {
    let now = app.now();
    let batch = app.tuning.worker_batch;
    let due = app
        .store
        .claim_due_webhooks(now, now + ms(app.tuning.lease), batch)
        .await?;
    let full = due.len() as i64 == batch;
    for delivery in due {
        let permit = permits.clone().acquire_owned().await?;
        let app = app.clone();
        let job = app.metrics.job_started("webhooks");
        tokio::spawn(async move {
            let _job = job;
            if let Err(e) = deliver(&app, &delivery).await {
                tracing::error!(webhook_id = %delivery.id, error = ?e, "delivery bookkeeping failed");
            }
            drop(permit);
        });
    }
    Ok(full)
}

/// When to try again after failed attempt number `attempt` (1-based); `None` ⇒ dead letter.
pub fn retry_delay_ms(app: &App, attempt: i32) -> Option<i64> {
    let schedule = &app.tuning.webhook_retry_schedule.0;
    let base = ms(*schedule.get(usize::try_from(attempt - 1).ok()?)?);
    let jitter = if base >= 10 {
        rand::thread_rng().gen_range(-(base / 10)..=base / 10)
    } else {
        0
    };
    Some((base + jitter).max(0))
}

async fn deliver(app: &App, d: &WebhookDelivery) -> anyhow::Result<()> {
    let company = app
        .company(&d.company_id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("company {} is gone", d.company_id))?;
    let attempt = d.attempts + 1;
    let now = app.now();
    let timestamp = now / 1000;
    let signature = signing::signature_header(&company, now, d.id.as_str(), timestamp, &d.payload);
    let mut request = app
        .http
        .client()
        .post(&company.webhook_url)
        .timeout(app.tuning.webhook_timeout)
        .header("content-type", "application/json")
        .header("webhook-id", d.id.as_str())
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(d.payload.clone());
    if let Some(auth) = &company.webhook_authorization {
        request = request.header("authorization", auth.expose_secret());
    }
    // The trace of the request that created the transaction, a span of its own per attempt.
    if let Some(trace_id) = d.trace_id {
        let span = TraceParent::in_trace(trace_id);
        request = request.header(trace::TRACEPARENT, trace::outgoing(&span));
    }
    let started = Instant::now();
    // A 3xx is never followed (that would re-post the signed body elsewhere): it is a failed
    // attempt with its status. A URL the outbound policy refuses is a failed attempt with no
    // status, retried on the schedule like any other failure.
    let (status, excerpt) = match app.http.send(request).await {
        Ok(response) => {
            let status = response.status().as_u16();
            let text = response.text().await.unwrap_or_default();
            (
                Some(i32::from(status)),
                text.chars().take(EXCERPT_BYTES).collect::<String>(),
            )
        }
        Err(e @ SendError::Refused(_)) => {
            tracing::warn!(webhook_id = %d.id, company = %company.id, error = %e, "webhook URL refused");
            (None, e.to_string())
        }
        Err(e @ SendError::Http(_)) => (None, e.to_string()),
    };
    let latency_ms = ms(started.elapsed());
    let now = app.now();
    let next = match status {
        Some(200..=299) => DeliveryNext::Delivered,
        _ => match retry_delay_ms(app, attempt) {
            Some(delay) => DeliveryNext::RetryAt(now + delay),
            None => DeliveryNext::Dead,
        },
    };
    let outcome = match next {
        DeliveryNext::Delivered => "delivered",
        DeliveryNext::RetryAt(_) => "retry",
        DeliveryNext::Dead => "dead",
    };
    tracing::info!(webhook_id = %d.id, transaction_id = %d.transaction_id, attempt, http_status = status, latency_ms, outcome, "webhook attempt");
    let result = WebhookAttemptResult {
        attempt: WebhookAttempt {
            webhook_id: d.id.clone(),
            attempt,
            at: now,
            http_status: status,
            latency_ms,
            response_excerpt: excerpt,
        },
        next,
    };
    app.store.record_webhook_attempt(&result).await?;
    app.metrics.record_webhook(&next);
    Ok(())
}
