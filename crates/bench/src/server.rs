//! The server under test: `oxbase serve` started as a child process of the running binary
//! (so its memory can be read from `/proc/<pid>/status`), or a server already running.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::BenchError;

/// How long a starting server may take to print its address.
const START_TIMEOUT: Duration = Duration::from_secs(120);
/// How long a stopping server may take to finish in-flight requests.
const STOP_TIMEOUT: Duration = Duration::from_secs(15);

/// A server started by the harness; stopped (SIGTERM, then SIGKILL) when dropped.
pub struct ServerProcess {
    child: Child,
    pub address: SocketAddr,
}

impl ServerProcess {
    /// Starts `current_exe serve --schema … --database … --listen 127.0.0.1:0` and waits for
    /// its `oxbase listening on http://ADDR` line. The server logs warnings and errors only
    /// (one line per request would cost the server more than some requests do) to `log`.
    /// `extra` arguments follow (e.g. `--cache off`, `--redis URL`).
    pub fn start(schema: &Path, database: &str, extra: &[String], log: &Path) -> Result<ServerProcess, BenchError> {
        let executable = std::env::current_exe()
            .map_err(|error| BenchError::Server(format!("cannot find the oxbase executable: {error}")))?;
        let log_file = File::create(log)
            .map_err(|error| BenchError::Server(format!("cannot create {}: {error}", log.display())))?;
        let mut child = Command::new(&executable)
            .arg("serve")
            .arg("--schema")
            .arg(schema)
            .arg("--database")
            .arg(database)
            .arg("--listen")
            .arg("127.0.0.1:0")
            .args(extra)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log_file))
            .spawn()
            .map_err(|error| BenchError::Server(format!("cannot start {}: {error}", executable.display())))?;
        let stdout = child.stdout.take().expect("stdout is piped");
        let (sender, receiver) = mpsc::channel();
        // Reads the address line, then keeps draining stdout so the server never blocks on it.
        std::thread::spawn(move || {
            let mut sender = Some(sender);
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(address) = line.strip_prefix("oxbase listening on http://")
                    && let Some(sender) = sender.take()
                {
                    let _ = sender.send(address.trim().to_owned());
                }
            }
        });
        let mut server = ServerProcess { child, address: SocketAddr::from(([127, 0, 0, 1], 0)) };
        let started = Instant::now();
        let address = loop {
            match receiver.recv_timeout(Duration::from_millis(200)) {
                Ok(address) => break address,
                Err(mpsc::RecvTimeoutError::Timeout) if started.elapsed() < START_TIMEOUT => {
                    if let Ok(Some(status)) = server.child.try_wait() {
                        return Err(BenchError::Server(format!(
                            "the server exited ({status}) before listening; see {}",
                            log.display()
                        )));
                    }
                }
                Err(_) => {
                    return Err(BenchError::Server(format!(
                        "the server printed no address within {START_TIMEOUT:?}; see {}",
                        log.display()
                    )));
                }
            }
        };
        server.address = address
            .parse()
            .map_err(|_| BenchError::Server(format!("the server printed an address that does not parse: {address}")))?;
        Ok(server)
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Peak resident memory since start or the last [`reset_peak_memory`](Self::reset_peak_memory)
    /// (`VmHWM`), in bytes.
    pub fn peak_memory(&self) -> Option<u64> {
        peak_memory_of(self.pid())
    }

    /// Restarts the peak-memory mark, so the next reading is the peak of one scenario.
    /// Returns false where the kernel does not allow it.
    pub fn reset_peak_memory(&self) -> bool {
        std::fs::write(format!("/proc/{}/clear_refs", self.pid()), "5").is_ok()
    }

    /// Stops the server: SIGTERM, so it finishes in-flight requests and checkpoints; SIGKILL
    /// if it has not exited after a while.
    pub fn stop(mut self) {
        self.terminate();
    }

    fn terminate(&mut self) {
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            return;
        }
        let pid = self.pid().to_string();
        let signalled = Command::new("kill").args(["-s", "TERM", &pid]).status().is_ok_and(|status| status.success());
        if signalled {
            let asked = Instant::now();
            while asked.elapsed() < STOP_TIMEOUT {
                if matches!(self.child.try_wait(), Ok(Some(_))) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            tracing::warn!(pid, "the server did not stop within {STOP_TIMEOUT:?}; killing it");
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.terminate();
    }
}

/// `VmHWM` of a process, in bytes.
pub fn peak_memory_of(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    peak_memory_from_status(&status)
}

/// `VmHWM:   12345 kB` in the text of `/proc/<pid>/status`, in bytes.
pub fn peak_memory_from_status(status: &str) -> Option<u64> {
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    let mut parts = line["VmHWM:".len()..].split_whitespace();
    let value: u64 = parts.next()?.parse().ok()?;
    match parts.next() {
        Some("kB") | None => Some(value * 1024),
        Some(_) => None,
    }
}

/// The address of `--url`, which must be a plain-HTTP server on this machine: the harness
/// sends load to loopback addresses only.
pub fn loopback_address(url: &str) -> Result<SocketAddr, BenchError> {
    let invalid = |reason: &str| BenchError::Options(format!("invalid --url '{url}': {reason}"));
    let rest = url.strip_prefix("http://").ok_or_else(|| invalid("expected http://host:port"))?;
    let authority = rest.split('/').next().unwrap_or_default();
    let authority = if authority.contains(':') { authority.to_owned() } else { format!("{authority}:80") };
    let addresses: Vec<SocketAddr> =
        authority.to_socket_addrs().map_err(|error| invalid(&format!("cannot resolve it: {error}")))?.collect();
    addresses
        .iter()
        .find(|address| address.ip().is_loopback())
        .copied()
        .ok_or_else(|| invalid("the harness only loads servers on this machine (a loopback address)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peak_memory_is_read_from_proc_status() {
        let status = "Name:\toxbase\nVmPeak:\t  900000 kB\nVmHWM:\t   51234 kB\nVmRSS:\t   40000 kB\n";
        assert_eq!(peak_memory_from_status(status), Some(51234 * 1024));
        assert_eq!(peak_memory_from_status("Name:\toxbase\n"), None);
        let own = peak_memory_of(std::process::id()).expect("this process has a VmHWM");
        assert!(own > 1024 * 1024, "{own}");
    }

    #[test]
    fn only_loopback_urls_are_accepted() {
        assert_eq!(loopback_address("http://127.0.0.1:8080").unwrap(), SocketAddr::from(([127, 0, 0, 1], 8080)));
        assert_eq!(loopback_address("http://127.0.0.1:9/api").unwrap().port(), 9);
        assert!(loopback_address("https://127.0.0.1:8080").is_err());
        assert!(loopback_address("http://10.1.2.3:8080").unwrap_err().to_string().contains("loopback"));
    }
}
