"""Build the Coach graph manager for a model_metadata.json and hyperparameters.

The trainer receives transitions over Redis and never steps an environment, so the graph
manager here holds one environment-less level (``main_level``, agent ``agent``) whose spaces
come from the model metadata, the way the image's trainer and Coach's batch-RL manager build
theirs. Each manager owns its own ``tf.Graph``, so a process can build several (tests, the
validator, export). The same graph serves rollout/inference callers: names and shapes do not
depend on who builds it, only the memory does.

Typical use::

    manager = build_graph_manager(metadata, hyperparameters)
    create_graph(manager, experiment_path="/tmp/exp", checkpoint_save_dir="ckpt/agent")
    manager.save_checkpoint()          # 0_Step-0.ckpt.*, checkpoint, .coach_checkpoint
"""
from __future__ import annotations

import logging
import os
from pathlib import Path

import markov.compat  # noqa: F401  (must precede every rl_coach module that imports TensorFlow)
import tensorflow as tf
from tensorflow.core.protobuf import rewriter_config_pb2
from rl_coach.architectures.tensorflow_components.general_network import GeneralTensorFlowNetwork
from rl_coach.base_parameters import AgentParameters, Frameworks, TaskParameters, VisualizationParameters
from rl_coach.filters.filter import NoInputFilter, NoOutputFilter
from rl_coach.graph_managers.graph_manager import GraphManager, ScheduleParameters
from rl_coach.level_manager import LevelManager
from rl_coach.memories.memory import MemoryParameters
from rl_coach.spaces import SpacesDefinition
from rl_coach.utils import short_dynamic_import

from markov.graph import contract
from markov.graph.agents import agent_parameters, schedule_parameters
from markov.checkpoint_names import parse_checkpoint_number
from markov.graph.checkpoint import CheckpointRef, CheckpointSaver, latest_checkpoint
from markov.graph.precision import FP32, session_precision_options
from markov.graph.spaces import spaces_definition
from markov.graph.in_graph_steps import install_in_graph_steps
from markov.hyperparameters import HyperParameters
from markov.model_metadata import ModelMetadata

log = logging.getLogger(__name__)

v1 = tf.compat.v1

GRAPHDEF_FILE = "graphdef.pb"
INTER_OP_THREADS = 2


def session_config(precision: str = FP32, fold_constants: bool = True) -> v1.ConfigProto:
    """The image's session settings (§6.1), but two inter-op threads where the image has one.

    ``precision`` (``fp32``, ``bf16`` or ``fp16``, see :mod:`markov.graph.precision`) adds the
    matching mixed-precision graph rewrite; fp32 adds nothing. ``fold_constants=False`` turns
    grappler's constant folding off: the trainer's peak RSS drops by about 80 MB at the same
    speed (docs/performance.md, "Training iteration"), most likely because the constants folded
    out of Coach's initialisers stay with every executor the session caches.

    Coach's Clipped PPO gives each head its own network (§3.3), and SAC has three: independent
    subgraphs that a second inter-op thread runs side by side. On 2 cores that trains a PPO
    iteration in 14.5 s instead of 27 s (docs/performance.md, "Training iteration"); more
    intra-op threads did not help. Local session settings are not part of the wire protocol.
    """
    config = v1.ConfigProto()
    config.allow_soft_placement = True
    config.gpu_options.allow_growth = True
    config.intra_op_parallelism_threads = 1
    config.inter_op_parallelism_threads = INTER_OP_THREADS
    if not fold_constants:
        config.graph_options.rewrite_options.constant_folding = rewriter_config_pb2.RewriterConfig.OFF
    return session_precision_options(config, precision)


