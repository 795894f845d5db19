"""Who may feed this deployment: only our SP-API application, only our sellers.

Amazon delivers to the intake queue what any SP-API application subscribed to it sends; the
queue policy (infra/template.yaml) admits Amazon's notification account, which every
application shares. So the intake admits a notification only when
- its `NotificationMetadata.ApplicationId` is the deployment's (stored in the state table by
  `python -m infra.sellers set-app --application-id`, or from the replay world's
  `applicationId`); with none stored the check is off, and says so (`/health`, the replay
  summary);
- the seller it names, if any, is registered (`make add-seller`, or the world's sellers).
Anything else is refused before a flow sees it (`NotAdmitted`, recorded as kind "refused"): it
is never processed and its seller is never polled.

Both are read from the state table once a minute per container, and again when a notification
names a seller not in the list read, at most every MISS_REFRESH_SECONDS (a seller just added is
admitted within seconds; a flood of strangers costs one read every ten seconds).
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from chalicelib.core.envelope import Notification
from chalicelib.core.errors import NotAdmitted
from chalicelib.core.fields import quote

REFRESH_SECONDS = 60.0
MISS_REFRESH_SECONDS = 10.0


@dataclass
class Admission:
    """`read()` → (the application id or None, the registered seller ids)."""

    read: Callable[[], tuple[str | None, frozenset[str]]]
    clock: Callable[[], float] = time.monotonic
    _known: tuple[str | None, frozenset[str]] | None = field(default=None, init=False)
    _read_at: float = field(default=float("-inf"), init=False)

    def _current(self, refresh: bool = False) -> tuple[str | None, frozenset[str]]:
        moment = self.clock()
        if self._known is None or moment - self._read_at > REFRESH_SECONDS or refresh:
            self._known, self._read_at = self.read(), moment
        return self._known

    @property
    def application_check(self) -> bool:
        return self._current()[0] is not None

    @property
    def sellers(self) -> frozenset[str]:
        return self._current()[1]

    @property
    def seller_count(self) -> int:
        return len(self.sellers)

    def admit(self, notification: Notification) -> None:
        application_id, sellers = self._current()
        if application_id is not None and not notification.via_eventbridge:
            # EventBridge events come through the partner event source of our own application.
            if notification.application_id != application_id:
                raise NotAdmitted(f"{notification.label}: sent for another SP-API application "
                                  f"(ApplicationId {quote(notification.application_id)}), not this deployment's")
        seller_id = notification.seller_id
        if seller_id is None or seller_id in sellers:
            return
        if self.clock() - self._read_at > MISS_REFRESH_SECONDS:  # a seller added since the last read
            application_id, sellers = self._current(refresh=True)
        if seller_id not in sellers:
            raise NotAdmitted(f"{notification.label}: seller {quote(seller_id)} is not registered in this "
                              "deployment (make add-seller)")
