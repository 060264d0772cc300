//! The metric accumulators against scikit-learn and scipy on ~300 random and edge cases
//! (tests/fixtures/reference/metric_cases.json, written by scripts/metric_cases.py).
//! Every value must agree to 1e-9; NaN (stored as null) must stay NaN.

use evalrun_core::metrics::{pearson, spearman};
use evalrun_core::ConfusionMatrix;
use serde_json::Value;

fn close(name: &str, case: &Value, got: f64) {
    let expected = &case[name];
    if expected.is_null() {
        assert!(
            got.is_nan(),
            "{} {name}: expected NaN, got {got}",
            case["name"]
        );
    } else {
        let expected = expected.as_f64().unwrap();
        assert!(
            (got - expected).abs() <= 1e-9,
            "{} {name}: {got} vs reference {expected}",
            case["name"]
        );
    }
}

#[test]
fn metrics_equal_sklearn_and_scipy() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/reference/metric_cases.json"
    );
    let cases: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let cases = cases["cases"].as_array().unwrap();
    let (mut classification, mut regression) = (0, 0);
    for case in cases {
        let ints = |k: &str| -> Vec<usize> {
            case[k]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap() as usize)
                .collect()
        };
        let floats = |k: &str| -> Vec<f64> {
            case[k]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap())
                .collect()
        };
        match case["kind"].as_str().unwrap() {
            "classification" => {
                let (labels, predictions) = (ints("labels"), ints("predictions"));
                let mut matrix = ConfusionMatrix::new(case["n_classes"].as_u64().unwrap() as usize);
                for (g, p) in labels.iter().zip(&predictions) {
                    matrix.push(*g, *p);
                }
                close("accuracy", case, matrix.accuracy());
                close("mcc", case, matrix.mcc());
                if case.get("f1").is_some() {
                    close("f1", case, matrix.f1(1));
                }
                classification += 1;
            }
            "regression" => {
                let (x, y) = (floats("x"), floats("y"));
                close("pearson", case, pearson(&x, &y));
                close("spearman", case, spearman(&x, &y));
                regression += 1;
            }
            other => panic!("unknown case kind {other}"),
        }
    }
    assert!(
        classification > 100 && regression > 100,
        "{classification} / {regression}"
    );
}
