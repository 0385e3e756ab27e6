"""The Nova tier: Nova's own in-process functional harness, with our driver.

It runs under stestr (pytest breaks Nova's TestCases), in Nova's default
threading mode and in eventlet mode, chosen by the environment variable
``OS_NOVA_DISABLE_EVENTLET_PATCHING`` (``1``: threads, ``0``: eventlet).
Nova must choose and patch before anything imports it, hence the first
line, as in ``nova/tests/functional/__init__.py``.
"""

from nova import monkey_patch; monkey_patch.patch()  # noqa: E702,H306