class DeepRacerGraphManager(GraphManager):
    """A single-agent Coach graph manager without an environment.

    Attributes set by :meth:`create_graph`: ``graph`` (its own ``tf.Graph``), ``sess``,
    ``checkpoint_saver`` (a :class:`~markov.graph.checkpoint.CheckpointSaver`) and
    ``restored_checkpoint`` (the :class:`CheckpointRef` restored at creation, or None).
    ``precision`` is the session's arithmetic (:mod:`markov.graph.precision`) and
    ``fold_constants`` its grappler setting; both are set before :meth:`create_graph` and change
    how the session runs the graph, never the graph itself.
    """

    def __init__(self, agent_params: AgentParameters, spaces: SpacesDefinition, schedule_params: ScheduleParameters,
                 metadata: ModelMetadata, hyperparameters: HyperParameters, name: str = "deepracer_graph",
                 checkpoint_every_global: bool = False):
        vis_params = VisualizationParameters()
        vis_params.dump_mp4 = False
        vis_params.dump_parameters_documentation = False
        super().__init__(name, schedule_params, vis_params)
        self.agent_params = agent_params
        self.agent_params.visualization = vis_params
        # transitions arrive already filtered by the rollout workers (§3.1)
        self.agent_params.input_filter = NoInputFilter()
        self.agent_params.output_filter = NoOutputFilter()
        self.spaces = spaces
        self.metadata = metadata
        self.hyperparameters = hyperparameters
        self.graph: tf.Graph | None = None
        self.restored_checkpoint: CheckpointRef | None = None
        # Save Coach 1.0.1's variable set (optimizer slots, global_step) for 2020-generation rollouts.
        self.checkpoint_every_global = checkpoint_every_global
        self.precision = FP32
        self.fold_constants = True

    def create_graph(self, task_parameters: TaskParameters = None) -> "DeepRacerGraphManager":
        """Build networks, session and saver in a fresh ``tf.Graph``; restore if asked to."""
        if self.graph_creation_time is not None:
            return self
        task_parameters = task_parameters or TaskParameters()
        self.graph = tf.Graph()
        # Coach remembers variable scopes per name across graphs; a new graph starts clean
        GeneralTensorFlowNetwork.variable_scopes_dict.clear()
        with self.graph.as_default():
            if task_parameters.seed is not None:
                v1.set_random_seed(task_parameters.seed)  # reproducible initial weights (tests, benchmarks)
            super().create_graph(task_parameters)
        return self

    def _create_graph(self, task_parameters: TaskParameters):
        self.agent_params.task_parameters = task_parameters
        self.agent_params.name = contract.AGENT
        agent = short_dynamic_import(self.agent_params.path)(self.agent_params)
        level = LevelManager(name=contract.LEVEL, agents=agent, environment=None, spaces_definition=self.spaces)
        return [level], []

    def create_session(self, task_parameters: TaskParameters) -> None:
        image_graph = self.graph.as_graph_def()  # graphdef.pb: the graph as the image builds it (§1.6)
        install_in_graph_steps(self)  # before the session's first run: TF forbids changing ops a session has run
        self.set_session(v1.Session(graph=self.graph, config=session_config(self.precision, self.fold_constants)))
        if task_parameters.checkpoint_save_dir:
            os.makedirs(task_parameters.checkpoint_save_dir, exist_ok=True)
            self.save_graph(image_graph)  # once
        self.checkpoint_saver = CheckpointSaver(self.graph, every_global=self.checkpoint_every_global)
        self.restore_checkpoint()

    def save_graph(self, graph_def=None) -> None:
        """Write ``graphdef.pb`` (``graph_def``, default the whole graph now) to the checkpoint folder."""
        v1.train.write_graph(self.graph if graph_def is None else graph_def, logdir=self.task_parameters.checkpoint_save_dir, name=GRAPHDEF_FILE,
                             as_text=False)

    def restore_checkpoint(self) -> None:
        """Restore ``task_parameters.checkpoint_restore_path`` (a directory or a checkpoint prefix).

        New checkpoint ids continue at the restored id + 1 (§4.4); target networks are synced
        to the restored online weights.
        """
        path = getattr(self.task_parameters, "checkpoint_restore_path", None)
        if not path:
            return
        if os.path.isdir(path):
            checkpoint = latest_checkpoint(path)
        else:
            directory, name = os.path.split(path)
            checkpoint = CheckpointRef(Path(directory or "."), name, _checkpoint_number(name))
        log.info("Loading checkpoint: %s", checkpoint.path)
        self.checkpoint_saver.restore(self.sess, checkpoint.path)
        self.checkpoint_id = checkpoint.number + 1
        self.restored_checkpoint = checkpoint
        self.sync_target_networks()

    def sync_target_networks(self) -> None:
        """Copy online weights into every target network (PPO's old policy, SAC's V target)."""
        with self.graph.as_default():
            for network in self.get_agent().networks.values():
                if network.target_network is not None:
                    network.update_target_network(1.0)

    def get_agent(self):
        """The single Coach agent (``main_level/agent``)."""
        return self.level_managers[0].agents[contract.AGENT]


