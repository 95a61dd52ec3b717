"""Car and DRoA archives: layout, round trip through the frozen graph, and one-line refusals."""
import io
import json
import tarfile
import zipfile

import numpy as np
import pytest
import yaml

from markov.cli.main import main
from markov.errors import ConfigError
from markov.export import archives
from markov.export.frozen_graph import load_frozen_graph
from markov.export.model_export import export_car, export_droa, open_model_folder
from policy_graphs import build_policy, observation_for

METADATA = {
    "action_space": [{"steering_angle": a, "speed": 1.0} for a in (-30, -15, 0, 15, 30)],
    "sensor": ["FRONT_FACING_CAMERA", "LIDAR"],
    "neural_network": "DEEP_CONVOLUTIONAL_NETWORK_SHALLOW",
    "training_algorithm": "clipped_ppo",
    "action_space_type": "discrete",
    "version": "5",
}
SAC_METADATA = {
    "action_space": {"steering_angle": {"low": -30, "high": 30}, "speed": {"low": 0.5, "high": 3}},
    "action_space_type": "continuous", "training_algorithm": "sac", "sensor": ["FRONT_FACING_CAMERA"], "version": "4",
}


def make_run(root, metadata, numbers=(2, 3), best=2, last=3, seed=11):
    """A run folder as the trainer and rollout leave it: model/, ip/, reward_function.py."""
    model = root / "model"
    model.mkdir(parents=True)
    policies = {}
    for n in numbers:
        policy = build_policy(metadata, seed=seed + n)
        policy.save(model, f"{n}_Step-{n * 50}.ckpt")
        policies[n] = policy
    for stray in model.glob("checkpoint"):
        stray.unlink()
    (model / ".coach_checkpoint").write_text(f"{numbers[-1]}_Step-{numbers[-1] * 50}.ckpt")
    entry = lambda n: {"name": f"{n}_Step-{n * 50}.ckpt", "avg_eval_metric": 40.0, "time_stamp": 1.0}
    (model / "deepracer_checkpoints.json").write_text(json.dumps({"best_checkpoint": entry(best), "last_checkpoint": entry(last)}))
    (model / "model_metadata.json").write_text(json.dumps(metadata))
    (root / "ip").mkdir()
    (root / "ip" / "hyperparameters.json").write_text(json.dumps({"batch_size": 64, "num_episodes_between_training": 20, "lr": 0.0003}))
    (root / "reward_function.py").write_text("def reward_function(params):\n    return 1.0\n")
    (root / "metrics").mkdir()
    (root / "metrics" / "TrainingMetrics.json").write_text('{"metrics": []}')
    return policies


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("run")
    return root, make_run(root, METADATA)


def assert_same_policy(pb: bytes, policy):
    observation = observation_for(policy.metadata, seed=4)
    with load_frozen_graph(pb) as model:
        assert np.max(np.abs(model.predict(observation) - policy.run(observation)[0])) <= 1e-5


def test_car_archive_holds_agent_model_pb_and_metadata_of_the_best_checkpoint(run, tmp_path):
    root, policies = run
    result = export_car(open_model_folder(str(root)), tmp_path / "car.tar.gz", "best")
    assert result.checkpoint.number == 2
    with tarfile.open(tmp_path / "car.tar.gz", "r:gz") as tar:
        assert sorted(tar.getnames()) == ["agent/model.pb", "model_metadata.json"]
        pb = tar.extractfile("agent/model.pb").read()
        assert json.loads(tar.extractfile("model_metadata.json").read()) == METADATA
    assert_same_policy(pb, policies[2])
    car = archives.read_car_model(tmp_path / "car.tar.gz")
    assert car.metadata.sensors == ("FRONT_FACING_CAMERA", "LIDAR") and car.frozen_model == pb
    assert gzip_header_name(tmp_path / "car.tar.gz") == b"car.tar"  # not the temporary car.tar.gz.partial


def gzip_header_name(path) -> bytes:
    """The FNAME field of a gzip member header (RFC 1952 §2.3.1), as `gzip -l -N` shows it."""
    data = path.read_bytes()
    assert data[:3] == b"\x1f\x8b\x08" and data[3] & 0x08, "gzip header without a file name"
    return data[10:data.index(b"\x00", 10)]


