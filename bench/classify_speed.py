"""Speed of `citybot classify` against a bare spaCy tokenizer on the same posts, in the same run.

    .venv/bin/python bench/classify_speed.py [--posts 50000] [--repeat 3] [--profile N] [--stages N] [--check N] [--also CHECKOUT]

The posts are built from the project's own corpus (classifiers/corpus/*.jsonl): one pass over
it, then each further post is a corpus post with a few words of another post of its language
appended, so no two posts repeat (at most 280 characters, the length of a tweet). A third of
the lines carry a `lang` hint, a third are JSON without one, a third plain text.

(a) tokenizer: `spacy.blank("xx")`, `nlp.pipe(texts)` (which only tokenizes: the blank pipeline
    has no components), in this process.
(b) classify: the real `citybot classify` command in a subprocess, stdin from a file of the
    posts, stdout to a file. Its start-up (imports, loading the model, the first lingua call) is
    measured apart, by running it on one post, and taken off: "classify s" counts the posts only.

Each timing is the best of --repeat runs (this machine is a VM whose timings wander by up to a
half between two runs of the same thing).
Printed: both times, docs/s, the ratio (issue 4's target: at most 2.0), the peak RSS of the
`classify` process over the whole run, and the RSS of a process that has only loaded the
classifier and classified a few posts (target: under 200 MB).
--profile N: cProfile of the in-process batch path on N posts, summed by component.
--stages N: each part of the batch path timed alone on N posts (no profiler overhead).
--check N: the CLI's output for the first N posts equals one-at-a-time `classify()`.
--also CHECKOUT: time the `citybot classify` of another checkout too (say a git worktree of an
older commit, with the same corpus files), on the same posts, for a before/after in one run.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

MAX_CHARS = 280
CITYBOT = [sys.executable, "-c", "from bot.cli import main; main()"]

RSS_ONLY = """
import sys
from pathlib import Path
from bot.config import load_config
from classifiers.loader import build_classifier
c = build_classifier(load_config(sys.argv[1]))
for text in ("La farola de la calle Real está apagada", "Pothole on Main St", "Il y a des rats dans la cour"):
    c.classify(text)
status = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
print(int(status["VmRSS"].split()[0]) / 1024, int(status["VmHWM"].split()[0]) / 1024)
"""


def corpus_rows() -> list[tuple[str, str]]:
    from classifiers.corpus import shipped_corpus

    return [(" ".join(example.text.split()), example.lang) for example in shipped_corpus()]


def shorten(text: str) -> str:
    return text if len(text) <= MAX_CHARS else text[:MAX_CHARS].rsplit(" ", 1)[0]


def make_posts(count: int, seed: int = 11) -> list[tuple[str, str]]:
    """`count` distinct short posts (text, lang) from the corpus, seeded."""
    rng = random.Random(seed)
    rows = corpus_rows()
    by_lang: dict[str, list[str]] = {}
    for text, lang in rows:
        by_lang.setdefault(lang, []).append(text)
    posts = []
    for number in range(count):
        text, lang = rows[number % len(rows)]
        if number >= len(rows):
            other = rng.choice(by_lang[lang]).split()
            size = rng.randint(2, 8)
            start = rng.randint(0, max(0, len(other) - size))
            text = f"{shorten(text)[:MAX_CHARS - 60]} {' '.join(other[start:start + size])}"
        posts.append((shorten(text), lang))
    return posts


def input_lines(posts: list[tuple[str, str]]) -> list[str]:
    lines = []
    for number, (text, lang) in enumerate(posts):
        if number % 3 == 0:
            lines.append(json.dumps({"text": text, "lang": lang}, ensure_ascii=False))
        elif number % 3 == 1 or text.lstrip().startswith("{"):
            lines.append(json.dumps({"text": text}, ensure_ascii=False))
        else:
            lines.append(text)
    return lines


def time_tokenizer(texts: list[str], repeat: int = 1) -> float:
    """The best of `repeat` runs, each on a fresh blank pipeline."""
    import spacy

    best = float("inf")
    for _ in range(repeat):
        nlp = spacy.blank("xx")
        list(nlp.pipe(texts[:1000]))  # warm up
        started = time.perf_counter()
        tokens = sum(len(doc) for doc in nlp.pipe(texts))
        best = min(best, time.perf_counter() - started)
        assert tokens > 0
    return best


def run_classify(config: Path, stdin: Path, stdout: Path, env: dict[str, str], repo: Path = REPO) -> tuple[float, float]:
    """Wall seconds of `citybot classify` on `stdin`, and the process's peak RSS in MB."""
    with stdin.open("rb") as source, stdout.open("wb") as sink:
        started = time.perf_counter()
        process = subprocess.Popen([*CITYBOT, "--config", str(config), "classify"], stdin=source, stdout=sink,
                                   stderr=subprocess.PIPE, cwd=repo, env=env)
        _, status, usage = os.wait4(process.pid, 0)
        elapsed = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        sys.exit(f"citybot classify failed ({process.returncode}): {process.stderr.read().decode()[-2000:]}")
    process.stderr.close()
    return elapsed, usage.ru_maxrss / 1024