def _checkpoint_number(name: str) -> int:
    return parse_checkpoint_number(name) or 0


def build_graph_manager(metadata: ModelMetadata, hyperparameters: HyperParameters,
                        memory: MemoryParameters | None = None, *, stack_size: int = 1,
                        checkpoint_every_global: bool = False) -> DeepRacerGraphManager:
    """The graph manager for a model; no TF graph exists until :func:`create_graph`.

    Args:
        metadata: parsed model_metadata.json (sensors, network, algorithm, action space).
        hyperparameters: parsed hyperparameters (image names and defaults).
        memory: the agent's memory; default Coach's episodic replay (PPO) or
            ``ExperienceReplay`` (SAC). Rollout workers pass their own.
        stack_size: camera frames per observation; the current image always builds 1, the 2020
            image ``hyperparameters.stack_size`` (``--redis_protocol 2020``).
        checkpoint_every_global: checkpoints hold every global non-target variable, as rl-coach
            1.0.1's saver in a 2020-generation rollout asks for.
    """
    return DeepRacerGraphManager(
        agent_params=agent_parameters(metadata, hyperparameters, memory),
        spaces=spaces_definition(metadata, stack_size),
        schedule_params=schedule_parameters(hyperparameters),
        metadata=metadata,
        hyperparameters=hyperparameters,
        checkpoint_every_global=checkpoint_every_global,
    )


def task_parameters(experiment_path: str | os.PathLike, checkpoint_save_dir: str | os.PathLike | None = None,
                    checkpoint_restore_path: str | os.PathLike | None = None,
                    use_cpu: bool | None = None, seed: int | None = None) -> TaskParameters:
    """Coach task parameters for a single, non-distributed worker.

    Args:
        experiment_path: where Coach writes its CSV logs.
        checkpoint_save_dir: where ``save_checkpoint`` writes; ``graphdef.pb`` is written there at creation.
        checkpoint_restore_path: a checkpoint directory (read via ``.coach_checkpoint``) or prefix to restore.
        use_cpu: place the networks on the CPU; default: when TensorFlow sees no GPU (Coach
            would otherwise pin every op to ``/device:GPU:0`` and warn for each one).
        seed: the graph's random seed, for reproducible initial weights; None draws them freshly.
    """
    if use_cpu is None:
        use_cpu = not tf.config.list_physical_devices("GPU")
    params = TaskParameters(framework_type=Frameworks.tensorflow, use_cpu=use_cpu, experiment_path=str(experiment_path),
                            checkpoint_save_dir=str(checkpoint_save_dir) if checkpoint_save_dir else None,
                            checkpoint_restore_path=str(checkpoint_restore_path) if checkpoint_restore_path else None,
                            seed=seed)
    return params


def create_graph(graph_manager: DeepRacerGraphManager, experiment_path: str | os.PathLike,
                 checkpoint_save_dir: str | os.PathLike | None = None,
                 checkpoint_restore_path: str | os.PathLike | None = None,
                 use_cpu: bool | None = None, seed: int | None = None,
                 precision: str = FP32, fold_constants: bool = True) -> DeepRacerGraphManager:
    """Build the TF graph and session of ``graph_manager`` (restoring if a path is given).

    ``precision`` is a resolved choice (``fp32``, ``bf16``, ``fp16``; see
    :func:`markov.graph.precision.resolve_precision`). Only the trainer passes anything but fp32:
    rollout and export sessions only predict, and keep the image's float32 arithmetic.
    ``fold_constants=False`` is the trainer's memory setting (:func:`session_config`).
    """
    graph_manager.precision = precision
    graph_manager.fold_constants = fold_constants
    return graph_manager.create_graph(task_parameters(experiment_path, checkpoint_save_dir, checkpoint_restore_path,
                                                      use_cpu, seed))
