//! Test helpers shared by every module: the reference files, schema validation, YAML example
//! extraction and the one snapshot helper.

use std::path::PathBuf;

use serde::Serialize;
use serde_json::Value;

/// The official schemas and YAML model, copied into the repository under `fixtures/semconv`.
pub(crate) fn semconv_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/semconv")
}

/// A file of this crate's test fixtures.
pub(crate) fn fixture_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/it/fixtures")
        .join(name)
}

/// Reads and parses a JSON file.
pub(crate) fn read_json(path: PathBuf) -> Value {
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|err| panic!("cannot read {}: {err}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

/// The schema file names.
pub(crate) const INPUT_SCHEMA: &str = "gen-ai-input-messages.json";
pub(crate) const OUTPUT_SCHEMA: &str = "gen-ai-output-messages.json";
pub(crate) const SYSTEM_SCHEMA: &str = "gen-ai-system-instructions.json";
pub(crate) const TOOLS_SCHEMA: &str = "gen-ai-tool-definitions.json";
pub(crate) const DOCUMENTS_SCHEMA: &str = "gen-ai-retrieval-documents.json";

/// The URI the tool-definitions schema uses for the draft-07 meta-schema.
const DRAFT_07: &str = "http://json-schema.org/draft-07/schema";

/// A validator for one of the official schemas, compiled offline.
///
/// The tool-definitions schema refers to the draft-07 meta-schema as
/// `http://json-schema.org/draft-07/schema#`. jsonschema 0.60 bundles that meta-schema under the
/// key with `#` but looks it up without, and fails ("Retrieving external resources is not
/// supported once the registry is populated"); so the tests register the meta-schema (a copy of
/// the one jsonschema bundles, in the fixtures) under the URI without `#`. No network is used.
pub(crate) fn validator(schema: &str) -> jsonschema::Validator {
    let schema = read_json(semconv_dir().join(schema));
    let meta = read_json(fixture_path("json-schema-draft-07.json"));
    let registry = jsonschema::Registry::new()
        .add(DRAFT_07, meta)
        .expect("a valid URI")
        .prepare()
        .expect("the meta-schema registers");
    jsonschema::options()
        .with_registry(&registry)
        .build(&schema)
        .expect("the official schema compiles")
}

/// Asserts that `instance` validates, listing every error otherwise.
pub(crate) fn assert_valid(validator: &jsonschema::Validator, instance: &Value, what: &str) {
    let errors: Vec<String> = validator
        .iter_errors(instance)
        .map(|err| format!("{} at {}", err, err.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{what} does not validate: {errors:#?}\n{instance:#}"
    );
}

/// The `- |` block examples of one attribute in a YAML model file, as text.
///
/// A small extractor for the block scalars the model files use, so the tests need no YAML
/// parser: it finds `- id: {attribute}`, then its `examples:` list, then every `- |` block.
pub(crate) fn yaml_block_examples(file: &str, attribute: &str) -> Vec<String> {
    let text = std::fs::read_to_string(semconv_dir().join("model").join(file)).expect("model file");
    let lines: Vec<&str> = text.lines().collect();
    let start = lines
        .iter()
        .position(|line| line.trim() == format!("- id: {attribute}"))
        .unwrap_or_else(|| panic!("{attribute} not in {file}"));
    let attr_indent = indent(lines[start]);
    let mut examples = Vec::new();
    let mut i = start + 1;
    while i < lines.len() {
        let line = lines[i];
        if !line.trim().is_empty() && indent(line) <= attr_indent {
            break;
        }
        if line.trim() == "- |" {
            let block_indent = indent(line);
            let mut block = Vec::new();
            i += 1;
            while i < lines.len() && (lines[i].trim().is_empty() || indent(lines[i]) > block_indent)
            {
                block.push(lines[i]);
                i += 1;
            }
            let min = block
                .iter()
                .filter(|l| !l.trim().is_empty())
                .map(|l| indent(l))
                .min()
                .unwrap_or(0);
            let dedented: Vec<String> = block
                .iter()
                .map(|l| l.chars().skip(min).collect::<String>())
                .collect();
            examples.push(dedented.join("\n"));
            continue;
        }
        i += 1;
    }
    examples
}

fn indent(line: &str) -> usize {
    line.chars().take_while(|c| *c == ' ').count()
}

/// The one snapshot helper: a JSON snapshot named `name`.
pub(crate) fn check<T: Serialize>(name: &str, value: &T) {
    insta::with_settings!({ prepend_module_to_snapshot => false, omit_expression => true }, {
        insta::assert_json_snapshot!(name, value);
    });
}
