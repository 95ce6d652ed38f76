"""Audio file I/O: load any common format as 16 kHz mono, write WAV/FLAC atomically."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

import numpy as np
import soundfile as sf
import soxr
import torch

from specdiff.audio.mel import SAMPLE_RATE
from specdiff.errors import SpecdiffError

# Output extension -> (libsndfile format, default subtype).
AUDIO_FORMATS = {".wav": ("WAV", "PCM_16"), ".flac": ("FLAC", "PCM_16"),
                 ".mp3": ("MP3", "MPEG_LAYER_III"), ".ogg": ("OGG", "VORBIS")}
"""Output extension -> (soundfile format, subtype): 16-bit PCM, or lossy MP3 / Ogg Vorbis."""


def load_audio(path: str | os.PathLike, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Read an audio file (WAV, FLAC, OGG, MP3, AIFF, ...), mix it to mono and resample it.

    Args:
        path: the audio file.
        sample_rate: target rate in Hz; resampled with soxr (HQ) when the file's rate differs.

    Returns:
        float32 array (n,), mono, at ``sample_rate``.

    Raises:
        SpecdiffError: the file is missing or not a readable audio file.
    """
    path = Path(path)
    if not path.is_file():
        raise SpecdiffError(f"{path}: no such audio file")
    try:
        data, file_rate = sf.read(str(path), dtype="float32", always_2d=True)  # (n, channels)
    except (sf.LibsndfileError, RuntimeError, TypeError) as err:
        raise SpecdiffError(f"{path}: not a readable audio file ({err})") from None
    audio = data.mean(axis=1, dtype=np.float32) if data.shape[1] > 1 else data[:, 0]
    if file_rate != sample_rate and audio.size:
        audio = soxr.resample(audio, file_rate, sample_rate, quality="HQ")
    return np.ascontiguousarray(audio, dtype=np.float32)


def _audio_format(path: Path, subtype: str | None) -> tuple[str, str]:
    try:
        fmt, default_subtype = AUDIO_FORMATS[path.suffix.lower()]
    except KeyError:
        known = ", ".join(AUDIO_FORMATS)
        raise SpecdiffError(
            f"{path}: unknown audio extension {path.suffix!r}; expected one of {known}"
        ) from None
    return fmt, subtype or default_subtype


