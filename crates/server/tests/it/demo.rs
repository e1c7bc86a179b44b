//! The demo company `serve` creates on first start: its PSP accounts are opened over HTTP at
//! the sandboxes the same process serves (so `serve` answers before it seeds), they work end to
//! end, and they keep working after a restart because the sandboxes' seed is derived from the
//! master key. With `OVERTURE_DEMO_FILE` the printed line is also written to that file.

use crate::procs::{env, free_port, spawn_capturing};
use serde_json::Value;
use std::time::Duration;

/// A PAYMENTSOFT payout of the demo company, followed to its final state.
async fn demo_payout(http: &reqwest::Client, url: &str, jwt: &str) -> String {
    let body = serde_json::json!({"pspType": "PAYMENTSOFT", "type": "PAYOUT",
        "baseamount": 12.00, "currency": "EUR", "userId": "demo-user",
        "email": "player@example.com"});
    let created: Value = http
        .post(format!("{url}/v1/api/mozarto/cashier"))
        .bearer_auth(jwt)
        .header("x-user-authorization", "demo-session")
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["data"]["transactionId"]
        .as_str()
        .unwrap_or_else(|| panic!("payout refused: {created}"))
        .to_owned();
    for _ in 0..200 {
        let status: Value = http
            .get(format!("{url}/v1/api/mozarto/transactions/{id}"))
            .bearer_auth(jwt)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let state = status["data"]["state"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if matches!(state.as_str(), "approved" | "declined" | "failed") {
            return state;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("demo payout {id} never final");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_company_accounts_work_and_survive_a_restart() {
    let e = env();
    let log = e.dir.join("logs.txt");
    let mut serve_env = e.db.clone();
    serve_env.extend([
        ("OVERTURE_LISTEN", format!("127.0.0.1:{}", free_port())),
        ("OVERTURE_SANDBOX_DELAY", "100ms".to_owned()),
        ("OVERTURE_POLL_INTERVAL", "200ms".to_owned()),
        ("OVERTURE_WORKER_TICK", "50ms".to_owned()),
    ]);
    let demo_file = e.dir.join("demo").join("company.json");
    serve_env.push(("OVERTURE_DEMO_FILE", demo_file.display().to_string()));
    let (serve, url, printed) = spawn_capturing(&["serve"], &serve_env, &log);
    let demo = printed
        .iter()
        .find(|v| v["companyJwt"].is_string())
        .unwrap_or_else(|| {
            panic!(
                "no demo company printed: {printed:?}\nlogs: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            )
        });
    let jwt = demo["companyJwt"].as_str().unwrap().to_owned();
    // The same line, for scripts, in a file only its owner can read.
    let written = std::fs::read_to_string(&demo_file).unwrap();
    assert_eq!(&serde_json::from_str::<Value>(&written).unwrap(), demo);
    assert!(written.ends_with('\n') && written.lines().count() == 1);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&demo_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let http = reqwest::Client::new();
    assert_eq!(demo_payout(&http, &url, &jwt).await, "approved");
    serve.kill9();

    // Same database and master key: no new demo company, and the stored accounts still work
    // against the restarted in-process sandboxes.
    let (_serve, url, printed) = spawn_capturing(&["serve"], &serve_env, &log);
    assert!(printed.iter().all(|v| !v["companyJwt"].is_string()));
    assert_eq!(std::fs::read_to_string(&demo_file).unwrap(), written);
    assert_eq!(demo_payout(&http, &url, &jwt).await, "approved");
}
