"""Property tests for `zonewall fmt` (black's fuzz pattern: idempotent and equivalent).

Random valid policies, in any statement order and layout (`;`, trailing comments, comment
lines, blank lines, statements spread over several lines), format to a fixed point that keeps
every comment in order and parses to the same policy (assertion texts included).
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from strategies import PolicySpec, policies

from policy_text import plain_comments
from zonewall.dsl.parser import parse_text
from zonewall.dsl.printer import format_policy

# Generating a policy draws a few hundred choices and each example parses it six times.
SLOW_OK = settings(
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large], max_examples=40
)


@SLOW_OK
@given(policies(shuffled=True))
def test_fmt_is_idempotent_and_keeps_the_policy(spec: PolicySpec) -> None:
    text = spec.text()
    once = format_policy(text, "p.zw")
    assert format_policy(once, "p.zw") == once
    assert plain_comments(once) == plain_comments(text)
    before, after = parse_text(text, "p.zw").policy, parse_text(once, "p.zw").policy
    assert after == before and after.pools_key() == before.pools_key()
    assert [a.text for a in after.assertions] == [a.text for a in before.assertions]
