"""The digest chart: received vs resolved per category, a PNG drawn with matplotlib (Agg, no display)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any, Mapping

SIZE_INCHES = (8, 4.5)  # 1200 x 675 px at 150 dpi: the 16:9 that X, Telegram and Mastodon preview whole
DPI = 150


def chart_path(base_dir: Path, kind: str, period: str) -> Path:
    """Where the chart of one digest lives: <base_dir>/media/digests/<kind>-<period>.png."""
    return Path(base_dir) / "media" / "digests" / f"{kind}-{period}.png"


def chart_png(numbers: Mapping[str, Any], path: str | Path, labels: Mapping[str | None, str] | None = None,
              legend: tuple[str, str] = ("received", "resolved"), title: str | None = None) -> Path:
    """Draw numbers["categories"] as paired bars and save the PNG at `path` (folders created).

    `labels` maps a category code to the name shown under its bars (the code otherwise).
    A period with no activity still gets a chart, with empty axes.
    """
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    rows = list(numbers.get("categories") or [])
    names = [(labels or {}).get(row["category"]) or str(row["category"] or "-") for row in rows]
    positions = range(len(rows))
    width = 0.38

    figure = Figure(figsize=SIZE_INCHES, dpi=DPI)
    axes = figure.add_subplot()
    received = axes.bar([p - width / 2 for p in positions], [row["received"] for row in rows], width,
                        label=legend[0], color="#4C78A8")
    resolved = axes.bar([p + width / 2 for p in positions], [row["resolved"] for row in rows], width,
                        label=legend[1], color="#54A24B")
    for bars in (received, resolved):
        axes.bar_label(bars, padding=2, fontsize=8)
    axes.set_xticks(list(positions), names, rotation=20 if len(rows) > 4 else 0, ha="right" if len(rows) > 4 else "center",
                    fontsize=8)
    axes.set_xlim(-0.75, max(len(rows), 4) - 0.25)  # a few categories keep slim bars
    axes.yaxis.get_major_locator().set_params(integer=True)
    axes.set_ylim(0, max([row["received"] for row in rows] + [row["resolved"] for row in rows] + [1]) * 1.2)
    axes.spines[["top", "right"]].set_visible(False)
    axes.legend(frameon=False)
    if title:
        axes.set_title(title, fontsize=11)
    figure.tight_layout()

    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, partial = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as file:
            figure.savefig(file, format="png", metadata={"Software": None})
        os.replace(partial, target)  # readers never see half a file; racing writers each finish whole
    finally:
        if os.path.exists(partial):
            os.unlink(partial)
    return target
