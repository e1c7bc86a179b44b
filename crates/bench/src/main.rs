//! `overture-bench`: load against a running `overture serve`.
//!
//! - `payins`: creates pay-ins (closed loop with N clients, or a fixed rate) for a duration and
//!   reports throughput, latency percentiles (p50/p90/p99/max), errors and the server's peak RSS.
//! - `payouts`: runs the payout pipeline: creates payouts and waits for each final webhook at a
//!   sink MP this tool serves; reports payouts/s end to end and the create→webhook lag.
//! - `pending`: creates payouts that stay processing at the PSP, then watches the server's
//!   memory and the poller while they are polled.
//! - `backlog`: creates N pay-ins that stay pending (never paid), as fast as the server takes
//!   them, so the other commands can be run again on that backlog.
//! - `mixed`: a fixed-rate mix (70% pay-ins, 20% payouts, 10% status reads) reporting the p99
//!   overall, per kind and per time window, and the server's `/metrics` deltas.
//! - `sqlite-baseline`: the same commits and rows per pay-in as Overture, straight to SQLite.

mod backlog;
mod client;
mod load;
mod metrics;
mod mixed;
mod recorder;
mod rss;
mod sink;
mod sqlite_baseline;
#[cfg(test)]
mod testkit;

use clap::{Args, Parser, Subcommand};
use std::time::Duration;

fn duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s).map_err(|e| e.to_string())
}

#[derive(Parser)]
#[command(name = "overture-bench")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Where the server is and who we are.
#[derive(Args, Clone, Debug)]
pub struct Target {
    /// Base URL of `overture serve`.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub url: String,
    #[arg(long)]
    pub company_id: String,
    #[arg(long)]
    pub api_secret: String,
    /// PID of the server, to sample its resident memory (VmRSS).
    #[arg(long)]
    pub pid: Option<u32>,
}

/// How hard to push.
#[derive(Args, Clone, Debug)]
pub struct Load {
    /// Concurrent clients.
    #[arg(long, default_value_t = 32)]
    pub concurrency: usize,
    /// How long to run.
    #[arg(long, value_parser = duration, default_value = "10s")]
    pub duration: Duration,
    /// Requests per second across all clients; full speed when absent.
    #[arg(long)]
    pub rate: Option<u64>,
    /// Warm-up before measuring.
    #[arg(long, value_parser = duration, default_value = "2s")]
    pub warmup: Duration,
}

#[derive(Subcommand)]
enum Command {
    /// Pay-in creation throughput and latency (and the server's polls during the run).
    Payins {
        #[command(flatten)]
        target: Target,
        #[command(flatten)]
        load: Load,
        #[arg(long, default_value = "FORUMPAY")]
        psp_type: String,
    },
    /// Payout pipeline: create → PSP → callback → webhook at the sink.
    Payouts {
        #[command(flatten)]
        target: Target,
        #[command(flatten)]
        load: Load,
        /// Address the sink MP listens on (the company's webhook and verify-user URLs point here).
        #[arg(long, default_value = "127.0.0.1:9100")]
        sink: std::net::SocketAddr,
        /// How long to wait for the last webhooks after the load ends.
        #[arg(long, value_parser = duration, default_value = "30s")]
        drain: Duration,
    },
    /// Many payouts pending at the PSP: memory and poller.
    Pending {
        #[command(flatten)]
        target: Target,
        #[arg(long, default_value_t = 10_000)]
        count: usize,
        #[arg(long, default_value_t = 32)]
        concurrency: usize,
        /// How long to watch after creating them.
        #[arg(long, value_parser = duration, default_value = "60s")]
        watch: Duration,
        #[arg(long, default_value = "127.0.0.1:9100")]
        sink: std::net::SocketAddr,
    },
    /// Creates N pay-ins as fast as the server takes them and leaves them unpaid (pending).
    Backlog {
        #[command(flatten)]
        target: Target,
        /// How many pay-ins to create.
        #[arg(long)]
        count: usize,
        /// Concurrent clients (closed loop).
        #[arg(long, default_value_t = 32)]
        concurrency: usize,
        /// FORUMPAY pay-ins stay pending until the hosted page is used.
        #[arg(long, default_value = "FORUMPAY")]
        psp_type: String,
    },
    /// Fixed-rate mix: 70% FORUMPAY pay-ins, 20% PAYMENTSOFT payouts, 10% status reads.
    Mixed {
        #[command(flatten)]
        target: Target,
        /// `--rate` is required: the mix runs open loop.
        #[command(flatten)]
        load: Load,
        /// Address the sink MP listens on (the company's webhook and verify-user URLs point here).
        #[arg(long, default_value = "127.0.0.1:9100")]
        sink: std::net::SocketAddr,
        /// Length of the windows the p99 is also reported for (`p99ByWindowMs`).
        #[arg(long, value_parser = duration, default_value = "10s")]
        window: Duration,
    },
    /// The SQLite limit: Overture's commits and rows per pay-in, in a loop.
    SqliteBaseline {
        /// Database file (created; the Overture schema is applied).
        #[arg(long, default_value = "/tmp/overture-sqlite-baseline.db")]
        path: String,
        #[arg(long, value_parser = duration, default_value = "10s")]
        duration: Duration,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let report = match Cli::parse().command {
        Command::Payins {
            target,
            load,
            psp_type,
        } => load::payins(&target, &load, &psp_type).await?,
        Command::Payouts {
            target,
            load,
            sink,
            drain,
        } => load::payouts(&target, &load, sink, drain).await?,
        Command::Pending {
            target,
            count,
            concurrency,
            watch,
            sink,
        } => load::pending(&target, count, concurrency, watch, sink).await?,
        Command::Backlog {
            target,
            count,
            concurrency,
            psp_type,
        } => backlog::run(&target, count, concurrency, &psp_type).await?,
        Command::Mixed {
            target,
            load,
            sink,
            window,
        } => mixed::run(&target, &load, window, sink).await?,
        Command::SqliteBaseline { path, duration } => sqlite_baseline::run(&path, duration).await?,
    };
    println!("{report}");
    Ok(())
}
