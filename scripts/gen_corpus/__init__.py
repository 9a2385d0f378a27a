"""The multi-environment corpus generator behind scripts/gen-corpus.py (see docs/corpus.md)."""
