"""Draw each frame only inside the boxes that changed since the last one.

Under a software renderer (Mesa's llvmpipe, no GPU) a frame costs its pixels: the
clear, every rectangle and glyph shaded, and the copy at the buffer swap. Most KDS
frames change little (an age timer, one new ticket, a tapped button), yet Kivy clears
and draws the whole window each time. Mesa's software swap copies a back buffer that
keeps its pixels from one frame to the next, so a frame may clear and draw only inside
the boxes that changed: a scissor at the bottom of Kivy's scissor stack (every clip
inside the window intersects with it) and around the window's clear. Boxes far apart
are drawn in passes of their own (``plan_passes``), each drawing everything again
inside its own scissor.

A box left out shows stale pixels, so nothing here relies on the screens saying what
they changed. Kivy flags a graphics instruction when it changes, and every group above
it up to the window's canvas; drawing a group clears its flag. Before each frame this
walks the widget tree, into a widget only when its canvas is flagged or it moved, and
marks where a widget's shapes were last frame and where they are now, when:

- the widget is new, gone or moved (with a parent that is a RelativeLayout; it keeps
  its shapes, shifted), or the order of its parent's children changed;
- one of its shapes changed: flagged, moved, or drawn in another colour (a colour
  flags the group that holds it), or its canvas was flagged with no child's canvas
  flagged (an instruction added or removed, its opacity);
- its opacity changed: then the whole of what it and its children drew.

Where a shape is comes from the shape itself (a rectangle's pos and size, a line's
points and width, a scissor's box), so a label's text, smaller or larger than its
widget, is covered as drawn. Whatever cannot be bounded (an instruction this does not
know, a transform outside a RelativeLayout) or a change of the window itself (resize,
expose, anything flagging the window's canvas alone) gives a full frame, as does a
damaged area that is most of the window.

A RelativeLayout that only moved, by whole pixels (a card when a ticket ahead of it is
bumped), is copied instead: its pixels go from where it was to where it is with one
copy inside the back buffer (``glBlitFramebuffer``, a memory copy under Mesa's software
renderers), before anything is drawn, and the walk then compares what is under it with
what was, as if it had been drawn there. Only when every shape under it lay inside its
own box, nothing else drew where it was or draws where it goes, and no copy writes where
another has still to read; where it was is drawn again unless another copy covers it.
Rows of its box where neither it drew nor anything drew last frame where it goes hold the
clear colour at both ends, and are not copied (most of a card's column is such rows).
Anything else moved is drawn again as before.

A pass clears the colour only (nothing it draws reads depth; Kivy's first ``StencilPush``
clears the stencil itself), and in a frame with moves only around what drew there last
frame or draws there now (``clear_boxes``): elsewhere the back buffer holds the clear
colour already, and under a software renderer a clear costs what drawing does.

It is used only where the back buffer is known to keep its pixels: a software renderer
whose swap is shown to keep them by a probe at start-up (a one-pixel marker drawn before
a swap must still be in the back buffer after it, three times in a row), and not when
``kitchen.json`` says ``"partial_redraw": false``. Anywhere else every frame is full,
exactly as Kivy draws it.
"""

from __future__ import annotations

import ctypes
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from math import ceil, floor
from typing import Any

from kivy.graphics import (
    BindTexture,
    BorderImage,
    Callback,
    Color,
    Ellipse,
    Line,
    PopMatrix,
    PushMatrix,
    Rectangle,
    RoundedRectangle,
    ScissorPop,
    ScissorPush,
    StencilPop,
    StencilPush,
    StencilUnUse,
    StencilUse,
    Translate,
)
from kivy.graphics import opengl as gl
from kivy.graphics.instructions import InstructionGroup, VertexInstruction
from kivy.uix.relativelayout import RelativeLayout

log = logging.getLogger(__name__)

Box = tuple[int, int, int, int]  # x0, y0, x1, y1 in window pixels, x1 and y1 excluded
Raw = tuple[float, float, float, float, float]  # x0, y0, x1, y1 unrounded, and a margin
Rect = tuple[float, float, float, float]  # x0, y0, x1, y1 exactly, in window pixels
# Renderers whose swap copies a back buffer kept in memory (Mesa's software rasterisers).
SOFTWARE_RENDERERS = ("llvmpipe", "softpipe", "swrast")
PROBES = 3  # swaps that must keep the marker pixel before frames are drawn in part
FULL_SHARE = 0.85  # a damaged box this share of the window or more: draw it all
MARGIN = 2  # px around every shape: anti-aliased edges and rounding
PASS_PX = 150_000  # what a drawing pass of its own costs, in pixels drawn
MAX_PASSES = 3
# Shapes bounded by their pos and size; everything else that draws gives a full frame.
BOXED = (Rectangle, BorderImage, Ellipse, RoundedRectangle)


GL_NEAREST = 0x2600


def _load_blit() -> Callable[..., None] | None:
    """glBlitFramebuffer, which Kivy does not offer: a copy within the back buffer.

    Mesa's software renderers copy memory for it (a 5-column copy measured 0.4 ms), where
    drawing those columns again costs tens of milliseconds. None where it cannot be had.
    """
    try:
        lib = ctypes.CDLL("libGL.so.1")
        lookup = lib.glXGetProcAddressARB
    except (OSError, AttributeError):
        return None
    lookup.restype = ctypes.c_void_p
    lookup.argtypes = [ctypes.c_char_p]
    address = lookup(b"glBlitFramebuffer")
    if not address:
        return None
    i, u = ctypes.c_int, ctypes.c_uint
    # PYFUNCTYPE keeps the interpreter lock: a call that let it go waited to get it back
    # from the node's thread, up to a switch interval each (measured: 11 ms a frame).
    blit: Callable[..., None] = ctypes.PYFUNCTYPE(None, i, i, i, i, i, i, i, i, u, u)(address)
    return blit


