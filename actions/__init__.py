"""Rasa SDK custom actions: grounded answers, full article text, routing,
clarification.

The action server imports every module of this package
(`python -m rasa_sdk --actions actions`). When it is that server importing
us (not a test or a script), the statute index starts loading in the
background so the first resident's answer does not wait for it.
"""
import sys

from actions.grounding import warm_up_in_background

_main_spec = getattr(sys.modules.get("__main__"), "__spec__", None)
if _main_spec is not None and _main_spec.name == "rasa_sdk.__main__":
    warm_up_in_background()
