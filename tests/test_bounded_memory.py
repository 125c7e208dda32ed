"""Small hostile inputs must not cost the server much memory or block it (issue 13, part 3).

Target: no upload under 25 MB raises the server's memory by more than 500 MB. Each case
runs in a fresh Python process that imports what it needs, warms up, resets the kernel's
peak-RSS mark (writing 5 to ``/proc/self/clear_refs``), runs one operation and reports how
far the peak resident set (``VmHWM``) rose above the resident set just before. Pillow
allocates pixels in C, outside tracemalloc's view, so the resident set is the honest
measure. Special files (``/dev/zero``, a FIFO, a sparse 3 GB file) go through the real
``python -m explorer.predict`` under an address-space limit, so a regression fails the
test instead of eating the machine's memory or hanging it.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from explorer.checkpoints import save_checkpoint
from explorer.model import init_variables, preset

ROOT = Path(__file__).resolve().parents[1]
TARGET_MB = 500
DIGIT_DATASET = {"name": "mnist-5k", "class_names": list("0123456789"), "preprocessing": "digit"}


def _can_reset_peak_rss() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return "VmHWM" in Path("/proc/self/status").read_text()
    except OSError:
        return False


needs_peak_reset = pytest.mark.skipif(
    not _can_reset_peak_rss(), reason="needs Linux /proc/self/clear_refs to measure peak RSS"
)

PROBE = """
import json, sys
from pathlib import Path

def kib(field):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])

{setup}
Path("/proc/self/clear_refs").write_text("5")
before = kib("VmRSS")
try:
{action}
    outcome = "ok"
except Exception as error:
    outcome = type(error).__name__ + ": " + str(error)
print(json.dumps({{"mb": (kib("VmHWM") - before) / 1024, "outcome": outcome}}))
"""


def peak_increase(setup: str, action: str, *args: str) -> dict:
    """Run ``action`` after ``setup`` in a fresh process: {"mb": peak RSS rise, "outcome"}."""
    code = PROBE.format(
        setup=textwrap.dedent(setup), action=textwrap.indent(textwrap.dedent(action), "    ")
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT), JAX_PLATFORMS="cpu")
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"peak RSS rise {result['mb']:.1f} MB; {result['outcome']}")
    return result


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def jpeg_claiming(width: int, height: int) -> bytes:
    """A 16x16 baseline JPEG whose frame header (SOF0) is rewritten to claim width x height:
    a few hundred bytes that say they hold a huge picture."""
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), (200, 30, 30)).save(buffer, "JPEG", quality=50)
    data = bytearray(buffer.getvalue())
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = height.to_bytes(2, "big") + width.to_bytes(2, "big")
    return bytes(data)


def real_big_jpeg() -> bytes:
    """A valid 4999x5000 one-colour JPEG: 0.4 MB on disk, 75 MB of pixels at full size."""
    buffer = io.BytesIO()
    Image.new("RGB", (4999, 5000), (230, 230, 230)).save(buffer, "JPEG", quality=1)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def digit_run(tmp_path_factory) -> Path:
    spec = preset("mlp", (28, 28, 1), 10)
    run = tmp_path_factory.mktemp("runs") / "digits"
    save_checkpoint(run, init_variables(spec), spec, DIGIT_DATASET, {})
    return run


PREDICT_SETUP = """
from explorer.checkpoints import load_checkpoint
from explorer.predict import predict_file
checkpoint = load_checkpoint(sys.argv[1])
predict_file(checkpoint, sys.argv[2])  # warm up: compile the model on a small picture
"""


@needs_peak_reset
@pytest.mark.parametrize(
    ("picture", "bound_mb"),
    [(real_big_jpeg, 60), (lambda: jpeg_claiming(4999, 5000), 30)],
    ids=["valid-0.4MB", "header-only-0.7KB"],
)
def test_predicting_a_jpeg_of_4999x5000_never_decodes_it_at_full_size(
    tmp_path, digit_run, picture, bound_mb
):
    data = picture()
    assert len(data) < 25 * 2**20
    small, big = tmp_path / "small.png", tmp_path / "big.jpg"
    small.write_bytes(png_bytes(Image.new("L", (40, 60), 255)))
    big.write_bytes(data)
    result = peak_increase(
        PREDICT_SETUP, "predict_file(checkpoint, sys.argv[3])", str(digit_run), str(small), str(big)
    )
    assert result["outcome"] == "ok" or "ExplorerError" in result["outcome"]
    assert result["mb"] < bound_mb


def zip_bytes(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


@needs_peak_reset
def test_a_tiny_zip_of_forty_5000x5000_pngs_is_decoded_one_picture_at_a_time(tmp_path):
    """The issue's 16.6 KB zip took the server from 981 MB to 4,028 MB."""
    dark = png_bytes(Image.new("RGB", (5000, 5000), (10, 10, 10)))
    bright = png_bytes(Image.new("RGB", (5000, 5000), (240, 240, 240)))
    entries = {
        f"{name}/{i}.png": data
        for name, data in (("dark", dark), ("bright", bright))
        for i in range(20)
    }
    upload = tmp_path / "forty.zip"
    upload.write_bytes(zip_bytes(entries))
    assert upload.stat().st_size < 2**20
    result = peak_increase(
        "from explorer.data.user_folders import load_image_folder\n"
        "data = Path(sys.argv[1]).read_bytes()",
        """
        dataset = load_image_folder(data, seed=0, side=32)
        assert dataset.input_shape == (32, 32, 3), dataset.input_shape
        assert len(dataset.train) + len(dataset.validation) + len(dataset.test) == 40
        """,
        str(upload),
    )
    assert result["outcome"] == "ok"
    assert result["mb"] < 250


