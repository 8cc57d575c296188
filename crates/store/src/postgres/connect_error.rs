//! A failed PostgreSQL connection, said in words an operator can act on: what failed,
//! where (host, port, database, user — never the password), and the fix when there is an
//! obvious one. The driver's own `Display` is just "db error" or "error connecting to
//! server"; the SQLSTATE and the I/O cause say the rest.

use std::error::Error as _;

use postgres::config::Host;
use postgres::error::SqlState;

/// Where a connection was going, from its parsed configuration.
struct Target {
    /// `host:port` (or the socket directory), as the user would type it.
    address: String,
    host: String,
    port: u16,
    user: String,
    database: String,
}

impl Target {
    fn of(config: &postgres::Config) -> Target {
        let host = match config.get_hosts().first() {
            Some(Host::Tcp(host)) => host.clone(),
            #[cfg(unix)]
            Some(Host::Unix(path)) => path.display().to_string(),
            None => "localhost".to_owned(),
        };
        let port = config.get_ports().first().copied().unwrap_or(5432);
        let user = config.get_user().unwrap_or("postgres").to_owned();
        // PostgreSQL's default database is the one named like the user.
        let database = config.get_dbname().unwrap_or(&user).to_owned();
        Target { address: format!("{host}:{port}"), host, port, user, database }
    }

    /// The `createdb` command that creates the missing database.
    fn createdb(&self) -> String {
        let port = if self.port == 5432 { String::new() } else { format!(" -p {}", self.port) };
        format!("createdb -h {}{port} -U {} {}", self.host, self.user, self.database)
    }
}

/// The message for a connection to `config` that failed with `error`.
pub(super) fn describe(config: &postgres::Config, error: &postgres::Error) -> String {
    let target = Target::of(config);
    let Target { address, user, database, .. } = &target;
    if let Some(database_error) = error.as_db_error() {
        let code = database_error.code();
        return if *code == SqlState::INVALID_CATALOG_NAME {
            format!("database \"{database}\" does not exist on {address}; create it with: {}", target.createdb())
        } else if *code == SqlState::INVALID_PASSWORD || *code == SqlState::INVALID_AUTHORIZATION_SPECIFICATION {
            format!(
                "PostgreSQL on {address} refused user \"{user}\" for database \"{database}\": {} (SQLSTATE {}); check the user and password in the database URL and pg_hba.conf",
                database_error.message(),
                code.code()
            )
        } else {
            format!(
                "PostgreSQL on {address} refused the connection to database \"{database}\" as user \"{user}\": {} (SQLSTATE {})",
                database_error.message(),
                code.code()
            )
        };
    }
    let mut io_error = None;
    let mut cause = error.source();
    while let Some(source) = cause {
        if let Some(found) = source.downcast_ref::<std::io::Error>() {
            io_error = Some(found);
            break;
        }
        cause = source.source();
    }
    match io_error.map(std::io::Error::kind) {
        Some(std::io::ErrorKind::ConnectionRefused) => format!(
            "cannot connect to PostgreSQL on {address}: connection refused; is PostgreSQL running and listening there?"
        ),
        Some(std::io::ErrorKind::TimedOut) => {
            format!("cannot connect to PostgreSQL on {address}: no answer before the connect timeout")
        }
        _ => {
            let cause = error.source().map(|source| format!(": {source}")).unwrap_or_default();
            format!(
                "cannot connect to PostgreSQL on {address} (database \"{database}\", user \"{user}\"): {error}{cause}"
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_createdb_command_names_host_port_user_and_database() {
        let config: postgres::Config = "postgres://ana:secret@db.internal:6543/shop".parse().unwrap();
        assert_eq!(Target::of(&config).createdb(), "createdb -h db.internal -p 6543 -U ana shop");
        let config: postgres::Config = "postgres://postgres@127.0.0.1/app".parse().unwrap();
        assert_eq!(Target::of(&config).createdb(), "createdb -h 127.0.0.1 -U postgres app");
    }
}
