//! Criterion micro-benchmarks of the pure functions on every payment's path, so regressions
//! show: company JWT check, Cashier request validation, signature computations (Standard
//! Webhooks, PaynetEasy control and OAuth RSA-SHA256), a state transition, and what the
//! access layer adds to every request (a trace, the HTTP metrics).
//! Run: `cargo bench -p overture-server --bench hot_paths`.

use criterion::{criterion_group, criterion_main, Criterion};
use overture_connectors::paymentsoft::{oauth, wire};
use overture_core::*;
use overture_server::api::auth::{issue_company_token, verify_company_jwt};
use overture_server::api::{cashier_in, strict_json};
use overture_server::workers::signing;
use secrecy::SecretString;
use std::hint::black_box;

fn company() -> Company {
    Company {
        id: CompanyId::generate(),
        name: "bench".into(),
        api_secret: SecretString::from("0123456789abcdef0123456789abcdef0123456789abcdef"),
        webhook_url: "http://127.0.0.1/h".into(),
        webhook_secret: SecretString::from(signing::generate_secret()),
        webhook_authorization: None,
        verify_user_url: "http://127.0.0.1/v".into(),
        payout_approval_threshold: None,
        verify_payins: false,
        created_at: 0,
        thresholds: Default::default(),
        retired: Default::default(),
    }
}

const BODY: &str = r#"{"pspType":"FORUMPAY","type":"PAYIN","baseamount":100.10,"currency":"EUR","userId":"player-1",
"email":"player@example.com","country":"DE","brandId":"b1","merchantReference":"order-7781",
"returnUrl":"https://merchant.example/back","preferredCrypto":"BTC"}"#;

/// A document of 100 rules, each with a type, currencies, countries, an amount range and a
/// metadata condition, where only the last one matches the benchmark's request.
fn hundred_rules() -> overture_core::routing::RuleSet {
    use overture_core::routing::{parse_rules, RulesContext};
    struct Any;
    impl RulesContext for Any {
        fn psp_known(&self, _: &str) -> bool {
            true
        }
        fn account_known(&self, _: &PspAccountId) -> bool {
            true
        }
    }
    let rules: Vec<serde_json::Value> = (0..100)
        .map(|i| {
            let last = i == 99;
            serde_json::json!({
                "name": format!("rule {i}"),
                "when": {"type": "PAYIN", "currency": if last { vec!["EUR"] } else { vec!["USD", "GBP"] },
                         "country": ["DE", "AT", "NL"], "amount": {"min": 10, "max": "5000.50"},
                         "metadata": {"segment": if last { "vip" } else { "other" }}},
                "then": {"route": [{"account": format!("psp_a{i}"), "weight": 70}, {"account": format!("psp_b{i}"), "weight": 30}],
                         "fallback": [format!("psp_c{i}")]}
            })
        })
        .collect();
    let doc = serde_json::json!({ "rules": rules }).to_string();
    parse_rules(&doc, 1, &Any).unwrap()
}

fn benches(c: &mut Criterion) {
    let rules = hundred_rules();
    let metadata = std::collections::BTreeMap::from([("segment".to_owned(), "vip".to_owned())]);
    let eur100 = Money::parse_major("100.10", Currency::from_code("EUR").unwrap()).unwrap();
    c.bench_function(
        "routing: 100 rules, the last matches, then the weighted order",
        |b| {
            b.iter(|| {
                let facts = overture_core::routing::Facts {
                    txn_type: TxnType::Payin,
                    psp_type: Some("FORUMPAY"),
                    amount: black_box(eur100),
                    country: Some("DE"),
                    brand_id: None,
                    metadata: &metadata,
                };
                let rule = rules.evaluate(&facts).unwrap();
                match &rule.then {
                    overture_core::routing::Action::Route(r) => {
                        r.order(|_| true, black_box(12_345))
                    }
                    overture_core::routing::Action::Block(_) => Vec::new(),
                }
            })
        },
    );

    let company = company();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let token = issue_company_token(&company.id, &company.api_secret, now, 3600);
    c.bench_function("company JWT check (HS256)", |b| {
        b.iter(|| verify_company_jwt(black_box(&token), &company, 0).unwrap())
    });

    c.bench_function(
        "cashier request parse + validate (strict JSON + hash)",
        |b| {
            b.iter(|| {
                let body = strict_json::parse_object(black_box(BODY.as_bytes())).unwrap();
                let _ = black_box(body.sha256());
                cashier_in::parse(&body.fields, |p| p == "FORUMPAY").unwrap()
            })
        },
    );

    let eur = Currency::from_code("EUR").unwrap();
    c.bench_function("money parse (exact decimal)", |b| {
        b.iter(|| Money::parse_major(black_box("100.10"), eur).unwrap())
    });

    let secret = signing::generate_secret();
    let payload = r#"{"transaction_id":"txn_01a1fe6d284c7192aefda4cb5f7f7c90","status":"approved","amount":"100.00"}"#;
    c.bench_function("webhook signature (Standard Webhooks HMAC-SHA256)", |b| {
        b.iter(|| {
            signing::sign(
                black_box(&secret),
                "msg_01a1fe6d30257304a96c2a93f39ec4f1",
                1_795_269_931,
                black_box(payload),
            )
        })
    });

    c.bench_function("PaynetEasy status control (sha1)", |b| {
        b.iter(|| {
            wire::status_control(
                black_box("login"),
                "txn_01a1fe6d284c7192aefda4cb5f7f7c90",
                "1000001",
                "control-key",
            )
        })
    });

    let pem = overture_sandbox::paymentsoft::keys::SANDBOX_OAUTH_PRIVATE_KEY;
    let key = oauth::load_private_key(pem).unwrap();
    let base = "POST&https%3A%2F%2Fgate.example%2Fpaynet%2Fapi%2Fv4%2Fpayout%2F1&amount%3D100.00%26client_orderid%3Dtxn_1";
    c.bench_function("PaynetEasy OAuth 1.0a RSA-SHA256 signature", |b| {
        b.iter(|| oauth::sign(&key, black_box(base)))
    });

    c.bench_function("state transition check", |b| {
        b.iter(|| {
            for from in TxnState::ALL {
                for to in TxnState::ALL {
                    black_box(black_box(from).transition(to).is_ok());
                }
            }
        })
    });

    // What the access layer adds to every request: a trace, and the two HTTP series.
    let metrics = overture_server::metrics::Metrics::new();
    let route = "/v1/api/mozarto/cashier";
    let elapsed = std::time::Duration::from_millis(3);
    c.bench_function("request trace and HTTP metrics", |b| {
        b.iter(|| {
            black_box(TraceParent::generate().child());
            metrics.record_http("POST", black_box(route), 200, elapsed);
        })
    });
}

criterion_group!(hot, benches);
criterion_main!(hot);
