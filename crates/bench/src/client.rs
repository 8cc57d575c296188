//! One HTTP/1.1 keep-alive connection on hyper: the load generator holds a fixed number of
//! these, each used by one task, so the server sees exactly `concurrency` connections.

use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{HOST, HeaderMap, HeaderName, HeaderValue};
use hyper::{Method as HttpMethod, Request};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::workload::{BenchRequest, Method};

/// What a request got back.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    /// Bytes of the body, read to the end.
    pub body_bytes: usize,
    /// The body itself, kept only when asked for.
    pub body: Option<Bytes>,
}

impl Answer {
    /// Statements the server ran for this request (`Server-Timing: db;…;desc="N statements"`);
    /// none when it touched no database.
    pub fn statements(&self) -> Option<u32> {
        self.headers.get("server-timing").and_then(|value| value.to_str().ok()).and_then(statements_from_timing)
    }

    /// A response header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }
}

/// The statement count in a `Server-Timing` value: `db;dur=0.2;desc="3 statements", total;dur=0.4`.
pub fn statements_from_timing(timing: &str) -> Option<u32> {
    let database = timing.split(',').map(str::trim).find(|metric| metric.split(';').next() == Some("db"))?;
    let description = database.split(';').find_map(|part| part.trim().strip_prefix("desc="))?;
    let description = description.trim_matches('"');
    let count = description.split_whitespace().next()?;
    count.parse().ok()
}

/// Why a request got no answer.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot connect to {address}: {source}")]
    Connect { address: SocketAddr, source: std::io::Error },
    #[error("HTTP error: {0}")]
    Http(#[from] hyper::Error),
    #[error("invalid request: {0}")]
    Request(#[from] hyper::http::Error),
}

/// A request built once and sent as is.
pub type HttpRequest = Request<Full<Bytes>>;

/// An open connection to the server.
pub struct Connection {
    sender: SendRequest<Full<Bytes>>,
    authority: HeaderValue,
}

impl Connection {
    /// Connects and completes the HTTP/1.1 handshake; the connection's I/O runs on its own task.
    pub async fn open(address: SocketAddr) -> Result<Connection, ClientError> {
        let stream = TcpStream::connect(address).await.map_err(|source| ClientError::Connect { address, source })?;
        stream.set_nodelay(true).map_err(|source| ClientError::Connect { address, source })?;
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            // Ends when the sender is dropped or the server closes; errors surface on send.
            let _ = connection.await;
        });
        let authority = HeaderValue::from_str(&address.to_string()).expect("an address is a valid header");
        Ok(Connection { sender, authority })
    }

    /// Builds the hyper request for a workload request.
    pub fn build(&self, request: &BenchRequest) -> Result<HttpRequest, ClientError> {
        let method = match request.method {
            Method::Get => HttpMethod::GET,
            Method::Patch => HttpMethod::PATCH,
            Method::Post => HttpMethod::POST,
        };
        let mut builder = Request::builder().method(method).uri(request.target()).header(HOST, self.authority.clone());
        for (name, value) in &request.headers {
            builder = builder.header(HeaderName::from_static(name), value.as_str());
        }
        let body = request.body.clone().map(Bytes::from).unwrap_or_default();
        Ok(builder.body(Full::new(body))?)
    }

    /// Sends a request and reads the whole body (keeping it when `keep_body`).
    pub async fn send(&mut self, request: HttpRequest, keep_body: bool) -> Result<Answer, ClientError> {
        self.sender.ready().await?;
        let response = self.sender.send_request(request).await?;
        let (parts, mut body) = response.into_parts();
        let mut body_bytes = 0;
        let mut kept = keep_body.then(Vec::new);
        while let Some(frame) = body.frame().await {
            if let Ok(data) = frame?.into_data() {
                body_bytes += data.len();
                if let Some(kept) = kept.as_mut() {
                    kept.extend_from_slice(&data);
                }
            }
        }
        Ok(Answer { status: parts.status.as_u16(), headers: parts.headers, body_bytes, body: kept.map(Bytes::from) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statement_counts_come_from_server_timing() {
        assert_eq!(statements_from_timing("db;dur=0.412;desc=\"1 statement\", total;dur=0.602"), Some(1));
        assert_eq!(statements_from_timing("db;dur=3.1;desc=\"5 statements\", total;dur=4.0"), Some(5));
        assert_eq!(statements_from_timing("total;dur=0.1"), None, "no database entry: no statement");
        assert_eq!(statements_from_timing("cache;desc=\"hit\", total;dur=0.1"), None);
        assert_eq!(statements_from_timing("db;dur=1"), None);
    }
}
