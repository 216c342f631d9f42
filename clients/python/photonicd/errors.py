"""Exceptions raised by the photonicd client, one per gRPC status a caller
is expected to handle. Every one carries the daemon's message, which names
the field, channel or limit at fault."""

import grpc


class PhotonicError(Exception):
    """Base class: a call the daemon refused or could not serve."""

    def __init__(self, code, message):
        super().__init__(f"{code.name}: {message}")
        self.code = code
        self.message = message


class InvalidArgument(PhotonicError):
    """A malformed request (wrong length, NaN, out-of-range value)."""


class LimitExceeded(PhotonicError):
    """FAILED_PRECONDITION: over a heater limit or the power budget, the
    chip is leased to a training session, or a model the chip cannot run or
    that is not deployed."""


class NotFound(PhotonicError):
    """An unknown session or model, or a chip without calibration."""


class AlreadyExists(PhotonicError):
    """A model id that is taken."""


class Busy(PhotonicError):
    """RESOURCE_EXHAUSTED: another in silico training is running."""


class Unavailable(PhotonicError):
    """The daemon cannot be reached, or its hardware is gone."""


class Unauthenticated(PhotonicError):
    """No valid bearer token."""


class PermissionDenied(PhotonicError):
    """The token's role may not make this call."""


_BY_CODE = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgument,
    grpc.StatusCode.OUT_OF_RANGE: InvalidArgument,
    grpc.StatusCode.FAILED_PRECONDITION: LimitExceeded,
    grpc.StatusCode.NOT_FOUND: NotFound,
    grpc.StatusCode.ALREADY_EXISTS: AlreadyExists,
    grpc.StatusCode.RESOURCE_EXHAUSTED: Busy,
    grpc.StatusCode.UNAVAILABLE: Unavailable,
    grpc.StatusCode.UNAUTHENTICATED: Unauthenticated,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDenied,
}


def from_rpc_error(error: grpc.RpcError) -> PhotonicError:
    """The client exception for a failed call."""
    code = error.code()
    return _BY_CODE.get(code, PhotonicError)(code, error.details())
