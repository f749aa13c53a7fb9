"""models.features.one_per_example: the raw-feature reading every family's Transform shares."""
import tensorflow as tf

from models.features import one_per_example


def test_dense_features_become_one_value_per_example():
    assert one_per_example(tf.constant([[b"a"], [b"b"]])).numpy().tolist() == [b"a", b"b"]


def test_absent_optional_values_take_the_default():
    sparse = tf.SparseTensor(indices=[[0, 0], [2, 0]], values=[b"x", b"z"], dense_shape=[3, 1])
    assert one_per_example(sparse).numpy().tolist() == [b"x", b"", b"z"]
    ints = tf.SparseTensor(indices=[[1, 0]], values=tf.constant([7], tf.int64),
                           dense_shape=[2, 1])
    assert one_per_example(ints, default=0).numpy().tolist() == [0, 7]


def test_a_batch_where_no_example_has_the_feature_still_has_one_value_each():
    empty = tf.SparseTensor(indices=tf.zeros([0, 2], tf.int64), values=tf.constant([], tf.string),
                            dense_shape=[3, 0])
    assert one_per_example(empty).numpy().tolist() == [b"", b"", b""]
