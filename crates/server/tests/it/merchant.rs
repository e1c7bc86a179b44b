//! The example merchant (`examples/merchant/merchant.py`) against a real `overture serve`
//! child process, wired to it by a company made with the CLI (`companies create
//! --webhook-url … --verify-user-url … --with-sandbox-psps`). A pay-in paid on its hosted
//! page, a payout, a payout the merchant denies, and a held payout approved by an operator go
//! through the Cashier API. The merchant answers the first delivery of each webhook 500, so
//! every webhook is delivered twice; it must check each signature with `standardwebhooks`,
//! record each final state once, and have answered each verify-user call, the signed
//! approval-time one included, and require the company's webhook `Authorization` value on the
//! signed calls. Forged calls (a bad signature, or a good one without that value) are refused
//! and change nothing.
//!
//! The merchant runs in `$OVERTURE_TEST_PYTHON`, else `<repo>/.venv/bin/python` (made by
//! `python3 -m venv .venv && .venv/bin/pip install -r tests/python/requirements.txt`, as
//! `.ci/run` does). Without it, or without `standardwebhooks`, the test fails with that hint.

use crate::procs::{env, free_port, run, spawn, Proc};
use crate::python::repo_root;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

const RETURN_URL: &str = "https://merchant.example/back";
/// The company's webhook `Authorization` value, which the merchant requires on webhooks and
/// on the signed approval-time call.
const INBOUND_AUTH: &str = "Bearer mp-inbound-secret";

/// The interpreter with `standardwebhooks` 1.1.0.
fn python() -> PathBuf {
    crate::python::python("standardwebhooks", "1.1.0", "the example merchant test")
}

/// Starts the merchant in `python` on `port` with the company's webhook secret (environment only) and
/// waits for its `{"listening": url}` line; its log goes to `log`.
fn start_merchant(python: &Path, port: u16, secret: &str, log: &Path) -> (Proc, String) {
    let log = std::fs::File::create(log).unwrap();
    let mut child = Command::new(python)
        .arg(repo_root().join("examples/merchant/merchant.py"))
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .args(["--deny", "blocked-user", "--deny-reason", "self-excluded"])
        .arg("--answer-500-once")
        .env("MERCHANT_WEBHOOK_SECRET", secret)
        .env("MERCHANT_WEBHOOK_AUTHORIZATION", INBOUND_AUTH)
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log))
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = serde_json::from_str::<Value>(&line)
        .ok()
        .and_then(|v| v["listening"].as_str().map(str::to_owned));
    let url = url.unwrap_or_else(|| panic!("the merchant did not start: {line:?}"));
    (Proc { child }, url)
}

struct Overture {
    http: reqwest::Client,
    url: String,
    jwt: String,
}

impl Overture {
    async fn cashier(&self, user: &str, body: Value) -> (u16, Value) {
        let resp = self
            .http
            .post(format!("{}/v1/api/mozarto/cashier", self.url))
            .bearer_auth(&self.jwt)
            .header("x-user-authorization", format!("session-of-{user}"))
            .json(&body)
            .send()
            .await
            .unwrap();
        (resp.status().as_u16(), resp.json().await.unwrap())
    }

    async fn view(&self, id: &str) -> Value {
        self.http
            .get(format!("{}/v1/api/mozarto/transactions/{id}", self.url))
            .bearer_auth(&self.jwt)
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap()["data"]
            .clone()
    }

