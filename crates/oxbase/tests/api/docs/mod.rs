//! The documentation's examples are tests: every `curl` example in the README, in
//! docs/api.md and in docs/access.md runs against a freshly seeded server and must print
//! what the docs show.
//!
//! How a page is checked (see `markdown.rs` for what counts as an example, and
//! `pattern.rs` for how a documented response is compared):
//!
//! - one server per page, the pearl example's small seed on SQLite, served as `oxbase demo`
//!   serves it: pearl's roles enforced, pearl's `max_page_size` of 10000, and the demo
//!   accounts' password set (docs/access.md's server also has `--admin`, the page's JWT
//!   secret and the passwords it sets); the page's examples run in document order against
//!   it, so later examples see earlier writes, as for a reader following along on a fresh
//!   demo. Requests to `127.0.0.1:8081` go to the second server of api.md §12 (the same,
//!   with `max_body_bytes = 1000` and `allow_unfiltered_writes` on `tracker_tags`), started
//!   on first use;
//! - each line runs as the reader would run it: `curl` through `sh` (with
//!   `127.0.0.1:8080` pointed at the test server, in a scratch directory where helper
//!   lines such as `python3 -c … > rows.json` write their files; no other command runs);
//!   `sqlite3
//!   oxbase-demo/pearl.db "…"` against the server's database file, printed as
//!   `sqlite3` prints (`a|b`);
//! - each command's output is taken from the documented block in turn: for `curl -i`
//!   (and `-D -`) the status line (exact), the headers shown (others are not checked;
//!   `…` ends the list) and the body line; otherwise as many lines as it printed;
//! - header values: `Server-Timing` durations and a UUID `X-Request-Id` are not compared,
//!   a cursor in a `Link` is compared by its payload (the signature comes from a random
//!   secret), and a documented cursor used by a later command is replaced by the one this
//!   server issued, as the docs tell the reader to do.

mod markdown;
mod pattern;

use std::path::{Path, PathBuf};
use std::process::Command;

use markdown::Example;
use oxbase_examples::pearl::{DEMO_ACCOUNTS, DEMO_PASSWORD};

use crate::support::{Engine, TestApp};

/// The pages whose examples run against one server each, in reading order.
const PAGES: &[&[&str]] = &[&["README.md"], &["docs/api.md"], &["docs/access.md"]];

/// The JWT secret docs/access.md starts its server with (`OXBASE_JWT_SECRET`).
const ACCESS_JWT_SECRET: &[u8] = b"docs-only secret: replace it with openssl rand -base64 48";

/// The passwords docs/access.md sets with `oxbase users set-password`.
const ACCESS_PASSWORDS: &[(&str, &str)] = &[("admin", "change me now"), ("editor1", "editor one's password")];

#[tokio::test]
async fn the_readme_examples_answer_as_documented() {
    check_pages(PAGES[0]).await;
}

#[tokio::test]
async fn the_api_examples_answer_as_documented() {
    check_pages(PAGES[1]).await;
}

#[tokio::test]
async fn the_access_examples_answer_as_documented() {
    let app = TestApp::spawn_with_roles(
        Engine::Sqlite,
        |config| {
            config.max_page_size = 10_000;
            config.admin_enabled = true;
            config.auth.jwt_secret = Some(oxbase_server::config::CursorSecret::new(ACCESS_JWT_SECRET).unwrap());
        },
        |_| {},
    )
    .await;
    for (username, password) in ACCESS_PASSWORDS {
        assert!(oxbase_server::service::identity::set_password(&app.app, username, password).await.unwrap());
    }
    check_pages_on(PAGES[2], &app).await;
}

/// Runs every example of `pages` against one fresh server and fails with every mismatch.
async fn check_pages(pages: &[&str]) {
    let app = demo_server(|config| config.max_page_size = 10_000, |_| {}).await;
    check_pages_on(pages, &app).await;
}