@pytest.mark.parametrize("out_name", ["virtual.zip", "virtual.tar.gz"])
def test_droa_archive_has_the_import_layout(run, tmp_path, out_name):
    root, policies = run
    out = tmp_path / out_name
    result = export_droa(open_model_folder(str(root / "model")), out, "last", track="reInvent2019_track_ccw")
    assert result.checkpoint.number == 3
    files = archives.check_droa_archive(out)
    if out_name.endswith(".zip"):
        assert zipfile.is_zipfile(out)
    else:
        assert tarfile.is_tarfile(out) and not zipfile.is_zipfile(out)
        assert gzip_header_name(out) == b"virtual.tar"
    name = "3_Step-150.ckpt"
    assert files["model/.coach_checkpoint"] == name.encode()
    for required in ("model_metadata.json", "reward_function.py", "training_params.yaml", "hyperparameters.json",
                     "ip/hyperparameters.json", f"model/{name}.index", f"model/{name}.meta",
                     f"model/{name}.data-00000-of-00001", "model/model_3.pb", "metrics/training/training-metrics.json"):
        assert required in files, required
    assert not [f for f in files if f.startswith("model/2_Step")]
    pointers = json.loads(files["model/deepracer_checkpoints.json"])
    assert pointers["best_checkpoint"]["name"] == pointers["last_checkpoint"]["name"] == name
    params = yaml.safe_load(files["training_params.yaml"])
    assert params["WORLD_NAME"] == "reInvent2019_track" and params["TRACK_DIRECTION_CLOCKWISE"] is False
    assert params["RACE_TYPE"] == "TIME_TRIAL"
    assert_same_policy(files["model/model_3.pb"], policies[3])
    assert sum(len(v) for v in files.values()) < archives.DROA_SIZE_LIMIT


def test_droa_for_sac_sets_one_episode_per_iteration(tmp_path):
    policies = make_run(tmp_path / "run", SAC_METADATA, numbers=(0,), best=0, last=0)
    export_droa(open_model_folder(str(tmp_path / "run")), tmp_path / "sac.zip", "best")
    files = archives.check_droa_archive(tmp_path / "sac.zip")
    assert json.loads(files["hyperparameters.json"])["num_episodes_between_training"] == 1
    with load_frozen_graph(files["model/model_0.pb"]) as model:
        assert model.outputs == ["main_level/agent/policy/online/network_0/sac_policy_head_0/policy"]
        observation = observation_for(policies[0].metadata, seed=2)
        assert np.max(np.abs(model.predict(observation) - policies[0].run(observation)[0])) <= 1e-5


def test_droa_without_reward_function_says_which_flag_to_pass(run, tmp_path):
    root, _ = run
    bare = tmp_path / "bare"
    bare.mkdir()
    for f in (root / "model").iterdir():
        (bare / f.name).write_bytes(f.read_bytes())
    with pytest.raises(ConfigError, match="no reward_function.py or <bucket>/custom_files/reward_function.py in the run; "
                                          "pass --reward-function FILE"):
        export_droa(open_model_folder(str(bare)), tmp_path / "x.zip")


def test_droa_finds_the_reward_function_where_init_puts_it(run, tmp_path):
    """init uploads custom_files/reward_function.py at the bucket root (DRfC's key); export looks there too."""
    root, _ = run
    bucket = tmp_path / "bucket"
    prefix = bucket / "rl-deepracer-sagemaker"
    (prefix / "model").mkdir(parents=True)
    for f in (root / "model").iterdir():
        (prefix / "model" / f.name).write_bytes(f.read_bytes())
    (bucket / "custom_files").mkdir()
    (bucket / "custom_files" / "reward_function.py").write_text("def reward_function(params):\n    return 2.0\n")
    (bucket / "custom_files" / "hyperparameters.json").write_text(json.dumps({"batch_size": 128}))
    export_droa(open_model_folder(str(prefix)), tmp_path / "x.zip")
    files = archives.read_archive(tmp_path / "x.zip")
    assert files["reward_function.py"].endswith(b"return 2.0\n")
    assert json.loads(files["ip/hyperparameters.json"])["batch_size"] == 128


