"""``specdiff convert``: any supported checkpoint -> a specdiff model bundle."""

from __future__ import annotations

import argparse

from specdiff.bundle import NAMED_VOCODERS


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "convert",
        help="convert a checkpoint (diffusers layout, hub id, the port's .ckpt) to a specdiff "
             "model bundle",
        description="Read SRC (a diffusers-layout directory such as a snapshot of "
        "google/music-spectrogram-diffusion, a hub id, a specdiff bundle, or a Lightning .ckpt of "
        "the unofficial PyTorch port, read with weights_only=True) and write a bundle: its "
        "weights, model config and synthesis settings in one .safetensors file (OUT.safetensors), "
        "or that file and the vocoder file it names in a folder (any other OUT). A source whose "
        "vocoder is a file (the SoundStream melgan/model.onnx) needs a folder, or --vocoder.",
    )
    parser.add_argument("source", metavar="SRC",
                        help="directory, .safetensors file, hub id or the port's .ckpt")
    parser.add_argument("--port-config", default=None, metavar="CONFIG.yaml",
                        help="the port run's LightningCLI config.yaml (model.init_args); without "
                             "it the sizes come from the tensors, with head width 64")
    parser.add_argument("-o", "--output", required=True, metavar="OUT",
                        help="OUT.safetensors (one file) or a folder (file + vocoder)")
    parser.add_argument("--vocoder", default=None, choices=NAMED_VOCODERS,
                        help="name this vocoder in the bundle instead of the source's")
    parser.add_argument("--local-files-only", action="store_true",
                        help="never download: a hub id must already be in the local cache")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import shutil
    from pathlib import Path

    from specdiff.checkpoints import read_checkpoint, write_specdiff
    from specdiff.errors import SpecdiffError

    checkpoint = read_checkpoint(args.source, local_files_only=args.local_files_only,
                                 port_config=args.port_config)
    if args.vocoder is not None:
        checkpoint.settings = checkpoint.settings.override(vocoder=args.vocoder)
    output = Path(args.output)
    vocoder = checkpoint.vocoder_file()
    checkpoint.provenance = {**checkpoint.provenance, "converted_from": str(args.source)}
    if output.suffix == ".safetensors":
        if vocoder is not None:
            raise SpecdiffError(
                f"{output}: the source's vocoder is the file {vocoder}; write a bundle folder "
                "(-o FOLDER) to keep it, or name another with --vocoder griffin-lim")
        path = write_specdiff(checkpoint, output)
    else:
        output.mkdir(parents=True, exist_ok=True)
        if vocoder is not None:
            name = "vocoder" + vocoder.suffix
            shutil.copyfile(vocoder, output / name)
            checkpoint.settings = checkpoint.settings.override(vocoder=name)
        path = write_specdiff(checkpoint, output / "model.safetensors")
    c = checkpoint.config
    print(f"wrote {path}: {checkpoint.num_parameters:,} parameters, d_model {c.d_model}, "
          f"{c.num_heads}x{c.head_dim} heads, {c.encoder_layers}/{c.decoder_layers} layers, "
          f"{'with' if c.has_context else 'without'} context"
          f"{', autoregressive' if checkpoint.kind == 'autoregressive' else ''}"
          f"{', port numerics' if c.codec == 'port-901' else ''}; vocoder "
          f"{checkpoint.settings.vocoder}")
    return 0
