"""``keras-sa evaluate``: MIR-1K (GNSDR/GSIR/GSAR) or MUSDB18 (museval) scores of models and baselines."""

from keras_sa.cli.common import CommandError, load_separator, positive_int, set_threads, singer_list


def register(commands):
    """Add the ``evaluate`` command to ``commands`` (an argparse subparsers object)."""
    evaluate = commands.add_parser(
        "evaluate", help="MIR-1K (GNSDR/GSIR/GSAR) or MUSDB18 (museval SDR/SIR/ISR/SAR) scores"
    )
    evaluate.add_argument("data", help="dataset folder")
    evaluate.add_argument("-o", "--out", required=True, help="folder for per-clip CSV and summary JSON")
    evaluate.add_argument("--model", action="append", help="model name or .keras file (repeatable)")
    evaluate.add_argument(
        "--baseline", action="append", choices=["irm", "repet"],
        help="ideal ratio mask in the default model's STFT (ceiling) or REPET-SIM (classical floor); repeatable",
    )
    evaluate.add_argument(
        "--protocol", default="mir1k", choices=["mir1k", "musdb"],
        help="mir1k: mono, mixture = (v + a) / 2, GNSDR; musdb: stereo at the track's rate, "
        "mixture = v + a, museval medians (default: %(default)s)",
    )
    evaluate.add_argument("--split", choices=["test", "validation", "all"],
                          help="mir1k protocol: MIR-1K test singers (default), the held-out "
                          "validation songs, or every clip")
    evaluate.add_argument(
        "--singers", type=singer_list, metavar="NAME[,NAME...]",
        help="mir1k protocol: every clip of these singers instead of a split "
        "(cross-singer validation of a model trained with train --singers)",
    )
    evaluate.add_argument("--subset", default="test", choices=["train", "test"],
                          help="MUSDB18 subset, for musdb layouts (default: %(default)s)")
    evaluate.add_argument("--layout", default="auto",
                          choices=["auto", "mir1k-wav", "stems", "musdb", "musdb-wav"])
    evaluate.add_argument("--sample-rate", type=int,
                          help="rate the clips are scored at (default: 16000 for mir1k, "
                          "each track's own rate for musdb)")
    evaluate.add_argument("--every", type=int, default=1, help="take every N-th clip (quick checks)")
    evaluate.add_argument("--limit", type=int, default=0, help="at most this many clips")
    evaluate.add_argument("--threads", type=int, default=0)
    evaluate.add_argument(
        "--jobs", type=positive_int, default=1,
        help="processes that score clips while the next ones are separated (default: %(default)s)",
    )
    evaluate.set_defaults(func=run)


