"""specdiff.data: corpora, SoundFont rendering, MIDI sources, preprocessing cache, sampling."""
