//! Building a [`ReadPlan`] from query parameters and headers.

use oxbase_schema::Schema;
use oxbase_schema::model::{FieldType, Resource};

use crate::cursor::CursorKey;
use crate::error::{QueryError, QueryErrorKind, did_you_mean};
use crate::grammar::{self, AggregateFunction, GrammarError, SelectItem};
use crate::parse::resource as find_resource;
use crate::plan::relations::{EmbeddableRelation, embeddable_relations};
use crate::plan::typing::{TermBudget, typed_condition, unknown_column};
use crate::plan::{
    ColumnExpression, Condition, Embed, Join, Limits, Node, Ordering, Output, ReadOptions, ReadPlan, SelectedColumn,
};

/// The rows of each resource a caller may read: `None` for all of them. [`plan_read`]
/// adds the condition to every node of the plan, at every depth.
pub type RowRules<'a> = &'a dyn Fn(&str) -> Option<Condition>;

/// [`RowRules`] of a caller who may read every row.
pub fn every_row(_resource: &str) -> Option<Condition> {
    None
}

/// Plans a read of `resource_name` from its query parameters (in request order) and
/// headers, against `schema` as the caller may see it and with `rules` limiting the rows of
/// every resource read (so counts, aggregates, `!inner` filters and cursors see only them).
pub fn plan_read(
    schema: &Schema,
    resource_name: &str,
    parameters: &[(String, String)],
    options: ReadOptions,
    limits: &Limits,
    cursor_key: &CursorKey,
    rules: RowRules<'_>,
) -> Result<ReadPlan, QueryError> {
    let resource = find_resource(schema, resource_name)?;
    let select_text = parameters.iter().rev().find(|(name, _)| name == "select").map(|(_, value)| value.as_str());
    let items = match select_text {
        Some(text) => grammar::parse_select(text).map_err(|error| grammar_error("select", error))?,
        None => vec![SelectItem::Star],
    };
    let mut root = build_node(schema, resource, &items, 0, limits)?;
    let mut budget = TermBudget { used: 0, limit: limits.max_filter_terms };
    let mut root_limit = None;
    let mut root_offset = None;
    let mut after = None;
    if let Some((first, last)) = options.range {
        root_offset = Some(first);
        if let Some(last) = last {
            let count = last.checked_sub(first).and_then(|span| span.checked_add(1)).ok_or_else(|| {
                QueryError::new(
                    QueryErrorKind::InvalidValue,
                    format!("invalid range {first}-{last}: the end is before the start"),
                )
                .parameter("Range")
            })?;
            root_limit = Some(u32::try_from(count).unwrap_or(u32::MAX));
        }
    }
    for (name, value) in parameters {
        let (path, key) = split_parameter(name);
        if path.is_empty() {
            match key {
                "select" => continue,
                "after" => {
                    after = Some(value.clone());
                    continue;
                }
                "columns" | "on_conflict" => {
                    return Err(QueryError::new(
                        QueryErrorKind::UnsupportedParameter,
                        format!("'{key}' applies to writes, not reads"),
                    )
                    .parameter(name.as_str()));
                }
                _ => {}
            }
        }
        let node = node_at(&mut root, &path).ok_or_else(|| {
            QueryError::new(
                QueryErrorKind::UnknownRelation,
                format!("parameter '{name}' names '{}', which is not embedded in select", path.join(".")),
            )
            .parameter(name.as_str())
            .hint("filters, order and limits on an embedded resource need it in select, e.g. select=*,comments:tracker_comments(*)")
        })?;
        let resource = schema.resource(&node.resource).expect("nodes name validated resources");
        match key {
            "limit" => {
                let limit = parse_count(name, value)?;
                if limit > u64::from(limits.max_page_size) {
                    return Err(QueryError::new(
                        QueryErrorKind::LimitExceeded,
                        format!("limit {limit} is above the largest page of {} rows", limits.max_page_size),
                    )
                    .parameter(name.as_str())
                    .hint("page with offset or a cursor, or raise server.max_page_size"));
                }
                let limit = u32::try_from(limit).expect("checked against the page size");
                if !path.is_empty() && limit > limits.bounds.max_embed_rows {
                    return Err(QueryError::new(
                        QueryErrorKind::LimitExceeded,
                        format!(
                            "limit {limit} is above the {} rows an embedded array may hold",
                            limits.bounds.max_embed_rows
                        ),
                    )
                    .parameter(name.as_str())
                    .hint("read the embedded resource on its own, paged, or raise server.max_embed_rows"));
                }
                if path.is_empty() { root_limit = Some(limit) } else { node.limit = Some(limit) }
            }
            "offset" => {
                let offset = parse_count(name, value)?;
                if path.is_empty() { root_offset = Some(offset) } else { node.offset = offset }
            }
            "order" => {
                let terms = grammar::parse_order(value).map_err(|error| grammar_error(name, error))?;
                node.order = typed_order(&terms, node, resource, name)?;
            }
            "or" | "and" | "not.or" | "not.and" => {
                let disjunction = key.ends_with("or");
                let condition = grammar::parse_logic(value, disjunction).map_err(|error| grammar_error(name, error))?;
                let mut condition = typed_condition(&condition, resource, name, limits, &mut budget)?;
                if key.starts_with("not.") {
                    condition = Condition::Not(Box::new(condition));
                }
                add_condition(node, condition);
            }
            column => {
                let condition = grammar::parse_filter(column, value).map_err(|error| grammar_error(name, error))?;
                let condition = typed_condition(&condition, resource, name, limits, &mut budget)?;
                add_condition(node, condition);
            }
        }
    }
    let limit = root_limit.unwrap_or(limits.default_page_size.min(limits.max_page_size));
    if limit > limits.max_page_size {
        return Err(QueryError::new(
            QueryErrorKind::LimitExceeded,
            format!("a page of {limit} rows is above the largest page of {} rows", limits.max_page_size),
        )
        .parameter(if options.range.is_some() { "Range" } else { "limit" })
        .hint("page with offset or a cursor, or raise server.max_page_size"));
    }
    root.limit = Some(limit);
    root.offset = root_offset.unwrap_or(0);
    finish_order(&mut root, schema);
    if !root.grouped {
        // The next page's cursor is made of the last row's order values.
        let resource = schema.resource(&root.resource).expect("nodes name validated resources");
        for term in root.order.clone() {
            let field_type = resource.field(&term.field).expect("order fields exist").field_type.clone();
            hidden_column(&mut root, ColumnExpression::Field(term.field), field_type);
        }
    }
    limit_rows(&mut root, rules);
    // The caller's rules are in the conditions: a cursor is bound to the rows they reach.
    let cursor_scope = cursor_scope(&root);
    let after = match after {
        None => None,
        Some(cursor) => {
            if root.grouped {
                return Err(QueryError::new(QueryErrorKind::Unsupported, "cursors do not apply to aggregates")
                    .parameter("after"));
            }
            if root.offset > 0 {
                return Err(QueryError::new(
                    QueryErrorKind::Unsupported,
                    "use either a cursor (after) or an offset, not both",
                )
                .parameter("after"));
            }
            Some(cursor_key.decode(&cursor_scope, &cursor, root.order.len())?)
        }
    };
    Ok(ReadPlan {
        root,
        count: options.count,
        single_object: options.single_object,
        after,
        cursor_scope,
        bounds: limits.bounds,
    })
}

