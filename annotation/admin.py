"""Admin pages of the annotation app."""
from annotation import admin_exports  # noqa: F401 - registers the exports' admin
