"""Mobile targets: Optimizer → TFLiteConverter → FidelityGate → MobilePusher.

Thin TFX components around models/optimization.py and models/tflite.py. Family-specific steps
come from the family's mobile hook module, named by dotted path in the JSON `config` parameter:

    {"module": "models.image_classification.mobile", "variants": ["float32", "int8"],
     "fine_tune": {"steps": 200, ...}, "io_type": "uint8", "batch_size": 64,
     "budgets": {"max_metric_drop": 0.02, "max_size_mb": null, "max_latency_ms": null},
     "latency_runs": 50, "eval_limit": null, "base_directory": "<output>/mobile/<pipeline>"}

The module exposes `HOOK`, an instance of a models.mobile_hook.MobileHook subclass: the
family's metric, Keras model and eval rows (abstract there), and where its TFLite model is not
its Keras model run row by row, its own conversion, assets, metadata, predictions, latency and
agreement with the float model (defaults there). The components only call its methods.
"""

import dataclasses
import json
import os
import shutil
import tempfile
import time
from typing import Any

from tfx import v1 as tfx
from tfx.types import artifact, standard_artifacts

from components.atomic_pusher import push_atomically
from models.mobile_hook import MobileHook, load_hook

InputArtifact = tfx.dsl.components.InputArtifact
OutputArtifact = tfx.dsl.components.OutputArtifact
Parameter = tfx.dsl.components.Parameter
MANIFEST = "variants.json"
ASSETS = "assets"
REPRESENTATIVE_SAMPLES = 200


class OptimizedModels(artifact.Artifact):
    """One Keras model per variant (`<variant>.h5`) and a manifest of the variants."""

    TYPE_NAME = "shipyard.OptimizedModels"  # KFP needs namespace.Name


class TFLiteModels(artifact.Artifact):
    """`<variant>/model.tflite` per variant (with metadata), `labels.txt` and a manifest."""

    TYPE_NAME = "shipyard.TFLiteModels"  # KFP needs namespace.Name


class MobileBlessing(artifact.Artifact):
    """The fidelity gate's verdict per variant (also in the `results` custom property)."""

    TYPE_NAME = "shipyard.MobileBlessing"  # KFP needs namespace.Name


class MobileBundle(artifact.Artifact):
    """The pushed bundle; `pushed`, `pushed_destination` and `pushed_version` properties."""

    TYPE_NAME = "shipyard.MobileBundle"  # KFP needs namespace.Name


def _hook(config: dict[str, Any]) -> MobileHook:
    return load_hook(config["module"])


def _load_split(hook: MobileHook, transform_graph_uri: str | None, examples_uri: str,
                split: str, limit: int | None = None, model_uri: str | None = None):
    """hook.load_split; `model_uri` (the trained model) is for hooks whose labels come from it,
    such as Smart Reply's response-set clusters."""
    return hook.load_split(transform_graph_uri, examples_uri, split, limit=limit,
                           model_uri=model_uri)


def _uri(artifact_or_none) -> str | None:
    return artifact_or_none.uri if artifact_or_none is not None else None


def _write_assets(hook: MobileHook, transform_graph_uri: str | None, model_uri: str | None,
                  output_dir: str) -> list[str]:
    """The files every variant ships with (labels, vocabulary, response set)."""
    files = hook.bundle_files(transform_graph_uri, model_uri)
    os.makedirs(os.path.join(output_dir, ASSETS), exist_ok=True)
    for name, data in files.items():
        with open(os.path.join(output_dir, ASSETS, name), "wb") as f:
            f.write(data)
    return sorted(files)


def _read_manifest(uri: str) -> dict[str, Any]:
    with open(os.path.join(uri, MANIFEST)) as f:
        return json.load(f)


def _write_manifest(uri: str, manifest: dict[str, Any]) -> None:
    with open(os.path.join(uri, MANIFEST), "w") as f:
        json.dump(manifest, f, indent=2)


def _load_keras(path: str):
    import tensorflow_model_optimization as tfmot

    from models.keras2 import keras

    # QAT models hold TFMO's quantize wrappers, which only load inside its scope.
    with tfmot.quantization.keras.quantize_scope():
        return keras.models.load_model(path, compile=False)


