//! [`Config`]: the effective settings with where each came from, the checks `serve`
//! makes before it starts, and the cursor secrets (read from files or the environment).

use std::ffi::OsString;
use std::path::Path;

use super::declare::{SettingInfo, Source};
use super::secret::CursorSecret;
use super::settings::{FileSettings, SettingFlags, Settings};
use super::{DatabaseUrl, ServerConfig};

/// A setting that cannot be used, or a schema-file section that cannot be read; the
/// message names the setting and, where one helps, the fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

/// The effective configuration: every setting's value and source, and the cursor secrets
/// with where each came from.
#[derive(Debug, Clone)]
pub struct Config {
    /// Every setting's value.
    pub settings: Settings,
    /// Where each setting's value came from, in declaration order.
    pub sources: Vec<(&'static SettingInfo, Source)>,
    /// The secret that signs cursors, and where it came from.
    pub cursor_secret: Option<(CursorSecret, String)>,
    /// The previous secret during a rotation, and where it came from.
    pub cursor_secret_previous: Option<(CursorSecret, String)>,
    /// The secret that signs access tokens, and where it came from.
    pub jwt_secret: Option<(CursorSecret, String)>,
}

/// The variables that hold a cursor secret itself; there is no flag and no file key for
/// it, so it shows neither in `ps` nor in the schema file.
pub const CURSOR_SECRET_VARIABLES: [(&str, &str); 3] = [
    (
        "OXBASE_CURSOR_SECRET",
        "The cursor secret itself (at least 32 bytes), instead of `cursor_secret_file`; used when neither its flag nor its variable names a file, before the schema file's `cursor_secret_file`.",
    ),
    (
        "OXBASE_CURSOR_SECRET_PREVIOUS",
        "The previous cursor secret itself, instead of `cursor_secret_previous_file`, in the same order.",
    ),
    (
        "OXBASE_JWT_SECRET",
        "The JWT secret itself (at least 32 bytes), instead of `[auth] jwt_secret_file`, in the same order.",
    ),
];

impl Config {
    /// Layers flags (with their variables; `matches` tells which gave a value), the
    /// schema file's sections (`schema_file` is the file, whose directory relative
    /// secret-file paths start from) and defaults, then reads the cursor secrets;
    /// `environment` looks up a variable (`std::env::var_os` outside tests).
    pub fn resolve(
        flags: &SettingFlags,
        matches: Option<&clap::ArgMatches>,
        file: Option<(&FileSettings, &Path)>,
        environment: impl Fn(&str) -> Option<OsString>,
    ) -> Result<Config, ConfigError> {
        let mut flags = flags.clone();
        // `admin` is switched on by the flag, its variable or the file: a `false` from the
        // flag layer means "not given", so it does not switch off `admin = true` in the file.
        if flags.server.admin == Some(false) {
            flags.server.admin = None;
        }
        if flags.server.open == Some(false) {
            flags.server.open = None;
        }
        let mut file_settings = file.map(|(settings, _)| settings.clone()).unwrap_or_default();
        let schema_directory = file.and_then(|(_, path)| path.parent()).unwrap_or(Path::new("."));
        for path in [
            &mut file_settings.server.cursor_secret_file,
            &mut file_settings.server.cursor_secret_previous_file,
            &mut file_settings.auth.jwt_secret_file,
            &mut file_settings.auth.jwks_file,
        ]
        .into_iter()
        .flatten()
        {
            *path = schema_directory.join(&*path);
        }
        let (settings, sources) = Settings::layered(&flags, matches, &file_settings);
        let mut config =
            Config { settings, sources, cursor_secret: None, cursor_secret_previous: None, jwt_secret: None };
        config.cursor_secret = config.read_cursor_secret("cursor_secret_file", "OXBASE_CURSOR_SECRET", &environment)?;
        config.cursor_secret_previous =
            config.read_cursor_secret("cursor_secret_previous_file", "OXBASE_CURSOR_SECRET_PREVIOUS", &environment)?;
        config.jwt_secret = config.read_cursor_secret("jwt_secret_file", "OXBASE_JWT_SECRET", &environment)?;
        if config.cursor_secret.is_none() && config.cursor_secret_previous.is_some() {
            return Err(ConfigError(
                "a previous cursor secret is set but no current one: set OXBASE_CURSOR_SECRET or a cursor secret file too (the previous secret only verifies old cursors)".to_owned(),
            ));
        }
        Ok(config)
    }

    /// Where the setting `section.key` came from.
    pub fn source(&self, section: &str, key: &str) -> Source {
        self.sources
            .iter()
            .find(|(info, _)| info.section == section && info.key == key)
            .map_or(Source::Default, |(_, source)| *source)
    }

