"""The question actions of a Rasa form: Rasa asks a form's slot by running
``action_ask_<slot>``, so a form with many questions needs one action each.
They are generated from one base per form, which stays abstract so that the
action server does not register the base itself.
"""

from __future__ import annotations

from abc import ABCMeta, abstractmethod
from collections.abc import Iterable
from typing import Any

from rasa_sdk import Action


class SlotQuestion(Action, metaclass=ABCMeta):
    """Abstract: a form's question action; `slot` is the slot it asks for."""

    slot = ""

    @abstractmethod
    def name(self) -> str: ...


def ask_actions(base: type, slots: Iterable[str], namespace: dict[str, Any]) -> None:
    """Define ``ActionAsk_<slot>`` (named ``action_ask_<slot>``) in `namespace` for every slot;
    `base` is an abstract subclass of SlotQuestion with the run that asks."""
    for slot in slots:
        namespace[f"ActionAsk_{slot}"] = ABCMeta(
            f"ActionAsk_{slot}",
            (base,),
            {"slot": slot, "name": lambda self, _s=slot: f"action_ask_{_s}", "__module__": namespace["__name__"]},
        )
