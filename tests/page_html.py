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


#: elements that never have an end tag
VOID_TAGS = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


@dataclass
class Element:
    tag: str
    attrs: dict
    #: aria-label of the innermost role="group" around it (a row of a repeated sub-form), or None
    group: str | None
    text: str = ""


class _ElementReader(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.by_id: dict[str, Element] = {}
        self.alerts: list[Element] = []
        self._open: list[tuple[str, Element]] = []

    def handle_starttag(self, tag, attrs):
        attrs = {k: (v if v is not None else "") for k, v in attrs}
        groups = [e.attrs.get("aria-label") for _, e in self._open if e.attrs.get("role") == "group"]
        element = Element(tag, attrs, groups[-1] if groups else None)
        if "id" in attrs:
            self.by_id[attrs["id"]] = element
        if attrs.get("role") == "alert":
            self.alerts.append(element)
        if tag not in VOID_TAGS:
            self._open.append((tag, element))

    def handle_endtag(self, tag):
        for i in range(len(self._open) - 1, -1, -1):
            if self._open[i][0] == tag:
                del self._open[i:]
                break

    def handle_data(self, data):
        for _, element in self._open:
            element.text += data


@dataclass
class PageElements:
    by_id: dict[str, Element]
    #: role="alert" boxes: the form's banner and flashed messages
    alerts: list[Element]

    def field_error(self, field_id: str) -> str | None:
        """The error shown for a control, if the control points to it (aria-describedby)."""
        described = self.by_id[field_id].attrs.get("aria-describedby", "").split()
        error = self.by_id.get(f"{field_id}-error")
        if error is None or f"{field_id}-error" not in described:
            return None
        return " ".join(error.text.split())


def read_elements(html: str) -> PageElements:
    reader = _ElementReader()
    reader.feed(html)
    reader.close()
    return PageElements(reader.by_id, reader.alerts)
