"""A burst of citizen posts against a sandbox, and the real bot run as a separate process.

Used by bench/burst.py, bench/crash.py, bench/faults.py and, at a small size, by tests/test_crash.py.
The posts are written here (a few phrasings per language and category, numbered so each is unique);
no text from ../shared/data is used.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import requests
import yaml

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

PLATFORMS = ("telegram", "x", "mastodon")
PHRASES = (
    ("es", "La farola de la calle Real {n} está apagada desde ayer"),
    ("es", "Hay un bache enorme en la calle Mayor {n}, cuidado con las motos"),
    ("es", "Contenedor desbordado en la plaza de España {n}, huele fatal"),
    ("en", "Streetlight out at {n} Church Street, very dark at night"),
    ("en", "Big pothole outside number {n} on Main Street"),
    ("en", "Someone dumped a mattress by the bins at {n} Mill Lane"),
    ("fr", "Le lampadaire du {n} rue Victor Hugo ne marche plus"),
    ("fr", "Nid de poule énorme devant le {n} avenue de la Gare"),
    ("fr", "Graffitis sur le mur de l'école, {n} rue des Lilas"),
)


@dataclass
class Burst:
    """What was posted: (platform, sandbox id) per post."""

    posts: list[tuple[str, str]] = field(default_factory=list)

    def count(self, platform: str) -> int:
        return sum(1 for p, _ in self.posts if p == platform)


def bench_config(folder: Path, database_url: str | None = None, platforms=PLATFORMS, **overrides) -> Path:
    """The shipped config with every platform enabled, no polling pause, no scheduler; written to `folder`."""
    data = yaml.safe_load((REPO / "config.yaml").read_text(encoding="utf-8"))
    for name in PLATFORMS:
        channel = data["channels"][name]
        channel["enabled"] = name in platforms
        channel["poll_interval"] = 0
        channel["poll_timeout"] = 0
    data["database_url"] = database_url
    data.setdefault("scheduler", {})["enabled"] = False
    data.setdefault("classification", {})["reply_to_non_requests"] = True
    for key, value in overrides.items():
        data[key] = {**data.get(key, {}), **value} if isinstance(value, dict) else value
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def post_burst(sandbox_url: str, count: int, seed: int = 1, platforms=PLATFORMS) -> Burst:
    """`count` distinct mentions, round-robin over `platforms`, each from its own citizen."""
    rng = random.Random(seed)
    burst = Burst()
    with requests.Session() as http:
        for n in range(count):
            platform = platforms[n % len(platforms)]
            lang, phrase = rng.choice(PHRASES)
            body = {"user": f"vecino{n}", "text": phrase.format(n=n + 1), "lang": lang}
            answer = http.post(f"{sandbox_url}/_sandbox/{platform}/inbound", json=body, timeout=30)
            answer.raise_for_status()
            burst.posts.append((platform, str(answer.json()["id"])))
    return burst


def sent(sandbox_url: str, platform: str) -> list[dict]:
    answer = requests.get(f"{sandbox_url}/_sandbox/{platform}/sent", timeout=60)
    answer.raise_for_status()
    return answer.json()


def inject_faults(sandbox_url: str, platform: str, status: int, count: int, retry_after: float | None = None) -> None:
    body = {"status": status, "count": count, **({"retry_after": retry_after} if retry_after is not None else {})}
    requests.post(f"{sandbox_url}/_sandbox/{platform}/faults", json=body, timeout=30).raise_for_status()


def bot_env(model_cache: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITYBOT_")}
    if model_cache:
        env["CITYBOT_MODEL_CACHE"] = model_cache
    env["PYTHONUNBUFFERED"] = "1"
    return env


def warm_model(config: Path, env: dict[str, str]) -> None:
    """Train (or find) the model once, so several bot processes do not each train it."""
    command = [sys.executable, "-m", "bot.cli", "--config", str(config), "classify"]
    subprocess.run(command, cwd=REPO, env=env, input=b"farola apagada\n", capture_output=True, check=True)


def start_bot(config: Path, sandbox_url: str, env: dict[str, str], log: Path, *extra: str) -> subprocess.Popen:
    """`citybot run --sandbox URL` as its own process (its own process group, so kill -9 takes it all)."""
    command = [sys.executable, "-m", "bot.cli", "--config", str(config), "run", "--sandbox", sandbox_url, *extra]
    handle = open(log, "ab")  # noqa: SIM115 - the child writes to it for its whole life
    return subprocess.Popen(command, cwd=REPO, env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)


def kill_hard(process: subprocess.Popen) -> None:
    """kill -9, no goodbye."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()


