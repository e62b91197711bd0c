"""The ``retouch`` command."""
