"""Admin commands find the stage: ``--stage`` / ``CARSBOT_STAGE`` -> the stack's tables, queues, secrets."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from carsbot.adapters.aws import client
from carsbot.cli import main
from carsbot.config import get_settings
from carsbot.ops import stage
from carsbot_dev.local.stack import LocalStack


def test_stage_resolves_what_the_functions_see(operator_env: LocalStack) -> None:
    info = stage.apply_stage("local")
    assert info.name == "carsbot-local" == operator_env.stack_name
    settings = get_settings()
    assert settings.channels_table == "carsbot-local-channels"
    assert settings.state_table == operator_env.resources["StateTable"]
    assert settings.posts_queue_url == operator_env.queue_url("PostsQueue")
    assert settings.publish_queue_url == operator_env.queue_url("PublishQueue")
    assert settings.media_bucket == operator_env.resources["MediaBucket"]
    # Secrets by the names ops type (the template's Name), not the library default carsbot/<secret>.
    assert settings.telegram_session_secret == "carsbot/local/telegram-session"
    assert settings.bot_token_secret == "carsbot/local/bot-token"
    if "CARSBOT_YOOKASSA_TRUSTED_NETWORKS" in os.environ:  # !Join [",", !Ref <CommaDelimitedList>]
        assert os.environ["CARSBOT_YOOKASSA_TRUSTED_NETWORKS"].count("/") >= 2
    # Every CARSBOT_* variable a function gets is resolved to the same resource.
    secretsmanager = client("secretsmanager")
    for key, expected in operator_env.function_environment().items():
        if not key.startswith("CARSBOT_") or not key.endswith(("_TABLE", "_QUEUE_URL", "_BUCKET", "_SECRET")):
            continue  # resources (moto resolves some list intrinsics wrongly, so not every variable)
        got = os.environ[key]
        if expected.startswith("arn:aws:secretsmanager:"):
            assert secretsmanager.describe_secret(SecretId=got)["ARN"] == expected, key
        else:
            assert got == expected, key


def test_channels_command_stage_flag_anywhere(operator_env: LocalStack, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["channels", "add", "@cars_kzn", "--stage", "local"]) == 0
    assert main(["--stage=local", "channels", "list", "--json"]) == 0
    out = capsys.readouterr().out
    assert '"ref": "@cars_kzn"' in out
    items = client("dynamodb").scan(TableName="carsbot-local-channels")["Items"]
    assert [item["ref"]["S"] for item in items] == ["@cars_kzn"]


def test_carsbot_stage_variable_fills_rest(operator_env: LocalStack, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("CARSBOT_STAGE", "local")
    assert main(["channels", "add", "@from_env"]) == 0
    assert os.environ["CARSBOT_CHANNELS_TABLE"] == "carsbot-local-channels"
    items = client("dynamodb").scan(TableName="carsbot-local-channels")["Items"]
    assert [item["ref"]["S"] for item in items] == ["@from_env"]


def test_session_login_writes_the_stage_secret(operator_env: LocalStack, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """`carsbot session login --stage local` stores carsbot/local/telegram-session (not carsbot/...)."""
    import json

    from carsbot_dev.monitor.offline import OfflineTelegram

    world = OfflineTelegram(seed=3)
    phone = "+79990001234"
    world.create_account(424242, username="ops_login", phone=phone)
    monkeypatch.setattr("carsbot_monitor.session.telethon_client", world.client_factory)

    class Keyboard:  # the operator types the code Telegram just "sent"
        def readline(self) -> str:
            return world.code_for(phone) + "\n"

    monkeypatch.setattr("sys.stdin", Keyboard())
    argv = ["session", "login", "--api-id", "12345", "--api-hash", "0123456789abcdef0123456789abcdef"]
    assert main([*argv, "--phone", phone, "--stage", "local"]) == 0
    stored = client("secretsmanager").get_secret_value(SecretId="carsbot/local/telegram-session")
    assert json.loads(stored["SecretString"])["api_id"] == 12345
    names = {s["Name"] for s in client("secretsmanager").list_secrets()["SecretList"]}
    assert "carsbot/telegram-session" not in names


def test_wrong_stage_is_one_line_exit_2(operator_env: LocalStack, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["channels", "list", "--stage", "nosuch"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "no CloudFormation stack 'carsbot-nosuch'" in err[0] and "--stage" in err[0]
    assert "Traceback" not in err[0]


def test_admin_command_without_stage_asks(operator_env: LocalStack, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["channels", "list"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "carsbot: which stage? pass --stage NAME or set CARSBOT_STAGE (e.g. --stage dev)"


def test_missing_credentials_is_one_line_exit_2(
    operator_env: LocalStack, monkeypatch, tmp_path: Path, capsys
) -> None:  # type: ignore[no-untyped-def]
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    assert main(["channels", "list", "--stage", "local"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("carsbot: no AWS credentials found:")
    assert "aws sso login" in err[0] and "AWS_PROFILE" in err[0]


def test_pynamodb_credential_error_explained(
    operator_env: LocalStack, monkeypatch, tmp_path: Path, capsys
) -> None:  # type: ignore[no-untyped-def]
    """The traceback the issue names: a configured environment whose credentials are gone."""
    monkeypatch.setenv("CARSBOT_STATE_TABLE", "carsbot-local-state")  # configured: no stack lookup
    monkeypatch.setenv("CARSBOT_CHANNELS_TABLE", "carsbot-local-channels")
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    assert main(["channels", "list"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("carsbot: no AWS credentials found:")


def test_unreachable_endpoint_is_one_line(operator_env: LocalStack, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # discard port: nothing listens
    assert main(["channels", "list", "--stage", "local"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot reach the endpoint http://127.0.0.1:9" in err[0]


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["status", "--stage", "dev"], ("dev", ["status"])),
        (["--stage=prod", "dlq", "list"], ("prod", ["dlq", "list"])),
        (["channels", "list"], (None, ["channels", "list"])),
        (["extract", "--", "--stage", "x"], (None, ["extract", "--", "--stage", "x"])),
    ],
)
def test_stage_argument_is_taken_from_anywhere(argv: list[str], expected: tuple) -> None:  # type: ignore[type-arg]
    assert stage.split_stage_argument(argv) == expected


def test_samconfig_names_the_stacks(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("CARSBOT_STACK_NAME", raising=False)
    config = tmp_path / "samconfig.toml"
    config.write_text(
        'version = 0.1\n[live.global.parameters]\nstack_name = "cars-live"\n'
        '[live.deploy.parameters]\nregion = "eu-west-1"\n'
        'parameter_overrides = "Stage=prod ExtractEngine=auto"\n'
    )
    assert stage.stack_for_stage("prod", config) == ("cars-live", "eu-west-1")
    assert stage.stack_for_stage("staging", config) == ("carsbot-staging", None)
    root = Path(__file__).resolve().parents[2] / "samconfig.toml"
    for name in stage.known_stages(root):
        stack, region = stage.stack_for_stage(name, root)
        assert stack == f"carsbot-{name}" and region
