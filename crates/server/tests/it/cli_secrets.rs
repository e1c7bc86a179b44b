//! Secrets never on the command line: PSP credentials come from stdin, the webhook
//! `Authorization` value from the environment.

use crate::procs::{bin, env, open_store, run};
use overture_core::store::CompanyStore;
use overture_core::CompanyId;
use std::io::Write;
use std::process::{Command, Stdio};

#[tokio::test]
async fn psp_credentials_come_from_stdin_and_never_from_argv() {
    let e = env();
    let mut envs = e.db.clone();
    envs.push((
        "OVERTURE_WEBHOOK_AUTHORIZATION",
        "Bearer from-env".to_owned(),
    ));
    let company = run(
        &[
            "companies",
            "create",
            "--name",
            "Secrets MP",
            "--webhook-url",
            "http://127.0.0.1:9/hook",
            "--verify-user-url",
            "http://127.0.0.1:9/verify",
        ],
        &envs,
    );
    let id = company["companyId"].as_str().unwrap().to_owned();
    let add = |extra: &[&str], stdin: &str| {
        let mut child = Command::new(bin())
            .args([
                "psp-accounts",
                "add",
                "--company",
                &id,
                "--psp-type",
                "FORUMPAY",
            ])
            .args(["--base-url", "http://127.0.0.1:9/forumpay"])
            .args(extra)
            .envs(e.db.iter().map(|(k, v)| (*k, v)))
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
    };
    // The old argv form is gone.
    let out = add(&["--credential", "secret=s3cr3t"], "");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--credential"));
    // Missing ones are named.
    let out = add(&[], r#"{"username":"u","secret":"s3cr3t"}"#);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("pos_id"));
    let out = add(&[], r#"{"username":"u","secret":"s3cr3t","pos_id":"p"}"#);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed = run(&["psp-accounts", "list", "--company", &id], &e.db);
    let text = listed.to_string();
    assert!(
        text.contains("pos_id") && !text.contains("s3cr3t"),
        "{text}"
    );
    // The webhook Authorization value came from the environment.
    let store = open_store(&e).await;
    let stored = store
        .company(&CompanyId::parse(&id).unwrap())
        .await
        .unwrap()
        .unwrap();
    let auth = stored.webhook_authorization.unwrap();
    assert_eq!(
        secrecy::ExposeSecret::expose_secret(&auth),
        "Bearer from-env"
    );
}
