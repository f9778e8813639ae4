"""The learning benchmark: cell configurations, the curve callback, the tables and the command."""

from __future__ import annotations

import contextlib
import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
import torch

from rl_memory.bench import (
    BenchmarkPlan,
    Cell,
    LearningCurveCallback,
    corridor_config,
    run_cell,
)
from rl_memory.bench.report import result_row, results_markdown
from rl_memory.cli import main
from rl_memory.commands.bench import parse_steps
from rl_memory.config import load_preset

TINY = ["env.n_envs=4", "ppo.n_steps=16", "ppo.batch_envs=2", "env.kwargs.max_steps=20"]


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = main(argv)
        except SystemExit as exit_:
            status = int(exit_.code or 0)
    return status, out.getvalue(), err.getvalue()


# Cell configurations ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("length", "max_span", "span_rate"), [(10, 30, 1e-5), (30, 70, 2e-4 / 30), (100, 1010, 2e-6)]
)
def test_corridor_config_scales_with_length(length: int, max_span: int, span_rate: float) -> None:
    config = corridor_config(Cell("expire-span", length, seed=3, total_steps=5000))
    # Training starts anywhere along the corridor, and evaluations start at the far end.
    expected = {"length": length, "agent_view_size": 3, "start_jitter": length - 1}
    assert config.env.kwargs == expected
    assert config.env.eval_kwargs == {"start_jitter": 0}
    assert config.memory.max_span == max_span
    assert config.ppo.span_learning_rate == pytest.approx(span_rate)
    assert config.train.total_steps == 5000
    assert config.train.seed == 3
    assert config.train.eval_interval == 0
    assert config.log.wandb == "off"


def test_corridor_config_keeps_preset_at_its_length() -> None:
    preset = load_preset("corridor")
    config = corridor_config(Cell("lstm", preset.env.kwargs["length"], seed=0, total_steps=100))
    assert config.env.kwargs == preset.env.kwargs
    assert config.memory.max_span == preset.memory.max_span
    assert config.memory.kind == "lstm"


def test_corridor_config_window_shorter_than_corridor() -> None:
    config = corridor_config(Cell("transformer-xl", 30, seed=0, total_steps=100))
    assert config.memory.kind == "transformer-xl"
    assert config.memory.window == 15


def test_corridor_config_applies_variant_and_overrides() -> None:
    cell = Cell(
        "frame-stack:memory.frame_stack=8",
        10,
        seed=0,
        total_steps=100,
        overrides=["env.n_envs=8"],
    )
    config = corridor_config(cell)
    assert config.memory.kind == "frame-stack"
    assert config.memory.frame_stack == 8
    assert config.env.n_envs == 8
    assert cell.name == "frame-stack-framestack8-L10-s0"


# Learning curve callback --------------------------------------------------------------------


def feed(callback: LearningCurveCallback, successes: list[bool], steps: int) -> bool:
    """Finish one episode per success value, then end the rollout at ``steps`` env steps."""
    keep_going = True
    for success in successes:
        callback.locals = {"infos": [{"is_success": success}], "dones": [True]}
        keep_going = callback._on_step()
    callback.num_timesteps = steps
    callback._on_rollout_end()
    return keep_going


def test_curve_records_target_and_stops() -> None:
    callback = LearningCurveCallback(window=4, target=0.75, stop_at_target=True)
    callback._on_training_start()
    feed(callback, [False, True, True], steps=100)
    assert callback.curve == [(100, pytest.approx(2 / 3))]
    assert callback.steps_to_target is None  # the window is not full yet

    feed(callback, [True], steps=200)
    assert callback.steps_to_target == 200
    assert callback.stop_reason == "target"
    assert feed(callback, [], steps=200) is True  # no episode ended: no step was taken
    callback.locals = {"infos": [{}], "dones": [False]}
    assert callback._on_step() is False


def test_curve_keeps_training_past_target() -> None:
    callback = LearningCurveCallback(window=2, target=0.5, stop_at_target=False)
    callback._on_training_start()
    feed(callback, [True, True], steps=50)
    assert callback.steps_to_target == 50
    assert callback.stop_reason == "budget"
    callback.locals = {"infos": [{}], "dones": [False]}
    assert callback._on_step() is True


