//! The `settings!` macro: one declaration per setting (name, type, default, doc comment,
//! flag, environment variable; the file key is the name) becomes the resolved section
//! struct, its file form (serde, unknown keys refused), its flag form (clap, with `env`),
//! the layering of the three, and the metadata the settings table is rendered from.

use std::path::PathBuf;

use super::secret::SecretUrl;
use super::settings::ExternalWrites;

/// How a setting is typed in the file and on the command line: the setting's own type,
/// or `T` for an `Option<T>` setting that may stay unset.
pub trait SettingType {
    /// The type a flag, a variable or a file key holds.
    type Value;
    /// The setting's value from a given one.
    fn from_value(value: Self::Value) -> Self;
}

macro_rules! plain_setting_types {
    ($($type:ty),*) => {
        $(impl SettingType for $type {
            type Value = $type;
            fn from_value(value: $type) -> $type {
                value
            }
        })*
    };
}

plain_setting_types!(bool, u32, u64, usize, String, PathBuf, ExternalWrites, SecretUrl);

impl<T> SettingType for Option<T> {
    type Value = T;
    fn from_value(value: T) -> Option<T> {
        Some(value)
    }
}

/// What is known about one setting without a value: the row of the settings table.
#[derive(Debug, Clone, Copy)]
pub struct SettingInfo {
    /// The file section: `server`, `database` or `cache`.
    pub section: &'static str,
    /// The key in that section.
    pub key: &'static str,
    /// The long flag, without `--`.
    pub flag: &'static str,
    /// The environment variable.
    pub env: &'static str,
    /// The doc comment's lines: the `--help` text and the table's description.
    pub doc: &'static [&'static str],
    /// How the table shows the default when the built-in value alone would mislead (a
    /// value computed on this machine, or one that depends on other settings).
    pub shown_default: Option<&'static str>,
}

impl SettingInfo {
    /// The doc comment as one paragraph.
    pub fn description(&self) -> String {
        self.doc.iter().map(|line| line.trim()).filter(|line| !line.is_empty()).collect::<Vec<_>>().join(" ")
    }
}

/// Where a setting's effective value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The built-in default.
    Default,
    /// The schema file.
    File,
    /// An environment variable.
    Environment(&'static str),
    /// A command-line flag.
    Flag(&'static str),
}

impl std::fmt::Display for Source {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Default => formatter.write_str("default"),
            Source::File => formatter.write_str("schema file"),
            Source::Environment(variable) => write!(formatter, "env {variable}"),
            Source::Flag(flag) => write!(formatter, "flag --{flag}"),
        }
    }
}

/// Whether a flag-layer value came from the command line or its environment variable:
/// clap fills one field from either, and only its `ArgMatches` knows which.
pub fn flag_layer_source(matches: Option<&clap::ArgMatches>, id: &str, info: &SettingInfo) -> Source {
    let from_environment =
        matches.and_then(|matches| matches.value_source(id)) == Some(clap::parser::ValueSource::EnvVariable);
    if from_environment { Source::Environment(info.env) } else { Source::Flag(info.flag) }
}

