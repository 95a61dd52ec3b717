"""``deepracer-trainer tracks``: the tracks a tracks folder holds, and the --track/--tracks-dir flags.

Every simulator command (local, rollout, evaluate, reward-check) takes its track flags from
``add_track_arguments`` here, so they read the same way everywhere; ``markov.config.tracks_dir``
supplies the ``DEEPRACER_TRACKS`` default and ``markov.sim.track_library.resolve_track``
resolves the pair.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from markov.sim.track_library import BUILTIN_TRACKS

HOW_TO_GET = (
    "The image's tracks: git clone https://github.com/aws-deepracer-community/deepracer-simapp and use its bundle/ "
    "folder, or copy them out of the simulation image DRfC uses; see docs/simulator.md. Then pass --tracks-dir DIR "
    "or set DEEPRACER_TRACKS=DIR.")


def add_track_arguments(parser: argparse.ArgumentParser, default: str | None = "oval",
                        default_text: str | None = None) -> None:
    """--track NAME and --tracks-dir DIR (also spelt --tracks_dir), with the DEEPRACER_TRACKS default."""
    from markov.config import tracks_dir

    shown = default_text or default
    parser.add_argument("--track", default=default, metavar="NAME",
                        help=f"an image track of --tracks-dir (reInvent2019_track, ...), a built-in track "
                             f"({', '.join(BUILTIN_TRACKS)}) or a route .npy (default: {shown})")
    parser.add_argument("--tracks-dir", "--tracks_dir", dest="tracks_dir", type=Path, default=tracks_dir(),
                        metavar="DIR", help="a folder in the simulation image's layout (deepracer-simapp's bundle/) "
                                            "holding its track worlds (default: $DEEPRACER_TRACKS, else none)")


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "tracks",
        help="list the image's tracks in a tracks folder: length, width, direction",
        description="List the tracks of a folder in the simulation image's layout (worlds/, models/, meshes/, "
                    "routes/, urdf/), with their length, width and driving direction. " + HOW_TO_GET,
    )
    from markov.config import tracks_dir

    parser.add_argument("--tracks-dir", "--tracks_dir", dest="tracks_dir", type=Path, default=tracks_dir(),
                        metavar="DIR", help="the tracks folder (default: $DEEPRACER_TRACKS)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from markov.errors import ConfigError
    from markov.sim.world import check_folder, list_tracks

    if args.tracks_dir is None:
        print(f"No tracks folder set; built-in tracks: {', '.join(BUILTIN_TRACKS)}.")
        print(HOW_TO_GET)
        return 0
    folder = check_folder(args.tracks_dir)
    tracks = list_tracks(folder)
    if not tracks:
        raise ConfigError(f"tracks folder {folder}: no track found (routes/<name>.npy with worlds/<name>.world)")
    width = max(len(t.name) for t in tracks)
    print(f"{'track':<{width}}  {'length m':>8}  {'width m':>7}  direction")
    for t in tracks:
        print(f"{t.name:<{width}}  {t.length:>8.2f}  {t.width:>7.2f}  {t.direction}")
    print(f"{len(tracks)} tracks in {folder}; drive one with --track NAME --tracks-dir {folder}")
    return 0
