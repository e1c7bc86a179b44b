//! Command-line flags and environment variables (every flag has an `OVERTURE_*` twin).
//! Durations use humantime syntax: `500ms`, `5s`, `5m`, `2h`.

use crate::client_addr::TrustedProxies;
use clap::{Args, ValueEnum};
use overture_outbound::{AllowList, AllowListError, OutboundPolicy};
use secrecy::SecretString;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Parses a humantime duration (`"200ms"`, `"5m"`).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s.trim()).map_err(|e| format!("{s:?}: {e}"))
}

/// Parses a comma-separated list of durations (`"5s,5m,30m"`).
pub fn parse_schedule(s: &str) -> Result<Schedule, String> {
    let delays = s
        .split(',')
        .filter(|p| !p.trim().is_empty())
        .map(parse_duration)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Schedule(delays))
}

/// A list of retry delays.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Schedule(pub Vec<Duration>);

/// Database connection flags shared by every command.
#[derive(Args, Clone, Debug)]
pub struct DbArgs {
    /// `sqlite://path.db` (embedded, created on first use) or `postgres://user@host/db`.
    #[arg(
        long,
        env = "OVERTURE_DATABASE_URL",
        default_value = "sqlite://overture-data/overture.db"
    )]
    pub database_url: String,
    /// Connection pool size (default: 1 for SQLite, whose single writer is fastest without
    /// lock contention; 16 for PostgreSQL).
    #[arg(long, env = "OVERTURE_DB_MAX_CONNECTIONS")]
    pub db_max_connections: Option<u32>,
    /// PostgreSQL: a separate pool of this many connections for the background workers
    /// (poller, webhook dispatcher), so they never take the API's connections; 0 shares the
    /// main pool. SQLite always shares its single connection.
    #[arg(long, env = "OVERTURE_DB_WORKER_CONNECTIONS", default_value_t = 4)]
    pub db_worker_connections: u32,
    /// File holding the base64 AES-256 master key that seals secrets at rest; created when
    /// missing. Ignored when `OVERTURE_MASTER_KEY` is set (use that for several nodes).
    #[arg(
        long,
        env = "OVERTURE_MASTER_KEY_FILE",
        default_value = "overture-data/master.key"
    )]
    pub master_key_file: PathBuf,
    /// PostgreSQL schema (defaults to the server's search_path).
    #[arg(long, env = "OVERTURE_DB_SCHEMA")]
    pub db_schema: Option<String>,
}

/// What a `serve` node runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Role {
    /// HTTP API only (cashier, status, callbacks, back office).
    Api,
    /// Background workers only (status poller, webhook dispatcher).
    Worker,
    /// Both.
    All,
}

/// `overture serve` settings.
#[derive(Args, Clone, Debug)]
pub struct ServeArgs {
    #[command(flatten)]
    pub db: DbArgs,
    /// Address to listen on.
    #[arg(long, env = "OVERTURE_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Base URL PSPs call back and sandboxes redirect to (default: http://<listen>).
    #[arg(long, env = "OVERTURE_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// api, worker or all.
    #[arg(long, env = "OVERTURE_ROLE", value_enum, default_value_t = Role::All)]
    pub role: Role,
    /// Also write the demo company's JSON line (printed on stdout when a first start creates
    /// it) to this file, mode 0600, replacing an older one; scripts read it from there.
    /// Holds the demo company's secrets. Nothing is written when no demo company is created.
    #[arg(long, env = "OVERTURE_DEMO_FILE")]
    pub demo_file: Option<PathBuf>,
    #[command(flatten)]
    pub outbound: OutboundArgs,
    /// Reverse proxies whose `X-Forwarded-For` gives the client address: comma-separated
    /// networks or addresses (`10.0.0.0/8,192.0.2.7`). Empty: the TCP peer is the client.
    #[arg(
        long,
        env = "OVERTURE_TRUSTED_PROXIES",
        value_parser = TrustedProxies::parse,
        default_value = ""
    )]
    pub trusted_proxies: TrustedProxies,
    #[command(flatten)]
    pub tuning: Tuning,
    #[command(flatten)]
    pub sandbox: SandboxArgs,
    #[command(flatten)]
    pub backoffice: crate::backoffice::BackofficeArgs,
    /// Bearer token for `GET /metrics`, from `OVERTURE_METRICS_TOKEN` only: a secret is never
    /// a command-line flag. Required in production mode (without it `/metrics` refuses
    /// everyone); outside production `/metrics` is open unless it is set.
    #[arg(skip = crate::api::metrics::MetricsAccess::token_from_env())]
    pub metrics_token: Option<SecretString>,
}

