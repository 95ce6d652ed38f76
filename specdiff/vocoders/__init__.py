"""specdiff.vocoders: mel -> audio (Griffin-Lim, SoundStream ONNX, specdiff's own)."""
