"""``deepracer-trainer pack``: the ``sourcedir.tar.gz`` of the SageMaker side, rebuilt from this package.

Laid out as the original was: ``training_worker.py``, the other top-level modules and ``markov/``
at the archive root. The archive is reproducible (the same tree gives the same bytes): entries are
sorted, owners and modes fixed, mtimes set to ``SOURCE_DATE_EPOCH`` (0 if unset), and the gzip
header carries no name and mtime 0. Caches, compiled files and tests are left out.
"""
from __future__ import annotations

import argparse
import gzip
import io
import logging
import os
import tarfile
from pathlib import Path

import markov
from markov.config import aws_region, source_date_epoch
from markov.errors import ConfigError
from markov.store.atomic import atomic_write
from markov.store.keys import split_s3_uri
from markov.store.s3 import ENDPOINT_ENV, S3Store, endpoint_from_env

log = logging.getLogger(__name__)

TOP_LEVEL_MODULES = ("training_worker.py", "s3_client.py", "s3_boto_data_store.py", "deepracer_memory.py")
PACKAGE = "markov"
_SKIPPED_DIRS = {"__pycache__", "tests", "test", ".pytest_cache"}
_SKIPPED_SUFFIXES = (".pyc", ".pyo", ".partial")


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "pack",
        help="build the sourcedir.tar.gz (training_worker.py + markov/) reproducibly",
        description="Build sourcedir.tar.gz from the installed package: training_worker.py, s3_client.py, "
                    "s3_boto_data_store.py, deepracer_memory.py and markov/ at the root. Same tree, same bytes.",
    )
    parser.add_argument("--out", type=Path, default=Path("sourcedir.tar.gz"), metavar="FILE",
                        help="archive to write (default %(default)s)")
    parser.add_argument("--upload", metavar="s3://BUCKET/KEY", help="also upload the archive there (default: no upload)")
    parser.add_argument("--s3-endpoint-url", default=None, metavar="URL",
                        help=f"S3/MinIO endpoint for --upload (default: ${ENDPOINT_ENV}, else AWS)")
    parser.add_argument("--aws-region", default=None, metavar="REGION",
                        help="AWS region for --upload (default: $AWS_REGION, else $AWS_DEFAULT_REGION, else us-east-1)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    target = split_s3_uri(args.upload) if args.upload else None  # check the URI before building
    names = build_sourcedir(args.out)
    print(f"Wrote {args.out} ({len(names)} entries, {args.out.stat().st_size} bytes)")
    missing = [name for name in TOP_LEVEL_MODULES if name not in names]
    if missing:
        print(f"  note: not in this installation, so not packed: {', '.join(missing)}")
    if target:
        bucket, key = target
        store = S3Store(bucket, endpoint_url=args.s3_endpoint_url or endpoint_from_env(), region=args.aws_region or aws_region())
        store.put_file(key, args.out)
        print(f"Uploaded to {store.uri(key)}")
    return 0


def source_root() -> Path:
    """The folder holding ``markov/`` and the top-level modules (``src/`` or ``site-packages/``)."""
    return Path(markov.__file__).resolve().parent.parent


def build_sourcedir(out: str | Path, root: str | Path | None = None) -> list[str]:
    """Write the archive to ``out``; returns the entry names in archive order."""
    root = Path(root) if root is not None else source_root()
    if not (root / PACKAGE / "__init__.py").is_file():
        raise ConfigError(f"{root / PACKAGE} is not the markov package; reinstall deepracer-trainer")
    files = [root / name for name in TOP_LEVEL_MODULES if (root / name).is_file()]
    files += _package_files(root / PACKAGE)
    entries = sorted({path.relative_to(root).as_posix(): path for path in files + _parent_dirs(files, root)}.items())
    mtime = source_date_epoch()

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, path in entries:
            info = tarfile.TarInfo(name)
            info.mtime, info.uid, info.gid, info.uname, info.gname = mtime, 0, 0, "", ""
            if path.is_dir():
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            else:
                data = path.read_bytes()
                info.size, info.mode = len(data), 0o644
                tar.addfile(info, io.BytesIO(data))

    def write(handle) -> None:
        with gzip.GzipFile(filename="", mode="wb", fileobj=handle, compresslevel=9, mtime=0) as archive:
            archive.write(buffer.getvalue())

    atomic_write(Path(out), write)
    return [name for name, _ in entries]


def _package_files(package: Path) -> list[Path]:
    found = []
    for dirpath, dirnames, filenames in os.walk(package):
        dirnames[:] = [d for d in dirnames if d not in _SKIPPED_DIRS and not d.startswith(".") and not d.endswith(".egg-info")]
        for name in filenames:
            if not name.endswith(_SKIPPED_SUFFIXES) and not name.startswith("."):
                found.append(Path(dirpath) / name)
    return found


def _parent_dirs(files: list[Path], root: Path) -> list[Path]:
    dirs = set()
    for path in files:
        for parent in path.relative_to(root).parents:
            if parent != Path("."):
                dirs.add(root / parent)
    return sorted(dirs)
