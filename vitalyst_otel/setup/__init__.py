"""Set-up: the configure steps (:mod:`.configure`, :mod:`.steps`), the handle they return
(:mod:`.handle`), and the process's one registry of what was configured and what runs at fork
and exit (:mod:`.lifecycle`)."""
