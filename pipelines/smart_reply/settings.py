"""Smart Reply names both the pipeline and the model code use (no TensorFlow import)."""
import os

NAME = "smart_reply"
HEADLINE = "sensible_at_3"
# Order of the clusters shown: stage 1's probability (as Allo), or the best response's score.
RANK_BY = ("cluster", "response")
# The independent eval file shipped with the package. A pipeline's settings name it "bundled"
# rather than by path, so a compiled pipeline runs in a container installed elsewhere.
BUNDLED_EVAL = "bundled"
# Shipyard's hand-written evaluation messages (see the file's header).
EVAL_MESSAGES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "eval_messages.tsv")
