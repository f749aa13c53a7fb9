"""The TFLite variants every family chooses from (no TensorFlow import: the CLI lists them)."""

# Variant name → (keras technique applied before conversion, TFLite conversion mode).
VARIANTS: dict[str, tuple[str, str]] = {
    "float32": ("none", "float32"),
    "float16": ("none", "float16"),
    "dynamic": ("none", "dynamic"),
    "int8": ("none", "int8"),
    "qat_int8": ("qat", "qat"),
    "pruned_int8": ("prune", "int8"),
    "clustered_int8": ("cluster", "int8"),
    "pqat_int8": ("pqat", "qat"),
    "cqat_int8": ("cqat", "qat"),
}