/// Runs every example of `pages` against `app` and fails with every mismatch.
async fn check_pages_on(pages: &[&str], app: &TestApp) {
    let repository = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let scratch = tempfile::tempdir().unwrap();
    let mut run = Run {
        app,
        scratch: scratch.path().to_owned(),
        started: now_timestamp(),
        second: None,
        cursors: Vec::new(),
        failures: Vec::new(),
    };
    let (mut checked, mut commands, mut skipped) = (0, 0, Vec::new());
    for page in pages {
        let text = std::fs::read_to_string(repository.join(page)).unwrap();
        for example in markdown::examples(page, &text) {
            if let Some(reason) = &example.skip {
                skipped.push(format!("{}: {reason}", example.place()));
                continue;
            }
            checked += 1;
            commands += example.commands.len();
            run.example(&example).await;
        }
    }
    eprintln!(
        "{}: {checked} examples ({commands} commands) checked, {} skipped:\n  {}",
        pages.join(", "),
        skipped.len(),
        skipped.join("\n  ")
    );
    assert!(checked > 0, "no examples found in {pages:?}");
    assert!(
        run.failures.is_empty(),
        "{} of the documented examples do not answer as documented. Fix the docs (or the code) so they agree:\n\n{}",
        run.failures.len(),
        run.failures.join("\n\n")
    );
}

/// A freshly seeded pearl server with its roles, as `oxbase demo` serves it: the demo
/// accounts have the demo password, so the examples log in as a reader of the demo does.
async fn demo_server(
    adjust: impl FnOnce(&mut oxbase_server::config::ServerConfig),
    adjust_schema: impl FnOnce(&mut oxbase_schema::Schema),
) -> TestApp {
    let app = TestApp::spawn_with_roles(Engine::Sqlite, adjust, adjust_schema).await;
    for username in DEMO_ACCOUNTS {
        let set = oxbase_server::service::identity::set_password(&app.app, username, DEMO_PASSWORD).await.unwrap();
        assert!(set, "the demo account '{username}' is missing from the seed");
    }
    app
}

/// The state of one page's run.
struct Run<'a> {
    app: &'a TestApp,
    scratch: PathBuf,
    /// When the run began: documented "time of the request" timestamps match any later one.
    started: String,
    /// The second server of api.md §12, once an example has used it.
    second: Option<TestApp>,
    /// Documented cursors and the ones this server issued in their place.
    cursors: Vec<(String, String)>,
    failures: Vec<String>,
}

/// What one command printed.
struct Output {
    /// With `-i` or `-D -`: the status line and the headers.
    head: Option<(String, Vec<(String, String)>)>,
    /// The body (or all of the output), without the final line break.
    body: String,
}

