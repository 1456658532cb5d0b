//! The deterministic metrics against data the reference's own code produced: nltk's stemmer on
//! 8,375 words and ADK's ROUGE-1 on 425 text pairs (tests/data, generated with nltk 3.10.4,
//! rouge-score 0.1.2 and ADK 2.13.0's tokenizer), and their edge cases.

use agentrace_eval::metrics::porter::stem;
use agentrace_eval::metrics::rouge::{rouge1, tokenize};
use serde_json::Value;

use crate::testkit::data;

#[test]
fn porter_stems_as_nltk() {
    let text = std::fs::read_to_string(data("porter_nltk.tsv")).unwrap();
    let mut wrong = Vec::new();
    let mut n = 0;
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let (word, want) = line.split_once('\t').unwrap();
        n += 1;
        let got = stem(word);
        if got != want {
            wrong.push(format!("{word}: {got} != nltk {want}"));
        }
    }
    assert_eq!(n, 8375);
    assert!(
        wrong.is_empty(),
        "{} of {n} differ:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

#[test]
fn rouge_scores_as_adk() {
    let text = std::fs::read_to_string(data("rouge_adk.jsonl")).unwrap();
    let mut wrong = Vec::new();
    let mut n = 0;
    for line in text.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        let (r, c) = (
            v["reference"].as_str().unwrap(),
            v["candidate"].as_str().unwrap(),
        );
        n += 1;
        let toks: Vec<String> = v["tokens"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap().to_owned())
            .collect();
        let ours = tokenize(c);
        if ours != toks {
            wrong.push(format!("tokens of {c:?}: {ours:?} != {toks:?}"));
        }
        let f = rouge1(c, r).fmeasure;
        let want = v["fmeasure"].as_f64().unwrap();
        if (f - want).abs() > 1e-9 {
            wrong.push(format!("{c:?} vs {r:?}: {f} != {want}"));
        }
    }
    assert_eq!(n, 425);
    assert!(
        wrong.is_empty(),
        "{} differ:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

#[test]
fn rouge_edge_cases() {
    // Empty on either side scores 0.
    assert_eq!(rouge1("", "").fmeasure, 0.0);
    assert_eq!(rouge1("hello", "").fmeasure, 0.0);
    // CJK: one token per character; combining marks stay on their letter.
    assert_eq!(tokenize("東京の天気"), ["東", "京", "の", "天", "気"]);
    assert_eq!(tokenize("cafe\u{301} café"), ["café", "café"]);
    // NFKC: full-width letters and ligatures are plain ASCII and get stemmed.
    assert_eq!(tokenize("Ｒｕｎｎｉｎｇ ﬁles"), ["run", "file"]);
    // Thai splits per base character with its marks.
    assert_eq!(tokenize("สวัสดี"), ["ส", "วั", "ส", "ดี"]);
    // Emoji are separators.
    assert_eq!(tokenize("ok👍🏽done"), ["ok", "done"]);
}
