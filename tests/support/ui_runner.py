"""The in-app half of the UI harness: runs a Kivy app and obeys a test over a pipe.

Started by ``tests.support.ui.UiApp`` as ``python -m tests.support.ui_runner
module:function [args...]`` (an argument written ``path:X`` is passed as
``pathlib.Path("X")``). It calls the app's entry point on the main thread and,
from a reader thread, hands each request (one JSON object per line on stdin)
to the Kivy clock, so the widget tree is only ever touched on the UI thread.
Replies are JSON lines on the original stdout; the app's own output goes to stderr.

Requests (``op`` and its fields; each reply has ``ok`` and maybe ``error``):
- ``ping``: the app is running and its root widget is built.
- ``find`` (``text``|``id``, ``contains``, ``index``): where a widget is.
- ``tap`` (same selectors, ``timeout_s``): a real touch down and up at the
  widget's centre (through the window's input pipeline, so ScrollViews and
  ModalViews behave as under a finger), as soon as the widget is shown;
  replies with the monotonic time of the touch.
- ``wait`` (selectors, ``timeout_s``, ``gone``): until the widget is shown (or
  gone), checked every clock tick and after every frame's swap; replies with
  the monotonic time it was seen.
  With ``changes``: until its text differs from what it was when the request
  arrived; ``then_tap`` (a selector) taps another widget right after arming.
- ``texts``: every text on screen (top-most first).
- ``screenshot`` (``path``): the window as a PNG.
- ``stop``: ask the app to stop.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

_touch_ids = iter(range(1_000_000, 2_000_000))


def _running_app() -> Any:
    mod = sys.modules.get("kivy.app")
    cls = getattr(mod, "App", None)  # None while kivy.app is still being imported
    app = cls.get_running_app() if cls is not None else None
    return app if app is not None and app.root is not None else None


def _walk(widget: Any) -> Iterator[Any]:
    yield widget
    for child in widget.children:
        yield from _walk(child)


def _shown(widget: Any) -> bool:
    """On screen: attached, inside the window, not hidden by a zero height/opacity."""
    from kivy.core.window import Window

    if widget.width <= 1 or widget.height <= 1 or widget.opacity <= 0:
        return False
    parent = widget.parent
    while parent is not None and parent is not Window:
        if getattr(parent, "opacity", 1) <= 0:
            return False
        parent = parent.parent
    x, y = widget.to_window(*widget.center)
    return 0 <= x <= Window.width and 0 <= y <= Window.height


def _top_layers() -> list[Any]:
    """What a touch reaches: the top-most modal view if one is open, else the whole window."""
    from kivy.core.window import Window
    from kivy.uix.modalview import ModalView

    for child in Window.children:  # children[0] is the top-most
        # A dismissed view stays attached while it fades out; touches no longer reach it.
        if isinstance(child, ModalView) and getattr(child, "_is_open", True):
            return [child]
    return list(Window.children)


def _ids_of(widget: Any) -> dict[str, Any]:
    ids = getattr(widget, "ids", None)
    return dict(ids) if ids else {}


def _find(req: dict[str, Any]) -> list[Any]:
    found: list[Any] = []
    for layer in _top_layers():
        for widget in _walk(layer):
            if "id" in req:
                for name, target in _ids_of(widget).items():
                    if name == req["id"] and target not in found:
                        found.append(target)
            elif "text" in req:
                text = getattr(widget, "text", None)
                if not isinstance(text, str):
                    continue
                plain = _plain(text)
                if (req["text"] in plain) if req.get("contains") else plain == req["text"]:
                    found.append(widget)
    return [w for w in found if _shown(w)]


def _plain(text: str) -> str:
    """Text without Kivy markup tags, as a person reads it."""
    import re

    return re.sub(r"\[/?[a-z_]+(=[^\]]*)?\]", "", text).replace("&bl;", "[").replace("&br;", "]")


def _pick(req: dict[str, Any]) -> Any:
    found = _find(req)
    index = int(req.get("index", 0))
    if len(found) <= index:
        raise LookupError(f"no widget on screen matches {req} (found {len(found)})")
    return found[index]


def _make_touch(x: float, y: float) -> Any:
    from kivy.base import EventLoop
    from kivy.input.motionevent import MotionEvent

    class RunnerTouch(MotionEvent):  # type: ignore[misc]
        def depack(self, args: dict[str, float]) -> None:
            self.sx, self.sy = args["sx"], args["sy"]
            self.profile = ["pos"]
            super().depack(args)

    win = EventLoop.window
    return RunnerTouch(
        "ui-runner",
        next(_touch_ids),
        {"sx": x / max(win.width - 1, 1), "sy": y / max(win.height - 1, 1)},
        is_touch=True,
        type_id="touch",
    )


def _tap(widget: Any) -> float:
    from kivy.base import EventLoop

    x, y = widget.to_window(*widget.center)
    touch = _make_touch(x, y)
    at = time.monotonic()
    EventLoop.post_dispatch_input("begin", touch)
    EventLoop.post_dispatch_input("end", touch)
    return at


_after_flip: list[Callable[[], None]] = []
_swapped_at = [0.0]  # when the last frame's swap ended (monotonic)


def _install_flip_hook() -> None:
    """Call ``_after_flip`` listeners once a frame is really on screen (after the swap).

    Handlers bound to ``on_flip`` run before the window's own ``flip()``, i.e.
    before the frame is shown; wrapping ``flip`` marks the moment after it.
    """
    from kivy.core.window import Window

    if getattr(Window, "_ui_runner_hooked", False):
        return
    original = Window.flip

    def flip() -> None:
        original()
        _swapped_at[0] = time.monotonic()  # before any listener takes its time to look
        for listener in list(_after_flip):
            listener()

    Window.flip = flip
    Window._ui_runner_hooked = True


def _texts() -> list[str]:
    out = []
    for layer in _top_layers():
        for widget in _walk(layer):
            text = getattr(widget, "text", None)
            if isinstance(text, str) and text.strip() and _shown(widget):
                out.append(_plain(text))
    return out


class Runner:
    def __init__(self, reply_fd: int) -> None:
        self._out = os.fdopen(reply_fd, "w", buffering=1)
        self._lock = threading.Lock()

    def reply(self, seq: Any, body: dict[str, Any]) -> None:
        with self._lock:
            self._out.write(json.dumps({"seq": seq, **body}, default=str) + "\n")

    def reader(self) -> None:
        for line in sys.stdin:
            try:
                req = json.loads(line)
            except ValueError:
                continue
            while _running_app() is None:  # the app is still starting
                time.sleep(0.02)
            from kivy.clock import Clock

            Clock.schedule_once(lambda _dt, r=req: self.handle(r))

    def handle(self, req: dict[str, Any]) -> None:
        seq = req.get("seq")
        try:
            op = req["op"]
            if op in {"wait", "tap"}:
                self._wait(req, tap=op == "tap")
                return
            if op == "screenshot":
                self._screenshot(req)
                return
            handler: Callable[[dict[str, Any]], dict[str, Any]] = getattr(self, f"op_{op}")
            self.reply(seq, {"ok": True, **handler(req)})
        except Exception as exc:
            self.reply(
                seq,
                {
                    "ok": False,
                    "error": f"{type(exc).__name__}: {exc}",
                    "trace": traceback.format_exc(limit=4),
                },
            )

    def op_ping(self, req: dict[str, Any]) -> dict[str, Any]:
        return {"pid": os.getpid()}

    def op_find(self, req: dict[str, Any]) -> dict[str, Any]:
        widget = _pick(req)
        x, y = widget.to_window(*widget.center)
        return {
            "x": x,
            "y": y,
            "width": widget.width,
            "height": widget.height,
            "disabled": bool(widget.disabled),
            "text": _plain(getattr(widget, "text", "")),
            "state": getattr(widget, "state", None),  # a toggle's "down" or "normal"
        }

    def op_texts(self, req: dict[str, Any]) -> dict[str, Any]:
        return {"texts": _texts()}

    def _screenshot(self, req: dict[str, Any]) -> None:
        """Capture once the screen has settled (a screen switch completes over a frame or two)."""
        from kivy.clock import Clock
        from kivy.core.window import Window

        seq = req.get("seq")
        target = Path(req["path"])
        target.parent.mkdir(parents=True, exist_ok=True)

        def capture(_dt: float) -> None:
            try:
                made = Window.screenshot(name=str(target))  # Kivy appends a counter: move it back
                Path(made).replace(target)
                self.reply(seq, {"ok": True, "path": str(target)})
            except Exception as exc:
                self.reply(seq, {"ok": False, "error": f"{type(exc).__name__}: {exc}"})

        Window.canvas.ask_update()
        Clock.schedule_once(capture, float(req.get("settle_s", 0.3)))

    def op_stop(self, req: dict[str, Any]) -> dict[str, Any]:
        from kivy.clock import Clock

        Clock.schedule_once(lambda _dt: _running_app().stop(), 0.05)
        return {}

    def _wait(self, req: dict[str, Any], tap: bool = False) -> None:
        """Check after every drawn frame (and every clock tick) until seen or out of time.

        With ``tap``, touch the widget as soon as it is there (a button may appear
        a frame after the screen that holds it, as under a real finger).
        """
        from kivy.clock import Clock

        deadline = time.monotonic() + float(req.get("timeout_s", 5 if tap else 10))
        gone = bool(req.get("gone"))
        seq = req.get("seq")
        state: dict[str, Any] = {}
        if req.get("changes"):
            # Watch the widget's text change from what it is now; with ``then_tap``,
            # touch that other widget once the watch is armed (one request, no race).
            state["before"] = [_plain(getattr(w, "text", "")) for w in _find(req)]
            if req.get("then_tap"):
                state["tap_at"] = _tap(_pick(req["then_tap"]))

        def check(*_args: Any) -> None:
            if state.get("done"):
                return
            if "before" in state and not (_args and _args[0] == "flipped"):
                # A change counts once shown: only after a frame's swap, never mid-tick.
                # Between frames nothing new is on screen: only the deadline can pass.
                # (Walking the widget tree 120 times a second would take the CPU the
                # app's frames and its node need, and slow what is measured.)
                if time.monotonic() > deadline:
                    finish({"ok": False, "error": f"no change of {req}", "texts": _texts()})
                return
            found = _find(req)
            index = int(req.get("index", 0))
            if tap and len(found) > index:
                # Tap only once the widget has kept its place for a frame: a widget
                # just added sits at (0, 0) until its layout runs.
                target = found[index]
                where = (id(target), tuple(target.to_window(*target.center)))
                if target.disabled:  # a finger on a disabled button does nothing: wait
                    state.pop("where", None)
                elif state.get("where") == where:
                    finish({"ok": True, "at": _tap(target)})
                else:
                    state["where"] = where
                if time.monotonic() > deadline:
                    finish({"ok": False, "error": f"{req} stayed disabled", "texts": _texts()})
            elif "before" in state:  # just after a frame's swap (see above)
                now = [_plain(getattr(w, "text", "")) for w in found]
                if now and now != state["before"]:
                    at = state["swapped_at"]  # the end of the swap, not of this look
                    # "frames": how many frames were drawn since the watch began, this one too.
                    frames = state.get("frames", 0)
                    finish({"ok": True, "at": at, "tap_at": state.get("tap_at"), "frames": frames})
                    return
                if time.monotonic() > deadline:
                    finish({"ok": False, "error": f"no change of {req}", "texts": _texts()})
            elif not tap and bool(found) != gone:
                finish({"ok": True, "at": time.monotonic()})
            elif time.monotonic() > deadline:
                finish({"ok": False, "error": f"timed out waiting for {req}", "texts": _texts()})

        def flipped() -> None:
            state["swapped_at"] = _swapped_at[0]
            state["frames"] = state.get("frames", 0) + 1
            check("flipped")

        def finish(body: dict[str, Any]) -> None:
            state["done"] = True
            with contextlib.suppress(ValueError):
                _after_flip.remove(flipped)
            state["tick"].cancel()
            self.reply(seq, body)

        _install_flip_hook()
        # Also after every frame (the flip hook); the timer only covers the moments
        # no frame is drawn. An interval of 0 would keep Kivy's clock from ever
        # sleeping: the UI thread would spin and hold the interpreter lock that the
        # app's own node needs, slowing what the test measures. A watch for a change
        # looks only after frames, so its timer only keeps the deadline: each wake-up
        # of Kivy's loop costs CPU (120 a second took 45% of a core in a terminal).
        interval = 0.1 if "before" in state else 1 / 120
        state["tick"] = Clock.schedule_interval(check, interval)
        _after_flip.append(flipped)
        check()


def main(argv: list[str]) -> int:
    target, *raw_args = argv
    args: list[Any] = [Path(a[5:]) if a.startswith("path:") else a for a in raw_args]
    reply_fd = os.dup(1)
    os.dup2(2, 1)  # the app's prints and logs must never mix with the replies
    runner = Runner(reply_fd)
    threading.Thread(target=runner.reader, name="ui-runner", daemon=True).start()
    module, _, func = target.partition(":")
    entry = getattr(importlib.import_module(module), func)
    result = entry(*args)
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
