//! Typing filter operands by their column, and turning grammar conditions into plan
//! conditions.

use oxbase_schema::model::{FieldType, Literal, Resource};
use oxbase_schema::values;

use crate::error::{QueryError, QueryErrorKind, did_you_mean};
use crate::grammar::{self, Operator, Value};
use crate::plan::{CompareOperator, Condition, Limits};

/// Counts comparisons across every condition of a request, against the limit.
pub(super) struct TermBudget {
    pub used: usize,
    pub limit: usize,
}

/// A grammar condition on `resource`'s fields as a typed plan condition.
pub(super) fn typed_condition(
    condition: &grammar::Condition,
    resource: &Resource,
    parameter: &str,
    limits: &Limits,
    budget: &mut TermBudget,
) -> Result<Condition, QueryError> {
    match condition {
        grammar::Condition::And(parts) => Ok(Condition::And(
            parts
                .iter()
                .map(|part| typed_condition(part, resource, parameter, limits, budget))
                .collect::<Result<_, _>>()?,
        )),
        grammar::Condition::Or(parts) => Ok(Condition::Or(
            parts
                .iter()
                .map(|part| typed_condition(part, resource, parameter, limits, budget))
                .collect::<Result<_, _>>()?,
        )),
        grammar::Condition::Not(inner) => {
            Ok(Condition::Not(Box::new(typed_condition(inner, resource, parameter, limits, budget)?)))
        }
        grammar::Condition::Compare { column, operator, value } => {
            budget.used += 1;
            if budget.used > budget.limit {
                return Err(QueryError::new(
                    QueryErrorKind::LimitExceeded,
                    format!("too many filter terms: at most {} per request", budget.limit),
                )
                .parameter(parameter));
            }
            compare(column, *operator, value, resource, parameter, limits)
        }
    }
}

fn compare(
    column: &str,
    operator: Operator,
    value: &Value,
    resource: &Resource,
    parameter: &str,
    limits: &Limits,
) -> Result<Condition, QueryError> {
    let field = resource.field(column).ok_or_else(|| unknown_column(resource, column, parameter))?;
    let field_name = field.name.clone();
    let field_type = &field.field_type;
    let wrong_operand = |expected: &str| {
        QueryError::new(
            QueryErrorKind::InvalidValue,
            format!("operator '{}' on '{column}' needs {expected}", operator.name()),
        )
        .parameter(parameter)
    };
    match (operator, value) {
        (Operator::Is, Value::Null) => Ok(Condition::IsNull { field: field_name }),
        (Operator::Is, Value::Boolean(flag)) => {
            if *field_type != FieldType::Boolean {
                return Err(wrong_operand("null (is.true/is.false need a boolean column)"));
            }
            Ok(Condition::IsBoolean { field: field_name, value: *flag })
        }
        (Operator::Is, _) => Err(wrong_operand("null, true or false")),
        (Operator::In, Value::List(items)) => {
            if items.len() > limits.max_in_list {
                return Err(QueryError::new(
                    QueryErrorKind::LimitExceeded,
                    format!(
                        "the in-list for '{column}' has {} values; at most {} are allowed",
                        items.len(),
                        limits.max_in_list
                    ),
                )
                .parameter(parameter));
            }
            let values =
                items.iter().map(|item| typed_value(item, field_type, column, parameter)).collect::<Result<_, _>>()?;
            Ok(Condition::In { field: field_name, field_type: field_type.clone(), values })
        }
        (Operator::In, _) => Err(wrong_operand("a list: in.(a,b,c)")),
        (Operator::Like | Operator::Ilike, Value::Text(pattern)) => {
            pattern_operand(pattern, operator, field_type, column, parameter)?;
            Ok(Condition::Like {
                field: field_name,
                pattern: pattern.replace('*', "%"),
                case_insensitive: operator == Operator::Ilike,
            })
        }
        (Operator::Match | Operator::Imatch, Value::Text(pattern)) => {
            pattern_operand(pattern, operator, field_type, column, parameter)?;
            let case_insensitive = operator == Operator::Imatch;
            check_regex(pattern, case_insensitive).map_err(|message| {
                QueryError::new(
                    QueryErrorKind::InvalidValue,
                    format!("invalid regular expression for '{column}': {message}"),
                )
                .parameter(parameter)
                .hint("the pattern language is a subset common to both engines: no backreferences or lookaround")
            })?;
            Ok(Condition::Match { field: field_name, pattern: pattern.clone(), case_insensitive })
        }
        (_, Value::Text(text)) => {
            let operator = match operator {
                Operator::Eq => CompareOperator::Equal,
                Operator::Neq => CompareOperator::NotEqual,
                Operator::Gt => CompareOperator::Greater,
                Operator::Gte => CompareOperator::GreaterOrEqual,
                Operator::Lt => CompareOperator::Less,
                Operator::Lte => CompareOperator::LessOrEqual,
                Operator::Isdistinct => CompareOperator::Distinct,
                _ => return Err(wrong_operand("a value")),
            };
            if *field_type == FieldType::Json {
                return Err(QueryError::new(
                    QueryErrorKind::Unsupported,
                    format!("json column '{column}' can only be filtered with is.null"),
                )
                .parameter(parameter));
            }
            let value = typed_value(text, field_type, column, parameter)?;
            Ok(Condition::Compare { field: field_name, field_type: field_type.clone(), operator, value })
        }
        (_, _) => Err(wrong_operand("a single value")),
    }
}

