"""The reference for the HTTP benchmark: a bare Litestar app with one JSON endpoint."""

from litestar import Litestar, get


@get("/health", sync_to_thread=False)
def health() -> dict[str, str]:
    return {"status": "ok"}


app = Litestar([health])
