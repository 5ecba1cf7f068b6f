"""The fictional demo clinic that `flask demo` and `make run` load."""
