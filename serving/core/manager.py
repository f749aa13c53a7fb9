"""Aspired-versions manager: loads what the source aspires to, unloads the rest only once a
newer aspired version is AVAILABLE (so there is always a version serving), and answers
lookups by version, label or latest.

States follow TF Serving's ModelVersionStatus: START → LOADING → AVAILABLE → UNLOADING → END;
a version that fails to load ends in END with its error, and the versions already serving
keep serving.
"""
from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable
from typing import Any

import grpc
from tensorflow_serving.apis import get_model_status_pb2, model_pb2
from tensorflow_serving.config import model_server_config_pb2

from serving.config.errors import ConfigError
from serving.config.model_config import validate_model_server_config
from serving.core import source
from serving.core.errors import ServingError, error_from_exception, invalid, not_found
from serving.core.loader import Servable, load_servable

log = logging.getLogger("serving.manager")

State = get_model_status_pb2.ModelVersionStatus.State


@dataclasses.dataclass
class VersionState:
    version: int
    path: str
    state: int = State.START
    error: ServingError | None = None
    servable: Servable | None = None
    fingerprint: tuple = ()


@dataclasses.dataclass
class ModelEntry:
    config: model_server_config_pb2.ModelConfig
    versions: dict[int, VersionState] = dataclasses.field(default_factory=dict)
    labels: dict[str, int] = dataclasses.field(default_factory=dict)


def _spec_text(name: str, version: int | None) -> str:
    return f"Specific({name}, {version})" if version is not None else f"Latest({name})"