    async fn wait_state(&self, id: &str, want: &str) -> Value {
        for _ in 0..300 {
            let v = self.view(id).await;
            if v["state"] == want {
                return v;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("{id} never reached {want}: {}", self.view(id).await);
    }
}

async fn received(http: &reqwest::Client, merchant: &str) -> Value {
    http.get(format!("{merchant}/received"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn payout(user: &str, amount: &str) -> Value {
    serde_json::from_str(&format!(
        r#"{{"pspType":"PAYMENTSOFT","type":"PAYOUT","baseamount":{amount},"currency":"EUR","userId":"{user}","email":"{user}@example.com"}}"#
    ))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_merchant_verifies_dedupes_and_answers_verify_user() {
    let python = python();
    let e = env();
    let log = e.dir.join("logs.txt");
    let mut serve_env = e.db.clone();
    serve_env.extend([
        ("OVERTURE_LISTEN", format!("127.0.0.1:{}", free_port())),
        ("OVERTURE_SANDBOX_DELAY", "200ms".to_owned()),
        ("OVERTURE_WORKER_TICK", "50ms".to_owned()),
        (
            "OVERTURE_WEBHOOK_RETRY_SCHEDULE",
            "300ms,1s,1s,1s".to_owned(),
        ),
    ]);
    let (_serve, url) = spawn(&["serve"], &serve_env, &log);

    // The company, wired to the merchant's port before it runs (it needs the webhook secret).
    let port = free_port();
    let mut create_env = e.db.clone();
    create_env.push(("OVERTURE_WEBHOOK_AUTHORIZATION", INBOUND_AUTH.to_owned()));
    let company = run(
        &[
            "companies",
            "create",
            "--name",
            "Example merchant",
            "--webhook-url",
            &format!("http://127.0.0.1:{port}/webhook"),
            "--verify-user-url",
            &format!("http://127.0.0.1:{port}/verify-user"),
            "--payout-approval-threshold",
            "1000",
            "--verify-payins",
            "--with-sandbox-psps",
            "--sandbox-url",
            &url,
        ],
        &create_env,
    );
    let secret = company["webhookSecret"].as_str().unwrap().to_owned();
    let company_id = company["companyId"].as_str().unwrap();
    let jwt = run(&["companies", "token", "--company", company_id], &e.db);
    let (_merchant, merchant) = start_merchant(&python, port, &secret, &e.dir.join("merchant.txt"));
    let o = Overture {
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        url: url.clone(),
        jwt: jwt.as_str().unwrap().to_owned(),
    };

    // A pay-in (verified first: --verify-payins), paid on the hosted page.
    let (status, payin) = o
        .cashier(
            "player-1",
            json!({"pspType": "FORUMPAY", "type": "PAYIN", "baseamount": 25.00,
                "currency": "EUR", "userId": "player-1", "email": "player-1@example.com",
                "country": "DE", "returnUrl": RETURN_URL}),
        )
        .await;
    assert_eq!(status, 200, "{payin}");
    let payin_id = payin["data"]["transactionId"].as_str().unwrap().to_owned();
    let page = payin["data"]["url"].as_str().unwrap();
    let paid = o
        .http
        .post(page)
        .form(&[("outcome", "approve")])
        .send()
        .await
        .unwrap();
    assert_eq!(paid.status().as_u16(), 303);

    // A payout, and one the merchant denies.
    let (status, out) = o.cashier("player-1", payout("player-1", "100.00")).await;
    assert_eq!(status, 200, "{out}");
    let payout_id = out["data"]["transactionId"].as_str().unwrap().to_owned();
    let (status, denied) = o
        .cashier("blocked-user", payout("blocked-user", "100.00"))
        .await;
    assert_eq!(status, 403, "{denied}");
    assert_eq!(denied["errorCode"], "USER_NOT_VERIFIED");
    assert_eq!(
        denied["message"],
        "User not verified by the merchant platform: self-excluded"
    );
    assert!(denied.get("transactionId").is_none(), "{denied}");

    // A held payout, approved by an operator: the merchant is asked again, signed.
    let (status, held) = o.cashier("player-1", payout("player-1", "1500.00")).await;
    assert_eq!(status, 200, "{held}");
    let held_id = held["data"]["transactionId"].as_str().unwrap().to_owned();
    o.wait_state(&held_id, "awaiting_approval").await;
    let operator = run(
        &[
            "operators",
            "create",
            "--email",
            "ops@example.com",
            "--role",
            "approver",
        ],
        &e.db,
    );
    let approved = o
        .http
        .post(format!(
            "{url}/v1/api/backoffice/transactions/{held_id}/approve"
        ))
        .bearer_auth(operator["token"].as_str().unwrap())
        .json(&json!({"reason": "KYC ok"}))
        .send()
        .await
        .unwrap();
    assert_eq!(approved.status().as_u16(), 200);

    let ids = [payin_id.clone(), payout_id.clone(), held_id.clone()];
    for id in &ids {
        o.wait_state(id, "approved").await;
    }
    // Each webhook delivered twice (the first answered 500) and recorded once.
    let mut got = Value::Null;
    for _ in 0..300 {
        got = received(&o.http, &merchant).await;
        let done = got["webhooks"].as_array().unwrap().len() == 3
            && got["deliveries"].as_array().unwrap().len() == 6;
        if done {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let webhooks = got["webhooks"].as_array().unwrap();
    assert_eq!(webhooks.len(), 3, "{got}");
    for id in &ids {
        let view = o.view(id).await;
        let recorded: Vec<&Value> = webhooks
            .iter()
            .filter(|w| w["transactionId"] == id.as_str())
            .collect();
        assert_eq!(recorded.len(), 1, "{id}: {got}");
        let w = recorded[0];
        assert_eq!(w["signatureVerified"], true);
        assert_eq!(w["transactionStatus"], "Approved");
        assert_eq!(w["deliveryCount"], 2, "{w}");
        assert_eq!(w["amount"], view["amount"]);
        assert_eq!(view["webhooks"].as_array().unwrap().len(), 1, "{view}");
        assert_eq!(view["webhooks"][0]["webhookId"], w["webhookId"]);
        assert_eq!(view["webhooks"][0]["attempts"], 2, "{view}");
        assert_eq!(view["webhooks"][0]["lastHttpStatus"], 200);
        let answers: Vec<(bool, i64)> = got["deliveries"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["webhookId"] == w["webhookId"])
            .map(|d| {
                (
                    d["duplicate"].as_bool().unwrap(),
                    d["answered"].as_i64().unwrap(),
                )
            })
            .collect();
        assert_eq!(answers, [(false, 500), (true, 200)], "{got}");
    }

    // verify-user: the pay-in, both payouts with the user's own authorization, and the held
    // payout's approval, signed.
    let calls: Vec<Value> = got["verifyUser"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            json!([
                c["context"],
                c["userId"],
                c["type"],
                c["amount"],
                c["authorization"],
                c["transactionId"],
                c["signatureVerified"],
                c["answer"]
            ])
        })
        .collect();
    assert_eq!(
        calls,
        [
            json!(["payment", "player-1", "PAYIN", "25.00", "session-of-player-1", null, null, {"allowed": true}]),
            json!(["payment", "player-1", "PAYOUT", "100.00", "session-of-player-1", null, null, {"allowed": true}]),
            json!(["payment", "blocked-user", "PAYOUT", "100.00", "session-of-blocked-user", null, null,
                {"allowed": false, "reason": "self-excluded"}]),
            json!(["payment", "player-1", "PAYOUT", "1500.00", "session-of-player-1", null, null, {"allowed": true}]),
            json!(["approval", "player-1", "PAYOUT", "1500.00", INBOUND_AUTH, held_id, true, {"allowed": true}]),
        ]
    );
    assert_eq!(got["refused"], json!([]));

    // Forged calls: a bad signature, or a good one without the company's Authorization value,
    // is refused (401) and changes nothing.
    let forged_body = r#"{"transaction_id":"txn_forged","transaction_status":"Approved"}"#;
    let now = crate::harness::now_secs();
    let approval_body = json!({"userId": "blocked-user", "type": "PAYOUT", "amount": "1.00",
        "currency": "EUR", "transactionId": "txn_forged", "context": "approval"})
    .to_string();
    let good_signature =
        overture_server::workers::signing::sign(&secret, "msg_forged", now as i64, forged_body);
    for (path, body, signature, auth) in [
        (
            "webhook",
            forged_body,
            "v1,bm90IGEgc2lnbmF0dXJl",
            INBOUND_AUTH,
        ),
        (
            "verify-user",
            approval_body.as_str(),
            "v1,bm90IGEgc2lnbmF0dXJl",
            INBOUND_AUTH,
        ),
        (
            "webhook",
            forged_body,
            good_signature.as_str(),
            "Bearer guessed",
        ),
    ] {
        let resp = o
            .http
            .post(format!("{merchant}/{path}"))
            .header("content-type", "application/json")
            .header("authorization", auth)
            .header("webhook-id", "msg_forged")
            .header("webhook-timestamp", now.to_string())
            .header("webhook-signature", signature)
            .body(body.to_owned())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 401, "{path} {auth}");
    }
    let after = received(&o.http, &merchant).await;
    assert_eq!(after["webhooks"], got["webhooks"]);
    assert_eq!(after["verifyUser"], got["verifyUser"]);
    let reasons: Vec<&str> = after["refused"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["reason"].as_str().unwrap())
        .collect();
    assert_eq!(reasons.len(), 3, "{after}");
    assert!(reasons[0].starts_with("webhook signature:"), "{reasons:?}");
    assert!(
        reasons[1].starts_with("verify-user signature:"),
        "{reasons:?}"
    );
    assert_eq!(reasons[2], "wrong or missing Authorization");
}
