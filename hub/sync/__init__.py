"""Contact sync: the hub's changes pushed to contact sinks (``hub contacts sync``).

Deliberately empty: write paths import ``hub.sync.feed`` (``touch_customers``) and must not
pull in the engine. Import what you need from the submodules: ``hub.sync.engine`` runs a sync,
``hub.sync.feed`` is the change feed, ``hub.sync.views`` builds minimised views set-wise.
"""
