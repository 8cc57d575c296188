//! Compiling roles: views, row rules with the caller's values, presets, cache names.

use oxbase_query::plan::{CompareOperator, Condition};
use oxbase_schema::model::{Action, FieldType, Literal};
use oxbase_schema::validate::parse_schema;
use serde_json::json;

use super::*;

const SCHEMA: &str = r#"
[accounts]
resource = "people"

[resources.people.fields]
username = { type = "text", unique = true }
email = { type = "text", nullable = true }
role = { type = "enum", values = ["member", "lead"] }
team = { type = "text", nullable = true }
password_hash = { type = "text", nullable = true }

[resources.notes.fields]
owner_id = { type = "integer", references = "people", reverse = "notes" }
team = { type = "text", nullable = true }
body = { type = "text" }
locked = { type = "boolean", default = false }

[roles.member]
permissions = [
    { resource = "people", actions = ["read"], hidden = ["email"] },
    { resource = "notes", actions = ["read"], filter = "owner_id = $user.id or team = $user.claims.team" },
    { resource = "notes", actions = ["create", "update"], filter = "owner_id = $user.id", read_only = ["locked"], preset = { owner_id = "$user.id" }, check = "locked = false" },
]

[roles.lead]
permissions = [{ resource = "*", actions = ["*"] }]
"#;

fn permissions() -> Permissions {
    Permissions::compile(&parse_schema(SCHEMA, "test").unwrap_or_else(|errors| panic!("{errors}")))
}

fn member(id: i64, team: &str) -> Caller {
    Caller { role: Some("member".into()), user_id: Some(json!(id)), claims: json!({ "team": team }), key: None }
}

#[test]
fn the_view_holds_only_what_the_role_sees() {
    let permissions = permissions();
    let scope = permissions.scope(&member(1, "red")).unwrap();
    let people = scope.read_view().resource("people").unwrap();
    let names: Vec<&str> = people.fields.iter().map(|field| field.name.as_str()).collect();
    assert_eq!(names, ["id", "username", "role", "team"], "email hidden, the password hash never shown");
    let lead = permissions.scope(&Caller { role: Some("lead".into()), ..member(2, "red") }).unwrap();
    assert!(lead.read_view().resource("people").unwrap().field("email").is_some());
    assert!(lead.read_view().resource("people").unwrap().field("password_hash").is_none());
    // The member may write notes, not people: the write view has no people.
    assert!(scope.write_view(Action::Create).resource("people").is_none());
    let notes = scope.write_view(Action::Create).resource("notes").unwrap();
    assert!(notes.field("locked").unwrap().read_only);
    assert!(notes.field("owner_id").unwrap().read_only, "preset fields are the server's to write");
    assert!(!notes.field("body").unwrap().read_only);
}

#[test]
fn row_rules_carry_the_callers_values() {
    let permissions = permissions();
    let scope = permissions.scope(&member(7, "blue")).unwrap();
    let Some(Condition::Or(parts)) = scope.rows("notes", Action::Read) else { panic!("an or of two terms") };
    assert_eq!(
        parts[0],
        Condition::Compare {
            field: "owner_id".into(),
            field_type: FieldType::Integer,
            operator: CompareOperator::Equal,
            value: Literal::Integer(7)
        }
    );
    assert!(matches!(&parts[1], Condition::Compare { value: Literal::Text(team), .. } if team == "blue"));
    assert_eq!(scope.rows("people", Action::Read), None, "every row");
    assert_eq!(scope.rows("people", Action::Delete), Some(Condition::Or(Vec::new())), "not granted: no row");
    assert!(scope.permit("people", Action::Delete).is_err());
    assert_eq!(
        scope.presets("notes"),
        vec![oxbase_query::write::ServerValue {
            resource: "notes".into(),
            field: "owner_id".into(),
            value: Literal::Integer(7)
        }]
    );
    // A create must leave rows the create reaches and the check holds for.
    assert!(matches!(scope.after("notes", Action::Create), Some(Condition::And(parts)) if parts.len() == 2));
}

#[test]
fn a_missing_caller_value_matches_no_row_as_sql_null_does() {
    let permissions = permissions();
    let caller = Caller { user_id: None, claims: json!({}), ..member(0, "") };
    let scope = permissions.scope(&caller).unwrap();
    let Some(Condition::Or(parts)) = scope.rows("notes", Action::Read) else { panic!() };
    assert!(parts.iter().all(|part| matches!(part, Condition::Compare { value: Literal::Null, .. })), "{parts:?}");
    // A claim that does not fit the field's type is no value either.
    let caller = Caller { user_id: Some(json!(u64::MAX)), ..member(0, "red") };
    let scope = permissions.scope(&caller).unwrap();
    let Some(Condition::Or(parts)) = scope.rows("notes", Action::Read) else { panic!() };
    assert!(matches!(&parts[0], Condition::Compare { value: Literal::Null, .. }));
}

#[test]
fn cache_names_differ_exactly_when_the_rules_resolve_differently() {
    let permissions = permissions();
    let name = |caller: &Caller| permissions.scope(caller).unwrap().cache_name().to_owned();
    assert_eq!(name(&member(1, "red")), name(&member(1, "red")));
    assert_ne!(name(&member(1, "red")), name(&member(2, "red")));
    assert_ne!(name(&member(1, "red")), name(&member(1, "blue")));
    let lead = |id: i64| Caller { role: Some("lead".into()), ..member(id, "red") };
    assert_eq!(name(&lead(1)), name(&lead(2)), "no rule reads the lead's values: one entry for all leads");
    assert_ne!(name(&lead(1)), name(&member(1, "red")));
}

#[test]
fn callers_without_credentials_get_the_anonymous_role_or_nothing() {
    let permissions = permissions();
    let scope = permissions.scope(&Caller::anonymous()).unwrap();
    assert_eq!(scope.permit("notes", Action::Read), Err(Denied::Unauthenticated));
    assert!(scope.read_view().resources.is_empty());
    let unknown = Caller { role: Some("root".into()), ..Caller::anonymous() };
    assert_eq!(permissions.scope(&unknown).unwrap_err(), Denied::UnknownRole("root".into()));
    let open =
        Permissions::compile(&parse_schema("[resources.notes.fields]\nbody = { type = \"text\" }\n", "t").unwrap());
    let scope = open.scope(&Caller::anonymous()).unwrap();
    assert_eq!(scope.permit("notes", Action::Delete), Ok(()));
    assert_eq!(scope.cache_name(), "public");
}

#[test]
fn api_key_limits_narrow_the_role() {
    let permissions = permissions();
    let caller = Caller {
        key: Some(KeyScope {
            id: "k1".into(),
            resources: Some(vec!["people".into()]),
            actions: Some(vec![Action::Read]),
        }),
        ..Caller { role: Some("lead".into()), ..Caller::anonymous() }
    };
    let scope = permissions.scope(&caller).unwrap();
    assert_eq!(scope.permit("people", Action::Read), Ok(()));
    assert!(scope.permit("people", Action::Update).is_err());
    assert!(scope.permit("notes", Action::Read).is_err());
    assert_eq!(scope.rows("notes", Action::Read), Some(Condition::Or(Vec::new())));
    assert!(scope.cache_name().contains("key=k1"));
}
