"""Bitrix24 errors: `{"error", "error_description"}` bodies, raised from any method."""

from __future__ import annotations

from funnelhouse.simulator.emulators.base import Response, dumps

JSON = "application/json; charset=utf-8"


class ApiError(Exception):
    """A method's failure; the router answers it with `response()` (in a batch: result_error)."""

    def __init__(self, status: int, code: str, description: str):
        super().__init__(description)
        self.status, self.code, self.description = status, code, description

    def response(self) -> Response:
        return error(self.status, self.code, self.description)


def error(status: int, code: str, description: str) -> Response:
    return Response(
        status, dumps({"error": code, "error_description": description}, ascii_only=True), JSON
    )
