"""Image compression: the Residual-GRU codec (Toderici et al. 2017) trained on photo patches,
evaluated for rate–distortion on held-out photos against JPEG, served as encode / decode."""
from __future__ import annotations

import argparse
import os

from pipelines import arguments
from pipelines.errors import ShipyardError
from pipelines.family import AddCommand, Family, FamilyEvaluation, FamilyModules, PipelinePaths
from pipelines.image_compression import commands
from pipelines.image_compression import data as compression_data
from pipelines.image_compression.settings import HEADLINE, NAME, PRESETS

# The TFLite decoder's variants (models/optimization.py's names). qat_int8 is accepted and
# falls back to dynamic range with one line: TFMO has no QAT scheme for the ConvGRU. Full-integer
# int8 would need representative GRU states, and pruning / clustering a fine-tuning loss; none is
# offered.
MOBILE_VARIANTS = ("float32", "float16", "dynamic", "qat_int8")


def _check(args: argparse.Namespace) -> None:
    if args.alpha is not None and not 0 < args.alpha <= 2:
        raise ShipyardError(f"--alpha must be in (0, 2], got {args.alpha}")
    if not 1 <= args.iterations <= 16:
        raise ShipyardError(f"--iterations must be in 1..16, got {args.iterations}")
    if args.gamma not in (0.0, 1.0):
        raise ShipyardError(f"--gamma must be 0 (one-shot) or 1 (additive), got {args.gamma}")
    arguments.check_training(args)
    arguments.at_least(args, 1, "max_patches_per_photo", "eval_photos")
    arguments.at_least(args, 0, "gate_bpp")
    arguments.within(args, 0, 1, "min_ms_ssim", "channel_shuffle")
    if arguments.check_mobile(args, MOBILE_VARIANTS):
        arguments.within(args, 0, 1, "max_metric_drop")


class ImageCompression(Family):
    """The Residual-GRU codec (Toderici et al. 2017) trained on photo patches, evaluated for
    rate–distortion on held-out photos against JPEG, served as encode / decode."""

    name = NAME
    help = "Residual-GRU image codec (Toderici et al. 2017) on bundled photos"
    headline_metric = HEADLINE

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """The pipeline's flags; their defaults are in pipelines/image_compression/config.yaml."""
        parser.add_argument("--preset", choices=PRESETS,
                            help="layer widths: cpu (the paper's ×1/4) or paper (CVPR 2017)")
        parser.add_argument("--alpha", type=float,
                            help="scale the paper's widths by α instead (32 bits kept)")
        parser.add_argument("--iterations", type=int,
                            help="coding iterations (1/8 bpp each before entropy coding; ≤ 16)")
        parser.add_argument("--gamma", type=float,
                            help="reconstruction: 1 additive, 0 one-shot")
        parser.add_argument("--data-dir",
                            help="folder of photos (every fifth held out for evaluation); default: "
                                 "scikit-image's and scikit-learn's photos")
        parser.add_argument("--max-patches-per-photo", type=int,
                            help="keep N fixed 32×32 patches of each training photo instead of "
                                 "the whole photo (default: whole photos, cropped at random)")
        parser.add_argument("--channel-shuffle", type=float,
                            help="share of training crops whose R, G, B come in another order "
                                 "(every hue seen, whatever the photos' colours; 0: none)")
        arguments.add_training_arguments(parser)
        parser.add_argument("--min-ms-ssim", type=float,
                            help="blessing threshold on held-out MS-SSIM at --gate-bpp (also: "
                                 "no regression vs the latest blessed model)")
        parser.add_argument("--gate-bpp", type=float,
                            help="judge the codec (MS-SSIM, JPEG at equal bytes) on the files "
                                 "`shipyard compress --bpp` makes at this rate; 0: at the last "
                                 "iteration")
        arguments.add_min_lift(parser, "MS-SSIM", "Pillow's JPEG at equal bytes")
        parser.add_argument("--eval-photos", type=int,
                            help="held-out photos the rate–distortion evaluation codes "
                                 "(default: all)")
        arguments.add_mobile_arguments(
            parser, MOBILE_VARIANTS, "MS-SSIM",
            agreement="32×32 tiles the TFLite decoder must reconstruct within 0.5 dB PSNR of the "
                      "SavedModel's")

    def modules(self, args: argparse.Namespace, paths: PipelinePaths) -> FamilyModules:
        _check(args)
        custom_config = {
            "preset": args.preset, "alpha": args.alpha, "iterations": args.iterations,
            "gamma": args.gamma, "batch_size": args.batch_size,
            "learning_rate": args.learning_rate, "channel_shuffle": args.channel_shuffle,
            "backup_dir": os.path.join(paths.checkpoints, "backup"),
        }
        evaluation = FamilyEvaluation(self.module("evaluation"), HEADLINE, args.min_ms_ssim,
                                      limit=args.eval_photos,
                                      settings={"iterations": args.iterations,
                                                "gate_bpp": args.gate_bpp},
                                      min_lift=args.min_lift)
        return FamilyModules(
            preprocessing_fn=None, run_fn=self.module("trainer.run_fn"),
            evaluation=evaluation, presplit=True,
            custom_config=custom_config, train_steps=args.train_steps,
            eval_steps=args.eval_steps,
            mobile=arguments.mobile_config(args, self.module("mobile"),
                                           eval_limit=args.eval_photos))

    def prepare_data(self, args: argparse.Namespace, paths: PipelinePaths) -> str:
        if args.data_dir:
            return compression_data.build_from_folder(args.data_dir, paths.data_cache,
                                                      args.max_patches_per_photo)
        return compression_data.build_bundled(paths.data_cache, args.max_patches_per_photo)

    def serve_hint(self, serving_dir: str) -> str:
        output_dir = os.path.dirname(os.path.dirname(os.path.abspath(serving_dir)))
        return (f"shipyard compress IN.png OUT.rgc --output-dir {output_dir}   (serve it: "
                f"shipyard serve --output-dir {output_dir}; signatures encode / decode)")

    def add_commands(self, add_command: AddCommand) -> None:
        commands.add_commands(add_command)
