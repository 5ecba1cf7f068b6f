"""Invented names for the synthetic clinic: syllables drawn by a seeded generator.

No list of real people's names is used; every name is a made-up compound of the syllables
below, so a generated clinic can never name a real patient by accident.
"""
from __future__ import annotations

import random

GIVEN_START = ("Al", "Bri", "Ca", "Dor", "El", "Fen", "Gal", "Har", "Is", "Jo", "Kes", "Lin", "Mor", "Nel",
               "Or", "Pel", "Quin", "Ros", "Sil", "Tam", "Ul", "Ves", "Wyn", "Yar", "Zel")
GIVEN_END = ("a", "an", "el", "en", "ia", "ic", "in", "is", "o", "on", "ra", "ren", "ric", "wen", "y")
FAMILY_START = ("Ash", "Birch", "Cinder", "Dew", "Elm", "Fern", "Glen", "Hazel", "Ivy", "Juniper", "Kettle",
                "Lark", "Moss", "Nettle", "Oak", "Pebble", "Quill", "Rush", "Stone", "Thorn", "Under", "Vetch",
                "Wilder", "Yew", "Zinn")
FAMILY_END = ("bank", "brook", "by", "combe", "cote", "dale", "field", "ford", "gate", "hollow", "hurst",
              "mere", "moor", "ridge", "stead", "ton", "vale", "well", "wick", "wood")


class NameMaker:
    """Seeded, reproducible fictional names: the same seed gives the same clinic."""

    def __init__(self, seed: int):
        self.rng = random.Random(seed)

    def given(self) -> str:
        return self.rng.choice(GIVEN_START) + self.rng.choice(GIVEN_END)

    def family(self) -> str:
        return self.rng.choice(FAMILY_START) + self.rng.choice(FAMILY_END)

    def full(self) -> tuple[str, str]:
        return self.given(), self.family()
