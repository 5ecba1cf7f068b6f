"""Independent readers of the .ics files the app writes: vobject (Python) and Mozilla's ical.js (node)."""
