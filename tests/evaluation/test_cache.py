"""The content-addressed evaluation cache."""

import numpy as np
import pytest

from specdiff.evaluation import EvalCache, content_hash, key_of


def test_arrays_and_json_persist_across_instances(tmp_path):
    cache = EvalCache(tmp_path)
    assert cache.get_array("emb", "k") is None and cache.get_json("meta", "k") is None
    cache.put_array("emb", "k", np.arange(6.0).reshape(2, 3))
    cache.put_json("meta", "k", {"duration": 1.5})
    again = EvalCache(tmp_path)
    np.testing.assert_array_equal(again.get_array("emb", "k"), np.arange(6.0).reshape(2, 3))
    assert again.get_json("meta", "k") == {"duration": 1.5}
    assert again.count("emb") == 1 and not list(tmp_path.rglob(".tmp-*"))


def test_memory_cache_and_keys(tmp_path):
    cache = EvalCache(None)
    cache.put_array("emb", "k", np.ones(2))
    assert cache.count("emb") == 1 and cache.get_array("emb", "k").sum() == 2
    (tmp_path / "a").write_bytes(b"abc")
    (tmp_path / "b").write_bytes(b"abc")
    assert content_hash(tmp_path / "a") == content_hash(tmp_path / "b")
    assert key_of("ab", "c") != key_of("a", "bc") and key_of("x") == key_of(b"x")


def test_ensure_file_makes_once_and_never_leaves_partial_files(tmp_path):
    cache = EvalCache(tmp_path)
    calls = []

    def make(path):
        calls.append(path)
        path.write_bytes(b"audio")

    first = cache.ensure_file("generated", key_of("ckpt", "song"), ".wav", make)
    second = cache.ensure_file("generated", key_of("ckpt", "song"), ".wav", make)
    assert first == second and first.read_bytes() == b"audio" and len(calls) == 1

    def fail(path):
        path.write_bytes(b"partial")
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        cache.ensure_file("generated", "other", ".wav", fail)
    assert sorted(p.name for p in (tmp_path / "generated").iterdir()) == [first.name]
