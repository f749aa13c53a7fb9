"""Smart Reply: suggest short replies to a message (Kannan et al. KDD 2016; Google Allo).

`shipyard run smart-reply` trains on the bundled chatterbot-corpus conversations or the
user's (context, reply[, user]) file; `shipyard reply "message"` prints suggestions from an
exported model or a running model server.
"""
from __future__ import annotations

import argparse
import os

from models.smart_reply.intents import INTENTS
from pipelines import arguments
from pipelines.errors import ShipyardError
from pipelines.family import AddCommand, Family, FamilyEvaluation, FamilyModules, PipelinePaths
from pipelines.smart_reply import commands
from pipelines.smart_reply import data as reply_data
from pipelines.smart_reply.settings import BUNDLED_EVAL, HEADLINE, NAME, RANK_BY

# QAT does not apply to the LSTMs: qat_int8 falls back to dynamic with one line (the shared
# plan); full-integer int8 would quantize the beam search's scores, so it is not offered.
MOBILE_VARIANTS = ("float32", "float16", "dynamic", "qat_int8")


def _check(args: argparse.Namespace) -> None:
    arguments.check_training(args)
    arguments.at_least(args, 1, "max_responses", "max_reply_tokens", "min_count", "vocab_size",
                       "min_token_count",
                       "context_tokens", "embedding_dim", "units", "suggestions", "beam_width",
                       "max_message_chars")
    arguments.at_least(args, 0, "sampled_softmax", "bigram_buckets")
    if args.suggestions > len(INTENTS):
        raise ShipyardError(f"--suggestions {args.suggestions} cannot exceed the "
                            f"{len(INTENTS)} intents (suggestions come from distinct intents)")
    arguments.within(args, 0, 1, "min_similarity", "trigger_threshold", "trigger_recall",
                     "fallback_confidence", "min_sensible", "min_trigger_recall", "min_silence")
    arguments.within(args, 0, 1, "dropout", "word_dropout", open_high=True)
    if arguments.check_mobile(args, MOBILE_VARIANTS):
        arguments.within(args, 0, 1, "max_metric_drop")


def custom_config(args: argparse.Namespace, paths: PipelinePaths) -> dict:
    keys = ("max_responses", "max_reply_tokens", "min_count", "min_similarity",
            "vocab_size", "min_token_count", "context_tokens", "embedding_dim", "units", "dropout",
            "word_dropout", "bigram_buckets",
            "sampled_softmax", "batch_size",
            "learning_rate", "suggestions", "beam_width", "length_bias", "rank_by",
            "trigger_threshold", "trigger_recall",
            "fallback_confidence", "sensitive_guard", "max_message_chars")
    config = {key: getattr(args, key) for key in keys}
    config["backup_dir"] = os.path.join(paths.checkpoints, "backup")
    return config


def mobile_config(args: argparse.Namespace) -> dict | None:
    """The mobile components' config: the on-device model (models/smart_reply/mobile.py),
    gated on recall@3 and on top-3 agreement with the SavedModel."""
    return arguments.mobile_config(args, f"models.{NAME}.mobile")


