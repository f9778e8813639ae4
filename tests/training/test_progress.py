"""Progress lines and the metrics CSV that survives a resume."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from rl_memory.training.progress import CsvMetricsWriter, ProgressWriter


def test_progress_line_fields() -> None:
    stream = io.StringIO()
    writer = ProgressWriter(stream)
    writer.write(
        {
            "time/total_timesteps": 4096,
            "time/fps": 1850.4,
            "rollout/ep_rew_mean": np.float32(0.4123),
            "rollout/success_rate": 0.55,
            "memory/retained_mean": 10.26,
            "train/loss": 0.1,
        },
        {},
        step=4096,
    )
    line = stream.getvalue()
    assert line == ("steps 4,096 | steps/s 1,850 | return 0.412 | success 0.55 | memories 10.3\n")


def test_progress_line_skips_missing_metrics() -> None:
    stream = io.StringIO()
    ProgressWriter(stream).write({"time/total_timesteps": 64, "time/fps": 10}, {}, step=64)
    assert stream.getvalue() == "steps 64 | steps/s 10\n"


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as file:
        return list(csv.DictReader(file))


def test_csv_widens_header_and_keeps_rows(tmp_path: Path) -> None:
    path = tmp_path / "metrics.csv"
    writer = CsvMetricsWriter(path)
    writer.write({"time/fps": 10}, {}, step=64)
    writer.write({"time/fps": 12, "eval/success_rate": 0.5}, {}, step=128)
    rows = read_rows(path)
    assert [row["global_step"] for row in rows] == ["64", "128"]
    assert rows[0]["eval/success_rate"] == ""
    assert rows[1]["eval/success_rate"] == "0.5"


def test_csv_appends_after_reopening(tmp_path: Path) -> None:
    path = tmp_path / "metrics.csv"
    CsvMetricsWriter(path).write({"time/fps": 10}, {}, step=64)
    CsvMetricsWriter(path).write({"time/fps": 11}, {}, step=128)
    rows = read_rows(path)
    assert [row["time/fps"] for row in rows] == ["10", "11"]


def test_csv_respects_exclusion(tmp_path: Path) -> None:
    path = tmp_path / "metrics.csv"
    CsvMetricsWriter(path).write({"a": 1, "b": 2}, {"b": ("csv",)}, step=1)
    assert "b" not in read_rows(path)[0]
