"""``python -m training_worker``: the DeepRacer training worker (the "SageMaker" side).

Accepts the invocation of the Windows guide and of the simulation image's launcher unchanged;
``--help`` lists every flag and environment variable. The work itself is in
``markov.training.loop``.
"""
from __future__ import annotations

import logging
import sys
from typing import Sequence

log = logging.getLogger("training_worker")


def main(argv: Sequence[str] | None = None) -> int:
    from markov.cli.main import configure_logging, run_guarded
    from markov.config import parse_trainer_config
    from markov.graph.cpu_kernels import prefer_onednn

    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    configure_logging(debug)
    kernels = prefer_onednn()  # before TensorFlow loads

    def run(_args) -> int:
        config = parse_trainer_config(argv)
        log.info("Training Worker Args: %s", config)
        log.info("%s", kernels)
        if config.ignored_args:
            log.warning("Ignoring unknown arguments: %s", ", ".join(f"--{name}" for name in config.ignored_args))
        from markov.training.loop import run_training

        return run_training(config)

    return run_guarded(run, None, debug=debug)


if __name__ == "__main__":
    sys.exit(main())
