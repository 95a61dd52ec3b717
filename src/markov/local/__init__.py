"""``deepracer-trainer local``: the whole training on one machine, no Docker (see docs/local.md)."""
