"""Tables and figures of the learning benchmark: CSV files, a markdown summary and a plot."""

from __future__ import annotations

import csv
import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

RESULT_COLUMNS = (
    "agent",
    "length",
    "seed",
    "budget_steps",
    "env_steps",
    "stop_reason",
    "train_wall_time_s",
    "env_steps_per_s",
    "steps_to_target",
    "final_success_rate",
    "final_mean_return",
    "eval_episodes",
    "retained_memories_mean",
    "frame_stack",
    "peak_rss_mib",
    "error",
)
GENERALIZATION_COLUMNS = (
    "agent",
    "train_length",
    "seed",
    "eval_length",
    "max_span",
    "episodes",
    "success_rate",
    "retained_memories_mean",
    "mean_episode_length",
    "eval_wall_time_s",
    "peak_rss_mib",
    "error",
)


def _retained_mean(record: dict[str, Any]) -> float | None:
    per_layer = record.get("retained_memories_per_layer")
    return sum(per_layer) / len(per_layer) if per_layer else None


def result_row(result: dict[str, Any]) -> dict[str, Any]:
    """Flatten one cell result into a row with ``RESULT_COLUMNS``."""
    cell = result["cell"]
    row: dict[str, Any] = {
        "agent": cell["agent"],
        "length": cell["length"],
        "seed": cell["seed"],
        "budget_steps": cell["total_steps"],
    }
    if "error" in result:
        return {**row, "error": result["error"]}
    record = result["evaluation"]
    rate = result["env_steps_per_s"]
    row.update(
        env_steps=record["env_steps"],
        stop_reason=result["stop_reason"],
        train_wall_time_s=record["wall_time_s"]["train"],
        env_steps_per_s=round(rate) if rate else None,
        steps_to_target=result["steps_to_target"],
        final_success_rate=record["success_rate"],
        final_mean_return=round(record["mean_return"], 4),
        eval_episodes=record["episodes"],
        retained_memories_mean=_retained_mean(record),
        frame_stack=result["frame_stack"] if cell["agent"].startswith("frame-stack") else None,
        peak_rss_mib=result.get("peak_rss_mib"),
    )
    return row


def generalization_row(result: dict[str, Any]) -> dict[str, Any]:
    """Flatten one length-generalisation evaluation into a row with ``GENERALIZATION_COLUMNS``."""
    cell = result["cell"]
    row: dict[str, Any] = {
        "agent": cell["agent"],
        "train_length": cell["length"],
        "seed": cell["seed"],
        "eval_length": result["eval_length"],
        "max_span": result.get("max_span"),
    }
    if "error" in result:
        return {**row, "error": result["error"]}
    row.update(
        episodes=result["episodes"],
        success_rate=result["success_rate"],
        retained_memories_mean=_retained_mean(result),
        mean_episode_length=round(result["mean_episode_length"], 1),
        eval_wall_time_s=result["wall_time_s"]["eval"],
        peak_rss_mib=result.get("peak_rss_mib"),
    )
    return row


def write_csv(path: Path, columns: Sequence[str], rows: Iterable[dict[str, Any]]) -> None:
    """Write rows as CSV with a header; missing values are empty cells."""
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, fieldnames=list(columns), extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({key: "" if row.get(key) is None else row[key] for key in columns})


def write_curves(path: Path, results: Iterable[dict[str, Any]]) -> None:
    """Write every cell's learning curve: one row per (cell, rollout end)."""
    columns = ("agent", "length", "seed", "env_steps", "training_success_rate")
    rows = []
    for result in results:
        cell = result["cell"]
        for steps, rate in result.get("curve", []):
            rows.append(
                {
                    "agent": cell["agent"],
                    "length": cell["length"],
                    "seed": cell["seed"],
                    "env_steps": steps,
                    "training_success_rate": None if rate is None else round(rate, 4),
                }
            )
    write_csv(path, columns, rows)


# Markdown ----------------------------------------------------------------------------------


