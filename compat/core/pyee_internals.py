"""Every use of pyee's private members, in one place (pyee 13; pinned ``<14`` in pyproject.toml).

The fast emit below skips pyee's public ``emit`` (``_call_handlers`` under a lock, then
``_emit_run`` per handler, then ``_emit_handle_potential_error``): emits are on the hot path
of every fact and our emitters are used from the event loop's thread only. Nothing outside
this module may touch a pyee private; tests/core/test_pyee_internals.py checks each item
below against the installed pyee and fails with a message naming the item.

What is relied on, item by item:

* ``_events``: a dict from event name to an OrderedDict whose *values* are the callables
  to run, in registration order (for ``once`` the value is pyee's self-removing wrapper,
  the key the user's function). ``remove_all_listeners(event)`` may leave an empty
  OrderedDict behind, so "no handler" is tested by falsiness, not by key presence.
* ``_emit_run(f, args, kwargs)``: runs one handler as ``AsyncIOEventEmitter`` does: calls it,
  schedules a returned coroutine on ``_loop`` (or the running loop), and reports an
  exception raised by the call or by the coroutine as ``self.emit("error", exc)``.
* ``_loop``: the loop given to ``AsyncIOEventEmitter.__init__`` (None when none was).
* ``_emit_handle_potential_error(event, error)``: what pyee's own ``emit`` calls when no
  handler took an event; overridden so a direct call of pyee's base ``emit`` behaves like ours.
"""

from __future__ import annotations

import asyncio
from typing import Any

from pyee.asyncio import AsyncIOEventEmitter


class FastAsyncIOEventEmitter(AsyncIOEventEmitter):
    """pyee's asyncio emitter with a lock-free emit. Subclasses decide what an ``error``
    event nobody listens to means (``_unhandled_error``; pyee raises it)."""

    def emit(self, event: str, *args: Any, **kwargs: Any) -> bool:
        """pyee's emit without its lock and call layers. Most emits find no handler (every
        ``on`` emits ``new_listener``; a fact bubbles through objects nobody listens to)
        and return at once."""
        handlers = self._events.get(event)
        if not handlers:
            if event == "error":
                self._unhandled_error(args[0] if args else None)
            return False
        for f in list(handlers.values()):  # a copy: handlers may add or remove handlers
            self._emit_run(f, args, kwargs)
        return True

    def _emit_handle_potential_error(self, event: str, error: Any) -> None:
        if event == "error":
            self._unhandled_error(error)

    def _unhandled_error(self, error: Any) -> None:
        """An ``error`` event (a handler's exception, from ``_emit_run``) nobody listens to."""
        super()._emit_handle_potential_error("error", error)

    def _scheduling_loop(self) -> asyncio.AbstractEventLoop | None:
        """The loop the emitter was created with (pyee's ``_loop``), if any."""
        return self._loop


__all__ = ["FastAsyncIOEventEmitter"]
