// Reads an iCalendar document from stdin with Mozilla's ical.js (the parser of Thunderbird's and
// Nextcloud's calendars) and prints each event's UID, start and end as UTC seconds, and the zone
// ical.js resolved its start in: the embedded VTIMEZONE, as a client without its own zone database
// uses it. Usage: node icaljs_events.mjs <path to ical.js's dist/ical.js> < calendar.ics
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

const ICAL = (await import(pathToFileURL(process.argv[2]).href)).default;
const calendar = new ICAL.Component(ICAL.parse(readFileSync(0, "utf8")));
const events = calendar.getAllSubcomponents("vevent").map((component) => {
  const event = new ICAL.Event(component);
  return {
    uid: event.uid,
    start: event.startDate.toUnixTime(),
    end: event.endDate.toUnixTime(),
    zone: event.startDate.zone ? event.startDate.zone.tzid : null,
  };
});
process.stdout.write(JSON.stringify(events));