COMPONENTS = (
    ("lingua", "language id (lingua + marker words)"), ("classifiers/language.py", "language id (lingua + marker words)"),
    ("classifiers/features.py", "feature text (features.py)"), ("classifiers/text.py", "text folding (text.py)"),
    ("classifiers/priority.py", "priority (danger words)"), ("classifiers/location.py", "location (patterns, gazetteer)"),
    ("spacy/matcher", "location (patterns, gazetteer)"),
    ("spacy/tokenizer", "spaCy tokenizer (feature text, gazetteer)"), ("spacy/vocab", "spaCy tokenizer (feature text, gazetteer)"),
    ("spacy/tokens", "spaCy tokenizer (feature text, gazetteer)"), ("spacy/strings", "spaCy tokenizer (feature text, gazetteer)"),
    ("spacy/lexeme", "spaCy tokenizer (feature text, gazetteer)"), ("spacy/lang", "spaCy tokenizer (feature text, gazetteer)"),
    ("thinc", "textcat predict (spaCy/thinc/numpy)"), ("numpy", "textcat predict (spaCy/thinc/numpy)"),
    ("spacy", "textcat predict (spaCy/thinc/numpy)"),
    ("classifiers/spacy_classifier.py", "decision and results (spacy_classifier.py, base.py)"),
    ("classifiers/base.py", "decision and results (spacy_classifier.py, base.py)"),
    ("classifiers/batch.py", "reading lines (batch.py, json)"), ("json", "reading lines (batch.py, json)"),
)


def component(filename: str, function: str) -> str | None:
    """The part of the classify path a profiled function belongs to; None for a builtin."""
    where = f"{filename.replace(chr(92), '/')} {function}"
    for name, label in COMPONENTS:
        if name in where:
            return label
    return None if filename == "~" else f"other ({Path(filename).name})"


def profile(classifier, lines: list[str]) -> None:
    """Own time by component for the in-process path the CLI runs (a builtin's time goes to its callers)."""
    from classifiers.batch import classify_lines

    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    for _ in classify_lines(classifier, lines):
        pass
    profiler.disable()
    elapsed = time.perf_counter() - started
    stats = pstats.Stats(profiler)
    totals: dict[str, float] = {}
    for (filename, _, function), (_, _, own, _, callers) in stats.stats.items():
        key = component(filename, function)
        if key is not None:
            totals[key] = totals.get(key, 0.0) + own
            continue
        for (caller_file, _, caller_function), (_, _, caller_own, _) in callers.items():
            key = component(caller_file, caller_function) or "other (builtins)"
            totals[key] = totals.get(key, 0.0) + caller_own
    whole = sum(totals.values())
    print(f"profile: {len(lines)} posts in {elapsed:.2f} s under cProfile ({len(lines) / elapsed:.0f} docs/s); own time by component:")
    for key, seconds in sorted(totals.items(), key=lambda kv: -kv[1])[:12]:
        print(f"  {key:52s} {seconds:7.2f} s  {100 * seconds / whole:5.1f}%")
    print("top functions by own time:")
    stats.sort_stats("tottime").print_stats(12)


def stages(classifier, lines: list[str]) -> None:
    """Each part of `classify_many` timed alone over the same posts, without a profiler's overhead."""
    from classifiers.batch import parse_line
    from classifiers.features import feature_words
    from classifiers.language import detect_languages
    from classifiers.location import scan_places
    from classifiers.priority import assess_priority_folded
    from classifiers.text import fold

    model = classifier._current
    posts = [parse_line(number, line) for number, line in enumerate(lines, start=1)]
    texts = [text for text, _ in posts]
    hints = [hint for _, hint in posts]
    batches = range(0, len(texts), 256)
    folded = [fold(text) for text in texts]
    parts = {
        "language id by lingua alone (+ marker words), 256 a call": lambda: [detect_languages(
            texts[i:i + 256], model.languages, hints[i:i + 256], model.default_language) for i in batches],
        "feature words (fold, places blanked, words)": lambda: [feature_words(text) for text in texts],
        "textcats (category, language): feature ids, bags of words, 256 a call": lambda: [model._scores(texts[i:i + 256], 256) for i in batches],
        "one fold per post (text.py)": lambda: [fold(text) for text in texts],
        "priority (danger words)": lambda: [assess_priority_folded(text) for text in folded],
        "gazetteer (tokenizer + PhraseMatcher)": lambda: [model.gazetteer.find_folded(text) for text in folded]
        if model.gazetteer else [],
        "place patterns (scan_places: blanking and the place)": lambda: [scan_places(text) for text in texts],
        "all of classify_many, 256 a call": lambda: [model.classify_many(texts[i:i + 256], hints[i:i + 256]) for i in batches],
    }
    print(f"stages over {len(texts)} posts, each timed alone, in this order (the first spaCy stage fills the tokenizer cache):")
    for label, run in parts.items():
        started = time.perf_counter()
        run()
        print(f"  {label:60s} {time.perf_counter() - started:6.2f} s")


