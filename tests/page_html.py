"""Reading a page's HTML the way assistive technology does: its ids, its labels, its controls."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from html.parser import HTMLParser

#: inputs that are buttons or invisible: they need no label
UNLABELLED_TYPES = {"hidden", "submit", "button", "reset", "image"}


@dataclass
class PageForms:
    ids: list[str] = field(default_factory=list)
    label_targets: set[str] = field(default_factory=set)
    #: (tag, attributes, inside a <label>) of every input, select and textarea
    controls: list[tuple[str, dict, bool]] = field(default_factory=list)
    #: select id -> the visible text of its options
    options: dict[str, list[str]] = field(default_factory=dict)

    def repeated_ids(self) -> list[str]:
        return sorted(i for i, n in Counter(self.ids).items() if n > 1)

    def unlabelled(self) -> list[str]:
        """Controls a screen reader could not name: no <label for>, no aria-label(ledby), not in a label."""
        missing = []
        for tag, attrs, in_label in self.controls:
            if tag == "input" and attrs.get("type", "text") in UNLABELLED_TYPES:
                continue
            named = in_label or attrs.get("aria-label") or attrs.get("aria-labelledby") \
                or attrs.get("id") in self.label_targets
            if not named:
                missing.append(f"<{tag} name={attrs.get('name')!r} id={attrs.get('id')!r}>")
        return missing


class _Reader(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.page, self._labels, self._select, self._option = PageForms(), 0, None, None

    def handle_starttag(self, tag, attrs):
        attrs = {k: (v if v is not None else "") for k, v in attrs}
        if "id" in attrs:
            self.page.ids.append(attrs["id"])
        if tag == "label":
            self._labels += 1
            if attrs.get("for"):
                self.page.label_targets.add(attrs["for"])
        elif tag in ("input", "select", "textarea"):
            self.page.controls.append((tag, attrs, self._labels > 0))
            if tag == "select":
                self._select = attrs.get("id", "")
                self.page.options[self._select] = []
        elif tag == "option" and self._select is not None:
            self._option = []

    def handle_endtag(self, tag):
        if tag == "label":
            self._labels -= 1
        elif tag == "option" and self._option is not None:
            self.page.options[self._select].append(" ".join("".join(self._option).split()))
            self._option = None
        elif tag == "select":
            self._select = None

    def handle_data(self, data):
        if self._option is not None:
            self._option.append(data)


def read_forms(html: str) -> PageForms:
    reader = _Reader()
    reader.feed(html)
    reader.close()
    return reader.page
