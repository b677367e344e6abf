from classifiers.evaluate import evaluate


def test_macro_f1_per_category_and_confusion():
    gold = ["roads", "roads", "waste", "waste"]
    predicted = ["roads", "waste", "waste", "none"]
    report = evaluate(gold, predicted)
    assert report.per_category["roads"] == {"precision": 1.0, "recall": 0.5, "f1": 0.6667, "support": 2}
    assert report.per_category["waste"] == {"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2}
    assert round(report.macro_f1, 4) == round((0.6667 + 0.5) / 2, 4)
    assert report.accuracy == 0.5
    assert report.confusion == {"roads": {"roads": 1, "waste": 1}, "waste": {"none": 1, "waste": 1}}
    assert set(report.to_json()) == {"macro_f1", "accuracy", "support", "per_category", "confusion"}
