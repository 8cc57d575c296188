//! What the workload is drawn from, learned before the load starts: id ranges and sizes
//! from the database, deep-page cursors and ETags from the server, and whether the server
//! accepts the write scenarios.

use std::net::SocketAddr;

use fastrand::Rng;
use oxbase_query::cursor::CursorKey;
use oxbase_query::plan::{ColumnExpression, Limits, every_row, plan_read};
use oxbase_query::sql::read::root_statement;
use oxbase_schema::Schema;
use oxbase_schema::model::{FieldType, Literal};

use crate::BenchError;
use crate::client::{Answer, Connection as HttpConnection};
use crate::database::Database;
use crate::workload::{DEEP_OFFSET, DeepPage, Fixture, PAGE, deep_page_by_offset, list_with_relations};

/// Hot efforts S8 reads over and over.
const HOT_EFFORTS: usize = 4;
/// Deep pages S4 varies over.
const DEEP_PAGES: u64 = 8;

/// Ranges and sizes read from the database.
#[derive(Debug, Clone, PartialEq)]
pub struct DataFacts {
    pub tracker_ids: (i64, i64),
    pub effort_ids: (i64, i64),
    pub big_effort: i64,
    /// Trackers S4's filter matches.
    pub deep_page_rows: u64,
    pub statuses: Vec<String>,
    /// Rows per resource, in schema order.
    pub rows: Vec<(String, u64)>,
}

fn integer(value: &Literal, what: &str) -> Result<i64, BenchError> {
    match value {
        Literal::Integer(number) => Ok(*number),
        other => Err(BenchError::Database(format!("{what}: expected an integer, got {other:?}"))),
    }
}

/// Reads the id ranges, the big effort and the row counts the workload needs.
pub async fn read_facts(database: &Database, schema: &Schema) -> Result<DataFacts, BenchError> {
    async fn range(database: &Database, table: &str) -> Result<(i64, i64), BenchError> {
        let rows = database.rows(&format!("SELECT min(\"id\"), max(\"id\") FROM \"{table}\""), &[]).await?;
        match rows.first().map(Vec::as_slice) {
            Some([Literal::Integer(low), Literal::Integer(high)]) => Ok((*low, *high)),
            _ => Err(BenchError::Database(format!("'{table}' has no rows: the workload needs the example's data"))),
        }
    }
    let tracker_ids = range(database, "trackers").await?;
    let effort_ids = range(database, "reporting_efforts").await?;
    let big_effort = integer(
        &database
            .value("SELECT \"reporting_effort_id\" FROM \"trackers\" GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1")
            .await?,
        "the effort with the most trackers",
    )?;
    let deep_page_rows = integer(
        &database.value("SELECT count(*) FROM \"trackers\" WHERE \"priority\" >= 2").await?,
        "trackers of priority 2 and above",
    )?;
    let statuses = schema
        .resource("trackers")
        .and_then(|resource| resource.field("production_status"))
        .and_then(|field| match &field.field_type {
            FieldType::Enum(values) => Some(values.clone()),
            _ => None,
        })
        .ok_or_else(|| BenchError::Database("the schema has no trackers.production_status enum".to_owned()))?;
    let mut rows = Vec::new();
    for resource in schema.resources.values() {
        let count = integer(
            &database.value(&format!("SELECT count(*) FROM \"{}\"", resource.table)).await?,
            &format!("rows of {}", resource.table),
        )?;
        rows.push((resource.name.clone(), u64::try_from(count).unwrap_or(0)));
    }
    Ok(DataFacts {
        tracker_ids,
        effort_ids,
        big_effort,
        deep_page_rows: u64::try_from(deep_page_rows).unwrap_or(0),
        statuses,
        rows,
    })
}

/// The offsets of S4's deep pages: from row 50,000 when the data set is that large, else
/// from the middle of the rows the filter matches; on page boundaries, past the first page
/// (so a cursor can lead there) and before the last matching row.
pub fn deep_offsets(matching_rows: u64) -> Vec<u64> {
    let page = u64::from(PAGE);
    let first = if matching_rows >= DEEP_OFFSET + DEEP_PAGES * page {
        DEEP_OFFSET
    } else {
        (matching_rows / 2 / page * page).max(page)
    };
    (0..DEEP_PAGES).map(|index| first + index * page).filter(|offset| *offset < matching_rows).collect()
}

/// The order-term values of the row just before `offset` in S4's order: the keyset
/// position a cursor to the page at `offset` carries.
pub async fn keyset_before(
    database: &Database,
    schema: &Schema,
    limits: &Limits,
    offset: u64,
) -> Result<Vec<Literal>, BenchError> {
    let request = deep_page_by_offset(offset.saturating_sub(1));
    let read = request.read.expect("a read");
    let mut parameters = read.parameters;
    parameters.retain(|(name, _)| name != "limit");
    parameters.push(("limit".to_owned(), "1".to_owned()));
    let plan =
        plan_read(schema, &read.resource, &parameters, read.options, limits, &CursorKey::new(vec![0; 32]), &every_row)
            .map_err(|error| BenchError::Plan(error.to_string()))?;
    let statement = root_statement(&plan, database.dialect());
    let rows = database.rows(&statement.sql, &statement.parameters).await?;
    let row =
        rows.first().ok_or_else(|| BenchError::Database(format!("no row at offset {offset} for the deep page")))?;
    plan.root
        .order
        .iter()
        .map(|term| {
            let index = plan
                .root
                .columns
                .iter()
                .position(|column| column.expression == ColumnExpression::Field(term.field.clone()))
                .ok_or_else(|| BenchError::Plan(format!("order column {} is not selected", term.field)))?;
            Ok(row[index].clone())
        })
        .collect()
}

