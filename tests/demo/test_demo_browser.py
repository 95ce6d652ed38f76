"""End to end in a real browser: `specdiff demo` with a tiny random model, driven in headless
Debian chromium by playwright-core (tests/demo/drive_demo.mjs; `npm ci` in tests/demo installs it,
with no browser download; `.ci/run` does both).

Set SPECDIFF_DEMO_SCREENSHOT=docs/demo.png SPECDIFF_DEMO_BUILTIN=1 to save the page after a
render with the built-in model (the README's screenshot is made that way).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

HERE = Path(__file__).parent
EXAMPLE = HERE.parents[1] / "specdiff" / "demo" / "examples" / "quartet.mid"
CHROMIUM = os.environ.get("SPECDIFF_CHROMIUM", "/usr/bin/chromium")
# SPECDIFF_DEMO_BUILTIN=1 serves the built-in model at its own steps (for docs/demo.png);
# by default a tiny random model renders in 2 steps.
BUILTIN = os.environ.get("SPECDIFF_DEMO_BUILTIN") == "1"
STEPS = "10" if BUILTIN else "2"
NODE = shutil.which("node")


def _skip_reason() -> str | None:
    try:
        import gradio  # noqa: F401
    except ImportError:
        return "gradio is not installed (pip install 'specdiff[demo]')"
    if NODE is None:
        return "node is not installed (Debian package nodejs; .ci/run checks for it)"
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} is missing (Debian package chromium; .ci/run installs it)"
    if not (HERE / "node_modules" / "playwright-core").is_dir():
        return "playwright-core is not installed: run `npm ci` in tests/demo (.ci/run does)"
    try:
        from specdiff.synthesizer import synthesize_to_file  # noqa: F401
    except ImportError:
        return "specdiff.pipeline (synthesize_to_file) is not there yet"
    return None


pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(_skip_reason() is not None, reason=str(_skip_reason()))]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`specdiff demo` with a tiny random model on a free localhost port; yields its URL."""
    import torch

    from specdiff.models import SpectrogramDiffusion, model_config

    tmp = tmp_path_factory.mktemp("demo")
    port = _free_port()
    env = dict(os.environ, GRADIO_TEMP_DIR=str(tmp / "gradio"), PYTHONUNBUFFERED="1")
    command = [sys.executable, "-m", "specdiff", "demo", "--port", str(port), "--max-duration",
               "30"]
    if not BUILTIN:
        torch.manual_seed(0)
        model = SpectrogramDiffusion(model_config("tiny")).save_pretrained(
            tmp / "tiny.safetensors")
        command += ["--model", str(model), "--vocoder", "griffin-lim"]
    url = f"http://127.0.0.1:{port}/"
    with open(tmp / "server.log", "w+") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
        try:
            _wait_until_serving(url, process, log)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


def _wait_until_serving(url: str, process: subprocess.Popen, log) -> None:
    deadline = time.monotonic() + 90
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            log.seek(0)
            pytest.fail(f"specdiff demo did not start:\n{log.read()}")
        time.sleep(0.25)


def _drive(*args: str) -> dict:
    result = subprocess.run([NODE, str(HERE / "drive_demo.mjs"), *args], check=False,
                            capture_output=True, text=True, timeout=120, cwd=HERE)
    lines = result.stdout.strip().splitlines()
    assert lines, f"driver printed nothing; stderr:\n{result.stderr}"
    report = json.loads(lines[-1])
    assert result.returncode == 0 and "error" not in report, report
    return report


def _local_addresses() -> list[str]:
    """This machine's non-loopback IPv4 addresses (those `hostname -I` prints)."""
    try:
        out = subprocess.run(["hostname", "-I"], check=False, capture_output=True, text=True, timeout=5).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [a for a in out.split() if "." in a and not a.startswith("127.")]


def test_served_on_loopback_only_with_limits_and_no_analytics(server):
    with urllib.request.urlopen(server + "config", timeout=10) as response:
        config = json.load(response)
    assert config["max_file_size"] == 2**20
    assert config["analytics_enabled"] is False
    assert config["enable_queue"] is True
    port = int(server.rstrip("/").rsplit(":", 1)[1])
    addresses = _local_addresses()
    if not addresses:
        pytest.skip("this machine has no non-loopback address to try")
    for address in addresses:
        with socket.socket() as s:
            s.settimeout(2)
            assert s.connect_ex((address, port)) != 0, f"the studio answers on {address}"


def test_oversized_upload_is_refused_with_a_message(server, tmp_path):
    big = tmp_path / "big.mid"
    big.write_bytes(b"MThd" + bytes(2**20))
    report = _drive("reject", server, str(big))
    assert any("exceed the maximum allowed size" in t and "big.mid" in t for t in report["toasts"])
    assert report["trackMenuVisible"] is False


def test_bundled_example_loads_with_one_menu_per_part(server):
    report = _drive("example", server, "quartet.mid")
    assert report["status"] == "Loaded quartet.mid: 59 notes, 4 parts."
    assert report["menus"] == 4
    assert report["pageErrors"] == []


def test_non_midi_upload_shows_a_clear_error(server, tmp_path):
    bad = tmp_path / "notes.txt"
    bad.write_text("these are my notes, not a MIDI file\n")
    report = _drive("reject", server, str(bad))
    assert report["status"].startswith("Error: notes.txt: not a MIDI file")
    assert "MThd" in report["status"]
    assert report["trackMenuVisible"] is False
    assert report["pageErrors"] == []


def test_upload_reassign_render_listen_and_look(server, tmp_path):
    screenshot = os.environ.get("SPECDIFF_DEMO_SCREENSHOT") or str(tmp_path / "demo.png")
    report = _drive("render", server, str(EXAMPLE), "Violin", STEPS, screenshot)
    # The part list and the first part's menu describe the upload; after the render the list
    # says what each part played.
    assert "Electric Bass (finger)" in report["tracks"] and "Drums" in report["tracks"]
    assert report["trackLabel"] == "Part 1: Piano (15 notes, A4–G5)"
    assert "1 | Piano | Violin |" in report["tracksAfter"].replace("\t", " | ")
    # The instrument change took and reached the render.
    assert report["assigned"] == "40 Violin"
    assert "Re-assigned: part 1 → Violin" in report["status"]
    assert f"{STEPS} steps" in report["status"] and "seed 0" in report["status"]
    # An audio element with a WAV source, the figure image, WAV and FLAC downloads.
    assert report["audioSrc"] and report["audioSrc"].endswith("/quartet.wav")
    assert report["imageSrc"] and report["imageSrc"].endswith(".png")
    assert report["imageWidth"] > 0
    assert report["downloads"] == 2
    assert report["pageErrors"] == []
    assert Path(screenshot).read_bytes()[:4] == b"\x89PNG"