class SmartReply(Family):
    """Smart Reply (Kannan et al. KDD 2016; Google Allo): an LSTM picks semantic clusters of
    a fixed response set, a beam search over the set's trie picks the replies."""

    name = NAME
    help = "Smart Reply: reply suggestions (default: bundled everyday conversations)"
    headline_metric = HEADLINE

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """The pipeline's flags; their defaults are in pipelines/smart_reply/config.yaml."""
        data = parser.add_argument_group("data")
        data.add_argument("--data-file",
                          help="your conversations: .tsv (header: context, reply[, user]) or "
                               ".jsonl of {context, reply[, user]}; default: the bundled "
                               "everyday-conversation corpus (English)")
        responses = parser.add_argument_group("response set")
        responses.add_argument("--max-responses", type=int, help="replies kept in the response set")
        responses.add_argument("--max-reply-tokens", type=int,
                               help="longest reply (tokens) the set holds and the model writes")
        responses.add_argument("--min-count", type=int,
                               help="times a reply must occur in the train split to enter the set")
        responses.add_argument("--min-similarity", type=float,
                               help="cosine to the nearest response for a real reply to count as "
                                    "close to the set (trigger labels, true clusters)")
        model = parser.add_argument_group("model")
        model.add_argument("--vocab-size", type=int, help="most frequent tokens kept")
        model.add_argument("--min-token-count", type=int,
                           help="times a token must occur in the train split to enter the "
                                "vocabulary")
        model.add_argument("--context-tokens", type=int, help="message tokens read (the last ones)")
        model.add_argument("--embedding-dim", type=int)
        model.add_argument("--units", type=int, help="LSTM units (encoder and response LSTM)")
        model.add_argument("--dropout", type=float, help="dropout on embedded tokens in training")
        model.add_argument("--word-dropout", type=float,
                           help="share of message words replaced by the unknown-word id in "
                                "training (unseen words in real messages)")
        model.add_argument("--bigram-buckets", type=int,
                           help="hashed word pairs beside words in the bag-of-words paths "
                                "(0: words alone)")
        model.add_argument("--sampled-softmax", type=int,
                           help="tokens sampled per step for a sampled softmax of the response "
                                "LSTM in training, for large vocabularies (0: full softmax)")
        arguments.add_training_arguments(model)
        suggest = parser.add_argument_group("suggestions")
        suggest.add_argument("--suggestions", type=int,
                             help="replies shown (from distinct clusters)")
        suggest.add_argument("--beam-width", type=int, help="beam over the response-set trie")
        suggest.add_argument("--length-bias", type=float,
                             help="score added per reply token (favours longer replies)")
        suggest.add_argument("--rank-by", choices=RANK_BY,
                             help="order of the clusters shown: cluster (stage 1's probability, "
                                  "as Allo) or response (the best response's full score)")
        suggest.add_argument("--trigger-threshold", type=float,
                             help="trigger probability at or above which suggestions are shown "
                                  "(used as given when --trigger-recall is 0)")
        suggest.add_argument("--trigger-recall", type=float,
                             help="the Trainer sets the trigger threshold to the highest that "
                                  "keeps this recall on its held-out split (0: off)")
        suggest.add_argument("--fallback-confidence", type=float,
                             help="below this top-cluster probability the fallback set is shown")
        suggest.add_argument("--sensitive-guard", action=argparse.BooleanOptionalAction,
                             help="no suggestions on messages holding a crisis phrase "
                                  "(self-harm, abuse, medical emergency, losing a home to debt), "
                                  "whatever the trigger says")
        suggest.add_argument("--max-message-chars", type=int,
                             help="longer messages are refused (one-line error / HTTP 400)")
        suggest.add_argument("--min-sensible", type=float,
                             help="blessing threshold on sensible@3 over the independent eval "
                                  "file (also: no regression vs the latest blessed model)")
        suggest.add_argument("--min-trigger-recall", type=float,
                             help="blessing: least share of the eval file's messages that "
                                  "should get suggestions on which the model triggers")
        suggest.add_argument("--min-silence", type=float,
                             help="blessing: least share of the eval file's must-not-trigger "
                                  "messages left without suggestions")
        arguments.add_min_lift(suggest, "sensible@3", "most frequent intents; bag-of-words "
                                                      "logistic regression")
        arguments.add_mobile_arguments(parser, MOBILE_VARIANTS, "recall@3",
                                       agreement="messages whose TFLite top-3 replies equal the "
                                                 "SavedModel's")

    def modules(self, args: argparse.Namespace, paths: PipelinePaths) -> FamilyModules:
        _check(args)
        evaluation = FamilyEvaluation(self.module("evaluation"), HEADLINE, args.min_sensible,
                                      settings={"baselines": True,
                                                "eval_messages": BUNDLED_EVAL},
                                      min_lift=args.min_lift,
                                      floors={"eval_trigger_recall": args.min_trigger_recall,
                                              "silent_rate": args.min_silence})
        return FamilyModules(
            preprocessing_fn=self.module("preprocessing.preprocessing_fn"),
            run_fn=self.module("trainer.run_fn"), evaluation=evaluation,
            presplit=True, custom_config=custom_config(args, paths),
            train_steps=args.train_steps, eval_steps=args.eval_steps,
            mobile=mobile_config(args))

    def prepare_data(self, args: argparse.Namespace, paths: PipelinePaths) -> str:
        return reply_data.prepare(args.data_file, paths.data_cache)

    def serve_hint(self, serving_dir: str) -> str:
        output_dir = os.path.dirname(os.path.dirname(os.path.abspath(serving_dir)))
        return (f"shipyard serve --output-dir {output_dir}   then: shipyard reply \"How are "
                f"you?\" --server 127.0.0.1:8501")

    def add_commands(self, add_command: AddCommand) -> None:
        commands.add_commands(add_command)
