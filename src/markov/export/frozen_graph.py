"""Frozen policy graphs: the ``model_<n>.pb`` the car, the console and the analysis tools load.

The image freezes with ``convert_variables_to_constants(sess, graph_def, [output])`` (docs/protocol.md
§6.2): one float32 placeholder per sensor named ``.../network_0/<KEY>/<KEY>`` goes in, the policy
head's ``policy`` op comes out, and only the policy branch (with the /255 input scaling) is kept.
We produce the same nodes under the same names, then also fold constants and strip training-only
nodes, so that OpenVINO on the car and plain ``tf.compat.v1`` see a small inference graph.

Three ways in:

- :func:`freeze_session` from a live session (the trainer, after each checkpoint);
- :func:`freeze_checkpoint` from checkpoint files on disk (``deepracer-trainer export``);
- :func:`load_frozen_graph` reads the result back for inference.

Loading needs TensorFlow only: this module never imports rl_coach or ``markov.compat``, so a
frozen model runs wherever TF does (the evaluator, a notebook, a test with no Coach).
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from markov.errors import ConfigError
from markov.graph import contract
from markov.model_metadata import CLIPPED_PPO, SAC, ModelMetadata

log = logging.getLogger(__name__)

# Placeholders the car feeds: ``main_level/agent/<main|policy>/online/network_0/<KEY>/<KEY>`` (§3.3).
_PLACEHOLDER_NAME = re.compile(r"^main_level/agent/(?:main|policy)/online/network_0/(?P<key>[^/]+)/(?P=key)$")


def output_node_names(training_algorithm: str, graph_def: Any | None = None) -> list[str]:
    """Outputs a frozen graph keeps: the policy op only, as the image freezes it (docs/protocol.md §6.2).

    One output for SAC too. OpenVINO's converters order the outputs of a graph by name, and the
    car then reads the one that sorts first; a second SAC output (``policy_log_std``) sorts
    before ``policy`` and the car would steer by the log-std. ``graph_def`` is accepted for
    callers that pass it and is not needed.
    """
    return [contract.policy_output_name(training_algorithm)]


def input_node_names(metadata: ModelMetadata) -> list[str]:
    """One placeholder per sensor, in the order model_metadata lists the sensors."""
    return [contract.input_placeholder_name(metadata.training_algorithm, sensor) for sensor in metadata.sensors]


def freeze_session(session: Any, metadata: ModelMetadata, graph: Any | None = None) -> bytes:
    """Freeze the policy branch of a live Coach session into ``model_<n>.pb`` bytes.

    This is what the trainer calls after each checkpoint (docs/protocol.md §4.3 step 4): the variables'
    current values become constants; nothing is read from disk.

    Args:
        session: the ``tf.compat.v1.Session`` holding the agent's variables (Coach's
            ``graph_manager.sess`` for the single agent).
        metadata: the model's metadata; picks the output node and the sensor placeholders.
        graph: the graph to freeze; ``session.graph`` when omitted.

    Returns:
        A serialized binary ``GraphDef``.

    Raises:
        ConfigError: if the graph lacks the output node or a sensor placeholder (the graph was
            not built for this model_metadata).
    """
    import tensorflow as tf

    graph = graph if graph is not None else session.graph
    graph_def = graph.as_graph_def()
    outputs = output_node_names(metadata.training_algorithm, graph_def)
    inputs = input_node_names(metadata)
    _check_nodes(graph_def, inputs + outputs, metadata.source)
    frozen = tf.compat.v1.graph_util.convert_variables_to_constants(session, graph_def, outputs)
    return _finish(frozen, inputs, outputs, metadata.source).SerializeToString()


def freeze_checkpoint(checkpoint_path: str | Path, metadata: ModelMetadata) -> bytes:
    """Freeze a checkpoint on disk (``.../<n>_Step-<s>.ckpt``, the path without suffix).

    The checkpoint's ``.meta`` file holds the graph the trainer built, so the graph is imported
    from it and the saved weights restored into it: no Coach graph has to be rebuilt, and a
    checkpoint written by the simulation image freezes the same way as one of ours. Only the
    trainable, non-target variables are saved (§3.4), which is all the policy branch needs.

    Raises:
        ConfigError: for missing checkpoint files, or a checkpoint whose graph does not match
            ``metadata`` (wrong algorithm or sensors).
    """
    import tensorflow as tf

    prefix = str(checkpoint_path)
    meta = Path(prefix + ".meta")
    if not meta.is_file():
        raise ConfigError(f"{meta} is missing; a checkpoint needs its .meta, .index and .data-00000-of-00001 files")
    if not Path(prefix + ".index").is_file():
        raise ConfigError(f"{prefix}.index is missing; copy the whole checkpoint ({Path(prefix).name}.*)")
    graph = tf.Graph()
    with graph.as_default():
        try:
            saver = tf.compat.v1.train.import_meta_graph(str(meta), clear_devices=True)
        except Exception as exc:  # a corrupt or foreign .meta: TF raises many types here
            raise ConfigError(f"{meta}: cannot import the checkpoint graph ({exc.__class__.__name__}: {_first_line(exc)})") from None
        graph_def = graph.as_graph_def()
        outputs = output_node_names(metadata.training_algorithm, graph_def)
        inputs = input_node_names(metadata)
        _check_nodes(graph_def, inputs + outputs, f"{meta} (for {metadata.source})")
        with tf.compat.v1.Session(graph=graph, config=_session_config()) as session:
            _restore(session, graph, saver, prefix)
            frozen = tf.compat.v1.graph_util.convert_variables_to_constants(session, graph_def, outputs)
    return _finish(frozen, inputs, outputs, metadata.source).SerializeToString()


def _restore(session, graph, saver, prefix: str) -> None:
    """Restore what the checkpoint holds; the rest (optimizer slots, targets) is not needed."""
    import tensorflow as tf

    try:
        saved = dict(tf.train.list_variables(prefix))
    except Exception as exc:
        raise ConfigError(f"{prefix}: cannot read the checkpoint ({_first_line(exc)})") from None
    variables = [v for v in graph.get_collection(tf.compat.v1.GraphKeys.GLOBAL_VARIABLES) if v.op.name in saved]
    if saver is None or len(variables) != len(graph.get_collection(tf.compat.v1.GraphKeys.GLOBAL_VARIABLES)):
        saver = tf.compat.v1.train.Saver(var_list=variables)
    session.run(tf.compat.v1.variables_initializer(graph.get_collection(tf.compat.v1.GraphKeys.GLOBAL_VARIABLES)))
    try:
        saver.restore(session, prefix)
    except Exception as exc:
        raise ConfigError(f"{prefix}: cannot restore the checkpoint ({_first_line(exc)})") from None


def _check_nodes(graph_def, names: Sequence[str], source: str) -> None:
    present = {node.name for node in graph_def.node}
    missing = [name for name in names if name not in present]
    if missing:
        raise ConfigError(
            f"{source}: the graph has no node {missing[0]!r}; the checkpoint was not built for this "
            "model_metadata.json (check training_algorithm and sensor)"
        )


def _finish(graph_def, inputs: Sequence[str], outputs: Sequence[str], source: str):
    """Keep the policy branch only, drop training nodes, fold constants, and make it portable."""
    import tensorflow as tf

    keep = list(inputs) + list(outputs)
    graph_def = tf.compat.v1.graph_util.extract_sub_graph(graph_def, list(outputs))
    graph_def = tf.compat.v1.graph_util.remove_training_nodes(graph_def, protected_nodes=keep)
    graph_def = _fold_constants(graph_def, outputs)
    present = {node.name for node in graph_def.node}
    for name in inputs:
        if name not in present:
            # A sensor the policy never reads (cannot happen for Coach graphs, which embed every
            # input); the car still feeds it, so keep its placeholder.
            raise ConfigError(f"{source}: the policy output does not depend on input {name!r}")
    return _portable(graph_def)


def _portable(graph_def):
    """Strip attributes that hold their op's default value and stamp a real producer version.

    Older loaders (TF 1.x-era converters, the car's Model Optimizer) refuse or warn about
    attributes their op registry does not know, such as MatMul's ``grad_a``/``grad_b`` added
    in TF 2.x; both are default-valued, so dropping defaults leaves a graph any TF reads the
    same way. Grappler's output carries ``versions.producer = 0``, which says "unknown
    producer"; a portable export records the TF that wrote it (as ``tf.io.write_graph`` does).
    """
    import tensorflow as tf
    from tensorflow.core.protobuf import meta_graph_pb2
    from tensorflow.python.framework import meta_graph

    wrapper = meta_graph_pb2.MetaGraphDef()
    wrapper.graph_def.CopyFrom(graph_def)
    meta_graph.strip_graph_default_valued_attrs(wrapper)
    graph_def = wrapper.graph_def
    graph_def.versions.producer = tf.version.GRAPH_DEF_VERSION
    graph_def.versions.min_consumer = tf.version.GRAPH_DEF_VERSION_MIN_CONSUMER
    return graph_def


def _fold_constants(graph_def, outputs: Sequence[str]):
    """Grappler's constant folding with the outputs as fetches; on any failure keep the graph as is."""
    import tensorflow as tf

    try:
        from tensorflow.core.protobuf import config_pb2, rewriter_config_pb2
        from tensorflow.python.grappler import tf_optimizer

        graph = tf.Graph()
        with graph.as_default():
            tf.compat.v1.import_graph_def(graph_def, name="")
            meta = tf.compat.v1.train.export_meta_graph(graph_def=graph.as_graph_def(), graph=graph)
        fetch = meta.collection_def["train_op"].node_list.value
        for name in outputs:
            fetch.append(name)
        config = config_pb2.ConfigProto()
        rewriter = config.graph_options.rewrite_options
        rewriter.optimizers[:] = ["constfold"]
        rewriter.meta_optimizer_iterations = rewriter_config_pb2.RewriterConfig.ONE
        rewriter.min_graph_nodes = -1
        folded = tf_optimizer.OptimizeGraph(config, meta)
    except Exception as exc:  # grappler is an internal API; an unfolded graph is still correct
        log.debug("constant folding skipped: %s", exc)
        return graph_def
    present = {node.name for node in folded.node}
    if any(name not in present for name in outputs):
        return graph_def
    return folded


def _session_config():
    import tensorflow as tf

    return tf.compat.v1.ConfigProto(intra_op_parallelism_threads=1, inter_op_parallelism_threads=1, allow_soft_placement=True)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else exc.__class__.__name__


@dataclass
class FrozenModel:
    """A loaded frozen graph, ready for inference with plain ``tf.compat.v1``.

    Attributes:
        inputs: sensor key -> placeholder op name, in graph order.
        input_shapes: sensor key -> shape without the batch axis (from the placeholder).
        outputs: output op names; ``outputs[0]`` is the policy (§6.2) and ours have no other.
        algorithm: ``clipped_ppo`` or ``sac``, read from the output node's scope.
    """

    graph_def: Any
    inputs: dict[str, str]
    input_shapes: dict[str, tuple[int, ...]]
    outputs: list[str]
    algorithm: str
    _session: Any = field(default=None, repr=False)
    _graph: Any = field(default=None, repr=False)

    @property
    def sensors(self) -> tuple[str, ...]:
        return tuple(self.inputs)

    @property
    def output_width(self) -> int | None:
        """Width of the policy output (actions for discrete PPO, 2 for continuous), if static."""
        self._ensure_session()
        dim = self._graph.get_tensor_by_name(self.outputs[0] + ":0").shape
        return int(dim[-1]) if dim.rank and dim[-1] is not None else None

    def predict(self, observations: Mapping[str, Any]) -> np.ndarray:
        """The policy output for a batch (or one) observation per sensor, raw 0..255 images.

        Single observations (no batch axis) give a 1-D result; batches give ``[batch, width]``.
        """
        return self.predict_all(observations)[0]

    def predict_all(self, observations: Mapping[str, Any]) -> list[np.ndarray]:
        """Every output of the graph, in ``outputs`` order (ours have one: the policy)."""
        self._ensure_session()
        feed = {}
        single = False
        for sensor, name in self.inputs.items():
            if sensor not in observations:
                raise ConfigError(f"observation has no {sensor!r} entry; the model reads {', '.join(self.inputs)}")
            value = np.asarray(observations[sensor], dtype=np.float32)
            expected = self.input_shapes[sensor]
            if value.ndim == len(expected):
                value, single = value[None, ...], True
            if tuple(value.shape[1:]) != expected:
                raise ConfigError(f"observation {sensor!r} has shape {value.shape[1:]}; the model expects {expected}")
            feed[name + ":0"] = value
        results = self._session.run([name + ":0" for name in self.outputs], feed_dict=feed)
        return [r[0] if single else r for r in results]

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None

    def _ensure_session(self) -> None:
        if self._session is not None:
            return
        import tensorflow as tf

        self._graph = tf.Graph()
        with self._graph.as_default():
            tf.compat.v1.import_graph_def(self.graph_def, name="")
        self._session = tf.compat.v1.Session(graph=self._graph, config=_session_config())

    def __enter__(self) -> "FrozenModel":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def load_frozen_graph(source: bytes | str | Path, source_name: str | None = None) -> FrozenModel:
    """Parse a frozen ``model.pb`` (bytes or a path) and find its sensor inputs and policy output.

    Raises:
        ConfigError: for a file that is not a GraphDef, or one with no DeepRacer policy output
            or no sensor placeholder.
    """
    import tensorflow as tf

    if isinstance(source, (str, Path)):
        path = Path(source)
        source_name = source_name or str(path)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise ConfigError(f"{path}: frozen model not found") from None
    else:
        data = bytes(source)
        source_name = source_name or "model.pb"
    graph_def = tf.compat.v1.GraphDef()
    try:
        graph_def.ParseFromString(data)
    except Exception:
        raise ConfigError(f"{source_name}: not a TensorFlow GraphDef (a frozen model.pb was expected)") from None

    nodes = {node.name: node for node in graph_def.node}
    algorithm = next(
        (algo for algo in (CLIPPED_PPO, SAC) if contract.policy_output_name(algo) in nodes), None
    )
    if algorithm is None:
        raise ConfigError(
            f"{source_name}: no policy output node ({contract.policy_output_name(CLIPPED_PPO)} or "
            f"{contract.policy_output_name(SAC)}); not a DeepRacer model"
        )
    outputs = output_node_names(algorithm, graph_def)
    inputs: dict[str, str] = {}
    shapes: dict[str, tuple[int, ...]] = {}
    for node in graph_def.node:
        match = _PLACEHOLDER_NAME.match(node.name)
        if node.op == "Placeholder" and match:
            inputs[match.group("key")] = node.name
            dims = node.attr["shape"].shape.dim
            shapes[match.group("key")] = tuple(int(d.size) for d in dims[1:])
    if not inputs:
        raise ConfigError(f"{source_name}: no sensor input placeholder (.../network_0/<SENSOR>/<SENSOR>)")
    return FrozenModel(graph_def=graph_def, inputs=inputs, input_shapes=shapes, outputs=outputs, algorithm=algorithm)
