"""Multi-source swarm downloads: pure policy (no I/O, no clock, no threads).

One concept per module: ``range_map`` (byte accounting), ``metrics``, ``cost``, ``reputation``,
``stall``, ``zones``, ``integrity``; the policy in ``planning`` (arithmetic), ``workbench``
(working model), ``stealing``, ``extending`` and ``overlay`` (takes), ``forecast`` and
``outlook`` (the look ahead that judges them), ``scheduler`` (``plan``); ``decisions`` (plain
records), ``snapshot`` (what the policy reads, and its config), ``ports`` (transport and
part-file protocols), ``resume`` (what an earlier run kept); the driver in ``session`` with
``applying``, ``verification``, ``views`` and ``tracking``. See docs/swarm.md.
"""
