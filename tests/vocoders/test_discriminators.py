"""Discriminators and adversarial losses of vocoder training."""

import torch

from specdiff.training.discriminators import (
    DiscriminatorConfig,
    Discriminators,
    PeriodDiscriminator,
    discriminator_loss,
    feature_loss,
    generator_loss,
)

SMALL = DiscriminatorConfig(periods=(2, 320), period_channels=(4, 8),
                            resolutions=((256, 64, 256),), resolution_channels=4)


def test_every_member_scores_any_length_and_returns_its_activations():
    torch.manual_seed(0)
    critics = Discriminators(SMALL)
    assert len(critics.members) == 3
    for samples in (6400, 6401):  # 6401 is no multiple of the periods: padded
        judged = critics(torch.randn(2, samples))
        for score, features in judged:
            assert score.shape[0] == 2 and score.ndim == 2
            assert len(features) >= 2 and torch.equal(features[-1].flatten(1), score)


def test_the_period_view_folds_the_waveform_into_rows():
    # A signal that repeats every 320 samples gives identical rows: every column is constant,
    # so the first layer's activations do not change down the rows (away from the padding).
    member = PeriodDiscriminator(320, (4,))
    frame = torch.randn(320)
    _, features = member(frame.repeat(40)[None])
    inner = features[0][..., 2:-2, :]  # (1, 4, rows, 320)
    assert torch.allclose(inner, inner[..., :1, :].expand_as(inner), atol=1e-5)


def test_hinge_losses():
    def judged(score):
        return [(torch.full((1, 3), score), [torch.zeros(1)])]

    assert float(discriminator_loss(judged(1.0), judged(-1.0))) == 0.0
    assert float(discriminator_loss(judged(0.0), judged(0.0))) == 2.0
    assert float(generator_loss(judged(1.5))) == 0.0 and float(generator_loss(judged(0.0))) == 1.0


def test_feature_matching_pulls_only_the_generated_side():
    real = torch.ones(1, 4, requires_grad=True)
    fake = torch.zeros(1, 4, requires_grad=True)
    loss = feature_loss([(real, [real])], [(fake, [fake])])
    loss.backward()
    assert float(loss.detach()) == 1.0 and real.grad is None and fake.grad.abs().sum() > 0


def test_config_from_yaml_lists():
    config = DiscriminatorConfig.from_dict({"periods": [2, 3], "resolutions": [[512, 128, 512]]})
    assert config.periods == (2, 3) and config.resolutions == ((512, 128, 512),)
