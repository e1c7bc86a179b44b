//! The back office's second step in a real browser (chromium through chromedriver): the
//! overview with data and its charts, the approval queue showing the user's history, a search
//! and its CSV export, and the routing page refusing an invalid rules document (the error names
//! the path) then activating a valid one. Screenshots at 1280×800 and 390×844 go to `target/`
//! (`backoffice-overview*.png`, `backoffice-approval*.png`, `backoffice-search*.png`,
//! `backoffice-routing*.png`, `backoffice-accounts*.png`, `backoffice-companies*.png`), and the
//! settings pages (PSP accounts with caps, usage and health; company settings) are shot too.

use crate::backoffice_browser::{browser, log_in, notice_about, program, screenshot, Driver};
use crate::backoffice_support::*;
use crate::harness::*;
use crate::routing_support::harness_account;
use fantoccini::{Client, Locator};
use overture_core::Role;
use std::time::Duration;

/// Screenshots of the current page at the laptop and the phone size.
async fn both_sizes(c: &Client, name: &str) {
    c.set_window_size(1280, 800).await.unwrap();
    screenshot(c, &format!("{name}.png")).await;
    c.set_window_size(390, 844).await.unwrap();
    screenshot(c, &format!("{name}-phone.png")).await;
    c.set_window_size(1280, 800).await.unwrap();
}

async fn text_of(c: &Client, css: &str) -> String {
    c.wait()
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .text()
        .await
        .unwrap()
}

#[tokio::test]
async fn backoffice_browser_overview_history_export_and_rules() {
    let chromedriver = program("OVERTURE_CHROMEDRIVER", "/usr/bin/chromedriver");
    let chromium = program("OVERTURE_CHROMIUM", "/usr/bin/chromium");
    let app = TestApp::start().await;
    for amount in ["100.00", "20.00", "30.51", "40.00"] {
        let id = app.payout(amount).await;
        app.wait_final(&id).await;
    }
    let held = app.payout("1500.00").await;
    let admin = operator_with_password(&app, Role::Admin).await;

    let driver = Driver::start(&chromedriver).await;
    let profile = app.dir.join("chromium-profile-insight");
    let c = browser(&driver, &chromium, &profile).await;
    log_in(&c, &app.url, &admin.email).await;

    // The overview: counts and both charts.
    c.goto(&format!("{}/backoffice/overview", app.url))
        .await
        .unwrap();
    assert_eq!(text_of(&c, "#kpi-payouts").await, "3");
    assert_eq!(text_of(&c, "#kpi-acceptance").await, "75.0%");
    assert_eq!(
        c.find_all(Locator::Css("svg.chart")).await.unwrap().len(),
        2
    );
    assert!(!c
        .find_all(Locator::Css("svg.chart rect.approved"))
        .await
        .unwrap()
        .is_empty());
    assert!(text_of(&c, "#kpi-queue").await.contains("1 waiting"));
    both_sizes(&c, "backoffice-overview").await;

    // The approval queue shows the user's history beside the held payout.
    c.goto(&format!("{}/backoffice/queue", app.url))
        .await
        .unwrap();
    let context = text_of(&c, &format!("#context-{held}")).await;
    assert!(
        context.contains("3 approved: 160.00 EUR · 1 declined"),
        "{context}"
    );
    assert!(context.contains("allowed when requested"), "{context}");
    both_sizes(&c, "backoffice-approval").await;

    // A search with its count, and its CSV export fetched with the operator's session.
    c.goto(&format!(
        "{}/backoffice/transactions?kind=PAYOUT&currency=EUR",
        app.url
    ))
    .await
    .unwrap();
    assert_eq!(text_of(&c, "#count").await, "5 matching transactions");
    let href = c
        .find(Locator::Id("export"))
        .await
        .unwrap()
        .attr("href")
        .await
        .unwrap()
        .unwrap();
    let csv = c
        .execute_async(
            "const done = arguments[arguments.length - 1]; fetch(arguments[0]).then(r => r.text()).then(done);",
            vec![serde_json::Value::String(href)],
        )
        .await
        .unwrap();
    let csv = csv.as_str().unwrap();
    assert_eq!(csv.lines().count(), 6, "the header and five payouts: {csv}");
    assert!(csv.lines().all(|l| !l.contains(",CAD,")));
    both_sizes(&c, "backoffice-search").await;

    // Routing: an invalid document is refused with its path, then a valid one is activated.
    c.goto(&format!("{}/backoffice/routing", app.url))
        .await
        .unwrap();
    let editor = format!("#routing-{} form.rules-editor", app.company.id);
    let set_document = |doc: String| {
        let c = c.clone();
        let editor = editor.clone();
        async move {
            let area = c
                .find(Locator::Css(&format!("{editor} textarea")))
                .await
                .unwrap();
            area.clear().await.unwrap();
            area.send_keys(&doc).await.unwrap();
            c.find(Locator::Css(&format!("{editor} input[name=reason]")))
                .await
                .unwrap()
                .send_keys("browser test")
                .await
                .unwrap();
            c.find(Locator::Css(&format!("{editor} button[type=submit]")))
                .await
                .unwrap()
                .click()
                .await
                .unwrap();
        }
    };
    set_document(r#"{"rules":[{"name":"x","then":{"route":[{"account":"psp_missing"}]}}]}"#.into())
        .await;
    let errors = text_of(&c, &format!("#rules-errors-{}", app.company.id)).await;
    assert!(
        errors.contains("rules[0].then.route[0].account"),
        "{errors}"
    );
    both_sizes(&c, "backoffice-routing-error").await;
    let ps = harness_account(&app, "PAYMENTSOFT").await;
    set_document(format!(
        r#"{{"rules":[{{"name":"payouts","when":{{"type":"PAYOUT"}},"then":{{"route":[{{"account":"{ps}"}}]}}}}]}}"#
    ))
    .await;
    let notice = notice_about(&c, "Version 1").await;
    assert!(notice.contains("stored and active"), "{notice}");
    tokio::time::sleep(Duration::from_millis(100)).await;
    let active = app
        .running
        .app
        .store
        .routing_rules(&app.company.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(active.version, 1);
    both_sizes(&c, "backoffice-routing").await;

    // The settings pages: PSP accounts with caps, usage and health; company settings.
    c.goto(&format!("{}/backoffice/psp-accounts", app.url))
        .await
        .unwrap();
    let row = text_of(&c, &format!("#account-{ps}")).await;
    assert!(row.contains("accepted") && row.contains("closed"), "{row}");
    both_sizes(&c, "backoffice-accounts").await;
    c.goto(&format!("{}/backoffice/companies", app.url))
        .await
        .unwrap();
    let block = text_of(&c, &format!("#company-{}", app.company.id)).await;
    assert!(block.contains("Test MP"), "{block}");
    both_sizes(&c, "backoffice-companies").await;
    c.close().await.unwrap();
    drop(driver);
}
