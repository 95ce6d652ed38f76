"""``specdiff synth IN.mid -o OUT.wav``: synthesize a whole MIDI file with a diffusion model."""

from __future__ import annotations

import argparse

MAX_SECONDS = 1800.0  # specdiff.batch.MAX_SECONDS, without importing it for --help
PLAYERS = (("aplay", "-q", "-"), ("paplay",), ("pw-play", "-"),
           ("ffplay", "-nodisp", "-autoexit", "-loglevel", "quiet", "-"), ("play", "-q", "-"))
"""Players that read a WAV stream on stdin, in the order --play tries them."""


def player_command(player: str | None) -> list[str]:
    """The command ``--play`` / ``--player`` runs.

    Raises:
        SpecdiffError: no player found.
    """
    import shlex
    import shutil

    from specdiff.errors import SpecdiffError

    if player is not None:
        return shlex.split(player)
    for command in PLAYERS:
        if shutil.which(command[0]):
            return list(command)
    raise SpecdiffError("--play: no player found (" + ", ".join(p[0] for p in PLAYERS)
                        + "); install one (alsa-utils has aplay), pass --player COMMAND, or "
                        "write a file with -o")

QUALITY_HELP = (
    "draft: half the model's steps (at least 6) with guidance only above noise time 0.1, the "
    "device's fastest precision; default: the model's own settings; best: the paper's 1000 DDPM "
    "steps with guidance at every step, in float32. For the built-in model on this project's "
    "2-core CPU (BENCHMARKS.md): a 60 s piece takes 12 s (draft, 6 steps) or 15 s (default, 10 "
    "steps) including start-up; best runs 2000 network passes a segment against default's 16. "
    "--sampler, --steps, --guidance and --precision override a preset")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "synth", help="synthesize a MIDI file (or a folder of them) to audio (WAV or FLAC)",
        description="Synthesize a whole MIDI file: 5.12 s segments generated in order (each "
                    "conditioned on the previous one when the model has a context encoder), "
                    "vocoded and written as they finish. Outputs are written atomically: an "
                    "interrupted run leaves no file under the output names. Given a folder (or "
                    "a .txt list) of MIDI files, it writes one audio file per MIDI file under "
                    "the output folder, with the same relative names, and a manifest.jsonl "
                    "recording every file (docs/corpus.md).")
    parser.add_argument("midi", metavar="IN",
                        help="a MIDI file, a folder of MIDI files (searched recursively) or a "
                             ".txt file listing MIDI files")
    parser.add_argument("-o", "--output", default=None, metavar="OUT",
                        help="audio file; the format comes from the extension (.wav, .flac, "
                             ".mp3, .ogg); "
                             "'-' streams WAV to stdout as segments finish (e.g. | aplay). For a "
                             "folder or list: the output folder")
    parser.add_argument("--play", action="store_true",
                        help="play while synthesizing, through the first of " + ", ".join(
                            p[0] for p in PLAYERS) + " found (instead of -o)")
    parser.add_argument("--player", default=None, metavar="COMMAND",
                        help="play through this command, which reads a WAV stream on its stdin "
                             "(implies --play), e.g. 'aplay -q -D hw:1'")
    parser.add_argument("--model", default=None,
                        help="a specdiff .safetensors file, a diffusers-layout folder, a hub id or "
                             "a Lightning .ckpt of the unofficial PyTorch port (diffusion or "
                             "autoregressive) (default: the built-in model, which ships with "
                             "specdiff)")
    parser.add_argument("--port-config", default=None, metavar="CONFIG.yaml",
                        help="for a port .ckpt: the run's LightningCLI config.yaml (without it "
                             "the sizes come from the tensors, with head width 64)")
    parser.add_argument("--quality", default="default", choices=("draft", "default", "best"),
                        help=QUALITY_HELP)
    parser.add_argument("--sampler", default=None,
                        help="ddpm, ddim, dpmpp_2m or ddpm_discrete (default: the model's; "
                             "`specdiff info MODEL` shows it)")
    parser.add_argument("--steps", type=int, default=None,
                        help="network evaluations per segment (default: the model's, else the "
                             "sampler's)")
    parser.add_argument("--guidance", type=float, default=None,
                        help="classifier-free guidance weight, 1 = none (default: the model's)")
    parser.add_argument("--precision", default=None,
                        choices=("auto", "fp32", "bf16", "fp16", "int8"),
                        help="the network's arithmetic: auto picks bf16 where the device has "
                             "bf16 matrix instructions, else fp32; int8: dynamic int8 linear "
                             "layers (CPU) (default: the model's)")
    parser.add_argument("--continuation", default=None,
                        choices=("context", "none", "inpaint", "context+inpaint"),
                        help="how each 5.12 s segment follows the one before: the context "
                             "encoder's view of it, nothing, or inpainting (windows overlapping "
                             "the previous one, whose frames are held while the rest is made to "
                             "fit them), or both (default: the model's)")
    parser.add_argument("--overlap", type=int, default=None, metavar="FRAMES",
                        help="frames (20 ms) shared by overlapping windows when inpainting "
                             "(default: the model's)")
    parser.add_argument("--from-mel", default=None, metavar="PREVIOUS.npy",
                        help="with --regenerate: the log-mel of an earlier rendering of this "
                             "piece (its --save-mel)")
    parser.add_argument("--regenerate", default=None, metavar="START:END",
                        help="make only seconds START to END again (e.g. after editing those "
                             "bars), keeping every other frame of --from-mel; save the result's "
                             "mel with --save-mel to edit again")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    parser.add_argument("--vocoder", default=None,
                        help="specdiff (our neural vocoder), griffin-lim, a specdiff vocoder "
                             ".safetensors, a SoundStream .onnx file or a folder with "
                             "melgan/model.onnx (default: the model's)")
    parser.add_argument("--program", default=None, metavar="INSTRUMENT",
                        help="play every pitched part on one instrument: a GM program number "
                             "0-127 or name, e.g. 40 or violin (drums stay drums)")
    parser.add_argument("--program-map", default=None, metavar="OLD:NEW,...",
                        help="re-orchestrate part by part: GM programs or names, 'drums' for the "
                             "kit, e.g. '0:40' (piano plays violin) or '0:flute,drums:marimba'"
                             "; applied before --program")
    parser.add_argument("--part-map", default=None, metavar="PART:INSTRUMENT,...",
                        help="an instrument per part (a MIDI track and channel, numbered as "
                             "`specdiff info song.mid` lists them), e.g. "
                             "'1:violin,2:viola,3:cello'; applied before --program-map")
    parser.add_argument("--device", default=None, help="torch device, e.g. cpu or cuda")
    parser.add_argument("--batch-size", type=int, default=8,
                        help="segments generated together by models without context (default 8)")
    parser.add_argument("--start", type=float, default=None, metavar="SECONDS",
                        help="render from this time of the piece (notes sounding then start "
                             "again there)")
    parser.add_argument("--end", type=float, default=None, metavar="SECONDS",
                        help="render up to this time of the piece")
    parser.add_argument("--sample-rate", type=int, default=None, metavar="HZ",
                        help="resample the output, e.g. 44100 or 48000 for a DAW (default: the "
                             "model's 16000)")
    parser.add_argument("--save-mel", default=None, metavar="FILE.npy",
                        help="also save the generated log-mel, (segments x 256, 128) float32")
    parser.add_argument("--plot", default=None, metavar="FILE.png",
                        help="also draw the generated spectrogram above the input piano roll")
    parser.add_argument("--no-progress", action="store_true",
                        help="no progress bar (it is shown only on a terminal anyway)")
    corpus = parser.add_argument_group("folders and lists of MIDI files")
    corpus.add_argument("--format", default="wav", choices=("wav", "flac", "mp3", "ogg"),
                        help="the outputs' format (default wav)")
    corpus.add_argument("--overwrite", action="store_true",
                        help="make files whose output exists again (default: skip them)")
    corpus.add_argument("--max-seconds", type=float, default=MAX_SECONDS,
                        help="report longer pieces as too long instead of making them "
                             f"(default {MAX_SECONDS:.0f})")
    corpus.add_argument("--devices", type=int, default=None,
                        help="processes per machine (on CPU: processes sharing its cores; with "
                             "--device cuda: GPUs) (default 1, or torchrun's)")
    corpus.add_argument("--num-nodes", type=int, default=None,
                        help="machines, each started by torchrun or SLURM (default 1, or "
                             "torchrun's)")
    parser.set_defaults(func=run)


