"""Helpers of scripts/gen-dataset.py: a labelled MQTT traffic generator (see docs/dataset.md)."""
