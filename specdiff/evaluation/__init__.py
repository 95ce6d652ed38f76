"""specdiff.evaluation: embedding distances, FAD, transcription F1, spectral metrics."""
