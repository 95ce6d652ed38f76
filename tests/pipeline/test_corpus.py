"""``specdiff synth IN_DIR -o OUT_DIR``: a corpus of MIDI files in, a mirrored corpus of audio
out."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from midi_files import midi_bytes, write_midi

from specdiff.batch import (
    MANIFEST,
    SHARDS,
    Job,
    piece_seed,
    plan,
    share,
    units_of,
)
from specdiff.cli import main
from specdiff.models import SpectrogramDiffusion, model_config

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "codec" / "midi"
REAL = ("bach_bwv66_6.mid", "mma_waltz.mid", "mozart_k80.mid")  # real-world files
GOOD = {"a/one.mid": "a/one.wav", "a/b/two.mid": "a/b/two.wav", "three.midi": "three.wav",
        "x.MIDI": "x.wav", **{f"real/{n}": f"real/{n[:-4]}.wav" for n in REAL}}
BAD = {"bad/empty.mid": "empty file", "bad/cut.mid": "truncated MIDI file",
       "long.mid": "too long", "silent.mid": "no notes", "x.mid": "already x.MIDI's"}


def notes(program: int, count: int) -> list:
    return [(0, program, 60 + k % 12, 100, 0.5 * k, 0.5 * k + 0.4) for k in range(count)]


def make_corpus(root: Path) -> Path:
    (root / "a" / "b").mkdir(parents=True)
    (root / "bad").mkdir()
    write_midi(root / "a/one.mid", notes(0, 8))
    write_midi(root / "a/b/two.mid", notes(40, 14))  # two segments
    write_midi(root / "three.midi", notes(24, 4))
    write_midi(root / "x.MIDI", notes(0, 3))
    write_midi(root / "x.mid", notes(0, 2))  # the same output name as x.MIDI
    (root / "bad/empty.mid").write_bytes(b"")
    (root / "bad/cut.mid").write_bytes(midi_bytes(notes(0, 10))[:-20])
    write_midi(root / "long.mid", [(0, 0, 60, 100, 0.0, 100.0)])
    write_midi(root / "silent.mid", [])
    (root / "readme.txt").write_text("not MIDI: ignored\n")
    (root / "real").mkdir()
    for name in REAL:
        (root / "real" / name).write_bytes((FIXTURES / name).read_bytes())
    return root


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    return make_corpus(tmp_path_factory.mktemp("corpus") / "in")


def bundle(folder: Path, has_context: bool) -> Path:
    torch.manual_seed(0)
    model = SpectrogramDiffusion(model_config("tiny", has_context=has_context)).eval()
    return model.save_pretrained(folder / f"tiny_{has_context}.safetensors")


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("models")
    return {"context": bundle(folder, True), "alone": bundle(folder, False)}


def synth(corpus: Path, out: Path, model: Path, *extra: str) -> int:
    return main(["synth", str(corpus), "-o", str(out), "--model", str(model), "--steps", "1",
                 "--max-seconds", "60", "--no-progress", "--batch-size", "2", *extra])


def manifest(out: Path) -> dict[str, dict]:
    lines = (out / MANIFEST).read_text().splitlines()
    return {r["input"]: r for r in map(json.loads, lines)}


def files(out: Path) -> dict[str, bytes]:
    return {p.relative_to(out).as_posix(): p.read_bytes()
            for p in sorted(out.rglob("*")) if p.is_file() and p.name != MANIFEST}


def test_a_folder_becomes_a_mirrored_folder_with_a_manifest(corpus, models, tmp_path, capsys):
    out = tmp_path / "out"
    assert synth(corpus, out, models["context"]) == 1  # some files failed
    assert sorted(files(out)) == sorted(GOOD.values())  # no partial or stray files
    records = manifest(out)
    assert sorted(records) == sorted([*GOOD, *BAD])
    for name, output in GOOD.items():
        record = records[name]
        audio, rate = sf.read(out / output)
        assert record["status"] == "ok" and record["output"] == output and rate == 16000
        assert record["seconds"] == pytest.approx(len(audio) / 16000)
        assert record["seed"] == piece_seed(name, 0)
        assert record["settings"]["sampling"]["steps"] == 1
    assert records["a/b/two.mid"]["segments"] == 2
    for name, reason in BAD.items():
        assert records[name]["status"] == "failed" and reason in records[name]["error"], name
    report = capsys.readouterr()
    assert f"{len(GOOD)} of {len(GOOD) + len(BAD)} files ready" in report.out and "bad/cut.mid: truncated" in report.err

    # a rerun makes nothing again and changes nothing
    before, stamps = files(out), {p: p.stat().st_mtime_ns for p in out.rglob("*.wav")}
    assert synth(corpus, out, models["context"]) == 1
    assert files(out) == before
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.wav")} == stamps
    again = manifest(out)
    status = {n: r["status"] for n, r in records.items()}
    assert {n: r["status"] for n, r in again.items()} == status
    assert again["a/one.mid"] == records["a/one.mid"]  # the record of the run that made it
    assert not (out / SHARDS).exists()


@pytest.mark.parametrize("continuation", ["context", "context+inpaint"])
def test_a_piece_sounds_the_same_alone_as_in_its_corpus(corpus, models, tmp_path, continuation):
    """Context models: the corpus output is `specdiff synth FILE --seed piece_seed(name)`."""
    out = tmp_path / "out"
    mode = ["--continuation", continuation]
    synth(corpus, out, models["context"], *mode)
    alone = tmp_path / "alone.wav"
    seed = piece_seed("a/b/two.mid", 0)
    assert main(["synth", str(corpus / "a/b/two.mid"), "-o", str(alone), "--model",
                 str(models["context"]), "--steps", "1", "--seed", str(seed),
                 "--no-progress", *mode]) == 0
    assert alone.read_bytes() == (out / "a/b/two.wav").read_bytes()


def test_a_list_names_files_relative_to_itself(corpus, models, tmp_path):
    listing = tmp_path / "list.txt"
    relative = os.path.relpath(corpus / "three.midi", tmp_path)
    listing.write_text(f"# two pieces\n{corpus / 'a/one.mid'}\n\n{relative}\n")
    out = tmp_path / "out"
    assert synth(listing, out, models["context"], "--format", "flac") == 0
    assert sorted(files(out)) == ["a/one.flac", "three.flac"]
    assert manifest(out)["a/one.mid"]["seed"] == piece_seed("a/one.mid", 0)


def test_segments_of_several_pieces_are_generated_together(corpus, models, tmp_path,
                                                           monkeypatch):
    """A model without context batches segments across pieces; outputs stay deterministic."""
    from specdiff.pipeline import generate_mels

    sizes = []

    def spy(model, segments, *args, **kwargs):
        sizes.append(len(segments))
        return generate_mels(model, segments, *args, **kwargs)

    monkeypatch.setattr("specdiff.synthesizer.generate_mels", spy)
    out = tmp_path / "out"
    synth(corpus, out, models["alone"])
    assert max(sizes) >= 3  # e.g. one.mid's segment with two.mid's two
    again = tmp_path / "again"
    synth(corpus, again, models["alone"])
    assert files(out) == files(again)


def test_an_interrupted_run_leaves_no_partial_file_and_the_rerun_finishes(corpus, models,
                                                                          tmp_path, monkeypatch):
    from specdiff.audio import AudioFileWriter

    write = AudioFileWriter.write

    def interrupted(self, audio):
        if self.path.name == "one.wav":  # the second piece, half written
            raise KeyboardInterrupt
        write(self, audio)

    out = tmp_path / "out"
    monkeypatch.setattr(AudioFileWriter, "write", interrupted)
    assert synth(corpus, out, models["context"]) == 130
    assert sorted(files(out)) == sorted(["a/b/two.wav", f"{SHARDS}/rank0.jsonl"])
    monkeypatch.setattr(AudioFileWriter, "write", write)
    assert synth(corpus, out, models["context"]) == 1
    assert sorted(files(out)) == sorted(GOOD.values())
    assert {n for n, r in manifest(out).items() if r["status"] == "ok"} == set(GOOD)


def test_overwrite_makes_the_files_again(corpus, models, tmp_path):
    out = tmp_path / "out"
    synth(corpus, out, models["context"])
    first = manifest(out)["three.midi"]["time"]
    synth(corpus, out, models["context"], "--overwrite")
    assert manifest(out)["three.midi"]["time"] > first


@pytest.mark.parametrize("args, message", [
    (["-o", "-"], "expected an output folder"),
    (["--save-mel", "m.npy"], "--save-mel: applies to one MIDI file"),
    (["--devices", "0"], "--devices"),
])
def test_corpus_options_are_checked_first(corpus, models, tmp_path, args, message, capsys):
    argv = ["synth", str(corpus), "--model", str(models["context"]), *args]
    if "-o" not in args:
        argv += ["-o", str(tmp_path / "out")]
    assert main(argv) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_plan_and_share_do_not_depend_on_the_number_of_processes(corpus):
    jobs = plan(corpus)
    assert [j.name for j in jobs] == sorted(j.name for j in jobs)
    assert plan(corpus, seed=1)[0].seed != jobs[0].seed
    units = units_of(jobs, 2)
    assert [j for unit in units for j in unit] == jobs
    for world in (1, 2, 3):
        shares = share(units, world, done=set())
        assert sorted(i for s in shares for i in s) == list(range(len(units)))
    costly = [[Job("s", f"{k}", f"{k}.wav", 0, size)] for k, size in enumerate([100, 1, 1, 98])]
    assert share(costly, 2, set()) == [[0, 2], [1, 3]]  # balanced bytes, not counts
    assert share(costly, 2, {"0.wav"}) == [[3], [0, 1, 2]]  # what is made costs nothing


@pytest.mark.integration
def test_two_processes_make_the_same_bytes_as_one(corpus, models, tmp_path):
    """Lightning Fabric's DDP on the CPU (gloo), as `--devices 2` runs it."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    outputs = {}
    for devices in ("1", "2"):
        out = tmp_path / f"out{devices}"
        for model in ("context", "alone"):
            cmd = [sys.executable, "-m", "specdiff", "synth", str(corpus), "-o",
                   str(out / model), "--model", str(models[model]), "--steps", "1",
                   "--max-seconds", "60", "--batch-size", "2", "--devices", devices]
            done = subprocess.run(cmd, env=env, capture_output=True, text=True,
                                  timeout=600)
            assert done.returncode == 1, done.stderr[-3000:]  # the bad files
        outputs[devices] = files(out)
        processes = {r["process"] for r in manifest(out / "context").values()}
        assert processes == ({0} if devices == "1" else {0, 1})
    assert outputs["1"] == outputs["2"] and len(outputs["1"]) == 2 * len(GOOD)
    assert np.all([len(v) > 44 for v in outputs["1"].values()])
