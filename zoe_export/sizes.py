"""Image sizes as users write them: ``384x672``, a range ``256x256:768x1344``, a profile ``MIN:OPT:MAX``.

A :class:`SizeRange` is the model sizes a dynamic-size graph takes (multiples of 32, both ends
included); a :class:`SizeProfile` is an engine's TensorRT optimisation profile over an input's height
and width. Both parse from and print to the command-line spelling, which is also how the model card
stores them.
"""
from __future__ import annotations

from dataclasses import dataclass

from .errors import ZoeExportError, option

Size = tuple[int, int]
MULTIPLE = 32


def format_size(size: Size) -> str:
    return f"{size[0]}x{size[1]}"


def parse_size(text: str, flag: str = "size", multiple: int | None = None) -> Size:
    """``"384x672"`` -> (384, 672); positive whole numbers (multiples of ``multiple`` when given)."""
    parts = str(text).lower().strip().split("x")
    try:
        height, width = (int(p) for p in parts)
    except ValueError:
        raise ZoeExportError(f"{flag} {text!r}: write a size as HEIGHTxWIDTH, e.g. 384x672.") from None
    if height <= 0 or width <= 0:
        raise ZoeExportError(f"{flag} {text!r}: height and width must be positive.")
    if multiple and (height % multiple or width % multiple):
        raise ZoeExportError(f"{flag} {text!r}: height and width must be multiples of {multiple} "
                             f"(e.g. {format_size(round_up((height, width), multiple))}).")
    return height, width


def round_up(size: Size, multiple: int = MULTIPLE) -> Size:
    """Each side rounded up to a multiple of ``multiple``."""
    return -(-size[0] // multiple) * multiple, -(-size[1] // multiple) * multiple


def _parts(text: str, count: int, flag: str, spelling: str) -> list[str]:
    parts = str(text).split(":")
    if len(parts) != count:
        raise ZoeExportError(f"{flag} {text!r}: write it as {spelling}, e.g. {_EXAMPLES[count]}.")
    return parts


_EXAMPLES = {2: "256x256:768x1344", 3: "320x320:384x672:768x1344"}


def _ordered(sizes: list[Size], text: str, flag: str) -> None:
    for low, high in zip(sizes, sizes[1:]):
        if low[0] > high[0] or low[1] > high[1]:
            raise ZoeExportError(f"{flag} {text!r}: each size must be at most the next one in both height and width.")


@dataclass(frozen=True)
class SizeRange:
    """Model sizes from ``min`` to ``max`` (both included), each side a multiple of 32."""

    min: Size
    max: Size

    @classmethod
    def parse(cls, text: str, flag: str | None = None) -> "SizeRange":
        flag = flag or option("--dynamic-size", "dynamic_size=")
        low, high = (parse_size(p, flag, MULTIPLE) for p in _parts(text, 2, flag, "MIN_HxMIN_W:MAX_HxMAX_W"))
        _ordered([low, high], text, flag)
        return cls(low, high)

    @classmethod
    def of(cls, value) -> "SizeRange":
        """A range from its text, a (min, max) pair of sizes, or a range."""
        if isinstance(value, SizeRange):
            return value
        if isinstance(value, str):
            return cls.parse(value)
        try:
            (h0, w0), (h1, w1) = value
        except (TypeError, ValueError):
            raise ZoeExportError(f"{option('--dynamic-size', 'dynamic_size=')} {value!r}: give "
                                 "'MIN_HxMIN_W:MAX_HxMAX_W' or ((min_h, min_w), (max_h, max_w)).") from None
        return cls.parse(f"{h0}x{w0}:{h1}x{w1}")

    @property
    def text(self) -> str:
        return f"{format_size(self.min)}:{format_size(self.max)}"

    def __str__(self) -> str:
        return self.text

    def contains(self, size: Size) -> bool:
        return all(lo <= s <= hi for lo, s, hi in zip(self.min, size, self.max))

    def clamp(self, size: Size) -> Size:
        """The size in the range nearest ``size`` (side by side)."""
        return tuple(min(max(s, lo), hi) for lo, s, hi in zip(self.min, size, self.max))  # type: ignore[return-value]

    def check(self, size: Size, what: str = "model size") -> None:
        """Raise unless ``size`` is a multiple of 32 within the range, naming the export option that widens it."""
        widen = option("--dynamic-size", "dynamic_size=")
        if size[0] % MULTIPLE or size[1] % MULTIPLE:
            raise ZoeExportError(f"{what} {format_size(size)}: this graph takes model sizes that are multiples of "
                                 f"{MULTIPLE} from {self.min[0]}x{self.min[1]} to {self.max[0]}x{self.max[1]}.")
        if not self.contains(size):
            raise ZoeExportError(
                f"{what} {format_size(size)} is outside this graph's range {self.text}: export it again with "
                f"zoe-export onnx {widen} covering it (e.g. {widen} "
                f"{self.covering(size).text}).")

    def covering(self, *sizes: Size) -> "SizeRange":
        """This range widened to hold ``sizes`` too (what an export would need to take them)."""
        low = tuple(min(side) for side in zip(self.min, *sizes))
        high = tuple(max(side) for side in zip(self.max, *sizes))
        return SizeRange(low, high)  # type: ignore[arg-type]


#: the range ``--dynamic-size`` exports without a value: 480p, 720p and KITTI frames at the
#: official keep-aspect sizes (384x512, 384x672, 384x1216), portrait frames, and up to 2x native
DEFAULT_SIZE_RANGE = SizeRange((256, 256), (768, 1344))


@dataclass(frozen=True)
class SizeProfile:
    """A TensorRT optimisation profile over an input's height and width: MIN:OPT:MAX."""

    min: Size
    opt: Size
    max: Size

    @classmethod
    def parse(cls, text: str, flag: str | None = None, multiple: int | None = None) -> "SizeProfile":
        flag = flag or option("--size-profile", "size_profile=")
        sizes = [parse_size(p, flag, multiple) for p in _parts(text, 3, flag, "MIN_HxMIN_W:OPT_HxOPT_W:MAX_HxMAX_W")]
        _ordered(sizes, text, flag)
        return cls(*sizes)

    @property
    def text(self) -> str:
        return ":".join(format_size(s) for s in (self.min, self.opt, self.max))

    def __str__(self) -> str:
        return self.text

    def contains(self, size: Size) -> bool:
        return all(lo <= s <= hi for lo, s, hi in zip(self.min, size, self.max))
