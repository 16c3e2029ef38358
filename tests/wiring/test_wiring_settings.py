"""Settings: YAML file + environment, unknown keys, the secret-key rule, plain-http URLs outside dev mode."""

from __future__ import annotations

from pathlib import Path

import pytest

from aa_jak.settings import DEV_MODE_WARNING, Settings, SettingsError, ensure_secret_key, refuse_plain_http


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "aa-jak.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_reads_the_yaml_file_named_by_aa_jak_config_file(tmp_path, clean_env):
    config = write(
        tmp_path,
        "log_level: DEBUG\n"
        "public_base_url: https://cds.example.org\n"
        "cds_trusted_issuers:\n"
        "  - iss: https://ehr.example.org\n"
        "    jwks_url: https://ehr.example.org/jwks\n",
    )
    clean_env.setenv("AA_JAK_CONFIG_FILE", str(config))
    settings = Settings()
    assert settings.log_level == "DEBUG"
    assert settings.public_base_url == "https://cds.example.org"
    assert settings.cds_trusted_issuers[0].jwks_url == "https://ehr.example.org/jwks"


def test_environment_overrides_the_file(tmp_path, clean_env):
    clean_env.setenv("AA_JAK_CONFIG_FILE", str(write(tmp_path, "log_level: DEBUG\n")))
    clean_env.setenv("AA_JAK_LOG_LEVEL", "WARNING")
    assert Settings().log_level == "WARNING"


def test_keyword_arguments_override_the_environment(clean_env):
    clean_env.setenv("AA_JAK_LOG_LEVEL", "WARNING")
    assert Settings(log_level="ERROR").log_level == "ERROR"


def test_nested_values_come_from_json_in_the_environment(clean_env):
    clean_env.setenv("AA_JAK_SMART_CLIENTS", '[{"iss": "https://fhir.example.org", "client_id": "abc"}]')
    assert Settings().smart_clients[0].client_id == "abc"


def test_unknown_key_in_the_file_is_an_error_naming_the_key(tmp_path, clean_env):
    clean_env.setenv("AA_JAK_CONFIG_FILE", str(write(tmp_path, "log_level: INFO\nsecret_kee: abc\n")))
    with pytest.raises(SettingsError, match="secret_kee"):
        Settings()


def test_unknown_nested_key_in_the_file_is_an_error_naming_the_key(tmp_path, clean_env):
    clean_env.setenv(
        "AA_JAK_CONFIG_FILE", str(write(tmp_path, "cds_trusted_issuers:\n  - iss: x\n    jwks_uri: y\n"))
    )
    with pytest.raises(ValueError, match="jwks_uri"):
        Settings()


def test_unknown_aa_jak_environment_variable_is_an_error_naming_it(clean_env):
    clean_env.setenv("AA_JAK_SECRETKEY", "abc")
    with pytest.raises(SettingsError, match="AA_JAK_SECRETKEY"):
        Settings()


def test_test_suite_variables_are_not_settings(clean_env):
    clean_env.setenv("AA_JAK_TEST_POSTGRES_URL", "postgresql://x")
    Settings()


def test_missing_config_file_is_an_error(tmp_path, clean_env):
    clean_env.setenv("AA_JAK_CONFIG_FILE", str(tmp_path / "nope.yaml"))
    with pytest.raises(SettingsError, match=r"nope\.yaml"):
        Settings()


def test_config_file_must_be_a_mapping(tmp_path, clean_env):
    clean_env.setenv("AA_JAK_CONFIG_FILE", str(write(tmp_path, "- a\n- b\n")))
    with pytest.raises(SettingsError, match="mapping"):
        Settings()


def test_refuses_to_run_without_a_secret_key_outside_dev_mode(clean_env):
    with pytest.raises(SettingsError, match="AA_JAK_SECRET_KEY"):
        ensure_secret_key(Settings(dev_mode=False))


def test_create_app_refuses_to_start_without_a_secret_key_outside_dev_mode(clean_env):
    from aa_jak.app import create_app

    with pytest.raises(SettingsError, match="secret key"):
        create_app(Settings(dev_mode=False))


