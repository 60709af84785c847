"""Pure encoders and decoders between music and arrays."""