/// `a.b.limit` → (["a", "b"], "limit"); `a.not.or` → (["a"], "not.or"); `status` → ([], "status").
fn split_parameter(name: &str) -> (Vec<String>, &str) {
    for suffix in ["not.or", "not.and"] {
        if name == suffix {
            return (Vec::new(), suffix);
        }
        if let Some(prefix) = name.strip_suffix(suffix).and_then(|prefix| prefix.strip_suffix('.')) {
            return (prefix.split('.').map(str::to_owned).collect(), suffix);
        }
    }
    match name.rsplit_once('.') {
        Some((prefix, key)) => (prefix.split('.').map(str::to_owned).collect(), key),
        None => (Vec::new(), name),
    }
}

fn node_at<'a>(node: &'a mut Node, path: &[String]) -> Option<&'a mut Node> {
    let Some((first, rest)) = path.split_first() else { return Some(node) };
    let embed = node.outputs.iter().find_map(|output| match output {
        Output::Embed { key, embed } if key == first => Some(*embed),
        _ => None,
    })?;
    node_at(&mut node.embeds[embed].node, rest)
}

/// Adds the caller's row rule of each node's resource to its condition.
fn limit_rows(node: &mut Node, rules: RowRules<'_>) {
    if let Some(condition) = rules(&node.resource) {
        add_condition(node, condition);
    }
    for embed in &mut node.embeds {
        limit_rows(&mut embed.node, rules);
    }
}

fn add_condition(node: &mut Node, condition: Condition) {
    node.condition = Some(match node.condition.take() {
        None => condition,
        Some(Condition::And(mut parts)) => {
            parts.push(condition);
            Condition::And(parts)
        }
        Some(existing) => Condition::And(vec![existing, condition]),
    });
}

