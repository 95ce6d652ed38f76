"""The studio's gradio app as built (in-process, no browser): one render at a time, bounded queue."""

from __future__ import annotations

import pytest

pytest.importorskip("gradio", reason="gradio is not installed (pip install 'specdiff[demo]')")


def test_renders_run_one_at_a_time_with_a_bounded_queue():
    from specdiff.demo import DemoLimits
    from specdiff.demo.app import MAX_PARTS, build_app
    from specdiff.models import SpectrogramDiffusion, model_config

    app = build_app(SpectrogramDiffusion(model_config("tiny")), DemoLimits(max_queue=3))
    functions = {f.api_name: f for f in app.fns.values()}
    render = functions["render"]
    assert render.queue is True and render.concurrency_limit == 1
    assert app._queue.max_size == 3
    # The upload handler fills one instrument menu per track (hidden until used).
    assert len(functions["on_upload"].outputs) == 3 + MAX_PARTS
