"""Run folders: naming, refusing reuse, and finding resumable runs."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from rl_memory.training import RunDirectory, RunDirError, default_run_dir
from rl_memory.training.files import atomic_write_text, unique_path, write_new_text
from rl_memory.training.run_dir import env_slug

NOW = datetime(2026, 1, 2, 3, 4, 5)


def test_default_run_dir_name(tmp_path: Path) -> None:
    path = default_run_dir(tmp_path, "corridor", "expire-span", NOW)
    assert path == tmp_path / "corridor-expire-span-20260102-030405"


def test_default_run_dir_skips_existing(tmp_path: Path) -> None:
    (tmp_path / "corridor-all-20260102-030405").mkdir()
    path = default_run_dir(tmp_path, "corridor", "all", NOW)
    assert path.name == "corridor-all-20260102-030405-2"


@pytest.mark.parametrize(
    ("env_id", "slug"),
    [
        ("rl_memory/Corridor-L1000-v0", "Corridor-L1000-v0"),
        ("rl_memory:rl_memory/Corridor-v0", "Corridor-v0"),
        ("MiniGrid-MemoryS7-v0", "MiniGrid-MemoryS7-v0"),
        ("other/Name v1", "other-Name-v1"),
    ],
)
def test_env_slug(env_id: str, slug: str) -> None:
    assert env_slug(env_id) == slug


def test_check_new_accepts_missing_and_empty(tmp_path: Path) -> None:
    assert RunDirectory.check_new(tmp_path / "new").path == tmp_path / "new"
    (tmp_path / "empty").mkdir()
    RunDirectory.check_new(tmp_path / "empty")


def test_check_new_rejects_non_empty(tmp_path: Path) -> None:
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "config.yaml").write_text("x")
    with pytest.raises(RunDirError, match="--resume"):
        RunDirectory.check_new(tmp_path / "used")


def test_check_new_rejects_file(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(RunDirError, match="existing file"):
        RunDirectory.check_new(tmp_path / "file")


def test_open_existing_names_missing_part(tmp_path: Path) -> None:
    with pytest.raises(RunDirError, match="not found"):
        RunDirectory.open_existing(tmp_path / "missing")
    (tmp_path / "config.yaml").write_text("{}")
    with pytest.raises(RunDirError, match=r"latest\.zip is missing"):
        RunDirectory.open_existing(tmp_path)


def test_new_eval_path_never_reuses(tmp_path: Path) -> None:
    run = RunDirectory(tmp_path)
    first = run.new_eval_path("rl_memory/Corridor-v0", NOW)
    atomic_write_text(first, "{}")
    second = run.new_eval_path("rl_memory/Corridor-v0", NOW)
    assert first.name == "eval-Corridor-v0-20260102-030405.json"
    assert second.name == "eval-Corridor-v0-20260102-030405-2.json"
    assert second != run.eval_path


def test_atomic_write_leaves_no_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "file.txt"
    atomic_write_text(target, "one")
    atomic_write_text(target, "two")
    assert target.read_text() == "two"
    assert [p.name for p in target.parent.iterdir()] == ["file.txt"]
    assert unique_path(target) == tmp_path / "sub" / "file-2.txt"


def test_write_new_text_never_replaces(tmp_path: Path) -> None:
    target = tmp_path / "eval.json"
    first = write_new_text(target, "first")
    second = write_new_text(target, "second")
    assert first == target
    assert second == tmp_path / "eval-2.json"
    assert target.read_text() == "first"
    assert second.read_text() == "second"
    with pytest.raises(FileExistsError):
        write_new_text(target, "third", numbered=False)
    assert target.read_text() == "first"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["eval-2.json", "eval.json"]