impl Run<'_> {
    async fn example(&mut self, example: &Example) {
        let Some(expected) = &example.expected else {
            self.failures.push(format!(
                "{}: a curl example with no documented output: add a fenced block right after it with what it prints, or mark it <!-- doc-test: skip (why) -->",
                example.place()
            ));
            return;
        };
        let mut position = 0;
        for (number, (line, command)) in example.commands.iter().enumerate() {
            let output = match self.execute(command).await {
                Ok(output) => output,
                Err(problem) => {
                    self.failures.push(format!("{}:{line}: {problem}\n  $ {command}", example.page));
                    return;
                }
            };
            if let Err(problem) = self.compare(expected, &mut position, &output) {
                let documented: Vec<&str> = expected.iter().map(|(_, text)| text.as_str()).collect();
                self.failures.push(format!(
                    "{}:{line}: command {} of {}: {problem}\n  $ {command}\n  it printed:\n{}\n  the docs show (from line {}):\n{}",
                    example.page,
                    number + 1,
                    example.commands.len(),
                    indent(&output.printed()),
                    expected.first().map_or(0, |(line, _)| *line),
                    indent(&documented.join("\n")),
                ));
                return;
            }
        }
        skip_blank(expected, &mut position);
        if let Some((line, text)) = expected.get(position) {
            self.failures.push(format!("{}:{line}: documented output that no command printed: {text}", example.page));
        }
    }

    /// Runs one line of an example.
    async fn execute(&mut self, command: &str) -> Result<Output, String> {
        if let Some(arguments) = command.strip_prefix("sqlite3 ") {
            return self.sqlite(arguments).await;
        }
        // Requests, and the helpers that write their bodies to files: nothing else runs.
        if !command.starts_with("curl ") && !command.starts_with("python3 -c ") {
            return Err(
                "an example runs only curl, sqlite3 and python3 -c lines; move the rest to a block of its own".into()
            );
        }
        let mut line = command.replace("127.0.0.1:8080", &self.app.address.to_string());
        if line.contains("127.0.0.1:8081") {
            line = line.replace("127.0.0.1:8081", &self.second_server().await.address.to_string());
        }
        for (documented, issued) in &self.cursors {
            line = line.replace(documented.as_str(), issued);
        }
        let shows_head = command.starts_with("curl ") && shows_headers(command);
        // `-q` first: no ~/.curlrc of the machine's; no proxy either.
        if let Some(rest) = line.strip_prefix("curl ") {
            line = format!("curl -q --noproxy '*' {rest}");
        }
        let scratch = self.scratch.clone();
        let output =
            tokio::task::spawn_blocking(move || Command::new("sh").arg("-c").arg(&line).current_dir(scratch).output())
                .await
                .unwrap()
                .map_err(|error| format!("cannot run sh: {error}"))?;
        if !output.status.success() {
            return Err(format!("it failed ({}): {}", output.status, String::from_utf8_lossy(&output.stderr)));
        }
        let printed = String::from_utf8_lossy(&output.stdout).replace('\r', "");
        if !shows_head {
            return Ok(Output { head: None, body: printed.trim_end_matches('\n').to_owned() });
        }
        let mut rest = printed.as_str();
        // A large body is sent after `100 Continue`, which curl prints too.
        while rest.starts_with("HTTP/1.1 100") {
            rest = rest.split_once("\n\n").map_or("", |(_, after)| after);
        }
        let (head, body) = rest.split_once("\n\n").unwrap_or((rest, ""));
        let mut head_lines = head.lines();
        let status = head_lines.next().unwrap_or_default().trim().to_owned();
        let headers = head_lines
            .filter_map(|header| header.split_once(':'))
            .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
            .collect();
        Ok(Output { head: Some((status, headers)), body: body.trim_end_matches('\n').to_owned() })
    }

    /// The second server of api.md §12: pearl as the demo serves it, with `max_body_bytes = 1000` and
    /// `allow_unfiltered_writes = true` on `tracker_tags`, freshly seeded.
    async fn second_server(&mut self) -> &TestApp {
        if self.second.is_none() {
            let app = demo_server(
                |config| {
                    config.max_page_size = 10_000;
                    config.max_body_bytes = 1000;
                },
                |schema| schema.resources.get_mut("tracker_tags").unwrap().allow_unfiltered_writes = true,
            )
            .await;
            self.second = Some(app);
        }
        self.second.as_ref().unwrap()
    }

    /// `sqlite3 oxbase-demo/pearl.db "SQL"` on the server's database, printed like sqlite3.
    async fn sqlite(&self, arguments: &str) -> Result<Output, String> {
        let sql = arguments
            .strip_prefix("oxbase-demo/pearl.db \"")
            .and_then(|rest| rest.strip_suffix('"'))
            .ok_or("write sqlite3 lines as: sqlite3 oxbase-demo/pearl.db \"SQL\"")?;
        let rows = self.app.rows(sql).await;
        let text = |value: &serde_json::Value| match value {
            serde_json::Value::Null => String::new(),
            serde_json::Value::String(text) => text.clone(),
            other => other.to_string(),
        };
        let lines: Vec<String> = rows.iter().map(|row| row.iter().map(text).collect::<Vec<_>>().join("|")).collect();
        Ok(Output { head: None, body: lines.join("\n") })
    }

    /// Takes this command's part of the documented output from `position` on and compares.
    fn compare(&mut self, expected: &[(usize, String)], position: &mut usize, output: &Output) -> Result<(), String> {
        skip_blank(expected, position);
        let take = |position: &mut usize| {
            let line = expected.get(*position).map(|(_, text)| text.as_str());
            *position += 1;
            line
        };
        if let Some((status, headers)) = &output.head {
            let documented_status = take(position).unwrap_or_default();
            if documented_status.trim() != status {
                return Err(format!("status: the docs show {documented_status:?}, the server answered {status:?}"));
            }
            let mut elided = false;
            while let Some((_, line)) = expected.get(*position) {
                if line.trim().is_empty() {
                    *position += 1;
                    break;
                }
                if line.trim() == "…" {
                    *position += 1;
                    elided = true;
                    break;
                }
                let Some((name, value)) = line.split_once(':').filter(|(name, _)| is_header_name(name)) else {
                    break;
                };
                let name = name.trim().to_ascii_lowercase();
                let Some((_, found)) = headers.iter().find(|(found, _)| *found == name) else {
                    return Err(format!("the docs show the header `{name}`, the server sent none"));
                };
                self.compare_header(&name, value.trim(), found)?;
                *position += 1;
            }
            if output.body.is_empty() {
                return Ok(());
            }
            let documented = match expected.get(*position) {
                Some((_, line)) if !line.trim().is_empty() && !line.starts_with("HTTP/") => line.clone(),
                _ => {
                    let hint = if elided { "" } else { " (after the headers and a blank line, or after `…`)" };
                    return Err(format!("the server sent a body the docs do not show{hint}"));
                }
            };
            *position += 1;
            return self.compare_body(&documented, &output.body);
        }
        for found in output.body.lines().filter(|line| !line.is_empty()) {
            let Some(documented) = take(position) else {
                return Err("the docs show less output than this".into());
            };
            self.compare_body(documented, found)?;
        }
        Ok(())
    }

    fn compare_header(&mut self, name: &str, documented: &str, found: &str) -> Result<(), String> {
        let same = match name {
            "server-timing" => glob_header(&without_durations(documented), &without_durations(found)),
            "x-request-id" if is_uuid(documented) => is_uuid(found),
            "link" => self.compare_cursors(documented, found),
            _ => glob_header(documented, found),
        };
        if same {
            Ok(())
        } else {
            Err(format!("header `{name}`: the docs show {documented:?}, the server sent {found:?}"))
        }
    }

    /// A `Link` with a cursor: the same text, the cursor's payload included; the documented
    /// cursor then stands for this server's in later commands.
    fn compare_cursors(&mut self, documented: &str, found: &str) -> bool {
        let (Some((documented_before, documented_cursor)), Some((found_before, found_cursor))) =
            (split_cursor(documented), split_cursor(found))
        else {
            return glob_header(documented, found);
        };
        let payload = |cursor: &str| cursor.split('.').next().unwrap_or_default().to_owned();
        let same = documented_before == found_before && payload(&documented_cursor) == payload(&found_cursor);
        if same && documented_cursor != found_cursor {
            self.cursors.push((documented_cursor, found_cursor));
        }
        same
    }

    fn compare_body(&self, documented: &str, found: &str) -> Result<(), String> {
        if let Some(pattern) = pattern::parse(documented) {
            let value: serde_json::Value = serde_json::from_str(found)
                .map_err(|_| format!("the docs show JSON, the server answered {found:?}"))?;
            return pattern::check(&pattern, &value, &self.started, "$");
        }
        if pattern::text_matches(documented.trim(), found.trim(), &self.started) {
            Ok(())
        } else {
            Err(format!("the docs show {documented:?}, it printed {found:?}"))
        }
    }
}

