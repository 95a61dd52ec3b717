"""Default custom files shipped with the package (model, hyperparameters, reward)."""
from pathlib import Path

DEFAULTS_DIR = Path(__file__).resolve().parent
MODEL_METADATA = DEFAULTS_DIR / "model_metadata.json"
HYPERPARAMETERS = DEFAULTS_DIR / "hyperparameters.json"
REWARD_FUNCTION = DEFAULTS_DIR / "reward_function.py"
