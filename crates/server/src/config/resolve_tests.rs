//! The layering, the file's sections, and secrets kept out of `Debug` and `oxbase config`.

use std::ffi::OsString;
use std::path::Path;

use clap::{FromArgMatches, Parser};

use super::declare::Source;
use super::*;

/// The flags as `serve` takes them.
#[derive(Debug, Parser)]
struct Flags {
    #[command(flatten)]
    settings: SettingFlags,
}

fn no_environment(_: &str) -> Option<OsString> {
    None
}

/// Resolves `arguments` over `file` (schema-file text) with no environment.
fn resolve(arguments: &[&str], file: &str) -> Config {
    let command = <Flags as clap::CommandFactory>::command();
    let matches = command.try_get_matches_from(std::iter::once("oxbase").chain(arguments.iter().copied())).unwrap();
    let flags = Flags::from_arg_matches(&matches).unwrap();
    let file = FileSettings::parse(file, "app.toml").unwrap();
    Config::resolve(&flags.settings, Some(&matches), Some((&file, Path::new("/srv/app/app.toml"))), no_environment)
        .unwrap()
}

#[test]
fn a_flag_beats_the_file_which_beats_the_default() {
    let config = resolve(
        &["--readers", "9", "--cache", "off", "--admin"],
        "[server]\nmax_page_size = 200\n[database]\nurl = \"sqlite://app.db\"\nreaders = 2\n[cache]\nttl_seconds = 5\n",
    );
    assert_eq!(config.settings.database.readers, 9);
    assert_eq!(config.source("database", "readers"), Source::Flag("readers"));
    assert_eq!(config.settings.server.max_page_size, 200);
    assert_eq!(config.source("server", "max_page_size"), Source::File);
    assert_eq!(config.settings.server.default_page_size, 50);
    assert_eq!(config.source("server", "default_page_size"), Source::Default);
    assert_eq!((config.settings.cache.enabled, config.settings.cache.ttl_seconds), (Some(false), 5));
    let server = config.server_config().unwrap();
    assert_eq!((server.readers, server.max_page_size, server.cache_enabled), (9, 200, Some(false)));
    assert!(server.admin_enabled);
    assert_eq!(server.cache_ttl, std::time::Duration::from_secs(5));
}

#[test]
fn a_false_admin_flag_does_not_switch_off_the_file() {
    let config = resolve(&["--admin=false"], "[server]\nadmin = true\n");
    assert!(config.settings.server.admin);
    assert_eq!(config.source("server", "admin"), Source::File);
}

#[test]
fn the_defaults_are_the_server_config_defaults() {
    let config = resolve(&["--database", "sqlite://app.db"], "");
    let resolved = format!("{:?}", config.server_config().unwrap());
    let built = format!("{:?}", ServerConfig::with_database(DatabaseUrl::Sqlite("app.db".into())));
    assert_eq!(resolved, built);
}

#[test]
fn zero_turns_timeouts_off_and_limits_are_held_to_their_range() {
    let config = resolve(
        &["--database", "sqlite://app.db", "--header-read-timeout", "0", "--pool-size", "0", "--slow-query-ms", "0"],
        "[database]\nmin_idle = 5\nidle_timeout_seconds = 0\n",
    );
    let server = config.server_config().unwrap();
    assert_eq!((server.header_read_timeout, server.slow_query, server.pool.idle_timeout), (None, None, None));
    assert_eq!((server.pool.max_size, server.pool.min_idle), (1, 1));
}

#[test]
fn start_checks_name_the_setting() {
    let check = |arguments: &[&str]| resolve(arguments, "").server_config().unwrap_err().to_string();
    assert!(check(&[]).starts_with("no database given"), "{}", check(&[]));
    let database = ["--database", "sqlite://app.db"];
    let message = check(&[&database[..], &["--default-page-size", "20", "--max-page-size", "10"]].concat());
    assert_eq!(message, "server.default_page_size (20) is larger than server.max_page_size (10)");
    assert!(check(&[&database[..], &["--max-connections", "0"]].concat()).starts_with("max_connections is 0"));
    assert!(check(&[&database[..], &["--compression-level", "12"]].concat()).contains("use 0 (fastest) to 11"));
    assert!(check(&[&database[..], &["--listen", "nowhere"]].concat()).starts_with("invalid listen address 'nowhere'"));
}

