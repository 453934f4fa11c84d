"""A cook's PIN, once per shift: who bumps and recalls is recorded on every command."""

from __future__ import annotations

from kivy.properties import BooleanProperty, ObjectProperty, StringProperty
from kivy.uix.screenmanager import Screen

from kitchen.keys import DIGITS
from kitchen.screens import load_kv

load_kv(__file__)

MAX_PIN = 8


class LoginScreen(Screen):  # type: ignore[misc]  # Kivy ships no type hints
    pin = StringProperty("")
    prompt = StringProperty("Enter your PIN to start your shift")
    busy = BooleanProperty(False)
    pin_handler = ObjectProperty(None, allownone=True)  # callable(pin)

    def press(self, key: str) -> None:
        if self.busy:
            return
        if key == "clear":
            self.pin = ""
        elif key == "enter":
            if self.pin and self.pin_handler is not None:
                self.busy = True
                self.pin_handler(self.pin)
        elif key in DIGITS and len(self.pin) < MAX_PIN:
            self.pin += key

    def refused(self, message: str) -> None:
        self.busy = False
        self.pin = ""
        self.prompt = message

    def reset(self, prompt: str) -> None:
        self.busy = False
        self.pin = ""
        self.prompt = prompt
