"""Pure domain rules: no Flask, no database, time and data passed in as arguments."""
