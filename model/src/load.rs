//! Loading suites: YAML → node tree → validated, compiled `Suite`.
//!
//! Every problem in every file is collected (never stop at the first) and reported with
//! file:line:column and a hint. Library files (no `cases`) provide templates, altsteps and
//! parameters to suites that `import` them.

use crate::diag::{did_you_mean, Diagnostic, Diags};
use crate::node::{parse_yaml, Key, Node, NodeKind, Pos};
use crate::suite::*;
use crate::template::{Compiler, Template};
use crate::verdict::Verdict;
use conform_codec::{protocol_by_name, FieldRef, Protocol};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Keys allowed at each level, used for unknown-key diagnostics and checked against the JSON
/// Schema by a test so the two cannot drift apart.
pub const SUITE_KEYS: &[&str] = &[
    "suite",
    "protocol",
    "description",
    "imports",
    "params",
    "templates",
    "altsteps",
    "activate",
    "settings",
    "cases",
];
pub const CASE_KEYS: &[&str] = &[
    "id",
    "title",
    "spec",
    "level",
    "text",
    "tags",
    "exclusive",
    "timeout",
    "activate",
    "steps",
    "components",
];
pub const SETTINGS_KEYS: &[&str] = &["receive_timeout", "case_timeout"];
pub const PARAM_KEYS: &[&str] = &["type", "default", "doc"];
pub const TEMPLATE_META_KEYS: &[&str] = &["params", "modifies", "description"];
pub const COMPONENT_KEYS: &[&str] = &["steps"];
pub const STEP_KINDS: &[&str] = &[
    "send",
    "receive",
    "alt",
    "start_timer",
    "stop_timer",
    "timeout",
    "setverdict",
    "wait",
    "log",
    "start",
    "join",
    "stop",
    "repeat",
];
pub const RECEIVE_KEYS: &[&str] = &[
    "template",
    "args",
    "with",
    "timeout",
    "capture",
    "verdict",
    "on_timeout",
    "reason",
];
pub const SEND_KEYS: &[&str] = &["template", "args", "with"];
pub const BRANCH_KEYS: &[&str] = &[
    "receive", "timeout", "altstep", "verdict", "reason", "steps", "repeat", "stop", "capture",
];
pub const TIMER_KEYS: &[&str] = &["name", "duration"];
pub const SETVERDICT_KEYS: &[&str] = &["verdict", "reason"];
pub const REPEAT_KEYS: &[&str] = &["count", "var", "fresh_identity", "steps"];

/// Variables every component has: its identity and the case it runs in.
pub const BUILTIN_VARS: &[&str] = &[
    "mac",
    "xid",
    "id",
    "client_id",
    "chaddr",
    "case_id",
    "component",
];

/// The result of loading a set of paths.
#[derive(Debug, Default)]
pub struct Loaded {
    pub suites: Vec<Suite>,
    pub diagnostics: Vec<Diagnostic>,
    /// Source text by file, for rendering diagnostics with snippets.
    pub sources: HashMap<PathBuf, String>,
}

impl Loaded {
    /// Renders every diagnostic, with the source line and a caret.
    pub fn render_diagnostics(&self) -> String {
        let mut out = String::new();
        for d in &self.diagnostics {
            out.push_str(&d.render(self.sources.get(d.file.as_ref()).map(|s| s.as_str())));
            out.push_str("\n\n");
        }
        out
    }

    pub fn cases(&self) -> impl Iterator<Item = &Arc<Case>> {
        self.suites.iter().flat_map(|s| s.cases.iter())
    }
}

/// Loads files and directories (recursively, `*.yaml` / `*.yml`, sorted).
pub fn load_paths(paths: &[PathBuf]) -> Loaded {
    let mut files = Vec::new();
    let mut loaded = Loaded::default();
    for p in paths {
        if p.is_dir() {
            collect_dir(p, &mut files);
        } else if p.exists() {
            files.push(p.clone());
        } else {
            let mut d = Diags::new(p);
            d.error(
                Pos::default(),
                "no-such-file",
                format!("no such file or directory: {}", p.display()),
            );
            loaded.diagnostics.extend(d.list);
        }
    }
    files.sort();
    files.dedup();
    let mut lib = Library::default();
    let mut ids: HashMap<String, (PathBuf, Pos)> = HashMap::new();
    for f in files {
        let text = match std::fs::read_to_string(&f) {
            Ok(t) => t,
            Err(e) => {
                let mut d = Diags::new(&f);
                d.error(
                    Pos::default(),
                    "unreadable",
                    format!("failed to read file: {e}"),
                );
                loaded.diagnostics.extend(d.list);
                continue;
            }
        };
        let mut d = Diags::new(&f);
        // A file already loaded through an import had its problems reported then.
        let already_reported = lib.files.contains_key(&canonical(&f));
        let suite = load_text(&f, &text, &mut lib, &mut d, &mut loaded.sources);
        if already_reported {
            d.list.clear();
        }
        if let Some(s) = suite {
            for c in &s.cases {
                if let Some((pf, pp)) = ids.get(&c.id) {
                    d.error_hint(
                        c.pos,
                        "duplicate-id",
                        format!("case id `{}` is already used", c.id),
                        format!("first defined at {}:{}:{}", pf.display(), pp.line, pp.col),
                    );
                } else {
                    ids.insert(c.id.clone(), (f.clone(), c.pos));
                }
            }
            if !s.cases.is_empty() {
                loaded.suites.push(s);
            }
        }
        loaded.sources.insert(f.clone(), text);
        loaded.diagnostics.extend(d.list);
    }
    loaded
}

fn collect_dir(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            collect_dir(&p, out);
        } else if matches!(p.extension().and_then(|x| x.to_str()), Some("yaml" | "yml")) {
            out.push(p);
        }
    }
}

/// Definitions a file contributes, for files that import it.
#[derive(Default, Clone)]
struct Defs {
    protocol: Option<Arc<dyn Protocol>>,
    params: Vec<ParamDef>,
    templates: BTreeMap<String, TemplateDef>,
    altsteps: BTreeMap<String, Node>,
}

#[derive(Clone)]
struct TemplateDef {
    name: String,
    pos: Pos,
    file: PathBuf,
    params: Vec<(String, Option<Node>)>,
    modifies: Option<(String, Pos)>,
    body: Node,
}

/// Already-loaded library files, by canonical path.
#[derive(Default)]
struct Library {
    files: HashMap<PathBuf, Defs>,
    loading: HashSet<PathBuf>,
}

