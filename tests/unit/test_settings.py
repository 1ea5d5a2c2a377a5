"""Settings: environment variables, CLI overrides, clear errors."""

from __future__ import annotations

import pytest

from chalicelib.core.errors import ConfigError
from chalicelib.core.series_ids import PERIOD_HINT, SERIES_ID_HINT
from chalicelib.core.settings import (
    CLIENT_ENVIRONMENT,
    DEFAULT_BLS_SOURCE_URL,
    DEFAULT_POPULATION_API_URL,
    LogConfig,
    Settings,
    api_auth_from_env,
    client_environment,
    log_config_from_env,
)


def test_defaults():
    settings = Settings.from_env({})
    assert settings.data_store == "./data"
    assert settings.bls_source_urls == (DEFAULT_BLS_SOURCE_URL,)
    assert settings.population_api_url == DEFAULT_POPULATION_API_URL
    assert settings.bls_contact is None
    assert (settings.report_start_year, settings.report_end_year) == (2013, 2018)


def test_environment_values_are_parsed():
    settings = Settings.from_env({
        "DATA_STORE": "s3://my-bucket/mirror/",
        "BLS_SOURCE_URL": "https://download.bls.gov/pub/time.series/pr/, https://download.bls.gov/pub/time.series/cu",
        "BLS_CONTACT": "ops@example.org",
        "REPORT_YEARS": "2014-2016",
        "REPORT_SERIES_ID": "prs30006011",
        "HTTP_CONCURRENCY": "2",
    })
    assert settings.data_store == "s3://my-bucket/mirror"
    assert settings.bls_source_urls == (
        "https://download.bls.gov/pub/time.series/pr/",
        "https://download.bls.gov/pub/time.series/cu/",
    )
    assert settings.require_contact() == "ops@example.org"
    assert (settings.report_start_year, settings.report_end_year) == (2014, 2016)
    assert settings.report_series_id == "PRS30006011"
    assert settings.http_concurrency == 2


def test_overrides_win_over_environment():
    settings = Settings.from_env({"DATA_STORE": "/tmp/a", "BLS_CONTACT": "a@example.org"},
                                 data_store="/tmp/b", bls_contact=None)
    assert settings.data_store == "/tmp/b"
    assert settings.bls_contact == "a@example.org"


def test_missing_contact_is_a_one_line_error_saying_how_to_set_it():
    with pytest.raises(ConfigError) as error:
        Settings.from_env({}).require_contact()
    message = str(error.value)
    assert "\n" not in message
    assert "BLS_CONTACT" in message and "export BLS_CONTACT=" in message


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("DATA_STORE", "s3://", "DATA_STORE"),
        ("DATA_STORE", "s3://b/../x", "s3://bucket[/prefix]"),
        ("DATA_STORE", "gs://bucket", "s3://bucket[/prefix]"),
        ("BLS_SOURCE_URL", "ftp://download.bls.gov/pub/", "http(s)://host/path/"),
        ("BLS_SOURCE_URL", "https://download.bls.gov/", "directory path"),
        ("BLS_CONTACT", "not a contact", "e-mail address"),
        ("POPULATION_API_URL", "datausa.io", "http(s) URL"),
        ("HTTP_CONCURRENCY", "0", "1..32"),
        ("HTTP_CONCURRENCY", "four", "integer"),
        ("REPORT_YEARS", "2013", "START-END"),
        ("REPORT_YEARS", "2018-2013", "start year is after end year"),
        ("REPORT_PERIOD", "Quarter1", "BLS period"),
        ("REPORT_PERIOD", "X99", "BLS period"),
        ("REPORT_SERIES_ID", "12", "BLS series id"),
        ("REPORT_DATA_KEY", "../../etc/passwd", "bls/<survey>/<file>"),
        ("REPORT_DATA_KEY", "population/population.json", "bls/<survey>/<file>"),
        ("REPORT_DATA_KEY", "bls/../pr.data.0.Current", "bls/<survey>/<file>"),
        ("LOG_LEVEL", "LOUD", "DEBUG"),
        ("LOG_FORMAT", "yaml", "json, text"),
    ],
)
def test_invalid_values_name_the_variable_and_the_accepted_form(name, value, expected):
    with pytest.raises(ConfigError) as error:
        Settings.from_env({name: value})
    assert str(error.value).startswith(name)
    assert expected in str(error.value)


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"report_period": "TOOLONGPERIOD"}, "--period: 'TOOLONGPERIOD' is not a BLS period"),
        ({"report_series_id": "x"}, "--series: 'X' is not a BLS series id"),
        ({"data_store": "gs://b"}, "--store: 'gs://b' is neither a local folder"),
        ({"population_api_url": "ftp://x"}, "--url: 'ftp://x' is not an http(s) URL"),
    ],
)
def test_flags_are_checked_like_their_variables(overrides, expected):
    with pytest.raises(ConfigError) as error:
        Settings.from_env({}, **overrides)
    assert str(error.value).startswith(expected)


