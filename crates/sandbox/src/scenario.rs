//! Outcome selection shared by every simulator (the cents table) and simulator settings.

use crate::keyring::SandboxSeed;
use std::time::Duration;

/// What a sandbox does with an order, chosen by the cents of its amount.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scenario {
    /// `.00–.49` (and any other unlisted cents): approved; pay-ins as chosen on the hosted page.
    Approve,
    /// `.51`: declined.
    Decline,
    /// `.52`: error ⇒ failed.
    Error,
    /// `.53`: stays processing, never final by itself.
    StaysProcessing,
    /// `.54`: HTTP 500 on create, order not created.
    Http500OnCreate,
    /// `.55`: final status reached, no callback sent.
    NoCallback,
    /// `.56`: callback sent twice.
    DuplicateCallback,
    /// `.57`: callback with a bad signature (claiming the opposite outcome); real status approved.
    ForgedCallback,
}

impl Scenario {
    /// The scenario for an amount's minor units (`cents = minor % 100`).
    pub fn from_minor(minor: i64) -> Self {
        match minor.rem_euclid(100) {
            51 => Self::Decline,
            52 => Self::Error,
            53 => Self::StaysProcessing,
            54 => Self::Http500OnCreate,
            55 => Self::NoCallback,
            56 => Self::DuplicateCallback,
            57 => Self::ForgedCallback,
            _ => Self::Approve,
        }
    }

    /// Parses a major-unit decimal string (`"10.53"`) and picks the scenario; `None` if unparsable.
    pub fn from_major_str(amount: &str) -> Option<Self> {
        let d: rust_decimal::Decimal = amount.trim().parse().ok()?;
        let cents = (d * rust_decimal::Decimal::from(100)).trunc();
        let minor: i64 = rust_decimal::prelude::ToPrimitive::to_i64(&cents)?;
        Some(Self::from_minor(minor))
    }
}

/// Simulator settings. `Default` draws a random seed.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// Absolute base URL the simulator is reachable at (filled in by [`crate::router`]).
    pub base_url: String,
    /// Time from acceptance to the final status (payouts; pay-ins after the hosted form).
    pub processing_delay: Duration,
    /// Delays between callback attempts while the receiver does not answer 200.
    pub callback_retries: Vec<Duration>,
    /// Extra latency added to every API response after the request was processed (the order
    /// exists at the PSP while the caller still waits), for crash tests. Applied by
    /// [`crate::router`] to every simulator.
    pub response_delay: Duration,
    /// The secret every account's secrets are derived from (see [`crate::keyring`]); never
    /// logged (`Debug` hides it).
    pub seed: SandboxSeed,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            base_url: String::new(),
            processing_delay: Duration::from_secs(2),
            callback_retries: vec![
                Duration::from_secs(1),
                Duration::from_secs(5),
                Duration::from_secs(30),
            ],
            response_delay: Duration::ZERO,
            // A sandbox without a configured seed forgets its accounts when it stops.
            seed: SandboxSeed::random(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cents_pick_the_scenario() {
        assert_eq!(Scenario::from_minor(10_000), Scenario::Approve);
        assert_eq!(Scenario::from_minor(1_049), Scenario::Approve);
        assert_eq!(Scenario::from_minor(1_051), Scenario::Decline);
        assert_eq!(
            Scenario::from_major_str("10.53"),
            Some(Scenario::StaysProcessing)
        );
        assert_eq!(
            Scenario::from_major_str("10.57"),
            Some(Scenario::ForgedCallback)
        );
        assert_eq!(Scenario::from_major_str("abc"), None);
    }
}
