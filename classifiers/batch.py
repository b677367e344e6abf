"""`citybot classify` in batches: lines are taken as they arrive and classified a batch at a time.

A batch is every line already waiting, up to `BATCH_SIZE`, so a file of 50,000 posts goes
through `classify_many` 256 at a time while a line typed by hand is still answered at once.
"""

from __future__ import annotations

import json
import queue
import threading
from typing import Iterable, Iterator

from classifiers.base import classify_all

BATCH_SIZE = 256
_END = object()


class BadLine(ValueError):
    """An input line `citybot classify` cannot read; the message names the line."""


def parse_line(number: int, line: str) -> tuple[str, str | None] | None:
    """(text, lang hint) of one input line, None for a blank one."""
    line = line.rstrip("\n")
    if not line.strip():
        return None
    if not line.lstrip().startswith("{"):
        return line, None
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        raise BadLine(f"line {number}: not valid JSON: {exc}") from None
    if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
        raise BadLine(f"line {number}: a JSON line needs a string 'text'")
    if obj.get("lang") is not None and not isinstance(obj["lang"], str):
        raise BadLine(f"line {number}: 'lang' must be a string")
    return obj["text"], obj.get("lang")


def waiting_batches(lines: Iterable[str], size: int = BATCH_SIZE) -> Iterator[list[str]]:
    """`lines` in lists of at most `size`: the first line, and whatever else has already arrived."""
    waiting: queue.Queue = queue.Queue(maxsize=4 * size)

    def read() -> None:
        try:
            for line in lines:
                waiting.put(line)
        except BaseException as exc:  # handed to the consumer, raised there
            waiting.put(exc)
        waiting.put(_END)

    threading.Thread(target=read, name="classify-stdin", daemon=True).start()
    while True:
        batch: list[str] = []
        item = waiting.get()
        while True:
            if item is _END:
                if batch:
                    yield batch
                return
            if isinstance(item, BaseException):
                if batch:
                    yield batch
                raise item
            batch.append(item)
            if len(batch) >= size:
                break
            try:
                item = waiting.get_nowait()
            except queue.Empty:
                break
        yield batch


def classify_lines(classifier, lines: Iterable[str], size: int = BATCH_SIZE) -> Iterator[list[str]]:
    """The contract's JSON result for each non-blank line, a batch at a time. A bad line raises
    `BadLine` once the results of the lines before it have been yielded."""
    number = 0
    for batch in waiting_batches(lines, size):
        posts: list[tuple[str, str | None]] = []
        error = None
        for line in batch:
            number += 1
            try:
                post = parse_line(number, line)
            except BadLine as exc:
                error = exc
                break
            if post is not None:
                posts.append(post)
        if posts:
            texts = [text for text, _ in posts]
            hints = [hint for _, hint in posts]
            results = classify_all(classifier, texts, hints)
            yield [json.dumps(result.to_json(), ensure_ascii=False) for result in results]
        if error is not None:
            raise error
