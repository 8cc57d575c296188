//! The validated schema: the one description of resources, relations and settings that
//! every other layer reads. Everything here has been checked by [`crate::validate`].

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use crate::predicate::{Predicate, UserValue};

/// These configuration sections are kept as the file declares them. `[server]`,
/// `[database]` and `[cache]` are the server's own (`oxbase_server::config`).
pub use crate::file::{RateLimitSection as RateLimitSettings, RealtimeSection as RealtimeSettings};

/// A validated schema file.
#[derive(Debug, Clone)]
pub struct Schema {
    /// Resources by API name, in file order.
    pub resources: IndexMap<String, Resource>,
    /// Which resource holds the accounts people log in with, if any.
    pub accounts: Option<Accounts>,
    /// Roles by name, in file order.
    pub roles: IndexMap<String, Role>,
    /// Real-time settings.
    pub realtime: RealtimeSettings,
    /// Rate-limit settings.
    pub rate_limits: RateLimitSettings,
}

impl Schema {
    /// The resource with this API name.
    pub fn resource(&self, name: &str) -> Option<&Resource> {
        self.resources.get(name)
    }

    /// Every relation that can be embedded from `resource`, as seen from it.
    pub fn relations_of<'a>(&'a self, resource: &'a Resource) -> impl Iterator<Item = Relation> + 'a {
        let to_one = resource.fields.iter().filter_map(move |field| {
            let reference = field.reference.as_ref()?;
            Some(Relation {
                name: reference.resource.clone(),
                target: reference.resource.clone(),
                kind: RelationKind::ManyToOne,
                local_field: field.name.clone(),
                target_field: reference.field.clone(),
            })
        });
        let to_many = self.resources.values().flat_map(move |other| {
            other.fields.iter().filter_map(move |field| {
                let reference = field.reference.as_ref()?;
                if reference.resource != resource.name {
                    return None;
                }
                Some(Relation {
                    name: reference.reverse_name.clone(),
                    target: other.name.clone(),
                    kind: if field.unique { RelationKind::OneToOne } else { RelationKind::OneToMany },
                    local_field: reference.field.clone(),
                    target_field: field.name.clone(),
                })
            })
        });
        to_one.chain(to_many)
    }
}

/// A role and its permissions.
#[derive(Debug, Clone)]
pub struct Role {
    pub name: String,
    pub description: Option<String>,
    pub permissions: Vec<Permission>,
}

/// The resource whose rows are accounts, and its fields that matter to logging in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accounts {
    pub resource: String,
    /// Unique text field a login names.
    pub username_field: String,
    /// Field holding the account's role name.
    pub role_field: String,
    /// Text field holding the password hash: never readable or writable through the API.
    pub password_field: String,
}

/// The role a request without credentials acts in, when the schema declares it.
pub const ANONYMOUS_ROLE: &str = "anonymous";

/// The role `/admin/*` requires.
pub const ADMIN_ROLE: &str = "admin";

/// What a role may do on one resource (or all, when `resource` is `None`).
#[derive(Debug, Clone)]
pub struct Permission {
    pub resource: Option<String>,
    pub actions: Vec<Action>,
    /// The rows the actions apply to; every row when `None`.
    pub filter: Option<Predicate>,
    /// Visible fields (the key always among them); all when `None`.
    pub fields: Option<Vec<String>>,
    /// Fields the role never sees.
    pub hidden: Vec<String>,
    /// Fields the role sees but may not write.
    pub read_only: Vec<String>,
    /// Values the server writes into every row the role creates.
    pub presets: Vec<Preset>,
    /// A rule every written row must satisfy after the write.
    pub check: Option<Predicate>,
}

/// A value the server writes into a field of every row a role creates.
#[derive(Debug, Clone, PartialEq)]
pub struct Preset {
    pub field: String,
    pub value: PresetValue,
}

/// What a preset writes.
#[derive(Debug, Clone, PartialEq)]
pub enum PresetValue {
    /// A fixed value, canonical for the field's type.
    Literal(Literal),
    /// A value of the caller's, typed per request.
    User(UserValue),
}

/// An action a permission grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Read,
    Create,
    Update,
    Delete,
}

impl Action {
    pub const ALL: [Action; 4] = [Action::Read, Action::Create, Action::Update, Action::Delete];

    /// As written in the schema file.
    pub fn name(self) -> &'static str {
        match self {
            Action::Read => "read",
            Action::Create => "create",
            Action::Update => "update",
            Action::Delete => "delete",
        }
    }
}

/// A resource: one table served at `/api/v1/{name}`.
#[derive(Debug, Clone)]
pub struct Resource {
    /// API name.
    pub name: String,
    /// Table name in the database.
    pub table: String,
    pub description: Option<String>,
    /// Fields in declaration order; the primary key `id` is first.
    pub fields: Vec<Field>,
    /// Declared indexes plus the automatic ones (unique fields, foreign keys).
    pub indexes: Vec<Index>,
    /// Whether PATCH/DELETE with no filter are allowed.
    pub allow_unfiltered_writes: bool,
    /// Whether responses reading this resource may be cached.
    pub cache_enabled: bool,
    /// Per-resource cache TTL, overriding `[cache] ttl_seconds`.
    pub cache_ttl_seconds: Option<u64>,
    /// Whether changes are published to real-time subscribers.
    pub realtime: bool,
    /// Whether writes are recorded in the audit trail (`audit = false` opts out).
    pub audit: bool,
    /// Fields whose values the audit trail never records (`audit_exclude`, plus the
    /// accounts' password field).
    pub audit_exclude: Vec<String>,
}