# --- Optimizer ---------------------------------------------------------------------------------

def optimize_variants(model_uri: str, transform_graph_uri: str, examples_uri: str,
                      config: dict[str, Any], output_dir: str) -> dict[str, Any]:
    """Writes one Keras model per variant the config asks for (fallbacks applied)."""
    import tensorflow as tf

    from models import optimization

    hook = _hook(config)
    model = hook.load_model(model_uri)
    planned, messages = optimization.plan(model, config["variants"], hook.conversions)
    for message in messages:
        print(f"    {message}", flush=True)
    fine_tune = optimization.FineTune(**config.get("fine_tune", {}))
    train_ds = None
    if any(p.technique != "none" for p in planned):
        x, y = _load_split(hook, transform_graph_uri, examples_uri, "train",
                           model_uri=model_uri)
        train_ds = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(x), seed=0).batch(
            config.get("batch_size", 64))
    os.makedirs(output_dir, exist_ok=True)
    # HDF5, not .keras: a QAT model saved as .keras does not load back in TF 2.16 / TFMO 0.8
    # ("Layer 'quantize_layer' expected 5 variables, but received 3"); .h5 does.
    model.save(os.path.join(output_dir, "base.h5"))
    variants = []
    for variant in planned:
        path = "base.h5"
        if variant.technique != "none":
            start = time.monotonic()
            optimized = optimization.optimize(model, variant.technique, train_ds, fine_tune)
            path = f"{variant.name}.h5"
            optimized.save(os.path.join(output_dir, path))
            print(f"    {variant.name}: {variant.technique} fine-tuned {fine_tune.steps} steps "
                  f"(kernel sparsity {optimization.kernel_sparsity(optimized):.2f}, "
                  f"{time.monotonic() - start:.1f} s)", flush=True)
        variants.append({**dataclasses.asdict(variant), "keras_model": path})
    manifest = {"variants": variants, "messages": messages}
    _write_manifest(output_dir, manifest)
    return manifest


@tfx.dsl.components.component
def Optimizer(model: InputArtifact[standard_artifacts.Model],
              examples: InputArtifact[standard_artifacts.Examples],
              optimized_models: OutputArtifact[OptimizedModels],
              config: Parameter[str],
              transform_graph: InputArtifact[standard_artifacts.TransformGraph] = None) -> None:
    """TFMO: QAT, pruning, clustering and the collaborative schemes, per the config."""
    manifest = optimize_variants(model.uri, _uri(transform_graph), examples.uri,
                                 json.loads(config), optimized_models.uri)
    optimized_models.set_string_custom_property(
        "variants", ",".join(v["name"] for v in manifest["variants"]))
    optimized_models.set_string_custom_property("messages", "\n".join(manifest["messages"]))


# --- TFLite converter --------------------------------------------------------------------------

def convert_variants(optimized_uri: str, transform_graph_uri: str | None, examples_uri: str,
                     config: dict[str, Any], output_dir: str,
                     model_uri: str | None = None) -> dict[str, Any]:
    """One .tflite (with the family's metadata) per variant of the optimiser's manifest."""
    hook = _hook(config)
    manifest = _read_manifest(optimized_uri)
    os.makedirs(output_dir, exist_ok=True)
    assets = _write_assets(hook, transform_graph_uri, model_uri, output_dir)
    x_sample = None
    if any(v["conversion"] == "int8" for v in manifest["variants"]):
        x_sample, _ = _load_split(hook, transform_graph_uri, examples_uri, "train",
                                  limit=REPRESENTATIVE_SAMPLES, model_uri=model_uri)
        x_sample = hook.prepare_split(model_uri, x_sample)
    converted = []
    for variant in manifest["variants"]:
        start = time.monotonic()
        model = _load_keras(os.path.join(optimized_uri, variant["keras_model"]))
        io_type = config.get("io_type", "uint8")
        data = hook.convert(model, variant["conversion"], x_sample, io_type)
        data = hook.add_metadata(data, os.path.join(output_dir, ASSETS))
        path = os.path.join(variant["name"], "model.tflite")
        os.makedirs(os.path.join(output_dir, variant["name"]), exist_ok=True)
        with open(os.path.join(output_dir, path), "wb") as f:
            f.write(data)
        print(f"    {variant['name']}: {len(data) / 1e6:.3f} MB .tflite "
              f"({time.monotonic() - start:.1f} s)", flush=True)
        converted.append({**variant, "tflite": path})
    result = {"variants": converted, "messages": manifest.get("messages", []), "assets": assets}
    _write_manifest(output_dir, result)
    return result


