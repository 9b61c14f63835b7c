"""Who is calling: the authenticated user (or API token) and its organisation."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from mall.auth.models import OrgKind


@dataclass(frozen=True, slots=True)
class Principal:
    user_id: uuid.UUID
    email: str
    org_id: uuid.UUID
    org_kind: OrgKind
    org_name: str
    # Set when the call carries an API token rather than a login token.
    api_token_id: uuid.UUID | None = None

    @property
    def actor_kind(self) -> str:
        return "api_token" if self.api_token_id else "user"

    def is_kind(self, *kinds: OrgKind) -> bool:
        return self.org_kind in kinds
