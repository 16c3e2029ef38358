"""Wiring: the app factory, settings, logging, metrics and command line."""

from aa_jak.app import create_app as create_app
from aa_jak.settings import Settings as Settings
