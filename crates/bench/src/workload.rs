//! The pearl workload (shared/examples.md, S1–S10): each scenario's request shape, and the
//! requests themselves with ids and filters drawn per request from a seeded random stream
//! over the ranges the database really holds.
//!
//! A generated [`BenchRequest`] carries both what goes over HTTP and, for reads, what the
//! planner sees ([`ReadRequest`]), so the database limit runs exactly the SQL the server
//! would run for the same request.

use fastrand::Rng;
use oxbase_query::plan::ReadOptions;
use oxbase_schema::model::Literal;

/// What a scenario exercises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `GET` requests; the database limit applies.
    Read,
    /// `PATCH` requests.
    Write,
    /// A WebSocket subscriber.
    Realtime,
}

/// One row of the workload table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scenario {
    /// `S1`…`S10`, with a suffix for scenarios measured in two variants (`S4-cursor`).
    pub id: &'static str,
    /// The workload table's number (`S4` for both of its variants).
    pub group: &'static str,
    pub name: &'static str,
    /// The request, as the report shows it.
    pub shape: &'static str,
    pub kind: Kind,
    /// Which server answers and with whose credentials.
    pub access: Access,
    /// The scenario whose requests this one sends: its own id, but for the access variants
    /// (`S1-access` sends S1's requests, drawn from the same random streams).
    pub requests: &'static str,
}

/// Access control in a scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// The server serving the schema without `[accounts]` and roles: no credentials, no
    /// rules.
    Off,
    /// A second server serving the full schema (roles on), every request carrying the
    /// access token of the viewer account ([`VIEWER`]).
    Viewer,
}

/// The account the access variants log in as: the pearl example's viewer, who may read
/// every resource (`resource = "*"`), so the access variants answer exactly what the plain
/// ones do and the difference is the cost of the rules.
pub const VIEWER: &str = "viewer1";

/// The embedding of S3 and S8: a programmer's screen of trackers.
pub const LIST_WITH_RELATIONS_SELECT: &str = "id,production_status,qc_status,priority,due_date,\
item:reporting_effort_items(item_code,title),\
programmer:users!production_programmer_id(username),\
qc:users!qc_programmer_id(username),\
comments:tracker_comments(*)";

/// The embedding of S10: the tracker grid of one effort.
pub const TRACKER_GRID_SELECT: &str = "id,production_status,qc_status,priority,due_date,\
item:reporting_effort_items(item_code,item_type,title),\
programmer:users!production_programmer_id(username),\
qc:users!qc_programmer_id(username),\
tags:tracker_tags(name,color)";

/// Rows a deep page starts at (S4), when the data set is large enough.
pub const DEEP_OFFSET: u64 = 50_000;
/// Trackers one S7 request updates.
pub const BULK_ROWS: usize = 1_000;
/// Page size of S2, S3 and S4.
pub const PAGE: u32 = 50;

