"""Train specdiff's neural vocoder on rendered audio: plain PyTorch loop, checkpoints, resume.

    python -m specdiff.training.vocoder --config configs/vocoder.yaml --run-dir runs/vocoder \\
        --corpus /work/corpus/rendered

Loss: L1 between official log-mels of output and target (``mel_weight``) plus the
multi-resolution STFT loss (spectral convergence + log-magnitude L1, ``stft_weight``), and, with
``adversarial_weight`` / ``feature_weight`` set, the hinge and feature-matching losses of the
discriminators in ``specdiff.training.discriminators`` (trained alongside). With
``refine_iterations`` set the losses judge the audio after the vocoder's phase refinement. Every
``val_every`` steps the model is scored on fixed validation windows; the best weights are written
as float16 safetensors (``best.safetensors``, the format ``load_vocoder`` reads), the current ones
as ``latest.safetensors``. ``last.pt``
holds model, optimiser, step and RNG state; running the same command again resumes from it.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import time
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

import numpy as np
import torch

from specdiff.audio.mel import HOP_LENGTH, log_mel
from specdiff.evaluation.spectral import MRSTFT_RESOLUTIONS
from specdiff.training.discriminators import Critic, DiscriminatorConfig
from specdiff.vocoders.griffin_lim import refine_phase
from specdiff.vocoders.neural import NeuralVocoderConfig, VocosNet, save_neural_vocoder


def _yaml_value(text: str):
    """``text`` read as YAML, except that ``1e-4`` is a number (YAML 1.1 wants ``1.0e-4``)."""
    import yaml

    value = yaml.safe_load(text)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    return value


@dataclass(frozen=True)
class VocoderTrainConfig:
    """Hyper-parameters of ``train``. ``model`` holds the ``NeuralVocoderConfig`` fields."""

    model: dict = field(default_factory=dict)
    segment_frames: int = 64
    batch_size: int = 16
    lr: float = 5e-4
    betas: tuple[float, float] = (0.8, 0.9)
    weight_decay: float = 0.01
    warmup_steps: int = 500
    max_steps: int = 200_000
    mel_weight: float = 1.0
    stft_weight: float = 1.0
    phase_weight: float = 0.0
    audio_phase_weight: float = 0.0
    audio_phase_resolution: tuple[int, int, int] = (1024, 80, 640)
    # Train the vocoder as it runs: the losses judge the network's audio after this many
    # ``refine_phase`` steps (0: the network's own audio). Validation scores the same output.
    refine_iterations: int = 0
    # Adversarial training (off while both weights are 0): the DiscriminatorConfig fields, the
    # generator's weights on the hinge and feature-matching losses, the discriminators' own
    # learning rate (default: lr) and the step from which the generator uses them (the
    # discriminators train from the first step, so a trained vocoder meets informed critics).
    discriminator: dict = field(default_factory=dict)
    adversarial_weight: float = 0.0
    feature_weight: float = 0.0
    disc_lr: float | None = None
    adversarial_start: int = 0
    # Training-loss resolutions (n_fft, hop, window); validation uses the benchmark's set.
    stft_resolutions: tuple[tuple[int, int, int], ...] = (
        (512, 128, 512), (1024, 256, 1024), (2048, 512, 2048))
    min_rms: float = 1e-3
    val_windows: int = 32
    val_frames: int = 128
    log_every: int = 50
    val_every: int = 500
    checkpoint_every: int = 250
    threads: int = 1
    seed: int = 0

    @classmethod
    def from_yaml(cls, path: str | Path | None = None,
                  overrides: list[str] | tuple[str, ...] = ()) -> VocoderTrainConfig:
        """The fields of the YAML file at ``path`` (none: the defaults), then ``overrides``:
        ``KEY=VALUE`` strings whose value is read as YAML (``lr=1e-4``, ``model.phase=recurrent``,
        ``discriminator.periods=[2, 3]``)."""
        import yaml

        data = (yaml.safe_load(Path(path).read_text()) or {}) if path is not None else {}
        for item in overrides:
            key, sep, value = item.partition("=")
            if not sep:
                raise ValueError(f"--set {item!r}: expected KEY=VALUE")
            target, _, leaf = key.rpartition(".")
            if target not in ("", "model", "discriminator"):
                raise ValueError(f"--set {item!r}: only model.* and discriminator.* fields nest")
            node = data.setdefault(target, {}) if target else data
            node[leaf] = _yaml_value(value)
        unknown = sorted(set(data) - {f.name for f in fields(cls)})
        if unknown:
            raise ValueError(f"{path or '--set'}: unknown keys {unknown}")
        for name in ("betas", "audio_phase_resolution"):
            if name in data:
                data[name] = tuple(data[name])
        if "stft_resolutions" in data:
            data["stft_resolutions"] = tuple(tuple(r) for r in data["stft_resolutions"])
        return cls(**data)

    @property
    def adversarial(self) -> bool:
        return bool(self.adversarial_weight or self.feature_weight)


def stft_loss(pred: torch.Tensor, target: torch.Tensor,
              resolutions=MRSTFT_RESOLUTIONS) -> torch.Tensor:
    """Multi-resolution STFT loss of (B, n) signals: mean over resolutions of spectral
    convergence + log-magnitude L1."""
    total = pred.new_zeros(())
    for n_fft, hop, win in resolutions:
        window = torch.hann_window(win, device=pred.device)
        mags = [torch.stft(x, n_fft, hop, win, window, center=True, return_complex=True)
                .abs().clamp_min(1e-7) for x in (pred, target)]  # (B, F, T') each
        sc = torch.linalg.norm(mags[1] - mags[0]) / torch.linalg.norm(mags[1]).clamp_min(1e-7)
        total = total + sc + (mags[1].log() - mags[0].log()).abs().mean()
    return total / len(resolutions)


def phase_difference_loss(pred: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """How far the phase differences of complex STFT frames ``pred`` (B, F, T) are from those of
    ``reference`` (the same shape and framing).

    Per pair of neighbouring frames (instantaneous frequency) and of neighbouring bins (group
    delay: where in the frame the energy sits, what makes an attack sharp) the loss is 1 - cos
    of the difference between predicted and reference phase differences, averaged with weights
    sqrt(|R_1 R_2|) of the reference, so silent bins do not count. Absolute phase, which the mel
    does not determine, is not compared.
    """

    def pairs(a0, a1, b0, b1) -> torch.Tensor:
        dp, dr = a1 * a0.conj(), b1 * b0.conj()
        cos = (dp * dr.conj()).real / (dp.abs() * dr.abs() + 1e-9)
        weight = dr.abs().sqrt()
        return (weight * (1 - cos)).sum() / weight.sum().clamp_min(1e-9)

    along_time = pairs(pred[..., :-1], pred[..., 1:], reference[..., :-1], reference[..., 1:])
    along_bins = pairs(pred[:, :-1], pred[:, 1:], reference[:, :-1], reference[:, 1:])
    return along_time + along_bins


def phase_loss(spec: torch.Tensor, target: torch.Tensor, n_fft: int,
               hop: int = HOP_LENGTH) -> torch.Tensor:
    """``phase_difference_loss`` of a ``VocosNet``'s predicted frames against the target audio.

    ``spec`` (B, F, T + 2) are the frames (frame j centred on sample ``hop * j``), ``target``
    (B, T * hop) the audio they should make; its STFT with the same framing is the reference.
    The edge frames are left out.
    """
    window = torch.hann_window(n_fft, device=target.device)
    reference = torch.stft(target, n_fft, hop, n_fft, window, center=True,
                           return_complex=True)  # (B, F, T + 1)
    frames = min(spec.shape[-1], reference.shape[-1]) - 1
    return phase_difference_loss(spec[..., 1:frames], reference[..., 1:frames])


def audio_phase_loss(pred: torch.Tensor, target: torch.Tensor,
                     resolution: tuple[int, int, int] = (1024, 80, 640)) -> torch.Tensor:
    """``phase_difference_loss`` of the output audio itself: (B, n) signals analysed with one
    (n_fft, hop, window) STFT, finer than the vocoder's own frames by default, so it judges the
    phase that overlap-add actually produced."""
    n_fft, hop, win = resolution
    window = torch.hann_window(win, device=pred.device)
    specs = [torch.stft(x, n_fft, hop, win, window, center=True, return_complex=True)
             for x in (pred, target)]
    return phase_difference_loss(specs[0][..., 1:-1], specs[1][..., 1:-1])


def mel_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """L1 between the official log-mels of (B, n) signals."""
    return (log_mel(pred) - log_mel(target)).abs().mean()


class AudioPool:
    """Every file of one split of ``specdiff render`` corpora, held in memory as int16.

    Args:
        roots: corpus folders with ``manifest.jsonl``.
        split: "train", "validation" or "test".
    """

    def __init__(self, roots: list[str | Path], split: str):
        import soundfile as sf

        self.audio: list[np.ndarray] = []
        self.names: list[str] = []
        for root in map(Path, roots):
            for line in (root / "manifest.jsonl").read_text().splitlines():
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue
                path = root / entry["audio"]
                if entry["split"] != split or not path.is_file():
                    continue
                self.audio.append(sf.read(str(path), dtype="int16")[0])
                self.names.append(entry["id"])
        if not self.audio:
            raise ValueError(f"no {split} audio in {[str(r) for r in roots]}")
        lengths = np.array([len(a) for a in self.audio], float)
        self.weights = lengths / lengths.sum()

    @property
    def hours(self) -> float:
        return sum(len(a) for a in self.audio) / 16000 / 3600

    def window(self, samples: int, rng: np.random.Generator, min_rms: float,
               tries: int = 8) -> np.ndarray:
        """A random (samples,) float32 window (zero padded if the file is shorter), preferring
        windows louder than ``min_rms``."""
        for _ in range(tries):
            audio = self.audio[rng.choice(len(self.audio), p=self.weights)]
            start = int(rng.integers(0, max(1, len(audio) - samples + 1)))
            chunk = audio[start : start + samples].astype(np.float32) / 32768.0
            chunk = np.pad(chunk, (0, samples - len(chunk)))
            if np.sqrt(np.mean(chunk**2)) >= min_rms:
                break
        return chunk


def make_batch(pool: AudioPool, frames: int, batch: int, rng: np.random.Generator,
               min_rms: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(mel (B, frames, 128), audio (B, frames * 320)).

    The mel is taken from ``frames + 1`` frames of audio so that the last frame sees real signal
    (as inside a long file), then cut to ``frames``.
    """
    chunks = np.stack([pool.window((frames + 1) * HOP_LENGTH, rng, min_rms)
                       for _ in range(batch)])
    audio = torch.from_numpy(chunks)
    mel = log_mel(audio)[:, :frames]  # (B, frames, 128)
    return mel, audio[:, : frames * HOP_LENGTH]


