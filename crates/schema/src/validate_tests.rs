//! `oxbase check`'s errors: each names the line, the offending name and a hint.

use super::*;

fn errors_of(source: &str) -> CheckErrors {
    match parse_schema(source, "schema.toml") {
        Ok(_) => panic!("schema was accepted:\n{source}"),
        Err(errors) => errors,
    }
}

/// The one error of `source`, rendered as `oxbase check` prints it.
fn single_error(source: &str) -> String {
    let errors = errors_of(source);
    assert_eq!(errors.errors.len(), 1, "expected one error, got: {errors}");
    errors.to_string()
}

#[test]
fn the_pearl_example_is_valid() {
    let source = include_str!("../../../examples/pearl/schema.toml");
    let schema = parse_schema(source, "pearl").unwrap_or_else(|errors| panic!("{errors}"));
    assert_eq!(schema.resources.len(), 11);
    let trackers = schema.resource("trackers").unwrap();
    let index_names: Vec<&str> = trackers.indexes.iter().map(|index| index.name.as_str()).collect();
    assert!(index_names.contains(&"trackers_reporting_effort_item_id_key"), "{index_names:?}");
    assert!(index_names.contains(&"trackers_qc_programmer_id_idx"), "{index_names:?}");
    assert!(
        !index_names.contains(&"trackers_reporting_effort_id_idx"),
        "covered by the compound index: {index_names:?}"
    );
    let relations: Vec<String> = schema.relations_of(trackers).map(|relation| relation.name).collect();
    assert!(relations.contains(&"tracker_comments".to_owned()), "{relations:?}");
    assert!(relations.contains(&"users".to_owned()), "{relations:?}");
}

#[test]
fn unknown_type_names_line_and_closest_type() {
    let message = single_error("[resources.a.fields]\nx = { type = \"text\" }\ny = { type = \"integr\" }\n");
    assert_eq!(message, "schema.toml:3: resources.a.fields.y: unknown type 'integr' (hint: did you mean 'integer'?)");
}

#[test]
fn reference_to_unknown_resource_names_it() {
    let message = single_error(
        "[resources.users.fields]\nname = { type = \"text\" }\n[resources.posts.fields]\nauthor_id = { type = \"integer\", references = \"usr\" }\n",
    );
    assert!(
        message.starts_with("schema.toml:4: resources.posts.fields.author_id: references unknown resource 'usr'"),
        "{message}"
    );
    assert!(message.contains("did you mean 'users'?"), "{message}");
}

#[test]
fn reference_to_unknown_or_non_unique_field() {
    let base = "[resources.users.fields]\nname = { type = \"text\" }\nemail = { type = \"text\", unique = true }\n[resources.posts.fields]\n";
    let message = single_error(&format!("{base}author = {{ type = \"text\", references = \"users.mail\" }}\n"));
    assert!(
        message.contains("references unknown field 'mail' of resource 'users' (hint: did you mean 'email'?)"),
        "{message}"
    );
    let message = single_error(&format!("{base}author = {{ type = \"text\", references = \"users.name\" }}\n"));
    assert!(message.contains("which is not unique"), "{message}");
    let message = single_error(&format!("{base}author = {{ type = \"text\", references = \"users\" }}\n"));
    assert!(message.contains("is text but references 'users.id' of type integer"), "{message}");
}

#[test]
fn duplicate_names_are_refused() {
    let message = single_error("[resources.a.fields]\nx = { type = \"text\" }\nx = { type = \"text\" }\n");
    assert!(message.starts_with("schema.toml:3:"), "{message}");
    assert!(message.contains("duplicate key"), "{message}");
    let message = single_error("[resources.a]\ntable = \"t\"\n[resources.b]\ntable = \"t\"\n");
    assert!(message.contains("table 't' is already used by resource 'a'"), "{message}");
    let message = single_error(
        "[resources.a.fields]\nx = { type = \"text\" }\n[[resources.a.indexes]]\nname = \"same\"\ncolumns = [\"x\"]\n[[resources.a.indexes]]\nname = \"same\"\ncolumns = [\"id\", \"x\"]\n",
    );
    assert!(message.contains("index name 'same' is used twice"), "{message}");
}

