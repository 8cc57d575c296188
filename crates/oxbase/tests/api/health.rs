//! Liveness and readiness.

use crate::support::TestApp;

#[tokio::test]
async fn live_and_ready() {
    let app = TestApp::spawn().await;
    let live = app.get_json("/health/live", 200).await;
    assert_eq!(live["status"], "live");
    let ready = app.get_json("/health/ready", 200).await;
    assert_eq!(ready["status"], "ready");
    assert_eq!(ready["database"], "ok");
}
