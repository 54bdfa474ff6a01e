"""The challenge: which actions to ask for, and what to show and speak for each.

Standard mode asks 2 or 3 actions drawn at random from all four, never the same one
twice in a row. Elder mode asks exactly one, drawn from open mouth and the two head
turns: blinking is left out because blink detection is what elders with glasses
complain about most (DESIGN), and one slow, large movement is enough to show a live
face. Elder prompts use simpler words, a slower speech rate and tell how long to hold
each movement; there is no countdown (no time pressure).
"""

from __future__ import annotations

import random
from typing import Any

from ecard.certification.interfaces import Action

STANDARD = "standard"
ELDER = "elder"

DEADLINE_S = {STANDARD: 60, ELDER: 300}
ELDER_ACTIONS = (Action.OPEN_MOUTH, Action.TURN_LEFT, Action.TURN_RIGHT)
ELDER_HOLD_S = {Action.OPEN_MOUTH: 2.0, Action.TURN_LEFT: 2.0, Action.TURN_RIGHT: 2.0,
                Action.BLINK: 1.0}

_TEXT = {
    Action.BLINK: "请眨眨眼",
    Action.OPEN_MOUTH: "请张张嘴",
    Action.TURN_LEFT: "请向左转头",
    Action.TURN_RIGHT: "请向右转头",
}
_ELDER_TEXT = {
    Action.BLINK: "请慢慢眨一下眼睛",
    Action.OPEN_MOUTH: "请张开嘴巴",
    Action.TURN_LEFT: "请把头转向您的左边",
    Action.TURN_RIGHT: "请把头转向您的右边",
}
_ELDER_SPEAK = {
    Action.BLINK: "请您慢慢地眨一下眼睛。闭上，再睁开。不着急。",
    Action.OPEN_MOUTH: "请您慢慢张开嘴巴，停两秒，再合上。不着急。",
    Action.TURN_LEFT: "请您慢慢把头转向自己的左边，停两秒，再转回来，看着手机。不着急。",
    Action.TURN_RIGHT: "请您慢慢把头转向自己的右边，停两秒，再转回来，看着手机。不着急。",
}
INTRO = {STANDARD: "请正对手机屏幕，保持光线充足，按提示完成动作。",
         ELDER: "请您把手机拿稳，脸对着屏幕，在明亮的地方。听到提示后慢慢做动作，不着急。"}


def draw_actions(mode: str, rng: random.Random) -> list[Action]:
    """The actions of a new session (``rng`` is injected: tests script it)."""
    if mode == ELDER:
        return [rng.choice(ELDER_ACTIONS)]
    count = rng.randint(2, 3)
    actions: list[Action] = []
    for _ in range(count):
        choices = [a for a in Action if not actions or a is not actions[-1]]
        actions.append(rng.choice(choices))
    return actions


def prompts(mode: str, actions: list[Action]) -> dict[str, Any]:
    """What the client shows and speaks: an intro, then one prompt per action."""
    steps: list[dict[str, Any]] = []
    for a in actions:
        if mode == ELDER:
            steps.append({"action": a.value, "text": _ELDER_TEXT[a], "speak": _ELDER_SPEAK[a],
                          "hold_s": ELDER_HOLD_S[a]})
        else:
            steps.append({"action": a.value, "text": _TEXT[a], "speak": _TEXT[a]})
    return {"intro": INTRO[mode], "speech_rate": 0.75 if mode == ELDER else 1.0,
            "countdown": mode != ELDER, "steps": steps}
