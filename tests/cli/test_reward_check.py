"""reward-check: drives the scripted car, reports per section, saves a heat map, stops on bad rewards."""
from markov.cli.main import main


def test_report_and_heat_map(tmp_path, capsys):
    reward = tmp_path / "reward.py"
    reward.write_text("def reward_function(params):\n    return 1.0 if params['is_left_of_center'] else 0.25\n")
    code = main(["reward-check", "--reward-function", str(reward), "--track", "twisty",
                 "--episodes", "2", "--sections", "4", "--out", str(tmp_path / "out")])
    out = capsys.readouterr().out
    assert code == 0
    assert "2 episodes" in out and "twisty" in out
    rows = [line for line in out.splitlines() if line.strip()[:1].isdigit() and "-" in line]
    assert len(rows) == 4
    png = tmp_path / "out" / "reward_heatmap_twisty.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and f"Heat map: {png}" in out
    means = [float(r.split()[3]) for r in rows]
    assert all(0.25 <= m <= 1.0 for m in means) and len(set(means)) > 1


def test_failing_reward_function_exits_2_naming_file_line_and_params(tmp_path, capsys):
    reward = tmp_path / "reward.py"
    reward.write_text("def reward_function(params):\n    if params['steps'] > 5:\n        return params['nope']\n    return 1.0\n")
    code = main(["reward-check", "--reward-function", str(reward), "--episodes", "1", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2
    assert f"error: {reward}:3: reward_function raised KeyError: 'nope'" in err
    assert "steps: 6" in err and "[117 waypoints]" in err
    assert not list(tmp_path.glob("*.png"))
