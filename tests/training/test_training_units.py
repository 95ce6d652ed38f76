"""Unit properties of the training pieces: sampler, collate, condition drop, EMA, init, AR model."""

from __future__ import annotations

import itertools

import pytest
import torch

from specdiff.models import model_config
from specdiff.models.autoregressive import AutoregressiveModel, sinusoid_table
from specdiff.training import (
    ResumableSampler,
    collate,
    drop_conditions,
    ema_copy,
    ema_update,
    frame_mse,
    permuted_sinusoid_table,
)


def take(iterable, n):
    return list(itertools.islice(iter(iterable), n))


def test_sampler_is_a_seeded_stream_of_permutations():
    stream = take(ResumableSampler(5, seed=3), 15)
    for k in range(3):
        assert sorted(stream[5 * k: 5 * k + 5]) == list(range(5))
    assert stream == take(ResumableSampler(5, seed=3), 15)
    assert stream != take(ResumableSampler(5, seed=4), 15)


def test_sampler_resumes_where_it_stopped_and_shards_by_rank():
    full = take(ResumableSampler(7, seed=1), 40)
    assert take(ResumableSampler(7, seed=1, start=13), 27) == full[13:]
    ranks = [take(ResumableSampler(7, seed=1, start=3, rank=r, world_size=2), 10) for r in (0, 1)]
    merged = [x for pair in zip(*ranks) for x in pair]
    assert merged == full[6:26]


def test_collate_pads_tokens_and_fills_a_missing_context_mask():
    samples = [{"tokens": torch.tensor([5, 6, 1]), "target": torch.zeros(4, 3),
                "context": torch.ones(4, 3)},
               {"tokens": torch.tensor([7]), "target": torch.ones(4, 3), "context": torch.ones(4, 3)}]
    batch = collate(samples)
    assert batch["tokens"].tolist() == [[5, 6, 1], [7, 0, 0]]
    assert batch["target"].shape == (2, 4, 3) and batch["context_mask"].all()


def test_drop_conditions_pads_tokens_and_masks_context_of_dropped_rows_only():
    batch = {"tokens": torch.tensor([[3, 4], [5, 6]]), "context_mask": torch.ones(2, 3, dtype=torch.bool)}
    out = drop_conditions(batch, torch.tensor([False, True]))
    assert out["tokens"].tolist() == [[3, 4], [0, 0]]
    assert out["context_mask"].tolist() == [[True] * 3, [False] * 3]
    assert batch["tokens"].tolist() == [[3, 4], [5, 6]]  # the input is not modified


def test_ema_update_is_the_moving_average_and_copies_frozen_tables():
    model = torch.nn.Linear(3, 2)
    model.register_parameter("table", torch.nn.Parameter(torch.zeros(2), requires_grad=False))
    ema = ema_copy(model)
    before = ema.weight.clone()
    with torch.no_grad():
        model.weight.add_(1.0)
        model.table.fill_(7.0)
    ema_update(ema, model, decay=0.9)
    torch.testing.assert_close(ema.weight, 0.9 * before + 0.1 * model.weight)
    assert ema.table.tolist() == [7.0, 7.0] and not ema.weight.requires_grad


def test_permuted_table_is_a_column_permutation_of_phase_shifted_sinusoids():
    table = permuted_sinusoid_table(64, 16, torch.Generator().manual_seed(0)).double()
    assert table.shape == (64, 16) and table.abs().max() <= 1.0
    assert torch.equal(table, permuted_sinusoid_table(64, 16, torch.Generator().manual_seed(0)).double())
    # Each column is a unit sinusoid sin(p f + phase): x[p+1] + x[p-1] = 2 cos(f) x[p].
    mid = table[1:-1]
    two_cos = ((table[2:] + table[:-2]) * mid).sum(0) / (mid**2).sum(0)
    torch.testing.assert_close(table[2:] + table[:-2], two_cos * mid, atol=1e-4, rtol=0)
    freqs = torch.exp(-torch.log(torch.tensor(1e4)) * torch.arange(8) / 7).double()
    expected = sorted((2 * torch.cos(freqs)).tolist() * 2)  # each frequency: one sin, one cos column
    torch.testing.assert_close(torch.tensor(sorted(two_cos.tolist())), torch.tensor(expected),
                               atol=1e-4, rtol=0)
    assert sinusoid_table(4, 8)[0].tolist() == [0.0] * 4 + [1.0] * 4


@pytest.fixture(scope="module")
def ar_model():
    torch.manual_seed(0)
    return AutoregressiveModel(model_config("tiny", dropout=0.0)).eval()


def test_ar_cached_decoding_equals_teacher_forced_forward(ar_model):
    tokens = torch.randint(1, 1000, (2, 30))
    tokens[1, 20:] = 0
    generated = ar_model.generate(tokens, frames=24)
    teacher = ar_model(tokens, generated)  # fed its own outputs, shifted right inside
    torch.testing.assert_close(teacher, generated, atol=1e-5, rtol=1e-5)


def test_ar_decoder_is_causal(ar_model):
    tokens = torch.randint(1, 1000, (1, 10))
    mel = torch.randn(1, 16, 128, requires_grad=True)
    out = ar_model(tokens, mel)
    out[0, 5].sum().backward()
    grad = mel.grad[0].abs().sum(-1)
    assert grad[:5].sum() > 0 and grad[5:].sum() == 0  # frame 5 sees target frames 0..4 only


