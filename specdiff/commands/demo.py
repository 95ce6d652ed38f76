"""``specdiff demo``: the local web studio (upload MIDI, choose instruments, listen and look)."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="start the local web studio (needs the 'demo' extra: gradio)",
        description="Start a local web app: upload a MIDI file, re-assign instruments, render "
        "with a spectrogram diffusion model, listen, download, and see the spectrogram above "
        "the piano roll. Serves on 127.0.0.1 unless --host says otherwise.",
    )
    parser.add_argument("--model", default=None,
                        help="checkpoint directory/file or hub id (default: the built-in model)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to bind (default 127.0.0.1: this machine only)")
    parser.add_argument("--port", type=int, default=7860, help="port (default 7860)")
    parser.add_argument("--vocoder", default=None, help="vocoder name (default: the pipeline's)")
    parser.add_argument("--device", default=None, help="torch device, e.g. cpu or cuda")
    parser.add_argument("--max-upload-mb", type=float, default=1.0,
                        help="largest MIDI upload in MiB (default 1)")
    parser.add_argument("--max-duration", type=float, default=120.0,
                        help="longest piece in seconds (default 120)")
    parser.add_argument("--max-steps", type=int, default=1000,
                        help="most sampler steps a request may ask for (default 1000)")
    parser.add_argument("--max-queue", type=int, default=8,
                        help="renders that may wait in the queue (default 8)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from specdiff.demo.app import import_gradio, launch
    from specdiff.demo.limits import DemoLimits
    from specdiff.errors import SpecdiffError

    for name, value in (("--max-upload-mb", args.max_upload_mb), ("--max-duration", args.max_duration),
                        ("--max-steps", args.max_steps), ("--max-queue", args.max_queue)):
        if value <= 0:
            raise SpecdiffError(f"{name}: expected a positive number, got {value}")
    if not 0 <= args.port <= 65535:
        raise SpecdiffError(f"--port: expected 0..65535, got {args.port}")
    import_gradio()  # fail fast, with the install hint, before loading any model
    limits = DemoLimits(
        max_upload_bytes=int(args.max_upload_mb * 2**20),
        max_duration_s=args.max_duration,
        max_steps=args.max_steps,
        max_queue=args.max_queue,
    )
    launch(args.model, host=args.host, port=args.port, limits=limits, vocoder=args.vocoder,
           device=args.device, block=True)
    return 0
