//! Liveness and readiness.

use crate::on_both_engines;
use crate::support::{Engine, TestApp};

on_both_engines!(live_and_ready,);

async fn live_and_ready(engine: Engine) {
    let app = TestApp::spawn_on(engine).await;
    let live = app.get_json("/health/live", 200).await;
    assert_eq!(live["status"], "live");
    let ready = app.get_json("/health/ready", 200).await;
    assert_eq!(ready["status"], "ready");
    assert_eq!(ready["database"], "ok");
}
