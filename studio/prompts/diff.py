"""Word-level differences between two prompt texts, and between two parameter sets."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

# Words keep their trailing space so a rendered diff reads as the original text.
TOKEN = re.compile(r"\S+\s*|\s+")


@dataclass(frozen=True)
class Piece:
    op: str  # "same" | "added" | "removed"
    text: str


def word_diff(old: str, new: str) -> list[Piece]:
    """The pieces that turn `old` into `new`, word by word."""
    before, after = TOKEN.findall(old), TOKEN.findall(new)
    pieces: list[Piece] = []
    matcher = difflib.SequenceMatcher(a=[w.strip() for w in before], b=[w.strip() for w in after], autojunk=False)
    for op, a1, a2, b1, b2 in matcher.get_opcodes():
        if op == "equal":
            pieces.append(Piece("same", "".join(after[b1:b2])))
            continue
        if a2 > a1:
            removed = "".join(before[a1:a2])
            if b2 > b1 and not removed[-1].isspace():
                # The text's last word has no trailing space; keep it apart from its replacement.
                removed += " "
            pieces.append(Piece("removed", removed))
        if b2 > b1:
            pieces.append(Piece("added", "".join(after[b1:b2])))
    return pieces


@dataclass(frozen=True)
class Change:
    name: str
    old: object
    new: object

    @property
    def changed(self) -> bool:
        return self.old != self.new


def parameter_diff(old: dict, new: dict) -> list[Change]:
    """Every parameter of either side, old value beside new, in a stable order."""
    names = sorted(set(old) | set(new))
    return [Change(name, old.get(name), new.get(name)) for name in names]