/// The error for a column the resource does not have.
pub(super) fn unknown_column(resource: &Resource, column: &str, parameter: &str) -> QueryError {
    QueryError::new(QueryErrorKind::UnknownColumn, format!("'{}' has no column '{column}'", resource.name))
        .parameter(parameter)
        .token(column)
        .hint(did_you_mean(column, resource.fields.iter().map(|field| field.name.as_str()), "columns"))
}

/// Text holding the NUL character: PostgreSQL cannot store or compare it, so neither
/// engine takes it (the same answer on both).
const NO_NUL: &str = "text without the NUL character (\\u0000)";

/// Raw text typed by a column, in the canonical form stored for it.
pub(super) fn typed_value(
    text: &str,
    field_type: &FieldType,
    column: &str,
    parameter: &str,
) -> Result<Literal, QueryError> {
    let invalid = |expected: String| {
        QueryError::new(
            QueryErrorKind::InvalidValue,
            format!("'{text}' is not a valid value for '{column}': expected {expected}"),
        )
        .parameter(parameter)
        .token(text)
    };
    match field_type {
        // A 32-bit column holds no value outside i32, so such a filter could only ever
        // match nothing; it is refused like any other value the column cannot hold (and
        // PostgreSQL could not even bind it to the column's type).
        FieldType::Integer => match text.parse::<i64>() {
            Ok(number) if i32::try_from(number).is_ok() => Ok(Literal::Integer(number)),
            Ok(_) => Err(invalid(format!("an integer from {} to {} (a 32-bit integer column)", i32::MIN, i32::MAX))),
            Err(_) => Err(invalid("an integer".into())),
        },
        FieldType::Bigint => text.parse::<i64>().map(Literal::Integer).map_err(|_| invalid("an integer".into())),
        FieldType::Float | FieldType::Decimal => match text.parse::<f64>() {
            Ok(number) if number.is_finite() => Ok(Literal::Float(number)),
            _ => Err(invalid("a number".into())),
        },
        FieldType::Boolean => match text.to_ascii_lowercase().as_str() {
            "true" | "t" | "1" => Ok(Literal::Boolean(true)),
            "false" | "f" | "0" => Ok(Literal::Boolean(false)),
            _ => Err(invalid("true or false".into())),
        },
        FieldType::Text if text.contains('\0') => Err(invalid(NO_NUL.into())),
        FieldType::Text => Ok(Literal::Text(text.to_owned())),
        FieldType::Enum(allowed) => {
            if allowed.iter().any(|value| value == text) {
                Ok(Literal::Text(text.to_owned()))
            } else {
                Err(invalid(format!("one of {}", allowed.join(", "))))
            }
        }
        FieldType::Date => values::canonical_date(text)
            .map(Literal::Text)
            .map_err(|_| invalid("a date (YYYY-MM-DD) from 0001-01-01 to 9999-12-31".into())),
        FieldType::Timestamp => values::canonical_timestamp(text)
            .or_else(|_| values::canonical_date(text).map(|date| format!("{date}T00:00:00.000000Z")))
            .map(Literal::Text)
            .map_err(|_| {
                invalid("a timestamp (RFC 3339, e.g. 2025-03-04T10:20:30Z) or a date, in years 0001 to 9999".into())
            }),
        FieldType::Uuid => {
            if values::is_uuid(text) {
                Ok(Literal::Text(text.to_ascii_lowercase()))
            } else {
                Err(invalid("a uuid".into()))
            }
        }
        FieldType::Json => Err(invalid("nothing: json columns only take is.null".into())),
    }
}

/// A `like` or `match` pattern must be free of NUL and compared with a text column.
fn pattern_operand(
    pattern: &str,
    operator: Operator,
    field_type: &FieldType,
    column: &str,
    parameter: &str,
) -> Result<(), QueryError> {
    if pattern.contains('\0') {
        return Err(QueryError::new(
            QueryErrorKind::InvalidValue,
            format!("operator '{}' on '{column}' needs {NO_NUL}", operator.name()),
        )
        .parameter(parameter));
    }
    if !field_type.is_textual() {
        return Err(QueryError::new(
            QueryErrorKind::InvalidValue,
            format!("'{}' needs a text column; '{column}' is {}", operator.name(), field_type.name()),
        )
        .parameter(parameter)
        .hint("use eq, gt, lt or in for non-text columns"));
    }
    Ok(())
}

/// Largest compiled regular expression a filter may ask for, in bytes: a short pattern
/// like `(a{100}){100}` would otherwise cost megabytes on every row.
pub const MAX_REGEX_BYTES: usize = 256 * 1024;

/// Whether `pattern` compiles within [`MAX_REGEX_BYTES`]; SQLite evaluates it with this
/// same engine, PostgreSQL with its own (a pattern it refuses is answered 400 as well).
pub fn check_regex(pattern: &str, case_insensitive: bool) -> Result<(), String> {
    regex::RegexBuilder::new(pattern)
        .case_insensitive(case_insensitive)
        .size_limit(MAX_REGEX_BYTES)
        .build()
        .map(|_| ())
        .map_err(|error| match error {
            regex::Error::CompiledTooBig(_) => "the pattern would compile too large".to_owned(),
            other => other.to_string().lines().last().unwrap_or_default().trim().to_owned(),
        })
}
