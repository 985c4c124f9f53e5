//! The JSON Schema of the suite format, for editors (yaml-language-server) and for checking.
//!
//! These types exist only to describe the format; the loader validates by hand (to report every
//! problem with its position). A test checks that the keys here equal the loader's key tables,
//! and that the checked-in `schemas/suite.schema.json` equals `generate()`.
#![allow(dead_code)]

use schemars::JsonSchema;
use serde::Deserialize;
use std::collections::BTreeMap;

/// Any YAML value: templates are validated against the protocol's field catalogue at load time.
type Any = serde_json::Value;

/// A conform suite file (or a library of templates and altsteps when it has no `cases`).
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct SuiteFile {
    /// The suite's name (defaults to the file name).
    suite: Option<String>,
    /// `dhcp` or `dns`. May be inherited from an import.
    protocol: Option<Protocol>,
    description: Option<String>,
    /// Library files whose params, templates and altsteps this file uses (relative paths).
    imports: Option<Vec<String>>,
    /// Module parameters: read-only values set by default, target profile or `--param`.
    params: Option<BTreeMap<String, Param>>,
    /// Named templates: field paths to values or matching mechanisms, plus `params`,
    /// `modifies` and `description`.
    templates: Option<BTreeMap<String, BTreeMap<String, Any>>>,
    /// Named lists of alt branches, usable as `- altstep: name` or activated as defaults.
    altsteps: Option<BTreeMap<String, Vec<Branch>>>,
    /// Altsteps activated as defaults in every case of this file, before each case's own
    /// `activate` (which are tried first).
    activate: Option<Vec<String>>,
    settings: Option<Settings>,
    cases: Option<Vec<Case>>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
enum Protocol {
    Dhcp,
    Dns,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Settings {
    /// Default timeout of `receive` steps (default 2s).
    receive_timeout: Option<Duration>,
    /// Default guard timer of a case (default 30s); expiry gives `error`.
    case_timeout: Option<Duration>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Param {
    #[serde(rename = "type")]
    ty: ParamType,
    default: Option<Any>,
    doc: Option<String>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
enum ParamType {
    Ipv4,
    Ipv6,
    Int,
    String,
    Bytes,
    Mac,
    Bool,
    Duration,
}

/// `2s`, `500ms`, `1.5s`, `2m`, or milliseconds as a number. In `start_timer` and `wait`, also
/// `$name` of a `duration` module parameter.
#[derive(Deserialize, JsonSchema)]
#[serde(untagged)]
enum Duration {
    Text(String),
    Millis(u64),
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Case {
    /// Unique across all loaded suites.
    id: String,
    title: Option<String>,
    /// `RFC 2131 §4.3.1` or `{rfc: 2131, section: "4.3.1"}`.
    spec: Any,
    level: Level,
    /// The quoted normative text this case checks.
    text: String,
    tags: Option<Vec<String>>,
    /// Needs the server alone; never runs alongside other cases.
    exclusive: Option<bool>,
    timeout: Option<Duration>,
    /// Altsteps appended to every receive and alt of the case (TTCN-3 defaults).
    activate: Option<Vec<String>>,
    steps: Option<Vec<AnyStep>>,
    /// Parallel test components, each with its own identity (mac, xid, client_id).
    components: Option<BTreeMap<String, Component>>,
}

#[derive(Deserialize, JsonSchema)]
enum Level {
    #[serde(rename = "MUST")]
    Must,
    #[serde(rename = "MUST NOT")]
    MustNot,
    #[serde(rename = "SHALL")]
    Shall,
    #[serde(rename = "SHALL NOT")]
    ShallNot,
    #[serde(rename = "SHOULD")]
    Should,
    #[serde(rename = "SHOULD NOT")]
    ShouldNot,
    #[serde(rename = "MAY")]
    May,
    #[serde(rename = "DERIVED")]
    Derived,
    #[serde(rename = "ROBUST")]
    Robust,
    #[serde(rename = "INTEROP")]
    Interop,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Component {
    steps: Vec<AnyStep>,
}

/// One step: a one-key mapping.
#[derive(Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
enum Step {
    /// A template name or `{template, args, with}`.
    Send(Any),
    /// A template name or `{template, args, with, timeout, capture, verdict, on_timeout, reason}`.
    Receive(Any),
    Alt(Vec<Branch>),
    StartTimer(Timer),
    StopTimer(String),
    Timeout(String),
    /// A verdict (`pass`, `inconc`, `fail`, `none`) or `{verdict, reason}`.
    Setverdict(Any),
    Wait(Duration),
    Log(String),
    Start(Names),
    Join(Names),
    /// `- stop`, or `- stop: true`.
    Stop(Option<bool>),
    Repeat(Repeat),
}

/// One component name or a list of them.
#[derive(Deserialize, JsonSchema)]
#[serde(untagged)]
enum Names {
    One(String),
    Many(Vec<String>),
}

/// A step written as a plain word (`- stop`).
#[derive(Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
enum BareStep {
    Stop,
}

/// A step: a one-key mapping, or the bare word `stop`.
#[derive(Deserialize, JsonSchema)]
#[serde(untagged)]
enum AnyStep {
    Keyed(Step),
    Bare(BareStep),
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Timer {
    name: String,
    duration: Duration,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Repeat {
    count: u32,
    var: Option<String>,
    /// Every iteration is a new client (mac, chaddr, client_id, xid).
    fresh_identity: Option<bool>,
    steps: Vec<AnyStep>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Branch {
    receive: Option<Any>,
    timeout: Option<String>,
    altstep: Option<String>,
    verdict: Option<String>,
    reason: Option<String>,
    steps: Option<Vec<AnyStep>>,
    repeat: Option<bool>,
    stop: Option<bool>,
    capture: Option<BTreeMap<String, String>>,
}

/// The schema as pretty JSON (what `conform schema` prints and schemas/ holds).
pub fn generate() -> String {
    let schema = schemars::schema_for!(SuiteFile);
    serde_json::to_string_pretty(&schema).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load;

    fn props(v: &serde_json::Value, def: Option<&str>) -> Vec<String> {
        let node = match def {
            Some(d) => &v["$defs"][d],
            None => v,
        };
        let mut k: Vec<String> = node["properties"]
            .as_object()
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default();
        k.sort();
        k
    }

    fn sorted(s: &[&str]) -> Vec<String> {
        let mut v: Vec<String> = s.iter().map(|x| x.to_string()).collect();
        v.sort();
        v
    }

    #[test]
    fn schema_keys_equal_loader_keys() {
        let v: serde_json::Value = serde_json::from_str(&generate()).unwrap();
        assert_eq!(props(&v, None), sorted(load::SUITE_KEYS));
        assert_eq!(props(&v, Some("Case")), sorted(load::CASE_KEYS));
        assert_eq!(props(&v, Some("Settings")), sorted(load::SETTINGS_KEYS));
        assert_eq!(props(&v, Some("Param")), sorted(load::PARAM_KEYS));
        assert_eq!(props(&v, Some("Branch")), sorted(load::BRANCH_KEYS));
        assert_eq!(props(&v, Some("Timer")), sorted(load::TIMER_KEYS));
        assert_eq!(props(&v, Some("Repeat")), sorted(load::REPEAT_KEYS));
        assert_eq!(props(&v, Some("Component")), sorted(load::COMPONENT_KEYS));
        let steps: Vec<String> = {
            let mut k: Vec<String> = v["$defs"]["Step"]["oneOf"]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|x| {
                    x["properties"]
                        .as_object()
                        .map(|o| o.keys().cloned().collect::<Vec<_>>())
                        .unwrap_or_default()
                })
                .chain(
                    v["$defs"]["Step"]["oneOf"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .filter_map(|x| x["const"].as_str().map(String::from)),
                )
                .collect();
            k.sort();
            k.dedup();
            k
        };
        assert_eq!(steps, sorted(load::STEP_KINDS));
    }

    #[test]
    fn checked_in_schema_is_current() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../schemas/suite.schema.json");
        let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            on_disk.trim_end() == generate().trim_end(),
            "schemas/suite.schema.json is stale: regenerate it with `cargo run -p conform -- schema > schemas/suite.schema.json`"
        );
    }
}
