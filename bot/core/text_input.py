"""What a resident's text must be before anything keeps it, on every channel.

Control characters and lone surrogates (valid in JSON escapes, not in UTF-8:
no database or log could store them) are dropped; what is left must not be
blank. The same rule serves the pydantic models of the HTTP bodies (as an
`AfterValidator`) and the channels that take text another way.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator
from pydantic_core import PydanticCustomError

# control characters (tabs and line breaks kept) and lone surrogates
_UNSTORABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
EMPTY_TEXT = "消息内容是空的，请输入您想咨询的问题。"


def storable_text(text: str) -> str:
    """What the resident wrote, less what no store can hold (surrogates become U+FFFD)."""
    return _UNSTORABLE.sub(lambda m: "" if m.group(0) < "\ud800" else "\ufffd", text)


def _storable_non_empty(text: str) -> str:
    text = storable_text(text)
    if not text.strip():
        raise PydanticCustomError("empty_text", EMPTY_TEXT)
    return text


# a body field holding what a resident typed
ResidentText = Annotated[str, AfterValidator(_storable_non_empty)]
