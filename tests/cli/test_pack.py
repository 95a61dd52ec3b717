"""``deepracer-trainer pack``: layout, exclusions, reproducibility and upload."""
from __future__ import annotations

import gzip
import os
import tarfile

import boto3
import pytest
from moto import mock_aws

from markov.cli.main import main
from markov.cli.pack import build_sourcedir


@pytest.fixture
def tree(tmp_path):
    """A source root as installed: top-level modules next to markov/, plus caches that must stay out."""
    root = tmp_path / "src"
    for path, text in {
        "training_worker.py": "print('train')\n",
        "s3_client.py": "",
        "s3_boto_data_store.py": "",
        "deepracer_memory.py": "",
        "unrelated.py": "",
        "markov/__init__.py": "",
        "markov/store/keys.py": "KEY = 1\n",
        "markov/defaults/model_metadata.json": "{}\n",
        "markov/__pycache__/x.cpython-311.pyc": "junk",
        "markov/store/keys.pyc": "junk",
        "markov/tests/test_x.py": "",
        "markov/.hidden/x.py": "",
    }.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    return root


def members(path):
    with tarfile.open(path) as tar:
        return tar.getmembers()


def test_layout_and_exclusions(tree, tmp_path):
    out = tmp_path / "sourcedir.tar.gz"
    names = build_sourcedir(out, tree)
    assert names == sorted(names)
    assert names == [
        "deepracer_memory.py", "markov", "markov/__init__.py", "markov/defaults",
        "markov/defaults/model_metadata.json", "markov/store", "markov/store/keys.py",
        "s3_boto_data_store.py", "s3_client.py", "training_worker.py",
    ]
    infos = {m.name: m for m in members(out)}
    assert list(infos) == names
    assert {(m.uid, m.gid, m.uname, m.gname, m.mtime) for m in infos.values()} == {(0, 0, "", "", 0)}
    with tarfile.open(out) as tar:
        assert tar.extractfile("training_worker.py").read() == b"print('train')\n"


def test_same_tree_same_bytes(tree, tmp_path):
    first, second = tmp_path / "a.tar.gz", tmp_path / "b.tar.gz"
    build_sourcedir(first, tree)
    os.utime(tree / "markov" / "store" / "keys.py", (1_700_000_000, 1_700_000_000))
    build_sourcedir(second, tree)
    assert first.read_bytes() == second.read_bytes()
    assert first.read_bytes()[4:8] == b"\0\0\0\0"  # gzip header mtime
    (tree / "markov" / "store" / "keys.py").write_text("KEY = 2\n")
    build_sourcedir(second, tree)
    assert first.read_bytes() != second.read_bytes()


def test_real_package_packs(tmp_path, capsys):
    out = tmp_path / "sourcedir.tar.gz"
    assert main(["pack", "--out", str(out)]) == 0
    names = [m.name for m in members(out)]
    assert "markov/store/keys.py" in names and "s3_client.py" in names and "s3_boto_data_store.py" in names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc") or "egg-info" in n]
    assert gzip.decompress(out.read_bytes())  # a valid gzip stream
    assert f"Wrote {out}" in capsys.readouterr().out


def test_upload(tmp_path, aws_env, capsys):
    out = tmp_path / "sourcedir.tar.gz"
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="code")
        assert main(["pack", "--out", str(out), "--upload", "s3://code/sagemaker//sourcedir.tar.gz",
                     "--aws-region", "us-east-1"]) == 0
        body = s3.get_object(Bucket="code", Key="sagemaker/sourcedir.tar.gz")["Body"].read()
    assert body == out.read_bytes()
    assert "Uploaded to s3://code/sagemaker/sourcedir.tar.gz" in capsys.readouterr().out


def test_bad_upload_uri_fails_before_building(tmp_path, capsys):
    assert main(["pack", "--out", str(tmp_path / "x.tar.gz"), "--upload", "code/key"]) == 2
    assert "s3://" in capsys.readouterr().err
    assert not (tmp_path / "x.tar.gz").exists()