def test_flag_values_are_normalized_like_their_variables():
    settings = Settings.from_env({}, report_series_id="prs85006092", report_period="q05")
    assert (settings.report_series_id, settings.report_period) == ("PRS85006092", "Q05")



def test_lake_database_and_continuation_queue_come_from_their_variables():
    settings = Settings.from_env({"LAKE_GLUE_DATABASE": " bls_pipeline_dev ",
                                  "CONTINUATION_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/1/continue"})
    assert settings.lake_database == "bls_pipeline_dev"
    assert settings.continuation_queue_url == "https://sqs.us-east-1.amazonaws.com/1/continue"
    unset = Settings.from_env({"LAKE_GLUE_DATABASE": "  "})
    assert (unset.lake_database, unset.continuation_queue_url) == (None, None)


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, LogConfig("INFO", level_given=False, text=False)),
        ({"LOG_LEVEL": "debug", "LOG_FORMAT": " Text "}, LogConfig("DEBUG", level_given=True, text=True)),
        ({"LOG_LEVEL": "bogus", "LOG_FORMAT": "yaml"}, LogConfig("INFO", level_given=True, text=False)),
        ({"LOG_LEVEL": " ", "LOG_FORMAT": "json"}, LogConfig("INFO", level_given=False, text=False)),
    ],
)
def test_log_config_is_read_without_ever_failing(env, expected):
    # an invalid value falls back: logging starts before Settings reports it as a ConfigError
    assert log_config_from_env(env) == expected


@pytest.mark.parametrize(("value", "expected"),
                         [(None, "iam"), ("", "iam"), (" IAM ", "iam"), ("none", "none"), ("Cognito", "cognito")])
def test_api_auth_is_iam_cognito_or_none(value, expected):
    assert api_auth_from_env({} if value is None else {"API_AUTH": value}) == expected


def test_an_unknown_api_auth_is_a_config_error_naming_the_choices():
    with pytest.raises(ConfigError, match=r"^API_AUTH: 'public' is not one of iam, cognito, none \(iam = "):
        api_auth_from_env({"API_AUTH": "Public"})


def test_client_environment_lists_every_variable_a_boto3_client_depends_on():
    env = {"AWS_REGION": "eu-west-1", "AWS_ENDPOINT_URL_S3": "http://localhost:5000", "DATA_STORE": "s3://b"}
    values = dict(zip(CLIENT_ENVIRONMENT, client_environment(env), strict=True))
    assert values["AWS_REGION"] == "eu-west-1" and values["AWS_ENDPOINT_URL_S3"] == "http://localhost:5000"
    assert values["AWS_PROFILE"] is None and "DATA_STORE" not in values


@pytest.mark.parametrize(
    ("name", "value", "hint"),
    [("REPORT_SERIES_ID", "12", SERIES_ID_HINT), ("REPORT_PERIOD", "q9", PERIOD_HINT)],
)
def test_series_id_and_period_errors_give_the_same_hint_as_the_web(name, value, hint):
    with pytest.raises(ConfigError) as error:
        Settings.from_env({name: value})
    assert str(error.value).endswith(f"; {hint}")
