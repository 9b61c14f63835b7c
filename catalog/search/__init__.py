"""Catalogue search: one interface, two backends (PostgreSQL by default, Meilisearch).

``documents`` maps a listing to its search document, ``text`` turns Chinese
text into tokens alike for documents and queries, ``postgres`` and ``meili``
serve queries, ``sync`` keeps documents fresh.
"""

from catalog.search.documents import Document, build_document
from catalog.search.query import (
    SORTS,
    FacetValue,
    Hit,
    SearchBackend,
    SearchQuery,
    SearchResult,
    synonym_map,
)

__all__ = [
    "SORTS",
    "Document",
    "FacetValue",
    "Hit",
    "SearchBackend",
    "SearchQuery",
    "SearchResult",
    "build_document",
    "synonym_map",
]