/// Production mode and the outbound allow-list: one definition, used by `serve` and by the
/// commands that save outbound URLs (`companies create`, `psp-accounts add`).
#[derive(Args, Clone, Debug)]
pub struct OutboundArgs {
    /// Production mode: the PSP sandboxes and the demo merchant are not mounted under
    /// /sandbox, and outbound calls (PSP APIs, webhooks, verify-user) use https only and never
    /// a loopback address, unless the host is on the outbound allow-list.
    #[arg(long, env = "OVERTURE_PRODUCTION", default_value_t = false)]
    pub production: bool,
    /// Outbound exceptions, comma-separated: CIDR blocks or IP addresses (`10.1.2.0/24`,
    /// `fd00::/8`, `10.0.0.7`) whose addresses may be called, host names (`pay.internal`,
    /// exact, case-insensitive) and `*.suffix` wildcards whose addresses are not checked.
    /// Listed hosts may also use plain http in production mode.
    #[arg(long, env = "OVERTURE_OUTBOUND_ALLOW", value_parser = parse_allow_list)]
    pub outbound_allow: Option<AllowList>,
}

impl OutboundArgs {
    /// The outbound policy these flags describe.
    pub fn policy(&self) -> OutboundPolicy {
        OutboundPolicy::new(
            self.production,
            self.outbound_allow.clone().unwrap_or_default(),
        )
    }
}

/// Parses `OVERTURE_OUTBOUND_ALLOW`; a bad entry is an error naming it.
pub fn parse_allow_list(s: &str) -> Result<AllowList, String> {
    s.parse().map_err(|e: AllowListError| e.to_string())
}

/// Timeouts, schedules and worker settings.
#[derive(Args, Clone, Debug)]
pub struct Tuning {
    /// PSP HTTP call timeout.
    #[arg(long, env = "OVERTURE_PSP_TIMEOUT", value_parser = parse_duration, default_value = "30s")]
    pub psp_timeout: Duration,
    /// MP verify-user call timeout.
    #[arg(long, env = "OVERTURE_VERIFY_TIMEOUT", value_parser = parse_duration, default_value = "10s")]
    pub verify_timeout: Duration,
    /// Webhook HTTP call timeout (Mozarto: answer within 10 s).
    #[arg(long, env = "OVERTURE_WEBHOOK_TIMEOUT", value_parser = parse_duration, default_value = "10s")]
    pub webhook_timeout: Duration,
    /// Delays between webhook attempts; dead-lettered after the last.
    #[arg(long, env = "OVERTURE_WEBHOOK_RETRY_SCHEDULE", value_parser = parse_schedule, default_value = "5s,5m,30m,2h,5h,10h,10h")]
    pub webhook_retry_schedule: Schedule,
    /// Replaces every PSP's poll intervals (fast and slow phases) with this one, for tests.
    #[arg(long, env = "OVERTURE_POLL_INTERVAL", value_parser = parse_duration)]
    pub poll_interval: Option<Duration>,
    /// Replaces every PSP's give-up time (a payout still pending then fails with `timeout`).
    #[arg(long, env = "OVERTURE_POLL_TIMEOUT", value_parser = parse_duration)]
    pub poll_timeout: Option<Duration>,
    /// Smallest time between two status queries of one transaction triggered by PSP callbacks
    /// (callbacks in between are coalesced into one trailing query).
    #[arg(long, env = "OVERTURE_CALLBACK_QUERY_GAP", value_parser = parse_duration, default_value = "3s")]
    pub callback_query_gap: Duration,
    /// How often idle workers look for due rows (they are also woken at once by new work).
    #[arg(long, env = "OVERTURE_WORKER_TICK", value_parser = parse_duration, default_value = "500ms")]
    pub worker_tick: Duration,
    /// Rows a worker claims per round.
    #[arg(long, env = "OVERTURE_WORKER_BATCH", default_value_t = 64)]
    pub worker_batch: i64,
    /// Status queries the poller may make per second on this node while it serves no API
    /// request (0: unlimited). Past it, due polls wait (oldest first); `/metrics` shows their lag.
    #[arg(long, env = "OVERTURE_POLL_RATE", default_value_t = 200)]
    pub poll_rate: u32,
    /// The same while this node serves API requests: polling is a backstop and yields to them.
    #[arg(long, env = "OVERTURE_POLL_RATE_BUSY", default_value_t = 25)]
    pub poll_rate_busy: u32,
    /// Status queries in flight at once on this node.
    #[arg(long, env = "OVERTURE_POLLER_CONCURRENCY", default_value_t = 16)]
    pub poller_concurrency: usize,
    /// Webhook deliveries in flight at once on this node.
    #[arg(long, env = "OVERTURE_WEBHOOK_CONCURRENCY", default_value_t = 32)]
    pub webhook_concurrency: usize,
    /// How often worker nodes count the due polls and pending webhooks for `/metrics`.
    #[arg(long, env = "OVERTURE_QUEUE_GAUGE_INTERVAL", value_parser = parse_duration, default_value = "5s")]
    pub queue_gauge_interval: Duration,
    /// Lease on claimed rows; a dead node's rows are taken over after it.
    #[arg(long, env = "OVERTURE_LEASE", value_parser = parse_duration, default_value = "60s")]
    pub lease: Duration,
    /// Consecutive technical failures (cannot connect, timeout, 5xx, 429) of one PSP account
    /// after which routing skips it (its circuit opens).
    #[arg(long, env = "OVERTURE_BREAKER_FAILURES", default_value_t = 5)]
    pub breaker_failures: u32,
    /// Days the PSP exchange log keeps each exchange and callback.
    #[arg(long, env = "OVERTURE_EXCHANGE_RETENTION_DAYS", default_value_t = 30)]
    pub exchange_retention_days: u32,
    /// How long an open circuit skips its account before one probe request may go.
    #[arg(long, env = "OVERTURE_BREAKER_COOLDOWN", value_parser = parse_duration, default_value = "30s")]
    pub breaker_cooldown: Duration,
    /// How long a rotated-out API secret keeps verifying company JWTs and `x-user-token`s, and
    /// a rotated-out webhook secret keeps signing beside the new one.
    #[arg(long, env = "OVERTURE_SECRET_GRACE", value_parser = parse_duration, default_value = "24h")]
    pub secret_grace: Duration,
}

