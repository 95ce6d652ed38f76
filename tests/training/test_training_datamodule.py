"""The DataModule over ``specdiff.data``'s cache: sample contract and an exactly resumable stream."""

from __future__ import annotations

import itertools

import pytest
import torch
from conftest import REPO
from training_data import SOUNDFONT

from specdiff.cli import main


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    from specdiff.data.render import RenderConfig, render_corpus

    root = tmp_path_factory.mktemp("cache")
    midis = [REPO / "examples" / n for n in ("pop_groove.mid", "bluegrass_groove.mid")]
    config = RenderConfig(soundfont=SOUNDFONT, tail=0.5, split=(1.0, 0.0, 0.0))
    assert render_corpus(midis, root / "rendered", config, progress=False).rendered == 2
    assert main(["prepare", str(root / "cache"), "--rendered", str(root / "rendered"), "--mel",
                 "--no-progress"]) == 0
    return root / "cache"


def batches(datamodule, n):
    return list(itertools.islice(iter(datamodule.train_dataloader()), n))


def test_cache_datamodule_serves_the_training_contract_and_resumes_exactly(cache):
    from specdiff.training import SpecdiffDataModule

    dm = SpecdiffDataModule(cache=str(cache), context=True, batch_size=3, seed=5)
    dm.setup("fit")
    first = batches(dm, 4)
    b = first[0]
    assert b["tokens"].dtype == torch.int64 and b["tokens"].shape[0] == 3
    assert b["target"].shape == (3, 256, 128) and b["context"].shape == (3, 256, 128)
    assert b["context_mask"].dtype == torch.bool and b["context_mask"].shape == (3, 256)
    assert -1.0 <= float(b["target"].min()) and float(b["target"].max()) <= 1.0
    again = SpecdiffDataModule(cache=str(cache), context=True, batch_size=3, seed=5)
    again.setup("fit")
    again.load_state_dict({"batches_seen": 2})  # as restored from a checkpoint after 2 batches
    for got, want in zip(batches(again, 2), first[2:]):
        for key in ("tokens", "target", "context", "context_mask"):
            assert torch.equal(got[key], want[key]), key
    # windows are drawn at random (not the same start every time) yet keyed by stream position
    starts = torch.cat([x["start_frame"] for x in first])
    assert len(set(starts.tolist())) > 2
