"""specdiff.evaluation: embedding distances, FAD, transcription F1, spectral metrics.

Heavy optional pieces (VGGish weights, TRILL/TensorFlow, basic-pitch/onnxruntime) are loaded
only when their classes are constructed; importing this package downloads nothing.

Typical use (what ``specdiff eval`` does)::

    from specdiff.evaluation import (BasicPitchTranscriber, EvalOptions, VGGishEmbedder,
                                     evaluate_systems)

    report = evaluate_systems(
        {"ground truth encoded": "out/encoded", "model": "out/model"},  # or {stem: path} maps
        "data/test_audio", "data/test_midi",
        embedders=[VGGishEmbedder.from_file("vggish-10086976.pth")],
        transcriber=BasicPitchTranscriber(),
        options=EvalOptions(jobs=2, cache_dir="out/cache"),
    )
    print(report.to_markdown()); report.write("out"); report.plot("out")
"""

from specdiff.evaluation.cache import EvalCache, content_hash, key_of
from specdiff.evaluation.embeddings import (
    EMBEDDING_SAMPLE_RATE,
    Embedder,
    pad_to_whole_seconds,
    prepare_for_embedding,
)
from specdiff.evaluation.frechet import (
    GaussianStats,
    RunningGaussian,
    embedding_distance,
    frechet_audio_distance,
    frechet_distance,
    gaussian_stats,
    reconstruction_distance,
)
from specdiff.evaluation.midi_out import window_notes_for_eval, write_notes_midi
from specdiff.evaluation.report import COLUMNS, EvalReport
from specdiff.evaluation.runner import EvalOptions, evaluate_systems, list_files, resolve_files
from specdiff.evaluation.seams import frame_change, seam_ratio, segment_joins
from specdiff.evaluation.spectral import log_mel_l1, multi_resolution_stft_distance
from specdiff.evaluation.transcription import (
    BasicPitchTranscriber,
    midi_reference_notes,
    note_scores,
)
from specdiff.evaluation.trill import TrillEmbedder
from specdiff.evaluation.vggish import (
    VGGishEmbedder,
    build_vggish_network,
    vggish_frame_times,
    vggish_num_frames,
)

__all__ = [
    "COLUMNS",
    "EMBEDDING_SAMPLE_RATE",
    "BasicPitchTranscriber",
    "Embedder",
    "EvalCache",
    "EvalOptions",
    "EvalReport",
    "GaussianStats",
    "RunningGaussian",
    "TrillEmbedder",
    "VGGishEmbedder",
    "build_vggish_network",
    "content_hash",
    "embedding_distance",
    "evaluate_systems",
    "frame_change",
    "frechet_audio_distance",
    "frechet_distance",
    "gaussian_stats",
    "key_of",
    "list_files",
    "log_mel_l1",
    "midi_reference_notes",
    "multi_resolution_stft_distance",
    "note_scores",
    "pad_to_whole_seconds",
    "prepare_for_embedding",
    "reconstruction_distance",
    "resolve_files",
    "seam_ratio",
    "segment_joins",
    "vggish_frame_times",
    "vggish_num_frames",
    "window_notes_for_eval",
    "write_notes_midi",
]
