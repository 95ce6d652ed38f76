"""``specdiff info MODEL``: what a model bundle holds; ``specdiff info song.mid``: its parts."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "info", help="show what a model bundle holds (sizes, codec, synthesis defaults, vocoder), "
                     "or the parts of a MIDI file",
        description="Read MODEL (a specdiff bundle, a diffusers-layout folder, a hub id or the "
                    "port's .ckpt; default: the built-in model) and print its kind, sizes, codec, "
                    "synthesis settings and provenance, as text or JSON. Given a MIDI file, list "
                    "its parts (track and channel, name, instruments, notes, range): the numbers "
                    "`specdiff synth --part-map` takes.")
    parser.add_argument("model", nargs="?", default=None, metavar="MODEL|SONG.mid",
                        help="the model (default: the built-in one), or a MIDI file")
    parser.add_argument("--port-config", default=None, metavar="CONFIG.yaml",
                        help="for a port .ckpt: the run's LightningCLI config.yaml")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=run)


def describe(source=None, port_config=None) -> dict:
    """The facts `specdiff info` prints, as a dict."""
    import dataclasses

    from specdiff.checkpoints import read_checkpoint
    from specdiff.synthesizer import BUILTIN_MODEL

    checkpoint = read_checkpoint(BUILTIN_MODEL if source is None else source,
                                 port_config=port_config)
    dtypes = sorted({str(t.dtype).removeprefix("torch.") for t in checkpoint.state.values()})
    c = checkpoint.config
    return {
        "source": checkpoint.source,
        "kind": checkpoint.kind,
        "parameters": checkpoint.num_parameters,
        "stored_as": dtypes,
        "sizes": {"d_model": c.d_model, "heads": f"{c.num_heads}x{c.head_dim}", "d_ff": c.d_ff,
                  "encoder_layers": c.encoder_layers, "decoder_layers": c.decoder_layers,
                  "context_encoder": c.has_context},
        "codec": {"name": c.codec, "vocab_size": c.vocab_size, "max_tokens": c.max_tokens,
                  "note_roll": c.note_roll, "prediction": c.prediction},
        "synthesis": dataclasses.asdict(checkpoint.settings),
        "provenance": checkpoint.provenance,
    }


def describe_midi(path: str) -> dict:
    """The parts and length of a MIDI file, as `specdiff info SONG.mid` prints them."""
    import dataclasses

    from specdiff.codec import read_midi
    from specdiff.instruments import list_parts

    notes = read_midi(path)
    return {"file": path, "seconds": round(notes.total_time, 2), "notes": len(notes),
            "parts": [dataclasses.asdict(part) for part in list_parts(notes)]}


def run(args: argparse.Namespace) -> int:
    import json

    if args.model is not None and args.model.lower().endswith((".mid", ".midi", ".kar")):
        from specdiff.instruments import Part

        facts = describe_midi(args.model)
        if args.json:
            print(json.dumps(facts, indent=2))
            return 0
        print(f"{facts['file']}: {facts['seconds']:.2f} s, {facts['notes']} notes, "
              f"{len(facts['parts'])} parts")
        for part in facts["parts"]:
            print("  " + Part(**{**part, "keys": tuple(part["keys"])}).describe())
        return 0
    facts = describe(args.model, args.port_config)
    if args.json:
        print(json.dumps(facts, indent=2))
        return 0
    _print_tree(facts)
    return 0


def _print_tree(facts: dict, indent: str = "") -> None:
    """``key: value`` lines, a nested dict's keys indented under its own."""
    for key, value in facts.items():
        if isinstance(value, dict):
            print(f"{indent}{key}:")
            _print_tree(value, indent + "  ")
        else:
            print(f"{indent}{key}: {value}")
