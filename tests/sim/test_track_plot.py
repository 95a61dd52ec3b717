"""The track picture used by reward-check (heat map) and evaluate (driven lines)."""
import numpy as np
from PIL import Image

from markov.sim.track_library import oval
from markov.sim.track_plot import plot_track


def test_driven_lines_over_the_track(tmp_path):
    track = oval()
    lap = (track.center[:, 0] + 0.1, track.center[:, 1])
    path = plot_track(track, tmp_path / "laps" / "lines.png", lines=[lap, track.center.T], title="two laps")
    image = np.asarray(Image.open(path).convert("L"))
    assert path.exists() and image.shape[0] > 200 and image.shape[1] > 400
    assert image.min() < 100 and image.max() > 240  # lines drawn on a light background


def test_labelled_lines_get_a_legend(tmp_path):
    track = oval()
    lap = (track.center[:, 0] + 0.1, track.center[:, 1])
    plain = np.asarray(Image.open(plot_track(track, tmp_path / "plain.png", lines=[lap])).convert("L"))
    labelled = np.asarray(Image.open(plot_track(track, tmp_path / "labelled.png", lines=[lap],
                                                labels=["lap 1"])).convert("L"))
    assert plain.shape == labelled.shape and (plain != labelled).any()  # the legend box