def lr_at(step: int, config: VocoderTrainConfig) -> float:
    """Linear warm-up then cosine decay to 10 % of ``lr`` at ``max_steps``."""
    if step < config.warmup_steps:
        return config.lr * (step + 1) / config.warmup_steps
    progress = min(1.0, (step - config.warmup_steps) / max(1, config.max_steps
                                                              - config.warmup_steps))
    return config.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def generate(net: VocosNet, mel: torch.Tensor, refine_iterations: int = 0) -> torch.Tensor:
    """(B, T, 128) log-mel -> (B, T * 320) audio: the network, then ``refine_phase``."""
    audio = net(mel)
    return refine_phase(audio, mel, refine_iterations) if refine_iterations else audio


@torch.no_grad()
def evaluate(net: VocosNet, batches: list[tuple[torch.Tensor, torch.Tensor]],
             refine_iterations: int = 0) -> dict:
    """Mean mel L1 and MR-STFT loss of ``net`` (then ``refine_iterations`` refinement steps)
    over fixed validation batches."""
    net.eval()
    mel_l1, stft = [], []
    for mel, audio in batches:
        pred = generate(net, mel, refine_iterations)
        mel_l1.append(float(mel_loss(pred, audio)))
        stft.append(float(stft_loss(pred, audio)))
    net.train()
    return {"val_mel_l1": float(np.mean(mel_l1)), "val_mrstft": float(np.mean(stft))}