/// The `after=` value of a `Link: <…&after=CURSOR>; rel="next"` header.
pub fn cursor_from_link(link: &str) -> Option<String> {
    let target = link.split('<').nth(1)?.split('>').next()?;
    let query = target.split_once('?')?.1;
    form_urlencoded::parse(query.as_bytes()).find(|(name, _)| name == "after").map(|(_, value)| value.into_owned())
}

async fn get(connection: &mut HttpConnection, request: &crate::workload::BenchRequest) -> Result<Answer, BenchError> {
    let http = connection.build(request).map_err(|error| BenchError::Server(error.to_string()))?;
    connection.send(http, true).await.map_err(|error| BenchError::Server(error.to_string()))
}

/// Everything the workload draws from; `connection` reaches the server under test.
pub async fn build_fixture(
    address: SocketAddr,
    database: &Database,
    schema: &Schema,
    limits: &Limits,
    facts: &DataFacts,
    seed: u64,
) -> Result<Fixture, BenchError> {
    let mut connection = HttpConnection::open(address).await.map_err(|error| BenchError::Server(error.to_string()))?;
    let mut rng = Rng::with_seed(seed);
    let (low, high) = facts.effort_ids;
    let mut hot_efforts: Vec<i64> = Vec::new();
    while hot_efforts.len() < HOT_EFFORTS.min((high - low + 1) as usize) {
        let effort = rng.i64(low..=high);
        if !hot_efforts.contains(&effort) {
            hot_efforts.push(effort);
        }
    }
    let mut hot_etags = Vec::new();
    for effort in &hot_efforts {
        let answer = get(&mut connection, &list_with_relations(*effort)).await?;
        hot_etags.push(answer.header("etag").map(str::to_owned));
    }
    let mut deep_pages = Vec::new();
    for offset in deep_offsets(facts.deep_page_rows) {
        let answer = get(&mut connection, &deep_page_by_offset(offset - u64::from(PAGE))).await?;
        let cursor = answer.header("link").and_then(cursor_from_link);
        let after = keyset_before(database, schema, limits, offset).await?;
        deep_pages.push(DeepPage { offset, cursor, after });
    }
    if let Some(DeepPage { offset, cursor: Some(cursor), .. }) = deep_pages.first() {
        // The cursor and the offset must land on the same page, or S4's two rows compare
        // different things.
        let by_offset = get(&mut connection, &deep_page_by_offset(*offset)).await?;
        let mut by_cursor_request = deep_page_by_offset(0);
        by_cursor_request.query.retain(|(name, _)| name != "offset");
        by_cursor_request.query.push(("after".to_owned(), cursor.clone()));
        let by_cursor = get(&mut connection, &by_cursor_request).await?;
        if by_offset.body != by_cursor.body {
            tracing::warn!(offset, "the deep page by cursor differs from the page by offset");
        }
    }
    Ok(Fixture {
        tracker_ids: facts.tracker_ids,
        effort_ids: facts.effort_ids,
        big_effort: facts.big_effort,
        statuses: facts.statuses.clone(),
        hot_efforts,
        hot_etags,
        deep_pages,
        viewer_token: None,
    })
}

/// Sends one request of a write scenario: `Ok(())` when the server accepts it, otherwise
/// why not (the status and the error's code), for the report.
pub async fn probe_write(address: SocketAddr, request: &crate::workload::BenchRequest) -> Result<(), String> {
    let mut connection = HttpConnection::open(address).await.map_err(|error| error.to_string())?;
    let http = connection.build(request).map_err(|error| error.to_string())?;
    let answer = connection.send(http, true).await.map_err(|error| error.to_string())?;
    if (200..300).contains(&answer.status) {
        return Ok(());
    }
    let code = answer
        .body
        .as_deref()
        .and_then(|body| serde_json::from_slice::<serde_json::Value>(body).ok())
        .and_then(|body| body.get("code").and_then(|code| code.as_str()).map(str::to_owned));
    Err(match code {
        Some(code) => format!("the server answers {} ({code})", answer.status),
        None => format!("the server answers {}", answer.status),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deep_pages_start_at_fifty_thousand_when_there_are_enough_rows() {
        assert_eq!(deep_offsets(90_061), (0..8).map(|page| 50_000 + page * 50).collect::<Vec<_>>());
        assert_eq!(deep_offsets(900)[0], 450);
        assert_eq!(deep_offsets(50_100)[0], 25_050 / 50 * 50);
        assert_eq!(deep_offsets(120), [50, 100]);
        assert!(deep_offsets(40).is_empty());
    }

    #[test]
    fn cursors_are_read_from_the_link_header() {
        let link = "</api/v1/trackers?priority=gte.2&order=due_date&limit=50&after=WyIyMDI3Il0.abc-_>; rel=\"next\"";
        assert_eq!(cursor_from_link(link).as_deref(), Some("WyIyMDI3Il0.abc-_"));
        assert_eq!(cursor_from_link("</api/v1/trackers?limit=50>; rel=\"next\""), None);
    }
}