fn parse_count(parameter: &str, value: &str) -> Result<u64, QueryError> {
    value.parse::<u64>().map_err(|_| {
        QueryError::new(
            QueryErrorKind::InvalidValue,
            format!("invalid value '{value}' for '{parameter}': expected a whole number"),
        )
        .parameter(parameter)
        .token(value)
    })
}

fn grammar_error(parameter: &str, error: GrammarError) -> QueryError {
    QueryError::new(QueryErrorKind::Grammar, format!("cannot parse '{parameter}': {error}"))
        .parameter(parameter)
        .token(error.token)
}

/// The node for `resource` selecting `items`.
fn build_node(
    schema: &Schema,
    resource: &Resource,
    items: &[SelectItem],
    depth: usize,
    limits: &Limits,
) -> Result<Node, QueryError> {
    let mut node = Node {
        resource: resource.name.clone(),
        table: resource.table.clone(),
        columns: Vec::new(),
        outputs: Vec::new(),
        condition: None,
        order: Vec::new(),
        limit: None,
        offset: 0,
        embeds: Vec::new(),
        grouped: items.iter().any(|item| matches!(item, SelectItem::Aggregate { .. })),
    };
    for item in items {
        match item {
            SelectItem::Star => {
                for field in &resource.fields {
                    push_output(
                        &mut node,
                        field.name.clone(),
                        ColumnExpression::Field(field.name.clone()),
                        field.field_type.clone(),
                    )?;
                }
            }
            SelectItem::Column { alias, name } => {
                let field = resource.field(name).ok_or_else(|| unknown_column(resource, name, "select"))?;
                let key = alias.clone().unwrap_or_else(|| name.clone());
                push_output(&mut node, key, ColumnExpression::Field(field.name.clone()), field.field_type.clone())?;
            }
            SelectItem::Aggregate { alias, function, column } => {
                let output_type = aggregate_type(resource, *function, column.as_deref())?;
                let key = alias.clone().unwrap_or_else(|| aggregate_name(*function).to_owned());
                let input = column.as_ref().map(|name| {
                    let field = resource.field(name).expect("aggregate_type checked the column");
                    (field.name.clone(), field.field_type.clone())
                });
                push_output(&mut node, key, ColumnExpression::Aggregate(*function, input), output_type)?;
            }
            SelectItem::Embed { alias, relation, hint, inner, items } => {
                if node.grouped {
                    return Err(QueryError::new(
                        QueryErrorKind::Unsupported,
                        "aggregates cannot be combined with embedding",
                    )
                    .parameter("select")
                    .token(relation.as_str()));
                }
                if depth + 1 > limits.max_embed_depth {
                    return Err(QueryError::new(
                        QueryErrorKind::LimitExceeded,
                        format!(
                            "embedding '{relation}' nests deeper than the limit of {} levels",
                            limits.max_embed_depth
                        ),
                    )
                    .parameter("select")
                    .token(relation.as_str()));
                }
                if items.iter().any(|item| matches!(item, SelectItem::Aggregate { .. })) {
                    return Err(QueryError::new(
                        QueryErrorKind::Unsupported,
                        format!("aggregates inside an embedding ('{relation}') are not supported"),
                    )
                    .parameter("select")
                    .token(relation.as_str())
                    .hint("aggregate the embedded resource in its own request, e.g. /api/v1/tracker_comments?select=tracker_id,count()"));
                }
                let chosen = choose_relation(schema, resource, relation, hint.as_deref())?;
                let target = schema.resource(&chosen.target).expect("relations name schema resources");
                let mut child = build_node(schema, target, items, depth + 1, limits)?;
                let (parent_field, child_key) = match &chosen.join {
                    Join::Direct { parent_field, child_field } => {
                        (parent_field.clone(), ColumnExpression::Field(child_field.clone()))
                    }
                    Join::Through { parent_field, junction_parent_field, .. } => {
                        (parent_field.clone(), ColumnExpression::JunctionField(junction_parent_field.clone()))
                    }
                };
                let parent_type = resource.field(&parent_field).expect("join fields exist").field_type.clone();
                let parent_column =
                    hidden_column(&mut node, ColumnExpression::Field(parent_field), parent_type.clone());
                let child_column = hidden_column(&mut child, child_key, parent_type);
                let key = alias.clone().unwrap_or_else(|| relation.clone());
                if node.outputs.iter().any(|output| output_key(output) == key) {
                    return Err(duplicate_key(&key));
                }
                node.outputs.push(Output::Embed { key, embed: node.embeds.len() });
                node.embeds.push(Embed {
                    many: chosen.many,
                    inner: *inner,
                    join: chosen.join,
                    parent_column,
                    child_column,
                    node: child,
                });
            }
        }
    }
    Ok(node)
}

