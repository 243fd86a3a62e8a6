"""The integrations service's secret box: CRM_SECRET_KEYS, plus the key its migration generated.

One box for everything integrations keeps sealed at rest (webhook signing secrets, connection
passwords). The configured keys come first (the first seals), then the generated key, so values
sealed before keys were configured still open and `crm admin rotate-secrets` re-seals them under
the first configured key. The generated key is read on first use: the module is built before the
migrations may have run.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.orm import Session

from crmkit.db import Database
from crmkit.secretbox import SecretBox
from services.integrations.store import SecretKeyRow

GENERATED_KEY = "generated"


def generated_key(session: Session) -> str | None:
    return session.scalars(sa.select(SecretKeyRow.value).where(SecretKeyRow.name == GENERATED_KEY)).first()


class LazySecretBox(SecretBox):
    def __init__(self, database: Database, configured: Sequence[str]) -> None:
        if configured:
            SecretBox(configured)  # a malformed key fails at start, not at the first secret
        self.database = database
        self.configured = tuple(configured)
        self._box: SecretBox | None = None

    @property
    def box(self) -> SecretBox:
        if self._box is None:
            with self.database.transaction() as session:
                generated = generated_key(session)
            self._box = SecretBox([*self.configured, *([generated] if generated else [])])
        return self._box

    @property
    def current_key_id(self) -> str:
        return self.box.current_key_id

    def seal(self, plaintext: str) -> str:
        return self.box.seal(plaintext)

    def open(self, sealed: str) -> str:
        return self.box.open(sealed)

    def rotate(self, sealed: str) -> str:
        return self.box.rotate(sealed)

    def key_id_of(self, sealed: str) -> str:
        return self.box.key_id_of(sealed)