@torch.no_grad()
def griffin_lim_baseline(batches: list[tuple[torch.Tensor, torch.Tensor]]) -> dict:
    """The same validation scores for Griffin-Lim (the bar the vocoder must clear)."""
    from specdiff.vocoders.griffin_lim import GriffinLim

    gl = GriffinLim()
    outputs = [(gl(mel), audio) for mel, audio in batches]
    mel_l1 = [float(mel_loss(pred, audio)) for pred, audio in outputs]
    stft = [float(stft_loss(pred, audio)) for pred, audio in outputs]
    return {"val_mel_l1": float(np.mean(mel_l1)), "val_mrstft": float(np.mean(stft))}


def transfer_weights(source: VocosNet, target: VocosNet) -> int:
    """Copy ``source``'s weights into ``target``; returns how many tensors were copied whole.

    The networks may differ in their kind of phase: then everything but the head is copied,
    and the head's log-magnitude rows (the first ``n_fft // 2 + 1``), so a recurrent-phase
    vocoder starts from a trained frame-phase one with its magnitudes already learned.
    """
    state, mine = source.state_dict(), target.state_dict()
    copied = 0
    with torch.no_grad():
        for name, value in mine.items():
            if state[name].shape == value.shape:
                value.copy_(state[name])
                copied += 1
            elif name in ("head.weight", "head.bias"):
                bins = target.config.n_fft // 2 + 1
                value[:bins].copy_(state[name][:bins])
    return copied


