//! Back-office security settings (`overture serve` flags, each with an `OVERTURE_*` twin).

use crate::config::parse_duration;
use crate::workers::ms;
use clap::Args;
use overture_core::backoffice::LockoutPolicy;
use std::time::Duration;

/// Session and lockout flags.
#[derive(Args, Clone, Debug)]
pub struct BackofficeArgs {
    /// Absolute lifetime of a back-office session, whatever the activity.
    #[arg(long, env = "OVERTURE_BACKOFFICE_SESSION_TTL", value_parser = parse_duration, default_value = "8h")]
    pub backoffice_session_ttl: Duration,
    /// A session unused for this long expires.
    #[arg(long, env = "OVERTURE_BACKOFFICE_SESSION_IDLE", value_parser = parse_duration, default_value = "30m")]
    pub backoffice_session_idle: Duration,
    /// Consecutive failed logins that lock an operator account.
    #[arg(
        long,
        env = "OVERTURE_BACKOFFICE_LOCKOUT_FAILURES",
        default_value_t = 5
    )]
    pub backoffice_lockout_failures: i32,
    /// How long a locked account refuses logins.
    #[arg(long, env = "OVERTURE_BACKOFFICE_LOCKOUT", value_parser = parse_duration, default_value = "15m")]
    pub backoffice_lockout: Duration,
    /// Window of the PSP accounts page's success rate.
    #[arg(long, env = "OVERTURE_BACKOFFICE_STATS_WINDOW", value_parser = parse_duration, default_value = "24h")]
    pub backoffice_stats_window: Duration,
}

/// The settings in milliseconds, plus whether cookies must be `Secure`.
#[derive(Clone, Debug)]
pub struct Settings {
    pub session_ttl_ms: i64,
    pub idle_ms: i64,
    pub lockout: LockoutPolicy,
    pub stats_window_ms: i64,
    /// Set when the public URL is https (cookies then carry `Secure`).
    pub secure_cookies: bool,
}

impl Settings {
    /// Settings for a deployment reachable at `public_url`.
    pub fn new(args: &BackofficeArgs, public_url: &str) -> Self {
        Self {
            session_ttl_ms: ms(args.backoffice_session_ttl),
            idle_ms: ms(args.backoffice_session_idle),
            lockout: LockoutPolicy {
                max_failures: args.backoffice_lockout_failures.max(1),
                lock_ms: ms(args.backoffice_lockout),
            },
            stats_window_ms: ms(args.backoffice_stats_window),
            secure_cookies: public_url.to_ascii_lowercase().starts_with("https://"),
        }
    }
}
