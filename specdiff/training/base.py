"""What every trained "system" shares: validation/test generation, spectrogram images and audio."""

from __future__ import annotations

from pathlib import Path

import lightning.pytorch as pl
import numpy as np
import torch
from torch import Tensor

from specdiff.audio import unscale_mel


def mel_image(rows: list[tuple[str, Tensor]]) -> np.ndarray:
    """Stacked spectrogram panels (e.g. target above generated) as an (H, W, 3) uint8 image.

    Args:
        rows: (title, (T, n_mels) log-mel) pairs, drawn top to bottom with time on x.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 2.2 * len(rows)), dpi=80)
    canvas = FigureCanvasAgg(fig)
    for i, (title, mel) in enumerate(rows):
        ax = fig.add_subplot(len(rows), 1, i + 1)
        ax.imshow(mel.detach().float().cpu().numpy().T, origin="lower", aspect="auto",
                  cmap="magma", vmin=-11.5, vmax=4.0)
        ax.set_title(title, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


#: init args that only steer evaluation output: left out of the checkpoint's hyperparameters, so
#: that ``specdiff test --ckpt_path ... --model.init_args.test_audio_dir DIR`` keeps the given value
#: (LightningCLI re-applies a checkpoint's hyperparameters over the command line).
EVAL_OPTIONS = ["num_logged", "log_audio", "vocoder", "test_audio_dir"]


class SynthesisModule(pl.LightningModule):
    """Base of the trained systems: subclasses define `generate` (and `training_step` if trainable).

    Validation and test score the generated spectrograms against the targets (``mel_l1``: mean
    absolute difference of natural-log mel, clipped to the scaling range) and, at each validation,
    log the first ``num_logged`` targets and generations as images and audio (TensorBoard) and as
    PNG/WAV files under ``<log_dir>/samples/step_<N>/``. ``specdiff test`` also writes every
    generated segment's audio to ``test_audio_dir`` (when set) as ``<index>.wav``; when the test
    samples carry their true ``audio`` (the cache's test split), also ``reference/<index>.wav``
    and the window's notes as ``midi/<index>.mid``, and at the end of the test it scores them
    (`evaluate_test_audio`: table printed, ``eval.{json,csv,md,png}``, ``test/<metric>`` logged).

    Args:
        num_logged: segments drawn as images / vocoded at each validation (0: none).
        log_audio: vocode them too.
        vocoder: vocoder name or path (``specdiff.vocoders.load_vocoder``).
        test_audio_dir: folder for the test audio (``<index>.wav``), or None.
        seed: seeds generation noise at validation and test (fixed, so runs are comparable).
    """

    def __init__(self, num_logged: int = 2, log_audio: bool = True, vocoder: str = "griffin-lim",
                 test_audio_dir: str | None = None, seed: int = 0):
        super().__init__()
        self.num_logged, self.log_audio, self.vocoder_name = num_logged, log_audio, vocoder
        self.test_audio_dir, self.seed = test_audio_dir, seed
        self._vocoder = None

    # -- to implement --------------------------------------------------------------------------
    def generate(self, batch: dict[str, Tensor], generator: torch.Generator) -> Tensor:
        """Generated spectrograms (B, T, n_mels) in the scaled space [-1, 1]."""
        raise NotImplementedError

    def eval_loss(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor | None:
        """The training objective on a validation batch with fixed noise (None: not trainable)."""
        return None

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        """Record what `specdiff export` needs: the model kind and its JSON config."""
        model = getattr(self, "model", None)
        if model is not None:
            from specdiff.models.autoregressive import AutoregressiveModel

            kind = "autoregressive" if isinstance(model, AutoregressiveModel) else "spectrogram_diffusion"
            checkpoint["specdiff"] = {"kind": kind, "config": model.config.to_json()}

    # -- shared evaluation ---------------------------------------------------------------------
    def _generator(self, batch_idx: int) -> torch.Generator:
        return torch.Generator(device=self.device).manual_seed(self.seed * 1_000_003 + batch_idx)

    def _mel_l1(self, generated: Tensor, target: Tensor) -> Tensor:
        return (unscale_mel(generated.clamp(-1, 1)) - unscale_mel(target)).abs().mean()

    def _vocode(self, mel: Tensor) -> Tensor:
        from specdiff.vocoders import load_vocoder

        if self._vocoder is None:
            self._vocoder = load_vocoder(self.vocoder_name)
        return self._vocoder(mel.float().cpu())

    def validation_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        loss = self.eval_loss(batch, batch_idx)
        if loss is not None:
            self.log("val/loss", loss, prog_bar=True, sync_dist=True,
                     batch_size=batch["target"].shape[0])
        if batch_idx == 0 and self.num_logged > 0 and self.trainer.is_global_zero:
            n = min(self.num_logged, batch["target"].shape[0])
            part = {k: v[:n] for k, v in batch.items()}
            generated = self.generate(part, self._generator(batch_idx))
            self.log("val/mel_l1", self._mel_l1(generated, part["target"]), rank_zero_only=True,
                     batch_size=n)
            self._log_samples(part["target"], generated)

    def on_test_epoch_start(self) -> None:
        self._test_written = self._test_references = 0  # segments written by this process

    def test_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        b = batch["target"].shape[0]
        loss = self.eval_loss(batch, batch_idx)
        if loss is not None:
            self.log("test/loss", loss, sync_dist=True, batch_size=b)
        generated = self.generate(batch, self._generator(batch_idx))
        self.log("test/mel_l1", self._mel_l1(generated, batch["target"]), sync_dist=True,
                 batch_size=b)
        if self.test_audio_dir:
            from specdiff.audio import save_audio

            folder = Path(self.test_audio_dir)
            folder.mkdir(parents=True, exist_ok=True)
            audio = self._vocode(unscale_mel(generated.clamp(-1, 1)))
            rank, world = self.global_rank, self.trainer.world_size
            size = getattr(self.trainer.test_dataloaders, "batch_size", None) or b
            for i in range(b):
                index = (batch_idx * size + i) * world + rank  # the sample's index in the test set
                save_audio(folder / f"{index:06d}.wav", audio[i].numpy())
                self._write_reference(folder, index, {k: v[i] for k, v in batch.items()})
            self._test_written = getattr(self, "_test_written", 0) + b

    # -- evaluation of the test audio (``specdiff.evaluation``) -------------------------------
    def _write_reference(self, folder: Path, index: int, sample: dict[str, Tensor]) -> None:
        """The sample's true audio as ``reference/<index>.wav`` and, when its notes can be found
        (a ``specdiff.data`` window dataset), its notes as ``midi/<index>.mid`` (window time)."""
        from specdiff.audio import HOP_LENGTH, SAMPLE_RATE, save_audio

        if "audio" not in sample:
            return
        wave = sample["audio"].float().cpu().numpy()
        (folder / "reference").mkdir(exist_ok=True)
        save_audio(folder / "reference" / f"{index:06d}.wav", wave)
        self._test_references = getattr(self, "_test_references", 0) + 1
        notes = self._sample_notes(sample)
        if notes is not None:
            from specdiff.evaluation import window_notes_for_eval, write_notes_midi

            start = int(sample["start_frame"]) * HOP_LENGTH / SAMPLE_RATE
            clipped = window_notes_for_eval(notes, start, len(wave) / SAMPLE_RATE)
            write_notes_midi(clipped, folder / "midi" / f"{index:06d}.mid")

    def _sample_notes(self, sample: dict[str, Tensor]):
        """The whole recording's note array of a test sample, or None (no such dataset)."""
        if "recording" not in sample or "start_frame" not in sample:
            return None
        dataset = getattr(getattr(self.trainer, "datamodule", None), "test", None)
        dataset = getattr(dataset, "dataset", dataset)  # a MixtureDataset's windows
        notes = getattr(dataset, "notes", None)
        return notes(int(sample["recording"])) if callable(notes) else None

    def eval_system_name(self) -> str:
        """The row name of this system in the evaluation table."""
        model = getattr(self, "model", None)
        name = {"GroundTruthModule": "ground truth encoded", "DiffusionModule": "diffusion",
                "AutoregressiveModule": "autoregressive"}.get(type(self).__name__,
                                                              type(self).__name__)
        config = getattr(model, "config", None)
        if name == "diffusion" and getattr(config, "has_context", False):
            name += " (context)"
        return name

    def on_test_epoch_end(self) -> None:
        """With ``test_audio_dir`` and reference audio: score every written test segment with
        ``specdiff.evaluation`` (onset F1 by basic-pitch when installed, log-mel L1, MR-STFT, and
        VGGish when ``$SPECDIFF_VGGISH_WEIGHTS`` names weights), log ``test/<metric>``, print the
        table and write ``eval.{json,csv,md,png}`` into ``test_audio_dir``."""
        if not self.test_audio_dir:
            return
        counts = torch.tensor([getattr(self, "_test_written", 0),
                               getattr(self, "_test_references", 0)], device=self.device)
        if self.trainer.world_size > 1:
            counts = self.all_gather(counts).reshape(-1, 2).sum(0)
        total, references = (int(c) for c in counts)
        self.trainer.strategy.barrier()  # every rank's files are written
        metrics: dict[str, float] = {}
        if not references and self.trainer.is_global_zero:
            print(f"{self.test_audio_dir}: the test samples carry no audio (a dataset without it),"
                  " so there is no reference to evaluate the generated audio against")
        if self.trainer.is_global_zero and references:
            report = evaluate_test_audio(Path(self.test_audio_dir), total, self.eval_system_name())
            if report is not None:
                system, reference = (report.metrics[n] for n in report.systems[::-1])
                metrics = {f"test/{k}": float(v) for k, v in system.items()}
                metrics.update({f"test/reference_{k}": float(reference[k])
                                for k in ("onset_f1", "onset_offset_f1") if k in reference})
        if self.trainer.world_size > 1:  # every rank logs the same values (no rank-zero-only logs)
            metrics = self.trainer.strategy.broadcast(metrics, src=0)
        for key, value in metrics.items():
            if np.isfinite(value):
                self.log(key, value, sync_dist=True)

    def _log_samples(self, target: Tensor, generated: Tensor) -> None:
        from specdiff.audio import SAMPLE_RATE, save_audio

        step = self.global_step
        out = None
        if self.trainer.log_dir is not None:
            out = Path(self.trainer.log_dir) / "samples" / f"step_{step:07d}"
            out.mkdir(parents=True, exist_ok=True)
        experiments = [lg.experiment for lg in self.loggers
                       if type(lg).__name__ == "TensorBoardLogger"]
        target_mel, gen_mel = unscale_mel(target.float()), unscale_mel(generated.clamp(-1, 1))
        audio = self._vocode(torch.cat([target_mel, gen_mel])) if self.log_audio else None
        for i in range(target.shape[0]):
            image = mel_image([("target", target_mel[i]), ("generated", gen_mel[i])])
            for ex in experiments:
                ex.add_image(f"samples/{i}", image, step, dataformats="HWC")
            if out is not None:
                import matplotlib.image

                matplotlib.image.imsave(out / f"{i}.png", image)
            if audio is not None:
                pair = {"target": audio[i], "generated": audio[target.shape[0] + i]}
                for name, wave in pair.items():
                    for ex in experiments:
                        ex.add_audio(f"audio/{i}_{name}", wave[None], step, SAMPLE_RATE)
                    if out is not None:
                        save_audio(out / f"{i}_{name}.wav", wave.numpy())


def evaluate_test_audio(folder: Path, count: int, system: str, progress: bool = True):
    """Score ``folder/<index>.wav`` (index < ``count``) against ``folder/reference`` and
    ``folder/midi`` with ``specdiff.evaluation.evaluate_systems``; print the Markdown table and
    write ``eval.json``, ``eval.csv``, ``eval.md`` and ``eval.png`` into ``folder``.

    Returns:
        The ``EvalReport`` (rows: "ground truth", then ``system``), or None when no reference
        audio was written (datasets without raw audio: nothing to score against).
    """
    import importlib.util
    import os

    from specdiff.evaluation import (
        BasicPitchTranscriber,
        EvalOptions,
        VGGishEmbedder,
        evaluate_systems,
    )
    from specdiff.evaluation.vggish import VGGISH_WEIGHTS_ENV

    stems = [f"{i:06d}" for i in range(count)]
    refs = {s: folder / "reference" / f"{s}.wav" for s in stems}
    refs = {s: p for s, p in refs.items() if p.is_file()}
    if not refs:
        return None
    generated = {s: folder / f"{s}.wav" for s in refs}
    midis = {s: folder / "midi" / f"{s}.mid" for s in refs}
    midis = {s: p for s, p in midis.items() if p.is_file()}
    transcriber = None
    if midis and importlib.util.find_spec("basic_pitch") is not None:
        transcriber = BasicPitchTranscriber()
    embedders = []
    if os.environ.get(VGGISH_WEIGHTS_ENV):
        embedders.append(VGGishEmbedder.from_file())
    report = evaluate_systems(
        {system: generated}, refs, midis or None, embedders=embedders, transcriber=transcriber,
        options=EvalOptions(cache_dir=folder / "eval_cache", progress=progress))
    print("\n" + report.to_markdown() + "\n")
    report.write(folder)
    report.plot(folder)
    return report
