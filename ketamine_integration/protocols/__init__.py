"""The protocol library: files in protocols/, their registered versions and the protocols page."""
