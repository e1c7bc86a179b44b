//! Back-office security settings (`overture serve` flags, each with an `OVERTURE_*` twin).

use crate::config::parse_duration;
use crate::workers::ms;
use clap::Args;
use overture_core::backoffice::{Backoff, ThrottlePolicy};
use std::time::Duration;

/// Session and login-throttle flags.
#[derive(Args, Clone, Debug)]
pub struct BackofficeArgs {
    /// Absolute lifetime of a back-office session, whatever the activity.
    #[arg(long, env = "OVERTURE_BACKOFFICE_SESSION_TTL", value_parser = parse_duration, default_value = "8h")]
    pub backoffice_session_ttl: Duration,
    /// A session unused for this long expires.
    #[arg(long, env = "OVERTURE_BACKOFFICE_SESSION_IDLE", value_parser = parse_duration, default_value = "30m")]
    pub backoffice_session_idle: Duration,
    /// Failed logins from one client address before its attempts must wait.
    #[arg(
        long,
        env = "OVERTURE_BACKOFFICE_LOGIN_FREE_PER_ADDRESS",
        default_value_t = 5
    )]
    pub backoffice_login_free_per_address: u32,
    /// Failed logins for one account (from anywhere) before its attempts must wait.
    #[arg(
        long,
        env = "OVERTURE_BACKOFFICE_LOGIN_FREE_PER_ACCOUNT",
        default_value_t = 10
    )]
    pub backoffice_login_free_per_account: u32,
    /// The first wait after the free failures; each further failure doubles it.
    #[arg(long, env = "OVERTURE_BACKOFFICE_LOGIN_FIRST_WAIT", value_parser = parse_duration, default_value = "1s")]
    pub backoffice_login_first_wait: Duration,
    /// Longest wait imposed on one client address.
    #[arg(long, env = "OVERTURE_BACKOFFICE_LOGIN_MAX_WAIT_PER_ADDRESS", value_parser = parse_duration, default_value = "15m")]
    pub backoffice_login_max_wait_per_address: Duration,
    /// Longest wait imposed on one account; keep it short, the account's operator sits it out
    /// too.
    #[arg(long, env = "OVERTURE_BACKOFFICE_LOGIN_MAX_WAIT_PER_ACCOUNT", value_parser = parse_duration, default_value = "30s")]
    pub backoffice_login_max_wait_per_account: Duration,
    /// A counter with no failure for this long starts again at zero.
    #[arg(long, env = "OVERTURE_BACKOFFICE_LOGIN_RESET_AFTER", value_parser = parse_duration, default_value = "1h")]
    pub backoffice_login_reset_after: Duration,
    /// Window of the PSP accounts page's success rate.
    #[arg(long, env = "OVERTURE_BACKOFFICE_STATS_WINDOW", value_parser = parse_duration, default_value = "24h")]
    pub backoffice_stats_window: Duration,
}

/// The settings in milliseconds, plus whether cookies must be `Secure`.
#[derive(Clone, Debug)]
pub struct Settings {
    pub session_ttl_ms: i64,
    pub idle_ms: i64,
    pub throttle: ThrottlePolicy,
    pub stats_window_ms: i64,
    /// Set when the public URL is https (cookies then carry `Secure`).
    pub secure_cookies: bool,
}

impl Settings {
    /// Settings for a deployment reachable at `public_url`.
    pub fn new(args: &BackofficeArgs, public_url: &str) -> Self {
        let first_wait_ms = ms(args.backoffice_login_first_wait);
        Self {
            session_ttl_ms: ms(args.backoffice_session_ttl),
            idle_ms: ms(args.backoffice_session_idle),
            throttle: ThrottlePolicy {
                per_address: Backoff {
                    free_failures: args.backoffice_login_free_per_address.into(),
                    first_wait_ms,
                    max_wait_ms: ms(args.backoffice_login_max_wait_per_address),
                },
                per_account: Backoff {
                    free_failures: args.backoffice_login_free_per_account.into(),
                    first_wait_ms,
                    max_wait_ms: ms(args.backoffice_login_max_wait_per_account),
                },
                reset_after_ms: ms(args.backoffice_login_reset_after),
            },
            stats_window_ms: ms(args.backoffice_stats_window),
            secure_cookies: public_url.to_ascii_lowercase().starts_with("https://"),
        }
    }
}
