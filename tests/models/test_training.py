"""Shared training helpers: an interrupted fit resumes from its last finished epoch."""
import numpy as np
import pytest
import tf_keras as keras

from models.training import backup_dir_for, fit_steps


class _StopAt(keras.callbacks.Callback):
    def __init__(self, epoch: int) -> None:
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            raise KeyboardInterrupt  # a user's Ctrl-C, or a killed worker


class _Epochs(keras.callbacks.Callback):
    def __init__(self) -> None:
        super().__init__()
        self.seen: list[int] = []

    def on_epoch_begin(self, epoch, logs=None):
        self.seen.append(epoch)


def _model() -> keras.Model:
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    model.compile("sgd", "sparse_categorical_crossentropy")
    return model


def _data():
    import tensorflow as tf

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(64, 4)).astype("float32"), rng.integers(0, 3, 64)
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(8).repeat()


def test_interrupted_fit_resumes_from_last_finished_epoch(tmp_path):
    backup = str(tmp_path / "backup")
    first = _model()
    with pytest.raises(KeyboardInterrupt):
        fit_steps(first, _data(), _data(), train_steps=8, eval_steps=1,
                  log_dir=str(tmp_path / "logs"), backup_dir=backup, epochs=4,
                  extra_callbacks=[_StopAt(2)])
    finished_weights = [w.copy() for w in first.get_weights()]

    second, epochs = _model(), _Epochs()
    restored = []

    class _Capture(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            restored.extend(w.copy() for w in self.model.get_weights())

    fit_steps(second, _data(), _data(), train_steps=8, eval_steps=1,
              log_dir=str(tmp_path / "logs"), backup_dir=backup, epochs=4,
              extra_callbacks=[_Capture(), epochs])
    assert epochs.seen == [2, 3]  # epochs 0 and 1 finished before the interruption
    for a, b in zip(restored, finished_weights, strict=True):
        np.testing.assert_allclose(a, b)
    assert not (tmp_path / "backup" / "chief").exists()  # removed once the fit completes


def test_backup_dirs_differ_per_setup(tmp_path):
    a = backup_dir_for(str(tmp_path), {"model": "mobilenet_v1", "alpha": 0.25}, 100)
    assert a == backup_dir_for(str(tmp_path), {"alpha": 0.25, "model": "mobilenet_v1"}, 100)
    assert a != backup_dir_for(str(tmp_path), {"model": "inception_v3", "alpha": 0.25}, 100)
    assert a != backup_dir_for(str(tmp_path), {"model": "mobilenet_v1", "alpha": 0.25}, 200)


def test_autograph_leaves_tf_keras_alone():
    from tensorflow.python.autograph.impl import conversion

    assert conversion.is_allowlisted(keras.layers.Dense.__call__)
    assert not conversion.is_allowlisted(_model)
