"""Files that try to make the server run a program: refused at every entry point, nothing started.

Pillow hands EPS/PostScript to Ghostscript (a separate process that executes the file's
PostScript). An EPS renamed ``.png`` used to reach it through the sidebar upload, a dataset
zip and ``explorer.predict``. Here Ghostscript is made to look installed and every way of
starting a process is recorded, so the tests fail if any entry point would still start one,
whether or not the machine has Ghostscript.
"""

from __future__ import annotations

import base64
import io
import os
import subprocess
import zipfile

import numpy as np
import pytest
from PIL import EpsImagePlugin, Image

from explorer import images
from explorer.checkpoints import save_checkpoint
from explorer.data import user_folders
from explorer.errors import ExplorerError
from explorer.model import init_variables, preset
from explorer.predict import main as predict_main

POSTSCRIPT = (
    b"%!PS-Adobe-3.0 EPSF-3.0\n"
    b"%%BoundingBox: 0 0 28 28\n"
    b"(/etc/passwd) (r) file 100 string readstring pop print\n"
    b"showpage\n"
    b"%%EOF\n"
)
"""A small EPS whose PostScript would read a server file if anything interpreted it."""


@pytest.fixture
def started_processes(monkeypatch):
    """Pretend Ghostscript is installed and record (and block) every process start."""
    started: list[object] = []

    class RecordingPopen:
        def __init__(self, args, *unused_args, **unused_kwargs):
            started.append(args)
            raise OSError("starting a process is not allowed in this test")

    def record(*args, **kwargs):
        started.append(args)
        raise OSError("starting a process is not allowed in this test")

    monkeypatch.setattr(EpsImagePlugin, "gs_binary", "gs")
    monkeypatch.setattr(subprocess, "Popen", RecordingPopen)
    for name in ("system", "posix_spawn", "posix_spawnp", "fork", "execv", "execvp"):
        if hasattr(os, name):
            monkeypatch.setattr(os, name, record)
    return started


def png_bytes(value: int) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.full((12, 12), value, np.uint8)).save(buffer, "PNG")
    return buffer.getvalue()


def test_the_fixture_catches_pillow_starting_ghostscript(started_processes):
    """Without an allow-list Pillow identifies the file as EPS and tries to run Ghostscript."""
    with Image.open(io.BytesIO(POSTSCRIPT)) as image, pytest.raises(OSError):
        assert image.format == "EPS"
        image.load()
    assert started_processes, "the recorder must see the attempt, or the tests prove nothing"


def test_an_eps_upload_is_refused_and_starts_no_process(started_processes):
    with pytest.raises(ExplorerError, match="not an image we can read"):
        images.decode_image(POSTSCRIPT)
    assert started_processes == []


@pytest.mark.parametrize("header", [b"%!PS-Adobe-3.0\n", b"\xc5\xd0\xd3\xc6", b"%PDF-1.4\n"])
def test_postscript_binary_eps_and_pdf_headers_are_refused(started_processes, header):
    with pytest.raises(ExplorerError):
        images.decode_image(header + POSTSCRIPT)
    assert started_processes == []


def test_an_eps_inside_a_dataset_zip_is_skipped_and_starts_no_process(started_processes):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for index in range(6):
            archive.writestr(f"dark/{index}.png", png_bytes(20))
            archive.writestr(f"bright/{index}.png", png_bytes(230))
        archive.writestr("bright/evil.png", POSTSCRIPT)
    dataset = user_folders.load_image_folder(buffer.getvalue(), seed=0, side=12)
    assert any(entry.startswith("bright/evil.png") for entry in dataset.skipped)
    assert started_processes == []


def test_the_predict_cli_refuses_an_eps_and_starts_no_process(tmp_path, capsys, started_processes):
    spec = preset("mlp", (28, 28, 1), 10)
    dataset = {"name": "mnist-5k", "class_names": list("0123456789"), "preprocessing": "digit"}
    save_checkpoint(tmp_path / "run", init_variables(spec), spec, dataset, {})
    disguised = tmp_path / "digit.png"
    disguised.write_bytes(POSTSCRIPT)
    assert predict_main(["--checkpoint", str(tmp_path / "run"), str(disguised)]) == 1
    assert "not an image we can read" in capsys.readouterr().err
    assert started_processes == []


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF", "BMP", "WEBP", "TIFF"])
def test_every_documented_format_still_opens(fmt):
    buffer = io.BytesIO()
    Image.fromarray(np.full((9, 7), 200, np.uint8)).save(buffer, fmt)
    decoded = images.to_grayscale(images.decode_image(buffer.getvalue()))
    assert decoded.shape == (9, 7, 1)
    assert abs(int(decoded[4, 3, 0]) - 200) <= 2


@pytest.mark.parametrize(
    "data_url",
    [
        "data:image/png;base64," + base64.b64encode(POSTSCRIPT).decode(),
        "data:image/eps;base64," + base64.b64encode(POSTSCRIPT).decode(),
        "data:application/postscript;base64," + base64.b64encode(POSTSCRIPT).decode(),
    ],
)
def test_a_drawing_pad_message_carrying_postscript_starts_no_process(started_processes, data_url):
    """The browser sends the pad's picture as a data URL; a forged one is refused unopened."""
    with pytest.raises(ExplorerError, match="drawing could not be read"):
        images.decode_drawing(data_url, 12)
    assert started_processes == []
