"""``rl-memory train`` and ``rl-memory eval``: a smoke run, re-evaluation, and bad input."""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from rl_memory.cli import main
from rl_memory.commands.train import MEMORY_KINDS
from rl_memory.training import algorithm_kinds, read_checkpoint

CONSOLE_SCRIPT = Path(sys.executable).with_name("rl-memory")


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    """Run ``rl-memory`` in this process and return (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = main(argv)
        except SystemExit as exit_:  # argparse errors
            status = int(exit_.code or 0)
    return status, out.getvalue(), err.getvalue()


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Return the contents and modification time of every file below ``folder``."""
    return {
        str(path.relative_to(folder)): (path.read_bytes(), path.stat().st_mtime_ns)
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A smoke run trained through the CLI, shared by the tests of this module."""
    torch.set_num_threads(1)
    run_dir = tmp_path_factory.mktemp("runs") / "smoke"
    status, out, err = run_cli(["train", "--env", "smoke", "--run-dir", str(run_dir)])
    assert status == 0, err
    return run_dir, out


def test_train_writes_run_folder(trained_run: tuple[Path, str]) -> None:
    run_dir, _ = trained_run
    for name in ("config.yaml", "metrics.csv", "eval.json"):
        assert (run_dir / name).is_file()
    assert read_checkpoint(run_dir / "checkpoints/latest.zip").num_timesteps == 256
    assert (run_dir / "checkpoints/best.zip").is_file()
    record = json.loads((run_dir / "eval.json").read_text())
    assert record["episodes"] >= 100
    assert record["memory_kind"] == "expire-span"
    assert len(record["retained_memories_per_layer"]) == 1


def test_train_prints_progress_and_summary(trained_run: tuple[Path, str]) -> None:
    _, out = trained_run
    lines = out.splitlines()
    assert lines[0].startswith("run folder: ")
    progress = [line for line in lines if line.startswith("steps ")]
    assert len(progress) >= 4
    assert "memories" in progress[-2]
    assert any(line.startswith("evaluation over 100 episodes: success rate") for line in lines)


def test_eval_writes_new_file(trained_run: tuple[Path, str]) -> None:
    run_dir, _ = trained_run
    before = snapshot(run_dir)
    status, out, err = run_cli(["eval", str(run_dir), "--episodes", "8"])
    assert status == 0, err
    record = json.loads(out)
    assert record["episodes"] == 8
    assert record["env_steps"] == 256
    written = [name for name in snapshot(run_dir) if name not in before]
    assert len(written) == 1
    assert written[0].startswith("evals/eval-Corridor-v0-")
    after = snapshot(run_dir)
    assert all(after[name] == value for name, value in before.items())


def test_eval_on_longer_corridor(trained_run: tuple[Path, str], tmp_path: Path) -> None:
    run_dir, _ = trained_run
    output = tmp_path / "long.json"
    argv = ["eval", str(run_dir), "--env", "rl_memory/Corridor-L30-v0"]
    argv += ["--set", "env.kwargs.max_steps=40", "--episodes", "4", "--output", str(output)]
    status, _, err = run_cli(argv)
    assert status == 0, err
    record = json.loads(output.read_text())
    assert record["env_id"] == "rl_memory/Corridor-L30-v0"
    assert record["env_kwargs"] == {"max_steps": 40}
    assert 32 <= record["mean_episode_length"] <= 40  # an arm is at least 28 + 4 steps away


def test_eval_with_longer_max_span(trained_run: tuple[Path, str], tmp_path: Path) -> None:
    """Raising memory.max_span at evaluation scales the spans, so more memories stay."""
    run_dir, _ = trained_run
    retained_by_span = {}
    for max_span in (1, 1000):
        output = tmp_path / f"span{max_span}.json"
        argv = ["eval", str(run_dir), "--episodes", "8", "--output", str(output)]
        argv += ["--set", "env.kwargs.length=6", "--set", "env.kwargs.max_steps=30"]
        status, _, err = run_cli([*argv, "--set", f"memory.max_span={max_span}"])
        assert status == 0, err
        record = json.loads(output.read_text())
        assert record["max_span"] == max_span
        retained_by_span[max_span] = record["retained_memories_per_layer"][0]
    assert retained_by_span[1000] > retained_by_span[1] + 5
    trained = json.loads((run_dir / "eval.json").read_text())
    assert trained["max_span"] == 16
    assert read_checkpoint(run_dir / "checkpoints/latest.zip").config.memory.max_span == 16


def test_console_script_train_and_eval(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    train = [str(CONSOLE_SCRIPT), "train", "--env", "smoke", "--run-dir", str(run_dir)]
    train += ["--total-steps", "64", "--set", "train.eval_interval=0"]
    done = subprocess.run(train, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    assert "evaluation over 100 episodes" in done.stdout

    output = tmp_path / "eval.json"
    evaluate = [str(CONSOLE_SCRIPT), "eval", str(run_dir), "--episodes", "4"]
    evaluate += ["--output", str(output)]
    done = subprocess.run(evaluate, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(output.read_text())["env_steps"] == 64


def test_train_on_gymnasium_id(tmp_path: Path) -> None:
    run_dir = tmp_path / "memory-s7"
    argv = ["train", "--env", "MiniGrid-MemoryS7-v0", "--run-dir", str(run_dir), "--n-envs", "4"]
    argv += ["--total-steps", "64", "--set", "ppo.n_steps=16", "--set", "train.eval_interval=0"]
    argv += ["--set", "env.kwargs.max_steps=8", "--wandb", "off"]
    status, _, err = run_cli(argv)
    assert status == 0, err
    record = json.loads((run_dir / "eval.json").read_text())
    assert record["env_id"] == "MiniGrid-MemoryS7-v0"
    assert record["env_steps"] == 64


def test_train_init_from_checkpoint(trained_run: tuple[Path, str], tmp_path: Path) -> None:
    checkpoint = trained_run[0] / "checkpoints/latest.zip"
    run_dir = tmp_path / "longer"
    argv = ["train", "--env", "smoke", "--run-dir", str(run_dir), "--init-from", str(checkpoint)]
    argv += [
        "--set",
        "env.kwargs.length=6",
        "--total-steps",
        "64",
        "--set",
        "train.eval_interval=0",
    ]
    status, _, err = run_cli(argv)
    assert status == 0, err
    stored = read_checkpoint(run_dir / "checkpoints/latest.zip").config
    assert stored.train.init_from == str(checkpoint)
    assert stored.env.kwargs["length"] == 6


def test_train_init_from_run_folder(trained_run: tuple[Path, str], tmp_path: Path) -> None:
    run_dir = tmp_path / "from-folder"
    argv = [
        "train",
        "--env",
        "smoke",
        "--run-dir",
        str(run_dir),
        "--init-from",
        str(trained_run[0]),
    ]
    argv += ["--total-steps", "64", "--set", "train.eval_interval=0"]
    status, _, err = run_cli(argv)
    assert status == 0, err
    assert read_checkpoint(run_dir / "checkpoints/latest.zip").num_timesteps == 64


def test_run_files_follow_umask(trained_run: tuple[Path, str]) -> None:
    run_dir = trained_run[0]
    umask = os.umask(0)
    os.umask(umask)
    for name in ("config.yaml", "eval.json", "metrics.csv", "checkpoints/latest.zip"):
        assert (run_dir / name).stat().st_mode & 0o777 == 0o666 & ~umask, name


def test_resume_through_cli(trained_run: tuple[Path, str], tmp_path: Path) -> None:
    run_dir = tmp_path / "copy"
    shutil.copytree(trained_run[0], run_dir)
    status, out, err = run_cli(["train", "--resume", str(run_dir), "--total-steps", "320"])
    assert status == 0, err
    assert "steps 320 | " in out
    assert read_checkpoint(run_dir / "checkpoints/latest.zip").num_timesteps == 320


def test_memory_choices_match_registry() -> None:
    assert set(MEMORY_KINDS) <= set(algorithm_kinds())


# Bad input: exit status 2, one error line naming the problem, and no file of the existing
# run folder written or touched. RUN is the trained run; BAD is a folder with a corrupt
# checkpoint.
BAD_INPUT = [
    (["train", "--env", "Blackjack-v1"], "cannot build the 'expire-span' agent"),
    (["train", "--env", "smoke", "--run-dir", "RUN"], "already exists and is not empty"),
    (
        ["train", "--env", "smoke", "--set", "ppo.lerning_rate=1"],
        "did you mean 'ppo.learning_rate'",
    ),
    (["train", "--env", "smoke", "--set", "ppo.n_steps=abc"], "'abc' for 'ppo.n_steps'"),
    (["train", "--env", "smoke", "--set", "ppo.gamma=2"], "must be in [0, 1]"),
    (["train", "--env", "smoke", "--total-steps", "0"], "'train.total_steps' (--total-steps)"),
    (["train", "--env", "NoSuchEnv-v0"], "unknown env or preset 'NoSuchEnv-v0'"),
    (["train", "--env", "coridor"], "Did you mean the preset 'corridor'?"),
    (["train", "--env", "smoke", "--set", "env.kwargs.length=-3"], "length must be"),
    (["train", "--env", "smoke", "--set", "env.kwargs.lenght=5"], "did you mean 'length'"),
    (["train", "--env", "smoke", "--device", "cuda:99"], "use --device cpu"),
    (["train", "--env", "smoke", "--config", "missing.yaml"], "config file not found"),
    (["train", "--resume", "RUN", "--set", "ppo.gamma=0.5"], "cannot be used with --resume"),
    (
        [
            "train",
            "--env",
            "smoke",
            "--init-from",
            "RUN/checkpoints/latest.zip",
            "--set",
            "memory.d_model=32",
        ],
        "does not fit",
    ),
    (["train", "--env", "smoke", "--init-from", "BAD/checkpoints/latest.zip"], "is corrupt"),
    (["train", "--resume", "RUN"], "already has 256 env steps"),
    (["train", "--resume", "BAD", "--total-steps", "512"], "is corrupt"),
    (["eval", "RUN/checkpoints/missing.zip"], "not found"),
    (["eval", "BAD"], "is corrupt"),
    (["eval", "RUN", "--env", "CartPole-v1"], "observation space"),
    (["eval", "RUN", "--env", "MiniGrid-MemoryS7-v0"], "action space"),
    (["eval", "RUN", "--env", "NoSuchEnv-v0"], "unknown environment id"),
    (["eval", "RUN", "--set", "ppo.gamma=0.5"], "only env.* keys and memory.max_span can"),
    (["eval", "RUN", "--set", "memory.d_model=8"], "only env.* keys and memory.max_span can"),
    (["eval", "RUN", "--set", "memory.max_span=0"], "memory.max_span"),
    (["eval", "RUN", "--set", "env.kwargs.length=50"], "so none can succeed"),
    (["eval", "RUN/checkpoints/latest.zip", "--checkpoint", "best"], "is a checkpoint file"),
    (["eval", "RUN", "--episodes", "0"], "--episodes"),
    (["eval", "RUN", "--output", "RUN/eval.json"], "already exists"),
    (["eval", "RUN", "--device", "cuda:99"], "use --device cpu"),
    (["visualize", "RUN", "--device", "cuda:99"], "use --device cpu"),
    (["eval", "RUN", "--set", "env.kwargs.agent_view_size=5"], "env.kwargs: {length: 3"),
]


@pytest.mark.parametrize(("argv", "message"), BAD_INPUT, ids=lambda v: " ".join(v)[:60])
def test_bad_input(
    argv: list[str],
    message: str,
    trained_run: tuple[Path, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    run_dir = trained_run[0]
    bad_dir = tmp_path / "bad"
    shutil.copytree(run_dir, bad_dir)
    (bad_dir / "checkpoints/latest.zip").write_bytes(b"not a zip archive")
    monkeypatch.chdir(tmp_path)
    argv = [arg.replace("RUN", str(run_dir)).replace("BAD", str(bad_dir)) for arg in argv]
    before, bad_before = snapshot(run_dir), snapshot(bad_dir)

    status, _, err = run_cli(argv)

    assert status == 2
    assert err.count("\n") == 1
    assert err.startswith(f"rl-memory {argv[0]}: error: ")
    assert message in err
    assert snapshot(run_dir) == before
    assert snapshot(bad_dir) == bad_before
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("command", ["train", "eval", "visualize", "play"])
def test_negative_seed_rejected(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    target = {"train": [], "eval": ["RUN"], "visualize": ["RUN"], "play": ["--env", "corridor"]}
    with pytest.raises(SystemExit) as exit_info:
        main([command, *target[command], "--seed", "-1"])
    assert exit_info.value.code == 2
    assert "invalid seed -1: use an integer from 0 to 4294967295" in capsys.readouterr().err


def test_eval_kwargs_apply_to_every_evaluation(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    argv = ["train", "--env", "smoke", "--run-dir", str(run_dir)]
    argv += ["--set", "env.kwargs.start_jitter=1", "--set", "env.eval_kwargs.start_jitter=0"]
    status, _, err = run_cli(argv)
    assert status == 0, err
    final = json.loads((run_dir / "eval.json").read_text())
    assert final["env_kwargs"]["start_jitter"] == 0
    assert final["env_kwargs"]["length"] == 3

    status, out, err = run_cli(["eval", str(run_dir), "--episodes", "4"])
    assert status == 0, err
    assert json.loads(out)["env_kwargs"]["start_jitter"] == 0
    argv = ["eval", str(run_dir), "--episodes", "4", "--set", "env.kwargs.start_jitter=1"]
    status, out, err = run_cli(argv)
    assert status == 0, err
    assert json.loads(out)["env_kwargs"]["start_jitter"] == 1