class FullFrame(Exception):
    """Something changed that cannot be bounded: draw the whole window."""

    def __init__(self, why: str, walked: bool = False) -> None:
        super().__init__(why)
        self.walked = walked  # the walk went through: what was drawn is known


@dataclass(slots=True)
class _Drawn:
    """What one widget drew last frame, in window pixels."""

    widget: Any
    offset: tuple[float, float]  # window position of the space its pos is in
    opacity: float
    children: tuple[int, ...]  # ids of its children, in drawing order
    shapes: list[Shape]  # what its own instructions drew, in order
    rect: Rect | None = None  # a RelativeLayout's own box in the window: it may be copied

    @property
    def extent(self) -> Box | None:
        box: Box | None = None
        for shape in self.shapes:
            box = union(box, shape.box)
        return box


@dataclass(frozen=True, slots=True)
class Shape:
    """One instruction that drew: where, and what it looked like."""

    box: Box | None
    look: tuple[Any, ...]  # the instruction itself, its colour; a scissor: its box
    flagged: bool  # changed since it was last drawn
    raw: Raw | None = None  # the box before rounding out, to move it exactly
    fixed: bool = False  # in window coordinates (a scissor): does not move with its widget
    # Where it puts pixels, in whole pixels, without the margin (None: it puts none):
    # reckoned once, here, since a bump checks every shape on the page against each move.
    pixels: Box | None = None


def _shape(raw: Raw | None, look: tuple[Any, ...], flagged: bool) -> Shape:
    box = _round(raw)
    pixels = None
    if raw is not None and box is not None:
        x0, y0, x1, y1, pad = raw
        grow = pad - MARGIN  # a line's width; nothing for a box
        pixels = (floor(x0 - grow), floor(y0 - grow), ceil(x1 + grow), ceil(y1 + grow))
    return Shape(box, look, flagged, raw, False, pixels)


def _shifted(shape: Shape, dx: float, dy: float) -> Shape:
    if shape.fixed or shape.raw is None:
        return shape
    x0, y0, x1, y1, pad = shape.raw
    return _shape((x0 + dx, y0 + dy, x1 + dx, y1 + dy, pad), shape.look, False)


@dataclass(slots=True)
class Move:
    """A RelativeLayout moved by whole pixels, nothing else where it was or goes: the
    pixels it drew can be copied to where it is now instead of being drawn again."""

    src: Box  # its box last frame: every shape of it and its children lies inside
    dx: int
    dy: int
    ids: set[int]  # itself and every widget under it
    # The parts of ``src`` to copy: all of it, less rows where neither it nor what was
    # under where it goes drew anything (both the clear colour: nothing to copy).
    bands: list[Box] = field(default_factory=list)

    @property
    def dst(self) -> Box:
        x0, y0, x1, y1 = self.src
        return (x0 + self.dx, y0 + self.dy, x1 + self.dx, y1 + self.dy)


@dataclass(slots=True)
class Stats:
    full: int = 0
    partial: int = 0
    pixels: int = 0  # drawn by partial frames
    passes: int = 0  # drawing passes of partial frames (one per box)
    copies: int = 0  # widgets whose pixels were copied to where they moved, not drawn again
    left_out: int = 0  # canvases left out of a pass: they draw nothing inside its box
    cleared: int = 0  # pixels partial frames cleared (their passes', less empty rows)
    walk_s: float = 0.0  # UI-thread time spent finding what changed
    walk_max_s: float = 0.0
    reasons: dict[str, int] = field(default_factory=dict)


def _area(b: Box) -> int:
    return max(0, b[2] - b[0]) * max(0, b[3] - b[1])


def plan_passes(boxes: list[Box], size: tuple[int, int]) -> list[Box]:
    """Few boxes that cover ``boxes`` inside the window: one drawing pass each.

    A pass draws every instruction again (inside its scissor), so two boxes become
    one when the pixels that adds cost less than a pass (``PASS_PX``), and never more
    than ``MAX_PASSES`` are drawn. Passes may overlap: each clears what it draws.
    """
    w, h = size
    rects: list[Box] = []
    for b in sorted(set(boxes)):
        box = (max(0, b[0]), max(0, b[1]), min(w, b[2]), min(h, b[3]))
        if _area(box) == 0:
            continue
        # Inside a pass already: that pass is the cheapest merge and stays as it is. A
        # bump moves every card, hundreds of shapes; this skips most of them at once.
        if any(r[0] <= box[0] and r[1] <= box[1] and box[2] <= r[2] and box[3] <= r[3]
               for r in rects):  # fmt: skip
            continue
        best: tuple[int, int, Box] | None = None
        for i, r in enumerate(rects):
            u = _span(r, box)
            cost = _area(u) - _area(r) - _area(box)
            if cost <= PASS_PX and (best is None or cost < best[0]):
                best = (cost, i, u)
        if best is None:
            rects.append(box)
        else:
            rects[best[1]] = best[2]
    while len(rects) > 1:  # merged boxes may now be worth merging, or too many
        cost, i, j = min(
            (_area(_span(rects[i], rects[j])) - _area(rects[i]) - _area(rects[j]), i, j)
            for i in range(len(rects))
            for j in range(i + 1, len(rects))
        )
        if cost > PASS_PX and len(rects) <= MAX_PASSES:
            break
        rects[i] = _span(rects[i], rects[j])
        del rects[j]
    return rects


def _span(a: Box, b: Box) -> Box:
    return (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))