def _save_last(path: Path, net, opt, step: int, best: float, rng: np.random.Generator,
               config: VocoderTrainConfig, critic: Critic | None = None) -> None:
    state = {"model": net.state_dict(), "optimizer": opt.state_dict(), "step": step,
             "best": best, "rng": json.dumps(rng.bit_generator.state),
             "torch_rng": torch.get_rng_state(), "config": json.dumps(asdict(config)),
             **(critic.state_dict() if critic is not None else {})}
    tmp = path.with_name(path.name + ".partial")
    torch.save(state, tmp)
    tmp.replace(path)


def train(config: VocoderTrainConfig, corpora: list[str | Path], run_dir: str | Path,
          max_steps: int | None = None, log=print, init: str | Path | None = None) -> dict:
    """Train (or resume) in ``run_dir``; stops at ``max_steps`` (default ``config.max_steps``).

    Without ``run_dir/last.pt``, ``init`` (a vocoder ``.safetensors``, e.g. the shipped asset)
    gives the starting weights; its config must match ``config.model``. Step count, optimiser
    and best score then start afresh.

    Returns:
        the last validation record (``val_mel_l1``, ``val_mrstft``, ``step``...).
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    net = VocosNet(NeuralVocoderConfig(**config.model))
    opt = torch.optim.AdamW(net.parameters(), lr=config.lr, betas=config.betas,
                            weight_decay=config.weight_decay)
    critic = None
    if config.adversarial:
        critic = Critic(DiscriminatorConfig.from_dict(config.discriminator),
                        lr=config.disc_lr or config.lr, betas=config.betas,
                        weight_decay=config.weight_decay)
    rng = np.random.default_rng(config.seed)
    step, best = 0, float("inf")
    last = run_dir / "last.pt"
    if last.is_file():
        state = torch.load(last, map_location="cpu", weights_only=True)
        net.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        if critic is not None and "discriminator" in state:
            critic.load_state_dict(state)
        step, best = int(state["step"]), float(state["best"])
        rng.bit_generator.state = json.loads(state["rng"])
        torch.set_rng_state(state["torch_rng"])
        log(f"resumed from {last} at step {step} (best val mel L1 {best:.4f})")
    elif init is not None:
        from specdiff.vocoders.neural import read_neural_vocoder

        start_net, meta = read_neural_vocoder(init)
        if replace(start_net.config, phase=net.config.phase) != net.config:
            raise ValueError(f"{init}: config {start_net.config} differs from {net.config}")
        copied = transfer_weights(start_net, net)
        log(f"initialised from {init} (its step {meta.get('step', '?')}; "
            f"{copied} of {len(net.state_dict())} tensors whole)")
    train_pool = AudioPool(corpora, "train")
    val_pool = AudioPool(corpora, "validation")
    val_rng = np.random.default_rng(1234)  # fixed validation windows across runs
    val_batches = [make_batch(val_pool, config.val_frames, 8, val_rng, config.min_rms)
                   for _ in range(max(1, config.val_windows // 8))]
    params = sum(p.numel() for p in net.parameters())
    critic_params = "" if critic is None else (
        f" (+{sum(p.numel() for p in critic.net.parameters()) / 1e6:.2f}M in discriminators)")
    log(f"{params / 1e6:.2f}M params{critic_params}; train {len(train_pool.audio)} files "
        f"{train_pool.hours:.2f} h; validation {len(val_pool.audio)} files")
    # The validation windows depend on the validation files: recompute the bar when they change.
    baseline_file = run_dir / "griffin_lim_val.json"
    baseline = json.loads(baseline_file.read_text()) if baseline_file.is_file() else {}
    if baseline.get("files") != val_pool.names:
        baseline = {**griffin_lim_baseline(val_batches), "files": val_pool.names}
        baseline_file.write_text(json.dumps(baseline) + "\n")
    log(f"griffin-lim on validation: mel L1 {baseline['val_mel_l1']:.4f}, "
        f"MR-STFT {baseline['val_mrstft']:.4f}")
    stop = config.max_steps if max_steps is None else max_steps
    record: dict = {}
    with (run_dir / "log.jsonl").open("a") as log_file:
        net.train()
        start, seen = time.time(), 0
        while step < stop:
            for group in opt.param_groups:
                group["lr"] = lr_at(step, config)
            if critic is not None:  # the same schedule, scaled to the discriminators' rate
                critic.set_lr((config.disc_lr or config.lr) * lr_at(step, config) / config.lr)
            mel, audio = make_batch(train_pool, config.segment_frames, config.batch_size, rng,
                                    config.min_rms)
            spec, _ = net.spectrum(mel)
            pred = net.istft(spec, mel.shape[1])
            if config.refine_iterations:
                pred = refine_phase(pred, mel, config.refine_iterations)
            l_mel, l_stft = mel_loss(pred, audio), stft_loss(pred, audio,
                                                             config.stft_resolutions)
            loss = config.mel_weight * l_mel + config.stft_weight * l_stft
            l_phase = torch.zeros(())
            if config.phase_weight:
                l_phase = config.phase_weight * phase_loss(spec, audio, net.config.n_fft)
            if config.audio_phase_weight:
                l_phase = l_phase + config.audio_phase_weight * audio_phase_loss(
                    pred, audio, config.audio_phase_resolution)
            loss = loss + l_phase
            l_disc = l_adv = l_feat = torch.zeros(())
            if critic is not None:
                l_disc = critic.update(audio, pred)
                if step >= config.adversarial_start:
                    l_adv, l_feat = critic.generator_terms(audio, pred)
                    loss = loss + config.adversarial_weight * l_adv \
                        + config.feature_weight * l_feat
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 10.0)
            opt.step()
            step += 1
            seen += 1
            if step % config.log_every == 0:
                record = {"step": step, "loss": loss.item(), "mel_l1": l_mel.item(),
                          "mrstft": l_stft.item(), "phase": l_phase.item(),
                          "disc": l_disc.item(), "adv": l_adv.item(),
                          "feat": l_feat.item(), "lr": lr_at(step, config),
                          "s_per_step": (time.time() - start) / seen, "time": time.time()}
                log(json.dumps(record))
                log_file.write(json.dumps(record) + "\n")
                log_file.flush()
            if step % config.val_every == 0 or step == stop:
                record = {"step": step, **evaluate(net, val_batches, config.refine_iterations),
                          "time": time.time()}
                save_neural_vocoder(net, run_dir / "latest.safetensors",
                                    metadata={"step": str(step)})
                if record["val_mel_l1"] < best:
                    best = record["val_mel_l1"]
                    save_neural_vocoder(net, run_dir / "best.safetensors",
                                        metadata={"step": str(step),
                                                  "val_mel_l1": f"{best:.5f}"})
                    record["best"] = True
                log(json.dumps(record))
                log_file.write(json.dumps(record) + "\n")
                log_file.flush()
            if step % config.checkpoint_every == 0 or step == stop:
                _save_last(last, net, opt, step, best, rng, config, critic)
    return record


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Train specdiff's neural vocoder (resumable).")
    p.add_argument("--config", default=None, help="YAML with VocoderTrainConfig fields")
    p.add_argument("--corpus", action="append", required=True,
                   help="a `specdiff render` corpus folder (repeatable)")
    p.add_argument("--run-dir", required=True, help="logs, last.pt, best.safetensors")
    p.add_argument("--max-steps", type=int, default=None)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--init", default=None,
                   help="starting weights when RUN/last.pt is absent (e.g. "
                   "specdiff/assets/vocoder.safetensors)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config field, value read as YAML (repeatable): "
                   "--set lr=1e-4 --set model.phase=recurrent")
    args = p.parse_args(argv)
    config = VocoderTrainConfig.from_yaml(args.config, args.set)
    if args.threads:
        config = replace(config, threads=args.threads)
    random.seed(config.seed)
    train(config, args.corpus, args.run_dir, args.max_steps,
          log=lambda text: print(text, flush=True), init=args.init)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