/// Loads one file's text. Returns `None` when the file cannot be parsed at all.
fn load_text(
    file: &Path,
    text: &str,
    lib: &mut Library,
    d: &mut Diags,
    sources: &mut HashMap<PathBuf, String>,
) -> Option<Suite> {
    let root = match parse_yaml(text) {
        Ok(n) => n,
        Err((pos, msg)) => {
            d.error(pos, "yaml-syntax", format!("invalid YAML: {msg}"));
            return None;
        }
    };
    let Some(map) = root.as_map() else {
        d.error(
            root.pos,
            "wrong-type",
            format!("a suite file must be a mapping, found {}", root.type_name()),
        );
        return None;
    };
    check_keys(map, SUITE_KEYS, "suite", d);

    let mut defs = Defs::default();
    // Imports first, so local definitions can use imported ones.
    if let Some(imps) = root.get("imports") {
        for item in seq_or_err(imps, d) {
            let Some(rel) = item.as_str() else {
                d.error(
                    item.pos,
                    "wrong-type",
                    format!("an import is a file path, found {}", item.type_name()),
                );
                continue;
            };
            let path = file.parent().unwrap_or(Path::new(".")).join(rel);
            match import(&path, lib, sources) {
                Ok((idefs, idiags)) => {
                    d.list.extend(idiags);
                    merge_defs(&mut defs, idefs, item.pos, d);
                }
                Err(msg) => d.error(item.pos, "bad-import", msg),
            }
        }
    }

    let proto_node = root.get("protocol");
    let proto = match proto_node {
        Some(n) => match n.as_str().and_then(protocol_by_name) {
            Some(p) => Some(p),
            None => {
                d.error_hint(
                    n.pos,
                    "unknown-protocol",
                    format!(
                        "unknown protocol {}",
                        n.scalar_text()
                            .map(|s| format!("`{s}`"))
                            .unwrap_or_default()
                    ),
                    "supported protocols: dhcp, dns",
                );
                None
            }
        },
        None => defs.protocol.clone(),
    };
    let Some(proto) = proto else {
        if proto_node.is_none() {
            d.error_hint(
                root.pos,
                "missing-field",
                "missing `protocol`",
                "add `protocol: dhcp` or `protocol: dns`",
            );
        }
        return None;
    };
    if let Some(ip) = &defs.protocol {
        if ip.name() != proto.name() {
            d.error(
                proto_node.map(|n| n.pos).unwrap_or(root.pos),
                "protocol-mismatch",
                format!(
                    "this file is `{}` but imports `{}` definitions",
                    proto.name(),
                    ip.name()
                ),
            );
        }
    }
    defs.protocol = Some(proto.clone());

    let name = match root.get("suite") {
        Some(n) => n.scalar_text().unwrap_or_else(|| {
            d.error(n.pos, "wrong-type", "`suite` is the suite's name: a string");
            String::new()
        }),
        None => file
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("suite")
            .to_string(),
    };

    if let Some(p) = root.get("params") {
        for (k, v) in map_or_err(p, d) {
            if let Some(pd) = param_def(k, v, d) {
                if defs.params.iter().any(|x| x.name == pd.name) {
                    defs.params.retain(|x| x.name != pd.name);
                }
                defs.params.push(pd);
            }
        }
    }

    if let Some(t) = root.get("templates") {
        for (k, v) in map_or_err(t, d) {
            if let Some(td) = template_def(file, k, v, d) {
                if defs.templates.contains_key(&td.name) {
                    d.error(
                        k.pos,
                        "duplicate-template",
                        format!(
                            "template `{}` is defined twice (here and in an import)",
                            td.name
                        ),
                    );
                }
                defs.templates.insert(td.name.clone(), td);
            }
        }
    }
    if let Some(a) = root.get("altsteps") {
        for (k, v) in map_or_err(a, d) {
            if v.as_seq().is_none() {
                d.error(
                    v.pos,
                    "wrong-type",
                    format!("altstep `{}` must be a list of branches", k.name),
                );
                continue;
            }
            defs.altsteps.insert(k.name.clone(), v.clone());
        }
    }

    let mut settings = Settings {
        receive_timeout: Duration::from_secs(2),
        case_timeout: Duration::from_secs(30),
    };
    if let Some(s) = root.get("settings") {
        let m = map_or_err(s, d);
        check_keys(m, SETTINGS_KEYS, "settings", d);
        if let Some(v) = s.get("receive_timeout") {
            settings.receive_timeout = duration(v, d).unwrap_or(settings.receive_timeout);
        }
        if let Some(v) = s.get("case_timeout") {
            settings.case_timeout = duration(v, d).unwrap_or(settings.case_timeout);
        }
    }

    // Defaults activated in every case of this file (before the case's own `activate`).
    let mut activate = Vec::new();
    if let Some(a) = root.get("activate") {
        for item in seq_or_err(a, d) {
            let Some(n) = item.scalar_text() else {
                d.error(
                    item.pos,
                    "wrong-type",
                    format!("`activate` lists altstep names, found {}", item.type_name()),
                );
                continue;
            };
            if !defs.altsteps.contains_key(&n) {
                let known: Vec<&String> = defs.altsteps.keys().collect();
                let hint = match did_you_mean(&n, known.iter().map(|s| s.as_str())) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => "define it under `altsteps:` here or in an imported file".to_string(),
                };
                d.error_hint(
                    item.pos,
                    "unknown-altstep",
                    format!("unknown altstep `{n}`"),
                    hint,
                );
                continue;
            }
            activate.push(n);
        }
    }

    let ctx = Ctx {
        file: file.to_path_buf(),
        proto: proto.clone(),
        defs: &defs,
        settings,
        suite: name.clone(),
        activate,
    };

    // Validate every template definition once on its own (with parameters bound to `?`), so
    // unused templates are checked too.
    for td in defs.templates.values() {
        if td.file != file {
            continue;
        }
        let args: HashMap<String, Node> = td
            .params
            .iter()
            .map(|(n, dflt)| {
                (
                    n.clone(),
                    dflt.clone().unwrap_or(Node {
                        pos: td.pos,
                        kind: NodeKind::Str("?".into()),
                    }),
                )
            })
            .collect();
        let mut scope = Scope::library(&defs);
        scope.report_bodies = true;
        ctx.instantiate(&td.name, td.pos, &args, None, &mut scope, d, 0);
    }
    for (name, node) in &defs.altsteps {
        let mut scope = Scope::library(&defs);
        let _ = name;
        ctx.branches(node, &mut scope, d, &mut HashSet::new());
    }

    let mut cases = Vec::new();
    if let Some(cs) = root.get("cases") {
        for c in seq_or_err(cs, d) {
            if let Some(case) = ctx.case(c, d) {
                cases.push(Arc::new(case));
            }
        }
    }

    let description = root.get("description").and_then(|n| n.scalar_text());
    lib.files.insert(canonical(file), defs.clone());
    Some(Suite {
        file: file.to_path_buf(),
        name,
        protocol: proto,
        description,
        params: defs.params.clone(),
        cases,
    })
}

fn canonical(p: &Path) -> PathBuf {
    p.canonicalize().unwrap_or_else(|_| p.to_path_buf())
}

fn import(
    path: &Path,
    lib: &mut Library,
    sources: &mut HashMap<PathBuf, String>,
) -> Result<(Defs, Vec<Diagnostic>), String> {
    let key = canonical(path);
    if let Some(d) = lib.files.get(&key) {
        return Ok((d.clone(), Vec::new()));
    }
    if lib.loading.contains(&key) {
        return Err(format!("import cycle through {}", path.display()));
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("failed to import {}: {e}", path.display()))?;
    lib.loading.insert(key.clone());
    let mut d = Diags::new(path);
    let _ = load_text(path, &text, lib, &mut d, sources);
    lib.loading.remove(&key);
    sources.insert(path.to_path_buf(), text);
    let defs = lib.files.get(&key).cloned().unwrap_or_default();
    Ok((defs, d.list))
}

