"""`specdiff demo` without a browser: gradio stays optional and out of `import specdiff`."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from specdiff.cli import build_parser, main


def _python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], check=False,
                          capture_output=True, text=True, timeout=120)


def test_import_specdiff_and_demo_package_do_not_import_gradio():
    result = _python("""
        import sys
        import specdiff, specdiff.cli, specdiff.demo
        specdiff.cli.build_parser()
        print(sorted(m for m in sys.modules if m.split('.')[0] in ('gradio', 'gradio_client')))
    """)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_demo_without_gradio_says_how_to_install_it():
    # `sys.modules[name] = None` makes `import gradio` raise ImportError, as when not installed.
    result = _python("""
        import sys
        sys.modules['gradio'] = None
        from specdiff.cli import main
        sys.exit(main(['demo', '--port', '0']))
    """)
    assert result.returncode == 2
    assert "specdiff demo: error: the web studio needs gradio" in result.stderr
    assert "pip install 'specdiff[demo]'" in result.stderr
    assert "Traceback" not in result.stderr


def test_demo_options_default_to_loopback():
    args = build_parser().parse_args(["demo"])
    assert (args.host, args.port, args.model) == ("127.0.0.1", 7860, None)
    assert args.max_upload_mb == 1.0 and args.max_duration == 120.0


def test_demo_rejects_nonsense_limits(capsys):
    assert main(["demo", "--max-duration", "0"]) == 2
    assert "--max-duration: expected a positive number" in capsys.readouterr().err


def test_demo_with_a_bad_checkpoint_fails_before_serving(tmp_path, capsys):
    pytest.importorskip("gradio", reason="gradio is not installed (pip install 'specdiff[demo]')")
    bad = tmp_path / "model.safetensors"
    bad.write_text("not a model")
    assert main(["demo", "--model", str(bad), "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"specdiff demo: error: {bad}") and err.count("\n") == 1
