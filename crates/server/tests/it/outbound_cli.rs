//! Outbound URLs checked when saved: `companies create` and `psp-accounts add` refuse a URL the
//! outbound policy refuses, naming the flag, with a non-zero exit and nothing stored.

use crate::procs::{bin, env, Env};
use overture_core::store::CompanyStore;
use overture_core::CompanyId;
use overture_store::{Cipher, SqlStore, StoreOptions};
use std::process::{Command, Output};

fn overture(env: &Env, args: &[&str], extra_env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(bin());
    command
        .args(args)
        .envs(env.db.iter().map(|(k, v)| (*k, v.as_str())))
        .env_remove("OVERTURE_MASTER_KEY")
        .env_remove("OVERTURE_PRODUCTION")
        .env_remove("OVERTURE_OUTBOUND_ALLOW");
    for (k, v) in extra_env {
        command.env(k, v);
    }
    command.output().unwrap()
}

fn create_company(env: &Env, webhook_url: &str, production: bool) -> Output {
    let production = if production { "true" } else { "false" };
    overture(
        env,
        &[
            "companies",
            "create",
            "--name",
            "Outbound MP",
            "--webhook-url",
            webhook_url,
            "--verify-user-url",
            "https://mp.example.com/verify",
        ],
        &[("OVERTURE_PRODUCTION", production)],
    )
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

async fn companies_stored(env: &Env) -> i64 {
    let dir = &env.dir;
    if !dir.join("master.key").exists() {
        return 0;
    }
    let key = std::fs::read_to_string(dir.join("master.key")).unwrap();
    let options = StoreOptions {
        url: format!("sqlite://{}", dir.join("overture.db").display()),
        max_connections: 1,
        schema: None,
        worker_connections: 0,
    };
    let store = SqlStore::connect(&options, Cipher::from_base64(&key).unwrap())
        .await
        .unwrap();
    store.count_companies().await.unwrap()
}

fn assert_refused(out: &Output, flag: &str, why: &str) {
    assert!(!out.status.success(), "accepted: {}", stderr(out));
    let err = stderr(out);
    assert!(err.contains(&format!("{flag} refused")), "{err}");
    assert!(err.contains(why), "{err}");
    assert!(out.stdout.is_empty());
}

#[tokio::test]
async fn metadata_address_is_refused_naming_the_flag() {
    let env = env();
    let out = create_company(&env, "http://169.254.169.254/latest/meta-data/", false);
    assert_refused(
        &out,
        "--webhook-url",
        "169.254.169.254 is a link-local address",
    );
    assert_eq!(companies_stored(&env).await, 0);
}

#[tokio::test]
async fn integer_loopback_is_refused_in_production_only() {
    let env = env();
    let out = create_company(&env, "http://2130706433/hook", true);
    assert_refused(&out, "--webhook-url", "OUTBOUND_PLAIN_HTTP");
    let out = create_company(&env, "https://2130706433/hook", true);
    assert_refused(&out, "--webhook-url", "127.0.0.1 is a loopback address");
    assert_eq!(companies_stored(&env).await, 0);

    let out = create_company(&env, "http://2130706433:9/hook", false);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(companies_stored(&env).await, 1);
}

#[tokio::test]
async fn allow_list_admits_an_internal_url_in_production() {
    let env = env();
    let out = overture(
        &env,
        &[
            "companies",
            "create",
            "--name",
            "Internal MP",
            "--webhook-url",
            "http://10.1.2.3/hook",
            "--verify-user-url",
            "http://mp.internal/verify",
        ],
        &[
            ("OVERTURE_PRODUCTION", "true"),
            ("OVERTURE_OUTBOUND_ALLOW", "10.1.2.0/24,mp.internal"),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(companies_stored(&env).await, 1);
}

#[tokio::test]
async fn unresolvable_host_is_accepted_with_a_warning() {
    let env = env();
    let out = create_company(&env, "https://mp.invalid/hook", true);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("warning: --webhook-url: mp.invalid does not resolve"));
}

#[tokio::test]
async fn psp_base_url_is_checked() {
    let env = env();
    let company = CompanyId::generate().to_string();
    let out = overture(
        &env,
        &[
            "psp-accounts",
            "add",
            "--company",
            &company,
            "--psp-type",
            "FORUMPAY",
            "--base-url",
            "https://[::ffff:10.0.0.1]/api",
        ],
        &[],
    );
    assert_refused(&out, "--base-url", "private (RFC 1918)");
}

#[test]
fn bad_allow_list_entry_is_named() {
    let env = env();
    let out = overture(
        &env,
        &[
            "companies",
            "create",
            "--name",
            "x",
            "--webhook-url",
            "https://a.example/",
            "--verify-user-url",
            "https://a.example/",
        ],
        &[("OVERTURE_OUTBOUND_ALLOW", "10.0.0.0/8,not a host")],
    );
    assert!(!out.status.success());
    assert!(stderr(&out).contains("\"not a host\""), "{}", stderr(&out));
}

#[tokio::test]
async fn sandbox_url_is_checked_before_anything_is_stored() {
    let env = env();
    let out = overture(
        &env,
        &[
            "companies",
            "create",
            "--name",
            "Sandbox MP",
            "--webhook-url",
            "http://127.0.0.1:9/hook",
            "--verify-user-url",
            "http://127.0.0.1:9/verify",
            "--with-sandbox-psps",
            "--sandbox-url",
            "http://192.168.1.10:8080",
        ],
        &[],
    );
    assert_refused(&out, "--sandbox-url", "private (RFC 1918)");
    assert_eq!(companies_stored(&env).await, 0);
}
