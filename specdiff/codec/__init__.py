"""specdiff.codec: MIDI -> notes -> events -> token segments (official MT3 vocabulary)."""
