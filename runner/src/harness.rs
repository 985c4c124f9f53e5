//! For benches and examples that run one suite case outside `conform run` (the DORA and DNS
//! benches, the replay pacing and CPU examples): write a suite to a file, load it the way
//! `conform run` does, and hand over its first case with the suite's parameters. The CLI does
//! not use it.

use crate::exec::{run_case, CaseEnv, CaseResult};
use conform_codec::{Protocol, Value};
use conform_model::load::load_paths;
use conform_model::suite::{Case, ParamDef};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

/// The first case of a loaded suite, with the suite's protocol and parameter declarations.
pub struct OneCase {
    pub case: Arc<Case>,
    pub protocol: Arc<dyn Protocol>,
    pub params: Vec<ParamDef>,
}

impl OneCase {
    /// Parameter values: `value(name)` where it gives one (a lab's parameter, for example),
    /// else the declared default; parameters with neither are left out.
    pub fn params_with(
        &self,
        value: impl Fn(&ParamDef) -> Option<Value>,
    ) -> HashMap<String, Value> {
        self.params
            .iter()
            .filter_map(|p| {
                value(p)
                    .or_else(|| p.default.clone())
                    .map(|v| (p.name.clone(), v))
            })
            .collect()
    }

    /// The declared defaults.
    pub fn default_params(&self) -> HashMap<String, Value> {
        self.params_with(|_| None)
    }
}

/// Runs `case` in a task of its own, as the runner does, and times it from inside that task
/// (the spawn and the join are not counted): the benches' conform side.
pub async fn timed_case(case: Arc<Case>, env: CaseEnv) -> (std::time::Duration, CaseResult) {
    tokio::spawn(async move {
        let start = std::time::Instant::now();
        let r = run_case(case, env).await;
        (start.elapsed(), r)
    })
    .await
    .unwrap_or_else(|e| panic!("case task: {e}"))
}

/// The median of `v` (the upper one of an even count), for the benches' timings. Panics on
/// an empty list.
pub fn median(mut v: Vec<std::time::Duration>) -> std::time::Duration {
    v.sort();
    v[v.len() / 2]
}

/// Writes `yaml` to `dir/name` (creating `dir`) and loads it. Errors: the file cannot be
/// written, the suite has diagnostics (rendered), or it has no case.
pub fn one_case(dir: &Path, name: &str, yaml: &str) -> Result<OneCase, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
    let f = dir.join(name);
    std::fs::write(&f, yaml).map_err(|e| format!("write {}: {e}", f.display()))?;
    let mut loaded = load_paths(std::slice::from_ref(&f));
    if !loaded.diagnostics.is_empty() {
        return Err(loaded.render_diagnostics());
    }
    if loaded.suites.is_empty() {
        return Err(format!("{}: no suite", f.display()));
    }
    let suite = loaded.suites.swap_remove(0);
    let case = suite
        .cases
        .first()
        .cloned()
        .ok_or_else(|| format!("{}: the suite has no case", f.display()))?;
    Ok(OneCase {
        case,
        protocol: suite.protocol,
        params: suite.params,
    })
}

/// The absolute path of `suites/<rel>` in this repository (for `imports:` of a suite written
/// elsewhere). Panics when it does not exist: benches and examples run from a checkout.
pub fn suites_file(rel: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../suites")
        .join(rel);
    match p.canonicalize() {
        Ok(p) => p.display().to_string(),
        Err(e) => panic!("{}: {e}", p.display()),
    }
}

/// The DNS benchmark case (`cargo bench -p conform --bench dns_query` and the example
/// `dns_case_cpu`, which must run the same case): one SOA query through the suites/dns
/// templates, id 0x1abc.
pub const DNS_SOA_SUITE: &str = r#"
imports: [LIB]
cases:
  - id: bench-dns-soa
    spec: RFC 1035 §4.1.1
    level: MUST
    text: bench
    steps:
      - send: { template: query, args: { qid: 0x1abc } }
      - receive: { template: soa_answer, args: { qid: 0x1abc } }
"#;

/// [`DNS_SOA_SUITE`] loaded from `dir/bench.yaml`.
pub fn dns_soa_case(dir: &Path) -> Result<OneCase, String> {
    one_case(
        dir,
        "bench.yaml",
        &DNS_SOA_SUITE.replace("LIB", &suites_file("dns/lib/common.yaml")),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loads_the_dns_bench_case_and_reports_a_broken_suite() {
        let dir = std::env::temp_dir().join(format!("conform-harness-{}", std::process::id()));
        let one = dns_soa_case(&dir).unwrap();
        assert_eq!(one.case.id, "bench-dns-soa");
        assert_eq!(one.protocol.name(), "dns");
        // Defaults come from the imported library; a given value wins over the default.
        let zone = one.default_params().remove("zone");
        assert!(zone.is_some());
        let given = one.params_with(|p| (p.name == "zone").then(|| Value::Str("x.".into())));
        assert_eq!(given.get("zone"), Some(&Value::Str("x.".into())));
        let err = one_case(&dir, "broken.yaml", "cases: [").err().unwrap();
        assert!(err.contains("broken.yaml"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