impl Output {
    fn printed(&self) -> String {
        match &self.head {
            None => self.body.clone(),
            Some((status, headers)) => {
                let headers: Vec<String> = headers.iter().map(|(name, value)| format!("{name}: {value}")).collect();
                format!("{status}\n{}\n\n{}", headers.join("\n"), self.body)
            }
        }
    }
}

/// `-i`, `-si`, `-is` or `-D -`: curl prints the status line and headers.
fn shows_headers(command: &str) -> bool {
    let words: Vec<&str> = command.split_whitespace().collect();
    words.iter().enumerate().any(|(index, word)| {
        let short_flags = word.starts_with('-') && !word.starts_with("--") && word.len() > 1;
        (short_flags && word[1..].chars().all(|c| c.is_ascii_alphabetic()) && word.contains('i'))
            || (*word == "-D" && words.get(index + 1) == Some(&"-"))
    })
}

fn is_header_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

fn glob_header(documented: &str, found: &str) -> bool {
    pattern::glob(documented, found)
}

/// `db;dur=0.308;desc="1 statement", total;dur=0.587` → `db;desc="1 statement", total`.
fn without_durations(value: &str) -> String {
    value
        .split(',')
        .map(|metric| metric.split(';').filter(|part| !part.trim().starts_with("dur=")).collect::<Vec<_>>().join(";"))
        .collect::<Vec<_>>()
        .join(",")
}

fn is_uuid(text: &str) -> bool {
    text.len() == 36
        && text.char_indices().all(|(index, c)| match index {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// `</…&after=CURSOR>; rel="next"` → (the text with the cursor cut out, the cursor).
fn split_cursor(link: &str) -> Option<(String, String)> {
    let at = link.find("after=")? + "after=".len();
    let length = link[at..].find(['&', '>']).unwrap_or(link.len() - at);
    Some((format!("{}{}", &link[..at], &link[at + length..]), link[at..at + length].to_owned()))
}

fn skip_blank(expected: &[(usize, String)], position: &mut usize) {
    while expected.get(*position).is_some_and(|(_, line)| line.trim().is_empty()) {
        *position += 1;
    }
}

fn indent(text: &str) -> String {
    text.lines().map(|line| format!("    {line}")).collect::<Vec<_>>().join("\n")
}

/// The current time as oxbase writes timestamps (to the second).
fn now_timestamp() -> String {
    let format = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].000000Z");
    time::OffsetDateTime::now_utc().format(format).unwrap()
}
