//! The real `overture serve` in this test process (SQLite file, sandboxes mounted in-process,
//! 127.0.0.1:0), with a company whose PSP accounts are opened at those sandboxes and whose
//! verify-user and webhook URLs point at a sink MP: what the load commands run against.

use crate::sink::Sink;
use crate::Target;
use clap::Parser;
use overture_core::{Clock, SystemClock};
use overture_server::config::ServeArgs;
use overture_server::demo::{self, NewCompany};
use overture_server::serve::{self, Running};
use secrecy::ExposeSecret;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
struct Wrap {
    #[command(flatten)]
    serve: ServeArgs,
}

/// A running server and the target the load commands take.
pub struct TestServer {
    pub running: Running,
    pub target: Target,
    pub sink: Sink,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.running.cancel.cancel();
    }
}

/// Starts a server with the default settings plus `extra` flags (zero sandbox delay).
pub async fn start(extra: &[&str]) -> TestServer {
    let sink = Sink::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let dir =
        std::env::temp_dir().join(format!("overture-bench-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut argv = vec![
        "overture".to_owned(),
        "--database-url".into(),
        format!("sqlite://{}", dir.join("overture.db").display()),
        "--master-key-file".into(),
        dir.join("master.key").display().to_string(),
        "--sandbox-delay".into(),
        "0s".into(),
    ];
    argv.extend(extra.iter().map(|a| a.to_string()));
    let args = Wrap::try_parse_from(argv).unwrap().serve;
    let running = serve::start(args, listener, CancellationToken::new())
        .await
        .unwrap();
    let store = running.app.store.clone();
    let company = demo::create_company(
        store.as_ref(),
        NewCompany {
            name: "bench".into(),
            webhook_url: format!("http://{}/webhook", sink.addr),
            verify_user_url: format!("http://{}/verify", sink.addr),
            webhook_authorization: None,
            payout_approval_threshold: None,
            verify_payins: false,
        },
        SystemClock.now_ms(),
    )
    .await
    .unwrap();
    let url = running.url.clone();
    demo::add_sandbox_accounts(
        store.as_ref(),
        &company.id,
        &url,
        &url,
        SystemClock.now_ms(),
    )
    .await
    .unwrap();
    let target = Target {
        url,
        company_id: company.id.to_string(),
        api_secret: company.api_secret.expose_secret().to_owned(),
        pid: Some(std::process::id()),
    };
    TestServer {
        running,
        target,
        sink,
    }
}