def test_curve_stops_at_wall_cap() -> None:
    callback = LearningCurveCallback(max_wall_time_s=0.0)
    callback._on_training_start()
    feed(callback, [False], steps=64)
    assert callback.stop_reason == "wall-cap"
    callback.locals = {"infos": [{}], "dones": [False]}
    assert callback._on_step() is False


def test_run_cell_stops_at_wall_cap(tmp_path: Path) -> None:
    torch.set_num_threads(1)
    cell = Cell("none", 3, seed=0, total_steps=4096, max_wall_time_s=0.0, overrides=TINY)
    result = run_cell(cell, tmp_path / "run")
    assert result["stop_reason"] == "wall-cap"
    # The first rollout (4 envs x 16 steps) ends past the cap; one more step finds the stop.
    assert result["evaluation"]["env_steps"] == 4 * 16 + 4
    assert (tmp_path / "run" / "eval.json").is_file()
    assert result["curve"][0][0] == 64


# Tables -------------------------------------------------------------------------------------


def fake_result(agent: str, seed: int, steps_to_target: int | None) -> dict[str, Any]:
    return {
        "cell": {"agent": agent, "length": 30, "seed": seed, "total_steps": 50000, "window": 100},
        "frame_stack": 38,
        "evaluation": {
            "env_steps": 12000,
            "wall_time_s": {"train": 10.0, "eval": 1.0},
            "success_rate": 0.5 + 0.25 * seed,
            "mean_return": 0.4,
            "episodes": 100,
            "retained_memories_per_layer": [10.0, 20.0] if agent == "expire-span" else None,
        },
        "curve": [(2048, 0.5)],
        "steps_to_target": steps_to_target,
        "stop_reason": "target" if steps_to_target else "wall-cap",
        "env_steps_per_s": 1200.0,
        "peak_rss_mib": 400.0 + seed,
    }


def test_results_markdown_lists_seeds() -> None:
    rows = [result_row(fake_result("expire-span", s, 9000 if s else None)) for s in (0, 1)]
    rows.append(result_row(fake_result("frame-stack", 0, None)))
    table = results_markdown(rows, target=0.95)
    lines = table.splitlines()
    assert "env steps to 95%" in lines[0]
    assert "| 30 | expire-span | 0.50 / 0.75 | capped (12k) / 9k | 1,200 | 401 | 15.0 |" in lines
    assert "| 30 | frame-stack | 0.50 | capped (12k) | 1,200 | 400 | 38 (stack) |" in lines


def test_result_row_of_failed_cell() -> None:
    row = result_row({"cell": fake_result("lstm", 0, None)["cell"], "error": "exit status 1"})
    assert row["error"] == "exit status 1"
    assert "| lstm | — (1 failed) |" in results_markdown([row], 0.95).replace(" 30 |", "")


# Command line -------------------------------------------------------------------------------


