"""FAD and reconstruction distance: closed forms, streaming statistics, failure modes."""

import numpy as np
import pytest

from specdiff.evaluation import (
    RunningGaussian,
    embedding_distance,
    frechet_audio_distance,
    frechet_distance,
    gaussian_stats,
    reconstruction_distance,
)
from specdiff.evaluation.frechet import GaussianStats


def _random_rotation(rng, dim):
    q, r = np.linalg.qr(rng.standard_normal((dim, dim)))
    return q * np.sign(np.diag(r))


def _sample(rng, mean, cov, n):
    return rng.multivariate_normal(mean, cov, size=n)


def test_fad_of_known_gaussians_matches_closed_form():
    # Covariances sharing eigenvectors commute, so tr sqrt(S1 S2) = sum sqrt(a_i b_i) and
    # FAD = |mu1 - mu2|^2 + sum (sqrt a_i - sqrt b_i)^2.
    rng = np.random.default_rng(0)
    dim = 6
    q = _random_rotation(rng, dim)
    a, b = rng.uniform(0.5, 3.0, dim), rng.uniform(0.5, 3.0, dim)
    mu1, mu2 = rng.standard_normal(dim), rng.standard_normal(dim)
    cov1, cov2 = q @ np.diag(a) @ q.T, q @ np.diag(b) @ q.T
    closed = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)

    exact = frechet_distance(GaussianStats(mu1, cov1, 1), GaussianStats(mu2, cov2, 1))
    assert exact == pytest.approx(closed, rel=1e-9)

    # Estimated from samples split into examples of varying length (frames pooled per set).
    x = _sample(rng, mu1, cov1, 60000)
    y = _sample(rng, mu2, cov2, 60000)
    xs = np.split(x, [7000, 20000, 41000])
    ys = np.split(y, [100, 30000])
    for method in ("scipy", "eigh"):
        estimate = frechet_audio_distance(xs, ys, method=method)
        assert estimate == pytest.approx(closed, abs=0.08 * closed)


def test_fad_non_commuting_methods_agree_and_symmetric():
    rng = np.random.default_rng(1)
    dim = 16
    m1, m2 = rng.standard_normal((2, dim, dim))
    s1, s2 = GaussianStats(np.zeros(dim), m1 @ m1.T, 1), GaussianStats(np.ones(dim), m2 @ m2.T, 1)
    d_scipy = frechet_distance(s1, s2, "scipy")
    assert frechet_distance(s1, s2, "eigh") == pytest.approx(d_scipy, rel=1e-8)
    assert frechet_distance(s2, s1) == pytest.approx(d_scipy, rel=1e-8)
    assert d_scipy > 0


def test_fad_of_a_set_with_itself_is_zero():
    rng = np.random.default_rng(2)
    emb = [rng.standard_normal((n, 128)) * 3 + 1 for n in (50, 80, 13)]
    assert abs(frechet_audio_distance(emb, emb)) < 1e-6
    assert abs(frechet_audio_distance(emb, emb, method="eigh")) < 1e-6
    # a shifted copy costs exactly |shift|^2
    shifted = [e + 0.5 for e in emb]
    assert frechet_audio_distance(emb, shifted) == pytest.approx(0.25 * 128, rel=1e-6)


def test_streaming_statistics_match_numpy_biased_covariance():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((500, 5)) @ rng.standard_normal((5, 5))
    acc = RunningGaussian(5)
    for chunk in np.split(x, [1, 100, 100, 377]):
        acc.add(chunk)
    stats = acc.stats()
    assert stats.count == 500
    np.testing.assert_allclose(stats.mean, x.mean(0), rtol=1e-12)
    np.testing.assert_allclose(stats.cov, np.cov(x.T, bias=True), rtol=1e-10, atol=1e-12)


def test_diagonal_covariance_above_the_dimension_limit():
    rng = np.random.default_rng(4)
    x, y = rng.standard_normal((400, 3)), 2.0 * rng.standard_normal((400, 3)) + 1.0
    sx, sy = gaussian_stats(x, full_cov_max_dim=2), gaussian_stats(y, full_cov_max_dim=2)
    assert not sx.full and sx.cov.shape == (3,)
    expected = np.sum((x.mean(0) - y.mean(0)) ** 2) + np.sum((x.std(0) - y.std(0)) ** 2)
    assert frechet_distance(sx, sy) == pytest.approx(expected, rel=1e-9)


def test_imaginary_square_root_is_an_error():
    bad = GaussianStats(np.zeros(2), np.diag([1.0, -1.0]), 1)  # not a covariance
    good = GaussianStats(np.zeros(2), np.eye(2), 1)
    with pytest.raises(ValueError, match="imaginary"):
        frechet_distance(bad, good)


def test_reconstruction_distance_definition():
    rng = np.random.default_rng(5)
    t = rng.standard_normal((10, 4))
    assert reconstruction_distance([t], [t]) == 0.0
    # truncation to the shorter sequence, mean over frames of the L2 norm
    p = t[:7] + np.array([3.0, 4.0, 0.0, 0.0])
    assert embedding_distance(t, p) == pytest.approx(5.0)
    # mean over examples, empty examples skipped
    assert reconstruction_distance([t, t, t[:0]], [p, t, t[:0]]) == pytest.approx(2.5)
    assert np.isnan(embedding_distance(t[:0], t))