def _check_choices(args: argparse.Namespace) -> None:
    from specdiff.diffusion import SAMPLERS
    from specdiff.errors import SpecdiffError

    args.play = args.play or args.player is not None
    if args.play == (args.output is not None):
        raise SpecdiffError("give -o OUT (a file, '-' for stdout, or a folder) or --play, "
                            "one of them")

    if args.sampler is not None and args.sampler not in SAMPLERS:
        raise SpecdiffError(f"--sampler {args.sampler}: expected one of {', '.join(SAMPLERS)}")
    if args.steps is not None and args.steps < 1:
        raise SpecdiffError(f"--steps {args.steps}: expected a positive number")
    if args.program is not None:
        from specdiff.instruments import DRUMS, parse_instrument

        args.program = parse_instrument(args.program)
        if args.program == DRUMS:
            raise SpecdiffError("--program drums: pitched parts cannot all become drums; use "
                                "--program-map for single parts")
    if args.program_map is not None:
        from specdiff.instruments import parse_program_map

        args.program_map = parse_program_map(args.program_map)
    if args.part_map is not None:
        from specdiff.instruments import parse_part_map

        args.part_map = parse_part_map(args.part_map)
    if args.sample_rate is not None and not 8000 <= args.sample_rate <= 192_000:
        raise SpecdiffError(f"--sample-rate {args.sample_rate}: expected 8000 to 192000 Hz")
    if args.start is not None and args.start < 0 or (
            args.end is not None and args.end <= (args.start or 0.0)):
        raise SpecdiffError(f"--start {args.start} --end {args.end}: expected 0 <= START < END")
    if (args.regenerate is None) != (args.from_mel is None):
        raise SpecdiffError("--regenerate START:END and --from-mel PREVIOUS.npy go together: "
                            "the range to make again and the rendering it belongs to")
    if args.regenerate is not None:
        start, sep, end = args.regenerate.partition(":")
        try:
            args.regenerate = (float(start), float(end))
        except ValueError:
            sep = ""
        if not sep:
            raise SpecdiffError(f"--regenerate {args.regenerate}: expected START:END in "
                                "seconds, e.g. 12.5:20")
    if args.port_config is not None and (args.model is None
                                         or not str(args.model).endswith(".ckpt")):
        raise SpecdiffError(f"--port-config {args.port_config}: applies to a port .ckpt given "
                            "with --model only")
    if args.batch_size < 1:
        raise SpecdiffError(f"--batch-size {args.batch_size}: expected a positive number")
    if args.plot is not None:
        from pathlib import Path

        if not args.plot.lower().endswith(".png"):
            raise SpecdiffError(f"{args.plot}: the plot is a PNG; expected a .png file name")
        if not Path(args.plot).resolve().parent.is_dir():
            raise SpecdiffError(f"{args.plot}: cannot write, its directory does not exist")