fn output_key(output: &Output) -> &str {
    match output {
        Output::Column { key, .. } | Output::Embed { key, .. } => key,
    }
}

fn duplicate_key(key: &str) -> QueryError {
    QueryError::new(QueryErrorKind::InvalidValue, format!("'{key}' appears twice in select"))
        .parameter("select")
        .token(key)
        .hint("give one of them an alias, e.g. other_name:column")
}

fn push_output(
    node: &mut Node,
    key: String,
    expression: ColumnExpression,
    output_type: FieldType,
) -> Result<(), QueryError> {
    if node.outputs.iter().any(|output| output_key(output) == key) {
        return Err(duplicate_key(&key));
    }
    node.outputs.push(Output::Column { key, column: node.columns.len() });
    node.columns.push(SelectedColumn { expression, output_type });
    Ok(())
}

/// The index of a selected column, adding it (unseen by clients) when needed for a join.
fn hidden_column(node: &mut Node, expression: ColumnExpression, output_type: FieldType) -> usize {
    if let Some(index) = node.columns.iter().position(|column| column.expression == expression) {
        return index;
    }
    node.columns.push(SelectedColumn { expression, output_type });
    node.columns.len() - 1
}

fn aggregate_name(function: AggregateFunction) -> &'static str {
    match function {
        AggregateFunction::Count => "count",
        AggregateFunction::Sum => "sum",
        AggregateFunction::Avg => "avg",
        AggregateFunction::Min => "min",
        AggregateFunction::Max => "max",
    }
}

fn aggregate_type(
    resource: &Resource,
    function: AggregateFunction,
    column: Option<&str>,
) -> Result<FieldType, QueryError> {
    let Some(column) = column else {
        return match function {
            AggregateFunction::Count => Ok(FieldType::Bigint),
            _ => Err(QueryError::new(
                QueryErrorKind::InvalidValue,
                format!("{}() needs a column: column.{}()", aggregate_name(function), aggregate_name(function)),
            )
            .parameter("select")),
        };
    };
    let field = resource.field(column).ok_or_else(|| unknown_column(resource, column, "select"))?;
    let refuse = || {
        QueryError::new(
            QueryErrorKind::InvalidValue,
            format!("{}() does not apply to '{column}' ({})", aggregate_name(function), field.field_type.name()),
        )
        .parameter("select")
        .token(column)
    };
    match function {
        AggregateFunction::Count => Ok(FieldType::Bigint),
        AggregateFunction::Sum => match field.field_type {
            FieldType::Integer | FieldType::Bigint => Ok(FieldType::Bigint),
            FieldType::Float | FieldType::Decimal => Ok(FieldType::Float),
            _ => Err(refuse()),
        },
        AggregateFunction::Avg => {
            if field.field_type.is_numeric() {
                Ok(FieldType::Float)
            } else {
                Err(refuse())
            }
        }
        AggregateFunction::Min | AggregateFunction::Max => match field.field_type {
            FieldType::Boolean | FieldType::Json => Err(refuse()),
            FieldType::Decimal => Ok(FieldType::Float),
            ref other => Ok(other.clone()),
        },
    }
}

fn choose_relation(
    schema: &Schema,
    resource: &Resource,
    name: &str,
    hint: Option<&str>,
) -> Result<EmbeddableRelation, QueryError> {
    let relations = embeddable_relations(schema, resource);
    let mut candidates: Vec<&EmbeddableRelation> = relations.iter().filter(|relation| relation.name == name).collect();
    if let Some(hint) = hint {
        candidates.retain(|relation| relation.hints.iter().any(|known| known == hint));
    }
    match candidates.len() {
        1 => Ok(candidates[0].clone()),
        0 => {
            let mut names: Vec<&str> = relations.iter().map(|relation| relation.name.as_str()).collect();
            names.dedup();
            let written = match hint {
                Some(hint) => format!("{name}!{hint}"),
                None => name.to_owned(),
            };
            Err(QueryError::new(
                QueryErrorKind::UnknownRelation,
                format!("'{}' has no relation '{written}'", resource.name),
            )
            .parameter("select")
            .token(written)
            .hint(did_you_mean(name, names, "relations")))
        }
        _ => {
            let options: Vec<String> = candidates.iter().map(|relation| relation.disambiguated()).collect();
            Err(QueryError::new(
                QueryErrorKind::AmbiguousRelation,
                format!("'{name}' is ambiguous from '{}': {} relations match", resource.name, options.len()),
            )
            .parameter("select")
            .token(name)
            .hint(format!("name the one you mean: {}", options.join(" or "))))
        }
    }
}

