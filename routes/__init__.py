"""The DJ API: route modules, assembled into one app in `routes.app`."""
