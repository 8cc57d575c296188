//! Plans → SQL for one dialect.
//!
//! Pure functions: the same plan always renders the same text, so rendered SQL can be
//! cached per plan shape and snapshot-tested.

use oxbase_schema::Schema;
use oxbase_schema::dialect::Dialect;
use oxbase_schema::model::{Literal, Resource};

use crate::read::ReadPlan;

/// A statement ready to run: its text and its bound parameters in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    pub sql: String,
    pub parameters: Vec<Literal>,
}

/// The root-rows statement of a read: every field of the resource, in declaration order,
/// ordered by primary key so that pages are stable.
pub fn select_rows(schema: &Schema, plan: &ReadPlan, dialect: Dialect) -> Statement {
    let resource: &Resource = schema
        .resource(&plan.resource)
        .expect("plans name validated resources");
    let mut sql = String::from("SELECT ");
    for (index, field) in resource.fields.iter().enumerate() {
        if index > 0 {
            sql.push_str(", ");
        }
        dialect.push_quoted(&mut sql, &field.name);
    }
    sql.push_str(" FROM ");
    dialect.push_quoted(&mut sql, &resource.table);
    let mut parameters = Vec::new();
    for (index, filter) in plan.filters.iter().enumerate() {
        sql.push_str(if index == 0 { " WHERE " } else { " AND " });
        dialect.push_quoted(&mut sql, &filter.column);
        sql.push_str(" = ");
        parameters.push(filter.value.clone());
        dialect.push_placeholder(&mut sql, parameters.len());
    }
    sql.push_str(" ORDER BY ");
    dialect.push_quoted(&mut sql, &resource.primary_key().name);
    parameters.push(Literal::Integer(i64::from(plan.limit)));
    sql.push_str(" LIMIT ");
    dialect.push_placeholder(&mut sql, parameters.len());
    parameters.push(Literal::Integer(
        i64::try_from(plan.offset).unwrap_or(i64::MAX),
    ));
    sql.push_str(" OFFSET ");
    dialect.push_placeholder(&mut sql, parameters.len());
    Statement { sql, parameters }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::{PageLimits, by_id, list};

    const LIMITS: PageLimits = PageLimits {
        default_page_size: 50,
        max_page_size: 1000,
    };

    fn schema() -> Schema {
        oxbase_schema::parse_schema(
            "[resources.books.fields]\ntitle = { type = \"text\" }\n",
            "test",
        )
        .unwrap()
    }

    #[test]
    fn list_statement_per_dialect() {
        let schema = schema();
        let plan = list(
            &schema,
            "books",
            &[
                ("limit".into(), "10".into()),
                ("offset".into(), "20".into()),
            ],
            LIMITS,
        )
        .unwrap();
        let statement = select_rows(&schema, &plan, Dialect::Sqlite);
        assert_eq!(
            statement.sql,
            "SELECT \"id\", \"title\" FROM \"books\" ORDER BY \"id\" LIMIT ?1 OFFSET ?2"
        );
        assert_eq!(
            statement.parameters,
            [Literal::Integer(10), Literal::Integer(20)]
        );
        let plan = by_id(&schema, "books", "7").unwrap();
        let statement = select_rows(&schema, &plan, Dialect::Postgres);
        assert_eq!(
            statement.sql,
            "SELECT \"id\", \"title\" FROM \"books\" WHERE \"id\" = $1 ORDER BY \"id\" LIMIT $2 OFFSET $3"
        );
    }

    #[test]
    fn refuses_bad_parameters() {
        let schema = schema();
        let error = list(&schema, "books", &[("limit".into(), "1001".into())], LIMITS).unwrap_err();
        assert!(
            error.to_string().contains("the largest page is 1000 rows"),
            "{error}"
        );
        let error = list(&schema, "books", &[("limit".into(), "-1".into())], LIMITS).unwrap_err();
        assert_eq!(error.code(), "invalid_parameter");
        let error = list(&schema, "bookz", &[], LIMITS).unwrap_err();
        assert_eq!(error.hint(), Some("did you mean 'books'?"));
        let error = by_id(&schema, "books", "abc").unwrap_err();
        assert_eq!(error.to_string(), "invalid id 'abc': expected an integer");
        let error = list(
            &schema,
            "books",
            &[("colour".into(), "eq.red".into())],
            LIMITS,
        )
        .unwrap_err();
        assert_eq!(error.code(), "unsupported_parameter");
    }
}