fn merge_defs(into: &mut Defs, from: Defs, pos: Pos, d: &mut Diags) {
    if into.protocol.is_none() {
        into.protocol = from.protocol;
    }
    for p in from.params {
        if !into.params.iter().any(|x| x.name == p.name) {
            into.params.push(p);
        }
    }
    for (k, v) in from.templates {
        if into.templates.contains_key(&k) && into.templates[&k].file != v.file {
            d.error(
                pos,
                "duplicate-template",
                format!("template `{k}` is defined by two imports"),
            );
        }
        into.templates.insert(k, v);
    }
    into.altsteps.extend(from.altsteps);
}

#[derive(Clone, Copy)]
struct Settings {
    receive_timeout: Duration,
    case_timeout: Duration,
}

struct Ctx<'a> {
    file: PathBuf,
    proto: Arc<dyn Protocol>,
    defs: &'a Defs,
    settings: Settings,
    suite: String,
    /// The file's suite-level `activate`: defaults active in every case.
    activate: Vec<String>,
}

/// What is defined at a point of a component's behaviour.
#[derive(Clone)]
struct Scope {
    vars: HashSet<String>,
    timers: HashSet<String>,
    components: Vec<String>,
    activated: Vec<String>,
    /// In a library check, variables cannot be resolved yet: don't report them.
    lenient: bool,
    /// The definition check of a template: its own body's problems are reported (once).
    report_bodies: bool,
}

impl Scope {
    fn library(_defs: &Defs) -> Scope {
        Scope {
            vars: HashSet::new(),
            timers: HashSet::new(),
            components: vec![],
            activated: vec![],
            lenient: true,
            report_bodies: false,
        }
    }
}

