"""Runs the real KDS app with a test driver: JSON requests on stdin, replies on stdout.

The app is built exactly as ``tablemesh kitchen`` builds it (``kitchen.main``'s
configuration, an embedded node, ``KitchenApp``); the driver only adds a
reader thread that hands each request to the Kivy thread. Taps are real
touches dispatched through Kivy's event loop at a widget's window position (a
hold is a touch lifted later, the frames running meanwhile); keys go through
the window's ``on_key_down`` as a bump bar's would.

Kivy and the node log to stderr; the original stdout is kept for the protocol.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import functools
import gc
import itertools
import json
import os
import sys
import threading
import time
import traceback
from bisect import bisect_left, bisect_right
from collections.abc import Callable
from pathlib import Path
from typing import Any

PROTO = os.fdopen(os.dup(1), "w", buffering=1)
CPU_KINDS = ("label images", "layouts")  # spans whose UI-thread CPU is also summed
os.dup2(2, 1)  # anything printed by a library must not corrupt the protocol


def reply(seq: Any, **fields: Any) -> None:
    PROTO.write(json.dumps({"seq": seq, **fields}) + "\n")
    PROTO.flush()


def _layouts() -> list[Any]:
    from kivy.uix.boxlayout import BoxLayout
    from kivy.uix.floatlayout import FloatLayout
    from kivy.uix.relativelayout import RelativeLayout

    return [BoxLayout, FloatLayout, RelativeLayout]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True, type=Path)
    parser.add_argument("--station")
    args = parser.parse_args()

    from kitchen.main import choose_station, configure_kivy
    from kitchen.settings import load_settings

    settings = load_settings(args.data)
    configure_kivy(settings)
    from kivy.base import EventLoop
    from kivy.clock import Clock
    from kivy.core.window import Window
    from kivy.tests.common import UnitTestTouch

    from kitchen.app import KitchenApp
    from mesh.client.api import EmbeddedNode

    node = EmbeddedNode(args.data)
    client = node.start()
    calls: collections.Counter[str] = collections.Counter()  # the app's calls to its node
    plain_call = client.call

    def counted_call(op: str, **call_args: Any) -> Any:
        calls[op] += 1
        return plain_call(op, **call_args)

    client.call = counted_call  # type: ignore[method-assign]
    app = KitchenApp(client, settings, choose_station(args.station, settings, client.status()))
    # Each card widget gets a serial number when it is made, so a test can tell a card
    # kept across updates from one made again for the same ticket.
    from kitchen.widgets import TicketCard

    serials = itertools.count(1)
    plain_card_init = TicketCard.__init__

    made = [0]  # cards built so far, ahead of time or for a ticket

    def numbered_card_init(card: Any, **kw: Any) -> None:
        plain_card_init(card, **kw)
        card.driver_serial = next(serials)
        made[0] = card.driver_serial

    TicketCard.__init__ = numbered_card_init
    applied: list[tuple[int, float]] = []  # (applied index, wall time) as the node reports
    client.watch(lambda index: applied.append((index, time.time())))
    # Ticket id -> wall time of the first frame that showed it: the end of that frame's
    # buffer swap (under a software renderer the swap is where the pixels are drawn).
    seen: dict[str, float] = {}
    # ... and the start of that frame's swap (what "drawn" meant before 2026-12-02).
    seen_before_swap: dict[str, float] = {}
    in_frame: list[str] = []  # tickets new in the frame being swapped
    draw_began: dict[str, float] = {}  # ... and when that frame began to be drawn

    def on_flip(*_: Any) -> None:  # bound handlers run before the window's swap
        rail = getattr(app, "rail", None)
        if rail is None:
            return
        now = time.time()
        began = now - (time.perf_counter() - perf["draw_at"])  # that frame's on_draw
        for tid in rail.order():
            if tid not in seen_before_swap:
                seen_before_swap[tid] = now
                draw_began[tid] = began
                start = applied_perf.pop(tid, None)
                if start is not None:  # what it spent is summed when asked (``settle``)
                    gaps_to_sum[tid] = (start, perf["draw_at"])
                in_frame.append(tid)

    # Redraw cost: a ticket update applied on the UI thread plus the frame that shows it.
    # In wall time, and in CPU time of the UI thread from the update to the end of that
    # frame's buffer swap (what other load on the machine moves least).
    # ``redraw_ms`` ends where the frame's buffer swap starts (bound handlers of ``on_flip``
    # run before the window's own); ``redraw_swapped_ms`` at the end of that swap.
    perf: dict[str, Any] = {"apply_s": None, "draw_at": 0.0, "update_cpu": None}
    perf.update(redraw_ms=[], redraw_cpu_ms=[], queued_ms=[], pass_ms=[])
    perf.update(redraw_start=None, redraw_swapped_ms=[])
    # Each redraw's kind ("bump": a ticket left the rail, "new": tickets only came,
    # "other") and its parts in ms: applying the update, drawing the frame, its swap.
    perf.update(update_kind=None, redraw_parts=[], others_cpu=None)
    plain_apply = app.apply

    def others_cpu() -> float:
        """CPU seconds of this process's other Python threads (the node's, the feed's):
        each holds the interpreter while it runs, and the UI thread may wait for it."""
        total = 0.0
        for t in threading.enumerate():
            if t is not threading.main_thread() and t.ident is not None:
                with contextlib.suppress(OSError, ProcessLookupError):
                    total += time.clock_gettime(time.pthread_getcpuclockid(t.ident))
        return total

    def timed_apply(snap: Any) -> None:
        rail = getattr(app, "rail", None)  # looked at outside the time it measures
        before = set(rail.order()) if rail is not None and snap.tickets is not None else None
        started = time.perf_counter()
        if snap.tickets is not None:  # from the start of the feed's pass to the UI thread
            perf["queued_ms"].append((time.monotonic() - snap.taken_at) * 1000)
            if perf["update_cpu"] is None:
                perf["update_cpu"] = time.thread_time()
                perf["others_cpu"] = others_cpu()
        plain_apply(snap)
        if snap.tickets is not None:
            perf["apply_s"] = (perf["apply_s"] or 0.0) + time.perf_counter() - started
            if before is not None and rail is not None:
                now = set(rail.order())
                kind = "bump" if before - now else "new" if now - before else "other"
                # A frame showing several updates is a bump's if any of them was one.
                if perf["update_kind"] != "bump":
                    perf["update_kind"] = kind

    app.apply = timed_apply
    # What the UI thread did while a fetched ticket list waited for it: its spans of work
    # (a frame's draw and swap, the once-a-second tick, the clock's callbacks and its run
    # before a frame, label images, layouts), and for each list, from the end of the feed's
    # pass to the start of ``apply``, how much of that wait fell in each kind of span; the
    # rest is the UI thread waiting for the interpreter.
    # The sums are made when the bench asks (``settle``), not here: summing a few thousand
    # spans for every list, on the UI thread, cost it 2.5 ms a list on a quiet machine, and
    # the frame that showed the list waited for it (measured 2026-12-02).
    # (kind, start, end, the UI thread's CPU in it or -1 where not measured)
    spans: collections.deque[tuple[str, float, float, float]] = collections.deque(maxlen=100_000)
    waits_to_sum: list[tuple[float, float]] = []  # (handed over, apply began), perf_counter
    gaps_to_sum: dict[str, tuple[float, float]] = {}  # ticket -> (applied, its frame began)
    plain_deliver = app.feed._deliver
    delivered: dict[int, float] = {}  # id of a snapshot (slotted) -> when it was handed over

    def stamped_deliver(snap: Any) -> None:
        if snap.tickets is not None:
            delivered[id(snap)] = time.perf_counter()
        plain_deliver(snap)

    app.feed._deliver = stamped_deliver
    perf["waits"] = []

    def settle() -> None:
        """Sum what the UI thread did in each wait and gap recorded since the last call."""
        if not waits_to_sum and not gaps_to_sum:
            return
        ordered = sorted(spans, key=lambda span: span[1])
        starts = [span[1] for span in ordered]
        longest = max((s1 - s0 for _, s0, s1, _ in ordered), default=0.0)

        def overlaps(start: float, end: float, mark_after: bool = False) -> dict[str, float]:
            # Only spans that begin before ``end`` and may still run at ``start``.
            lo, hi = bisect_left(starts, start - longest), bisect_right(starts, end)
            return overlap_parts(ordered[lo:hi], start, end, mark_after)

        for start, end in waits_to_sum:
            perf["waits"].append(overlaps(start, end, mark_after=True))
        del perf["waits"][:-5000]
        for tid, (start, end) in gaps_to_sum.items():
            gap_parts[tid] = overlaps(start, end)
        waits_to_sum.clear()
        gaps_to_sum.clear()

    def overlap_parts(
        among: list[tuple[str, float, float, float]], start: float, end: float, mark_after: bool
    ) -> dict[str, float]:
        """How much of ``start``-``end`` fell in each kind of span (ms). Spans nest: label
        images and layouts lie inside the clock's callbacks or its run before a frame.
        For label images and layouts also the UI thread's CPU in them (``... cpu``, the
        share of each span that overlaps): the rest of their time it waited, most likely
        for the interpreter lock."""
        parts: dict[str, float] = {"total": round((end - start) * 1000, 1)}
        for kind, s0, s1, cpu in among:
            overlap = min(s1, end) - max(s0, start)
            if overlap > 0:
                if kind in CPU_KINDS and cpu >= 0 and s1 > s0:
                    share = cpu * overlap / (s1 - s0)
                    parts[f"{kind} cpu"] = round(parts.get(f"{kind} cpu", 0.0) + share * 1000, 1)
                if mark_after and s0 > start and kind in ("draw", "swap"):
                    kind = f"{kind} begun after"  # a frame that could have waited for it
                parts[kind] = round(parts.get(kind, 0.0) + overlap * 1000, 1)
        return parts

    def waited(snap: Any) -> None:
        start = delivered.pop(id(snap), None)
        if start is not None:
            waits_to_sum.append((start, time.perf_counter()))

    def spanned(kind: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        """``fn`` timed as a span of ``kind``; also for a method put back on its class."""

        @functools.wraps(fn)  # Kivy finds a bound method again by its name
        def run(*a: Any, **kw: Any) -> Any:
            s0, c0 = time.perf_counter(), time.thread_time()
            try:
                return fn(*a, **kw)
            finally:
                spans.append((kind, s0, time.perf_counter(), time.thread_time() - c0))

        return run

    app._tick = spanned("tick", app._tick)  # before build() schedules it
    plain_process = Clock._process_events
    Clock._process_events = spanned("callbacks", plain_process)
    Clock.tick_draw = spanned("before frame", Clock.tick_draw)
    Clock.idle = spanned("clock sleep", Clock.idle)
    # Label images rendered (Kivy's Label, under the KDS's InkLabel and Kivy's Button).
    from kivy.uix.label import Label

    Label.texture_update = spanned("label images", Label.texture_update)
    for layout_cls in _layouts():
        layout_cls.do_layout = spanned("layouts", layout_cls.do_layout)

    # Ticket id -> (wall time its list was handed over by the feed, wall time the UI thread
    # began applying it), for the first list that held it.
    handed: dict[str, tuple[float, float, float]] = {}
    applied_perf: dict[str, float] = {}  # ... the end of that apply, in perf_counter time
    # Ticket id -> what the UI thread did from the end of applying it to the start of the
    # frame that showed it (ms in each kind of span).
    gap_parts: dict[str, dict[str, float]] = {}

    def waited_apply(snap: Any) -> None:
        if snap.tickets is not None:
            at = delivered.get(id(snap))
            now = time.time()
            over = now - (time.perf_counter() - at) if at is not None else now
            fresh = [view.id for view in snap.tickets if view.id not in handed]
        waited(snap)
        timed_apply(snap)
        if snap.tickets is not None:
            for tid in fresh:
                handed[tid] = (over, now, time.time())
                applied_perf[tid] = time.perf_counter()

    app.apply = spanned("apply", waited_apply)
    plain_pass = app.feed._pass

    def timed_pass(woke: bool, last: int | None) -> Any:
        started = time.monotonic()
        snap = plain_pass(woke, last)
        if snap.fetched:
            perf["pass_ms"].append((time.monotonic() - started) * 1000)
        return snap

    app.feed._pass = timed_pass

    def on_draw(*_: Any) -> None:  # bound handlers run before the window draws
        perf["draw_at"] = time.perf_counter()

    def on_flip_perf(*_: Any) -> None:
        if perf["apply_s"] is not None:
            drawn = time.perf_counter() - perf["draw_at"]
            perf["redraw_ms"].append((perf["apply_s"] + drawn) * 1000)
            # The same sum to the end of the swap: the update's work plus the whole frame.
            perf["redraw_start"] = perf["draw_at"] - perf["apply_s"]
            parts = {"apply": perf["apply_s"] * 1000, "draw": drawn * 1000}
            perf["redraw_parts"].append([perf["update_kind"] or "other", parts])
            perf["apply_s"] = None
            perf["update_kind"] = None

    Window.bind(on_flip=on_flip, on_draw=on_draw)
    Window.bind(on_flip=on_flip_perf)
    # Every frame the window shows: when its buffer swap ended, and how long the swap took
    # (under Xvfb the swap is the software render and the copy to the X server).
    frames: list[tuple[float, float]] = []
    plain_flip = Window.flip

    def timed_flip() -> None:
        started = time.perf_counter()
        spans.append(("draw", perf["draw_at"], started, -1.0))
        plain_flip()
        spans.append(("swap", started, time.perf_counter(), -1.0))
        ended = time.time()
        frames.append((ended, (time.perf_counter() - started) * 1000))
        del frames[:-20000]
        for tid in in_frame:
            seen[tid] = ended
        in_frame.clear()
        if perf["redraw_start"] is not None:
            perf["redraw_swapped_ms"].append((time.perf_counter() - perf["redraw_start"]) * 1000)
            if perf["redraw_parts"]:
                parts = perf["redraw_parts"][-1][1]
                parts["swap"] = (time.perf_counter() - started) * 1000
                parts["total"] = perf["redraw_swapped_ms"][-1]
            perf["redraw_start"] = None
        if perf["update_cpu"] is not None:
            perf["redraw_cpu_ms"].append((time.thread_time() - perf["update_cpu"]) * 1000)
            perf["update_cpu"] = None
            if perf["redraw_parts"]:  # far less than the wall time: the thread was waiting
                parts = perf["redraw_parts"][-1][1]
                parts.setdefault("ui_cpu", perf["redraw_cpu_ms"][-1])
                parts.setdefault("others_cpu", (others_cpu() - perf["others_cpu"]) * 1000)

    Window.flip = timed_flip
    # Garbage collections by generation: how many, and how long each held the interpreter
    # (every thread waits, the UI's too). A full one walks every object of the process.
    gcs: dict[int, list[float]] = {0: [], 1: [], 2: []}
    gc_started = [0.0]

    def on_gc(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            gc_started[0] = time.perf_counter()
        else:
            gcs[info["generation"]].append((time.perf_counter() - gc_started[0]) * 1000)

    gc.callbacks.append(on_gc)

    def tap(widget: Any) -> None:
        x, y = widget.to_window(*widget.center)
        touch = UnitTestTouch(x, y)
        touch.touch_down()
        touch.touch_up()

    def hold(widget: Any, seconds: float) -> None:
        """Press and keep the finger down for ``seconds`` (the UI runs meanwhile), then lift."""
        x, y = widget.to_window(*widget.center)
        touch = UnitTestTouch(x, y)
        touch.touch_down()
        Clock.schedule_once(lambda _dt: touch.touch_up(), seconds)

    def in_screen(name: str, match: Callable[[Any], bool]) -> Any:
        found = [w for w in app.sm.get_screen(name).walk() if match(w)]
        if not found:
            raise LookupError(f"nothing on the {name} screen matches")
        return found[0]

    def refire_state() -> dict[str, Any]:
        screen = app.refire_screen
        return {
            "title": screen.title,
            "rows": [{"line": r["line"], "selected": r["selected"]} for r in screen.rows],
            "reason": screen.reason,
            "busy": screen.busy,
            "problem": screen.problem,
            "send": screen.ids.send.text,
        }

    def card_state(card: Any) -> dict[str, Any]:
        return {
            "id": card.ticket_id,
            "widget": card.driver_serial,  # which card widget: the same one while it is kept
            "position": card.position,
            "table": card.table,
            "details": card.details,
            "flags": card.flags,
            "stations": card.stations_text,
            "age": card.age_text,
            "level": card.level,
            "pending": card.pending,
            "items": [{"line": r.line, "state": r.item_state, "text": r.text} for r in card.rows],
        }

    def numbers(rail: Any) -> list[dict[str, Any]]:
        """The bump bar's numbers on show, each with the ticket whose card it sits on top of
        (left edge inside the card's column, bottom within a few pixels above its top)."""
        out = []
        for label in rail._numbers:
            if not label.text:
                continue
            x, y = label.to_window(label.x, label.y)
            over = []
            for c in rail.visible():
                left, top = c.to_window(c.x, c.top)
                if left <= x < left + c.width and top - 2 <= y <= top + 8:
                    over.append(c.ticket_id)
            out.append({"text": label.text, "over": over[0] if over else None})
        return out

    def state() -> dict[str, Any]:
        settle()
        rail = app.rail
        views = rail._views
        return {
            "screen": app.sm.current,
            "banner": app.banner,
            "dot": app.dot,
            "dot_widget": app.root.ids.dot.state,
            "message": app.message,
            "staff": app.staff_id,
            "page_text": app.page_text,
            "numbers": numbers(rail),
            "order": rail.order(),
            "tickets": {
                tid: [
                    {"line": i.line, "state": i.state, "name": i.name, "note": i.note}
                    for i in views[tid].items
                ]
                for tid in rail.order()
            },
            # The cards in the window, left to right: what the box holds, not what the rail
            # believes it shows (a card left behind in the box would be drawn).
            "shown": [card_state(c) for c in reversed(rail.ids.cards.children)],
            "all_day": list(app.all_day.rows),
            "recall": [r["ticket_id"] for r in app.recall_screen.rows],
            "refires": {tid: views[tid].refire_reason for tid in rail.order() if views[tid].refire},
            "refire": refire_state(),
            "seen": dict(seen),
            "seen_before_swap": dict(seen_before_swap),
            "draw_began": dict(draw_began),
            "gap_parts": dict(gap_parts),
            "built": len(rail._cards),
            "cards_made": made[0],
            "spare_cards": len(rail._pool),
            "window": [int(Window.width), int(Window.height)],
        }

    def compare_full(seq: Any, save: str | None) -> None:
        """The picture the last frames left (partial or not) against the same drawn whole.

        Waits until no change is waiting to be drawn, reads the back buffer (what the
        screen shows: the swap copies it), then draws a full frame at once, with nothing
        able to run in between, and reads it again: any pixel that differs is one the
        partial frames left stale.
        """
        if Window.canvas.needs_redraw:  # a change not drawn yet: compare after its frame
            Clock.schedule_once(lambda _dt: compare_full(seq, save), 0.05)
            return
        from kivy.graphics import opengl as gl

        w, h = int(Window.width), int(Window.height)
        shown = bytes(gl.glReadPixels(0, 0, w, h, gl.GL_RGB, gl.GL_UNSIGNED_BYTE))
        last = app.partial.last
        app.partial.full_next()
        Window.dispatch("on_draw")
        full = bytes(gl.glReadPixels(0, 0, w, h, gl.GL_RGB, gl.GL_UNSIGNED_BYTE))
        Window.dispatch("on_flip")
        rows = [
            y
            for y in range(h)
            if shown[y * w * 3 : (y + 1) * w * 3] != full[y * w * 3 : (y + 1) * w * 3]
        ]
        differ, box = 0, None
        if rows:
            xs: list[int] = []
            for y in rows:
                a, b = shown[y * w * 3 : (y + 1) * w * 3], full[y * w * 3 : (y + 1) * w * 3]
                cols = [x for x in range(w) if a[x * 3 : x * 3 + 3] != b[x * 3 : x * 3 + 3]]
                differ += len(cols)
                xs += [cols[0], cols[-1]]
            box = [min(xs), rows[0], max(xs) + 1, rows[-1] + 1]
            if save:
                Window._win.save_bytes_in_png(save + "-partial.png", shown, w, h)
                Window._win.save_bytes_in_png(save + "-full.png", full, w, h)
        reply(seq, ok=True, differ=differ, box=box, last=last)

    pressed: list[Any] = []  # touches held down by "press_text"

    def handle(req: dict[str, Any]) -> None:
        seq, cmd = req.get("seq"), req.get("cmd")
        try:
            if cmd == "state":
                reply(seq, ok=True, state=state())
            elif cmd == "tap_bump":
                card = app.rail.card(req["ticket"])
                if card is None or card not in app.rail.visible():
                    reply(seq, ok=False, error="ticket not on the visible page")
                    return
                button = next(w for w in card.walk() if getattr(w, "text", "") == "BUMP")
                tap(button)
                reply(seq, ok=True)
            elif cmd == "tap_item":
                card = app.rail.card(req["ticket"])
                row = next(r for r in card.rows if r.line == req["line"])
                tap(row)
                reply(seq, ok=True)
            elif cmd == "hold_item":
                card = app.rail.card(req["ticket"])
                row = next(r for r in card.rows if r.line == req["line"])
                hold(row, float(req.get("seconds", 1.0)))
                reply(seq, ok=True)
            elif cmd == "tap_card_refire":
                card = app.rail.card(req["ticket"])
                if card is None or card not in app.rail.visible():
                    reply(seq, ok=False, error="ticket not on the visible page")
                    return
                tap(next(w for w in card.walk() if getattr(w, "text", "") == "REFIRE"))
                reply(seq, ok=True)
            elif cmd == "tap_recall_refire":
                row = in_screen("recall", lambda w: getattr(w, "ticket_id", None) == req["ticket"])
                tap(next(w for w in row.children if getattr(w, "text", "") == "REFIRE"))
                reply(seq, ok=True)
            elif cmd == "tap_refire_item":
                tap(in_screen("refire", lambda w: getattr(w, "line", None) == req["line"]))
                reply(seq, ok=True)
            elif cmd == "tap_screen_id":
                tap(app.sm.current_screen.ids[req["id"]])
                reply(seq, ok=True)
            elif cmd == "tap_id":
                tap(app.root.ids[req["id"]])
                reply(seq, ok=True)
            elif cmd == "tap_text":
                screen = app.sm.current_screen
                found = [w for w in screen.walk() if getattr(w, "text", None) == req["text"]]
                if not found:
                    reply(seq, ok=False, error=f"no widget says {req['text']!r}")
                    return
                tap(found[0])
                reply(seq, ok=True)
            elif cmd == "key":
                text = req.get("text")
                Window.dispatch("on_key_down", req["key"], 0, text, [])
                Window.dispatch("on_key_up", req["key"], 0)
                reply(seq, ok=True)
            elif cmd == "screenshot":
                path = Path(req["path"])
                made = Window.screenshot(name=str(path.with_suffix("")) + ".png")
                Path(made).replace(path)
                reply(seq, ok=True, path=str(path))
            elif cmd == "perf":
                settle()
                reply(
                    seq,
                    ok=True,
                    redraw_ms=list(perf["redraw_ms"]),
                    redraw_cpu_ms=list(perf["redraw_cpu_ms"]),
                    redraw_swapped_ms=list(perf["redraw_swapped_ms"]),
                    redraw_parts=list(perf["redraw_parts"]),
                    gc_ms={str(gen): list(ms) for gen, ms in gcs.items()},
                    objects=len(gc.get_objects()),
                    gc_threshold=list(gc.get_threshold()),
                    queued_ms=list(perf["queued_ms"]),
                    pass_ms=list(perf["pass_ms"]),
                    waits=list(perf["waits"]),
                    handed={tid: handed[tid] for tid in list(handed)[-3000:]},
                    applied=applied[-5000:],
                    frames=list(frames),
                    # CPU used so far by the UI thread (this handler runs on it) and the
                    # whole process: unlike wall times, barely moved by other load.
                    calls=dict(calls),
                    ui_cpu_s=time.thread_time(),
                    process_cpu_s=time.process_time(),
                )
                if req.get("reset"):
                    perf["redraw_ms"].clear()
                    perf["redraw_cpu_ms"].clear()
                    perf["redraw_swapped_ms"].clear()
                    perf["redraw_parts"].clear()
                    for ms in gcs.values():
                        ms.clear()
                    perf["queued_ms"].clear()
                    perf["pass_ms"].clear()
                    perf["waits"].clear()
            elif cmd == "frame_cost":
                # Draw the same window ``frames`` times, one a frame, nothing else changing:
                # the CPU this process spends per frame (render and swap included).
                left = [int(req.get("frames", 20))]
                cpu0, first, ui0 = time.process_time(), len(frames), time.thread_time()

                def step(_dt: float) -> bool:
                    if left[0] == 0:
                        drawn = frames[first:]
                        n = max(1, len(drawn))
                        cpu_ms = (time.process_time() - cpu0) * 1000
                        ui_ms = (time.thread_time() - ui0) * 1000
                        reply(seq, ok=True, cpu_ms_per_frame=cpu_ms / n,
                              ui_cpu_ms_per_frame=ui_ms / n,
                              flip_ms=[ms for _, ms in drawn])  # fmt: skip
                        return False
                    left[0] -= 1
                    Window.canvas.ask_update()
                    return True

                Clock.schedule_interval(step, 0)
            elif cmd == "press_text":  # a finger down on a widget, kept there until "release"
                found = [w for w in app.root.walk() if getattr(w, "text", None) == req["text"]]
                if not found:
                    reply(seq, ok=False, error=f"no widget says {req['text']!r}")
                    return
                x, y = found[0].to_window(*found[0].center)
                pressed.append(UnitTestTouch(x, y))
                pressed[-1].touch_down()
                reply(seq, ok=True)
            elif cmd == "release":
                while pressed:
                    pressed.pop().touch_up()
                reply(seq, ok=True)
            elif cmd == "resize":
                Window.size = (req["width"], req["height"])
                reply(seq, ok=True)
            elif cmd == "redraws":
                stats = app.partial.stats
                reply(seq, ok=True, active=app.partial.active, full=stats.full,
                      partial=stats.partial, pixels=stats.pixels, passes=stats.passes,
                      copies=getattr(stats, "copies", 0),  # none before 2026-12-02
                      walk_s=stats.walk_s, walk_max_s=stats.walk_max_s,
                      reasons=dict(stats.reasons),
                      last=app.partial.last)  # fmt: skip
            elif cmd == "compare_full":
                compare_full(seq, req.get("save"))
            elif cmd == "quit":
                reply(seq, ok=True)
                app.stop()
            else:
                reply(seq, ok=False, error=f"unknown cmd {cmd!r}")
        except Exception as exc:  # report to the test instead of killing the app
            reply(seq, ok=False, error=f"{type(exc).__name__}: {exc}", trace=traceback.format_exc())

    def read_requests() -> None:
        for line in sys.stdin:
            req = json.loads(line)
            Clock.schedule_once(lambda _dt, r=req: handle(r), 0)
        Clock.schedule_once(lambda _dt: app.stop(), 0)  # the test went away

    def ready(_dt: float) -> None:
        threading.Thread(target=read_requests, daemon=True).start()
        reply("ready", ok=True, pid=os.getpid())

    Clock.schedule_once(ready, 0.5)
    try:
        app.run()
    finally:
        node.stop()
        EventLoop.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
