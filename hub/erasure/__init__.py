"""Data-subject rights and brick retirement: erasure (GDPR art. 17), objection (art. 21),
export (art. 15/20), suppression of erased contact points, and brick decommissioning.

Modules, each small and importable on its own (the runtime and the identity service import
``hub.erasure.state`` and ``hub.erasure.suppression``, which import nothing heavier than the
storage layer):

* ``state``: customer statuses, suppression and decommission look-ups;
* ``suppression``: what a re-import of an erased person's contact point resolves to;
* ``local``: the one-transaction local erasure (keys, vault, identifiers, history);
* ``letters``: finding the person in dead letters;
* ``remote``: the erase calls owed to bricks, their steps, retries and resumption;
* ``forget`` / ``objection`` / ``export``: the operations behind ``hub contacts``;
* ``decommission``: ``hub bricks decommission|reinstate|list``.

See docs/privacy-rights.md.
"""
