"""``specdiff export CKPT -o model.safetensors``: EMA weights of a training checkpoint, as a bundle."""

from __future__ import annotations


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "export", help="write a training checkpoint's EMA weights as a specdiff .safetensors model",
        description="Write the EMA weights of a `specdiff fit` checkpoint (.ckpt) with their config "
                    "as one .safetensors file, which `specdiff synth --model` and "
                    "SpectrogramDiffusion.from_pretrained load.")
    parser.add_argument("checkpoint", help="Lightning checkpoint written by `specdiff fit`")
    parser.add_argument("-o", "--output", required=True, help="output .safetensors file")
    parser.add_argument("--no-ema", action="store_true",
                        help="export the raw trained weights instead of their moving average")
    parser.add_argument("--dtype", choices=("float32", "float16", "bfloat16"), default="float32",
                        help="storage type of the weights (float16 halves the file; they load "
                             "back as float32) (default: float32)")
    parser.add_argument("--settings-from", default=None, metavar="BUNDLE",
                        help="copy the synthesis settings (vocoder, sampler, guidance, stages) "
                             "of this bundle, e.g. specdiff/assets/default_model.safetensors "
                             "(default: the official path's)")
    parser.set_defaults(func=run)


def run(args) -> int:
    import torch

    from specdiff.checkpoints import read_checkpoint
    from specdiff.training.export import export_checkpoint

    settings = None
    if args.settings_from is not None:
        settings = read_checkpoint(args.settings_from).settings
    model = export_checkpoint(args.checkpoint, args.output, use_ema=not args.no_ema,
                              dtype=getattr(torch, args.dtype), settings=settings)
    n = sum(p.numel() for p in model.parameters())
    print(f"{args.output}: {type(model).__name__}, {n:,} parameters")
    return 0
