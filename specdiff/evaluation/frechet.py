"""Embedding-set distances of the paper: per-example reconstruction distance and the Fréchet
Audio Distance (FAD), as in the official ``metrics.reconstruction_metric_fn``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

# Official: full covariance up to this many dimensions, diagonal above.
FULL_COVARIANCE_MAX_DIM = 1024
# Official: added to both covariances when the first result is not finite.
SQRTM_EPS = 1e-7
# Official: an imaginary diagonal of sqrtm(S1 S2) larger than this is an error.
SQRTM_IMAG_ATOL = 3e-3


@dataclass(frozen=True)
class GaussianStats:
    """A Gaussian fitted to embedding frames.

    Attributes:
        mean: (D,) float64.
        cov: (D, D) float64 when ``full``, else (D,) diagonal variances; the covariance is the
            biased estimate (divided by n), as in the official streaming computation.
        count: number of frames n.
    """

    mean: np.ndarray
    cov: np.ndarray
    count: int

    @property
    def full(self) -> bool:
        return self.cov.ndim == 2


class RunningGaussian:
    """Streaming mean / covariance over frames added in chunks (the official accumulator)."""

    def __init__(self, dim: int, full_cov_max_dim: int = FULL_COVARIANCE_MAX_DIM):
        self.dim = dim
        self.full = dim <= full_cov_max_dim
        self.count = 0
        self._sum = np.zeros(dim, np.float64)
        self._sq = np.zeros((dim, dim) if self.full else dim, np.float64)

    def add(self, frames: np.ndarray) -> None:
        """Add frames of shape (T, D); T may be 0."""
        x = np.asarray(frames, np.float64).reshape(-1, self.dim)
        self.count += x.shape[0]
        self._sum += x.sum(axis=0)
        self._sq += x.T @ x if self.full else (x * x).sum(axis=0)

    def stats(self) -> GaussianStats:
        if self.count == 0:
            raise ValueError("cannot fit a Gaussian to zero embedding frames")
        mean = self._sum / self.count
        if self.full:
            cov = self._sq / self.count - np.outer(mean, mean)
            cov = 0.5 * (cov + cov.T)  # exact symmetry against rounding
        else:
            cov = self._sq / self.count - mean * mean
        return GaussianStats(mean=mean, cov=cov, count=self.count)


def gaussian_stats(
    embeddings: Sequence[np.ndarray] | np.ndarray, full_cov_max_dim: int = FULL_COVARIANCE_MAX_DIM
) -> GaussianStats:
    """Fit one Gaussian to all frames pooled over a set.

    Args:
        embeddings: a (T, D) array, or a sequence of (T_i, D) arrays (one per example).
    """
    items = [embeddings] if isinstance(embeddings, np.ndarray) else list(embeddings)
    if not items:
        raise ValueError("cannot fit a Gaussian to an empty set of embeddings")
    dim = np.asarray(items[0]).shape[-1]
    acc = RunningGaussian(dim, full_cov_max_dim)
    for item in items:
        acc.add(item)
    return acc.stats()


def _sqrtm_trace_scipy(cov1: np.ndarray, cov2: np.ndarray) -> float:
    """tr sqrtm(S1 S2) with the official fallbacks (eps*I when not finite, imaginary check)."""
    from scipy import linalg

    covmean = linalg.sqrtm(cov1 @ cov2)
    if not np.isfinite(covmean).all():
        offset = np.eye(cov1.shape[0]) * SQRTM_EPS
        covmean = linalg.sqrtm((cov1 + offset) @ (cov2 + offset))
    if np.iscomplexobj(covmean):
        imag = np.abs(np.diagonal(covmean).imag).max(initial=0.0)
        if imag > SQRTM_IMAG_ATOL:
            raise ValueError(f"sqrtm(S1 S2) has an imaginary diagonal component {imag:.3g}")
        covmean = covmean.real
    return float(np.trace(covmean))


def _psd_sqrt(cov: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh(cov)
    return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T


def _sqrtm_trace_eigh(cov1: np.ndarray, cov2: np.ndarray) -> float:
    """tr sqrt(S1 S2) = tr sqrt(S1^1/2 S2 S1^1/2), a symmetric PSD matrix: exact and stable."""
    root1 = _psd_sqrt(cov1)
    inner = root1 @ cov2 @ root1
    w = np.linalg.eigvalsh(0.5 * (inner + inner.T))
    return float(np.sqrt(np.clip(w, 0.0, None)).sum())


def frechet_distance(a: GaussianStats, b: GaussianStats, method: str = "scipy") -> float:
    """Fréchet distance ||mu_a - mu_b||^2 + tr(S_a) + tr(S_b) - 2 tr sqrt(S_a S_b).

    Args:
        method: "scipy" (``scipy.linalg.sqrtm`` with the official fallbacks, the default) or
            "eigh" (eigendecomposition of the symmetric PSD form; same value, more stable).
    """
    if a.mean.shape != b.mean.shape:
        raise ValueError(f"embedding sizes differ: {a.mean.shape} vs {b.mean.shape}")
    diff = a.mean - b.mean
    if a.full and b.full:
        if method == "scipy":
            tr_covmean = _sqrtm_trace_scipy(a.cov, b.cov)
        elif method == "eigh":
            tr_covmean = _sqrtm_trace_eigh(a.cov, b.cov)
        else:
            raise ValueError(f"unknown sqrtm method {method!r}; expected 'scipy' or 'eigh'")
        tr_a, tr_b = np.trace(a.cov), np.trace(b.cov)
    else:  # diagonal covariances (D > 1024 or mixed): the square root is elementwise
        va = np.diagonal(a.cov) if a.full else a.cov
        vb = np.diagonal(b.cov) if b.full else b.cov
        tr_covmean = float(np.sqrt(np.clip(va * vb, 0.0, None)).sum())
        tr_a, tr_b = va.sum(), vb.sum()
    return float(diff @ diff + tr_a + tr_b - 2.0 * tr_covmean)


def frechet_audio_distance(
    targets: Sequence[np.ndarray], predictions: Sequence[np.ndarray], method: str = "scipy"
) -> float:
    """FAD between two sets of embedding sequences ((T_i, D) each), frames pooled per set."""
    return frechet_distance(gaussian_stats(targets), gaussian_stats(predictions), method=method)


def embedding_distance(target: np.ndarray, prediction: np.ndarray) -> float:
    """Mean over frames of ||e_target - e_pred||_2, both cut to the shorter length.

    Args:
        target, prediction: (T1, D) and (T2, D) embeddings of one example.
    Returns:
        The distance, or NaN when either sequence has no frames.
    """
    n = min(len(target), len(prediction))
    if n == 0:
        return float("nan")
    diff = np.asarray(target[:n], np.float64) - np.asarray(prediction[:n], np.float64)
    return float(np.linalg.norm(diff, axis=-1).mean())


def reconstruction_distance(
    targets: Sequence[np.ndarray], predictions: Sequence[np.ndarray]
) -> float:
    """The paper's reconstruction metric: ``embedding_distance`` averaged over examples
    (examples without frames are skipped)."""
    if len(targets) != len(predictions):
        raise ValueError(f"{len(targets)} targets but {len(predictions)} predictions")
    values = [embedding_distance(t, p) for t, p in zip(targets, predictions)]
    values = [v for v in values if np.isfinite(v)]
    return float(np.mean(values)) if values else float("nan")
