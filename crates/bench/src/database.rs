//! The database under test as the harness itself reads it, on either engine: a handful of
//! queries for the fixture (id ranges, row counts, the keyset position of a deep page), and
//! creating a PostgreSQL database that does not exist yet.

use oxbase_schema::dialect::Dialect;
use oxbase_schema::model::Literal;
use oxbase_server::config::DatabaseUrl;
use rusqlite::types::ValueRef;
use tokio_postgres::NoTls;

use crate::BenchError;
use crate::database_limit::sqlite::open_reader;
use crate::postgres_values::{bind, literal};

/// One connection to the database under test.
pub enum Database {
    /// A reader connection with the server's settings.
    Sqlite(rusqlite::Connection),
    Postgres(tokio_postgres::Client),
}

impl Database {
    /// Connects to `url` (on PostgreSQL, from inside the harness's runtime).
    pub async fn open(url: &DatabaseUrl) -> Result<Database, BenchError> {
        match url {
            DatabaseUrl::Sqlite(path) => Ok(Database::Sqlite(open_reader(path)?)),
            DatabaseUrl::Postgres(url) => Ok(Database::Postgres(connect_postgres(url).await?)),
        }
    }

    /// The dialect statements for this database are rendered in.
    pub fn dialect(&self) -> Dialect {
        match self {
            Database::Sqlite(_) => Dialect::Sqlite,
            Database::Postgres(_) => Dialect::Postgres,
        }
    }

    /// Runs `sql` with `parameters` bound in order; every row's values as literals.
    pub async fn rows(&self, sql: &str, parameters: &[Literal]) -> Result<Vec<Vec<Literal>>, BenchError> {
        let failed = |error: &dyn std::fmt::Display| BenchError::Database(format!("{sql}: {error}"));
        match self {
            Database::Sqlite(connection) => {
                let mut statement = connection.prepare(sql).map_err(|error| failed(&error))?;
                let values = parameters.iter().map(|value| match value {
                    Literal::Null => rusqlite::types::Value::Null,
                    Literal::Boolean(flag) => rusqlite::types::Value::Integer(i64::from(*flag)),
                    Literal::Integer(number) => rusqlite::types::Value::Integer(*number),
                    Literal::Float(number) => rusqlite::types::Value::Real(*number),
                    Literal::Text(text) => rusqlite::types::Value::Text(text.clone()),
                });
                let columns = statement.column_count();
                let mut rows = statement.query(rusqlite::params_from_iter(values)).map_err(|error| failed(&error))?;
                let mut out = Vec::new();
                while let Some(row) = rows.next().map_err(|error| failed(&error))? {
                    let mut values = Vec::with_capacity(columns);
                    for column in 0..columns {
                        values.push(match row.get_ref(column).map_err(|error| failed(&error))? {
                            ValueRef::Integer(number) => Literal::Integer(number),
                            ValueRef::Real(number) => Literal::Float(number),
                            ValueRef::Text(bytes) => Literal::Text(String::from_utf8_lossy(bytes).into_owned()),
                            ValueRef::Null | ValueRef::Blob(_) => Literal::Null,
                        });
                    }
                    out.push(values);
                }
                Ok(out)
            }
            Database::Postgres(client) => {
                let statement = client.prepare(sql).await.map_err(|error| failed(&error))?;
                let bound = parameters
                    .iter()
                    .zip(statement.params())
                    .map(|(value, parameter_type)| bind(value, parameter_type))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|error| failed(&error))?;
                let references: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> =
                    bound.iter().map(|value| value.as_ref() as &(dyn tokio_postgres::types::ToSql + Sync)).collect();
                let rows = client.query(&statement, &references).await.map_err(|error| failed(&error))?;
                rows.iter()
                    .map(|row| (0..row.len()).map(|column| literal(row, column)).collect::<Result<Vec<_>, _>>())
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|error| failed(&error))
            }
        }
    }

    /// The first value of the first row.
    pub async fn value(&self, sql: &str) -> Result<Literal, BenchError> {
        let rows = self.rows(sql, &[]).await?;
        Ok(rows.into_iter().next().and_then(|row| row.into_iter().next()).unwrap_or(Literal::Null))
    }
}

/// Opens one tokio-postgres connection (no TLS, as the server's); its connection task runs
/// on the current runtime until the client is dropped.
pub async fn connect_postgres(url: &str) -> Result<tokio_postgres::Client, BenchError> {
    let mut config: tokio_postgres::Config =
        url.parse().map_err(|error| BenchError::Options(format!("invalid PostgreSQL URL: {error}")))?;
    // Like the server's connections: the external-write triggers leave these writes alone
    // (the statements bump versions and notify themselves, as the server's do).
    config.options(oxbase_store::postgres::notify::WRITER_OPTION);
    let (client, connection) = config
        .connect(NoTls)
        .await
        .map_err(|error| BenchError::Database(format!("cannot connect to PostgreSQL: {error}")))?;
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::debug!(%error, "a PostgreSQL connection of the harness ended");
        }
    });
    Ok(client)
}

/// Creates the database `url` names when it does not exist yet (connecting to the server's
/// `postgres` database to do so); returns whether it did.
pub async fn create_postgres_database(url: &str) -> Result<bool, BenchError> {
    let mut config: tokio_postgres::Config =
        url.parse().map_err(|error| BenchError::Options(format!("invalid PostgreSQL URL: {error}")))?;
    let Some(name) = config.get_dbname().map(str::to_owned) else {
        return Ok(false);
    };
    let (client, connection) =
        config.dbname("postgres").connect(NoTls).await.map_err(|error| {
            BenchError::Database(format!("cannot connect to PostgreSQL's postgres database: {error}"))
        })?;
    let task = tokio::spawn(connection);
    let exists = client
        .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name])
        .await
        .map_err(|error| BenchError::Database(error.to_string()))?
        .is_some();
    if !exists {
        let quoted = format!("\"{}\"", name.replace('"', "\"\""));
        client
            .batch_execute(&format!("CREATE DATABASE {quoted}"))
            .await
            .map_err(|error| BenchError::Database(format!("cannot create the database {quoted}: {error}")))?;
    }
    drop(client);
    let _ = task.await;
    Ok(!exists)
}
