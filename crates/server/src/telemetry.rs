//! Logging: `tracing` to stderr, filtered by `RUST_LOG` (default `info`), JSON lines when
//! `OVERTURE_LOG_FORMAT=json` (one object per line, the event's fields at the top level next
//! to `timestamp`, `level` and `target`). Colours only when stderr is a terminal and `NO_COLOR`
//! is unset. Stdout is reserved for command output.

use std::io::IsTerminal;
use tracing_subscriber::EnvFilter;

/// Installs the global subscriber once; later calls do nothing.
pub fn init() {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let colours = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colours)
        .with_writer(std::io::stderr);
    let _ = if std::env::var("OVERTURE_LOG_FORMAT").as_deref() == Ok("json") {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .try_init()
    } else {
        builder.try_init()
    };
}
