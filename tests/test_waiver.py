"""A wipe below the policy's level: refused, until a lead records a waiver (issue 4 item 1)."""

import json

from refurb import services


def _hdd_device(ctx, home, level="purge"):
    (home / "config.toml").write_text(f'[policy.min_level]\nhdd = "{level}"\n', encoding="utf-8")
    services.add_donor(ctx, "Acme NV")
    services.add_batch(ctx, "Acme NV", "B1")
    tag = services.register_device(ctx, "B1", "laptop", "HP", "ProBook 450 G2", "CND4286ZJ2")["tag"]
    services.add_medium(ctx, tag, "hdd", "S3P9A80F", 500107862016)
    return tag


def test_a_clear_wipe_under_a_purge_policy_needs_a_leads_waiver(cli, ctx, home):
    tag = _hdd_device(ctx, home)
    r = cli("wipe", "record", tag, "--medium", "S3P9A80F", "--profile", "hdd-overwrite", "--result", "pass", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["state"] == "wiping"  # reached clear; the policy asks purge
    services.add_digipunt(ctx, "Gent-Zuid")
    refused = cli("allocate", tag, "--digipunt", "Gent-Zuid")
    assert refused.exit_code == 4
    assert "reached clear; the policy asks purge" in refused.stderr
    assert f"refurb wipe waive {tag} --medium S3P9A80F" in refused.stderr

    services.add_operator(ctx, "Jonas", "volunteer")
    volunteer = cli("wipe", "waive", tag, "--medium", "S3P9A80F", "--reason", "x", "--operator", "Jonas")
    assert volunteer.exit_code == 1 and "needs a lead" in volunteer.stderr
    assert services.show(ctx, tag)["state"] == "wiping"

    r = cli("wipe", "waive", tag, "--medium", "S3P9A80F", "--reason", "donor accepts Clear for HDDs", "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert (out["state"], out["level"], out["policy_level"]) == ("wiped", "clear", "purge")
    assert [e["action"] for e in out["events"]] == ["wipe_waived", "finish_wipe"]
    again = json.loads(cli("wipe", "waive", tag, "--medium", "S3P9A80F", "--reason", "again", "--json").stdout)
    assert again["noop"] is True
    assert services.verify_audit(ctx).ok


def test_a_waiver_never_covers_a_failed_or_unverified_wipe(cli, ctx, home):
    tag = _hdd_device(ctx, home)
    cli("wipe", "record", tag, "--medium", "S3P9A80F", "--profile", "hdd-overwrite", "--result", "pass", "--unverified")
    r = cli("wipe", "waive", tag, "--medium", "S3P9A80F", "--reason", "please")
    assert r.exit_code == 4 and "no passing, verified wipe" in r.stderr
    assert services.show(ctx, tag)["state"] == "wiping"


def test_the_waiver_covers_the_wipe_it_names_only(ctx, home):
    """A later wipe of the same medium (a new cycle, another run) is judged afresh."""
    from dataclasses import replace

    from refurb import lifecycle

    tag = _hdd_device(ctx, home)
    ctx.settings = ctx.settings.with_options(min_level={**ctx.settings.min_level, "hdd": "purge"})
    services.record_wipe(ctx, tag, "S3P9A80F", "hdd-overwrite", "pass")
    services.waive_wipe(ctx, tag, "S3P9A80F", "accepted")
    with services.reading(ctx) as s:
        facts = services.facts_for(s, services.resolve(s, tag), ctx)
    assert lifecycle.WIPE_VERIFIED.failures(facts) == []
    newer = replace(facts, wipes=tuple(replace(w, event_id=w.event_id + 100) for w in facts.wipes))
    assert [f.guard for f in lifecycle.WIPE_VERIFIED.failures(newer)] == ["wipe_verified"]
