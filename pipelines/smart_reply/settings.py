"""Smart Reply names both the pipeline and the model code use (no TensorFlow import)."""

NAME = "smart_reply"
HEADLINE = "sensible_at_3"
# Order of the clusters shown: stage 1's probability (as Allo), or the best response's score.
RANK_BY = ("cluster", "response")
