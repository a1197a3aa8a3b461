"""The lifecycle demo behind ``make demo`` (see :mod:`examples.demo.run`)."""
