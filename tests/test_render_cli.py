"""`jaxreward render`: a rollout video from the JAX renderer, and its error messages."""

import importlib.util

import numpy as np
from PIL import Image

from jaxreward.cli import main


def test_random_policy_gif(tmp_path):
    out = tmp_path / "pendulum.gif"
    code = main(["render", "--env", "pendulum", "--policy", "random", "--steps", "4", "--height", "16",
                 "--width", "16", "--out", str(out)])  # fmt: skip
    assert code == 0
    gif = Image.open(out)
    frames = []
    for k in range(gif.n_frames):
        gif.seek(k)
        frames.append(np.asarray(gif.convert("RGB")))
    assert len(frames) == 5 and frames[0].shape == (16, 16, 3)  # the reset state and 4 steps
    assert any(not np.array_equal(frames[0], f) for f in frames[1:]), "the pendulum never moved"


def test_errors_are_clear(tmp_path, capsys):
    assert main(["render", "--env", "pendulum", "--out", str(tmp_path / "v.avi")]) == 2
    assert ".gif" in capsys.readouterr().err
    assert main(["render", "--policy", "checkpoint", "--run", str(tmp_path), "--out", str(tmp_path / "v.gif")]) == 2
    assert "config.json" in capsys.readouterr().err
    if importlib.util.find_spec("imageio_ffmpeg") is None:
        assert main(["render", "--env", "pendulum", "--out", str(tmp_path / "v.mp4")]) == 2
        assert "use --out video.gif" in capsys.readouterr().err
