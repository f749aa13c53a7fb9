"""`shipyard compress` and `shipyard decompress`: the Residual-GRU codec on people's images."""
from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterator

from pipelines import config
from pipelines.errors import ShipyardError
from pipelines.family import AddCommand

TRAIN_HINT = "train one with `shipyard run image-compression` (or pass --model DIR)"
# compress()'s parameters, as the command's flags name them.
_FLAGS = {"iterations": "--iterations", "bpp": "--bpp", "min_quality": "--quality"}


@contextlib.contextmanager
def _user_errors() -> Iterator[None]:
    """The codec library's errors as one-line CLI errors, in the command's terms."""
    from models.image_compression import errors

    try:
        yield
    except errors.SettingError as e:
        raise ShipyardError(f"{_FLAGS[e.parameter]} {e.problem}") from None
    except errors.ModelNotFound as e:
        raise ShipyardError(f"{e}; {TRAIN_HINT}") from None
    except errors.CodecError as e:
        raise ShipyardError(str(e)) from None


def _codec(args: argparse.Namespace):
    from models.image_compression import codec

    return codec, codec.Codec.load(codec.find_model(args.model, args.output_dir))


def compress(args: argparse.Namespace) -> None:
    with _user_errors():
        _compress(args)


def decompress(args: argparse.Namespace) -> None:
    with _user_errors():
        _decompress(args)


def _compress(args: argparse.Namespace) -> None:
    from models.image_compression import codec as codec_module

    image = codec_module.read_image(args.input)  # before loading TF models: fail fast
    codec, model = _codec(args)
    result = codec.compress(model, image, iterations=args.iterations, bpp=args.bpp,
                            min_quality=args.quality, coder=args.coder,
                            adaptive=not args.uniform, deblock=not args.no_deblocking)
    codec.write_atomic(args.output, result.stream)
    note = ""
    if args.quality is not None and result.ms_ssim < args.quality:
        note = f" (MS-SSIM {args.quality:g} not reached in {model.iterations} iterations)"
    counts = result.tile_iterations
    iterations = (f"{result.iterations} iterations" if counts is None else
                  f"{counts.min()}–{counts.max()} iterations a tile (mean {counts.mean():.2f})")
    print(f"{args.output}: {len(result.stream):,} bytes, {result.bpp:.3f} bpp, "
          f"{iterations}, deblocking level {result.deblocking}, MS-SSIM {result.ms_ssim:.4f}, "
          f"PSNR {result.psnr:.2f} dB{note}")


def _decompress(args: argparse.Namespace) -> None:
    codec, model = _codec(args)
    image, header, decoded = codec.decompress(model, codec.read_stream(args.input))
    codec.write_atomic(args.output, codec.png_bytes(image))
    cut = (f" (progressive: the stream holds {decoded} of {header.iterations})"
           if decoded < header.iterations else "")
    print(f"{args.output}: {header.width}×{header.height}, {decoded} iterations decoded{cut}")


def _model_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", metavar="DIR",
                        help="a trained codec: codec directory, pushed SavedModel, or serving "
                             "base (newest version); default: the newest pushed under "
                             "--output-dir")
    parser.add_argument("--output-dir", default=config.common()["output_dir"],
                        help="where `shipyard run image-compression` pushed its codec")


def add_commands(add_command: AddCommand) -> None:
    comp = add_command("compress", help="compress an image with the trained "
                               "Residual-GRU codec (.rgc)")
    comp.add_argument("input", metavar="IN", help="image file (PNG, JPEG, ... any size)")
    comp.add_argument("output", metavar="OUT.rgc")
    rate = comp.add_mutually_exclusive_group()
    rate.add_argument("--bpp", type=float, metavar="B",
                      help="at most B bits per pixel (the file, header included)")
    rate.add_argument("--iterations", type=int, metavar="K",
                      help="K coding iterations of 1/8 bpp each before entropy coding "
                           "(default: all the codec has)")
    rate.add_argument("--quality", type=float, metavar="MS-SSIM",
                      help="the fewest iterations that reach this MS-SSIM")
    comp.add_argument("--coder", choices=["best", "model", "lzma", "zlib", "raw"],
                      default="best",
                      help="coding of each iteration's bits: the codec's entropy model (range "
                           "coder), a lossless coder, or the smallest of all (default)")
    comp.add_argument("--uniform", action="store_true",
                      help="with --bpp / --quality, the same iterations for every 32×32 tile "
                           "(default: each tile its own count when that beats the same count)")
    comp.add_argument("--no-deblocking", action="store_true",
                      help="no smoothing of the seams between tiles at decoding (default: the "
                           "level that scores best, recorded in the file)")
    _model_arguments(comp)
    comp.set_defaults(handler=compress)

    dec = add_command("decompress", help="decode a .rgc file to PNG (a cut stream "
                              "decodes to the iterations it holds)")
    dec.add_argument("input", metavar="IN.rgc")
    dec.add_argument("output", metavar="OUT.png")
    _model_arguments(dec)
    dec.set_defaults(handler=decompress)

