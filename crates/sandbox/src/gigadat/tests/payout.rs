//! Payouts (ETO / ACH): token, finalisation, and the finalisation step `sync` performs when a
//! payout was left unfinalised.

use super::*;
use overture_connectors::gigadat::wire::{Stage, TxnKind};

#[tokio::test]
async fn gigadat_payouts_eto_and_ach() {
    let h = harness().await;
    for (payout_type, amount, expected) in [
        (None, "25.00", PspOutcome::Approved),
        (Some("ACH"), "25.10", PspOutcome::Approved),
        (Some("eto"), "25.51", PspOutcome::Declined),
        (None, "25.52", PspOutcome::Failed),
    ] {
        let mut req = request(TxnType::Payout, amount);
        if let Some(t) = payout_type {
            req.extras.insert("payoutType".into(), t.into());
        }
        let update = h.connector.submit_payout(&h.account, &req).await.unwrap();
        assert_eq!(
            (update.outcome, update.raw_status.as_str()),
            (PspOutcome::Pending, "STATUS_PENDING")
        );
        assert_eq!(
            Stage::decode(update.stage.as_deref()).unwrap().step,
            Stage::FINALIZED
        );
        let mut order = order_ref(&req, Some(&update));
        assert_eq!(h.wait_final(&mut order).await.outcome, expected, "{amount}");
        let o = h.order(&req.order_id).await;
        let kind = if payout_type == Some("ACH") {
            "ACH"
        } else {
            "ETO"
        };
        assert_eq!(o["type"], kind);
        assert_eq!(
            (o["executions"].as_u64(), o["finalizations"].as_u64()),
            (Some(1), Some(1))
        );
    }
    let req = request(TxnType::Payout, "25.53");
    let update = h.connector.submit_payout(&h.account, &req).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let later = h
        .connector
        .sync(&h.account, &order_ref(&req, Some(&update)))
        .await
        .unwrap();
    assert_eq!(
        (later.outcome, later.raw_status.as_str()),
        (PspOutcome::Pending, "STATUS_PENDING")
    );
}

#[tokio::test]
async fn gigadat_payout_finalised_by_sync_when_left_unfinalised() {
    let h = harness().await;
    let req = request(TxnType::Payout, "40.00");
    // Token issued, then the finalisation failed (or Overture crashed after keeping the stage).
    let issued = h
        .connector
        .payment_token(&h.account, &req, TxnKind::Eto)
        .await
        .unwrap()
        .unwrap();
    let mut order = order_ref(&req, None);
    order.stage = Some(Stage::issued(&issued.token).encode());
    assert_eq!(h.order(&req.order_id).await["status"], "STATUS_INITED");
    let resumed = h.connector.sync(&h.account, &order).await.unwrap();
    assert_eq!(resumed.raw_status, "STATUS_PENDING");
    assert_eq!(
        Stage::decode(resumed.stage.as_deref()).unwrap().step,
        Stage::FINALIZED
    );
    order.stage = resumed.stage.clone();
    assert_eq!(h.wait_final(&mut order).await.outcome, PspOutcome::Approved);
    // Finalising again, or syncing with the old stage, never executes twice.
    let again = h
        .connector
        .finalize_payout(&h.account, req.order_id.as_str(), &issued.token)
        .await;
    assert_eq!(again.unwrap().unwrap().unwrap().status, "STATUS_SUCCESS");
    order.stage = Some(Stage::issued(&issued.token).encode());
    assert_eq!(
        h.connector.sync(&h.account, &order).await.unwrap().outcome,
        PspOutcome::Approved
    );
    let o = h.order(&req.order_id).await;
    assert_eq!(
        (o["executions"].as_u64(), o["finalizations"].as_u64()),
        (Some(1), Some(2))
    );
}

#[tokio::test]
async fn gigadat_payout_token_lost_in_a_crash_expires_unexecuted() {
    let h = harness_with(GigadatSandbox {
        token_ttl: Duration::from_millis(300),
    })
    .await;
    let req = request(TxnType::Payout, "40.00");
    // Overture "crashes" after the token call: nothing of the answer (the token) was stored.
    h.connector
        .payment_token(&h.account, &req, TxnKind::Eto)
        .await
        .unwrap()
        .unwrap();
    let mut order = order_ref(&req, None);
    let update = h.connector.sync(&h.account, &order).await.unwrap();
    assert_eq!(
        (update.outcome, update.raw_status.as_str()),
        (PspOutcome::Pending, "STATUS_INITED")
    );
    tokio::time::sleep(Duration::from_millis(350)).await;
    let done = h.wait_final(&mut order).await;
    assert_eq!(
        (done.outcome, done.raw_status.as_str()),
        (PspOutcome::Failed, "STATUS_EXPIRED")
    );
    assert_eq!(h.order(&req.order_id).await["executions"], 0);
}