class ModelManager:
    """Holds every configured model's versions; thread-safe lookups during loads/unloads."""

    def __init__(self, config: model_server_config_pb2.ModelServerConfig,
                 warmup: Callable[[Servable, int], Any] | None = None,
                 prepare: Callable[[Servable], None] | None = None,
                 release: Callable[[Servable], None] | None = None,
                 allow_labels_for_unavailable: bool = False, prefer_tflite: bool = False):
        """`warmup(servable, iterations)` replays a new version's warm-up records before it
        becomes AVAILABLE (None: no warm-up; iterations 0: the model's config sets none);
        `prepare` / `release` attach and detach batching."""
        validate_model_server_config(config)
        self._lock = threading.RLock()
        self._load_lock = threading.Lock()  # one poll / reload at a time
        self._models: dict[str, ModelEntry] = {}
        self._warmup = warmup
        self._prepare = prepare
        self._release = release
        self._allow_unavailable_labels = allow_labels_for_unavailable
        self._prefer_tflite = prefer_tflite
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pending_config = config

    # --- lifecycle -------------------------------------------------------------------------

    def start(self, poll_seconds: float = 1.0) -> None:
        """Loads the initial versions synchronously, then polls the file system in a thread."""
        self.reload_config(self._pending_config)
        if poll_seconds > 0:
            self._thread = threading.Thread(target=self._poll_loop, args=(poll_seconds,),
                                            name="fs-poll", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        with self._lock:
            entries = list(self._models.values())
        for entry in entries:
            for state in entry.versions.values():
                self._unload(state)

    def _poll_loop(self, seconds: float) -> None:
        while not self._stop.wait(seconds):
            try:
                self.poll_once()
            except Exception:  # noqa: BLE001 - polling must survive anything the disk does
                log.exception("file-system poll failed")

    # --- config ----------------------------------------------------------------------------

    def reload_config(self, config: model_server_config_pb2.ModelServerConfig) -> None:
        """Applies a new model list: adds, updates and removes models, then checks labels."""
        try:
            validate_model_server_config(config)
        except ConfigError as e:
            raise invalid(str(e)) from None
        with self._load_lock:
            wanted = {m.name: m for m in config.model_config_list.config}
            with self._lock:
                removed = [self._models.pop(n) for n in list(self._models) if n not in wanted]
                for name, model_config in wanted.items():
                    entry = self._models.get(name)
                    if entry is None:
                        self._models[name] = ModelEntry(config=model_config)
                    else:
                        entry.config = model_config
            for entry in removed:
                for state in entry.versions.values():
                    self._unload(state)
            self._poll_locked()
            self._apply_labels(wanted)

    def _apply_labels(self, configs: dict[str, model_server_config_pb2.ModelConfig]) -> None:
        with self._lock:
            for name, model_config in configs.items():
                entry = self._models[name]
                labels = dict(model_config.version_labels)
                for label, version in labels.items():
                    state = entry.versions.get(version)
                    ok = state is not None and state.state == State.AVAILABLE
                    if not ok and not self._allow_unavailable_labels \
                            and entry.labels.get(label) != version:
                        raise ServingError(
                            grpc.StatusCode.FAILED_PRECONDITION,
                            f"Request to assign label to version {version} of model {name}, "
                            "which is not currently available for inference")
                entry.labels = labels

    # --- polling ---------------------------------------------------------------------------

    def poll_once(self) -> None:
        with self._load_lock:
            self._poll_locked()

    def _poll_locked(self) -> None:
        with self._lock:
            entries = list(self._models.items())
        for name, entry in entries:
            aspired = source.aspired_versions(entry.config)
            for version, path in sorted(aspired.items()):
                self._maybe_load(name, entry, version, path)
            self._unload_unaspired(entry, aspired)

    def _maybe_load(self, name: str, entry: ModelEntry, version: int, path: str) -> None:
        fingerprint = source.version_fingerprint(path)
        with self._lock:
            state = entry.versions.get(version)
            if state is not None and state.state in (State.LOADING, State.AVAILABLE):
                return
            if state is not None and state.error is not None and state.fingerprint == fingerprint:
                return  # failed before and unchanged on disk: do not retry every poll
            state = VersionState(version=version, path=path, state=State.LOADING,
                                 fingerprint=fingerprint)
            entry.versions[version] = state
        log.info("loading %s version %d from %s", name, version, path)
        try:
            servable = load_servable(name, version, path, prepare=self._prepare,
                                     warmup=self._warmup_for(entry),
                                     prefer_tflite=self._prefer_tflite)
        except Exception as e:  # noqa: BLE001 - a broken version must not stop the server
            error = error_from_exception(e)
            log.warning("%s version %d failed to load: %s", name, version, error.message)
            with self._lock:
                state.state, state.error = State.END, error
            return
        with self._lock:
            state.servable, state.state = servable, State.AVAILABLE
        log.info("%s version %d is AVAILABLE", name, version)

    def _warmup_for(self, entry: ModelEntry) -> Callable[[Servable], Any] | None:
        if self._warmup is None:
            return None
        iterations = self._warmup_iterations(entry)
        return lambda servable: self._warmup(servable, iterations)

    @staticmethod
    def _warmup_iterations(entry: ModelEntry) -> int:
        """The model's model_warmup_options.num_request_iterations; 0 when it sets none."""
        # model_warmup_options is absent from the pip protos of some versions.
        fields = entry.config.DESCRIPTOR.fields_by_name
        if "model_warmup_options" not in fields:
            return 0
        options = entry.config.model_warmup_options
        return options.num_request_iterations.value if options.HasField(
            "num_request_iterations") else 0

    def _unload_unaspired(self, entry: ModelEntry, aspired: dict[int, str]) -> None:
        with self._lock:
            serving_aspired = any(s.state == State.AVAILABLE and v in aspired
                                  for v, s in entry.versions.items())
            # Availability first: keep old versions until an aspired one serves.
            if not serving_aspired:
                return
            going = [s for v, s in entry.versions.items()
                     if v not in aspired and s.state == State.AVAILABLE]
            for state in going:
                state.state = State.UNLOADING
        for state in going:
            self._unload(state)

    def _unload(self, state: VersionState) -> None:
        servable = state.servable
        with self._lock:
            state.servable = None
            if state.state != State.END:
                state.state = State.END
        # In-flight requests hold their own reference; they finish on the old version.
        if servable is not None:
            if self._release is not None:
                self._release(servable)

    # --- lookups ---------------------------------------------------------------------------

    def model_names(self) -> list[str]:
        with self._lock:
            return sorted(self._models)

    def servable(self, spec: model_pb2.ModelSpec) -> Servable:
        """The servable a ModelSpec asks for (version, label, or the latest AVAILABLE)."""
        name = spec.name
        choice = spec.WhichOneof("version_choice")
        with self._lock:
            entry = self._models.get(name)
            if choice == "version_label":
                if entry is None:
                    raise not_found(f"Servable not found for request: Latest({name})")
                if spec.version_label not in entry.labels:
                    raise invalid(f"Unrecognized servable version label: {spec.version_label}")
                version = entry.labels[spec.version_label]
            elif choice == "version":
                version = spec.version.value
            else:
                version = None
            if entry is not None:
                if version is None:
                    available = [v for v, s in entry.versions.items()
                                 if s.state == State.AVAILABLE]
                    if available:
                        return entry.versions[max(available)].servable
                else:
                    state = entry.versions.get(version)
                    if state is not None and state.state == State.AVAILABLE:
                        return state.servable
        raise not_found(f"Servable not found for request: {_spec_text(name, version)}")

    def status(self, spec: model_pb2.ModelSpec) -> get_model_status_pb2.GetModelStatusResponse:
        """GetModelStatus: one version (by number or label) or all known versions."""
        name = spec.name
        if not name:
            raise invalid("Missing model name in request.")
        choice = spec.WhichOneof("version_choice")
        response = get_model_status_pb2.GetModelStatusResponse()
        with self._lock:
            entry = self._models.get(name)
            if entry is None or not entry.versions:
                raise not_found(f"Could not find any versions of model {name}")
            if choice == "version":
                states = [entry.versions.get(spec.version.value)]
                if states[0] is None:
                    raise not_found(f"Could not find version {spec.version.value} of model "
                                    f"{name}")
            elif choice == "version_label":
                if spec.version_label not in entry.labels:
                    raise invalid(f"Unrecognized servable version label: {spec.version_label}")
                states = sorted(entry.versions.values(), key=lambda s: -s.version)
            else:
                states = sorted(entry.versions.values(), key=lambda s: -s.version)
            for state in states:
                item = response.model_version_status.add()
                item.version = state.version
                item.state = state.state
                item.status.SetInParent()  # TF Serving always writes the status object
                if state.error is not None:
                    item.status.error_code = state.error.code.value[0]
                    item.status.error_message = state.error.message
        return response

    def available_versions(self, name: str) -> list[int]:
        with self._lock:
            entry = self._models.get(name)
            if entry is None:
                return []
            return sorted(v for v, s in entry.versions.items() if s.state == State.AVAILABLE)
