"""``deepracer-trainer export``: a checkpoint as the car's tar.gz or a DRoA virtual model."""
from __future__ import annotations

import argparse

from markov.export import model_export
from markov.export.checkpoint_selection import parse_step


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "export",
        help="package a checkpoint for the car (tar.gz) or for DeepRacer on AWS import",
        description=(
            "Freeze a checkpoint and package it. car: agent/model.pb + model_metadata.json in a "
            "tar.gz for the car's model upload. droa: the virtual-model folder DeepRacer on AWS "
            "imports, as .zip or .tar.gz (unpack it and choose the folder on DRoA's Import page)."
        ),
    )
    parser.add_argument("--checkpoint", required=True, metavar="DIR|s3://bucket/prefix",
                        help="the run's folder or its model/ folder, or s3://bucket/prefix (MinIO: S3_ENDPOINT_URL)")
    parser.add_argument("--step", default="last", type=parse_step, metavar="best|last|N",
                        help="best or last per model/deepracer_checkpoints.json, or a checkpoint number (default: last)")
    parser.add_argument("--format", choices=model_export.FORMATS, default=model_export.CAR, help="archive kind (default: car)")
    parser.add_argument("--out", required=True, metavar="FILE", help="output: *.tar.gz for car; *.zip or *.tar.gz for droa")
    parser.add_argument("--model-metadata", metavar="FILE", help="model_metadata.json when the run folder has none (default: the run's)")
    parser.add_argument("--s3-endpoint-url", metavar="URL", help="S3/MinIO endpoint (default: $S3_ENDPOINT_URL)")
    droa = parser.add_argument_group("droa format")
    droa.add_argument("--reward-function", metavar="FILE", help="reward_function.py (default: the run's)")
    droa.add_argument("--hyperparameters", metavar="FILE", help="hyperparameters.json (default: the run's ip/hyperparameters.json)")
    droa.add_argument("--training-params", metavar="FILE", help="training_params.yaml (default: the run's, else generated)")
    droa.add_argument("--track", metavar="TRACK_ID",
                      help=f"WORLD_NAME for training_params.yaml, a DRoA track id (default: the run's, else {model_export.DEFAULT_TRACK})")
    droa.add_argument("--no-metrics", action="store_true", help="leave out the optional training metrics")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    folder = model_export.open_model_folder(args.checkpoint, endpoint_url=args.s3_endpoint_url)
    if args.format == model_export.CAR:
        result = model_export.export_car(folder, args.out, args.step, model_metadata=args.model_metadata)
    else:
        result = model_export.export_droa(
            folder,
            args.out,
            args.step,
            model_metadata=args.model_metadata,
            reward_function=args.reward_function,
            hyperparameters=args.hyperparameters,
            training_params=args.training_params,
            track=args.track,
            include_metrics=not args.no_metrics,
        )
    print(f"Wrote {result.path} ({args.format}) from checkpoint {result.checkpoint} "
          f"[{result.metadata.training_algorithm}, {', '.join(result.metadata.sensors)}]")
    for name in result.files:
        print(f"  {name}")
    return 0
