//! `oxbase check`, `migrate` and `seed`, run as a user runs them. Those that touch a
//! database run on both engines.

use std::path::Path;
use std::process::{Command, Output};

use crate::on_both_engines_blocking;
use crate::support::{Engine, ScratchDatabase, oxbase_binary, pearl_schema_path};

on_both_engines_blocking!(
    migrate_creates_is_idempotent_and_records_history,
    migrate_applies_additive_changes_and_refuses_destructive_ones,
    migrate_refuses_a_new_required_field_without_default,
    seed_is_deterministic_and_refuses_a_seeded_database,
    seeded_data_keeps_the_unresolved_comment_count_rule,
);

fn oxbase(arguments: &[&str]) -> Output {
    Command::new(oxbase_binary())
        .args(arguments)
        .env_remove("OXBASE_DATABASE")
        .env_remove("OXBASE_SCHEMA")
        .output()
        .expect("running oxbase")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn write(path: &Path, contents: &str) {
    std::fs::write(path, contents).unwrap();
}

#[test]
fn check_accepts_the_pearl_example() {
    let output = oxbase(&["check", "--schema", pearl_schema_path().to_str().unwrap()]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(text(&output.stdout).contains("ok (11 resources"), "{}", text(&output.stdout));
}

#[test]
fn check_names_a_reference_to_a_missing_resource() {
    let directory = tempfile::tempdir().unwrap();
    let schema = directory.path().join("shop.toml");
    write(
        &schema,
        "[resources.customers.fields]\nname = { type = \"text\" }\n\n[resources.orders.fields]\ncustomer_id = { type = \"integer\", references = \"customer\" }\n",
    );
    let output = oxbase(&["check", "--schema", schema.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    let errors = text(&output.stderr);
    assert!(
        errors.contains("shop.toml:5: resources.orders.fields.customer_id: references unknown resource 'customer'"),
        "{errors}"
    );
    assert!(errors.contains("did you mean 'customers'?"), "{errors}");
    assert!(errors.contains("1 problem found"), "{errors}");
}

#[test]
fn check_reports_a_missing_file() {
    let output = oxbase(&["check", "--schema", "/nonexistent/schema.toml"]);
    assert!(!output.status.success());
    assert!(text(&output.stderr).contains("cannot read the schema file"), "{}", text(&output.stderr));
}

const SHOP: &str = "[resources.customers.fields]\nname = { type = \"text\", unique = true }\nnote = { type = \"text\", nullable = true }\n\n[resources.orders.fields]\ncustomer_id = { type = \"integer\", references = \"customers\", on_delete = \"cascade\" }\ntotal = { type = \"float\", min = 0 }\n";

fn migrate_creates_is_idempotent_and_records_history(engine: Engine) {
    let database = ScratchDatabase::create(engine, "data/shop.db");
    let schema = database.directory().join("shop.toml");
    write(&schema, SHOP);
    let url = database.url();
    let arguments = ["migrate", "--schema", schema.to_str().unwrap(), "--database", &url];

    let output = oxbase(&arguments);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(text(&output.stdout).contains("create table orders"), "{}", text(&output.stdout));
    assert_eq!(database.columns("orders"), ["id", "customer_id", "total"]);

    let output = oxbase(&arguments);
    assert!(output.status.success());
    assert!(text(&output.stdout).contains("up to date"), "{}", text(&output.stdout));

    assert_eq!(database.count("SELECT count(*) FROM _oxbase_migrations"), 1, "an up-to-date run records nothing");
    let indexes = database.texts(database.pick(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'orders' AND name NOT LIKE 'sqlite_%'",
        "SELECT indexname::text FROM pg_indexes WHERE tablename = 'orders' AND indexname <> 'orders_pkey'",
    ));
    assert_eq!(indexes, ["orders_customer_id_idx"], "foreign keys get an index");
    let refused = database.execute("INSERT INTO orders (customer_id, total) VALUES (1, -1)");
    assert!(refused.is_err(), "constraints are in the database too");
}

fn migrate_applies_additive_changes_and_refuses_destructive_ones(engine: Engine) {
    let database = ScratchDatabase::create(engine, "shop.db");
    let schema = database.directory().join("shop.toml");
    write(&schema, SHOP);
    let url = database.url();
    let arguments = ["migrate", "--schema", schema.to_str().unwrap(), "--database", &url];
    assert!(oxbase(&arguments).status.success());
    database.execute("INSERT INTO customers (name, note) VALUES ('ada', 'first')").unwrap();
    database.execute("INSERT INTO orders (customer_id, total) VALUES (1, 9.5)").unwrap();

    // Additive: a new resource, a new nullable field, a new defaulted field, a new index.
    let additive = format!(
        "{SHOP}placed_on = {{ type = \"date\", nullable = true }}\nstatus = {{ type = \"enum\", values = [\"open\", \"paid\"], default = \"open\" }}\n\n[[resources.orders.indexes]]\ncolumns = [\"status\", \"placed_on\"]\n\n[resources.coupons.fields]\ncode = {{ type = \"text\" }}\n"
    );
    write(&schema, &additive);
    let output = oxbase(&arguments);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let report = text(&output.stdout);
    for step in [
        "add column orders.placed_on",
        "add column orders.status",
        "create index orders_status_placed_on_idx",
        "create table coupons",
    ] {
        assert!(report.contains(step), "missing {step:?} in:\n{report}");
    }
    let status = database.texts("SELECT status FROM orders WHERE id = 1");
    assert_eq!(status, ["open"], "existing rows get the default");

    // Destructive: dropping a field is refused and changes nothing.
    let destructive = additive.replace("note = { type = \"text\", nullable = true }\n", "");
    write(&schema, &destructive);
    let output = oxbase(&arguments);
    assert_eq!(output.status.code(), Some(1));
    let errors = text(&output.stderr);
    assert!(errors.contains("refusing destructive changes"), "{errors}");
    assert!(errors.contains("column 'customers.note' and its values would be deleted"), "{errors}");
    assert!(database.columns("customers").contains(&"note".to_owned()));

    // --dry-run prints the statements (SQLite rebuilds the table, PostgreSQL drops the
    // column in place) and changes nothing either.
    let mut dry_run = arguments.to_vec();
    dry_run.extend(["--dry-run", "--allow-destructive"]);
    let output = oxbase(&dry_run);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let expected_statement =
        database.pick("INSERT INTO \"_oxbase_new_customers\"", "ALTER TABLE \"customers\" DROP COLUMN \"note\"");
    assert!(text(&output.stdout).contains(expected_statement), "{}", text(&output.stdout));
    assert!(database.columns("customers").contains(&"note".to_owned()));

    // --allow-destructive applies it, keeping the other columns' data and the references.
    let mut allowed = arguments.to_vec();
    allowed.push("--allow-destructive");
    let output = oxbase(&allowed);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(database.columns("customers"), ["id", "name"]);
    assert_eq!(database.texts("SELECT name FROM customers WHERE id = 1"), ["ada"]);
    assert_eq!(database.count("SELECT count(*) FROM orders"), 1, "the rebuild did not cascade into orders");
}

fn migrate_refuses_a_new_required_field_without_default(engine: Engine) {
    let database = ScratchDatabase::create(engine, "shop.db");
    let schema = database.directory().join("shop.toml");
    write(&schema, SHOP);
    let url = database.url();
    let arguments = ["migrate", "--schema", schema.to_str().unwrap(), "--database", &url];
    assert!(oxbase(&arguments).status.success());
    write(&schema, &format!("{SHOP}currency = {{ type = \"text\" }}\n"));
    let output = oxbase(&arguments);
    assert!(!output.status.success());
    assert!(text(&output.stderr).contains("'orders.currency' has no default"), "{}", text(&output.stderr));
}

#[test]
fn migrate_without_a_database_says_how_to_give_one() {
    let directory = tempfile::tempdir().unwrap();
    let schema = directory.path().join("shop.toml");
    write(&schema, SHOP);
    let output = oxbase(&["migrate", "--schema", schema.to_str().unwrap()]);
    assert!(!output.status.success());
    assert!(text(&output.stderr).contains("pass --database URL"), "{}", text(&output.stderr));
    let output = oxbase(&["migrate", "--schema", schema.to_str().unwrap(), "--database", "mysql://x"]);
    assert!(
        text(&output.stderr).contains("expected a URL starting with sqlite:// or postgres://"),
        "{}",
        text(&output.stderr)
    );
}

/// Every table's rows, in id order, as text: to compare two databases.
fn dump(database: &ScratchDatabase) -> String {
    let tables = database.texts(database.pick(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_oxbase%' ORDER BY name",
        "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public' AND table_name NOT LIKE '\\_oxbase%' ORDER BY 1",
    ));
    assert!(tables.len() >= 10, "{tables:?}");
    let mut out = String::new();
    for table in tables {
        // PostgreSQL gives each row as its own JSON (dates, timestamps and booleans included).
        let sql = database.pick(
            "SELECT * FROM \"{table}\" ORDER BY id",
            "SELECT row_to_json(t)::text FROM \"{table}\" AS t ORDER BY id",
        );
        for row in database.rows(&sql.replace("{table}", &table)) {
            out.push_str(&table);
            for value in row {
                out.push_str(&format!("|{value}"));
            }
            out.push('\n');
        }
    }
    out
}

fn seed_is_deterministic_and_refuses_a_seeded_database(engine: Engine) {
    let first = ScratchDatabase::create(engine, "first.db");
    let second = ScratchDatabase::create(engine, "second.db");
    for database in [&first, &second] {
        let output = oxbase(&["seed", "--example", "pearl", "--scale", "small", "--database", &database.url()]);
        assert!(output.status.success(), "{}", text(&output.stderr));
        assert!(text(&output.stdout).contains("trackers"), "{}", text(&output.stdout));
    }
    let dump_first = dump(&first);
    assert!(dump_first.lines().filter(|line| line.starts_with("trackers|")).count() >= 1000);
    assert!(dump_first.lines().filter(|line| line.starts_with("tracker_comments|")).count() >= 3000);
    assert!(dump_first == dump(&second), "two seeds of the same scale are identical");

    let output = oxbase(&["seed", "--example", "pearl", "--scale", "small", "--database", &first.url()]);
    assert!(!output.status.success());
    assert!(text(&output.stderr).contains("already has rows"), "{}", text(&output.stderr));
    let output = oxbase(&["seed", "--example", "nope", "--database", &first.url()]);
    assert!(text(&output.stderr).contains("unknown example 'nope'"), "{}", text(&output.stderr));
    let output = oxbase(&["seed", "--scale", "huge", "--database", &first.url()]);
    assert!(text(&output.stderr).contains("unknown scale 'huge'"), "{}", text(&output.stderr));
}

fn seeded_data_keeps_the_unresolved_comment_count_rule(engine: Engine) {
    let database = ScratchDatabase::create(engine, "pearl.db");
    let output = oxbase(&["seed", "--database", &database.url()]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let mismatches = database.count(
        "SELECT count(*) FROM trackers t WHERE t.unresolved_comment_count <> (SELECT count(*) FROM tracker_comments c WHERE c.tracker_id = t.id AND c.parent_comment_id IS NULL AND c.is_resolved = false)",
    );
    assert_eq!(mismatches, 0);
    match engine {
        Engine::Sqlite => assert_eq!(database.count("SELECT count(*) FROM pragma_foreign_key_check"), 0),
        // The seed drops the foreign keys while loading: they must all be back, and checked.
        Engine::Postgres => {
            let (foreign_keys, unchecked) = (
                database.count("SELECT count(*) FROM pg_constraint WHERE contype = 'f'"),
                database.count("SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND NOT convalidated"),
            );
            assert!(foreign_keys >= 10 && unchecked == 0, "{foreign_keys} foreign keys, {unchecked} unchecked");
        }
    }
}

/// Runs oxbase with stdout a pipe whose reader is already gone (`oxbase … | head -0`).
fn oxbase_into_a_closed_pipe(arguments: &[&str]) -> Output {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let child = Command::new(oxbase_binary())
        .args(arguments)
        .env_remove("OXBASE_DATABASE")
        .env_remove("OXBASE_SCHEMA")
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("running oxbase");
    child.wait_with_output().unwrap()
}

#[test]
fn a_closed_stdout_ends_commands_quietly() {
    let directory = tempfile::tempdir().unwrap();
    let schema = directory.path().join("shop.toml");
    write(&schema, SHOP);
    let url = format!("sqlite://{}", directory.path().join("shop.db").display());
    let schema = schema.to_str().unwrap();
    for arguments in [
        vec!["check", "--schema", schema],
        vec!["migrate", "--schema", schema, "--database", &url, "--dry-run"],
        vec!["migrate", "--schema", schema, "--database", &url],
        vec!["seed", "--database", &url.replace("shop.db", "pearl.db")],
        vec!["--help"],
    ] {
        let output = oxbase_into_a_closed_pipe(&arguments);
        let errors = text(&output.stderr);
        assert!(!errors.contains("panicked"), "{arguments:?}: {errors}");
        assert_eq!(output.status.code(), Some(0), "{arguments:?}: {errors}");
        assert!(errors.is_empty(), "{arguments:?} exits quietly: {errors}");
    }
    // The work was done before the output went nowhere.
    let output = oxbase(&["migrate", "--schema", schema, "--database", &url]);
    assert!(text(&output.stdout).contains("up to date"), "{}", text(&output.stdout));
}

#[test]
fn postgres_connect_failures_say_what_and_where() {
    let schema = pearl_schema_path();
    let schema = schema.to_str().unwrap();
    let missing = "postgres://postgres@127.0.0.1:5432/does_not_exist";
    for command in ["migrate", "serve"] {
        let mut arguments = vec![command, "--schema", schema, "--database", missing];
        if command == "serve" {
            arguments.extend(["--listen", "127.0.0.1:0"]);
        }
        let output = oxbase(&arguments);
        assert_eq!(output.status.code(), Some(1), "{command}");
        let errors = text(&output.stderr);
        assert!(
            errors.contains(
                "database \"does_not_exist\" does not exist on 127.0.0.1:5432; create it with: createdb -h 127.0.0.1 -U postgres does_not_exist"
            ),
            "{command}: {errors}"
        );
    }
    // Nothing listens on port 1; the password in the URL is never repeated.
    let output = oxbase(&["migrate", "--schema", schema, "--database", "postgres://ana:hunter2@127.0.0.1:1/shop"]);
    let errors = text(&output.stderr);
    assert!(errors.contains("cannot connect to PostgreSQL on 127.0.0.1:1: connection refused"), "{errors}");
    assert!(!errors.contains("hunter2"), "{errors}");
}

#[test]
fn serve_refuses_a_short_cursor_secret_naming_where_it_came_from() {
    let directory = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", directory.path().join("never.db").display());
    let schema = pearl_schema_path();
    let serve = ["serve", "--schema", schema.to_str().unwrap(), "--database", &url, "--listen", "127.0.0.1:0"];
    let run = |extra: &[&str], variables: &[(&str, &str)]| {
        let mut command = Command::new(oxbase_binary());
        command.args(serve).args(extra);
        for variable in ["OXBASE_CURSOR_SECRET", "OXBASE_CURSOR_SECRET_FILE", "OXBASE_CURSOR_SECRET_PREVIOUS"] {
            command.env_remove(variable);
        }
        command.envs(variables.iter().copied()).output().unwrap()
    };
    let output = run(&[], &[("OXBASE_CURSOR_SECRET", "too-short-secret")]);
    assert_eq!(output.status.code(), Some(1));
    let errors = text(&output.stderr);
    assert!(
        errors.contains("the cursor secret is 16 bytes; at least 32 are needed (from OXBASE_CURSOR_SECRET)"),
        "{errors}"
    );
    assert!(!errors.contains("too-short-secret"), "the secret is not repeated: {errors}");

    // A file's trailing newline is not counted; 31 bytes are still too few.
    let file = directory.path().join("cursor.secret");
    write(&file, &format!("{}\n", "x".repeat(31)));
    let output = run(&["--cursor-secret-file", file.to_str().unwrap()], &[]);
    let errors = text(&output.stderr);
    assert!(errors.contains("is 31 bytes; at least 32") && errors.contains("cursor.secret"), "{errors}");

    let long_enough = "y".repeat(32);
    let output = run(&[], &[("OXBASE_CURSOR_SECRET_PREVIOUS", &long_enough)]);
    assert!(text(&output.stderr).contains("no current one"), "{}", text(&output.stderr));
    // A good secret gets past the settings to the database check (this one is empty).
    let output = run(&[], &[("OXBASE_CURSOR_SECRET", &long_enough)]);
    assert!(text(&output.stderr).contains("is not migrated"), "{}", text(&output.stderr));

    // [server] cursor_secret_file, relative to the schema file; the flag wins over it.
    let schema_copy = directory.path().join("pearl.toml");
    let source = std::fs::read_to_string(&schema).unwrap();
    write(&schema_copy, &source.replacen("[server]\n", "[server]\ncursor_secret_file = \"cursor.secret\"\n", 1));
    let output = Command::new(oxbase_binary())
        .args(["serve", "--schema", schema_copy.to_str().unwrap(), "--database", &url, "--listen", "127.0.0.1:0"])
        .env_remove("OXBASE_CURSOR_SECRET")
        .env_remove("OXBASE_CURSOR_SECRET_FILE")
        .output()
        .unwrap();
    let errors = text(&output.stderr);
    assert!(errors.contains("is 31 bytes") && errors.contains("[server] cursor_secret_file"), "{errors}");
    let good = directory.path().join("good.secret");
    write(&good, &long_enough);
    let output = Command::new(oxbase_binary())
        .args(["serve", "--schema", schema_copy.to_str().unwrap(), "--database", &url, "--listen", "127.0.0.1:0"])
        .args(["--cursor-secret-file", good.to_str().unwrap()])
        .env_remove("OXBASE_CURSOR_SECRET")
        .output()
        .unwrap();
    assert!(text(&output.stderr).contains("is not migrated"), "{}", text(&output.stderr));
}

#[test]
fn check_names_the_line_of_an_unknown_server_key() {
    let directory = tempfile::tempdir().unwrap();
    let schema = directory.path().join("shop.toml");
    write(
        &schema,
        "[server]\nlisten = \"127.0.0.1:0\"\nlisten_port = 1\n\n[resources.customers.fields]\nname = { type = \"text\" }\n",
    );
    let output = oxbase(&["check", "--schema", schema.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    let errors = text(&output.stderr);
    assert!(errors.contains("shop.toml:3: unknown field `listen_port`"), "{errors}");
    assert!(errors.contains("1 problem found"), "{errors}");
}

/// `oxbase config` with settings from every layer: a flag beats its variable, a variable
/// beats the file, the file beats the default; secrets never show.
#[test]
fn config_prints_the_effective_configuration_with_sources_and_redacted_secrets() {
    let output = Command::new(oxbase_binary())
        .args(["config", "--schema", pearl_schema_path().to_str().unwrap()])
        .args(["--database", "postgres://oxbase:hunter2@127.0.0.1:5432/pearl", "--listen", "127.0.0.1:9000"])
        .env_remove("OXBASE_DATABASE")
        .env_remove("OXBASE_SCHEMA")
        .env_remove("OXBASE_CURSOR_SECRET_FILE")
        .env_remove("OXBASE_CURSOR_SECRET_PREVIOUS")
        .env_remove("OXBASE_CURSOR_SECRET_PREVIOUS_FILE")
        .env("OXBASE_LISTEN", "127.0.0.1:1")
        .env("OXBASE_SERVER_MAX_PAGE_SIZE", "300")
        .env("OXBASE_CACHE", "off")
        .env("OXBASE_REDIS", "redis://:swordfish@127.0.0.1:6379/0")
        .env("OXBASE_CURSOR_SECRET", "correct horse battery staple, 32 bytes+")
        .output()
        .expect("running oxbase");
    let (printed, errors) = (text(&output.stdout), text(&output.stderr));
    assert!(output.status.success(), "{errors}");
    let line = |key: &str| {
        printed
            .lines()
            .find(|line| line.starts_with(&format!("{key} = ")))
            .unwrap_or_else(|| panic!("{key}: {printed}"))
    };
    assert!(line("listen").starts_with("listen = \"127.0.0.1:9000\"") && line("listen").ends_with("# flag --listen"));
    assert!(
        line("max_page_size").contains("300") && line("max_page_size").ends_with("# env OXBASE_SERVER_MAX_PAGE_SIZE")
    );
    assert!(line("default_page_size").contains("50") && line("default_page_size").ends_with("# schema file"));
    assert!(line("readers").contains("4") && line("readers").ends_with("# default"));
    assert!(line("enabled").contains("false") && line("enabled").ends_with("# env OXBASE_CACHE"));
    assert!(line("url").contains("postgres://oxbase:[redacted]@127.0.0.1:5432/pearl"), "{printed}");
    assert!(line("redis_url").contains("redis://:[redacted]@127.0.0.1:6379/0"), "{printed}");
    assert!(printed.contains("# cursor secret: [redacted] (from OXBASE_CURSOR_SECRET)"), "{printed}");
    for section in ["[server]", "[database]", "[cache]"] {
        assert!(printed.lines().any(|line| line == section), "{section}: {printed}");
    }
    for secret in ["hunter2", "swordfish", "horse"] {
        assert!(!printed.contains(secret) && !errors.contains(secret), "{secret} shown:\n{printed}\n{errors}");
    }
}

#[test]
fn config_reports_what_serve_would_refuse() {
    let output = Command::new(oxbase_binary())
        .args(["config", "--database", "sqlite://app.db", "--max-connections", "0"])
        .env_remove("OXBASE_SCHEMA")
        .output()
        .expect("running oxbase");
    assert_eq!(output.status.code(), Some(1));
    assert!(text(&output.stdout).contains("max_connections = 0"), "{}", text(&output.stdout));
    assert!(text(&output.stderr).contains("max_connections is 0"), "{}", text(&output.stderr));
}

/// docs/operations.md holds the settings table `oxbase config --markdown` renders from the
/// declarations, so the documentation cannot drift from the code.
#[test]
fn the_settings_table_in_operations_md_is_the_generated_one() {
    let output = oxbase(&["config", "--markdown"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let generated = text(&output.stdout);
    let docs = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/operations.md")).unwrap();
    let (_, rest) = docs.split_once("<!-- settings:begin -->\n").expect("the begin marker in docs/operations.md");
    let (documented, _) = rest.split_once("<!-- settings:end -->").expect("the end marker in docs/operations.md");
    assert!(
        documented.trim_end() == generated.trim_end(),
        "docs/operations.md's settings table is out of date: replace it with the output of `oxbase config --markdown`"
    );
    for variable in [
        "OXBASE_SCHEMA",
        "OXBASE_DATABASE",
        "OXBASE_LISTEN",
        "OXBASE_READERS",
        "OXBASE_REDIS",
        "OXBASE_CACHE",
        "OXBASE_ADMIN",
        "OXBASE_LOG_FORMAT",
        "OXBASE_HEADER_READ_TIMEOUT",
        "OXBASE_KEEP_ALIVE_TIMEOUT",
        "OXBASE_MAX_CONNECTIONS",
        "OXBASE_CURSOR_SECRET",
        "OXBASE_CURSOR_SECRET_FILE",
        "OXBASE_CURSOR_SECRET_PREVIOUS",
        "OXBASE_CURSOR_SECRET_PREVIOUS_FILE",
        "OXBASE_MIGRATE",
    ] {
        assert!(generated.contains(&format!("`{variable}`")), "{variable} is not in the table");
    }
}
