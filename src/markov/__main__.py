"""``python -m markov`` is the ``deepracer-trainer`` CLI."""
import sys

from markov.cli.main import main

sys.exit(main())
