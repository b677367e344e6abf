import copy

import pytest
import yaml

from bot.config import ConfigError, channel_token, load_config, parse_config
from tests.conftest import REPO

pytestmark = pytest.mark.one_database  # config parsing: the database kind does not matter

BASE = yaml.safe_load((REPO / "config.yaml").read_text(encoding="utf-8"))


def broken(mutate):
    data = copy.deepcopy(BASE)
    mutate(data)
    with pytest.raises(ConfigError) as info:
        parse_config(data)
    return str(info.value)


def test_shipped_config_is_valid():
    cfg = parse_config(copy.deepcopy(BASE))
    assert cfg.city.ticket_prefix == "JUN"
    assert {c.code for c in cfg.categories} == {
        "streetlight", "roads", "signs_signals", "trees", "waste", "graffiti",
        "parking_vehicles", "water_drains", "parks", "pests_animals", "noise"}


def test_unknown_department_names_the_key_path():
    def mutate(data):
        data["categories"][3]["department"] = "parks"
    assert broken(mutate) == "categories[3].department: 'parks' is not a department"


def test_missing_secret_names_the_variable(monkeypatch):
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    cfg = parse_config(copy.deepcopy(BASE))
    with pytest.raises(ConfigError) as info:
        channel_token(cfg, "telegram")
    assert str(info.value) == "TELEGRAM_BOT_TOKEN is not set"
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123:abc")
    assert channel_token(cfg, "telegram") == "123:abc"


@pytest.mark.parametrize("mutate, expected", [
    (lambda d: d["city"].update(timezone="Mars/Olympus"), "city.timezone: 'Mars/Olympus' is not a known time zone"),
    (lambda d: d["city"].pop("name"), "city.name: is required"),
    (lambda d: d["city"].update(colour="blue"), "city.colour: is not a known key"),
    (lambda d: d["categories"][0].update(sla_hours=-1), "categories[0].sla_hours: Input should be greater than 0"),
    (lambda d: d["departments"].append(dict(d["departments"][0])), "departments[4].code: 'public_works' is used twice"),
    (lambda d: d["templates"]["fr"].pop("ack"), "templates.fr: missing ack"),
    (lambda d: d["channels"].update(whatsapp={"enabled": True}), "channels.whatsapp: Input should be 'telegram', 'x' or 'mastodon'"),
])
def test_bad_values_name_the_key(mutate, expected):
    assert broken(mutate) == expected


def test_file_errors(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("city: [unclosed", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)


def test_database_defaults_to_sqlite_beside_the_config(config_file, monkeypatch):
    cfg = load_config(config_file)
    assert cfg.resolved_database_url() == f"sqlite:///{config_file.parent.resolve() / 'tickets.db'}"
    monkeypatch.setenv("CITYBOT_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    assert cfg.resolved_database_url().startswith("postgresql+psycopg://")
