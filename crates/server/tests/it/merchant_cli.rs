//! The administrator's command line for what merchants manage through the API: `companies
//! list|show|update|rotate-secret`, `psp-accounts disable`, `operators list|disable|
//! reset-password`, run as the real binary; and a disabled operator over HTTP.

use crate::backoffice_support::*;
use crate::harness::*;
use crate::procs::bin;
use overture_core::backoffice::BackofficeStore;
use overture_core::manage::ManageStore;
use overture_core::store::CompanyStore;
use overture_core::*;
use overture_server::backoffice::password::verify_password;
use overture_store::{Cipher, SqlStore, StoreOptions};
use secrecy::ExposeSecret;
use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn overture(dir: &Path, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(bin())
        .args(args)
        .env(
            "OVERTURE_DATABASE_URL",
            format!("sqlite://{}", dir.join("o.db").display()),
        )
        .env("OVERTURE_MASTER_KEY_FILE", dir.join("master.key"))
        .env_remove("OVERTURE_MASTER_KEY")
        .env_remove("OVERTURE_SECRET_GRACE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn ok(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn refused(out: &Output) -> String {
    assert!(
        !out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

async fn open(dir: &Path) -> SqlStore {
    let key = std::fs::read_to_string(dir.join("master.key")).unwrap();
    let options = StoreOptions {
        url: format!("sqlite://{}", dir.join("o.db").display()),
        max_connections: 2,
        schema: None,
        worker_connections: 0,
    };
    SqlStore::connect(&options, Cipher::from_base64(&key).unwrap())
        .await
        .unwrap()
}

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn temp() -> TempDir {
    let dir = std::env::temp_dir().join(format!("overture-mcli-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    TempDir(dir)
}

#[tokio::test]
async fn companies_are_listed_shown_updated_and_rotated_from_the_command_line() {
    let tmp = temp();
    let dir = &tmp.0;
    let created = ok(&overture(
        dir,
        &[
            "companies",
            "create",
            "--name",
            "CLI MP",
            "--webhook-url",
            "https://mp.example/hook",
            "--verify-user-url",
            "https://mp.example/verify",
            "--payout-approval-threshold",
            "1000",
        ],
        "",
    ));
    let id = created["companyId"].as_str().unwrap().to_owned();
    let api_secret = created["apiSecret"].as_str().unwrap().to_owned();
    let list = overture(dir, &["companies", "list"], "");
    let text = String::from_utf8_lossy(&list.stdout).into_owned();
    assert!(ok(&list)["companies"][0]["companyId"] == id.as_str());
    assert!(!text.contains(&api_secret), "no secrets in list");
    let shown = overture(dir, &["companies", "show", "--company", &id], "");
    assert!(!String::from_utf8_lossy(&shown.stdout).contains(&api_secret));
    assert_eq!(ok(&shown)["name"], "CLI MP");
    let revealed = ok(&overture(
        dir,
        &["companies", "show", "--company", &id, "--reveal-secrets"],
        "",
    ));
    assert_eq!(revealed["apiSecret"], api_secret.as_str());
    assert_eq!(revealed["webhookSecret"], created["webhookSecret"]);

    // Update: only the flags given; the Authorization value from stdin.
    let updated = ok(&overture(
        dir,
        &[
            "companies",
            "update",
            "--company",
            &id,
            "--name",
            "Renamed",
            "--payout-approval-threshold-for",
            "500EUR",
            "--payout-approval-threshold-for",
            "900000CLP",
            "--four-eyes-threshold-for",
            "800EUR",
            "--webhook-authorization-file",
            "-",
        ],
        "Bearer from-stdin\n",
    ));
    assert_eq!(updated["name"], "Renamed");
    assert_eq!(updated["payoutApprovalThresholds"]["EUR"], "500.00");
    assert_eq!(updated["payoutApprovalThresholds"]["CLP"], "900000");
    assert_eq!(updated["fourEyesThresholds"]["EUR"], "800.00");
    assert_eq!(updated["webhookUrl"], "https://mp.example/hook");
    assert_eq!(updated["webhookAuthorizationSet"], true);
    let store = open(dir).await;
    let cid = CompanyId::parse(&id).unwrap();
    let stored = store.company(&cid).await.unwrap().unwrap();
    assert_eq!(
        stored.webhook_authorization.unwrap().expose_secret(),
        "Bearer from-stdin"
    );
    // Refused whole, naming the field: nothing stored.
    let err = refused(&overture(
        dir,
        &[
            "companies",
            "update",
            "--company",
            &id,
            "--name",
            "Not stored",
            "--webhook-url",
            "http://10.0.0.1/x",
        ],
        "",
    ));
    assert!(err.contains("webhookUrl"), "{err}");
    assert_eq!(store.company(&cid).await.unwrap().unwrap().name, "Renamed");
    let err = refused(&overture(
        dir,
        &[
            "companies",
            "update",
            "--company",
            &id,
            "--four-eyes-threshold-for",
            "100EUR",
        ],
        "",
    ));
    assert!(err.contains("fourEyesThresholds.EUR"), "{err}");

    // Rotation: the new secret once; the old one kept for the grace period.
    let rotated = ok(&overture(
        dir,
        &[
            "companies",
            "rotate-secret",
            "--company",
            &id,
            "--which",
            "api",
        ],
        "",
    ));
    let new = rotated["apiSecret"].as_str().unwrap();
    assert_ne!(new, api_secret);
    let revealed = ok(&overture(
        dir,
        &["companies", "show", "--company", &id, "--reveal-secrets"],
        "",
    ));
    assert_eq!(revealed["apiSecret"], new);
    assert_eq!(revealed["previousApiSecret"], api_secret.as_str());
    let rotated = ok(&overture(
        dir,
        &[
            "companies",
            "rotate-secret",
            "--company",
            &id,
            "--which",
            "webhook",
            "--grace",
            "1h",
        ],
        "",
    ));
    assert!(rotated["webhookSecret"]
        .as_str()
        .unwrap()
        .starts_with("whsec_"));
    let err = refused(&overture(
        dir,
        &[
            "companies",
            "rotate-secret",
            "--company",
            &id,
            "--which",
            "both",
        ],
        "",
    ));
    assert!(err.contains("--which"), "{err}");

    // psp-accounts disable.
    let added = ok(&overture(
        dir,
        &[
            "psp-accounts",
            "add",
            "--company",
            &id,
            "--psp-type",
            "FORUMPAY",
            "--base-url",
            "https://api.forumpay.example",
        ],
        r#"{"username":"u","secret":"s","pos_id":"p"}"#,
    ));
    let account = added["accountId"].as_str().unwrap();
    let disabled = ok(&overture(
        dir,
        &["psp-accounts", "disable", "--id", account],
        "",
    ));
    assert_eq!(disabled["enabled"], false);
    let err = refused(&overture(
        dir,
        &[
            "psp-accounts",
            "add",
            "--company",
            &id,
            "--psp-type",
            "PAYMENTSOFT",
            "--base-url",
            "https://psp.example",
        ],
        r#"{"login":"l","merchant_control":"m","endpoint_id":"1","oauth_private_key":"nope"}"#,
    ));
    assert!(
        err.contains("oauth_private_key") && !err.contains("nope"),
        "{err}"
    );
}

#[tokio::test]
async fn operators_are_listed_disabled_and_reset_from_the_command_line() {
    let tmp = temp();
    let dir = &tmp.0;
    let ann = ok(&overture(
        dir,
        &[
            "operators",
            "create",
            "--email",
            "Ann@Example.com",
            "--role",
            "approver",
        ],
        "",
    ));
    // The same email in another letter case: a clear error, not a constraint message.
    let err = refused(&overture(
        dir,
        &[
            "operators",
            "create",
            "--email",
            "ann@example.com",
            "--role",
            "viewer",
        ],
        "",
    ));
    assert!(
        err.contains("already exists") && err.contains(ann["operatorId"].as_str().unwrap()),
        "{err}"
    );
    assert!(!err.to_lowercase().contains("unique constraint"), "{err}");
    let err = refused(&overture(
        dir,
        &[
            "operators",
            "create",
            "--email",
            "Ann@Example.com",
            "--role",
            "viewer",
        ],
        "",
    ));
    assert!(err.contains("already exists"), "{err}");
    ok(&overture(
        dir,
        &[
            "operators",
            "create",
            "--email",
            "bob@example.com",
            "--role",
            "viewer",
        ],
        "",
    ));

    let list = ok(&overture(dir, &["operators", "list"], ""));
    let rows = list["operators"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert!(!list.to_string().contains("token"), "{list}");

    let out = ok(&overture(
        dir,
        &["operators", "reset-password", "--email", "bob@example.com"],
        "a long new passphrase\n",
    ));
    assert_eq!(out["sessionsEnded"], 0);
    let store = open(dir).await;
    let bob = store
        .operator_login("bob@example.com")
        .await
        .unwrap()
        .unwrap();
    assert!(verify_password(
        "a long new passphrase",
        bob.password_hash.as_deref().unwrap()
    ));
    refused(&overture(
        dir,
        &["operators", "reset-password", "--email", "bob@example.com"],
        "short\n",
    ));

    ok(&overture(
        dir,
        &["operators", "disable", "--email", "ann@example.com"],
        "",
    ));
    let list = ok(&overture(dir, &["operators", "list"], ""));
    let ann_row = list["operators"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["email"] == "Ann@Example.com")
        .cloned()
        .unwrap();
    assert_eq!(ann_row["disabled"], true);
    let token = ann["token"].as_str().unwrap();
    let digest = overture_server::api::auth::token_digest(token);
    assert!(
        store.operator_by_token(&digest).await.unwrap().is_none(),
        "its token no longer works"
    );
    assert!(
        store
            .operator_login("ann@example.com")
            .await
            .unwrap()
            .is_none(),
        "nor its login"
    );
    let err = refused(&overture(
        dir,
        &["operators", "disable", "--email", "ann@example.com"],
        "",
    ));
    assert!(err.contains("disabled"), "{err}");
    assert_eq!(store.operators().await.unwrap().len(), 2);
}

#[tokio::test]
async fn a_disabled_operator_can_neither_log_in_nor_use_its_token_or_session() {
    let app = TestApp::start().await;
    let op = operator_with_password(&app, Role::Approver).await;
    let mut browser = Browser::new(&app);
    browser.login_as(&op).await;
    assert_eq!(browser.get("/backoffice/queue").await.status, 200);
    let token = app.operator(Role::Approver).await;
    let api = |token: String| {
        let app = &app;
        async move {
            app.http
                .get(format!("{}/v1/api/backoffice/transactions", app.url))
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(api(token.clone()).await, 200);
    let store = &app.running.app.store;
    let digest = overture_server::api::auth::token_digest(&token);
    let token_op = store.operator_by_token(&digest).await.unwrap().unwrap();
    for o in [&op, &token_op] {
        let record = overture_server::service::audit::operator_action(
            o,
            overture_server::service::audit::Channel::Cli,
            overture_core::backoffice::AuditAction::DisableOperator,
            Some(o.id.to_string()),
            None,
            None,
            SystemClock.now_ms(),
        );
        store
            .disable_operator(&o.id, SystemClock.now_ms(), &record)
            .await
            .unwrap();
    }
    assert_eq!(api(token).await, 401, "the token is refused");
    let page = browser.get("/backoffice/queue").await;
    assert_eq!(page.status, 303, "the session ended: {}", page.body);
    let mut again = Browser::new(&app);
    let answer = again.login(&op.email, PASSWORD).await;
    assert!(
        !again.has_session(),
        "no login: {} {}",
        answer.status,
        answer.body
    );
}
