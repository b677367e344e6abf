"""`classifier train --with-corrections` and `classifier eval`, through the CLI on a real database."""

import json

from typer.testing import CliRunner

from bot.app import build_app
from bot.cli import app as cli
from bot.config import load_config
from bot.pipeline import Pipeline
from bot.service import TicketService
from classifiers.loader import store_for
from tests.helpers import post

ODD = "the zorblat machine on the corner is making that wheezing sound again"


def test_corrections_are_learned_and_eval_reports(config_file, tmp_path):
    application = build_app(load_config(config_file))
    pipeline = Pipeline(application.engine, application.cfg, application.classifier)
    service = TicketService(application.engine, application.cfg, actor="rosa")
    for n in range(12):
        outcome = pipeline.process(post(f"{ODD} ({n})", user=f"v{n}"))
        if outcome.ticket_ref:
            service.recategorize(outcome.ticket_ref, "noise")
    runner = CliRunner()
    trained = runner.invoke(cli, ["--config", str(config_file), "classifier", "train", "--with-corrections"])
    assert trained.exit_code == 0, trained.output
    assert "corrections" in trained.stderr
    store = store_for(load_config(config_file))
    assert store.active_path() is not None
    # the running bot's classifier reloads the new model without a restart
    application.classifier.interval = 0
    assert application.classifier.classify(ODD).category == "noise"

    data = tmp_path / "eval.jsonl"
    data.write_text("\n".join(json.dumps(x) for x in [
        {"text": "streetlight out on Elm St", "category": "streetlight"},
        {"text": "big pothole at 5th and Main", "category": "roads"},
    ]) + "\n", encoding="utf-8")
    evaluated = runner.invoke(cli, ["--config", str(config_file), "classifier", "eval", "--data", str(data), "--json"])
    assert evaluated.exit_code == 0, evaluated.output
    report = json.loads(evaluated.stdout)
    assert set(report) == {"macro_f1", "accuracy", "support", "per_category", "confusion"}
    assert report["support"] == 2 and set(report["per_category"]) == {"streetlight", "roads"}


def test_eval_names_a_bad_file(config_file, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "x", "category": "potholes"}\n', encoding="utf-8")
    result = CliRunner().invoke(cli, ["--config", str(config_file), "classifier", "eval", "--data", str(bad)])
    assert result.exit_code != 0 and "category 'potholes' is not in the taxonomy" in result.stderr
