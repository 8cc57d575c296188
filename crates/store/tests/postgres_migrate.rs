//! Migrations and seeding on a real PostgreSQL (127.0.0.1:5432, started by `.ci/run`). Each
//! test creates its own database and drops it when it ends.
//!
//! Plain `#[test]`s: the synchronous `postgres` client must not run inside an async task.

use oxbase_examples::Scale;
use oxbase_schema::Schema;
use oxbase_schema::dialect::Dialect;
use oxbase_schema::migration::postgres_foreign_key_name;
use oxbase_schema::physical::PhysicalSchema;
use oxbase_store::migrate::{MigrateError, MigrateOptions, MigrateOutcome, migrate};
use oxbase_store::seed::{SeedError, example_schema, seed_example};
use oxbase_store::settings::DatabaseUrl;

/// The local PostgreSQL server the databases are created in.
const POSTGRES_SERVER: &str = "postgres://postgres@127.0.0.1:5432";

/// A fresh database for one test, dropped when the test ends.
struct ScratchDatabase {
    name: String,
}

impl ScratchDatabase {
    fn create() -> ScratchDatabase {
        let mut random = fastrand::Rng::new();
        let suffix: String = (0..16).map(|_| char::from(b'a' + random.u8(..26))).collect();
        let name = format!("oxbase_scratch_{suffix}");
        admin().batch_execute(&format!("CREATE DATABASE \"{name}\"")).unwrap();
        ScratchDatabase { name }
    }

    fn url(&self) -> DatabaseUrl {
        DatabaseUrl::Postgres(format!("{POSTGRES_SERVER}/{}", self.name))
    }

    fn client(&self) -> postgres::Client {
        postgres::Client::connect(&format!("{POSTGRES_SERVER}/{}", self.name), postgres::NoTls).unwrap()
    }
}

impl Drop for ScratchDatabase {
    fn drop(&mut self) {
        let _ = admin().batch_execute(&format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name));
    }
}

fn admin() -> postgres::Client {
    let url = format!("{POSTGRES_SERVER}/postgres");
    postgres::Client::connect(&url, postgres::NoTls)
        .unwrap_or_else(|error| panic!("these tests need PostgreSQL at {url} (.ci/run starts it): {error}"))
}

fn pearl() -> Schema {
    example_schema("pearl").unwrap()
}

fn pearl_changed(change: impl FnOnce(&str) -> String) -> Schema {
    let source = oxbase_examples::schema_source("pearl").unwrap();
    let changed = change(source);
    assert_ne!(changed, source, "the change applies");
    oxbase_schema::parse_schema(&changed, "changed.toml").unwrap_or_else(|errors| panic!("{errors}"))
}

fn allow_destructive() -> MigrateOptions {
    MigrateOptions { allow_destructive: true, ..MigrateOptions::default() }
}

fn count(client: &mut postgres::Client, sql: &str) -> i64 {
    client.query_one(sql, &[]).unwrap().get(0)
}

fn names(client: &mut postgres::Client, sql: &str) -> Vec<String> {
    client.query(sql, &[]).unwrap().iter().map(|row| row.get(0)).collect()
}

/// Every user table's rows as text, in id order, one hash per table.
fn dump(client: &mut postgres::Client) -> Vec<(String, String)> {
    let tables = names(
        client,
        "SELECT tablename::text FROM pg_tables WHERE schemaname = 'public' AND tablename NOT LIKE '\\_oxbase%' ORDER BY 1",
    );
    tables
        .into_iter()
        .map(|table| {
            let sql = format!("SELECT md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t.id), '')) FROM \"{table}\" t");
            let hash: String = client.query_one(&sql, &[]).unwrap().get(0);
            (table, hash)
        })
        .collect()
}

