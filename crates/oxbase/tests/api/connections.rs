//! Connection limits, over raw sockets: the header-read timeout (slowloris), the keep-alive
//! idle timeout, the connection cap, and JSON 414/431 answers for oversize request heads.
//! They concern the HTTP layer only, so they run on SQLite alone.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::{TestApp, assert_error};

/// Longest any step of these tests may take before it counts as hanging.
const PATIENCE: Duration = Duration::from_secs(3);

/// Reads until the server closes the connection (or resets it), failing after [`PATIENCE`];
/// returns what was read and when the connection ended.
async fn read_until_closed(stream: &mut TcpStream) -> (Vec<u8>, Instant) {
    let mut received = Vec::new();
    let mut buffer = [0; 4096];
    loop {
        match tokio::time::timeout(PATIENCE, stream.read(&mut buffer)).await {
            Err(_) => panic!("the server kept the connection open for {PATIENCE:?}"),
            Ok(Ok(0) | Err(_)) => return (received, Instant::now()),
            Ok(Ok(read)) => received.extend_from_slice(&buffer[..read]),
        }
    }
}

/// Reads one response with a `Content-Length` body, leaving the connection open; returns
/// the status, the head and the body.
async fn read_response(stream: &mut TcpStream) -> (u16, String, String) {
    let mut received = Vec::new();
    let mut buffer = [0; 4096];
    let started = Instant::now();
    loop {
        let text = String::from_utf8_lossy(&received).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length = head
                .lines()
                .find_map(|line| line.to_ascii_lowercase().strip_prefix("content-length: ").map(str::to_owned))
                .and_then(|length| length.trim().parse::<usize>().ok())
                .expect("a content-length");
            if body.len() >= length {
                let status = head.split(' ').nth(1).and_then(|code| code.parse().ok()).unwrap_or(0);
                return (status, head.to_owned(), body.to_owned());
            }
        }
        let remaining = PATIENCE.checked_sub(started.elapsed()).expect("a whole response in time");
        let read = tokio::time::timeout(remaining, stream.read(&mut buffer))
            .await
            .expect("a whole response in time")
            .expect("reading the response");
        assert!(read > 0, "the connection closed mid-response: {}", String::from_utf8_lossy(&received));
        received.extend_from_slice(&buffer[..read]);
    }
}

async fn connect(app: &TestApp) -> TcpStream {
    TcpStream::connect(app.address).await.expect("connecting")
}

const HEALTH_REQUEST: &[u8] = b"GET /health/live HTTP/1.1\r\nHost: test\r\n\r\n";

#[tokio::test]
async fn half_a_request_line_is_closed_after_the_header_read_timeout() {
    let app = TestApp::spawn_with(|config| {
        config.header_read_timeout = Some(Duration::from_millis(300));
        config.keep_alive_timeout = Some(Duration::from_secs(30));
    })
    .await;
    let opened = Instant::now();
    let mut stream = connect(&app).await;
    stream.write_all(b"GET /api/v1/stud").await.unwrap();
    let (received, closed) = read_until_closed(&mut stream).await;
    let after = closed - opened;
    assert!(received.is_empty(), "no answer to half a request: {}", String::from_utf8_lossy(&received));
    assert!(after >= Duration::from_millis(250), "closed after {after:?}, before the timeout");
    eprintln!("half a request line: closed after {after:?}");
}

