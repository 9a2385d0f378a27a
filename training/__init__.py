"""Training pipeline of mqtt-ml's autoencoder: captures -> plugin features -> model -> report.

Run it with `training/run.sh` (or `python -m training.pipeline` from the repository root, with the
venv's python). Every feature value comes from the plugin itself, run inside Suricata, so the model
is trained on exactly what it will score.
"""