#[test]
fn unknown_or_mistyped_keys_name_their_line() {
    let errors = FileSettings::parse("[server]\nlisten = \"127.0.0.1:1\"\nlistn = 1\n", "app.toml").unwrap_err();
    let message = errors.to_string();
    assert!(message.starts_with("app.toml:3:") && message.contains("unknown field `listn`"), "{message}");
    let message =
        FileSettings::parse("[cache]\nexternal_writes = \"sometimes\"\n", "app.toml").unwrap_err().to_string();
    assert!(message.starts_with("app.toml:2:"), "{message}");
    // Keys outside the three sections are the schema's, which checks them itself.
    assert!(FileSettings::parse("[resources.a.fields]\nx = { type = \"text\" }\n", "app.toml").is_ok());
}

#[test]
fn secret_files_in_the_schema_file_are_relative_to_it() {
    let file = FileSettings::parse("[server]\ncursor_secret_file = \"secret.txt\"\n", "a.toml").unwrap();
    let resolved = Config::resolve(
        &SettingFlags::default(),
        None,
        Some((&file, Path::new("/nonexistent/a.toml"))),
        no_environment,
    );
    let error = resolved.map(|_| ()).unwrap_err().to_string();
    assert!(error.starts_with("cannot read the cursor secret file /nonexistent/secret.txt"), "{error}");
}

#[test]
fn debug_and_the_printed_configuration_show_no_secret() {
    let environment = |variable: &str| {
        (variable == "OXBASE_CURSOR_SECRET").then(|| OsString::from("correct horse battery staple, 32 bytes+"))
    };
    let flags = {
        let arguments =
            ["oxbase", "--database", "postgres://oxbase:hunter2@db:5432/app", "--redis", "redis://:swordfish@r:6379/0"];
        Flags::try_parse_from(arguments).unwrap().settings
    };
    let config = Config::resolve(&flags, None, None, environment).unwrap();
    let server = config.server_config().unwrap();
    for shown in [format!("{config:?}"), format!("{server:?}"), config.to_toml(), format!("{:?}", server.database)] {
        for secret in ["hunter2", "swordfish", "horse"] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
    }
    let printed = config.to_toml();
    assert!(printed.contains("url = \"postgres://oxbase:[redacted]@db:5432/app\""), "{printed}");
    assert!(printed.contains("# cursor secret: [redacted] (from OXBASE_CURSOR_SECRET)"), "{printed}");
    // The secrets are still there for the server to use.
    assert_eq!(server.cursor_secret.unwrap().bytes(), b"correct horse battery staple, 32 bytes+");
    assert_eq!(server.redis_url.unwrap().expose(), "redis://:swordfish@r:6379/0");
}

#[test]
fn the_printed_configuration_is_toml_with_every_setting() {
    let config = resolve(&["--database", "sqlite://app.db"], "[server]\nlisten = \"0.0.0.0:80\"\n");
    let printed = config.to_toml();
    let parsed: toml::Table = toml::from_str(&printed).unwrap_or_else(|error| panic!("{error}\n{printed}"));
    assert_eq!(parsed["server"]["listen"].as_str(), Some("0.0.0.0:80"));
    assert!(printed.contains("listen = \"0.0.0.0:80\"") && printed.contains("# schema file"), "{printed}");
    assert!(printed.contains("# flag --database"), "{printed}");
    for info in Settings::all() {
        assert!(printed.contains(&format!("{} ", info.key)), "{} missing in {printed}", info.key);
    }
    // What it prints reads back as the same settings.
    let again = FileSettings::parse(&printed, "printed.toml").unwrap();
    assert_eq!(again.server.listen.as_deref(), Some("0.0.0.0:80"));
}

#[test]
fn every_setting_has_a_unique_flag_and_variable_and_a_description() {
    let mut flags = std::collections::HashSet::new();
    let mut variables = std::collections::HashSet::new();
    for info in Settings::all() {
        assert!(flags.insert(info.flag), "flag --{} twice", info.flag);
        assert!(variables.insert(info.env), "{} twice", info.env);
        assert!(info.env.starts_with("OXBASE_"), "{}", info.env);
        assert!(info.description().ends_with('.'), "{}: {}", info.key, info.description());
    }
    let table = render::settings_table(&[]);
    assert_eq!(table.lines().count(), 2 + Settings::all().count() + resolve::CURSOR_SECRET_VARIABLES.len());
}
