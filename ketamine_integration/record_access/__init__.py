"""The patient's right of access (45 CFR 164.524): requests, and the export of the designated record set."""
