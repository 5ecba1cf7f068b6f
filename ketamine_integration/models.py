"""Every model module, imported once so the metadata (and Alembic's comparison) sees all tables."""
from .db import append_only  # noqa: F401  (the append-only guard and the digests made at creation)
from .accounts import models as accounts_models  # noqa: F401
from .audit import models as audit_models  # noqa: F401
from .bookings import models as bookings_models  # noqa: F401
from .busy_times import models as busy_times_models  # noqa: F401
from .calendars import models as calendars_models  # noqa: F401
from .clinic_settings import models as clinic_settings_models  # noqa: F401
from .coordination import models as coordination_models  # noqa: F401
from .discharge import models as discharge_models  # noqa: F401
from .courses import models as courses_models  # noqa: F401
from .experience import models as experience_models  # noqa: F401
from .experience import window_store  # noqa: F401
from .journal import models as journal_models  # noqa: F401
from .messaging import models as messaging_models  # noqa: F401
from .mfa import models as mfa_models  # noqa: F401
from .notes import models as notes_models  # noqa: F401
from .notes import patient_check_ins  # noqa: F401
from .patients import models as patients_models  # noqa: F401
from .plans import models as plans_models  # noqa: F401
from .practices import models as practices_models  # noqa: F401
from .protocols import models as protocols_models  # noqa: F401
from .reminders import models as reminders_models  # noqa: F401
from .safety_plans import models as safety_plans_models  # noqa: F401
from .portal import models as portal_models  # noqa: F401
from .record_access import models as record_access_models  # noqa: F401
from .signed_forms import models as signed_forms_models  # noqa: F401
