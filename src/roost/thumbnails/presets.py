"""Thumbnail presets by name: ``"300"`` (longest side 300 px) or ``"150x150"`` (a centred
square crop of 150 px). Pure: parsing and checking only.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from roost.thumbnails.errors import InvalidSizes
from roost.thumbnails.imaging import ThumbnailSpec

MAX_SIDE: Final = 4096
MAX_SIZES_PER_IMAGE: Final = 16
_PRESET: Final = re.compile(r"^(?P<side>[1-9][0-9]{0,4})(?:x(?P<square>[1-9][0-9]{0,4}))?$")


def parse_preset(name: str) -> ThumbnailSpec:
    """The spec a preset name stands for; :class:`InvalidSizes` if it names none."""
    match = _PRESET.match(name)
    if match is None:
        raise InvalidSizes(f"{name!r} is not a size: use 'N' (longest side) or 'NxN' (square)")
    side = int(match["side"])
    if match["square"] is not None and int(match["square"]) != side:
        raise InvalidSizes(f"{name!r}: only square crops (NxN) are supported")
    if side > MAX_SIDE:
        raise InvalidSizes(f"{name!r}: the largest side is {MAX_SIDE} px")
    return ThumbnailSpec(name, side, square=match["square"] is not None)


@dataclass(frozen=True)
class Presets:
    """The sizes a client may ask for, and the ones made when it asks for none."""

    allowed: tuple[str, ...]
    default: tuple[str, ...]

    @classmethod
    def from_names(cls, allowed: Iterable[str], default: Iterable[str]) -> Presets:
        allowed_names = _unique(allowed)
        for name in allowed_names:
            parse_preset(name)
        default_names = _unique(default)
        if not default_names:
            raise InvalidSizes("the default sizes may not be empty")
        if unknown := [name for name in default_names if name not in allowed_names]:
            raise InvalidSizes(f"default sizes {unknown} are not among the allowed sizes")
        return cls(allowed_names, default_names)

    def choose(self, requested: str | Sequence[str] | None) -> tuple[str, ...]:
        """The sizes to make for a request (``"150,300"``, a list, or None for the defaults)."""
        if requested is None:
            return self.default
        names = requested.split(",") if isinstance(requested, str) else list(requested)
        chosen = _unique(name.strip() for name in names if name.strip())
        if not chosen:
            raise InvalidSizes("sizes is empty: leave it out for the defaults")
        if len(chosen) > MAX_SIZES_PER_IMAGE:
            raise InvalidSizes(f"at most {MAX_SIZES_PER_IMAGE} sizes per image")
        if unknown := [name for name in chosen if name not in self.allowed]:
            raise InvalidSizes(
                f"unknown sizes {', '.join(unknown)}; available: {', '.join(self.allowed)}"
            )
        return chosen

    def specs(self, names: Iterable[str]) -> list[ThumbnailSpec]:
        return [parse_preset(name) for name in names]


def _unique(names: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(names))
