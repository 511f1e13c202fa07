"""The same app, set up in code instead of by the launcher."""

import vitalyst_otel

from .main import app

vitalyst_otel.configure(app=app, service_name="bigger-app")
