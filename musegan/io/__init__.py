"""The only package that touches files: MIDI / scores, atomic writes (audio later)."""