#[test]
fn migrate_creates_every_pearl_table_with_constraints_and_indexes_and_is_idempotent() {
    let database = ScratchDatabase::create();
    let schema = pearl();
    let dry_run = migrate(&database.url(), &schema, MigrateOptions { dry_run: true, ..MigrateOptions::default() });
    let Ok(MigrateOutcome::Planned { statements, .. }) = dry_run else { panic!("{dry_run:?}") };
    assert!(statements[0].contains("\"_oxbase_migrations\""), "{}", statements[0]);
    let mut client = database.client();
    assert_eq!(count(&mut client, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"), 0, "dry run");

    let outcome = migrate(&database.url(), &schema, MigrateOptions::default()).unwrap();
    assert!(matches!(outcome, MigrateOutcome::Applied { .. }), "{outcome:?}");
    let tables = names(&mut client, "SELECT tablename::text FROM pg_tables WHERE schemaname = 'public' ORDER BY 1");
    let mut expected: Vec<String> = schema.resources.values().map(|resource| resource.table.clone()).collect();
    expected.extend(
        [
            "_oxbase_api_keys",
            "_oxbase_audit_batches",
            "_oxbase_audit_head",
            "_oxbase_audit_records",
            "_oxbase_migrations",
            "_oxbase_refresh_tokens",
            "_oxbase_secrets",
            "_oxbase_versions",
        ]
        .map(str::to_owned),
    );
    expected.sort();
    assert_eq!(tables, expected);

    let checks = names(&mut client, "SELECT conname::text FROM pg_constraint WHERE contype = 'c' ORDER BY 1");
    for check in [
        "trackers_priority_min_check",
        "trackers_priority_max_check",
        "trackers_production_status_enum_check",
        "users_username_pattern_check",
        "users_username_max_length_check",
    ] {
        assert!(checks.iter().any(|name| name == check), "{check} in {checks:?}");
    }
    let foreign_keys = names(&mut client, "SELECT conname::text FROM pg_constraint WHERE contype = 'f' ORDER BY 1");
    let declared_references: usize = schema
        .resources
        .values()
        .map(|resource| resource.fields.iter().filter(|field| field.reference.is_some()).count())
        .sum();
    assert_eq!(foreign_keys.len(), declared_references, "{foreign_keys:?}");
    assert!(foreign_keys.iter().any(|name| name == "tracker_comments_parent_comment_id_fkey"));
    let indexes = names(&mut client, "SELECT indexname::text FROM pg_indexes WHERE schemaname = 'public'");
    for index in [
        "trackers_open_due_date_idx",
        "users_email_key",
        "tracker_comments_tracker_id_idx",
        "reporting_effort_items_reporting_effort_id_item_type_item_subtype_item_code_key",
    ] {
        let index = oxbase_schema::values::database_name(index.to_owned());
        assert!(indexes.contains(&index), "{index} in {indexes:?}");
    }
    let partial: String = client
        .query_one("SELECT indexdef FROM pg_indexes WHERE indexname = 'trackers_open_due_date_idx'", &[])
        .unwrap()
        .get(0);
    assert!(partial.contains("WHERE (production_status <> 'completed'::text)"), "{partial}");
    let identity: String = client
        .query_one(
            "SELECT is_identity FROM information_schema.columns WHERE table_name = 'users' AND column_name = 'id'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(identity, "YES");

    assert_eq!(migrate(&database.url(), &schema, MigrateOptions::default()).unwrap(), MigrateOutcome::UpToDate);
    assert_eq!(count(&mut client, "SELECT count(*) FROM _oxbase_migrations"), 1);
}

#[test]
fn additive_changes_apply_in_place() {
    let database = ScratchDatabase::create();
    seed_example(&database.url(), "pearl", Scale::Small).unwrap();
    let changed = pearl_changed(|source| {
        source
            .replace(
                "updated_at = { type = \"timestamp\", auto = \"updated\" }\n",
                "updated_at = { type = \"timestamp\", auto = \"updated\" }\nnotes = { type = \"text\", nullable = true }\ncategory_id = { type = \"integer\", references = \"tracker_categories\", nullable = true }\n",
            )
            .replace(
                "[resources.tracker_comments]",
                "[[resources.tracker_comments.indexes]]\ncolumns = [\"created_at\"]\n\n[resources.tracker_comments]",
            )
            .replace(
                "[roles.viewer]",
                "[resources.tracker_categories.fields]\nname = { type = \"text\", unique = true }\n\n[roles.viewer]",
            )
    });
    let outcome = migrate(&database.url(), &changed, MigrateOptions::default()).unwrap();
    let MigrateOutcome::Applied { steps, .. } = outcome else { panic!("{outcome:?}") };
    assert_eq!(
        steps,
        [
            "add column trackers.notes",
            "add column trackers.category_id",
            // Both tables have rows: their indexes are built after the commit.
            "create index trackers_category_id_idx concurrently, after the commit (trackers has rows)",
            "create index tracker_comments_created_at_idx concurrently, after the commit (tracker_comments has rows)",
            "create table tracker_categories",
            "add foreign key trackers.category_id",
        ]
    );
    let mut client = database.client();
    assert_eq!(count(&mut client, "SELECT count(*) FROM trackers WHERE notes IS NULL"), 1000);
    client.batch_execute("INSERT INTO tracker_categories (name) VALUES ('tables')").unwrap();
    client.batch_execute("UPDATE trackers SET category_id = 1, notes = 'x' WHERE id = 1").unwrap();
    let error = client.batch_execute("UPDATE trackers SET category_id = 99 WHERE id = 2").unwrap_err();
    assert_eq!(error.as_db_error().unwrap().constraint(), Some("trackers_category_id_fkey"));
    assert_eq!(migrate(&database.url(), &changed, MigrateOptions::default()).unwrap(), MigrateOutcome::UpToDate);
}

#[test]
fn destructive_changes_are_refused_then_applied_in_place_keeping_other_data() {
    let database = ScratchDatabase::create();
    seed_example(&database.url(), "pearl", Scale::Small).unwrap();
    let mut client = database.client();
    let before = dump(&mut client);
    let priority_sum = count(&mut client, "SELECT sum(priority)::bigint FROM trackers");
    // trackers is referenced by comments and tags: SQLite's rebuild (DROP TABLE) would fail.
    let changed = pearl_changed(|source| {
        source
            .replace(
                "priority = { type = \"integer\", min = 1, max = 5, default = 3 }",
                "priority = { type = \"bigint\", min = 1, max = 5, default = 3 }",
            )
            .replace("qc_completion_date = { type = \"date\", nullable = true }\n", "")
    });
    let refused = migrate(&database.url(), &changed, MigrateOptions::default()).unwrap_err();
    let MigrateError::DestructiveRefused(reasons) = &refused else { panic!("{refused:?}") };
    assert_eq!(
        reasons,
        &[
            "drop column trackers.qc_completion_date: column 'trackers.qc_completion_date' and its values would be deleted",
            "alter column trackers.priority: column 'trackers.priority' changes type from INTEGER to BIGINT",
        ]
    );
    assert_eq!(dump(&mut client), before, "nothing changed");

    let outcome = migrate(&database.url(), &changed, allow_destructive()).unwrap();
    assert!(matches!(outcome, MigrateOutcome::Applied { .. }), "{outcome:?}");
    let priority_type: String = client
        .query_one("SELECT data_type FROM information_schema.columns WHERE table_name = 'trackers' AND column_name = 'priority'", &[])
        .unwrap()
        .get(0);
    assert_eq!(priority_type, "bigint");
    assert_eq!(count(&mut client, "SELECT sum(priority)::bigint FROM trackers"), priority_sum);
    assert_eq!(count(&mut client, "SELECT count(*) FROM trackers"), 1000);
    let after = dump(&mut client);
    for ((table, hash), (table_after, hash_after)) in before.iter().zip(&after) {
        assert_eq!(table, table_after);
        if table != "trackers" {
            assert_eq!(hash, hash_after, "{table} is untouched");
        }
    }
    let error = client.batch_execute("UPDATE trackers SET priority = 9 WHERE id = 1").unwrap_err();
    assert_eq!(error.as_db_error().unwrap().constraint(), Some("trackers_priority_max_check"), "checks kept");
    assert_eq!(count(&mut client, "SELECT count(*) FROM _oxbase_migrations"), 2);
    assert_eq!(migrate(&database.url(), &changed, MigrateOptions::default()).unwrap(), MigrateOutcome::UpToDate);
}

#[test]
fn a_failing_statement_rolls_the_whole_migration_back() {
    let database = ScratchDatabase::create();
    seed_example(&database.url(), "pearl", Scale::Small).unwrap();
    let changed = pearl_changed(|source| {
        // users comes first in the file, so its new column is added before the failure.
        source
            .replace(
                "role = { type = \"enum\", values = [\"admin\", \"editor\", \"viewer\"], default = \"viewer\" }",
                "role = { type = \"enum\", values = [\"admin\", \"editor\", \"viewer\"], default = \"viewer\" }\nweight = { type = \"integer\", nullable = true }",
            )
            .replace(
                "label = { type = \"text\", min_length = 1, max_length = 2000 }",
                "label = { type = \"text\", min_length = 1, max_length = 5 }",
            )
    });
    let error = migrate(&database.url(), &changed, MigrateOptions::default()).unwrap_err();
    let MigrateError::Statement { statement, message } = &error else { panic!("{error:?}") };
    assert!(statement.contains("text_elements_label_max_length_check"), "{statement}");
    assert!(message.contains("is violated by some row"), "{message}");
    let mut client = database.client();
    let weight = count(&mut client, "SELECT count(*) FROM information_schema.columns WHERE column_name = 'weight'");
    assert_eq!(weight, 0, "the column added before the failure was rolled back");
    assert_eq!(count(&mut client, "SELECT count(*) FROM _oxbase_migrations"), 1);
}

#[test]
fn tables_that_reference_each_other_are_created_and_dropped() {
    let database = ScratchDatabase::create();
    let cycle = oxbase_schema::parse_schema(
        r#"
        [resources.teams.fields]
        captain_id = { type = "integer", references = "players", nullable = true }
        [resources.players.fields]
        team_id = { type = "integer", references = "teams" }
        "#,
        "cycle.toml",
    )
    .unwrap();
    migrate(&database.url(), &cycle, MigrateOptions::default()).unwrap();
    let mut client = database.client();
    client.batch_execute("INSERT INTO teams DEFAULT VALUES; INSERT INTO players (team_id) VALUES (1)").unwrap();
    client.batch_execute("UPDATE teams SET captain_id = 1").unwrap();
    assert!(client.batch_execute("UPDATE teams SET captain_id = 2").is_err(), "the deferred reference holds");

    let empty = oxbase_schema::parse_schema("", "empty.toml").unwrap();
    let outcome = migrate(&database.url(), &empty, allow_destructive()).unwrap();
    assert!(matches!(outcome, MigrateOutcome::Applied { .. }), "{outcome:?}");
    assert_eq!(count(&mut client, "SELECT count(*) FROM pg_tables WHERE tablename IN ('teams', 'players')"), 0);
}

#[test]
fn seeding_small_is_deterministic_keeps_the_comment_count_rule_and_resets_sequences() {
    let first = ScratchDatabase::create();
    let second = ScratchDatabase::create();
    let report = seed_example(&first.url(), "pearl", Scale::Small).unwrap();
    seed_example(&second.url(), "pearl", Scale::Small).unwrap();
    let mut client = first.client();
    let dump_first = dump(&mut client);
    assert_eq!(dump_first.len(), report.rows.len());
    assert_eq!(dump_first, dump(&mut second.client()), "two seeds, the same rows");
    for (resource, rows) in &report.rows {
        assert_eq!(count(&mut client, &format!("SELECT count(*) FROM \"{resource}\"")), *rows as i64, "{resource}");
    }

    // The indexes and foreign keys dropped for the load are all back, under their names.
    let physical = PhysicalSchema::of(&pearl(), Dialect::Postgres);
    let mut expected_indexes: Vec<String> = physical
        .tables
        .iter()
        .flat_map(|table| table.indexes.iter().map(|index| index.name.clone()).chain([format!("{}_pkey", table.name)]))
        .collect();
    expected_indexes.sort();
    let indexes = names(
        &mut client,
        "SELECT indexname::text FROM pg_indexes WHERE schemaname = 'public' AND tablename NOT LIKE '\\_oxbase%' ORDER BY 1",
    );
    assert_eq!(indexes, expected_indexes);
    let mut expected_foreign_keys: Vec<String> = physical
        .tables
        .iter()
        .flat_map(|table| {
            table
                .columns
                .iter()
                .filter(|column| column.references.is_some())
                .map(|column| postgres_foreign_key_name(&table.name, &column.name))
        })
        .collect();
    expected_foreign_keys.sort();
    let foreign_keys = names(&mut client, "SELECT conname::text FROM pg_constraint WHERE contype = 'f' ORDER BY 1");
    assert_eq!(foreign_keys, expected_foreign_keys);
    assert_eq!(migrate(&first.url(), &pearl(), MigrateOptions::default()).unwrap(), MigrateOutcome::UpToDate);

    let mismatches = count(
        &mut client,
        "SELECT count(*) FROM trackers t WHERE t.unresolved_comment_count <> (SELECT count(*) FROM tracker_comments c WHERE c.tracker_id = t.id AND c.parent_comment_id IS NULL AND NOT c.is_resolved)",
    );
    assert_eq!(mismatches, 0);

    let users = count(&mut client, "SELECT max(id)::bigint FROM users");
    let id: i32 = client
        .query_one(
            "INSERT INTO users (username, email, created_at) VALUES ('fresh', 'fresh@example.com', now()) RETURNING id",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(i64::from(id), users + 1, "the sequence continues after the seeded ids");
    let id: i32 =
        client.query_one("INSERT INTO tracker_tags (name) VALUES ('fresh') RETURNING id", &[]).unwrap().get(0);
    assert_eq!(id, 11);

    let again = seed_example(&first.url(), "pearl", Scale::Small).unwrap_err();
    assert!(matches!(&again, SeedError::AlreadySeeded { resource } if resource == "users"), "{again:?}");
}

/// Whether PostgreSQL holds the index and it is valid (`None`: no such index).
fn index_validity(client: &mut postgres::Client, index: &str) -> Option<bool> {
    client
        .query_opt(
            "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = $1",
            &[&index],
        )
        .unwrap()
        .map(|row| row.get(0))
}

/// The statements the last migration recorded.
fn last_recorded_statements(client: &mut postgres::Client) -> Vec<String> {
    let json: String =
        client.query_one("SELECT statements FROM _oxbase_migrations ORDER BY id DESC LIMIT 1", &[]).unwrap().get(0);
    serde_json::from_str(&json).unwrap()
}

/// pearl with an index on tracker_comments.created_at.
fn pearl_with_comment_index() -> Schema {
    pearl_changed(|source| {
        source.replace(
            "[resources.tracker_comments]",
            "[[resources.tracker_comments.indexes]]\ncolumns = [\"created_at\"]\n\n[resources.tracker_comments]",
        )
    })
}

#[test]
fn an_index_on_a_table_with_rows_is_built_concurrently_without_blocking_writes() {
    let database = ScratchDatabase::create();
    seed_example(&database.url(), "pearl", Scale::Small).unwrap();
    let changed = pearl_with_comment_index();
    let Ok(MigrateOutcome::Planned { statements, .. }) =
        migrate(&database.url(), &changed, MigrateOptions { dry_run: true, ..MigrateOptions::default() })
    else {
        panic!("a dry run plans the index")
    };
    assert_eq!(
        statements,
        ["CREATE INDEX CONCURRENTLY \"tracker_comments_created_at_idx\" ON \"tracker_comments\" (\"created_at\")"]
    );

    // A transaction with an older snapshot makes the concurrent build wait before it
    // finishes; meanwhile, a write to the table must go through.
    let mut snapshot_holder = database.client();
    let mut snapshot =
        snapshot_holder.build_transaction().isolation_level(postgres::IsolationLevel::RepeatableRead).start().unwrap();
    snapshot.batch_execute("SELECT 1").unwrap();
    let url = database.url();
    let migration = std::thread::spawn(move || migrate(&url, &changed, MigrateOptions::default()));
    let mut observer = database.client();
    let started = std::time::Instant::now();
    while count(
        &mut observer,
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'CREATE INDEX CONCURRENTLY%' AND wait_event_type = 'Lock'",
    ) == 0
    {
        assert!(started.elapsed() < std::time::Duration::from_secs(10), "the concurrent build never started waiting");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let mut writer = database.client();
    writer.batch_execute("SET statement_timeout = 5000").unwrap();
    writer
        .batch_execute(
            "INSERT INTO tracker_comments (tracker_id, user_id, body, created_at) VALUES (1, 1, 'during the build', now())",
        )
        .expect("a write is not blocked by the index build");
    snapshot.commit().unwrap();

    let outcome = migration.join().unwrap().unwrap();
    let MigrateOutcome::Applied { steps, statements } = outcome else { panic!("{outcome:?}") };
    assert_eq!(
        steps,
        ["create index tracker_comments_created_at_idx concurrently, after the commit (tracker_comments has rows)"]
    );
    assert_eq!(statements, 1);
    let mut client = database.client();
    assert_eq!(index_validity(&mut client, "tracker_comments_created_at_idx"), Some(true));
    assert_eq!(
        last_recorded_statements(&mut client),
        ["CREATE INDEX CONCURRENTLY \"tracker_comments_created_at_idx\" ON \"tracker_comments\" (\"created_at\")"],
        "the history records the concurrent build with the migration"
    );
    assert_eq!(
        migrate(&database.url(), &pearl_with_comment_index(), MigrateOptions::default()).unwrap(),
        MigrateOutcome::UpToDate
    );
}

#[test]
fn an_index_on_a_new_or_empty_table_is_built_in_the_transaction() {
    let database = ScratchDatabase::create();
    migrate(&database.url(), &pearl(), MigrateOptions::default()).unwrap();
    let outcome = migrate(&database.url(), &pearl_with_comment_index(), MigrateOptions::default()).unwrap();
    let MigrateOutcome::Applied { steps, .. } = outcome else { panic!("{outcome:?}") };
    assert_eq!(steps, ["create index tracker_comments_created_at_idx"], "tracker_comments is empty");
    let mut client = database.client();
    assert_eq!(
        last_recorded_statements(&mut client),
        ["CREATE INDEX \"tracker_comments_created_at_idx\" ON \"tracker_comments\" (\"created_at\")"]
    );
    assert_eq!(index_validity(&mut client, "tracker_comments_created_at_idx"), Some(true));
}

#[test]
fn a_failed_concurrent_build_is_dropped_and_built_by_the_next_migrate() {
    let database = ScratchDatabase::create();
    seed_example(&database.url(), "pearl", Scale::Small).unwrap();
    // Several comments per tracker: a unique index on tracker_id cannot be built.
    let unique = pearl_changed(|source| {
        source.replace(
            "[resources.tracker_comments]",
            "[[resources.tracker_comments.indexes]]\ncolumns = [\"tracker_id\"]\nunique = true\n\n[resources.tracker_comments]",
        )
    });
    let error = migrate(&database.url(), &unique, MigrateOptions::default()).unwrap_err();
    let MigrateError::IndexBuild { index, statement, message } = &error else { panic!("{error}") };
    assert_eq!(index, "tracker_comments_tracker_id_key");
    assert!(statement.starts_with("CREATE UNIQUE INDEX CONCURRENTLY"), "{statement}");
    assert!(message.contains("could not create unique index"), "{message}");
    assert!(error.to_string().contains("the migration was committed"), "{error}");
    let mut client = database.client();
    assert_eq!(index_validity(&mut client, "tracker_comments_tracker_id_key"), None, "the invalid index was dropped");

    // Once the duplicates are gone, the next migrate builds the index the history promises.
    client
        .batch_execute(
            "DELETE FROM tracker_comments WHERE id NOT IN (SELECT min(id) FROM tracker_comments GROUP BY tracker_id)",
        )
        .unwrap();
    let outcome = migrate(&database.url(), &unique, MigrateOptions::default()).unwrap();
    assert_eq!(
        outcome,
        MigrateOutcome::Applied {
            steps: vec!["create index tracker_comments_tracker_id_key concurrently (it was missing)".to_owned()],
            statements: 1
        }
    );
    assert_eq!(index_validity(&mut client, "tracker_comments_tracker_id_key"), Some(true));

    // An index left INVALID (as by a build killed halfway) is dropped and built again.
    client
        .batch_execute(
            "UPDATE pg_index SET indisvalid = false WHERE indexrelid = 'tracker_comments_tracker_id_key'::regclass",
        )
        .unwrap();
    let outcome = migrate(&database.url(), &unique, MigrateOptions::default()).unwrap();
    assert_eq!(
        outcome,
        MigrateOutcome::Applied {
            steps: vec![
                "rebuild index tracker_comments_tracker_id_key concurrently (a failed build had left it invalid)"
                    .to_owned()
            ],
            statements: 2
        }
    );
    assert_eq!(index_validity(&mut client, "tracker_comments_tracker_id_key"), Some(true));
    assert_eq!(migrate(&database.url(), &unique, MigrateOptions::default()).unwrap(), MigrateOutcome::UpToDate);
}