def zip_with_a_lying_member(true_size: int, recorded_size: int) -> bytes:
    """Three small pictures per class and ``dark/lie.png``: ``true_size`` zero bytes whose
    central directory records ``recorded_size`` (the size readers trust)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, value in (("dark", 10), ("bright", 240)):
            for i in range(3):
                archive.writestr(f"{name}/{i}.png", png_bytes(Image.new("L", (8, 8), value)))
        with archive.open("dark/lie.png", "w") as member:
            chunk = bytes(2**20)
            for _ in range(true_size // len(chunk)):
                member.write(chunk)
    data = bytearray(buffer.getvalue())
    entry = data.index(b"PK\x01\x02")  # central directory entries, one per member
    while not data[entry + 46 :].startswith(b"dark/lie.png"):
        entry = data.index(b"PK\x01\x02", entry + 4)
    assert int.from_bytes(data[entry + 24 : entry + 28], "little") == true_size
    data[entry + 24 : entry + 28] = recorded_size.to_bytes(4, "little")
    return bytes(data)


@needs_peak_reset
def test_a_zip_member_that_lies_about_its_size_is_read_through_a_cap(tmp_path):
    """600 MB of zeros recorded as 1 KB: reading it whole spiked memory before the CRC error."""
    upload = tmp_path / "lying.zip"
    upload.write_bytes(zip_with_a_lying_member(600 * 2**20, 1024))
    assert upload.stat().st_size < 2 * 2**20
    result = peak_increase(
        "from explorer.data.user_folders import load_image_folder\n"
        "data = Path(sys.argv[1]).read_bytes()",
        """
        dataset = load_image_folder(data, seed=0, side=8)
        assert dataset.class_names == ("bright", "dark")
        assert [entry.split(":")[0] for entry in dataset.skipped] == ["dark/lie.png"]
        """,
        str(upload),
    )
    assert result["outcome"] == "ok"
    assert result["mb"] < 60


LIMITED_PREDICT = (
    "import resource, runpy; "
    "resource.setrlimit(resource.RLIMIT_AS, (4 * 2**30, 4 * 2**30)); "
    "runpy.run_module('explorer.predict', run_name='__main__', alter_sys=True)"
)
"""``python -m explorer.predict`` limited to 4 GB of address space, so that a regression
reading /dev/zero stops there."""


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_predict_refuses_devices_fifos_folders_and_huge_sparse_files_at_once(tmp_path, digit_run):
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    sparse = tmp_path / "sparse.png"
    with sparse.open("wb") as file:
        file.truncate(3 * 2**30)
    good = tmp_path / "good.png"
    stroke = np.zeros((30, 30), np.uint8)
    stroke[5:25, 13:17] = 255  # a "1": not an empty picture, which would add a note line
    good.write_bytes(png_bytes(Image.fromarray(stroke)))
    hostile = ["/dev/zero", str(fifo), str(sparse), str(tmp_path)]
    started = time.perf_counter()
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            LIMITED_PREDICT,
            "--checkpoint",
            str(digit_run),
            *hostile,
            str(good),
        ],
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT), JAX_PLATFORMS="cpu"),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert time.perf_counter() - started < 60
    assert done.returncode == 1, done.stderr[-3000:]
    errors = done.stderr.strip().splitlines()
    assert [line.split(": ")[1] for line in errors] == hostile, done.stderr
    assert all(line.startswith("error: ") for line in errors)
    assert "not a file" in errors[0] and "not a file" in errors[1] and "not a file" in errors[3]
    assert "3072 MB; the limit is 50 MB" in errors[2]
    assert json.loads(done.stdout)["image"] == str(good)