#[test]
fn index_on_unknown_column() {
    let message = single_error(
        "[resources.a.fields]\nstatus = { type = \"text\" }\n[[resources.a.indexes]]\ncolumns = [\"stats\"]\n",
    );
    assert_eq!(
        message,
        "schema.toml:4: resources.a.indexes: index on unknown column 'stats' (hint: did you mean 'status'?)"
    );
}

#[test]
fn bad_partial_index_predicates() {
    let base = "[resources.a.fields]\nstatus = { type = \"enum\", values = [\"open\", \"done\"] }\n[[resources.a.indexes]]\ncolumns = [\"status\"]\n";
    let message = single_error(&format!("{base}where = \"status = \"\n"));
    assert!(
        message.starts_with(
            "schema.toml:5: resources.a.indexes: bad partial-index predicate 'status = ': expected a value"
        ),
        "{message}"
    );
    let message = single_error(&format!("{base}where = \"state <> 'done'\"\n"));
    assert!(message.contains("names unknown column 'state'"), "{message}");
    let message = single_error(&format!("{base}where = \"status <> 'closed'\"\n"));
    assert!(message.contains("'closed' is not one of open, done"), "{message}");
}

#[test]
fn reserved_and_invalid_identifiers() {
    let message = single_error("[resources.a.fields]\nselect = { type = \"text\" }\n");
    assert!(message.contains("field name 'select' is a reserved query parameter"), "{message}");
    let message = single_error("[resources.a.fields]\nUserName = { type = \"text\" }\n");
    assert!(message.contains("invalid field name 'UserName'"), "{message}");
    let message = single_error("[resources.table.fields]\nx = { type = \"text\" }\n");
    assert!(message.contains("resource name 'table' is a reserved SQL word"), "{message}");
    let message = single_error("[resources._oxbase_meta.fields]\nx = { type = \"text\" }\n");
    assert!(message.contains("is reserved"), "{message}");
    let message = single_error("[resources.rpc.fields]\nx = { type = \"text\" }\n");
    assert!(message.contains("reserved route"), "{message}");
    let message = single_error("[resources.a.fields]\nid = { type = \"text\" }\n");
    assert!(message.contains("'id' is the primary key"), "{message}");
}

#[test]
fn unknown_keys_are_errors() {
    let message = single_error("[resources.a.fields]\nx = { type = \"text\", uniq = true }\n");
    assert!(message.starts_with("schema.toml:2:"), "{message}");
    assert!(message.contains("unknown field `uniq`"), "{message}");
    let message = single_error("[servr]\nlisten = \"x\"\n");
    assert!(message.contains("unknown field `servr`"), "{message}");
}

#[test]
fn constraint_mistakes() {
    let message = single_error("[resources.a.fields]\nx = { type = \"text\", min = 3 }\n");
    assert!(message.contains("`min` applies to number fields, not text"), "{message}");
    let message = single_error("[resources.a.fields]\nx = { type = \"integer\", default = \"many\" }\n");
    assert!(message.contains("invalid default"), "{message}");
    let message = single_error("[resources.a.fields]\nx = { type = \"text\", pattern = \"([a-z\" }\n");
    assert!(message.contains("invalid pattern"), "{message}");
    let message = single_error("[resources.a.fields]\nx = { type = \"enum\" }\n");
    assert!(message.contains("needs a non-empty `values` list"), "{message}");
    let message = single_error(
        "[resources.b.fields]\ny = { type = \"text\" }\n[resources.a.fields]\nx = { type = \"integer\", references = \"b\", on_delete = \"set_null\" }\n",
    );
    assert!(message.contains("needs a nullable field"), "{message}");
}

#[test]
fn every_error_is_reported_at_once() {
    let errors = errors_of(
        "[resources.a.fields]\nx = { type = \"strng\" }\ny = { type = \"integer\", references = \"nowhere\" }\n",
    );
    assert_eq!(errors.errors.len(), 2, "{errors}");
}

#[test]
fn ambiguous_reverse_relations_are_refused() {
    let message = single_error(
        "[resources.users.fields]\nname = { type = \"text\" }\n[resources.posts.fields]\nauthor_id = { type = \"integer\", references = \"users\" }\neditor_id = { type = \"integer\", references = \"users\" }\n",
    );
    assert!(message.contains("'users' already has a relation named 'posts'"), "{message}");
    assert!(message.contains("set `reverse`"), "{message}");
}

