//! Child processes of the real `overture` binary, killed (SIGKILL) when dropped.

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A running `overture` child process.
pub struct Proc {
    pub child: Child,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Proc {
    /// `kill -9`: no shutdown hooks run.
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `overture` binary built for this test run.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_overture")
}

/// Runs a one-shot command and parses its stdout (JSON, or a bare string).
pub fn run(args: &[&str], envs: &[(&str, String)]) -> Value {
    let out = Command::new(bin())
        .args(args)
        .envs(envs.iter().map(|(k, v)| (*k, v)))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "overture {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    serde_json::from_str(text.trim()).unwrap_or(Value::String(text.trim().to_owned()))
}

/// Starts a long-running command and waits for its `{"listening": url}` line; logs go to `log`.
pub fn spawn(args: &[&str], envs: &[(&str, String)], log: &Path) -> (Proc, String) {
    let (proc, url, _) = spawn_capturing(args, envs, log);
    (proc, url)
}

/// As [`spawn`], also returning the JSON lines printed before `{"listening": url}` (e.g. the
/// demo company `serve` creates on first start).
pub fn spawn_capturing(
    args: &[&str],
    envs: &[(&str, String)],
    log: &Path,
) -> (Proc, String, Vec<Value>) {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    let mut child = Command::new(bin())
        .args(args)
        .envs(envs.iter().map(|(k, v)| (*k, v)))
        .env("RUST_LOG", "info,sqlx=warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log))
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let mut before = Vec::new();
    let url = loop {
        let line = lines
            .next()
            .expect("process exited before listening")
            .unwrap();
        if let Ok(v) = serde_json::from_str::<Value>(&line) {
            if let Some(url) = v["listening"].as_str() {
                break url.to_owned();
            }
            before.push(v);
        }
    };
    // Keep draining stdout so the child never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (Proc { child }, url, before)
}

/// A free 127.0.0.1 port (bound and released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A temporary directory with the database settings every child process shares.
pub struct Env {
    pub dir: std::path::PathBuf,
    pub db: Vec<(&'static str, String)>,
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A fresh directory and SQLite database (or, when `OVERTURE_TEST_POSTGRES_URL` is set and
/// `postgres` is true, a fresh PostgreSQL schema).
pub fn env() -> Env {
    let dir = std::env::temp_dir().join(format!(
        "overture-restart-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let db = vec![
        (
            "OVERTURE_DATABASE_URL",
            format!("sqlite://{}", dir.join("overture.db").display()),
        ),
        (
            "OVERTURE_MASTER_KEY_FILE",
            dir.join("master.key").display().to_string(),
        ),
    ];
    Env { dir, db }
}

/// Creates a PAYMENTSOFT payout through `url`; `None` when the node did not answer.
pub async fn payout(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    user_token: &str,
    amount: &str,
) -> Option<String> {
    let body: Value = serde_json::from_str(&format!(
        r#"{{"pspType":"PAYMENTSOFT","type":"PAYOUT","baseamount":{amount},"currency":"EUR","userId":"u1","email":"p@example.com"}}"#
    ))
    .unwrap();
    let resp = http
        .post(format!("{url}/v1/api/mozarto/cashier"))
        .bearer_auth(token)
        .header("x-user-authorization", user_token)
        .json(&body)
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .ok()?;
    let v: Value = resp.json().await.ok()?;
    v["data"]["transactionId"].as_str().map(str::to_owned)
}

/// Every transaction of a company, through the back-office API.
pub async fn list_all(
    http: &reqwest::Client,
    url: &str,
    operator: &str,
    company: &str,
) -> Vec<Value> {
    let v: Value = http
        .get(format!(
            "{url}/v1/api/backoffice/transactions?company={company}&limit=500"
        ))
        .bearer_auth(operator)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["data"]["items"].as_array().unwrap().clone()
}

/// A sandbox process and a company wired to it and to the fake MP at `mp_url`, created through
/// the CLI, with a company JWT and a viewer operator's token.
pub struct Provisioned {
    pub sandbox: Proc,
    pub sandbox_url: String,
    pub company_id: String,
    pub token: String,
    pub operator: String,
}

/// Starts `overture sandbox` with `sandbox_env` (its seed file beside `log`), then provisions a
/// company on the `db` settings whose PSP accounts are opened at that sandbox.
pub fn provision(
    db: &[(&'static str, String)],
    mp_url: &str,
    sandbox_env: &[(&str, String)],
    log: &Path,
) -> Provisioned {
    let mut sandbox_env = sandbox_env.to_vec();
    sandbox_env.push((
        "OVERTURE_SANDBOX_SEED_FILE",
        log.with_file_name("sandbox.seed").display().to_string(),
    ));
    let (sandbox, sandbox_url) = spawn(&["sandbox", "--listen", "127.0.0.1:0"], &sandbox_env, log);
    let company = run(
        &[
            "companies",
            "create",
            "--name",
            "Process-test MP",
            "--webhook-url",
            &format!("{mp_url}/webhook"),
            "--verify-user-url",
            &format!("{mp_url}/verify"),
            "--with-sandbox-psps",
            "--sandbox-url",
            &sandbox_url,
        ],
        db,
    );
    let company_id = company["companyId"].as_str().unwrap().to_owned();
    let secret = secrecy::SecretString::from(company["apiSecret"].as_str().unwrap().to_owned());
    let token = overture_server::api::auth::issue_company_token(
        &overture_core::CompanyId::parse(&company_id).unwrap(),
        &secret,
        crate::harness::now_secs(),
        3600,
    );
    let operator = run(
        &[
            "operators",
            "create",
            "--email",
            "ops@example.com",
            "--role",
            "viewer",
        ],
        db,
    )["token"]
        .as_str()
        .unwrap()
        .to_owned();
    Provisioned {
        sandbox,
        sandbox_url,
        company_id,
        token,
        operator,
    }
}

/// The orders a sandbox process at `sandbox_url` holds for `psp` (`paymentsoft`, `forumpay`),
/// from its `/_orders` inspection route.
pub async fn sandbox_orders(http: &reqwest::Client, sandbox_url: &str, psp: &str) -> Vec<Value> {
    http.get(format!("{sandbox_url}/sandbox/{psp}/_orders"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// The SQLite store of a process-test [`Env`], opened with its master key.
pub async fn open_store(env: &Env) -> overture_store::SqlStore {
    let key = std::fs::read_to_string(env.dir.join("master.key")).unwrap();
    let options = overture_store::StoreOptions {
        url: env.db[0].1.clone(),
        max_connections: 1,
        schema: None,
        worker_connections: 0,
    };
    overture_store::SqlStore::connect(&options, overture_store::Cipher::from_base64(&key).unwrap())
        .await
        .unwrap()
}
