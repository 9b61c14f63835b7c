"""Categories, listings and their revisions, images, bulk import, search indexing.

Never imports ``mall``; receives settings and sessions from it.
"""

__all__: list[str] = []