#[test]
fn unique_fields_keep_their_own_unique_index() {
    let schema = parse_schema(
        "[resources.a.fields]\ncode = { type = \"text\", unique = true }\nkind = { type = \"text\" }\n[[resources.a.indexes]]\ncolumns = [\"code\", \"kind\"]\nunique = true\n",
        "schema.toml",
    )
    .unwrap();
    let names: Vec<&str> = schema.resource("a").unwrap().indexes.iter().map(|index| index.name.as_str()).collect();
    assert_eq!(names, ["a_code_kind_key", "a_code_key"], "a compound unique index does not make `code` alone unique");
}

#[test]
fn generated_names_fit_postgresql() {
    let source = include_str!("../../../examples/pearl/schema.toml");
    let schema = parse_schema(source, "pearl").unwrap();
    let physical = crate::physical::PhysicalSchema::of(&schema, crate::dialect::Dialect::Postgres);
    for table in &physical.tables {
        for index in &table.indexes {
            assert!(index.name.len() <= 63, "{}", index.name);
        }
        for column in &table.columns {
            for (name, _) in &column.checks {
                assert!(name.len() <= 63, "{name}");
            }
        }
    }
}

#[test]
fn timestamp_and_date_literals_are_canonical() {
    let schema = parse_schema(
        "[resources.a.fields]\nat = { type = \"timestamp\", default = \"2025-01-02T03:04:05+01:00\" }\nday = { type = \"date\", nullable = true }\n[[resources.a.indexes]]\ncolumns = [\"day\"]\nwhere = \"at > '2025-01-01 00:00:00Z'\"\n",
        "schema.toml",
    )
    .unwrap();
    let resource = schema.resource("a").unwrap();
    assert_eq!(
        resource.field("at").unwrap().default,
        Some(DefaultValue::Literal(Literal::Text("2025-01-02T02:04:05.000000Z".into())))
    );
    let predicate = resource.indexes[0].predicate.as_ref().unwrap();
    assert_eq!(predicate.to_sql(crate::dialect::Dialect::Sqlite), "\"at\" > '2025-01-01T00:00:00.000000Z'");
    let message = single_error("[resources.a.fields]\nday = { type = \"date\", default = \"2023-02-30\" }\n");
    assert!(message.contains("'2023-02-30' is not a date"), "{message}");
}

const ROLES_BASE: &str = r#"
[resources.notes.fields]
owner_id = { type = "integer" }
body = { type = "text" }
"#;

#[test]
fn role_rules_are_checked_like_the_rest_of_the_file() {
    let error = single_error(&format!(
        "{ROLES_BASE}[roles.member]\npermissions = [{{ resource = \"notes\", actions = [\"read\"], filter = \"ownr_id = $user.id\" }}]\n"
    ));
    assert!(error.contains("schema.toml:6:") && error.contains("row filter names unknown column 'ownr_id'"), "{error}");
    assert!(error.contains("did you mean 'owner_id'?"), "{error}");
    let error = single_error(&format!(
        "{ROLES_BASE}[roles.member]\npermissions = [{{ resource = \"*\", actions = [\"read\"], filter = \"owner_id = $user\" }}]\n"
    ));
    assert!(error.contains("row filter on every resource ('*')"), "{error}");
    let error = single_error(&format!(
        "{ROLES_BASE}[roles.member]\npermissions = [{{ resource = \"notes\", actions = [\"read\"], hidden = [\"id\"] }}]\n"
    ));
    assert!(error.contains("the key 'id' cannot be hidden"), "{error}");
    let error = single_error(&format!(
        "{ROLES_BASE}[roles.member]\npermissions = [{{ resource = \"notes\", actions = [\"create\"], preset = {{ owner_id = \"$user.nme\" }} }}]\n"
    ));
    assert!(error.contains("unknown caller value '$user.nme'"), "{error}");
    let error = single_error(&format!(
        "{ROLES_BASE}[roles.member]\npermissions = [{{ resource = \"notes\", actions = [\"create\"], preset = {{ owner_id = \"seven\" }} }}]\n"
    ));
    assert!(error.contains("preset of 'owner_id'"), "{error}");
    let error = single_error(&format!(
        "{ROLES_BASE}[roles.member]\npermissions = [{{ resource = \"notes\", actions = [\"update\"], check = \"body = $user.claims.\" }}]\n"
    ));
    assert!(error.contains("bad check rule"), "{error}");
}

