"""What rl_coach modules see through markov.compat, and that nobody else sees it."""
import importlib
import sys

import numpy as np
import pytest

import markov.compat
import tensorflow as tf
from markov.compat import coach_imports, optional_modules
from markov.compat.tf1_namespace import coach_tensorflow
from markov.errors import ConfigError
from rl_coach.memories.memory import MemoryGranularity


def test_rl_coach_modules_get_the_tf1_namespace_and_others_keep_tensorflow():
    head = importlib.import_module("rl_coach.architectures.tensorflow_components.heads.ppo_head")
    assert head.tf is coach_tensorflow
    assert head.tf.placeholder.__module__ == "markov.compat.tf1_namespace"
    assert head.tf.train.AdamOptimizer is tf.compat.v1.train.AdamOptimizer
    assert head.tf.contrib.distributions.Categorical is head.tf.distributions.Categorical
    assert sys.modules["tensorflow"] is tf and not hasattr(tf, "contrib")
    assert head.__builtins__ is coach_imports.coach_builtins


def test_install_is_idempotent_and_graph_mode_is_on():
    assert markov.compat.install() is True and markov.compat.is_active()
    finders = [finder for finder in sys.meta_path if type(finder).__name__ == "CoachFinder"]
    assert len(finders) == 1
    assert not tf.executing_eagerly()


def test_tf1_dimension_value_api_works_in_rl_coach():
    with tf.Graph().as_default():
        tensor = coach_tensorflow.placeholder(tf.float32, [None, np.array([2])])
        assert tensor.get_shape()[-1].value == 2


def test_unbridged_apis_refuse_with_the_setting_to_change():
    with pytest.raises(ConfigError, match="optimizer_type"):
        coach_tensorflow.contrib.opt.ScipyOptimizerInterface(None, method="L-BFGS-B")
    with pytest.raises(ConfigError, match="LSTM middleware"):
        coach_tensorflow.nn.rnn_cell.BasicLSTMCell(8, state_is_tuple=True)
    with pytest.raises(AttributeError, match="tf.contrib.slim is not bridged"):
        coach_tensorflow.contrib.slim


def test_numpy_aliases_exist_for_rl_coach_only():
    coach_np = coach_imports.coach_import("numpy")
    assert coach_np.float is float and coach_np.bool8 is np.bool_ and coach_np.int is int
    assert coach_np.bool is np.bool  # a name numpy still has wins over the old alias
    assert coach_np.zeros is np.zeros
    assert coach_imports.coach_import("numpy.random") is coach_np  # ``import numpy.random`` binds ``numpy``
    with pytest.raises(AttributeError):
        np.float  # noqa: B018 - the real numpy is untouched
    with pytest.raises(AttributeError):
        coach_np.not_a_numpy_name  # noqa: B018


def test_collections_abc_aliases_for_rl_coach_utils():
    coach_collections = coach_imports.coach_import("collections")
    assert coach_collections.Mapping is __import__("collections.abc").abc.Mapping
    assert coach_collections.OrderedDict is __import__("collections").OrderedDict


def test_distutils_dir_util_stand_in_copies_and_removes_trees(tmp_path):
    dir_util = coach_imports.coach_import("distutils.dir_util", fromlist=("copy_tree",))
    source, target = tmp_path / "src", tmp_path / "dst"
    (source / "agent").mkdir(parents=True)
    (source / "agent" / "0_Step-0.ckpt.index").write_bytes(b"x")
    target.mkdir()
    (target / "old").write_text("kept")
    written = dir_util.copy_tree(str(source), str(target))
    assert written == [str(target / "agent" / "0_Step-0.ckpt.index")]
    assert (target / "old").read_text() == "kept"
    dir_util.remove_tree(str(target))
    assert not target.exists()


def test_absent_optional_module_imports_but_fails_clearly_on_use():
    pygame = coach_imports.coach_import("pygame")
    locals_module = coach_imports.coach_import("pygame.locals", fromlist=("HWSURFACE",))
    assert isinstance(pygame, optional_modules.DeferredModule)
    assert locals_module.HWSURFACE.__name__ == "HWSURFACE"
    with pytest.raises(ImportError, match="pygame.time.Clock is needed here but 'pygame' could not be imported"):
        pygame.time.Clock()
    assert not isinstance(object(), pygame.Surface)
    try:
        raise ValueError("real")
    except coach_imports.coach_import("minio.error", fromlist=("ResponseError",)).ResponseError:
        pytest.fail("a stand-in exception class must never match")
    except ValueError:
        pass
    assert "pygame" not in sys.modules
    with pytest.raises(ImportError):
        importlib.import_module("pygame")


def test_missing_names_of_an_installed_optional_module_are_deferred():
    partial = coach_imports.coach_import("matplotlib", fromlist=("no_such_name",))
    assert isinstance(partial, optional_modules.PartialModule)
    assert partial.__version__ == importlib.import_module("matplotlib").__version__
    with pytest.raises(ImportError, match="matplotlib.no_such_name"):
        partial.no_such_name()


def test_non_optional_missing_modules_still_raise():
    with pytest.raises(ModuleNotFoundError):
        coach_imports.coach_import("certainly_not_installed_module")


def test_annoy_is_never_imported_by_loading_coach():
    dnd = importlib.import_module("rl_coach.memories.non_episodic.differentiable_neural_dictionary")
    assert isinstance(dnd.annoy, optional_modules.DeferredModule)
    assert "annoy" not in sys.modules


def test_coach_logger_accepts_mixed_empty_and_float_signals_under_pandas_3():
    logger_module = importlib.import_module("rl_coach.logger")
    signals = logger_module.BaseLogger()
    signals.set_current_time(1)
    signals.create_signal_value("Training Reward", 1.5)
    signals.set_current_time(2)
    signals.create_signal_value("Training Reward", "")
    signals.create_signal_value("Name", "")
    assert signals.change_signal_value("Name", 2, 2.5)
    assert list(signals.data["Training Reward"]) == [1.5, ""]
    assert signals.data.loc[2, "Name"] == 2.5


def test_coach_renderer_builds_without_pygame():
    renderer_module = importlib.import_module("rl_coach.renderer")
    if not isinstance(renderer_module.pygame, optional_modules.DeferredModule):
        pytest.skip("pygame is installed here")
    renderer = renderer_module.Renderer()
    assert renderer.clock is None and renderer.pressed_keys == []


def test_replay_memories_start_no_lock_server_processes():
    """Coach's memories used multiprocessing.Manager() locks: two server processes per memory."""
    import multiprocessing

    from rl_coach.memories.episodic.episodic_experience_replay import EpisodicExperienceReplay
    from rl_coach.memories.non_episodic.experience_replay import ExperienceReplay

    before = len(multiprocessing.active_children())
    memories = [EpisodicExperienceReplay(), ExperienceReplay(max_size=(MemoryGranularity.Transitions, 100))]
    assert len(multiprocessing.active_children()) == before
    for memory in memories:
        lock = memory.reader_writer_lock
        lock.lock_writing_and_reading()
        assert lock.some_worker_is_writing()
        assert not lock.writers_lock.acquire(blocking=False)  # a second writer is kept out
        lock.release_writing_and_reading()
        assert lock.writers_lock.acquire(blocking=False)
        lock.writers_lock.release()
