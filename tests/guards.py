"""The one real-time guard every test waits under.

Tests wait on conditions (a message heard, a state reached, a mailbox drained), never on
time passing: protocol time is a :class:`~ucwa_flow.clock.ManualClock`. ``WAIT`` only
bounds how long a test that is about to fail keeps waiting, so it is generous: a 2-core
machine with both cores busy elsewhere must never reach it in a test that passes.
"""

WAIT = 60.0  # real seconds
