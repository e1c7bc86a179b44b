//! Conformance of [`ManageStore`] (merchant settings and administration) and of the keyset
//! pagination the merchant lists use, on SQLite always and on PostgreSQL when
//! `OVERTURE_TEST_POSTGRES_URL` is set.

mod support;

use overture_core::backoffice::*;
use overture_core::manage::{DeliveryList, ManageStore};
use overture_core::store::*;
use overture_core::*;
use overture_store::SqlStore;
use rust_decimal::Decimal;
use secrecy::{ExposeSecret, SecretString};
use std::collections::{BTreeMap, HashSet};
use support::{account, audit, backends, company, finish, operator, stored, txn};

fn dec(s: &str) -> Decimal {
    s.parse().unwrap()
}

#[tokio::test]
async fn company_settings_are_rewritten_in_one_statement() {
    let all = backends("settings").await;
    for b in &all {
        let s = &b.store;
        let mut c = company(s, "Acme").await;
        c.name = "Acme 2".into();
        c.webhook_url = "https://mp.example/hook".into();
        c.verify_user_url = "https://mp.example/verify".into();
        c.webhook_authorization = Some(SecretString::from("Bearer abc"));
        c.verify_payins = true;
        c.payout_approval_threshold = None;
        c.thresholds.payout_approval =
            BTreeMap::from([("EUR".into(), dec("500.00")), ("CLP".into(), dec("900000"))]);
        c.thresholds.four_eyes = BTreeMap::from([("EUR".into(), dec("800"))]);
        s.update_company(&c, Some(dec("2000")), None).await.unwrap();
        let got = s.company(&c.id).await.unwrap().unwrap();
        assert_eq!(got.name, "Acme 2");
        assert_eq!(got.webhook_url, "https://mp.example/hook");
        assert_eq!(got.verify_user_url, "https://mp.example/verify");
        assert_eq!(
            got.webhook_authorization.as_ref().unwrap().expose_secret(),
            "Bearer abc"
        );
        assert!(got.verify_payins);
        assert_eq!(got.payout_approval_threshold, None);
        assert_eq!(got.thresholds, c.thresholds);
        assert_eq!(got.payout_threshold("EUR"), Some(dec("500")));
        assert_eq!(got.payout_threshold("USD"), None);
        assert_eq!(got.api_secret.expose_secret(), "k", "secrets untouched");
        assert_eq!(
            s.four_eyes_threshold(&c.id).await.unwrap(),
            Some(dec("2000"))
        );
        // Cleared again.
        c.webhook_authorization = None;
        c.thresholds = Default::default();
        s.update_company(&c, None, None).await.unwrap();
        let got = s.company(&c.id).await.unwrap().unwrap();
        assert!(got.webhook_authorization.is_none() && got.thresholds.is_empty());
        assert_eq!(s.four_eyes_threshold(&c.id).await.unwrap(), None);
        let mut ghost = c.clone();
        ghost.id = CompanyId::generate();
        assert!(matches!(
            s.update_company(&ghost, None, None).await,
            Err(StoreError::NotFound(_))
        ));
    }
    finish(all).await;
}

#[tokio::test]
async fn a_rotation_retires_the_secret_it_replaces() {
    let all = backends("rotate").await;
    for b in &all {
        let s = &b.store;
        let c = company(s, "Acme").await;
        assert!(c.retired.api.is_none());
        s.rotate_company_secret(&c.id, SecretKind::Api, &SecretString::from("k2"), 5_000)
            .await
            .unwrap();
        let got = s.company(&c.id).await.unwrap().unwrap();
        assert_eq!(got.api_secret.expose_secret(), "k2");
        let retired = got.retired.api.unwrap();
        assert_eq!(
            (retired.secret.expose_secret(), retired.until),
            ("k", 5_000)
        );
        assert_eq!(
            retired.live_at(4_999).map(|k| k.expose_secret().to_owned()),
            Some("k".into())
        );
        assert!(retired.live_at(5_000).is_none());
        assert!(
            got.retired.webhook.is_none(),
            "the other secret is untouched"
        );
        assert_eq!(got.webhook_secret.expose_secret(), "whsec_c2VjcmV0");
        // Two rotations at once: each retires what it replaced, so one of the new secrets is
        // current and the other retired; neither is lost.
        let (x, y) = (SecretString::from("kx"), SecretString::from("ky"));
        let (rx, ry) = tokio::join!(
            s.rotate_company_secret(&c.id, SecretKind::Webhook, &x, 9_000),
            s.rotate_company_secret(&c.id, SecretKind::Webhook, &y, 9_000),
        );
        rx.unwrap();
        ry.unwrap();
        let got = s.company(&c.id).await.unwrap().unwrap();
        let current = got.webhook_secret.expose_secret().to_owned();
        let old = got
            .retired
            .webhook
            .unwrap()
            .secret
            .expose_secret()
            .to_owned();
        let pair: HashSet<String> = [current, old].into();
        assert_eq!(pair, HashSet::from(["kx".to_owned(), "ky".to_owned()]));
        assert!(matches!(
            s.rotate_company_secret(&CompanyId::generate(), SecretKind::Api, &x, 1)
                .await,
            Err(StoreError::NotFound(_))
        ));
    }
    finish(all).await;
}

