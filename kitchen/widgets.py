"""The KDS's reusable widgets: a ticket card, its item rows, the status dot.

A card is built once and then only re-filled (``show``) when its ticket
changes, or handed to another ticket from the rail's pool: a busy rail never
rebuilds its widget tree. Their look lives in ``widgets.kv``.

A tap on an item bumps it; holding it (``HOLD_S``) asks to refire just that item
instead, and the card's REFIRE button asks to refire from the whole ticket.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from kivy.clock import Clock, ClockEvent
from kivy.graphics import ScissorPop, ScissorPush
from kivy.properties import (
    BooleanProperty,
    ListProperty,
    NumericProperty,
    ObjectProperty,
    StringProperty,
)
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.label import Label
from kivy.uix.relativelayout import RelativeLayout
from kivy.uix.widget import Widget
from kivy.utils import escape_markup

from kitchen.model import NORMAL, ItemView, TicketView, age_level, format_age

MOD_COLOUR = "c8c8c8"
NOTE_COLOUR = "ffd24a"
VOID_COLOUR = "ff5a5a"
DONE_COLOUR = "6fdc8c"
WAIT_COLOUR = "ffb84a"
DIM_COLOUR = "7a7a7a"
SEAT_COLOUR = "99aadd"
HOLD_S = 0.6  # longer than any tap, short enough that a cook does not think it stuck
SPARE_ROWS_MAX = 8  # item rows a card keeps aside for its next tickets, out of the tree
SHARED_TEXTURES = 512  # plain label images kept for reuse: a few pages' timers and numbers


def item_markup(item: ItemView) -> str:
    """One item as the cook reads it: quantity, name, seat; modifiers and note below."""
    done_here = item.state == "bumped" and not item.station  # done, still on the ticket
    mod, note, seat_c = (DIM_COLOUR,) * 3 if done_here else (MOD_COLOUR, NOTE_COLOUR, SEAT_COLOUR)
    name = escape_markup(item.name)
    seat = f"  [size=18sp][color={seat_c}]S{item.seat}[/color][/size]" if item.seat else ""
    head = f"[b]{item.qty}[/b]  {name}{seat}"
    if item.state == "voided":
        head = f"[s]{head}[/s]  [b][color={VOID_COLOUR}]VOID[/color][/b]"
    elif done_here:
        head = f"[color={DIM_COLOUR}]{head}[/color]  [b][color={DONE_COLOUR}]DONE[/color][/b]"
    lines = [head, *(f"[color={mod}]   - {escape_markup(m)}[/color]" for m in item.modifiers)]
    if item.note:
        lines.append(f"[color={note}][i]   >> {escape_markup(item.note)}[/i][/color]")
    if item.station and item.state != "voided":  # expo: where it is cooked, is it ready
        where = escape_markup(item.station.title())
        ready = f"[color={DONE_COLOUR}]READY[/color]"
        tag = ready if item.done else f"[color={WAIT_COLOUR}]cooking[/color]"
        lines.append(f"   [size=17sp]{where}: {tag}[/size]")
    return "\n".join(lines)


def _frozen(value: Any) -> Any:
    """A label option as a hashable key part."""
    if isinstance(value, list | tuple):
        return tuple(_frozen(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _frozen(v)) for k, v in value.items()))
    return value


# (markup or not, text, the core label's options) -> (texture, its ink box, shortened, its
# markup's refs and anchors): the images of labels, shared by every label that shows the
# same text the same way.
_shared: OrderedDict[Any, tuple[Any, tuple[int, int, int, int] | None, bool, Any, Any]] = (
    OrderedDict()
)


def ink_box(data: Any) -> tuple[int, int, int, int] | None:
    """Where a rendered label image has any ink: (x0, y0, x1, y1) from its top left.

    Every pixel outside is all zero bytes: fully transparent, so a quad that skips it
    draws exactly the same picture. None: no ink at all.
    """
    width, height, pixels = data.width, data.height, data.data
    stride = width * 4
    x0, x1, rows = width, 0, []
    for y in range(height):
        row = pixels[y * stride : (y + 1) * stride]
        left = stride - len(row.lstrip(b"\0"))
        if left == stride:
            continue
        rows.append(y)
        x0 = min(x0, left // 4)
        x1 = max(x1, (len(row.rstrip(b"\0")) + 3) // 4)
    if not rows:
        return None
    return (x0, rows[0], x1, rows[-1] + 1)


class InkLabel(Label):  # type: ignore[misc]  # Kivy ships no type hints
    """A label that draws only the part of its texture that holds text.

    Kivy draws a label's whole texture, and with ``text_size`` set (to align, wrap or
    shorten) the texture is as big as that: an item row's spans its column, a header's
    its box, and under a software renderer every pixel of it is blended, ink or not.
    This one draws the same texture through a region around its ink, at the same place,
    so the picture is the same and the pixels blended are only the text's.

    A label also shares its image with every label that showed the same text with the
    same options: the timers of tickets fired in the same second read the same, and the
    same dish (an item row's markup) comes up on ticket after ticket, so most of them need
    no rendering (about a millisecond each on the UI thread, a few for an item row's
    markup, measured), also not for a new ticket's card before its first frame.
    """

    ink_texture = ObjectProperty(None, allownone=True)
    ink_pos = ListProperty([0, 0])
    ink_size = ListProperty([0, 0])

    def __init__(self, **kwargs: Any) -> None:
        self._ink: tuple[int, int, int, int] | None = None
        super().__init__(**kwargs)
        self.fbind("texture", self._place)
        self.fbind("pos", self._place)
        self.fbind("size", self._place)

    def _create_label(self) -> None:
        super()._create_label()
        core = self._label
        render_end = core._render_end

        def measured() -> Any:  # the rendered image, before it is uploaded
            data = render_end()
            self._ink = ink_box(data) if data is not None else None
            return data

        core._render_end = measured

    def texture_update(self, *args: Any) -> None:
        core = self._label
        key = None
        # A markup label's core is given its text wrapped in the label's colour when it is
        # drawn (Kivy's texture_update): the label's own text, with the options, says it.
        text = self.text if self.markup else core.text
        if text:
            # The options keep the text the label was made with, and the text_size it was
            # last drawn at (Kivy copies it in when it renders); the core's own are current.
            # Taken from the options, a label laid out again at another width found the
            # image of its old width, and the text came out wrapped to that width.
            options = {k: v for k, v in core.options.items() if k not in ("text", "text_size")}
            options["text_size"] = tuple(core.text_size)
            key = (self.markup, text, _frozen(options))
            hit = _shared.get(key)
            if hit is not None:  # drawn before, here or by another label: no rendering
                _shared.move_to_end(key)
                texture, self._ink, shortened, refs, anchors = hit
                self.texture = texture
                self.texture_size = list(texture.size)
                self.is_shortened = shortened
                if self.markup:
                    self.refs, self.anchors = refs, anchors
                self._place()
                return
        super().texture_update(*args)
        texture = core.texture
        if texture is not None:  # Kivy fills a plain label's texture when first drawn:
            texture.bind()  # fill it now, so that its ink is measured
            if key is not None and texture is not core.texture_1px:
                refs, anchors = (self.refs, self.anchors) if self.markup else (None, None)
                _shared[key] = (texture, self._ink, bool(core.is_shortened), refs, anchors)
                # Kivy renders the next text into the same texture when its size is the
                # same: a shared one must stay as it is, so the next gets a texture of its own.
                core.texture = None
                while len(_shared) > SHARED_TEXTURES:
                    _shared.popitem(last=False)
        self._place()

    def _place(self, *_: Any) -> None:
        texture, ink = self.texture, self._ink
        if texture is None or ink is None:
            self.ink_texture, self.ink_size = None, [0, 0]
            return
        tw, th = texture.size
        x0, y0, x1, y1 = ink
        # Where Kivy's own rule puts the whole texture (style.kv's <Label>).
        left = int(self.center_x - tw / 2.0)
        bottom = int(self.center_y - th / 2.0)
        # A label's texture is flipped: a region's y counts from the image's bottom row.
        self.ink_texture = texture.get_region(x0, th - y1, x1 - x0, y1 - y0)
        self.ink_pos = [left + x0, bottom + th - y1]
        self.ink_size = [x1 - x0, y1 - y0]


class ItemRow(ButtonBehavior, InkLabel):  # type: ignore[misc]  # Kivy ships no type hints
    """One ticket item; a tap bumps just this item, holding it fires ``on_hold``."""

    __events__ = ("on_hold",)
    line = StringProperty("")
    item_state = StringProperty("new")  # not "state": ButtonBehavior owns that name
    pending = BooleanProperty(False)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._hold: ClockEvent | None = None
        self.held = False  # the touch now ending was a hold: its release must not bump

    def on_press(self) -> None:
        self.held = False
        self._hold = Clock.schedule_once(self._held, HOLD_S)

    def on_touch_up(self, touch: Any) -> Any:
        # Also when the finger slides off before the release: a hold is only a hold in place.
        if touch.grab_current is self and self._hold is not None:
            self._hold.cancel()
            self._hold = None
        return super().on_touch_up(touch)

    def _held(self, _dt: float) -> None:
        self._hold = None
        self.held = True
        self.dispatch("on_hold")

    def on_hold(self) -> None:
        pass


class ClipBox(Widget):  # type: ignore[misc]  # Kivy ships no type hints
    """Shows its children only inside its own box, with the GL scissor test.

    Kivy's StencilView draws its box into the stencil buffer twice a frame and tests
    every pixel in between; under a software renderer that was a sixth of a card's
    column per card, every frame. A scissor rectangle costs no pixels. It is in window
    coordinates, so it follows this box's place on the screen: its own moves and sizes,
    and ``reclip`` for a move of something above it (the rail calls it).
    """

    def __init__(self, **kwargs: Any) -> None:
        self._scissor = ScissorPush(x=0, y=0, width=0, height=0)
        # Before the next frame, once this frame's layout has placed every parent.
        self._reclip = Clock.create_trigger(self._clip, -1)
        super().__init__(**kwargs)
        self.canvas.before.insert(0, self._scissor)  # around everything this box draws
        self.canvas.after.add(ScissorPop())
        self.fbind("pos", self._reclip)
        self.fbind("size", self._reclip)
        self.fbind("parent", self._reclip)

    def reclip(self) -> None:
        self._reclip()

    def _clip(self, *_: Any) -> None:
        x, y = self.to_window(self.x, self.y)
        box = (int(x), int(y), max(0, int(self.width)), max(0, int(self.height)))
        s = self._scissor
        if (s.x, s.y, s.width, s.height) != box:  # an unchanged box must not cost a frame
            s.x, s.y, s.width, s.height = box


class TicketCard(RelativeLayout):  # type: ignore[misc]  # Kivy ships no type hints
    """One ticket as a column: header with table and age, items, a bump button.

    A RelativeLayout, so that a card moving to another column (every bump of a ticket
    ahead of it) changes one translation instead of laying out every box inside it.
    """

    ticket_id = StringProperty("")
    position = NumericProperty(0)  # 1.. on the current page: the bump bar's key
    table = StringProperty("")
    details = StringProperty("")
    flags = StringProperty("")
    has_void = BooleanProperty(False)
    refire = BooleanProperty(False)
    stations_text = StringProperty("")
    age_text = StringProperty("0:00")
    level = StringProperty(NORMAL)
    pending = BooleanProperty(False)
    overflow = BooleanProperty(False)
    created_at = NumericProperty(0)
    bump_handler = ObjectProperty(None, allownone=True)  # callable(ticket_id, line | None)
    refire_handler = ObjectProperty(None, allownone=True)  # callable(ticket_id, line | None)
    rows = ListProperty([])

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # Item rows this card made and does not show now: a ticket with more items than
        # the last one takes them instead of building new ones (a few ms each).
        self._spare_rows: list[ItemRow] = []
        self.aged = False  # its timer shows the age of the ticket it shows
        # The item area's clip is in window coordinates, and inside this card it never moves.
        self.fbind("pos", lambda *_: self.ids.area.reclip())

    def make_rows(self, count: int) -> None:
        """Build ``count`` item rows ahead, kept aside for the tickets this card will show."""
        while len(self._spare_rows) < min(count, SPARE_ROWS_MAX):
            row = ItemRow()
            row.bind(on_release=self._row_tapped, on_hold=self._row_held)
            self._spare_rows.append(row)

    def show(self, view: TicketView) -> None:
        if (view.id, view.created_at) != (self.ticket_id, self.created_at):
            self.aged = False  # its timer shows another ticket's age, or none yet
        self.ticket_id = view.id
        self.created_at = view.created_at
        self.table = f"Table {view.table}"
        self.details = f"{view.server}   #{view.check}"
        flags = []
        if view.refire:  # first: the cook must see at once that this is cooked again
            reason = f": {escape_markup(view.refire_reason)}" if view.refire_reason else ""
            flags.append(f"REFIRE{reason}")
        if view.has_void:
            flags.append("VOID AFTER FIRE")
        if view.course is not None:
            flags.append(f"COURSE {view.course} FIRED")
        self.flags = "   ".join(flags)
        self.has_void = view.has_void
        self.refire = view.refire
        ready = [escape_markup(name) for name, done in view.stations if done]
        waiting = [escape_markup(name) for name, done in view.stations if not done]
        parts = []
        if waiting:
            parts.append(f"[color={WAIT_COLOUR}]Waiting: {', '.join(waiting)}[/color]")
        if ready:
            parts.append(f"[color={DONE_COLOUR}]Ready: {', '.join(ready)}[/color]")
        self.stations_text = "   ".join(parts)
        self.pending = False
        box = self.ids.item_box
        rows: list[ItemRow] = list(self.rows)
        while len(rows) < len(view.items):  # reuse rows; make only the missing ones
            if not self._spare_rows:
                self.make_rows(1)
            row = self._spare_rows.pop()
            rows.append(row)
            box.add_widget(row)
        while len(rows) > len(view.items):
            row = rows.pop()
            box.remove_widget(row)
            if len(self._spare_rows) < SPARE_ROWS_MAX:
                self._spare_rows.append(row)
        for row, item in zip(rows, view.items, strict=True):
            row.line = item.line
            row.item_state = item.state
            row.pending = False
            row.text = item_markup(item)
        self.rows = rows

    def set_age(self, now_ms: float, warn_s: float, late_s: float) -> None:
        self.aged = True
        age_s = max(0.0, (now_ms - self.created_at) / 1000)
        self.age_text = format_age(age_s)
        self.level = age_level(age_s, warn_s, late_s)

    def _row_tapped(self, row: ItemRow) -> None:
        if row.held:  # the release that ends a hold: the refire screen has it
            row.held = False
            return
        if row.item_state == "new" and self.bump_handler is not None and not self.pending:
            row.pending = True
            self.bump_handler(self.ticket_id, row.line)

    def _row_held(self, row: ItemRow) -> None:
        if row.item_state != "voided":
            self.ask_refire(row.line)

    def ask_refire(self, line: str | None = None) -> None:
        if self.refire_handler is not None:
            self.refire_handler(self.ticket_id, line)

    def bump_whole(self) -> None:
        if self.bump_handler is not None and not self.pending:
            self.pending = True
            self.bump_handler(self.ticket_id, None)

    def clear_pending(self) -> None:
        self.pending = False
        for row in self.rows:
            row.pending = False


class StatusDot(Widget):  # type: ignore[misc]  # Kivy ships no type hints
    """The site's status dot, as on the terminal: green, amber, red, or a slashed ring."""

    state = StringProperty("unknown")
