"""The OpenAPI document a client developer generates code from.

Written once for every route rather than per handler, from what the routes
already declare: a guarded operation needs the bearer token (a JWT from
``POST /api/v1/auth/login`` or a ``mall_…`` API token); every error answer is a
problem-details body; a handler that reads its body itself (CSV imports) or
answers a file names the media types through ``operation_class``. The docs
pages (Scalar at ``/schema``, Swagger UI at ``/schema/swagger``) load their
scripts and styles from this application: intranets have no CDN.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import msgspec
from litestar import Litestar
from litestar.openapi import OpenAPIConfig, ResponseSpec
from litestar.openapi.plugins import ScalarRenderPlugin, SwaggerRenderPlugin
from litestar.openapi.spec import (
    Components,
    OpenAPIFormat,
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    RequestBody,
    Schema,
    SecurityScheme,
)
from litestar.routes import HTTPRoute
from litestar.static_files import create_static_files_router
from litestar.types import Empty

from mall.problems import PROBLEM_MEDIA_TYPE

ASSETS_DIR = Path(__file__).parent / "docs_assets"
ASSETS_PATH = "/schema/assets"
BEARER = "bearer"
# For an operation open to anyone that does more for a signed-in caller.
OPTIONAL_BEARER: list[dict[str, list[str]]] = [{BEARER: []}, {}]
# What qualification documents and case evidence may be (the tables check the same).
DOCUMENT_MEDIA_TYPES = ("application/pdf", "image/jpeg", "image/png")

_FAVICON = f"<link rel='icon' type='image/png' href='{ASSETS_PATH}/favicon-32x32.png'>"


class FieldProblem(msgspec.Struct, omit_defaults=True):
    """One invalid field: where it was sent and what is wrong with it."""

    field: str | None
    message: str
    source: str | None = None
    message_zh: str | None = None


class ProblemDetails(msgspec.Struct, omit_defaults=True):
    """RFC 9457 problem details, as every error of this API is written."""

    type: str
    title: str
    status: int
    detail: str
    code: str
    instance: str | None = None
    request_id: str | None = None
    errors: list[FieldProblem] | None = None


# Status → when an operation answers it.
_PROBLEM_WHEN: dict[int, str] = {
    400: "The request is malformed: a body that does not parse as its media type.",
    401: "No valid bearer token: absent, expired, revoked or malformed.",
    403: "The caller's organisation may not do this.",
    404: "No such object, or not one the caller may see.",
    409: "The object's current state does not allow this.",
    413: "The body is larger than allowed.",
    422: "A parameter or field breaks the schema or a rule; `errors` names each one.",
    429: "Too many requests; retry after `Retry-After` seconds.",
}
_WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_THROTTLED = ("/api/v1/public", "/api/v1/auth/login")


def _problem(status: int) -> ResponseSpec:
    return ResponseSpec(
        data_container=ProblemDetails,
        description=_PROBLEM_WHEN[status],
        media_type=PROBLEM_MEDIA_TYPE,
        generate_examples=False,
    )


def _problem_statuses(
    route: HTTPRoute, method: str, protected: bool, body: bool, parameters: bool
) -> list[int]:
    statuses = [422]
    if parameters and not body:  # a value that does not parse at all
        statuses.append(400)
    if protected:
        statuses += [401, 403]
    if route.path_parameters:
        statuses.append(404)
    if method in _WRITES:
        statuses.append(409)
    if body:
        statuses += [400, 413]
    if route.path.startswith(_THROTTLED):
        statuses.append(429)
    return sorted(statuses)


def _takes_body(handler: Any) -> bool:
    if "data" in handler.parsed_fn_signature.parameters:
        return True
    operation_class = handler.operation_class
    return bool(getattr(operation_class, "request_media_types", ()))


def document_routes(app: Litestar) -> None:
    """Security and problem-details answers on every operation the document shows."""
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for method, (handler, model) in route.route_handler_map.items():
            if method == "OPTIONS" or not handler.resolve_include_in_schema():
                continue
            protected = bool(handler.resolve_guards())
            if protected and not handler.security:
                handler.security = [{BEARER: []}]
                handler._resolved_security = Empty  # resolved again from the layers
            responses = dict(handler.responses or {})
            parameters = bool(
                model.expected_query_params
                or model.expected_path_params
                or model.expected_header_params
            )
            body = _takes_body(handler)
            for status in _problem_statuses(route, method, protected, body, parameters):
                responses.setdefault(status, _problem(status))
            handler.responses = responses


def raw_body(
    media_types: Mapping[str, Schema], description: str, *, binary: Sequence[str] = ()
) -> type[Operation]:
    """An ``operation_class`` for a handler that reads its body itself (CSV, JSON lines):
    the document shows the body it accepts. ``binary`` as in :func:`file_answer`."""
    return _operation(media_types, description, binary, "")


def file_answer(*media_types: str, description: str = "The file.") -> type[Operation]:
    """An ``operation_class`` for a handler answering a file: its 200 names the media types."""
    return _operation({}, "", media_types, description)


BINARY = Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.BINARY)


def _operation(
    body: Mapping[str, Schema], body_description: str, binary: Sequence[str], file_description: str
) -> type[Operation]:
    @dataclasses.dataclass
    class DocumentedOperation(Operation):
        request_media_types = tuple(body)

        def __post_init__(self) -> None:
            if body:
                self.request_body = RequestBody(
                    content={media: OpenAPIMediaType(schema=s) for media, s in body.items()},
                    description=body_description,
                    required=True,
                )
            if binary and self.responses is not None:
                self.responses["200"] = OpenAPIResponse(
                    description=file_description or "The file.",
                    content={media: OpenAPIMediaType(schema=BINARY) for media in binary},
                )

    return DocumentedOperation


def openapi_config(version: str) -> OpenAPIConfig:
    """The document's metadata, the bearer scheme, and docs pages served without a CDN."""
    return OpenAPIConfig(
        title="政府采购电子卖场 API · Government procurement e-mall API",
        version=version,
        description=(
            "所有时间均为北京时间（+08:00）。列表分页：`page`、`page_size`，"
            "返回 `items`、`page`、`page_size`、`next_page`。错误为 RFC 9457 问题详情。\n\n"
            "Every timestamp is Beijing time (+08:00). Lists are paged with `page` and "
            "`page_size` and answer `items`, `page`, `page_size` and `next_page` (null on the "
            "last page); unknown query parameters are 422. Errors are RFC 9457 problem "
            "details (`application/problem+json`) with a stable `code`."
        ),
        path="/schema",
        use_handler_docstrings=True,
        components=Components(
            security_schemes={
                BEARER: SecurityScheme(
                    type="http",
                    scheme="bearer",
                    bearer_format="JWT",
                    description=(
                        "An access token from POST /api/v1/auth/login, or an API token "
                        "(mall_…) for a supplier's or operator's system."
                    ),
                )
            }
        ),
        render_plugins=[
            ScalarRenderPlugin(
                js_url=f"{ASSETS_PATH}/scalar-standalone.js",
                css_url=f"{ASSETS_PATH}/scalar.css",
                favicon=_FAVICON,
                options={"withDefaultFonts": False, "hideClientButton": True},
            ),
            SwaggerRenderPlugin(
                path="/swagger",
                js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
                css_url=f"{ASSETS_PATH}/swagger-ui.css",
                standalone_preset_js_url=f"{ASSETS_PATH}/swagger-ui-standalone-preset.js",
                favicon=_FAVICON,
            ),
        ],
    )


def docs_assets_router() -> Any:
    """The vendored scripts and styles of the docs pages, under ``/schema/assets``."""
    return create_static_files_router(
        path=ASSETS_PATH,
        directories=[ASSETS_DIR],
        include_in_schema=False,
        name="docs_assets",
    )
