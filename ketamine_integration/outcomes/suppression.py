"""The outcomes page's tables as domain.disclosure sees them: each row's courses (and, on a PHQ-9 row, its
measured courses), and which rows are hidden so that no figure about fewer than the minimum of patients is
shown or left to subtraction."""
from __future__ import annotations

from dataclasses import dataclass

from ..domain import disclosure


@dataclass(frozen=True)
class Member:
    """A course of the period: who it is of, its groups, and whether its PHQ-9 figures count."""
    course_id: int
    patient_id: int
    protocol_id: str
    therapist_id: int
    measured: bool


def therapist_key(protocol_id: str, therapist_id: int) -> str:
    """A therapist's group within a protocol, as the SQL groups it ("<protocol id>:<user id>")."""
    return f"{protocol_id}:{therapist_id}"


#: protocol id -> its therapists as (therapist_key, name), the page's order: the tree of domain.disclosure
Tree = dict[str, list[tuple[str, str]]]


def tree_of(members: list[Member], names: dict[str, str], therapists: dict[int, str]) -> Tree:
    """The period's protocols by name (`names`: protocol id -> name), each with its therapists by name
    (`therapists`: user id -> name)."""
    tree: dict[str, set[int]] = {}
    for m in members:
        tree.setdefault(m.protocol_id, set()).add(m.therapist_id)

    def therapist_name(t: int) -> str:
        return therapists.get(t, f"User {t}")
    return {p: [(therapist_key(p, t), therapist_name(t)) for t in sorted(tree[p], key=lambda t: (therapist_name(t), t))]
            for p in sorted(tree, key=lambda p: (names.get(p, p), p))}


def hidden_lines(members: list[Member], tree: Tree, min_group: int) -> dict[str, str]:
    """Line key ("phq:all", "phq:protocol:<id>", "phq:therapist:<protocol id>:<user id>", "sessions:all",
    "sessions:protocol:<id>") -> why it is hidden, for every hidden line; patients, not courses, counted.
    `tree`: tree_of's."""
    lines, tables = _lines(members, tree)
    return disclosure.hidden_lines(lines, tables, {m.course_id: m.patient_id for m in members}, min_group)


def _lines(members: list[Member], tree: Tree):
    """The page's lines and its tree of tables for disclosure control: each line's courses (the count and
    the sessions' figures rest on them) and, for the PHQ-9 lines, its measured courses. Therapists are
    shown within their protocol only: a clinic-wide therapist line beside the protocol lines would cross
    the tree (a protocol less two therapists' patients can be one patient)."""
    def units(member_of) -> frozenset:
        return frozenset(m.course_id for m in members if member_of(m))

    def phq_line(member_of) -> dict:
        return {"courses": units(member_of), "measured": units(lambda m: m.measured and member_of(m))}
    lines = {"phq:all": phq_line(lambda m: True), "sessions:all": {"courses": units(lambda m: True)}}
    tables = [disclosure.Table("phq:all", tuple(f"phq:protocol:{p}" for p in tree)),
              disclosure.Table("sessions:all", tuple(f"sessions:protocol:{p}" for p in tree))]
    for p, therapists in tree.items():
        lines[f"phq:protocol:{p}"] = phq_line(lambda m, p=p: m.protocol_id == p)
        lines[f"sessions:protocol:{p}"] = {"courses": units(lambda m, p=p: m.protocol_id == p)}
        for t, _name in therapists:
            lines[f"phq:therapist:{t}"] = phq_line(lambda m, t=t: therapist_key(m.protocol_id, m.therapist_id) == t)
        tables.append(disclosure.Table(f"phq:protocol:{p}", tuple(f"phq:therapist:{t}" for t, _name in therapists)))
    return {k: disclosure.Line(k, figures) for k, figures in lines.items()}, tables
