//! A rule with the caller's values in it, as a plan condition.

use oxbase_query::plan::{CompareOperator, Condition};
use oxbase_schema::model::{FieldType, Literal, Resource};
use oxbase_schema::predicate::{self, Predicate, UserValue};
use oxbase_schema::values;
use serde_json::Value;

/// What a rule may read of the caller.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Facts {
    pub id: Option<Value>,
    pub role: Option<String>,
    pub claims: Value,
}

impl Facts {
    /// The caller's value, as JSON (`Null` when the caller has none).
    pub fn value(&self, wanted: &UserValue) -> Value {
        match wanted {
            UserValue::Id => self.id.clone().unwrap_or(Value::Null),
            UserValue::Role => self.role.clone().map_or(Value::Null, Value::String),
            UserValue::Claim(path) => {
                path.iter().try_fold(&self.claims, |value, part| value.get(part)).cloned().unwrap_or(Value::Null)
            }
        }
    }

    /// The caller's value as a literal of `field_type`; `None` when it has none or it does
    /// not fit the type (a rule comparing with it then holds for no row).
    pub fn literal(&self, wanted: &UserValue, field_type: &FieldType) -> Option<Literal> {
        json_literal(&self.value(wanted), field_type)
    }
}

/// A JSON value as a literal of `field_type`, canonical as the store compares them.
pub(super) fn json_literal(value: &Value, field_type: &FieldType) -> Option<Literal> {
    let literal = match (value, field_type) {
        (Value::Null, _) => return None,
        (Value::Bool(flag), FieldType::Boolean) => Literal::Boolean(*flag),
        (Value::Number(number), FieldType::Bigint) => Literal::Integer(number.as_i64()?),
        (Value::String(text), FieldType::Bigint) => Literal::Integer(text.parse().ok()?),
        // A 32-bit field holds only 32-bit values: a larger one matches no row.
        (Value::Number(number), FieldType::Integer) => Literal::Integer(i32::try_from(number.as_i64()?).ok()?.into()),
        (Value::String(text), FieldType::Integer) => Literal::Integer(text.parse::<i32>().ok()?.into()),
        (Value::Number(number), FieldType::Float | FieldType::Decimal) => Literal::Float(number.as_f64()?),
        (Value::String(text), FieldType::Text | FieldType::Json) => Literal::Text(text.clone()),
        (Value::Number(number), FieldType::Text) => Literal::Text(number.to_string()),
        (Value::String(text), FieldType::Enum(allowed)) if allowed.contains(text) => Literal::Text(text.clone()),
        (Value::String(text), FieldType::Uuid) if values::is_uuid(text) => Literal::Text(text.to_ascii_lowercase()),
        (Value::String(text), FieldType::Date) => Literal::Text(values::canonical_date(text).ok()?),
        (Value::String(text), FieldType::Timestamp) => Literal::Text(values::canonical_timestamp(text).ok()?),
        _ => return None,
    };
    Some(literal)
}

/// No row.
pub(super) fn none() -> Condition {
    Condition::Or(Vec::new())
}

/// `predicate` over `resource`'s rows with the caller's values in it. Fields are looked up
/// in the full resource (a rule may read a field the role does not see).
pub(super) fn condition(predicate: &Predicate, resource: &Resource, facts: &Facts) -> Condition {
    let field_type = |column: &str| {
        resource.field(column).map(|field| field.field_type.clone()).expect("rules name validated fields")
    };
    match predicate {
        Predicate::And(parts) => Condition::And(parts.iter().map(|part| condition(part, resource, facts)).collect()),
        Predicate::Or(parts) => Condition::Or(parts.iter().map(|part| condition(part, resource, facts)).collect()),
        Predicate::Not(inner) => Condition::Not(Box::new(condition(inner, resource, facts))),
        Predicate::Compare { column, operator, value } => compare(column, field_type(column), *operator, value.clone()),
        Predicate::CompareUser { column, operator, value } => {
            let field_type = field_type(column);
            // A value the caller lacks (or that does not fit the field) is compared as SQL
            // compares with null: unknown, so neither the comparison nor its negation holds.
            let literal = facts.literal(value, &field_type).unwrap_or(Literal::Null);
            compare(column, field_type, *operator, literal)
        }
        Predicate::IsNull { column, negated } => {
            let is_null = Condition::IsNull { field: column.clone() };
            if *negated { Condition::Not(Box::new(is_null)) } else { is_null }
        }
        Predicate::In { column, values, negated } => {
            let within =
                Condition::In { field: column.clone(), field_type: field_type(column), values: values.clone() };
            if *negated { Condition::Not(Box::new(within)) } else { within }
        }
    }
}

fn compare(column: &str, field_type: FieldType, operator: predicate::CompareOperator, value: Literal) -> Condition {
    let operator = match operator {
        predicate::CompareOperator::Equal => CompareOperator::Equal,
        predicate::CompareOperator::NotEqual => CompareOperator::NotEqual,
        predicate::CompareOperator::Less => CompareOperator::Less,
        predicate::CompareOperator::LessOrEqual => CompareOperator::LessOrEqual,
        predicate::CompareOperator::Greater => CompareOperator::Greater,
        predicate::CompareOperator::GreaterOrEqual => CompareOperator::GreaterOrEqual,
    };
    Condition::Compare { field: column.to_owned(), field_type, operator, value }
}
