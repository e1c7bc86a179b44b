//! FORUMPAY sandbox (placeholder until implemented).

use crate::{SimConfig, Simulator};
use axum::Router;

/// FORUMPAY simulator.
pub struct ForumPaySandbox;

impl Simulator for ForumPaySandbox {
    fn psp_type(&self) -> &'static str {
        "FORUMPAY"
    }
    fn credentials(&self) -> Vec<(&'static str, String)> {
        Vec::new()
    }
    fn router(&self, _config: SimConfig) -> Router {
        Router::new()
    }
}
