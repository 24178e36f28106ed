"""Server-side plots as SVG data URIs: no chart library or CDN in the browser, nothing to build."""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from matplotlib.figure import Figure  # noqa: E402


def _data_uri(figure: Figure) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight")
    plt.close(figure)
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue().encode()).decode()


def daily_lines(days: Sequence[str], series: dict[str, Sequence[float | None]], title: str, percent: bool = False,
                ) -> str:
    """One line per series over the days (ISO dates; gaps where a day has no value)."""
    return lines([day[5:] for day in days], series, title, percent)


def lines(labels: Sequence[str], series: dict[str, Sequence[float | None]], title: str, percent: bool = False,
          ) -> str:
    """One line per series over the labelled points, a few labels shown on the x axis."""
    figure, axes = plt.subplots(figsize=(6.4, 2.4))
    x = list(range(len(labels)))
    for name, values in series.items():
        axes.plot(x, [float("nan") if v is None else (100 * v if percent else v) for v in values], marker=".",
                  label=name)
    ticks = x[:: max(1, len(x) // 6)]
    axes.set_xticks(ticks, [labels[i] for i in ticks])
    axes.set_title(title, fontsize=10)
    axes.set_ylim(bottom=0)  # counts and rates: never a negative axis
    if percent:
        axes.set_ylabel("%")
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8, loc="upper left")
    return _data_uri(figure)


def bars(labels: Sequence[str], values: Sequence[float], title: str, xlabel: str = "") -> str:
    figure, axes = plt.subplots(figsize=(6.4, 2.4))
    axes.bar(list(labels), list(values), color="#4c72b0")
    axes.set_title(title, fontsize=10)
    axes.set_xlabel(xlabel)
    axes.grid(alpha=0.3, axis="y")
    return _data_uri(figure)
