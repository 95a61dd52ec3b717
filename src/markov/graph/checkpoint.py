"""Our checkpoint saver: exactly the variables the simulation image saves, restored by name.

Coach 1.0.1's saver writes every global variable (Adam slots, beta powers, global_step) and
restores only if all of them are present. The image's fork saves only the trainable variables
under ``main_level/`` outside the target networks, and rollout workers restore by name
(docs/protocol.md §3.4). So we save that set, and restore it the way the rollout does: exact names
first, then the image's fallback match. A pretrained model from the image holds no Adam slots;
optimizer state simply starts fresh.

Files per save (§6.1): ``<id>_Step-<steps>.ckpt.{index,data-00000-of-00001,meta}``, the TF
``checkpoint`` state file (relative paths) and, written by the graph manager afterwards,
``.coach_checkpoint`` naming the newest prefix.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

import tensorflow as tf

from markov.checkpoint_names import (
    COACH_CHECKPOINT_FILE,
    TF_STATE_FILE,
    highest_checkpoint,
    name_from_tf_state,
    parse_checkpoint_number,
    parse_coach_checkpoint,
)
from markov.checkpoint_records import LAST, choose_checkpoint
from markov.errors import ConfigError
from markov.graph import contract

log = logging.getLogger(__name__)

v1 = tf.compat.v1

_SCOPE_SUFFIX = re.compile(r"[0-9_]+\Z")

Shape = tuple[int, ...]


@dataclass(frozen=True)
class CheckpointRef:
    """One checkpoint in a directory: its id and its file prefix."""

    directory: Path
    name: str
    number: int

    @property
    def path(self) -> str:
        return str(self.directory / self.name)


def latest_checkpoint(directory: str | Path) -> CheckpointRef:
    """The checkpoint a directory points at, the way ``last`` is decided everywhere
    (:func:`markov.checkpoint_records.choose_checkpoint`): ``.coach_checkpoint``; else the TF
    ``checkpoint`` state file (older models, §4.4); else the highest-numbered
    ``<id>_Step-<s>.ckpt.index`` present.

    Raises:
        ConfigError: when the directory holds no checkpoint at all, or a pointer that names none.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise ConfigError(f"{directory}: checkpoint directory not found")

    def pointer() -> str | None:
        coach_file = directory / COACH_CHECKPOINT_FILE
        if not coach_file.is_file():
            return None
        parsed = parse_coach_checkpoint(coach_file.read_text(encoding="utf-8", errors="replace")[:256])
        if parsed is None:
            raise ConfigError(f"{coach_file}: does not name a checkpoint like '0_Step-0.ckpt'")
        return parsed[1]

    def tf_state() -> str | None:
        state_file = directory / TF_STATE_FILE
        return name_from_tf_state(state_file.read_text(encoding="utf-8", errors="replace")) if state_file.is_file() \
            else None

    name, _ = choose_checkpoint(LAST, pointer=pointer, tf_state=tf_state,
                                highest=lambda: highest_checkpoint((p.name for p in directory.iterdir()), "index"))
    if name is None:
        raise ConfigError(f"{directory}: no checkpoint found (no {COACH_CHECKPOINT_FILE}, no TF 'checkpoint' file, "
                          "no <n>_Step-<s>.ckpt.index)")
    return CheckpointRef(directory, name, parse_checkpoint_number(name) or 0)


def read_checkpoint_variables(path: str) -> dict[str, Shape]:
    """``{name: shape}`` of every tensor stored in the checkpoint with prefix ``path``."""
    try:
        reader = tf.train.load_checkpoint(path)
    except (tf.errors.NotFoundError, tf.errors.DataLossError, ValueError) as exc:
        raise ConfigError(f"{path}: cannot read TF checkpoint ({str(exc).splitlines()[0]})") from None
    return {name: tuple(shape) for name, shape in reader.get_variable_to_shape_map().items()}


def _fallback_key(name: str) -> tuple[str, str]:
    """The image's loose identity of a variable: parent scope without trailing digits, and leaf."""
    *scopes, leaf = name.split("/")
    return "/".join(_SCOPE_SUFFIX.sub("", scope) for scope in scopes), leaf


def match_checkpoint_tensors(wanted: dict[str, Shape], stored: dict[str, Shape]) -> dict[str, str]:
    """Map each wanted variable to the stored tensor the rollout worker would load into it.

    As the image restores (§3.4): ``global/`` is read as ``online/``; exact name and shape
    first; then the first unused stored tensor with the same loose parent scope, leaf name and
    shape. Variables left out of the result keep their initial values.
    """
    renamed = {name.replace("global/", "online/"): name for name in sorted(stored)}
    used: set[str] = set()
    matches: dict[str, str] = {}
    for name, shape in wanted.items():
        original = renamed.get(name)
        if original is not None and tuple(stored[original]) == tuple(shape):
            matches[name] = original
            used.add(original)
    for name, shape in wanted.items():
        if name in matches:
            continue
        key = _fallback_key(name)
        for candidate, original in renamed.items():
            if original in used or tuple(stored[original]) != tuple(shape):
                continue
            if _fallback_key(candidate) == key:
                matches[name] = original
                used.add(original)
                break
    return matches