def test_parse_steps_forms() -> None:
    assert parse_steps("5000", [10, 30]) == {10: 5000, 30: 5000}
    assert parse_steps("10=100,30=200", [10, 30]) == {10: 100, 30: 200}


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--steps", "10=100"], "no budget for length 30"),
        (["--memory", "gru"], "invalid agent 'gru'"),
        (["--lengths", "ten"], "invalid value 'ten' for --lengths"),
        (["--set", "ppo.lerning_rate=1"], "did you mean 'ppo.learning_rate'"),
        (["--init-length", "20"], "--init-length: it must be one of --lengths (10,30)"),
        (["--memory", "frame-stack", "--init-length", "10"], "memory.frame_stack=50"),
        (["--max-wall-time", "-5"], "invalid value -5.0 for --max-wall-time"),
        (["--target", "1.5"], "invalid value 1.5 for --target"),
        (["--generalize-to", "100", "--generalize-from", "7"], "value 7 for --generalize-from"),
        (["--generalize-to", "20"], "invalid value 20 in --generalize-to"),
        (["--generalize-to", "100", "--generalize-seeds", "9"], "value 9 in --generalize-seeds"),
        (["--memory", "none", "--generalize-to", "100", "--generalize-memory", "lstm"], "'lstm'"),
        (["--generalize-scale-spans"], "--generalize-scale-spans needs --generalize-to"),
        (["--seeds", "a"], "invalid value 'a' for --seeds"),
        (["--seeds=-1"], "--seeds: every value must be >= 0"),
        (["--generalize-to", "100", "--generalize-seeds", "x"], "value 'x' for --generalize-seeds"),
        (["--steps", "1,2"], "give one number for every length"),
        (["--generalize-to", "100", "--generalize-episodes", "0"], "--generalize-episodes"),
        (["--generalize-to", "100", "--generalize-timeout", "-1"], "--generalize-timeout"),
        (["--generalize-to", "100", "--generalize-timeout", "nan"], "finite number"),
        (["--max-wall-time", "inf"], "finite number"),
        (["--steps", "10=", "--lengths", "10"], "invalid item '10=' in --steps"),
        (["--steps", "10=5,10=6", "--lengths", "10"], "length 10 is given twice"),
        (["--seeds", "0,0"], "0 is given twice"),
        (["--memory", "none,none"], "'none' is given twice"),
        (["--generalize-episodes", "5"], "--generalize-episodes needs --generalize-to"),
        (["--generalize-memory", "lstm"], "--generalize-memory needs --generalize-to"),
        (
            ["--memory", "none,lstm", "--generalize-to", "100", "--generalize-scale-spans"],
            "none of none, lstm is evaluated",
        ),
    ],
)
def test_bench_rejects_bad_input(argv: list[str], expected: str, tmp_path: Path) -> None:
    status, _, err = run_cli(["bench", "--lengths", "10,30", "--out", str(tmp_path), *argv])
    assert status == 2
    assert expected in err


