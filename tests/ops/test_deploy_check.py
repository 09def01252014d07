"""``make deploy-check``: what each function's code reads is what the template gives it (offline)."""

from __future__ import annotations

import copy
from pathlib import Path

from carsbot_dev.deploy_check import check_samconfig, check_template, main
from carsbot_dev.local.stack import load_template

ROOT = Path(__file__).resolve().parents[2]
ROOTS = [ROOT / "functions", ROOT / "monitor"]


def test_template_gives_each_function_its_env(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main([]) == 0, capsys.readouterr().out
    out = capsys.readouterr().out
    assert "AlarmsFunction (alarms.app)" in out and "alarm_chat_id" in out
    assert "MonitorTaskDefinition (carsbot_monitor.app)" in out and "telegram_session_secret" in out
    assert out.rstrip().endswith("deploy-check: ok")


def test_missing_variable_or_secret_grant() -> None:
    template = copy.deepcopy(load_template())
    alarms = template["Resources"]["AlarmsFunction"]["Properties"]
    del alarms["Environment"]["Variables"]["CARSBOT_ALARM_CHAT_ID"]
    alarms["Policies"] = []  # no GetSecretValue on the bot token any more
    problems, _ = check_template(template, ROOTS)
    assert any(
        p.startswith("AlarmsFunction: reads settings.alarm_chat_id (functions/carsbot/ops/alarms.py")
        and p.endswith("CARSBOT_ALARM_CHAT_ID is not set")
        for p in problems
    ), problems
    assert "AlarmsFunction: reads secret BotTokenSecret but has no GetSecretValue on it" in problems
    del template["Globals"]["Function"]["Environment"]["Variables"]["CARSBOT_PUBLISH_QUEUE_URL"]
    problems, _ = check_template(template, ROOTS)
    assert any(p.startswith("ExtractFunction: reads settings.publish_queue_url") for p in problems), problems


def test_samconfig_overrides_only_parameters(tmp_path: Path) -> None:
    template = load_template()
    problems, notes = check_samconfig(template, ROOT / "samconfig.toml")
    assert problems == [] and len(notes) >= 3
    bad = tmp_path / "samconfig.toml"
    bad.write_text(
        'version = 0.1\n[qa.global.parameters]\nstack_name = "carsbot-qa"\n'
        '[qa.deploy.parameters]\nparameter_overrides = "Stage=qa NoSuchParameter=1"\n'
    )
    problems, _ = check_samconfig(template, bad)
    assert "samconfig.toml [qa]: parameters not in the template: NoSuchParameter" in problems
    assert any("Stage=qa is not one of" in p for p in problems)
