from __future__ import annotations

import base64
import io
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from PIL import Image
from viz_synthetic import synthetic_trace

from rl_memory.cli import UsageError, main
from rl_memory.commands.visualize import output_folder
from rl_memory.viz.report import write_report

DETAILS = [("checkpoint", "synthetic"), ("env", "synthetic/Corridor")]


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    traces = [
        synthetic_trace(length=40, seed=0),
        synthetic_trace(length=300, seed=1, corridor_span=20),
    ]
    return write_report(tmp_path_factory.mktemp("report"), "Synthetic report", DETAILS, traces)


def _image_sources(text: str) -> list[str]:
    return re.findall(r'<img [^>]*src="([^"]+)"', text)


def test_report_is_self_contained(report):
    text = report.read_text()
    assert "<script" not in text
    assert "http://" not in text
    assert "https://" not in text
    assert "<link" not in text
    sources = _image_sources(text)
    assert len(sources) == 6  # three figures for each of two episodes
    for source in sources:
        assert source.startswith("data:image/png;base64,")


def test_report_images_decode(report):
    for source in _image_sources(report.read_text()):
        png = base64.b64decode(source.split(",", 1)[1])
        width, height = Image.open(io.BytesIO(png)).size
        assert width > 300
        assert height > 200


def test_report_writes_pngs_and_tables(report):
    names = sorted(path.name for path in report.parent.iterdir())
    assert "episode1_memory_timeline.png" in names
    assert "episode2_recall_memory.png" in names
    assert "episode2_trace.csv" in names
    assert len(names) == 9


def test_write_report_never_overwrites(report):
    with pytest.raises(FileExistsError, match="already exists"):
        write_report(report.parent, "again", DETAILS, [synthetic_trace(length=10)])


def test_output_folder_picks_new_default(tmp_path):
    taken = tmp_path / "report"
    taken.mkdir()
    (taken / "notes.txt").write_text("mine")
    assert output_folder(None, taken) == tmp_path / "report-2"
    assert output_folder(None, tmp_path / "fresh") == tmp_path / "fresh"


def test_output_folder_rejects_used_out(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(UsageError, match="already exists and is not empty"):
        output_folder(tmp_path, tmp_path / "unused")


def test_visualize_missing_path(capsys, tmp_path):
    assert main(["visualize", str(tmp_path / "missing")]) == 2
    assert "run folder or checkpoint not found" in capsys.readouterr().err


def test_visualize_folder_without_checkpoint(capsys, tmp_path):
    assert main(["visualize", str(tmp_path)]) == 2
    assert "checkpoints/latest.zip is missing" in capsys.readouterr().err


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# Written after load: each image's decoded width, and a control image that cannot decode.
PROBE = (
    '<img id="control" alt="control" src="data:image/png;base64,AAAA">'
    '<script>window.addEventListener("load", () => {'
    'for (const img of document.images) img.setAttribute("data-natural-width", img.naturalWidth);'
    "});</script></body>"
)


def _chromium(*args: str) -> str:
    assert CHROMIUM is not None
    with tempfile.TemporaryDirectory() as profile:
        result = subprocess.run(
            [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
    return result.stdout


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not on PATH (apt-get install chromium)")
def test_report_renders_in_chromium(report, tmp_path):
    probe = tmp_path / "probe.html"
    probe.write_text(report.read_text().replace("</body>", PROBE))
    dom = _chromium("--virtual-time-budget=5000", "--dump-dom", probe.as_uri())
    widths = {}
    for index, tag in enumerate(re.findall(r"<img ([^>]*)>", dom)):
        name = re.search(r'id="(\w+)"', tag)
        width = re.search(r'data-natural-width="(\d+)"', tag)
        assert width is not None, "the probe script did not run"
        widths[name.group(1) if name else f"figure{index}"] = int(width.group(1))
    assert widths.pop("control") == 0, "an image that cannot decode reported a width"
    assert len(widths) == 6
    for name, width in widths.items():
        assert width > 300, f"{name} did not decode"

    screenshot = tmp_path / "report.png"
    _chromium(f"--screenshot={screenshot}", "--window-size=1200,3000", report.as_uri())
    image = Image.open(screenshot).convert("L")
    low, high = image.getextrema()
    assert high - low > 100, "the screenshot is blank"
