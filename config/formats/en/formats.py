"""How the admin shows dates and times (FORMAT_MODULE_PATH): readable, to the second, never raw ISO with microseconds.

A locale's own formats win over the DATETIME_FORMAT setting whenever localisation is on (always, since
Django 5.0), so the project's formats live here. E.g. "1 Dec 2026, 08:50:34"; times are in TIME_ZONE (UTC).
"""

DATE_FORMAT = "j M Y"
DATETIME_FORMAT = "j M Y, H:i:s"
SHORT_DATE_FORMAT = "Y-m-d"
SHORT_DATETIME_FORMAT = "Y-m-d H:i"
TIME_FORMAT = "H:i:s"
