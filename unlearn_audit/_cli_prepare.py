"""``unlearn-audit prepare``: build an image store from a table, an image folder + CSV, or a local benchmark copy.

::

    unlearn-audit prepare labels.csv --out data.uastore                  # paths relative to the CSV's folder
    unlearn-audit prepare photos/ --csv labels.csv --out data.uastore    # an image folder + its CSV
    unlearn-audit prepare table.parquet --label-column smiling --attribute-column gender --out data.uastore
    unlearn-audit prepare ~/data --dataset celeba --size 224 --out celeba224.uastore
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

__all__ = ["add_prepare_parser"]


def _option(text: str) -> tuple[str, Any]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"{text!r} is not KEY=VALUE")
    try:
        return key.strip(), json.loads(value)
    except json.JSONDecodeError:
        return key.strip(), value


def _cmd_prepare(args: argparse.Namespace) -> int:
    from .data._store import StoreError
    from .datasets._decode import PrepareError
    from .datasets._prepare import prepare_table
    from .datasets._prepare_local import prepare_local

    try:
        if args.dataset is not None:
            if args.csv is not None:
                raise PrepareError("--csv: not used with --dataset (the layout names its own metadata files)")
            result = prepare_local(args.dataset, args.source, out=args.out, size=args.size, workers=args.workers,
                                   progress=not args.no_progress, **dict(args.set or ()))
        else:
            if args.set:
                raise PrepareError("--set: only used with --dataset (options of the local loaders)")
            table, root = (args.csv, args.source) if args.csv is not None else (args.source, None)
            result = prepare_table(table, out=args.out, root=root, path_column=args.path_column,
                                   label_column=args.label_column, attribute_column=args.attribute_column,
                                   split_column=args.split_column, size=args.size, workers=args.workers,
                                   progress=not args.no_progress)
    except (PrepareError, StoreError, FileNotFoundError) as exc:
        print(f"unlearn-audit prepare: error: {exc}", file=sys.stderr)
        return 2
    store = result.store
    splits = ({name: int((store.split == k).sum()) for k, name in enumerate(("train", "val", "test"))}
              if bool((store.split >= 0).all()) else "none (audit_data cuts a seeded train/val/test split)")
    shape = "x".join(str(v) for v in store.images.shape[1:])
    status = "up to date (unchanged source)" if result.unchanged else "wrote"
    print(f"{status}: {store.path} ({len(store)} images {shape} uint8, {store.images.nbytes / 2**20:.1f} MiB; "
          f"splits {splits}; classes {store.classes or 'integer'}; attributes {store.attr_names or 'integer'})")
    return 0


def add_prepare_parser(sub: Any) -> None:
    """Register the ``prepare`` sub-command on an argparse sub-parsers object."""
    from .datasets._prepare_local import LOCAL_DATASETS

    p = sub.add_parser(
        "prepare", help="build a uint8 image store from your images (folder + CSV, table) or a local benchmark",
        description="Decode images once into a memory-mapped uint8 store that audits stream to the device. SOURCE "
                    "is a table (CSV, or Parquet with pandas) of path,label,attribute[,split] rows, an image folder "
                    "with --csv, or a local copy of a benchmark with --dataset. Re-running on an unchanged source "
                    "is a no-op.")
    p.add_argument("source", metavar="SOURCE", help="table file, image folder (with --csv) or dataset root")
    p.add_argument("--out", required=True, metavar="STORE", help="the store file to write (e.g. data.uastore)")
    p.add_argument("--csv", default=None, metavar="CSV", help="the CSV listing the images of the folder SOURCE")
    p.add_argument("--dataset", choices=LOCAL_DATASETS, default=None,
                   help="SOURCE is a local copy of this benchmark (never downloaded)")
    p.add_argument("--set", type=_option, action="append", metavar="KEY=VALUE",
                   help="loader option with --dataset, e.g. target=Smiling (CelebA), attribute=superclass (CIFAR-10)")
    p.add_argument("--size", type=int, default=None, metavar="N",
                   help="resize the short side to N and centre-crop N x N (default: native size, must be uniform)")
    p.add_argument("--path-column", default="path", metavar="NAME", help="column of image paths (default path)")
    p.add_argument("--label-column", default="label", metavar="NAME", help="column of labels (default label)")
    p.add_argument("--attribute-column", default="attribute", metavar="NAME",
                   help="column of the sensitive attribute (default attribute)")
    p.add_argument("--split-column", default="split", metavar="NAME",
                   help="optional column of train/val/test (default split; ignored when absent)")
    p.add_argument("--workers", type=int, default=None, metavar="N", help="decoding processes (default: all CPUs)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_prepare)
