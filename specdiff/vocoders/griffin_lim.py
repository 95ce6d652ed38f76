"""Griffin-Lim from the log-mel: mel -> linear magnitude (NNLS) -> fast Griffin-Lim phase.

Also ``refine_phase``: a few fast Griffin-Lim iterations on a 4x finer hop that start from
another vocoder's audio instead of a random phase, and ``refine_low_band``: many more such
iterations for the lowest bins only, on a copy decimated to 1 kHz (the neural vocoder's last
two stages).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np
import torch

from specdiff.audio.mel import DEFAULT_MEL, MelConfig, mel_matrix, stft
from specdiff.vocoders.base import Vocoder


@functools.lru_cache(maxsize=4)
def _pinv(config: MelConfig) -> np.ndarray:
    return np.linalg.pinv(mel_matrix(config).astype(np.float64)).astype(np.float32)  # (M, F)


def mel_to_linear(
    mel: torch.Tensor, config: MelConfig = DEFAULT_MEL, n_iter: int = 32
) -> torch.Tensor:
    """Non-negative linear magnitudes whose mel projection approximates ``exp(mel)``.

    Starts from the pseudo-inverse solution (clamped to be positive) and refines it with
    multiplicative NNLS updates S <- S * (Y M^T) / (S M M^T), which keep S >= 0 and decrease
    ||S M - Y||^2.

    Args:
        mel: (B, T, n_mels) natural-log mel.
        n_iter: multiplicative update steps.

    Returns:
        (B, T, n_fft // 2 + 1) magnitudes.
    """
    matrix = torch.tensor(mel_matrix(config), dtype=mel.dtype, device=mel.device)  # (F, M)
    pinv = torch.tensor(_pinv(config), dtype=mel.dtype, device=mel.device)  # (M, F)
    target = mel.exp()  # (B, T, M)
    floor = config.clip_min * 1e-3
    linear = (target @ pinv).clamp_min(floor)  # (B, T, F)
    numerator = target @ matrix.T  # (B, T, F)
    for _ in range(n_iter):
        # (S M) M^T is cheaper than S (M M^T) with 128 mel bins against 513 linear ones.
        linear = linear * numerator / ((linear @ matrix) @ matrix.T).clamp_min(floor)
    return linear


def _overlap_add_envelope(config: MelConfig, frames: int, device, dtype) -> torch.Tensor:
    window = torch.hann_window(config.win_length, periodic=True, dtype=dtype, device=device)
    squares = (window**2)[None, :, None].expand(1, -1, frames)  # (1, win, T)
    return _fold(squares, config, frames)[0]


def _fold(frames: torch.Tensor, config: MelConfig, count: int) -> torch.Tensor:
    """Overlap-add (B, win, T) frames at hop spacing -> (B, (T - 1) * hop + win)."""
    hop, length = config.hop_length, (count - 1) * config.hop_length + config.win_length
    if config.win_length == 2 * hop:  # the official 50 % overlap: two shifted halves
        halves = frames.transpose(1, 2).reshape(frames.shape[0], count, 2, hop)  # (B, T, 2, hop)
        out = frames.new_zeros(frames.shape[0], length)
        out[:, : count * hop] += halves[:, :, 0].reshape(frames.shape[0], -1)
        out[:, hop:] += halves[:, :, 1].reshape(frames.shape[0], -1)
        return out
    out = torch.nn.functional.fold(
        frames, output_size=(1, length), kernel_size=(1, config.win_length),
        stride=(1, config.hop_length),
    )  # (B, 1, 1, length)
    return out[:, 0, 0]


def istft(
    spec: torch.Tensor, config: MelConfig = DEFAULT_MEL, envelope: torch.Tensor | None = None
) -> torch.Tensor:
    """Least-squares inverse of ``specdiff.audio.stft`` (non-centred, pad_end framing).

    Args:
        spec: (B, T, n_fft // 2 + 1) complex STFT.

        envelope: the overlap-added squared window for T frames, if already computed.

    Returns:
        (B, T * hop_length) audio: the signal whose STFT is closest to ``spec`` among signals
        that are zero beyond T * hop_length (the end padding of the forward transform).
    """
    count = spec.shape[1]
    window = torch.hann_window(
        config.win_length, periodic=True, dtype=spec.real.dtype, device=spec.device
    )
    frames = torch.fft.irfft(spec, n=config.n_fft, dim=-1)[..., : config.win_length] * window
    audio = _fold(frames.transpose(1, 2), config, count)  # (B, (T - 1) * hop + win)
    if envelope is None:
        envelope = _overlap_add_envelope(config, count, spec.device, window.dtype)
    # The envelope is ~0 only in the first few samples (window edge); keep them finite.
    audio = audio / envelope.clamp_min(1e-4)
    return audio[:, : count * config.hop_length]


def _unit(spec: torch.Tensor) -> torch.Tensor:
    return spec / (spec.abs() + 1e-16)


def fast_griffin_lim(magnitude: torch.Tensor, angles: torch.Tensor,
                     analyse: Callable[[torch.Tensor], torch.Tensor],
                     synthesise: Callable[[torch.Tensor], torch.Tensor],
                     n_iter: int, momentum: float,
                     unit: Callable[[torch.Tensor], torch.Tensor] = _unit) -> torch.Tensor:
    """Fast Griffin-Lim (Perraudin, Balazs & Sondergaard 2013) for any STFT framing.

    Args:
        magnitude: target magnitudes, in ``analyse``'s layout.
        angles: unit complex starting phase, the same shape.
        analyse: audio -> complex STFT; ``synthesise``: its inverse.
        n_iter: iterations; momentum: in [0, 1) (0 gives plain Griffin-Lim).
        unit: a spectrum -> its phase as unit numbers (for a layout other than complex).

    Returns:
        the audio ``synthesise`` makes of the magnitudes with the final phase.
    """
    previous = torch.zeros_like(angles)
    factor = momentum / (1.0 + momentum)
    for _ in range(n_iter):
        rebuilt = analyse(synthesise(magnitude * angles))
        angles = unit(rebuilt - factor * previous)
        previous = rebuilt
    return synthesise(magnitude * angles)


class GriffinLim(Vocoder):
    """Weight-free vocoder: mel -> magnitudes (NNLS), phase by fast Griffin-Lim.

    Fast Griffin-Lim (Perraudin, Balazs & Sondergaard 2013) with the same non-centred framing as
    the front end, vectorised over the batch in torch. Deterministic: the initial phase comes
    from a generator seeded with ``seed``, the same for every row of a batch, so a row's audio
    does not depend on what it is batched with.

    Args:
        n_iter: Griffin-Lim iterations.
        momentum: fast Griffin-Lim momentum (0 gives plain Griffin-Lim).
        nnls_iter: multiplicative NNLS steps for the mel -> linear inversion.
        seed: seed of the random initial phase.
        config: the front end the mels come from.
        device: where to compute (default: the mel's device).
    """

    def __init__(
        self,
        n_iter: int = 48,
        momentum: float = 0.99,
        nnls_iter: int = 32,
        seed: int = 0,
        config: MelConfig = DEFAULT_MEL,
        device: torch.device | str | None = None,
    ) -> None:
        if n_iter < 0 or not 0.0 <= momentum < 1.0:
            raise ValueError("n_iter must be >= 0 and momentum in [0, 1)")
        self.n_iter = n_iter
        self.momentum = momentum
        self.nnls_iter = nnls_iter
        self.seed = seed
        self.config = config
        self.device = None if device is None else torch.device(device)
        self.sample_rate = config.sample_rate
        self.hop_length = config.hop_length
        self.n_mels = config.n_mels

    def to(self, device: torch.device | str) -> GriffinLim:
        self.device = torch.device(device)
        return self

    def decode(self, mel: torch.Tensor) -> torch.Tensor:
        out_device = mel.device
        if self.device is not None:
            mel = mel.to(self.device)
        magnitude = mel_to_linear(mel, self.config, self.nnls_iter)  # (B, T, F)
        # The same initial phase for every row: a row's audio does not depend on its batch
        # (so evaluation gives the same numbers whatever the batching or process count).
        generator = torch.Generator().manual_seed(self.seed)
        phase = torch.rand(magnitude.shape[1:], generator=generator).expand(magnitude.shape)
        phase = phase * (2 * np.pi)
        angles = torch.polar(torch.ones_like(phase), phase).to(magnitude.device)
        envelope = _overlap_add_envelope(
            self.config, magnitude.shape[1], magnitude.device, magnitude.dtype
        )
        audio = fast_griffin_lim(
            magnitude, angles, lambda x: stft(x, self.config),
            lambda spec: istft(spec, self.config, envelope), self.n_iter, self.momentum,
        )
        return audio.to(out_device)

    def __repr__(self) -> str:
        return f"GriffinLim(n_iter={self.n_iter}, momentum={self.momentum}, seed={self.seed})"


def fine_magnitudes(mel: torch.Tensor, length: int, hop: int, config: MelConfig = DEFAULT_MEL,
                    nnls_iter: int = 8) -> torch.Tensor:
    """The mel's NNLS magnitudes on a finer, centred framing.

    Args:
        mel: (B, T, n_mels) natural-log mel; its frame j is centred on sample
            ``config.hop_length * j + config.win_length / 2``.
        length: samples of the audio to be framed.
        hop: the finer hop (a divisor of ``config.hop_length``, e.g. 80).
        nnls_iter: multiplicative NNLS steps (``mel_to_linear``).

    Returns:
        (B, n_fft // 2 + 1, length // hop + 1) magnitudes for ``torch.stft(..., hop,
        config.win_length, center=True)`` frames (frame k centred on sample ``hop * k``),
        interpolated linearly in time between the mel's frames (held at the ends).
    """
    linear = mel_to_linear(mel, config, nnls_iter)  # (B, T, F)
    count = linear.shape[1]
    centre = torch.arange(length // hop + 1, device=mel.device) * hop - config.win_length / 2
    position = (centre / config.hop_length).clamp(0, count - 1)
    lo = position.floor().long()
    hi = (lo + 1).clamp(max=count - 1)
    weight = (position - lo).to(linear.dtype)[None, :, None]
    return ((1 - weight) * linear[:, lo] + weight * linear[:, hi]).transpose(1, 2)


FINE_HOP = 80  # the refinements' hop: 4x finer than the mel's, 8x overlap of its window


def refine_phase(audio: torch.Tensor, mel: torch.Tensor, n_iter: int = 2, hop: int = FINE_HOP,
                 momentum: float = 0.99, nnls_iter: int = 8, config: MelConfig = DEFAULT_MEL,
                 magnitude: torch.Tensor | None = None) -> torch.Tensor:
    """Fast Griffin-Lim on a 4x finer hop, starting from ``audio``'s own phase.

    A vocoder's phase can be a little inconsistent from frame to frame (at hop 320 with a
    1024-sample window, neighbouring frames overlap only 2x); low notes then lose their pitch.
    Re-analysing the audio at hop ``hop`` (8x overlap with the 640-sample window) and taking
    ``n_iter`` Griffin-Lim steps towards the mel's own magnitudes makes the frames agree. The
    start is already close, so a few steps do what hundreds from a random phase cannot.

    Args:
        audio: (B, n) the vocoder's audio for ``mel``.
        mel: (B, T, n_mels) its natural-log mel.
        n_iter: Griffin-Lim steps (0 still swaps in the mel's magnitudes).
        magnitude: ``fine_magnitudes(mel, n, hop, config, nnls_iter)``, if already computed.

    Returns:
        (B, n) audio.
    """
    length = audio.shape[-1]
    window = torch.hann_window(config.win_length, dtype=audio.dtype, device=audio.device)

    def forward(x: torch.Tensor) -> torch.Tensor:
        return torch.stft(x, config.n_fft, hop, config.win_length, window, center=True,
                          pad_mode="constant", return_complex=True)  # (B, F, length // hop + 1)

    def inverse(spec: torch.Tensor) -> torch.Tensor:
        return torch.istft(spec, config.n_fft, hop, config.win_length, window, center=True,
                           length=length)

    if magnitude is None:
        magnitude = fine_magnitudes(mel, length, hop, config, nnls_iter)
    magnitude = magnitude.to(audio.dtype)
    start = forward(audio)
    return fast_griffin_lim(magnitude, _unit(start), forward, inverse, n_iter, momentum)


LOW_BAND_FACTOR = 16  # 16 kHz -> 1 kHz: the low band's working rate
_LOW_BAND_TAPS = 32 * LOW_BAND_FACTOR + 1  # anti-alias filter length at 16 kHz


@functools.lru_cache(maxsize=4)
def _low_band_filter(factor: int, taps: int) -> torch.Tensor:
    """Kaiser-windowed sinc lowpass (unit DC gain), cutoff 0.9 x the decimated Nyquist: flat to
    ~370 Hz, -80 dB from ~530 Hz at factor 16."""
    t = torch.arange(taps, dtype=torch.float64) - (taps - 1) / 2
    cutoff = 0.9 / factor  # in cycles per 2 samples (sinc argument units)
    kernel = cutoff * torch.sinc(cutoff * t) * torch.kaiser_window(taps, False, beta=8.0,
                                                                   dtype=torch.float64)
    return (kernel / kernel.sum()).float()


def decimate(audio: torch.Tensor, factor: int = LOW_BAND_FACTOR) -> torch.Tensor:
    """(B, n) -> (B, ceil(n / factor)): lowpass filtered, every ``factor``-th sample (sample m
    is the filtered audio at sample ``factor * m``; zero-padded ends)."""
    kernel = _low_band_filter(factor, _LOW_BAND_TAPS).to(audio)
    half = (len(kernel) - 1) // 2
    padded = torch.nn.functional.pad(audio[:, None], (half, half))
    return torch.nn.functional.conv1d(padded, kernel[None, None], stride=factor)[:, 0]


def interpolate(low: torch.Tensor, length: int, factor: int = LOW_BAND_FACTOR) -> torch.Tensor:
    """The inverse of ``decimate`` for band-limited signals: (B, m) -> (B, length).

    Polyphase: output sample ``factor * m + r`` filters the low signal with every
    ``factor``-th tap of the (gain ``factor``) lowpass, so the zeros of an upsampled signal are
    never multiplied.
    """
    kernel = _low_band_filter(factor, _LOW_BAND_TAPS).to(low) * factor
    half = (len(kernel) - 1) // 2
    # out[factor m + r] = sum_j low[j] kernel[factor (m - j) + r + half]; with r + half =
    # factor q + s that is the convolution of low with kernel[s::factor], read q samples on.
    taps = -(-len(kernel) // factor)
    padded = torch.nn.functional.pad(kernel, (0, (taps + 1) * factor - len(kernel)))
    q, s = zip(*(divmod(r + half, factor) for r in range(factor)))
    phases = torch.stack([padded[s[r] :: factor][:taps] for r in range(factor)])  # (factor, taps)
    signal = torch.nn.functional.pad(low[:, None], (taps - 1, max(q)))
    # conv1d correlates; flipped phases make it the convolution (full, from sample 0).
    out = torch.nn.functional.conv1d(signal, phases.flip(-1)[:, None])  # (B, factor, m + max q)
    count = low.shape[-1]
    rows = torch.stack([out[:, r, q[r] : q[r] + count] for r in range(factor)], dim=-1)
    return rows.reshape(low.shape[0], count * factor)[:, :length]


class _LowBins:
    """The lowest ``bins`` bins of a centred STFT (Hann ``win`` zero-padded to ``n_fft``, hop
    ``hop`` dividing ``win``; frame k covers samples [hop k - win / 2, hop k + win / 2), as
    ``torch.stft`` with ``center=True, pad_mode="constant"``) of a ``length``-sample signal,
    and the least-squares inverse of such bins alone. Spectra are real (B, frames, 2 bins):
    the real parts, then the imaginary ones. Small real matrix products: cheaper than complex
    FFTs for the low band's many short steps.
    """

    def __init__(self, length: int, n_fft: int, hop: int, win: int, bins: int,
                 like: torch.Tensor):
        if not 0 < bins < n_fft // 2 or win % hop:
            raise ValueError(f"need 0 < bins < {n_fft // 2} and hop dividing win")
        self.length, self.hop, self.win, self.bins = length, hop, win, bins
        self.frames = length // hop + 1
        window = torch.hann_window(win, dtype=torch.float64)
        angle = 2 * torch.pi * torch.outer(torch.arange(bins, dtype=torch.float64),
                                           torch.arange(win, dtype=torch.float64)) / n_fft
        # frames @ analysis = [Re | Im] of the DFT of the windowed frames
        analysis = torch.cat([angle.cos(), -angle.sin()]).T * window[:, None]  # (win, 2K)
        scale = torch.full((bins, 1), 2.0 / n_fft, dtype=torch.float64)
        scale[0] = 1.0 / n_fft  # irfft: DC once, the other bins with their mirror images
        synthesis = torch.cat([scale * angle.cos(), -scale * angle.sin()]) * window  # (2K, win)
        envelope = self._overlap_add((window**2).expand(1, self.frames, win))[0]
        self.analysis, self.synthesis, self.envelope = (
            t.to(like) for t in (analysis, synthesis, envelope.clamp_min(1e-8)))

    def _overlap_add(self, frames: torch.Tensor) -> torch.Tensor:  # (B, T, win) -> (B, length)
        count, hop, parts = frames.shape[1], self.hop, self.win // self.hop
        pieces = frames.reshape(frames.shape[0], count, parts, hop)
        out = frames.new_zeros(frames.shape[0], count + parts - 1, hop)
        for j in range(parts):
            out[:, j : j + count] += pieces[:, :, j]
        start = self.win // 2
        return out.reshape(frames.shape[0], -1)[:, start : start + self.length]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, length) -> (B, frames, 2 bins)."""
        padded = torch.nn.functional.pad(x, (self.win // 2, self.win // 2))
        return padded.unfold(-1, self.win, self.hop)[:, : self.frames] @ self.analysis

    def inverse(self, spec: torch.Tensor) -> torch.Tensor:
        """(B, frames, 2 bins) -> (B, length): overlap-add of the windowed frames those bins
        alone make, over the window-square envelope."""
        return self._overlap_add(spec @ self.synthesis) / self.envelope

    def unit(self, spec: torch.Tensor) -> torch.Tensor:
        """Each bin's phase as a unit (cos, sin) pair, in the same layout."""
        squares = spec * spec
        inverse_norm = (squares[..., : self.bins] + squares[..., self.bins :] + 1e-32).rsqrt()
        return spec * inverse_norm.repeat(1, 1, 2)


def refine_low_band(audio: torch.Tensor, mel: torch.Tensor, n_iter: int = 64, bins: int = 12,
                    hop: int = FINE_HOP, momentum: float = 0.99, nnls_iter: int = 8,
                    config: MelConfig = DEFAULT_MEL,
                    magnitude: torch.Tensor | None = None) -> torch.Tensor:
    """Fast Griffin-Lim for the lowest ``bins`` STFT bins only, at 1/16 of the sample rate.

    Below ~200 Hz a 640-sample window cannot separate semitones, so a low note's pitch lives
    in how its phase advances from frame to frame; ``refine_phase``'s few steps fix the rest of
    the spectrum but not that (while more steps there smear the attacks). This stage takes
    ``n_iter`` more steps on those bins alone. The band below 500 Hz is decimated to 1 kHz,
    where the same framing is 16x smaller (Hann 40, FFT 64, hop 5: bin k is still k * 15.6 Hz
    and the magnitudes are the 16 kHz ones / 16); bins below ``bins`` get the mel's magnitudes
    and Griffin-Lim phase, the others keep the audio's own spectrum, and only the change is
    interpolated back to 16 kHz and added: the audio above ~370 Hz is left exactly as it was.

    Args:
        audio: (B, n) audio for ``mel``, n a multiple of ``hop``.
        mel: (B, T, n_mels) natural-log mel.
        n_iter: Griffin-Lim steps; bins: how many of the lowest bins they update (12: below
            ~190 Hz); hop: the 16 kHz hop whose framing is decimated (80).
        magnitude: ``fine_magnitudes(mel, n, hop, config, nnls_iter)``, if already computed.

    Returns:
        (B, n) audio.
    """
    factor = LOW_BAND_FACTOR
    if config.n_fft % factor or config.win_length % factor or hop % factor:
        raise ValueError(f"n_fft, win_length and hop must be multiples of {factor}")
    length = audio.shape[-1]
    low = decimate(audio, factor)
    lowest = _LowBins(low.shape[-1], config.n_fft // factor, hop // factor,
                      config.win_length // factor, bins, audio)
    start = lowest.forward(low)  # (B, frames, 2 bins)
    rest = low - lowest.inverse(start)  # what the other bins make: kept as it is
    if magnitude is None:
        magnitude = fine_magnitudes(mel, length, hop, config, nnls_iter)
    magnitude = magnitude[:, :bins, : start.shape[1]].transpose(1, 2).to(audio.dtype) / factor
    refined = fast_griffin_lim(magnitude.repeat(1, 1, 2), lowest.unit(start), lowest.forward,
                               lambda spec: lowest.inverse(spec) + rest, n_iter, momentum,
                               lowest.unit)
    return audio + interpolate(refined - low, length, factor)