def test_frame_mse_means_over_bins_then_sums_or_averages_frames():
    pred, target = torch.zeros(2, 3, 4), torch.ones(2, 3, 4)
    target[0, 0] = 3.0
    assert frame_mse(pred, target, "sum").item() == pytest.approx(9 + 5)
    assert frame_mse(pred, target).item() == pytest.approx((9 + 5) / 6)


def test_ar_save_and_load_round_trip(ar_model, tmp_path):
    path = ar_model.save_pretrained(tmp_path / "ar.safetensors")
    loaded = AutoregressiveModel.from_pretrained(path)
    tokens = torch.randint(1, 1000, (1, 12))
    torch.testing.assert_close(loaded.generate(tokens, frames=4), ar_model.generate(tokens, frames=4))


def test_resumable_csv_logger_keeps_the_rows_of_the_earlier_run(tmp_path):
    import csv

    from specdiff.training.loggers import ResumableCSVLogger

    first = ResumableCSVLogger(tmp_path, name="csv", version="")
    first.log_metrics({"train/loss": 0.5}, step=0)
    first.log_metrics({"train/loss": 0.4}, step=1)
    first.save()
    resumed = ResumableCSVLogger(tmp_path, name="csv", version="")  # `fit --ckpt_path` restart
    resumed.log_metrics({"train/loss": 0.3}, step=2)
    resumed.log_metrics({"val/loss": 0.35}, step=2)  # a new column rewrites the header
    resumed.save()
    with open(tmp_path / "csv" / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [(r["step"], r["train/loss"]) for r in rows] == [("0", "0.5"), ("1", "0.4"),
                                                            ("2", "0.3"), ("2", "")]
    assert rows[-1]["val/loss"] == "0.35"


def test_init_from_exported_weights(tmp_path):
    from specdiff.errors import SpecdiffError
    from specdiff.training import DiffusionModule

    first = DiffusionModule(size="tiny", optimizer="adamw", init_seed=1)
    first.model.half().save_pretrained(tmp_path / "start.safetensors")  # float16, as shipped
    second = DiffusionModule(size="tiny", optimizer="adamw", init_seed=2,
                             init_from=str(tmp_path / "start.safetensors"))
    for key, value in first.model.state_dict().items():
        assert torch.equal(second.model.state_dict()[key], value.float()), key
        assert torch.equal(second.ema.state_dict()[key], value.float()), key
    with pytest.raises(SpecdiffError, match="differs"):
        DiffusionModule(size="tiny", has_context=False, init_from=str(tmp_path / "start.safetensors"))


def test_a_note_roll_model_starts_from_weights_without_the_roll(tmp_path):
    """Adding the roll to a trained model: every loaded weight kept, the roll's projection at
    zero, so the new model starts out predicting exactly what the loaded one does."""
    from specdiff.training import DiffusionModule

    first = DiffusionModule(size="tiny", optimizer="adamw", init_seed=1)
    first.model.save_pretrained(tmp_path / "start.safetensors")
    second = DiffusionModule(size="tiny", optimizer="adamw", init_seed=2,
                             model_overrides={"note_roll": True},
                             init_from=str(tmp_path / "start.safetensors"))
    state = second.model.state_dict()
    assert set(state) - set(first.model.state_dict()) == {"roll_proj.weight"}
    assert not state["roll_proj.weight"].any() and not second.ema.roll_proj.weight.any()
    tokens = torch.tensor([[1000, 4, 1100, 300, 1]])  # any ids: the roll adds zero either way
    x_t = torch.randn(1, 256, 128, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected = first.model.eval().predict(x_t, torch.tensor([0.5]), first.model.encode(tokens))
        got = second.model.eval().predict(x_t, torch.tensor([0.5]), second.model.encode(tokens))
    torch.testing.assert_close(got, expected)


def test_a_gaps_model_starts_from_a_roll_without_them(tmp_path):
    """Adding the gap features to a note_roll model: the roll's columns kept, the new ones at
    zero, so the model starts out predicting exactly what the loaded one does."""
    from specdiff.errors import SpecdiffError
    from specdiff.models.note_roll import GAP_SECONDS, ROLL_FEATURES
    from specdiff.training import DiffusionModule

    first = DiffusionModule(size="tiny", optimizer="adamw", init_seed=1,
                            model_overrides={"note_roll": True})
    with torch.no_grad():
        first.model.roll_proj.weight.normal_()  # a trained roll
    first.model.save_pretrained(tmp_path / "roll.safetensors")
    second = DiffusionModule(size="tiny", optimizer="adamw", init_seed=2,
                             model_overrides={"note_roll": True, "note_roll_gaps": True},
                             init_from=str(tmp_path / "roll.safetensors"))
    weight = second.model.roll_proj.weight
    assert weight.shape[1] == ROLL_FEATURES + len(GAP_SECONDS)
    torch.testing.assert_close(weight[:, :ROLL_FEATURES], first.model.roll_proj.weight)
    assert not weight[:, ROLL_FEATURES:].any()
    torch.testing.assert_close(second.ema.roll_proj.weight, weight)
    tokens = torch.tensor([[1000, 4, 1100, 300, 1]])  # a note, then a long gap
    x_t = torch.randn(1, 256, 128, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected = first.model.eval().predict(x_t, torch.tensor([0.5]), first.model.encode(tokens))
        got = second.model.eval().predict(x_t, torch.tensor([0.5]), second.model.encode(tokens))
    torch.testing.assert_close(got, expected)
    with pytest.raises(SpecdiffError, match="note_roll_gaps"):
        DiffusionModule(size="tiny", model_overrides={"note_roll_gaps": True})
