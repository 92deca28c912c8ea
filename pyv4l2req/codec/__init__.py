"""Layer 4: sans-IO codec logic (bitstream parsing, decoding state machines); no I/O."""