@tfx.dsl.components.component
def TFLiteConverter(optimized_models: InputArtifact[OptimizedModels],
                    model: InputArtifact[standard_artifacts.Model],
                    examples: InputArtifact[standard_artifacts.Examples],
                    tflite_models: OutputArtifact[TFLiteModels],
                    config: Parameter[str],
                    transform_graph: InputArtifact[standard_artifacts.TransformGraph] = None
                    ) -> None:
    """float32 / float16 / dynamic / int8 (representative data from Transform) / QAT int8."""
    result = convert_variants(optimized_models.uri, _uri(transform_graph), examples.uri,
                              json.loads(config), tflite_models.uri, model_uri=model.uri)
    tflite_models.set_string_custom_property(
        "variants", ",".join(v["name"] for v in result["variants"]))


# --- Fidelity gate -----------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Budgets:
    max_metric_drop: float | None = None  # absolute, in metric units (0.02 = 2 points)
    max_size_mb: float | None = None
    max_latency_ms: float | None = None  # single-thread p50
    min_agreement: float | None = None  # share of eval rows where TFLite agrees with SavedModel


def judge(result: dict[str, Any], reference_metric: float, budgets: Budgets) -> list[str]:
    """The budgets a variant breaks, as readable reasons (empty: blessed)."""
    reasons = []
    if budgets.min_agreement is not None:
        if "agreement" not in result:
            reasons.append("min_agreement set but the family's hook defines no agreement")
        elif result["agreement"] < budgets.min_agreement - 1e-9:
            reasons.append(f"agreement {result['agreement']:.4f} < {budgets.min_agreement:g}")
    drop = reference_metric - result["metric"]
    if budgets.max_metric_drop is not None and drop > budgets.max_metric_drop + 1e-9:
        reasons.append(f"metric drop {drop:.4f} > {budgets.max_metric_drop:g}")
    size_mb = result["size_bytes"] / 1e6
    if budgets.max_size_mb is not None and size_mb > budgets.max_size_mb:
        reasons.append(f"size {size_mb:.3f} MB > {budgets.max_size_mb:g} MB")
    if budgets.max_latency_ms is not None and result["latency_p50_ms"] > budgets.max_latency_ms:
        reasons.append(f"latency p50 {result['latency_p50_ms']:.3f} ms > "
                       f"{budgets.max_latency_ms:g} ms")
    return reasons


def measure_variant(model: bytes, x, y, metric_fn, runs: int, predict_fn=None,
                    latency_fn=None, agreement_fn=None, reference_outputs=None
                    ) -> dict[str, Any]:
    """The variant's metric on (x, y), sizes and single-thread latency; `predict_fn(model, x)`
    and `latency_fn(model, x, runs)` default to running the model row by row on LiteRT.
    With `agreement_fn(outputs, reference_outputs)`, also the share of rows on which the
    variant agrees with the float SavedModel (e.g. the same top-3 replies); an agreement_fn
    that returns None (MobileHook's default) measures none."""
    from models import tflite

    timing = (latency_fn(model, x, runs) if latency_fn
              else tflite.latency(model, runs=runs))
    outputs = (predict_fn or tflite.predict)(model, x)
    result = {"metric": metric_fn(outputs, y), "size_bytes": len(model),
              "gzip_bytes": tflite.gzip_size(model), "latency_p50_ms": timing.p50_ms,
              "latency_p90_ms": timing.p90_ms, "latency_runs": timing.runs}
    agreement = (agreement_fn(outputs, reference_outputs) if agreement_fn is not None
                 else None)
    if agreement is not None:
        result["agreement"] = float(agreement)
    return result