#[test]
fn a_role_that_creates_rows_sees_or_presets_their_required_fields() {
    let error = single_error(&format!(
        "{ROLES_BASE}[roles.member]\npermissions = [{{ resource = \"notes\", actions = [\"create\"], hidden = [\"owner_id\"] }}]\n"
    ));
    assert!(error.contains("does not see their required field 'owner_id'"), "{error}");
    parse_schema(
        &format!(
            "{ROLES_BASE}[roles.member]\npermissions = [{{ resource = \"notes\", actions = [\"create\"], hidden = [\"owner_id\"], preset = {{ owner_id = \"$user.id\" }} }}]\n"
        ),
        "t",
    )
    .unwrap_or_else(|errors| panic!("{errors}"));
}

#[test]
fn caller_values_stay_out_of_partial_indexes() {
    let error = single_error(
        "[resources.notes]\nindexes = [{ columns = [\"body\"], where = \"owner_id = $user.id\" }]\n[resources.notes.fields]\nowner_id = { type = \"integer\" }\nbody = { type = \"text\" }\n",
    );
    assert!(error.contains("cannot read the caller's values"), "{error}");
}

#[test]
fn accounts_name_a_resource_with_login_fields() {
    let base = "[resources.users.fields]\nusername = { type = \"text\", unique = true }\nrole = { type = \"enum\", values = [\"member\", \"root\"] }\npassword_hash = { type = \"text\", nullable = true }\n[roles.member]\n";
    let schema = parse_schema(&format!("[accounts]\nresource = \"users\"\n[roles.root]\n{base}"), "t").unwrap();
    let accounts = schema.accounts.unwrap();
    assert_eq!((accounts.username_field.as_str(), accounts.password_field.as_str()), ("username", "password_hash"));
    let error = single_error(&format!("[accounts]\nresource = \"users\"\n{base}"));
    assert!(error.contains("'root', a value of the role field 'role', is no declared role"), "{error}");
    let error = single_error(&format!("[accounts]\nresource = \"user\"\n[roles.root]\n{base}"));
    assert!(error.contains("unknown resource 'user'") && error.contains("did you mean 'users'?"), "{error}");
    let error =
        single_error(&format!("[accounts]\nresource = \"users\"\npassword_field = \"username\"\n[roles.root]\n{base}"));
    assert!(error.contains("must be a nullable text field"), "{error}");
}

#[test]
fn audit_options_name_known_fields_and_the_password_is_never_recorded() {
    let fields = "[resources.users.fields]\nusername = { type = \"text\", unique = true }\nrole = { type = \"enum\", values = [\"root\"] }\npassword_hash = { type = \"text\", nullable = true }\nemail = { type = \"text\" }\n";
    let schema = parse_schema(
        &format!("[accounts]\nresource = \"users\"\n[roles.root]\n[resources.users]\naudit_exclude = [\"email\"]\n{fields}[resources.logs]\naudit = false\n"),
        "t",
    )
    .unwrap_or_else(|errors| panic!("{errors}"));
    let users = schema.resource("users").unwrap();
    assert!(users.audit);
    assert_eq!(users.audit_exclude, ["email", "password_hash"]);
    assert!(!schema.resource("logs").unwrap().audit);
    let error =
        single_error(&format!("[resources.users]\naudit_exclude = [\n  \"username\",\n  \"emial\",\n]\n{fields}"));
    assert_eq!(
        error,
        "schema.toml:4: resources.users.audit_exclude: unknown field 'emial' in audit_exclude (hint: did you mean 'email'?)"
    );
    let error = single_error(&format!("[resources.users]\naudit = \"no\"\n{fields}"));
    assert!(error.starts_with("schema.toml:2: ") && error.contains("expected a boolean"), "{error}");
}