def run(args):
    """Score models and baselines on a dataset.

    ``--protocol mir1k`` (default): mono clips at ``--sample-rate`` (16 kHz),
    mixture = (vocals + accompaniment) / 2, BSS Eval v3 GNSDR/GSIR/GSAR
    (length-weighted means over clips).

    ``--protocol musdb``: the MUSDB18 / SiSEC protocol. Each track of the
    ``--subset`` (for MUSDB18 layouts) or stem folder is loaded in stereo at
    its own rate (44.1 kHz for MUSDB18) unless ``--sample-rate`` is given;
    mixture = vocals + accompaniment (a sum, as in MUSDB18); museval (BSS
    Eval v4) SDR/SIR/ISR/SAR, the median over 1 s frames per track; the
    summary is the median over tracks of each metric, the SiSEC convention.
    Baselines run on each channel on their own.
    """
    set_threads(args.threads)
    from pathlib import Path

    from keras_sa import data, evaluation

    musdb = args.protocol == "musdb"
    if musdb and (args.split or args.singers):
        option = "--split" if args.split else "--singers"
        raise CommandError(f"{option} is for --protocol mir1k; with musdb use --subset")
    if args.split and args.singers:
        raise CommandError("give --split or --singers, not both")
    try:
        tracks = data.discover(args.data, layout=args.layout, subset=args.subset)
    except data.DatasetError as error:
        raise CommandError(str(error)) from None
    if args.singers:
        tracks = data.mir1k_split(tracks, args.singers)[0]
        chosen = "singers " + ",".join(args.singers)
    else:
        split = args.split or ("all" if musdb else "test")
        if split != "all":
            train, test = data.mir1k_split(tracks)
            tracks = test if split == "test" else data.validation_split(train)[1]
        chosen = f"split {split!r}"
    if args.every > 1:
        tracks = tracks[:: args.every]
    if args.limit:
        tracks = tracks[: args.limit]
    if not tracks:
        raise CommandError(f"{args.data}: no clips in {chosen}")

    methods = []
    for name in args.model or []:
        # Scores are of the float model: a bundled name is its .keras file.
        separator = load_separator(name, backend="keras")
        label, index = separator.config.name, 2
        while label in {taken for taken, _ in methods}:  # the same model name twice
            label, index = f"{separator.config.name}_{index}", index + 1
        # The separator takes (channels, n) as well as (n,): no wrapper for musdb.
        methods.append((label, separator.estimator()))
    from keras_sa.models import get_preset

    # The oracle masks the STFT the default model sees, so that it is that model's ceiling.
    default_signal = get_preset("sa_shn_mobile").signal
    baselines = {"irm": lambda: evaluation.ideal_ratio_mask(default_signal), "repet": evaluation.repet_sim}
    if musdb:
        from keras_sa.audio import AudioError, SignalConfig

        # Full-band oracle at MUSDB18's rate with a 4096-point STFT, as the
        # SiSEC oracle IRM; a 16 kHz one would lose everything above 8 kHz.
        irm_config = SignalConfig(sample_rate=44100, n_fft=4096, hop_length=1024)
        baselines = {
            "irm": lambda: evaluation.per_channel(evaluation.ideal_ratio_mask(irm_config)),
            "repet": lambda: evaluation.per_channel(evaluation.repet_sim()),
        }
    for name in args.baseline or []:
        methods.append((name, baselines[name]()))
    if not methods:
        raise CommandError("nothing to evaluate: give --model and/or --baseline")

    out = Path(args.out)
    if musdb:
        rate = args.sample_rate
        print(f"{len(tracks)} tracks, scored at {f'{rate} Hz' if rate else 'their own rate'}")
        for label, estimator in methods:
            clips = evaluation.MusdbClips(tracks, rate)
            try:
                records = evaluation.evaluate_museval(clips, estimator, jobs=args.jobs)
            except (data.DatasetError, AudioError) as error:  # a track that cannot be read
                raise CommandError(str(error)) from None
            summary = evaluation.summarize_museval(records)
            evaluation.write_results(records, summary, out, label)
            print(
                f"{label:<20} SDR vocals {summary['vocals_sdr']:6.2f} dB"
                f"  accompaniment {summary['accompaniment_sdr']:6.2f} dB"
                f"  (SIR {summary['vocals_sir']:.2f}, SAR {summary['vocals_sar']:.2f};"
                f" medians, {summary['evaluated']} tracks)"
            )
        return
    rate = args.sample_rate or 16000
    print(f"{len(tracks)} clips, scored at {rate} Hz")
    for label, estimator in methods:
        records = evaluation.evaluate_tracks(
            evaluation.TrackClips(tracks, rate), estimator, jobs=args.jobs
        )
        summary = evaluation.summarize(records)
        evaluation.write_results(records, summary, out, label)
        print(
            f"{label:<20} GNSDR vocals {summary['vocals_gnsdr']:6.2f} dB"
            f"  accompaniment {summary['accompaniment_gnsdr']:6.2f} dB"
            f"  (GSIR {summary['vocals_gsir']:.2f}, GSAR {summary['vocals_gsar']:.2f};"
            f" {summary['evaluated']} clips)"
        )