def union(a: Box | None, b: Box | None) -> Box | None:
    if a is None:
        return b
    if b is None:
        return a
    return (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))


def _round(raw: Raw | None) -> Box | None:
    if raw is None:
        return None
    x0, y0, x1, y1, pad = raw
    if x1 <= x0 or y1 <= y0:
        return None
    return (floor(x0 - pad), floor(y0 - pad), ceil(x1 + pad), ceil(y1 + pad))


def _box(x0: float, y0: float, x1: float, y1: float, pad: float) -> Box | None:
    return _round((x0, y0, x1, y1, pad))


def _shape_box(ins: Any, ox: float, oy: float) -> Raw | None:
    if isinstance(ins, BOXED):
        (x, y), (w, h) = ins.pos, ins.size
        return (ox + x, oy + y, ox + x + w, oy + y + h, MARGIN)
    if isinstance(ins, Line):
        pts = list(ins.points)
        if len(pts) < 2:  # a circle, an ellipse or a rectangle line has no points to read
            raise FullFrame("a Line drawn without points")
        xs, ys = pts[0::2], pts[1::2]
        pad = float(ins.width) + MARGIN  # a line of width 0 still draws a pixel
        return (ox + min(xs), oy + min(ys), ox + max(xs) + 1, oy + max(ys) + 1, pad)
    raise FullFrame(f"cannot bound a {type(ins).__name__}")


