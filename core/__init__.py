"""The core room: what every layer shares and none owns.

``errors`` (InputError: bad input, exit 2), ``atomic`` (temp file, then rename),
``interrupt`` (Ctrl-C deferred to a safe point), ``limits`` (caps a user can
raise by environment variable), ``kernel_cache`` (numba's cache stamp across
kernel files) and ``version``.  It imports nothing of the project.
"""