fn typed_order(
    terms: &[grammar::OrderTerm],
    node: &Node,
    resource: &Resource,
    parameter: &str,
) -> Result<Vec<Ordering>, QueryError> {
    terms
        .iter()
        .map(|term| {
            let field =
                resource.field(&term.column).ok_or_else(|| unknown_column(resource, &term.column, parameter))?;
            if node.grouped
                && !node.columns.iter().any(|column| column.expression == ColumnExpression::Field(field.name.clone()))
            {
                return Err(QueryError::new(
                    QueryErrorKind::InvalidValue,
                    format!("cannot order an aggregate by '{}', which is not one of its selected columns", term.column),
                )
                .parameter(parameter)
                .token(term.column.as_str()));
            }
            let nulls_first = match term.nulls {
                Some(grammar::NullsOrder::First) => true,
                Some(grammar::NullsOrder::Last) => false,
                None => term.descending,
            };
            Ok(Ordering {
                field: field.name.clone(),
                descending: term.descending,
                nulls_first,
                nullable: field.nullable,
            })
        })
        .collect()
}

/// Ends every non-aggregate node's order with its primary key, so pages and cursors are
/// stable whatever the requested order.
fn finish_order(node: &mut Node, schema: &Schema) {
    if !node.grouped {
        let key = schema.resource(&node.resource).expect("nodes name validated resources").primary_key().name.clone();
        if !node.order.iter().any(|term| term.field == key) {
            node.order.push(Ordering { field: key, descending: false, nulls_first: false, nullable: false });
        }
    }
    for embed in &mut node.embeds {
        finish_order(&mut embed.node, schema);
    }
}

/// What a cursor is bound to: the resource, its filters and its order.
fn cursor_scope(root: &Node) -> String {
    let mut scope = format!("{}|{:?}|{:?}", root.resource, root.condition, root.order);
    inner_filters(root, &mut scope);
    scope
}

/// `!inner` embeddings filter the root rows too, so their filters bind a cursor as well.
fn inner_filters(node: &Node, scope: &mut String) {
    for embed in node.embeds.iter().filter(|embed| embed.inner) {
        scope.push_str(&format!("|{}:{:?}", embed.node.resource, embed.node.condition));
        inner_filters(&embed.node, scope);
    }
}

/// The row filter of a write (`PATCH`/`DELETE`): the root's filter parameters, typed.
/// `select` (for the returned representation) and `on_conflict` are left to the caller.
pub fn plan_filter(
    schema: &Schema,
    resource_name: &str,
    parameters: &[(String, String)],
    limits: &Limits,
) -> Result<Option<Condition>, QueryError> {
    let resource = find_resource(schema, resource_name)?;
    let mut budget = TermBudget { used: 0, limit: limits.max_filter_terms };
    let mut condition: Option<Condition> = None;
    for (name, value) in parameters {
        let (path, key) = split_parameter(name);
        if path.is_empty() && matches!(key, "select" | "on_conflict" | "columns") {
            continue;
        }
        if !path.is_empty() || matches!(key, "order" | "limit" | "offset" | "after") {
            return Err(QueryError::new(
                QueryErrorKind::UnsupportedParameter,
                format!("'{name}' does not apply to writes"),
            )
            .parameter(name.as_str())
            .hint("writes take filters on the resource's own columns, and select for the returned rows"));
        }
        let parsed = match key {
            "or" | "and" | "not.or" | "not.and" => {
                let parsed =
                    grammar::parse_logic(value, key.ends_with("or")).map_err(|error| grammar_error(name, error))?;
                if key.starts_with("not.") { grammar::Condition::Not(Box::new(parsed)) } else { parsed }
            }
            column => grammar::parse_filter(column, value).map_err(|error| grammar_error(name, error))?,
        };
        let typed = typed_condition(&parsed, resource, name, limits, &mut budget)?;
        condition = Some(match condition {
            None => typed,
            Some(Condition::And(mut parts)) => {
                parts.push(typed);
                Condition::And(parts)
            }
            Some(existing) => Condition::And(vec![existing, typed]),
        });
    }
    Ok(condition)
}