class Damage:
    """Finds, before a frame, the box that changed since the last frame."""

    def __init__(self, window: Any, copying: bool = False) -> None:
        self.window = window
        self.copying = copying  # moved widgets may be copied (the caller can copy pixels)
        self._drawn: dict[int, _Drawn] = {}
        # This frame's: moves found, last frame's shapes of widgets changed or shifted,
        # what removed widgets drew (their box, and their exact rect if they had one).
        self._moves: list[Move] = []
        self._before: dict[int, list[Shape]] = {}
        self._removed: list[tuple[Box | None, Box | None]] = []
        self._removed_pixels: list[Box] = []  # where removed widgets put pixels last frame
        self._new: set[int] = set()  # widgets drawn for the first time: nothing was there
        self.copies: list[Move] = []  # to copy, in this order, before the frame is drawn
        self._reach: dict[int, Box | None] = {}  # this frame's: where each subtree draws
        # This frame's, once moves were settled: what every widget drew last frame and
        # draws now, in whole pixels (None: not reckoned, or the window draws shapes of its
        # own that no widget accounts for).
        self._drew: tuple[list[_Pixels], list[_Pixels]] | None = None
        self._own_shapes = False
        # id of a list of shapes -> (the list, its pixels), from the last frame with moves
        self._pixels_of: dict[int, tuple[list[Shape], _Pixels | None]] = {}

    def forget(self) -> None:
        """The next frame is full: remember everything afresh from it."""
        self._drawn.clear()

    def collect(self) -> list[Box]:
        """The damaged boxes (none: nothing changed), or FullFrame. Remembers this frame."""
        win = self.window
        self._moves, self._before, self._removed, self.copies = [], {}, [], []
        self._removed_pixels = []
        self._new = set()
        self._reach = {}
        self._drew = None
        canvas = win.canvas
        children = list(win.children)
        kids = {id(c.canvas) for c in children}
        own = [i for i in canvas.children if id(i) not in kids]
        self._own_shapes = any(isinstance(i, VertexInstruction) for i in _flat(own, kids))
        whole = None  # walk anyway: what each widget drew stays known for the next frame
        if canvas.needs_redraw and not any(c.canvas.needs_redraw for c in children):
            whole = "the window's canvas itself"
        elif any(isinstance(i, InstructionGroup) and i.needs_redraw for i in own):
            whole = "the window's own instructions"
        damage: list[Box] = []
        ids = tuple(id(c) for c in children)
        root = self._drawn.get(0)
        if root is not None and root.children != ids:
            damage += self._gone(root.children, ids)
        self._drawn[0] = _Drawn(win, (0.0, 0.0), 1.0, ids, [])
        for child in children:
            damage += self._visit(child, 0.0, 0.0)
        if whole is not None:
            raise FullFrame(whole, True)
        return damage + self._settle()

    def _visit(self, w: Any, ox: float, oy: float) -> list[Box]:
        canvas = w.canvas
        was = self._drawn.get(id(w))
        if was is not None and was.widget is not w:
            was = None  # an id of a widget gone and collected, now another's
        if was is not None and not canvas.needs_redraw and was.offset == (ox, oy):
            return []  # nothing in this subtree changed or moved
        relative = isinstance(w, RelativeLayout)
        cx, cy = (ox + w.x, oy + w.y) if relative else (ox, oy)
        rect = (cx, cy, cx + w.width, cy + w.height) if relative else None
        if was is None:
            self._new.add(id(w))
        elif (
            self.copying
            and rect is not None
            and was.rect not in (None, rect)
            and (
                was.offset == (ox, oy)  # moved within its parent, which did not move
            )
        ):
            self._try_move(w, was, rect)
        children = list(w.children)
        ids = tuple(id(c) for c in children)
        kids = {id(c.canvas) for c in children}
        own = [i for i in canvas.children if id(i) not in kids]
        changed = was is None or was.offset != (ox, oy)
        if not changed and canvas.needs_redraw:
            if not any(c.canvas.needs_redraw for c in children):
                changed = True  # flagged itself: an instruction added or removed, opacity
            else:
                for ins in own:
                    if isinstance(ins, InstructionGroup | VertexInstruction):
                        changed = changed or ins.needs_redraw
                    else:  # a colour flags only this canvas: it may be what changed
                        changed = True
        damage: list[Box] = []
        shapes = was.shapes if was is not None else []
        if was is not None and changed and not canvas.needs_redraw:
            # Only moved, with a parent: the same shapes, shifted (a bump moves every card
            # and all that is in them; reading each instruction again cost milliseconds).
            dx, dy = ox - was.offset[0], oy - was.offset[1]
            shapes = [_shifted(shape, dx, dy) for shape in was.shapes]
            self._before.setdefault(id(w), was.shapes)
            damage = _moved(was.shapes, shapes)
        elif changed:
            try:
                shapes = self._shapes(canvas.children, kids, cx, cy, relative)
            except FullFrame as exc:
                raise FullFrame(f"{exc} ({type(w).__name__})") from None
            if was is not None:
                self._before.setdefault(id(w), was.shapes)
            damage = _moved(was.shapes if was is not None else [], shapes)
        opacity = float(canvas.opacity)
        if was is not None and was.opacity != opacity:
            damage += _some(self._subtree(id(w)))
        if was is not None and was.children != ids:
            damage += self._gone(was.children, ids)
        self._drawn[id(w)] = _Drawn(w, (ox, oy), opacity, ids, shapes, rect)
        for child in children:
            damage += self._visit(child, cx, cy)
        return damage

    def _gone(self, before: tuple[int, ...], now: tuple[int, ...]) -> list[Box]:
        """Children removed (what they drew) or reordered (what all of them drew)."""
        if set(before) == set(now):
            gone: tuple[int, ...] = before
        else:
            gone = tuple(i for i in before if i not in set(now))
        damage: list[Box] = []
        removed = set(before) - set(now)
        for cid in gone:
            if cid in removed:  # maybe where a moved widget is copied to: decided later
                self._removed.append((self._subtree(cid), self._exact(cid)))
                for wid in self._ids(cid):
                    drawn = self._drawn[wid]
                    self._removed_pixels += [
                        sh.pixels for sh in drawn.shapes if sh.pixels is not None and not sh.fixed
                    ]
            else:
                damage += _some(self._subtree(cid))
        for cid in removed:
            self._drop(cid)
        return damage

    def _subtree(self, wid: int) -> Box | None:
        drawn = self._drawn.get(wid)
        if drawn is None:
            return None
        box = drawn.extent
        for cid in drawn.children:
            box = union(box, self._subtree(cid))
        return box

    def outside(self, box: Box) -> list[Any]:
        """Canvases of widgets that, with all under them, draw nothing inside ``box``.

        A pass scissored to ``box`` may leave them out: they would put no pixel there, and
        nothing drawn after them depends on what they leave behind (the walk makes every
        shape's colour its own widget's; matrices, scissors and stencils come in pairs).
        Only after a walk that went through (a partial frame): what each drew is known.
        Never a canvas Kivy flagged: an instruction updates its vertices only when it is
        applied, and one left flagged under a canvas applied empty stays flagged (frames
        after such passes found nothing changed and were drawn whole; see
        tests/kitchen/test_kds_partial.py): a flagged canvas is applied, and its children
        are looked at one by one.
        """
        skip: list[Any] = []
        root = self._drawn.get(0)
        todo = list(root.children) if root is not None else []
        while todo:
            wid = todo.pop()
            drawn = self._drawn.get(wid)
            if drawn is None:
                continue  # not known: drawn
            canvas = drawn.widget.canvas
            reach = self._reach_of(wid)
            if (reach is None or not _overlaps(reach, box)) and not canvas.needs_redraw:
                skip.append(canvas)
            else:  # drawn, or flagged: what Kivy flagged is applied (and unflagged) here
                todo += drawn.children
        return skip

    def clear_boxes(self, box: Box) -> list[Box] | None:
        """The parts of a pass's ``box`` its clear must cover; None: all of it.

        Where in ``box`` nothing drew last frame, nothing draws now and no removed widget
        drew, the back buffer holds the clear colour already: every pixel a frame puts is
        some widget's shape, and a copy writes only its widget's picture and the clear
        colour around it (nothing else draws where it goes). A bump's pass is the column
        the next ticket comes into, and the middle of that column, between the last item
        and the buttons, is empty on both cards; clearing it cost the software renderer as
        much as drawing the card. Known only in frames with moves, where every widget's
        pixels before and after were reckoned (``_settle``).
        """
        if self._drew is None:
            return None
        then, now = self._drew
        parts = [_inside(b, box) for b in self._removed_pixels if _overlaps(b, box)]
        for drawn in (then, now):
            for _wid, hull, boxes in drawn:
                if _overlaps(hull, box):
                    parts += [_inside(b, box) for b in boxes if _overlaps(b, box)]
        return clear_parts(set(parts), box)

    def _reach_of(self, wid: int) -> Box | None:
        if wid in self._reach:
            return self._reach[wid]
        drawn = self._drawn[wid]
        box = drawn.extent
        for cid in drawn.children:
            if cid not in self._drawn:
                box = (-(1 << 30), -(1 << 30), 1 << 30, 1 << 30)  # not known: anywhere
                break
            box = union(box, self._reach_of(cid))
        self._reach[wid] = box
        return box

    # -- moves ------------------------------------------------------------------------
    def _ids(self, wid: int) -> list[int]:
        drawn = self._drawn.get(wid)
        if drawn is None:
            return []
        ids = [wid]
        for cid in drawn.children:
            ids += self._ids(cid)
        return ids

    def _exact(self, wid: int) -> Box | None:
        """A widget's own rect, in whole pixels, if it and its children draw only inside it."""
        drawn = self._drawn.get(wid)
        if drawn is None or drawn.rect is None:
            return None
        rect = drawn.rect
        if not all(float(v).is_integer() for v in rect):
            return None
        for cid in self._ids(wid):
            for shape in self._drawn[cid].shapes:
                g = _geometry(shape)
                if g is not None and not (
                    rect[0] <= g[0] and rect[1] <= g[1] and g[2] <= rect[2] and g[3] <= rect[3]
                ):
                    return None
        x0, y0, x1, y1 = rect
        return (int(x0), int(y0), int(x1), int(y1))

    def _try_move(self, w: Any, was: _Drawn, rect: Rect) -> None:
        """A RelativeLayout that moved by whole pixels: remember everything under it as
        already where it is now (as if copied), and the move to check once the walk is done."""
        old = was.rect
        assert old is not None
        dx, dy = rect[0] - old[0], rect[1] - old[1]
        if (rect[2] - rect[0], rect[3] - rect[1]) != (old[2] - old[0], old[3] - old[1]):
            return  # resized: drawn again
        src = self._exact(id(w))
        if src is None or not (float(dx).is_integer() and float(dy).is_integer()):
            return
        move = Move(src, int(dx), int(dy), set())
        if _overlaps(move.src, move.dst):
            return  # a copy onto itself; it could not be read before it is written
        move.ids = set(self._ids(id(w)))
        for wid in move.ids:
            drawn = self._drawn[wid]
            self._before.setdefault(wid, drawn.shapes)
            drawn.shapes = [_carried(shape, move.dx, move.dy) for shape in drawn.shapes]
            if wid != id(w):  # the moved widget's own offset is its parent's: unchanged
                drawn.offset = (drawn.offset[0] + dx, drawn.offset[1] + dy)
            if drawn.rect is not None:
                x0, y0, x1, y1 = drawn.rect
                drawn.rect = (x0 + dx, y0 + dy, x1 + dx, y1 + dy)
        self._moves.append(move)

    def _settle(self) -> list[Box]:
        """Which moves are copied (``copies``, in a safe order), and what must be drawn.

        A move is copied only if nothing else drew where it was last frame or draws where
        it is now: its box is then exactly its own picture on the clear colour. Where it
        was must be drawn again unless another copy covers it; so must what removed
        widgets drew, unless a copy covers their exact rect.
        """
        damage: list[Box] = []
        w, h = int(self.window.width), int(self.window.height)
        then: list[_Pixels] = []  # what each widget drew last frame, and draws now
        now: list[_Pixels] = []
        if self._moves:
            # Most widgets on the page kept their list of shapes since the last frame with
            # moves: their pixels are taken from then (a list's identity is its content:
            # lists of shapes are made anew, never changed in place).
            known, self._pixels_of = self._pixels_of, {}

            def pixels(wid: int, shapes: list[Shape]) -> _Pixels | None:
                hit = known.get(id(shapes))
                got = hit[1] if hit is not None and hit[0] is shapes else _pixels(wid, shapes)
                self._pixels_of[id(shapes)] = (shapes, got)
                return got

            for wid, drawn in self._drawn.items():
                before = [] if wid in self._new else self._before.get(wid, drawn.shapes)
                after = pixels(wid, drawn.shapes)
                if after is not None:
                    now.append(after)
                if before is drawn.shapes:
                    if after is not None:
                        then.append(after)
                elif (was := pixels(wid, before)) is not None:
                    then.append(was)
        removed = [box for box, _ in self._removed if box is not None]
        accepted: list[Move] = []
        for move in self._moves:
            src, dst = move.src, move.dst
            ok = (
                min(src[0], dst[0]) >= 0
                and min(src[1], dst[1]) >= 0
                and max(src[2], dst[2]) <= w
                and max(src[3], dst[3]) <= h
                and not any(_overlaps(b, src) for b in removed)
                and not _drawn_on(then, move.ids, src)
                and not _drawn_on(now, move.ids, dst)
            )
            if ok:
                accepted.append(move)
            else:
                damage += [src, dst]
        order: list[Move] = []
        while accepted:  # a copy may not write where another has still to read
            ready = [
                m
                for m in accepted
                if not any(o is not m and _overlaps(m.dst, o.src) for o in accepted)
            ]
            if not ready:
                for m in accepted:
                    damage += [m.src, m.dst]
                break
            order += ready
            accepted = [m for m in accepted if m not in ready]
        for m in order:
            m.bands = _bands(m, then, self._removed_pixels)
        if self._moves and not self._own_shapes:
            self._drew = (then, now)
        self.copies = order
        covered = [m.dst for m in order]
        stale = [m.src for m in order]
        for box, exact in self._removed:
            if exact is not None:
                stale.append(exact)
            elif box is not None:
                damage.append(box)
        for box in stale:
            if not any(_contains(d, box) for d in covered):
                damage.append(box)
        return damage

    def _drop(self, wid: int) -> None:
        drawn = self._drawn.pop(wid, None)
        if drawn is not None:  # a child moved elsewhere is then new there: marked again
            for cid in drawn.children:
                self._drop(cid)

    def _shapes(
        self, drawn: list[Any], kids: set[int], ox: float, oy: float, relative: bool
    ) -> list[Shape]:
        """The shapes a widget's own instructions draw (``kids``: its children's canvases)."""
        shapes: list[Shape] = []
        colour: tuple[float, ...] | None = None
        masking = False  # drawing into the stencil (a StencilView's box), not the picture
        for ins in _flat(drawn, kids):
            if ins is None:  # a child drew here: the colour it left is its own
                colour = None
            elif isinstance(ins, Color):
                colour = tuple(ins.rgba)
            elif isinstance(ins, StencilPush | StencilUnUse | StencilUse | StencilPop):
                masking = isinstance(ins, StencilPush | StencilUnUse)
            elif isinstance(ins, BindTexture | ScissorPop):
                continue
            elif isinstance(ins, PushMatrix | PopMatrix | Translate):
                if not relative:  # a RelativeLayout's own translation is in the offset
                    raise FullFrame(f"a {type(ins).__name__} outside a RelativeLayout")
            elif isinstance(ins, ScissorPush):  # a clip moved: what it showed and shows
                x, y, w, h = ins.x, ins.y, ins.width, ins.height
                box = _box(x, y, x + w, y + h, 0)
                shapes.append(Shape(box, (id(ins), box), False, fixed=True))
            elif masking:  # the mask: what it lets through changes where it changes
                raw = _shape_box(ins, ox, oy)
                shapes.append(_shape(raw, (id(ins), "mask"), bool(ins.needs_redraw)))
            elif colour is None:  # drawn in a colour set by something else, maybe changed
                raise FullFrame(f"a {type(ins).__name__} in a colour it does not set")
            else:
                raw = _shape_box(ins, ox, oy)
                shapes.append(_shape(raw, (id(ins), colour), bool(ins.needs_redraw)))
        return shapes


