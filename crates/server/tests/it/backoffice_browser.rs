//! The back office in a real browser: Debian's `chromium` driven by `chromedriver` over
//! WebDriver (fantoccini). An operator logs in, approves one payout and rejects another; the
//! test checks the states through the API and the merchant's webhooks, and writes screenshots
//! of the queue to `target/backoffice-queue.png` (laptop) and `target/backoffice-queue-phone.png`,
//! and of a transaction's detail page to `target/backoffice-transaction.png`.
//!
//! When chromium or chromedriver is missing the test fails (CI installs them): a browser test
//! that silently skips proves nothing.

use crate::backoffice_support::*;
use crate::harness::*;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use overture_core::*;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A program from an environment variable or its Debian path; fails the test when missing.
pub(crate) fn program(env: &str, default: &str) -> PathBuf {
    let path = std::env::var_os(env)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(default));
    assert!(
        path.exists(),
        "{} not found (set {env} or install Debian's chromium and chromium-driver: \
         apt-get install -y chromium chromium-driver)",
        path.display()
    );
    path
}

/// A chromedriver process on a free 127.0.0.1 port, killed on drop.
pub(crate) struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    pub(crate) async fn start(binary: &Path) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(binary)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        let driver = Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        for _ in 0..100 {
            if reqwest::get(format!("{}/status", driver.url)).await.is_ok() {
                return driver;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("chromedriver did not answer on {}", driver.url);
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Headless chromium with a fresh profile and no background traffic.
pub(crate) async fn browser(driver: &Driver, chromium: &Path, profile: &Path) -> Client {
    let args = [
        "--headless=new".to_owned(),
        "--no-sandbox".into(),
        "--disable-gpu".into(),
        "--disable-dev-shm-usage".into(),
        "--disable-background-networking".into(),
        "--disable-component-update".into(),
        "--disable-sync".into(),
        "--no-first-run".into(),
        "--window-size=1280,900".into(),
        format!("--user-data-dir={}", profile.display()),
    ];
    let caps = json!({
        "goog:chromeOptions": { "binary": chromium, "args": args },
    });
    let caps = caps.as_object().cloned().unwrap_or_default();
    ClientBuilder::new(HttpConnector::new())
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .unwrap_or_else(|e| panic!("chromium could not start through chromedriver: {e}"))
}

/// `target/<name>`, next to the build output.
fn target_file(name: &str) -> PathBuf {
    let dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

pub(crate) async fn screenshot(c: &Client, name: &str) {
    let png = c.screenshot().await.unwrap();
    assert!(png.starts_with(b"\x89PNG"), "a PNG screenshot");
    std::fs::write(target_file(name), png).unwrap();
}

pub(crate) async fn log_in(c: &Client, base: &str, email: &str) {
    c.goto(&format!("{base}/backoffice/queue")).await.unwrap();
    // Not logged in: the queue redirects to the login page.
    c.wait()
        .for_element(Locator::Css("input[name=email]"))
        .await
        .unwrap()
        .send_keys(email)
        .await
        .unwrap();
    let password = c.find(Locator::Css("input[name=password]")).await.unwrap();
    password.send_keys(PASSWORD).await.unwrap();
    c.find(Locator::Css("button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.wait().for_element(Locator::Id("queue")).await.unwrap();
}

/// Waits for the page's notice to mention `id` (the page after the redirect); returns it.
pub(crate) async fn notice_about(c: &Client, id: &str) -> String {
    for _ in 0..100 {
        if let Ok(notice) = c.find(Locator::Id("notice")).await {
            if let Ok(text) = notice.text().await {
                if text.contains(id) {
                    return text;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no notice about {id}: {:?}", c.source().await);
}

/// Types a reason into the payout's row and clicks approve or reject; returns the notice.
async fn decide(c: &Client, id: &str, decision: &str, reason: &str) -> String {
    let row = c.find(Locator::Css(&format!("#row-{id}"))).await.unwrap();
    row.find(Locator::Css("input[name=reason]"))
        .await
        .unwrap()
        .send_keys(reason)
        .await
        .unwrap();
    row.find(Locator::Css(&format!("button[value={decision}]")))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    notice_about(c, id).await
}

#[tokio::test]
async fn backoffice_browser_operator_approves_one_payout_and_rejects_another() {
    let chromedriver = program("OVERTURE_CHROMEDRIVER", "/usr/bin/chromedriver");
    let chromium = program("OVERTURE_CHROMIUM", "/usr/bin/chromium");
    let app = TestApp::start().await;
    let op = operator_with_password(&app, Role::Approver).await;
    let to_approve = app.payout("1500.00").await;
    let to_reject = app.payout("2500.00").await;

    let driver = Driver::start(&chromedriver).await;
    let profile = app.dir.join("chromium-profile");
    let c = browser(&driver, &chromium, &profile).await;
    log_in(&c, &app.url, &op.email).await;
    screenshot(&c, "backoffice-queue.png").await;
    let phone = c.set_window_size(390, 844).await;
    if phone.is_ok() {
        screenshot(&c, "backoffice-queue-phone.png").await;
        c.set_window_size(1280, 900).await.unwrap();
    }

    let approved = decide(&c, &to_approve, "approve", "KYC verified").await;
    assert!(
        approved.contains(&format!("Payout {to_approve} approved")),
        "{approved}"
    );
    let rejected = decide(&c, &to_reject, "reject", "suspected bonus abuse").await;
    assert!(
        rejected.contains(&format!("Payout {to_reject} rejected")),
        "{rejected}"
    );
    assert!(c
        .find(Locator::Css(&format!("#row-{to_approve}")))
        .await
        .is_err());

    let view = app.wait_final(&to_approve).await;
    assert_eq!(view["transactionStatus"], "Approved");
    let decided = view["history"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["from"] == "awaiting_approval")
        .cloned()
        .unwrap();
    assert_eq!(decided["actor"], format!("operator:{}", op.id));
    assert_eq!(decided["reason"], "KYC verified");
    let view = app.wait_final(&to_reject).await;
    assert_eq!(view["state"], "rejected");

    let hook = &app.mp.wait_delivered(&to_approve, 1).await[0];
    assert_eq!(hook.json["transaction_status"], "Approved");
    assert!(app.signature_ok(hook));
    let hook = &app.mp.wait_delivered(&to_reject, 1).await[0];
    assert_eq!(hook.json["transaction_status"], "Rejected");
    assert_eq!(hook.json["message"], "suspected bonus abuse");

    // The detail page shows the decision and the delivered webhook's attempt.
    c.goto(&format!("{}/backoffice/transactions/{to_approve}", app.url))
        .await
        .unwrap();
    let history = c
        .find(Locator::Id("history"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        history.contains("KYC verified") && history.contains(&op.email),
        "{history}"
    );
    screenshot(&c, "backoffice-transaction.png").await;
    c.close().await.unwrap();
    drop(driver);
}