def _number(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "—"
    return f"{value:,.{digits}f}"


def _per_seed(values: Sequence[Any], fmt: Any) -> str:
    return " / ".join(fmt(v) for v in values)


def _steps_text(row: dict[str, Any]) -> str:
    if row.get("steps_to_target") is not None:
        return f"{row['steps_to_target'] / 1000:,.0f}k"
    reason = {"wall-cap": "capped", "budget": "not reached"}.get(row["stop_reason"], "—")
    return f"{reason} ({row['env_steps'] / 1000:,.0f}k)"


def results_markdown(rows: Sequence[dict[str, Any]], target: float) -> str:
    """Return a markdown table with one line per (agent, length), seeds side by side."""
    groups: dict[tuple[int, str], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[(row["length"], row["agent"])].append(row)
    lines = [
        f"| length | agent | final success (per seed) | env steps to {target:.0%} "
        "(per seed) | env steps/s (mean) | peak RSS MiB (max) | memories kept (mean) |",
        "|---:|---|---|---|---:|---:|---:|",
    ]
    for (length, agent), group in sorted(groups.items(), key=lambda item: item[0][0]):
        ok = [r for r in group if not r.get("error")]
        failed = len(group) - len(ok)
        success = _per_seed([r["final_success_rate"] for r in ok], lambda v: _number(v, 2))
        steps = _per_seed(ok, _steps_text)
        rates = [r["env_steps_per_s"] for r in ok if r["env_steps_per_s"]]
        memories = [r["retained_memories_mean"] for r in ok if r["retained_memories_mean"]]
        kept = _number(statistics.mean(memories), 1) if memories else "—"
        if agent.startswith("frame-stack") and ok:
            kept = f"{ok[0]['frame_stack']} (stack)"
        peak = max((r["peak_rss_mib"] for r in ok if r["peak_rss_mib"]), default=None)
        success, steps = success or "—", steps or "—"
        if failed:
            success += f" ({failed} failed)"
        lines.append(
            f"| {length:,} | {agent} | {success} | {steps} | "
            f"{_number(statistics.mean(rates)) if rates else '—'} | {_number(peak)} | {kept} |"
        )
    return "\n".join(lines) + "\n"


def generalization_markdown(rows: Sequence[dict[str, Any]]) -> str:
    """Return a markdown table of success and memories kept on longer corridors."""
    lines = [
        "| agent | trained on | seed | evaluated on | max_span | episodes | success | "
        "memories kept (mean) | eval wall time s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    ordered = sorted(
        rows, key=lambda r: (r["agent"], r["train_length"], r["seed"], r["eval_length"])
    )
    for row in ordered:
        span = f"{row['max_span']:,}" if row.get("max_span") is not None else "—"
        head = (
            f"| {row['agent']} | {row['train_length']:,} | {row['seed']} | "
            f"{row['eval_length']:,} | {span} |"
        )
        if row.get("error"):
            lines.append(f"{head} — | failed: {row['error']} | — | — |")
            continue
        lines.append(
            f"{head} {row['episodes']} | {_number(row['success_rate'], 2)} | "
            f"{_number(row['retained_memories_mean'], 1)} | {_number(row['eval_wall_time_s'], 0)} |"
        )
    return "\n".join(lines) + "\n"


# Plot --------------------------------------------------------------------------------------


def plot_curves(path: Path, results: Sequence[dict[str, Any]], target: float) -> None:
    """Plot training success rate against env steps: one panel per length, one colour per agent."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    cells = [r for r in results if "error" not in r]
    lengths = sorted({r["cell"]["length"] for r in cells})
    agents = sorted({r["cell"]["agent"] for r in cells})
    colours = {agent: f"C{i % 10}" for i, agent in enumerate(agents)}
    figure, axes = plt.subplots(
        1, max(1, len(lengths)), figsize=(4.5 * max(1, len(lengths)), 3.6), squeeze=False
    )
    for ax, length in zip(axes[0], lengths, strict=False):
        labelled: set[str] = set()
        for result in cells:
            cell = result["cell"]
            if cell["length"] != length:
                continue
            points = [(s, r) for s, r in result["curve"] if r is not None]
            if not points:
                continue
            steps, rates = zip(*points, strict=True)
            label = None if cell["agent"] in labelled else cell["agent"]
            labelled.add(cell["agent"])
            ax.plot(steps, rates, color=colours[cell["agent"]], label=label, lw=1.2)
        ax.axhline(target, color="grey", ls=":", lw=1)
        ax.set_title(f"corridor length {length:,}")
        ax.set_xlabel("env steps")
        ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value / 1000:g}k"))
        ax.set_ylim(-0.02, 1.02)
    axes[0][0].set_ylabel(
        f"training success (last {cells[0]['cell']['window']} episodes)" if cells else ""
    )
    handles, labels = [], []
    for ax in axes[0]:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            if label not in labels:
                handles.append(handle)
                labels.append(label)
    if handles:
        figure.legend(handles, labels, loc="lower center", ncol=min(len(labels), 6), fontsize=8)
    figure.tight_layout(rect=(0, 0.1, 1, 1))
    figure.savefig(path, dpi=110)
    plt.close(figure)
