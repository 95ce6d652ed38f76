"""`specdiff eval` and ``evaluate_systems`` on small folders: table, files, several systems,
resuming from the content-hash cache, parallel == sequential."""

import csv
import json
import shutil

import numpy as np
import pytest
import soundfile as sf
import torch

from specdiff.cli import main
from specdiff.errors import SpecdiffError
from specdiff.evaluation import (
    EvalOptions,
    evaluate_systems,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def folders(rendered, tmp_path_factory):
    """ref/ (FluidSynth renders), midi/, encoded/ (Griffin-Lim of the reference mel), tiny/ (the
    tiny random-weight model through the whole-file pipeline) and degraded/ (noisy copy), plus a
    file in degraded/ without a reference."""
    from specdiff.audio import log_mel
    from specdiff.models import SpectrogramDiffusion, model_config
    from specdiff.synthesizer import synthesize
    from specdiff.vocoders import GriffinLim

    root = tmp_path_factory.mktemp("eval")
    for name in ("ref", "midi", "encoded", "tiny", "degraded"):
        (root / name).mkdir()
    vocoder = GriffinLim(n_iter=16)
    torch.manual_seed(0)
    model = SpectrogramDiffusion(model_config("tiny")).eval()
    rng = np.random.default_rng(0)
    for stem, (midi, wav, audio) in rendered.items():
        shutil.copy(midi, root / "midi" / midi.name)
        shutil.copy(wav, root / "ref" / f"{stem}.wav")  # stereo int16, as rendered
        encoded = vocoder(log_mel(audio)).numpy()
        sf.write(root / "encoded" / f"{stem}.flac", encoded, 16000)
        generated, rate = synthesize(midi, model, vocoder=GriffinLim(n_iter=4), steps=2,
                                     progress=False)  # fmt: skip
        sf.write(root / "tiny" / f"{stem}.wav", np.clip(generated, -1, 1), rate)
        noisy = audio + 0.02 * rng.standard_normal(audio.size).astype(np.float32)
        sf.write(root / "degraded" / f"{stem}.wav", noisy, 16000)
    sf.write(root / "degraded" / "orphan.wav", np.zeros(16000, np.float32), 16000)
    return root


class Counting:
    """Wraps a real embedder / transcriber and counts its calls (to observe the cache)."""

    def __init__(self, inner, method):
        self.inner, self.method, self.calls = inner, method, 0
        self.name = getattr(inner, "name", None)
        self.identity = inner.identity

    def __getattr__(self, attr):
        if attr != self.method:
            raise AttributeError(attr)

        def call(*args, **kwargs):
            self.calls += 1
            return getattr(self.inner, self.method)(*args, **kwargs)

        return call


def test_eval_command_writes_table_and_files(folders, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # no cached VGGish weights
    monkeypatch.delenv("SPECDIFF_VGGISH_WEIGHTS", raising=False)
    out = tmp_path / "out"
    status = main([
        "eval", str(folders / "encoded"), str(folders / "ref"), "--system", "ground truth encoded",
        "--pred", f"tiny model={folders / 'tiny'}", "--pred", f"degraded={folders / 'degraded'}",
        "--midi-dir", str(folders / "midi"),
        "--out", str(out), "--plot", "--jobs", "2", "--no-progress",
    ])  # fmt: skip
    assert status == 0
    table = capsys.readouterr().out
    lines = table.splitlines()
    assert lines[0].startswith("| system | Onset F1 ↑ | Onset F1 / ref | On+off F1 ↑ | Log-mel L1")
    assert [line.split("|")[1].strip() for line in lines[2:6]] == [
        "ground truth", "ground truth encoded", "tiny model", "degraded"]
    assert "drum notes excluded" in table and "VGGish skipped" in table

    data = json.loads((out / "eval.json").read_text())
    names = ("ground truth", "ground truth encoded", "tiny model", "degraded")
    gt, enc, tiny, deg = (data["metrics"][s] for s in names)
    assert gt["logmel_l1"] == 0 and gt["mrstft"] == 0 and gt["onset_f1_vs_ref"] == 1
    assert gt["onset_f1"] > 0.6 and gt["n_files"] == 3 and deg["n_files"] == 3
    assert 0 < deg["logmel_l1"] and 0 < enc["logmel_l1"] < tiny["logmel_l1"]
    assert tiny["onset_f1"] < 0.3 < gt["onset_f1"]  # an untrained model plays no notes
    assert set(data["per_file"]["degraded"]) == {"song_a", "song_b", "song_c"}
    assert any("orphan" in note for note in data["notes"])
    with open(out / "eval.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["system"] for r in rows] == list(names)
    assert float(rows[3]["onset_f1"]) == pytest.approx(deg["onset_f1"])
    assert (out / "eval.png").stat().st_size > 1000
    assert (out / "eval.md").read_text().startswith("| system |")


def test_evaluate_systems_resumes_from_cache(folders, tmp_path, vggish, transcriber):
    emb, tr = Counting(vggish, "embed"), Counting(transcriber, "transcribe")
    systems = {"degraded": folders / "degraded", "encoded": folders / "encoded"}
    options = EvalOptions(cache_dir=tmp_path / "cache", progress=False, spectral=False)

    def run(opts=options):
        return evaluate_systems(systems, folders / "ref", folders / "midi", embedders=[emb],
                                transcriber=tr, options=opts)  # fmt: skip

    first = run()
    assert emb.calls == tr.calls == 9  # 3 reference + 6 generated files
    for name in ("degraded", "encoded"):
        row = first.metrics[name]
        assert row["vggish_recon"] > 0 and row["vggish_fad"] > 0
    assert first.metrics["ground truth"]["vggish_recon"] == 0
    assert abs(first.metrics["ground truth"]["vggish_fad"]) < 1e-6

    again = run()
    assert emb.calls == tr.calls == 9  # everything came from the cache
    assert again.to_dict() == first.to_dict()

    # a changed file is recomputed (new content hash), nothing else
    audio, rate = sf.read(folders / "degraded" / "song_a.wav", dtype="float32")
    sf.write(folders / "degraded" / "song_a.wav", 0.5 * audio, rate)
    changed = run(EvalOptions(cache_dir=tmp_path / "cache", progress=False, spectral=False, jobs=2))
    assert emb.calls == tr.calls == 10
    assert changed.metrics["encoded"] == first.metrics["encoded"]
    sf.write(folders / "degraded" / "song_a.wav", audio, rate)


def test_parallel_equals_sequential(folders, vggish):
    systems = {"degraded": folders / "degraded"}
    reports = [
        evaluate_systems(systems, folders / "ref", embedders=[vggish],
                         options=EvalOptions(jobs=jobs, progress=False)).to_dict()
        for jobs in (1, 3)
    ]  # fmt: skip
    # equal up to float rounding: fewer torch threads per worker reorder the sums
    first, second = (_flatten(r["metrics"]) | _flatten(r["per_file"]) for r in reports)
    assert first.keys() == second.keys()
    for key, value in first.items():
        assert second[key] == pytest.approx(value, rel=1e-4, abs=1e-6), key


def _flatten(tree, prefix=""):
    if not isinstance(tree, dict):
        return {prefix: tree}
    return {k: v for key, sub in tree.items() for k, v in _flatten(sub, f"{prefix}/{key}").items()}


def test_explicit_file_mappings_equal_folders(folders, vggish):
    """Generated audio kept under content-hash names (e.g. in a cache) is paired by mapping."""
    by_folder = evaluate_systems({"enc": folders / "encoded"}, folders / "ref",
                                 embedders=[vggish], options=EvalOptions(progress=False))
    mapping = {p.stem: p for p in (folders / "encoded").iterdir()}
    by_mapping = evaluate_systems({"enc": mapping}, folders / "ref", embedders=[vggish],
                                  options=EvalOptions(progress=False))  # fmt: skip
    assert by_mapping.to_dict() == by_folder.to_dict()
    with pytest.raises(SpecdiffError, match="missing.wav: 'enc' audio file not found"):
        evaluate_systems({"enc": {"song_a": folders / "missing.wav"}}, folders / "ref")


def test_user_errors(folders, tmp_path, capsys):
    (tmp_path / "other").mkdir()
    sf.write(tmp_path / "other" / "unrelated.wav", np.zeros(1600, np.float32), 16000)
    with pytest.raises(SpecdiffError, match="no file stem matches"):
        evaluate_systems({"x": tmp_path / "other"}, folders / "ref")
    with pytest.raises(SpecdiffError, match="no 'x' audio files"):
        evaluate_systems({"x": folders / "midi"}, folders / "ref")
    with pytest.raises(SpecdiffError, match="folder not found"):
        evaluate_systems({"x": tmp_path / "missing"}, folders / "ref")
    assert main(["eval", str(folders / "ref"), "--pred", "oops", "--out", str(tmp_path)]) == 2
    assert main(["eval", str(folders / "degraded"), str(folders / "ref"), "--metrics", "vggish",
                 "--out", str(tmp_path)]) == 2  # fmt: skip
    err = capsys.readouterr().err
    assert "NAME=DIR" in err and "torchvggish/releases" in err