impl Resource {
    /// The field with this name.
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|field| field.name == name)
    }

    /// The primary-key field (always named `id`).
    pub fn primary_key(&self) -> &Field {
        &self.fields[0]
    }
}

/// One field (column) of a resource.
#[derive(Debug, Clone)]
pub struct Field {
    pub name: String,
    pub field_type: FieldType,
    pub description: Option<String>,
    pub primary_key: bool,
    pub nullable: bool,
    pub default: Option<DefaultValue>,
    pub unique: bool,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub min_length: Option<u32>,
    pub max_length: Option<u32>,
    pub pattern: Option<String>,
    /// `pattern`, compiled once for write validation.
    pub pattern_regex: Option<regex::Regex>,
    pub reference: Option<Reference>,
    pub auto: Option<AutoTimestamp>,
    /// Clients may not write it: set only in a role's view of the schema, for the fields
    /// the role sees but may not write and those the server presets.
    pub read_only: bool,
}

impl Field {
    /// Whether a create request must supply this field.
    pub fn required_on_create(&self) -> bool {
        !self.nullable && self.default.is_none() && self.auto.is_none() && !self.primary_key
    }
}

/// The type of a field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    Integer,
    Bigint,
    Float,
    Decimal,
    Boolean,
    Text,
    Enum(Vec<String>),
    Date,
    Timestamp,
    Json,
    Uuid,
}

impl FieldType {
    /// The name used in schema files.
    pub fn name(&self) -> &'static str {
        match self {
            FieldType::Integer => "integer",
            FieldType::Bigint => "bigint",
            FieldType::Float => "float",
            FieldType::Decimal => "decimal",
            FieldType::Boolean => "boolean",
            FieldType::Text => "text",
            FieldType::Enum(_) => "enum",
            FieldType::Date => "date",
            FieldType::Timestamp => "timestamp",
            FieldType::Json => "json",
            FieldType::Uuid => "uuid",
        }
    }

    /// Every type name a schema file may use.
    pub const NAMES: &'static [&'static str] =
        &["integer", "bigint", "float", "decimal", "boolean", "text", "enum", "date", "timestamp", "json", "uuid"];

    /// Whether values of this type are numbers (so min/max apply to the value).
    pub fn is_numeric(&self) -> bool {
        matches!(self, FieldType::Integer | FieldType::Bigint | FieldType::Float | FieldType::Decimal)
    }

    /// Whether values of this type are strings (so length and pattern apply).
    pub fn is_textual(&self) -> bool {
        matches!(self, FieldType::Text | FieldType::Enum(_))
    }
}

/// A literal value in a schema file: a default, or a predicate operand.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Literal {
    Null,
    Boolean(bool),
    Integer(i64),
    Float(f64),
    Text(String),
}

/// A field's default.
#[derive(Debug, Clone, PartialEq)]
pub enum DefaultValue {
    /// A fixed value.
    Literal(Literal),
    /// The current date or timestamp (`default = "now"`).
    Now,
}

/// A timestamp oxbase maintains itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AutoTimestamp {
    /// Set when the row is created.
    Created,
    /// Set when the row is created and on every update.
    Updated,
}

/// A many-to-one reference from a field to another resource's key.
#[derive(Debug, Clone)]
pub struct Reference {
    /// The referenced resource's API name.
    pub resource: String,
    /// The referenced field (its primary key or a unique field).
    pub field: String,
    pub on_delete: OnDelete,
    /// The one-to-many relation's name as seen from the referenced resource.
    pub reverse_name: String,
}

/// What happens to referencing rows when the referenced row is deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnDelete {
    Restrict,
    Cascade,
    SetNull,
    NoAction,
}

impl OnDelete {
    /// The SQL words for this action.
    pub fn sql(self) -> &'static str {
        match self {
            OnDelete::Restrict => "RESTRICT",
            OnDelete::Cascade => "CASCADE",
            OnDelete::SetNull => "SET NULL",
            OnDelete::NoAction => "NO ACTION",
        }
    }
}

/// An index on a resource's table.
#[derive(Debug, Clone)]
pub struct Index {
    pub name: String,
    pub columns: Vec<String>,
    pub unique: bool,
    /// Partial-index condition.
    pub predicate: Option<Predicate>,
}

/// A relation seen from one resource, as used by embedding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relation {
    /// Embedding name (the target resource's name, or the reverse name for one-to-many).
    pub name: String,
    /// The resource embedded.
    pub target: String,
    pub kind: RelationKind,
    /// The column on this side of the join.
    pub local_field: String,
    /// The column on the target's side of the join.
    pub target_field: String,
}

/// The cardinality of a relation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelationKind {
    /// This resource holds the reference (embeds one object or null).
    ManyToOne,
    /// The target holds a unique reference to this resource (embeds one object or null).
    OneToOne,
    /// The target holds a reference to this resource (embeds an array).
    OneToMany,
}