def test_bench_rejects_folder_without_benchmark(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text("kept: true\n")
    argv = ["bench", "--lengths", "10", "--steps", "100", "--out", str(tmp_path)]
    status, _, err = run_cli(argv)
    assert status == 2
    assert "is not empty and contains no benchmark" in err
    assert sorted(path.name for path in tmp_path.iterdir()) == ["config.yaml"]


def test_plan_starts_longer_cells_from_init_length(tmp_path: Path) -> None:
    plan = BenchmarkPlan(
        agents=["lstm", "none"],
        lengths=[30, 10],
        seeds=[0, 1],
        steps={10: 100, 30: 200},
        out_dir=tmp_path,
        overrides=["env.n_envs=4"],
        init_length=10,
    )
    cells = plan.cells()
    assert [cell.length for cell in cells] == [10] * 4 + [30] * 4
    for cell in cells:
        if cell.length == 10:
            assert cell.overrides == ["env.n_envs=4"]
        else:
            source = tmp_path / "runs" / f"{cell.agent}-L10-s{cell.seed}"
            assert cell.overrides == ["env.n_envs=4", f"train.init_from={source}"]


def test_bench_command_writes_tables(tmp_path: Path) -> None:
    out = tmp_path / "bench"
    argv = ["bench", "--memory", "frame-stack", "--lengths", "3", "--seeds", "0"]
    argv += ["--steps", "128", "--generalize-to", "5", "--generalize-episodes", "4"]
    argv += ["--out", str(out)] + [f"--set={item}" for item in TINY]
    status, stdout, err = run_cli(argv)
    assert status == 0, err
    assert "frame-stack L=3 seed=0: 128 steps (budget)" in stdout

    with (out / "results.csv").open() as file:
        (row,) = list(csv.DictReader(file))
    assert row["agent"] == "frame-stack"
    assert row["env_steps"] == "128"
    assert row["frame_stack"] == str(3 + 2 * 2 + 4)
    assert float(row["peak_rss_mib"]) > 50
    assert 0.0 <= float(row["final_success_rate"]) <= 1.0

    with (out / "generalization.csv").open() as file:
        (evaluation,) = list(csv.DictReader(file))
    assert evaluation["eval_length"] == "5"
    assert evaluation["episodes"] == "4"
    assert (out / "learning.png").stat().st_size > 0
    assert "| 3 | frame-stack |" in (out / "results.md").read_text()
    result = json.loads((out / "cells" / "frame-stack-L3-s0.json").read_text())
    assert [steps for steps, _ in result["curve"]] == [64, 128]

    # The same command again reuses the stored cell and evaluation instead of training.
    before = (out / "results.csv").read_text()
    status, stdout, err = run_cli(argv)
    assert status == 0, err
    assert (out / "results.csv").read_text() == before
    assert sorted(path.name for path in (out / "runs").iterdir()) == ["frame-stack-L3-s0"]


def test_bench_scales_spans_on_longer_corridors(tmp_path: Path) -> None:
    out = tmp_path / "bench"
    argv = ["bench", "--memory", "expire-span,none", "--lengths", "3", "--seeds", "0"]
    argv += ["--steps", "64", "--generalize-to", "6,30", "--generalize-episodes", "2"]
    argv += ["--generalize-scale-spans", "--out", str(out)] + [f"--set={item}" for item in TINY]
    status, stdout, err = run_cli(argv)
    assert status == 0, err
    assert "expire-span L=3 seed=0 on L=30 (max_span 160): success" in stdout
    with (out / "generalization.csv").open() as file:
        rows = {(row["agent"], row["eval_length"]): row for row in csv.DictReader(file)}
    # Trained with max_span 2 * 3 + 10 = 16, scaled by 6 / 3 and 30 / 3.
    assert rows["expire-span", "6"]["max_span"] == "32"
    assert rows["expire-span", "30"]["max_span"] == "160"
    assert rows["none", "30"]["max_span"] == ""
    record = json.loads(
        (out / "generalization" / "expire-span-L3-s0-eval-L30-span160.json").read_text()
    )
    assert record["max_span"] == 160
    # The training budget of 20 steps is too short for 30 cells: the evaluation uses the
    # longer corridor's default.
    assert record["env_kwargs"]["max_steps"] is None
    assert "| expire-span | 3 | 0 | 30 | 160 | 2 |" in (out / "results.md").read_text()


def test_bench_evaluates_retrained_cell_again(tmp_path: Path) -> None:
    out = tmp_path / "bench"
    argv = ["bench", "--memory", "none", "--lengths", "3", "--seeds", "0"]
    argv += ["--generalize-to", "5", "--generalize-episodes", "2", "--out", str(out)]
    argv += [f"--set={item}" for item in TINY]
    for steps in ("64", "128"):
        status, _, err = run_cli([*argv, "--steps", steps])
        assert status == 0, err
    folder = out / "generalization"
    current = json.loads((folder / "none-L3-s0-eval-L5.json").read_text())
    previous = json.loads((folder / "none-L3-s0-eval-L5-previous.json").read_text())
    assert current["env_steps"] == 128
    assert previous["env_steps"] == 64
    assert (folder / "none-L3-s0-eval-L5-previous.log").is_file()


def test_bench_exits_nonzero_when_evaluation_fails(tmp_path: Path) -> None:
    argv = ["bench", "--memory", "none", "--lengths", "3", "--seeds", "0", "--steps", "64"]
    argv += ["--generalize-to", "5", "--generalize-episodes", "2"]
    argv += ["--generalize-timeout", "0.01", "--out", str(tmp_path / "bench")]
    status, stdout, err = run_cli(argv + [f"--set={item}" for item in TINY])
    assert status == 1
    assert "on L=5: failed (timed out after 0.01 s, the --generalize-timeout; log: " in stdout
    assert "0 cell(s) and 1 evaluation(s) failed" in err


def test_bench_init_length_loads_shorter_agents(tmp_path: Path) -> None:
    out = tmp_path / "bench"
    argv = ["bench", "--memory", "none,lstm", "--lengths", "5,3", "--seeds", "0"]
    argv += ["--steps", "64", "--init-length", "3", "--out", str(out)]
    argv += [f"--set={item}" for item in TINY]
    status, stdout, err = run_cli(argv)
    assert status == 0, err
    assert "failed" not in stdout
    for agent in ("none", "lstm"):
        source = out / "runs" / f"{agent}-L3-s0"
        config = (out / "runs" / f"{agent}-L5-s0" / "config.yaml").read_text()
        assert f"init_from: {source}" in config
