//! PAYMENTSOFT sandbox (placeholder until implemented).

use crate::{SimConfig, Simulator};
use axum::Router;

/// PAYMENTSOFT simulator.
pub struct PaymentSoftSandbox;

impl Simulator for PaymentSoftSandbox {
    fn psp_type(&self) -> &'static str {
        "PAYMENTSOFT"
    }
    fn credentials(&self) -> Vec<(&'static str, String)> {
        Vec::new()
    }
    fn router(&self, _config: SimConfig) -> Router {
        Router::new()
    }
}
