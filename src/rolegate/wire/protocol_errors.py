"""What every model-driven protocol (Query, JSON) shares about errors: the raisable error a
parser or handler gives the client, and what a service model says about an error shape."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from botocore.model import NoShapeFoundError, ServiceModel, Shape  # type: ignore[import-untyped]

__all__ = ["ModeledError", "ProtocolError", "modeled_error"]


class ProtocolError(Exception):
    """An error to return to the client in its protocol's error shape."""

    def __init__(self, code: str, message: str, http_status: int = 400, *, sender: bool = True):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.http_status = http_status
        self.sender = sender

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.code!r}, {self.message!r}, {self.http_status!r}, "
            f"sender={self.sender!r})"
        )


@dataclass(frozen=True, slots=True)
class ModeledError:
    """What the model says about an error shape: its wire code, HTTP status and fault side."""

    shape_name: str
    code: str
    http_status: int
    sender_fault: bool


def modeled_error(model: ServiceModel, shape_name: str) -> ModeledError:
    """Code, HTTP status and fault side of the error shape ``shape_name`` (KeyError when the
    model has no such error shape)."""
    try:
        shape: Shape = model.shape_for(shape_name)
    except NoShapeFoundError:
        raise KeyError(shape_name) from None
    if not shape.metadata.get("exception"):
        raise KeyError(f"{shape_name} is not an error shape")
    info: Mapping[str, Any] = shape.metadata.get("error") or {}
    return ModeledError(
        shape_name=shape_name,
        code=str(info.get("code", shape_name)),
        http_status=int(info.get("httpStatusCode", 400)),
        sender_fault=bool(info.get("senderFault", True)),
    )
