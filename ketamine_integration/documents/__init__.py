"""Documents rendered from plain data: PDFs (WeasyPrint) and, later, iCalendar."""
