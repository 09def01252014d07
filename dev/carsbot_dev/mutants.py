"""Targeted mutation check (``make mutants``): break one guarantee at a time, the tests must notice.

Each :class:`Mutant` is one small, realistic break of a promise the product makes — money, access,
seller contacts, no lost or doubled posts — written as *file, original snippet, replacement, the tests
that guard it*. For every mutant the script copies the checkout to a temporary directory (the working
tree as it is, or a committed ``--ref``), applies the replacement there, runs the named tests against
that copy and restores the file. A mutant is

* **caught** when the tests fail (what we want),
* **missed** when they still pass (a guarantee no test holds: fix the tests),
* **stale** when its snippet is no longer in the file exactly once (the code moved: update the row),
* **error** when pytest could not run the tests at all.

The unmutated copy runs the same tests first (a baseline that fails makes every "caught" meaningless).
Exit status: 0 only when every selected mutant was caught.

The checkout itself is never touched, so others can keep working (and testing) while it runs; the copy
is put first on ``PYTHONPATH``, ahead of the editable installs, and bytecode is not written.

Add a guarantee by adding a row to ``MUTANTS`` (keep the snippet short but unique in its file), e.g.
for payment crediting: the conditional write that credits a payment once, and the test that delivers
the same notification twice. ``docs/testing.md`` lists which test guards which guarantee.

    python -m carsbot_dev.mutants               # every mutant
    python -m carsbot_dev.mutants --list        # the table
    python -m carsbot_dev.mutants publish-claim dedup-lookup   # some (names or groups)
    python -m carsbot_dev.mutants --ref HEAD    # against the last commit instead of the working tree
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

from carsbot_dev.local.stack import repo_root

PUBLISH = "tests/integration/test_publish.py"
EXTRACT = "tests/integration/test_extract_function.py"
RATELIMIT = "tests/integration/test_ratelimit.py"
FORMATTING = "tests/unit/test_formatting.py"
RECONCILE = "tests/unit/test_reconcile.py"
LEASE = "tests/monitor/test_lease.py"
CALLBACK = "tests/payments/test_callback.py"
LIFECYCLE = "tests/payments/test_lifecycle.py"
CHECKOUT = "tests/payments/test_checkout.py"
CONTACTS = "tests/bot/test_contacts.py"


@dataclass(frozen=True)
class Mutant:
    name: str  # unique, short: shown in reports, selectable on the command line
    group: str  # the guarantee family: publish, dedup, idempotency, ratelimit, contacts, monitor...
    guarantee: str  # what breaks, in words
    path: str  # repository-relative file to mutate
    original: str  # must occur exactly once in the file
    replacement: str
    tests: tuple[str, ...]  # pytest node ids or files (repository-relative)


MUTANTS: tuple[Mutant, ...] = (
    # ------------------------------------------------------------------ publish: at most once
    Mutant(
        "publish-claim",
        "publish",
        "the publish claim no longer requires the listing to be pending (two deliveries both send)",
        "functions/carsbot/adapters/db/listings.py",
        "                condition=ListingModel.status == ListingStatus.PENDING,\n",
        "",
        (f"{PUBLISH}::test_claim_race_two_workers_one_send",),
    ),
    Mutant(
        "publish-stale-claim",
        "publish",
        "a stale 'publishing' claim (crashed attempt) is left alone instead of becoming publish_unknown",
        "functions/carsbot/pipeline/publish.py",
        'return self._mark_unknown(listing, "stale publishing claim (an earlier attempt crashed)")',
        "pass",
        (f"{PUBLISH}::test_stale_claim_is_unknown_never_resent",),
    ),
    Mutant(
        "publish-unknown-outcome",
        "publish",
        "a send whose outcome is unknown releases the claim (the redelivery posts it twice)",
        "functions/carsbot/pipeline/publish.py",
        "        except OutcomeUnknownError as exc:\n"
        "            return self._mark_unknown(listing, str(exc))\n",
        "",
        (f"{PUBLISH}::test_lost_response_is_not_resent",),
    ),
    Mutant(
        "publish-release",
        "publish",
        "a definite failure (long flood wait) keeps the claim: the listing is never published",
        "functions/carsbot/pipeline/publish.py",
        "            self._release(listing, str(exc))\n            self._on_retry_after(exc)\n",
        "            self._on_retry_after(exc)\n",
        (f"{PUBLISH}::test_long_flood_wait_releases_the_claim",),
    ),
    Mutant(
        "publish-withdrawn-meanwhile",
        "publish",
        "a listing sold while it was being sent is stored as published (its post is never marked sold)",
        "functions/carsbot/adapters/db/listings.py",
        "                condition=ListingModel.status == ListingStatus.PUBLISHING,\n            )\n"
        "        except UpdateError as exc:\n            if not is_conditional_failure(exc):\n"
        "                raise\n            listing.update(actions=stored)",
        "            )\n        except UpdateError as exc:\n            if not is_conditional_failure(exc):\n"
        "                raise\n            listing.update(actions=stored)",
        (f"{PUBLISH}::test_withdrawn_while_sending_marked_after",),
    ),
    # ------------------------------------------------------------------ rate limits
    Mutant(
        "ratelimit-fixed-window",
        "ratelimit",
        "the sliding window becomes a fixed one (a burst across a boundary doubles the rate)",
        "functions/carsbot/adapters/ratelimit.py",
        "if now - w.seconds < s <= now + w.seconds)",
        "if s >= now - now % w.seconds)",
        (
            f"{RATELIMIT}::test_sliding_window_across_minute_boundary",
            f"{PUBLISH}::test_chan_rate_limit_across_minute_boundary",
        ),
    ),
    Mutant(
        "ratelimit-unconditional-write",
        "ratelimit",
        "the log is written without checking its version (concurrent invocations overshoot)",
        "functions/carsbot/adapters/ratelimit.py",
        "            return StateModel.version == log.version",
        "            return StateModel.pk.exists()",
        (f"{RATELIMIT}::test_interleaved_acquire_never_overshoots",),
    ),
    Mutant(
        "ratelimit-album-as-one",
        "ratelimit",
        "an album counts as one message instead of N",
        "functions/carsbot/pipeline/publish.py",
        "            self._reserve(len(media))",
        "            self._reserve(1)",
        (f"{PUBLISH}::test_chan_rate_limit_shared_counts_album",),
    ),
    Mutant(
        "retry-after-ignored",
        "ratelimit",
        "a 429 is retried at once instead of after Telegram's retry_after",
        "functions/carsbot/adapters/telegram_bot.py",
        "                    self._sleep(retry_after)",
        "                    self._sleep(0)",
        (
            f"{PUBLISH}::test_retry_after_429_is_honoured",
            f"{PUBLISH}::test_retry_after_wait_is_the_asked_one",
        ),
    ),
    # ------------------------------------------------------------------ dedup: one car, one listing
    Mutant(
        "dedup-lookup",
        "dedup",
        "the duplicate lookup is skipped (a copy builds a listing row before the claim catches it)",
        "functions/carsbot/pipeline/extract.py",
        "original = self._find_duplicate(prints, fields.price, listing_id)",
        "original = None",
        (f"{EXTRACT}::test_dup_lookup_alone_leaves_no_listing_row",),
    ),
    Mutant(
        "dedup-claim-ignored",
        "dedup",
        "a lost fingerprint claim is ignored (two concurrent copies are both published)",
        "functions/carsbot/pipeline/extract.py",
        "        if claimed_by_other is not None:  # lost a race",
        "        if False:  # lost a race",
        (f"{EXTRACT}::test_dup_claim_alone_decides_concurrent",),
    ),
    Mutant(
        "dedup-claim-unconditional",
        "dedup",
        "a fingerprint slot is overwritten instead of claimed conditionally",
        "functions/carsbot/adapters/db/fingerprints.py",
        "item.save(condition=DedupModel.fingerprint.does_not_exist())",
        "item.save()",
        (f"{EXTRACT}::test_dup_claim_alone_decides_concurrent",),
    ),
    Mutant(
        "dedup-price-ignored",
        "dedup",
        "a dealer's second car of the same model is merged into the first (prices not compared)",
        "functions/carsbot/pipeline/extract.py",
        'return slot.startswith("text#") or dedup.prices_match(price, owner.price)',
        "return True",
        (f"{EXTRACT}::test_dealer_two_cars_repost_finds_second",),
    ),
    # ------------------------------------------------------------------ idempotency
    Mutant(
        "extract-idempotency-bypassed",
        "idempotency",
        "the extract function no longer goes through powertools idempotency",
        "functions/extract/app.py",
        '@idempotent_function(data_keyword_argument="job", config=idempotency_config, '
        "persistence_store=persistence)\n",
        "",
        (f"{EXTRACT}::test_extract_idempotency_observed",),
    ),
    Mutant(
        "extract-idempotency-key",
        "idempotency",
        "the idempotency key is the whole post instead of its business id channel_id:message_id",
        "functions/extract/app.py",
        'IdempotencyConfig(event_key_jmespath="key"',
        'IdempotencyConfig(event_key_jmespath="post"',
        (f"{EXTRACT}::test_extract_idempotency_observed",),
    ),
    Mutant(
        "extract-post-row-reprocessed",
        "idempotency",
        "a post already decided is processed again (a redelivery after the idempotency record expired)",
        "functions/carsbot/pipeline/extract.py",
        "        if not created and row.status in FINAL_POST:",
        "        if False:",
        (f"{EXTRACT}::test_decided_post_is_not_redone",),
    ),
    # ------------------------------------------------------------------ seller contacts
    Mutant(
        "contacts-mentions",
        "contacts",
        "@usernames in source text are no longer scrubbed from the public post",
        "functions/carsbot/core/formatting.py",
        '    out = _MENTION.sub(" ", out)\n',
        "",
        (f"{FORMATTING}::test_usernames_links_and_emails_never_appear",),
    ),
    Mutant(
        "contacts-known-phones",
        "contacts",
        "the seller's known numbers are not scrubbed in unusual spellings",
        "functions/carsbot/core/formatting.py",
        "for pattern in (*_known_phone_patterns(phones), *_PHONES):",
        "for pattern in _PHONES:",
        (f"{FORMATTING}::test_seller_contacts_scrubbed_any_spelling",),
    ),
    Mutant(
        "contacts-description",
        "contacts",
        "the description is rendered without scrubbing",
        "functions/carsbot/core/formatting.py",
        "description = scrub_contacts(view.description, phones=view.seller_phones, "
        "usernames=view.seller_usernames)",
        'description = view.description or ""',
        (f"{PUBLISH}::test_published_once_when_delivered_twice",),
    ),
    Mutant(
        "contacts-llm-guard",
        "contacts",
        "a phone the LLM invented (not in the text) is kept",
        "functions/carsbot/core/extraction/reconcile.py",
        "        if phone_in_text(phone, text, region):",
        "        if True:",
        (f"{RECONCILE}::test_guard_drops_invented_contacts_prices",),
    ),
    # ------------------------------------------------------------------ payments: once, and only if genuine
    # (credit-once has three independent guards — order still pending, new ledger item, user end as read —
    # and renewals two — one order per user and period, its stored key — so no one-snippet mutant breaks
    # them; each test below guards a single point.)
    Mutant(
        "payment-end-unconditional",
        "payments",
        "the user's new end is written without checking the end that was read (concurrent credits lose days)",
        "functions/carsbot/payments/ledger.py",
        "                    actions=user_actions,\n"
        "                    condition=subscription_unchanged(previous_end),\n",
        "                    actions=user_actions,\n",
        (f"{CALLBACK}::test_two_concurrent_payments_keep_both",),
    ),
    Mutant(
        "payment-extend-from-now",
        "payments",
        "buying while subscribed starts from today instead of the current end (paid days lost)",
        "functions/carsbot/core/subscriptions.py",
        "base = max(now, _utc(current_end)) if current_end is not None else now",
        "base = now",
        (f"{CALLBACK}::test_crediting_extends_from_the_current_end",),
    ),
    Mutant(
        "payment-ip-unchecked",
        "payments",
        "the callback trusts any source IP (the old deployment's hole)",
        "functions/carsbot/payments/callback.py",
        "        if source_ip not in self.trusted:\n",
        "        if False:\n",
        (f"{CALLBACK}::test_forged_source_ip_is_refused_with_403",),
    ),
    Mutant(
        "payment-status-trusted",
        "payments",
        "the notification's claimed status is believed instead of the re-fetched one",
        "functions/carsbot/payments/callback.py",
        'if payment.status != claimed.status or payment.status != claimed.event.removeprefix("payment."):',
        "if False:",
        (f"{CALLBACK}::test_status_mismatch_credits_nothing",),
    ),
    Mutant(
        "payment-amount-unmatched",
        "payments",
        "a payment of another amount than the order's is credited",
        "functions/carsbot/core/payments.py",
        '    if money(amount) != money(expected.amount):\n        return "amount"\n',
        "",
        (f"{CALLBACK}::test_mismatched_payment_credits_nothing",),
    ),
    Mutant(
        "reminder-marker-unconditional",
        "payments",
        "the reminder marker is overwritten instead of claimed (a reminder every hour)",
        "functions/carsbot/payments/lifecycle.py",
        "            marker.save(condition=StateModel.pk.does_not_exist())\n",
        "            marker.save()\n",
        (f"{LIFECYCLE}::test_reminders_once_none_blocked_no_scan",),
    ),
    Mutant(
        "stars-stale-accepted",
        "payments",
        "a stale Stars invoice passes pre-checkout",
        "functions/carsbot/payments/stars.py",
        "    if created is None or now - created > timedelta(minutes=settings.order_reuse_minutes):\n"
        '        return "stale"\n',
        "",
        (f"{CHECKOUT}::test_stars_pre_checkout_stale_rejected",),
    ),
    # ------------------------------------------------------------------ contact reveal: once, within the cap
    Mutant(
        "contact-cap-unconditional",
        "reveal",
        "a new card is counted without checking today's counter (parallel requests pass the cap)",
        "functions/carsbot/bot/contact_log.py",
        "                condition=BotStateModel.counter.does_not_exist()"
        " | (BotStateModel.counter < daily_cap),\n",
        "",
        (
            f"{CONTACTS}::test_parallel_new_cards_stop_at_cap",
            f"{CONTACTS}::test_lost_race_is_decided_again",
        ),
    ),
    Mutant(
        "contact-logged-twice",
        "reveal",
        "the request row is written without attribute_not_exists (one card counted twice)",
        "functions/carsbot/bot/contact_log.py",
        "                condition=ContactRequestModel.listing_id.does_not_exist(),\n",
        "",
        (f"{CONTACTS}::test_parallel_new_cards_stop_at_cap",),
    ),
    Mutant(
        "contact-kept-on-failure",
        "reveal",
        "a card Telegram refused stays counted (the reservation is not released)",
        "functions/carsbot/bot/contact_flow.py",
        "            contact_log.release(int(user.user_id), listing_id, now)\n",
        "            pass\n",
        (f"{CONTACTS}::test_a_card_is_counted_only_if_it_was_sent",),
    ),
    # ------------------------------------------------------------------ monitor: no post lost, one owner
    Mutant(
        "monitor-live-checkpoint-first",
        "monitor",
        "a live post's checkpoint is written before the SQS send (a failed send loses the post)",
        "monitor/carsbot_monitor/live.py",
        "        post = build_post(channel.info, messages, media=media)\n        try:\n",
        "        post = build_post(channel.info, messages, media=media)\n"
        "        await self.checkpoints.advance(channel, high, post.date)\n        try:\n",
        ("tests/monitor/test_checkpoints.py::test_failed_live_send_keeps_checkpoint",),
    ),
    Mutant(
        "monitor-checkpoint-lowered",
        "monitor",
        "a stored checkpoint may move backwards (a late write re-opens what was queued)",
        "functions/carsbot/channels/registry.py",
        "                    | (ChannelModel.last_message_id < message_id)\n",
        "                    | (ChannelModel.last_message_id >= 0)\n",
        ("tests/monitor/test_registry.py::test_registry_public_api",),
    ),
    Mutant(
        "monitor-lease-live-taken",
        "monitor",
        "a contender takes a lease that has not expired (two sessions: AUTH_KEY_DUPLICATED)",
        "monitor/carsbot_monitor/lease.py",
        "            | (StateModel.expires_at < _ts(now))\n",
        "            | (StateModel.expires_at < _ts(now + 3600))\n",
        (
            f"{LEASE}::test_lease_exclusive_renewable_expires",
            f"{LEASE}::test_only_one_connects_other_takes_over",
        ),
    ),
    Mutant(
        "monitor-lease-early-takeover",
        "monitor",
        "the lease is taken over in the last second of its stored expiry (<= instead of <)",
        "monitor/carsbot_monitor/lease.py",
        "            | (StateModel.expires_at < _ts(now))\n",
        "            | (StateModel.expires_at <= _ts(now))\n",
        (f"{LEASE}::test_only_one_connects_other_takes_over",),
    ),
)


# ---------------------------------------------------------------------------------------------- running


@dataclass(frozen=True)
class Result:
    mutant: Mutant
    verdict: str  # caught | missed | stale | error
    seconds: float
    detail: str = ""


def _ignore(_dir: str, names: list[str]) -> set[str]:
    skip = {".git", ".aws-sam", ".mypy_cache", ".ruff_cache", ".pytest_cache", ".hypothesis", "__pycache__"}
    skip.update({".import_linter_cache", "node_modules"})
    return {n for n in names if n in skip or n.startswith(".venv") or n.endswith(".egg-info")}


def make_copy(root: Path, dest: Path, ref: str | None) -> Path:
    """The checkout (working tree, or the commit ``ref``) under ``dest``."""
    target = dest / "checkout"
    if ref is None:
        shutil.copytree(root, target, ignore=_ignore, symlinks=True)
        return target
    git = shutil.which("git") or "git"
    archive = subprocess.run(  # noqa: S603 - git with a ref given by the developer
        [git, "archive", ref], cwd=root, check=True, capture_output=True
    ).stdout
    target.mkdir()
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(target, filter="data")
    return target


def _environment(copy: Path) -> dict[str, str]:
    env = dict(os.environ)
    paths = [str(copy / "functions"), str(copy / "monitor"), str(copy / "dev")]
    env["PYTHONPATH"] = os.pathsep.join([*paths, *filter(None, [env.get("PYTHONPATH")])])
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # a restored file must never meet its mutant's bytecode
    return env


def run_tests(copy: Path, tests: Sequence[str], timeout: float) -> tuple[int, str]:
    command = [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *tests]
    try:
        done = subprocess.run(  # noqa: S603 - our own interpreter running pytest
            command, cwd=copy, env=_environment(copy), capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        return -1, f"timed out after {timeout:.0f} s"
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    return done.returncode, "\n".join(lines[-15:])


def run_mutant(copy: Path, mutant: Mutant, timeout: float) -> Result:
    started = time.monotonic()
    path = copy / mutant.path
    if not path.is_file():
        return Result(mutant, "stale", 0.0, f"{mutant.path} does not exist any more")
    source = path.read_text()
    found = source.count(mutant.original)
    if found != 1:
        where = "is no longer in" if found == 0 else f"occurs {found} times in"
        return Result(mutant, "stale", 0.0, f"the original snippet {where} {mutant.path}")
    mutated = source.replace(mutant.original, mutant.replacement)
    if path.suffix == ".py":
        try:
            compile(mutated, str(path), "exec")
        except SyntaxError as exc:  # a broken row must not pass for a caught mutant
            return Result(mutant, "error", 0.0, f"the mutated file does not compile: {exc}")
    try:
        path.write_text(mutated)
        code, output = run_tests(copy, mutant.tests, timeout)
    finally:
        path.write_text(source)
    seconds = time.monotonic() - started
    if code == 0:
        return Result(mutant, "missed", seconds, "the tests still pass with the guarantee broken")
    if code == 1:
        return Result(mutant, "caught", seconds)
    return Result(mutant, "error", seconds, f"pytest exit status {code}:\n{output}")


def select(names: Iterable[str]) -> list[Mutant]:
    wanted = list(names)
    if not wanted:
        return list(MUTANTS)
    known = {m.name for m in MUTANTS} | {m.group for m in MUTANTS}
    unknown = [n for n in wanted if n not in known]
    if unknown:
        raise SystemExit(f"unknown mutants or groups: {', '.join(unknown)} (see --list)")
    return [m for m in MUTANTS if m.name in wanted or m.group in wanted]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="carsbot-mutants", description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="mutants or groups to run (default: all)")
    parser.add_argument("--list", action="store_true", help="print the table and exit")
    parser.add_argument("--ref", help="mutate this commit (git archive) instead of the working tree")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per test run")
    args = parser.parse_args(argv)
    names = [m.name for m in MUTANTS]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise SystemExit(f"duplicate mutant names: {', '.join(duplicates)}")
    chosen = select(args.names)
    if args.list:
        for m in chosen:
            print(f"{m.name:32} {m.group:12} {m.guarantee}\n{'':45}{m.path}  <- {', '.join(m.tests)}")
        return 0

    root = repo_root()
    with tempfile.TemporaryDirectory(prefix="carsbot-mutants-") as tmp:
        copy = make_copy(root, Path(tmp), args.ref)
        tests = sorted({t for m in chosen for t in m.tests})
        print(
            f"baseline: {len(tests)} tests on the unmutated copy ({args.ref or 'working tree'})", flush=True
        )
        code, output = run_tests(copy, tests, args.timeout * 2)
        if code != 0:
            print(f"baseline FAILED (pytest exit status {code}); fix the tests first:\n{output}")
            return 2
        results = []
        for mutant in chosen:
            result = run_mutant(copy, mutant, args.timeout)
            results.append(result)
            print(
                f"{result.verdict:7} {mutant.name:32} {result.seconds:6.1f} s  {mutant.guarantee}", flush=True
            )
            if result.detail and result.verdict != "caught":
                print("        " + result.detail.replace("\n", "\n        "), flush=True)
    counts = {v: sum(1 for r in results if r.verdict == v) for v in ("caught", "missed", "stale", "error")}
    print(", ".join(f"{n} {v}" for v, n in counts.items()) + f" of {len(results)} mutants")
    return 0 if counts["caught"] == len(results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