def render_markdown(results: dict[str, Any]) -> str:
    metric = results["metric_name"]
    agreement = any("agreement" in r for r in results["variants"].values())
    lines = [f"reference (float SavedModel's Keras model) {metric}: "
             f"{results['reference_metric']:.4f}", "",
             f"| variant | {metric} | drop |" + (" agreement |" if agreement else "")
             + " size MB | gzip MB | p50 ms | p90 ms | blessed |",
             "| --- | ---: | ---: |" + (" ---: |" if agreement else "")
             + " ---: | ---: | ---: | ---: | --- |"]
    for name, r in results["variants"].items():
        verdict = "yes" if r["blessed"] else "no: " + "; ".join(r["reasons"])
        drop = results["reference_metric"] - r["metric"]
        agrees = f" {r['agreement']:.4f} |" if agreement else ""
        lines.append(f"| {name} | {r['metric']:.4f} | {drop:+.4f} |{agrees}"
                     f" {r['size_bytes'] / 1e6:.3f} | {r['gzip_bytes'] / 1e6:.3f} "
                     f"| {r['latency_p50_ms']:.3f} | {r['latency_p90_ms']:.3f} | {verdict} |")
    return "\n".join(lines) + "\n"


def gate_variants(tflite_uri: str, model_uri: str, transform_graph_uri: str | None,
                  examples_uri: str,
                  config: dict[str, Any], output_dir: str) -> dict[str, Any]:
    """Runs every .tflite on the eval split with LiteRT and applies the budgets."""
    hook = _hook(config)
    manifest = _read_manifest(tflite_uri)
    x, y = _load_split(hook, transform_graph_uri, examples_uri, "eval",
                       limit=config.get("eval_limit"), model_uri=model_uri)
    x = hook.prepare_split(model_uri, x)
    keras_model = hook.load_model(model_uri)
    reference_outputs = hook.reference_predict(keras_model, x)
    reference = hook.metric(reference_outputs, y)
    budgets = Budgets(**config.get("budgets", {}))
    variants = {}
    for variant in manifest["variants"]:
        with open(os.path.join(tflite_uri, variant["tflite"]), "rb") as f:
            model = f.read()
        result = measure_variant(model, x, y, hook.metric, config.get("latency_runs", 50),
                                 hook.tflite_predict, hook.latency, hook.agreement,
                                 reference_outputs)
        reasons = judge(result, reference, budgets)
        result.update(blessed=not reasons, reasons=reasons, conversion=variant["conversion"],
                      technique=variant["technique"], tflite=variant["tflite"])
        variants[variant["name"]] = result
        verdict = "blessed" if not reasons else "refused: " + "; ".join(reasons)
        agrees = (f"  agreement {result['agreement']:.4f}" if "agreement" in result else "")
        print(f"    {variant['name']:<15} {hook.metric_name} {result['metric']:.4f} "
              f"(float {reference:.4f}){agrees}  {result['size_bytes'] / 1e6:.3f} MB "
              f"(gzip {result['gzip_bytes'] / 1e6:.3f})  p50 {result['latency_p50_ms']:.3f} ms "
              f"p90 {result['latency_p90_ms']:.3f} ms  {verdict}", flush=True)
    results = {"metric_name": hook.metric_name, "reference_metric": reference,
               "eval_examples": int(len(y)), "budgets": dataclasses.asdict(budgets),
               "variants": variants, "messages": manifest.get("messages", [])}
    os.makedirs(output_dir, exist_ok=True)
    with open(os.path.join(output_dir, "results.json"), "w") as f:
        json.dump(results, f, indent=2)
    with open(os.path.join(output_dir, "report.md"), "w") as f:
        f.write(render_markdown(results))
    return results