def test_dev_mode_generates_a_secret_key(clean_env):
    settings = ensure_secret_key(Settings(dev_mode=True))
    assert len(settings.secret_key.get_secret_value()) >= 32
    assert ensure_secret_key(Settings(dev_mode=True)).secret_key != settings.secret_key


def test_a_given_secret_key_is_kept(clean_env):
    settings = ensure_secret_key(Settings(dev_mode=False, secret_key="s3cret-value"))
    assert settings.secret_key.get_secret_value() == "s3cret-value"


def test_the_secret_key_is_not_shown_in_repr(clean_env):
    assert "s3cret-value" not in repr(Settings(secret_key="s3cret-value"))


def test_dev_mode_warning_text_is_stable():
    assert DEV_MODE_WARNING == (
        "DEVELOPMENT MODE: CDS calls without a client JWT (a JWT that is sent is still verified) "
        "and plain-http URLs are allowed"
    )


def test_an_empty_metrics_token_is_an_error(clean_env):
    with pytest.raises(ValueError, match="metrics_token is empty"):
        Settings(metrics_token=" ")


def test_the_metrics_token_is_not_shown_in_repr(clean_env):
    assert "metrics-token-1234" not in repr(Settings(metrics_token="metrics-token-1234"))


# --- plain http refused outside dev mode ---------------------------------------------------------

ISSUER = {"iss": "https://ehr.example.org", "jwks_url": "https://ehr.example.org/jwks"}


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        (
            {
                "cds_trusted_issuers": [
                    {**ISSUER, "fhir_servers": ["https://fhir.example.org", "http://fhir.example.org"]}
                ]
            },
            r"cds_trusted_issuers\[0\]\.fhir_servers\[1\] \(iss https://ehr\.example\.org\) is 'http://fhir\.example\.org'",
        ),
        (
            {"cds_trusted_issuers": [{**ISSUER, "jwks_url": "http://ehr.example.org/jwks"}]},
            r"cds_trusted_issuers\[0\]\.jwks_url .* is 'http://ehr\.example\.org/jwks'",
        ),
        (
            {"cds_trusted_issuers": [{**ISSUER, "allowed_jku": ["http://ehr.example.org/jwks"]}]},
            r"cds_trusted_issuers\[0\]\.allowed_jku\[0\]",
        ),
        (
            {"smart_clients": [{"iss": "http://fhir.example.org/r4", "client_id": "abc"}]},
            r"smart_clients\[0\]\.iss \(client_id abc\) is 'http://fhir\.example\.org/r4'",
        ),
    ],
    ids=["fhir_servers", "jwks_url", "allowed_jku", "smart_iss"],
)
def test_create_app_refuses_a_plain_http_url_outside_dev_mode_naming_the_setting(clean_env, settings, named):
    from aa_jak.app import create_app

    with pytest.raises(SettingsError, match=named):
        create_app(Settings(dev_mode=False, secret_key="s3cret-value", **settings))


def test_plain_http_urls_are_accepted_in_dev_mode(clean_env):
    settings = Settings(
        dev_mode=True,
        cds_trusted_issuers=[
            {
                "iss": "http://ehr.test",
                "jwks_url": "http://ehr.test/jwks",
                "fhir_servers": ["http://fhir.test"],
            }
        ],
        smart_clients=[{"iss": "http://fhir.test", "client_id": "abc"}],
    )
    refuse_plain_http(settings)


def test_https_urls_are_accepted_outside_dev_mode(clean_env):
    settings = Settings(
        dev_mode=False,
        cds_trusted_issuers=[
            {
                **ISSUER,
                "allowed_jku": ["https://ehr.example.org/jwks"],
                "fhir_servers": ["https://fhir.example.org"],
            }
        ],
        smart_clients=[{"iss": "https://fhir.example.org", "client_id": "abc"}],
    )
    refuse_plain_http(settings)


def test_plain_http_public_base_url_is_not_refused_outside_dev_mode(clean_env):
    """TLS may end at a proxy in front of the service; cds_hooks warns about it instead."""
    refuse_plain_http(Settings(dev_mode=False, public_base_url="http://10.0.0.5:8000"))
