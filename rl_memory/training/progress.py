"""Logger outputs of a run: one progress line per update, metrics.csv and tensorboard."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any, TextIO

from stable_baselines3.common.logger import KVWriter, Logger, TensorBoardOutputFormat

from rl_memory.training.files import atomic_write_text

# (metric, label, format) of each field of a progress line, in order; a metric missing
# from a dump is left out of that line.
PROGRESS_FIELDS: tuple[tuple[str, str, str], ...] = (
    ("time/total_timesteps", "steps", "{:,.0f}"),
    ("time/fps", "steps/s", "{:,.0f}"),
    ("rollout/ep_rew_mean", "return", "{:.3f}"),
    ("rollout/success_rate", "success", "{:.2f}"),
    ("memory/retained_mean", "memories", "{:.1f}"),
    ("eval/success_rate", "eval success", "{:.2f}"),
    ("eval/mean_return", "eval return", "{:.3f}"),
)


def _is_scalar(value: Any) -> bool:
    return isinstance(value, (int, float, str)) or hasattr(value, "item")


class ProgressWriter(KVWriter):
    """Write one line per logger dump, for example::

    steps 4,096 | steps/s 1,850 | return 0.412 | success 0.55 | memories 10.3
    """

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def write(
        self, key_values: dict[str, Any], key_excluded: dict[str, tuple[str, ...]], step: int = 0
    ) -> None:
        parts = []
        for key, label, fmt in PROGRESS_FIELDS:
            value = key_values.get(key)
            if value is None or not _is_scalar(value):
                continue
            parts.append(f"{label} {fmt.format(float(value))}")
        if parts:
            self.stream.write(" | ".join(parts) + "\n")
            self.stream.flush()

    def close(self) -> None:
        """Leave the stream open: it belongs to the caller."""


class CsvMetricsWriter(KVWriter):
    """Append one row per dump to a CSV file, with ``global_step`` as the first column.

    Unlike SB3's CSV output it keeps the rows already in the file, so a resumed run adds to
    the same metrics.csv. When a metric first appears, the file is rewritten once with the
    wider header; earlier rows leave that column empty.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.columns: list[str] = ["global_step"]
        if path.is_file() and path.stat().st_size > 0:
            with path.open(newline="", encoding="utf-8") as file:
                header = next(csv.reader(file), None)
            if header:
                self.columns = header

    def write(
        self, key_values: dict[str, Any], key_excluded: dict[str, tuple[str, ...]], step: int = 0
    ) -> None:
        row = {
            key: value.item() if hasattr(value, "item") else value
            for key, value in key_values.items()
            if _is_scalar(value) and "csv" not in (key_excluded.get(key) or ())
        }
        row["global_step"] = step
        new_columns = sorted(key for key in row if key not in self.columns)
        if new_columns:
            self._widen(new_columns)
        with self.path.open("a", newline="", encoding="utf-8") as file:
            csv.DictWriter(file, fieldnames=self.columns).writerow(row)

    def _widen(self, new_columns: list[str]) -> None:
        rows: list[dict[str, str]] = []
        if self.path.is_file():
            with self.path.open(newline="", encoding="utf-8") as file:
                rows = list(csv.DictReader(file))
        self.columns = self.columns + new_columns
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=self.columns)
        writer.writeheader()
        writer.writerows(rows)
        atomic_write_text(self.path, text.getvalue())

    def close(self) -> None:
        """Nothing to close: the file is opened for each row."""


def build_logger(
    folder: Path,
    metrics_path: Path,
    tensorboard_dir: Path | None,
    progress_stream: TextIO | None,
) -> Logger:
    """Return an SB3 logger writing metrics.csv, tensorboard events and progress lines.

    Args:
        folder: The run folder.
        metrics_path: The CSV file to append to.
        tensorboard_dir: Folder for event files, or None for no tensorboard output.
        progress_stream: Where progress lines go (the CLI passes stdout), or None.
    """
    outputs: list[KVWriter] = [CsvMetricsWriter(metrics_path)]
    if tensorboard_dir is not None:
        outputs.append(TensorBoardOutputFormat(str(tensorboard_dir)))
    if progress_stream is not None:
        outputs.append(ProgressWriter(progress_stream))
    return Logger(folder=str(folder), output_formats=outputs)
