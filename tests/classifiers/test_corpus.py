import json

import pytest

from classifiers.corpus import NOT_A_REQUEST, CorpusError, read_examples, shipped_corpus

CODES = {"streetlight", "roads", "signs_signals", "trees", "waste", "graffiti", "parking_vehicles", "water_drains", "parks", "pests_animals", "noise"}


def test_shipped_corpus_covers_every_category_in_every_language():
    examples = shipped_corpus(CODES)
    for lang in ("es", "en", "fr"):
        mine = [e for e in examples if e.lang == lang]
        assert len(mine) >= 300, lang
        counts = {code: sum(e.category == code for e in mine) for code in CODES | {NOT_A_REQUEST}}
        assert min(counts.values()) >= 20, (lang, counts)
    pairs = [(e.lang, e.text) for e in examples]
    assert len(pairs) == len(set(pairs)), "duplicate lines within a language"


def test_jsonl_and_csv_are_read(tmp_path):
    jsonl = tmp_path / "a.jsonl"
    jsonl.write_text(json.dumps({"text": "farola rota", "category": "streetlight"}) + "\n\n" + json.dumps({"text": "hola", "category": None}) + "\n", encoding="utf-8")
    csv = tmp_path / "b.csv"
    csv.write_text("text,category\n\"bache, grande\",roads\n", encoding="utf-8")
    assert [(e.text, e.category) for e in read_examples(jsonl, CODES)] == [("farola rota", "streetlight"), ("hola", NOT_A_REQUEST)]
    assert [(e.text, e.category) for e in read_examples(csv, CODES)] == [("bache, grande", "roads")]


@pytest.mark.parametrize("content, message", [
    ('{"text": "x", "category": "potholes"}', "a.jsonl:1: category 'potholes' is not in the taxonomy"),
    ('{"category": "roads"}', "a.jsonl:1: 'text' must be a non-empty string"),
    ('not json', "a.jsonl:1: not valid JSON"),
    ('["x"]', "a.jsonl:1: expected an object"),
])
def test_bad_lines_are_named(tmp_path, content, message):
    path = tmp_path / "a.jsonl"
    path.write_text(content + "\n", encoding="utf-8")
    with pytest.raises(CorpusError) as info:
        read_examples(path, CODES)
    assert message in str(info.value)


def test_csv_without_columns_and_missing_file(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("words,label\nx,y\n", encoding="utf-8")
    with pytest.raises(CorpusError, match="needs 'text' and 'category' columns"):
        read_examples(path, CODES)
    with pytest.raises(CorpusError, match="cannot read"):
        read_examples(tmp_path / "missing.jsonl", CODES)