/// Every scenario, in report order.
pub const SCENARIOS: &[Scenario] = &[
    Scenario {
        id: "S1",
        group: "S1",
        name: "point read",
        shape: "GET /api/v1/trackers/{id}",
        kind: Kind::Read,
        access: Access::Off,
        requests: "S1",
    },
    Scenario {
        id: "S1-access",
        group: "S1",
        name: "point read, access on",
        shape: "S1 as viewer1 (Authorization: Bearer {token}) on the server with roles",
        kind: Kind::Read,
        access: Access::Viewer,
        requests: "S1",
    },
    Scenario {
        id: "S2",
        group: "S2",
        name: "filtered list",
        shape: "GET /api/v1/trackers?production_status=eq.{status}&priority=gte.2&order=due_date&limit=50",
        kind: Kind::Read,
        access: Access::Off,
        requests: "S2",
    },
    Scenario {
        id: "S3",
        group: "S3",
        name: "list with relations",
        shape: "GET /api/v1/trackers?select=…item,programmer,qc,comments(*)&reporting_effort_id=eq.{effort}&limit=50",
        kind: Kind::Read,
        access: Access::Off,
        requests: "S3",
    },
    Scenario {
        id: "S3-access",
        group: "S3",
        name: "list with relations, access on",
        shape: "S3 as viewer1 (Authorization: Bearer {token}) on the server with roles",
        kind: Kind::Read,
        access: Access::Viewer,
        requests: "S3",
    },
    Scenario {
        id: "S4-offset",
        group: "S4",
        name: "deep page by offset",
        shape: "GET /api/v1/trackers?priority=gte.2&order=due_date&limit=50&offset={~50000}",
        kind: Kind::Read,
        access: Access::Off,
        requests: "S4-offset",
    },
    Scenario {
        id: "S4-cursor",
        group: "S4",
        name: "deep page by cursor",
        shape: "GET /api/v1/trackers?priority=gte.2&order=due_date&limit=50&after={cursor at ~50000}",
        kind: Kind::Read,
        access: Access::Off,
        requests: "S4-cursor",
    },
    Scenario {
        id: "S5",
        group: "S5",
        name: "dashboard aggregate",
        shape: "GET /api/v1/trackers?select=production_status,count()&reporting_effort_id=eq.{effort}",
        kind: Kind::Read,
        access: Access::Off,
        requests: "S5",
    },
    Scenario {
        id: "S6",
        group: "S6",
        name: "single write",
        shape: "PATCH /api/v1/trackers?id=eq.{id} {\"production_status\":…}",
        kind: Kind::Write,
        access: Access::Off,
        requests: "S6",
    },
    Scenario {
        id: "S7",
        group: "S7",
        name: "bulk write",
        shape: "PATCH /api/v1/trackers [1,000 × {\"id\",\"production_status\"}]",
        kind: Kind::Write,
        access: Access::Off,
        requests: "S7",
    },
    Scenario {
        id: "S8-hot",
        group: "S8",
        name: "repeated read",
        shape: "S3 on 4 hot efforts",
        kind: Kind::Read,
        access: Access::Off,
        requests: "S8-hot",
    },
    Scenario {
        id: "S8-conditional",
        group: "S8",
        name: "conditional read",
        shape: "S8 with If-None-Match: {etag}",
        kind: Kind::Read,
        access: Access::Off,
        requests: "S8-conditional",
    },
    Scenario {
        id: "S9",
        group: "S9",
        name: "live update",
        shape: "WebSocket subscriber to one effort receives S6's change",
        kind: Kind::Realtime,
        access: Access::Off,
        requests: "S9",
    },
    Scenario {
        id: "S10",
        group: "S10",
        name: "tracker grid",
        shape: "GET /api/v1/trackers?select=…item,programmer,qc,tags&reporting_effort_id=eq.{big effort}&limit=10000",
        kind: Kind::Read,
        access: Access::Off,
        requests: "S10",
    },
];

/// The scenarios a `--scenario` list names (all when empty); an unknown name is an error.
pub fn select_scenarios(names: &[String]) -> Result<Vec<&'static Scenario>, String> {
    if names.is_empty() {
        return Ok(SCENARIOS.iter().collect());
    }
    let mut chosen: Vec<&'static Scenario> = Vec::new();
    for name in names.iter().map(|name| name.trim()).filter(|name| !name.is_empty()) {
        let matching: Vec<&'static Scenario> = SCENARIOS
            .iter()
            .filter(|scenario| scenario.id.eq_ignore_ascii_case(name) || scenario.group.eq_ignore_ascii_case(name))
            .collect();
        if matching.is_empty() {
            let known: Vec<&str> = SCENARIOS.iter().map(|scenario| scenario.id).collect();
            return Err(format!("unknown scenario '{name}' (known: {})", known.join(", ")));
        }
        for scenario in matching {
            if !chosen.iter().any(|already| already.id == scenario.id) {
                chosen.push(scenario);
            }
        }
    }
    chosen.sort_by_key(|scenario| SCENARIOS.iter().position(|known| known.id == scenario.id));
    Ok(chosen)
}

/// One deep page (S4): its offset, the server's cursor for the same position, and the
/// keyset values that cursor carries (for the database limit).
#[derive(Debug, Clone, PartialEq)]
pub struct DeepPage {
    pub offset: u64,
    pub cursor: Option<String>,
    pub after: Vec<Literal>,
}

