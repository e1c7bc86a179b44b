//! The README's walk-through script (`examples/walkthrough.sh`) runs as written against a
//! fresh `overture serve` child process: it exits 0, prints each step in the expected shape,
//! and what it printed is true (the server holds those transactions approved, and the demo MP
//! received one webhook for each). Needs `bash`, `curl` and `jq` (Debian: `apt-get install
//! jq`; `.ci/run` installs it when missing); without them the test fails with that hint.

use crate::procs::{bin, env, free_port, spawn};
use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/walkthrough.sh")
}

/// Fails with an install hint when `tool` cannot be run.
fn require(tool: &str) {
    let found = Command::new(tool).arg("--version").output();
    assert!(
        found.is_ok_and(|o| o.status.success()),
        "the walk-through test needs `{tool}` on PATH (Debian: apt-get install {tool})"
    );
}

/// The id a step line starts with (`txn_… approved: created → …`).
fn txn_of(line: &str) -> String {
    let id = line.split(' ').next().unwrap_or_default();
    assert!(
        id.starts_with("txn_") && id.len() == 36,
        "no transaction id at the start of {line:?}"
    );
    id.to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_walkthrough_script_runs_against_a_fresh_server() {
    for tool in ["bash", "curl", "jq"] {
        require(tool);
    }
    let e = env();
    let log = e.dir.join("logs.txt");
    let demo_file = e.dir.join("demo-company.json");
    let mut serve_env = e.db.clone();
    serve_env.extend([
        ("OVERTURE_LISTEN", format!("127.0.0.1:{}", free_port())),
        ("OVERTURE_DEMO_FILE", demo_file.display().to_string()),
        ("OVERTURE_SANDBOX_DELAY", "200ms".to_owned()),
        ("OVERTURE_WORKER_TICK", "50ms".to_owned()),
    ]);
    let (_serve, url) = spawn(&["serve"], &serve_env, &log);

    let out = Command::new("bash")
        .arg(script())
        .current_dir(&e.dir)
        .envs(e.db.iter().map(|(k, v)| (*k, v)))
        .env("OVERTURE_URL", &url)
        .env("OVERTURE_DEMO_FILE", &demo_file)
        .env("OVERTURE_BIN", bin())
        .env("WALKTHROUGH_TIMEOUT", "30")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "walkthrough.sh failed ({}):\n{stdout}\nstderr:\n{stderr}\nserver log:\n{}",
        out.status,
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    let lines: Vec<&str> = stdout.lines().collect();
    let after = |prefix: &str| -> Vec<&str> {
        let at = lines
            .iter()
            .position(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix:?} step in:\n{stdout}"));
        lines[at + 1..]
            .iter()
            .take_while(|l| !l.is_empty())
            .copied()
            .collect()
    };
    assert_eq!(lines[0], format!("Overture walk-through against {url}"));

    let payin = after("1. Pay-in");
    let created: Value = serde_json::from_str(payin[0]).unwrap();
    assert!(created["url"]
        .as_str()
        .unwrap()
        .starts_with(&format!("{url}/sandbox/forumpay/pay/")));
    assert!(payin[1].ends_with("→ 303 https://merchant.example/back"));
    let payin_id = txn_of(payin[2]);
    assert_eq!(created["transactionId"], payin_id.as_str());
    assert!(payin[2]
        .ends_with("approved: created → submitting → pending (Waiting) → approved (Confirmed)"));

    let payout = after("2. Payout");
    let payout_id = txn_of(payout[1]);
    assert!(payout[1]
        .ends_with("approved: created → submitting → pending (processing) → approved (approved)"));

    let held = after("3. Held payout");
    let held_id = txn_of(held[1]);
    assert!(held[1].ends_with("awaiting_approval: created → awaiting_approval"));
    assert!(held[2].starts_with("operator created with the CLI: opr_"));
    let decided = held.last().unwrap();
    assert_eq!(txn_of(decided), held_id);
    assert!(decided.contains("→ awaiting_approval → submitting [operator:opr_"));
    assert!(decided.contains(": KYC ok] → "));
    assert!(decided.ends_with("→ approved (approved)"));

    let ids = [payin_id, payout_id, held_id];
    let views: Vec<Value> = after("4. Status views")
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let view_ids: Vec<&str> = views
        .iter()
        .map(|v| v["transactionId"].as_str().unwrap())
        .collect();
    assert_eq!(view_ids, ids);
    for v in &views {
        assert_eq!(v["state"], "approved");
        assert_eq!(v["webhooks"].as_array().unwrap().len(), 1, "{v}");
        assert_eq!(v["webhooks"][0]["state"], "delivered");
    }

    let hooks: Vec<Value> = after("5. Webhooks")
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(hooks.len(), 3);
    for (hook, view) in hooks.iter().zip(&views) {
        assert_eq!(hook["webhookId"], view["webhooks"][0]["webhookId"]);
        assert_eq!(hook["body"]["transaction_status"], "Approved");
    }
    assert_eq!(
        lines.last().copied(),
        Some("walk-through complete: 3 transactions approved, 3 signed webhooks received by the demo MP")
    );

    // What it printed is what the server holds, and what the demo MP received.
    let demo: Value = serde_json::from_str(&std::fs::read_to_string(&demo_file).unwrap()).unwrap();
    let jwt = demo["companyJwt"].as_str().unwrap();
    let http = reqwest::Client::new();
    for id in &ids {
        let v: Value = http
            .get(format!("{url}/v1/api/mozarto/transactions/{id}"))
            .bearer_auth(jwt)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(v["data"]["state"], "approved", "{v}");
    }
    let received: Value = http
        .get(format!("{url}/sandbox/mp/webhooks"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for id in &ids {
        let n = received["webhooks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|w| w["body"]["transaction_id"] == id.as_str())
            .count();
        assert_eq!(n, 1, "webhooks for {id}: {received}");
    }
}
