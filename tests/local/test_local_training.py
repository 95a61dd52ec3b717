"""``deepracer-trainer local`` end to end, as real processes: a short run, a resumed run with a killed rollout."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from markov.checkpoint_names import parse_checkpoint_number

pytestmark = pytest.mark.slow

PREFIX_DIR = Path("store") / "deepracer-local"
TINY = {"num_episodes_between_training": 2, "num_epochs": 1, "batch_size": 32}


def local_command(out: Path, hyperparameters: Path | None, iterations: int) -> list[str]:
    command = [sys.executable, "-m", "markov", "local", "--out", str(out), "--iterations", str(iterations),
               "--max-steps", "30"]
    if hyperparameters is not None:
        command += ["--hyperparameters", str(hyperparameters)]
    return command


def pointer(out: Path) -> str:
    return (out / PREFIX_DIR / "model" / ".coach_checkpoint").read_text()


def pointer_number(out: Path) -> int:
    return parse_checkpoint_number(pointer(out))


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("local") / "run"
    hyperparameters = out.parent / "hp.json"
    hyperparameters.write_text(json.dumps(TINY))
    done = subprocess.run(local_command(out, hyperparameters, 2), capture_output=True, text=True, timeout=150)
    return out, done


def test_short_run_leaves_a_checkpoint_a_plot_and_simtrace(first_run):
    out, done = first_run
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    model = out / PREFIX_DIR / "model"
    assert pointer_number(out) == 2
    assert (model / f"{pointer(out)}.index").is_file() and (model / "model_2.pb").is_file()
    assert (model / ".finished").is_file()
    records = json.loads((model / "deepracer_checkpoints.json").read_text())
    assert records["last_checkpoint"]["name"] == pointer(out)
    assert (out / "progress.png").read_bytes()[:4] == b"\x89PNG"
    assert len((out / "progress.jsonl").read_text().splitlines()) == 2
    simtrace = sorted(p.name for p in (out / PREFIX_DIR / "training-simtrace").iterdir())
    assert simtrace == ["0-iteration.csv", "1-iteration.csv"]
    rows = (out / PREFIX_DIR / "training-simtrace" / "0-iteration.csv").read_text().splitlines()
    assert rows[0].startswith("episode,steps,X,Y,yaw")
    assert {row.split(",")[0] for row in rows[1:]} == {"0", "1"}  # the two episodes of iteration 0
    assert "deepracer-trainer export --checkpoint" in done.stdout
    # What the image's consumers read from a run (issue 12), checked here without their extras installed.
    metrics = json.loads((out / PREFIX_DIR / "metrics" / "TrainingMetrics.json").read_text())
    assert metrics["best_model_metric"] == "progress" and len(metrics["metrics"]) == 4  # 2 iterations of 2 episodes
    assert {record["phase"] for record in metrics["metrics"]} == {"training"}
    assert [record["episode"] for record in metrics["metrics"]] == [1, 2, 3, 4]
    assert (out / PREFIX_DIR / "reward_function.py").read_bytes() == (out / "config" / "reward_function.py").read_bytes()


def test_rerun_resumes_and_a_killed_rollout_is_restarted(first_run):
    out, done = first_run
    assert done.returncode == 0
    first_pointer = pointer(out)
    process = subprocess.Popen(local_command(out, None, 2), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        killed = kill_rollout_after_first_episode(process, out / "logs" / "rollout-0.log")
        output, _ = process.communicate(timeout=150)
    finally:
        if process.poll() is None:
            process.kill()
    assert killed
    assert process.returncode == 0, output[-4000:]
    assert "rollout-0 exited with code" in output and "restarting it (1/2)" in output
    assert "Continuing the model" in output and "--s3_prefix" not in output
    # 2 before, then one per iteration: the restored weights are not republished as a new checkpoint (issue 14).
    assert pointer_number(out) == 4
    assert step_of(pointer(out)) > step_of(first_pointer)  # the step count goes on
    assert len((out / "progress.jsonl").read_text().splitlines()) == 4
    trainer_log = (out / "logs" / "trainer.log").read_text()
    assert f"Continuing the model in {out.resolve() / PREFIX_DIR / 'model'}" in trainer_log
    assert f"from its checkpoint {first_pointer}" in trainer_log


def test_new_model_trains_fresh_weights_numbered_after_the_old_checkpoints(first_run):
    out, done = first_run
    assert done.returncode == 0
    before = pointer_number(out)
    model = out / PREFIX_DIR / "model"
    old_files = {path.name: path.read_bytes() for path in model.glob("*.ckpt.*")}
    command = local_command(out, None, 1) + ["--new-model"]

    again = subprocess.run(command, capture_output=True, text=True, timeout=150)

    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert "--new-model: training fresh weights" in again.stdout and "Continuing the model" not in again.stdout
    trainer_log = (out / "logs" / "trainer.log").read_text().split("--new-model: starting from fresh weights")
    assert len(trainer_log) == 2 and "Continuing the model" not in trainer_log[1]
    # The fresh weights' checkpoint, then one iteration: both numbered after the old ones, which are untouched.
    assert pointer_number(out) == before + 2
    assert step_of(pointer(out)) < step_of(sorted(old_files, key=parse_checkpoint_number)[-1])
    assert {name: (model / name).read_bytes() for name in old_files} == old_files


def test_a_run_on_an_image_world_draws_its_meshes_and_records_it(tmp_path):
    """``local --track NAME --tracks-dir DIR``: the workers get the folder, and the record names the world and renderer."""
    from markov.sim.mesh_camera import gl_available

    if (reason := gl_available()) is not None:
        pytest.skip(reason)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sim"))
    from world_builder import NAME, build_world

    tracks = build_world(tmp_path / "tracks")
    out = tmp_path / "run"
    hyperparameters = tmp_path / "hp.json"
    hyperparameters.write_text(json.dumps(TINY))
    command = local_command(out, hyperparameters, 1) + ["--track", NAME, "--tracks-dir", str(tracks)]

    done = subprocess.run(command, capture_output=True, text=True, timeout=150)

    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    record = json.loads((out / PREFIX_DIR / "model" / "training_track.json").read_text())
    assert (record["name"], record["source"], record["renderer"]) == (NAME, "tracks-dir", "mesh")
    assert record["world"] == str(tracks / "worlds" / f"{NAME}.world")
    assert (out / PREFIX_DIR / "tracks" / f"{NAME}.npy").is_file()
    assert pointer_number(out) == 1
    assert "flat renderer draws this track" not in (out / "logs" / "rollout-0.log").read_text()


def step_of(name: str) -> int:
    return int(name.split("_Step-")[1].split(".")[0])


def kill_rollout_after_first_episode(process: subprocess.Popen, rollout_log: Path) -> bool:
    """SIGKILL the rollout worker once this run's first episode is logged (the log is appended to)."""
    start = rollout_log.stat().st_size if rollout_log.exists() else 0
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and process.poll() is None:
        text = rollout_log.read_text()[start:] if rollout_log.exists() else ""
        if '"event": "episode"' in text:
            for child in psutil.Process(process.pid).children(recursive=True):
                if "rollout" in " ".join(child.cmdline()):
                    child.kill()
                    return True
        time.sleep(0.1)
    return False
