"""Notifications to organisations and users (in-app; other channels plug in at delivery)."""
