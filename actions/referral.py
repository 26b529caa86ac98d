"""Words for a referral: the body the routing policy chose, from the
directory of services, with only confirmed contact details.

A broken directory file must not silence the assistant: the error is logged
(and `make check-services` explains it) and residents are sent to 12348.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from actions.routing_policy import STREET_COMMITTEE
from knowledge_base.services import Directory, DirectoryError, load_directory
from settings import get_settings

log = logging.getLogger(__name__)

GENERIC_STREET_COMMITTEE = "所在街道人民调解委员会（综合网格+人民调解，每个社区至少有一名网格员兼任人民调解员）"
FALLBACK_CONTACT = "具体地址、电话和开放时间可拨打12348公共法律服务热线查询"

_lock = threading.Lock()
_directory: Directory | None = None
_failed = False


def directory() -> Directory | None:
    global _directory, _failed
    with _lock:
        if _directory is None and not _failed:
            try:
                _directory = load_directory(get_settings().services_file)
            except DirectoryError as exc:
                _failed = True
                log.error("directory of services rejected, referring residents to 12348: %s", exc)
        return _directory


@dataclass(frozen=True)
class Referral:
    name: str  # 赤岗街道人民调解委员会
    handles: str  # what it does, for the resident
    contact: str  # confirmed details, or where to ask

    def line(self) -> str:
        return f"{self.name}（{self.handles}）。{self.contact}。"


def referral(body: str, street: str | None) -> Referral:
    """The body to name: a service id of the directory, or the street committee."""
    found = directory()
    service = None
    if found is not None:
        if body == STREET_COMMITTEE:
            service = found.street_committee(street) if street else None
        else:
            try:
                service = found.get(body)
            except KeyError:
                log.error("routing policy names %r, which the directory lacks", body)
    if service is None:
        name = GENERIC_STREET_COMMITTEE if body == STREET_COMMITTEE else "12348公共法律服务热线"
        return Referral(name, "人民调解不收费" if body == STREET_COMMITTEE else "可以帮您转介", FALLBACK_CONTACT)
    return Referral(service.name, service.handles, service.contact_line())
