"""Keeps residents' personal data out of logs.

Handlers log ids and counts, never message text; this filter is the safety
net for anything that slips through (an exception message quoting input, a
library's debug line): mainland mobile numbers and ID-card numbers are masked
in every record before it is written.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

# Bounded by digits only: 「ID110101199003071234A栋」 must be masked too (a
# letter beside the number does not make it something else; found by
# tests/bot/test_hostile_text.py). Masking too much in a log costs nothing.
_ID_CARD = re.compile(r"(?<!\d)[1-9]\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])\d{2}\d{3}[\dXx](?!\d)")
_MOBILE = re.compile(r"(?<!\d)(?:\+?86[- ]?)?1[3-9]\d[- ]?\d{4}[- ]?\d{4}(?!\d)")


def mask_personal_data(text: str) -> str:
    text = _ID_CARD.sub("[身份证号已隐去]", text)
    return _MOBILE.sub("[手机号已隐去]", text)


def _rewrite_parts(record: logging.LogRecord, rewrite: Callable[[str], str]) -> None:
    """Apply `rewrite` to the message and to each string argument, keeping the
    arguments' shape: some formatters read them (uvicorn's access log unpacks
    five), so replacing them with None breaks the line (found by the fuzz run)."""
    if isinstance(record.msg, str):
        record.msg = rewrite(record.msg)
    if isinstance(record.args, tuple):
        record.args = tuple(rewrite(a) if isinstance(a, str) else a for a in record.args)
    elif isinstance(record.args, dict):
        record.args = {k: rewrite(v) if isinstance(v, str) else v for k, v in record.args.items()}


class PersonalDataFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is still better logged than lost
            return True
        if mask_personal_data(message) == message:
            return True
        _rewrite_parts(record, mask_personal_data)
        try:
            message = record.getMessage()
        except Exception:
            message = ""
        if mask_personal_data(message) != message:  # a number spread over message and arguments
            record.msg, record.args = mask_personal_data(message), ()
        return True


# what uvicorn's access log may not show of a request's path: the resident's id, and the
# signed link that opens a resident's drafted application for whoever holds it
_RESIDENT_SEGMENT = re.compile(r"^(/api/v1/(?:conversations|drafts)/)[^/?]+")


def loggable_path(path: str) -> str:
    """A request's path as the access log shows it: without its query (`?user_id=`, the
    platforms' signatures) and with '…' for a resident's id or a draft's link in it. An
    operator reading the log learns what was asked and how it went, not of whom."""
    return _RESIDENT_SEGMENT.sub(r"\1…", path.split("?", 1)[0])


class AccessPathFilter(logging.Filter):
    """uvicorn's access records carry (client, method, path with query, version, status)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5 and isinstance(args[2], str):
            record.args = (*args[:2], loggable_path(args[2]), *args[3:])
        return True


LONG_RECORD = 1500  # characters; Rasa logs whole trackers (residents' text) when an action fails


class LongRecordFilter(logging.Filter):
    """Cuts records that dump request bodies or trackers down to their first line.

    Rasa's error records quote the whole request to the action server, with
    every message of the conversation (\\u-escaped, so no pattern can mask
    names in it); the first part says what failed, which is what operators need.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:
            return True
        if len(message) > LONG_RECORD:
            head = message[:300].split("request_body", 1)[0]
            record.msg, record.args = f"{head} […{len(message)} characters withheld: may hold residents' text]", None
        return True


def install(logger: logging.Logger | None = None) -> None:
    """Attach the filter to every handler of the root logger (and uvicorn's)."""
    targets = (
        [logger]
        if logger
        else [
            logging.getLogger(),
            logging.getLogger("uvicorn"),
            logging.getLogger("uvicorn.access"),
            logging.getLogger("uvicorn.error"),
        ]
    )
    for target in targets:
        for handler in target.handlers:
            if not any(isinstance(f, PersonalDataFilter) for f in handler.filters):
                handler.addFilter(PersonalDataFilter())
    if logger is None:
        for handler in logging.getLogger("uvicorn.access").handlers:
            if not any(isinstance(f, AccessPathFilter) for f in handler.filters):
                handler.addFilter(AccessPathFilter())
