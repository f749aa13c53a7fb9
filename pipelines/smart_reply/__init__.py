"""The Smart Reply pipeline: reply suggestions for messages."""
