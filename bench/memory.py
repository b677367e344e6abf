"""Memory: the peak RSS of `citybot run` with all three channels and the classifier loaded.

    .venv/bin/python bench/memory.py [--posts 2000]

The bot runs against a sandbox and works through a burst of posts (so the classifier, the
adapters and the scheduler are all exercised); the peak resident set (VmHWM from
/proc/PID/status) is read just before it is stopped. Also printed: the RSS of a process that
only loads the classifier, for comparison. Target: under 250 MB for the bot.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import (  # noqa: E402
    REPO, AnswerCounter, bench_config, bot_env, post_burst, start_bot, stop, wait_until, warm_model,
)


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    raise RuntimeError("no VmHWM in /proc (Linux only)")


CLASSIFIER_ONLY = """
import resource, sys
from bot.config import load_config
from classifiers.loader import build_classifier
c = build_classifier(load_config(sys.argv[1]))
c.classify("La farola de la calle Real está apagada")
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=2000)
    args = parser.parse_args()
    from channels.sandbox.server import SandboxServer

    with tempfile.TemporaryDirectory() as folder, SandboxServer(port=0) as sandbox:
        config = bench_config(Path(folder), scheduler={"enabled": True})
        env = bot_env(str(Path(folder) / "models"))
        warm_model(config, env)
        burst = post_burst(sandbox.url, args.posts)
        bot = start_bot(config, sandbox.url, env, Path(folder) / "bot.log")
        try:
            answered = AnswerCounter(sandbox.url, burst)
            done = wait_until(lambda: answered() >= args.posts, timeout=3600, every=1)
            peak = peak_rss_mb(bot.pid)
        finally:
            stop(bot)
        alone = subprocess.run([sys.executable, "-c", CLASSIFIER_ONLY, str(config)], cwd=REPO, env=env,
                               capture_output=True, text=True, check=True)
    print(json.dumps({"posts": args.posts, "all_answered": done, "bot_peak_rss_mb": peak,
                      "classifier_only_peak_rss_mb": round(float(alone.stdout.split()[-1]), 1)}))


if __name__ == "__main__":
    main()
