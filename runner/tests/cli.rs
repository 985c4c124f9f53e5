//! The `conform` binary: exit codes, diagnostics on stderr, case selection, the schema.
//! Exit codes: 0 all passed, 1 a case failed, 2 invalid suite or usage, 3 harness error.

use std::path::PathBuf;
use std::process::{Command, Output};

fn conform(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_conform"))
        .args(args)
        .current_dir(workspace())
        .output()
        .expect("run conform")
}

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The case ids of `conform list` output (first column).
fn ids_of(o: &Output) -> Vec<String> {
    stdout(o)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

const BROKEN: &str = "protocol: dhcp
cases:
  - id: broken
    spec: RFC 2131 §4.3.1
    level: MUST
    text: the server answers
    steps:
      - send: { with: { yiadr: 192.0.2.1 } }
      - wait: 2 seconds
";

#[test]
fn check_broken_suite_exits_2_with_file_line_column() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("broken.yaml");
    std::fs::write(&f, BROKEN).unwrap();
    let o = conform(&["check", f.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    let loc = format!(
        "{}:8:25: error[unknown-field-path]: unknown field path `yiadr`",
        f.display()
    );
    assert!(err.contains(&loc), "{err}");
    assert!(err.contains("did you mean `yiaddr`?"), "{err}");
    assert!(
        err.contains(&format!("{}:9:15: error[bad-duration]", f.display())),
        "{err}"
    );
    assert!(err.contains("error: 2 problem(s) in 1 file(s)"), "{err}");
    assert!(stdout(&o).is_empty(), "nothing on stdout: {}", stdout(&o));
}

#[test]
fn check_without_paths_is_a_usage_error() {
    let o = conform(&["check"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("no suite paths given"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn check_examples_passes() {
    let o = conform(&["check", "suites/examples"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.starts_with("ok: "), "{out}");
    // The library (lib/common.yaml) is checked too, but it has no cases.
    assert!(out.contains("file(s) checked"), "{out}");
}

#[test]
fn list_filters_by_pattern_and_tag() {
    let all = conform(&["list", "suites/examples"]);
    assert_eq!(all.status.code(), Some(0), "{}", stderr(&all));
    let all_ids = ids_of(&all);
    assert!(
        all_ids.contains(&"dora-offer-from-pool".to_string()),
        "{all_ids:?}"
    );
    assert!(
        all_ids.contains(&"nak-broadcast".to_string()),
        "{all_ids:?}"
    );

    let some = conform(&[
        "list",
        "suites/examples",
        "-k",
        "^dora-",
        "--tag",
        "binding",
    ]);
    assert_eq!(some.status.code(), Some(0), "{}", stderr(&some));
    let ids = ids_of(&some);
    assert_eq!(
        ids,
        vec!["dora-rediscover-keeps-address"],
        "{}",
        stdout(&some)
    );
    assert!(stderr(&some).contains("1 case(s)"), "{}", stderr(&some));

    // Several --tag options must all be present.
    let none = conform(&["list", "suites/examples", "--tag", "nak", "--tag", "dora"]);
    assert_eq!(none.status.code(), Some(0));
    assert!(stdout(&none).is_empty(), "{}", stdout(&none));
    assert!(stderr(&none).contains("0 case(s)"), "{}", stderr(&none));
}

#[test]
fn list_shows_spec_level_and_tags() {
    let o = conform(&["list", "suites/examples", "-k", "^client-id-echo$"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let line = stdout(&o);
    assert!(line.contains("client-id-echo"), "{line}");
    assert!(line.contains("RFC 6842 §3"), "{line}");
    assert!(line.contains("MUST"), "{line}");
    assert!(line.contains("[client-id, rfc6842]"), "{line}");
}

#[test]
fn list_with_a_bad_pattern_is_a_usage_error() {
    let o = conform(&["list", "suites/examples", "-k", "("]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("is not a valid regular expression"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn run_without_a_target_exits_2_with_a_clear_message() {
    let o = conform(&["run", "suites/examples"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    // The message names every way to give a target.
    let err = stderr(&o);
    assert!(err.starts_with("error: "), "{err}");
    for flag in ["--target", "--iface", "--udp"] {
        assert!(err.contains(flag), "{flag} missing from: {err}");
    }
}

#[test]
fn run_with_an_unknown_param_exits_2() {
    let o = conform(&[
        "run",
        "suites/examples",
        "--udp",
        "127.0.0.1:9",
        "--param",
        "sever_ip=192.0.2.1",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("--param names no suite declares: sever_ip"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn run_with_a_malformed_param_exits_2() {
    let o = conform(&[
        "run",
        "suites/examples",
        "--udp",
        "127.0.0.1:9",
        "--param",
        "server_ip",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("is not of the form name=value"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn run_of_a_broken_suite_exits_2_before_touching_the_network() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("broken.yaml");
    std::fs::write(&f, BROKEN).unwrap();
    let o = conform(&["run", f.to_str().unwrap(), "--udp", "127.0.0.1:9"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("error[unknown-field-path]"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn unknown_subcommand_is_a_usage_error() {
    let o = conform(&["chekc"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn schema_output_equals_the_checked_in_schema() {
    let o = conform(&["schema"]);
    assert_eq!(o.status.code(), Some(0));
    let file = std::fs::read_to_string(workspace().join("schemas/suite.schema.json")).unwrap();
    assert_eq!(
        stdout(&o).trim_end(),
        file.trim_end(),
        "regenerate with `conform schema > schemas/suite.schema.json`"
    );
}