def _flat(group: list[Any], kids: set[int]) -> Iterator[Any]:
    """Instructions in drawing order; None where a child's canvas is drawn."""
    for ins in group:
        if id(ins) in kids:
            yield None
        elif isinstance(ins, InstructionGroup):
            yield from _flat(list(ins.children), kids)
        else:
            yield ins


# A widget's drawing in whole pixels: its id, the box around it all, each shape's box.
_Pixels = tuple[int, Box, list[Box]]


def _pixels(wid: int, shapes: list[Shape]) -> _Pixels | None:
    boxes = [s.pixels for s in shapes if s.pixels is not None and not s.fixed]
    if not boxes:
        return None
    hull = (
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )
    return (wid, hull, boxes)


BAND_GAP = 32  # px: rows of clear colour fewer than this are copied with the rest


def _bands(move: Move, then: list[_Pixels], removed: list[Box]) -> list[Box]:
    """The parts of a move's box to copy: every row where it drew last frame, or where
    anything drew last frame in the place it goes to (padded by ``MARGIN``). Elsewhere
    both are the clear colour, and the copy would write the pixels already there."""
    x0, y0, x1, y1 = move.src
    dst, dy = move.dst, move.dy
    rows: list[tuple[int, int]] = []
    # The overlap tests written out: this runs for every widget on the page, every move.
    for box, shift in ((move.src, 0), (dst, dy)):
        bx0, by0, bx1, by1 = box
        for _wid, (hx0, hy0, hx1, hy1), boxes in then:
            if hx0 < bx1 and bx0 < hx1 and hy0 < by1 and by0 < hy1:
                rows += [(b[1] - shift, b[3] - shift) for b in boxes
                         if b[0] < bx1 and bx0 < b[2] and b[1] < by1 and by0 < b[3]]  # fmt: skip
    rows += [(b[1] - dy, b[3] - dy) for b in removed if _overlaps(b, dst)]
    bands: list[Box] = []
    for lo, hi in sorted((max(y0, lo - MARGIN), min(y1, hi + MARGIN)) for lo, hi in rows):
        if hi <= lo:
            continue
        if bands and lo - bands[-1][3] < BAND_GAP:  # a short gap: copied with the band
            last = bands[-1]
            bands[-1] = (x0, last[1], x1, max(last[3], hi))
        elif not bands and lo - y0 < BAND_GAP:
            bands.append((x0, y0, x1, hi))
        else:
            bands.append((x0, lo, x1, hi))
    if bands and y1 - bands[-1][3] < BAND_GAP:
        last = bands[-1]
        bands[-1] = (x0, last[1], x1, y1)
    return bands


