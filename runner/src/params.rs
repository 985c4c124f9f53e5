//! Module parameter resolution: suite default < target profile < `--param k=v`.

use conform_codec::Value;
use conform_model::suite::ParamDef;
use std::collections::HashMap;

/// Resolves every parameter of a suite. Values from profiles and the command line are text and
/// are parsed with the parameter's declared type. Names that no loaded suite declares are
/// reported by the caller (`unknown_params`), so a typo in `--param` is never silently ignored.
pub fn resolve(
    defs: &[ParamDef],
    profile: &HashMap<String, String>,
    cli: &HashMap<String, String>,
) -> Result<HashMap<String, Value>, String> {
    let mut out = HashMap::new();
    let mut missing = Vec::new();
    for p in defs {
        let text = cli
            .get(&p.name)
            .map(|v| ("--param", v))
            .or_else(|| profile.get(&p.name).map(|v| ("target profile", v)));
        match (text, &p.default) {
            (Some((src, t)), _) => {
                let v =
                    p.ty.parse_text(t)
                        .map_err(|e| format!("parameter `{}` from {src}: {e}", p.name))?;
                out.insert(p.name.clone(), v);
            }
            (None, Some(d)) => {
                out.insert(p.name.clone(), d.clone());
            }
            (None, None) => missing.push(p.name.clone()),
        }
    }
    if !missing.is_empty() {
        return Err(format!(
            "module parameter{} {} ha{} no value: give --param {}=... or use a target profile that sets {}",
            if missing.len() > 1 { "s" } else { "" },
            missing.iter().map(|m| format!("`{m}`")).collect::<Vec<_>>().join(", "),
            if missing.len() > 1 { "ve" } else { "s" },
            missing[0],
            if missing.len() > 1 { "them" } else { "it" }
        ));
    }
    Ok(out)
}

/// `--param` names that no suite declares.
pub fn unknown_params<'a>(
    all_defs: impl Iterator<Item = &'a ParamDef>,
    cli: &HashMap<String, String>,
) -> Vec<String> {
    let known: std::collections::HashSet<&str> = all_defs.map(|p| p.name.as_str()).collect();
    let mut v: Vec<String> = cli
        .keys()
        .filter(|k| !known.contains(k.as_str()))
        .cloned()
        .collect();
    v.sort();
    v
}

/// Parses `k=v` command-line pairs.
pub fn parse_pairs(items: &[String]) -> Result<HashMap<String, String>, String> {
    let mut out = HashMap::new();
    for i in items {
        let Some((k, v)) = i.split_once('=') else {
            return Err(format!("--param `{i}` is not of the form name=value"));
        };
        out.insert(k.trim().to_string(), v.to_string());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use conform_model::node::Pos;
    use conform_model::suite::ParamType;

    fn def(name: &str, ty: ParamType, d: Option<Value>) -> ParamDef {
        ParamDef {
            name: name.into(),
            ty,
            default: d,
            doc: None,
            pos: Pos::default(),
        }
    }

    #[test]
    fn precedence_default_profile_cli() {
        let defs = vec![def("n", ParamType::Int, Some(Value::Int(1)))];
        let none = HashMap::new();
        assert_eq!(resolve(&defs, &none, &none).unwrap()["n"], Value::Int(1));
        let prof: HashMap<_, _> = [("n".to_string(), "2".to_string())].into();
        assert_eq!(resolve(&defs, &prof, &none).unwrap()["n"], Value::Int(2));
        let cli: HashMap<_, _> = [("n".to_string(), "3".to_string())].into();
        assert_eq!(resolve(&defs, &prof, &cli).unwrap()["n"], Value::Int(3));
    }

    #[test]
    fn missing_and_bad_values_are_errors() {
        let defs = vec![def("ip", ParamType::Ipv4, None)];
        let none = HashMap::new();
        let e = resolve(&defs, &none, &none).unwrap_err();
        assert!(e.contains("`ip` has no value"), "{e}");
        let cli: HashMap<_, _> = [("ip".to_string(), "nope".to_string())].into();
        let e = resolve(&defs, &none, &cli).unwrap_err();
        assert!(e.contains("--param") && e.contains("IPv4"), "{e}");
        assert!(parse_pairs(&["x".into()]).is_err());
        let d = vec![def("ms", ParamType::Duration, None)];
        let cli: HashMap<_, _> = [("ms".to_string(), "1.5s".to_string())].into();
        assert_eq!(resolve(&d, &none, &cli).unwrap()["ms"], Value::Int(1500));
    }
}
