"""EC2's error codes (`<Response><Errors><Error><Code>`), raised as `ServiceError`s."""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import ServiceError

__all__ = [
    "ec2_error",
    "incorrect_state",
    "invalid_parameter",
    "malformed_instance_id",
    "missing_parameter",
    "unknown_instances",
]


def ec2_error(code: str, message: str, status: int = 400) -> ServiceError:
    return ServiceError(message, code=code, http_status=status)


def invalid_parameter(message: str) -> ServiceError:
    return ec2_error("InvalidParameterValue", message)


def missing_parameter(name: str) -> ServiceError:
    return ec2_error("MissingParameter", f"The request must contain the parameter {name}")


def malformed_instance_id(instance_id: str) -> ServiceError:
    return ec2_error("InvalidInstanceID.Malformed", f'Invalid id: "{instance_id}"')


def unknown_instances(instance_ids: Sequence[str]) -> ServiceError:
    if len(instance_ids) == 1:
        message = f"The instance ID '{instance_ids[0]}' does not exist"
    else:
        message = f"The instance IDs '{', '.join(instance_ids)}' do not exist"
    return ec2_error("InvalidInstanceID.NotFound", message)


def incorrect_state(instance_id: str, verb: str) -> ServiceError:
    return ec2_error(
        "IncorrectInstanceState",
        f"The instance '{instance_id}' is not in a state from which it can be {verb}.",
    )
