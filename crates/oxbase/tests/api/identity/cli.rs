//! The `oxbase users` and `oxbase keys` commands against a served database, and the
//! server's own log: it never holds a password, its hash, a token or a key.

use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::on_both_engines_blocking;
use crate::support::{Engine, ScratchDatabase, ServerProcess, oxbase_binary, pearl_schema_path};

on_both_engines_blocking!(
    keys_and_passwords_from_the_command_line_and_nothing_secret_in_the_log,
    a_database_migrated_before_the_identity_tables_gets_them_from_migrate,
);

/// A database migrated by an oxbase without the identity tables: `serve` refuses it as not
/// migrated, and `migrate` adds them (and only them) as steps of their own.
fn a_database_migrated_before_the_identity_tables_gets_them_from_migrate(engine: Engine) {
    let database = ScratchDatabase::create(engine, "pearl.db");
    let schema = pearl_schema_path();
    let migrate = |extra: &[&str]| {
        Command::new(oxbase_binary())
            .args(["migrate", "--schema", schema.to_str().unwrap(), "--database", &database.url()])
            .args(extra)
            .output()
            .unwrap()
    };
    assert!(migrate(&[]).status.success());
    database.execute("DROP TABLE _oxbase_api_keys; DROP TABLE _oxbase_secrets").unwrap();
    let planned = text(&migrate(&["--dry-run"]).stdout);
    assert!(planned.contains("--   create oxbase's system table _oxbase_api_keys"), "{planned}");
    assert!(planned.contains("--   create oxbase's system table _oxbase_secrets"), "{planned}");
    assert!(!planned.contains("_oxbase_refresh_tokens\" ("), "only the missing tables: {planned}");
    let served = Command::new(oxbase_binary())
        .args(["serve", "--schema", schema.to_str().unwrap(), "--database", &database.url(), "--listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert!(text(&served.stderr).contains("is not migrated to this schema"), "{}", text(&served.stderr));
    let applied = text(&migrate(&[]).stdout);
    assert!(applied.contains("applied 2 step(s)"), "{applied}");
    assert_eq!(database.count("SELECT count(*) FROM _oxbase_api_keys"), 0);
    assert!(text(&migrate(&[]).stdout).contains("up to date"));
}

fn oxbase(arguments: &[&str], database: &ScratchDatabase, stdin: Option<&str>) -> Output {
    let schema = pearl_schema_path();
    let mut child = Command::new(oxbase_binary())
        .args(arguments)
        .args(["--schema", schema.to_str().unwrap(), "--database", &database.url()])
        .env_remove("OXBASE_DATABASE")
        .env_remove("OXBASE_SCHEMA")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running oxbase");
    let mut input = child.stdin.take().unwrap();
    if let Some(stdin) = stdin {
        input.write_all(stdin.as_bytes()).unwrap();
    }
    drop(input);
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

const PASSWORD: &str = "a password typed on stdin";

fn keys_and_passwords_from_the_command_line_and_nothing_secret_in_the_log(engine: Engine) {
    let database = ScratchDatabase::create(engine, "pearl.db");
    let seeded = Command::new(oxbase_binary()).args(["seed", "--database", &database.url()]).output().unwrap();
    assert!(seeded.status.success(), "{}", text(&seeded.stderr));
    let admin = database.texts("SELECT username FROM users WHERE role = 'admin' ORDER BY id LIMIT 1").remove(0);

    let set = oxbase(&["users", "set-password", &admin], &database, Some(&format!("{PASSWORD}\n")));
    assert!(set.status.success(), "{}", text(&set.stderr));
    assert_eq!(text(&set.stdout).trim(), format!("set the password of {admin}"));
    let hash = database.texts(&format!("SELECT password_hash FROM users WHERE username = '{admin}'")).remove(0);
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    let unknown = oxbase(&["users", "set-password", "nobody_at_all"], &database, Some("long enough password\n"));
    assert_eq!(unknown.status.code(), Some(1));
    assert!(text(&unknown.stderr).contains("no account has the username 'nobody_at_all'"), "{}", text(&unknown.stderr));
    let short = oxbase(&["users", "set-password", &admin], &database, Some("short\n"));
    assert!(text(&short.stderr).contains("8 to 1024"), "{}", text(&short.stderr));

    let created = oxbase(&["keys", "create", "--role", "admin", "--name", "ci", "--expires", "30d"], &database, None);
    assert!(created.status.success(), "{}", text(&created.stderr));
    let key = text(&created.stdout).trim().to_owned();
    assert!(key.starts_with("oxk_") && !text(&created.stderr).contains(&key), "the key only on stdout");
    let id = key.split('_').nth(1).unwrap().to_owned();
    let refused = oxbase(&["keys", "create", "--role", "root", "--actions", "read"], &database, None);
    assert!(text(&refused.stderr).contains("the schema declares no role 'root'"), "{}", text(&refused.stderr));
    let listed = text(&oxbase(&["keys", "list"], &database, None).stdout);
    assert!(listed.contains(&id) && listed.contains("\tci\tadmin\t") && !listed.contains(&key), "{listed}");

    let server = ServerProcess::start(
        Command::new(oxbase_binary())
            .args(["serve", "--schema", pearl_schema_path().to_str().unwrap(), "--database", &database.url()])
            .args(["--listen", "127.0.0.1:0", "--admin"])
            .env("RUST_LOG", "debug")
            .env_remove("OXBASE_DATABASE"),
    );
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let client = reqwest::Client::new();
    let url = |path: &str| format!("http://{}{path}", server.address);
    let (tokens, wrong) = runtime.block_on(async {
        let login = |password: &str| {
            client.post(url("/api/v1/auth/login")).json(&json!({ "username": admin, "password": password })).send()
        };
        let tokens: Value = login(PASSWORD).await.unwrap().json().await.unwrap();
        let wrong = login("not the password").await.unwrap();
        assert_eq!(wrong.status(), 401);
        let access = tokens["access_token"].as_str().unwrap();
        let users = client.get(url("/api/v1/users?select=*")).bearer_auth(access).send().await.unwrap();
        assert_eq!(users.status(), 200);
        assert!(!users.text().await.unwrap().contains("argon2"));
        let counters = client.get(url("/admin/counters")).bearer_auth(&key).send().await.unwrap();
        assert_eq!(counters.status(), 200);
        (tokens, wrong.text().await.unwrap())
    });
    assert!(!wrong.contains(&admin) && !wrong.contains("argon2"), "{wrong}");
    // Revoked from another process: the server refuses the key within its recheck interval.
    let revoked = oxbase(&["keys", "revoke", &id], &database, None);
    assert_eq!(text(&revoked.stdout).trim(), format!("revoked API key {id}"));
    let started = Instant::now();
    let status = runtime.block_on(async {
        loop {
            let response = client.get(url("/admin/counters")).bearer_auth(&key).send().await.unwrap();
            if response.status() == 401 || started.elapsed() > Duration::from_secs(8) {
                let body: Value = response.json().await.unwrap();
                return body["code"].clone();
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    assert_eq!(status, "key_revoked", "refused within {:?}", started.elapsed());
    let listed = text(&oxbase(&["keys", "list"], &database, None).stdout);
    let row = listed.lines().find(|line| line.starts_with(&id)).unwrap().to_owned();
    let columns: Vec<&str> = row.split('\t').collect();
    assert!(columns[7] != "-" && columns[8] != "-", "revoked and last used are recorded: {row}");

    let log = server.log();
    assert!(log.contains("/api/v1/auth/login"), "the log has the requests: {log}");
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let access = tokens["access_token"].as_str().unwrap();
    for secret in [hash.as_str(), &hash[hash.len() - 22..], PASSWORD, "not the password", &key, refresh, access] {
        assert!(!log.contains(secret), "the log holds a secret ({}…)", &secret[..8]);
    }
}
