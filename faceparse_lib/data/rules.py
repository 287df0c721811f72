"""The course's rule sets as data: the 2022 seed edition and today's challenge (editions of 2025 and 2026).

One place for what each edition hands out and asks: data sizes, whether val has masks, the metric that ranks a
model, the parameter cap, whether pretrained weights are allowed. Torch-free, so every layer can read it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RuleSet:
    """What one edition of the course hands out and asks for."""

    name: str
    title: str
    val_has_masks: bool
    metric: str  # "miou" (mmsegmentation's) or "fscore" (the challenge's per-image F-score)
    max_parameters: int | None  # a model must have fewer than this many parameters (None: no cap)
    pretrained_allowed: bool

    def parameters_problem(self, parameters: int, model: str = "the model") -> str | None:
        """What is wrong with a model of `parameters` under this rule set's cap ("fewer than"), or None."""
        if self.max_parameters is None or parameters < self.max_parameters:
            return None
        return (f"{model} has {parameters:,} parameters; the {self.title} rules ask for fewer than "
                f"{self.max_parameters:,} (sum(p.numel() for p in model.parameters())): over by "
                f"{parameters - self.max_parameters + 1:,}")

    def check_parameters(self, parameters: int, model: str = "the model") -> None:
        """Raise ValueError naming the rule when a model of `parameters` is not under the cap."""
        problem = self.parameters_problem(parameters, model)
        if problem:
            raise ValueError(problem)

    def check_pretrained(self, pretrained: bool, model: str = "the model") -> None:
        """Raise ValueError naming the rule when pretrained weights are not allowed."""
        if pretrained and not self.pretrained_allowed:
            raise ValueError(f"{model} with pretrained=True: the {self.title} rules ask for training from scratch "
                             "(no pretrained weights, no external data)")

    def check_model(self, parameters: int, pretrained: bool, model: str = "the model") -> None:
        """Both checks: the parameter cap, then pretraining."""
        self.check_parameters(parameters, model)
        self.check_pretrained(pretrained, model)


RULE_SETS: dict[str, RuleSet] = {
    "seed": RuleSet(
        name="seed", title="2022 seed-report", val_has_masks=True, metric="miou", max_parameters=None,
        pretrained_allowed=True,
    ),
    "challenge": RuleSet(
        name="challenge", title="2025/2026 challenge", val_has_masks=False, metric="fscore",
        max_parameters=1_821_085, pretrained_allowed=False,
    ),
}
# The one place for the metrics' names: short (axes, columns, file names say the key) and long (headlines).
METRIC_NAMES = {"miou": "mIoU", "fscore": "F-score"}
METRIC_TITLES = {"miou": "mIoU", "fscore": "F-score (per image)"}


def score_headline(scores: dict[str, float], metric: str) -> str:
    """The scores in one line, the rules' `metric` first: "F-score (per image) 0.8123   mIoU 0.7400"."""
    order = [metric] + [m for m in scores if m != metric]
    return "   ".join(f"{METRIC_TITLES.get(m, m)} {scores[m]:.4f}" for m in order if m in scores)


def rule_set(name: str) -> RuleSet:
    """The rule set `name`, or ValueError listing the known ones."""
    try:
        return RULE_SETS[name]
    except KeyError:
        raise ValueError(f"unknown rule set {name!r}; choose from {', '.join(RULE_SETS)}") from None
