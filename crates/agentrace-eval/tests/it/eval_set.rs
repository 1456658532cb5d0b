//! Eval set files: what ADK accepts is read, anything else is refused with the file, line and
//! field named.

use agentrace_eval::eval_set::{EvalSet, EvalSetError};

use crate::testkit::cases;

#[test]
fn every_corpus_eval_set_reads() {
    for dir in cases() {
        let set = EvalSet::from_path(&dir.join("eval_set.json")).unwrap();
        assert!(!set.eval_cases.is_empty(), "{}", dir.display());
    }
}

#[test]
fn camel_case_keys_are_accepted() {
    let set = EvalSet::from_json(
        r#"{"evalSetId": "s", "evalCases": [{"evalId": "c", "conversation": [
            {"invocationId": "i", "userContent": {"parts": [{"text": "hi"}]},
             "intermediateData": {"toolUses": [{"name": "t", "args": {"a": 1}}]}}]}]}"#,
    )
    .unwrap();
    let inv = &set.eval_cases[0].conversation[0];
    assert_eq!(
        inv.intermediate_data.as_ref().unwrap().tool_uses[0].name,
        "t"
    );
}

#[test]
fn errors_name_file_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.json");
    std::fs::write(
        &path,
        "{\"eval_set_id\": \"s\",\n \"eval_cases\": [{\"eval_id\": \"c\",\n  \"conversation\": [{\"user_content\": {\"parts\": []},\n   \"final_respons\": {}}]}]}",
    )
    .unwrap();
    let err = EvalSet::from_path(&path).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("bad.json:4:"), "{msg}");
    assert!(msg.contains("eval_cases[0].conversation[0]"), "{msg}");
    assert!(msg.contains("final_respons"), "{msg}");
    assert!(matches!(err, EvalSetError::Parse { line: 4, .. }));

    // The eval cases are required, as in ADK.
    let msg = EvalSet::from_json(r#"{"eval_set_id": "s"}"#)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("eval_cases"), "{msg}");
    // A tool call's name must be a string.
    let msg = EvalSet::from_json(
        r#"{"eval_set_id": "s", "eval_cases": [{"eval_id": "c", "conversation": [
          {"user_content": {"parts": []}, "intermediate_data": {"tool_uses": [{"name": 3}]}}]}]}"#,
    )
    .unwrap_err()
    .to_string();
    assert!(
        msg.contains("eval_cases[0].conversation[0].intermediate_data.tool_uses[0].name"),
        "{msg}"
    );
    // A missing file.
    let msg = EvalSet::from_path(&dir.path().join("none.json"))
        .unwrap_err()
        .to_string();
    assert!(msg.contains("none.json"), "{msg}");
}
