//! The sink MP: allows every user on verify-user and records when each final webhook arrives.

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Arrival time of the first webhook per transaction id.
#[derive(Clone)]
pub struct Sink {
    pub arrivals: Arc<Mutex<HashMap<String, Instant>>>,
    /// The address it listens on (`POST /verify`, `POST /webhook`).
    pub addr: SocketAddr,
}

impl Sink {
    /// Serves on `addr` (port 0: any free port) until the process ends.
    pub async fn start(addr: SocketAddr) -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let sink = Self {
            arrivals: Arc::default(),
            addr: listener.local_addr()?,
        };
        let router = Router::new()
            .route(
                "/verify",
                post(|| async { Json(serde_json::json!({ "allowed": true })) }),
            )
            .route("/webhook", post(receive))
            .with_state(sink.clone());
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