/// Declares the settings; see the module doc. Each section is
/// `[name] Resolved, File, Flags, "help heading" { settings }`, each setting
/// `/// doc` `key: Type = default, flag "name", env "NAME" [, shown "…"] [, arg(clap …)];`.
macro_rules! settings {
    (@shown) => { None };
    (@shown $shown:literal) => { Some($shown) };
    ($(
        $(#[doc = $section_doc:literal])*
        [$section:ident] $Resolved:ident, $File:ident, $Flags:ident, $heading:literal {
            $(
                $(#[doc = $doc:literal])*
                $key:ident: $type:ty = $default:expr,
                    flag $flag:literal, env $env:literal
                    $(, shown $shown:literal)?
                    $(, arg($($argument:tt)*))?
                ;
            )*
        }
    )*) => {
        $(
            $(#[doc = $section_doc])*
            #[derive(Debug, Clone, PartialEq, serde::Serialize)]
            pub struct $Resolved {
                $($(#[doc = $doc])* pub $key: $type,)*
            }

            impl Default for $Resolved {
                fn default() -> $Resolved {
                    $Resolved { $($key: $default,)* }
                }
            }

            #[doc = concat!("`[", stringify!($section), "]` as the file writes it: every key optional, unknown keys refused.")]
            #[derive(Debug, Clone, Default, serde::Deserialize)]
            #[serde(deny_unknown_fields)]
            pub struct $File {
                $($(#[doc = $doc])* pub $key: Option<<$type as $crate::config::declare::SettingType>::Value>,)*
            }

            #[doc = concat!("`[", stringify!($section), "]` as flags and environment variables.")]
            #[derive(Debug, Clone, Default, clap::Args)]
            #[command(next_help_heading = $heading)]
            pub struct $Flags {
                $(
                    $(#[doc = $doc])*
                    #[arg(long = $flag, env = $env $(, $($argument)*)?)]
                    pub $key: Option<<$type as $crate::config::declare::SettingType>::Value>,
                )*
            }

            impl $Resolved {
                /// Every setting of the section, in declaration order.
                pub const SETTINGS: &'static [$crate::config::declare::SettingInfo] = &[$(
                    $crate::config::declare::SettingInfo {
                        section: stringify!($section),
                        key: stringify!($key),
                        flag: $flag,
                        env: $env,
                        doc: &[$($doc),*],
                        shown_default: settings!(@shown $($shown)?),
                    },
                )*];

                /// Flag (or its variable) > file > default, key by key, with where each
                /// value came from.
                fn layered(
                    flags: &$Flags,
                    matches: Option<&clap::ArgMatches>,
                    file: &$File,
                    sources: &mut Vec<(&'static $crate::config::declare::SettingInfo, $crate::config::declare::Source)>,
                ) -> $Resolved {
                    use $crate::config::declare::{SettingType, Source, flag_layer_source};
                    let mut resolved = $Resolved::default();
                    let mut infos = $Resolved::SETTINGS.iter();
                    $(
                        let info = infos.next().expect("one info per setting");
                        let source = if let Some(value) = flags.$key.clone() {
                            resolved.$key = SettingType::from_value(value);
                            flag_layer_source(matches, stringify!($key), info)
                        } else if let Some(value) = file.$key.clone() {
                            resolved.$key = SettingType::from_value(value);
                            Source::File
                        } else {
                            Source::Default
                        };
                        sources.push((info, source));
                    )*
                    resolved
                }
            }
        )*

        /// Every section's settings, resolved.
        #[derive(Debug, Clone, PartialEq, Default, serde::Serialize)]
        pub struct Settings {
            $($(#[doc = $section_doc])* pub $section: $Resolved,)*
        }

        /// The configuration sections of a schema file. Other top-level keys belong to the
        /// schema, which refuses unknown ones itself.
        #[derive(Debug, Clone, Default, serde::Deserialize)]
        pub struct FileSettings {
            $($(#[doc = $section_doc])* #[serde(default)] pub $section: $File,)*
        }

        /// Every setting as a flag with its `OXBASE_…` variable.
        #[derive(Debug, Clone, Default, clap::Args)]
        pub struct SettingFlags {
            $(#[command(flatten)] pub $section: $Flags,)*
        }

        impl Settings {
            /// Every setting, section by section, in declaration order.
            pub fn all() -> impl Iterator<Item = &'static $crate::config::declare::SettingInfo> {
                [$($Resolved::SETTINGS),*].into_iter().flatten()
            }

            /// The section names, in file order.
            pub const SECTIONS: &'static [&'static str] = &[$(stringify!($section)),*];

            /// Layers flags (or their variables) over the file over the defaults.
            pub(crate) fn layered(
                flags: &SettingFlags,
                matches: Option<&clap::ArgMatches>,
                file: &FileSettings,
            ) -> (Settings, Vec<(&'static $crate::config::declare::SettingInfo, $crate::config::declare::Source)>) {
                let mut sources = Vec::new();
                let settings = Settings {
                    $($section: $Resolved::layered(&flags.$section, matches, &file.$section, &mut sources),)*
                };
                (settings, sources)
            }
        }
    };
}

pub(crate) use settings;
