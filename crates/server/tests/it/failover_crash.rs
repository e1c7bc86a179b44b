//! `kill -9` between two attempts, with real processes: payouts whose first account refuses
//! them (`cascadePayouts`) wait in `retrying` on an API-only node, which is killed; a new node
//! starts each one's second attempt. Every payout ends with two attempts (never two live), one
//! PSP order executed once, and one webhook event.

use crate::harness::{one_webhook_id, FakeMp};
use crate::procs::{
    env, free_port, list_all, open_store, payout, provision, run, sandbox_orders, spawn,
};
use overture_core::store::CompanyStore;
use overture_core::{CompanyId, PspAccountId};
use serde_json::{json, Value};
use std::time::Duration;

async fn status(http: &reqwest::Client, url: &str, token: &str, id: &str) -> Value {
    let v: Value = http
        .get(format!("{url}/v1/api/mozarto/transactions/{id}"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["data"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_between_attempts_leaves_one_live_attempt_and_one_webhook() {
    let e = env();
    let mp = FakeMp::start().await;
    let log = e.dir.join("logs.txt");
    let p = provision(&e.db, &mp.url, &[], &log);
    let company = CompanyId::parse(&p.company_id).unwrap();
    let added = run(
        &[
            "psp-accounts",
            "add",
            "--company",
            &p.company_id,
            "--psp-type",
            "PAYMENTSOFT",
            "--sandbox",
            "--base-url",
            &format!("{}/sandbox/paymentsoft", p.sandbox_url),
            "--priority",
            "5",
        ],
        &e.db,
    );
    let refusing = PspAccountId::parse(added["accountId"].as_str().unwrap()).unwrap();
    let store = open_store(&e).await;
    let mut account = store.psp_account(&refusing).await.unwrap().unwrap();
    account
        .credentials
        .0
        .insert("login".into(), secrecy::SecretString::from("wronglogin"));
    store.update_psp_account(&account).await.unwrap();
    let good = store
        .psp_accounts(&company)
        .await
        .unwrap()
        .into_iter()
        .find(|a| a.psp_type.as_str() == "PAYMENTSOFT" && a.id != refusing)
        .unwrap()
        .id;
    store.close().await;
    let rules = e.dir.join("rules.json");
    let doc = json!({"rules": [{"name": "cascade", "when": {"type": "PAYOUT"},
        "then": {"route": [{"account": refusing}], "fallback": [good], "cascadePayouts": true}}]});
    std::fs::write(&rules, doc.to_string()).unwrap();
    assert_eq!(
        run(
            &[
                "routing",
                "set",
                "--company",
                &p.company_id,
                "--file",
                rules.to_str().unwrap()
            ],
            &e.db
        )["version"],
        1
    );

    let mut serve_env = e.db.clone();
    serve_env.extend([
        ("OVERTURE_LISTEN", format!("127.0.0.1:{}", free_port())),
        ("OVERTURE_POLL_INTERVAL", "200ms".to_owned()),
        ("OVERTURE_WORKER_TICK", "50ms".to_owned()),
        (
            "OVERTURE_WEBHOOK_RETRY_SCHEDULE",
            "200ms,200ms,200ms,200ms".to_owned(),
        ),
    ]);
    // An API-only node: the refused first attempts leave the payouts waiting in `retrying`.
    let (api, url) = spawn(&["serve", "--role", "api"], &serve_env, &log);
    let http = reqwest::Client::new();
    let mut ids = Vec::new();
    for i in 0..3 {
        let id = payout(
            &http,
            &url,
            &p.token,
            "mp-session",
            &format!("{}.00", 60 + i),
        )
        .await;
        ids.push(id.expect("answered PENDING"));
    }
    let listed = list_all(&http, &url, &p.operator, &p.company_id).await;
    assert!(
        listed.iter().all(|t| t["state"] == "retrying"),
        "{listed:?}"
    );
    api.kill9();

    let (_node, url) = spawn(&["serve"], &serve_env, &log);
    for _ in 0..200 {
        let listed = list_all(&http, &url, &p.operator, &p.company_id).await;
        if listed.iter().all(|t| t["state"] == "approved") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let orders = sandbox_orders(&http, &p.sandbox_url, "paymentsoft").await;
    let hooks = mp.wait_distinct_delivered(ids.len()).await;
    for id in &ids {
        let view = status(&http, &url, &p.token, id).await;
        assert_eq!(view["state"], "approved", "{view}");
        let attempts = view["attempts"].as_array().unwrap();
        assert_eq!(attempts.len(), 2, "{id}: {attempts:?}");
        assert_eq!(
            (
                attempts[0]["state"].clone(),
                attempts[0]["errorClass"].clone()
            ),
            (json!("failed"), json!("not_processed"))
        );
        assert_eq!(attempts[1]["state"], "approved");
        assert!(attempts.iter().all(|a| a["live"] == false));
        let second = format!("{id}_a2");
        let executed: Vec<&Value> = orders
            .iter()
            .filter(|o| o["client_orderid"] == second)
            .collect();
        assert_eq!(executed.len(), 1, "{id}: one PSP order");
        assert_eq!(executed[0]["executions"], 1);
        assert!(
            !orders.iter().any(|o| o["client_orderid"] == id.as_str()),
            "the refused attempt made no order"
        );
        one_webhook_id(&hooks, id);
    }
}