@tfx.dsl.components.component
def FidelityGate(tflite_models: InputArtifact[TFLiteModels],
                 model: InputArtifact[standard_artifacts.Model],
                 examples: InputArtifact[standard_artifacts.Examples],
                 blessing: OutputArtifact[MobileBlessing],
                 config: Parameter[str],
                 transform_graph: InputArtifact[standard_artifacts.TransformGraph] = None
                 ) -> None:
    """Metric on the eval split (LiteRT), size, gzip size, single-thread latency; budgets bless."""
    results = gate_variants(tflite_models.uri, model.uri, _uri(transform_graph), examples.uri,
                            json.loads(config), blessing.uri)
    blessed = [name for name, r in results["variants"].items() if r["blessed"]]
    blessing.set_int_custom_property("blessed", int(bool(blessed)))
    blessing.set_string_custom_property("blessed_variants", ",".join(blessed))
    blessing.set_string_custom_property("results", json.dumps(results))


# --- Mobile pusher -----------------------------------------------------------------------------

def choose(results: dict[str, Any]) -> str | None:
    """The blessed variant to recommend: most accurate, then smallest."""
    blessed = [(r["metric"], -r["size_bytes"], name)
               for name, r in results["variants"].items() if r["blessed"]]
    return max(blessed)[2] if blessed else None


def build_bundle(tflite_uri: str, results: dict[str, Any], bundle_dir: str) -> list[str]:
    """`<variant>/model.tflite`, the family's assets (labels.txt, vocabulary, ...) and
    `<variant>/model.json` for each blessed variant, and `bundle.json` naming the recommended
    one."""
    manifest = _read_manifest(tflite_uri)
    pushed = []
    for variant in manifest["variants"]:
        result = results["variants"].get(variant["name"])
        if not result or not result["blessed"]:
            continue
        target = os.path.join(bundle_dir, variant["name"])
        os.makedirs(target, exist_ok=True)
        shutil.copyfile(os.path.join(tflite_uri, variant["tflite"]),
                        os.path.join(target, "model.tflite"))
        for name in manifest.get("assets", []):
            shutil.copyfile(os.path.join(tflite_uri, ASSETS, name), os.path.join(target, name))
        info = {"variant": variant["name"], "technique": variant["technique"],
                "conversion": variant["conversion"], "metric_name": results["metric_name"],
                "metric": result["metric"], "reference_metric": results["reference_metric"],
                "size_bytes": result["size_bytes"], "gzip_bytes": result["gzip_bytes"],
                "latency_p50_ms": result["latency_p50_ms"],
                "latency_p90_ms": result["latency_p90_ms"]}
        if "agreement" in result:
            info["agreement_with_saved_model"] = result["agreement"]
        with open(os.path.join(target, "model.json"), "w") as f:
            json.dump(info, f, indent=2)
        pushed.append(variant["name"])
    with open(os.path.join(bundle_dir, "bundle.json"), "w") as f:
        json.dump({"variants": pushed, "recommended": choose(results)}, f, indent=2)
    return pushed


def _blessed(artifact) -> bool:
    return bool(artifact.get_int_custom_property("blessed"))


@tfx.dsl.components.component
def MobilePusher(tflite_models: InputArtifact[TFLiteModels],
                 mobile_blessing: InputArtifact[MobileBlessing],
                 model_blessing: InputArtifact[standard_artifacts.ModelBlessing],
                 bundle: OutputArtifact[MobileBundle],
                 config: Parameter[str]) -> None:
    """Pushes the blessed variants as `<base>/<version>/`, atomically (staging + rename)."""
    base = json.loads(config)["base_directory"]
    if not (_blessed(model_blessing) and _blessed(mobile_blessing)):
        bundle.set_int_custom_property("pushed", 0)
        print("    mobile bundle: nothing pushed (no blessed model or variant)", flush=True)
        return
    results = json.loads(mobile_blessing.get_string_custom_property("results"))
    with tempfile.TemporaryDirectory() as staging:
        pushed = build_bundle(tflite_models.uri, results, staging)
        destination, version = push_atomically(staging, base)
    shutil.copytree(destination, bundle.uri, dirs_exist_ok=True)
    bundle.set_int_custom_property("pushed", 1)
    bundle.set_string_custom_property("pushed_destination", destination)
    bundle.set_string_custom_property("pushed_version", version)
    bundle.set_string_custom_property("variants", ",".join(pushed))
    print(f"    mobile bundle: {', '.join(pushed)} → {destination}", flush=True)