def _plot(notes, mel_path, seconds: float, path: str) -> None:
    import math

    import numpy as np

    from specdiff.audio import HOP_LENGTH, atomic_path
    from specdiff.demo.figure import render_figure

    mel = np.load(mel_path, mmap_mode="r")[: math.ceil(seconds * 16000 / HOP_LENGTH)]
    with atomic_path(path) as tmp:
        render_figure(notes, np.asarray(mel), tmp)


def _load(args: argparse.Namespace, device):
    """The synthesizer the flags name and its settings with the flags' overrides."""
    from specdiff.synthesizer import Synthesizer

    synthesizer = Synthesizer.from_pretrained(args.model, device=device,
                                              port_config=args.port_config, vocoder=args.vocoder,
                                              precision=args.precision, quality=args.quality)
    settings = synthesizer.resolve(sampler=args.sampler, steps=args.steps, guidance=args.guidance,
                                   continuation=args.continuation, overlap=args.overlap)
    return synthesizer, settings


def is_corpus(source: str) -> bool:
    """Whether ``specdiff synth`` was given a folder or a list of MIDI files."""
    import os

    return os.path.isdir(source) or source.lower().endswith(".txt")


def run_corpus(args: argparse.Namespace) -> int:
    """``specdiff synth IN_DIR|LIST.txt -o OUT_DIR``: 0 when every file was made (or was there
    already), 1 when some failed (the manifest says which and why)."""
    import os
    import sys
    from pathlib import Path

    from specdiff.batch import CorpusOptions, launch, synthesize_corpus
    from specdiff.errors import SpecdiffError

    if args.play:
        raise SpecdiffError("--play: applies to one MIDI file, not to a folder or list")
    for flag, value in (("--save-mel", args.save_mel), ("--plot", args.plot),
                        ("--regenerate", args.regenerate), ("--start", args.start),
                        ("--end", args.end)):
        if value is not None:
            raise SpecdiffError(f"{flag}: applies to one MIDI file, not to a folder or list")
    if args.output == "-" or Path(args.output).is_file():
        raise SpecdiffError(f"-o {args.output}: for a folder or list of MIDI files, expected "
                            "an output folder")
    if any(n is not None and n < 1 for n in (args.devices, args.num_nodes)):
        raise SpecdiffError("--devices and --num-nodes: expected positive numbers")
    if os.path.abspath(args.output) == os.path.abspath(args.midi):
        raise SpecdiffError(f"-o {args.output}: the output folder must differ from the input")
    accelerator = "cuda" if str(args.device or "cpu").startswith("cuda") else "cpu"
    engine = launch(args.devices, args.num_nodes, accelerator)
    device = engine.device if accelerator == "cuda" else args.device
    synthesizer, settings = _load(args, device)
    options = CorpusOptions(overwrite=args.overwrite, max_seconds=args.max_seconds,
                            batch_size=args.batch_size, program=args.program,
                            program_map=args.program_map, part_map=args.part_map,
                            sample_rate=args.sample_rate)
    records = synthesize_corpus(synthesizer, args.midi, args.output, suffix=f".{args.format}",
                                seed=args.seed, settings=settings, options=options,
                                model=args.model or "built-in",
                                engine=engine, progress=False if args.no_progress else None)
    if records is None:  # not process 0
        return 0
    failed = [r for r in records if r["status"] == "failed"]
    ready = len(records) - len(failed)
    seconds = sum(r.get("seconds", 0.0) for r in records)
    print(f"{args.output}: {ready} of {len(records)} files ready ({seconds:.0f} s of audio), "
          f"{len(failed)} failed; see {Path(args.output) / 'manifest.jsonl'}")
    for record in failed[:10]:
        print(f"  {record['input']}: {record['error']}", file=sys.stderr)
    if len(failed) > 10:
        print(f"  ... and {len(failed) - 10} more", file=sys.stderr)
    return 1 if failed else 0


