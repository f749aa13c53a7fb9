"""Translation: GNMT on a parallel corpus (default: the bundled EN→FR sentences), served as
raw strings in, translations out; `shipyard translate` prints translations."""
from __future__ import annotations

import argparse
import os

from pipelines import arguments
from pipelines.errors import ShipyardError
from pipelines.family import AddCommand, Family, FamilyEvaluation, FamilyModules, PipelinePaths
from pipelines.translation import commands
from pipelines.translation import data as translation_data
from pipelines.translation.settings import BLEU, NAME, PRESETS

# On-device variants (models/translation/mobile.py): float weights, float16 weights, int8
# weights with float activations. int8 and qat_int8 are accepted and fall back to dynamic range
# with one line: TFMO has no 8-bit QAT scheme for LSTMs, and full-integer int8 would quantise
# the beam search's scores, so the decoder converts to float32 / float16 / dynamic only.
MOBILE_VARIANTS = ("float32", "float16", "dynamic", "int8", "qat_int8")


def _check(args: argparse.Namespace) -> None:
    if args.data is None and (args.src not in translation_data.LANGUAGES
                              or args.tgt not in translation_data.LANGUAGES
                              or args.src == args.tgt):
        raise ShipyardError(f"--src / --tgt: the bundled corpus has "
                            f"{', '.join(translation_data.LANGUAGES)} (two different ones); "
                            f"got {args.src} → {args.tgt}")
    arguments.check_training(args)
    arguments.at_least(args, 1, "beam_width", "max_input_tokens", "max_output_tokens",
                       "eval_limit", "bundled_pairs", "decoder_layers", "units", "vocab_size")
    if args.bundled_pairs > translation_data.TRAIN_PAIRS:
        raise ShipyardError(f"--bundled-pairs must be at most {translation_data.TRAIN_PAIRS}")
    if args.encoder_layers is not None and args.encoder_layers < 2:
        raise ShipyardError("--encoder-layers must be at least 2 (the bidirectional layer "
                            "and one more)")
    arguments.within(args, 0, 1, "dropout", open_high=True)
    if args.alpha < 0 or args.beta < 0:
        raise ShipyardError("--alpha and --beta must not be negative")
    arguments.within(args, 0, 100, "min_bleu")
    if arguments.check_mobile(args, MOBILE_VARIANTS):
        arguments.within(args, 0, 100, "max_metric_drop")
        arguments.at_least(args, 1, "mobile_eval_limit")
    if args.data and not os.path.exists(args.data):
        raise ShipyardError(f"parallel data not found: {args.data}")


def mobile_config(args: argparse.Namespace) -> dict | None:
    """The mobile components' config: the GNMT decoder on LiteRT, gated on BLEU and on
    agreement with the SavedModel's translations."""
    return arguments.mobile_config(
        args, f"models.{NAME}.mobile", eval_limit=args.mobile_eval_limit,
        latency_runs=20)


class Translation(Family):
    """GNMT (Wu et al. 2016) on a parallel corpus, served as raw strings in, translations out;
    `shipyard translate` prints translations."""

    name = NAME
    help = "GNMT translator (default: bundled EN→FR num2words + CLDR sentences)"
    headline_metric = BLEU

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """The pipeline's flags; their defaults are in pipelines/translation/config.yaml."""
        parser.add_argument("--src", help="source language of the bundled corpus (en, fr, de)")
        parser.add_argument("--tgt", help="target language of the bundled corpus (en, fr, de)")
        parser.add_argument("--data",
                            help="parallel file (source<TAB>target lines, UTF-8) or a folder of "
                                 "TFRecords of tf.Examples (source, target); default: bundled")
        parser.add_argument("--bundled-pairs", type=int,
                            help="training pairs of the bundled corpus (at most 60000)")
        parser.add_argument("--preset", choices=tuple(PRESETS),
                            help="architecture: cpu (small, fast) or paper (8+8 layers, 1024 "
                                 "units, 32K wordpieces)")
        parser.add_argument("--encoder-layers", type=int, help="override the preset's")
        parser.add_argument("--decoder-layers", type=int, help="override the preset's")
        parser.add_argument("--units", type=int, help="LSTM units; override the preset's")
        parser.add_argument("--vocab-size", type=int,
                            help="wordpieces asked of the learner (it may give fewer); "
                                 "override the preset's")
        parser.add_argument("--dropout", type=float)
        arguments.add_training_arguments(parser)
        parser.add_argument("--beam-width", type=int, help="beam of the served model (1: greedy)")
        parser.add_argument("--alpha", type=float, help="GNMT length-penalty α")
        parser.add_argument("--beta", type=float, help="GNMT coverage-penalty β")
        parser.add_argument("--max-input-tokens", type=int,
                            help="longest accepted source sentence, in wordpieces")
        parser.add_argument("--max-output-tokens", type=int,
                            help="longest translation, in wordpieces")
        parser.add_argument("--min-bleu", type=float,
                            help="blessing threshold on eval BLEU (also: no regression vs the "
                                 "latest blessed model)")
        arguments.add_min_lift(parser, "BLEU", "copy the source; word-for-word dictionary")
        parser.add_argument("--eval-limit", type=int,
                            help="eval sentences the evaluator translates")
        mobile = arguments.add_mobile_arguments(
            parser, MOBILE_VARIANTS, "BLEU",
            agreement="sentences a variant must translate exactly as the SavedModel does")
        mobile.add_argument("--mobile-eval-limit", type=int,
                            help="held-out sentences the fidelity gate translates per variant")

    def modules(self, args: argparse.Namespace, paths: PipelinePaths) -> FamilyModules:
        _check(args)
        custom_config = {
            "preset": args.preset, "encoder_layers": args.encoder_layers,
            "decoder_layers": args.decoder_layers, "units": args.units,
            "vocab_size": args.vocab_size or PRESETS[args.preset].vocab_size,
            "dropout": args.dropout,
            "batch_size": args.batch_size, "learning_rate": args.learning_rate,
            "beam_width": args.beam_width, "alpha": args.alpha, "beta": args.beta,
            "max_input_tokens": args.max_input_tokens,
            "max_output_tokens": args.max_output_tokens,
            "backup_dir": os.path.join(paths.checkpoints, "backup"),
        }
        return FamilyModules(
            preprocessing_fn=self.module("preprocessing.preprocessing_fn"),
            run_fn=self.module("trainer.run_fn"),
            evaluation=FamilyEvaluation(self.module("evaluation"), BLEU, args.min_bleu,
                                        limit=args.eval_limit, min_lift=args.min_lift,
                                        settings={"baselines": True}),
            presplit=True,
            custom_config=custom_config, train_steps=args.train_steps,
            eval_steps=args.eval_steps, mobile=mobile_config(args))

    def prepare_data(self, args: argparse.Namespace, paths: PipelinePaths) -> str:
        if args.data:
            return translation_data.prepare(args.data, paths.data_cache)
        directory = os.path.join(paths.data_cache,
                                 f"parallel-{args.src}-{args.tgt}-{args.bundled_pairs}")
        return translation_data.build_bundled(directory, args.src, args.tgt,
                                              train_pairs=args.bundled_pairs)

    def serve_hint(self, serving_dir: str) -> str:
        output_dir = os.path.dirname(os.path.dirname(os.path.abspath(serving_dir)))
        return (f"shipyard translate \"Hello.\" --model {os.path.abspath(serving_dir)}   (or "
                f"shipyard serve --output-dir {output_dir}, then shipyard translate \"Hello.\" "
                f"--server 127.0.0.1:8500)")

    def add_commands(self, add_command: AddCommand) -> None:
        commands.add_commands(add_command)
