"""Graph names the simulation image relies on, and the checkpoint contents they imply.

Rollout workers, the frozen-graph export and the car all address our graph by name: input
placeholders, the policy output node, and every checkpointed variable (docs/protocol.md §3.3, §3.4,
§6.2). This module states those names once. :func:`checkpoint_variables` derives, from the
layer tables alone, the exact ``{name: shape}`` set a checkpoint must hold; it needs no
TensorFlow, so it can also vet a pretrained checkpoint before any graph is built.
"""
from __future__ import annotations

from markov.graph import layer_tables
from markov.model_metadata import CLIPPED_PPO, SAC, ModelMetadata

LEVEL = "main_level"
AGENT = "agent"
AGENT_SCOPE = f"{LEVEL}/{AGENT}"

# Network wrappers (§3.3). PPO: one wrapper with a separate network per head.
PPO_WRAPPER = "main"
SAC_POLICY_WRAPPER = "policy"
SAC_Q_WRAPPER = "q"
SAC_V_WRAPPER = "v"

RESCALER = "gradients_from_head_0-0_rescalers"

# Head scopes and layer names (§3.3).
V_HEAD = "v_values_head_0"
V_OUTPUT = "output"
PPO_HEAD = "ppo_head_0"
PPO_DISCRETE_LOGITS = "policy_fc"
PPO_CONTINUOUS_MEAN = "policy_mean"
PPO_LOG_STD = "policy_log_std"
POLICY_OP = "policy"
SAC_POLICY_HEAD = "sac_policy_head_0"
# The image's SAC head layers carry Keras' process-global auto-names as seen in a fresh
# process (§3.3 "Auto-named layers"); we give them these names explicitly.
SAC_POLICY_HIDDEN = "dense"
SAC_POLICY_MEAN = "policy_mean"
SAC_POLICY_LOG_STD = "dense_1_1"
SAC_POLICY_HIDDEN_UNITS = 256
SAC_Q_HEAD = "q_values_head_0"
SAC_Q_LAYERS = {
    "q1_head": ("dense_2", "dense_3", "q1_output"),
    "q2_head": ("dense_4", "dense_5", "q2_output"),
}
SAC_Q_HIDDEN_UNITS = 256

# Log-std clipping (§3.3): PPO continuous [-20, 3], SAC [-20, 2].
PPO_LOG_STD_RANGE = (-20.0, 3.0)
SAC_LOG_STD_RANGE = (-20.0, 2.0)

CONTINUOUS_ACTION_DIM = 2


def network_scope(wrapper: str, index: int = 0, online: bool = True) -> str:
    """``main_level/agent/<wrapper>/<online|target>/network_<index>``."""
    return f"{AGENT_SCOPE}/{wrapper}/{'online' if online else 'target'}/network_{index}"


def input_wrapper(training_algorithm: str) -> str:
    """The wrapper whose network_0 owns the input placeholders the frozen graph keeps."""
    return SAC_POLICY_WRAPPER if training_algorithm == SAC else PPO_WRAPPER


def input_placeholder_name(training_algorithm: str, sensor: str) -> str:
    """Op name of the float32 placeholder for ``sensor`` (§3.3): ``.../network_0/<KEY>/<KEY>``."""
    return f"{network_scope(input_wrapper(training_algorithm))}/{sensor}/{sensor}"


def policy_output_name(training_algorithm: str) -> str:
    """Op name of the policy output the car reads (§6.2, the image's frozen-graph output node)."""
    if training_algorithm == SAC:
        return f"{network_scope(SAC_POLICY_WRAPPER)}/{SAC_POLICY_HEAD}/{POLICY_OP}"
    if training_algorithm == CLIPPED_PPO:
        return f"{network_scope(PPO_WRAPPER, 1)}/{PPO_HEAD}/{POLICY_OP}"
    raise KeyError(training_algorithm)


def _dense(scope: str, inputs: int, units: int) -> dict[str, tuple[int, ...]]:
    return {f"{scope}/kernel": (inputs, units), f"{scope}/bias": (units,)}


def _embedders(scope: str, metadata: ModelMetadata) -> tuple[dict[str, tuple[int, ...]], int]:
    """Embedder variables of one network, and the merged (concatenated) embedding size."""
    variables: dict[str, tuple[int, ...]] = {}
    merged = 0
    for sensor in sorted(metadata.sensors):  # Coach merges embedders in sorted key order (§3.2)
        layers = layer_tables.embedder_layers(sensor, metadata.neural_network)
        input_shape = layer_tables.observation_shape(sensor, metadata.lidar_config)
        kernels = layer_tables.layer_kernel_shapes(input_shape, layers)
        for name, kernel in zip(layer_tables.layer_names(layers), kernels):
            variables[f"{scope}/{sensor}/{name}/kernel"] = kernel
            variables[f"{scope}/{sensor}/{name}/bias"] = (kernel[-1],)
        merged += layer_tables.flattened_size(sensor, metadata.neural_network, metadata.lidar_config)
    return variables, merged