def _tar(path, files):
    with tarfile.open(path, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_car_archive_with_missing_parts_is_refused(run, tmp_path):
    with pytest.raises(ConfigError, match=r"missing agent/model.pb"):
        archives.read_car_model(_tar(tmp_path / "a.tar.gz", {"model_metadata.json": json.dumps(METADATA).encode()}))
    with pytest.raises(ConfigError, match=r"missing model_metadata.json"):
        archives.read_car_model(_tar(tmp_path / "b.tar.gz", {"agent/model.pb": b"x"}))
    (tmp_path / "c.tar.gz").write_bytes(b"not an archive")
    with pytest.raises(ConfigError, match="not a readable .tar.gz or .zip"):
        archives.read_car_model(tmp_path / "c.tar.gz")


def test_a_single_top_folder_is_looked_through(tmp_path):
    _tar(tmp_path / "t.tar.gz", {"mymodel/agent/model.pb": b"pb", "mymodel/model_metadata.json": json.dumps(METADATA).encode()})
    assert archives.read_car_model(tmp_path / "t.tar.gz").frozen_model == b"pb"


def test_action_count_and_sensor_mismatch_are_one_line(run, tmp_path):
    root, _ = run
    export_car(open_model_folder(str(root)), tmp_path / "car.tar.gz", "last")
    car = archives.read_car_model(tmp_path / "car.tar.gz")
    from markov.model_metadata import parse_model_metadata

    with load_frozen_graph(car.frozen_model) as model:
        archives.check_frozen_model_matches(model, car.metadata, "car.tar.gz")
        three = parse_model_metadata({**METADATA, "action_space": METADATA["action_space"][:3]})
        with pytest.raises(ConfigError, match="car.tar.gz: the frozen graph outputs 5 values but model_metadata.json defines 3 actions"):
            archives.check_frozen_model_matches(model, three, "car.tar.gz")
        camera_only = parse_model_metadata({**METADATA, "sensor": ["FRONT_FACING_CAMERA"]})
        with pytest.raises(ConfigError, match="reads FRONT_FACING_CAMERA, LIDAR but model_metadata.json lists sensor FRONT_FACING_CAMERA"):
            archives.check_frozen_model_matches(model, camera_only, "car.tar.gz")


def test_droa_archive_check_names_the_missing_part(tmp_path):
    _tar(tmp_path / "d.tar.gz", {"model_metadata.json": b"{}", "reward_function.py": b""})
    with pytest.raises(ConfigError, match="missing training_params.yaml"):
        archives.check_droa_archive(tmp_path / "d.tar.gz")


def test_cli_export_writes_the_archive_and_reports_bad_input(run, tmp_path, capsys):
    root, _ = run
    out = tmp_path / "cli.tar.gz"
    assert main(["export", "--checkpoint", str(root), "--step", "2", "--out", str(out)]) == 0
    assert "from checkpoint 2_Step-100.ckpt" in capsys.readouterr().out
    assert archives.read_car_model(out).metadata.num_actions == 5
    assert main(["export", "--checkpoint", str(root), "--step", "9", "--out", str(out)]) == 2
    assert capsys.readouterr().err.strip().endswith("no checkpoint 9; available: 2, 3")
    assert main(["export", "--checkpoint", str(root), "--out", str(tmp_path / "car.zip")]) == 2
    assert "the car loads a .tar.gz" in capsys.readouterr().err


@pytest.mark.parametrize("metadata", [METADATA, SAC_METADATA], ids=["ppo", "sac"])
def test_droa_archive_passes_the_rules_of_droas_import_and_clone_validators(tmp_path, metadata):
    """Against DRoA's own rules (droa_import_rules.py, restated from its import code and schema)."""
    from droa_import_rules import droa_import_errors
    from markov.hyperparameters import HyperParameters

    root = tmp_path / "run"
    make_run(root, metadata, numbers=(0,), best=0, last=0)
    algorithm = metadata["training_algorithm"]
    # What the trainer publishes: the image's echo, loss_type "mean squared error" (docs/protocol.md §1.4).
    echo = HyperParameters().echo_dict(algorithm)
    assert echo["loss_type"] == "mean squared error"
    (root / "ip" / "hyperparameters.json").write_text(json.dumps(echo))
    export_droa(open_model_folder(str(root)), tmp_path / "m.zip", "last")
    files = archives.check_droa_archive(tmp_path / "m.zip")
    assert droa_import_errors(files) == []
    hyper = json.loads(files["ip/hyperparameters.json"])
    assert hyper["loss_type"] == "mean_squared_error" and json.loads(files["hyperparameters.json"]) == hyper

    # The checker is not a rubber stamp: the image's own spelling fails DRoA's LossType enum.
    broken = dict(files, **{"ip/hyperparameters.json": json.dumps(echo).encode()})
    assert any("loss_type 'mean squared error'" in e for e in droa_import_errors(broken))


def test_droa_export_refuses_hyperparameters_outside_droas_schema(run, tmp_path):
    root, _ = run
    bad = tmp_path / "hp.json"
    bad.write_text(json.dumps({"batch_size": 64, "lr": 0.01, "num_episodes_between_training": 20}))
    with pytest.raises(ConfigError, match=r"lr 0\.01: DRoA accepts 1e-08\.\.0\.001"):
        export_droa(open_model_folder(str(root)), tmp_path / "m.zip", "last", hyperparameters=bad)
    bad.write_text(json.dumps({"loss_type": "l1"}))
    with pytest.raises(ConfigError, match="loss_type 'l1': DRoA accepts 'mean_squared_error' or 'huber'"):
        export_droa(open_model_folder(str(root)), tmp_path / "m.zip", "last", hyperparameters=bad)


@pytest.mark.parametrize(("source", "name", "world"), [("tracks-dir", "2022_reinvent_champ_ccw", "2022_reinvent_champ"),
                                                        ("built-in", "oval", "reInvent2019_wide")])
def test_droa_world_name_comes_from_the_runs_track_record(tmp_path, source, name, world):
    root = tmp_path / "run"
    make_run(root, METADATA, numbers=(0,), best=0, last=0)
    record = {"name": name, "source": source, "route": None, "world": None, "route_key": f"run/tracks/{name}.npy",
              "length": 30.0, "width": 1.07, "reversed": False}
    (root / "model" / "training_track.json").write_text(json.dumps(record))
    export_droa(open_model_folder(str(root)), tmp_path / "m.zip", "last")
    params = yaml.safe_load(archives.read_archive(tmp_path / "m.zip")["training_params.yaml"])
    assert params["WORLD_NAME"] == world
    assert params["TRACK_DIRECTION_CLOCKWISE"] is False