def check(classifier, lines: list[str], output: Path) -> None:
    """The CLI's lines equal one-at-a-time classify() on the same posts."""
    from classifiers.batch import parse_line

    produced = output.read_text(encoding="utf-8").splitlines()
    mismatches = 0
    for number, line in enumerate(lines):
        text, hint = parse_line(number + 1, line)
        expected = json.dumps(classifier.classify(text, lang_hint=hint).to_json(), ensure_ascii=False)
        if produced[number] != expected:
            mismatches += 1
            if mismatches <= 5:
                print(f"  mismatch on line {number + 1}: {produced[number]} != {expected}")
    print(f"check: {len(lines)} posts, {mismatches} differ from one-at-a-time classify()")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=50000)
    parser.add_argument("--repeat", type=int, default=3, help="best of this many runs of each timing")
    parser.add_argument("--profile", type=int, default=0, metavar="N", help="profile the in-process path on N posts")
    parser.add_argument("--stages", type=int, default=0, metavar="N", help="time each part of the path on N posts")
    parser.add_argument("--check", type=int, default=0, metavar="N", help="compare the first N outputs with classify()")
    parser.add_argument("--also", type=Path, metavar="CHECKOUT", help="time this checkout's citybot classify too")
    args = parser.parse_args()

    posts = make_posts(args.posts)
    lines = input_lines(posts)
    texts = [text for text, _ in posts]
    env = dict(os.environ)
    env.setdefault("CITYBOT_MODEL_CACHE", str(REPO / "models"))
    os.environ["CITYBOT_MODEL_CACHE"] = env["CITYBOT_MODEL_CACHE"]
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        config = work / "config.yaml"
        shutil.copy(REPO / "config.yaml", config)
        (work / "posts.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
        (work / "one.jsonl").write_text(lines[0] + "\n", encoding="utf-8")
        run_classify(config, work / "one.jsonl", work / "one.out", env)  # trains the shipped model if not cached yet

        tokenizer = time_tokenizer(texts, args.repeat)
        startup = min(run_classify(config, work / "one.jsonl", work / "one.out", env)[0] for _ in range(args.repeat))
        runs = [run_classify(config, work / "posts.jsonl", work / "posts.out", env) for _ in range(args.repeat)]
        whole, peak = min(seconds for seconds, _ in runs), max(rss for _, rss in runs)
        classify = max(whole - startup, 1e-9)
        answered = len((work / "posts.out").read_text(encoding="utf-8").splitlines())
        rss = subprocess.run([sys.executable, "-c", RSS_ONLY, str(config)], cwd=REPO, env=env,
                             capture_output=True, text=True, check=True).stdout.split()

        print(f"posts: {len(lines)} ({sum(map(len, texts)) / len(texts):.0f} characters on average), answered: {answered}")
        print(f"(a) tokenizer, spacy.blank('xx') nlp.pipe: {tokenizer:8.2f} s  {len(texts) / tokenizer:9.0f} docs/s")
        print(f"(b) citybot classify (start-up {startup:.2f} s taken off): {classify:8.2f} s  {len(lines) / classify:9.0f} docs/s"
              f"   (whole command {whole:.2f} s)")
        print(f"ratio classify / tokenizer: {classify / tokenizer:.1f}  (target <= 2.0; with start-up {whole / tokenizer:.1f})")
        if args.also:
            run_classify(config, work / "one.jsonl", work / "one.out", env, args.also.resolve())
            other_startup, _ = run_classify(config, work / "one.jsonl", work / "one.out", env, args.also.resolve())
            other_whole, other_peak = run_classify(config, work / "posts.jsonl", work / "other.out", env, args.also.resolve())
            other = max(other_whole - other_startup, 1e-9)
            same = (work / "other.out").read_bytes() == (work / "posts.out").read_bytes()
            print(f"(b') {args.also}: {other:8.2f} s  {len(lines) / other:9.0f} docs/s   ratio {other / tokenizer:.1f}, "
                  f"peak RSS {other_peak:.0f} MB, output {'identical' if same else 'DIFFERENT'}")
        print(f"RSS: classifier loaded {float(rss[0]):.0f} MB (peak {float(rss[1]):.0f} MB; target < 200 MB); "
              f"citybot classify peak over the {len(lines)} posts {peak:.0f} MB")

        if args.profile or args.check or args.stages:
            from bot.config import load_config
            from classifiers.loader import build_classifier

            classifier = build_classifier(load_config(config))
            if args.check:
                check(classifier, lines[:args.check], work / "posts.out")
            if args.profile:
                profile(classifier, lines[:args.profile])
            if args.stages:
                stages(classifier, lines[:args.stages])


if __name__ == "__main__":
    main()
