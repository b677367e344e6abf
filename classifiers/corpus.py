"""Labelled examples: the shipped corpus and a city's own files (JSONL or CSV).

Each example has `text` and `category`: a service code, or `none` / null for a post
that is not a request. Bad files raise `CorpusError` naming the file, line and field.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

CORPUS_DIR = Path(__file__).with_name("corpus")
NOT_A_REQUEST = "none"


class CorpusError(Exception):
    """A training or evaluation file cannot be used; the message says where and why."""


@dataclass(frozen=True)
class Example:
    text: str
    category: str  # a service code, or NOT_A_REQUEST
    lang: str | None = None
    priority: str | None = None
    weight: float = 1.0  # how much the example counts in training (`classifiers.loader.own`)


def _example(obj: object, where: str, known: set[str] | None) -> Example:
    if not isinstance(obj, dict):
        raise CorpusError(f"{where}: expected an object with 'text' and 'category'")
    text, category = obj.get("text"), obj.get("category")
    if not isinstance(text, str) or not text.strip():
        raise CorpusError(f"{where}: 'text' must be a non-empty string")
    if category in (None, "", "null", "not_request"):
        category = NOT_A_REQUEST
    if not isinstance(category, str):
        raise CorpusError(f"{where}: 'category' must be a string")
    if known is not None and category != NOT_A_REQUEST and category not in known:
        raise CorpusError(f"{where}: category '{category}' is not in the taxonomy ({', '.join(sorted(known))})")
    lang = obj.get("lang") if isinstance(obj.get("lang"), str) else None
    priority = obj.get("priority") if isinstance(obj.get("priority"), str) else None
    return Example(text.strip(), category, lang, priority)


def read_examples(path: str | Path, known: set[str] | None = None) -> list[Example]:
    """Examples from a `.jsonl` or `.csv` file (CSV needs `text` and `category` columns)."""
    path = Path(path)
    try:
        raw = path.read_text(encoding="utf-8")
    except (FileNotFoundError, IsADirectoryError, UnicodeDecodeError) as exc:
        raise CorpusError(f"{path}: cannot read ({type(exc).__name__})") from None
    if path.suffix.lower() == ".csv":
        reader = csv.DictReader(raw.splitlines())
        if not reader.fieldnames or not {"text", "category"} <= set(reader.fieldnames):
            raise CorpusError(f"{path}: a CSV needs 'text' and 'category' columns")
        return [_example(row, f"{path}:{n}", known) for n, row in enumerate(reader, start=2)]
    examples = []
    for number, line in enumerate(raw.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise CorpusError(f"{path}:{number}: not valid JSON ({exc.msg})") from None
        examples.append(_example(obj, f"{path}:{number}", known))
    return examples


def shipped_corpus(known: set[str] | None = None) -> list[Example]:
    """The corpus the project wrote itself, every language."""
    files = sorted(CORPUS_DIR.glob("*.jsonl"))
    return [example for file in files for example in read_examples(file, known)]


def corpus_files() -> list[Path]:
    return sorted(CORPUS_DIR.glob("*.jsonl"))
