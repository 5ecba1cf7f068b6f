"""Appointment reminders as pure rules: when they go (offsets, quiet hours, time zone) and what
they say (minimum necessary, no clinical word). No Flask, no database, no clock: `now` comes in."""
from __future__ import annotations

import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from .text import shows_nothing

#: Words a reminder, its subject, its sender name and a clinic's wording never contain. A message
#: is read on a lock screen, by whoever shares the phone or the mailbox: it says that an
#: appointment exists, never what it treats or with what (HIPAA minimum necessary, 45 CFR
#: 164.502(b)). The one list: the settings' validators and the message builder both read it.
CLINICAL_TERMS: tuple[str, ...] = (
    "ketamine", "esketamine", "spravato", "ketalar", "psychedelic", "psychedelics", "psilocybin", "mdma",
    "dosing", "dose", "doses", "dosed", "infusion", "infusions", "lozenge", "lozenges", "intranasal",
    "sublingual", "injection", "medication", "medications", "prescription", "prescriber",
    "integration", "preparation session", "therapy", "therapies", "therapist", "therapeutic", "psychotherapy",
    "psychiatry", "psychiatric", "psychiatrist", "mental health", "depression", "depressed", "depressive", "anxiety",
    "ptsd", "trauma", "suicide", "suicidal", "treatment-resistant", "trd", "kap", "rems",
    "dissociation", "dissociative", "addiction", "phq-9", "gad-7",
    # words that say "a clinic of this kind" in a name (domain/messages.py's list, issue 22 point 1)
    "mental", "health", "wellness", "recovery", "behavioral", "behavioural", "medical", "medicine",
    "treatment", "therapeutics",
    # what a lock screen reads as mental-health or addiction care, and ketamine's other names (the attack
    # review of issue 25 points 5-7): "Psych" and psychology's words whole only ("Psyche", "Psychic" pass)
    "psych", "psychology", "psychologist", "psychologists", "psychological", "bipolar", "methadone",
    "suboxone", "buprenorphine", "rehab", "rehabilitation", "detox", "special k", "ketamin", "ketamina",
)

#: The terms matched also INSIDE a word, a web address or a run-together name ("KetamineCare",
#: "https://zoom.example.org/j/ketaminetherapy", "12 PsychiatryPlace Road"): letter sequences
#: no innocent word or street name carries. The others ("dose", "kap", "rems", "trd", "health",
#: "mental", "integration"...) are matched as whole words only, so that "Dosewell Road", "Kapok
#: Street", "Remsen Street" or "Healthy Way" pass. Those of 7 letters or more are matched across
#: up to three separators between letters too ("Ket-amine", "ket amine", "k.e.t.a.m.i.n.e"), and
#: with digits that stand for letters ("k3tamine"): the price is that "Art in Fusion" is refused.
INSIDE_WORDS: tuple[str, ...] = (
    "ketamine", "esketamine", "spravato", "ketalar", "psychedelic", "psilocybin", "mdma", "ptsd",
    "psychotherapy", "psychiatr", "therapy", "therapies", "therapist", "therapeutic", "infusion",
    "intranasal", "sublingual", "suicide", "suicidal", "dissociation", "dissociative", "mental health",
    "dosing", "wellness", "ketamin", "bipolar", "methadone", "suboxone", "buprenorphine", "rehab",
)