/// PSP sandbox behaviour (the outcome follows the amount's cents).
#[derive(Args, Clone, Debug)]
pub struct SandboxArgs {
    /// Time from acceptance to a final status at the sandbox PSPs.
    #[arg(long, env = "OVERTURE_SANDBOX_DELAY", value_parser = parse_duration, default_value = "2s")]
    pub sandbox_delay: Duration,
    /// Delays between sandbox callback attempts while Overture does not answer 200.
    #[arg(long, env = "OVERTURE_SANDBOX_CALLBACK_RETRIES", value_parser = parse_schedule, default_value = "1s,5s,30s")]
    pub sandbox_callback_retries: Schedule,
    /// Extra latency added to every sandbox API response, after the request was processed.
    #[arg(long, env = "OVERTURE_SANDBOX_RESPONSE_DELAY", value_parser = parse_duration, default_value = "0s")]
    pub sandbox_response_delay: Duration,
}

impl SandboxArgs {
    /// The simulators' settings; every account's secrets derive from `seed`.
    pub fn sim_config(&self, seed: overture_sandbox::SandboxSeed) -> overture_sandbox::SimConfig {
        overture_sandbox::SimConfig {
            base_url: String::new(),
            processing_delay: self.sandbox_delay,
            callback_retries: self.sandbox_callback_retries.0.clone(),
            response_delay: self.sandbox_response_delay,
            seed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_parse() {
        let s = parse_schedule("5s,5m,30m,2h,5h,10h,10h").unwrap();
        assert_eq!(s.0.len(), 7);
        assert_eq!(s.0[1], Duration::from_secs(300));
        assert!(parse_schedule("5s,soon").is_err());
        assert_eq!(parse_duration("150ms").unwrap(), Duration::from_millis(150));
    }

    #[derive(clap::Parser)]
    struct Wrap {
        #[command(flatten)]
        outbound: OutboundArgs,
    }

    #[test]
    fn outbound_flags_build_the_policy() {
        use clap::Parser;
        let args = Wrap::try_parse_from([
            "x",
            "--production",
            "--outbound-allow",
            "10.1.2.0/24, pay.internal",
        ])
        .unwrap()
        .outbound;
        let policy = args.policy();
        assert!(policy.production);
        assert!(policy.allow.allows_name("PAY.internal"));
        assert!(policy.allow.allows_addr("10.1.2.9".parse().unwrap()));
        let none = Wrap::try_parse_from(["x"]).unwrap().outbound.policy();
        assert_eq!(none, OutboundPolicy::default());
        let err = Wrap::try_parse_from(["x", "--outbound-allow", "10.1.2.0/24,pay internal"])
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("\"pay internal\""), "{err}");
    }

    #[derive(clap::Parser)]
    struct Serve {
        #[command(flatten)]
        serve: ServeArgs,
    }

    #[test]
    fn a_bad_trusted_proxy_stops_the_start_naming_it() {
        use clap::Parser;
        let parse = |list: &str| Serve::try_parse_from(["overture", "--trusted-proxies", list]);
        let err = parse("10.0.0.0/8,10.0.0.0/99").err().unwrap().to_string();
        assert!(
            err.contains("\"10.0.0.0/99\" is not an IP network"),
            "{err}"
        );
        let ok = parse("10.0.0.0/8").ok().unwrap().serve.trusted_proxies;
        assert!(ok.contains("10.1.2.3".parse().unwrap()));
        let none = Serve::try_parse_from(["overture"]).ok().unwrap();
        assert_eq!(none.serve.trusted_proxies, TrustedProxies::default());
    }

    #[test]
    fn the_metrics_token_is_never_a_flag() {
        use clap::Parser;
        let err = Serve::try_parse_from(["overture", "--metrics-token", "s3cret"])
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("--metrics-token"), "{err}");
    }
}