impl Ctx<'_> {
    fn case(&self, c: &Node, d: &mut Diags) -> Option<Case> {
        let Some(map) = c.as_map() else {
            d.error(
                c.pos,
                "wrong-type",
                format!("a case must be a mapping, found {}", c.type_name()),
            );
            return None;
        };
        check_keys(map, CASE_KEYS, "case", d);
        let errors_before = d.list.len();
        let id = match c.get("id").and_then(|n| n.scalar_text()) {
            Some(s) if !s.is_empty() => s,
            _ => {
                d.error_hint(
                    c.pos,
                    "missing-field",
                    "case is missing `id`",
                    "every case needs a unique `id`",
                );
                String::new()
            }
        };
        let title = c
            .get("title")
            .and_then(|n| n.scalar_text())
            .unwrap_or_else(|| id.clone());
        let id_for_msg = if id.is_empty() {
            format!("at line {}", c.pos.line)
        } else {
            format!("`{id}`")
        };
        let spec = match c.get("spec") {
            Some(n) => spec_ref(n, d),
            None => {
                d.error_hint(
                    c.pos,
                    "missing-field",
                    format!("case {id_for_msg} is missing `spec`"),
                    "cite the requirement: `spec: RFC 2131 §4.3.1`",
                );
                None
            }
        };
        let level = match c.get("level") {
            Some(n) => match n.as_str() {
                Some(l) if LEVELS.contains(&l) => l.to_string(),
                _ => {
                    d.error_hint(
                        n.pos,
                        "bad-level",
                        format!(
                            "unknown requirement level {}",
                            n.scalar_text()
                                .map(|s| format!("`{s}`"))
                                .unwrap_or_default()
                        ),
                        format!("levels: {}", LEVELS.join(", ")),
                    );
                    String::new()
                }
            },
            None => {
                d.error_hint(
                    c.pos,
                    "missing-field",
                    format!("case {id_for_msg} is missing `level`"),
                    format!("levels: {}", LEVELS.join(", ")),
                );
                String::new()
            }
        };
        let text = match c.get("text").and_then(|n| n.scalar_text()) {
            Some(t) if !t.trim().is_empty() => t,
            _ => {
                d.error_hint(
                    c.pos,
                    "missing-field",
                    format!("case {id_for_msg} is missing `text`"),
                    "quote the normative text the case checks",
                );
                String::new()
            }
        };
        let tags = c.get("tags").map(|t| strings(t, d)).unwrap_or_default();
        let exclusive = c.get("exclusive").map(|n| boolean(n, d)).unwrap_or(false);
        let timeout = c
            .get("timeout")
            .and_then(|n| duration(n, d))
            .unwrap_or(self.settings.case_timeout);
        let own = c.get("activate").map(|t| strings(t, d)).unwrap_or_default();
        if let Some(a) = c.get("activate") {
            for (i, name) in own.iter().enumerate() {
                if !self.defs.altsteps.contains_key(name) {
                    let pos = a
                        .as_seq()
                        .and_then(|s| s.get(i))
                        .map(|n| n.pos)
                        .unwrap_or(a.pos);
                    self.unknown("altstep", name, pos, self.defs.altsteps.keys(), d);
                }
            }
        }
        // The file's defaults first, then the case's own: the case's are tried first (most
        // recently activated first, as TTCN-3 defaults).
        let activated: Vec<String> = self
            .activate
            .iter()
            .filter(|n| !own.contains(n))
            .chain(own.iter())
            .cloned()
            .collect();

        let mut base = Scope {
            vars: self
                .param_names()
                .into_iter()
                .chain(BUILTIN_VARS.iter().map(|s| s.to_string()))
                .collect(),
            timers: HashSet::new(),
            components: vec![],
            activated: activated.clone(),
            lenient: false,
            report_bodies: false,
        };
        let mut components = Vec::new();
        if let Some(cn) = c.get("components") {
            for (k, v) in map_or_err(cn, d) {
                base.components.push(k.name.clone());
                let m = map_or_err(v, d);
                check_keys(m, COMPONENT_KEYS, "component", d);
                let mut scope = base.clone();
                let steps = match v.get("steps") {
                    Some(s) => self.steps(s, &mut scope, d),
                    None => {
                        d.error(
                            k.pos,
                            "missing-field",
                            format!("component `{}` has no `steps`", k.name),
                        );
                        vec![]
                    }
                };
                components.push(Component {
                    name: k.name.clone(),
                    steps,
                    pos: k.pos,
                });
            }
        }
        let mut scope = base.clone();
        let steps = match c.get("steps") {
            Some(s) => self.steps(s, &mut scope, d),
            None if !components.is_empty() => vec![],
            None => {
                d.error_hint(
                    c.pos,
                    "missing-field",
                    format!("case {id_for_msg} has no `steps`"),
                    "add `steps:` or `components:`",
                );
                vec![]
            }
        };
        let explicit_start = contains_start(&steps);
        // Timers that activated defaults wait for must be started somewhere in the case, or the
        // default silently never fires.
        if !activated.is_empty() {
            // Reported at the case's `activate`, or at the case when only the file's apply.
            let a = c.get("activate").unwrap_or(c);
            let mut started = HashSet::new();
            timers_started(&steps, &mut started);
            for comp in &components {
                timers_started(&comp.steps, &mut started);
            }
            for name in &activated {
                if let Some(node) = self.defs.altsteps.get(name) {
                    for b in node.as_seq().unwrap_or_default() {
                        if let Some(t) = b.get("timeout").and_then(|t| t.scalar_text()) {
                            if !started.contains(&t) {
                                d.error_hint(
                                    a.pos,
                                    "unknown-timer",
                                    format!("activated altstep `{name}` waits for timer `{t}`, which this case never starts"),
                                    format!("start it with `start_timer: {{ name: {t}, duration: ... }}` before the steps it should guard"),
                                );
                            }
                        }
                    }
                }
            }
        }
        if d.list.len() > errors_before {
            return None;
        }
        Some(Case {
            id,
            title,
            suite: self.suite.clone(),
            file: self.file.clone(),
            pos: c.pos,
            spec: spec?,
            level,
            text,
            tags,
            exclusive,
            timeout,
            steps,
            components,
            explicit_start,
        })
    }

    /// A timer or wait duration: a literal, or `$name` of a declared `duration` parameter.
    fn dur(&self, n: &Node, d: &mut Diags) -> Option<Dur> {
        let Some(name) = n
            .scalar_text()
            .and_then(|t| t.strip_prefix('$').map(str::to_string))
        else {
            return duration(n, d).map(Dur::Fixed);
        };
        match self.defs.params.iter().find(|p| p.name == name) {
            Some(p) if p.ty == ParamType::Duration => Some(Dur::Param(name)),
            Some(p) => {
                d.error_hint(
                    n.pos,
                    "bad-duration",
                    format!(
                        "parameter `{name}` is of type {}, not a duration",
                        format!("{:?}", p.ty).to_lowercase()
                    ),
                    format!("declare it `{name}: {{ type: duration, default: 1s }}`"),
                );
                None
            }
            None => {
                self.unknown(
                    "duration parameter",
                    &name,
                    n.pos,
                    self.defs
                        .params
                        .iter()
                        .filter(|p| p.ty == ParamType::Duration)
                        .map(|p| &p.name),
                    d,
                );
                None
            }
        }
    }

    fn param_names(&self) -> Vec<String> {
        self.defs.params.iter().map(|p| p.name.clone()).collect()
    }

    fn unknown<'k>(
        &self,
        what: &str,
        name: &str,
        pos: Pos,
        known: impl Iterator<Item = &'k String>,
        d: &mut Diags,
    ) {
        let known: Vec<&String> = known.collect();
        let hint = match did_you_mean(name, known.iter().map(|s| s.as_str())) {
            Some(s) => format!("did you mean `{s}`?"),
            None if known.is_empty() => {
                format!("no {what}s are defined in this file or its imports")
            }
            None => format!(
                "defined {what}s: {}",
                known
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        d.error_hint(
            pos,
            UNKNOWN_CODES[what_index(what)],
            format!("unknown {what} `{name}`"),
            hint,
        );
    }

    fn steps(&self, n: &Node, scope: &mut Scope, d: &mut Diags) -> Vec<Step> {
        let mut out = Vec::new();
        let mut stopped: Option<Pos> = None;
        for s in seq_or_err(n, d) {
            if let Some(p) = stopped {
                d.error_hint(
                    s.pos,
                    "unreachable-step",
                    "this step can never run",
                    format!("the component stops at line {}", p.line),
                );
                stopped = None;
                // Report once per list, keep checking the rest for other problems.
                let _ = self.step(s, scope, d);
                continue;
            }
            if let Some(step) = self.step(s, scope, d) {
                if matches!(step, Step::Stop { .. }) {
                    stopped = Some(step.pos());
                }
                out.push(step);
            }
        }
        out
    }

    fn step(&self, s: &Node, scope: &mut Scope, d: &mut Diags) -> Option<Step> {
        let (kind, body, kpos) = match s.as_map() {
            Some(m) if !m.is_empty() => {
                let (k, v) = &m[0];
                if m.len() > 1 && STEP_KINDS.contains(&k.name.as_str()) {
                    let extra = &m[1].0;
                    d.error_hint(
                        extra.pos,
                        "unknown-field",
                        format!("unexpected `{}` beside `{}`", extra.name, k.name),
                        format!(
                            "options of a `{}` step go inside it: `{}: {{ ... }}`",
                            k.name, k.name
                        ),
                    );
                }
                (k.name.as_str(), v, k.pos)
            }
            _ => {
                if s.as_str() == Some("stop") {
                    return Some(Step::Stop { pos: s.pos });
                }
                d.error_hint(
                    s.pos,
                    "wrong-type",
                    format!(
                        "a step must be a one-key mapping such as `send: discover`, found {}",
                        s.type_name()
                    ),
                    format!("step kinds: {}", STEP_KINDS.join(", ")),
                );
                return None;
            }
        };
        let pos = s.pos;
        match kind {
            "send" => {
                if let Some(m) = body.as_map() {
                    check_keys(m, SEND_KEYS, "send", d);
                }
                let t = self.template_ref(body, scope, d)?;
                if let Some(f) = t.fields.iter().find(|f| !self.proto.sendable(&f.field)) {
                    d.error_hint(
                        f.pos,
                        "not-sendable",
                        format!("send template `{}` sets `{}`, which can only be matched in received messages", t.name, f.field.path),
                        "remove it from the send template (see the field catalogue in docs/suite-format.md for paths that can be sent)",
                    );
                    return None;
                }
                if let Some(f) = t.fields.iter().find(|f| !f.matcher.is_concrete()) {
                    d.error_hint(
                        f.pos,
                        "not-concrete",
                        format!(
                            "send template `{}` uses the matching mechanism {} at `{}`",
                            t.name,
                            f.matcher.mechanism(),
                            f.field.path
                        ),
                        "a sent message needs concrete values: a literal, a variable, or omit",
                    );
                    return None;
                }
                Some(Step::Send {
                    template: Arc::new(t),
                    pos,
                })
            }
            "receive" => {
                let (tnode, opts) = match body.as_map() {
                    Some(m)
                        if body.get("template").is_some()
                            || body.get("with").is_some()
                            || m.iter()
                                .all(|(k, _)| RECEIVE_KEYS.contains(&k.name.as_str())) =>
                    {
                        check_keys(m, RECEIVE_KEYS, "receive", d);
                        (body, Some(body))
                    }
                    _ => (body, None),
                };
                let template = Arc::new(self.template_ref(tnode, scope, d)?);
                let timeout = opts
                    .and_then(|o| o.get("timeout"))
                    .and_then(|n| duration(n, d))
                    .unwrap_or(self.settings.receive_timeout);
                let capture = match opts.and_then(|o| o.get("capture")) {
                    Some(c) => self.captures(c, scope, d),
                    None => vec![],
                };
                let on_match = match opts.and_then(|o| o.get("verdict")) {
                    Some(v) => verdict(v, d),
                    None => Some(Verdict::Pass),
                };
                let on_timeout = match opts.and_then(|o| o.get("on_timeout")) {
                    Some(v) => verdict(v, d),
                    None => Some(Verdict::Fail),
                };
                let reason = opts
                    .and_then(|o| o.get("reason"))
                    .and_then(|n| n.scalar_text());
                let mut branches = vec![Branch {
                    on: BranchOn::Receive {
                        template: template.clone(),
                        capture,
                    },
                    verdict: on_match,
                    reason: None,
                    steps: vec![],
                    repeat: false,
                    stop: false,
                    from_altstep: None,
                    pos,
                }];
                // A default that handles a message in place of the awaited one ends the
                // component unless it repeats: later steps depend on the awaited message.
                branches.extend(self.activated(scope, d).into_iter().map(|mut b| {
                    b.stop |= !b.repeat;
                    b
                }));
                branches.push(Branch {
                    on: BranchOn::Timeout {
                        timer: String::new(),
                        implicit: Some(timeout),
                    },
                    verdict: on_timeout,
                    reason: Some(reason.unwrap_or_else(|| {
                        format!(
                            "no message matching `{}` within {}",
                            template.name,
                            fmt_dur(timeout)
                        )
                    })),
                    steps: vec![],
                    repeat: false,
                    stop: true,
                    from_altstep: None,
                    pos,
                });
                Some(Step::Alt { branches, pos })
            }
            "alt" => {
                let mut bs = self.branches(body, scope, d, &mut HashSet::new());
                if !bs.iter().any(|b| matches!(b.on, BranchOn::Timeout { .. })) {
                    d.error_hint(
                        body.pos,
                        "alt-without-timeout",
                        "this alt has no timeout branch and could wait forever",
                        "add a branch `- timeout: <timer>` for a timer started before the alt",
                    );
                }
                bs.extend(self.activated(scope, d));
                Some(Step::Alt { branches: bs, pos })
            }
            "start_timer" => {
                let m = map_or_err(body, d);
                check_keys(m, TIMER_KEYS, "start_timer", d);
                let name = body.get("name").and_then(|n| n.scalar_text());
                let dur = body.get("duration").and_then(|n| self.dur(n, d));
                match (name, dur) {
                    (Some(name), Some(duration)) => {
                        scope.timers.insert(name.clone());
                        Some(Step::StartTimer {
                            name,
                            duration,
                            pos,
                        })
                    }
                    _ => {
                        d.error_hint(
                            body.pos,
                            "missing-field",
                            "`start_timer` needs `name` and `duration`",
                            "start_timer: { name: t1, duration: 2s }",
                        );
                        None
                    }
                }
            }
            "stop_timer" | "timeout" => {
                let name = body.scalar_text().unwrap_or_default();
                if !scope.timers.contains(&name) {
                    d.error_hint(
                        body.pos,
                        "unknown-timer",
                        format!("timer `{name}` is never started before this step"),
                        "start it first with `start_timer: { name: ..., duration: ... }`",
                    );
                    return None;
                }
                Some(if kind == "timeout" {
                    Step::Timeout { name, pos }
                } else {
                    Step::StopTimer { name, pos }
                })
            }
            "setverdict" => {
                let (v, reason) = match &body.kind {
                    NodeKind::Map(m) => {
                        check_keys(m, SETVERDICT_KEYS, "setverdict", d);
                        (
                            body.get("verdict"),
                            body.get("reason").and_then(|n| n.scalar_text()),
                        )
                    }
                    _ => (Some(body), None),
                };
                let Some(v) = v else {
                    d.error(body.pos, "missing-field", "`setverdict` needs a verdict");
                    return None;
                };
                Some(Step::SetVerdict {
                    verdict: verdict(v, d)?,
                    reason,
                    pos,
                })
            }
            "wait" => Some(Step::Wait {
                duration: self.dur(body, d)?,
                pos,
            }),
            "log" => {
                let text = body.scalar_text().unwrap_or_default();
                for var in text.split('$').skip(1) {
                    let name: String = var
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect();
                    if !name.is_empty() {
                        self.check_var(&name, body.pos, scope, d);
                    }
                }
                Some(Step::Log { text, pos })
            }
            "start" | "join" => {
                let names = strings(body, d);
                for n in &names {
                    if !scope.components.contains(n) {
                        self.unknown("component", n, body.pos, scope.components.iter(), d);
                    }
                }
                Some(if kind == "start" {
                    Step::Start {
                        components: names,
                        pos,
                    }
                } else {
                    Step::Join {
                        components: names,
                        pos,
                    }
                })
            }
            "stop" => {
                if !matches!(body.kind, NodeKind::Null | NodeKind::Bool(true)) {
                    d.error_hint(
                        body.pos,
                        "bad-value",
                        "`stop` takes no value",
                        "write `- stop` or `- stop: true`",
                    );
                }
                Some(Step::Stop { pos })
            }
            "repeat" => {
                let m = map_or_err(body, d);
                check_keys(m, REPEAT_KEYS, "repeat", d);
                let count = match body.get("count").map(|n| &n.kind) {
                    Some(NodeKind::Int(i)) if (0..=100_000).contains(i) => *i as u32,
                    _ => {
                        d.error_hint(
                            body.pos,
                            "bad-value",
                            "`repeat` needs `count`: an integer 0..100000",
                            "repeat: { count: 10, steps: [...] }",
                        );
                        return None;
                    }
                };
                let var = body
                    .get("var")
                    .and_then(|n| n.scalar_text())
                    .unwrap_or_else(|| "i".into());
                scope.vars.insert(var.clone());
                let steps = match body.get("steps") {
                    Some(s) => self.steps(s, scope, d),
                    None => {
                        d.error(body.pos, "missing-field", "`repeat` needs `steps`");
                        return None;
                    }
                };
                let fresh_identity = body
                    .get("fresh_identity")
                    .map(|n| boolean(n, d))
                    .unwrap_or(false);
                Some(Step::Repeat {
                    count,
                    var,
                    fresh_identity,
                    steps,
                    pos,
                })
            }
            other => {
                let hint = match did_you_mean(other, STEP_KINDS.iter().copied()) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!("step kinds: {}", STEP_KINDS.join(", ")),
                };
                d.error_hint(
                    kpos,
                    "unknown-step",
                    format!("unknown step `{other}`"),
                    hint,
                );
                None
            }
        }
    }

    fn activated(&self, scope: &mut Scope, d: &mut Diags) -> Vec<Branch> {
        let mut out = Vec::new();
        // Most recently activated first, as TTCN-3 defaults.
        for name in scope.activated.clone().iter().rev() {
            if let Some(node) = self.defs.altsteps.get(name) {
                let mut seen = HashSet::new();
                seen.insert(name.clone());
                // Diagnostics inside altsteps are reported where they are defined.
                let mut sink = Diags::new(&self.file);
                for mut b in self.branches(node, scope, &mut sink, &mut seen) {
                    b.from_altstep = Some(name.clone());
                    out.push(b);
                }
                let _ = d;
            }
        }
        out
    }

    fn branches(
        &self,
        n: &Node,
        scope: &mut Scope,
        d: &mut Diags,
        seen: &mut HashSet<String>,
    ) -> Vec<Branch> {
        let mut out = Vec::new();
        let mut defined: Vec<(HashSet<String>, bool)> = Vec::new();
        for b in seq_or_err(n, d) {
            let Some(m) = b.as_map() else {
                d.error(
                    b.pos,
                    "wrong-type",
                    format!("an alt branch must be a mapping, found {}", b.type_name()),
                );
                continue;
            };
            check_keys(m, BRANCH_KEYS, "alt branch", d);
            if let Some(a) = b.get("altstep") {
                let name = a.scalar_text().unwrap_or_default();
                match self.defs.altsteps.get(&name) {
                    Some(node) if !seen.contains(&name) => {
                        seen.insert(name.clone());
                        for mut x in self.branches(node, scope, d, seen) {
                            x.from_altstep = Some(name.clone());
                            out.push(x);
                        }
                        seen.remove(&name);
                    }
                    Some(_) => d.error(
                        a.pos,
                        "altstep-cycle",
                        format!("altstep `{name}` includes itself"),
                    ),
                    None => self.unknown("altstep", &name, a.pos, self.defs.altsteps.keys(), d),
                }
                continue;
            }
            let on = if let Some(r) = b.get("receive") {
                if let Some(m) = r.as_map() {
                    for (k, _) in m {
                        if SEND_KEYS.contains(&k.name.as_str()) {
                            continue;
                        }
                        let hint = if BRANCH_KEYS.contains(&k.name.as_str()) {
                            format!(
                                "in an alt branch `{}` goes beside `receive:`, not inside it",
                                k.name
                            )
                        } else {
                            match did_you_mean(&k.name, SEND_KEYS.iter().copied()) {
                                Some(x) => format!("did you mean `{x}`?"),
                                None => "a branch's `receive:` takes `template`, `args` and `with`"
                                    .into(),
                            }
                        };
                        d.error_hint(
                            k.pos,
                            "unknown-field",
                            format!("unknown field `{}` in an alt branch's receive", k.name),
                            hint,
                        );
                    }
                }
                let Some(t) = self.template_ref(r, scope, d) else {
                    continue;
                };
                // Captures are defined inside this branch; after the alt see below.
                let mut probe = scope.clone();
                let capture = b
                    .get("capture")
                    .map(|c| self.captures(c, &mut probe, d))
                    .unwrap_or_default();
                BranchOn::Receive {
                    template: Arc::new(t),
                    capture,
                }
            } else if let Some(t) = b.get("timeout") {
                let name = t.scalar_text().unwrap_or_default();
                if !scope.timers.contains(&name) && !scope.lenient {
                    d.error_hint(
                        t.pos,
                        "unknown-timer",
                        format!("timer `{name}` is never started before this alt"),
                        "start it first with `start_timer: { name: ..., duration: ... }`",
                    );
                }
                BranchOn::Timeout {
                    timer: name,
                    implicit: None,
                }
            } else {
                d.error_hint(
                    b.pos,
                    "missing-field",
                    "an alt branch needs `receive`, `timeout` or `altstep`",
                    "- receive: offer\n    verdict: pass",
                );
                continue;
            };
            let verdict = b.get("verdict").and_then(|v| verdict(v, d));
            let reason = b.get("reason").and_then(|n| n.scalar_text());
            let mut inner = scope.clone();
            if let BranchOn::Receive { capture, .. } = &on {
                inner.vars.extend(capture.iter().map(|(v, _)| v.clone()));
            }
            let steps = b
                .get("steps")
                .map(|s| self.steps(s, &mut inner, d))
                .unwrap_or_default();
            scope.timers.extend(inner.timers.iter().cloned());
            let repeat = b.get("repeat").map(|n| boolean(n, d)).unwrap_or(false);
            let stop = b.get("stop").map(|n| boolean(n, d)).unwrap_or(false)
                || steps.iter().any(|s| matches!(s, Step::Stop { .. }));
            let branch = Branch {
                on,
                verdict,
                reason,
                steps,
                repeat,
                stop,
                from_altstep: None,
                pos: b.pos,
            };
            // Variables a branch defines count after the alt only if every branch that can end
            // the alt and continue defines them (see `alt_defines`).
            defined.push((inner.vars, branch.stop || branch.repeat));
            out.push(branch);
        }
        let continuing: Vec<&HashSet<String>> = defined
            .iter()
            .filter(|(_, ends)| !ends)
            .map(|(v, _)| v)
            .collect();
        if let Some((first, rest)) = continuing.split_first() {
            let both: Vec<String> = first
                .iter()
                .filter(|v| rest.iter().all(|r| r.contains(*v)))
                .cloned()
                .collect();
            scope.vars.extend(both);
        }
        out
    }

    fn captures(&self, c: &Node, scope: &mut Scope, d: &mut Diags) -> Vec<(String, FieldRef)> {
        let mut out = Vec::new();
        for (k, v) in map_or_err(c, d) {
            let Some(path) = v.scalar_text() else {
                d.error(
                    v.pos,
                    "wrong-type",
                    "a capture maps a variable name to a field path",
                );
                continue;
            };
            match self.proto.resolve(&path) {
                Some(f) => {
                    scope.vars.insert(k.name.clone());
                    out.push((k.name.clone(), f));
                }
                None => {
                    let paths = self.proto.paths();
                    let hint = did_you_mean(&path, paths.iter().map(|s| s.as_str()))
                        .map(|s| format!("did you mean `{s}`?"))
                        .unwrap_or_else(|| "see docs/suite-format.md for field paths".into());
                    d.error_hint(
                        v.pos,
                        "unknown-field-path",
                        format!(
                            "unknown field path `{path}` for protocol {}",
                            self.proto.name()
                        ),
                        hint,
                    );
                }
            }
        }
        out
    }

    /// A template use: a name, or `{template: name, args: {...}, with: {...}}`, or
    /// `{with: {...}}` for an inline template.
    fn template_ref(&self, n: &Node, scope: &mut Scope, d: &mut Diags) -> Option<Template> {
        let (name, npos, args, with) = match &n.kind {
            NodeKind::Str(s) => (Some(s.clone()), n.pos, None, None),
            NodeKind::Map(_) => {
                let t = n.get("template");
                (
                    t.and_then(|x| x.scalar_text()),
                    t.map(|x| x.pos).unwrap_or(n.pos),
                    n.get("args"),
                    n.get("with"),
                )
            }
            _ => {
                d.error(
                    n.pos,
                    "wrong-type",
                    format!(
                        "expected a template name or a mapping, found {}",
                        n.type_name()
                    ),
                );
                return None;
            }
        };
        let args: HashMap<String, Node> = match args {
            Some(a) => map_or_err(a, d)
                .iter()
                .map(|(k, v)| (k.name.clone(), v.clone()))
                .collect(),
            None => HashMap::new(),
        };
        let errs = d.list.len();
        let mut t = match &name {
            Some(name) => self.instantiate(name, npos, &args, n.get("args"), scope, d, 0)?,
            None if with.is_some() => Template {
                name: "inline".into(),
                fields: vec![],
            },
            None => {
                d.error_hint(
                    n.pos,
                    "missing-field",
                    "missing `template`",
                    "name a template (`template: offer`) or write fields under `with:`",
                );
                return None;
            }
        };
        if let Some(w) = with {
            let empty = HashMap::new();
            let mut comp = Compiler::new(self.proto.as_ref(), &empty);
            let fields = comp.fields(w, "", &[], d);
            self.check_vars(&comp.vars, scope, d);
            t.merge(fields);
            if name.is_some() {
                t.name = format!("{} (with overrides)", t.name).into();
            }
        }
        if d.list.len() > errs {
            return None;
        }
        Some(t)
    }

    #[allow(clippy::too_many_arguments)]
    fn instantiate(
        &self,
        name: &str,
        pos: Pos,
        args: &HashMap<String, Node>,
        args_node: Option<&Node>,
        scope: &mut Scope,
        d: &mut Diags,
        depth: u32,
    ) -> Option<Template> {
        if depth > 16 {
            d.error(
                pos,
                "modifies-cycle",
                format!("template `{name}` modifies itself (directly or through others)"),
            );
            return None;
        }
        let Some(td) = self.defs.templates.get(name) else {
            self.unknown("template", name, pos, self.defs.templates.keys(), d);
            return None;
        };
        // Arguments: every given name must be a parameter; parameters without default needed.
        let mut bound: HashMap<String, Node> = HashMap::new();
        for (p, dflt) in &td.params {
            match (args.get(p), dflt) {
                (Some(a), _) => {
                    bound.insert(p.clone(), a.clone());
                }
                (None, Some(dv)) => {
                    bound.insert(p.clone(), dv.clone());
                }
                (None, None) => {
                    if depth == 0 {
                        d.error_hint(
                            pos,
                            "missing-argument",
                            format!("template `{name}` needs argument `{p}`"),
                            format!("pass it: `{{template: {name}, args: {{{p}: ...}}}}`"),
                        );
                    }
                    // A placeholder keeps the body from reporting `$p` as undefined as well.
                    bound.insert(
                        p.clone(),
                        Node {
                            pos: td.pos,
                            kind: NodeKind::Str("?".into()),
                        },
                    );
                }
            }
        }
        if depth == 0 {
            if let Some(an) = args_node.and_then(|a| a.as_map()) {
                for (k, _) in an {
                    if !td.params.iter().any(|(p, _)| p == &k.name) {
                        let names: Vec<String> = td.params.iter().map(|(p, _)| p.clone()).collect();
                        let hint = if names.is_empty() {
                            format!("template `{name}` takes no parameters")
                        } else {
                            format!("parameters of `{name}`: {}", names.join(", "))
                        };
                        d.error_hint(
                            k.pos,
                            "unknown-argument",
                            format!("template `{name}` has no parameter `{}`", k.name),
                            hint,
                        );
                    }
                }
            }
        }
        let mut t = match &td.modifies {
            Some((base, bpos)) => {
                // Arguments pass through to the base template (TTCN-3 modified templates share
                // the parameter list).
                let mut pass = args.clone();
                pass.extend(bound.clone());
                self.instantiate(base, *bpos, &pass, None, scope, d, depth + 1)?
            }
            None => Template::default(),
        };
        // The body is compiled into its own diagnostics: problems of the template itself are
        // reported once, where it is defined (by the definition check, `scope.lenient`), not at
        // every use; problems of the arguments belong to the use site.
        let mut arg_positions = std::collections::HashSet::new();
        for a in args.values() {
            collect_positions(a, &mut arg_positions);
        }
        let mut body_d = Diags::new(&td.file);
        let mut comp = Compiler::new(self.proto.as_ref(), &bound);
        let fields = comp.fields(&td.body, "", TEMPLATE_META_KEYS, &mut body_d);
        let definition_check = scope.report_bodies && depth == 0;
        for diag in body_d.list {
            if arg_positions.contains(&diag.pos) && diag.file != d.file {
                d.list.push(Diagnostic {
                    file: d.file.clone(),
                    ..diag
                });
            } else if arg_positions.contains(&diag.pos) || definition_check {
                d.list.push(diag);
            }
        }
        for (v, p) in &comp.vars {
            if arg_positions.contains(p) {
                self.check_var(v, *p, scope, d);
            } else if !scope.lenient && !scope.vars.contains(v) {
                d.error_hint(
                    pos,
                    "undefined-variable",
                    format!("template `{name}` uses variable `${v}`, which is not defined here"),
                    format!(
                        "`${v}` is used at {}:{}:{}; capture it in an earlier step, declare it as a module parameter, or make it a template parameter",
                        td.file.display(),
                        p.line,
                        p.col
                    ),
                );
            }
        }
        t.merge(fields);
        t.name = name.into();
        Some(t)
    }

    fn check_vars(&self, vars: &[(String, Pos)], scope: &Scope, d: &mut Diags) {
        for (v, p) in vars {
            self.check_var(v, *p, scope, d);
        }
    }

    fn check_var(&self, v: &str, p: Pos, scope: &Scope, d: &mut Diags) {
        if scope.lenient || scope.vars.contains(v) {
            return;
        }
        let hint = match did_you_mean(v, scope.vars.iter().map(|s| s.as_str())) {
            Some(s) => format!("did you mean `${s}`?"),
            None => "variables are module parameters, the component identity (mac, xid, client_id, chaddr) and captures of earlier steps".into(),
        };
        d.error_hint(
            p,
            "undefined-variable",
            format!("variable `${v}` is not defined here"),
            hint,
        );
    }
}