#: Latin letters' lookalikes in other scripts (Cyrillic, Greek, Latin small capitals and IPA): a
#: small explicit table of the ones that pass for a Latin letter in a name. Accents and
#: compatibility forms (full-width, mathematical bold, circled, ligatures) are NFKD's job.
_LOOKALIKES = str.maketrans({
    # Cyrillic
    "А": "A", "В": "B", "Е": "E", "К": "K", "М": "M", "Н": "H", "О": "O", "Р": "P", "С": "C", "Т": "T",
    "У": "Y", "Х": "X", "І": "I", "Ј": "J", "Ѕ": "S", "Ԁ": "D", "Һ": "H", "Ӏ": "I", "Ԛ": "Q", "Ԝ": "W",
    "а": "a", "в": "b", "е": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p", "с": "c", "т": "t",
    "у": "y", "х": "x", "і": "i", "ј": "j", "ѕ": "s", "ԁ": "d", "һ": "h", "ӏ": "l", "ԛ": "q", "ԝ": "w",
    "ь": "b", "п": "n", "г": "r", "Є": "E", "є": "e", "Ԍ": "G", "ԍ": "g", "Ү": "Y", "ү": "y",
    # other scripts' letters drawn as Latin ones (Lisu, Latin with hooks)
    "ꓗ": "K", "ꓰ": "E", "ꓟ": "M", "ꓮ": "A", "ꓔ": "T", "ꓲ": "I", "ꓠ": "N", "ƙ": "k", "Ƙ": "K",
    # Greek
    "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M", "Ν": "N", "Ο": "O",
    "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X", "Ϲ": "C",
    "α": "a", "β": "b", "γ": "y", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p",
    "τ": "t", "υ": "u", "χ": "x", "ω": "w", "ϲ": "c", "ϳ": "j", "μ": "u",
    # Latin small capitals and IPA letters
    "ᴀ": "a", "ʙ": "b", "ᴄ": "c", "ᴅ": "d", "ᴇ": "e", "ꜰ": "f", "ɢ": "g", "ʜ": "h", "ɪ": "i", "ᴊ": "j",
    "ᴋ": "k", "ʟ": "l", "ᴍ": "m", "ɴ": "n", "ᴏ": "o", "ᴘ": "p", "ʀ": "r", "ꜱ": "s", "ᴛ": "t", "ᴜ": "u",
    "ᴠ": "v", "ᴡ": "w", "ʏ": "y", "ᴢ": "z", "ɡ": "g", "ɑ": "a", "ı": "i", "ɩ": "i", "ȷ": "j", "ɵ": "o",
})
#: the Enclosed Alphanumeric Supplement's letters NFKD leaves alone (negative circled and squared
#: letters, 🅺🅴🆃; the crossed negative squared P; regional indicators, which pair into flags): the
#: letter each is drawn as. The plain circled, squared and parenthesized ones fold by NFKD already.
_LOOKALIKES.update({first + n: ord("A") + n for first in (0x1F150, 0x1F170, 0x1F1E6) for n in range(26)})
_LOOKALIKES[0x1F18A] = ord("P")
#: digits and signs written for letters ("k3tamine", "p$ilocybin"), in the terms matched inside words
_STAND_INS = {"a": "4@", "b": "8", "e": "3", "g": "9", "i": "1!", "l": "1", "o": "0", "s": "5$", "t": "7"}
_GAP = r"[\W_]{0,3}"
_ASCII_HIDDEN = re.compile(r"[\x00-\x08\x0e-\x1b\x7f]")


def _folded(text: str) -> tuple[str, list[int]]:
    """`text` as it reads: compatibility forms and accents decomposed (NFKD), what shows nothing
    dropped, lookalikes of Latin letters folded, case folded; and for each character of the result
    the index of the character of `text` it comes from."""
    if text.isascii() and not _ASCII_HIDDEN.search(text):  # most texts: nothing to fold but the case
        return text.lower(), list(range(len(text)))
    chars, origin = [], []
    for index, char in enumerate(text):
        if shows_nothing(char):
            continue
        for part in unicodedata.normalize("NFKD", char):
            if shows_nothing(part):
                continue
            for folded in part.translate(_LOOKALIKES).casefold().translate(_LOOKALIKES):
                chars.append(folded)
                origin.append(index)
    return "".join(chars), origin


def _letters(term: str) -> list[str]:
    return [c for c in term if c.isalnum()]


