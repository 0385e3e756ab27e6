"""The admin tests run the runtime's guests: real agents behind relays."""

from tests.functional.runtime.conftest import fake  # noqa: F401
from tests.functional.runtime.conftest import guests  # noqa: F401
from tests.functional.runtime.conftest import runtime_logs  # noqa: F401
from tests.functional.runtime.conftest import service  # noqa: F401
from tests.functional.runtime.conftest import sink  # noqa: F401
from tests.functional.runtime.conftest import workdir  # noqa: F401
