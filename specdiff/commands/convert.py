"""``specdiff convert``: any supported checkpoint -> specdiff's single-file safetensors format."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "convert",
        help="convert a checkpoint (diffusers layout, hub id, the port's .ckpt) to one specdiff "
             ".safetensors file",
        description="Read SRC (a diffusers-layout directory such as a snapshot of "
        "google/music-spectrogram-diffusion, a hub id, a specdiff .safetensors file, or a "
        "Lightning .ckpt of the unofficial PyTorch port, read with weights_only=True) and write "
        "its weights with the model config in the safetensors metadata. The SoundStream vocoder "
        "(melgan/model.onnx) is not part of the output; its path is printed.",
    )
    parser.add_argument("source", metavar="SRC",
                        help="directory, .safetensors file, hub id or the port's .ckpt")
    parser.add_argument("--port-config", default=None, metavar="CONFIG.yaml",
                        help="the port run's LightningCLI config.yaml (model.init_args); without "
                             "it the sizes come from the tensors, with head width 64")
    parser.add_argument("-o", "--output", required=True, metavar="OUT.safetensors")
    parser.add_argument("--local-files-only", action="store_true",
                        help="never download: a hub id must already be in the local cache")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from specdiff.checkpoints import load_any

    model = load_any(args.source, port_config=args.port_config,
                     local_files_only=args.local_files_only)
    path = model.save_pretrained(args.output)
    params = sum(p.numel() for p in model.parameters())
    c = model.config
    print(f"wrote {path}: {params:,} parameters, d_model {c.d_model}, "
          f"{c.num_heads}x{c.head_dim} heads, {c.encoder_layers}/{c.decoder_layers} layers, "
          f"{'with' if c.has_context else 'without'} context"
          f"{', autoregressive' if not hasattr(model, 'vocoder_path') else ''}"
          f"{', port numerics' if c.codec == 'port-901' else ''}")
    if getattr(model, "vocoder_path", None) is not None:
        print(f"vocoder (not converted): {model.vocoder_path}")
    return 0