#[tokio::test]
async fn headers_sent_a_byte_at_a_time_are_cut_off_at_the_header_read_timeout() {
    let app = TestApp::spawn_with(|config| config.header_read_timeout = Some(Duration::from_millis(300))).await;
    let opened = Instant::now();
    let mut stream = connect(&app).await;
    // A byte every 50 ms would take 2 s to send these headers.
    let request = b"GET /health/live HTTP/1.1\r\nHost: test\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
    for byte in request {
        if stream.write_all(&[*byte]).await.is_err() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(opened.elapsed() < PATIENCE, "still sending after {PATIENCE:?}");
    }
    let (received, closed) = read_until_closed(&mut stream).await;
    let after = closed - opened;
    assert!(received.is_empty(), "{}", String::from_utf8_lossy(&received));
    assert!(after < Duration::from_secs(1), "a slow sender kept its connection for {after:?}");
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout() {
    let app = TestApp::spawn_with(|config| {
        config.header_read_timeout = Some(Duration::from_secs(30));
        config.keep_alive_timeout = Some(Duration::from_millis(300));
    })
    .await;
    let mut stream = connect(&app).await;
    stream.write_all(HEALTH_REQUEST).await.unwrap();
    assert_eq!(read_response(&mut stream).await.0, 200);
    // Idle for less than the timeout: the connection is still served.
    tokio::time::sleep(Duration::from_millis(100)).await;
    stream.write_all(HEALTH_REQUEST).await.unwrap();
    assert_eq!(read_response(&mut stream).await.0, 200);
    let answered = Instant::now();
    let (received, closed) = read_until_closed(&mut stream).await;
    let idle = closed - answered;
    assert!(received.is_empty(), "{}", String::from_utf8_lossy(&received));
    assert!(idle >= Duration::from_millis(250), "closed after {idle:?} idle, before the timeout");
    eprintln!("idle keep-alive connection: closed after {idle:?}");
}

#[tokio::test]
async fn over_the_connection_cap_a_new_connection_gets_503_and_later_ones_are_served() {
    let app = TestApp::spawn_with(|config| {
        config.max_connections = 5;
        config.header_read_timeout = Some(Duration::from_millis(500));
    })
    .await;
    let mut idle = Vec::new();
    for _ in 0..5 {
        idle.push(connect(&app).await);
    }
    let started = Instant::now();
    let mut sixth = connect(&app).await;
    sixth.write_all(HEALTH_REQUEST).await.unwrap();
    let (received, _) = read_until_closed(&mut sixth).await;
    let answered = started.elapsed();
    let response = String::from_utf8(received).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").expect("a whole response");
    assert!(head.starts_with("HTTP/1.1 503"), "{head}");
    assert!(head.contains("retry-after: 1") && head.contains("connection: close"), "{head}");
    let body: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(body["code"], "too_many_connections", "{body}");
    assert!(body.get("message").is_some() && body.get("hint").is_some(), "{body}");
    assert!(answered < Duration::from_secs(1), "the refusal took {answered:?}");

    // The header-read timeout closes the idle five; then connections are served again.
    let status = loop {
        let mut stream = connect(&app).await;
        stream.write_all(HEALTH_REQUEST).await.unwrap();
        let status = read_response(&mut stream).await.0;
        if status == 200 || started.elapsed() > PATIENCE {
            break status;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(status, 200, "served again once the idle connections were closed");
    eprintln!("503 after {answered:?}; served again after {:?}", started.elapsed());
    drop(idle);
}

#[tokio::test]
async fn a_long_url_gets_414_and_large_headers_get_431_as_json() {
    let app = TestApp::spawn_with(|_| {}).await;
    let values = vec!["1"; 10_000].join(",");
    let path = format!("/api/v1/trackers?select=id&id=in.({values})");
    assert!(path.len() > 20_000);
    let body = assert_error(app.get(&path).await, 414, "uri_too_long", "URL").await;
    assert_eq!(body["details"]["limit"], 8192, "{body}");

    let mut request = app.client.get(app.url("/api/v1/studies"));
    for index in 0..10 {
        request = request.header(format!("x-large-{index}"), "v".repeat(10_000));
    }
    let body = assert_error(request.send().await.unwrap(), 431, "headers_too_large", "headers").await;
    assert!(body["details"]["bytes"].as_u64().unwrap() > 100_000, "{body}");

    // Within the limits, the same server answers.
    assert_eq!(app.get("/api/v1/studies?select=id").await.status().as_u16(), 200);
}