#[tokio::test]
async fn a_deleted_account_leaves_lists_and_changes_but_stays_readable() {
    let all = backends("delete").await;
    for b in &all {
        let s = &b.store;
        let c = company(s, "Acme").await;
        let other = company(s, "Other").await;
        let a = account(s, &c, "PAYMENTSOFT").await;
        let keep = account(s, &c, "FORUMPAY").await;
        let t = stored(s, &txn(&c, &a, TxnState::Approved, "u", 10)).await;
        assert!(matches!(
            s.delete_psp_account(&other.id, &a.id, 50).await,
            Err(StoreError::NotFound(_))
        ));
        s.delete_psp_account(&c.id, &a.id, 50).await.unwrap();
        let listed: Vec<_> = s
            .psp_accounts(&c.id)
            .await
            .unwrap()
            .into_iter()
            .map(|x| x.id)
            .collect();
        assert_eq!(listed, vec![keep.id.clone()]);
        let got = s.psp_account(&a.id).await.unwrap().unwrap();
        assert_eq!(got.deleted_at, Some(50));
        assert!(!got.enabled);
        assert!(
            matches!(s.update_psp_account(&a).await, Err(StoreError::NotFound(_))),
            "no changes after delete"
        );
        let op = operator(s, "ops@example.com", Role::Admin).await;
        let record = audit(&op, AuditAction::EnableAccount, Some(a.id.as_str()), 60);
        assert!(matches!(
            s.set_psp_account_enabled(&a.id, true, &record).await,
            Err(StoreError::NotFound(_))
        ));
        assert!(
            !s.psp_account(&a.id).await.unwrap().unwrap().enabled,
            "not enabled again"
        );
        assert!(matches!(
            s.delete_psp_account(&c.id, &a.id, 70).await,
            Err(StoreError::NotFound(_))
        ));
        assert_eq!(
            s.transaction(&t.id).await.unwrap().unwrap().psp_account_id,
            a.id,
            "history kept"
        );
    }
    finish(all).await;
}

async fn final_with_webhook(s: &SqlStore, t: &Transaction, at: i64) -> WebhookId {
    let id = WebhookId::generate();
    let mut tr = Transition::of(t, TxnState::Declined, Actor::Psp, at);
    tr.webhook = Some(NewWebhook {
        id: id.clone(),
        payload: "{}".into(),
    });
    s.transition(&tr).await.unwrap();
    id
}