const UNKNOWN_CODES: [&str; 4] = [
    "unknown-template",
    "unknown-altstep",
    "unknown-component",
    "unknown-name",
];
fn what_index(what: &str) -> usize {
    match what {
        "template" => 0,
        "altstep" => 1,
        "component" => 2,
        _ => 3,
    }
}

fn timers_started(steps: &[Step], out: &mut HashSet<String>) {
    for s in steps {
        match s {
            Step::StartTimer { name, .. } => {
                out.insert(name.clone());
            }
            Step::Repeat { steps, .. } => timers_started(steps, out),
            Step::Alt { branches, .. } => {
                branches.iter().for_each(|b| timers_started(&b.steps, out))
            }
            _ => {}
        }
    }
}

fn collect_positions(n: &Node, out: &mut HashSet<Pos>) {
    out.insert(n.pos);
    match &n.kind {
        NodeKind::Seq(items) => items.iter().for_each(|i| collect_positions(i, out)),
        NodeKind::Map(m) => m.iter().for_each(|(k, v)| {
            out.insert(k.pos);
            collect_positions(v, out);
        }),
        _ => {}
    }
}

fn contains_start(steps: &[Step]) -> bool {
    steps.iter().any(|s| match s {
        Step::Start { .. } => true,
        Step::Repeat { steps, .. } => contains_start(steps),
        Step::Alt { branches, .. } => branches.iter().any(|b| contains_start(&b.steps)),
        _ => false,
    })
}