def _middleware(scope: str, metadata: ModelMetadata, inputs: int) -> tuple[dict[str, tuple[int, ...]], int]:
    layers = layer_tables.middleware_layers(metadata.neural_network)
    variables: dict[str, tuple[int, ...]] = {}
    for name, kernel in zip(layer_tables.layer_names(layers), layer_tables.layer_kernel_shapes((inputs,), layers)):
        variables.update(_dense(f"{scope}/{layer_tables.MIDDLEWARE_SCOPE}/{name}", *kernel))
    return variables, layers[-1].units


def _trunk(scope: str, metadata: ModelMetadata, with_middleware: bool = True) -> tuple[dict[str, tuple[int, ...]], int]:
    """Embedders, optional middleware and the head rescaler of one network; and its feature size."""
    variables, features = _embedders(scope, metadata)
    if with_middleware:
        middleware, features = _middleware(scope, metadata, features)
        variables.update(middleware)
    variables[f"{scope}/{RESCALER}"] = ()
    return variables, features


def checkpoint_variables(metadata: ModelMetadata) -> dict[str, tuple[int, ...]]:
    """``{variable name: shape}`` of exactly what a checkpoint for ``metadata`` must hold (§3.4).

    Trainable, non-target variables only, named as the simulation image names them.
    """
    variables: dict[str, tuple[int, ...]] = {}
    if metadata.training_algorithm == CLIPPED_PPO:
        for index in (0, 1):
            scope = network_scope(PPO_WRAPPER, index)
            trunk, features = _trunk(scope, metadata)
            variables.update(trunk)
            if index == 0:
                variables.update(_dense(f"{scope}/{V_HEAD}/{V_OUTPUT}", features, 1))
            elif metadata.is_discrete:
                variables.update(_dense(f"{scope}/{PPO_HEAD}/{PPO_DISCRETE_LOGITS}", features, metadata.num_actions))
            else:
                variables.update(_dense(f"{scope}/{PPO_HEAD}/{PPO_CONTINUOUS_MEAN}", features, CONTINUOUS_ACTION_DIM))
                variables[f"{scope}/{PPO_HEAD}/{PPO_LOG_STD}"] = (1, CONTINUOUS_ACTION_DIM)
        return variables

    if metadata.training_algorithm != SAC:
        raise KeyError(metadata.training_algorithm)
    # policy: embedders + middleware + Dense(256) -> mean / log-std
    scope = network_scope(SAC_POLICY_WRAPPER)
    trunk, features = _trunk(scope, metadata)
    variables.update(trunk)
    head = f"{scope}/{SAC_POLICY_HEAD}"
    variables.update(_dense(f"{head}/{SAC_POLICY_HIDDEN}", features, SAC_POLICY_HIDDEN_UNITS))
    variables.update(_dense(f"{head}/{SAC_POLICY_MEAN}", SAC_POLICY_HIDDEN_UNITS, CONTINUOUS_ACTION_DIM))
    variables.update(_dense(f"{head}/{SAC_POLICY_LOG_STD}", SAC_POLICY_HIDDEN_UNITS, CONTINUOUS_ACTION_DIM))
    # q: embedders only (empty middleware); each twin sees concat(embedding, action)
    scope = network_scope(SAC_Q_WRAPPER)
    trunk, merged = _trunk(scope, metadata, with_middleware=False)
    variables.update(trunk)
    for twin, (first, second, output) in SAC_Q_LAYERS.items():
        twin_scope = f"{scope}/{SAC_Q_HEAD}/{twin}"
        variables.update(_dense(f"{twin_scope}/{first}", merged + CONTINUOUS_ACTION_DIM, SAC_Q_HIDDEN_UNITS))
        variables.update(_dense(f"{twin_scope}/{second}", SAC_Q_HIDDEN_UNITS, SAC_Q_HIDDEN_UNITS))
        variables.update(_dense(f"{twin_scope}/{output}", SAC_Q_HIDDEN_UNITS, 1))
    # v: embedders + middleware + V head
    scope = network_scope(SAC_V_WRAPPER)
    trunk, features = _trunk(scope, metadata)
    variables.update(trunk)
    variables.update(_dense(f"{scope}/{V_HEAD}/{V_OUTPUT}", features, 1))
    return variables