/// What the requests are drawn from: ranges and facts read from the database and the server.
#[derive(Debug, Clone, PartialEq)]
pub struct Fixture {
    /// Smallest and largest tracker id.
    pub tracker_ids: (i64, i64),
    /// Smallest and largest reporting-effort id.
    pub effort_ids: (i64, i64),
    /// The effort with the most trackers (S10).
    pub big_effort: i64,
    /// The values of `trackers.production_status`.
    pub statuses: Vec<String>,
    /// The few efforts S8 reads over and over.
    pub hot_efforts: Vec<i64>,
    /// The ETag of S8's request for each hot effort, when the server sends one.
    pub hot_etags: Vec<Option<String>>,
    /// Deep pages of S4.
    pub deep_pages: Vec<DeepPage>,
    /// The [`VIEWER`]'s access token on the server with roles, once logged in (the access
    /// variants send it).
    pub viewer_token: Option<String>,
}

/// An HTTP method the workload uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Patch,
    /// Only to log in (no scenario posts).
    Post,
}

/// What the planner sees of a read: the resource, its parameters and header options.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadRequest {
    pub resource: String,
    pub parameters: Vec<(String, String)>,
    pub options: ReadOptions,
    /// The keyset position a cursor stands for (set on the plan directly: cursors are
    /// signed with the server's secret).
    pub after: Option<Vec<Literal>>,
}

/// One request of the workload.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchRequest {
    pub method: Method,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub headers: Vec<(&'static str, String)>,
    pub body: Option<String>,
    /// For reads: the same request as the planner sees it.
    pub read: Option<ReadRequest>,
}

impl BenchRequest {
    fn get(path: &str, query: Vec<(String, String)>) -> BenchRequest {
        let resource = path.trim_start_matches("/api/v1/").split('/').next().unwrap_or_default().to_owned();
        BenchRequest {
            method: Method::Get,
            path: path.to_owned(),
            read: Some(ReadRequest {
                resource,
                parameters: query.clone(),
                options: ReadOptions::default(),
                after: None,
            }),
            query,
            headers: Vec::new(),
            body: None,
        }
    }

    /// The request target: path and percent-encoded query.
    pub fn target(&self) -> String {
        if self.query.is_empty() {
            return self.path.clone();
        }
        let mut query = form_urlencoded::Serializer::new(String::new());
        for (name, value) in &self.query {
            query.append_pair(name, value);
        }
        format!("{}?{}", self.path, query.finish())
    }
}

fn pair(name: &str, value: impl Into<String>) -> (String, String) {
    (name.to_owned(), value.into())
}

fn between(rng: &mut Rng, (low, high): (i64, i64)) -> i64 {
    rng.i64(low..=high.max(low))
}

fn pick<'a, T>(rng: &mut Rng, values: &'a [T]) -> Option<&'a T> {
    (!values.is_empty()).then(|| &values[rng.usize(..values.len())])
}

/// The S3 request for one effort (S8 reads the same shape).
pub fn list_with_relations(effort: i64) -> BenchRequest {
    BenchRequest::get(
        "/api/v1/trackers",
        vec![
            pair("select", LIST_WITH_RELATIONS_SELECT),
            pair("reporting_effort_id", format!("eq.{effort}")),
            pair("limit", PAGE.to_string()),
        ],
    )
}

/// The parameters of S4's deep page, before `offset` or `after`.
pub fn deep_page_parameters() -> Vec<(String, String)> {
    vec![pair("priority", "gte.2"), pair("order", "due_date"), pair("limit", PAGE.to_string())]
}

/// The request at a deep offset (S4 by offset; also how the harness learns the cursor).
pub fn deep_page_by_offset(offset: u64) -> BenchRequest {
    let mut query = deep_page_parameters();
    query.push(pair("offset", offset.to_string()));
    BenchRequest::get("/api/v1/trackers", query)
}

