"""HTML to PDF with WeasyPrint, fetching nothing from outside the app.

Documents are rendered from plain data. The only resources they may load are the package's
own static files; file: and network URLs are refused, so a crafted value can neither make
the server read local files nor call out.

Every document is tagged PDF/UA-1 (ISO 14289-1): a structure tree built from the HTML (headings,
lists, tables with their header cells, figures with the SVG's <title> as alternate text), MarkInfo
Marked, the document language from <html lang>, and XMP metadata whose title is the HTML <title>
(which therefore never names the patient: metadata travels with a file wherever it goes).
"""
from __future__ import annotations

import logging
import mimetypes
from functools import cache
from pathlib import Path

STATIC = (Path(__file__).resolve().parent.parent / "static").resolve()
#: documents resolve relative URLs against this; it names no real host
BASE_URL = "https://documents.invalid/"
log = logging.getLogger(__name__)
#: WeasyPrint's write_pdf options for every document (pdf/ua-1 implies PDF 1.7 and pdf_tags);
#: bench/measures.py renders with the same so its ratio compares like with like
PDF_OPTIONS = {"pdf_variant": "pdf/ua-1"}


@cache
def fetcher_class():
    """StaticOnlyFetcher, defined on the first PDF: WeasyPrint costs every server process about
    0.8 s to import, and most never render a document."""
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    class StaticOnlyFetcher(URLFetcher):
        """Serve /static/... from the package; refuse every other URL (WeasyPrint skips it)."""

        def fetch(self, url, headers=None):
            prefix = BASE_URL + "static/"
            if url.startswith(prefix):
                target = (STATIC / url.removeprefix(prefix).split("?")[0]).resolve()
                if target.is_file() and STATIC in target.parents:
                    content_type = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
                    return URLFetcherResponse(url, body=target.read_bytes(), headers={"Content-Type": content_type})
            log.warning("refused to fetch %r while rendering a document", url[:120])
            raise ValueError("resource refused: documents load only the app's own static files")

    return StaticOnlyFetcher


def render_pdf(html: str) -> bytes:
    from weasyprint import HTML

    return HTML(string=html, base_url=BASE_URL, url_fetcher=fetcher_class()()).write_pdf(**PDF_OPTIONS)
