//! Triggers that audit writes made outside oxbase (psql, another program), with actor
//! `external` and the database role.
//!
//! Each audited resource table gets three statement-level triggers (`AFTER INSERT`,
//! `UPDATE`, `DELETE`, each with its transition tables, which PostgreSQL allows for one
//! event per trigger). They skip oxbase's own sessions (`oxbase.writer = on`), which audit
//! themselves, and transactions that `SET LOCAL oxbase.audit = 'off'` (seeding an example). The function builds the records from the transition tables (inserted rows'
//! values, changed fields before and after joined by key, deleted rows' values; excluded
//! fields left out), locks the chain's head, and appends one batch whose hash is computed
//! exactly as [`crate::audit::chain`] computes it: the canonical JSON is built by hand
//! with `to_json(text)`, whose escaping is serde_json's, so `oxbase audit verify` checks
//! these batches like any other. The batch's role is the database role, its `api_key`
//! `external`, its client address the session's and its user agent the session's
//! `application_name`. An update that changes a row's key is not recorded.

use oxbase_schema::Schema;
use oxbase_schema::dialect::{Dialect, quote_string};

/// The function's name, and the triggers' prefix.
const NAME: &str = "_oxbase_external_audit";

/// What the function runs to collect one statement's records, per operation.
const INSERTED: &str = "SELECT n.\"id\"::text AS record_id, (SELECT coalesce(jsonb_object_agg(e.key, jsonb_build_array(NULL::jsonb, e.value)), '{}'::jsonb) FROM jsonb_each(to_jsonb(n)) e WHERE e.key <> 'id' AND NOT e.key = ANY(excluded))::text AS changes FROM new_rows n";
const DELETED: &str = "SELECT o.\"id\"::text AS record_id, (SELECT coalesce(jsonb_object_agg(e.key, jsonb_build_array(e.value, NULL::jsonb)), '{}'::jsonb) FROM jsonb_each(to_jsonb(o)) e WHERE e.key <> 'id' AND NOT e.key = ANY(excluded))::text AS changes FROM old_rows o";
const UPDATED: &str = "SELECT n.\"id\"::text AS record_id, (SELECT coalesce(jsonb_object_agg(ne.key, jsonb_build_array(oe.value, ne.value)), '{}'::jsonb) FROM jsonb_each(to_jsonb(n)) ne JOIN jsonb_each(to_jsonb(o)) oe ON oe.key = ne.key WHERE ne.key <> 'id' AND NOT ne.key = ANY(excluded) AND oe.value IS DISTINCT FROM ne.value)::text AS changes FROM new_rows n JOIN old_rows o ON o.\"id\" = n.\"id\"";

/// The function, then per resource: its triggers (audited) or their removal (`audit = false`).
pub fn statements(schema: &Schema) -> Vec<String> {
    let collect = |query: &str| {
        format!(
            "INSERT INTO \"_oxbase_audit_records\" (\"batch_id\", \"position\", \"resource\", \"record_id\", \"action\", \"changes\")
    SELECT new_batch, (row_number() OVER (ORDER BY r.record_id) - 1)::integer, TG_ARGV[0], r.record_id, op_name, r.changes FROM ({query}) r;"
        )
    };
    let function = format!(
        "CREATE OR REPLACE FUNCTION \"{NAME}\"() RETURNS trigger LANGUAGE plpgsql AS $oxbase$
DECLARE
  excluded text[] := string_to_array(TG_ARGV[1], ',');
  op_name text := lower(TG_OP);
  head_id bigint;
  head_hash text;
  new_batch bigint;
  at_ms bigint := (extract(epoch FROM clock_timestamp()) * 1000)::bigint;
  records_text text;
  record_total bigint;
  canonical text;
  new_hash text;
BEGIN
  IF current_setting('oxbase.writer', true) = 'on' OR current_setting('oxbase.audit', true) = 'off' THEN
    RETURN NULL;
  END IF;
  -- A statement that wrote no rows records nothing and leaves the head alone.
  IF TG_OP = 'DELETE' THEN
    IF NOT EXISTS (SELECT 1 FROM old_rows) THEN
      RETURN NULL;
    END IF;
  ELSIF NOT EXISTS (SELECT 1 FROM new_rows) THEN
    RETURN NULL;
  END IF;
  SELECT \"last_id\", \"last_hash\" INTO head_id, head_hash FROM \"_oxbase_audit_head\" WHERE \"id\" = 1 FOR UPDATE;
  new_batch := head_id + 1;
  IF TG_OP = 'INSERT' THEN
    {inserted}
  ELSIF TG_OP = 'UPDATE' THEN
    {updated}
  ELSE
    {deleted}
  END IF;
  SELECT string_agg('[' || \"position\" || ',' || to_json(\"resource\")::text || ',' || to_json(\"record_id\")::text || ',' || to_json(\"action\")::text || ',' || to_json(\"changes\")::text || ']', ',' ORDER BY \"position\"), count(*)
    INTO records_text, record_total FROM \"_oxbase_audit_records\" WHERE \"batch_id\" = new_batch;
  IF record_total = 0 THEN
    RETURN NULL;
  END IF;
  canonical := '[' || new_batch || ',' || at_ms || ',null,' || to_json(current_user::text)::text || ',\"external\",null,'
    || coalesce(to_json(host(inet_client_addr()))::text, 'null') || ','
    || coalesce(to_json(nullif(current_setting('application_name', true), ''))::text, 'null') || ','
    || to_json(op_name)::text || ',' || to_json(TG_ARGV[0])::text || ',' || record_total || ',[' || records_text || ']]';
  new_hash := encode(sha256(convert_to(head_hash || E'\\n' || canonical, 'UTF8')), 'hex');
  INSERT INTO \"_oxbase_audit_batches\" (\"id\", \"at\", \"actor_id\", \"role\", \"api_key\", \"request_id\", \"client_ip\", \"user_agent\", \"action\", \"resource\", \"row_count\", \"prev_hash\", \"hash\")
    VALUES (new_batch, at_ms, NULL, current_user::text, 'external', NULL, host(inet_client_addr()), nullif(current_setting('application_name', true), ''), op_name, TG_ARGV[0], record_total, head_hash, new_hash);
  UPDATE \"_oxbase_audit_head\" SET \"last_id\" = new_batch, \"last_hash\" = new_hash WHERE \"id\" = 1;
  RETURN NULL;
END
$oxbase$",
        inserted = collect(INSERTED),
        updated = collect(UPDATED),
        deleted = collect(DELETED),
    );
    let mut statements = vec![function];
    for resource in schema.resources.values() {
        let table = Dialect::Postgres.quote(&resource.table);
        for (event, suffix, referencing) in [
            ("INSERT", "insert", "NEW TABLE AS new_rows"),
            ("UPDATE", "update", "OLD TABLE AS old_rows NEW TABLE AS new_rows"),
            ("DELETE", "delete", "OLD TABLE AS old_rows"),
        ] {
            let trigger = format!("\"{NAME}_{suffix}\"");
            statements.push(if resource.audit {
                format!(
                    "CREATE OR REPLACE TRIGGER {trigger} AFTER {event} ON {table} REFERENCING {referencing} FOR EACH STATEMENT EXECUTE FUNCTION \"{NAME}\"({resource}, {excluded})",
                    resource = quote_string(&resource.name),
                    excluded = quote_string(&resource.audit_exclude.join(",")),
                )
            } else {
                format!("DROP TRIGGER IF EXISTS {trigger} ON {table}")
            });
        }
    }
    statements
}