def _words_pattern(term: str) -> str:
    # a phrase's words apart by any separators ("mental-health", "PHQ 9", "treatment resistant")
    return _GAP.join(re.escape(word) for word in re.split(r"[\W_]+", term) if word)


def _inside_pattern(term: str) -> str:
    letters = [f"[{re.escape(c + _STAND_INS.get(c, ''))}]" for c in _letters(term)]
    return (_GAP if len(letters) >= 7 else "").join(letters)


def _longest_first(terms) -> list[str]:
    return sorted(terms, key=lambda t: len(_letters(t)), reverse=True)


_TERM = re.compile(r"(?<![^\W_])(?:" + "|".join(_words_pattern(t) for t in _longest_first(CLINICAL_TERMS))
                   + r")(?![^\W_])")
_INSIDE = re.compile("|".join(_inside_pattern(t) for t in _longest_first(INSIDE_WORDS)))
#: single letters (or digits) apart by separators, three or more: "K E T A M I N E", "P.T.S.D."
_SPELLED = re.compile(r"(?<![^\W_])[^\W_](?:[\W_]{1,3}[^\W_](?![^\W_])){2,}")
_SPELLED_TERMS = re.compile("|".join(re.escape("".join(_letters(t)))
                                     for t in _longest_first(set(CLINICAL_TERMS) | set(INSIDE_WORDS))))


def _word_char(char: str) -> bool:
    return unicodedata.category(char)[0] in "LNM" or shows_nothing(char)


def _matches(folded: str) -> list[tuple[int, int]]:
    """Where the folded text carries a term: as a whole word, inside a word (INSIDE_WORDS), or in a
    run of single letters spelled apart (read joined; every term counts inside the run)."""
    found = [match.span() for match in _TERM.finditer(folded)]
    found += [match.span() for match in _INSIDE.finditer(folded)]
    for run in _SPELLED.finditer(folded):
        where = [i for i in range(*run.span()) if folded[i].isalnum()]
        joined = "".join(folded[i] for i in where)
        found += [(where[m.start()], where[m.end() - 1] + 1) for m in _SPELLED_TERMS.finditer(joined)]
    return sorted(found)


def _whole_word(text: str, start: int, end: int) -> tuple[int, int]:
    while start > 0 and _word_char(text[start - 1]):
        start -= 1
    while end < len(text) and _word_char(text[end]):
        end += 1
    return start, end


def clinical_spans(text: str) -> list[tuple[int, int]]:
    """Where `text` carries a clinical term, as (start, end) of the whole words of `text` that hold
    one, in order, never overlapping. The text is read as it shows (_folded: "Kеtamine" with a
    Cyrillic е, full-width letters, a zero-width space inside a word, any case); single letters
    spelled apart are read joined ("K E T A M I N E", "k.e.t.a.m.i.n.e", "R E M S": there every
    term counts, inside the run too); the terms of INSIDE_WORDS count inside words and addresses,
    the others as whole words only."""
    text = text or ""
    folded, origin = _folded(text)
    words: list[tuple[int, int]] = []
    for start, end in _matches(folded):
        start, end = _whole_word(text, origin[start], origin[end - 1] + 1)
        if words and start < words[-1][1]:
            words[-1] = (words[-1][0], max(end, words[-1][1]))
        else:
            words.append((start, end))
    return words


def clinical_words_in(text: str) -> list[str]:
    """The words of `text` that carry a clinical term (clinical_spans), as they were typed (what
    shows nothing left out), in the order they appear: what a field error asks to remove."""
    return ["".join(c for c in text[start:end] if not shows_nothing(c)) for start, end in clinical_spans(text)]