/// Draws the next request of `scenario`; `None` when the fixture cannot make one (an S4
/// cursor the server did not give, an S8 ETag it does not send, an access variant's token
/// before logging in) or the scenario has no HTTP request (S9).
pub fn generate(scenario: &Scenario, fixture: &Fixture, rng: &mut Rng) -> Option<BenchRequest> {
    let mut request = plain_request(scenario.requests, fixture, rng)?;
    if scenario.access == Access::Viewer {
        request.headers.push(("authorization", format!("Bearer {}", fixture.viewer_token.as_deref()?)));
    }
    Some(request)
}

/// The request of the scenario `id` without credentials.
fn plain_request(id: &str, fixture: &Fixture, rng: &mut Rng) -> Option<BenchRequest> {
    let request = match id {
        "S1" => {
            let id = between(rng, fixture.tracker_ids);
            let mut request = BenchRequest::get(&format!("/api/v1/trackers/{id}"), Vec::new());
            let read = request.read.as_mut().expect("a read");
            read.parameters.push(pair("id", format!("eq.{id}")));
            read.options.single_object = true;
            request
        }
        "S2" => BenchRequest::get(
            "/api/v1/trackers",
            vec![
                pair("production_status", format!("eq.{}", pick(rng, &fixture.statuses)?)),
                pair("priority", "gte.2"),
                pair("order", "due_date"),
                pair("limit", PAGE.to_string()),
            ],
        ),
        "S3" => list_with_relations(between(rng, fixture.effort_ids)),
        "S4-offset" => deep_page_by_offset(pick(rng, &fixture.deep_pages)?.offset),
        "S4-cursor" => {
            let page = pick(rng, &fixture.deep_pages)?;
            let mut request = BenchRequest::get("/api/v1/trackers", deep_page_parameters());
            request.query.push(pair("after", page.cursor.clone()?));
            request.read.as_mut().expect("a read").after = Some(page.after.clone());
            request
        }
        "S5" => BenchRequest::get(
            "/api/v1/trackers",
            vec![
                pair("select", "production_status,count()"),
                pair("reporting_effort_id", format!("eq.{}", between(rng, fixture.effort_ids))),
            ],
        ),
        "S6" => {
            let id = between(rng, fixture.tracker_ids);
            let status = pick(rng, &fixture.statuses)?;
            BenchRequest {
                method: Method::Patch,
                path: "/api/v1/trackers".to_owned(),
                query: vec![pair("id", format!("eq.{id}"))],
                headers: vec![("content-type", "application/json".to_owned()), ("prefer", "return=minimal".to_owned())],
                body: Some(serde_json::json!({ "production_status": status }).to_string()),
                read: None,
            }
        }
        "S7" => {
            let (low, high) = fixture.tracker_ids;
            let rows = BULK_ROWS as i64;
            let first = rng.i64(low..=(high - rows + 1).max(low));
            let mut body = Vec::with_capacity(BULK_ROWS);
            for id in first..(first + rows).min(high + 1) {
                body.push(serde_json::json!({ "id": id, "production_status": pick(rng, &fixture.statuses)? }));
            }
            BenchRequest {
                method: Method::Patch,
                path: "/api/v1/trackers".to_owned(),
                query: Vec::new(),
                headers: vec![("content-type", "application/json".to_owned()), ("prefer", "return=minimal".to_owned())],
                body: Some(serde_json::Value::Array(body).to_string()),
                read: None,
            }
        }
        "S8-hot" => list_with_relations(*pick(rng, &fixture.hot_efforts)?),
        "S8-conditional" => {
            if fixture.hot_efforts.is_empty() {
                return None;
            }
            let index = rng.usize(..fixture.hot_efforts.len());
            let mut request = list_with_relations(fixture.hot_efforts[index]);
            request.headers.push(("if-none-match", fixture.hot_etags.get(index).cloned().flatten()?));
            request
        }
        "S10" => BenchRequest::get(
            "/api/v1/trackers",
            vec![
                pair("select", TRACKER_GRID_SELECT),
                pair("reporting_effort_id", format!("eq.{}", fixture.big_effort)),
                pair("limit", "10000"),
            ],
        ),
        _ => return None,
    };
    Some(request)
}

