"""The translation pipeline: GNMT on a parallel corpus."""
