from pathlib import Path

import pytest

from crmkit.config import ConfigError, Settings


def test_defaults_give_the_embedded_mode():
    settings = Settings.from_env({})
    assert settings.bus == "inprocess"
    assert settings.database_url_for("contacts") == f"sqlite:///{Path('var') / 'contacts.db'}"
    assert settings.gateway_addr == "127.0.0.1:8080"
    assert settings.grpc_addr("marketing") == "127.0.0.1:50054"


def test_the_database_template_and_per_service_overrides():
    settings = Settings.from_env(
        {
            "CRM_DATABASE_URL": "postgresql+psycopg://db/crm_{service}",
            "CRM_SALES_DATABASE_URL": "postgresql+psycopg://other/sales",
        }
    )
    assert settings.database_url_for("contacts") == "postgresql+psycopg://db/crm_contacts"
    assert settings.database_url_for("sales") == "postgresql+psycopg://other/sales"


def test_grpc_bind_uses_the_bind_host_and_the_service_port():
    settings = Settings.from_env({"CRM_GRPC_BIND_HOST": "0.0.0.0", "CRM_CONTACTS_ADDR": "contacts:6000"})
    assert settings.grpc_bind("contacts") == "0.0.0.0:6000"


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"CRM_BUS": "kafka"}, "CRM_BUS"),
        ({"CRM_GRPC_DEADLINE_SECONDS": "soon"}, "CRM_GRPC_DEADLINE_SECONDS"),
        ({"CRM_RETRY_DELAYS_MS": "1,x"}, "CRM_RETRY_DELAYS_MS"),
        ({"CRM_RETRY_DELAYS_MS": "0"}, "CRM_RETRY_DELAYS_MS"),
        ({"CRM_METRICS_PORT": "http"}, "CRM_METRICS_PORT"),
        ({"CRM_LOG_FORMAT": "xml"}, "CRM_LOG_FORMAT"),
        ({"CRM_PUBLIC_RATE_LIMIT": "ten/60"}, "CRM_PUBLIC_RATE_LIMIT"),
        ({"CRM_PUBLIC_RATE_LIMIT": "0/60"}, "CRM_PUBLIC_RATE_LIMIT"),
        ({"CRM_AUTOMATION_RETENTION_DAYS": "7"}, "CRM_AUTOMATION_RETENTION_DAYS"),
    ],
)
def test_bad_settings_fail_fast_naming_the_variable(env, named):
    with pytest.raises(ConfigError, match=named):
        Settings.from_env(env)


def test_each_target_has_its_own_default_metrics_port_unless_one_is_set():
    assert Settings.from_env({}).metrics_port_for("contacts") != Settings.from_env({}).metrics_port_for("marketing")
    assert Settings.from_env({"CRM_METRICS_PORT": "0"}).metrics_port_for("contacts") == 0


def test_replicas_bind_their_own_port_while_clients_dial_the_list():
    settings = Settings.from_env({"CRM_CONTACTS_ADDR": "ipv4:127.0.0.1:6001,127.0.0.1:6002", "CRM_GRPC_PORT": "6002"})
    assert settings.grpc_addr("contacts") == "ipv4:127.0.0.1:6001,127.0.0.1:6002"
    assert settings.grpc_bind("contacts") == "127.0.0.1:6002"


def test_the_public_rate_limit_is_requests_per_seconds():
    assert Settings.from_env({}).public_rate_limit == (10, 60.0)
    assert Settings.from_env({"CRM_PUBLIC_RATE_LIMIT": "3/10"}).public_rate_limit == (3, 10.0)
