"""Experiments: one module per reproduced paper figure, run as `python -m experiments.<name>`.

Each takes `--scale smoke` (minutes on a 2-core CPU) and `--scale paper` (the published
budget) and writes `results/<experiment>/` with the figure, its data (CSV) and the command.
"""
