"""What every part of the library shares: the role vocabulary (and, as modules are reworked, settings, errors and
the keys shared with the Rasa side)."""
