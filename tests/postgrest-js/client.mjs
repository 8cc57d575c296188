// Drives the real PostgREST JavaScript client (@supabase/postgrest-js) against a running
// oxbase server and prints what it got back, for crates/oxbase/tests/api/postgrest_client.rs
// to compare with SQL on the same database.
//
//   node client.mjs http://127.0.0.1:PORT/api/v1
//
// Prints ONE JSON object on stdout: { "<query name>": { data, error, count, status, request } }
// where `request` is what the client sent (method, URL, headers), so a failing assertion can
// show it. Every request is also logged on stderr as it is sent.

import { PostgrestClient } from '@supabase/postgrest-js';

const base = process.argv[2];
if (!base) {
  console.error('usage: node client.mjs http://127.0.0.1:PORT/api/v1');
  process.exit(2);
}

// The request the query being run sent (the queries run one after another).
let lastRequest = null;

async function recordingFetch(url, init = {}) {
  const headers = { ...(init.headers ?? {}) };
  lastRequest = { method: init.method ?? 'GET', url: String(url), headers };
  console.error(`postgrest-js → ${lastRequest.method} ${lastRequest.url} ${JSON.stringify(headers)}`);
  const response = await fetch(url, init);
  console.error(`postgrest-js ← ${response.status} content-range=${response.headers.get('content-range')}`);
  return response;
}

const client = new PostgrestClient(base, { fetch: recordingFetch });

// Every query: a name and the builder. Keep in step with postgrest_client.rs, which checks
// each name against the same query written in SQL.
const queries = {
  // select
  select_columns: () =>
    client.from('trackers').select('id,production_status,priority').order('id').limit(3),

  // filters (limit 1000 = every tracker, so the whole filtered set comes back)
  filter_eq_and_gte: () =>
    client
      .from('trackers')
      .select('id,production_status,priority')
      .eq('production_status', 'in_progress')
      .gte('priority', 2)
      .order('id')
      .limit(1000),
  filter_in: () =>
    client.from('trackers').select('id,priority').in('priority', [1, 5]).order('id').limit(1000),
  filter_is_null: () =>
    client.from('trackers').select('id,due_date').is('due_date', null).order('id').limit(1000),
  filter_neq: () =>
    client.from('trackers').select('id,qc_status').neq('qc_status', 'not_started').order('id').limit(1000),
  filter_lt_date: () =>
    client.from('trackers').select('id,due_date').lt('due_date', '2025-06-01').order('id').limit(1000),
  filter_like: () =>
    client
      .from('reporting_effort_items')
      .select('id,item_code')
      .like('item_code', '*1*')
      .order('id')
      .limit(1000),
  filter_ilike: () =>
    client
      .from('reporting_effort_items')
      .select('id,title')
      .ilike('title', '*SAFETY population*')
      .order('id')
      .limit(1000),
  filter_not: () =>
    client.from('trackers').select('id,qc_status').not('qc_status', 'eq', 'failed').order('id').limit(1000),
  filter_or: () =>
    client.from('trackers').select('id,priority').or('priority.eq.1,priority.eq.5').order('id').limit(1000),

  // order
  order_due_date_desc_nulls_last: () =>
    client
      .from('trackers')
      .select('id,due_date')
      .order('due_date', { ascending: false, nullsFirst: false })
      .order('id')
      .limit(1000),

  // range
  range_10_to_19: () => client.from('trackers').select('id').order('id').range(10, 19),

  // embedding
  embed_item_and_comments: () =>
    client
      .from('trackers')
      .select('id, item:reporting_effort_items(item_code,title), comments:tracker_comments(id,body)')
      .order('id')
      .limit(20),
  embed_disambiguated_user: () =>
    client
      .from('trackers')
      .select('id, production_programmer_id, users!production_programmer_id(username)')
      .order('id')
      .limit(50),
  embed_many_to_many_tags: () =>
    client.from('trackers').select('id, tracker_tags(name)').order('id').limit(50),
  embed_nested_replies: () =>
    client
      .from('trackers')
      .select('id, tracker_comments(id, replies(id))')
      .order('id')
      .order('id', { referencedTable: 'tracker_comments', ascending: false })
      .limit(20),
  embed_inner_item_filter: () =>
    client
      .from('trackers')
      .select('id, item:reporting_effort_items!inner(item_code,item_type)')
      .eq('item.item_type', 'Dataset')
      .order('id')
      .limit(1000),
  embed_inner_comments_filter: () =>
    client
      .from('trackers')
      .select('id, comments:tracker_comments!inner(id,comment_type)')
      .eq('comments.comment_type', 'biostat')
      .order('id')
      .limit(1000),
  embed_filter_without_inner: () =>
    client
      .from('trackers')
      .select('id, comments:tracker_comments(id,is_resolved)')
      .eq('comments.is_resolved', false)
      .order('id')
      .limit(20),

  // count
  count_exact: () =>
    client
      .from('trackers')
      .select('id', { count: 'exact' })
      .eq('production_status', 'completed')
      .order('id')
      .limit(5),
  count_exact_head: () =>
    client
      .from('trackers')
      .select('*', { count: 'exact', head: true })
      .eq('production_status', 'on_hold'),

  // one row
  single: () => client.from('trackers').select('id,priority,production_status').eq('id', 5).single(),
  maybe_single_missing: () => client.from('trackers').select('id').eq('id', 999999).maybeSingle(),

  // errors
  error_unknown_column: () => client.from('trackers').select('id,no_such_column'),

  // writes, last, so the reads above see the seeded data. Bulk insert and upsert send
  // ?columns="…" (every key of every row); defaultToNull: false adds Prefer: missing=default.
  insert_bulk_missing_default: () =>
    client
      .from('tracker_tags')
      .insert([{ name: 'js-a', color: '#111111' }, { name: 'js-b' }], { defaultToNull: false })
      .select('name,color'),
  insert_bulk_missing_null: () =>
    client.from('tracker_tags').insert([{ name: 'js-d', color: '#444444' }, { name: 'js-e' }]).select('name,color'),
  upsert_bulk: () =>
    client
      .from('tracker_tags')
      .upsert([{ name: 'js-a', color: '#222222' }, { name: 'js-c', color: '#333333' }], { onConflict: 'name' })
      .select('name,color'),
};

const results = {};
for (const [name, query] of Object.entries(queries)) {
  lastRequest = null;
  try {
    const { data, error, count, status } = await query();
    results[name] = { data, error, count, status, request: lastRequest };
  } catch (thrown) {
    // postgrest-js does not throw unless asked to; record it rather than lose the others.
    results[name] = { data: null, error: { thrown: String(thrown) }, count: null, status: 0, request: lastRequest };
  }
}
process.stdout.write(JSON.stringify(results) + '\n');