def _inside(b: Box, box: Box) -> Box:
    """``b`` padded by ``MARGIN`` and cut to ``box``."""
    return (max(box[0], b[0] - MARGIN), max(box[1], b[1] - MARGIN),
            min(box[2], b[2] + MARGIN), min(box[3], b[3] + MARGIN))  # fmt: skip


def clear_parts(parts: set[Box], box: Box) -> list[Box]:
    """Few boxes covering ``parts``: the tall ones (the dark strips either side of a
    column) each on its own, the others in bands of rows, each as wide as what is in it,
    bands fewer than ``BAND_GAP`` rows apart as one (each clear has a cost of its own)."""
    tall = (box[3] - box[1]) // 2
    boxes = [p for p in parts if p[3] - p[1] > tall]
    bands: list[Box] = []
    for p in sorted((p for p in parts if p[3] - p[1] <= tall), key=lambda p: p[1]):
        if bands and p[1] - bands[-1][3] < BAND_GAP:
            b = bands[-1]
            bands[-1] = (min(b[0], p[0]), b[1], max(b[2], p[2]), max(b[3], p[3]))
        else:
            bands.append(p)
    return boxes + bands


def _drawn_on(drawn: list[_Pixels], ids: set[int], box: Box) -> bool:
    """Whether a widget not in ``ids`` puts pixels inside ``box``."""
    bx0, by0, bx1, by1 = box
    for wid, (hx0, hy0, hx1, hy1), boxes in drawn:  # the overlap tests written out, as above
        if hx0 < bx1 and bx0 < hx1 and hy0 < by1 and by0 < hy1 and wid not in ids:
            for b in boxes:
                if b[0] < bx1 and bx0 < b[2] and b[1] < by1 and by0 < b[3]:
                    return True
    return False