    /// One cursor secret: from the file setting when a flag or its variable gave it, else
    /// the variable `variable` holding the secret itself, else the schema file's key. A
    /// file's trailing newline is not part of the secret. Shorter than 32 bytes is refused,
    /// naming where the secret came from.
    fn read_cursor_secret(
        &self,
        key: &str,
        variable: &str,
        environment: &impl Fn(&str) -> Option<OsString>,
    ) -> Result<Option<(CursorSecret, String)>, ConfigError> {
        let (section, path) = match key {
            "cursor_secret_file" => ("server", self.settings.server.cursor_secret_file.as_deref()),
            "jwt_secret_file" => ("auth", self.settings.auth.jwt_secret_file.as_deref()),
            _ => ("server", self.settings.server.cursor_secret_previous_file.as_deref()),
        };
        let what = if section == "auth" { "JWT secret" } else { "cursor secret" };
        let read = |path: &Path| -> Result<Vec<u8>, ConfigError> {
            let mut bytes = std::fs::read(path)
                .map_err(|error| ConfigError(format!("cannot read the {what} file {}: {error}", path.display())))?;
            if bytes.ends_with(b"\n") {
                bytes.pop();
                if bytes.ends_with(b"\r") {
                    bytes.pop();
                }
            }
            Ok(bytes)
        };
        let (bytes, source) = match (path, self.source(section, key)) {
            (Some(path), Source::Flag(_) | Source::Environment(_)) => (read(path)?, format!("file {}", path.display())),
            _ if environment(variable).is_some() => {
                (environment(variable).unwrap_or_default().into_encoded_bytes(), variable.to_owned())
            }
            (Some(path), _) => (read(path)?, format!("[{section}] {key} {}", path.display())),
            (None, _) => return Ok(None),
        };
        match CursorSecret::new(bytes) {
            Ok(secret) => Ok(Some((secret, source))),
            Err(error) => {
                let error = error.to_string().replace("cursor secret", what);
                Err(ConfigError(format!("{error} (from {source}); generate one with: openssl rand -base64 48")))
            }
        }
    }

    /// The database to serve: required.
    pub fn database(&self) -> Result<DatabaseUrl, ConfigError> {
        let url = self.settings.database.url.as_ref().ok_or_else(|| {
            ConfigError("no database given: pass --database URL, set OXBASE_DATABASE, or set `url` in the schema's [database] section".to_owned())
        })?;
        DatabaseUrl::parse(url.expose()).map_err(|error| ConfigError(error.to_string()))
    }

    /// The settings `serve` runs with, after the checks it makes at start.
    pub fn server_config(&self) -> Result<ServerConfig, ConfigError> {
        let database = self.database()?;
        let server = &self.settings.server;
        let listen = server.listen.parse().map_err(|_| {
            ConfigError(format!(
                "invalid listen address '{}': expected host:port such as 127.0.0.1:8080",
                server.listen
            ))
        })?;
        if server.default_page_size > server.max_page_size {
            return Err(ConfigError(format!(
                "server.default_page_size ({}) is larger than server.max_page_size ({})",
                server.default_page_size, server.max_page_size
            )));
        }
        if server.max_connections == 0 {
            return Err(ConfigError(
                "max_connections is 0; use at least 1 (it caps how many client connections are open at once)"
                    .to_owned(),
            ));
        }
        if let Some(level) = server.compression_level
            && level > 11
        {
            return Err(ConfigError(format!(
                "server.compression_level is {level}; use 0 (fastest) to 11 (smallest; gzip stops at 9)"
            )));
        }
        let mut config = ServerConfig::from_settings(&self.settings, database, listen);
        config.cursor_secret = self.cursor_secret.as_ref().map(|(secret, _)| secret.clone());
        config.cursor_secret_previous = self.cursor_secret_previous.as_ref().map(|(secret, _)| secret.clone());
        config.auth = super::AuthConfig::checked(&self.settings.auth)?;
        config.auth.jwt_secret = self.jwt_secret.as_ref().map(|(secret, _)| secret.clone());
        Ok(config)
    }
}

impl FileSettings {
    /// The configuration sections of schema-file source text; `file` names it in errors,
    /// which carry the line (an unknown key, a value of the wrong type).
    pub fn parse(source: &str, file: &str) -> Result<FileSettings, oxbase_schema::CheckErrors> {
        toml::from_str(source).map_err(|error| {
            let line = error.span().map(|span| source[..span.start.min(source.len())].matches('\n').count() + 1);
            oxbase_schema::CheckErrors {
                file: file.to_owned(),
                errors: vec![oxbase_schema::CheckError {
                    line,
                    path: String::new(),
                    message: error.message().trim().to_owned(),
                    hint: Some("see docs/schema.md for every key a schema file may hold".into()),
                }],
            }
        })
    }
}