#[tokio::test]
async fn keyset_pages_cover_every_row_once_in_order() {
    let all = backends("keyset").await;
    for b in &all {
        let s = &b.store;
        let c = company(s, "Acme").await;
        let other = company(s, "Other").await;
        let a = account(s, &c, "PAYMENTSOFT").await;
        let oa = account(s, &other, "PAYMENTSOFT").await;
        let mut ids = Vec::new();
        let mut hooks = Vec::new();
        // Seven rows, three of them sharing one created_at: the id breaks the tie.
        for (i, at) in [100, 200, 200, 200, 300, 400, 500].into_iter().enumerate() {
            let t = stored(s, &txn(&c, &a, TxnState::Pending, &format!("u{i}"), at)).await;
            hooks.push(final_with_webhook(s, &t, at).await);
            ids.push(t.id);
        }
        let foreign = stored(s, &txn(&other, &oa, TxnState::Pending, "x", 250)).await;
        final_with_webhook(s, &foreign, 250).await;
        for order in [SearchOrder::NewestFirst, SearchOrder::OldestFirst] {
            let mut seen = Vec::new();
            let mut after = None;
            loop {
                let q = TxnSearch {
                    company_id: Some(c.id.clone()),
                    order,
                    after: after.clone(),
                    limit: 2,
                    ..Default::default()
                };
                let page = s.search_transactions(&q).await.unwrap();
                seen.extend(page.items.iter().map(|t| (t.created_at, t.id.to_string())));
                match (page.has_more, page.items.last()) {
                    (true, Some(last)) => after = Some((last.created_at, last.id.clone())),
                    _ => break,
                }
            }
            let mut expected: Vec<(i64, String)> = seen.clone();
            expected.sort();
            if order == SearchOrder::NewestFirst {
                expected.reverse();
            }
            assert_eq!(seen, expected, "{order:?}: in (created_at, id) order");
            assert_eq!(
                seen.len(),
                7,
                "{order:?}: every row once, no other company's"
            );
        }
        let mut seen = Vec::new();
        let mut after = None;
        loop {
            let q = DeliveryList {
                company_id: Some(c.id.clone()),
                state: Some(DeliveryState::Pending),
                after: after.clone(),
                limit: 3,
            };
            let page = s.list_deliveries(&q).await.unwrap();
            seen.extend(page.items.iter().map(|d| d.id.clone()));
            match (page.has_more, page.items.last()) {
                (true, Some(last)) => after = Some((last.created_at, last.id.to_string())),
                _ => break,
            }
        }
        let unique: HashSet<_> = seen.iter().collect();
        assert_eq!((seen.len(), unique.len()), (7, 7));
        assert!(hooks.iter().all(|h| seen.contains(h)));
        let none = DeliveryList {
            company_id: Some(c.id.clone()),
            state: Some(DeliveryState::Dead),
            limit: 10,
            ..Default::default()
        };
        assert!(s.list_deliveries(&none).await.unwrap().items.is_empty());
    }
    finish(all).await;
}

#[tokio::test]
async fn a_disabled_operator_has_no_token_login_or_session() {
    let all = backends("disable").await;
    for b in &all {
        let s = &b.store;
        let ann = operator(s, "ann@example.com", Role::Approver).await;
        let bob = operator(s, "bob@example.com", Role::Viewer).await;
        let session = OperatorSession {
            id_sha256: format!("sess-{}", ann.id),
            operator_id: ann.id.clone(),
            csrf_token: "csrf".into(),
            created_at: 10,
            last_seen_at: 10,
            expires_at: 10_000,
        };
        let login = SuccessfulLogin {
            session: session.clone(),
            clear: vec![],
            audit: audit(&ann, AuditAction::Login, None, 10),
        };
        s.record_login(&login).await.unwrap();
        let record = audit(
            &ann,
            AuditAction::DisableOperator,
            Some(ann.id.as_str()),
            20,
        );
        s.disable_operator(&ann.id, 20, &record).await.unwrap();
        assert!(s
            .operator_by_token(&ann.token_sha256)
            .await
            .unwrap()
            .is_none());
        assert!(s.operator_login("ann@example.com").await.unwrap().is_none());
        assert!(
            s.session(&session.id_sha256).await.unwrap().is_none(),
            "sessions ended"
        );
        assert_eq!(
            s.operator(&ann.id).await.unwrap().unwrap().disabled_at,
            Some(20)
        );
        assert!(
            s.operator_by_token(&bob.token_sha256)
                .await
                .unwrap()
                .is_some(),
            "others unaffected"
        );
        assert!(matches!(
            s.disable_operator(&ann.id, 30, &record).await,
            Err(StoreError::NotFound(_))
        ));
        let q = AuditQuery {
            action: Some(AuditAction::DisableOperator),
            limit: 10,
            ..Default::default()
        };
        assert_eq!(
            s.audit_log(&q).await.unwrap().items.len(),
            1,
            "one record, with the action"
        );
        let listed: Vec<_> = s
            .operators()
            .await
            .unwrap()
            .into_iter()
            .map(|o| o.email)
            .collect();
        assert_eq!(listed, ["ann@example.com", "bob@example.com"]);
        assert_eq!(s.delete_operator_sessions(&bob.id).await.unwrap(), 0);
    }
    finish(all).await;
}
