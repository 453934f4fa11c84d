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

It is used only where the back buffer is known to keep its pixels: a software renderer
whose swap is shown to keep them by a probe at start-up (a one-pixel marker drawn before
a swap must still be in the back buffer after it, three times in a row), and not when
``kitchen.json`` says ``"partial_redraw": false``. Anywhere else every frame is full,
exactly as Kivy draws it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from math import ceil, floor
from typing import Any

from kivy.graphics import (
    BindTexture,
    BorderImage,
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
# Renderers whose swap copies a back buffer kept in memory (Mesa's software rasterisers).
SOFTWARE_RENDERERS = ("llvmpipe", "softpipe", "swrast")
PROBES = 3  # swaps that must keep the marker pixel before frames are drawn in part
FULL_SHARE = 0.85  # a damaged box this share of the window or more: draw it all
MARGIN = 2  # px around every shape: anti-aliased edges and rounding
PASS_PX = 150_000  # what a drawing pass of its own costs, in pixels drawn
MAX_PASSES = 3
# Shapes bounded by their pos and size; everything else that draws gives a full frame.
BOXED = (Rectangle, BorderImage, Ellipse, RoundedRectangle)


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


def _shape(raw: Raw | None, look: tuple[Any, ...], flagged: bool) -> Shape:
    return Shape(_round(raw), look, flagged, raw)


def _shifted(shape: Shape, dx: float, dy: float) -> Shape:
    if shape.fixed or shape.raw is None:
        return shape
    x0, y0, x1, y1, pad = shape.raw
    return _shape((x0 + dx, y0 + dy, x1 + dx, y1 + dy, pad), shape.look, False)


@dataclass(slots=True)
class Stats:
    full: int = 0
    partial: int = 0
    pixels: int = 0  # drawn by partial frames
    passes: int = 0  # drawing passes of partial frames (one per box)
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

    def __init__(self, window: Any) -> None:
        self.window = window
        self._drawn: dict[int, _Drawn] = {}

    def forget(self) -> None:
        """The next frame is full: remember everything afresh from it."""
        self._drawn.clear()

    def collect(self) -> list[Box]:
        """The damaged boxes (none: nothing changed), or FullFrame. Remembers this frame."""
        win = self.window
        canvas = win.canvas
        children = list(win.children)
        kids = {id(c.canvas) for c in children}
        own = [i for i in canvas.children if id(i) not in kids]
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
        return damage

    def _visit(self, w: Any, ox: float, oy: float) -> list[Box]:
        canvas = w.canvas
        was = self._drawn.get(id(w))
        if was is not None and was.widget is not w:
            was = None  # an id of a widget gone and collected, now another's
        if was is not None and not canvas.needs_redraw and was.offset == (ox, oy):
            return []  # nothing in this subtree changed or moved
        relative = isinstance(w, RelativeLayout)
        cx, cy = (ox + w.x, oy + w.y) if relative else (ox, oy)
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
            damage = _moved(was.shapes, shapes)
        elif changed:
            try:
                shapes = self._shapes(canvas.children, kids, cx, cy, relative)
            except FullFrame as exc:
                raise FullFrame(f"{exc} ({type(w).__name__})") from None
            damage = _moved(was.shapes if was is not None else [], shapes)
        opacity = float(canvas.opacity)
        if was is not None and was.opacity != opacity:
            damage += _some(self._subtree(id(w)))
        if was is not None and was.children != ids:
            damage += self._gone(was.children, ids)
        self._drawn[id(w)] = _Drawn(w, (ox, oy), opacity, ids, shapes)
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
        for cid in gone:
            damage += _some(self._subtree(cid))
        for cid in set(before) - set(now):
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
        self.last: list[Box] | None = None  # the boxes the last frame drew, None: all of it

    def install(self) -> None:
        win = self.window
        win.render_context.insert(0, self._push)
        win.render_context.add(ScissorPop())
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
        if why is None and boxes:
            passes = plan_passes(boxes, size)
            drawn = sum(_area(b) for b in passes)
            if drawn < FULL_SHARE * size[0] * size[1]:
                self.stats.partial += 1
                self.stats.pixels += drawn
                self.stats.passes += len(passes)
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
        passes = self._plan()
        self.last = passes
        w, h = self._size
        boxes = passes if passes is not None else [(0, 0, w, h)]
        for box in boxes[1:]:  # passes of their own; Kivy draws the first after this clear
            self._scissor(box)
            self._plain_clear()
            self.window.render_context.draw()
        self._scissor(boxes[0])
        self._plain_clear()  # clears inside the scissor only; the push keeps it for the draw

    def _scissor(self, box: Box) -> None:
        x, y, bw, bh = box[0], box[1], box[2] - box[0], box[3] - box[1]
        push = self._push
        if (push.x, push.y, push.width, push.height) != (x, y, bw, bh):
            push.x, push.y, push.width, push.height = x, y, bw, bh
        gl.glEnable(gl.GL_SCISSOR_TEST)
        gl.glScissor(x, y, bw, bh)

    # -- is the back buffer kept? -----------------------------------------------------------
    def _flip(self) -> None:
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
        if self._probes_left == 0:
            self.active = True
            log.info("Redraw: frames only where they changed, the back buffer is kept across swaps")

    def _pixel(self) -> tuple[int, int, int]:
        data = gl.glReadPixels(0, 0, 1, 1, gl.GL_RGBA, gl.GL_UNSIGNED_BYTE)
        return (data[0], data[1], data[2])

    def _paint(self, rgb: tuple[int, int, int]) -> None:
        gl.glEnable(gl.GL_SCISSOR_TEST)
        gl.glScissor(0, 0, 1, 1)
        gl.glClearColor(rgb[0] / 255, rgb[1] / 255, rgb[2] / 255, 1.0)
        gl.glClear(gl.GL_COLOR_BUFFER_BIT)
        gl.glDisable(gl.GL_SCISSOR_TEST)
