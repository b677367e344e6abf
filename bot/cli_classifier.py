"""`citybot classify` and `citybot classifier train|eval`."""

from __future__ import annotations

import sys
from typing import List, Optional

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from classifiers.corpus import CorpusError, read_examples

classifier_app = typer.Typer(help="Train and measure the text classifier.", no_args_is_help=True)


def _cli():
    from bot import cli  # late import: cli imports this module
    return cli


def training_progress(epochs: int):
    """A rich progress bar and the callback that advances it."""
    progress = Progress(TextColumn("training"), BarColumn(), TextColumn("epoch {task.completed}/{task.total}"),
                        TextColumn("loss {task.fields[loss]:.3f}"), TimeElapsedColumn(), console=_cli().err)
    task = progress.add_task("train", total=epochs, loss=0.0)
    return progress, lambda epoch, loss: progress.update(task, completed=epoch, loss=loss)


def first_use_progress():
    """A progress callback that shows a bar only if training actually happens (first use)."""
    state = {}

    def advance(epoch: int, loss: float) -> None:
        if "bar" not in state:
            _cli().err.print("Training the classifier on the shipped corpus (first use only)...")
            from classifiers.model import TrainSettings
            state["bar"], state["advance"] = training_progress(TrainSettings().epochs)
            state["bar"].start()
        state["advance"](epoch, loss)
        if epoch >= state["bar"].tasks[0].total:
            state["bar"].stop()
    return advance


@classifier_app.command("train")
def train_command(
    data: Optional[List[str]] = typer.Option(None, "--data", help="Extra JSONL/CSV files with text and category."),
    with_corrections: bool = typer.Option(False, "--with-corrections", help="Fold in staff recategorizations."),
) -> None:
    """Train on the shipped corpus (+ FILEs, + corrections) and make the result the active model."""
    from classifiers.loader import settings_for, store_for, training_examples

    cli = _cli()
    cfg = cli.config()
    extra = []
    if with_corrections:
        from bot.corrections import corrections
        extra = corrections(cli.build(cfg, with_classifier=False).engine)
    try:
        examples = training_examples(cfg, data or [], extra)
    except CorpusError as exc:
        cli.fail(str(exc))
    settings = settings_for(cfg)
    store = store_for(cfg)
    progress, advance = training_progress(settings.epochs)
    with progress:
        path = store.ensure(examples, settings, advance)
        progress.update(progress.task_ids[0], completed=settings.epochs)
    store.activate(path)
    cli.err.print(f"trained on {len(examples)} examples ({len(extra)} corrections); active model: {path}")


@classifier_app.command("eval")
def eval_command(data: str = typer.Option(..., "--data", help="JSONL/CSV with text and category."),
                 as_json: bool = typer.Option(False, "--json")) -> None:
    """Macro-F1, per-category precision/recall/F1 and a confusion table for the active model."""
    from classifiers.evaluate import evaluate, predicted_categories
    from classifiers.loader import build_classifier

    cli = _cli()
    cfg = cli.config()
    try:
        examples = read_examples(data, {c.code for c in cfg.categories})
    except CorpusError as exc:
        cli.fail(str(exc))
    report = evaluate([e.category for e in examples], predicted_categories(build_classifier(cfg), examples))
    if as_json:
        cli.print_json(report.to_json())
        return
    table = Table(title=f"macro-F1 {report.macro_f1:.3f} · accuracy {report.accuracy:.3f} · {report.support} examples")
    for column in ("category", "precision", "recall", "f1", "support"):
        table.add_column(column, justify="left" if column == "category" else "right")
    for label, row in report.per_category.items():
        table.add_row(label, f"{row['precision']:.3f}", f"{row['recall']:.3f}", f"{row['f1']:.3f}", str(row["support"]))
    cli.out.print(table)
    columns = sorted({p for row in report.confusion.values() for p in row})
    confusion = Table(title="confusion (rows: true, columns: predicted)")
    confusion.add_column("true")
    for column in columns:
        confusion.add_column(column[:8], justify="right")
    for label, row in report.confusion.items():
        confusion.add_row(label, *[str(row.get(c, "")) for c in columns])
    cli.out.print(confusion)


def classify_command() -> None:
    """Read posts on stdin (JSON lines with `text`, or plain text); write one JSON result per line."""
    from classifiers.batch import BadLine, classify_lines, classify_stream
    from classifiers.loader import build_classifier

    cli = _cli()
    classifier = build_classifier(cli.config())
    try:
        stdin = getattr(sys.stdin, "buffer", None)  # bytes, read a chunk at a time; a test may hand in text
        batches = (classify_stream(classifier, stdin, encoding=sys.stdin.encoding or "utf-8") if hasattr(stdin, "read1")
                   else classify_lines(classifier, sys.stdin))
        for results in batches:  # as many lines as have arrived, at most 1,024
            sys.stdout.write("".join(f"{line}\n" for line in results))
            sys.stdout.flush()
    except BadLine as exc:
        cli.fail(str(exc))
