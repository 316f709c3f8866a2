"""Plots of a benchmark summary: each metric against the number of superpixels delivered.

One PNG per metric (ASA, BR, BP, F, UE, CO, EV and time per image), one line per method
with a marker at each K, the x axis the mean number of superpixels *delivered* (not the
number asked for), as in Fig. 4 of the LNS-Net paper; plus ``overview.png`` with all of
them. Drawn on matplotlib's Agg canvas (no display needed; pyplot's global backend is
left alone).
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

from .methods import display_name

__all__ = ["plot_summary", "PLOT_METRICS"]

#: summary column -> (file stem, axis label, title). Order of the overview panels.
PLOT_METRICS = {
    "asa": ("asa", "Achievable segmentation accuracy (ASA)", "ASA (higher is better)"),
    "br": ("br", "Boundary recall (BR)", "Boundary recall (higher is better)"),
    "bp": ("bp", "Boundary precision (BP)", "Boundary precision (higher is better)"),
    "f": ("f", "F-measure (β = 4)", "F-measure, β = 4 (higher is better)"),
    "ue": ("ue", "Undersegmentation error (UE)", "Undersegmentation error (lower is better)"),
    "co": ("co", "Compactness (CO)", "Compactness (higher is more regular)"),
    "ev": ("ev", "Explained variation (EV)", "Explained variation (higher is better)"),
    "time_s_median": ("time", "Time per image (ms, median, log scale)",
                      "Time per image (lower is better)"),  # fmt: skip
}

_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "<", ">", "h", "p")


def _read_summary(path: Path) -> dict[str, list[dict]]:
    if not path.is_file():
        raise FileNotFoundError(f"summary file not found: {path}")
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        needed = {"method", "k_asked", "k_delivered"} | set(PLOT_METRICS)
        missing = needed - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"{path} lacks the columns {sorted(missing)}")
        series: dict[str, list] = {}
        for row in reader:
            series.setdefault(row["method"], []).append(row)
    for rows in series.values():
        rows.sort(key=lambda row: float(row["k_delivered"]))
    return series


def _value(row: dict, column: str) -> float:
    try:
        v = float(row[column])
    except (TypeError, ValueError):
        return math.nan
    return v * 1000.0 if column == "time_s_median" else v


def _volume_words(text: str, volume: bool) -> str:
    return text.replace("superpixels", "supervoxels").replace("per image", "per volume") if volume else text


def _caption(summary_csv: Path, series, volume: bool) -> str:
    """What was measured, for the figures' heading: the data set, how many images
    (volumes), the boundary tolerance and the annotator rule (from ``meta.json`` beside
    ``summary_csv``; "" without it)."""
    import json

    try:
        settings = json.loads((summary_csv.parent / "meta.json").read_text())["settings"]
    except (OSError, ValueError, KeyError, TypeError):
        return ""
    ds = settings.get("dataset") or {}
    if isinstance(ds, dict) and ds.get("name") == "bsds500":
        where = f"BSDS500 {settings.get('split') or ds.get('split') or ''}".strip()
    elif isinstance(ds, dict) and ds.get("root"):
        where = Path(str(ds["root"])).name
    else:
        where = str(ds.get("name", "")) if isinstance(ds, dict) else ""
    n = max((int(float(row.get("n_images", 0) or 0)) for rows in series.values() for row in rows), default=0)
    unit = "voxel" if volume else "px"
    what = f"{n} {'volumes' if volume else 'images'}" if n else ""
    rule = "one label volume each" if volume else "best annotator per image"
    r = settings.get("r")
    parts = [p for p in (where, what, f"boundary tolerance r = {r} {unit}" if r is not None else "", rule) if p]
    return ", ".join(parts)


def _is_volume_run(summary_csv: Path) -> bool:
    """Whether the benchmark beside ``summary_csv`` (its meta.json) scored volumes."""
    import json

    try:
        return bool(json.loads((summary_csv.parent / "meta.json").read_text())["settings"].get("volume"))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False


def _style(i: int) -> dict:
    """The ``i``-th series' colour, marker and line: no two of the first 120 alike (ten
    colours; past ten series the line is dashed, dotted, ..., so an eleventh is not the
    first again)."""
    return {"color": f"C{i % 10}", "marker": _MARKERS[i % len(_MARKERS)],
            "linestyle": ("-", "--", ":", "-.")[(i // 10) % 4]}


def _draw(ax, series, column: str, label: str, title: str | None, legend: bool, volume: bool = False) -> bool:
    drew = False
    for i, (method, rows) in enumerate(series.items()):
        xs = [float(row["k_delivered"]) for row in rows]
        ys = [_value(row, column) for row in rows]
        if all(math.isnan(y) for y in ys):
            continue
        ax.plot(xs, ys, markersize=6, linewidth=1.8, label=display_name(method), **_style(i))
        drew = True
    if column == "time_s_median" and drew:
        from matplotlib.ticker import FuncFormatter, LogFormatter

        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        # within a decade only minor ticks are labelled: plain numbers there too (not 4x10^1)
        ax.yaxis.set_minor_formatter(LogFormatter(labelOnlyBase=False, minor_thresholds=(2, 0.4)))
    ax.set_xlabel(_volume_words("Number of superpixels (mean delivered)", volume))
    ax.set_ylabel(_volume_words(label, volume))
    if title:
        ax.set_title(_volume_words(title, volume))
    ax.grid(True, which="major", alpha=0.35)
    if legend and drew:
        ax.legend(title="Method", frameon=True, fontsize="medium")
    return drew


def plot_summary(summary_csv, out_dir, dpi: int = 150, volume: bool | None = None) -> list[Path]:
    """Draw each metric of a benchmark summary against the mean delivered K.

    Parameters
    ----------
    summary_csv : str or os.PathLike
        ``summary.csv`` written by :func:`lnsnet.eval.benchmark.run_benchmark`.
    out_dir : str or os.PathLike
        Folder for the PNG files (created).
    dpi : int, default 150
    volume : bool, optional
        Label the axes for supervoxels (a ``--volume`` run); default: as the ``meta.json``
        beside ``summary_csv`` says.

    Returns
    -------
    list of pathlib.Path
        ``asa.png, br.png, bp.png, f.png, ue.png, co.png, ev.png, time.png`` (a metric
        without any value, e.g. EV without images, is skipped) and ``overview.png``; each
        also as a PDF beside it (vector, for print), not listed.

    Raises
    ------
    FileNotFoundError
        If ``summary_csv`` does not exist.
    ValueError
        If it lacks a needed column.
    """
    from matplotlib.figure import Figure

    series = _read_summary(Path(summary_csv))
    if volume is None:
        volume = _is_volume_run(Path(summary_csv))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    caption = _caption(Path(summary_csv), series, volume)  # the data set, its size, r, the annotator rule
    written = []
    for column, (stem, label, title) in PLOT_METRICS.items():
        fig = Figure(figsize=(6.4, 4.8), layout="constrained")
        ax = fig.add_subplot()
        if caption:
            fig.suptitle(caption, fontsize="small")
        if _draw(ax, series, column, label, title, legend=True, volume=volume):
            written.append(_save(fig, out / f"{stem}.png", dpi))
    fig = Figure(figsize=(16, 7.5), layout="constrained")
    if caption:
        fig.suptitle(caption)
    axes = fig.subplots(2, 4)
    for ax, (column, (_, label, title)) in zip(axes.ravel(), PLOT_METRICS.items()):
        _draw(ax, series, column, label, title, legend=False, volume=volume)
    handles, labels = axes.ravel()[0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="outside lower center", ncols=min(len(labels), 8),
                   title="Method")  # fmt: skip
    written.append(_save(fig, out / "overview.png", dpi))
    return written


def _save(fig, path: Path, dpi: int) -> Path:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from ..io import atomic_write

    FigureCanvasAgg(fig)  # Agg, whatever backend pyplot may be using
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=dpi, format="png"))
    atomic_write(path.with_suffix(".pdf"), lambda tmp: fig.savefig(tmp, format="pdf"))  # vector, for print
    return path
