"""The figure book prints what suites record, per engine, at the size asked for."""
from tests.figures import FigureBook, sized, SIZE


def test_figures_are_listed_with_their_engine():
    book = FigureBook()
    book.record("IDOR matrix", "requests", "10 requests, 0 successes", engine="sqlite")
    book.record("Backups", "round trips", "3 of 3")
    assert book.lines() == ["IDOR matrix  [sqlite] requests: 10 requests, 0 successes",
                            "Backups      round trips: 3 of 3"]


def test_the_size_picks_the_count():
    assert sized(5, 500) == (500 if SIZE == "large" else 5)
