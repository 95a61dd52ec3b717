"""``deepracer-trainer tracks`` and the --track/--tracks-dir flags every simulator command shares."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

from markov.cli.main import main

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sim"))
from world_builder import NAME, build_world  # noqa: E402


@pytest.fixture(scope="module")
def tracks(tmp_path_factory) -> Path:
    return build_world(tmp_path_factory.mktemp("tracks"))


def test_lists_tracks_with_length_width_and_direction(tracks, capsys):
    assert main(["tracks", "--tracks-dir", str(tracks)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["track", "length", "m", "width", "m", "direction"]
    assert lines[1].split() == [NAME, "8.02", "0.76", "counter-clockwise"]
    assert f"--tracks-dir {tracks}" in lines[-1]


def test_tracks_dir_comes_from_deepracer_tracks(tracks, capsys, monkeypatch):
    monkeypatch.setenv("DEEPRACER_TRACKS", str(tracks))
    assert main(["tracks"]) == 0
    assert NAME in capsys.readouterr().out


def test_without_a_folder_it_says_how_to_get_one(capsys, monkeypatch):
    monkeypatch.delenv("DEEPRACER_TRACKS", raising=False)
    assert main(["tracks"]) == 0
    out = capsys.readouterr().out
    assert "built-in tracks: oval, twisty" in out and "deepracer-simapp" in out and "docs/simulator.md" in out


def test_a_folder_that_is_not_the_images_layout_is_one_line_and_exit_2(tmp_path, capsys):
    assert main(["tracks", "--tracks-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "no worlds/ or routes/ folder" in err


def test_reward_check_drives_an_image_track_by_name(tracks, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("DEEPRACER_TRACKS", str(tracks))
    assert main(["reward-check", "--track", NAME, "--episodes", "1", "--out", str(tmp_path)]) == 0
    assert f"on {NAME} (8.02 m" in capsys.readouterr().out
    assert main(["reward-check", "--track", "nowhere", "--tracks-dir", str(tracks), "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "track 'nowhere'" in err and f"tracks in {tracks}: {NAME}" in err
