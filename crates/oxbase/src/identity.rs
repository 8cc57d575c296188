//! `oxbase keys …` and `oxbase users …`: API keys and account passwords, on the database
//! a schema file names, through the same service functions the HTTP endpoints call.

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

use anyhow::{Context, anyhow, bail};
use oxbase_server::app::App;
use oxbase_server::config::{Config, ServerConfig, SettingFlags};
use oxbase_server::service::identity::{self, KeyRequest};

use crate::cli::{DatabaseArgs, KeysCommand, UsersCommand};
use crate::commands::{ensure_migrated, load_schema, write_line};

/// The app over the database `arguments` name, with the schema file's `[auth]` settings.
pub(crate) async fn open(arguments: &DatabaseArgs) -> anyhow::Result<App> {
    let (schema, file) = load_schema(&arguments.schema)?;
    let mut flags = SettingFlags::default();
    flags.database.url = arguments.database.clone().map(Into::into);
    let config: ServerConfig =
        Config::resolve(&flags, None, Some((&file, &arguments.schema)), |variable| std::env::var_os(variable))?
            .server_config()?;
    let (database, schema_path) = (config.database.clone(), arguments.schema.display().to_string());
    let schema = tokio::task::spawn_blocking(move || {
        ensure_migrated(&database, &schema, &schema_path)?;
        Ok::<_, anyhow::Error>(schema)
    })
    .await??;
    Ok(App::open(config, schema).await?)
}

fn moment(seconds: Option<i64>) -> String {
    seconds
        .and_then(|seconds| time::OffsetDateTime::from_unix_timestamp(seconds).ok())
        .and_then(|moment| moment.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_else(|| "-".to_owned())
}

/// `oxbase keys create|list|revoke`.
pub async fn keys(command: KeysCommand) -> anyhow::Result<ExitCode> {
    match command {
        KeysCommand::Create(arguments) => {
            let app = open(&arguments.database).await?;
            let request = KeyRequest {
                role: arguments.role,
                name: arguments.name,
                resources: arguments.resources,
                actions: arguments.actions,
                expires: arguments.expires,
            };
            let (record, key) = identity::create_key(&app, request).await.map_err(|error| anyhow!("{error}"))?;
            // The key alone on stdout, so `KEY=$(oxbase keys create …)` takes it; the rest
            // on stderr.
            write_line(format_args!("{}", key.expose()))?;
            let _ = writeln!(
                std::io::stderr(),
                "created API key {} ({}, role {}, expires {}); it is shown only this once",
                record.id,
                record.name,
                record.role,
                moment(record.expires_at)
            );
        }
        KeysCommand::List(arguments) => {
            let app = open(&arguments).await?;
            let keys = identity::list_keys(&app).await.map_err(|error| anyhow!("{error}"))?;
            write_line(format_args!("id\tname\trole\tresources\tactions\tcreated\texpires\trevoked\tlast used"))?;
            for key in keys {
                let list = |items: &Option<Vec<String>>| items.as_ref().map_or("*".to_owned(), |items| items.join(","));
                write_line(format_args!(
                    "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
                    key.id,
                    key.name,
                    key.role,
                    list(&key.resources),
                    list(&key.actions),
                    moment(Some(key.created_at)),
                    moment(key.expires_at),
                    moment(key.revoked_at),
                    moment(key.last_used_at)
                ))?;
            }
        }
        KeysCommand::Revoke(arguments) => {
            let app = open(&arguments.database).await?;
            identity::revoke_key(&app, &arguments.id).await.map_err(|error| anyhow!("{error}"))?;
            write_line(format_args!("revoked API key {}", arguments.id))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `oxbase users set-password USERNAME`, the password on stdin.
pub async fn users(command: UsersCommand) -> anyhow::Result<ExitCode> {
    let UsersCommand::SetPassword(arguments) = command;
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        // No echo control without a terminal crate: say so rather than pretend.
        let _ = write!(std::io::stderr(), "new password for {} (typed text is shown): ", arguments.username);
        let _ = std::io::stderr().flush();
    }
    let mut password = String::new();
    stdin.lock().read_line(&mut password).context("cannot read the password from stdin")?;
    let password = password.trim_end_matches(['\n', '\r']);
    if password.is_empty() {
        bail!("no password on stdin: pipe it in, e.g. printf '%s\\n' \"$PASSWORD\" | oxbase users set-password …");
    }
    let app = open(&arguments.database).await?;
    match identity::set_password(&app, &arguments.username, password).await {
        Ok(true) => write_line(format_args!("set the password of {}", arguments.username))?,
        Ok(false) => bail!("no account has the username '{}'", arguments.username),
        Err(error) => bail!("{error}"),
    }
    Ok(ExitCode::SUCCESS)
}
