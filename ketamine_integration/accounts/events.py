"""What features that follow a clinician's sessions hear when the clinician's own video room
changes (the admin's user form, the clinician's own page): reminders and invitations waiting to
be sent carry the room's link. Sent after the change's flush, inside the transaction."""
from __future__ import annotations

from blinker import Namespace

signals = Namespace()
#: sender: the user's id
video_room_changed = signals.signal("video-room-changed")
