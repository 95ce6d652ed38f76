"""`specdiff prepare` + datasets: windows drawn from the cache equal windows computed directly
from the source files; bad data is reported, skipped and counted; mixture weights."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
from data_fakes import (
    make_guitarset,
    make_maestro,
    make_musicnet,
    make_slakh,
    make_urmp,
    run_command,
    write_audio,
    write_midi,
)

from specdiff.data import CacheDataset, MixtureSampler, SourceDataset, WindowConfig, corpus_weights
from specdiff.data.cache import CacheReader
from specdiff.data.example import list_examples
from specdiff.data.windows import window_notes, window_tokens

SF2 = Path("/usr/share/sounds/sf2/TimGM6mb.sf2")
HAVE_FLUIDSYNTH = shutil.which("fluidsynth") is not None and SF2.is_file()


@pytest.fixture(scope="module")
def corpora(tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("corpora")
    roots = {"maestro": make_maestro(base / "maestro"), "musicnet": make_musicnet(base / "mn"),
             "guitarset": make_guitarset(base / "gs"), "urmp": make_urmp(base / "urmp"),
             "slakh": make_slakh(base / "slakh")}
    if HAVE_FLUIDSYNTH:
        assert run_command("midi_sources", ["midi-sources", "procedural", str(base / "proc"),
                                            "--count", "3", "--no-progress"]) == 0
        assert run_command("render", ["render", str(base / "proc"), "-o", str(base / "synth"),
                                      "--soundfont", str(SF2), "--split", "1,0,0",
                                      "--no-progress", "--jobs", "2"]) == 0
        roots["rendered"] = base / "synth"
    return roots


def prepare(corpora: dict[str, Path], out: Path, *extra: str) -> int:
    argv = ["prepare", str(out), "--no-progress", "--jobs", "1", *extra]
    for name, root in corpora.items():
        argv += [f"--{name}", str(root)]
    return run_command("prepare", argv)


def assert_same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key, value in a.items():
        assert torch.equal(value, b[key]), key


def test_cache_windows_equal_source_windows(corpora, tmp_path: Path):
    out = tmp_path / "cache"
    assert prepare(corpora, out) == 0
    cache = CacheReader(out)
    counts = Counter(it.corpus for it in cache.items)
    expected = {"maestro", "musicnet", "guitarset", "urmp", "slakh", "cerberus4"}
    assert expected <= set(counts)
    assert counts["slakh"] == 10 + 2 and counts["cerberus4"] == 15 + 2
    # stems are stored once although 29 Slakh/Cerberus4 items use them
    slakh_files = [a for a in cache.audio_table if "/slakh/" in a["path"]]
    assert len(slakh_files) == 6 + 2 * (1 + 4)  # train stems; val/test: mix + 4 Cerberus stems
    config = WindowConfig(context=True, features="both")
    for corpus in sorted(counts):
        cached = CacheDataset(out, corpora=[corpus], config=config)
        examples = [e for name in ("slakh",) if corpus in ("slakh", "cerberus4")
                    for e in list_examples(name, corpora["slakh"]) if e.corpus == corpus] or \
            [e for e in list_examples(corpus if not corpus.startswith("rendered") else "rendered",
                                      corpora[corpus.split(":")[0]],
                                      **({"name": "synth"} if corpus.startswith("rendered") else {}))]
        by_key = {(e.corpus, e.split, e.id): e for e in examples}
        direct = SourceDataset([by_key[(it.corpus, it.split, it.id)] for it in cached.items],
                               config=config)
        assert len(direct) == len(cached)
        for r in range(min(cached.num_recordings, 2)):
            top = max(0, -(-cached.num_samples(r) // 320) - 256)
            for start in sorted({0, top, 37}):
                a, b = cached.window(r, start), direct.window(r, start)
                assert_same(a, b)
                assert a["target"].shape == (256, 128) and a["tokens"].shape == (2048,)
                assert a["audio"].shape == (81920,) and a["context_audio"].shape == (81920,)
                assert float(a["target"].min()) >= -1 and float(a["target"].max()) <= 1
                assert bool(a["context_mask"].any()) == (start > 0)
                assert a["context_mask"].sum() == min(start, 256)
    if HAVE_FLUIDSYNTH:  # rendered corpus: long enough for several random windows
        ds = CacheDataset(out, corpora=["rendered:synth"], config=WindowConfig())
        assert len(ds) > ds.num_recordings
        starts = {ds.start_frame(i) for i in range(len(ds)) for _ in range(3)}
        assert len(starts) > 3 and all(s >= 0 for s in starts)


def test_window_note_subset_gives_identical_tokens(corpora):
    import music21

    from specdiff.data.midi import read_midi_notes

    prim = Path(music21.__file__).parent / "midi" / "testPrimitive"
    files = [prim / "test04.mid", prim / "test09.mid", prim / "test03.mid"]
    if "rendered" in corpora:
        files += sorted((corpora["rendered"] / "midi").glob("*.mid"))
    config = WindowConfig()
    rng = np.random.default_rng(0)
    from specdiff.codec import pad_segments, tokenize_window
    from specdiff.data.midi import notes_to_sequence

    for path in files:
        notes = read_midi_notes(path)
        seq = notes_to_sequence(notes)
        end_frame = int(notes["end"].max() * 50)
        for start in list(rng.integers(0, end_frame + 300, 12)) + [end_frame, end_frame + 5]:
            full = pad_segments([tokenize_window(seq, int(start))], 2048)[0]
            assert np.array_equal(window_tokens(notes, int(start), config), full), (path, start)
            assert len(window_notes(notes, int(start), config)) <= len(notes)


def test_bad_data_is_reported_skipped_and_counted(corpora, tmp_path: Path, capsys):
    root = tmp_path / "maestro"
    shutil.copytree(corpora["maestro"], root)
    table = json.loads((root / "maestro-v3.0.0.json").read_text())
    stems = [Path(p).with_suffix("").as_posix() for p in table["audio_filename"].values()]
    # 0: audio missing; 1: audio unreadable; 2: fine; 3: MIDI broken; 4: notes past the audio;
    # 5: audio far longer than the notes
    (root / f"{stems[0]}.wav").unlink()
    (root / f"{stems[1]}.wav").write_bytes(b"RIFF\x00\x00not audio")
    for i, (split, stem) in enumerate((("train", "2019/broken"), ("train", "2019/long"),
                                       ("test", "2019/tail"))):
        k = str(3 + i)
        write_audio(root / f"{stem}.wav", 2.0 if i < 2 else 64.0, rate=8000)
        table["split"][k], table["audio_filename"][k] = split, f"{stem}.wav"
        table["midi_filename"][k] = f"{stem}.midi"
        for col in ("canonical_composer", "canonical_title", "year", "duration"):
            table[col][k] = table[col]["0"]
    (root / "2019/broken.midi").write_bytes(b"MThd\x00\x00\x00\x06\x00\x01")
    write_midi(root / "2019/long.midi", [{"notes": [(0.0, 9.0, 60)]}])
    write_midi(root / "2019/tail.midi", [{"notes": [(0.0, 1.0, 60)]}])
    (root / "maestro-v3.0.0.json").write_text(json.dumps(table))
    out = tmp_path / "cache"
    status = run_command("prepare", ["prepare", str(out), "--maestro", str(root),
                                     "--guitarset", str(tmp_path / "missing"), "--no-progress",
                                     "--jobs", "2"])
    assert status == 0
    text = capsys.readouterr()
    assert "cached 1 new examples" in text.out
    for needle in (f"{stems[0]}.wav", f"{stems[1]}.wav", "broken.midi",
                   "length mismatch", "corpus skipped"):
        assert needle in text.err, needle
    assert "1 corpus skipped" in text.out and "1 bad notes" in text.out
    assert "2 length mismatch" in text.out and "2 missing audio" in text.out
    assert "the audio lasts 64.00 s but the notes end at 1.00 s" in text.err
    cache = CacheReader(out)
    assert [it.id for it in cache.items] == [stems[2]]
    # the surviving item is intact: same window as from its files
    ex = [e for e in list_examples("maestro", root) if e.id == stems[2]]
    assert_same(CacheDataset(out).window(0, 0), SourceDataset(ex).window(0, 0))
    # resume: nothing new, nothing duplicated
    assert run_command("prepare", ["prepare", str(out), "--maestro", str(root),
                                   "--no-progress"]) == 0
    assert len(CacheReader(out).items) == 1


def test_int16_cache_matches_source_with_same_rounding(corpora, tmp_path: Path):
    out = tmp_path / "cache16"
    assert run_command("prepare", ["prepare", str(out), "--guitarset", str(corpora["guitarset"]),
                                   "--audio-dtype", "int16", "--no-progress"]) == 0
    cached = CacheDataset(out)
    assert (out / "audio-000.bin").stat().st_size == 2 * sum(
        a["length"] for a in cached.cache.audio_table)
    direct = SourceDataset(list_examples("guitarset", corpora["guitarset"]), audio_dtype="int16")
    by_id = {(e.split, e.id): i for i, e in enumerate(direct.examples)}
    for r, it in enumerate(cached.items):
        assert_same(cached.window(r, 0), direct.window(by_id[(it.split, it.id)], 0))


def test_mixture_weights_and_sampler():
    counts = {"a": 1000, "b": 10, "c": 100}
    w = corpus_weights(counts)
    assert w["a"] / w["b"] == pytest.approx(100 ** 0.3)
    assert sum(w.values()) == pytest.approx(1.0)
    w2 = corpus_weights(counts, overrides={"b": 0.0, "c": 1000 ** 0.3})
    assert w2["b"] == 0 and w2["a"] == pytest.approx(0.5)
    corpora = ["a"] * 1000 + ["b"] * 10 + ["c"] * 100
    sampler = MixtureSampler(corpora, num_samples=20000, seed=1)
    drawn = Counter(corpora[i] for i in sampler)
    for name in counts:
        assert drawn[name] / 20000 == pytest.approx(w[name], abs=0.02)
    assert list(MixtureSampler(corpora, 50, seed=3)) == list(MixtureSampler(corpora, 50, seed=3))


def test_mel_store_windows_equal_whole_recording_mel(corpora, tmp_path: Path):
    out = tmp_path / "cachemel"
    args = ["prepare", str(out), "--guitarset", str(corpora["guitarset"]), "--mel",
            "--no-progress"]
    if "rendered" in corpora:
        args += ["--rendered", str(corpora["rendered"])]
    assert run_command("prepare", args) == 0
    config = WindowConfig(context=True)
    cached = CacheDataset(out, config=config)
    assert all(cached.cache.has_mel(it) for it in cached.items)
    examples = list_examples("guitarset", corpora["guitarset"])
    if "rendered" in corpora:
        examples += list_examples("rendered", corpora["rendered"], name="synth")
    by_key = {(e.corpus, e.split, e.id): e for e in examples}
    direct = SourceDataset([by_key[(it.corpus, it.split, it.id)] for it in cached.items],
                           config=config, whole_mel=True)
    per_window = CacheDataset(out, config=config, use_mel_store=False)
    for r in range(cached.num_recordings):
        top = max(0, -(-cached.num_samples(r) // 320) - 256)
        for start in sorted({0, top, 300 % (top + 1)}):
            a = cached.window(r, start)
            assert_same(a, direct.window(r, start))
            b = per_window.window(r, start)  # same but the last frame (and float16 rounding)
            assert torch.allclose(a["target"][:-1], b["target"][:-1], atol=0.003)
            assert torch.equal(a["tokens"], b["tokens"])


def test_mixture_dataset_follows_weights(corpora, tmp_path: Path):
    from specdiff.data import MixtureDataset

    out = tmp_path / "mix"
    assert prepare({k: v for k, v in corpora.items() if k in ("guitarset", "slakh")}, out) == 0
    base = CacheDataset(out, splits=["train"], config=WindowConfig(features="audio"))
    mix = MixtureDataset(base, length=400, overrides={"guitarset": 1.0, "slakh": 1.0,
                                                      "cerberus4": 2.0})
    share = Counter(mix.corpus_of(i) for i in range(len(mix)))
    assert share == {"guitarset": 100, "slakh": 100, "cerberus4": 200}
    sample = mix[399]
    assert base.corpus(int(sample["recording"])) == mix.corpus_of(399) == "slakh"


def test_dataloader_workers_read_the_memory_mapped_cache(corpora, tmp_path: Path):
    out = tmp_path / "workers"
    assert prepare({"guitarset": corpora["guitarset"], "urmp": corpora["urmp"]}, out,
                   "--mel") == 0
    ds = CacheDataset(out, config=WindowConfig(context=True))
    loader = torch.utils.data.DataLoader(ds, batch_size=4, num_workers=2)
    seen = 0
    for batch in loader:
        assert batch["target"].shape[1:] == (256, 128) and batch["tokens"].shape[1] == 2048
        for i in range(len(batch["tokens"])):
            again = ds.window(int(batch["recording"][i]), int(batch["start_frame"][i]))
            for key, value in again.items():
                assert torch.equal(value, batch[key][i]), key
            seen += 1
    assert seen == len(ds)


def test_prepare_resumes_after_an_interrupted_run(corpora, tmp_path: Path):
    out = tmp_path / "resume"
    assert prepare({"guitarset": corpora["guitarset"]}, out, "--mel") == 0
    # an interrupted second run: half-written audio, notes, mel and index lines
    for name in ("audio-000.bin", "notes.bin", "mel-000.bin"):
        with (out / name).open("ab") as f:
            f.write(b"\x01" * 1001)
    with (out / "items.jsonl").open("a") as f:
        f.write('{"corpus": "urmp", "split": "tr')
    assert prepare({"guitarset": corpora["guitarset"], "urmp": corpora["urmp"]}, out,
                   "--mel") == 0
    cache = CacheReader(out)
    assert Counter(it.corpus for it in cache.items) == {"guitarset": 4, "urmp": 4}
    examples = (list_examples("guitarset", corpora["guitarset"])
                + list_examples("urmp", corpora["urmp"]))
    by_key = {(e.corpus, e.split, e.id): e for e in examples}
    config = WindowConfig(context=True)
    cached = CacheDataset(cache, config=config)
    direct = SourceDataset([by_key[(it.corpus, it.split, it.id)] for it in cached.items],
                           config=config, whole_mel=True)
    for r in range(cached.num_recordings):
        assert_same(cached.window(r, 0), direct.window(r, 0))
