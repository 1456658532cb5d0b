//! The incremental extractor ends with the batch result whatever the order and batching.

use std::path::Path;

use agentrace_loader::extract::{self, ExpectedCase, ExtractOptions};
use agentrace_loader::incremental::IncrementalExtractor;
use agentrace_loader::read::{Format, LoadOptions, load_path};
use agentrace_loader::report::Report;
use agentrace_loader::trace::TraceSet;
use proptest::prelude::*;

const CASES: [&str; 5] = [
    "multi_turn_cart",
    "logs_inference_details_recipe",
    "session_logs_good",
    "jsonl_three_traces",
    "helm_jaeger_pass",
];

fn case(name: &str) -> (agentrace_loader::model::Telemetry, ExtractOptions) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/fixtures/conformance")
        .join(name);
    let trace = ["trace.json", "trace.jsonl"]
        .iter()
        .map(|n| dir.join(n))
        .find(|p| p.exists())
        .unwrap();
    let loaded = load_path(&trace, LoadOptions::default()).unwrap();
    let eval: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("eval_set.json")).unwrap()).unwrap();
    let opts = ExtractOptions {
        cases: Some(ExpectedCase::from_eval_set_json(&eval)),
        ..ExtractOptions::default()
    };
    (loaded.telemetry, opts)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn any_order_and_batching_gives_the_batch_result(
        which in 0..CASES.len(),
        seed in any::<u64>(),
        batch in 1usize..20,
    ) {
        let (telemetry, opts) = case(CASES[which]);
        let set = TraceSet::build(telemetry.clone());
        let expected = Report::new(Format::OtlpJson, &set, &extract::extract(&set, &opts));

        // Shuffle spans and logs together with a simple seeded generator.
        let mut items: Vec<Result<_, _>> = telemetry.spans.into_iter().map(Ok).collect();
        items.extend(telemetry.logs.into_iter().map(Err));
        let mut state = seed | 1;
        for i in (1..items.len()).rev() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let j = usize::try_from(state % (i as u64 + 1)).unwrap();
            items.swap(i, j);
        }
        let mut inc = IncrementalExtractor::new();
        for chunk in items.chunks(batch) {
            let mut spans = Vec::new();
            let mut logs = Vec::new();
            for item in chunk.iter().cloned() {
                match item {
                    Ok(s) => spans.push(s),
                    Err(l) => logs.push(l),
                }
            }
            inc.push_spans(spans);
            inc.push_logs(logs);
            // Asking for a result mid-way must not disturb the final one.
            let _ = inc.extract(&opts);
        }
        let set2 = inc.trace_set();
        let got = Report::new(Format::OtlpJson, &set2, &inc.extract(&opts));
        prop_assert_eq!(got, expected);
    }
}