def discreet_token(size: int) -> str:
    """`size` random bytes, URL-safe, drawn again in the rare case they spell a clinical term ("MdmA" or
    "PTsd" inside, a short term between dashes: about one 32-byte token in 6,000). Tokens go into the
    links of patients' messages (a video call, a portal invitation), whose every word is checked: a
    message is refused rather than show "PTSD" on a lock screen."""
    token = secrets.token_urlsafe(size)
    while clinical_words_in(token):
        token = secrets.token_urlsafe(size)
    return token


#: what a clinic whose name is all clinical words is called on its messages
FALLBACK_SENDER_NAME = "Appointments"


def discreet_name(clinic_name: str) -> str:
    """The clinic's name without its bracketed parts and clinical words ("Harbor Light Ketamine
    Clinic (demo)" -> "Harbor Light Clinic"): the sender name until the clinic chooses one."""
    name = re.sub(r"\([^)]*\)|\[[^]]*\]", " ", clinic_name or "")
    for start, end in reversed(clinical_spans(name)):
        name = name[:start] + " " + name[end:]
    name = " ".join(name.split()).strip(" -,.&")
    return " ".join(name.split()) or FALLBACK_SENDER_NAME


#: the neutral name of any appointment, unless the clinic chooses a wording for its kind
DEFAULT_WORDING = "your appointment"
#: bounds of a kind's reminder offsets: how many, and how far before the start each may be
MAX_OFFSETS = 4
OFFSET_RANGE = (timedelta(minutes=30), timedelta(days=7))
CHANNELS = {"email": "Email", "sms": "Text message (SMS)"}

_OFFSET = re.compile(r"^\s*(\d{1,4})\s*(m|min|h|d)\s*$", re.IGNORECASE)
_UNIT = {"m": "minutes", "min": "minutes", "h": "hours", "d": "days"}


def parse_offsets(text: str) -> list[timedelta]:
    """"48h, 2h" -> [48 h, 2 h] (largest first, no repeats); ValueError saying what is wrong."""
    parts = [p for p in (text or "").split(",") if p.strip()]
    if len(parts) > MAX_OFFSETS:
        raise ValueError(f"At most {MAX_OFFSETS} reminders per kind of appointment.")
    offsets = set()
    for part in parts:
        match = _OFFSET.match(part)
        if not match:
            raise ValueError(f"“{part.strip()[:20]}” is not a time before the appointment: write e.g. 48h, 2h or 30m.")
        offset = timedelta(**{_UNIT[match.group(2).lower()]: int(match.group(1))})
        if not OFFSET_RANGE[0] <= offset <= OFFSET_RANGE[1]:
            raise ValueError("Each reminder goes between 30 minutes and 7 days before the appointment.")
        offsets.add(offset)
    return sorted(offsets, reverse=True)


