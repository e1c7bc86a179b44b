//! The back-office command line: `operators create --password-stdin`, `operators
//! set-password` and `companies create --four-eyes-threshold`, run as the real binary.

use crate::procs::bin;
use overture_core::backoffice::{AuditAction, AuditQuery, BackofficeStore};
use overture_core::CompanyId;
use overture_server::backoffice::password::verify_password;
use overture_store::{Cipher, SqlStore, StoreOptions};
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

fn json(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
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

#[tokio::test]
async fn backoffice_cli_creates_operators_with_passwords_and_four_eyes_companies() {
    let dir = TempDir(
        std::env::temp_dir().join(format!("overture-bo-cli-{}", uuid::Uuid::new_v4().simple())),
    );
    std::fs::create_dir_all(&dir.0).unwrap();
    let d = dir.0.as_path();
    let create = |email: &'static str| {
        [
            "operators",
            "create",
            "--email",
            email,
            "--role",
            "approver",
            "--password-stdin",
        ]
    };
    let short = overture(d, &create("a@ops.example"), "short\n");
    assert!(!short.status.success());
    assert!(String::from_utf8_lossy(&short.stderr).contains("at least 12 characters"));
    let made = json(&overture(
        d,
        &create("a@ops.example"),
        "a long enough password\n",
    ));
    assert!(made["operatorId"].as_str().unwrap().starts_with("opr_"));
    assert!(
        made["token"].as_str().unwrap().starts_with("opt_"),
        "the API token still comes"
    );

    let company = [
        "companies",
        "create",
        "--name",
        "Acme",
        "--webhook-url",
        "http://127.0.0.1:9/h",
        "--verify-user-url",
        "http://127.0.0.1:9/v",
        "--payout-approval-threshold",
        "1000",
    ];
    let too_low = overture(
        d,
        &[&company[..], &["--four-eyes-threshold", "500"]].concat(),
        "",
    );
    assert!(!too_low.status.success());
    let made_company = json(&overture(
        d,
        &[&company[..], &["--four-eyes-threshold", "5000"]].concat(),
        "",
    ));

    let store = open(d).await;
    let login = store
        .operator_login("A@ops.example")
        .await
        .unwrap()
        .unwrap();
    assert!(verify_password(
        "a long enough password",
        login.password_hash.as_deref().unwrap()
    ));
    let reset = json(&overture(
        d,
        &["operators", "set-password", "--email", "a@ops.example"],
        "another long password\r\n",
    ));
    assert_eq!(reset["operatorId"], made["operatorId"]);
    let login = store
        .operator_login("a@ops.example")
        .await
        .unwrap()
        .unwrap();
    assert!(verify_password(
        "another long password",
        login.password_hash.as_deref().unwrap()
    ));
    let company = CompanyId::parse(made_company["companyId"].as_str().unwrap()).unwrap();
    assert_eq!(
        store.four_eyes_threshold(&company).await.unwrap(),
        Some(5000.into())
    );
    let audit = store
        .audit_log(&AuditQuery {
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    let sets = audit
        .items
        .iter()
        .filter(|e| e.action == AuditAction::SetPassword)
        .count();
    assert_eq!(sets, 2);
    store.close().await;
}
