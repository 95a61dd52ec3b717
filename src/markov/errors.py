"""Errors a user can act on.

Every error here carries a one-line message that names the file, key or setting at fault and,
where there is one, the fix. The CLI turns them into exit code 2 and that line; a traceback is
shown only with ``--debug``. Anything else that escapes is a bug in this package.
"""


class DeepRacerError(Exception):
    """Base class: a problem with the user's input or environment, not a bug."""

    exit_code = 2


class ConfigError(DeepRacerError):
    """Bad model_metadata.json, hyperparameters, flags, env vars or reward function."""


class StorageError(DeepRacerError):
    """S3/MinIO or local store: missing bucket, refused credentials, unreachable endpoint."""


class ProtocolError(DeepRacerError):
    """Redis transport: unreachable server, unexpected payloads, protocol mismatch."""


class TrainingError(DeepRacerError):
    """Training cannot go on (for example a NaN loss)."""