/// The random stream of one worker of one scenario: the same seed replays the same requests,
/// and an access variant draws the same requests as its plain scenario.
pub fn worker_rng(seed: u64, scenario: &Scenario, worker: usize) -> Rng {
    let mut mixed = seed ^ 0x9e37_79b9_7f4a_7c15;
    for byte in scenario.requests.bytes().chain(worker.to_le_bytes()) {
        mixed = (mixed ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    Rng::with_seed(mixed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture() -> Fixture {
        Fixture {
            tracker_ids: (1, 100_000),
            effort_ids: (1, 200),
            big_effort: 1,
            statuses: vec!["not_started".into(), "in_progress".into(), "completed".into(), "on_hold".into()],
            hot_efforts: vec![3, 5, 7, 11],
            hot_etags: vec![Some("\"a\"".into()), Some("\"b\"".into()), Some("\"c\"".into()), Some("\"d\"".into())],
            deep_pages: vec![DeepPage {
                offset: 50_000,
                cursor: Some("abc.def".into()),
                after: vec![Literal::Text("2027-01-01".into()), Literal::Integer(7)],
            }],
            viewer_token: Some("header.claims.signature".into()),
        }
    }

    fn scenario(id: &str) -> &'static Scenario {
        SCENARIOS.iter().find(|scenario| scenario.id == id).unwrap()
    }

    #[test]
    fn the_same_seed_replays_the_same_requests() {
        let fixture = fixture();
        for scenario in SCENARIOS {
            let draw = |seed: u64, worker: usize| -> Vec<Option<BenchRequest>> {
                let mut rng = worker_rng(seed, scenario, worker);
                (0..20).map(|_| generate(scenario, &fixture, &mut rng)).collect()
            };
            assert_eq!(draw(7, 3), draw(7, 3), "{}", scenario.id);
            if matches!(scenario.id, "S1" | "S3" | "S6" | "S7") {
                assert_ne!(draw(7, 3), draw(7, 4), "{}: workers draw different requests", scenario.id);
                assert_ne!(draw(7, 3), draw(8, 3), "{}: seeds draw different requests", scenario.id);
            }
        }
    }

    #[test]
    fn ids_and_filters_stay_in_the_fixture_ranges() {
        let fixture = fixture();
        let mut rng = Rng::with_seed(1);
        let mut efforts = std::collections::BTreeSet::new();
        for _ in 0..2_000 {
            let request = generate(scenario("S3"), &fixture, &mut rng).unwrap();
            let effort: i64 = request.query[1].1.strip_prefix("eq.").unwrap().parse().unwrap();
            assert!((1..=200).contains(&effort));
            efforts.insert(effort);
            let status = generate(scenario("S2"), &fixture, &mut rng).unwrap().query[0].1.clone();
            assert!(fixture.statuses.iter().any(|known| status == format!("eq.{known}")), "{status}");
        }
        assert!(efforts.len() > 150, "efforts vary per request: {}", efforts.len());
        let hot = generate(scenario("S8-hot"), &fixture, &mut rng).unwrap();
        let effort: i64 = hot.query[1].1.strip_prefix("eq.").unwrap().parse().unwrap();
        assert!(fixture.hot_efforts.contains(&effort));
    }

    #[test]
    fn reads_carry_what_the_planner_sees() {
        let fixture = fixture();
        let mut rng = Rng::with_seed(3);
        let point = generate(scenario("S1"), &fixture, &mut rng).unwrap();
        let id = point.path.rsplit('/').next().unwrap().to_owned();
        let read = point.read.unwrap();
        assert_eq!(read.resource, "trackers");
        assert_eq!(read.parameters, [("id".to_owned(), format!("eq.{id}"))]);
        assert!(read.options.single_object);

        let cursor = generate(scenario("S4-cursor"), &fixture, &mut rng).unwrap();
        assert_eq!(cursor.query.last().unwrap(), &("after".to_owned(), "abc.def".to_owned()));
        let read = cursor.read.unwrap();
        assert_eq!(read.after, Some(fixture.deep_pages[0].after.clone()));
        assert!(!read.parameters.iter().any(|(name, _)| name == "after"), "the plan gets the position, not the cursor");

        let conditional = generate(scenario("S8-conditional"), &fixture, &mut rng).unwrap();
        assert!(conditional.headers.iter().any(|(name, _)| *name == "if-none-match"));
    }

    #[test]
    fn access_variants_send_their_plain_requests_with_the_viewers_token() {
        let fixture = fixture();
        for (plain, access) in [("S1", "S1-access"), ("S3", "S3-access")] {
            let (plain, access) = (scenario(plain), scenario(access));
            assert_eq!((access.group, access.requests, access.access), (plain.id, plain.id, Access::Viewer));
            let mut plain_rng = worker_rng(7, plain, 2);
            let mut access_rng = worker_rng(7, access, 2);
            for _ in 0..20 {
                let mut expected = generate(plain, &fixture, &mut plain_rng).unwrap();
                expected.headers.push(("authorization", "Bearer header.claims.signature".to_owned()));
                assert_eq!(generate(access, &fixture, &mut access_rng).unwrap(), expected);
            }
        }
        let logged_out = Fixture { viewer_token: None, ..fixture };
        assert_eq!(generate(scenario("S1-access"), &logged_out, &mut Rng::with_seed(1)), None);
        assert!(
            SCENARIOS
                .iter()
                .filter(|scenario| scenario.access == Access::Off)
                .all(|scenario| { scenario.requests == scenario.id })
        );
    }

    #[test]
    fn bulk_writes_carry_a_thousand_rows() {
        let mut rng = Rng::with_seed(5);
        let request = generate(scenario("S7"), &fixture(), &mut rng).unwrap();
        let body: serde_json::Value = serde_json::from_str(request.body.as_deref().unwrap()).unwrap();
        let rows = body.as_array().unwrap();
        assert_eq!(rows.len(), BULK_ROWS);
        assert!(rows.iter().all(|row| row["id"].is_i64() && row["production_status"].is_string()));
        assert_eq!(request.method, Method::Patch);
    }

    #[test]
    fn missing_fixture_parts_make_no_request() {
        let mut fixture = fixture();
        fixture.hot_etags = vec![None; 4];
        fixture.deep_pages[0].cursor = None;
        let mut rng = Rng::with_seed(1);
        assert_eq!(generate(scenario("S8-conditional"), &fixture, &mut rng), None);
        assert_eq!(generate(scenario("S4-cursor"), &fixture, &mut rng), None);
        fixture.deep_pages.clear();
        assert_eq!(generate(scenario("S4-offset"), &fixture, &mut rng), None);
        assert_eq!(generate(scenario("S9"), &fixture, &mut rng), None);
    }

    #[test]
    fn targets_are_percent_encoded() {
        let request = list_with_relations(4);
        let target = request.target();
        assert!(target.starts_with("/api/v1/trackers?select=id%2Cproduction_status"), "{target}");
        assert!(target.ends_with("&reporting_effort_id=eq.4&limit=50"), "{target}");
        let parsed: Vec<(String, String)> =
            form_urlencoded::parse(target.split_once('?').unwrap().1.as_bytes()).into_owned().collect();
        assert_eq!(parsed, request.query);
    }

    #[test]
    fn scenario_names_select_groups_and_variants() {
        let ids = |names: &[&str]| -> Vec<&str> {
            select_scenarios(&names.iter().map(|name| name.to_string()).collect::<Vec<_>>())
                .unwrap()
                .iter()
                .map(|scenario| scenario.id)
                .collect()
        };
        assert_eq!(ids(&["S4"]), ["S4-offset", "S4-cursor"]);
        assert_eq!(ids(&["s10", "S1", "S4-cursor"]), ["S1", "S1-access", "S4-cursor", "S10"]);
        assert_eq!(ids(&["S3-access"]), ["S3-access"]);
        assert_eq!(ids(&[]).len(), SCENARIOS.len());
        assert!(select_scenarios(&["S11".to_owned()]).unwrap_err().contains("known: S1"));
    }
}