def run(args: argparse.Namespace) -> int:
    from specdiff.pipeline import Passage

    _check_choices(args)
    if is_corpus(args.midi):
        return run_corpus(args)
    command = player_command(args.player) if args.play else None
    excerpt = None
    if args.start is not None or args.end is not None:
        excerpt = (args.start or 0.0, args.end)
    passage = None
    if args.regenerate is not None:
        passage = Passage.load(args.from_mel, *args.regenerate)
    synthesizer, settings = _load(args, args.device)
    player = None
    if command is not None:
        import subprocess

        player = subprocess.Popen(command, stdin=subprocess.PIPE)
    try:
        return _synth_one(args, synthesizer, settings, passage, excerpt, player)
    finally:
        if player is not None:
            player.stdin.close()
            player.wait()


def _synth_one(args, synthesizer, settings, passage, excerpt, player) -> int:
    import sys
    import tempfile
    import warnings
    from pathlib import Path

    from specdiff.pipeline import load_notes

    output = player.stdin if player is not None else args.output
    with tempfile.TemporaryDirectory(prefix="specdiff-synth-") as tmp:
        mel_path = args.save_mel
        if mel_path is None and args.plot is not None:
            mel_path = str(Path(tmp) / "mel.npy")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = synthesizer.synthesize_to_file(
                args.midi, output, save_mel=mel_path, settings=settings, seed=args.seed,
                batch_size=args.batch_size, progress=False if args.no_progress else None,
                program=args.program, program_map=args.program_map, passage=passage,
                sample_rate=args.sample_rate, excerpt=excerpt, part_map=args.part_map)
        for warning in caught:
            print(f"specdiff synth: warning: {warning.message}", file=sys.stderr)
        if args.plot is not None:
            from specdiff.instruments import orchestrate

            notes = load_notes(args.midi)
            if excerpt is not None:
                notes = notes.excerpt(*excerpt)
            notes = orchestrate(notes, args.program, args.program_map, args.part_map)
            _plot(notes, result.mel_path, result.seconds, args.plot)
    what = "played" if player is not None else f"wrote {result.path}"
    print(f"{what} ({result.seconds:.2f} s, {result.num_segments} segments)",
          file=sys.stderr if args.output == "-" else sys.stdout)
    return 0
