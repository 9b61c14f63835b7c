"""Listing review rules: facts in, an explained decision out.

Pure by contract: this package imports nothing from the project and no web,
database or queue library (enforced by import-linter). The rule catalogue
arrives with the catalogue issue.
"""

__all__: list[str] = []
