"""specdiff.audio: the official log-mel front end, scaling, audio I/O and resampling."""
