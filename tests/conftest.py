"""Test-suite wide set-up shared by every tier.

Hypothesis profiles, chosen with the ``HYPOTHESIS_PROFILE`` environment
variable:

``dev`` (the default)
    a quick run for the edit-test loop.
``ci``
    what ``tools/test.sh`` and tox use: many more examples, no deadline
    (shared CI machines have noisy timings), and a reproduction blob
    printed with every failure.
"""

from __future__ import annotations

import os

import hypothesis

hypothesis.settings.register_profile("dev", max_examples=200)
hypothesis.settings.register_profile(
    "ci",
    max_examples=3000,
    deadline=None,
    derandomize=False,
    print_blob=True,
)
hypothesis.settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))