def _check_writable_dir(path: Path) -> None:
    parent = path.parent
    if path.is_dir():
        raise SpecdiffError(f"{path}: is a directory, expected an output file name")
    if not parent.is_dir():
        raise SpecdiffError(f"{path}: cannot write, directory {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise SpecdiffError(f"{path}: cannot write, directory {parent} is not writable")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it onto ``path``.

    The temporary file lives in the same directory (so the rename is atomic) and is removed if
    the body raises (including KeyboardInterrupt): an interrupted write never leaves a truncated
    file under the final name.

    Raises:
        SpecdiffError: the directory does not exist or is not writable, or ``path`` is a folder.
    """
    path = Path(path)
    _check_writable_dir(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    except OSError as err:
        raise SpecdiffError(f"{path}: cannot write ({err.strerror})") from None
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp's 0600 -> what open() would have made
        os.replace(tmp_path, path)
    except OSError as err:
        tmp_path.unlink(missing_ok=True)
        raise SpecdiffError(f"{path}: cannot write ({err.strerror or err})") from None
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def soft_clip(audio: np.ndarray, knee: float = 0.9) -> np.ndarray:
    """Leave samples within ``knee`` alone and bend larger ones smoothly towards +-1.

    Above the knee, |x| -> knee + (1 - knee) * tanh((|x| - knee) / (1 - knee)): continuous with
    slope 1 at the knee and always below 1, so a peak of 1.5 is rounded off instead of being
    cut flat (a hard clip's click). Sample by sample, so streamed audio is limited the same way.
    """
    magnitude = np.abs(audio)
    over = magnitude > knee
    if not over.any():
        return audio
    bent = knee + (1.0 - knee) * np.tanh((magnitude[over] - knee) / (1.0 - knee))
    out = audio.copy()
    out[over] = np.sign(audio[over]) * bent
    return out


def _as_frames(audio: np.ndarray | torch.Tensor, clip: bool) -> np.ndarray:
    if isinstance(audio, torch.Tensor):
        audio = audio.detach().cpu().numpy()
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim not in (1, 2):
        raise ValueError(f"audio must be (n,) or (n, channels), got shape {audio.shape}")
    # libsndfile wraps out-of-range floats around when writing integer PCM; limit instead.
    return np.clip(audio, -1.0, 1.0) if clip else audio


def save_audio(
    path: str | os.PathLike,
    audio: np.ndarray | torch.Tensor,
    sample_rate: int = SAMPLE_RATE,
    subtype: str | None = None,
) -> Path:
    """Write audio atomically; the format comes from the extension (.wav, .flac).

    Args:
        path: output file; written to a temporary file in the same folder, then renamed.
        audio: (n,) mono or (n, channels) float samples, nominally in [-1, 1]; for integer PCM,
            samples beyond are clipped (a bundle may declare ``soft_clip`` to bend them first).
        sample_rate: sample rate in Hz.
        subtype: libsndfile subtype (default 16-bit PCM).

    Returns:
        The output path.

    Raises:
        SpecdiffError: unknown extension or unwritable path.
    """
    path = Path(path)
    fmt, subtype = _audio_format(path, subtype)
    frames = _as_frames(audio, clip=subtype.startswith("PCM"))
    with atomic_path(path) as tmp:
        sf.write(str(tmp), frames, sample_rate, format=fmt, subtype=subtype)
    return path


class AudioFileWriter:
    """Stream audio to a file chunk by chunk; the file appears under its name only on ``close``.

    Use as a context manager: leaving the block normally commits the file (atomic rename), an
    exception discards it. Args are as for ``save_audio`` plus ``channels``.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        sample_rate: int = SAMPLE_RATE,
        channels: int = 1,
        subtype: str | None = None,
    ) -> None:
        self.path = Path(path)
        fmt, self.subtype = _audio_format(self.path, subtype)
        self._atomic = atomic_path(self.path)
        self._tmp = self._atomic.__enter__()
        self.frames_written = 0
        try:
            self._file = sf.SoundFile(
                str(self._tmp), "w", sample_rate, channels, self.subtype, format=fmt
            )
        except BaseException as err:
            self._atomic.__exit__(type(err), err, err.__traceback__)
            raise

    def write(self, audio: np.ndarray | torch.Tensor) -> None:
        """Append (n,) or (n, channels) samples."""
        frames = _as_frames(audio, clip=self.subtype.startswith("PCM"))
        self._file.write(frames)
        self.frames_written += frames.shape[0]

    def close(self) -> Path:
        """Finish the file and move it onto its final name."""
        self._file.close()
        self._atomic.__exit__(None, None, None)
        return self.path

    def abort(self) -> None:
        """Discard the partial file."""
        self._file.close()
        with contextlib.suppress(RuntimeError):
            err = RuntimeError("aborted")
            self._atomic.__exit__(RuntimeError, err, None)

    def __enter__(self) -> AudioFileWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def resample_stream(pieces: Iterator[np.ndarray], rate: int, target: int
                    ) -> Iterator[np.ndarray]:
    """Resample a stream of (n,) mono float32 pieces from ``rate`` to ``target`` Hz with soxr
    (high quality), piece by piece; the same samples as resampling the whole at once."""
    if rate == target:
        yield from pieces
        return
    stream = soxr.ResampleStream(rate, target, 1, dtype="float32", quality="HQ")
    for piece in pieces:
        out = stream.resample_chunk(np.asarray(piece, dtype=np.float32))
        if len(out):
            yield out
    tail = stream.resample_chunk(np.zeros(0, dtype=np.float32), last=True)
    if len(tail):
        yield tail


class WavStreamWriter:
    """Stream 16-bit PCM WAV to a binary stream (stdout, a pipe) as chunks arrive.

    The length is unknown when the header goes out, so the RIFF and data sizes are the largest
    values (0xFFFFFFFF), as streaming WAV writers do; players (``aplay``, ``ffplay``, ``sox``) read
    to the end of the stream. Samples beyond [-1, 1] are clipped.
    """

    def __init__(self, stream, sample_rate: int = SAMPLE_RATE, channels: int = 1):
        import struct

        self.stream, self.sample_rate, self.frames_written = stream, sample_rate, 0
        block = 2 * channels
        self.stream.write(b"RIFF" + struct.pack("<I", 0xFFFFFFFF) + b"WAVE" + b"fmt "
                          + struct.pack("<IHHIIHH", 16, 1, channels, sample_rate,
                                        sample_rate * block, block, 16)
                          + b"data" + struct.pack("<I", 0xFFFFFFFF))

    def write(self, audio: np.ndarray | torch.Tensor) -> None:
        """Append (n,) or (n, channels) samples and flush, so a player hears them now."""
        import io

        frames = _as_frames(audio, clip=True)
        pcm = io.BytesIO()  # libsndfile's own float -> PCM16, so a stream equals a written file
        sf.write(pcm, frames, self.sample_rate, format="RAW", subtype="PCM_16", endian="LITTLE")
        self.stream.write(pcm.getvalue())
        self.stream.flush()
        self.frames_written += frames.shape[0]