def stop(process: subprocess.Popen, timeout: float = 20) -> None:
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        kill_hard(process)


class AnswerCounter:
    """The burst's replies seen so far, reading only what the sandbox sent since the last call.

    Polling the whole `sent` list every quarter second costs the sandbox O(n) per poll, which at
    10,000 posts slows the bot being measured; `?after=N` keeps each poll to the new records.
    Calling it returns how many posts have at least one answer.
    """

    def __init__(self, sandbox_url: str, burst: Burst) -> None:
        self.sandbox_url = sandbox_url
        self.wanted = {platform: {post_id for p, post_id in burst.posts if p == platform} for platform in PLATFORMS}
        self.seen = dict.fromkeys(PLATFORMS, 0)
        self.replies: dict[tuple[str, str], int] = {}  # (platform, post id) -> answers

    def __call__(self) -> int:
        for platform in PLATFORMS:
            answer = requests.get(f"{self.sandbox_url}/_sandbox/{platform}/sent",
                                  params={"after": self.seen[platform]}, timeout=60)
            answer.raise_for_status()
            items = answer.json()
            self.seen[platform] += len(items)
            for item in items:
                target = _reply_target(platform, item)
                if target in self.wanted[platform]:
                    self.replies[platform, target] = self.replies.get((platform, target), 0) + 1
        return len(self.replies)

    def per_platform(self) -> dict[str, dict[str, int]]:
        """Per platform with posts: posted, answered, and answers beyond the first (duplicates)."""
        result = {}
        for platform, wanted in self.wanted.items():
            if not wanted:
                continue
            counts = [n for (p, _), n in self.replies.items() if p == platform]
            result[platform] = {"posted": len(wanted), "answered": len(counts),
                                "duplicate_answers": sum(n - 1 for n in counts)}
        return result


def _reply_target(platform: str, item: dict) -> str:
    target = str(item.get("in_reply_to") or "")
    return target.split(":")[-1] if platform == "telegram" else target


def wait_until(condition, timeout: float, every: float = 0.5) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(every)
    return condition()


# -- PostgreSQL -----------------------------------------------------------------------
PG_ADMIN_URL = os.environ.get("CITYBOT_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def fresh_pg_database(template_url: str | None = None) -> str | None:
    """A new PostgreSQL database's URL: empty, or a copy of `template_url`'s database.

    None when PostgreSQL is not reachable.
    """
    name = f"citybot_b_{uuid.uuid4().hex[:10]}"
    template = f' TEMPLATE "{template_url.rsplit("/", 1)[1]}"' if template_url else ""
    try:
        _pg_admin(f'CREATE DATABASE "{name}"{template}')
    except Exception:  # noqa: BLE001 - no server: the caller skips
        return None
    return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


def drop_pg_database(url: str) -> None:
    _pg_admin(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')


def _pg_admin(statement: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(statement))
    finally:
        engine.dispose()


def copy_model_cache(source: str | None, target: Path) -> str | None:
    """Reuse an already trained model so every bot start does not retrain it."""
    if source and Path(source).is_dir():
        shutil.copytree(source, target, dirs_exist_ok=True)
        return str(target)
    return None
