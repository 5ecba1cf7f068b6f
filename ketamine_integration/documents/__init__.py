"""Documents rendered from plain data: the coordination report and REMS form (HTML, PDF through
WeasyPrint) and iCalendar feeds. Services build the data and render no template; documents are made here."""
