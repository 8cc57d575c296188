//! The configuration shown to people: the effective settings as TOML with each value's
//! source (`oxbase config`), and the table of every setting in docs/operations.md.

use super::declare::SettingInfo;
use super::resolve::{CURSOR_SECRET_VARIABLES, Config};
use super::secret::REDACTED;
use super::settings::Settings;

/// One row of the settings table besides the declared settings: the binary's own flags.
#[derive(Debug, Clone, Default)]
pub struct TableRow {
    /// The file key (`[server] listen`), or empty.
    pub setting: String,
    /// The flag (`--listen`), or empty.
    pub flag: String,
    /// The environment variable, or empty.
    pub env: String,
    /// The default as shown.
    pub default: String,
    /// What it does.
    pub meaning: String,
}

/// A TOML value as a schema file would write it.
fn toml_text(value: &toml::Value) -> String {
    match value {
        toml::Value::String(text) => serde_json::to_string(text).unwrap_or_default(),
        toml::Value::Integer(number) => number.to_string(),
        toml::Value::Float(number) => number.to_string(),
        toml::Value::Boolean(flag) => flag.to_string(),
        other => format!("{other:?}"),
    }
}

/// Every section's values as TOML tables; a setting left unset is absent.
fn section_tables(settings: &Settings) -> toml::Table {
    match toml::Value::try_from(settings) {
        Ok(toml::Value::Table(table)) => table,
        _ => toml::Table::new(),
    }
}

fn value_text(tables: &toml::Table, info: &SettingInfo) -> Option<String> {
    tables.get(info.section).and_then(|section| section.get(info.key)).map(toml_text)
}

impl Config {
    /// The effective configuration, sections as in the schema file, each value followed by
    /// its source (flag, env, schema file, default); secrets as `[redacted]`. The cursor
    /// secrets, which the file never holds, are comments under `[server]`.
    pub fn to_toml(&self) -> String {
        let tables = section_tables(&self.settings);
        let mut text = String::new();
        for section in Settings::SECTIONS {
            let lines: Vec<(String, String)> = self
                .sources
                .iter()
                .filter(|(info, _)| info.section == *section)
                .map(|(info, source)| match value_text(&tables, info) {
                    Some(value) => (format!("{} = {value}", info.key), source.to_string()),
                    None => (format!("# {} is not set", info.key), source.to_string()),
                })
                .collect();
            let width = lines.iter().map(|(line, _)| line.chars().count()).max().unwrap_or(0);
            text.push_str(&format!("[{section}]\n"));
            for (line, source) in &lines {
                text.push_str(&format!("{line:<width$}  # {source}\n"));
            }
            if *section == "server" {
                let secrets =
                    [("cursor secret", &self.cursor_secret), ("previous cursor secret", &self.cursor_secret_previous)];
                for (name, secret) in secrets {
                    match secret {
                        Some((_, source)) => text.push_str(&format!("# {name}: {REDACTED} (from {source})\n")),
                        None if name == "cursor secret" => {
                            text.push_str(&format!("# {name}: none (a random secret per process)\n"))
                        }
                        None => text.push_str(&format!("# {name}: none\n")),
                    }
                }
            }
            text.push('\n');
        }
        text.pop();
        text
    }
}

/// A cell of a Markdown table: `|` escaped, so `on|off` stays one cell.
fn cell(text: &str) -> String {
    text.replace('|', "\\|")
}

fn code(text: &str) -> String {
    if text.is_empty() { "—".to_owned() } else { format!("`{}`", cell(text)) }
}

/// The table of every setting for docs/operations.md: `leading` rows first (the binary's
/// own flags), then each declared setting, then the variables holding cursor secrets.
pub fn settings_table(leading: &[TableRow]) -> String {
    let defaults = section_tables(&Settings::default());
    let mut rows: Vec<TableRow> = leading.to_vec();
    for info in Settings::all() {
        let default = match (info.shown_default, value_text(&defaults, info)) {
            (Some(shown), _) => shown.to_owned(),
            (None, Some(value)) => format!("`{}`", cell(&value)),
            (None, None) => "none".to_owned(),
        };
        rows.push(TableRow {
            setting: format!("[{}] {}", info.section, info.key),
            flag: format!("--{}", info.flag),
            env: info.env.to_owned(),
            default,
            meaning: info.description(),
        });
    }
    for (variable, meaning) in CURSOR_SECRET_VARIABLES {
        rows.push(TableRow {
            env: variable.to_owned(),
            default: "none".to_owned(),
            meaning: meaning.to_owned(),
            ..TableRow::default()
        });
    }
    let mut table = String::from("| Setting | Flag | Environment | Default | Meaning |\n|---|---|---|---|---|\n");
    for row in rows {
        table.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            code(&row.setting),
            code(&row.flag),
            code(&row.env),
            row.default,
            cell(&row.meaning)
        ));
    }
    table
}
