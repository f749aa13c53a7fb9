"""Request failures: errors carrying a gRPC status code, mapped to HTTP the way TF Serving maps
them. (A refused configuration is serving.config.errors.ConfigError.)"""
from __future__ import annotations

import grpc

# TF Serving's http_server.cc mapping from canonical codes to HTTP status codes.
_HTTP_STATUS = {
    grpc.StatusCode.OK: 200,
    grpc.StatusCode.CANCELLED: 499,
    grpc.StatusCode.UNKNOWN: 500,
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.FAILED_PRECONDITION: 400,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.UNIMPLEMENTED: 501,
    grpc.StatusCode.INTERNAL: 500,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DATA_LOSS: 500,
    grpc.StatusCode.UNAUTHENTICATED: 401,
}


class ServingError(Exception):
    """A request failure: a canonical status code and TF Serving's message."""

    def __init__(self, code: grpc.StatusCode, message: str):
        super().__init__(message)
        self.code = code
        self.message = message

    @property
    def http_status(self) -> int:
        return _HTTP_STATUS.get(self.code, 500)

    @property
    def error_code_name(self) -> str:
        """The name used in tensorflow.error.Code (status JSON, GetModelStatus)."""
        return self.code.name


def invalid(message: str) -> ServingError:
    return ServingError(grpc.StatusCode.INVALID_ARGUMENT, message)


def not_found(message: str) -> ServingError:
    return ServingError(grpc.StatusCode.NOT_FOUND, message)


def failed_precondition(message: str) -> ServingError:
    return ServingError(grpc.StatusCode.FAILED_PRECONDITION, message)


def error_from_exception(e: BaseException) -> ServingError:
    """A TensorFlow or Python failure as a ServingError with the matching canonical code."""
    if isinstance(e, ServingError):
        return e
    # Imported here: this module (a leaf every layer uses) stays importable without TensorFlow.
    import tensorflow as tf

    if isinstance(e, tf.errors.OpError):
        codes = {
            tf.errors.InvalidArgumentError: grpc.StatusCode.INVALID_ARGUMENT,
            tf.errors.NotFoundError: grpc.StatusCode.NOT_FOUND,
            tf.errors.FailedPreconditionError: grpc.StatusCode.FAILED_PRECONDITION,
            tf.errors.OutOfRangeError: grpc.StatusCode.OUT_OF_RANGE,
            tf.errors.ResourceExhaustedError: grpc.StatusCode.RESOURCE_EXHAUSTED,
            tf.errors.UnimplementedError: grpc.StatusCode.UNIMPLEMENTED,
            tf.errors.DataLossError: grpc.StatusCode.DATA_LOSS,
            tf.errors.DeadlineExceededError: grpc.StatusCode.DEADLINE_EXCEEDED,
            tf.errors.UnavailableError: grpc.StatusCode.UNAVAILABLE,
        }
        code = next((c for t, c in codes.items() if isinstance(e, t)), grpc.StatusCode.UNKNOWN)
        return ServingError(code, e.message.strip())
    if isinstance(e, FileNotFoundError):
        return ServingError(grpc.StatusCode.NOT_FOUND, str(e))
    if isinstance(e, (ValueError, TypeError)):
        return invalid(str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__)
    return ServingError(grpc.StatusCode.UNKNOWN, f"{type(e).__name__}: {e}")