fn fmt_dur(d: Duration) -> String {
    if d.as_millis().is_multiple_of(1000) {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

fn param_def(k: &Key, v: &Node, d: &mut Diags) -> Option<ParamDef> {
    let (ty_node, default, doc) = match &v.kind {
        NodeKind::Map(m) => {
            check_keys(m, PARAM_KEYS, "param", d);
            (
                v.get("type"),
                v.get("default"),
                v.get("doc").and_then(|n| n.scalar_text()),
            )
        }
        _ => {
            d.error_hint(
                v.pos,
                "wrong-type",
                format!("parameter `{}` must be a mapping", k.name),
                "server_ip: { type: ipv4, default: 192.0.2.1 }",
            );
            return None;
        }
    };
    let Some(tn) = ty_node else {
        d.error_hint(
            v.pos,
            "missing-field",
            format!("parameter `{}` needs a `type`", k.name),
            "types: ipv4, ipv6, int, string, bytes, mac, bool, duration",
        );
        return None;
    };
    let Some(ty) = tn.as_str().and_then(ParamType::parse_name) else {
        d.error_hint(
            tn.pos,
            "bad-value",
            format!(
                "unknown parameter type {}",
                tn.scalar_text()
                    .map(|s| format!("`{s}`"))
                    .unwrap_or_default()
            ),
            "types: ipv4, ipv6, int, string, bytes, mac, bool, duration",
        );
        return None;
    };
    let default = match default {
        None
        | Some(Node {
            kind: NodeKind::Null,
            ..
        }) => None,
        Some(n) => match n.scalar_text().map(|s| ty.parse_text(&s)) {
            Some(Ok(v)) => Some(v),
            Some(Err(e)) => {
                d.error(n.pos, "bad-value", format!("default of `{}`: {e}", k.name));
                None
            }
            None => {
                d.error(
                    n.pos,
                    "wrong-type",
                    format!("default of `{}` must be a scalar", k.name),
                );
                None
            }
        },
    };
    Some(ParamDef {
        name: k.name.clone(),
        ty,
        default,
        doc,
        pos: k.pos,
    })
}

fn template_def(file: &Path, k: &Key, v: &Node, d: &mut Diags) -> Option<TemplateDef> {
    if v.as_map().is_none() {
        d.error(
            v.pos,
            "wrong-type",
            format!(
                "template `{}` must be a mapping of fields, found {}",
                k.name,
                v.type_name()
            ),
        );
        return None;
    }
    let mut params = Vec::new();
    if let Some(p) = v.get("params") {
        for item in seq_or_err(p, d) {
            match &item.kind {
                NodeKind::Str(s) => params.push((s.clone(), None)),
                NodeKind::Map(m) if m.len() == 1 => {
                    params.push((m[0].0.name.clone(), Some(m[0].1.clone())))
                }
                _ => d.error_hint(
                    item.pos,
                    "wrong-type",
                    "a template parameter is a name or `{name: default}`",
                    "params: [xid, {ip: \"?\"}]",
                ),
            }
        }
    }
    let modifies = v
        .get("modifies")
        .and_then(|m| m.scalar_text().map(|s| (s, m.pos)));
    Some(TemplateDef {
        name: k.name.clone(),
        pos: k.pos,
        file: file.to_path_buf(),
        params,
        modifies,
        body: v.clone(),
    })
}

fn spec_ref(n: &Node, d: &mut Diags) -> Option<SpecRef> {
    match &n.kind {
        NodeKind::Str(s) => {
            // "RFC 2131 §4.3.1" or "RFC 2131 Table 3"
            if let Some((doc, sec)) = s.split_once('§') {
                return Some(SpecRef {
                    doc: doc.trim().to_string(),
                    section: sec.trim().to_string(),
                });
            }
            let parts: Vec<&str> = s.split_whitespace().collect();
            if parts.len() >= 3 && parts[0].eq_ignore_ascii_case("rfc") {
                return Some(SpecRef {
                    doc: format!("RFC {}", parts[1]),
                    section: parts[2..].join(" "),
                });
            }
            d.error_hint(
                n.pos,
                "bad-spec",
                format!("cannot read spec reference `{s}`"),
                "write `RFC 2131 §4.3.1` or `{rfc: 2131, section: \"4.3.1\"}`",
            );
            None
        }
        NodeKind::Map(m) => {
            check_keys(m, &["rfc", "doc", "section"], "spec", d);
            let doc = match (n.get("rfc"), n.get("doc")) {
                (Some(r), _) => r.scalar_text().map(|s| format!("RFC {s}")),
                (None, Some(x)) => x.scalar_text(),
                _ => None,
            };
            let section = n.get("section").and_then(|s| s.scalar_text());
            match (doc, section) {
                (Some(doc), Some(section)) => Some(SpecRef { doc, section }),
                _ => {
                    d.error_hint(
                        n.pos,
                        "bad-spec",
                        "a spec reference needs `rfc` (or `doc`) and `section`",
                        "spec: {rfc: 2131, section: \"4.3.1\"}",
                    );
                    None
                }
            }
        }
        _ => {
            d.error(
                n.pos,
                "bad-spec",
                format!(
                    "a spec reference is a string or mapping, found {}",
                    n.type_name()
                ),
            );
            None
        }
    }
}

fn verdict(n: &Node, d: &mut Diags) -> Option<Verdict> {
    match n.as_str() {
        Some("error") => {
            d.error_hint(
                n.pos,
                "bad-verdict",
                "a suite cannot set the `error` verdict",
                "`error` is reserved for harness faults; use `fail` or `inconc`",
            );
            None
        }
        Some(s) => match Verdict::parse_settable(s) {
            Some(v) => Some(v),
            None => {
                d.error_hint(
                    n.pos,
                    "bad-verdict",
                    format!("unknown verdict `{s}`"),
                    "verdicts: none, pass, inconc, fail",
                );
                None
            }
        },
        None => {
            d.error(
                n.pos,
                "bad-verdict",
                format!(
                    "a verdict is one of none, pass, inconc, fail; found {}",
                    n.type_name()
                ),
            );
            None
        }
    }
}

fn duration(n: &Node, d: &mut Diags) -> Option<Duration> {
    let r = match &n.kind {
        NodeKind::Int(i) if *i >= 0 => Some(Duration::from_millis(*i as u64)),
        NodeKind::Str(s) => parse_duration(s),
        _ => None,
    };
    if r.is_none() {
        d.error_hint(
            n.pos,
            "bad-duration",
            format!(
                "invalid duration {}",
                n.scalar_text()
                    .map(|s| format!("`{s}`"))
                    .unwrap_or_else(|| n.type_name().into())
            ),
            "write `2s`, `500ms`, `1.5s` or a number of milliseconds",
        );
    }
    r
}

fn boolean(n: &Node, d: &mut Diags) -> bool {
    match n.kind {
        NodeKind::Bool(b) => b,
        _ => {
            d.error(
                n.pos,
                "wrong-type",
                format!("expected true or false, found {}", n.type_name()),
            );
            false
        }
    }
}

fn strings(n: &Node, d: &mut Diags) -> Vec<String> {
    match &n.kind {
        NodeKind::Str(s) => vec![s.clone()],
        NodeKind::Seq(items) => items
            .iter()
            .filter_map(|i| {
                let s = i.scalar_text();
                if s.is_none() {
                    d.error(
                        i.pos,
                        "wrong-type",
                        format!("expected a string, found {}", i.type_name()),
                    );
                }
                s
            })
            .collect(),
        _ => {
            d.error(
                n.pos,
                "wrong-type",
                format!("expected a list of strings, found {}", n.type_name()),
            );
            vec![]
        }
    }
}

fn seq_or_err<'n>(n: &'n Node, d: &mut Diags) -> &'n [Node] {
    match n.as_seq() {
        Some(s) => s,
        None => {
            if !matches!(n.kind, NodeKind::Null) {
                d.error(
                    n.pos,
                    "wrong-type",
                    format!("expected a list, found {}", n.type_name()),
                );
            }
            &[]
        }
    }
}

fn map_or_err<'n>(n: &'n Node, d: &mut Diags) -> &'n [(Key, Node)] {
    match n.as_map() {
        Some(m) => m,
        None => {
            if !matches!(n.kind, NodeKind::Null) {
                d.error(
                    n.pos,
                    "wrong-type",
                    format!("expected a mapping, found {}", n.type_name()),
                );
            }
            &[]
        }
    }
}

fn check_keys(m: &[(Key, Node)], allowed: &[&str], what: &str, d: &mut Diags) {
    for (k, _) in m {
        if !allowed.contains(&k.name.as_str()) {
            let hint = match did_you_mean(&k.name, allowed.iter().copied()) {
                Some(s) => format!("did you mean `{s}`?"),
                None => format!("fields of a {what}: {}", allowed.join(", ")),
            };
            d.error_hint(
                k.pos,
                "unknown-field",
                format!("unknown field `{}` in {what}", k.name),
                hint,
            );
        }
    }
}