def is_checkpointed(variable: tf.Variable) -> bool:
    """The image's rule (§3.4): trainable, under ``main_level/``, not in a target network."""
    name = variable.op.name
    return f"{contract.LEVEL}/" in name and "/target" not in name


# The image keeps 4 checkpoints on local disk (docs/protocol.md §4.3); each is ~47 MB for the shallow net.
LOCAL_CHECKPOINTS_TO_KEEP = 4


class CheckpointSaver:
    """Saves and restores the checkpointed variables of one graph.

    ``every_global``: save what upstream Coach saves (all global non-target variables) instead of
    the image's trainable set; for ``--redis_protocol 2020``, whose rollouts restore with Coach's
    own saver and fail on any variable the checkpoint lacks.

    Create it inside the graph (``with graph.as_default()``), after all variables exist. It
    offers Coach's saver interface (``save``/``restore`` with a session), so Coach's
    ``GraphManager.save_checkpoint`` uses it unchanged.
    """

    def __init__(self, graph: tf.Graph | None = None, every_global: bool = False):
        graph = graph or v1.get_default_graph()
        with graph.as_default():
            trainable = graph.get_collection(v1.GraphKeys.TRAINABLE_VARIABLES)
            self.required: frozenset[str] = frozenset(v.op.name for v in trainable if is_checkpointed(v))
            if every_global:
                # What rl-coach 1.0.1's own GlobalVariableSaver saves and, on restore, asks for: every
                # global variable outside the target networks, optimizer slots and global_step included.
                # 2020-generation rollouts run that saver unpatched (docs/protocol.md §3.4).
                chosen = [v for v in graph.get_collection(v1.GraphKeys.GLOBAL_VARIABLES) if "/target" not in v.op.name]
            else:
                chosen = [v for v in trainable if is_checkpointed(v)]
            self.variables: dict[str, tf.Variable] = {v.op.name: v for v in chosen}
            self._saver = v1.train.Saver(var_list=self.variables, max_to_keep=LOCAL_CHECKPOINTS_TO_KEEP,
                                         save_relative_paths=True)
            self._placeholders = {}
            self._assign_ops = {}
            with tf.name_scope("deepracer_restore"):
                for name, variable in self.variables.items():
                    placeholder = v1.placeholder(variable.dtype.base_dtype, shape=variable.get_shape())
                    self._placeholders[name] = placeholder
                    self._assign_ops[name] = v1.assign(variable, placeholder)

    @property
    def path(self) -> str:
        """Coach's ``Saver.path``: one file set per checkpoint, no suffix."""
        return ""

    def variable_shapes(self) -> dict[str, Shape]:
        """``{name: shape}`` of what every checkpoint from this saver holds."""
        return {name: tuple(v.get_shape().as_list()) for name, v in self.variables.items()}

    def save(self, sess: v1.Session, save_path: str) -> list[str]:
        """Write ``save_path.{index,data-*,meta}`` and the TF ``checkpoint`` state file."""
        return [self._saver.save(sess, save_path)]

    def restore(self, sess: v1.Session, restore_path: str, strict: bool = True) -> dict[str, str]:
        """Load ``restore_path`` into the graph; extra tensors (Adam slots, global_step) are ignored.

        Args:
            sess: the graph's session.
            restore_path: checkpoint prefix (``dir/3_Step-120.ckpt``).
            strict: raise when a variable finds no tensor, instead of keeping its value.

        Returns:
            ``{variable: checkpoint tensor}`` for every variable restored.

        Raises:
            ConfigError: naming the checkpoint and the first variables that do not fit, when
                the checkpoint belongs to another sensor/network/action-space combination.
        """
        stored = read_checkpoint_variables(restore_path)
        wanted = self.variable_shapes()
        matches = match_checkpoint_tensors(wanted, stored)
        # Optimizer state (saved in 2020 mode only) starts fresh when a checkpoint lacks it.
        missing = [name for name in wanted if name not in matches and name in self.required]
        if missing and strict:
            examples = ", ".join(f"{name} {list(wanted[name])}" for name in missing[:3])
            raise ConfigError(
                f"{restore_path}: checkpoint does not fit this model_metadata.json: {len(missing)} of {len(wanted)} "
                f"variables have no tensor of that name and shape (e.g. {examples}); use the model_metadata.json "
                "the checkpoint was trained with")
        for name in missing:
            log.warning("checkpoint %s has no tensor for %s; it keeps its initial value", restore_path, name)
        reader = tf.train.load_checkpoint(restore_path)
        feed = {self._placeholders[name]: reader.get_tensor(tensor) for name, tensor in matches.items()}
        sess.run([self._assign_ops[name] for name in matches], feed_dict=feed)
        renamed = sum(1 for name, tensor in matches.items() if name != tensor)
        log.info("Restored %d variables from %s (%d from tensors under another name)", len(matches), restore_path,
                 renamed)
        return matches
