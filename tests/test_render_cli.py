"""`jaxreward render`: a rollout video from the JAX renderer, and its error messages."""

import importlib.util

import numpy as np

from jaxreward.cli import main
from jaxreward.video import read_gif


def test_random_policy_gif(tmp_path):
    out = tmp_path / "pendulum.gif"
    code = main(["render", "--env", "pendulum", "--policy", "random", "--steps", "4", "--height", "16",
                 "--width", "16", "--out", str(out)])  # fmt: skip
    assert code == 0
    frames = read_gif(str(out))  # identical consecutive frames, merged by Pillow, repeated back
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


def test_gif_round_trip_keeps_runs_of_identical_frames(tmp_path):
    """Pillow stores a run of identical frames as one longer frame; `read_gif` gives them back."""
    from jaxreward.video import write_video

    frames = np.zeros((12, 8, 8, 3), np.uint8)
    frames[5, 1, 1] = 255  # runs of 5, 1, 5 and 1 identical frames
    frames[11, 2, 2] = 100
    write_video(frames, str(tmp_path / "v.gif"))
    assert np.array_equal(read_gif(str(tmp_path / "v.gif")), frames)
