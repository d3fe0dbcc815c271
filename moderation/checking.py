"""The one decision path every protocol shares: rules, classifier score and policy."""

from __future__ import annotations

from moderation import policy as policy_module
from moderation import rules
from moderation.domain import Comment, Decision, Score
from moderation.features import TextInput
from moderation.policy import SitePolicy


def text_input(comment: Comment) -> TextInput:
    """The part of a comment the classifier reads."""
    return TextInput(
        content=comment.content, author_name=comment.author_name, author_url=comment.author_url
    )


def judge(comment: Comment, policy: SitePolicy, facts: rules.Facts, score: Score) -> Decision:
    """Run the rules on a comment and combine their hits with the classifier's score."""
    hits = rules.run(comment, policy, facts)
    return policy_module.decide(hits, score, policy, previously_approved=facts.previously_approved)
