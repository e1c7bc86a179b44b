//! The `overture` binary. See `overture --help`.

use clap::Parser;

// glibc's malloc was a sixth of the server's CPU on the pay-in path (perf, docs/PERFORMANCE.md);
// mimalloc's thread-local free lists make the many short-lived allocations of a request cheap.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = overture_server::cli::Cli::parse();
    overture_server::telemetry::init();
    match overture_server::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
