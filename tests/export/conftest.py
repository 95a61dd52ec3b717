import sys
from pathlib import Path

# policy_graphs.py is a helper module of these tests, not a test file.
sys.path.insert(0, str(Path(__file__).resolve().parent))