def format_offsets(offsets: list[timedelta]) -> str:
    """[48 h, 90 min] -> "48h, 90m": the form parse_offsets reads back."""
    def one(offset: timedelta) -> str:
        minutes = int(offset.total_seconds() // 60)
        if minutes % (24 * 60) == 0 and minutes >= 7 * 24 * 60:
            return f"{minutes // (24 * 60)}d"
        return f"{minutes // 60}h" if minutes % 60 == 0 else f"{minutes}m"
    return ", ".join(one(o) for o in sorted(offsets, reverse=True))


@dataclass(frozen=True)
class QuietHours:
    """The clinic-time span no reminder is sent in: strictly between `start` and `end` (its two
    edges are allowed), across midnight when start is after end. start == end: none."""

    start: time
    end: time

    def contains(self, local: time) -> bool:
        if self.start == self.end:
            return False
        if self.start < self.end:
            return self.start < local < self.end
        return local > self.start or local < self.end

    def bounds(self, local: datetime) -> tuple[date, date]:
        """The dates of the start and the end of the quiet span `local` (a quiet moment) is in."""
        day = local.date()
        if self.start > self.end:  # across midnight: evening -> next morning
            return (day, day + timedelta(days=1)) if local.time() > self.start else (day - timedelta(days=1), day)
        return day, day


def parse_quiet_hours(text: str) -> QuietHours:
    """"21:00-08:00" -> QuietHours; an empty text: none. ValueError saying what is wrong."""
    if not (text or "").strip():
        return QuietHours(time(0), time(0))
    match = re.fullmatch(r"\s*([01]?\d|2[0-3]):([0-5]\d)\s*[-–]\s*([01]?\d|2[0-3]):([0-5]\d)\s*", text)
    if not match:
        raise ValueError("Write quiet hours as two 24-hour times, e.g. 21:00-08:00.")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    return QuietHours(time(h1, m1), time(h2, m2))


def _moments(day: date, at: time, zone: ZoneInfo) -> list[datetime]:
    """The UTC moments the clinic's clocks show `at` on `day`: two in the hour fall-back repeats;
    for a wall time spring-forward skips (02:30), the moment read with the offset before the
    change, i.e. when the clocks show 03:30: later, never earlier, than the quiet span's edge."""
    moments = []
    for fold in (0, 1):
        wall = datetime.combine(day, at, tzinfo=zone).replace(fold=fold)
        moment = wall.astimezone(timezone.utc)
        if moment.astimezone(zone).replace(tzinfo=None) == wall.replace(tzinfo=None):
            moments.append(moment)
    return sorted(set(moments)) or [datetime.combine(day, at, tzinfo=zone).astimezone(timezone.utc)]


def _out_of_quiet(send: datetime, starts_at: datetime, quiet: QuietHours, zone: ZoneInfo) -> datetime:
    """A send time moved out of quiet hours: to their end (the same morning) if that is still
    before the appointment, else back to their start (the evening before)."""
    local = send.astimezone(zone)
    if not quiet.contains(local.time()):
        return send
    start_day, end_day = quiet.bounds(local)
    ends = _moments(end_day, quiet.end, zone)
    later = next((m for m in ends if m > send), ends[-1])
    if later < starts_at:
        return later
    starts = _moments(start_day, quiet.start, zone)
    return next((m for m in reversed(starts) if m < send), starts[0])


def reminder_times(starts_at_utc: datetime, offsets: list[timedelta], quiet_hours: QuietHours,
                   zone: ZoneInfo, now: datetime) -> list[datetime]:
    """The UTC moments an appointment's reminders are sent, earliest first.

    Each offset is elapsed time before the start (48 h is 48 real hours, across a clock change
    too). A moment inside quiet hours moves out of them (_out_of_quiet). Moments not after `now`,
    or not before the start, are dropped; two offsets landing on one moment send once."""
    times = set()
    for offset in offsets:
        send = _out_of_quiet(starts_at_utc - offset, starts_at_utc, quiet_hours, zone)
        if now < send < starts_at_utc:
            times.add(send)
    return sorted(times)


@dataclass(frozen=True)
class ReminderMessage:
    subject: str
    body: str


class ClinicalWordInMessage(ValueError):
    """A reminder would have carried a clinical word: it is not sent."""


def _clock(local: datetime) -> str:
    return local.strftime("%I:%M %p").lstrip("0")


def _where(place: str | None, room: str | None, link: str | None) -> str:
    if place is None:
        return "Where: online" + (f", join at {link}" if link else "")
    # a room named for what happens in it ("Dosing Suite") is left out: the address is enough
    named = room and not clinical_words_in(room)
    return f"Where: {place}, {room}" if named else f"Where: {place}"


def reminder_message(*, starts_at_utc: datetime, zone: ZoneInfo, sender: str, wording: str | None,
                     place: str | None, link: str | None, cancel_phone: str,
                     room: str | None = None) -> ReminderMessage:
    """What a reminder says: the date, the clinic-time start, where (an address, or "online" and
    the link; the room after the address unless its name is clinical), how to cancel
    (`cancel_phone`; empty: "contact the clinic"), and nothing else. place=None: the appointment
    is online (`link`: where to join, when there is one). Raises ClinicalWordInMessage if any part carries a clinical
    word (a setting saved before the list grew, an address naming a treatment)."""
    local = starts_at_utc.astimezone(zone)
    what = (wording or DEFAULT_WORDING).strip()
    day = f"{local.strftime('%A')} {local.day} {local.strftime('%B %Y')}"
    where = _where(place, room, link)
    subject = f"Reminder: {what} on {local.strftime('%a')} {local.day} {local.strftime('%b')} at {_clock(local)}"
    body = "\n".join([
        "Hello,",
        "",
        f"This is a reminder of {what} on {day} at {_clock(local)} ({local.tzname()}).",
        where,
        "",
        f"To cancel or change it, please call {cancel_phone}." if cancel_phone
        else "To cancel or change it, please contact the clinic.",
        "",
        sender,
    ])
    found = clinical_words_in(subject) + clinical_words_in(body)
    if found:
        raise ClinicalWordInMessage(f"a reminder would carry the word(s): {', '.join(sorted(set(found)))}")
    return ReminderMessage(subject, body)


@dataclass(frozen=True)
class InvitationMessage:
    """A patient's invitation: the email's subject and body, and the words of its calendar event."""

    subject: str
    body: str
    summary: str
    location: str
    description: str


def _location(place: str | None, room: str | None, link: str | None) -> str:
    """The event's LOCATION: the address (and the room unless its name is clinical), or the link."""
    if place is None:
        return link or "Online"
    return f"{place}, {room}" if room and not clinical_words_in(room) else place


def invitation_message(*, starts_at_utc: datetime, zone: ZoneInfo, sender: str, wording: str | None,
                       place: str | None, link: str | None, cancel_phone: str, room: str | None = None,
                       cancelled: bool = False, moved: bool = False) -> InvitationMessage:
    """What a patient's invitation says, as little as a reminder does (reminder_message): the day,
    the clinic-time start, where (or the link), how to cancel or change it. `moved`: the update of
    an invitation already sent; `cancelled`: its cancellation. Raises ClinicalWordInMessage if any
    part, the calendar event's words included, carries a clinical word."""
    local = starts_at_utc.astimezone(zone)
    what = (wording or DEFAULT_WORDING).strip()
    what_cap = what[:1].upper() + what[1:]
    day = f"{local.strftime('%A')} {local.day} {local.strftime('%B %Y')}"
    short = f"{local.strftime('%a')} {local.day} {local.strftime('%b')} at {_clock(local)}"
    when = f"{day} at {_clock(local)} ({local.tzname()})"
    call = f"please call {cancel_phone}" if cancel_phone else "please contact the clinic"
    if cancelled:
        subject = f"Cancelled: {what} on {short}"
        lines = [f"{what_cap} on {when} is cancelled.", "",
                 "The attached update removes it from your calendar.", "", f"To book another time, {call}."]
        description = f"Cancelled. To book another time, {call}."
    else:
        subject = f"Changed: {what} is now on {short}" if moved else f"Invitation: {what} on {short}"
        lines = [f"{what_cap} has moved. It is now on {when}." if moved else f"You are booked for {what} on {when}.",
                 _where(place, room, link), "",
                 "The attached invitation adds it to your calendar.", "", f"To cancel or change it, {call}."]
        joining = f"Join online: {link}\n\n" if place is None and link else ""
        description = f"{joining}To cancel or change it, {call}."
    body = "\n".join(["Hello,", "", *lines, "", sender])
    message = InvitationMessage(subject=subject, body=body, summary=f"{what_cap} ({sender})",
                                location=_location(place, room, link), description=description)
    found = [word for text in (message.subject, message.body, message.summary, message.location,
                               message.description) for word in clinical_words_in(text)]
    if found:
        raise ClinicalWordInMessage(f"an invitation would carry the word(s): {', '.join(sorted(set(found)))}")
    return message
