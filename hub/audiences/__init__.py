"""Audiences: segments defined in config, computed from stored orders and attributes, pushed
to an ``audience_sink`` brick (a DMP) keyed by pseudonyms and matched cookies only."""
