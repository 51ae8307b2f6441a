"""The S3 REST endpoint (path-style addressing on the shared endpoint)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ..ids import request_id as new_request_id
from ..server.gateway import Gateway

__all__ = ["S3Endpoint"]


class S3Endpoint:
    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    async def handle(self, request: Request) -> Response:
        rid = new_request_id()
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>NotImplemented</Code>'
            "<Message>A header you provided implies functionality that is not implemented"
            f"</Message><RequestId>{rid}</RequestId></Error>"
        )
        return Response(body, 501, {"Content-Type": "application/xml", "x-amz-request-id": rid})