def _geometry(shape: Shape) -> Rect | None:
    """Where a shape puts pixels, without the safety margin; None: it draws none."""
    if shape.fixed or shape.raw is None or shape.box is None:
        return None
    x0, y0, x1, y1, pad = shape.raw
    grow = pad - MARGIN  # a line's width; nothing for a box
    return (x0 - grow, y0 - grow, x1 + grow, y1 + grow)


def _round_out(r: Rect) -> Box:
    return (floor(r[0]), floor(r[1]), ceil(r[2]), ceil(r[3]))


def _overlaps(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _contains(outer: Box, inner: Box) -> bool:
    o, i = outer, inner
    return o[0] <= i[0] and o[1] <= i[1] and i[2] <= o[2] and i[3] <= o[3]


def _carried(shape: Shape, dx: int, dy: int) -> Shape:
    """A shape as a copy of its widget's pixels leaves it: a clip moves with them too."""
    if not shape.fixed:
        return _shifted(shape, dx, dy)
    if shape.box is None:
        return shape
    x0, y0, x1, y1 = shape.box
    box = (x0 + dx, y0 + dy, x1 + dx, y1 + dy)
    return Shape(box, (shape.look[0], box), False, fixed=True)


def _some(box: Box | None) -> list[Box]:
    return [] if box is None else [box]


def _moved(before: list[Shape], now: list[Shape]) -> list[Box]:
    """Where a widget's own drawing changed: each shape that changed, where it was and is."""
    damage: list[Box] = []
    for i in range(max(len(before), len(now))):
        old = before[i] if i < len(before) else None
        new = now[i] if i < len(now) else None
        if old is None or new is None or new.flagged or old.box != new.box or old.look != new.look:
            damage += _some(old.box if old is not None else None)
            damage += _some(new.box if new is not None else None)
    return damage


class PartialRedraw:
    """Replaces the window's clear so that a frame clears and draws only what changed."""

    def __init__(self, window: Any, enabled: bool = True) -> None:
        self.window = window
        self.wanted = enabled
        self.active = False  # the back buffer is known to keep its pixels
        self.stats = Stats()
        self.damage = Damage(window)
        self._probes_left = PROBES if enabled else 0
        self._marker: tuple[int, int, int] | None = None
        self._full_next = True
        self._size: tuple[int, int] = (0, 0)
        self._clear_colour: tuple[float, ...] = ()
        self._push = ScissorPush(x=0, y=0, width=1, height=1)
        self._plain_clear: Callable[[], None] = window.clear
        self._plain_flip: Callable[[], None] = window.flip
        self._blit: Callable[..., None] | None = None
        self.last: list[Box] | None = None  # the boxes the last frame drew, None: all of it
        self._left_out: list[tuple[Any, list[Any]]] = []  # canvases emptied for this pass

    def install(self) -> None:
        win = self.window
        win.render_context.insert(0, self._push)
        win.render_context.add(ScissorPop())
        # Once a pass is drawn, and before anything else runs (``on_flip`` handlers), the
        # canvases it left out get their instructions back.
        win.render_context.add(Callback(self._drawn))
        win.clear = self._clear
        win.flip = self._flip
        for event in ("on_resize", "on_restore", "on_show", "on_maximize", "on_rotate"):
            win.fbind(event, self._window_changed)
        if self.wanted:
            renderer = gl.glGetString(gl.GL_RENDERER) or b""
            name = renderer.decode(errors="replace") if isinstance(renderer, bytes) else renderer
            if not any(s in name.lower() for s in SOFTWARE_RENDERERS):
                log.info("Redraw: every frame whole, %s is not a known software renderer", name)
                self._probes_left = 0
            else:
                self._blit = _load_blit()

    def full_next(self) -> None:
        """Draw the next frame whole (and ask for one)."""
        self._full_next = True
        self.window.canvas.ask_update()

    def _window_changed(self, *_: Any) -> None:
        self._full_next = True

    # -- the frame ------------------------------------------------------------------------
    def _plan(self) -> list[Box] | None:
        """The boxes to draw this frame, None for the whole window."""
        win = self.window
        size = (int(win.width), int(win.height))
        why = None
        if not self.active:
            why = "off"
        elif self._full_next or size != self._size or tuple(win.clearcolor) != self._clear_colour:
            why = "window"
        self._full_next = False
        self._size = size
        self._clear_colour = tuple(win.clearcolor)
        boxes: list[Box] = []
        if self.active:  # the walk also keeps what was drawn up to date for full frames
            started = time.perf_counter()
            try:
                boxes = self.damage.collect()
            except FullFrame as exc:
                why = why or str(exc)
                if not exc.walked:
                    self._relearn()
            took = time.perf_counter() - started
            self.stats.walk_s += took
            self.stats.walk_max_s = max(self.stats.walk_max_s, took)
        copies = self.damage.copies
        if why is None and (boxes or copies):
            passes = plan_passes(boxes, size)
            drawn = sum(_area(b) for b in passes)
            if drawn < FULL_SHARE * size[0] * size[1]:
                self.stats.partial += 1
                self.stats.pixels += drawn
                self.stats.passes += len(passes)
                self.stats.copies += len(copies)
                self._copy(copies)
                return passes
            why = "most of the window"
        why = why or "a frame with nothing found changed"
        self.stats.full += 1
        self.stats.reasons[why] = self.stats.reasons.get(why, 0) + 1
        return None

    def _relearn(self) -> None:
        """After a walk cut short: remember the whole tree as this (full) frame draws it."""
        self.damage.forget()
        try:
            self.damage.collect()
        except FullFrame as exc:
            if not exc.walked:
                self.damage.forget()  # every frame is full while that lasts

    def _clear(self) -> None:
        self._put_back()
        passes = self._plan()
        self.last = passes
        w, h = self._size
        boxes = passes if passes is not None else [(0, 0, w, h)]
        boxes = boxes or [(0, 0, 0, 0)]  # only copies: Kivy's own pass draws nothing
        for box in boxes[1:]:  # passes of their own; Kivy draws the first after this clear
            self._scissor(box)
            self._clear_in(box, passes is not None)
            self._leave_out(box, passes is not None)
            self.window.render_context.draw()
        self._scissor(boxes[0])
        self._clear_in(boxes[0], passes is not None)  # the push keeps the scissor for the draw
        self._leave_out(boxes[0], passes is not None)

    def _clear_in(self, box: Box, partial: bool) -> None:
        """Clears inside the scissor ``box``: only its rows that need it, when known."""
        if not partial:
            self._plain_clear()
            return
        # Of the colour only (Kivy's clears depth and stencil too): no instruction a
        # partial frame draws reads depth (anything the walk does not know gives a full
        # frame), and Kivy's first StencilPush clears the stencil itself, inside the pass.
        gl.glClearColor(*self.window.clearcolor)
        rows = self.damage.clear_boxes(box)
        if rows is None:
            gl.glClear(gl.GL_COLOR_BUFFER_BIT)
            self.stats.cleared += _area(box)
            return
        for x0, y0, x1, y1 in rows:
            gl.glScissor(x0, y0, x1 - x0, y1 - y0)
            gl.glClear(gl.GL_COLOR_BUFFER_BIT)
            self.stats.cleared += (x1 - x0) * (y1 - y0)
        gl.glScissor(box[0], box[1], box[2] - box[0], box[3] - box[1])

    def _leave_out(self, box: Box, partial: bool) -> None:
        """Empty, for one pass, the canvases of widgets that draw nothing inside its box.

        Kivy applies every instruction of the window in each pass, scissor or not, and
        the software renderer sets up every draw it is given; a bump's pass covers one
        card of six. Emptied by swapping the canvas's list of instructions, which flags
        nothing: the next frame's walk sees the tree as it was.
        """
        if not partial:
            return
        for canvas in self.damage.outside(box):
            self._left_out.append((canvas, canvas.children))
            canvas.children = []
            self.stats.left_out += 1

    def _put_back(self) -> None:
        for canvas, children in self._left_out:
            canvas.children = children
        self._left_out = []

    def _drawn(self, _instruction: Any) -> bool:
        self._put_back()
        return True  # done: the callback is not flagged for another frame

    def _copy(self, moves: list[Move]) -> None:
        """Each moved widget's pixels, from where they were to where it is now, in order."""
        blit = self._blit
        if not moves or blit is None:
            return
        gl.glDisable(gl.GL_SCISSOR_TEST)  # a blit is clipped by the scissor too
        for m in moves:
            for x0, y0, x1, y1 in m.bands:
                u0, v0 = x0 + m.dx, y0 + m.dy
                blit(x0, y0, x1, y1, u0, v0, u0 + x1 - x0, v0 + y1 - y0,
                     gl.GL_COLOR_BUFFER_BIT, GL_NEAREST)  # fmt: skip

    def _scissor(self, box: Box) -> None:
        x, y, bw, bh = box[0], box[1], box[2] - box[0], box[3] - box[1]
        push = self._push
        if (push.x, push.y, push.width, push.height) != (x, y, bw, bh):
            push.x, push.y, push.width, push.height = x, y, bw, bh
        gl.glEnable(gl.GL_SCISSOR_TEST)
        gl.glScissor(x, y, bw, bh)

    # -- is the back buffer kept? -----------------------------------------------------------
    def _flip(self) -> None:
        self._put_back()  # already, unless the pass stopped short
        if self._probes_left <= 0:
            self._plain_flip()
            return
        before = self._pixel()
        marker = ((before[0] + 97) % 256, (before[1] + 31) % 256, (before[2] + 151) % 256)
        self._paint(marker)
        self._plain_flip()
        after = self._pixel()
        self._paint(before)  # the back buffer as it was drawn; the next frame is full
        self.full_next()
        if after != marker:
            log.info("Redraw: every frame whole, the back buffer is not kept across a swap")
            self._probes_left = 0
            self.active = False
            return
        self._probes_left -= 1
        if self._blit is not None and not self._copies_pixels(marker):
            log.info("Redraw: moved widgets drawn again, copying pixels did not work here")
            self._blit = None
        if self._probes_left == 0:
            self.active = True
            self.damage.copying = self._blit is not None
            log.info("Redraw: frames only where they changed, the back buffer is kept across swaps")

    def _pixel(self, x: int = 0) -> tuple[int, int, int]:
        data = gl.glReadPixels(x, 0, 1, 1, gl.GL_RGBA, gl.GL_UNSIGNED_BYTE)
        return (data[0], data[1], data[2])

    def _copies_pixels(self, marker: tuple[int, int, int]) -> bool:
        """The marker pixel, still in the back buffer, copied one pixel right with the blit."""
        assert self._blit is not None
        self._paint(marker)
        gl.glDisable(gl.GL_SCISSOR_TEST)
        self._blit(0, 0, 1, 1, 1, 0, 2, 1, gl.GL_COLOR_BUFFER_BIT, GL_NEAREST)
        return self._pixel(1) == marker  # the next frame is whole: it paints over both

    def _paint(self, rgb: tuple[int, int, int]) -> None:
        gl.glEnable(gl.GL_SCISSOR_TEST)
        gl.glScissor(0, 0, 1, 1)
        gl.glClearColor(rgb[0] / 255, rgb[1] / 255, rgb[2] / 255, 1.0)
        gl.glClear(gl.GL_COLOR_BUFFER_BIT)
        gl.glDisable(gl.GL_SCISSOR_TEST)
