//! The sink MP: allows every user on verify-user and records when each final webhook arrives.

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Arrival time of the first webhook per transaction id.
#[derive(Clone, Default)]
pub struct Sink {
    pub arrivals: Arc<Mutex<HashMap<String, Instant>>>,
}

impl Sink {
    /// Serves on `addr` until the process ends.
    pub async fn start(addr: std::net::SocketAddr) -> anyhow::Result<Self> {
        let sink = Self::default();
        let router = Router::new()
            .route(
                "/verify",
                post(|| async { Json(serde_json::json!({ "allowed": true })) }),
            )
            .route("/webhook", post(receive))
            .with_state(sink.clone());
        let listener = tokio::net::TcpListener::bind(addr).await?;
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Ok(sink)
    }

    pub fn count(&self) -> usize {
        self.arrivals.lock().map(|a| a.len()).unwrap_or(0)
    }
}

async fn receive(State(sink): State<Sink>, body: String) -> &'static str {
    let now = Instant::now();
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(&body) {
        if let Some(id) = v["transaction_id"].as_str() {
            if let Ok(mut a) = sink.arrivals.lock() {
                a.entry(id.to_owned()).or_insert(now);
            }
        }
    }
    "ok"
}
