"""The tests' list of event consumers (whose broker queues they delete) is the services' own."""

from crmkit.config import Settings
from suite.targets import SERVICE_NAMES, load_module
from tests.infra import CONSUMERS_BY_SERVICE


def test_the_tests_know_every_consumer_each_service_runs(tmp_path):
    settings = Settings.from_env({"CRM_DATA_DIR": str(tmp_path)})
    running = {}
    for name in SERVICE_NAMES:
        module = load_module(name, settings)
        try:
            running[name] = sorted(c.name for c in module.consumers)
        finally:
            module.database.dispose()
    expected = {name: sorted(CONSUMERS_BY_SERVICE.get(name, [])) for name in SERVICE_NAMES}
    assert running == expected
